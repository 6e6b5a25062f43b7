//! Test support: start the real `saferplaces` binary on port 0 and talk to it over HTTP.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The demo data directory, generated once per test run with `saferplaces demo --no-serve`.
pub fn demo_data_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("saferplaces-test-")
            .tempdir()
            .unwrap()
            .keep();
        generate_demo(&dir);
        dir
    })
}

/// Runs `saferplaces ARGS --data-dir DIR` with the repository's geodata.
pub fn cli(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env(
            "SAFERPLACES_GEODATA_DIR",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata"),
        )
        .output()
        .unwrap()
}

/// [`cli`], asserting it succeeded (naming its standard error when not).
pub fn cli_ok(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = cli(dir, args);
    assert!(
        out.status.success(),
        "saferplaces {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Generates the synthetic demo data into `dir` with `saferplaces demo --no-serve`.
pub fn generate_demo(dir: &Path) {
    cli_ok(dir, &["demo", "--no-serve"]);
}

/// A private copy of the demo data, for tests that change or erase it.
pub fn private_demo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    generate_demo(dir.path());
    dir
}

/// Test users, one per assignable role plus MACE members of panel 1 and of panel 2, created
/// once through `saferplaces user add` (the real CLI); name → token.
pub fn tokens() -> &'static std::collections::BTreeMap<&'static str, String> {
    static TOKENS: OnceLock<std::collections::BTreeMap<&'static str, String>> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let data = demo_data_dir();
        let users: [(&str, &str, &[&str]); 7] = [
            ("planner", "planner", &[]),
            ("vru_analyst", "vru_analyst", &[]),
            (
                "police_analyst",
                "police_analyst",
                &["--org", "synthetic-police"],
            ),
            (
                "mace_panel1",
                "mace_member",
                &["--panel", "1", "--org", "synthetic-social-care"],
            ),
            (
                "mace_panel2",
                "mace_member",
                &["--panel", "2", "--org", "synthetic-social-care"],
            ),
            ("auditor", "auditor", &[]),
            ("admin", "admin", &[]),
        ];
        let tokens = users
            .iter()
            .map(|(name, role, extra)| {
                let out = Command::new(env!("CARGO_BIN_EXE_saferplaces"))
                    .args([
                        "user",
                        "add",
                        "--name",
                        &format!("test-{name}"),
                        "--role",
                        role,
                        "--data-dir",
                    ])
                    .arg(data)
                    .args(*extra)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "user add failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let stdout = String::from_utf8(out.stdout).unwrap();
                let token = stdout.lines().last().unwrap().trim().to_owned();
                assert!(token.starts_with("spt_") && token.len() == 68, "{token}");
                (*name, token)
            })
            .collect();
        assign_test_cases(data);
        tokens
    })
}

/// Runs `saferplaces case assign` (the real CLI) for `user` on `case` in `dir`.
pub fn assign_case(dir: &Path, case: &str, user: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .args([
            "case",
            "assign",
            "--case",
            case,
            "--user",
            user,
            "--data-dir",
        ])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "case assign failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The cases the test police analyst is assigned to: the first investigation case and the
/// first safeguarding case whose child is not on the agenda of meeting `MACE-1-2026-11` (the
/// cases `safeguards.rs` reads through). Every other case is someone else's.
pub fn test_assigned_cases(d: &saferplaces::domain::Dataset) -> (String, String) {
    use saferplaces::domain::CaseKind;
    let op = d
        .cases
        .iter()
        .find(|c| c.kind == CaseKind::Investigation)
        .unwrap();
    let meeting = d
        .meetings
        .iter()
        .find(|m| m.reference.as_str() == "MACE-1-2026-11")
        .unwrap();
    let sg = d
        .cases
        .iter()
        .find(|c| c.kind == CaseKind::Safeguarding && !meeting.subjects.contains(&c.subjects[0]))
        .unwrap();
    (op.reference.to_string(), sg.reference.to_string())
}

fn assign_test_cases(dir: &Path) {
    use saferplaces::store::Store;
    let d = saferplaces::store::SqliteStore::open(dir)
        .unwrap()
        .load()
        .unwrap();
    let (op, sg) = test_assigned_cases(&d);
    for case in [op, sg] {
        assign_case(dir, &case, "test-police_analyst");
    }
}

/// A running server.
pub struct TestApp {
    pub base: String,
    /// The server's own audit log directory.
    pub audit_dir: tempfile::TempDir,
    child: Child,
    stderr: Option<std::thread::JoinHandle<String>>,
    agent: ureq::Agent,
    _web: tempfile::TempDir,
}

/// A response: status, headers we look at, body.
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub cache_control: String,
    pub retry_after: String,
    pub body: String,
}

/// The legal basis tests give for a person-level purpose (issue 12, point 3).
pub fn legal_basis_for(purpose: &str) -> Option<&'static str> {
    match purpose {
        "disrupting_exploitation" => Some("dpa_2018_s35_law_enforcement"),
        "safeguarding_children" | "mace_panel" => Some("children_act_2004_s11"),
        _ => None,
    }
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {}", &self.body[..self.body.len().min(300)])
        })
    }
}

