//! Metric families of the remote model, exported as `news_enricher_remote_*` when registered in
//! the worker's registry ([`RemoteMetrics::register`], called by `pipeline::stats`). Each family
//! carries `model="<name>"`, so a second remote model can share them.

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
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    model: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    model: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    model: String,
    reason: String,
}

const FALLBACK_REASONS: [&str; 5] = ["timeout", "error", "breaker_open", "throttled", "overloaded"];
const ERROR_KINDS: [&str; 8] =
    ["timeout", "connect", "server_error", "throttled", "client_error", "malformed", "unmapped_label", "transport"];

type HistogramFamily = Family<ModelLabel, Histogram, fn() -> Histogram>;

/// The remote model's metrics. Cheap to clone (families are shared handles).
#[derive(Clone, Debug)]
pub struct RemoteMetrics {
    model: String,
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
    pub fn new(model: &str) -> Self {
        let m = RemoteMetrics {
            model: model.to_owned(),
            requests: Family::default(),
            duration: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            errors: Family::default(),
            batch_size: Family::new_with_constructor(batch_histogram as fn() -> Histogram),
            breaker: Family::default(),
            fallbacks: Family::default(),
            retries: Family::default(),
            scored: Family::default(),
        };
        // Present from the start, so dashboards and alerts see 0 rather than nothing.
        m.breaker.get_or_create(&m.label()).set(BreakerState::Closed as i64);
        let _ = m.scored.get_or_create(&m.label());
        let _ = m.retries.get_or_create(&m.label());
        for reason in FALLBACK_REASONS {
            let _ = m.fallbacks.get_or_create(&ReasonLabels { model: m.model.clone(), reason: reason.into() });
        }
        for result in ["ok", "error"] {
            let _ = m.requests.get_or_create(&ResultLabels { model: m.model.clone(), result: result.into() });
        }
        for kind in ERROR_KINDS {
            let _ = m.errors.get_or_create(&KindLabels { model: m.model.clone(), kind: kind.into() });
        }
        m
    }

    fn label(&self) -> ModelLabel {
        ModelLabel { model: self.model.clone() }
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
            "Articles scored by the built-in model because the remote one was not usable, by reason (timeout, error, breaker_open, throttled, overloaded)",
            self.fallbacks.clone(),
        );
        r.register("retries", "Requests to the remote model retried", self.retries.clone());
        r.register("scored", "Articles scored by the remote model", self.scored.clone());
    }

    pub(crate) fn observe_request(&self, elapsed: Duration, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.requests.get_or_create(&ResultLabels { model: self.model.clone(), result: result.into() }).inc();
        self.duration.get_or_create(&self.label()).observe(elapsed.as_secs_f64());
    }

    pub(crate) fn error(&self, kind: &str) {
        self.errors.get_or_create(&KindLabels { model: self.model.clone(), kind: kind.into() }).inc();
    }

    pub(crate) fn observe_batch(&self, size: usize) {
        self.batch_size.get_or_create(&self.label()).observe(size as f64);
    }

    pub(crate) fn set_breaker(&self, state: BreakerState) {
        self.breaker.get_or_create(&self.label()).set(state as i64);
    }

    pub(crate) fn fallback(&self, reason: &str) {
        self.fallbacks.get_or_create(&ReasonLabels { model: self.model.clone(), reason: reason.into() }).inc();
    }

    pub(crate) fn retry(&self) {
        self.retries.get_or_create(&self.label()).inc();
    }

    pub(crate) fn scored(&self) {
        self.scored.get_or_create(&self.label()).inc();
    }

    /// Articles that fell back to the built-in model for `reason` so far.
    pub fn fallbacks(&self, reason: &str) -> u64 {
        self.fallbacks.get_or_create(&ReasonLabels { model: self.model.clone(), reason: reason.into() }).get()
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
        self.requests.get_or_create(&ResultLabels { model: self.model.clone(), result: result.into() }).get()
    }

    /// Failed requests of one kind so far.
    pub fn errors(&self, kind: &str) -> u64 {
        self.errors.get_or_create(&KindLabels { model: self.model.clone(), kind: kind.into() }).get()
    }

    /// Retries so far.
    pub fn retries(&self) -> u64 {
        self.retries.get_or_create(&self.label()).get()
    }
}
