//! Safeguards over HTTP (safeguards.md S5, S12-S18, S21, S24): the role matrix for every
//! endpoint and role, purpose and case headers, MACE windows, field allowlists, audit coverage,
//! tamper evidence, disclosure control and retention.

use std::collections::BTreeSet;
use std::process::Command;

use saferplaces::api::auth::ENDPOINTS;
use saferplaces::domain::{Dataset, Role};
use saferplaces::safeguards::policy::{DataClass, role_may_read};
use saferplaces::store::{SqliteStore, Store};
use serde_json::Value;

use crate::support::{Reply, TestApp, demo_data_dir, spawn_app, spawn_app_with};

/// The day the demo data is "as of" plus a little: inside the 2026-11-10 meeting's window.
const TODAY: &str = "2026-11-11";

fn data() -> Dataset {
    SqliteStore::open(demo_data_dir()).unwrap().load().unwrap()
}

struct Refs {
    op_case: String,
    op_adult: String,
    sg_case: String,
    sg_child: String,
    meeting: String,
    agenda_child: String,
    off_agenda_child: String,
}

fn refs(d: &Dataset) -> Refs {
    let today = TODAY.parse().unwrap();
    // The cases the test police analyst is assigned to (support.rs).
    let (op_ref, sg_ref) = crate::support::test_assigned_cases(d);
    let case = |r: &str| d.cases.iter().find(|c| c.reference.as_str() == r).unwrap();
    let (op, sg) = (case(&op_ref), case(&sg_ref));
    let meeting = d
        .meetings
        .iter()
        .find(|m| m.reference.as_str() == "MACE-1-2026-11")
        .unwrap();
    let child = |id: &str| {
        d.people
            .iter()
            .find(|p| p.id.as_str() == id)
            .unwrap()
            .may_be_child_on(today)
    };
    assert!(child(sg.subjects[0].as_str()));
    Refs {
        op_case: op.reference.to_string(),
        op_adult: op.subjects[0].to_string(),
        sg_case: sg.reference.to_string(),
        sg_child: sg.subjects[0].to_string(),
        meeting: meeting.reference.to_string(),
        agenda_child: meeting.subjects[0].to_string(),
        off_agenda_child: sg.subjects[0].to_string(),
    }
}

fn user_of(role: Role) -> Option<&'static str> {
    match role {
        Role::Public => None,
        Role::Planner => Some("planner"),
        Role::VruAnalyst => Some("vru_analyst"),
        Role::PoliceAnalyst => Some("police_analyst"),
        Role::MaceMember => Some("mace_panel1"),
        Role::Auditor => Some("auditor"),
        Role::Admin => Some("admin"),
        // Not in this shared sweep: tests/api/equality.rs checks the role on its own store.
        Role::EqualityMonitor => unreachable!("the sweep does not include equality_monitor"),
    }
}

fn get(app: &TestApp, role: Role, path: &str, headers: &[(&str, &str)]) -> Reply {
    match user_of(role) {
        Some(u) => app.get_as(u, path, headers),
        None => app.get_with(path, headers),
    }
}

