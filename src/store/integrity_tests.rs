//! Tests of segment checksums, the migration that adds them, the structure checks and the
//! `check` report (issue 14, point 4).

use std::path::Path;

use rusqlite::Connection;

use super::super::{LATEST_SCHEMA_VERSION, MIGRATIONS};
use super::*;
use crate::domain::{
    Agency, Category, Day, Incident, IncidentId, IncidentLocation, IncidentTime, LocationPrecision,
    LonLat, Provenance, TimePrecision,
};
use crate::store::{ImportBatch, ImportFile, ImportedIncident, SourceAttributes, Store as _};

/// `n` imported incidents with six-decimal coordinates (stored as millionths) and ids from
/// `first_id` in steps of 3.
fn incidents(n: u64, first_id: u64) -> Vec<ImportedIncident> {
    (0..n)
        .map(|k| ImportedIncident {
            incident: Incident {
                id: IncidentId::new(first_id + 3 * k),
                category: if k.is_multiple_of(2) {
                    Category::Drugs
                } else {
                    Category::Robbery
                },
                time: IncidentTime {
                    day: Day::from_days_since_epoch(19_700 + (k % 30) as u16),
                    minute_of_day: None,
                    precision: TimePrecision::Month,
                },
                location: Some(IncidentLocation {
                    // Six-decimal values, as police.uk gives them: stored as millionths.
                    point: LonLat::new(
                        (-2_600_000 + 1_000 * k as i64) as f64 / 1e6,
                        (51_450_000 + 1_000 * k as i64) as f64 / 1e6,
                    )
                    .unwrap(),
                    precision: LocationPrecision::SnapPoint,
                }),
                involves_child: false,
                provenance: Provenance {
                    agency: Agency::new("avon-and-somerset-police").unwrap(),
                    isa_ref: None,
                    grade: None,
                },
            },
            line: k + 2,
            attributes: SourceAttributes {
                location: Some("On or near Julius Place".into()),
                ..SourceAttributes::default()
            },
            outside_area: false,
        })
        .collect()
}

fn file(name: &str) -> ImportFile {
    ImportFile {
        name: name.to_owned(),
        sha256: "cd".repeat(32),
        imported_at: "2026-12-07T10:00:00.000Z".to_owned(),
        kind: "police-street".to_owned(),
    }
}

/// A store holding `segments` imported files of `rows` incidents each (one segment each).
fn store_with_segments(store: &mut SqliteStore, segments: u64, rows: u64) {
    for s in 0..segments {
        let batch = ImportBatch {
            incidents: incidents(rows, 1_000 + s * 10_000),
            ..ImportBatch::default()
        };
        store
            .write_import(
                &batch,
                &file(&format!("f{s}.csv")),
                &serde_json::json!({}),
                true,
            )
            .unwrap();
    }
}

/// One segment row: `(id, file_id, rows, min_id, max_id, ids, data, checksum)`.
type Raw = (i64, i64, i64, i64, i64, Vec<u8>, Vec<u8>, Option<i64>);

fn raw(conn: &Connection, id: i64) -> Raw {
    conn.query_row(
        &format!("SELECT {SEGMENT_COLUMNS} FROM incident_segments WHERE id = ?1"),
        [id],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        },
    )
    .unwrap()
}

/// Overwrites segment `r.0` with `r`, bypassing the CHECK and foreign key constraints (damage
/// does not respect them).
fn put(conn: &Connection, r: &Raw) {
    conn.execute_batch("PRAGMA ignore_check_constraints = ON; PRAGMA foreign_keys = OFF")
        .unwrap();
    conn.execute(
        "UPDATE incident_segments SET file_id = ?2, rows = ?3, min_id = ?4, max_id = ?5, \
         ids = ?6, data = ?7, checksum = ?8 WHERE id = ?1",
        rusqlite::params![r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7],
    )
    .unwrap();
    conn.execute_batch("PRAGMA ignore_check_constraints = OFF; PRAGMA foreign_keys = ON")
        .unwrap();
}

