//! Person-level endpoints (`/api/v1/people`, `/api/v1/people/{id}`,
//! `/api/v1/people/{id}/links`) and the auditors' read of the audit log (`/api/v1/audit`).
//!
//! The policy layer has already checked role, purpose and case reference. Here the scope of
//! the case or MACE agenda decides which people are visible (safeguards.md S12), the field
//! allowlist decides what is shown of them (S14), and every read is audited with its subjects
//! and fields before the response leaves (S16).

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::auth::{Authorised, deny};
use super::params::Params;
use super::{ApiError, ApiResult, AppState};
use crate::domain::{PersonRef, SubjectCategory};
use crate::safeguards::audit::{AuditEventType, AuditFilter, Decision};
use crate::safeguards::fields::{Allowlist, allowlist, render_link, render_person};
use crate::safeguards::policy::DenyReason;
use crate::safeguards::scope::{visible_links, visible_people};

/// Most audit entries one request returns.
const AUDIT_LIMIT_MAX: u64 = 10_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/people", get(list_people))
        .route("/api/v1/people/{id}", get(get_person))
        .route("/api/v1/people/{id}/links", get(get_links))
        .route("/api/v1/audit", get(get_audit))
}

/// The people visible to the caller and the fields it may see of them, or the refusal
/// (already audited).
async fn scope(
    state: &AppState,
    auth: &Authorised,
) -> Result<(BTreeSet<PersonRef>, Allowlist), Response> {
    let (Some(user), Some(purpose), Some(case_ref)) = (&auth.user, auth.purpose, &auth.case_ref)
    else {
        return Err(deny(state, auth, DenyReason::RoleNotPermitted, "").await);
    };
    let snap = state.snapshot();
    let visible = match visible_people(user, purpose, case_ref, state.clock.today(), &snap.people) {
        Ok(v) => v,
        Err(reason) => return Err(deny(state, auth, reason, "").await),
    };
    match allowlist(auth.role, purpose) {
        Some(allowed) => Ok((visible, allowed)),
        None => Err(deny(state, auth, DenyReason::PurposeNotPermitted, "").await),
    }
}

async fn list_people(
    State(state): State<AppState>,
    auth: Authorised,
    params: Params,
) -> ApiResult<Response> {
    params.only(&["category"])?;
    let category = params
        .get("category")
        .map(|c| {
            c.parse::<SubjectCategory>()
                .map_err(|e| ApiError::invalid("category", e.to_string()))
        })
        .transpose()?;
    let (visible, allowed) = match scope(&state, &auth).await {
        Ok(v) => v,
        Err(resp) => return Ok(resp),
    };
    let snap = state.snapshot();
    let today = state.clock.today();
    let mut event = auth.audit_event(AuditEventType::Consultation, Decision::Allow);
    let mut items = Vec::new();
    for id in &visible {
        let Some(p) = snap.people.people.get(id) else {
            continue;
        };
        if category.is_some_and(|c| !p.categories.contains(&c)) {
            continue;
        }
        event = event.with_subject(&p.id, &p.categories, p.may_be_child_on(today));
        items.push(Value::Object(render_person(p, allowed.person, today)));
    }
    event.fields_returned = allowed.person.iter().map(|f| (*f).to_owned()).collect();
    event.query = json!({"route": auth.route, "category": category});
    event.record_count = items.len() as u64;
    state.audit_append(event).await?;
    Ok(Json(json!({
        "case_ref": auth.case_ref, "purpose": auth.purpose, "people": items,
        "notice": "Person-level data: use only for the stated purpose and case. Access is logged.",
    }))
    .into_response())
}

async fn person_in_scope(
    state: &AppState,
    auth: &Authorised,
    raw_id: &str,
) -> Result<(PersonRef, BTreeSet<PersonRef>, Allowlist), Response> {
    let (visible, allowed) = scope(state, auth).await?;
    // An unknown or malformed id is refused like an out-of-scope one: existence is not revealed.
    match PersonRef::new(raw_id) {
        Ok(id) if visible.contains(&id) => Ok((id, visible, allowed)),
        _ => Err(deny(state, auth, DenyReason::SubjectNotInScope, "").await),
    }
}

