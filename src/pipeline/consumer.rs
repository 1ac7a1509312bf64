//! The consumer thread: owns the librdkafka consumer, polls it, dispatches messages to partition
//! tasks, pauses intake when too much is in flight, and handles rebalances and shutdown.
//!
//! It is a plain thread, not an async task, on purpose: rebalance callbacks run inside `poll` and
//! must block while revoked partitions drain, and closing a consumer blocks too. Neither may
//! happen on an async runtime thread.
//!
//! It also stores the positions of idle partitions (so transaction markers at their ends get
//! committed, `Shared::store_idle_positions`) and the log starts of partitions whose unread
//! records were deleted (`Shared::store_log_starts`), and `FetchCheck` finds partitions librdkafka
//! has stopped fetching and restarts them.
//!
//! Who pauses fetching of the assignment, and who lifts the pause:
//!
//! | pause | set by | lifted by |
//! |---|---|---|
//! | rebalance barrier | `pre_rebalance` | `post_rebalance`, unless intake is paused |
//! | backpressure (`WorkerContext::paused`) | `poll_loop`, in-flight bound reached for `PAUSE_AFTER` | `poll_loop`, once in-flight work is low |
//! | shutdown or fatal error | `poll_loop`, for good | — |
//!
//! While intake is paused, `post_rebalance` pauses newly assigned partitions as well (librdkafka
//! assigns them unpaused); otherwise it resumes the whole assignment, because librdkafka keeps a
//! pause across a partition's revocation and reassignment.

use super::{Intake, PartitionKey, Shared};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{ClientContext, TopicPartitionList};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Rebalance callbacks begun and ended so far (see [`FetchCheck`]).
    rebalance_callbacks: AtomicU64,
    /// Whether librdkafka's last statistics showed the group steady: joined, no rebalance under
    /// way (see [`FetchCheck`]).
    group_steady: AtomicBool,
}

impl WorkerContext {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        WorkerContext {
            shared,
            paused: AtomicBool::new(false),
            rebalance_callbacks: AtomicU64::new(0),
            group_steady: AtomicBool::new(false),
        }
    }
}

/// Pauses (or resumes) fetching of every partition currently assigned. A resume also lifts a
/// pause kept from before a partition's revocation (see `post_rebalance`).
fn pause_assignment(consumer: &BaseConsumer<WorkerContext>, pause: bool) {
    let Ok(assignment) = consumer.assignment() else { return };
    if assignment.count() > 0 {
        let _ = if pause { consumer.pause(&assignment) } else { consumer.resume(&assignment) };
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
        self.shared.update_lag(per_partition(&statistics, lag_of));
        self.shared.update_log_starts(per_partition(&statistics, start_past_commit));
        let steady = statistics.cgrp.as_ref().is_some_and(|g| g.state == "up" && g.join_state == "steady");
        self.group_steady.store(steady, Ordering::Relaxed);
    }
}

/// `read` of each partition in librdkafka's statistics, by partition.
fn per_partition<'a, T: 'a>(
    statistics: &'a rdkafka::Statistics,
    read: fn(&rdkafka::statistics::Partition) -> T,
) -> impl Iterator<Item = (PartitionKey, T)> + 'a {
    statistics.topics.iter().flat_map(move |(topic, t)| {
        let topic: Arc<str> = topic.as_str().into();
        // Partition -1 is librdkafka's internal "unassigned" partition.
        t.partitions.iter().filter(|(p, _)| **p >= 0).map(move |(p, s)| ((topic.clone(), *p), read(s)))
    })
}

