//! `saferplaces case assign`: assign a user to a case (audited).

use std::process::ExitCode;

use super::common::{DataDirArg, data_dir_settings, open_audit, open_store, out};
use crate::safeguards::access_cli;

#[derive(clap::Subcommand)]
pub enum CaseCommand {
    /// Assign a police analyst to a case (audited).
    Assign {
        #[command(flatten)]
        dir: DataDirArg,
        /// Case reference.
        #[arg(long = "case")]
        case_ref: String,
        /// User name.
        #[arg(long)]
        user: String,
    },
}

/// `saferplaces case assign`.
pub(crate) fn run(command: CaseCommand) -> anyhow::Result<ExitCode> {
    let CaseCommand::Assign {
        dir,
        case_ref,
        user,
    } = command;
    let s = data_dir_settings(dir)?;
    let case_ref: crate::domain::CaseRef = case_ref.parse()?;
    let mut store = open_store(&s)?;
    store.writable("assign a case")?;
    let audit = open_audit(&s)?;
    let new = access_cli::assign_case(&mut *store, &audit, &case_ref, &user)?;
    out(&if new {
        format!("assigned {user} to case {case_ref}")
    } else {
        format!("{user} was already assigned to case {case_ref}")
    })?;
    Ok(ExitCode::SUCCESS)
}
