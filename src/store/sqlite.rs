//! The embedded `SQLite` store: one file, `saferplaces.sqlite3`, in the data directory.
//!
//! Schema: one STRICT table per record kind, created by the numbered `.sql` files in
//! `migrations/sqlite/` (compiled in by `MIGRATIONS`). Opening a store applies every pending
//! migration in one transaction and records the version in `PRAGMA user_version`; a database
//! written by a newer build is refused with [`StoreError::SchemaTooNew`] rather than guessed at.
//!
//! Scalars get typed columns (ids, category slug, day as days since 1970-01-01, minute of day,
//! precision codes, lon/lat, provenance) so later queries can use them; nested lists (guardians,
//! route line and stops, subject categories, link targets) are JSON text, and boundary outlines
//! are `GeoJSON` geometry objects.
//!
//! Writes are one transaction per batch with `ON CONFLICT DO NOTHING` on each table's key, so
//! a batch is stored whole or not at all and re-writing it stores nothing new. Reads run in one
//! read transaction, so a load sees a single consistent snapshot. A stored row that no longer
//! converts to a valid domain value is reported as [`StoreError::Corrupt`], never a panic.
//!
//! Precision: lon/lat columns are `SQLite` `REAL`s and round-trip exactly. Coordinates inside
//! JSON text (route lines, boundary outlines) are written in shortest round-trip form, but
//! `serde_json` without its `float_roundtrip` feature may read a 17-significant-digit value
//! back one unit in the last place off (about 1e-14 degrees).

use super::shared::{link_changes, person_changes};
use std::fmt::Display;
use std::path::Path;
use std::str::FromStr;

use geo::CoordsIter as _;
use rusqlite::types::{FromSql, ValueRef};
use rusqlite::{Connection, Row, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::changes::{ChangeKind, ChangeSet};
use super::{
    AmendedIncident, Amendment, Erased, ErasedLink, ImportBatch, ImportFile, ImportWritten,
    IncidentCorrection, IncidentsFingerprint, KindCounts, NewUser, PersonVersion, Store,
    StoreError, StoreResult, WithdrawalNote, Written,
};
use crate::domain::{
    Agency, AtcoCode, Boundary, BoundaryCode, Case, CaseRef, Category, Dataset, Day, DomainError,
    Grade, Guardian, Incident, IncidentId, IncidentLocation, IncidentTime, IsaRef, Link, LinkKind,
    LinkTarget, LocationPrecision, LonLat, MaceMeeting, Person, PersonRef, Phase, PlaceId,
    PlaceKind, PlaceOfConcern, Provenance, Role, Route, RouteId, RouteMode, SchemeName, School,
    ServiceId, ServiceTier, Stop, SubjectCategory, TimePrecision, Urn, User, YouthService,
};
use crate::safeguards::reviews::{Review, ReviewOutcome};
use crate::safeguards::rules::StoredState;

/// The schema migrations, oldest first: `(version, sql)`. A new migration is a new file in
/// `migrations/sqlite/` appended here with the next version number; released files never change.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../../migrations/sqlite/0002_access.sql")),
    (3, include_str!("../../migrations/sqlite/0003_imports.sql")),
    (
        4,
        include_str!("../../migrations/sqlite/0004_incident_segments.sql"),
    ),
    (
        5,
        include_str!("../../migrations/sqlite/0005_tokens_reviews.sql"),
    ),
    (
        6,
        include_str!("../../migrations/sqlite/0006_case_assignment.sql"),
    ),
    (
        7,
        include_str!("../../migrations/sqlite/0007_amendments.sql"),
    ),
    (8, include_str!("../../migrations/sqlite/0008_equality.sql")),
    (
        9,
        include_str!("../../migrations/sqlite/0009_equality_msoa.sql"),
    ),
    (
        10,
        include_str!("../../migrations/sqlite/0010_segment_checksums.sql"),
    ),
    (
        11,
        include_str!("../../migrations/sqlite/0011_row_checksums.sql"),
    ),
    (12, include_str!("../../migrations/sqlite/0012_changes.sql")),
    (
        13,
        include_str!("../../migrations/sqlite/0013_incident_withdrawals.sql"),
    ),
];

/// The schema version whose migration adds segment checksums; its Rust step computes them for
/// the segments already stored ([`integrity::fill_segment_checksums`]).
const SEGMENT_CHECKSUM_SCHEMA_VERSION: u32 = 10;

/// The schema version whose migration adds row checksums; its Rust step computes them for the
/// rows already stored ([`row_checksum::fill`]).
const ROW_CHECKSUM_SCHEMA_VERSION: u32 = 11;

/// The newest schema version this build knows (the last entry of [`MIGRATIONS`]).
const LATEST_SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// The equality monitor's tables (S22), in their own file.
#[path = "equality.rs"]
mod equality;

/// The page cache of a connection: `PRAGMA cache_size`, negative for KiB (16 MiB).
const READ_CACHE_KIB: i64 = -16_384;

/// The page cache during a bulk write (256 MiB, allocated only as pages are used).
const BULK_CACHE_KIB: i64 = -262_144;

/// How many prepared statements the connection keeps (nine inserts, nine loads, nine counts).
const STATEMENT_CACHE_CAPACITY: usize = 32;

/// Minutes in a day; `minute_of_day` is below this.
const MINUTES_PER_DAY: u16 = 1440;

/// The embedded `SQLite` implementation of [`Store`].
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    /// The database file (`:memory:` for an in-memory store), named in errors.
    file: std::path::PathBuf,
    /// Why the store is read-only, when it is ([`SqliteStore::open_read_only`]): every write
    /// is refused with [`StoreError::ReadOnly`].
    read_only: Option<String>,
}

/// Opening a store read-only when its data directory cannot be written (issue 14, point 5).
#[path = "sqlite_readonly.rs"]
mod readonly;

/// Segment checksums, structure checks and `saferplaces check` (issue 14, point 4).
#[path = "sqlite_integrity.rs"]
mod integrity;

pub use integrity::{CheckReport, QUICK_CHECK_MAX_BYTES};

/// The change feed's table (issue 15, point 1).
#[path = "sqlite_changes.rs"]
mod changes;

/// Withdrawn and amended incidents (issue 15, point 1).
#[path = "sqlite_withdrawals.rs"]
mod withdrawals;

/// Row checksums on every record table (issue 14, point 4).
#[path = "row_checksum.rs"]
mod row_checksum;

impl SqliteStore {
    /// File name of the database inside the data directory.
    pub const FILE_NAME: &str = "saferplaces.sqlite3";

    /// The newest schema version this build knows; [`SqliteStore::open`] migrates to it.
    pub const LATEST_SCHEMA_VERSION: u32 = LATEST_SCHEMA_VERSION;

    /// Opens (creating if needed) `data_dir/saferplaces.sqlite3`, creating `data_dir` if it is
    /// missing, and brings its schema up to [`SqliteStore::LATEST_SCHEMA_VERSION`].
    ///
    /// When the directory or the file cannot be written (permissions, a read-only mount) but
    /// the database exists, opens it read-only instead ([`SqliteStore::open_read_only`]): reads
    /// work and every write is refused with [`StoreError::ReadOnly`]. See
    /// [`SqliteStore::read_only_reason`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Open`] naming the file, with the cause in words.
    pub fn open(data_dir: &Path) -> StoreResult<Self> {
        let file = data_dir.join(Self::FILE_NAME);
        match Self::open_writable(data_dir, &file) {
            Ok(store) => Ok(store),
            Err(e) if readonly::not_writable(&e) && file.is_file() => {
                let reason = readonly::reason(&e);
                // The read-only attempt's error wins when it says what to do (journal pending,
                // schema to migrate); otherwise the writable attempt's says why it failed.
                Self::open_read_only_because(&file, reason).map_err(|ro| match ro {
                    StoreError::Open { ref source, .. }
                        if matches!(**source, StoreError::ReadOnly { .. }) =>
                    {
                        ro
                    }
                    _ => StoreError::Open {
                        file,
                        source: Box::new(e),
                    },
                })
            }
            Err(e) => Err(StoreError::Open {
                file,
                source: Box::new(e),
            }),
        }
    }

    fn open_writable(data_dir: &Path, file: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let conn = Connection::open(file).map_err(db("opening the database file"))?;
        let mut store = Self::from_connection(conn, file.to_path_buf())?;
        // SQLite opens a file it may not write read-only without an error.
        if store
            .conn
            .is_readonly(rusqlite::MAIN_DB)
            .map_err(db("asking whether the database is read-only"))?
        {
            store.read_only = Some("the database file cannot be written".to_owned());
        }
        Ok(store)
    }

    /// Opens a private in-memory store at [`SqliteStore::LATEST_SCHEMA_VERSION`] (for tests and
    /// dry runs).
    pub fn open_in_memory() -> StoreResult<Self> {
        let conn = Connection::open_in_memory().map_err(db("opening an in-memory database"))?;
        Self::from_connection(conn, ":memory:".into())
    }

    /// The database file (`:memory:` for an in-memory store).
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Why the store is read-only, or `None` when it can be written.
    pub fn read_only_reason(&self) -> Option<&str> {
        self.read_only.as_deref()
    }