/// A partition's consumer lag in offsets, -1 while unknown: librdkafka's (high watermark −
/// committed offset). librdkafka reports -1 for a partition its group never committed (a first
/// deployment, a new group, a reset), which is just when a worker stuck from the start must
/// show a lag: once fetching has started there, the lag is counted from the offset stored for
/// the next commit, or else from the log start, where the worker began (`auto.offset.reset =
/// earliest`).
fn lag_of(s: &rdkafka::statistics::Partition) -> i64 {
    if s.consumer_lag >= 0 {
        s.consumer_lag
    } else if s.fetch_state != "active" || s.committed_offset >= 0 || s.hi_offset < 0 {
        -1
    } else if s.consumer_lag_stored >= 0 {
        s.consumer_lag_stored
    } else if s.lo_offset >= 0 {
        (s.hi_offset - s.lo_offset).max(0)
    } else {
        -1
    }
}

/// The log start of a partition being fetched whose log starts past the group's committed
/// offset: the records in between were deleted before they were read (see
/// `Shared::store_log_starts`).
fn start_past_commit(s: &rdkafka::statistics::Partition) -> Option<i64> {
    (s.fetch_state == "active" && s.committed_offset >= 0 && s.lo_offset > s.committed_offset).then_some(s.lo_offset)
}

