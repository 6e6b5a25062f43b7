//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the HTTP API.
//!
//! Written by hand from the same constants the handlers use, with helpers so that every
//! operation carries an `operationId`, its success response with a schema, and every error
//! status its handler and the layers in front of it can answer (see [`error_statuses`]); the
//! unit tests in `openapi_tests.rs` hold an independent table of those statuses, read from the
//! handlers, and fail when the document leaves one out. `saferplaces openapi` writes the same
//! document; `make test` lints it (Redocly) and runs schemathesis against a live server.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::AppState;
use super::auth::ENDPOINTS;
use super::features::{INCIDENT_LIMIT_DEFAULT, INCIDENT_LIMIT_MAX};
use super::hexagons::MAX_CELLS;
use crate::domain::{Authority, Role};
use crate::domain::{Category, LegalBasis, PurposeCode};
use crate::safeguards::policy::role_may_read;
use crate::safeguards::policy::{DataClass, DenyReason};
use crate::tiles::registry::{TileQuery, tile_routes};

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// The server a document written outside a running server names (the default address).
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// The boundary schemes the demo data holds; a served document lists the store's own.
pub const DEFAULT_SCHEMES: &[&str] = &["lad", "locality_police", "locality_social_care", "ward"];

pub fn router() -> Router<AppState> {
    Router::new().route(OPENAPI_PATH, get(get_openapi))
}

/// The document for this server: its own origin in `servers`, its own schemes.
async fn get_openapi(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    let snap = state.snapshot();
    let schemes: Vec<&str> = snap.boundaries.schemes().collect();
    Json(document_for(&super::tiles::origin(&headers), &schemes))
}

/// The document as `saferplaces openapi` writes it: the default server and schemes.
pub fn document() -> Value {
    document_for(DEFAULT_SERVER, DEFAULT_SCHEMES)
}

/// Error statuses every operation can answer, whatever its handler: `408` from the request
/// timeout, `413` from the body limit and `503` when the connection cap is reached
/// (`TOO_MANY_CONNECTIONS`, issue 14 point 2).
const CONNECTION_STATUSES: &[u16] = &[408, 413, 503];

/// Error statuses of an operation whose work runs through the admission layer
/// (`api::admission`, issue 14 point 1): `422` (`TOO_EXPENSIVE`) and `503` (`BUSY`, with
/// `Retry-After`).
const ADMISSION_STATUSES: &[u16] = &[422, 503];

/// The error statuses of an operation on a route of `class` whose handler parses query
/// parameters when `params` is true: the connection layer's, `400` for a bad parameter, and
/// from the policy layer `401` (bad or missing token), `403` (role, purpose, case...), `429`
/// (refusal or person budget spent), `503` (`AUDIT_LOG_READ_ONLY`: a refusal or an audited
/// read that cannot be logged) and `500` (any other failure to write that record, or of the
/// handler's work on the blocking pool; the cause is logged, not sent); `428` where a purpose
/// or case reference is demanded.
pub fn error_statuses(class: Option<DataClass>, params: bool) -> Vec<u16> {
    let mut s = CONNECTION_STATUSES.to_vec();
    if params {
        s.push(400);
    }
    if let Some(class) = class {
        s.extend([401, 403, 429, 500]);
        if matches!(
            class,
            DataClass::PersonLevel | DataClass::AuditLog | DataClass::Equality
        ) {
            s.push(428);
        }
    }
    s.sort_unstable();
    s.dedup();
    s
}

fn query(name: &str, required: bool, schema: &Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": required, "schema": schema, "description": description})
}

fn header_param(name: &str, required: bool, schema: &Value, description: &str) -> Value {
    json!({"name": name, "in": "header", "required": required, "schema": schema, "description": description})
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// A `200` with `schema` as `media`.
fn ok(media: &str, schema: &Value, description: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "200".to_owned(),
        json!({"description": description, "content": {media: {"schema": schema}}}),
    );
    m
}

fn ok_json(schema: &Value, description: &str) -> Map<String, Value> {
    ok("application/json", schema, description)
}

fn ok_geojson(description: &str) -> Map<String, Value> {
    ok(
        "application/geo+json",
        &schema_ref("FeatureCollection"),
        description,
    )
}

/// An operation: its path, id, summary, parameters and success responses. Its error
/// responses come from [`error_statuses`] for the path's declared data class.
struct Op {
    path: String,
    id: String,
    summary: String,
    params: Vec<Value>,
    success: Map<String, Value>,
    /// True when the handler parses query parameters (so it can answer `400`).
    takes_params: bool,
    /// True when a token is required (no anonymous access).
    auth_required: bool,
    /// True when the handler runs through the admission layer (`api::admission`): `422`
    /// `TOO_EXPENSIVE` and `503` `BUSY`.
    admitted: bool,
}