/// Asserts that `err` is [`StoreError::Damaged`] for segment `id` and its message says so.
fn assert_damaged(err: &StoreError, id: i64, what: &str) {
    let StoreError::Damaged { table, segment, .. } = err else {
        panic!("{what}: not reported as damage: {err}");
    };
    assert_eq!((*table, *segment), ("incident_segments", id), "{what}");
    let text = err.to_string();
    assert!(
        text.contains("the store is damaged: table incident_segments, segment"),
        "{what}: {text}"
    );
}

/// A splitmix64 stream (fixed seed: the cases are the same on every run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn a_segment_is_written_with_its_checksum_and_loads() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    store_with_segments(&mut store, 2, 50);
    for id in [1, 2] {
        let r = raw(&store.conn, id);
        let expected = segment_checksum(r.2, r.1, r.3, r.4, &r.5, &r.6);
        assert_eq!(r.7, Some(i64::from(expected)), "segment {id}");
    }
    assert_eq!(store.load().unwrap().incidents.len(), 100);
    assert_eq!(store.verify_segments().unwrap(), (2, 100));
    let report = store.check(true).unwrap();
    assert!(report.is_ok(), "{:?}", report.lines());
    assert_eq!((report.segments, report.segment_rows), (2, 100));
}

#[test]
fn a_moved_incident_decodes_but_is_refused_by_its_checksum() {
    // The review's finding: one flipped bit moves an incident and the segment still decodes.
    let mut store = SqliteStore::open_in_memory().unwrap();
    store_with_segments(&mut store, 1, 20);
    let before = store.load().unwrap().incidents;
    let mut r = raw(&store.conn, 1);
    let rows = 20;
    let lon_at = 9 + 8 * rows + 1; // header, line/day/minute per row, coordinate kind
    assert_eq!(r.6[lon_at - 1], 1, "coordinates stored as millionths");
    r.6[lon_at + 2] ^= 0x01;
    let decoded = crate::store::segment::decode_incidents(1, &r.5, &r.6).unwrap();
    assert_ne!(
        decoded, before,
        "the flip moves an incident and still decodes"
    );
    put(&store.conn, &r);
    assert_damaged(&store.load().unwrap_err(), 1, "load");
    assert_damaged(&store.verify_segments().unwrap_err(), 1, "verify_segments");
}

#[test]
fn random_bit_flips_and_truncations_are_detected_and_never_panic_or_load() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    store_with_segments(&mut store, 3, 300);
    let intact = store.load().unwrap();
    let mut rng = Rng(0x5afe_1404);
    for case in 0..300 {
        let id = 1 + rng.below(3) as i64;
        let original = raw(&store.conn, id);
        let mut r = original.clone();
        let what = match rng.below(8) {
            0 | 1 => {
                let flips = 1 + rng.below(8);
                for _ in 0..flips {
                    let at = rng.below(r.6.len());
                    r.6[at] ^= 1 << rng.below(8);
                }
                format!("{flips} bit flip(s) in data")
            }
            2 => {
                let at = rng.below(r.5.len());
                r.5[at] ^= 1 << rng.below(8);
                "a bit flip in ids".to_owned()
            }
            3 => {
                let keep = rng.below(r.6.len());
                r.6.truncate(keep);
                format!("data truncated to {keep} bytes")
            }
            4 => {
                let keep = rng.below(r.5.len());
                r.5.truncate(keep);
                format!("ids truncated to {keep} bytes")
            }
            5 => {
                // The checksum itself is hit.
                let stored = r.7.unwrap();
                r.7 = Some(stored ^ (1 << rng.below(32)));
                "a bit flip in the checksum".to_owned()
            }
            6 => {
                let column = rng.below(4);
                let bit = 1_i64 << rng.below(63);
                match column {
                    0 => r.1 ^= bit,
                    1 => r.2 ^= bit,
                    2 => r.3 ^= bit,
                    _ => r.4 ^= bit,
                }
                format!("a bit flip in integer column {column}")
            }
            _ => {
                r.7 = None;
                "the checksum erased".to_owned()
            }
        };
        if r == original {
            continue; // a truncation to the full length changed nothing
        }
        put(&store.conn, &r);
        let what = format!("case {case}, segment {id}: {what}");
        assert_damaged(&store.load().unwrap_err(), id, &what);
        assert_damaged(&store.verify_segments().unwrap_err(), id, &what);
        let report = store.check(false).unwrap();
        assert!(!report.is_ok(), "{what}");
        assert_eq!(report.problems.len(), 1, "{what}: {:?}", report.problems);
        assert!(
            report.problems[0].contains(&format!("segment {id} ")),
            "{what}: {:?}",
            report.problems
        );
        put(&store.conn, &original);
    }
    assert_eq!(store.load().unwrap().incidents, intact.incidents);
}

