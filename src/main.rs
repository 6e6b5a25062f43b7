//! The `saferplaces` binary: parse the CLI, load settings, start telemetry, run the command.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};

use saferplaces::api::AppState;
use saferplaces::config::{OsEnv, Overrides, Settings};
use saferplaces::index::Snapshot;
use saferplaces::ingest::west_of_england::load_area_set;
use saferplaces::startup::Application;
use saferplaces::store::{SqliteStore, Store};
use saferplaces::synthetic::{SyntheticParams, generate};

#[derive(Parser)]
#[command(
    name = "saferplaces",
    version,
    about = "Contextual-safeguarding spatial intelligence: places, not children"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct ServeArgs {
    /// Directory of the embedded store (default `$SAFERPLACES_DATA_DIR` or `./data`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address to listen on (default `$SAFERPLACES_ADDR` or `127.0.0.1:8080`; port 0 picks one).
    #[arg(long)]
    addr: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and the web app from the store in the data directory.
    Serve(ServeArgs),
    /// Generate the synthetic West of England demo data if the store is empty, then serve it.
    Demo {
        #[command(flatten)]
        serve: ServeArgs,
        /// Generate (if needed) and exit without serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Print the number of stored records per kind.
    Stats {
        /// Directory of the embedded store.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

fn settings(args: &ServeArgs) -> anyhow::Result<Settings> {
    let overrides = Overrides {
        addr: args.addr.clone(),
        data_dir: args.data_dir.clone(),
    };
    Ok(Settings::load(&OsEnv, &overrides)?)
}

fn out(line: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}

/// Generates and stores the demo data when the store holds no incidents.
fn ensure_demo_data(settings: &Settings, store: &mut SqliteStore) -> anyhow::Result<()> {
    if store.counts()?.incidents > 0 {
        tracing::info!("store already holds data; not generating");
        return Ok(());
    }
    let started = Instant::now();
    let areas = load_area_set(&settings.geodata_dir)
        .with_context(|| format!("loading boundaries from {}", settings.geodata_dir.display()))?;
    let params = SyntheticParams::default();
    let data = generate(&params, &areas).context("generating synthetic data")?;
    let written = store.write(&data).context("storing synthetic data")?;
    tracing::info!(
        seed = params.seed,
        elapsed_ms = started.elapsed().as_millis() as u64,
        ?written,
        "generated synthetic demo data"
    );
    out(&format!(
        "generated synthetic demo data (seed {:#x}): {} incidents, {} places, {} schools, {} routes, {} stops, {} services, {} people, {} links, {} boundaries",
        params.seed,
        written.incidents,
        written.places,
        written.schools,
        written.routes,
        written.stops,
        written.services,
        written.people,
        written.links,
        written.boundaries
    ))
}

fn load_snapshot(store: &SqliteStore) -> anyhow::Result<Snapshot> {
    let started = Instant::now();
    let data = store.load().context("loading the store")?;
    let loaded_ms = started.elapsed().as_millis() as u64;
    let snapshot = Snapshot::build(data, 1);
    tracing::info!(
        incidents = snapshot.incidents.len(),
        unlocated = snapshot.incidents.unlocated(),
        index_bytes = snapshot.incidents.heap_bytes(),
        loaded_ms,
        total_ms = started.elapsed().as_millis() as u64,
        "indexes built"
    );
    Ok(snapshot)
}

async fn serve(settings: Settings, snapshot: Snapshot) -> anyhow::Result<()> {
    if !settings.web_dir.join("index.html").exists() {
        tracing::warn!(web_dir = %settings.web_dir.display(), "web app not built; run `make web` (the API still works)");
    }
    let app = Application::bind(
        settings.addr,
        AppState::new(snapshot),
        settings.web_dir.clone(),
    )
    .await
    .with_context(|| format!("binding {}", settings.addr))?;
    let addr = app.local_addr()?;
    tracing::info!(%addr, data_dir = %settings.data_dir.display(), "serving");
    out(&format!("saferplaces listening on http://{addr}"))?;
    app.run_until_stopped().await?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (args, demo, no_serve) = match &cli.command {
        Command::Serve(a) => (a.clone(), false, false),
        Command::Demo { serve, no_serve } => (serve.clone(), true, *no_serve),
        Command::Stats { data_dir, json } => {
            let s = settings(&ServeArgs {
                data_dir: data_dir.clone(),
                addr: None,
            })?;
            let store = SqliteStore::open(&s.data_dir)?;
            let counts = store.counts()?;
            if *json {
                out(&serde_json::to_string(&counts)?)?;
            } else {
                out(&format!("{counts:#?}"))?;
            }
            return Ok(());
        }
    };
    let settings = settings(&args)?;
    saferplaces::telemetry::init(settings.log_format);
    let mut store = SqliteStore::open(&settings.data_dir)
        .with_context(|| format!("opening the store in {}", settings.data_dir.display()))?;
    if demo {
        ensure_demo_data(&settings, &mut store)?;
        if no_serve {
            return Ok(());
        }
    }
    let snapshot = load_snapshot(&store)?;
    drop(store);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(settings, snapshot))
}
