//! Live near-repeat risk windows (issue 6, point 4): the layer an analyst or planner sees
//! after each new incident — the H3 cells and days where a further incident is more likely
//! than chance, because incidents near in space and time were more common than chance over
//! the past year.
//!
//! Two steps, both from [`super::knox`]:
//!
//! 1. **Calibration.** The multi-band Knox test over the incidents of the `study_days` up to
//!    `as_of` (seeded Monte Carlo date permutation) gives the space-time bands where pairs are
//!    significantly more common than chance ([`super::knox::KnoxResult::elevated_bands`]).
//! 2. **Projection.** Every incident of the `recent_days` up to `as_of` projects those bands
//!    forward: the cells whose centre lies in a band's distance range, on the incident's day
//!    plus the band's days ([`super::knox::risk_windows`]). Windows that ended before `as_of`
//!    are dropped.
//!
//! Only incidents with a known day take part: month-precision records (data.police.uk) carry
//! the first of the month, which would fake same-day pairs. Places and days only: an event is
//! a location and a day, never a person.
//!
//! # Memory
//!
//! A calibration holds at most [`calibration_bound_bytes`] (about 22 MiB with the default
//! settings), whatever the number of incidents (issue 15, point 2): the study period streams
//! past a [`StudySample`] (fed by `IncidentLayer::for_each_day_event`, which holds no event
//! but the few tombstoned ones), the sample keeps at most [`MAX_STUDY_SAMPLE`] events, and the
//! Knox run keeps at most [`CALIBRATION_PAIR_BUDGET_BYTES`] of close pairs, listing the rest in
//! further passes with the same result. [`calibrate`] over a slice holds the same beside its
//! input. Measured: 8.5 MB on 300,000 and on 600,000 study events spread over 2,000 km²
//! (a unit test of `service::risk`), where reading them into a vector first held 15.7 and
//! 22.9 MB.
//!
//! For aggregate roles, [`coarsen`] turns the windows into coarser cells and whole weeks and
//! keeps a cell only when enough distinct incidents stand behind it (safeguards S21); the API
//! then widens them to whole calendar months for an `as_of` snapped to the 1st
//! ([`crate::safeguards::releases`]).

use std::collections::BTreeMap;

use h3o::{CellIndex, Resolution};
use serde::Serialize;

use super::kde::to_bng;
use super::knox::{
    DistanceMetric, KnoxMode, KnoxSettings, RiskBand, SpaceTimePoint, knox_with_pair_budget,
    risk_windows,
};
use super::{AnalysisError, AnalysisResult, serialize_cell};
use crate::domain::{Category, Day, DayEvent, LonLat};

/// Settings of the live risk layer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RiskSettings {
    /// The Knox test that calibrates the bands.
    pub knox: KnoxSettings,
    /// Days of history the Knox test uses, ending on `as_of`.
    pub study_days: u16,
    /// Incidents of this many days up to `as_of` project risk forward.
    pub recent_days: u16,
    /// Largest Monte Carlo p of a band that counts as elevated.
    pub alpha: f64,
    /// Smallest Knox ratio of a band that is projected: an effect-size floor, so a band that
    /// is significant only because the data are many (1.05 times chance, say) does not paint
    /// whole districts.
    pub min_ratio: f64,
    /// H3 resolution of the windows.
    #[serde(serialize_with = "serialize_res")]
    pub res: Resolution,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's serialize_with passes a reference"
)]
fn serialize_res<S: serde::Serializer>(res: &Resolution, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u8(u8::from(*res))
}

impl Default for RiskSettings {
    /// 200 m × 3 bands and 7 days × 2 bands (the Near Repeat Calculator's usual burglary
    /// set-up, in correct mode), 99 permutations with seed 1, a year of history, four weeks
    /// of recent incidents, α = 0.05, bands at least 1.2 times chance (20 % more close pairs
    /// than expected), resolution 9 (cells about 350 m across).
    fn default() -> Self {
        Self {
            knox: KnoxSettings {
                space_band_m: 200.0,
                space_bands: 3,
                time_band_days: 7,
                time_bands: 2,
                metric: DistanceMetric::Euclidean,
                mode: KnoxMode::Correct,
                permutations: 99,
                seed: 1,
            },
            study_days: 365,
            recent_days: 28,
            alpha: 0.05,
            min_ratio: 1.2,
            res: Resolution::Nine,
        }
    }
}

