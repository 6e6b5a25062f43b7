//! `GET /api/v1/emerging` and the layers behind the `emerging` tiles (issue 6, points 3 and
//! 6): emerging hot spot analysis on H3 cells over the four authorities — a space-time cube
//! of monthly (or, for analysts, weekly) steps, space-time Gi* with FDR across the cube,
//! Mann–Kendall per cell and the 17 categories.
//!
//! Aggregate roles get whole months, monthly steps, the category and a disclosure-controlled
//! count over the window per cell; z, trends and per-step series are for analysts.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use geo::BoundingRect as _;
use h3o::{CellIndex, Resolution};
use serde_json::{Value, json};

use super::admission::{Work, study_area_cells};
use super::analysis_cache::AnalysisCache;
use super::auth::Authorised;
use super::hexagons::{admit_months, protected_cells};
use super::hotspots::study_area;
use super::params::Params;
use super::{ApiError, ApiResult, AppState};
use crate::analysis::ehsa::{
    Alignment, CubeSettings, EhsaResult, EhsaSettings, SpaceTimeCube, StepUnit, cube_steps,
    emerging_hotspots,
};
use crate::analysis::gistar::CellUniverse;
use crate::domain::{Bbox, Category, TimeWindow};
use crate::index::{CountQuery, H3Res, Snapshot};
use crate::safeguards::disclosure::Published;
use crate::safeguards::policy::{DisclosureClass, disclosure_class};
use crate::tiles::hexagons::HexCount;
use crate::tiles::sources::{EmergingLayer, EmergingValue, HOTSPOT_RES_MAX, HOTSPOT_RES_MIN};

type EmergingKey = (
    u64,
    Resolution,
    TimeWindow,
    Option<Category>,
    StepUnit,
    DisclosureClass,
);

/// The published counts of one step's window (aggregate roles): the protected cells of that
/// month, the same release the hexagon layer publishes for it.
pub(crate) type StepRelease<'a> = &'a dyn Fn(TimeWindow) -> Arc<crate::api::hexagons::Protected>;

/// Emerging hot spot results by (data version, resolution, window, category, step, disclosure
/// class): aggregate roles get the analysis of the published monthly counts.
pub type EmergingCache = AnalysisCache<EmergingKey, EhsaResult>;

/// Memory an emerging hot spot analysis needs per cell of the study area's box and step, an
/// upper estimate for the admission layer (`api::admission`).
pub(crate) const EMERGING_BYTES_PER_CELL_STEP: u64 = 40;

/// Cells in the study area at the finest resolution served (res 9: about 26,000).
const MAX_CELLS: usize = 400_000;

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
pub(crate) fn emerging_result(
    cache: &EmergingCache,
    snap: &Snapshot,
    res: Resolution,
    window: TimeWindow,
    category: Option<Category>,
    step: StepUnit,
    release: Option<StepRelease<'_>>,
) -> ApiResult<Arc<EhsaResult>> {
    let class = if release.is_some() {
        DisclosureClass::Controlled
    } else {
        DisclosureClass::Exact
    };
    cache.get_or_compute(
        (snap.data_version, res, window, category, step, class),
        || compute(snap, res, window, category, step, release).map_err(ApiError::internal),
    )
}

/// The tile layer: cells with a pattern, with the count the caller may see.
pub(crate) fn tile_layer(
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

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/emerging", get(get_emerging))
}

/// `step=week|month` (aggregate roles: month only).
fn step_param(params: &Params, controlled: bool) -> ApiResult<StepUnit> {
    match params.get("step") {
        None | Some("month") => Ok(StepUnit::Month),
        Some("week") if !controlled => Ok(StepUnit::Week),
        Some("week") => Err(ApiError::invalid(
            "step",
            "weekly steps are for place-level roles; aggregate roles get monthly steps",
        )),
        Some(other) => Err(ApiError::invalid(
            "step",
            format!("{other:?} is not week or month"),
        )),
    }
}

