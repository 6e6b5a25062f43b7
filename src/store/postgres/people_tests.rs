//! The people schema of the PostgreSQL store against the SQLite store: each test runs the
//! same calls through `&mut dyn Store` on `SqliteStore::open_in_memory()` and on a `PgStore`
//! (a fresh database of a throwaway cluster), and checks that both give the same answers.

use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::super::PgStore;
use super::super::test_cluster::PgCluster;
use crate::domain::{Agency, CaseRef, Dataset, Day, LinkTarget, PersonRef, Role, User};
use crate::safeguards::reviews::{Review, ReviewOutcome};
use crate::store::changes::{ChangeKind, ChangeSet};
use crate::store::{
    Amendment, Erased, ImportBatch, ImportFile, KindCounts, NewUser, SqliteStore, Store,
    StoreError, Written,
};

// ---------------------------------------------------------------------------------------------
// Fixtures.

/// The cluster the running tests share: started by the first, stopped when the last one
/// holding it ends (a `static` is never dropped, so it would outlive the test binary).
fn cluster() -> Option<Arc<PgCluster>> {
    static SHARED: Mutex<Weak<PgCluster>> = Mutex::new(Weak::new());
    let mut shared = SHARED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(c) = shared.upgrade() {
        return Some(c);
    }
    let c = Arc::new(PgCluster::start()?);
    *shared = Arc::downgrade(&c);
    Some(c)
}

/// A fresh, migrated database on the shared cluster: its URL. Databases are created one at a
/// time: migrating creates the cluster-wide roles when absent, which two databases' migrations
/// must not race for.
fn fresh_database(cluster: &PgCluster) -> String {
    static NEXT: Mutex<u32> = Mutex::new(0);
    let mut next = NEXT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *next += 1;
    let name = format!("people_{}_{}", std::process::id(), *next);
    cluster
        .client()
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let url = cluster.url_as("postgres", &name);
    super::super::migrate(&url).unwrap();
    url
}

/// The SQLite store and the PostgreSQL store (with its URL, for direct queries), or `None`
/// without PostgreSQL. Keep the cluster alive while the stores are used.
fn stores() -> Option<(Arc<PgCluster>, String, SqliteStore, PgStore)> {
    let cluster = cluster()?;
    let url = fresh_database(&cluster);
    let pg = PgStore::connect(&url).unwrap();
    Some((cluster, url, SqliteStore::open_in_memory().unwrap(), pg))
}

/// The synthetic demo's people, links, cases and meetings (its incidents and reference layers
/// are the public side's).
fn demo() -> &'static Dataset {
    static DEMO: OnceLock<Dataset> = OnceLock::new();
    DEMO.get_or_init(|| {
        let geodata = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata");
        let areas = crate::ingest::west_of_england::load_area_set(&geodata).unwrap();
        let params = crate::synthetic::SyntheticParams {
            incidents: 2_000,
            people: 400,
            ..crate::synthetic::SyntheticParams::default()
        };
        let all = crate::synthetic::generate(&params, &areas).unwrap();
        Dataset {
            people: all.people,
            links: all.links,
            cases: all.cases,
            meetings: all.meetings,
            ..Dataset::default()
        }
    })
}

/// Both stores, one after the other, with their names for messages.
fn both<'a>(
    sqlite: &'a mut SqliteStore,
    pg: &'a mut PgStore,
) -> [(&'static str, &'a mut dyn Store); 2] {
    [("SQLite", sqlite), ("PostgreSQL", pg)]
}

/// The kinds the feed recorded after `after` in the PostgreSQL database at `url`, read from
/// `changes` directly (`changes_since` is the public side's), and the newest sequence number.
fn pg_changes(url: &str, after: i64) -> (Vec<String>, i64) {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let rows = client
        .query(
            "SELECT seq, kind FROM changes WHERE seq > $1 ORDER BY seq",
            &[&after],
        )
        .unwrap();
    let latest = rows.last().map_or(after, |r| r.get(0));
    (rows.iter().map(|r| r.get(1)).collect(), latest)
}

