//! The `SQLite` side of the change feed ([`crate::store::changes`]): table `changes`
//! (migration 0012).

use rusqlite::{Connection, OptionalExtension, params};

use super::db;
use crate::store::StoreResult;
use crate::store::changes::{ChangeKind, ChangeSet};

/// Appends a change of `kind` (with the segment range for imports) in the caller's
/// transaction.
pub(super) fn record(
    conn: &Connection,
    kind: ChangeKind,
    range: Option<(i64, i64)>,
) -> StoreResult<()> {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    conn.prepare_cached(
        "INSERT INTO changes (kind, first_id, last_id, at) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            kind.code(),
            range.map(|r| r.0),
            range.map(|r| r.1),
            at
        ])
    })
    .map_err(db("recording a change in the change feed"))?;
    Ok(())
}

/// The newest sequence number, 0 for an empty feed.
pub(super) fn latest(conn: &Connection) -> StoreResult<u64> {
    let seq: Option<i64> = conn
        .prepare_cached("SELECT MAX(seq) FROM changes")
        .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
        .optional()
        .map_err(db("reading the change feed"))?
        .flatten();
    Ok(seq.map_or(0, |s| u64::try_from(s).unwrap_or(0)))
}

/// The kinds changed after `after`.
pub(super) fn since(conn: &Connection, after: u64) -> StoreResult<ChangeSet> {
    let context = "reading the change feed";
    let mut set = ChangeSet {
        latest: after,
        ..ChangeSet::default()
    };
    let mut stmt = conn
        .prepare_cached("SELECT seq, kind FROM changes WHERE seq > ?1 ORDER BY seq")
        .map_err(db(context))?;
    let mut rows = stmt
        .query([i64::try_from(after).unwrap_or(i64::MAX)])
        .map_err(db(context))?;
    while let Some(row) = rows.next().map_err(db(context))? {
        let seq: i64 = row.get(0).map_err(db(context))?;
        let kind: String = row.get(1).map_err(db(context))?;
        set.mark(seq, &kind)?;
    }
    Ok(set)
}
