//! Withdrawn and amended incidents in the PostgreSQL store: table `incident_withdrawals`,
//! with the `SQLite` store's validation, errors and change-feed kinds
//! (`src/store/sqlite_withdrawals.rs` is the specification).
//!
//! An amendment stores the corrected incident under a new id as a batch of its own (a new
//! `segment` value) with the old incident's source file, line and raw fields, so a server adds
//! it like any imported incident (`ChangeKind::IncidentSegments`), and withdraws the old id
//! naming the new one. Each is one transaction with its change-feed rows.

use crate::store::shared::{amended_id, apply_correction as apply, checked_note};
use std::collections::BTreeMap;

use postgres::{Client, Transaction};

use super::super::super::{
    AmendedIncident, ImportedIncident, IncidentCorrection, SourceAttributes, StoreError,
    StoreResult, WithdrawalNote,
};
use super::{INCIDENT_COLUMNS, incident_row, lock_writes, pg, record_change, sql_id, unsigned};
use crate::domain::{Incident, IncidentId};
use crate::store::changes::ChangeKind;

pub(in super::super) fn withdraw_incidents(
    client: &mut Client,
    ids: &[IncidentId],
    note: &WithdrawalNote,
) -> StoreResult<Vec<u64>> {
    const OPERATION: &str = "withdraw incidents";
    let (reason, actor) = checked_note(OPERATION, note)?;
    if ids.is_empty() {
        return Err(StoreError::Refused {
            operation: OPERATION,
            field: "ids",
            problem: "none given".to_owned(),
        });
    }
    let mut tx = client
        .transaction()
        .map_err(pg("starting to withdraw incidents"))?;
    lock_writes(&mut tx)?;
    let mut done: BTreeMap<u64, u64> = BTreeMap::new();
    let mut seqs = Vec::with_capacity(ids.len());
    for id in ids {
        let id = id.get();
        let seq = match done.get(&id) {
            Some(&seq) => seq,
            None => withdraw_one(&mut tx, id, (reason, actor, &note.at), None)?,
        };
        done.insert(id, seq);
        seqs.push(seq);
    }
    record_change(&mut tx, ChangeKind::IncidentWithdrawals, None)?;
    tx.commit().map_err(pg("committing incident withdrawals"))?;
    Ok(seqs)
}

pub(in super::super) fn amend_incident(
    client: &mut Client,
    id: IncidentId,
    correction: &IncidentCorrection,
    note: &WithdrawalNote,
) -> StoreResult<AmendedIncident> {
    const OPERATION: &str = "amend an incident";
    let (reason, actor) = checked_note(OPERATION, note)?;
    let mut tx = client
        .transaction()
        .map_err(pg("starting to amend an incident"))?;
    lock_writes(&mut tx)?;
    let old = id.get();
    // Checked first, so an amended incident's error names its replacement.
    not_withdrawn(&mut tx, old)?;
    let (stored, file_id) = stored_source(&mut tx, old, &note.at)?;
    let (corrected, fields) = apply(&stored.incident, correction)?;
    let new_id = amended_id(old);
    if segment_of(&mut tx, new_id)?.is_some() {
        return Err(StoreError::Duplicate {
            what: "incident",
            key: new_id.to_string(),
        });
    }
    let row = ImportedIncident {
        incident: Incident {
            id: IncidentId::new(new_id),
            ..corrected
        },
        ..stored
    };
    let batch = super::import::next_batch(&mut tx)?;
    super::import::insert_sourced(&mut tx, &row, file_id, batch)?;
    record_change(&mut tx, ChangeKind::IncidentSegments, Some((batch, batch)))?;
    let seq = withdraw_one(&mut tx, old, (reason, actor, &note.at), Some(new_id))?;
    record_change(&mut tx, ChangeKind::IncidentWithdrawals, None)?;
    tx.commit()
        .map_err(pg("committing an incident amendment"))?;
    Ok(AmendedIncident {
        incident: row.incident,
        replaces: id,
        fields,
        seq,
    })
}

/// Where a stored incident is.
struct Stored {
    /// The batch that stored it; `None` for a row written one by one.
    batch: Option<i64>,
}

/// Where the incident `id` is stored, if it is.
fn segment_of(tx: &mut Transaction<'_>, id: u64) -> StoreResult<Option<Stored>> {
    // An id beyond a bigint cannot be stored.
    let Ok(key) = i64::try_from(id) else {
        return Ok(None);
    };
    tx.query_opt("SELECT segment FROM incidents WHERE id = $1", &[&key])
        .map_err(pg("looking up an incident"))?
        .map(|r| r.try_get(0).map(|batch| Stored { batch }))
        .transpose()
        .map_err(pg("looking up an incident"))
}

