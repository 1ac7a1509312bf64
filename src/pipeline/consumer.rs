//! The consumer thread: owns the librdkafka consumer, polls it, dispatches messages to partition
//! tasks, pauses intake when too much is in flight, and handles rebalances and shutdown.
//!
//! It is a plain thread, not an async task, on purpose: rebalance callbacks run inside `poll` and
//! must block while revoked partitions drain, and closing a consumer blocks too. Neither may
//! happen on an async runtime thread.

use super::{Intake, PartitionKey, Shared};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{ClientContext, TopicPartitionList};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one `poll` waits for a message; bounds how fast the thread notices shutdown.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How long the in-flight bound may stay reached before intake is paused (see `poll_loop`).
const PAUSE_AFTER: Duration = Duration::from_secs(1);
/// Attempts of a synchronous commit (on revoke and shutdown) before giving up; the offsets stay
/// stored and a later auto-commit or the next owner's re-processing covers a failure.
const COMMIT_ATTEMPTS: u32 = 5;
/// Of the shutdown budget (`kafka.shutdown_timeout_secs`), what the drain leaves for the final
/// commit and the close (at most a quarter of the budget).
const SHUTDOWN_COMMIT_RESERVE: Duration = Duration::from_secs(2);

/// How often the positions of partitions with nothing in flight are stored (see
/// `Shared::store_idle_positions`).
const IDLE_STORE_INTERVAL: Duration = Duration::from_secs(1);

/// How often the owned partitions are checked for being fetched (see [`FetchCheck`]).
const FETCH_CHECK_INTERVAL: Duration = Duration::from_secs(5);
/// How long a check waits for the brokers' answers (end offsets, committed offsets).
const FETCH_CHECK_TIMEOUT: Duration = Duration::from_secs(1);
/// A partition whose fetcher was restarted is not restarted again sooner than this.
const FETCH_RESTART_BACKOFF: Duration = Duration::from_secs(60);

/// librdkafka callbacks: rebalances, errors, commit results.
pub struct WorkerContext {
    pub(super) shared: Arc<Shared>,
    /// Whether intake is paused for backpressure, so newly assigned partitions start paused.
    pub(super) paused: AtomicBool,
    /// When the last rebalance callback began (see [`FetchCheck`]).
    last_rebalance: std::sync::Mutex<Option<Instant>>,
}

impl WorkerContext {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        WorkerContext { shared, paused: AtomicBool::new(false), last_rebalance: std::sync::Mutex::new(None) }
    }

    /// Lifts this worker's pause from every assigned partition (`pre_rebalance`'s, and one
    /// kept from before a partition's revocation).
    fn resume_assignment(&self, consumer: &BaseConsumer<Self>) {
        if let Ok(assignment) = consumer.assignment() {
            if assignment.count() > 0 {
                let _ = consumer.resume(&assignment);
            }
        }
    }
}

impl ClientContext for WorkerContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        super::events::forward_log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if let Some(fatal) = self.shared.health.on_error("consumer", &error, reason) {
            self.shared.fail(fatal);
        }
    }

    fn stats(&self, statistics: rdkafka::Statistics) {
        // Any connection up (a broker, a bootstrap address, the group coordinator) means the
        // brokers are reachable, even when no message flows (no partitions, a quiet topic);
        // none up means they are not, even if the one-off "all brokers down" event came before
        // statistics taken earlier. librdkafka's internal pseudo-broker does not count.
        let mut connections = statistics.brokers.values().filter(|b| b.source != "internal").peekable();
        if connections.clone().any(|b| b.state == "UP" || b.state == "UPDATE") {
            self.shared.health.reachable();
        } else if connections.peek().is_some() {
            self.shared.health.unreachable();
        }
        let lags = statistics.topics.iter().flat_map(|(topic, t)| {
            let topic: Arc<str> = topic.as_str().into();
            // Partition -1 is librdkafka's internal "unassigned" partition.
            t.partitions.iter().filter(|(p, _)| **p >= 0).map(move |(p, s)| ((topic.clone(), *p), s.consumer_lag))
        });
        self.shared.update_lag(lags);
    }
}

