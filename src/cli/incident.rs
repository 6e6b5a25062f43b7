//! `saferplaces incident withdraw|amend`: withdraw incidents recorded in error (or withdrawn
//! by their source agency) and correct an incident's category, location or date. Both keep
//! the stored record and write a withdrawal beside it ([`Store::withdraw_incidents`],
//! [`Store::amend_incident`]); both are audited.

use std::process::ExitCode;

use anyhow::Context;

use super::common::{
    AnyStore, DataDirArg, cli_event, data_dir_settings, open_audit, open_store, out,
};
use crate::domain::{Category, Day, IncidentId, LonLat};
use crate::safeguards::audit;
use crate::store::{IncidentCorrection, WithdrawalNote};

#[derive(clap::Subcommand)]
pub enum IncidentCommand {
    /// Withdraw incidents recorded in error or withdrawn by their source agency: they are no
    /// longer served, counted or exported; the stored records are kept. Audited.
    Withdraw {
        #[command(flatten)]
        dir: DataDirArg,
        /// The incident's id (repeatable; all are withdrawn, or none).
        #[arg(long = "id", required = true)]
        ids: Vec<u64>,
        /// Why (at least 10 characters).
        #[arg(long)]
        reason: String,
        /// Who decided (default: the login name, $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Correct an incident's category, location or date: the corrected incident is stored
    /// under a new id with the same source, and the old one is withdrawn naming it. Audited.
    Amend {
        #[command(flatten)]
        dir: DataDirArg,
        /// The incident's id.
        #[arg(long)]
        id: u64,
        #[arg(long, help = "The corrected category (its slug, e.g. knife_crime)")]
        category: Option<String>,
        /// The corrected longitude (with --lat).
        #[arg(long, requires = "lat", allow_negative_numbers = true)]
        lon: Option<f64>,
        /// The corrected latitude (with --lon).
        #[arg(long, requires = "lon", allow_negative_numbers = true)]
        lat: Option<f64>,
        /// The corrected date (YYYY-MM-DD).
        #[arg(long)]
        date: Option<String>,
        /// Why (at least 10 characters).
        #[arg(long)]
        reason: String,
        /// Who decided (default: the login name, $USER).
        #[arg(long)]
        by: Option<String>,
    },
}

/// `saferplaces incident ...`.
pub(crate) fn run(command: IncidentCommand) -> anyhow::Result<ExitCode> {
    match command {
        IncidentCommand::Withdraw {
            dir,
            ids,
            reason,
            by,
        } => withdraw(dir, &ids, reason, by),
        IncidentCommand::Amend {
            dir,
            id,
            category,
            lon,
            lat,
            date,
            reason,
            by,
        } => {
            let correction = IncidentCorrection {
                category: category
                    .map(|c| {
                        c.parse::<Category>()
                            .with_context(|| format!("--category {c:?}"))
                    })
                    .transpose()?,
                location: lon
                    .zip(lat)
                    .map(|(lon, lat)| {
                        LonLat::new(lon, lat).with_context(|| format!("--lon {lon} --lat {lat}"))
                    })
                    .transpose()?,
                day: date
                    .map(|d| d.parse::<Day>().with_context(|| format!("--date {d:?}")))
                    .transpose()?,
            };
            anyhow::ensure!(
                correction != IncidentCorrection::default(),
                "nothing to amend: give --category, --lon with --lat, or --date"
            );
            amend(dir, id, &correction, reason, by)
        }
    }
}

/// Who decided: `--by`, else the login name.
fn actor(by: Option<String>) -> anyhow::Result<String> {
    by.or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|a| !a.trim().is_empty())
        .map(|a| a.trim().to_owned())
        .context("--by: name who decided (no login name is set in USER or LOGNAME)")
}

/// The note of a withdrawal or amendment, the store opened for it and the audit log. The
/// reason stays in the store with the withdrawal, which the audit record names by number:
/// like a review's rationale, free text is kept out of the audit log. The log is opened
/// before the write, so a log that cannot be written refuses it.
fn open_for(
    dir: DataDirArg,
    reason: String,
    by: Option<String>,
    operation: &'static str,
) -> anyhow::Result<(WithdrawalNote, AnyStore, audit::AuditLog)> {
    let s = data_dir_settings(dir)?;
    let note = WithdrawalNote {
        reason,
        actor: actor(by)?,
        at: audit::rfc3339_millis(std::time::SystemTime::now()),
    };
    let store = open_store(&s)?;
    store.writable(operation)?;
    let log = open_audit(&s)?;
    Ok((note, store, log))
}

/// `saferplaces incident withdraw`.
fn withdraw(
    dir: DataDirArg,
    ids: &[u64],
    reason: String,
    by: Option<String>,
) -> anyhow::Result<ExitCode> {
    let (note, mut store, log) = open_for(dir, reason, by, "withdraw incidents")?;
    let incident_ids: Vec<IncidentId> = ids.iter().copied().map(IncidentId::new).collect();
    let seqs = store.withdraw_incidents(&incident_ids, &note)?;
    let mut e = cli_event(audit::AuditEventType::Alteration, "admin");
    e.actor_user_id = Some(note.actor.clone());
    e.record_count = ids.len() as u64;
    e.query = serde_json::json!({"command": "incident withdraw", "ids": ids, "withdrawals": seqs});
    log.append(e)
        .context("the incidents are withdrawn, but the audit record could not be written")?;
    for (id, seq) in ids.iter().zip(&seqs) {
        out(&format!("withdrew incident {id} (withdrawal {seq})"))?;
    }
    out(&format!(
        "{} incident(s) withdrawn by {}; no longer served, counted or exported; the stored records are kept",
        ids.len(),
        note.actor
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `saferplaces incident amend`.
fn amend(
    dir: DataDirArg,
    id: u64,
    correction: &IncidentCorrection,
    reason: String,
    by: Option<String>,
) -> anyhow::Result<ExitCode> {
    let (note, mut store, log) = open_for(dir, reason, by, "amend an incident")?;
    let amended = store.amend_incident(IncidentId::new(id), correction, &note)?;
    let new_id = amended.incident.id.get();
    let mut e = cli_event(audit::AuditEventType::Alteration, "admin");
    e.actor_user_id = Some(note.actor.clone());
    e.record_count = 1;
    e.query = serde_json::json!({
        "command": "incident amend", "id": id, "new_id": new_id,
        "fields": amended.fields, "withdrawal": amended.seq,
    });
    log.append(e)
        .context("the incident is amended, but the audit record could not be written")?;
    out(&format!(
        "amended incident {id} as incident {new_id} ({}); incident {id} is withdrawn (withdrawal {}), replaced by {new_id}",
        amended.fields.join(", "),
        amended.seq
    ))?;
    Ok(ExitCode::SUCCESS)
}
