//! `saferplaces stats`: the number of stored records per kind.

use std::process::ExitCode;

use anyhow::Context;

use super::common::{DataDirArg, data_dir_settings, open_store, out};

// No doc comment: the `stats` variant's is the help text.
#[derive(clap::Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub dir: DataDirArg,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `saferplaces stats`.
pub(crate) fn run(args: StatsArgs) -> anyhow::Result<ExitCode> {
    let s = data_dir_settings(args.dir)?;
    let mut store = open_store(&s)?;
    // A damaged store is refused, not counted (issue 14, point 4).
    if let Some(sqlite) = store.sqlite() {
        sqlite
            .verify_at_start()
            .with_context(|| format!("checking the store {}", sqlite.file().display()))?;
    }
    let counts = store.counts()?;
    out(&if args.json {
        serde_json::to_string(&counts)?
    } else {
        format!("{counts:#?}")
    })?;
    Ok(ExitCode::SUCCESS)
}
