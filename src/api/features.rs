//! Place-level GeoJSON layers: `GET /api/v1/{places,schools,stops,routes,services,incidents}`
//! and `GET /api/v1/boundaries?scheme=...`.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use super::auth::Authorised;
use super::geojson_out::{FeatureWriter, push_line, push_point, push_position};
use super::params::Params;
use super::{ApiError, ApiResult, AppState, blocking, study_area};
use crate::domain::{Bbox, TimeWindow};
use crate::safeguards::audit::{AuditEventType, Decision};

/// Default and largest number of incident points per response.
pub const INCIDENT_LIMIT_DEFAULT: u64 = 5_000;
/// Largest number of incident points a caller may ask for.
pub const INCIDENT_LIMIT_MAX: u64 = 20_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/places", get(get_places))
        .route("/api/v1/schools", get(get_schools))
        .route("/api/v1/stops", get(get_stops))
        .route("/api/v1/routes", get(get_routes))
        .route("/api/v1/services", get(get_services))
        .route("/api/v1/incidents", get(get_incidents))
        .route("/api/v1/boundaries", get(get_boundaries))
}

fn geojson(body: String) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/geo+json")], body)
}

fn bbox_only(params: &Params) -> ApiResult<Bbox> {
    params.only(&["bbox"])?;
    Ok(params.bbox()?.unwrap_or_else(study_area))
}

/// The shared shape of the bbox-only layers: validate, then build the collection on the
/// blocking pool from the current snapshot.
async fn bbox_layer(
    state: AppState,
    params: Params,
    build: fn(&crate::index::Snapshot, Bbox) -> String,
) -> ApiResult<impl IntoResponse> {
    let bbox = bbox_only(&params)?;
    let snap = state.snapshot();
    let body = blocking(move || Ok(build(&snap, bbox))).await?;
    Ok(geojson(body))
}

/// A collection of `items`, each written with its geometry and properties.
fn collection<T>(
    items: impl ExactSizeIterator<Item = T>,
    bytes_each: usize,
    mut feature: impl FnMut(&mut FeatureWriter, T),
) -> String {
    let mut w = FeatureWriter::new(items.len() * bytes_each);
    for item in items {
        feature(&mut w, item);
    }
    w.finish(&serde_json::Map::new())
}

async fn get_places(State(state): State<AppState>, params: Params) -> ApiResult<impl IntoResponse> {
    bbox_layer(state, params, |snap, bbox| {
        collection(snap.places.in_bbox(bbox).into_iter(), 256, |w, p| {
            let props = json!({
                "id": p.id, "kind": p.kind, "name": p.name, "guardians": p.guardians,
                "review_due": p.review_due, "agency": p.provenance.agency,
            });
            w.feature(|o| push_point(o, p.location), &props);
        })
    })
    .await
}