    /// Refuses `operation` with [`StoreError::ReadOnly`] when the store is read-only, before
    /// any transaction starts.
    pub fn writable(&self, operation: &'static str) -> StoreResult<()> {
        match &self.read_only {
            Some(reason) => Err(StoreError::ReadOnly {
                operation,
                file: self.file.clone(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Runs the write `operation` ([`SqliteStore::writable`] first): a storage failure it
    /// returns (a database error about the file or the disk: full, read-only, permission,
    /// corrupt, I/O, locked; [`super::cause::sqlite_cause`]) becomes [`StoreError::Write`],
    /// naming the operation and the database file (issue 14, point 5). Refusals of the data
    /// (a constraint, the rules, a duplicate) pass through unchanged: their own text says why.
    pub(crate) fn writing<T>(
        &mut self,
        operation: &'static str,
        write: impl FnOnce(&mut Self) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.writable(operation)?;
        write(self).map_err(|e| match e {
            StoreError::Database { ref source, .. }
                if super::cause::sqlite_cause(source).is_some() =>
            {
                StoreError::Write {
                    operation,
                    file: self.file.clone(),
                    source: Box::new(e),
                }
            }
            other => other,
        })
    }

    /// Runs a bulk write `write` with a large page cache ([`BULK_CACHE_KIB`]), which keeps a
    /// big import's transaction in memory instead of spilling pages to the WAL mid-transaction,
    /// then returns to [`READ_CACHE_KIB`], freeing the pages beyond it.
    fn bulk<T>(&mut self, write: impl FnOnce(&mut Self) -> StoreResult<T>) -> StoreResult<T> {
        self.conn
            .pragma_update(None, "cache_size", BULK_CACHE_KIB)
            .map_err(db("setting PRAGMA cache_size"))?;
        let out = write(self);
        let reset = self
            .conn
            .pragma_update(None, "cache_size", READ_CACHE_KIB)
            .map_err(db("setting PRAGMA cache_size"));
        let out = out?;
        reset?;
        Ok(out)
    }

    fn from_connection(mut conn: Connection, file: std::path::PathBuf) -> StoreResult<Self> {
        // Refuse a newer schema before touching the file in any way (journal mode included).
        ensure_known_version(user_version(&conn)?)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(db("setting PRAGMA foreign_keys"))?;
        // Deleted and overwritten content is zeroed in its page, so an erased person leaves no
        // bytes behind in the file or in the pages the WAL copies (issue 12, point 5).
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(db("setting PRAGMA secure_delete"))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db("setting PRAGMA synchronous"))?;
        // A modest page cache: a server reads each new segment once (into the index), so a large
        // cache would only keep an import's pages resident for nothing (issue 15, point 2).
        // Bulk writes raise it for their transaction ([`Self::bulk`]).
        conn.pragma_update(None, "cache_size", READ_CACHE_KIB)
            .map_err(db("setting PRAGMA cache_size"))?;
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(db("setting PRAGMA temp_store"))?;
        // Returns the resulting mode: `wal` for a file, `memory` for an in-memory database.
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
            .map_err(db("setting PRAGMA journal_mode"))?;
        row_checksum::register(&conn)?;
        migrate(&mut conn)?;
        row_checksum::install(&conn)?;
        Ok(Self {
            conn,
            file,
            read_only: None,
        })
    }

    /// True when the schema has the change feed's table (a store of an older schema opened
    /// read-only has not).
    fn has_change_feed(&self) -> StoreResult<bool> {
        self.conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'changes')")
            .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
            .map_err(db("looking for the change feed"))
    }

    /// Runs `read` inside one read transaction so it sees a single snapshot.
    fn read<T>(&self, read: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(db("starting a read transaction"))?;
        let value = read(&tx)?;
        tx.commit().map_err(db("ending a read transaction"))?;
        Ok(value)
    }

    /// After an erasure: rewrites the database file (`VACUUM`), then copies the WAL into it and
    /// truncates the WAL to zero bytes, so no page of the file or the journal still holds an
    /// erased row. `secure_delete` alone is not enough: when a deletion rebalances a B-tree,
    /// SQLite moves cells between pages and can leave a stale copy of a key in a page's unused
    /// space (found by the raw-bytes test in an index over link targets). The rewrite costs a
    /// copy of the file and holds the write lock while it runs (imports wait); the server keeps
    /// serving from memory. Waits for readers up to the busy timeout; if one still holds an old
    /// snapshot the WAL is left for the next checkpoint and a warning is logged.
    ///
    /// The erasure is committed before this runs, so a failed rewrite is logged, not returned:
    /// the caller must still write its erasure records. The next erasure rewrites again.
    fn scrub_journal(&self) -> StoreResult<()> {
        if let Err(e) = self.conn.execute_batch("VACUUM") {
            tracing::warn!(error = %e, "could not rewrite the store after an erasure; stale copies of erased keys may remain in unused page space until the next erasure's rewrite");
        }
        let (busy, _, _): (i64, i64, i64) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(db("checkpointing the journal after an erasure"))?;
        if busy != 0 {
            tracing::warn!(
                "a reader kept the journal from being truncated after an erasure; erased pages stay in the WAL until the next checkpoint"
            );
        }
        Ok(())
    }
}

impl Store for SqliteStore {
    fn location(&self) -> String {
        self.file.display().to_string()
    }

    fn is_read_only(&self) -> bool {
        self.read_only.is_some()
    }

    fn saved_index_path(&self) -> Option<std::path::PathBuf> {
        // An in-memory store has no directory to keep one in.
        (self.file != Path::new(":memory:"))
            .then(|| self.file.with_file_name(crate::index::persist::FILE_NAME))
    }

    fn schema_version(&self) -> StoreResult<u32> {
        user_version(&self.conn)
    }

    fn write_records(&mut self, data: &Dataset) -> StoreResult<Written> {
        self.bulk(|store| {
            store.writing("store records", |store| {
                // IMMEDIATE takes the write lock up front, so a concurrent writer waits (busy timeout)
                // instead of failing halfway through the batch. Dropping `tx` on error rolls back.
                let tx = store
                    .conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(db("starting a write transaction"))?;
                let now = crate::safeguards::audit::rfc3339_millis(std::time::SystemTime::now());
                let mut amended = Vec::new();
                let counts = KindCounts {
                    incidents: write_incidents(&tx, &data.incidents)?,
                    places: write_places(&tx, &data.places)?,
                    schools: write_schools(&tx, &data.schools)?,
                    stops: write_stops(&tx, &data.stops)?,
                    routes: write_routes(&tx, &data.routes)?,
                    services: write_services(&tx, &data.services)?,
                    boundaries: write_boundaries(&tx, &data.boundaries)?,
                    people: write_people(&tx, &data.people, &now, &mut amended)?,
                    links: write_links(&tx, &data.links, &now, &mut amended)?,
                    cases: write_cases(&tx, &data.cases)?,
                    meetings: write_meetings(&tx, &data.meetings)?,
                    stop_searches: 0,
                };
                record_changes(&tx, &counts, !amended.is_empty())?;
                tx.commit().map_err(db("committing a write transaction"))?;
                Ok(Written { counts, amended })
            })
        })
    }

    fn load(&self) -> StoreResult<Dataset> {
        self.load_kinds(&ChangeSet::everything(0))
            .map(|(data, _)| data)
    }

    fn load_kinds(&self, kinds: &ChangeSet) -> StoreResult<(Dataset, u64)> {
        // Each kind is read only when asked for; `Vec::new()` allocates nothing.
        fn when<T>(yes: bool, load: impl FnOnce() -> StoreResult<Vec<T>>) -> StoreResult<Vec<T>> {
            if yes { load() } else { Ok(Vec::new()) }
        }
        self.read(|conn| {
            // Rows are verified before they are read (issue 14, point 4): every table at a
            // whole load (start-up reads the incidents apart, `for_each_incident_batch`),
            // only the loaded kinds' tables at a partial one.
            if kinds.reference && kinds.people {
                row_checksum::verify(conn)?;
            } else {
                row_checksum::verify_tables(conn, |table| {
                    kind_of_table(table).is_some_and(|k| match k {
                        ChangeKind::Incidents => kinds.incidents,
                        ChangeKind::Reference => kinds.reference,
                        ChangeKind::People => kinds.people,
                        ChangeKind::IncidentSegments
                        | ChangeKind::Access
                        | ChangeKind::IncidentWithdrawals => false,
                    })
                })?;
            }
            let (r, p) = (kinds.reference, kinds.people);
            let data = Dataset {
                incidents: when(kinds.incidents, || load_incidents(conn))?,
                places: when(r, || load_places(conn))?,
                schools: when(r, || load_schools(conn))?,
                stops: when(r, || load_stops(conn))?,
                routes: when(r, || load_routes(conn))?,
                services: when(r, || load_services(conn))?,
                boundaries: when(r, || load_boundaries(conn))?,
                people: when(p, || load_people(conn))?,
                links: when(p, || load_links(conn))?,
                cases: when(p, || load_cases(conn))?,
                meetings: when(p, || load_meetings(conn))?,
            };
            Ok((data, max_segment_id(conn)?))
        })
    }

    fn for_each_incident_batch(&self, each: &mut dyn FnMut(Vec<Incident>)) -> StoreResult<u64> {
        self.read(|conn| {
            let withdrawn = withdrawals::Withdrawn::read(conn)?;
            each(withdrawn.keep(load_incident_rows(conn)?));
            for_each_segment(conn, 0, each)?;
            max_segment_id(conn)
        })
    }

    fn incidents_fingerprint(&self, cursor: u64) -> StoreResult<IncidentsFingerprint> {
        let context = "reading the stored incidents' fingerprint";
        self.read(|conn| {
            let (table_rows, table_max_id): (i64, i64) = conn
                .prepare_cached("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM incidents")
                .and_then(|mut stmt| stmt.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
                .map_err(db(context))?;
            let (segments, segment_rows, segment_id_sum): (i64, i64, i64) = conn
                .prepare_cached(
                    "SELECT COUNT(*), COALESCE(SUM(rows), 0), \
                     COALESCE(SUM(min_id % 4294967296) + SUM(max_id % 4294967296), 0) \
                     FROM incident_segments WHERE id <= ?1",
                )
                .and_then(|mut stmt| {
                    stmt.query_row([i64::try_from(cursor).unwrap_or(i64::MAX)], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                })
                .map_err(db(context))?;
            let n = |v: i64| u64::try_from(v).unwrap_or(0);
            // Withdrawn incidents are not counted: a withdrawal changes the fingerprint.
            let (withdrawn_rows, withdrawn_in_segments) = withdrawals::counts(conn, cursor)?;
            Ok(IncidentsFingerprint {
                table_rows: n(table_rows).saturating_sub(withdrawn_rows),
                table_max_id: n(table_max_id),
                segments: n(segments),
                segment_rows: n(segment_rows).saturating_sub(withdrawn_in_segments),
                segment_id_sum: n(segment_id_sum),
            })
        })
    }

    fn incident_rows_after_segment(&self, after: u64) -> StoreResult<u64> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT COALESCE(SUM(rows), 0) FROM incident_segments WHERE id > ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row([i64::try_from(after).unwrap_or(i64::MAX)], |r| {
                    r.get::<_, i64>(0)
                })
            })
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(db("counting the incidents of new segments"))
        })
    }

    fn for_each_incident_after_segment(
        &self,
        after: u64,
        each: &mut dyn FnMut(Vec<Incident>),
    ) -> StoreResult<u64> {
        self.read(|conn| {
            for_each_segment(conn, after, each)?;
            max_segment_id(conn)
        })
    }

    fn withdraw_incidents(
        &mut self,
        ids: &[IncidentId],
        note: &WithdrawalNote,
    ) -> StoreResult<Vec<u64>> {
        self.withdraw(ids, note)
    }

