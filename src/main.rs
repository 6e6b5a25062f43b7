//! The `saferplaces` binary: parse the CLI, load settings, start telemetry, run the command.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};

use saferplaces::api::{AppState, Clock};
use saferplaces::config::{OsEnv, Overrides, Settings};
use saferplaces::domain::Role;
use saferplaces::import::{FileSummary, ImportKind, ImportOptions, import_file};
use saferplaces::index::Snapshot;
use saferplaces::ingest::lsoa::LsoaCodeSets;
use saferplaces::ingest::reconcile::{
    ReconcileParams, incidents_against_individuals, likely_duplicates,
};
use saferplaces::ingest::report::{Progress, ProgressPoint};
use saferplaces::ingest::west_of_england::load_area_set;
use saferplaces::jobs::{load_snapshot, retention_sweep};
use saferplaces::safeguards::audit::{self, AuditLog};
use saferplaces::safeguards::tokens::{new_token, token_hash};
use saferplaces::startup::Application;
use saferplaces::store::{NewUser, SqliteStore, Store};
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

#[derive(clap::Args, Clone, Default)]
struct ServeArgs {
    /// Directory of the embedded store and audit log (default `$SAFERPLACES_DATA_DIR` or `./data`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address to listen on (default `$SAFERPLACES_ADDR` or `127.0.0.1:8080`; port 0 picks one).
    #[arg(long)]
    addr: Option<String>,
}

#[derive(clap::Args, Clone, Default)]
struct DataDirArg {
    /// Directory of the embedded store and audit log.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and the web app from the store in the data directory.
    Serve(ServeArgs),
    /// Generate the synthetic West of England demo data if the store is empty, issue one demo
    /// token per role, then serve.
    Demo {
        #[command(flatten)]
        serve: ServeArgs,
        /// Generate (if needed) and exit without serving or issuing tokens.
        #[arg(long)]
        no_serve: bool,
        /// Incidents to generate when the store is empty (benchmarks use 10,000,000).
        #[arg(long, env = "SAFERPLACES_DEMO_INCIDENTS", default_value_t = 60_000)]
        incidents: usize,
    },
    /// Import files of one kind. Every row is stored, a duplicate or rejected (file, line and
    /// field named); a file with a rejected row stores nothing unless --allow-partial.
    Import {
        /// What the files are.
        #[arg(value_enum)]
        kind: ImportKind,
        /// The files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        dir: DataDirArg,
        /// End with one JSON summary line.
        #[arg(long)]
        json: bool,
        /// Parse and account for every row, but store nothing.
        #[arg(long)]
        dry_run: bool,
        /// Store the valid rows of a file even when some are rejected.
        #[arg(long)]
        allow_partial: bool,
        /// Supplying agency, recorded on every row (provenance).
        #[arg(long, default_value = "data-police-uk")]
        agency: String,
        /// Information sharing agreement the files were received under.
        #[arg(long)]
        isa_ref: Option<String>,
        /// A links file imported in one batch with the people (people only): the rules are
        /// checked on both together, so a person arrives with the links they require.
        #[arg(long, value_name = "FILE")]
        links: Option<PathBuf>,
        /// Boundary scheme name (boundaries only), e.g. lsoa11, ward, msoa11.
        #[arg(long)]
        scheme: Option<String>,
        /// Property holding the boundary code (boundaries only; found by pattern otherwise).
        #[arg(long)]
        code_field: Option<String>,
        /// Property holding the boundary name (boundaries only; found by pattern otherwise).
        #[arg(long)]
        name_field: Option<String>,
    },
    /// Link likely duplicate incidents across sources (same category, different agencies,
    /// close in space and time) and report them; nothing is deleted.
    Reconcile {
        #[command(flatten)]
        dir: DataDirArg,
        /// Largest distance between two incidents, metres.
        #[arg(long, default_value_t = 100.0)]
        distance_m: f64,
        /// Largest number of days between them.
        #[arg(long, default_value_t = 1)]
        window_days: u16,
        /// End with one JSON summary line.
        #[arg(long)]
        json: bool,
    },
    /// Aggregate reports.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Print the number of stored records per kind.
    Stats {
        #[command(flatten)]
        dir: DataDirArg,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Retention of person-level entries.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Hot spot analytics on a CSV of events (places and days only, never people).
    Analyse {
        #[command(subcommand)]
        command: saferplaces::analysis::cli::AnalyseCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; prints the new bearer token as the last line. The token is shown once and
    /// stored only as a hash.
    Add {
        #[command(flatten)]
        dir: DataDirArg,
        /// Unique name of the person using the account.
        #[arg(long)]
        name: String,
        #[arg(
            long,
            help = "planner, vru_analyst, police_analyst, mace_member, auditor or admin"
        )]
        role: String,
        /// Organisation.
        #[arg(long)]
        org: Option<String>,
        #[arg(
            long = "panel",
            help = "MACE panel the user sits on (repeatable; for mace_member)"
        )]
        panels: Vec<u32>,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
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

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the hash chain; exits non-zero naming the first bad record.
    Verify {
        #[command(flatten)]
        dir: DataDirArg,
    },
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Erase people and links past review plus the grace period, logging each erasure by id.
    Sweep {
        #[command(flatten)]
        dir: DataDirArg,
        /// Sweep as of this day (YYYY-MM-DD) instead of today.
        #[arg(long)]
        today: Option<String>,
    },
}