/// The kinds of a SQLite `ChangeSet`, as the feed's codes.
fn kinds_of(set: &ChangeSet) -> Vec<&'static str> {
    [
        (set.incidents, ChangeKind::Incidents),
        (set.incident_segments, ChangeKind::IncidentSegments),
        (set.reference, ChangeKind::Reference),
        (set.people, ChangeKind::People),
        (set.access, ChangeKind::Access),
        (set.incident_withdrawals, ChangeKind::IncidentWithdrawals),
    ]
    .into_iter()
    .filter_map(|(yes, k)| yes.then_some(k.code()))
    .collect()
}

/// The people schema's part of a loaded dataset (`Dataset` has no `PartialEq`).
type PeoplePart = (
    Vec<crate::domain::Person>,
    Vec<crate::domain::Link>,
    Vec<crate::domain::Case>,
    Vec<crate::domain::MaceMeeting>,
);

fn people_part(d: Dataset) -> PeoplePart {
    (d.people, d.links, d.cases, d.meetings)
}

fn person_ref(s: &str) -> PersonRef {
    PersonRef::new(s).unwrap()
}

fn new_user(name: &str, hash_digit: char) -> NewUser {
    NewUser {
        name: name.to_owned(),
        role: Role::PoliceAnalyst,
        org: Some("bristol-city-council".to_owned()),
        panels: vec![1, 3],
        token_hash: std::iter::repeat_n(hash_digit, 64).collect(),
        token_expires_at: 1_900_000_000,
    }
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn the_demo_people_round_trip_and_count_alike_on_both_stores() {
    let Some((_cluster, _url, mut sqlite, mut pg)) = stores() else {
        return;
    };
    let demo = demo();
    assert!(!demo.people.is_empty() && !demo.links.is_empty());
    assert!(!demo.cases.is_empty() && !demo.meetings.is_empty());
    let mut loaded = Vec::new();
    for (name, store) in both(&mut sqlite, &mut pg) {
        let written = store.write_records(demo).unwrap();
        assert_eq!(written.counts.people, demo.people.len() as u64, "{name}");
        assert_eq!(written.counts.links, demo.links.len() as u64, "{name}");
        assert_eq!(written.counts.cases, demo.cases.len() as u64, "{name}");
        assert_eq!(
            written.counts.meetings,
            demo.meetings.len() as u64,
            "{name}"
        );
        assert!(written.amended.is_empty(), "{name}");
        assert_eq!(
            store.write_records(demo).unwrap(),
            Written::default(),
            "{name}: an identical batch stores nothing"
        );
        let counts = store.counts().unwrap();
        assert_eq!(
            (counts.people, counts.links, counts.cases, counts.meetings),
            (
                written.counts.people,
                written.counts.links,
                written.counts.cases,
                written.counts.meetings
            ),
            "{name}"
        );
        loaded.push(people_part(store.load().unwrap()));
    }
    let pg_loaded = loaded.pop().unwrap();
    let sqlite_loaded = loaded.pop().unwrap();
    assert_eq!(
        pg_loaded, sqlite_loaded,
        "both stores load the same records"
    );
    let mut expected = demo.people.clone();
    expected.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    assert_eq!(pg_loaded.0, expected);
    assert_eq!(pg_loaded.1.len(), demo.links.len());
    let assigned = pg_loaded
        .2
        .iter()
        .filter(|c| !c.assigned.is_empty())
        .count();
    assert!(
        assigned > 0,
        "the demo assigns cases, so assignments round-trip"
    );
}

#[test]
fn amendments_are_reported_and_kept_alike() {
    let Some((_cluster, url, mut sqlite, mut pg)) = stores() else {
        return;
    };
    let demo = demo();
    let person = demo.people[0].clone();
    let link = demo
        .links
        .iter()
        .find(|l| l.from == person.id)
        .unwrap_or(&demo.links[0]);
    let mut results = Vec::new();
    for (name, store) in both(&mut sqlite, &mut pg) {
        store.write_records(demo).unwrap();
        let mut changed = person.clone();
        changed.categories.reverse(); // order alone is no change
        let mut changed_link = link.clone();
        changed_link.grade = if link.grade.to_string() == "3EC" {
            "1AP".parse().unwrap()
        } else {
            "3EC".parse().unwrap()
        };
        changed_link.review_due =
            Day::from_days_since_epoch(link.review_due.days_since_epoch() + 1);
        let first = store
            .write_records(&Dataset {
                people: vec![changed.clone()],
                links: vec![changed_link.clone()],
                ..Dataset::default()
            })
            .unwrap();
        changed.birth_year += 1;
        changed.review_due = Day::from_days_since_epoch(person.review_due.days_since_epoch() - 1);
        let second = store
            .write_records(&Dataset {
                people: vec![changed.clone()],
                ..Dataset::default()
            })
            .unwrap();
        let versions: Vec<_> = store
            .person_versions(&person.id)
            .unwrap()
            .into_iter()
            .map(|v| {
                assert!(!v.superseded_at.is_empty(), "{name}");
                v.person
            })
            .collect();
        assert_eq!(versions, vec![person.clone()], "{name}: the version before");
        assert_eq!(store.person(&person.id).unwrap(), Some(changed), "{name}");
        results.push((first, second));
    }
    assert_eq!(
        results[0], results[1],
        "both stores report the same amendments"
    );
    let (first, second) = &results[1];
    assert_eq!(
        first.amended,
        vec![Amendment {
            record: format!("link:{}", link.id),
            subject: link.from.clone(),
            fields: vec!["grade", "review_due"],
        }]
    );
    assert_eq!(first.counts, KindCounts::default());
    assert_eq!(second.amended[0].fields, vec!["birth_year", "review_due"]);
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let n: i64 = client
        .query_one("SELECT COUNT(*) FROM people.link_versions", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "the link's earlier version is kept");
}

#[test]
fn users_round_trip_alike_with_duplicates_refused_and_the_first_revocation_kept() {
    let Some((_cluster, _url, mut sqlite, mut pg)) = stores() else {
        return;
    };
    let mut results = Vec::new();
    for (name, store) in both(&mut sqlite, &mut pg) {
        let a = store.add_user(&new_user("alice", 'a')).unwrap();
        let b = store.add_user(&new_user("bob", 'b')).unwrap();
        assert!(b > a, "{name}");
        match store.add_user(&new_user("alice", 'c')) {
            Err(StoreError::Duplicate { what, key }) => {
                assert_eq!((what, key.as_str()), ("user", "alice"), "{name}");
            }
            other => panic!("{name}: a second alice: {other:?}"),
        }
        let first = store.revoke_user("alice", 1_800_000_000).unwrap().unwrap();
        let again = store.revoke_user("alice", 1_800_000_500).unwrap().unwrap();
        assert_eq!(first.token_revoked_at, Some(1_800_000_000), "{name}");
        assert_eq!(
            again.token_revoked_at,
            Some(1_800_000_000),
            "{name}: first time kept"
        );
        assert_eq!(store.revoke_user("nobody", 1).unwrap(), None, "{name}");
        let fresh: String = std::iter::repeat_n('d', 64).collect();
        assert!(
            store.set_user_token("bob", &fresh, 1_950_000_000).unwrap(),
            "{name}"
        );
        assert!(
            !store.set_user_token("nobody", &fresh, 1).unwrap(),
            "{name}"
        );
        let bob: Option<User> = store.user_by_token_hash(&fresh).unwrap();
        assert_eq!(
            bob.as_ref().map(|u| u.token_expires_at),
            Some(1_950_000_000)
        );
        let old: String = std::iter::repeat_n('b', 64).collect();
        assert_eq!(store.user_by_token_hash(&old).unwrap(), None, "{name}");
        results.push((store.users().unwrap(), bob));
    }
    assert_eq!(results[0], results[1], "both stores hold the same users");
    assert_eq!(results[1].0.len(), 2);
}

#[test]
fn reviews_assignments_and_subject_access_reads_agree() {
    let Some((_cluster, _url, mut sqlite, mut pg)) = stores() else {
        return;
    };
    let demo = demo();
    let case = &demo.cases[0];
    let subject = case
        .subjects
        .first()
        .cloned()
        .unwrap_or_else(|| demo.people[0].id.clone());
    let other = demo
        .people
        .iter()
        .find(|p| p.id != subject)
        .unwrap()
        .id
        .clone();
    let mut results = Vec::new();
    for (name, store) in both(&mut sqlite, &mut pg) {
        store.write_records(demo).unwrap();
        let review = Review {
            person: subject.clone(),
            review_due: Some(Day::from_days_since_epoch(20_800)),
            rationale: "Contact with the exploiter continues; keep under review".to_owned(),
            outcome: ReviewOutcome::Retain,
            decided_by: "A. Reviewer".to_owned(),
            decided_at: "2026-01-30T09:00:00.000Z".to_owned(),
        };
        let first = store.record_review(&review).unwrap();
        let removal = Review {
            review_due: None,
            outcome: ReviewOutcome::Remove,
            ..review.clone()
        };
        let second = store.record_review(&removal).unwrap();
        assert!(second > first, "{name}");
        let due = store.person(&subject).unwrap().unwrap().review_due;
        assert_eq!(
            due,
            Day::from_days_since_epoch(20_800),
            "{name}: a removal keeps the date"
        );
        match store.record_review(&Review {
            person: person_ref("Pdeadbeef00"),
            ..review.clone()
        }) {
            Err(StoreError::NotFound { what, key }) => {
                assert_eq!((what, key.as_str()), ("person", "Pdeadbeef00"), "{name}");
            }
            other => panic!("{name}: a review of nobody: {other:?}"),
        }
        let at = "2026-02-01T10:00:00.000Z";
        let assigned = (
            store
                .assign_case(&case.reference, "zed", "lead", at)
                .unwrap(),
            store
                .assign_case(&case.reference, "zed", "lead", at)
                .unwrap(),
            store
                .assign_case(&CaseRef::new("SG-2099-9999").unwrap(), "zed", "lead", at)
                .unwrap(),
        );
        assert_eq!(assigned, (Some(true), Some(false), None), "{name}");
        let mut reads = Vec::new();
        for p in demo.people.iter().map(|p| &p.id) {
            reads.push((
                store.links_of_person(p).unwrap(),
                store.reviews_of(p).unwrap(),
                store.cases_of(p).unwrap(),
                store.meetings_of(p).unwrap(),
                store.person_versions(p).unwrap(),
            ));
        }
        let latest = store
            .latest_reviews(&[subject.clone(), other.clone()])
            .unwrap();
        assert_eq!(latest.get(&subject), Some(&second), "{name}");
        assert!(!latest.contains_key(&other), "{name}");
        results.push((reads, latest, store.load().unwrap().cases));
    }
    assert_eq!(
        results[0], results[1],
        "both stores answer every read alike"
    );
    let (reads, _, cases) = &results[1];
    assert!(reads.iter().any(|r| !r.0.is_empty() && !r.2.is_empty()));
    assert!(
        reads.iter().any(|r| !r.3.is_empty()),
        "someone is on an agenda"
    );
    let stored = cases
        .iter()
        .find(|c| c.reference == case.reference)
        .unwrap();
    assert!(stored.assigned.iter().any(|u| u == "zed"));
}

/// An erasure's people: two with links to or from them, on a case or an agenda, one reviewed
/// and amended; and one link expired on its own.
fn erasure_targets(demo: &Dataset) -> (Vec<PersonRef>, Vec<u64>) {
    let on_agenda = demo
        .meetings
        .iter()
        .find_map(|m| m.subjects.first())
        .unwrap()
        .clone();
    let linked_to = demo
        .links
        .iter()
        .find_map(|l| match &l.to {
            LinkTarget::Person(p) if *p != on_agenda => Some(p.clone()),
            _ => None,
        })
        .unwrap();
    let people = vec![on_agenda, linked_to, person_ref("Pdeadbeef00")];
    let expired = demo
        .links
        .iter()
        .find(|l| {
            !people.contains(&l.from)
                && !matches!(&l.to, LinkTarget::Person(p) if people.contains(p))
        })
        .unwrap()
        .id;
    (people, vec![expired, 999_999_999])
}

#[test]
fn an_erasure_agrees_and_leaves_no_row_of_the_person_in_the_people_schema() {
    let Some((_cluster, url, mut sqlite, mut pg)) = stores() else {
        return;
    };
    let demo = demo();
    let (people, links) = erasure_targets(demo);
    let target = people[0].clone();
    let mut erased = Vec::new();
    for (name, store) in both(&mut sqlite, &mut pg) {
        store.write_records(demo).unwrap();
        let mut amended = store.person(&target).unwrap().unwrap();
        amended.birth_year += 1;
        let written = store
            .write_records(&Dataset {
                people: vec![amended],
                ..Dataset::default()
            })
            .unwrap();
        assert_eq!(written.amended.len(), 1, "{name}");
        store
            .record_review(&Review {
                person: target.clone(),
                review_due: None,
                rationale: "No longer a concern; the record is to be erased now".to_owned(),
                outcome: ReviewOutcome::Remove,
                decided_by: "A. Reviewer".to_owned(),
                decided_at: "2026-01-30T09:00:00.000Z".to_owned(),
            })
            .unwrap();
        let result = store.erase(&people, &links).unwrap();
        assert_eq!(store.person(&target).unwrap(), None, "{name}");
        assert!(store.links_of_person(&target).unwrap().is_empty(), "{name}");
        assert!(store.reviews_of(&target).unwrap().is_empty(), "{name}");
        assert!(store.cases_of(&target).unwrap().is_empty(), "{name}");
        assert!(store.meetings_of(&target).unwrap().is_empty(), "{name}");
        assert!(store.person_versions(&target).unwrap().is_empty(), "{name}");
        assert_eq!(
            store.erase(&people, &[]).unwrap(),
            Erased::default(),
            "{name}"
        );
        erased.push((result, people_part(store.load().unwrap())));
    }
    assert_eq!(
        erased[0], erased[1],
        "both stores erase the same records and keep the rest"
    );
    let (result, _) = &erased[1];
    assert_eq!(
        result.people,
        people[..2].to_vec(),
        "the unknown person is not reported"
    );
    assert!(
        result
            .links
            .iter()
            .any(|l| l.id == links[0] && l.with_person.is_none())
    );
    assert!(
        result
            .links
            .iter()
            .any(|l| l.with_person.as_ref() == Some(&target))
    );
    assert!(
        result.links.windows(2).all(|w| w[0].id < w[1].id),
        "ascending by id"
    );

    // No row of any table of the schema mentions the erased people, read as text.
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let tables: Vec<String> = client
        .query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'people' ORDER BY tablename",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(tables.len() >= 10, "{tables:?}");
    for table in &tables {
        for p in &people[..2] {
            let n: i64 = client
                .query_one(
                    &format!(
                        "SELECT COUNT(*) FROM people.{table} t WHERE t::text LIKE '%' || $1 || '%'"
                    ),
                    &[&p.as_str()],
                )
                .unwrap()
                .get(0);
            assert_eq!(n, 0, "people.{table} still mentions {p}");
        }
    }
}

#[test]
fn an_erasure_vacuums_so_no_page_of_the_people_schema_holds_the_erased_ids() {
    // A cluster of its own: a transaction still running elsewhere in a cluster (the other
    // tests' migrations and reads) can keep the erased row versions alive through the vacuum,
    // as docs/SECURITY.md says.
    let Some(own) = PgCluster::start() else {
        return;
    };
    let url = fresh_database(&own);
    let mut pg = PgStore::connect(&url).unwrap();
    let demo = demo();
    let (people, links) = erasure_targets(demo);
    // No autovacuum or autoanalyze in this database: only the store's own vacuum may clear the
    // pages, and no autovacuum snapshot may keep the erased row versions alive while it runs.
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute(
            "DO $$ DECLARE t text; BEGIN \
             FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'people' LOOP \
               EXECUTE format('ALTER TABLE people.%I SET (autovacuum_enabled = false)', t); \
             END LOOP; END $$",
        )
        .unwrap();
    pg.write_records(demo).unwrap();
    // An earlier version and a review of the person hold the id too.
    let mut amended = pg.person(&people[0]).unwrap().unwrap();
    amended.birth_year += 1;
    pg.write_records(&Dataset {
        people: vec![amended],
        ..Dataset::default()
    })
    .unwrap();
    pg.record_review(&Review {
        person: people[0].clone(),
        review_due: None,
        rationale: "No longer a concern; the record is to be erased now".to_owned(),
        outcome: ReviewOutcome::Remove,
        decided_by: "A. Reviewer".to_owned(),
        decided_at: "2026-01-30T09:00:00.000Z".to_owned(),
    })
    .unwrap();
    pg.erase(&people, &links).unwrap();
    // pageinspect reads the raw pages: a deleted row's tuple stays in its heap page, and its
    // key in the indexes' pages, until a vacuum removes them.
    client
        .batch_execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        .unwrap();
    // Every relation of the schema: tables, their indexes and TOAST tables.
    let relations: Vec<String> = client
        .query(
            "SELECT c.oid::regclass::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'people' AND c.relkind IN ('r', 'i') \
             UNION SELECT t.oid::regclass::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_class t ON t.oid = c.reltoastrelid \
             WHERE n.nspname = 'people' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        relations.iter().any(|r| r == "people.people_pkey"),
        "{relations:?}"
    );
    for relation in &relations {
        for p in &people[..2] {
            let pages: i64 = client
                .query_one(
                    "SELECT COUNT(*) FROM generate_series(0, \
                     pg_relation_size($1::text::regclass) / current_setting('block_size')::int - 1) b \
                     WHERE position(convert_to($2, 'UTF8') IN get_raw_page($1::text, b::int)) > 0",
                    &[relation, &p.as_str()],
                )
                .unwrap()
                .get(0);
            assert_eq!(pages, 0, "a page of {relation} still holds the erased {p}");
        }
    }
}

/// A named write, run on either store.
type Step<'a> = (&'a str, Box<dyn Fn(&mut dyn Store) + 'a>);

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a table of twelve writes, each run on both stores and its feed kinds compared"
)]
fn every_write_records_its_kind_in_the_change_feed_alike() {
    let Some((_cluster, url, mut sqlite, mut pg)) = stores() else {
        return;
    };
    let demo = demo();
    let (people, links) = erasure_targets(demo);
    let case = demo.cases[0].reference.clone();
    let review = Review {
        person: demo.people[0].id.clone(),
        review_due: Some(Day::from_days_since_epoch(20_800)),
        rationale: "Contact with the exploiter continues; keep under review".to_owned(),
        outcome: ReviewOutcome::Retain,
        decided_by: "A. Reviewer".to_owned(),
        decided_at: "2026-01-30T09:00:00.000Z".to_owned(),
    };
    let mut amended = demo.people[1].clone();
    amended.birth_year += 1;
    let amendment = Dataset {
        people: vec![amended],
        ..Dataset::default()
    };
    let steps: Vec<Step<'_>> = vec![
        (
            "write",
            Box::new(|s| {
                s.write_records(demo).unwrap();
            }),
        ),
        (
            "identical write",
            Box::new(|s| {
                s.write_records(demo).unwrap();
            }),
        ),
        (
            "amendment",
            Box::new(|s| {
                s.write_records(&amendment).unwrap();
            }),
        ),
        (
            "add user",
            Box::new(|s| {
                s.add_user(&new_user("alice", 'a')).unwrap();
            }),
        ),
        (
            "new token",
            Box::new(|s| {
                s.set_user_token("alice", &"e".repeat(64), 5).unwrap();
            }),
        ),
        (
            "no such user",
            Box::new(|s| {
                s.set_user_token("nobody", &"f".repeat(64), 5).unwrap();
            }),
        ),
        (
            "revoke",
            Box::new(|s| {
                s.revoke_user("alice", 7).unwrap();
            }),
        ),
        (
            "assign",
            Box::new(|s| {
                s.assign_case(&case, "zed", "lead", "2026").unwrap();
            }),
        ),
        (
            "assigned again",
            Box::new(|s| {
                s.assign_case(&case, "zed", "lead", "2026").unwrap();
            }),
        ),
        (
            "review",
            Box::new(|s| {
                s.record_review(&review).unwrap();
            }),
        ),
        (
            "erase",
            Box::new(|s| {
                s.erase(&people, &links).unwrap();
            }),
        ),
        (
            "erase nothing",
            Box::new(|s| {
                s.erase(&people, &[]).unwrap();
            }),
        ),
    ];
    let (mut sqlite_seq, mut pg_seq) = (0, 0);
    for (step, run) in &steps {
        run(&mut sqlite);
        let set = sqlite.changes_since(sqlite_seq).unwrap();
        sqlite_seq = set.latest.max(sqlite_seq);
        run(&mut pg);
        let (pg_kinds, latest) = pg_changes(&url, pg_seq);
        pg_seq = latest;
        let pg_kinds: Vec<&str> = pg_kinds.iter().map(String::as_str).collect();
        assert_eq!(pg_kinds, kinds_of(&set), "{step}");
    }
    assert!(pg_seq > 0);
}

