//! The PostgreSQL store's public-schema data agrees with the `SQLite` store: each test is
//! written once against `&mut dyn Store` and run on `SqliteStore::open_in_memory()` and on a
//! fresh database of a throwaway cluster (one cluster shared by the tests running at once),
//! and the two results are compared.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::super::PgStore;
use super::super::test_cluster::PgCluster;
use crate::domain::{Agency, Boundary, Dataset, Incident, IncidentId, LonLat};
use crate::import::{FileSummary, ImportKind, ImportOptions, import_file};
use crate::ingest::report::Progress;
use crate::store::changes::ChangeSet;
use crate::store::{
    AmendedIncident, ImportBatch, ImportFile, IncidentCorrection, KindCounts, SqliteStore, Store,
    StoreError, WithdrawalNote,
};

// ---------------------------------------------------------------------------------------------
// Fixtures.

static CLUSTER: Mutex<Weak<PgCluster>> = Mutex::new(Weak::new());
/// Migrations create cluster-wide roles: databases are migrated one at a time.
static CONNECT: Mutex<()> = Mutex::new(());
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// A fresh, migrated database of the shared cluster (started when no test holds it).
struct PgFixture {
    store: PgStore,
    db: String,
    cluster: Arc<PgCluster>,
}

fn pg_fixture() -> Option<PgFixture> {
    let cluster = {
        let mut shared = CLUSTER.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = shared.upgrade() {
            c
        } else {
            let c = Arc::new(PgCluster::start()?);
            *shared = Arc::downgrade(&c);
            c
        }
    };
    let db = format!(
        "data_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    );
    let _one_at_a_time = CONNECT.lock().unwrap_or_else(PoisonError::into_inner);
    postgres::Client::connect(&cluster.url(), postgres::NoTls)
        .and_then(|mut c| c.batch_execute(&format!("CREATE DATABASE {db}")))
        .unwrap();
    let store = PgStore::connect(&cluster.url_as("postgres", &db)).unwrap();
    Some(PgFixture { store, db, cluster })
}

/// Runs `check` on an in-memory `SQLite` store and on a PostgreSQL database (when PostgreSQL
/// is installed) and asserts both give the same result.
fn on_both<T: PartialEq + std::fmt::Debug>(check: impl Fn(&mut dyn Store) -> T) {
    let mut sqlite = SqliteStore::open_in_memory().unwrap();
    let expected = check(&mut sqlite);
    let Some(mut pg) = pg_fixture() else { return };
    let got = check(&mut pg.store);
    assert_eq!(got, expected, "PostgreSQL and SQLite disagree");
}

/// A small synthetic dataset plus an incident with every column at its extreme.
fn demo() -> Dataset {
    let areas = crate::ingest::west_of_england::load_area_set(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata"),
    )
    .unwrap();
    let params = crate::synthetic::SyntheticParams {
        incidents: 1_500,
        people: 20,
        ..crate::synthetic::SyntheticParams::default()
    };
    let mut data = crate::synthetic::generate(&params, &areas).unwrap();
    let mut extreme = data.incidents[0].clone();
    extreme.id = IncidentId::new(i64::MAX.cast_unsigned());
    extreme.time.day = crate::domain::Day::MAX;
    extreme.time.minute_of_day = Some(1439);
    extreme.time.precision = crate::domain::TimePrecision::Exact;
    extreme.location = Some(crate::domain::IncidentLocation {
        point: LonLat::new(180.0, -90.0).unwrap(),
        precision: crate::domain::LocationPrecision::Exact,
    });
    data.incidents.push(extreme);
    // One incident without a location.
    data.incidents[1].location = None;
    data
}

/// The spatial kinds of `d`, each in key order (the order a load returns).
#[derive(Debug, PartialEq)]
struct Spatial {
    incidents: Vec<Incident>,
    places: Vec<crate::domain::PlaceOfConcern>,
    schools: Vec<crate::domain::School>,
    stops: Vec<crate::domain::Stop>,
    routes: Vec<crate::domain::Route>,
    services: Vec<crate::domain::YouthService>,
    boundaries: Vec<Boundary>,
}

fn spatial(d: &Dataset) -> Spatial {
    let mut s = Spatial {
        incidents: d.incidents.clone(),
        places: d.places.clone(),
        schools: d.schools.clone(),
        stops: d.stops.clone(),
        routes: d.routes.clone(),
        services: d.services.clone(),
        boundaries: d.boundaries.clone(),
    };
    s.incidents.sort_by_key(|i| i.id.get());
    s.places.sort_by_key(|p| p.id.get());
    s.schools.sort_by_key(|p| p.urn.get());
    s.stops.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    s.routes.sort_by_key(|p| p.id.get());
    s.services.sort_by_key(|p| p.id.get());
    s.boundaries.sort_by(|a, b| {
        (a.scheme.as_str(), a.code.as_str()).cmp(&(b.scheme.as_str(), b.code.as_str()))
    });
    s
}

/// The spatial counts of `c`.
fn spatial_counts(c: KindCounts) -> [u64; 7] {
    [
        c.incidents,
        c.places,
        c.schools,
        c.stops,
        c.routes,
        c.services,
        c.boundaries,
    ]
}

/// The real police.uk street file of January 2023 (12,566 rows) when the shared data is
/// beside the repository, else the repository's slice of it.
fn street_sample() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let real = root.join("../shared/realdata/police_street_avon-and-somerset_2023-01.csv");
    if real.is_file() {
        real
    } else {
        root.join("tests/fixtures/police/street_slice_lf.csv")
    }
}

