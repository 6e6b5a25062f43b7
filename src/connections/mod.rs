//! The server's connections (issue 14, point 2): its own accept loop over hyper, with a
//! header-read timeout, an idle keep-alive timeout, a stall timeout, a request body limit and
//! a cap on concurrent connections below the open-file limit.
//!
//! `axum::serve` has none of these, and idle, half-sent and kept-alive connections used to
//! stay open for ever: 1,100 silent clients exhausted the 1,024 open files and the server
//! stopped accepting anyone. Here each connection runs on its own task with a deadline that
//! depends on what it is doing (`activity.rs`); a connection beyond the cap is answered `503`
//! with `Retry-After` and closed at once, so the server keeps accepting, and answers normally
//! again as soon as load drops. Shutdown stays graceful: the listener closes, idle connections
//! close, requests in flight finish.

mod activity;
mod body_limit;
pub mod open_files;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

pub use activity::{Expiry, Timeouts};
pub use body_limit::limit_bodies;
pub use open_files::OpenFiles;

use crate::config::ConnectionSettings;
use activity::{Activity, BusyGuard, GuardedBody, Watched};

/// Most refused connections that may wait at once for their client to read the `503`;
/// beyond this a refused connection is closed straight after the write.
const LINGERING_REFUSALS: usize = 32;

/// How long a refused connection waits for its client to read the `503`.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// Pause after an accept failure that is not the client's (e.g. out of descriptors).
const ACCEPT_RETRY: Duration = Duration::from_millis(250);

/// Seconds a refused client is told to wait.
const RETRY_AFTER_SECS: u32 = 1;

/// The limits the server runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Header, idle and stall timeouts.
    pub timeouts: Timeouts,
    /// Most connections served at once.
    pub max_connections: usize,
    /// Largest request body, bytes.
    pub body_limit_bytes: u64,
    /// Refused connections that may wait at once for their client to read the `503`: a
    /// quarter of the descriptors left over by the cap, at most 32.
    pub lingering_refusals: usize,
}

impl ConnectionLimits {
    /// The limits for `settings` under the open-file limit `files`: the configured cap, or
    /// one derived from the soft limit ([`open_files::connection_cap`]).
    pub fn new(settings: &ConnectionSettings, files: &OpenFiles) -> Self {
        let idle = Duration::from_secs(settings.idle_timeout_secs.into());
        let max_connections = settings
            .max_connections
            .map_or_else(|| open_files::connection_cap(files.soft), |n| n as usize);
        let spare = files.soft.map_or(usize::MAX, |soft| {
            usize::try_from(soft)
                .unwrap_or(usize::MAX)
                .saturating_sub(max_connections)
        });
        Self {
            timeouts: Timeouts {
                header: Duration::from_secs(settings.header_timeout_secs.into()),
                idle,
                // A request without traffic for the request timeout (it is answered `408` by
                // then) and the idle timeout has a client that stopped reading.
                stalled: Duration::from_secs(settings.request_timeout_secs.into()) + idle,
            },
            max_connections,
            body_limit_bytes: settings.body_limit_bytes.into(),
            lingering_refusals: (spare / 4).min(LINGERING_REFUSALS),
        }
    }
}

impl Default for ConnectionLimits {
    /// The default settings under the current open-file limit (not raised).
    fn default() -> Self {
        let now = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        Self::new(
            &ConnectionSettings::default(),
            &OpenFiles {
                soft: now.current,
                hard: now.maximum,
                raised_from: None,
            },
        )
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves, then stops
/// accepting, lets requests in flight finish and returns when every connection has closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let lingering = Arc::new(Semaphore::new(limits.lingering_refusals));
    let refusal: Arc<[u8]> = refusal_response().into();
    let mut refusals = RefusalLog::default();
    // `stop` tells connections to finish; `done` closes when the last one has.
    let (stop_tx, stop_rx) = watch::channel(());
    let (done_tx, done_rx) = watch::channel(());
    let shutdown = std::pin::pin!(shutdown);
    let mut shutdown = shutdown;
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                tracing::error!(error = %e, "could not accept a connection; retrying");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(ACCEPT_RETRY) => continue,
                }
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            refuse(stream, &refusal, &lingering);
            refusals.count(limits.max_connections);
            continue;
        };
        let connection = Connection {
            peer,
            router: router.clone(),
            timeouts: limits.timeouts,
            stop: stop_rx.clone(),
            _done: done_rx.clone(),
            _slot: slot,
        };
        tokio::spawn(connection.run(stream));
    }
    drop(listener);
    let _ = stop_tx.send(());
    drop((stop_rx, done_rx));
    done_tx.closed().await;
}

