//! Tests of the signed checkpoints and the witness (safeguards.md S17; issue 12 point 4): each
//! kind of tampering the review found verifying as "intact" (a chain recomputed after deleting
//! one user's records, truncation, an emptied and a deleted log) is named by `verify_with`.

use std::os::unix::fs::PermissionsExt;

use ed25519_dalek::Verifier;
use serde_json::json;
use tempfile::TempDir;

use super::*;
use crate::safeguards::audit_checkpoint::{
    CHECKPOINT_DOMAIN, WITNESS_FILE_NAME, load_or_create_key, public_key_path, trusted_public_key,
};

/// A log directory, a key outside it and a witness directory apart from both.
struct Setup {
    root: TempDir,
    key: SigningKey,
}

impl Setup {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let key = load_or_create_key(&root.path().join("keys/audit.key")).unwrap();
        Self { root, key }
    }

    fn audit_dir(&self) -> PathBuf {
        self.root.path().join("data/audit")
    }

    fn witness_dir(&self) -> PathBuf {
        self.root.path().join("witness")
    }

    fn path(&self) -> PathBuf {
        self.audit_dir().join(AUDIT_FILE_NAME)
    }

    fn options(&self, every: u64, interval: Duration) -> CheckpointOptions {
        CheckpointOptions {
            key: self.key.clone(),
            witness_dir: self.witness_dir(),
            every,
            interval,
        }
    }

    /// A log signing every `every` records (the interval never elapses in a test).
    fn open(&self, every: u64) -> AuditLog {
        AuditLog::open_with(
            &self.audit_dir(),
            Some(self.options(every, Duration::from_hours(1))),
        )
        .unwrap()
    }

    fn verify_options(&self) -> VerifyOptions {
        VerifyOptions {
            trusted_key: Some(self.key.verifying_key()),
            witness_dir: Some(self.witness_dir()),
            head: None,
        }
    }

    fn verify(&self) -> Result<VerifyReport, VerifyFailure> {
        verify_with(&self.path(), &self.verify_options())
    }

    fn lines(&self) -> Vec<String> {
        fs::read_to_string(self.path())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn write_lines(&self, lines: &[String]) {
        fs::write(
            self.path(),
            lines.iter().fold(String::new(), |acc, l| acc + l + "\n"),
        )
        .unwrap();
    }

    fn witness(&self) -> Checkpoint {
        read_witness(&self.witness_dir()).unwrap().unwrap()
    }
}

/// An event by `user`.
fn event_by(user: &str, i: u64) -> AuditEvent {
    let mut e = AuditEvent::new(
        AuditEventType::Consultation,
        "police_analyst",
        Decision::Allow,
    );
    e.actor_user_id = Some(user.to_owned());
    e.subject_ids = vec![format!("P{i:08x}")];
    e.query = json!({"route": "/api/v1/people/{id}", "i": i});
    e.policy_version = "2026-01".to_owned();
    e
}

fn user_of(i: u64) -> &'static str {
    ["alice", "bob", "carol"][(i % 3) as usize]
}

/// A log of `n` records by three users, signed every 5, closed cleanly (so the last records are
/// signed too).
fn signed_log(n: u64) -> Setup {
    let setup = Setup::new();
    let log = setup.open(5);
    for i in 0..n {
        log.append(event_by(user_of(i), i)).unwrap();
    }
    drop(log);
    setup
}

fn event_of(line: &str) -> Value {
    serde_json::from_str::<Value>(line).unwrap()["event"].clone()
}

/// What an attacker with write access to the file (but not the key) can do: rebuild the chain
/// over `events` with every hash recomputed.
fn recompute(events: &[Value]) -> Vec<String> {
    let mut prev = GENESIS_HASH.to_owned();
    events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let seq = i as u64 + 1;
            let canonical = canonical_json(event);
            let hash = entry_hash(&prev, seq, &canonical);
            let line = render_line(seq, &prev, &canonical, &hash);
            prev = hash;
            line.trim_end().to_owned()
        })
        .collect()
}

