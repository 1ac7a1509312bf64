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

/// A backlog run: its wall time, and the CPU time the whole machine spent meanwhile.
pub struct Backlog {
    /// From the worker's first consumed message to its `n`-th acknowledged output record (group
    /// joining is not part of the throughput).
    pub seconds: f64,
    /// Busy CPU seconds of all cores (`/proc/stat`: user, nice, system, irq, softirq) over the
    /// same window: the worker, the broker and anything else running. `None` without `/proc`.
    #[allow(dead_code)] // read by the pipeline bench; each bench compiles this module on its own
    pub busy_cpu_seconds: Option<f64>,
}

/// Waits until the worker has had `n` output records acknowledged; see [`Backlog`].
pub async fn backlog_run(worker: &Worker, n: u64) -> Backlog {
    let mut first = None;
    loop {
        let st = worker.stats();
        if first.is_none() && st.consumed > 0 {
            first = Some((Instant::now(), machine_busy_seconds()));
        }
        if st.produced >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (start, busy_before) = first.expect("messages were consumed");
    let seconds = start.elapsed().as_secs_f64();
    let busy_cpu_seconds = busy_before.zip(machine_busy_seconds()).map(|(a, b)| b - a);
    Backlog { seconds, busy_cpu_seconds }
}

/// Busy CPU seconds of all cores since boot, from the first line of `/proc/stat` (in USER_HZ
/// ticks, 100 per second on Linux).
fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> =
        stat.lines().next()?.split_whitespace().skip(1).map(|v| v.parse().ok()).collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq ...
    let busy = ticks.first()? + ticks.get(1)? + ticks.get(2)? + ticks.get(5)? + ticks.get(6)?;
    Some(busy as f64 / 100.0)
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
