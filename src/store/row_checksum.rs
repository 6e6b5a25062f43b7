//! Row checksums (issue 14, point 4): every record row of every table carries a CRC-32 of its
//! stored values in its `row_crc` column, so a value changed on disk (a flipped bit in a page,
//! a stray write) is refused at start instead of served.
//!
//! `SQLite` checks the structure of its pages, not the values inside them; a flipped bit in a
//! person's review date leaves a well-formed database and a valid, wrong person. The segment
//! checksums ([`super::integrity`]) cover the incident blobs; this covers everything else: every
//! table except `incident_segments` (which has its own `checksum`).
//!
//! **Encoding.** The checksum is CRC-32 (IEEE, `crc32fast`) over the table's name and then each
//! stored column in declared order (every column but `row_crc`), each as a type tag byte and
//! its value: NULL nothing, INTEGER 8 bytes little-endian, REAL the 8 bytes of its IEEE bits,
//! TEXT and BLOB their length (8 bytes) and bytes. A change of type (a damaged record header)
//! changes the checksum as surely as a change of value. The table name keeps a row copied into
//! another table of the same shape from passing.
//!
//! **Writing.** The function is registered on every connection the store opens
//! ([`register`]), and a writable connection adds two TEMP triggers per table ([`install`]):
//! after an insert, and after an update of any column but `row_crc`, the row's checksum is
//! recomputed from its new values in the same statement. Every insert and update path of the
//! store is therefore covered, including ones added later, without any call site knowing. The
//! triggers live only in the store's own connection (TEMP): a write by any other program (the
//! `sqlite3` shell, a disk fault) does not update the checksum and is reported as damage.
//!
//! **Verifying.** One query per table selects the rows whose stored checksum differs from the
//! one computed from their values ([`verify`], [`damaged_rows`]): a single linear scan, with
//! the CRC computed in the function (about 1 GB/s) and nothing decoded. [`SqliteStore::load`]
//! runs it in its read transaction, so `serve` refuses to start and a reload refuses a damaged
//! row; `stats` runs it at start; `saferplaces check` lists every damaged row.
//!
//! **Upgrading.** Migration 0011 adds the columns and its Rust step ([`fill`]) computes the
//! checksum of every row already stored, in the migration's transaction. Damage done before the
//! upgrade cannot be told from data and is vouched for. A later migration that adds a column
//! to a checksummed table changes its rows' encoding and must call [`fill`] too.
//!
//! Like the segment checksums this guards against faults, not against someone who can write
//! the file (they can recompute the checksum).

use std::fmt::Write as _;

use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, Row};

use super::db;
use crate::store::{StoreError, StoreResult};

/// The SQL function that computes a row checksum: `saferplaces_row_crc(table, v1, …, vn)`.
const FUNCTION: &str = "saferplaces_row_crc";

/// The column holding each row's checksum.
const COLUMN: &str = "row_crc";

/// Prefix of the TEMP triggers that write the checksums.
const TRIGGER_PREFIX: &str = "saferplaces_row_crc_";

/// The checksum of a row given as the table's name and its values in column order.
pub(super) fn row_checksum<'a>(table: &str, values: impl IntoIterator<Item = ValueRef<'a>>) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&(table.len() as u64).to_le_bytes());
    hasher.update(table.as_bytes());
    for value in values {
        match value {
            ValueRef::Null => hasher.update(&[0]),
            ValueRef::Integer(v) => {
                hasher.update(&[1]);
                hasher.update(&v.to_le_bytes());
            }
            ValueRef::Real(v) => {
                hasher.update(&[2]);
                hasher.update(&v.to_bits().to_le_bytes());
            }
            ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
                hasher.update(&[if matches!(value, ValueRef::Text(_)) {
                    3
                } else {
                    4
                }]);
                hasher.update(&(bytes.len() as u64).to_le_bytes());
                hasher.update(bytes);
            }
        }
    }
    hasher.finalize()
}

