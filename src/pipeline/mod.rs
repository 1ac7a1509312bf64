//! The Kafka worker: consume → decode → enrich → produce, at least once, in a consumer group.
//!
//! - [`consumer`]: the consumer thread (poll, dispatch, backpressure, rebalance, close).
//! - [`partition`]: one task per partition, ordered produce and the contiguous offset watermark.
//! - [`output`]: output records, DLQ records and headers, delivery and error classification.
//! - [`stats`]: counters for the summary, tests and metrics.
//! - [`events`]: the clients' contexts — librdkafka logs and errors as our log events, broker
//!   health, and the latch that stops the worker on a fatal error.
//! - [`record_headers`]: record headers read as bytes, and the input headers passed on.
//!
//! Delivery contract: an input offset is stored (and later auto-committed) only after every
//! record produced for it, and for every lower offset of its partition, is acknowledged by the
//! broker (`acks=all`, idempotent producer). Offsets are committed synchronously on revoke and on
//! shutdown. A crash therefore re-processes at most the uncommitted tail: duplicates, never loss.

pub mod consumer;
pub mod events;
pub mod output;
mod partition;
pub use partition::MAX_HEADERS;
pub mod record_headers;
pub mod stats;

use crate::config::{canonical_property_name, Settings};
use crate::enrich::Enricher;
use consumer::WorkerContext;
use output::Topics;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::Message;
use stats::Stats;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

/// (topic, partition).
pub type PartitionKey = (Arc<str>, i32);

/// Of the shutdown budget (`kafka.shutdown_timeout_secs`), what waiting for unfinished work
/// leaves for what follows when the deadline passes with work in flight: dropping that work as
/// the process exits, which closes the consumer (its revoke callback, leaving the group) and the
/// producer (a purge, its polling thread). At most a tenth of the budget. Without it the process
/// exited about 0.4 s after a 5 s budget.
const SHUTDOWN_EXIT_RESERVE: Duration = Duration::from_millis(500);

/// Dead-letter warnings logged per minute at most; the rest are counted in the next one logged
/// (`warnings_left_out`) and all in `news_enricher_dlq_records_total`.
pub const MESSAGE_WARNINGS_PER_MINUTE: u32 = 20;

/// What a message counts against `kafka.max_in_flight_bytes`: its key, payload and headers. Its records
/// waiting for acknowledgement (the enriched record, routes, librdkafka's copies) are a small
/// multiple of it.
pub(crate) fn message_bytes(message: &OwnedMessage) -> usize {
    let headers = message.headers().map_or(0, record_headers::byte_size);
    message.payload().map_or(0, <[u8]>::len) + message.key().map_or(0, <[u8]>::len) + headers
}

/// Whether the work loop still dispatches what it polls (see [`Shared::store_idle_positions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intake {
    Running,
    Stopped,
}

/// Whether a partition's position may be stored as done (see [`Shared::store_idle_positions`]):
/// nothing of it in flight and no message of it polled but not dispatched; without a slot (no
/// message of it dispatched in this assignment), only while the work loop dispatches and unless
/// it was released with work unfinished.
fn is_idle(
    slots: &HashMap<PartitionKey, PartitionSlot>,
    abandoned: &HashSet<PartitionKey>,
    key: &PartitionKey,
    intake: Intake,
) -> bool {
    match slots.get(key) {
        Some(slot) => slot.in_flight == 0 && !slot.undispatched,
        None => intake == Intake::Running && !abandoned.contains(key),
    }
}

/// Per-partition bookkeeping, owned by [`Shared::partitions`].
struct PartitionSlot {
    /// Distinguishes this assignment of the partition from earlier ones, so a task left over
    /// from a previous assignment never stores an offset into the new one.
    generation: u64,
    /// Feeds the partition task; `None` once the partition is being released.
    sender: Option<UnboundedSender<OwnedMessage>>,
    /// Messages dispatched and not yet completed.
    in_flight: usize,
    /// Whether a message of this partition was polled and not dispatched (see
    /// [`Shared::store_idle_positions`]).
    undispatched: bool,
    /// Timestamps (ms since the epoch) of those messages, oldest first: completions come in
    /// offset order, so the front is always the oldest unprocessed message.
    pending_timestamps: VecDeque<i64>,
}

/// State shared by the consumer thread, the partition tasks and the callbacks.
pub struct Shared {
    /// Replaced by a taxonomy reload (`crate::reload`).
    pub(crate) enricher: crate::enrich::CurrentEnricher,
    /// The remote models when `[sentiment.remote]` and/or `[taxonomy.remote]` are configured
    /// and enabled; the partition tasks hand each enriched article to them before routing (see
    /// `partition::enrich`).
    pub(crate) remote: Option<crate::remote::Remote>,
    pub(crate) topics: Topics,
    pub(crate) producer: FutureProducer<events::ProducerEvents>,
    pub(crate) health: Arc<events::BrokerHealth>,
    pub(crate) decoding: crate::article::Decoding,
    pub(crate) processing: Processing,
    pub(crate) max_in_flight: usize,
    pub(crate) max_in_flight_bytes: usize,
    pub(crate) drain_timeout: Duration,
    shutdown_timeout: Duration,
    pub stats: Stats,
    /// Budget of the warnings logged per message (dead letters): [`MESSAGE_WARNINGS_PER_MINUTE`].
    pub(crate) message_warnings: crate::telemetry::logging::LogBudget,
    partitions: Mutex<HashMap<PartitionKey, PartitionSlot>>,
    /// Signalled whenever a partition's in-flight count drops.
    progress: Condvar,
    in_flight: AtomicUsize,
    /// Key, payload and header bytes of the messages in flight ([`message_bytes`]).
    in_flight_bytes: AtomicUsize,
    next_generation: AtomicU64,
    stop: AtomicBool,
    shutdown_started: Mutex<Option<Instant>>,
    fatal: Arc<events::FatalLatch>,
    /// Partitions currently assigned (maintained by the rebalance callbacks).
    owned: Mutex<HashSet<PartitionKey>>,
    /// Partitions released with work unfinished, until a message of theirs is dispatched again:
    /// librdkafka resets a released partition's position asynchronously, so if one came back
    /// before that, its position could still be past the abandoned work (see
    /// [`Shared::store_idle_positions`]). Locked after `slots`.
    abandoned: Mutex<HashSet<PartitionKey>>,
    /// Consumer lag in offsets per owned partition, from librdkafka statistics.
    lag: Mutex<HashMap<PartitionKey, i64>>,
    /// When (ms since the epoch) the watchdog first saw each owned partition with lag and
    /// nothing in flight, while that lasts: its next message was in the log by then.
    behind_since: Mutex<HashMap<PartitionKey, i64>>,
    /// Partitions whose log, by librdkafka's last statistics, starts past the group's committed
    /// offset, with that log start (see [`Shared::store_log_starts`]).
    start_past_commit: Mutex<HashMap<PartitionKey, i64>>,
    /// Log starts stored by [`Shared::store_log_starts`] for partitions owned since: a later
    /// store of an idle partition's position never goes below them (librdkafka leaves the
    /// position at the last record read when it resets to the log start).
    stored_log_starts: Mutex<HashMap<PartitionKey, i64>>,
    /// Whether the consumer is in the group: it received an assignment (possibly empty) and has
    /// not lost it since.
    joined: AtomicBool,
    /// Whether the consumer lost its partitions (session timeout, fenced) since it first joined:
    /// while it rejoins, readiness says so rather than "not joined yet".
    lost_membership: AtomicBool,
    /// When the worker last completed a message or got an assignment.
    last_progress: Mutex<Instant>,
    /// Readiness as last computed by the watchdog.
    ready: AtomicBool,
    stalled: AtomicBool,
    stall_timeout: Duration,
    /// `http.stall_exit_secs`: how long a stall may last before the worker stops; `None`: never.
    stall_exit: Option<Duration>,
}

