//! Issue 14, point 5 through the real binary: every CLI command that writes the store fails
//! naming the operation, the database file and the cause when the data directory is read-only
//! or the disk is full, exits non-zero, and loses nothing already stored.
//!
//! A full disk is simulated with the file-size limit (`ulimit -f`, `RLIMIT_FSIZE`) of the
//! command's process, with `SIGXFSZ` ignored so a write past the limit fails with an error
//! instead of killing the process: every write of the store's journal fails as it would on a
//! full disk (`SQLite` reports the short or refused write as `SQLITE_FULL` or
//! `SQLITE_IOERR_WRITE`). The limit applies to root too. The test keeps a connection open on
//! the store so its shared-memory file exists and needs no growing (otherwise the store falls
//! back to read-only, which is the other test's case).

use std::path::Path;
use std::process::Command;

use crate::storage_errors::{command, make_read_only, unprivileged};
use crate::support::{cli_ok, private_demo};

/// A fixed "today" so a review's due date is valid whatever the date.
const TODAY: &str = "2026-12-07";

/// A demo copy with a police analyst `analyst` (for case assignment); returns the copy, a
/// person's id, a case reference and `stats --json` as it was.
fn demo_copy() -> (tempfile::TempDir, String, String, String) {
    let dir = private_demo();
    cli_ok(
        dir.path(),
        &[
            "user",
            "add",
            "--name",
            "analyst",
            "--role",
            "police_analyst",
        ],
    );
    let conn = rusqlite::Connection::open(dir.path().join("saferplaces.sqlite3")).unwrap();
    let person: String = conn
        .query_row("SELECT id FROM people ORDER BY id LIMIT 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    let case: String = conn
        .query_row(
            "SELECT reference FROM cases ORDER BY reference LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    drop(conn);
    let stats = stats(dir.path());
    (dir, person, case, stats)
}

fn stats(dir: &Path) -> String {
    String::from_utf8(cli_ok(dir, &["stats", "--json"]).stdout).unwrap()
}

/// Every write command, with the operations its failure may name (the command's own, or the
/// store write that failed within it).
fn writes(person: &str, case: &str) -> Vec<(Vec<String>, &'static [&'static str])> {
    let rationale = "reviewed by the panel, who decided to keep the entry for now";
    let ops: [(Vec<&str>, &'static [&'static str]); 7] = [
        (
            vec!["user", "add", "--name", "late", "--role", "planner"],
            &["add a user"],
        ),
        (vec!["user", "revoke", "analyst"], &["revoke a token"]),
        (
            vec!["case", "assign", "--case", case, "--user", "analyst"],
            &["assign a case"],
        ),
        (
            vec![
                "review",
                "record",
                "--person",
                person,
                "--outcome",
                "retain",
                "--review-due",
                "2027-01-15",
                "--decided-by",
                "Chair of MACE panel 1",
                "--rationale",
                rationale,
            ],
            &["record a review"],
        ),
        (vec!["reconcile"], &["link likely duplicates"]),
        // Far enough ahead that expired entries must be erased.
        (
            vec!["retention", "sweep", "--today", "2031-01-01"],
            &["run the retention sweep", "erase people and links"],
        ),
        (
            vec!["equality", "run", "--month", "2026-10"],
            &["run the equality monitor", "store equality results"],
        ),
    ];
    ops.into_iter()
        .map(|(args, op)| (args.into_iter().map(str::to_owned).collect(), op))
        .collect()
}

/// Asserts that a failed command's standard error says `cannot` and one of `operations`, names
/// the database file of `dir` and a cause containing one of `causes`.
fn assert_says_why(
    out: &std::process::Output,
    args: &[String],
    operations: &[&str],
    dir: &Path,
    causes: &[&str],
) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded: {stderr}");
    assert!(
        operations
            .iter()
            .any(|op| stderr.contains(&format!("cannot {op}"))),
        "{args:?}: names the operation {operations:?}: {stderr}"
    );
    let file = dir.join("saferplaces.sqlite3");
    assert!(
        stderr.contains(&file.display().to_string()),
        "{args:?}: names the database file: {stderr}"
    );
    assert!(
        causes.iter().any(|c| stderr.contains(c)),
        "{args:?}: says the cause ({causes:?}): {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn every_cli_write_on_a_read_only_data_directory_names_operation_file_and_cause() {
    let (dir, person, case, before) = demo_copy();
    make_read_only(dir.path());
    let Some(prefix) = unprivileged(dir.path()) else {
        return;
    };
    for (args, operations) in writes(&person, &case) {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = command(&prefix, dir.path(), &argv)
            .env("SAFERPLACES_TODAY", TODAY)
            .output()
            .unwrap();
        assert_says_why(
            &out,
            &args,
            operations,
            dir.path(),
            &["read-only", "cannot be written"],
        );
    }
    let after = command(&prefix, dir.path(), &["stats", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(after.stdout).unwrap(),
        before,
        "nothing lost"
    );
}

#[test]
fn every_cli_write_on_a_full_disk_names_operation_file_and_cause_and_loses_nothing() {
    let (dir, person, case, before) = demo_copy();
    let file = dir.path().join("saferplaces.sqlite3");
    // Holds the journal and shared-memory files open, as a running server would.
    let holder = rusqlite::Connection::open(&file).unwrap();
    let _: i64 = holder
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    for (args, operations) in writes(&person, &case) {
        let out = Command::new("sh")
            .args([
                "-c",
                "trap '' XFSZ; ulimit -f 1; exec \"$0\" \"$@\"",
                env!("CARGO_BIN_EXE_saferplaces"),
            ])
            .args(&args)
            .arg("--data-dir")
            .arg(dir.path())
            .env("SAFERPLACES_TODAY", TODAY)
            .env(
                "SAFERPLACES_GEODATA_DIR",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata"),
            )
            .output()
            .unwrap();
        assert_says_why(
            &out,
            &args,
            operations,
            dir.path(),
            &[
                "full (SQLITE_FULL)",
                "(disk error or full disk) (SQLITE_IOERR_WRITE)",
            ],
        );
    }
    drop(holder);
    assert_eq!(stats(dir.path()), before, "nothing already stored was lost");
    cli_ok(dir.path(), &["check"]);
}
