//! The document's completeness (issue 14, point 6): every operation has an `operationId`, a
//! success response with a schema, and every error status its handler can answer, from a
//! table written here by reading the handlers (not from `error_statuses`, which builds the
//! document); every route of the policy table is documented and nothing else is.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::*;

/// Every error status each operation can answer, read from its handler and the layers in
/// front of it: the connection layer and timeout (408, 413, 503 `TOO_MANY_CONNECTIONS`) for
/// all; `Params` (400) for every handler taking a query; the policy layer (401, 403, 429
/// `TOO_MANY_REFUSALS`, 503 `AUDIT_LOG_READ_ONLY` when a refusal cannot be logged) for every
/// route with a data class, and 500 (an audit record that cannot be written for another
/// reason than a read-only directory, a failed blocking task, the equality store); 428 where
/// a purpose, case reference or legal basis is demanded; person reads also 403 and 429 from
/// scope and budgets.
fn expected_errors() -> BTreeMap<String, Vec<u16>> {
    const INFRA: &[u16] = &[408, 413, 503];
    const DATA: &[u16] = &[400, 401, 403, 408, 413, 429, 500, 503];
    const PURPOSE: &[u16] = &[400, 401, 403, 408, 413, 428, 429, 500, 503];
    // Analyses behind the admission layer (`api::admission`): 422 TOO_EXPENSIVE and 503 BUSY.
    const ADMITTED: &[u16] = &[400, 401, 403, 408, 413, 422, 429, 500, 503];
    let mut t: BTreeMap<String, Vec<u16>> = [
        ("getHealth", INFRA),
        ("getOpenApi", INFRA),
        ("getMeta", DATA),
        ("getHexagons", DATA),
        ("getHotspots", ADMITTED),
        ("getEmerging", ADMITTED),
        ("getRiskWindows", ADMITTED),
        ("compareAreas", ADMITTED),
        ("getIncidents", DATA),
        ("getPlaces", DATA),
        ("getSchools", DATA),
        ("getStops", DATA),
        ("getRoutes", DATA),
        ("getServices", DATA),
        ("getBoundaries", DATA),
        ("listTileLayers", DATA),
        ("listPeople", PURPOSE),
        ("getPerson", PURPOSE),
        ("getPersonLinks", PURPOSE),
        ("readAuditLog", PURPOSE),
        ("readAuditAlerts", PURPOSE),
        ("getEqualityLatest", PURPOSE),
    ]
    .into_iter()
    .map(|(id, s)| (id.to_owned(), s.to_vec()))
    .collect();
    for layer in [
        "Hexagons",
        "Hotspots",
        "Emerging",
        "Risk",
        "Incidents",
        "Places",
        "Schools",
        "Routes",
        "Stops",
        "Services",
        "Boundaries",
        "Crossborder",
    ] {
        t.insert(format!("get{layer}TileJson"), DATA.to_vec());
        let analysis = matches!(layer, "Hotspots" | "Emerging" | "Risk");
        t.insert(
            format!("get{layer}Tile"),
            if analysis { ADMITTED } else { DATA }.to_vec(),
        );
    }
    t
}

/// Every (path, method, operation) of `doc`.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            out.push((path.clone(), method.clone(), op.clone()));
        }
    }
    out
}

/// `value` with a `$ref` followed (one level, which is all the document uses).
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or(&Value::Null),
        None => value,
    }
}

#[test]
fn every_operation_has_a_unique_operation_id() {
    let doc = document();
    let mut seen = BTreeSet::new();
    for (path, method, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap_or_default();
        assert!(!id.is_empty(), "{method} {path} has no operationId");
        assert!(seen.insert(id.to_owned()), "operationId {id} twice");
    }
}

