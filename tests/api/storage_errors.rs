//! Issue 14, point 5 through the real binary: storage failures say why, and a read-only data
//! directory still allows `stats` and `serve`.
//!
//! The data directory is made read-only with `chmod` (555 on directories, 444 on files). Root
//! ignores those bits, and the tests often run as root (CI does): then every command of these
//! tests runs as the unprivileged user `nobody` through `setpriv`, and a test that cannot get a
//! process for which the directory really is read-only says why and skips.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::{TestApp, cli_ok, private_demo, spawn_command, test_assigned_cases};

/// The user the unprivileged commands run as when the tests run as root (`nobody`).
const NOBODY: &str = "65534";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_saferplaces")
}

fn geodata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata")
}

/// Makes `dir` and everything under it read-only: 555 on directories, 444 on files.
pub(crate) fn make_read_only(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            make_read_only(&path);
        } else {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
}

/// The prefix that runs a program as a user for whom `read_only_dir` cannot be written: none
/// when this process already cannot write it, `setpriv` to `nobody` when it can (root).
/// `None`, after printing why, when no such user is available: the test then skips.
pub(crate) fn unprivileged(read_only_dir: &Path) -> Option<Vec<String>> {
    let probe = read_only_dir.join("write-probe");
    if std::fs::write(&probe, b"x").is_err() {
        return Some(Vec::new());
    }
    let _ = std::fs::remove_file(&probe);
    let prefix: Vec<String> = [
        "setpriv",
        &format!("--reuid={NOBODY}"),
        &format!("--regid={NOBODY}"),
        "--clear-groups",
        "--",
    ]
    .map(str::to_owned)
    .to_vec();
    // As nobody: the binary must run, and the directory must refuse a write.
    let runs = Command::new(&prefix[0])
        .args(&prefix[1..])
        .args([bin(), "--help"])
        .output()
        .is_ok_and(|o| o.status.success());
    let refused = Command::new(&prefix[0])
        .args(&prefix[1..])
        .arg("touch")
        .arg(&probe)
        .output()
        .is_ok_and(|o| !o.status.success());
    if runs && refused {
        Some(prefix)
    } else {
        eprintln!(
            "skipped: this process can write {} despite chmod 555 (root), and setpriv cannot run \
             saferplaces as an unprivileged user here (runs: {runs}, write refused: {refused})",
            read_only_dir.display()
        );
        None
    }
}

/// `saferplaces ARGS --data-dir DIR` through `prefix`.
pub(crate) fn command(prefix: &[String], dir: &Path, args: &[&str]) -> Command {
    let mut cmd = match prefix.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(bin());
            c
        }
        None => Command::new(bin()),
    };
    cmd.args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("SAFERPLACES_GEODATA_DIR", geodata());
    cmd
}

/// A read-only copy of the demo data, shared by the CLI tests, with the runner for it.
struct ReadOnlyDemo {
    dir: tempfile::TempDir,
    prefix: Vec<String>,
    /// `stats --json` of the copy while it was writable.
    stats: Value,
}

fn read_only_demo() -> Option<&'static ReadOnlyDemo> {
    static DEMO: OnceLock<Option<ReadOnlyDemo>> = OnceLock::new();
    DEMO.get_or_init(|| {
        let dir = private_demo();
        let out = cli_ok(dir.path(), &["stats", "--json"]);
        let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
        make_read_only(dir.path());
        let prefix = unprivileged(dir.path())?;
        Some(ReadOnlyDemo { dir, prefix, stats })
    })
    .as_ref()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn stats_on_a_read_only_data_directory_work_and_leave_no_file_behind() {
    let Some(demo) = read_only_demo() else { return };
    let before = files_in(demo.dir.path());
    let out = command(&demo.prefix, demo.dir.path(), &["stats", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stats failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats, demo.stats);
    assert_eq!(
        files_in(demo.dir.path()),
        before,
        "no journal or -shm file created"
    );
}

#[test]
fn an_import_into_a_read_only_data_directory_fails_saying_why_and_counts_the_rows_it_read() {
    let Some(demo) = read_only_demo() else { return };
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/police/street_slice_lf.csv");
    let out = command(&demo.prefix, demo.dir.path(), &["import", "police-street"])
        .arg(&file)
        .arg("--json")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the import must fail");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let failure = stdout
        .lines()
        .find(|l| l.contains("failed"))
        .unwrap_or_else(|| panic!("no failure line: {stdout}"));
    assert!(failure.contains("street_slice_lf.csv"), "{failure}");
    assert!(failure.contains("read-only"), "says read-only: {failure}");
    assert!(
        failure.contains(&demo.dir.path().display().to_string()),
        "names the data directory: {failure}"
    );
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["read"], 10, "the rows actually read: {summary}");
    assert_eq!(summary["stored"], 0, "{summary}");
    assert_eq!(summary["failed"], 10, "{summary}");
    assert_eq!(summary["ok"], false, "{summary}");
    let error = summary["errors"][0]["error"].as_str().unwrap();
    assert!(error.contains("read-only"), "{summary}");
    // Nothing already stored is lost.
    let after = command(&demo.prefix, demo.dir.path(), &["stats", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&after.stdout).unwrap(),
        demo.stats
    );
}

