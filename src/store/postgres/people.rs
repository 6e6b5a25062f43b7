//! The person-level side of the PostgreSQL store: schema `people` (people, links, their
//! versions, reviews, cases and assignments, meetings, stop-and-search records, users).
//!
//! The SQLite store (`store::sqlite`) is the specification: every function here returns what
//! its SQLite counterpart returns, in the same order, and records the same change-feed kinds in
//! the same transaction. The mapping of values:
//! - JSON lists and link targets are `jsonb`, bound and read as text (`$n::text::jsonb`,
//!   `col::text`) and converted with `serde_json`, as SQLite's JSON text;
//! - days are `date`, bound and read as days since 1970-01-01 ([`EPOCH`]), as SQLite's
//!   integers;
//! - text keys are ordered with `COLLATE "C"` (byte order, SQLite's `BINARY`), whatever the
//!   database's collation, so lists come back in the same order from both stores.
//!
//! Erasure (S18) deletes in one transaction, then runs `VACUUM FULL` on the tables it touched
//! (outside the transaction) so no page keeps the dead rows' bytes; what PostgreSQL still keeps
//! (WAL, backups, replicas) is in docs/SECURITY.md.

use crate::store::shared::{link_changes, person_changes};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::str::FromStr;

use postgres::types::FromSql;
use postgres::{Client, GenericClient, Row, Transaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::super::changes::{ChangeKind, ChangeSet};
use super::super::sqlite::Code as _;
use super::super::{
    Amendment, Erased, ErasedLink, ImportBatch, ImportWritten, KindCounts, NewUser, PersonVersion,
    StoreError, StoreResult, Written,
};
use super::{pg, record_change};
use crate::domain::{
    Agency, Case, CaseRef, Dataset, Day, Grade, IsaRef, Link, LinkKind, LinkTarget, MaceMeeting,
    Person, PersonRef, PlaceId, Role, SubjectCategory, User,
};
use crate::safeguards::reviews::{Review, ReviewOutcome};
use crate::safeguards::rules::StoredState;

/// Day 0 of the stores' day numbers, as an SQL date.
const EPOCH: &str = "DATE '1970-01-01'";

/// The columns [`person_row`] reads, in its order.
const SELECT_PERSON: &str = "SELECT id, birth_year, categories::text, agency, \
     (review_due - DATE '1970-01-01'), isa_ref FROM people.people";
/// The columns [`link_row`] reads, in its order.
const SELECT_LINK: &str = "SELECT id, kind, from_person, target::text, categories::text, \
     grade, agency, (review_due - DATE '1970-01-01'), isa_ref FROM people.links";
/// The columns [`case_row`] reads, in its order; the assigned users in byte order of their
/// names, as SQLite's `WITHOUT ROWID` key order gives them.
const SELECT_CASE: &str = "SELECT reference, kind, subjects::text, \
     (opened - DATE '1970-01-01'), (review_due - DATE '1970-01-01'), org, \
     (SELECT COALESCE(json_agg(a.user_name ORDER BY a.user_name COLLATE \"C\"), '[]')::text \
      FROM people.case_assignments a WHERE a.case_ref = cases.reference) \
     FROM people.cases";
/// The columns [`meeting_row`] reads, in its order.
const SELECT_MEETING: &str = "SELECT reference, panel_id, (day - DATE '1970-01-01'), \
     subjects::text, places::text FROM people.meetings";
/// The columns [`user_row`] reads, in its order.
const USER_COLUMNS: &str =
    "id, name, role, org, panels::text, token_hash, token_expires_at, token_revoked_at";

/// The people part of `write_records`: people and links (amended when stored with different
/// fields), cases with their assignments, meetings; the `People` change when any was stored
/// or amended.
pub(super) fn write_records(
    tx: &mut Transaction<'_>,
    data: &Dataset,
    written: &mut Written,
) -> StoreResult<()> {
    let now = crate::safeguards::audit::rfc3339_millis(std::time::SystemTime::now());
    let counts = &mut written.counts;
    counts.people = write_people(tx, &data.people, &now, &mut written.amended)?;
    counts.links = write_links(tx, &data.links, &now, &mut written.amended)?;
    counts.cases = write_cases(tx, &data.cases)?;
    counts.meetings = write_meetings(tx, &data.meetings)?;
    let stored = counts.people + counts.links + counts.cases + counts.meetings;
    if stored > 0 || !written.amended.is_empty() {
        record_change(tx, ChangeKind::People, None)?;
    }
    Ok(())
}

/// The people part of `write_import`: the batch's stop-and-search records, under the file
/// `file_id` the public side registered in this transaction; records already stored are left
/// as they are.
pub(super) fn write_import(
    tx: &mut Transaction<'_>,
    batch: &ImportBatch,
    file_id: i64,
    written: &mut ImportWritten,
) -> StoreResult<()> {
    if batch.stop_searches.is_empty() {
        return Ok(());
    }
    let context = "storing stop and search";
    let stmt = tx
        .prepare(&format!(
            "INSERT INTO people.stop_searches (id, record, day, file_id, line) \
             VALUES ($1, $2::text::jsonb, {EPOCH} + $3::integer, $4, $5) ON CONFLICT DO NOTHING"
        ))
        .map_err(pg(context))?;
    for (record, line) in &batch.stop_searches {
        let n = tx
            .execute(
                &stmt,
                &[
                    &sql_id(record.id, context)?,
                    &to_json(record, "encoding a stop and search record")?,
                    &i32::from(record.day.days_since_epoch()),
                    &file_id,
                    &sql_id(*line, context)?,
                ],
            )
            .map_err(pg(context))?;
        written.stored += n;
        written.unlocated += n * u64::from(record.location.is_none());
    }
    Ok(())
}

/// What the rules need to check `data` on the resulting state (as the SQLite store's).
pub(super) fn stored_state(client: &mut Client, data: &Dataset) -> StoreResult<StoredState> {
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(pg("starting a read transaction"))?;
    let mut state = StoredState::default();
    let mut touched = StoredState::touched(data);
    // Stored links the batch replaces: their people are touched too.
    for l in &data.links {
        if let Some(stored) = link_by_id(&mut tx, l.id)? {
            touched.insert(stored.from.clone());
            if let LinkTarget::Person(p) = &stored.to {
                touched.insert(p.clone());
            }
            state.links.insert(stored.id, stored);
        }
    }
    for p in &touched {
        if let Some(person) = person_by_id(&mut tx, p)? {
            state.people.insert(p.clone(), person);
        }
        for l in links_of(&mut tx, p)? {
            state.links.insert(l.id, l);
        }
    }
    let mut incidents = BTreeSet::new();
    let mut places = BTreeSet::new();
    for l in state.links.values().chain(&data.links) {
        match &l.to {
            LinkTarget::Incident(i) => {
                incidents.insert(*i);
            }
            LinkTarget::Place(p) => {
                places.insert(*p);
            }
            LinkTarget::Person(_) => {}
        }
    }
    let context = "looking up a stored record";
    let ids: Vec<i64> = incidents
        .iter()
        .map(|i| sql_id(i.get(), context))
        .collect::<StoreResult<_>>()?;
    for row in tx
        .query("SELECT id FROM incidents WHERE id = ANY($1)", &[&ids])
        .map_err(pg(context))?
    {
        let id: i64 = row.try_get(0).map_err(pg(context))?;
        if let Some(i) = incidents
            .iter()
            .find(|i| sql_id(i.get(), context).ok() == Some(id))
        {
            state.incidents.insert(*i);
        }
    }
    let ids: Vec<i64> = places.iter().map(|p| i64::from(p.get())).collect();
    for row in tx
        .query("SELECT id FROM places WHERE id = ANY($1)", &[&ids])
        .map_err(pg(context))?
    {
        let id: i64 = row.try_get(0).map_err(pg(context))?;
        if let Some(p) = places.iter().find(|p| i64::from(p.get()) == id) {
            state.places.insert(*p);
        }
    }
    tx.commit().map_err(pg("ending a read transaction"))?;
    Ok(state)
}

/// Adds the people schema's counts (people, links, cases, meetings, stop-and-search records).
pub(super) fn counts(client: &mut Client, counts: &mut KindCounts) -> StoreResult<()> {
    let row = client
        .query_one(
            "SELECT (SELECT COUNT(*) FROM people.people), (SELECT COUNT(*) FROM people.links), \
             (SELECT COUNT(*) FROM people.cases), (SELECT COUNT(*) FROM people.meetings), \
             (SELECT COUNT(*) FROM people.stop_searches)",
            &[],
        )
        .map_err(pg("counting stored records"))?;
    let n = |idx: usize| -> StoreResult<u64> {
        let n: i64 = row.try_get(idx).map_err(pg("counting stored records"))?;
        // COUNT(*) is never negative.
        Ok(u64::try_from(n).unwrap_or_default())
    };
    counts.people = n(0)?;
    counts.links = n(1)?;
    counts.cases = n(2)?;
    counts.meetings = n(3)?;
    counts.stop_searches = n(4)?;
    Ok(())
}

/// The people part of `load_kinds` (in the caller's repeatable-read transaction): people,
/// links, cases and meetings when `kinds.people`, each in key order.
pub(super) fn load_kinds(
    tx: &mut Transaction<'_>,
    kinds: &ChangeSet,
    dataset: &mut Dataset,
) -> StoreResult<()> {
    if !kinds.people {
        return Ok(());
    }
    dataset.people = load(
        tx,
        "people",
        &format!("{SELECT_PERSON} ORDER BY id COLLATE \"C\""),
        &[],
        person_row,
    )?;
    dataset.links = load(
        tx,
        "links",
        &format!("{SELECT_LINK} ORDER BY id"),
        &[],
        link_row,
    )?;
    dataset.cases = load(
        tx,
        "cases",
        &format!("{SELECT_CASE} ORDER BY reference COLLATE \"C\""),
        &[],
        case_row,
    )?;
    dataset.meetings = load(
        tx,
        "meetings",
        &format!("{SELECT_MEETING} ORDER BY reference COLLATE \"C\""),
        &[],
        meeting_row,
    )?;
    Ok(())
}

/// Creates a user; [`StoreError::Duplicate`] for a name that exists.
pub(super) fn add_user(client: &mut Client, user: &NewUser) -> StoreResult<u64> {
    let panels = to_json(&user.panels, "encoding a user's panels as JSON")?;
    let mut tx = client
        .transaction()
        .map_err(pg("starting a write transaction"))?;
    let exists: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM people.users WHERE name = $1)",
            &[&user.name],
        )
        .and_then(|r| r.try_get(0))
        .map_err(pg("looking up a user"))?;
    if exists {
        return Err(StoreError::Duplicate {
            what: "user",
            key: user.name.clone(),
        });
    }
    let id: i64 = tx
        .query_one(
            "INSERT INTO people.users (name, role, org, panels, token_hash, token_expires_at) \
             VALUES ($1, $2, $3, $4::text::jsonb, $5, $6) RETURNING id",
            &[
                &user.name,
                &user.role.code(),
                &user.org,
                &panels,
                &user.token_hash,
                &unix_s(user.token_expires_at),
            ],
        )
        .and_then(|r| r.try_get(0))
        .map_err(pg("storing a user"))?;
    record_change(&mut tx, ChangeKind::Access, None)?;
    tx.commit().map_err(pg("committing a user"))?;
    Ok(u64::try_from(id).unwrap_or_default())
}

