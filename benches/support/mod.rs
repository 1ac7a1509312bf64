//! Shared by the end-to-end benches: how backlog throughput is measured.

use news_enricher::pipeline::Worker;
use std::time::{Duration, Instant};

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
