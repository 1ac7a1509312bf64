//! The operations endpoint on `http.listen`: `/metrics` (Prometheus text), `/healthz` (the
//! process is alive and serving) and `/readyz` (joined to the group, brokers reachable, making
//! progress; 503 with the reason otherwise).

use crate::pipeline::Shared;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

/// What the endpoint serves: set once the worker has started. Before that, `/readyz` says so.
pub type WorkerSlot = Arc<OnceLock<Arc<Shared>>>;

/// Binds `listen` (fails fast on a bad or busy address) and serves until the runtime stops.
/// Returns the bound address (useful with port 0).
pub async fn serve(listen: &str, worker: WorkerSlot) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(worker);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "HTTP endpoint stopped");
        }
    });
    tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
    Ok(addr)
}

async fn metrics(State(worker): State<WorkerSlot>) -> impl IntoResponse {
    let body = worker.get().map(|w| w.metrics_text()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body)
}

async fn readyz(State(worker): State<WorkerSlot>) -> impl IntoResponse {
    match worker.get() {
        None => (StatusCode::SERVICE_UNAVAILABLE, "not ready: starting\n".to_owned()),
        Some(w) if w.is_ready() => (StatusCode::OK, "ready\n".to_owned()),
        Some(w) => {
            let reason = w.not_ready_reason().unwrap_or("starting");
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}\n"))
        }
    }
}
