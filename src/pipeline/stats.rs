//! The worker's counters and gauges, defined once: every `record_*` call updates the Prometheus
//! metric families (exported on `/metrics`) and the in-process snapshot (read by the demo summary
//! and tests). Plain atomics on the hot path; label maps only for per-tag/topic/reason counts.

use crate::article::EnrichedArticle;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

/// The DLQ reason of an input whose enriched record the broker refused for good (the other
/// reasons are [`crate::article::DecodeError::CLASSES`]).
pub const PRODUCE_FAILED: &str = "produce_failed";
use std::time::Duration;

/// `news_enricher_taxonomy_reloads_total{result}` values.
const RELOADED: &str = "reloaded";
const RELOAD_FAILED: &str = "failed";
/// `partitions_not_fetched_total{action}`: the partition's fetcher was restarted, or (under an
/// eager assignor) the partition could only be reported.
const NOT_FETCHED_RESTARTED: &str = "restarted";
const NOT_FETCHED_REPORTED: &str = "reported";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicLabel {
    pub topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    pub topic: String,
    pub partition: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TagLabel {
    tag: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LabelLabel {
    label: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabel {
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: String,
}

/// Prometheus families; names get the `news_enricher_` prefix (and `_total` for counters).
struct Families {
    consumed: Family<TopicLabel, Counter>,
    produced: Family<TopicLabel, Counter>,
    dlq: Family<ReasonLabel, Counter>,
    tombstones: Counter,
    processing: Histogram,
    article_age: Histogram,
    in_flight: Gauge,
    lag: Family<PartitionLabels, Gauge>,
    lag_seconds: Family<PartitionLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    rebalances: Family<KindLabel, Counter>,
    tags: Family<TagLabel, Counter>,
    sentiment: Family<LabelLabel, Counter>,
    commits: Family<ResultLabel, Counter>,
    assigned: Gauge,
    intake_paused: Gauge,
    stalled: Gauge,
    ready: Gauge,
    broker_up: Gauge,
    taxonomy: Family<VersionLabel, Gauge>,
    taxonomy_reloads: Family<ResultLabel, Counter>,
    taxonomy_reload_ok: Gauge,
    revocations_uncommitted: Counter,
    revocations_undrained: Counter,
    not_fetched: Family<ActionLabel, Counter>,
}

pub struct Stats {
    pub consumed: AtomicU64,
    pub enriched: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub tombstones: AtomicU64,
    pub produced: AtomicU64,
    pub assigned_partitions: AtomicUsize,
    revocations_uncommitted: AtomicU64,
    revocations_undrained: AtomicU64,
    fetch_restarts: AtomicU64,
    fetch_stalls_reported: AtomicU64,
    by_tag: Mutex<BTreeMap<String, u64>>,
    by_dlq_reason: Mutex<BTreeMap<&'static str, u64>>,
    by_topic: Mutex<BTreeMap<String, u64>>,
    by_sentiment: Mutex<BTreeMap<&'static str, u64>>,
    rebalances: Mutex<BTreeMap<&'static str, u64>>,
    /// The version `news_enricher_taxonomy_info` shows.
    taxonomy_version: Mutex<Option<String>>,
    families: Families,
    registry: Registry,
}

impl std::fmt::Debug for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stats").field("snapshot", &self.snapshot()).finish()
    }
}

/// A point-in-time copy of the counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub consumed: u64,
    pub enriched: u64,
    pub dead_lettered: u64,
    pub tombstones: u64,
    pub produced: u64,
    pub by_tag: BTreeMap<String, u64>,
    pub by_dlq_reason: BTreeMap<&'static str, u64>,
    pub by_topic: BTreeMap<String, u64>,
    pub by_sentiment: BTreeMap<&'static str, u64>,
    pub rebalances: BTreeMap<&'static str, u64>,
    /// Revocations whose commit failed (see `Stats::record_revocation_uncommitted`).
    pub revocations_uncommitted: u64,
    /// Revocations whose drain deadline passed (see `Stats::record_revocation_undrained`).
    pub revocations_undrained: u64,
    /// Partitions found not fetched and restarted (see `Stats::record_not_fetched`).
    pub fetch_restarts: u64,
    /// Partitions found not fetched that could not be restarted (eager assignors).
    pub fetch_stalls_reported: u64,
}

/// What the statistics count of an enriched article, kept until its records are acknowledged:
/// an article whose record the broker refuses for good is dead-lettered instead, and counted
/// only as such.
#[derive(Debug, Clone)]
pub struct Counted {
    pub tags: Vec<String>,
    pub sentiment: &'static str,
}

