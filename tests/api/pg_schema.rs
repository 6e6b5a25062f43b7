//! The PostgreSQL/PostGIS schema (issue 16, points 1, 2 and 6): `saferplaces migrate` on a
//! throwaway cluster, what GIS tools see, and what the read-only GIS role may not read.
//! Each test skips, saying why, when PostgreSQL or PostGIS is not installed.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::pg_cluster::PgCluster;

/// The spatial tables and their geometry types, as `geometry_columns` names them.
const GEOMETRY_TABLES: &[(&str, &str)] = &[
    ("boundaries", "MULTIPOLYGON"),
    ("incidents", "POINT"),
    ("places", "POINT"),
    ("routes", "LINESTRING"),
    ("schools", "POINT"),
    ("services", "POINT"),
    ("stops", "POINT"),
];

/// `saferplaces migrate` against `url`.
fn migrate(url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .arg("migrate")
        .env("SAFERPLACES_DATABASE_URL", url)
        .output()
        .unwrap()
}

/// `saferplaces migrate`, asserting success; its standard output.
fn migrate_ok(url: &str) -> String {
    let out = migrate(url);
    assert!(
        out.status.success(),
        "migrate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A started cluster with every migration applied to its `postgres` database.
fn migrated() -> Option<PgCluster> {
    let pg = PgCluster::start()?;
    migrate_ok(&pg.url());
    Some(pg)
}

/// Stores four incidents: 1 served, 2 involving a child, 3 withdrawn, 4 unlocated.
fn insert_incidents(db: &mut postgres::Client) {
    db.batch_execute(
        "INSERT INTO incidents (id, category, day, time_precision, geom, location_precision,
                                involves_child, agency, location, outcome_raw)
         VALUES (1, 'burglary', '2026-03-14', 'month',
                 ST_SetSRID(ST_MakePoint(-2.5879, 51.4545), 4326), 'snapped', false,
                 'avon-and-somerset', 'On or near Park Street', 'Under investigation'),
                (2, 'violent-crime', '2026-03-02', 'month',
                 ST_SetSRID(ST_MakePoint(-2.59, 51.45), 4326), 'snapped', true,
                 'avon-and-somerset', NULL, NULL),
                (3, 'burglary', '2026-03-20', 'month',
                 ST_SetSRID(ST_MakePoint(-2.60, 51.46), 4326), 'snapped', false,
                 'avon-and-somerset', NULL, NULL),
                (4, 'shoplifting', '2026-02-07', 'month', NULL, NULL, false,
                 'avon-and-somerset', NULL, NULL);
         INSERT INTO incident_withdrawals (incident_id, seq, withdrawn_at, reason, actor)
         VALUES (3, 1, '2026-04-01T00:00:00.000Z', 'recorded in error by the force', 'admin');
         INSERT INTO routes (id, short_name, long_name, mode, geom, stops)
         VALUES (1, '72', 'Temple Meads - UWE', 'bus',
                 ST_GeomFromText('LINESTRING(-2.58 51.45, -2.55 51.50)', 4326), '[]');",
    )
    .unwrap();
}

#[test]
fn migrate_applies_every_migration_once_and_a_second_run_is_up_to_date() {
    let Some(pg) = PgCluster::start() else { return };
    let first = migrate_ok(&pg.url());
    let names: Vec<String> = pg
        .client()
        .query("SELECT name FROM schema_migrations ORDER BY version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, ["0001_init", "0002_roles", "0003_audit"]);
    for name in &names {
        assert!(first.contains(&format!("applied {name}\n")), "{first}");
    }
    assert!(first.ends_with("now at version 3\n"), "{first}");
    let second = migrate_ok(&pg.url());
    assert_eq!(second, "up to date at version 3\n");
    // A second database of the same cluster migrates too: the roles already exist.
    pg.client().batch_execute("CREATE DATABASE second").unwrap();
    assert!(migrate_ok(&pg.url_as("postgres", "second")).contains("applied 0002_roles"));
}

#[test]
fn a_changed_applied_migration_is_refused_naming_its_file_and_nothing_is_applied() {
    let Some(pg) = migrated() else { return };
    let mut db = pg.client();
    db.batch_execute(
        "UPDATE schema_migrations SET sha256 = repeat('0', 64) WHERE version = 1;
         DELETE FROM schema_migrations WHERE version >= 2;",
    )
    .unwrap();
    let out = migrate(&pg.url());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("migration migrations/postgres/0001_init.sql was applied with SHA-256 0000"),
        "{err}"
    );
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let applied: i64 = db
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(applied, 1, "0002 must not be applied past a changed 0001");
}

#[test]
fn a_failing_migration_names_its_file_and_sqlstate_and_is_rolled_back() {
    let Some(pg) = PgCluster::start() else { return };
    let mut db = pg.client();
    db.batch_execute("CREATE TABLE places (x integer)").unwrap();
    let out = migrate(&pg.url());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("migration migrations/postgres/0001_init.sql failed: 42P07:"),
        "{err}"
    );
    let left: (i64, i64, i64) = {
        let r = db
            .query_one(
                "SELECT (SELECT count(*) FROM schema_migrations),
                        (SELECT count(*) FROM pg_tables WHERE tablename = 'incidents'),
                        (SELECT count(*) FROM pg_extension WHERE extname = 'postgis')",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!(left, (0, 0, 0), "nothing of 0001 may stay applied");
}

#[test]
fn every_spatial_table_is_in_geometry_columns_with_srid_4326_its_type_and_a_gist_index() {
    let Some(pg) = migrated() else { return };
    let mut db = pg.client();
    let listed: Vec<(String, i32, String)> = db
        .query(
            "SELECT f_table_name::text, srid, type FROM geometry_columns
             WHERE f_table_schema = 'public' ORDER BY f_table_name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let expected: Vec<(String, i32, String)> = GEOMETRY_TABLES
        .iter()
        .map(|(t, ty)| ((*t).to_owned(), 4326, (*ty).to_owned()))
        .collect();
    assert_eq!(listed, expected);
    for (table, _) in GEOMETRY_TABLES {
        let gist: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_index i
                 JOIN pg_class t ON t.oid = i.indrelid
                 JOIN pg_class x ON x.oid = i.indexrelid
                 JOIN pg_am am ON am.oid = x.relam
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (i.indkey)
                 WHERE t.relname = $1 AND am.amname = 'gist' AND a.attname = 'geom'",
                &[table],
            )
            .unwrap()
            .get(0);
        assert_eq!(gist, 1, "{table} has no GiST index on geom");
    }
    // No geometry column sits in the person-level schema.
    let people: i64 = db
        .query_one(
            "SELECT count(*) FROM geometry_columns WHERE f_table_schema = 'people'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(people, 0);
}

#[test]
fn the_gis_role_reads_served_incidents_and_is_refused_every_person_level_table() {
    let Some(pg) = migrated() else { return };
    let mut admin = pg.client();
    insert_incidents(&mut admin);
    admin
        .batch_execute("CREATE ROLE analyst LOGIN IN ROLE saferplaces_gis")
        .unwrap();
    let mut gis = pg.client_as("analyst", "postgres");
    let ids: Vec<i64> = gis
        .query("SELECT id FROM incidents ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // Not 2 (involves a child: never a point) nor 3 (withdrawn), as the API serves them.
    assert_eq!(ids, [1, 4]);
    let (srid, month): (i32, String) = {
        let r = gis
            .query_one(
                "SELECT ST_SRID(geom), month::text FROM incidents WHERE id = 1",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((srid, month.as_str()), (4326, "2026-03-01"));
    // Every table of the person-level schema, including any added later.
    let tables: Vec<String> = admin
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = 'people' ORDER BY table_name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for t in [
        "people",
        "links",
        "users",
        "cases",
        "person_equality",
        "stop_searches",
    ] {
        assert!(
            tables.iter().any(|x| x == t),
            "people.{t} missing: {tables:?}"
        );
    }
    let refused = |gis: &mut postgres::Client, sql: &str| {
        let err = gis.query(sql, &[]).expect_err(sql);
        assert_eq!(
            err.code(),
            Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {err}"
        );
    };
    for t in &tables {
        refused(&mut gis, &format!("SELECT * FROM people.{t} LIMIT 1"));
    }
    // Nor the feed, the import register (it names people files), the withdrawals' reasons, or
    // any write.
    refused(&mut gis, "SELECT * FROM changes");
    refused(&mut gis, "SELECT * FROM imported_files");
    refused(&mut gis, "SELECT reason, actor FROM incident_withdrawals");
    refused(&mut gis, "DELETE FROM incidents");
    // The application role sees every incident.
    admin
        .batch_execute("CREATE ROLE server LOGIN IN ROLE saferplaces_app")
        .unwrap();
    let all: i64 = pg
        .client_as("server", "postgres")
        .query_one("SELECT count(*) FROM incidents", &[])
        .unwrap()
        .get(0);
    assert_eq!(all, 4);
}

#[test]
fn ogrinfo_lists_the_layers_with_their_geometry_types_and_reads_features() {
    if Command::new("ogrinfo").arg("--version").output().is_err() {
        eprintln!("skipped: ogrinfo (GDAL) is not installed; .ci/run installs gdal-bin");
        return;
    }
    let Some(pg) = migrated() else { return };
    insert_incidents(&mut pg.client());
    pg.client()
        .batch_execute("CREATE ROLE analyst LOGIN IN ROLE saferplaces_gis")
        .unwrap();
    let (dir, port) = pg.socket();
    let source = format!(
        "PG:host={} port={port} dbname=postgres user=analyst",
        dir.display()
    );
    let ogrinfo = |args: &[&str]| {
        let out = Command::new("ogrinfo")
            .arg("-ro")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, layers) = ogrinfo(&["-so", &source]);
    assert!(ok, "{layers}");
    for expected in [
        "incidents (Point)",
        "places (Point)",
        "schools (Point)",
        "stops (Point)",
        "routes (Line String)",
        "services (Point)",
        "boundaries (Multi Polygon)",
    ] {
        assert!(layers.contains(expected), "{expected} not in:\n{layers}");
    }
    let (ok, summary) = ogrinfo(&["-so", &source, "incidents"]);
    assert!(ok, "{summary}");
    assert!(summary.contains(r#"ID["EPSG",4326]"#), "{summary}");
    assert!(summary.contains("Feature Count: 2"), "{summary}");
    let (ok, feature) = ogrinfo(&[&source, "incidents", "-fid", "1"]);
    assert!(ok, "{feature}");
    assert!(feature.contains("POINT (-2.5879 51.4545)"), "{feature}");
    assert!(
        feature.contains("location (String) = On or near Park Street"),
        "{feature}"
    );
    let (_, route) = ogrinfo(&[&source, "routes", "-fid", "1"]);
    assert!(
        route.contains("LINESTRING (-2.58 51.45,-2.55 51.5)"),
        "{route}"
    );
    // The child's incident is not there for the GIS role.
    let (_, child) = ogrinfo(&[&source, "incidents", "-fid", "2"]);
    assert!(!child.contains("POINT"), "{child}");
}

/// Runs `saferplaces ARGS --data-dir DIR` with `SAFERPLACES_DATABASE_URL` set to `url`,
/// failing (not hanging) when it runs on for a minute.
fn run_with_url(args: &[&str], dir: &std::path::Path, url: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("SAFERPLACES_DATABASE_URL", url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A server that starts anyway would run until stopped: stop it and fail, not hang.
    let deadline = Instant::now() + Duration::from_mins(1);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{args:?} ran on with an unreachable SAFERPLACES_DATABASE_URL: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn with_the_database_url_set_the_store_commands_use_postgresql_and_never_the_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let unreachable = "host=/nonexistent dbname=saferplaces";
    // The commands that work on either store go to PostgreSQL: unreachable here, so they fail
    // naming it, and none falls back to the SQLite store.
    for args in [
        &["serve", "--addr", "127.0.0.1:0"][..],
        &["stats"],
        &["import", "police-street", "/nonexistent.csv"],
        &["user", "add", "--name", "x", "--role", "planner"],
    ] {
        let out = run_with_url(args, dir.path(), unreachable);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            err.contains("cannot connect to PostgreSQL at host=/nonexistent"),
            "{args:?}: {err}"
        );
        assert!(
            !dir.path().join("saferplaces.sqlite3").exists(),
            "{args:?} created the SQLite store"
        );
    }
    // The commands that only the embedded store has refuse, rather than work on the SQLite
    // file while the operator believes they worked on PostgreSQL.
    for args in [&["check"][..], &["equality", "alerts"]] {
        let out = run_with_url(args, dir.path(), unreachable);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            err.contains(
                "SAFERPLACES_DATABASE_URL is set, but this command works on the embedded SQLite \
                 store only"
            ),
            "{args:?}: {err}"
        );
        assert!(
            !dir.path().join("saferplaces.sqlite3").exists(),
            "{args:?} created the SQLite store"
        );
    }
}

#[test]
fn migrate_without_a_database_url_says_the_sqlite_store_migrates_itself() {
    let out = Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .arg("migrate")
        .env_remove("SAFERPLACES_DATABASE_URL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("SAFERPLACES_DATABASE_URL is not set"), "{err}");
    assert!(err.contains("it migrates itself when opened"), "{err}");
}

#[test]
fn the_servers_role_runs_the_store_commands_on_a_migrated_database() {
    let Some(pg) = migrated() else { return };
    pg.client()
        .batch_execute("CREATE ROLE app_login LOGIN IN ROLE saferplaces_app")
        .unwrap();
    let url = pg.url_as("app_login", "postgres");
    let dir = tempfile::tempdir().unwrap();
    // Every command migrates first: on an up-to-date database that must need no right to
    // create (the servers' role has none in `public`).
    for args in [
        &["stats"][..],
        &["user", "add", "--name", "analyst", "--role", "vru_analyst"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_saferplaces"))
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env("SAFERPLACES_DATABASE_URL", &url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?} as the servers' role: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