/// The SQL function's body: argument 0 is the table's name, the rest are the row's values.
fn sql_row_checksum(ctx: &Context<'_>) -> rusqlite::Result<i64> {
    let table = match ctx.get_raw(0) {
        ValueRef::Text(name) => String::from_utf8_lossy(name).into_owned(),
        _ => {
            return Err(rusqlite::Error::UserFunctionError(
                format!("{FUNCTION}: the first argument must be the table's name").into(),
            ));
        }
    };
    let values = (1..ctx.len()).map(|i| ctx.get_raw(i));
    Ok(i64::from(row_checksum(&table, values)))
}

/// Registers the checksum function on `conn` (every connection the store opens: migrations
/// and verification need it, writable connections' triggers call it).
pub(super) fn register(conn: &Connection) -> StoreResult<()> {
    conn.create_scalar_function(
        FUNCTION,
        -1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        sql_row_checksum,
    )
    .map_err(db("registering the row checksum function"))
}

/// A checksummed table's shape: its stored columns (all but `row_crc`, in declared order) and
/// its key.
#[derive(Debug, Clone)]
struct Shape {
    /// The table's name.
    table: String,
    /// Every column but `row_crc`, quoted, in declared order.
    columns: Vec<String>,
    /// The primary key's columns, quoted, in key order (empty: none declared).
    key: Vec<String>,
    /// False for a `WITHOUT ROWID` table.
    has_rowid: bool,
}

impl Shape {
    /// `saferplaces_row_crc('table', c1, …)` over the stored columns, each prefixed with
    /// `prefix` (`NEW.` in a trigger).
    fn checksum_sql(&self, prefix: &str) -> String {
        let mut sql = format!("{FUNCTION}({}", quote_literal(&self.table));
        for column in &self.columns {
            sql.push_str(", ");
            sql.push_str(prefix);
            sql.push_str(column);
        }
        sql.push(')');
        sql
    }

