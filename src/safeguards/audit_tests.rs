//! Tests of the audit log (safeguards.md S16, S17): the chain, its verification against every
//! kind of tampering, concurrency, erasure records and filtered reads.

use std::io::Cursor;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use serde_json::json;
use tempfile::TempDir;

use super::*;

/// A varied event: every type, both decisions, anonymous and named actors, a query with floats
/// and characters that need escaping.
fn sample_event(i: u64) -> AuditEvent {
    let event_type = AuditEventType::ALL[(i % 7) as usize];
    let role = ["police_analyst", "public", "auditor"][(i % 3) as usize];
    let decision = if i.is_multiple_of(5) {
        Decision::Deny
    } else {
        Decision::Allow
    };
    let mut e = AuditEvent::new(event_type, role, decision);
    e.actor_user_id = (i % 3 != 1).then(|| format!("user-{}", i % 4));
    e.actor_org = Some("avon-and-somerset-police".to_owned());
    e.purpose_code = Some("safeguarding_children".to_owned());
    e.case_ref = Some(format!("CASE-{i}"));
    e.justification_text = Some(format!("strategy meeting \"{i}\" \\ é\u{1}\n"));
    e.subject_ids = vec![format!("P{:08x}", i % 10)];
    e.subject_categories = vec!["victim".to_owned()];
    e.subject_is_child = Some(i.is_multiple_of(2));
    e.fields_returned = vec!["id".to_owned(), "review_due".to_owned()];
    e.query = json!({"layer": "incidents", "bbox": [-2.7, 51.4, -2.55, 51.5], "page": i});
    e.record_count = i;
    e.policy_version = "2026-01".to_owned();
    if decision == Decision::Deny {
        e.deny_reason = Some("PURPOSE_REQUIRED".to_owned());
    }
    e
}

/// A fresh log in a temporary directory holding `n` sample events.
fn log_with(n: u64) -> (TempDir, AuditLog) {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    for i in 1..=n {
        log.append(sample_event(i)).unwrap();
    }
    (dir, log)
}

fn file_bytes(log: &AuditLog) -> Vec<u8> {
    fs::read(log.path()).unwrap()
}

/// The lines of `bytes`, each with its line feed.
fn split_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn verify_bytes(bytes: &[u8]) -> Result<VerifyReport, VerifyFailure> {
    verify_reader(Cursor::new(bytes), None, &[])
}

fn failure_line(bytes: &[u8]) -> u64 {
    match verify_bytes(bytes) {
        Ok(report) => panic!("tampered log verified with {} entries", report.entries),
        Err(failure) => failure.line,
    }
}

/// The 1-based line holding byte `pos`.
fn line_of(bytes: &[u8], pos: usize) -> u64 {
    // One more than the number of line feeds before `pos`.
    bytes[..pos].split(|&b| b == b'\n').count() as u64
}

/// A small deterministic generator (splitmix64) for the seeded loops.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        crate::synthetic::rng::splitmix64(&mut self.0)
    }
}

#[test]
fn a_chain_of_a_thousand_appends_verifies_and_reports_the_last_hash() {
    let (_dir, log) = log_with(0);
    let mut last = None;
    for i in 1..=1000 {
        let entry = log.append(sample_event(i)).unwrap();
        assert_eq!(entry.seq, i);
        last = Some(entry);
    }
    let last = last.unwrap();

    let report = verify(log.path()).unwrap();

    assert_eq!(report.entries, 1000);
    assert_eq!(report.last_hash, last.hash);
    assert_eq!(log.head(), (1000, last.hash.clone()));
    assert_eq!(log.verify().unwrap(), report);
}

#[test]
fn the_genesis_value_is_the_documented_constant() {
    let computed = hex(Sha256::digest(GENESIS_PREIMAGE.as_bytes()).as_slice());
    assert_eq!(GENESIS_PREIMAGE, "saferplaces-audit-genesis-v1");
    assert_eq!(computed, GENESIS_HASH);

    let (_dir, log) = log_with(1);
    let first: Value = serde_json::from_slice(&file_bytes(&log)).unwrap();
    assert_eq!(first["prev_hash"], GENESIS_HASH);
    assert_eq!(first["seq"], 1);
}

