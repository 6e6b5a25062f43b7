//! `GET /api/v1/risk-windows` and the layer behind the `risk` tiles (issue 6, points 4 and 6),
//! computed and cached in [`crate::service::risk`]:
//! the cells and days of elevated near-repeat risk after recent incidents
//! ([`crate::analysis::risk`]). Computed per data version, so a new import shows as soon as
//! the server has reloaded (a 200 ms poll) and the layer is recomputed on the next request.
//!
//! Analysts get res-9 cells, days, Knox ratios, incident counts and the calibrating bands.
//! Aggregate roles get `as_of` snapped to the first day of its month, res-7 cells and whole
//! calendar months ([`crate::safeguards::releases`]), a ratio to one decimal and no count, and
//! only cells with at least the disclosure threshold of recent incidents behind them.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::admission::Work;
use super::auth::Authorised;
use super::params::Params;
use super::{ApiError, ApiResult, AppState};
use crate::analysis::risk::{RiskLayer, RiskSettings};
use crate::domain::{Category, Day};
use crate::index::Snapshot;
use crate::safeguards::policy::{DisclosureClass, disclosure_class};
use crate::service::risk::{
    COARSE_RES, coarse_windows, default_as_of, estimate_bytes, risk_result, served_as_of,
};
pub(crate) use crate::service::risk::{RiskCache, warm};

/// Which calibration a layer used, for the response.
fn calibration_json(layer: &RiskLayer, current: bool) -> Value {
    json!({"as_of": layer.calibrated_as_of, "current": current,
           "rule": "bands from the Knox test of the current data when ready; until then (about a second after new data) from the newest calibration of the same category within 14 days"})
}

/// `as_of=YYYY-MM-DD`, else [`default_as_of`]; `None` when the store has no incident known to
/// the day.
pub(crate) fn as_of_param(params: &Params, snap: &Snapshot) -> ApiResult<Option<Day>> {
    match params.get("as_of") {
        Some(v) => v
            .parse::<Day>()
            .map(Some)
            .map_err(|e| ApiError::invalid("as_of", e.to_string())),
        None => Ok(default_as_of(snap)),
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/risk-windows", get(get_risk_windows))
}

async fn get_risk_windows(
    State(state): State<AppState>,
    auth: Authorised,
    params: Params,
) -> ApiResult<Json<Value>> {
    params.only(&["category", "as_of"])?;
    let snap = state.snapshot();
    let controlled = disclosure_class(auth.role) == DisclosureClass::Controlled;
    let category = params.category()?;
    let Some(as_of) =
        as_of_param(&params, &snap)?.map(|d| served_as_of(d, disclosure_class(auth.role)))
    else {
        return Ok(Json(json!({
            "settings": RiskSettings::default(),
            "as_of": null,
            "warnings": ["no incident in the store is known to the day: near-repeat risk needs days"],
            "windows": [],
        })));
    };
    let cache = Arc::clone(&state.risk);
    let policy = state.disclosure;
    let work = Work {
        key: format!(
            "risk|{}|{category:?}|{as_of}|{controlled}",
            snap.data_version
        ),
        class: disclosure_class(auth.role),
        // A calibration's bounded memory and the projection's per recent incident.
        estimate_bytes: estimate_bytes(&snap, as_of),
    };
    let body = state.admission.run(work, move || {
        let (layer, current) = risk_result(&cache, &snap, category, as_of)?;
        let common = |windows: Value, bands: Value, extra: Value| {
            json!({
                "settings": layer.settings,
                "as_of": layer.as_of,
                "as_of_rule": "the as_of parameter, else the last day with an incident known to the day",
                "category": category.map(Category::slug),
                "bands": bands,
                "calibration": calibration_json(&layer, current),
                "warnings": layer.warnings,
                "disclosure": extra,
                "windows": windows,
            })
        };
        if controlled {
            let coarse = coarse_windows(&layer, &snap, &policy)?;
            Ok(common(
                serde_json::to_value(&coarse).map_err(ApiError::internal)?,
                json!(layer.bands.iter().map(|b| json!({
                    "min_distance_m": b.min_distance_m, "max_distance_m": b.max_distance_m,
                    "from_days": b.from_days, "to_days": b.to_days,
                    "knox_ratio": (b.knox_ratio * 10.0).round() / 10.0})).collect::<Vec<_>>()),
                json!({"controlled": true, "res": u8::from(COARSE_RES),
                       "rule": "as_of snapped to the first day of its month; res-7 cells, whole calendar months, no counts; a cell is shown only when at least the disclosure threshold of recent incidents lie in it or its neighbours"}),
            ))
        } else {
            let mut out = common(
                serde_json::to_value(&layer.windows).map_err(ApiError::internal)?,
                serde_json::to_value(&layer.bands).map_err(ApiError::internal)?,
                json!({"controlled": false}),
            );
            out["study_incidents"] = json!(layer.study_incidents);
            out["recent_incidents"] = json!(layer.recent_incidents);
            Ok(out)
        }
    })
    .await?;
    Ok(Json(body.as_ref().clone()))
}