impl ConsumerContext for WorkerContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        self.rebalance_callbacks.fetch_add(1, Ordering::Relaxed);
        if !matches!(rebalance, Rebalance::Error(_)) {
            // librdkafka pauses the assignment itself when it schedules this callback, but
            // asynchronously, and the resume it sends when the callback (un)assigns is skipped
            // for a partition whose pause has not been applied yet: that partition would stay
            // paused for good, fetched never again and with no lag to show for it. This pause
            // is synchronous and queued behind librdkafka's, so when it returns librdkafka's has
            // been applied and its resume will find it. `post_rebalance` lifts this one.
            pause_assignment(consumer, true);
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
            self.shared.stats.record_revocation_undrained();
            tracing::warn!(partitions = %describe(tpl), timeout_ms = self.shared.drain_timeout.as_millis() as u64,
                "drain deadline passed; releasing partitions with work in flight (it will be re-processed by the next owner; records already handed to the producer are still written)");
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
        self.rebalance_callbacks.fetch_add(1, Ordering::Relaxed);
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
                    pause_assignment(consumer, false);
                }
            }
            Rebalance::Revoke(_) => {
                self.shared.stats.set_assigned(consumer.assignment().map(|a| a.count()).unwrap_or(0));
                if !self.paused.load(Ordering::Relaxed) {
                    pause_assignment(consumer, false);
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
                if self.shared.stopping() {
                    tracing::warn!(error = %e, partitions = %describe(offsets), "offset commit failed at shutdown; what it held is re-processed after a restart");
                } else {
                    tracing::warn!(error = %e, partitions = %describe(offsets), "offset commit failed; the offsets stay stored and are committed again");
                }
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
/// by `pre_rebalance`), and a pause, resume or fetch start is discarded as outdated when another
/// thread queued an operation for the same partition at the same moment. Such a partition is
/// never fetched again, and nothing says so: librdkafka's lag comes from fetches, so it stays at
/// what it was. This check is the net under those races and any others like them.
///
/// A partition counts as not fetched when two checks in a row (an interval apart) found it with
/// nothing in flight, at the same position, behind the brokers' end offset (the last stable
/// offset under `read_committed`), while between them intake was never held back (in-flight
/// bound reached, paused), the brokers were up, no rebalance callback ran and librdkafka's
/// statistics showed the group steady. Its fetcher is then restarted by taking it out of the
/// consumer's assignment and putting it back: that clears librdkafka's pauses as well as the
/// worker's and starts a new fetcher from the stored offset, committed on the way out. The group
/// is not involved. At most once a minute per partition.
///
/// Limits: a rebalance that starts in the instant of a restart could take it for this member's
/// answer (duplicates would follow, never loss; the steady-group condition makes that unlikely);
/// a partition that cannot be fetched for another reason (read not authorised, repeated fetch
/// errors) is restarted once a minute to no effect, with the warning saying so; with an eager
/// assignor (`partition.assignment.strategy` range or roundrobin) a partition cannot be taken
/// out of the assignment alone, so it is only reported; and when the brokers cannot say where
/// one partition's leader is, that check is skipped for all.
#[derive(Default)]
struct FetchCheck {
    /// When the current interval began.
    since: Option<Instant>,
    /// Whether intake was held back during the current interval.
    held_back: bool,
    /// `WorkerContext::rebalance_callbacks` at the last check.
    rebalance_callbacks: u64,
    /// The partitions found behind their end offset at the last check, with their positions.
    behind: HashMap<PartitionKey, i64>,
    /// When each partition's fetcher was last restarted.
    restarted: HashMap<PartitionKey, Instant>,
    /// Partitions taken out of the assignment whose putting back failed: tried again at every
    /// check while they are this worker's.
    to_reassign: Vec<PartitionKey>,
}

/// What a check of the partitions saw (see [`FetchCheck::judge`]).
#[derive(Debug, Default)]
struct Seen {
    /// Something since the last check makes positions incomparable or a restart unsafe: intake
    /// held back, brokers down, a rebalance, a group not steady.
    interrupted: bool,
    /// Owned partitions with nothing in flight, and their positions.
    positions: HashMap<PartitionKey, i64>,
    /// End offsets.
    ends: HashMap<PartitionKey, i64>,
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
        self.reassign(consumer, shared);
        let context = consumer.context();
        let callbacks = context.rebalance_callbacks.load(Ordering::Relaxed);
        let rebalanced = std::mem::replace(&mut self.rebalance_callbacks, callbacks) != callbacks;
        let mut seen = Seen {
            interrupted: std::mem::take(&mut self.held_back)
                || context.paused.load(Ordering::Relaxed)
                || !shared.health.is_up()
                || rebalanced
                || !context.group_steady.load(Ordering::Relaxed),
            ..Seen::default()
        };
        if !seen.interrupted {
            seen.positions = Self::positions(consumer, &shared.idle_owned_partitions());
            seen.ends = Self::offsets(consumer, seen.positions.keys(), rdkafka::Offset::End);
        }
        for (key, position, end) in self.judge(seen, Instant::now()) {
            self.restart(consumer, shared, &key, position, end);
        }
    }

    /// Decides from what a check saw which partitions to restart: (partition, position, end).
    fn judge(&mut self, seen: Seen, now: Instant) -> Vec<(PartitionKey, i64, i64)> {
        let previous = std::mem::take(&mut self.behind);
        self.restarted.retain(|_, at| now.duration_since(*at) < FETCH_RESTART_BACKOFF);
        if seen.interrupted {
            return Vec::new();
        }
        let mut due = Vec::new();
        for (key, position) in seen.positions {
            match seen.ends.get(&key) {
                Some(&end) if position < end => {
                    if previous.get(&key) == Some(&position) && !self.restarted.contains_key(&key) {
                        self.restarted.insert(key.clone(), now);
                        due.push((key, position, end));
                    } else {
                        self.behind.insert(key, position);
                    }
                }
                _ => {}
            }
        }
        due.sort();
        due
    }

    /// The positions of `keys`: where the consumer is; for a partition that has returned no
    /// message in this assignment, the committed offset, or without one the partition's first
    /// offset (`auto.offset.reset` is always `earliest`). Partitions with none are left out.
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
            let mut uncommitted = Vec::new();
            if let Ok(committed) = consumer.committed_offsets(unknown, FETCH_CHECK_TIMEOUT) {
                for element in committed.elements() {
                    let key: PartitionKey = (element.topic().into(), element.partition());
                    match element.offset() {
                        rdkafka::Offset::Offset(offset) => {
                            found.insert(key, offset);
                        }
                        _ => uncommitted.push(key),
                    }
                }
            }
            found.extend(Self::offsets(consumer, uncommitted.iter(), rdkafka::Offset::Beginning));
        }
        found
    }

    /// The brokers' first (`Offset::Beginning`) or end (`Offset::End`) offsets of `keys`, one
    /// request per leader.
    fn offsets<'a>(
        consumer: &BaseConsumer<WorkerContext>,
        keys: impl Iterator<Item = &'a PartitionKey>,
        which: rdkafka::Offset,
    ) -> HashMap<PartitionKey, i64> {
        let mut query = TopicPartitionList::new();
        for key in keys {
            let _ = query.add_partition_offset(&key.0, key.1, which);
        }
        if query.count() == 0 {
            return HashMap::new();
        }
        let Ok(answer) = consumer.offsets_for_times(query, FETCH_CHECK_TIMEOUT) else { return HashMap::new() };
        answer
            .elements()
            .iter()
            .filter(|e| e.error().is_ok())
            .filter_map(|e| match e.offset() {
                rdkafka::Offset::Offset(offset) => Some(((e.topic().into(), e.partition()), offset)),
                _ => None,
            })
            .collect()
    }

    fn restart(
        &mut self,
        consumer: &BaseConsumer<WorkerContext>,
        shared: &Shared,
        key: &PartitionKey,
        position: i64,
        end: i64,
    ) {
        let cooperative = matches!(consumer.rebalance_protocol(), rdkafka::consumer::RebalanceProtocol::Cooperative);
        if !cooperative {
            tracing::warn!(topic = %key.0, partition = key.1, position, end, interval_secs = FETCH_CHECK_INTERVAL.as_secs(),
                "partition not fetched for a whole check interval with records waiting past its position (a pause left inside librdkafka, or fetches failing); \
                 with an eager assignor it cannot be restarted alone: a rebalance or a restart of the worker clears it");
            shared.stats.record_not_fetched(false);
            return;
        }
        tracing::warn!(topic = %key.0, partition = key.1, position, end, interval_secs = FETCH_CHECK_INTERVAL.as_secs(),
            "partition not fetched for a whole check interval with records waiting past its position (a pause left inside librdkafka, or fetches failing): restarting its fetcher");
        shared.stats.record_not_fetched(true);
        let mut partition = TopicPartitionList::new();
        partition.add_partition(&key.0, key.1);
        if let Err(e) = consumer.incremental_unassign(&partition) {
            tracing::error!(topic = %key.0, partition = key.1, error = %e,
                "restarting the partition's fetcher failed; it is tried again in a minute, and a rebalance or a restart of the worker also clears it");
            return;
        }
        self.to_reassign.push(key.clone());
        self.reassign(consumer, shared);
    }

    /// Puts the partitions taken out for a restart back into the assignment and lifts the
    /// worker's pause from them; those it fails for stay in `to_reassign`, tried at each check
    /// while they are this worker's and not assigned again by a rebalance.
    fn reassign(&mut self, consumer: &BaseConsumer<WorkerContext>, shared: &Shared) {
        if self.to_reassign.is_empty() {
            return;
        }
        let assigned = consumer.assignment().unwrap_or_default();
        self.to_reassign.retain(|key| {
            if !shared.owns(key) || assigned.find_partition(&key.0, key.1).is_some() {
                return false;
            }
            let mut partition = TopicPartitionList::new();
            partition.add_partition(&key.0, key.1);
            match consumer.incremental_assign(&partition).and_then(|()| consumer.resume(&partition)) {
                Ok(()) => false,
                Err(e) => {
                    tracing::error!(topic = %key.0, partition = key.1, error = %e,
                        "putting a restarted partition back into the assignment failed; tried again at the next check");
                    true
                }
            }
        });
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
            pause_assignment(&consumer, true);
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
                pause_assignment(&consumer, false);
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
            shared.store_log_starts(&consumer, FETCH_CHECK_TIMEOUT);
            idle_stored_at = Instant::now();
        }
        fetch_check.tick(&consumer, &shared);
    }

    // Shutdown (or fatal): stop intake, let partition tasks finish, commit, close. Partitions
    // assigned from now on start paused too (see `post_rebalance`).
    context.paused.store(true, Ordering::Relaxed);
    pause_assignment(&consumer, true);
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
    if close_before(consumer, shared.exit_deadline()) {
        tracing::info!("shutdown: consumer closed");
    } else {
        tracing::warn!(
            "shutdown deadline reached while closing the consumer (is the group coordinator unreachable?): exiting \
             without leaving the group; it reassigns the partitions after the session timeout, and nothing \
             uncommitted is lost (it is re-processed)"
        );
    }
}

