//! One HTTP request to the model server: building the body for the configured API flavour,
//! sending it with reqwest (pooled connections, HTTP/1.1 or HTTP/2, rustls with the Mozilla
//! roots plus an optional private CA), and turning the answer into one [`Answer`] per text — or
//! a typed [`CallError`] saying what went wrong and whether a retry may help. What an answer
//! *means* (a sentiment score, tags) is the business of the model's [`super::Head`].
//!
//! # Flavours
//!
//! **`tei`** — Hugging Face Text Embeddings Inference, `POST /predict` on a
//! sequence-classification model. Each text is sent as a one-element sequence, because TEI reads
//! a flat list of two strings as a *pair*:
//!
//! ```text
//! → {"inputs": [["text 1"], ["text 2"]], "truncate": true}
//! ← [[{"label": "positive", "score": 0.91}, {"label": "neutral", ...}, ...], [...]]
//! ```
//!
//! **`generic`** — for any server you write yourself:
//!
//! ```text
//! → {"texts": ["text 1", "text 2"]}
//! ← {"results": [{"score": -0.42}, {"labels": [{"label": "positive", "score": 0.7}, ...]}]}
//! ```
//!
//! one result per text, in order: either a direct `score` (sentiment only), or a `labels`
//! list of label probabilities.

use super::settings::{Api, HttpVersion, LabelTarget, RemoteSettings, Secret};
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::time::Duration;

/// Responses larger than this per text of the batch are refused rather than buffered, and never
/// more than [`MAX_RESPONSE_BYTES`]. A text's answer is a score or a label list, a few hundred
/// bytes; 64 KiB holds about 1,500 labels. The parsed labels take a few times the bytes they
/// came in (see [`ModelClient::parse`]).
const MAX_RESPONSE_BYTES_PER_TEXT: usize = 64 * 1024;
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// How much of an error response's body its error message quotes.
const ERROR_EXCERPT_CHARS: usize = 200;

/// Why a request failed. `kind` is the `kind` label of `news_enricher_remote_errors_total`.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    pub kind: ErrorKind,
    pub message: String,
    /// The server's `Retry-After`, when it sent one with a 429 or 503.
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No complete answer within the request's time budget.
    Timeout,
    /// The connection could not be made (refused, DNS, TLS handshake).
    Connect,
    /// 5xx.
    ServerError,
    /// 429 Too Many Requests.
    Throttled,
    /// Other 4xx: a configuration problem (URL, token, batch too large for the server).
    ClientError,
    /// The answer is not what the flavour promises (not JSON, wrong shape, wrong length).
    Malformed,
    /// The model answered with labels none of which is in the label map.
    UnmappedLabel,
    /// Any other transport failure (connection reset mid-response, …).
    Transport,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connect => "connect",
            ErrorKind::ServerError => "server_error",
            ErrorKind::Throttled => "throttled",
            ErrorKind::ClientError => "client_error",
            ErrorKind::Malformed => "malformed",
            ErrorKind::UnmappedLabel => "unmapped_label",
            ErrorKind::Transport => "transport",
        }
    }

    /// Whether the same request may succeed if sent again: transient server and network
    /// trouble yes; answers that will be just as wrong next time (4xx, malformed) no.
    pub fn retriable(self) -> bool {
        matches!(
            self,
            ErrorKind::Timeout
                | ErrorKind::Connect
                | ErrorKind::ServerError
                | ErrorKind::Throttled
                | ErrorKind::Transport
        )
    }
}

impl CallError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CallError { kind, message: message.into(), retry_after: None }
    }
}

/// Longest error message shown (in bytes, cut at a character boundary): messages quote what
/// the server sent (labels, excerpts), and a broken or hostile server must not make multi-MB
/// log lines.
pub const MAX_SHOWN_ERROR_BYTES: usize = 512;

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message = self.message.as_str();
        if message.len() <= MAX_SHOWN_ERROR_BYTES {
            return write!(f, "{}: {message}", self.kind.as_str());
        }
        let shown = crate::enrich::text::prefix_within(message, MAX_SHOWN_ERROR_BYTES);
        write!(f, "{}: {shown}… ({} bytes)", self.kind.as_str(), message.len())
    }
}