    fn amend_incident(
        &mut self,
        id: IncidentId,
        correction: &IncidentCorrection,
        note: &WithdrawalNote,
    ) -> StoreResult<AmendedIncident> {
        self.amend(id, correction, note)
    }

    fn for_each_withdrawal_after(
        &self,
        after: u64,
        each: &mut dyn FnMut(Vec<Incident>),
    ) -> StoreResult<u64> {
        self.read(|conn| withdrawals::for_each_after(conn, after, each))
    }

    fn latest_change(&self) -> StoreResult<Option<u64>> {
        if self.has_change_feed()? {
            changes::latest(&self.conn).map(Some)
        } else {
            Ok(None)
        }
    }

    fn changes_since(&self, after: u64) -> StoreResult<ChangeSet> {
        if self.has_change_feed()? {
            self.read(|conn| changes::since(conn, after))
        } else {
            Ok(ChangeSet::everything(after))
        }
    }

    fn counts(&self) -> StoreResult<KindCounts> {
        self.read(|conn| {
            let count = |sql: &str| -> StoreResult<u64> {
                let n: i64 = conn
                    .prepare_cached(sql)
                    .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
                    .map_err(db("counting stored records"))?;
                // COUNT(*) is never negative.
                Ok(n.max(0) as u64)
            };
            Ok(KindCounts {
                // Withdrawn incidents are kept but no longer counted.
                incidents: (count("SELECT COUNT(*) FROM incidents")?
                    + count("SELECT COALESCE(SUM(rows), 0) FROM incident_segments")?)
                .saturating_sub(withdrawals::total(conn)?),
                places: count("SELECT COUNT(*) FROM places")?,
                schools: count("SELECT COUNT(*) FROM schools")?,
                stops: count("SELECT COUNT(*) FROM stops")?,
                routes: count("SELECT COUNT(*) FROM routes")?,
                services: count("SELECT COUNT(*) FROM services")?,
                boundaries: count("SELECT COUNT(*) FROM boundaries")?,
                people: count("SELECT COUNT(*) FROM people")?,
                links: count("SELECT COUNT(*) FROM links")?,
                cases: count("SELECT COUNT(*) FROM cases")?,
                meetings: count("SELECT COUNT(*) FROM meetings")?,
                stop_searches: count("SELECT COUNT(*) FROM stop_searches")?,
            })
        })
    }

    fn write_import(
        &mut self,
        batch: &ImportBatch,
        file: &ImportFile,
        summary: &serde_json::Value,
        commit: bool,
    ) -> StoreResult<ImportWritten> {
        self.writable("store an import")?;
        self.bulk(|store| {
        let tx = store
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("starting an import"))?;
        tx.execute(
            "INSERT INTO imported_files (file_sha256, kind, file_name, imported_at, summary) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![file.sha256, file.kind, file.name, file.imported_at, summary.to_string()],
        )
        .map_err(db("registering the imported file"))?;
        let file_id = tx.last_insert_rowid();
        let mut written = write_segments(&tx, &batch.incidents, file_id)?;
        {
            let mut ss = tx
                .prepare_cached(
                    "INSERT INTO stop_searches (id, record, day, file_id, line) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                )
                .map_err(db("storing stop and search"))?;
            for (record, line) in &batch.stop_searches {
                let n = ss
                    .execute(params![
                        sql_id(record.id, "storing stop and search")?,
                        to_json(record, "encoding a stop and search record")?,
                        record.day.days_since_epoch(),
                        file_id,
                        sql_id(*line, "storing stop and search")?,
                    ])
                    .map_err(db("storing stop and search"))? as u64;
                written.stored += n;
                written.unlocated += n * u64::from(record.location.is_none());
            }
        }
        written.stored += write_boundaries(&tx, &batch.boundaries)?;
        written.stored += write_schools(&tx, &batch.schools)?;
        written.stored += write_stops(&tx, &batch.stops)?;
        written.stored += write_routes(&tx, &batch.routes)?;
        written.stored += write_places(&tx, &batch.places)?;
        written.stored += write_services(&tx, &batch.services)?;
        if let Some(range) = segment_range(&tx, file_id)? {
            changes::record(&tx, ChangeKind::IncidentSegments, Some(range))?;
        }
        let reference = [
            batch.boundaries.len(),
            batch.schools.len(),
            batch.stops.len(),
            batch.routes.len(),
            batch.places.len(),
            batch.services.len(),
        ];
        if reference.iter().any(|&n| n > 0) {
            changes::record(&tx, ChangeKind::Reference, None)?;
        }
        if commit {
            tx.commit().map_err(db("committing an import"))?;
        } else {
            tx.rollback().map_err(db("rolling back a dry run"))?;
        }
        Ok(written)
        })
    }