impl Counted {
    pub fn of(article: &EnrichedArticle) -> Self {
        Counted {
            tags: article.enrichment.tags.iter().map(|t| t.id.clone()).collect(),
            sentiment: article.enrichment.sentiment.label,
        }
    }
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    *map.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_default() += 1;
}

impl Default for Stats {
    fn default() -> Self {
        let families = Families {
            consumed: Family::default(),
            produced: Family::default(),
            dlq: Family::default(),
            tombstones: Counter::default(),
            // 20 µs … ~5 s
            processing: Histogram::new(exponential_buckets(0.000_02, 2.5, 14)),
            // 1 ms … ~1 h
            article_age: Histogram::new(exponential_buckets(0.001, 3.0, 15)),
            in_flight: Gauge::default(),
            lag: Family::default(),
            lag_seconds: Family::default(),
            rebalances: Family::default(),
            tags: Family::default(),
            sentiment: Family::default(),
            commits: Family::default(),
            assigned: Gauge::default(),
            intake_paused: Gauge::default(),
            stalled: Gauge::default(),
            ready: Gauge::default(),
            broker_up: Gauge::default(),
            taxonomy: Family::default(),
            taxonomy_reloads: Family::default(),
            taxonomy_reload_ok: Gauge::default(),
            revocations_uncommitted: Counter::default(),
            revocations_undrained: Counter::default(),
            not_fetched: Family::default(),
        };
        let mut registry = Registry::with_prefix("news_enricher");
        let f = &families;
        registry.register("messages_consumed", "Messages consumed from input topics", f.consumed.clone());
        registry.register(
            "records_produced",
            "Records acknowledged by the broker, by output topic",
            f.produced.clone(),
        );
        registry.register("dlq_records", "Inputs sent to the dead-letter topic, by reason", f.dlq.clone());
        registry.register(
            "tombstones",
            "Tombstones (a key with a null value) passed on to the output and route topics",
            f.tombstones.clone(),
        );
        registry.register("processing_duration_seconds", "Time to decode and enrich one message", f.processing.clone());
        registry.register(
            "article_age_seconds",
            "Age of an article when its enriched record is acknowledged (now - input message timestamp)",
            f.article_age.clone(),
        );
        registry.register(
            "messages_in_flight",
            "Messages consumed and not yet fully acknowledged",
            f.in_flight.clone(),
        );
        registry.register("consumer_lag", "Consumer lag in offsets, owned partitions only", f.lag.clone());
        registry.register(
            "consumer_lag_seconds",
            "Age of the oldest unprocessed message, owned partitions only",
            f.lag_seconds.clone(),
        );
        registry.register("rebalances", "Partition assignments and revocations", f.rebalances.clone());
        registry.register("tags", "Tags assigned, by tag", f.tags.clone());
        registry.register("sentiment", "Articles by sentiment label", f.sentiment.clone());
        registry.register("commits", "Offset commits, by result", f.commits.clone());
        registry.register(
            "revocations_uncommitted",
            "Revocations whose synchronous commit failed: the next owner re-processes their work since the last commit",
            f.revocations_uncommitted.clone(),
        );
        registry.register(
            "revocations_undrained",
            "Revocations whose drain deadline passed: their unfinished work is left to the next owner",
            f.revocations_undrained.clone(),
        );
        registry.register(
            "partitions_not_fetched",
            "Owned partitions found not fetched while records waited past their position, by action: restarted (their fetcher), or reported (eager assignors)",
            f.not_fetched.clone(),
        );
        registry.register("assigned_partitions", "Partitions currently assigned to this worker", f.assigned.clone());
        registry.register(
            "intake_paused",
            "1 while intake is paused because the in-flight bound stayed reached (backpressure)",
            f.intake_paused.clone(),
        );
        registry.register(
            "stalled",
            "1 when the worker holds partitions with lag but makes no progress",
            f.stalled.clone(),
        );
        registry.register("ready", READY_HELP, f.ready.clone());
        registry.register("broker_up", "1 when the brokers are reachable", f.broker_up.clone());
        registry.register(
            "taxonomy_info",
            "1 for the version of the taxonomy in use (the taxonomy file's `version`)",
            f.taxonomy.clone(),
        );
        registry.register(
            "taxonomy_reloads",
            "Taxonomy reloads (SIGHUP, taxonomy.watch_secs), by result: reloaded, or failed (the worker kept its taxonomy)",
            f.taxonomy_reloads.clone(),
        );
        registry.register(
            "taxonomy_last_reload_successful",
            "0 when the taxonomy file failed its last reload (the worker kept its taxonomy), else 1",
            f.taxonomy_reload_ok.clone(),
        );
        register_build_info(&mut registry);
        families.broker_up.set(1);
        families.taxonomy_reload_ok.set(1);
        // Labelled counters exist at 0 from the start, so that `rate()` and `increase()` see
        // their first increment (a series born at 1 is counted from 1).
        for reason in crate::article::DecodeError::CLASSES.into_iter().chain([PRODUCE_FAILED]) {
            let _ = families.dlq.get_or_create(&ReasonLabel { reason: reason.to_owned() });
        }
        for kind in ["assign", "revoke", "lost"] {
            let _ = families.rebalances.get_or_create(&KindLabel { kind: kind.to_owned() });
        }
        for result in ["ok", "error"] {
            let _ = families.commits.get_or_create(&ResultLabel { result: result.to_owned() });
        }
        for result in [RELOADED, RELOAD_FAILED] {
            let _ = families.taxonomy_reloads.get_or_create(&ResultLabel { result: result.to_owned() });
        }
        for action in [NOT_FETCHED_RESTARTED, NOT_FETCHED_REPORTED] {
            let _ = families.not_fetched.get_or_create(&ActionLabel { action: action.to_owned() });
        }
        Stats {
            consumed: AtomicU64::new(0),
            enriched: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            tombstones: AtomicU64::new(0),
            produced: AtomicU64::new(0),
            assigned_partitions: AtomicUsize::new(0),
            revocations_uncommitted: AtomicU64::new(0),
            revocations_undrained: AtomicU64::new(0),
            fetch_restarts: AtomicU64::new(0),
            fetch_stalls_reported: AtomicU64::new(0),
            by_tag: Mutex::default(),
            by_dlq_reason: Mutex::default(),
            by_topic: Mutex::default(),
            by_sentiment: Mutex::default(),
            rebalances: Mutex::default(),
            taxonomy_version: Mutex::default(),
            families,
            registry,
        }
    }
}

