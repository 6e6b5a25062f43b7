//! Tests for the `SQLite` store: round trips, idempotent writes, rollback, reopening, schema
//! versions and corrupt rows.

use std::fmt::Debug;

use approx::assert_abs_diff_eq;
use geo::{MultiPolygon, polygon};
use proptest::prelude::*;
use tempfile::TempDir;

use super::*;
use crate::domain::{Case, CaseKind, CaseRef, MaceMeeting, Role};
use crate::store::{Amendment, NewUser, Written};

fn ll(lon: f64, lat: f64) -> LonLat {
    LonLat::new(lon, lat).unwrap()
}

fn agency(s: &str) -> Agency {
    Agency::new(s).unwrap()
}

fn person_ref(s: &str) -> PersonRef {
    PersonRef::new(s).unwrap()
}

fn atco(s: &str) -> AtcoCode {
    AtcoCode::new(s).unwrap()
}

fn day(s: &str) -> Day {
    s.parse().unwrap()
}

/// Three provenances: bare, with agreement and grade, and with the other grade extremes.
fn provenance(n: usize) -> Provenance {
    match n % 3 {
        0 => Provenance {
            agency: agency("avon-and-somerset-police"),
            isa_ref: None,
            grade: None,
        },
        1 => Provenance {
            agency: agency("bristol-city-council"),
            isa_ref: Some(IsaRef::new("ISA-2024-007").unwrap()),
            grade: Some("1AP".parse().unwrap()),
        },
        _ => Provenance {
            agency: agency("nhs_bristol"),
            isa_ref: Some(IsaRef::new("ISA/2025.01").unwrap()),
            grade: Some("3EC".parse().unwrap()),
        },
    }
}

