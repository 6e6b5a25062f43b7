//! Integrity of the embedded store (issue 14, point 4): segment checksums, `SQLite`'s own
//! structure checks, and the report of `saferplaces check`.
//!
//! `SQLite` checks the structure of its pages (`PRAGMA quick_check`, `integrity_check`) but not
//! the values inside them: a bit flipped inside a blob leaves a well-formed database, and a
//! segment whose coordinates changed still decodes to valid, moved incidents. So every row of
//! `incident_segments` (the only blobs the store holds: the row tables keep typed columns and
//! JSON text) carries a checksum written in the transaction that writes the segment, and every
//! load verifies it before decoding a byte. A damaged segment is refused with
//! [`StoreError::Damaged`], naming the table, the segment and the incident ids it covers.
//!
//! The checksum is CRC-32 (IEEE 802.3 polynomial, `crc32fast`, SIMD: well over a GB/s here)
//! over the row count, file id, lowest and highest id (little-endian `i64`s), the length of the
//! id blob and both blobs. Every burst of up to 32 bits is detected for certain, and so is
//! every error of one or two bits in a message of up to 4,294,967,263 bits, about 512 MiB
//! (Hamming distance 3 at that length, P. Koopman, "32-bit cyclic redundancy codes for Internet
//! applications", DSN 2002; segments are a few MB); other damage escapes with probability 2^-32. It guards
//! against storage faults, not against someone who can write the file (they can recompute it;
//! the audit log's signatures cover that threat for the audit trail).
//!
//! Stores written before migration 0010 get their checksums in the migration itself: its Rust
//! step ([`fill_segment_checksums`]) decodes each old segment and stores the checksum of the
//! bytes that decode, in the migration's transaction. A segment that no longer decodes then
//! keeps a NULL checksum and every load refuses it as damaged. The migration cannot tell a
//! segment damaged before it ran from an intact one that decodes; it vouches only for bytes
//! that decode.
//!
//! At start (`serve`, `stats`), stores of at most [`QUICK_CHECK_MAX_BYTES`] also run
//! `PRAGMA quick_check`; larger stores skip it and rely on the checksums, and
//! `saferplaces check --full` runs `PRAGMA integrity_check` (which also checks that indexes
//! match their tables) on demand. Measured on a busy 2-core machine: 0.06 s for the 10 MB demo
//! store (row tables), 0.08 s for a 93 MB store of 2,000,000 imported incidents (mostly
//! segment blobs, whose overflow pages are cheap to check); CRC-32 itself ran at 35 GB/s.

use std::path::PathBuf;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, Row};

use super::{SqliteStore, db};
use crate::store::{StoreError, StoreResult};

/// The table of incident segments.
const SEGMENTS: &str = "incident_segments";

/// The largest database, in bytes, that `serve` and `stats` check with `PRAGMA quick_check`
/// at start: 256 MiB. Row tables cost the check about 6 ms per MB (the demo), so a store of
/// this size made of row tables adds about 1.5 s to a start; segment blobs cost a tenth of
/// that. Larger stores rely on the segment checksums at start; `saferplaces check` checks
/// them whole.
pub const QUICK_CHECK_MAX_BYTES: u64 = 256 << 20;

/// The columns every segment query selects, in the order [`SegmentRow::read`] reads them.
pub(super) const SEGMENT_COLUMNS: &str = "id, file_id, rows, min_id, max_id, ids, data, checksum";

/// The checksum of a segment row (see the module documentation).
pub(super) fn segment_checksum(
    rows: i64,
    file_id: i64,
    min_id: i64,
    max_id: i64,
    ids: &[u8],
    data: &[u8],
) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    for value in [rows, file_id, min_id, max_id] {
        hasher.update(&value.to_le_bytes());
    }
    hasher.update(&(ids.len() as u64).to_le_bytes());
    hasher.update(ids);
    hasher.update(data);
    hasher.finalize()
}

