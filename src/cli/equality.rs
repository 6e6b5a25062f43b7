//! `saferplaces equality ...`: the S22 disproportionality monitor, its alerts, the resident
//! baselines and the equality attributes of stored people.

use std::path::PathBuf;
use std::process::ExitCode;

use super::common::{
    DataDirArg, cli_event, data_dir_settings, open_audit, open_sqlite_store, out, sign_head,
};
use crate::safeguards::access_cli;
use crate::safeguards::audit;

#[derive(clap::Subcommand)]
pub enum EqualityCommand {
    /// Compute the Relative Rate Index and its 95 % interval for one month (and the month
    /// before, when it has no result yet), store them and open an alert for every comparison
    /// flagged in both months. Audited.
    Run {
        #[command(flatten)]
        dir: DataDirArg,
        /// The month (YYYY-MM).
        #[arg(long)]
        month: String,
        /// Print the report as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Close an alert with an explain-or-reform record (at least 30 characters). Audited;
    /// a refusal is audited too.
    Close {
        #[command(flatten)]
        dir: DataDirArg,
        /// The alert's id.
        #[arg(long)]
        alert: u64,
        /// explain or reform.
        #[arg(long)]
        outcome: String,
        /// What the board found or changed.
        #[arg(long)]
        record: String,
    },
    /// Print every alert as JSON.
    Alerts {
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Replace the resident baselines with a Census 2021 table (docs/formats.md "Resident
    /// baselines"); a bad line is named by file, line and field and nothing is loaded.
    Baselines {
        #[command(flatten)]
        dir: DataDirArg,
        /// The CSV file.
        file: PathBuf,
    },
    /// Store (or replace) the equality attributes of stored people from a CSV file
    /// (docs/formats.md "Equality attributes"). One transaction: a bad line or a person who
    /// is not stored is named by file, line and field and nothing is stored. Audited with
    /// counts only.
    ImportAttributes {
        #[command(flatten)]
        dir: DataDirArg,
        /// The CSV file.
        file: PathBuf,
    },
}

/// `saferplaces equality ...`.
pub(crate) fn run(command: EqualityCommand) -> anyhow::Result<ExitCode> {
    use crate::safeguards::equality::{Month, baselines, cli};
    match command {
        EqualityCommand::Run { dir, month, json } => {
            let s = data_dir_settings(dir)?;
            let month: Month = month.parse()?;
            let mut store = open_sqlite_store(&s)?;
            store.writable("run the equality monitor")?;
            let log = open_audit(&s)?;
            let report = cli::run_month(&mut store, &log, month, &access_cli::cli_actor())?;
            sign_head(&log)?;
            if json {
                out(&serde_json::to_string(&report)?)?;
            } else {
                out(&format!(
                    "equality monitor {}: {} comparisons, {} flagged, {} alert(s) opened {:?}{}",
                    report.month,
                    report.comparisons.len(),
                    report.flagged,
                    report.alerts_opened.len(),
                    report.alerts_opened,
                    if report.computed_previous {
                        " (the previous month was computed too)"
                    } else {
                        ""
                    }
                ))?;
            }
        }
        EqualityCommand::Close {
            dir,
            alert,
            outcome,
            record,
        } => {
            let s = data_dir_settings(dir)?;
            let mut store = open_sqlite_store(&s)?;
            let log = open_audit(&s)?;
            let result = cli::close_alert(
                &mut store,
                &log,
                alert,
                &outcome,
                &record,
                &access_cli::cli_actor(),
            );
            sign_head(&log)?;
            let closed = result?;
            out(&format!(
                "closed equality alert {} ({} {} {} against {}) with outcome {}",
                closed.id,
                closed.population,
                closed.dimension,
                closed.group,
                closed.reference,
                closed.outcome.unwrap_or_default()
            ))?;
        }
        EqualityCommand::Alerts { dir } => {
            let s = data_dir_settings(dir)?;
            let store = open_sqlite_store(&s)?;
            out(&serde_json::to_string(&store.equality_alerts()?)?)?;
        }
        EqualityCommand::Baselines { dir, file } => {
            let s = data_dir_settings(dir)?;
            let rows = baselines::load(&file)?;
            let mut store = open_sqlite_store(&s)?;
            let log = open_audit(&s)?;
            let n = store.replace_equality_baselines(&rows, &file.display().to_string())?;
            let mut e = cli_event(audit::AuditEventType::Collection, "equality_monitor");
            e.query = serde_json::json!({"command": "equality baselines", "file": file.display().to_string(), "rows": n});
            e.record_count = n;
            log.append(e)?;
            out(&format!(
                "loaded {n} resident baseline rows from {}",
                file.display()
            ))?;
        }
        EqualityCommand::ImportAttributes { dir, file } => {
            let s = data_dir_settings(dir)?;
            let mut store = open_sqlite_store(&s)?;
            let log = open_audit(&s)?;
            let result = crate::safeguards::equality::attributes::import(
                &mut store,
                &log,
                &file,
                &access_cli::cli_actor(),
            );
            sign_head(&log)?;
            let r = result?;
            out(&format!(
                "imported the equality attributes of {} people from {} ({} with a deprivation decile, {} with an authority, {} with an MSOA)",
                r.people, r.file, r.with_decile, r.with_authority, r.with_msoa
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
