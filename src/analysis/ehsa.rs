//! Emerging hot spot analysis on a space-time cube of H3 cells (`analytics.md` §2; Esri
//! Create Space Time Cube and Emerging Hot Spot Analysis), and a simple before/after view.
//!
//! # The cube (`analytics.md` §2.1)
//!
//! A bin is (cell i, step t). Its value is the number (or weight) of events in the cell and
//! step; empty bins are 0. Locations are every cell of the study-area universe (our choice;
//! `drop_never_observed` removes cells with no event in any step). Steps:
//!
//! - **month**: calendar months, from the first day's month to the last day's (police.uk
//!   street data has month precision, so this is the natural step); a month only partly
//!   inside the window is flagged `partial`;
//! - **week**: 7-day steps. `end_time` (default) makes the last step end on the last day, so
//!   the first step may be partial; `start_time` makes the first step start on the first day.
//!
//! The window is the data's first..last day unless given.
//!
//! # Space-time Gi\* (`analytics.md` §2.2)
//!
//! The neighbours of bin (i, t) are the bins (j, s) with j in `grid_disk(i, k)` within the
//! universe (i included) and t − K ≤ s ≤ t: the time window looks **backwards only** and is
//! truncated at the first steps. Binary weights; X̄, S and n are taken over the **whole cube**
//! (n = cells × steps). FDR (`ArcGIS` procedure, [`super::fdr`]) runs across all bins of the
//! cube. The same undefined-z rules as [`super::gistar`] apply per bin.
//!
//! # Trend and categories (`analytics.md` §2.3, §2.4)
//!
//! Mann–Kendall runs on each cell's series of Gi\* z-scores (undefined z skipped) and, for
//! reference, on its raw counts. A step is hot when its bin is ≥ `hot_level` (default 2, i.e.
//! 95 % after FDR) and cold when ≤ −`hot_level`. [`classify`] applies the 17 categories in
//! the fixed order of `analytics.md` §2.4 (category order version [`CATEGORY_ORDER`]).
//!
//! # Before/after (simple change view)
//!
//! [`before_after`] compares counts in two windows per cell. Under "no change" the events of
//! a cell fall in the after window with probability q = after days / (before + after days),
//! so after ~ Binomial(before + after, q) given the total (the conditional test for two
//! Poisson rates); z is its normal approximation, `(after − n q) / sqrt(n q (1 − q))`, with
//! two-sided p and FDR bins as for Gi\*. Cells with no event in either window have z `None`.

use foldhash::{HashMap, HashMapExt};
use h3o::CellIndex;
use serde::Serialize;

use super::fdr;
use super::gistar::{CellUniverse, GlobalStats, Neighbours, two_sided_p};
use super::mann_kendall::{MannKendall, Trend, mann_kendall};
use super::{AnalysisError, AnalysisResult, SOFTWARE_VERSION, serialize_cell};
use crate::domain::Day;

/// Version label of the category evaluation order of `analytics.md` §2.4.
pub const CATEGORY_ORDER: &str = "saferplaces-ehsa-order-1 (analytics.md §2.4)";

/// Length of a cube step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepUnit {
    /// Seven days.
    Week,
    /// A calendar month.
    Month,
}

/// How weekly steps are aligned (monthly steps are calendar months).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Alignment {
    /// The last step ends on the last day (the first may be partial). `ArcGIS`'s default.
    EndTime,
    /// The first step starts on the first day (the last may be partial).
    StartTime,
}

/// How the cube is built.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CubeSettings {
    /// Step length.
    pub step: StepUnit,
    /// Alignment of weekly steps.
    pub alignment: Alignment,
    /// First day of the window (default: the first event's day).
    pub from: Option<Day>,
    /// Last day of the window (default: the last event's day).
    pub to: Option<Day>,
    /// Remove cells with no event in any step.
    pub drop_never_observed: bool,
}