    fn write_matches(
        &mut self,
        matches: &[crate::ingest::reconcile::LikelyDuplicate],
        params: &serde_json::Value,
        found_at: &str,
    ) -> StoreResult<u64> {
        self.writing("link likely duplicates", |store| {
            let tx = store
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db("starting to link duplicates"))?;
            let mut new = 0u64;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT INTO incident_matches (a, b, kind, category, distance_m, days_apart, params, found_at) \
                         VALUES (?1, ?2, 'likely_duplicate', ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
                    )
                    .map_err(db("linking duplicates"))?;
                let params = params.to_string();
                for m in matches {
                    new += stmt
                        .execute(params![
                            sql_id(m.a.get(), "linking duplicates")?,
                            sql_id(m.b.get(), "linking duplicates")?,
                            m.category.slug(),
                            m.distance_m,
                            m.days_apart,
                            params,
                            found_at,
                        ])
                        .map_err(db("linking duplicates"))? as u64;
                }
            }
            tx.commit().map_err(db("committing duplicate links"))?;
            Ok(new)

        })
    }

    fn stored_state(&self, data: &Dataset) -> StoreResult<StoredState> {
        self.read(|conn| stored_state(conn, data))
    }

    fn add_user(&mut self, user: &NewUser) -> StoreResult<u64> {
        self.writing("add a user", |store| {
            let panels = to_json(&user.panels, "encoding a user's panels as JSON")?;
            let tx = store
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db("starting a write transaction"))?;
            let exists: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM users WHERE name = ?1",
                    [&user.name],
                    |r| r.get(0),
                )
                .map_err(db("looking up a user"))?;
            if exists > 0 {
                return Err(StoreError::Duplicate {
                    what: "user",
                    key: user.name.clone(),
                });
            }
            tx.execute(
                "INSERT INTO users (name, role, org, panels, token_hash, token_expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    user.name,
                    user.role.code(),
                    user.org,
                    panels,
                    user.token_hash,
                    unix_s(user.token_expires_at),
                ],
            )
            .map_err(db("storing a user"))?;
            let id = tx.last_insert_rowid();
            changes::record(&tx, ChangeKind::Access, None)?;
            tx.commit().map_err(db("committing a user"))?;
            Ok(u64::try_from(id).unwrap_or_default())
        })
    }

    fn set_user_token(
        &mut self,
        name: &str,
        token_hash: &str,
        token_expires_at: u64,
    ) -> StoreResult<bool> {
        self.writing("replace a user's token", |store| {
            let tx = store
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db("starting to replace a user's token"))?;
            let n = tx
                .execute(
                    "UPDATE users SET token_hash = ?2, token_expires_at = ?3, token_revoked_at = NULL \
                     WHERE name = ?1",
                    params![name, token_hash, unix_s(token_expires_at)],
                )
                .map_err(db("replacing a user's token"))?;
            if n > 0 {
                changes::record(&tx, ChangeKind::Access, None)?;
            }
            tx.commit().map_err(db("committing a user's token"))?;
            Ok(n > 0)

        })
    }

    fn revoke_user(&mut self, name: &str, revoked_at: u64) -> StoreResult<Option<User>> {
        self.writing("revoke a token", |store| {
            let at = unix_s(revoked_at);
            let tx = store
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db("starting to revoke a token"))?;
            tx.execute(
                "UPDATE users SET token_revoked_at = COALESCE(token_revoked_at, ?2) WHERE name = ?1",
                params![name, at],
            )
            .map_err(db("revoking a token"))?;
            let user = {
                let context = "reading a revoked user";
                let mut stmt = tx
                    .prepare(&format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1"))
                    .map_err(db(context))?;
                let mut rows = stmt.query([name]).map_err(db(context))?;
                match rows.next().map_err(db(context))? {
                    Some(row) => Some(
                        user_row(&Cells {
                            row,
                            table: "users",
                            key: row_key(row, 1),
                        })?
                        .1,
                    ),
                    None => None,
                }
            };
            if user.is_some() {
                changes::record(&tx, ChangeKind::Access, None)?;
            }
            tx.commit().map_err(db("committing a revocation"))?;
            Ok(user)

        })
    }

    fn users(&self) -> StoreResult<Vec<(String, User)>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY id");
        load_all(&self.conn, "users", &sql, 1, user_row)
    }

    fn change_marker(&self) -> StoreResult<u64> {
        let v: i64 = self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(db("reading the data version"))?;
        Ok(v.max(0) as u64)
    }

    fn user_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE token_hash = ?1");
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(db("looking up a token"))?;
        let mut rows = stmt.query([token_hash]).map_err(db("looking up a token"))?;
        let Some(row) = rows.next().map_err(db("looking up a token"))? else {
            return Ok(None);
        };
        let c = Cells {
            row,
            table: "users",
            key: row_key(row, 1),
        };
        Ok(Some(user_row(&c)?.1))
    }

    fn assign_case(
        &mut self,
        case_ref: &CaseRef,
        user: &str,
        by: &str,
        at: &str,
    ) -> StoreResult<Option<bool>> {
        self.writing("assign a case", |store| {
            let tx = store
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db("starting to assign a case"))?;
            let assigned = assign_case(&tx, case_ref, user, by, at)?;
            if assigned == Some(true) {
                changes::record(&tx, ChangeKind::People, None)?;
            }
            tx.commit().map_err(db("committing a case assignment"))?;
            Ok(assigned)
        })
    }

    #[expect(
        clippy::too_many_lines,
        reason = "one transaction: the person's links, equality attributes, case and agenda references and earlier versions go together"
    )]
    fn erase(&mut self, people: &[PersonRef], links: &[u64]) -> StoreResult<Erased> {
        self.writing("erase people and links", |store| {
            let tx = store
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db("starting an erasure"))?;
            let gone: std::collections::BTreeSet<&str> =
                people.iter().map(PersonRef::as_str).collect();
            let expired: std::collections::BTreeSet<u64> = links.iter().copied().collect();
            let mut erased = Erased::default();
            // Every link from or to an erased person goes with them (nothing may point at them),
            // and each is reported, so each gets its own erasure record.
            let stored: Vec<(i64, String, String)> = {
                let mut stmt = tx
                    .prepare("SELECT id, from_person, target FROM links ORDER BY id")
                    .map_err(db("scanning links"))?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(db("scanning links"))?;
                rows.collect::<Result<_, _>>()
                    .map_err(db("scanning links"))?
            };
            {
                let mut del_link = tx
                    .prepare_cached("DELETE FROM links WHERE id = ?1")
                    .map_err(db("erasing links"))?;
                for (id, from, target) in stored {
                    let target_person = match serde_json::from_str::<LinkTarget>(&target) {
                        Ok(LinkTarget::Person(p)) => Some(p),
                        Ok(_) => None,
                        Err(e) => {
                            return Err(StoreError::Corrupt {
                                table: "links",
                                row: id.to_string(),
                                reason: format!("target: {e}"),
                            });
                        }
                    };
                    let with_person = if gone.contains(from.as_str()) {
                        Some(PersonRef::from_str(&from).map_err(|e| StoreError::Corrupt {
                            table: "links",
                            row: id.to_string(),
                            reason: format!("from_person: {e}"),
                        })?)
                    } else {
                        target_person.filter(|p| gone.contains(p.as_str()))
                    };
                    let link_id = u64::try_from(id).unwrap_or_default();
                    if with_person.is_none() && !expired.contains(&link_id) {
                        continue;
                    }
                    del_link.execute([id]).map_err(db("erasing links"))?;
                    erased.links.push(ErasedLink {
                        id: link_id,
                        with_person,
                    });
                }
                let mut del_person = tx
                    .prepare_cached("DELETE FROM people WHERE id = ?1")
                    .map_err(db("erasing people"))?;
                let mut del_reviews = tx
                    .prepare_cached("DELETE FROM reviews WHERE person = ?1")
                    .map_err(db("erasing people's reviews"))?;
                // Their equality attributes (S22) go first: the row refers to the person.
                let mut del_equality = tx
                    .prepare_cached("DELETE FROM person_equality WHERE person_ref = ?1")
                    .map_err(db("erasing people's equality attributes"))?;
                for p in people {
                    del_equality
                        .execute([p.as_str()])
                        .map_err(db("erasing people's equality attributes"))?;
                    if del_person
                        .execute([p.as_str()])
                        .map_err(db("erasing people"))?
                        > 0
                    {
                        erased.people.push(p.clone());
                    }
                    del_reviews
                        .execute([p.as_str()])
                        .map_err(db("erasing people's reviews"))?;
                }
            }
            if !people.is_empty() {
                // The erased person's place in case subject lists and meeting agendas goes too.
                for table in ["cases", "meetings"] {
                    let rows: Vec<(String, String)> = {
                        let mut stmt = tx
                            .prepare(&format!("SELECT reference, subjects FROM {table}"))
                            .map_err(db("scanning subject lists"))?;
                        let rows = stmt
                            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                            .map_err(db("scanning subject lists"))?;
                        rows.collect::<Result<_, _>>()
                            .map_err(db("scanning subject lists"))?
                    };
                    for (reference, subjects) in rows {
                        let list: Vec<String> =
                            serde_json::from_str(&subjects).map_err(|e| StoreError::Corrupt {
                                table,
                                row: reference.clone(),
                                reason: format!("subjects: {e}"),
                            })?;
                        let kept: Vec<&String> =
                            list.iter().filter(|s| !gone.contains(s.as_str())).collect();
                        if kept.len() != list.len() {
                            let json = to_json(&kept, "encoding a subject list")?;
                            tx.execute(
                                &format!("UPDATE {table} SET subjects = ?2 WHERE reference = ?1"),
                                params![reference, json],
                            )
                            .map_err(db("removing erased subjects"))?;
                        }
                    }
                }
            }
            // Earlier versions of erased people and links (kept for audit) go with them.
            tx.execute_batch(
                "DELETE FROM person_versions WHERE id NOT IN (SELECT id FROM people); \
                 DELETE FROM link_versions WHERE id NOT IN (SELECT id FROM links);",
            )
            .map_err(db("erasing earlier versions"))?;
            if !erased.people.is_empty() || !erased.links.is_empty() {
                changes::record(&tx, ChangeKind::People, None)?;
            }
            tx.commit().map_err(db("committing an erasure"))?;
            if !erased.people.is_empty() || !erased.links.is_empty() {
                store.scrub_journal()?;
            }
            Ok(erased)
        })
    }

    fn person(&self, id: &PersonRef) -> StoreResult<Option<Person>> {
        person_by_id(&self.conn, id)
    }

    fn record_review(&mut self, review: &Review) -> StoreResult<u64> {
        self.writing("record a review", |store| {
            let tx = store
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db("starting to record a review"))?;
            let due = review.review_due.map(Day::days_since_epoch);
            let updated = tx
                .execute(
                    "UPDATE people SET review_due = COALESCE(?2, review_due) WHERE id = ?1",
                    params![review.person.as_str(), due],
                )
                .map_err(db("setting a person's review date"))?;
            if updated == 0 {
                return Err(StoreError::NotFound {
                    what: "person",
                    key: review.person.to_string(),
                });
            }
            tx.execute(
                "INSERT INTO reviews (person, review_due, rationale, outcome, decided_by, decided_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    review.person.as_str(),
                    due,
                    review.rationale.trim(),
                    review.outcome.code(),
                    review.decided_by.trim(),
                    review.decided_at,
                ],
            )
            .map_err(db("recording a review"))?;
            let id = tx.last_insert_rowid();
            changes::record(&tx, ChangeKind::People, None)?;
            tx.commit().map_err(db("committing a review"))?;
            Ok(u64::try_from(id).unwrap_or_default())

        })
    }

    fn latest_reviews(
        &self,
        people: &[PersonRef],
    ) -> StoreResult<std::collections::BTreeMap<PersonRef, u64>> {
        let context = "looking up reviews";
        let mut stmt = self
            .conn
            .prepare_cached("SELECT MAX(id) FROM reviews WHERE person = ?1")
            .map_err(db(context))?;
        let mut out = std::collections::BTreeMap::new();
        for p in people {
            let id: Option<i64> = stmt
                .query_row([p.as_str()], |r| r.get(0))
                .map_err(db(context))?;
            if let Some(id) = id.and_then(|i| u64::try_from(i).ok()) {
                out.insert(p.clone(), id);
            }
        }
        Ok(out)
    }

    fn person_versions(&self, id: &PersonRef) -> StoreResult<Vec<PersonVersion>> {
        let sql = "SELECT id, birth_year, categories, agency, review_due, isa_ref, \
                   superseded_at FROM person_versions WHERE id = ?1 ORDER BY version_id";
        load_matching(&self.conn, "person_versions", sql, [id.as_str()], 1, |c| {
            Ok(PersonVersion {
                person: person_row(c)?,
                superseded_at: c.get(6)?,
            })
        })
    }

    fn links_of_person(&self, id: &PersonRef) -> StoreResult<Vec<Link>> {
        let mut links = links_of(&self.conn, id)?;
        links.sort_by_key(|l| l.id);
        Ok(links)
    }

    fn reviews_of(&self, id: &PersonRef) -> StoreResult<Vec<(u64, Review)>> {
        let sql = "SELECT id, person, review_due, rationale, outcome, decided_by, decided_at \
                   FROM reviews WHERE person = ?1 ORDER BY id";
        load_matching(&self.conn, "reviews", sql, [id.as_str()], 1, |c| {
            let due: Option<u16> = c.get(2)?;
            Ok((
                c.id(0)?,
                Review {
                    person: c.parse::<PersonRef>(1)?,
                    review_due: due.map(Day::from_days_since_epoch),
                    rationale: c.get(3)?,
                    outcome: c.parse::<ReviewOutcome>(4)?,
                    decided_by: c.get(5)?,
                    decided_at: c.get(6)?,
                },
            ))
        })
    }

    fn cases_of(&self, id: &PersonRef) -> StoreResult<Vec<Case>> {
        let sql = format!(
            "{SELECT_CASE} WHERE EXISTS (SELECT 1 FROM json_each(cases.subjects) s \
             WHERE s.value = ?1) ORDER BY reference"
        );
        load_matching(&self.conn, "cases", &sql, [id.as_str()], 1, case_row)
    }

    fn meetings_of(&self, id: &PersonRef) -> StoreResult<Vec<MaceMeeting>> {
        let sql = format!(
            "{SELECT_MEETING} WHERE EXISTS (SELECT 1 FROM json_each(meetings.subjects) s \
             WHERE s.value = ?1) ORDER BY reference"
        );
        load_matching(&self.conn, "meetings", &sql, [id.as_str()], 1, meeting_row)
    }
}

/// The columns [`user_row`] reads, in its order.
const USER_COLUMNS: &str =
    "id, name, role, org, panels, token_hash, token_expires_at, token_revoked_at";

