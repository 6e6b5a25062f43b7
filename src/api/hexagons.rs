//! `GET /api/v1/hexagons`: incident counts per H3 cell as GeoJSON polygons.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use h3o::LatLng;

use super::admission::Work;
use super::analysis_cache::AnalysisCache;
use super::auth::Authorised;
use super::geojson_out::{FeatureWriter, push_ring_polygon};
use super::params::Params;
use super::{ApiError, ApiResult, AppState, blocking, study_area};
use crate::domain::{Bbox, Category, TimeWindow};
use crate::index::{CountQuery, H3Res};
use crate::safeguards::disclosure::{Published, Sensitivity};
use crate::safeguards::policy::{DisclosureClass, disclosure_class};
use crate::safeguards::releases;

/// Most cells one response may hold; beyond it the caller must zoom in or coarsen `res`.
pub const MAX_CELLS: usize = 60_000;

/// Published cells of one window for aggregate roles: every served resolution, keyed by cell,
/// assembled from the monthly releases (`safeguards::disclosure::WindowRelease`).
pub(crate) type Protected = crate::safeguards::disclosure::WindowRelease;

/// What a protected window depends on.
type ProtectedKey = (u64, TimeWindow, Option<Category>);

/// Most assembled windows kept.
const PROTECTED_CACHE_ENTRIES: usize = 64;

/// Most monthly bundles kept (one per month for "all" and the general categories, one per
/// month and child category; a few hundred KB each on the demo data): ten years of the
/// general layers and both child categories.
const MONTH_CACHE_ENTRIES: usize = 360;

/// Which monthly bundle: (data version, month, `None` for "all" and the general categories
/// released together, or one child category).
type MonthKey = (u64, TimeWindow, Option<Category>);

/// The layers released together for one month.
type MonthBundle = Vec<(Option<Category>, releases::MonthLayer)>;

/// The areas of every scheme as fixed cells, in the order of the snapshot's boundaries.
type Areas = Vec<releases::AreaCells>;

/// Monthly bundles, the windows assembled from them and the areas they are released with, in
/// the generic analysis cache.
pub struct ProtectedCache {
    windows: AnalysisCache<ProtectedKey, Protected>,
    months: AnalysisCache<MonthKey, MonthBundle>,
    areas: AnalysisCache<u64, Areas>,
}

impl Default for ProtectedCache {
    fn default() -> Self {
        Self {
            windows: AnalysisCache::with_capacity(PROTECTED_CACHE_ENTRIES),
            months: AnalysisCache::with_capacity(MONTH_CACHE_ENTRIES),
            areas: AnalysisCache::with_capacity(2),
        }
    }
}

/// The areas of every scheme as the fixed cells the monthly releases count them by
/// (`safeguards::releases::area_cells`), computed once per data version.
pub(crate) fn release_areas(
    cache: &ProtectedCache,
    snap: &crate::index::Snapshot,
) -> std::sync::Arc<Areas> {
    cache.areas.get_or_insert_with(snap.data_version, || {
        let schemes: Vec<String> = snap.boundaries.schemes().map(str::to_owned).collect();
        releases::area_cells(schemes.iter().flat_map(|s| snap.boundaries.of_scheme(s)))
    })
}