/// A small dataset with every kind and every enum variant the store encodes, each kind in
/// key order (the order `load` returns).
#[expect(
    clippy::too_many_lines,
    reason = "a table-like fixture: one record per kind and enum variant the store encodes"
)]
pub(in crate::store) fn sample() -> Dataset {
    use SubjectCategory as S;

    let mut incidents: Vec<Incident> = Category::ALL
        .iter()
        .enumerate()
        .map(|(i, &category)| {
            let precision = TimePrecision::ALL[i % TimePrecision::ALL.len()];
            let location = (i % 4 != 3).then(|| IncidentLocation {
                point: ll(-2.6 + i as f64 * 0.001, 51.45 - i as f64 * 0.000_37),
                precision: LocationPrecision::ALL[i % LocationPrecision::ALL.len()],
            });
            Incident {
                id: IncidentId::new(i as u64 * 10 + 1),
                category,
                time: IncidentTime {
                    day: Day::from_days_since_epoch(19_000 + i as u16),
                    minute_of_day: (precision == TimePrecision::Exact).then_some(i as u16 * 83),
                    precision,
                },
                location,
                involves_child: i % 2 == 0,
                provenance: provenance(i),
            }
        })
        .collect();
    // The extremes every column must hold.
    incidents.push(Incident {
        id: IncidentId::new(i64::MAX as u64),
        category: Category::KnifeCrime,
        time: IncidentTime {
            day: Day::MAX,
            minute_of_day: Some(MINUTES_PER_DAY - 1),
            precision: TimePrecision::Exact,
        },
        location: Some(IncidentLocation {
            point: ll(180.0, -90.0),
            precision: LocationPrecision::Exact,
        }),
        involves_child: true,
        provenance: provenance(1),
    });

    let places = PlaceKind::ALL
        .iter()
        .enumerate()
        .map(|(i, &kind)| PlaceOfConcern {
            id: PlaceId::new(i as u32 + 1),
            kind,
            name: format!("St Mary's \"Rec\" — café {i}"),
            location: ll(-2.59 + i as f64 * 0.01, 51.46),
            guardians: (0..i % 3)
                .map(|g| Guardian {
                    role: format!("warden {g}"),
                    organisation: "Bristol City Council Parks".to_owned(),
                })
                .collect(),
            review_due: Day::from_days_since_epoch(20_500 + i as u16),
            provenance: provenance(i),
        })
        .collect();

    let schools = Phase::ALL
        .iter()
        .enumerate()
        .map(|(i, &phase)| School {
            urn: Urn::new(100_000 + i as u32 * 7).unwrap(),
            name: format!("School {i}"),
            phase,
            location: ll(-2.55, 51.40 + i as f64 * 0.01),
            la_code: BoundaryCode::new("E06000023").unwrap(),
            open: i % 2 == 0,
        })
        .collect();

    let stops = vec![
        Stop {
            id: atco("0100BRP90310"),
            name: "Temple Meads".to_owned(),
            location: ll(-2.58, 51.45),
            active: true,
        },
        Stop {
            id: atco("0100BRP90311"),
            name: "Broadmead".to_owned(),
            location: ll(-2.59, 51.46),
            active: true,
        },
        Stop {
            id: atco("0100BRZ00001"),
            name: "Stockwood".to_owned(),
            location: ll(-2.54, 51.41),
            active: false,
        },
    ];

    let routes = RouteMode::ALL
        .iter()
        .enumerate()
        .map(|(i, &mode)| Route {
            id: RouteId::new(i as u32 + 1),
            short_name: format!("{}", i + 1),
            long_name: "Cribbs Causeway - Stockwood".to_owned(),
            mode,
            line: (0..2 + i)
                .map(|p| ll(-2.6 + p as f64 * 0.0125, 51.5 - p as f64 * 0.015))
                .collect(),
            stops: stops.iter().take(i).map(|s| s.id.clone()).collect(),
        })
        .collect();

    let services = ServiceTier::ALL
        .iter()
        .enumerate()
        .map(|(i, &tier)| YouthService {
            id: ServiceId::new(i as u32 + 1),
            name: format!("Service {i}"),
            tier,
            kind: "youth club".to_owned(),
            provider: "Creative Youth Network".to_owned(),
            location: ll(-2.57, 51.44 + i as f64 * 0.002),
        })
        .collect();

    let with_hole = polygon!(
        exterior: [(x: -2.7, y: 51.4), (x: -2.5, y: 51.4), (x: -2.5, y: 51.5), (x: -2.7, y: 51.5)],
        interiors: [[(x: -2.65, y: 51.42), (x: -2.6, y: 51.42), (x: -2.6, y: 51.45)]],
    );
    let island = polygon![(x: -2.9, y: 51.3), (x: -2.8, y: 51.3), (x: -2.85, y: 51.35)];
    let boundaries = vec![
        Boundary {
            scheme: SchemeName::new("lad").unwrap(),
            code: BoundaryCode::new("E06000023").unwrap(),
            name: "Bristol, City of".to_owned(),
            geometry: MultiPolygon::new(vec![with_hole, island.clone()]),
            youth_population: Some(95_000),
        },
        Boundary {
            scheme: SchemeName::new("locality_police").unwrap(),
            code: BoundaryCode::new("bristol-south").unwrap(),
            name: "Bristol South".to_owned(),
            geometry: MultiPolygon::new(vec![island]),
            youth_population: Some(u32::MAX),
        },
        Boundary {
            scheme: SchemeName::new("ward").unwrap(),
            code: BoundaryCode::new("E05010885").unwrap(),
            name: "Empty outline".to_owned(),
            geometry: MultiPolygon::new(vec![]),
            youth_population: None,
        },
    ];

    let people = vec![
        Person::new(
            person_ref("P00000001"),
            2008,
            vec![S::Victim, S::ChildAtRiskOfExploitation],
            agency("bristol-city-council"),
            day("2026-01-31"),
        )
        .unwrap(),
        Person::new(
            person_ref("P00000002"),
            1990,
            vec![S::Witness, S::SuspectedExploiterAdult, S::Suspect],
            agency("avon-and-somerset-police"),
            day("2026-06-30"),
        )
        .unwrap(),
        Person::new(
            person_ref("P0000000a0b1c2d3"),
            1975,
            vec![S::Convicted, S::ProfessionalOther],
            agency("avon-and-somerset-police"),
            Day::MAX,
        )
        .unwrap(),
    ];

    let targets = [
        LinkTarget::Person(person_ref("P00000002")),
        LinkTarget::Place(PlaceId::new(3)),
        LinkTarget::Incident(IncidentId::new(i64::MAX as u64)),
    ];
    let grades = ["1AP", "2BC", "3EP"];
    let links = LinkKind::ALL
        .iter()
        .enumerate()
        .map(|(i, &kind)| {
            Link::new(
                i as u64 + 1,
                kind,
                person_ref("P00000001"),
                targets[i % targets.len()].clone(),
                vec![S::ALL[i % S::ALL.len()], S::ALL[(i + 3) % S::ALL.len()]],
                grades[i % grades.len()].parse().unwrap(),
                agency("avon-and-somerset-police"),
                Day::from_days_since_epoch(20_000 + i as u16),
            )
            .unwrap()
        })
        .collect();

    let cases = vec![
        Case {
            reference: CaseRef::new("OP-2026-001").unwrap(),
            kind: CaseKind::Investigation,
            subjects: vec![person_ref("P00000001")],
            opened: Day::from_days_since_epoch(20_100),
            review_due: Day::from_days_since_epoch(20_300),
            org: "avon-and-somerset-police".to_owned(),
            assigned: vec!["analyst-a".to_owned()],
        },
        Case {
            reference: CaseRef::new("SG-2026-0001").unwrap(),
            kind: CaseKind::Safeguarding,
            subjects: vec![person_ref("P00000001"), person_ref("P00000002")],
            opened: Day::from_days_since_epoch(20_101),
            review_due: Day::from_days_since_epoch(20_301),
            org: "avon-and-somerset-police".to_owned(),
            assigned: vec![],
        },
    ];
    let meetings = vec![MaceMeeting {
        reference: CaseRef::new("MACE-1-2026-11").unwrap(),
        panel_id: 1,
        day: Day::from_days_since_epoch(20_402),
        subjects: vec![person_ref("P00000002")],
        places: vec![PlaceId::new(1)],
    }];

    Dataset {
        incidents,
        places,
        schools,
        stops,
        routes,
        services,
        boundaries,
        people,
        links,
        cases,
        meetings,
    }
}

fn counts_of(d: &Dataset) -> KindCounts {
    let n = |len: usize| len as u64;
    KindCounts {
        incidents: n(d.incidents.len()),
        places: n(d.places.len()),
        schools: n(d.schools.len()),
        stops: n(d.stops.len()),
        routes: n(d.routes.len()),
        services: n(d.services.len()),
        boundaries: n(d.boundaries.len()),
        people: n(d.people.len()),
        links: n(d.links.len()),
        cases: n(d.cases.len()),
        meetings: n(d.meetings.len()),
        stop_searches: 0,
    }
}

fn assert_same(loaded: &Dataset, expected: &Dataset) {
    assert_eq!(loaded.cases, expected.cases);
    assert_eq!(loaded.meetings, expected.meetings);
    assert_eq!(loaded.incidents, expected.incidents);
    assert_eq!(loaded.places, expected.places);
    assert_eq!(loaded.schools, expected.schools);
    assert_eq!(loaded.stops, expected.stops);
    assert_eq!(loaded.routes, expected.routes);
    assert_eq!(loaded.services, expected.services);
    assert_eq!(loaded.boundaries, expected.boundaries);
    assert_eq!(loaded.people, expected.people);
    assert_eq!(loaded.links, expected.links);
}