/// One row of `incident_segments` as read, before its bytes are trusted.
pub(super) struct SegmentRow<'a> {
    /// The segment's id.
    pub id: i64,
    /// The imported file the segment came from.
    pub file_id: i64,
    rows: i64,
    min_id: i64,
    max_id: i64,
    /// The id blob.
    pub ids: &'a [u8],
    /// The data blob.
    pub data: &'a [u8],
    checksum: Option<i64>,
}

impl<'a> SegmentRow<'a> {
    /// Reads a row selected with [`SEGMENT_COLUMNS`]. A column of the wrong type (a damaged
    /// record header reads as another type) is [`StoreError::Damaged`], not a driver error.
    pub(super) fn read(row: &'a Row<'_>) -> StoreResult<Self> {
        let context = "reading an incident segment";
        let id: i64 = row.get(0).map_err(db(context))?;
        let value = |idx: usize| row.get_ref(idx).map_err(db(context));
        let mut wrong = Vec::new();
        let mut int = |idx: usize, name: &str| -> StoreResult<i64> {
            Ok(match value(idx)? {
                ValueRef::Integer(v) => v,
                other => {
                    wrong.push(format!("{name} is {:?}, not an integer", other.data_type()));
                    0
                }
            })
        };
        let file_id = int(1, "file_id")?;
        let rows = int(2, "rows")?;
        let min_id = int(3, "min_id")?;
        let max_id = int(4, "max_id")?;
        let checksum = match value(7)? {
            ValueRef::Null => None,
            ValueRef::Integer(v) => Some(v),
            other => {
                wrong.push(format!(
                    "checksum is {:?}, not an integer",
                    other.data_type()
                ));
                None
            }
        };
        let mut blob = |idx: usize, name: &str| -> StoreResult<&'a [u8]> {
            Ok(match value(idx)? {
                ValueRef::Blob(b) => b,
                other => {
                    wrong.push(format!("{name} is {:?}, not a blob", other.data_type()));
                    &[]
                }
            })
        };
        let ids = blob(5, "ids")?;
        let data = blob(6, "data")?;
        let segment = Self {
            id,
            file_id,
            rows,
            min_id,
            max_id,
            ids,
            data,
            checksum,
        };
        if wrong.is_empty() {
            Ok(segment)
        } else {
            Err(segment.damaged(wrong.join(", ")))
        }
    }

    /// The checksum of the bytes as read.
    fn computed(&self) -> u32 {
        segment_checksum(
            self.rows,
            self.file_id,
            self.min_id,
            self.max_id,
            self.ids,
            self.data,
        )
    }

    /// Refuses the segment unless its stored checksum matches its bytes.
    ///
    /// # Errors
    ///
    /// [`StoreError::Damaged`] naming the segment: no checksum, or a different one.
    pub(super) fn verify(&self) -> StoreResult<()> {
        let computed = self.computed();
        match self.checksum {
            None => Err(self.damaged(
                "no checksum is stored (the segment did not decode when migration 0010 added \
                 checksums, or its checksum column was damaged)",
            )),
            Some(stored) if stored == i64::from(computed) => Ok(()),
            Some(stored) => Err(self.damaged(format!(
                "checksum mismatch: stored {stored:#010x}, the bytes give {computed:#010x}"
            ))),
        }
    }

    /// Rows the segment covers, as recorded.
    pub(super) fn rows(&self) -> u64 {
        self.rows.max(0).unsigned_abs()
    }

    fn damaged(&self, reason: impl Into<String>) -> StoreError {
        StoreError::Damaged {
            table: SEGMENTS,
            segment: self.id,
            first_id: self.min_id,
            last_id: self.max_id,
            rows: self.rows,
            reason: reason.into(),
        }
    }
}

