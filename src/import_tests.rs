//! The one shape of every import: options carry the clock, the outcome is an enum, and the
//! audit records of people and links are written by the library.

use std::path::Path;

use super::*;
use crate::domain::Day;
use crate::ingest::report::Progress;
use crate::safeguards::audit::AuditLog;
use crate::store::SqliteStore;

fn options(today: &str) -> ImportOptions {
    ImportOptions {
        dry_run: false,
        allow_partial: false,
        agency: Agency::new("bristol-city-council").unwrap(),
        isa_ref: None,
        scheme: None,
        code_field: None,
        name_field: None,
        progress: Progress::silent(),
        lsoa_codes: None,
        links: None,
        sharing: None,
        today: today.parse::<Day>().unwrap(),
    }
}

/// One adult victim whose review is due on 2090-02-01.
fn people_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("people.csv");
    std::fs::write(
        &path,
        "ref,birth_year,categories,review_due\nP0a1b2c3e,1990,victim,2090-02-01\n",
    )
    .unwrap();
    path
}

/// The events of the audit log in `dir`.
fn events(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join(crate::safeguards::audit::AUDIT_FILE_NAME))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].clone())
        .collect()
}

#[test]
fn review_periods_are_counted_from_the_options_today_not_the_machines_date() {
    let dir = tempfile::tempdir().unwrap();
    let file = people_file(dir.path());
    let mut store = SqliteStore::open(dir.path()).unwrap();
    // A month ahead of the options' day: within S18's 183 days for an adult.
    let near = import_file(
        &mut store,
        ImportKind::People,
        &file,
        &options("2090-01-01"),
    )
    .unwrap();
    assert_eq!((near.outcome, near.stored), (ImportOutcome::Stored, 1));
    // Years ahead of this day: refused, naming the field.
    let other = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(other.path()).unwrap();
    let far = import_file(
        &mut store,
        ImportKind::People,
        &file,
        &options("2026-01-01"),
    )
    .unwrap();
    assert_eq!(far.outcome, ImportOutcome::Refused);
    assert_eq!(far.rejections[0].field, "review_due");
}

#[test]
fn the_importer_writes_the_collection_record_of_a_people_file_itself() {
    let dir = tempfile::tempdir().unwrap();
    let file = people_file(dir.path());
    let mut store = SqliteStore::open(dir.path()).unwrap();
    let audit_dir = dir.path().join("audit");
    let log = AuditLog::open(&audit_dir).unwrap();
    let opts = options("2090-01-01");
    let mut importer = Importer::new(&mut store, ImportKind::People, &opts, Some(&log));
    let summary = importer.file(&file).unwrap();
    assert_eq!(summary.stored, 1);
    let events = events(&audit_dir);
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(
        (&e["event_type"], &e["decision"], &e["actor_role"]),
        (
            &serde_json::json!("collection"),
            &serde_json::json!("allow"),
            &serde_json::json!("importer")
        ),
        "{e}"
    );
    assert_eq!(e["subject_ids"], serde_json::json!(["P0a1b2c3e"]));
    assert_eq!(e["query"]["file_sha256"], serde_json::json!(summary.sha256));
}

#[test]
fn the_importer_audits_a_people_file_that_fails_outright_as_a_denied_collection() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
    let audit_dir = dir.path().join("audit");
    let log = AuditLog::open(&audit_dir).unwrap();
    let opts = options("2090-01-01");
    let mut importer = Importer::new(&mut store, ImportKind::People, &opts, Some(&log));
    let missing = dir.path().join("absent.csv");
    assert!(matches!(
        importer.file(&missing),
        Err(ImportError::Read { .. })
    ));
    let events = events(&audit_dir);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["decision"], serde_json::json!("deny"));
    assert_eq!(events[0]["deny_reason"], serde_json::json!("IMPORT_FAILED"));
}

#[test]
fn other_kinds_write_no_audit_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
    let audit_dir = dir.path().join("audit");
    let log = AuditLog::open(&audit_dir).unwrap();
    let opts = options("2090-01-01");
    let street =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/police/street_slice_lf.csv");
    let mut importer = Importer::new(&mut store, ImportKind::PoliceStreet, &opts, Some(&log));
    assert!(importer.file(&street).unwrap().stored > 0);
    let log_file = audit_dir.join(crate::safeguards::audit::AUDIT_FILE_NAME);
    assert!(
        std::fs::read_to_string(&log_file)
            .unwrap_or_default()
            .is_empty(),
        "nothing is person-level"
    );
}

#[test]
fn the_outcome_prints_and_serialises_as_the_summaries_always_did_and_only_refusal_fails() {
    for (outcome, code, fails) in [
        (ImportOutcome::Stored, "stored", false),
        (ImportOutcome::Refused, "refused", true),
        (ImportOutcome::DryRun, "dry-run", false),
    ] {
        assert_eq!(outcome.to_string(), code);
        assert_eq!(
            serde_json::to_value(outcome).unwrap(),
            serde_json::json!(code)
        );
        assert_eq!(outcome.is_failure(), fails, "{code}");
    }
    assert!(ImportKind::People.is_person_level() && ImportKind::Links.is_person_level());
    assert!(!ImportKind::Incidents.is_person_level());
}
