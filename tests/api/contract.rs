//! The API contract (issue 14, point 6): schemathesis, with every check, against the real
//! server on the demo data, as the public, a VRU analyst, a police analyst and (for the
//! audit log) an auditor; and what its runs found, kept as plain regression tests.
//!
//! Schemathesis runs from `$SAFERPLACES_PYTHON` (`make test` sets it to `.venv/bin/python`,
//! which `make venv` installs from `tests/contract/requirements.txt`). Its settings, and the
//! few checks it cannot apply to some operations (with the reasons), are in
//! `tests/contract/schemathesis.toml`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{demo_data_dir, spawn_app, test_assigned_cases, tokens};

/// Test cases per operation and phase: with the coverage phase's own cases this makes about
/// 3,500 cases per role over the 45 operations, in well under a minute each on a debug build.
const MAX_EXAMPLES: &str = "5";

/// A fixed seed, so a run can be repeated exactly.
const SEED: &str = "14006";

/// The interpreter with schemathesis, or `None` with the reason printed.
fn schemathesis_python() -> Option<PathBuf> {
    let Some(py) = std::env::var_os("SAFERPLACES_PYTHON").map(PathBuf::from) else {
        eprintln!(
            "skipping the schemathesis run: SAFERPLACES_PYTHON is not set (`make test` sets it)"
        );
        return None;
    };
    let ok = Command::new(&py)
        .args(["-c", "import schemathesis"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(py)
    } else {
        eprintln!(
            "skipping the schemathesis run: {} cannot import schemathesis (run `make venv`)",
            py.display()
        );
        None
    }
}

/// What one schemathesis run reported.
struct Run {
    success: bool,
    cases: u64,
    output: String,
}

/// Runs schemathesis against `base` with `headers` (`Name: value`, or `--include-path-regex`
/// and its pattern), from a scratch directory (it keeps a `.hypothesis` database in the
/// working directory).
fn schemathesis(py: &Path, base: &str, headers: &[String]) -> Run {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/contract/schemathesis.toml");
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(py);
    cmd.args(["-m", "schemathesis.cli", "--no-color", "--config-file"])
        .arg(&config)
        .args(["run", &format!("{base}/api/v1/openapi.json")])
        // Every check: schemathesis's default is all of them. `--checks all` is not given,
        // because a check named on the command line overrides the per-operation exceptions
        // of the config file; the config file is where checks are chosen.
        .args(["--seed", SEED, "--max-examples", MAX_EXAMPLES])
        .args(["--workers", "2", "--request-timeout", "60"])
        .current_dir(scratch.path())
        .env("SCHEMATHESIS_HOOKS", "");
    let mut args = headers.iter();
    while let Some(h) = args.next() {
        if h.starts_with("--") {
            cmd.arg(h).args(args.next());
        } else {
            cmd.args(["-H", h]);
        }
    }
    let out = cmd.output().unwrap();
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // "Test cases:\n  3629 generated, 3629 passed" in the summary.
    let cases = output
        .lines()
        .skip_while(|l| l.trim() != "Test cases:")
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Run {
        success: out.status.success(),
        cases,
        output,
    }
}

/// The summary part of schemathesis's output.
fn summary(output: &str) -> String {
    output
        .lines()
        .skip_while(|l| !l.contains("SUMMARY"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn schemathesis_finds_nothing_as_public_vru_analyst_police_analyst_or_auditor() {
    let Some(py) = schemathesis_python() else {
        return;
    };
    let tokens = tokens();
    let data = {
        use saferplaces::store::Store;
        saferplaces::store::SqliteStore::open(demo_data_dir())
            .unwrap()
            .load()
            .unwrap()
    };
    let (op_case, _) = test_assigned_cases(&data);
    let bearer = |user: &str| format!("Authorization: Bearer {}", tokens[user]);
    let roles: [(&str, Vec<String>, u64); 4] = [
        ("public", vec![], 1_000),
        ("vru_analyst", vec![bearer("vru_analyst")], 1_000),
        (
            "police_analyst",
            vec![
                bearer("police_analyst"),
                "X-Purpose: disrupting_exploitation".to_owned(),
                format!("X-Case-Ref: {op_case}"),
                "X-Legal-Basis: dpa_2018_s35_law_enforcement".to_owned(),
            ],
            1_000,
        ),
        // The other roles are refused the audit log before its parameters are read: an
        // auditor covers them (two operations, so fewer cases).
        (
            "auditor",
            vec![
                bearer("auditor"),
                "X-Purpose: audit_lawfulness".to_owned(),
                "--include-path-regex".to_owned(),
                "^/api/v1/audit".to_owned(),
            ],
            100,
        ),
    ];
    let mut failed = Vec::new();
    for (role, headers, min_cases) in roles {
        // A server per role: one role's budgets and refusals do not shape another's run.
        let app = spawn_app();
        let run = schemathesis(&py, &app.base, &headers);
        eprintln!(
            "schemathesis as {role}: {} cases\n{}",
            run.cases,
            summary(&run.output)
        );
        if !run.success {
            eprintln!("{}", run.output);
            failed.push(role);
        }
        assert!(
            run.cases >= min_cases,
            "schemathesis ran {} cases as {role}, fewer than {min_cases}:\n{}",
            run.cases,
            run.output
        );
    }
    assert!(failed.is_empty(), "schemathesis failed as {failed:?}");
}

/// Found by schemathesis: a method other than GET reached the policy layer, which refused it
/// as a read (401, 403 or 428) and wrote the refusal to the audit log, instead of answering
/// `405 Method Not Allowed`.
#[test]
fn another_method_is_answered_405_with_allow_and_is_not_audited() {
    let app = spawn_app();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .build()
        .into();
    let before = app.audit_entries().len();
    for (method, path) in [
        ("TRACE", "/api/v1/people"),
        ("POST", "/api/v1/people/P00000001"),
        ("DELETE", "/api/v1/audit"),
        ("PUT", "/api/v1/hexagons"),
        ("PATCH", "/health"),
    ] {
        let req = bodiless(method, &format!("{}{path}", app.base));
        let r = agent.run(req).unwrap();
        assert_eq!(r.status().as_u16(), 405, "{method} {path}");
        let allow = r
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(allow.contains("GET"), "{method} {path}: Allow {allow:?}");
    }
    assert_eq!(
        app.audit_entries().len(),
        before,
        "a refused method was written to the audit log as a refused read"
    );
}

/// A bodiless request with `method` to `url`.
fn bodiless(method: &str, url: &str) -> ureq::http::Request<()> {
    ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .body(())
        .unwrap()
}

/// Found by schemathesis: a TileJSON passed its query on to its tile URLs unchecked, so it
/// named tiles that would be refused (`to=iW`), and `v` took any text.
#[test]
fn a_tilejson_refuses_the_parameters_its_tiles_would_refuse() {
    let app = spawn_app();
    for (q, field) in [
        ("to=iW", "to"),
        ("from=2026-03-01&to=2026-02-01", "from"),
        ("category=gangs", "category"),
        ("v=AAA", "v"),
    ] {
        let r = app.get(&format!("/tiles/hexagons.json?{q}"));
        assert_eq!(r.status, 400, "{q}: {}", r.body);
        assert_eq!(r.json()["field"], field, "{q}");
    }
    let r = app.get("/tiles/boundaries.json?scheme=nowhere");
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["field"], "scheme");
    let r = app.get("/tiles/schools/12/2018/1362?v=AAA");
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["field"], "v");
    assert_eq!(
        app.get("/tiles/hexagons.json?v=7&from=2026-01-01").status,
        200
    );
}

/// The served document names this server in `servers` (schemathesis and other clients send
/// their requests there) and the store's own boundary schemes, and is otherwise the one
/// `saferplaces openapi` writes.
#[test]
fn the_served_document_names_this_server_and_its_schemes() {
    let app = spawn_app();
    let doc = app.get("/api/v1/openapi.json").json();
    assert_eq!(doc["servers"][0]["url"], app.base.as_str());
    assert_eq!(doc["info"]["license"]["identifier"], "AGPL-3.0-or-later");
    let schemes = &doc["paths"]["/api/v1/boundaries"]["get"]["parameters"][0]["schema"]["enum"];
    let meta = app.get("/api/v1/meta").json();
    assert_eq!(schemes, &meta["schemes"]);
    // `saferplaces openapi` (which `make test` lints) writes the same document, naming the
    // default address: on the demo data nothing else differs.
    let out = Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut written: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(written["servers"][0]["url"], "http://127.0.0.1:8080");
    written["servers"] = doc["servers"].clone();
    assert!(
        written == doc,
        "saferplaces openapi differs from the served document"
    );
}