impl Stats {
    pub fn record_consumed(&self, topic: &str) {
        self.consumed.fetch_add(1, Relaxed);
        self.families.consumed.get_or_create(&TopicLabel { topic: topic.to_owned() }).inc();
    }

    /// Counts an article whose enriched record (and route copies) the broker has acknowledged.
    pub fn record_enriched(&self, article: &Counted) {
        self.enriched.fetch_add(1, Relaxed);
        for tag in &article.tags {
            bump(&self.by_tag, tag.clone());
            self.families.tags.get_or_create(&TagLabel { tag: tag.clone() }).inc();
        }
        bump(&self.by_sentiment, article.sentiment);
        self.families.sentiment.get_or_create(&LabelLabel { label: article.sentiment.to_owned() }).inc();
    }

    pub fn record_dlq(&self, reason: &'static str) {
        self.dead_lettered.fetch_add(1, Relaxed);
        bump(&self.by_dlq_reason, reason);
        self.families.dlq.get_or_create(&ReasonLabel { reason: reason.to_owned() }).inc();
    }

    pub fn record_tombstone(&self) {
        self.tombstones.fetch_add(1, Relaxed);
        self.families.tombstones.inc();
    }

    pub fn record_produced(&self, topic: &str) {
        self.produced.fetch_add(1, Relaxed);
        let mut map = self.by_topic.lock().unwrap_or_else(|p| p.into_inner());
        match map.get_mut(topic) {
            Some(n) => *n += 1,
            None => {
                map.insert(topic.to_owned(), 1);
            }
        }
        drop(map);
        self.families.produced.get_or_create(&TopicLabel { topic: topic.to_owned() }).inc();
    }

    /// Age of an article whose outputs were just acknowledged, from its input timestamp.
    pub fn observe_article_age(&self, age: Duration) {
        self.families.article_age.observe(age.as_secs_f64());
    }

    pub fn record_rebalance(&self, kind: &'static str) {
        bump(&self.rebalances, kind);
        self.families.rebalances.get_or_create(&KindLabel { kind: kind.to_owned() }).inc();
    }

    /// Partitions were released without their offsets committed (duplicates follow).
    pub fn record_revocation_uncommitted(&self) {
        self.revocations_uncommitted.fetch_add(1, Relaxed);
        self.families.revocations_uncommitted.inc();
    }