/// The migration 0010 step: stores the checksum of every segment that has none and decodes,
/// in the caller's (the migration's) transaction; a segment that does not decode keeps NULL
/// and is refused as damaged by every load. Returns how many segments got a checksum.
pub(super) fn fill_segment_checksums(conn: &Connection) -> StoreResult<u64> {
    let context = "computing the checksums of stored incident segments (migration 0010)";
    let mut computed: Vec<(i64, u32)> = Vec::new();
    {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {SEGMENT_COLUMNS} FROM {SEGMENTS} WHERE checksum IS NULL ORDER BY id"
            ))
            .map_err(db(context))?;
        let mut rows = stmt.query([]).map_err(db(context))?;
        while let Some(row) = rows.next().map_err(db(context))? {
            let checked = SegmentRow::read(row).and_then(|segment| {
                super::super::segment::decode_incidents(segment.id, segment.ids, segment.data)
                    .map(|_| (segment.id, segment.computed()))
            });
            match checked {
                Ok(found) => computed.push(found),
                Err(e) => {
                    tracing::warn!(error = %e, "an incident segment stored before checksums does not decode; it is left without one and refused as damaged on load");
                }
            }
        }
    }
    let mut update = conn
        .prepare(&format!(
            "UPDATE {SEGMENTS} SET checksum = ?1 WHERE id = ?2"
        ))
        .map_err(db(context))?;
    for (id, checksum) in &computed {
        update
            .execute(rusqlite::params![i64::from(*checksum), id])
            .map_err(db(context))?;
    }
    Ok(computed.len() as u64)
}

/// What `saferplaces check` found ([`SqliteStore::check`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct CheckReport {
    /// The database file.
    pub file: PathBuf,
    /// Its size (pages × page size), in bytes.
    pub bytes: u64,
    /// The structure check run: `quick_check` or `integrity_check`.
    pub pragma: &'static str,
    /// `SQLite`'s messages (`["ok"]` when the structure is sound).
    pub pragma_messages: Vec<String>,
    /// Every table and its row count, by name.
    pub tables: Vec<(String, u64)>,
    /// Segments checked, and the rows they cover.
    pub segments: u64,
    /// Rows in segments.
    pub segment_rows: u64,
    /// Record tables read back and converted whole.
    pub decoded: Vec<&'static str>,
    /// Rows whose checksum was verified, over every table that carries one.
    pub rows_verified: u64,
    /// Every problem found, one sentence each (a damaged segment, a row that does not
    /// convert, a table that cannot be read).
    pub problems: Vec<String>,
}

impl CheckReport {
    /// True when nothing is damaged.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty() && self.pragma_messages == ["ok"]
    }

    /// The report as lines of text: what was checked, then `OK` or every problem.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "checking {} ({:.1} MB)",
            self.file.display(),
            self.bytes as f64 / 1e6
        )];
        out.push(format!(
            "PRAGMA {}: {}",
            self.pragma,
            self.pragma_messages.join("; ")
        ));
        let damaged = self
            .problems
            .iter()
            .filter(|p| p.contains(&format!("table {SEGMENTS}, segment")))
            .count();
        out.push(format!(
            "{SEGMENTS}: {} segment{}, {} rows{}, checksums verified and decoded",
            self.segments,
            if self.segments == 1 { "" } else { "s" },
            self.segment_rows,
            if damaged == 0 {
                String::new()
            } else {
                format!(" in intact segments ({damaged} damaged, below)")
            }
        ));
        out.extend(
            self.tables
                .iter()
                .map(|(table, rows)| format!("{table}: {rows} rows")),
        );
        out.push(format!("records decoded: {}", self.decoded.join(", ")));
        out.push(format!(
            "row checksums: {} rows verified in every table but {SEGMENTS}",
            self.rows_verified
        ));
        for problem in &self.problems {
            out.push(format!("DAMAGED: {problem}"));
        }
        if self.is_ok() {
            out.push("OK".to_owned());
        } else {
            let count = self.problems.len() + usize::from(self.pragma_messages != ["ok"]);
            out.push(format!(
                "the store is damaged: {count} problem(s) found; restore the database file from a backup"
            ));
        }
        out
    }
}

/// The record loaders `check` runs, by table (incident segments are checked on their own).
type Loader = fn(&Connection) -> StoreResult<usize>;