/// One window of elevated risk in one cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskCell {
    /// The cell.
    #[serde(serialize_with = "serialize_cell")]
    pub h3: CellIndex,
    /// First day of elevated risk.
    pub from: Day,
    /// Last day of elevated risk.
    pub to: Day,
    /// Largest Knox ratio of the bands behind the window.
    pub knox_ratio: f64,
    /// Distinct recent incidents behind the window (exact; see [`coarsen`] for aggregate
    /// roles).
    pub incidents: u32,
    /// True when one of those incidents involves a child.
    #[serde(skip)]
    pub involves_child: bool,
}

/// The live risk layer for one `as_of` day and category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskLayer {
    /// Every setting used.
    pub settings: RiskSettings,
    /// The day the layer is for.
    pub as_of: Day,
    /// The category, or all.
    pub category: Option<Category>,
    /// Incidents in the Knox study period.
    pub study_incidents: usize,
    /// Incidents projecting risk (the recent period).
    pub recent_incidents: usize,
    /// The last day of the Knox study period the bands come from (`as_of`, or an earlier day
    /// while a newer calibration is being computed).
    pub calibrated_as_of: Day,
    /// The significant bands (empty when no near-repeat pattern is significant).
    pub bands: Vec<RiskBand>,
    /// The windows, sorted by cell then first day; none ended before `as_of`.
    pub windows: Vec<RiskCell>,
    /// Conditions the analyst should know about.
    pub warnings: Vec<String>,
}

/// Fewest incidents a Knox calibration is run on.
pub const MIN_STUDY_INCIDENTS: usize = 20;

/// Most incidents one calibration tests. Close pairs grow with the square of the incidents in
/// an area: a year of the 10M-incident demo (3.0M incidents known to the day) holds about 85
/// billion pairs within the bands, so its Knox test would run for days. Above this many, the
/// study period's incidents are sampled uniformly (a seeded hash of each incident's day,
/// position and category, so the sample does not depend on the order they come in) and the
/// warnings say so. Sampling a share q of the events keeps q² of the pairs in every cell of
/// the table, observed and expected alike, so the Knox ratios are estimated without bias; the
/// p-values lose power, which at 30,000 incidents is still ample for a year of data.
pub const MAX_STUDY_SAMPLE: usize = 30_000;

/// Bytes of close pairs a calibration's Knox run keeps in memory before it lists them in
/// passes ([`super::knox::knox_with_pair_budget`]; the result is the same for every budget):
/// 16 MiB, about 1.9 million pairs. A year of the 10M-incident demo sampled to
/// [`MAX_STUDY_SAMPLE`] holds about 8.5 million close pairs, so the calibration lists them in
/// five passes instead of two under the 64 MiB of [`super::knox::PAIR_BUDGET_BYTES`]; the
/// extra passes replay 99 shuffles of 30,000 days each, which cost little beside visiting the
/// pairs: on 30,000 events with 9.6 million close pairs (release build, medians of five runs)
/// 3.03 s in 6 passes against 3.05 s in 2, with a Knox peak of 17.5 MB against 67.8 MB
/// (`ARCHITECTURE.md`, "Near-repeat calibration memory").
pub const CALIBRATION_PAIR_BUDGET_BYTES: usize = 16 << 20;

/// Heap bytes a calibration holds per sampled event at most, besides its pairs: the sample
/// while it is drawn (a 64-bit key and the 24-byte event, 32 bytes, with room to grow to
/// twice that), its planar positions (16) and points (24), and what the Knox run holds per
/// event (40; `analysis::knox`, "Memory"), rounded up.
const BYTES_PER_SAMPLED_EVENT: usize = 192;