impl Shared {
    /// Messages dispatched and not yet completed, over all partitions.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Key, payload and header bytes of the messages in flight ([`message_bytes`]).
    pub fn in_flight_bytes(&self) -> usize {
        self.in_flight_bytes.load(Ordering::Acquire)
    }

    /// Whether either in-flight bound (`kafka.max_in_flight`, `kafka.max_in_flight_bytes`) is
    /// reached. One message always fits, however large.
    pub(crate) fn in_flight_full(&self) -> bool {
        self.in_flight() >= self.max_in_flight || self.in_flight_bytes() >= self.max_in_flight_bytes
    }

    /// Whether paused intake may resume: both measures down to half their bound.
    pub(crate) fn in_flight_low(&self) -> bool {
        self.in_flight() <= self.max_in_flight / 2 && self.in_flight_bytes() <= self.max_in_flight_bytes / 2
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire) || self.fatal.is_set()
    }

    pub(crate) fn failed(&self) -> bool {
        self.fatal.is_set()
    }

    fn request_stop(&self) {
        self.shutdown_started.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(Instant::now);
        self.stop.store(true, Ordering::Release);
        self.mark_not_ready();
    }

    /// Readiness goes at once when the worker starts stopping: the watchdog no longer runs,
    /// and a stopping worker must not be sent traffic or counted as healthy.
    fn mark_not_ready(&self) {
        self.ready.store(false, Ordering::Release);
        self.stats.set_health(false, self.stalled.load(Ordering::Acquire), self.health.is_up());
    }

    pub(crate) fn shutdown_deadline(&self) -> Instant {
        let started = *self.shutdown_started.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(Instant::now);
        started + self.shutdown_timeout
    }

    /// When waiting for unfinished work at shutdown (for partition tasks to let go of the
    /// consumer, for the producer's flush) ends: [`SHUTDOWN_EXIT_RESERVE`] before the deadline.
    pub(crate) fn exit_deadline(&self) -> Instant {
        let deadline = self.shutdown_deadline();
        deadline.checked_sub(SHUTDOWN_EXIT_RESERVE.min(self.shutdown_timeout / 10)).unwrap_or(deadline)
    }

    /// Records a fatal error (the first one wins) and stops the worker.
    pub(crate) fn fail(&self, reason: String) {
        self.fatal.set(reason);
        self.mark_not_ready();
        self.progress.notify_all();
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<PartitionKey, PartitionSlot>> {
        self.partitions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends a consumed message to its partition's task, starting the task on first use.
    pub(crate) fn dispatch(
        self: &Arc<Self>,
        message: OwnedMessage,
        consumer: &Arc<BaseConsumer<WorkerContext>>,
        runtime: &tokio::runtime::Handle,
    ) {
        self.stats.record_consumed(message.topic());
        let key: PartitionKey = (message.topic().into(), message.partition());
        let timestamp = message.timestamp().to_millis().unwrap_or_else(now_millis);
        let mut slots = self.slots();
        if !slots.contains_key(&key) {
            self.abandoned.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
        }
        let slot = slots.entry(key.clone()).or_insert_with(|| PartitionSlot {
            generation: self.next_generation.fetch_add(1, Ordering::Relaxed),
            sender: None,
            in_flight: 0,
            undispatched: false,
            pending_timestamps: VecDeque::new(),
        });
        let sender = slot.sender.get_or_insert_with(|| {
            let (tx, rx) = unbounded_channel();
            runtime.spawn(partition::run(self.clone(), consumer.clone(), key.clone(), slot.generation, rx));
            tx
        });
        let bytes = message_bytes(&message);
        if sender.send(message).is_ok() {
            slot.in_flight += 1;
            slot.pending_timestamps.push_back(timestamp);
            self.in_flight.fetch_add(1, Ordering::AcqRel);
            self.in_flight_bytes.fetch_add(bytes, Ordering::AcqRel);
        } else {
            // The partition's task is gone (it panicked): the message would be skipped.
            slot.undispatched = true;
            drop(slots);
            self.fail(format!(
                "the task of partition {}[{}] is gone; stopping rather than skipping a message",
                key.0, key.1
            ));
        }
    }

    /// Whether the partition is still this worker's in the assignment `generation` belongs to.
    /// Once it is released (revoked, lost, or forgotten at shutdown) its next owner re-processes
    /// what was unfinished here: whatever this worker wrote for it from then on could land after
    /// that owner's records for the same keys.
    pub(crate) fn is_current(&self, key: &PartitionKey, generation: u64) -> bool {
        self.slots().get(key).is_some_and(|slot| slot.generation == generation)
    }

    /// Marks one message done; stores its offset when `store` and the partition is still ours
    /// in the same assignment. Called in offset order per partition.
    pub(crate) fn complete(
        &self,
        consumer: &BaseConsumer<WorkerContext>,
        key: &PartitionKey,
        generation: u64,
        offset: i64,
        bytes: usize,
        store: bool,
    ) {
        let mut slots = self.slots();
        if let Some(slot) = slots.get_mut(key).filter(|s| s.generation == generation) {
            let timestamp = slot.pending_timestamps.pop_front();
            if store && !self.failed() {
                consumer::store(consumer, key, offset);
                self.health.reachable();
                if let Some(ts) = timestamp {
                    self.stats
                        .observe_article_age(Duration::from_millis(now_millis().saturating_sub(ts).max(0) as u64));
                }
            }
            slot.in_flight = slot.in_flight.saturating_sub(1);
        }
        drop(slots);
        self.note_progress();
        self.in_flight_bytes.fetch_sub(bytes, Ordering::AcqRel);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.progress.notify_all();
    }

    /// Stores the consumer's position (the offset after the last record it returned, or the log
    /// start [`Shared::store_log_starts`] stored, if that is further) for each
    /// partition this worker is working on that has nothing in flight: what lies between that
    /// and the last stored offset are records the consumer skips (transaction markers, aborted
    /// records under `read_committed`). Without this, a partition of a transactional producer
    /// stays committed one short of its end when it goes quiet: lag 1 for ever, a stall alert,
    /// a re-read on restart. Runs on the consumer thread, so every message a poll returned to
    /// the work loop was dispatched and is counted in its partition's slot (one is made by the
    /// first message dispatched in an assignment).
    ///
    /// `Intake::Running` (the work loop and a revocation outside shutdown) also stores owned
    /// partitions without a slot: no message of theirs was returned in this assignment, so a
    /// position past the committed offset passed only skipped records (a previous owner died
    /// between its last article and the marker after it) — except partitions this worker
    /// released with work unfinished, until a message of theirs is dispatched again.
    /// `Intake::Stopped` (shutdown) stores only partitions with a slot: the shutdown path
    /// forgets slots while messages may still be unfinished, and partitions assigned during a
    /// shutdown have messages polled but never dispatched; a slot that saw a message polled and
    /// not dispatched is never stored from here.
    pub(crate) fn store_idle_positions(&self, consumer: &BaseConsumer<WorkerContext>, intake: Intake) {
        let Ok(positions) = consumer.position() else { return };
        let log_starts = self.stored_log_starts.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut idle = rdkafka::TopicPartitionList::new();
        {
            let owned = self.owned.lock().unwrap_or_else(|p| p.into_inner());
            let slots = self.slots();
            let abandoned = self.abandoned.lock().unwrap_or_else(|p| p.into_inner());
            // Checked under the slots lock: a fatal delivery fails the worker before its
            // completion (which takes this lock) makes the partition look idle.
            if self.failed() {
                return;
            }
            for element in positions.elements() {
                let rdkafka::Offset::Offset(position) = element.offset() else { continue };
                let key: PartitionKey = (element.topic().into(), element.partition());
                if owned.contains(&key) && is_idle(&slots, &abandoned, &key, intake) {
                    let position = log_starts.get(&key).map_or(position, |&start| position.max(start));
                    let _ = idle.add_partition_offset(
                        element.topic(),
                        element.partition(),
                        rdkafka::Offset::Offset(position),
                    );
                }
            }
        }
        if idle.count() > 0 {
            if let Err(e) = consumer.store_offsets(&idle) {
                tracing::debug!(error = %e, "positions of idle partitions not stored");
            }
        }
    }

    /// Stores the log start of idle partitions whose records past the committed offset were
    /// deleted before this worker read them (retention, a deletion of records). librdkafka
    /// resets such a partition to its log start, but stores nothing until a record is read
    /// there, so on a partition that receives none the committed offset stayed behind the log
    /// start for good: lag for the group's monitors and the stall check, though nothing is left
    /// to read. Storing the log start claims only records that no longer exist.
    ///
    /// librdkafka's statistics name the candidates; the log start stored is the leader's answer
    /// to a query made here, so a broker's report in a fetch response is never trusted alone.
    /// Runs on the consumer thread in the work loop (which is what dispatches messages, so an
    /// idle partition stays idle meanwhile); the queries take at most `timeout` in all.
    pub(crate) fn store_log_starts(&self, consumer: &BaseConsumer<WorkerContext>, timeout: Duration) {
        let candidates: Vec<(PartitionKey, i64)> = {
            let past = self.start_past_commit.lock().unwrap_or_else(|p| p.into_inner());
            if past.is_empty() {
                return;
            }
            past.iter().map(|(key, start)| (key.clone(), *start)).collect()
        };
        let Ok(positions) = consumer.position() else { return };
        let position_of = |key: &PartitionKey| {
            positions.find_partition(&key.0, key.1).and_then(|e| match e.offset() {
                rdkafka::Offset::Offset(position) => Some(position),
                _ => None,
            })
        };
        let mut stores = rdkafka::TopicPartitionList::new();
        let deadline = Instant::now() + timeout;
        for (key, start) in candidates {
            let position = position_of(&key);
            if position.is_some_and(|position| position >= start) || !self.owned_and_idle(&key) {
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // Asked once per statistics report (which notes the candidate again), so brokers
            // that do not answer hold up the work loop for at most `timeout` every few seconds.
            self.start_past_commit.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
            let Ok((log_start, _)) = consumer.fetch_watermarks(&key.0, key.1, left) else { continue };
            if log_start >= start && position.is_none_or(|position| log_start > position) {
                tracing::info!(topic = %key.0, partition = key.1, log_start,
                    "records past the committed offset were deleted before they were read: committing from the log start");
                let _ = stores.add_partition_offset(&key.0, key.1, rdkafka::Offset::Offset(log_start));
                self.stored_log_starts.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone(), log_start);
            }
        }
        if stores.count() > 0 {
            if let Err(e) = consumer.store_offsets(&stores) {
                tracing::debug!(error = %e, "log starts not stored");
            }
        }
    }

    /// Whether `key` is owned and idle in the work loop (see [`is_idle`]).
    fn owned_and_idle(&self, key: &PartitionKey) -> bool {
        let owned = self.owned.lock().unwrap_or_else(|p| p.into_inner());
        let slots = self.slots();
        let abandoned = self.abandoned.lock().unwrap_or_else(|p| p.into_inner());
        owned.contains(key) && !self.failed() && is_idle(&slots, &abandoned, key, Intake::Running)
    }

    /// Notes a message polled but not dispatched (while draining for shutdown): its partition's
    /// position is past it, so that position must never be stored.
    pub(crate) fn not_dispatched(&self, message: &rdkafka::message::BorrowedMessage<'_>) {
        let key: PartitionKey = (message.topic().into(), message.partition());
        if let Some(slot) = self.slots().get_mut(&key) {
            slot.undispatched = true;
        }
    }

    /// Blocks until some in-flight work completes, or `timeout`.
    pub(crate) fn wait_for_progress(&self, timeout: Duration) {
        let slots = self.slots();
        let _ = self.progress.wait_timeout(slots, timeout);
    }

    /// Stops feeding the given partitions' tasks; they finish what they have and exit.
    pub(crate) fn close_inputs(&self, keys: &[PartitionKey]) {
        let mut slots = self.slots();
        for key in keys {
            if let Some(slot) = slots.get_mut(key) {
                slot.sender = None;
            }
        }
    }

    /// Closes the given partitions' inputs and waits until their in-flight work is done or
    /// `deadline` passes. Returns whether everything drained.
    pub(crate) fn drain(&self, keys: &[PartitionKey], deadline: Instant) -> bool {
        self.close_inputs(keys);
        let mut slots = self.slots();
        loop {
            let busy = keys.iter().any(|k| slots.get(k).is_some_and(|s| s.in_flight > 0));
            if !busy {
                return true;
            }
            let now = Instant::now();
            if now >= deadline || self.failed() {
                return false;
            }
            slots = self.progress.wait_timeout(slots, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Drops the bookkeeping of released partitions; late completions of abandoned work then
    /// store nothing.
    pub(crate) fn forget(&self, keys: &[PartitionKey]) {
        let mut slots = self.slots();
        let mut abandoned = self.abandoned.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            if slots.remove(key).is_some_and(|slot| slot.in_flight > 0 || slot.undispatched) {
                abandoned.insert(key.clone());
            }
        }
    }

    /// Whether the partition is assigned to this worker by the group.
    pub(crate) fn owns(&self, key: &PartitionKey) -> bool {
        self.owned.lock().unwrap_or_else(|p| p.into_inner()).contains(key)
    }

    /// Owned partitions with no message in flight (see `consumer::FetchCheck`).
    pub(crate) fn idle_owned_partitions(&self) -> Vec<PartitionKey> {
        let owned = self.owned.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let slots = self.slots();
        owned.into_iter().filter(|key| slots.get(key).is_none_or(|s| s.in_flight == 0 && !s.undispatched)).collect()
    }

    pub(crate) fn partition_keys(&self) -> Vec<PartitionKey> {
        self.slots().keys().cloned().collect()
    }

    fn note_progress(&self) {
        *self.last_progress.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    /// Rebalance bookkeeping: partitions gained.
    pub(crate) fn assigned(&self, keys: &[PartitionKey]) {
        self.joined.store(true, Ordering::Release);
        self.owned.lock().unwrap_or_else(|p| p.into_inner()).extend(keys.iter().cloned());
        // A fresh assignment gets a full stall period before it can be called stalled.
        self.note_progress();
    }

    /// Rebalance bookkeeping: the group took this member's partitions away without a
    /// revocation (the session timed out, the member was fenced); it is out of the group until
    /// its next assignment.
    pub(crate) fn lost_membership(&self) {
        self.lost_membership.store(true, Ordering::Release);
        self.joined.store(false, Ordering::Release);
    }

    /// Rebalance bookkeeping: partitions lost or released.
    pub(crate) fn released(&self, keys: &[PartitionKey]) {
        let mut owned = self.owned.lock().unwrap_or_else(|p| p.into_inner());
        let mut lag = self.lag.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            owned.remove(key);
            lag.remove(key);
        }
        drop((owned, lag));
        let mut stored = self.stored_log_starts.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            stored.remove(key);
        }
    }

    /// Consumer lag from librdkafka statistics: kept for owned partitions only, and only
    /// when known (librdkafka reports -1 before it has fetched offsets).
    pub(crate) fn update_lag(&self, lags: impl IntoIterator<Item = (PartitionKey, i64)>) {
        let owned = self.owned.lock().unwrap_or_else(|p| p.into_inner());
        let mut lag = self.lag.lock().unwrap_or_else(|p| p.into_inner());
        for (key, value) in lags {
            if value >= 0 && owned.contains(&key) {
                lag.insert(key, value);
            }
        }
    }

    /// Notes, from librdkafka statistics, the partitions whose log starts past the group's
    /// committed offset (`Some(log start)`) and those whose does not (`None`).
    pub(crate) fn update_log_starts(&self, starts: impl IntoIterator<Item = (PartitionKey, Option<i64>)>) {
        let mut past = self.start_past_commit.lock().unwrap_or_else(|p| p.into_inner());
        for (key, start) in starts {
            match start {
                Some(start) => past.insert(key, start),
                None => past.remove(&key),
            };
        }
    }

    /// Whether the worker is ready: joined, brokers reachable, not stalled, not stopping.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire) && !self.stopping()
    }

    /// Why the worker is not ready, if it is not. Brokers known to be down come before the
    /// group not being joined yet: they are why it cannot be joined.
    pub fn not_ready_reason(&self) -> Option<&'static str> {
        if self.failed() {
            Some("stopping after a fatal error")
        } else if self.stop.load(Ordering::Acquire) {
            Some("shutting down")
        } else if !self.health.is_up() {
            Some("brokers unreachable")
        } else if !self.joined.load(Ordering::Acquire) {
            Some(if self.lost_membership.load(Ordering::Acquire) {
                "rejoining the consumer group: its partitions were lost (session timed out or fenced)"
            } else {
                "not joined to the consumer group yet"
            })
        } else if self.stalled.load(Ordering::Acquire) {
            Some("stalled: partitions with lag but no progress")
        } else {
            None
        }
    }

    /// The metrics in Prometheus text format.
    pub fn metrics_text(&self) -> String {
        self.stats.encode()
    }

    /// The remote sentiment model, when one is configured.
    pub fn remote_sentiment(&self) -> Option<&Arc<crate::remote::RemoteSentiment>> {
        self.remote.as_ref().and_then(|r| r.sentiment.as_ref())
    }

    /// The remote tag classifier, when one is configured.
    pub fn remote_tags(&self) -> Option<&Arc<crate::remote::RemoteTags>> {
        self.remote.as_ref().and_then(|r| r.tags.as_ref())
    }

    /// Recomputes readiness, stall state and the lag gauges; run every second by the watchdog.
    pub(crate) fn watchdog_tick(&self) {
        if let Some(reason) = self.health.authentication_failing_for(events::AUTHENTICATION_GRACE) {
            self.fail(reason);
            return;
        }
        let now_ms = now_millis();
        let lag = self.lag.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let owned: Vec<PartitionKey> = self.owned.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect();
        let slots = self.slots();
        let mut behind_since = self.behind_since.lock().unwrap_or_else(|p| p.into_inner());
        behind_since.retain(|key, _| owned.contains(key));
        let mut gauges = Vec::with_capacity(owned.len());
        let mut behind = false;
        for key in &owned {
            // Unknown until librdkafka's first statistics for the partition (up to 5 s after it
            // is assigned): the gauge is left out rather than read as "caught up".
            let offsets = lag.get(key).copied();
            let slot = slots.get(key);
            let in_flight = slot.map_or(0, |s| s.in_flight);
            // Age of the oldest unprocessed message: the oldest in flight. With nothing in flight
            // but lag, the next message's time is unknown; it was in the log when the lag was
            // first seen, so the time since then is a lower bound. (The last completed message's
            // age is an upper bound, but on a partition quiet for an hour it would report an
            // hour for a message seconds old, a false alert.)
            let oldest = slot.and_then(|s| s.pending_timestamps.front().copied());
            let age = |ts: i64| (now_ms - ts).max(0) as f64 / 1000.0;
            let seconds = match (oldest, offsets) {
                (Some(ts), _) => Some(age(ts)),
                (None, None) => None,
                (None, Some(0)) => Some(0.0),
                (None, Some(_)) => Some(age(*behind_since.entry(key.clone()).or_insert(now_ms))),
            };
            if oldest.is_some() || offsets.is_none_or(|lag| lag == 0) {
                behind_since.remove(key);
            }
            behind |= offsets.unwrap_or(0) > 0 || in_flight > 0;
            gauges.push((
                stats::PartitionLabels { topic: key.0.to_string(), partition: key.1.to_string() },
                offsets,
                seconds,
            ));
        }
        drop((slots, behind_since));
        self.stats.set_lag(&gauges);
        self.stats.set_in_flight(self.in_flight());

        // With the brokers down nothing can progress, and that is reported as brokers down, not
        // as a stall (whose remedy, a restart, would not help); the stall clock starts again
        // when they are back.
        let broker_up = self.health.is_up();
        if !broker_up {
            self.note_progress();
        }
        let idle_for = self.last_progress.lock().unwrap_or_else(|p| p.into_inner()).elapsed();
        let stalled = behind && idle_for >= self.stall_timeout;
        let was_stalled = self.stalled.swap(stalled, Ordering::AcqRel);
        if stalled && !was_stalled {
            tracing::warn!(
                idle_secs = idle_for.as_secs(),
                "worker stalled: it holds partitions with lag but made no progress; marked not ready"
            );
        } else if was_stalled && !stalled {
            tracing::info!("worker making progress again");
        }
        if let Some(exit_after) =
            self.stall_exit.filter(|exit_after| stalled && idle_for >= self.stall_timeout + *exit_after)
        {
            // A stall while the brokers answer may be the worker's or librdkafka's state gone
            // wrong, which a restart with fresh connections and a fresh group membership clears
            // (the work not completed is re-processed after it); one the brokers cause while
            // answering (too few in-sync replicas) is not, which is why this is opt-in.
            self.fail(format!(
                "stalled for {} s with lag and nothing completed (http.stall_exit_secs = {}): stopping for a restart",
                idle_for.saturating_sub(self.stall_timeout).as_secs(),
                exit_after.as_secs()
            ));
        }
        let ready = self.not_ready_reason().is_none();
        let was_ready = self.ready.swap(ready, Ordering::AcqRel);
        if ready != was_ready {
            match self.not_ready_reason() {
                None => tracing::info!("ready"),
                Some(reason) => tracing::warn!(reason, "not ready"),
            }
        }
        self.stats.set_health(ready, stalled, broker_up);
        // A stop that began during this tick must not be overwritten by its result.
        if self.stopping() {
            self.mark_not_ready();
        }
    }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// How a worker run ended.
#[derive(Debug)]
pub struct RunSummary {
    pub stats: stats::Snapshot,
}

/// A fatal error: the worker stopped without committing unacknowledged work.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot create Kafka client: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
    #[error("{0}")]
    Fatal(String),
}

