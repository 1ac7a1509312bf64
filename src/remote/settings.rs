//! Settings of a remote model: where it is, how to reach it (TLS roots, token) and how hard to
//! try. One shape, [`RemoteSettings`], serves both remote models; they differ only in what their
//! label map points at ([`LabelTarget`]):
//!
//! - `[sentiment.remote]` — [`SentimentRemoteSettings`]: model label → sentiment valence;
//! - `[taxonomy.remote]` — [`TagRemoteSettings`]: model label → taxonomy tag id, plus a
//!   probability `threshold`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The request and response format spoken to the model server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// Hugging Face Text Embeddings Inference, `POST /predict` of a sequence-classification
    /// model: `{"inputs": [["text"], ...], "truncate": true}` → `[[{"label", "score"}, ...], ...]`.
    #[default]
    Tei,
    /// The small generic form documented in `docs/remote-model.md`: `{"texts": [...]}` →
    /// `{"results": [{"score": s} | {"labels": [{"label", "score"}, ...]}, ...]}`.
    Generic,
}

/// Which HTTP version to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HttpVersion {
    /// HTTP/1.1 for `http://`; for `https://`, HTTP/2 when the server offers it (ALPN).
    #[default]
    Auto,
    /// HTTP/1.1 only (a pool of keep-alive connections, up to `max_concurrent_requests`).
    Http1,
    /// HTTP/2 only, without upgrade (prior knowledge; `h2c` on `http://`): one multiplexed
    /// connection. For gRPC-style inference gateways and servers that speak h2c.
    Http2,
}

/// `url` as error messages show it: whatever sits between `://` and an `@` of the authority
/// (a user name and password) replaced, so that a credential put in the URL by mistake is not
/// echoed by the very check that rejects it. Works on text, since the URL may not parse.
pub(crate) fn without_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_owned() };
    let authority_end = url[scheme_end..].find(['/', '?', '#']).map_or(url.len(), |i| scheme_end + i);
    match url[scheme_end..authority_end].rfind('@') {
        Some(at) => format!("{}{}{}", &url[..scheme_end], crate::config::REDACTED, &url[scheme_end + at..]),
        None => url.to_owned(),
    }
}

/// A URL as logs, errors and `check-config` show it: no user name or password, and the query
/// (which may hold a credential, `?api_key=`) and fragment replaced by `<redacted>`.
pub(crate) fn shown_url(url: &str) -> String {
    let shown = without_userinfo(url);
    match shown.find(['?', '#']) {
        Some(at) => format!("{}{}", &shown[..=at], crate::config::REDACTED),
        None => shown,
    }
}

/// Whether a request to `url` would carry its token unencrypted off this machine: plain http
/// to a host that is not a loopback address or `localhost`.
pub(crate) fn sends_token_in_clear(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else { return false };
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let loopback =
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    url.scheme() == "http" && !loopback
}

/// The query of `url` (without `?` and fragment), `None` when it has none: a credential to hide.
pub(crate) fn url_query(url: &str) -> Option<&str> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or_default();
    (!query.is_empty()).then_some(query)
}

#[cfg(test)]
#[test]
fn a_token_in_clear_is_plain_http_off_this_machine() {
    assert!(sends_token_in_clear("http://model.svc:8080/predict"));
    assert!(sends_token_in_clear("http://10.0.0.7/predict"));
    for url in ["https://model.svc/predict", "http://localhost:8080/x", "http://127.0.0.1/x", "http://[::1]:80/x"] {
        assert!(!sends_token_in_clear(url), "{url}");
    }
}

/// Written by hand so that no `{:?}` (a panic message, a test failure) shows the URL's query,
/// which may hold a credential ([`shown_url`]); the token redacts itself.
impl<L: LabelTarget + std::fmt::Debug> std::fmt::Debug for RemoteSettings<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let RemoteSettings {
            enabled,
            name,
            url,
            api,
            http,
            timeout_ms,
            batch_size,
            linger_ms,
            max_concurrent_requests,
            queue_size,
            max_chars,
            languages,
            token,
            ca_file,
            retry,
            breaker,
            labels,
            threshold,
        } = self;
        f.debug_struct("RemoteSettings")
            .field("enabled", enabled)
            .field("name", name)
            .field("url", &shown_url(url))
            .field("api", api)
            .field("http", http)
            .field("timeout_ms", timeout_ms)
            .field("batch_size", batch_size)
            .field("linger_ms", linger_ms)
            .field("max_concurrent_requests", max_concurrent_requests)
            .field("queue_size", queue_size)
            .field("max_chars", max_chars)
            .field("languages", languages)
            .field("token", token)
            .field("ca_file", ca_file)
            .field("retry", retry)
            .field("breaker", breaker)
            .field("labels", labels)
            .field("threshold", threshold)
            .finish()
    }
}

