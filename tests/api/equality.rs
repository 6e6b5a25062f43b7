//! The S22 disproportionality monitor (issue 13, points 6 and 7): `saferplaces equality run`
//! and `close` through the real CLI, the `equality_monitor` role, and
//! `GET /api/v1/equality/latest` on a private copy of the demo data.

use std::path::Path;

use serde_json::Value;

use crate::support::{TestApp, cli, private_demo, spawn_serve};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The CLI's audit log in `dir` (`<data_dir>/audit/audit.jsonl`).
fn cli_audit(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("audit").join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn alerts(dir: &Path) -> Vec<Value> {
    let out = cli(dir, &["equality", "alerts"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str::<Value>(&stdout(&out))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a test that walks one scenario end to end"
)]
fn the_demo_runs_the_monitor_and_an_alert_closes_only_with_an_explain_or_reform_record() {
    let demo = private_demo();
    let dir = demo.path();
    // The demo ran its last full month (2026-10) and the month before at generation.
    let open = alerts(dir);
    assert!(!open.is_empty(), "the synthetic demo raises no alert");
    assert!(
        open.iter()
            .all(|a| a["status"] == "open" && a["month"] == "2026-10")
    );
    let log = cli_audit(dir);
    let alert_events: Vec<&Value> = log
        .iter()
        .filter(|e| {
            e["event"]["event_type"] == "alert"
                && e["event"]["query"]["rule"] == "s22_disproportionality"
        })
        .collect();
    assert_eq!(
        alert_events.len(),
        open.len(),
        "one audited alert per alert"
    );

    // A re-run stores the month again and opens no duplicate alert.
    let out = cli(dir, &["equality", "run", "--month", "2026-10", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["month"], "2026-10");
    assert_eq!(report["computed_previous"], false);
    assert!(report["comparisons"].as_array().unwrap().len() > 10);
    assert_eq!(report["alerts_opened"], serde_json::json!([]));
    assert_eq!(alerts(dir).len(), open.len());

    let id = open[0]["id"].as_u64().unwrap().to_string();
    // Refused: no record, a short record, an unknown outcome, an unknown alert.
    for (args, why) in [
        (
            vec!["--outcome", "explain", "--record", "noted"],
            "at least 30",
        ),
        (
            vec![
                "--outcome",
                "explain",
                "--record",
                "   short, padded           ",
            ],
            "at least 30",
        ),
        (
            vec![
                "--outcome",
                "ignore",
                "--record",
                "the board discussed this at length and moved on",
            ],
            "outcome",
        ),
    ] {
        let mut full = vec!["equality", "close", "--alert", id.as_str()];
        full.extend(args);
        let out = cli(dir, &full);
        assert!(!out.status.success(), "{full:?} was accepted");
        assert!(stderr(&out).contains(why), "{full:?}: {}", stderr(&out));
    }
    let out = cli(
        dir,
        &["equality", "close", "--alert", &id, "--outcome", "reform"],
    );
    assert!(!out.status.success(), "closed without --record");
    assert_eq!(alerts(dir)[0]["status"], "open");
    let refusals = cli_audit(dir)
        .iter()
        .filter(|e| {
            e["event"]["query"]["command"] == "equality close" && e["event"]["decision"] == "deny"
        })
        .count();
    assert_eq!(refusals, 3, "every refused close is audited");

    let record = "Board 2026-11-20: practice changed; referrals now need a second reviewer.";
    let out = cli(
        dir,
        &[
            "equality",
            "close",
            "--alert",
            &id,
            "--outcome",
            "reform",
            "--record",
            record,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let closed = alerts(dir)
        .into_iter()
        .find(|a| a["id"].as_u64().map(|n| n.to_string()).as_deref() == Some(id.as_str()))
        .unwrap();
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["outcome"], "reform");
    assert_eq!(closed["record"], record);
    // A closed alert does not close again.
    let out = cli(
        dir,
        &[
            "equality",
            "close",
            "--alert",
            &id,
            "--outcome",
            "explain",
            "--record",
            record,
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no open equality alert"),
        "{}",
        stderr(&out)
    );
    let allowed = cli_audit(dir)
        .iter()
        .filter(|e| {
            e["event"]["query"]["command"] == "equality close" && e["event"]["decision"] == "allow"
        })
        .count();
    assert_eq!(allowed, 1);

    // A month that is not a month is refused, naming the field.
    let out = cli(dir, &["equality", "run", "--month", "2026-13"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("month"), "{}", stderr(&out));
}

#[test]
fn a_bad_baseline_file_is_refused_naming_file_line_and_field() {
    let demo = tempfile::tempdir().unwrap();
    let file = demo.path().join("baselines.csv");
    std::fs::write(
        &file,
        "authority,msoa,dimension,group,residents\nE06000023,,ethnicity,black,12\nE06000023,,ethnicity,purple,3\n",
    )
    .unwrap();
    let out = cli(
        demo.path(),
        &["equality", "baselines", file.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("baselines.csv:3") && err.contains("field group"),
        "{err}"
    );
    std::fs::write(
        &file,
        "authority,msoa,dimension,group,residents\nE06000023,E02003012,ethnicity,black,12\n",
    )
    .unwrap();
    let out = cli(
        demo.path(),
        &["equality", "baselines", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("loaded 1 resident baseline rows"));
}

/// Starts `saferplaces serve` on `dir` with its own audit log.
fn serve(dir: &Path) -> TestApp {
    spawn_serve(dir, |_| {})
}

fn add_user(dir: &Path, name: &str, role: &str) -> String {
    let out = cli(dir, &["user", "add", "--name", name, "--role", role]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).lines().last().unwrap().trim().to_owned()
}

#[test]
fn only_the_equality_monitor_reads_the_latest_results_and_counts_are_protected() {
    let demo = private_demo();
    let dir = demo.path();
    let monitor = add_user(dir, "equality-officer", "equality_monitor");
    let planner = add_user(dir, "a-planner", "planner");
    let police = add_user(dir, "a-police-analyst", "police_analyst");
    let auditor = add_user(dir, "an-auditor", "auditor");
    // The grant of the role is audited like any user add.
    assert!(cli_audit(dir).iter().any(|e| {
        e["event"]["query"]["command"] == "user add"
            && e["event"]["query"]["role"] == "equality_monitor"
            && e["event"]["query"]["user"] == "equality-officer"
    }));
    let app = serve(dir);
    let bearer = |t: &str| format!("Bearer {t}");
    let purpose = ("X-Purpose", "equality_monitoring");

    let ok = app.get_with(
        "/api/v1/equality/latest",
        &[("Authorization", &bearer(&monitor)), purpose],
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    let body = ok.json();
    assert_eq!(body["month"], "2026-10");
    let results = body["results"].as_array().unwrap();
    assert!(!results.is_empty());
    let mut suppressed = 0;
    for r in results {
        suppressed += protected_counts(r);
    }
    assert!(
        suppressed > 0,
        "the demo month has small counts to suppress"
    );
    assert!(!body["open_alerts"].as_array().unwrap().is_empty());
    // The read is audited with its purpose.
    assert!(app.audit_entries().iter().any(|e| {
        e["event"]["query"]["route"] == "/api/v1/equality/latest"
            && e["event"]["decision"] == "allow"
            && e["event"]["purpose_code"] == "equality_monitoring"
    }));

    // The purpose is required, and no other purpose will do.
    let none = app.get_with(
        "/api/v1/equality/latest",
        &[("Authorization", &bearer(&monitor))],
    );
    assert_eq!(none.status, 428, "{}", none.body);
    let other = app.get_with(
        "/api/v1/equality/latest",
        &[
            ("Authorization", &bearer(&monitor)),
            ("X-Purpose", "safeguarding_children"),
        ],
    );
    assert_eq!(other.status, 403, "{}", other.body);
    // Every other role is refused, and anonymous callers must authenticate.
    for token in [&planner, &police, &auditor] {
        let r = app.get_with(
            "/api/v1/equality/latest",
            &[("Authorization", &bearer(token)), purpose],
        );
        assert_eq!(r.status, 403, "{}", r.body);
    }
    assert_eq!(
        app.get_with("/api/v1/equality/latest", &[purpose]).status,
        401
    );
    // The equality monitor reads nothing place- or person-level.
    for path in [
        "/api/v1/incidents?bbox=-2.6,51.45,-2.59,51.46",
        "/api/v1/places",
        "/api/v1/people",
    ] {
        let r = app.get_with(path, &[("Authorization", &bearer(&monitor)), purpose]);
        assert_eq!(r.status, 403, "{path}: {}", r.body);
    }
}

/// Two people of the demo data in `dir`, and their stored equality attributes.
fn two_people(
    dir: &Path,
) -> (
    saferplaces::domain::PersonRef,
    saferplaces::domain::PersonRef,
    std::collections::BTreeMap<
        saferplaces::domain::PersonRef,
        saferplaces::safeguards::equality::PersonEquality,
    >,
) {
    use saferplaces::store::Store as _;
    let store = saferplaces::store::SqliteStore::open(dir).unwrap();
    let people = store.load().unwrap().people;
    (
        people[0].id.clone(),
        people[1].id.clone(),
        store.person_equality().unwrap(),
    )
}

fn stored_attributes(
    dir: &Path,
) -> std::collections::BTreeMap<
    saferplaces::domain::PersonRef,
    saferplaces::safeguards::equality::PersonEquality,
> {
    saferplaces::store::SqliteStore::open(dir)
        .unwrap()
        .person_equality()
        .unwrap()
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a test that walks one scenario end to end"
)]
fn equality_attributes_import_from_a_file_whole_or_not_at_all_and_audited_without_values() {
    use saferplaces::safeguards::equality::{Ethnicity, Sex};
    let demo = private_demo();
    let dir = demo.path();
    let (p1, p2, before) = two_people(dir);
    let file = dir.join("attributes.csv");
    let path = file.to_str().unwrap();
    let header = "person_id,ethnicity,sex,deprivation_decile,authority,msoa";

    // A bad value on line 3 refuses the whole file: the good line 2 is not stored either.
    std::fs::write(
        &file,
        format!("{header}\n{p1},mixed,female,4,E06000023,E02003012\n{p2},purple,male,,,\n"),
    )
    .unwrap();
    let out = cli(dir, &["equality", "import-attributes", path]);
    assert!(!out.status.success(), "a bad file was accepted");
    let err = stderr(&out);
    assert!(
        err.contains("attributes.csv:3") && err.contains("field ethnicity"),
        "{err}"
    );
    assert_eq!(
        stored_attributes(dir),
        before,
        "a refused file changed the store"
    );

    // A person who is not stored is named by line; nothing is stored.
    std::fs::write(
        &file,
        format!("{header}\n{p1},mixed,female,4,E06000023,E02003012\n\nPffffffff,white,male,,,\n"),
    )
    .unwrap();
    let out = cli(dir, &["equality", "import-attributes", path]);
    assert!(!out.status.success(), "an unknown person was accepted");
    let err = stderr(&out);
    assert!(
        err.contains("attributes.csv:4")
            && err.contains("field person_id")
            && err.contains("Pffffffff"),
        "{err}"
    );
    assert_eq!(
        stored_attributes(dir),
        before,
        "a refused file changed the store"
    );

    // A good file replaces both people's attributes.
    std::fs::write(
        &file,
        format!("{header}\n{p1},mixed,female,4,E06000023,E02003012\n{p2},not_stated,male,,,\n"),
    )
    .unwrap();
    let out = cli(dir, &["equality", "import-attributes", path]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("equality attributes of 2 people"),
        "{}",
        stdout(&out)
    );
    let after = stored_attributes(dir);
    assert_eq!(after.len(), before.len());
    let a1 = &after[&p1];
    assert_eq!(
        (
            a1.ethnicity,
            a1.sex,
            a1.deprivation_decile,
            a1.authority.as_deref(),
            a1.msoa.as_deref()
        ),
        (
            Ethnicity::Mixed,
            Sex::Female,
            Some(4),
            Some("E06000023"),
            Some("E02003012")
        )
    );
    let a2 = &after[&p2];
    assert_eq!(
        (
            a2.ethnicity,
            a2.sex,
            a2.deprivation_decile,
            a2.authority.as_deref(),
            a2.msoa.as_deref()
        ),
        (Ethnicity::NotStated, Sex::Male, None, None, None)
    );

    // Audited: two refusals and one import, with counts and never an attribute value.
    let events: Vec<Value> = cli_audit(dir)
        .into_iter()
        .filter(|e| e["event"]["query"]["command"] == "equality import-attributes")
        .collect();
    let decisions: Vec<&str> = events
        .iter()
        .map(|e| e["event"]["decision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["deny", "deny", "allow"]);
    let ok = &events[2]["event"];
    assert_eq!(ok["event_type"], "collection");
    assert_eq!(ok["record_count"], 2);
    assert_eq!(ok["query"]["people"], 2);
    assert_eq!(ok["query"]["with_msoa"], 1);
    for e in &events {
        let text = e.to_string();
        for value in [
            "mixed",
            "purple",
            "female",
            "E02003012",
            "E06000023",
            "not_stated",
        ] {
            assert!(
                !text.contains(value),
                "the audit record holds {value:?}: {text}"
            );
        }
    }
}

#[test]
fn people_imported_with_an_msoa_are_compared_by_msoa_and_by_the_msoas_deprivation_decile() {
    use std::fmt::Write as _;
    let demo = private_demo();
    let dir = demo.path();
    let (_, _, before) = two_people(dir);
    // Baselines by MSOA, each MSOA's decile in the decile column.
    let baselines = dir.join("baselines.csv");
    std::fs::write(
        &baselines,
        "authority,msoa,dimension,group,residents,decile\n\
         E06000023,E02000001,sex,female,3000,1\n\
         E06000023,E02000001,sex,male,3100,1\n\
         E06000023,E02000002,sex,female,4000,10\n\
         E06000023,E02000002,sex,male,4100,10\n",
    )
    .unwrap();
    let out = cli(dir, &["equality", "baselines", baselines.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Every person with attributes gets one of the two MSOAs and no decile of their own.
    let mut csv = String::from("person_id,ethnicity,sex,deprivation_decile,authority,msoa\n");
    for (i, a) in before.values().enumerate() {
        let msoa = if i % 2 == 0 { "E02000001" } else { "E02000002" };
        writeln!(
            csv,
            "{},{},{},,E06000023,{msoa}",
            a.person.as_str(),
            a.ethnicity.code(),
            a.sex.code()
        )
        .unwrap();
    }
    let attributes = dir.join("attributes.csv");
    std::fs::write(&attributes, csv).unwrap();
    let out = cli(
        dir,
        &[
            "equality",
            "import-attributes",
            attributes.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let out = cli(dir, &["equality", "run", "--month", "2026-10", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let comparisons = report["comparisons"].as_array().unwrap();
    let of = |population: &str, dimension: &str| {
        comparisons
            .iter()
            .find(|c| c["population"] == population && c["dimension"] == dimension)
            .unwrap_or_else(|| panic!("no {population} {dimension} comparison: {report}"))
    };
    let counts = |c: &Value| ["a_g", "n_g", "a_r", "n_r"].map(|k| c["counts"][k].as_u64().unwrap());
    let mut checked = 0;
    for population in comparisons
        .iter()
        .filter(|c| c["dimension"] == "msoa")
        .map(|c| c["population"].as_str().unwrap())
    {
        let msoa = of(population, "msoa");
        let decile = of(population, "deprivation_decile");
        // Deciles: 1 (E02000001) against the reference 10 (E02000002).
        assert_eq!(
            (&decile["group"], &decile["reference"]),
            (&"1".into(), &"10".into())
        );
        let [a_g, n_g, a_r, n_r] = counts(decile);
        if population.starts_with("intelligence:") {
            // Against residents: the MSOA's residents are its decile's, and E02000002 (8100)
            // is the MSOA reference.
            assert_eq!(
                (msoa["group"].as_str(), msoa["reference"].as_str()),
                (Some("E02000001"), Some("E02000002"))
            );
            assert_eq!(counts(msoa), [a_g, 6100, a_r, 8100], "{population}");
            assert_eq!((n_g, n_r), (6100, 8100));
        } else {
            // Within the children recorded as suspect or victim.
            let m = counts(msoa);
            assert_eq!(m[0] + m[2], a_g + a_r, "{population}");
            assert_eq!(m[1] + m[3], n_g + n_r, "{population}");
        }
        checked += 1;
    }
    assert!(
        checked >= 2,
        "no MSOA comparison in the demo month: {report}"
    );
}

#[test]
fn imported_equality_attributes_appear_in_no_person_level_response() {
    use saferplaces::store::Store as _;
    let demo = private_demo();
    let dir = demo.path();
    let data = saferplaces::store::SqliteStore::open(dir)
        .unwrap()
        .load()
        .unwrap();
    let (op_case, _) = crate::support::test_assigned_cases(&data);
    let case = data
        .cases
        .iter()
        .find(|c| c.reference.to_string() == op_case)
        .unwrap();
    // The case's subjects get attributes with an MSOA code found nowhere else.
    let mut csv = String::from("person_id,ethnicity,sex,deprivation_decile,authority,msoa\n");
    for p in &case.subjects {
        csv.push_str(p.as_str());
        csv.push_str(",mixed,female,3,E06000023,E02999999\n");
    }
    let file = dir.join("attributes.csv");
    std::fs::write(&file, csv).unwrap();
    let out = cli(
        dir,
        &["equality", "import-attributes", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let out = crate::support::cli_ok(
        dir,
        &[
            "user",
            "add",
            "--name",
            "an-analyst",
            "--role",
            "police_analyst",
            "--org",
            "synthetic-police",
        ],
    );
    let analyst = stdout(&out).lines().last().unwrap().trim().to_owned();
    crate::support::assign_case(dir, &op_case, "an-analyst");
    let app = serve(dir);
    let auth = format!("Bearer {analyst}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("X-Purpose", "disrupting_exploitation"),
        ("X-Case-Ref", op_case.as_str()),
        ("X-Legal-Basis", "dpa_2018_s35_law_enforcement"),
    ];
    let mut paths = vec!["/api/v1/people".to_owned()];
    for p in &case.subjects {
        paths.push(format!("/api/v1/people/{}", p.as_str()));
        paths.push(format!("/api/v1/people/{}/links", p.as_str()));
    }
    for path in &paths {
        let r = app.get_with(path, &headers);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        for needle in ["E02999999", "ethnicity", "\"msoa\"", "deprivation_decile"] {
            assert!(
                !r.body.contains(needle),
                "{path} carries {needle}: {}",
                r.body
            );
        }
    }
}

/// S22, "a monitor that runs itself": by default the server runs the monitor for the last full
/// month once its records are in and the store has no result for it (here November 2026, after
/// a police.uk file for November is imported; the demo ran October at generation), audited as
/// the system, and the equality monitor sees it at once.
#[test]
fn the_server_runs_the_monitor_itself_for_the_last_full_month() {
    let demo = private_demo();
    let dir = demo.path();
    let monitor = add_user(dir, "equality-officer", "equality_monitor");
    let november = dir.join("2026-11-street.csv");
    std::fs::write(
        &november,
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\n\
         ,2026-11,Avon and Somerset Constabulary,Avon and Somerset Constabulary,-2.589,51.454,On or near Broad Street,E01014540,Bristol 032B,Anti-social behaviour,,\n",
    )
    .unwrap();
    let run = crate::import::import_with(dir, &["police-street", november.to_str().unwrap()], &[]);
    assert!(run.ok, "{}", run.stdout);
    let app = spawn_serve(dir, |cmd| {
        // The default: the variable unset.
        cmd.env("SAFERPLACES_TODAY", "2026-12-07")
            .env_remove("SAFERPLACES_EQUALITY_MONTHLY");
    });
    let headers = [
        ("Authorization", format!("Bearer {monitor}")),
        ("X-Purpose", "equality_monitoring".to_owned()),
    ];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut month = Value::Null;
    for _ in 0..100 {
        let reply = app.get_with("/api/v1/equality/latest", &headers);
        assert_eq!(reply.status, 200, "{}", reply.body);
        month = reply.json()["month"].clone();
        if month == "2026-11" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        month, "2026-11",
        "the server did not run the last full month"
    );
    let log = std::fs::read_to_string(app.audit_dir.path().join("audit.jsonl")).unwrap_or_default();
    assert!(
        log.lines().any(|l| l.contains("system:equality-monthly")),
        "the run is not audited as the system"
    );
}

/// The demo's synthetic people carry an MSOA inside their authority (issue 13, point 6: baselines
/// "by authority and MSOA"), so the latest result an `equality_monitor` reads breaks the
/// populations down by MSOA, with the same disclosure control as the other breakdowns: small
/// MSOA counts are suppressed with the RRI derived from them.
#[test]
fn the_demos_latest_result_breaks_down_by_msoa_and_protects_its_small_counts() {
    let demo = private_demo();
    let dir = demo.path();
    let monitor = add_user(dir, "equality-officer", "equality_monitor");
    let app = serve(dir);
    let reply = app.get_with(
        "/api/v1/equality/latest",
        &[
            ("Authorization", &format!("Bearer {monitor}")),
            ("X-Purpose", "equality_monitoring"),
        ],
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["month"], "2026-10");
    let results = body["results"].as_array().unwrap();
    let msoa: Vec<&Value> = results
        .iter()
        .filter(|r| r["dimension"] == "msoa")
        .collect();
    assert!(
        !msoa.is_empty(),
        "the demo's latest result has no MSOA comparison"
    );
    let populations: std::collections::BTreeSet<&str> = msoa
        .iter()
        .map(|r| r["population"].as_str().unwrap())
        .collect();
    assert!(
        populations.contains("intelligence:suspect")
            && populations.contains("child_suspect_vs_victim"),
        "{populations:?}"
    );

    // Groups and references are MSOAs of the demo's authorities (the repository's code list:
    // code, name, authority).
    let list = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata/msoa/msoa11.csv"),
    )
    .unwrap();
    let authority_of: std::collections::BTreeMap<&str, &str> = list
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some((*f.first()?, *f.last()?))
        })
        .collect();
    let mut authorities = std::collections::BTreeSet::new();
    let mut suppressed = 0;
    for r in &msoa {
        for k in ["group", "reference"] {
            let code = r[k].as_str().unwrap();
            let authority = authority_of
                .get(code)
                .unwrap_or_else(|| panic!("{k} {code:?} is not a demo MSOA: {r}"));
            authorities.insert(*authority);
        }
        suppressed += protected_counts(r);
    }
    assert!(suppressed > 0, "no small MSOA count was suppressed");
    // Bristol's MSOAs and its neighbours' (every authority with a youth population).
    assert!(
        ["E06000023", "E06000024", "E06000025"]
            .iter()
            .all(|a| authorities.contains(a)),
        "{authorities:?}"
    );
    // MSOA resident baselines (10-24) are large enough to publish, rounded.
    for r in msoa
        .iter()
        .filter(|r| r["population"] == "intelligence:suspect")
    {
        assert!(
            r["group_baseline"]["count"]
                .as_u64()
                .is_some_and(|n| n >= 10),
            "an MSOA's residents were suppressed: {r}"
        );
    }
}

/// Checks that one published comparison is disclosure-controlled (S21): every count is
/// suppressed (null), 0 (a baseline; a monitored zero is shown as suppressed), or at least 10
/// and a multiple of 5, and a suppressed comparison has no RRI, interval or flag. Returns how
/// many of its counts are suppressed.
fn protected_counts(r: &Value) -> usize {
    let mut suppressed = 0;
    for k in [
        "group_monitored",
        "group_baseline",
        "reference_monitored",
        "reference_baseline",
    ] {
        let c = &r[k];
        if c["suppressed"] == true {
            assert!(c["count"].is_null(), "{r}");
            suppressed += 1;
        } else {
            let n = c["count"].as_u64().unwrap();
            let zero_allowed = k.ends_with("baseline");
            assert!(
                (n == 0 && zero_allowed) || (n >= 10 && n.is_multiple_of(5)),
                "{k} {n} is not protected: {r}"
            );
        }
    }
    if r["suppressed"] == true {
        assert!(
            r["rri"].is_null() && r["ci"].is_null() && r["flagged"].is_null(),
            "{r}"
        );
    }
    suppressed
}