/// Checks, before the worker starts, that every topic it reads and writes exists, or comes to
/// exist within `creation_wait` (brokers that create topics on request answer "unknown topic" to
/// the request that starts the creation, and a new topic takes a while to reach every broker).
/// A missing output topic would otherwise stop the worker at its first record for it (possibly
/// days later, for a route) and again after every restart; a missing input topic would leave it
/// joined, ready and idle, with nothing to say why. Input topics are looked up by a client with
/// the worker's consumer settings, which (like the worker's consumer) does not create topics, so
/// a misspelt input topic is named rather than created; output topics by one with its producer
/// settings. Subscription patterns (`^…`) are not checked. Brokers that do not answer a request
/// within `answer_timeout` are not an error here: the worker retries them. A topic still unknown
/// after `creation_wait`, or that this client may not see, is; the message names the setting.
pub fn check_topics(
    settings: &Settings,
    brokers: &str,
    answer_timeout: Duration,
    creation_wait: Duration,
) -> Result<(), String> {
    let consumer: BaseConsumer<events::TopicCheckContext> =
        consumer_config_from(settings, brokers, settings.consumer_kafka_properties())
            .create_with_context(events::TopicCheckContext)
            .map_err(|e| format!("cannot create Kafka client: {e}"))?;
    let producer: rdkafka::producer::BaseProducer<events::TopicCheckContext> = producer_config(settings, brokers)
        .create_with_context(events::TopicCheckContext)
        .map_err(|e| format!("cannot create Kafka client: {e}"))?;
    let inputs: Vec<(String, &str)> = (settings.kafka.input_topics.iter().enumerate())
        .filter(|(_, topic)| !topic.starts_with('^'))
        .map(|(i, topic)| (format!("kafka.input_topics[{i}]"), topic.as_str()))
        .collect();
    let mut outputs = vec![
        ("kafka.output_topic".to_owned(), settings.kafka.output_topic.as_str()),
        ("kafka.dlq_topic".to_owned(), settings.kafka.dlq_topic.as_str()),
    ];
    for (i, route) in settings.routes.iter().enumerate() {
        outputs.push((format!("routes[{i}].topic"), route.topic.as_str()));
    }
    let timing = TopicWait { started: Instant::now(), answer_timeout, creation_wait };
    let Some(problems) = topic_problems(consumer.client(), inputs, &timing) else { return Ok(()) };
    // A missing input topic used up the wait for topics being created, which an output topic
    // the check itself just had created may still need: the input is the problem to name.
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    match topic_problems(producer.client(), outputs, &timing) {
        Some(problems) if !problems.is_empty() => Err(problems.join("; ")),
        _ => Ok(()),
    }
}

