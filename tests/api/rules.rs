//! Issue 12 point 6: the safeguards data rules (S1, S2, S4, S18) are checked on the state the
//! store would hold after an import, whatever the order of the files; changed re-imports are
//! audited amendments; refused people and links files are audited with the rule and no content.
//! Everything goes through the real `saferplaces import` against a fresh data directory.

use std::path::{Path, PathBuf};

use saferplaces::domain::Day;

use crate::import::{Run, import_with, stats};
use serde_json::Value;

const AGENCY: &str = "avon-and-somerset-police";

fn import(data: &Path, kind: &str, file: &Path, extra: &[&str]) -> Run {
    let file = file.to_str().unwrap();
    let args = [&[kind, "--agency", AGENCY, file][..], extra].concat();
    // The deployment's own data: no sharing agreement needed (S20 is tested in access.rs).
    import_with(data, &args, &[("SAFERPLACES_CONTROLLER", AGENCY)])
}

fn count(data: &Path, kind: &str) -> u64 {
    stats(data)[kind].as_u64().unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn audit_events(data: &Path) -> Vec<Value> {
    std::fs::read_to_string(data.join("audit/audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .collect()
}

/// `days` after today, as the importer's clock sees it.
fn in_days(days: u16) -> String {
    saferplaces::api::Clock::System
        .today()
        .plus_days(days)
        .to_string()
}

const PEOPLE_HEADER: &str = "ref,birth_year,categories,review_due\n";
const LINKS_HEADER: &str = "ref,kind,from,to_type,to,categories,grade,review_due\n";
const INCIDENTS: &str =
    "ref,category,date,lon,lat,involves_child\nINC-1,drugs,2024-03-14,-2.5833,51.4545,false\n";

/// A fresh data directory with a child `P0000000c` (a victim), an adult witness `P0000000a`
/// and one incident `INC-1`, all from [`AGENCY`].
fn stored_child_adult_and_incident(dir: &Path) {
    let people = write(
        dir,
        "people.csv",
        &format!(
            "{PEOPLE_HEADER}P0000000c,2013,victim,2024-06-30\nP0000000a,1980,witness,2024-06-30\n"
        ),
    );
    let run = import(dir, "people", &people, &[]);
    assert!(run.ok, "{}", run.stdout);
    let run = import(
        dir,
        "incidents",
        &write(dir, "incidents.csv", INCIDENTS),
        &[],
    );
    assert!(run.ok, "{}", run.stdout);
}

#[test]
fn a_links_only_import_cannot_make_a_stored_child_a_suspect_without_a_safeguarding_link() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    stored_child_adult_and_incident(dir);
    let suspect = write(
        dir,
        "suspect.csv",
        &format!(
            "{LINKS_HEADER}LK-1,person_incident,P0000000c,incident,INC-1,suspect,2BP,2024-06-30\n"
        ),
    );
    let refused = import(dir, "links", &suspect, &[]);
    assert!(!refused.ok, "{}", refused.stdout);
    assert!(
        refused
            .stdout
            .contains("suspect.csv: line 2, field CHILD_SUSPECT_NEEDS_SAFEGUARDING_LINK"),
        "{}",
        refused.stdout
    );
    assert_eq!(count(dir, "links"), 0, "nothing from the refused file");
    // With a safeguarding link in the same file the resulting state is allowed.
    let with_safeguarding = write(
        dir,
        "suspect_safeguarded.csv",
        &format!(
            "{LINKS_HEADER}LK-1,person_incident,P0000000c,incident,INC-1,suspect,2BP,2024-06-30\n\
             LK-2,safeguarding,P0000000c,incident,INC-1,child_at_risk_of_exploitation,2BP,2024-06-30\n"
        ),
    );
    let stored = import(dir, "links", &with_safeguarding, &[]);
    assert!(stored.ok, "{}", stored.stdout);
    assert_eq!(count(dir, "links"), 2);
    // And a later people file re-importing the child as a suspect is checked against the links
    // now stored: allowed.
    let amended = write(
        dir,
        "people_suspect.csv",
        &format!("{PEOPLE_HEADER}P0000000c,2013,victim;suspect,2024-06-30\n"),
    );
    assert!(import(dir, "people", &amended, &[]).ok);
}

#[test]
fn an_amended_link_cannot_take_away_a_child_suspects_only_safeguarding_link() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    stored_child_adult_and_incident(dir);
    let v1 = write(
        dir,
        "v1.csv",
        &format!(
            "{LINKS_HEADER}LK-1,person_incident,P0000000c,incident,INC-1,suspect,2BP,2024-06-30\n\
             LK-2,safeguarding,P0000000c,incident,INC-1,child_at_risk_of_exploitation,2BP,2024-06-30\n"
        ),
    );
    assert!(import(dir, "links", &v1, &[]).ok);
    // LK-2 re-imported as a plain victim link: the child would be a suspect with no
    // safeguarding link, so the amendment is refused.
    let v2 = write(
        dir,
        "v2.csv",
        &format!(
            "{LINKS_HEADER}LK-2,person_incident,P0000000c,incident,INC-1,victim,2BP,2024-06-30\n"
        ),
    );
    let refused = import(dir, "links", &v2, &[]);
    assert!(!refused.ok, "{}", refused.stdout);
    assert!(
        refused
            .stdout
            .contains("v2.csv: line 2, field CHILD_SUSPECT_NEEDS_SAFEGUARDING_LINK"),
        "{}",
        refused.stdout
    );
    // A people re-import making the child a suspect is checked against the stored links: with
    // the safeguarding link still stored it is allowed.
    let amended = write(
        dir,
        "people_suspect.csv",
        &format!("{PEOPLE_HEADER}P0000000c,2013,suspect,2024-06-30\n"),
    );
    assert!(import(dir, "people", &amended, &[]).ok);
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a test that walks one scenario end to end"
)]
fn an_exploiter_needs_a_conduct_link_to_an_incident_that_exists_not_a_victim_link() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert!(
        import(
            dir,
            "incidents",
            &write(dir, "incidents.csv", INCIDENTS),
            &[]
        )
        .ok
    );
    let exploiter = write(
        dir,
        "exploiter.csv",
        &format!("{PEOPLE_HEADER}P000000e1,1985,suspected_exploiter_adult,2024-06-30\n"),
    );
    // A victim link to an incident nobody stored: refused before the person exists (dangling
    // `from` and `to`), and it does not let the exploiter in afterwards.
    let victim_nowhere = write(
        dir,
        "victim_nowhere.csv",
        &format!(
            "{LINKS_HEADER}LK-9,person_incident,P000000e1,incident,INC-404,victim,2BP,2024-06-30\n"
        ),
    );
    let links_first = import(dir, "links", &victim_nowhere, &[]);
    assert!(!links_first.ok, "{}", links_first.stdout);
    assert!(
        links_first
            .stdout
            .contains("victim_nowhere.csv: line 2, field from"),
        "{}",
        links_first.stdout
    );
    assert!(
        links_first
            .stdout
            .contains("victim_nowhere.csv: line 2, field to"),
        "{}",
        links_first.stdout
    );
    let people_after = import(dir, "people", &exploiter, &[]);
    assert!(!people_after.ok, "{}", people_after.stdout);
    assert!(
        people_after
            .stdout
            .contains("exploiter.csv: line 2, field EXPLOITER_NEEDS_CONDUCT_ITEM"),
        "{}",
        people_after.stdout
    );
    // In one batch: a victim link is not about their own conduct, even to a stored incident.
    let victim_here = write(
        dir,
        "victim_here.csv",
        &format!(
            "{LINKS_HEADER}LK-9,person_incident,P000000e1,incident,INC-1,victim,2BP,2024-06-30\n"
        ),
    );
    let victim_run = import(
        dir,
        "people",
        &exploiter,
        &["--links", victim_here.to_str().unwrap()],
    );
    assert!(!victim_run.ok, "{}", victim_run.stdout);
    assert!(
        victim_run
            .stdout
            .contains("exploiter.csv: line 2, field EXPLOITER_NEEDS_CONDUCT_ITEM"),
        "{}",
        victim_run.stdout
    );
    // A victim link to a missing incident in the same batch: both rules named.
    let both = import(
        dir,
        "people",
        &exploiter,
        &["--links", victim_nowhere.to_str().unwrap()],
    );
    assert!(!both.ok);
    assert!(both.stdout.contains("field EXPLOITER_NEEDS_CONDUCT_ITEM"));
    assert!(
        both.stdout.contains("victim_nowhere.csv: line 2, field to"),
        "{}",
        both.stdout
    );
    assert_eq!(count(dir, "people"), 0);
    assert_eq!(count(dir, "links"), 0);
    // A suspect link to a stored incident is a conduct item: person and link stored together.
    let conduct = write(
        dir,
        "conduct.csv",
        &format!(
            "{LINKS_HEADER}LK-9,person_incident,P000000e1,incident,INC-1,suspect,2BP,2024-06-30\n"
        ),
    );
    let stored = import(
        dir,
        "people",
        &exploiter,
        &["--links", conduct.to_str().unwrap()],
    );
    assert!(stored.ok, "{}", stored.stdout);
    assert_eq!(stored.summary["stored"], 2, "{}", stored.stdout);
    assert_eq!(count(dir, "people"), 1);
    assert_eq!(count(dir, "links"), 1);
}

