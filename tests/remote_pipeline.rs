//! The Kafka worker with a remote sentiment model, on librdkafka's mock cluster, against a real
//! HTTP model server on 127.0.0.1:0: records say which model scored them, order and offsets are
//! kept, and while the model is down, hung or flapping no article is lost and nothing stalls.

mod common;
#[path = "support/model_server.rs"]
mod model_server;

use common::*;
use model_server::{Behaviour, ModelServer};
use news_enricher::config::Settings;
use news_enricher::pipeline::Worker;
use news_enricher::remote::{BreakerState, RemoteSettings};
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);

fn with_remote(fx: &Fixture, server: &ModelServer, configure: impl FnOnce(&mut RemoteSettings)) -> Settings {
    let mut settings = fx.settings.clone();
    let mut remote = RemoteSettings {
        name: "test".into(),
        url: server.url("/predict"),
        timeout_ms: 1000,
        batch_size: 16,
        linger_ms: 5,
        ..RemoteSettings::default()
    };
    configure(&mut remote);
    settings.sentiment.remote = Some(remote);
    settings.validate().expect("valid test settings");
    settings
}

fn ids(articles: &[(String, String)]) -> BTreeSet<String> {
    articles.iter().map(|(id, _)| id.clone()).collect()
}

/// The article-level `sentiment.source` of each output record, by key.
fn sources(records: &[Record]) -> HashMap<String, String> {
    records
        .iter()
        .map(|r| {
            let v = r.json();
            let source = v["enrichment"]["sentiment"]["source"].as_str().unwrap_or("<none>").to_owned();
            (r.key.clone().unwrap_or_default(), source)
        })
        .collect()
}

async fn assert_all_committed(fx: &Fixture) {
    let end = fx.end_offsets();
    let ok = eventually(Duration::from_secs(15), || fx.committed() == end).await;
    assert!(ok, "committed {:?} != end offsets {:?}", fx.committed(), end);
}