/// The time limits of [`check_topics`].
struct TopicWait {
    started: Instant,
    answer_timeout: Duration,
    creation_wait: Duration,
}

impl TopicWait {
    /// When the whole check ends: one unanswered request plus the wait for topics being created.
    fn deadline(&self) -> Instant {
        self.started + self.answer_timeout + self.creation_wait
    }
}

/// What is wrong with the `(setting, topic)`s as `client` sees them; `None` when the brokers did
/// not answer (not checked: the worker retries them).
fn topic_problems<C: rdkafka::ClientContext>(
    client: &rdkafka::client::Client<C>,
    named: Vec<(String, &str)>,
    timing: &TopicWait,
) -> Option<Vec<String>> {
    use rdkafka::error::RDKafkaErrorCode;
    const RETRY_INTERVAL: Duration = Duration::from_millis(500);
    let mut problems = Vec::new();
    for (setting, topic) in named {
        loop {
            let wait = timing.answer_timeout.min(timing.deadline().saturating_duration_since(Instant::now()));
            let metadata = match client.fetch_metadata(Some(topic), wait) {
                Ok(metadata) => metadata,
                Err(e) => {
                    tracing::info!(error = %e, "topics not checked at start: the brokers did not answer (the worker retries them)");
                    return None;
                }
            };
            let error = metadata.topics().iter().find(|t| t.name() == topic).and_then(|t| t.error());
            match error.map(RDKafkaErrorCode::from) {
                None => break,
                Some(RDKafkaErrorCode::UnknownTopicOrPartition) if timing.started.elapsed() < timing.creation_wait => {
                    std::thread::sleep(RETRY_INTERVAL);
                }
                Some(RDKafkaErrorCode::UnknownTopicOrPartition) => {
                    problems.push(format!(
                        "{setting}: topic `{topic}` does not exist (nor came to exist within {} s)",
                        timing.creation_wait.as_secs()
                    ));
                    break;
                }
                Some(RDKafkaErrorCode::TopicAuthorizationFailed) => {
                    problems.push(format!("{setting}: this client is not authorised for topic `{topic}`"));
                    break;
                }
                // E.g. a leader being elected for a topic just created: the worker waits for it.
                Some(other) => {
                    tracing::debug!(topic, error = %other, "topic not ready yet");
                    break;
                }
            }
        }
    }
    Some(problems)
}

