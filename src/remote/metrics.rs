//! Metric families of the remote models, exported as `news_enricher_remote_*` when registered in
//! the worker's registry ([`RemoteMetrics::register`], once per worker). Every series carries
//! `model="<name>"` (the configured name) and `task="sentiment"|"tags"` (which remote model), so
//! both models share one set of families — registering a family twice would export it twice —
//! and stay apart even when both keep the default name.

use super::breaker::BreakerState;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabel {
    model: String,
    task: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    model: String,
    task: &'static str,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    model: String,
    task: &'static str,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    model: String,
    task: &'static str,
    reason: String,
}

/// The `reason` values of `news_enricher_remote_fallbacks_total` ([`super::Failure::as_str`]).
pub const FALLBACK_REASONS: [&str; 5] = ["timeout", "error", "breaker_open", "throttled", "overloaded"];
const ERROR_KINDS: [&str; 8] =
    ["timeout", "connect", "server_error", "throttled", "client_error", "malformed", "unmapped_label", "transport"];

type HistogramFamily = Family<ModelLabel, Histogram, fn() -> Histogram>;

/// One remote model's handle on the metric families. Cheap to clone (families are shared
/// handles); [`RemoteMetrics::sharing`] gives another model a handle on the same families.
#[derive(Clone, Debug)]
pub struct RemoteMetrics {
    model: String,
    task: &'static str,
    requests: Family<ResultLabels, Counter>,
    duration: HistogramFamily,
    errors: Family<KindLabels, Counter>,
    batch_size: HistogramFamily,
    breaker: Family<ModelLabel, Gauge>,
    fallbacks: Family<ReasonLabels, Counter>,
    retries: Family<ModelLabel, Counter>,
    scored: Family<ModelLabel, Counter>,
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~16 s
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

fn batch_histogram() -> Histogram {
    // 1, 2, 4, … 1024
    Histogram::new(exponential_buckets(1.0, 2.0, 11))
}

impl RemoteMetrics {
    /// Fresh families, with the series of model `model` doing `task` (`sentiment`, `tags`).
    pub fn new(model: &str, task: &'static str) -> Self {
        RemoteMetrics {
            model: model.to_owned(),
            task,
            requests: Family::default(),
            duration: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            errors: Family::default(),
            batch_size: Family::new_with_constructor(batch_histogram as fn() -> Histogram),
            breaker: Family::default(),
            fallbacks: Family::default(),
            retries: Family::default(),
            scored: Family::default(),
        }
        .init()
    }

    /// The same families as `self` (register either, once), for another model.
    pub fn sharing(&self, model: &str, task: &'static str) -> Self {
        RemoteMetrics { model: model.to_owned(), task, ..self.clone() }.init()
    }

    fn init(self) -> Self {
        let m = self;
        // Present from the start, so dashboards and alerts see 0 rather than nothing.
        m.breaker.get_or_create(&m.label()).set(BreakerState::Closed as i64);
        let _ = m.scored.get_or_create(&m.label());
        let _ = m.retries.get_or_create(&m.label());
        for reason in FALLBACK_REASONS {
            let _ = m.fallbacks.get_or_create(&ReasonLabels {
                model: m.model.clone(),
                task: m.task,
                reason: reason.into(),
            });
        }
        for result in ["ok", "error"] {
            let _ =
                m.requests.get_or_create(&ResultLabels { model: m.model.clone(), task: m.task, result: result.into() });
        }
        for kind in ERROR_KINDS {
            let _ = m.errors.get_or_create(&KindLabels { model: m.model.clone(), task: m.task, kind: kind.into() });
        }
        m
    }

    fn label(&self) -> ModelLabel {
        ModelLabel { model: self.model.clone(), task: self.task }
    }

    /// Registers the families (prefix `remote_`, so `news_enricher_remote_*` in the worker's
    /// registry).
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("remote");
        r.register("requests", "HTTP requests to the remote model, by result (ok, error)", self.requests.clone());
        r.register("request_duration_seconds", "Duration of HTTP requests to the remote model", self.duration.clone());
        r.register(
            "errors",
            "Failed requests to the remote model, by kind (timeout, connect, server_error, throttled, client_error, malformed, unmapped_label, transport)",
            self.errors.clone(),
        );
        r.register("batch_size", "Articles per request to the remote model", self.batch_size.clone());
        r.register("breaker_state", "Circuit breaker: 0 closed, 1 open, 2 half-open", self.breaker.clone());
        r.register(
            "fallbacks",
            "Articles that kept the built-in result (sentiment model, or taxonomy tags only) because the remote model was not usable, by reason (timeout, error, breaker_open, throttled, overloaded)",
            self.fallbacks.clone(),
        );
        r.register("retries", "Requests to the remote model retried", self.retries.clone());
        r.register(
            "scored",
            "Articles the remote model answered for (sentiment scored, tags merged)",
            self.scored.clone(),
        );
    }

    pub(crate) fn observe_request(&self, elapsed: Duration, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.requests
            .get_or_create(&ResultLabels { model: self.model.clone(), task: self.task, result: result.into() })
            .inc();
        self.duration.get_or_create(&self.label()).observe(elapsed.as_secs_f64());
    }

    pub(crate) fn error(&self, kind: &str) {
        self.errors.get_or_create(&KindLabels { model: self.model.clone(), task: self.task, kind: kind.into() }).inc();
    }

    pub(crate) fn observe_batch(&self, size: usize) {
        self.batch_size.get_or_create(&self.label()).observe(size as f64);
    }

    pub(crate) fn set_breaker(&self, state: BreakerState) {
        self.breaker.get_or_create(&self.label()).set(state as i64);
    }

    pub(crate) fn fallback(&self, reason: &str) {
        self.fallbacks
            .get_or_create(&ReasonLabels { model: self.model.clone(), task: self.task, reason: reason.into() })
            .inc();
    }

    pub(crate) fn retry(&self) {
        self.retries.get_or_create(&self.label()).inc();
    }

    pub(crate) fn scored(&self) {
        self.scored.get_or_create(&self.label()).inc();
    }

    /// Articles that fell back to the built-in model for `reason` so far.
    pub fn fallbacks(&self, reason: &str) -> u64 {
        self.fallbacks
            .get_or_create(&ReasonLabels { model: self.model.clone(), task: self.task, reason: reason.into() })
            .get()
    }

    /// Articles that fell back for any reason so far.
    pub fn fallbacks_total(&self) -> u64 {
        FALLBACK_REASONS.iter().map(|r| self.fallbacks(r)).sum()
    }

    /// Articles scored by the remote model so far.
    pub fn scored_total(&self) -> u64 {
        self.scored.get_or_create(&self.label()).get()
    }

    /// Requests sent so far with the given result (`ok`, `error`).
    pub fn requests(&self, result: &str) -> u64 {
        self.requests
            .get_or_create(&ResultLabels { model: self.model.clone(), task: self.task, result: result.into() })
            .get()
    }

    /// Failed requests of one kind so far.
    pub fn errors(&self, kind: &str) -> u64 {
        self.errors.get_or_create(&KindLabels { model: self.model.clone(), task: self.task, kind: kind.into() }).get()
    }

    /// Retries so far.
    pub fn retries(&self) -> u64 {
        self.retries.get_or_create(&self.label()).get()
    }
}
