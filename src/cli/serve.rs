//! `saferplaces serve`: load the store, build the indexes and serve the API and the web app.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;

use super::common::{AnyStore, open_audit, open_store, out, settings};
use crate::api::AppState;
use crate::config::Settings;
use crate::index::Snapshot;
use crate::jobs::SharedStore;
use crate::jobs::load_snapshot;
use crate::safeguards::audit::AuditLog;
use crate::safeguards::sharing::Agreements;
use crate::startup::Application;

/// Where to serve from and on.
#[derive(clap::Args, Clone, Default)]
pub struct ServeArgs {
    /// Directory of the embedded store and audit log (default `$SAFERPLACES_DATA_DIR` or `./data`).
    #[arg(long)]
    pub data_dir: Option<std::path::PathBuf>,
    /// Address to listen on (default `$SAFERPLACES_ADDR` or `127.0.0.1:8080`; port 0 picks one).
    #[arg(long)]
    pub addr: Option<String>,
}

/// `saferplaces serve`.
pub(crate) fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let s = settings(args.addr, args.data_dir)?;
    crate::telemetry::init(s.log_format);
    run_server(s, None, false)?;
    Ok(ExitCode::SUCCESS)
}

/// What a server runs on: the store (shared with the feed job) and what is known of it.
struct Opened {
    store: SharedStore,
    /// The embedded SQLite store (it has the equality monitor's tables).
    embedded: bool,
    /// The store refuses writes.
    read_only: bool,
    /// Where the store is, for the log.
    location: String,
}

/// Serves `snapshot` until stopped, with the background jobs (change feed, retention sweep,
/// monthly equality run).
async fn serve(
    settings: Settings,
    snapshot: Snapshot,
    opened: Opened,
    audit: Arc<AuditLog>,
    position: crate::jobs::FeedPosition,
) -> anyhow::Result<()> {
    let Opened {
        store,
        embedded,
        read_only,
        location,
    } = opened;
    if !settings.web_dir.join("index.html").exists() {
        tracing::warn!(web_dir = %settings.web_dir.display(), "web app not built; run `make web` (the API still works)");
    }
    if let Some(day) = settings.today {
        tracing::info!(%day, "clock fixed by SAFERPLACES_TODAY");
    }
    let agreements = Agreements::load(&settings.sharing_agreements)?;
    let state = AppState::new(snapshot, audit, settings.clock(), settings.disclosure)
        .with_tile_cache_bytes(settings.tile_cache_mb as usize * (1 << 20))
        .with_budgets(settings.budgets)
        .with_admission(settings.admission)
        .with_request_timeout(std::time::Duration::from_secs(
            settings.connections.request_timeout_secs.into(),
        ))
        .with_agreements(agreements);
    // The equality monitor's tables are the embedded store's only in this release.
    let state = if embedded {
        state.with_equality_store(settings.data_dir.clone())
    } else {
        state
    };
    // The monthly S22 job (S22: the monitor runs itself). It runs the last full month only when
    // the store has no result for it, so once a month it writes and each server on the store
    // reloads. `SAFERPLACES_EQUALITY_MONTHLY=off` leaves it to a cron running
    // `saferplaces equality run`.
    if std::env::var("SAFERPLACES_EQUALITY_MONTHLY").map_or(true, |v| v != "off")
        && embedded
        && !read_only
    {
        tokio::spawn(crate::jobs::equality_monthly(state.clone()));
    }
    let app = Application::bind(settings.addr, state.clone(), settings.web_dir.clone())
        .await
        .with_context(|| format!("binding {}", settings.addr))?
        .with_connections(&settings.connections);
    let addr = app.local_addr()?;
    // With PostgreSQL, the other servers' and the CLI's commits are announced on the feed's
    // channel: a listener wakes the feed job at once (it polls anyway, in case one is lost).
    let wake = Arc::new(tokio::sync::Notify::new());
    if let Some(url) = &settings.database_url {
        crate::store::postgres::listen_for_changes(url.expose(), Arc::clone(&wake));
    }
    tokio::spawn(crate::jobs::run(
        state,
        store,
        settings.retention_grace_days,
        position,
        wake,
    ));
    tracing::info!(%addr, store = %location, data_dir = %settings.data_dir.display(), "serving");
    out(&format!("saferplaces listening on http://{addr}"))?;
    app.run_until_stopped().await?;
    Ok(())
}

/// Opens the store (generating the demo data first for `demo`), loads it and serves it.
pub(crate) fn run_server(
    settings: Settings,
    demo: Option<usize>,
    no_serve: bool,
) -> anyhow::Result<()> {
    let mut store = open_store(&settings).with_context(|| match &settings.database_url {
        Some(_) => "opening the PostgreSQL store named by SAFERPLACES_DATABASE_URL".to_owned(),
        None => format!("opening the store in {}", settings.data_dir.display()),
    })?;
    if let Some(incidents) = demo {
        super::demo::ensure_demo_data(&settings, &mut store, incidents)?;
        if no_serve {
            return Ok(());
        }
        super::demo::issue_demo_tokens(&mut *store)?;
    }
    // Read-only mode (issue 14, point 5): the data directory cannot be written, so the server
    // serves what needs no audit record and refuses the rest (fail closed: the audit log cannot
    // be appended, and the retention sweep cannot erase expired entries).
    let audit = match store.read_only_reason() {
        None => open_audit(&settings)?,
        Some(reason) => {
            tracing::warn!(
                data_dir = %settings.data_dir.display(),
                store = %store.location(),
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
    if let Some(sqlite) = store.sqlite() {
        sqlite
            .quick_check_if_small()
            .with_context(|| format!("checking the store {} at start", sqlite.file().display()))?;
    }
    let (snapshot, position) = load_snapshot(&*store, 1)
        .with_context(|| format!("loading the store {}", store.location()))?;
    tracing::info!(
        incidents = snapshot.incidents.len(),
        unlocated = snapshot.incidents.unlocated(),
        index_bytes = snapshot.incidents.heap_bytes(),
        people = snapshot.people.people.len(),
        users = snapshot.users.len(),
        total_ms = started.elapsed().as_millis() as u64,
        "indexes built"
    );
    let opened = Opened {
        embedded: matches!(store, AnyStore::Sqlite(_)),
        read_only: store.read_only_reason().is_some(),
        location: store.location(),
        store: Arc::new(Mutex::new(store.into_box())),
    };
    // The store and the audit log are held here too, and released only after the runtime:
    // the runtime's tasks drop their clones when it shuts down, so the last ones go here, off
    // the runtime, where PostgreSQL's synchronous client may block to close its connection
    // and the log may sign its head (it panicked on a worker: "Cannot start a runtime from
    // within a runtime").
    let (held_store, audit) = (Arc::clone(&opened.store), Arc::new(audit));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let served = runtime.block_on(serve(
        settings,
        snapshot,
        opened,
        Arc::clone(&audit),
        position,
    ));
    drop(runtime);
    drop((held_store, audit));
    served
}