/// One accepted connection and what it holds until it closes.
struct Connection {
    peer: SocketAddr,
    router: Router,
    timeouts: Timeouts,
    stop: watch::Receiver<()>,
    /// Dropped when the connection ends, so that shutdown knows.
    _done: watch::Receiver<()>,
    /// Its place under the connection cap.
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    async fn run(mut self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched::new(stream, Arc::clone(&activity)));
        let (router, peer, served) = (self.router.clone(), self.peer, Arc::clone(&activity));
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            let guard = BusyGuard::enter(&served);
            // The peer address feeds the per-address refusal limits (issue 12, point 2).
            request.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            async move {
                let Ok(response) = router.oneshot(request).await;
                Ok::<_, Infallible>(response.map(|body| Body::new(GuardedBody::new(body, guard))))
            }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            // Timed out by `activity` instead: hyper's own timer would also count the idle
            // time between kept-alive requests as header time.
            .header_read_timeout(None)
            .serve_connection(io, service);
        let mut connection = std::pin::pin!(connection);
        let expired = std::pin::pin!(activity.expired(self.timeouts));
        let mut expired = expired;
        let mut stopping = false;
        loop {
            tokio::select! {
                ended = connection.as_mut() => {
                    if let Err(e) = ended {
                        tracing::debug!(peer = %self.peer, error = %e, "connection ended with an error");
                    }
                    break;
                }
                why = &mut expired => {
                    // Dropping the connection closes the socket; no request is lost but a
                    // stalled one, whose client stopped reading.
                    tracing::debug!(peer = %self.peer, timeout = ?why, "closing a connection that timed out");
                    break;
                }
                _ = self.stop.changed(), if !stopping => {
                    connection.as_mut().graceful_shutdown();
                    stopping = true;
                }
            }
        }
    }
}

/// Refuses a connection over the cap: `503` with `Retry-After`, then close. The write and
/// a short wait for the client to read it run on their own task while few refusals are
/// pending; beyond that the refusal is written without waiting and the socket closed.
fn refuse(stream: TcpStream, refusal: &Arc<[u8]>, lingering: &Arc<Semaphore>) {
    if let Ok(permit) = Arc::clone(lingering).try_acquire_owned() {
        let refusal = Arc::clone(refusal);
        tokio::spawn(async move {
            let _permit = permit;
            let mut stream = stream;
            let _ = tokio::time::timeout(REFUSAL_LINGER, async {
                stream.write_all(&refusal).await?;
                stream.shutdown().await?;
                // Closing with unread request bytes would reset the connection, and the
                // client could lose the 503: read until it closes or the wait ends.
                let mut sink = [0_u8; 1024];
                while stream.read(&mut sink).await? > 0 {}
                Ok::<_, std::io::Error>(())
            })
            .await;
        });
    } else if let Ok(mut std_stream) = stream.into_std() {
        use std::io::Write as _;
        let _ = std_stream.write(refusal);
    }
}

/// The bytes of the `503` sent to a connection over the cap.
fn refusal_response() -> Vec<u8> {
    let body = serde_json::json!({
        "error": "TOO_MANY_CONNECTIONS",
        "message": "the server is serving as many connections as it can; retry shortly",
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\n\
         content-type: application/json\r\n\
         retry-after: {RETRY_AFTER_SECS}\r\n\
         cache-control: no-store\r\n\
         connection: close\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Accept errors that concern one client, not the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Logs refusals at the cap: the first at once, then a count at most every ten seconds.
#[derive(Debug, Default)]
struct RefusalLog {
    unlogged: u64,
    last: Option<tokio::time::Instant>,
}

impl RefusalLog {
    const EVERY: Duration = Duration::from_secs(10);

    fn count(&mut self, max_connections: usize) {
        self.unlogged += 1;
        if self.last.is_none_or(|t| t.elapsed() >= Self::EVERY) {
            tracing::warn!(
                refused = self.unlogged,
                max_connections,
                "connections refused with 503: the server is at its connection cap"
            );
            self.unlogged = 0;
            self.last = Some(tokio::time::Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_complete_503_with_retry_after() {
        let text = String::from_utf8(refusal_response()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains("\r\nretry-after: 1\r\n"));
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, body.len());
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"], "TOO_MANY_CONNECTIONS");
    }

    #[test]
    fn a_configured_cap_wins_over_the_derived_one() {
        let files = OpenFiles {
            soft: Some(1024),
            hard: Some(4096),
            raised_from: None,
        };
        let derived = ConnectionLimits::new(&ConnectionSettings::default(), &files);
        assert_eq!(derived.max_connections, 896);
        assert_eq!(derived.lingering_refusals, 32);
        assert_eq!(derived.timeouts.header, Duration::from_secs(10));
        assert_eq!(derived.timeouts.idle, Duration::from_secs(30));
        assert!(derived.timeouts.stalled > crate::api::REQUEST_TIMEOUT);
        let set = ConnectionSettings {
            max_connections: Some(20),
            ..ConnectionSettings::default()
        };
        assert_eq!(ConnectionLimits::new(&set, &files).max_connections, 20);
        let small = OpenFiles {
            soft: Some(64),
            hard: Some(64),
            raised_from: None,
        };
        let limits = ConnectionLimits::new(&ConnectionSettings::default(), &small);
        assert_eq!((limits.max_connections, limits.lingering_refusals), (32, 8));
        let over = ConnectionSettings {
            max_connections: Some(100),
            ..ConnectionSettings::default()
        };
        assert_eq!(ConnectionLimits::new(&over, &small).lingering_refusals, 0);
    }
}
