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
use saferplaces::domain::PersonRef;
use saferplaces::domain::Role;
use saferplaces::import::{FileSummary, ImportKind, ImportOptions, SharingCheck, import_file};
use saferplaces::index::Snapshot;
use saferplaces::ingest::lsoa::LsoaCodeSets;
use saferplaces::ingest::reconcile::{
    ReconcileParams, incidents_against_individuals, likely_duplicates,
};
use saferplaces::ingest::report::{Progress, ProgressPoint};
use saferplaces::ingest::west_of_england::load_area_set;
use saferplaces::jobs::{erase_and_record, load_snapshot, retention_sweep};
use saferplaces::safeguards::access_cli;
use saferplaces::safeguards::audit::{self, AuditLog};
use saferplaces::safeguards::audit_checkpoint;
use saferplaces::safeguards::reviews::{Review, ReviewOutcome, check_review, review_ref};
use saferplaces::safeguards::sharing::Agreements;
use saferplaces::safeguards::tokens;
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
    /// Print the OpenAPI 3.1 document of the HTTP API, as a server serves it at
    /// /api/v1/openapi.json, naming the default address 127.0.0.1:8080 and the demo's
    /// boundary schemes.
    Openapi,
    /// Print the number of stored records per kind.
    Stats {
        #[command(flatten)]
        dir: DataDirArg,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Check the store for damage: SQLite's structure check, every segment's checksum and
    /// every record; prints what it checked and OK, or every problem (exit status 2).
    Check {
        #[command(flatten)]
        dir: DataDirArg,
        /// Run `PRAGMA integrity_check` (slower; also checks indexes) instead of `quick_check`.
        #[arg(long)]
        full: bool,
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
    /// Reviews of person-level entries.
    Review {
        #[command(subcommand)]
        command: ReviewCommand,
    },
    /// Retention of person-level entries.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Cases: assign users (only assigned users read a case's subjects).
    Case {
        #[command(subcommand)]
        command: CaseCommand,
    },
    /// Subject access (safeguards.md S26): everything held about one person, who accessed it
    /// and who received it, as JSON or a standalone HTML page. Run by an operator after the
    /// requester's identity has been checked outside the system; audited as a disclosure.
    Sar {
        #[command(flatten)]
        dir: DataDirArg,
        /// The person's reference (P...).
        #[arg(long)]
        person: String,
        /// Print the report as one JSON document.
        #[arg(long)]
        json: bool,
        /// Write the report as a standalone HTML page to this file.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// The S22 disproportionality monitor (run by the equality monitoring function only).
    Equality {
        #[command(subcommand)]
        command: EqualityCommand,
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
            help = "planner, vru_analyst, police_analyst, mace_member, auditor, admin or equality_monitor"
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
        /// How long the token is accepted: a whole number and d, h, m or s (e.g. 30d, 12h,
        /// 90m); at most 365d.
        #[arg(long, default_value = "30d", value_parser = saferplaces::safeguards::tokens::parse_lifetime)]
        expires_in: std::time::Duration,
    },
    /// Revoke a user's token at once (a running server refuses it within a second); the user
    /// row is kept for the audit trail.
    Revoke {
        #[command(flatten)]
        dir: DataDirArg,
        /// The user's name.
        name: String,
    },
}

#[derive(Subcommand)]
enum EqualityCommand {
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

#[derive(Subcommand)]
enum ReviewCommand {
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

#[derive(Subcommand)]
enum CaseCommand {
    /// Assign a police analyst to a case (audited).
    Assign {
        #[command(flatten)]
        dir: DataDirArg,
        /// Case reference.
        #[arg(long = "case")]
        case_ref: String,
        /// User name.
        #[arg(long)]
        user: String,
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
    /// Verify the hash chain, every signed checkpoint, the witness and (with --head) a head
    /// kept elsewhere; exits 2 naming what is wrong: an edited, deleted or inserted record, a
    /// recomputed chain, a truncated, emptied or deleted log.
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

/// Opens the audit log with signed checkpoints (the key is generated beside the data
/// directory when absent). Any number of processes may hold it open at once.
fn open_audit(settings: &Settings) -> anyhow::Result<AuditLog> {
    let dir = &settings.audit_dir;
    let key = audit_checkpoint::load_or_create_key(&settings.audit_key_file)
        .context("loading the audit signing key")?;
    let options = audit::CheckpointOptions {
        key,
        witness_dir: settings.audit_witness_dir.clone(),
        every: u64::from(settings.audit_checkpoint_every),
        interval: std::time::Duration::from_secs(u64::from(settings.audit_checkpoint_secs)),
    };
    AuditLog::open_with(dir, Some(options))
        .with_context(|| format!("opening the audit log in {}", dir.display()))
}

/// `audit verify`: the chain, every checkpoint against the trusted key, the witness and an
/// optional kept head. Exit code 2 names what is wrong.
fn audit_verify(
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
    match audit::verify_with(&path, &options) {
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
    // A benchmark-sized store is not read back whole for the monitor; run it from the CLI.
    demo_equality(settings, store, &data, &params, segmented_stored == 0)?;
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

async fn serve(
    settings: Settings,
    snapshot: Snapshot,
    store: SqliteStore,
    audit: AuditLog,
    position: saferplaces::jobs::FeedPosition,
) -> anyhow::Result<()> {
    if !settings.web_dir.join("index.html").exists() {
        tracing::warn!(web_dir = %settings.web_dir.display(), "web app not built; run `make web` (the API still works)");
    }
    if let Some(day) = settings.today {
        tracing::info!(%day, "clock fixed by SAFERPLACES_TODAY");
    }
    let agreements = Agreements::load(&settings.sharing_agreements)?;
    let state = AppState::new(
        snapshot,
        Arc::new(audit),
        clock(&settings),
        settings.disclosure,
    )
    .with_tile_cache_bytes(settings.tile_cache_mb as usize * (1 << 20))
    .with_budgets(settings.budgets)
    .with_admission(settings.admission)
    .with_request_timeout(std::time::Duration::from_secs(
        settings.connections.request_timeout_secs.into(),
    ))
    .with_agreements(agreements)
    .with_equality_store(settings.data_dir.clone());
    // The monthly S22 job (S22: the monitor runs itself). It runs the last full month only when
    // the store has no result for it, so once a month it writes and each server on the store
    // reloads. `SAFERPLACES_EQUALITY_MONTHLY=off` leaves it to a cron running
    // `saferplaces equality run`.
    if std::env::var("SAFERPLACES_EQUALITY_MONTHLY").map_or(true, |v| v != "off")
        && store.read_only_reason().is_none()
    {
        tokio::spawn(saferplaces::jobs::equality_monthly(state.clone()));
    }
    let app = Application::bind(settings.addr, state.clone(), settings.web_dir.clone())
        .await
        .with_context(|| format!("binding {}", settings.addr))?
        .with_connections(&settings.connections);
    let addr = app.local_addr()?;
    tokio::spawn(saferplaces::jobs::run(
        state,
        Box::new(store),
        settings.retention_grace_days,
        position,
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
    // Read-only mode (issue 14, point 5): the data directory cannot be written, so the server
    // serves what needs no audit record and refuses the rest (fail closed: the audit log cannot
    // be appended, and the retention sweep cannot erase expired entries).
    let audit = match store.read_only_reason() {
        None => open_audit(&settings)?,
        Some(reason) => {
            tracing::warn!(
                data_dir = %settings.data_dir.display(),
                file = %store.file().display(),
                reason,
                "the data directory is read-only: serving read-only; imports, user changes, the \
                 retention sweep and the equality job are off, and audited requests (person-level \
                 data, audit reads) are refused with 503 AUDIT_LOG_READ_ONLY"
            );
            AuditLog::not_writable(
                &settings.audit_dir,
                format!(
                    "the server runs read-only on {}: {reason}",
                    settings.data_dir.display()
                ),
            )?
        }
    };
    let started = Instant::now();
    // Issue 14, point 4: SQLite's structure check on a small store; the load below verifies
    // every segment's checksum and refuses a damaged one.
    store
        .quick_check_if_small()
        .with_context(|| format!("checking the store {} at start", store.file().display()))?;
    let (snapshot, position) = load_snapshot(&store, 1)
        .with_context(|| format!("loading the store {}", store.file().display()))?;
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
    runtime.block_on(serve(settings, snapshot, store, audit, position))
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
    // Rows read from files whose storing failed (counted in `read`, not stored), and why.
    let mut failed_rows = 0u64;
    let mut errors = Vec::new();
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
                    && let Some(event) =
                        saferplaces::import::failed_audit_event(kind, path, opts, &e)
                {
                    log.append(event)?;
                }
                if let saferplaces::import::ImportError::Store { read, .. } = &e {
                    total.read += read;
                    failed_rows += read;
                }
                // The whole chain of causes: the store's operation, file and the OS's reason.
                let message = format!("{:#}", anyhow::Error::from(e));
                out(&format!("{}: failed — {message}", path.display()))?;
                errors.push(
                    serde_json::json!({"file": path.display().to_string(), "error": message}),
                );
                failed = true;
            }
        }
    }
    if json {
        out(&serde_json::to_string(&serde_json::json!({
            "read": total.read, "stored": total.stored, "duplicates": total.duplicates,
            "rejected": total.rejected, "invalid": total.invalid, "unlocated": total.unlocated, "outside_area": total.outside_area, "skipped": total.skipped,
            "failed": failed_rows, "errors": errors,
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
                sharing: match kind {
                    ImportKind::People | ImportKind::Links => Some(SharingCheck {
                        agreements: Arc::new(Agreements::load(&s.sharing_agreements)?),
                        controller: s.controller.clone(),
                        today: clock(&s).today(),
                    }),
                    _ => None,
                },
            };
            let mut store = SqliteStore::open(&s.data_dir)?;
            // People and links are person-level: their collection is audited (S16).
            let audit = if matches!(kind, ImportKind::People | ImportKind::Links) {
                // Refused before the audit log is opened, so the message says read-only.
                store.writable("import people or links")?;
                Some(open_audit(&s)?)
            } else {
                None
            };
            let code = run_import(&mut store, kind, &paths, &opts, json, audit.as_ref())?;
            if let Some(log) = &audit {
                log.checkpoint().context("signing the audit log's head")?;
            }
            return Ok(code);
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
            store.writable("link likely duplicates")?;
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
        Command::Openapi => {
            out(&serde_json::to_string_pretty(
                &saferplaces::api::openapi::document(),
            )?)?;
        }
        Command::Stats { dir, json } => {
            let s = settings(None, dir.data_dir)?;
            let store = SqliteStore::open(&s.data_dir)?;
            // A damaged store is refused, not counted (issue 14, point 4).
            store
                .verify_at_start()
                .with_context(|| format!("checking the store {}", store.file().display()))?;
            let counts = store.counts()?;
            out(&if json {
                serde_json::to_string(&counts)?
            } else {
                format!("{counts:#?}")
            })?;
        }
        Command::Check { dir, full } => {
            let s = settings(None, dir.data_dir)?;
            // Checking must not create an empty store and call it sound.
            let file = s.data_dir.join(SqliteStore::FILE_NAME);
            anyhow::ensure!(
                file.is_file(),
                "no store to check: {} does not exist",
                file.display()
            );
            let report = SqliteStore::open(&s.data_dir)?.check(full)?;
            for line in report.lines() {
                out(&line)?;
            }
            if !report.is_ok() {
                return Ok(ExitCode::from(2));
            }
        }
        Command::User {
            command:
                UserCommand::Add {
                    dir,
                    name,
                    role,
                    org,
                    panels,
                    expires_in,
                },
        } => {
            let s = settings(None, dir.data_dir)?;
            let role: Role = role.parse()?;
            anyhow::ensure!(role.assignable(), "role {role} cannot be given to a user");
            let mut store = SqliteStore::open(&s.data_dir)?;
            store.writable("add a user")?;
            let audit = open_audit(&s)?;
            let token = new_token()?;
            let expires = tokens::expires_at(tokens::unix_now_s(), expires_in);
            let id = store.add_user(&NewUser {
                name: name.clone(),
                role,
                org: org.clone(),
                panels,
                token_hash: token_hash(&token),
                token_expires_at: expires,
            })?;
            let mut e = cli_event(audit::AuditEventType::Collection, "admin");
            e.query = serde_json::json!({"command": "user add", "user": name, "role": role.code(), "org": org, "token_expires_at": unix_rfc3339(expires)});
            audit.append(e)?;
            out(&format!(
                "created user {name} (id {id}, role {role}); the token expires {}; it is shown once:",
                unix_rfc3339(expires)
            ))?;
            out(&token)?;
        }
        Command::User {
            command: UserCommand::Revoke { dir, name },
        } => {
            let s = settings(None, dir.data_dir)?;
            let mut store = SqliteStore::open(&s.data_dir)?;
            store.writable("revoke a token")?;
            let audit = open_audit(&s)?;
            let Some(user) = store.revoke_user(&name, tokens::unix_now_s())? else {
                anyhow::bail!("no user called {name:?}");
            };
            let revoked_at = unix_rfc3339(user.token_revoked_at.unwrap_or_default());
            let mut e = cli_event(audit::AuditEventType::Alteration, "admin");
            e.query = serde_json::json!({"command": "user revoke", "user": name, "revoked_at": revoked_at});
            audit.append(e)?;
            out(&format!(
                "revoked the token of {name} (id {}) as of {revoked_at}; the user is kept for the audit trail",
                user.id
            ))?;
        }
        Command::Review {
            command:
                ReviewCommand::Record {
                    dir,
                    person,
                    review_due,
                    rationale,
                    outcome,
                    decided_by,
                },
        } => {
            let s = settings(None, dir.data_dir)?;
            let today = clock(&s).today();
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
            let mut store = SqliteStore::open(&s.data_dir)?;
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
                    &mut store,
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
        }
        Command::Audit {
            command:
                AuditCommand::Verify {
                    dir,
                    head,
                    public_key,
                },
        } => {
            let s = settings(None, dir.data_dir)?;
            return audit_verify(&s, head.as_deref(), public_key.as_deref());
        }
        Command::Audit {
            command: AuditCommand::Head { dir },
        } => {
            let s = settings(None, dir.data_dir)?;
            let log = open_audit(&s)?;
            log.checkpoint().context("signing the audit log's head")?;
            let head = log
                .last_checkpoint()
                .context("the audit log is empty: there is no head to sign")?;
            out(&serde_json::to_string(&head)?)?;
        }
        Command::Case {
            command:
                CaseCommand::Assign {
                    dir,
                    case_ref,
                    user,
                },
        } => {
            let s = settings(None, dir.data_dir)?;
            let case_ref: saferplaces::domain::CaseRef = case_ref.parse()?;
            let mut store = SqliteStore::open(&s.data_dir)?;
            store.writable("assign a case")?;
            let audit = open_audit(&s)?;
            let new = access_cli::assign_case(&mut store, &audit, &case_ref, &user)?;
            out(&if new {
                format!("assigned {user} to case {case_ref}")
            } else {
                format!("{user} was already assigned to case {case_ref}")
            })?;
        }
        Command::Audit {
            command: AuditCommand::Alerts { dir, limit, json },
        } => {
            let s = settings(None, dir.data_dir)?;
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
        }
        Command::Sar {
            dir,
            person,
            json,
            html,
        } => {
            let s = settings(None, dir.data_dir)?;
            return subject_access(&s, &person, json, html.as_deref());
        }
        Command::Analyse { command } => out(&saferplaces::analysis::cli::run(&command)?)?,
        Command::Equality { command } => equality_command(command)?,
        Command::Retention {
            command: RetentionCommand::Sweep { dir, today },
        } => {
            let s = settings(None, dir.data_dir)?;
            let today = match today {
                Some(t) => t.parse()?,
                None => clock(&s).today(),
            };
            let mut store = SqliteStore::open(&s.data_dir)?;
            store.writable("run the retention sweep")?;
            let audit = open_audit(&s)?;
            let report = retention_sweep(&mut store, &audit, today, s.retention_grace_days)?;
            audit.checkpoint().context("signing the audit log's head")?;
            out(&format!(
                "retention sweep as of {today} (grace {} days): erased {} people and {} links",
                s.retention_grace_days, report.people, report.links
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `sar`: builds the report on `raw_person`, audits the disclosure (before anything leaves),
/// then writes the HTML page and prints the JSON document or a short summary.
fn subject_access(
    s: &Settings,
    raw_person: &str,
    json: bool,
    html: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    use saferplaces::safeguards::sar;
    let person: PersonRef = raw_person
        .parse()
        .with_context(|| format!("--person {raw_person:?}"))?;
    let store = SqliteStore::open(&s.data_dir)
        .with_context(|| format!("opening the store in {}", s.data_dir.display()))?;
    let agreements = Agreements::load(&s.sharing_agreements)?;
    let log = open_audit(s)?;
    let produced_at = audit::rfc3339_millis(std::time::SystemTime::now());
    let ctx = sar::SarContext {
        agreements: &agreements,
        grace_days: s.retention_grace_days,
        produced_at: &produced_at,
    };
    let report = match sar::build(&store, &log, &person, &ctx) {
        Ok(r) => r,
        Err(e @ sar::SarError::NoRecord(_)) => {
            log.append(sar::sar_no_record_event(&person, &access_cli::cli_actor()))
                .context("auditing the subject access request")?;
            log.checkpoint().context("signing the audit log's head")?;
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
    log.checkpoint().context("signing the audit log's head")?;
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

/// `saferplaces equality ...`.
fn equality_command(command: EqualityCommand) -> anyhow::Result<()> {
    use saferplaces::safeguards::equality::{Month, baselines, cli};
    match command {
        EqualityCommand::Run { dir, month, json } => {
            let s = settings(None, dir.data_dir)?;
            let month: Month = month.parse()?;
            let mut store = SqliteStore::open(&s.data_dir)?;
            store.writable("run the equality monitor")?;
            let log = open_audit(&s)?;
            let report = cli::run_month(&mut store, &log, month, &access_cli::cli_actor())?;
            log.checkpoint().context("signing the audit log's head")?;
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
            let s = settings(None, dir.data_dir)?;
            let mut store = SqliteStore::open(&s.data_dir)?;
            let log = open_audit(&s)?;
            let result = cli::close_alert(
                &mut store,
                &log,
                alert,
                &outcome,
                &record,
                &access_cli::cli_actor(),
            );
            log.checkpoint().context("signing the audit log's head")?;
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
            let s = settings(None, dir.data_dir)?;
            let store = SqliteStore::open(&s.data_dir)?;
            out(&serde_json::to_string(&store.equality_alerts()?)?)?;
        }
        EqualityCommand::Baselines { dir, file } => {
            let s = settings(None, dir.data_dir)?;
            let rows = baselines::load(&file)?;
            let mut store = SqliteStore::open(&s.data_dir)?;
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
            let s = settings(None, dir.data_dir)?;
            let mut store = SqliteStore::open(&s.data_dir)?;
            let log = open_audit(&s)?;
            let result = saferplaces::safeguards::equality::attributes::import(
                &mut store,
                &log,
                &file,
                &access_cli::cli_actor(),
            );
            log.checkpoint().context("signing the audit log's head")?;
            let r = result?;
            out(&format!(
                "imported the equality attributes of {} people from {} ({} with a deprivation decile, {} with an authority, {} with an MSOA)",
                r.people, r.file, r.with_decile, r.with_authority, r.with_msoa
            ))?;
        }
    }
    Ok(())
}

/// Stores the synthetic equality attributes and resident baselines, by authority and MSOA
/// (their own random streams), and runs the monitor for the demo's last full month, so `GET /api/v1/equality/latest` has
/// a result.
fn demo_equality(
    settings: &Settings,
    store: &mut SqliteStore,
    data: &saferplaces::domain::Dataset,
    params: &SyntheticParams,
    run_monitor: bool,
) -> anyhow::Result<()> {
    use saferplaces::safeguards::equality::cli;
    use saferplaces::synthetic::equality as synth;
    use saferplaces::synthetic::msoa;
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
    log.checkpoint().context("signing the audit log's head")?;
    out(&format!(
        "equality monitor {}: {} comparisons, {} flagged, {} alert(s) opened",
        report.month,
        report.comparisons.len(),
        report.flagged,
        report.alerts_opened.len()
    ))
}

/// An audit event written by a CLI command in `role`.
fn cli_event(event_type: audit::AuditEventType, role: &str) -> audit::AuditEvent {
    let mut e = audit::AuditEvent::new(event_type, role, audit::Decision::Allow);
    e.client = Some("cli".to_owned());
    saferplaces::safeguards::policy::POLICY_VERSION.clone_into(&mut e.policy_version);
    e
}

/// Unix seconds as RFC 3339 UTC.
fn unix_rfc3339(seconds: u64) -> String {
    audit::rfc3339_millis(std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds))
}

/// Attributes each allocation of a running computation to it, so that the admission layer's
/// memory budgets are enforced on measured figures (`analysis::budget`, issue 14 point 1).
#[global_allocator]
static ALLOCATOR: saferplaces::analysis::budget::Allocator =
    saferplaces::analysis::budget::allocator();

fn main() -> ExitCode {
    saferplaces::analysis::budget::install();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