/// Checks that librdkafka accepts the consumer and producer configurations the worker makes
/// (each property alone is checked when the settings load; this is their combination: a SASL
/// mechanism this build lacks, a CA file it cannot load, ...), so that `check-config` refuses
/// what `run` would. The clients are created without bootstrap servers, so they neither connect
/// nor resolve a name, and go at once. The error is `(key, message)`: `kafka.properties` when
/// the client fails with the shared properties alone, else `kafka.consumer_properties` or
/// `kafka.producer_properties`; credentials are redacted.
pub fn check_client_configs(settings: &Settings) -> Result<(), (String, String)> {
    fn refusal<C: rdkafka::config::FromClientConfig>(mut config: ClientConfig) -> Option<String> {
        config.remove(canonical_property_name("bootstrap.servers"));
        match config.create::<C>() {
            Ok(_) => None,
            Err(rdkafka::error::KafkaError::ClientCreation(message)) => Some(message),
            Err(rdkafka::error::KafkaError::ClientConfig(_, description, _, _)) => Some(description),
            Err(other) => Some(other.to_string()),
        }
    }
    let shared = settings.kafka_properties();
    let problem = if let Some(problem) =
        refusal::<BaseConsumer>(consumer_config_from(settings, "", settings.consumer_kafka_properties()))
    {
        let shared_alone = refusal::<BaseConsumer>(consumer_config_from(settings, "", shared.clone()));
        Some((if shared_alone.is_some() { "kafka.properties" } else { "kafka.consumer_properties" }, problem))
    } else if let Some(problem) = refusal::<rdkafka::producer::BaseProducer>(producer_config_from(
        settings,
        "",
        settings.producer_kafka_properties(),
    )) {
        let shared_alone = refusal::<rdkafka::producer::BaseProducer>(producer_config_from(settings, "", shared));
        Some((if shared_alone.is_some() { "kafka.properties" } else { "kafka.producer_properties" }, problem))
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some((key, problem)) => {
            Err((key.to_owned(), format!("cannot create Kafka client: {}", settings.redact(problem.trim()))))
        }
    }
}

