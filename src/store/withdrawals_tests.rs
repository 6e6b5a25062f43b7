//! Tests for withdrawn and amended incidents: every serving read skips them, errors write
//! nothing, the change feed and the withdrawal cursor, the fingerprint, checksums.

use super::super::tests::sample;
use super::super::{MIGRATIONS, SqliteStore};
use crate::domain::{Category, Dataset, Day, Incident, IncidentId, LonLat, TimePrecision};
use crate::store::{
    ImportBatch, ImportFile, ImportedIncident, IncidentCorrection, SourceAttributes, Store as _,
    StoreError, WithdrawalNote,
};

fn note(reason: &str) -> WithdrawalNote {
    WithdrawalNote {
        reason: reason.to_owned(),
        actor: "A. Analyst".to_owned(),
        at: "2026-12-07T18:00:00.000Z".to_owned(),
    }
}

const REASON: &str = "recorded in error by the source agency";

fn id(n: u64) -> IncidentId {
    IncidentId::new(n)
}

/// An in-memory [`fill`]ed store.
fn store_with_rows_and_a_segment() -> (SqliteStore, Dataset, Vec<Incident>) {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let (data, imported) = fill(&mut store);
    (store, data, imported)
}

/// Stores the sample's incidents as rows and three imported incidents in one segment (ids
/// 5001..=5003, lines 2..=4); returns the sample and the imported incidents.
fn fill(store: &mut SqliteStore) -> (Dataset, Vec<Incident>) {
    let data = sample();
    store.write_unchecked(&data).unwrap();
    let template = data.incidents[0].clone();
    let imported: Vec<Incident> = (1..=3)
        .map(|n| Incident {
            id: id(5000 + n),
            category: Category::Robbery,
            ..template.clone()
        })
        .collect();
    let batch = ImportBatch {
        incidents: imported
            .iter()
            .zip(2..)
            .map(|(i, line)| ImportedIncident {
                incident: i.clone(),
                line,
                attributes: SourceAttributes {
                    source_ref: Some(format!("crime-{line}").into()),
                    area_code: Some("E01014540".into()),
                    location: Some("Julius Place".into()),
                    category_raw: Some("Robbery".into()),
                    outcome_raw: None,
                    area_vintage: None,
                },
                outside_area: false,
            })
            .collect(),
        ..ImportBatch::default()
    };
    let file = ImportFile {
        name: "street.csv".to_owned(),
        sha256: "ab".repeat(32),
        imported_at: "2026-11-22T09:00:00.000Z".to_owned(),
        kind: "police-street".to_owned(),
    };
    store
        .write_import(&batch, &file, &serde_json::json!({}), true)
        .unwrap();
    (data, imported)
}

/// The ids every serving read hands out: (whole load, batches, segments after 0, counts).
fn served_ids(store: &SqliteStore) -> [Vec<u64>; 3] {
    let ids = |v: &[Incident]| {
        let mut ids: Vec<u64> = v.iter().map(|i| i.id.get()).collect();
        ids.sort_unstable();
        ids
    };
    let loaded = store.load().unwrap().incidents;
    let mut batches = Vec::new();
    store
        .for_each_incident_batch(&mut |b| batches.extend(b))
        .unwrap();
    let mut after = Vec::new();
    store
        .for_each_incident_after_segment(0, &mut |b| after.extend(b))
        .unwrap();
    [ids(&loaded), ids(&batches), ids(&after)]
}

fn withdrawals_rows(store: &SqliteStore) -> i64 {
    store
        .conn
        .query_row("SELECT COUNT(*) FROM incident_withdrawals", [], |r| {
            r.get(0)
        })
        .unwrap()
}

