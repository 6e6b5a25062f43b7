//! `GET /api/v1/emerging` and the layers behind the `emerging` tiles (issue 6, points 3 and
//! 6): emerging hot spot analysis on H3 cells over the four authorities — a space-time cube
//! of monthly (or, for analysts, weekly) steps, space-time Gi* with FDR across the cube,
//! Mann–Kendall per cell and the 17 categories.
//!
//! Aggregate roles get whole months, monthly steps, the category and a disclosure-controlled
//! count over the window per cell; z, trends and per-step series are for analysts. The
//! analysis is computed and cached in [`crate::service::emerging`]; this handler parses,
//! authorises, admits that computation and encodes its cells.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use h3o::{CellIndex, Resolution};
use serde_json::{Value, json};

use super::admission::{Work, study_area_cells};
use super::auth::Authorised;
use super::hexagons::{admit_months, protected_cells};
use super::params::Params;
use super::{ApiError, ApiResult, AppState};
use crate::analysis::ehsa::StepUnit;
use crate::domain::{Category, TimeWindow};
use crate::safeguards::disclosure::Published;
use crate::safeguards::policy::{DisclosureClass, disclosure_class};
pub(crate) use crate::service::emerging::EmergingCache;
use crate::service::emerging::{StepRelease, emerging_result, estimate_bytes, step_count};
use crate::tiles::sources::{HOTSPOT_RES_MAX, HOTSPOT_RES_MIN};

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
    let work = Work {
        key: format!(
            "emerging|{}|{res_n}|{window:?}|{category:?}|{step:?}|{bbox:?}|{controlled}",
            snap.data_version
        ),
        class,
        estimate_bytes: estimate_bytes(study_area_cells(res), step_count(window, step)),
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
