//! Issue 14, point 4 through the real binary: a damaged store is refused at start, naming the
//! table, the segment and the rows it covers, and `saferplaces check` finds the same damage on
//! demand.
//!
//! The review found that flipping bits in a stored incident segment let the server start and
//! serve moved incidents. These tests import a small police street file into a private demo
//! copy (the demo's own incidents are rows; an import writes a columnar segment), flip one bit
//! of one incident's longitude inside the segment's `data` blob with rusqlite (the incident
//! moves about 4.5 km and the segment still decodes), and run the real commands.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{cli, cli_ok, private_demo};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/police")
        .join(name)
}

fn database(dir: &Path) -> PathBuf {
    dir.join("saferplaces.sqlite3")
}

/// A private demo copy with one imported segment; returns the copy and the segment's id,
/// lowest and highest incident id.
fn demo_with_segment() -> (tempfile::TempDir, i64, i64, i64) {
    let dir = private_demo();
    cli_ok(
        dir.path(),
        &[
            "import",
            "police-street",
            fixture("street_slice_bom.csv").to_str().unwrap(),
        ],
    );
    let conn = rusqlite::Connection::open(database(dir.path())).unwrap();
    let (id, min_id, max_id) = conn
        .query_row(
            "SELECT id, min_id, max_id FROM incident_segments ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    (dir, id, min_id, max_id)
}

/// Flips bit 0 of the third byte of the first located incident's longitude in segment
/// `segment` (65,536 millionths of a degree, about 4.5 km at this latitude): the kind of
/// damage that decodes to a valid, moved incident. Asserts the premise (a version 2 segment
/// with six-decimal coordinates) so a format change cannot make the test pass vacuously.
fn move_one_incident(dir: &Path, segment: i64) {
    let conn = rusqlite::Connection::open(database(dir)).unwrap();
    let mut data: Vec<u8> = conn
        .query_row(
            "SELECT data FROM incident_segments WHERE id = ?1",
            [segment],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(&data[..5], b"SPIS\x02", "a version 2 segment");
    let rows = u32::from_le_bytes(data[5..9].try_into().unwrap()) as usize;
    // Header 9 bytes, then line u32, day u16 and minute u16 per row, then the coordinate kind.
    let kind_at = 9 + 8 * rows;
    assert_eq!(data[kind_at], 1, "coordinates stored as millionths (i32)");
    let lon_at = (0..rows)
        .map(|r| kind_at + 1 + 4 * r)
        .find(|&at| i32::from_le_bytes(data[at..at + 4].try_into().unwrap()) != i32::MIN)
        .expect("a located incident");
    data[lon_at + 2] ^= 0x01;
    let changed = conn
        .execute(
            "UPDATE incident_segments SET data = ?1 WHERE id = ?2",
            rusqlite::params![data, segment],
        )
        .unwrap();
    assert_eq!(changed, 1);
}

/// Asserts that `text` says the store is damaged and names the table, the segment and the
/// incident ids it covers.
fn names_the_damage(text: &str, segment: i64, min_id: i64, max_id: i64) {
    assert!(
        text.contains("damaged"),
        "says the store is damaged: {text}"
    );
    assert!(
        text.contains("incident_segments"),
        "names the table: {text}"
    );
    assert!(
        text.contains(&format!("segment {segment}")),
        "names the segment: {text}"
    );
    assert!(
        text.contains(&format!("{min_id}..={max_id}")),
        "names the incident ids the segment covers: {text}"
    );
    assert!(!text.contains("panicked"), "no panic: {text}");
}

/// Runs `saferplaces serve` on `dir` and waits until it exits (returning its standard error)
/// or reports its address, which fails the test: it is serving a damaged store.
fn serve_expecting_refusal(dir: &Path) -> (std::process::ExitStatus, String) {
    let audit = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("SAFERPLACES_AUDIT_DIR", audit.path())
        .env("SAFERPLACES_EQUALITY_MONTHLY", "off")
        .env(
            "SAFERPLACES_GEODATA_DIR",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("saferplaces listening on ") {
                let _ = tx.send(line);
            }
        }
    });
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return (status, stderr);
        }
        if let Ok(line) = rx.try_recv() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server started on a damaged store: {line}");
        }
        assert!(
            Instant::now() < deadline,
            "serve neither started nor exited"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serve_refuses_a_store_whose_segment_was_damaged_naming_table_segment_and_rows() {
    let (dir, segment, min_id, max_id) = demo_with_segment();
    move_one_incident(dir.path(), segment);
    let (status, stderr) = serve_expecting_refusal(dir.path());
    assert!(!status.success(), "{stderr}");
    names_the_damage(&stderr, segment, min_id, max_id);
}

#[test]
fn stats_refuses_a_damaged_store_naming_table_segment_and_rows() {
    let (dir, segment, min_id, max_id) = demo_with_segment();
    move_one_incident(dir.path(), segment);
    let out = cli(dir.path(), &["stats"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "stats succeeded: {stderr}");
    names_the_damage(&stderr, segment, min_id, max_id);
}

#[test]
fn check_exits_non_zero_naming_every_damaged_segment() {
    let (dir, segment, min_id, max_id) = demo_with_segment();
    move_one_incident(dir.path(), segment);
    let out = cli(dir.path(), &["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "check passed a damaged store: {stdout}"
    );
    names_the_damage(&format!("{stdout}{stderr}"), segment, min_id, max_id);
    // The full check reports the same segment (and SQLite's own structure check passes: the
    // damage is inside a value, which only the checksum can see).
    let full = cli(dir.path(), &["check", "--full"]);
    let full_stdout = String::from_utf8_lossy(&full.stdout);
    assert!(!full.status.success(), "{full_stdout}");
    names_the_damage(&full_stdout, segment, min_id, max_id);
    assert!(full_stdout.contains("integrity_check: ok"), "{full_stdout}");
}

#[test]
fn check_on_an_intact_copy_exits_zero_and_says_what_it_checked() {
    let (dir, _, _, _) = demo_with_segment();
    for args in [&["check"][..], &["check", "--full"][..]] {
        let out = cli(dir.path(), args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("incident_segments: 1 segment, 10 rows"),
            "{stdout}"
        );
        assert!(stdout.contains("incidents: 60000 rows"), "{stdout}");
        assert!(stdout.trim_end().ends_with("OK"), "{stdout}");
    }
    // The intact copy still serves.
    let out = cli(dir.path(), &["stats", "--json"]);
    assert!(out.status.success());
}

#[test]
fn check_on_a_directory_without_a_store_fails_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path(), &["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("no store to check"), "{stderr}");
    assert!(!database(dir.path()).exists(), "no empty store was created");
}

/// Changes one value in the first row of people, links, places and users of `dir`'s store
/// with rusqlite (as a disk fault or another program would: the store's checksum is not
/// updated); returns what a message names for each: `table T, row KEY (rowid R)`.
fn change_four_rows(dir: &Path) -> Vec<String> {
    cli_ok(
        dir,
        &[
            "user",
            "add",
            "--name",
            "row-checksum-user",
            "--role",
            "planner",
        ],
    );
    let conn = rusqlite::Connection::open(database(dir)).unwrap();
    let mut named = Vec::new();
    for (table, change) in [
        ("people", "review_due = review_due + 1"),
        ("links", "review_due = review_due + 1"),
        ("places", "lat = lat + 0.0001"),
        ("users", "role = 'police_analyst'"),
    ] {
        let (rowid, key): (i64, rusqlite::types::Value) = conn
            .query_row(
                &format!("SELECT rowid, id FROM {table} ORDER BY rowid LIMIT 1"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let changed = conn
            .execute(
                &format!("UPDATE {table} SET {change} WHERE rowid = ?1"),
                [rowid],
            )
            .unwrap();
        assert_eq!(changed, 1, "{table}");
        let key = match key {
            rusqlite::types::Value::Text(t) => format!("{t:?}"),
            rusqlite::types::Value::Integer(i) => i.to_string(),
            other => panic!("{table}: {other:?}"),
        };
        named.push(format!("table {table}, row {key} (rowid {rowid})"));
    }
    named
}

#[test]
fn serve_and_stats_refuse_a_store_whose_record_row_was_changed_naming_table_and_row() {
    let dir = private_demo();
    let named = change_four_rows(dir.path());
    let (status, stderr) = serve_expecting_refusal(dir.path());
    assert!(!status.success(), "{stderr}");
    assert!(
        named.iter().any(|n| stderr.contains(n.as_str())),
        "names a damaged table and row: {stderr}"
    );
    let out = cli(dir.path(), &["stats"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "stats succeeded: {stderr}");
    assert!(
        named.iter().any(|n| stderr.contains(n.as_str())) && stderr.contains("damaged"),
        "{stderr}"
    );
}

#[test]
fn check_lists_every_record_row_that_was_changed() {
    let dir = private_demo();
    let named = change_four_rows(dir.path());
    let out = cli(dir.path(), &["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "check passed a damaged store: {stdout}"
    );
    for n in &named {
        assert!(stdout.contains(n.as_str()), "lists {n}: {stdout}");
    }
}