/// A user row ([`USER_COLUMNS`]) as `(token hash, user)`. A missing expiry reads as 0, so
/// the token counts as expired: it fails closed.
fn user_row(c: &Cells<'_, '_>) -> StoreResult<(String, User)> {
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

/// Unix seconds as an `SQLite` integer; times past `i64::MAX` are stored as `i64::MAX`.
fn unix_s(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

// ---------------------------------------------------------------------------------------------
// Schema versions.

/// Reads `PRAGMA user_version`, the applied schema version.
fn user_version(conn: &Connection) -> StoreResult<u32> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(db("reading the schema version"))
}

/// Refuses a database whose schema is newer than this build's.
fn ensure_known_version(found: u32) -> StoreResult<()> {
    if found > LATEST_SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: LATEST_SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Applies every migration newer than the database's version, all in one transaction.
fn migrate(conn: &mut Connection) -> StoreResult<()> {
    if user_version(conn)? == LATEST_SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db("starting the schema migration"))?;
    // Read again under the write lock: another process may have migrated meanwhile.
    let found = user_version(&tx)?;
    ensure_known_version(found)?;
    for &(version, sql) in MIGRATIONS.iter().filter(|(version, _)| *version > found) {
        tx.execute_batch(sql)
            .map_err(db("applying a schema migration"))?;
        if version == SEGMENT_CHECKSUM_SCHEMA_VERSION {
            integrity::fill_segment_checksums(&tx)?;
        }
        if version == ROW_CHECKSUM_SCHEMA_VERSION {
            row_checksum::fill(&tx)?;
        }
        tx.pragma_update(None, "user_version", version)
            .map_err(db("recording the schema version"))?;
    }
    tx.commit().map_err(db("committing the schema migration"))?;
    if found > 0 && found < SECURE_DELETE_SCHEMA_VERSION {
        // Written before `secure_delete`: rows deleted or rewritten then (erasures, updated
        // subject lists) may still lie in free space. Rewriting the file once removes them.
        if let Err(e) = conn.execute_batch("VACUUM") {
            tracing::warn!(error = %e, "could not rewrite the store after migrating; bytes of rows deleted before secure_delete may remain until a VACUUM");
        }
    }
    Ok(())
}

/// The schema version (0005) from which every connection has written with `secure_delete`.
const SECURE_DELETE_SCHEMA_VERSION: u32 = 5;

// ---------------------------------------------------------------------------------------------
// Writing.
//
// `ON CONFLICT DO NOTHING` (an upsert clause) skips only rows whose key is already stored.
// `INSERT OR IGNORE` would also silently skip rows that break a NOT NULL or CHECK constraint,
// hiding bad data; with the upsert clause those fail the statement and roll back the batch.

const INSERT_INCIDENT: &str = "INSERT INTO incidents \
     (id, category, day, minute, time_precision, lon, lat, location_precision, involves_child, \
      agency, isa_ref, grade) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT DO NOTHING";

const INSERT_PLACE: &str = "INSERT INTO places \
     (id, kind, name, lon, lat, guardians, review_due, agency, isa_ref, grade) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING";

const INSERT_SCHOOL: &str = "INSERT INTO schools (urn, name, phase, lon, lat, la_code, open) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING";

const INSERT_STOP: &str = "INSERT INTO stops (atco, name, lon, lat, active) \
     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING";

const INSERT_ROUTE: &str = "INSERT INTO routes (id, short_name, long_name, mode, line, stops) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING";

const INSERT_SERVICE: &str = "INSERT INTO services (id, name, tier, kind, provider, lon, lat) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING";

const INSERT_BOUNDARY: &str = "INSERT INTO boundaries \
     (scheme, code, name, geometry, youth_population) \
     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING";

const INSERT_PERSON: &str = "INSERT INTO people (id, birth_year, categories, agency, review_due, isa_ref) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING";

const INSERT_LINK: &str = "INSERT INTO links \
     (id, kind, from_person, target, categories, grade, agency, review_due, isa_ref) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING";

/// Runs `insert` for every record with the cached statement `sql`; returns rows inserted.
fn insert_all<T>(
    conn: &Connection,
    sql: &str,
    context: &'static str,
    records: &[T],
    mut insert: impl FnMut(&mut rusqlite::CachedStatement<'_>, &T) -> StoreResult<usize>,
) -> StoreResult<u64> {
    if records.is_empty() {
        return Ok(0);
    }
    let mut stmt = conn.prepare_cached(sql).map_err(db(context))?;
    let mut inserted = 0_u64;
    for record in records {
        inserted += insert(&mut stmt, record)? as u64;
    }
    Ok(inserted)
}

fn write_incidents(conn: &Connection, incidents: &[Incident]) -> StoreResult<u64> {
    // An id stored in a segment must not be stored again as a row.
    let in_segments = segment_ids(conn)?;
    let mut stmt = conn
        .prepare_cached(INSERT_INCIDENT)
        .map_err(db("storing incidents"))?;
    let mut inserted = 0_u64;
    for i in incidents {
        if in_segments.binary_search(&i.id.get()).is_err() {
            inserted += execute_incident(&mut stmt, i)? as u64;
        }
    }
    Ok(inserted)
}

/// The blob in column `at` of a row of `incident_segments` (id `segment`).
pub(super) fn segment_blob<'r>(
    row: &'r Row<'_>,
    at: usize,
    segment: i64,
    context: &'static str,
) -> StoreResult<&'r [u8]> {
    let blob = row.get_ref(at).map_err(db(context))?;
    blob.as_blob().map_err(|e| StoreError::Corrupt {
        table: "incident_segments",
        row: segment.to_string(),
        reason: e.to_string(),
    })
}

/// Every id held in `incident_segments`, ascending.
fn segment_ids(conn: &Connection) -> StoreResult<Vec<u64>> {
    let context = "reading stored incident ids";
    let mut stmt = conn
        .prepare_cached("SELECT id, ids FROM incident_segments")
        .map_err(db(context))?;
    let mut rows = stmt.query([]).map_err(db(context))?;
    let mut ids = Vec::new();
    while let Some(row) = rows.next().map_err(db(context))? {
        let segment: i64 = row.get(0).map_err(db(context))?;
        let bytes = segment_blob(row, 1, segment, context)?;
        ids.extend(super::segment::decode_ids(segment, bytes)?);
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Every incident id stored, in rows or in segments, ascending.
fn stored_incident_ids(conn: &Connection) -> StoreResult<Vec<u64>> {
    let context = "reading stored incident ids";
    let mut ids = segment_ids(conn)?;
    let mut stmt = conn
        .prepare_cached("SELECT id FROM incidents")
        .map_err(db(context))?;
    let mut rows = stmt.query([]).map_err(db(context))?;
    while let Some(row) = rows.next().map_err(db(context))? {
        let id: i64 = row.get(0).map_err(db(context))?;
        ids.push(id as u64);
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Writes an import's incidents that are not stored yet (and not repeated within the batch) as
/// columnar segments ([`super::segment`]); counts what was stored.
fn write_segments(
    conn: &Connection,
    incidents: &[super::ImportedIncident],
    file_id: i64,
) -> StoreResult<ImportWritten> {
    let mut written = ImportWritten::default();
    if incidents.is_empty() {
        return Ok(written);
    }
    let context = "storing incident segments";
    let stored = stored_incident_ids(conn)?;
    // Sort compact (id, position) keys rather than the rows: a repeated id keeps its first
    // row, and the sort touches 16 bytes per row instead of chasing pointers.
    let mut keys: Vec<(u64, usize)> = incidents
        .iter()
        .enumerate()
        .map(|(at, i)| (i.incident.id.get(), at))
        .collect();
    keys.sort_unstable();
    keys.dedup_by_key(|k| k.0);
    // Both lists are sorted: one merge pass drops what is stored.
    let mut k = 0;
    keys.retain(|&(id, _)| {
        while k < stored.len() && stored[k] < id {
            k += 1;
        }
        stored.get(k) != Some(&id)
    });
    let order: Vec<usize> = keys.iter().map(|&(_, at)| at).collect();
    drop(keys);
    let encoder = super::segment::SegmentEncoder::new(incidents)?;
    for positions in order.chunks(super::segment::SEGMENT_ROWS) {
        let seg = encoder.encode(positions)?;
        insert_segment(conn, &seg, file_id, context)?;
        written.stored += seg.rows as u64;
        written.unlocated += seg.unlocated;
        written.outside_area += seg.outside_area;
    }
    Ok(written)
}

/// Inserts the encoded segment `seg` of file `file_id` with its checksum (written with the
/// segment, in its transaction, and verified on every load); returns the segment's id.
pub(super) fn insert_segment(
    conn: &Connection,
    seg: &super::segment::EncodedSegment,
    file_id: i64,
    context: &'static str,
) -> StoreResult<i64> {
    let (rows, min_id, max_id) = (
        i64::try_from(seg.rows).unwrap_or(i64::MAX),
        sql_id(seg.min_id, context)?,
        sql_id(seg.max_id, context)?,
    );
    let checksum = integrity::segment_checksum(rows, file_id, min_id, max_id, &seg.ids, &seg.data);
    conn.prepare_cached(
        "INSERT INTO incident_segments (file_id, rows, min_id, max_id, ids, data, checksum) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            file_id,
            rows,
            min_id,
            max_id,
            seg.ids,
            seg.data,
            i64::from(checksum)
        ])
    })
    .map_err(db(context))?;
    Ok(conn.last_insert_rowid())
}

/// Inserts one incident with a prepared [`INSERT_INCIDENT`]; returns rows inserted (0 when the
/// id is already stored).
fn execute_incident(stmt: &mut rusqlite::CachedStatement<'_>, i: &Incident) -> StoreResult<usize> {
    let location = i.location.as_ref();
    stmt.execute(params![
        sql_id(i.id.get(), "storing incidents")?,
        i.category.slug(),
        i.time.day.days_since_epoch(),
        i.time.minute_of_day,
        i.time.precision.code(),
        location.map(|l| l.point.lon()),
        location.map(|l| l.point.lat()),
        location.map(|l| l.precision.code()),
        i.involves_child,
        i.provenance.agency.as_str(),
        i.provenance.isa_ref.as_ref().map(IsaRef::as_str),
        i.provenance.grade.map(|g| g.to_string()),
    ])
    .map_err(db("storing incidents"))
}

fn write_places(conn: &Connection, places: &[PlaceOfConcern]) -> StoreResult<u64> {
    insert_all(conn, INSERT_PLACE, "storing places", places, |stmt, p| {
        let guardians = to_json(&p.guardians, "encoding a place's guardians as JSON")?;
        stmt.execute(params![
            p.id.get(),
            p.kind.code(),
            p.name,
            p.location.lon(),
            p.location.lat(),
            guardians,
            p.review_due.days_since_epoch(),
            p.provenance.agency.as_str(),
            p.provenance.isa_ref.as_ref().map(IsaRef::as_str),
            p.provenance.grade.map(|g| g.to_string()),
        ])
        .map_err(db("storing places"))
    })
}

fn write_schools(conn: &Connection, schools: &[School]) -> StoreResult<u64> {
    insert_all(
        conn,
        INSERT_SCHOOL,
        "storing schools",
        schools,
        |stmt, s| {
            stmt.execute(params![
                s.urn.get(),
                s.name,
                s.phase.code(),
                s.location.lon(),
                s.location.lat(),
                s.la_code.as_str(),
                s.open,
            ])
            .map_err(db("storing schools"))
        },
    )
}

fn write_stops(conn: &Connection, stops: &[Stop]) -> StoreResult<u64> {
    insert_all(conn, INSERT_STOP, "storing stops", stops, |stmt, s| {
        stmt.execute(params![
            s.id.as_str(),
            s.name,
            s.location.lon(),
            s.location.lat(),
            s.active,
        ])
        .map_err(db("storing stops"))
    })
}

fn write_routes(conn: &Connection, routes: &[Route]) -> StoreResult<u64> {
    insert_all(conn, INSERT_ROUTE, "storing routes", routes, |stmt, r| {
        let line = to_json(&r.line, "encoding a route line as JSON")?;
        let stops = to_json(&r.stops, "encoding a route's stops as JSON")?;
        stmt.execute(params![
            r.id.get(),
            r.short_name,
            r.long_name,
            r.mode.code(),
            line,
            stops
        ])
        .map_err(db("storing routes"))
    })
}

fn write_services(conn: &Connection, services: &[YouthService]) -> StoreResult<u64> {
    insert_all(
        conn,
        INSERT_SERVICE,
        "storing youth services",
        services,
        |stmt, s| {
            stmt.execute(params![
                s.id.get(),
                s.name,
                s.tier.code(),
                s.kind,
                s.provider,
                s.location.lon(),
                s.location.lat(),
            ])
            .map_err(db("storing youth services"))
        },
    )
}

fn write_boundaries(conn: &Connection, boundaries: &[Boundary]) -> StoreResult<u64> {
    insert_all(
        conn,
        INSERT_BOUNDARY,
        "storing boundaries",
        boundaries,
        |stmt, b| {
            let geometry = boundary_to_geojson(b)?;
            stmt.execute(params![
                b.scheme.as_str(),
                b.code.as_str(),
                b.name,
                geometry,
                b.youth_population,
            ])
            .map_err(db("storing boundaries"))
        },
    )
}

/// Stores people not stored yet; a person stored with different fields is amended: the stored
/// row is copied to `person_versions` and replaced (issue 12 point 6).
fn write_people(
    conn: &Connection,
    people: &[Person],
    now: &str,
    amended: &mut Vec<Amendment>,
) -> StoreResult<u64> {
    let context = "storing people";
    let mut inserted = 0_u64;
    for p in people {
        let categories = to_json(&p.categories, "encoding a person's categories as JSON")?;
        let new = conn
            .prepare_cached(INSERT_PERSON)
            .and_then(|mut stmt| {
                stmt.execute(params![
                    p.id.as_str(),
                    p.birth_year,
                    categories,
                    p.source.as_str(),
                    p.review_due.days_since_epoch(),
                    p.isa_ref.as_ref().map(IsaRef::as_str),
                ])
            })
            .map_err(db(context))?;
        inserted += new as u64;
        // Not inserted: the id is stored; compare with the stored version.
        let Some(stored) = (new == 0)
            .then(|| person_by_id(conn, &p.id))
            .transpose()?
            .flatten()
        else {
            continue;
        };
        let fields = person_changes(&stored, p);
        if fields.is_empty() {
            continue;
        }
        conn.prepare_cached(
            "INSERT INTO person_versions \
             (id, birth_year, categories, agency, review_due, isa_ref, superseded_at) \
             SELECT id, birth_year, categories, agency, review_due, isa_ref, ?2 FROM people \
             WHERE id = ?1",
        )
        .and_then(|mut stmt| stmt.execute(params![p.id.as_str(), now]))
        .map_err(db("keeping a person's earlier version"))?;
        conn.prepare_cached(
            "UPDATE people SET birth_year = ?2, categories = ?3, agency = ?4, review_due = ?5, \
             isa_ref = ?6 WHERE id = ?1",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                p.id.as_str(),
                p.birth_year,
                categories,
                p.source.as_str(),
                p.review_due.days_since_epoch(),
                p.isa_ref.as_ref().map(IsaRef::as_str),
            ])
        })
        .map_err(db("amending a person"))?;
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
    conn: &Connection,
    links: &[Link],
    now: &str,
    amended: &mut Vec<Amendment>,
) -> StoreResult<u64> {
    let context = "storing links";
    let mut inserted = 0_u64;
    for l in links {
        let id = sql_id(l.id, context)?;
        let values = params![
            id,
            l.kind.code(),
            l.from.as_str(),
            to_json(&l.to, "encoding a link target as JSON")?,
            to_json(&l.categories, "encoding a link's categories as JSON")?,
            l.grade.to_string(),
            l.source.as_str(),
            l.review_due.days_since_epoch(),
            l.isa_ref.as_ref().map(IsaRef::as_str),
        ];
        let new = conn
            .prepare_cached(INSERT_LINK)
            .and_then(|mut stmt| stmt.execute(values))
            .map_err(db(context))?;
        inserted += new as u64;
        let Some(stored) = (new == 0)
            .then(|| link_by_id(conn, l.id))
            .transpose()?
            .flatten()
        else {
            continue;
        };
        let fields = link_changes(&stored, l);
        if fields.is_empty() {
            continue;
        }
        conn.prepare_cached(
            "INSERT INTO link_versions \
             (id, kind, from_person, target, categories, grade, agency, review_due, isa_ref, \
             superseded_at) \
             SELECT id, kind, from_person, target, categories, grade, agency, review_due, \
             isa_ref, ?2 FROM links WHERE id = ?1",
        )
        .and_then(|mut stmt| stmt.execute(params![id, now]))
        .map_err(db("keeping a link's earlier version"))?;
        conn.prepare_cached(
            "UPDATE links SET kind = ?2, from_person = ?3, target = ?4, categories = ?5, \
             grade = ?6, agency = ?7, review_due = ?8, isa_ref = ?9 WHERE id = ?1",
        )
        .and_then(|mut stmt| stmt.execute(values))
        .map_err(db("amending a link"))?;
        amended.push(Amendment {
            record: format!("link:{}", l.id),
            subject: l.from.clone(),
            fields,
        });
    }
    Ok(inserted)
}