impl Op {
    fn new(path: &str, id: &str, summary: &str, success: Map<String, Value>) -> Self {
        Self {
            path: path.to_owned(),
            id: id.to_owned(),
            summary: summary.to_owned(),
            params: Vec::new(),
            success,
            takes_params: true,
            auth_required: false,
            admitted: false,
        }
    }

    fn admitted(mut self) -> Self {
        self.admitted = true;
        self
    }

    fn params(mut self, params: Vec<Value>) -> Self {
        self.params = params;
        self
    }

    fn no_query(mut self) -> Self {
        self.takes_params = false;
        self
    }

    fn auth(mut self) -> Self {
        self.auth_required = true;
        self
    }

    /// The path item; `x-data-class` names the class of data the route returns.
    fn item(self) -> (String, Value) {
        let class = ENDPOINTS
            .iter()
            .find(|(p, _)| *p == self.path)
            .and_then(|(_, c)| *c);
        let mut responses = self.success;
        let mut statuses = error_statuses(class, self.takes_params);
        if self.admitted {
            statuses.extend(ADMISSION_STATUSES);
        }
        for status in statuses {
            responses.insert(
                status.to_string(),
                json!({"$ref": format!("#/components/responses/{}", response_name(status))}),
            );
        }
        let mut op = json!({
            "operationId": self.id,
            "summary": self.summary,
            "x-data-class": class.map_or("none".to_owned(), |c| format!("{c:?}")),
            "responses": responses,
        });
        if !self.params.is_empty() {
            op["parameters"] = Value::Array(self.params);
        }
        if class.is_none() {
            op["security"] = json!([{}]);
        } else if self.auth_required {
            op["security"] = json!([{"bearer": []}]);
        }
        (self.path, json!({"get": op}))
    }
}

/// The name under `components/responses` of an error status.
fn response_name(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        408 => "RequestTimeout",
        413 => "BodyTooLarge",
        428 => "PreconditionRequired",
        429 => "TooManyRequests",
        422 => "TooExpensive",
        500 => "InternalError",
        _ => "ServiceUnavailable",
    }
}

/// The error codes a refusal with `status` carries.
fn deny_codes(status: u16) -> Vec<&'static str> {
    const ALL: &[DenyReason] = &[
        DenyReason::AuthenticationRequired,
        DenyReason::InvalidToken,
        DenyReason::TokenExpired,
        DenyReason::TokenRevoked,
        DenyReason::RoleNotPermitted,
        DenyReason::PurposeRequired,
        DenyReason::CaseRefRequired,
        DenyReason::PurposeNotRecognised,
        DenyReason::PurposeNotPermitted,
        DenyReason::CaseNotInScope,
        DenyReason::OutsideMeetingWindow,
        DenyReason::SubjectNotInScope,
        DenyReason::CaseNotAssigned,
        DenyReason::LegalBasisRequired,
        DenyReason::LegalBasisNotPermitted,
        DenyReason::JustificationRequired,
        DenyReason::BudgetExceeded,
        DenyReason::TooManyRefusals,
        DenyReason::NoSharingAgreement,
    ];
    ALL.iter()
        .filter(|r| r.status() == status)
        .map(|r| r.code())
        .collect()
}

fn error_content(codes: &[&str]) -> Value {
    json!({"application/json": {"schema": {
        "allOf": [schema_ref("Error"), {"properties": {"error": {"enum": codes}}}]
    }}})
}

fn retry_after(required: bool) -> Value {
    json!({"Retry-After": {"required": required, "description": "seconds to wait before trying again",
                           "schema": {"type": "string", "pattern": "^[0-9]+$"}}})
}

