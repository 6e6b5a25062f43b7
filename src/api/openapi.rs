//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the HTTP API.
//!
//! Written by hand from the same constants the handlers use; an integration test checks that
//! every path listed here answers and that every served `/api/v1` path is listed.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::AppState;
use super::features::{INCIDENT_LIMIT_DEFAULT, INCIDENT_LIMIT_MAX};
use super::hexagons::MAX_CELLS;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(|| async { Json(document()) }))
}

fn param(name: &str, required: bool, schema: &Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": required, "schema": schema, "description": description})
}

fn geojson_response(description: &str) -> Value {
    json!({
        "200": {"description": description, "content": {"application/geo+json": {"schema": {"$ref": "#/components/schemas/FeatureCollection"}}}},
        "400": {"description": "invalid parameter", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    })
}

/// The OpenAPI document.
pub fn document() -> Value {
    let bbox = param(
        "bbox",
        false,
        &json!({"type": "string", "pattern": "^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$"}),
        "minLon,minLat,maxLon,maxLat (WGS84); defaults to the study area",
    );
    let from = param(
        "from",
        false,
        &json!({"type": "string", "format": "date"}),
        "first day, inclusive (YYYY-MM-DD)",
    );
    let to = param(
        "to",
        false,
        &json!({"type": "string", "format": "date"}),
        "last day, inclusive (YYYY-MM-DD)",
    );
    let category = param(
        "category",
        false,
        &json!({"type": "string"}),
        "category slug from /api/v1/meta",
    );
    let bbox_only = |what: &str| json!({"get": {"summary": what, "parameters": [bbox.clone()], "responses": geojson_response(what)}});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "saferplaces", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Contextual-safeguarding spatial intelligence. Aggregate and place-level data only; no person-level endpoint exists in this version."},
        "paths": {
            "/health": {"get": {"summary": "liveness and data version", "responses": {"200": {"description": "ok"}}}},
            "/api/v1/meta": {"get": {"summary": "bounds, data span, categories, schemes", "responses": {"200": {"description": "metadata"}}}},
            "/api/v1/openapi.json": {"get": {"summary": "this document", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
            "/api/v1/hexagons": {"get": {
                "summary": "incident counts per H3 cell whose centre lies in bbox",
                "parameters": [
                    param("res", false, &json!({"type": "integer", "minimum": 5, "maximum": 10, "default": 8}), "H3 resolution"),
                    bbox.clone(), from.clone(), to.clone(), category.clone()
                ],
                "responses": geojson_response(&format!("Polygon features with properties h3 (string), count; at most {MAX_CELLS} cells"))
            }},
            "/api/v1/incidents": {"get": {
                "summary": "incident points (never incidents involving a child)",
                "parameters": [
                    param("bbox", true, &json!({"type": "string"}), "minLon,minLat,maxLon,maxLat, at most 0.05 square degrees"),
                    from, to, category,
                    param("limit", false, &json!({"type": "integer", "minimum": 1, "maximum": INCIDENT_LIMIT_MAX, "default": INCIDENT_LIMIT_DEFAULT}), "most points returned")
                ],
                "responses": geojson_response("Point features with properties id, category, date; members truncated, withheld_child_incidents")
            }},
            "/api/v1/places": bbox_only("places of concern"),
            "/api/v1/schools": bbox_only("schools"),
            "/api/v1/stops": bbox_only("transport stops"),
            "/api/v1/routes": bbox_only("transport routes as lines"),
            "/api/v1/services": bbox_only("youth services with their tier"),
            "/api/v1/boundaries": {"get": {
                "summary": "boundaries of one scheme",
                "parameters": [param("scheme", true, &json!({"type": "string"}), "lad, ward, locality_police, locality_social_care"), bbox],
                "responses": geojson_response("(Multi)Polygon features with properties scheme, code, name, youth_population")
            }}
        },
        "components": {"schemas": {
            "FeatureCollection": {"type": "object", "required": ["type", "features"],
                "properties": {"type": {"const": "FeatureCollection"}, "features": {"type": "array", "items": {"type": "object"}}}},
            "Error": {"type": "object", "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "field": {"type": "string"}, "message": {"type": "string"}}}
        }}
    })
}