impl ConsumerContext for WorkerContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        *self.last_rebalance.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        if !matches!(rebalance, Rebalance::Error(_)) {
            // librdkafka pauses the assignment itself when it schedules this callback, but
            // asynchronously, and the resume it sends when the callback (un)assigns is skipped
            // for a partition whose pause has not been applied yet: that partition would stay
            // paused for good, fetched never again and with no lag to show for it. This pause
            // is synchronous and queued behind librdkafka's, so when it returns librdkafka's has
            // been applied and its resume will find it. `post_rebalance` lifts this one.
            if let Ok(assignment) = consumer.assignment() {
                if assignment.count() > 0 {
                    let _ = consumer.pause(&assignment);
                }
            }
        }
        let Rebalance::Revoke(tpl) = rebalance else { return };
        if tpl.count() == 0 {
            return;
        }
        let keys: Vec<PartitionKey> = tpl.elements().iter().map(|e| (e.topic().into(), e.partition())).collect();
        let lost = consumer.assignment_lost();
        if self.shared.stopping() {
            tracing::info!(partitions = %describe(tpl), lost, "partitions revoked at shutdown");
        } else if lost {
            // Their new owners may already be at work: what is unfinished here is re-processed
            // there from the last commit.
            tracing::warn!(partitions = %describe(tpl),
                "partitions lost (the group session timed out, the poll interval was exceeded or this member was fenced): rejoining the group; \
                 their work since the last commit is re-processed by their next owner");
            self.shared.lost_membership();
            self.shared.stats.record_rebalance("lost");
        } else {
            tracing::info!(partitions = %describe(tpl), lost, "partitions revoked; draining in-flight work");
        }
        self.shared.stats.record_rebalance("revoke");
        // During shutdown the drain must also end in time for the exit (a revocation can come
        // while the shutdown path is still waiting for work).
        let mut drain_until = Instant::now() + self.shared.drain_timeout;
        if self.shared.stopping() {
            drain_until = drain_until.min(self.shared.exit_deadline());
        }
        let drained = self.shared.drain(&keys, drain_until);
        if !drained {
            tracing::warn!(partitions = %describe(tpl), timeout_ms = self.shared.drain_timeout.as_millis() as u64,
                "drain deadline passed; releasing partitions with work in flight (it will be re-processed by the next owner)");
        }
        // While stopping, the shutdown path has stored what is safe to store (before it forgot
        // the partitions' slots); the close's revoke must not store again.
        if !lost && !self.shared.stopping() {
            self.shared.store_idle_positions(consumer, Intake::Running);
        }
        let commit = if lost {
            "skipped: partitions lost"
        } else {
            let commit = commit_with_retries(consumer, "revoke", self.shared.stopping());
            if commit == Commit::Failed {
                self.shared.stats.record_revocation_uncommitted();
            }
            commit.as_str()
        };
        self.shared.forget(&keys);
        self.shared.released(&keys);
        if self.shared.stopping() {
            // The shutdown path has usually drained and forgotten this work already (a drain
            // here is then vacuous); one that came too late was warned about above.
            tracing::info!(partitions = %describe(tpl), commit, "partitions released at shutdown");
        } else {
            tracing::info!(partitions = %describe(tpl), drained, commit, "partitions released");
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let keys: Vec<PartitionKey> =
                    tpl.elements().iter().map(|e| (e.topic().into(), e.partition())).collect();
                self.shared.assigned(&keys);
                self.shared.health.reachable();
                if tpl.count() > 0 {
                    tracing::info!(partitions = %describe(tpl), "partitions assigned");
                }
                self.shared.stats.record_rebalance("assign");
                self.shared.stats.set_assigned(consumer.assignment().map(|a| a.count()).unwrap_or(0));
                // librdkafka keeps an application's pause on a partition across its revocation
                // and reassignment: a partition given up while paused (by intake or by
                // `pre_rebalance`) comes back paused. Left so, it would never be fetched again.
                if self.paused.load(Ordering::Relaxed) {
                    let _ = consumer.pause(tpl);
                } else {
                    self.resume_assignment(consumer);
                }
            }
            Rebalance::Revoke(_) => {
                self.shared.stats.set_assigned(consumer.assignment().map(|a| a.count()).unwrap_or(0));
                if !self.paused.load(Ordering::Relaxed) {
                    self.resume_assignment(consumer);
                }
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance error"),
        }
    }

    fn commit_callback(&self, result: rdkafka::error::KafkaResult<()>, offsets: &TopicPartitionList) {
        match result {
            Ok(()) => {
                self.shared.health.reachable();
                self.shared.stats.record_commit(true);
            }
            // Nothing new was stored since the last commit: not an error.
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            // This member is not in the group's current generation: after a loss the next owner
            // re-processes the work; during a rebalance that keeps the partitions, the offsets
            // stay stored and the next commit sends them.
            Err(
                ref e @ KafkaError::ConsumerCommit(
                    RDKafkaErrorCode::UnknownMemberId
                    | RDKafkaErrorCode::IllegalGeneration
                    | RDKafkaErrorCode::FencedInstanceId,
                ),
            ) => {
                self.shared.stats.record_commit(false);
                tracing::info!(error = %e, partitions = %describe(offsets),
                    "offset commit refused: this member is not in the group's current generation; if its partitions were lost their next owner re-processes the work, otherwise the offsets are committed again");
            }
            Err(e) => {
                self.shared.stats.record_commit(false);
                tracing::warn!(error = %e, partitions = %describe(offsets), "offset commit failed; the offsets stay stored and are committed again");
            }
        }
    }
}