/// Refuses an incident withdrawn before with [`StoreError::AlreadyWithdrawn`].
fn not_withdrawn(tx: &mut Transaction<'_>, id: u64) -> StoreResult<()> {
    let context = "looking up an incident withdrawal";
    let Ok(key) = i64::try_from(id) else {
        return Ok(());
    };
    let before = tx
        .query_opt(
            "SELECT replaced_by FROM incident_withdrawals WHERE incident_id = $1",
            &[&key],
        )
        .map_err(pg(context))?;
    match before {
        Some(row) => {
            let replaced_by: Option<i64> = row.try_get(0).map_err(pg(context))?;
            Err(StoreError::AlreadyWithdrawn {
                id,
                replaced_by: replaced_by.map(unsigned),
            })
        }
        None => Ok(()),
    }
}

/// Records the withdrawal of `id` in the caller's transaction (which holds the write lock);
/// returns its sequence number.
fn withdraw_one(
    tx: &mut Transaction<'_>,
    id: u64,
    (reason, actor, at): (&str, &str, &str),
    replaced_by: Option<u64>,
) -> StoreResult<u64> {
    let context = "recording an incident withdrawal";
    not_withdrawn(tx, id)?;
    let Some(Stored { batch: segment }) = segment_of(tx, id)? else {
        return Err(StoreError::NotFound {
            what: "incident",
            key: id.to_string(),
        });
    };
    let key = sql_id(id, "withdraw incidents")?;
    let replaced_by = replaced_by
        .map(|r| sql_id(r, "withdraw incidents"))
        .transpose()?;
    let seq: i64 = tx
        .query_one(
            "INSERT INTO incident_withdrawals \
             (incident_id, seq, segment, withdrawn_at, reason, actor, replaced_by) \
             VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM incident_withdrawals), \
             $2, $3, $4, $5, $6) RETURNING seq",
            &[&key, &segment, &at, &reason, &actor, &replaced_by],
        )
        .and_then(|r| r.try_get(0))
        .map_err(pg(context))?;
    Ok(unsigned(seq))
}

/// The incident `id` as stored, with its source record and the imported file it came from. An
/// incident without a source (the synthetic generator's) gets one: an `amendment` entry in
/// the register of imported files.
fn stored_source(
    tx: &mut Transaction<'_>,
    id: u64,
    at: &str,
) -> StoreResult<(ImportedIncident, i64)> {
    let context = "reading an incident";
    let not_found = || StoreError::NotFound {
        what: "incident",
        key: id.to_string(),
    };
    let key = i64::try_from(id).map_err(|_| not_found())?;
    let row = tx
        .query_opt(
            &format!(
                "SELECT {INCIDENT_COLUMNS}, i.file_id, i.line, i.source_ref, i.area_code, \
                 i.location, i.category_raw, i.outcome_raw, i.area_vintage, i.outside_area \
                 FROM incidents i WHERE i.id = $1"
            ),
            &[&key],
        )
        .map_err(pg(context))?
        .ok_or_else(not_found)?;
    let incident = incident_row(&row)?;
    let file_id: Option<i64> = row.try_get(11).map_err(pg(context))?;
    if let Some(file_id) = file_id {
        let line: i64 = row.try_get(12).map_err(pg(context))?;
        let text = |i| {
            row.try_get::<_, Option<String>>(i)
                .map(|t| t.map(Into::into))
                .map_err(pg(context))
        };
        let attributes = SourceAttributes {
            source_ref: text(13)?,
            area_code: text(14)?,
            location: text(15)?,
            category_raw: text(16)?,
            outcome_raw: text(17)?,
            area_vintage: text(18)?,
        };
        let outside_area: bool = row.try_get(19).map_err(pg(context))?;
        return Ok((
            ImportedIncident {
                incident,
                line: unsigned(line).max(1),
                attributes,
                outside_area,
            },
            file_id,
        ));
    }
    let file_id = register_amendment(tx, id, at)?;
    Ok((
        ImportedIncident {
            incident,
            line: 1,
            attributes: SourceAttributes::default(),
            outside_area: false,
        },
        file_id,
    ))
}

/// Registers the amendment of `id` in the register of imported files (kind `amendment`), as
/// the source of a corrected incident that had none; returns its id.
fn register_amendment(tx: &mut Transaction<'_>, id: u64, at: &str) -> StoreResult<i64> {
    use sha2::Digest as _;
    let name = format!("amendment of incident {id}");
    let sha256 =
        crate::safeguards::audit::hex(&sha2::Sha256::digest(format!("{name} at {at}").as_bytes()));
    let summary = serde_json::json!({ "amends": id });
    super::import::register_file(tx, &sha256, "amendment", &name, at, &summary)
}
