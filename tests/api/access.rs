//! Issue 12, points 1-3 over HTTP, as an adversary would try them: harvesting through case
//! references, break-glass, the per-user budgets with their alerts, legal bases, and a flood of
//! refused requests against the audit log.

use std::time::{Duration, Instant};

use saferplaces::domain::{CaseKind, Dataset};
use saferplaces::store::{SqliteStore, Store};
use serde_json::Value;

use crate::support::{TestApp, demo_data_dir, spawn_app_with, test_assigned_cases};

const TODAY: &str = "2026-11-11";
const JUSTIFICATION: &str = "Urgent: child reported missing tonight, locating known contacts";

fn data() -> Dataset {
    SqliteStore::open(demo_data_dir()).unwrap().load().unwrap()
}

/// Cases of `kind` the test police analyst is not assigned to, with their first subject.
fn unassigned(d: &Dataset, kind: CaseKind) -> Vec<(String, String)> {
    let (op, sg) = test_assigned_cases(d);
    d.cases
        .iter()
        .filter(|c| c.kind == kind && c.reference.as_str() != op && c.reference.as_str() != sg)
        .filter(|c| !c.subjects.is_empty())
        .map(|c| (c.reference.to_string(), c.subjects[0].to_string()))
        .collect()
}

fn events<'a>(entries: &'a [Value], event_type: &str) -> Vec<&'a Value> {
    entries
        .iter()
        .filter(|e| e["event"]["event_type"] == event_type)
        .map(|e| &e["event"])
        .collect()
}

#[test]
fn stepping_through_case_references_reads_nobody_and_every_attempt_is_refused_and_logged() {
    let d = data();
    // The references are not a counter: nothing to step through.
    for c in &d.cases {
        let suffix = c.reference.as_str().rsplit('-').next().unwrap();
        assert!(
            !suffix.chars().all(|ch| ch.is_ascii_digit()),
            "sequential-looking reference {}",
            c.reference
        );
    }
    let app = spawn_app_with(&[("SAFERPLACES_TODAY", TODAY)]);
    let mut attempts = 0;
    let mut people_read = 0;
    for (kind, purpose) in [
        (CaseKind::Investigation, "disrupting_exploitation"),
        (CaseKind::Safeguarding, "safeguarding_children"),
    ] {
        for (case, _) in unassigned(&d, kind) {
            let reply = app.get_as(
                "police_analyst",
                "/api/v1/people",
                &[("X-Purpose", purpose), ("X-Case-Ref", &case)],
            );
            attempts += 1;
            if reply.status == 200 {
                people_read += reply.json()["people"].as_array().unwrap().len();
            } else {
                assert_eq!(reply.status, 403, "{case}: {}", reply.body);
                assert_eq!(reply.json()["error"], "CASE_NOT_ASSIGNED");
            }
        }
    }
    assert!(attempts > 100, "the demo has many cases: {attempts}");
    assert_eq!(people_read, 0, "no person read through a case not assigned");
    let entries = app.audit_entries();
    let refused = entries
        .iter()
        .filter(|e| e["event"]["deny_reason"] == "CASE_NOT_ASSIGNED")
        .count();
    assert_eq!(refused, attempts, "every attempt is logged");
    // The assigned cases still work.
    let (op, _) = test_assigned_cases(&d);
    let mine = app.get_as(
        "police_analyst",
        "/api/v1/people",
        &[
            ("X-Purpose", "disrupting_exploitation"),
            ("X-Case-Ref", &op),
        ],
    );
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert!(!mine.json()["people"].as_array().unwrap().is_empty());
}

