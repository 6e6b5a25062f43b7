//! Background work of a running server: apply what changed in the store (imports, users,
//! erasures made by other processes show within a second: only the changed kind is
//! reloaded, and imported incidents are added as a run), merge incident runs in the
//! background, and sweep expired person-level entries (safeguards.md S18). Also used by the
//! CLI.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::api::AppState;
use crate::domain::Day;
use crate::domain::PersonRef;
use crate::domain::{Dataset, User};
use crate::index::{
    IncidentDelta, IncidentIndex, IncidentInput, IncidentLayer, RunPieces, Snapshot, persist,
};
use crate::safeguards::audit::{AuditError, AuditEvent, AuditLog};
use crate::safeguards::policy::POLICY_VERSION;
use crate::safeguards::retention::expired;
use crate::safeguards::reviews::review_ref;
use crate::store::changes::ChangeSet;
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

/// Where in the store's history a served snapshot stands: the change feed's sequence number
/// (`None` for a store without the feed), the store's change marker (for such a store), and
/// the newest incident segment in the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedPosition {
    /// The newest change applied.
    pub seq: Option<u64>,
    /// [`Store::change_marker`] when it was read.
    pub marker: u64,
    /// The largest incident segment id the snapshot holds.
    pub segment_cursor: u64,
    /// The newest incident withdrawal the snapshot reflects (its sequence number, 0 for none).
    pub withdrawal_cursor: u64,
    /// True when the served incident base is what the saved index file beside the store
    /// holds (read from it at start, or saved since): no save is due.
    pub base_saved: bool,
}

/// Loads the store and builds every index; returns them with the feed position they stand at.
/// The sequence number is read before the load, so a change committed during it is applied
/// again afterwards rather than missed (reloading a kind is idempotent, and the segment
/// cursor is read in the load's own transaction, so no incident is added twice).
pub fn load_snapshot(
    store: &dyn Store,
    data_version: u64,
) -> Result<(Snapshot, FeedPosition), StoreError> {
    let seq = store.latest_change()?;
    let marker = store.change_marker()?;
    // Before the load, like `seq`: a withdrawal committed during it is tombstoned afterwards
    // (a tombstone of an incident the load already left out is ignored).
    let withdrawal_cursor = latest_withdrawal(store)?;
    let (data, _) = store.load_kinds(&ChangeSet {
        incidents: false,
        ..ChangeSet::everything(0)
    })?;
    let (incidents, segment_cursor, base_saved) =
        if let Some((layer, saved)) = saved_layer(store, seq)? {
            // Segments imported after the index was saved are served as a run.
            let (pieces, cursor) = run_after_segment(store, saved)?;
            let layer = layer.with_runs(pieces);
            (layer, cursor, true)
        } else {
            // Incidents stream in batches into the index's inputs (40 bytes each), so the full
            // records (provenance, source fields: over 100 bytes each) are never all held at
            // once. Reserved up front: growing by doubling would hold the old and the new buffer
            // at once.
            let stored = usize::try_from(store.counts()?.incidents).unwrap_or(0);
            let mut inputs = Vec::with_capacity(stored);
            let cursor = store.for_each_incident_batch(&mut |batch| {
                inputs.extend(crate::index::incident_inputs(&batch));
            })?;
            let layer = IncidentLayer::build(&inputs);
            (layer, cursor, false)
        };
    let users = store.users()?;
    Ok((
        Snapshot::build_with_layer(data, incidents, users, data_version),
        FeedPosition {
            seq,
            marker,
            segment_cursor,
            withdrawal_cursor,
            base_saved,
        },
    ))
}

/// The newest incident withdrawal's sequence number (0 when none).
fn latest_withdrawal(store: &dyn Store) -> Result<u64, StoreError> {
    store.for_each_withdrawal_after(u64::MAX, &mut |_| {})
}

/// The index inputs of the incidents withdrawn after `cursor`, and the next cursor.
fn withdrawn_after(
    store: &dyn Store,
    cursor: u64,
) -> Result<(Vec<IncidentInput>, u64), StoreError> {
    let mut withdrawn = Vec::new();
    let next = store.for_each_withdrawal_after(cursor, &mut |batch| {
        withdrawn.extend(crate::index::incident_inputs(&batch));
    })?;
    Ok((withdrawn, next))
}