/// The most heap one calibration holds with `settings` (what [`calibrate`] and
/// [`StudySample::calibrate`] allocate while they run, their input aside): the pair budget
/// [`CALIBRATION_PAIR_BUDGET_BYTES`], [`BYTES_PER_SAMPLED_EVENT`] for each of at most
/// [`MAX_STUDY_SAMPLE`] sampled events, the Knox run's permuted tables and gap lookup, and
/// 64 KiB for the result. About 22 MiB with the default settings, whatever the number of
/// incidents; a streamed read of the study period ([`StudySample::offer`] fed by
/// `IncidentLayer::for_each_day_event`) adds only the pending tombstones of the period.
pub fn calibration_bound_bytes(settings: &RiskSettings) -> usize {
    let k = &settings.knox;
    let tables = (k.permutations as usize)
        .saturating_mul(k.space_bands as usize + 2)
        .saturating_mul(k.time_bands as usize + 1)
        .saturating_mul(8);
    CALIBRATION_PAIR_BUDGET_BYTES
        .saturating_add(MAX_STUDY_SAMPLE * BYTES_PER_SAMPLED_EVENT)
        .saturating_add(tables)
        .saturating_add(2 * (64 << 10))
}

/// An event kept by a [`StudySample`], with its sample key. Ordered by key, then by the
/// event's canonical order, so the largest key kept is on top of the heap and equal keys
/// (equal events, or a 64-bit collision) are broken by the event itself: which events are
/// kept never depends on the order they come in.
#[derive(Debug, Clone, Copy)]
struct Kept {
    key: u64,
    event: DayEvent,
}

impl Kept {
    fn rank(&self) -> (u64, (Day, u64, u64, u8, bool)) {
        (self.key, canonical(&self.event))
    }
}

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.rank() == other.rank()
    }
}

impl Eq for Kept {}

impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Kept {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

/// The kept events: in the order they came while there are at most `max`, then a heap of
/// the `max` smallest keys.
#[derive(Debug)]
enum Sampled {
    Arriving(Vec<Kept>),
    Heap(std::collections::BinaryHeap<Kept>),
}

/// The study period's events of one calibration, drawn while they stream past: at most
/// [`MAX_STUDY_SAMPLE`] of the events in the period and category (all of them when there are
/// no more), chosen by a seeded hash of each event, so the same events give the same sample
/// in any order. Holds the sample only (32 bytes an event, about 1 MB), never the period: at
/// 10M incidents a year is 3.0M events, 72 MB as a vector (issue 15, point 2).
///
/// Feed it with [`Self::offer`] (events outside the period or category are skipped), then
/// [`Self::calibrate`].
#[derive(Debug)]
pub struct StudySample {
    settings: RiskSettings,
    category: Option<Category>,
    from: Day,
    as_of: Day,
    max: usize,
    total: usize,
    kept: Sampled,
}

impl StudySample {
    /// An empty sample of the `study_days` up to `as_of` in `category` (all when `None`).
    ///
    /// # Errors
    ///
    /// As [`calibrate`].
    pub fn new(
        category: Option<Category>,
        as_of: Day,
        settings: &RiskSettings,
    ) -> AnalysisResult<Self> {
        check(settings)?;
        Ok(Self::with_max(category, as_of, settings, MAX_STUDY_SAMPLE))
    }

    /// [`Self::new`] with at most `max` events kept, settings unchecked.
    pub(crate) fn with_max(
        category: Option<Category>,
        as_of: Day,
        settings: &RiskSettings,
        max: usize,
    ) -> Self {
        Self {
            settings: *settings,
            category,
            from: as_of.minus_days(settings.study_days.saturating_sub(1)),
            as_of,
            max,
            total: 0,
            kept: Sampled::Arriving(Vec::new()),
        }
    }

    /// The first and last day of the study period: the days a reader streams.
    pub fn period(&self) -> (Day, Day) {
        (self.from, self.as_of)
    }

    /// Events of the period and category offered so far.
    pub fn study_incidents(&self) -> usize {
        self.total
    }

    /// Takes `e` into account: skipped when outside the period or category, else counted and
    /// kept while its key is among the `max` smallest.
    pub fn offer(&mut self, e: &DayEvent) {
        if e.day < self.from || e.day > self.as_of || self.category.is_some_and(|c| e.category != c)
        {
            return;
        }
        self.total += 1;
        let item = Kept {
            key: sample_key(e, self.settings.knox.seed),
            event: *e,
        };
        match &mut self.kept {
            Sampled::Arriving(v) if v.len() < self.max => {
                if v.len() == v.capacity() {
                    // Doubling, but never past the cap.
                    let room = v.len().max(1024).min(self.max - v.len());
                    v.reserve_exact(room);
                }
                v.push(item);
            }
            Sampled::Arriving(v) => {
                // One more than the cap: from now on only the smallest keys are kept (a heap
                // built in place, no copy).
                let mut heap = std::collections::BinaryHeap::from(std::mem::take(v));
                push_smaller(&mut heap, item);
                self.kept = Sampled::Heap(heap);
            }
            Sampled::Heap(heap) => push_smaller(heap, item),
        }
    }

    /// The sample and the number of events offered in the period: in the order they came when
    /// none was left out, else in the canonical order (day, position, category).
    fn finish(self) -> (Vec<DayEvent>, usize) {
        let sample = match self.kept {
            Sampled::Arriving(v) => v.into_iter().map(|k| k.event).collect(),
            Sampled::Heap(heap) => {
                let mut v: Vec<DayEvent> = heap.into_iter().map(|k| k.event).collect();
                v.sort_unstable_by_key(canonical);
                v
            }
        };
        (sample, self.total)
    }

    /// The calibration of the sample, with its events in the canonical order whatever order
    /// they came in: the same as [`calibrate`] over the period's events in the canonical order
    /// (as `IncidentLayer::day_events` gives them), bit for bit. Holds at most
    /// [`calibration_bound_bytes`].
    ///
    /// # Errors
    ///
    /// As [`calibrate`].
    pub fn calibrate(self) -> AnalysisResult<Calibration> {
        let (category, as_of, settings) = (self.category, self.as_of, self.settings);
        let (mut study, total) = self.finish();
        // Equal keys are equal events, so an unstable sort gives one order.
        study.sort_unstable_by_key(canonical);
        calibrate_sample(&study, total, category, as_of, &settings)
    }
}

/// Pushes `item` into `heap` (full) when its key is below the largest kept, dropping that.
fn push_smaller(heap: &mut std::collections::BinaryHeap<Kept>, item: Kept) {
    if let Some(mut top) = heap.peek_mut()
        && item < *top
    {
        *top = item;
    }
}

/// At most `max` of the events `study` selects (all of them, in order, when there are no more),
/// chosen by a seeded hash of each event (so the same events give the same sample in any
/// order), in one canonical order (day, position, category); with how many `study` selects.
/// A [`StudySample`] over a slice.
#[cfg(test)]
fn sample_study(
    events: &[DayEvent],
    study: impl Fn(&DayEvent) -> bool,
    max: usize,
    seed: u64,
) -> (Vec<DayEvent>, usize) {
    let settings = RiskSettings {
        knox: KnoxSettings {
            seed,
            ..RiskSettings::default().knox
        },
        study_days: u16::MAX,
        ..RiskSettings::default()
    };
    let mut sample = StudySample::with_max(None, Day::MAX, &settings, max);
    for e in events.iter().filter(|e| study(e)) {
        sample.offer(e);
    }
    sample.finish()
}

/// The seeded hash that decides whether an event is in the sample.
fn sample_key(e: &DayEvent, seed: u64) -> u64 {
    let mut h = seed ^ 0x9E37_79B9_7F4A_7C15;
    for word in [
        u64::from(e.day.days_since_epoch()),
        e.at.lon().to_bits(),
        e.at.lat().to_bits(),
        u64::from(e.category.code()) << 1 | u64::from(e.involves_child),
    ] {
        h = crate::synthetic::rng::splitmix64(&mut (h ^ word));
    }
    h
}

/// The sample's order: day, position, category.
fn canonical(e: &DayEvent) -> (Day, u64, u64, u8, bool) {
    (
        e.day,
        e.at.lon().to_bits(),
        e.at.lat().to_bits(),
        e.category.code(),
        e.involves_child,
    )
}

/// The Knox calibration of a risk layer: the elevated bands of the study period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    /// The last day of the study period.
    pub as_of: Day,
    /// The category, or all.
    pub category: Option<Category>,
    /// Incidents in the study period.
    pub study_incidents: usize,
    /// The significant bands (empty when no near-repeat pattern is significant).
    pub bands: Vec<RiskBand>,
    /// Conditions the analyst should know about.
    pub warnings: Vec<String>,
}

