//! `saferplaces incident withdraw|amend` through the real binary (issue 15, point 1): the
//! withdrawn incidents leave the store's served records, the amended one is replaced under a
//! new id, each write is audited, and refusals name the id or field and write nothing.

use std::path::Path;
use std::process::Output;

use saferplaces::domain::{Category, Incident};
use serde_json::Value;

use crate::erasure::load;
use crate::support::{cli, private_demo, spawn_serve, wait_until};

const REASON: &str = "recorded twice in error by the source agency";

fn events(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("audit").join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .collect()
}

fn incident_events(dir: &Path) -> Vec<Value> {
    events(dir)
        .into_iter()
        .filter(|event| {
            event["query"]["command"]
                .as_str()
                .is_some_and(|c| c.starts_with("incident "))
        })
        .collect()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}{}", stdout(out), stderr(out));
    stdout(out)
}

/// Exit status 1 with `needle` in the error.
fn refused(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(out), stderr(out));
    assert!(
        stderr(out).contains(needle),
        "{needle:?} not in {}",
        stderr(out)
    );
}

fn stored_incidents(dir: &Path) -> Vec<Incident> {
    load(dir).incidents
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a test that walks one scenario end to end"
)]
fn withdraw_and_amend_change_what_is_served_are_audited_and_refusals_write_nothing() {
    let dir = private_demo();
    let d = dir.path();
    let before = stored_incidents(d);
    let (a, b, c) = (before[0].id.get(), before[1].id.get(), before[2].clone());
    let (a_s, b_s) = (a.to_string(), b.to_string());

    let out = ok(&cli(
        d,
        &[
            "incident",
            "withdraw",
            "--id",
            &a_s,
            "--id",
            &b_s,
            "--reason",
            REASON,
            "--by",
            "Data Protection Officer",
        ],
    ));
    assert!(
        out.contains(&format!("withdrew incident {a} (withdrawal 1)")),
        "{out}"
    );
    assert!(
        out.contains(&format!("withdrew incident {b} (withdrawal 2)")),
        "{out}"
    );
    assert!(out.contains("the stored records are kept"), "{out}");
    let after = stored_incidents(d);
    assert_eq!(after.len(), before.len() - 2);
    assert!(!after.iter().any(|i| i.id.get() == a || i.id.get() == b));
    let stats = ok(&cli(d, &["stats", "--json"]));
    let counts: Value = serde_json::from_str(stats.trim()).unwrap();
    assert_eq!(counts["incidents"], before.len() as u64 - 2);

    let audited = incident_events(d);
    assert_eq!(audited.len(), 1, "{audited:?}");
    let event = &audited[0];
    assert_eq!(event["event_type"], "alteration");
    assert_eq!(event["client"], "cli");
    assert_eq!(event["actor_user_id"], "Data Protection Officer");
    assert_eq!(event["record_count"], 2);
    assert_eq!(event["query"]["command"], "incident withdraw");
    assert_eq!(event["query"]["ids"], serde_json::json!([a, b]));
    assert_eq!(event["query"]["withdrawals"], serde_json::json!([1, 2]));
    assert!(
        !event.to_string().contains("source agency"),
        "the reason stays in the store, not the audit log: {event}"
    );

    // Refusals: each names the id or field, exits 1, and writes nothing.
    let all_events = events(d).len();
    refused(
        &cli(
            d,
            &[
                "incident", "withdraw", "--id", &a_s, "--reason", REASON, "--by", "x",
            ],
        ),
        &format!("incident {a} is already withdrawn"),
    );
    refused(
        &cli(
            d,
            &[
                "incident",
                "withdraw",
                "--id",
                &c.id.to_string(),
                "--id",
                "4242424242",
                "--reason",
                REASON,
                "--by",
                "x",
            ],
        ),
        "no incident \"4242424242\" is stored",
    );
    refused(
        &cli(
            d,
            &[
                "incident",
                "withdraw",
                "--id",
                &c.id.to_string(),
                "--reason",
                "oops",
                "--by",
                "x",
            ],
        ),
        "reason: 4 characters; give at least 10",
    );
    refused(
        &cli(
            d,
            &[
                "incident",
                "amend",
                "--id",
                &c.id.to_string(),
                "--category",
                "arson?",
                "--reason",
                REASON,
                "--by",
                "x",
            ],
        ),
        "--category \"arson?\"",
    );
    refused(
        &cli(
            d,
            &[
                "incident",
                "amend",
                "--id",
                &c.id.to_string(),
                "--reason",
                REASON,
                "--by",
                "x",
            ],
        ),
        "nothing to amend",
    );
    refused(
        &cli(
            d,
            &[
                "incident",
                "amend",
                "--id",
                &c.id.to_string(),
                "--lon",
                "-2.6",
                "--lat",
                "95",
                "--reason",
                REASON,
                "--by",
                "x",
            ],
        ),
        "latitude",
    );
    // --lon without --lat is a usage error (clap's status 2).
    let usage = cli(
        d,
        &[
            "incident",
            "amend",
            "--id",
            &c.id.to_string(),
            "--lon",
            "-2.6",
            "--reason",
            REASON,
        ],
    );
    assert_eq!(usage.status.code(), Some(2), "{}", stderr(&usage));
    assert!(stderr(&usage).contains("--lat"), "{}", stderr(&usage));
    assert_eq!(
        events(d).len(),
        all_events,
        "a refusal is not audited as a write"
    );
    assert_eq!(stored_incidents(d), after, "nothing changed");

    // An amendment: the corrected incident under a new id, the old one withdrawn.
    let category = if c.category == Category::KnifeCrime {
        Category::Robbery
    } else {
        Category::KnifeCrime
    };
    let out = ok(&cli(
        d,
        &[
            "incident",
            "amend",
            "--id",
            &c.id.to_string(),
            "--category",
            category.slug(),
            "--lon",
            "-2.5912",
            "--lat",
            "51.4545",
            "--date",
            "2024-02-29",
            "--reason",
            REASON,
            "--by",
            "Data Protection Officer",
        ],
    ));
    let new_id: u64 = out
        .split_whitespace()
        .skip_while(|w| *w != "as")
        .nth(2)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no new id in {out}"));
    assert!(
        out.starts_with(&format!(
            "amended incident {} as incident {new_id} (category, location, day); incident {} is withdrawn (withdrawal 3), replaced by {new_id}",
            c.id, c.id
        )),
        "{out}"
    );
    let amended = stored_incidents(d);
    assert_eq!(amended.len(), after.len(), "one out, one in");
    assert!(!amended.iter().any(|i| i.id == c.id));
    let new = amended.iter().find(|i| i.id.get() == new_id).unwrap();
    assert_eq!(new.category, category);
    assert_eq!(new.time.day.to_string(), "2024-02-29");
    let point = new.location.unwrap().point;
    assert!((point.lon() + 2.5912).abs() < 1e-12 && (point.lat() - 51.4545).abs() < 1e-12);
    assert_eq!(new.provenance, c.provenance);
    let audited = incident_events(d);
    assert_eq!(audited.len(), 2);
    let event = &audited[1];
    assert_eq!(event["event_type"], "alteration");
    assert_eq!(event["query"]["command"], "incident amend");
    assert_eq!(event["query"]["id"], c.id.get());
    assert_eq!(event["query"]["new_id"], new_id);
    assert_eq!(
        event["query"]["fields"],
        serde_json::json!(["category", "location", "day"])
    );
    assert_eq!(event["query"]["withdrawal"], 3);

    // The old id cannot be amended again: the error names its replacement.
    refused(
        &cli(
            d,
            &[
                "incident",
                "amend",
                "--id",
                &c.id.to_string(),
                "--date",
                "2024-03-01",
                "--reason",
                REASON,
                "--by",
                "x",
            ],
        ),
        &format!("replaced by incident {new_id}"),
    );
    // The store still passes its own check.
    ok(&cli(d, &["check", "--full"]));
}

