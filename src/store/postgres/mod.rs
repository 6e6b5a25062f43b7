//! PostgreSQL/PostGIS: the production store (issue 16).
//!
//! [`migrate`] applies the versioned migrations of `migrations/postgres/` to the database
//! named by `SAFERPLACES_DATABASE_URL`; [`PgStore`] implements [`Store`] on it through the
//! synchronous `postgres` client (the store's callers run on the blocking pool).
//!
//! The implementation is split by the data it touches, as the schema is:
//! - [`data`]: the spatial tables in `public` (incidents, their withdrawals and duplicate
//!   links, imported files, the reference layers) and the change feed;
//! - [`people`]: the `people` schema (people, links, their versions, reviews, cases and
//!   their assignments, meetings, users and tokens).
//!
//! A write that spans both (`write_records`) runs in one transaction that each side writes
//! its part of. Every write transaction records what it changed in `changes` and sends
//! `NOTIFY saferplaces_changes` in that transaction, delivered on commit, so the servers on
//! the database apply the change at once (they poll the feed too, in case one is lost).

mod data;
mod listen;
mod migrate;
mod people;

use std::cell::RefCell;

pub use listen::listen_for_changes;
pub use migrate::{MIGRATIONS, Migration, MigrationReport, migrate};
use postgres::{Client, Config, NoTls, Transaction};

use super::changes::{ChangeKind, ChangeSet};
use super::{
    AmendedIncident, Erased, ImportBatch, ImportFile, ImportWritten, IncidentCorrection,
    IncidentsFingerprint, KindCounts, NewUser, PersonVersion, Store, StoreError, StoreResult,
    WithdrawalNote, Written,
};
use crate::domain::{Dataset, PersonRef, User};
use crate::safeguards::rules::StoredState;

/// The channel every write transaction notifies on commit.
pub const CHANGES_CHANNEL: &str = "saferplaces_changes";

/// The PostgreSQL store: one connection, migrated when opened.
pub struct PgStore {
    /// The connection. The [`Store`] trait reads through `&self` while the client needs
    /// `&mut`; the store is used by one thread at a time (it is `Send`, not `Sync`). `None`
    /// only while the store is dropped.
    client: RefCell<Option<Client>>,
    /// Host(s) and database, without user or password, for messages.
    target: String,
}

impl PgStore {
    /// Connects to `url` (a libpq connection string or `postgres://` URL) and applies every
    /// pending migration ([`migrate`]).
    ///
    /// # Errors
    ///
    /// As [`migrate`], and a failed connection.
    pub fn connect(url: &str) -> PgResult<Self> {
        migrate(url)?;
        let config: Config = url.parse().map_err(|source| PgError::Config { source })?;
        let target = migrate::target(&config);
        let client = config.connect(NoTls).map_err(|source| PgError::Connect {
            target: target.clone(),
            source,
        })?;
        Ok(Self {
            client: RefCell::new(Some(client)),
            target,
        })
    }

    /// The connection, for a read through `&self`.
    fn conn(&self) -> StoreResult<std::cell::RefMut<'_, Client>> {
        std::cell::RefMut::filter_map(self.client.borrow_mut(), Option::as_mut)
            .map_err(|_| closed())
    }

    /// The connection, for a write through `&mut self`.
    fn conn_mut(&mut self) -> StoreResult<&mut Client> {
        self.client.get_mut().as_mut().ok_or_else(closed)
    }
}

/// The error of a store whose connection is gone (only while it is being dropped).
fn closed() -> StoreError {
    StoreError::Refused {
        operation: "use the PostgreSQL store",
        field: "connection",
        problem: "the store is closed".to_owned(),
    }
}

impl Drop for PgStore {
    /// Closes the connection off the async runtime: the synchronous client closes through
    /// its own runtime, which cannot be entered from a worker of the server's (a server's
    /// feed job drops its store when the runtime shuts down).
    fn drop(&mut self) {
        let Some(client) = self.client.get_mut().take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            let closing = std::thread::Builder::new()
                .name("pg-close".to_owned())
                .spawn(move || drop(client));
            if let Err(e) = closing {
                tracing::warn!(error = %e, "cannot close the PostgreSQL connection cleanly");
            }
        }
    }
}