fn describe(tpl: &TopicPartitionList) -> String {
    tpl.elements().iter().map(|e| format!("{}[{}]", e.topic(), e.partition())).collect::<Vec<_>>().join(",")
}

/// How a synchronous commit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Commit {
    /// Stored offsets newer than the committed ones were committed.
    Committed,
    /// No offset was stored since the last commit (librdkafka's `NoOffset`): nothing was sent.
    NothingNew,
    /// Every attempt failed; the offsets stay stored for the next commit.
    Failed,
    /// The shutdown deadline came first (see `commit_before`).
    TimedOut,
}

impl Commit {
    fn as_str(self) -> &'static str {
        match self {
            Commit::Committed => "committed",
            Commit::NothingNew => "nothing new to commit",
            Commit::Failed => "failed",
            Commit::TimedOut => "timed out",
        }
    }
}

/// Commits stored offsets synchronously, retrying transient failures. `last` says that no
/// commit follows this one (the worker is stopping).
fn commit_with_retries(consumer: &BaseConsumer<WorkerContext>, why: &str, last: bool) -> Commit {
    let mut backoff = Duration::from_millis(100);
    for attempt in 1..=COMMIT_ATTEMPTS {
        match consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) => return Commit::Committed,
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => return Commit::NothingNew,
            Err(e) => {
                tracing::warn!(error = %e, attempt, why, "synchronous commit failed; retrying");
                std::thread::sleep(backoff);
                backoff *= 2;
            }
        }
    }
    if last {
        tracing::error!(
            why,
            "giving up on the synchronous commit; the work since the last commit is re-processed after a restart"
        );
    } else {
        tracing::error!(why, "giving up on the synchronous commit; offsets remain stored for the next commit");
    }
    Commit::Failed
}

/// How many different consume errors are logged at warn between two messages.
const MAX_DISTINCT_CONSUME_ERRORS: usize = 32;

/// Errors `poll` returns, logged at warn once each until a message arrives: an input topic
/// deleted or no longer readable (authorisation) while the worker runs leaves it polling with
/// nothing to consume, and that must not be silent; repeating the line at every poll would drown
/// the log.
#[derive(Default)]
struct ConsumeErrors {
    /// The texts logged since the last message, at most [`MAX_DISTINCT_CONSUME_ERRORS`].
    reported: Vec<String>,
}

