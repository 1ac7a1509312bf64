//! Remote models: article-level sentiment (`[sentiment.remote]`) and topic tags
//! (`[taxonomy.remote]`) from classifiers behind an inference server (a transformer on Hugging
//! Face Text Embeddings Inference, or any server speaking the small generic JSON form), with the
//! built-in result as a fallback that never loses an article.
//!
//! This module owns the machinery both models share — [`RemoteModel`]: settings
//! ([`RemoteSettings`]), one HTTP client ([`client`]), one batcher ([`batcher`]: batches of
//! `batch_size` or after `linger_ms`, at most `max_concurrent_requests` in flight, retries with
//! jittered exponential backoff honouring 429/503 `Retry-After`), one circuit breaker
//! ([`breaker`]) and metrics ([`metrics`], `news_enricher_remote_*` with `task` =
//! `sentiment`/`tags`) per model — and [`Remote`], the pair a worker (or `news-enricher enrich`)
//! runs. What a model's answer *means* is its [`Head`]: [`sentiment`] maps label probabilities
//! to a score, [`tags`] maps labels to taxonomy tags and merges them with the taxonomy's.
//!
//! For each enriched article, [`Remote::apply`] asks both configured models at once and waits
//! at most each model's `timeout_ms` from the moment it asked. A timeout, an error, an open
//! breaker, a throttling server or a full queue leave the built-in result in place (built-in
//! sentiment, taxonomy tags only), marked `"builtin"` in the record, and count in
//! `news_enricher_remote_fallbacks_total`. So a slow, failing or hung model delays a message by
//! at most the larger `timeout_ms` (and, once its breaker is open, by nothing), never blocks a
//! partition, never drops a message, and never holds back offset commits beyond that bound.
//!
//! Operator documentation: `docs/remote-model.md`.

pub mod batcher;
pub mod breaker;
pub mod client;
pub mod metrics;
pub mod sentiment;
pub mod settings;
pub mod tags;

pub use batcher::Failure;
pub use breaker::BreakerState;
pub use metrics::RemoteMetrics;
pub use sentiment::RemoteSentiment;
pub use settings::{
    Api, BreakerSettings, HttpVersion, LabelTarget, RemoteSettings, RetrySettings, Secret, SentimentRemoteSettings,
    TagRemoteSettings,
};
pub use tags::RemoteTags;

use crate::article::{EnrichedArticle, RawArticle};
use crate::config::Settings;
use crate::enrich::taxonomy::Taxonomy;
use breaker::{Breaker, Transition};
use client::{Answer, CallError, ModelClient};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// The record's `source` (`enrichment.sentiment.source`, `enrichment.tags_source`) when the
/// built-in result is kept although a remote model is configured.
pub const BUILTIN_SOURCE: &str = "builtin";

/// What one kind of remote model makes of the server's answers. Implemented by
/// [`sentiment::SentimentHead`] and [`tags::TagsHead`]; everything else about a remote model
/// (HTTP, batching, retries, breaker, metrics) is shared.
pub trait Head: Send + Sync + 'static {
    /// What the label map points at (its settings section).
    type Label: LabelTarget;
    /// What an article gets: a score, a list of tags.
    type Output: Send + 'static;
    /// The `task` label of the metrics: `sentiment`, `tags`.
    const TASK: &'static str;
    /// What articles get while the model is not usable, for the breaker's log line.
    const FALLBACK: &'static str;
    /// The output for text `index` of a batch. An error fails the whole request (it counts
    /// against the breaker, like any failed request).
    fn interpret(&self, index: usize, answer: Answer) -> Result<Self::Output, CallError>;
}

/// State shared by the handle, the batcher and the request tasks of one model.
pub(crate) struct Core<H: Head> {
    settings: RemoteSettings<H::Label>,
    head: H,
    client: ModelClient,
    breaker: Breaker,
    metrics: RemoteMetrics,
    /// No request before this instant: the server's `Retry-After`.
    hold_until: Mutex<Option<Instant>>,
}

impl<H: Head> Core<H> {
    fn held(&self, now: Instant) -> bool {
        self.hold_until.lock().unwrap_or_else(|p| p.into_inner()).is_some_and(|until| now < until)
    }

    fn hold_for(&self, pause: Duration) {
        let until = Instant::now() + pause;
        let mut hold = self.hold_until.lock().unwrap_or_else(|p| p.into_inner());
        if hold.is_none_or(|h| h < until) {
            *hold = Some(until);
        }
        tracing::debug!(model = %self.settings.name, task = H::TASK, pause_ms = pause.as_millis() as u64, "remote model asked to wait (Retry-After)");
    }

