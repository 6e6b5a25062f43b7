//! The change feed as a running server reads it (issue 15, point 1): each write names the kind
//! it changed, and [`fetch_update`] reads back only that kind, and of an import only its rows.

use super::*;
use crate::domain::{
    Agency, Category, Incident, IncidentId, IncidentLocation, IncidentTime, LocationPrecision,
    LonLat, Provenance, Role, TimePrecision,
};
use crate::store::{
    ImportBatch, ImportFile, ImportedIncident, IncidentCorrection, NewUser, SourceAttributes,
    SqliteStore, WithdrawalNote,
};

fn incident(id: u64, k: u64) -> Incident {
    Incident {
        id: IncidentId::new(id),
        category: Category::Drugs,
        time: IncidentTime {
            day: Day::from_days_since_epoch(19_700 + (k % 30) as u16),
            minute_of_day: None,
            precision: TimePrecision::Day,
        },
        location: Some(IncidentLocation {
            point: LonLat::new(-2.6 + 0.001 * k as f64, 51.45).unwrap(),
            precision: LocationPrecision::SnapPoint,
        }),
        involves_child: false,
        provenance: Provenance {
            agency: Agency::new("avon-and-somerset-police").unwrap(),
            isa_ref: None,
            grade: None,
        },
    }
}

/// Imports `n` incidents with ids from `first` (in steps of 2) as file `name`.
fn import(store: &mut SqliteStore, name: &str, first: u64, n: u64) {
    let batch = ImportBatch {
        incidents: (0..n)
            .map(|k| ImportedIncident {
                incident: incident(first + 2 * k, k),
                line: k + 2,
                attributes: SourceAttributes::default(),
                outside_area: false,
            })
            .collect(),
        ..ImportBatch::default()
    };
    let file = ImportFile {
        name: name.to_owned(),
        sha256: format!("{first:064x}"),
        imported_at: "2026-12-07T10:00:00.000Z".to_owned(),
        kind: "police-street".to_owned(),
    };
    store
        .write_import(&batch, &file, &serde_json::json!({}), true)
        .unwrap();
}

fn user(name: &str) -> NewUser {
    NewUser {
        name: name.to_owned(),
        role: Role::VruAnalyst,
        org: None,
        panels: Vec::new(),
        token_hash: format!("{:064x}", name.len()),
        token_expires_at: 4_000_000_000,
    }
}

/// A store with 50 demo-style incidents written as rows, and where a server stands on it.
fn store_and_position() -> (SqliteStore, FeedPosition) {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let data = Dataset {
        incidents: (1..=50).map(|k| incident(k, k)).collect(),
        ..Dataset::default()
    };
    store.write_unchecked(&data).unwrap();
    let (snapshot, position) = load_snapshot(&store, 1).unwrap();
    assert_eq!(snapshot.incidents.len(), 50);
    (store, position)
}

#[test]
fn nothing_changed_reads_nothing() {
    let (store, position) = store_and_position();
    assert!(fetch_update(&store, position).unwrap().is_none());
}

#[test]
fn an_import_is_read_back_as_its_own_rows_only() {
    let (mut store, position) = store_and_position();
    import(&mut store, "a.csv", 1_001, 30);
    let update = fetch_update(&store, position).unwrap().unwrap();
    assert!(update.changed.incident_segments);
    assert!(!(update.changed.incidents || update.changed.people || update.changed.access));
    // Only the new rows, not the 50 already served; nothing else loaded.
    assert_eq!(update.incidents.added_rows(), 30);
    assert!(
        update
            .incidents
            .added_ids()
            .iter()
            .all(|i| i.get() >= 1_001)
    );
    assert!(update.data.incidents.is_empty() && update.data.people.is_empty());
    assert!(update.users.is_none());
    // Applied once: the next poll finds nothing, and a second import reads only its own.
    let at = update.position;
    assert!(fetch_update(&store, at).unwrap().is_none());
    import(&mut store, "b.csv", 5_001, 10);
    let second = fetch_update(&store, at).unwrap().unwrap();
    assert_eq!(second.incidents.added_rows(), 10);
    assert!(
        second
            .incidents
            .added_ids()
            .iter()
            .all(|i| i.get() >= 5_001)
    );
    // A re-import stores nothing new and changes nothing.
    import(&mut store, "a-again.csv", 1_001, 30);
    assert!(fetch_update(&store, second.position).unwrap().is_none());
}

