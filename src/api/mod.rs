//! The HTTP API (axum): one file per resource, each returning a `Router<AppState>`.
//!
//! Handlers validate every parameter (see [`params`]), take the current [`Snapshot`] (an
//! `Arc` clone; no lock is held across an `.await`) and run the query and the JSON encoding on
//! the blocking pool. This issue serves aggregate and place-level data only: there is no
//! person-level endpoint before the safeguards layer exists.

pub mod admission;
mod areas;
pub mod auth;
mod emerging;
mod equality;
mod error;
mod features;
mod geojson_out;
mod health;
mod hexagons;
mod hotspots;
mod meta;
pub mod openapi;
pub mod params;
mod people;
mod risk;
pub mod tile_cache;
mod tiles;
mod withheld;

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ApiResult};

use crate::domain::Day;
use crate::index::Snapshot;
use crate::safeguards::audit::{AuditEntry, AuditEvent, AuditLog};
use crate::safeguards::disclosure::DisclosurePolicy;

/// The time window a query asks for (`from`/`to`, by default the data's span) and the one it
/// is answered for: aggregate roles get whole months only (S21). Returns (requested, served).
pub(crate) fn query_window(
    params: &params::Params,
    snap: &Snapshot,
    class: crate::safeguards::policy::DisclosureClass,
) -> ApiResult<(crate::domain::TimeWindow, crate::domain::TimeWindow)> {
    use crate::domain::TimeWindow;
    let default = snap
        .incidents
        .day_range()
        .and_then(|(a, b)| TimeWindow::new(a, b).ok())
        .unwrap_or_else(TimeWindow::all);
    let requested = params.window(default)?;
    let served = if class == crate::safeguards::policy::DisclosureClass::Controlled {
        crate::safeguards::disclosure::coarsen_window_to_months(requested)
    } else {
        requested
    };
    Ok((requested, served))
}

/// Bytes of encoded tiles kept in memory (both representations).
pub const TILE_CACHE_BYTES: usize = 256 << 20;

/// Study-area bounds for all layers (maps.md §1): the four authority outlines; the box, built
/// once. Both live with the rest of the partnership's geography in `domain::geography`.
pub use crate::domain::geography::{STUDY_AREA, study_area};

/// Where "today" comes from: the system clock, or a fixed day (tests and demonstrations of
/// review dates and MACE windows; logged at start-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// UTC date from the system clock.
    System,
    /// A fixed day.
    Fixed(Day),
}

impl Clock {
    /// Today's date.
    pub fn today(self) -> Day {
        match self {
            Clock::Fixed(d) => d,
            Clock::System => {
                let secs = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                Day::from_days_since_epoch(u16::try_from(secs / 86_400).unwrap_or(u16::MAX))
            }
        }
    }
}

/// Shared state: the current snapshot (replaced whole on reload), the audit log, the clock and
/// the disclosure policy.
#[derive(Clone)]
pub struct AppState {
    snapshot: Arc<RwLock<Arc<Snapshot>>>,
    audit: Arc<AuditLog>,
    /// Source of today's date.
    pub clock: Clock,
    /// Thresholds for aggregate outputs to `public` and `planner`.
    pub disclosure: DisclosurePolicy,
    /// Protected layers by (data version, window, category), so repeated public views do not
    /// redo the disclosure computation. Keys carry the data version, so new data never meets
    /// an old entry.
    pub(crate) protected: Arc<hexagons::ProtectedCache>,
    /// Encoded tiles by everything that fixes their bytes (`tile_cache`).
    pub(crate) tiles: Arc<tile_cache::TileCache>,
    /// H3 cell outlines in Web Mercator, shared by every tile request and every data version.
    pub(crate) shapes: Arc<crate::tiles::sources::SharedShapes>,
    /// Gi* layers by (data version, resolution, window, category).
    pub(crate) hotspots: Arc<hotspots::HotspotCache>,
    /// Emerging hot spot layers by (data version, resolution, window, category, step).
    pub(crate) emerging: Arc<emerging::EmergingCache>,
    /// Risk-window layers by (data version, category, as-of day).
    pub(crate) risk: Arc<risk::RiskCache>,
    /// The admission layer every expensive computation runs through (issue 14, point 1).
    pub(crate) admission: Arc<admission::Admission>,
    /// How long a request may run before it is answered `408`; its computation is then
    /// cancelled.
    pub(crate) request_timeout: Duration,
    /// Per-user budgets of person-level subjects and break-glass reads (issue 12, point 2).
    pub(crate) monitor: Arc<std::sync::Mutex<crate::safeguards::monitor::AccessMonitor>>,
    /// Per-address refusal budget and coalescing of identical refusals.
    pub(crate) refusals: Arc<std::sync::Mutex<crate::safeguards::monitor::RefusalGate>>,
    /// Information sharing agreements between controllers (S20).
    pub(crate) agreements: Arc<crate::safeguards::sharing::Agreements>,
    /// Users by token hash, refreshed on its own (`replace_users`) within one reload poll of
    /// a change, before the much slower snapshot rebuild: a revocation takes effect at once.
    users: Arc<RwLock<Arc<Users>>>,
    /// The data directory whose store holds the equality monitor's results (S22), read only
    /// by `GET /api/v1/equality/latest` and the monthly job; `None` serves no results.
    pub(crate) equality_dir: Option<Arc<std::path::PathBuf>>,
}

