//! The Kafka worker with remote models, on librdkafka's mock cluster, against a real HTTP model
//! server on 127.0.0.1:0: records say which model scored or tagged them, remote tags are routed
//! like taxonomy tags, order and offsets are kept, and while a model is down, hung or flapping
//! no article is lost and nothing stalls.

mod common;
#[path = "support/model_server.rs"]
mod model_server;

use common::*;
use model_server::{Behaviour, ModelServer};
use news_enricher::config::Route;
use news_enricher::config::Settings;
use news_enricher::pipeline::Worker;
use news_enricher::remote::{BreakerState, RemoteSettings, TagRemoteSettings};
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

/// Produces `articles`, starts a worker and reads the output topic until every article is
/// there: asserts none is missing and each key's records are in input order. Returns the worker,
/// the records and the time from the worker's start to the last record.
fn process_all(fx: &Fixture, settings: &Settings, articles: &[(String, String)]) -> (Worker, Vec<Record>, Duration) {
    fx.produce_articles(articles);
    let started = Instant::now();
    let worker = Worker::start(settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let out = fx.read(OUTPUT, articles.len(), WAIT);
    let elapsed = started.elapsed();
    let (got, _) = ids_of(&out);
    let missing: Vec<_> = ids(articles).difference(&got).cloned().collect();
    assert!(missing.is_empty(), "lost {} articles, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    assert_in_input_order(articles, &out);
    (worker, out, elapsed)
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
    let (worker, out, _) = process_all(&fx, &settings, &articles);
    assert_eq!(ids_of(&out).1, 0, "no duplicates");
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
    let remote = worker.shared().remote_sentiment().unwrap().clone();
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
    let (worker, out, elapsed) = process_all(&fx, &settings, &articles);
    assert!(sources(&out).values().all(|s| s == "builtin"), "every record says the built-in model scored it");
    // The hung model cost about one timeout (until the breaker opened), not one per article.
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    let remote = worker.shared().remote_sentiment().unwrap().clone();
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
    assert_eq!(worker.shared().remote_sentiment().unwrap().breaker_state(), BreakerState::Closed);
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

/// A revoked partition whose work outlasts the drain deadline (here: articles queued behind a
/// hung model, each waiting its timeout) is released with that work unfinished, and its next
/// owner re-processes it. The old owner then writes nothing more for it: its late records could
/// land after the new owner's newer ones for the same keys. It used to write them all, each a
/// duplicate and possibly a stale version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_released_at_the_drain_deadline_gets_no_late_records_from_its_old_owner() {
    use std::sync::atomic::Ordering::Relaxed;
    let fx = Fixture::new("remote-undrained");
    let server = ModelServer::start().await;
    server.set(Behaviour::Hang);
    let mut settings = with_remote(&fx, &server, |r| {
        r.timeout_ms = 3000;
        r.retry.max_retries = 0;
        r.breaker.failure_threshold = 1_000_000;
    });
    settings.kafka.drain_timeout_ms = 3500;
    settings.validate().unwrap();
    // 300 a partition: a partition task enriches 64 at a time, so each takes about 15 s.
    let articles = synthetic("undrained", 1200);
    fx.produce_articles(&articles);
    let a = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let assigned = |w: &Worker| w.shared().stats.assigned_partitions.load(Relaxed);
    assert!(eventually(WAIT, || a.stats().consumed == 1200).await, "A took in the backlog");
    let b = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let undrained = eventually(WAIT, || a.stats().revocations_undrained > 0).await;
    assert!(undrained, "A released partitions with work unfinished: {:?}", a.stats());
    // The model answers again: A's leftover work on the released partitions finishes at once.
    server.set(Behaviour::Ok);
    assert!(eventually(WAIT, || assigned(&b) > 0).await, "the second member got partitions");
    let revoked = PARTITIONS as usize - assigned(&a);
    let out = fx.read(OUTPUT, articles.len(), WAIT);
    assert_eq!(ids_of(&out).0, ids(&articles), "every article written");
    assert!(eventually(WAIT, || a.shared().in_flight() == 0).await, "A finished or dropped its leftover work");
    let out = fx.read(OUTPUT, usize::MAX, Duration::from_secs(3));
    let duplicates = out.len() - articles.len();
    // Only records A had handed to its producer when it released them may still land: at most
    // one round of a partition's concurrent enrichments each.
    assert!(duplicates <= 64 * revoked, "{duplicates} duplicates from {revoked} released partitions");
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
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
    let (worker, out, _) = process_all(&fx, &settings, &articles);
    assert!(sources(&out).values().all(|s| s == "builtin"));
    assert!(worker
        .shared()
        .metrics_text()
        .contains("news_enricher_remote_errors_total{model=\"test\",task=\"sentiment\",kind=\"connect\"}"));
    worker.shutdown().await.unwrap();
    assert_all_committed(&fx).await;
}

// ---------------------------------------------------------------------------------------------
// The remote tag classifier ([taxonomy.remote]).

const CYBER_TOPIC: &str = "news.tag.cyber";
const TAIWAN_TOPIC: &str = "news.tag.taiwan";

/// A tag classifier on the test server and two routes: every `cybersecurity` tag (which only the
/// model finds in these articles) and `taiwan` tags scoring at least 0.9 (which only the
/// model's probability reaches).
fn with_tags(fx: &Fixture, server: &ModelServer, configure: impl FnOnce(&mut TagRemoteSettings)) -> Settings {
    fx.broker.create_topic(CYBER_TOPIC, 1).unwrap();
    let mut settings = fx.settings.clone();
    let mut remote = TagRemoteSettings {
        name: "topics".into(),
        url: server.url("/tags"),
        timeout_ms: 1000,
        linger_ms: 5,
        labels: [("Taiwan", "taiwan"), ("Cyber", "cybersecurity")]
            .into_iter()
            .map(|(l, t)| (l.to_owned(), t.to_owned()))
            .collect(),
        ..TagRemoteSettings::default()
    };
    configure(&mut remote);
    settings.taxonomy.remote = Some(remote);
    settings.routes = vec![
        Route { tag: "cybersecurity".into(), topic: CYBER_TOPIC.into(), min_score: 0.0 },
        Route { tag: "taiwan".into(), topic: TAIWAN_TOPIC.into(), min_score: 0.9 },
    ];
    settings.validate().expect("valid test settings");
    settings
}

/// Half the synthetic Taiwan articles (the taxonomy tags them below 0.9), half about a hack
/// (one mention: no taxonomy tag), interleaved.
fn taiwan_and_cyber(prefix: &str, n: usize) -> (Vec<(String, String)>, BTreeSet<String>, BTreeSet<String>) {
    let mut articles = synthetic(prefix, n);
    let mut cyber = BTreeSet::new();
    for (i, (id, json)) in articles.iter_mut().enumerate().filter(|(i, _)| i % 2 == 1) {
        let body = format!("Article {i}: a hack hit the water utility of a small town; engineers restored service.");
        *json = serde_json::json!({"id": id, "title": format!("Story {i}"), "body": body}).to_string();
        cyber.insert(id.clone());
    }
    let taiwan = ids(&articles).difference(&cyber).cloned().collect();
    (articles, taiwan, cyber)
}

fn tag_score(record: &Record, tag: &str) -> Option<f64> {
    let v = record.json();
    v["enrichment"]["tags"].as_array().unwrap().iter().find(|t| t["id"] == tag).map(|t| t["score"].as_f64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_tags_are_merged_before_routing() {
    let fx = Fixture::new("remote-tags");
    let server = ModelServer::start().await;
    server.set(Behaviour::Jitter(Duration::from_millis(30)));
    let settings = with_tags(&fx, &server, |_| {});
    let (articles, taiwan, cyber) = taiwan_and_cyber("tags", 300);
    // What the taxonomy alone does with them: no cybersecurity tag, Taiwan below the route's 0.9.
    for (id, json) in &articles {
        let raw = news_enricher::article::RawArticle::decode(json.as_bytes(), None, 1 << 20).unwrap();
        let tags = fx.enricher.enrich(raw).enrichment.tags;
        assert!(tags.iter().all(|t| t.id != "cybersecurity"), "{id}: {tags:?}");
        assert!(tags.iter().all(|t| t.id != "taiwan" || t.score < 0.9), "{id}: {tags:?}");
    }
    let (worker, out, _) = process_all(&fx, &settings, &articles);
    assert_eq!(ids_of(&out).1, 0, "no duplicates");
    for r in &out {
        let v = r.json();
        assert_eq!(v["enrichment"]["tags_source"], "remote:topics");
        let id = r.key.clone().unwrap();
        if cyber.contains(&id) {
            assert_eq!(tag_score(r, "cybersecurity"), Some(0.88), "{v}");
            let tag = v["enrichment"]["tags"].as_array().unwrap().iter().find(|t| t["id"] == "cybersecurity").unwrap();
            assert_eq!(
                (&tag["source"], &tag["evidence"]),
                (&serde_json::json!("remote:topics"), &serde_json::json!([]))
            );
        } else {
            assert_eq!(tag_score(r, "taiwan"), Some(0.97), "raised to the model's probability: {v}");
        }
    }
    // Routes see the merged tags: a tag only the model found, and a score only the model gave.
    let routed_cyber = fx.read(CYBER_TOPIC, cyber.len(), WAIT);
    assert_eq!(ids_of(&routed_cyber), (cyber.clone(), 0));
    let routed_taiwan = fx.read(TAIWAN_TOPIC, taiwan.len(), WAIT);
    assert_eq!(ids_of(&routed_taiwan), (taiwan, 0));
    let metrics = worker.shared().metrics_text();
    assert!(
        metrics.contains(&format!("news_enricher_tags_total{{tag=\"cybersecurity\"}} {}", cyber.len())),
        "{metrics}"
    );
    assert!(metrics.contains("news_enricher_remote_scored_total{model=\"topics\",task=\"tags\"} 300"), "{metrics}");
    assert!(worker.shared().remote_sentiment().is_none(), "no sentiment model configured");
    worker.shutdown().await.unwrap();
    assert_all_committed(&fx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_tag_classifier_loses_nothing_and_routes_by_the_taxonomy_only() {
    let fx = Fixture::new("remote-tags-hung");
    let server = ModelServer::start().await;
    server.set(Behaviour::Hang);
    let mut settings = with_tags(&fx, &server, |r| {
        r.timeout_ms = 500;
        r.breaker.failure_threshold = 3;
        r.breaker.open_ms = 60_000;
    });
    // The Taiwan route at 0.0: the taxonomy's own tags still route while the model is down.
    settings.routes[1].min_score = 0.0;
    let (articles, taiwan, _cyber) = taiwan_and_cyber("tags-hung", 400);
    let (worker, out, elapsed) = process_all(&fx, &settings, &articles);
    for r in &out {
        let v = r.json();
        assert_eq!(v["enrichment"]["tags_source"], "builtin", "{v}");
        assert!(tag_score(r, "cybersecurity").is_none());
        assert!(v["enrichment"]["tags"].as_array().unwrap().iter().all(|t| t.get("source").is_none()));
    }
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    let tags = worker.shared().remote_tags().unwrap().clone();
    assert_eq!(tags.breaker_state(), BreakerState::Open);
    assert_eq!(tags.metrics().fallbacks_total(), 400);
    assert!(tags.metrics().fallbacks("breaker_open") >= 100, "most fell back at once");
    // Taxonomy routes work; the model-only route gets nothing.
    let routed_taiwan = fx.read(TAIWAN_TOPIC, taiwan.len(), WAIT);
    assert_eq!(ids_of(&routed_taiwan).0, taiwan);
    assert!(fx.read(CYBER_TOPIC, 1, Duration::from_secs(2)).is_empty());
    worker.shutdown().await.unwrap();
    assert_all_committed(&fx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_remote_models_on_one_worker() {
    let fx = Fixture::new("remote-both");
    let server = ModelServer::start().await;
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut settings = with_tags(&fx, &server, |_| {});
    // The sentiment model is unreachable, the tag classifier answers: each is marked on its own.
    settings.sentiment = with_remote(&fx, &server, |r| r.url = format!("http://127.0.0.1:{refused}/predict")).sentiment;
    let articles = synthetic("both", 200);
    let (worker, out, _) = process_all(&fx, &settings, &articles);
    for r in &out {
        let v = r.json();
        assert_eq!(v["enrichment"]["sentiment"]["source"], "builtin");
        assert_eq!(v["enrichment"]["tags_source"], "remote:topics");
        assert_eq!(tag_score(r, "taiwan"), Some(0.97));
    }
    let metrics = worker.shared().metrics_text();
    assert_eq!(metrics.matches("# TYPE news_enricher_remote_scored counter").count(), 1, "{metrics}");
    assert!(metrics.contains("news_enricher_remote_scored_total{model=\"test\",task=\"sentiment\"} 0"));
    assert!(metrics.contains("news_enricher_remote_scored_total{model=\"topics\",task=\"tags\"} 200"));
    worker.shutdown().await.unwrap();
    assert_all_committed(&fx).await;
}