#[test]
fn a_new_user_reloads_the_users_only() {
    let (mut store, position) = store_and_position();
    store.add_user(&user("late")).unwrap();
    let update = fetch_update(&store, position).unwrap().unwrap();
    assert!(update.changed.access);
    assert!(!(update.changed.incidents || update.changed.incident_segments));
    assert!(!(update.changed.reference || update.changed.people));
    assert!(update.data.incidents.is_empty());
    assert_eq!(update.users.unwrap().len(), 1);
    // A revocation is a change of the same kind; revoking nobody is none.
    let at = update.position;
    assert!(store.revoke_user("nobody", 1).unwrap().is_none());
    assert!(fetch_update(&store, at).unwrap().is_none());
    store.revoke_user("late", 1).unwrap();
    assert!(fetch_update(&store, at).unwrap().unwrap().changed.access);
}

#[test]
fn applying_an_import_adds_a_run_and_moves_the_data_version_while_a_user_keeps_it() {
    let (mut store, position) = store_and_position();
    let (snapshot, _) = load_snapshot(&store, 7).unwrap();
    import(&mut store, "a.csv", 1_001, 30);
    let update = fetch_update(&store, position).unwrap().unwrap();
    let next = snapshot.with_changes(&update.changed, update.data, update.incidents, update.users);
    assert_eq!(next.incidents.len(), 80);
    assert_eq!(next.incidents.runs(), 1);
    assert_eq!(next.data_version, 8);
    // The reference layers and people are the very same, not rebuilt.
    assert!(Arc::ptr_eq(&next.people, &snapshot.people));
    assert!(Arc::ptr_eq(&next.boundaries, &snapshot.boundaries));
    store.add_user(&user("late")).unwrap();
    let users = fetch_update(&store, update.position).unwrap().unwrap();
    let after = next.with_changes(&users.changed, users.data, users.incidents, users.users);
    assert_eq!(after.data_version, 8);
    assert_eq!(after.users.len(), 1);
    assert_eq!(after.incidents.runs(), 1);
}

#[test]
fn incidents_written_as_rows_reload_the_incidents_whole() {
    let (mut store, position) = store_and_position();
    let more = Dataset {
        incidents: (51..=60).map(|k| incident(k, k)).collect(),
        ..Dataset::default()
    };
    store.write_unchecked(&more).unwrap();
    let update = fetch_update(&store, position).unwrap().unwrap();
    assert!(update.changed.incidents);
    assert_eq!(update.data.incidents.len(), 60);
    assert!(update.incidents.is_empty());
}

/// Saves the layer `snapshot` serves at `position`, as the server's background save does.
fn save(store: &SqliteStore, snapshot: &Snapshot, position: FeedPosition) {
    let (path, at) = save_target(
        store,
        position.seq.unwrap(),
        position.segment_cursor,
        position.withdrawal_cursor,
    )
    .unwrap()
    .expect("a store on disk has a place for its index");
    save_layer(&path, at, &snapshot.incidents).unwrap();
}

/// The incidents a snapshot serves, as `(len, unlocated, runs)`.
fn served(snapshot: &Snapshot) -> (usize, usize, usize) {
    let i = &snapshot.incidents;
    (i.len(), i.unlocated(), i.runs())
}

