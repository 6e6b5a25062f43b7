//! Near repeats: the multi-band Knox test with Monte Carlo date permutation, the global 2×2
//! Knox test, and the near-repeat risk windows that follow a new incident (`analytics.md`
//! §5; Knox 1964; Johnson et al. 2007; Ratcliffe's Near Repeat Calculator 1.3; pointpats).
//!
//! # The table (`analytics.md` §5.1)
//!
//! For every unordered pair of the n events: a distance d (Euclidean, or Manhattan
//! |Δx| + |Δy|, in the input's planar units — metres on the British National Grid when the
//! input was lon/lat) and a gap Δt = |`t_i` − `t_j`| in whole days. Rows: a "same location" row
//! (d = 0), K spatial bands of width b, and "more than K·b". Columns: L temporal bands of
//! width B days, and "more than L·B". O[s, τ] counts the pairs in each cell.
//!
//! **Correct mode** (default): spatial band k covers ((k−1)·b, k·b]; temporal band 1 covers
//! [0, B] and band k > 1 covers ((k−1)·B, k·B].
//!
//! **NRC mode** (`analytics.md` §5.2), which reproduces the Near Repeat Calculator's tables
//! exactly: a label "a to b" means [a − 1, b), so spatial band k covers [(k−1)·b, k·b)
//! without the zero distances, and temporal band k covers [(k−1)·B, k·B) days; coordinates
//! are rounded to single precision (`f32`) before distances are taken. The NRC convention
//! inflates the shortest bands; outputs say which mode was used.
//!
//! # Inference
//!
//! The null permutes the dates over the fixed locations R times with a seeded generator
//! (xoshiro256\*\* seeded through `SplitMix64`; Fisher–Yates shuffles with Lemire's unbiased
//! bounded integers — written out here so that a seed gives the same result in every
//! version). Expected = the mean of the R permuted tables (NRC's "expected"), also the
//! median; the Knox ratio is O / mean E, and `p[s, τ] = (#{r : E_r ≥ O} + 1) / (R + 1)`. The
//! analytic expectation under permutation, row total × column total / pairs, is reported too
//! (it is what pointpats calls `expected`).
//!
//! # Speed
//!
//! Distance bands never change under permutation, so the pairs closer than K·b are found
//! through a bucket grid of side K·b ([`super::close_pairs`]) and kept with their row. Column
//! totals over all pairs do not change either (permuting dates keeps the multiset of pairwise
//! gaps), so the "more than" row is column total minus the close rows. Each permutation then
//! visits only the close pairs: O(n + close pairs) instead of O(n²).
//!
//! # Memory
//!
//! The close pairs are kept compactly ([`PAIR_BYTES`] = 9 bytes each: two `u32` event
//! indexes and a `u8` row) up to a budget, [`PAIR_BUDGET_BYTES`] (64 MiB, about 7.4 million
//! pairs; [`knox_with_pair_budget`] takes another). When there are more, they are listed a
//! budget's worth at a time, resuming the grid where the last chunk stopped, and each chunk
//! replays the R permutations from the seed and adds its counts to every table: the tables
//! are sums over pairs, and permutation r shuffles the days the same way in every pass, so
//! the result is identical to a run that held every pair — only the time grows (R shuffles of
//! n days per extra pass). [`KnoxResult::pair_passes`] and a warning say when it streamed.
//! The risk layer's calibration passes a quarter of this budget
//! (`risk::CALIBRATION_PAIR_BUDGET_BYTES`, 16 MiB), since it runs after every data update
//! beside the server's steady memory; at its 30,000 sampled events that costs little time
//! (figures there).
//!
//! One run holds, besides its input: at most the pair budget, at most 40 bytes per event
//! (coordinates 16, days and permuted days 4, the grid at most 12, the sorted days of the
//! column totals 2 while they are counted), R × (K + 2) × (L + 1) × 8 bytes of permuted
//! tables (12 KiB for the risk layer's 99 permutations of 5 × 3 cells), and a gap lookup of
//! at most 64 KiB. [`knox_global`] holds the same with one `u64` per permutation instead of
//! the tables.
//!
//! # Risk windows
//!
//! [`KnoxResult::elevated_bands`] picks the space-time cells that are significant and above
//! chance; [`risk_windows`] turns each recent incident into the H3 cells and days of
//! elevated near-repeat risk under those bands.

use foldhash::{HashMap, HashMapExt};
use h3o::{CellIndex, Resolution};
use serde::Serialize;

pub use super::close_pairs::PAIR_BYTES;
use super::close_pairs::{Cursor, PairChunk, PairGrid};
use super::gistar::{cell_centre, cell_of};
use super::kde::to_bng;
use super::{AnalysisError, AnalysisResult, SOFTWARE_VERSION, serialize_cell};
use crate::domain::{Day, LonLat};

/// Bytes of close pairs one Knox run keeps in memory before it lists them in chunks (module
/// docs, "Memory"): 64 MiB, about 7.4 million pairs of [`PAIR_BYTES`].
pub const PAIR_BUDGET_BYTES: usize = 64 << 20;