fn failure(setup: &Setup) -> VerifyFailure {
    match setup.verify() {
        Ok(r) => panic!("tampered log verified: {} entries", r.entries),
        Err(f) => f,
    }
}

#[test]
fn a_checkpoint_follows_every_n_records_and_the_log_verifies_against_key_and_witness() {
    let setup = Setup::new();
    let log = setup.open(5);
    for i in 0..12 {
        log.append(event_by("alice", i)).unwrap();
    }

    let report = setup.verify().unwrap();

    // 5 records, checkpoint 6, 5 records, checkpoint 12, 2 records.
    assert_eq!(report.entries, 14);
    assert_eq!(report.checkpoints, 2);
    assert_eq!(report.unsigned_entries, 2);
    assert!(report.key_trusted);
    let last = report.last_checkpoint.unwrap();
    assert_eq!((last.seq, last.count), (12, 11));
    assert_eq!(setup.witness(), last);
    assert_eq!(log.last_checkpoint(), Some(last));
    // Reads return the records only.
    let read = log.read(&AuditFilter::default(), usize::MAX).unwrap();
    assert_eq!(read.len(), 12);
    assert!(!read.iter().any(|e| e.seq == 6 || e.seq == 12));
}

#[test]
fn closing_the_log_signs_what_is_not_yet_signed_and_opening_signs_what_a_crash_left() {
    let setup = Setup::new();
    let log = setup.open(1000);
    log.append(event_by("alice", 1)).unwrap();
    log.append(event_by("alice", 2)).unwrap();
    drop(log);
    assert_eq!(setup.witness().seq, 3);
    assert_eq!(setup.verify().unwrap().unsigned_entries, 0);

    // A writer without checkpoints stands for a process that crashed before signing.
    let crashed = AuditLog::open(&setup.audit_dir()).unwrap();
    crashed.append(event_by("bob", 3)).unwrap();
    drop(crashed);
    let reopened = setup.open(1000);

    assert_eq!(reopened.last_checkpoint().unwrap().seq, 5);
    assert_eq!(setup.witness().seq, 5);
    assert_eq!(setup.verify().unwrap().entries, 5);
    // Nothing new: no second checkpoint on close.
    drop(reopened);
    assert_eq!(setup.lines().len(), 5);
}

#[test]
fn an_elapsed_interval_makes_a_checkpoint_due_and_a_fresh_one_does_not() {
    let setup = Setup::new();
    let slow = AuditLog::open_with(
        &setup.audit_dir(),
        Some(setup.options(1000, Duration::from_hours(1))),
    )
    .unwrap();
    slow.append(event_by("alice", 1)).unwrap();
    assert_eq!(slow.checkpoint_if_due().unwrap(), None);
    drop(slow);
    let due = AuditLog::open_with(
        &setup.audit_dir(),
        Some(setup.options(1000, Duration::ZERO)),
    )
    .unwrap();
    due.append(event_by("alice", 2)).unwrap();

    // With a zero interval the record is signed as soon as it is written.
    assert_eq!(due.last_checkpoint().unwrap().seq, 4);
    assert_eq!(due.checkpoint_if_due().unwrap(), None);
}

