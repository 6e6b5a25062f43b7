//! What every subcommand shares: settings, stdout lines, the audit log, CLI audit events.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use crate::config::{OsEnv, Overrides, Settings};
use crate::safeguards::audit::{self, AuditLog};
use crate::safeguards::audit_checkpoint;
use crate::store::SqliteStore;

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
/// directory when absent). Any number of processes may hold it open at once.
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

/// Refuses to go on when `SAFERPLACES_DATABASE_URL` is set: this release has PostgreSQL's
/// schema and migrations only, and a command that opened the SQLite store instead would let
/// the operator believe the data went to PostgreSQL (issue 16).
pub(crate) fn sqlite_only(settings: &Settings) -> anyhow::Result<()> {
    anyhow::ensure!(
        settings.database_url.is_none(),
        "SAFERPLACES_DATABASE_URL is set, but this release does not serve or store data in \
         PostgreSQL yet: it has PostgreSQL's schema and migrations only (`saferplaces migrate`). \
         Unset SAFERPLACES_DATABASE_URL to use the embedded SQLite store in {}; nothing was \
         opened or changed",
        settings.data_dir.display()
    );
    Ok(())
}

/// Opens the embedded SQLite store in the data directory, the only store this release serves
/// from; refused while `SAFERPLACES_DATABASE_URL` is set ([`sqlite_only`]).
pub(crate) fn open_store(settings: &Settings) -> anyhow::Result<SqliteStore> {
    sqlite_only(settings)?;
    Ok(SqliteStore::open(&settings.data_dir)?)
}