/// Closes the consumer (librdkafka's close: the revoke callback, a last commit of stored offsets,
/// leaving the group), abandoned at `deadline`: with the coordinator unreachable the close blocks
/// for the whole session timeout (45 s by default), past the shutdown budget and the orchestrator's
/// grace period. Like [`commit_before`], it runs on a thread of its own that the process does not
/// wait for. Whether it finished in time.
fn close_before(consumer: Arc<BaseConsumer<WorkerContext>>, deadline: Instant) -> bool {
    match on_thread_until("consumer-close", deadline, Duration::ZERO, move || drop(consumer)) {
        Ok(done) => done.is_some(),
        Err(e) => {
            // The work, and with it the consumer, was dropped unrun: closed on this thread.
            tracing::warn!(error = %e, "could not start a thread to close the consumer; it was closed here");
            true
        }
    }
}

/// Runs `work` on a thread named `name` and waits for it until `deadline` (at least
/// `min_wait`): `Some` of its result, or `None` when the deadline passed first, leaving the
/// thread to finish or to end with the process. `Err` when no thread could be started; `work`
/// was then dropped without running.
fn on_thread_until<T: Send + 'static>(
    name: &str,
    deadline: Instant,
    min_wait: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<Option<T>> {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new().name(name.into()).spawn(move || {
        let _ = done_tx.send(work());
    })?;
    Ok(done_rx.recv_timeout(deadline.saturating_duration_since(Instant::now()).max(min_wait)).ok())
}

