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
use crate::tiles::registry::REGISTRY;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/meta", get(get_meta))
}

fn data_span(index: &IncidentLayer) -> (Value, Value) {
    index
        .day_range()
        .map_or((Value::Null, Value::Null), |(a, b)| (json!(a), json!(b)))
}

/// The layers the map may request (`caller.layers`): the registered sources with a place in
/// `/api/v1/meta` ([`crate::tiles::registry::LayerSpec::meta_order`]), in that order, whose
/// class is among the caller's `classes`.
fn map_layers(classes: &[DataClass]) -> Vec<&'static str> {
    let mut listed: Vec<(u8, &'static str)> = REGISTRY
        .iter()
        .filter(|s| classes.contains(&s.class()))
        .filter_map(|s| s.spec().meta_order.map(|rank| (rank, s.name())))
        .collect();
    listed.sort_unstable();
    listed.into_iter().map(|(_, name)| name).collect()
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
    let layers = map_layers(&classes);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_layers_keep_their_order_and_follow_the_classes() {
        let all = [
            DataClass::Reference,
            DataClass::Aggregate,
            DataClass::PlaceLevel,
            DataClass::PersonLevel,
        ];
        assert_eq!(
            map_layers(&all),
            [
                "hexagons",
                "crossborder",
                "boundaries",
                "schools",
                "stops",
                "routes",
                "services",
                "places",
                "incidents"
            ]
        );
        assert_eq!(
            map_layers(&[DataClass::Reference, DataClass::Aggregate]),
            [
                "hexagons",
                "crossborder",
                "boundaries",
                "schools",
                "stops",
                "routes",
                "services"
            ]
        );
        assert!(map_layers(&[DataClass::AuditLog]).is_empty());
    }
}
