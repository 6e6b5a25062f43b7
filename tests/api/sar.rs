//! Subject access (issue 12 point 9, safeguards.md S26): `saferplaces sar --person P` on a
//! private copy of the demo data, after a police analyst of another organisation read a child
//! through an assigned safeguarding case under the demo sharing agreement.

use std::path::Path;
use std::process::{Command, Output};

use saferplaces::domain::{CaseKind, LinkTarget, PersonRef};
use saferplaces::store::{SqliteStore, Store};
use serde_json::Value;

use crate::support::{assign_case, spawn_command};

const TODAY: &str = "2026-11-11";
const ANALYST: &str = "sar-analyst";

fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("SAFERPLACES_TODAY", TODAY)
        .env(
            "SAFERPLACES_GEODATA_DIR",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata"),
        )
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a test that walks one subject access request end to end, section by section"
)]
fn a_subject_access_request_gives_the_child_their_records_access_summary_and_recipients() {
    // A private demo store: the test erases from it at the end.
    let dir = tempfile::tempdir().unwrap();
    let generated = cli(dir.path(), &["demo", "--no-serve"]);
    assert!(generated.status.success(), "{}", stderr(&generated));
    let d = SqliteStore::open(dir.path()).unwrap().load().unwrap();
    let today = TODAY.parse().unwrap();
    // A child held by an organisation other than the police, on a safeguarding case, visible
    // today, with a link to or from another person.
    let linked_to_person = |p: &PersonRef| {
        d.links.iter().any(|l| {
            (&l.from == p && matches!(l.to, LinkTarget::Person(_)))
                || l.to == LinkTarget::Person(p.clone())
        })
    };
    let (case, child) = d
        .cases
        .iter()
        .filter(|c| c.kind == CaseKind::Safeguarding)
        .find_map(|c| {
            let p = d.people.iter().find(|p| p.id == c.subjects[0])?;
            (p.may_be_child_on(today)
                && p.source.as_str() != "synthetic-police"
                && p.review_due >= today
                && linked_to_person(&p.id))
            .then(|| (c.reference.to_string(), p.clone()))
        })
        .expect("a safeguarding case whose child another organisation holds");
    let child_links: Vec<_> = d
        .links
        .iter()
        .filter(|l| l.from == child.id || l.to == LinkTarget::Person(child.id.clone()))
        .collect();
    let added = cli(
        dir.path(),
        &[
            "user",
            "add",
            "--name",
            ANALYST,
            "--role",
            "police_analyst",
            "--org",
            "synthetic-police",
        ],
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let token = String::from_utf8(added.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    assign_case(dir.path(), &case, ANALYST);

    // The analyst reads the child and their links; the server logs into the data directory.
    let mut serve = Command::new(env!("CARGO_BIN_EXE_saferplaces"));
    serve
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("SAFERPLACES_TODAY", TODAY);
    let app = spawn_command(serve);
    let headers = vec![
        ("Authorization".to_owned(), format!("Bearer {token}")),
        ("X-Purpose".to_owned(), "safeguarding_children".to_owned()),
        ("X-Case-Ref".to_owned(), case.clone()),
        (
            "X-Legal-Basis".to_owned(),
            "children_act_2004_s11".to_owned(),
        ),
    ];
    for path in [
        format!("/api/v1/people/{}", child.id),
        format!("/api/v1/people/{}/links", child.id),
    ] {
        let reply = app.get_headers(&path, &headers);
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    }
    let (status, _) = app.stop();
    assert!(status.success());

    let html = dir.path().join("sar.html");
    let sar = cli(
        dir.path(),
        &[
            "sar",
            "--person",
            child.id.as_str(),
            "--json",
            "--html",
            html.to_str().unwrap(),
        ],
    );
    assert!(sar.status.success(), "{}", stderr(&sar));
    let text = String::from_utf8(sar.stdout).unwrap();
    let r: Value = serde_json::from_str(&text).unwrap();

    // The record as held, with its categories, controller and review date.
    assert_eq!(r["held"], true);
    let record = &r["record"];
    assert_eq!(record["reference"], child.id.as_str());
    assert_eq!(record["birth_year"], child.birth_year);
    let categories: Vec<&str> = child.categories.iter().map(|c| c.code()).collect();
    assert_eq!(record["categories"], serde_json::json!(categories));
    assert_eq!(record["controller"], child.source.as_str());
    let isa = |i: Option<&saferplaces::domain::IsaRef>| {
        i.map_or_else(|| "not recorded".to_owned(), |i| i.as_str().to_owned())
    };
    assert_eq!(record["isa_ref"], isa(child.isa_ref.as_ref()));
    assert_eq!(record["review_due"], child.review_due.to_string());
    assert_eq!(
        r["review_dates"]["record_review_due"],
        child.review_due.to_string()
    );
    assert!(
        r["cases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["reference"] == case.as_str())
    );

    // Every link, the other person withheld: no other person's reference anywhere.
    let links = r["links"].as_array().unwrap();
    assert_eq!(links.len(), child_links.len());
    for (l, stored) in links.iter().zip(&child_links) {
        assert_eq!(l["id"], stored.id);
        assert_eq!(l["review_due"], stored.review_due.to_string());
        assert_eq!(l["isa_ref"], isa(stored.isa_ref.as_ref()));
        assert_eq!(l["controller"], stored.source.as_str());
        if l["linked_to_type"] == "person" {
            assert_eq!(l["linked_to"], "another person");
        }
    }
    assert!(links.iter().any(|l| l["linked_to"] == "another person"));
    for p in d.people.iter().filter(|p| p.id != child.id) {
        assert!(!text.contains(p.id.as_str()), "{} leaked", p.id);
    }
    assert!(
        r["withheld"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("third-party"))
    );

    // Who accessed it: the police analyst by organisation and role, never by name.
    assert!(!text.contains(ANALYST), "staff names are withheld");
    let by_org = r["access"]["by_organisation"].as_array().unwrap();
    let police = by_org
        .iter()
        .find(|o| o["organisation"] == "synthetic-police" && o["role"] == "police_analyst")
        .expect("the analyst's reads");
    assert_eq!(police["count"], 2);
    assert!(
        r["access"]["by_event"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event_type"] == "consultation"
                && e["decision"] == "allow"
                && e["count"] == 2)
    );
    assert!(
        r["access"]["purposes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["purpose"] == "safeguarding_children"
                && p["legal_basis"] == "children_act_2004_s11")
    );
    // The reads were disclosures from the child's controller under the demo agreement.
    let shared = r["shared_with_other_organisations"].as_array().unwrap();
    assert_eq!(shared.len(), 1, "{shared:?}");
    assert_eq!(shared[0]["organisation"], "synthetic-police");
    assert_eq!(shared[0]["purpose"], "safeguarding_children");
    assert_eq!(shared[0]["legal_basis"], "children_act_2004_s11");
    assert_eq!(shared[0]["agreement"], "ISA-SYN-2026-001");
    assert_eq!(shared[0]["count"], 2);

    // The readable page.
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains(child.id.as_str()));
    for heading in saferplaces::safeguards::sar::HTML_SECTIONS {
        assert!(page.contains(&format!("<h2>{heading}</h2>")), "{heading}");
    }
    assert!(page.contains("covers the data held by this saferplaces deployment"));

    // Answering the request was itself audited as a disclosure to the data subject.
    let log = std::fs::read_to_string(dir.path().join("audit").join("audit.jsonl")).unwrap();
    let sars: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .filter(|e| e["channel"] == "subject_access_request")
        .collect();
    assert_eq!(sars.len(), 1);
    assert_eq!(sars[0]["event_type"], "disclosure");
    assert_eq!(sars[0]["recipient_person"], "data subject");
    assert_eq!(
        sars[0]["subject_ids"],
        serde_json::json!([child.id.as_str()])
    );
    assert_eq!(sars[0]["client"], "cli");

    // An unknown reference: no record, twice (the first request's own audit record does not
    // count as a mention). A malformed one is named.
    let unknown = "P0123456789abcde";
    assert!(!d.people.iter().any(|p| p.id.as_str() == unknown));
    for _ in 0..2 {
        let none = cli(dir.path(), &["sar", "--person", unknown, "--json"]);
        assert!(!none.status.success());
        assert!(
            stderr(&none).contains(&format!("no record of {unknown}")),
            "{}",
            stderr(&none)
        );
        assert!(none.stdout.is_empty());
    }
    let bad = cli(dir.path(), &["sar", "--person", "gang-42", "--json"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("\"gang-42\""), "{}", stderr(&bad));
    // Requests that found nothing are audited too (probing is visible), and the log verifies.
    let log = std::fs::read_to_string(dir.path().join("audit").join("audit.jsonl")).unwrap();
    let probes = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .filter(|e| {
            e["channel"] == "subject_access_request"
                && e["subject_ids"] == serde_json::json!([unknown])
        })
        .count();
    assert_eq!(probes, 2);
    let verified = cli(dir.path(), &["audit", "verify"]);
    assert!(verified.status.success(), "{}", stderr(&verified));

    // Erased, the child can still learn that they were held and who read them (S26).
    let removed = cli(
        dir.path(),
        &[
            "review",
            "record",
            "--person",
            child.id.as_str(),
            "--outcome",
            "remove",
            "--rationale",
            "No longer at risk: the safeguarding plan has closed",
            "--decided-by",
            "A. Reviewer",
        ],
    );
    assert!(removed.status.success(), "{}", stderr(&removed));
    let after = cli(
        dir.path(),
        &["sar", "--person", child.id.as_str(), "--json"],
    );
    assert!(after.status.success(), "{}", stderr(&after));
    let text = String::from_utf8(after.stdout).unwrap();
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["held"], false);
    assert!(r["record"].is_null());
    let erasures = r["erasures"].as_array().unwrap();
    assert!(
        erasures
            .iter()
            .any(|e| e["record_id"] == format!("person:{}", child.id))
    );
    assert_eq!(
        erasures.len(),
        1 + child_links.len(),
        "the person and each link erased with them: {erasures:?}"
    );
    assert!(
        r["access"]["by_organisation"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["organisation"] == "synthetic-police" && o["count"] == 2)
    );
    for p in d.people.iter().filter(|p| p.id != child.id) {
        assert!(!text.contains(p.id.as_str()), "{} leaked", p.id);
    }
}
