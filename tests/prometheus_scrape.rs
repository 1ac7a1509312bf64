//! Operations tested for real: two worker processes (the release binary under
//! `cargo test --release`) on a Tansu broker, scraped by a real Prometheus server on 127.0.0.1.
//! Through Prometheus' HTTP API: the counters match what was processed, and readiness drops to 0
//! when the broker goes away (while `/readyz` answers 503).
//!
//! Needs `prometheus` on PATH (Debian package `prometheus`; `scripts/install-test-deps.sh`
//! installs it) and the Tansu binary (see `tests/support/tansu.rs`).

mod common;
#[path = "support/tansu.rs"]
mod tansu;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (SIGKILL) when dropped, also on panic.
struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(addr: &str, path_and_query: &str) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path_and_query} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default()))
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The scalar value of a PromQL query (the first series), if Prometheus has one.
fn query(prometheus: &str, promql: &str) -> Option<f64> {
    let (status, body) = http_get(prometheus, &format!("/api/v1/query?query={}", percent_encode(promql)))?;
    if status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"].as_array()?.first()?["value"][1].as_str()?.parse().ok()
}

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("timed out waiting for {what}");
}

fn prometheus_bin() -> PathBuf {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join("prometheus")).find(|p| p.is_file()));
    found.unwrap_or_else(|| {
        panic!("prometheus not found on PATH: apt-get install prometheus (or run scripts/install-test-deps.sh)")
    })
}

fn start_worker(dir: &Path, name: &'static str, bootstrap: &str, http: &str) -> Proc {
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            r#"[kafka]
brokers = "{bootstrap}"
group_id = "prom-test"
shutdown_timeout_secs = 5
drain_timeout_ms = 5000
[kafka.consumer_properties]
"max.poll.interval.ms" = "10000"
"session.timeout.ms" = "10000"
"statistics.interval.ms" = "1000"
[http]
listen = "{http}"
[log]
format = "json"
"#
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_news-enricher"))
        .arg("run")
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Proc(child)
}

#[test]
fn prometheus_sees_the_processed_counts_and_readiness_dropping_with_the_broker() {
    let prometheus = prometheus_bin();
    let dir = tempfile::tempdir().unwrap();
    let broker = tansu::Tansu::start(dir.path());
    let bootstrap = broker.bootstrap();
    broker.create_topics(&[("news.raw", 4), ("news.enriched", 4), ("news.dlq", 1)]);

    let http: Vec<String> = (0..2).map(|_| format!("127.0.0.1:{}", tansu::free_port())).collect();
    let _w1 = start_worker(dir.path(), "w1", &bootstrap, &http[0]);
    let _w2 = start_worker(dir.path(), "w2", &bootstrap, &http[1]);

    let prom_addr = format!("127.0.0.1:{}", tansu::free_port());
    let prom_config = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom_config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: news-enricher\n    static_configs:\n      - targets: [\"{}\", \"{}\"]\n",
            http[0], http[1]
        ),
    )
    .unwrap();
    let prom_log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let _prom = Proc(
        Command::new(prometheus)
            .arg(format!("--config.file={}", prom_config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
            .arg(format!("--web.listen-address={prom_addr}"))
            .stdout(Stdio::null())
            .stderr(prom_log)
            .spawn()
            .unwrap(),
    );
    let logs = || {
        ["w1.log", "w2.log", "prometheus.log"]
            .iter()
            .map(|f| format!("--- {f}\n{}", tansu::tail(&dir.path().join(f), 15)))
            .collect::<String>()
    };

    wait_for("both workers ready", Duration::from_secs(60), || {
        http.iter().all(|a| http_get(a, "/readyz").is_some_and(|(s, _)| s == 200))
    });

    // 2,000 corpus articles; one of them has no text and is dead-lettered.
    let articles = common::corpus(2000);
    let records: Vec<_> =
        articles.iter().map(|(id, j)| (Some(id.clone().into_bytes()), j.clone().into_bytes())).collect();
    common::produce_to(&bootstrap, "news.raw", &records);
    let out = common::read_topic(&bootstrap, "news.enriched", 1999, Duration::from_secs(120));
    assert_eq!(common::ids_of(&out).0.len(), 1999, "{}", logs());

    let expect = |promql: &str, value: f64| {
        let mut last = None;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            last = query(&prom_addr, promql);
            if last == Some(value) {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("Prometheus: {promql} = {last:?}, expected {value}\n{}", logs());
    };
    expect("sum(news_enricher_messages_consumed_total)", 2000.0);
    expect("sum(news_enricher_records_produced_total{topic=\"news.enriched\"})", 1999.0);
    expect("sum(news_enricher_dlq_records_total{reason=\"no_text\"})", 1.0);
    expect("sum(news_enricher_processing_duration_seconds_count)", 2000.0);
    expect("sum(news_enricher_assigned_partitions)", 4.0);
    expect("count(news_enricher_ready == 1)", 2.0);
    expect("count(news_enricher_build_info)", 2.0);
    expect("sum(news_enricher_consumer_lag)", 0.0);

    // The broker goes away: both workers report not ready, directly and through Prometheus.
    drop(broker);
    wait_for("/readyz to answer 503 on both workers", Duration::from_secs(60), || {
        http.iter()
            .all(|a| http_get(a, "/readyz").is_some_and(|(s, body)| s == 503 && body.contains("brokers unreachable")))
    });
    expect("sum(news_enricher_ready)", 0.0);
    expect("sum(news_enricher_broker_up)", 0.0);
    // Liveness is unaffected: the process is fine, only its broker is gone.
    assert!(http.iter().all(|a| http_get(a, "/healthz").is_some_and(|(s, _)| s == 200)));
}
