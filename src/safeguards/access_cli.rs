//! The access-governance commands: `saferplaces case assign` and `saferplaces audit alerts`
//! (issue 12, points 1 and 2). Pure functions over a [`Store`] and an [`AuditLog`], so the
//! binary's `main` only parses arguments and prints.

use serde_json::{Value, json};

use crate::domain::{CaseRef, Role};
use crate::store::{Store, StoreError};

use super::audit::{
    AuditError, AuditEvent, AuditEventType, AuditFilter, AuditLog, Decision, SYSTEM_ACTOR_ROLE,
    rfc3339_millis,
};
use super::policy::POLICY_VERSION;

/// Errors of the access commands.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessCliError {
    /// No case has this reference.
    #[error("no case {0} is stored")]
    NoSuchCase(CaseRef),
    /// No user has this name.
    #[error("no user {0:?} exists (create one with `saferplaces user add`)")]
    NoSuchUser(String),
    /// The user's role does not read person-level data through cases.
    #[error("user {user:?} has role {role}; only police_analyst users are assigned to cases")]
    WrongRole {
        /// The user.
        user: String,
        /// Their role.
        role: Role,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit log failed.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// Who runs a command from the shell: the operating-system user, for the audit record.
pub fn cli_actor() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .map_or_else(|_| "cli".to_owned(), |u| format!("cli:{u}"))
}

/// Assigns `user` to `case_ref`, auditing the assignment (an `alteration` of access data with
/// the case and the user). Returns false when the user was already assigned (audited too, as a
/// no-op, so every attempt is visible).
///
/// # Errors
///
/// [`AccessCliError`] when the case or user does not exist, the user's role is not
/// `police_analyst`, or the store or log fails.
pub fn assign_case(
    store: &mut dyn Store,
    audit: &AuditLog,
    case_ref: &CaseRef,
    user: &str,
) -> Result<bool, AccessCliError> {
    let users = store.users()?;
    let Some((_, found)) = users.iter().find(|(_, u)| u.name == user) else {
        return Err(AccessCliError::NoSuchUser(user.to_owned()));
    };
    if found.role != Role::PoliceAnalyst {
        return Err(AccessCliError::WrongRole {
            user: user.to_owned(),
            role: found.role,
        });
    }
    let actor = cli_actor();
    let at = rfc3339_millis(std::time::SystemTime::now());
    let new = store
        .assign_case(case_ref, user, &actor, &at)?
        .ok_or_else(|| AccessCliError::NoSuchCase(case_ref.clone()))?;
    let mut event = AuditEvent::new(
        AuditEventType::Alteration,
        SYSTEM_ACTOR_ROLE,
        Decision::Allow,
    );
    event.actor_user_id = Some(actor);
    event.client = Some("cli".to_owned());
    event.case_ref = Some(case_ref.as_str().to_owned());
    event.query = json!({"command": "case assign", "user": user, "org": found.org, "new": new});
    event.record_count = u64::from(new);
    POLICY_VERSION.clone_into(&mut event.policy_version);
    audit.append(event)?;
    Ok(new)
}

/// One alert as auditors read it: sequence, time, user, rule, window and counts.
pub fn alert_json(entry: &super::audit::AuditEntry) -> Value {
    let e = &entry.event;
    json!({
        "seq": entry.seq, "ts_utc": e.ts_utc, "user": e.actor_user_id, "org": e.actor_org,
        "role": e.actor_role, "rule": e.query.get("rule"), "window_s": e.query.get("window_s"),
        "count": e.query.get("count"), "limit": e.query.get("limit"), "case_ref": e.case_ref,
        "route": e.query.get("route"),
    })
}

/// The alert records of the log at `audit`, oldest first, as auditors read them. The read is
/// itself logged (S17).
///
/// # Errors
///
/// [`AccessCliError::Audit`] when the log cannot be read or the read cannot be logged.
pub fn alerts(audit: &AuditLog, limit: usize) -> Result<Vec<Value>, AccessCliError> {
    let filter = AuditFilter {
        since_seq: 0,
        event_type: Some(AuditEventType::Alert),
        subject_id: None,
        actor_user_id: None,
        decision: None,
    };
    let found: Vec<Value> = audit.read(&filter, limit)?.iter().map(alert_json).collect();
    let mut event = AuditEvent::new(
        AuditEventType::AuditRead,
        SYSTEM_ACTOR_ROLE,
        Decision::Allow,
    );
    event.actor_user_id = Some(cli_actor());
    event.client = Some("cli".to_owned());
    event.query = json!({"command": "audit alerts", "limit": limit});
    event.record_count = found.len() as u64;
    POLICY_VERSION.clone_into(&mut event.policy_version);
    audit.append(event)?;
    Ok(found)
}
