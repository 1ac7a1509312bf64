//! Log set-up: `tracing` events to stderr, JSON in containers and human-readable on a terminal
//! (`log.format`), filtered by `RUST_LOG` when set, else `log.level`. librdkafka's own log lines
//! arrive through the `log` bridge under the `librdkafka` target.

use crate::config::{LogFormat, LogSettings};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Later calls are ignored (tests call it more than once).
pub fn init(settings: &LogSettings) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::try_new(&settings.level).unwrap_or_else(|_| EnvFilter::new("info")));
    let json = match settings.format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ =
        if json { builder.json().flatten_event(true).with_current_span(false).try_init() } else { builder.try_init() };
}

/// A budget for warnings that can come once per message (dead letters): at most `burst` per
/// `window`, so that a misbehaving producer upstream does not turn into thousands of log lines
/// a second. Each admitted warning carries how many were left out since the previous one; the
/// metrics count every event.
#[derive(Debug)]
pub struct LogBudget {
    window: std::time::Duration,
    burst: u32,
    state: std::sync::Mutex<BudgetState>,
}

#[derive(Debug)]
struct BudgetState {
    window_start: std::time::Instant,
    admitted: u32,
    left_out: u64,
}

impl LogBudget {
    pub fn new(burst: u32, window: std::time::Duration) -> Self {
        let state = BudgetState { window_start: std::time::Instant::now(), admitted: 0, left_out: 0 };
        LogBudget { window, burst, state: std::sync::Mutex::new(state) }
    }

    /// `Some(left_out)` when this warning may be logged (`left_out`: warnings not logged since
    /// the last one that was), `None` when it is over budget.
    pub fn admit(&self) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.window_start.elapsed() >= self.window {
            state.window_start = std::time::Instant::now();
            state.admitted = 0;
        }
        if state.admitted < self.burst {
            state.admitted += 1;
            Some(std::mem::take(&mut state.left_out))
        } else {
            state.left_out += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_budget_admits_its_burst_per_window_and_counts_what_it_left_out() {
        let budget = LogBudget::new(3, Duration::from_millis(200));
        let first: Vec<Option<u64>> = (0..10).map(|_| budget.admit()).collect();
        assert_eq!(first, [Some(0), Some(0), Some(0), None, None, None, None, None, None, None]);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(budget.admit(), Some(7), "the next window's first warning reports the 7 left out");
        assert_eq!(budget.admit(), Some(0));
    }
}
