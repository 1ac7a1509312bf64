//! The remote model provider against a real HTTP server on 127.0.0.1:0 that answers correctly,
//! slowly, with 5xx, 4xx, 429 and `Retry-After`, malformed JSON, the wrong number of results,
//! unknown labels, or hangs: batching, bounded concurrency, retries, the circuit breaker, the
//! fallback and its marking in the record, the token, HTTP/2, HTTPS with a private CA, and the
//! metrics — for the sentiment model and the tag classifier (labels to taxonomy tags, the merge
//! with the taxonomy's tags, both models at once).

#[path = "support/model_server.rs"]
mod model_server;

use model_server::{expected_score, Behaviour, ModelServer, TEST_CA};
use news_enricher::article::{EnrichedArticle, RawArticle};
use news_enricher::config::Settings;
use news_enricher::enrich::taxonomy::Taxonomy;
use news_enricher::enrich::Enricher;
use news_enricher::remote::{
    Api, BreakerState, Failure, HttpVersion, Remote, RemoteSentiment, RemoteSettings, RemoteTags, Secret,
    TagRemoteSettings,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn settings(server: &ModelServer) -> RemoteSettings {
    RemoteSettings {
        name: "test".into(),
        url: server.url("/predict"),
        timeout_ms: 2000,
        batch_size: 8,
        linger_ms: 10,
        retry: news_enricher::remote::RetrySettings {
            max_retries: 2,
            initial_backoff_ms: 20,
            max_backoff_ms: 100,
            max_retry_after_ms: 30_000,
        },
        ..RemoteSettings::default()
    }
}

fn start(settings: &RemoteSettings) -> Arc<RemoteSentiment> {
    Arc::new(RemoteSentiment::start(settings).expect("valid remote settings"))
}

/// Scores `texts` concurrently, as partition tasks do.
async fn score_all(remote: &Arc<RemoteSentiment>, texts: &[String]) -> Vec<Result<f64, Failure>> {
    let tasks: Vec<_> = texts
        .iter()
        .map(|t| {
            let (r, t) = (remote.clone(), t.clone());
            tokio::spawn(async move { r.score(&t).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn texts(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{} news number {i}", ["good", "bad", "plain"][i % 3])).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tei_answers_become_scores_for_the_right_texts() {
    let server = ModelServer::start().await;
    let remote = start(&settings(&server));
    let texts = texts(20);
    let results = score_all(&remote, &texts).await;
    for (text, result) in texts.iter().zip(&results) {
        let score = result.unwrap_or_else(|f| panic!("{text}: {f:?}"));
        assert!(close(score, expected_score(text)), "{text}: {score}");
    }
    assert!(close(results[0].unwrap(), 0.86), "good: 0.9 - 0.04");
    // TEI reads a flat pair of strings as one sequence pair: every text is its own sequence.
    for seen in server.seen() {
        assert_eq!(seen.path, "/predict");
        assert!(!seen.texts.is_empty() && seen.texts.len() <= 8);
    }
    assert_eq!(server.batch_sizes().iter().sum::<usize>(), 20);
    assert_eq!(remote.metrics().scored_total(), 20);
    assert_eq!(remote.metrics().fallbacks_total(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_api_takes_direct_scores_and_label_lists() {
    let server = ModelServer::start().await;
    let remote = start(&RemoteSettings { url: server.url("/generic"), api: Api::Generic, ..settings(&server) });
    let results = score_all(&remote, &["a good day".into(), "a score given directly".into()]).await;
    assert!(close(results[0].unwrap(), expected_score("a good day")));
    assert_eq!(results[1], Ok(-0.25));
    assert!(server.seen().iter().all(|s| s.path == "/generic"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_fill_up_to_batch_size() {
    let server = ModelServer::start().await;
    let remote = start(&RemoteSettings { batch_size: 4, linger_ms: 300, ..settings(&server) });
    let started = Instant::now();
    let results = score_all(&remote, &texts(10)).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let mut sizes = server.batch_sizes();
    sizes.sort_unstable();
    assert_eq!(sizes, [2, 4, 4], "two full batches leave at once, the rest after the linger");
    // The full batches did not wait for the linger; the last one did.
    let seen = server.seen();
    let full: Vec<_> = seen.iter().filter(|s| s.texts.len() == 4).collect();
    let partial_at = seen.iter().find(|s| s.texts.len() == 2).unwrap().at;
    assert!(full.iter().all(|s| s.at < partial_at), "full batches left without waiting for the linger");
    let partial = seen.iter().find(|s| s.texts.len() == 2).unwrap();
    assert!(partial.at.duration_since(started) >= Duration::from_millis(290));
    let text = metrics_text(&remote);
    assert!(text.contains("news_enricher_remote_batch_size_count{model=\"test\",task=\"sentiment\"} 3"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linger_sends_a_partial_batch() {
    let server = ModelServer::start().await;
    let remote = start(&RemoteSettings { batch_size: 100, linger_ms: 50, ..settings(&server) });
    let started = Instant::now();
    let results = score_all(&remote, &texts(3)).await;
    let elapsed = started.elapsed();
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(server.batch_sizes(), [3], "one request for the three articles");
    assert!(elapsed >= Duration::from_millis(45) && elapsed < Duration::from_millis(1000), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_bounded() {
    let server = ModelServer::start().await;
    server.set(Behaviour::Slow(Duration::from_millis(150)));
    let remote = start(&RemoteSettings {
        batch_size: 1,
        linger_ms: 0,
        max_concurrent_requests: 2,
        timeout_ms: 5000,
        ..settings(&server)
    });
    let results = score_all(&remote, &texts(8)).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(server.max_in_flight(), 2, "never more than max_concurrent_requests at once");
    assert_eq!(server.requests(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_batches_fill_up_while_slots_are_busy() {
    let server = ModelServer::start().await;
    server.set(Behaviour::Slow(Duration::from_millis(200)));
    let remote = start(&RemoteSettings {
        batch_size: 16,
        linger_ms: 0,
        max_concurrent_requests: 1,
        timeout_ms: 5000,
        ..settings(&server)
    });
    let first = {
        let r = remote.clone();
        tokio::spawn(async move { r.score("good first").await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let rest = score_all(&remote, &texts(10)).await;
    assert!(first.await.unwrap().is_ok());
    assert!(rest.iter().all(Result::is_ok));
    // The ten queued while the only slot was busy and left together when it was free.
    assert_eq!(server.batch_sizes(), [1, 10]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_with_backoff() {
    let server = ModelServer::start().await;
    server.script([Behaviour::Status(500), Behaviour::Status(503)]);
    let remote = start(&settings(&server));
    let score = remote.score("good news").await;
    assert!(close(score.unwrap(), expected_score("good news")));
    let seen = server.seen();
    assert_eq!(seen.len(), 3, "two failures, then success");
    // Jittered backoff: 20 ms doubling, half of it fixed.
    assert!(seen[1].at.duration_since(seen[0].at) >= Duration::from_millis(10));
    assert!(seen[2].at.duration_since(seen[1].at) >= Duration::from_millis(20));
    let m = remote.metrics();
    assert_eq!((m.retries(), m.errors("server_error"), m.requests("ok"), m.requests("error")), (2, 2, 1, 2));
    assert_eq!(m.fallbacks_total(), 0);
}

/// An error answer larger than the size limit is still an error of its status: before, a 500
/// with a 20 MiB page was counted as malformed and not retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_error_answer_is_a_server_error_and_retried() {
    let server = ModelServer::start().await;
    server.script([Behaviour::LargeError(500, 20 << 20)]);
    let remote = start(&settings(&server));
    let score = remote.score("good news").await;
    assert!(close(score.unwrap(), expected_score("good news")));
    let m = remote.metrics();
    assert_eq!((m.errors("server_error"), m.errors("malformed"), server.requests()), (1, 0, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_give_up_after_max_retries_and_fall_back() {
    let server = ModelServer::start().await;
    server.set(Behaviour::Status(502));
    let remote = start(&settings(&server));
    assert_eq!(remote.score("good news").await, Err(Failure::Error));
    assert_eq!(server.requests(), 3, "1 + max_retries");
    assert_eq!(remote.metrics().fallbacks("error"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_honours_retry_after() {
    let server = ModelServer::start().await;
    server.script([Behaviour::TooMany(Some(1))]);
    let remote = start(&RemoteSettings { timeout_ms: 3000, ..settings(&server) });
    let score = remote.score("good news").await;
    assert!(score.is_ok(), "{score:?}");
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let gap = seen[1].at.duration_since(seen[0].at);
    assert!(gap >= Duration::from_millis(950), "retried after Retry-After (1 s), not the 20 ms backoff: {gap:?}");
    assert_eq!(remote.metrics().errors("throttled"), 1);
}

/// A 503 with `Retry-After` is the server shedding load: throttled, like a 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_with_retry_after_is_throttling() {
    let server = ModelServer::start().await;
    server.script([Behaviour::Unavailable(1)]);
    let remote = start(&RemoteSettings { timeout_ms: 3000, ..settings(&server) });
    assert!(remote.score("good news").await.is_ok());
    assert_eq!(server.requests(), 2);
    assert_eq!(remote.metrics().errors("throttled"), 1);
    assert_eq!(remote.metrics().errors("server_error"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_without_retry_after_backs_off() {
    let server = ModelServer::start().await;
    server.script([Behaviour::TooMany(None), Behaviour::TooMany(None)]);
    let remote = start(&settings(&server));
    assert!(remote.score("good news").await.is_ok());
    assert_eq!(server.requests(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_beyond_the_timeout_falls_back_and_pauses_all_requests() {
    let server = ModelServer::start().await;
    server.script([Behaviour::TooMany(Some(2))]);
    let remote = start(&RemoteSettings { timeout_ms: 500, ..settings(&server) });
    let started = Instant::now();
    assert_eq!(remote.score("good news").await, Err(Failure::Throttled));
    assert!(started.elapsed() < Duration::from_millis(400), "gave up at once, not at the timeout");
    // During the pause nothing is sent: articles fall back at once.
    let started = Instant::now();
    assert_eq!(remote.score("more news").await, Err(Failure::Throttled));
    // Below the 500 ms timeout with room for a busy machine; the request count proves it.
    assert!(started.elapsed() < Duration::from_millis(400), "no request, no wait");
    assert_eq!(server.requests(), 1);
    assert_eq!(remote.metrics().fallbacks("throttled"), 2);
    // After it, requests flow again.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(remote.score("good news").await.is_ok());
    assert_eq!(server.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_falls_back_without_retrying() {
    let server = ModelServer::start().await;
    server.set(Behaviour::Malformed);
    let remote = start(&settings(&server));
    assert_eq!(remote.score("good news").await, Err(Failure::Error));
    assert_eq!(server.requests(), 1, "a malformed answer is not retried");
    assert_eq!(remote.metrics().errors("malformed"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_answer_is_cut_at_the_size_limit() {
    let server = ModelServer::start().await;
    server.set(Behaviour::Endless);
    // A timeout far longer than reading the limit takes: only the size limit can end the call.
    let remote = start(&RemoteSettings { timeout_ms: 20_000, ..settings(&server) });
    assert_eq!(remote.score("good news").await, Err(Failure::Error));
    assert_eq!(remote.metrics().errors("malformed"), 1, "cut as too large, not timed out");
    assert_eq!(server.requests(), 1, "a too-large answer is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_number_of_results_is_malformed() {
    let server = ModelServer::start().await;
    server.set(Behaviour::WrongLength);
    let remote = start(&settings(&server));
    let results = score_all(&remote, &texts(3)).await;
    assert!(results.iter().all(|r| *r == Err(Failure::Error)), "{results:?}");
    assert!(remote.metrics().errors("malformed") >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_outside_the_label_map_fall_back() {
    let server = ModelServer::start().await;
    server.set(Behaviour::UnknownLabels);
    let remote = start(&settings(&server));
    assert_eq!(remote.score("good news").await, Err(Failure::Error));
    assert_eq!(remote.metrics().errors("unmapped_label"), 1);
    // With the label in the map, the same answer scores.
    let remote = start(&RemoteSettings {
        labels: [("joy".to_owned(), 0.7)].into_iter().collect(),
        name: "joyful".into(),
        ..settings(&server)
    });
    assert_eq!(remote.score("good news").await, Ok(0.7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_are_not_retried() {
    let server = ModelServer::start().await;
    server.set(Behaviour::Status(401));
    let remote = start(&settings(&server));
    assert_eq!(remote.score("good news").await, Err(Failure::Error));
    assert_eq!(server.requests(), 1);
    assert_eq!(remote.metrics().errors("client_error"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_model_delays_an_article_by_at_most_the_timeout() {
    let server = ModelServer::start().await;
    server.set(Behaviour::Hang);
    let remote = start(&RemoteSettings { timeout_ms: 300, ..settings(&server) });
    let started = Instant::now();
    let results = score_all(&remote, &texts(5)).await;
    let elapsed = started.elapsed();
    assert!(results.iter().all(|r| *r == Err(Failure::Timeout)), "{results:?}");
    assert!(elapsed >= Duration::from_millis(290) && elapsed < Duration::from_millis(800), "{elapsed:?}");
    assert_eq!(remote.metrics().fallbacks("timeout"), 5);
    assert_eq!(server.requests(), 1, "no retry: the timeout was used up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_model_times_out_and_is_used_again_when_fast() {
    let server = ModelServer::start().await;
    server.set(Behaviour::Slow(Duration::from_millis(500)));
    let remote = start(&RemoteSettings { timeout_ms: 200, ..settings(&server) });
    assert_eq!(remote.score("good news").await, Err(Failure::Timeout));
    server.set(Behaviour::Ok);
    assert!(remote.score("good news").await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn articles_that_gave_up_are_not_sent() {
    let server = ModelServer::start().await;
    server.set(Behaviour::Slow(Duration::from_millis(600)));
    let remote = start(&RemoteSettings {
        timeout_ms: 300,
        batch_size: 1,
        linger_ms: 0,
        max_concurrent_requests: 1,
        ..settings(&server)
    });
    let results = score_all(&remote, &texts(4)).await;
    assert!(results.iter().all(|r| *r == Err(Failure::Timeout)), "{results:?}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(server.requests(), 1, "the three that waited for the slot had given up by then");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_opens_fails_fast_and_closes_after_a_probe() {
    let server = ModelServer::start().await;
    server.set(Behaviour::Status(500));
    let mut s = settings(&server);
    s.retry.max_retries = 0;
    s.breaker.failure_threshold = 3;
    s.breaker.open_ms = 400;
    let remote = start(&s);
    for _ in 0..3 {
        assert_eq!(remote.score("good news").await, Err(Failure::Error));
    }
    assert_eq!(remote.breaker_state(), BreakerState::Open);
    assert!(metrics_text(&remote).contains("news_enricher_remote_breaker_state{model=\"test\",task=\"sentiment\"} 1"));
    // Open: no request, an immediate fallback.
    let started = Instant::now();
    assert_eq!(remote.score("good news").await, Err(Failure::BreakerOpen));
    assert!(started.elapsed() < Duration::from_millis(400), "no wait for a timeout");
    assert_eq!(server.requests(), 3);
    // The model recovers; after open_ms one probe goes through and closes the breaker.
    server.set(Behaviour::Ok);
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(remote.score("good news").await.is_ok());
    assert_eq!(remote.breaker_state(), BreakerState::Closed);
    assert!(metrics_text(&remote).contains("news_enricher_remote_breaker_state{model=\"test\",task=\"sentiment\"} 0"));
    assert!(score_all(&remote, &texts(5)).await.iter().all(Result::is_ok));
    assert_eq!(remote.metrics().fallbacks("breaker_open"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_probe_reopens_the_breaker() {
    let server = ModelServer::start().await;
    server.set(Behaviour::Status(503));
    let mut s = settings(&server);
    s.retry.max_retries = 0;
    s.breaker.failure_threshold = 2;
    s.breaker.open_ms = 300;
    let remote = start(&s);
    for _ in 0..2 {
        let _ = remote.score("x").await;
    }
    assert_eq!(remote.breaker_state(), BreakerState::Open);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(remote.score("x").await, Err(Failure::Error), "the probe fails");
    assert_eq!(server.requests(), 3, "exactly one probe");
    assert_eq!(remote.breaker_state(), BreakerState::Open);
    assert_eq!(remote.score("x").await, Err(Failure::BreakerOpen));
    assert_eq!(server.requests(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_count_towards_the_breaker() {
    let server = ModelServer::start().await;
    server.set(Behaviour::Hang);
    let mut s = settings(&server);
    s.timeout_ms = 150;
    s.breaker.failure_threshold = 2;
    let remote = start(&s);
    for _ in 0..2 {
        assert_eq!(remote.score("x").await, Err(Failure::Timeout));
    }
    // The request gives up at the same deadline as its article, a moment later.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(remote.breaker_state(), BreakerState::Open);
    let started = Instant::now();
    assert_eq!(remote.score("x").await, Err(Failure::BreakerOpen));
    assert!(started.elapsed() < Duration::from_millis(140), "a hung model costs nothing once the breaker is open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_falls_back() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let remote = start(&RemoteSettings {
        name: "test".into(),
        url: format!("http://127.0.0.1:{port}/predict"),
        ..RemoteSettings::default()
    });
    assert_eq!(remote.score("good news").await, Err(Failure::Error));
    assert!(remote.metrics().errors("connect") >= 1, "{}", metrics_text(&remote));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_falls_back_at_once() {
    let server = ModelServer::start().await;
    server.set(Behaviour::Hang);
    let remote = start(&RemoteSettings {
        queue_size: 2,
        batch_size: 1,
        linger_ms: 0,
        max_concurrent_requests: 1,
        timeout_ms: 1000,
        ..settings(&server)
    });
    let started = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let r = remote.clone();
            tokio::spawn(async move { (r.score(&format!("text {i}")).await, Instant::now()) })
        })
        .collect();
    let mut overloaded = 0;
    for t in tasks {
        let (result, at) = t.await.unwrap();
        if result == Err(Failure::Overloaded) {
            overloaded += 1;
            assert!(at.duration_since(started) < Duration::from_millis(200), "overload is answered at once");
        } else {
            assert_eq!(result, Err(Failure::Timeout));
        }
    }
    assert!(overloaded >= 4, "at most one in flight, one in hand and two queued: {overloaded} overloaded");
    assert_eq!(remote.metrics().fallbacks("overloaded"), overloaded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_token_is_sent_and_never_shown() {
    let server = ModelServer::start().await;
    let s = RemoteSettings { token: Some(Secret::new("tok-Zq9")), ..settings(&server) };
    let remote = start(&s);
    assert!(remote.score("good news").await.is_ok());
    assert_eq!(server.seen()[0].authorization.as_deref(), Some("Bearer tok-Zq9"));
    for shown in [format!("{s:?}"), format!("{remote:?}"), metrics_text(&remote), toml::to_string(&s).unwrap()] {
        assert!(!shown.contains("tok-Zq9"), "{shown}");
    }
    // And the worker's own config printing.
    let mut settings = Settings::default();
    settings.sentiment.remote = Some(s);
    assert!(!settings.to_redacted_toml().contains("tok-Zq9"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speaks_http2_with_prior_knowledge_and_http1() {
    let server = ModelServer::start().await;
    let h2 = start(&RemoteSettings { http: HttpVersion::Http2, ..settings(&server) });
    assert!(score_all(&h2, &texts(20)).await.iter().all(Result::is_ok));
    let h1 = start(&RemoteSettings { http: HttpVersion::Http1, name: "h1".into(), ..settings(&server) });
    assert!(h1.score("good").await.is_ok());
    let versions: Vec<_> = server.seen().iter().map(|s| s.version).collect();
    assert!(versions[..versions.len() - 1].iter().all(|v| *v == axum::http::Version::HTTP_2), "{versions:?}");
    assert_eq!(*versions.last().unwrap(), axum::http::Version::HTTP_11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_marks_the_source_in_the_record() {
    let server = ModelServer::start().await;
    let remote = start(&settings(&server));
    let enricher = Enricher::from_config(&Settings::default()).unwrap();
    let raw = |json: &str| RawArticle::decode(json.as_bytes(), None, 1 << 20).unwrap();

    let mut article = enricher.enrich(raw(r#"{"id":"a","title":"Good talks","body":"Officials met in Taipei."}"#));
    remote.apply(&mut article).await;
    let s = &article.enrichment.sentiment;
    assert_eq!(s.source.as_deref(), Some("remote:test"));
    assert!(close(s.score.unwrap(), 0.86));
    assert_eq!(s.label, "positive");
    assert_eq!(s.model, None, "`model` names the built-in model only when it produced the score");
    let json: serde_json::Value = serde_json::from_slice(&article.to_json()).unwrap();
    assert_eq!(json["enrichment"]["sentiment"]["source"], "remote:test");
    assert_eq!(server.seen()[0].texts, ["Good talks\nOfficials met in Taipei."]);

    // The model fails: the built-in result stays, marked.
    server.set(Behaviour::Status(500));
    let mut article = enricher.enrich(raw(r#"{"id":"b","title":"Good talks","body":"Officials met in Taipei."}"#));
    let builtin = article.enrichment.sentiment.clone();
    remote.apply(&mut article).await;
    let s = &article.enrichment.sentiment;
    assert_eq!(s.source.as_deref(), Some("builtin"));
    assert_eq!((s.score, s.label, s.model), (builtin.score, builtin.label, builtin.model));

    // Without a remote model, records carry no `source` at all.
    let article = enricher.enrich(raw(r#"{"id":"c","title":"Good talks"}"#));
    let json: serde_json::Value = serde_json::from_slice(&article.to_json()).unwrap();
    assert!(json["enrichment"]["sentiment"].get("source").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_configured_languages_are_sent() {
    let server = ModelServer::start().await;
    let enricher = Enricher::from_config(&Settings::default()).unwrap();
    let german = r#"{"id":"de","title":"Gute Nachrichten","body":"Die Gespräche waren gut.","language":"de"}"#;
    let remote = start(&settings(&server));
    let mut article = enricher.enrich(RawArticle::decode(german.as_bytes(), None, 1 << 20).unwrap());
    remote.apply(&mut article).await;
    assert_eq!(article.enrichment.sentiment.source.as_deref(), Some("builtin"));
    assert_eq!(article.enrichment.sentiment.label, "unsupported_language");
    assert_eq!(server.requests(), 0);
    // A multilingual model: every language.
    let remote = start(&RemoteSettings { languages: vec![], name: "multi".into(), ..settings(&server) });
    let mut article = enricher.enrich(RawArticle::decode(german.as_bytes(), None, 1 << 20).unwrap());
    remote.apply(&mut article).await;
    assert_eq!(article.enrichment.sentiment.source.as_deref(), Some("remote:multi"));
    assert_eq!(server.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_articles_are_cut_to_max_chars() {
    let server = ModelServer::start().await;
    let remote = start(&RemoteSettings { max_chars: 100, ..settings(&server) });
    let enricher = Enricher::from_config(&Settings::default()).unwrap();
    let body = "Taiwan ".repeat(10_000);
    let json = serde_json::json!({"id": "long", "title": "Long", "body": body}).to_string();
    let mut article = enricher.enrich(RawArticle::decode(json.as_bytes(), None, 1 << 20).unwrap());
    remote.apply(&mut article).await;
    assert_eq!(server.seen()[0].texts[0].chars().count(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_families_are_exported() {
    let server = ModelServer::start().await;
    let remote = start(&settings(&server));
    remote.score("good").await.unwrap();
    let text = metrics_text(&remote);
    for family in [
        "news_enricher_remote_requests_total{model=\"test\",task=\"sentiment\",result=\"ok\"} 1",
        "news_enricher_remote_request_duration_seconds_count{model=\"test\",task=\"sentiment\"} 1",
        "news_enricher_remote_batch_size_count{model=\"test\",task=\"sentiment\"} 1",
        "news_enricher_remote_breaker_state{model=\"test\",task=\"sentiment\"} 0",
        "news_enricher_remote_scored_total{model=\"test\",task=\"sentiment\"} 1",
        "news_enricher_remote_errors_total{model=\"test\",task=\"sentiment\",kind=\"timeout\"} 0",
        "news_enricher_remote_fallbacks_total{model=\"test\",task=\"sentiment\",reason=\"breaker_open\"} 0",
        "news_enricher_remote_retries_total{model=\"test\",task=\"sentiment\"} 0",
    ] {
        assert!(text.contains(family), "missing {family:?} in\n{text}");
    }
}

fn metrics_text(remote: &RemoteSentiment) -> String {
    metrics_text_of(|r| remote.register_metrics(r))
}

/// The commented-out example `section` of `config/default.toml`, uncommented (the section
/// header and the lines whose key passes `is_key`, which leaves out the prose), loaded as a
/// configuration file; and its text.
fn load_documented_example(section: &str, is_key: impl Fn(&str) -> bool) -> (Settings, String) {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml")).unwrap();
    let start = text.find(&format!("# {section}")).expect("documented section");
    let example: String = text[start..]
        .lines()
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| l.starts_with('[') || l.split_once(" = ").is_some_and(|(k, _)| is_key(k)))
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("example.toml");
    std::fs::write(&path, &example).unwrap();
    let settings = Settings::load(Some(&path)).unwrap_or_else(|e| panic!("{e}\n{example}"));
    (settings, example)
}

#[test]
fn the_documented_example_in_the_default_config_is_valid() {
    // config/default.toml documents [sentiment.remote] commented out; uncommented, it must load.
    let (settings, example) =
        load_documented_example("[sentiment.remote]", |k| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    assert!(example.contains("half_open_probes = 1"), "{example}");
    assert_eq!(
        settings.sentiment.remote,
        Some(RemoteSettings { url: "http://tei:8080/predict".into(), ..RemoteSettings::default() }),
        "the documented values are the defaults"
    );
}

// ---------------------------------------------------------------------------------------------
// The tag classifier ([taxonomy.remote]) and both models together.

fn tag_settings(server: &ModelServer) -> TagRemoteSettings {
    TagRemoteSettings {
        name: "topics".into(),
        url: server.url("/tags"),
        timeout_ms: 2000,
        batch_size: 8,
        linger_ms: 10,
        labels: [
            ("Taiwan", "taiwan"),
            ("Opioids", "fentanyl"),
            ("Cyber", "cybersecurity"),
            ("Borderline", "sanctions"),
        ]
        .into_iter()
        .map(|(l, t)| (l.to_owned(), t.to_owned()))
        .collect(),
        ..TagRemoteSettings::default()
    }
}

fn start_tags(settings: &TagRemoteSettings) -> Arc<RemoteTags> {
    let enricher = Enricher::from_config(&Settings::default()).unwrap();
    Arc::new(RemoteTags::start(settings, enricher.taxonomy()).expect("valid tag classifier settings"))
}

/// The built-in taxonomy, compiled once for the whole test binary.
fn builtin_taxonomy() -> &'static Taxonomy {
    static TAXONOMY: std::sync::LazyLock<Taxonomy> = std::sync::LazyLock::new(Taxonomy::builtin);
    &TAXONOMY
}

fn enrich(json: &str) -> EnrichedArticle {
    let enricher = Enricher::from_config(&Settings::default()).unwrap();
    enricher.enrich(RawArticle::decode(json.as_bytes(), None, 1 << 20).unwrap())
}

/// (id, score, evidence entries, source) of each tag, in record order.
fn tag_view(article: &EnrichedArticle) -> Vec<(String, f64, usize, Option<String>)> {
    article.enrichment.tags.iter().map(|t| (t.id.clone(), t.score, t.evidence.len(), t.source.clone())).collect()
}

/// Taxonomy tags Taiwan (strong), a single mention of a hack (not enough for the taxonomy's
/// cybersecurity tag), and "maybe" (the model's Borderline label, below the threshold).
const MIXED: &str = r#"{"id":"m","title":"Taiwan talks in Taipei","body":"Officials in Taipei discussed cross-strait relations and the economy of Taiwan. A hack was reported, maybe."}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_classifier_labels_become_taxonomy_tags_above_the_threshold() {
    let server = ModelServer::start().await;
    let tags = start_tags(&tag_settings(&server));
    let found = tags.classify("Fentanyl seizures in Taipei; maybe more.").await.unwrap();
    // Taiwan 0.97 and Opioids 0.91 count; Borderline 0.45 is below 0.5; Sports (0.6) is not in
    // the label map; the rest are improbable.
    assert_eq!(found, [("taiwan".to_owned(), 0.97), ("fentanyl".to_owned(), 0.91)]);
    assert_eq!(server.seen()[0].path, "/tags");
    // A lower threshold lets the borderline label in.
    let low = start_tags(&TagRemoteSettings { threshold: Some(0.4), name: "low".into(), ..tag_settings(&server) });
    let found = low.classify("maybe").await.unwrap();
    assert_eq!(found, [("sanctions".to_owned(), 0.45)]);
    assert_eq!(tags.metrics().scored_total(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_tags_merge_with_the_taxonomy_tags_in_the_record() {
    let server = ModelServer::start().await;
    let tags = start_tags(&tag_settings(&server));
    let builtin = enrich(MIXED);
    let before = tag_view(&builtin);
    let taiwan = before.iter().find(|t| t.0 == "taiwan").expect("the taxonomy tags Taiwan").clone();
    assert!(taiwan.1 < 0.97 && taiwan.2 > 0, "{before:?}");
    assert!(!before.iter().any(|t| t.0 == "cybersecurity"), "one mention does not make a cybersecurity tag");

    let mut article = builtin.clone();
    tags.apply(&mut article, builtin_taxonomy()).await;
    let after = tag_view(&article);
    // Taiwan: found by both — the taxonomy's evidence, the higher score, no source. Cybersecurity:
    // the model's only — its probability, no evidence, marked. Sanctions (0.45) not added.
    assert_eq!(after[0], ("taiwan".to_owned(), 0.97, taiwan.2, None));
    assert_eq!(after[1], ("cybersecurity".to_owned(), 0.88, 0, Some("remote:topics".to_owned())));
    assert!(!after.iter().any(|t| t.0 == "sanctions"));
    // Taxonomy-only tags are unchanged.
    for t in before.iter().filter(|t| t.0 != "taiwan") {
        assert!(after.contains(t), "{t:?} changed: {after:?}");
    }
    assert_eq!(after.len(), before.len() + 1);
    let e = &article.enrichment;
    assert_eq!(e.tags_source.as_deref(), Some("remote:topics"));
    assert_eq!(e.tags[0].sentiment, builtin.enrichment.tags[0].sentiment, "taxonomy tag keeps its sentiment");
    let json: serde_json::Value = serde_json::from_slice(&article.to_json()).unwrap();
    let cyber = &json["enrichment"]["tags"][1];
    assert_eq!(cyber["label"], "Cybersecurity", "label from the taxonomy");
    assert_eq!((&cyber["evidence"], &cyber["sentiment"]), (&serde_json::json!([]), &serde_json::Value::Null));
    assert_eq!(cyber["source"], "remote:topics");
    assert!(json["enrichment"]["tags"][0].get("source").is_none());
    assert_eq!(json["enrichment"]["tags_source"], "remote:topics");

    // The taxonomy that tagged the article labels the model's tags: after a reload that renamed
    // one, the new label (and a record never mixes two taxonomies).
    let builtin_source = include_str!("../config/taxonomy.toml");
    let renamed_source = builtin_source.replacen("label = \"Cybersecurity\"", "label = \"Cyber threats\"", 1);
    assert_ne!(renamed_source, builtin_source);
    let renamed = Taxonomy::from_toml_str(&renamed_source, "renamed.toml").unwrap();
    let mut article = builtin.clone();
    tags.apply(&mut article, &renamed).await;
    assert_eq!(
        (article.enrichment.tags[1].id.as_str(), article.enrichment.tags[1].label.as_str()),
        ("cybersecurity", "Cyber threats")
    );
    // The sentiment is untouched (no sentiment model configured), and unmarked.
    assert!(json["enrichment"]["sentiment"].get("source").is_none());
    // Without a tag classifier, records carry no tags_source.
    let plain: serde_json::Value = serde_json::from_slice(&builtin.to_json()).unwrap();
    assert!(plain["enrichment"].get("tags_source").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_or_hung_tag_classifier_keeps_the_taxonomy_tags_marked_builtin() {
    let server = ModelServer::start().await;
    let mut s = tag_settings(&server);
    s.timeout_ms = 300;
    s.retry.max_retries = 0;
    s.breaker.failure_threshold = 2;
    let tags = start_tags(&s);
    let builtin = enrich(MIXED);
    for behaviour in [Behaviour::Status(500), Behaviour::Hang] {
        server.set(behaviour.clone());
        let mut article = builtin.clone();
        let started = Instant::now();
        tags.apply(&mut article, builtin_taxonomy()).await;
        assert!(started.elapsed() < Duration::from_millis(600), "{behaviour:?}: {:?}", started.elapsed());
        assert_eq!(tag_view(&article), tag_view(&builtin), "{behaviour:?}: taxonomy tags only");
        assert_eq!(article.enrichment.tags_source.as_deref(), Some("builtin"));
    }
    // Two failures opened the tag classifier's breaker: the next article does not wait at all.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(tags.breaker_state(), BreakerState::Open);
    let mut article = builtin.clone();
    let started = Instant::now();
    tags.apply(&mut article, builtin_taxonomy()).await;
    assert!(started.elapsed() < Duration::from_millis(250), "no wait for the 300 ms timeout");
    assert_eq!(article.enrichment.tags_source.as_deref(), Some("builtin"));
    let m = tags.metrics();
    assert_eq!((m.fallbacks("error"), m.fallbacks("timeout"), m.fallbacks("breaker_open")), (1, 1, 1));
    let text = metrics_text_of(|r| tags.register_metrics(r));
    assert!(text.contains("news_enricher_remote_breaker_state{model=\"topics\",task=\"tags\"} 1"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tag_classifier_speaks_the_generic_flavour_and_skips_other_languages() {
    let server = ModelServer::start().await;
    let tags =
        start_tags(&TagRemoteSettings { url: server.url("/generic-tags"), api: Api::Generic, ..tag_settings(&server) });
    assert_eq!(tags.classify("Opioid crisis").await.unwrap(), [("fentanyl".to_owned(), 0.91)]);
    // A direct score is a sentiment answer, malformed for a tag classifier (the test server
    // answers {"score": …} for texts mentioning "score").
    assert_eq!(tags.classify("a score").await, Err(Failure::Error));
    assert_eq!(tags.metrics().errors("malformed"), 1);
    // Articles in languages the classifier does not take are not sent, and marked.
    let requests = server.requests();
    let mut german = enrich(r#"{"id":"de","title":"Taiwan","body":"Gespräche in Taipeh.","language":"de"}"#);
    tags.apply(&mut german, builtin_taxonomy()).await;
    assert_eq!(german.enrichment.tags_source.as_deref(), Some("builtin"));
    assert_eq!(server.requests(), requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_models_are_asked_at_once_and_share_metric_families() {
    let server = ModelServer::start().await;
    server.set(Behaviour::Slow(Duration::from_millis(300)));
    let mut settings = Settings::default();
    settings.sentiment.remote = Some(settings_for_name(&server, "remote"));
    settings.taxonomy.remote = Some(TagRemoteSettings { name: "remote".into(), ..tag_settings(&server) });
    settings.validate().unwrap();
    let enricher = Enricher::from_config(&settings).unwrap();
    let remote = Remote::start(&settings, enricher.taxonomy()).unwrap().expect("both configured");
    let mut article = enrich(MIXED);
    let started = Instant::now();
    remote.apply(&mut article, enricher.taxonomy()).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(290) && took < Duration::from_millis(550), "one wait, not two: {took:?}");
    let e = &article.enrichment;
    assert_eq!(e.sentiment.source.as_deref(), Some("remote:remote"));
    assert_eq!(e.tags_source.as_deref(), Some("remote:remote"));
    assert!(e.tags.iter().any(|t| t.id == "cybersecurity"));
    let mut paths: Vec<String> = server.seen().into_iter().map(|s| s.path).collect();
    paths.sort();
    assert_eq!(paths, ["/predict", "/tags"]);
    // One registry, each family once, the two models told apart by `task` (same name).
    let text = metrics_text_of(|r| remote.register_metrics(r));
    assert_eq!(text.matches("# TYPE news_enricher_remote_scored counter").count(), 1, "{text}");
    for task in ["sentiment", "tags"] {
        let series = format!("news_enricher_remote_scored_total{{model=\"remote\",task=\"{task}\"}} 1");
        assert!(text.contains(&series), "missing {series} in\n{text}");
    }
}

fn settings_for_name(server: &ModelServer, name: &str) -> RemoteSettings {
    RemoteSettings { name: name.into(), ..settings(server) }
}

fn metrics_text_of(register: impl FnOnce(&mut prometheus_client::registry::Registry)) -> String {
    let mut registry = prometheus_client::registry::Registry::with_prefix("news_enricher");
    register(&mut registry);
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
    out
}

#[test]
fn the_documented_tag_classifier_example_is_valid() {
    // config/default.toml documents [taxonomy.remote] commented out; uncommented, it must load
    // and its tag ids must exist in the built-in taxonomy.
    let (settings, example) = load_documented_example("[taxonomy.remote]", |k| !k.starts_with(' '));
    let tags = settings.taxonomy.remote.as_ref().expect("the section");
    assert!(tags.labels.len() >= 2, "{example}");
    assert_eq!(tags.threshold, Some(0.5));
    let enricher = Enricher::from_config(&settings).unwrap();
    news_enricher::remote::tags::check_labels(&settings, enricher.taxonomy()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// HTTPS with a private CA (ca_file).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_private_ca_from_ca_file() {
    let server = ModelServer::start_tls().await;
    assert!(server.url("/predict").starts_with("https://127.0.0.1:"));
    // Without the CA, the server's certificate is not trusted: the handshake fails, the
    // article keeps the built-in result.
    let untrusted = start(&RemoteSettings { name: "untrusted".into(), ..settings(&server) });
    assert_eq!(untrusted.score("good news").await, Err(Failure::Error));
    assert!(untrusted.metrics().errors("connect") >= 1, "{}", metrics_text(&untrusted));
    assert!(server.failed_handshakes() >= 1);
    assert_eq!(server.requests(), 0);
    // With it, the model answers — over HTTP/2, chosen by ALPN (http = "auto").
    let trusted = start(&RemoteSettings { ca_file: Some(TEST_CA.into()), ..settings(&server) });
    assert!(close(trusted.score("good news").await.unwrap(), expected_score("good news")));
    assert_eq!(server.seen()[0].version, axum::http::Version::HTTP_2);
    // The tag classifier takes the same setting.
    let tags = start_tags(&TagRemoteSettings { ca_file: Some(TEST_CA.into()), ..tag_settings(&server) });
    assert_eq!(tags.classify("Taipei").await.unwrap(), [("taiwan".to_owned(), 0.97)]);
}

#[test]
fn a_bad_ca_file_stops_the_model_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.der");
    std::fs::write(&not_pem, [0x30u8, 0x82, 0x01, 0x0a]).unwrap();
    for (path, message) in
        [(dir.path().join("missing.pem"), "cannot read the CA file"), (not_pem, "no \"BEGIN CERTIFICATE\" block found")]
    {
        let s = RemoteSettings {
            url: "https://127.0.0.1:9/predict".into(),
            ca_file: Some(path.clone()),
            ..RemoteSettings::default()
        };
        let e = RemoteSentiment::start(&s).unwrap_err();
        assert!(e.starts_with("sentiment.remote.ca_file: ") && e.contains(message), "{e}");
        assert!(e.contains(&path.display().to_string()), "names the file: {e}");
    }
}