impl Default for CubeSettings {
    fn default() -> Self {
        Self {
            step: StepUnit::Month,
            alignment: Alignment::EndTime,
            from: None,
            to: None,
            drop_never_observed: false,
        }
    }
}

/// One time step of the cube, days inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Step {
    /// First day.
    pub from: Day,
    /// Last day.
    pub to: Day,
    /// True when part of the step lies outside the window.
    pub partial: bool,
}

fn month_number(d: Day) -> i64 {
    let (y, m, _) = d.ymd();
    i64::from(y) * 12 + i64::from(m) - 1
}

/// The steps covering `first..=last` days.
///
/// # Errors
///
/// [`AnalysisError::InvalidSetting`] when `first` is after `last`.
pub fn cube_steps(
    step: StepUnit,
    alignment: Alignment,
    first: Day,
    last: Day,
) -> AnalysisResult<Vec<Step>> {
    if first > last {
        return Err(AnalysisError::invalid(
            "from",
            format!("{first} is after {last}"),
        ));
    }
    let mut out = Vec::new();
    match step {
        StepUnit::Month => {
            let mut m = first.month_start();
            loop {
                let next = m.plus_days(32).month_start();
                let end = if next > m {
                    next.minus_days(1)
                } else {
                    Day::MAX
                };
                out.push(Step {
                    from: m,
                    to: end,
                    partial: m < first || end > last,
                });
                if end >= last || next <= m {
                    break;
                }
                m = next;
            }
        }
        StepUnit::Week => {
            let span = u32::from(last.days_since_epoch()) - u32::from(first.days_since_epoch()) + 1;
            let t = span.div_ceil(7);
            let start = match alignment {
                // The first step starts 7t − span days before `first` (clamped at the epoch).
                Alignment::EndTime => i64::from(last.days_since_epoch()) - 7 * i64::from(t) + 1,
                Alignment::StartTime => i64::from(first.days_since_epoch()),
            };
            for s in 0..i64::from(t) {
                let a = start + 7 * s;
                let b = a + 6;
                let clamp =
                    |v: i64| Day::from_days_since_epoch(v.clamp(0, i64::from(u16::MAX)) as u16);
                out.push(Step {
                    from: clamp(a),
                    to: clamp(b),
                    partial: a < i64::from(first.days_since_epoch())
                        || b > i64::from(last.days_since_epoch()),
                });
            }
        }
    }
    Ok(out)
}

/// Position of `day` among `steps` (which are contiguous and ascending), if inside.
fn step_of(steps: &[Step], unit: StepUnit, day: Day) -> Option<usize> {
    let first = steps.first()?;
    let last = steps.last()?;
    if day < first.from || day > last.to {
        return None;
    }
    let t = match unit {
        StepUnit::Month => (month_number(day) - month_number(first.from)) as usize,
        StepUnit::Week => usize::from(day.days_since_epoch() - first.from.days_since_epoch()) / 7,
    };
    (t < steps.len()).then_some(t)
}

/// A space-time cube: counts per (cell, step), cell-major (`counts[i * T + t]`).
#[derive(Debug, Clone)]
pub struct SpaceTimeCube {
    universe: CellUniverse,
    steps: Vec<Step>,
    unit: StepUnit,
    counts: Vec<f64>,
    outside: f64,
    settings: CubeSettings,
}

