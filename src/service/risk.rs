//! Near-repeat risk windows (issue 6, points 4 and 6): the cells and days of elevated risk
//! after recent incidents ([`crate::analysis::risk`]), projected from a Knox calibration.
//! Calibrations are kept across data versions (a recent one stands in while the current one
//! is computed on a background thread); projected layers are cached per data version.
//!
//! Analysts get res-9 cells, days, Knox ratios and incident counts; aggregate roles get
//! `as_of` snapped to the first day of its month, res-7 cells and whole calendar months
//! ([`coarse_windows`], [`crate::safeguards::releases`]) and only cells with at least the
//! disclosure threshold of recent incidents behind them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use h3o::Resolution;

use super::ServiceResult;
use crate::analysis::AnalysisResult;
use crate::analysis::risk::{
    Calibration, CoarseRiskCell, RiskLayer, RiskSettings, StudySample, calibration_bound_bytes,
    coarsen, current_windows, project,
};
use crate::cache::{BoundedCache, CacheKey};
use crate::domain::{Category, Day};
use crate::index::{IncidentLayer, Snapshot};
use crate::safeguards::disclosure::{DisclosurePolicy, Sensitivity};
use crate::safeguards::policy::DisclosureClass;
use crate::safeguards::releases;
use crate::tiles::hexagons::HexCount;
use crate::tiles::sources::{RiskTileLayer, RiskValue};

/// The resolution aggregate roles see (cells of about 5 km²).
pub const COARSE_RES: Resolution = Resolution::Seven;

/// A calibration's identity: (data version, category, as-of day).
pub type CalibrationKey = (u64, Option<Category>, Day);

/// A calibration in the cache: kept across data versions, since a recent one stands in for
/// the current one while that is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Calibrated(CalibrationKey);

impl CacheKey for Calibrated {
    fn data_version(&self) -> Option<u64> {
        None
    }
}

/// A projected layer's identity: the calibration's key and the projection's (data version,
/// as-of day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct LayerKey(CalibrationKey, u64, Day);

impl CacheKey for LayerKey {
    fn data_version(&self) -> Option<u64> {
        Some(self.1)
    }
}

/// Projected layers kept.
const LAYERS_KEPT: usize = 48;

/// Calibrations kept.
const CALIBRATIONS_KEPT: usize = 16;

/// How far back a calibration may be reused while the current one is computed.
const STALE_DAYS: u16 = 14;

/// Knox calibrations and projected layers.
///
/// The Knox calibration over a year of incidents takes most of a second on the demo data;
/// projecting the recent incidents through its bands takes milliseconds. So after new data
/// arrives the windows are projected at once from the newest calibration of the same
/// category (within [`STALE_DAYS`] of the as-of day) while the current calibration is computed
/// on another thread; the response says which calibration it used, and the next request after
/// it lands uses the current one. A new incident's windows therefore appear as soon as the
/// server has reloaded.
#[derive(Debug)]
pub struct RiskCache {
    calibrations: BoundedCache<Calibrated, Calibration>,
    in_flight: Mutex<CalibrationQueue>,
    layers: BoundedCache<LayerKey, RiskLayer>,
}

impl Default for RiskCache {
    fn default() -> Self {
        Self {
            calibrations: BoundedCache::entries(CALIBRATIONS_KEPT),
            in_flight: Mutex::default(),
            layers: BoundedCache::entries(LAYERS_KEPT),
        }
    }
}

impl RiskCache {
    /// The newest calibration whose key `pick` accepts.
    fn find(
        &self,
        pick: impl Fn(&CalibrationKey) -> bool,
    ) -> Option<(CalibrationKey, Arc<Calibration>)> {
        self.calibrations
            .find_newest(|k| pick(&k.0))
            .map(|(k, c)| (k.0, c))
    }

    fn store(&self, key: CalibrationKey, calibration: Arc<Calibration>) {
        if self.calibrations.get(&Calibrated(key)).is_none() {
            self.calibrations.insert(Calibrated(key), calibration);
        }
    }

