//! Storage behind one trait: the embedded SQLite store (default) now, PostgreSQL/PostGIS next.
//!
//! The trait is synchronous, like the rest of the core (style.md rule 2): the server calls it
//! from `spawn_blocking`. Every write is one transaction: a batch is stored whole or not at
//! all. Records are keyed by their ids, so writing the same record twice stores it once.

mod sqlite;

pub use sqlite::SqliteStore;

use crate::domain::Dataset;

/// Errors from a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database reported an error.
    #[error("database error while {context}")]
    Database {
        /// What the store was doing.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The data directory could not be created or read.
    #[error("cannot use data directory {path}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The database holds a schema newer than this build understands.
    #[error("database schema version {found} is newer than this build's {supported}")]
    SchemaTooNew {
        /// Version found in the database.
        found: u32,
        /// Newest version this build knows.
        supported: u32,
    },
    /// A stored row could not be turned back into a domain value.
    #[error("corrupt {table} row {row}: {reason}")]
    Corrupt {
        /// Table.
        table: &'static str,
        /// Row key.
        row: String,
        /// What was wrong.
        reason: String,
    },
}

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// Number of stored records per kind (`saferplaces stats --json`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct KindCounts {
    /// Incidents.
    pub incidents: u64,
    /// Places of concern.
    pub places: u64,
    /// Schools.
    pub schools: u64,
    /// Transport stops.
    pub stops: u64,
    /// Transport routes.
    pub routes: u64,
    /// Youth services.
    pub services: u64,
    /// Boundaries, all schemes.
    pub boundaries: u64,
    /// People.
    pub people: u64,
    /// Links.
    pub links: u64,
}

/// A place where saferplaces keeps its records.
pub trait Store: Send {
    /// The schema version the store is at.
    fn schema_version(&self) -> StoreResult<u32>;

    /// Writes every record of `data` in one transaction. Records whose id is already stored
    /// are left as they are (so re-writing a batch stores nothing new). Returns how many
    /// records of each kind were newly stored.
    fn write(&mut self, data: &Dataset) -> StoreResult<KindCounts>;

    /// Reads every stored record.
    fn load(&self) -> StoreResult<Dataset>;

    /// Counts stored records per kind.
    fn counts(&self) -> StoreResult<KindCounts>;
}