impl ConsumeErrors {
    /// Logs `error` (its text does not say which topic: `topics` does) and says whether it was
    /// at warn level.
    fn report(&mut self, error: &KafkaError, topics: impl FnOnce() -> String) -> bool {
        use RDKafkaErrorCode as C;
        let connection_level = matches!(
            error.rdkafka_error_code(),
            Some(C::BrokerTransportFailure | C::AllBrokersDown | C::Resolve | C::Authentication | C::SSL)
        );
        let text = error.to_string();
        // Connection-level errors are reported once per state change by the error callback.
        if connection_level || self.reported.contains(&text) || self.reported.len() >= MAX_DISTINCT_CONSUME_ERRORS {
            tracing::debug!(error = %text, "consume error");
            return false;
        }
        tracing::warn!(
            error = %text,
            topics = %topics(),
            "consume error; the worker goes on polling (logged once until a message arrives)"
        );
        self.reported.push(text);
        true
    }

    fn clear(&mut self) {
        self.reported.clear();
    }
}

/// Finds owned partitions that librdkafka no longer fetches although records wait in them, and
/// restarts their fetchers.
///
/// librdkafka 2.12 pauses the assigned partitions itself around every rebalance and can lose
/// the resume: a resume is skipped when the pause it answers has not been applied yet (closed
/// by `pre_rebalance`), and a pause or resume is discarded as outdated when another thread
/// queued an operation for the same partition at the same moment. Such a partition is never
/// fetched again, and nothing says so: librdkafka's lag comes from fetches, so it stays at what
/// it was. This check is the net under those races and any others like them.
///
/// A partition counts as not fetched when, over a whole interval in which intake was never held
/// back (in-flight bound reached, paused) and the brokers were up, it had nothing in flight,
/// its position did not move, and the brokers' end offset (the last stable offset under
/// `read_committed`) was past that position when the interval began. Its fetcher is then
/// restarted by taking it out of the consumer's assignment and putting it back, which clears
/// librdkafka's pauses as well as the worker's and starts a new fetcher from the stored offset
/// (committed on the way out). The group is not involved; the restart waits for an interval
/// without a rebalance callback and happens at most once a minute per partition. A rebalance
/// that starts at that very moment could take the restart for this member's answer to it:
/// the worst that follows is duplicates, never loss, and the next rebalance settles it.
#[derive(Default)]
struct FetchCheck {
    /// When the current interval began.
    since: Option<Instant>,
    /// Whether intake was held back during the current interval.
    held_back: bool,
    /// The partitions found behind their end offset at the last check, with their positions.
    behind: HashMap<PartitionKey, i64>,
    /// When each partition's fetcher was last restarted.
    restarted: HashMap<PartitionKey, Instant>,
}

impl FetchCheck {
    fn hold_back(&mut self) {
        self.held_back = true;
    }

    /// Runs a check when an interval has passed.
    fn tick(&mut self, consumer: &BaseConsumer<WorkerContext>, shared: &Shared) {
        let since = *self.since.get_or_insert_with(Instant::now);
        if since.elapsed() < FETCH_CHECK_INTERVAL {
            return;
        }
        self.since = Some(Instant::now());
        let held_back = std::mem::take(&mut self.held_back) || consumer.context().paused.load(Ordering::Relaxed);
        if held_back || !shared.health.is_up() {
            self.behind.clear();
            return;
        }
        let positions = Self::positions(consumer, &shared.idle_owned_partitions());
        let ends = Self::end_offsets(consumer, positions.keys());
        let previous = std::mem::take(&mut self.behind);
        for (key, position) in positions {
            let Some(&end) = ends.get(&key) else { continue };
            if position >= end {
                continue;
            }
            if previous.get(&key) != Some(&position) {
                self.behind.insert(key, position);
                continue;
            }
            if self.restarted.get(&key).is_some_and(|at| at.elapsed() < FETCH_RESTART_BACKOFF) {
                continue;
            }
            // Taking a partition out of the assignment and back is what a rebalance callback
            // does: while the group rebalances, librdkafka could take it for this member's
            // answer. Rebalances come in bursts, so the restart waits for a quiet interval.
            let last_rebalance = *consumer.context().last_rebalance.lock().unwrap_or_else(|p| p.into_inner());
            if last_rebalance.is_some_and(|at| at.elapsed() < FETCH_CHECK_INTERVAL) {
                self.behind.insert(key, position);
                continue;
            }
            self.restarted.insert(key.clone(), Instant::now());
            Self::restart(consumer, shared, &key, position, end);
        }
    }

