//! Incident counts per H3 cell, and the monthly releases aggregate roles see instead
//! (`safeguards::releases`): the release areas, each month's bundle of layers, and the windows
//! assembled from them, each cached by data version.
//!
//! Each month is protected once for the whole study area and cached by (data version,
//! month); a request then only slices, so a bbox, resolution, tile or overlapping window never
//! changes a month's figures.

use std::collections::BTreeSet;
use std::sync::Arc;

use h3o::CellIndex;

use super::{ServiceError, ServiceResult, data_span};
use crate::cache::{BoundedCache, CacheKey};
use crate::domain::{Bbox, Category, TimeWindow};
use crate::index::{CountQuery, H3Res, Snapshot};
use crate::safeguards::disclosure::{DisclosurePolicy, MonthRelease, Published, months_of};
use crate::safeguards::releases;

/// Most cells one response may hold; beyond it the caller must zoom in or coarsen `res`.
pub const MAX_CELLS: usize = 60_000;

/// Published cells of one window for aggregate roles: every served resolution, keyed by cell,
/// assembled from the monthly releases (`safeguards::disclosure::WindowRelease`).
pub type Protected = crate::safeguards::disclosure::WindowRelease;

/// The layers released together for one month.
pub type MonthBundle = Vec<(Option<Category>, releases::MonthLayer)>;

/// The areas of every scheme as fixed cells, in the order of the snapshot's boundaries.
pub type Areas = Vec<releases::AreaCells>;

/// Most assembled windows kept.
const PROTECTED_CACHE_ENTRIES: usize = 64;

/// Most monthly bundles kept (one per month for "all" and the general categories, one per
/// month and child category; a few hundred KB each on the demo data): ten years of the
/// general layers and both child categories.
const MONTH_CACHE_ENTRIES: usize = 360;

/// Upper estimate of what computing the release areas allocates, per area of every scheme
/// (measured on the demo data, 120 areas: 0.2 MB at most at once).
const RELEASE_AREAS_BYTES_PER_AREA: u64 = 8 << 10;

/// Upper estimate of what computing one month's bundle of releases allocates (measured on the
/// demo data: at most 2.5 MB at once for "all" and the general categories).
pub const MONTH_RELEASE_BYTES: u64 = 4 << 20;

/// Upper estimate of what assembling a window from its months allocates, per month (measured
/// on the demo data: 0.1 MB for 37 months).
const WINDOW_BYTES_PER_MONTH: u64 = 64 << 10;

/// A protected window: (data version, window, category).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowKey(pub u64, pub TimeWindow, pub Option<Category>);

/// A monthly bundle: (data version, month, `None` for "all" and the general categories
/// released together, or one child category).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MonthKey(pub u64, pub TimeWindow, pub Option<Category>);

/// The release areas of a data version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AreasKey(pub u64);

impl CacheKey for WindowKey {
    fn data_version(&self) -> Option<u64> {
        Some(self.0)
    }
}

impl CacheKey for MonthKey {
    fn data_version(&self) -> Option<u64> {
        Some(self.0)
    }
}

impl CacheKey for AreasKey {
    fn data_version(&self) -> Option<u64> {
        Some(self.0)
    }
}

/// Monthly bundles, the windows assembled from them and the areas they are released with.
#[derive(Debug)]
pub struct ProtectedCache {
    windows: BoundedCache<WindowKey, Protected>,
    months: BoundedCache<MonthKey, MonthBundle>,
    areas: BoundedCache<AreasKey, Areas>,
}

impl Default for ProtectedCache {
    fn default() -> Self {
        Self {
            windows: BoundedCache::entries(PROTECTED_CACHE_ENTRIES),
            months: BoundedCache::entries(MONTH_CACHE_ENTRIES),
            areas: BoundedCache::entries(2),
        }
    }
}

impl ProtectedCache {
    /// The release areas of `version` when cached.
    pub fn cached_areas(&self, version: u64) -> Option<Arc<Areas>> {
        self.areas.get(&AreasKey(version))
    }

    /// The bundle of `month` released with `category` when cached.
    pub fn cached_month(
        &self,
        version: u64,
        month: TimeWindow,
        category: Option<Category>,
    ) -> Option<Arc<MonthBundle>> {
        self.months
            .get(&MonthKey(version, month, released_with(category)))
    }

    /// The protected cells of `window` when cached.
    pub fn cached_window(
        &self,
        version: u64,
        window: TimeWindow,
        category: Option<Category>,
    ) -> Option<Arc<Protected>> {
        self.windows.get(&WindowKey(version, window, category))
    }
}

/// The release a category's layer is part of: its own for a child category, else the bundle
/// of "all" and the general categories (`None`).
fn released_with(category: Option<Category>) -> Option<Category> {
    category.filter(|c| c.concerns_children())
}

