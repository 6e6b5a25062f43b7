//! Cost of one durable audit append (serialise, hash, `write_all`, `sync_data`) and of
//! verifying a chain. Every person-level read and every refusal pays one append.
//!
//! Run: `cargo bench --bench audit_append`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use saferplaces::safeguards::audit::{AuditEvent, AuditEventType, AuditLog, Decision, verify};

fn event() -> AuditEvent {
    let mut e = AuditEvent::new(AuditEventType::Consultation, "mace_member", Decision::Allow);
    e.actor_user_id = Some("bench-user".to_owned());
    e.purpose_code = Some("mace_panel".to_owned());
    e.case_ref = Some("MACE-1-2026-11".to_owned());
    e.subject_ids = vec!["P0a1b2c3d".to_owned()];
    e.subject_categories = vec!["child_at_risk_of_exploitation".to_owned()];
    e.fields_returned = vec![
        "id".to_owned(),
        "age_band".to_owned(),
        "categories".to_owned(),
        "review_due".to_owned(),
    ];
    e.query = serde_json::json!({"route": "/api/v1/people/{id}"});
    e.record_count = 1;
    "bench".clone_into(&mut e.policy_version);
    e
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = AuditLog::open(dir.path()).expect("audit log");
    let mut g = c.benchmark_group("audit");
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("append_durable", |b| {
        b.iter(|| black_box(log.append(event()).expect("append")));
    });
    // Verify a fixed chain of 10,000 entries.
    let fixed = tempfile::tempdir().expect("temp dir");
    let fixed_log = AuditLog::open(fixed.path()).expect("audit log");
    for _ in 0..10_000 {
        fixed_log.append(event()).expect("append");
    }
    let path = fixed_log.path().to_owned();
    g.bench_function("verify_10000_entries", |b| {
        b.iter(|| black_box(verify(&path).expect("intact")));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
