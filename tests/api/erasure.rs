//! Erasure that erases (issue 12, point 5; safeguards.md S18): after a retention sweep, no byte
//! of an erased person or link is left in the store's files (database, WAL and shared-memory
//! index), and every erased person and link has its own erasure record. The audit log keeps
//! pseudonymous ids by design (S16), so it is not scanned.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use saferplaces::domain::{Dataset, Day, Link, LinkTarget, PersonRef};
use saferplaces::store::{SqliteStore, Store};
use serde_json::Value;

pub use crate::support::private_demo;

pub fn load(dir: &Path) -> Dataset {
    SqliteStore::open(dir).unwrap().load().unwrap()
}

/// A child with links from and to them, and the day after their hard expiry (review date plus
/// the default 30-day grace).
fn child_to_erase(d: &Dataset) -> (PersonRef, Day) {
    let day: Day = "2026-11-11".parse().unwrap();
    let child = d
        .people
        .iter()
        .filter(|p| p.may_be_child_on(day))
        .find(|p| {
            d.links.iter().any(|l| l.from == p.id)
                && d.links
                    .iter()
                    .any(|l| l.to == LinkTarget::Person(p.id.clone()))
        })
        .or_else(|| {
            d.people
                .iter()
                .filter(|p| p.may_be_child_on(day))
                .find(|p| d.links.iter().any(|l| l.from == p.id))
        })
        .expect("the demo has a child with links");
    (child.id.clone(), child.review_due.plus_days(31))
}

/// A link's stored row as its bytes lie in the database record: kind, from, target,
/// categories, grade and agency, one after another (the id is the rowid, not in the record).
fn link_bytes(l: &Link) -> Vec<u8> {
    let kind = serde_json::to_value(l.kind).unwrap();
    let mut b = Vec::new();
    b.extend_from_slice(kind.as_str().unwrap().as_bytes());
    b.extend_from_slice(l.from.as_str().as_bytes());
    b.extend_from_slice(serde_json::to_string(&l.to).unwrap().as_bytes());
    b.extend_from_slice(serde_json::to_string(&l.categories).unwrap().as_bytes());
    b.extend_from_slice(l.grade.to_string().as_bytes());
    b.extend_from_slice(l.source.as_str().as_bytes());
    b
}

/// Every file of the data directory except the audit log's directory.
fn store_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            out.push(path);
        } else if path.is_dir() && path.file_name().unwrap() != "audit" {
            out.extend(store_files(&path));
        }
    }
    out
}

/// The patterns (by name) found anywhere in the store files, with the file they were in.
pub fn found_in_store_files(dir: &Path, patterns: &[(String, Vec<u8>)]) -> Vec<(String, String)> {
    const KEY: usize = 9;
    let mut by_prefix: HashMap<&[u8], Vec<&(String, Vec<u8>)>> = HashMap::new();
    for p in patterns {
        assert!(p.1.len() >= KEY, "pattern {} too short", p.0);
        by_prefix.entry(&p.1[..KEY]).or_default().push(p);
    }
    let mut found = Vec::new();
    for file in store_files(dir) {
        // The server renames its saved index's temporary file into place at any time, so a
        // file listed a moment ago may be gone; that file holds incident columns only.
        let bytes = match std::fs::read(&file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("reading {}: {e}", file.display()),
        };
        let mut seen = BTreeSet::new();
        for (i, window) in bytes.windows(KEY).enumerate() {
            let Some(candidates) = by_prefix.get(window) else {
                continue;
            };
            for (name, pattern) in candidates {
                if bytes[i..].starts_with(pattern) && seen.insert(name.clone()) {
                    found.push((name.clone(), file.display().to_string()));
                }
            }
        }
    }
    found
}

/// What a sweep erased (by comparing the store before and after) as byte patterns: each
/// erased person's reference (it is in their row, their links, links to them, indexes and
/// case subject lists) and each erased link's row; plus the erased ids.
struct ErasedSet {
    patterns: Vec<(String, Vec<u8>)>,
    people: Vec<PersonRef>,
    links: Vec<u64>,
}