/// The incident layer saved beside the store ([`persist`]) with the segment it stands at,
/// when it still describes the store's incidents up to that segment: no rewrite of the
/// incidents table in the change feed since, and the same fingerprint. `None` (with the
/// reason logged) means a cold build.
fn saved_layer(
    store: &dyn Store,
    seq: Option<u64>,
) -> Result<Option<(IncidentLayer, u64)>, StoreError> {
    let Some(path) = store.saved_index_path() else {
        return Ok(None);
    };
    let cold = |reason: &str| {
        tracing::info!(file = %path.display(), reason, "building the incident index from the store");
    };
    let Some(seq) = seq else {
        cold("the store has no change feed");
        return Ok(None);
    };
    let started = Instant::now();
    let (at, layer) = match persist::load(&path) {
        Ok(Some(saved)) => saved,
        Ok(None) => {
            cold("no saved index");
            return Ok(None);
        }
        Err(e) => {
            tracing::warn!(error = %e, "the saved incident index cannot be used");
            cold("the saved index is damaged or of another format");
            return Ok(None);
        }
    };
    let held = (layer.len() + layer.unlocated()) as u64;
    let reason = if at.seq > seq {
        Some("the saved index is newer than the store's change feed")
    } else if store.changes_since(at.seq)?.incidents {
        Some("the stored incidents were rewritten after it was saved")
    } else if store.incidents_fingerprint(at.segment_cursor)? != at.fingerprint {
        Some("the store's incidents do not match the saved index")
    } else if held != at.fingerprint.table_rows + at.fingerprint.segment_rows {
        Some("the saved index does not hold the store's incidents")
    } else {
        None
    };
    if let Some(reason) = reason {
        cold(reason);
        return Ok(None);
    }
    tracing::info!(
        file = %path.display(),
        incidents = held,
        segment = at.segment_cursor,
        read_ms = started.elapsed().as_millis() as u64,
        "incident index read from the saved file"
    );
    Ok(Some((layer, at.segment_cursor)))
}

/// The background save of the served incident layer beside the store ([`persist`]): started
/// when the served base is not the saved one ([`FeedPosition::base_saved`]: a cold start, a
/// whole reload, a merge), no merge is running and no save is; at the lowest priority.
type SaveTask = tokio::task::JoinHandle<std::io::Result<Result<(), SaveError>>>;