impl SpaceTimeCube {
    /// Builds a cube from events given as (cell, day, weight).
    ///
    /// Events outside the universe or the window are counted in
    /// [`SpaceTimeCube::outside`], not binned.
    ///
    /// # Errors
    ///
    /// [`AnalysisError::NoData`] when there are no events and no window was given;
    /// [`AnalysisError::InvalidSetting`] for an inverted window or a bad weight.
    pub fn from_events(
        universe: &CellUniverse,
        events: &[(CellIndex, Day, f64)],
        settings: &CubeSettings,
    ) -> AnalysisResult<Self> {
        let first = settings
            .from
            .or_else(|| events.iter().map(|e| e.1).min())
            .ok_or_else(|| AnalysisError::NoData("no events and no window".to_owned()))?;
        let last = settings
            .to
            .or_else(|| events.iter().map(|e| e.1).max())
            .ok_or_else(|| AnalysisError::NoData("no events and no window".to_owned()))?;
        let steps = cube_steps(settings.step, settings.alignment, first, last)?;
        let t_len = steps.len();
        let mut counts = vec![0.0; universe.len() * t_len];
        let mut outside = 0.0;
        for (cell, day, w) in events {
            if !w.is_finite() || *w < 0.0 {
                return Err(AnalysisError::invalid(
                    "weight",
                    format!("{w} is not a finite non-negative weight"),
                ));
            }
            let in_window = *day >= first && *day <= last;
            match (
                universe.position(*cell),
                step_of(&steps, settings.step, *day),
            ) {
                (Some(i), Some(t)) if in_window => counts[i * t_len + t] += w,
                _ => outside += w,
            }
        }
        Ok(Self::finish(universe, steps, counts, outside, settings))
    }

    /// Builds a cube from counts already made per step (e.g. one
    /// [`crate::index::IncidentIndex::cell_counts`] query per step of [`cube_steps`]).
    ///
    /// # Errors
    ///
    /// [`AnalysisError::Mismatch`] when `per_step` and `steps` differ in length;
    /// [`AnalysisError::InvalidSetting`] for a negative or non-finite count.
    pub fn from_step_counts(
        universe: &CellUniverse,
        steps: Vec<Step>,
        per_step: &[Vec<(CellIndex, f64)>],
        settings: &CubeSettings,
    ) -> AnalysisResult<Self> {
        if per_step.len() != steps.len() {
            return Err(AnalysisError::Mismatch(format!(
                "{} count lists for {} steps",
                per_step.len(),
                steps.len()
            )));
        }
        let t_len = steps.len();
        let mut counts = vec![0.0; universe.len() * t_len];
        let mut outside = 0.0;
        for (t, list) in per_step.iter().enumerate() {
            for (cell, c) in list {
                if !c.is_finite() || *c < 0.0 {
                    return Err(AnalysisError::invalid(
                        "count",
                        format!("{c} is not a finite non-negative count"),
                    ));
                }
                match universe.position(*cell) {
                    Some(i) => counts[i * t_len + t] += c,
                    None => outside += c,
                }
            }
        }
        Ok(Self::finish(universe, steps, counts, outside, settings))
    }

    fn finish(
        universe: &CellUniverse,
        steps: Vec<Step>,
        counts: Vec<f64>,
        outside: f64,
        settings: &CubeSettings,
    ) -> Self {
        let t_len = steps.len();
        let (universe, counts) = if settings.drop_never_observed && t_len > 0 {
            let keep: Vec<bool> = counts
                .chunks(t_len)
                .map(|r| r.iter().any(|c| *c > 0.0))
                .collect();
            let mut kept_counts = Vec::new();
            for (row, k) in counts.chunks(t_len).zip(&keep) {
                if *k {
                    kept_counts.extend_from_slice(row);
                }
            }
            let mut it = keep.iter();
            let u = universe.retain(|_| it.next().copied().unwrap_or(false));
            (u, kept_counts)
        } else {
            (universe.clone(), counts)
        };
        Self {
            universe,
            steps,
            unit: settings.step,
            counts,
            outside,
            settings: *settings,
        }
    }

    /// The locations (after `drop_never_observed`).
    pub fn universe(&self) -> &CellUniverse {
        &self.universe
    }

    /// The steps.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Counts, cell-major: `counts()[i * steps().len() + t]`.
    pub fn counts(&self) -> &[f64] {
        &self.counts
    }

    /// Events outside the universe or the window (not binned).
    pub fn outside(&self) -> f64 {
        self.outside
    }

    /// Settings the cube was built with.
    pub fn settings(&self) -> &CubeSettings {
        &self.settings
    }

