//! Bearer tokens (issue 12, point 8): they expire (`user add --expires-in`, default 30 days),
//! `user revoke` withdraws one from a running server, the scheme is matched in any case, and
//! refusals and access changes are audited.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{TestApp, cli, private_demo, spawn_app, spawn_command, tokens};

/// `user add` with `extra` arguments; returns (its stdout, the token).
fn add_user(dir: &Path, name: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["user", "add", "--name", name, "--role", "vru_analyst"];
    args.extend_from_slice(extra);
    let out = cli(dir, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.lines().last().unwrap().trim().to_owned();
    assert!(token.starts_with("spt_"), "{stdout}");
    (stdout, token)
}

/// `saferplaces serve` on `dir`, auditing to the data directory's own log (as in production).
fn serve(dir: &Path) -> TestApp {
    let mut c = Command::new(env!("CARGO_BIN_EXE_saferplaces"));
    c.args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir);
    spawn_command(c)
}

fn audit_log(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("audit").join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .collect()
}

/// Place-level data: anonymous callers get 401, a `vru_analyst` 200.
const PLACES: &str = "/api/v1/places";

fn get_with_token(app: &TestApp, token: &str) -> crate::support::Reply {
    let auth = format!("Bearer {token}");
    app.get_with(PLACES, &[("Authorization", auth.as_str())])
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `limit`.
fn poll<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_revoked_token_is_refused_by_the_running_server_and_the_refusal_is_audited() {
    let dir = private_demo();
    let (_, token) = add_user(dir.path(), "leaver", &[]);
    let app = serve(dir.path());
    assert_eq!(get_with_token(&app, &token).status, 200);

    // The server holds the audit log; the revocation must still take effect.
    let out = cli(dir.path(), &["user", "revoke", "leaver"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let refused = poll(Duration::from_secs(10), || {
        let reply = get_with_token(&app, &token);
        (reply.status == 401).then_some(reply)
    })
    .expect("the running server still accepts a revoked token");
    assert_eq!(refused.json()["error"], "TOKEN_REVOKED");
    let denial = audit_log(dir.path())
        .into_iter()
        .find(|e| e["deny_reason"] == "TOKEN_REVOKED")
        .expect("the refusal of a revoked token is audited");
    assert_eq!(denial["decision"], "deny");
    assert_eq!(denial["actor_user_id"], "leaver", "{denial}");
    assert!(
        cli(dir.path(), &["user", "revoke", "nobody-here"])
            .status
            .code()
            != Some(0)
    );
    drop(app);
}

#[test]
fn tokens_expire_and_adding_or_revoking_a_user_is_audited() {
    let dir = private_demo();
    for bad in ["0d", "30", "1y", "366d", "-5m"] {
        let out = cli(
            dir.path(),
            &[
                "user",
                "add",
                "--name",
                "x",
                "--role",
                "planner",
                "--expires-in",
                bad,
            ],
        );
        assert!(!out.status.success(), "--expires-in {bad} was accepted");
    }
    let (_, short) = add_user(dir.path(), "brief", &["--expires-in", "1s"]);
    let (printed, default) = add_user(dir.path(), "ordinary", &[]);
    // The default lifetime is 30 days from now (the day may turn over during the test).
    let now_day = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    let in_30_days = |d: u64| {
        saferplaces::domain::Day::from_days_since_epoch(u16::try_from(now_day + d).unwrap())
            .to_string()
    };
    assert!(
        printed.contains(&format!("expires {}", in_30_days(30)))
            || printed.contains(&format!("expires {}", in_30_days(31))),
        "{printed}"
    );
    let (_, revoked) = add_user(dir.path(), "withdrawn", &["--expires-in", "12h"]);
    let out = cli(dir.path(), &["user", "revoke", "withdrawn"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Access changes made with no server running are audited.
    let log = audit_log(dir.path());
    for name in ["brief", "ordinary", "withdrawn"] {
        let added = log
            .iter()
            .find(|e| e["query"]["command"] == "user add" && e["query"]["user"] == name)
            .unwrap_or_else(|| panic!("no audit record of adding {name}"));
        assert_eq!(added["event_type"], "collection");
        assert!(added["query"]["token_expires_at"].is_string(), "{added}");
    }
    let revocation = log
        .iter()
        .find(|e| e["query"]["command"] == "user revoke")
        .expect("an audit record of the revocation");
    assert_eq!(revocation["event_type"], "alteration");
    assert_eq!(revocation["query"]["user"], "withdrawn");

    let app = serve(dir.path());
    assert_eq!(get_with_token(&app, &default).status, 200);
    let reply = get_with_token(&app, &revoked);
    assert_eq!(
        (reply.status, reply.json()["error"].clone()),
        (401, "TOKEN_REVOKED".into())
    );
    // A one-second token: refused once its second has passed.
    let expired = poll(Duration::from_secs(20), || {
        let reply = get_with_token(&app, &short);
        (reply.status == 401).then_some(reply)
    })
    .expect("an expired token is still accepted");
    assert_eq!(expired.json()["error"], "TOKEN_EXPIRED");
    let denial = audit_log(dir.path())
        .into_iter()
        .find(|e| e["deny_reason"] == "TOKEN_EXPIRED")
        .expect("the refusal of an expired token is audited");
    assert_eq!(denial["actor_user_id"], "brief");
    drop(app);
}

#[test]
fn the_bearer_scheme_is_matched_in_any_case() {
    let app = spawn_app();
    let token = &tokens()["vru_analyst"];
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let auth = format!("{scheme} {token}");
        let reply = app.get_with(PLACES, &[("Authorization", auth.as_str())]);
        assert_eq!(reply.status, 200, "{scheme}: {}", reply.body);
    }
    let reply = app.get_with(PLACES, &[("Authorization", &format!("Basic {token}"))]);
    assert_eq!(reply.status, 401, "another scheme is not a bearer token");
}
