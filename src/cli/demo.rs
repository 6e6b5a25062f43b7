//! `saferplaces demo`: generate the synthetic West of England data into an empty store, issue
//! one demo token per role, then serve.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;

use super::common::AnyStore;
use super::common::{open_audit, out, settings, sign_head};
use super::serve::{ServeArgs, run_server};
use crate::config::Settings;
use crate::domain::Role;
use crate::ingest::west_of_england::load_area_set;
use crate::safeguards::audit;
use crate::safeguards::tokens::{self, new_token, token_hash};
use crate::store::{NewUser, SqliteStore, Store};
use crate::synthetic::{SyntheticParams, generate};

// No doc comment: the `demo` variant's is the help text.
#[derive(clap::Args, Clone)]
pub struct DemoArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Generate (if needed) and exit without serving or issuing tokens.
    #[arg(long)]
    pub no_serve: bool,
    /// Incidents to generate when the store is empty (benchmarks use 10,000,000).
    #[arg(long, env = "SAFERPLACES_DEMO_INCIDENTS", default_value_t = 60_000)]
    pub incidents: usize,
}

/// `saferplaces demo`.
pub(crate) fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let s = settings(args.serve.addr, args.serve.data_dir)?;
    crate::telemetry::init(s.log_format);
    run_server(s, Some(args.incidents), args.no_serve)?;
    Ok(ExitCode::SUCCESS)
}

/// Generates and stores the demo data when the store holds no incidents.
pub(crate) fn ensure_demo_data(
    settings: &Settings,
    store: &mut AnyStore,
    incidents: usize,
) -> anyhow::Result<()> {
    if store.counts()?.incidents > 0 {
        tracing::info!("store already holds data; not generating");
        return Ok(());
    }
    let started = Instant::now();
    let areas = load_area_set(&settings.geodata_dir)
        .with_context(|| format!("loading boundaries from {}", settings.geodata_dir.display()))?;
    let params = SyntheticParams {
        incidents,
        ..SyntheticParams::default()
    };
    let mut data = generate(&params, &areas).context("generating synthetic data")?;
    // Large benchmark sets go into columnar segments like an import (one B-tree insert per
    // incident would take minutes); the demo's 60,000 stay ordinary rows.
    let segmented = if incidents > 100_000 {
        std::mem::take(&mut data.incidents)
    } else {
        Vec::new()
    };
    // Segmented incidents are stored first: the rules refuse links to incidents that are not
    // stored or in the same batch.
    let mut segmented_stored = 0;
    if !segmented.is_empty() {
        let batch = crate::ingest::batch::ImportBatch {
            incidents: segmented
                .into_iter()
                .map(|incident| crate::ingest::batch::ImportedIncident {
                    incident,
                    line: 1,
                    attributes: crate::ingest::batch::SourceAttributes::default(),
                    outside_area: false,
                })
                .collect(),
            ..crate::ingest::batch::ImportBatch::default()
        };
        let file = crate::ingest::batch::ImportFile {
            name: format!("synthetic seed {:#x}", params.seed),
            sha256: "0".repeat(64),
            imported_at: audit::rfc3339_millis(std::time::SystemTime::now()),
            kind: "synthetic".to_owned(),
        };
        let summary = serde_json::json!({"read": incidents, "kind": "synthetic"});
        segmented_stored = store
            .write_import(&batch, &file, &summary, true)
            .context("storing synthetic incidents")?
            .stored;
    }
    // The synthetic records are as of the generator's end day; the rules check review periods
    // from that day.
    let mut written = store
        .write(&data, params.end_day)
        .context("storing synthetic data")?;
    written.incidents += segmented_stored;
    // A benchmark-sized store is not read back whole for the monitor; run it from the CLI.
    // The equality monitor's tables are the embedded store's only in this release.
    if let Some(sqlite) = store.sqlite() {
        demo_equality(settings, sqlite, &data, &params, segmented_stored == 0)?;
    }
    tracing::info!(
        seed = params.seed,
        elapsed_ms = started.elapsed().as_millis() as u64,
        ?written,
        "generated synthetic demo data"
    );
    out(&format!(
        "generated synthetic demo data (seed {:#x}): {} incidents, {} places, {} schools, {} routes, {} stops, {} services, {} people, {} links, {} cases, {} MACE meetings, {} boundaries",
        params.seed,
        written.incidents,
        written.places,
        written.schools,
        written.routes,
        written.stops,
        written.services,
        written.people,
        written.links,
        written.cases,
        written.meetings,
        written.boundaries
    ))
}

/// Issues a fresh token for one demo user per assignable role (replacing earlier demo tokens)
/// and prints them. Demo MACE members sit on both panels.
pub(crate) fn issue_demo_tokens(store: &mut dyn Store) -> anyhow::Result<()> {
    out("demo tokens (synthetic data only; paste one into the map's token box):")?;
    for role in Role::ALL.iter().copied().filter(|r| r.assignable()) {
        let name = format!("demo-{}", role.code());
        let token = new_token()?;
        let hash = token_hash(&token);
        let expires = tokens::expires_at(tokens::unix_now_s(), tokens::DEFAULT_TOKEN_LIFETIME);
        if !store.set_user_token(&name, &hash, expires)? {
            let panels = if role == Role::MaceMember {
                vec![1, 2]
            } else {
                vec![]
            };
            // Demo users belong to the synthetic organisations whose data the sharing
            // agreements let them read (geodata/sharing_agreements.json).
            let org = match role {
                Role::MaceMember => "synthetic-social-care",
                Role::PoliceAnalyst => "synthetic-police",
                _ => "synthetic-community-safety",
            };
            store.add_user(&NewUser {
                name: name.clone(),
                role,
                org: Some(org.to_owned()),
                panels,
                token_hash: hash,
                token_expires_at: expires,
            })?;
        }
        out(&format!("  {:<15} {token}", role.code()))?;
    }
    Ok(())
}

/// Stores the synthetic equality attributes and resident baselines, by authority and MSOA
/// (their own random streams), and runs the monitor for the demo's last full month, so `GET /api/v1/equality/latest` has
/// a result.
fn demo_equality(
    settings: &Settings,
    store: &mut SqliteStore,
    data: &crate::domain::Dataset,
    params: &SyntheticParams,
    run_monitor: bool,
) -> anyhow::Result<()> {
    use crate::safeguards::equality::cli;
    use crate::synthetic::equality as synth;
    use crate::synthetic::msoa;
    let authorities = synth::authorities(&data.boundaries);
    // Real MSOA codes (geodata/msoa/msoa11.csv) with synthetic residents and deciles.
    let codes = msoa::load(&settings.geodata_dir).context("loading the MSOA code list")?;
    let msoas = msoa::synthetic_msoas(params.seed, &authorities, &codes);
    store.replace_equality_baselines(
        &synth::resident_baselines(&authorities, &msoas),
        "synthetic (not Census figures)",
    )?;
    let mut people = synth::people_equality(params.seed, &data.people, &authorities);
    msoa::assign_msoas(params.seed, &mut people, &msoas);
    store.write_person_equality(&people)?;
    if !run_monitor {
        return Ok(());
    }
    let log = open_audit(settings)?;
    let month = cli::last_full_month(params.end_day.plus_days(1));
    let report = cli::run_month(store, &log, month, "system:demo")?;
    sign_head(&log)?;
    out(&format!(
        "equality monitor {}: {} comparisons, {} flagged, {} alert(s) opened",
        report.month,
        report.comparisons.len(),
        report.flagged,
        report.alerts_opened.len()
    ))
}