/// The producer's librdkafka settings: the worker's own, then the user's.
fn producer_config(settings: &Settings, brokers: &str) -> ClientConfig {
    producer_config_from(settings, brokers, settings.producer_kafka_properties())
}

/// librdkafka's largest `message.max.bytes`.
const LIBRDKAFKA_MAX_MESSAGE_BYTES: usize = 1_000_000_000;

/// The producer's `message.max.bytes` (the size its own check refuses records over): room for
/// any record made from an accepted input, which is at most `limits.max_message_bytes` plus its
/// headers (within the broker's limit, about as large) plus the enrichment, so that only the
/// broker's own limit on the output topics decides. librdkafka's default, 1,000,000 bytes, is
/// below the default input limit of 1 MiB.
fn producer_max_message_bytes(settings: &Settings) -> usize {
    settings.limits.max_message_bytes.saturating_mul(2).clamp(1_000_000, LIBRDKAFKA_MAX_MESSAGE_BYTES)
}

/// Checks that the producer's queue holds its largest record: librdkafka refuses a record
/// larger than `queue.buffering.max.kbytes` with "queue full" on every try, so the worker would
/// retry it forever and its partition, then its intake, would wait for good.
pub(crate) fn check_producer_queue(settings: &Settings) -> Result<(), String> {
    let config = producer_config(settings, "");
    let number =
        |key: &str, default: u64| config.get(key).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(default);
    let largest = number("message.max.bytes", 1_000_000);
    let queue_kbytes = number("queue.buffering.max.kbytes", 1_048_576);
    if queue_kbytes.saturating_mul(1024) < largest {
        return Err(format!(
            "is {queue_kbytes} KiB, below the largest record the producer may send (message.max.bytes, {largest} bytes): \
             such a record could never be queued and its partition would wait for it forever; raise it to at least {}",
            largest.div_ceil(1024)
        ));
    }
    Ok(())
}