#[test]
fn links_to_people_places_and_incidents_that_do_not_exist_are_refused_naming_file_line_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    stored_child_adult_and_incident(dir);
    let links = write(
        dir,
        "dangling.csv",
        &format!(
            "{LINKS_HEADER}LK-1,person_incident,P0000dead,incident,INC-1,witness,2BP,2024-06-30\n\
             LK-2,family,P0000000a,person,P0000beef,witness,2BP,2024-06-30\n\
             LK-3,person_place,P0000000a,place,PL-404,witness,2BP,2024-06-30\n\
             LK-4,person_incident,P0000000a,incident,INC-404,witness,2BP,2024-06-30\n\
             LK-5,person_incident,P0000000a,incident,INC-1,witness,2BP,2024-06-30\n"
        ),
    );
    let refused = import(dir, "links", &links, &[]);
    assert!(!refused.ok, "{}", refused.stdout);
    for expected in [
        "dangling.csv: line 2, field from",
        "dangling.csv: line 3, field to",
        "dangling.csv: line 4, field to",
        "dangling.csv: line 5, field to",
    ] {
        assert!(
            refused.stdout.contains(expected),
            "{expected}: {}",
            refused.stdout
        );
    }
    assert!(
        !refused.stdout.contains("line 6"),
        "the link between existing records is fine: {}",
        refused.stdout
    );
    assert_eq!(count(dir, "links"), 0);
    // With --allow-partial only the link between existing records is stored.
    let partial = import(dir, "links", &links, &["--allow-partial"]);
    assert_eq!(partial.summary["stored"], 1, "{}", partial.stdout);
    assert_eq!(count(dir, "links"), 1);
}