fn assert_empty(store: &SqliteStore) {
    assert_eq!(store.counts().unwrap(), KindCounts::default());
    assert_same(&store.load().unwrap(), &Dataset::default());
}

/// A route whose line has one point: it breaks the routes table's CHECK constraint.
fn one_point_route() -> Route {
    Route {
        id: RouteId::new(99),
        short_name: "X".to_owned(),
        long_name: "Nowhere".to_owned(),
        mode: RouteMode::Bus,
        line: vec![ll(-2.6, 51.45)],
        stops: vec![],
    }
}

#[test]
fn every_kind_and_every_variant_survives_a_write_and_a_load() {
    let data = sample();
    let mut store = SqliteStore::open_in_memory().unwrap();

    let written = store.write_unchecked(&data).unwrap();

    assert_eq!(written, counts_of(&data));
    assert_eq!(store.counts().unwrap(), counts_of(&data));
    assert_same(&store.load().unwrap(), &data);
}

#[test]
fn a_fresh_store_is_empty_and_at_the_newest_schema_version() {
    let store = SqliteStore::open_in_memory().unwrap();

    assert_eq!(
        store.schema_version().unwrap(),
        SqliteStore::LATEST_SCHEMA_VERSION
    );
    assert_empty(&store);
}

#[test]
fn writing_the_same_dataset_twice_stores_nothing_new() {
    let data = sample();
    let mut store = SqliteStore::open_in_memory().unwrap();
    store.write_unchecked(&data).unwrap();

    let second = store.write_unchecked(&data).unwrap();

    assert_eq!(second, KindCounts::default());
    assert_eq!(store.counts().unwrap(), counts_of(&data));
    assert_same(&store.load().unwrap(), &data);
}

#[test]
fn a_record_whose_id_is_already_stored_is_left_as_it_was() {
    let data = sample();
    let mut store = SqliteStore::open_in_memory().unwrap();
    store.write_unchecked(&data).unwrap();
    let mut changed = Dataset {
        incidents: vec![data.incidents[0].clone()],
        ..Dataset::default()
    };
    changed.incidents[0].category = Category::Burglary;
    changed.incidents.push(Incident {
        id: IncidentId::new(2),
        ..data.incidents[0].clone()
    });

    let written = store.write_unchecked(&changed).unwrap();

    assert_eq!(
        written,
        KindCounts {
            incidents: 1,
            ..KindCounts::default()
        }
    );
    let loaded = store.load().unwrap();
    assert_eq!(loaded.incidents[0], data.incidents[0]);
    assert_eq!(loaded.incidents[1].id, IncidentId::new(2));
}

#[test]
fn a_batch_that_breaks_a_check_constraint_midway_stores_nothing() {
    // Incidents, places, schools and stops are written before routes, all in one transaction.
    let mut data = sample();
    data.routes.push(one_point_route());
    let mut store = SqliteStore::open_in_memory().unwrap();

    let err = store.write_unchecked(&data).unwrap_err();

    assert!(
        matches!(
            err,
            StoreError::Database {
                context: "storing routes",
                ..
            }
        ),
        "{err:?}"
    );
    assert_empty(&store);
}

#[test]
fn a_link_id_beyond_the_sqlite_integer_range_fails_the_whole_batch() {
    // Links are the last table written, so everything else was already inserted.
    let mut data = sample();
    let mut huge = data.links[0].clone();
    huge.id = u64::MAX;
    data.links.push(huge);
    let mut store = SqliteStore::open_in_memory().unwrap();

    let err = store.write_unchecked(&data).unwrap_err();

    assert!(
        matches!(
            err,
            StoreError::Database {
                context: "storing links",
                ..
            }
        ),
        "{err:?}"
    );
    assert_empty(&store);
}

#[test]
fn a_failed_batch_leaves_earlier_batches_untouched() {
    let data = sample();
    let mut store = SqliteStore::open_in_memory().unwrap();
    store.write_unchecked(&data).unwrap();
    let mut bad = Dataset::default();
    bad.incidents.push(Incident {
        id: IncidentId::new(5_000),
        ..data.incidents[0].clone()
    });
    bad.routes.push(one_point_route());

    assert!(store.write_unchecked(&bad).is_err());

    assert_eq!(store.counts().unwrap(), counts_of(&data));
    assert_same(&store.load().unwrap(), &data);
    // The store is still usable after the rollback.
    bad.routes.clear();
    assert_eq!(store.write_unchecked(&bad).unwrap().incidents, 1);
}