/// Replaces the token of the user `name`, clearing any revocation; false without such a user.
pub(super) fn set_user_token(
    client: &mut Client,
    name: &str,
    token_hash: &str,
    token_expires_at: u64,
) -> StoreResult<bool> {
    let mut tx = client
        .transaction()
        .map_err(pg("starting to replace a user's token"))?;
    let n = tx
        .execute(
            "UPDATE people.users SET token_hash = $2, token_expires_at = $3, \
             token_revoked_at = NULL WHERE name = $1",
            &[&name, &token_hash, &unix_s(token_expires_at)],
        )
        .map_err(pg("replacing a user's token"))?;
    if n > 0 {
        record_change(&mut tx, ChangeKind::Access, None)?;
    }
    tx.commit().map_err(pg("committing a user's token"))?;
    Ok(n > 0)
}

/// Marks the token of the user `name` revoked at `revoked_at`, keeping a first revocation's
/// time; the user, `None` without such a user.
pub(super) fn revoke_user(
    client: &mut Client,
    name: &str,
    revoked_at: u64,
) -> StoreResult<Option<User>> {
    let mut tx = client
        .transaction()
        .map_err(pg("starting to revoke a token"))?;
    let rows = tx
        .query(
            &format!(
                "UPDATE people.users SET token_revoked_at = COALESCE(token_revoked_at, $2) \
                 WHERE name = $1 RETURNING {USER_COLUMNS}"
            ),
            &[&name, &unix_s(revoked_at)],
        )
        .map_err(pg("revoking a token"))?;
    let user = rows
        .first()
        .map(|row| user_row(&Cells::new(row, "users")).map(|(_, u)| u))
        .transpose()?;
    if user.is_some() {
        record_change(&mut tx, ChangeKind::Access, None)?;
    }
    tx.commit().map_err(pg("committing a revocation"))?;
    Ok(user)
}