/// What the model said about one text.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A direct sentiment score (generic flavour, `{"score": s}`), checked to be in [-1, 1].
    Score(f64),
    /// Label probabilities, as the server sent them.
    Labels(Vec<(String, f64)>),
}

#[derive(Debug, Deserialize)]
struct Prediction {
    label: String,
    score: f64,
}

/// Sends batches to the model server. Cheap to share: reqwest's client is a pooled handle.
pub struct ModelClient {
    http: reqwest::Client,
    url: reqwest::Url,
    api: Api,
    token: Option<Secret>,
}

/// Written by hand so that the URL's query (an `?api_key=`) is shown redacted, like the token.
impl std::fmt::Debug for ModelClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelClient")
            .field("url", &super::settings::shown_url(self.url.as_str()))
            .field("api", &self.api)
            .field("token", &self.token)
            .finish()
    }
}

impl ModelClient {
    /// Builds the client: connection pool sized for `max_concurrent_requests`, TCP_NODELAY,
    /// no redirects (a redirect is a misconfigured URL, and must not carry the token elsewhere),
    /// the configured HTTP version, and the CA certificates of `ca_file` added to the roots.
    pub fn new<L: LabelTarget>(settings: &RemoteSettings<L>) -> Result<Self, String> {
        let section = L::SECTION;
        let url = reqwest::Url::parse(&settings.url).map_err(|e| format!("{section}.url: {e}"))?;
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("news-enricher/", env!("CARGO_PKG_VERSION")))
            .tcp_nodelay(true)
            .connect_timeout(settings.timeout())
            .pool_max_idle_per_host(settings.max_concurrent_requests)
            .pool_idle_timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .use_rustls_tls();
        if let Some(path) = &settings.ca_file {
            for cert in super::settings::load_ca_file(path).map_err(|e| format!("{section}.ca_file: {e}"))? {
                builder = builder.add_root_certificate(cert);
            }
        }
        builder = match settings.http {
            HttpVersion::Auto => builder,
            HttpVersion::Http1 => builder.http1_only(),
            HttpVersion::Http2 => builder
                .http2_prior_knowledge()
                .http2_adaptive_window(true)
                .http2_keep_alive_interval(Duration::from_secs(20))
                .http2_keep_alive_timeout(Duration::from_secs(10)),
        };
        let http = builder.build().map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(ModelClient { http, url, api: settings.api, token: settings.token.clone() })
    }

    /// Asks the model about `texts` in one request; the whole request, answer included, must
    /// finish within `timeout`. Returns one answer per text, in order.
    pub async fn predict(&self, texts: &[&str], timeout: Duration) -> Result<Vec<Answer>, CallError> {
        let body = match self.api {
            Api::Tei => {
                let inputs: Vec<[&str; 1]> = texts.iter().map(|t| [*t]).collect();
                serde_json::json!({"inputs": inputs, "truncate": true})
            }
            Api::Generic => serde_json::json!({"texts": texts}),
        };
        let mut request = self
            .http
            .post(self.url.clone())
            .timeout(timeout)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .body(serde_json::to_vec(&body).expect("serialising JSON to a Vec cannot fail"));
        if let Some(token) = &self.token {
            // bearer_auth marks the header sensitive (kept out of reqwest's own Debug output).
            request = request.bearer_auth(token.expose());
        }
        let mut response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let limit = (texts.len().max(1) * MAX_RESPONSE_BYTES_PER_TEXT).min(MAX_RESPONSE_BYTES);
        // The status decides first: an error answer with a large body (a proxy's HTML page) is
        // still a server error to retry, or a 429 whose Retry-After counts; only the start of its
        // body is read, for the message.
        let error_kind = (!status.is_success()).then(|| match status {
            StatusCode::TOO_MANY_REQUESTS => ErrorKind::Throttled,
            // A 503 that says when to come back is the server shedding load, like a 429.
            StatusCode::SERVICE_UNAVAILABLE if retry_after.is_some() => ErrorKind::Throttled,
            StatusCode::REQUEST_TIMEOUT => ErrorKind::Timeout,
            s if s.is_server_error() => ErrorKind::ServerError,
            _ => ErrorKind::ClientError,
        });
        if let (None, Some(len)) = (error_kind, response.content_length()) {
            if len > limit as u64 {
                return Err(CallError::new(
                    ErrorKind::Malformed,
                    format!("response of {len} bytes is over the limit of {limit} for {} texts", texts.len()),
                ));
            }
        }
        // Read in chunks up to the limit: a server that streams without a length must not
        // make the worker buffer without bound.
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if bytes.len() + chunk.len() > limit {
                if error_kind.is_some() {
                    break;
                }
                return Err(CallError::new(
                    ErrorKind::Malformed,
                    format!("response is larger than the limit of {limit} bytes for {} texts", texts.len()),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        if let Some(kind) = error_kind {
            let excerpt = self.error_excerpt(&bytes);
            let honoured = matches!(status, StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE);
            return Err(CallError {
                kind,
                message: format!("HTTP {status}: {excerpt}"),
                retry_after: retry_after.filter(|_| honoured),
            });
        }
        self.parse(&bytes, texts.len())
    }

    /// The start of an error response's body for the error message (it is logged), with the
    /// token hidden: a gateway may echo the `Authorization` header it refused. The token is
    /// replaced before the cut, so a token across the cut cannot show in part.
    fn error_excerpt(&self, body: &[u8]) -> String {
        let token_len = self.token.as_ref().map_or(0, |t| t.expose().len());
        let head = &body[..body.len().min(4 * ERROR_EXCERPT_CHARS + token_len)];
        let mut text = String::from_utf8_lossy(head).into_owned();
        if let Some(token) = self.token.as_ref().filter(|t| !t.expose().is_empty()) {
            text = text.replace(token.expose(), crate::config::REDACTED);
        }
        text.chars().take(ERROR_EXCERPT_CHARS).collect()
    }

    /// Turns a successful answer into `n` answers. The top level is parsed with its items kept
    /// as raw slices of the answer, and each item then into typed values: a JSON tree of the
    /// whole answer would take about 25 times its size.
    pub fn parse(&self, bytes: &[u8], n: usize) -> Result<Vec<Answer>, CallError> {
        let malformed = |m: String| CallError::new(ErrorKind::Malformed, m);
        let top: &RawValue =
            serde_json::from_slice(bytes).map_err(|e| malformed(format!("response is not JSON: {e}")))?;
        let items: Vec<&RawValue> = match (self.api, kind_of(top)) {
            (Api::Tei, "an array") => {
                let items: Vec<&RawValue> = serde_json::from_str(top.get()).map_err(|e| malformed(e.to_string()))?;
                // A single sequence may be answered with a flat list of predictions.
                if n == 1 && items.first().is_some_and(|item| kind_of(item) == "an object") {
                    vec![top]
                } else {
                    items
                }
            }
            (Api::Tei, other) => return Err(malformed(format!("expected a JSON array, got {other}"))),
            (Api::Generic, "an object") => {
                #[derive(Deserialize)]
                struct Body<'a> {
                    #[serde(borrow)]
                    results: Option<&'a RawValue>,
                }
                match serde_json::from_str::<Body<'_>>(top.get()) {
                    Ok(Body { results: Some(results) }) if kind_of(results) == "an array" => {
                        serde_json::from_str(results.get()).map_err(|e| malformed(e.to_string()))?
                    }
                    _ => return Err(malformed("expected an object with a `results` array".into())),
                }
            }
            (Api::Generic, other) => return Err(malformed(format!("expected a JSON object, got {other}"))),
        };
        if items.len() != n {
            return Err(malformed(format!("{} results for {n} texts", items.len())));
        }
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match (self.api, kind_of(item)) {
                (Api::Tei, "an array") => labels(i, item),
                (Api::Generic, "an object") => {
                    #[derive(Deserialize)]
                    struct Item<'a> {
                        #[serde(borrow)]
                        score: Option<&'a RawValue>,
                        #[serde(borrow)]
                        labels: Option<&'a RawValue>,
                    }
                    let item: Item<'_> =
                        serde_json::from_str(item.get()).map_err(|e| malformed(format!("result {i}: {e}")))?;
                    match (item.score, item.labels) {
                        (Some(s), _) if kind_of(s) == "a number" => match s.get().parse::<f64>() {
                            Ok(score) if (-1.0..=1.0).contains(&score) => Ok(Answer::Score(score)),
                            _ => Err(malformed(format!("result {i}: score {} is not in [-1, 1]", s.get()))),
                        },
                        (None, Some(preds)) if kind_of(preds) == "an array" => labels(i, preds),
                        _ => Err(malformed(format!("result {i}: needs a numeric `score` or a `labels` array"))),
                    }
                }
                (_, other) => Err(malformed(format!("result {i}: unexpected {other}"))),
            })
            .collect()
    }
}

