//! `saferplaces reconcile`: link likely duplicate incidents across sources; nothing is deleted.

use std::process::ExitCode;

use super::common::{DataDirArg, data_dir_settings, open_store, out};
use crate::ingest::reconcile::{ReconcileParams, likely_duplicates};
use crate::safeguards::audit;

// No doc comment: the `reconcile` variant's is the help text.
#[derive(clap::Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub dir: DataDirArg,
    /// Largest distance between two incidents, metres.
    #[arg(long, default_value_t = 100.0)]
    pub distance_m: f64,
    /// Largest number of days between them.
    #[arg(long, default_value_t = 1)]
    pub window_days: u16,
    /// End with one JSON summary line.
    #[arg(long)]
    pub json: bool,
}

/// `saferplaces reconcile`.
pub(crate) fn run(args: ReconcileArgs) -> anyhow::Result<ExitCode> {
    let ReconcileArgs {
        dir,
        distance_m,
        window_days,
        json,
    } = args;
    let s = data_dir_settings(dir)?;
    anyhow::ensure!(
        distance_m.is_finite() && distance_m > 0.0,
        "--distance-m must be a positive number"
    );
    let mut store = open_store(&s)?;
    store.writable("link likely duplicates")?;
    let data = store.load()?;
    let params = ReconcileParams {
        distance_m,
        window_days,
    };
    let pairs = likely_duplicates(&data.incidents, params);
    let found_at = audit::rfc3339_millis(std::time::SystemTime::now());
    let new = store.write_matches(&pairs, &serde_json::to_value(params)?, &found_at)?;
    let mut by_category: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for p in &pairs {
        *by_category.entry(p.category.slug()).or_default() += 1;
    }
    out(&format!(
        "{} likely duplicate pairs across sources ({} newly linked) within {distance_m} m and {window_days} days; linked, none deleted",
        pairs.len(),
        new
    ))?;
    for (cat, n) in &by_category {
        out(&format!("  {cat}: {n}"))?;
    }
    if json {
        out(&serde_json::to_string(
            &serde_json::json!({"pairs": pairs.len(), "new": new, "by_category": by_category, "params": params}),
        )?)?;
    }
    Ok(ExitCode::SUCCESS)
}
