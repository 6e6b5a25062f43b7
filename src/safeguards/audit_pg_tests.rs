//! The audit log in PostgreSQL (issue 16, point 5), on a throwaway cluster shared by the
//! tests of this module (a fresh database each). Each test returns early, saying why, when
//! PostgreSQL or PostGIS is not installed.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use postgres::error::SqlState;
use tempfile::TempDir;

use super::*;
use crate::store::postgres::test_cluster::PgCluster;

/// The cluster the running tests share: started by the first, stopped when the last that
/// holds it ends (a static would never stop it).
fn shared_cluster() -> Option<Arc<PgCluster>> {
    static SHARED: Mutex<Weak<PgCluster>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(cluster) = slot.upgrade() {
        return Some(cluster);
    }
    let cluster = Arc::new(PgCluster::start()?);
    *slot = Arc::downgrade(&cluster);
    Some(cluster)
}

/// A fresh, migrated database, a signing key and two witness directories (two servers).
struct Db {
    cluster: Arc<PgCluster>,
    name: String,
    root: TempDir,
    key: SigningKey,
}

impl Db {
    fn new() -> Option<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let cluster = shared_cluster()?;
        let name = format!("audit_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        cluster
            .client()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let db = Self {
            name,
            root: tempfile::tempdir().unwrap(),
            key: SigningKey::from_bytes(&[7; 32]),
            cluster,
        };
        crate::store::postgres::migrate(&db.url()).unwrap();
        Some(db)
    }

    /// The superuser's connection string.
    fn url(&self) -> String {
        self.cluster.url_as("postgres", &self.name)
    }

    /// A superuser connection.
    fn client(&self) -> postgres::Client {
        self.cluster.client_as("postgres", &self.name)
    }

    fn witness_dir(&self, server: usize) -> PathBuf {
        self.root.path().join(format!("witness-{server}"))
    }

    fn options(&self, server: usize, every: u64) -> CheckpointOptions {
        CheckpointOptions {
            key: self.key.clone(),
            witness_dir: self.witness_dir(server),
            every,
            interval: Duration::from_hours(1),
        }
    }

    /// Server `server`'s log, signing every `every` records.
    fn open(&self, server: usize, every: u64) -> AuditLog {
        AuditLog::open_database(&self.url(), Some(self.options(server, every))).unwrap()
    }

    /// `audit verify` with the trusted key and server `server`'s witness.
    fn verify(&self, server: usize) -> Result<VerifyReport, VerifyFailure> {
        verify_database_with(
            &self.url(),
            &VerifyOptions {
                trusted_key: Some(self.key.verifying_key()),
                witness_dir: Some(self.witness_dir(server)),
                head: None,
            },
        )
    }