/// The layers of `month` released together with `category`'s: for a child category that
/// category alone, otherwise "all categories" and every general category
/// (`safeguards::releases::general_month_releases`), computed once per data version.
fn month_bundle(
    cache: &ProtectedCache,
    policy: &crate::safeguards::disclosure::DisclosurePolicy,
    snap: &crate::index::Snapshot,
    month: TimeWindow,
    category: Option<Category>,
    areas: &Areas,
) -> std::sync::Arc<MonthBundle> {
    let child = category.filter(|c| c.concerns_children());
    let counts_of = |c: Category, res: h3o::Resolution| -> Vec<(h3o::CellIndex, u32)> {
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
        .get_or_insert_with((snap.data_version, month, child), || match child {
            Some(_) => vec![(
                child,
                releases::month_release(child, counts_of, areas, policy),
            )],
            None => releases::general_month_releases(counts_of, areas, policy),
        })
}

/// Upper estimate of what computing the release areas allocates, per area of every scheme
/// (measured on the demo data, 120 areas: 0.2 MB at most at once).
const RELEASE_AREAS_BYTES_PER_AREA: u64 = 8 << 10;

/// Upper estimate of what computing one month's bundle of releases allocates (measured on the
/// demo data: at most 2.5 MB at once for "all" and the general categories).
const MONTH_RELEASE_BYTES: u64 = 4 << 20;

/// Upper estimate of what assembling a window from its months allocates, per month (measured
/// on the demo data: 0.1 MB for 37 months).
const WINDOW_BYTES_PER_MONTH: u64 = 64 << 10;

/// The release areas and the monthly bundles of one request's window and category, computed
/// through the admission layer ([`admit_months`]) and held for the length of the request, so
/// that an eviction from the cache in between never makes the request compute a month itself.
pub(crate) struct Months {
    cache: std::sync::Arc<ProtectedCache>,
    policy: crate::safeguards::disclosure::DisclosurePolicy,
    snap: std::sync::Arc<crate::index::Snapshot>,
    category: Option<Category>,
    areas: std::sync::Arc<Areas>,
    held: Vec<(TimeWindow, std::sync::Arc<MonthBundle>)>,
}

impl Months {
    /// The areas of every scheme as fixed cells.
    pub(crate) fn areas(&self) -> &Areas {
        &self.areas
    }

    /// The bundle of `month`: held, or (a month outside the window admitted, which no caller
    /// asks for) from the cache or computed here, inside the caller's admitted computation.
    fn bundle(&self, month: TimeWindow) -> std::sync::Arc<MonthBundle> {
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
            |(_, b)| std::sync::Arc::clone(b),
        )
    }

    /// The released months of `window` (whole months inside the data's span).
    fn released_months(&self, window: TimeWindow) -> Vec<TimeWindow> {
        data_span(&self.snap).map_or_else(Vec::new, |span| {
            crate::safeguards::disclosure::months_of(window, span)
        })
    }
}

/// The days the data covers, if any.
fn data_span(snap: &crate::index::Snapshot) -> Option<TimeWindow> {
    snap.incidents
        .day_range()
        .and_then(|(a, b)| TimeWindow::new(a, b).ok())
}

/// The release areas and every monthly bundle of `window` and `category`, each computed on
/// first use through the admission layer (issue 14, point 1) as its own flight: identical
/// concurrent requests share one computation per month, they queue for the class's workers
/// (`503 BUSY` beyond the queue), their memory is reserved, measured and bounded, and a month
/// stops at its checkpoints when every request waiting for it is gone. Months already cached
/// cost a lookup.
///
/// # Errors
///
/// [`ApiError::Busy`] when the class's queue is full, [`ApiError::TooExpensive`] when a month
/// passes its memory budget.
pub(crate) async fn admit_months(
    state: &AppState,
    snap: &std::sync::Arc<crate::index::Snapshot>,
    window: TimeWindow,
    category: Option<Category>,
    class: DisclosureClass,
) -> ApiResult<Months> {
    use std::sync::Arc;
    let cache = Arc::clone(&state.protected);
    let version = snap.data_version;
    let areas = if let Some(areas) = cache.areas.get(&version) {
        areas
    } else {
        let count: u64 = snap
            .boundaries
            .schemes()
            .map(|s| snap.boundaries.of_scheme(s).count() as u64)
            .sum();
        let work = Work {
            key: format!("release-areas|{version}"),
            class,
            estimate_bytes: count.saturating_mul(RELEASE_AREAS_BYTES_PER_AREA),
        };
        let (c, s) = (Arc::clone(&cache), Arc::clone(snap));
        let areas = state
            .admission
            .run(work, move || Ok(release_areas(&c, &s)))
            .await?;
        Arc::clone(areas.as_ref())
    };
    let child = category.filter(|c| c.concerns_children());
    let policy = state.disclosure;
    let months = data_span(snap).map_or_else(Vec::new, |span| {
        crate::safeguards::disclosure::months_of(window, span)
    });
    let mut held = Vec::with_capacity(months.len());
    for month in months {
        let bundle = if let Some(bundle) = cache.months.get(&(version, month, child)) {
            bundle
        } else {
            let work = Work {
                key: format!("month-release|{version}|{month:?}|{child:?}"),
                class,
                estimate_bytes: MONTH_RELEASE_BYTES,
            };
            let (c, s, a) = (Arc::clone(&cache), Arc::clone(snap), Arc::clone(&areas));
            let bundle = state
                .admission
                .run(work, move || {
                    Ok(month_bundle(&c, &policy, &s, month, category, &a))
                })
                .await?;
            Arc::clone(bundle.as_ref())
        };
        held.push((month, bundle));
    }
    Ok(Months {
        cache,
        policy,
        snap: Arc::clone(snap),
        category,
        areas,
        held,
    })
}