/// Every user with their token hash, by id.
pub(super) fn users(client: &mut Client) -> StoreResult<Vec<(String, User)>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM people.users ORDER BY id");
    load(client, "users", &sql, &[], user_row)
}

/// The user holding the token whose hash is `token_hash`.
pub(super) fn user_by_token_hash(
    client: &mut Client,
    token_hash: &str,
) -> StoreResult<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM people.users WHERE token_hash = $1");
    Ok(load(client, "users", &sql, &[&token_hash], user_row)?
        .pop()
        .map(|(_, u)| u))
}

/// Assigns `user` to the case `case_ref`: `Some(false)` when assigned already, `None` without
/// such a case; a new assignment records the `People` change.
pub(super) fn assign_case(
    client: &mut Client,
    case_ref: &CaseRef,
    user: &str,
    by: &str,
    at: &str,
) -> StoreResult<Option<bool>> {
    let mut tx = client
        .transaction()
        .map_err(pg("starting to assign a case"))?;
    let exists: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM people.cases WHERE reference = $1)",
            &[&case_ref.as_str()],
        )
        .and_then(|r| r.try_get(0))
        .map_err(pg("looking up a case"))?;
    if !exists {
        return Ok(None);
    }
    let n = tx
        .execute(
            "INSERT INTO people.case_assignments (case_ref, user_name, assigned_at, assigned_by) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[&case_ref.as_str(), &user, &at, &by],
        )
        .map_err(pg("assigning a case"))?;
    if n == 1 {
        record_change(&mut tx, ChangeKind::People, None)?;
    }
    tx.commit().map_err(pg("committing a case assignment"))?;
    Ok(Some(n == 1))
}

/// The tables an erasure deletes from or rewrites, vacuumed after it.
const ERASED_TABLES: &str = "people.links, people.people, people.reviews, \
     people.person_equality, people.person_versions, people.link_versions, people.cases, \
     people.meetings";

/// Erases people (with every link from or to them, their reviews, equality attributes, earlier
/// versions and place in case and meeting subject lists) and the links `links`, in one
/// transaction (S18), then vacuums the tables touched.
pub(super) fn erase(
    client: &mut Client,
    people: &[PersonRef],
    links: &[u64],
) -> StoreResult<Erased> {
    let mut tx = client.transaction().map_err(pg("starting an erasure"))?;
    let gone: BTreeSet<&str> = people.iter().map(PersonRef::as_str).collect();
    let mut erased = Erased {
        people: Vec::new(),
        links: erase_links(&mut tx, &gone, links)?,
    };
    for p in people {
        // Their equality attributes (S22) go first: the row refers to the person.
        tx.execute(
            "DELETE FROM people.person_equality WHERE person_ref = $1",
            &[&p.as_str()],
        )
        .map_err(pg("erasing people's equality attributes"))?;
        if tx
            .execute("DELETE FROM people.people WHERE id = $1", &[&p.as_str()])
            .map_err(pg("erasing people"))?
            > 0
        {
            erased.people.push(p.clone());
        }
        tx.execute(
            "DELETE FROM people.reviews WHERE person = $1",
            &[&p.as_str()],
        )
        .map_err(pg("erasing people's reviews"))?;
    }
    if !people.is_empty() {
        for table in ["cases", "meetings"] {
            remove_subjects(&mut tx, table, &gone)?;
        }
    }
    // Earlier versions of erased people and links (kept for audit) go with them.
    tx.batch_execute(
        "DELETE FROM people.person_versions WHERE id NOT IN (SELECT id FROM people.people); \
         DELETE FROM people.link_versions WHERE id NOT IN (SELECT id FROM people.links);",
    )
    .map_err(pg("erasing earlier versions"))?;
    let any = !erased.people.is_empty() || !erased.links.is_empty();
    if any {
        record_change(&mut tx, ChangeKind::People, None)?;
    }
    tx.commit().map_err(pg("committing an erasure"))?;
    if any {
        vacuum_erased(client);
    }
    Ok(erased)
}

