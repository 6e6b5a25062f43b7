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
    for (i, (_, person)) in cases.iter().enumerate().take(2) {
        let ok = read(i, JUSTIFICATION);
        assert_eq!(ok.status, 200, "{}", ok.body);
        assert_eq!(ok.json()["id"], *person);
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

/// Creates a police analyst of `org` on the shared demo data and assigns them to `case`.
fn analyst_of(org: &str, name: &str, case: &str) -> String {
    let add = [
        "user",
        "add",
        "--name",
        name,
        "--role",
        "police_analyst",
        "--org",
        org,
    ];
    let out = crate::support::cli_ok(demo_data_dir(), &add);
    crate::support::assign_case(demo_data_dir(), case, name);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn an_analyst_of_another_organisation_reads_no_record_without_an_agreement_flow_but_sees_aggregates()
 {
    let d = data();
    let (_, sg) = test_assigned_cases(&d);
    let child = d
        .cases
        .iter()
        .find(|c| c.reference.as_str() == sg)
        .unwrap()
        .subjects[0]
        .to_string();
    let token = analyst_of("north-somerset-council", "test-ns-analyst", &sg);
    let app = spawn_app_with(&[("SAFERPLACES_TODAY", TODAY)]);
    let auth = format!("Bearer {token}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("X-Purpose", "safeguarding_children"),
        ("X-Case-Ref", sg.as_str()),
        ("X-Legal-Basis", "children_act_2004_s11"),
    ];
    let one = app.get_with(&format!("/api/v1/people/{child}"), &headers);
    assert_eq!(one.status, 403, "{}", one.body);
    assert_eq!(one.json()["error"], "NO_SHARING_AGREEMENT");
    let list = app.get_with("/api/v1/people", &headers);
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.json()["people"].as_array().unwrap().is_empty());
    assert_eq!(list.json()["withheld_no_sharing_agreement"], 1);
    let links = app.get_with(&format!("/api/v1/people/{child}/links"), &headers);
    assert_eq!(links.status, 403);
    // Aggregate layers stay open to them.
    let hexagons = app.get_with(
        "/api/v1/hexagons?res=7",
        &[("Authorization", auth.as_str())],
    );
    assert_eq!(hexagons.status, 200);
    // The synthetic police analyst, under the synthetic partnership's agreement, reads them.
    let police = app.get_as(
        "police_analyst",
        &format!("/api/v1/people/{child}"),
        &[("X-Purpose", "safeguarding_children"), ("X-Case-Ref", &sg)],
    );
    assert_eq!(police.status, 200, "{}", police.body);
    let entries = app.audit_entries();
    let denied: Vec<&Value> = entries
        .iter()
        .filter(|e| e["event"]["deny_reason"] == "NO_SHARING_AGREEMENT")
        .collect();
    assert_eq!(denied.len(), 2, "the person and their links");
    assert_eq!(denied[0]["event"]["actor_org"], "north-somerset-council");
}

fn import_people(dir: &std::path::Path, extra: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let people = dir.join("people.csv");
    std::fs::write(
        &people,
        "ref,birth_year,categories,review_due\nP0a1b2c3e,1990,witness,2027-01-31\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .args(["import", "people", "--agency", "bristol-city-council"])
        .arg(&people)
        .args(extra)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn people_of_another_controller_import_only_under_a_configured_agreement_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, msg) = import_people(dir.path(), &[], &[]);
    assert!(!ok && msg.contains("--isa-ref"), "{msg}");
    let (ok, msg) = import_people(dir.path(), &["--isa-ref", "ISA-NONE-1"], &[]);
    assert!(
        !ok && msg.contains("not a configured sharing agreement"),
        "{msg}"
    );
    let (ok, msg) = import_people(dir.path(), &["--isa-ref", "ISA-SYN-2026-001"], &[]);
    assert!(!ok && msg.contains("no flow"), "{msg}");
    let expired = dir.path().join("expired.json");
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata/sharing_agreements.json"),
    )
    .unwrap()
    .replace("\"2030-03-31\"", "\"2020-03-31\"");
    std::fs::write(&expired, text).unwrap();
    let (ok, msg) = import_people(
        dir.path(),
        &["--isa-ref", "ISA-WOE-2024-001"],
        &[("SAFERPLACES_SHARING_AGREEMENTS", expired.to_str().unwrap())],
    );
    assert!(!ok && msg.contains("expired"), "{msg}");
    let store = SqliteStore::open(&dir.path().join("data")).unwrap();
    assert_eq!(store.counts().unwrap().people, 0, "nothing stored");
    drop(store);
    // Every refusal is audited with the reason and no content.
    let log = std::fs::read_to_string(dir.path().join("data/audit/audit.jsonl")).unwrap();
    let refusals = log
        .lines()
        .filter(|l| l.contains("\"NO_SHARING_AGREEMENT\""))
        .count();
    assert_eq!(refusals, 4);
    // No value of the refused file (person P0a1b2c3e, born 1990, a witness) in any record. The
    // check walks the JSON values: hex hashes in the chain may hold the digits 1990 by chance.
    assert!(
        !log.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .any(|v| holds_content(&v)),
        "no content of the refused file"
    );
    // Under the agreement in force: stored, recording the agreement on the person.
    let (ok, msg) = import_people(dir.path(), &["--isa-ref", "ISA-WOE-2024-001"], &[]);
    assert!(ok, "{msg}");
    let d = SqliteStore::open(&dir.path().join("data"))
        .unwrap()
        .load()
        .unwrap();
    assert_eq!(d.people.len(), 1);
    assert_eq!(d.people[0].source.as_str(), "bristol-city-council");
    assert_eq!(
        d.people[0]
            .isa_ref
            .as_ref()
            .map(saferplaces::domain::IsaRef::as_str),
        Some("ISA-WOE-2024-001")
    );
    // The deployment's own controller needs no agreement.
    let own = tempfile::tempdir().unwrap();
    let (ok, msg) = import_people(
        own.path(),
        &[],
        &[("SAFERPLACES_CONTROLLER", "bristol-city-council")],
    );
    assert!(ok, "{msg}");
}

#[test]
fn the_pcsc_s16_gateway_for_social_care_data_stops_the_server_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("agreements.json");
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata/sharing_agreements.json"),
    )
    .unwrap()
    .replacen("\"children_act_2004_s11\"", "\"pcsc_act_2022_s16\"", 1);
    std::fs::write(&bad, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(demo_data_dir())
        .env("SAFERPLACES_SHARING_AGREEMENTS", &bad)
        .env("SAFERPLACES_AUDIT_DIR", dir.path().join("audit"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("agreements.json")
            && err.contains("ISA-SYN-2026-001")
            && err.contains("flows.gateway")
            && err.contains("s.16"),
        "{err}"
    );
}

/// True when an audit record holds a value of the refused people file of
/// `people_of_another_controller_import_only_under_a_configured_agreement_in_force`.
fn holds_content(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.as_u64() == Some(1990),
        Value::String(s) => s == "1990" || s.contains("P0a1b2c3e"),
        Value::Array(a) => a.iter().any(holds_content),
        Value::Object(o) => o.values().any(holds_content),
        _ => false,
    }
}