/// Users keyed by the SHA-256 hash of their token.
pub type Users = std::collections::BTreeMap<String, crate::domain::User>;

impl AppState {
    /// State serving `snapshot`, auditing to `audit`.
    pub fn new(
        snapshot: Snapshot,
        audit: Arc<AuditLog>,
        clock: Clock,
        disclosure: DisclosurePolicy,
    ) -> Self {
        let users = Arc::new(RwLock::new(Arc::clone(&snapshot.users)));
        Self {
            users,
            snapshot: Arc::new(RwLock::new(Arc::new(snapshot))),
            audit,
            clock,
            disclosure,
            protected: Arc::default(),
            tiles: Arc::new(tile_cache::TileCache::new(TILE_CACHE_BYTES)),
            shapes: Arc::default(),
            hotspots: Arc::default(),
            emerging: Arc::default(),
            risk: Arc::default(),
            admission: Arc::default(),
            request_timeout: REQUEST_TIMEOUT,
            monitor: Arc::default(),
            refusals: Arc::default(),
            agreements: Arc::default(),
            equality_dir: None,
        }
    }

    /// The same state reading the equality monitor's results from the store in `data_dir`.
    #[must_use]
    pub fn with_equality_store(mut self, data_dir: std::path::PathBuf) -> Self {
        self.equality_dir = Some(Arc::new(data_dir));
        self
    }

    /// The data directory of the equality monitor's store, if any.
    pub fn equality_dir(&self) -> Option<&Path> {
        self.equality_dir
            .as_deref()
            .map(std::path::PathBuf::as_path)
    }

    /// The same state applying the sharing `agreements` to person-level reads.
    #[must_use]
    pub fn with_agreements(mut self, agreements: crate::safeguards::sharing::Agreements) -> Self {
        self.agreements = Arc::new(agreements);
        self
    }

    /// The same state admitting expensive computations under `settings` (issue 14, point 1).
    #[must_use]
    pub fn with_admission(mut self, settings: admission::AdmissionSettings) -> Self {
        self.admission = Arc::new(admission::Admission::new(settings));
        self
    }

    /// The same state answering `408` after `timeout` (at least one second).
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout.max(Duration::from_secs(1));
        self
    }

    /// The same state applying `budgets` to person-level access and refusals.
    #[must_use]
    pub fn with_budgets(mut self, budgets: crate::safeguards::monitor::Budgets) -> Self {
        self.monitor = Arc::new(std::sync::Mutex::new(
            crate::safeguards::monitor::AccessMonitor::new(budgets),
        ));
        self.refusals = Arc::new(std::sync::Mutex::new(
            crate::safeguards::monitor::RefusalGate::new(budgets),
        ));
        self
    }

    /// The same state with a tile cache of `bytes` (0 turns caching off).
    #[must_use]
    pub fn with_tile_cache_bytes(mut self, bytes: usize) -> Self {
        self.tiles = Arc::new(tile_cache::TileCache::new(bytes));
        self
    }

    /// The current snapshot. The lock is held only to clone the `Arc`.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The current users by token hash. The lock is held only to clone the `Arc`.
    pub fn users(&self) -> Arc<Users> {
        match self.users.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the users (after `user add` or `user revoke` in another process).
    pub fn replace_users(&self, users: Users) {
        let new = Arc::new(users);
        match self.users.write() {
            Ok(mut guard) => *guard = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }

    /// Replaces the snapshot (after an import or erasure), and the users with its users.
    pub fn replace(&self, snapshot: Snapshot) {
        self.replace_users((*snapshot.users).clone());
        let new = Arc::new(snapshot);
        risk::warm(&self.risk, &new);
        match self.snapshot.write() {
            Ok(mut guard) => *guard = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }

    /// The audit log.
    pub fn audit(&self) -> &Arc<AuditLog> {
        &self.audit
    }

    /// Appends to the audit log on the blocking pool (each append is synced to disk).
    pub async fn audit_append(&self, event: AuditEvent) -> ApiResult<AuditEntry> {
        let log = Arc::clone(&self.audit);
        blocking(move || {
            log.append(event).map_err(|e| match e {
                crate::safeguards::audit::AuditError::NotWritable { .. } => {
                    ApiError::AuditUnavailable
                }
                other => ApiError::internal(other),
            })
        })
        .await
    }
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

/// How long a request may run before it is answered `408`, unless configured
/// (`SAFERPLACES_REQUEST_TIMEOUT_SECS`, `AppState::with_request_timeout`).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The whole application router: API, health, and the web app from `web_dir`.
pub fn router(state: AppState, web_dir: &Path) -> Router {
    let request_timeout = state.request_timeout;
    let api = Router::new()
        .merge(health::router())
        .merge(meta::router())
        .merge(hexagons::router())
        .merge(areas::router())
        .merge(tiles::router())
        .merge(hotspots::router())
        .merge(emerging::router())
        .merge(risk::router())
        .merge(features::router())
        .merge(openapi::router())
        .merge(people::router())
        .merge(equality::router())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::policy_layer,
        ))
        // Responses depend on the caller and may hold person-level data: no shared or browser
        // caching (safeguards.md S15).
        .route_layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        ))
        .route_layer(SetResponseHeaderLayer::appending(
            header::VARY,
            HeaderValue::from_static("authorization"),
        ))
        .with_state(state);
    api.fallback_service(ServeDir::new(web_dir).append_index_html_on_directories(true))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
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
