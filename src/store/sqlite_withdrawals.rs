//! Withdrawn and amended incidents in the `SQLite` store (issue 15, point 1): table
//! `incident_withdrawals` (migration 0013).
//!
//! A withdrawal is a row beside the incident, never a change to it: segments are immutable
//! (their checksums and the saved index's fingerprint rely on it). Every read that serves or
//! exports incidents reads the withdrawn ids first ([`Withdrawn`]) and skips them. An
//! amendment stores the corrected incident as a one-row segment under a new id, with the old
//! incident's source file, line and raw source fields, so a server adds it like any imported
//! incident (`ChangeKind::IncidentSegments`), and withdraws the old id naming the new one.
//! Both are one transaction with their change-feed rows.

use crate::store::shared::{amended_id, apply_correction as apply, checked_note};
use std::collections::{BTreeMap, HashSet};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::changes::{self as feed};
use super::{SqliteStore, db, integrity, sql_id};
use crate::domain::{Incident, IncidentId};
use crate::store::changes::ChangeKind;
use crate::store::{
    AmendedIncident, ImportedIncident, IncidentCorrection, SourceAttributes, StoreError,
    StoreResult, WithdrawalNote,
};

/// The table.
const TABLE: &str = "incident_withdrawals";

/// The ids of the withdrawn incidents, read once per read transaction.
#[derive(Debug, Default)]
pub(super) struct Withdrawn {
    /// Every withdrawn incident id.
    ids: HashSet<u64>,
    /// The segments holding at least one of them (the others are handed on untouched).
    segments: HashSet<i64>,
}

impl Withdrawn {
    /// Reads the withdrawn ids; none for a schema without the table (a store of an older
    /// schema opened read-only).
    pub(super) fn read(conn: &Connection) -> StoreResult<Self> {
        let context = "reading the withdrawn incidents";
        let mut found = Self::default();
        if !has_table(conn)? {
            return Ok(found);
        }
        let mut stmt = conn
            .prepare_cached("SELECT incident_id, segment FROM incident_withdrawals")
            .map_err(db(context))?;
        let mut rows = stmt.query([]).map_err(db(context))?;
        while let Some(row) = rows.next().map_err(db(context))? {
            let id: i64 = row.get(0).map_err(db(context))?;
            let segment: Option<i64> = row.get(1).map_err(db(context))?;
            found.ids.insert(id.cast_unsigned());
            if let Some(s) = segment {
                found.segments.insert(s);
            }
        }
        Ok(found)
    }

    /// `incidents` without the withdrawn ones.
    pub(super) fn keep(&self, mut incidents: Vec<Incident>) -> Vec<Incident> {
        if !self.ids.is_empty() {
            incidents.retain(|i| !self.ids.contains(&i.id.get()));
        }
        incidents
    }

    /// The incidents of segment `segment` without the withdrawn ones.
    pub(super) fn keep_segment(&self, segment: i64, incidents: Vec<Incident>) -> Vec<Incident> {
        if self.segments.contains(&segment) {
            self.keep(incidents)
        } else {
            incidents
        }
    }
}

/// True when the schema has the withdrawals table.
fn has_table(conn: &Connection) -> StoreResult<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
    )
    .and_then(|mut stmt| stmt.query_row([TABLE], |r| r.get(0)))
    .map_err(db("looking for the incident withdrawals"))
}

