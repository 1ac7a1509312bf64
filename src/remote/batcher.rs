//! Batching across messages and the life of one batch.
//!
//! One batcher task per remote model takes articles from a bounded queue and cuts them into
//! batches: a batch leaves when it holds `batch_size` articles or `linger_ms` after its first
//! article arrived, whichever comes first. At most `max_concurrent_requests` batches are in
//! flight (a semaphore); while all slots are busy the next batch waits and is topped up with
//! whatever queued meanwhile, so a slow server gets fuller batches rather than more requests.
//!
//! A batch is sent by its own task ([`send_batch`]): it drops articles whose caller already gave
//! up, asks the circuit breaker and the `Retry-After` hold for permission, sends, and on a
//! retriable failure sleeps a jittered exponential backoff (or the server's `Retry-After`) and
//! tries again — only while the latest deadline of its articles leaves room. Every article gets
//! exactly one answer: the model's output for it (a sentiment score, tags — whatever the model's
//! [`Head`] makes of the server's answer) or a [`Failure`]; its caller also stops waiting at its
//! own deadline whatever happens here. The batcher is the same for every remote model.

use super::breaker::Admission;
use super::client::{CallError, ErrorKind};
use super::{Core, Head};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// One article waiting for the remote model; `T` is what the model makes of it.
pub(super) struct Job<T> {
    pub text: String,
    /// When its caller stops waiting.
    pub deadline: Instant,
    pub reply: oneshot::Sender<Result<T, Failure>>,
}

/// Why an article got nothing from the remote model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No answer before the article's deadline.
    Timeout,
    /// The request failed (and retries, if any, did too or had no time).
    Error,
    /// The circuit breaker is open: no request was sent.
    BreakerOpen,
    /// The server asked to wait (429/503 with `Retry-After`) and that wait is not over: no request
    /// was sent.
    Throttled,
    /// The queue in front of the model is full.
    Overloaded,
}

impl Failure {
    /// The `reason` label of `news_enricher_remote_fallbacks_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::Error => "error",
            Failure::BreakerOpen => "breaker_open",
            Failure::Throttled => "throttled",
            Failure::Overloaded => "overloaded",
        }
    }

    fn from_error(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Timeout => Failure::Timeout,
            ErrorKind::Throttled => Failure::Throttled,
            _ => Failure::Error,
        }
    }
}

/// Runs until every sender of `queue` is dropped (the worker is gone).
pub(super) async fn run<H: Head>(core: Arc<Core<H>>, mut queue: mpsc::Receiver<Job<H::Output>>) {
    let slots = Arc::new(Semaphore::new(core.settings.max_concurrent_requests));
    let linger = Duration::from_millis(core.settings.linger_ms);
    let max = core.settings.batch_size;
    while let Some(first) = queue.recv().await {
        let mut batch = Vec::with_capacity(max);
        batch.push(first);
        let linger_end = tokio::time::Instant::now() + linger;
        while batch.len() < max {
            match tokio::time::timeout_at(linger_end, queue.recv()).await {
                Ok(Some(job)) => batch.push(job),
                Ok(None) | Err(_) => break,
            }
        }
        let Ok(slot) = slots.clone().acquire_owned().await else { break };
        while batch.len() < max {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let core = core.clone();
        tokio::spawn(async move {
            send_batch(&core, batch).await;
            drop(slot);
        });
    }
}

fn fail_all<T>(jobs: Vec<Job<T>>, failure: Failure) {
    for job in jobs {
        let _ = job.reply.send(Err(failure));
    }
}

/// Backoff before retry number `attempt + 1`: `initial · 2^attempt` capped at `max`, with equal
/// jitter (half fixed, half random) so that workers that failed together do not retry together.
pub fn backoff(attempt: u32, initial: Duration, max: Duration) -> Duration {
    let base = initial.saturating_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX)).min(max);
    let half = base / 2;
    half + half.mul_f64(fastrand::f64())
}

/// Sends one batch, with retries, and answers every article in it.
async fn send_batch<H: Head>(core: &Core<H>, mut jobs: Vec<Job<H::Output>>) {
    let s = &core.settings;
    let min_budget = (s.timeout() / 10).max(Duration::from_millis(1));
    let mut attempt = 0u32;
    loop {
        // Articles whose caller gave up (its deadline passed) are not sent.
        jobs.retain(|j| !j.reply.is_closed());
        let Some(deadline) = jobs.iter().map(|j| j.deadline).max() else { return };
        let now = Instant::now();
        let budget = deadline.saturating_duration_since(now);
        if budget < min_budget {
            // Too little time left to be worth a request (it waited for a slot): a timeout of
            // our own making, which must not count against the server.
            return fail_all(jobs, Failure::Timeout);
        }
        if core.held(now) {
            return fail_all(jobs, Failure::Throttled);
        }
        let (admission, transition) = core.breaker.admit(now);
        core.note(transition, None);
        let Some(admission) = admission else { return fail_all(jobs, Failure::BreakerOpen) };

        let texts: Vec<&str> = jobs.iter().map(|j| j.text.as_str()).collect();
        core.metrics.observe_batch(texts.len());
        let started = Instant::now();
        let result = core.request(&texts, budget).await;
        core.metrics.observe_request(started.elapsed(), result.is_ok());
        let transition = core.breaker.record(admission, result.is_ok(), Instant::now());
        let error: CallError = match result {
            Ok(outputs) => {
                core.note(transition, None);
                for (job, output) in jobs.into_iter().zip(outputs) {
                    let _ = job.reply.send(Ok(output));
                }
                return;
            }
            Err(e) => e,
        };
        core.metrics.error(error.kind.as_str());
        core.note(transition, Some(&error));
        tracing::debug!(model = %s.name, attempt, batch = jobs.len(), error = %error, "remote model request failed");

        let retry_after = error.retry_after.map(|d| d.min(Duration::from_millis(s.retry.max_retry_after_ms)));
        if let Some(pause) = retry_after {
            core.hold_for(pause);
        }
        let wait = retry_after.unwrap_or_else(|| {
            backoff(
                attempt,
                Duration::from_millis(s.retry.initial_backoff_ms),
                Duration::from_millis(s.retry.max_backoff_ms),
            )
        });
        let retry = error.kind.retriable()
            && attempt < s.retry.max_retries
            && matches!(admission, Admission::Normal { .. })
            && !core.breaker.rejects(Instant::now())
            && Instant::now() + wait + min_budget <= deadline;
        if !retry {
            return fail_all(jobs, Failure::from_error(error.kind));
        }
        tokio::time::sleep(wait).await;
        attempt += 1;
        core.metrics.retry();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let (initial, max) = (Duration::from_millis(100), Duration::from_millis(1000));
        for _ in 0..200 {
            let b0 = backoff(0, initial, max);
            assert!(b0 >= Duration::from_millis(50) && b0 <= Duration::from_millis(100), "{b0:?}");
            let b2 = backoff(2, initial, max);
            assert!(b2 >= Duration::from_millis(200) && b2 <= Duration::from_millis(400), "{b2:?}");
            let b9 = backoff(40, initial, max);
            assert!(b9 >= Duration::from_millis(500) && b9 <= max, "{b9:?}");
        }
        let spread: std::collections::HashSet<Duration> = (0..50).map(|_| backoff(3, initial, max)).collect();
        assert!(spread.len() > 10, "jittered");
    }
}
