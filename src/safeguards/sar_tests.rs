use super::*;

use crate::safeguards::audit::{AuditEntry, AuditEvent, AuditEventType, Decision};

const AGREEMENTS: &str = r#"{
  "organisations": [
    {"code": "org-police", "data_class": "police_intelligence", "name": "Police"},
    {"code": "org-care", "data_class": "social_care", "name": "Social care"}
  ],
  "agreements": [{
    "isa_ref": "ISA-T-1", "title": "Test", "parties": ["org-police", "org-care"],
    "expires": "2027-12-31",
    "flows": [{"from": "org-care", "to": ["org-police"], "data_class": "social_care",
               "purposes": ["safeguarding_children"], "gateway": "children_act_2004_s11"}]
  }]
}"#;

fn agreements() -> Agreements {
    Agreements::parse(std::path::Path::new("test.json"), AGREEMENTS).unwrap()
}

/// A read of P00000001 by `user` of `org` in `role` at `ts`.
fn read(seq: u64, ts: &str, user: &str, org: Option<&str>, role: &str) -> AuditEntry {
    let mut e = AuditEvent::new(AuditEventType::Consultation, role, Decision::Allow);
    e.ts_utc = ts.to_owned();
    e.actor_user_id = Some(user.to_owned());
    e.actor_org = org.map(str::to_owned);
    e.purpose_code = Some("safeguarding_children".to_owned());
    e.legal_basis = Some("children_act_2004_s11".to_owned());
    e.justification_text = Some("about P0000beef, a friend".to_owned());
    e.subject_ids = vec!["P00000001".to_owned(), "P0000beef".to_owned()];
    AuditEntry {
        seq,
        hash: String::new(),
        event: e,
    }
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a test that walks one scenario end to end"
)]
fn the_access_summary_counts_per_event_organisation_role_and_purpose_without_names() {
    let mut refused = read(
        3,
        "2026-11-10T08:00:00.000Z",
        "analyst-b",
        Some("org-police"),
        "police_analyst",
    );
    refused.event.decision = Decision::Deny;
    refused.event.repeat_count = Some(4);
    let mut disclosed = read(
        5,
        "2026-11-12T10:00:00.000Z",
        "officer",
        Some("org-care"),
        "mace_member",
    );
    disclosed.event.event_type = AuditEventType::Disclosure;
    disclosed.event.recipient_person = Some("panel chair".to_owned());
    disclosed.event.recipient_org = Some("org-police".to_owned());
    disclosed.event.channel = Some("mace_pack".to_owned());
    disclosed.event.isa_ref = Some("ISA-T-1".to_owned());
    let entries = vec![
        read(
            1,
            "2026-11-11T09:00:00.000Z",
            "analyst-a",
            Some("org-police"),
            "police_analyst",
        ),
        read(
            2,
            "2026-11-09T09:00:00.000Z",
            "analyst-b",
            Some("org-police"),
            "police_analyst",
        ),
        refused,
        read(
            4,
            "2026-11-11T12:00:00.000Z",
            "worker",
            Some("org-care"),
            "mace_member",
        ),
        disclosed,
    ];
    let found = summarise_access(&entries, Some("org-care"), &agreements());
    let s = &found.access;
    assert_eq!(s.events, 1 + 1 + 4 + 1 + 1, "a coalesced refusal counts 4");
    assert_eq!(
        s.by_event,
        vec![
            EventCount {
                event_type: "consultation".into(),
                decision: "allow".into(),
                count: 3
            },
            EventCount {
                event_type: "consultation".into(),
                decision: "deny".into(),
                count: 4
            },
            EventCount {
                event_type: "disclosure".into(),
                decision: "allow".into(),
                count: 1
            },
        ]
    );
    assert_eq!(
        s.by_organisation,
        vec![
            OrganisationCount {
                organisation: "org-care".into(),
                role: "mace_member".into(),
                count: 2,
                first: "2026-11-11T12:00:00.000Z".into(),
                last: "2026-11-12T10:00:00.000Z".into(),
            },
            OrganisationCount {
                organisation: "org-police".into(),
                role: "police_analyst".into(),
                count: 6,
                first: "2026-11-09T09:00:00.000Z".into(),
                last: "2026-11-11T09:00:00.000Z".into(),
            },
        ]
    );
    assert_eq!(
        s.purposes,
        vec![PurposeCount {
            purpose: "safeguarding_children".into(),
            legal_basis: "children_act_2004_s11".into(),
            count: 8
        }]
    );
    // The two allowed police reads of social care's record are one disclosure line under the
    // agreement that covered them; the controller's own read and the refusal are not.
    assert_eq!(
        found.shared,
        vec![AgreementRead {
            organisation: "org-police".into(),
            purpose: "safeguarding_children".into(),
            legal_basis: "children_act_2004_s11".into(),
            isa_ref_recorded: None,
            agreement: Some("ISA-T-1".into()),
            gateway: Some("children_act_2004_s11".into()),
            count: 2,
            first: "2026-11-09T09:00:00.000Z".into(),
            last: "2026-11-11T09:00:00.000Z".into(),
        }]
    );
    assert_eq!(found.disclosures.len(), 1);
    assert_eq!(
        found.disclosures[0].recipient_person.as_deref(),
        Some("panel chair")
    );
    assert_eq!(found.disclosures[0].isa_ref.as_deref(), Some("ISA-T-1"));
    // No staff name, justification or other subject reaches the summary.
    let text = format!("{found:?}");
    for secret in ["analyst-a", "analyst-b", "worker", "officer", "P0000beef"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[test]
fn a_read_after_the_agreement_expired_names_no_agreement() {
    let late = read(
        1,
        "2028-01-05T09:00:00.000Z",
        "a",
        Some("org-police"),
        "police_analyst",
    );
    let found = summarise_access(&[late], Some("org-care"), &agreements());
    assert_eq!(found.shared.len(), 1);
    assert_eq!(found.shared[0].agreement, None);
    // Without a known controller (an erased record) nothing is classed as a disclosure.
    let found = summarise_access(
        &[read(
            1,
            "2026-11-11T09:00:00.000Z",
            "a",
            Some("org-police"),
            "police_analyst",
        )],
        None,
        &agreements(),
    );
    assert!(found.shared.is_empty());
    assert_eq!(found.access.by_organisation.len(), 1);
}

#[test]
fn erasure_records_of_the_person_and_of_links_erased_with_them_are_found() {
    let erasure = |seq, record: &str, decision: &str| AuditEntry {
        seq,
        hash: String::new(),
        event: AuditEvent::erasure(
            record.split(':').next().unwrap(),
            record.split(':').nth(1).unwrap(),
            Some(decision.to_owned()),
        ),
    };
    let entries = vec![
        erasure(1, "person:P00000001", "review:7"),
        erasure(2, "link:10", "review:7"),
        erasure(3, "person:P00000002", "review:8"),
        erasure(4, "link:11", "review:8"),
        erasure(5, "link:12", "retention-sweep-2026-11-11"),
    ];
    let p = PersonRef::new("P00000001").unwrap();
    let ids: Vec<String> = erasures_of(&p, &entries)
        .into_iter()
        .map(|e| e.record_id)
        .collect();
    assert_eq!(ids, vec!["person:P00000001", "link:10"]);
}

fn report_with(rationale: &str) -> SubjectAccessReport {
    SubjectAccessReport {
        person: "P00000001".into(),
        held: true,
        produced_at: "2026-11-11T09:00:00.000Z".into(),
        scope: "Produced 2026-11-11T09:00:00.000Z. This report covers the data held by this deployment.".into(),
        record: Some(PersonRecord {
            reference: "P00000001".into(),
            birth_year: 2011,
            categories: vec!["victim".into()],
            controller: "org-care".into(),
            isa_ref: NOT_RECORDED.into(),
            collected_under: Vec::new(),
            review_due: "2026-12-01".into(),
        }),
        earlier_versions: Vec::new(),
        links: vec![LinkRecord {
            id: 4,
            direction: "to_you",
            kind: "exploitation".into(),
            linked_to_type: "person",
            linked_to: ANOTHER_PERSON.into(),
            categories: Vec::new(),
            grade: "2BP".into(),
            controller: "org-police".into(),
            isa_ref: NOT_RECORDED.into(),
            review_due: "2026-12-01".into(),
            note: Some("withheld".into()),
        }],
        reviews: vec![ReviewRecord {
            review: "review:1".into(),
            decided_at: "2026-11-01T09:00:00.000Z".into(),
            outcome: "retain".into(),
            decided_by: "A. Reviewer".into(),
            rationale: rationale.into(),
            next_review_due: Some("2026-12-01".into()),
        }],
        cases: Vec::new(),
        meetings: Vec::new(),
        review_dates: None,
        access: AccessSummary::default(),
        disclosures: Vec::new(),
        shared_with_other_organisations: Vec::new(),
        erasures: Vec::new(),
        withheld: WITHHELD.iter().map(|s| (*s).to_owned()).collect(),
        notes: Vec::new(),
    }
}

#[test]
fn the_html_page_escapes_every_value() {
    let html = render_html(&report_with(
        "<script>alert(\"x\")</script> & 'quoted' still at risk",
    ));
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains(
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quoted&#39; still at risk"
    ));
    assert_eq!(escape_html("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
}

#[test]
fn the_html_page_has_every_section_and_no_external_asset() {
    let html = render_html(&report_with(
        "Retained: contact with the exploiter continues",
    ));
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("<html lang=\"en\">"));
    let mut from = 0;
    for title in HTML_SECTIONS {
        let tag = format!("<h2>{}</h2>", escape_html(title));
        let at = html[from..]
            .find(&tag)
            .unwrap_or_else(|| panic!("missing or out of order: {title}"));
        from += at + tag.len();
    }
    assert!(html.contains("<h1>Subject access report: P00000001</h1>"));
    assert!(html.contains("covers the data held by this deployment"));
    assert!(html.contains("<th scope=\"col\">"));
    assert!(html.contains(ANOTHER_PERSON));
    for external in ["src=", "href=", "<link", "@import", "url("] {
        assert!(!html.contains(external), "{external}");
    }
}
