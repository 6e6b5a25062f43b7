//! `saferplaces equality run` and `equality close` (and the monthly job): the monitor over the
//! store, its stored results, its alerts and their audit records. `main` only parses
//! arguments and prints.
//!
//! A run of month M reads the people, links, incidents, equality attributes, stop-and-search
//! records and resident baselines, computes M's comparisons ([`super::monitor`]) and stores
//! them. When M−1 was never run it is computed and stored first, so the two-month trigger can
//! hold on the first run. Every comparison flagged in both M−1 and M opens an alert (once per
//! month and comparison), written to `equality_alerts` and audited as an `alert` event. The
//! run itself is audited as a `consultation` for the `equality_monitoring` purpose: it reads
//! every person's ethnicity.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use super::baselines::BaselineTotals;
use super::monitor::{Comparison, MonthData, monitor_month, triggered};
use super::{CloseOutcome, EqualityAlert, EqualityError, Month};
use crate::domain::{PurposeCode, Role};
use crate::safeguards::audit::{
    AuditError, AuditEvent, AuditEventType, AuditLog, Decision, rfc3339_millis,
};
use crate::safeguards::policy::POLICY_VERSION;
use crate::store::{SqliteStore, Store, StoreError};

/// The shortest explain-or-reform record accepted, in characters (after trimming).
pub const MIN_RECORD_CHARS: usize = 30;

/// The audit rule name of an S22 alert.
pub const ALERT_RULE: &str = "s22_disproportionality";

/// Errors of the equality commands.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EqualityCliError {
    /// An argument is not valid.
    #[error(transparent)]
    Invalid(#[from] EqualityError),
    /// The explain-or-reform record is too short.
    #[error(
        "--record: an alert closes only with an explain-or-reform record of at least {MIN_RECORD_CHARS} characters (got {0})"
    )]
    RecordTooShort(usize),
    /// No open alert has this id.
    #[error("no open equality alert has id {0} (see `saferplaces equality alerts`)")]
    NoOpenAlert(u64),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit log failed.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The month run.
    pub month: String,
    /// True when the previous month had to be computed too.
    pub computed_previous: bool,
    /// The month's comparisons.
    pub comparisons: Vec<Comparison>,
    /// How many are flagged.
    pub flagged: usize,
    /// Ids of the alerts this run opened.
    pub alerts_opened: Vec<u64>,
}

fn event(event_type: AuditEventType, decision: Decision, actor: &str) -> AuditEvent {
    let mut e = AuditEvent::new(event_type, Role::EqualityMonitor.code(), decision);
    e.actor_user_id = Some(actor.to_owned());
    e.client = Some("cli".to_owned());
    e.purpose_code = Some(PurposeCode::EqualityMonitoring.code().to_owned());
    POLICY_VERSION.clone_into(&mut e.policy_version);
    e
}

/// Runs the monitor for `month` (module docs) as `actor`.
///
/// # Errors
///
/// [`EqualityCliError::Store`] or [`EqualityCliError::Audit`] when the store or log fails.
pub fn run_month(
    store: &mut SqliteStore,
    audit: &AuditLog,
    month: Month,
    actor: &str,
) -> Result<RunReport, EqualityCliError> {
    let data = store.load()?;
    let equality = store.person_equality()?;
    let stop_searches = store.stop_searches()?;
    let residents = BaselineTotals::new(&store.equality_baselines()?);
    let input = MonthData {
        people: &data.people,
        links: &data.links,
        incidents: &data.incidents,
        equality: &equality,
        stop_searches: &stop_searches,
        residents: &residents,
    };
    let now = rfc3339_millis(std::time::SystemTime::now());
    let previous_month = month.previous();
    let stored_previous = store.equality_results(previous_month)?;
    let computed_previous = stored_previous.is_none();
    let previous = if let Some(p) = stored_previous {
        p
    } else {
        let p = monitor_month(previous_month, &input);
        store.replace_equality_results(previous_month, &p, &now)?;
        store.record_equality_run(previous_month, &now)?;
        p
    };
    let comparisons = monitor_month(month, &input);
    store.replace_equality_results(month, &comparisons, &now)?;
    store.record_equality_run(month, &now)?;
    let mut alerts_opened = Vec::new();
    for c in triggered(&previous, &comparisons) {
        let Some(id) = store.open_equality_alert(month, c, &now)? else {
            continue;
        };
        let mut e = event(AuditEventType::Alert, Decision::Allow, actor);
        let est = c.outcome.estimate();
        e.query = json!({
            "rule": ALERT_RULE, "alert_id": id, "month": month.to_string(),
            "population": c.population, "dimension": c.dimension.code(), "group": c.group,
            "reference": c.reference, "rri": est.map(|e| e.rri),
            "ci": est.map(|e| [e.ci_low, e.ci_high]),
        });
        e.record_count = 1;
        audit.append(e)?;
        alerts_opened.push(id);
    }
    let flagged = comparisons.iter().filter(|c| c.flagged()).count();
    let mut e = event(AuditEventType::Consultation, Decision::Allow, actor);
    e.query = json!({
        "command": "equality run", "month": month.to_string(),
        "computed_previous": computed_previous, "comparisons": comparisons.len(),
        "flagged": flagged, "alerts_opened": alerts_opened,
    });
    e.fields_returned = vec![
        "ethnicity".into(),
        "sex".into(),
        "deprivation_decile".into(),
        "authority".into(),
        "msoa".into(),
    ];
    e.record_count = equality.len() as u64;
    audit.append(e)?;
    Ok(RunReport {
        month: month.to_string(),
        computed_previous,
        comparisons,
        flagged,
        alerts_opened,
    })
}

