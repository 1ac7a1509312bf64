//! A circuit breaker over requests to the model server.
//!
//! - **Closed**: requests flow; `failure_threshold` consecutive failures open it.
//! - **Open**: no request is sent; every article uses the built-in model at once. After
//!   `open_ms` the next request is let through as a probe (half-open).
//! - **Half-open**: one probe request at a time, others rejected. `half_open_probes` successful
//!   probes in a row close it; a failed probe re-opens it for another `open_ms`.
//!
//! Only results of requests admitted in the current state count: a slow success admitted while
//! closed cannot close a breaker that opened meanwhile, nor a late failure re-open it.
//! Time is passed in, so the state machine is tested without sleeping.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The breaker's state, as exported on `news_enricher_remote_breaker_state` (0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed = 0,
    Open = 1,
    HalfOpen = 2,
}

/// Permission to send one request, to be reported back with [`Breaker::record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// A request while closed.
    Normal { epoch: u64 },
    /// The half-open probe.
    Probe { epoch: u64 },
}

/// A state change worth a log line and a gauge update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: BreakerState,
    pub to: BreakerState,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    /// Bumped on every state change; admissions of an older epoch no longer count.
    epoch: u64,
    consecutive_failures: u32,
    open_until: Instant,
    probe_in_flight: bool,
    probe_successes: u32,
}