#[test]
fn a_restart_reads_the_saved_index_and_only_the_segments_imported_since() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
    store
        .write_unchecked(&Dataset {
            incidents: (1..=50).map(|k| incident(k, k)).collect(),
            ..Dataset::default()
        })
        .unwrap();
    import(&mut store, "a.csv", 1_001, 30);
    let (cold, position) = load_snapshot(&store, 1).unwrap();
    assert!(!position.base_saved, "nothing saved yet: a cold build");
    save(&store, &cold, position);

    let (warm, at) = load_snapshot(&store, 1).unwrap();
    assert!(at.base_saved, "read from the saved file");
    assert_eq!(
        (at.seq, at.segment_cursor),
        (position.seq, position.segment_cursor)
    );
    assert_eq!(served(&warm), served(&cold));

    // An import after the save: the saved base plus a run of the new segment's rows only.
    import(&mut store, "b.csv", 5_001, 10);
    let (warm, at) = load_snapshot(&store, 1).unwrap();
    assert!(at.base_saved);
    assert_eq!(served(&warm), (90, 0, 1));
    let (rebuilt, _) = {
        std::fs::remove_file(dir.path().join(persist::FILE_NAME)).unwrap();
        load_snapshot(&store, 1).unwrap()
    };
    assert_eq!(all_counts(&warm), all_counts(&rebuilt));
}

#[test]
fn a_saved_index_is_not_used_once_the_stored_incidents_are_rewritten_or_differ() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
    import(&mut store, "a.csv", 1_001, 30);
    let (snapshot, position) = load_snapshot(&store, 1).unwrap();
    save(&store, &snapshot, position);
    assert!(load_snapshot(&store, 1).unwrap().1.base_saved);

    // A write to the incidents table is in the change feed: the saved base is stale.
    store
        .write_unchecked(&Dataset {
            incidents: vec![incident(1, 1)],
            ..Dataset::default()
        })
        .unwrap();
    let (fresh, at) = load_snapshot(&store, 1).unwrap();
    assert!(!at.base_saved, "rewritten incidents: built from the store");
    assert_eq!(served(&fresh), (31, 0, 0));

    // Another store's file (same feed position, other incidents) is refused by fingerprint.
    let other = tempfile::tempdir().unwrap();
    let mut other_store = SqliteStore::open(other.path()).unwrap();
    import(&mut other_store, "a.csv", 7_001, 30);
    std::fs::copy(
        dir.path().join(persist::FILE_NAME),
        other.path().join(persist::FILE_NAME),
    )
    .unwrap();
    let (theirs, at) = load_snapshot(&other_store, 1).unwrap();
    assert!(
        !at.base_saved,
        "another store's index: built from the store"
    );
    assert_eq!(served(&theirs), (30, 0, 0));

    // A damaged file is refused and the store's incidents served.
    let path = dir.path().join(persist::FILE_NAME);
    let (snapshot, position) = load_snapshot(&store, 1).unwrap();
    save(&store, &snapshot, position);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let (served_now, at) = load_snapshot(&store, 1).unwrap();
    assert!(!at.base_saved);
    assert_eq!(served(&served_now), (31, 0, 0));
}

fn note() -> WithdrawalNote {
    WithdrawalNote {
        reason: "recorded in error by the source agency".to_owned(),
        actor: "analyst".to_owned(),
        at: "2026-12-07T10:00:00.000Z".to_owned(),
    }
}

/// The counts of every finest cell of `snapshot` over the whole test area and period.
fn all_counts(snapshot: &Snapshot) -> Vec<crate::index::CellCount> {
    snapshot.incidents.cell_counts(&crate::index::CountQuery {
        bbox: crate::domain::Bbox::from_coords(-3.0, 51.0, -2.0, 52.0).unwrap(),
        res: crate::index::H3Res::finest(),
        window: crate::domain::TimeWindow::new(
            Day::from_days_since_epoch(19_000),
            Day::from_days_since_epoch(20_000),
        )
        .unwrap(),
        category: None,
    })
}