/// One result's label list. Scores must be probabilities: raw logits (TEI's `raw_scores`) would
/// be read as confidences, and huge values overflow the sums made from them.
fn labels(i: usize, preds: &RawValue) -> Result<Answer, CallError> {
    let malformed = |m: String| CallError::new(ErrorKind::Malformed, format!("result {i}: {m}"));
    let preds: Vec<Prediction> = serde_json::from_str(preds.get()).map_err(|e| malformed(e.to_string()))?;
    preds
        .into_iter()
        .map(|p| {
            if !(0.0..=1.0).contains(&p.score) {
                return Err(malformed(format!(
                    "label {:?} has score {}, not a probability in [0, 1]",
                    p.label, p.score
                )));
            }
            Ok((p.label, p.score))
        })
        .collect::<Result<_, _>>()
        .map(Answer::Labels)
}

/// The kind of a valid JSON value, from its first character.
fn kind_of(v: &RawValue) -> &'static str {
    match v.get().trim_start().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

fn transport_error(e: reqwest::Error) -> CallError {
    // Without the URL, whose query may hold a credential (`?api_key=`); the error never names
    // headers, so the token cannot leak through it either.
    let e = e.without_url();
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_connect() {
        ErrorKind::Connect
    } else {
        ErrorKind::Transport
    };
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    CallError::new(kind, message)
}