/// Deletes every link from or to a person in `gone` and the links `expired`, ascending by id;
/// what was deleted, each with the erased person it went with.
fn erase_links(
    tx: &mut Transaction<'_>,
    gone: &BTreeSet<&str>,
    expired: &[u64],
) -> StoreResult<Vec<ErasedLink>> {
    let expired: BTreeSet<u64> = expired.iter().copied().collect();
    let context = "scanning links";
    let stored = tx
        .query(
            "SELECT id, from_person, target::text FROM people.links ORDER BY id",
            &[],
        )
        .map_err(pg(context))?;
    let mut erased = Vec::new();
    for row in &stored {
        let c = Cells::new(row, "links");
        let (id, from) = (c.id(0)?, c.get::<String>(1)?);
        let with_person = if gone.contains(from.as_str()) {
            Some(c.parse::<PersonRef>(1)?)
        } else {
            match c.json::<LinkTarget>(2)? {
                LinkTarget::Person(p) if gone.contains(p.as_str()) => Some(p),
                _ => None,
            }
        };
        if with_person.is_none() && !expired.contains(&id) {
            continue;
        }
        tx.execute(
            "DELETE FROM people.links WHERE id = $1",
            &[&sql_id(id, "erasing links")?],
        )
        .map_err(pg("erasing links"))?;
        erased.push(ErasedLink { id, with_person });
    }
    Ok(erased)
}

/// Removes the people in `gone` from the subject lists of `table` (`cases` or `meetings`).
fn remove_subjects(
    tx: &mut Transaction<'_>,
    table: &'static str,
    gone: &BTreeSet<&str>,
) -> StoreResult<()> {
    let rows = tx
        .query(
            &format!("SELECT reference, subjects::text FROM people.{table}"),
            &[],
        )
        .map_err(pg("scanning subject lists"))?;
    for row in &rows {
        let c = Cells::new(row, table);
        let list: Vec<String> = c.json(1)?;
        let kept: Vec<&String> = list.iter().filter(|s| !gone.contains(s.as_str())).collect();
        if kept.len() != list.len() {
            let reference: String = c.get(0)?;
            tx.execute(
                &format!(
                    "UPDATE people.{table} SET subjects = $2::text::jsonb WHERE reference = $1"
                ),
                &[&reference, &to_json(&kept, "encoding a subject list")?],
            )
            .map_err(pg("removing erased subjects"))?;
        }
    }
    Ok(())
}

/// Rewrites the tables an erasure touched (`VACUUM FULL`), so no page of them keeps a byte of
/// the erased (dead) rows. Only the tables' owner (or a superuser) can vacuum them; the
/// erasure is committed before this runs, so a rewrite that cannot run is logged, not returned:
/// the caller must still write its erasure records. What PostgreSQL keeps beyond the tables
/// (WAL, backups, replicas) is in docs/SECURITY.md.
fn vacuum_erased(client: &mut Client) {
    let owner = client.query_one(
        "SELECT COALESCE(bool_and(pg_has_role(c.relowner, 'USAGE')), false) \
         OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'people' AND c.relkind = 'r'",
        &[],
    );
    match owner.and_then(|r| r.try_get::<_, Option<bool>>(0)) {
        Ok(Some(true)) => {}
        Ok(_) => {
            tracing::warn!(
                "the database role is not the owner of the people schema's tables, so it cannot rewrite them (VACUUM FULL) after an erasure; the erased rows' bytes stay in the tables' pages until autovacuum and later writes reuse the space. Run `saferplaces migrate` as the servers' role, or VACUUM FULL the people schema as its owner"
            );
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not check who owns the people schema's tables before vacuuming them after an erasure");
            return;
        }
    }
    // One statement: VACUUM cannot run inside a transaction block. FULL: a plain VACUUM
    // prunes the dead tuples without zeroing the space they held, so their bytes stay in the
    // page until a later write reuses it; FULL writes each table and its indexes anew, holding
    // an exclusive lock on each for the time (milliseconds for a partnership's people tables).
    // Row versions a transaction still running may see are kept either way.
    if let Err(e) = client.batch_execute(&format!("VACUUM FULL {ERASED_TABLES}")) {
        tracing::warn!(error = %e, "could not rewrite the people schema's tables (VACUUM FULL) after an erasure; the erased rows' bytes stay in the tables' pages until autovacuum and later writes reuse the space");
    }
}

/// The stored person `id`, if any.
pub(super) fn person(client: &mut Client, id: &PersonRef) -> StoreResult<Option<Person>> {
    person_by_id(client, id)
}