/// The producer's librdkafka settings with `user` as the user's properties.
fn producer_config_from(settings: &Settings, brokers: &str, user: BTreeMap<String, String>) -> ClientConfig {
    client_config(
        brokers,
        user,
        &[
            ("message.max.bytes", &producer_max_message_bytes(settings).to_string()),
            ("enable.idempotence", "true"),
            ("acks", "all"),
            // 0 = retry until delivered: a broker outage stalls and pauses intake instead of
            // failing records (which would force a choice between loss and a restart).
            ("message.timeout.ms", "0"),
            ("linger.ms", "5"),
            ("compression.type", "lz4"),
            // Keys go to the partition a Java producer (Kafka Streams, Connect, ksqlDB)
            // would pick, so outputs are co-partitioned with their topics for joins.
            // librdkafka's default (CRC32) is not.
            ("partitioner", "murmur2_random"),
        ],
    )
}

/// The consumer's librdkafka settings: the worker's own, then `user` (the user's properties).
fn consumer_config_from(settings: &Settings, brokers: &str, user: BTreeMap<String, String>) -> ClientConfig {
    client_config(
        brokers,
        user,
        &[
            ("group.id", &settings.kafka.group_id),
            ("enable.auto.commit", "true"),
            ("auto.commit.interval.ms", "1000"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", "earliest"),
            ("partition.assignment.strategy", "cooperative-sticky"),
            ("enable.partition.eof", "false"),
            // Consumer lag for the metrics comes from librdkafka's statistics.
            ("statistics.interval.ms", "5000"),
        ],
    )
}

/// Our librdkafka settings for one client, then the user's properties for it (which win), each
/// under its canonical name ([`canonical_property_name`]), so that a user's `topic.acks` or
/// `linger.ms` replaces ours rather than sitting beside it in rdkafka's hash map.
fn client_config(brokers: &str, user: BTreeMap<String, String>, own: &[(&str, &str)]) -> ClientConfig {
    let version = format!("news-enricher-{}", env!("CARGO_PKG_VERSION"));
    let ours = [("bootstrap.servers", brokers), ("client.id", &version)].into_iter().chain(own.iter().copied());
    let mut merged = BTreeMap::new();
    for (k, v) in ours.map(|(k, v)| (k.to_owned(), v.to_owned())).chain(user) {
        merged.insert(canonical_property_name(&k).to_owned(), v);
    }
    let mut config = ClientConfig::new();
    for (k, v) in merged {
        config.set(k, v);
    }
    config
}

/// What the worker does to each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Processing {
    /// Decode, enrich, route, dead-letter: the product.
    #[default]
    Enrich,
    /// Copy each input unchanged to the output topic: the same consumer, producer and delivery
    /// bookkeeping with no enrichment. The baseline of the throughput benchmark.
    PassThrough,
}

/// A running worker: started by [`Worker::start`], stopped by [`Worker::shutdown`] or a fatal
/// error.
pub struct Worker {
    shared: Arc<Shared>,
    consumer_thread: Option<std::thread::JoinHandle<()>>,
    /// Not owned: the consumer thread's reference is the one that counts at shutdown.
    consumer: std::sync::Weak<BaseConsumer<WorkerContext>>,
}

impl Worker {
    /// Creates the clients, subscribes and starts the consumer thread. `brokers` is the bootstrap
    /// list (already resolved for the embedded broker). Must be called inside a tokio runtime.
    pub fn start(settings: &Settings, brokers: &str, enricher: Arc<Enricher>) -> Result<Self, WorkerError> {
        Self::start_with(settings, brokers, enricher, Processing::Enrich)
    }