/// `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let delta = at - time::OffsetDateTime::now_utc();
    Some(Duration::try_from(delta).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(api: Api) -> ModelClient {
        let s = RemoteSettings::<f64> { url: "http://127.0.0.1:9/predict".into(), api, ..RemoteSettings::default() };
        ModelClient::new(&s).unwrap()
    }

    fn labels(pairs: &[(&str, f64)]) -> Answer {
        Answer::Labels(pairs.iter().map(|(l, p)| (l.to_string(), *p)).collect())
    }

    #[test]
    fn parses_tei_batches_and_a_flat_single_answer() {
        let m = client(Api::Tei);
        let body = br#"[[{"label":"positive","score":1.0}],[{"label":"negative","score":0.75},{"label":"neutral","score":0.25}]]"#;
        assert_eq!(
            m.parse(body, 2).unwrap(),
            vec![labels(&[("positive", 1.0)]), labels(&[("negative", 0.75), ("neutral", 0.25)])]
        );
        let flat = br#"[{"label":"label_x","score":1.0}]"#;
        assert_eq!(m.parse(flat, 1).unwrap(), vec![labels(&[("label_x", 1.0)])]);
    }

    #[test]
    fn parses_generic_scores_and_labels() {
        let m = client(Api::Generic);
        let body = br#"{"results":[{"score":-0.42},{"labels":[{"label":"positive","score":1}]}]}"#;
        assert_eq!(m.parse(body, 2).unwrap(), vec![Answer::Score(-0.42), labels(&[("positive", 1.0)])]);
    }

    #[test]
    fn label_scores_must_be_probabilities() {
        let m = client(Api::Tei);
        for body in [
            &br#"[[{"label":"positive","score":-2.5},{"label":"negative","score":3.1}]]"#[..],
            br#"[[{"label":"positive","score":1.7e308},{"label":"POSITIVE","score":1.7e308}]]"#,
        ] {
            let e = m.parse(body, 1).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Malformed, "{e}");
            assert!(e.message.contains("not a probability"), "{e}");
        }
        // A server's endless label is not an endless log line.
        let body = format!(r#"[[{{"label":"{}","score":2}}]]"#, "é".repeat(100_000));
        let shown = m.parse(body.as_bytes(), 1).unwrap_err().to_string();
        assert!(shown.len() < MAX_SHOWN_ERROR_BYTES + 40 && shown.ends_with(" bytes)"), "{} bytes", shown.len());
        let generic = client(Api::Generic);
        let e = generic.parse(br#"{"results":[{"labels":[{"label":"positive","score":1.5}]}]}"#, 1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
    }

    #[test]
    fn debug_output_shows_neither_the_token_nor_the_query() {
        let s = RemoteSettings::<f64> {
            url: "https://models.example/predict?api_key=QUERYSECRET".into(),
            token: Some(Secret::new("tok-TOKENSECRET")),
            ..RemoteSettings::default()
        };
        let shown = format!("{:?}", ModelClient::new(&s).unwrap());
        assert!(!shown.contains("SECRET") && shown.contains("models.example/predict?"), "{shown}");
    }

    #[test]
    fn an_error_body_that_echoes_the_token_is_quoted_without_it() {
        let token = "tok-VERYSECRET123";
        let s = RemoteSettings::<f64> {
            url: "http://127.0.0.1:9/predict".into(),
            token: Some(Secret::new(token)),
            ..RemoteSettings::default()
        };
        let m = ModelClient::new(&s).unwrap();
        let body = format!(r#"{{"error":"invalid credentials: Bearer {token}"}}"#);
        let excerpt = m.error_excerpt(body.as_bytes());
        assert!(!excerpt.contains("VERYSECRET"), "{excerpt}");
        assert!(excerpt.contains("Bearer <redacted>"), "{excerpt}");
        // A token straddling the excerpt's end is hidden whole, not cut.
        let long = format!("{}{token}", "x".repeat(ERROR_EXCERPT_CHARS - 5));
        let excerpt = m.error_excerpt(long.as_bytes());
        assert!(!excerpt.contains("tok-V") && excerpt.chars().count() == ERROR_EXCERPT_CHARS, "{excerpt}");
    }

    #[test]
    fn malformed_answers_are_typed() {
        let tei = client(Api::Tei);
        let generic = client(Api::Generic);
        for (m, body, n) in [
            (&tei, &b"not json"[..], 1),
            (&tei, br#"{"error":"x"}"#, 1),
            (&tei, br#"[[{"label":"positive","score":1}]]"#, 2),
            (&tei, br#"[[{"label":"positive"}]]"#, 1),
            (&tei, br#"[3]"#, 1),
            (&generic, br#"{"results":[{"score":2.0}]}"#, 1),
            (&generic, br#"{"results":[{"nope":1}]}"#, 1),
            (&generic, br#"[]"#, 0),
        ] {
            let e = m.parse(body, n).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Malformed, "{}: {e}", String::from_utf8_lossy(body));
            assert!(!e.kind.retriable());
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO), "a past date: now");
        let future = time::OffsetDateTime::now_utc() + time::Duration::seconds(30);
        let text = future.format(&time::format_description::well_known::Rfc2822).unwrap();
        let d = parse_retry_after(&text).unwrap();
        assert!(d > Duration::from_secs(27) && d <= Duration::from_secs(30), "{d:?}");
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
