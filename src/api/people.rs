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

use super::auth::{Authorised, deny, deny_with};
use super::params::Params;
use super::{ApiError, ApiResult, AppState};
use crate::domain::{PersonRef, SubjectCategory};
use crate::safeguards::audit::{AuditEventType, AuditFilter, Decision};
use crate::safeguards::fields::{Allowlist, allowlist, render_link, render_person};
use crate::safeguards::monitor::{Exceeded, now_ms};
use crate::safeguards::policy::DenyReason;
use crate::safeguards::scope::{CaseAccess, visible_links, visible_people};

/// Most audit entries one request returns.
const AUDIT_LIMIT_MAX: u64 = 10_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/people", get(list_people))
        .route("/api/v1/people/{id}", get(get_person))
        .route("/api/v1/people/{id}/links", get(get_links))
        .route("/api/v1/audit", get(get_audit))
        .route("/api/v1/audit/alerts", get(get_alerts))
}

/// What one request may see.
struct Visible {
    /// People visible.
    people: BTreeSet<PersonRef>,
    /// Fields visible.
    allowed: Allowlist,
    /// How the case was reached.
    access: CaseAccess,
    /// Subjects withheld for want of a sharing agreement (S20).
    no_agreement: BTreeSet<PersonRef>,
}

/// The people visible to the caller, the fields it may see of them and how the case was
/// reached, or the refusal (already audited).
async fn scope(state: &AppState, auth: &Authorised) -> Result<Visible, Response> {
    let (Some(user), Some(purpose), Some(case_ref)) = (&auth.user, auth.purpose, &auth.case_ref)
    else {
        return Err(deny(state, auth, DenyReason::RoleNotPermitted, "").await);
    };
    let snap = state.snapshot();
    let today = state.clock.today();
    let scope = visible_people(
        user,
        purpose,
        case_ref,
        today,
        &snap.people,
        auth.break_glass,
        &state.agreements,
    );
    let (visible, access, no_agreement) = match scope {
        Ok(s) => (s.people, s.access, s.no_agreement),
        Err(DenyReason::CaseNotAssigned) => {
            let msg = "you are not assigned to this case; declare break-glass access with \
                           X-Break-Glass, X-Justification and X-Legal-Basis if you must";
            return Err(deny(state, auth, DenyReason::CaseNotAssigned, msg).await);
        }
        Err(reason) => return Err(deny(state, auth, reason, "").await),
    };
    match allowlist(auth.role, purpose) {
        Some(allowed) => Ok(Visible {
            people: visible,
            allowed,
            access,
            no_agreement,
        }),
        None => Err(deny(state, auth, DenyReason::PurposeNotPermitted, "").await),
    }
}

