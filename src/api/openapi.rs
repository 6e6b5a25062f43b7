//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the HTTP API.
//!
//! Written by hand from the same constants the handlers use; an integration test checks that
//! every path listed here answers and that every served `/api/v1` path is listed.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::AppState;
use super::auth::ENDPOINTS;
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

/// The OpenAPI document, with each path's data class as `x-data-class`.
pub fn document() -> Value {
    let mut doc = base_document();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        add_tile_paths(paths);
        for (path, item) in paths.iter_mut() {
            let class = ENDPOINTS
                .iter()
                .find(|(p, _)| p == path)
                .and_then(|(_, c)| *c);
            if let Some(get) = item.get_mut("get").and_then(Value::as_object_mut) {
                get.insert(
                    "x-data-class".to_owned(),
                    json!(class.map_or("none".to_owned(), |c| format!("{c:?}"))),
                );
            }
        }
    }
    doc
}

/// `/api/v1/layers` and, per tile layer, its TileJSON and tile paths.
fn add_tile_paths(paths: &mut serde_json::Map<String, Value>) {
    paths.insert(
        "/api/v1/layers".to_owned(),
        json!({"get": {"summary": "the tile layers the caller's role may see, with TileJSON URLs",
                       "responses": {"200": {"description": "layers"}}}}),
    );
    for spec in crate::tiles::sources::LAYERS {
        let mut params = vec![param(
            "v",
            false,
            &json!({"type": "integer"}),
            "data version (cache buster; ignored)",
        )];
        if spec.temporal {
            params.push(param(
                "from",
                false,
                &json!({"type": "string", "format": "date"}),
                "first day (aggregate roles: widened to the month)",
            ));
            params.push(param(
                "to",
                false,
                &json!({"type": "string", "format": "date"}),
                "last day (aggregate roles: widened to the month)",
            ));
            params.push(param(
                "category",
                false,
                &json!({"type": "string"}),
                "category slug",
            ));
        }
        if spec.name == "boundaries" {
            params.push(param(
                "scheme",
                false,
                &json!({"type": "string", "default": "lad"}),
                "boundary scheme",
            ));
        }
        let coord = |name: &str| json!({"name": name, "in": "path", "required": true, "schema": {"type": "integer", "minimum": 0}});
        let mut tile_params = vec![coord("z"), coord("x"), coord("y")];
        tile_params.extend(params.iter().cloned());
        paths.insert(
            format!("/tiles/{}.json", spec.name),
            json!({"get": {"summary": format!("TileJSON 3.0.0 of the {} layer: {}", spec.name, spec.description),
                           "parameters": params,
                           "responses": {"200": {"description": "TileJSON"}}}}),
        );
        paths.insert(
            format!("/tiles/{}/{{z}}/{{x}}/{{y}}", spec.name),
            json!({"get": {"summary": format!("Mapbox Vector Tile of the {} layer (zoom {}-{})", spec.name, spec.minzoom, spec.maxzoom),
                           "parameters": tile_params,
                           "responses": {
                               "200": {"description": "tile", "content": {"application/vnd.mapbox-vector-tile": {}}},
                               "204": {"description": "empty tile"},
                               "304": {"description": "not modified (If-None-Match)"},
                               "400": {"description": "invalid z, x, y or parameter"}}}}),
        );
    }
}

