//! The embedded development broker: librdkafka's in-process mock cluster, reachable over TCP on
//! 127.0.0.1 by any Kafka client. It keeps nothing on disk and nothing across restarts: it is for
//! development, demos and tests only. Tests also use its fault injection (brokers down, request
//! errors).

use rdkafka::bindings as rd;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use std::ffi::{CStr, CString};

/// A running mock cluster. Dropping it stops the brokers.
pub struct EmbeddedBroker {
    mcluster: *mut rd::rd_kafka_mock_cluster_t,
    bootstrap: String,
    /// The client handle that owns the mock cluster (created by `test.mock.num.brokers`);
    /// declared last so it is dropped after every use of `mcluster`.
    _owner: BaseProducer,
}

// SAFETY: the mock cluster API posts operations to the cluster's own thread and is documented as
// thread-safe; the pointer stays valid for as long as `_owner` lives, which is as long as `self`.
unsafe impl Send for EmbeddedBroker {}
unsafe impl Sync for EmbeddedBroker {}

impl std::fmt::Debug for EmbeddedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBroker").field("bootstrap", &self.bootstrap).finish()
    }
}

impl EmbeddedBroker {
    /// Starts a cluster of `brokers` brokers with no group join delay (so consumers join at
    /// once) and returns when it accepts connections.
    pub fn start(brokers: i32) -> anyhow::Result<Self> {
        let owner: BaseProducer = ClientConfig::new()
            .set("test.mock.num.brokers", brokers.to_string())
            .set("log_level", "3")
            .create()
            .map_err(|e| anyhow::anyhow!("cannot start the embedded broker: {e}"))?;
        // SAFETY: `owner` is a live client created with test.mock.num.brokers, so it owns a mock
        // cluster; the returned pointers live as long as `owner`.
        let (mcluster, bootstrap) = unsafe {
            let mcluster = rd::rd_kafka_handle_mock_cluster(owner.client().native_ptr());
            anyhow::ensure!(!mcluster.is_null(), "librdkafka did not create a mock cluster");
            rd::rd_kafka_mock_group_initial_rebalance_delay_ms(mcluster, 0);
            let bootstrap =
                CStr::from_ptr(rd::rd_kafka_mock_cluster_bootstraps(mcluster)).to_string_lossy().into_owned();
            (mcluster, bootstrap)
        };
        Ok(EmbeddedBroker { mcluster, bootstrap, _owner: owner })
    }

    /// The `bootstrap.servers` string for clients.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// Creates a topic (idempotent: an existing topic is left as it is).
    pub fn create_topic(&self, topic: &str, partitions: i32) -> anyhow::Result<()> {
        let name = CString::new(topic)?;
        // SAFETY: valid cluster pointer and NUL-terminated name.
        let err = unsafe { rd::rd_kafka_mock_topic_create(self.mcluster, name.as_ptr(), partitions, 1) };
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR | RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS => {
                Ok(())
            }
            e => anyhow::bail!("cannot create topic {topic}: {e:?}"),
        }
    }

    /// Takes broker `id` (1-based) down: its connections are closed and it accepts none.
    pub fn broker_down(&self, id: i32) {
        // SAFETY: valid cluster pointer.
        unsafe { rd::rd_kafka_mock_broker_set_down(self.mcluster, id) };
    }

    /// Brings broker `id` back up.
    pub fn broker_up(&self, id: i32) {
        // SAFETY: valid cluster pointer.
        unsafe { rd::rd_kafka_mock_broker_set_up(self.mcluster, id) };
    }

    /// Makes the next `errors.len()` requests of kind `api` fail with these errors, in order.
    pub fn push_request_errors(&self, api: RDKafkaApiKey, errors: &[RDKafkaRespErr]) {
        // SAFETY: valid cluster pointer; the array is read during the call only.
        unsafe {
            rd::rd_kafka_mock_push_request_errors_array(self.mcluster, api as i16, errors.len(), errors.as_ptr())
        };
    }

    /// Delays the broker's responses to the next `count` requests of kind `api` by `rtt_ms` each
    /// (they still succeed): a slow broker for that kind of request only.
    pub fn delay_requests(&self, broker: i32, api: RDKafkaApiKey, count: usize, rtt_ms: i32) {
        for _ in 0..count {
            // SAFETY: valid cluster pointer; the variadic arguments are one (error, rtt) pair as
            // the count says.
            unsafe {
                rd::rd_kafka_mock_broker_push_request_error_rtts(
                    self.mcluster,
                    broker,
                    api as i16,
                    1,
                    RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR,
                    rtt_ms as std::ffi::c_int,
                );
            }
        }
    }
}