#[test]
fn an_external_verifier_can_recompute_every_hash_from_the_raw_lines() {
    let (_dir, log) = log_with(5);
    let text = String::from_utf8(file_bytes(&log)).unwrap();
    let mut prev = GENESIS_HASH.to_owned();
    for (i, line) in text.lines().enumerate() {
        let seq = i + 1;
        let prefix = format!("{{\"seq\":{seq},\"prev_hash\":\"{prev}\",\"event\":");
        let event = line.strip_prefix(&prefix).unwrap();
        let (event, hash) = event.split_at(event.len() - r#","hash":""}"#.len() - 64);
        let hash = hash
            .strip_prefix(r#","hash":""#)
            .unwrap()
            .strip_suffix("\"}")
            .unwrap();
        let preimage = format!("{prev}\n{seq}\n{event}");
        let expected = hex(Sha256::digest(preimage.as_bytes()).as_slice());
        assert_eq!(hash, expected, "line {seq}");
        // The stored event text is its canonical form.
        let parsed: Value = serde_json::from_str(event).unwrap();
        assert_eq!(canonical_json(&parsed), event);
        prev = expected;
    }
    assert_eq!(prev, log.head().1);
}

#[test]
fn reopening_the_log_continues_the_chain() {
    let (dir, log) = log_with(3);
    let (seq, hash) = log.head();
    drop(log);

    let log = AuditLog::open(dir.path()).unwrap();
    assert_eq!(log.head(), (seq, hash.clone()));
    let entry = log.append(sample_event(4)).unwrap();

    assert_eq!(entry.seq, 4);
    let lines = split_lines(&file_bytes(&log));
    let fourth: Value = serde_json::from_slice(&lines[3]).unwrap();
    assert_eq!(fourth["prev_hash"], hash.as_str());
    assert_eq!(fourth["seq"], 4);
    assert_eq!(verify(log.path()).unwrap().entries, 4);
}

#[test]
fn reopening_a_log_broken_in_the_middle_still_chains_from_the_last_line() {
    let (dir, log) = log_with(4);
    let mut bytes = file_bytes(&log);
    drop(log);
    let pos = bytes.iter().position(|&b| b == b'\n').unwrap() + 30;
    bytes[pos] ^= 0x01;
    fs::write(dir.path().join(AUDIT_FILE_NAME), &bytes).unwrap();

    let log = AuditLog::open(dir.path()).unwrap();
    assert_eq!(log.append(sample_event(5)).unwrap().seq, 5);

    assert_eq!(verify(log.path()).unwrap_err().line, 2);
}

#[test]
fn flipping_any_byte_of_any_line_fails_verification_at_exactly_that_line() {
    let (_dir, log) = log_with(4);
    let bytes = file_bytes(&log);
    verify_bytes(&bytes).unwrap();
    let mut rng = SplitMix(0x5AFE_A0D1);
    for pos in 0..bytes.len() {
        let original = bytes[pos];
        let random = (rng.next() % 255) as u8 + 1;
        for replacement in [
            original ^ 0x01,
            original ^ 0x20,
            original ^ 0x80,
            original ^ random,
            b'\n',
            b' ',
            b'"',
            b'0',
        ] {
            if replacement == original {
                continue;
            }
            let mut tampered = bytes.clone();
            tampered[pos] = replacement;
            assert_eq!(
                failure_line(&tampered),
                line_of(&bytes, pos),
                "byte {pos} {original:#04x} -> {replacement:#04x}"
            );
        }
    }
}

/// A 40-entry log shared by the property tests.
fn forty_entry_log() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let (_dir, log) = log_with(40);
        file_bytes(&log)
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        rng_seed: RngSeed::Fixed(0x5AFE_9ACE),
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_flipped_byte_in_a_random_line_is_found_at_that_line(
        line in 0..40_usize,
        offset in any::<prop::sample::Index>(),
        mask in 1..=255_u8,
    ) {
        let bytes = forty_entry_log();
        let lines = split_lines(bytes);
        let start: usize = lines[..line].iter().map(Vec::len).sum();
        let pos = start + offset.index(lines[line].len());
        let mut tampered = bytes.to_vec();
        tampered[pos] ^= mask;

        let failure = verify_bytes(&tampered).unwrap_err();

        prop_assert_eq!(failure.line, line as u64 + 1);
    }

    #[test]
    fn verify_never_panics_on_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let _ = verify_bytes(&bytes);
    }

    #[test]
    fn verify_never_panics_on_spliced_fragments_of_a_real_log(
        cuts in proptest::collection::vec((any::<prop::sample::Index>(), 0..300_usize), 0..6),
    ) {
        let source = forty_entry_log();
        let mut bytes = Vec::new();
        for (start, len) in cuts {
            let start = start.index(source.len());
            bytes.extend_from_slice(&source[start..(start + len).min(source.len())]);
        }
        let _ = verify_bytes(&bytes);
    }
}