fn options() -> ImportOptions {
    ImportOptions {
        dry_run: false,
        allow_partial: true,
        agency: Agency::new("data-police-uk").unwrap(),
        isa_ref: None,
        scheme: None,
        code_field: None,
        name_field: None,
        progress: Progress::silent(),
        lsoa_codes: None,
        links: None,
        sharing: None,
        today: crate::api::Clock::System.today(),
    }
}

/// What an import reports, without the file's name and timings.
fn accounted(s: &FileSummary) -> [u64; 7] {
    [
        s.read,
        s.stored,
        s.duplicates,
        s.rejected,
        s.unlocated,
        s.outside_area,
        s.skipped,
    ]
}

fn import(store: &mut dyn Store, path: &Path) -> FileSummary {
    import_file(store, ImportKind::PoliceStreet, path, &options()).unwrap()
}

/// The ids of every incident a load returns.
fn loaded_ids(store: &dyn Store) -> Vec<u64> {
    store
        .load()
        .unwrap()
        .incidents
        .iter()
        .map(|i| i.id.get())
        .collect()
}

fn note(reason: &str, actor: &str) -> WithdrawalNote {
    WithdrawalNote {
        reason: reason.to_owned(),
        actor: actor.to_owned(),
        at: "2026-12-08T01:00:00.000Z".to_owned(),
    }
}

const REASON: &str = "recorded in error by the source agency";

