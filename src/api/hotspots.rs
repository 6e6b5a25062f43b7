//! `GET /api/v1/hotspots` and the Gi* layers behind the `hotspots` tiles (issue 6, point 6):
//! Getis-Ord Gi* (binary weights over `k` rings, `ArcGIS` FDR bins) on H3 cells over the four
//! authorities, for a window and category.
//!
//! Aggregate roles get whole months, the bin and a disclosure-controlled count per cell (from
//! the same protected network as the hexagon layer); z and p are for analysts. Results are
//! cached by (data version, resolution, window, category), so tiles of one view share one
//! Gi* run.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use h3o::{CellIndex, Resolution};
use serde_json::{Value, json};

use super::admission::{Work, study_area_cells};
use super::analysis_cache::AnalysisCache;
use super::auth::Authorised;
use super::hexagons::{Protected, admitted_protected};
use super::params::Params;
use super::{ApiError, ApiResult, AppState};
use crate::domain::{Category, TimeWindow};
use crate::index::Snapshot;
use crate::safeguards::disclosure::Published;
use crate::safeguards::policy::{DisclosureClass, disclosure_class};
use crate::tiles::sources::{HOTSPOT_RES_MAX, HOTSPOT_RES_MIN, HotspotLayer};

/// Rings of neighbours of the served layers.
pub const HOTSPOT_K: u32 = 1;

type HotspotKey = (
    u64,
    Resolution,
    TimeWindow,
    Option<Category>,
    DisclosureClass,
);

/// Gi* layers by (data version, resolution, window, category, disclosure class): aggregate
/// roles get Gi* computed from the protected counts (issue 13 point 3).
pub type HotspotCache = AnalysisCache<HotspotKey, HotspotLayer>;

/// The four authorities as one study area.
pub(crate) fn study_area(snap: &Snapshot) -> geo::MultiPolygon<f64> {
    geo::MultiPolygon(
        snap.boundaries
            .of_scheme("lad")
            .flat_map(|b| b.geometry.0.iter().cloned())
            .collect(),
    )
}

/// The Gi* layer for `res`, `window` and `category`, from the cache or computed now. With
/// `protected` (aggregate roles) the counts behind it are the published ones, so a bin says
/// nothing a published count does not (issue 13 point 3).
pub(crate) fn hotspot_layer(
    cache: &HotspotCache,
    snap: &Snapshot,
    res: Resolution,
    window: TimeWindow,
    category: Option<Category>,
    protected: Option<&Protected>,
) -> ApiResult<Arc<HotspotLayer>> {
    let class = if protected.is_some() {
        DisclosureClass::Controlled
    } else {
        DisclosureClass::Exact
    };
    cache.get_or_compute((snap.data_version, res, window, category, class), || {
        let published = protected.map(|p| move |cell| p.get(&cell).and_then(|v| v.value()));
        let lookup: Option<&dyn Fn(CellIndex) -> Option<u32>> = published
            .as_ref()
            .map(|f| f as &dyn Fn(CellIndex) -> Option<u32>);
        HotspotLayer::compute(
            snap,
            &study_area(snap),
            res,
            window,
            category,
            HOTSPOT_K,
            lookup,
        )
        .map_err(ApiError::internal)
    })
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/hotspots", get(get_hotspots))
}

async fn get_hotspots(
    State(state): State<AppState>,
    auth: Authorised,
    params: Params,
) -> ApiResult<Json<Value>> {
    params.only(&["res", "from", "to", "category", "bbox"])?;
    let bbox = params.bbox()?;
    let res_min = u8::from(HOTSPOT_RES_MIN);
    let res_max = u8::from(HOTSPOT_RES_MAX);
    let default_res = crate::safeguards::releases::default_res(
        disclosure_class(auth.role) == DisclosureClass::Controlled,
        params.category()?,
    );
    let res_n = params.int_in("res", u64::from(res_min)..=u64::from(res_max), default_res)? as u8;
    let res = Resolution::try_from(res_n).map_err(|e| ApiError::invalid("res", e.to_string()))?;
    let snap = state.snapshot();
    let (requested, window) = super::query_window(&params, &snap, disclosure_class(auth.role))?;
    let category = params.category()?;
    let controlled = disclosure_class(auth.role) == DisclosureClass::Controlled;
    if controlled {
        crate::safeguards::releases::check_res(res_n, category)
            .map_err(|m| ApiError::invalid("res", m))?;
    }
    let cache = Arc::clone(&state.hotspots);
    // The monthly releases of the window, computed through the admission layer when cold.
    let protected = if controlled {
        Some(
            admitted_protected(&state, &snap, window, category, DisclosureClass::Controlled)
                .await?,
        )
    } else {
        None
    };
    let work = Work {
        key: format!(
            "hotspots|{}|{res_n}|{window:?}|{category:?}|{bbox:?}|{controlled}",
            snap.data_version
        ),
        class: disclosure_class(auth.role),
        // Per cell: neighbour list, counts, z, p and bins (about 256 bytes at k = 1).
        estimate_bytes: study_area_cells(res).saturating_mul(256),
    };
    let body = state
        .admission
        .run(work, move || {
            let layer = hotspot_layer(&cache, &snap, res, window, category, protected.as_deref())?;
            let mut cells: Vec<&CellIndex> = layer
                .cells
                .keys()
                .filter(|c| {
                    bbox.is_none_or(|b| {
                        let centre = h3o::LatLng::from(**c);
                        b.contains_raw(centre.lng(), centre.lat())
                    })
                })
                .collect();
            cells.sort_unstable();
            let out: Vec<Value> = cells
                .into_iter()
                .filter_map(|cell| layer.cells.get(cell).map(|v| (cell, *v)))
                .map(|(cell, (bin, z, count))| match &protected {
                    // A cell with no incident is not in the protected network: its count is 0,
                    // shown as suppressed for a child category (safeguards::releases).
                    Some(p) => {
                        let published = crate::safeguards::releases::shown(
                            p.get(cell).copied().unwrap_or(Published::Value(0)),
                            category,
                        );
                        json!({"h3": cell.to_string(), "bin": bin,
                        "count": published.count_json(), "suppressed": published.is_suppressed()})
                    }
                    None => json!({"h3": cell.to_string(), "bin": bin, "count": count, "z": z,
                               "p": z.map(crate::analysis::gistar::two_sided_p)}),
                })
                .collect();
            Ok(json!({
                "settings": {"method": "Getis-Ord Gi*", "weights": "binary", "k": HOTSPOT_K,
                             "res": res_n, "fdr": "Benjamini-Hochberg as ArcGIS applies it",
                             "study_area": "the four authorities (lad outlines)",
                             "from": window.from(), "to": window.to(),
                             "requested_from": requested.from(), "requested_to": requested.to(),
                             "category": category.map(Category::slug)},
                "disclosure": {"controlled": controlled},
                "note": "cells with bin 0 are left out",
                "cells": out,
            }))
        })
        .await?;
    Ok(Json(body.as_ref().clone()))
}