#[test]
fn deleting_a_line_fails_at_the_line_after_the_gap() {
    let (_dir, log) = log_with(10);
    let lines = split_lines(&file_bytes(&log));
    for deleted in [0, 4, 8] {
        let mut kept = lines.clone();
        kept.remove(deleted);

        let failure = verify_bytes(&kept.concat()).unwrap_err();

        assert_eq!(failure.line, deleted as u64 + 1);
        assert_eq!(failure.seq, Some(deleted as u64 + 2));
    }
}

#[test]
fn removing_lines_from_the_end_is_only_caught_against_a_recorded_head() {
    let (_dir, log) = log_with(10);
    let lines = split_lines(&file_bytes(&log));

    let report = verify_bytes(&lines[..9].concat()).unwrap();

    // The chain alone cannot see it (hence S17's signed checkpoints); the head can.
    assert_eq!(report.entries, 9);
    assert_ne!(report.last_hash, log.head().1);
}

#[test]
fn swapping_two_lines_fails_at_the_first_swapped_line() {
    let (_dir, log) = log_with(10);
    let lines = split_lines(&file_bytes(&log));
    for (a, b) in [(2, 6), (4, 5), (0, 9)] {
        let mut swapped = lines.clone();
        swapped.swap(a, b);

        assert_eq!(
            failure_line(&swapped.concat()),
            a as u64 + 1,
            "swap {a} {b}"
        );
    }
}

#[test]
fn truncating_the_last_line_midway_fails_at_that_line_and_open_refuses_to_chain_onto_it() {
    let (dir, log) = log_with(10);
    let bytes = file_bytes(&log);
    drop(log);
    let last_start = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    for cut in [
        last_start + 1,
        last_start + 40,
        bytes.len() - 30,
        bytes.len() - 1,
    ] {
        let truncated = &bytes[..cut];

        let failure = verify_bytes(truncated).unwrap_err();
        assert_eq!(failure.line, 10, "cut at {cut}");

        fs::write(dir.path().join(AUDIT_FILE_NAME), truncated).unwrap();
        let err = AuditLog::open(dir.path()).unwrap_err();
        assert!(matches!(err, AuditError::LastLineInvalid { .. }), "{err}");
    }
    // Only the line feed missing: a complete entry, but still an incomplete write.
    let failure = verify_bytes(&bytes[..bytes.len() - 1]).unwrap_err();
    assert_eq!(failure.seq, Some(10));
    assert!(failure.reason.contains("line feed"), "{failure}");
}

