//! `saferplaces audit verify` and `audit head` on the audit log kept in PostgreSQL (issue 16,
//! point 5): with `SAFERPLACES_DATABASE_URL` set they read the table `audit.log`, not the
//! file. Skips, saying why, when PostgreSQL or PostGIS is not installed.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use saferplaces::safeguards::audit::{
    AuditEvent, AuditEventType, AuditLog, CheckpointOptions, Decision,
};
use saferplaces::safeguards::audit_checkpoint::load_or_create_key;

use crate::pg_cluster::PgCluster;

/// `saferplaces audit <args>` on the database `url`, with the key and witness under `root`.
fn audit_cli(root: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .arg("audit")
        .args(args)
        .arg("--data-dir")
        .arg(root.join("data"))
        .env("SAFERPLACES_DATABASE_URL", url)
        .env("SAFERPLACES_AUDIT_KEY_FILE", root.join("keys/audit.key"))
        .env("SAFERPLACES_AUDIT_WITNESS_DIR", root.join("witness"))
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn audit_verify_and_head_with_the_url_read_the_log_in_the_database() {
    let Some(pg) = PgCluster::start() else { return };
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    std::fs::create_dir_all(root.join("data")).unwrap();
    let url = pg.url();
    saferplaces::store::postgres::migrate(&url).unwrap();
    // A server's records, signed every 4 and at close, with the key and witness the CLI uses.
    let log = AuditLog::open_database(
        &url,
        Some(CheckpointOptions {
            key: load_or_create_key(&root.join("keys/audit.key")).unwrap(),
            witness_dir: root.join("witness"),
            every: 4,
            interval: Duration::from_hours(1),
        }),
    )
    .unwrap();
    for _ in 0..6 {
        let event = AuditEvent::new(
            AuditEventType::Consultation,
            "police_analyst",
            Decision::Allow,
        );
        log.append(event).unwrap();
    }
    drop(log);
    let rows: i64 = pg
        .client()
        .query_one("SELECT count(*) FROM audit.log", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 8);

    let out = audit_cli(root, &url, &["verify"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).starts_with(
            "audit log intact: 8 entries, 2 signed checkpoints, the last at line 8 made at "
        ),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("witness at line 8 matches"));

    let out = audit_cli(root, &url, &["head"]);
    assert!(out.status.success(), "{out:?}");
    let head: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(head["seq"], 8);
    let head_file = root.join("head.json");
    std::fs::write(&head_file, &out.stdout).unwrap();
    let out = audit_cli(
        root,
        &url,
        &["verify", "--head", head_file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{out:?}");
    // Nothing went to a file log.
    assert!(!root.join("data/audit/audit.jsonl").exists());

    // A superuser disables the triggers and deletes the last rows: named, exit 2.
    pg.client()
        .batch_execute(
            "ALTER TABLE audit.log DISABLE TRIGGER USER; DELETE FROM audit.log WHERE seq > 6; \
             ALTER TABLE audit.log ENABLE TRIGGER USER;",
        )
        .unwrap();
    let out = audit_cli(root, &url, &["verify"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stdout(&out).starts_with("audit log truncated: the file holds 6 lines"),
        "{}",
        stdout(&out)
    );
}