    /// Step unit.
    pub fn unit(&self) -> StepUnit {
        self.unit
    }
}

/// Space-time Gi\* of every bin, cell-major like the cube.
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceTimeGiStar {
    /// z per bin (`None` when undefined).
    pub z: Vec<Option<f64>>,
    /// Two-sided p per bin.
    pub p: Vec<Option<f64>>,
    /// Bin −3..=3 per bin (FDR across the cube when set).
    pub bin: Vec<i8>,
    /// Global statistics over the whole cube.
    pub stats: GlobalStats,
    /// FDR cut-offs (all `None` without FDR).
    pub fdr_cutoffs: [Option<f64>; 3],
}

/// Gi\* of every bin with a backward time window of `time_k` steps (`analytics.md` §2.2).
///
/// # Errors
///
/// [`AnalysisError::Mismatch`] when `neighbours` is not over the cube's cells.
pub fn space_time_gistar(
    cube: &SpaceTimeCube,
    neighbours: &Neighbours,
    time_k: u32,
    fdr_on: bool,
) -> AnalysisResult<SpaceTimeGiStar> {
    let l = cube.universe.len();
    let t_len = cube.steps.len();
    if neighbours.len() != l {
        return Err(AnalysisError::Mismatch(format!(
            "neighbours over {} cells for a cube of {l}",
            neighbours.len()
        )));
    }
    let x = &cube.counts;
    let stats = GlobalStats::of(x);
    let kk = time_k as usize;
    let mut z = vec![None; l * t_len];
    let mut spatial = vec![0.0; t_len];
    for i in 0..l {
        if i % 1024 == 0 {
            super::cancel::checkpoint()?;
        }
        spatial.fill(0.0);
        for &j in neighbours.of(i) {
            let row = &x[j as usize * t_len..(j as usize + 1) * t_len];
            for (s, v) in spatial.iter_mut().zip(row) {
                *s += v;
            }
        }
        let w_space = neighbours.count(i);
        // Backward window over steps max(0, t − K)..=t, summed directly so weighted counts
        // accumulate no rounding from a running difference.
        for t in 0..t_len {
            let lo = t.saturating_sub(kk);
            let window: f64 = spatial[lo..=t].iter().sum();
            let steps_in = (t - lo) as u32 + 1;
            z[i * t_len + t] = stats.z(window, w_space * steps_in);
        }
    }
    let p: Vec<Option<f64>> = z.iter().map(|v| v.map(two_sided_p)).collect();
    let bin = fdr::bins(&z, &p, fdr_on);
    let fdr_cutoffs = if fdr_on {
        fdr::fdr_cutoffs(&p)
    } else {
        [None; 3]
    };
    Ok(SpaceTimeGiStar {
        z,
        p,
        bin,
        stats,
        fdr_cutoffs,
    })
}

/// Settings of an emerging hot spot run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EhsaSettings {
    /// Spatial rings (k of `grid_disk`), default 1.
    pub k: u32,
    /// Neighbourhood time step K: steps back in the window, default 1.
    pub time_k: u32,
    /// Smallest |bin| that counts as a significant hot or cold step: 2 (95 %, default) or 1.
    pub hot_level: u8,
    /// Significance of the Mann–Kendall trend, default 0.05.
    pub alpha_trend: f64,
    /// FDR across the cube's bins (default true).
    pub fdr: bool,
    /// Include each cell's counts, z and bins per step in the output.
    pub include_series: bool,
}

impl Default for EhsaSettings {
    fn default() -> Self {
        Self {
            k: 1,
            time_k: 1,
            hot_level: 2,
            alpha_trend: 0.05,
            fdr: true,
            include_series: false,
        }
    }
}