#[test]
fn a_forged_line_with_a_recomputed_hash_but_the_wrong_prev_hash_fails() {
    let (_dir, log) = log_with(10);
    let mut bytes = file_bytes(&log);
    let canonical = canonical_json(&serde_json::to_value(sample_event(11)).unwrap());
    let wrong_prev = entry_hash(GENESIS_HASH, 1, "{}");
    let hash = entry_hash(&wrong_prev, 11, &canonical);
    bytes.extend_from_slice(render_line(11, &wrong_prev, &canonical, &hash).as_bytes());

    let failure = verify_bytes(&bytes).unwrap_err();

    assert_eq!((failure.line, failure.seq), (11, Some(11)));
    assert_eq!(
        failure.to_string(),
        "audit log broken at line 11 (seq 11): prev_hash does not match the previous entry's hash"
    );
}

#[test]
fn an_inserted_line_fails_at_the_first_line_it_displaces() {
    let (_dir, log) = log_with(10);
    let lines = split_lines(&file_bytes(&log));
    // A perfect forgery of entry 5 (right seq, prev_hash and hash) inserted before the real one.
    let prev: Value = serde_json::from_slice(&lines[3]).unwrap();
    let prev_hash = prev["hash"].as_str().unwrap();
    let canonical = canonical_json(&serde_json::to_value(sample_event(99)).unwrap());
    let forged = render_line(
        5,
        prev_hash,
        &canonical,
        &entry_hash(prev_hash, 5, &canonical),
    );
    let mut tampered = lines.clone();
    tampered.insert(4, forged.into_bytes());

    let failure = verify_bytes(&tampered.concat()).unwrap_err();

    assert_eq!((failure.line, failure.seq), (6, Some(5)));
}

#[test]
fn a_duplicated_line_fails_at_the_copy() {
    let (_dir, log) = log_with(10);
    let mut lines = split_lines(&file_bytes(&log));
    lines.insert(5, lines[4].clone());

    let failure = verify_bytes(&lines.concat()).unwrap_err();

    assert_eq!((failure.line, failure.seq), (6, Some(5)));
}

#[test]
fn a_non_canonical_but_equivalent_line_fails() {
    let (_dir, log) = log_with(3);
    let lines = split_lines(&file_bytes(&log));
    let text = String::from_utf8(lines[1].clone()).unwrap();
    let spaced = text.replacen("\"seq\":2", "\"seq\": 2", 1);
    let tampered = [lines[0].clone(), spaced.into_bytes(), lines[2].clone()].concat();

    let failure = verify_bytes(&tampered).unwrap_err();

    assert_eq!(failure.line, 2);
    assert_eq!(failure.reason, "line is not in canonical form");
}

#[test]
fn an_empty_or_missing_file_verifies_with_no_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(AUDIT_FILE_NAME);
    let empty = VerifyReport::empty();

    assert_eq!(verify(&path).unwrap(), empty);
    fs::write(&path, b"").unwrap();
    assert_eq!(verify(&path).unwrap(), empty);
    assert_eq!(failure_line(b"\n"), 1);
}

#[test]
fn open_refuses_a_last_line_that_is_not_a_valid_entry() {
    let (dir, log) = log_with(3);
    let bytes = file_bytes(&log);
    drop(log);
    let path = dir.path().join(AUDIT_FILE_NAME);
    let mut flipped = bytes.clone();
    let at = flipped.len() - 10;
    flipped[at] ^= 0x01;
    for bad in [
        flipped,
        [bytes.as_slice(), b"not json\n"].concat(),
        [bytes.as_slice(), b"\n"].concat(),
    ] {
        fs::write(&path, &bad).unwrap();

        let err = AuditLog::open(dir.path()).unwrap_err();

        assert!(matches!(err, AuditError::LastLineInvalid { .. }), "{err}");
    }
}

