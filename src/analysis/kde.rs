//! Quartic kernel density (`analytics.md` §4; Silverman 1986 eq. 4.5; Esri "How Kernel
//! Density works").
//!
//! # Formula (`ArcGIS` normalisation, `analytics.md` §4.1)
//!
//! ```text
//! D(c) = Σ_{i : d_ic < r} (3 / (π r²)) · w_i · (1 − (d_ic / r)²)²
//! ```
//!
//! D is events per m² (we also report per km²); it integrates to Σ `w_i`. Distances are
//! Euclidean in metres on the British National Grid: lon/lat points and cell centres are
//! projected with [`crate::domain::BngPoint::from_lonlat`] first (`analytics.md` §0). A cell
//! with no event within r is `NoData`: omitted from the output (`KDEpy` would give 0).
//! "Expected count" = D × the cell's area (h3o `area_m2`).
//!
//! # Default search radius (`ArcGIS` 10.2.1 and later)
//!
//! ```text
//! r = 0.9 · min(SD, sqrt(1 / ln 2) · D_m) · n^(−0.2)
//! ```
//!
//! SD is the standard distance from the weighted mean centre,
//! `sqrt(Σ w_i d_i² / Σ w_i)`; `D_m` is the weighted median distance from the mean centre; n is
//! Σ `w_i`. The weighted median is our definition where `ArcGIS` leaves it open: sort the
//! distances, accumulate weights; if some prefix holds exactly half the total weight the
//! median is the mean of that distance and the next, otherwise it is the first distance at
//! which the cumulative weight passes half. With equal weights this is the ordinary median.
//! The radius is reported as derived, with SD, `D_m` and n.
//!
//! All points in one place (or a single point) give r = 0: that is refused with
//! [`AnalysisError::Degenerate`]; give a radius instead.
//!
//! # Comparing with `KDEpy` (`analytics.md` §10.5)
//!
//! `KDEpy` scales kernels by their standard deviation; the biweight has variance 1/7, so our
//! radius r is `KDEpy`'s `bw = r / sqrt(7)`, with `norm=2`, times Σ w.

use h3o::CellIndex;
use serde::Serialize;

use super::gistar::{CellUniverse, cell_centre};
use super::{AnalysisError, AnalysisResult, SOFTWARE_VERSION, serialize_cell};
use crate::domain::{BngPoint, LonLat};

/// A weighted point in planar metres (British National Grid, or any metric projection).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightedPoint {
    /// Easting, metres.
    pub x_m: f64,
    /// Northing, metres.
    pub y_m: f64,
    /// Weight (1 for a plain count).
    pub weight: f64,
}

/// Projects lon/lat positions to British National Grid metres `[easting, northing]`.
///
/// # Errors
///
/// [`AnalysisError::Projection`] naming the first point off the National Grid.
pub fn to_bng(points: impl IntoIterator<Item = LonLat>) -> AnalysisResult<Vec<[f64; 2]>> {
    points
        .into_iter()
        .enumerate()
        .map(|(index, p)| {
            BngPoint::from_lonlat(p)
                .map(|b| [b.easting_m(), b.northing_m()])
                .map_err(|e| AnalysisError::Projection {
                    index,
                    reason: e.to_string(),
                })
        })
        .collect()
}

/// How the default radius was derived.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RadiusDerivation {
    /// The radius, metres.
    pub radius_m: f64,
    /// Standard distance from the weighted mean centre, metres.
    pub standard_distance_m: f64,
    /// Weighted median distance from the mean centre, metres.
    pub median_distance_m: f64,
    /// Σ w (the number of points when unweighted).
    pub n: f64,
}

fn check_points(points: &[WeightedPoint]) -> AnalysisResult<f64> {
    let mut total = 0.0;
    for (i, p) in points.iter().enumerate() {
        if !(p.x_m.is_finite() && p.y_m.is_finite() && p.weight.is_finite() && p.weight >= 0.0) {
            return Err(AnalysisError::invalid(
                "points",
                format!("point {i} has a non-finite coordinate or a negative weight"),
            ));
        }
        total += p.weight;
    }
    Ok(total)
}