/// [`protected_cells`] of `window` through the admission layer: from the cache, or its months
/// admitted ([`admit_months`]) and the window assembled from them in an admitted computation
/// of its own.
///
/// # Errors
///
/// As [`admit_months`].
pub(crate) async fn admitted_protected(
    state: &AppState,
    snap: &std::sync::Arc<crate::index::Snapshot>,
    window: TimeWindow,
    category: Option<Category>,
    class: DisclosureClass,
) -> ApiResult<std::sync::Arc<Protected>> {
    use std::sync::Arc;
    let key = (snap.data_version, window, category);
    if let Some(hit) = state.protected.windows.get(&key) {
        return Ok(hit);
    }
    let months = admit_months(state, snap, window, category, class).await?;
    let work = Work {
        key: format!("protected-window|{key:?}"),
        class,
        estimate_bytes: (months.held.len() as u64).saturating_mul(WINDOW_BYTES_PER_MONTH),
    };
    let protected = state
        .admission
        .run(work, move || Ok(protected_cells(&months, window)))
        .await?;
    Ok(Arc::clone(&protected))
}

/// The published cells of `window` (whole months) and the category of `months` for aggregate
/// roles, at every resolution they may see: the sum of the monthly releases of its months
/// (`safeguards::disclosure::WindowRelease`). Each month is protected once for the whole study
/// area and cached by (data version, month); a request then only slices, so a bbox,
/// resolution, tile or overlapping window never changes a month's figures.
pub(crate) fn protected_cells(months: &Months, window: TimeWindow) -> std::sync::Arc<Protected> {
    let category = months.category;
    months
        .cache
        .windows
        .get_or_insert_with((months.snap.data_version, window, category), || {
            let bundles: Vec<_> = months
                .released_months(window)
                .into_iter()
                .map(|m| months.bundle(m))
                .collect();
            let parts: Vec<&crate::safeguards::disclosure::MonthRelease> = bundles
                .iter()
                .filter_map(|b| b.iter().find(|(layer, _)| *layer == category))
                .map(|(_, layer)| layer.cells.as_slice())
                .collect();
            releases::window_release(&parts, category)
        })
}