#[test]
fn a_batch_whose_table_vanished_fails_and_rolls_back_the_tables_before_it() {
    let data = sample();
    let mut store = SqliteStore::open_in_memory().unwrap();
    store.conn.execute_batch("DROP TABLE links").unwrap();

    let err = store.write_unchecked(&data).unwrap_err();

    assert!(
        matches!(
            err,
            StoreError::Database {
                context: "storing links",
                ..
            }
        ),
        "{err:?}"
    );
    let count = |table: &str| -> i64 {
        store
            .conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    for table in [
        "incidents",
        "places",
        "schools",
        "stops",
        "routes",
        "services",
        "people",
    ] {
        assert_eq!(count(table), 0, "{table}");
    }
    assert_eq!(count("boundaries"), 0);
}

#[test]
fn a_non_finite_boundary_coordinate_is_refused_instead_of_stored_as_null() {
    let mut data = sample();
    data.boundaries[0].geometry = MultiPolygon::new(vec![
        polygon![(x: 0.0, y: 0.0), (x: f64::NAN, y: 1.0), (x: 1.0, y: 1.0)],
    ]);
    let mut store = SqliteStore::open_in_memory().unwrap();

    let err = store.write_unchecked(&data).unwrap_err();

    assert!(
        matches!(
            err,
            StoreError::Database {
                source: rusqlite::Error::ToSqlConversionFailure(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert_empty(&store);
}

#[test]
fn a_file_backed_store_keeps_its_data_and_schema_version_when_reopened() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("not").join("yet").join("there");
    let data = sample();
    {
        let mut store = SqliteStore::open(&dir).unwrap();
        store.write_unchecked(&data).unwrap();
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
    assert!(dir.join(SqliteStore::FILE_NAME).is_file());

    let mut reopened = SqliteStore::open(&dir).unwrap();

    assert_eq!(
        reopened.schema_version().unwrap(),
        SqliteStore::LATEST_SCHEMA_VERSION
    );
    assert_eq!(reopened.counts().unwrap(), counts_of(&data));
    assert_same(&reopened.load().unwrap(), &data);
    assert_eq!(
        reopened.write_unchecked(&data).unwrap(),
        KindCounts::default()
    );
}

#[test]
fn pragmas_are_set_on_open() {
    let tmp = TempDir::new().unwrap();
    let store = SqliteStore::open(tmp.path()).unwrap();
    let pragma = |name: &str| -> i64 {
        store
            .conn
            .pragma_query_value(None, name, |r| r.get(0))
            .unwrap()
    };

    assert_eq!(pragma("foreign_keys"), 1);
    assert_eq!(pragma("synchronous"), 1, "NORMAL");
}

/// The cause inside the [`StoreError::Open`] that a failed open returns, checking that it
/// names the database file in `dir`.
fn open_cause(err: StoreError, dir: &Path) -> StoreError {
    match err {
        StoreError::Open { file, source } => {
            assert_eq!(file, dir.join(SqliteStore::FILE_NAME));
            *source
        }
        other => panic!("not an open error: {other:?}"),
    }
}

#[test]
fn a_data_dir_that_is_a_file_is_a_data_dir_error() {
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("occupied");
    std::fs::write(&file, b"not a directory").unwrap();

    let err = open_cause(SqliteStore::open(&file).unwrap_err(), &file);

    assert!(
        matches!(err, StoreError::DataDir { ref path, .. } if *path == file),
        "{err:?}"
    );
}

#[test]
fn a_database_from_a_newer_build_is_refused_as_schema_too_new() {
    let tmp = TempDir::new().unwrap();
    {
        let store = SqliteStore::open(tmp.path()).unwrap();
        store.conn.pragma_update(None, "user_version", 99).unwrap();
    }

    let err = open_cause(SqliteStore::open(tmp.path()).unwrap_err(), tmp.path());

    let latest = SqliteStore::LATEST_SCHEMA_VERSION;
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: 99, supported } if supported == latest),
        "{err:?}"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_a_database_error() {
    let tmp = TempDir::new().unwrap();
    std::fs::write(tmp.path().join(SqliteStore::FILE_NAME), vec![b'x'; 4096]).unwrap();

    let err = open_cause(SqliteStore::open(tmp.path()).unwrap_err(), tmp.path());

    assert!(matches!(err, StoreError::Database { .. }), "{err:?}");
}

#[test]
fn migrations_are_numbered_from_one_in_order_and_say_why_they_exist() {
    let mut last = 0;
    for &(version, sql) in MIGRATIONS {
        assert_eq!(version, last + 1, "migration {version} after {last}");
        last = version;
        assert!(
            sql.starts_with("-- "),
            "migration {version} must open with a comment"
        );
    }
    assert_eq!(MIGRATIONS[0].0, 1);
    assert_eq!(SqliteStore::LATEST_SCHEMA_VERSION, last);
}

#[test]
fn a_row_with_an_unknown_category_is_reported_as_corrupt_not_a_panic() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    store.write_unchecked(&sample()).unwrap();
    store
        .conn
        .execute(
            "UPDATE incidents SET category = 'gang-stuff' WHERE id = 11",
            [],
        )
        .unwrap();

    let err = store.load().unwrap_err();

    match err {
        StoreError::Corrupt { table, row, reason } => {
            assert_eq!(table, "incidents");
            assert_eq!(row, "11");
            assert!(
                reason.contains("category") && reason.contains("gang-stuff"),
                "{reason}"
            );
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a table of damage cases, one per row kind"
)]
fn rows_that_no_longer_make_domain_values_are_reported_as_corrupt() {
    // Each case damages one row by hand (CHECK constraints switched off where they would stop
    // the damage) and names the table the load must blame.
    let cases = [
        ("UPDATE places SET lon = 500.0 WHERE id = 1", "places", "1"),
        (
            "UPDATE incidents SET day = 70000 WHERE id = 1",
            "incidents",
            "1",
        ),
        (
            "UPDATE incidents SET minute = 1440 WHERE id = 1",
            "incidents",
            "1",
        ),
        (
            "UPDATE incidents SET lat = NULL WHERE id = 1",
            "incidents",
            "1",
        ),
        (
            "UPDATE incidents SET location_precision = NULL WHERE id = 1",
            "incidents",
            "1",
        ),
        (
            "UPDATE incidents SET location_precision = 'roughly' WHERE id = 1",
            "incidents",
            "1",
        ),
        (
            "UPDATE incidents SET grade = '9ZZ' WHERE id = 11",
            "incidents",
            "11",
        ),
        (
            "UPDATE places SET guardians = '{\"role\": 1}' WHERE id = 2",
            "places",
            "2",
        ),
        (
            "UPDATE schools SET urn = 42 WHERE urn = 100000",
            "schools",
            "42",
        ),
        (
            "UPDATE stops SET atco = 'no spaces!' WHERE atco = '0100BRP90310'",
            "stops",
            "no spaces!",
        ),
        (
            "UPDATE routes SET line = '[[0,0],[999,0]]' WHERE id = 1",
            "routes",
            "1",
        ),
        (
            "UPDATE routes SET mode = 'hovercraft' WHERE id = 2",
            "routes",
            "2",
        ),
        (
            "UPDATE services SET tier = 'elite' WHERE id = 1",
            "services",
            "1",
        ),
        (
            "UPDATE boundaries SET geometry = '{\"type\":\"Point\",\"coordinates\":[0,0]}' \
             WHERE scheme = 'lad'",
            "boundaries",
            "lad/E06000023",
        ),
        (
            "UPDATE boundaries SET geometry = '[1,2]' WHERE scheme = 'ward'",
            "boundaries",
            "ward/E05010885",
        ),
        (
            "UPDATE people SET categories = '[\"gang_member\"]' WHERE id = 'P00000001'",
            "people",
            "P00000001",
        ),
        (
            "UPDATE people SET categories = '[]' WHERE id = 'P00000002'",
            "people",
            "P00000002",
        ),
        (
            "UPDATE people SET id = 'John Smith' WHERE id = 'P00000002'",
            "people",
            "John Smith",
        ),
        (
            "UPDATE links SET target = '{\"type\":\"gang\",\"id\":1}' WHERE id = 1",
            "links",
            "1",
        ),
        ("UPDATE links SET id = -5 WHERE id = 2", "links", "-5"),
    ];
    for (sql, table, row) in cases {
        let mut store = SqliteStore::open_in_memory().unwrap();
        store.write_unchecked(&sample()).unwrap();
        store
            .conn
            .pragma_update(None, "ignore_check_constraints", true)
            .unwrap();
        assert_eq!(store.conn.execute(sql, []).unwrap(), 1, "{sql}");

        let err = store.load().unwrap_err();

        match err {
            StoreError::Corrupt {
                table: t, row: r, ..
            } => {
                assert_eq!((t, r.as_str()), (table, row), "{sql}");
            }
            other => panic!("{sql}: expected Corrupt, got {other:?}"),
        }
    }
}

fn assert_codes_match_serde<T: Code + Serialize + Debug + PartialEq>() {
    for &value in T::ALL {
        assert_eq!(
            serde_json::to_value(value).unwrap(),
            serde_json::json!(value.code())
        );
        assert_eq!(T::from_code(value.code()), Some(value));
    }
    assert_eq!(T::from_code("not-a-code"), None);
}

#[test]
fn stored_codes_are_the_api_snake_case_names() {
    assert_codes_match_serde::<TimePrecision>();
    assert_codes_match_serde::<LocationPrecision>();
    assert_codes_match_serde::<PlaceKind>();
    assert_codes_match_serde::<Phase>();
    assert_codes_match_serde::<RouteMode>();
    assert_codes_match_serde::<ServiceTier>();
    assert_codes_match_serde::<LinkKind>();
}

#[test]
fn a_hundred_thousand_incidents_are_written_to_a_file_in_one_batch() {
    let template = sample().incidents[0].clone();
    let incidents: Vec<Incident> = (0..100_000_u64)
        .map(|i| Incident {
            id: IncidentId::new(i),
            category: Category::ALL[i as usize % Category::ALL.len()],
            ..template.clone()
        })
        .collect();
    let data = Dataset {
        incidents,
        ..Dataset::default()
    };
    let tmp = TempDir::new().unwrap();
    let mut store = SqliteStore::open(tmp.path()).unwrap();

    let written = store.write_unchecked(&data).unwrap();
    let loaded = store.load().unwrap();
    assert_eq!(written.incidents, 100_000);
    assert_eq!(loaded.incidents, data.incidents);
}

#[test]
fn a_key_repeated_within_one_batch_is_stored_once() {
    let data = sample();
    let mut batch = Dataset {
        incidents: vec![data.incidents[0].clone(), data.incidents[0].clone()],
        people: vec![data.people[0].clone(), data.people[0].clone()],
        ..Dataset::default()
    };
    batch.incidents[1].category = Category::Drugs;
    let mut store = SqliteStore::open_in_memory().unwrap();

    let written = store.write_unchecked(&batch).unwrap();

    assert_eq!(written.incidents, 1);
    assert_eq!(written.people, 1);
    assert_eq!(
        store.load().unwrap().incidents,
        vec![data.incidents[0].clone()]
    );
}

fn any_lonlat() -> impl Strategy<Value = LonLat> {
    (-180.0..=180.0_f64, -90.0..=90.0_f64).prop_map(|(lon, lat)| ll(lon, lat))
}

fn any_incident() -> impl Strategy<Value = Incident> {
    (
        0..=i64::MAX as u64,
        0..Category::ALL.len(),
        any::<u16>(),
        proptest::option::of(0..MINUTES_PER_DAY),
        0..TimePrecision::ALL.len(),
        proptest::option::of((any_lonlat(), 0..LocationPrecision::ALL.len())),
        any::<bool>(),
        0..3_usize,
    )
        .prop_map(
            |(id, category, day, minute_of_day, precision, location, child, prov)| Incident {
                id: IncidentId::new(id),
                category: Category::ALL[category],
                time: IncidentTime {
                    day: Day::from_days_since_epoch(day),
                    minute_of_day,
                    precision: TimePrecision::ALL[precision],
                },
                location: location.map(|(point, p)| IncidentLocation {
                    point,
                    precision: LocationPrecision::ALL[p],
                }),
                involves_child: child,
                provenance: provenance(prov),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_valid_incidents_round_trip_exactly(
        mut incidents in proptest::collection::vec(any_incident(), 0..40),
    ) {
        incidents.sort_by_key(|i| i.id);
        incidents.dedup_by_key(|i| i.id);
        let data = Dataset { incidents, ..Dataset::default() };
        let mut store = SqliteStore::open_in_memory().unwrap();

        store.write_unchecked(&data).unwrap();

        prop_assert_eq!(store.load().unwrap().incidents, data.incidents);
    }

    #[test]
    fn any_route_line_round_trips_within_a_picodegree(
        line in proptest::collection::vec(any_lonlat(), 2..20),
    ) {
        let route = Route { line, ..sample().routes[0].clone() };
        let mut store = SqliteStore::open_in_memory().unwrap();
        store.write_unchecked(&Dataset { routes: vec![route.clone()], ..Dataset::default() }).unwrap();

        let loaded = store.load().unwrap().routes;

        prop_assert_eq!(loaded.len(), 1);
        prop_assert_eq!(loaded[0].line.len(), route.line.len());
        for (got, want) in loaded[0].line.iter().zip(&route.line) {
            assert_abs_diff_eq!(got.lon(), want.lon(), epsilon = 1e-12);
            assert_abs_diff_eq!(got.lat(), want.lat(), epsilon = 1e-12);
        }
    }
}

#[test]
fn users_are_stored_with_a_token_hash_and_found_by_it() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let new = NewUser {
        name: "ana".to_owned(),
        role: Role::PoliceAnalyst,
        org: Some("avon-and-somerset-police".to_owned()),
        panels: vec![],
        token_hash: "a".repeat(64),
        token_expires_at: 2_000_000_000,
    };
    let id = store.add_user(&new).unwrap();
    let found = store.user_by_token_hash(&"a".repeat(64)).unwrap().unwrap();
    assert_eq!(
        (found.id, found.name.as_str(), found.role),
        (id, "ana", Role::PoliceAnalyst)
    );
    assert_eq!(
        (found.token_expires_at, found.token_revoked_at),
        (2_000_000_000, None)
    );
    assert!(store.user_by_token_hash(&"b".repeat(64)).unwrap().is_none());
    assert!(
        matches!(store.add_user(&new), Err(StoreError::Duplicate { .. })),
        "names are unique"
    );
    let revoked = store.revoke_user("ana", 1_900_000_000).unwrap().unwrap();
    assert_eq!(revoked.token_revoked_at, Some(1_900_000_000));
    let again = store.revoke_user("ana", 1_950_000_000).unwrap().unwrap();
    assert_eq!(
        again.token_revoked_at,
        Some(1_900_000_000),
        "the first revocation time is kept"
    );
    assert!(store.revoke_user("nobody", 1).unwrap().is_none());
    assert!(
        store
            .set_user_token("ana", &"c".repeat(64), 2_100_000_000)
            .unwrap()
    );
    let renewed = store.user_by_token_hash(&"c".repeat(64)).unwrap().unwrap();
    assert_eq!(
        (renewed.token_expires_at, renewed.token_revoked_at),
        (2_100_000_000, None),
        "a fresh token has its own expiry and no revocation"
    );
    assert!(
        store.user_by_token_hash(&"a".repeat(64)).unwrap().is_none(),
        "the old token stops working"
    );
    assert_eq!(store.users().unwrap().len(), 1);
    assert!(!store.set_user_token("nobody", &"d".repeat(64), 1).unwrap());
}

#[test]
fn a_batch_breaking_a_safeguards_rule_is_refused_whole() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let mut data = sample();
    // A child suspect with no safeguarding link anywhere.
    let child = Person::new(
        person_ref("P0000c0de"),
        2012,
        vec![SubjectCategory::Suspect],
        agency("avon-and-somerset-police"),
        Day::from_days_since_epoch(20_010),
    )
    .unwrap();
    data.people.push(child);
    let as_of = Day::from_days_since_epoch(20_000);
    match store.write(&data, as_of) {
        Err(StoreError::Rules(v)) => {
            assert!(
                v.iter()
                    .any(|v| v.code == "CHILD_SUSPECT_NEEDS_SAFEGUARDING_LINK"
                        && v.record == "person:P0000c0de")
            );
        }
        other => panic!("expected a rules refusal, got {other:?}"),
    }
    assert_eq!(
        store.counts().unwrap(),
        KindCounts::default(),
        "nothing was written"
    );
}

#[test]
fn erasing_a_person_removes_their_links_links_to_them_and_their_place_in_cases_and_agendas() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let data = sample();
    store.write_unchecked(&data).unwrap();
    let gone = person_ref("P00000002");
    let erased = store.erase(std::slice::from_ref(&gone), &[]).unwrap();
    assert_eq!(erased.people, vec![gone.clone()]);
    let before_links: Vec<u64> = data
        .links
        .iter()
        .filter(|l| l.from == gone || l.to == LinkTarget::Person(gone.clone()))
        .map(|l| l.id)
        .collect();
    assert!(!before_links.is_empty());
    assert_eq!(
        erased.links.iter().map(|l| l.id).collect::<Vec<_>>(),
        before_links,
        "every link from or to the person is reported, so each gets an erasure record"
    );
    assert!(
        erased
            .links
            .iter()
            .all(|l| l.with_person == Some(gone.clone()))
    );
    let after = store.load().unwrap();
    assert!(!after.people.iter().any(|p| p.id == gone));
    assert!(
        !after
            .links
            .iter()
            .any(|l| l.from == gone || l.to == LinkTarget::Person(gone.clone()))
    );
    assert!(after.cases.iter().all(|c| !c.subjects.contains(&gone)));
    assert!(after.meetings.iter().all(|m| !m.subjects.contains(&gone)));
    assert_eq!(after.cases.len(), 2, "the cases themselves stay");
}

fn imported(
    incident: Incident,
    line: u64,
    crime_id: Option<&str>,
) -> crate::store::ImportedIncident {
    crate::store::ImportedIncident {
        incident,
        line,
        attributes: crate::store::SourceAttributes {
            source_ref: crime_id.map(Into::into),
            area_code: Some("E01014540".into()),
            location: Some("Julius Place".into()),
            category_raw: Some("Drugs".into()),
            outcome_raw: None,
            area_vintage: Some("2011_or_unchanged".into()),
        },
        outside_area: line.is_multiple_of(2),
    }
}

fn import_file_record(name: &str) -> ImportFile {
    ImportFile {
        name: name.to_owned(),
        sha256: "ab".repeat(32),
        imported_at: "2026-11-22T09:00:00.000Z".to_owned(),
        kind: "police-street".to_owned(),
    }
}

#[test]
fn imported_incidents_go_to_segments_once_and_load_with_row_incidents_in_id_order() {
    let data = sample();
    let mut store = SqliteStore::open_in_memory().unwrap();
    store.write_unchecked(&data).unwrap();
    let in_rows = data.incidents[0].clone();
    let mut fresh: Vec<Incident> = (0..3)
        .map(|n| Incident {
            id: IncidentId::new(in_rows.id.get() + 1_000 + n),
            ..in_rows.clone()
        })
        .collect();
    fresh[1].location = None;
    let batch = ImportBatch {
        incidents: vec![
            imported(fresh[2].clone(), 2, Some("c2")),
            imported(in_rows.clone(), 3, None), // stored as a row already
            imported(fresh[0].clone(), 4, Some("c0")),
            imported(fresh[1].clone(), 5, None),
            imported(fresh[0].clone(), 6, Some("c0")), // repeated within the file
        ],
        ..ImportBatch::default()
    };
    let summary = serde_json::json!({"read": 5});
    // A dry run rolls back.
    let dry = store
        .write_import(&batch, &import_file_record("a.csv"), &summary, false)
        .unwrap();
    assert_eq!(dry.stored, 3);
    assert_eq!(
        store.counts().unwrap().incidents,
        data.incidents.len() as u64
    );

    let written = store
        .write_import(&batch, &import_file_record("a.csv"), &summary, true)
        .unwrap();
    assert_eq!((written.stored, written.unlocated), (3, 1));
    assert_eq!(written.outside_area, 2, "lines 2 and 4 are marked outside");
    let total = data.incidents.len() as u64 + 3;
    assert_eq!(store.counts().unwrap().incidents, total);

    // Again: nothing new, and the dataset path does not store a segment's id as a row.
    let again = store
        .write_import(&batch, &import_file_record("a.csv"), &summary, true)
        .unwrap();
    assert_eq!(again.stored, 0);
    let rewrite = Dataset {
        incidents: vec![fresh[0].clone()],
        ..Dataset::default()
    };
    assert_eq!(store.write_unchecked(&rewrite).unwrap().incidents, 0);
    assert_eq!(store.counts().unwrap().incidents, total);

    let loaded = store.load().unwrap();
    let mut expected = data.incidents.clone();
    expected.extend(fresh.iter().cloned());
    expected.sort_by_key(|i| i.id.get());
    assert_eq!(loaded.incidents, expected);

    // The segment keeps each row's line and raw source attributes.
    let (id, ids, blob): (i64, Vec<u8>, Vec<u8>) = store
        .conn
        .query_row("SELECT id, ids, data FROM incident_segments", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    let rows = super::super::segment::decode_rows(id, &ids, &blob).unwrap();
    let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![4, 5, 2], "first occurrence kept, in id order");
    assert_eq!(rows[0].attributes.source_ref.as_deref(), Some("c0"));
    assert_eq!(rows[1].attributes.source_ref, None);
    assert_eq!(rows[2].attributes.location.as_deref(), Some("Julius Place"));
}

#[test]
fn a_damaged_segment_is_reported_as_damaged_on_load() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let data = sample();
    let batch = ImportBatch {
        incidents: vec![imported(data.incidents[0].clone(), 2, None)],
        ..ImportBatch::default()
    };
    store
        .write_import(
            &batch,
            &import_file_record("b.csv"),
            &serde_json::json!({}),
            true,
        )
        .unwrap();
    store
        .conn
        .execute(
            "UPDATE incident_segments SET data = substr(data, 1, 20)",
            [],
        )
        .unwrap();
    // Its checksum no longer matches (issue 14, point 4): refused before a byte is decoded.
    let err = store.load().unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Damaged {
                table: "incident_segments",
                ..
            }
        ),
        "{err}"
    );
}