#[test]
fn the_checkpoint_line_and_its_signature_are_in_the_documented_form() {
    let setup = signed_log(5);
    let lines = setup.lines();
    let cp_line: Value = serde_json::from_str(&lines[5]).unwrap();
    let event = &cp_line["event"];
    assert_eq!(event["event_type"], "checkpoint");
    assert_eq!(event.as_object().unwrap().len(), 2);
    let cp = &event["checkpoint"];
    assert_eq!(cp["seq"], 6);
    assert_eq!(cp["count"], 5);
    assert_eq!(cp["head_hash"], cp_line["prev_hash"]);
    // An external verifier rebuilds the message from the fields and checks it with the
    // public key in `<key file>.pub`.
    let message = format!(
        "{CHECKPOINT_DOMAIN}\n6\n5\n{}\n{}",
        cp["head_hash"].as_str().unwrap(),
        cp["ts_utc"].as_str().unwrap()
    );
    assert!(message.starts_with("saferplaces-audit-checkpoint-v1\n"));
    let pub_hex =
        fs::read_to_string(public_key_path(&setup.root.path().join("keys/audit.key"))).unwrap();
    assert_eq!(pub_hex.trim(), cp["public_key"]);
    let key = crate::safeguards::audit_checkpoint::parse_public_key(&pub_hex).unwrap();
    let sig_hex = cp["signature"].as_str().unwrap();
    let sig: Vec<u8> = (0..128)
        .step_by(2)
        .map(|i| u8::from_str_radix(&sig_hex[i..i + 2], 16).unwrap())
        .collect();
    let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
    assert!(key.verify(message.as_bytes(), &sig).is_ok());
    assert!(key.verify(b"something else", &sig).is_err());
    // Old records keep their format: the first line is an ordinary entry from genesis.
    assert_eq!(
        serde_json::from_str::<Value>(&lines[0]).unwrap()["prev_hash"],
        GENESIS_HASH
    );
}

#[test]
fn an_edited_record_is_named_at_its_line() {
    let setup = signed_log(12);
    let mut lines = setup.lines();
    // Line 4 is record 3, by alice.
    lines[3] = lines[3].replacen("alice", "mallory", 1);
    setup.write_lines(&lines);

    let f = failure(&setup);

    assert_eq!((f.kind, f.line), (FailureKind::Chain, 4), "{f}");
    assert_eq!(f.reason, "hash mismatch");
}

#[test]
fn a_deleted_record_is_named_at_the_gap() {
    let setup = signed_log(12);
    let mut lines = setup.lines();
    lines.remove(7);
    setup.write_lines(&lines);

    let f = failure(&setup);

    assert_eq!((f.kind, f.line), (FailureKind::Chain, 8), "{f}");
}

/// The review's attack: delete every record of one user and recompute the chain; checkpoint
/// lines are kept with their seq and count moved to their new places (the signed `head_hash`
/// cannot be fixed without the key).
fn without_bob(lines: &[String]) -> Vec<Value> {
    let mut events: Vec<Value> = lines
        .iter()
        .map(|l| event_of(l))
        .filter(|e| e["actor_user_id"] != "bob")
        .collect();
    for (i, e) in events.iter_mut().enumerate() {
        if e["event_type"] == "checkpoint" {
            e["checkpoint"]["seq"] = json!(i + 1);
            e["checkpoint"]["count"] = json!(i);
        }
    }
    events
}

#[test]
fn a_chain_recomputed_after_deleting_one_users_records_fails_at_the_first_checkpoint() {
    let setup = signed_log(12);
    let rewritten = recompute(&without_bob(&setup.lines()));
    assert!(
        verify_bytes_chain_only(&rewritten),
        "the chain alone is fooled"
    );
    setup.write_lines(&rewritten);

    let f = failure(&setup);

    // Records 0..5 lose bob's 1 and 4: the first checkpoint moves from line 6 to line 4.
    assert_eq!((f.kind, f.line), (FailureKind::Checkpoint, 4), "{f}");
    assert!(f.reason.contains("chain recomputed"), "{f}");
}