#[test]
fn two_writers_on_the_same_file_interleave_into_one_continuous_chain() {
    // Two logs on one file stand for two processes (the flock is per open file): the server and
    // an import. Each re-reads the tail under the lock, so neither forks the chain.
    let (dir, first) = log_with(1);
    let second = AuditLog::open(dir.path()).unwrap();
    let mut seqs = Vec::new();
    for i in 0..20 {
        let log = if i % 3 == 0 { &second } else { &first };
        seqs.push(log.append(sample_event(i)).unwrap().seq);
    }

    assert_eq!(seqs, (2..=21).collect::<Vec<u64>>());
    let report = verify(first.path()).unwrap();
    assert_eq!(report.entries, 21);
    assert_eq!(report.last_hash, first.head().1);
    // The other writer catches up at its next append.
    assert_eq!(second.append(sample_event(99)).unwrap().seq, 22);
    assert_eq!(verify(first.path()).unwrap().last_hash, second.head().1);
}

#[test]
fn two_writers_appending_from_many_threads_at_once_never_fork_the_chain() {
    let (dir, first) = log_with(0);
    let logs = [
        Arc::new(first),
        Arc::new(AuditLog::open(dir.path()).unwrap()),
    ];
    let handles: Vec<_> = (0..6_u64)
        .map(|t| {
            let log = Arc::clone(&logs[(t % 2) as usize]);
            std::thread::spawn(move || {
                for i in 0..50 {
                    log.append(sample_event(t * 50 + i)).unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }

    let report = verify(logs[0].path()).unwrap();
    assert_eq!(report.entries, 300);
    let seqs: Vec<u64> = logs[0]
        .read(&AuditFilter::default(), usize::MAX)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, (1..=300).collect::<Vec<u64>>());
}

#[test]
fn a_writer_refuses_to_append_after_the_file_is_truncated_replaced_or_deleted_under_it() {
    for damage in ["truncate", "replace", "delete"] {
        let (dir, log) = log_with(3);
        let path = dir.path().join(AUDIT_FILE_NAME);
        let bytes = fs::read(&path).unwrap();
        match damage {
            "truncate" => {
                let keep = bytes.len() - split_lines(&bytes)[2].len();
                OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_len(keep as u64)
                    .unwrap();
            }
            "replace" => {
                let other = dir.path().join("other");
                fs::write(&other, &bytes).unwrap();
                fs::rename(&other, &path).unwrap();
            }
            _ => fs::remove_file(&path).unwrap(),
        }

        let err = log.append(sample_event(4)).unwrap_err();

        assert!(
            matches!(err, AuditError::Unusable { .. }),
            "{damage}: {err}"
        );
        assert!(
            matches!(
                log.append(sample_event(5)),
                Err(AuditError::Unusable { .. })
            ),
            "{damage}: stays unusable"
        );
    }
}

#[test]
fn eight_threads_appending_concurrently_give_a_valid_sequential_chain() {
    let (_dir, log) = log_with(0);
    let log = Arc::new(log);
    let handles: Vec<_> = (0..8_u64)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                (0..100)
                    .map(|i| log.append(sample_event(t * 100 + i)).unwrap().seq)
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for handle in handles {
        let mine = handle.join().unwrap();
        assert!(mine.windows(2).all(|w| w[0] < w[1]));
        seqs.extend(mine);
    }
    seqs.sort_unstable();

    assert_eq!(seqs, (1..=800).collect::<Vec<u64>>());
    let report = verify(log.path()).unwrap();
    assert_eq!(report.entries, 800);
    assert_eq!(report.last_hash, log.head().1);
}

#[test]
fn the_audit_log_is_send_and_sync() {
    fn shareable<T: Send + Sync>() {}
    shareable::<AuditLog>();
    shareable::<Arc<AuditLog>>();
}

#[test]
fn an_erasure_event_records_the_record_id_and_no_subject_content() {
    let event = AuditEvent::erasure("person", "P0a1b2c3d", Some("REVIEW-42".to_owned()));
    let (_dir, log) = log_with(0);
    log.append(event.clone()).unwrap();

    let json: Value = serde_json::from_slice(&file_bytes(&log)).unwrap();
    let stored = &json["event"];

    assert_eq!(stored["record_id"], "person:P0a1b2c3d");
    assert_eq!(stored["review_decision_ref"], "REVIEW-42");
    assert_eq!(stored["event_type"], "erasure");
    let keys: Vec<&str> = stored
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "actor_role",
            "decision",
            "event_id",
            "event_type",
            "fields_returned",
            "policy_version",
            "query",
            "record_count",
            "record_id",
            "review_decision_ref",
            "subject_categories",
            "subject_ids",
            "ts_utc",
        ]
    );
    assert_eq!(stored["subject_ids"], json!([]));
    assert_eq!(stored["subject_categories"], json!([]));
    assert_eq!(stored["fields_returned"], json!([]));
    assert_eq!(stored["query"], Value::Null);
    // The pseudonymous id appears once, as the record id, and nowhere else.
    let text = String::from_utf8(file_bytes(&log)).unwrap();
    assert_eq!(text.matches("P0a1b2c3d").count(), 1);
}

#[test]
fn unset_optional_fields_are_left_out_of_the_json() {
    let event = AuditEvent::new(AuditEventType::Consultation, "public", Decision::Deny);

    let json = serde_json::to_value(&event).unwrap();

    let object = json.as_object().unwrap();
    for absent in [
        "actor_user_id",
        "actor_org",
        "auth_token_id",
        "client",
        "purpose_code",
        "case_ref",
        "justification_text",
        "legal_basis",
        "subject_is_child",
        "deny_reason",
        "recipient_person",
        "recipient_org",
        "channel",
        "isa_ref",
        "handling_code",
        "artifact_hash",
        "watermark_id",
        "source_datasets",
        "record_id",
        "review_decision_ref",
    ] {
        assert!(!object.contains_key(absent), "{absent}");
    }
    assert_eq!(json["decision"], "deny");
    assert_eq!(json["event_type"], "consultation");
    assert_eq!(
        serde_json::to_value(AuditEventType::AuditRead).unwrap(),
        "audit_read"
    );
    let back: AuditEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, event);
}

