//! Issue 14, point 1: bounded work per request. The review found that one
//! `/api/v1/emerging?step=week` over the whole span got `408` and kept computing for 142 s
//! more, using 3.87 GB, and that cheap requests could start computations without limit. Each
//! expensive computation now runs through the admission layer (`api::admission`): refused up
//! front over its memory budget, queued per disclosure class with `503` beyond the queue, and
//! cancelled when its request is dropped.

use std::time::{Duration, Instant};

use crate::support::{TestApp, spawn_app_with};

/// The server's running computations, from `/health`.
fn running(app: &TestApp) -> u64 {
    app.get("/health").json()["computations_running"]
        .as_u64()
        .expect("/health reports computations_running")
}

/// Polls `f` every 50 ms until it holds or `limit` passes; true when it held.
fn within(limit: Duration, f: impl Fn() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// An emerging hot spot analysis in weekly steps at res 9 over almost fifteen years (about
/// 15,500 cells × 775 weeks, most of them empty): seconds of work in any build, estimated at
/// about 830 MB, so the tests that send it raise the memory budget ([`BUDGET`]).
const SLOW: &str = "/api/v1/emerging?step=week&res=9&from=2012-01-01&to=2026-10-31";

/// A memory budget that admits [`SLOW`] (one computation may use half of it).
const BUDGET: (&str, &str) = ("SAFERPLACES_ANALYSIS_MEMORY_MB", "4096");

#[test]
fn a_request_that_times_out_stops_its_computation() {
    let app = spawn_app_with(&[("SAFERPLACES_REQUEST_TIMEOUT_SECS", "1"), BUDGET]);
    let reply = app.get_as("vru_analyst", SLOW, &[]);
    assert_eq!(reply.status, 408, "{}", reply.body);
    // The computation was cancelled with its request: it stops at its next checkpoint, where
    // before it ran to the end for nobody.
    assert!(
        within(Duration::from_secs(10), || running(&app) == 0),
        "the computation kept running after its request timed out"
    );
    // And the server still answers the same analysis when given the time.
    let reply = app.get_as("vru_analyst", "/api/v1/emerging?step=month&res=7", &[]);
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[test]
fn a_computation_over_its_memory_budget_is_refused_up_front_saying_what_to_ask_instead() {
    let app = spawn_app_with(&[("SAFERPLACES_REQUEST_TIMEOUT_SECS", "5")]);
    // Weekly steps at res 9 over a window of 37 years: about 27,000 cells × 1,900 weeks, a
    // cube of about 2 GB, from one cheap request.
    let reply = app.get_as(
        "vru_analyst",
        "/api/v1/emerging?step=week&res=9&from=1990-01-01&to=2026-10-31",
        &[],
    );
    assert_eq!(reply.status, 422, "{}", reply.body);
    let v = reply.json();
    assert_eq!(v["error"], "TOO_EXPENSIVE");
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains("MiB") && message.contains("monthly steps"),
        "{message}"
    );
    assert_eq!(running(&app), 0, "nothing was started");
}

#[test]
fn a_full_queue_is_refused_with_retry_after_and_other_classes_and_layers_still_answer() {
    let app = std::sync::Arc::new(spawn_app_with(&[
        ("SAFERPLACES_ANALYSIS_WORKERS", "1"),
        ("SAFERPLACES_ANALYSIS_QUEUE", "0"),
        ("SAFERPLACES_REQUEST_TIMEOUT_SECS", "120"),
        BUDGET,
    ]));
    // One analyst computation holds the exact class's only worker.
    let busy = {
        let app = std::sync::Arc::clone(&app);
        std::thread::spawn(move || app.get_as("vru_analyst", SLOW, &[]).status)
    };
    assert!(
        within(Duration::from_secs(20), || running(&app) >= 1),
        "the slow computation started"
    );
    // A different analysis of the same class finds no worker and no room in the queue.
    let refused = app.get_as("police_analyst", "/api/v1/emerging?step=week&res=7", &[]);
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.json()["error"], "BUSY");
    let retry: u64 = refused
        .retry_after
        .parse()
        .expect("a Retry-After in seconds");
    assert!(retry >= 1);
    // The public's class has its own worker, and plain layers need none.
    let public = app.get("/api/v1/hotspots?res=7");
    assert_eq!(public.status, 200, "{}", public.body);
    assert_eq!(app.get("/api/v1/hexagons?res=7").status, 200);
    assert_eq!(busy.join().unwrap(), 200);
}

#[test]
fn identical_requests_at_once_share_one_computation() {
    let app = std::sync::Arc::new(spawn_app_with(&[
        ("SAFERPLACES_ANALYSIS_WORKERS", "1"),
        ("SAFERPLACES_ANALYSIS_QUEUE", "0"),
        ("SAFERPLACES_REQUEST_TIMEOUT_SECS", "120"),
        BUDGET,
    ]));
    // Eight identical requests with one worker and no queue: had each its own computation,
    // seven would be refused with 503; sharing the first one's, all get its answer.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let app = std::sync::Arc::clone(&app);
            std::thread::spawn(move || {
                let r = app.get_as("vru_analyst", SLOW, &[]);
                (r.status, r.body)
            })
        })
        .collect();
    let replies: Vec<(u16, String)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    for (status, body) in &replies {
        assert_eq!(*status, 200, "{body}");
    }
    assert!(
        replies.iter().all(|(_, b)| *b == replies[0].1),
        "one computation, one answer"
    );
}