/// How many withdrawn incidents the incidents table holds, and how many the segments up to
/// `cursor` hold (for the fingerprint).
pub(super) fn counts(conn: &Connection, cursor: u64) -> StoreResult<(u64, u64)> {
    if !has_table(conn)? {
        return Ok((0, 0));
    }
    let (rows, segments): (i64, i64) = conn
        .prepare_cached(
            "SELECT COUNT(*) FILTER (WHERE segment IS NULL), \
             COUNT(*) FILTER (WHERE segment <= ?1) FROM incident_withdrawals",
        )
        .and_then(|mut stmt| {
            stmt.query_row([i64::try_from(cursor).unwrap_or(i64::MAX)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
        })
        .map_err(db("counting the withdrawn incidents"))?;
    Ok((rows.max(0).unsigned_abs(), segments.max(0).unsigned_abs()))
}

/// Every withdrawn incident, not counted in the stored incidents served.
pub(super) fn total(conn: &Connection) -> StoreResult<u64> {
    if !has_table(conn)? {
        return Ok(0);
    }
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM incident_withdrawals")
        .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
        .map_err(db("counting the withdrawn incidents"))?;
    Ok(n.max(0).unsigned_abs())
}

/// Where a stored incident is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A row of the incidents table.
    Table,
    /// In this segment.
    Segment(i64),
}

/// Where the incident `id` is stored, if it is.
fn locate(conn: &Connection, id: u64) -> StoreResult<Option<Place>> {
    let context = "looking up an incident";
    // An id beyond SQLite's integers cannot be stored.
    let Ok(key) = i64::try_from(id) else {
        return Ok(None);
    };
    let in_table: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM incidents WHERE id = ?1)")
        .and_then(|mut stmt| stmt.query_row([key], |r| r.get(0)))
        .map_err(db(context))?;
    if in_table {
        return Ok(Some(Place::Table));
    }
    // Segments of different files may overlap in id range; the id blob decides.
    let mut stmt = conn
        .prepare_cached("SELECT id, ids FROM incident_segments WHERE min_id <= ?1 AND max_id >= ?1")
        .map_err(db(context))?;
    let mut rows = stmt.query([key]).map_err(db(context))?;
    while let Some(row) = rows.next().map_err(db(context))? {
        let segment: i64 = row.get(0).map_err(db(context))?;
        let bytes = super::segment_blob(row, 1, segment, context)?;
        if holds_id(segment, bytes, id)? {
            return Ok(Some(Place::Segment(segment)));
        }
    }
    Ok(None)
}

/// True when a segment's id blob (ascending `u64`s) holds `id`: a binary search over the
/// blob's bytes, without decoding it (imported ids are hashes, so nearly every segment's id
/// range covers any id, and a store of 10M incidents has over 150 segments to look in).
fn holds_id(segment: i64, ids: &[u8], id: u64) -> StoreResult<bool> {
    if !ids.len().is_multiple_of(8) {
        // Reported as the decoder reports it.
        crate::store::segment::decode_ids(segment, ids)?;
    }
    let at = |k: usize| {
        let mut b = [0_u8; 8];
        b.copy_from_slice(&ids[k * 8..k * 8 + 8]);
        u64::from_le_bytes(b)
    };
    let (mut lo, mut hi) = (0, ids.len() / 8);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match at(mid).cmp(&id) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Ok(true),
        }
    }
    Ok(false)
}

/// Refuses an incident withdrawn before with [`StoreError::AlreadyWithdrawn`].
fn not_withdrawn(conn: &Connection, id: u64) -> StoreResult<()> {
    let context = "looking up an incident withdrawal";
    let before: Option<Option<i64>> = conn
        .prepare_cached("SELECT replaced_by FROM incident_withdrawals WHERE incident_id = ?1")
        .and_then(|mut stmt| stmt.query_row([id.cast_signed()], |r| r.get(0)).optional())
        .map_err(db(context))?;
    match before {
        Some(replaced_by) => Err(StoreError::AlreadyWithdrawn {
            id,
            replaced_by: replaced_by.map(i64::cast_unsigned),
        }),
        None => Ok(()),
    }
}

/// Records the withdrawal of `id` in the caller's transaction; returns its sequence number.
fn withdraw_one(
    conn: &Connection,
    id: u64,
    (reason, actor, at): (&str, &str, &str),
    replaced_by: Option<u64>,
) -> StoreResult<u64> {
    let context = "recording an incident withdrawal";
    let key = sql_id(id, context)?;
    not_withdrawn(conn, id)?;
    let segment = match locate(conn, id)? {
        None => {
            return Err(StoreError::NotFound {
                what: "incident",
                key: id.to_string(),
            });
        }
        Some(Place::Table) => None,
        Some(Place::Segment(s)) => Some(s),
    };
    let replaced_by = replaced_by.map(|r| sql_id(r, context)).transpose()?;
    let seq: i64 = conn
        .prepare_cached(
            "INSERT INTO incident_withdrawals \
             (incident_id, seq, segment, withdrawn_at, reason, actor, replaced_by) \
             VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM incident_withdrawals), \
             ?2, ?3, ?4, ?5, ?6) RETURNING seq",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![key, segment, at, reason, actor, replaced_by], |r| {
                r.get(0)
            })
        })
        .map_err(db(context))?;
    Ok(seq.cast_unsigned())
}