#[test]
fn a_recomputed_chain_with_re_signed_or_dropped_checkpoints_is_still_caught() {
    let setup = signed_log(12);
    let lines = setup.lines();
    let trusted_head = setup.witness();

    // Checkpoints whose head_hash is patched to the new chain: the signature fails.
    let events = without_bob(&lines);
    let mut patched = recompute(&events);
    for _ in 0..3 {
        let mut events: Vec<Value> = patched.iter().map(|l| event_of(l)).collect();
        for (i, e) in events.iter_mut().enumerate() {
            if e["event_type"] == "checkpoint" {
                let prev: Value = if i == 0 {
                    json!(GENESIS_HASH)
                } else {
                    serde_json::from_str::<Value>(&patched[i - 1]).unwrap()["hash"].clone()
                };
                e["checkpoint"]["head_hash"] = prev;
                e["checkpoint"]["seq"] = json!(i + 1);
                e["checkpoint"]["count"] = json!(i);
            }
        }
        patched = recompute(&events);
    }
    setup.write_lines(&patched);
    let f = failure(&setup);
    assert_eq!(f.kind, FailureKind::Checkpoint, "{f}");
    assert!(f.reason.contains("signature does not verify"), "{f}");

    // Checkpoints re-signed with the attacker's own key: not the trusted key.
    let forger = SigningKey::from_bytes(&[7; 32]);
    let mut events: Vec<Value> = lines
        .iter()
        .map(|l| event_of(l))
        .filter(|e| e["actor_user_id"] != "bob" && e["event_type"] != "checkpoint")
        .collect();
    let head = recompute(&events);
    let last_hash = serde_json::from_str::<Value>(head.last().unwrap()).unwrap()["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let forged = Checkpoint::sign(
        &forger,
        head.len() as u64 + 1,
        &last_hash,
        "2026-01-01T00:00:00.000Z",
    );
    events.push(forged.to_event());
    setup.write_lines(&recompute(&events));
    let f = failure(&setup);
    assert_eq!(f.kind, FailureKind::Checkpoint, "{f}");
    assert!(f.reason.contains("instead of the trusted key"), "{f}");

    // Checkpoints dropped and the gap filled with invented records, so the file is as long as
    // before: the witness's line is not its checkpoint.
    let mut events: Vec<Value> = lines
        .iter()
        .map(|l| event_of(l))
        .filter(|e| e["event_type"] != "checkpoint")
        .map(|mut e| {
            if e["actor_user_id"] == "bob" {
                e["actor_user_id"] = json!("alice");
            }
            e
        })
        .collect();
    while (events.len() as u64) < trusted_head.seq {
        events.push(serde_json::to_value(event_by("alice", 99)).unwrap());
    }
    setup.write_lines(&recompute(&events));
    let f = failure(&setup);
    assert_eq!(
        (f.kind, f.line),
        (FailureKind::Rewritten, trusted_head.seq),
        "{f}"
    );

    // Checkpoints dropped, nothing added: shorter than the witness.
    let events: Vec<Value> = without_bob(&lines)
        .into_iter()
        .filter(|e| e["event_type"] != "checkpoint")
        .collect();
    setup.write_lines(&recompute(&events));
    assert_eq!(failure(&setup).kind, FailureKind::Truncated);
}

/// Whether the lines pass the chain checks alone (no key, no witness): what `audit verify`
/// did before checkpoints, minus the checkpoint lines' own checks.
fn verify_bytes_chain_only(lines: &[String]) -> bool {
    let bytes = lines.iter().fold(String::new(), |acc, l| acc + l + "\n");
    let mut reader = io::Cursor::new(bytes.into_bytes());
    let mut buf = Vec::new();
    let mut prev = GENESIS_HASH.to_owned();
    let mut n = 0;
    while let Ok(LineRead::Line { .. }) = read_line_limited(&mut reader, &mut buf) {
        n += 1;
        let Ok(entry) = parse_line(&buf) else {
            return false;
        };
        if entry.seq != n || entry.prev_hash != prev || check_entry(&entry, &buf).is_err() {
            return false;
        }
        prev = entry.hash;
    }
    true
}

#[test]
fn truncation_below_the_last_checkpoint_is_named_and_the_unsigned_tail_is_the_known_limit() {
    let setup = signed_log(12);
    let lines = setup.lines();
    assert_eq!(lines.len(), 15, "12 records and 3 checkpoints");

    setup.write_lines(&lines[..13]);
    let f = failure(&setup);
    assert_eq!((f.kind, f.line), (FailureKind::Truncated, 14), "{f}");
    assert!(f.reason.contains("holds 13 lines"), "{f}");
    assert!(f.reason.contains("checkpoint at line 15"), "{f}");
    setup.write_lines(&lines[..1]);
    assert_eq!(failure(&setup).kind, FailureKind::Truncated);
}

