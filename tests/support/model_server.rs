//! A programmable model server for the remote-model tests: a real HTTP server (axum, HTTP/1.1
//! and HTTP/2) on 127.0.0.1:0 — plain, or HTTPS with a certificate of a private test CA
//! ([`ModelServer::start_tls`], `tests/support/tls/`) — speaking the TEI `/predict` API and the
//! generic JSON form, as a sentiment model (`/predict`, `/generic`) and as a multi-label tag
//! classifier (`/tags`, `/generic-tags`), whose behaviour the test sets per request — answer
//! correctly, slowly, with a status (5xx, 4xx), with 429 and `Retry-After`, with malformed JSON
//! or a wrong number of results, with labels the label map does not know, or hang. It records
//! every request (path, batch size, time, headers, HTTP version) and the most requests it
//! served at once.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the server does with one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    /// Answer correctly at once.
    Ok,
    /// Answer correctly after this long.
    Slow(Duration),
    /// Answer correctly after a random delay up to this long.
    Jitter(Duration),
    /// Answer with this status and a TEI-style error body.
    Status(u16),
    /// Answer with this status and a body of this many bytes (a proxy's error page).
    LargeError(u16, usize),
    /// 429, with `Retry-After: <seconds>` when given.
    TooMany(Option<u64>),
    /// 503 with `Retry-After: <seconds>`.
    Unavailable(u64),
    /// 200 with a body that is not JSON.
    Malformed,
    /// 200 with one result fewer than texts.
    WrongLength,
    /// 200 with labels no label map knows.
    UnknownLabels,
    /// Never answer.
    Hang,
    /// 200 with a body streamed without a length that never ends (white space, so that only
    /// a size limit stops a client reading it).
    Endless,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub path: String,
    pub texts: Vec<String>,
    pub authorization: Option<String>,
    pub version: Version,
}

#[derive(Default)]
struct State {
    default: Mutex<Option<Behaviour>>,
    script: Mutex<VecDeque<Behaviour>>,
    seen: Mutex<Vec<Seen>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    failed_handshakes: AtomicUsize,
}

pub struct ModelServer {
    pub addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
    scheme: &'static str,
}

/// The test CA's certificate (PEM file), which signed the TLS server's certificate.
pub const TEST_CA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/tls/ca.pem");

fn tls_file(name: &str) -> String {
    format!("{}/tests/support/tls/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The routes, on a fresh state answering correctly.
fn app() -> (Arc<State>, Router) {
    let state = Arc::new(State::default());
    *state.default.lock().unwrap() = Some(Behaviour::Ok);
    let route = |path: &'static str| {
        let s = state.clone();
        post(move |v: Version, h: HeaderMap, b: Bytes| handle(s.clone(), path, v, h, b))
    };
    let mut router = Router::new();
    for path in ["/predict", "/generic", "/tags", "/generic-tags"] {
        router = router.route(path, route(path));
    }
    (state, router)
}

/// TCP accept plus the TLS handshake, for `axum::serve`. Handshakes run one at a time, which is
/// plenty for tests; a failed one is counted and the next connection accepted.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: Arc<State>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else { continue };
            match self.acceptor.accept(tcp).await {
                Ok(tls) => return (tls, addr),
                Err(_) => {
                    self.state.failed_handshakes.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ModelServer {
    /// Starts the server on 127.0.0.1:0 on the current runtime, answering correctly.
    pub async fn start() -> Self {
        let (state, app) = app();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ModelServer { addr, state, task, scheme: "http" }
    }

    /// Starts the server for HTTPS on 127.0.0.1:0 with the certificate of the test CA
    /// ([`TEST_CA`]), offering HTTP/2 and HTTP/1.1 by ALPN.
    pub async fn start_tls() -> Self {
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs: Vec<CertificateDer> =
            CertificateDer::pem_file_iter(tls_file("server.pem")).unwrap().collect::<Result<_, _>>().unwrap();
        let key = PrivateKeyDer::from_pem_file(tls_file("server.key")).unwrap();
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let (state, app) = app();
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let listener =
            TlsListener { tcp, acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)), state: state.clone() };
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ModelServer { addr, state, task, scheme: "https" }
    }

    /// `http://127.0.0.1:PORT/predict` (TEI sentiment), `/generic`, `/tags` (TEI tag
    /// classifier) or `/generic-tags`; `https://` for a TLS server.
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }

    /// TLS handshakes that failed (a client that does not trust the test CA).
    pub fn failed_handshakes(&self) -> usize {
        self.state.failed_handshakes.load(Ordering::SeqCst)
    }

    /// What every request gets from now on (after the script).
    pub fn set(&self, behaviour: Behaviour) {
        *self.state.default.lock().unwrap() = Some(behaviour);
    }

    /// What the next requests get, in order, before the default applies again.
    pub fn script(&self, behaviours: impl IntoIterator<Item = Behaviour>) {
        self.state.script.lock().unwrap().extend(behaviours);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn requests(&self) -> usize {
        self.state.seen.lock().unwrap().len()
    }

    pub fn batch_sizes(&self) -> Vec<usize> {
        self.seen().iter().map(|s| s.texts.len()).collect()
    }

    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }
}

/// The test model: "good" → mostly positive, "bad" → mostly negative, else mostly neutral.
pub fn predictions(text: &str) -> Vec<(&'static str, f64)> {
    let t = text.to_lowercase();
    let mut p: Vec<(&'static str, f64)> = if t.contains("good") {
        vec![("positive", 0.9), ("neutral", 0.06), ("negative", 0.04)]
    } else if t.contains("bad") {
        vec![("negative", 0.8), ("neutral", 0.15), ("positive", 0.05)]
    } else {
        vec![("neutral", 0.9), ("positive", 0.05), ("negative", 0.05)]
    };
    p.sort_by(|a, b| b.1.total_cmp(&a.1));
    p
}

