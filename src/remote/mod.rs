//! Remote model provider: article-level sentiment from a model behind an inference server
//! (a transformer on Hugging Face Text Embeddings Inference, or any server speaking the small
//! generic JSON form), with the built-in model as a fallback that never loses an article.
//!
//! Configured by `[sentiment.remote]` ([`RemoteSettings`]); built once per worker
//! ([`RemoteSentiment::start`]) and shared by every partition task. For each enriched article
//! the pipeline calls [`RemoteSentiment::apply`], which:
//!
//! 1. keeps the built-in result (marked `"source": "builtin"`) for languages the model is not
//!    configured for;
//! 2. otherwise queues the article's text (title and body, cut to `max_chars`) for the batcher
//!    ([`batcher`]: batches of `batch_size` or after `linger_ms`, at most
//!    `max_concurrent_requests` in flight, retries with jittered exponential backoff honouring
//!    429/503 `Retry-After`, a circuit breaker ([`breaker`]));
//! 3. waits at most `timeout_ms` from the moment it asked. A remote score replaces the article's
//!    `enrichment.sentiment` (`{"score", "label", "source": "remote:<name>"}`); a timeout, an
//!    error, an open breaker, a throttling server or a full queue leave the built-in result in
//!    place, marked `"source": "builtin"`, and count in `news_enricher_remote_fallbacks_total`.
//!
//! So a slow, failing or hung model delays a message by at most `timeout_ms` (and, once the
//! breaker is open, by nothing), never blocks a partition, never drops a message, and never
//! holds back offset commits beyond that bound. Per-tag sentiment stays with the built-in model
//! (it scores the sentences that carry each tag's evidence, which one document-level call
//! cannot).
//!
//! Modules: [`client`] (HTTP and the API flavours), [`batcher`], [`breaker`], [`metrics`]
//! (`news_enricher_remote_*`), [`settings`]. Operator documentation: `docs/remote-model.md`.

pub mod batcher;
pub mod breaker;
pub mod client;
pub mod metrics;
pub mod settings;

pub use batcher::Failure;
pub use breaker::BreakerState;
pub use metrics::RemoteMetrics;
pub use settings::{Api, BreakerSettings, HttpVersion, RemoteSettings, RetrySettings, Secret};

use crate::article::{EnrichedArticle, RawArticle, SentimentOut};
use breaker::{Breaker, Transition};
use client::{CallError, ModelClient};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// `enrichment.sentiment.source` when the built-in model's result is kept although a remote
/// model is configured.
pub const BUILTIN_SOURCE: &str = "builtin";

/// State shared by the handle, the batcher and the request tasks.
pub(crate) struct Core {
    settings: RemoteSettings,
    client: ModelClient,
    breaker: Breaker,
    metrics: RemoteMetrics,
    /// No request before this instant: the server's `Retry-After`.
    hold_until: Mutex<Option<Instant>>,
}

impl Core {
    fn held(&self, now: Instant) -> bool {
        self.hold_until.lock().unwrap_or_else(|p| p.into_inner()).is_some_and(|until| now < until)
    }

    fn hold_for(&self, pause: Duration) {
        let until = Instant::now() + pause;
        let mut hold = self.hold_until.lock().unwrap_or_else(|p| p.into_inner());
        if hold.is_none_or(|h| h < until) {
            *hold = Some(until);
        }
        tracing::debug!(model = %self.settings.name, pause_ms = pause.as_millis() as u64, "remote model asked to wait (Retry-After)");
    }

    /// Logs a breaker state change (once per change, never per article) and updates the gauge.
    fn note(&self, transition: Option<Transition>, error: Option<&CallError>) {
        let Some(t) = transition else { return };
        self.metrics.set_breaker(t.to);
        let model = &self.settings.name;
        let error = error.map(ToString::to_string).unwrap_or_default();
        match (t.from, t.to) {
            (BreakerState::Closed, BreakerState::Open) => tracing::warn!(
                model,
                error,
                open_ms = self.settings.breaker.open_ms,
                "remote model failing: circuit breaker open, articles use the built-in sentiment model"
            ),
            (BreakerState::HalfOpen, BreakerState::Closed) => {
                tracing::info!(model, "remote model answering again: circuit breaker closed")
            }
            (from, to) => tracing::debug!(model, ?from, ?to, error, "remote model circuit breaker"),
        }
    }
}

/// The remote sentiment model: cheap to share (`Arc`), one per worker.
pub struct RemoteSentiment {
    core: Arc<Core>,
    queue: mpsc::Sender<batcher::Job>,
    source: String,
}

impl std::fmt::Debug for RemoteSentiment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSentiment")
            .field("name", &self.core.settings.name)
            .field("url", &self.core.settings.url)
            .field("breaker", &self.core.breaker.state())
            .finish()
    }
}

