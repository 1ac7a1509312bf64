//! The operations endpoint's protection against slow and hostile clients: the header-read
//! timeout, the cap on concurrent connections (at the cap, the oldest connection not serving a
//! request is closed for a new one), the maximum connection age and the bound on a request head.
//! Limits are injected through `serve_with`, so nothing here waits for the 10 s defaults.

use news_enricher::telemetry::http::{self, Limits};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// A request head cut short: the server keeps waiting for the blank line.
const PARTIAL_HEAD: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: x\r\n";
/// A timeout short enough for tests.
const SHORT: Duration = Duration::from_millis(300);
/// A timeout no test outlives: a limit set to this never fires during a test.
const LONG: Duration = Duration::from_secs(600);
/// Bound on waits for something that must happen, only so that a regression fails instead of
/// hanging; far above `SHORT` so it never decides a test on a slow machine.
const HANG_GUARD: Duration = Duration::from_secs(20);

async fn start(limits: Limits) -> SocketAddr {
    http::serve_with("127.0.0.1:0", http::WorkerSlot::default(), limits).await.unwrap()
}

async fn partial_head(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(PARTIAL_HEAD).await.unwrap();
    stream
}

/// `n` connections holding a slot each with a partial request head.
async fn partial_heads(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(partial_head(addr).await);
    }
    held
}

/// Whether the server closes `stream` (end of stream or reset) within [`HANG_GUARD`].
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut sink = Vec::new();
    timeout(HANG_GUARD, stream.read_to_end(&mut sink)).await.is_ok()
}

/// Sends `GET /healthz` (connection: close) on a new connection, without reading the answer.
async fn send_healthz(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    stream
}

/// Reads the whole response on `stream`; its status code.
async fn status(mut stream: TcpStream) -> u16 {
    let mut response = String::new();
    timeout(HANG_GUARD, stream.read_to_string(&mut response))
        .await
        .expect("no response (hung)")
        .expect("reading the response");
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad response {response:?}"))
}

async fn healthz(addr: SocketAddr) -> u16 {
    status(send_healthz(addr).await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_header_connection_is_closed_after_header_read_timeout() {
    let addr = start(Limits { header_read_timeout: SHORT, max_connection_age: LONG, ..Limits::default() }).await;
    let mut partial = partial_head(addr).await;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert!(closed_by_server(&mut partial).await, "a partial request head kept the connection open");
    assert!(closed_by_server(&mut silent).await, "a connection that sent nothing was kept open");
    assert_eq!(healthz(addr).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_below_the_cap_do_not_block_healthz() {
    let addr = start(Limits { header_read_timeout: LONG, max_connections: 4, max_connection_age: LONG }).await;
    let held = partial_heads(addr, 3).await;
    // The fourth slot serves probes one after another.
    for _ in 0..3 {
        assert_eq!(healthz(addr).await, 200);
    }
    drop(held);
}

/// At the cap, the oldest connection still sending its request head is closed to make room:
/// clients that hold every slot with slow requests (and open more as theirs close) cannot keep
/// a probe out, which they could when new connections waited for a slot to free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_the_oldest_slow_client_makes_room() {
    let addr = start(Limits { header_read_timeout: LONG, max_connections: 4, max_connection_age: LONG }).await;
    let mut held = partial_heads(addr, 4).await;
    for round in 0..3 {
        assert_eq!(healthz(addr).await, 200, "round {round}");
        // The oldest was closed for it; the others stay open.
        let mut oldest = held.remove(0);
        assert!(closed_by_server(&mut oldest).await, "round {round}: the oldest slow client was kept");
        let mut byte = [0u8; 1];
        for stream in &mut held {
            let early = timeout(Duration::from_millis(200), stream.read(&mut byte)).await;
            assert!(early.is_err(), "round {round}: a newer slow client was closed: {early:?}");
        }
        // The slow clients take the freed slot again, once the probe's connection has ended
        // (else the replacement could be the one making room).
        tokio::time::sleep(Duration::from_millis(300)).await;
        held.push(partial_head(addr).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_slots_free_when_held_connections_time_out() {
    let addr = start(Limits { header_read_timeout: SHORT, max_connections: 4, max_connection_age: LONG }).await;
    let mut held = partial_heads(addr, 4).await;
    let waiting = send_healthz(addr).await;
    assert_eq!(status(waiting).await, 200);
    for stream in &mut held {
        assert!(closed_by_server(stream).await, "a held connection was not timed out");
    }
    assert_eq!(healthz(addr).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connection_is_closed_at_max_age() {
    let addr = start(Limits { header_read_timeout: LONG, max_connection_age: SHORT, ..Limits::default() }).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut response = Vec::new();
    let mut chunk = [0u8; 1024];
    while !response.ends_with(b"\r\n\r\nok\n") {
        let n = timeout(HANG_GUARD, stream.read(&mut chunk)).await.expect("no response (hung)").unwrap();
        assert!(n > 0, "closed before the response was complete: {:?}", String::from_utf8_lossy(&response));
        response.extend_from_slice(&chunk[..n]);
    }
    assert!(response.starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&response));
    // Keep-alive: the connection stays open for more requests, until it reaches its maximum age.
    assert!(closed_by_server(&mut stream).await, "an idle keep-alive connection outlived its maximum age");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_head_is_refused_not_buffered() {
    let addr = start(Limits { header_read_timeout: LONG, ..Limits::default() }).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let padding = "a".repeat(http::MAX_REQUEST_HEAD_BYTES);
    let head = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: {padding}\r\nConnection: close\r\n\r\n");
    // The server stops reading at the bound, answers 431 and closes; the unread rest of the
    // head may make that close a reset that the answer does not survive.
    let _ = stream.write_all(head.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = timeout(HANG_GUARD, stream.read_to_end(&mut answer)).await.expect("no answer and no close (hung)");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 431"), "a head over the bound is refused: {answer}");
    assert_eq!(healthz(addr).await, 200, "and the endpoint keeps serving");
}