/// The category label of a code −8..=8.
pub fn category_label(code: i8) -> &'static str {
    match code {
        1 => "new hot spot",
        2 => "consecutive hot spot",
        3 => "intensifying hot spot",
        4 => "persistent hot spot",
        5 => "diminishing hot spot",
        6 => "sporadic hot spot",
        7 => "oscillating hot spot",
        8 => "historical hot spot",
        -1 => "new cold spot",
        -2 => "consecutive cold spot",
        -3 => "intensifying cold spot",
        -4 => "persistent cold spot",
        -5 => "diminishing cold spot",
        -6 => "sporadic cold spot",
        -7 => "oscillating cold spot",
        -8 => "historical cold spot",
        _ => "no pattern detected",
    }
}

/// ⌈0.9 T⌉ in integers (0.9 × T in floating point can land just above an integer).
pub fn ninety_percent_of(t: usize) -> usize {
    (9 * t).div_ceil(10)
}

/// The category code (−8..=8, 0 = no pattern) of one location from its hot and cold step
/// flags and the Mann–Kendall trend of its z-scores, in the order of `analytics.md` §2.4.
/// `hot` and `cold` are parallel and in time order; a step is never both.
pub fn classify(hot: &[bool], cold: &[bool], trend: Trend) -> i8 {
    let t = hot.len().min(cold.len());
    if t == 0 {
        return 0;
    }
    let need = ninety_percent_of(t);
    let n_hot = hot[..t].iter().filter(|h| **h).count();
    let n_cold = cold[..t].iter().filter(|c| **c).count();
    // `same` is the state at the final step, `other` the opposite state; `up` is the trend
    // direction that intensifies `same`.
    let rule = |same: &[bool], other: &[bool], n_same: usize, up: Trend, down: Trend| -> i8 {
        let trailing = same.iter().rev().take_while(|s| **s).count();
        if n_same == 1 {
            1
        } else if n_same >= need {
            if trend == up {
                3
            } else if trend == down {
                5
            } else {
                4
            }
        } else if trailing >= 2 && trailing == n_same {
            2
        } else if other[..t - 1].iter().any(|o| *o) {
            7
        } else {
            6
        }
    };
    if hot[t - 1] {
        rule(
            &hot[..t],
            &cold[..t],
            n_hot,
            Trend::Increasing,
            Trend::Decreasing,
        )
    } else if cold[t - 1] {
        -rule(
            &cold[..t],
            &hot[..t],
            n_cold,
            Trend::Decreasing,
            Trend::Increasing,
        )
    } else if n_hot >= need {
        8
    } else if n_cold >= need {
        -8
    } else {
        0
    }
}

/// One location's emerging hot spot result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EhsaCell {
    /// The cell.
    #[serde(serialize_with = "serialize_cell")]
    pub h3: CellIndex,
    /// Category code −8..=8 (0 = no pattern; codes match the `ArcGIS` cube).
    pub category: i8,
    /// Category label.
    pub label: &'static str,
    /// Events over all steps.
    pub total: f64,
    /// Hot steps.
    pub n_hot: usize,
    /// Cold steps.
    pub n_cold: usize,
    /// z of the final step.
    pub final_z: Option<f64>,
    /// Bin of the final step.
    pub final_bin: i8,
    /// Mann–Kendall on the z series.
    pub trend: MannKendall,
    /// Direction of a significant z trend.
    pub trend_direction: Trend,
    /// Mann–Kendall on the raw counts (for reference).
    pub count_trend: MannKendall,
    /// Counts per step (only with `include_series`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub counts: Vec<f64>,
    /// z per step (only with `include_series`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub z: Vec<Option<f64>>,
    /// Bin per step (only with `include_series`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bins: Vec<i8>,
}