// ---------------------------------------------------------------------------------------------
// What the rules need (safeguards::rules::StoredState).

const SELECT_PERSON: &str =
    "SELECT id, birth_year, categories, agency, review_due, isa_ref FROM people";
const SELECT_LINK: &str = "SELECT id, kind, from_person, target, categories, grade, agency, \
     review_due, isa_ref FROM links";

fn person_by_id(conn: &Connection, id: &PersonRef) -> StoreResult<Option<Person>> {
    let sql = format!("{SELECT_PERSON} WHERE id = ?1");
    Ok(load_matching(conn, "people", &sql, [id.as_str()], 1, person_row)?.pop())
}

fn link_by_id(conn: &Connection, id: u64) -> StoreResult<Option<Link>> {
    let sql = format!("{SELECT_LINK} WHERE id = ?1");
    let key = sql_id(id, "looking up a stored link")?;
    Ok(load_matching(conn, "links", &sql, [key], 1, link_row)?.pop())
}

/// Every stored link from or to `person`.
fn links_of(conn: &Connection, person: &PersonRef) -> StoreResult<Vec<Link>> {
    // The second clause matches the partial index `links_to_person` (migration 0007).
    let sql = format!(
        "{SELECT_LINK} WHERE from_person = ?1 UNION {SELECT_LINK} \
         WHERE json_extract(target, '$.type') = 'person' AND json_extract(target, '$.id') = ?1"
    );
    load_matching(conn, "links", &sql, [person.as_str()], 1, link_row)
}

fn exists(conn: &Connection, sql: &'static str, id: i64) -> StoreResult<bool> {
    let n: i64 = conn
        .prepare_cached(sql)
        .and_then(|mut stmt| stmt.query_row([id], |r| r.get(0)))
        .map_err(db("looking up a stored record"))?;
    Ok(n > 0)
}

/// What the rules need to check `data` on the resulting state.
fn stored_state(conn: &Connection, data: &Dataset) -> StoreResult<StoredState> {
    let mut state = StoredState::default();
    let mut touched = StoredState::touched(data);
    // Stored links the batch replaces: their people are touched too.
    for l in &data.links {
        if let Some(stored) = link_by_id(conn, l.id)? {
            touched.insert(stored.from.clone());
            if let LinkTarget::Person(p) = &stored.to {
                touched.insert(p.clone());
            }
            state.links.insert(stored.id, stored);
        }
    }
    for p in &touched {
        if let Some(person) = person_by_id(conn, p)? {
            state.people.insert(p.clone(), person);
        }
        for l in links_of(conn, p)? {
            state.links.insert(l.id, l);
        }
    }
    let mut incidents = std::collections::BTreeSet::new();
    let mut places = std::collections::BTreeSet::new();
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
    let mut in_segments: Option<Vec<u64>> = None;
    for i in incidents {
        let found = exists(
            conn,
            "SELECT COUNT(*) FROM incidents WHERE id = ?1",
            sql_id(i.get(), "looking up a stored incident")?,
        )? || {
            if in_segments.is_none() {
                in_segments = Some(segment_ids(conn)?);
            }
            in_segments
                .as_ref()
                .is_some_and(|ids| ids.binary_search(&i.get()).is_ok())
        };
        if found {
            state.incidents.insert(i);
        }
    }
    for p in places {
        if exists(
            conn,
            "SELECT COUNT(*) FROM places WHERE id = ?1",
            i64::from(p.get()),
        )? {
            state.places.insert(p);
        }
    }
    Ok(state)
}

fn write_cases(conn: &Connection, cases: &[Case]) -> StoreResult<u64> {
    let sql = "INSERT INTO cases (reference, kind, subjects, opened, review_due, org) \
               VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING";
    let stored = insert_all(conn, sql, "storing cases", cases, |stmt, c| {
        let subjects = to_json(&c.subjects, "encoding case subjects as JSON")?;
        let kind = to_json(&c.kind, "encoding a case kind")?;
        stmt.execute(params![
            c.reference.as_str(),
            kind.trim_matches('"'),
            subjects,
            c.opened.days_since_epoch(),
            c.review_due.days_since_epoch(),
            c.org,
        ])
        .map_err(db("storing cases"))
    })?;
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO case_assignments (case_ref, user_name, assigned_at, assigned_by) \
             VALUES (?1, ?2, ?3, 'case record') ON CONFLICT DO NOTHING",
        )
        .map_err(db("storing case assignments"))?;
    let now = crate::safeguards::audit::rfc3339_millis(std::time::SystemTime::now());
    for c in cases {
        for user in &c.assigned {
            stmt.execute(params![c.reference.as_str(), user, now])
                .map_err(db("storing case assignments"))?;
        }
    }
    Ok(stored)
}