#[test]
fn break_glass_reads_are_allowed_flagged_alerted_and_limited_per_day() {
    let d = data();
    let cases = unassigned(&d, CaseKind::Investigation);
    let app = spawn_app_with(&[
        ("SAFERPLACES_TODAY", TODAY),
        ("SAFERPLACES_BREAK_GLASS_PER_DAY", "2"),
    ]);
    let read = |i: usize, justification: &str| {
        let (case, person) = &cases[i];
        app.get_as(
            "police_analyst",
            &format!("/api/v1/people/{person}"),
            &[
                ("X-Purpose", "disrupting_exploitation"),
                ("X-Case-Ref", case),
                ("X-Break-Glass", "true"),
                ("X-Justification", justification),
            ],
        )
    };
    let short = read(0, "urgent");
    assert_eq!(short.status, 428, "{}", short.body);
    assert_eq!(short.json()["error"], "JUSTIFICATION_REQUIRED");
    for i in 0..2 {
        let ok = read(i, JUSTIFICATION);
        assert_eq!(ok.status, 200, "{}", ok.body);
        assert_eq!(ok.json()["id"], cases[i].1);
    }
    let third = read(2, JUSTIFICATION);
    assert_eq!(third.status, 429, "{}", third.body);
    assert_eq!(third.json()["error"], "BUDGET_EXCEEDED");
    let retry: u64 = third.retry_after.parse().unwrap();
    assert!(retry > 0 && retry <= 24 * 3600, "{retry}");

    let entries = app.audit_entries();
    let reads: Vec<&Value> = events(&entries, "consultation")
        .into_iter()
        .filter(|e| e["decision"] == "allow")
        .collect();
    assert_eq!(reads.len(), 2);
    for e in &reads {
        assert_eq!(e["break_glass"], true);
        assert_eq!(e["justification_text"], JUSTIFICATION);
        assert_eq!(e["legal_basis"], "dpa_2018_s35_law_enforcement");
    }
    let rules: Vec<&str> = events(&entries, "alert")
        .iter()
        .map(|e| e["query"]["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        vec!["break_glass_read", "break_glass_read", "break_glass_budget"]
    );
    // Auditors read the alerts through the API.
    let alerts = app.get_as(
        "auditor",
        "/api/v1/audit/alerts",
        &[("X-Purpose", "audit_lawfulness")],
    );
    assert_eq!(alerts.status, 200, "{}", alerts.body);
    let listed = alerts.json()["alerts"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[2]["rule"], "break_glass_budget");
    assert_eq!(listed[2]["user"], "test-police_analyst");
    assert_eq!(listed[2]["limit"], 2);
    // Nobody else reads them.
    let analyst = app.get_as(
        "police_analyst",
        "/api/v1/audit/alerts",
        &[("X-Purpose", "audit_lawfulness")],
    );
    assert_eq!(analyst.status, 403);
}

#[test]
fn passing_the_hourly_budget_of_distinct_people_gives_429_and_one_alert_the_cli_lists() {
    let d = data();
    let cases = unassigned(&d, CaseKind::Investigation);
    let app = spawn_app_with(&[
        ("SAFERPLACES_TODAY", TODAY),
        ("SAFERPLACES_SUBJECTS_PER_HOUR", "3"),
        ("SAFERPLACES_BREAK_GLASS_PER_DAY", "100"),
    ]);
    let mut statuses = Vec::new();
    let mut distinct = std::collections::BTreeSet::new();
    for (case, person) in cases.iter().take(8) {
        let reply = app.get_as(
            "police_analyst",
            &format!("/api/v1/people/{person}"),
            &[
                ("X-Purpose", "disrupting_exploitation"),
                ("X-Case-Ref", case),
                ("X-Break-Glass", "1"),
                ("X-Justification", JUSTIFICATION),
            ],
        );
        if reply.status == 200 {
            distinct.insert(person.clone());
        } else {
            assert_eq!(reply.status, 429, "{}", reply.body);
            assert!(reply.retry_after.parse::<u64>().unwrap() > 3_000);
        }
        statuses.push(reply.status);
    }
    assert_eq!(distinct.len(), 3, "{statuses:?}");
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");
    // The server's audit directory goes with it: keep a copy of its log for the CLI.
    let audit_dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        app.audit_dir.path().join("audit.jsonl"),
        audit_dir.path().join("audit.jsonl"),
    )
    .unwrap();
    let (status, _) = app.stop();
    assert!(status.success());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .args(["audit", "alerts", "--json", "--data-dir"])
        .arg(demo_data_dir())
        .env("SAFERPLACES_AUDIT_DIR", audit_dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let budget: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule"] == "subject_budget")
        .collect();
    assert_eq!(
        budget.len(),
        1,
        "one alert per user, rule and window: {alerts:?}"
    );
    assert_eq!(budget[0]["user"], "test-police_analyst");
    assert_eq!(budget[0]["count"], 4);
    assert_eq!(budget[0]["limit"], 3);
    assert_eq!(budget[0]["window_s"], 3600);
}

#[test]
fn person_level_reads_need_a_legal_basis_for_their_purpose_and_record_it() {
    let d = data();
    let (op, _) = test_assigned_cases(&d);
    let app = spawn_app_with(&[("SAFERPLACES_TODAY", TODAY)]);
    let ask = |basis: Option<&str>| {
        let mut h = vec![
            ("X-Purpose", "disrupting_exploitation"),
            ("X-Case-Ref", op.as_str()),
            ("X-Justification", "reviewing the operation's adults"),
        ];
        if let Some(b) = basis {
            h.push(("X-Legal-Basis", b));
        }
        app.get_as_exact("police_analyst", "/api/v1/people", &h)
    };
    let missing = ask(None);
    assert_eq!(missing.status, 428);
    assert_eq!(missing.json()["error"], "LEGAL_BASIS_REQUIRED");
    assert!(
        missing.json()["message"]
            .as_str()
            .unwrap()
            .contains("dpa_2018_s35_law_enforcement")
    );
    for bad in ["housing_act_1996", "children_act_1989_s47"] {
        let r = ask(Some(bad));
        assert_eq!(r.status, 403, "{bad}");
        assert_eq!(r.json()["error"], "LEGAL_BASIS_NOT_PERMITTED");
    }
    let ok = ask(Some("crime_and_disorder_act_1998_s115"));
    assert_eq!(ok.status, 200, "{}", ok.body);
    let entries = app.audit_entries();
    let reads: Vec<&Value> = events(&entries, "consultation");
    assert_eq!(reads.len(), 4);
    assert_eq!(
        reads
            .iter()
            .map(|e| e["deny_reason"].as_str().unwrap_or("-"))
            .collect::<Vec<_>>(),
        vec![
            "LEGAL_BASIS_REQUIRED",
            "LEGAL_BASIS_NOT_PERMITTED",
            "LEGAL_BASIS_NOT_PERMITTED",
            "-"
        ]
    );
    let allowed = reads[3];
    assert_eq!(allowed["legal_basis"], "crime_and_disorder_act_1998_s115");
    assert_eq!(
        allowed["justification_text"],
        "reviewing the operation's adults"
    );
}

/// Waits until the coalesced refusal records account for `total` refusals.
fn refusals_accounted(app: &TestApp, total: u64) -> (u64, usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let entries = app.audit_entries();
        let denied: Vec<&Value> = entries
            .iter()
            .filter(|e| e["event"]["decision"] == "deny")
            .collect();
        let counted: u64 = denied
            .iter()
            .map(|e| e["event"]["repeat_count"].as_u64().unwrap_or(1))
            .sum();
        if counted >= total || Instant::now() > deadline {
            return (counted, denied.len());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_flood_of_anonymous_refusals_is_throttled_and_logged_as_a_few_counted_records() {
    let app = spawn_app_with(&[
        ("SAFERPLACES_REFUSALS_PER_MINUTE", "30"),
        ("SAFERPLACES_REFUSAL_COALESCE_MS", "2000"),
    ]);
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..500 {
        let r = app.get_with(
            "/api/v1/people",
            &[
                ("X-Purpose", "safeguarding_children"),
                ("X-Case-Ref", "SG-1"),
            ],
        );
        if r.status == 429 {
            assert_eq!(r.json()["error"], "TOO_MANY_REFUSALS");
            assert!(r.retry_after.parse::<u64>().unwrap() >= 1);
        }
        *statuses.entry(r.status).or_insert(0u32) += 1;
    }
    assert_eq!(statuses.get(&401), Some(&30), "{statuses:?}");
    assert_eq!(statuses.get(&429), Some(&470), "{statuses:?}");
    let (counted, records) = refusals_accounted(&app, 500);
    assert_eq!(counted, 500, "every refusal is accounted for");
    assert!(
        records <= 20,
        "500 refusals took {records} audit records; identical refusals must coalesce"
    );
}