/// How the distance between two events is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DistanceMetric {
    /// Straight line.
    Euclidean,
    /// |Δx| + |Δy| (street-grid distance; NRC's default for grid cities).
    Manhattan,
}

/// Which interval convention the bands follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KnoxMode {
    /// The labels mean what they say (`analytics.md` §5.1).
    Correct,
    /// Near Repeat Calculator 1.3 conventions (`analytics.md` §5.2).
    NrcCompatible,
}

/// An event for near-repeat analysis: a position in planar units and a day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpaceTimePoint {
    /// Easting (or x), metres or the input's planar unit.
    pub x_m: f64,
    /// Northing (or y).
    pub y_m: f64,
    /// The day.
    pub day: Day,
}

/// Settings of a multi-band Knox test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KnoxSettings {
    /// Spatial band width b (metres, or the input's planar unit).
    pub space_band_m: f64,
    /// Number of spatial bands K.
    pub space_bands: u32,
    /// Temporal band width B, days.
    pub time_band_days: u32,
    /// Number of temporal bands L.
    pub time_bands: u32,
    /// Distance metric.
    pub metric: DistanceMetric,
    /// Interval convention.
    pub mode: KnoxMode,
    /// Monte Carlo permutations R.
    pub permutations: u32,
    /// Seed of the permutation generator.
    pub seed: u64,
}

impl Default for KnoxSettings {
    fn default() -> Self {
        Self {
            space_band_m: 200.0,
            space_bands: 3,
            time_band_days: 7,
            time_bands: 4,
            metric: DistanceMetric::Euclidean,
            mode: KnoxMode::Correct,
            permutations: 999,
            seed: 1,
        }
    }
}

/// A row or column of the table: its label and bounds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Band {
    /// Label in the mode's convention (NRC labels in NRC mode).
    pub label: String,
    /// Lower bound (metres or days).
    pub lower: f64,
    /// Whether the lower bound is included.
    pub lower_inclusive: bool,
    /// Upper bound; `None` for the "more than" band.
    pub upper: Option<f64>,
    /// Whether the upper bound is included.
    pub upper_inclusive: bool,
}

/// Every setting of a Knox run, echoed in its result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KnoxEcho {
    /// Always `knox_multiband`.
    pub method: &'static str,
    /// The settings as given.
    #[serde(flatten)]
    pub settings: KnoxSettings,
    /// Events.
    pub n: usize,
    /// How the null is drawn.
    pub null_model: &'static str,
    /// The permutation generator.
    pub rng: &'static str,
    /// How p is computed.
    pub p_value: &'static str,
    /// Coordinate handling.
    pub coordinates: &'static str,
    /// Software version.
    pub software_version: &'static str,
}

/// The result of [`knox`]. Tables are indexed `[row][column]`: rows are same location, each
/// spatial band, beyond; columns each temporal band, beyond.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KnoxResult {
    /// Every setting used.
    pub settings: KnoxEcho,
    /// Row bands.
    pub rows: Vec<Band>,
    /// Column bands.
    pub columns: Vec<Band>,
    /// Observed pair counts.
    pub observed: Vec<Vec<u64>>,
    /// Mean of the permuted tables (NRC's expected); analytic when R = 0.
    pub expected: Vec<Vec<f64>>,
    /// Median of the permuted tables; analytic when R = 0.
    pub expected_median: Vec<Vec<f64>>,
    /// Row total × column total / pairs: the exact expectation under permutation.
    pub expected_analytic: Vec<Vec<f64>>,
    /// O / mean E (`None` where E = 0).
    pub ratio: Vec<Vec<Option<f64>>>,
    /// O / median E (`None` where it is 0).
    pub ratio_median: Vec<Vec<Option<f64>>>,
    /// Monte Carlo p, `(#{E_r ≥ O} + 1) / (R + 1)`; `None` when R = 0.
    pub p: Vec<Vec<Option<f64>>>,
    /// All pairs, n(n − 1)/2.
    pub pairs: u64,
    /// Pairs within K·b (visited by every permutation).
    pub close_pairs: u64,
    /// Passes over the close pairs: 1 when they fitted the pair budget, more when they were
    /// listed in chunks, each replaying the permutations (same result, more time).
    pub pair_passes: u32,
    /// Conditions the analyst should know about.
    pub warnings: Vec<String>,
}

/// xoshiro256\*\* (Blackman and Vigna), seeded through `SplitMix64`.
#[derive(Debug, Clone)]
pub(crate) struct Xoshiro256([u64; 4]);