#[test]
fn withdrawals_and_amendments_are_read_as_tombstones_and_runs_and_served_as_a_fresh_load() {
    let (mut store, _) = store_and_position();
    import(&mut store, "a.csv", 1_001, 30);
    let (snapshot, position) = load_snapshot(&store, 1).unwrap();
    assert_eq!(snapshot.incidents.len(), 80);
    // A row of the table, a row of a segment, and an amendment (moved and recategorised).
    store
        .withdraw_incidents(&[IncidentId::new(7), IncidentId::new(1_003)], &note())
        .unwrap();
    let amended = store
        .amend_incident(
            IncidentId::new(1_011),
            &IncidentCorrection {
                category: Some(Category::Robbery),
                location: Some(LonLat::new(-2.55, 51.46).unwrap()),
                day: None,
            },
            &note(),
        )
        .unwrap();
    let update = fetch_update(&store, position).unwrap().unwrap();
    assert!(update.changed.incident_withdrawals && update.changed.incident_segments);
    assert!(!update.changed.incidents, "no whole reload");
    let mut withdrawn: Vec<u64> = update
        .incidents
        .withdrawn
        .iter()
        .map(|i| i.id.get())
        .collect();
    withdrawn.sort_unstable();
    assert_eq!(withdrawn, [7, 1_003, 1_011]);
    assert_eq!(update.incidents.added_ids(), [amended.incident.id]);
    let next = snapshot.with_changes(&update.changed, update.data, update.incidents, None);
    assert_eq!(next.data_version, snapshot.data_version + 1);
    assert_eq!(next.incidents.tombstones(), 3);
    // Served exactly as a server starting now would serve the store.
    let (fresh, _) = load_snapshot(&store, 1).unwrap();
    assert_eq!(next.incidents.len(), 78);
    assert_eq!(fresh.incidents.len(), 78);
    assert_eq!(all_counts(&next), all_counts(&fresh));
    // Read once: the next poll finds nothing.
    assert!(fetch_update(&store, update.position).unwrap().is_none());
}

#[test]
fn a_withdrawal_during_a_whole_reload_is_not_lost() {
    let (mut store, position) = store_and_position();
    // Rows written and a row withdrawn: the reload leaves it out, and the cursor moves past
    // the withdrawal so it is not tombstoned twice.
    store
        .write_unchecked(&Dataset {
            incidents: (51..=60).map(|k| incident(k, k)).collect(),
            ..Dataset::default()
        })
        .unwrap();
    store
        .withdraw_incidents(&[IncidentId::new(55)], &note())
        .unwrap();
    let update = fetch_update(&store, position).unwrap().unwrap();
    assert!(update.changed.incidents);
    assert!(update.incidents.is_empty());
    assert_eq!(update.data.incidents.len(), 59);
    assert!(update.position.withdrawal_cursor > position.withdrawal_cursor);
    assert!(fetch_update(&store, update.position).unwrap().is_none());
}

#[test]
fn a_saved_index_is_written_only_when_it_reflects_every_withdrawal() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
    import(&mut store, "a.csv", 1_001, 30);
    let (_, position) = load_snapshot(&store, 1).unwrap();
    store
        .withdraw_incidents(&[IncidentId::new(1_005)], &note())
        .unwrap();
    // The layer served at `position` still holds 1005: saving it under the new fingerprint
    // would serve the withdrawn incident again after a restart.
    assert!(
        save_target(
            &store,
            position.seq.unwrap(),
            position.segment_cursor,
            position.withdrawal_cursor
        )
        .unwrap()
        .is_none()
    );
    // Once applied and merged, it is saved, and a restart serves 29 from the file.
    let (snapshot, _) = load_snapshot(&store, 1).unwrap();
    let update = fetch_update(&store, position).unwrap().unwrap();
    let mut next = snapshot.with_changes(&update.changed, update.data, update.incidents, None);
    assert_eq!(next.incidents.len(), 29);
    let mut layer = next
        .incidents
        .begin_merge()
        .unwrap_or(next.incidents.clone());
    while let Some(step) = layer.merge_step() {
        layer = layer.with_step(step).unwrap();
    }
    assert_eq!(layer.tombstones(), 0);
    next.incidents = layer;
    save(&store, &next, update.position);
    let (warm, at) = load_snapshot(&store, 1).unwrap();
    assert!(at.base_saved);
    assert_eq!(served(&warm), (29, 0, 0));
}
