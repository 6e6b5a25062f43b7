//! Storage failures say why (issue 14, point 5): a full database, a corrupt file and a
//! read-only store each name the operation, the file and the cause in words.

use std::path::Path;

use super::*;
use crate::domain::Agency;
use crate::import::{ImportError, ImportKind, ImportOptions, import_file};
use crate::ingest::report::Progress;
use crate::store::{NewUser, Store};

/// The whole chain of an error, as the CLI prints it.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn street_fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/police/street_slice_lf.csv")
}

/// A street file of `rows` distinct burglaries in Bath, written into `dir`.
fn big_street_file(dir: &Path, rows: u32) -> std::path::PathBuf {
    use std::fmt::Write as _;
    let mut csv = String::from(
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\n",
    );
    for i in 0..rows {
        let _ = writeln!(
            csv,
            "{i:064x},2023-01,Avon and Somerset Constabulary,Avon and Somerset Constabulary,-2.{:06},51.424619,On or near Julius Place,E01014399,Bath and North East Somerset 007A,Burglary,Under investigation,",
            400_000 + i
        );
    }
    let path = dir.join("street_big.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

fn options() -> ImportOptions {
    ImportOptions {
        dry_run: false,
        allow_partial: false,
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

fn user(name: &str) -> NewUser {
    NewUser {
        name: name.to_owned(),
        role: crate::domain::Role::Planner,
        org: None,
        panels: vec![],
        token_hash: "0".repeat(64),
        token_expires_at: 4_000_000_000,
    }
}

#[test]
fn an_import_into_a_full_database_says_it_is_full_names_both_files_and_counts_the_rows_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
    store.add_user(&user("before")).unwrap();
    // The database may not grow by a single page: SQLite answers SQLITE_FULL exactly as it
    // does when the disk is full (ENOSPC).
    let pages: i64 = store
        .conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    let _: i64 = store
        .conn
        .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
            r.get(0)
        })
        .unwrap();
    let input = tempfile::tempdir().unwrap();
    let file = big_street_file(input.path(), 3000);
    let err = import_file(&mut store, ImportKind::PoliceStreet, &file, &options()).unwrap_err();
    let text = chain(&err);
    assert!(
        text.contains("full") && text.contains("SQLITE_FULL"),
        "{text}"
    );
    assert!(text.contains("street_big.csv"), "names the input: {text}");
    assert!(
        text.contains(&store.file().display().to_string()),
        "names the database file: {text}"
    );
    let ImportError::Store { read, .. } = err else {
        panic!("not a store error: {err:?}");
    };
    assert_eq!(read, 3000, "the file was read even though storing failed");
    // Nothing already stored is lost.
    assert_eq!(store.users().unwrap().len(), 1);
    assert_eq!(store.counts().unwrap().incidents, 0);
}

#[test]
fn a_corrupt_database_file_is_named_and_called_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(SqliteStore::FILE_NAME);
    std::fs::write(&file, vec![0x5a_u8; 8192]).unwrap();
    let err = SqliteStore::open(dir.path()).unwrap_err();
    let text = chain(&err);
    assert!(
        text.contains("corrupt") && text.contains("SQLITE_NOTADB"),
        "{text}"
    );
    assert!(text.contains(&file.display().to_string()), "{text}");
}

