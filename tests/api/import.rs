//! `saferplaces import` end to end through the real binary: real files (skipped with a reason
//! when `../shared` is absent), hand-made damaged files, idempotency, dry runs, and a running
//! server picking up new data.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn shared(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "skipped: {} is absent (../shared not beside the repository)",
            p.display()
        );
        None
    }
}

/// One `saferplaces import ... --json` run: its exit, standard output and JSON summary line.
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub summary: Value,
}

fn import(data: &Path, args: &[&str]) -> Run {
    import_with(data, args, &[])
}

/// `saferplaces import ARGS --json --data-dir DATA` with extra environment variables.
pub fn import_with(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .arg("import")
        .args(args)
        .args(["--json", "--data-dir"])
        .arg(data)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let summary =
        serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap_or(Value::Null);
    Run {
        ok: out.status.success(),
        stdout,
        summary,
    }
}

/// `saferplaces stats --json` of DATA.
pub fn stats(data: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .args(["stats", "--json", "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    serde_json::from_str(String::from_utf8(out.stdout).unwrap().trim()).unwrap()
}

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
}

fn accounted(v: &Value) {
    assert_eq!(
        n(v, "read"),
        n(v, "stored") + n(v, "duplicates") + n(v, "rejected"),
        "R = S + D + J: {v}"
    );
}

#[test]
fn the_real_street_file_imports_with_every_row_accounted_for_and_twice_stores_nothing_new() {
    let Some(file) = shared("realdata/police_street_avon-and-somerset_2023-01.csv") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let first = import(dir.path(), &["police-street", file.to_str().unwrap()]);
    assert!(first.ok, "{}", first.stdout);
    let s = &first.summary;
    accounted(s);
    assert_eq!(n(s, "read"), 12_566);
    assert_eq!(n(s, "rejected"), 0);
    assert_eq!(
        n(s, "stored"),
        12_566,
        "duplicate Crime IDs are distinct rows (formats.md §7)"
    );
    assert_eq!(n(s, "unlocated"), 758);
    let outside = n(s, "outside_area");
    assert!(
        outside > 3_000 && outside < 12_566 - 758 - 8_000,
        "{outside} rows outside the four authorities"
    );
    assert_eq!(n(&stats(dir.path()), "incidents"), 12_566);
    // formats.md §7: every code of the four authorities in this file is a 2011 code.
    let v = &s["lsoa_vintages"][0]["vintage"];
    assert_eq!(v["vintage"], "2011", "{v}");
    assert_eq!(n(v, "in_2011"), 12_566 - 758 - outside, "{v}");
    assert_eq!(n(v, "only_2021"), 0, "{v}");

    let again = import(dir.path(), &["police-street", file.to_str().unwrap()]);
    assert!(again.ok);
    accounted(&again.summary);
    assert_eq!(n(&again.summary, "stored"), 0);
    assert_eq!(n(&again.summary, "duplicates"), 12_566);
    assert_eq!(n(&stats(dir.path()), "incidents"), 12_566);
}

#[test]
fn the_real_stop_and_search_file_imports_whole_and_idempotently() {
    let Some(file) = shared("realdata/police_stop-and-search_avon-and-somerset_2023-01.csv") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let first = import(dir.path(), &["police-stop-search", file.to_str().unwrap()]);
    assert!(first.ok, "{}", first.stdout);
    accounted(&first.summary);
    assert_eq!(n(&first.summary, "read"), 507);
    assert_eq!(n(&first.summary, "stored"), 507);
    assert_eq!(n(&first.summary, "unlocated"), 53);
    let again = import(dir.path(), &["police-stop-search", file.to_str().unwrap()]);
    assert_eq!(n(&again.summary, "stored"), 0);
    assert_eq!(n(&stats(dir.path()), "stop_searches"), 507);
}

#[test]
fn real_ons_boundaries_of_every_kind_import_with_their_counts() {
    let dir = tempfile::tempdir().unwrap();
    for (file, scheme, count) in [
        ("geodata/ons/lsoa11_E06000023.geojson", "lsoa11", 263),
        ("geodata/ons/msoa11_E06000024.geojson", "msoa11", 26),
        ("geodata/ons/wards_E06000025.geojson", "ward13", 35),
    ] {
        let Some(path) = shared(file) else { return };
        let run = import(
            dir.path(),
            &["boundaries", "--scheme", scheme, path.to_str().unwrap()],
        );
        assert!(run.ok, "{}", run.stdout);
        accounted(&run.summary);
        assert_eq!(n(&run.summary, "stored"), count, "{file}");
    }
    let lad = shared("geodata/ons/lad_bristol.geojson").unwrap();
    let run = import(
        dir.path(),
        &[
            "boundaries",
            "--scheme",
            "lad",
            "--code-field",
            "CODE",
            "--name-field",
            "NAME",
            lad.to_str().unwrap(),
        ],
    );
    assert_eq!(n(&run.summary, "stored"), 1);
    assert_eq!(n(&stats(dir.path()), "boundaries"), 263 + 26 + 35 + 1);
}

const HEADER: &str = "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context";

#[test]
fn the_lsoa_vintage_is_decided_by_code_set_membership_and_stored_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let row = |code: &str, name: &str| {
        format!(
            ",2026-03,Avon and Somerset Constabulary,Avon and Somerset Constabulary,-2.589,51.454,On or near Broad Street,{code},{name},Anti-social behaviour,,"
        )
    };
    // E01035999 is no 2011 code, yet named in Bristol: a code given in 2021. Mendip rows are
    // outside the four authorities and say nothing.
    let new = dir.path().join("2026.csv");
    let rows = [
        row("E01014540", "Bristol 032B"),
        row("E01035999", "Bristol 064A"),
        row("E01035110", "Mendip 007G"),
    ];
    std::fs::write(&new, format!("{HEADER}\n{}\n", rows.join("\n"))).unwrap();
    let run = import(
        &dir.path().join("data"),
        &["police-street", new.to_str().unwrap()],
    );
    assert!(run.ok, "{}", run.stdout);
    let v = &run.summary["lsoa_vintages"][0]["vintage"];
    assert_eq!(v["vintage"], "2021", "{v}");
    assert_eq!(
        (n(v, "only_2021"), n(v, "in_2011"), n(v, "unknown")),
        (1, 1, 1)
    );
    assert!(run.stdout.contains("LSOA vintage 2021"), "{}", run.stdout);

    let old = dir.path().join("2023.csv");
    std::fs::write(
        &old,
        format!("{HEADER}\n{}\n", row("E01014540", "Bristol 032B")),
    )
    .unwrap();
    let run = import(
        &dir.path().join("data"),
        &["police-street", old.to_str().unwrap()],
    );
    assert_eq!(
        run.summary["lsoa_vintages"][0]["vintage"]["vintage"],
        "2011"
    );
}

