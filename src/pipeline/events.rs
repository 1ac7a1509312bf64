//! What the worker's Kafka clients report, turned into state and log events: librdkafka's logs
//! and error callbacks as one line per state change (brokers lost, brokers back), not one per
//! failed connection attempt; [`BrokerHealth`] (reachability and authentication, for readiness);
//! [`FatalLatch`] (the first fatal error, which stops the worker); and the contexts that feed
//! them ([`ProducerEvents`], [`TopicCheckContext`]). Shared by the consumer and the producer.

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long authentication may keep failing, with no sign of a working connection, before the
/// worker stops. librdkafka also reports passing failures as authentication errors (a token
/// refresh that failed once while the current token is still valid, a handshake cut by a broker
/// restart, credentials not yet on a new broker); this outlasts its reconnect backoff (10 s),
/// the token retry (10 s) and the statistics that show a connection up (5 s).
pub const AUTHENTICATION_GRACE: Duration = Duration::from_secs(30);

/// Connection state as seen through librdkafka's callbacks.
#[derive(Debug)]
pub struct BrokerHealth {
    down: AtomicBool,
    /// Since when authentication fails, and librdkafka's first reason.
    authentication_failing: Mutex<Option<(Instant, String)>>,
    /// Whether `authentication_failing` is set: [`BrokerHealth::reachable`] runs for every
    /// message, and only takes the lock when there is something to clear.
    authentication_failed: AtomicBool,
}

impl Default for BrokerHealth {
    fn default() -> Self {
        BrokerHealth {
            down: AtomicBool::new(false),
            authentication_failing: Mutex::new(None),
            authentication_failed: AtomicBool::new(false),
        }
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
        if self.authentication_failed.swap(false, Ordering::Relaxed)
            && self.authentication_failing.lock().unwrap_or_else(|p| p.into_inner()).take().is_some()
        {
            tracing::info!("authentication with the broker works again");
        }
    }

    /// Called when librdkafka's statistics list brokers and none is connected: the brokers are
    /// down even if the one-off "all brokers down" event was missed or followed by stale
    /// statistics.
    pub fn unreachable(&self) {
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "no broker connection is up; retrying with backoff (nothing is lost, work resumes when they are back)"
            );
        }
    }

    /// The reason to stop when authentication has failed for `grace` ([`AUTHENTICATION_GRACE`])
    /// with no working connection since.
    pub fn authentication_failing_for(&self, grace: Duration) -> Option<String> {
        let failing = self.authentication_failing.lock().unwrap_or_else(|p| p.into_inner());
        failing.as_ref().filter(|(since, _)| since.elapsed() >= grace).map(|(since, reason)| {
            format!("authentication with the broker failing for {} s: {reason}", since.elapsed().as_secs())
        })
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
            // Wrong credentials do not heal by retrying: once the failure outlasts
            // AUTHENTICATION_GRACE the watchdog stops the worker (exit 1, nothing committed that
            // was not done), so it shows as a crash loop, not a quiet stall.
            Some(RDKafkaErrorCode::Authentication) => {
                let mut failing = self.authentication_failing.lock().unwrap_or_else(|p| p.into_inner());
                if failing.is_none() {
                    tracing::error!(client, %reason, grace_secs = AUTHENTICATION_GRACE.as_secs(),
                        "authentication with the broker failed (check kafka.properties: sasl.*, ssl.*); stopping unless it recovers");
                    *failing = Some((Instant::now(), format!("{client}: {reason}")));
                }
                self.authentication_failed.store(true, Ordering::Relaxed);
                None
            }
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

/// The context of the short-lived clients of the topic check (`check_topics`), which reports
/// what it finds itself. librdkafka's logs are forwarded as the worker's are ([`forward_log`]);
/// its errors (every failed connection, "all brokers down") go to debug and statistics are
/// dropped. rdkafka's default context logged each error at error level and each statistics
/// report in full at info: two hundred lines at start-up when the brokers did not answer.
pub struct TopicCheckContext;

impl rdkafka::ClientContext for TopicCheckContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        forward_log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(target: "librdkafka", %error, reason, "topic check client error");
    }

    fn stats_raw(&self, _statistics: &[u8]) {}
}

impl rdkafka::consumer::ConsumerContext for TopicCheckContext {}

impl rdkafka::producer::ProducerContext for TopicCheckContext {
    type DeliveryOpaque = ();

    // The check sends nothing.
    fn delivery(&self, _: &rdkafka::message::DeliveryResult<'_>, _: ()) {}
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

#[cfg(test)]
mod tests {
    use super::*;

    fn authentication_error() -> KafkaError {
        KafkaError::Global(RDKafkaErrorCode::Authentication)
    }

    #[test]
    fn an_authentication_failure_stops_only_if_no_connection_works_since() {
        let health = BrokerHealth::default();
        assert_eq!(health.on_error("consumer", &authentication_error(), "SASL handshake failed"), None);
        assert_eq!(health.authentication_failing_for(Duration::from_secs(3600)), None, "within the grace");
        let reason = health.authentication_failing_for(Duration::ZERO).expect("past the grace");
        assert!(reason.contains("consumer: SASL handshake failed"), "{reason}");
        // A working connection (traffic, statistics showing a broker up) ends the failure.
        health.reachable();
        assert_eq!(health.authentication_failing_for(Duration::ZERO), None);
    }

    #[test]
    fn statistics_without_a_connection_mark_the_brokers_down_once() {
        let health = BrokerHealth::default();
        health.unreachable();
        health.unreachable();
        assert!(!health.is_up());
        health.reachable();
        assert!(health.is_up());
    }
}