fn base_document() -> Value {
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
    let person_headers = json!([
        {"name": "X-Purpose", "in": "header", "required": true, "description": "lawful purpose",
         "schema": {"type": "string", "enum": ["safeguarding_children", "disrupting_exploitation", "mace_panel"]}},
        {"name": "X-Case-Ref", "in": "header", "required": true, "description": "case or MACE meeting reference; a police analyst must be assigned to the case",
         "schema": {"type": "string", "pattern": "^[A-Za-z0-9/_-]{3,40}$"}},
        {"name": "X-Legal-Basis", "in": "header", "required": true,
         "description": "the legal basis of this read; it must cover the purpose (recorded in the audit log)",
         "schema": {"type": "string", "enum": crate::domain::LegalBasis::ALL.iter().map(|b| b.code()).collect::<Vec<_>>()}},
        {"name": "X-Justification", "in": "header", "required": false,
         "description": "why this read is needed (recorded in the audit log; at least 30 characters with X-Break-Glass)",
         "schema": {"type": "string", "maxLength": 1000}},
        {"name": "X-Break-Glass", "in": "header", "required": false,
         "description": "declare emergency access to a case you are not assigned to: allowed, flagged in the audit record, raises an alert, limited per day",
         "schema": {"type": "string", "enum": ["true", "1", "yes"]}}
    ]);
    let with_id = |headers: &Value| {
        let mut v = headers.as_array().cloned().unwrap_or_default();
        v.push(json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^P[0-9a-f]{8,16}$"}}));
        Value::Array(v)
    };
    let person_responses = json!({
        "200": {"description": "person-level data with allowlisted fields only",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PersonResponse"}}}},
        "401": {"description": "no, invalid, expired or revoked token"},
        "403": {"description": "role, purpose, legal basis, case assignment, subject or sharing agreement not permitted (logged)"},
        "428": {"description": "X-Purpose, X-Case-Ref or X-Legal-Basis missing, or break-glass without a justification (logged)"},
        "429": {"description": "the caller's budget of people per hour or break-glass reads per day is spent, or this address made too many refused requests; see Retry-After (logged, with an alert)"}
    });
    let bbox_only = |what: &str| json!({"get": {"summary": what, "parameters": [bbox.clone()], "responses": geojson_response(what)}});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "saferplaces", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Contextual-safeguarding spatial intelligence. Places, never children: no score, rank or rating exists on any person. Person-level data needs a role, a purpose and a case reference, and every read is audited."},
        "security": [{"bearer": []}, {}],
        "paths": {
            "/health": {"get": {"summary": "liveness and data version", "responses": {"200": {"description": "ok"}}}},
            "/api/v1/meta": {"get": {"summary": "bounds, data span, categories, schemes", "responses": {"200": {"description": "metadata"}}}},
            "/api/v1/openapi.json": {"get": {"summary": "this document", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
            "/api/v1/hexagons": {"get": {
                "summary": "incident counts per H3 cell whose centre lies in bbox",
                "parameters": [
                    param("res", false, &json!({"type": "integer", "minimum": 5, "maximum": 10, "default": 8}), "H3 resolution; public and planner: at most 8, and at most 7 (the default) for a child category, a finer res is refused with 400 on res"),
                    bbox.clone(), from.clone(), to.clone(), category.clone()
                ],
                "responses": {
                    "200": {"description": format!("Polygon features with properties h3 (string), count, suppressed; at most {MAX_CELLS} cells. Public and planner, child category: every study-area cell in bbox, a zero shown as suppressed"),
                            "content": {"application/geo+json": {"schema": {"$ref": "#/components/schemas/FeatureCollection"}}}},
                    "400": {"description": "invalid parameter, or (public and planner) res finer than 8, or than 7 for a child category (field res)",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
            }},
            "/api/v1/hotspots": {"get": {
                "summary": "Getis-Ord Gi* hot and cold spots per H3 cell over the four authorities (binary weights, k = 1 ring, ArcGIS FDR bins)",
                "parameters": [
                    param("res", false, &json!({"type": "integer", "minimum": 6, "maximum": 9, "default": 8}), "H3 resolution; public and planner: at most 8, and at most 7 (the default) for a child category"),
                    bbox.clone(), from.clone(), to.clone(), category.clone()
                ],
                "responses": {
                    "200": {"description": "settings echoed; cells with bin != 0: h3, bin, count (aggregate roles: protected count and suppressed), z and p (analysts)"},
                    "400": {"description": "invalid parameter, or (public and planner) res finer than the cap (field res)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
            }},
            "/api/v1/emerging": {"get": {
                "summary": "emerging hot spot categories per H3 cell (space-time Gi* with FDR across the cube, Mann-Kendall, the 17 categories)",
                "parameters": [
                    param("res", false, &json!({"type": "integer", "minimum": 6, "maximum": 9, "default": 8}), "H3 resolution; public and planner: at most 8, and at most 7 (the default) for a child category"),
                    param("step", false, &json!({"type": "string", "enum": ["month", "week"], "default": "month"}), "cube step (aggregate roles: month)"),
                    bbox.clone(), from.clone(), to.clone(), category.clone()
                ],
                "responses": {
                    "200": {"description": "settings, steps, summary, warnings; cells with a pattern: h3, code, label, count (aggregate roles: protected count and suppressed only), n_hot, n_cold, final_z, trend (analysts)"},
                    "400": {"description": "invalid parameter, or (public and planner) res finer than the cap (field res)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
            }},
            "/api/v1/risk-windows": {"get": {
                "summary": "near-repeat risk windows: H3 cells and days of elevated risk after recent incidents, from Knox-significant space-time bands",
                "parameters": [
                    param("as_of", false, &json!({"type": "string", "format": "date"}), "the day the layer is for (default: the last day with an incident known to the day); public and planner: snapped to the first day of its month"),
                    category.clone()
                ],
                "responses": {
                    "200": {"description": "settings, as_of, bands, warnings; windows: h3, from, to, knox_ratio, incidents (analysts, res 9) or h3, from, to (whole calendar months), knox_ratio (aggregate roles, res 7, as_of snapped to the 1st, no counts)"},
                    "400": {"description": "invalid parameter", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
            }},
            "/api/v1/areas/compare": {"get": {
                "summary": "two areas of one scheme side by side: incidents, rate per 1,000 young people, monthly trend",
                "parameters": [
                    param("scheme", true, &json!({"type": "string"}), "boundary scheme, e.g. lad, ward, locality_police"),
                    param("a", true, &json!({"type": "string"}), "first area code"),
                    param("b", true, &json!({"type": "string"}), "second area code"),
                    from.clone(), to.clone(), category.clone()
                ],
                "responses": {
                    "200": {"description": "areas with incidents {count, suppressed}, rate_per_1000_youth, monthly, trend_per_month; months; total; disclosure (aggregate roles: protected table, whole months)"},
                    "400": {"description": "invalid parameter", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
            }},
            "/api/v1/incidents": {"get": {
                "summary": "incident points (never incidents involving a child)",
                "parameters": [
                    param("bbox", true, &json!({"type": "string"}), "minLon,minLat,maxLon,maxLat, at most 0.05 square degrees"),
                    from, to, category,
                    param("limit", false, &json!({"type": "integer", "minimum": 1, "maximum": INCIDENT_LIMIT_MAX, "default": INCIDENT_LIMIT_DEFAULT}), "most points returned")
                ],
                "responses": geojson_response("Point features with properties id, category, date; members truncated and withheld_child_incidents: {rule, res: 7, from, to (whole months), category, min_count, cells: [{h3, count, suppressed}]}, one entry per res-7 cell that may touch bbox, counted over the whole cell, below min_count (zero included) suppressed; a request whose cells hold such an incident is audited")
            }},
            "/api/v1/places": bbox_only("places of concern"),
            "/api/v1/schools": bbox_only("schools"),
            "/api/v1/stops": bbox_only("transport stops"),
            "/api/v1/routes": bbox_only("transport routes as lines"),
            "/api/v1/services": bbox_only("youth services with their tier"),
            "/api/v1/people": {"get": {
                "summary": "people in the scope of the case or MACE meeting in X-Case-Ref (person-level; audited)",
                "parameters": person_headers.clone(),
                "responses": person_responses.clone()
            }},
            "/api/v1/people/{id}": {"get": {
                "summary": "one person in scope, with the fields the role and purpose allow (audited)",
                "parameters": with_id(&person_headers),
                "responses": person_responses.clone()
            }},
            "/api/v1/people/{id}/links": {"get": {
                "summary": "a person's links to people in scope, places and incidents; never peer links (audited)",
                "parameters": with_id(&person_headers),
                "responses": person_responses.clone()
            }},
            "/api/v1/audit": {"get": {
                "summary": "the audit log, for auditors (reading it is logged)",
                "parameters": [
                    {"name": "X-Purpose", "in": "header", "required": true, "schema": {"type": "string", "enum": ["audit_lawfulness", "audit_self_monitoring", "audit_integrity", "audit_criminal_proceedings"]}},
                    param("since_seq", false, &json!({"type": "integer", "minimum": 0}), "entries after this sequence number"),
                    param("event_type", false, &json!({"type": "string"}), "collection, alteration, consultation, disclosure, combination, erasure, audit_read or alert"),
                    param("subject_id", false, &json!({"type": "string"}), "entries about this person reference"),
                    param("decision", false, &json!({"type": "string", "enum": ["allow", "deny"]}), "allowed or refused"),
                    param("limit", false, &json!({"type": "integer", "minimum": 1, "maximum": 10000}), "most entries")
                ],
                "responses": {"200": {"description": "entries, each with seq, hash and event"}}
            }},
            "/api/v1/audit/alerts": {"get": {
                "summary": "anomaly alerts (budgets spent, break-glass reads), for auditors (reading them is logged)",
                "parameters": [
                    {"name": "X-Purpose", "in": "header", "required": true, "schema": {"type": "string", "enum": ["audit_lawfulness", "audit_self_monitoring", "audit_integrity", "audit_criminal_proceedings"]}},
                    param("since_seq", false, &json!({"type": "integer", "minimum": 0}), "alerts after this sequence number"),
                    param("limit", false, &json!({"type": "integer", "minimum": 1, "maximum": 10000}), "most alerts")
                ],
                "responses": {"200": {"description": "alerts, each with seq, ts_utc, user, org, role, rule, window_s, count, limit, case_ref, route"}}
            }},
            "/api/v1/equality/latest": {"get": {
                "summary": "the latest month of the S22 disproportionality monitor, for the equality_monitor role only (reading it is logged); counts disclosure-controlled, RRI and interval suppressed with their counts",
                "parameters": [
                    {"name": "X-Purpose", "in": "header", "required": true, "schema": {"type": "string", "enum": ["equality_monitoring"]}}
                ],
                "responses": {"200": {"description": "month, results (population, dimension, group, reference, group_monitored, group_baseline, reference_monitored, reference_baseline, rri, ci, flagged, suppressed, no_estimate) and open_alerts"}}
            }},
            "/api/v1/boundaries": {"get": {
                "summary": "boundaries of one scheme",
                "parameters": [param("scheme", true, &json!({"type": "string"}), "lad, ward, locality_police, locality_social_care"), bbox],
                "responses": geojson_response("(Multi)Polygon features with properties scheme, code, name, youth_population")
            }}
        },
        "components": {
          "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
              "description": "a token from `saferplaces user add`; anonymous requests are the public role"}},
          "schemas": {
            "FeatureCollection": {"type": "object", "required": ["type", "features"],
                "properties": {"type": {"const": "FeatureCollection"}, "features": {"type": "array", "items": {"type": "object"}}}},
            "Person": {"type": "object", "additionalProperties": false, "properties": {
                "id": {"type": "string"}, "birth_year": {"type": "integer"}, "age_band": {"type": "string"},
                "categories": {"type": "array", "items": {"type": "string", "enum": ["victim", "child_at_risk_of_exploitation", "witness", "suspected_exploiter_adult", "suspect", "convicted", "professional_other"]}},
                "source": {"type": "string"}, "review_due": {"type": "string", "format": "date"}}},
            "Link": {"type": "object", "additionalProperties": false, "properties": {
                "id": {"type": "integer"}, "kind": {"type": "string"}, "to": {"type": "object"},
                "categories": {"type": "array", "items": {"type": "string"}}, "grade": {"type": "string"},
                "handling_code": {"type": "string"}, "source": {"type": "string"}, "review_due": {"type": "string", "format": "date"}}},
            "PersonResponse": {"oneOf": [
                {"$ref": "#/components/schemas/Person"},
                {"type": "object", "properties": {"people": {"type": "array", "items": {"$ref": "#/components/schemas/Person"}}}},
                {"type": "object", "properties": {"links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}, "withheld": {"type": "integer"}}}
            ]},
            "Error": {"type": "object", "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "field": {"type": "string"}, "message": {"type": "string"}}}
        }}
    })
}