#[test]
fn a_damaged_file_stores_nothing_and_names_file_line_and_field_unless_partial_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("street.csv");
    let rows = [
        ",2023-01,Avon and Somerset Constabulary,Avon and Somerset Constabulary,-2.589,51.454,On or near Broad Street,E01014540,Bristol 032B,Anti-social behaviour,,",
        ",2023-01,Avon and Somerset Constabulary,Avon and Somerset Constabulary,west,51.454,On or near Broad Street,E01014540,Bristol 032B,Anti-social behaviour,,",
        ",2023-01,Avon and Somerset Constabulary,Avon and Somerset Constabulary,,,No Location,,,Burglary,Under investigation,",
    ];
    std::fs::write(&file, format!("{HEADER}\r\n{}\r\n", rows.join("\r\n"))).unwrap();
    let data = dir.path().join("data");
    let refused = import(&data, &["police-street", file.to_str().unwrap()]);
    assert!(!refused.ok);
    accounted(&refused.summary);
    assert_eq!(
        n(&refused.summary, "rejected"),
        3,
        "a refused file is rejected whole"
    );
    assert_eq!(n(&refused.summary, "invalid"), 1);
    assert!(
        refused
            .stdout
            .contains("street.csv: line 3, field Longitude"),
        "{}",
        refused.stdout
    );
    assert_eq!(
        n(&stats(&data), "incidents"),
        0,
        "nothing from the file was stored"
    );

    let dry = import(
        &data,
        &[
            "police-street",
            "--dry-run",
            "--allow-partial",
            file.to_str().unwrap(),
        ],
    );
    assert!(dry.ok);
    assert_eq!(
        n(&dry.summary, "stored"),
        2,
        "a dry run reports what would be stored"
    );
    assert_eq!(n(&stats(&data), "incidents"), 0, "and stores nothing");

    let partial = import(
        &data,
        &["police-street", "--allow-partial", file.to_str().unwrap()],
    );
    assert!(partial.ok);
    accounted(&partial.summary);
    assert_eq!(
        (
            n(&partial.summary, "stored"),
            n(&partial.summary, "rejected"),
            n(&partial.summary, "unlocated")
        ),
        (2, 1, 1)
    );
    assert_eq!(n(&stats(&data), "incidents"), 2);
}

