//! Shared by the end-to-end benches: the input articles and how backlog throughput is measured.

use news_enricher::enrich::sentiment::eval::data_file;
use news_enricher::pipeline::Worker;
use std::time::{Duration, Instant};

/// The value after `--<name>` on the command line, parsed, or `default`.
pub fn arg_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a.strip_prefix("--") == Some(name))
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Whether cargo is only probing the bench binary (`cargo bench -- --list`, `cargo test
/// --benches`).
pub fn listing() -> bool {
    std::env::args().any(|a| a == "--list")
}

/// Waits until the worker has had `n` output records acknowledged and returns the seconds from
/// its first consumed message to then (group joining is not part of the throughput).
pub async fn backlog_seconds(worker: &Worker, n: u64) -> f64 {
    let mut first = None;
    loop {
        let st = worker.stats();
        if first.is_none() && st.consumed > 0 {
            first = Some(Instant::now());
        }
        if st.produced >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.expect("messages were consumed").elapsed().as_secs_f64()
}

/// `n` raw articles as (id, JSON line): the shared corpus, cycled, with ids made unique as
/// `<id>#<copy>`.
pub fn corpus(n: usize) -> Vec<(String, String)> {
    let path = data_file("news/news_articles_2017.jsonl").unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let base: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (0..n)
        .map(|i| {
            let mut v = base[i % base.len()].clone();
            let id = format!("{}#{}", v["id"].as_str().unwrap(), i / base.len());
            v["id"] = id.clone().into();
            (id, v.to_string())
        })
        .collect()
}