    /// The positions of `keys`: where the consumer is, or the committed offset for a partition
    /// that has returned no message in this assignment. Partitions with neither are left out.
    fn positions(consumer: &BaseConsumer<WorkerContext>, keys: &[PartitionKey]) -> HashMap<PartitionKey, i64> {
        let mut found = HashMap::new();
        if keys.is_empty() {
            return found;
        }
        let Ok(all) = consumer.position() else { return found };
        let mut unknown = TopicPartitionList::new();
        for key in keys {
            match all.find_partition(&key.0, key.1).map(|e| e.offset()) {
                Some(rdkafka::Offset::Offset(offset)) => {
                    found.insert(key.clone(), offset);
                }
                Some(_) => {
                    unknown.add_partition(&key.0, key.1);
                }
                None => {}
            }
        }
        if unknown.count() > 0 {
            if let Ok(committed) = consumer.committed_offsets(unknown, FETCH_CHECK_TIMEOUT) {
                for element in committed.elements() {
                    if let rdkafka::Offset::Offset(offset) = element.offset() {
                        found.insert((element.topic().into(), element.partition()), offset);
                    }
                }
            }
        }
        found
    }

    /// The brokers' end offsets of `keys` (one request per leader).
    fn end_offsets<'a>(
        consumer: &BaseConsumer<WorkerContext>,
        keys: impl Iterator<Item = &'a PartitionKey>,
    ) -> HashMap<PartitionKey, i64> {
        let mut latest = TopicPartitionList::new();
        for key in keys {
            let _ = latest.add_partition_offset(&key.0, key.1, rdkafka::Offset::End);
        }
        if latest.count() == 0 {
            return HashMap::new();
        }
        let Ok(ends) = consumer.offsets_for_times(latest, FETCH_CHECK_TIMEOUT) else { return HashMap::new() };
        ends.elements()
            .iter()
            .filter(|e| e.error().is_ok())
            .filter_map(|e| match e.offset() {
                rdkafka::Offset::Offset(end) => Some(((e.topic().into(), e.partition()), end)),
                _ => None,
            })
            .collect()
    }

    fn restart(consumer: &BaseConsumer<WorkerContext>, shared: &Shared, key: &PartitionKey, position: i64, end: i64) {
        tracing::warn!(topic = %key.0, partition = key.1, position, end, interval_secs = FETCH_CHECK_INTERVAL.as_secs(),
            "partition not fetched for a whole check interval with records waiting past its position (a pause left over inside librdkafka): restarting its fetcher");
        shared.stats.record_fetch_restart();
        let mut partition = TopicPartitionList::new();
        partition.add_partition(&key.0, key.1);
        let restarted = consumer
            .incremental_unassign(&partition)
            .and_then(|()| consumer.incremental_assign(&partition))
            .and_then(|()| consumer.resume(&partition));
        if let Err(e) = restarted {
            tracing::error!(topic = %key.0, partition = key.1, error = %e,
                "restarting the partition's fetcher failed; it is tried again in a minute, and a rebalance or a restart of the worker also clears it");
        }
    }
}