fn components_responses() -> Value {
    json!({
        "BadRequest": {"description": "a query or path parameter is missing, unknown, given twice or invalid; `field` names it",
                       "content": error_content(&["INVALID_PARAMETER"])},
        "Unauthorized": {"description": "no token where one is needed, or an unknown, expired or revoked token (logged)",
                         "content": error_content(&deny_codes(401))},
        "Forbidden": {"description": "the role, purpose, legal basis, case assignment, subject or sharing agreement does not permit this read (logged)",
                      "content": error_content(&deny_codes(403))},
        "RequestTimeout": {"description": "the request took longer than the server's request timeout; the body is empty"},
        "BodyTooLarge": {"description": "the declared request body is over the server's body limit; the connection is closed",
                         "content": error_content(&["BODY_TOO_LARGE"])},
        "PreconditionRequired": {"description": "X-Purpose, X-Case-Ref or X-Legal-Basis missing, or break-glass without a justification (logged)",
                                 "content": error_content(&deny_codes(428))},
        "TooManyRequests": {"description": "this address made too many refused requests, or the caller's budget of people per hour or break-glass reads per day is spent (logged, with an alert)",
                            "headers": retry_after(true),
                            "content": error_content(&deny_codes(429))},
        "InternalError": {"description": "the server failed; the cause is logged, never sent",
                          "content": error_content(&["INTERNAL"])},
        "TooExpensive": {"description": "the analysis asked for would need more memory than one computation may use; the message says what to ask for instead (a shorter window, a coarser resolution, monthly steps)",
                         "content": error_content(&["TOO_EXPENSIVE"])},
        "ServiceUnavailable": {"description": "the server is at its connection cap (TOO_MANY_CONNECTIONS, with Retry-After), every worker of the caller's class is busy and its queue is full (BUSY, with Retry-After; analyses only), or it runs on a read-only data directory and cannot write the audit record this request needs (AUDIT_LOG_READ_ONLY)",
                               "headers": retry_after(false),
                               "content": error_content(&["TOO_MANY_CONNECTIONS", "BUSY", "AUDIT_LOG_READ_ONLY"])}
    })
}

/// `YYYY-MM-DD` within the days the store can represent (1970-01-01 to 2149).
fn date_schema() -> Value {
    json!({"type": "string", "format": "date",
           "pattern": "^(19[7-9][0-9]|20[0-9]{2}|21[0-4][0-9])-[0-9]{2}-[0-9]{2}$"})
}

fn category_schema() -> Value {
    let mut names: Vec<&str> = Category::ALL.iter().map(|c| c.slug()).collect();
    names.extend(Category::ALL.iter().map(|c| c.label()));
    names.dedup();
    json!({"type": "string", "enum": names})
}

fn scheme_schema(schemes: &[&str]) -> Value {
    if schemes.is_empty() {
        json!({"type": "string"})
    } else {
        json!({"type": "string", "enum": schemes})
    }
}

/// A longitude and a latitude in decimal degrees, within their ranges.
const LON: &str = r"-?(1[0-7][0-9]|[0-9]{1,2})(\.[0-9]{1,8})?";
const LAT: &str = r"-?[0-8]?[0-9](\.[0-9]{1,8})?";

fn bbox_schema() -> Value {
    json!({"type": "string", "pattern": format!("^{LON},{LAT},{LON},{LAT}$"),
           "examples": ["-2.7,51.4,-2.5,51.5"]})
}

fn category_param() -> Value {
    query(
        "category",
        false,
        &category_schema(),
        "category slug (or its police.uk label) from /api/v1/meta",
    )
}

fn bbox_param(description: &str) -> Value {
    query("bbox", false, &bbox_schema(), description)
}

fn res_param(min: u8, max: u8, default: u8) -> Value {
    query(
        "res",
        false,
        &json!({"type": "integer", "minimum": min, "maximum": max, "default": default}),
        "H3 resolution; public and planner: at most 8, and at most 7 for a child category (a finer one is refused with 400 on res)",
    )
}

fn person_headers() -> Vec<Value> {
    vec![
        header_param(
            "X-Purpose",
            true,
            &json!({"type": "string", "enum": ["safeguarding_children", "disrupting_exploitation", "mace_panel"]}),
            "lawful purpose",
        ),
        header_param(
            "X-Case-Ref",
            true,
            &json!({"type": "string", "pattern": "^[A-Za-z0-9/_-]{3,40}$"}),
            "case or MACE meeting reference; a police analyst must be assigned to the case",
        ),
        header_param(
            "X-Legal-Basis",
            true,
            &json!({"type": "string", "enum": LegalBasis::ALL.iter().map(|b| b.code()).collect::<Vec<_>>()}),
            "the legal basis of this read; it must cover the purpose (recorded in the audit log)",
        ),
        header_param(
            "X-Justification",
            false,
            &json!({"type": "string"}),
            "why this read is needed (recorded in the audit log, cut at 1,000 characters; at least 30 characters with X-Break-Glass)",
        ),
        header_param(
            "X-Break-Glass",
            false,
            &json!({"type": "string", "examples": ["true"]}),
            "`true`, `1` or `yes` declares emergency access to a case you are not assigned to: allowed with a justification, flagged in the audit record, raises an alert, limited per day; any other value declares nothing",
        ),
    ]
}

