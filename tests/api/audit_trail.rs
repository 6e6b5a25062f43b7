//! The audit trail through the real binary (issue 12 point 4): `audit verify` names a
//! truncated, an emptied and a deleted log (all "intact" before signed checkpoints), `audit
//! head` prints a head an auditor can keep, and an import appends to the log while the server
//! holds it open (it used to fail with "already open for writing elsewhere").

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::spawn_command;

/// A data directory with the signing key and the witness beside it, not inside.
struct Site {
    root: tempfile::TempDir,
}

impl Site {
    fn new() -> Self {
        Self {
            root: tempfile::tempdir().unwrap(),
        }
    }

    fn data(&self) -> PathBuf {
        self.root.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.data().join("audit/audit.jsonl")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_saferplaces"));
        c.args(args)
            .arg("--data-dir")
            .arg(self.data())
            .env(
                "SAFERPLACES_AUDIT_KEY_FILE",
                self.root.path().join("keys/audit.key"),
            )
            .env(
                "SAFERPLACES_AUDIT_WITNESS_DIR",
                self.root.path().join("witness"),
            )
            .env(
                "SAFERPLACES_GEODATA_DIR",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata"),
            )
            .env_remove("SAFERPLACES_AUDIT_DIR");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Imports the agency fixtures' incidents, one conduct link and the two people: two audited
    /// collections by two short-lived processes.
    fn import_people(&self) {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agency");
        let conduct = self.root.path().join("conduct.csv");
        std::fs::write(
            &conduct,
            "ref,kind,from,to_type,to,categories,grade,review_due\nLK-9,person_incident,P1f2e3d4c,incident,INC-001,suspect,2BP,2026-12-31\n",
        )
        .unwrap();
        let victim = self.root.path().join("victim.csv");
        std::fs::write(
            &victim,
            "ref,kind,from,to_type,to,categories,grade,review_due\nLK-10,person_incident,P0a1b2c3d,incident,INC-001,victim,2BP,2026-12-31\n",
        )
        .unwrap();
        let incidents = fixtures.join("incidents.csv");
        let people = fixtures.join("people.csv");
        // The people arrive with the exploiter's conduct link (the rules need both at once),
        // then a link about a stored person; both under the fixtures' sharing agreement.
        let agreement = [
            "--agency",
            "bristol-city-council",
            "--isa-ref",
            "ISA-WOE-2024-001",
        ];
        for args in [
            [
                &["import", "incidents", incidents.to_str().unwrap()][..],
                &agreement,
            ]
            .concat(),
            [
                &["import", "people", people.to_str().unwrap()][..],
                &["--links", conduct.to_str().unwrap()],
                &agreement,
            ]
            .concat(),
            [
                &["import", "links", victim.to_str().unwrap()][..],
                &agreement,
            ]
            .concat(),
        ] {
            let out = self.run(&args);
            assert!(
                out.status.success(),
                "{args:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// `audit verify`: success and its output.
    fn verify(&self, extra: &[&str]) -> (bool, String) {
        let mut args = vec!["audit", "verify"];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    }

    fn entries(&self) -> Vec<Value> {
        std::fs::read_to_string(self.log())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

#[test]
fn audit_verify_names_a_truncated_an_emptied_and_a_deleted_log() {
    let site = Site::new();
    site.import_people();
    let (ok, msg) = site.verify(&[]);
    assert!(ok, "{msg}");
    assert!(
        msg.contains("audit log intact: 4 entries, 2 signed checkpoints"),
        "{msg}"
    );
    let head = site.run(&["audit", "head"]);
    assert!(head.status.success());
    let head_text = String::from_utf8(head.stdout).unwrap();
    let head: Value = serde_json::from_str(head_text.trim()).unwrap();
    assert_eq!(
        (head["seq"].as_u64(), head["count"].as_u64()),
        (Some(4), Some(3))
    );
    for field in ["head_hash", "ts_utc", "public_key", "signature"] {
        assert!(head[field].is_string(), "{field}: {head}");
    }
    let kept = site.root.path().join("kept-head.json");
    std::fs::write(&kept, &head_text).unwrap();
    let (ok, msg) = site.verify(&["--head", kept.to_str().unwrap()]);
    assert!(ok, "{msg}");

    let original = std::fs::read_to_string(site.log()).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    let truncated = lines[..3]
        .iter()
        .fold(String::new(), |acc, l| acc + l + "\n");
    std::fs::write(site.log(), truncated).unwrap();
    let (ok, msg) = site.verify(&[]);
    assert!(
        !ok && msg.contains("audit log truncated: the file holds 3 lines"),
        "{msg}"
    );

    std::fs::write(site.log(), "").unwrap();
    let (ok, msg) = site.verify(&[]);
    assert!(!ok && msg.contains("audit log emptied"), "{msg}");

    std::fs::remove_file(site.log()).unwrap();
    let (ok, msg) = site.verify(&[]);
    assert!(!ok && msg.contains("audit log deleted"), "{msg}");
    // The next writer refuses to start a fresh chain over the evidence.
    let refused = site.run(&["audit", "head"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("witness"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // Log and witness deleted together: only the kept head sees it.
    std::fs::remove_dir_all(site.root.path().join("witness")).unwrap();
    std::fs::remove_file(site.log()).unwrap();
    assert!(site.verify(&[]).0, "nothing local is left to compare with");
    let (ok, msg) = site.verify(&["--head", kept.to_str().unwrap()]);
    assert!(!ok && msg.contains("audit log deleted"), "{msg}");
}

#[test]
fn an_import_appends_to_the_audit_log_while_the_server_runs_and_the_chain_verifies() {
    let site = Site::new();
    // The store must exist before the server starts: import the incidents first.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agency");
    let incidents = fixtures.join("incidents.csv");
    assert!(
        site.run(&[
            "import",
            "incidents",
            incidents.to_str().unwrap(),
            "--agency",
            "bristol-city-council",
        ])
        .status
        .success()
    );
    let mut serve = site.command(&["serve", "--addr", "127.0.0.1:0"]);
    serve.env("SAFERPLACES_TODAY", "2024-04-01");
    let app = spawn_command(serve);
    // An anonymous person-level request is refused and logged by the server.
    assert!(matches!(app.get("/api/v1/people").status, 401 | 403));

    site.import_people();
    // A retention sweep from another process appends while the server holds the log too.
    let sweep = site.run(&["retention", "sweep", "--today", "2024-04-01"]);
    assert!(
        sweep.status.success(),
        "{}",
        String::from_utf8_lossy(&sweep.stderr)
    );
    assert!(matches!(app.get("/api/v1/people").status, 401 | 403));
    let (status, _) = app.stop();
    assert!(status.success());

    let (ok, msg) = site.verify(&[]);
    assert!(ok, "{msg}");
    let entries = site.entries();
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=entries.len() as u64).collect::<Vec<_>>());
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["event"]["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "consultation",
            "checkpoint",
            "collection",
            "checkpoint",
            "collection",
            "checkpoint",
            "consultation",
            "checkpoint"
        ],
        "server refusal; the first import signs it on opening, then each import signs its own \
         record on exit; server refusal, signed when the server stops"
    );
    assert_eq!(entries[2]["event"]["client"], "cli");
    assert_eq!(entries[0]["event"]["decision"], "deny");
    assert_eq!(entries[6]["event"]["decision"], "deny");
}