    /// Queues the calibration of `key` on `snap` for the one background calibration thread,
    /// starting it when none runs. A queued calibration of the same category and as-of day for
    /// an older data version is replaced (the newer data supersede it), and at most
    /// [`PENDING_KEPT`] wait, so a stream of imports runs one calibration at a time, never one
    /// per data version at once (each holds up to `risk::calibration_bound_bytes`, about
    /// 22 MiB, and takes seconds at 10M incidents).
    fn calibrate_in_background(self: &Arc<Self>, snap: &Arc<Snapshot>, key: CalibrationKey) {
        let start = {
            let mut queue = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            queue.enqueue(key, snap)
        };
        if !start {
            return;
        }
        let cache = Arc::clone(self);
        // At the lowest priority, so a calibration never slows the map's requests.
        let spawned =
            crate::background::spawn("risk-calibration", move || cache.calibrate_pending());
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start a risk calibration thread");
            let mut queue = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            queue.running = None;
            queue.pending.clear();
        }
    }

    /// The background thread: calibrates queued keys one after another until none is left.
    fn calibrate_pending(&self) {
        loop {
            let next = {
                let mut queue = self
                    .in_flight
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let next = queue.pending.pop_front();
                queue.running = next.as_ref().map(|(k, _)| *k);
                next
            };
            let Some((key, snap)) = next else { return };
            let (_, category, as_of) = key;
            let settings = RiskSettings::default();
            // The snapshot is let go once its sample is drawn: a calibration at the lowest
            // priority may take long under load, and must not keep replaced indexes alive.
            let (calibrated, account) = crate::analysis::budget::measure(|_| {
                let sample = study_sample(&snap.incidents, category, as_of, &settings);
                drop(snap);
                sample?.calibrate()
            });
            match calibrated {
                Ok(c) => {
                    tracing::info!(peak_bytes = account.peak(), %as_of, "risk calibrated");
                    self.store(key, Arc::new(c));
                }
                Err(e) => tracing::error!(error = %e, "risk calibration failed"),
            }
        }
    }
}

/// Background calibrations waiting for the calibration thread.
const PENDING_KEPT: usize = 8;

/// The background calibration thread's work: the key it calibrates and those waiting, each
/// with the snapshot to read.
#[derive(Debug, Default)]
struct CalibrationQueue {
    running: Option<CalibrationKey>,
    pending: VecDeque<(CalibrationKey, Arc<Snapshot>)>,
}

impl CalibrationQueue {
    /// Queues `key` on `snap`; true when the calibration thread must be started (none runs,
    /// and `key`'s turn is next).
    fn enqueue(&mut self, key: CalibrationKey, snap: &Arc<Snapshot>) -> bool {
        if self.running == Some(key) {
            return false;
        }
        // Queued already: wait with the newer snapshot (same data version, same answers), so
        // the queue never keeps a replaced one alive (after a merge step, the old one holds the
        // chunks it replaced).
        if let Some(waiting) = self.pending.iter_mut().find(|(k, _)| *k == key) {
            waiting.1 = Arc::clone(snap);
            return false;
        }
        let (_, category, as_of) = key;
        self.pending
            .retain(|((_, c, day), _)| !(*c == category && *day == as_of));
        if self.pending.len() >= PENDING_KEPT {
            self.pending.pop_front();
        }
        self.pending.push_back((key, Arc::clone(snap)));
        let idle = self.running.is_none();
        if idle {
            self.running = self.pending.front().map(|(k, _)| *k);
        }
        idle
    }
}

/// Starts the default calibrations of a new snapshot (all categories, the default as-of day
/// for analysts and its month's first day for aggregate roles), so the first request after a
/// reload finds them ready or on their way.
pub fn warm(cache: &Arc<RiskCache>, snap: &Arc<Snapshot>) {
    if let Some(as_of) = default_as_of(snap) {
        for day in [as_of, releases::snap_as_of(as_of)] {
            let key = (snap.data_version, None, day);
            if cache.find(|k| *k == key).is_none() {
                cache.calibrate_in_background(snap, key);
            }
        }
    }
}

/// Heap bytes the projection holds per recent incident at most: its events (24 bytes), the
/// selected ones (8, twice while growing) and their points (24), planar positions (16), and
/// the window hits of the bands (up to 2 time bands over the dozen res-9 cells within the
/// 600 m of the default bands, 16 bytes each, twice while growing), the cell centres and the
/// windows, rounded up.
const PROJECTION_BYTES_PER_EVENT: u64 = 1_024;

