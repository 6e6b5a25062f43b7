//! What a store computes the same way whatever its database (SQLite or PostgreSQL), so the two
//! cannot drift: a withdrawal note's checks, an incident correction and the id of the incident
//! that amends another, and the fields a person or link amendment changed (issue 12 point 6).

use std::collections::BTreeSet;

use super::{IncidentCorrection, StoreError, StoreResult, WithdrawalNote};
use crate::domain::{
    Incident, IncidentLocation, Link, LocationPrecision, Person, SubjectCategory, TimePrecision,
};

/// Refuses a note without a reason of [`WithdrawalNote::MIN_REASON_CHARS`] characters or
/// without an actor; returns the trimmed reason and actor.
pub(super) fn checked_note<'a>(
    operation: &'static str,
    note: &'a WithdrawalNote,
) -> StoreResult<(&'a str, &'a str)> {
    let refused = |field, problem: String| StoreError::Refused {
        operation,
        field,
        problem,
    };
    let reason = note.reason.trim();
    let chars = reason.chars().count();
    if chars < WithdrawalNote::MIN_REASON_CHARS {
        return Err(refused(
            "reason",
            format!(
                "{chars} characters; give at least {} saying why",
                WithdrawalNote::MIN_REASON_CHARS
            ),
        ));
    }
    let actor = note.actor.trim();
    if actor.is_empty() {
        return Err(refused("actor", "empty; name who decided".to_owned()));
    }
    Ok((reason, actor))
}

/// The id of the incident that amends `old`: derived from it (`stable_id`, 63 bits, like
/// imported ids), so it cannot collide with a demo id and a repeat is found, not guessed.
pub(super) fn amended_id(old: u64) -> u64 {
    crate::ingest::report::stable_id("incident-amendment", &[&old.to_le_bytes()])
}

/// `stored` with `correction` applied, and the names of the fields that changed.
pub(super) fn apply_correction(
    stored: &Incident,
    correction: &IncidentCorrection,
) -> StoreResult<(Incident, Vec<&'static str>)> {
    let mut fields = Vec::new();
    let mut corrected = stored.clone();
    if let Some(category) = correction.category.filter(|c| *c != stored.category) {
        corrected.category = category;
        fields.push("category");
    }
    if let Some(point) = correction
        .location
        .filter(|p| stored.location.is_none_or(|l| l.point != *p))
    {
        corrected.location = Some(IncidentLocation {
            point,
            precision: stored
                .location
                .map_or(LocationPrecision::Exact, |l| l.precision),
        });
        fields.push("location");
    }
    if let Some(day) = correction.day.filter(|d| *d != stored.time.day) {
        corrected.time.day = day;
        // A corrected day of a month-precision incident is a known day.
        if corrected.time.precision == TimePrecision::Month {
            corrected.time.precision = TimePrecision::Day;
        }
        fields.push("day");
    }
    if fields.is_empty() {
        return Err(StoreError::Refused {
            operation: "amend an incident",
            field: "correction",
            problem: format!(
                "the category, location and day given are the ones incident {} has already",
                stored.id
            ),
        });
    }
    Ok((corrected, fields))
}

/// The same categories, in any order.
fn same_categories(a: &[SubjectCategory], b: &[SubjectCategory]) -> bool {
    let set = |c: &[SubjectCategory]| c.iter().copied().collect::<BTreeSet<_>>();
    set(a) == set(b)
}

/// The names whose flag is set.
fn changed<const N: usize>(fields: [(&'static str, bool); N]) -> Vec<&'static str> {
    fields
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect()
}

/// Names of the fields in which `new` differs from `old`.
pub(super) fn person_changes(old: &Person, new: &Person) -> Vec<&'static str> {
    changed([
        ("birth_year", old.birth_year != new.birth_year),
        (
            "categories",
            !same_categories(&old.categories, &new.categories),
        ),
        ("agency", old.source != new.source),
        ("review_due", old.review_due != new.review_due),
        ("isa_ref", old.isa_ref != new.isa_ref),
    ])
}

/// Names of the fields in which `new` differs from `old`.
pub(super) fn link_changes(old: &Link, new: &Link) -> Vec<&'static str> {
    changed([
        ("kind", old.kind != new.kind),
        ("from", old.from != new.from),
        ("to", old.to != new.to),
        (
            "categories",
            !same_categories(&old.categories, &new.categories),
        ),
        ("grade", old.grade != new.grade),
        ("agency", old.source != new.source),
        ("review_due", old.review_due != new.review_due),
        ("isa_ref", old.isa_ref != new.isa_ref),
    ])
}