    /// [`Worker::start`] with a choice of processing (the benchmark's pass-through baseline).
    pub fn start_with(
        settings: &Settings,
        brokers: &str,
        enricher: Arc<Enricher>,
        processing: Processing,
    ) -> Result<Self, WorkerError> {
        let health = Arc::new(events::BrokerHealth::default());
        let fatal = Arc::new(events::FatalLatch::default());
        let producer: FutureProducer<events::ProducerEvents> = producer_config(settings, brokers)
            .create_with_context(events::ProducerEvents { health: health.clone(), fatal: fatal.clone() })?;
        let topics = Topics::from_settings(settings);
        // The remote models: one client and batcher per model for the whole worker,
        // their metrics in the worker's registry.
        let remote = crate::remote::Remote::start(settings, enricher.taxonomy()).map_err(WorkerError::Fatal)?;
        let mut stats = Stats::default();
        if let Some(remote) = &remote {
            stats.register_with(|registry| remote.register_metrics(registry));
        }
        stats.set_taxonomy_version(enricher.taxonomy().version());
        let shared = Arc::new(Shared {
            enricher: crate::enrich::CurrentEnricher::new(enricher),
            remote,
            topics,
            producer,
            health,
            decoding: crate::article::Decoding::from_settings(settings),
            processing,
            max_in_flight: settings.kafka.max_in_flight,
            max_in_flight_bytes: settings.kafka.max_in_flight_bytes,
            drain_timeout: Duration::from_millis(settings.kafka.drain_timeout_ms),
            shutdown_timeout: Duration::from_secs(settings.kafka.shutdown_timeout_secs),
            stats,
            message_warnings: crate::telemetry::logging::LogBudget::new(
                MESSAGE_WARNINGS_PER_MINUTE,
                Duration::from_secs(60),
            ),
            partitions: Mutex::new(HashMap::new()),
            progress: Condvar::new(),
            in_flight: AtomicUsize::new(0),
            in_flight_bytes: AtomicUsize::new(0),
            next_generation: AtomicU64::new(1),
            stop: AtomicBool::new(false),
            shutdown_started: Mutex::new(None),
            fatal,
            owned: Mutex::default(),
            abandoned: Mutex::default(),
            lag: Mutex::default(),
            behind_since: Mutex::default(),
            start_past_commit: Mutex::default(),
            stored_log_starts: Mutex::default(),
            joined: AtomicBool::new(false),
            lost_membership: AtomicBool::new(false),
            last_progress: Mutex::new(Instant::now()),
            ready: AtomicBool::new(false),
            stalled: AtomicBool::new(false),
            stall_timeout: Duration::from_secs(settings.http.stall_timeout_secs),
            stall_exit: Some(Duration::from_secs(settings.http.stall_exit_secs)).filter(|d| !d.is_zero()),
        });
        let consumer: BaseConsumer<WorkerContext> =
            consumer_config_from(settings, brokers, settings.consumer_kafka_properties())
                .create_with_context(WorkerContext::new(shared.clone()))?;
        let topics: Vec<&str> = settings.kafka.input_topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        tracing::info!(brokers, group = %settings.kafka.group_id, topics = ?topics, "worker started");
        let consumer = Arc::new(consumer);
        let weak_consumer = Arc::downgrade(&consumer);
        let runtime = tokio::runtime::Handle::current();
        let thread_shared = shared.clone();
        let consumer_thread = std::thread::Builder::new()
            .name("kafka-consumer".into())
            .spawn(move || consumer::poll_loop(consumer, thread_shared, runtime))
            .expect("spawning the consumer thread");
        let watchdog_shared = Arc::downgrade(&shared);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match watchdog_shared.upgrade() {
                    Some(shared) if !shared.stopping() => shared.watchdog_tick(),
                    _ => break,
                }
            }
        });
        Ok(Worker { shared, consumer_thread: Some(consumer_thread), consumer: weak_consumer })
    }

    /// Counters so far.
    pub fn stats(&self) -> stats::Snapshot {
        self.shared.stats.snapshot()
    }

    /// Shared state, for the metrics endpoint.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// For tests: pauses a partition inside librdkafka behind the worker's back, which is the
    /// state a resume lost inside librdkafka leaves it in (see `consumer::FetchCheck`).
    #[doc(hidden)]
    pub fn lose_resume_of(&self, topic: &str, partition: i32) {
        if let Some(consumer) = self.consumer.upgrade() {
            let mut tpl = rdkafka::TopicPartitionList::new();
            tpl.add_partition(topic, partition);
            let _ = consumer.pause(&tpl);
        }
    }

    /// Resolves when a fatal error has stopped the worker.
    pub async fn failed(&self) {
        self.shared.fatal.wait().await
    }

    /// Stops intake, drains, commits, closes the consumer and flushes the producer.
    pub async fn shutdown(mut self) -> Result<RunSummary, WorkerError> {
        self.shared.request_stop();
        let thread = self.consumer_thread.take().expect("shutdown runs once");
        tokio::task::spawn_blocking(move || thread.join()).await.ok();
        let shared = self.shared.clone();
        let flush_by = shared.exit_deadline();
        let flushed = tokio::task::spawn_blocking(move || {
            // Past that point this only reports what is left (no wait beyond the budget).
            shared.producer.flush(flush_by.saturating_duration_since(Instant::now()))
        })
        .await
        .map_err(|e| WorkerError::Fatal(e.to_string()))?;
        if let Err(e) = flushed {
            tracing::warn!(error = %e, "producer flush incomplete at shutdown");
        }
        if let Some(reason) = self.shared.fatal.reason() {
            return Err(WorkerError::Fatal(reason));
        }
        tracing::info!("shutdown complete");
        Ok(RunSummary { stats: self.shared.stats.snapshot() })
    }
}

/// Runs a worker until `shutdown` resolves (then drains and commits) or a fatal error occurs.
/// The pipeline alone, for tests: the `run` command goes through [`crate::runner::run`], which
/// adds signals, the HTTP endpoint and taxonomy reloads around [`Worker`].
#[doc(hidden)]
pub async fn run(
    settings: &Settings,
    brokers: &str,
    enricher: Arc<Enricher>,
    shutdown: impl Future<Output = ()>,
) -> Result<RunSummary, WorkerError> {
    let worker = Worker::start(settings, brokers, enricher)?;
    tokio::select! {
        _ = shutdown => {}
        _ = worker.failed() => {}
    }
    worker.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user's spelling of a property the worker sets (an alias, a `topic.` prefix) replaces
    /// the worker's value: both reaching rdkafka's hash map made the winner change between
    /// starts.
    #[test]
    fn user_properties_replace_the_workers_under_any_spelling() {
        let settings = Settings::default();
        let user = BTreeMap::from([
            ("linger.ms".to_owned(), "50".to_owned()),
            ("topic.compression.type".to_owned(), "zstd".to_owned()),
            ("topic.metadata.refresh.interval.ms".to_owned(), "60000".to_owned()),
        ]);
        let config = producer_config_from(&settings, "broker:9092", user);
        assert_eq!(config.get("queue.buffering.max.ms"), Some("50"));
        assert_eq!(config.get("compression.codec"), Some("zstd"));
        assert_eq!(config.get("topic.metadata.refresh.interval.ms"), Some("60000"), "a global property");
        assert_eq!(config.get("metadata.broker.list"), Some("broker:9092"));
        for alias in ["linger.ms", "compression.type", "topic.compression.type", "bootstrap.servers", "acks"] {
            assert_eq!(config.get(alias), None, "{alias}");
        }
        assert_eq!(config.get("request.required.acks"), Some("all"));
        let consumer = consumer_config_from(
            &settings,
            "broker:9092",
            BTreeMap::from([("max.partition.fetch.bytes".to_owned(), "2097152".to_owned())]),
        );
        assert_eq!(consumer.get("fetch.message.max.bytes"), Some("2097152"));
        assert!(consumer.create::<BaseConsumer<rdkafka::consumer::DefaultConsumerContext>>().is_ok());
    }
}
