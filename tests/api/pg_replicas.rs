//! Two stateless servers on one PostgreSQL database (issue 16, points 4 and 6): a change made
//! through either server's CLI (an import, a revoked token, an erasure) reaches both servers'
//! served data through the change feed and its notifications, without a restart or a reload of
//! the rest. The tests check that each change arrives and what arrives; how fast (the
//! one-second target) is measured by `benches/issue16_replicas.sh`, not asserted here (the
//! machines are shared and noisy). Each test skips, saying why, without PostgreSQL and PostGIS.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::Value;

use crate::pg_cluster::PgCluster;
use crate::support::{TestApp, legal_basis_for, spawn_serve, wait_until};

/// Runs `saferplaces ARGS --data-dir DIR` against the database `url`.
fn cli_pg(dir: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("SAFERPLACES_DATABASE_URL", url)
        .env(
            "SAFERPLACES_GEODATA_DIR",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata"),
        )
        .output()
        .unwrap()
}

/// [`cli_pg`], asserting success; its standard output.
fn cli_pg_ok(dir: &Path, url: &str, args: &[&str]) -> String {
    let out = cli_pg(dir, url, args);
    assert!(
        out.status.success(),
        "saferplaces {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A database with the synthetic demo data (a small incident count) and two servers on it,
/// each with its own data directory (its audit log) and nothing else of its own.
struct Replicas {
    url: String,
    dirs: [tempfile::TempDir; 2],
    apps: [TestApp; 2],
    // Declared last: dropped after the servers.
    _cluster: PgCluster,
}

impl Replicas {
    fn start() -> Option<Self> {
        let cluster = PgCluster::start()?;
        cluster
            .client()
            .batch_execute("CREATE DATABASE saferplaces")
            .unwrap();
        let url = cluster.url_as("postgres", "saferplaces");
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        cli_pg_ok(
            dirs[0].path(),
            &url,
            &["demo", "--no-serve", "--incidents", "3000"],
        );
        let serve = |dir: &Path| {
            spawn_serve(dir, |cmd| {
                cmd.env("SAFERPLACES_DATABASE_URL", &url);
            })
        };
        let apps = [serve(dirs[0].path()), serve(dirs[1].path())];
        Some(Self {
            url,
            dirs,
            apps,
            _cluster: cluster,
        })
    }

    /// `saferplaces ARGS` through server `i`'s CLI (its data directory, the shared database).
    fn cli(&self, i: usize, args: &[&str]) -> String {
        cli_pg_ok(self.dirs[i].path(), &self.url, args)
    }

    /// Adds a user through server `i`'s CLI; their bearer header.
    fn add_user(&self, i: usize, name: &str, role: &str, extra: &[&str]) -> Vec<(String, String)> {
        let mut args = vec!["user", "add", "--name", name, "--role", role];
        args.extend_from_slice(extra);
        let token = self.cli(i, &args).lines().last().unwrap().trim().to_owned();
        vec![("Authorization".to_owned(), format!("Bearer {token}"))]
    }

    /// Waits until `done` holds on both servers; how long each took after `since`, printed.
    fn wait_on_both(&self, what: &str, since: Instant, done: impl Fn(&TestApp) -> bool) {
        for (i, app) in self.apps.iter().enumerate() {
            wait_until(&format!("{what} on server {i}"), || done(app));
            eprintln!("{what}: server {i} after {:?}", since.elapsed());
        }
    }
}

fn meta(app: &TestApp, headers: &[(String, String)]) -> Value {
    app.get_headers("/api/v1/meta", headers).json()
}

fn hexagon_total(app: &TestApp, headers: &[(String, String)]) -> u64 {
    app.get_headers(
        "/api/v1/hexagons?res=5&bbox=-180,-90,180,90&from=2023-01-01&to=2023-01-31",
        headers,
    )
    .json()["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["count"].as_u64().unwrap())
        .sum()
}

#[test]
fn an_import_and_a_revocation_through_either_servers_cli_reach_both_servers() {
    let Some(r) = Replicas::start() else { return };
    // A user added through server 0's CLI signs in on both.
    let headers = r.add_user(0, "analyst", "vru_analyst", &[]);
    let added = Instant::now();
    r.wait_on_both("the new user's sign-in", added, |app| {
        app.get_headers("/api/v1/meta", &headers).status == 200
    });
    let indexed = |app: &TestApp| meta(app, &headers)["counts"]["incidents_indexed"].as_u64();
    let (n0, h0) = (
        indexed(&r.apps[0]).unwrap(),
        hexagon_total(&r.apps[0], &headers),
    );
    assert_eq!(indexed(&r.apps[1]), Some(n0));
    assert_eq!(hexagon_total(&r.apps[1], &headers), h0);

    // An import through server 1's CLI is on both maps.
    let file = r.dirs[1].path().join("street.csv");
    let header = "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context";
    let rows: Vec<String> = [(-2.589, 51.454), (-2.5901, 51.4542), (-2.6, 51.46)]
        .iter()
        .map(|(lon, lat)| {
            format!(
                ",2023-01,A,A,{lon},{lat},On or near Broad Street,E01014540,Bristol 032B,Drugs,,"
            )
        })
        .collect();
    std::fs::write(&file, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    r.cli(1, &["import", "police-street", file.to_str().unwrap()]);
    let imported = Instant::now();
    r.wait_on_both("the import", imported, |app| indexed(app) == Some(n0 + 3));
    for app in &r.apps {
        assert_eq!(hexagon_total(app, &headers), h0 + 3);
        let health = app.get("/health").json();
        assert_eq!(
            health["incident_runs"], 1,
            "the import is a run beside the base, not a reload: {health}"
        );
    }

    // A token revoked through server 0's CLI stops working on both.
    r.cli(0, &["user", "revoke", "analyst"]);
    let revoked = Instant::now();
    r.wait_on_both("the revocation", revoked, |app| {
        app.get_headers("/api/v1/meta", &headers).status == 401
    });

    // Both stop cleanly on SIGTERM: the store's connection is closed off the runtime (it
    // panicked "Cannot start a runtime from within a runtime" when dropped on a worker).
    let Replicas { apps, .. } = r;
    for app in apps {
        let (status, log) = app.stop();
        assert!(status.success(), "{status}: {log}");
        assert!(!log.contains("panicked"), "{log}");
    }
}

#[test]
fn an_erasure_through_either_servers_cli_disappears_from_both_servers() {
    use saferplaces::domain::CaseKind;
    use saferplaces::store::Store as _;
    let Some(r) = Replicas::start() else { return };
    let d = saferplaces::store::PgStore::connect(&r.url)
        .unwrap()
        .load()
        .unwrap();
    let case = d
        .cases
        .iter()
        .find(|c| c.kind == CaseKind::Investigation)
        .unwrap();
    let person = case.subjects[0].to_string();
    let mut headers = r.add_user(
        1,
        "police",
        "police_analyst",
        &["--org", "synthetic-police"],
    );
    r.cli(
        1,
        &[
            "case",
            "assign",
            "--case",
            case.reference.as_str(),
            "--user",
            "police",
        ],
    );
    let purpose = "disrupting_exploitation";
    headers.extend([
        ("X-Purpose".to_owned(), purpose.to_owned()),
        ("X-Case-Ref".to_owned(), case.reference.to_string()),
        (
            "X-Legal-Basis".to_owned(),
            legal_basis_for(purpose).unwrap().to_owned(),
        ),
    ]);
    let path = format!("/api/v1/people/{person}");
    let assigned = Instant::now();
    r.wait_on_both("the case assignment", assigned, |app| {
        app.get_headers(&path, &headers).status == 200
    });

    // Refused as an id that was never stored is (existence is not revealed).
    let unknown = r.apps[0]
        .get_headers("/api/v1/people/P9999999", &headers)
        .status;
    assert_ne!(unknown, 200);
    // A review through server 0's CLI removes the person: both servers stop serving them.
    r.cli(
        0,
        &[
            "review",
            "record",
            "--person",
            &person,
            "--rationale",
            "No longer proportionate to hold: the investigation closed without charge.",
            "--outcome",
            "remove",
            "--decided-by",
            "A. Reviewer",
        ],
    );
    let erased = Instant::now();
    r.wait_on_both("the erasure", erased, |app| {
        app.get_headers(&path, &headers).status == unknown
    });
    assert!(
        saferplaces::store::PgStore::connect(&r.url)
            .unwrap()
            .person(&person.parse().unwrap())
            .unwrap()
            .is_none()
    );
}