/// True when `needle` occurs in the bytes of any file of `dir`.
fn in_files(dir: &Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        let path = e.unwrap().path();
        path.is_file()
            && std::fs::read(&path)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
    })
}

#[test]
fn a_store_that_erased_before_secure_delete_is_rewritten_once_when_migrated() {
    let dir = TempDir::new().unwrap();
    let gone = person_ref("P00000002");
    // A version-4 store that erased a person without secure_delete, as builds before
    // migration 0005 did: the deleted rows stay in the file's free space.
    {
        let conn = Connection::open(dir.path().join(SqliteStore::FILE_NAME)).unwrap();
        conn.pragma_update(None, "secure_delete", "OFF").unwrap();
        for (version, sql) in &MIGRATIONS[..4] {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", version).unwrap();
        }
        // Rows as the version-4 schema holds them (today's writer needs later columns).
        for (id, year) in [("P00000001", 1990), ("P00000002", 2010)] {
            conn.execute(
                "INSERT INTO people (id, birth_year, categories, agency, review_due) \
                 VALUES (?1, ?2, '[\"victim\"]', 'police', 20300)",
                rusqlite::params![id, year],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO links (id, kind, from_person, target, categories, grade, agency, review_due) \
             VALUES (1, 'family', 'P00000001', '{\"type\":\"person\",\"id\":\"P00000002\"}', \
             '[\"victim\"]', '1AP', 'police', 20300)",
            [],
        )
        .unwrap();
        for sql in [
            "DELETE FROM people WHERE id = ?1",
            "DELETE FROM links WHERE from_person = ?1 OR target LIKE '%' || ?1 || '%'",
        ] {
            conn.execute(sql, [gone.as_str()]).unwrap();
        }
    }
    assert!(
        in_files(dir.path(), gone.as_str().as_bytes()),
        "without secure_delete the erased rows are still in the file"
    );
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), LATEST_SCHEMA_VERSION);
    assert!(!store.load().unwrap().people.is_empty(), "the rest is kept");
    drop(store);
    assert!(
        !in_files(dir.path(), gone.as_str().as_bytes()),
        "{gone} is still in the store files after the migration"
    );
}

