//! `saferplaces retention sweep`: erase people and links past review plus the grace period.

use std::process::ExitCode;

use super::common::{DataDirArg, data_dir_settings, open_audit, open_store, out, sign_head};
use crate::jobs::retention_sweep;

#[derive(clap::Subcommand)]
pub enum RetentionCommand {
    /// Erase people and links past review plus the grace period, logging each erasure by id.
    Sweep {
        #[command(flatten)]
        dir: DataDirArg,
        /// Sweep as of this day (YYYY-MM-DD) instead of today.
        #[arg(long)]
        today: Option<String>,
    },
}

/// `saferplaces retention sweep`.
pub(crate) fn run(command: RetentionCommand) -> anyhow::Result<ExitCode> {
    let RetentionCommand::Sweep { dir, today } = command;
    let s = data_dir_settings(dir)?;
    let today = match today {
        Some(t) => t.parse()?,
        None => s.clock().today(),
    };
    let mut store = open_store(&s)?;
    store.writable("run the retention sweep")?;
    let audit = open_audit(&s)?;
    let report = retention_sweep(&mut *store, &audit, today, s.retention_grace_days)?;
    sign_head(&audit)?;
    out(&format!(
        "retention sweep as of {today} (grace {} days): erased {} people and {} links",
        s.retention_grace_days, report.people, report.links
    ))?;
    Ok(ExitCode::SUCCESS)
}
