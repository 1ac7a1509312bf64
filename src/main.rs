//! The `news-enricher` binary: parse the command line, load config, dispatch. All logic lives in
//! the library (see `src/lib.rs`).

use clap::Parser;
use news_enricher::cli::{Cli, Command};
use news_enricher::config::Settings;
use news_enricher::enrich::Enricher;
use news_enricher::report;
use std::io::Write;
use std::process::ExitCode;

/// Exit status for a usage error: an invalid configuration, a bad command line, an input file
/// that cannot be opened (EX_USAGE, as linkerd and sysexits do). Not clap's 2, which `enrich`
/// uses for "some input lines were bad".
const EXIT_USAGE: u8 = 64;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let printed = e.print();
            // `--help` and `--version` are "errors" printed on stdout.
            return match printed {
                _ if e.use_stderr() => ExitCode::from(EXIT_USAGE),
                Err(failed) => output_error(&news_enricher::offline::stdout_error(failed)),
                Ok(()) => ExitCode::SUCCESS,
            };
        }
    };
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            // One line per problem (figment may report several).
            for problem in e.to_string().lines() {
                report!("Invalid configuration: {problem}");
            }
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // `run` catches SIGTERM/SIGINT from here on: building the enricher takes a moment, and a stop
    // meanwhile must end the process cleanly (exit 0), not kill it.
    let startup = match cli.command {
        Command::Run => match news_enricher::runner::Startup::new(&settings) {
            Ok(startup) => Some(startup),
            Err(e) => {
                report!("news-enricher: cannot install the SIGTERM/SIGINT handlers: {e}");
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    // `explain` shows why examples fail instead of refusing the taxonomy for them.
    let built = match cli.command {
        Command::Explain { .. } => Enricher::from_config_unchecked(&settings),
        _ => Enricher::from_config(&settings),
    };
    let enricher = match built {
        Ok(e) => e,
        Err(e) => {
            report!("Invalid configuration: taxonomy: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Err((key, message)) = news_enricher::reload::check_tag_references(&settings, &enricher) {
        report!("Invalid configuration: {key}: {message}");
        return ExitCode::from(EXIT_USAGE);
    }
    // The Kafka clients as `run` and `demo` make them (check-config answers for `run`): a
    // combination librdkafka refuses is a configuration error before any work.
    if matches!(cli.command, Command::CheckConfig | Command::Run | Command::Demo) {
        let mut clients = settings.clone();
        if matches!(cli.command, Command::Demo) {
            clients.drop_security_properties(); // as `demo` runs its clients
        }
        if let Err((key, message)) = news_enricher::pipeline::check_client_configs(&clients) {
            report!("Invalid configuration: {key}: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    }
    match cli.command {
        Command::CheckConfig => {
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout.write_all(settings.to_redacted_toml().as_bytes()).and_then(|()| stdout.flush()) {
                return output_error(&news_enricher::offline::stdout_error(e));
            }
            report!("configuration is valid (taxonomy version {})", enricher.taxonomy().version());
            if let Some(warning) = settings.embedded_security_warning() {
                report!("warning: {warning}");
            }
            ExitCode::SUCCESS
        }
        Command::Enrich { files } => {
            let inputs = match open_inputs(&files) {
                Ok(inputs) => inputs,
                Err(code) => return code,
            };
            let threads = settings.enrich.thread_count();
            if settings.sentiment.remote.as_ref().is_some_and(|r| r.enabled)
                || settings.taxonomy.remote.as_ref().is_some_and(|r| r.enabled)
            {
                // Breaker changes (a model failing, answering again) and warnings about the
                // model's settings (a token over plain http) belong on stderr, so logging starts
                // before the models do; routine info lines do not clutter it.
                let mut log = settings.log.clone();
                if log.level == "info" {
                    log.level = "warn".into();
                }
                news_enricher::telemetry::logging::init(&log, settings.secrets());
            }
            let remote = match news_enricher::remote::Remote::start(&settings, enricher.taxonomy()) {
                Ok(remote) => remote,
                Err(e) => {
                    report!("news-enricher: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(256 * 1024, stdout.lock());
            let mut err = std::io::stderr();
            let result = news_enricher::offline::run(
                &enricher,
                remote.as_ref(),
                inputs,
                news_enricher::article::Decoding::from_settings(&settings),
                threads,
                &mut out,
                &mut err,
            );
            if let Some(remote) = &remote {
                remote.report_fallbacks(&mut std::io::stderr());
            }
            lines_outcome(result)
        }
        Command::Explain { files } => {
            let inputs = match open_inputs(&files) {
                Ok(inputs) => inputs,
                Err(code) => return code,
            };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let explained = news_enricher::explain::run(
                &enricher,
                inputs,
                news_enricher::article::Decoding::from_settings(&settings),
                &mut out,
                &mut std::io::stderr(),
            )
            .and_then(|summary| out.flush().map_err(news_enricher::offline::stdout_error).map(|()| summary));
            lines_outcome(explained)
        }
        Command::Run => {
            news_enricher::telemetry::logging::init(&settings.log, settings.secrets());
            let startup = startup.expect("made for run above");
            ExitCode::from(news_enricher::runner::run(&settings, enricher, startup) as u8)
        }
        Command::Demo => {
            let mut log = settings.log.clone();
            if log.level == "info" {
                log.level = "warn".into(); // keep the demo's output to the records and the summary
            }
            news_enricher::telemetry::logging::init(&log, settings.secrets());
            match news_enricher::runner::demo(&settings, enricher, &mut std::io::stdout().lock()) {
                Ok(code) => ExitCode::from(code as u8),
                Err(e) if e.downcast_ref::<std::io::Error>().is_some() => {
                    output_error(e.downcast_ref::<std::io::Error>().expect("checked"))
                }
                Err(e) => {
                    report!("demo failed: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The input files of `enrich` and `explain`, all opened before any output; one that cannot be
/// is a usage error.
fn open_inputs(files: &[std::path::PathBuf]) -> Result<news_enricher::offline::Inputs, ExitCode> {
    news_enricher::offline::Inputs::open(files).map_err(|e| {
        report!("news-enricher: {e}");
        ExitCode::from(EXIT_USAGE)
    })
}

/// The end of `enrich` and `explain`: how many input lines were bad, and the exit status.
fn lines_outcome(result: std::io::Result<news_enricher::offline::Summary>) -> ExitCode {
    match result {
        Ok(summary) => {
            if summary.bad > 0 {
                report!("news-enricher: {} of {} lines were bad", summary.bad, summary.bad + summary.good);
            }
            ExitCode::from(summary.exit_code() as u8)
        }
        Err(e) => output_error(&e),
    }
}

/// How a command ends on an I/O error of its run (writing stdout, reading an input): a broken
/// pipe (`news-enricher ... | head`) ends quietly with status 0, as Unix tools do; any other
/// error is reported (it names the stream or the file) with status 1.
fn output_error(e: &std::io::Error) -> ExitCode {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return ExitCode::SUCCESS;
    }
    report!("news-enricher: {e}");
    ExitCode::FAILURE
}
