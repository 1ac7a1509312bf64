//! # news-enricher
//!
//! A streaming news-ingestion worker: it consumes raw articles from Kafka in a consumer group,
//! enriches each with topic tags and sentiment, and publishes enriched records downstream.
//!
//! Module map (read in this order):
//!
//! - [`article`]: the record formats — [`article::RawArticle`] in, [`article::EnrichedArticle`]
//!   out — and decoding raw bytes with size limits and typed errors; [`html`] reads title and
//!   body as the text of their HTML when `enrich.html` says they are.
//! - [`enrich`]: the enrichment core, pure and synchronous and knowing nothing of Kafka:
//!   text segmentation, the topic taxonomy, sentiment models, language and fingerprint. One
//!   [`enrich::Enricher`] is built from config and shared by every task; a taxonomy reload
//!   swaps it for the messages after it ([`enrich::CurrentEnricher`]).
//! - [`config`]: typed settings from the TOML file plus `NEWS_ENRICHER_*` environment overrides,
//!   validated at start-up.
//! - [`cli`]: the command-line interface (`run`, `demo`, `enrich`, `explain`, `check-config`).
//! - [`pipeline`]: the Kafka worker — the consumer thread, one task per partition, ordered
//!   produce, the offset watermark behind at-least-once delivery, the dead-letter topic.
//! - [`runner`]: the `run` and `demo` commands around the pipeline — runtime, signals, the
//!   embedded broker, the HTTP endpoint, reloads, exit codes.
//! - [`embedded`]: the in-process development broker (librdkafka's mock cluster).
//! - [`telemetry`]: structured logs and the `/metrics`, `/healthz`, `/readyz` endpoint.
//! - [`offline`]: the `enrich` command — JSON Lines in, JSON Lines out, parallel and in order.
//! - [`explain`]: the `explain` command — why each article got, or did not get, each tag.
//! - [`remote`]: optional remote models over HTTP — sentiment (`[sentiment.remote]`) and a tag
//!   classifier merged with the taxonomy (`[taxonomy.remote]`): batching, retries, circuit
//!   breaker, and the built-in result as the fallback for every article.
//! - [`reload`]: taxonomy reloads while `run` works (SIGHUP, `taxonomy.watch_secs`).
//! - [`swar`]: eight-bytes-at-a-time primitives shared by the text scanners.
pub mod article;
pub mod cli;
pub mod config;
pub mod embedded;
pub mod enrich;
pub mod explain;
pub mod html;
pub mod offline;
pub mod pipeline;
pub mod reload;
pub mod remote;
pub mod runner;
pub mod swar;
pub mod telemetry;

/// `eprintln!` that never panics. A message that cannot reach stderr (a closed pipe, a full disk)
/// is lost instead of ending the command halfway: its output and exit status do not depend on
/// stderr being writable.
#[macro_export]
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
