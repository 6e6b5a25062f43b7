//! `saferplaces review record`: record a review of a person (S7, S18), erasing them on
//! `--outcome remove`. Audited.

use std::process::ExitCode;

use anyhow::Context;

use super::common::{DataDirArg, cli_event, data_dir_settings, open_audit, open_store, out};
use crate::domain::PersonRef;
use crate::jobs::erase_and_record;
use crate::safeguards::audit;
use crate::safeguards::reviews::{Review, ReviewOutcome, check_review, review_ref};

#[derive(clap::Subcommand)]
pub enum ReviewCommand {
    /// Record a review of a person (safeguards.md S7, S18): sets their next review date within
    /// the S18 limits, or with `--outcome remove` erases them at once. Audited.
    Record {
        #[command(flatten)]
        dir: DataDirArg,
        /// The person's reference (P...).
        #[arg(long)]
        person: String,
        /// The next review date (YYYY-MM-DD); at most 92 days ahead for anyone who may be a
        /// child, 183 for adults. Not given with `--outcome remove`.
        #[arg(long)]
        review_due: Option<String>,
        /// Why (at least 30 characters).
        #[arg(long)]
        rationale: String,
        /// retain, amend or remove.
        #[arg(long, default_value = "retain")]
        outcome: String,
        /// The named person who decided (never a service account).
        #[arg(long)]
        decided_by: String,
    },
}

/// `saferplaces review record`.
pub(crate) fn run(command: ReviewCommand) -> anyhow::Result<ExitCode> {
    let ReviewCommand::Record {
        dir,
        person,
        review_due,
        rationale,
        outcome,
        decided_by,
    } = command;
    let s = data_dir_settings(dir)?;
    let today = s.clock().today();
    let person: PersonRef = person
        .parse()
        .with_context(|| format!("--person {person:?}"))?;
    let review = Review {
        person: person.clone(),
        review_due: review_due
            .map(|d| d.parse().with_context(|| format!("--review-due {d:?}")))
            .transpose()?,
        rationale,
        outcome: outcome.parse()?,
        decided_by,
        decided_at: audit::rfc3339_millis(std::time::SystemTime::now()),
    };
    let mut store = open_store(&s)?;
    store.writable("record a review")?;
    let Some(stored) = store.person(&person)? else {
        anyhow::bail!("--person {person}: no such person is stored");
    };
    check_review(&stored, &review, today)?;
    let log = open_audit(&s)?;
    let id = store.record_review(&review)?;
    let decision = review_ref(id);
    let mut e = cli_event(audit::AuditEventType::Alteration, "reviewer").with_subject(
        &person,
        &stored.categories,
        stored.may_be_child_on(today),
    );
    e.actor_user_id = Some(review.decided_by.trim().to_owned());
    e.review_decision_ref = Some(decision.clone());
    e.record_count = 1;
    e.query = serde_json::json!({"command": "review record", "outcome": review.outcome.code(), "review_due": review.review_due.map(|d| d.to_string())});
    log.append(e)?;
    if review.outcome == ReviewOutcome::Remove {
        let report = erase_and_record(
            &mut *store,
            &log,
            std::slice::from_ref(&person),
            &[],
            &decision,
        )?;
        out(&format!(
            "recorded {decision} for {person}: remove; erased {} person and {} links",
            report.people, report.links
        ))?;
    } else {
        out(&format!(
            "recorded {decision} for {person}: {}; next review {}",
            review.outcome,
            review.review_due.map(|d| d.to_string()).unwrap_or_default()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
