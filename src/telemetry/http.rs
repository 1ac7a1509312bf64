//! The operations endpoint on `http.listen`: `/metrics` (Prometheus text), `/healthz` (the
//! process is alive and serving) and `/readyz` (joined to the group, brokers reachable, making
//! progress; 503 with the reason otherwise).
//!
//! The endpoint binds `0.0.0.0` in containers, so it must survive slow or hostile clients without
//! taking the process down with it. It serves HTTP/1.1 only, through its own accept loop on
//! hyper-util (axum's `axum::serve` exposes no timeouts and no connection limit), with
//! [`Limits`]:
//!
//! - a **header-read timeout** ([`HEADER_READ_TIMEOUT`]): a connection that has not sent a
//!   complete request head in time is closed. Hyper restarts this timer after every response, so
//!   it also bounds how long an idle keep-alive connection is kept;
//! - a **cap on concurrent connections** ([`MAX_CONNECTIONS`]): at the cap the oldest connection
//!   that is not in the middle of a request (still sending a request head, or idle between
//!   requests) is closed to make room, so clients that open connections and send their requests
//!   slowly cannot keep a probe out; only when every connection is serving a request does the
//!   new one wait (and the loop stop accepting) until one ends. The endpoint never holds more
//!   than the cap plus one sockets;
//! - a **maximum connection age** ([`MAX_CONNECTION_AGE`]): a connection is shut down gracefully
//!   at that age and dropped if it still has not finished one header-read timeout later. This
//!   bounds what the header timeout does not: a client that never reads its response.
//!
//! Together, every connection ends within a bounded time, so a slow client holds one slot for a
//! bounded time and can never make `/healthz` fail for others while the endpoint is below the cap.

use crate::pipeline::Shared;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};

/// What the endpoint serves: the worker, set once it has started. Before that, `/readyz` answers
/// 503 "not ready: starting", with the start-up step when one is set
/// ([`WorkerSlot::set_starting`]). Clones share the slot.
#[derive(Clone, Default)]
pub struct WorkerSlot(Arc<SlotState>);

#[derive(Default)]
struct SlotState {
    worker: OnceLock<Arc<Shared>>,
    starting: std::sync::Mutex<Option<&'static str>>,
}

impl WorkerSlot {
    /// Sets the worker (once; a second call returns the worker it was given).
    pub fn set(&self, worker: Arc<Shared>) -> Result<(), Arc<Shared>> {
        self.0.worker.set(worker)
    }

    /// The worker, once set.
    pub fn get(&self) -> Option<&Arc<Shared>> {
        self.0.worker.get()
    }

    /// What start-up is doing before the worker is set, for `/readyz` ("checking
    /// topics"); `None` for nothing in particular.
    pub fn set_starting(&self, step: Option<&'static str>) {
        *self.0.starting.lock().unwrap_or_else(|p| p.into_inner()) = step;
    }

    fn starting(&self) -> Option<&'static str> {
        *self.0.starting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How long a client may take to send a complete request head (and how long a keep-alive
/// connection may stay idle between requests). Prometheus and the kubelet send their whole
/// request in one packet within milliseconds; 10 s still tolerates a very slow network, yet frees
/// a slot held by a stalled client quickly, well within a liveness probe's failure window
/// (default 3 × 10 s).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How many connections the endpoint serves at once. Normal load is a handful (a scraper or two,
/// the kubelet's probes, an operator's curl), so 256 leaves two orders of magnitude of headroom
/// while keeping the endpoint's sockets far below even a 1024 file-descriptor limit, which the
/// Kafka connections and the rest of the process need.
pub const MAX_CONNECTIONS: usize = 256;

/// The largest request head a connection buffers (hyper's default is about 400 KiB, so
/// [`MAX_CONNECTIONS`] clients could hold 100 MiB): our requests are a line and a few headers;
/// a larger head is answered 431 and the connection closed.
pub const MAX_REQUEST_HEAD_BYTES: usize = 16 * 1024;

/// Age at which a connection is shut down gracefully (the request in progress, if any, completes;
/// then it closes), and dropped if it has not closed [`HEADER_READ_TIMEOUT`] later. Our responses
/// are small and served in milliseconds, so one minute only affects connections that are stuck
/// (e.g. a client that never reads); a keep-alive scraper merely reconnects once a minute.
pub const MAX_CONNECTION_AGE: Duration = Duration::from_secs(60);

/// After an accept error that is not about one connection (e.g. out of file descriptors), wait
/// this long before accepting again, rather than spinning on the error.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_secs(1);

/// At most one "connection limit reached" warning per this interval, so a flood does not also
/// flood the logs.
const LIMIT_WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// The endpoint's protection against slow and hostile clients (see the module documentation).
/// [`serve`] uses [`Limits::default`], i.e. the constants above; tests inject short ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// See [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// See [`MAX_CONNECTIONS`]; values below 1 are treated as 1.
    ///
    /// At the cap, a new connection takes the slot of the oldest connection not serving a
    /// request (one sending its request head slowly, or idle between requests, which is closed);
    /// when every connection is serving a request, the new one **waits** for a slot (later ones
    /// stay in the kernel's accept queue, costing the process no file descriptor) rather than
    /// being refused: a probe arriving while slots are briefly full is served late instead of
    /// failed, and every slot frees within a bounded time (at most
    /// [`Limits::max_connection_age`] plus [`Limits::header_read_timeout`]).
    pub max_connections: usize,
    /// See [`MAX_CONNECTION_AGE`].
    pub max_connection_age: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            max_connection_age: MAX_CONNECTION_AGE,
        }
    }
}

