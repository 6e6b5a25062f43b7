//! `saferplaces sar`: the subject access report on one person (S26), audited as a disclosure
//! before anything leaves.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::common::{DataDirArg, data_dir_settings, open_audit, open_store, out, sign_head};
use crate::config::Settings;
use crate::domain::PersonRef;
use crate::safeguards::access_cli;
use crate::safeguards::sharing::Agreements;

// No doc comment: the `sar` variant's is the help text.
#[derive(clap::Args)]
pub struct SarArgs {
    #[command(flatten)]
    pub dir: DataDirArg,
    /// The person's reference (P...).
    #[arg(long)]
    pub person: String,
    /// Print the report as one JSON document.
    #[arg(long)]
    pub json: bool,
    /// Write the report as a standalone HTML page to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// `saferplaces sar`.
pub(crate) fn run(args: SarArgs) -> anyhow::Result<ExitCode> {
    let s = data_dir_settings(args.dir)?;
    subject_access(&s, &args.person, args.json, args.html.as_deref())
}

/// `sar`: builds the report on `raw_person`, audits the disclosure (before anything leaves),
/// then writes the HTML page and prints the JSON document or a short summary.
fn subject_access(
    s: &Settings,
    raw_person: &str,
    json: bool,
    html: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    use crate::safeguards::{audit, sar};
    let person: PersonRef = raw_person
        .parse()
        .with_context(|| format!("--person {raw_person:?}"))?;
    let store =
        open_store(s).with_context(|| format!("opening the store in {}", s.data_dir.display()))?;
    let agreements = Agreements::load(&s.sharing_agreements)?;
    let log = open_audit(s)?;
    let produced_at = audit::rfc3339_millis(std::time::SystemTime::now());
    let ctx = sar::SarContext {
        agreements: &agreements,
        grace_days: s.retention_grace_days,
        produced_at: &produced_at,
    };
    let report = match sar::build(&*store, &log, &person, &ctx) {
        Ok(r) => r,
        Err(e @ sar::SarError::NoRecord(_)) => {
            log.append(sar::sar_no_record_event(&person, &access_cli::cli_actor()))
                .context("auditing the subject access request")?;
            sign_head(&log)?;
            let _ = writeln!(std::io::stderr(), "error: {e}");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    };
    let json_doc = sar::render_json(&report)?;
    let html_doc = html.map(|_| sar::render_html(&report));
    let mut documents: Vec<(&str, &[u8])> = Vec::new();
    if let Some(page) = &html_doc {
        documents.push(("html", page.as_bytes()));
    }
    if json || html_doc.is_none() {
        documents.push(("json", json_doc.as_bytes()));
    }
    log.append(sar::sar_audit_event(
        &report,
        &access_cli::cli_actor(),
        &documents,
    ))
    .context("auditing the subject access request")?;
    sign_head(&log)?;
    if let (Some(path), Some(page)) = (html, &html_doc) {
        std::fs::write(path, page).with_context(|| format!("writing {}", path.display()))?;
    }
    if json {
        out(&json_doc)?;
    } else {
        out(&format!(
            "subject access report for {person}: {}; {} links, {} reviews, {} cases, {} meetings, {} audit records naming them, {} recorded disclosures, {} organisations other than the controller read it{}",
            if report.held {
                "held"
            } else {
                "no record currently held"
            },
            report.links.len(),
            report.reviews.len(),
            report.cases.len(),
            report.meetings.len(),
            report.access.events,
            report.disclosures.len(),
            report.shared_with_other_organisations.len(),
            html.map_or_else(String::new, |p| format!(
                "; HTML written to {}",
                p.display()
            ))
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
