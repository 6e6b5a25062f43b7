//! PostgreSQL/PostGIS: the production store's schema and its migrations (issue 16).
//!
//! This release holds the groundwork only: [`migrate`] applies the versioned migrations of
//! `migrations/postgres/` to the database named by `SAFERPLACES_DATABASE_URL`. The `Store`
//! trait is not implemented for PostgreSQL yet, so no command serves from it (the CLI refuses
//! to open the SQLite store while the variable is set, rather than let data go elsewhere).

mod migrate;

pub use migrate::{MIGRATIONS, Migration, MigrationReport, migrate};

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
fn server_message(e: &postgres::Error) -> String {
    e.as_db_error().map_or_else(String::new, |d| {
        format!(": {}: {}", d.code().code(), d.message())
    })
}