/// The score the default label map gives to [`predictions`].
pub fn expected_score(text: &str) -> f64 {
    let p = predictions(text);
    let v = |l: &str| match l {
        "positive" => 1.0,
        "negative" => -1.0,
        _ => 0.0,
    };
    p.iter().map(|(l, s)| s * v(l)).sum::<f64>() / p.iter().map(|(_, s)| s).sum::<f64>()
}

/// The test tag classifier, multi-label (independent probabilities): `Taiwan` for texts
/// mentioning Taiwan or Taipei, `Opioids` for fentanyl or opioids, `Cyber` for hacking,
/// `Borderline` (0.45, below the default threshold) for "maybe", and always `Sports` (a label no
/// test maps). Labels in the order TEI sends them, most probable first.
pub fn tag_predictions(text: &str) -> Vec<(&'static str, f64)> {
    let t = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    let mut p: Vec<(&'static str, f64)> = vec![
        ("Taiwan", if has(&["taiwan", "taipei"]) { 0.97 } else { 0.03 }),
        ("Opioids", if has(&["fentanyl", "opioid"]) { 0.91 } else { 0.02 }),
        ("Cyber", if has(&["hack"]) { 0.88 } else { 0.01 }),
        ("Borderline", if has(&["maybe"]) { 0.45 } else { 0.0 }),
        ("Sports", 0.6),
    ];
    p.sort_by(|a, b| b.1.total_cmp(&a.1));
    p
}

struct InFlight(Arc<State>);
impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(state: Arc<State>, path: &'static str, version: Version, headers: HeaderMap, body: Bytes) -> Response {
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let _guard = InFlight(state.clone());
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("bad JSON: {e}")).into_response(),
    };
    // TEI: {"inputs": [["t1"], ["t2"]], "truncate": true}; generic: {"texts": ["t1", "t2"]}.
    let tei = matches!(path, "/predict" | "/tags");
    let tags = matches!(path, "/tags" | "/generic-tags");
    let texts: Vec<String> = if tei {
        match request["inputs"].as_array() {
            Some(items) => items.iter().map(|i| i[0].as_str().unwrap_or("").to_owned()).collect(),
            None => return (StatusCode::UNPROCESSABLE_ENTITY, "no inputs").into_response(),
        }
    } else {
        match request["texts"].as_array() {
            Some(items) => items.iter().map(|i| i.as_str().unwrap_or("").to_owned()).collect(),
            None => return (StatusCode::UNPROCESSABLE_ENTITY, "no texts").into_response(),
        }
    };
    let authorization = headers.get("authorization").map(|v| v.to_str().unwrap_or("").to_owned());
    state.seen.lock().unwrap().push(Seen {
        at: Instant::now(),
        path: path.into(),
        texts: texts.clone(),
        authorization,
        version,
    });
    let behaviour = state.script.lock().unwrap().pop_front();
    let behaviour = behaviour.unwrap_or_else(|| state.default.lock().unwrap().clone().unwrap_or(Behaviour::Ok));
    match behaviour {
        Behaviour::Ok => {}
        Behaviour::Slow(d) => tokio::time::sleep(d).await,
        Behaviour::Jitter(max) => tokio::time::sleep(max.mul_f64(fastrand::f64())).await,
        Behaviour::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            return (status, json!({"error": "injected", "error_type": "backend"}).to_string()).into_response();
        }
        Behaviour::LargeError(code, size) => {
            return (StatusCode::from_u16(code).unwrap(), vec![b'x'; size]).into_response();
        }
        Behaviour::TooMany(retry_after) => {
            let mut response = (StatusCode::TOO_MANY_REQUESTS, r#"{"error":"Model is overloaded"}"#).into_response();
            if let Some(secs) = retry_after {
                response.headers_mut().insert("retry-after", secs.to_string().parse().unwrap());
            }
            return response;
        }
        Behaviour::Unavailable(secs) => {
            let mut response = (StatusCode::SERVICE_UNAVAILABLE, r#"{"error":"loading"}"#).into_response();
            response.headers_mut().insert("retry-after", secs.to_string().parse().unwrap());
            return response;
        }
        Behaviour::Malformed => return (StatusCode::OK, "[[{\"label\": \"positive\", \"sco").into_response(),
        Behaviour::Hang => std::future::pending::<()>().await,
        Behaviour::Endless => {
            let spaces = Bytes::from(vec![b' '; 64 * 1024]);
            let stream = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(spaces.clone()));
            return (StatusCode::OK, axum::body::Body::from_stream(stream)).into_response();
        }
        Behaviour::WrongLength | Behaviour::UnknownLabels => {}
    }
    let mut results: Vec<Value> = texts
        .iter()
        .map(|t| {
            let labels: Vec<Value> = if behaviour == Behaviour::UnknownLabels {
                vec![json!({"label": "joy", "score": 1.0})]
            } else if tags {
                tag_predictions(t).into_iter().map(|(l, s)| json!({"label": l, "score": s})).collect()
            } else {
                predictions(t).into_iter().map(|(l, s)| json!({"label": l, "score": s})).collect()
            };
            Value::Array(labels)
        })
        .collect();
    if behaviour == Behaviour::WrongLength {
        results.pop();
    }
    let body = if tei {
        Value::Array(results)
    } else {
        // Generic: a direct score for texts mentioning "score", else the label list.
        let results: Vec<Value> = texts
            .iter()
            .zip(results)
            .map(|(t, labels)| if t.contains("score") { json!({"score": -0.25}) } else { json!({"labels": labels}) })
            .collect();
        json!({ "results": results })
    };
    ([("content-type", "application/json")], body.to_string()).into_response()
}
