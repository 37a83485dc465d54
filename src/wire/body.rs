//! Request bodies within the limits every dialect shares.
//!
//! The server wraps each request body with [`limit`] before any dialect sees it:
//!
//! - the whole body must arrive within a deadline (`http.body_timeout_secs`), so a
//!   client that stalls half way is dropped instead of held;
//! - the bytes all bodies in flight have received count against one budget
//!   (`http.body_memory_bytes`). A body that would pass it waits a moment for room
//!   (not reading from its socket meanwhile, so the client is slowed, not buffered)
//!   and is refused as busy when none comes.
//!
//! [`read_body`] then reads a wrapped (or plain) body into memory up to a size cap
//! and says in a typed [`BodyError`] why it could not.

use bytes::Bytes;
use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// How much of an oversized body is still read (and dropped) before answering, so
/// the client finishes sending and sees the answer instead of a reset connection.
pub const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// Longest a body waits for room in the shared budget before it is refused.
pub const BUDGET_WAIT: Duration = Duration::from_secs(2);

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the request body did not arrive within {0} seconds")]
    TimedOut(u64),
    #[error("the server is receiving too many request bodies at once; try again shortly")]
    Busy,
    /// Broken framing (a bad chunk size, say) or a connection that closed early.
    #[error("the request body cannot be read: {0}")]
    Unreadable(String),
}

/// The shared limits. Cheap to clone.
#[derive(Clone, Debug)]
pub struct BodyLimits {
    budget: Arc<Semaphore>,
    budget_bytes: usize,
    timeout: Duration,
    /// Most of one body that is counted against the budget: the largest body any
    /// dialect keeps. Bytes past it are only drained and dropped, never held.
    per_body: usize,
    /// Bytes received by all bodies since the process started, for the allocator trim.
    received: Arc<AtomicU64>,
}