#[test]
fn records_after_the_last_checkpoint_can_be_cut_unseen_which_is_the_documented_limit() {
    let setup = Setup::new();
    let log = setup.open(5);
    for i in 0..7 {
        log.append(event_by("alice", i)).unwrap();
    }
    let lines = setup.lines();
    // Crash without a clean close: the two records after checkpoint 6 are unsigned.
    std::mem::forget(log);
    setup.write_lines(&lines[..6]);

    let report = setup.verify().unwrap();

    assert_eq!((report.entries, report.unsigned_entries), (6, 0));
}

#[test]
fn an_emptied_log_is_named() {
    let setup = signed_log(7);
    fs::write(setup.path(), b"").unwrap();

    let f = failure(&setup);

    assert_eq!((f.kind, f.line), (FailureKind::Emptied, 1), "{f}");
    assert!(f.to_string().starts_with("audit log emptied: "), "{f}");
}

#[test]
fn a_deleted_log_is_named_while_a_witness_exists() {
    let setup = signed_log(7);
    fs::remove_file(setup.path()).unwrap();

    let f = failure(&setup);

    assert_eq!(f.kind, FailureKind::Deleted, "{f}");
    assert!(f.to_string().starts_with("audit log deleted: "), "{f}");
    // Without a witness (none was ever written) a missing log is still an empty one.
    let fresh = Setup::new();
    assert_eq!(fresh.verify().unwrap().entries, 0);
}

#[test]
fn a_deleted_or_forged_witness_is_named() {
    let setup = signed_log(7);
    let witness = setup.witness_dir().join(WITNESS_FILE_NAME);
    let original = fs::read(&witness).unwrap();
    fs::remove_file(&witness).unwrap();
    let f = failure(&setup);
    assert_eq!(f.kind, FailureKind::Witness, "{f}");
    assert!(f.reason.contains("is missing"), "{f}");

    let mut forged: Checkpoint = serde_json::from_slice(&original).unwrap();
    forged.seq -= 1;
    forged.count -= 1;
    fs::write(&witness, serde_json::to_vec(&forged).unwrap()).unwrap();
    let f = failure(&setup);
    assert_eq!(f.kind, FailureKind::Witness, "{f}");
}

#[test]
fn opening_a_log_behind_or_off_its_witness_is_refused_so_the_evidence_is_not_overwritten() {
    let setup = signed_log(12);
    let lines = setup.lines();
    let reopen = || {
        AuditLog::open_with(
            &setup.audit_dir(),
            Some(setup.options(5, Duration::from_hours(1))),
        )
    };

    setup.write_lines(&lines[..10]);
    assert!(
        matches!(
            reopen(),
            Err(AuditError::BehindWitness {
                witness_seq: 15,
                file_lines: 10,
                ..
            })
        ),
        "truncated"
    );
    fs::remove_file(setup.path()).unwrap();
    assert!(
        matches!(
            reopen(),
            Err(AuditError::BehindWitness { file_lines: 0, .. })
        ),
        "deleted"
    );
    assert!(setup.path().exists(), "open created an empty file");
    assert!(matches!(
        setup.verify().unwrap_err().kind,
        FailureKind::Emptied
    ));
    // Same length, different last line: rewritten.
    let mut events: Vec<Value> = lines.iter().map(|l| event_of(l)).collect();
    events[14] = serde_json::to_value(event_by("alice", 1)).unwrap();
    setup.write_lines(&recompute(&events));
    assert!(matches!(
        reopen(),
        Err(AuditError::WitnessMismatch { seq: 15, .. })
    ));
    // The witness was never replaced by any of these.
    assert_eq!(setup.witness().seq, 15);
}