const LOADERS: [(&str, Loader); 11] = [
    ("incidents", |c| {
        super::load_incident_rows(c).map(|v| v.len())
    }),
    ("places", |c| super::load_places(c).map(|v| v.len())),
    ("schools", |c| super::load_schools(c).map(|v| v.len())),
    ("stops", |c| super::load_stops(c).map(|v| v.len())),
    ("routes", |c| super::load_routes(c).map(|v| v.len())),
    ("services", |c| super::load_services(c).map(|v| v.len())),
    ("boundaries", |c| super::load_boundaries(c).map(|v| v.len())),
    ("people", |c| super::load_people(c).map(|v| v.len())),
    ("links", |c| super::load_links(c).map(|v| v.len())),
    ("cases", |c| super::load_cases(c).map(|v| v.len())),
    ("meetings", |c| super::load_meetings(c).map(|v| v.len())),
];

impl SqliteStore {
    /// The database's size, pages × page size, in bytes.
    fn size_bytes(&self) -> StoreResult<u64> {
        let context = "reading the database size";
        let pages: i64 = self
            .conn
            .pragma_query_value(None, "page_count", |r| r.get(0))
            .map_err(db(context))?;
        let page: i64 = self
            .conn
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .map_err(db(context))?;
        Ok(pages.max(0).unsigned_abs() * page.max(0).unsigned_abs())
    }

    /// Runs `PRAGMA pragma` (`quick_check` or `integrity_check`) and returns `SQLite`'s
    /// messages, `["ok"]` when the structure is sound. An error running it (a page too damaged
    /// to read) is returned as its one message.
    fn structure_check(&self, pragma: &'static str) -> Vec<String> {
        let run = || -> rusqlite::Result<Vec<String>> {
            let mut stmt = self.conn.prepare(&format!("PRAGMA {pragma}"))?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect()
        };
        run().unwrap_or_else(|e| vec![e.to_string()])
    }

    /// At start (`serve`, `stats`): `PRAGMA quick_check` when the database is at most
    /// [`QUICK_CHECK_MAX_BYTES`]. Returns whether it ran.
    ///
    /// # Errors
    ///
    /// [`StoreError::StructureDamaged`] with `SQLite`'s messages.
    pub fn quick_check_if_small(&self) -> StoreResult<bool> {
        self.quick_check_up_to(QUICK_CHECK_MAX_BYTES)
    }

    /// [`Self::quick_check_if_small`] with the limit given.
    fn quick_check_up_to(&self, limit_bytes: u64) -> StoreResult<bool> {
        if self.size_bytes()? > limit_bytes {
            tracing::info!(
                limit_bytes,
                "store larger than the quick_check limit: relying on segment checksums at start; run `saferplaces check --full` to check it whole"
            );
            return Ok(false);
        }
        let messages = self.structure_check("quick_check");
        if messages == ["ok"] {
            Ok(true)
        } else {
            Err(StoreError::StructureDamaged {
                file: self.file.clone(),
                pragma: "quick_check",
                messages,
            })
        }
    }

    /// Verifies the checksum of every stored segment (without decoding them); returns the
    /// segments and rows checked.
    ///
    /// # Errors
    ///
    /// [`StoreError::Damaged`] naming the first damaged segment.
    pub fn verify_segments(&self) -> StoreResult<(u64, u64)> {
        let mut checked = (0, 0);
        self.for_each_segment(|segment| {
            segment.verify()?;
            checked.0 += 1;
            checked.1 += segment.rows();
            Ok(())
        })??;
        Ok(checked)
    }

    /// What `serve` and `stats` run before they use the store: [`Self::quick_check_if_small`],
    /// then [`Self::verify_segments`].
    ///
    /// # Errors
    ///
    /// As those two.
    pub fn verify_at_start(&self) -> StoreResult<()> {
        self.quick_check_if_small()?;
        self.verify_segments()?;
        self.read(super::row_checksum::verify)
    }