    /// The condition that selects the row `NEW` of a trigger.
    fn new_row_sql(&self) -> String {
        if self.has_rowid {
            return "rowid = NEW.rowid".to_owned();
        }
        self.key
            .iter()
            .map(|k| format!("{k} IS NEW.{k}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    }
}

/// `"name"` with inner quotes doubled.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` with inner quotes doubled.
fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Every table that has a `row_crc` column, with its shape, by name.
fn shapes(conn: &Connection) -> StoreResult<Vec<Shape>> {
    let context = "reading the shape of the checksummed tables";
    let tables: Vec<(String, String)> = conn
        .prepare(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .and_then(|mut stmt| {
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(db(context))?;
    let mut found = Vec::new();
    for (table, sql) in tables {
        // (name, pk position) per column, in declared order.
        let columns: Vec<(String, i64)> = conn
            .prepare("SELECT name, pk FROM pragma_table_info(?1) ORDER BY cid")
            .and_then(|mut stmt| {
                stmt.query_map([&table], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(db(context))?;
        if !columns.iter().any(|(name, _)| name == COLUMN) {
            continue;
        }
        let mut key: Vec<&(String, i64)> = columns.iter().filter(|(_, pk)| *pk > 0).collect();
        key.sort_by_key(|(_, pk)| *pk);
        found.push(Shape {
            key: key.iter().map(|(name, _)| quote_ident(name)).collect(),
            columns: columns
                .iter()
                .filter(|(name, _)| name != COLUMN)
                .map(|(name, _)| quote_ident(name))
                .collect(),
            has_rowid: !sql.to_ascii_uppercase().contains("WITHOUT ROWID"),
            table,
        });
    }
    Ok(found)
}

/// Creates the TEMP triggers that keep every row's checksum current on `conn` (a writable
/// connection, after its migrations ran).
pub(super) fn install(conn: &Connection) -> StoreResult<()> {
    let mut sql = String::new();
    for shape in shapes(conn)? {
        let table = quote_ident(&shape.table);
        let set = format!(
            "UPDATE {table} SET {COLUMN} = {} WHERE {};",
            shape.checksum_sql("NEW."),
            shape.new_row_sql()
        );
        let name = |what: &str| quote_ident(&format!("{TRIGGER_PREFIX}{what}_{}", shape.table));
        let _ = write!(
            sql,
            "CREATE TEMP TRIGGER IF NOT EXISTS {} AFTER INSERT ON main.{table} BEGIN {set} END;\n\
             CREATE TEMP TRIGGER IF NOT EXISTS {} AFTER UPDATE OF {} ON main.{table} BEGIN {set} END;\n",
            name("insert"),
            name("update"),
            shape.columns.join(", "),
        );
    }
    conn.execute_batch(&sql)
        .map_err(db("creating the row checksum triggers"))
}

/// Computes the checksum of every row of every checksummed table (migration 0011's Rust step,
/// run in its transaction).
pub(super) fn fill(conn: &Connection) -> StoreResult<()> {
    for shape in shapes(conn)? {
        conn.execute(
            &format!(
                "UPDATE {} SET {COLUMN} = {}",
                quote_ident(&shape.table),
                shape.checksum_sql("")
            ),
            [],
        )
        .map_err(db("computing the checksums of the stored rows"))?;
    }
    Ok(())
}

/// Every damaged row of every checksummed table (a missing checksum, or one that does not match
/// the row's values), as [`StoreError::RowDamaged`], table by table in name order. At most
/// `limit` rows are reported (the scan stops there).
pub(super) fn damaged_rows(conn: &Connection, limit: usize) -> StoreResult<Vec<StoreError>> {
    damaged_rows_in(conn, limit, |_| true)
}

/// [`damaged_rows`] of the tables `wanted` picks by name.
fn damaged_rows_in(
    conn: &Connection,
    limit: usize,
    wanted: impl Fn(&str) -> bool,
) -> StoreResult<Vec<StoreError>> {
    let mut found = Vec::new();
    for shape in shapes(conn)?.into_iter().filter(|s| wanted(&s.table)) {
        if found.len() >= limit {
            break;
        }
        let context = "verifying the row checksums";
        let rowid = if shape.has_rowid { "rowid" } else { "NULL" };
        let key = if shape.key.is_empty() {
            "NULL".to_owned()
        } else {
            shape.key.join(", ")
        };
        let sql = format!(
            "SELECT {rowid}, {COLUMN}, {key} FROM {} WHERE {COLUMN} IS NOT {}",
            quote_ident(&shape.table),
            shape.checksum_sql("")
        );
        let mut stmt = conn.prepare(&sql).map_err(db(context))?;
        let mut rows = stmt.query([]).map_err(db(context))?;
        while let Some(row) = rows.next().map_err(db(context))? {
            found.push(damaged(&shape, row)?);
            if found.len() >= limit {
                break;
            }
        }
    }
    Ok(found)
}

/// Verifies every row checksum; the first damaged row is the error.
pub(super) fn verify(conn: &Connection) -> StoreResult<()> {
    verify_tables(conn, |_| true)
}

/// Verifies the row checksums of the tables `wanted` picks (those a partial reload reads, so
/// that reloading the users does not scan millions of incident rows); the first damaged row
/// is the error.
pub(super) fn verify_tables(conn: &Connection, wanted: impl Fn(&str) -> bool) -> StoreResult<()> {
    match damaged_rows_in(conn, 1, wanted)?.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The error for a row selected by [`damaged_rows`]'s query.
fn damaged(shape: &Shape, row: &Row<'_>) -> StoreResult<StoreError> {
    let context = "reading a damaged row";
    let rowid: Option<i64> = row.get(0).map_err(db(context))?;
    let reason = match row.get_ref(1).map_err(db(context))? {
        ValueRef::Null => "its checksum is missing".to_owned(),
        ValueRef::Integer(_) => "its values do not match its checksum".to_owned(),
        other => format!("its checksum is {:?}, not an integer", other.data_type()),
    };
    let key = (2..row.as_ref().column_count())
        .map(|i| row.get_ref(i).map(key_text).map_err(db(context)))
        .collect::<StoreResult<Vec<_>>>()?
        .join(", ");
    Ok(StoreError::RowDamaged {
        table: shape.table.clone(),
        key,
        rowid,
        reason,
    })
}

/// A key value as text for a message.
fn key_text(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(v) => v.to_string(),
        ValueRef::Real(v) => v.to_string(),
        ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!("<{} bytes>", b.len()),
    }
}

#[cfg(test)]
#[path = "row_checksum_tests.rs"]
mod tests;