/// Rows an import stores from which the planner's statistics of `incidents` are refreshed at
/// once rather than by autovacuum a minute or more later.
const ANALYZE_AFTER_ROWS: u64 = 50_000;

/// After a bulk import, refreshes the planner's statistics of `incidents`. Without them (a
/// large first import into an empty table) every server's query for the batches after its
/// cursor was planned as a scan of the whole table: 4 s a change at 10M incidents, until
/// autovacuum analysed it. Best effort: a role that does not own the table is skipped by
/// PostgreSQL with a warning, and autovacuum still analyses it later.
fn analyze_after_bulk(client: &mut Client, stored: u64) {
    if stored < ANALYZE_AFTER_ROWS {
        return;
    }
    if let Err(e) = client.batch_execute("ANALYZE incidents") {
        tracing::warn!(error = %e, "cannot refresh the statistics of incidents after an import");
    }
}

/// Maps a driver error to [`StoreError::Postgres`] with what the store was doing.
pub(crate) fn pg(context: &'static str) -> impl Fn(postgres::Error) -> StoreError {
    move |source| StoreError::Postgres { context, source }
}

/// Appends a change of `kind` (with the batch range for imports) to the feed in the caller's
/// transaction, and notifies [`CHANGES_CHANNEL`] on its commit.
pub(crate) fn record_change(
    tx: &mut Transaction<'_>,
    kind: ChangeKind,
    range: Option<(i64, i64)>,
) -> StoreResult<()> {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    tx.execute(
        "INSERT INTO changes (kind, first_id, last_id, at) VALUES ($1, $2, $3, $4)",
        &[&kind.code(), &range.map(|r| r.0), &range.map(|r| r.1), &at],
    )
    .map_err(pg("recording a change in the change feed"))?;
    tx.batch_execute(&format!("NOTIFY {CHANGES_CHANNEL}"))
        .map_err(pg("notifying the change"))?;
    Ok(())
}

impl Store for PgStore {
    fn location(&self) -> String {
        format!("PostgreSQL {}", self.target)
    }

    fn schema_version(&self) -> StoreResult<u32> {
        data::schema_version(&mut *self.conn()?)
    }

    fn write_records(&mut self, data: &Dataset) -> StoreResult<Written> {
        let client = self.conn_mut()?;
        let mut tx = client
            .transaction()
            .map_err(pg("starting a write transaction"))?;
        let mut written = Written::default();
        data::write_records(&mut tx, data, &mut written)?;
        people::write_records(&mut tx, data, &mut written)?;
        tx.commit().map_err(pg("committing a write transaction"))?;
        Ok(written)
    }

    fn stored_state(&self, data: &Dataset) -> StoreResult<StoredState> {
        people::stored_state(&mut *self.conn()?, data)
    }

    fn load(&self) -> StoreResult<Dataset> {
        self.load_kinds(&ChangeSet::everything(0)).map(|(d, _)| d)
    }

    fn counts(&self) -> StoreResult<KindCounts> {
        let mut client = self.conn()?;
        let mut counts = KindCounts::default();
        data::counts(&mut client, &mut counts)?;
        people::counts(&mut client, &mut counts)?;
        Ok(counts)
    }

    fn add_user(&mut self, user: &NewUser) -> StoreResult<u64> {
        people::add_user(self.conn_mut()?, user)
    }

    fn set_user_token(
        &mut self,
        name: &str,
        token_hash: &str,
        token_expires_at: u64,
    ) -> StoreResult<bool> {
        people::set_user_token(self.conn_mut()?, name, token_hash, token_expires_at)
    }

    fn revoke_user(&mut self, name: &str, revoked_at: u64) -> StoreResult<Option<User>> {
        people::revoke_user(self.conn_mut()?, name, revoked_at)
    }

    fn users(&self) -> StoreResult<Vec<(String, User)>> {
        people::users(&mut *self.conn()?)
    }

    fn change_marker(&self) -> StoreResult<u64> {
        data::change_marker(&mut *self.conn()?)
    }

    fn latest_change(&self) -> StoreResult<Option<u64>> {
        data::latest_change(&mut *self.conn()?).map(Some)
    }

    fn changes_since(&self, after: u64) -> StoreResult<ChangeSet> {
        data::changes_since(&mut *self.conn()?, after)
    }