/// The areas of every scheme as the fixed cells the monthly releases count them by
/// (`safeguards::releases::area_cells`), computed once per data version.
pub fn release_areas(cache: &ProtectedCache, snap: &Snapshot) -> Arc<Areas> {
    cache
        .areas
        .get_or_insert_with(AreasKey(snap.data_version), || {
            let schemes: Vec<String> = snap.boundaries.schemes().map(str::to_owned).collect();
            releases::area_cells(schemes.iter().flat_map(|s| snap.boundaries.of_scheme(s)))
        })
}

/// Upper estimate of what [`release_areas`] allocates.
pub fn release_areas_estimate_bytes(snap: &Snapshot) -> u64 {
    let count: u64 = snap
        .boundaries
        .schemes()
        .map(|s| snap.boundaries.of_scheme(s).count() as u64)
        .sum();
    count.saturating_mul(RELEASE_AREAS_BYTES_PER_AREA)
}

/// Upper estimate of what assembling a window of `months` months allocates.
pub fn window_estimate_bytes(months: usize) -> u64 {
    (months as u64).saturating_mul(WINDOW_BYTES_PER_MONTH)
}

/// The layers of `month` released together with `category`'s: for a child category that
/// category alone, otherwise "all categories" and every general category
/// (`safeguards::releases::general_month_releases`), computed once per data version.
pub fn month_bundle(
    cache: &ProtectedCache,
    policy: &DisclosurePolicy,
    snap: &Snapshot,
    month: TimeWindow,
    category: Option<Category>,
    areas: &Areas,
) -> Arc<MonthBundle> {
    let child = released_with(category);
    let counts_of = |c: Category, res: h3o::Resolution| -> Vec<(CellIndex, u32)> {
        let Ok(res) = H3Res::new(u8::from(res)) else {
            return Vec::new();
        };
        snap.incidents
            .cell_counts(&CountQuery {
                bbox: world(),
                res,
                window: month,
                category: Some(c),
            })
            .iter()
            .map(|c| (c.cell, c.count))
            .collect()
    };
    cache
        .months
        .get_or_insert_with(MonthKey(snap.data_version, month, child), || match child {
            Some(_) => vec![(
                child,
                releases::month_release(child, counts_of, areas, policy),
            )],
            None => releases::general_month_releases(counts_of, areas, policy),
        })
}

/// The released months of `window`: whole months inside the data's span.
pub fn released_months(snap: &Snapshot, window: TimeWindow) -> Vec<TimeWindow> {
    data_span(snap).map_or_else(Vec::new, |span| months_of(window, span))
}

/// The release areas and the monthly bundles of one request's window and category, computed
/// (through the admission layer, `api::hexagons::admit_months`) and held for the length of the
/// request, so that an eviction from the cache in between never makes the request compute a
/// month itself.
pub struct Months {
    cache: Arc<ProtectedCache>,
    policy: DisclosurePolicy,
    snap: Arc<Snapshot>,
    category: Option<Category>,
    areas: Arc<Areas>,
    held: Vec<(TimeWindow, Arc<MonthBundle>)>,
}

impl Months {
    /// The areas and bundles of `category` held for a request.
    pub fn new(
        cache: Arc<ProtectedCache>,
        policy: DisclosurePolicy,
        snap: Arc<Snapshot>,
        category: Option<Category>,
        areas: Arc<Areas>,
        held: Vec<(TimeWindow, Arc<MonthBundle>)>,
    ) -> Self {
        Self {
            cache,
            policy,
            snap,
            category,
            areas,
            held,
        }
    }

    /// The areas of every scheme as fixed cells.
    pub fn areas(&self) -> &Areas {
        &self.areas
    }

    /// Months held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// True when no month is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The bundle of `month`: held, or (a month outside the window admitted, which no caller
    /// asks for) from the cache or computed here, inside the caller's admitted computation.
    fn bundle(&self, month: TimeWindow) -> Arc<MonthBundle> {
        self.held.iter().find(|(m, _)| *m == month).map_or_else(
            || {
                month_bundle(
                    &self.cache,
                    &self.policy,
                    &self.snap,
                    month,
                    self.category,
                    &self.areas,
                )
            },
            |(_, b)| Arc::clone(b),
        )
    }
}

/// The published cells of `window` (whole months) and the category of `months` for aggregate
/// roles, at every resolution they may see: the sum of the monthly releases of its months
/// (`safeguards::disclosure::WindowRelease`), cached by (data version, window, category).
pub fn protected_cells(months: &Months, window: TimeWindow) -> Arc<Protected> {
    let category = months.category;
    months.cache.windows.get_or_insert_with(
        WindowKey(months.snap.data_version, window, category),
        || {
            let bundles: Vec<_> = released_months(&months.snap, window)
                .into_iter()
                .map(|m| months.bundle(m))
                .collect();
            let parts: Vec<&MonthRelease> = bundles
                .iter()
                .filter_map(|b| b.iter().find(|(layer, _)| *layer == category))
                .map(|(_, layer)| layer.cells.as_slice())
                .collect();
            releases::window_release(&parts, category)
        },
    )
}