#[derive(Debug)]
pub struct Breaker {
    failure_threshold: u32,
    open_for: Duration,
    probes_to_close: u32,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub fn new(failure_threshold: u32, open_for: Duration, probes_to_close: u32) -> Self {
        Breaker {
            failure_threshold: failure_threshold.max(1),
            open_for,
            probes_to_close: probes_to_close.max(1),
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                epoch: 0,
                consecutive_failures: 0,
                open_until: Instant::now(),
                probe_in_flight: false,
                probe_successes: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn state(&self) -> BreakerState {
        self.lock().state
    }

    /// Whether a request asked for now would certainly be refused: open and not yet due for a
    /// probe, or half-open with the probe already out. Lets callers skip queueing.
    pub fn rejects(&self, now: Instant) -> bool {
        let inner = self.lock();
        match inner.state {
            BreakerState::Closed => false,
            BreakerState::Open => now < inner.open_until,
            BreakerState::HalfOpen => inner.probe_in_flight,
        }
    }

    /// Asks to send a request now. `None`: refused (the breaker is open, or the probe is out).
    pub fn admit(&self, now: Instant) -> (Option<Admission>, Option<Transition>) {
        let mut inner = self.lock();
        match inner.state {
            BreakerState::Closed => (Some(Admission::Normal { epoch: inner.epoch }), None),
            BreakerState::Open if now < inner.open_until => (None, None),
            BreakerState::Open => {
                inner.state = BreakerState::HalfOpen;
                inner.epoch += 1;
                inner.probe_in_flight = true;
                inner.probe_successes = 0;
                let t = Transition { from: BreakerState::Open, to: BreakerState::HalfOpen };
                (Some(Admission::Probe { epoch: inner.epoch }), Some(t))
            }
            BreakerState::HalfOpen if inner.probe_in_flight => (None, None),
            BreakerState::HalfOpen => {
                inner.probe_in_flight = true;
                (Some(Admission::Probe { epoch: inner.epoch }), None)
            }
        }
    }

    /// Reports the outcome of an admitted request.
    pub fn record(&self, admission: Admission, success: bool, now: Instant) -> Option<Transition> {
        let mut inner = self.lock();
        match admission {
            Admission::Normal { epoch } if epoch == inner.epoch && inner.state == BreakerState::Closed => {
                if success {
                    inner.consecutive_failures = 0;
                    None
                } else {
                    inner.consecutive_failures += 1;
                    (inner.consecutive_failures >= self.failure_threshold).then(|| self.open(&mut inner, now))
                }
            }
            Admission::Probe { epoch } if epoch == inner.epoch && inner.state == BreakerState::HalfOpen => {
                inner.probe_in_flight = false;
                if !success {
                    return Some(self.open(&mut inner, now));
                }
                inner.probe_successes += 1;
                (inner.probe_successes >= self.probes_to_close).then(|| {
                    inner.state = BreakerState::Closed;
                    inner.epoch += 1;
                    inner.consecutive_failures = 0;
                    Transition { from: BreakerState::HalfOpen, to: BreakerState::Closed }
                })
            }
            // Admitted in an earlier state: its outcome says nothing about the current one.
            _ => None,
        }
    }

    fn open(&self, inner: &mut Inner, now: Instant) -> Transition {
        let from = inner.state;
        inner.state = BreakerState::Open;
        inner.epoch += 1;
        inner.open_until = now + self.open_for;
        inner.probe_in_flight = false;
        inner.consecutive_failures = 0;
        Transition { from, to: BreakerState::Open }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: Duration = Duration::from_secs(5);

    fn fail(b: &Breaker, now: Instant) -> Option<Transition> {
        let (a, _) = b.admit(now);
        b.record(a.expect("admitted"), false, now)
    }

    #[test]
    fn opens_after_consecutive_failures_only() {
        let b = Breaker::new(3, OPEN, 1);
        let t0 = Instant::now();
        assert_eq!(fail(&b, t0), None);
        assert_eq!(fail(&b, t0), None);
        // A success resets the count.
        let (a, _) = b.admit(t0);
        assert_eq!(b.record(a.unwrap(), true, t0), None);
        assert_eq!(fail(&b, t0), None);
        assert_eq!(fail(&b, t0), None);
        assert_eq!(fail(&b, t0), Some(Transition { from: BreakerState::Closed, to: BreakerState::Open }));
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.rejects(t0));
        assert_eq!(b.admit(t0 + Duration::from_secs(4)).0, None);
    }

    #[test]
    fn half_open_probe_closes_or_reopens() {
        let b = Breaker::new(1, OPEN, 2);
        let t0 = Instant::now();
        fail(&b, t0);
        let t1 = t0 + OPEN;
        assert!(!b.rejects(t1), "due for a probe");
        let (probe, t) = b.admit(t1);
        assert_eq!(t, Some(Transition { from: BreakerState::Open, to: BreakerState::HalfOpen }));
        let probe = probe.unwrap();
        assert!(matches!(probe, Admission::Probe { .. }));
        // One probe at a time.
        assert!(b.rejects(t1));
        assert_eq!(b.admit(t1).0, None);
        // First success: still half-open (two needed).
        assert_eq!(b.record(probe, true, t1), None);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.admit(t1).0.unwrap();
        assert_eq!(
            b.record(probe, true, t1),
            Some(Transition { from: BreakerState::HalfOpen, to: BreakerState::Closed })
        );
        assert!(matches!(b.admit(t1).0, Some(Admission::Normal { .. })));

        // A failed probe re-opens for another period.
        fail(&b, t1);
        let t2 = t1 + OPEN;
        let probe = b.admit(t2).0.unwrap();
        assert_eq!(
            b.record(probe, false, t2),
            Some(Transition { from: BreakerState::HalfOpen, to: BreakerState::Open })
        );
        assert!(b.rejects(t2 + OPEN - Duration::from_millis(1)));
        assert!(!b.rejects(t2 + OPEN));
    }

    #[test]
    fn outcomes_from_an_earlier_state_are_ignored() {
        let b = Breaker::new(1, OPEN, 1);
        let t0 = Instant::now();
        let slow = b.admit(t0).0.unwrap();
        fail(&b, t0);
        assert_eq!(b.state(), BreakerState::Open);
        // The slow request admitted while closed succeeds late: the breaker stays open.
        assert_eq!(b.record(slow, true, t0), None);
        assert_eq!(b.state(), BreakerState::Open);
        // And a late failure does not extend the open period.
        let t1 = t0 + OPEN;
        assert_eq!(b.record(slow, false, t1), None);
        assert!(!b.rejects(t1));
    }
}
