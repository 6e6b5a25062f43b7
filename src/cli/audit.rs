//! `saferplaces audit ...`: verify the audit log, sign and print its head, print its alerts.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::common::{DataDirArg, data_dir_settings, open_audit, out, sign_head};
use crate::config::Settings;
use crate::safeguards::access_cli;
use crate::safeguards::audit;
use crate::safeguards::audit_checkpoint;

#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Verify the hash chain, every signed checkpoint, the witness and (with --head) a head
    /// kept elsewhere; exits 2 naming what is wrong: an edited, deleted or inserted record, a
    /// recomputed chain, a truncated, emptied or deleted log. With `SAFERPLACES_DATABASE_URL`
    /// set, verifies the log kept in that database (the table `audit.log`).
    Verify {
        #[command(flatten)]
        dir: DataDirArg,
        /// A checkpoint printed earlier by `audit head` and kept elsewhere: it must be in the log.
        #[arg(long)]
        head: Option<PathBuf>,
        /// The trusted public key, 64 hex digits (default: `<SAFERPLACES_AUDIT_KEY_FILE>.pub`).
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Sign what is not yet covered by a checkpoint, then print the latest signed checkpoint as
    /// JSON (`seq`, `count`, `head_hash`, `ts_utc`, `public_key`, `signature`) for auditors to keep
    /// elsewhere and pass to `audit verify --head`.
    Head {
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Print the anomaly alerts (budgets, break-glass reads); the read is logged.
    Alerts {
        #[command(flatten)]
        dir: DataDirArg,
        /// Most alerts to print.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
    },
}

/// `saferplaces audit ...`.
pub(crate) fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Verify {
            dir,
            head,
            public_key,
        } => {
            let s = data_dir_settings(dir)?;
            verify(&s, head.as_deref(), public_key.as_deref())
        }
        AuditCommand::Head { dir } => {
            let s = data_dir_settings(dir)?;
            let log = open_audit(&s)?;
            sign_head(&log)?;
            let head = log
                .last_checkpoint()
                .context("the audit log is empty: there is no head to sign")?;
            out(&serde_json::to_string(&head)?)?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Alerts { dir, limit, json } => {
            let s = data_dir_settings(dir)?;
            let audit = open_audit(&s)?;
            let alerts = access_cli::alerts(&audit, limit)?;
            if json {
                out(&serde_json::to_string(&alerts)?)?;
            } else {
                for a in &alerts {
                    out(&format!(
                        "#{} {} user={} rule={} count={} limit={} window={}s",
                        a["seq"],
                        a["ts_utc"].as_str().unwrap_or(""),
                        a["user"].as_str().unwrap_or("?"),
                        a["rule"].as_str().unwrap_or("?"),
                        a["count"],
                        a["limit"],
                        a["window_s"]
                    ))?;
                }
                out(&format!("{} alert(s)", alerts.len()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `audit verify`: the chain, every checkpoint against the trusted key, the witness and an
/// optional kept head. Exit code 2 names what is wrong.
fn verify(
    s: &Settings,
    head: Option<&std::path::Path>,
    public_key: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let path = s.audit_dir.join(audit::AUDIT_FILE_NAME);
    let trusted_key = match public_key {
        Some(hex) => Some(audit_checkpoint::parse_public_key(hex).map_err(anyhow::Error::msg)?),
        None => audit_checkpoint::trusted_public_key(&s.audit_key_file)
            .context("reading the audit public key")?,
    };
    let head = head
        .map(|p| -> anyhow::Result<audit_checkpoint::Checkpoint> {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a checkpoint from `audit head`", p.display()))
        })
        .transpose()?;
    let options = audit::VerifyOptions {
        trusted_key,
        witness_dir: Some(s.audit_witness_dir.clone()),
        head,
    };
    let result = match &s.database_url {
        Some(url) => audit::verify_database_with(url.expose(), &options),
        None => audit::verify_with(&path, &options),
    };
    match result {
        Ok(r) => {
            let signed = match &r.last_checkpoint {
                Some(c) => format!(
                    "{} signed checkpoints, the last at line {} made at {}",
                    r.checkpoints, c.seq, c.ts_utc
                ),
                None => "no signed checkpoint".to_owned(),
            };
            let witness = r.witness.as_ref().map_or_else(
                || "no witness".to_owned(),
                |w| format!("witness at line {} matches", w.seq),
            );
            out(&format!(
                "audit log intact: {} entries, {signed}, {} entries after it not yet signed, {witness}, last hash {}",
                r.entries, r.unsigned_entries, r.last_hash
            ))?;
            if !r.key_trusted && r.checkpoints > 0 {
                out(&format!(
                    "warning: no trusted public key ({} absent): signatures were checked against the key the checkpoints name",
                    audit_checkpoint::public_key_path(&s.audit_key_file).display()
                ))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            out(&failure.to_string())?;
            Ok(ExitCode::from(2))
        }
    }
}