/// The kinds `changes_since(after)` names, as words.
fn kinds(store: &dyn Store, after: u64) -> Vec<&'static str> {
    let set = store.changes_since(after).unwrap();
    [
        (set.incidents, "incidents"),
        (set.incident_segments, "incident_segments"),
        (set.reference, "reference"),
        (set.people, "people"),
        (set.access, "access"),
        (set.incident_withdrawals, "incident_withdrawals"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}

fn latest(store: &dyn Store) -> u64 {
    store.latest_change().unwrap().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn a_demo_dataset_written_is_loaded_back_equal_with_exact_geometry_and_the_same_counts() {
    let data = demo();
    let expected = spatial(&data);
    assert!(!expected.boundaries.is_empty() && !expected.routes.is_empty());
    on_both(|store| {
        let written = store.write_records(&data).unwrap();
        let loaded = spatial(&store.load().unwrap());
        assert_eq!(loaded, expected, "{}", store.location());
        let counts = spatial_counts(store.counts().unwrap());
        // Written again: nothing new, and nothing for the change feed.
        let before = latest(store);
        let again = store.write_records(&data).unwrap();
        assert_eq!(latest(store), before);
        (
            spatial_counts(written.counts),
            counts,
            spatial_counts(again.counts),
            // The people side records its own kind.
            kinds(store, 0)
                .into_iter()
                .filter(|k| *k != "people")
                .collect::<Vec<_>>(),
        )
    });
}

#[test]
fn a_police_uk_file_imports_with_the_same_accounting_and_again_stores_nothing() {
    let path = street_sample();
    on_both(|store| {
        let first = import(store, &path);
        assert!(first.stored > 0, "{first:?}");
        let second = import(store, &path);
        assert_eq!(second.stored, 0);
        let mut batches = Vec::new();
        let cursor = store
            .for_each_incident_batch(&mut |b| batches.extend(b))
            .unwrap();
        assert!(cursor > 0);
        batches.sort_by_key(|i| i.id.get());
        let loaded = store.load().unwrap().incidents;
        assert_eq!(batches, loaded);
        (
            accounted(&first),
            accounted(&second),
            spatial_counts(store.counts().unwrap()),
            loaded,
            kinds(store, 0),
        )
    });
}

#[test]
fn streaming_after_a_batch_hands_over_exactly_the_incidents_imported_later() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(street_sample()).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let (a, b) = rows.split_at(rows.len() / 2);
    let write = |name: &str, rows: &[&str]| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
        path
    };
    let (first, second) = (write("a.csv", a), write("b.csv", b));
    on_both(|store| {
        import(store, &first);
        let before = loaded_ids(store);
        let (_, cursor) = store.load_kinds(&ChangeSet::everything(0)).unwrap();
        let fingerprint = store.incidents_fingerprint(cursor).unwrap();
        let seq = latest(store);
        import(store, &second);
        let mut expected = loaded_ids(store);
        expected.retain(|id| before.binary_search(id).is_err());
        let mut streamed = Vec::new();
        let next = store
            .for_each_incident_after_segment(cursor, &mut |batch| {
                streamed.extend(batch.iter().map(|i| i.id.get()));
            })
            .unwrap();
        streamed.sort_unstable();
        assert_eq!(streamed, expected);
        assert!(next > cursor);
        assert_eq!(
            store.incident_rows_after_segment(cursor).unwrap(),
            expected.len() as u64
        );
        // Nothing after the newest batch; the older batches' fingerprint is unchanged.
        let mut none = 0;
        store
            .for_each_incident_after_segment(next, &mut |b| none += b.len())
            .unwrap();
        assert_eq!(none, 0);
        assert_eq!(store.incidents_fingerprint(cursor).unwrap(), fingerprint);
        (expected.len(), fingerprint.segment_rows, kinds(store, seq))
    });
}

#[test]
fn withdrawals_and_amendments_refuse_as_sqlite_does_and_feed_their_kinds() {
    let data = demo();
    let (a, b) = (data.incidents[2].id, data.incidents[3].id);
    let absent =
        IncidentId::new(data.incidents.iter().map(|i| i.id.get()).max().unwrap_or(0) / 2 + 3);
    assert!(data.incidents.iter().all(|i| i.id != absent));
    on_both(|store| {
        store.write_records(&data).unwrap();
        let total = store.counts().unwrap().incidents;
        let mut errors = Vec::new();
        let mut refuse = |e: StoreError| errors.push(e.to_string());
        refuse(
            store
                .withdraw_incidents(&[a], &note("too short", "x"))
                .unwrap_err(),
        );
        refuse(
            store
                .withdraw_incidents(&[a], &note(REASON, "  "))
                .unwrap_err(),
        );
        refuse(
            store
                .withdraw_incidents(&[], &note(REASON, "x"))
                .unwrap_err(),
        );
        refuse(
            store
                .withdraw_incidents(&[a, absent], &note(REASON, "x"))
                .unwrap_err(),
        );
        assert_eq!(
            store.counts().unwrap().incidents,
            total,
            "a refusal wrote nothing"
        );
        let seq = latest(store);
        let seqs = store
            .withdraw_incidents(&[a, a], &note(REASON, "x"))
            .unwrap();
        let after_withdrawal = kinds(store, seq);
        refuse(
            store
                .withdraw_incidents(&[a], &note(REASON, "x"))
                .unwrap_err(),
        );
        let stored = data.incidents[3].clone();
        refuse(
            store
                .amend_incident(
                    b,
                    &IncidentCorrection {
                        category: Some(stored.category),
                        ..IncidentCorrection::default()
                    },
                    &note(REASON, "x"),
                )
                .unwrap_err(),
        );
        let seq = latest(store);
        let amended: AmendedIncident = store
            .amend_incident(
                b,
                &IncidentCorrection {
                    day: Some(stored.time.day.plus_days(1)),
                    location: Some(LonLat::new(-2.5, 51.5).unwrap()),
                    ..IncidentCorrection::default()
                },
                &note(REASON, "A. Analyst"),
            )
            .unwrap();
        let after_amendment = kinds(store, seq);
        refuse(
            store
                .amend_incident(b, &IncidentCorrection::default(), &note(REASON, "x"))
                .unwrap_err(),
        );
        let ids = loaded_ids(store);
        assert!(!ids.contains(&a.get()) && !ids.contains(&b.get()));
        assert!(ids.contains(&amended.incident.id.get()));
        let mut withdrawn = Vec::new();
        let newest = store
            .for_each_withdrawal_after(0, &mut |batch| withdrawn.extend(batch))
            .unwrap();
        withdrawn.sort_by_key(|i| i.id.get());
        (
            errors,
            seqs,
            after_withdrawal,
            amended,
            after_amendment,
            store.counts().unwrap().incidents,
            withdrawn,
            newest,
        )
    });
}