/// The published figures of the areas `areas` (indexes into [`Months::areas`]) in the months
/// of `window` (whole months) for the category of `months`, for aggregate roles:
/// `rows[area][month]`, one entry per month the window touches
/// (`analysis::areas::months_of`), from the monthly releases, which protect the areas together
/// with the map. A month outside the data holds no incident and is 0; one past the release cap
/// is suppressed.
pub fn area_figures(months: &Months, window: TimeWindow, areas: &[usize]) -> Vec<Vec<Published>> {
    let category = months.category;
    let span = data_span(&months.snap);
    let released = released_months(&months.snap, window);
    let touched = crate::analysis::areas::months_of(window);
    let mut rows = vec![Vec::with_capacity(touched.len()); areas.len()];
    for first in touched {
        let month = released.iter().find(|m| m.from() == first);
        let bundle = month.map(|&m| months.bundle(m));
        let layer = bundle.as_ref().and_then(|b| {
            b.iter()
                .find(|(layer, _)| *layer == category)
                .map(|(_, l)| l)
        });
        let last = TimeWindow::new(first, first).map_or(first, |d| {
            crate::safeguards::disclosure::coarsen_window_to_months(d).to()
        });
        let in_data = span.is_some_and(|s| first <= s.to() && last >= s.from());
        for (row, &k) in rows.iter_mut().zip(areas) {
            let figure = match layer {
                Some(l) => l.areas.get(k).copied().unwrap_or(Published::Value(0)),
                None if in_data => Published::Suppressed,
                None => Published::Value(0),
            };
            row.push(figure);
        }
    }
    rows
}

/// A hexagon query: cells of `res` whose centre is in `bbox`, counted over `window`.
#[derive(Debug, Clone, Copy)]
pub struct HexagonQuery {
    /// Box of cell centres.
    pub bbox: Bbox,
    /// Cell resolution.
    pub res: H3Res,
    /// Days counted.
    pub window: TimeWindow,
    /// Category filter.
    pub category: Option<Category>,
}

/// One cell's figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HexFigure {
    /// The exact count (place-level roles).
    Exact(u32),
    /// The published figure of the monthly releases (aggregate roles), `partial` when it is a
    /// lower bound (another month of the window suppressed).
    Published {
        /// The figure as shown.
        published: Published,
        /// True when another month of the window is suppressed.
        partial: bool,
    },
}

/// The cells of `q` with their figures: exact counts in the index's order, or, with
/// `protected` (aggregate roles), the published figure of every cell whose centre is in the
/// box, in cell order, leaving out cells shown as 0. For a child category every cell of
/// `study_area` in the box is listed whether or not it holds an incident, so neither the set
/// of cells nor a value tells a zero from 1..9 (`safeguards::releases`).
///
/// # Errors
///
/// [`ServiceError::TooManyCells`] past [`MAX_CELLS`].
pub fn hexagon_cells(
    snap: &Snapshot,
    q: &HexagonQuery,
    protected: Option<&Protected>,
    study_area: Bbox,
) -> ServiceResult<Vec<(CellIndex, HexFigure)>> {
    let query = CountQuery {
        bbox: q.bbox,
        res: q.res,
        window: q.window,
        category: q.category,
    };
    let counts = snap.incidents.cell_counts(&query);
    if counts.len() > MAX_CELLS {
        return Err(ServiceError::TooManyCells {
            cells: counts.len(),
        });
    }
    let Some(protected) = protected else {
        return Ok(counts
            .iter()
            .map(|c| (c.cell, HexFigure::Exact(c.count)))
            .collect());
    };
    // Protect the whole fixed geography at every served resolution in one network, then
    // slice: a bbox or a resolution change must not change what is suppressed
    // (safeguards::disclosure, "Limits").
    let category = q.category;
    let mut listed: BTreeSet<CellIndex> = counts.iter().map(|c| c.cell).collect();
    // A general category's zeros inside occupied cells are suppressed entries of the release
    // (safeguards::releases::month_release): list the occupied cells too, as the tiles do.
    if category.is_some_and(|c| !c.concerns_children()) {
        let occupied = snap.incidents.cell_counts(&CountQuery {
            category: None,
            ..query
        });
        listed.extend(occupied.iter().map(|c| c.cell));
    }
    if releases::hides_zero(category)
        && let Some(area) = releases::intersect(q.bbox, study_area)
    {
        listed.extend(releases::cells_with_centre_in(area, q.res.to_h3()));
    }
    Ok(listed
        .into_iter()
        .filter_map(|cell| {
            let published = releases::shown(
                protected.get(&cell).copied().unwrap_or(Published::Value(0)),
                category,
            );
            (published.value() != Some(0)).then(|| {
                (
                    cell,
                    HexFigure::Published {
                        published,
                        partial: protected.is_partial(&cell),
                    },
                )
            })
        })
        .collect())
}

fn world() -> Bbox {
    Bbox::from_coords(-180.0, -90.0, 180.0, 90.0).expect("the whole globe is a valid box")
}

#[cfg(test)]
#[path = "hexagons_tests.rs"]
mod tests;
