//! Tests of the row checksums (issue 14, point 4): a value changed behind the store's back is
//! refused naming the table, the row and its rowid; `check` lists every damaged row; every
//! write path of the store keeps the checksums current; migration 0011 fills them.

use rusqlite::Connection;

use super::super::tests::sample;
use super::super::{MIGRATIONS, SqliteStore};
use super::*;
use crate::domain::Role;
use crate::store::{NewUser, Store as _};

fn user(name: &str) -> NewUser {
    NewUser {
        name: name.to_owned(),
        role: Role::Planner,
        org: None,
        panels: vec![1],
        token_hash: format!("{:0>64}", name.len()),
        token_expires_at: 4_000_000_000,
    }
}

/// A file-backed store holding the sample dataset and two users, closed again.
fn stored(dir: &std::path::Path) {
    let mut store = SqliteStore::open(dir).unwrap();
    store.write_unchecked(&sample()).unwrap();
    store.add_user(&user("alice")).unwrap();
    store.add_user(&user("bob")).unwrap();
}

/// A connection of "another program" (no checksum function, no triggers), as the `sqlite3`
/// shell or a disk fault would change the file.
fn raw(dir: &std::path::Path) -> Connection {
    Connection::open(dir.join(SqliteStore::FILE_NAME)).unwrap()
}

/// Changes one value of the first row (by rowid) of four tables behind the store's back and
/// returns (table, key text, rowid) of each.
fn flip_four(dir: &std::path::Path) -> Vec<(&'static str, String, i64)> {
    let conn = raw(dir);
    let mut flipped = Vec::new();
    for (table, key, change) in [
        ("people", "id", "review_due = review_due + 1"),
        // A link's kind is the value that changes what it means.
        (
            "links",
            "id",
            "kind = CASE kind WHEN 'associate' THEN 'sibling' ELSE 'associate' END",
        ),
        ("places", "id", "lon = lon + 0.000001"),
        ("users", "id", "role = 'vru_analyst'"),
    ] {
        let (rowid, key_value): (i64, rusqlite::types::Value) = conn
            .query_row(
                &format!("SELECT rowid, {key} FROM {table} ORDER BY rowid LIMIT 1"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let n = conn
            .execute(
                &format!("UPDATE {table} SET {change} WHERE rowid = ?1"),
                [rowid],
            )
            .unwrap();
        assert_eq!(n, 1, "{table}");
        let key_text = match key_value {
            rusqlite::types::Value::Text(t) => format!("{t:?}"),
            rusqlite::types::Value::Integer(i) => i.to_string(),
            other => panic!("{other:?}"),
        };
        flipped.push((table, key_text, rowid));
    }
    flipped
}

fn assert_names(err: &StoreError, table: &str, key: &str, rowid: i64) {
    let StoreError::RowDamaged {
        table: t,
        key: k,
        rowid: r,
        ..
    } = err
    else {
        panic!("not a damaged row: {err:?}");
    };
    assert_eq!(
        (t.as_str(), k.as_str(), *r),
        (table, key, Some(rowid)),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("table {table}, row {key} (rowid {rowid})")),
        "{text}"
    );
}

#[test]
fn an_undamaged_store_passes_every_verification() {
    let dir = tempfile::tempdir().unwrap();
    stored(dir.path());
    let store = SqliteStore::open(dir.path()).unwrap();
    store.verify_at_start().unwrap();
    store.load().unwrap();
    let report = store.check(true).unwrap();
    assert!(report.is_ok(), "{:#?}", report.lines());
    assert!(report.rows_verified > 0);
}

#[test]
fn a_value_changed_behind_the_stores_back_is_refused_naming_table_row_and_rowid() {
    for (i, table) in ["people", "links", "places", "users"]
        .into_iter()
        .enumerate()
    {
        let dir = tempfile::tempdir().unwrap();
        stored(dir.path());
        let (t, key, rowid) = flip_four(dir.path()).swap_remove(i);
        assert_eq!(t, table);
        // Put the other three back: only `table` stays damaged.
        let store = SqliteStore::open(dir.path()).unwrap();
        for other in ["people", "links", "places", "users"] {
            if other != table {
                fill_one(&store.conn, other);
            }
        }
        let err = store.verify_at_start().unwrap_err();
        assert_names(&err, table, &key, rowid);
        if table != "users" {
            assert_names(&store.load().unwrap_err(), table, &key, rowid);
        }
    }
}

/// Recomputes the checksums of `table` (to undo a flip in the tests).
fn fill_one(conn: &Connection, table: &str) {
    let shape = shapes(conn)
        .unwrap()
        .into_iter()
        .find(|s| s.table == table)
        .unwrap();
    conn.execute(
        &format!("UPDATE {table} SET row_crc = {}", shape.checksum_sql("")),
        [],
    )
    .unwrap();
}

#[test]
fn check_lists_every_damaged_row_not_only_the_first() {
    let dir = tempfile::tempdir().unwrap();
    stored(dir.path());
    let flipped = flip_four(dir.path());
    let store = SqliteStore::open(dir.path()).unwrap();
    let report = store.check(false).unwrap();
    assert!(!report.is_ok());
    let lines = report.lines().join("\n");
    for (table, key, rowid) in &flipped {
        assert!(
            lines.contains(&format!("table {table}, row {key} (rowid {rowid})")),
            "{table}: {lines}"
        );
    }
    let damaged_rows = report
        .problems
        .iter()
        .filter(|p| p.contains("do not match its checksum"))
        .count();
    assert_eq!(damaged_rows, 4, "{lines}");
}

#[test]
fn a_missing_checksum_is_damage() {
    let dir = tempfile::tempdir().unwrap();
    stored(dir.path());
    raw(dir.path())
        .execute("UPDATE boundaries SET row_crc = NULL", [])
        .unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let err = store.load().unwrap_err();
    assert!(
        matches!(&err, StoreError::RowDamaged { table, rowid: None, reason, .. }
            if table == "boundaries" && reason.contains("missing")),
        "{err:?}"
    );
}

#[test]
fn every_write_path_keeps_the_checksums_current() {
    let dir = tempfile::tempdir().unwrap();
    stored(dir.path());
    let mut store = SqliteStore::open(dir.path()).unwrap();
    // Updates: a token replaced, a token revoked, a person amended, a case assigned, a
    // review recorded, an erasure (cascades).
    assert!(
        store
            .set_user_token("alice", &"f".repeat(64), 4_100_000_000)
            .unwrap()
    );
    assert!(store.revoke_user("bob", 1_900_000_000).unwrap().is_some());
    let mut data = sample();
    let person = data.people[0].clone();
    data.people[0].birth_year += 1;
    store.write_unchecked(&data).unwrap();
    if let Some(case) = data.cases.first() {
        store
            .assign_case(&case.reference, "alice", "admin", "2026-01-01T00:00:00Z")
            .unwrap();
    }
    store.erase(&[data.people[1].id.clone()], &[]).unwrap();
    store.verify_at_start().unwrap();
    store.load().unwrap();
    assert!(store.check(false).unwrap().is_ok());
    // And none is NULL.
    for shape in shapes(&store.conn).unwrap() {
        let missing: i64 = store
            .conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM \"{}\" WHERE row_crc IS NULL",
                    shape.table
                ),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(missing, 0, "{}", shape.table);
    }
    assert_ne!(person.birth_year, data.people[0].birth_year);
}