/// Assigns `user` to the case `case_ref`; false when the assignment already exists, `None`
/// when there is no such case.
fn assign_case(
    conn: &Connection,
    case_ref: &CaseRef,
    user: &str,
    by: &str,
    at: &str,
) -> StoreResult<Option<bool>> {
    let exists: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM cases WHERE reference = ?1)",
            params![case_ref.as_str()],
            |r| r.get(0),
        )
        .map_err(db("looking up a case"))?;
    if !exists {
        return Ok(None);
    }
    let n = conn
        .execute(
            "INSERT INTO case_assignments (case_ref, user_name, assigned_at, assigned_by) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            params![case_ref.as_str(), user, at, by],
        )
        .map_err(db("assigning a case"))?;
    Ok(Some(n == 1))
}

fn write_meetings(conn: &Connection, meetings: &[MaceMeeting]) -> StoreResult<u64> {
    let sql = "INSERT INTO meetings (reference, panel_id, day, subjects, places) \
               VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING";
    insert_all(conn, sql, "storing meetings", meetings, |stmt, m| {
        let subjects = to_json(&m.subjects, "encoding meeting subjects as JSON")?;
        let places = to_json(&m.places, "encoding meeting places as JSON")?;
        stmt.execute(params![
            m.reference.as_str(),
            m.panel_id,
            m.day.days_since_epoch(),
            subjects,
            places
        ])
        .map_err(db("storing meetings"))
    })
}

/// A 64-bit unsigned id as an `SQLite` integer key. Ids above `i64::MAX` cannot be stored.
/// The kind of served data a record table holds, for the tables a partial load reads.
fn kind_of_table(table: &str) -> Option<ChangeKind> {
    match table {
        // The withdrawals are verified whenever the incidents are read.
        "incidents" | "incident_withdrawals" => Some(ChangeKind::Incidents),
        "places" | "schools" | "stops" | "routes" | "services" | "boundaries" => {
            Some(ChangeKind::Reference)
        }
        "people" | "links" | "cases" | "case_assignments" | "meetings" => Some(ChangeKind::People),
        _ => None,
    }
}

/// Records in the change feed the kinds a `write_records` batch changed.
fn record_changes(conn: &Connection, counts: &KindCounts, amended: bool) -> StoreResult<()> {
    if counts.incidents > 0 {
        changes::record(conn, ChangeKind::Incidents, None)?;
    }
    let reference = counts.places
        + counts.schools
        + counts.stops
        + counts.routes
        + counts.services
        + counts.boundaries;
    if reference > 0 {
        changes::record(conn, ChangeKind::Reference, None)?;
    }
    if amended || counts.people + counts.links + counts.cases + counts.meetings > 0 {
        changes::record(conn, ChangeKind::People, None)?;
    }
    Ok(())
}

/// The first and last segment id of imported file `file_id`, when it wrote any.
fn segment_range(conn: &Connection, file_id: i64) -> StoreResult<Option<(i64, i64)>> {
    conn.query_row(
        "SELECT MIN(id), MAX(id) FROM incident_segments WHERE file_id = ?1",
        [file_id],
        |r| Ok(r.get::<_, Option<i64>>(0)?.zip(r.get::<_, Option<i64>>(1)?)),
    )
    .map_err(db("reading the segments of an import"))
}

fn sql_id(id: u64, context: &'static str) -> StoreResult<i64> {
    i64::try_from(id).map_err(|e| encode_error(context, e))
}

/// A boundary's outline as a `GeoJSON` geometry object. Non-finite coordinates are refused:
/// JSON would silently turn them into `null`.
fn boundary_to_geojson(b: &Boundary) -> StoreResult<String> {
    if !b
        .geometry
        .coords_iter()
        .all(|c| c.x.is_finite() && c.y.is_finite())
    {
        return Err(encode_error(
            "encoding a boundary outline as GeoJSON",
            DomainError::invalid(
                "geometry",
                format!(
                    "boundary {}/{} has a non-finite coordinate",
                    b.scheme, b.code
                ),
            ),
        ));
    }
    let geometry = geojson::Geometry::new(geojson::GeometryValue::from(&b.geometry));
    to_json(&geometry, "encoding a boundary outline as GeoJSON")
}

fn to_json<T: Serialize + ?Sized>(value: &T, context: &'static str) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| encode_error(context, e))
}

/// A value that could not be turned into a column, reported the way rusqlite reports its own
/// parameter conversion failures.
fn encode_error(
    context: &'static str,
    error: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    StoreError::Database {
        context,
        source: rusqlite::Error::ToSqlConversionFailure(Box::new(error)),
    }
}

// ---------------------------------------------------------------------------------------------
// Loading.

/// Reads every row of `sql` (whose first `key_columns` columns are the table's key) and
/// converts each with `convert`.
fn load_all<T>(
    conn: &Connection,
    table: &'static str,
    sql: &str,
    key_columns: usize,
    convert: impl Fn(&Cells<'_, '_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    load_matching(conn, table, sql, [], key_columns, convert)
}

/// [`load_all`] for a query with parameters.
fn load_matching<T>(
    conn: &Connection,
    table: &'static str,
    sql: &str,
    params: impl rusqlite::Params,
    key_columns: usize,
    convert: impl Fn(&Cells<'_, '_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let context = "loading stored records";
    let mut stmt = conn.prepare_cached(sql).map_err(db(context))?;
    let mut rows = stmt.query(params).map_err(db(context))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db(context))? {
        let cells = Cells {
            row,
            table,
            key: row_key(row, key_columns),
        };
        out.push(convert(&cells)?);
    }
    Ok(out)
}

/// Incidents stored as rows and in segments, ascending by id, without the withdrawn ones.
fn load_incidents(conn: &Connection) -> StoreResult<Vec<Incident>> {
    let mut incidents = withdrawals::Withdrawn::read(conn)?.keep(load_incident_rows(conn)?);
    let from_segments = load_segments(conn, 0)?;
    let any = !from_segments.is_empty();
    incidents.extend(from_segments);
    if any && !incidents.is_sorted_by_key(|i| i.id.get()) {
        incidents.sort_unstable_by_key(|i| i.id.get());
    }
    Ok(incidents)
}

/// The largest incident segment id stored, 0 when none.
fn max_segment_id(conn: &Connection) -> StoreResult<u64> {
    let id: Option<i64> = conn
        .prepare_cached("SELECT MAX(id) FROM incident_segments")
        .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
        .map_err(db("reading the newest incident segment"))?;
    Ok(id.map_or(0, |v| u64::try_from(v).unwrap_or(0)))
}

/// The incidents of the segments with an id above `after`, each segment verified first.
fn load_segments(conn: &Connection, after: u64) -> StoreResult<Vec<Incident>> {
    let mut incidents = Vec::new();
    for_each_segment(conn, after, &mut |batch| incidents.extend(batch))?;
    Ok(incidents)
}

/// Hands the incidents of each segment with an id above `after` to `each`, in id order of the
/// segments, each verified before a byte of it is decoded (issue 14, point 4), without the
/// withdrawn ones.
fn for_each_segment(
    conn: &Connection,
    after: u64,
    each: &mut dyn FnMut(Vec<Incident>),
) -> StoreResult<()> {
    let context = "loading incident segments";
    let withdrawn = withdrawals::Withdrawn::read(conn)?;
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {} FROM incident_segments WHERE id > ?1 ORDER BY id",
            integrity::SEGMENT_COLUMNS
        ))
        .map_err(db(context))?;
    let mut rows = stmt
        .query([i64::try_from(after).unwrap_or(i64::MAX)])
        .map_err(db(context))?;
    while let Some(row) = rows.next().map_err(db(context))? {
        let segment = integrity::SegmentRow::read(row)?;
        segment.verify()?;
        each(withdrawn.keep_segment(
            segment.id,
            super::segment::decode_incidents(segment.id, segment.ids, segment.data)?,
        ));
    }
    Ok(())
}

/// The columns of an incident row, in the order [`incident_rows`] reads them.
const SELECT_INCIDENT: &str = "SELECT id, category, day, minute, time_precision, lon, lat, \
     location_precision, involves_child, agency, isa_ref, grade FROM incidents";

/// Every row of the incidents table (withdrawn ones included), ascending by id.
fn load_incident_rows(conn: &Connection) -> StoreResult<Vec<Incident>> {
    incident_rows(conn, &format!("{SELECT_INCIDENT} ORDER BY id"), [])
}