#[test]
fn a_running_server_reads_past_withdrawals_in_the_change_feed() {
    let dir = private_demo();
    let d = dir.path();
    let ids: Vec<String> = stored_incidents(d)
        .iter()
        .take(2)
        .map(|i| i.id.to_string())
        .collect();
    let app = spawn_serve(d, |_| {});
    ok(&cli(
        d,
        &[
            "incident", "withdraw", "--id", &ids[0], "--reason", REASON, "--by", "x",
        ],
    ));
    ok(&cli(
        d,
        &[
            "incident",
            "amend",
            "--id",
            &ids[1],
            "--date",
            "2024-02-29",
            "--reason",
            REASON,
            "--by",
            "x",
        ],
    ));
    // A user added after them signs in only once the server has read the feed past the
    // withdrawals: a kind it could not read would stop every later change.
    let out = ok(&cli(
        d,
        &[
            "user",
            "add",
            "--name",
            "after-withdrawal",
            "--role",
            "vru_analyst",
        ],
    ));
    let token = out.lines().last().unwrap().trim().to_owned();
    let headers = [("Authorization".to_owned(), format!("Bearer {token}"))];
    wait_until("the later user's sign-in", || {
        app.get_headers("/api/v1/meta", &headers).status == 200
    });
    let (status, log) = app.stop();
    assert!(status.success(), "{log}");
    assert!(!log.contains("background job failed"), "{log}");
}