async fn get_person(
    State(state): State<AppState>,
    auth: Authorised,
    Path(raw_id): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    params.only(&[])?;
    let (id, _, allowed) = match person_in_scope(&state, &auth, &raw_id).await {
        Ok(v) => v,
        Err(resp) => return Ok(resp),
    };
    let snap = state.snapshot();
    let today = state.clock.today();
    let Some(p) = snap.people.people.get(&id) else {
        return Ok(deny(&state, &auth, DenyReason::SubjectNotInScope, "").await);
    };
    let mut event = auth
        .audit_event(AuditEventType::Consultation, Decision::Allow)
        .with_subject(&p.id, &p.categories, p.may_be_child_on(today));
    event.fields_returned = allowed.person.iter().map(|f| (*f).to_owned()).collect();
    event.query = json!({"route": auth.route, "id": p.id});
    event.record_count = 1;
    state.audit_append(event).await?;
    Ok(Json(Value::Object(render_person(p, allowed.person, today))).into_response())
}

async fn get_links(
    State(state): State<AppState>,
    auth: Authorised,
    Path(raw_id): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    params.only(&[])?;
    let (id, visible, allowed) = match person_in_scope(&state, &auth, &raw_id).await {
        Ok(v) => v,
        Err(resp) => return Ok(resp),
    };
    let snap = state.snapshot();
    let today = state.clock.today();
    let (links, withheld) = visible_links(&id, &visible, today, &snap.people);
    let mut event = auth.audit_event(AuditEventType::Consultation, Decision::Allow);
    if let Some(p) = snap.people.people.get(&id) {
        event = event.with_subject(&p.id, &p.categories, p.may_be_child_on(today));
    }
    for l in &links {
        if let crate::domain::LinkTarget::Person(other) = &l.to
            && let Some(o) = snap.people.people.get(other)
        {
            event = event.with_subject(&o.id, &o.categories, o.may_be_child_on(today));
        }
    }
    event.fields_returned = allowed.link.iter().map(|f| (*f).to_owned()).collect();
    event.query = json!({"route": auth.route, "id": id});
    event.record_count = links.len() as u64;
    state.audit_append(event).await?;
    let items: Vec<Value> = links
        .iter()
        .map(|l| Value::Object(render_link(l, allowed.link)))
        .collect();
    Ok(Json(json!({"person": id, "links": items, "withheld": withheld})).into_response())
}

/// The audit log for auditors (S17). Reading it is itself logged.
async fn get_audit(
    State(state): State<AppState>,
    auth: Authorised,
    params: Params,
) -> ApiResult<Response> {
    params.only(&["since_seq", "event_type", "subject_id", "decision", "limit"])?;
    let since_seq = params.int_in("since_seq", 0..=u64::MAX >> 1, 0)?;
    let limit = params.int_in("limit", 1..=AUDIT_LIMIT_MAX, 1_000)? as usize;
    let event_type = params
        .get("event_type")
        .map(|v| serde_json::from_value::<AuditEventType>(Value::String(v.to_owned())))
        .transpose()
        .map_err(|_| ApiError::invalid("event_type", "not an audit event type"))?;
    let decision = params
        .get("decision")
        .map(|v| serde_json::from_value::<Decision>(Value::String(v.to_owned())))
        .transpose()
        .map_err(|_| ApiError::invalid("decision", "expected allow or deny"))?;
    let filter = AuditFilter {
        since_seq,
        event_type,
        subject_id: params.get("subject_id").map(str::to_owned),
        actor_user_id: None,
        decision,
    };
    let mut event = auth.audit_event(AuditEventType::AuditRead, Decision::Allow);
    event.query = json!({"route": auth.route, "since_seq": since_seq, "event_type": params.get("event_type"),
                         "subject_id": params.get("subject_id"), "decision": params.get("decision"), "limit": limit});
    let log = std::sync::Arc::clone(state.audit());
    let entries =
        super::blocking(move || log.read(&filter, limit).map_err(ApiError::internal)).await?;
    event.record_count = entries.len() as u64;
    state.audit_append(event).await?;
    Ok(Json(json!({"entries": entries})).into_response())
}