/// A credential: deserialised normally, but never shown — `Debug` and `Serialize` (hence
/// `check-config` and any log of the settings) print `"<redacted>"`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself: for the `Authorization` header, and for checking and redacting it
    /// (validation, `Settings::secrets`, error excerpts that must not echo it).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(crate::config::REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(crate::config::REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Environment values that look like numbers arrive as numbers: accept them as text.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Int(i64),
        }
        // serde's own message would name the enum above; no value is quoted either way.
        let raw = Raw::deserialize(d).map_err(|_| serde::de::Error::custom("expected a string"))?;
        Ok(Secret(match raw {
            Raw::Text(s) => s,
            Raw::Int(n) => n.to_string(),
        }))
    }
}

/// What a remote model's label map points at: the one thing in which the two remote models'
/// settings differ. Implemented for `f64` (sentiment valence) and `String` (tag id).
pub trait LabelTarget: Clone + PartialEq + Debug + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The config section, for error messages: `sentiment.remote`, `taxonomy.remote`.
    const SECTION: &'static str;
    /// Whether the section has a probability `threshold` (the tag classifier).
    const HAS_THRESHOLD: bool;
    /// The label map when the file gives none.
    fn default_labels() -> BTreeMap<String, Self>;
    /// Checks one entry of the label map.
    fn check(&self) -> Result<(), String>;
}

/// `[sentiment.remote]`: model label → valence in [-1, 1].
impl LabelTarget for f64 {
    const SECTION: &'static str = "sentiment.remote";
    const HAS_THRESHOLD: bool = false;

    fn default_labels() -> BTreeMap<String, Self> {
        [("negative", -1.0), ("neutral", 0.0), ("positive", 1.0)].into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    fn check(&self) -> Result<(), String> {
        if self.is_finite() && (-1.0..=1.0).contains(self) {
            Ok(())
        } else {
            Err(format!("{self} must be between -1 and 1"))
        }
    }
}

/// `[taxonomy.remote]`: model label → tag id of the taxonomy (checked against the taxonomy at
/// start-up and at each reload by [`crate::remote::tags::check_labels`]).
impl LabelTarget for String {
    const SECTION: &'static str = "taxonomy.remote";
    const HAS_THRESHOLD: bool = true;

    /// None: which of a classifier's labels are tags is the operator's decision.
    fn default_labels() -> BTreeMap<String, Self> {
        BTreeMap::new()
    }

