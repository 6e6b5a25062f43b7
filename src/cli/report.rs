//! `saferplaces report ...`: aggregate reports (counts only).

use std::process::ExitCode;

use super::common::{DataDirArg, data_dir_settings, open_store, out};
use crate::ingest::reconcile::incidents_against_individuals;

#[derive(clap::Subcommand)]
pub enum ReportCommand {
    /// Incidents beside the distinct individuals linked to them, per area (counts only).
    IncidentsIndividuals {
        #[command(flatten)]
        dir: DataDirArg,
        #[arg(
            long,
            default_value = "locality_social_care",
            help = "boundary scheme, e.g. locality_police, locality_social_care, ward, lad"
        )]
        scheme: String,
        /// First day (YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// Last day (YYYY-MM-DD).
        #[arg(long)]
        to: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `saferplaces report ...`.
pub(crate) fn run(command: ReportCommand) -> anyhow::Result<ExitCode> {
    let ReportCommand::IncidentsIndividuals {
        dir,
        scheme,
        from,
        to,
        json,
    } = command;
    let s = data_dir_settings(dir)?;
    let store = open_store(&s)?;
    let data = store.load()?;
    let from = from.map_or(Ok(crate::domain::Day::MIN), |d| d.parse())?;
    let to = to.map_or(Ok(crate::domain::Day::MAX), |d| d.parse())?;
    let boundaries = crate::index::BoundaryIndex::new(data.boundaries.clone());
    anyhow::ensure!(
        boundaries.has_scheme(&scheme),
        "no boundaries of scheme {scheme} are stored"
    );
    let rows =
        incidents_against_individuals(&data.incidents, &data.links, &boundaries, &scheme, from, to);
    if json {
        out(&serde_json::to_string(&rows)?)?;
    } else {
        out(&format!(
            "{:<32} {:>10} {:>14} {:>12}",
            "area", "incidents", "with people", "individuals"
        ))?;
        for r in &rows {
            out(&format!(
                "{:<32} {:>10} {:>14} {:>12}",
                r.name, r.incidents, r.incidents_with_people, r.distinct_individuals
            ))?;
        }
        out("counts only: an individual linked to many incidents is counted once per area")?;
    }
    Ok(ExitCode::SUCCESS)
}