#[test]
fn a_failed_import_leaves_nothing_stored_and_nothing_in_the_feed() {
    let data = demo();
    let mut outline = data.boundaries[0].clone();
    outline.code = "E99999999".parse().unwrap();
    if let Some(polygon) = outline.geometry.0.first_mut() {
        polygon.exterior_mut(|ring| ring.0[1].x = f64::NAN);
    }
    let batch = ImportBatch {
        incidents: data
            .incidents
            .iter()
            .enumerate()
            .map(|(n, i)| crate::store::ImportedIncident {
                incident: i.clone(),
                line: n as u64 + 2,
                attributes: crate::store::SourceAttributes::default(),
                outside_area: false,
            })
            .collect(),
        boundaries: vec![outline],
        ..ImportBatch::default()
    };
    let file = ImportFile {
        name: "broken.csv".to_owned(),
        sha256: "0".repeat(64),
        imported_at: "2026-12-08T01:00:00.000Z".to_owned(),
        kind: "incidents".to_owned(),
    };
    on_both(|store| {
        let error = store
            .write_import(&batch, &file, &serde_json::json!({}), true)
            .unwrap_err();
        assert!(
            error.to_string().contains("non-finite") || format!("{error:?}").contains("non-finite"),
            "{error:?}"
        );
        (spatial_counts(store.counts().unwrap()), latest(store))
    });
}

#[test]
fn a_check_violated_mid_batch_rolls_the_whole_import_back() {
    let Some(mut pg) = pg_fixture() else { return };
    let data = demo();
    let mut incidents: Vec<_> = data
        .incidents
        .iter()
        .enumerate()
        .map(|(n, i)| crate::store::ImportedIncident {
            incident: i.clone(),
            line: n as u64 + 2,
            attributes: crate::store::SourceAttributes::default(),
            outside_area: false,
        })
        .collect();
    // `line >= 1` holds in the schema: line 0 in the middle of the batch breaks it.
    let middle = incidents.len() / 2;
    incidents[middle].line = 0;
    let batch = ImportBatch {
        incidents,
        ..ImportBatch::default()
    };
    let file = ImportFile {
        name: "broken.csv".to_owned(),
        sha256: "1".repeat(64),
        imported_at: "2026-12-08T01:00:00.000Z".to_owned(),
        kind: "incidents".to_owned(),
    };
    let error = pg
        .store
        .write_import(&batch, &file, &serde_json::json!({}), true)
        .unwrap_err();
    assert!(error.to_string().contains("23514"), "{error}");
    assert_eq!(pg.store.counts().unwrap().incidents, 0);
    let mut client = pg.cluster.client_as("postgres", &pg.db);
    let files: i64 = client
        .query_one("SELECT COUNT(*) FROM imported_files", &[])
        .unwrap()
        .get(0);
    assert_eq!(files, 0);
    assert_eq!(latest(&pg.store), 0);
    // And the same batch with the line mended stores every row (the connection is usable).
    let mut mended = batch.clone();
    mended.incidents[middle].line = 5;
    let written = pg
        .store
        .write_import(&mended, &file, &serde_json::json!({}), true)
        .unwrap();
    assert_eq!(written.stored, data.incidents.len() as u64);
}

