//! Process-level wiring for the `run` and `demo` commands: the async runtime, the embedded
//! broker when configured, signal handling, and exit codes.

use crate::config::{is_topic_pattern, Settings};
use crate::embedded::EmbeddedBroker;
use crate::enrich::Enricher;
use crate::pipeline::{self, output::Topics};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sample articles of the `demo` command (the last line is deliberately invalid).
pub const DEMO_ARTICLES: &str = include_str!("../examples/articles.jsonl");

fn runtime(settings: &Settings) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.enrich.thread_count().max(2))
        .enable_all()
        .thread_name("news-enricher")
        .build()
        .expect("building the async runtime")
}

/// Starts the embedded broker and creates every topic the configuration names.
pub fn start_embedded(settings: &Settings) -> anyhow::Result<EmbeddedBroker> {
    let broker = EmbeddedBroker::start(1)?;
    let topics = Topics::from_settings(settings);
    // A subscription pattern names no topic to create: the topics it matches are created by
    // producing to them (the mock cluster creates topics on request).
    let inputs = settings.kafka.input_topics.iter().map(String::as_str).filter(|t| !is_topic_pattern(t));
    for topic in inputs.chain(topics.all().iter().map(|t| &**t)) {
        broker.create_topic(topic, settings.embedded.partitions)?;
    }
    Ok(broker)
}

/// SIGTERM and SIGINT, caught from the moment this is made: their default action (killing the
/// process on the spot) no longer applies, so whoever holds this must act on them. Made inside
/// the runtime.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals { term: signal(SignalKind::terminate())?, int: signal(SignalKind::interrupt())? })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Resolves on the next SIGTERM or SIGINT.
    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }

    /// From now on, the next signal exits the process at once with status 130, logging `why`.
    fn exit_on_next(mut self, why: &'static str) {
        tokio::spawn(async move {
            self.recv().await;
            tracing::warn!("{why}");
            std::process::exit(130);
        });
    }
}

/// How long `run` waits for the brokers to answer whether the topics it reads and writes exist (brokers that
/// do not answer are left to the worker's retries), and for a topic they do not know yet to be
/// created (librdkafka's producer waits `topic.metadata.propagation.max.ms`, 30 s, for the same).
/// The HTTP endpoint serves meanwhile (/readyz: "starting: checking topics"), and
/// SIGTERM/SIGINT end the wait.
const TOPIC_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
const TOPIC_CREATION_WAIT: Duration = Duration::from_secs(30);

/// How `run` ended.
enum Ended {
    /// The worker ran and stopped (after a signal or a fatal error).
    Stopped(pipeline::RunSummary),
    /// A signal came before the worker started (during the topic check): nothing was
    /// consumed, nothing is left to do.
    SignalBeforeStart,
    /// The topic check found a topic missing or forbidden.
    InvalidTopics(String),
}

/// What `run` sets up before anything slow: the async runtime and the SIGTERM/SIGINT (and SIGHUP)
/// handlers.
/// Made as soon as the configuration is read, before the taxonomy and the lexicons are built
/// (about 0.2 s), so that a stop at any point of start-up exits 0 instead of killing the process.
pub struct Startup {
    rt: tokio::runtime::Runtime,
    signals: Signals,
    hangup: crate::reload::Hangup,
}

impl Startup {
    pub fn new(settings: &Settings) -> std::io::Result<Self> {
        let rt = runtime(settings);
        let (signals, hangup) =
            rt.block_on(async { Ok::<_, std::io::Error>((Signals::install()?, crate::reload::Hangup::install()?)) })?;
        Ok(Startup { rt, signals, hangup })
    }
}