/// Every setting of an emerging hot spot run, echoed in its result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EhsaEcho {
    /// Always `emerging_hot_spot_analysis`.
    pub method: &'static str,
    /// H3 resolution.
    pub res: u8,
    /// The study area.
    pub study_area: super::gistar::StudyArea,
    /// Locations (cells) in the cube.
    pub locations: usize,
    /// Steps in the cube.
    pub steps: usize,
    /// Bins in the global window (n).
    pub n: usize,
    /// Cube settings.
    pub cube: CubeSettings,
    /// Whether the study area includes cells never observed.
    pub locations_rule: &'static str,
    /// Analysis settings.
    pub analysis: EhsaSettings,
    /// Weights description.
    pub weights: &'static str,
    /// Global window.
    pub global_window: &'static str,
    /// How p is computed.
    pub p_value: &'static str,
    /// `fdr_arcgis_across_cube` or `none`.
    pub correction: &'static str,
    /// Continuity correction of the Mann–Kendall Z.
    pub mann_kendall: &'static str,
    /// Category evaluation order.
    pub category_order: &'static str,
    /// Software version.
    pub software_version: &'static str,
}

/// Totals of an emerging hot spot run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EhsaSummary {
    /// Events binned in the cube.
    pub counted: f64,
    /// Events outside the study area or window.
    pub outside: f64,
    /// Cube mean.
    pub mean: f64,
    /// Cube population SD.
    pub sd: f64,
    /// Cells per category code, as `(code, label, cells)`, codes 8..=−8.
    pub categories: Vec<(i8, &'static str, usize)>,
    /// FDR cut-offs across the cube.
    pub fdr_cutoffs: [Option<f64>; 3],
}

/// The result of [`emerging_hotspots`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EhsaResult {
    /// Every setting used.
    pub settings: EhsaEcho,
    /// The steps of the cube.
    pub steps: Vec<Step>,
    /// Totals and category counts.
    pub summary: EhsaSummary,
    /// Conditions the analyst should know about.
    pub warnings: Vec<String>,
    /// One row per location, in cell order.
    pub cells: Vec<EhsaCell>,
}