/// Heap bytes a calibration holds per pending tombstone of its study period: the tombstoned
/// event, its key and its count (`IncidentLayer::for_each_day_event`), rounded up.
const BYTES_PER_TOMBSTONE: u64 = 128;

/// Upper estimate of the memory of a risk layer for `as_of` (for admission): a calibration
/// computed on the spot, at most [`calibration_bound_bytes`] (about 22 MiB, whatever the
/// number of incidents: it streams the study period into a sample of at most
/// `MAX_STUDY_SAMPLE` events and keeps at most `CALIBRATION_PAIR_BUDGET_BYTES` of close pairs)
/// plus the pending tombstones it sets aside, and the projection's
/// [`PROJECTION_BYTES_PER_EVENT`] for each incident of the recent days (counted from above,
/// `IncidentLayer::day_events_at_most`, in microseconds). At 10M incidents (3.0M a year known
/// to the day) that is about 22 MiB plus 230,000 × 1 KiB.
pub fn estimate_bytes(snap: &Snapshot, as_of: Day) -> u64 {
    let settings = RiskSettings::default();
    let recent = snap.incidents.day_events_at_most(
        as_of.minus_days(settings.recent_days.saturating_sub(1)),
        as_of,
    ) as u64;
    (calibration_bound_bytes(&settings) as u64)
        .saturating_add((snap.incidents.tombstones() as u64).saturating_mul(BYTES_PER_TOMBSTONE))
        .saturating_add(recent.saturating_mul(PROJECTION_BYTES_PER_EVENT))
}

/// The default as-of day: the last day with an incident known to the day (the data's "today").
pub fn default_as_of(snap: &Snapshot) -> Option<Day> {
    snap.incidents.last_known_day()
}

/// The study sample of a calibration of `category` on `as_of`, drawn while the study period's
/// events stream out of `layer`: the period is never held, only the sample (issue 15, point 2).
fn study_sample(
    layer: &IncidentLayer,
    category: Option<Category>,
    as_of: Day,
    settings: &RiskSettings,
) -> AnalysisResult<StudySample> {
    let mut sample = StudySample::new(category, as_of, settings)?;
    let (from, to) = sample.period();
    layer.for_each_day_event(from, to, |e| sample.offer(e));
    Ok(sample)
}

/// The calibration of `category` on `as_of` over the incidents of `layer`: the same as
/// [`calibrate`] over `layer.day_events` of the study period, within
/// [`calibration_bound_bytes`] whatever the number of incidents.
fn calibration_of(
    layer: &IncidentLayer,
    category: Option<Category>,
    as_of: Day,
    settings: &RiskSettings,
) -> AnalysisResult<Calibration> {
    study_sample(layer, category, as_of, settings)?.calibrate()
}

/// The risk layer for `category` and `as_of` on `snap`: projected from the current
/// calibration, or from a recent one while the current one is computed (see [`RiskCache`]).
///
/// Returns the layer and whether its calibration is the current one (this data version and
/// as-of day).
pub fn risk_result(
    cache: &Arc<RiskCache>,
    snap: &Arc<Snapshot>,
    category: Option<Category>,
    as_of: Day,
) -> ServiceResult<(Arc<RiskLayer>, bool)> {
    let settings = RiskSettings::default();
    let key = (snap.data_version, category, as_of);
    let exact = cache.find(|k| *k == key);
    let (calibration_key, calibration) = if let Some(found) = exact {
        found
    } else if let Some(found) = cache.find(|&k| usable(k, category, as_of)) {
        cache.calibrate_in_background(snap, key);
        found
    } else {
        let c = Arc::new(calibration_of(&snap.incidents, category, as_of, &settings)?);
        cache.store(key, Arc::clone(&c));
        (key, c)
    };
    let layer =
        cache
            .layers
            .get_or_compute(LayerKey(calibration_key, snap.data_version, as_of), || {
                let recent = snap.incidents.day_events(
                    as_of.minus_days(settings.recent_days.saturating_sub(1)),
                    as_of,
                );
                project(&recent, as_of, &settings, &calibration)
            })?;
    Ok((layer, calibration_key == key))
}

