//! Log set-up: `tracing` events to stderr, JSON in containers and human-readable on a terminal
//! (`log.format`), filtered by `RUST_LOG` when set, else `log.level`, with every configured
//! credential hidden. librdkafka's log lines from the worker's clients arrive through
//! `pipeline::events::forward_log` (which demotes the noisy ones to debug); those of clients on
//! rdkafka's default context (the embedded broker's set-up) through the `log` bridge, under the
//! `librdkafka` target.

use crate::config::{LogFormat, LogSettings};
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber, hiding `secrets` (`Settings::secrets`) in every line. Later
/// calls are ignored (tests call it more than once).
pub fn init(settings: &LogSettings, secrets: Vec<String>) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::try_new(&settings.level).unwrap_or_else(|_| EnvFilter::new("info")));
    let json = match settings.format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    // A line that cannot be written (stderr closed, a full disk, a reader gone) is lost: the
    // formatter's own report of the failure would go to stderr with `eprintln!`, which panics
    // there and would end the worker over its logs.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Redacting::new(secrets, std::io::stderr))
        .with_ansi(std::io::stderr().is_terminal())
        .log_internal_errors(false);
    let _ =
        if json { builder.json().flatten_event(true).with_current_span(false).try_init() } else { builder.try_init() };
}

/// A log writer that replaces credentials with `<redacted>`. Messages the worker writes itself
/// never contain one; this is for text it does not control, above all librdkafka's (its errors
/// quote configuration values: a malformed `sasl.oauthbearer.config` is quoted from the pair it
/// refuses). The formatter writes each event with one `write_all` of the whole line, so a
/// secret is never split between writes.
#[derive(Clone)]
pub struct Redacting<M> {
    /// Each secret as written, and as a JSON string, a Rust `{:?}` and the JSON of that show it
    /// when it holds characters those escape; longest first.
    hidden: Arc<[String]>,
    make: M,
}

impl<M> Redacting<M> {
    pub fn new(secrets: Vec<String>, make: M) -> Self {
        let mut hidden: Vec<String> = secrets
            .iter()
            .filter(|s| !s.is_empty())
            .flat_map(|s| {
                let json = |s: &str| {
                    let quoted = serde_json::to_string(s).unwrap_or_default();
                    quoted[1..quoted.len() - 1].to_owned()
                };
                let debug = format!("{s:?}");
                let debug = debug[1..debug.len() - 1].to_owned();
                [s.clone(), json(s), json(&debug), debug]
            })
            .collect();
        hidden.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        hidden.dedup();
        Redacting { hidden: hidden.into(), make }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter { hidden: self.hidden.clone(), inner: self.make.make_writer() }
    }
}

pub struct RedactingWriter<W> {
    hidden: Arc<[String]>,
    inner: W,
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        if !self.hidden.iter().any(|secret| text.contains(secret.as_str())) {
            return self.inner.write(buf);
        }
        let shown = crate::config::hide_secrets(&text, &self.hidden);
        self.inner.write_all(shown.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A budget for warnings that can come once per message (dead letters): at most `burst` per
/// `window`, so that a misbehaving producer upstream does not turn into thousands of log lines
/// a second. Each admitted warning carries how many were left out since the previous one; the
/// metrics count every event.
#[derive(Debug)]
pub struct LogBudget {
    window: std::time::Duration,
    burst: u32,
    state: std::sync::Mutex<BudgetState>,
}

#[derive(Debug)]
struct BudgetState {
    window_start: std::time::Instant,
    admitted: u32,
    left_out: u64,
}

impl LogBudget {
    pub fn new(burst: u32, window: std::time::Duration) -> Self {
        let state = BudgetState { window_start: std::time::Instant::now(), admitted: 0, left_out: 0 };
        LogBudget { window, burst, state: std::sync::Mutex::new(state) }
    }

    /// `Some(left_out)` when this warning may be logged (`left_out`: warnings not logged since
    /// the last one that was), `None` when it is over budget.
    pub fn admit(&self) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.window_start.elapsed() >= self.window {
            state.window_start = std::time::Instant::now();
            state.admitted = 0;
        }
        if state.admitted < self.burst {
            state.admitted += 1;
            Some(std::mem::take(&mut state.left_out))
        } else {
            state.left_out += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::REDACTED;
    use std::sync::Mutex;
    use std::time::Duration;

    /// A log sink the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn credentials_are_hidden_in_every_line_as_each_format_escapes_them() {
        let secrets = vec!["hunter2-long".to_owned(), "pa\"ss\\word\n".to_owned()];
        for json in [true, false] {
            let sink = Captured::default();
            let writer = Redacting::new(secrets.clone(), {
                let sink = sink.clone();
                move || sink.clone()
            });
            let builder = tracing_subscriber::fmt().with_writer(writer).with_ansi(false);
            let emit = || {
                // As librdkafka's messages arrive: the secret inside free text, and as a field.
                tracing::warn!(target: "librdkafka", "Unrecognized config beginning at: x=hunter2-long");
                tracing::error!(reason = %"pa\"ss\\word\n", detail = ?"pa\"ss\\word\n", "auth failed");
                tracing::info!("nothing to hide here");
            };
            if json {
                tracing::subscriber::with_default(builder.json().finish(), emit);
            } else {
                tracing::subscriber::with_default(builder.finish(), emit);
            }
            let out = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
            assert!(!out.contains("hunter2") && !out.contains("ss\\") && !out.contains("word"), "json={json}: {out}");
            assert_eq!(out.matches(REDACTED).count(), 3, "json={json}: {out}");
            assert!(out.contains("nothing to hide here"), "{out}");
        }
    }

    #[test]
    fn a_budget_admits_its_burst_per_window_and_counts_what_it_left_out() {
        let budget = LogBudget::new(3, Duration::from_millis(200));
        let first: Vec<Option<u64>> = (0..10).map(|_| budget.admit()).collect();
        assert_eq!(first, [Some(0), Some(0), Some(0), None, None, None, None, None, None, None]);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(budget.admit(), Some(7), "the next window's first warning reports the 7 left out");
        assert_eq!(budget.admit(), Some(0));
    }
}