/// Emerging hot spot analysis of a cube — the function behind the EHSA layer and
/// `saferplaces analyse ehsa`.
///
/// # Errors
///
/// [`AnalysisError::InvalidSetting`] for `hot_level` outside 1..=3, `alpha_trend` outside
/// (0, 1), or `k` > 50.
#[expect(
    clippy::too_many_lines,
    reason = "one analysis over per-cell arrays that every step reads; its steps run in the method's order and splitting would thread those arrays through each call"
)]
pub fn emerging_hotspots(
    cube: &SpaceTimeCube,
    settings: &EhsaSettings,
) -> AnalysisResult<EhsaResult> {
    if !(1..=3).contains(&settings.hot_level) {
        return Err(AnalysisError::invalid("hot_level", "must be 1, 2 or 3"));
    }
    if !(settings.alpha_trend > 0.0 && settings.alpha_trend < 1.0) {
        return Err(AnalysisError::invalid("alpha_trend", "must be in (0, 1)"));
    }
    let neighbours = Neighbours::grid_disk(&cube.universe, settings.k)?;
    let st = space_time_gistar(cube, &neighbours, settings.time_k, settings.fdr)?;
    let t_len = cube.steps.len();
    let level = settings.hot_level as i8;
    let mut hot = vec![false; t_len];
    let mut cold = vec![false; t_len];
    let mut zs = vec![f64::NAN; t_len];
    let mut cells = Vec::with_capacity(cube.universe.len());
    for (i, cell) in cube.universe.cells().iter().enumerate() {
        if i % 1024 == 0 {
            super::cancel::checkpoint()?;
        }
        let range = i * t_len..(i + 1) * t_len;
        let bins = &st.bin[range.clone()];
        for t in 0..t_len {
            hot[t] = bins[t] >= level;
            cold[t] = bins[t] <= -level;
            zs[t] = st.z[i * t_len + t].unwrap_or(f64::NAN);
        }
        let trend = mann_kendall(&zs);
        let direction = trend.trend(settings.alpha_trend);
        let counts = &cube.counts[range.clone()];
        let category = classify(&hot, &cold, direction);
        cells.push(EhsaCell {
            h3: *cell,
            category,
            label: category_label(category),
            total: counts.iter().sum(),
            n_hot: hot.iter().filter(|h| **h).count(),
            n_cold: cold.iter().filter(|c| **c).count(),
            final_z: t_len.checked_sub(1).and_then(|t| st.z[i * t_len + t]),
            final_bin: bins.last().copied().unwrap_or(0),
            trend,
            trend_direction: direction,
            count_trend: mann_kendall(counts),
            counts: if settings.include_series {
                counts.to_vec()
            } else {
                Vec::new()
            },
            z: if settings.include_series {
                st.z[range.clone()].to_vec()
            } else {
                Vec::new()
            },
            bins: if settings.include_series {
                bins.to_vec()
            } else {
                Vec::new()
            },
        });
    }
    let mut warnings = Vec::new();
    if t_len < 10 {
        warnings.push(format!(
            "only {t_len} time steps; Mann-Kendall needs a reasonable series (at least 10)"
        ));
    }
    let counted: f64 = cube.counts.iter().sum();
    if counted < 60.0 {
        warnings.push(format!(
            "only {counted} events; ArcGIS requires at least 60 for a space-time cube"
        ));
    }
    if cube.outside > 0.0 {
        warnings.push(format!(
            "{} events lie outside the study area or window and were not binned",
            cube.outside
        ));
    }
    let partial = cube.steps.iter().filter(|s| s.partial).count();
    if partial > 0 {
        warnings.push(format!("{partial} steps are partial (see steps[].partial)"));
    }
    if !st.stats.usable() {
        warnings.push("every bin has the same value (S = 0): z is undefined".to_owned());
    }
    let mut categories = Vec::new();
    for code in (-8..=8).rev() {
        let n = cells.iter().filter(|c| c.category == code).count();
        categories.push((code, category_label(code), n));
    }
    let settings_echo = EhsaEcho {
        method: "emerging_hot_spot_analysis",
        res: u8::from(cube.universe.resolution()),
        study_area: cube.universe.area().clone(),
        locations: cube.universe.len(),
        steps: t_len,
        n: st.stats.n,
        cube: cube.settings,
        locations_rule: if cube.settings.drop_never_observed {
            "cells with at least one event"
        } else {
            "every cell of the study area"
        },
        analysis: *settings,
        weights: "binary; grid_disk(k) within the study area incl. self, times steps t-K..=t",
        global_window: "whole cube",
        p_value: "analytic; two-sided normal",
        correction: if settings.fdr {
            "fdr_arcgis_across_cube"
        } else {
            "none"
        },
        mann_kendall: "on Gi* z-scores; continuity-corrected Z, tie-corrected variance",
        category_order: CATEGORY_ORDER,
        software_version: SOFTWARE_VERSION,
    };
    Ok(EhsaResult {
        settings: settings_echo,
        steps: cube.steps.clone(),
        summary: EhsaSummary {
            counted,
            outside: cube.outside,
            mean: st.stats.mean,
            sd: st.stats.sd,
            categories,
            fdr_cutoffs: st.fdr_cutoffs,
        },
        warnings,
        cells,
    })
}

/// One cell of a before/after comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeCell {
    /// The cell.
    #[serde(serialize_with = "serialize_cell")]
    pub h3: CellIndex,
    /// Events in the before window.
    pub before: f64,
    /// Events in the after window.
    pub after: f64,
    /// Events per 28 days, before.
    pub before_per_28_days: f64,
    /// Events per 28 days, after.
    pub after_per_28_days: f64,
    /// after-rate / before-rate, `None` when the before count is 0.
    pub rate_ratio: Option<f64>,
    /// Normal approximation to the conditional binomial test; `None` with no events.
    pub z: Option<f64>,
    /// Two-sided p.
    pub p: Option<f64>,
    /// −3..=3 (FDR across cells when set): + for an increase.
    pub bin: i8,
}

