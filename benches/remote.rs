//! Remote model throughput: articles per second through enrichment plus the remote sentiment
//! model, against a fast local model server (in this process, on its own single-thread runtime,
//! speaking TEI `/predict`), at different batch sizes, and against the built-in model alone.
//!
//! Two servers: "instant" answers as soon as it has parsed the request (the cost measured is the
//! worker's HTTP, JSON and batching path), "5 ms" adds 5 ms per request whatever its size, like
//! a GPU forward pass, so the effect of batching shows. Two harnesses:
//!
//! - `client`: the per-article path of a partition task (`Enricher::enrich` then
//!   `RemoteSentiment::apply`), 256 articles in flight (4 partitions × 64), no Kafka.
//! - `pipeline`: the whole worker on the embedded broker, backlog throughput (first message
//!   consumed → last record acknowledged), built-in vs remote.
//!
//! Run: `cargo bench --bench remote [-- --articles N] [--repeat R]` (defaults 5000, 3; the
//! median run is reported). Method and figures: docs/remote-model.md.

mod support;

use axum::body::Bytes;
use axum::routing::post;
use axum::Router;
use news_enricher::article::RawArticle;
use news_enricher::config::Settings;
use news_enricher::embedded::EmbeddedBroker;
use news_enricher::enrich::Enricher;
use news_enricher::pipeline::Worker;
use news_enricher::remote::{RemoteSentiment, RemoteSettings};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

const IN_FLIGHT: usize = 256;
const PARTITIONS: i32 = 4;

/// A model server on its own runtime thread: parses the TEI request, answers a label
/// distribution derived from the text's length (no real inference), after `delay`.
fn start_model_server(delay: Duration) -> (String, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = Router::new().route(
                "/predict",
                post(move |body: Bytes| async move {
                    let request: Value = serde_json::from_slice(&body).unwrap();
                    let inputs = request["inputs"].as_array().unwrap();
                    let out: Vec<Value> = inputs
                        .iter()
                        .map(|i| {
                            let len = i[0].as_str().unwrap_or("").len();
                            let p = (len % 100) as f64 / 100.0;
                            json!([
                                {"label": "positive", "score": p * 0.5},
                                {"label": "neutral", "score": 0.5},
                                {"label": "negative", "score": (1.0 - p) * 0.5}
                            ])
                        })
                        .collect();
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    ([("content-type", "application/json")], Value::Array(out).to_string())
                }),
            );
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    (format!("http://{addr}/predict"), handle)
}

fn remote_settings(url: &str, batch_size: usize) -> RemoteSettings {
    RemoteSettings {
        name: "bench".into(),
        url: url.into(),
        batch_size,
        linger_ms: 2,
        max_concurrent_requests: 4,
        timeout_ms: 5000,
        ..RemoteSettings::default()
    }
}

struct ClientResult {
    per_sec: f64,
    requests: u64,
    p50_ms: f64,
    p99_ms: f64,
    fallbacks: u64,
}