#[test]
fn check_names_every_damaged_segment_not_only_the_first() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    store_with_segments(&mut store, 3, 10);
    for id in [1, 3] {
        let mut r = raw(&store.conn, id);
        r.6[12] ^= 0x80;
        put(&store.conn, &r);
    }
    let report = store.check(false).unwrap();
    assert!(!report.is_ok());
    assert_eq!(report.segments, 3);
    assert_eq!(report.segment_rows, 10, "rows of the intact segment");
    let damaged: Vec<&String> = report
        .problems
        .iter()
        .filter(|p| p.contains("incident_segments"))
        .collect();
    assert_eq!(damaged.len(), 2, "{:?}", report.problems);
    assert!(damaged[0].contains("segment 1 (incident ids 1000..=1027, 10 rows)"));
    assert!(damaged[1].contains("segment 3 (incident ids 21000..=21027, 10 rows)"));
    let lines = report.lines();
    assert!(
        lines.iter().any(|l| l.starts_with("DAMAGED: ")),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l == "OK"), "{lines:?}");
    // The record tables are still read back whole.
    assert_eq!(report.decoded.len(), LOADERS.len());
}

#[test]
fn a_column_of_the_wrong_type_is_damage_not_a_driver_error() {
    let conn = Connection::open_in_memory().unwrap();
    for (sql, reason) in [
        ("SELECT 7, 1, 2, 10, 20, 'text', x'00', 5", "ids is Text"),
        ("SELECT 7, 1, 2, 10, 20, x'00', 1.5, 5", "data is Real"),
        (
            "SELECT 7, 1, x'01', 10, 20, x'00', x'00', 5",
            "rows is Blob",
        ),
        (
            "SELECT 7, 1, 2, 10, 20, x'00', x'00', 'x'",
            "checksum is Text",
        ),
    ] {
        let err = conn
            .query_row(sql, [], |row| {
                Ok(SegmentRow::read(row).err().map(|e| e.to_string()))
            })
            .unwrap()
            .unwrap_or_else(|| panic!("{sql}: accepted"));
        assert!(err.contains("segment 7"), "{err}");
        assert!(err.contains(reason), "{err}");
    }
}