/// Charges a read of `subjects` to the caller's budgets (issue 12, point 2): a break-glass
/// read spends one of the day's break-glass reads and raises an alert; every read spends the
/// hour's budget of distinct subjects. Returns `Some(true)` for a break-glass read (for the
/// audit record's flag), or the `429` refusal (audited, with its alert).
async fn charge(
    state: &AppState,
    auth: &Authorised,
    access: CaseAccess,
    subjects: &BTreeSet<PersonRef>,
) -> Result<Option<bool>, Response> {
    let Some(user) = &auth.user else {
        return Err(deny(state, auth, DenyReason::RoleNotPermitted, "").await);
    };
    let now = now_ms();
    let verdict = {
        let mut monitor = match state.monitor.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let glass = if access == CaseAccess::BreakGlass {
            monitor.admit_break_glass(&user.name, now).map(Some)
        } else {
            Ok(None)
        };
        match glass {
            Err(e) => Err(e),
            Ok(alert) => match monitor.admit_subjects(&user.name, subjects, now) {
                Ok(()) => Ok(alert),
                Err(e) => {
                    if alert.is_some() {
                        monitor.refund_break_glass(&user.name);
                    }
                    Err(e)
                }
            },
        }
    };
    match verdict {
        Ok(alert) => {
            if let Some(alert) = alert {
                if let Err(e) = state.audit_append(auth.alert_event(&alert)).await {
                    return Err(e.into_response());
                }
                return Ok(Some(true));
            }
            Ok(None)
        }
        Err(Exceeded {
            rule,
            retry_after_s,
            alert,
        }) => {
            if let Some(alert) = alert
                && let Err(e) = state.audit_append(auth.alert_event(&alert)).await
            {
                return Err(e.into_response());
            }
            let msg = format!(
                "{} budget spent; an alert has been raised for the auditors",
                rule.code()
            );
            Err(deny_with(
                state,
                auth,
                DenyReason::BudgetExceeded,
                &msg,
                Some(retry_after_s),
            )
            .await)
        }
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
    let Visible {
        people: visible,
        allowed,
        access,
        no_agreement,
    } = match scope(&state, &auth).await {
        Ok(v) => v,
        Err(resp) => return Ok(resp),
    };
    let snap = state.snapshot();
    let today = state.clock.today();
    let shown: Vec<_> = visible
        .iter()
        .filter_map(|id| snap.people.people.get(id))
        .filter(|p| category.is_none_or(|c| p.categories.contains(&c)))
        .collect();
    let subjects: BTreeSet<PersonRef> = shown.iter().map(|p| p.id.clone()).collect();
    let break_glass = match charge(&state, &auth, access, &subjects).await {
        Ok(b) => b,
        Err(resp) => return Ok(resp),
    };
    let mut event = auth.audit_event(AuditEventType::Consultation, Decision::Allow);
    event.break_glass = break_glass;
    let mut items = Vec::new();
    for p in shown {
        event = event.with_subject(&p.id, &p.categories, p.may_be_child_on(today));
        items.push(Value::Object(render_person(p, allowed.person, today)));
    }
    event.fields_returned = allowed.person.iter().map(|f| (*f).to_owned()).collect();
    event.query = json!({"route": auth.route, "category": category});
    event.record_count = items.len() as u64;
    state.audit_append(event).await?;
    Ok(Json(json!({
        "case_ref": auth.case_ref, "purpose": auth.purpose, "people": items,
        "withheld_no_sharing_agreement": no_agreement.len(),
        "notice": "Person-level data: use only for the stated purpose and case. Access is logged.",
    }))
    .into_response())
}

async fn person_in_scope(
    state: &AppState,
    auth: &Authorised,
    raw_id: &str,
) -> Result<(PersonRef, BTreeSet<PersonRef>, Allowlist, CaseAccess), Response> {
    let v = scope(state, auth).await?;
    // An unknown or malformed id is refused like an out-of-scope one: existence is not revealed.
    // A subject of the caller's own case held by another controller is refused by name (S20).
    match PersonRef::new(raw_id) {
        Ok(id) if v.people.contains(&id) => Ok((id, v.people, v.allowed, v.access)),
        Ok(id) if v.no_agreement.contains(&id) => {
            let msg = "this person's record is held by another controller and no sharing \
                       agreement flow covers your organisation and purpose";
            Err(deny(state, auth, DenyReason::NoSharingAgreement, msg).await)
        }
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
    let (id, _, allowed, access) = match person_in_scope(&state, &auth, &raw_id).await {
        Ok(v) => v,
        Err(resp) => return Ok(resp),
    };
    let snap = state.snapshot();
    let today = state.clock.today();
    let Some(p) = snap.people.people.get(&id) else {
        return Ok(deny(&state, &auth, DenyReason::SubjectNotInScope, "").await);
    };
    let break_glass = match charge(&state, &auth, access, &BTreeSet::from([id.clone()])).await {
        Ok(b) => b,
        Err(resp) => return Ok(resp),
    };
    let mut event = auth
        .audit_event(AuditEventType::Consultation, Decision::Allow)
        .with_subject(&p.id, &p.categories, p.may_be_child_on(today));
    event.break_glass = break_glass;
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
    let (id, visible, allowed, access) = match person_in_scope(&state, &auth, &raw_id).await {
        Ok(v) => v,
        Err(resp) => return Ok(resp),
    };
    let snap = state.snapshot();
    let today = state.clock.today();
    let (Some(user), Some(purpose)) = (&auth.user, auth.purpose) else {
        return Ok(deny(&state, &auth, DenyReason::RoleNotPermitted, "").await);
    };
    let permitted = |l: &crate::domain::Link| {
        state
            .agreements
            .permits(l.source.as_str(), user.org.as_deref(), purpose, today)
            .is_some()
    };
    let (links, withheld) = visible_links(&id, &visible, today, &snap.people, &permitted);
    let mut subjects = BTreeSet::from([id.clone()]);
    for l in &links {
        if let crate::domain::LinkTarget::Person(other) = &l.to {
            subjects.insert(other.clone());
        }
    }
    let break_glass = match charge(&state, &auth, access, &subjects).await {
        Ok(b) => b,
        Err(resp) => return Ok(resp),
    };
    let mut event = auth.audit_event(AuditEventType::Consultation, Decision::Allow);
    event.break_glass = break_glass;
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

/// Anomaly alerts for auditors (issue 12, point 2): the `alert` records of the audit log,
/// newest last. Reading them is itself logged.
async fn get_alerts(
    State(state): State<AppState>,
    auth: Authorised,
    params: Params,
) -> ApiResult<Response> {
    params.only(&["since_seq", "limit"])?;
    let since_seq = params.int_in("since_seq", 0..=u64::MAX >> 1, 0)?;
    let limit = params.int_in("limit", 1..=AUDIT_LIMIT_MAX, 1_000)? as usize;
    let filter = AuditFilter {
        since_seq,
        event_type: Some(AuditEventType::Alert),
        subject_id: None,
        actor_user_id: None,
        decision: None,
    };
    let mut event = auth.audit_event(AuditEventType::AuditRead, Decision::Allow);
    event.query = json!({"route": auth.route, "since_seq": since_seq, "limit": limit});
    let log = std::sync::Arc::clone(state.audit());
    let entries =
        super::blocking(move || log.read(&filter, limit).map_err(ApiError::internal)).await?;
    event.record_count = entries.len() as u64;
    state.audit_append(event).await?;
    let alerts: Vec<Value> = entries
        .iter()
        .map(crate::safeguards::access_cli::alert_json)
        .collect();
    Ok(Json(json!({"alerts": alerts})).into_response())
}