#[test]
fn the_gis_role_sees_incidents_without_children_and_not_withdrawn_ones() {
    let Some(mut pg) = pg_fixture() else { return };
    let data = demo();
    let adult: Vec<_> = data
        .incidents
        .iter()
        .filter(|i| !i.involves_child)
        .take(2)
        .collect();
    let child = data.incidents.iter().find(|i| i.involves_child).unwrap();
    let (shown, withdrawn) = (adult[0].id, adult[1].id);
    pg.store.write_records(&data).unwrap();
    pg.store
        .withdraw_incidents(&[withdrawn], &note(REASON, "A. Analyst"))
        .unwrap();
    {
        let _one_at_a_time = CONNECT.lock().unwrap_or_else(PoisonError::into_inner);
        pg.cluster
            .client()
            .batch_execute(
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gis_analyst') \
                 THEN CREATE ROLE gis_analyst LOGIN IN ROLE saferplaces_gis; END IF; END $$",
            )
            .unwrap();
    }
    let mut gis = pg.cluster.client_as("gis_analyst", &pg.db);
    let visible = |gis: &mut postgres::Client, id: IncidentId| -> bool {
        gis.query_opt(
            "SELECT 1 FROM incidents WHERE id = $1",
            &[&i64::try_from(id.get()).unwrap()],
        )
        .unwrap()
        .is_some()
    };
    assert!(visible(&mut gis, shown));
    assert!(!visible(&mut gis, child.id));
    assert!(!visible(&mut gis, withdrawn));
    let seen: i64 = gis
        .query_one("SELECT COUNT(*) FROM incidents", &[])
        .unwrap()
        .get(0);
    let served = data.incidents.iter().filter(|i| !i.involves_child).count() - 1;
    assert_eq!(seen, served as i64);
    // Nothing of the people schema.
    assert!(gis.query("SELECT 1 FROM people.people", &[]).is_err());
}

#[test]
fn likely_duplicates_are_linked_once() {
    let data = demo();
    let m = crate::ingest::reconcile::LikelyDuplicate {
        a: data.incidents[0].id.min(data.incidents[1].id),
        b: data.incidents[0].id.max(data.incidents[1].id),
        category: data.incidents[0].category,
        distance_m: 12.5,
        days_apart: 1,
    };
    on_both(|store| {
        let params = serde_json::json!({"radius_m": 50});
        let first = store.write_matches(&[m, m], &params, "now").unwrap();
        let again = store.write_matches(&[m], &params, "now").unwrap();
        (first, again)
    });
}

#[test]
fn a_bulk_import_leaves_the_planner_statistics_of_incidents_fresh() {
    let Some(mut pg) = pg_fixture() else { return };
    let template = demo().incidents.remove(0);
    let rows = super::super::ANALYZE_AFTER_ROWS as usize;
    let incidents = (0..rows)
        .map(|n| {
            let mut incident = template.clone();
            incident.id = IncidentId::new(1_000_000 + n as u64);
            crate::store::ImportedIncident {
                incident,
                line: n as u64 + 2,
                attributes: crate::store::SourceAttributes::default(),
                outside_area: false,
            }
        })
        .collect();
    let batch = ImportBatch {
        incidents,
        ..ImportBatch::default()
    };
    let file = ImportFile {
        name: "bulk.csv".to_owned(),
        sha256: "2".repeat(64),
        imported_at: "2026-12-08T02:30:00.000Z".to_owned(),
        kind: "incidents".to_owned(),
    };
    let written = pg
        .store
        .write_import(&batch, &file, &serde_json::json!({}), true)
        .unwrap();
    assert_eq!(written.stored, rows as u64);
    // A table never analysed has reltuples -1: every server's query for the batches after its
    // cursor was then planned as a scan of the whole table (4 s a change at 10M incidents).
    let reltuples: f32 = pg
        .cluster
        .client_as("postgres", &pg.db)
        .query_one(
            "SELECT reltuples FROM pg_class WHERE oid = 'incidents'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(reltuples >= rows as f32 * 0.9, "reltuples {reltuples}");
}