async fn get_schools(
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<impl IntoResponse> {
    bbox_layer(state, params, |snap, bbox| {
        // Closed establishments stay in the store for history; the layer shows open schools.
        let open: Vec<_> = snap
            .schools
            .in_bbox(bbox)
            .into_iter()
            .filter(|s| s.open)
            .collect();
        collection(open.into_iter(), 160, |w, s| {
            let props =
                json!({"urn": s.urn, "name": s.name, "phase": s.phase, "la_code": s.la_code});
            w.feature(|o| push_point(o, s.location), &props);
        })
    })
    .await
}

async fn get_stops(State(state): State<AppState>, params: Params) -> ApiResult<impl IntoResponse> {
    bbox_layer(state, params, |snap, bbox| {
        // Inactive NaPTAN stops are kept but not drawn.
        let active: Vec<_> = snap
            .stops
            .in_bbox(bbox)
            .into_iter()
            .filter(|s| s.active)
            .collect();
        collection(active.into_iter(), 128, |w, s| {
            w.feature(
                |o| push_point(o, s.location),
                &json!({"id": s.id, "name": s.name}),
            );
        })
    })
    .await
}

async fn get_routes(State(state): State<AppState>, params: Params) -> ApiResult<impl IntoResponse> {
    bbox_layer(state, params, |snap, bbox| {
        collection(snap.routes.in_bbox(bbox).into_iter(), 4096, |w, r| {
            let props = json!({
                "id": r.id, "short_name": r.short_name, "long_name": r.long_name, "mode": r.mode,
                "stops": r.stops.len(),
            });
            w.feature(|o| push_line(o, &r.line), &props);
        })
    })
    .await
}

async fn get_services(
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<impl IntoResponse> {
    bbox_layer(state, params, |snap, bbox| {
        collection(snap.services.in_bbox(bbox).into_iter(), 200, |w, s| {
            let props = json!({"id": s.id, "name": s.name, "tier": s.tier, "kind": s.kind, "provider": s.provider});
            w.feature(|o| push_point(o, s.location), &props);
        })
    })
    .await
}

/// Incident points. Incidents involving a child are never returned as points: their raw
/// coordinates do not leave the server (safeguards.md S21); they are reported in
/// `withheld_child_incidents` per res-7 cell and whole month, through the disclosure control
/// (`super::withheld`), and appear in the hexagon aggregates. A request whose report covers a
/// cell holding such an incident is audited (a consultation with the query).
async fn get_incidents(
    State(state): State<AppState>,
    auth: Authorised,
    params: Params,
) -> ApiResult<impl IntoResponse> {
    params.only(&["bbox", "from", "to", "category", "limit"])?;
    let bbox = params
        .bbox()?
        .ok_or_else(|| ApiError::invalid("bbox", "required for incident points"))?;
    if bbox.area_deg2() > 0.05 {
        return Err(ApiError::invalid(
            "bbox",
            "at most 0.05 square degrees for incident points; use /api/v1/hexagons",
        ));
    }
    let snap = state.snapshot();
    let default_window = snap
        .incidents
        .day_range()
        .and_then(|(a, b)| TimeWindow::new(a, b).ok())
        .unwrap_or_else(TimeWindow::all);
    let window = params.window(default_window)?;
    let category = params.category()?;
    let limit = params.int_in("limit", 1..=INCIDENT_LIMIT_MAX, INCIDENT_LIMIT_DEFAULT)? as usize;
    let policy = state.disclosure;
    let (body, children_behind) = blocking(move || {
        // Ask for one more than the limit to report truncation after filtering children out.
        let (hits, _) = snap
            .incidents
            .incidents_in_bbox(bbox, window, category, usize::MAX);
        let mut w = FeatureWriter::new(limit.min(hits.len()) * 160);
        let mut truncated = false;
        for h in &hits {
            if h.involves_child {
                continue;
            }
            if w.len() == limit {
                truncated = true;
                continue;
            }
            let props = format!(
                r#"{{"id":{},"category":"{}","date":"{}"}}"#,
                h.id,
                h.category.slug(),
                h.day
            );
            w.feature_raw(
                |o| {
                    o.push_str(r#"{"type":"Point","coordinates":"#);
                    push_position(o, h.lon, h.lat);
                    o.push('}');
                },
                &props,
            );
        }
        let mut extra = serde_json::Map::new();
        extra.insert("truncated".to_owned(), json!(truncated));
        let (withheld, children_behind) =
            super::withheld::report(&snap, bbox, window, category, &policy);
        extra.insert("withheld_child_incidents".to_owned(), withheld);
        Ok((w.finish(&extra), children_behind))
    })
    .await?;
    if children_behind {
        // The response carries figures derived from incidents involving children: record who
        // asked for which place and months (the log syncs each append, so requests whose cells
        // hold no such incident are not recorded).
        let mut event = auth.audit_event(AuditEventType::Consultation, Decision::Allow);
        event.query = json!({"route": "/api/v1/incidents", "bbox": bbox.to_string(),
                             "from": window.from(), "to": window.to(),
                             "category": category.map(crate::domain::Category::slug),
                             "withheld_child_incidents": true});
        state.audit_append(event).await?;
    }
    Ok(geojson(body))
}

async fn get_boundaries(
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<impl IntoResponse> {
    params.only(&["scheme", "bbox"])?;
    let snap = state.snapshot();
    let scheme = params
        .get("scheme")
        .ok_or_else(|| ApiError::invalid("scheme", "required"))?
        .to_owned();
    if !snap.boundaries.has_scheme(&scheme) {
        let known: Vec<&str> = snap.boundaries.schemes().collect();
        return Err(ApiError::invalid(
            "scheme",
            format!("unknown scheme; known: {}", known.join(", ")),
        ));
    }
    let bbox = params.bbox()?.unwrap_or_else(study_area);
    let body = blocking(move || {
        let items = snap.boundaries.in_bbox(&scheme, bbox);
        let mut w = FeatureWriter::new(items.len() * 8192);
        for b in items {
            let geom = serde_json::to_string(&geojson::Geometry::new(geojson::GeometryValue::from(&b.geometry)))
                .map_err(ApiError::internal)?;
            let props = json!({"scheme": b.scheme, "code": b.code, "name": b.name, "youth_population": b.youth_population});
            w.feature(|o| o.push_str(&geom), &props);
        }
        Ok(w.finish(&serde_json::Map::new()))
    })
    .await?;
    Ok(geojson(body))
}
