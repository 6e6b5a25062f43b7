//! The spatial side of the PostgreSQL store: `public`'s incidents, withdrawals, duplicate
//! links, imported files, reference layers, and the change feed.
#![allow(clippy::needless_pass_by_ref_mut, unused_variables)]

use postgres::{Client, Transaction};

use super::super::changes::ChangeSet;
#[allow(unused_imports)]
use super::super::{
    AmendedIncident, Erased, ImportBatch, ImportFile, ImportWritten, IncidentCorrection,
    IncidentsFingerprint, KindCounts, NewUser, PersonVersion, WithdrawalNote, Written,
};
use super::super::{StoreError, StoreResult};
#[allow(unused_imports)]
use crate::domain::{Dataset, PersonRef, User};
#[allow(unused_imports)]
use crate::safeguards::rules::StoredState;

/// SKELETON: replaced by the implementation.
fn unbuilt<T>(what: &'static str) -> StoreResult<T> {
    Err(StoreError::Refused {
        operation: what,
        field: "store",
        problem: "not built yet".into(),
    })
}

pub(super) fn schema_version(client: &mut Client) -> StoreResult<u32> {
    unbuilt("schema_version")
}
pub(super) fn write_records(
    tx: &mut Transaction<'_>,
    data: &Dataset,
    written: &mut Written,
) -> StoreResult<()> {
    unbuilt("write_records")
}
pub(super) fn counts(client: &mut Client, counts: &mut KindCounts) -> StoreResult<()> {
    unbuilt("counts")
}
pub(super) fn change_marker(client: &mut Client) -> StoreResult<u64> {
    unbuilt("change_marker")
}
pub(super) fn latest_change(client: &mut Client) -> StoreResult<u64> {
    unbuilt("latest_change")
}
pub(super) fn changes_since(client: &mut Client, after: u64) -> StoreResult<ChangeSet> {
    unbuilt("changes_since")
}
pub(super) fn load_kinds(
    tx: &mut Transaction<'_>,
    kinds: &ChangeSet,
    dataset: &mut Dataset,
) -> StoreResult<u64> {
    unbuilt("load_kinds")
}
pub(super) fn for_each_incident_batch(
    client: &mut Client,
    each: &mut dyn FnMut(Vec<crate::domain::Incident>),
) -> StoreResult<u64> {
    unbuilt("for_each_incident_batch")
}
pub(super) fn incidents_fingerprint(
    client: &mut Client,
    cursor: u64,
) -> StoreResult<IncidentsFingerprint> {
    unbuilt("incidents_fingerprint")
}
pub(super) fn for_each_incident_after_segment(
    client: &mut Client,
    after: u64,
    each: &mut dyn FnMut(Vec<crate::domain::Incident>),
) -> StoreResult<u64> {
    unbuilt("for_each_incident_after_segment")
}
pub(super) fn incident_rows_after_segment(client: &mut Client, after: u64) -> StoreResult<u64> {
    unbuilt("incident_rows_after_segment")
}
pub(super) fn withdraw_incidents(
    client: &mut Client,
    ids: &[crate::domain::IncidentId],
    note: &WithdrawalNote,
) -> StoreResult<Vec<u64>> {
    unbuilt("withdraw_incidents")
}
pub(super) fn amend_incident(
    client: &mut Client,
    id: crate::domain::IncidentId,
    correction: &IncidentCorrection,
    note: &WithdrawalNote,
) -> StoreResult<AmendedIncident> {
    unbuilt("amend_incident")
}
pub(super) fn for_each_withdrawal_after(
    client: &mut Client,
    after: u64,
    each: &mut dyn FnMut(Vec<crate::domain::Incident>),
) -> StoreResult<u64> {
    unbuilt("for_each_withdrawal_after")
}
pub(super) fn write_import(
    tx: &mut Transaction<'_>,
    batch: &ImportBatch,
    file: &ImportFile,
    summary: &serde_json::Value,
) -> StoreResult<ImportWritten> {
    unbuilt("write_import")
}
pub(super) fn write_matches(
    client: &mut Client,
    matches: &[crate::ingest::reconcile::LikelyDuplicate],
    params: &serde_json::Value,
    found_at: &str,
) -> StoreResult<u64> {
    unbuilt("write_matches")
}