impl Xoshiro256 {
    pub(crate) fn seeded(seed: u64) -> Self {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self([next(), next(), next(), next()])
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..bound` (Lemire's multiply-and-reject), `bound` > 0.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(bound);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// Fisher–Yates shuffle.
    pub(crate) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// The band geometry shared by the table and the risk windows.
#[derive(Debug, Clone, Copy)]
struct Bands {
    b: f64,
    k: usize,
    bt: u32,
    l: usize,
    mode: KnoxMode,
}

impl Bands {
    fn from(s: &KnoxSettings) -> Self {
        Self {
            b: s.space_band_m,
            k: s.space_bands as usize,
            bt: s.time_band_days,
            l: s.time_bands as usize,
            mode: s.mode,
        }
    }

    /// Row of a distance: 0 same location, 1..=K bands, K+1 beyond.
    fn row(&self, d: f64) -> usize {
        if d == 0.0 {
            return 0;
        }
        let (b, k) = (self.b, self.k);
        let band = match self.mode {
            KnoxMode::Correct => {
                // d in ((j−1)b, jb]; correct a quotient that rounded across a multiple.
                let mut j = (d / b).ceil().max(1.0);
                if (j - 1.0) * b >= d && j > 1.0 {
                    j -= 1.0;
                } else if j * b < d {
                    j += 1.0;
                }
                j
            }
            KnoxMode::NrcCompatible => {
                // d in [(j−1)b, jb).
                let mut j = (d / b).floor() + 1.0;
                if (j - 1.0) * b > d {
                    j -= 1.0;
                } else if j * b <= d {
                    j += 1.0;
                }
                j
            }
        };
        if band <= k as f64 {
            band as usize
        } else {
            k + 1
        }
    }

    /// Column of a gap in days: 0..L−1 bands, L beyond.
    fn col(&self, gap: u32) -> usize {
        let bt = self.bt;
        let band = match self.mode {
            // Band 1 is [0, B], band j > 1 is ((j−1)B, jB].
            KnoxMode::Correct => gap.div_ceil(bt).max(1) - 1,
            // Band j is [(j−1)B, jB).
            KnoxMode::NrcCompatible => gap / bt,
        } as usize;
        band.min(self.l)
    }

    fn row_bands(&self) -> Vec<Band> {
        let mut out = vec![Band {
            label: "Same location".to_owned(),
            lower: 0.0,
            lower_inclusive: true,
            upper: Some(0.0),
            upper_inclusive: true,
        }];
        for j in 1..=self.k {
            let (lo, hi) = ((j - 1) as f64 * self.b, j as f64 * self.b);
            out.push(match self.mode {
                KnoxMode::Correct => Band {
                    label: format!("{} < d <= {}", fmt_num(lo), fmt_num(hi)),
                    lower: lo,
                    lower_inclusive: false,
                    upper: Some(hi),
                    upper_inclusive: true,
                },
                KnoxMode::NrcCompatible => Band {
                    label: format!("{} to {}", fmt_num(lo + 1.0), fmt_num(hi)),
                    lower: lo,
                    lower_inclusive: j > 1,
                    upper: Some(hi),
                    upper_inclusive: false,
                },
            });
        }
        let top = self.k as f64 * self.b;
        out.push(Band {
            label: match self.mode {
                KnoxMode::Correct => format!("d > {}", fmt_num(top)),
                KnoxMode::NrcCompatible => format!("More than {}", fmt_num(top)),
            },
            lower: top,
            lower_inclusive: self.mode == KnoxMode::NrcCompatible,
            upper: None,
            upper_inclusive: false,
        });
        out
    }

    fn col_bands(&self) -> Vec<Band> {
        let mut out = Vec::new();
        let bt = f64::from(self.bt);
        for j in 1..=self.l {
            let (lo, hi) = ((j - 1) as f64 * bt, j as f64 * bt);
            out.push(match self.mode {
                KnoxMode::Correct => Band {
                    label: if j == 1 {
                        format!("0 <= days <= {}", fmt_num(hi))
                    } else {
                        format!("{} < days <= {}", fmt_num(lo), fmt_num(hi))
                    },
                    lower: lo,
                    lower_inclusive: j == 1,
                    upper: Some(hi),
                    upper_inclusive: true,
                },
                KnoxMode::NrcCompatible => Band {
                    label: if j == 1 {
                        format!("0 to {}", fmt_num(hi))
                    } else {
                        format!("{} to {}", fmt_num(lo + 1.0), fmt_num(hi))
                    },
                    lower: lo,
                    lower_inclusive: true,
                    upper: Some(hi),
                    upper_inclusive: false,
                },
            });
        }
        let top = self.l as f64 * bt;
        out.push(Band {
            label: match self.mode {
                KnoxMode::Correct => format!("days > {}", fmt_num(top)),
                KnoxMode::NrcCompatible => format!("More than {}", fmt_num(top)),
            },
            lower: top,
            lower_inclusive: self.mode == KnoxMode::NrcCompatible,
            upper: None,
            upper_inclusive: false,
        });
        out
    }
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The distance between two planar points under `metric`.
pub(super) fn distance(metric: DistanceMetric, a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = ((a[0] - b[0]).abs(), (a[1] - b[1]).abs());
    match metric {
        DistanceMetric::Euclidean => dx.hypot(dy),
        DistanceMetric::Manhattan => dx + dy,
    }
}

/// Number of unordered pairs with gap ≤ `g` days, from sorted days.
fn pairs_within(sorted_days: &[u16], g: u32) -> u64 {
    let mut total = 0u64;
    let mut lo = 0usize;
    for (j, &d) in sorted_days.iter().enumerate() {
        while u32::from(d) - u32::from(sorted_days[lo]) > g {
            lo += 1;
        }
        total += (j - lo) as u64;
    }
    total
}

fn validate(settings: &KnoxSettings) -> AnalysisResult<()> {
    if !(settings.space_band_m.is_finite() && settings.space_band_m > 0.0) {
        return Err(AnalysisError::invalid(
            "space_band_m",
            "must be a positive distance",
        ));
    }
    if settings.space_bands == 0 || settings.space_bands > 100 {
        return Err(AnalysisError::invalid("space_bands", "must be 1..=100"));
    }
    if settings.time_band_days == 0 {
        return Err(AnalysisError::invalid(
            "time_band_days",
            "must be at least 1 day",
        ));
    }
    if settings.time_bands == 0 || settings.time_bands > 100 {
        return Err(AnalysisError::invalid("time_bands", "must be 1..=100"));
    }
    if settings.permutations > 100_000 {
        return Err(AnalysisError::invalid("permutations", "at most 100,000"));
    }
    Ok(())
}

/// Coordinates as the mode sees them: rounded to `f32` in NRC mode.
fn mode_coordinates(points: &[SpaceTimePoint], mode: KnoxMode) -> AnalysisResult<Vec<[f64; 2]>> {
    // Sized once: a collected `Result` would grow by doubling (module docs, "Memory").
    let mut out = Vec::with_capacity(points.len());
    for (i, p) in points.iter().enumerate() {
        if !(p.x_m.is_finite() && p.y_m.is_finite()) {
            return Err(AnalysisError::invalid(
                "points",
                format!("point {i} has a non-finite coordinate"),
            ));
        }
        out.push(match mode {
            KnoxMode::Correct => [p.x_m, p.y_m],
            KnoxMode::NrcCompatible => [f64::from(p.x_m as f32), f64::from(p.y_m as f32)],
        });
    }
    Ok(out)
}

/// The multi-band Knox test with Monte Carlo date permutation (see the module docs) — the
/// function behind `saferplaces analyse knox`.
///
/// Fewer than two events give an all-zero table and p = 1 (with a warning), never a panic.
///
/// # Units
///
/// Distances in the points' planar unit (metres on the British National Grid); days.
///
/// # Errors
///
/// [`AnalysisError::InvalidSetting`] for a non-positive band, zero or more than 100 bands,
/// more than 100,000 permutations, or a non-finite coordinate.
pub fn knox(points: &[SpaceTimePoint], settings: &KnoxSettings) -> AnalysisResult<KnoxResult> {
    knox_with_pair_budget(points, settings, PAIR_BUDGET_BYTES)
}

/// [`knox`] with at most `pair_budget_bytes` of close pairs in memory ([`PAIR_BYTES`] each,
/// at least one pair): beyond it the pairs are listed in chunks and every chunk replays the
/// permutations (module docs, "Memory"). The result is the same for every budget; only
/// [`KnoxResult::pair_passes`] and a warning say that the run streamed.
///
/// # Errors
///
/// As [`knox`].
#[expect(
    clippy::too_many_lines,
    reason = "the Knox table and its permutation test under one pair budget: the commented passes share the column edges, the seed and the tables"
)]
pub fn knox_with_pair_budget(
    points: &[SpaceTimePoint],
    settings: &KnoxSettings,
    pair_budget_bytes: usize,
) -> AnalysisResult<KnoxResult> {
    validate(settings)?;
    let bands = Bands::from(settings);
    let xy = mode_coordinates(points, settings.mode)?;
    let n = points.len();
    let (rows, cols) = (bands.k + 2, bands.l + 1);
    let cells = rows * cols;
    let max_d = bands.k as f64 * bands.b;
    let grid = PairGrid::new(&xy, max_d, settings.metric);
    super::cancel::checkpoint()?;
    let day0 = points.iter().map(|p| p.day).min().unwrap_or(Day::MIN);
    let days: Vec<u16> = points
        .iter()
        .map(|p| p.day.days_since_epoch() - day0.days_since_epoch())
        .collect();
    let max_gap = days.iter().copied().max().unwrap_or(0);
    let col_of_gap: Vec<u8> = (0..=u32::from(max_gap))
        .map(|g| bands.col(g) as u8)
        .collect();
    let pairs = (n as u64) * (n as u64).saturating_sub(1) / 2;
    // Column totals over all pairs (invariant under permutation).
    let mut col_total = vec![0u64; cols];
    {
        let mut sorted = days.clone();
        sorted.sort_unstable();
        // Cumulative "pairs with gap <= g" at each column's upper edge.
        let bt = bands.bt;
        let upto = |c: usize| -> u64 {
            let edge = (c as u32 + 1) * bt;
            match settings.mode {
                KnoxMode::Correct => pairs_within(&sorted, edge),
                // [.., edge) on whole days is <= edge − 1.
                KnoxMode::NrcCompatible => pairs_within(&sorted, edge - 1),
            }
        };
        let mut prev = 0u64;
        for (c, slot) in col_total.iter_mut().enumerate().take(bands.l) {
            let cum = upto(c);
            *slot = cum - prev;
            prev = cum;
        }
        col_total[bands.l] = pairs - prev;
    }
    // Adds the close pairs of `chunk` under the days `d` to the table `t`.
    let add = |chunk: &PairChunk, d: &[u16], t: &mut [u64]| {
        for (i, j, r) in chunk.iter() {
            let (a, b) = (d[i as usize], d[j as usize]);
            let c = col_of_gap[usize::from(a.abs_diff(b))];
            t[usize::from(r) * cols + usize::from(c)] += 1;
        }
    };
    let accept = |d: f64| {
        let r = bands.row(d);
        (r <= bands.k).then_some(r as u8)
    };
    let r_count = settings.permutations as usize;
    let mut observed = vec![0u64; cells];
    // The permuted tables, one after another.
    let mut perm_tables = vec![0u64; r_count * cells];
    let mut shuffled = days.clone();
    let chunk_limit = (pair_budget_bytes / PAIR_BYTES).max(1);
    let mut chunk = PairChunk::with_limit(chunk_limit);
    let mut close = 0u64;
    let mut pair_passes = 0u32;
    let mut from = Some(Cursor::START);
    while let Some(start) = from {
        chunk.clear();
        from = grid.fill(start, accept, &mut chunk);
        super::cancel::checkpoint()?;
        if chunk.len() == 0 {
            break;
        }
        pair_passes += 1;
        close += chunk.len() as u64;
        add(&chunk, &days, &mut observed);
        // Every pass replays the same permutations from the seed: a pair is counted under
        // the same permuted days whichever pass holds it.
        let mut rng = Xoshiro256::seeded(settings.seed);
        shuffled.copy_from_slice(&days);
        for t in perm_tables.chunks_exact_mut(cells) {
            super::cancel::checkpoint()?;
            rng.shuffle(&mut shuffled);
            add(&chunk, &shuffled, t);
        }
    }
    drop(chunk);
    // The beyond row is what the close rows leave of each column.
    for t in std::iter::once(&mut observed[..]).chain(perm_tables.chunks_exact_mut(cells)) {
        for c in 0..cols {
            let close_c: u64 = (0..=bands.k).map(|r| t[r * cols + c]).sum();
            t[(bands.k + 1) * cols + c] = col_total[c] - close_c;
        }
    }
    // Analytic expectation: row total × column total / pairs.
    let row_total: Vec<u64> = (0..rows)
        .map(|r| (0..cols).map(|c| observed[r * cols + c]).sum())
        .collect();
    let analytic = |r: usize, c: usize| -> f64 {
        if pairs == 0 {
            0.0
        } else {
            row_total[r] as f64 * col_total[c] as f64 / pairs as f64
        }
    };
    let mut result_observed = vec![vec![0u64; cols]; rows];
    let mut expected = vec![vec![0.0; cols]; rows];
    let mut expected_median = vec![vec![0.0; cols]; rows];
    let mut expected_analytic = vec![vec![0.0; cols]; rows];
    let mut ratio = vec![vec![None; cols]; rows];
    let mut ratio_median = vec![vec![None; cols]; rows];
    let mut p = vec![vec![None; cols]; rows];
    let mut column: Vec<u64> = Vec::with_capacity(r_count);
    for r in 0..rows {
        for c in 0..cols {
            let o = observed[r * cols + c];
            result_observed[r][c] = o;
            expected_analytic[r][c] = analytic(r, c);
            let (mean, median) = if r_count == 0 {
                (analytic(r, c), analytic(r, c))
            } else {
                column.clear();
                column.extend(perm_tables.chunks_exact(cells).map(|t| t[r * cols + c]));
                let mean = column.iter().sum::<u64>() as f64 / r_count as f64;
                column.sort_unstable();
                let median = if r_count % 2 == 1 {
                    column[r_count / 2] as f64
                } else {
                    (column[r_count / 2 - 1] + column[r_count / 2]) as f64 / 2.0
                };
                let ge = column.iter().filter(|e| **e >= o).count();
                p[r][c] = Some((ge as f64 + 1.0) / (r_count as f64 + 1.0));
                (mean, median)
            };
            expected[r][c] = mean;
            expected_median[r][c] = median;
            ratio[r][c] = (mean > 0.0).then(|| o as f64 / mean);
            ratio_median[r][c] = (median > 0.0).then(|| o as f64 / median);
        }
    }
    let mut warnings = Vec::new();
    if n < 2 {
        warnings.push(format!("{n} events: no pairs to test"));
    }
    if r_count == 0 {
        warnings.push("no permutations: expected is analytic and p is not computed".to_owned());
    } else if r_count < 99 {
        warnings.push(format!(
            "{r_count} permutations: the smallest possible p is {:.3}",
            1.0 / (r_count as f64 + 1.0)
        ));
    }
    if pair_passes > 1 {
        warnings.push(format!(
            "{close} close pairs did not fit the pair budget of {:.1} MiB ({chunk_limit} pairs): they were listed in {pair_passes} passes, each replaying the permutations (same result, more time)",
            pair_budget_bytes as f64 / f64::from(1u32 << 20)
        ));
    }
    if close > pairs / 2 && n > 1000 {
        warnings
            .push("the spatial bands cover most pairs; permutations cost O(n^2) each".to_owned());
    }
    Ok(KnoxResult {
        settings: KnoxEcho {
            method: "knox_multiband",
            settings: *settings,
            n,
            null_model: "dates permuted over fixed locations",
            rng: "xoshiro256** seeded by SplitMix64; Fisher-Yates with Lemire bounded integers",
            p_value: "(#{E_r >= O} + 1) / (R + 1), one-sided",
            coordinates: match settings.mode {
                KnoxMode::Correct => "planar, as given (f64)",
                KnoxMode::NrcCompatible => "planar, rounded to f32 as the NRC does",
            },
            software_version: SOFTWARE_VERSION,
        },
        rows: bands.row_bands(),
        columns: bands.col_bands(),
        observed: result_observed,
        expected,
        expected_median,
        expected_analytic,
        ratio,
        ratio_median,
        p,
        pairs,
        close_pairs: close,
        pair_passes: pair_passes.max(1),
        warnings,
    })
}

/// A space-time band of elevated near-repeat risk, from a significant Knox cell.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RiskBand {
    /// Smallest distance from the incident, metres (0 for the same-location row).
    pub min_distance_m: f64,
    /// Largest distance from the incident, metres.
    pub max_distance_m: f64,
    /// First day after the incident (0 = the same day).
    pub from_days: u32,
    /// Last day after the incident.
    pub to_days: u32,
    /// The Knox ratio of the cell.
    pub knox_ratio: f64,
    /// Its Monte Carlo p.
    pub p: f64,
}

impl KnoxResult {
    /// The cells of the table (excluding the "more than" row and column) with p ≤ `alpha`
    /// and a Knox ratio above 1, as distance and day ranges after an incident.
    #[expect(
        clippy::many_single_char_names,
        reason = "the variables follow the notation of the formulas in analytics.md"
    )]
    pub fn elevated_bands(&self, alpha: f64) -> Vec<RiskBand> {
        let s = &self.settings.settings;
        let (k, l) = (s.space_bands as usize, s.time_bands as usize);
        let b = s.space_band_m;
        let bt = s.time_band_days;
        let mut out = Vec::new();
        for r in 0..=k {
            for c in 0..l {
                let (Some(p), Some(ratio)) = (self.p[r][c], self.ratio[r][c]) else {
                    continue;
                };
                if p > alpha || ratio <= 1.0 {
                    continue;
                }
                let (min_d, max_d) = if r == 0 {
                    (0.0, 0.0)
                } else {
                    ((r - 1) as f64 * b, r as f64 * b)
                };
                let c32 = c as u32;
                let (from_days, to_days) = match s.mode {
                    KnoxMode::Correct if c == 0 => (0, bt),
                    KnoxMode::Correct => (c32 * bt + 1, (c32 + 1) * bt),
                    KnoxMode::NrcCompatible => (c32 * bt, (c32 + 1) * bt - 1),
                };
                out.push(RiskBand {
                    min_distance_m: min_d,
                    max_distance_m: max_d,
                    from_days,
                    to_days,
                    knox_ratio: ratio,
                    p,
                });
            }
        }
        out
    }
}

/// Days and cells of elevated near-repeat risk around one H3 cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskWindow {
    /// The cell.
    #[serde(serialize_with = "serialize_cell")]
    pub h3: CellIndex,
    /// First day of elevated risk.
    pub from: Day,
    /// Last day of elevated risk.
    pub to: Day,
    /// Largest Knox ratio among the bands that put the cell at risk.
    pub knox_ratio: f64,
    /// Recent incidents that put the cell at risk in this window.
    pub incidents: u32,
}

/// The cells and days of elevated near-repeat risk after each recent incident, from the
/// Knox-significant bands ([`KnoxResult::elevated_bands`]) — the function behind the risk
/// window layer.
///
/// A cell is at risk from an incident under a band when the distance from the incident to
/// the cell's centre lies in the band's range (both ends included; the same-location band
/// and any band starting at 0 also cover the incident's own cell), on the incident's day
/// plus the band's days. Overlapping or touching windows of one cell are merged, keeping the
/// largest ratio and counting distinct incidents. With `as_of`, windows that ended before it
/// are dropped. Sorted by cell, then first day.
///
/// # Units
///
/// Distances in metres on the British National Grid (incidents and centres are projected);
/// days.
///
/// # Errors
///
/// [`AnalysisError::Projection`] for an incident off the National Grid.
pub fn risk_windows(
    recent: &[(LonLat, Day)],
    bands: &[RiskBand],
    res: Resolution,
    metric: DistanceMetric,
    as_of: Option<Day>,
) -> AnalysisResult<Vec<RiskWindow>> {
    let Some(max_d) = bands
        .iter()
        .map(|b| b.max_distance_m)
        .max_by(f64::total_cmp)
    else {
        return Ok(Vec::new());
    };
    let xy = to_bng(recent.iter().map(|r| r.0))?;
    // Adjacent centres are about √3 × edge apart; a safety factor covers H3's size spread.
    let spacing = 3.0_f64.sqrt() * res.edge_length_m() * 0.6;
    let rings = (max_d / spacing).ceil() as u32 + 1;
    let mut centres: HashMap<CellIndex, Option<[f64; 2]>> = HashMap::new();
    // (cell) -> list of (from, to, ratio, incident).
    let mut hits: HashMap<CellIndex, Vec<(u16, u16, f64, u32)>> = HashMap::new();
    for (idx, ((ll, day), p)) in recent.iter().zip(&xy).enumerate() {
        if idx % 256 == 0 {
            super::cancel::checkpoint()?;
        }
        let own = cell_of(*ll, res);
        for cell in own.grid_disk::<Vec<CellIndex>>(rings) {
            let c = *centres.entry(cell).or_insert_with(|| {
                to_bng([cell_centre(cell)])
                    .ok()
                    .and_then(|v| v.first().copied())
            });
            let Some(c) = c else {
                continue;
            };
            let d = distance(metric, *p, c);
            for band in bands {
                let covers_own = cell == own && band.min_distance_m == 0.0;
                if !covers_own && !(band.min_distance_m..=band.max_distance_m).contains(&d) {
                    continue;
                }
                let from = day
                    .days_since_epoch()
                    .saturating_add(band.from_days.min(65_535) as u16);
                let to = day
                    .days_since_epoch()
                    .saturating_add(band.to_days.min(65_535) as u16);
                hits.entry(cell)
                    .or_default()
                    .push((from, to, band.knox_ratio, idx as u32));
            }
        }
    }
    let mut out = Vec::new();
    for (cell, mut list) in hits {
        list.sort_unstable_by_key(|h| (h.0, h.1));
        let mut current: Option<(u16, u16, f64, Vec<u32>)> = None;
        let flush = |w: (u16, u16, f64, Vec<u32>), out: &mut Vec<RiskWindow>| {
            let (from, to, ratio, mut who) = w;
            who.sort_unstable();
            who.dedup();
            if as_of.is_none_or(|a| to >= a.days_since_epoch()) {
                out.push(RiskWindow {
                    h3: cell,
                    from: Day::from_days_since_epoch(from),
                    to: Day::from_days_since_epoch(to),
                    knox_ratio: ratio,
                    incidents: who.len() as u32,
                });
            }
        };
        for (from, to, ratio, who) in list {
            match &mut current {
                Some(w) if u32::from(from) <= u32::from(w.1) + 1 => {
                    w.1 = w.1.max(to);
                    w.2 = w.2.max(ratio);
                    w.3.push(who);
                }
                _ => {
                    if let Some(w) = current.take() {
                        flush(w, &mut out);
                    }
                    current = Some((from, to, ratio, vec![who]));
                }
            }
        }
        if let Some(w) = current.take() {
            flush(w, &mut out);
        }
    }
    out.sort_unstable_by_key(|w| (w.h3, w.from));
    Ok(out)
}

/// The global 2×2 Knox test (`analytics.md` §5.3; pointpats `Knox`): bounds inclusive.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GlobalKnox {
    /// Events.
    pub n: usize,
    /// All pairs, n(n − 1)/2.
    pub pairs: u64,
    /// Pairs with d ≤ δ.
    pub ns: u64,
    /// Pairs with Δt ≤ τ.
    pub nt: u64,
    /// Pairs with both.
    pub nst: u64,
    /// `[[NST, NS − NST], [NT − NST, rest]]`.
    pub observed: [[u64; 2]; 2],
    /// The same under independence: E\[NST\] = NS·NT / pairs.
    pub expected: [[f64; 2]; 2],
    /// P(X > NST) for X ~ Poisson(E\[NST\]).
    pub p_poisson: f64,
    /// `(#{NST_r ≥ NST} + 1) / (R + 1)`; `None` when R = 0.
    pub p_sim: Option<f64>,
    /// δ.
    pub delta_m: f64,
    /// τ.
    pub tau_days: u32,
    /// Metric.
    pub metric: DistanceMetric,
    /// Permutations R.
    pub permutations: u32,
    /// Seed.
    pub seed: u64,
}

/// P(X > k) for X ~ Poisson(λ), summed in whichever tail is smaller.
pub fn poisson_upper_tail(k: u64, lambda: f64) -> f64 {
    if !(lambda > 0.0 && lambda.is_finite()) {
        return 0.0;
    }
    let ln_l = lambda.ln();
    let pmf = |x: u64| -> f64 {
        let xf = x as f64;
        (xf * ln_l - lambda - libm::lgamma(xf + 1.0)).exp()
    };
    if (k as f64) + 1.0 > lambda {
        // Terms fall from k + 1 on.
        let mut sum = 0.0;
        let mut x = k + 1;
        loop {
            let t = pmf(x);
            sum += t;
            if t <= sum * 1e-17 || t == 0.0 {
                break;
            }
            x += 1;
        }
        sum
    } else {
        let lower: f64 = (0..=k).map(pmf).sum();
        (1.0 - lower).max(0.0)
    }
}

/// The global Knox test with Monte Carlo permutations.
///
/// # Errors
///
/// [`AnalysisError::InvalidSetting`] for a negative or non-finite δ, more than 100,000
/// permutations, or a non-finite coordinate.
pub fn knox_global(
    points: &[SpaceTimePoint],
    delta_m: f64,
    tau_days: u32,
    metric: DistanceMetric,
    permutations: u32,
    seed: u64,
) -> AnalysisResult<GlobalKnox> {
    knox_global_budgeted(
        points,
        delta_m,
        tau_days,
        metric,
        (permutations, seed),
        PAIR_BUDGET_BYTES,
    )
}

/// [`knox_global`] with at most `pair_budget_bytes` of close pairs in memory.
fn knox_global_budgeted(
    points: &[SpaceTimePoint],
    delta_m: f64,
    tau_days: u32,
    metric: DistanceMetric,
    (permutations, seed): (u32, u64),
    pair_budget_bytes: usize,
) -> AnalysisResult<GlobalKnox> {
    if !(delta_m.is_finite() && delta_m >= 0.0) {
        return Err(AnalysisError::invalid("delta_m", "must be a distance >= 0"));
    }
    if permutations > 100_000 {
        return Err(AnalysisError::invalid("permutations", "at most 100,000"));
    }
    let xy = mode_coordinates(points, KnoxMode::Correct)?;
    let n = points.len();
    let grid = PairGrid::new(&xy, delta_m, metric);
    super::cancel::checkpoint()?;
    let days: Vec<u16> = points.iter().map(|p| p.day.days_since_epoch()).collect();
    let pairs = (n as u64) * (n as u64).saturating_sub(1) / 2;
    let nt = {
        let mut sorted = days.clone();
        sorted.sort_unstable();
        pairs_within(&sorted, tau_days)
    };
    let count = |chunk: &PairChunk, d: &[u16]| -> u64 {
        chunk
            .iter()
            .filter(|&(i, j, _)| u32::from(d[i as usize].abs_diff(d[j as usize])) <= tau_days)
            .count() as u64
    };
    // The close pairs a budget's worth at a time, as in `knox_with_pair_budget`: every pass
    // replays the permutations, and the per-permutation counts add up over the passes.
    let mut chunk = PairChunk::with_limit(pair_budget_bytes / PAIR_BYTES);
    let mut ns = 0u64;
    let mut nst = 0u64;
    let mut perm_nst = vec![0u64; permutations as usize];
    let mut shuffled = days.clone();
    let mut from = Some(Cursor::START);
    while let Some(start) = from {
        chunk.clear();
        from = grid.fill(start, |_| Some(0), &mut chunk);
        super::cancel::checkpoint()?;
        if chunk.len() == 0 {
            break;
        }
        ns += chunk.len() as u64;
        nst += count(&chunk, &days);
        let mut rng = Xoshiro256::seeded(seed);
        shuffled.copy_from_slice(&days);
        for slot in &mut perm_nst {
            super::cancel::checkpoint()?;
            rng.shuffle(&mut shuffled);
            *slot += count(&chunk, &shuffled);
        }
    }
    let ge = perm_nst.iter().filter(|&&c| c >= nst).count() as u64;
    let e = if pairs == 0 {
        0.0
    } else {
        ns as f64 * nt as f64 / pairs as f64
    };
    Ok(GlobalKnox {
        n,
        pairs,
        ns,
        nt,
        nst,
        observed: [[nst, ns - nst], [nt - nst, pairs - ns - nt + nst]],
        expected: [
            [e, ns as f64 - e],
            [nt as f64 - e, pairs as f64 - ns as f64 - nt as f64 + e],
        ],
        p_poisson: poisson_upper_tail(nst, e),
        p_sim: (permutations > 0).then(|| (ge as f64 + 1.0) / (f64::from(permutations) + 1.0)),
        delta_m,
        tau_days,
        metric,
        permutations,
        seed,
    })
}

#[cfg(test)]
#[path = "knox_tests.rs"]
mod tests;