/// Starts `saferplaces serve` on the shared demo data.
pub fn spawn_app() -> TestApp {
    spawn_app_with(&[])
}

/// Starts `saferplaces serve` on the shared demo data with extra environment variables
/// (e.g. `SAFERPLACES_TODAY`). Each server writes its own audit log.
pub fn spawn_app_with(env: &[(&str, &str)]) -> TestApp {
    let _ = tokens();
    spawn_serve(demo_data_dir(), |cmd| {
        cmd.envs(env.iter().copied());
    })
}

/// Starts `saferplaces serve` on `data` with its own audit log and the test settings, after
/// `adjust` has changed the command (more variables, or one removed).
pub fn spawn_serve(data: &Path, adjust: impl FnOnce(&mut Command)) -> TestApp {
    let audit_dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_saferplaces"));
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("SAFERPLACES_AUDIT_DIR", audit_dir.path())
        // Many tests send dozens of refusals from one address on purpose; the refusal budget
        // and coalescing have their own tests, which set these lower.
        .env("SAFERPLACES_REFUSALS_PER_MINUTE", "1000000")
        .env("SAFERPLACES_REFUSAL_COALESCE_MS", "0");
    adjust(&mut cmd);
    let mut app = spawn_command(cmd);
    app.audit_dir = audit_dir;
    app
}

/// Starts a prepared `saferplaces serve ... --addr 127.0.0.1:0` command with a test web
/// directory and JSON logs, and waits for its address.
pub fn spawn_command(mut cmd: Command) -> TestApp {
    // The monthly equality job writes to the store at start when a month is due, which would
    // change the shared demo store under other tests: off unless the test sets or removes
    // the variable (equality::the_server_runs_the_monitor_itself_for_the_last_full_month).
    if !cmd
        .get_envs()
        .any(|(k, _)| k == "SAFERPLACES_EQUALITY_MONTHLY")
    {
        cmd.env("SAFERPLACES_EQUALITY_MONTHLY", "off");
    }
    let web = tempfile::tempdir().unwrap();
    std::fs::write(
        web.path().join("index.html"),
        "<!doctype html><title>saferplaces test</title>",
    )
    .unwrap();
    let mut child = cmd
        .env("SAFERPLACES_WEB_DIR", web.path())
        .env("SAFERPLACES_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("saferplaces listening on ") {
                let _ = tx.send(url.to_owned());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_mins(1))
        .expect("server did not report its address");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_mins(1)))
        .build()
        .into();
    TestApp {
        base,
        audit_dir: tempfile::tempdir().unwrap(),
        child,
        stderr: Some(stderr),
        agent,
        _web: web,
    }
}

impl TestApp {
    pub fn get(&self, path_and_query: &str) -> Reply {
        self.get_with(path_and_query, &[])
    }

    /// GET with a bearer token (by test user name, see [`tokens`]) and extra headers. A
    /// person-level purpose without an `X-Legal-Basis` gets the usual basis for that purpose
    /// ([`legal_basis_for`]), so tests about other rules need not repeat it; tests of the legal
    /// basis itself use [`TestApp::get_as_exact`].
    pub fn get_as(&self, user: &str, path_and_query: &str, headers: &[(&str, &str)]) -> Reply {
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        let has_basis = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("x-legal-basis"));
        let purpose = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-purpose"))
            .map(|(_, v)| *v);
        if let (false, Some(basis)) = (has_basis, purpose.and_then(legal_basis_for)) {
            all.push(("X-Legal-Basis", basis));
        }
        self.get_as_exact(user, path_and_query, &all)
    }

    /// GET with a bearer token and exactly the headers given.
    pub fn get_as_exact(
        &self,
        user: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let auth = format!("Bearer {}", tokens()[user]);
        let mut all = vec![("Authorization", auth.as_str())];
        all.extend_from_slice(headers);
        self.get_with(path_and_query, &all)
    }

    /// GET with owned header pairs.
    pub fn get_headers(&self, path_and_query: &str, headers: &[(String, String)]) -> Reply {
        let borrowed: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.get_with(path_and_query, &borrowed)
    }

    pub fn get_with(&self, path_and_query: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = self.agent.get(format!("{}{path_and_query}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut resp = req.call().unwrap();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let (content_type, cache_control) = (header("content-type"), header("cache-control"));
        let retry_after = header("retry-after");
        let status = resp.status().as_u16();
        // Tiles are binary: keep the text of text bodies, a lossy view of the rest.
        let body = String::from_utf8_lossy(&resp.body_mut().read_to_vec().unwrap()).into_owned();
        Reply {
            status,
            content_type,
            cache_control,
            retry_after,
            body,
        }
    }

    /// The audit log's lines, parsed.
    pub fn audit_entries(&self) -> Vec<serde_json::Value> {
        let path = self.audit_dir.path().join("audit.jsonl");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Sends SIGTERM, waits for a clean exit, and returns the server's log.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let log = self.stderr.take().unwrap().join().unwrap();
        (status, log)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `done` every 50 ms until it holds; fails after 60 s (a bound, not a timing claim).
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_mins(1);
    while !done() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(50));
    }
}