/// Settings echoed by [`before_after`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeEcho {
    /// Always `before_after`.
    pub method: &'static str,
    /// H3 resolution.
    pub res: u8,
    /// The study area.
    pub study_area: super::gistar::StudyArea,
    /// Days in the before window.
    pub before_days: u32,
    /// Days in the after window.
    pub after_days: u32,
    /// The test.
    pub test: &'static str,
    /// `fdr_arcgis` or `none`.
    pub correction: &'static str,
    /// Software version.
    pub software_version: &'static str,
}

/// The result of [`before_after`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeResult {
    /// Every setting used.
    pub settings: ChangeEcho,
    /// Events outside the study area (both windows).
    pub outside: f64,
    /// One row per cell with an event in either window, in cell order.
    pub cells: Vec<ChangeCell>,
}

/// A simple before/after change view per cell: counts, rates per 28 days, rate ratio and a
/// conditional binomial z (see the module docs).
///
/// # Errors
///
/// [`AnalysisError::InvalidSetting`] for a zero-length window or a negative count.
#[expect(
    clippy::many_single_char_names,
    reason = "the variables follow the notation of the formulas in analytics.md"
)]
pub fn before_after(
    universe: &CellUniverse,
    before: &[(CellIndex, f64)],
    after: &[(CellIndex, f64)],
    before_days: u32,
    after_days: u32,
    fdr_on: bool,
) -> AnalysisResult<ChangeResult> {
    if before_days == 0 || after_days == 0 {
        return Err(AnalysisError::invalid(
            "window",
            "both windows need at least one day",
        ));
    }
    let mut sums: HashMap<CellIndex, (f64, f64)> = HashMap::new();
    let mut outside = 0.0;
    for (list, which) in [(before, 0), (after, 1)] {
        for (cell, c) in list {
            if !c.is_finite() || *c < 0.0 {
                return Err(AnalysisError::invalid(
                    "count",
                    format!("{c} is not a finite non-negative count"),
                ));
            }
            if universe.position(*cell).is_none() {
                outside += c;
                continue;
            }
            let e = sums.entry(*cell).or_insert((0.0, 0.0));
            if which == 0 {
                e.0 += c;
            } else {
                e.1 += c;
            }
        }
    }
    let mut keys: Vec<CellIndex> = sums.keys().copied().collect();
    keys.sort_unstable();
    let q = f64::from(after_days) / (f64::from(before_days) + f64::from(after_days));
    let mut rows: Vec<ChangeCell> = keys
        .iter()
        .map(|cell| {
            let (b, a) = sums.get(cell).copied().unwrap_or((0.0, 0.0));
            let n = a + b;
            let z = (n > 0.0).then(|| (a - n * q) / (n * q * (1.0 - q)).sqrt());
            let br = b / f64::from(before_days) * 28.0;
            let ar = a / f64::from(after_days) * 28.0;
            ChangeCell {
                h3: *cell,
                before: b,
                after: a,
                before_per_28_days: br,
                after_per_28_days: ar,
                rate_ratio: (b > 0.0).then(|| ar / br),
                z,
                p: z.map(two_sided_p),
                bin: 0,
            }
        })
        .collect();
    let z: Vec<Option<f64>> = rows.iter().map(|r| r.z).collect();
    let p: Vec<Option<f64>> = rows.iter().map(|r| r.p).collect();
    for (row, b) in rows.iter_mut().zip(fdr::bins(&z, &p, fdr_on)) {
        row.bin = b;
    }
    Ok(ChangeResult {
        settings: ChangeEcho {
            method: "before_after",
            res: u8::from(universe.resolution()),
            study_area: universe.area().clone(),
            before_days,
            after_days,
            test: "conditional binomial (normal approximation): after ~ Bin(before+after, after_days/(before_days+after_days))",
            correction: if fdr_on { "fdr_arcgis" } else { "none" },
            software_version: SOFTWARE_VERSION,
        },
        outside,
        cells: rows,
    })
}

#[cfg(test)]
#[path = "ehsa_tests.rs"]
mod tests;