#[test]
fn every_endpoint_and_role_gets_what_the_matrix_allows() {
    let app = spawn_app_with(&[("SAFERPLACES_TODAY", TODAY)]);
    let r = refs(&data());
    let roles = [
        Role::Public,
        Role::Planner,
        Role::VruAnalyst,
        Role::PoliceAnalyst,
        Role::MaceMember,
        Role::Auditor,
        Role::Admin,
    ];
    let mut checked = 0;
    for (route, class) in ENDPOINTS {
        for role in roles {
            // Valid headers and ids for the role, so that only the matrix decides.
            let (purpose, case, id) = match role {
                Role::MaceMember => ("mace_panel", r.meeting.as_str(), r.agenda_child.as_str()),
                Role::Auditor => ("audit_lawfulness", r.op_case.as_str(), r.op_adult.as_str()),
                _ => (
                    "disrupting_exploitation",
                    r.op_case.as_str(),
                    r.op_adult.as_str(),
                ),
            };
            let purpose = if *class == Some(DataClass::AuditLog) {
                "audit_lawfulness"
            } else {
                purpose
            };
            let path = route
                .replace("{id}", id)
                .replace("{z}/{x}/{y}", "12/2018/1362");
            let path = match *route {
                "/api/v1/incidents" => format!("{path}?bbox=-2.6,51.45,-2.59,51.46"),
                "/api/v1/boundaries" => format!("{path}?scheme=lad"),
                "/api/v1/areas/compare" => format!("{path}?scheme=lad&a=E06000023&b=E06000024"),
                _ => path,
            };
            let reply = get(
                &app,
                role,
                &path,
                &[("X-Purpose", purpose), ("X-Case-Ref", case)],
            );
            let expected = match class {
                None => 200,
                Some(c) if role_may_read(role, *c) => 200,
                Some(_) if role == Role::Public => 401,
                Some(_) => 403,
            };
            // An empty tile is a 204: allowed, with nothing to draw.
            let status = if reply.status == 204 {
                200
            } else {
                reply.status
            };
            assert_eq!(status, expected, "{role} {route}: {}", reply.body);
            if expected != 200 {
                let v = reply.json();
                assert!(
                    v["error"].is_string() && v["message"].is_string(),
                    "{route}: {v}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, ENDPOINTS.len() * roles.len());
    // Every refusal was logged with decision deny before the answer.
    let denied = app
        .audit_entries()
        .iter()
        .filter(|e| e["event"]["decision"] == "deny")
        .count();
    let expected_denials = ENDPOINTS
        .iter()
        .flat_map(|(_, c)| roles.iter().map(move |r| (c, r)))
        .filter(|(c, r)| c.is_some_and(|c| !role_may_read(**r, c)))
        .count();
    assert_eq!(denied, expected_denials);
}

#[test]
fn person_level_reads_need_a_purpose_and_a_case_reference() {
    let app = spawn_app_with(&[("SAFERPLACES_TODAY", TODAY)]);
    let r = refs(&data());
    let no_purpose = app.get_as(
        "police_analyst",
        "/api/v1/people",
        &[("X-Case-Ref", &r.op_case)],
    );
    assert_eq!(no_purpose.status, 428);
    assert_eq!(no_purpose.json()["error"], "PURPOSE_REQUIRED");
    let no_case = app.get_as(
        "police_analyst",
        "/api/v1/people",
        &[("X-Purpose", "disrupting_exploitation")],
    );
    assert_eq!(no_case.status, 428);
    assert_eq!(no_case.json()["error"], "CASE_REF_REQUIRED");
    let ok = app.get_as(
        "police_analyst",
        "/api/v1/people",
        &[
            ("X-Purpose", "disrupting_exploitation"),
            ("X-Case-Ref", &r.op_case),
        ],
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    let entries = app.audit_entries();
    let reasons: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["event"]["deny_reason"].as_str())
        .collect();
    assert_eq!(reasons, vec!["PURPOSE_REQUIRED", "CASE_REF_REQUIRED"]);
    let allowed = entries.last().unwrap();
    assert_eq!(allowed["event"]["purpose_code"], "disrupting_exploitation");
    assert_eq!(allowed["event"]["case_ref"], r.op_case);
}

#[test]
fn out_of_scope_purposes_do_not_exist_and_are_refused_and_logged() {
    let app = spawn_app_with(&[("SAFERPLACES_TODAY", TODAY)]);
    let r = refs(&data());
    for purpose in [
        "immigration",
        "housing_eligibility",
        "school_admissions",
        "employment_vetting",
    ] {
        let reply = app.get_as(
            "police_analyst",
            "/api/v1/people",
            &[("X-Purpose", purpose), ("X-Case-Ref", &r.op_case)],
        );
        assert_eq!(reply.status, 403, "{purpose}");
        assert_eq!(reply.json()["error"], "PURPOSE_NOT_RECOGNISED");
    }
    let denied = app
        .audit_entries()
        .iter()
        .filter(|e| e["event"]["deny_reason"] == "PURPOSE_NOT_RECOGNISED")
        .count();
    assert_eq!(denied, 4);
    let doc = app.get("/api/v1/openapi.json").body;
    for p in ["immigration", "housing_eligibility", "school_admissions"] {
        assert!(!doc.contains(p), "{p} appears in the API description");
    }
}

#[test]
fn a_mace_member_sees_an_agenda_child_one_day_after_the_meeting_but_not_fifteen() {
    let r = refs(&data());
    let headers = [
        ("X-Purpose", "mace_panel"),
        ("X-Case-Ref", r.meeting.as_str()),
    ];
    let day_after = spawn_app_with(&[("SAFERPLACES_TODAY", "2026-11-11")]);
    let on = day_after.get_as(
        "mace_panel1",
        &format!("/api/v1/people/{}", r.agenda_child),
        &headers,
    );
    assert_eq!(on.status, 200, "{}", on.body);
    assert_eq!(on.json()["id"], r.agenda_child);
    let off = day_after.get_as(
        "mace_panel1",
        &format!("/api/v1/people/{}", r.off_agenda_child),
        &headers,
    );
    assert_eq!(off.status, 403);
    assert_eq!(off.json()["error"], "SUBJECT_NOT_IN_SCOPE");
    let other_panel = day_after.get_as(
        "mace_panel2",
        &format!("/api/v1/people/{}", r.agenda_child),
        &headers,
    );
    assert_eq!(other_panel.status, 403);
    let later = spawn_app_with(&[("SAFERPLACES_TODAY", "2026-11-25")]);
    let late = later.get_as(
        "mace_panel1",
        &format!("/api/v1/people/{}", r.agenda_child),
        &headers,
    );
    assert_eq!(late.status, 403);
    assert_eq!(late.json()["error"], "OUTSIDE_MEETING_WINDOW");
    assert!(
        later
            .audit_entries()
            .iter()
            .any(|e| e["event"]["deny_reason"] == "OUTSIDE_MEETING_WINDOW")
    );
}

#[test]
fn a_police_analyst_sees_a_child_only_through_a_safeguarding_case() {
    let app = spawn_app_with(&[("SAFERPLACES_TODAY", TODAY)]);
    let r = refs(&data());
    let via_op = app.get_as(
        "police_analyst",
        &format!("/api/v1/people/{}", r.sg_child),
        &[
            ("X-Purpose", "disrupting_exploitation"),
            ("X-Case-Ref", &r.op_case),
        ],
    );
    assert_eq!(via_op.status, 403);
    let via_sg = app.get_as(
        "police_analyst",
        &format!("/api/v1/people/{}", r.sg_child),
        &[
            ("X-Purpose", "safeguarding_children"),
            ("X-Case-Ref", &r.sg_case),
        ],
    );
    assert_eq!(via_sg.status, 200, "{}", via_sg.body);
    let person = via_sg.json();
    assert!(
        person.get("birth_year").is_none(),
        "safeguarding purpose gets an age band, not a birth year"
    );
    assert!(
        person["age_band"] == "10-17" || person["age_band"] == "under_10",
        "a child's age band: {person}"
    );
    // Investigation lists hold no children.
    let list = app
        .get_as(
            "police_analyst",
            "/api/v1/people",
            &[
                ("X-Purpose", "disrupting_exploitation"),
                ("X-Case-Ref", &r.op_case),
            ],
        )
        .json();
    for p in list["people"].as_array().unwrap() {
        assert_ne!(p["age_band"], "10-17");
        assert_ne!(p["age_band"], "under_10");
    }
}

fn keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                out.push(k.clone());
                keys(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
        _ => {}
    }
}

#[test]
fn no_response_or_schema_carries_a_score_rank_rating_or_ethnicity() {
    let app = spawn_app_with(&[("SAFERPLACES_TODAY", TODAY)]);
    let d = data();
    let r = refs(&d);
    let bad = [
        "score",
        "rank",
        "rag",
        "risk_level",
        "harm",
        "rating",
        "ethnicity",
    ];
    let mut all_keys = Vec::new();
    keys(&app.get("/api/v1/openapi.json").json(), &mut all_keys);
    let mut responses = 0;
    let police = [
        ("X-Purpose", "disrupting_exploitation"),
        ("X-Case-Ref", r.op_case.as_str()),
    ];
    let sg = [
        ("X-Purpose", "safeguarding_children"),
        ("X-Case-Ref", r.sg_case.as_str()),
    ];
    let mace = [
        ("X-Purpose", "mace_panel"),
        ("X-Case-Ref", r.meeting.as_str()),
    ];
    for (user, headers, id) in [
        ("police_analyst", &police, &r.op_adult),
        ("police_analyst", &sg, &r.sg_child),
        ("mace_panel1", &mace, &r.agenda_child),
    ] {
        for path in [
            "/api/v1/people".to_owned(),
            format!("/api/v1/people/{id}"),
            format!("/api/v1/people/{id}/links"),
        ] {
            let reply = app.get_as(user, &path, headers);
            assert_eq!(reply.status, 200, "{user} {path}: {}", reply.body);
            keys(&reply.json(), &mut all_keys);
            responses += 1;
        }
    }
    assert_eq!(responses, 9);
    for k in &all_keys {
        let lower = k.to_ascii_lowercase();
        // `harm` is allowed inside the words of the product's own descriptions, not as a key.
        for b in bad {
            assert!(
                !lower.contains(b) || lower == "x-data-class",
                "key {k:?} matches {b}"
            );
        }
    }
    // A sort or filter by such a field is refused as an unknown parameter.
    let sort = app.get_as("police_analyst", "/api/v1/people?sort=risk_score", &police);
    assert_eq!(sort.status, 400);
}

#[test]
fn responses_hold_only_the_fields_the_role_and_purpose_allow() {
    use saferplaces::domain::PurposeCode;
    use saferplaces::safeguards::fields::allowlist;
    let app = spawn_app_with(&[("SAFERPLACES_TODAY", TODAY)]);
    let r = refs(&data());
    let cases = [
        (
            Role::PoliceAnalyst,
            "police_analyst",
            PurposeCode::DisruptingExploitation,
            r.op_case.as_str(),
            r.op_adult.as_str(),
        ),
        (
            Role::PoliceAnalyst,
            "police_analyst",
            PurposeCode::SafeguardingChildren,
            r.sg_case.as_str(),
            r.sg_child.as_str(),
        ),
        (
            Role::MaceMember,
            "mace_panel1",
            PurposeCode::MacePanel,
            r.meeting.as_str(),
            r.agenda_child.as_str(),
        ),
        (
            Role::MaceMember,
            "mace_panel1",
            PurposeCode::SafeguardingChildren,
            r.meeting.as_str(),
            r.agenda_child.as_str(),
        ),
    ];
    for (role, user, purpose, case, id) in cases {
        let allowed = allowlist(role, purpose).unwrap();
        let headers = [("X-Purpose", purpose.code()), ("X-Case-Ref", case)];
        let person = app
            .get_as(user, &format!("/api/v1/people/{id}"), &headers)
            .json();
        let fields: BTreeSet<&str> = person
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields,
            allowed.person.iter().copied().collect(),
            "{role}/{purpose}"
        );
        let links = app
            .get_as(user, &format!("/api/v1/people/{id}/links"), &headers)
            .json();
        for l in links["links"].as_array().unwrap() {
            let lf: BTreeSet<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
            let allowed_links: BTreeSet<&str> = allowed.link.iter().copied().collect();
            assert!(lf.is_subset(&allowed_links), "{role}/{purpose}: {lf:?}");
            assert_ne!(
                l["kind"], "peer",
                "peer links never leave a child's social-care case (S10)"
            );
        }
    }
}

#[test]
fn n_person_level_reads_give_n_audit_records_with_every_mandatory_field() {
    let app = spawn_app_with(&[("SAFERPLACES_TODAY", TODAY)]);
    let r = refs(&data());
    let headers = [
        ("X-Purpose", "mace_panel"),
        ("X-Case-Ref", r.meeting.as_str()),
    ];
    let n = 25;
    for i in 0..n {
        let path = match i % 3 {
            0 => "/api/v1/people".to_owned(),
            1 => format!("/api/v1/people/{}", r.agenda_child),
            _ => format!("/api/v1/people/{}/links", r.agenda_child),
        };
        assert_eq!(app.get_as("mace_panel1", &path, &headers).status, 200);
    }
    let entries = app.audit_entries();
    let reads: Vec<&Value> = entries
        .iter()
        .filter(|e| e["event"]["event_type"] == "consultation" && e["event"]["decision"] == "allow")
        .collect();
    assert_eq!(reads.len(), n);
    for e in reads {
        let ev = &e["event"];
        for f in [
            "event_id",
            "ts_utc",
            "actor_user_id",
            "actor_org",
            "actor_role",
            "auth_token_id",
            "purpose_code",
            "case_ref",
            "policy_version",
        ] {
            assert!(
                ev[f].as_str().is_some_and(|s| !s.is_empty())
                    || (f == "actor_org" && ev[f].is_null()),
                "{f} missing: {ev}"
            );
        }
        assert!(!ev["subject_ids"].as_array().unwrap().is_empty(), "{ev}");
        assert!(!ev["subject_categories"].as_array().unwrap().is_empty());
        assert!(ev["subject_is_child"].is_boolean());
        assert!(!ev["fields_returned"].as_array().unwrap().is_empty());
        assert!(ev["record_count"].is_u64());
        assert!(ev["query"]["route"].is_string());
        assert_eq!(ev["actor_user_id"], "test-mace_panel1");
        assert!(!e["hash"].as_str().unwrap().is_empty());
    }
    let out = Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .args(["audit", "verify"])
        .env("SAFERPLACES_AUDIT_DIR", app.audit_dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{n} entries")));
}

#[test]
fn the_auditor_reads_the_log_through_the_api_and_the_read_is_logged() {
    let app = spawn_app_with(&[("SAFERPLACES_TODAY", TODAY)]);
    let r = refs(&data());
    let headers = [
        ("X-Purpose", "mace_panel"),
        ("X-Case-Ref", r.meeting.as_str()),
    ];
    assert_eq!(
        app.get_as(
            "mace_panel1",
            &format!("/api/v1/people/{}", r.agenda_child),
            &headers
        )
        .status,
        200
    );
    let no_purpose = app.get_as("auditor", "/api/v1/audit", &[]);
    assert_eq!(no_purpose.status, 428);
    let wrong_purpose = app.get_as(
        "auditor",
        "/api/v1/audit",
        &[("X-Purpose", "safeguarding_children")],
    );
    assert_eq!(wrong_purpose.status, 403);
    let read = app.get_as(
        "auditor",
        &format!("/api/v1/audit?subject_id={}", r.agenda_child),
        &[("X-Purpose", "audit_lawfulness")],
    );
    assert_eq!(read.status, 200, "{}", read.body);
    let entries = read.json()["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["event"]["actor_user_id"], "test-mace_panel1");
    let operational = app.get_as(
        "police_analyst",
        "/api/v1/audit",
        &[("X-Purpose", "audit_lawfulness")],
    );
    assert_eq!(operational.status, 403);
    let log = app.audit_entries();
    assert!(log.iter().any(|e| e["event"]["event_type"] == "audit_read"
        && e["event"]["actor_user_id"] == "test-auditor"));
}

#[test]
fn audit_verify_names_the_first_bad_record_after_a_change_a_deletion_or_a_reordering() {
    let app = spawn_app_with(&[("SAFERPLACES_TODAY", TODAY)]);
    let r = refs(&data());
    let headers = [
        ("X-Purpose", "mace_panel"),
        ("X-Case-Ref", r.meeting.as_str()),
    ];
    for _ in 0..6 {
        app.get_as("mace_panel1", "/api/v1/people", &headers);
    }
    let original = std::fs::read_to_string(app.audit_dir.path().join("audit.jsonl")).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    assert_eq!(lines.len(), 6);
    let verify = |text: String| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("audit.jsonl"), text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_saferplaces"))
            .args(["audit", "verify"])
            .env("SAFERPLACES_AUDIT_DIR", dir.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let join = |ls: &[&str]| ls.iter().fold(String::new(), |acc, l| acc + l + "\n");
    assert!(verify(original.clone()).0);
    let changed = original.replacen(&r.agenda_child[..5], "Pffff", 1);
    let changed_line = original
        .lines()
        .position(|l| l.contains(&r.agenda_child[..5]))
        .unwrap()
        + 1;
    let (ok, msg) = verify(changed);
    assert!(
        !ok && msg.contains(&format!("line {changed_line}")),
        "{msg}"
    );
    let mut deleted = lines.clone();
    deleted.remove(2);
    let (ok, msg) = verify(join(&deleted));
    assert!(!ok && msg.contains("line 3"), "{msg}");
    let mut swapped = lines.clone();
    swapped.swap(3, 4);
    let (ok, msg) = verify(join(&swapped));
    assert!(!ok && msg.contains("line 4"), "{msg}");
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a test that walks one scenario end to end"
)]
fn people_past_review_are_hidden_and_expired_people_are_erased_everywhere() {
    // A private copy of the demo data: the sweep erases from it.
    let dir = crate::support::private_demo();
    let store = SqliteStore::open(dir.path()).unwrap();
    let d = store.load().unwrap();
    let r = refs(&d);
    let child = d
        .people
        .iter()
        .find(|p| p.id.as_str() == r.sg_child)
        .unwrap();
    let review = child.review_due;
    drop(store);
    let token = {
        let out = Command::new(env!("CARGO_BIN_EXE_saferplaces"))
            .args([
                "user",
                "add",
                "--name",
                "sweeper",
                "--role",
                "police_analyst",
                "--org",
                "synthetic-police",
                "--data-dir",
            ])
            .arg(dir.path())
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_owned()
    };
    crate::support::assign_case(dir.path(), &r.sg_case, "sweeper");
    let serve = |today: String| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_saferplaces"));
        c.args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env("SAFERPLACES_TODAY", today);
        crate::support::spawn_command(c)
    };
    let headers = |t: &str| {
        vec![
            ("Authorization".to_owned(), format!("Bearer {t}")),
            ("X-Purpose".to_owned(), "safeguarding_children".to_owned()),
            ("X-Case-Ref".to_owned(), r.sg_case.clone()),
            (
                "X-Legal-Basis".to_owned(),
                "children_act_2004_s11".to_owned(),
            ),
        ]
    };
    let path = format!("/api/v1/people/{}", r.sg_child);
    // Before review: visible. The day after review: hidden from operational roles.
    let before = serve(review.to_string());
    assert_eq!(before.get_headers(&path, &headers(&token)).status, 200);
    drop(before);
    let after = serve(review.plus_days(1).to_string());
    assert_eq!(after.get_headers(&path, &headers(&token)).status, 403);
    drop(after);
    // Past the hard expiry the running server's own sweep erases the child everywhere.
    let expiry = review.plus_days(31);
    let running = serve(expiry.to_string());
    // The sweep erases from the store and then appends its audit records: wait for both
    // (reading the store alone raced the append on a busy machine).
    let audit_path = dir.path().join("audit").join("audit.jsonl");
    let record_id = format!("\"person:{}\"", r.sg_child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let people = SqliteStore::open(dir.path())
            .unwrap()
            .load()
            .unwrap()
            .people;
        let erased = !people.iter().any(|p| p.id.as_str() == r.sg_child);
        let logged = std::fs::read_to_string(&audit_path).is_ok_and(|l| l.contains(&record_id));
        if erased && logged {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the child was not erased (erased: {erased}, logged: {logged})"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let gone = SqliteStore::open(dir.path()).unwrap().load().unwrap();
    assert!(!gone.links.iter().any(|l| l.from.as_str() == r.sg_child));
    assert!(
        !gone
            .cases
            .iter()
            .any(|c| c.subjects.iter().any(|s| s.as_str() == r.sg_child))
    );
    assert_eq!(running.get_headers(&path, &headers(&token)).status, 403);
    let log = std::fs::read_to_string(&audit_path).unwrap();
    let erasure = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["event"]["record_id"] == format!("person:{}", r.sg_child))
        .expect("an erasure record");
    assert_eq!(erasure["event"]["event_type"], "erasure");
    assert!(
        erasure["event"]["subject_categories"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "no content: {erasure}"
    );
}

#[test]
fn anonymous_and_planner_hexagons_are_disclosure_controlled_and_analysts_get_exact_counts() {
    let app = spawn_app();
    // Res 8: the finest aggregate roles get (issue 13, point 2; oracles.rs refuses res 9).
    let q = "/api/v1/hexagons?res=8&bbox=-2.65,51.42,-2.52,51.50&from=2026-08-15&to=2026-10-20";
    for user in [None, Some("planner")] {
        let reply = match user {
            Some(u) => app.get_as(u, q, &[]),
            None => app.get(q),
        };
        let v = reply.json();
        assert_eq!(v["disclosure"]["controlled"], true);
        assert_eq!(
            v["query"]["from"], "2026-08-01",
            "coarsened to whole months"
        );
        assert_eq!(v["query"]["to"], "2026-10-31");
        let mut suppressed = 0;
        for f in v["features"].as_array().unwrap() {
            let p = &f["properties"];
            if p["suppressed"] == true {
                assert!(p["count"].is_null());
                suppressed += 1;
            } else {
                let c = p["count"].as_u64().unwrap();
                assert!(c >= 5 && c % 5 == 0, "published {c}");
            }
        }
        assert!(suppressed > 0, "a res-8 map over ten weeks has small cells");
    }
    let exact = app.get_as("vru_analyst", q, &[]).json();
    assert_eq!(exact["disclosure"]["controlled"], false);
    assert_eq!(exact["query"]["from"], "2026-08-15");
    assert!(
        exact["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["properties"]["count"].as_u64().unwrap() % 5 != 0)
    );
    let children = app
        .get("/api/v1/hexagons?res=7&category=child-exploitation-concern")
        .json();
    assert_eq!(children["disclosure"]["min_count"], 10);
    for f in children["features"].as_array().unwrap() {
        assert!(
            f["properties"]["count"].is_null() || f["properties"]["count"].as_u64().unwrap() >= 10
        );
    }
}

#[test]
fn an_invalid_token_is_refused_not_treated_as_public() {
    let app = spawn_app();
    let reply = app.get_with(
        "/api/v1/hexagons?res=7",
        &[("Authorization", "Bearer spt_not-a-real-token")],
    );
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"], "INVALID_TOKEN");
    assert_eq!(spawn_app().get("/api/v1/hexagons?res=7").status, 200);
}
