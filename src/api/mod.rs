//! The HTTP API (axum): one file per resource, each returning a `Router<AppState>`.
//!
//! Handlers validate every parameter (see [`params`]), take the current [`Snapshot`] (an
//! `Arc` clone; no lock is held across an `.await`) and run the query and the JSON encoding on
//! the blocking pool. This issue serves aggregate and place-level data only: there is no
//! person-level endpoint before the safeguards layer exists.

mod error;
mod features;
mod geojson_out;
mod health;
mod hexagons;
mod meta;
mod openapi;
pub mod params;

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ApiResult};

use crate::domain::Bbox;
use crate::index::Snapshot;

/// Study-area bounds for all layers (maps.md §1): the four authority outlines.
pub const STUDY_AREA: [f64; 4] = [-3.12, 51.27, -2.25, 51.69];

/// Shared state: the current snapshot, replaced whole on reload.
#[derive(Clone)]
pub struct AppState {
    snapshot: Arc<RwLock<Arc<Snapshot>>>,
}

impl AppState {
    /// State serving `snapshot`.
    pub fn new(snapshot: Snapshot) -> Self {
        Self {
            snapshot: Arc::new(RwLock::new(Arc::new(snapshot))),
        }
    }

    /// The current snapshot. The lock is held only to clone the `Arc`.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the snapshot (after an import or erasure).
    pub fn replace(&self, snapshot: Snapshot) {
        let new = Arc::new(snapshot);
        match self.snapshot.write() {
            Ok(mut guard) => *guard = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }
}

/// The study-area box.
pub fn study_area() -> Bbox {
    Bbox::from_coords(STUDY_AREA[0], STUDY_AREA[1], STUDY_AREA[2], STUDY_AREA[3])
        .expect("STUDY_AREA is a valid constant box (checked by a unit test)")
}

/// Runs `f` on the blocking pool, carrying the current tracing span.
pub(crate) async fn blocking<T, F>(f: F) -> ApiResult<T>
where
    F: FnOnce() -> ApiResult<T> + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(ApiError::internal)?
}

/// The whole application router: API, health, and the web app from `web_dir`.
pub fn router(state: AppState, web_dir: &Path) -> Router {
    let api = Router::new()
        .merge(health::router())
        .merge(meta::router())
        .merge(hexagons::router())
        .merge(features::router())
        .merge(openapi::router())
        .with_state(state);
    api.fallback_service(ServeDir::new(web_dir).append_index_html_on_directories(true))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(TraceLayer::new_for_http())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_study_area_is_a_valid_box() {
        assert_eq!(super::study_area().to_string(), "-3.12,51.27,-2.25,51.69");
    }
}