/// Binds `listen` (fails fast on a bad or busy address) and serves until the runtime stops, with
/// the default [`Limits`]. Returns the bound address (useful with port 0).
pub async fn serve(listen: &str, worker: WorkerSlot) -> std::io::Result<SocketAddr> {
    serve_with(listen, worker, Limits::default()).await
}

/// [`serve`] with explicit [`Limits`].
pub async fn serve_with(listen: &str, worker: WorkerSlot, limits: Limits) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(worker);
    tokio::spawn(accept_loop(listener, app, limits));
    tracing::info!(
        %addr,
        header_read_timeout_ms = limits.header_read_timeout.as_millis() as u64,
        max_connections = limits.max_connections,
        "serving /metrics, /healthz and /readyz"
    );
    Ok(addr)
}

/// One open connection, as the accept loop sees it.
#[derive(Default)]
struct Connection {
    /// A request is being served (its head arrived, its response is not made yet).
    busy: AtomicBool,
    /// Told to close the connection, to free its slot for a new one.
    evict: Notify,
}

/// The open connections, oldest first (entries of closed ones are dropped when found).
#[derive(Default)]
struct Open(Mutex<VecDeque<Weak<Connection>>>);

impl Open {
    /// Registers a new connection. The entries of closed connections are dropped whenever they
    /// make up most of the list, so it stays within twice the connections open.
    fn add(&self, max_connections: usize) -> Arc<Connection> {
        let connection = Arc::new(Connection::default());
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if open.len() >= 2 * max_connections.max(1) {
            open.retain(|c| c.strong_count() > 0);
        }
        open.push_back(Arc::downgrade(&connection));
        connection
    }

    /// Tells the oldest connection not serving a request to close; whether there was one.
    fn evict_oldest_idle(&self) -> bool {
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|c| c.strong_count() > 0);
        let idle = open.iter().position(|c| c.upgrade().is_some_and(|c| !c.busy.load(Ordering::Acquire)));
        match idle.and_then(|at| open.remove(at)).and_then(|c| c.upgrade()) {
            Some(connection) => {
                connection.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Accepts connections while fewer than `limits.max_connections` are open, serving each on its
/// own task until it ends; at the cap, closes the oldest idle one first (see the module docs).
async fn accept_loop(listener: TcpListener, app: Router, limits: Limits) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let open = Open::default();
    // HTTP/1.1 only: the auto-detecting mode would first wait for the protocol preface without
    // any timeout.
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_REQUEST_HEAD_BYTES);
    let builder = Arc::new(builder);
    let mut last_limit_warning: Option<Instant> = None;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                tracing::error!(error = %e, "HTTP endpoint: accept failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        // A slot for the connection just accepted (so at the cap one more socket is open, this
        // one): made by closing the oldest idle connection, or else waited for, while further
        // connections wait in the kernel's accept queue.
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                let evicted = open.evict_oldest_idle();
                if last_limit_warning.is_none_or(|t| t.elapsed() >= LIMIT_WARNING_INTERVAL) {
                    last_limit_warning = Some(Instant::now());
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "HTTP endpoint at its connection limit; {}",
                        if evicted {
                            "closing the oldest connections that are not serving a request"
                        } else {
                            "new connections wait"
                        }
                    );
                }
                match slots.clone().acquire_owned().await {
                    Ok(slot) => slot,
                    Err(_) => return, // never closed
                }
            }
        };
        let builder = builder.clone();
        let app = app.clone();
        let connection = open.add(limits.max_connections);
        tokio::spawn(async move {
            serve_connection(&builder, stream, peer, app, limits, &connection).await;
            drop(slot);
        });
    }
}

/// Serves one connection until it ends, [`Limits::max_connection_age`] plus at most
/// [`Limits::header_read_timeout`] at the latest.
async fn serve_connection(
    builder: &auto::Builder<TokioExecutor>,
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    connection: &Arc<Connection>,
) {
    let serving = connection.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let (serving, app) = (serving.clone(), app.clone());
        async move {
            serving.busy.store(true, Ordering::Release);
            let response = tower::ServiceExt::oneshot(app, request).await;
            serving.busy.store(false, Ordering::Release);
            response
        }
    });
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                // Header timeouts and clients that hang up land here: routine, not worth a warning.
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
            return;
        }
        () = connection.evict.notified() => {
            tracing::debug!(%peer, "HTTP connection closed to make room at the connection limit");
            return;
        }
        () = tokio::time::sleep(limits.max_connection_age) => {}
    }
    conn.as_mut().graceful_shutdown();
    if tokio::time::timeout(limits.header_read_timeout, conn).await.is_err() {
        tracing::debug!(%peer, "HTTP connection dropped: still open after its maximum age");
    }
}

/// Errors about the one connection being accepted (it went away before we took it), as opposed
/// to errors of the listener or the process.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionAborted | ConnectionReset | ConnectionRefused)
}

async fn metrics(State(worker): State<WorkerSlot>) -> impl IntoResponse {
    let body = worker.get().map_or_else(crate::pipeline::stats::Stats::encode_starting, |w| w.metrics_text());
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body)
}

async fn readyz(State(worker): State<WorkerSlot>) -> impl IntoResponse {
    match worker.get() {
        None => match worker.starting() {
            Some(step) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: starting: {step}\n")),
            None => (StatusCode::SERVICE_UNAVAILABLE, "not ready: starting\n".to_owned()),
        },
        Some(w) if w.is_ready() => (StatusCode::OK, "ready\n".to_owned()),
        Some(w) => {
            let reason = w.not_ready_reason().unwrap_or("starting");
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}\n"))
        }
    }
}
