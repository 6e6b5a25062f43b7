//! Application start-up: bind, report the port, serve until SIGINT or SIGTERM within the
//! connection limits of [`crate::connections`].

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::net::TcpListener;

use crate::api::{AppState, router};
use crate::config::ConnectionSettings;
use crate::connections::{ConnectionLimits, limit_bodies, open_files};

/// A bound, not yet running, server.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    web_dir: PathBuf,
    limits: ConnectionLimits,
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
            limits: ConnectionLimits::default(),
        })
    }

    /// Raises the process's open-file soft limit to the hard limit where allowed, sets the
    /// connection limits from `settings` (the cap derived from the raised limit unless
    /// configured) and logs both.
    #[must_use]
    pub fn with_connections(mut self, settings: &ConnectionSettings) -> Self {
        let files = open_files::raise_soft_limit();
        self.limits = ConnectionLimits::new(settings, &files);
        tracing::info!(
            open_files = files.soft.unwrap_or(u64::MAX),
            open_files_hard = files.hard.unwrap_or(u64::MAX),
            raised_from = files.raised_from,
            max_connections = self.limits.max_connections,
            header_timeout_secs = self.limits.timeouts.header.as_secs(),
            idle_timeout_secs = self.limits.timeouts.idle.as_secs(),
            body_limit_bytes = self.limits.body_limit_bytes,
            "connection limits"
        );
        self
    }

    /// The connection limits it will serve with.
    pub fn limits(&self) -> &ConnectionLimits {
        &self.limits
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until SIGINT or SIGTERM, then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let state = self.state.clone();
        let flusher = tokio::spawn(flush_refusals_every_second(self.state.clone()));
        let app = limit_bodies(
            router(self.state, &self.web_dir),
            self.limits.body_limit_bytes,
        );
        crate::connections::serve(self.listener, app, self.limits, shutdown_signal()).await;
        flusher.abort();
        if let Err(e) = crate::api::auth::flush_refusals(&state, true).await {
            tracing::error!(error = %e, "could not write the last coalesced refusals");
        }
        Ok(())
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