    /// One request: the server's answers, interpreted by the head.
    async fn request(&self, texts: &[&str], timeout: Duration) -> Result<Vec<H::Output>, CallError> {
        let answers = self.client.predict(texts, timeout).await?;
        answers.into_iter().enumerate().map(|(i, answer)| self.head.interpret(i, answer)).collect()
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
                task = H::TASK,
                error,
                open_ms = self.settings.breaker.open_ms,
                "remote model failing: circuit breaker open, articles get {}",
                H::FALLBACK
            ),
            (BreakerState::HalfOpen, BreakerState::Closed) => {
                tracing::info!(model, task = H::TASK, "remote model answering again: circuit breaker closed")
            }
            (from, to) => tracing::debug!(model, task = H::TASK, ?from, ?to, error, "remote model circuit breaker"),
        }
    }
}

/// One remote model: cheap to share (`Arc`), one per worker. [`RemoteSentiment`] and
/// [`RemoteTags`] are its two kinds.
pub struct RemoteModel<H: Head> {
    core: Arc<Core<H>>,
    queue: mpsc::Sender<batcher::Job<H::Output>>,
    source: String,
}

impl<H: Head> std::fmt::Debug for RemoteModel<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteModel")
            .field("task", &H::TASK)
            .field("name", &self.core.settings.name)
            .field("url", &settings::shown_url(&self.core.settings.url))
            .field("breaker", &self.core.breaker.state())
            .finish()
    }
}

