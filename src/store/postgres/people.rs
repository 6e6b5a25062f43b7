//! The person-level side of the PostgreSQL store: schema `people` (people, links, their
//! versions, reviews, cases and assignments, meetings, stop-and-search records, users).
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

pub(super) fn write_records(
    tx: &mut Transaction<'_>,
    data: &Dataset,
    written: &mut Written,
) -> StoreResult<()> {
    unbuilt("write_records")
}
pub(super) fn write_import(
    tx: &mut Transaction<'_>,
    batch: &ImportBatch,
    written: &mut ImportWritten,
) -> StoreResult<()> {
    unbuilt("write_import")
}
pub(super) fn stored_state(client: &mut Client, data: &Dataset) -> StoreResult<StoredState> {
    unbuilt("stored_state")
}
pub(super) fn counts(client: &mut Client, counts: &mut KindCounts) -> StoreResult<()> {
    unbuilt("counts")
}
pub(super) fn load_kinds(
    tx: &mut Transaction<'_>,
    kinds: &ChangeSet,
    dataset: &mut Dataset,
) -> StoreResult<()> {
    unbuilt("load_kinds")
}
pub(super) fn add_user(client: &mut Client, user: &NewUser) -> StoreResult<u64> {
    unbuilt("add_user")
}
pub(super) fn set_user_token(
    client: &mut Client,
    name: &str,
    token_hash: &str,
    token_expires_at: u64,
) -> StoreResult<bool> {
    unbuilt("set_user_token")
}
pub(super) fn revoke_user(
    client: &mut Client,
    name: &str,
    revoked_at: u64,
) -> StoreResult<Option<User>> {
    unbuilt("revoke_user")
}
pub(super) fn users(client: &mut Client) -> StoreResult<Vec<(String, User)>> {
    unbuilt("users")
}
pub(super) fn user_by_token_hash(
    client: &mut Client,
    token_hash: &str,
) -> StoreResult<Option<User>> {
    unbuilt("user_by_token_hash")
}
pub(super) fn assign_case(
    client: &mut Client,
    case_ref: &crate::domain::CaseRef,
    user: &str,
    by: &str,
    at: &str,
) -> StoreResult<Option<bool>> {
    unbuilt("assign_case")
}
pub(super) fn erase(
    client: &mut Client,
    people: &[PersonRef],
    links: &[u64],
) -> StoreResult<Erased> {
    unbuilt("erase")
}
pub(super) fn person(
    client: &mut Client,
    id: &PersonRef,
) -> StoreResult<Option<crate::domain::Person>> {
    unbuilt("person")
}
pub(super) fn record_review(
    client: &mut Client,
    review: &crate::safeguards::reviews::Review,
) -> StoreResult<u64> {
    unbuilt("record_review")
}
pub(super) fn latest_reviews(
    client: &mut Client,
    people: &[PersonRef],
) -> StoreResult<std::collections::BTreeMap<PersonRef, u64>> {
    unbuilt("latest_reviews")
}
pub(super) fn person_versions(
    client: &mut Client,
    id: &PersonRef,
) -> StoreResult<Vec<PersonVersion>> {
    unbuilt("person_versions")
}
pub(super) fn links_of_person(
    client: &mut Client,
    id: &PersonRef,
) -> StoreResult<Vec<crate::domain::Link>> {
    unbuilt("links_of_person")
}
pub(super) fn reviews_of(
    client: &mut Client,
    id: &PersonRef,
) -> StoreResult<Vec<(u64, crate::safeguards::reviews::Review)>> {
    unbuilt("reviews_of")
}
pub(super) fn cases_of(
    client: &mut Client,
    id: &PersonRef,
) -> StoreResult<Vec<crate::domain::Case>> {
    unbuilt("cases_of")
}
pub(super) fn meetings_of(
    client: &mut Client,
    id: &PersonRef,
) -> StoreResult<Vec<crate::domain::MaceMeeting>> {
    unbuilt("meetings_of")
}