fn audit_purpose() -> Value {
    let audit: Vec<&str> = PurposeCode::ALL
        .iter()
        .filter(|p| p.is_audit())
        .map(|p| p.code())
        .collect();
    header_param(
        "X-Purpose",
        true,
        &json!({"type": "string", "enum": audit}),
        "an audit purpose (DPA 2018 s.62(4))",
    )
}

fn person_id() -> Value {
    json!({"name": "id", "in": "path", "required": true, "description": "person reference; an unknown one is refused like one out of scope (403)",
           "schema": {"type": "string", "pattern": "^P[0-9a-f]{8,16}$"}})
}

fn seq_limit() -> Vec<Value> {
    vec![
        query(
            "since_seq",
            false,
            &json!({"type": "integer", "minimum": 0, "maximum": i64::MAX}),
            "entries after this sequence number",
        ),
        query(
            "limit",
            false,
            &json!({"type": "integer", "minimum": 1, "maximum": 10_000, "default": 1_000}),
            "most entries",
        ),
    ]
}

/// The operations on data (not tiles).
#[expect(
    clippy::too_many_lines,
    reason = "a table-like document builder: one entry per data operation"
)]
fn data_ops(schemes: &[&str]) -> Vec<Op> {
    let from = query(
        "from",
        false,
        &date_schema(),
        "first day, inclusive (YYYY-MM-DD); not after `to`",
    );
    let to = query(
        "to",
        false,
        &date_schema(),
        "last day, inclusive (YYYY-MM-DD)",
    );
    let category = category_param();
    let bbox = bbox_param(
        "minLon,minLat,maxLon,maxLat (WGS84, min before max); defaults to the study area",
    );
    let bbox_only = |path: &str, id: &str, what: &str| {
        Op::new(path, id, what, ok_geojson(what)).params(vec![bbox.clone()])
    };
    let mut people_params = person_headers();
    people_params.push(query(
        "category",
        false,
        &json!({"type": "string", "enum": ["victim", "child_at_risk_of_exploitation", "witness", "suspected_exploiter_adult", "suspect", "convicted", "professional_other"]}),
        "only people with this subject category",
    ));
    let mut person_params = person_headers();
    person_params.push(person_id());
    let mut audit_params = vec![audit_purpose()];
    audit_params.extend(seq_limit());
    audit_params.extend([
        query("event_type", false, &json!({"type": "string", "enum": ["collection", "alteration", "consultation", "disclosure", "combination", "erasure", "audit_read", "alert"]}), "only entries of this type"),
        query("subject_id", false, &json!({"type": "string"}), "only entries about this person reference"),
        query("decision", false, &json!({"type": "string", "enum": ["allow", "deny"]}), "allowed or refused"),
    ]);
    let mut alert_params = vec![audit_purpose()];
    alert_params.extend(seq_limit());
    vec![
        Op::new("/health", "getHealth", "liveness and data version", ok_json(&schema_ref("Health"), "ok")).no_query(),
        Op::new("/api/v1/meta", "getMeta", "bounds, data span, categories, schemes, and what the caller may see", ok_json(&schema_ref("Meta"), "metadata")),
        Op::new(OPENAPI_PATH, "getOpenApi", "this document", ok_json(&json!({"type": "object", "required": ["openapi", "info", "paths"], "properties": {"openapi": {"const": "3.1.0"}, "info": {"type": "object"}, "paths": {"type": "object"}}}), "OpenAPI 3.1")).no_query(),
        Op::new("/api/v1/hexagons", "getHexagons", "incident counts per H3 cell whose centre lies in bbox",
            ok_geojson(&format!("Polygon features with properties h3 (string), count, suppressed; members query and disclosure; at most {MAX_CELLS} cells. Public and planner, child category: every study-area cell in bbox, a zero shown as suppressed")))
            .params(vec![res_param(5, 10, 8), bbox.clone(), from.clone(), to.clone(), category.clone()]),
        Op::new("/api/v1/hotspots", "getHotspots", "Getis-Ord Gi* hot and cold spots per H3 cell over the four authorities (binary weights, k = 1 ring, ArcGIS FDR bins)",
            ok_json(&schema_ref("Hotspots"), "settings echoed; cells with bin != 0: h3, bin, count (aggregate roles: protected count and suppressed), z and p (analysts)"))
            .params(vec![res_param(6, 9, 8), bbox.clone(), from.clone(), to.clone(), category.clone()])
            .admitted(),
        Op::new("/api/v1/emerging", "getEmerging", "emerging hot spot categories per H3 cell (space-time Gi* with FDR across the cube, Mann-Kendall, the 17 categories)",
            ok_json(&schema_ref("Emerging"), "settings, steps, summary, warnings; cells with a pattern"))
            .params(vec![
                res_param(6, 9, 8),
                query("step", false, &json!({"type": "string", "enum": ["month", "week"], "default": "month"}), "cube step (aggregate roles: month only; week is refused with 400)"),
                bbox.clone(), from.clone(), to.clone(), category.clone(),
            ])
            .admitted(),
        Op::new("/api/v1/risk-windows", "getRiskWindows", "near-repeat risk windows: H3 cells and days of elevated risk after recent incidents, from Knox-significant space-time bands",
            ok_json(&schema_ref("RiskWindows"), "settings, as_of, bands, warnings; windows: h3, from, to, knox_ratio, incidents (analysts, res 9) or h3, from, to (whole calendar months), knox_ratio (aggregate roles, res 7, as_of snapped to the 1st, no counts)"))
            .params(vec![
                query("as_of", false, &date_schema(), "the day the layer is for (default: the last day with an incident known to the day); public and planner: snapped to the first day of its month"),
                category.clone(),
            ])
            .admitted(),
        Op::new("/api/v1/areas/compare", "compareAreas", "two areas of one scheme side by side: incidents, rate per 1,000 young people, monthly trend",
            ok_json(&schema_ref("AreaComparison"), "areas with incidents {count, suppressed}, rate_per_1000_youth, monthly, trend_per_month; months; total; disclosure (aggregate roles: protected table, whole months)"))
            .params(vec![
                query("scheme", true, &scheme_schema(schemes), "boundary scheme"),
                query("a", true, &json!({"type": "string", "minLength": 1, "examples": [Authority::Bristol.code()]}), "first area code (400 when the scheme has no such area)"),
                query("b", true, &json!({"type": "string", "minLength": 1, "examples": [Authority::NorthSomerset.code()]}), "second area code"),
                from.clone(), to.clone(), category.clone(),
            ])
            .admitted(),
        Op::new("/api/v1/incidents", "getIncidents", "incident points (never incidents involving a child)",
            ok_geojson("Point features with properties id, category, date; members truncated and withheld_child_incidents: {rule, res: 7, from, to (whole months), category, min_count, cells: [{h3, count, suppressed}]}, one entry per res-7 cell that may touch bbox, counted over the whole cell, below min_count (zero included) suppressed; a request whose cells hold such an incident is audited"))
            .params(vec![
                query("bbox", true, &bbox_schema(), "minLon,minLat,maxLon,maxLat, at most 0.05 square degrees"),
                from, to, category,
                query("limit", false, &json!({"type": "integer", "minimum": 1, "maximum": INCIDENT_LIMIT_MAX, "default": INCIDENT_LIMIT_DEFAULT}), "most points returned"),
            ])
            .auth(),
        bbox_only("/api/v1/places", "getPlaces", "places of concern").auth(),
        bbox_only("/api/v1/schools", "getSchools", "open schools"),
        bbox_only("/api/v1/stops", "getStops", "active transport stops"),
        bbox_only("/api/v1/routes", "getRoutes", "transport routes as lines"),
        bbox_only("/api/v1/services", "getServices", "youth services with their tier"),
        Op::new("/api/v1/boundaries", "getBoundaries", "boundaries of one scheme",
            ok_geojson("(Multi)Polygon features with properties scheme, code, name, youth_population"))
            .params(vec![query("scheme", true, &scheme_schema(schemes), "boundary scheme"), bbox]),
        Op::new("/api/v1/people", "listPeople", "people in the scope of the case or MACE meeting in X-Case-Ref (person-level; audited)",
            ok_json(&schema_ref("PeopleList"), "person-level data with allowlisted fields only"))
            .params(people_params).auth(),
        Op::new("/api/v1/people/{id}", "getPerson", "one person in scope, with the fields the role and purpose allow (audited)",
            ok_json(&schema_ref("Person"), "person-level data with allowlisted fields only"))
            .params(person_params.clone()).auth(),
        Op::new("/api/v1/people/{id}/links", "getPersonLinks", "a person's links to people in scope, places and incidents; never peer links (audited)",
            ok_json(&schema_ref("PersonLinks"), "links with allowlisted fields only"))
            .params(person_params).auth(),
        Op::new("/api/v1/audit", "readAuditLog", "the audit log, for auditors (reading it is logged)",
            ok_json(&json!({"type": "object", "required": ["entries"], "properties": {"entries": {"type": "array", "items": {"type": "object", "required": ["seq", "hash", "event"], "properties": {"seq": {"type": "integer"}, "hash": {"type": "string"}, "event": {"type": "object"}}}}}}), "entries, each with seq, hash and event"))
            .params(audit_params).auth(),
        Op::new("/api/v1/audit/alerts", "readAuditAlerts", "anomaly alerts (budgets spent, break-glass reads), for auditors (reading them is logged)",
            ok_json(&json!({"type": "object", "required": ["alerts"], "properties": {"alerts": {"type": "array", "items": {"type": "object"}}}}), "alerts, each with seq, ts_utc, user, org, role, rule, window_s, count, limit, case_ref, route"))
            .params(alert_params).auth(),
        Op::new("/api/v1/equality/latest", "getEqualityLatest", "the latest month of the S22 disproportionality monitor, for the equality_monitor role only (reading it is logged); counts disclosure-controlled, RRI and interval suppressed with their counts",
            ok_json(&schema_ref("EqualityLatest"), "month, results and open_alerts"))
            .params(vec![header_param("X-Purpose", true, &json!({"type": "string", "enum": ["equality_monitoring"]}), "the equality monitoring purpose")])
            .auth(),
        Op::new("/api/v1/layers", "listTileLayers", "the tile layers the caller's role may see, with TileJSON URLs",
            ok_json(&schema_ref("Layers"), "layers")),
    ]
}

