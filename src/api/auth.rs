//! The single policy layer (safeguards.md S12, S13, S24): every route declares the class of
//! data it returns in [`ENDPOINTS`]; one middleware authenticates the bearer token, applies
//! the role matrix, demands a purpose (and for person-level data a case reference), and writes
//! an audit record for every refusal before answering. A route missing from the table is
//! refused: deny by default.

use std::net::{IpAddr, SocketAddr};
use std::sync::LazyLock;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ApiError, AppState};
use crate::domain::{CaseRef, LegalBasis, PurposeCode, Role, User};
use crate::safeguards::audit::{AuditEvent, AuditEventType, Decision};
use crate::safeguards::monitor::{Alert, RefusalKey, RefusalVerdict, now_ms};
use crate::safeguards::policy::{DataClass, DenyReason, POLICY_VERSION, TokenProblem, authorise};
use crate::safeguards::tokens::{self, bearer_token, token_hash, token_id};
use crate::tiles::registry::tile_routes;

/// The routes other than the tile layers' and the class of data each returns; `None` for
/// infrastructure (health, the OpenAPI document) that carries no data.
const API_ENDPOINTS: &[Endpoint] = &[
    ("/health", None),
    ("/api/v1/openapi.json", None),
    ("/api/v1/meta", Some(DataClass::Reference)),
    ("/api/v1/boundaries", Some(DataClass::Reference)),
    ("/api/v1/schools", Some(DataClass::Reference)),
    ("/api/v1/stops", Some(DataClass::Reference)),
    ("/api/v1/routes", Some(DataClass::Reference)),
    ("/api/v1/services", Some(DataClass::Reference)),
    ("/api/v1/hexagons", Some(DataClass::Aggregate)),
    ("/api/v1/areas/compare", Some(DataClass::Aggregate)),
    ("/api/v1/layers", Some(DataClass::Reference)),
    ("/api/v1/hotspots", Some(DataClass::Aggregate)),
    ("/api/v1/emerging", Some(DataClass::Aggregate)),
    ("/api/v1/risk-windows", Some(DataClass::Aggregate)),
    ("/api/v1/places", Some(DataClass::PlaceLevel)),
    ("/api/v1/incidents", Some(DataClass::PlaceLevel)),
    ("/api/v1/people", Some(DataClass::PersonLevel)),
    ("/api/v1/people/{id}", Some(DataClass::PersonLevel)),
    ("/api/v1/people/{id}/links", Some(DataClass::PersonLevel)),
    ("/api/v1/audit", Some(DataClass::AuditLog)),
    ("/api/v1/audit/alerts", Some(DataClass::AuditLog)),
    ("/api/v1/equality/latest", Some(DataClass::Equality)),
];

/// Every route and the class of data it returns: [`API_ENDPOINTS`], then the two routes of
/// each registered tile source (`tiles::registry`) with the source's class.
pub const ENDPOINTS: Endpoints = Endpoints;