#[test]
fn the_stored_state_holds_each_touched_person_with_links_from_and_to_them() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let data = sample();
    store.write_unchecked(&data).unwrap();
    // A batch about P00000002 only: the sample's link from P00000001 to them is theirs too.
    let batch = Dataset {
        people: vec![data.people[1].clone()],
        ..Dataset::default()
    };
    let state = store.stored_state(&batch).unwrap();
    assert_eq!(
        state.people.keys().collect::<Vec<_>>(),
        vec![&person_ref("P00000002")]
    );
    let to_them: Vec<u64> = data
        .links
        .iter()
        .filter(|l| l.to == LinkTarget::Person(person_ref("P00000002")))
        .map(|l| l.id)
        .collect();
    assert!(!to_them.is_empty());
    assert_eq!(state.links.keys().copied().collect::<Vec<_>>(), to_them);
    // A batch with links: their incidents and places are looked up, segments included.
    let all = Dataset {
        links: data.links.clone(),
        ..Dataset::default()
    };
    let state = store.stored_state(&all).unwrap();
    assert!(state.incidents.contains(&IncidentId::new(i64::MAX as u64)));
    assert!(state.places.contains(&PlaceId::new(3)));
    assert_eq!(state.links.len(), data.links.len());
}

#[test]
fn an_amended_person_keeps_its_old_version_until_erased() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let data = sample();
    store.write_unchecked(&data).unwrap();
    let again = store.write_records(&data).unwrap();
    assert_eq!(
        again,
        Written::default(),
        "an identical batch changes nothing"
    );
    let mut changed = data.people[0].clone();
    changed.categories.reverse(); // order alone is no change
    let mut link = data.links[0].clone();
    link.grade = "3EC".parse().unwrap();
    let batch = Dataset {
        people: vec![changed.clone()],
        links: vec![link],
        ..Dataset::default()
    };
    let first = store.write_records(&batch).unwrap().amended;
    assert_eq!(first.len(), 1, "only the link changed: {first:?}");
    assert_eq!(first[0].fields, vec!["grade"]);
    changed.birth_year = 2009;
    changed.review_due = day("2026-02-28");
    let batch = Dataset {
        people: vec![changed.clone()],
        ..Dataset::default()
    };
    let written = store.write_records(&batch).unwrap();
    assert_eq!(written.counts, KindCounts::default());
    assert_eq!(
        written.amended,
        vec![Amendment {
            record: "person:P00000001".to_owned(),
            subject: person_ref("P00000001"),
            fields: vec!["birth_year", "review_due"],
        }]
    );
    let loaded = store.load().unwrap();
    assert_eq!(loaded.people[0].birth_year, 2009);
    let versions = |store: &SqliteStore, table: &str| -> i64 {
        store
            .conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(versions(&store, "person_versions"), 1);
    assert_eq!(versions(&store, "link_versions"), 1);
    store.erase(&[person_ref("P00000001")], &[]).unwrap();
    assert_eq!(
        versions(&store, "person_versions"),
        0,
        "erased with the person"
    );
    assert_eq!(
        versions(&store, "link_versions"),
        0,
        "erased with the person's links"
    );
}