/// Per registered tile source, its TileJSON and tile operations: a token is required where
/// the public role may not read the source's class, and sources drawing an analysis run
/// through the admission layer.
fn tile_ops(schemes: &[&str]) -> Vec<Op> {
    let mut ops = Vec::new();
    for routes in tile_routes() {
        let spec = routes.source.spec();
        let mut params = vec![query(
            "v",
            false,
            &json!({"type": "integer", "minimum": 0, "maximum": i64::MAX}),
            "data version (a cache buster; any whole number)",
        )];
        if spec.temporal() {
            let day = "day, inclusive (YYYY-MM-DD; aggregate roles: widened to the month); from not after to";
            params.extend([
                query("from", false, &date_schema(), day),
                query("to", false, &date_schema(), day),
                category_param(),
            ]);
        }
        if spec.query == TileQuery::Scheme {
            let mut s = scheme_schema(schemes);
            s["default"] = json!("lad");
            params.push(query("scheme", false, &s, "boundary scheme"));
        }
        let max = (1_u64 << crate::tiles::MAX_ZOOM) - 1;
        let coord = |name: &str, max: u64| {
            json!({"name": name, "in": "path", "required": true,
                   "description": "tile coordinate (x and y below 2^z)",
                   "schema": {"type": "integer", "minimum": 0, "maximum": max}})
        };
        let mut tile_params = vec![
            coord("z", u64::from(crate::tiles::MAX_ZOOM)),
            coord("x", max),
            coord("y", max),
        ];
        tile_params.extend(params.iter().cloned());
        let title = title_case(spec.name);
        ops.push(
            Op::new(
                &routes.tilejson,
                &format!("get{title}TileJson"),
                &format!(
                    "TileJSON 3.0.0 of the {} layer: {}",
                    spec.name, spec.description
                ),
                ok_json(&schema_ref("TileJson"), "TileJSON"),
            )
            .params(params),
        );
        let mut success = Map::new();
        success.insert(
            "200".to_owned(),
            json!({"description": "tile (gzip when the client accepts it)",
                   "content": {"application/vnd.mapbox-vector-tile": {"schema": {"type": "string", "format": "binary"}}}}),
        );
        success.insert("204".to_owned(), json!({"description": "empty tile"}));
        success.insert(
            "304".to_owned(),
            json!({"description": "not modified (If-None-Match)"}),
        );
        let mut op = Op::new(
            &routes.tiles,
            &format!("get{title}Tile"),
            &format!(
                "Mapbox Vector Tile of the {} layer (zoom {}-{})",
                spec.name, spec.minzoom, spec.maxzoom
            ),
            success,
        )
        .params(tile_params);
        if !role_may_read(Role::Public, spec.class) {
            op = op.auth();
        }
        if spec.analysis.is_some() {
            op = op.admitted();
        }
        ops.push(op);
    }
    ops
}

