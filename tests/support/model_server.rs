//! A programmable model server for the remote-model tests: a real HTTP server (axum, HTTP/1.1
//! and HTTP/2) on 127.0.0.1:0 speaking the TEI `/predict` API and the generic JSON form, whose
//! behaviour the test sets per request — answer correctly, slowly, with a status (5xx, 4xx),
//! with 429 and `Retry-After`, with malformed JSON or a wrong number of results, with labels the
//! label map does not know, or hang. It records every request (batch size, time, headers,
//! HTTP version) and the most requests it served at once.
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
    /// 429, with `Retry-After: <seconds>` when given.
    TooMany(Option<u64>),
    /// 200 with a body that is not JSON.
    Malformed,
    /// 200 with one result fewer than texts.
    WrongLength,
    /// 200 with labels no label map knows.
    UnknownLabels,
    /// Never answer.
    Hang,
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
}

pub struct ModelServer {
    pub addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ModelServer {
    /// Starts the server on 127.0.0.1:0 on the current runtime, answering correctly.
    pub async fn start() -> Self {
        let state = Arc::new(State::default());
        *state.default.lock().unwrap() = Some(Behaviour::Ok);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let route = |path: &'static str| {
            let s = state.clone();
            post(move |v: Version, h: HeaderMap, b: Bytes| handle(s.clone(), path, v, h, b))
        };
        let app = Router::new().route("/predict", route("/predict")).route("/generic", route("/generic"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ModelServer { addr, state, task }
    }

    /// `http://127.0.0.1:PORT/predict` (TEI) or `/generic`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
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
    let texts: Vec<String> = if path == "/predict" {
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
        Behaviour::TooMany(retry_after) => {
            let mut response = (StatusCode::TOO_MANY_REQUESTS, r#"{"error":"Model is overloaded"}"#).into_response();
            if let Some(secs) = retry_after {
                response.headers_mut().insert("retry-after", secs.to_string().parse().unwrap());
            }
            return response;
        }
        Behaviour::Malformed => return (StatusCode::OK, "[[{\"label\": \"positive\", \"sco").into_response(),
        Behaviour::Hang => std::future::pending::<()>().await,
        Behaviour::WrongLength | Behaviour::UnknownLabels => {}
    }
    let mut results: Vec<Value> = texts
        .iter()
        .map(|t| {
            let labels: Vec<Value> = if behaviour == Behaviour::UnknownLabels {
                vec![json!({"label": "joy", "score": 1.0})]
            } else {
                predictions(t).into_iter().map(|(l, s)| json!({"label": l, "score": s})).collect()
            };
            Value::Array(labels)
        })
        .collect();
    if behaviour == Behaviour::WrongLength {
        results.pop();
    }
    let body = if path == "/predict" {
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