#[test]
fn adding_a_user_to_a_read_only_data_directory_is_refused_naming_the_directory() {
    let Some(demo) = read_only_demo() else { return };
    let out = command(
        &demo.prefix,
        demo.dir.path(),
        &["user", "add", "--name", "late", "--role", "planner"],
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("read-only") && stderr.contains("add a user"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&demo.dir.path().display().to_string()),
        "{stderr}"
    );
}

/// Starts `serve` on `dir` through `prefix`, with the audit log in the data directory (the
/// default) so a read-only directory means a read-only audit log.
fn serve(prefix: &[String], dir: &Path) -> TestApp {
    let mut cmd = command(prefix, dir, &["serve", "--addr", "127.0.0.1:0"]);
    cmd.env("SAFERPLACES_REFUSALS_PER_MINUTE", "1000000")
        .env("SAFERPLACES_REFUSAL_COALESCE_MS", "0");
    spawn_command(cmd)
}

/// A person-level read of the analyst's own investigation case.
fn read_people(app: &TestApp, token: &str, case: &str) -> crate::support::Reply {
    let auth = format!("Bearer {token}");
    app.get_with(
        "/api/v1/people",
        &[
            ("Authorization", &auth),
            ("X-Purpose", "disrupting_exploitation"),
            ("X-Case-Ref", case),
            ("X-Legal-Basis", "dpa_2018_s35_law_enforcement"),
        ],
    )
}

#[test]
fn a_server_on_a_read_only_data_directory_serves_aggregates_and_refuses_person_level_reads() {
    let demo = private_demo();
    let dir = demo.path();
    // A police analyst assigned to a case, and a person-level read that works while the
    // directory is writable.
    let out = cli_ok(
        dir,
        &[
            "user",
            "add",
            "--name",
            "ro-analyst",
            "--role",
            "police_analyst",
            "--org",
            "synthetic-police",
        ],
    );
    let token = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    let data = {
        use saferplaces::store::Store as _;
        saferplaces::store::SqliteStore::open(dir)
            .unwrap()
            .load()
            .unwrap()
    };
    let (case, _) = test_assigned_cases(&data);
    crate::support::assign_case(dir, &case, "ro-analyst");
    let writable = serve(&[], dir);
    let reply = read_people(&writable, &token, &case);
    assert_eq!(reply.status, 200, "{}", reply.body);
    drop(writable);

    make_read_only(dir);
    let Some(prefix) = unprivileged(dir) else {
        return;
    };
    let before = files_in(dir);
    let app = serve(&prefix, dir);
    assert_eq!(app.get("/health").status, 200);
    let hexagons = app.get("/api/v1/hexagons?res=8");
    assert_eq!(hexagons.status, 200, "{}", hexagons.body);
    assert!(
        !hexagons.json()["features"].as_array().unwrap().is_empty(),
        "the aggregate layer has cells"
    );
    // Fail closed: the audit log cannot be appended, so person-level data are not served.
    let refused = read_people(&app, &token, &case);
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.json()["error"], "AUDIT_LOG_READ_ONLY");
    assert!(!refused.body.contains("\"people\""), "{}", refused.body);
    let (status, log) = app.stop();
    assert!(status.success(), "{log}");
    assert!(
        log.contains("read-only"),
        "the server logs read-only mode: {log}"
    );
    assert_eq!(
        files_in(dir),
        before,
        "nothing written into the data directory"
    );
}

#[test]
fn a_read_only_copy_with_changes_waiting_in_its_journal_is_refused_saying_what_to_do() {
    // The "Error code 14" of the issue: a database copied with its -wal journal but without
    // its -shm file, into a directory that cannot be written.
    let demo = private_demo();
    let copy = tempfile::tempdir().unwrap();
    let db = saferplaces::store::SqliteStore::FILE_NAME;
    {
        let conn = rusqlite::Connection::open(demo.path().join(db)).unwrap();
        let _: i64 = conn
            .query_row("PRAGMA wal_autocheckpoint = 0", [], |r| r.get(0))
            .unwrap();
        conn.execute(
            "INSERT INTO imported_files (file_sha256, kind, file_name, imported_at, summary) \
             VALUES (?1, 'police-street', 'late.csv', '2026-12-01T00:00:00Z', '{}')",
            [&"a".repeat(64)],
        )
        .unwrap();
        // Copied while the writer still holds the journal open, as a backup tool would.
        std::fs::copy(demo.path().join(db), copy.path().join(db)).unwrap();
        let wal = format!("{db}-wal");
        std::fs::copy(demo.path().join(&wal), copy.path().join(&wal)).unwrap();
    }
    make_read_only(copy.path());
    let Some(prefix) = unprivileged(copy.path()) else {
        return;
    };
    let out = command(&prefix, copy.path(), &["stats", "--json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!("{db}-wal")),
        "names the journal: {stderr}"
    );
    assert!(
        stderr.contains("not yet copied") && stderr.contains("write access"),
        "says why and what to do: {stderr}"
    );
}