fn erased_between(before: &Dataset, after: &Dataset) -> ErasedSet {
    let kept_people: BTreeSet<&PersonRef> = after.people.iter().map(|p| &p.id).collect();
    let kept_links: BTreeSet<u64> = after.links.iter().map(|l| l.id).collect();
    let kept_rows: BTreeSet<Vec<u8>> = after.links.iter().map(link_bytes).collect();
    let people: Vec<PersonRef> = before
        .people
        .iter()
        .map(|p| p.id.clone())
        .filter(|p| !kept_people.contains(p))
        .collect();
    let links: Vec<&Link> = before
        .links
        .iter()
        .filter(|l| !kept_links.contains(&l.id))
        .collect();
    let mut patterns: Vec<(String, Vec<u8>)> = people
        .iter()
        .map(|p| (format!("person:{p}"), p.as_str().as_bytes().to_vec()))
        .collect();
    patterns.extend(
        links
            .iter()
            .map(|l| (format!("link:{}", l.id), link_bytes(l)))
            .filter(|(_, row)| !kept_rows.contains(row)),
    );
    ErasedSet {
        patterns,
        people,
        links: links.iter().map(|l| l.id).collect(),
    }
}

fn erasure_records(log: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .filter(|e| e["event_type"] == "erasure")
        .map(|e| e["record_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_retention_sweep_leaves_no_byte_of_an_erased_child_or_their_links_in_the_store_files() {
    let dir = private_demo();
    let before = load(dir.path());
    let (child, today) = child_to_erase(&before);
    crate::support::cli_ok(
        dir.path(),
        &["retention", "sweep", "--today", &today.to_string()],
    );
    let after = load(dir.path());
    let erased = erased_between(&before, &after);
    assert!(erased.people.contains(&child), "the child was not erased");
    assert!(
        erased.links.len() > erased.people.len(),
        "the sweep erased the child's links too"
    );
    let left = found_in_store_files(dir.path(), &erased.patterns);
    assert!(
        left.is_empty(),
        "{} erased records still readable in the store files, e.g. {:?}",
        left.len(),
        &left[..left.len().min(5)]
    );
    // One erasure record per erased person and per erased link.
    let records = erasure_records(&dir.path().join("audit").join("audit.jsonl"));
    for p in &erased.people {
        assert!(
            records.contains(&format!("person:{p}")),
            "no erasure record of {p}"
        );
    }
    for l in &erased.links {
        assert!(
            records.contains(&format!("link:{l}")),
            "no erasure record of link {l}"
        );
    }
}

#[test]
fn a_running_servers_sweep_leaves_no_byte_of_the_erased_in_the_database_or_its_wal() {
    let dir = private_demo();
    let before = load(dir.path());
    let (child, today) = child_to_erase(&before);
    // The patterns are in the files before the sweep: the scan can see them.
    let probe = erased_between(&before, &Dataset::default());
    let child_pattern: Vec<(String, Vec<u8>)> = probe
        .patterns
        .into_iter()
        .filter(|(name, _)| *name == format!("person:{child}"))
        .collect();
    assert_eq!(found_in_store_files(dir.path(), &child_pattern).len(), 1);

    let mut c = Command::new(env!("CARGO_BIN_EXE_saferplaces"));
    c.args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("SAFERPLACES_TODAY", today.to_string());
    let running = crate::support::spawn_command(c);
    let deadline = Instant::now() + Duration::from_secs(30);
    let after = loop {
        let now = load(dir.path());
        if !now.people.iter().any(|p| p.id == child) {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not erase the child"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let erased = erased_between(&before, &after);
    // Scanned while the server still holds its connection, WAL and all.
    let left = found_in_store_files(dir.path(), &erased.patterns);
    assert!(
        left.is_empty(),
        "{} erased records still readable in the store files, e.g. {:?}",
        left.len(),
        &left[..left.len().min(5)]
    );
    drop(running);
}