    /// Partitions were released with work unfinished at the drain deadline: their next owner
    /// re-processes it, and this worker writes nothing more for them.
    pub fn record_revocation_undrained(&self) {
        self.revocations_undrained.fetch_add(1, Relaxed);
        self.families.revocations_undrained.inc();
    }

    /// A partition librdkafka had stopped fetching was found (see `consumer::FetchCheck`), and
    /// its fetcher restarted or, where that is not possible, reported.
    pub fn record_not_fetched(&self, restarted: bool) {
        let (counter, action) = if restarted {
            (&self.fetch_restarts, NOT_FETCHED_RESTARTED)
        } else {
            (&self.fetch_stalls_reported, NOT_FETCHED_REPORTED)
        };
        counter.fetch_add(1, Relaxed);
        self.families.not_fetched.get_or_create(&ActionLabel { action: action.to_owned() }).inc();
    }

    pub fn record_commit(&self, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.families.commits.get_or_create(&ResultLabel { result: result.to_owned() }).inc();
    }

    pub fn observe_processing(&self, elapsed: Duration) {
        self.families.processing.observe(elapsed.as_secs_f64());
    }

    pub fn set_assigned(&self, n: usize) {
        self.assigned_partitions.store(n, Relaxed);
        self.families.assigned.set(n as i64);
    }

    pub fn set_intake_paused(&self, paused: bool) {
        self.families.intake_paused.set(i64::from(paused));
    }

    /// Whether intake is paused because the in-flight bound stayed reached (backpressure).
    pub fn intake_paused(&self) -> bool {
        self.families.intake_paused.get() == 1
    }

    pub fn set_in_flight(&self, n: usize) {
        self.families.in_flight.set(n as i64);
    }

    pub fn set_health(&self, ready: bool, stalled: bool, broker_up: bool) {
        self.families.ready.set(i64::from(ready));
        self.families.stalled.set(i64::from(stalled));
        self.families.broker_up.set(i64::from(broker_up));
    }

    /// Replaces the lag gauges with the given owned partitions' values; partitions no longer
    /// owned disappear from the export instead of showing stale or -1 values.
    /// The lag gauges of the owned partitions, each left out while it is unknown (`None`).
    pub fn set_lag(&self, lags: &[(PartitionLabels, Option<i64>, Option<f64>)]) {
        self.families.lag.clear();
        self.families.lag_seconds.clear();
        for (labels, offsets, seconds) in lags {
            if let Some(offsets) = offsets {
                self.families.lag.get_or_create(labels).set(*offsets);
            }
            if let Some(seconds) = seconds {
                self.families.lag_seconds.get_or_create(labels).set(*seconds);
            }
        }
    }

    /// The taxonomy version in use, for `news_enricher_taxonomy_info`.
    pub fn set_taxonomy_version(&self, version: &str) {
        let mut in_use = self.taxonomy_version.lock().unwrap_or_else(|p| p.into_inner());
        // The new series first: a scrape in between sees both, never none.
        self.families.taxonomy.get_or_create(&VersionLabel { version: version.to_owned() }).set(1);
        if let Some(before) = in_use.replace(version.to_owned()).filter(|before| before != version) {
            self.families.taxonomy.remove(&VersionLabel { version: before });
        }
    }

    /// A taxonomy reload: `reloaded` is false when the file failed and the taxonomy was kept.
    pub fn record_taxonomy_reload(&self, reloaded: bool) {
        let result = if reloaded { RELOADED } else { RELOAD_FAILED };
        self.families.taxonomy_reloads.get_or_create(&ResultLabel { result: result.to_owned() }).inc();
        self.set_taxonomy_file_ok(reloaded);
    }

    /// Whether the taxonomy file's content is the one in use (`ok`), or failed to load.
    pub fn set_taxonomy_file_ok(&self, ok: bool) {
        self.families.taxonomy_reload_ok.set(i64::from(ok));
    }

    /// Registers further metric families in the same registry (names get the `news_enricher_`
    /// prefix): the remote model's `news_enricher_remote_*`.
    pub fn register_with(&mut self, register: impl FnOnce(&mut Registry)) {
        register(&mut self.registry);
    }