/// One row of the access table: a route and its class.
pub type Endpoint = (&'static str, Option<DataClass>);

/// The access table, built once from [`API_ENDPOINTS`] and the tile registry and read as a
/// slice of [`Endpoint`]s (it derefs to one and iterates like one), as it was when written
/// by hand as a constant.
#[derive(Debug, Clone, Copy)]
pub struct Endpoints;

static TABLE: LazyLock<Vec<Endpoint>> = LazyLock::new(|| {
    let tiles = tile_routes().iter().flat_map(|r| {
        let class = Some(r.source.class());
        [(r.tilejson.as_str(), class), (r.tiles.as_str(), class)]
    });
    API_ENDPOINTS.iter().copied().chain(tiles).collect()
});

impl std::ops::Deref for Endpoints {
    type Target = [Endpoint];

    fn deref(&self) -> &[Endpoint] {
        &TABLE
    }
}

impl IntoIterator for Endpoints {
    type Item = &'static Endpoint;
    type IntoIter = std::slice::Iter<'static, Endpoint>;

    fn into_iter(self) -> Self::IntoIter {
        TABLE.iter()
    }
}

/// The declared class of `route`: `None` when the route is not in [`ENDPOINTS`] (refused),
/// `Some(None)` for infrastructure routes that carry no data.
pub fn class_of(route: &str) -> Option<Option<DataClass>> {
    ENDPOINTS.iter().find(|(r, _)| *r == route).map(|(_, c)| *c)
}

/// What the policy layer established about a permitted request.
#[derive(Debug, Clone)]
pub struct Authorised {
    /// The effective role (`public` when anonymous).
    pub role: Role,
    /// The user, when authenticated.
    pub user: Option<User>,
    /// Non-secret token identifier.
    pub token_id: Option<String>,
    /// The purpose given in `X-Purpose`, when the class needs one.
    pub purpose: Option<PurposeCode>,
    /// The reference given in `X-Case-Ref`.
    pub case_ref: Option<CaseRef>,
    /// `User-Agent`, for the audit record's `client`.
    pub client: Option<String>,
    /// The peer address of the connection, for per-address refusal limits.
    pub client_addr: Option<IpAddr>,
    /// The legal basis given in `X-Legal-Basis` (issue 12, point 3).
    pub legal_basis: Option<LegalBasis>,
    /// The justification given in `X-Justification`.
    pub justification: Option<String>,
    /// True when the caller declared break-glass access (`X-Break-Glass: true`) with a
    /// justification of at least [`BREAK_GLASS_MIN_JUSTIFICATION`] characters.
    pub break_glass: bool,
    /// The route.
    pub route: String,
}

/// The shortest justification a break-glass declaration accepts, in characters.
pub const BREAK_GLASS_MIN_JUSTIFICATION: usize = 30;

/// The longest justification kept, in characters; longer text is cut.
const JUSTIFICATION_MAX: usize = 1_000;

impl Authorised {
    /// An audit event with the caller's identity, purpose and case filled in.
    pub fn audit_event(&self, event_type: AuditEventType, decision: Decision) -> AuditEvent {
        let mut e = AuditEvent::new(event_type, self.role.code(), decision);
        e.actor_user_id = self.user.as_ref().map(|u| u.name.clone());
        e.actor_org = self.user.as_ref().and_then(|u| u.org.clone());
        e.auth_token_id.clone_from(&self.token_id);
        e.client.clone_from(&self.client);
        e.purpose_code = self.purpose.map(|p| p.code().to_owned());
        e.case_ref = self.case_ref.as_ref().map(|c| c.as_str().to_owned());
        e.legal_basis = self.legal_basis.map(|b| b.code().to_owned());
        e.justification_text.clone_from(&self.justification);
        POLICY_VERSION.clone_into(&mut e.policy_version);
        e
    }

    /// An alert record about `alert` (issue 12, point 2), raised by this request.
    pub fn alert_event(&self, alert: &Alert) -> AuditEvent {
        let mut e = self.audit_event(AuditEventType::Alert, Decision::Allow);
        e.actor_user_id = Some(alert.user.clone());
        e.query = json!({"route": self.route, "rule": alert.rule.code(), "window_s": alert.window_s,
                         "count": alert.count, "limit": alert.limit});
        e.record_count = alert.count;
        e
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authorised {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Authorised>()
            .cloned()
            .ok_or_else(|| {
                ApiError::internal(std::io::Error::other(
                    "route is not behind the policy layer",
                ))
            })
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The policy middleware; installed with `route_layer` so the matched route is known.
#[expect(
    clippy::too_many_lines,
    reason = "the policy middleware reads as the checklist it enforces, in order (method, authentication, route rule, purpose headers, audit), one request threading through every check"
)]
pub async fn policy_layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // Every route is read-only (GET, and HEAD with it): another method is answered `405`
    // before authentication, so it is neither refused as a read (401, 403, 428) nor audited.
    // A route with another method would have to be let through here: fail closed until then.
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return method_not_allowed();
    }
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let client_addr = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let headers = req.headers();
    let client = header(headers, "user-agent").map(|s| s.chars().take(200).collect());

    // Authenticate: no header is anonymous; a header that does not match a user is invalid;
    // an expired or revoked token is refused naming its user in the audit record.
    let (user, token_id, token_problem) = match header(headers, "authorization") {
        None => (None, None, None),
        Some(value) => match bearer_token(value) {
            Some(token) => {
                let hash = token_hash(token);
                let id = token_id(&hash).to_owned();
                match state.users().get(&hash) {
                    Some(u) => {
                        let problem = tokens::token_problem(u, tokens::unix_now_s());
                        (Some(u.clone()), Some(id), problem)
                    }
                    None => (None, Some(id), Some(TokenProblem::Unknown)),
                }
            }
            None => (None, None, Some(TokenProblem::Unknown)),
        },
    };
    let mut auth = Authorised {
        role: user.as_ref().map_or(Role::Public, |u| u.role),
        user,
        token_id,
        purpose: None,
        case_ref: None,
        client,
        client_addr,
        legal_basis: None,
        justification: header(headers, "x-justification")
            .map(|s| s.chars().take(JUSTIFICATION_MAX).collect()),
        break_glass: false,
        route: route.clone(),
    };

    let class = match class_of(&route) {
        Some(None) => return next.run(req).await,
        Some(Some(class)) => class,
        None => {
            tracing::error!(%route, "route has no declared data class; refused");
            return deny(
                &state,
                &auth,
                DenyReason::RoleNotPermitted,
                "route without a declared data class",
            )
            .await;
        }
    };
    let role = match authorise(auth.user.as_ref().map(|u| u.role), token_problem, class) {
        Ok(role) => role,
        Err(reason) => return deny(&state, &auth, reason, "").await,
    };
    auth.role = role;

    if matches!(
        class,
        DataClass::PersonLevel | DataClass::AuditLog | DataClass::Equality
    ) {
        let Some(raw) = header(headers, "x-purpose") else {
            return deny(
                &state,
                &auth,
                DenyReason::PurposeRequired,
                "send X-Purpose with a lawful purpose code",
            )
            .await;
        };
        let Ok(purpose) = raw.parse::<PurposeCode>() else {
            let msg = format!("{raw:?} is not a purpose saferplaces serves (safeguards.md S24)");
            return deny(&state, &auth, DenyReason::PurposeNotRecognised, &msg).await;
        };
        auth.purpose = Some(purpose);
        let purpose_fits = match class {
            DataClass::AuditLog => purpose.is_audit(),
            DataClass::Equality => purpose == PurposeCode::EqualityMonitoring,
            _ => !purpose.is_audit(),
        };
        if !purpose_fits {
            return deny(
                &state,
                &auth,
                DenyReason::PurposeNotPermitted,
                "this purpose does not cover this data",
            )
            .await;
        }
        match header(headers, "x-case-ref").map(CaseRef::new) {
            Some(Ok(c)) => auth.case_ref = Some(c),
            Some(Err(e)) => {
                return deny(&state, &auth, DenyReason::CaseRefRequired, &e.to_string()).await;
            }
            None if class == DataClass::PersonLevel => {
                return deny(
                    &state,
                    &auth,
                    DenyReason::CaseRefRequired,
                    "send X-Case-Ref with the case or meeting reference",
                )
                .await;
            }
            None => {}
        }
        if let Err((reason, msg)) = legal_basis(&mut auth, headers, class) {
            return deny(&state, &auth, reason, &msg).await;
        }
    }
    req.extensions_mut().insert(auth);
    next.run(req).await
}