/// The data version of the calibration [`risk_result`] would use now for `category` and
/// `as_of`: the snapshot's own when it is ready (or when none is usable and it would be
/// computed on the spot), else the newest usable older one.
pub fn calibration_version(
    cache: &RiskCache,
    snap: &Snapshot,
    category: Option<Category>,
    as_of: Day,
) -> u64 {
    let key = (snap.data_version, category, as_of);
    if cache.find(|k| *k == key).is_some() {
        return snap.data_version;
    }
    cache
        .find(|&k| usable(k, category, as_of))
        .map_or(snap.data_version, |((version, _, _), _)| version)
}

/// True when a calibration of `key` may stand in for `category` on `as_of`.
fn usable((_, c, day): CalibrationKey, category: Option<Category>, as_of: Day) -> bool {
    c == category && day <= as_of && as_of.days_since_epoch() - day.days_since_epoch() <= STALE_DAYS
}

/// The windows an aggregate role may see.
pub fn coarse_windows(
    layer: &RiskLayer,
    snap: &Snapshot,
    policy: &DisclosurePolicy,
) -> ServiceResult<Vec<CoarseRiskCell>> {
    let base = Sensitivity::for_category(layer.category);
    let recent = snap.incidents.day_events(
        layer
            .as_of
            .minus_days(layer.settings.recent_days.saturating_sub(1)),
        layer.as_of,
    );
    let weeks = coarsen(layer, &recent, COARSE_RES, |child| {
        let sensitivity = if child { Sensitivity::Children } else { base };
        policy.threshold(sensitivity)
    })?;
    // Whole calendar months (safeguards::releases): with `as_of` snapped to the 1st, nothing
    // in the layer moves within a month.
    let spans: Vec<(h3o::CellIndex, Day, Day, f64)> = weeks
        .iter()
        .map(|w| (w.h3, w.from, w.to, w.knox_ratio))
        .collect();
    Ok(releases::merge_months(&spans)
        .into_iter()
        .map(|(h3, from, to, knox_ratio)| CoarseRiskCell {
            h3,
            from,
            to,
            knox_ratio,
        })
        .collect())
}

/// The as-of day a caller is answered for: the day itself for exact roles, the first day of
/// its month for aggregate roles (`safeguards::releases`), so stepping `as_of` a day at a time
/// cannot time an incident within the month.
pub fn served_as_of(as_of: Day, class: DisclosureClass) -> Day {
    match class {
        DisclosureClass::Controlled => releases::snap_as_of(as_of),
        DisclosureClass::Exact => as_of,
    }
}

/// The tile layer: per cell, the window in force on `as_of` or the next to start; counts for
/// exact roles, none for aggregate ones (`coarse`).
pub fn tile_layer(layer: &RiskLayer, coarse: Option<&[CoarseRiskCell]>) -> RiskTileLayer {
    let (res, drawn): (Resolution, Vec<(h3o::CellIndex, RiskValue)>) = match coarse {
        None => (
            layer.settings.res,
            current_windows(&layer.windows, layer.as_of, |w| (w.h3, w.from, w.to))
                .into_iter()
                .map(|w| {
                    (
                        w.h3,
                        risk_value(w.from, w.to, w.knox_ratio, HexCount::Value(w.incidents)),
                    )
                })
                .collect(),
        ),
        Some(coarse) => (
            COARSE_RES,
            current_windows(coarse, layer.as_of, |w| (w.h3, w.from, w.to))
                .into_iter()
                .map(|w| {
                    (
                        w.h3,
                        risk_value(w.from, w.to, w.knox_ratio, HexCount::Suppressed),
                    )
                })
                .collect(),
        ),
    };
    RiskTileLayer::new(res, drawn.into_iter().collect())
}

fn risk_value(from: Day, to: Day, knox_ratio: f64, count: HexCount) -> RiskValue {
    RiskValue {
        from,
        to,
        knox_ratio,
        count,
    }
}

#[cfg(test)]
#[path = "risk_tests.rs"]
mod tests;