impl SqliteStore {
    /// [`crate::store::Store::withdraw_incidents`].
    pub(super) fn withdraw(
        &mut self,
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
        self.writing(OPERATION, |store| {
            let tx = store
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db("starting to withdraw incidents"))?;
            let mut done: BTreeMap<u64, u64> = BTreeMap::new();
            let mut seqs = Vec::with_capacity(ids.len());
            for id in ids {
                let id = id.get();
                let seq = match done.get(&id) {
                    Some(&seq) => seq,
                    None => withdraw_one(&tx, id, (reason, actor, &note.at), None)?,
                };
                done.insert(id, seq);
                seqs.push(seq);
            }
            feed::record(&tx, ChangeKind::IncidentWithdrawals, None)?;
            tx.commit().map_err(db("committing incident withdrawals"))?;
            Ok(seqs)
        })
    }

    /// [`crate::store::Store::amend_incident`].
    pub(super) fn amend(
        &mut self,
        id: IncidentId,
        correction: &IncidentCorrection,
        note: &WithdrawalNote,
    ) -> StoreResult<AmendedIncident> {
        const OPERATION: &str = "amend an incident";
        let (reason, actor) = checked_note(OPERATION, note)?;
        self.writing(OPERATION, |store| {
            let tx = store
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db("starting to amend an incident"))?;
            let old = id.get();
            // Checked first, so an amended incident's error names its replacement.
            not_withdrawn(&tx, old)?;
            let (stored, file_id) = stored_source(&tx, old, &note.at)?;
            let (corrected, fields) = apply(&stored.incident, correction)?;
            let new_id = amended_id(old);
            if locate(&tx, new_id)?.is_some() {
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
            let segment = write_one_row_segment(&tx, &row, file_id)?;
            feed::record(&tx, ChangeKind::IncidentSegments, Some((segment, segment)))?;
            let seq = withdraw_one(&tx, old, (reason, actor, &note.at), Some(new_id))?;
            feed::record(&tx, ChangeKind::IncidentWithdrawals, None)?;
            tx.commit()
                .map_err(db("committing an incident amendment"))?;
            Ok(AmendedIncident {
                incident: row.incident,
                replaces: id,
                fields,
                seq,
            })
        })
    }
}

/// The incident `id` as stored, with its source record (file, line, raw fields) and the
/// imported file it came from. A row of the incidents table without a source record (the
/// synthetic generator's) gets one: an `amendment` entry in the register of imported files.
fn stored_source(conn: &Connection, id: u64, at: &str) -> StoreResult<(ImportedIncident, i64)> {
    let not_found = || StoreError::NotFound {
        what: "incident",
        key: id.to_string(),
    };
    match locate(conn, id)?.ok_or_else(not_found)? {
        Place::Segment(segment) => {
            let context = "reading an incident segment";
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {} FROM incident_segments WHERE id = ?1",
                    integrity::SEGMENT_COLUMNS
                ))
                .map_err(db(context))?;
            let mut rows = stmt.query([segment]).map_err(db(context))?;
            let row = rows.next().map_err(db(context))?.ok_or_else(not_found)?;
            let seg = integrity::SegmentRow::read(row)?;
            seg.verify()?;
            let found = crate::store::segment::decode_rows(seg.id, seg.ids, seg.data)?
                .into_iter()
                .find(|r| r.incident.id.get() == id)
                .ok_or_else(not_found)?;
            Ok((
                ImportedIncident {
                    incident: found.incident,
                    line: found.line,
                    attributes: found.attributes,
                    outside_area: found.outside_area,
                },
                seg.file_id,
            ))
        }
        Place::Table => {
            let key = sql_id(id, "reading an incident")?;
            let incident = super::incident_rows(
                conn,
                &format!("{} WHERE id = ?1", super::SELECT_INCIDENT),
                [key],
            )?
            .pop()
            .ok_or_else(not_found)?;
            if let Some((file_id, line, attributes, outside_area)) = source_of(conn, key)? {
                return Ok((
                    ImportedIncident {
                        incident,
                        line,
                        attributes,
                        outside_area,
                    },
                    file_id,
                ));
            }
            let file_id = register_amendment(conn, id, at)?;
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
    }
}