#[test]
fn a_kept_head_catches_a_log_and_witness_rolled_back_together() {
    let setup = signed_log(7);
    let head = setup.witness();
    let saved_log = fs::read(setup.path()).unwrap();
    let saved_witness = fs::read(setup.witness_dir().join(WITNESS_FILE_NAME)).unwrap();
    let log = setup.open(5);
    for i in 0..6 {
        log.append(event_by("bob", i)).unwrap();
    }
    drop(log);
    let kept = setup.witness();
    // Roll both back to the earlier state: consistent with each other, not with the kept head.
    fs::write(setup.path(), &saved_log).unwrap();
    fs::write(setup.witness_dir().join(WITNESS_FILE_NAME), &saved_witness).unwrap();
    assert_eq!(setup.verify().unwrap().witness, Some(head));

    let with_head = VerifyOptions {
        head: Some(kept.clone()),
        ..setup.verify_options()
    };
    let f = verify_with(&setup.path(), &with_head).unwrap_err();
    assert_eq!(f.kind, FailureKind::Truncated, "{f}");
    assert!(f.reason.contains("the kept head"), "{f}");

    // A kept head alone (no configured key) is its own trust anchor; a forged one is refused.
    let mut forged = kept;
    forged.head_hash = GENESIS_HASH.to_owned();
    let only_head = VerifyOptions {
        head: Some(forged),
        ..VerifyOptions::default()
    };
    assert_eq!(
        verify_with(&setup.path(), &only_head).unwrap_err().kind,
        FailureKind::Head
    );
}

#[test]
fn the_key_is_created_once_with_mode_0600_and_a_public_key_beside_it() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("k/audit.key");
    let keys: Vec<[u8; 32]> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || load_or_create_key(&path).unwrap().to_bytes())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "one key for all");

    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let key = load_or_create_key(&path).unwrap();
    assert_eq!(key.to_bytes(), keys[0]);
    assert_eq!(
        trusted_public_key(&path).unwrap(),
        Some(key.verifying_key())
    );
    // The .pub alone is enough to verify.
    fs::remove_file(&path).unwrap();
    assert_eq!(
        trusted_public_key(&path).unwrap(),
        Some(key.verifying_key())
    );

    let loose = root.path().join("loose.key");
    fs::write(&loose, format!("{}\n", hex(&[1; 32]))).unwrap();
    fs::set_permissions(&loose, fs::Permissions::from_mode(0o640)).unwrap();
    let err = load_or_create_key(&loose).unwrap_err();
    assert!(err.to_string().contains("group or others"), "{err}");
    let garbage = root.path().join("garbage.key");
    fs::write(&garbage, "not a key").unwrap();
    fs::set_permissions(&garbage, fs::Permissions::from_mode(0o600)).unwrap();
    assert!(load_or_create_key(&garbage).is_err());
}

/// Issue 14, point 5: a failure on the key file or the witness names what was being done, the
/// file and the operating system's cause.
#[test]
fn key_and_witness_failures_name_the_operation_the_file_and_the_cause() {
    use crate::safeguards::audit_checkpoint::{read_witness, write_witness};
    let root = TempDir::new().unwrap();
    let blocker = root.path().join("a-file");
    fs::write(&blocker, b"x").unwrap();
    let chain = |e: &dyn std::error::Error| {
        let mut text = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    };
    // A key file under a file.
    let key_path = blocker.join("audit.key");
    let text = chain(&load_or_create_key(&key_path).unwrap_err());
    assert!(text.starts_with("cannot read the audit key file"), "{text}");
    assert!(text.contains(&blocker.display().to_string()), "{text}");
    assert!(text.contains("Not a directory"), "{text}");
    // A witness directory that is a file.
    let key = SigningKey::from_bytes(&[7; 32]);
    let checkpoint = Checkpoint::sign(&key, 2, &"0".repeat(64), "2026-01-01T00:00:00.000Z");
    let text = chain(&write_witness(&blocker, &checkpoint).unwrap_err());
    assert!(text.starts_with("cannot write the audit witness"), "{text}");
    assert!(text.contains(&blocker.display().to_string()), "{text}");
    // A witness file that is a directory.
    let dir = root.path().join("w");
    fs::create_dir_all(dir.join(WITNESS_FILE_NAME)).unwrap();
    let text = chain(&read_witness(&dir).unwrap_err());
    assert!(text.starts_with("cannot read the audit witness"), "{text}");
    assert!(text.contains("Is a directory"), "{text}");
}