#[test]
fn a_withdrawn_incident_is_skipped_by_every_read_that_serves_incidents() {
    let (mut store, data, imported) = store_with_rows_and_a_segment();
    let row = data.incidents[2].id.get();
    let in_segment = imported[1].id.get();
    let before = served_ids(&store);
    assert!(before[0].contains(&row) && before[0].contains(&in_segment));
    let counted = store.counts().unwrap().incidents;

    let seqs = store
        .withdraw_incidents(&[id(row), id(in_segment)], &note(REASON))
        .unwrap();
    assert_eq!(seqs, vec![1, 2]);

    let [loaded, batches, after] = served_ids(&store);
    for (path, ids) in [("load", &loaded), ("batches", &batches), ("after", &after)] {
        assert!(!ids.contains(&row), "{path} serves withdrawn row {row}");
        assert!(
            !ids.contains(&in_segment),
            "{path} serves withdrawn segment incident {in_segment}"
        );
    }
    let expected: Vec<u64> = before[0]
        .iter()
        .copied()
        .filter(|i| *i != row && *i != in_segment)
        .collect();
    assert_eq!(loaded, expected, "nothing else goes");
    assert_eq!(batches, expected);
    assert_eq!(after, vec![5001, 5003]);
    assert_eq!(store.counts().unwrap().incidents, counted - 2);
    // Duplicate matching reads through `load`: the withdrawn incident is never paired.
    let pairs = crate::ingest::reconcile::likely_duplicates(
        &store.load().unwrap().incidents,
        crate::ingest::reconcile::ReconcileParams {
            distance_m: 1000.0,
            window_days: 30,
        },
    );
    assert!(
        pairs
            .iter()
            .all(|p| ![p.a.get(), p.b.get()].contains(&in_segment))
    );
}

#[test]
fn a_refused_withdrawal_names_the_id_or_field_and_writes_nothing() {
    let (mut store, data, _) = store_with_rows_and_a_segment();
    let good = data.incidents[0].id;
    let feed = store.latest_change().unwrap();
    let before = served_ids(&store);

    let err = store
        .withdraw_incidents(&[good, id(424_242)], &note(REASON))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { what: "incident", key } if key == "424242"),
        "{err}"
    );
    assert!(err.to_string().contains("424242"), "{err}");

    let err = store
        .withdraw_incidents(&[good], &note("wrong"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Refused {
                field: "reason",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("at least 10"), "{err}");
    let mut nobody = note(REASON);
    nobody.actor = "  ".to_owned();
    let err = store.withdraw_incidents(&[good], &nobody).unwrap_err();
    assert!(
        matches!(err, StoreError::Refused { field: "actor", .. }),
        "{err}"
    );
    let err = store.withdraw_incidents(&[], &note(REASON)).unwrap_err();
    assert!(
        matches!(err, StoreError::Refused { field: "ids", .. }),
        "{err}"
    );

    assert_eq!(withdrawals_rows(&store), 0, "nothing recorded");
    assert_eq!(store.latest_change().unwrap(), feed, "nothing in the feed");
    assert_eq!(served_ids(&store), before, "everything still served");

    // Withdrawn once; a second time names the id, and the batch it is in writes nothing.
    store.withdraw_incidents(&[good], &note(REASON)).unwrap();
    let other = data.incidents[1].id;
    let err = store
        .withdraw_incidents(&[other, good], &note(REASON))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyWithdrawn { id, replaced_by: None } if id == good.get()),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&format!("incident {} is already withdrawn", good.get())),
        "{err}"
    );
    assert_eq!(withdrawals_rows(&store), 1);
    assert!(served_ids(&store)[0].contains(&other.get()));
}

#[test]
fn an_id_given_twice_is_withdrawn_once() {
    let (mut store, data, _) = store_with_rows_and_a_segment();
    let a = data.incidents[0].id;
    let seqs = store.withdraw_incidents(&[a, a], &note(REASON)).unwrap();
    assert_eq!(seqs, vec![1, 1]);
    assert_eq!(withdrawals_rows(&store), 1);
}

#[test]
fn a_withdrawal_is_in_the_change_feed_in_its_own_transaction_as_its_own_kind() {
    let (mut store, data, imported) = store_with_rows_and_a_segment();
    let at = store.latest_change().unwrap().unwrap();
    store
        .withdraw_incidents(&[data.incidents[0].id, imported[0].id], &note(REASON))
        .unwrap();
    let changed = store.changes_since(at).unwrap();
    assert_eq!(changed.latest, at + 1, "one row for the transaction");
    assert!(changed.incident_withdrawals);
    assert!(
        !(changed.incidents
            || changed.incident_segments
            || changed.reference
            || changed.people
            || changed.access),
        "{changed:?}"
    );
    assert!(!changed.is_empty());

    // An amendment: the corrected incident as a new segment, and the withdrawal.
    let at = changed.latest;
    store
        .amend_incident(
            imported[1].id,
            &IncidentCorrection {
                category: Some(Category::KnifeCrime),
                ..IncidentCorrection::default()
            },
            &note(REASON),
        )
        .unwrap();
    let changed = store.changes_since(at).unwrap();
    assert!(changed.incident_segments && changed.incident_withdrawals);
    assert!(!(changed.incidents || changed.reference || changed.people || changed.access));
}