    fn check(&self) -> Result<(), String> {
        if self.trim().is_empty() {
            Err("must name a tag id".into())
        } else {
            Ok(())
        }
    }
}

/// `[sentiment.remote]`.
pub type SentimentRemoteSettings = RemoteSettings<f64>;
/// `[taxonomy.remote]`.
pub type TagRemoteSettings = RemoteSettings<String>;

/// Default probability a tag classifier's label needs to count (`taxonomy.remote.threshold`).
pub const DEFAULT_TAG_THRESHOLD: f64 = 0.5;

/// A remote model provider. See `docs/remote-model.md`. `L` is what the label map points at
/// ([`LabelTarget`]): `f64` for `[sentiment.remote]`, `String` for `[taxonomy.remote]`.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default, bound(serialize = "L: LabelTarget", deserialize = "L: LabelTarget"))]
pub struct RemoteSettings<L: LabelTarget = f64> {
    /// Switch the remote model off without deleting its settings (e.g.
    /// `NEWS_ENRICHER_SENTIMENT__REMOTE__ENABLED=false`).
    pub enabled: bool,
    /// Short name: records say `"source": "remote:<name>"`, metrics carry `model="<name>"`.
    pub name: String,
    /// Full URL of the endpoint, e.g. `http://tei:8080/predict`.
    pub url: String,
    pub api: Api,
    pub http: HttpVersion,
    /// The most an article waits for the remote model, end to end (queueing, linger, requests
    /// and retries); after it, the built-in model's result is used. Bounds the latency a slow or
    /// hung model can add to any message. Must stay below `kafka.drain_timeout_ms`.
    pub timeout_ms: u64,
    /// Articles per request (at most; a request leaves when full or after `linger_ms`). Keep it
    /// at or below the server's limit (TEI: `--max-client-batch-size`, default 32).
    pub batch_size: usize,
    /// How long the first article of a batch waits for others before the request leaves.
    pub linger_ms: u64,
    /// Requests in flight at once; further batches wait (and fill up) meanwhile.
    pub max_concurrent_requests: usize,
    /// Articles waiting for a request slot; beyond it, articles use the built-in model at once
    /// (fallback reason `overloaded`) rather than queue without bound.
    pub queue_size: usize,
    /// Characters of title and body sent (models read ~512 tokens, about 2,000 characters).
    pub max_chars: usize,
    /// Languages sent to the model (ISO 639-1); articles in others keep the built-in result.
    /// Empty: every article. Articles too short to tell count as English, as for the built-in
    /// model.
    pub languages: Vec<String>,
    /// Bearer token (`Authorization: Bearer …`). Put it in the environment:
    /// `NEWS_ENRICHER_SENTIMENT__REMOTE__TOKEN` (`NEWS_ENRICHER_TAXONOMY__REMOTE__TOKEN`).
    /// Redacted everywhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// PEM file of extra CA certificates to trust for `https://` (a private CA in front of the
    /// model server), in addition to the Mozilla roots compiled in. Relative paths are relative
    /// to the working directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    pub retry: RetrySettings,
    pub breaker: BreakerSettings,
    /// Model label (matched case-insensitively) → what it means. `[sentiment.remote]`: a
    /// valence in [-1, 1]; the article's score is the probability-weighted mean valence of the
    /// labels the model returns. `[taxonomy.remote]`: a tag id of the taxonomy.
    pub labels: BTreeMap<String, L>,
    /// `[taxonomy.remote]` only: the probability a label needs for its tag to count (default
    /// 0.5). Not accepted in `[sentiment.remote]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    /// Retries of a failed request (timeouts, connection errors, 5xx, 429), within `timeout_ms`.
    pub max_retries: u32,
    /// First backoff; doubles on each retry, with equal jitter (half fixed, half random), up to `max_backoff_ms`.
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// A 429 or 503 with `Retry-After` pauses all requests for that long, up to this cap.
    pub max_retry_after_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerSettings {
    /// Consecutive failed requests that open the breaker (every article then uses the built-in
    /// model at once, without calling the server).
    pub failure_threshold: u32,
    /// How long the breaker stays open before it lets a probe request through (half-open).
    pub open_ms: u64,
    /// Successful probe requests (one at a time) that close the breaker again; a failed probe
    /// re-opens it.
    pub half_open_probes: u32,
}

impl<L: LabelTarget> Default for RemoteSettings<L> {
    fn default() -> Self {
        RemoteSettings {
            enabled: true,
            name: "remote".into(),
            url: String::new(),
            api: Api::Tei,
            http: HttpVersion::Auto,
            timeout_ms: 1000,
            batch_size: 16,
            linger_ms: 5,
            max_concurrent_requests: 4,
            queue_size: 1024,
            max_chars: 2000,
            languages: vec!["en".into()],
            token: None,
            ca_file: None,
            retry: RetrySettings::default(),
            breaker: BreakerSettings::default(),
            labels: L::default_labels(),
            threshold: L::HAS_THRESHOLD.then_some(DEFAULT_TAG_THRESHOLD),
        }
    }
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings { max_retries: 2, initial_backoff_ms: 50, max_backoff_ms: 1000, max_retry_after_ms: 30_000 }
    }
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings { failure_threshold: 5, open_ms: 5000, half_open_probes: 1 }
    }
}