/// The `ArcGIS` default search radius (see the module docs).
///
/// # Errors
///
/// [`AnalysisError::NoData`] with no points or zero total weight;
/// [`AnalysisError::Degenerate`] when the radius comes out as zero (all points in one place).
#[expect(
    clippy::float_cmp,
    reason = "the weighted median needs the exact half-weight case"
)]
pub fn default_radius_m(points: &[WeightedPoint]) -> AnalysisResult<RadiusDerivation> {
    let n = check_points(points)?;
    if points.is_empty() || n <= 0.0 {
        return Err(AnalysisError::NoData(
            "no weighted points to derive a radius from".to_owned(),
        ));
    }
    let mx = points.iter().map(|p| p.weight * p.x_m).sum::<f64>() / n;
    let my = points.iter().map(|p| p.weight * p.y_m).sum::<f64>() / n;
    let mut d: Vec<(f64, f64)> = points
        .iter()
        .map(|p| {
            (
                ((p.x_m - mx).powi(2) + (p.y_m - my).powi(2)).sqrt(),
                p.weight,
            )
        })
        .collect();
    let sd = (d.iter().map(|(di, w)| w * di * di).sum::<f64>() / n).sqrt();
    d.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let half = n / 2.0;
    let mut cum = 0.0;
    let mut median = d.last().map_or(0.0, |x| x.0);
    for (k, (di, w)) in d.iter().enumerate() {
        cum += w;
        if cum == half {
            let next = d[k + 1..].iter().find(|x| x.1 > 0.0).map_or(*di, |x| x.0);
            median = (di + next) / 2.0;
            break;
        }
        if cum > half {
            median = *di;
            break;
        }
    }
    let radius_m = 0.9 * sd.min((1.0 / std::f64::consts::LN_2).sqrt() * median) * n.powf(-0.2);
    if !(radius_m > 0.0 && radius_m.is_finite()) {
        return Err(AnalysisError::Degenerate(
            "every point is in the same place, so the default radius is zero; give a radius"
                .to_owned(),
        ));
    }
    Ok(RadiusDerivation {
        radius_m,
        standard_distance_m: sd,
        median_distance_m: median,
        n,
    })
}

/// Uniform grid of point indices with square buckets of side `size_m`, for radius queries.
struct Buckets {
    min: [f64; 2],
    size_m: f64,
    nx: usize,
    ny: usize,
    start: Vec<u32>,
    items: Vec<u32>,
}