fn title_case(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

fn nullable(t: &str) -> Value {
    json!({"type": [t, "null"]})
}

fn component_schemas() -> Value {
    let object = |required: &[&str], props: Value| json!({"type": "object", "required": required, "properties": props});
    json!({
        "Error": object(&["error", "message"], json!({
            "error": {"type": "string", "description": "stable code, e.g. INVALID_PARAMETER, PURPOSE_REQUIRED"},
            "field": {"type": "string", "description": "the parameter at fault (INVALID_PARAMETER, BODY_TOO_LARGE)"},
            "message": {"type": "string"}})),
        "FeatureCollection": {"type": "object", "required": ["type", "features"], "properties": {
            "type": {"const": "FeatureCollection"},
            "features": {"type": "array", "items": schema_ref("Feature")}}},
        "Feature": object(&["type", "geometry", "properties"], json!({
            "type": {"const": "Feature"},
            "geometry": {"type": "object", "required": ["type", "coordinates"], "properties": {
                "type": {"enum": ["Point", "LineString", "MultiLineString", "Polygon", "MultiPolygon"]},
                "coordinates": {"type": "array"}}},
            "properties": {"type": "object"}})),
        "Health": object(&["status", "version", "data_version"], json!({
            "status": {"const": "ok"}, "version": {"type": "string"}, "data_version": {"type": "integer"},
            "computations_running": {"type": "integer", "minimum": 0}, "computations_bytes": {"type": "integer", "minimum": 0},
            "incident_runs": {"type": "integer", "minimum": 0}})),
        "Meta": object(&["bounds", "data_from", "data_to", "data_version", "categories", "schemes", "h3_resolutions", "counts", "caller", "attribution"], json!({
            "bounds": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
            "data_from": nullable("string"), "data_to": nullable("string"),
            "data_version": {"type": "integer"},
            "categories": {"type": "array", "items": object(&["slug", "label", "concerns_children"], json!({
                "slug": {"type": "string"}, "label": {"type": "string"}, "concerns_children": {"type": "boolean"}}))},
            "schemes": {"type": "array", "items": {"type": "string"}},
            "h3_resolutions": {"type": "array", "items": {"type": "integer"}},
            "counts": {"type": "object"},
            "caller": object(&["role", "classes", "layers", "disclosure"], json!({
                "role": {"type": "string"}, "name": nullable("string"),
                "classes": {"type": "array", "items": {"type": "string"}},
                "layers": {"type": "array", "items": {"type": "string"}},
                "disclosure": {"enum": ["exact", "controlled"]}})),
            "attribution": {"type": "string"}})),
        "Disclosure": object(&["controlled"], json!({"controlled": {"type": "boolean"}})),
        "Hotspots": object(&["settings", "disclosure", "cells"], json!({
            "settings": {"type": "object"}, "disclosure": schema_ref("Disclosure"), "note": {"type": "string"},
            "cells": {"type": "array", "items": object(&["h3", "bin"], json!({
                "h3": {"type": "string"}, "bin": {"type": "integer", "minimum": -3, "maximum": 3},
                "count": nullable("integer"), "suppressed": {"type": "boolean"},
                "z": nullable("number"), "p": nullable("number")}))}})),
        "Emerging": object(&["settings", "window", "steps", "summary", "warnings", "disclosure", "cells"], json!({
            "settings": {"type": "object"}, "window": {"type": "object"}, "steps": {"type": "array"},
            "summary": {"type": "object"}, "warnings": {"type": "array", "items": {"type": "string"}},
            "disclosure": schema_ref("Disclosure"), "note": {"type": "string"},
            "cells": {"type": "array", "items": object(&["h3", "code", "label"], json!({
                "h3": {"type": "string"}, "code": {"type": "integer"}, "label": {"type": "string"},
                "count": nullable("integer"), "suppressed": {"type": "boolean"}}))}})),
        "RiskWindows": object(&["settings", "as_of", "warnings", "windows"], json!({
            "settings": {"type": "object"}, "as_of": nullable("string"),
            "bands": {"type": "array"}, "calibration": {"type": ["object", "null"]},
            "warnings": {"type": "array", "items": {"type": "string"}},
            "disclosure": schema_ref("Disclosure"),
            "windows": {"type": "array", "items": object(&["h3", "from", "to"], json!({
                "h3": {"type": "string"}, "from": {"type": "string"}, "to": {"type": "string"},
                "knox_ratio": {"type": "number"}}))}})),
        "AreaComparison": object(&["query", "months", "areas", "total", "disclosure"], json!({
            "query": {"type": "object"}, "months": {"type": "array", "items": {"type": "string"}},
            "areas": {"type": "array", "minItems": 2, "maxItems": 2, "items": object(&["scheme", "code", "name", "incidents", "monthly"], json!({
                "scheme": {"type": "string"}, "code": {"type": "string"}, "name": {"type": "string"},
                "youth_population": nullable("integer"),
                "incidents": {"type": "object"}, "rate_per_1000_youth": nullable("number"),
                "monthly": {"type": "array"}, "trend_per_month": nullable("number")}))},
            "total": {"type": "object"}, "disclosure": schema_ref("Disclosure")})),
        "Layers": object(&["data_version", "disclosure", "layers"], json!({
            "data_version": {"type": "integer"}, "disclosure": {"enum": ["exact", "controlled"]},
            "disclosure_policy": {"type": ["object", "null"]},
            "layers": {"type": "array", "items": object(&["id", "tilejson", "tiles", "minzoom", "maxzoom"], json!({
                "id": {"type": "string"}, "tilejson": {"type": "string"}, "tiles": {"type": "string"},
                "minzoom": {"type": "integer"}, "maxzoom": {"type": "integer"},
                "description": {"type": "string"}, "temporal": {"type": "boolean"}, "fields": {"type": "object"}}))}})),
        "TileJson": object(&["tilejson", "tiles", "vector_layers"], json!({
            "tilejson": {"const": "3.0.0"}, "name": {"type": "string"},
            "tiles": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "minzoom": {"type": "integer"}, "maxzoom": {"type": "integer"},
            "bounds": {"type": "array", "items": {"type": "number"}},
            "vector_layers": {"type": "array", "items": object(&["id", "fields"], json!({"id": {"type": "string"}, "fields": {"type": "object"}}))}})),
        "Person": {"type": "object", "additionalProperties": false, "properties": {
            "id": {"type": "string"}, "birth_year": {"type": "integer"}, "age_band": {"type": "string"},
            "categories": {"type": "array", "items": {"type": "string", "enum": ["victim", "child_at_risk_of_exploitation", "witness", "suspected_exploiter_adult", "suspect", "convicted", "professional_other"]}},
            "source": {"type": "string"}, "review_due": {"type": "string", "format": "date"}}},
        "Link": {"type": "object", "additionalProperties": false, "properties": {
            "id": {"type": "integer"}, "kind": {"type": "string"}, "to": {"type": "object"},
            "categories": {"type": "array", "items": {"type": "string"}}, "grade": {"type": "string"},
            "handling_code": {"type": "string"}, "source": {"type": "string"}, "review_due": {"type": "string", "format": "date"}}},
        "PeopleList": object(&["case_ref", "purpose", "people", "notice"], json!({
            "case_ref": {"type": "string"}, "purpose": {"type": "string"},
            "people": {"type": "array", "items": schema_ref("Person")},
            "withheld_no_sharing_agreement": {"type": "integer"}, "notice": {"type": "string"}})),
        "PersonLinks": object(&["person", "links", "withheld"], json!({
            "person": {"type": "string"}, "links": {"type": "array", "items": schema_ref("Link")},
            "withheld": {"type": "integer"}})),
        "EqualityLatest": object(&["month", "results", "open_alerts"], json!({
            "month": nullable("string"), "results": {"type": "array", "items": {"type": "object"}},
            "open_alerts": {"type": "array", "items": {"type": "object"}}, "disclosure": {"type": "string"}}))
    })
}

/// The document naming `server` as the server and `schemes` as the boundary schemes.
pub fn document_for(server: &str, schemes: &[&str]) -> Value {
    let mut paths = Map::new();
    for op in data_ops(schemes).into_iter().chain(tile_ops(schemes)) {
        let (path, item) = op.item();
        paths.insert(path, item);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "saferplaces", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Contextual-safeguarding spatial intelligence. Places, never children: no score, rank or rating exists on any person. Person-level data needs a role, a purpose and a case reference, and every read is audited.",
                 "license": {"name": "GNU Affero General Public License v3.0 or later", "identifier": env!("CARGO_PKG_LICENSE")}},
        "servers": [{"url": server, "description": "this server"}],
        "security": [{"bearer": []}, {}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                "description": "a token from `saferplaces user add`; anonymous requests are the public role"}},
            "responses": components_responses(),
            "schemas": component_schemas(),
        }
    })
}

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod tests;