#[test]
fn every_operation_declares_the_errors_its_handler_can_answer() {
    let doc = document();
    let table = expected_errors();
    let ops = operations(&doc);
    let ids: BTreeSet<String> = ops
        .iter()
        .map(|(_, _, op)| op["operationId"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        ids,
        table.keys().cloned().collect(),
        "the table and the document name different operations"
    );
    for (path, _, op) in &ops {
        let id = op["operationId"].as_str().unwrap_or_default();
        for status in &table[id] {
            let declared = &op["responses"][status.to_string()];
            assert!(
                !declared.is_null(),
                "{id} ({path}) does not declare {status}"
            );
            let response = resolve(&doc, declared);
            assert!(
                response["description"].is_string(),
                "{id}: {status} does not resolve: {declared}"
            );
            if *status != 408 {
                let schema = &response["content"]["application/json"]["schema"];
                assert_eq!(
                    schema["allOf"][0]["$ref"], "#/components/schemas/Error",
                    "{id}: {status} has no error schema"
                );
            }
        }
    }
}

#[test]
fn every_success_response_has_a_schema() {
    let doc = document();
    for (path, _, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap_or_default();
        let ok = &op["responses"]["200"];
        let content = ok["content"].as_object();
        assert!(
            content.is_some_and(|c| !c.is_empty()),
            "{id} ({path}): 200 without content"
        );
        for (media, body) in content.into_iter().flatten() {
            let schema = resolve(&doc, &body["schema"]);
            assert!(
                schema.is_object() && schema.as_object().is_some_and(|s| !s.is_empty()),
                "{id}: {media} without a schema"
            );
            let expected =
                if path.starts_with("/tiles/") && !path.to_ascii_lowercase().ends_with(".json") {
                    "application/vnd.mapbox-vector-tile"
                } else if schema == &doc["components"]["schemas"]["FeatureCollection"] {
                    "application/geo+json"
                } else {
                    "application/json"
                };
            assert_eq!(media, expected, "{id}");
        }
    }
}

#[test]
fn every_reference_resolves_and_every_parameter_has_a_schema() {
    fn walk(doc: &Value, v: &Value, at: &str) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    assert!(
                        doc.pointer(r.trim_start_matches('#')).is_some(),
                        "{at}: {r} does not resolve"
                    );
                }
                for (k, v) in m {
                    walk(doc, v, &format!("{at}/{k}"));
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(doc, v, at)),
            _ => {}
        }
    }
    let doc = document();
    walk(&doc, &doc, "");
    for (path, _, op) in operations(&doc) {
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        for p in &params {
            assert!(p["schema"]["type"].is_string(), "{path}: {p}");
            assert!(
                p["description"].is_string() || p["in"] == "path",
                "{path}: {p}"
            );
        }
        // Each {name} in the path is a declared, required path parameter.
        for name in path.split('{').skip(1).filter_map(|s| s.split('}').next()) {
            assert!(
                params
                    .iter()
                    .any(|p| p["in"] == "path" && p["name"] == name && p["required"] == true),
                "{path}: path parameter {name} not declared"
            );
        }
    }
}

#[test]
fn the_document_lists_exactly_the_routes_of_the_policy_table() {
    // The policy layer refuses any route missing from ENDPOINTS, so a route served at all is
    // one of these; the integration test `endpoints::the_openapi_document_lists_every_endpoint
    // _and_each_answers` checks that each documented path answers.
    let doc = document();
    let documented: BTreeSet<&str> = doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(p, _)| p.as_str())
        .collect();
    let routes: BTreeSet<&str> = ENDPOINTS.iter().map(|(p, _)| *p).collect();
    assert_eq!(documented, routes);
}

#[test]
fn servers_licence_and_security_are_declared() {
    let doc = document_for("http://example.test:1", &["lad"]);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], "http://example.test:1");
    assert_eq!(doc["info"]["license"]["identifier"], "AGPL-3.0-or-later");
    assert_eq!(
        doc["paths"]["/api/v1/boundaries"]["get"]["parameters"][0]["schema"]["enum"],
        serde_json::json!(["lad"])
    );
    // Place- and person-level operations need a token; infrastructure needs none.
    for (path, needs) in [
        ("/api/v1/people/{id}", true),
        ("/api/v1/incidents", true),
        ("/api/v1/hexagons", false),
        ("/health", false),
    ] {
        let security = &doc["paths"][path]["get"]["security"];
        assert_eq!(
            security == &serde_json::json!([{"bearer": []}]),
            needs,
            "{path}: {security}"
        );
    }
}

#[test]
fn the_error_codes_match_the_statuses_the_policy_answers_with() {
    let doc = document();
    let responses = &doc["components"]["responses"];
    for (name, status) in [
        ("Unauthorized", 401),
        ("Forbidden", 403),
        ("PreconditionRequired", 428),
        ("TooManyRequests", 429),
    ] {
        let codes = &responses[name]["content"]["application/json"]["schema"]["allOf"][1]["properties"]
            ["error"]["enum"];
        assert!(
            codes.as_array().is_some_and(|c| !c.is_empty()),
            "{name}: {codes}"
        );
        for code in codes.as_array().into_iter().flatten() {
            let code = code.as_str().unwrap_or_default();
            assert!(
                deny_codes(status).contains(&code),
                "{name} lists {code}, not a {status}"
            );
        }
    }
    let unavailable = responses["ServiceUnavailable"].to_string();
    assert!(
        unavailable.contains("TOO_MANY_CONNECTIONS") && unavailable.contains("AUDIT_LOG_READ_ONLY")
    );
    assert!(
        responses["BodyTooLarge"]
            .to_string()
            .contains("BODY_TOO_LARGE")
    );
}
