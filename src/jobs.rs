//! Background work of a running server: reload the indexes when the store changes (imports,
//! users, erasures made by other processes show within about a second) and sweep expired
//! person-level entries (safeguards.md S18). Also used by the CLI.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::api::AppState;
use crate::domain::Day;
use crate::domain::PersonRef;
use crate::index::Snapshot;
use crate::safeguards::audit::{AuditError, AuditEvent, AuditLog};
use crate::safeguards::policy::POLICY_VERSION;
use crate::safeguards::retention::expired;
use crate::safeguards::reviews::review_ref;
use crate::store::{Store, StoreError};

/// A background job failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The store failed.
    #[error("store")]
    Store(#[from] StoreError),
    /// The audit log failed; an erasure is not done until it is logged.
    #[error("audit log")]
    Audit(#[from] AuditError),
}

/// What a retention sweep erased.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// People erased.
    pub people: u64,
    /// Links erased (including those of erased people).
    pub links: u64,
}

/// Loads the store and builds every index.
pub fn load_snapshot(store: &dyn Store, data_version: u64) -> Result<Snapshot, StoreError> {
    let data = store.load()?;
    let users = store.users()?;
    Ok(Snapshot::build(data, users, data_version))
}

/// Erases every person and link whose hard expiry (`review_due + grace_days`) is before
/// `today`, in one transaction, and writes one erasure record per entry with ids only
/// (S16: no content of the erased data).
pub fn retention_sweep(
    store: &mut dyn Store,
    audit: &AuditLog,
    today: Day,
    grace_days: u16,
) -> Result<SweepReport, JobError> {
    let data = store.load()?;
    let due = expired(&data, today, grace_days);
    if due.is_empty() {
        return Ok(SweepReport::default());
    }
    erase_and_record(
        store,
        audit,
        &due.people,
        &due.links,
        &format!("retention-sweep-{today}"),
    )
}

/// Erases `people` (with every link from or to them) and `links`, then writes one erasure
/// record per erased person and per erased link (S16, S18), ids only. Each refers to the
/// latest recorded review of the person it concerns (`review:<id>`) when there is one, and
/// to `decision` otherwise. Used by the retention sweep and by `review record --outcome
/// remove`, so both erase the same way.
pub fn erase_and_record(
    store: &mut dyn Store,
    audit: &AuditLog,
    people: &[PersonRef],
    links: &[u64],
    decision: &str,
) -> Result<SweepReport, JobError> {
    // Read before erasing: the person's reviews are erased with them.
    let reviews = store.latest_reviews(people)?;
    let erased = store.erase(people, links)?;
    let decision_for = |person: Option<&PersonRef>| {
        person
            .and_then(|p| reviews.get(p))
            .map_or_else(|| decision.to_owned(), |&id| review_ref(id))
    };
    for p in &erased.people {
        let mut event = AuditEvent::erasure("person", p.as_str(), Some(decision_for(Some(p))));
        POLICY_VERSION.clone_into(&mut event.policy_version);
        audit.append(event)?;
    }
    for l in &erased.links {
        let mut event = AuditEvent::erasure(
            "link",
            &l.id.to_string(),
            Some(decision_for(l.with_person.as_ref())),
        );
        POLICY_VERSION.clone_into(&mut event.policy_version);
        audit.append(event)?;
    }
    Ok(SweepReport {
        people: erased.people.len() as u64,
        links: erased.links.len() as u64,
    })
}

/// How often the store is checked for changes (`PRAGMA data_version`: one cheap read), so new
/// data reach tiles and layers well within a second plus the rebuild.
pub const RELOAD_POLL: Duration = Duration::from_millis(200);
/// How often the retention sweep runs in a server.
pub const SWEEP_EVERY: Duration = Duration::from_hours(1);