/// Saving the incident layer failed.
#[derive(Debug, thiserror::Error)]
enum SaveError {
    /// The store's fingerprint could not be read.
    #[error("store")]
    Store(#[from] StoreError),
    /// The file could not be written.
    #[error(transparent)]
    Persist(#[from] persist::PersistError),
}

/// Starts a save of `layer` (served at `position`) when one is due; returns the running save.
/// A failed save is logged; the next base change tries again.
fn tend_save(
    store: &Arc<Mutex<Box<dyn Store>>>,
    layer: &IncidentLayer,
    position: &mut FeedPosition,
    saving: Option<SaveTask>,
) -> Option<SaveTask> {
    if let Some(handle) = saving
        && !handle.is_finished()
    {
        return Some(handle);
    }
    let seq = position.seq?;
    if position.base_saved {
        return None;
    }
    position.base_saved = true;
    let (store, layer, cursor, withdrawal) = (
        Arc::clone(store),
        layer.clone(),
        position.segment_cursor,
        position.withdrawal_cursor,
    );
    Some(tokio::spawn(crate::background::run(
        "index-save",
        move || {
            // The store is locked only for its fingerprint, not while the file is written (the
            // change feed goes on being read meanwhile).
            let target = {
                let guard = store
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                save_target(guard.as_ref(), seq, cursor, withdrawal)
            };
            // Logged here: the finished task's result is not read (save_layer logs its own).
            let target = target.inspect_err(|e| {
                tracing::warn!(error = ?e, "cannot save the incident index: the store's fingerprint cannot be read");
            })?;
            let Some((path, at)) = target else {
                return Ok(());
            };
            save_layer(&path, at, &layer)
        },
    )))
}

/// Where and as what to save a layer served at change `seq` with incident segments up to
/// `cursor` and withdrawals up to `withdrawal`: `None` for a store without a place for it or
/// opened read-only, and when an incident was withdrawn since (the fingerprint leaves it out
/// while the layer still holds it: the tombstone's merge saves again).
fn save_target(
    store: &dyn Store,
    seq: u64,
    cursor: u64,
    withdrawal: u64,
) -> Result<Option<(std::path::PathBuf, persist::SavedAt)>, SaveError> {
    let Some(path) = store.saved_index_path().filter(|_| !store.is_read_only()) else {
        return Ok(None);
    };
    let fingerprint = store.incidents_fingerprint(cursor)?;
    // After the fingerprint: a withdrawal between the two reads is seen here.
    if latest_withdrawal(store)? != withdrawal {
        return Ok(None);
    }
    let at = persist::SavedAt {
        seq,
        segment_cursor: cursor,
        fingerprint,
    };
    Ok(Some((path, at)))
}

/// Writes `layer` to `path`, logging the outcome.
fn save_layer(
    path: &std::path::Path,
    at: persist::SavedAt,
    layer: &IncidentLayer,
) -> Result<(), SaveError> {
    let started = Instant::now();
    let outcome = persist::save(path, at, layer);
    match &outcome {
        Ok(()) => tracing::info!(
            file = %path.display(),
            incidents = layer.len() + layer.unlocated(),
            write_ms = started.elapsed().as_millis() as u64,
            "incident index saved"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot save the incident index"),
    }
    Ok(outcome?)
}

/// The incidents in the segments after `cursor`, indexed in pieces while they are read
/// ([`RunPieces`]), and the next cursor: the segments stream in one at a time, so an import of
/// millions of rows is never held as full records nor as one list of index inputs.
fn run_after_segment(
    store: &dyn Store,
    cursor: u64,
) -> Result<(Vec<IncidentIndex>, u64), StoreError> {
    // Indexed piece by piece while it is read, sized from the segments' row counts up front
    // (a segment imported meanwhile only makes the last piece larger).
    let expected = store.incident_rows_after_segment(cursor)?;
    let mut pieces = RunPieces::new(usize::try_from(expected).unwrap_or(usize::MAX));
    let next = store.for_each_incident_after_segment(cursor, &mut |batch| pieces.push(&batch))?;
    Ok((pieces.finish(), next))
}

/// What changed in the store since a feed position, read from it.
#[derive(Debug)]
pub struct Update {
    /// The kinds that changed.
    pub changed: ChangeSet,
    /// Those kinds' records (the rest empty).
    pub data: Dataset,
    /// Incidents of the segments stored since and incidents withdrawn since (when the
    /// incidents are not reloaded whole).
    pub incidents: IncidentDelta,
    /// The users, when they changed.
    pub users: Option<Vec<(String, User)>>,
    /// The position after this update.
    pub position: FeedPosition,
}

/// Reads what changed after `at`: `None` when nothing did. Reads the feed (or, for a store
/// without one, compares the change marker and then reloads everything), then only the
/// changed kinds, and of imported incidents only the segments after the cursor.
pub fn fetch_update(store: &dyn Store, at: FeedPosition) -> Result<Option<Update>, StoreError> {
    let (changed, seq, marker) = match store.latest_change()? {
        Some(latest) if Some(latest) == at.seq => return Ok(None),
        Some(_) => {
            let changed = store.changes_since(at.seq.unwrap_or(0))?;
            (changed, Some(changed.latest), at.marker)
        }
        None => {
            let marker = store.change_marker()?;
            if marker == at.marker {
                return Ok(None);
            }
            (ChangeSet::everything(0), None, marker)
        }
    };
    let users = if changed.access {
        Some(store.users()?)
    } else {
        None
    };
    // Before a whole reload, which leaves them out, only the cursor is read: see
    // `load_snapshot`.
    let (withdrawn, withdrawal_cursor) = if changed.incidents {
        (Vec::new(), latest_withdrawal(store)?)
    } else if changed.incident_withdrawals {
        withdrawn_after(store, at.withdrawal_cursor)?
    } else {
        (Vec::new(), at.withdrawal_cursor)
    };
    let (data, cursor_then) = store.load_kinds(&changed)?;
    let (incidents, segment_cursor) = if changed.incidents {
        (IncidentDelta::default(), cursor_then)
    } else {
        let (added, cursor) = if changed.incident_segments {
            run_after_segment(store, at.segment_cursor)?
        } else {
            (Vec::new(), at.segment_cursor)
        };
        (IncidentDelta { added, withdrawn }, cursor)
    };
    Ok(Some(Update {
        changed,
        data,
        incidents,
        users,
        position: FeedPosition {
            seq,
            marker,
            segment_cursor,
            withdrawal_cursor,
            // A whole reload of the incidents builds a new base.
            base_saved: at.base_saved && !changed.incidents,
        },
    }))
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
    // People and links only: the sweep ran `load()` before, reading every incident of the
    // store (1.2 GB at 10M incidents) at each server start and every hour.
    let (data, _) = store.load_kinds(&ChangeSet {
        people: true,
        ..ChangeSet::default()
    })?;
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

/// The store a server's feed job works on, shared with the server's start-up code (which
/// releases it after the runtime, `cli::serve`).
pub type SharedStore = Arc<Mutex<Box<dyn Store>>>;

/// How often the store is checked for changes (the change feed's newest sequence number: one
/// indexed read), so new data reach tiles and layers well within a second.
pub const RELOAD_POLL: Duration = Duration::from_millis(200);
/// How often the retention sweep runs in a server.
pub const SWEEP_EVERY: Duration = Duration::from_hours(1);

/// Runs forever: every [`RELOAD_POLL`] applies what changed in the store since `position`
/// ([`fetch_update`], then [`Snapshot::with_changes`]: one kind reloaded, or the new incident
/// segments added as a run), merges the incident runs into a new base in the background when
/// they grow ([`crate::index::IncidentLayer::needs_merge`]), and runs the retention sweep at
/// start and every [`SWEEP_EVERY`]. `position` is where the served snapshot stands
/// ([`load_snapshot`]), so a change committed during start-up is not lost.
pub async fn run(
    state: AppState,
    store: SharedStore,
    grace_days: u16,
    position: FeedPosition,
    wake: Arc<tokio::sync::Notify>,
) {
    // A read-only store cannot erase: the sweep is off (the server refuses person-level reads
    // in read-only mode, so expired entries are not served either).
    let sweeps = !store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .is_read_only();
    let mut position = position;
    let mut last_sweep: Option<Instant> = None;
    let mut merging: Option<MergeTask> = None;
    let mut saving: Option<SaveTask> = None;
    loop {
        let sweep_due = sweeps && last_sweep.is_none_or(|t| t.elapsed() >= SWEEP_EVERY);
        let (st, audit, today, served) = (
            Arc::clone(&store),
            Arc::clone(state.audit()),
            state.clock.today(),
            state.clone(),
        );
        let outcome = tokio::task::spawn_blocking(
            move || -> Result<(Option<FeedPosition>, Option<SweepReport>), JobError> {
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
                // The sweep's own erasures are in the feed too, so this update includes them.
                let (update, account) =
                    crate::analysis::budget::measure(|_| fetch_update(guard.as_ref(), position));
                drop(guard);
                let Some(update) = update? else {
                    return Ok((None, report));
                };
                let read_peak = account.peak();
                let next = update.position;
                // Read, indexed and applied here, off the runtime's workers: a large import's
                // run takes a while.
                let ((), account) = crate::analysis::budget::measure(|_| apply(&served, update));
                let heap = crate::analysis::budget::allocator_stats();
                tracing::info!(
                    read_and_index_peak_bytes = read_peak,
                    apply_peak_bytes = account.peak(),
                    heap_allocated_bytes = heap.map(|h| h.allocated_bytes),
                    heap_resident_bytes = heap.map(|h| h.resident_bytes),
                    "memory of the update"
                );
                Ok((Some(next), report))
            },
        )
        .await;
        match outcome {
            Ok(Ok((update, report))) => {
                if let Some(r) = report {
                    last_sweep = Some(Instant::now());
                    if r.people + r.links > 0 {
                        tracing::info!(people = r.people, links = r.links, %today, "retention sweep erased expired entries");
                    }
                }
                if let Some(next) = update {
                    position = next;
                }
            }
            Ok(Err(e)) => tracing::error!(error = ?e, "background job failed"),
            Err(e) => tracing::error!(error = %e, "background task failed"),
        }
        let base_before = state.snapshot().incidents.pieces().0;
        merging = tend_merge(&state, merging).await;
        let served = state.snapshot().incidents.clone();
        if !same_pieces(&served.pieces().0, &base_before) {
            position.base_saved = false;
        }
        // Saved only between merges (mid-merge the taken runs overlap the new chunks) and
        // without tombstones (the saved pieces would hold the withdrawn incidents again).
        if merging.is_none() && !served.merging() && served.tombstones() == 0 {
            saving = tend_save(&store, &served, &mut position, saving);
        }
        // A notification of a commit (PostgreSQL's LISTEN, [`crate::store::postgres::listen_for_changes`])
        // cuts the wait short; the poll is the fallback when one is lost.
        tokio::select! {
            () = tokio::time::sleep(RELOAD_POLL) => {}
            () = wake.notified() => {}
        }
    }
}

/// Serves the snapshot `update` makes of the current one. Users are replaced first (a
/// revocation takes effect with the same poll).
fn apply(state: &AppState, update: Update) {
    let Update {
        changed,
        data,
        incidents,
        users,
        ..
    } = update;
    if let Some(users) = &users {
        state.replace_users(users.iter().cloned().collect());
    }
    let started = Instant::now();
    let (added, pieces, withdrawn) = (
        incidents.added_rows(),
        incidents.added.len(),
        incidents.withdrawn.len(),
    );
    let next = state
        .snapshot()
        .with_changes(&changed, data, incidents, users);
    tracing::info!(
        data_version = next.data_version,
        incidents_reloaded = changed.incidents,
        incidents_added = added,
        added_pieces = pieces,
        incidents_withdrawn = withdrawn,
        reference = changed.reference,
        people = changed.people,
        users = changed.access,
        runs = next.incidents.runs(),
        build_ms = started.elapsed().as_millis() as u64,
        "store changed; applied"
    );
    state.replace(next);
}

/// True when two lists hold the same indexes.
fn same_pieces(a: &[Arc<IncidentIndex>], b: &[Arc<IncidentIndex>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| Arc::ptr_eq(x, y))
}

/// One step of a chunk-wise merge running on its background thread.
type MergeTask = tokio::task::JoinHandle<std::io::Result<Option<crate::index::MergeStep>>>;

/// Drives the chunk-wise merge of the incident runs
/// ([`crate::index::IncidentLayer::merge_step`]): swaps in a finished step, begins a merge when
/// the served runs have grown and none is under way, and starts the next step. One chunk is
/// built per step, so a merge holds one new chunk beside the served layer, not a second base
/// (issue 15, point 2). Queries go on against the served layer meanwhile and answer for every
/// incident at every step; each step runs at the lowest priority ([`crate::background`]), so
/// it takes the cores queries leave idle.
async fn tend_merge(state: &AppState, merging: Option<MergeTask>) -> Option<MergeTask> {
    if let Some(handle) = merging {
        if !handle.is_finished() {
            return Some(handle);
        }
        match handle.await {
            Ok(Ok(Some(step))) => {
                let current = state.snapshot();
                let last = step.is_last();
                if let Some(incidents) = current.incidents.with_step(step) {
                    let mut next = (*current).clone();
                    next.incidents = incidents;
                    if last {
                        let heap = crate::analysis::budget::allocator_stats();
                        tracing::info!(
                            chunks = next.incidents.chunks(),
                            runs_left = next.incidents.runs(),
                            heap_allocated_bytes = heap.map(|h| h.allocated_bytes),
                            heap_resident_bytes = heap.map(|h| h.resident_bytes),
                            "incident runs merged into the base"
                        );
                    }
                    state.replace(next);
                } else {
                    tracing::info!("incidents changed during a merge step; stepping again");
                }
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "incident merge failed"),
            Err(e) => tracing::error!(error = %e, "incident merge task failed"),
        }
    }
    let current = state.snapshot();
    let mut layer = current.incidents.clone();
    if layer.needs_merge()
        && let Some(begun) = layer.begin_merge()
    {
        // Marks the runs served now as taken; answers every query as before.
        let mut next = (*current).clone();
        next.incidents = begun.clone();
        state.replace(next);
        layer = begun;
    }
    layer.merging().then(|| {
        tokio::spawn(crate::background::run("incident-merge", move || {
            let (step, account) = crate::analysis::budget::measure(|_| layer.merge_step());
            let heap = crate::analysis::budget::allocator_stats();
            tracing::info!(
                peak_bytes = account.peak(),
                heap_allocated_bytes = heap.map(|h| h.allocated_bytes),
                heap_resident_bytes = heap.map(|h| h.resident_bytes),
                "merge step memory"
            );
            step
        }))
    })
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

#[cfg(test)]
#[path = "jobs_tests.rs"]
mod tests;