fn assert_in_input_order(articles: &[(String, String)], out: &[Record]) {
    let position: HashMap<&str, usize> = articles.iter().enumerate().map(|(i, (id, _))| (id.as_str(), i)).collect();
    for p in 0..PARTITIONS {
        let seq: Vec<usize> = out
            .iter()
            .filter(|r| r.partition == p)
            .filter_map(|r| position.get(r.key.as_deref().unwrap()).copied())
            .collect();
        assert!(seq.windows(2).all(|w| w[0] < w[1]), "output partition {p} out of order: {seq:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_remote_model_scores_every_record_in_order() {
    let fx = Fixture::new("remote-happy");
    let server = ModelServer::start().await;
    // Requests finish out of order; records must not.
    server.set(Behaviour::Jitter(Duration::from_millis(40)));
    let settings = with_remote(&fx, &server, |_| {});
    let articles = synthetic("remote", 400);
    fx.produce_articles(&articles);
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let out = fx.read(OUTPUT, articles.len(), WAIT);
    let (got, dups) = ids_of(&out);
    assert_eq!(got, ids(&articles));
    assert_eq!(dups, 0);
    assert_in_input_order(&articles, &out);
    for r in &out {
        let v = r.json();
        let s = &v["enrichment"]["sentiment"];
        assert_eq!(s["source"], "remote:test", "{s}");
        // The synthetic articles are plain: the test model says neutral (0.9) → score 0.
        assert_eq!(s["label"], "neutral");
        assert!(s.get("model").is_none());
        // Tag sentiment stays with the built-in model.
        assert!(v["enrichment"]["tags"].as_array().unwrap().iter().all(|t| t["sentiment"].get("source").is_none()));
    }
    let remote = worker.shared().remote().unwrap().clone();
    assert_eq!(remote.metrics().scored_total(), 400);
    assert!(server.requests() < 400, "articles of different messages and partitions share requests");
    let metrics = worker.shared().metrics_text();
    assert!(metrics.contains("news_enricher_remote_scored_total{model=\"test\",task=\"sentiment\"} 400"), "{metrics}");
    assert!(metrics.contains("news_enricher_messages_consumed_total"), "one registry for all families");
    worker.shutdown().await.unwrap();
    assert_all_committed(&fx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_model_loses_nothing_and_stalls_nothing() {
    let fx = Fixture::new("remote-hung");
    let server = ModelServer::start().await;
    server.set(Behaviour::Hang);
    let settings = with_remote(&fx, &server, |r| {
        r.timeout_ms = 500;
        r.breaker.failure_threshold = 3;
        r.breaker.open_ms = 60_000;
    });
    let articles = synthetic("hung", 600);
    fx.produce_articles(&articles);
    let started = Instant::now();
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let out = fx.read(OUTPUT, articles.len(), WAIT);
    let elapsed = started.elapsed();
    let (got, _) = ids_of(&out);
    let missing: Vec<_> = ids(&articles).difference(&got).cloned().collect();
    assert!(missing.is_empty(), "lost {} articles, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    assert!(sources(&out).values().all(|s| s == "builtin"), "every record says the built-in model scored it");
    assert_in_input_order(&articles, &out);
    // The hung model cost about one timeout (until the breaker opened), not one per article.
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    let remote = worker.shared().remote().unwrap().clone();
    assert_eq!(remote.breaker_state(), BreakerState::Open);
    assert_eq!(remote.metrics().fallbacks_total(), 600);
    // Only what was in flight when the model hung (at most 64 messages per partition, plus the
    // few taken in while the last failed requests were being counted) waited for the timeout;
    // once the breaker opened, the rest never waited.
    let (timeouts, open) = (remote.metrics().fallbacks("timeout"), remote.metrics().fallbacks("breaker_open"));
    eprintln!("hung model: {timeouts} articles timed out, {open} fell back at once (breaker open)");
    assert!(timeouts <= 4 * 64 + 64, "{timeouts} timeouts");
    assert!(open >= 300, "{open} fell back at once");
    worker.shutdown().await.unwrap();
    assert_all_committed(&fx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_keep_being_committed_while_the_model_is_down() {
    let fx = Fixture::new("remote-commits");
    let server = ModelServer::start().await;
    server.set(Behaviour::Status(503));
    let settings = with_remote(&fx, &server, |r| {
        r.retry.max_retries = 1;
        r.breaker.open_ms = 60_000;
    });
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    // Three waves while the model is down: each is committed before the next arrives.
    for wave in 0..3 {
        let articles = synthetic(&format!("wave{wave}"), 100);
        fx.produce_articles(&articles);
        assert_all_committed(&fx).await;
    }
    let out = fx.read(OUTPUT, 300, WAIT);
    assert_eq!(ids_of(&out).0.len(), 300);
    assert!(sources(&out).values().all(|s| s == "builtin"));
    worker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_fails_then_recovers_is_used_again_and_nothing_is_lost() {
    let fx = Fixture::new("remote-flap");
    let server = ModelServer::start().await;
    server.set(Behaviour::Status(500));
    let settings = with_remote(&fx, &server, |r| {
        r.breaker.failure_threshold = 3;
        r.breaker.open_ms = 500;
    });
    let down = synthetic("down", 200);
    fx.produce_articles(&down);
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let out = fx.read(OUTPUT, down.len(), WAIT);
    assert_eq!(ids_of(&out).0, ids(&down));
    assert!(sources(&out).values().all(|s| s == "builtin"));

    server.set(Behaviour::Ok);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let up = synthetic("up", 300);
    fx.produce_articles(&up);
    let all: Vec<(String, String)> = down.iter().chain(&up).cloned().collect();
    let out = fx.read(OUTPUT, all.len(), WAIT);
    let (got, _) = ids_of(&out);
    assert_eq!(got, ids(&all), "every article of both phases came out");
    let by_key = sources(&out);
    // While the half-open probe is out, articles that arrive fall back at once rather than wait
    // for it (a hung model costs nothing, even at probe time); the probe's own articles, and all
    // after it, are scored by the model.
    let remote_scored = up.iter().filter(|(id, _)| by_key[id] == "remote:test").count();
    eprintln!("recovery wave: {remote_scored} of 300 scored remotely (the rest arrived while the probe was out)");
    assert!(remote_scored >= 1);
    assert_eq!(worker.shared().remote().unwrap().breaker_state(), BreakerState::Closed);
    let after = synthetic("after", 50);
    fx.produce_articles(&after);
    let out = fx.read(OUTPUT, all.len() + after.len(), WAIT);
    let by_key = sources(&out);
    assert!(after.iter().all(|(id, _)| by_key[id] == "remote:test"), "closed breaker: every article scored remotely");
    worker.shutdown().await.unwrap();
    assert_all_committed(&fx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_while_the_model_hangs_drains_within_the_timeout() {
    let fx = Fixture::new("remote-shutdown");
    let server = ModelServer::start().await;
    server.set(Behaviour::Hang);
    // A breaker that never opens: every article waits its full timeout.
    let settings = with_remote(&fx, &server, |r| {
        r.timeout_ms = 1500;
        r.breaker.failure_threshold = 1_000_000;
    });
    let articles = synthetic("drain", 100);
    fx.produce_articles(&articles);
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let consumed = eventually(WAIT, || worker.stats().consumed >= 50).await;
    assert!(consumed, "intake started");
    let started = Instant::now();
    let summary = worker.shutdown().await.unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "shutdown took {took:?} with a hung model");
    // Everything taken in was finished with the built-in model and committed.
    let n = summary.stats.enriched as usize;
    assert!(n >= 50);
    let out = fx.read(OUTPUT, n, WAIT);
    assert!(sources(&out).values().all(|s| s == "builtin"));
    let committed: i64 = fx.committed().values().sum();
    assert_eq!(committed as usize, n, "every finished article committed, no more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_model_does_not_stop_the_worker() {
    let fx = Fixture::new("remote-refused");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let server = ModelServer::start().await;
    let settings = with_remote(&fx, &server, |r| r.url = format!("http://127.0.0.1:{port}/predict"));
    let articles = synthetic("refused", 200);
    fx.produce_articles(&articles);
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let out = fx.read(OUTPUT, articles.len(), WAIT);
    assert_eq!(ids_of(&out).0, ids(&articles));
    assert!(sources(&out).values().all(|s| s == "builtin"));
    assert!(worker
        .shared()
        .metrics_text()
        .contains("news_enricher_remote_errors_total{model=\"test\",task=\"sentiment\",kind=\"connect\"}"));
    worker.shutdown().await.unwrap();
    assert_all_committed(&fx).await;
}
