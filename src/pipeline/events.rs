//! librdkafka's logs and error callbacks turned into our log events: one line per state change
//! (brokers lost, brokers back), not one per failed connection attempt. Shared by the consumer and
//! the producer contexts.

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use std::sync::atomic::{AtomicBool, Ordering};

/// Connection state as seen through librdkafka's callbacks.
#[derive(Debug)]
pub struct BrokerHealth {
    down: AtomicBool,
}

impl Default for BrokerHealth {
    fn default() -> Self {
        BrokerHealth { down: AtomicBool::new(false) }
    }
}

impl BrokerHealth {
    pub fn is_up(&self) -> bool {
        !self.down.load(Ordering::Relaxed)
    }

    /// Called when traffic flows (a message consumed or a delivery acknowledged).
    /// Also called when librdkafka's statistics show a broker connection up, so that an idle
    /// worker (no partitions, a quiet topic) recovers from an outage without traffic.
    pub fn reachable(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!("broker connection restored");
        }
    }

    /// librdkafka's error callback, for either client. Returns a reason when the error is fatal.
    pub fn on_error(&self, client: &str, error: &KafkaError, reason: &str) -> Option<String> {
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::AllBrokersDown) => {
                if !self.down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(client, %reason, "all brokers are unreachable; retrying with backoff (nothing is lost, work resumes when they are back)");
                }
                None
            }
            Some(RDKafkaErrorCode::Fatal) => Some(format!("fatal {client} error: {reason}")),
            // Wrong credentials do not heal by retrying: stop (exit 1, nothing committed that
            // was not done) so the failure is visible as a crash loop, not a quiet stall.
            Some(RDKafkaErrorCode::Authentication) => Some(format!(
                "{client}: authentication with the broker failed (check kafka.properties: sasl.*, ssl.*): {reason}"
            )),
            // Connection attempts failing while brokers are down: already reported as a state.
            Some(RDKafkaErrorCode::BrokerTransportFailure | RDKafkaErrorCode::Resolve) => {
                tracing::debug!(client, %error, %reason, "broker connection problem");
                None
            }
            _ => {
                tracing::warn!(client, %error, %reason, "Kafka client error");
                None
            }
        }
    }
}

/// Forwards a librdkafka log line. Connection failures are logged by librdkafka at error level
/// on every retry; they are reported once as a state change instead, so they go to debug here.
pub fn forward_log(level: RDKafkaLogLevel, facility: &str, message: &str) {
    let noisy = matches!(facility, "FAIL" | "ERROR" | "BRKMAIN" | "CONNECT");
    match level {
        _ if noisy => tracing::debug!(target: "librdkafka", facility, "{message}"),
        RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
            tracing::error!(target: "librdkafka", facility, "{message}")
        }
        RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", facility, "{message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => tracing::info!(target: "librdkafka", facility, "{message}"),
        RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", facility, "{message}"),
    }
}

/// The first fatal error, set once from any thread or callback; the worker stops when it is set.
#[derive(Debug, Default)]
pub struct FatalLatch {
    reason: std::sync::Mutex<Option<String>>,
    notify: tokio::sync::Notify,
}

impl FatalLatch {
    /// Records `reason` unless a fatal error was already recorded.
    pub fn set(&self, reason: String) {
        let mut slot = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            tracing::error!(%reason, "fatal error; stopping without committing unacknowledged work");
            *slot = Some(reason);
        }
        drop(slot);
        self.notify.notify_waiters();
    }

    pub fn reason(&self) -> Option<String> {
        self.reason.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn is_set(&self) -> bool {
        self.reason.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Resolves once a fatal error is recorded.
    pub async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_set() {
                return;
            }
            notified.await;
        }
    }
}

/// The producer's librdkafka context: errors and logs only.
pub struct ProducerEvents {
    pub health: std::sync::Arc<BrokerHealth>,
    pub fatal: std::sync::Arc<FatalLatch>,
}

impl rdkafka::ClientContext for ProducerEvents {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        forward_log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if let Some(fatal) = self.health.on_error("producer", &error, reason) {
            self.fatal.set(fatal);
        }
    }
}