    /// Runs `visit` on every segment in id order inside one read transaction. The outer
    /// result is reading; the inner is the first error `visit` returned.
    fn for_each_segment(
        &self,
        mut visit: impl FnMut(&SegmentRow<'_>) -> StoreResult<()>,
    ) -> StoreResult<StoreResult<()>> {
        self.read(|conn| {
            let context = "reading incident segments";
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {SEGMENT_COLUMNS} FROM {SEGMENTS} ORDER BY id"
                ))
                .map_err(db(context))?;
            let mut rows = stmt.query([]).map_err(db(context))?;
            while let Some(row) = rows.next().map_err(db(context))? {
                if let Err(e) = SegmentRow::read(row).and_then(|s| visit(&s)) {
                    return Ok(Err(e));
                }
            }
            Ok(Ok(()))
        })
    }

    /// `saferplaces check`: `SQLite`'s structure check (`integrity_check` when `full`, else
    /// `quick_check`), the checksum of every segment and a decode of it, the row count of
    /// every table, and a conversion of every record table; every problem is collected, not
    /// only the first.
    ///
    /// # Errors
    ///
    /// A [`StoreError::Database`] only when the store cannot be read at all (damage is in the
    /// report).
    pub fn check(&self, full: bool) -> StoreResult<CheckReport> {
        let pragma = if full {
            "integrity_check"
        } else {
            "quick_check"
        };
        let mut report = CheckReport {
            file: self.file.clone(),
            bytes: self.size_bytes()?,
            pragma,
            pragma_messages: self.structure_check(pragma),
            tables: Vec::new(),
            segments: 0,
            segment_rows: 0,
            decoded: Vec::new(),
            rows_verified: 0,
            problems: Vec::new(),
        };
        let context = "reading incident segments";
        let segments = self.read(|conn| {
            let mut found = Vec::new();
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {SEGMENT_COLUMNS} FROM {SEGMENTS} ORDER BY id"
                ))
                .map_err(db(context))?;
            let mut rows = stmt.query([]).map_err(db(context))?;
            loop {
                match rows.next() {
                    Ok(Some(row)) => found.push(SegmentRow::read(row).and_then(|s| {
                        s.verify()?;
                        super::super::segment::decode_incidents(s.id, s.ids, s.data)?;
                        Ok(s.rows())
                    })),
                    Ok(None) => break,
                    Err(e) => {
                        found.push(Err(db(context)(e)));
                        break;
                    }
                }
            }
            Ok(found)
        });
        match segments {
            Ok(found) => {
                for checked in found {
                    report.segments += 1;
                    match checked {
                        Ok(rows) => report.segment_rows += rows,
                        Err(e) => report.problems.push(e.to_string()),
                    }
                }
            }
            Err(e) => report.problems.push(format!("table {SEGMENTS}: {e}")),
        }
        match self.read(table_counts) {
            Ok(tables) => report.tables = tables,
            Err(e) => report.problems.push(e.to_string()),
        }
        // Every damaged row, not only the first (issue 14, point 4).
        match self.read(|conn| super::row_checksum::damaged_rows(conn, usize::MAX)) {
            Ok(damaged) => {
                report.rows_verified = report
                    .tables
                    .iter()
                    .filter(|(table, _)| table != SEGMENTS)
                    .map(|(_, rows)| rows)
                    .sum();
                report
                    .problems
                    .extend(damaged.iter().map(ToString::to_string));
            }
            Err(e) => report.problems.push(format!("row checksums: {e}")),
        }
        for (table, load) in LOADERS {
            match self.read(load) {
                Ok(_) => report.decoded.push(table),
                Err(e) => report.problems.push(format!("table {table}: {e}")),
            }
        }
        Ok(report)
    }
}

/// Every table of the schema and its row count, by name.
fn table_counts(conn: &Connection) -> StoreResult<Vec<(String, u64)>> {
    let context = "counting the rows of every table";
    let names: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             ORDER BY name",
        )
        .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect())
        .map_err(db(context))?;
    names
        .into_iter()
        .map(|name| {
            let quoted = name.replace('"', "\"\"");
            let rows: i64 = conn
                .query_row(&format!("SELECT count(*) FROM \"{quoted}\""), [], |r| {
                    r.get(0)
                })
                .map_err(db(context))?;
            Ok((name, rows.max(0).unsigned_abs()))
        })
        .collect()
}

#[cfg(test)]
#[path = "integrity_tests.rs"]
mod tests;