fn check(settings: &RiskSettings) -> AnalysisResult<()> {
    if settings.study_days == 0 || settings.recent_days == 0 {
        return Err(AnalysisError::invalid(
            "days",
            "study_days and recent_days must be at least 1",
        ));
    }
    if !(settings.alpha > 0.0 && settings.alpha < 1.0) {
        return Err(AnalysisError::invalid("alpha", "must be in (0, 1)"));
    }
    if !(settings.min_ratio.is_finite() && settings.min_ratio >= 1.0) {
        return Err(AnalysisError::invalid("min_ratio", "must be at least 1"));
    }
    Ok(())
}

fn selected(events: &[DayEvent], category: Option<Category>, from: Day, to: Day) -> Vec<&DayEvent> {
    events
        .iter()
        .filter(|e| e.day >= from && e.day <= to && category.is_none_or(|c| e.category == c))
        .collect()
}

/// Step 1: the Knox test over the `study_days` up to `as_of` and its elevated bands.
///
/// # Errors
///
/// [`AnalysisError::InvalidSetting`] for bad Knox settings, `recent_days` or `study_days` of 0,
/// or `alpha` outside (0, 1).
pub fn calibrate(
    events: &[DayEvent],
    category: Option<Category>,
    as_of: Day,
    settings: &RiskSettings,
) -> AnalysisResult<Calibration> {
    calibrate_capped(events, category, as_of, settings, MAX_STUDY_SAMPLE)
}

/// [`calibrate`] with at most `max` events tested.
pub(crate) fn calibrate_capped(
    events: &[DayEvent],
    category: Option<Category>,
    as_of: Day,
    settings: &RiskSettings,
    max: usize,
) -> AnalysisResult<Calibration> {
    check(settings)?;
    let mut sample = StudySample::with_max(category, as_of, settings, max);
    for e in events {
        sample.offer(e);
    }
    let (study, total) = sample.finish();
    calibrate_sample(&study, total, category, as_of, settings)
}

/// [`calibrate`] on the sample `study` of the `study_incidents` events of the period.
fn calibrate_sample(
    study: &[DayEvent],
    study_incidents: usize,
    category: Option<Category>,
    as_of: Day,
    settings: &RiskSettings,
) -> AnalysisResult<Calibration> {
    let mut warnings = Vec::new();
    if study.len() < study_incidents {
        warnings.push(format!(
            "calibrated on a uniform sample of {} of the {study_incidents} incidents with a known day in the {} days to {as_of} (at most {MAX_STUDY_SAMPLE} are tested): the Knox ratios are estimated from the sample",
            study.len(),
            settings.study_days
        ));
    }
    let bands = if study.len() < MIN_STUDY_INCIDENTS {
        warnings.push(format!(
            "{} incidents with a known day in the {} days to {as_of}: at least {MIN_STUDY_INCIDENTS} are needed to test for near repeats, so no window is drawn",
            study.len(),
            settings.study_days
        ));
        Vec::new()
    } else {
        let xy = to_bng(study.iter().map(|e| e.at))?;
        let points: Vec<SpaceTimePoint> = study
            .iter()
            .zip(&xy)
            .map(|(e, p)| SpaceTimePoint {
                x_m: p[0],
                y_m: p[1],
                day: e.day,
            })
            .collect();
        let result = knox_with_pair_budget(&points, &settings.knox, CALIBRATION_PAIR_BUDGET_BYTES)?;
        warnings.extend(result.warnings.iter().cloned());
        let mut bands = result.elevated_bands(settings.alpha);
        let significant = bands.len();
        bands.retain(|b| b.knox_ratio >= settings.min_ratio);
        if bands.is_empty() {
            warnings.push(format!(
                "no space-time band is significant at alpha {} with a Knox ratio of at least {}: no near-repeat pattern to project",
                settings.alpha, settings.min_ratio
            ));
        } else if bands.len() < significant {
            warnings.push(format!(
                "{} significant bands with a Knox ratio below {} are not projected",
                significant - bands.len(),
                settings.min_ratio
            ));
        }
        bands
    };
    Ok(Calibration {
        as_of,
        category,
        study_incidents,
        bands,
        warnings,
    })
}