/// The incident rows `sql` (a [`SELECT_INCIDENT`] query) selects.
fn incident_rows(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<Incident>> {
    load_matching(conn, "incidents", sql, params, 1, |c| {
        let minute_of_day: Option<u16> = c.get(3)?;
        if let Some(minute) = minute_of_day.filter(|m| *m >= MINUTES_PER_DAY) {
            return Err(c.corrupt(format!("minute {minute} is not below {MINUTES_PER_DAY}")));
        }
        let location = match (c.get::<Option<f64>>(5)?, c.get::<Option<f64>>(6)?) {
            (None, None) if c.get::<Option<String>>(7)?.is_none() => None,
            (Some(_), Some(_)) => Some(IncidentLocation {
                point: c.lonlat(5, 6)?,
                precision: c.code(7)?,
            }),
            _ => {
                return Err(c.corrupt("location columns are partly NULL"));
            }
        };
        Ok(Incident {
            id: IncidentId::new(c.id(0)?),
            category: c.parse::<Category>(1)?,
            time: IncidentTime {
                day: c.day(2)?,
                minute_of_day,
                precision: c.code(4)?,
            },
            location,
            involves_child: c.get(8)?,
            provenance: c.provenance(9, 10, 11)?,
        })
    })
}

fn load_places(conn: &Connection) -> StoreResult<Vec<PlaceOfConcern>> {
    let sql = "SELECT id, kind, name, lon, lat, guardians, review_due, agency, isa_ref, grade \
               FROM places ORDER BY id";
    load_all(conn, "places", sql, 1, |c| {
        Ok(PlaceOfConcern {
            id: PlaceId::new(c.get(0)?),
            kind: c.code::<PlaceKind>(1)?,
            name: c.get(2)?,
            location: c.lonlat(3, 4)?,
            guardians: c.json::<Vec<Guardian>>(5)?,
            review_due: c.day(6)?,
            provenance: c.provenance(7, 8, 9)?,
        })
    })
}

fn load_schools(conn: &Connection) -> StoreResult<Vec<School>> {
    let sql = "SELECT urn, name, phase, lon, lat, la_code, open FROM schools ORDER BY urn";
    load_all(conn, "schools", sql, 1, |c| {
        Ok(School {
            urn: c.checked(0, Urn::new)?,
            name: c.get(1)?,
            phase: c.code::<Phase>(2)?,
            location: c.lonlat(3, 4)?,
            la_code: c.parse::<BoundaryCode>(5)?,
            open: c.get(6)?,
        })
    })
}

fn load_stops(conn: &Connection) -> StoreResult<Vec<Stop>> {
    let sql = "SELECT atco, name, lon, lat, active FROM stops ORDER BY atco";
    load_all(conn, "stops", sql, 1, |c| {
        Ok(Stop {
            id: c.parse::<AtcoCode>(0)?,
            name: c.get(1)?,
            location: c.lonlat(2, 3)?,
            active: c.get(4)?,
        })
    })
}

fn load_routes(conn: &Connection) -> StoreResult<Vec<Route>> {
    let sql = "SELECT id, short_name, long_name, mode, line, stops FROM routes ORDER BY id";
    load_all(conn, "routes", sql, 1, |c| {
        Ok(Route {
            id: RouteId::new(c.get(0)?),
            short_name: c.get(1)?,
            long_name: c.get(2)?,
            mode: c.code::<RouteMode>(3)?,
            line: c.json::<Vec<LonLat>>(4)?,
            stops: c.json::<Vec<AtcoCode>>(5)?,
        })
    })
}

fn load_services(conn: &Connection) -> StoreResult<Vec<YouthService>> {
    let sql = "SELECT id, name, tier, kind, provider, lon, lat FROM services ORDER BY id";
    load_all(conn, "services", sql, 1, |c| {
        Ok(YouthService {
            id: ServiceId::new(c.get(0)?),
            name: c.get(1)?,
            tier: c.code::<ServiceTier>(2)?,
            kind: c.get(3)?,
            provider: c.get(4)?,
            location: c.lonlat(5, 6)?,
        })
    })
}

fn load_boundaries(conn: &Connection) -> StoreResult<Vec<Boundary>> {
    let sql = "SELECT scheme, code, name, geometry, youth_population FROM boundaries \
               ORDER BY scheme, code";
    load_all(conn, "boundaries", sql, 2, |c| {
        let text: String = c.get(3)?;
        let geometry: geojson::Geometry = text
            .parse()
            .map_err(|e| c.corrupt(format!("geometry is not GeoJSON: {e}")))?;
        let geometry = geo::MultiPolygon::<f64>::try_from(&geometry.value)
            .map_err(|e| c.corrupt(format!("geometry is not a MultiPolygon: {e}")))?;
        Ok(Boundary {
            scheme: c.parse::<SchemeName>(0)?,
            code: c.parse::<BoundaryCode>(1)?,
            name: c.get(2)?,
            geometry,
            youth_population: c.get(4)?,
        })
    })
}

fn load_people(conn: &Connection) -> StoreResult<Vec<Person>> {
    let sql = format!("{SELECT_PERSON} ORDER BY id");
    load_all(conn, "people", &sql, 1, person_row)
}

fn person_row(c: &Cells<'_, '_>) -> StoreResult<Person> {
    Person::new(
        c.parse::<PersonRef>(0)?,
        c.get(1)?,
        c.json::<Vec<SubjectCategory>>(2)?,
        c.parse::<Agency>(3)?,
        c.day(4)?,
    )
    .map_err(|e| c.corrupt(e.to_string()))
    .and_then(|p| Ok(p.with_isa_ref(c.parse_optional(5)?)))
}

fn load_links(conn: &Connection) -> StoreResult<Vec<Link>> {
    let sql = format!("{SELECT_LINK} ORDER BY id");
    load_all(conn, "links", &sql, 1, link_row)
}

fn link_row(c: &Cells<'_, '_>) -> StoreResult<Link> {
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

const SELECT_CASE: &str = "SELECT reference, kind, subjects, opened, review_due, org, \
    (SELECT json_group_array(user_name) FROM case_assignments a \
     WHERE a.case_ref = cases.reference) FROM cases";

fn load_cases(conn: &Connection) -> StoreResult<Vec<Case>> {
    let sql = format!("{SELECT_CASE} ORDER BY reference");
    load_all(conn, "cases", &sql, 1, case_row)
}

fn case_row(c: &Cells<'_, '_>) -> StoreResult<Case> {
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

const SELECT_MEETING: &str = "SELECT reference, panel_id, day, subjects, places FROM meetings";

fn load_meetings(conn: &Connection) -> StoreResult<Vec<MaceMeeting>> {
    let sql = format!("{SELECT_MEETING} ORDER BY reference");
    load_all(conn, "meetings", &sql, 1, meeting_row)
}

fn meeting_row(c: &Cells<'_, '_>) -> StoreResult<MaceMeeting> {
    Ok(MaceMeeting {
        reference: c.parse::<CaseRef>(0)?,
        panel_id: c.get(1)?,
        day: c.day(2)?,
        subjects: c.json::<Vec<PersonRef>>(3)?,
        places: c.json::<Vec<PlaceId>>(4)?,
    })
}

/// The row's key as text, for error reports: the first `columns` columns joined with `/`.
fn row_key(row: &Row<'_>, columns: usize) -> String {
    let part = |idx: usize| match row.get_ref(idx) {
        Ok(ValueRef::Integer(i)) => i.to_string(),
        Ok(ValueRef::Real(f)) => f.to_string(),
        Ok(ValueRef::Text(t) | ValueRef::Blob(t)) => String::from_utf8_lossy(t).into_owned(),
        Ok(ValueRef::Null) => "NULL".to_owned(),
        Err(_) => "?".to_owned(),
    };
    (0..columns).map(part).collect::<Vec<_>>().join("/")
}

/// One stored row being turned back into domain values; every failure is a
/// [`StoreError::Corrupt`] naming the table, the row key and the column.
struct Cells<'a, 'stmt> {
    row: &'a Row<'stmt>,
    table: &'static str,
    key: String,
}

impl Cells<'_, '_> {
    fn corrupt(&self, reason: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            table: self.table,
            row: self.key.clone(),
            reason: reason.into(),
        }
    }

    fn column_corrupt(&self, idx: usize, reason: impl Display) -> StoreError {
        let column = self.row.as_ref().column_name(idx).unwrap_or("?");
        self.corrupt(format!("{column}: {reason}"))
    }

    /// A column as a plain `SQLite`-convertible value.
    fn get<T: FromSql>(&self, idx: usize) -> StoreResult<T> {
        self.row.get(idx).map_err(|e| self.column_corrupt(idx, e))
    }

    /// An integer key column holding a 64-bit unsigned id.
    fn id(&self, idx: usize) -> StoreResult<u64> {
        let raw: i64 = self.get(idx)?;
        u64::try_from(raw).map_err(|e| self.column_corrupt(idx, e))
    }

    /// A column passed through a validating constructor.
    fn checked<R: FromSql, T>(
        &self,
        idx: usize,
        build: impl FnOnce(R) -> Result<T, DomainError>,
    ) -> StoreResult<T> {
        build(self.get(idx)?).map_err(|e| self.column_corrupt(idx, e))
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

    /// A text column holding JSON.
    fn json<T: DeserializeOwned>(&self, idx: usize) -> StoreResult<T> {
        let text: String = self.get(idx)?;
        serde_json::from_str(&text).map_err(|e| self.column_corrupt(idx, e))
    }

    /// A text column holding a [`Code`].
    fn code<T: Code>(&self, idx: usize) -> StoreResult<T> {
        let text: String = self.get(idx)?;
        T::from_code(&text)
            .ok_or_else(|| self.column_corrupt(idx, format!("{text:?} is not a known code")))
    }

    /// A day column (days since 1970-01-01).
    fn day(&self, idx: usize) -> StoreResult<Day> {
        self.get(idx).map(Day::from_days_since_epoch)
    }

    /// A lon/lat column pair.
    fn lonlat(&self, lon: usize, lat: usize) -> StoreResult<LonLat> {
        LonLat::new(self.get(lon)?, self.get(lat)?).map_err(|e| self.corrupt(e.to_string()))
    }

    /// Agency, sharing agreement and grade columns.
    fn provenance(&self, agency: usize, isa_ref: usize, grade: usize) -> StoreResult<Provenance> {
        Ok(Provenance {
            agency: self.parse(agency)?,
            isa_ref: self.parse_optional(isa_ref)?,
            grade: self.parse_optional(grade)?,
        })
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
}

// ---------------------------------------------------------------------------------------------
// Enum codes.

/// A closed vocabulary stored as a text code (the same `snake_case` word the API uses).
pub(super) trait Code: Sized + Copy + 'static {
    /// Every value.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "only the tests enumerate every value")
    )]
    const ALL: &'static [Self];
    /// The stored code.
    fn code(self) -> &'static str;
    /// The value stored as `code`, if any.
    fn from_code(code: &str) -> Option<Self>;
}

macro_rules! codes {
    ($($ty:ident { $($variant:ident => $code:literal),+ $(,)? })*) => {$(
        impl Code for $ty {
            const ALL: &'static [Self] = &[$($ty::$variant),+];

            fn code(self) -> &'static str {
                match self {
                    $($ty::$variant => $code,)+
                }
            }

            fn from_code(code: &str) -> Option<Self> {
                match code {
                    $($code => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }
    )*};
}

codes! {
    TimePrecision { Exact => "exact", Day => "day", Month => "month" }
    LocationPrecision { Exact => "exact", SnapPoint => "snap_point", Area => "area" }
    PlaceKind {
        TransportHub => "transport_hub",
        Park => "park",
        Shop => "shop",
        Takeaway => "takeaway",
        CarPark => "car_park",
        Underpass => "underpass",
        Venue => "venue",
        Residential => "residential",
        SchoolGate => "school_gate",
    }
    Phase {
        Nursery => "nursery",
        Primary => "primary",
        Secondary => "secondary",
        SixteenPlus => "sixteen_plus",
        AllThrough => "all_through",
        NotApplicable => "not_applicable",
    }
    RouteMode { Bus => "bus", Rail => "rail", Ferry => "ferry", Other => "other" }
    ServiceTier { Universal => "universal", Targeted => "targeted", Specialist => "specialist" }
    LinkKind {
        Peer => "peer",
        Family => "family",
        Exploitation => "exploitation",
        PersonPlace => "person_place",
        PersonIncident => "person_incident",
        Safeguarding => "safeguarding",
    }
}

/// Maps a driver error to [`StoreError::Database`] with what the store was doing.
fn db(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |source| StoreError::Database { context, source }
}

#[cfg(test)]
#[path = "sqlite_tests.rs"]
mod tests;