async fn get_emerging(
    State(state): State<AppState>,
    auth: Authorised,
    params: Params,
) -> ApiResult<Json<Value>> {
    params.only(&["res", "from", "to", "category", "step", "bbox"])?;
    let res_n = params.int_in(
        "res",
        u64::from(u8::from(HOTSPOT_RES_MIN))..=u64::from(u8::from(HOTSPOT_RES_MAX)),
        crate::safeguards::releases::default_res(
            disclosure_class(auth.role) == DisclosureClass::Controlled,
            params.category()?,
        ),
    )? as u8;
    let res = Resolution::try_from(res_n).map_err(|e| ApiError::invalid("res", e.to_string()))?;
    let snap = state.snapshot();
    let class = disclosure_class(auth.role);
    let controlled = class == DisclosureClass::Controlled;
    let (requested, window) = super::query_window(&params, &snap, class)?;
    let category = params.category()?;
    if controlled {
        crate::safeguards::releases::check_res(res_n, category)
            .map_err(|m| ApiError::invalid("res", m))?;
    }
    let step = step_param(&params, controlled)?;
    let bbox = params.bbox()?;
    let cache = Arc::clone(&state.emerging);
    // The monthly releases of the window, computed through the admission layer when cold.
    let months = if controlled {
        Some(admit_months(&state, &snap, window, category, class).await?)
    } else {
        None
    };
    let days = u64::from(window.to().days_since_epoch() - window.from().days_since_epoch()) + 1;
    let steps = match step {
        StepUnit::Week => days.div_ceil(7),
        StepUnit::Month => days.div_ceil(28),
    };
    let work = Work {
        key: format!(
            "emerging|{}|{res_n}|{window:?}|{category:?}|{step:?}|{bbox:?}|{controlled}",
            snap.data_version
        ),
        class,
        // Per cell of the study area's box and step: the cube's count, z, p and bin and the
        // per-step count lists, plus the neighbour lists per cell. Measured on the demo store
        // (release build, peak resident memory): res 9, 157 weekly steps, 128 MB; this
        // estimates 175 MB.
        estimate_bytes: study_area_cells(res).saturating_mul(
            steps
                .saturating_mul(EMERGING_BYTES_PER_CELL_STEP)
                .saturating_add(256),
        ),
    };
    let body = state
        .admission
        .run(work, move || {
            let release = months
                .as_ref()
                .map(|m| move |w: TimeWindow| protected_cells(m, w));
            let result = emerging_result(
                &cache,
                &snap,
                res,
                window,
                category,
                step,
                release.as_ref().map(|r| r as StepRelease<'_>),
            )?;
            let protected = months.as_ref().map(|m| protected_cells(m, window));
            let in_bbox = |cell: CellIndex| {
                bbox.is_none_or(|b| {
                    let c = h3o::LatLng::from(cell);
                    b.contains_raw(c.lng(), c.lat())
                })
            };
            let cells: Vec<Value> = result
                .cells
                .iter()
                .filter(|c| c.category != 0 && in_bbox(c.h3))
                .map(|c| match &protected {
                    Some(p) => {
                        // A cell with no incident is not in the protected network: its count is
                        // 0, shown as suppressed for a child category (safeguards::releases).
                        let published = crate::safeguards::releases::shown(
                            p.get(&c.h3).copied().unwrap_or(Published::Value(0)),
                            category,
                        );
                        json!({"h3": c.h3.to_string(), "code": c.category, "label": c.label,
                           "count": published.count_json(),
                           "suppressed": published.is_suppressed()})
                    }
                    None => json!({"h3": c.h3.to_string(), "code": c.category, "label": c.label,
                               "count": c.total, "n_hot": c.n_hot, "n_cold": c.n_cold,
                               "final_z": c.final_z, "final_bin": c.final_bin,
                               "trend": {"direction": c.trend_direction, "tau": c.trend.tau,
                                         "p": c.trend.p}}),
                })
                .collect();
            let summary = if controlled {
                json!({"categories": result.summary.categories})
            } else {
                serde_json::to_value(&result.summary).map_err(ApiError::internal)?
            };
            Ok(json!({
                "settings": result.settings,
                "window": {"from": window.from(), "to": window.to(),
                           "requested_from": requested.from(), "requested_to": requested.to(),
                           "category": category.map(Category::slug)},
                "steps": result.steps,
                "summary": summary,
                "warnings": result.warnings,
                "disclosure": {"controlled": controlled},
                "note": "cells with no pattern (code 0) are left out",
                "cells": cells,
            }))
        })
        .await?;
    Ok(Json(body.as_ref().clone()))
}
