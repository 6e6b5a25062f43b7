//! What one connection is doing, and when it has waited too long.
//!
//! A connection is in one of four states: waiting for its first request head, reading a
//! request head (from its first byte), serving requests (from the head's end to the
//! response's last byte), or idle between kept-alive requests. [`Watched`] sees the bytes
//! going in and out, [`BusyGuard`] brackets each request, and [`Activity::deadline`] says
//! when the current state has lasted too long. Everything here runs on the connection's own
//! task, so the atomics are only there to share the record with the service.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// No time recorded.
const UNSET: u64 = u64::MAX;

/// How long each state may last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From the connection's opening, or a later request's first byte, to the end of its head.
    pub header: Duration,
    /// Between the end of a response and the first byte of the next request.
    pub idle: Duration,
    /// Without a byte in or out while a request is served (a client that stops reading its
    /// response); longer than the request timeout so that slow computations are not cut.
    pub stalled: Duration,
}

/// Why a connection was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// No complete request head within the header timeout.
    Header,
    /// Idle for the keep-alive timeout.
    Idle,
    /// No progress on a request for the stall timeout.
    Stalled,
}

/// The shared record of one connection.
#[derive(Debug)]
pub struct Activity {
    opened: Instant,
    /// Requests between head and last response byte.
    busy: AtomicUsize,
    /// Requests finished.
    answered: AtomicU64,
    /// Milliseconds from `opened` to the last byte read or written.
    last_io_ms: AtomicU64,
    /// Milliseconds from `opened` to the first byte of the request head being read, or
    /// [`UNSET`].
    head_started_ms: AtomicU64,
    /// Milliseconds from `opened` to the end of the last response.
    idle_since_ms: AtomicU64,
    /// Woken when the deadline may have moved earlier.
    changed: Notify,
}

impl Activity {
    /// A connection opened now.
    pub fn new() -> Self {
        Self {
            opened: Instant::now(),
            busy: AtomicUsize::new(0),
            answered: AtomicU64::new(0),
            last_io_ms: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(UNSET),
            idle_since_ms: AtomicU64::new(0),
            changed: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    fn at(&self, ms: u64) -> Instant {
        self.opened + Duration::from_millis(ms)
    }

    fn read_some(&self) {
        let now = self.now_ms();
        self.last_io_ms.store(now, Ordering::Relaxed);
        if self.busy.load(Ordering::Relaxed) == 0
            && self.head_started_ms.load(Ordering::Relaxed) == UNSET
        {
            self.head_started_ms.store(now, Ordering::Relaxed);
            self.changed.notify_one();
        }
    }

    fn wrote_some(&self) {
        self.last_io_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// When the current state will have lasted too long, and which timeout that is.
    pub fn deadline(&self, t: &Timeouts) -> (Instant, Expiry) {
        let last_io = self.last_io_ms.load(Ordering::Relaxed);
        if self.busy.load(Ordering::Relaxed) > 0 {
            return (self.at(last_io) + t.stalled, Expiry::Stalled);
        }
        let head = self.head_started_ms.load(Ordering::Relaxed);
        if head != UNSET {
            return (self.at(head) + t.header, Expiry::Header);
        }
        if self.answered.load(Ordering::Relaxed) == 0 {
            return (self.opened + t.header, Expiry::Header);
        }
        // A response may still be leaving the write buffer after its last byte was produced.
        let idle_since = self.idle_since_ms.load(Ordering::Relaxed).max(last_io);
        (self.at(idle_since) + t.idle, Expiry::Idle)
    }

    /// Resolves when the connection has outlived its current state's timeout.
    pub async fn expired(&self, t: Timeouts) -> Expiry {
        loop {
            let (at, why) = self.deadline(&t);
            if Instant::now() >= at {
                return why;
            }
            tokio::select! {
                () = tokio::time::sleep_until(at) => {}
                () = self.changed.notified() => {}
            }
        }
    }
}

/// Marks one request as being served, from its parsed head to its response's last byte (or
/// until it is abandoned).
#[derive(Debug)]
pub struct BusyGuard(Arc<Activity>);

impl BusyGuard {
    /// A request head has been read.
    pub fn enter(activity: &Arc<Activity>) -> Self {
        activity.busy.fetch_add(1, Ordering::Relaxed);
        activity.head_started_ms.store(UNSET, Ordering::Relaxed);
        Self(Arc::clone(activity))
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        let a = &self.0;
        a.busy.fetch_sub(1, Ordering::Relaxed);
        a.answered.fetch_add(1, Ordering::Relaxed);
        a.idle_since_ms.store(a.now_ms(), Ordering::Relaxed);
        a.changed.notify_one();
    }
}

/// A response body that ends its request's [`BusyGuard`] with its last frame.
pub struct GuardedBody {
    inner: Body,
    guard: Option<BusyGuard>,
}

impl GuardedBody {
    /// `inner`, keeping `guard` until it ends or is dropped.
    pub fn new(inner: Body, guard: BusyGuard) -> Self {
        Self {
            inner,
            guard: Some(guard),
        }
    }
}

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.guard = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A socket that reports its traffic to an [`Activity`].
pub struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    /// `inner`, reporting to `activity`.
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read_some();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote_some();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote_some();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        header: Duration::from_secs(10),
        idle: Duration::from_secs(30),
        stalled: Duration::from_mins(1),
    };

    /// Deadlines are kept to the millisecond.
    const MS: Duration = Duration::from_millis(1);

    #[tokio::test]
    async fn each_state_runs_on_its_own_timeout() {
        let a = Arc::new(Activity::new());
        assert_eq!(a.deadline(&T), (a.opened + T.header, Expiry::Header));
        let before_head = Instant::now();
        a.read_some();
        let (at, why) = a.deadline(&T);
        assert_eq!(why, Expiry::Header);
        assert!(at + MS >= before_head + T.header);
        let guard = BusyGuard::enter(&a);
        assert_eq!(a.deadline(&T).1, Expiry::Stalled);
        // Body bytes read while busy do not start a new head.
        a.read_some();
        assert_eq!(a.deadline(&T).1, Expiry::Stalled);
        let before_end = Instant::now();
        drop(guard);
        let (at, why) = a.deadline(&T);
        assert_eq!(why, Expiry::Idle);
        assert!(at + MS >= before_end + T.idle && at <= Instant::now() + T.idle);
        // The next request's first byte starts the header timeout again.
        a.read_some();
        assert_eq!(a.deadline(&T).1, Expiry::Header);
    }

    #[tokio::test]
    async fn a_connection_that_sends_nothing_expires_on_the_header_timeout() {
        let short = Timeouts {
            header: Duration::from_millis(20),
            ..T
        };
        let a = Activity::new();
        assert_eq!(a.expired(short).await, Expiry::Header);
        assert!(Instant::now() >= a.opened + short.header);
    }
}
