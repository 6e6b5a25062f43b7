//! `GET /api/v1/hotspots` and the Gi* layers behind the `hotspots` tiles (issue 6, point 6):
//! Getis-Ord Gi* (binary weights over `k` rings, `ArcGIS` FDR bins) on H3 cells over the four
//! authorities, for a window and category.
//!
//! Aggregate roles get whole months, the bin and a disclosure-controlled count per cell (from
//! the same protected network as the hexagon layer); z and p are for analysts. The layer is
//! computed and cached in [`crate::service::hotspots`], so tiles of one view share one Gi*
//! run; this handler parses, authorises, admits that computation and encodes its cells.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use h3o::Resolution;
use serde_json::{Value, json};

use super::admission::{Work, study_area_cells};
use super::auth::Authorised;
use super::hexagons::admitted_protected;
use super::params::Params;
use super::{ApiError, ApiResult, AppState};
use crate::domain::Category;
use crate::safeguards::disclosure::Published;
use crate::safeguards::policy::{DisclosureClass, disclosure_class};
pub(crate) use crate::service::hotspots::HotspotCache;
use crate::service::hotspots::{HOTSPOT_K, cells_in, estimate_bytes, hotspot_layer};
use crate::tiles::sources::{HOTSPOT_RES_MAX, HOTSPOT_RES_MIN};

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
        estimate_bytes: estimate_bytes(study_area_cells(res)),
    };
    let body = state
        .admission
        .run(work, move || {
            let layer = hotspot_layer(&cache, &snap, res, window, category, protected.as_deref())?;
            let out: Vec<Value> = cells_in(&layer, bbox)
                .into_iter()
                .map(|c| match &protected {
                    // A cell with no incident is not in the protected network: its count is 0,
                    // shown as suppressed for a child category (safeguards::releases).
                    Some(p) => {
                        let published = crate::safeguards::releases::shown(
                            p.get(&c.h3).copied().unwrap_or(Published::Value(0)),
                            category,
                        );
                        json!({"h3": c.h3.to_string(), "bin": c.bin,
                        "count": published.count_json(), "suppressed": published.is_suppressed()})
                    }
                    None => {
                        json!({"h3": c.h3.to_string(), "bin": c.bin, "count": c.count, "z": c.z,
                               "p": c.z.map(crate::analysis::gistar::two_sided_p)})
                    }
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