    /// The rows' lines in `seq` order.
    fn lines(&self) -> Vec<String> {
        self.client()
            .query("SELECT line FROM audit.log ORDER BY seq", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// Runs `sql` as the superuser with the append-only triggers disabled, as a superuser
    /// bent on hiding something would.
    fn tamper(&self, sql: &str) {
        self.client()
            .batch_execute(&format!(
                "ALTER TABLE audit.log DISABLE TRIGGER USER; {sql}; \
                 ALTER TABLE audit.log ENABLE TRIGGER USER;"
            ))
            .unwrap();
    }
}

fn event(user: &str, i: u64) -> AuditEvent {
    let mut e = AuditEvent::new(
        AuditEventType::Consultation,
        "police_analyst",
        Decision::Allow,
    );
    e.actor_user_id = Some(user.to_owned());
    e.record_count = i;
    e
}

/// The SQLSTATE of a failed statement.
fn sqlstate(result: Result<u64, postgres::Error>) -> SqlState {
    result
        .expect_err("the statement should be refused")
        .code()
        .cloned()
        .expect("a server error")
}

#[test]
fn the_database_log_verifies_after_appends_and_checkpoints_and_its_rows_are_the_file() {
    let Some(db) = Db::new() else { return };
    let log = db.open(1, 3);
    assert!(log.in_database());
    for i in 0..10 {
        log.append(event("alice", i)).unwrap();
    }
    drop(log);
    let log = db.open(1, 3);
    let appended = log.append(event("bob", 10)).unwrap();
    assert_eq!(log.verify().unwrap().entries, appended.seq);
    drop(log);

    // 11 records, a checkpoint after every 3 and one at close: 3 + 1 + 1.
    let report = db.verify(1).unwrap();
    assert_eq!(report.entries, 16);
    assert_eq!(report.checkpoints, 5);
    assert_eq!(report.unsigned_entries, 0);
    assert!(report.key_trusted);
    assert_eq!(report.witness.as_ref().map(|w| w.seq), Some(16));

    // Byte for byte the file the log would be: the file verifier agrees.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(AUDIT_FILE_NAME);
    let mut file = db.lines().join("\n");
    file.push('\n');
    fs::write(&path, file).unwrap();
    let file_report = verify_with(
        &path,
        &VerifyOptions {
            trusted_key: Some(db.key.verifying_key()),
            witness_dir: Some(db.witness_dir(1)),
            head: None,
        },
    )
    .unwrap();
    assert_eq!(file_report, report);

    // Read, filtered and paged, as from the file.
    let log = db.open(1, 3);
    let all = log.read(&AuditFilter::default(), 100).unwrap();
    let counts: Vec<u64> = all.iter().map(|e| e.event.record_count).collect();
    assert_eq!(counts, (0..=10).collect::<Vec<_>>());
    let page = log
        .read(
            &AuditFilter {
                since_seq: all[4].seq,
                actor_user_id: Some("alice".to_owned()),
                ..AuditFilter::default()
            },
            2,
        )
        .unwrap();
    assert_eq!(page, all[5..7].to_vec());
}

#[test]
fn two_servers_appending_at_once_make_one_chain_with_every_record_once() {
    let Some(db) = Db::new() else { return };
    let (a, b) = (Arc::new(db.open(1, 7)), Arc::new(db.open(2, 7)));
    let start = Arc::new(std::sync::Barrier::new(2));
    let threads: Vec<_> = [(Arc::clone(&a), "a"), (Arc::clone(&b), "b")]
        .into_iter()
        .map(|(log, user)| {
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                (0..60)
                    .map(|i| log.append(event(user, i)).unwrap().event.event_id)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let ids: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    drop((a, b));

    // Each server's witness is a checkpoint of the one chain.
    let report = db.verify(1).unwrap();
    db.verify(2).unwrap();
    let log = db.open(1, 7);
    let entries = log.read(&AuditFilter::default(), 1000).unwrap();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for e in &entries {
        *seen.entry(e.event.event_id.clone()).or_default() += 1;
    }
    assert_eq!(entries.len(), 120);
    assert!(ids.iter().all(|id| seen.get(id) == Some(&1)), "{seen:?}");
    assert_eq!(report.entries, 120 + report.checkpoints);
}

#[test]
fn the_application_role_can_append_but_not_update_delete_or_truncate_and_gis_cannot_read() {
    let Some(db) = Db::new() else { return };
    let (app, gis) = (format!("{}_app", db.name), format!("{}_gis", db.name));
    db.client()
        .batch_execute(&format!(
            "CREATE ROLE {app} LOGIN IN ROLE saferplaces_app; \
             CREATE ROLE {gis} LOGIN IN ROLE saferplaces_gis;"
        ))
        .unwrap();
    // The server's login role appends, signs and reads.
    let log = AuditLog::open_database(&db.cluster.url_as(&app, &db.name), Some(db.options(1, 2)))
        .unwrap();
    for i in 0..5 {
        log.append(event("alice", i)).unwrap();
    }
    assert_eq!(log.read(&AuditFilter::default(), 10).unwrap().len(), 5);
    drop(log);

    let mut as_app = db.cluster.client_as(&app, &db.name);
    for sql in [
        "UPDATE audit.log SET line = line || ' ' WHERE seq = 1",
        "DELETE FROM audit.log WHERE seq = (SELECT max(seq) FROM audit.log)",
        "TRUNCATE audit.log",
    ] {
        assert_eq!(
            sqlstate(as_app.execute(sql, &[])),
            SqlState::INSUFFICIENT_PRIVILEGE,
            "{sql}"
        );
    }
    let mut as_gis = db.cluster.client_as(&gis, &db.name);
    assert_eq!(
        sqlstate(as_gis.execute("SELECT count(*) FROM audit.log", &[])),
        SqlState::INSUFFICIENT_PRIVILEGE
    );
    assert_eq!(db.verify(1).unwrap().entries, 8);
}

#[test]
fn a_superusers_update_delete_and_truncate_are_refused_by_the_triggers() {
    let Some(db) = Db::new() else { return };
    let log = db.open(1, 2);
    for i in 0..4 {
        log.append(event("alice", i)).unwrap();
    }
    drop(log);
    let before = db.lines();
    let mut su = db.client();
    for sql in [
        "UPDATE audit.log SET line = line || ' ' WHERE seq = 1",
        "DELETE FROM audit.log WHERE seq = 6",
        "TRUNCATE audit.log",
    ] {
        assert_eq!(
            sqlstate(su.execute(sql, &[])),
            SqlState::RESTRICT_VIOLATION,
            "{sql}"
        );
    }
    assert_eq!(db.lines(), before);
    db.verify(1).unwrap();
}

#[test]
fn a_superuser_who_disables_the_triggers_and_deletes_the_last_rows_is_caught() {
    let Some(db) = Db::new() else { return };
    let log = db.open(1, 3);
    for i in 0..9 {
        log.append(event("alice", i)).unwrap();
    }
    // Rows 1-12: the last is a checkpoint, in the witness.
    assert_eq!(log.head().0, 12);
    db.tamper("DELETE FROM audit.log WHERE seq > 10");
    let failure = db.verify(1).unwrap_err();
    assert_eq!(failure.kind, FailureKind::Truncated, "{failure}");
    // The running writer notices its last row gone and refuses to continue the chain.
    let refused = log.append(event("alice", 9)).unwrap_err();
    assert!(matches!(refused, AuditError::Unusable { .. }), "{refused}");
    drop(log);
    // A new writer refuses to chain on behind its witness.
    let reopened = AuditLog::open_database(&db.url(), Some(db.options(1, 3))).unwrap_err();
    assert!(
        matches!(reopened, AuditError::BehindWitness { .. }),
        "{reopened}"
    );

    db.tamper("TRUNCATE audit.log");
    assert_eq!(db.verify(1).unwrap_err().kind, FailureKind::Emptied);
    db.client().batch_execute("DROP TABLE audit.log").unwrap();
    assert_eq!(db.verify(1).unwrap_err().kind, FailureKind::Deleted);
}

#[test]
fn a_superuser_who_disables_the_triggers_and_edits_or_rewrites_rows_is_caught() {
    let Some(db) = Db::new() else { return };
    let log = db.open(1, 3);
    for i in 0..6 {
        log.append(event(if i % 2 == 0 { "alice" } else { "bob" }, i))
            .unwrap();
    }
    drop(log);
    let original = db.lines();

    // One byte of one record.
    db.tamper("UPDATE audit.log SET line = replace(line, '\"bob\"', '\"eve\"') WHERE seq = 2");
    let failure = db.verify(1).unwrap_err();
    assert_eq!(
        (failure.kind, failure.line),
        (FailureKind::Chain, 2),
        "{failure}"
    );

    // A row deleted in the middle.
    restore(&db, &original);
    db.tamper("DELETE FROM audit.log WHERE seq = 2");
    let failure = db.verify(1).unwrap_err();
    assert_eq!(
        (failure.kind, failure.line),
        (FailureKind::Chain, 2),
        "{failure}"
    );

    // Bob's records deleted and the chain recomputed over the rest, checkpoints kept: the
    // first signed head no longer matches.
    let mut events: Vec<Value> = original
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .collect();
    events.retain(|e| e["actor_user_id"] != "bob");
    let mut prev = GENESIS_HASH.to_owned();
    let rewritten: Vec<String> = events
        .iter()
        .zip(1_u64..)
        .map(|(e, seq)| {
            let canonical = canonical_json(e);
            let hash = entry_hash(&prev, seq, &canonical);
            let line = render_line(seq, &prev, &canonical, &hash);
            prev = hash;
            line.trim_end().to_owned()
        })
        .collect();
    restore(&db, &rewritten);
    let failure = db.verify(1).unwrap_err();
    assert_eq!(failure.kind, FailureKind::Checkpoint, "{failure}");
}

#[test]
fn a_server_refuses_to_open_a_log_rewritten_under_its_witness_rather_than_sign_it() {
    let Some(db) = Db::new() else { return };
    // Server 1 signs rows 1-4 (its witness: row 4); server 2 appends and signs rows 5-9.
    let one = db.open(1, 3);
    for i in 0..3 {
        one.append(event("alice", i)).unwrap();
    }
    drop(one);
    let two = db.open(2, 100);
    for i in 3..7 {
        two.append(event(if i == 4 { "bob" } else { "alice" }, i))
            .unwrap();
    }
    drop(two);
    assert_eq!(db.lines().len(), 9);
    // The records kept, bob's dropped, the checkpoints dropped and the chain recomputed.
    let mut prev = GENESIS_HASH.to_owned();
    let rewritten: Vec<String> = db
        .lines()
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .filter(|e| e["event_type"] != "checkpoint" && e["actor_user_id"] != "bob")
        .zip(1_u64..)
        .map(|(e, seq)| {
            let canonical = canonical_json(&e);
            let hash = entry_hash(&prev, seq, &canonical);
            let line = render_line(seq, &prev, &canonical, &hash);
            prev = hash;
            line.trim_end().to_owned()
        })
        .collect();
    restore(&db, &rewritten);
    // Row 4 is no longer server 1's checkpoint: it refuses, and signs nothing.
    let refused = AuditLog::open_database(&db.url(), Some(db.options(1, 3))).unwrap_err();
    assert!(
        matches!(refused, AuditError::WitnessMismatch { seq: 4, .. }),
        "{refused}"
    );
    assert_eq!(db.lines(), rewritten);
    assert_eq!(db.verify(1).unwrap_err().kind, FailureKind::Rewritten);
}

/// Replaces every row with `lines` (triggers disabled).
fn restore(db: &Db, lines: &[String]) {
    db.tamper("DELETE FROM audit.log");
    let mut client = db.client();
    for (seq, line) in (1_i64..).zip(lines) {
        client
            .execute(
                "INSERT INTO audit.log (seq, line) VALUES ($1, $2)",
                &[&seq, line],
            )
            .unwrap();
    }
}