#[test]
fn stop_and_search_records_of_an_import_are_stored_once_alike() {
    let Some((_cluster, _url, mut sqlite, mut pg)) = stores() else {
        return;
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/police/stop_search_handmade.csv");
    let bytes = std::fs::read(&path).unwrap();
    let src = crate::ingest::report::SourceFile {
        name: "stop_search_handmade.csv".to_owned(),
        sha256: "a".repeat(64),
        agency: Agency::new("avon-and-somerset-police").unwrap(),
        isa_ref: None,
        progress: crate::ingest::report::Progress::default(),
    };
    let parsed = crate::ingest::police::parse_stop_search(&bytes, &src);
    assert!(!parsed.records.is_empty());
    let batch = ImportBatch {
        stop_searches: parsed.records.into_iter().zip(parsed.lines).collect(),
        ..ImportBatch::default()
    };
    let file = ImportFile {
        name: src.name.clone(),
        sha256: src.sha256.clone(),
        imported_at: "2026-01-30T09:00:00.000Z".to_owned(),
        kind: "police-stop-search".to_owned(),
    };
    let summary = serde_json::json!({"read": batch.stop_searches.len()});
    let mut results = Vec::new();
    for (name, store) in both(&mut sqlite, &mut pg) {
        let dry = store.write_import(&batch, &file, &summary, false).unwrap();
        assert_eq!(
            store.counts().unwrap().stop_searches,
            0,
            "{name}: a dry run stores nothing"
        );
        let first = store.write_import(&batch, &file, &summary, true).unwrap();
        assert_eq!(dry, first, "{name}");
        let again = store.write_import(&batch, &file, &summary, true).unwrap();
        assert_eq!(again.stored, 0, "{name}: the same records are stored once");
        results.push((first, store.counts().unwrap().stop_searches));
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[1].0.stored, batch.stop_searches.len() as u64);
}

#[test]
fn the_gis_role_cannot_read_any_people_table_and_the_app_role_can() {
    let Some((cluster, url, _sqlite, mut pg)) = stores() else {
        return;
    };
    pg.write_records(demo()).unwrap();
    pg.add_user(&new_user("alice", 'a')).unwrap();
    let dbname = url.rsplit("dbname=").next().unwrap().to_owned();
    // Login roles of the kind an operator creates: members of the NOLOGIN roles (cluster-wide,
    // so created once for every test database).
    postgres::Client::connect(&cluster.url(), postgres::NoTls)
        .unwrap()
        .batch_execute(
            "DO $$ BEGIN \
             IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gis_analyst') THEN \
               CREATE ROLE gis_analyst LOGIN IN ROLE saferplaces_gis; END IF; \
             IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_server') THEN \
               CREATE ROLE app_server LOGIN IN ROLE saferplaces_app; END IF; \
             END $$",
        )
        .unwrap();
    let mut admin = cluster.client_as("postgres", &dbname);
    let tables: Vec<String> = admin
        .query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'people' ORDER BY tablename",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(tables.iter().any(|t| t == "people") && tables.iter().any(|t| t == "users"));
    // As a GIS tool connects: by socket directory and port, under its own name.
    let (socket, port) = cluster.socket();
    let mut gis = postgres::Client::connect(
        &format!(
            "host={} port={port} user=gis_analyst dbname={dbname} application_name=qgis",
            socket.display()
        ),
        postgres::NoTls,
    )
    .unwrap();
    let mut app = cluster.client_as("app_server", &dbname);
    for table in &tables {
        let sql = format!("SELECT COUNT(*) FROM people.{table}");
        let refused = gis.query_one(&sql, &[]).unwrap_err();
        assert_eq!(
            refused.code(),
            Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "people.{table}: {refused}"
        );
        let n: i64 = app.query_one(&sql, &[]).unwrap().get(0);
        let stored: i64 = admin.query_one(&sql, &[]).unwrap().get(0);
        assert_eq!(n, stored, "the app role reads every row of people.{table}");
    }
    let people: i64 = app
        .query_one("SELECT COUNT(*) FROM people.people", &[])
        .unwrap()
        .get(0);
    assert_eq!(people, demo().people.len() as i64);
}