/// `405 Method Not Allowed` with `Allow: GET, HEAD` and the error body.
fn method_not_allowed() -> Response {
    let mut response = (
        StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(json!({"error": "METHOD_NOT_ALLOWED",
                          "message": "this API is read-only: use GET (or HEAD)"})),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

/// Reads `X-Legal-Basis` and `X-Break-Glass` into `auth` (issue 12, points 1 and 3): a
/// person-level read needs a legal basis from the closed list that covers its purpose; the
/// audit log takes one optionally. Break-glass needs a justification of at least 30 characters.
fn legal_basis(
    auth: &mut Authorised,
    headers: &HeaderMap,
    class: DataClass,
) -> Result<(), (DenyReason, String)> {
    let purpose = auth
        .purpose
        .ok_or((DenyReason::PurposeRequired, String::new()))?;
    let allowed = || {
        LegalBasis::for_purpose(purpose)
            .iter()
            .map(|b| b.code())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match header(headers, "x-legal-basis") {
        None if class == DataClass::PersonLevel => {
            return Err((
                DenyReason::LegalBasisRequired,
                format!(
                    "send X-Legal-Basis with the legal basis of this read: one of {}",
                    allowed()
                ),
            ));
        }
        None => {}
        Some(raw) => match raw.parse::<LegalBasis>() {
            Ok(basis) if basis.covers(purpose) => auth.legal_basis = Some(basis),
            _ => {
                return Err((
                    DenyReason::LegalBasisNotPermitted,
                    format!(
                        "{raw:?} is not a legal basis for purpose {purpose}: one of {}",
                        allowed()
                    ),
                ));
            }
        },
    }
    let declared = header(headers, "x-break-glass").is_some_and(|v| {
        v.eq_ignore_ascii_case("true") || v == "1" || v.eq_ignore_ascii_case("yes")
    });
    if declared {
        let long_enough = auth
            .justification
            .as_ref()
            .is_some_and(|j| j.chars().count() >= BREAK_GLASS_MIN_JUSTIFICATION);
        if !long_enough {
            return Err((
                DenyReason::JustificationRequired,
                format!(
                    "break-glass access needs X-Justification of at least \
                     {BREAK_GLASS_MIN_JUSTIFICATION} characters"
                ),
            ));
        }
        auth.break_glass = true;
    }
    Ok(())
}

/// Writes the refusal to the audit log, then answers it. If the audit record cannot be
/// written the request fails with 500: a refusal that is not logged is not allowed (S16).
///
/// Identical refusals from one address within the coalescing window are counted and written
/// later as one record with `repeat_count` (see [`flush_refusals`]); an address past its
/// refusal budget gets `429` with `Retry-After` (issue 12, point 2).
pub async fn deny(
    state: &AppState,
    auth: &Authorised,
    reason: DenyReason,
    message: &str,
) -> Response {
    deny_with(state, auth, reason, message, None).await
}

/// [`deny`] with a `Retry-After` for budget refusals, and optionally an alert to record first.
pub async fn deny_with(
    state: &AppState,
    auth: &Authorised,
    reason: DenyReason,
    message: &str,
    retry_after_s: Option<u64>,
) -> Response {
    let mut key = RefusalKey {
        client: auth.client_addr,
        user: auth.user.as_ref().map(|u| u.name.clone()),
        role: auth.role.code(),
        route: auth.route.clone(),
        reason: reason.code(),
    };
    let verdict = match state.refusals.lock() {
        Ok(mut gate) => gate.refuse(&mut key, DenyReason::TooManyRefusals.code(), now_ms()),
        Err(poisoned) => {
            poisoned
                .into_inner()
                .refuse(&mut key, DenyReason::TooManyRefusals.code(), now_ms())
        }
    };
    let (reason, retry_after_s, record) = match verdict {
        RefusalVerdict::Record => (reason, retry_after_s, true),
        RefusalVerdict::Coalesced => (reason, retry_after_s, false),
        RefusalVerdict::Throttled {
            retry_after_s,
            record,
        } => (DenyReason::TooManyRefusals, Some(retry_after_s), record),
    };
    if record {
        let mut event = auth.audit_event(AuditEventType::Consultation, Decision::Deny);
        event.deny_reason = Some(reason.code().to_owned());
        event.query = json!({"route": auth.route});
        if let Err(e) = state.audit_append(event).await {
            return e.into_response();
        }
    }
    let mut response = ApiError::Denied {
        reason,
        message: message.to_owned(),
    }
    .into_response();
    if let Some(secs) = retry_after_s {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// Writes one record for each coalescing window that closed, standing for the refusals it
/// gathered after its first record (`repeat_count`); with `all`, every open window (at
/// shutdown). Called every second by the server.
pub async fn flush_refusals(state: &AppState, all: bool) -> Result<(), ApiError> {
    let closed = match state.refusals.lock() {
        Ok(mut gate) => gate.flush(now_ms(), all),
        Err(poisoned) => poisoned.into_inner().flush(now_ms(), all),
    };
    for c in closed {
        let mut event = AuditEvent::new(AuditEventType::Consultation, c.key.role, Decision::Deny);
        event.actor_user_id = c.key.user.clone();
        event.client = c.key.client.map(|a| a.to_string());
        event.deny_reason = Some(c.key.reason.to_owned());
        event.query = json!({"route": c.key.route, "coalesced_since": audit_time(c.since_ms)});
        event.repeat_count = Some(c.repeats);
        event.record_count = c.repeats;
        POLICY_VERSION.clone_into(&mut event.policy_version);
        state.audit_append(event).await?;
    }
    Ok(())
}

fn audit_time(ms: u64) -> String {
    crate::safeguards::audit::rfc3339_millis(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_declared_once() {
        let mut routes: Vec<&str> = ENDPOINTS.iter().map(|(r, _)| *r).collect();
        routes.sort_unstable();
        let n = routes.len();
        routes.dedup();
        assert_eq!(routes.len(), n);
        assert!(class_of("/api/v1/secret").is_none());
    }
}