/// Closes alert `id` with an explain-or-reform `record` (at least [`MIN_RECORD_CHARS`]
/// characters) as `actor`. A refusal is audited too (decision `deny`), so attempts to close
/// an alert without a record are visible.
///
/// # Errors
///
/// [`EqualityCliError::Invalid`] for an unknown outcome, [`EqualityCliError::RecordTooShort`],
/// [`EqualityCliError::NoOpenAlert`], or a store or log failure.
pub fn close_alert(
    store: &mut SqliteStore,
    audit: &AuditLog,
    id: u64,
    outcome: &str,
    record: &str,
    actor: &str,
) -> Result<EqualityAlert, EqualityCliError> {
    let refuse = |reason: &str| -> Result<(), EqualityCliError> {
        let mut e = event(AuditEventType::Alteration, Decision::Deny, actor);
        e.query = json!({"command": "equality close", "alert_id": id, "outcome": outcome});
        e.deny_reason = Some(reason.to_owned());
        audit.append(e)?;
        Ok(())
    };
    let outcome: CloseOutcome = match outcome.parse() {
        Ok(o) => o,
        Err(err) => {
            refuse("INVALID_OUTCOME")?;
            return Err(EqualityCliError::Invalid(err));
        }
    };
    let record = record.trim();
    let len = record.chars().count();
    if len < MIN_RECORD_CHARS {
        refuse("EXPLAIN_OR_REFORM_RECORD_REQUIRED")?;
        return Err(EqualityCliError::RecordTooShort(len));
    }
    let now = rfc3339_millis(std::time::SystemTime::now());
    if !store.close_equality_alert(id, outcome, record, actor, &now)? {
        refuse("NO_OPEN_ALERT")?;
        return Err(EqualityCliError::NoOpenAlert(id));
    }
    let mut e = event(AuditEventType::Alteration, Decision::Allow, actor);
    e.query = json!({
        "command": "equality close", "alert_id": id, "outcome": outcome.code(),
        "record_chars": len,
    });
    e.record_count = 1;
    audit.append(e)?;
    let alerts: BTreeMap<u64, EqualityAlert> = store
        .equality_alerts()?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    alerts
        .get(&id)
        .cloned()
        .ok_or(EqualityCliError::NoOpenAlert(id))
}

/// The month before the one holding `today`: the last full month, which the monthly job runs.
pub fn last_full_month(today: crate::domain::Day) -> Month {
    Month::of(today).previous()
}

/// The month the monthly job is due to run: the last full month before `today`, but no later
/// than the month of the latest record the data hold (`latest`), so a month is not computed
/// (and then never recomputed) before its records have been imported. `None` when the data
/// hold no record.
pub fn due_month(today: crate::domain::Day, latest: Option<crate::domain::Day>) -> Option<Month> {
    latest.map(|day| last_full_month(today).min(Month::of(day)))
}

/// The monthly job: runs [`due_month`] unless it has a result already. Returns the report when
/// it ran.
///
/// # Errors
///
/// As [`run_month`].
pub fn run_if_due(
    store: &mut SqliteStore,
    audit: &AuditLog,
    today: crate::domain::Day,
    latest: Option<crate::domain::Day>,
) -> Result<Option<RunReport>, EqualityCliError> {
    let Some(month) = due_month(today, latest) else {
        return Ok(None);
    };
    if store.equality_results(month)?.is_some() {
        return Ok(None);
    }
    run_month(store, audit, month, "system:equality-monthly").map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> crate::domain::Day {
        s.parse().unwrap()
    }

    #[test]
    fn the_due_month_waits_for_the_data_of_the_month() {
        let month = |s: &str| Month::of(day(s));
        // Data through October, today in December: October, not the empty November.
        assert_eq!(
            due_month(day("2026-12-07"), Some(day("2026-10-31"))),
            Some(month("2026-10-01"))
        );
        // November's records are in: November.
        assert_eq!(
            due_month(day("2026-12-07"), Some(day("2026-11-01"))),
            Some(month("2026-11-01"))
        );
        // Records of December already: still the last full month.
        assert_eq!(
            due_month(day("2026-12-07"), Some(day("2026-12-05"))),
            Some(month("2026-11-01"))
        );
        assert_eq!(due_month(day("2026-12-07"), None), None);
    }
}
