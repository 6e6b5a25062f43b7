//! The analysis layers as services (issue 15, point 4): hexagon counts and the monthly
//! releases behind them ([`hexagons`]), Getis-Ord Gi* hot spots ([`hotspots`]), emerging hot
//! spots ([`emerging`]), near-repeat risk windows ([`risk`]) and the area comparison
//! ([`areas`]).
//!
//! Each service computes its layer from a [`Snapshot`] and typed parameters and returns typed
//! results; the layers worth keeping are cached in instances of the one generic
//! [`crate::cache::BoundedCache`], keyed by the data version they were computed from. The
//! services are synchronous and know nothing of HTTP: the handlers in `api` parse the
//! parameters, authorise the caller, run a service on the blocking pool through the admission
//! layer (`api::admission`, which measures and bounds it with `analysis::cancel::run_budgeted`
//! under the estimates the services give), and encode what it returns. The tile layers draw on
//! the same services, so a map and its table share one computation.

pub mod areas;
pub mod emerging;
pub mod hexagons;
pub mod hotspots;
pub mod risk;

#[cfg(test)]
pub(crate) mod test_support;

use crate::analysis::AnalysisError;
use crate::domain::TimeWindow;
use crate::index::{BoundaryIndex, Snapshot};
use std::sync::{Arc, Mutex, PoisonError};

/// Why a service could not compute its layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The analysis failed, or was cancelled at a checkpoint (by the admission layer: the
    /// request went away or passed its memory budget).
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    /// A hexagon query would list more cells than one response may hold.
    #[error(
        "{cells} cells exceed the limit of {}; use a smaller bbox or a coarser res",
        hexagons::MAX_CELLS
    )]
    TooManyCells {
        /// Cells the query matched.
        cells: usize,
    },
    /// An area asked for is missing from the monthly releases it should be part of.
    #[error("an area of the request is missing from the monthly release")]
    AreaNotReleased,
}

/// Result alias for the services.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// The four authorities (the `lad` outlines) as one study area, built once per boundary
/// index: the area of the last index asked for is kept with it, so every computation on a
/// snapshot, and on every later snapshot that shares its boundaries (a change of incidents,
/// people or users), reuses it. Snapshots with another index get their own.
pub fn study_area(snap: &Snapshot) -> Arc<geo::MultiPolygon<f64>> {
    /// The last boundary index asked for and its area. Holding the index keeps its address
    /// from being reused, so pointer equality is identity.
    static LAST: Mutex<Option<AreaOf>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((boundaries, area)) = last.as_ref()
        && Arc::ptr_eq(boundaries, &snap.boundaries)
    {
        return Arc::clone(area);
    }
    let area = Arc::new(build_study_area(&snap.boundaries));
    *last = Some((Arc::clone(&snap.boundaries), Arc::clone(&area)));
    area
}

/// A boundary index and its study area.
type AreaOf = (Arc<BoundaryIndex>, Arc<geo::MultiPolygon<f64>>);

/// The `lad` outlines of `boundaries` as one multipolygon.
fn build_study_area(boundaries: &BoundaryIndex) -> geo::MultiPolygon<f64> {
    geo::MultiPolygon(
        boundaries
            .of_scheme(crate::ingest::west_of_england::SCHEME_LAD)
            .flat_map(|b| b.geometry.0.iter().cloned())
            .collect(),
    )
}

/// The days the data covers, if any.
pub fn data_span(snap: &Snapshot) -> Option<TimeWindow> {
    snap.incidents
        .day_range()
        .and_then(|(a, b)| TimeWindow::new(a, b).ok())
}

#[cfg(test)]
#[path = "study_area_tests.rs"]
mod study_area_tests;