/// Records a review and, unless it removes the person, sets the person's review date, in one
/// transaction; [`StoreError::NotFound`] for a person not stored. Returns the review's id.
pub(super) fn record_review(client: &mut Client, review: &Review) -> StoreResult<u64> {
    let mut tx = client
        .transaction()
        .map_err(pg("starting to record a review"))?;
    let due = review.review_due.map(|d| i32::from(d.days_since_epoch()));
    let updated = tx
        .execute(
            &format!(
                "UPDATE people.people SET review_due = COALESCE({EPOCH} + $2::integer, review_due) \
                 WHERE id = $1"
            ),
            &[&review.person.as_str(), &due],
        )
        .map_err(pg("setting a person's review date"))?;
    if updated == 0 {
        return Err(StoreError::NotFound {
            what: "person",
            key: review.person.to_string(),
        });
    }
    let id: i64 = tx
        .query_one(
            &format!(
                "INSERT INTO people.reviews \
                 (person, review_due, rationale, outcome, decided_by, decided_at) \
                 VALUES ($1, {EPOCH} + $2::integer, $3, $4, $5, $6) RETURNING id"
            ),
            &[
                &review.person.as_str(),
                &due,
                &review.rationale.trim(),
                &review.outcome.code(),
                &review.decided_by.trim(),
                &review.decided_at,
            ],
        )
        .and_then(|r| r.try_get(0))
        .map_err(pg("recording a review"))?;
    record_change(&mut tx, ChangeKind::People, None)?;
    tx.commit().map_err(pg("committing a review"))?;
    Ok(u64::try_from(id).unwrap_or_default())
}

/// The id of the latest review of each of `people` that has one.
pub(super) fn latest_reviews(
    client: &mut Client,
    people: &[PersonRef],
) -> StoreResult<BTreeMap<PersonRef, u64>> {
    let context = "looking up reviews";
    let refs: Vec<&str> = people.iter().map(PersonRef::as_str).collect();
    let rows = client
        .query(
            "SELECT person, MAX(id) FROM people.reviews WHERE person = ANY($1) GROUP BY person",
            &[&refs],
        )
        .map_err(pg(context))?;
    let mut latest = BTreeMap::new();
    for row in &rows {
        let c = Cells::new(row, "reviews");
        latest.insert(c.parse::<PersonRef>(0)?, c.id(1)?);
    }
    Ok(latest)
}

/// Earlier versions of the person `id`, oldest first.
pub(super) fn person_versions(
    client: &mut Client,
    id: &PersonRef,
) -> StoreResult<Vec<PersonVersion>> {
    let sql = "SELECT id, birth_year, categories::text, agency, \
               (review_due - DATE '1970-01-01'), isa_ref, superseded_at \
               FROM people.person_versions WHERE id = $1 ORDER BY version_id";
    load(client, "person_versions", sql, &[&id.as_str()], |c| {
        Ok(PersonVersion {
            person: person_row(c)?,
            superseded_at: c.get(6)?,
        })
    })
}

/// Every stored link from or to the person `id`, by id.
pub(super) fn links_of_person(client: &mut Client, id: &PersonRef) -> StoreResult<Vec<Link>> {
    links_of(client, id)
}

/// The reviews of the person `id` with their ids, oldest first.
pub(super) fn reviews_of(client: &mut Client, id: &PersonRef) -> StoreResult<Vec<(u64, Review)>> {
    let sql = "SELECT id, person, (review_due - DATE '1970-01-01'), rationale, outcome, \
               decided_by, decided_at FROM people.reviews WHERE person = $1 ORDER BY id";
    load(client, "reviews", sql, &[&id.as_str()], |c| {
        Ok((
            c.id(0)?,
            Review {
                person: c.parse::<PersonRef>(1)?,
                review_due: c.optional_day(2)?,
                rationale: c.get(3)?,
                outcome: c.parse::<ReviewOutcome>(4)?,
                decided_by: c.get(5)?,
                decided_at: c.get(6)?,
            },
        ))
    })
}

/// The cases naming the person `id` among their subjects, by reference.
pub(super) fn cases_of(client: &mut Client, id: &PersonRef) -> StoreResult<Vec<Case>> {
    let sql = format!(
        "{SELECT_CASE} WHERE subjects @> jsonb_build_array($1::text) \
         ORDER BY reference COLLATE \"C\""
    );
    load(client, "cases", &sql, &[&id.as_str()], case_row)
}

/// The MACE meetings with the person `id` on their agenda, by reference.
pub(super) fn meetings_of(client: &mut Client, id: &PersonRef) -> StoreResult<Vec<MaceMeeting>> {
    let sql = format!(
        "{SELECT_MEETING} WHERE subjects @> jsonb_build_array($1::text) \
         ORDER BY reference COLLATE \"C\""
    );
    load(client, "meetings", &sql, &[&id.as_str()], meeting_row)
}

// ---------------------------------------------------------------------------------------------
// Writing.