    fn load_kinds(&self, kinds: &ChangeSet) -> StoreResult<(Dataset, u64)> {
        let mut client = self.conn()?;
        // One consistent snapshot for both sides.
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(pg("starting a read transaction"))?;
        let mut dataset = Dataset::default();
        let cursor = data::load_kinds(&mut tx, kinds, &mut dataset)?;
        people::load_kinds(&mut tx, kinds, &mut dataset)?;
        tx.commit().map_err(pg("ending a read transaction"))?;
        Ok((dataset, cursor))
    }

    fn for_each_incident_batch(
        &self,
        each: &mut dyn FnMut(Vec<crate::domain::Incident>),
    ) -> StoreResult<u64> {
        data::for_each_incident_batch(&mut *self.conn()?, each)
    }

    fn incidents_fingerprint(&self, cursor: u64) -> StoreResult<IncidentsFingerprint> {
        data::incidents_fingerprint(&mut *self.conn()?, cursor)
    }

    fn for_each_incident_after_segment(
        &self,
        after: u64,
        each: &mut dyn FnMut(Vec<crate::domain::Incident>),
    ) -> StoreResult<u64> {
        data::for_each_incident_after_segment(&mut *self.conn()?, after, each)
    }

    fn incident_rows_after_segment(&self, after: u64) -> StoreResult<u64> {
        data::incident_rows_after_segment(&mut *self.conn()?, after)
    }

    fn withdraw_incidents(
        &mut self,
        ids: &[crate::domain::IncidentId],
        note: &WithdrawalNote,
    ) -> StoreResult<Vec<u64>> {
        data::withdraw_incidents(self.conn_mut()?, ids, note)
    }

    fn amend_incident(
        &mut self,
        id: crate::domain::IncidentId,
        correction: &IncidentCorrection,
        note: &WithdrawalNote,
    ) -> StoreResult<AmendedIncident> {
        data::amend_incident(self.conn_mut()?, id, correction, note)
    }

    fn for_each_withdrawal_after(
        &self,
        after: u64,
        each: &mut dyn FnMut(Vec<crate::domain::Incident>),
    ) -> StoreResult<u64> {
        data::for_each_withdrawal_after(&mut *self.conn()?, after, each)
    }

    fn user_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<User>> {
        people::user_by_token_hash(&mut *self.conn()?, token_hash)
    }

    fn write_import(
        &mut self,
        batch: &ImportBatch,
        file: &ImportFile,
        summary: &serde_json::Value,
        commit: bool,
    ) -> StoreResult<ImportWritten> {
        let client = self.conn_mut()?;
        let mut tx = client
            .transaction()
            .map_err(pg("starting an import transaction"))?;
        let (mut written, file_id) = data::write_import(&mut tx, batch, file, summary)?;
        people::write_import(&mut tx, batch, file_id, &mut written)?;
        if commit {
            tx.commit().map_err(pg("committing an import"))?;
            analyze_after_bulk(client, written.stored);
        } else {
            tx.rollback().map_err(pg("rolling back a dry run"))?;
        }
        Ok(written)
    }

    fn write_matches(
        &mut self,
        matches: &[crate::ingest::reconcile::LikelyDuplicate],
        params: &serde_json::Value,
        found_at: &str,
    ) -> StoreResult<u64> {
        data::write_matches(self.conn_mut()?, matches, params, found_at)
    }

    fn assign_case(
        &mut self,
        case_ref: &crate::domain::CaseRef,
        user: &str,
        by: &str,
        at: &str,
    ) -> StoreResult<Option<bool>> {
        people::assign_case(self.conn_mut()?, case_ref, user, by, at)
    }

    fn erase(&mut self, people: &[PersonRef], links: &[u64]) -> StoreResult<Erased> {
        people::erase(self.conn_mut()?, people, links)
    }

    fn person(&self, id: &PersonRef) -> StoreResult<Option<crate::domain::Person>> {
        people::person(&mut *self.conn()?, id)
    }

    fn record_review(&mut self, review: &crate::safeguards::reviews::Review) -> StoreResult<u64> {
        people::record_review(self.conn_mut()?, review)
    }