/// The published figures of the areas `areas` (indexes into [`Months::areas`]) in the months
/// of `window` (whole months) for the category of `months`, for aggregate roles:
/// `rows[area][month]`, one entry per month the window touches
/// (`analysis::areas::months_of`), from the monthly releases, which protect the areas together
/// with the map. A month outside the data holds no incident and is 0; one past the release cap
/// is suppressed.
pub(crate) fn area_figures(
    months: &Months,
    window: TimeWindow,
    areas: &[usize],
) -> Vec<Vec<Published>> {
    let category = months.category;
    let span = data_span(&months.snap);
    let released = months.released_months(window);
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

fn world() -> Bbox {
    Bbox::from_coords(-180.0, -90.0, 180.0, 90.0).expect("the whole globe is a valid box")
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/hexagons", get(get_hexagons))
}

#[tracing::instrument(skip_all, fields(res, cells))]
async fn get_hexagons(
    State(state): State<AppState>,
    auth: Authorised,
    params: Params,
) -> ApiResult<impl IntoResponse> {
    params.only(&["res", "bbox", "from", "to", "category"])?;
    let category = params.category()?;
    let controlled = disclosure_class(auth.role) == DisclosureClass::Controlled;
    // Aggregate roles get no finer cells than the cap of the category (fixed releases,
    // safeguards::releases); the default is the cap when it is coarser than res 8.
    let cap = u8::from(releases::max_res(category));
    let res_n = params.int_in("res", 0..=15, releases::default_res(controlled, category))? as u8;
    if controlled {
        releases::check_res(res_n, category).map_err(|m| ApiError::invalid("res", m))?;
    }
    let res = H3Res::new(res_n)?;
    let bbox = params.bbox()?.unwrap_or_else(study_area);
    let snap = state.snapshot();
    // Aggregate roles get whole months only and disclosure-controlled counts (S21).
    let (requested, window) = super::query_window(&params, &snap, disclosure_class(auth.role))?;
    tracing::Span::current().record("res", res.get());
    let policy = state.disclosure;
    // The monthly releases of the window, computed through the admission layer when cold.
    let protected = if controlled {
        Some(
            admitted_protected(&state, &snap, window, category, DisclosureClass::Controlled)
                .await?,
        )
    } else {
        None
    };

    let body = blocking(move || {
        let q = CountQuery { bbox, res, window, category };
        let counts = snap.incidents.cell_counts(&q);
        if counts.len() > MAX_CELLS {
            return Err(ApiError::invalid(
                "res",
                format!("{} cells exceed the limit of {MAX_CELLS}; use a smaller bbox or a coarser res", counts.len()),
            ));
        }
        tracing::Span::current().record("cells", counts.len());
        let mut w = FeatureWriter::new(counts.len() * 330 + 256);
        let mut ring = Vec::with_capacity(6);
        let mut write = |cell: h3o::CellIndex, props: &str| {
            ring.clear();
            ring.extend(cell.boundary().iter().map(|v: &LatLng| (v.lng(), v.lat())));
            w.feature_raw(|o| push_ring_polygon(o, &ring), props);
        };
        if controlled {
            // Protect the whole fixed geography at every served resolution in one network,
            // then slice: a bbox or a resolution change must not change what is suppressed
            // (safeguards::disclosure, "Limits").
            let Some(protected) = protected else {
                return Err(ApiError::internal(std::io::Error::other("no release for an aggregate role")));
            };
            // Publish the protected value of every cell of the requested resolution whose
            // centre is in the box (the same cells the exact path lists), in cell order. For
            // a child category every cell of the study area in the box is published whether
            // or not it holds an incident, and a zero is shown as suppressed, so neither the
            // set of cells nor a value tells a zero from 1..9 (safeguards::releases).
            let hide_zero = releases::hides_zero(category);
            let mut listed: std::collections::BTreeSet<h3o::CellIndex> =
                counts.iter().map(|c| c.cell).collect();
            // A general category's zeros inside occupied cells are suppressed entries of the
            // release (safeguards::releases::month_release): list the occupied cells too, as
            // the tiles do.
            if category.is_some_and(|c| !c.concerns_children()) {
                let occupied = snap.incidents.cell_counts(&CountQuery { category: None, ..q });
                listed.extend(occupied.iter().map(|c| c.cell));
            }
            if hide_zero && let Some(area) = releases::intersect(bbox, study_area()) {
                listed.extend(releases::cells_with_centre_in(area, res.to_h3()));
            }
            for cell in listed {
                let published = releases::shown(
                    protected.get(&cell).copied().unwrap_or(Published::Value(0)),
                    category,
                );
                if published.value() == Some(0) {
                    continue;
                }
                let partial = if protected.is_partial(&cell) { r#","partial":true"# } else { "" };
                let props = format!(
                    r#"{{"h3":"{cell}","count":{},"suppressed":{}{partial}}}"#,
                    published.count_json(),
                    published.is_suppressed()
                );
                write(cell, &props);
            }
        } else {
            for c in &counts {
                write(c.cell, &format!(r#"{{"h3":"{}","count":{},"suppressed":false}}"#, c.cell, c.count));
            }
        }
        let mut extra = serde_json::Map::new();
        extra.insert(
            "query".to_owned(),
            serde_json::json!({
                "res": res.get(), "bbox": bbox.to_string(), "from": window.from(), "to": window.to(),
                "category": category.map(Category::slug),
                "requested_from": requested.from(), "requested_to": requested.to(),
            }),
        );
        extra.insert(
            "disclosure".to_owned(),
            if controlled {
                // The values applied (configuration is clamped to the safeguards floors).
                let threshold = policy.threshold(Sensitivity::for_category(category));
                serde_json::json!({"controlled": true, "min_count": threshold, "rounding": policy.effective_rounding_base(),
                                   "time": "whole months", "max_res": cap,
                                   "method": "monthly release: each calendar month protected on its own; a window's count is the sum of its published months, marked partial (a lower bound) when another month is suppressed",
                                   "zero": if releases::hides_zero(category) {
                                       "a child category: every cell of the study area is listed and 0 is shown as suppressed"
                                   } else {
                                       "cells with no incident are left out"
                                   }})
            } else {
                serde_json::json!({"controlled": false})
            },
        );
        Ok(w.finish(&extra))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], body))
}