/// The incidents the map counts for one day, at res 5 over the world, as `headers` sees them.
fn counted_on(app: &crate::support::TestApp, headers: &[(String, String)], day: &str) -> u64 {
    let reply = app.get_headers(
        &format!("/api/v1/hexagons?res=5&bbox=-180,-90,180,90&from={day}&to={day}"),
        headers,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["count"].as_u64().unwrap())
        .sum()
}

#[test]
fn a_running_server_stops_counting_a_withdrawn_incident_and_counts_an_amended_one_on_its_new_day() {
    let dir = private_demo();
    let d = dir.path();
    let out = ok(&cli(
        d,
        &[
            "user",
            "add",
            "--name",
            "map-reader",
            "--role",
            "vru_analyst",
        ],
    ));
    let token = out.lines().last().unwrap().trim().to_owned();
    let headers = [("Authorization".to_owned(), format!("Bearer {token}"))];
    // Two located incidents known to the day, on days other than the amendment's target.
    let target_day = "2024-02-29";
    let picked: Vec<Incident> = stored_incidents(d)
        .into_iter()
        .filter(|i| {
            i.location.is_some()
                && i.time.precision == saferplaces::domain::TimePrecision::Day
                && i.time.day.to_string() != target_day
        })
        .take(2)
        .collect();
    let (gone, moved) = (&picked[0], &picked[1]);
    let app = spawn_serve(d, |_| {});
    let gone_day = gone.time.day.to_string();
    let moved_day = moved.time.day.to_string();
    let before =
        [&gone_day, &moved_day, &target_day.to_owned()].map(|day| counted_on(&app, &headers, day));
    assert!(before[0] >= 1 && before[1] >= 1);

    ok(&cli(
        d,
        &[
            "incident",
            "withdraw",
            "--id",
            &gone.id.to_string(),
            "--reason",
            REASON,
            "--by",
            "x",
        ],
    ));
    ok(&cli(
        d,
        &[
            "incident",
            "amend",
            "--id",
            &moved.id.to_string(),
            "--date",
            target_day,
            "--reason",
            REASON,
            "--by",
            "x",
        ],
    ));
    let expected = |same_day: bool| {
        if same_day {
            // Both picked on one day: that day loses two.
            [before[0] - 2, before[1] - 2, before[2] + 1]
        } else {
            [before[0] - 1, before[1] - 1, before[2] + 1]
        }
    };
    let want = expected(gone_day == moved_day);
    let now = |app: &crate::support::TestApp| {
        [&gone_day, &moved_day, &target_day.to_owned()].map(|day| counted_on(app, &headers, day))
    };
    wait_until("the withdrawal and the amendment on the map", || {
        now(&app) == want
    });
    // The tombstones are merged away in the background and the index saved; a restart
    // serves the same counts (from the saved index or the store).
    let (status, log) = app.stop();
    assert!(status.success(), "{log}");
    assert!(!log.contains("background job failed"), "{log}");
    let app = spawn_serve(d, |_| {});
    assert_eq!(now(&app), want);
    app.stop();
}