/// The consumer thread's main loop. Returns after shutdown (or a fatal error) once the consumer
/// is closed.
pub(super) fn poll_loop(
    consumer: Arc<BaseConsumer<WorkerContext>>,
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
) {
    let context = consumer.context();
    // When the in-flight bound is reached, first just stop polling for a moment: the fetch
    // pipeline stays warm and work drains. Only if the bound stays reached for PAUSE_AFTER
    // (downstream stuck, broker down) are the partitions paused, so that polling — and with it
    // rebalance callbacks — can go on without taking in more messages. Pausing is not the
    // common path because librdkafka drops its prefetched messages on pause.
    let mut full_since: Option<Instant> = None;
    let mut idle_stored_at = Instant::now();
    let mut consume_errors = ConsumeErrors::default();
    let mut fetch_check = FetchCheck::default();
    while !shared.stopping() {
        let paused = context.paused.load(Ordering::Relaxed);
        let full = shared.in_flight_full();
        if full {
            fetch_check.hold_back();
        }
        if full && !paused {
            let since = *full_since.get_or_insert_with(Instant::now);
            if since.elapsed() < PAUSE_AFTER {
                shared.wait_for_progress(POLL_INTERVAL);
                continue;
            }
            if let Ok(assignment) = consumer.assignment() {
                let _ = consumer.pause(&assignment);
            }
            context.paused.store(true, Ordering::Relaxed);
            shared.stats.set_intake_paused(true);
            tracing::debug!(
                in_flight = shared.in_flight(),
                bytes = shared.in_flight_bytes(),
                "intake paused: in-flight bound reached and not draining"
            );
        } else if !full {
            full_since = None;
            if paused && shared.in_flight_low() {
                if let Ok(assignment) = consumer.assignment() {
                    let _ = consumer.resume(&assignment);
                }
                context.paused.store(false, Ordering::Relaxed);
                shared.stats.set_intake_paused(false);
                tracing::debug!(in_flight = shared.in_flight(), "intake resumed");
            }
        }
        match consumer.poll(POLL_INTERVAL) {
            Some(Ok(message)) => {
                consume_errors.clear();
                shared.health.reachable();
                shared.dispatch(message.detach(), &consumer, &runtime);
            }
            Some(Err(e)) => {
                consume_errors.report(&e, || {
                    let subscription =
                        consumer.subscription().map(|t| t.elements().iter().map(|e| e.topic().to_owned()).collect());
                    subscription.unwrap_or_else(|_| Vec::new()).join(",")
                });
            }
            None => {}
        }
        if idle_stored_at.elapsed() >= IDLE_STORE_INTERVAL {
            shared.store_idle_positions(&consumer, Intake::Running);
            idle_stored_at = Instant::now();
        }
        fetch_check.tick(&consumer, &shared);
    }

    // Shutdown (or fatal): stop intake, let partition tasks finish, commit, close. Partitions
    // assigned from now on start paused too (see `post_rebalance`).
    context.paused.store(true, Ordering::Relaxed);
    if let Ok(assignment) = consumer.assignment() {
        let _ = consumer.pause(&assignment);
    }
    let all = shared.partition_keys();
    let deadline = shared.shutdown_deadline();
    let reserve = SHUTDOWN_COMMIT_RESERVE.min(deadline.saturating_duration_since(Instant::now()) / 4);
    let drain_deadline = deadline - reserve;
    tracing::info!(in_flight = shared.in_flight(), "shutdown: draining in-flight work");
    shared.close_inputs(&all);
    while shared.in_flight() > 0 && Instant::now() < drain_deadline && !shared.failed() {
        // Keep serving callbacks while draining; no new message is dispatched.
        if let Some(Ok(message)) = consumer.poll(POLL_INTERVAL) {
            shared.not_dispatched(&message);
        }
    }
    if shared.failed() {
        tracing::error!("fatal error: exiting without committing unacknowledged work");
        return;
    }
    if shared.in_flight() > 0 {
        tracing::warn!(
            in_flight = shared.in_flight(),
            "shutdown deadline passed with work in flight; it will be re-processed after restart"
        );
    }
    shared.store_idle_positions(&consumer, Intake::Stopped);
    let commit = commit_before(&consumer, deadline);
    match commit {
        Commit::Committed => tracing::info!("shutdown: offsets committed"),
        Commit::NothingNew => tracing::info!("shutdown: no new offsets to commit (all stored offsets were committed)"),
        // Both were logged where they happened.
        Commit::Failed | Commit::TimedOut => {}
    }
    // Partition tasks hold clones of the consumer to store offsets; wait until they have exited so
    // that the close below (which blocks and runs the revoke callback) happens on this thread.
    let let_go_by = shared.exit_deadline();
    while Arc::strong_count(&consumer) > 1 && Instant::now() < let_go_by {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(10)) {
            shared.not_dispatched(&message);
        }
    }
    shared.forget(&all);
    if Arc::strong_count(&consumer) > 1 {
        // Unfinished work (or the final commit, still running) holds the consumer. It is dropped
        // when the process exits (the runtime's shutdown), and the consumer's close runs then,
        // leaving the group if it completes in time; nothing of that work is stored (its
        // partitions are forgotten).
        let holder = if commit == Commit::TimedOut { "the final commit" } else { "unfinished work" };
        tracing::warn!(
            holder,
            "shutdown deadline reached with the consumer still in use: not leaving the group now; the consumer \
             is closed as the process exits (if the group is not left then, it reassigns the partitions after \
             the session timeout)"
        );
        drop(consumer);
        return;
    }
    tracing::info!("shutdown: closing the consumer and leaving the group");
    drop(consumer);
    tracing::info!("shutdown: consumer closed");
}