#[test]
fn every_link_touching_a_stored_child_follows_the_child_review_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    stored_child_adult_and_incident(dir);
    // Four months ahead: beyond the child limit (92 days), within the adult one (183).
    let later = in_days(120);
    let links = write(
        dir,
        "links.csv",
        &format!(
            "{LINKS_HEADER}LK-1,person_incident,P0000000c,incident,INC-1,victim,2BP,{later}\n\
             LK-2,family,P0000000a,person,P0000000c,witness,2BP,{later}\n\
             LK-3,person_incident,P0000000a,incident,INC-1,witness,2BP,{later}\n"
        ),
    );
    let refused = import(dir, "links", &links, &[]);
    assert!(!refused.ok, "{}", refused.stdout);
    assert!(
        refused
            .stdout
            .contains("links.csv: line 2, field review_due"),
        "a link from a stored child: {}",
        refused.stdout
    );
    assert!(
        refused
            .stdout
            .contains("links.csv: line 3, field review_due"),
        "a link to a stored child: {}",
        refused.stdout
    );
    assert!(
        !refused.stdout.contains("line 4"),
        "an adult's own link may run six months: {}",
        refused.stdout
    );
    assert_eq!(count(dir, "links"), 0);
}

#[test]
fn refused_people_and_links_files_are_audited_with_the_rule_and_no_content() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agency");
    // A parse rejection (gang member is not a category), an S4 refusal and dangling links.
    let gang = fixtures.join("people_gang_member.csv");
    assert!(!import(dir, "people", &gang, &[]).ok);
    let exploiter = write(
        dir,
        "exploiter.csv",
        &format!("{PEOPLE_HEADER}P000000e1,1985,suspected_exploiter_adult,2024-06-30\n"),
    );
    assert!(!import(dir, "people", &exploiter, &[]).ok);
    let dangling = write(
        dir,
        "dangling.csv",
        &format!("{LINKS_HEADER}LK-1,peer,P0000dead,person,P0000beef,victim,2BP,2024-06-30\n"),
    );
    assert!(!import(dir, "links", &dangling, &[]).ok);
    let events = audit_events(dir);
    let denied: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "collection" && e["decision"] == "deny")
        .collect();
    assert_eq!(denied.len(), 3, "{events:#?}");
    let reasons: Vec<&str> = denied
        .iter()
        .map(|e| e["deny_reason"].as_str().unwrap())
        .collect();
    assert!(reasons[0].contains("categories"), "{reasons:?}");
    assert_eq!(reasons[1], "EXPLOITER_NEEDS_CONDUCT_ITEM");
    assert_eq!(reasons[2], "LINK_FROM_NOT_FOUND,LINK_TARGET_NOT_FOUND");
    for (e, file, rows) in [
        (denied[0], "people_gang_member.csv", 2),
        (denied[1], "exploiter.csv", 1),
        (denied[2], "dangling.csv", 1),
    ] {
        assert_eq!(e["record_count"], rows, "{e}");
        assert!(e["query"]["file"].as_str().unwrap().ends_with(file), "{e}");
        assert_eq!(e["query"]["file_sha256"].as_str().unwrap().len(), 64, "{e}");
        // Ids and codes only: no category, birth year, date or other field value.
        let mut scanned = (*e).clone();
        scanned["event_id"] = Value::Null; // random hex could hold any digits
        scanned["query"]["file_sha256"] = Value::Null;
        scanned["query"]["file"] = Value::Null; // the fixture's name says "gang"
        let text = scanned.to_string();
        for content in [
            "gang",
            "victim",
            "suspected_exploiter",
            "1985",
            "2006",
            "2024-06-30",
        ] {
            assert!(!text.contains(content), "{content} in {text}");
        }
        assert!(
            e["subject_categories"].as_array().is_none_or(Vec::is_empty),
            "{e}"
        );
    }
    // The S4 refusal names its pseudonymous subject (S16 allows ids).
    assert_eq!(denied[1]["subject_ids"][0], "P000000e1");
    assert_eq!(count(dir, "people"), 0);
}