#[test]
fn every_table_but_the_segments_carries_a_row_checksum() {
    let store = SqliteStore::open_in_memory().unwrap();
    let tables: Vec<String> = store
        .conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let checked: Vec<String> = shapes(&store.conn)
        .unwrap()
        .into_iter()
        .map(|s| s.table)
        .collect();
    for table in tables {
        assert_eq!(
            checked.contains(&table),
            table != "incident_segments",
            "{table}"
        );
    }
}

#[test]
fn migration_0011_fills_the_checksums_of_rows_stored_before_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = raw(dir.path());
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= 10) {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", version).unwrap();
        }
        conn.execute(
            "INSERT INTO users (name, role, org, panels, token_hash, token_expires_at) \
             VALUES ('old', 'planner', NULL, '[]', ?1, 4000000000)",
            [&"a".repeat(64)],
        )
        .unwrap();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    let crc: Option<i64> = store
        .conn
        .query_row("SELECT row_crc FROM users WHERE name = 'old'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(crc.is_some());
    store.verify_at_start().unwrap();
    assert_eq!(store.users().unwrap().len(), 1);
}

#[test]
fn the_encoding_tells_types_and_tables_apart() {
    use rusqlite::types::ValueRef as V;
    let a = row_checksum("t", [V::Integer(1), V::Null]);
    assert_ne!(a, row_checksum("t", [V::Text(b"1"), V::Null]));
    assert_ne!(a, row_checksum("u", [V::Integer(1), V::Null]));
    assert_ne!(a, row_checksum("t", [V::Null, V::Integer(1)]));
    assert_ne!(
        row_checksum("t", [V::Text(b"ab"), V::Text(b"")]),
        row_checksum("t", [V::Text(b"a"), V::Text(b"b")])
    );
}