#[test]
fn with_subject_records_each_id_and_category_once() {
    let id = PersonRef::new("P0a1b2c3d").unwrap();
    let event = AuditEvent::new(
        AuditEventType::Consultation,
        "police_analyst",
        Decision::Allow,
    )
    .with_subject(&id, &[SubjectCategory::Victim], false)
    .with_subject(
        &id,
        &[
            SubjectCategory::Victim,
            SubjectCategory::ChildAtRiskOfExploitation,
        ],
        true,
    );

    assert_eq!(event.subject_ids, ["P0a1b2c3d"]);
    assert_eq!(
        event.subject_categories,
        ["victim", "child_at_risk_of_exploitation"]
    );
    assert_eq!(event.subject_is_child, Some(true));
}

#[test]
fn filtered_reads_return_the_right_subset() {
    let (_dir, log) = log_with(60);
    let all = log.read(&AuditFilter::default(), usize::MAX).unwrap();
    assert_eq!(all.len(), 60);
    assert!(all.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
    assert_eq!(all[59].hash, log.head().1);

    let filters = [
        AuditFilter {
            event_type: Some(AuditEventType::Disclosure),
            ..AuditFilter::default()
        },
        AuditFilter {
            subject_id: Some("P00000003".to_owned()),
            ..AuditFilter::default()
        },
        AuditFilter {
            actor_user_id: Some("user-2".to_owned()),
            decision: Some(Decision::Allow),
            ..AuditFilter::default()
        },
        AuditFilter {
            since_seq: 45,
            decision: Some(Decision::Deny),
            ..AuditFilter::default()
        },
    ];
    for filter in &filters {
        let expected: Vec<&AuditEntry> = all
            .iter()
            .filter(|e| {
                e.seq > filter.since_seq
                    && filter.event_type.is_none_or(|t| t == e.event.event_type)
                    && filter
                        .subject_id
                        .as_ref()
                        .is_none_or(|s| e.event.subject_ids.contains(s))
                    && filter
                        .actor_user_id
                        .as_ref()
                        .is_none_or(|u| e.event.actor_user_id.as_ref() == Some(u))
                    && filter.decision.is_none_or(|d| d == e.event.decision)
            })
            .collect();
        assert!(!expected.is_empty(), "{filter:?}");

        let got = log.read(filter, usize::MAX).unwrap();

        assert_eq!(got.iter().collect::<Vec<_>>(), expected, "{filter:?}");
    }
    // Spot checks that do not depend on the reference filter above.
    let denied = log
        .read(
            &AuditFilter {
                decision: Some(Decision::Deny),
                ..AuditFilter::default()
            },
            usize::MAX,
        )
        .unwrap();
    assert_eq!(
        denied.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60]
    );
}