#[test]
fn a_changed_re_import_is_an_audited_amendment_that_keeps_the_old_version() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    stored_child_adult_and_incident(dir);
    let same = import(dir, "people", &dir.join("people.csv"), &[]);
    assert!(same.ok);
    assert_eq!(
        same.summary["stored"], 0,
        "an identical re-import stores nothing"
    );
    assert!(
        !audit_events(dir)
            .iter()
            .any(|e| e["event_type"] == "alteration"),
        "and is no alteration"
    );
    let changed = write(
        dir,
        "people_changed.csv",
        &format!(
            "{PEOPLE_HEADER}P0000000c,2013,victim,2024-06-30\nP0000000a,1980,witness;victim,2024-07-31\n"
        ),
    );
    let run = import(dir, "people", &changed, &[]);
    assert!(run.ok, "{}", run.stdout);
    assert_eq!(run.summary["stored"], 1, "{}", run.stdout);
    assert_eq!(run.summary["duplicates"], 1, "{}", run.stdout);
    assert_eq!(count(dir, "people"), 2, "still two people");
    let alterations: Vec<Value> = audit_events(dir)
        .into_iter()
        .filter(|e| e["event_type"] == "alteration")
        .collect();
    assert_eq!(alterations.len(), 1, "{alterations:#?}");
    let a = &alterations[0];
    assert_eq!(a["subject_ids"], serde_json::json!(["P0000000a"]));
    assert_eq!(
        a["query"]["fields_changed"],
        serde_json::json!(["categories", "review_due"])
    );
    assert!(
        !a.to_string().contains("2024-07-31"),
        "names, not values: {a}"
    );
    // The store holds the new version and keeps the old one for audit.
    let db = rusqlite::Connection::open(dir.join("saferplaces.sqlite3")).unwrap();
    let now: String = db
        .query_row(
            "SELECT categories FROM people WHERE id = 'P0000000a'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(now, r#"["witness","victim"]"#);
    let old: Vec<(String, i64)> = db
        .prepare("SELECT categories, review_due FROM person_versions WHERE id = 'P0000000a'")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let june: Day = "2024-06-30".parse().unwrap();
    assert_eq!(
        old,
        vec![(
            r#"["witness"]"#.to_owned(),
            i64::from(june.days_since_epoch())
        )]
    );
    // Importing the changed file again is idempotent.
    let again = import(dir, "people", &changed, &[]);
    assert_eq!(again.summary["stored"], 0, "{}", again.stdout);
}

#[test]
fn a_changed_link_is_an_audited_amendment_too() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    stored_child_adult_and_incident(dir);
    let v1 = write(
        dir,
        "l1.csv",
        &format!(
            "{LINKS_HEADER}LK-1,person_incident,P0000000a,incident,INC-1,witness,2BP,2024-06-30\n"
        ),
    );
    assert!(import(dir, "links", &v1, &[]).ok);
    assert_eq!(import(dir, "links", &v1, &[]).summary["stored"], 0);
    let v2 = write(
        dir,
        "l2.csv",
        &format!(
            "{LINKS_HEADER}LK-1,person_incident,P0000000a,incident,INC-1,witness,1AP,2024-06-30\n"
        ),
    );
    let run = import(dir, "links", &v2, &[]);
    assert!(run.ok, "{}", run.stdout);
    assert_eq!(run.summary["stored"], 1, "{}", run.stdout);
    assert_eq!(count(dir, "links"), 1);
    let alteration = audit_events(dir)
        .into_iter()
        .find(|e| e["event_type"] == "alteration")
        .unwrap();
    assert_eq!(
        alteration["query"]["fields_changed"],
        serde_json::json!(["grade"])
    );
    assert_eq!(alteration["subject_ids"], serde_json::json!(["P0000000a"]));
    let db = rusqlite::Connection::open(dir.join("saferplaces.sqlite3")).unwrap();
    let old: String = db
        .query_row("SELECT grade FROM link_versions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(old, "2BP");
}