/// Stores people not stored yet; a person stored with different fields is amended: the stored
/// row is copied to `person_versions` and replaced.
fn write_people(
    tx: &mut Transaction<'_>,
    people: &[Person],
    now: &str,
    amended: &mut Vec<Amendment>,
) -> StoreResult<u64> {
    let context = "storing people";
    let insert = tx
        .prepare(&format!(
            "INSERT INTO people.people (id, birth_year, categories, agency, review_due, isa_ref) \
             VALUES ($1, $2, $3::text::jsonb, $4, {EPOCH} + $5::integer, $6) \
             ON CONFLICT DO NOTHING"
        ))
        .map_err(pg(context))?;
    let mut inserted = 0_u64;
    for p in people {
        let categories = to_json(&p.categories, "encoding a person's categories as JSON")?;
        let isa_ref = p.isa_ref.as_ref().map(IsaRef::as_str);
        let values: [&(dyn postgres::types::ToSql + Sync); 6] = [
            &p.id.as_str(),
            &i32::from(p.birth_year),
            &categories,
            &p.source.as_str(),
            &i32::from(p.review_due.days_since_epoch()),
            &isa_ref,
        ];
        let new = tx.execute(&insert, &values).map_err(pg(context))?;
        inserted += new;
        // Not inserted: the id is stored; compare with the stored version.
        let Some(stored) = (new == 0)
            .then(|| person_by_id(tx, &p.id))
            .transpose()?
            .flatten()
        else {
            continue;
        };
        let fields = person_changes(&stored, p);
        if fields.is_empty() {
            continue;
        }
        tx.execute(
            "INSERT INTO people.person_versions \
             (id, birth_year, categories, agency, review_due, isa_ref, superseded_at) \
             SELECT id, birth_year, categories, agency, review_due, isa_ref, $2 \
             FROM people.people WHERE id = $1",
            &[&p.id.as_str(), &now],
        )
        .map_err(pg("keeping a person's earlier version"))?;
        tx.execute(
            &format!(
                "UPDATE people.people SET birth_year = $2, categories = $3::text::jsonb, \
                 agency = $4, review_due = {EPOCH} + $5::integer, isa_ref = $6 WHERE id = $1"
            ),
            &values,
        )
        .map_err(pg("amending a person"))?;
        amended.push(Amendment {
            record: format!("person:{}", p.id),
            subject: p.id.clone(),
            fields,
        });
    }
    Ok(inserted)
}

/// Stores links not stored yet; a link stored with different fields is amended like a person.
fn write_links(
    tx: &mut Transaction<'_>,
    links: &[Link],
    now: &str,
    amended: &mut Vec<Amendment>,
) -> StoreResult<u64> {
    let context = "storing links";
    let insert = tx
        .prepare(&format!(
            "INSERT INTO people.links \
             (id, kind, from_person, target, categories, grade, agency, review_due, isa_ref) \
             VALUES ($1, $2, $3, $4::text::jsonb, $5::text::jsonb, $6, $7, \
             {EPOCH} + $8::integer, $9) ON CONFLICT DO NOTHING"
        ))
        .map_err(pg(context))?;
    let mut inserted = 0_u64;
    for l in links {
        let id = sql_id(l.id, context)?;
        let target = to_json(&l.to, "encoding a link target as JSON")?;
        let categories = to_json(&l.categories, "encoding a link's categories as JSON")?;
        let grade = l.grade.to_string();
        let isa_ref = l.isa_ref.as_ref().map(IsaRef::as_str);
        let values: [&(dyn postgres::types::ToSql + Sync); 9] = [
            &id,
            &l.kind.code(),
            &l.from.as_str(),
            &target,
            &categories,
            &grade,
            &l.source.as_str(),
            &i32::from(l.review_due.days_since_epoch()),
            &isa_ref,
        ];
        let new = tx.execute(&insert, &values).map_err(pg(context))?;
        inserted += new;
        let Some(stored) = (new == 0)
            .then(|| link_by_id(tx, l.id))
            .transpose()?
            .flatten()
        else {
            continue;
        };
        let fields = link_changes(&stored, l);
        if fields.is_empty() {
            continue;
        }
        tx.execute(
            "INSERT INTO people.link_versions \
             (id, kind, from_person, target, categories, grade, agency, review_due, isa_ref, \
             superseded_at) \
             SELECT id, kind, from_person, target, categories, grade, agency, review_due, \
             isa_ref, $2 FROM people.links WHERE id = $1",
            &[&id, &now],
        )
        .map_err(pg("keeping a link's earlier version"))?;
        tx.execute(
            &format!(
                "UPDATE people.links SET kind = $2, from_person = $3, target = $4::text::jsonb, \
                 categories = $5::text::jsonb, grade = $6, agency = $7, \
                 review_due = {EPOCH} + $8::integer, isa_ref = $9 WHERE id = $1"
            ),
            &values,
        )
        .map_err(pg("amending a link"))?;
        amended.push(Amendment {
            record: format!("link:{}", l.id),
            subject: l.from.clone(),
            fields,
        });
    }
    Ok(inserted)
}

/// Stores cases not stored yet, and the assignments they name (by `case record`).
fn write_cases(tx: &mut Transaction<'_>, cases: &[Case]) -> StoreResult<u64> {
    let context = "storing cases";
    let insert = tx
        .prepare(&format!(
            "INSERT INTO people.cases (reference, kind, subjects, opened, review_due, org) \
             VALUES ($1, $2, $3::text::jsonb, {EPOCH} + $4::integer, {EPOCH} + $5::integer, $6) \
             ON CONFLICT DO NOTHING"
        ))
        .map_err(pg(context))?;
    let mut stored = 0_u64;
    for c in cases {
        let subjects = to_json(&c.subjects, "encoding case subjects as JSON")?;
        let kind = to_json(&c.kind, "encoding a case kind")?;
        stored += tx
            .execute(
                &insert,
                &[
                    &c.reference.as_str(),
                    &kind.trim_matches('"'),
                    &subjects,
                    &i32::from(c.opened.days_since_epoch()),
                    &i32::from(c.review_due.days_since_epoch()),
                    &c.org,
                ],
            )
            .map_err(pg(context))?;
    }
    let assign = tx
        .prepare(
            "INSERT INTO people.case_assignments (case_ref, user_name, assigned_at, assigned_by) \
             VALUES ($1, $2, $3, 'case record') ON CONFLICT DO NOTHING",
        )
        .map_err(pg("storing case assignments"))?;
    let now = crate::safeguards::audit::rfc3339_millis(std::time::SystemTime::now());
    for c in cases {
        for user in &c.assigned {
            tx.execute(&assign, &[&c.reference.as_str(), user, &now])
                .map_err(pg("storing case assignments"))?;
        }
    }
    Ok(stored)
}

