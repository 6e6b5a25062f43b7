//! Emerging hot spot analysis on H3 cells over the four authorities (issue 6, points 3 and
//! 6): a space-time cube of monthly (or weekly) steps, space-time Gi* with FDR across the
//! cube, Mann–Kendall per cell and the 17 categories, cached by (data version, resolution,
//! window, category, step, disclosure class). With the published monthly counts (aggregate
//! roles, issue 13 point 3) the categories are a function of published figures.

use std::sync::Arc;

use geo::BoundingRect as _;
use h3o::{CellIndex, Resolution};

use super::{ServiceResult, study_area};
use crate::analysis::ehsa::{
    Alignment, CubeSettings, EhsaResult, EhsaSettings, SpaceTimeCube, StepUnit, cube_steps,
    emerging_hotspots,
};
use crate::analysis::gistar::CellUniverse;
use crate::cache::{BoundedCache, CacheKey};
use crate::domain::{Bbox, Category, TimeWindow};
use crate::index::{CountQuery, H3Res, Snapshot};
use crate::safeguards::disclosure::Published;
use crate::safeguards::policy::DisclosureClass;
use crate::tiles::hexagons::HexCount;
use crate::tiles::sources::{EmergingLayer, EmergingValue};

/// The published counts of one step's window (aggregate roles): the protected cells of that
/// month, the same release the hexagon layer publishes for it.
pub type StepRelease<'a> = &'a dyn Fn(TimeWindow) -> Arc<super::hexagons::Protected>;

/// An emerging result's identity: (data version, resolution, window, category, step,
/// disclosure class).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EmergingKey(
    pub u64,
    pub Resolution,
    pub TimeWindow,
    pub Option<Category>,
    pub StepUnit,
    pub DisclosureClass,
);

impl CacheKey for EmergingKey {
    fn data_version(&self) -> Option<u64> {
        Some(self.0)
    }
}

/// Results kept.
const ENTRIES: usize = 48;

/// Emerging hot spot results by [`EmergingKey`]: aggregate roles get the analysis of the
/// published monthly counts.
#[derive(Debug)]
pub struct EmergingCache(BoundedCache<EmergingKey, EhsaResult>);

impl Default for EmergingCache {
    fn default() -> Self {
        Self(BoundedCache::entries(ENTRIES))
    }
}

/// Memory an emerging hot spot analysis needs per cell of the study area's box and step, an
/// upper estimate for the admission layer (`api::admission`).
pub const EMERGING_BYTES_PER_CELL_STEP: u64 = 40;

/// Cells in the study area at the finest resolution served (res 9: about 26,000).
const MAX_CELLS: usize = 400_000;

/// Upper estimate of an analysis of `steps` steps over `study_area_cells` cells: per cell of
/// the study area's box and step, the cube's count, z, p and bin and the per-step count lists,
/// plus the neighbour lists per cell. Measured on the demo store (release build, peak resident
/// memory): res 9, 157 weekly steps, 128 MB; this estimates 175 MB.
pub fn estimate_bytes(study_area_cells: u64, steps: u64) -> u64 {
    study_area_cells.saturating_mul(
        steps
            .saturating_mul(EMERGING_BYTES_PER_CELL_STEP)
            .saturating_add(256),
    )
}

/// Steps of `step` in `window` (a month counted as 28 days: an upper bound).
pub fn step_count(window: TimeWindow, step: StepUnit) -> u64 {
    let days = u64::from(window.to().days_since_epoch() - window.from().days_since_epoch()) + 1;
    match step {
        StepUnit::Week => days.div_ceil(7),
        StepUnit::Month => days.div_ceil(28),
    }
}

