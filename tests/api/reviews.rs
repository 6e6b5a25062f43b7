//! Reviews (issue 12, point 5; safeguards.md S7, S18) through the CLI: `review record` checks
//! the rationale and the S18 limits, sets the review date, is audited, and a later erasure
//! refers to the review; `--outcome remove` erases at once through the same path as the sweep.

use std::path::Path;
use std::process::{Command, Output};

use saferplaces::domain::{Day, PersonRef};
use serde_json::Value;

use crate::erasure::{found_in_store_files, load, private_demo};

const TODAY: &str = "2026-11-11";
const RATIONALE: &str = "Panel agreed the exploitation concern is still current and active.";

fn review(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .args(["review", "record"])
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("SAFERPLACES_TODAY", TODAY)
        .output()
        .unwrap()
}

fn events(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("audit").join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .collect()
}

fn plus(days: u16) -> String {
    TODAY.parse::<Day>().unwrap().plus_days(days).to_string()
}

/// The review reference printed by a successful `review record`.
fn recorded_ref(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .split_whitespace()
        .find(|w| w.starts_with("review:"))
        .unwrap()
        .to_owned()
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a test that walks one scenario end to end"
)]
fn a_review_keeps_to_s18_is_audited_and_a_later_erasure_refers_to_it() {
    let dir = private_demo();
    let d = load(dir.path());
    let today: Day = TODAY.parse().unwrap();
    let with_links = |child: bool| -> PersonRef {
        d.people
            .iter()
            .find(|p| p.may_be_child_on(today) == child && d.links.iter().any(|l| l.from == p.id))
            .unwrap()
            .id
            .clone()
    };
    let (child, adult) = (with_links(true), with_links(false));
    let base = |p: &PersonRef, due: String, rationale: &str| -> Vec<String> {
        [
            "--person",
            p.as_str(),
            "--review-due",
            &due,
            "--rationale",
            rationale,
            "--decided-by",
            "Chair of MACE panel 1",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    };
    let run = |args: Vec<String>| {
        review(
            dir.path(),
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };

    // Refused: a short rationale, a child past 92 days, an adult past 183, no decision-maker,
    // an unknown person.
    let short = run(base(&child, plus(30), "still a concern"));
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("30"),
        "{short:?}"
    );
    let far = run(base(&child, plus(93), RATIONALE));
    assert!(!far.status.success());
    assert!(
        String::from_utf8_lossy(&far.stderr).contains("S18"),
        "{far:?}"
    );
    assert!(!run(base(&adult, plus(184), RATIONALE)).status.success());
    assert!(
        !review(
            dir.path(),
            &[
                "--person",
                child.as_str(),
                "--review-due",
                &plus(30),
                "--rationale",
                RATIONALE
            ]
        )
        .status
        .success()
    );
    assert!(
        !run(base(
            &PersonRef::new("Pffffffff").unwrap(),
            plus(30),
            RATIONALE
        ))
        .status
        .success()
    );
    assert_eq!(load(dir.path()).people, d.people, "nothing changed");

    // Accepted at the limits; the review dates are set.
    let child_review = recorded_ref(&run(base(&child, plus(92), RATIONALE)));
    let mut amend = base(&adult, plus(183), RATIONALE);
    amend.extend(["--outcome".to_owned(), "amend".to_owned()]);
    recorded_ref(&run(amend));
    let now = load(dir.path());
    let due = |p: &PersonRef| {
        now.people
            .iter()
            .find(|x| x.id == *p)
            .unwrap()
            .review_due
            .to_string()
    };
    assert_eq!((due(&child), due(&adult)), (plus(92), plus(183)));

    let log = events(dir.path());
    let audited = log
        .iter()
        .find(|e| e["review_decision_ref"] == child_review.as_str())
        .expect("the review is audited");
    assert_eq!(audited["event_type"], "alteration");
    assert_eq!(audited["actor_user_id"], "Chair of MACE panel 1");
    assert_eq!(audited["subject_ids"][0], child.as_str());
    assert_eq!(audited["subject_is_child"], true);
    assert!(
        !audited.to_string().contains("exploitation concern"),
        "no rationale text in the log"
    );

    // Past the new date and the grace period the sweep erases the child, citing the review.
    crate::support::cli_ok(
        dir.path(),
        &["retention", "sweep", "--today", &plus(92 + 31)],
    );
    let log = events(dir.path());
    let erasure = log
        .iter()
        .find(|e| e["record_id"] == format!("person:{child}"))
        .expect("the child's erasure record");
    assert_eq!(erasure["review_decision_ref"], child_review.as_str());
    let link_records: Vec<&Value> = d
        .links
        .iter()
        .filter(|l| l.from == child)
        .map(|l| {
            log.iter()
                .find(|e| e["record_id"] == format!("link:{}", l.id))
                .expect("an erasure record per link")
        })
        .collect();
    assert!(
        link_records
            .iter()
            .all(|e| e["review_decision_ref"] == child_review.as_str())
    );
}

#[test]
fn a_remove_decision_erases_the_person_at_once_and_leaves_no_bytes() {
    let dir = private_demo();
    let d = load(dir.path());
    let person = d
        .people
        .iter()
        .find(|p| d.links.iter().any(|l| l.from == p.id))
        .unwrap()
        .id
        .clone();
    let with_date = review(
        dir.path(),
        &[
            "--person",
            person.as_str(),
            "--review-due",
            &plus(30),
            "--rationale",
            RATIONALE,
            "--outcome",
            "remove",
            "--decided-by",
            "A. Reviewer",
        ],
    );
    assert!(!with_date.status.success(), "remove takes no review date");
    let out = review(
        dir.path(),
        &[
            "--person",
            person.as_str(),
            "--rationale",
            RATIONALE,
            "--outcome",
            "remove",
            "--decided-by",
            "A. Reviewer",
        ],
    );
    let decision = recorded_ref(&out);
    let after = load(dir.path());
    assert!(!after.people.iter().any(|p| p.id == person));
    assert!(!after.links.iter().any(|l| l.from == person));
    let log = events(dir.path());
    let erasure = log
        .iter()
        .find(|e| e["record_id"] == format!("person:{person}"))
        .expect("an erasure record");
    assert_eq!(erasure["review_decision_ref"], decision.as_str());
    for l in d.links.iter().filter(|l| l.from == person) {
        assert!(
            log.iter()
                .any(|e| e["record_id"] == format!("link:{}", l.id)
                    && e["review_decision_ref"] == decision.as_str())
        );
    }
    // The review row (it names the person) went with them.
    let pattern = vec![(
        format!("person:{person}"),
        person.as_str().as_bytes().to_vec(),
    )];
    assert_eq!(found_in_store_files(dir.path(), &pattern), vec![]);
}
