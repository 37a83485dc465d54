//! Accepting and keeping connections, within limits that a hostile client cannot
//! stretch:
//!
//! - **idle timeout**: a connection with no request running and no byte of a new
//!   one for `idle_timeout` is closed (a silent new connection, or a keep-alive one
//!   between requests);
//! - **header timeout**: once the first byte of a request has come, its whole head
//!   must follow within `header_timeout` (slowloris);
//! - **connection cap**: at most `max_connections` are open. A connection arriving
//!   at the cap closes the one that has been idle longest, so silent connections
//!   cannot lock out real clients (a connection counts as idle once its last
//!   answer is written and a second has passed); when none is idle the new one is
//!   answered 503 and closed.
//!
//! The body's own deadline and the memory budget of bodies in flight are applied per
//! request (see `wire::body`). hyper reads into a buffer of at most
//! [`MAX_READ_BUFFER`] per connection, which also bounds a request's head.

use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// Largest read buffer of one connection; a request head must fit in it.
pub const MAX_READ_BUFFER: usize = 16 * 1024;

/// A connection must have been idle this long before one arriving at the cap may
/// close it (its client may have sent a request that is still on its way).
const EVICTABLE_AFTER_MS: u64 = 1000;

/// How long a shutdown waits for running requests before it closes their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

const BUSY_ANSWER: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\nconnection: close\r\ncontent-length: 92\r\n\r\n\
{\"error\":{\"key\":\"server_busy\",\"message\":\"Too many connections are busy; try again shortly\"}}";

/// The connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// What the watchdog knows of one connection. Times are milliseconds since `epoch`.
struct ConnState {
    epoch: Instant,
    in_flight: AtomicUsize,
    /// When the connection last became idle (opened, or answered its last request).
    idle_since: AtomicU64,
    /// When the first byte of the next request arrived; 0 while none has.
    head_since: AtomicU64,
    close: Notify,
}

impl ConnState {
    fn now(&self) -> u64 {
        // At least 1, so that 0 can mean "not started".
        (self.epoch.elapsed().as_millis() as u64).max(1)
    }

    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && self.head_since.load(Ordering::Acquire) == 0
    }

    /// The next instant a limit could end this connection, or `Ok(())` if one
    /// already has.
    fn deadline(&self, limits: &ConnLimits) -> Result<Instant, ()> {
        let now = self.now();
        let (since, limit) = if self.in_flight.load(Ordering::Acquire) > 0 {
            // A running request is bounded by its body deadline and handlers.
            (now, limits.idle_timeout.min(limits.header_timeout))
        } else {
            match self.head_since.load(Ordering::Acquire) {
                0 => (self.idle_since.load(Ordering::Acquire), limits.idle_timeout),
                head => (head, limits.header_timeout),
            }
        };
        let end = since + limit.as_millis() as u64;
        if end <= now && self.in_flight.load(Ordering::Acquire) == 0 {
            Err(())
        } else {
            Ok(self.epoch + Duration::from_millis(end.max(now + 1)))
        }
    }
}

/// The socket, noting when a new request's first byte arrives.
struct Watched {
    inner: TcpStream,
    state: Arc<ConnState>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before
            && self.state.in_flight.load(Ordering::Acquire) == 0
            && self.state.head_since.load(Ordering::Acquire) == 0
        {
            let now = self.state.now();
            self.state.head_since.store(now, Ordering::Release);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Marks a request as running until dropped (answered, or abandoned).
struct Running(Arc<ConnState>);

impl Running {
    fn start(state: &Arc<ConnState>) -> Running {
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        state.head_since.store(0, Ordering::Release);
        Running(state.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let now = self.0.now();
        self.0.idle_since.store(now, Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The open connections, so that one arriving at the cap can close an idle one.
#[derive(Default)]
struct Registry {
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<ConnState>>>,
}

impl Registry {
    fn len(&self) -> usize {
        self.open.lock().map(|m| m.len()).unwrap_or(0)
    }

    fn add(&self, state: Arc<ConnState>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = self.open.lock() {
            m.insert(id, state);
        }
        id
    }

    fn remove(&self, id: u64) {
        if let Ok(mut m) = self.open.lock() {
            m.remove(&id);
        }
    }

    /// Closes the connection idle the longest, and forgets it at once so that it
    /// is not chosen twice; false when none is idle.
    fn evict_idle(&self) -> bool {
        let Ok(mut m) = self.open.lock() else {
            return false;
        };
        let oldest = m
            .iter()
            .filter(|(_, s)| {
                s.is_idle()
                    && s.now().saturating_sub(s.idle_since.load(Ordering::Acquire))
                        >= EVICTABLE_AFTER_MS
            })
            .min_by_key(|(_, s)| s.idle_since.load(Ordering::Acquire))
            .map(|(id, _)| *id);
        match oldest.and_then(|id| m.remove(&id)) {
            Some(s) => {
                s.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` turns true, then lets running
/// requests finish (for at most [`SHUTDOWN_GRACE`]).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let registry = Arc::new(Registry::default());
    let epoch = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut last_warning = None;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        while tasks.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, say: free one if a connection is idle,
                // else wait rather than spin.
                if last_warning.is_none_or(|at: Instant| at.elapsed() >= Duration::from_secs(10)) {
                    tracing::warn!(error = %e, "cannot accept a connection (logged at most every 10 s)");
                    last_warning = Some(Instant::now());
                }
                let out_of_descriptors =
                    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE));
                if !(out_of_descriptors && registry.evict_idle()) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        if registry.len() >= limits.max_connections && !registry.evict_idle() {
            tasks.spawn(refuse(stream));
            continue;
        }
        let state = Arc::new(ConnState {
            epoch,
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
            close: Notify::new(),
        });
        state.idle_since.store(state.now(), Ordering::Release);
        let id = registry.add(state.clone());
        let registry = registry.clone();
        let router = router.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            serve_one(stream, peer, router, state, limits, shutdown).await;
            registry.remove(id);
        });
    }
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
}

/// Answers 503 to a connection over the cap and closes it, reading (and dropping)
/// a little of what the client sent first so that it sees the answer rather than
/// a reset.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(BUSY_ANSWER).await;
        let _ = stream.shutdown().await;
        let mut sink = [0u8; 4096];
        let mut read = 0;
        while read < 64 * 1024 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    })
    .await;
}

async fn serve_one(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    router: Router,
    state: Arc<ConnState>,
    limits: ConnLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let io = TokioIo::new(Watched {
        inner: stream,
        state: state.clone(),
    });
    let svc_state = state.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let running = Running::start(&svc_state);
        req.extensions_mut().insert(super::ClientAddr(peer));
        let mut router = router.clone();
        async move {
            let answer =
                tower_service::Service::call(&mut router, req.map(axum::body::Body::new)).await;
            // The request runs until its answer is written: the guard goes with
            // the response body, which hyper drops once it has sent it.
            answer.map(|response| {
                response.map(|body| {
                    axum::body::Body::new(body.map_frame(move |frame| {
                        let _running = &running;
                        frame
                    }))
                })
            })
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.max_buf_size(MAX_READ_BUFFER).keep_alive(true);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        let deadline = match state.deadline(&limits) {
            Ok(d) => d,
            Err(()) => return, // timed out: drop the connection
        };
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = tokio::time::sleep_until(deadline) => {}
            // Evicted at the cap (only ever while idle).
            _ = state.close.notified() => return,
            _ = shutdown.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_answer_says_its_length() {
        let text = std::str::from_utf8(BUSY_ANSWER).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let _: serde_json::Value = serde_json::from_str(body).unwrap();
    }
}
