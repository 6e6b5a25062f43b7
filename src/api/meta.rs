//! `GET /api/v1/meta`: what the front end needs to build its controls.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::params::Params;
use super::{ApiResult, AppState, STUDY_AREA};
use crate::domain::Category;
use crate::index::{H3Res, IncidentIndex};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/meta", get(get_meta))
}

fn data_span(index: &IncidentIndex) -> (Value, Value) {
    index
        .day_range()
        .map_or((Value::Null, Value::Null), |(a, b)| (json!(a), json!(b)))
}

async fn get_meta(State(state): State<AppState>, params: Params) -> ApiResult<Json<Value>> {
    params.only(&[])?;
    let snap = state.snapshot();
    let (from, to) = data_span(&snap.incidents);
    let categories: Vec<Value> = Category::ALL
        .iter()
        .map(|c| json!({"slug": c.slug(), "label": c.label(), "concerns_children": c.concerns_children()}))
        .collect();
    let resolutions: Vec<u8> = (0..=15).filter(|r| H3Res::new(*r).is_ok()).collect();
    Ok(Json(json!({
        "bounds": STUDY_AREA,
        "data_from": from,
        "data_to": to,
        "data_version": snap.data_version,
        "categories": categories,
        "schemes": snap.boundaries.schemes().collect::<Vec<_>>(),
        "h3_resolutions": resolutions,
        "counts": {
            "incidents_indexed": snap.incidents.len(),
            "incidents_unlocated": snap.incidents.unlocated(),
            "places": snap.places.len(),
            "schools": snap.schools.len(),
            "stops": snap.stops.len(),
            "routes": snap.routes.all().len(),
            "services": snap.services.len(),
        },
        "attribution": "Contains public sector information licensed under the Open Government Licence v3.0. Contains OS data © Crown copyright and database right. Synthetic demo data.",
    })))
}