impl<H: Head> RemoteModel<H> {
    /// Builds the HTTP client and starts the batcher on its own I/O thread, which ends when this
    /// value is dropped. The model is then used from any tokio runtime.
    fn start_with(settings: &RemoteSettings<H::Label>, head: H, metrics: RemoteMetrics) -> Result<Self, String> {
        let section = H::Label::SECTION;
        settings.validate().map_err(|(key, message)| format!("{section}.{key}: {message}"))?;
        let client = ModelClient::new(settings)?;
        let core = Arc::new(Core {
            settings: settings.clone(),
            head,
            client,
            breaker: Breaker::new(
                settings.breaker.failure_threshold,
                Duration::from_millis(settings.breaker.open_ms),
                settings.breaker.half_open_probes,
            ),
            metrics,
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
            .name(format!("remote-{}-{}", H::TASK, settings.name))
            .spawn(move || io.block_on(batcher::run(batcher_core, jobs)))
            .map_err(|e| format!("cannot start the remote model's I/O thread: {e}"))?;
        let shown_url = settings::shown_url(&settings.url);
        if settings.token.is_some() && settings::sends_token_in_clear(&settings.url) {
            // Not refused: behind a service mesh (mTLS sidecars) plain http is the norm.
            tracing::warn!(model = %settings.name, url = %shown_url,
                "the remote model's token goes over plain http to a host that is not this machine; use https unless a service mesh encrypts the traffic");
        }
        tracing::info!(
            model = %settings.name, task = H::TASK, url = %shown_url, api = ?settings.api,
            batch_size = settings.batch_size, timeout_ms = settings.timeout_ms,
            "remote model configured"
        );
        Ok(RemoteModel { core, queue, source: format!("remote:{}", settings.name) })
    }

    pub fn name(&self) -> &str {
        &self.core.settings.name
    }

    /// The record's `source` for this model's results: `remote:<name>`.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn metrics(&self) -> &RemoteMetrics {
        &self.core.metrics
    }

    /// Registers the `news_enricher_remote_*` families this model reports to. Models that share
    /// families ([`Remote`]) register them once.
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

    /// The model's output for `text` (cut to `max_chars`), or why there is none. Returns within
    /// `timeout_ms`, at once when the breaker is open or the queue full. Counts every outcome
    /// in the metrics.
    pub async fn ask(&self, text: &str) -> Result<H::Output, Failure> {
        let result = self.ask_uncounted(text).await;
        match &result {
            Ok(_) => self.core.metrics.scored(),
            Err(failure) => self.core.metrics.fallback(failure.as_str()),
        }
        result
    }

    async fn ask_uncounted(&self, text: &str) -> Result<H::Output, Failure> {
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

    /// Asks about an article, if its language is one the model takes: `None` when it is not
    /// (no request, no metric), else the outcome of [`RemoteModel::ask`].
    pub async fn ask_about(&self, raw: &RawArticle, language: Option<&str>) -> Option<Result<H::Output, Failure>> {
        if !self.wants(language) {
            return None;
        }
        Some(self.ask(&article_text(raw, self.core.settings.max_chars)).await)
    }
}

/// The remote models of one worker (or one `news-enricher enrich` run): either or both, sharing
/// one set of metric families.
#[derive(Debug)]
pub struct Remote {
    pub sentiment: Option<Arc<RemoteSentiment>>,
    pub tags: Option<Arc<RemoteTags>>,
    metrics: RemoteMetrics,
}

impl Remote {
    /// Starts the models that are configured and enabled (`[sentiment.remote]`,
    /// `[taxonomy.remote]`); `None` when there are none. `taxonomy` gives the tag classifier its
    /// tags (and rejects labels mapped to tags it does not have).
    pub fn start(settings: &Settings, taxonomy: &Taxonomy) -> Result<Option<Self>, String> {
        let sentiment_settings = settings.sentiment.remote.as_ref().filter(|r| r.enabled);
        let tag_settings = settings.taxonomy.remote.as_ref().filter(|r| r.enabled);
        let metrics = match (sentiment_settings, tag_settings) {
            (Some(s), _) => RemoteMetrics::new(&s.name, sentiment::SentimentHead::TASK),
            (None, Some(t)) => RemoteMetrics::new(&t.name, tags::TagsHead::TASK),
            (None, None) => return Ok(None),
        };
        let sentiment =
            sentiment_settings.map(|s| RemoteSentiment::start_sharing(s, &metrics).map(Arc::new)).transpose()?;
        let tags = tag_settings.map(|t| RemoteTags::start_sharing(t, taxonomy, &metrics).map(Arc::new)).transpose()?;
        Ok(Some(Remote { sentiment, tags, metrics }))
    }

    /// Registers the `news_enricher_remote_*` families (once, for both models).
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.metrics.register(registry);
    }

    /// One line per model that fell back for some articles (for `news-enricher enrich`, which
    /// has no metrics endpoint): how many, of how many, and why.
    pub fn report_fallbacks(&self, out: &mut dyn std::io::Write) {
        let models = [
            self.sentiment.as_ref().map(|m| ("sentiment model", m.name(), m.metrics(), "the built-in sentiment")),
            self.tags.as_ref().map(|m| ("tag classifier", m.name(), m.metrics(), "the taxonomy's tags only")),
        ];
        for (what, name, metrics, kept) in models.into_iter().flatten() {
            let fell_back = metrics.fallbacks_total();
            if fell_back == 0 {
                continue;
            }
            let reasons: Vec<String> = metrics::FALLBACK_REASONS
                .iter()
                .map(|r| (r, metrics.fallbacks(r)))
                .filter(|(_, n)| *n > 0)
                .map(|(r, n)| format!("{r} {n}"))
                .collect();
            let _ = writeln!(
                out,
                "news-enricher: remote {what} {name:?}: {fell_back} of {} articles kept {kept} ({})",
                fell_back + metrics.scored_total(),
                reasons.join(", ")
            );
        }
    }

    /// Applies both models to an enriched article: asks them at the same time (so the article
    /// waits for the slower, not for the sum), then sets the remote sentiment and merges the
    /// remote tags (labelled by `taxonomy`, the one that tagged the article), or marks the
    /// built-in results. Takes at most the larger `timeout_ms`; never fails. Routing and
    /// counting must happen after this, so they see the merged tags.
    pub async fn apply(&self, article: &mut EnrichedArticle, taxonomy: &Taxonomy) {
        let language = article.enrichment.language.as_deref();
        let raw = &article.raw;
        let ask_sentiment = async {
            match &self.sentiment {
                Some(s) => Some(s.ask_about(raw, language).await),
                None => None,
            }
        };
        let ask_tags = async {
            match &self.tags {
                Some(t) => Some(t.ask_about(raw, language).await),
                None => None,
            }
        };
        let (sentiment, tags) = tokio::join!(ask_sentiment, ask_tags);
        if let (Some(model), Some(outcome)) = (&self.sentiment, sentiment) {
            model.put(article, outcome);
        }
        if let (Some(model), Some(outcome)) = (&self.tags, tags) {
            model.put(article, outcome, taxonomy);
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
pub(crate) fn truncate_chars(s: &str, max: usize) -> &str {
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