impl BodyLimits {
    pub fn new(budget_bytes: usize, timeout: Duration, per_body: usize) -> BodyLimits {
        let budget_bytes = budget_bytes.clamp(1, Semaphore::MAX_PERMITS);
        BodyLimits {
            budget: Arc::new(Semaphore::new(budget_bytes)),
            budget_bytes,
            timeout,
            per_body: per_body.min(budget_bytes),
            received: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Bytes of the budget held by bodies being received right now.
    pub fn in_use(&self) -> usize {
        self.budget_bytes - self.budget.available_permits()
    }

    /// Bytes received by all bodies so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

/// What travels in place of a body's own error when a limit stops it.
#[derive(Debug, thiserror::Error)]
enum LimitStop {
    #[error("timed out after {0} seconds")]
    TimedOut(u64),
    #[error("busy")]
    Busy,
}

struct Limited {
    inner: axum::body::BodyDataStream,
    deadline: Instant,
    limits: BodyLimits,
    held: Option<OwnedSemaphorePermit>,
    held_bytes: usize,
    done: bool,
}

impl Limited {
    async fn next(mut self) -> Option<(Result<Bytes, axum::Error>, Limited)> {
        if self.done {
            return None;
        }
        let stop = |mut s: Limited, why: LimitStop| {
            s.done = true;
            s.held = None;
            Some((Err(axum::Error::new(why)), s))
        };
        let secs = self.limits.timeout.as_secs();
        let chunk = match tokio::time::timeout_at(self.deadline, self.inner.next()).await {
            Err(_) => return stop(self, LimitStop::TimedOut(secs)),
            Ok(None) => return None,
            Ok(Some(Err(e))) => {
                self.done = true;
                return Some((Err(e), self));
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        self.limits
            .received
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        let want = chunk.len().min(self.limits.per_body - self.held_bytes);
        if want > 0 {
            let budget = self.limits.budget.clone();
            // Room in the budget is the common case: take it without a timer.
            let permit = match budget.clone().try_acquire_many_owned(want as u32) {
                Ok(permit) => permit,
                Err(_) => {
                    let until = self.deadline.min(Instant::now() + BUDGET_WAIT);
                    match tokio::time::timeout_at(until, budget.acquire_many_owned(want as u32))
                        .await
                    {
                        Ok(Ok(permit)) => permit,
                        Ok(Err(_)) | Err(_) => return stop(self, LimitStop::Busy),
                    }
                }
            };
            match &mut self.held {
                Some(held) => held.merge(permit),
                None => self.held = Some(permit),
            }
            self.held_bytes += want;
        }
        Some((Ok(chunk), self))
    }
}

/// Wraps a request body so that it obeys `limits` (see the module notes). Bodies
/// known to be empty are passed through as they are.
pub fn limit(body: axum::body::Body, limits: &BodyLimits) -> axum::body::Body {
    use http_body::Body as _;
    if body.is_end_stream() {
        return body;
    }
    let state = Limited {
        inner: body.into_data_stream(),
        deadline: Instant::now() + limits.timeout,
        limits: limits.clone(),
        held: None,
        held_bytes: 0,
        done: false,
    };
    axum::body::Body::from_stream(futures_util::stream::unfold(state, Limited::next))
}

/// Reads a request body of at most `max` bytes. A larger body is read on (up to
/// [`DRAIN_LIMIT`]) and dropped, and [`BodyError::TooLarge`] tells the caller to
/// refuse it.
pub async fn read_body(body: axum::body::Body, max: usize) -> Result<Bytes, BodyError> {
    let mut stream = body.into_data_stream();
    // Each chunk is copied out and dropped at once: a chunk shares the allocation
    // of the connection's read buffer, so keeping many small ones (a body sent a
    // byte at a time) would hold far more than the budget counts.
    let mut kept: Vec<u8> = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(classify)?;
        seen += chunk.len();
        if seen <= max {
            kept.extend_from_slice(&chunk);
        } else {
            kept = Vec::new();
            if seen > DRAIN_LIMIT {
                break;
            }
        }
    }
    if seen > max {
        Err(BodyError::TooLarge(max))
    } else {
        Ok(Bytes::from(kept))
    }
}

fn classify(e: axum::Error) -> BodyError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        match c.downcast_ref::<LimitStop>() {
            Some(LimitStop::TimedOut(secs)) => return BodyError::TimedOut(*secs),
            Some(LimitStop::Busy) => return BodyError::Busy,
            None => cause = c.source(),
        }
    }
    BodyError::Unreadable(super::error_chain(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn stalled(first: &'static [u8]) -> Body {
        let s = futures_util::stream::once(async move { Ok::<_, std::io::Error>(first) })
            .chain(futures_util::stream::pending());
        Body::from_stream(s)
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_times_out_and_frees_its_budget() {
        let limits = BodyLimits::new(1024, Duration::from_secs(30), 512);
        let body = limit(stalled(b"0123456789"), &limits);
        let reading = tokio::spawn(read_body(body, 100));
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(limits.in_use(), 10);
        let err = reading.await.unwrap().unwrap_err();
        assert!(matches!(err, BodyError::TimedOut(30)), "{err:?}");
        assert_eq!(limits.in_use(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn bodies_past_the_budget_are_busy() {
        let limits = BodyLimits::new(16, Duration::from_secs(30), 16);
        let first = tokio::spawn(read_body(limit(stalled(b"0123456789ab"), &limits), 100));
        tokio::time::sleep(Duration::from_millis(10)).await;
        let second = read_body(limit(stalled(b"0123456789"), &limits), 100).await;
        assert!(matches!(second, Err(BodyError::Busy)), "{second:?}");
        first.abort();
        let _ = first.await;
        assert_eq!(limits.in_use(), 0);
        let ok = read_body(limit(Body::from("0123456789"), &limits), 100).await;
        assert_eq!(ok.unwrap(), Bytes::from_static(b"0123456789"));
    }

    #[tokio::test]
    async fn drained_bytes_are_not_held() {
        let limits = BodyLimits::new(64, Duration::from_secs(30), 8);
        let chunks = (0..20).map(|_| Ok::<_, std::io::Error>(&b"0123456789"[..]));
        let body = limit(
            Body::from_stream(futures_util::stream::iter(chunks)),
            &limits,
        );
        let err = read_body(body, 8).await.unwrap_err();
        assert!(matches!(err, BodyError::TooLarge(8)));
        assert_eq!(limits.in_use(), 0);
        assert_eq!(limits.received(), 200);
    }

    #[tokio::test]
    async fn broken_bodies_are_unreadable_not_too_large() {
        let s = futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"ab")),
            Err(std::io::Error::other("bad chunk size")),
        ]);
        let err = read_body(Body::from_stream(s), 100).await.unwrap_err();
        assert!(matches!(err, BodyError::Unreadable(_)), "{err:?}");
    }
}