/// Runs forever: polls the store for changes every [`RELOAD_POLL`] and rebuilds the snapshot
/// when it changed; runs the retention sweep at start and every [`SWEEP_EVERY`].
/// `loaded_marker` is the store's [`Store::change_marker`] read before the served snapshot
/// was loaded, so a change committed between that load and the first poll (a revocation
/// right after start) is not mistaken for the baseline.
pub async fn run(state: AppState, store: Box<dyn Store>, grace_days: u16, loaded_marker: u64) {
    // A read-only store cannot erase: the sweep is off (the server refuses person-level reads
    // in read-only mode, so expired entries are not served either).
    let sweeps = !store.is_read_only();
    let store = Arc::new(Mutex::new(store));
    let mut marker = Some(loaded_marker);
    let mut last_sweep: Option<Instant> = None;
    let mut version = state.snapshot().data_version;
    loop {
        let sweep_due = sweeps && last_sweep.is_none_or(|t| t.elapsed() >= SWEEP_EVERY);
        let (st, audit, today) = (
            Arc::clone(&store),
            Arc::clone(state.audit()),
            state.clock.today(),
        );
        let outcome = tokio::task::spawn_blocking(
            move || -> Result<(Option<u64>, Option<SweepReport>), JobError> {
                // An idle log is signed within the checkpoint interval of its last record.
                if let Err(e) = audit.checkpoint_if_due() {
                    tracing::error!(error = %e, "cannot write an audit checkpoint");
                }
                let mut guard = st.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let report = if sweep_due {
                    Some(retention_sweep(guard.as_mut(), &audit, today, grace_days)?)
                } else {
                    None
                };
                Ok((Some(guard.change_marker()?), report))
            },
        )
        .await;
        match outcome {
            Ok(Ok((now, report))) => {
                // This connection's own commits do not move its marker, so an erasure made
                // here forces the reload itself.
                let erased = report.is_some_and(|r| r.people + r.links > 0);
                if let Some(r) = report {
                    last_sweep = Some(Instant::now());
                    if r.people + r.links > 0 {
                        tracing::info!(people = r.people, links = r.links, %today, "retention sweep erased expired entries");
                    }
                }
                if erased || (marker.is_some() && now != marker) {
                    // Users first (one small query), so a revocation or a new user takes
                    // effect within a poll, not after the seconds a full rebuild takes.
                    let st = Arc::clone(&store);
                    let users = tokio::task::spawn_blocking(move || {
                        let guard = st.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        guard.users()
                    })
                    .await;
                    match users {
                        Ok(Ok(users)) => state.replace_users(users.into_iter().collect()),
                        Ok(Err(e)) => tracing::error!(error = %e, "reloading users failed"),
                        Err(e) => tracing::error!(error = %e, "user reload task failed"),
                    }
                    version += 1;
                    let st = Arc::clone(&store);
                    let built = tokio::task::spawn_blocking(move || {
                        let guard = st.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        load_snapshot(guard.as_ref(), version)
                    })
                    .await;
                    match built {
                        Ok(Ok(snapshot)) => {
                            state.replace(snapshot);
                            tracing::info!(
                                data_version = version,
                                "store changed; indexes rebuilt"
                            );
                        }
                        Ok(Err(e)) => {
                            tracing::error!(error = %e, "reloading after a store change failed");
                        }
                        Err(e) => tracing::error!(error = %e, "reload task failed"),
                    }
                }
                marker = now;
            }
            Ok(Err(e)) => tracing::error!(error = ?e, "background job failed"),
            Err(e) => tracing::error!(error = %e, "background task failed"),
        }
        tokio::time::sleep(RELOAD_POLL).await;
    }
}

/// How often the monthly equality job looks for a month without a result.
const EQUALITY_CHECK_EVERY: Duration = Duration::from_hours(1);

/// The S22 monthly job: every hour, runs the equality monitor for the last full month when it
/// has no result yet and the data hold records of it (`safeguards::equality::cli::run_if_due`),
/// so a month is computed within an hour of its end, or of its first import, or of the server
/// starting. Does nothing for a state without an
/// equality store. Failures are logged and retried on the next check.
pub async fn equality_monthly(state: AppState) {
    let Some(dir) = state.equality_dir().map(std::path::Path::to_path_buf) else {
        return;
    };
    loop {
        let (dir, audit, today) = (dir.clone(), Arc::clone(state.audit()), state.clock.today());
        // The data's latest incident: a month is run once its records are in.
        let latest = state.snapshot().incidents.day_range().map(|(_, last)| last);
        let outcome = tokio::task::spawn_blocking(move || {
            let mut store = crate::store::SqliteStore::open(&dir)
                .map_err(crate::safeguards::equality::cli::EqualityCliError::Store)?;
            crate::safeguards::equality::cli::run_if_due(&mut store, &audit, today, latest)
        })
        .await;
        match outcome {
            Ok(Ok(Some(report))) => tracing::info!(
                month = %report.month,
                flagged = report.flagged,
                alerts = report.alerts_opened.len(),
                "equality monitor ran for the last full month"
            ),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "equality monitor failed"),
            Err(e) => tracing::error!(error = %e, "equality monitor task failed"),
        }
        tokio::time::sleep(EQUALITY_CHECK_EVERY).await;
    }
}