#[test]
fn a_persons_versions_links_reviews_cases_and_meetings_are_read_by_person() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let data = sample();
    store.write_unchecked(&data).unwrap();
    let child = person_ref("P00000001");
    let adult = person_ref("P00000002");
    let mut changed = data.people[0].clone();
    changed.birth_year = 2009;
    store
        .write_records(&Dataset {
            people: vec![changed],
            ..Dataset::default()
        })
        .unwrap();
    let versions = store.person_versions(&child).unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].person, data.people[0], "the version before");
    assert!(!versions[0].superseded_at.is_empty());
    assert!(store.person_versions(&adult).unwrap().is_empty());

    // Links from the child, and to the adult (the sample's person targets).
    let from: Vec<u64> = store
        .links_of_person(&child)
        .unwrap()
        .iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(from, data.links.iter().map(|l| l.id).collect::<Vec<_>>());
    let to: Vec<u64> = store
        .links_of_person(&adult)
        .unwrap()
        .iter()
        .map(|l| l.id)
        .collect();
    let expected: Vec<u64> = data
        .links
        .iter()
        .filter(|l| l.to == LinkTarget::Person(adult.clone()))
        .map(|l| l.id)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(to, expected);

    let review = Review {
        person: child.clone(),
        review_due: Some(day("2026-03-31")),
        rationale: "Contact with the exploiter continues; keep under review".to_owned(),
        outcome: ReviewOutcome::Retain,
        decided_by: "A. Reviewer".to_owned(),
        decided_at: "2026-01-30T09:00:00.000Z".to_owned(),
    };
    let id = store.record_review(&review).unwrap();
    assert_eq!(store.reviews_of(&child).unwrap(), vec![(id, review)]);
    assert!(store.reviews_of(&adult).unwrap().is_empty());

    let refs = |cases: Vec<Case>| -> Vec<String> {
        cases.iter().map(|c| c.reference.to_string()).collect()
    };
    assert_eq!(
        refs(store.cases_of(&child).unwrap()),
        vec!["OP-2026-001", "SG-2026-0001"]
    );
    assert_eq!(refs(store.cases_of(&adult).unwrap()), vec!["SG-2026-0001"]);
    assert!(store.meetings_of(&child).unwrap().is_empty());
    assert_eq!(store.meetings_of(&adult).unwrap(), data.meetings);
}