#[test]
fn withdrawn_incidents_are_read_as_stored_after_a_cursor() {
    let (mut store, data, imported) = store_with_rows_and_a_segment();
    let read = |after: u64| {
        let mut got = Vec::new();
        let next = store
            .for_each_withdrawal_after(after, &mut |b| got.extend(b))
            .unwrap();
        got.sort_by_key(|i: &Incident| i.id.get());
        (got, next)
    };
    assert_eq!(read(0), (Vec::new(), 0), "none yet");

    let row = data.incidents[3].clone();
    store
        .withdraw_incidents(&[imported[2].id], &note(REASON))
        .unwrap();
    store
        .withdraw_incidents(&[row.id, imported[0].id], &note(REASON))
        .unwrap();
    let read = |after: u64| {
        let mut got = Vec::new();
        let next = store
            .for_each_withdrawal_after(after, &mut |b| got.extend(b))
            .unwrap();
        got.sort_by_key(|i: &Incident| i.id.get());
        (got, next)
    };
    let mut all = vec![row.clone(), imported[0].clone(), imported[2].clone()];
    all.sort_by_key(|i| i.id.get());
    assert_eq!(read(0), (all, 3), "every one, exactly as stored");
    let mut later = vec![row, imported[0].clone()];
    later.sort_by_key(|i| i.id.get());
    assert_eq!(read(1), (later, 3));
    assert_eq!(read(3), (Vec::new(), 3), "nothing after the newest");
}

#[test]
fn an_amendment_adds_the_corrected_incident_as_a_segment_and_withdraws_the_old_one() {
    let (mut store, _, imported) = store_with_rows_and_a_segment();
    let old = imported[1].clone();
    let cursor = store
        .for_each_incident_after_segment(0, &mut |_| ())
        .unwrap();
    let point = LonLat::new(-2.59, 51.46).unwrap();
    let day: Day = "2024-03-05".parse().unwrap();
    let amended = store
        .amend_incident(
            old.id,
            &IncidentCorrection {
                category: Some(Category::KnifeCrime),
                location: Some(point),
                day: Some(day),
            },
            &note(REASON),
        )
        .unwrap();
    assert_eq!(amended.replaces, old.id);
    assert_eq!(amended.fields, vec!["category", "location", "day"]);
    let new = &amended.incident;
    assert_ne!(new.id, old.id);
    assert_eq!(new.category, Category::KnifeCrime);
    assert_eq!(new.location.unwrap().point, point);
    assert_eq!(
        new.location.unwrap().precision,
        old.location.unwrap().precision
    );
    assert_eq!(new.time.day, day);
    assert_eq!(new.provenance, old.provenance, "same provenance");
    assert_eq!(new.involves_child, old.involves_child);

    // The index's incremental path sees it as one added incident, and only that.
    let mut added = Vec::new();
    let next = store
        .for_each_incident_after_segment(cursor, &mut |b| added.extend(b))
        .unwrap();
    assert_eq!(added, vec![new.clone()]);
    assert_eq!(next, cursor + 1);
    let loaded = store.load().unwrap().incidents;
    assert!(loaded.contains(new));
    assert!(!loaded.iter().any(|i| i.id == old.id));

    // It keeps the old one's source file, line and raw fields.
    let (seg, file_id, ids, blob): (i64, i64, Vec<u8>, Vec<u8>) = store
        .conn
        .query_row(
            "SELECT id, file_id, ids, data FROM incident_segments WHERE id = ?1",
            [i64::try_from(next).unwrap()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    let rows = crate::store::segment::decode_rows(seg, &ids, &blob).unwrap();
    assert_eq!(file_id, 1);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].line, 3);
    assert_eq!(rows[0].attributes.source_ref.as_deref(), Some("crime-3"));

    // The old id is withdrawn, naming its replacement.
    let (replaced_by, reason): (i64, String) = store
        .conn
        .query_row(
            "SELECT replaced_by, reason FROM incident_withdrawals WHERE incident_id = ?1",
            [i64::try_from(old.id.get()).unwrap()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(replaced_by.cast_unsigned(), new.id.get());
    assert_eq!(reason, REASON);
    let mut withdrawn = Vec::new();
    store
        .for_each_withdrawal_after(0, &mut |b| withdrawn.extend(b))
        .unwrap();
    assert_eq!(withdrawn, vec![old.clone()]);

    // Amending the old id again names the replacement; the replacement can be amended.
    let err = store
        .amend_incident(old.id, &IncidentCorrection::default(), &note(REASON))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyWithdrawn { replaced_by: Some(r), .. } if r == new.id.get()),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&format!("replaced by incident {}", new.id.get())),
        "{err}"
    );
    let again = store
        .amend_incident(
            new.id,
            &IncidentCorrection {
                category: Some(Category::Robbery),
                ..IncidentCorrection::default()
            },
            &note(REASON),
        )
        .unwrap();
    assert_ne!(again.incident.id, new.id);
    assert_eq!(again.seq, 2);
}