/// The server's log lines of computations that ended (`api::admission`), as their fields.
fn computations_ended(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "computation ended")
        .map(|v| v["fields"].clone())
        .collect()
}

#[test]
fn a_computation_that_allocates_past_its_budget_is_stopped_on_the_measured_figure() {
    // 5 MiB for all computations together, 2 MiB for one. An analyst's area comparison is
    // estimated at 32 bytes per incident of the store (about 1.9 MB on the demo data), so it
    // is admitted; over the whole span it gathers every incident of both areas' boxes, which
    // measures several times that. Before, only the estimate was checked and it ran to the
    // end.
    let app = spawn_app_with(&[
        ("SAFERPLACES_ANALYSIS_MEMORY_MB", "5"),
        ("SAFERPLACES_REQUEST_TIMEOUT_SECS", "60"),
    ]);
    let reply = app.get_as(
        "vru_analyst",
        "/api/v1/areas/compare?scheme=lad&a=E06000023&b=E06000025&from=2012-01-01&to=2026-10-31",
        &[],
    );
    assert_eq!(reply.status, 422, "{}", reply.body);
    let v = reply.json();
    assert_eq!(v["error"], "TOO_EXPENSIVE");
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains("measured") && message.contains("shorter window"),
        "{message}"
    );
    // Stopped and freed: nothing runs and nothing is held by computations any more.
    assert!(
        within(Duration::from_secs(10), || {
            let health = app.get("/health").json();
            health["computations_running"] == 0 && health["computations_bytes"] == 0
        }),
        "{}",
        app.get("/health").body
    );
    // The same comparison over one month fits and is answered.
    let reply = app.get_as(
        "vru_analyst",
        "/api/v1/areas/compare?scheme=lad&a=E06000023&b=E06000025&from=2026-01-01&to=2026-01-31",
        &[],
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let (_, log) = app.stop();
    let ended = computations_ended(&log);
    let stopped = ended
        .iter()
        .find(|f| {
            f["over_budget"]
                .as_str()
                .is_some_and(|o| o.starts_with("Some(Own"))
        })
        .expect("the stopped computation is logged");
    assert!(
        stopped["alloc_peak_bytes"].as_u64().unwrap() > 2 << 20,
        "its measured peak is recorded: {stopped}"
    );
}

#[test]
fn cold_month_releases_are_computed_through_admission_busy_or_shared_never_unbounded() {
    // Before, the monthly releases that aggregate roles read (api::hexagons) were computed on
    // first use on the blocking pool, outside the admission layer: any number of distinct cold
    // months at once computed side by side, unbounded. Now each is a computation of the
    // admission layer: one worker and a queue of one here.
    let app = std::sync::Arc::new(spawn_app_with(&[
        ("SAFERPLACES_ANALYSIS_WORKERS", "1"),
        ("SAFERPLACES_ANALYSIS_QUEUE", "1"),
        ("SAFERPLACES_REQUEST_TIMEOUT_SECS", "60"),
    ]));
    let last_day = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let url = |m: usize| {
        format!(
            "/api/v1/hexagons?res=7&from=2025-{m:02}-01&to=2025-{m:02}-{}",
            last_day[m - 1]
        )
    };
    // Twelve distinct cold months at once, anonymous.
    let threads: Vec<_> = (1..=12)
        .map(|m| {
            let (app, url) = (std::sync::Arc::clone(&app), url(m));
            std::thread::spawn(move || app.get(&url))
        })
        .collect();
    let first: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    for reply in &first {
        match reply.status {
            200 => {}
            503 => {
                assert_eq!(reply.json()["error"], "BUSY");
                assert!(reply.retry_after.parse::<u64>().unwrap() >= 1);
            }
            other => panic!("{other}: {}", reply.body),
        }
    }
    // Every month is answered when asked again, and a month answered at once is answered the
    // same.
    for (m, reply) in (1..=12).zip(&first) {
        let again = app.get(&url(m));
        assert_eq!(again.status, 200, "{}", again.body);
        if reply.status == 200 {
            assert_eq!(again.body, reply.body);
        }
    }
    // Eight identical requests for another cold month share its computation: none is refused
    // although only one can run and one wait.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let app = std::sync::Arc::clone(&app);
            std::thread::spawn(move || {
                app.get("/api/v1/hexagons?res=7&from=2024-06-01&to=2024-06-30")
            })
        })
        .collect();
    let replies: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body, replies[0].body);
    }
    assert!(within(Duration::from_secs(10), || running(&app) == 0));
    let app = std::sync::Arc::into_inner(app).expect("the threads are done");
    let (_, log) = app.stop();
    // Each month's release was computed once, as a computation of the admission layer, and
    // so were the release areas they share.
    let ended = computations_ended(&log);
    let keys: Vec<&str> = ended.iter().filter_map(|f| f["key"].as_str()).collect();
    let months: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| k.starts_with("month-release|"))
        .collect();
    let distinct: std::collections::BTreeSet<&str> = months.iter().copied().collect();
    assert_eq!(distinct.len(), 13, "{keys:?}");
    assert_eq!(months.len(), 13, "each month computed once: {keys:?}");
    assert_eq!(
        keys.iter()
            .filter(|k| k.starts_with("release-areas|"))
            .count(),
        1,
        "{keys:?}"
    );
}