    /// The exposition while the worker starts, before it has metrics of its own (joining the
    /// group, checking topics: up to a minute with brokers unreachable): `build_info` and
    /// `ready 0`. An empty body is not a valid OpenMetrics exposition, and Prometheus would mark
    /// the target down instead of reading "not ready".
    pub fn encode_starting() -> String {
        let mut registry = Registry::with_prefix("news_enricher");
        registry.register("ready", READY_HELP, Gauge::<i64>::default());
        register_build_info(&mut registry);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).expect("writing to a String cannot fail");
        out
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }

    pub fn snapshot(&self) -> Snapshot {
        let copy = |m: &Mutex<BTreeMap<&'static str, u64>>| m.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Snapshot {
            consumed: self.consumed.load(Relaxed),
            enriched: self.enriched.load(Relaxed),
            dead_lettered: self.dead_lettered.load(Relaxed),
            tombstones: self.tombstones.load(Relaxed),
            produced: self.produced.load(Relaxed),
            by_tag: self.by_tag.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            by_dlq_reason: copy(&self.by_dlq_reason),
            by_topic: self.by_topic.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            by_sentiment: copy(&self.by_sentiment),
            rebalances: copy(&self.rebalances),
            revocations_uncommitted: self.revocations_uncommitted.load(Relaxed),
            revocations_undrained: self.revocations_undrained.load(Relaxed),
            fetch_restarts: self.fetch_restarts.load(Relaxed),
            fetch_stalls_reported: self.fetch_stalls_reported.load(Relaxed),
        }
    }
}

const READY_HELP: &str = "1 when joined to the group, broker reachable and making progress";

fn register_build_info(registry: &mut Registry) {
    let build_info = Family::<VersionLabel, Gauge>::default();
    build_info.get_or_create(&VersionLabel { version: env!("CARGO_PKG_VERSION").into() }).set(1);
    registry.register("build_info", "Build information", build_info);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starting_exposition_is_valid_and_says_not_ready() {
        let text = Stats::encode_starting();
        assert!(text.contains("\nnews_enricher_ready 0\n"), "{text}");
        assert!(text.contains("news_enricher_build_info{version=\""), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
        // Its families read as the running worker's do.
        let running = Stats::default().encode();
        for line in text.lines().filter(|l| l.starts_with("# HELP") || l.starts_with("# TYPE")) {
            assert!(running.contains(line), "{line:?} differs from the running worker's");
        }
    }

    #[test]
    fn exports_prefixed_families() {
        let stats = Stats::default();
        stats.record_consumed("news.raw");
        stats.record_dlq("not_json");
        stats.record_produced("news.enriched");
        let partition = |p: &str| PartitionLabels { topic: "news.raw".into(), partition: p.into() };
        // Partition 4's lag is not known yet (no statistics since it was assigned).
        stats.set_lag(&[(partition("3"), Some(7), Some(1.5)), (partition("4"), None, None)]);
        let text = stats.encode();
        for line in [
            "news_enricher_messages_consumed_total{topic=\"news.raw\"} 1",
            "news_enricher_dlq_records_total{reason=\"not_json\"} 1",
            "news_enricher_records_produced_total{topic=\"news.enriched\"} 1",
            "news_enricher_consumer_lag{topic=\"news.raw\",partition=\"3\"} 7",
            "news_enricher_consumer_lag_seconds{topic=\"news.raw\",partition=\"3\"} 1.5",
            "news_enricher_build_info{version=\"",
            "news_enricher_broker_up 1",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("partition=\"4\""), "an unknown lag is left out, not 0:\n{text}");
        stats.set_lag(&[]);
        assert!(!stats.encode().contains("news_enricher_consumer_lag{"), "released partitions disappear");
    }

    #[test]
    fn labelled_counters_exist_at_zero_before_their_first_event() {
        let text = Stats::default().encode();
        for line in [
            "news_enricher_dlq_records_total{reason=\"not_json\"} 0",
            "news_enricher_dlq_records_total{reason=\"produce_failed\"} 0",
            "news_enricher_commits_total{result=\"error\"} 0",
            "news_enricher_commits_total{result=\"ok\"} 0",
            "news_enricher_rebalances_total{kind=\"revoke\"} 0",
            "news_enricher_rebalances_total{kind=\"lost\"} 0",
            "news_enricher_partitions_not_fetched_total{action=\"restarted\"} 0",
            "news_enricher_partitions_not_fetched_total{action=\"reported\"} 0",
            "news_enricher_taxonomy_reloads_total{result=\"failed\"} 0",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert_eq!(text.matches("news_enricher_dlq_records_total{").count(), 10, "every reason:\n{text}");
    }
}