/// Stores meetings not stored yet.
fn write_meetings(tx: &mut Transaction<'_>, meetings: &[MaceMeeting]) -> StoreResult<u64> {
    let context = "storing meetings";
    let insert = tx
        .prepare(&format!(
            "INSERT INTO people.meetings (reference, panel_id, day, subjects, places) \
             VALUES ($1, $2, {EPOCH} + $3::integer, $4::text::jsonb, $5::text::jsonb) \
             ON CONFLICT DO NOTHING"
        ))
        .map_err(pg(context))?;
    let mut stored = 0_u64;
    for m in meetings {
        let panel = i32::try_from(m.panel_id).map_err(|e| encode_error(context, e))?;
        stored += tx
            .execute(
                &insert,
                &[
                    &m.reference.as_str(),
                    &panel,
                    &i32::from(m.day.days_since_epoch()),
                    &to_json(&m.subjects, "encoding meeting subjects as JSON")?,
                    &to_json(&m.places, "encoding meeting places as JSON")?,
                ],
            )
            .map_err(pg(context))?;
    }
    Ok(stored)
}

// ---------------------------------------------------------------------------------------------
// Reading.

fn person_by_id(client: &mut impl GenericClient, id: &PersonRef) -> StoreResult<Option<Person>> {
    let sql = format!("{SELECT_PERSON} WHERE id = $1");
    Ok(load(client, "people", &sql, &[&id.as_str()], person_row)?.pop())
}

fn link_by_id(client: &mut impl GenericClient, id: u64) -> StoreResult<Option<Link>> {
    let sql = format!("{SELECT_LINK} WHERE id = $1");
    let key = sql_id(id, "looking up a stored link")?;
    Ok(load(client, "links", &sql, &[&key], link_row)?.pop())
}

/// Every stored link from or to `person`, by id.
fn links_of(client: &mut impl GenericClient, person: &PersonRef) -> StoreResult<Vec<Link>> {
    // The second clause matches the partial index `links_to_person`.
    let sql = format!(
        "{SELECT_LINK} WHERE from_person = $1 \
         OR (target ->> 'type' = 'person' AND target ->> 'id' = $1) ORDER BY id"
    );
    load(client, "links", &sql, &[&person.as_str()], link_row)
}

/// Reads every row of `sql` (whose first column is the table's key) and converts each with
/// `convert`.
fn load<T>(
    client: &mut impl GenericClient,
    table: &'static str,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
    convert: impl Fn(&Cells<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let rows = client
        .query(sql, params)
        .map_err(pg("loading stored records"))?;
    rows.iter()
        .map(|row| convert(&Cells::new(row, table)))
        .collect()
}

fn person_row(c: &Cells<'_>) -> StoreResult<Person> {
    Person::new(
        c.parse::<PersonRef>(0)?,
        c.checked::<i32, u16>(1)?,
        c.json::<Vec<SubjectCategory>>(2)?,
        c.parse::<Agency>(3)?,
        c.day(4)?,
    )
    .map_err(|e| c.corrupt(e.to_string()))
    .and_then(|p| Ok(p.with_isa_ref(c.parse_optional(5)?)))
}

fn link_row(c: &Cells<'_>) -> StoreResult<Link> {
    Link::new(
        c.id(0)?,
        c.code::<LinkKind>(1)?,
        c.parse::<PersonRef>(2)?,
        c.json::<LinkTarget>(3)?,
        c.json::<Vec<SubjectCategory>>(4)?,
        c.parse::<Grade>(5)?,
        c.parse::<Agency>(6)?,
        c.day(7)?,
    )
    .map_err(|e| c.corrupt(e.to_string()))
    .and_then(|l| Ok(l.with_isa_ref(c.parse_optional(8)?)))
}

fn case_row(c: &Cells<'_>) -> StoreResult<Case> {
    let kind: String = c.get(1)?;
    Ok(Case {
        reference: c.parse::<CaseRef>(0)?,
        kind: serde_json::from_value(serde_json::Value::String(kind))
            .map_err(|e| c.column_corrupt(1, e))?,
        subjects: c.json::<Vec<PersonRef>>(2)?,
        opened: c.day(3)?,
        review_due: c.day(4)?,
        org: c.get(5)?,
        assigned: c.json::<Vec<String>>(6)?,
    })
}

fn meeting_row(c: &Cells<'_>) -> StoreResult<MaceMeeting> {
    Ok(MaceMeeting {
        reference: c.parse::<CaseRef>(0)?,
        panel_id: c.checked::<i32, u32>(1)?,
        day: c.day(2)?,
        subjects: c.json::<Vec<PersonRef>>(3)?,
        places: c.json::<Vec<PlaceId>>(4)?,
    })
}

/// A user row ([`USER_COLUMNS`]) as `(token hash, user)`. A missing expiry reads as 0, so
/// the token counts as expired: it fails closed.
fn user_row(c: &Cells<'_>) -> StoreResult<(String, User)> {
    let unix = |idx: usize| -> StoreResult<Option<u64>> {
        c.get::<Option<i64>>(idx)?
            .map(|v| u64::try_from(v).map_err(|e| c.column_corrupt(idx, e)))
            .transpose()
    };
    Ok((
        c.get::<String>(5)?,
        User {
            id: c.id(0)?,
            name: c.get(1)?,
            role: c.parse::<Role>(2)?,
            org: c.get(3)?,
            panels: c.json::<Vec<u32>>(4)?,
            token_expires_at: unix(6)?.unwrap_or(0),
            token_revoked_at: unix(7)?,
        },
    ))
}

/// One stored row being turned back into domain values; every failure is a
/// [`StoreError::Corrupt`] naming the table, the row's key (its first column) and the column.
struct Cells<'a> {
    row: &'a Row,
    table: &'static str,
}

