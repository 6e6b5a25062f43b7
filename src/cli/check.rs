//! `saferplaces check`: check the store for damage (exit status 2 when damaged).

use std::process::ExitCode;

use super::common::{DataDirArg, data_dir_settings, open_sqlite_store, out, sqlite_only};
use crate::store::SqliteStore;

// No doc comment: the `check` variant's is the help text.
#[derive(clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub dir: DataDirArg,
    /// Run `PRAGMA integrity_check` (slower; also checks indexes) instead of `quick_check`.
    #[arg(long)]
    pub full: bool,
}

/// `saferplaces check`.
pub(crate) fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let s = data_dir_settings(args.dir)?;
    sqlite_only(&s)?;
    // Checking must not create an empty store and call it sound.
    let file = s.data_dir.join(SqliteStore::FILE_NAME);
    anyhow::ensure!(
        file.is_file(),
        "no store to check: {} does not exist",
        file.display()
    );
    let report = open_sqlite_store(&s)?.check(args.full)?;
    for line in report.lines() {
        out(&line)?;
    }
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