#[test]
fn a_read_only_store_reads_and_refuses_every_write_naming_the_file_and_read_only() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = SqliteStore::open(dir.path()).unwrap();
        store.add_user(&user("kept")).unwrap();
    }
    let mut store = SqliteStore::open_read_only(dir.path()).unwrap();
    assert!(store.read_only_reason().is_some());
    assert_eq!(store.users().unwrap().len(), 1);
    let err = store.add_user(&user("new")).unwrap_err();
    let text = chain(&err);
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
    assert!(
        text.contains("read-only") && text.contains("add a user"),
        "{text}"
    );
    assert!(text.contains(&store.file().display().to_string()), "{text}");
    // An import is read, then refused with the same words.
    let err = import_file(
        &mut store,
        ImportKind::PoliceStreet,
        &street_fixture(),
        &options(),
    )
    .unwrap_err();
    assert!(chain(&err).contains("read-only"), "{}", chain(&err));
    assert!(
        matches!(err, ImportError::Store { read: 10, .. }),
        "{err:?}"
    );
    drop(store);
    assert_eq!(
        SqliteStore::open(dir.path())
            .unwrap()
            .users()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_read_only_open_of_a_missing_store_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteStore::open_read_only(dir.path()).unwrap_err();
    let text = chain(&err);
    assert!(text.contains(SqliteStore::FILE_NAME), "{text}");
    assert!(
        !dir.path().join(SqliteStore::FILE_NAME).exists(),
        "nothing created"
    );
}

#[test]
fn an_immutable_uri_escapes_characters_that_would_change_its_meaning() {
    assert_eq!(
        immutable_uri(Path::new("/d a/x?y#z%.sqlite3")),
        "file:/d%20a/x%3Fy%23z%25.sqlite3?immutable=1"
    );
}

/// Issue 14, point 5: every write of the store, not only an import, names the operation, the
/// database file and the cause when the database cannot grow; nothing already stored is lost.
#[test]
fn every_store_write_into_a_full_database_names_operation_file_and_cause() {
    use crate::safeguards::reviews::{Review, ReviewOutcome};
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
    let data = super::super::tests::sample();
    store.write_unchecked(&data).unwrap();
    store.add_user(&user("before")).unwrap();
    let before = store.counts().unwrap();
    let pages: i64 = store
        .conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    let _: i64 = store
        .conn
        .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
            r.get(0)
        })
        .unwrap();
    // Enough new rows that the database must grow by at least a page.
    let many: Vec<NewUser> = (1..=200)
        .map(|i| NewUser {
            token_hash: format!("{i:064}"),
            ..user(&format!("u{i:03}{}", "x".repeat(90)))
        })
        .collect();
    let person = data.people[0].id.clone();
    let review = Review {
        person: person.clone(),
        review_due: Some(crate::domain::Day::from_days_since_epoch(21_000)),
        rationale: "r".repeat(4000),
        outcome: ReviewOutcome::Retain,
        decided_by: "Chair".to_owned(),
        decided_at: "2026-01-01T00:00:00.000Z".to_owned(),
    };
    let mut failures: Vec<(&str, StoreError)> = Vec::new();
    let mut record_failure = |what: &'static str, result: StoreResult<()>| {
        if let Err(e) = result {
            failures.push((what, e));
        }
    };
    record_failure(
        "add a user",
        many.iter().try_for_each(|u| store.add_user(u).map(drop)),
    );
    record_failure(
        "record a review",
        (0..40).try_for_each(|_| store.record_review(&review).map(drop)),
    );
    assert_eq!(failures.len(), 2, "{failures:?}");
    for (operation, err) in &failures {
        let text = chain(err);
        assert!(matches!(err, StoreError::Write { .. }), "{err:?}");
        assert!(text.contains(&format!("cannot {operation}")), "{text}");
        assert!(
            text.contains(&store.file().display().to_string()),
            "names the database file: {text}"
        );
        assert!(text.contains("SQLITE_FULL"), "{text}");
    }
    // A refused constraint is not a storage failure and keeps its own error.
    let _: i64 = store
        .conn
        .query_row("PRAGMA max_page_count = 1000000", [], |r| r.get(0))
        .unwrap();
    let bad = NewUser {
        token_hash: "short".to_owned(),
        ..user("bad")
    };
    assert!(matches!(
        store.add_user(&bad),
        Err(StoreError::Database { .. })
    ));
    let after = store.counts().unwrap();
    assert_eq!(after, before, "nothing already stored was lost");
    assert!(
        store
            .users()
            .unwrap()
            .iter()
            .any(|(_, u)| u.name == "before")
    );
}