#[test]
fn reads_page_forward_with_since_seq_and_limit() {
    let (_dir, log) = log_with(25);
    let mut seen = Vec::new();
    let mut filter = AuditFilter::default();
    loop {
        let page = log.read(&filter, 10).unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 10);
        filter.since_seq = page[page.len() - 1].seq;
        seen.extend(page.into_iter().map(|e| e.seq));
    }

    assert_eq!(seen, (1..=25).collect::<Vec<u64>>());
    assert!(log.read(&AuditFilter::default(), 0).unwrap().is_empty());
}

#[test]
fn canonical_json_sorts_keys_at_every_level_and_matches_serde_json() {
    let value = json!({
        "b": [3, {"z": 1, "a": -2.5e-300}, null, true, false],
        "a": "quote \" backslash \\ controls \u{0}\u{8}\u{c}\n\r\t\u{1f} del \u{7f} slash / é 😀",
        "aa": {"y": 1.0, "x": 18_446_744_073_709_551_615_u64, "w": -9_223_372_036_854_775_808_i64},
        "A": 0.1,
    });

    let canonical = canonical_json(&value);

    assert_eq!(canonical, serde_json::to_string(&value).unwrap());
    assert!(
        canonical
            .starts_with(r#"{"A":0.1,"a":"quote \" backslash \\ controls \u0000\b\f\n\r\t\u001f"#)
    );
    let reparsed: Value = serde_json::from_str(&canonical).unwrap();
    assert_eq!(canonical_json(&reparsed), canonical);
}

#[test]
fn timestamps_are_rfc3339_utc_with_milliseconds() {
    let at = |ms: u64| rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms));

    assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(at(951_782_400_123), "2000-02-29T00:00:00.123Z");
    assert_eq!(at(1_772_357_400_007), "2026-03-01T09:30:00.007Z");
    assert_eq!(at(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
    let now = AuditEvent::new(AuditEventType::Collection, "cli", Decision::Allow).ts_utc;
    assert_eq!(now.len(), 24);
    assert!(now.starts_with("20") && now.ends_with('Z'));
}

#[test]
fn event_ids_are_random_uuid_v4() {
    let ids: Vec<String> = (0..200).map(|_| uuid_v4()).collect();
    for id in &ids {
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12],
            "{id}"
        );
        assert!(
            id.bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'-'))
        );
        assert!(parts[2].starts_with('4'), "{id}");
        assert!(
            matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
            "{id}"
        );
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
    assert_ne!(fallback_unique_bytes(), fallback_unique_bytes());
}

#[test]
fn reading_a_corrupt_line_is_an_error_not_a_panic() {
    let (dir, log) = log_with(3);
    drop(log);
    let path = dir.path().join(AUDIT_FILE_NAME);
    let mut bytes = fs::read(&path).unwrap();
    let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    bytes[second] = b'x';
    fs::write(&path, &bytes).unwrap();
    let log = AuditLog::open(dir.path()).unwrap();

    let err = log.read(&AuditFilter::default(), 10).unwrap_err();

    assert!(matches!(err, AuditError::Corrupt { line: 2, .. }), "{err}");
}