/// The `run` command. Returns the process exit code.
///
/// Order of start-up: the signal handlers ([`Startup`], so that SIGTERM/SIGINT at any later point
/// stops the process cleanly, with exit 0, rather than killing it; one that came while the
/// configuration was checked is acted on at the first wait below; SIGHUP reloads the taxonomy,
/// see [`crate::reload`]), the embedded broker when configured,
/// the HTTP endpoint (so /healthz answers and /readyz says what start-up is doing), the check of
/// the input and output topics (up to 10 s + 30 s when brokers do not answer or a topic is missing), then
/// the worker.
pub fn run(settings: &Settings, enricher: Enricher, startup: Startup) -> i32 {
    let enricher = Arc::new(enricher);
    let Startup { rt, mut signals, hangup } = startup;
    let embedded = if settings.is_embedded() {
        match start_embedded(settings) {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the embedded broker");
                return 1;
            }
        }
    } else {
        None
    };
    let brokers = match &embedded {
        Some(b) => {
            tracing::warn!(
                bootstrap = b.bootstrap_servers(),
                "EMBEDDED DEVELOPMENT BROKER: in-memory, keeps nothing, for development only (it holds about \
                 5 MiB per partition and evicts the oldest records past that, read or not); produce raw articles \
                 to it with any Kafka client at this address"
            );
            if let Some(warning) = settings.embedded_security_warning() {
                tracing::warn!("{warning}");
            }
            b.bootstrap_servers().to_owned()
        }
        None => settings.kafka.brokers.clone(),
    };
    let result = rt.block_on(async {
        let slot = crate::telemetry::http::WorkerSlot::default();
        slot.set_starting(Some("checking topics"));
        if !settings.http.listen.is_empty() {
            if let Err(e) = crate::telemetry::http::serve(&settings.http.listen, slot.clone()).await {
                return Err(pipeline::WorkerError::Fatal(format!(
                    "cannot listen on http.listen {}: {e}",
                    settings.http.listen
                )));
            }
        }
        // Blocking (metadata requests, waits between them), so on a thread of its own; a signal
        // meanwhile leaves it behind.
        let check = tokio::task::spawn_blocking({
            let (settings, brokers) = (settings.clone(), brokers.clone());
            move || pipeline::check_topics(&settings, &brokers, TOPIC_ANSWER_TIMEOUT, TOPIC_CREATION_WAIT)
        });
        tokio::select! {
            checked = check => match checked {
                Ok(Ok(())) => {}
                Ok(Err(problem)) => return Ok(Ended::InvalidTopics(problem)),
                Err(e) => return Err(pipeline::WorkerError::Fatal(format!("topic check failed: {e}"))),
            },
            () = signals.recv() => {
                tracing::info!("shutdown requested during start-up: exiting before consuming anything");
                return Ok(Ended::SignalBeforeStart);
            }
        }
        slot.set_starting(None);
        let worker = pipeline::Worker::start(settings, &brokers, enricher)?;
        let _ = slot.set(worker.shared().clone());
        let watch = (settings.taxonomy.watch_secs > 0).then(|| Duration::from_secs(settings.taxonomy.watch_secs));
        let reloads =
            crate::reload::spawn(crate::reload::Reloader::new(settings, worker.shared().clone()), Some(hangup), watch);
        let signalled = tokio::select! {
            () = signals.recv() => true,
            () = worker.failed() => false,
        };
        reloads.abort();
        if signalled {
            tracing::info!(
                "shutdown requested: stopping intake, draining, committing (send the signal again to exit at once)"
            );
            signals.exit_on_next("second signal: exiting immediately without draining");
        } else {
            // The signal handlers replaced the default action, so without this a signal during
            // the stop that follows would do nothing.
            signals.exit_on_next("signal while stopping after a fatal error: exiting immediately");
        }
        worker.shutdown().await.map(Ended::Stopped)
    });
    match result {
        // The topic check may still be waiting for brokers on a blocking thread: not waited for.
        Ok(Ended::SignalBeforeStart | Ended::InvalidTopics(_)) => rt.shutdown_background(),
        _ => rt.shutdown_timeout(Duration::from_secs(1)),
    }
    match result {
        Ok(Ended::Stopped(summary)) => {
            tracing::info!(
                consumed = summary.stats.consumed,
                enriched = summary.stats.enriched,
                dead_lettered = summary.stats.dead_lettered,
                tombstones = summary.stats.tombstones,
                "worker stopped"
            );
            0
        }
        Ok(Ended::SignalBeforeStart) => 0,
        Ok(Ended::InvalidTopics(problem)) => {
            tracing::error!("Invalid configuration: {problem}");
            64
        }
        Err(e) => {
            // librdkafka's errors can quote a configured value, credentials included.
            tracing::error!(error = %settings.redact(&e.to_string()), "worker failed");
            1
        }
    }
}

/// The topic the demo produces its sample articles to: the first input topic that is a name, or,
/// when all are patterns, `news.raw` if one of them matches it (the demo adds it to the
/// subscription as a name, so the worker reads it at once).
fn demo_input_topic(settings: &Settings) -> anyhow::Result<String> {
    let inputs = &settings.kafka.input_topics;
    if let Some(name) = inputs.iter().find(|t| !is_topic_pattern(t)) {
        return Ok(name.clone());
    }
    const FALLBACK: &str = "news.raw";
    if inputs.iter().any(|p| regex::Regex::new(p).is_ok_and(|re| re.is_match(FALLBACK))) {
        return Ok(FALLBACK.to_owned());
    }
    anyhow::bail!(
        "kafka.input_topics has only patterns ({}), and none matches {FALLBACK:?}: add a topic name for the demo to produce its sample articles to",
        inputs.join(", ")
    )
}