/// Step 2: the windows of the incidents of the `recent_days` up to `as_of` under the bands of
/// `calibration` (which may be for an earlier day: the caller says so).
///
/// # Errors
///
/// As [`calibrate`], and [`AnalysisError::InvalidSetting`] when `calibration` is for another
/// category.
pub fn project(
    events: &[DayEvent],
    as_of: Day,
    settings: &RiskSettings,
    calibration: &Calibration,
) -> AnalysisResult<RiskLayer> {
    check(settings)?;
    let category = calibration.category;
    let recent = selected(
        events,
        category,
        as_of.minus_days(settings.recent_days - 1),
        as_of,
    );
    let points: Vec<(LonLat, Day)> = recent.iter().map(|e| (e.at, e.day)).collect();
    let bands = &calibration.bands;
    let raw = risk_windows(
        &points,
        bands,
        settings.res,
        settings.knox.metric,
        Some(as_of),
    )?;
    let child_cells = child_reach(&recent, bands, settings)?;
    let windows = raw
        .into_iter()
        .map(|w| RiskCell {
            involves_child: child_cells.contains(&w.h3),
            h3: w.h3,
            from: w.from,
            to: w.to,
            knox_ratio: w.knox_ratio,
            incidents: w.incidents,
        })
        .collect();
    Ok(RiskLayer {
        settings: *settings,
        as_of,
        category,
        study_incidents: calibration.study_incidents,
        recent_incidents: recent.len(),
        calibrated_as_of: calibration.as_of,
        bands: bands.clone(),
        windows,
        warnings: calibration.warnings.clone(),
    })
}

/// Computes the risk layer from `events` (any order) for `as_of` and `category`: [`calibrate`]
/// then [`project`].
///
/// # Errors
///
/// As [`calibrate`].
pub fn risk_layer(
    events: &[DayEvent],
    category: Option<Category>,
    as_of: Day,
    settings: &RiskSettings,
) -> AnalysisResult<RiskLayer> {
    let calibration = calibrate(events, category, as_of, settings)?;
    project(events, as_of, settings, &calibration)
}

/// Cells within reach of a recent incident involving a child.
fn child_reach(
    recent: &[&DayEvent],
    bands: &[RiskBand],
    settings: &RiskSettings,
) -> AnalysisResult<foldhash::HashSet<CellIndex>> {
    let child: Vec<(LonLat, Day)> = recent
        .iter()
        .filter(|e| e.involves_child)
        .map(|e| (e.at, e.day))
        .collect();
    let mut out = foldhash::HashSet::default();
    if child.is_empty() || bands.is_empty() {
        return Ok(out);
    }
    // Same projection with every band widened to the whole range of days: a superset.
    let wide: Vec<RiskBand> = bands
        .iter()
        .map(|b| RiskBand {
            from_days: 0,
            to_days: u32::from(settings.recent_days) + b.to_days,
            ..*b
        })
        .collect();
    for w in risk_windows(&child, &wide, settings.res, settings.knox.metric, None)? {
        out.insert(w.h3);
    }
    Ok(out)
}

/// A risk window as an aggregate role sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoarseRiskCell {
    /// The coarser cell.
    #[serde(serialize_with = "serialize_cell")]
    pub h3: CellIndex,
    /// Monday of the first week of elevated risk.
    pub from: Day,
    /// Sunday of the last week of elevated risk.
    pub to: Day,
    /// Largest Knox ratio, to one decimal place.
    pub knox_ratio: f64,
}