impl<'a> Cells<'a> {
    fn new(row: &'a Row, table: &'static str) -> Self {
        Self { row, table }
    }

    /// The row's key: its first column as text.
    fn key(&self) -> String {
        if let Ok(Some(text)) = self.row.try_get::<_, Option<String>>(0) {
            return text;
        }
        match self.row.try_get::<_, Option<i64>>(0) {
            Ok(Some(n)) => n.to_string(),
            Ok(None) => "NULL".to_owned(),
            Err(_) => "?".to_owned(),
        }
    }

    fn corrupt(&self, reason: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            table: self.table,
            row: self.key(),
            reason: reason.into(),
        }
    }

    fn column_corrupt(&self, idx: usize, reason: impl Display) -> StoreError {
        let column = self.row.columns().get(idx).map_or("?", |c| c.name());
        self.corrupt(format!("{column}: {reason}"))
    }

    /// A column as a plain PostgreSQL-convertible value.
    fn get<T: for<'r> FromSql<'r>>(&self, idx: usize) -> StoreResult<T> {
        self.row
            .try_get(idx)
            .map_err(|e| self.column_corrupt(idx, e))
    }

    /// A bigint key column holding a 64-bit unsigned id.
    fn id(&self, idx: usize) -> StoreResult<u64> {
        let raw: i64 = self.get(idx)?;
        u64::try_from(raw).map_err(|e| self.column_corrupt(idx, e))
    }

    /// An integer column converted to a narrower or unsigned type.
    fn checked<R, T>(&self, idx: usize) -> StoreResult<T>
    where
        R: for<'r> FromSql<'r>,
        T: TryFrom<R>,
        T::Error: Display,
    {
        T::try_from(self.get::<R>(idx)?).map_err(|e| self.column_corrupt(idx, e))
    }

    /// A text column parsed with [`FromStr`].
    fn parse<T>(&self, idx: usize) -> StoreResult<T>
    where
        T: FromStr,
        T::Err: Display,
    {
        let text: String = self.get(idx)?;
        text.parse().map_err(|e| self.column_corrupt(idx, e))
    }

    /// A nullable text column parsed with [`FromStr`].
    fn parse_optional<T>(&self, idx: usize) -> StoreResult<Option<T>>
    where
        T: FromStr,
        T::Err: Display,
    {
        let text: Option<String> = self.get(idx)?;
        text.map(|t| t.parse().map_err(|e| self.column_corrupt(idx, e)))
            .transpose()
    }

    /// A `jsonb` column read as text.
    fn json<T: DeserializeOwned>(&self, idx: usize) -> StoreResult<T> {
        let text: String = self.get(idx)?;
        serde_json::from_str(&text).map_err(|e| self.column_corrupt(idx, e))
    }

    /// A text column holding a code of the SQLite store's vocabulary.
    fn code<T: super::super::sqlite::Code>(&self, idx: usize) -> StoreResult<T> {
        let text: String = self.get(idx)?;
        T::from_code(&text)
            .ok_or_else(|| self.column_corrupt(idx, format!("{text:?} is not a known code")))
    }

    /// A date column read as days since 1970-01-01 (`col - DATE '1970-01-01'`).
    fn day(&self, idx: usize) -> StoreResult<Day> {
        self.checked::<i32, u16>(idx)
            .map(Day::from_days_since_epoch)
    }

    /// A nullable date column read as days since 1970-01-01.
    fn optional_day(&self, idx: usize) -> StoreResult<Option<Day>> {
        self.get::<Option<i32>>(idx)?
            .map(|d| {
                u16::try_from(d)
                    .map(Day::from_days_since_epoch)
                    .map_err(|e| self.column_corrupt(idx, e))
            })
            .transpose()
    }
}

/// A 64-bit unsigned id as a bigint key. Ids above `i64::MAX` cannot be stored.
fn sql_id(id: u64, context: &'static str) -> StoreResult<i64> {
    i64::try_from(id).map_err(|e| encode_error(context, e))
}

/// Unix seconds as a bigint; times past `i64::MAX` are stored as `i64::MAX`.
fn unix_s(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

fn to_json<T: Serialize + ?Sized>(value: &T, context: &'static str) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| encode_error(context, e))
}

/// A value that cannot be turned into a column (an id above `i64::MAX`, a value `serde_json`
/// refuses): the write is refused whole (its transaction is dropped, so rolled back).
fn encode_error(context: &'static str, e: impl Display) -> StoreError {
    StoreError::Refused {
        operation: context,
        field: "value",
        problem: e.to_string(),
    }
}

#[cfg(test)]
#[path = "people_tests.rs"]
mod tests;
