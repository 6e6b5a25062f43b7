//! Application start-up: bind, report the port, serve until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::net::TcpListener;

use crate::api::{AppState, router};

/// A bound, not yet running, server.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    web_dir: PathBuf,
}

impl Application {
    /// Binds `addr` (port 0 picks a free port).
    pub async fn bind(
        addr: SocketAddr,
        state: AppState,
        web_dir: PathBuf,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self {
            listener,
            state,
            web_dir,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until SIGINT or SIGTERM, then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let state = self.state.clone();
        let flusher = tokio::spawn(flush_refusals_every_second(self.state.clone()));
        let app = router(self.state, &self.web_dir);
        // The peer address feeds the per-address refusal limits (issue 12, point 2).
        let served = axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await;
        flusher.abort();
        if let Err(e) = crate::api::auth::flush_refusals(&state, true).await {
            tracing::error!(error = %e, "could not write the last coalesced refusals");
        }
        served
    }
}

/// Writes the records of closed refusal-coalescing windows once a second.
async fn flush_refusals_every_second(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        if let Err(e) = crate::api::auth::flush_refusals(&state, false).await {
            tracing::error!(error = %e, "could not write coalesced refusals");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
