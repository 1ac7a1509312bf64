//! Operability: structured logs ([`logging`]) and the HTTP endpoint with metrics, liveness and
//! readiness ([`http`]). The metric families themselves are defined with the pipeline's counters
//! in [`crate::pipeline::stats`].
pub mod http;
pub mod logging;
