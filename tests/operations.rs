//! The operations endpoint and the health logic on the mock cluster: metrics that match what was
//! processed, readiness while the broker is down, and the stall watchdog.

mod common;

use common::*;
use news_enricher::pipeline::{Worker, WorkerError};
use news_enricher::telemetry::http;
use rdkafka::types::RDKafkaApiKey;
use std::net::SocketAddr;
use std::time::Duration;

fn metric(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name_and_labels).and_then(|rest| rest.trim().parse().ok()))
}

async fn get_async(addr: SocketAddr, path: &'static str) -> (u16, String) {
    tokio::task::spawn_blocking(move || http_get(addr, path)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_serves_metrics_health_and_readiness() {
    let fx = Fixture::new("ops-http");
    let slot = http::WorkerSlot::default();
    let addr = http::serve("127.0.0.1:0", slot.clone()).await.unwrap();
    assert_eq!(get_async(addr, "/healthz").await.0, 200);
    assert_eq!(get_async(addr, "/readyz").await, (503, "not ready: starting\n".into()));
    // A scrape while starting is a valid exposition that says "not ready" (an empty body made
    // Prometheus mark the target down).
    let (status, starting) = get_async(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(starting.contains("\nnews_enricher_ready 0\n") && starting.ends_with("# EOF\n"), "{starting}");

    let mut records: Vec<_> =
        synthetic("ops", 40).into_iter().map(|(id, j)| (Some(id.into_bytes()), j.into_bytes())).collect();
    records.push((Some(b"bad".to_vec()), b"{broken".to_vec()));
    fx.produce(&records);
    let worker = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let _ = slot.set(worker.shared().clone());
    let ok =
        eventually(Duration::from_secs(30), || worker.stats().consumed == 41 && worker.shared().in_flight() == 0).await;
    assert!(ok);
    let ready = eventually(Duration::from_secs(10), || worker.shared().is_ready()).await;
    assert!(ready, "{:?}", worker.shared().not_ready_reason());
    assert_eq!(get_async(addr, "/readyz").await, (200, "ready\n".into()));

    let (status, text) = get_async(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(metric(&text, "news_enricher_messages_consumed_total{topic=\"news.raw\"}"), Some(41.0), "{text}");
    assert_eq!(metric(&text, "news_enricher_records_produced_total{topic=\"news.enriched\"}"), Some(40.0));
    assert_eq!(metric(&text, "news_enricher_records_produced_total{topic=\"news.dlq\"}"), Some(1.0));
    assert_eq!(metric(&text, "news_enricher_dlq_records_total{reason=\"not_json\"}"), Some(1.0));
    assert_eq!(metric(&text, "news_enricher_tags_total{tag=\"taiwan\"}"), Some(40.0), "{text}");
    assert_eq!(metric(&text, "news_enricher_processing_duration_seconds_count"), Some(41.0));
    assert_eq!(metric(&text, "news_enricher_article_age_seconds_count"), Some(41.0));
    assert_eq!(metric(&text, "news_enricher_assigned_partitions"), Some(PARTITIONS as f64));
    assert_eq!(metric(&text, "news_enricher_ready"), Some(1.0));
    assert!(text.contains("news_enricher_build_info{version=\""));
    // Lag comes from librdkafka statistics (every 5 s): owned partitions only, never -1.
    let lag_seen = eventually(Duration::from_secs(15), || {
        let text = http_get(addr, "/metrics").1;
        (0..PARTITIONS).all(|p| {
            metric(&text, &format!("news_enricher_consumer_lag{{topic=\"news.raw\",partition=\"{p}\"}}")) == Some(0.0)
        })
    })
    .await;
    assert!(lag_seen, "{}", get_async(addr, "/metrics").await.1);
    assert!(!get_async(addr, "/metrics").await.1.contains("} -1"));
    worker.shutdown().await.unwrap();
}

/// Brokers that never answer: the group cannot be joined, and readiness says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_because_brokers_unreachable_before_joining_the_group() {
    let mut fx = Fixture::new("ops-never-joined");
    fx.settings.kafka.shutdown_timeout_secs = 2;
    let worker = Worker::start(&fx.settings, "127.0.0.1:1", fx.enricher.clone()).unwrap();
    let unreachable = eventually(Duration::from_secs(20), || {
        worker.shared().not_ready_reason() == Some("brokers unreachable")
            && metric(&worker.shared().metrics_text(), "news_enricher_broker_up") == Some(0.0)
    })
    .await;
    assert!(unreachable, "{:?}", worker.shared().not_ready_reason());
    assert!(!worker.shared().is_ready());
    worker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_while_the_broker_is_down() {
    let fx = Fixture::new("ops-broker-down");
    let worker = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    assert!(eventually(Duration::from_secs(20), || worker.shared().is_ready()).await, "ready after joining");
    fx.broker.broker_down(1);
    let down = eventually(Duration::from_secs(20), || !worker.shared().is_ready()).await;
    assert!(down, "not ready while the broker is down");
    assert_eq!(worker.shared().not_ready_reason(), Some("brokers unreachable"));
    assert_eq!(metric(&worker.shared().metrics_text(), "news_enricher_broker_up"), Some(0.0));
    fx.broker.broker_up(1);
    // No traffic: an idle worker (a quiet topic, more replicas than partitions) must see the
    // brokers back from its connections alone.
    let back = eventually(Duration::from_secs(40), || worker.shared().is_ready()).await;
    assert!(back, "ready again after the broker returned: {:?}", worker.shared().not_ready_reason());
    let up = eventually(Duration::from_secs(5), || {
        metric(&worker.shared().metrics_text(), "news_enricher_broker_up") == Some(1.0)
    })
    .await;
    assert!(up, "{}", worker.shared().metrics_text());
    worker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_watchdog_marks_a_stuck_worker_not_ready_and_recovers() {
    let fx = Fixture::new("ops-stall");
    let mut settings = fx.settings.clone();
    settings.http.stall_timeout_secs = 2;
    fx.produce_articles(&synthetic("stall", 20));
    // Output writes hang for 6 s each: partitions have work but nothing completes.
    fx.broker.delay_requests(1, RDKafkaApiKey::Produce, 3, 6000);
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let stalled = eventually(Duration::from_secs(20), || {
        metric(&worker.shared().metrics_text(), "news_enricher_stalled") == Some(1.0)
    })
    .await;
    assert!(stalled, "{}", worker.shared().metrics_text());
    assert!(!worker.shared().is_ready());
    assert_eq!(worker.shared().not_ready_reason(), Some("stalled: partitions with lag but no progress"));
    let recovered =
        eventually(Duration::from_secs(40), || worker.stats().enriched == 20 && worker.shared().is_ready()).await;
    assert!(recovered, "{:?}", worker.shared().not_ready_reason());
    assert_eq!(metric(&worker.shared().metrics_text(), "news_enricher_stalled"), Some(0.0));
    worker.shutdown().await.unwrap();
}

/// With `http.stall_exit_secs`, a stall that lasts that long besides stops the worker with a
/// fatal error (exit 1 from `run`) for its supervisor to restart; before that it is only marked
/// stalled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_past_stall_exit_secs_stops_the_worker_for_a_restart() {
    let fx = Fixture::new("ops-stall-exit");
    let mut settings = fx.settings.clone();
    settings.http.stall_timeout_secs = 2;
    settings.http.stall_exit_secs = 3;
    fx.produce_articles(&synthetic("stall-exit", 20));
    // Output writes hang for 30 s: partitions have work but nothing completes.
    fx.broker.delay_requests(1, RDKafkaApiKey::Produce, 3, 30_000);
    let started = std::time::Instant::now();
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let stalled = eventually(Duration::from_secs(20), || {
        metric(&worker.shared().metrics_text(), "news_enricher_stalled") == Some(1.0)
    })
    .await;
    assert!(stalled, "{}", worker.shared().metrics_text());
    assert_eq!(
        worker.shared().not_ready_reason(),
        Some("stalled: partitions with lag but no progress"),
        "not stopped yet"
    );
    let failed = tokio::time::timeout(Duration::from_secs(20), worker.failed()).await;
    assert!(failed.is_ok(), "still running after {:?}", started.elapsed());
    assert!(started.elapsed() >= Duration::from_secs(5), "stopped after {:?}", started.elapsed());
    match worker.shutdown().await {
        Err(WorkerError::Fatal(reason)) => assert!(reason.contains("http.stall_exit_secs = 3"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_with_work_in_flight_is_not_reported_as_a_stall() {
    let fx = Fixture::new("ops-outage-no-stall");
    let mut settings = fx.settings.clone();
    settings.http.stall_timeout_secs = 2;
    let articles = synthetic("outage", 20);
    fx.produce_articles(&articles);
    // Output writes hang, so the articles stay in flight; then the broker goes away.
    fx.broker.delay_requests(1, RDKafkaApiKey::Produce, 3, 4000);
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    assert!(eventually(Duration::from_secs(20), || worker.shared().in_flight() > 0).await, "work in flight");
    fx.broker.broker_down(1);
    let down =
        eventually(Duration::from_secs(20), || worker.shared().not_ready_reason() == Some("brokers unreachable")).await;
    assert!(down, "{:?}", worker.shared().not_ready_reason());
    // Three stall periods with work in flight and no progress: brokers down, never stalled.
    let deadline = std::time::Instant::now() + Duration::from_secs(6);
    while std::time::Instant::now() < deadline {
        assert_eq!(metric(&worker.shared().metrics_text(), "news_enricher_stalled"), Some(0.0));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    fx.broker.broker_up(1);
    // The outage may cost the group its session: articles in flight are then processed again,
    // so count ids downstream rather than enrichments.
    let out = fx.read(OUTPUT, articles.len(), Duration::from_secs(60));
    assert_eq!(ids_of(&out).0.len(), articles.len(), "every article arrives after the outage");
    let ready = eventually(Duration::from_secs(60), || worker.shared().is_ready()).await;
    assert!(ready, "{:?}", worker.shared().not_ready_reason());
    worker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_goes_as_soon_as_shutdown_starts() {
    let fx = Fixture::new("ops-stop-ready");
    fx.produce_articles(&synthetic("stop", 10));
    // Work in flight that takes seconds to deliver keeps the drain busy.
    fx.broker.delay_requests(1, RDKafkaApiKey::Produce, 3, 5000);
    let worker = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let busy = eventually(Duration::from_secs(20), || worker.shared().is_ready() && worker.shared().in_flight() > 0);
    assert!(busy.await, "ready with work in flight: {:?}", worker.shared().not_ready_reason());
    let shared = worker.shared().clone();
    let stopping = tokio::spawn(worker.shutdown());
    let gone = eventually(Duration::from_secs(2), || {
        !shared.is_ready() && metric(&shared.metrics_text(), "news_enricher_ready") == Some(0.0)
    })
    .await;
    assert!(gone, "not ready during the drain: {:?}", shared.not_ready_reason());
    assert_eq!(shared.not_ready_reason(), Some("shutting down"));
    assert!(shared.in_flight() > 0, "checked while the drain was still going on");
    stopping.await.unwrap().unwrap();
}

/// A taxonomy reload (what SIGHUP and `taxonomy.watch_secs` do) puts an edited file in use
/// between messages: each record names the version that tagged it, and a tag the edit added is
/// found. The watch compiles a new content only when two checks in a row read it, so a file
/// caught half-written is not put in use. A file that does not compile, or lacks a tag a route
/// names, is refused with its reason and the taxonomy in use stays; the watch reports a failing
/// content (or a failing read) once, a signal every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_taxonomy_tags_the_messages_after_it() {
    use news_enricher::reload::{Outcome, Reloader, Trigger};
    let builtin = include_str!("../config/taxonomy.toml");
    let with_version = |version: &str| builtin.replacen("version = \"2026.", &format!("version = \"{version}\" # "), 1);
    assert_ne!(with_version("x"), builtin, "the built-in taxonomy's version line moved");
    let chips = "\n[[tag]]\nid = \"semiconductors\"\nlabel = \"Semiconductors\"\ndescription = \"Chips.\"\n\
                 [tag.terms.core]\nweight = 3.0\nphrases = [\"semiconductor\", \"chipmaker\"]\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("taxonomy.toml");
    std::fs::write(&path, with_version("test-1")).unwrap();

    let mut fx = Fixture::new("ops-reload");
    fx.settings.taxonomy.path = Some(path.clone());
    fx.settings.routes = vec![route("taiwan", "news.tag.taiwan")];
    let enricher = std::sync::Arc::new(news_enricher::enrich::Enricher::from_config(&fx.settings).unwrap());
    let worker = Worker::start(&fx.settings, &fx.bootstrap(), enricher).unwrap();
    // An edit made after the taxonomy was built, before the reloads start (while the worker
    // checked its topics), is not taken for the content in use.
    std::fs::write(&path, with_version("test-1") + "\n# edited during start-up\n").unwrap();
    let mut reloader = Reloader::new(&fx.settings, worker.shared().clone());
    let same_version = Outcome::Reloaded { from: "test-1".into(), to: "test-1".into() };
    assert_eq!(reloader.reload(Trigger::Signal), same_version);
    assert_eq!(reloader.reload(Trigger::Signal), Outcome::Unchanged);
    assert_eq!(reloader.reload(Trigger::Watch), Outcome::Unchanged);

    let article = |id: &str| {
        let body = "The chipmaker will build a semiconductor plant. Semiconductor demand is rising. \
                    The chipmaker said the semiconductor shortage is easing.";
        (id.to_owned(), serde_json::json!({"id": id, "title": "Chipmaker expands", "body": body}).to_string())
    };
    fx.produce_articles(&[article("before")]);
    assert!(eventually(Duration::from_secs(30), || worker.stats().enriched == 1).await);

    // Written in place, caught half-way at one check and whole at the next: the watch waits
    // for a content two checks agree on.
    let edited = with_version("test-2") + chips;
    std::fs::write(&path, &edited.as_bytes()[..edited.len() / 2]).unwrap();
    assert_eq!(reloader.reload(Trigger::Watch), Outcome::Settling);
    std::fs::write(&path, &edited).unwrap();
    assert_eq!(reloader.reload(Trigger::Watch), Outcome::Settling);
    let reloaded = Outcome::Reloaded { from: "test-1".into(), to: "test-2".into() };
    assert_eq!(reloader.reload(Trigger::Watch), reloaded);
    fx.produce_articles(&[article("after")]);

    std::fs::write(&path, with_version("test-3") + chips + "oops\n").unwrap();
    assert_eq!(reloader.reload(Trigger::Watch), Outcome::Settling);
    let Outcome::Failed(broken) = reloader.reload(Trigger::Watch) else { panic!("a broken file was put in use") };
    assert!(broken.starts_with(&format!("{}:", path.display())), "names the file: {broken}");
    assert_eq!(reloader.reload(Trigger::Watch), Outcome::StillFailing, "the watch reports it once");
    assert_eq!(reloader.reload(Trigger::Signal), Outcome::Failed(broken), "a signal asks again");

    let routed_tag_gone = with_version("test-4").replacen("id = \"taiwan\"", "id = \"formosa\"", 1);
    std::fs::write(&path, routed_tag_gone).unwrap();
    let Outcome::Failed(unrouted) = reloader.reload(Trigger::Signal) else { panic!("a routed tag went missing") };
    let expected = format!("{}: routes[0].tag: unknown tag \"taiwan\"", path.display());
    assert!(unrouted.starts_with(&expected), "{unrouted}");

    std::fs::remove_file(&path).unwrap();
    let Outcome::Failed(unread) = reloader.reload(Trigger::Watch) else { panic!("a missing file was not reported") };
    assert!(unread.starts_with(&format!("{}:", path.display())), "{unread}");
    assert_eq!(reloader.reload(Trigger::Watch), Outcome::StillFailing);
    fx.produce_articles(&[article("later")]);

    let records = fx.read(OUTPUT, 3, Duration::from_secs(30));
    let tagged = |id: &str| {
        let record = records.iter().map(Record::json).find(|r| r["id"] == id).unwrap_or_else(|| panic!("no {id}"));
        let tags: Vec<String> =
            record["enrichment"]["tags"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().into()).collect();
        (record["enrichment"]["enricher"]["taxonomy_version"].as_str().unwrap().to_owned(), tags)
    };
    assert_eq!(tagged("before"), ("test-1".into(), vec![]));
    assert_eq!(tagged("after"), ("test-2".into(), vec!["semiconductors".to_owned()]));
    assert_eq!(tagged("later"), ("test-2".into(), vec!["semiconductors".to_owned()]), "kept after the failures");

    let text = worker.shared().stats.encode();
    assert_eq!(metric(&text, "news_enricher_taxonomy_info{version=\"test-2\"}"), Some(1.0), "{text}");
    assert!(!text.contains("version=\"test-1\""), "{text}");
    assert_eq!(metric(&text, "news_enricher_taxonomy_reloads_total{result=\"reloaded\"}"), Some(2.0));
    assert_eq!(metric(&text, "news_enricher_taxonomy_reloads_total{result=\"failed\"}"), Some(4.0));
    assert_eq!(metric(&text, "news_enricher_taxonomy_last_reload_successful"), Some(0.0), "{text}");
    std::fs::write(&path, &edited).unwrap();
    assert_eq!(reloader.reload(Trigger::Watch), Outcome::Unchanged, "the edit undone");
    let text = worker.shared().stats.encode();
    assert_eq!(metric(&text, "news_enricher_taxonomy_last_reload_successful"), Some(1.0), "{text}");
    worker.shutdown().await.unwrap();
}
