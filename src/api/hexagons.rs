//! `GET /api/v1/hexagons`: incident counts per H3 cell as GeoJSON polygons, computed in
//! [`crate::service::hexagons`]; this module also admits the monthly releases of aggregate roles
//! (the areas, each month, each window) through the admission layer for every endpoint.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use h3o::LatLng;

use super::admission::Work;
use super::auth::Authorised;
use super::geojson_out::{FeatureWriter, push_ring_polygon};
use super::params::Params;
use super::{ApiError, ApiResult, AppState, blocking, study_area};
use crate::domain::{Category, TimeWindow};
use crate::index::{H3Res, Snapshot};
use crate::safeguards::disclosure::Sensitivity;
use crate::safeguards::policy::{DisclosureClass, disclosure_class};
use crate::safeguards::releases;
use crate::service::hexagons::{
    HexFigure, HexagonQuery, MONTH_RELEASE_BYTES, hexagon_cells, month_bundle, release_areas,
    release_areas_estimate_bytes, released_months, window_estimate_bytes,
};
pub(crate) use crate::service::hexagons::{
    MAX_CELLS, Months, Protected, ProtectedCache, protected_cells,
};

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
    snap: &Arc<Snapshot>,
    window: TimeWindow,
    category: Option<Category>,
    class: DisclosureClass,
) -> ApiResult<Months> {
    let cache = Arc::clone(&state.protected);
    let version = snap.data_version;
    let areas = if let Some(areas) = cache.cached_areas(version) {
        areas
    } else {
        let work = Work {
            key: format!("release-areas|{version}"),
            class,
            estimate_bytes: release_areas_estimate_bytes(snap),
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
    let months = released_months(snap, window);
    let mut held = Vec::with_capacity(months.len());
    for month in months {
        let bundle = if let Some(bundle) = cache.cached_month(version, month, category) {
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
    Ok(Months::new(
        cache,
        policy,
        Arc::clone(snap),
        category,
        areas,
        held,
    ))
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
    snap: &Arc<Snapshot>,
    window: TimeWindow,
    category: Option<Category>,
    class: DisclosureClass,
) -> ApiResult<Arc<Protected>> {
    let key = (snap.data_version, window, category);
    if let Some(hit) = state
        .protected
        .cached_window(snap.data_version, window, category)
    {
        return Ok(hit);
    }
    let months = admit_months(state, snap, window, category, class).await?;
    let work = Work {
        key: format!("protected-window|{key:?}"),
        class,
        estimate_bytes: window_estimate_bytes(months.len()),
    };
    let protected = state
        .admission
        .run(work, move || Ok(protected_cells(&months, window)))
        .await?;
    Ok(Arc::clone(&protected))
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
        let q = HexagonQuery {
            bbox,
            res,
            window,
            category,
        };
        if controlled && protected.is_none() {
            return Err(ApiError::internal(std::io::Error::other(
                "no release for an aggregate role",
            )));
        }
        let cells = hexagon_cells(&snap, &q, protected.as_deref(), study_area())?;
        tracing::Span::current().record("cells", cells.len());
        Ok(encode(&cells, &q, requested, controlled, &policy))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], body))
}

/// The cells as GeoJSON polygons, with the query and the disclosure applied.
fn encode(
    cells: &[(h3o::CellIndex, HexFigure)],
    q: &HexagonQuery,
    requested: TimeWindow,
    controlled: bool,
    policy: &crate::safeguards::disclosure::DisclosurePolicy,
) -> String {
    let category = q.category;
    let mut w = FeatureWriter::new(cells.len() * 330 + 256);
    let mut ring = Vec::with_capacity(6);
    for (cell, figure) in cells {
        let props = match figure {
            HexFigure::Exact(count) => {
                format!(r#"{{"h3":"{cell}","count":{count},"suppressed":false}}"#)
            }
            HexFigure::Published { published, partial } => {
                let partial = if *partial { r#","partial":true"# } else { "" };
                format!(
                    r#"{{"h3":"{cell}","count":{},"suppressed":{}{partial}}}"#,
                    published.count_json(),
                    published.is_suppressed()
                )
            }
        };
        ring.clear();
        ring.extend(cell.boundary().iter().map(|v: &LatLng| (v.lng(), v.lat())));
        w.feature_raw(|o| push_ring_polygon(o, &ring), &props);
    }
    let mut extra = serde_json::Map::new();
    extra.insert(
        "query".to_owned(),
        serde_json::json!({
            "res": q.res.get(), "bbox": q.bbox.to_string(), "from": q.window.from(), "to": q.window.to(),
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
                               "time": "whole months", "max_res": u8::from(releases::max_res(category)),
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
    w.finish(&extra)
}