/// The final commit, abandoned at `deadline`. With the group coordinator unreachable a
/// synchronous commit blocks until the session times out (45 s by default), past any shutdown
/// budget, so it runs on a thread of its own; when the deadline passes first, that thread keeps
/// its reference to the consumer and the process exits without waiting for it. What was not
/// committed is re-processed after a restart: duplicates, never loss.
fn commit_before(consumer: &Arc<BaseConsumer<WorkerContext>>, deadline: Instant) -> Commit {
    let committing = consumer.clone();
    let work = move || commit_with_retries(&committing, "shutdown", true);
    match on_thread_until("final-commit", deadline, Duration::from_millis(100), work) {
        Ok(Some(committed)) => committed,
        Ok(None) => {
            tracing::warn!(
                "shutdown deadline passed during the final commit (is the group coordinator reachable?); \
                 exiting without it: uncommitted work is re-processed after a restart"
            );
            Commit::TimedOut
        }
        Err(_) => commit_with_retries(consumer, "shutdown", true),
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

    /// A group that never committed had no lag at all (librdkafka says -1), so a worker stuck
    /// from its first message showed none: now the backlog from the log start, or from the
    /// offset stored for the next commit.
    #[test]
    fn lag_is_known_for_a_partition_never_committed() {
        use rdkafka::statistics::Partition;
        let partition = |fetch_state: &str, committed: i64, lag: i64, lag_stored: i64| Partition {
            fetch_state: fetch_state.into(),
            committed_offset: committed,
            consumer_lag: lag,
            consumer_lag_stored: lag_stored,
            lo_offset: 100,
            hi_offset: 400,
            ..Partition::default()
        };
        assert_eq!(lag_of(&partition("active", 250, 150, 120)), 150, "librdkafka's, once committed");
        assert_eq!(lag_of(&partition("active", -1001, -1, -1)), 300, "never committed: from the log start");
        assert_eq!(lag_of(&partition("active", -1001, -1, 40)), 40, "never committed, some stored");
        assert_eq!(lag_of(&partition("offset-query", -1001, -1, -1)), -1, "not fetching yet: unknown");
        let unknown_end = Partition { hi_offset: -1, ..partition("active", -1001, -1, -1) };
        assert_eq!(lag_of(&unknown_end), -1);
    }

    /// Records deleted past the commit are noted only for a partition being fetched, with a
    /// commit to be behind of.
    #[test]
    fn a_log_start_past_the_commit_is_noted_while_fetching() {
        use rdkafka::statistics::Partition;
        let partition = |fetch_state: &str, committed: i64, lo: i64| Partition {
            fetch_state: fetch_state.into(),
            committed_offset: committed,
            lo_offset: lo,
            hi_offset: 400,
            ..Partition::default()
        };
        assert_eq!(start_past_commit(&partition("active", 250, 400)), Some(400), "emptied past the commit");
        assert_eq!(start_past_commit(&partition("active", 250, 300)), Some(300), "deleted in part");
        assert_eq!(start_past_commit(&partition("active", 250, 250)), None, "nothing deleted unread");
        assert_eq!(start_past_commit(&partition("active", 250, 100)), None);
        assert_eq!(start_past_commit(&partition("active", -1001, 400)), None, "never committed: nothing to be behind");
        assert_eq!(start_past_commit(&partition("offset-query", 250, 400)), None, "not fetching yet");
        assert_eq!(start_past_commit(&partition("active", 250, -1)), None, "log start unknown");
    }

    fn key(partition: i32) -> PartitionKey {
        ("news.raw".into(), partition)
    }

    /// A check that saw these (partition, position) and (partition, end offset) pairs.
    fn saw(positions: &[(i32, i64)], ends: &[(i32, i64)]) -> Seen {
        Seen {
            interrupted: false,
            positions: positions.iter().map(|&(p, o)| (key(p), o)).collect(),
            ends: ends.iter().map(|&(p, o)| (key(p), o)).collect(),
        }
    }

    fn interrupted() -> Seen {
        Seen { interrupted: true, ..Seen::default() }
    }

    #[test]
    fn a_partition_behind_at_one_position_in_two_checks_in_a_row_is_restarted_once_a_minute() {
        let mut check = FetchCheck::default();
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        // 0 is behind, 1 is at its end, 2 is behind, 3 has no end offset (its leader unknown).
        assert!(check.judge(saw(&[(0, 5), (1, 10), (2, 3), (3, 1)], &[(0, 9), (1, 10), (2, 9)]), at(0)).is_empty());
        // 0 did not move: restarted. 2 moved, 1 and 3 cannot be judged.
        let due = check.judge(saw(&[(0, 5), (1, 10), (2, 4), (3, 1)], &[(0, 12), (1, 11), (2, 9)]), at(5));
        assert_eq!(due, [(key(0), 5, 12)]);
        // 2 did not move since: restarted; 0 still has not moved, but was restarted a moment ago.
        let due = check.judge(saw(&[(0, 5), (2, 4)], &[(0, 12), (2, 9)]), at(10));
        assert_eq!(due, [(key(2), 4, 9)]);
        assert!(check.judge(saw(&[(0, 5), (2, 9)], &[(0, 12), (2, 9)]), at(55)).is_empty());
        // A minute after its restart, 0 (still stuck) is restarted again.
        assert_eq!(check.judge(saw(&[(0, 5)], &[(0, 12)]), at(65)), [(key(0), 5, 12)]);
    }

    #[test]
    fn positions_are_compared_only_across_an_uninterrupted_interval() {
        let mut check = FetchCheck::default();
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        // Behind at the first check; then a rebalance callback (or intake held back, brokers
        // down, a group not steady) during which nothing is polled.
        assert!(check.judge(saw(&[(0, 5)], &[(0, 9)]), at(0)).is_empty());
        assert!(check.judge(interrupted(), at(5)).is_empty());
        // The position has not moved, but the interval it stood still in was interrupted.
        assert!(check.judge(saw(&[(0, 5)], &[(0, 9)]), at(10)).is_empty());
        assert_eq!(check.judge(saw(&[(0, 5)], &[(0, 9)]), at(15)), [(key(0), 5, 9)]);
    }

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