impl Buckets {
    fn new(points: &[WeightedPoint], size_m: f64) -> Self {
        let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for p in points {
            lo = [lo[0].min(p.x_m), lo[1].min(p.y_m)];
            hi = [hi[0].max(p.x_m), hi[1].max(p.y_m)];
        }
        if points.is_empty() {
            lo = [0.0; 2];
            hi = [0.0; 2];
        }
        // Cap the grid at about 4M buckets by growing the bucket when the extent is huge.
        let mut size = size_m;
        let span = (hi[0] - lo[0]).max(hi[1] - lo[1]);
        if span / size > 2048.0 {
            size = span / 2048.0;
        }
        let nx = ((hi[0] - lo[0]) / size) as usize + 1;
        let ny = ((hi[1] - lo[1]) / size) as usize + 1;
        let key = |p: &WeightedPoint| {
            let bx = (((p.x_m - lo[0]) / size) as usize).min(nx - 1);
            let by = (((p.y_m - lo[1]) / size) as usize).min(ny - 1);
            by * nx + bx
        };
        let mut start = vec![0u32; nx * ny + 1];
        for p in points {
            start[key(p) + 1] += 1;
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let mut fill = start.clone();
        let mut items = vec![0u32; points.len()];
        for (i, p) in points.iter().enumerate() {
            let k = key(p);
            items[fill[k] as usize] = i as u32;
            fill[k] += 1;
        }
        Self {
            min: lo,
            size_m: size,
            nx,
            ny,
            start,
            items,
        }
    }

    /// Calls `f` with every point index in buckets touching the square of half-side `r`.
    #[expect(
        clippy::many_single_char_names,
        reason = "the variables follow the notation of the formulas in analytics.md"
    )]
    fn near(&self, x: f64, y: f64, r: f64, mut f: impl FnMut(u32)) {
        let clamp = |v: f64, lo: f64, n: usize| -> usize {
            let c = ((v - lo) / self.size_m).floor();
            if c <= 0.0 { 0 } else { (c as usize).min(n - 1) }
        };
        // Skip queries entirely outside the grid.
        let (gx1, gy1) = (
            self.min[0] + self.size_m * self.nx as f64,
            self.min[1] + self.size_m * self.ny as f64,
        );
        if x + r < self.min[0] || y + r < self.min[1] || x - r > gx1 || y - r > gy1 {
            return;
        }
        let (x0, x1) = (
            clamp(x - r, self.min[0], self.nx),
            clamp(x + r, self.min[0], self.nx),
        );
        let (y0, y1) = (
            clamp(y - r, self.min[1], self.ny),
            clamp(y + r, self.min[1], self.ny),
        );
        for by in y0..=y1 {
            let row = by * self.nx;
            let (a, b) = (
                self.start[row + x0] as usize,
                self.start[row + x1 + 1] as usize,
            );
            for &i in &self.items[a..b] {
                f(i);
            }
        }
    }
}

/// Quartic density per m² at each location in `at` (planar metres), `None` where no point
/// lies within `radius_m` (`NoData`).
///
/// # Units
///
/// Points and locations in metres; the result in weight per m².
///
/// # Errors
///
/// [`AnalysisError::InvalidSetting`] for a radius that is not positive and finite, or a
/// non-finite point or negative weight.
pub fn quartic_density(
    points: &[WeightedPoint],
    at: &[[f64; 2]],
    radius_m: f64,
) -> AnalysisResult<Vec<Option<f64>>> {
    if !(radius_m.is_finite() && radius_m > 0.0) {
        return Err(AnalysisError::invalid(
            "radius_m",
            format!("{radius_m} is not a positive distance"),
        ));
    }
    check_points(points)?;
    let buckets = Buckets::new(points, radius_m);
    let r2 = radius_m * radius_m;
    let scale = 3.0 / (std::f64::consts::PI * r2);
    Ok(at
        .iter()
        .map(|&[x, y]| {
            let mut sum = 0.0;
            let mut any = false;
            buckets.near(x, y, radius_m, |i| {
                let p = &points[i as usize];
                let d2 = (p.x_m - x).powi(2) + (p.y_m - y).powi(2);
                if d2 < r2 {
                    let u = 1.0 - d2 / r2;
                    sum += p.weight * u * u;
                    any = true;
                }
            });
            any.then_some(sum * scale)
        })
        .collect())
}

/// Settings of a KDE run on H3 cells.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct KdeSettings {
    /// Search radius in metres; `None` derives the `ArcGIS` default.
    pub radius_m: Option<f64>,
}

/// Every setting of a KDE run, echoed in its result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KdeEcho {
    /// Always `quartic_kernel_density`.
    pub method: &'static str,
    /// The normalisation.
    pub normalisation: &'static str,
    /// H3 resolution.
    pub res: u8,
    /// The study area.
    pub study_area: super::gistar::StudyArea,
    /// Cells evaluated.
    pub cells_evaluated: usize,
    /// The radius used, metres.
    pub radius_m: f64,
    /// `given` or `derived (ArcGIS default)`.
    pub radius_source: &'static str,
    /// The derivation, when derived.
    pub radius_derivation: Option<RadiusDerivation>,
    /// Projection for distances.
    pub projection: &'static str,
    /// Points used.
    pub points: usize,
    /// Σ w.
    pub total_weight: f64,
    /// Software version.
    pub software_version: &'static str,
}