/// The `demo` command: the real pipeline on the embedded broker with the bundled sample articles,
/// whose records it writes to `out`. A write error stops the demo (the worker is still shut
/// down) and is returned as a [`std::io::Error`] prefixed `stdout: `, of the same kind.
pub fn demo(settings: &Settings, enricher: Enricher, out: &mut dyn std::io::Write) -> anyhow::Result<i32> {
    let mut settings = settings.clone();
    settings.kafka.brokers = crate::config::EMBEDDED_BROKERS.into();
    // Settings made for a real cluster (the environment of "Against a real Kafka" still
    // exported) must not stop the demo: it never talks to that cluster.
    let dropped = settings.drop_security_properties();
    if !dropped.is_empty() {
        crate::report!("demo: ignoring {} (the embedded broker speaks only PLAINTEXT)", dropped.join(", "));
    }
    if settings.routes.is_empty() {
        settings.routes.push(crate::config::Route {
            tag: "taiwan".into(),
            topic: "news.tag.taiwan".into(),
            min_score: 0.0,
        });
    }
    let input_topic = demo_input_topic(&settings)?;
    if !settings.kafka.input_topics.contains(&input_topic) {
        settings.kafka.input_topics.push(input_topic.clone());
    }
    let broker = start_embedded(&settings)?;
    let bootstrap = broker.bootstrap_servers().to_owned();
    crate::report!("demo: embedded broker at {bootstrap} (in-memory, development only)");

    let lines: Vec<&str> = DEMO_ARTICLES.lines().filter(|l| !l.trim().is_empty()).collect();
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", &bootstrap).create()?;
    for (i, line) in lines.iter().enumerate() {
        let key = format!("demo-{:03}", i + 1);
        producer
            .send(BaseRecord::to(&input_topic).key(&key).payload(*line))
            .map_err(|(e, _)| anyhow::anyhow!("cannot produce the sample articles: {e}"))?;
    }
    producer.flush(Duration::from_secs(10))?;
    crate::report!("demo: produced {} raw articles to {input_topic}", lines.len());

    let reader: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "news-enricher-demo-reader")
        .set("auto.offset.reset", "earliest")
        .create()?;
    let mut watched: Vec<&str> = vec![&settings.kafka.output_topic, &settings.kafka.dlq_topic];
    watched.extend(settings.routes.iter().map(|r| r.topic.as_str()));
    // Routes may share a topic, or write to the output topic: librdkafka refuses a subscription
    // that names a topic twice.
    watched.sort_unstable();
    watched.dedup();
    reader.subscribe(&watched)?;

    let enricher = Arc::new(enricher);
    let rt = runtime(&settings);
    let worker = rt.block_on(async { pipeline::Worker::start(&settings, &bootstrap, enricher) })?;

    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut written = Ok(());
    while seen.len() < lines.len() && Instant::now() < deadline && written.is_ok() {
        let Some(Ok(msg)) = reader.poll(Duration::from_millis(200)) else { continue };
        let key = msg.key().map(|k| String::from_utf8_lossy(k).into_owned()).unwrap_or_default();
        let payload = msg.payload().map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default();
        if msg.topic() == settings.kafka.output_topic {
            written = writeln!(out, "{payload}").and_then(|()| out.flush());
            seen.insert(key);
        } else if msg.topic() == settings.kafka.dlq_topic {
            written = writeln!(out, "{}", dead_letter_line(&key, &msg)).and_then(|()| out.flush());
            seen.insert(key);
        }
    }
    let summary = rt.block_on(worker.shutdown())?;
    if let Err(e) = written {
        drop(reader);
        drop(broker);
        return Err(crate::offline::stdout_error(e).into());
    }
    let s = summary.stats;
    let routed: u64 = settings.routes.iter().filter_map(|r| s.by_topic.get(&r.topic)).sum();
    crate::report!();
    crate::report!(
        "demo summary: {} articles consumed, {} enriched, {} dead-lettered, {} route copies",
        s.consumed,
        s.enriched,
        s.dead_lettered,
        routed
    );
    crate::report!("  tags: {}", fmt_counts(s.by_tag.iter().map(|(k, v)| (k.as_str(), *v))));
    crate::report!("  sentiment: {}", fmt_counts(s.by_sentiment.iter().map(|(k, v)| (*k, *v))));
    crate::report!("  dead-letter reasons: {}", fmt_counts(s.by_dlq_reason.iter().map(|(k, v)| (*k, *v))));
    drop(reader);
    drop(broker);
    if seen.len() < lines.len() {
        anyhow::bail!("only {} of {} articles came out of the pipeline within 60 s", seen.len(), lines.len());
    }
    Ok(0)
}

/// What `demo` prints for a dead letter: the input's key, where the input was (topic, partition
/// and offset of the raw article, from the dead letter's `__connect.errors.*` headers) and the
/// reason, e.g. `{"dead_letter":"demo-007","topic":"news.raw","partition":1,"offset":1,
/// "reason":"wrong_type: ..."}`.
fn dead_letter_line(key: &str, msg: &rdkafka::message::BorrowedMessage<'_>) -> serde_json::Value {
    use pipeline::output::headers;
    use rdkafka::message::Headers;
    let get = |name: &str| {
        msg.headers().and_then(|hs| {
            hs.iter().find(|h| h.key == name).and_then(|h| h.value).map(|v| String::from_utf8_lossy(v).into_owned())
        })
    };
    let number = |name: &str| get(name).and_then(|v| v.parse::<i64>().ok());
    serde_json::json!({
        "dead_letter": key,
        "topic": get(headers::TOPIC),
        "partition": number(headers::PARTITION),
        "offset": number(headers::OFFSET),
        "reason": format!("{}: {}", get(headers::CLASS).unwrap_or_default(), get(headers::MESSAGE).unwrap_or_default()),
    })
}

fn fmt_counts<'a>(counts: impl Iterator<Item = (&'a str, u64)>) -> String {
    let parts: Vec<String> = counts.map(|(k, v)| format!("{k}={v}")).collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}