impl RemoteSentiment {
    /// Builds the HTTP client and starts the batcher on its own I/O thread, which ends when this
    /// value is dropped. [`RemoteSentiment::score`] and [`RemoteSentiment::apply`] are called
    /// from any tokio runtime.
    pub fn start(settings: &RemoteSettings) -> Result<Self, String> {
        settings.validate().map_err(|(key, message)| format!("sentiment.remote.{key}: {message}"))?;
        let client = ModelClient::new(settings)?;
        let core = Arc::new(Core {
            settings: settings.clone(),
            client,
            breaker: Breaker::new(
                settings.breaker.failure_threshold,
                Duration::from_millis(settings.breaker.open_ms),
                settings.breaker.half_open_probes,
            ),
            metrics: RemoteMetrics::new(&settings.name),
            hold_until: Mutex::new(None),
        });
        let (queue, jobs) = mpsc::channel(settings.queue_size);
        // The batcher and its requests run on their own thread and runtime, not on the worker's:
        // the worker's runtime is busy with CPU-bound enrichment tasks, behind which a woken
        // connection task would wait its turn (measured: tens of milliseconds per request with
        // 256 articles in flight, see docs/remote-model.md). Here the OS schedules the I/O
        // thread fairly against the enrichment threads. The thread ends when this value is
        // dropped (the queue closes); requests still in flight are then abandoned, and their
        // articles keep the built-in result.
        let io = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the remote model's I/O runtime: {e}"))?;
        let batcher_core = core.clone();
        std::thread::Builder::new()
            .name(format!("remote-{}", settings.name))
            .spawn(move || io.block_on(batcher::run(batcher_core, jobs)))
            .map_err(|e| format!("cannot start the remote model's I/O thread: {e}"))?;
        tracing::info!(
            model = %settings.name, url = %settings.url, api = ?settings.api,
            batch_size = settings.batch_size, timeout_ms = settings.timeout_ms,
            "remote sentiment model configured"
        );
        Ok(RemoteSentiment { core, queue, source: format!("remote:{}", settings.name) })
    }

    pub fn name(&self) -> &str {
        &self.core.settings.name
    }

    /// `enrichment.sentiment.source` of a remote result: `remote:<name>`.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn settings(&self) -> &RemoteSettings {
        &self.core.settings
    }

    pub fn metrics(&self) -> &RemoteMetrics {
        &self.core.metrics
    }

    /// Registers `news_enricher_remote_*` in the worker's registry.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.core.metrics.register(registry);
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.core.breaker.state()
    }

    /// Whether articles in `language` go to the remote model (unknown counts as English).
    pub fn wants(&self, language: Option<&str>) -> bool {
        let languages = &self.core.settings.languages;
        languages.is_empty() || languages.iter().any(|l| l.eq_ignore_ascii_case(language.unwrap_or("en")))
    }

    /// The remote model's score in [-1, 1] for `text` (cut to `max_chars`), or why there is none.
    /// Returns within `timeout_ms`, at once when the breaker is open or the queue full. Counts
    /// every outcome in the metrics.
    pub async fn score(&self, text: &str) -> Result<f64, Failure> {
        let result = self.score_uncounted(text).await;
        match result {
            Ok(_) => self.core.metrics.scored(),
            Err(failure) => self.core.metrics.fallback(failure.as_str()),
        }
        result
    }

    async fn score_uncounted(&self, text: &str) -> Result<f64, Failure> {
        let now = Instant::now();
        if self.core.breaker.rejects(now) {
            return Err(Failure::BreakerOpen);
        }
        if self.core.held(now) {
            return Err(Failure::Throttled);
        }
        let deadline = now + self.core.settings.timeout();
        let (reply, answer) = oneshot::channel();
        let job = batcher::Job { text: truncate_chars(text, self.core.settings.max_chars).to_owned(), deadline, reply };
        if self.queue.try_send(job).is_err() {
            return Err(Failure::Overloaded);
        }
        match tokio::time::timeout_at(deadline.into(), answer).await {
            Ok(Ok(result)) => result,
            // The batcher is gone (the worker is shutting down).
            Ok(Err(_)) => Err(Failure::Error),
            Err(_elapsed) => Err(Failure::Timeout),
        }
    }

    /// Sets the article-level sentiment from the remote model, or marks the built-in result as
    /// the fallback. Takes at most `timeout_ms`; never fails.
    pub async fn apply(&self, article: &mut EnrichedArticle) {
        if !self.wants(article.enrichment.language.as_deref()) {
            article.enrichment.sentiment.source = Some(BUILTIN_SOURCE.into());
            return;
        }
        let text = article_text(&article.raw, self.core.settings.max_chars);
        match self.score(&text).await {
            Ok(score) => {
                article.enrichment.sentiment =
                    SentimentOut { source: Some(self.source.clone()), ..SentimentOut::scored(score) };
            }
            Err(_) => article.enrichment.sentiment.source = Some(BUILTIN_SOURCE.into()),
        }
    }
}

/// What the model reads: the title, a newline, the body — at most `max_chars` characters, built
/// without copying a long body whole.
pub fn article_text(raw: &RawArticle, max_chars: usize) -> String {
    let title = raw.title().unwrap_or("").trim();
    let body = raw.body().unwrap_or("");
    let mut text = String::with_capacity(max_chars.min(title.len() + 1 + body.len()));
    text.push_str(truncate_chars(title, max_chars));
    let mut used = text.chars().count();
    if used < max_chars && !body.trim().is_empty() {
        if !text.is_empty() {
            text.push('\n');
            used += 1;
        }
        text.push_str(truncate_chars(body.trim_start(), max_chars.saturating_sub(used)));
    }
    text
}

/// The first `max` characters of `s`.
fn truncate_chars(s: &str, max: usize) -> &str {
    s.char_indices().nth(max).map_or(s, |(i, _)| &s[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn article_text_is_title_then_body_cut_on_a_character_boundary() {
        let raw =
            RawArticle::decode(r#"{"id":"a","title":" Title ","body":"Ünïcode body text"}"#.as_bytes(), None, 1000)
                .unwrap();
        assert_eq!(article_text(&raw, 100), "Title\nÜnïcode body text");
        assert_eq!(article_text(&raw, 9), "Title\nÜnï");
        assert_eq!(article_text(&raw, 3), "Tit");
        let body_only = RawArticle::decode(br#"{"id":"a","body":"just body"}"#, None, 1000).unwrap();
        assert_eq!(article_text(&body_only, 4), "just");
    }
}
