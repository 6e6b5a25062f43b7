//! What every subcommand shares: settings, stdout lines, the audit log, CLI audit events.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use crate::config::{OsEnv, Overrides, Settings};
use crate::safeguards::audit::{self, AuditLog};
use crate::safeguards::audit_checkpoint;
use crate::store::{PgStore, SqliteStore, Store, StoreError};

/// The `--data-dir` option of every command that opens the store.
#[derive(clap::Args, Clone, Default)]
pub struct DataDirArg {
    /// Directory of the embedded store and audit log.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Settings from the environment, with the command's flags applied last.
pub(crate) fn settings(
    addr: Option<String>,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<Settings> {
    Ok(Settings::load(&OsEnv, &Overrides { addr, data_dir })?)
}

/// Settings of a command whose only flag is `--data-dir`.
pub(crate) fn data_dir_settings(dir: DataDirArg) -> anyhow::Result<Settings> {
    settings(None, dir.data_dir)
}

/// One line on stdout, flushed (a closed pipe is an error, not a panic).
pub(crate) fn out(line: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}

/// Opens the audit log with signed checkpoints (the key is generated beside the data
/// directory when absent). Any number of processes may hold it open at once. With
/// `SAFERPLACES_DATABASE_URL` set, the log is the table `audit.log` of that database (migrated
/// first), one trail for every server on it (issue 16); otherwise the file in the audit
/// directory.
pub(crate) fn open_audit(settings: &Settings) -> anyhow::Result<AuditLog> {
    let dir = &settings.audit_dir;
    let key = audit_checkpoint::load_or_create_key(&settings.audit_key_file)
        .context("loading the audit signing key")?;
    let options = audit::CheckpointOptions {
        key,
        witness_dir: settings.audit_witness_dir.clone(),
        every: u64::from(settings.audit_checkpoint_every),
        interval: std::time::Duration::from_secs(u64::from(settings.audit_checkpoint_secs)),
    };
    if let Some(url) = &settings.database_url {
        crate::store::postgres::migrate(url.expose())
            .context("migrating the database named by SAFERPLACES_DATABASE_URL")?;
        return AuditLog::open_database(url.expose(), Some(options))
            .context("opening the audit log in the database named by SAFERPLACES_DATABASE_URL");
    }
    AuditLog::open_with(dir, Some(options))
        .with_context(|| format!("opening the audit log in {}", dir.display()))
}

/// Signs the audit log's head (after a command's last record).
pub(crate) fn sign_head(log: &AuditLog) -> anyhow::Result<()> {
    log.checkpoint().context("signing the audit log's head")?;
    Ok(())
}

/// An audit event written by a CLI command in `role`.
pub(crate) fn cli_event(event_type: audit::AuditEventType, role: &str) -> audit::AuditEvent {
    let mut e = audit::AuditEvent::new(event_type, role, audit::Decision::Allow);
    e.client = Some("cli".to_owned());
    crate::safeguards::policy::POLICY_VERSION.clone_into(&mut e.policy_version);
    e
}

/// Unix seconds as RFC 3339 UTC.
pub(crate) fn unix_rfc3339(seconds: u64) -> String {
    audit::rfc3339_millis(std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds))
}

/// Refuses to go on when `SAFERPLACES_DATABASE_URL` is set, for the commands that work on the
/// embedded SQLite store's file only (`check`, the equality monitor): rather than open the
/// SQLite store and let the operator believe they worked on PostgreSQL.
pub(crate) fn sqlite_only(settings: &Settings) -> anyhow::Result<()> {
    anyhow::ensure!(
        settings.database_url.is_none(),
        "SAFERPLACES_DATABASE_URL is set, but this command works on the embedded SQLite store \
         only in this release. Unset SAFERPLACES_DATABASE_URL to use the embedded SQLite store \
         in {}; nothing was opened or changed",
        settings.data_dir.display()
    );
    Ok(())
}

/// The store a command works on: PostgreSQL when `SAFERPLACES_DATABASE_URL` is set (issue 16),
/// else the embedded SQLite store in the data directory. Dereferences to the [`Store`] trait,
/// which is all most commands need.
pub(crate) enum AnyStore {
    /// The embedded store.
    Sqlite(SqliteStore),
    /// PostgreSQL/PostGIS.
    Postgres(PgStore),
}

impl AnyStore {
    /// The embedded store, for what only it has (equality tables, structure checks).
    pub(crate) fn sqlite(&mut self) -> Option<&mut SqliteStore> {
        match self {
            Self::Sqlite(s) => Some(s),
            Self::Postgres(_) => None,
        }
    }

    /// Why the store refuses writes, if it does (a read-only SQLite data directory).
    pub(crate) fn read_only_reason(&self) -> Option<&str> {
        match self {
            Self::Sqlite(s) => s.read_only_reason(),
            Self::Postgres(_) => None,
        }
    }

    /// Refuses `operation` before any transaction when the store is read-only
    /// ([`SqliteStore::writable`]); PostgreSQL's own permissions refuse writes there.
    pub(crate) fn writable(&self, operation: &'static str) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(s) => s.writable(operation),
            Self::Postgres(_) => Ok(()),
        }
    }

    /// The store as a boxed trait object, for the server's background jobs.
    pub(crate) fn into_box(self) -> Box<dyn Store> {
        match self {
            Self::Sqlite(s) => Box::new(s),
            Self::Postgres(s) => Box::new(s),
        }
    }
}

impl std::ops::Deref for AnyStore {
    type Target = dyn Store;
    fn deref(&self) -> &Self::Target {
        match self {
            Self::Sqlite(s) => s,
            Self::Postgres(s) => s,
        }
    }
}

impl std::ops::DerefMut for AnyStore {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            Self::Sqlite(s) => s,
            Self::Postgres(s) => s,
        }
    }
}

/// Opens the store the settings name ([`AnyStore`]): PostgreSQL, migrated first, when
/// `SAFERPLACES_DATABASE_URL` is set; the embedded store in the data directory otherwise.
pub(crate) fn open_store(settings: &Settings) -> anyhow::Result<AnyStore> {
    Ok(match &settings.database_url {
        Some(url) => AnyStore::Postgres(PgStore::connect(url.expose())?),
        None => AnyStore::Sqlite(SqliteStore::open(&settings.data_dir)?),
    })
}

/// Opens the embedded SQLite store in the data directory, for the commands that only work on
/// it; refused while `SAFERPLACES_DATABASE_URL` is set ([`sqlite_only`]).
pub(crate) fn open_sqlite_store(settings: &Settings) -> anyhow::Result<SqliteStore> {
    sqlite_only(settings)?;
    Ok(SqliteStore::open(&settings.data_dir)?)
}