/// Emerging hot spot analysis of the snapshot's incidents: one cube step per month (or week)
/// of `window`, counted per cell from the incident index, every cell of `res` whose centre is
/// in the four authorities. With `release` (aggregate roles, issue 13 point 3) each step's
/// counts are the published counts of that month (a suppressed cell taken as 0), so the
/// categories are a function of published figures and cannot reveal a suppressed cell.
///
/// # Errors
///
/// [`crate::analysis::AnalysisError`] from the study area, the cube or the analysis.
pub fn compute(
    snap: &Snapshot,
    res: Resolution,
    window: TimeWindow,
    category: Option<Category>,
    step: StepUnit,
    release: Option<StepRelease<'_>>,
) -> crate::analysis::AnalysisResult<EhsaResult> {
    let area = study_area(snap);
    let universe = CellUniverse::in_polygons(&area, "four authorities", res, MAX_CELLS)?;
    let bbox = area
        .bounding_rect()
        .and_then(|r| Bbox::from_coords(r.min().x, r.min().y, r.max().x, r.max().y).ok())
        .ok_or_else(|| crate::analysis::AnalysisError::invalid("area", "empty study area"))?;
    let h3res = H3Res::new(u8::from(res))
        .map_err(|e| crate::analysis::AnalysisError::invalid("res", e.to_string()))?;
    let steps = cube_steps(step, Alignment::EndTime, window.from(), window.to())?;
    let per_step: Vec<Vec<(CellIndex, f64)>> = steps
        .iter()
        .map(|s| {
            // A cancelled request stops here too (one index query per step).
            if crate::analysis::cancel::is_cancelled() {
                return Vec::new();
            }
            // A partial step counts only its days inside the window.
            let from = s.from.max(window.from());
            let to = s.to.min(window.to());
            let Ok(w) = TimeWindow::new(from, to) else {
                return Vec::new();
            };
            let published = release.map(|r| r(w));
            snap.incidents
                .cell_counts(&CountQuery {
                    bbox,
                    res: h3res,
                    window: w,
                    category,
                })
                .iter()
                .map(|c| {
                    let n = match &published {
                        None => c.count,
                        Some(p) => p.get(&c.cell).and_then(|v| v.value()).unwrap_or(0),
                    };
                    (c.cell, f64::from(n))
                })
                .collect()
        })
        .collect();
    crate::analysis::cancel::checkpoint()?;
    let cube = SpaceTimeCube::from_step_counts(
        &universe,
        steps,
        &per_step,
        &CubeSettings {
            step,
            alignment: Alignment::EndTime,
            from: Some(window.from()),
            to: Some(window.to()),
            drop_never_observed: false,
        },
    )?;
    emerging_hotspots(&cube, &EhsaSettings::default())
}

/// The emerging result for the key, from the cache or computed now; with `release`
/// (aggregate roles) from the published monthly counts.
///
/// # Errors
///
/// [`super::ServiceError::Analysis`] from [`compute`].
pub fn emerging_result(
    cache: &EmergingCache,
    snap: &Snapshot,
    res: Resolution,
    window: TimeWindow,
    category: Option<Category>,
    step: StepUnit,
    release: Option<StepRelease<'_>>,
) -> ServiceResult<Arc<EhsaResult>> {
    let class = if release.is_some() {
        DisclosureClass::Controlled
    } else {
        DisclosureClass::Exact
    };
    let key = EmergingKey(snap.data_version, res, window, category, step, class);
    cache.0.get_or_compute(key, || {
        Ok(compute(snap, res, window, category, step, release)?)
    })
}

/// The tile layer: cells with a pattern, with the count the caller may see.
pub fn tile_layer(
    result: &EhsaResult,
    res: Resolution,
    protected: Option<&crate::tiles::sources::ProtectedCells>,
    category: Option<Category>,
) -> EmergingLayer {
    let cells = result
        .cells
        .iter()
        .filter(|c| c.category != 0)
        .map(|c| {
            let count = match protected {
                None => HexCount::Value(c.total.round() as u32),
                // A cell with no incident is not in the protected network: its count is 0,
                // shown as suppressed for a child category (safeguards::releases).
                Some(p) => HexCount::from(crate::safeguards::releases::shown(
                    p.get(&c.h3).copied().unwrap_or(Published::Value(0)),
                    category,
                )),
            };
            (
                c.h3,
                EmergingValue {
                    code: c.category,
                    label: c.label,
                    count,
                },
            )
        })
        .collect();
    EmergingLayer::new(res, cells)
}

#[cfg(test)]
#[path = "emerging_tests.rs"]
mod tests;