#[test]
fn an_amendment_of_a_row_incident_registers_its_source_and_goes_to_a_segment() {
    let (mut store, data, _) = store_with_rows_and_a_segment();
    let old = data
        .incidents
        .iter()
        .find(|i| i.time.precision == TimePrecision::Month)
        .unwrap()
        .clone();
    let cursor = store
        .for_each_incident_after_segment(0, &mut |_| ())
        .unwrap();
    let day: Day = "2022-02-14".parse().unwrap();
    let amended = store
        .amend_incident(
            old.id,
            &IncidentCorrection {
                day: Some(day),
                ..IncidentCorrection::default()
            },
            &note(REASON),
        )
        .unwrap();
    assert_eq!(amended.fields, vec!["day"]);
    assert_eq!(
        amended.incident.time.precision,
        TimePrecision::Day,
        "a corrected day is a known day"
    );
    let mut added = Vec::new();
    store
        .for_each_incident_after_segment(cursor, &mut |b| added.extend(b))
        .unwrap();
    assert_eq!(added, vec![amended.incident.clone()]);
    let (kind, name): (String, String) = store
        .conn
        .query_row(
            "SELECT kind, file_name FROM imported_files f JOIN incident_segments s \
             ON s.file_id = f.id WHERE s.id = ?1",
            [i64::try_from(cursor + 1).unwrap()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(kind, "amendment");
    assert_eq!(name, format!("amendment of incident {}", old.id.get()));
}

#[test]
fn a_refused_amendment_writes_nothing() {
    let (mut store, data, imported) = store_with_rows_and_a_segment();
    let feed = store.latest_change().unwrap();
    let segments = store
        .for_each_incident_after_segment(0, &mut |_| ())
        .unwrap();
    let old = &imported[0];
    let same = IncidentCorrection {
        category: Some(old.category),
        location: old.location.map(|l| l.point),
        day: Some(old.time.day),
    };
    let err = store
        .amend_incident(old.id, &same, &note(REASON))
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Refused {
                field: "correction",
                ..
            }
        ),
        "{err}"
    );
    let err = store
        .amend_incident(id(77), &IncidentCorrection::default(), &note(REASON))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { key, .. } if key == "77"),
        "{err}"
    );
    let fix = IncidentCorrection {
        category: Some(Category::KnifeCrime),
        ..IncidentCorrection::default()
    };
    let err = store
        .amend_incident(old.id, &fix, &note("short"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Refused {
                field: "reason",
                ..
            }
        ),
        "{err}"
    );
    // A row incident: the amendment's source registration is rolled back too.
    let files: i64 = store
        .conn
        .query_row("SELECT COUNT(*) FROM imported_files", [], |r| r.get(0))
        .unwrap();
    let row = &data.incidents[0];
    let unchanged = IncidentCorrection {
        category: Some(row.category),
        ..IncidentCorrection::default()
    };
    assert!(
        store
            .amend_incident(row.id, &unchanged, &note(REASON))
            .is_err()
    );
    let files_after: i64 = store
        .conn
        .query_row("SELECT COUNT(*) FROM imported_files", [], |r| r.get(0))
        .unwrap();
    assert_eq!(files_after, files);
    assert_eq!(withdrawals_rows(&store), 0);
    assert_eq!(store.latest_change().unwrap(), feed);
    assert_eq!(
        store
            .for_each_incident_after_segment(0, &mut |_| ())
            .unwrap(),
        segments
    );
}

#[test]
fn the_fingerprint_changes_when_an_incident_is_withdrawn() {
    let (mut store, data, imported) = store_with_rows_and_a_segment();
    let cursor = store
        .for_each_incident_after_segment(0, &mut |_| ())
        .unwrap();
    let first = store.incidents_fingerprint(cursor).unwrap();
    store
        .withdraw_incidents(&[imported[0].id], &note(REASON))
        .unwrap();
    let second = store.incidents_fingerprint(cursor).unwrap();
    assert_ne!(second, first, "a segment incident withdrawn");
    assert_eq!(second.segment_rows, first.segment_rows - 1);
    store
        .withdraw_incidents(&[data.incidents[0].id], &note(REASON))
        .unwrap();
    let third = store.incidents_fingerprint(cursor).unwrap();
    assert_ne!(third, second, "a row incident withdrawn");
    assert_eq!(third.table_rows, second.table_rows - 1);
    // The counts match what a cold build holds.
    let mut held = 0;
    store
        .for_each_incident_batch(&mut |b| held += b.len() as u64)
        .unwrap();
    assert_eq!(held, third.table_rows + third.segment_rows);
}