/// The windows of `layer` for aggregate roles: each window's cell replaced by its parent at
/// `res` (coarser than the layer's), its days widened to whole weeks (Monday to Sunday, so
/// an incident's day cannot be read off the first day), overlapping weeks of one cell merged,
/// and a coarse cell kept only when at least `threshold(involves_child)` distinct recent
/// incidents lie behind its windows — counted as the recent incidents whose own cell's
/// parent is that cell or one of its neighbours, an upper bound on who can reach it. No
/// count is published.
///
/// # Errors
///
/// [`AnalysisError::InvalidSetting`] when `res` is finer than the layer's resolution.
pub fn coarsen(
    layer: &RiskLayer,
    events: &[DayEvent],
    res: Resolution,
    threshold: impl Fn(bool) -> u32,
) -> AnalysisResult<Vec<CoarseRiskCell>> {
    if res > layer.settings.res {
        return Err(AnalysisError::invalid(
            "res",
            "the coarse resolution must not be finer than the layer's",
        ));
    }
    // Recent incidents per coarse cell (their own cell), for the threshold.
    let recent_from = layer.as_of.minus_days(layer.settings.recent_days - 1);
    let mut per_cell: BTreeMap<CellIndex, (u32, bool)> = BTreeMap::new();
    for e in events.iter().filter(|e| {
        e.day >= recent_from
            && e.day <= layer.as_of
            && layer.category.is_none_or(|c| e.category == c)
    }) {
        let cell = super::gistar::cell_of(e.at, res);
        let entry = per_cell.entry(cell).or_default();
        entry.0 += 1;
        entry.1 |= e.involves_child;
    }
    let mut weeks: BTreeMap<CellIndex, Vec<(Day, Day, f64, bool)>> = BTreeMap::new();
    for w in &layer.windows {
        let Some(parent) = w.h3.parent(res) else {
            continue;
        };
        let from = w.from.minus_days(u16::from(w.from.weekday_mon0()));
        let to = w.to.plus_days(6 - u16::from(w.to.weekday_mon0()));
        weeks
            .entry(parent)
            .or_default()
            .push((from, to, w.knox_ratio, w.involves_child));
    }
    let mut out = Vec::new();
    for (cell, mut list) in weeks {
        // Incidents behind the cell: those in it and its first ring (bands reach a few hundred
        // metres, a res-7 cell is over a kilometre across).
        let (mut n, mut child) = (0u32, false);
        for c in cell.grid_disk::<Vec<CellIndex>>(1) {
            if let Some(&(k, ch)) = per_cell.get(&c) {
                n += k;
                child |= ch;
            }
        }
        child |= list.iter().any(|w| w.3);
        if n < threshold(child) {
            continue;
        }
        list.sort_unstable_by_key(|w| (w.0, w.1));
        let mut current: Option<(Day, Day, f64)> = None;
        for (from, to, ratio, _) in list {
            match &mut current {
                Some(c) if from <= c.1.plus_days(1) => {
                    c.1 = c.1.max(to);
                    c.2 = c.2.max(ratio);
                }
                _ => {
                    if let Some((f, t, r)) = current.take() {
                        out.push(coarse(cell, f, t, r));
                    }
                    current = Some((from, to, ratio));
                }
            }
        }
        if let Some((f, t, r)) = current {
            out.push(coarse(cell, f, t, r));
        }
    }
    Ok(out)
}

fn coarse(h3: CellIndex, from: Day, to: Day, ratio: f64) -> CoarseRiskCell {
    CoarseRiskCell {
        h3,
        from,
        to,
        knox_ratio: (ratio * 10.0).round() / 10.0,
    }
}

/// The window of each cell to draw on a map for `as_of`: the one in force on that day, else
/// the next to start.
pub fn current_windows<'a, W>(
    windows: &'a [W],
    as_of: Day,
    key: impl Fn(&W) -> (CellIndex, Day, Day),
) -> Vec<&'a W> {
    let mut best: BTreeMap<CellIndex, &'a W> = BTreeMap::new();
    for w in windows {
        let (cell, from, to) = key(w);
        if to < as_of {
            continue;
        }
        match best.get(&cell) {
            Some(b) => {
                let (_, bf, _) = key(b);
                let b_now = bf <= as_of;
                let w_now = from <= as_of;
                if (w_now && !b_now) || (w_now == b_now && from < bf) {
                    best.insert(cell, w);
                }
            }
            None => {
                best.insert(cell, w);
            }
        }
    }
    best.into_values().collect()
}

#[cfg(test)]
#[path = "risk_tests.rs"]
mod tests;