#[test]
fn an_unreadable_or_non_geojson_file_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let missing = import(dir.path(), &["police-street", "/nonexistent/street.csv"]);
    assert!(!missing.ok);
    assert!(
        missing.stdout.contains("/nonexistent/street.csv"),
        "{}",
        missing.stdout
    );
    let junk = dir.path().join("junk.geojson");
    std::fs::write(&junk, "not json at all").unwrap();
    let run = import(
        dir.path(),
        &["boundaries", "--scheme", "x", junk.to_str().unwrap()],
    );
    assert!(!run.ok);
    accounted(&run.summary);
    assert!(
        run.stdout.contains("junk.geojson: line 1, field (file)"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_running_server_shows_newly_imported_incidents_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let token = {
        let out = Command::new(env!("CARGO_BIN_EXE_saferplaces"))
            .args([
                "user",
                "add",
                "--name",
                "importer",
                "--role",
                "vru_analyst",
                "--data-dir",
            ])
            .arg(dir.path())
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_owned()
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_saferplaces"));
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path());
    let app = crate::support::spawn_command(cmd);
    let headers = vec![("Authorization".to_owned(), format!("Bearer {token}"))];
    let total = |app: &crate::support::TestApp| -> u64 {
        let v = app
            .get_headers("/api/v1/hexagons?res=5&bbox=-180,-90,180,90", &headers)
            .json();
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"]["count"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(total(&app), 0);
    let file = dir.path().join("street.csv");
    std::fs::write(
        &file,
        format!("{HEADER}\n,2023-01,A,A,-2.589,51.454,On or near Broad Street,E01014540,Bristol 032B,Anti-social behaviour,,\n"),
    )
    .unwrap();
    assert!(import(dir.path(), &["police-street", file.to_str().unwrap()]).ok);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while total(&app) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never showed the import"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(total(&app), 1);
}

#[test]
fn gias_and_naptan_files_import_their_schools_and_stops_keeping_closed_and_inactive_ones() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let dir = tempfile::tempdir().unwrap();
    let gias = import(
        dir.path(),
        &[
            "gias",
            "--allow-partial",
            fixtures.join("gias/gias_cp1252.csv").to_str().unwrap(),
        ],
    );
    assert!(gias.ok, "{}", gias.stdout);
    accounted(&gias.summary);
    assert_eq!(
        (
            n(&gias.summary, "read"),
            n(&gias.summary, "stored"),
            n(&gias.summary, "rejected")
        ),
        (6, 4, 2)
    );
    assert!(gias.stdout.contains("field Easting"), "{}", gias.stdout);
    let again = import(
        dir.path(),
        &[
            "gias",
            "--allow-partial",
            fixtures.join("gias/gias_cp1252.csv").to_str().unwrap(),
        ],
    );
    assert_eq!(n(&again.summary, "stored"), 0);
    let naptan = import(
        dir.path(),
        &[
            "naptan",
            fixtures.join("naptan/stops.csv").to_str().unwrap(),
        ],
    );
    assert!(naptan.ok, "{}", naptan.stdout);
    accounted(&naptan.summary);
    assert_eq!(n(&naptan.summary, "stored"), n(&naptan.summary, "read"));
    let st = stats(dir.path());
    assert_eq!(
        (n(&st, "schools"), n(&st, "stops")),
        (4, n(&naptan.summary, "read"))
    );
}

#[test]
fn reconciliation_links_cross_source_duplicates_once_and_the_area_report_counts_people_once() {
    let dir = crate::support::private_demo();
    let run = |args: &[&str]| -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_saferplaces"))
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .last()
                .unwrap(),
        )
        .unwrap()
    };
    let first = run(&[
        "reconcile",
        "--json",
        "--distance-m",
        "150",
        "--window-days",
        "2",
    ]);
    assert!(
        n(&first, "pairs") > 0,
        "the synthetic partners report some of the same events"
    );
    assert_eq!(n(&first, "new"), n(&first, "pairs"));
    let second = run(&[
        "reconcile",
        "--json",
        "--distance-m",
        "150",
        "--window-days",
        "2",
    ]);
    assert_eq!(n(&second, "new"), 0, "linking is idempotent");
    assert_eq!(
        n(&stats(dir.path()), "incidents"),
        60_000,
        "nothing is deleted"
    );
    let report = run(&[
        "report",
        "incidents-individuals",
        "--json",
        "--scheme",
        "locality_police",
    ]);
    let rows = report.as_array().unwrap();
    assert_eq!(rows.len(), 5);
    for r in rows {
        assert!(n(r, "incidents") >= n(r, "incidents_with_people"));
        assert!(n(r, "distinct_individuals") > 0);
        assert!(
            r.get("ids").is_none() && r.get("people").is_none(),
            "counts only"
        );
    }
}