/// The final commit, abandoned at `deadline`. With the group coordinator unreachable a
/// synchronous commit blocks until the session times out (45 s by default), past any shutdown
/// budget, so it runs on a thread of its own; when the deadline passes first, that thread keeps
/// its reference to the consumer and the process exits without waiting for it. What was not
/// committed is re-processed after a restart: duplicates, never loss.
fn commit_before(consumer: &Arc<BaseConsumer<WorkerContext>>, deadline: Instant) -> Commit {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let committing = consumer.clone();
    let spawned = std::thread::Builder::new().name("final-commit".into()).spawn(move || {
        let _ = done_tx.send(commit_with_retries(&committing, "shutdown", true));
    });
    if spawned.is_err() {
        return commit_with_retries(consumer, "shutdown", true);
    }
    let wait = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(100));
    match done_rx.recv_timeout(wait) {
        Ok(committed) => committed,
        Err(_) => {
            tracing::warn!(
                "shutdown deadline passed during the final commit (is the group coordinator reachable?); \
                 exiting without it: uncommitted work is re-processed after a restart"
            );
            Commit::TimedOut
        }
    }
}

/// Stores `offset` of `topic`/`partition` as processed (librdkafka commits offset + 1).
pub(super) fn store(consumer: &BaseConsumer<WorkerContext>, key: &PartitionKey, offset: i64) {
    if let Err(e) = consumer.store_offset(&key.0, key.1, offset) {
        // The partition was revoked meanwhile: the next owner re-processes from the last commit.
        tracing::debug!(topic = %key.0, partition = key.1, offset, error = %e, "offset not stored");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consume_error_is_warned_once_until_a_message_arrives() {
        let mut errors = ConsumeErrors::default();
        let topics = || "news.raw".to_owned();
        let unauthorised = KafkaError::MessageConsumption(RDKafkaErrorCode::TopicAuthorizationFailed);
        let unknown = KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownTopicOrPartition);
        assert!(errors.report(&unauthorised, topics));
        assert!(!errors.report(&unauthorised, topics), "the same error again");
        assert!(errors.report(&unknown, topics), "another error");
        errors.clear();
        assert!(errors.report(&unauthorised, topics), "after a message, a new occurrence");
        // Connection errors have their own once-per-state-change warning.
        assert!(!errors.report(&KafkaError::MessageConsumption(RDKafkaErrorCode::AllBrokersDown), topics));
        // Bounded: errors whose text varies cannot flood the log.
        let mut errors = ConsumeErrors::default();
        let warned =
            (0..100).filter(|i| errors.report(&KafkaError::Subscription(format!("topic-{i}")), topics)).count();
        assert_eq!(warned, MAX_DISTINCT_CONSUME_ERRORS);
    }
}