/// Creates `dir/saferplaces.sqlite3` at schema version 9 (before checksums) holding one
/// segment per entry of `data` (`None`: the intact encoding of 5 incidents).
fn version_9_store(dir: &Path, data: &[Option<Vec<u8>>]) -> Vec<Incident> {
    let mut conn = Connection::open(dir.join(SqliteStore::FILE_NAME)).unwrap();
    let tx = conn.transaction().unwrap();
    for &(version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= 9) {
        tx.execute_batch(sql).unwrap();
        tx.pragma_update(None, "user_version", version).unwrap();
    }
    tx.execute(
        "INSERT INTO imported_files (id, file_sha256, kind, file_name, imported_at, summary) \
         VALUES (1, ?1, 'police-street', 'old.csv', '2026-01-01T00:00:00.000Z', '{}')",
        ["ab".repeat(32)],
    )
    .unwrap();
    let mut stored = Vec::new();
    for (k, bytes) in data.iter().enumerate() {
        let rows = incidents(5, 1_000 + k as u64 * 100);
        let refs: Vec<&ImportedIncident> = rows.iter().collect();
        let seg = crate::store::segment::encode(&refs).unwrap();
        if bytes.is_none() {
            stored.extend(rows.iter().map(|r| r.incident.clone()));
        }
        tx.execute(
            "INSERT INTO incident_segments (file_id, rows, min_id, max_id, ids, data) \
             VALUES (1, ?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![
                seg.rows as i64,
                seg.min_id as i64,
                seg.max_id as i64,
                seg.ids,
                bytes.clone().unwrap_or(seg.data)
            ],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    stored
}

#[test]
fn a_store_written_before_checksums_gets_them_in_the_migration_and_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    let stored = version_9_store(dir.path(), &[None, None]);
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), LATEST_SCHEMA_VERSION);
    for id in [1, 2] {
        let r = raw(&store.conn, id);
        assert_eq!(
            r.7,
            Some(i64::from(segment_checksum(r.2, r.1, r.3, r.4, &r.5, &r.6))),
            "segment {id} got its checksum in the migration"
        );
    }
    assert_eq!(store.load().unwrap().incidents, stored);
    assert!(store.check(false).unwrap().is_ok());
}

#[test]
fn an_old_segment_that_no_longer_decodes_is_left_without_a_checksum_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    version_9_store(
        dir.path(),
        &[None, Some(b"SPIS\x02 not a segment".to_vec())],
    );
    // The store still opens (so `check` can name the damage) ...
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(raw(&store.conn, 2).7, None);
    assert!(raw(&store.conn, 1).7.is_some());
    // ... and every load refuses it.
    let err = store.load().unwrap_err();
    assert_damaged(&err, 2, "old undecodable segment");
    assert!(err.to_string().contains("no checksum is stored"), "{err}");
    let report = store.check(false).unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
}

#[test]
fn structure_damage_is_refused_at_start_with_sqlites_own_message() {
    let dir = tempfile::tempdir().unwrap();
    let root_page: i64 = {
        let mut store = SqliteStore::open(dir.path()).unwrap();
        store_with_segments(&mut store, 1, 2_000);
        store.quick_check_if_small().unwrap();
        store
            .conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
        store
            .conn
            .query_row(
                "SELECT rootpage FROM sqlite_schema WHERE name = 'incident_segments'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    // Overwrite the b-tree page header of the segments table's root page.
    let path = dir.path().join(SqliteStore::FILE_NAME);
    let mut bytes = std::fs::read(&path).unwrap();
    let page_size = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    let at = (usize::try_from(root_page).unwrap() - 1) * page_size;
    bytes[at..at + 8].copy_from_slice(&[0xFF; 8]);
    std::fs::write(&path, &bytes).unwrap();

    let store = SqliteStore::open(dir.path()).unwrap();
    let err = store.quick_check_if_small().unwrap_err();
    let StoreError::StructureDamaged {
        pragma, messages, ..
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!(*pragma, "quick_check");
    assert!(!messages.is_empty() && messages != &["ok"], "{messages:?}");
    assert!(
        err.to_string()
            .contains("is damaged: PRAGMA quick_check reported:")
    );
    let report = store.check(true).unwrap();
    assert!(!report.is_ok());
    assert_eq!(report.pragma, "integrity_check");
    assert_ne!(report.pragma_messages, ["ok"]);
    assert!(
        report
            .lines()
            .last()
            .unwrap()
            .starts_with("the store is damaged")
    );
}

#[test]
fn quick_check_runs_on_a_store_within_the_limit_and_is_skipped_above_it() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    store_with_segments(&mut store, 1, 100);
    let bytes = store.size_bytes().unwrap();
    assert!(bytes > 0 && bytes <= QUICK_CHECK_MAX_BYTES);
    assert!(
        store.quick_check_if_small().unwrap(),
        "a small store is checked"
    );
    assert!(
        store.quick_check_up_to(bytes).unwrap(),
        "the limit is inclusive"
    );
    assert!(
        !store.quick_check_up_to(bytes - 1).unwrap(),
        "a store over the limit is not checked at start"
    );
}