/// Enrich (and score remotely, when given) every article with `IN_FLIGHT` at once.
async fn client_run(
    enricher: &Arc<Enricher>,
    remote: Option<Arc<RemoteSentiment>>,
    articles: &[Vec<u8>],
) -> ClientResult {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(articles.len());
    for bytes in articles {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let (enricher, remote, bytes) = (enricher.clone(), remote.clone(), bytes.clone());
        tasks.push(tokio::spawn(async move {
            let raw = RawArticle::decode(&bytes, None, 1 << 20).unwrap();
            let mut article = enricher.enrich(raw);
            let t = Instant::now();
            if let Some(r) = &remote {
                r.apply(&mut article).await;
            }
            let waited = t.elapsed();
            std::hint::black_box(article.to_json());
            drop(permit);
            waited
        }));
    }
    let mut waits = Vec::with_capacity(tasks.len());
    for t in tasks {
        waits.push(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    waits.sort_unstable();
    let pct = |q: f64| waits[((waits.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    ClientResult {
        per_sec: articles.len() as f64 / secs,
        requests: remote.as_ref().map_or(0, |r| r.metrics().requests("ok") + r.metrics().requests("error")),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        fallbacks: remote.as_ref().map_or(0, |r| r.metrics().fallbacks_total()),
    }
}

/// (articles/s, requests, articles scored remotely)
async fn pipeline_run(articles: &[(String, String)], remote: Option<RemoteSettings>, tag: &str) -> (f64, u64, u64) {
    let broker = EmbeddedBroker::start(1).unwrap();
    let bootstrap = broker.bootstrap_servers().to_owned();
    let (input, output) = (format!("bench.{tag}.in"), format!("bench.{tag}.out"));
    for t in [&input, &output, &format!("{output}.dlq")] {
        broker.create_topic(t, PARTITIONS).unwrap();
    }
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    for (id, json) in articles {
        while producer.send(BaseRecord::to(&input).key(id).payload(json)).is_err() {
            producer.poll(Duration::from_millis(10));
        }
    }
    producer.flush(Duration::from_secs(60)).unwrap();
    let mut s = Settings::default();
    s.kafka.brokers = bootstrap.clone();
    s.kafka.input_topics = vec![input];
    s.kafka.output_topic = output.clone();
    s.kafka.dlq_topic = format!("{output}.dlq");
    s.kafka.group_id = format!("bench-{tag}");
    s.http.listen = String::new();
    s.sentiment.remote = remote;
    let enricher = Arc::new(Enricher::from_config(&s).unwrap());
    let worker = Worker::start(&s, &bootstrap, enricher).unwrap();
    let secs = support::backlog_run(&worker, articles.len() as u64).await.seconds;
    let (requests, scored) = worker.shared().remote_sentiment().map_or((0, 0), |r| {
        let m = r.metrics();
        (m.requests("ok") + m.requests("error"), m.scored_total())
    });
    worker.shutdown().await.unwrap();
    (articles.len() as f64 / secs, requests, scored)
}

fn main() {
    let n = support::arg_or("articles", 5000usize);
    let repeat = support::arg_or("repeat", 3usize);
    if support::listing() {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let articles = support::corpus(n);
    // The client harness takes valid articles only (the pipeline dead-letters the rest).
    let bytes: Vec<Vec<u8>> = articles
        .iter()
        .map(|(_, j)| j.clone().into_bytes())
        .filter(|b| RawArticle::decode(b, None, 1 << 20).is_ok())
        .collect();
    let mean_len = bytes.iter().map(Vec::len).sum::<usize>() / bytes.len();
    let enricher = Arc::new(Enricher::from_config(&Settings::default()).unwrap());
    println!(
        "remote model benchmark: {n} corpus articles ({} valid, mean {mean_len} bytes), 2 worker threads, {IN_FLIGHT} in flight",
        bytes.len()
    );

    println!("\n## client: enrich + remote sentiment, no Kafka (median of {repeat} runs)\n");
    println!(
        "| model | server | batch_size | articles/s | requests | mean batch | p50 wait ms | p99 wait ms | fallbacks |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    // Warm-up (lexicons, page cache).
    rt.block_on(client_run(&enricher, None, &bytes[..bytes.len().min(500)]));
    let builtin = median(repeat, |r: &ClientResult| r.per_sec, || rt.block_on(client_run(&enricher, None, &bytes)));
    println!("| built-in only | — | — | {:.0} | — | — | — | — | — |", builtin.per_sec);
    for (server_name, delay) in [("instant", Duration::ZERO), ("5 ms", Duration::from_millis(5))] {
        let (url, _server) = start_model_server(delay);
        for batch in [1usize, 4, 16, 32, 64] {
            let r = median(
                repeat,
                |r: &ClientResult| r.per_sec,
                || {
                    rt.block_on(async {
                        let remote = Arc::new(RemoteSentiment::start(&remote_settings(&url, batch)).unwrap());
                        client_run(&enricher, Some(remote), &bytes).await
                    })
                },
            );
            println!(
                "| remote | {server_name} | {batch} | {:.0} | {} | {:.1} | {:.2} | {:.2} | {} |",
                r.per_sec,
                r.requests,
                bytes.len() as f64 / r.requests.max(1) as f64,
                r.p50_ms,
                r.p99_ms,
                r.fallbacks
            );
        }
    }

    println!("\n## pipeline: the worker on the embedded broker, backlog throughput (median of {repeat} runs)\n");
    println!("| model | server | batch_size | articles/s | requests | scored remotely |");
    println!("|---|---|---:|---:|---:|---:|");
    let (per_sec, _, _) =
        median(repeat, |r: &(f64, u64, u64)| r.0, || rt.block_on(pipeline_run(&articles, None, "builtin")));
    println!("| built-in only | — | — | {per_sec:.0} | — | — |");
    for (server_name, delay) in [("instant", Duration::ZERO), ("5 ms", Duration::from_millis(5))] {
        let (url, _server) = start_model_server(delay);
        for batch in [1usize, 16, 64] {
            let tag = format!("remote-{}-{batch}", delay.as_millis());
            let (per_sec, requests, scored) = median(
                repeat,
                |r: &(f64, u64, u64)| r.0,
                || rt.block_on(pipeline_run(&articles, Some(remote_settings(&url, batch)), &tag)),
            );
            println!("| remote | {server_name} | {batch} | {per_sec:.0} | {requests} | {scored} |");
        }
    }
}

/// Runs `run` `repeat` times and returns the run with the median `key`.
fn median<T>(repeat: usize, key: impl Fn(&T) -> f64, mut run: impl FnMut() -> T) -> T {
    let mut runs: Vec<T> = (0..repeat.max(1)).map(|_| run()).collect();
    runs.sort_by(|a, b| key(a).total_cmp(&key(b)));
    runs.swap_remove(runs.len() / 2)
}