fn settings(addr: Option<String>, data_dir: Option<PathBuf>) -> anyhow::Result<Settings> {
    Ok(Settings::load(&OsEnv, &Overrides { addr, data_dir })?)
}

fn out(line: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}

fn clock(settings: &Settings) -> Clock {
    settings.today.map_or(Clock::System, Clock::Fixed)
}

fn open_audit(settings: &Settings) -> anyhow::Result<AuditLog> {
    let dir = &settings.audit_dir;
    AuditLog::open(dir).with_context(|| format!("opening the audit log in {}", dir.display()))
}

/// Generates and stores the demo data when the store holds no incidents.
fn ensure_demo_data(
    settings: &Settings,
    store: &mut SqliteStore,
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
        let batch = saferplaces::store::ImportBatch {
            incidents: segmented
                .into_iter()
                .map(|incident| saferplaces::store::ImportedIncident {
                    incident,
                    line: 1,
                    attributes: saferplaces::store::SourceAttributes::default(),
                    outside_area: false,
                })
                .collect(),
            ..saferplaces::store::ImportBatch::default()
        };
        let file = saferplaces::store::ImportFile {
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
fn issue_demo_tokens(store: &mut SqliteStore) -> anyhow::Result<()> {
    out("demo tokens (synthetic data only; paste one into the map's token box):")?;
    for role in Role::ALL.iter().copied().filter(|r| r.assignable()) {
        let name = format!("demo-{}", role.code());
        let token = new_token()?;
        let hash = token_hash(&token);
        if !store.set_user_token(&name, &hash)? {
            let panels = if role == Role::MaceMember {
                vec![1, 2]
            } else {
                vec![]
            };
            store.add_user(&NewUser {
                name: name.clone(),
                role,
                org: Some("demo".to_owned()),
                panels,
                token_hash: hash,
            })?;
        }
        out(&format!("  {:<15} {token}", role.code()))?;
    }
    Ok(())
}

async fn serve(
    settings: Settings,
    snapshot: Snapshot,
    store: SqliteStore,
    audit: AuditLog,
) -> anyhow::Result<()> {
    if !settings.web_dir.join("index.html").exists() {
        tracing::warn!(web_dir = %settings.web_dir.display(), "web app not built; run `make web` (the API still works)");
    }
    if let Some(day) = settings.today {
        tracing::info!(%day, "clock fixed by SAFERPLACES_TODAY");
    }
    let state = AppState::new(
        snapshot,
        Arc::new(audit),
        clock(&settings),
        settings.disclosure,
    )
    .with_tile_cache_bytes(settings.tile_cache_mb as usize * (1 << 20));
    let app = Application::bind(settings.addr, state.clone(), settings.web_dir.clone())
        .await
        .with_context(|| format!("binding {}", settings.addr))?;
    let addr = app.local_addr()?;
    tokio::spawn(saferplaces::jobs::run(
        state,
        Box::new(store),
        settings.retention_grace_days,
    ));
    tracing::info!(%addr, data_dir = %settings.data_dir.display(), "serving");
    out(&format!("saferplaces listening on http://{addr}"))?;
    app.run_until_stopped().await?;
    Ok(())
}

fn run_server(settings: Settings, demo: Option<usize>, no_serve: bool) -> anyhow::Result<()> {
    let mut store = SqliteStore::open(&settings.data_dir)
        .with_context(|| format!("opening the store in {}", settings.data_dir.display()))?;
    if let Some(incidents) = demo {
        ensure_demo_data(&settings, &mut store, incidents)?;
        if no_serve {
            return Ok(());
        }
        issue_demo_tokens(&mut store)?;
    }
    let audit = open_audit(&settings)?;
    let started = Instant::now();
    let snapshot = load_snapshot(&store, 1).context("loading the store")?;
    tracing::info!(
        incidents = snapshot.incidents.len(),
        unlocated = snapshot.incidents.unlocated(),
        index_bytes = snapshot.incidents.heap_bytes(),
        people = snapshot.people.people.len(),
        users = snapshot.users.len(),
        total_ms = started.elapsed().as_millis() as u64,
        "indexes built"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(settings, snapshot, store, audit))
}

/// The LSOA code sets a police street import classifies its rows with.
fn lsoa_codes(
    geodata_dir: &std::path::Path,
    kind: ImportKind,
) -> anyhow::Result<Option<Arc<LsoaCodeSets>>> {
    if kind != ImportKind::PoliceStreet {
        return Ok(None);
    }
    let sets = LsoaCodeSets::load(geodata_dir)
        .with_context(|| format!("loading LSOA code lists from {}", geodata_dir.display()))?;
    Ok(Some(Arc::new(sets)))
}

/// One progress line on stderr (stdout stays the summary, and `--json`'s last line).
fn print_progress(p: ProgressPoint) {
    let line = match p.phase {
        "parse" => format!(
            "  ... {} rows read, {:.0} % of {:.1} MB",
            p.rows,
            100.0 * p.bytes as f64 / (p.total_bytes.max(1)) as f64,
            p.total_bytes as f64 / 1e6
        ),
        phase => format!("  ... {phase}: {} rows", p.rows),
    };
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Imports every file, printing progress and a summary per file; returns failure when any
/// file was refused or failed.
fn run_import(
    store: &mut SqliteStore,
    kind: ImportKind,
    paths: &[PathBuf],
    opts: &ImportOptions,
    json: bool,
    audit: Option<&AuditLog>,
) -> anyhow::Result<ExitCode> {
    let mut total = FileSummary::default();
    let mut vintages = Vec::new();
    let mut failed = false;
    for path in paths {
        let started = Instant::now();
        let _ = writeln!(
            std::io::stderr(),
            "importing {} as {} ...",
            path.display(),
            kind.name()
        );
        match import_file(store, kind, path, opts) {
            Ok(f) => {
                let shown = 20;
                for r in f.rejections.iter().take(shown) {
                    out(&format!("  rejected: {r}"))?;
                }
                if f.rejections.len() > shown {
                    out(&format!(
                        "  ... and {} more rejections",
                        f.rejections.len() - shown
                    ))?;
                }
                out(&format!(
                    "{}: {} — read {}, stored {}, duplicates {}, rejected {} ({} invalid), unlocated {}, outside area {} ({:.2} s)",
                    f.file,
                    f.outcome,
                    f.read,
                    f.stored,
                    f.duplicates,
                    f.rejected,
                    f.invalid,
                    f.unlocated,
                    f.outside_area,
                    started.elapsed().as_secs_f64()
                ))?;
                if let Some(v) = f.lsoa_vintage {
                    out(&format!(
                        "  LSOA vintage {}: {} rows with a 2011 code (or an unchanged 2021 one), {} with a 2021-only code, {} with a 2011-only code, {} unknown (outside the four authorities or no code)",
                        v.vintage,
                        v.rows.in_2011 + v.rows.both,
                        v.rows.only_2021,
                        v.rows.only_2011,
                        v.rows.unknown
                    ))?;
                    vintages.push(serde_json::json!({"file": f.file, "vintage": v}));
                }
                // Stored, refused and amended people and links are audited (S16).
                if let Some(log) = audit {
                    for e in saferplaces::import::audit_events(kind, &f, opts) {
                        log.append(e)?;
                    }
                }
                if f.outcome == "refused" {
                    out(&format!(
                        "  nothing from {} was stored; fix the rows above or use --allow-partial",
                        f.file
                    ))?;
                    failed = true;
                }
                total.read += f.read;
                total.stored += f.stored;
                total.duplicates += f.duplicates;
                total.rejected += f.rejected;
                total.invalid += f.invalid;
                total.unlocated += f.unlocated;
                total.outside_area += f.outside_area;
                total.skipped += f.skipped;
            }
            Err(e) => {
                if let Some(log) = audit
                    && let Some(event) = saferplaces::import::failed_audit_event(kind, path, opts)
                {
                    log.append(event)?;
                }
                out(&format!("{}: failed — {e:#}", path.display()))?;
                failed = true;
            }
        }
    }
    if json {
        out(&serde_json::to_string(&serde_json::json!({
            "read": total.read, "stored": total.stored, "duplicates": total.duplicates,
            "rejected": total.rejected, "invalid": total.invalid, "unlocated": total.unlocated, "outside_area": total.outside_area, "skipped": total.skipped,
            "files": paths.len(), "dry_run": opts.dry_run, "ok": !failed,
            "lsoa_vintages": vintages,
        }))?)?;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(a) => {
            let s = settings(a.addr, a.data_dir)?;
            saferplaces::telemetry::init(s.log_format);
            run_server(s, None, false)?;
        }
        Command::Demo {
            serve,
            no_serve,
            incidents,
        } => {
            let s = settings(serve.addr, serve.data_dir)?;
            saferplaces::telemetry::init(s.log_format);
            run_server(s, Some(incidents), no_serve)?;
        }
        Command::Import {
            kind,
            paths,
            dir,
            json,
            dry_run,
            allow_partial,
            agency,
            isa_ref,
            links,
            scheme,
            code_field,
            name_field,
        } => {
            let s = settings(None, dir.data_dir)?;
            saferplaces::telemetry::init(s.log_format);
            let opts = ImportOptions {
                dry_run,
                allow_partial,
                agency: agency.parse()?,
                isa_ref: isa_ref.map(|r| r.parse()).transpose()?,
                scheme: scheme.map(|r| r.parse()).transpose()?,
                code_field,
                name_field,
                progress: Progress::new(print_progress),
                lsoa_codes: lsoa_codes(&s.geodata_dir, kind)?,
                links,
            };
            let mut store = SqliteStore::open(&s.data_dir)?;
            // People and links are person-level: their collection is audited (S16).
            let audit = if matches!(kind, ImportKind::People | ImportKind::Links) {
                Some(open_audit(&s)?)
            } else {
                None
            };
            return run_import(&mut store, kind, &paths, &opts, json, audit.as_ref());
        }
        Command::Reconcile {
            dir,
            distance_m,
            window_days,
            json,
        } => {
            let s = settings(None, dir.data_dir)?;
            anyhow::ensure!(
                distance_m.is_finite() && distance_m > 0.0,
                "--distance-m must be a positive number"
            );
            let mut store = SqliteStore::open(&s.data_dir)?;
            let data = store.load()?;
            let params = ReconcileParams {
                distance_m,
                window_days,
            };
            let pairs = likely_duplicates(&data.incidents, params);
            let found_at = audit::rfc3339_millis(std::time::SystemTime::now());
            let new = store.write_matches(&pairs, &serde_json::to_value(params)?, &found_at)?;
            let mut by_category: std::collections::BTreeMap<&str, u64> =
                std::collections::BTreeMap::new();
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
        }
        Command::Report {
            command:
                ReportCommand::IncidentsIndividuals {
                    dir,
                    scheme,
                    from,
                    to,
                    json,
                },
        } => {
            let s = settings(None, dir.data_dir)?;
            let store = SqliteStore::open(&s.data_dir)?;
            let data = store.load()?;
            let from = from.map_or(Ok(saferplaces::domain::Day::MIN), |d| d.parse())?;
            let to = to.map_or(Ok(saferplaces::domain::Day::MAX), |d| d.parse())?;
            let boundaries = saferplaces::index::BoundaryIndex::new(data.boundaries.clone());
            anyhow::ensure!(
                boundaries.has_scheme(&scheme),
                "no boundaries of scheme {scheme} are stored"
            );
            let rows = incidents_against_individuals(
                &data.incidents,
                &data.links,
                &boundaries,
                &scheme,
                from,
                to,
            );
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
                out(
                    "counts only: an individual linked to many incidents is counted once per area",
                )?;
            }
        }
        Command::Stats { dir, json } => {
            let s = settings(None, dir.data_dir)?;
            let counts = SqliteStore::open(&s.data_dir)?.counts()?;
            out(&if json {
                serde_json::to_string(&counts)?
            } else {
                format!("{counts:#?}")
            })?;
        }
        Command::User {
            command:
                UserCommand::Add {
                    dir,
                    name,
                    role,
                    org,
                    panels,
                },
        } => {
            let s = settings(None, dir.data_dir)?;
            let role: Role = role.parse()?;
            anyhow::ensure!(role.assignable(), "role {role} cannot be given to a user");
            let mut store = SqliteStore::open(&s.data_dir)?;
            let token = new_token()?;
            let id = store.add_user(&NewUser {
                name: name.clone(),
                role,
                org,
                panels,
                token_hash: token_hash(&token),
            })?;
            out(&format!(
                "created user {name} (id {id}, role {role}); the token is shown once:"
            ))?;
            out(&token)?;
        }
        Command::Audit {
            command: AuditCommand::Verify { dir },
        } => {
            let s = settings(None, dir.data_dir)?;
            let path = s.audit_dir.join(audit::AUDIT_FILE_NAME);
            match audit::verify(&path) {
                Ok(report) => out(&format!(
                    "audit log intact: {} entries, last hash {}",
                    report.entries, report.last_hash
                ))?,
                Err(failure) => {
                    out(&failure.to_string())?;
                    return Ok(ExitCode::from(2));
                }
            }
        }
        Command::Analyse { command } => out(&saferplaces::analysis::cli::run(&command)?)?,
        Command::Retention {
            command: RetentionCommand::Sweep { dir, today },
        } => {
            let s = settings(None, dir.data_dir)?;
            let today = match today {
                Some(t) => t.parse()?,
                None => clock(&s).today(),
            };
            let mut store = SqliteStore::open(&s.data_dir)?;
            let audit = open_audit(&s)?;
            let report = retention_sweep(&mut store, &audit, today, s.retention_grace_days)?;
            out(&format!(
                "retention sweep as of {today} (grace {} days): erased {} people and {} links",
                s.retention_grace_days, report.people, report.links
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