impl<L: LabelTarget> RemoteSettings<L> {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Checks every value. The error names the key relative to the section (`url`,
    /// `retry.max_backoff_ms`, …); the caller prefixes the section.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, message: String| Err((key.to_owned(), message));
        if !self.enabled {
            return Ok(());
        }
        if self.name.is_empty() || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return bad("name", format!("{:?} must be non-empty letters, digits, '-', '_' or '.'", self.name));
        }
        if self.url.trim().is_empty() {
            return bad("url", "must be set (or set enabled = false)".into());
        }
        match reqwest::Url::parse(&self.url) {
            Err(e) => return bad("url", format!("{:?} is not a URL: {e}", shown_url(&self.url))),
            Ok(u) if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() => {
                let shown = shown_url(&self.url);
                return bad("url", format!("{shown:?} must be an http:// or https:// URL with a host"));
            }
            Ok(u) if u.password().is_some() || !u.username().is_empty() => {
                return bad("url", "must not contain a user name or password: put the credential in `token`".into())
            }
            Ok(_) => {}
        }
        for (key, value) in [
            ("timeout_ms", self.timeout_ms),
            ("batch_size", self.batch_size as u64),
            ("max_concurrent_requests", self.max_concurrent_requests as u64),
            ("queue_size", self.queue_size as u64),
            ("max_chars", self.max_chars as u64),
            ("breaker.failure_threshold", u64::from(self.breaker.failure_threshold)),
            ("breaker.open_ms", self.breaker.open_ms),
            ("breaker.half_open_probes", u64::from(self.breaker.half_open_probes)),
        ] {
            if value == 0 {
                return bad(key, "must be at least 1".into());
            }
        }
        // Times beyond a day are mistakes, and large enough ones overflow the clock when added
        // to the present (a panic).
        for (key, value) in [
            ("timeout_ms", self.timeout_ms),
            ("linger_ms", self.linger_ms),
            ("breaker.open_ms", self.breaker.open_ms),
            ("retry.initial_backoff_ms", self.retry.initial_backoff_ms),
            ("retry.max_backoff_ms", self.retry.max_backoff_ms),
            ("retry.max_retry_after_ms", self.retry.max_retry_after_ms),
        ] {
            if value > crate::config::MAX_DURATION_MS {
                return bad(key, format!("must be at most {} (a day)", crate::config::MAX_DURATION_MS));
            }
        }
        if self.batch_size > 4096 {
            return bad("batch_size", "must be at most 4096".into());
        }
        if self.linger_ms >= self.timeout_ms {
            return bad("linger_ms", format!("must be below timeout_ms ({})", self.timeout_ms));
        }
        let r = &self.retry;
        if r.max_retries > 0 && r.initial_backoff_ms == 0 {
            return bad("retry.initial_backoff_ms", "must be at least 1 when retries are enabled".into());
        }
        if r.max_backoff_ms < r.initial_backoff_ms {
            return bad("retry.max_backoff_ms", "must be at least retry.initial_backoff_ms".into());
        }
        if self.url.contains(crate::config::REDACTED) {
            return bad("url", crate::config::REDACTED_PLACEHOLDER.into());
        }
        if let Some(token) = &self.token {
            let t = token.expose();
            if t.contains(crate::config::REDACTED) {
                return bad("token", crate::config::REDACTED_PLACEHOLDER.into());
            }
            if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return bad("token", "must be non-empty, without spaces or control characters".into());
            }
        }
        if self.labels.is_empty() {
            return bad("labels", "must map at least one model label".into());
        }
        let mut seen = std::collections::HashSet::new();
        for (label, target) in &self.labels {
            if let Err(message) = target.check() {
                return bad(&format!("labels.{label}"), message);
            }
            if !seen.insert(label.to_lowercase()) {
                return bad(&format!("labels.{label}"), "differs from another label only in case".into());
            }
        }
        if self.languages.iter().any(|l| l.trim().is_empty()) {
            return bad("languages", "must not contain empty codes".into());
        }
        match (L::HAS_THRESHOLD, self.threshold) {
            (true, Some(t)) if !(t > 0.0 && t <= 1.0) => {
                return bad("threshold", format!("{t} must be above 0 and at most 1"));
            }
            (true, None) => return bad("threshold", "must be set".into()),
            (false, Some(_)) => {
                return bad("threshold", "only a tag classifier ([taxonomy.remote]) has a threshold".into());
            }
            _ => {}
        }
        if let Some(path) = &self.ca_file {
            load_ca_file(path).map_err(|message| ("ca_file".to_owned(), message))?;
        }
        Ok(())
    }

    /// The probability a label needs to count (tag classifier).
    pub fn threshold(&self) -> f64 {
        self.threshold.unwrap_or(DEFAULT_TAG_THRESHOLD)
    }
}

/// Reads a PEM bundle of CA certificates and checks that rustls accepts each as a trust anchor,
/// so a wrong file is a configuration error at start-up rather than a TLS failure on every
/// request. The message names the file.
pub fn load_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let shown = path.display();
    let pem = crate::config::read_config_file(path).map_err(|e| format!("{shown}: cannot read the CA file: {e}"))?;
    // from_pem_bundle skips text outside PEM blocks and fails on a damaged block; a file with
    // no certificate block at all (a key, a DER file, an empty file) yields none.
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("{shown}: not a PEM certificate bundle: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{shown}: no \"BEGIN CERTIFICATE\" block found (expected PEM CA certificates)"));
    }
    // reqwest parses the certificates only when it builds a client (adding them to rustls' root
    // store): build one to find out now.
    let mut builder = reqwest::Client::builder().use_rustls_tls();
    for cert in &certs {
        builder = builder.add_root_certificate(cert.clone());
    }
    builder.build().map_err(|e| {
        let mut message = format!("{shown}: not usable as CA certificates: {e}");
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        message
    })?;
    Ok(certs)
}