#[test]
fn withdrawals_carry_row_checksums_that_the_check_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
    let (_, imported) = fill(&mut store);
    store
        .withdraw_incidents(&[imported[0].id], &note(REASON))
        .unwrap();
    store
        .amend_incident(
            imported[1].id,
            &IncidentCorrection {
                category: Some(Category::KnifeCrime),
                ..IncidentCorrection::default()
            },
            &note(REASON),
        )
        .unwrap();
    let report = store.check(true).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert!(
        report
            .tables
            .iter()
            .any(|(t, n)| t == "incident_withdrawals" && *n == 2),
        "{:?}",
        report.tables
    );
    // A withdrawal changed behind the store's back is damage.
    store
        .conn
        .execute_batch(
            "DROP TRIGGER temp.saferplaces_row_crc_update_incident_withdrawals; \
             UPDATE incident_withdrawals SET actor = 'someone else'",
        )
        .unwrap();
    let report = store.check(true).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("incident_withdrawals")),
        "{:?}",
        report.problems
    );
}

#[test]
fn a_store_at_schema_12_keeps_its_change_feed_and_counter_when_migrated() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = rusqlite::Connection::open(dir.path().join(SqliteStore::FILE_NAME)).unwrap();
        super::super::row_checksum::register(&conn).unwrap();
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= 12) {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", version).unwrap();
        }
        super::super::row_checksum::install(&conn).unwrap();
        for at in 0..3 {
            conn.execute("INSERT INTO changes (kind, at) VALUES ('people', ?1)", [at])
                .unwrap();
        }
        // The newest row goes: its number must still never be reused.
        conn.execute("DELETE FROM changes WHERE seq = 3", [])
            .unwrap();
    }
    let mut store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.latest_change().unwrap(), Some(2));
    let changed = store.changes_since(0).unwrap();
    assert!(changed.people && !changed.incident_withdrawals);
    super::super::row_checksum::verify(&store.conn).unwrap();
    let counter: i64 = store
        .conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'changes'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(counter, 3, "the deleted newest number stays used");
    store.write_unchecked(&sample()).unwrap();
    let at = store.latest_change().unwrap().unwrap();
    store
        .withdraw_incidents(&[sample().incidents[0].id], &note(REASON))
        .unwrap();
    assert_eq!(store.latest_change().unwrap(), Some(at + 1));
    assert!(store.changes_since(at).unwrap().incident_withdrawals);
}

#[test]
fn an_id_is_found_in_the_segment_that_holds_it_when_segment_ranges_overlap() {
    let (mut store, data, imported) = store_with_rows_and_a_segment();
    // A second import whose id range (4000..=6000) covers the first one's (5001..=5003).
    let batch = ImportBatch {
        incidents: [4000, 6000]
            .iter()
            .zip(1..)
            .map(|(&n, line)| ImportedIncident {
                incident: Incident {
                    id: id(n),
                    ..data.incidents[0].clone()
                },
                line,
                attributes: SourceAttributes::default(),
                outside_area: false,
            })
            .collect(),
        ..ImportBatch::default()
    };
    let file = ImportFile {
        name: "second.csv".to_owned(),
        sha256: "cd".repeat(32),
        imported_at: "2026-11-23T09:00:00.000Z".to_owned(),
        kind: "police-street".to_owned(),
    };
    store
        .write_import(&batch, &file, &serde_json::json!({}), true)
        .unwrap();
    let err = store
        .withdraw_incidents(&[id(5500)], &note(REASON))
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    store
        .withdraw_incidents(&[id(6000), imported[1].id], &note(REASON))
        .unwrap();
    let placed: Vec<(i64, i64)> = store
        .conn
        .prepare("SELECT incident_id, segment FROM incident_withdrawals ORDER BY incident_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(placed, vec![(5002, 1), (6000, 2)]);
    let mut after = Vec::new();
    store
        .for_each_incident_after_segment(0, &mut |b| {
            after.extend(b.into_iter().map(|i| i.id.get()));
        })
        .unwrap();
    assert_eq!(after, vec![5001, 5003, 4000]);
}