#[test]
fn a_gtfs_feed_imports_its_stops_and_routes_from_a_zip_or_a_folder_alike() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gtfs");
    let zip_dir = tempfile::tempdir().unwrap();
    let zipped = import(
        zip_dir.path(),
        &["gtfs", fixtures.join("feed.zip").to_str().unwrap()],
    );
    assert!(zipped.ok, "{}", zipped.stdout);
    accounted(&zipped.summary);
    assert_eq!(
        n(&zipped.summary, "skipped"),
        1,
        "the station is not a stop"
    );
    let folder_dir = tempfile::tempdir().unwrap();
    let folder = import(
        folder_dir.path(),
        &["gtfs", fixtures.join("feed").to_str().unwrap()],
    );
    assert!(folder.ok, "{}", folder.stdout);
    assert_eq!(n(&folder.summary, "stored"), n(&zipped.summary, "stored"));
    let st = stats(zip_dir.path());
    assert_eq!((n(&st, "stops"), n(&st, "routes")), (3, 2));
    let again = import(
        zip_dir.path(),
        &["gtfs", fixtures.join("feed.zip").to_str().unwrap()],
    );
    assert_eq!(
        n(&again.summary, "stored"),
        0,
        "re-importing a feed stores nothing new"
    );
}

#[test]
fn agency_files_import_with_provenance_and_people_pass_the_safeguards_rules_first() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agency");
    let dir = tempfile::tempdir().unwrap();
    let agency = [
        "--agency",
        "bristol-city-council",
        "--isa-ref",
        "ISA-WOE-2024-001",
    ];
    for (kind, file, stored) in [
        ("incidents", "incidents.csv", 3),
        ("places", "places.geojson", 2),
        ("services", "services.csv", 2),
    ] {
        let mut args = vec![kind];
        args.extend(agency);
        let path = fixtures.join(file);
        args.push(path.to_str().unwrap());
        let run = import(dir.path(), &args);
        assert!(run.ok, "{}", run.stdout);
        accounted(&run.summary);
        assert_eq!(n(&run.summary, "stored"), stored, "{file}");
        assert_eq!(
            n(&import(dir.path(), &args).summary, "stored"),
            0,
            "{file} re-imported"
        );
    }
    // "gang member" is not a category: refused, naming file, line and field.
    let gang_file = fixtures.join("people_gang_member.csv");
    let gang = import(
        dir.path(),
        &[&["people", gang_file.to_str().unwrap()][..], &agency].concat(),
    );
    assert!(!gang.ok);
    assert!(
        gang.stdout
            .contains("people_gang_member.csv: line 3, field categories"),
        "{}",
        gang.stdout
    );
    // An exploiter supported only by association is refused (S4) until a conduct item exists.
    let people = fixtures.join("people.csv");
    let refused = import(
        dir.path(),
        &[&["people", people.to_str().unwrap()][..], &agency].concat(),
    );
    assert!(!refused.ok);
    assert!(
        refused
            .stdout
            .contains("line 3, field EXPLOITER_NEEDS_CONDUCT_ITEM"),
        "{}",
        refused.stdout
    );
    assert_eq!(n(&stats(dir.path()), "people"), 0);
    // Links need their people (and incidents) stored or in the same batch: a conduct link to
    // the agency's stored incident INC-001 arrives with the people file.
    let conduct = dir.path().join("conduct.csv");
    std::fs::write(&conduct, "ref,kind,from,to_type,to,categories,grade,review_due\nLK-9,person_incident,P1f2e3d4c,incident,INC-001,suspect,2BP,2024-09-30\n").unwrap();
    let mut args = vec!["people"];
    args.extend(agency);
    args.extend([
        "--links",
        conduct.to_str().unwrap(),
        people.to_str().unwrap(),
    ]);
    let stored = import(dir.path(), &args);
    assert!(stored.ok, "{}", stored.stdout);
    assert_eq!(
        n(&stored.summary, "stored"),
        3,
        "two people and their conduct link"
    );
    // Each person-level collection is in the audit log with its pseudonymous subjects.
    let log = std::fs::read_to_string(dir.path().join("audit/audit.jsonl")).unwrap();
    let collections: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event"]["event_type"] == "collection")
        .collect();
    let allowed: Vec<&Value> = collections
        .iter()
        .filter(|e| e["event"]["decision"] == "allow")
        .collect();
    assert_eq!(allowed.len(), 1, "the people file with its links");
    assert_eq!(
        collections.len() - allowed.len(),
        2,
        "the refused gang-member and exploiter files are audited too"
    );
    assert!(
        allowed[0]["event"]["subject_ids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "P1f2e3d4c")
    );
}

/// Issue 15 point 4: review periods of imported people are counted from the deployment's
/// clock (`SAFERPLACES_TODAY`), like the sharing check and every other command, not from
/// the machine's date. A review date a month after the fixed day is within the S18 limit
/// there, and years beyond it as seen from the machine's date.
#[test]
fn people_review_dates_are_checked_against_the_configured_today() {
    let dir = tempfile::tempdir().unwrap();
    let people = dir.path().join("people.csv");
    std::fs::write(
        &people,
        "ref,birth_year,categories,review_due\nP0a1b2c3e,1990,victim,2090-02-01\n",
    )
    .unwrap();
    let env = [
        ("SAFERPLACES_TODAY", "2090-01-01"),
        ("SAFERPLACES_CONTROLLER", "bristol-city-council"),
    ];
    let args = [
        "people",
        "--agency",
        "bristol-city-council",
        people.to_str().unwrap(),
    ];
    let run = import_with(dir.path(), &args, &env);
    assert!(run.ok, "{}", run.stdout);
    assert_eq!(n(&run.summary, "stored"), 1, "{}", run.stdout);
    assert_eq!(n(&stats(dir.path()), "people"), 1);
}