/// A row incident's source record (imports before segments, migration 0003).
fn source_of(
    conn: &Connection,
    key: i64,
) -> StoreResult<Option<(i64, u64, SourceAttributes, bool)>> {
    let context = "reading an incident's source record";
    conn.prepare_cached(
        "SELECT file_id, line, source_ref, area_code, location, category_raw, outcome_raw, \
         outside_area FROM incident_sources WHERE incident_id = ?1",
    )
    .and_then(|mut stmt| {
        stmt.query_row([key], |r| {
            let text = |i| r.get::<_, Option<String>>(i).map(|t| t.map(Into::into));
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?.max(1).unsigned_abs(),
                SourceAttributes {
                    source_ref: text(2)?,
                    area_code: text(3)?,
                    location: text(4)?,
                    category_raw: text(5)?,
                    outcome_raw: text(6)?,
                    area_vintage: None,
                },
                r.get::<_, bool>(7)?,
            ))
        })
        .optional()
    })
    .map_err(db(context))
}

/// Registers the amendment of `id` in the register of imported files (kind `amendment`), as
/// the source of a corrected incident that had no source file; returns its id.
fn register_amendment(conn: &Connection, id: u64, at: &str) -> StoreResult<i64> {
    use sha2::Digest as _;
    let name = format!("amendment of incident {id}");
    let sha256 =
        crate::safeguards::audit::hex(&sha2::Sha256::digest(format!("{name} at {at}").as_bytes()));
    let summary = serde_json::json!({ "amends": id }).to_string();
    conn.execute(
        "INSERT INTO imported_files (file_sha256, kind, file_name, imported_at, summary) \
         VALUES (?1, 'amendment', ?2, ?3, ?4)",
        params![sha256, name, at, summary],
    )
    .map_err(db("registering an amendment as a source"))?;
    Ok(conn.last_insert_rowid())
}

/// Writes `row` as a segment of its own from file `file_id`; returns the segment's id.
fn write_one_row_segment(
    conn: &Connection,
    row: &ImportedIncident,
    file_id: i64,
) -> StoreResult<i64> {
    let seg = crate::store::segment::encode(&[row])?;
    super::insert_segment(conn, &seg, file_id, "storing an amended incident")
}

/// [`crate::store::Store::for_each_withdrawal_after`], inside a read transaction: the table's
/// withdrawn rows in one batch, then each segment's withdrawn incidents (the segment
/// verified first).
pub(super) fn for_each_after(
    conn: &Connection,
    after: u64,
    each: &mut dyn FnMut(Vec<Incident>),
) -> StoreResult<u64> {
    let context = "reading the withdrawn incidents";
    if !has_table(conn)? {
        return Ok(0);
    }
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let rows = super::incident_rows(
        conn,
        &format!(
            "{} WHERE id IN (SELECT incident_id FROM incident_withdrawals \
             WHERE seq > ?1 AND segment IS NULL) ORDER BY id",
            super::SELECT_INCIDENT
        ),
        [after],
    )?;
    if !rows.is_empty() {
        each(rows);
    }
    let mut by_segment: BTreeMap<i64, HashSet<u64>> = BTreeMap::new();
    {
        let mut stmt = conn
            .prepare_cached(
                "SELECT segment, incident_id FROM incident_withdrawals \
                 WHERE seq > ?1 AND segment IS NOT NULL",
            )
            .map_err(db(context))?;
        let mut found = stmt.query([after]).map_err(db(context))?;
        while let Some(row) = found.next().map_err(db(context))? {
            let segment: i64 = row.get(0).map_err(db(context))?;
            let id: i64 = row.get(1).map_err(db(context))?;
            by_segment
                .entry(segment)
                .or_default()
                .insert(id.cast_unsigned());
        }
    }
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {} FROM incident_segments WHERE id = ?1",
            integrity::SEGMENT_COLUMNS
        ))
        .map_err(db(context))?;
    for (segment, ids) in by_segment {
        let mut rows = stmt.query([segment]).map_err(db(context))?;
        let Some(row) = rows.next().map_err(db(context))? else {
            return Err(StoreError::Corrupt {
                table: TABLE,
                row: ids.iter().next().map(u64::to_string).unwrap_or_default(),
                reason: format!("segment {segment} is not stored"),
            });
        };
        let seg = integrity::SegmentRow::read(row)?;
        seg.verify()?;
        let mut incidents = crate::store::segment::decode_incidents(seg.id, seg.ids, seg.data)?;
        incidents.retain(|i| ids.contains(&i.id.get()));
        each(incidents);
    }
    let newest: Option<i64> = conn
        .prepare_cached("SELECT MAX(seq) FROM incident_withdrawals")
        .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
        .map_err(db(context))?;
    Ok(newest.map_or(0, |s| s.max(0).unsigned_abs()))
}

#[cfg(test)]
#[path = "withdrawals_tests.rs"]
mod tests;