    fn latest_reviews(
        &self,
        people: &[PersonRef],
    ) -> StoreResult<std::collections::BTreeMap<PersonRef, u64>> {
        people::latest_reviews(&mut *self.conn()?, people)
    }

    fn person_versions(&self, id: &PersonRef) -> StoreResult<Vec<PersonVersion>> {
        people::person_versions(&mut *self.conn()?, id)
    }

    fn links_of_person(&self, id: &PersonRef) -> StoreResult<Vec<crate::domain::Link>> {
        people::links_of_person(&mut *self.conn()?, id)
    }

    fn reviews_of(
        &self,
        id: &PersonRef,
    ) -> StoreResult<Vec<(u64, crate::safeguards::reviews::Review)>> {
        people::reviews_of(&mut *self.conn()?, id)
    }

    fn cases_of(&self, id: &PersonRef) -> StoreResult<Vec<crate::domain::Case>> {
        people::cases_of(&mut *self.conn()?, id)
    }

    fn meetings_of(&self, id: &PersonRef) -> StoreResult<Vec<crate::domain::MaceMeeting>> {
        people::meetings_of(&mut *self.conn()?, id)
    }
}

#[cfg(test)]
#[path = "../../../tests/api/pg_cluster.rs"]
pub(crate) mod test_cluster;

/// Errors from the PostgreSQL store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// `SAFERPLACES_DATABASE_URL` is not a libpq connection string or `postgres://` URL.
    #[error("SAFERPLACES_DATABASE_URL is not a valid connection string or postgres:// URL")]
    Config {
        /// The parser's error.
        #[source]
        source: postgres::Error,
    },
    /// The server could not be reached or refused the connection.
    #[error("cannot connect to PostgreSQL at {target}")]
    Connect {
        /// Host(s) and database, without user or password.
        target: String,
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },
    /// A query of the migrator's own (the version table, a lock) failed.
    #[error("PostgreSQL error while {context}{}", server_message(source))]
    Query {
        /// What the migrator was doing.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },
    /// A migration file failed on the server; its transaction was rolled back.
    #[error(
        "migration {file}{} failed: {sqlstate}: {message}{}",
        line.map_or_else(String::new, |l| format!(" line {l}")),
        detail.as_deref().map_or_else(String::new, |d| format!(" ({d})"))
    )]
    Migration {
        /// The migration's file, e.g. `migrations/postgres/0001_init.sql`.
        file: String,
        /// Line of the failing statement in the file, when the server names a position.
        line: Option<usize>,
        /// The server's SQLSTATE, e.g. `42P07`.
        sqlstate: String,
        /// The server's message.
        message: String,
        /// The server's detail or hint.
        detail: Option<String>,
    },
    /// An applied migration's file changed since it was applied: the schema the database holds
    /// is not the one this build describes. Nothing was applied.
    #[error(
        "migration {file} was applied with SHA-256 {applied} but this build's file has {embedded}: \
         an applied migration must never change. Restore the file, or add a new migration for \
         the change; nothing was applied"
    )]
    ChecksumMismatch {
        /// The migration's file.
        file: String,
        /// The checksum recorded in `schema_migrations`.
        applied: String,
        /// The checksum of the file in this build.
        embedded: String,
    },
    /// The database records a migration this build does not know (a newer build migrated it).
    #[error(
        "the database is at migration {version} ({name}), newer than this build's {known}; \
         run a build that knows it"
    )]
    TooNew {
        /// The unknown version.
        version: i32,
        /// Its recorded name.
        name: String,
        /// Newest version this build knows.
        known: i32,
    },
    /// The server has no PostGIS extension files, which the schema needs.
    #[error(
        "PostGIS is not installed on the PostgreSQL server ({server}): install PostgreSQL 15's \
         PostGIS 3 package on the server (Debian: postgresql-15-postgis-3), then migrate again"
    )]
    PostgisMissing {
        /// The server's version string.
        server: String,
    },
}

/// A `Result` with [`PgError`].
pub type PgResult<T> = Result<T, PgError>;

/// `: SQLSTATE message` of a server error, empty for a client-side one (its cause follows).
pub(crate) fn server_message(e: &postgres::Error) -> String {
    e.as_db_error().map_or_else(String::new, |d| {
        format!(": {}: {}", d.code().code(), d.message())
    })
}
