//! `GET /api/v1/meta`: what the front end needs to build its controls.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::auth::Authorised;
use super::params::Params;
use super::{ApiResult, AppState, STUDY_AREA};
use crate::domain::Category;
use crate::index::{H3Res, IncidentLayer};
use crate::safeguards::policy::{DataClass, disclosure_class, role_may_read};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/meta", get(get_meta))
}

fn data_span(index: &IncidentLayer) -> (Value, Value) {
    index
        .day_range()
        .map_or((Value::Null, Value::Null), |(a, b)| (json!(a), json!(b)))
}

async fn get_meta(
    State(state): State<AppState>,
    auth: Authorised,
    params: Params,
) -> ApiResult<Json<Value>> {
    params.only(&[])?;
    let classes: Vec<DataClass> = [
        DataClass::Reference,
        DataClass::Aggregate,
        DataClass::PlaceLevel,
        DataClass::PersonLevel,
    ]
    .into_iter()
    .filter(|c| role_may_read(auth.role, *c))
    .collect();
    // Layers the map may request, by the class of their endpoint.
    let layers: Vec<&str> = [
        ("hexagons", DataClass::Aggregate),
        ("crossborder", DataClass::Aggregate),
        ("boundaries", DataClass::Reference),
        ("schools", DataClass::Reference),
        ("stops", DataClass::Reference),
        ("routes", DataClass::Reference),
        ("services", DataClass::Reference),
        ("places", DataClass::PlaceLevel),
        ("incidents", DataClass::PlaceLevel),
    ]
    .into_iter()
    .filter(|(_, c)| classes.contains(c))
    .map(|(l, _)| l)
    .collect();
    let snap = state.snapshot();
    let (from, to) = data_span(&snap.incidents);
    let categories: Vec<Value> = Category::ALL
        .iter()
        .map(|c| json!({"slug": c.slug(), "label": c.label(), "concerns_children": c.concerns_children()}))
        .collect();
    let exact = disclosure_class(auth.role) == crate::safeguards::policy::DisclosureClass::Exact;
    let resolutions: Vec<u8> = (0..=15).filter(|r| H3Res::new(*r).is_ok()).collect();
    Ok(Json(json!({
        "bounds": STUDY_AREA,
        "data_from": from,
        "data_to": to,
        "data_version": snap.data_version,
        "categories": categories,
        "schemes": snap.boundaries.schemes().collect::<Vec<_>>(),
        "h3_resolutions": resolutions,
        // Exact incident totals are an aggregate: only roles with exact aggregates get them,
        // or a total could be used to narrow a suppressed cell (S21).
        "counts": {
            "incidents_indexed": exact.then(|| snap.incidents.len()),
            "incidents_unlocated": exact.then(|| snap.incidents.unlocated()),
            "places": snap.places.len(),
            "schools": snap.schools.len(),
            "stops": snap.stops.len(),
            "routes": snap.routes.all().len(),
            "services": snap.services.len(),
        },
        "caller": {
            "role": auth.role,
            "name": auth.user.as_ref().map(|u| u.name.clone()),
            "classes": classes,
            "layers": layers,
            "disclosure": disclosure_class(auth.role),
        },
        "attribution": "Contains public sector information licensed under the Open Government Licence v3.0. Contains OS data © Crown copyright and database right. Synthetic demo data.",
    })))
}