/// One cell's density.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KdeCell {
    /// The cell.
    #[serde(serialize_with = "serialize_cell")]
    pub h3: CellIndex,
    /// Density at the cell centre, events per km².
    pub density_per_km2: f64,
    /// Density × cell area: expected events in the cell.
    pub expected_count: f64,
}

/// The result of [`kde_cells`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KdeResult {
    /// Every setting used.
    pub settings: KdeEcho,
    /// Conditions the analyst should know about.
    pub warnings: Vec<String>,
    /// Cells with at least one point within the radius (others are `NoData`), in cell order.
    pub cells: Vec<KdeCell>,
}

/// Quartic KDE evaluated at the centre of every cell of `universe` — the function behind the
/// density layer and `saferplaces analyse kde`. `points` are lon/lat with a weight each.
///
/// # Units
///
/// Radius in metres; density in events per km²; expected counts in events.
///
/// # Errors
///
/// [`AnalysisError::Projection`] for a point or cell off the National Grid; the errors of
/// [`default_radius_m`] when no radius is given; [`AnalysisError::InvalidSetting`] for a bad
/// radius or weight.
pub fn kde_cells(
    universe: &CellUniverse,
    points: &[(LonLat, f64)],
    settings: &KdeSettings,
) -> AnalysisResult<KdeResult> {
    let xy = to_bng(points.iter().map(|p| p.0))?;
    let pts: Vec<WeightedPoint> = xy
        .iter()
        .zip(points)
        .map(|(xy, p)| WeightedPoint {
            x_m: xy[0],
            y_m: xy[1],
            weight: p.1,
        })
        .collect();
    let total_weight = check_points(&pts)?;
    let (radius_m, derivation) = if let Some(r) = settings.radius_m {
        (r, None)
    } else {
        let d = default_radius_m(&pts)?;
        (d.radius_m, Some(d))
    };
    let centres = to_bng(universe.cells().iter().map(|c| cell_centre(*c)))?;
    let density = quartic_density(&pts, &centres, radius_m)?;
    let mut warnings = Vec::new();
    if let Some(first) = universe.cells().first() {
        let cell_size_m = first.area_m2().sqrt();
        if radius_m < cell_size_m {
            warnings.push(format!(
                "the radius ({radius_m:.0} m) is smaller than the cell size (about {cell_size_m:.0} m): the surface is mostly NoData"
            ));
        }
    }
    let cells: Vec<KdeCell> = universe
        .cells()
        .iter()
        .zip(density)
        .filter_map(|(cell, d)| {
            d.map(|d| KdeCell {
                h3: *cell,
                density_per_km2: d * 1e6,
                expected_count: d * cell.area_m2(),
            })
        })
        .collect();
    if points.is_empty() {
        warnings.push("no points: every cell is NoData".to_owned());
    }
    Ok(KdeResult {
        settings: KdeEcho {
            method: "quartic_kernel_density",
            normalisation: "ArcGIS: 3/(pi r^2) (1-(d/r)^2)^2 per event; integrates to the total weight",
            res: u8::from(universe.resolution()),
            study_area: universe.area().clone(),
            cells_evaluated: universe.len(),
            radius_m,
            radius_source: if derivation.is_some() {
                "derived (ArcGIS default)"
            } else {
                "given"
            },
            radius_derivation: derivation,
            projection: "EPSG:27700 British National Grid (Helmert from WGS84)",
            points: points.len(),
            total_weight,
            software_version: SOFTWARE_VERSION,
        },
        warnings,
        cells,
    })
}

#[cfg(test)]
#[path = "kde_tests.rs"]
mod tests;
