//! Getis-Ord Gi\* local hot spots on H3 cells (`analytics.md` §1; Ord and Getis 1995).
//!
//! # The cell universe
//!
//! Gi\* compares each cell with the whole study area, so the set of cells matters as much as
//! the counts: cells with no events are part of it. A [`CellUniverse`] is every cell at one
//! resolution **whose centre lies in the study area** (`analytics.md` §0): an area polygon
//! (e.g. a boundary), a box, or by default the extent of the data — the smallest box holding
//! the centres of the cells the points fall in, so that no point's cell is left out. Cells
//! outside the universe do not exist for the analysis; counts in them are reported as
//! dropped, never silently added.
//!
//! Centre-in-polygon uses an even–odd crossing test over every ring (holes and multipart
//! areas work); a centre exactly on an edge is decided by the half-open crossing rule. The
//! candidates are found by flooding the H3 grid over the area's bounding box.
//!
//! # Weights
//!
//! Binary weights over `grid_disk(cell, k)`: the cell itself and every cell within `k` rings
//! that is in the universe ([`Neighbours`]). This is the hexagon equivalent of `ArcGIS`'s fixed
//! distance band with the cell itself included (`analytics.md` §1.1). Always binary, never
//! row-standardised (`analytics.md` §10.2 pitfall).
//!
//! # Formula (`analytics.md` §1.1)
//!
//! ```text
//! X̄ = Σx / n,  S = sqrt(Σx²/n − X̄²)  (population SD; computed in two passes for accuracy)
//! W_i = Σ_j w_ij  (neighbours including i; equals S1_i for binary weights)
//! z_i = (Σ_j w_ij x_j − X̄ W_i) / (S · sqrt((n W_i − W_i²) / (n − 1)))
//! p_i = 2 (1 − Φ(|z_i|)) = erfc(|z_i| / √2)
//! ```
//!
//! z is **undefined** (`None`, JSON `null`, bin 0, not counted in the FDR m) when the cell has
//! no neighbour besides itself (`W_i` = 1), when `W_i` = n, when S = 0 (all values equal, or
//! S below 10⁻¹² of the largest |x|, which is rounding noise), or when n < 2. Each case adds a
//! warning. Fewer than 30 cells also warns (Esri guidance).
//!
//! Bins −3..=3 come from [`super::fdr`]: FDR as `ArcGIS` applies it, on by default.
//!
//! # Rates
//!
//! With a [`PopulationRates`], the value of a cell is `count / population × per` (e.g. per
//! 1,000 residents aged 10–24). Cells below the minimum population are masked: removed from
//! the universe before neighbours are found, and counted in the summary.

use std::collections::VecDeque;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use geo::{BoundingRect, MultiPolygon};
use h3o::{CellIndex, LatLng, Resolution};
use serde::Serialize;

use super::fdr;
use super::{AnalysisError, AnalysisResult, SOFTWARE_VERSION, serialize_cell};
use crate::domain::{Bbox, LonLat};

/// Default largest universe, in cells (about 100 km² at resolution 11; far beyond Bristol at
/// the resolutions the map uses). Guards against one stray point asking for millions of cells.
pub const DEFAULT_MAX_CELLS: usize = 2_000_000;

/// Below this many cells Esri warns that Gi\* results are unreliable (`analytics.md` §1.1).
pub const MIN_RELIABLE_UNITS: usize = 30;

/// Two-sided normal p-value `2 (1 − Φ(|z|))`, computed as `erfc(|z| / √2)` so that it stays
/// accurate for large |z| (1 − Φ would round to 0).
pub fn two_sided_p(z: f64) -> f64 {
    libm::erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// How the study area of a universe was given (echoed in results).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StudyArea {
    /// Cells whose centre lies in a polygon area.
    Polygon {
        /// Name of the area (file name, boundary code or scheme).
        name: String,
    },
    /// Cells whose centre lies in a lon/lat box (edges included).
    Box {
        /// `[min_lon, min_lat, max_lon, max_lat]`.
        bbox: [f64; 4],
    },
    /// The default: the box holding the centres of the cells the data fall in.
    DataExtent {
        /// `[min_lon, min_lat, max_lon, max_lat]` of those centres.
        bbox: [f64; 4],
    },
    /// An explicit list of cells.
    Cells,
}

/// The cells of one H3 resolution that make up a study area, sorted by index.
#[derive(Debug, Clone)]
pub struct CellUniverse {
    res: Resolution,
    cells: Vec<CellIndex>,
    area: StudyArea,
}

/// Largest offsets, in degrees (longitude, latitude), to search around a box so that every
/// cell whose centre is inside it is reached by the flood.
fn margin_deg(res: Resolution, lat: f64) -> (f64, f64) {
    let m = 3.0 * res.edge_length_m();
    let lat_deg = m / 111_000.0;
    let lon_deg = lat_deg / lat.to_radians().cos().abs().max(0.01);
    (lon_deg, lat_deg)
}

/// The lon/lat centre of a cell.
pub fn cell_centre(cell: CellIndex) -> LonLat {
    let ll = LatLng::from(cell);
    LonLat::new(ll.lng(), ll.lat()).expect("an H3 cell centre is a valid position")
}

/// The cell of a point at `res`.
pub fn cell_of(p: LonLat, res: Resolution) -> CellIndex {
    LatLng::new(p.lat(), p.lon())
        .expect("a valid LonLat is a valid LatLng")
        .to_cell(res)
}

impl CellUniverse {
    /// A universe of the given cells (deduplicated and sorted).
    ///
    /// # Errors
    ///
    /// [`AnalysisError::Mismatch`] when the cells are not all of resolution `res`.
    pub fn from_cells(
        res: Resolution,
        cells: impl IntoIterator<Item = CellIndex>,
    ) -> AnalysisResult<Self> {
        let mut cells: Vec<CellIndex> = cells.into_iter().collect();
        if let Some(bad) = cells.iter().find(|c| c.resolution() != res) {
            return Err(AnalysisError::Mismatch(format!(
                "cell {bad} is not at resolution {}",
                u8::from(res)
            )));
        }
        cells.sort_unstable();
        cells.dedup();
        Ok(Self {
            res,
            cells,
            area: StudyArea::Cells,
        })
    }

    /// Every cell at `res` whose centre lies in `area` (even–odd rule over all rings).
    ///
    /// # Errors
    ///
    /// [`AnalysisError::NoData`] for an empty polygon; [`AnalysisError::TooManyCells`] when
    /// more than `max_cells` cells would be needed.
    pub fn in_polygons(
        area: &MultiPolygon<f64>,
        name: &str,
        res: Resolution,
        max_cells: usize,
    ) -> AnalysisResult<Self> {
        let rect = area
            .bounding_rect()
            .ok_or_else(|| AnalysisError::NoData("the study area polygon is empty".to_owned()))?;
        let mask = PolygonMask::new(area);
        let cells = flood(
            [rect.min().x, rect.min().y, rect.max().x, rect.max().y],
            res,
            max_cells,
            |lon, lat| mask.contains(lon, lat),
        )?;
        Ok(Self {
            res,
            cells,
            area: StudyArea::Polygon {
                name: name.to_owned(),
            },
        })
    }

    /// Every cell at `res` whose centre lies in `bbox`, edges included.
    ///
    /// # Errors
    ///
    /// [`AnalysisError::TooManyCells`] when more than `max_cells` cells would be needed.
    pub fn in_box(bbox: Bbox, res: Resolution, max_cells: usize) -> AnalysisResult<Self> {
        let b = bbox_array(bbox);
        let cells = flood(b, res, max_cells, |lon, lat| bbox.contains_raw(lon, lat))?;
        Ok(Self {
            res,
            cells,
            area: StudyArea::Box { bbox: b },
        })
    }

    /// The default study area: every cell at `res` whose centre lies in the box holding the
    /// centres of the cells the points fall in. Every point's cell is included.
    ///
    /// # Errors
    ///
    /// [`AnalysisError::NoData`] for no points; [`AnalysisError::TooManyCells`] when more
    /// than `max_cells` cells would be needed (usually one stray point far away).
    pub fn data_extent(
        points: impl IntoIterator<Item = LonLat>,
        res: Resolution,
        max_cells: usize,
    ) -> AnalysisResult<Self> {
        let mut occupied: Vec<CellIndex> = points.into_iter().map(|p| cell_of(p, res)).collect();
        occupied.sort_unstable();
        occupied.dedup();
        let bbox = Bbox::enclosing(occupied.iter().map(|c| cell_centre(*c)))
            .ok_or_else(|| AnalysisError::NoData("no points to take the extent of".to_owned()))?;
        let b = bbox_array(bbox);
        let mut cells = flood(b, res, max_cells, |lon, lat| bbox.contains_raw(lon, lat))?;
        // The centres are on the box by construction; make sure rounding cannot drop one.
        cells.extend(occupied);
        cells.sort_unstable();
        cells.dedup();
        Ok(Self {
            res,
            cells,
            area: StudyArea::DataExtent { bbox: b },
        })
    }

    /// The resolution of every cell.
    pub fn resolution(&self) -> Resolution {
        self.res
    }

    /// The cells, sorted ascending.
    pub fn cells(&self) -> &[CellIndex] {
        &self.cells
    }

    /// Number of cells (n).
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// True when the universe holds no cell.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// How the study area was given.
    pub fn area(&self) -> &StudyArea {
        &self.area
    }

    /// Position of `cell` in [`Self::cells`], if it is in the universe.
    pub fn position(&self, cell: CellIndex) -> Option<usize> {
        self.cells.binary_search(&cell).ok()
    }

    /// The universe without the cells for which `keep` is false (same study-area label).
    #[must_use]
    pub fn retain(&self, mut keep: impl FnMut(CellIndex) -> bool) -> Self {
        Self {
            res: self.res,
            cells: self.cells.iter().copied().filter(|c| keep(*c)).collect(),
            area: self.area.clone(),
        }
    }
}

fn bbox_array(b: Bbox) -> [f64; 4] {
    [b.min().lon(), b.min().lat(), b.max().lon(), b.max().lat()]
}

/// Cells at `res` whose centre passes `inside`, found by flooding the grid from the box's
/// centre over every cell whose centre lies within the box grown by a margin.
fn flood(
    b: [f64; 4],
    res: Resolution,
    max_cells: usize,
    inside: impl Fn(f64, f64) -> bool,
) -> AnalysisResult<Vec<CellIndex>> {
    let (mx, my) = margin_deg(res, f64::midpoint(b[1], b[3]));
    let (lo_x, lo_y, hi_x, hi_y) = (b[0] - mx, b[1] - my, b[2] + mx, b[3] + my);
    let start = LatLng::new(f64::midpoint(b[1], b[3]), f64::midpoint(b[0], b[2]))
        .map_err(|e| AnalysisError::invalid("area", e.to_string()))?
        .to_cell(res);
    let too_many = || AnalysisError::TooManyCells {
        limit: max_cells,
        res: u8::from(res),
    };
    let mut seen: HashSet<CellIndex> = HashSet::new();
    let mut queue = VecDeque::from([start]);
    seen.insert(start);
    let mut out = Vec::new();
    // Visited cells beyond the kept ones are the margin ring: a few times the perimeter.
    let visit_limit = max_cells.saturating_mul(4).saturating_add(10_000);
    while let Some(cell) = queue.pop_front() {
        let ll = LatLng::from(cell);
        if inside(ll.lng(), ll.lat()) {
            out.push(cell);
            if out.len() > max_cells {
                return Err(too_many());
            }
        }
        for next in cell.grid_disk::<Vec<CellIndex>>(1) {
            if seen.contains(&next) {
                continue;
            }
            seen.insert(next);
            if seen.len() > visit_limit {
                return Err(too_many());
            }
            let c = LatLng::from(next);
            if (lo_x..=hi_x).contains(&c.lng()) && (lo_y..=hi_y).contains(&c.lat()) {
                queue.push_back(next);
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Fast centre-in-area test: the even–odd crossing rule over every ring of a multipolygon,
/// with the edges bucketed into horizontal bands so that a test looks only at the edges that
/// cross its band.
#[derive(Debug, Clone)]
pub struct PolygonMask {
    min_y: f64,
    band_h: f64,
    bands: Vec<Vec<[f64; 4]>>,
}

impl PolygonMask {
    /// Builds the mask of `area` (lon/lat degrees or any planar coordinates).
    #[expect(
        clippy::float_cmp,
        reason = "horizontal edges never cross a horizontal ray; exact equality is the test"
    )]
    pub fn new(area: &MultiPolygon<f64>) -> Self {
        let mut edges = Vec::new();
        for poly in area {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for line in ring.lines() {
                    if line.start.y != line.end.y {
                        edges.push([line.start.x, line.start.y, line.end.x, line.end.y]);
                    }
                }
            }
        }
        let (min_y, max_y) = edges
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |a, e| {
                (a.0.min(e[1]).min(e[3]), a.1.max(e[1]).max(e[3]))
            });
        if edges.is_empty() || !min_y.is_finite() || !max_y.is_finite() {
            return Self {
                min_y: 0.0,
                band_h: 1.0,
                bands: Vec::new(),
            };
        }
        let n_bands = (edges.len() / 4).clamp(1, 4096);
        let band_h = ((max_y - min_y) / n_bands as f64).max(f64::MIN_POSITIVE);
        let mut bands = vec![Vec::new(); n_bands];
        for e in edges {
            let lo = ((e[1].min(e[3]) - min_y) / band_h).floor() as usize;
            let hi = ((e[1].max(e[3]) - min_y) / band_h).floor() as usize;
            for band in &mut bands[lo.min(n_bands - 1)..=hi.min(n_bands - 1)] {
                band.push(e);
            }
        }
        Self {
            min_y,
            band_h,
            bands,
        }
    }

    /// True when `(x, y)` is inside (even–odd rule; points on an edge by the half-open rule).
    pub fn contains(&self, x: f64, y: f64) -> bool {
        if self.bands.is_empty() || y < self.min_y {
            return false;
        }
        let band = ((y - self.min_y) / self.band_h).floor() as usize;
        let Some(edges) = self.bands.get(band) else {
            return false;
        };
        let mut inside = false;
        for &[x1, y1, x2, y2] in edges {
            if (y1 > y) != (y2 > y) {
                let xi = x1 + (y - y1) * (x2 - x1) / (y2 - y1);
                if x < xi {
                    inside = !inside;
                }
            }
        }
        inside
    }
}

/// Binary spatial weights over `grid_disk(cell, k)` within a universe, the cell itself
/// included, in compressed rows: the neighbours of cell `i` are
/// `idx[start[i]..start[i + 1]]` (positions in the universe, ascending, `i` among them).
#[derive(Debug, Clone)]
pub struct Neighbours {
    k: u32,
    start: Vec<u32>,
    idx: Vec<u32>,
}

impl Neighbours {
    /// The neighbours of every cell of `universe` within `k` rings.
    ///
    /// # Errors
    ///
    /// [`AnalysisError::InvalidSetting`] for `k` > 50 (more than 7,651 cells per disk);
    /// [`AnalysisError::TooManyCells`] when the universe has more than `u32::MAX` cells.
    pub fn grid_disk(universe: &CellUniverse, k: u32) -> AnalysisResult<Self> {
        if k > 50 {
            return Err(AnalysisError::invalid(
                "k",
                format!("{k} rings is more than 50"),
            ));
        }
        let n = universe.len();
        if u32::try_from(n).is_err() {
            return Err(AnalysisError::TooManyCells {
                limit: u32::MAX as usize,
                res: u8::from(universe.res),
            });
        }
        let mut pos: HashMap<CellIndex, u32> = HashMap::with_capacity(n);
        for (i, c) in universe.cells.iter().enumerate() {
            pos.insert(*c, i as u32);
        }
        let per = (3 * k * (k + 1) + 1) as usize;
        let mut start = Vec::with_capacity(n + 1);
        let mut idx = Vec::with_capacity(n * per.min(64));
        start.push(0u32);
        let mut disk: Vec<CellIndex> = Vec::with_capacity(per);
        for (n_done, c) in universe.cells.iter().enumerate() {
            if n_done % 1024 == 0 {
                super::cancel::checkpoint()?;
            }
            disk.clear();
            disk.extend(c.grid_disk::<Vec<CellIndex>>(k));
            let first = idx.len();
            idx.extend(disk.iter().filter_map(|d| pos.get(d).copied()));
            idx[first..].sort_unstable();
            start.push(idx.len() as u32);
        }
        Ok(Self { k, start, idx })
    }

    /// Builds weights from explicit neighbour lists (positions, each list holding its own
    /// cell). Used by tests and by callers with their own adjacency.
    ///
    /// # Errors
    ///
    /// [`AnalysisError::Mismatch`] when a position is out of range or a list lacks its own
    /// cell.
    pub fn from_lists(lists: &[Vec<u32>]) -> AnalysisResult<Self> {
        let n = lists.len();
        let mut start = vec![0u32];
        let mut idx = Vec::new();
        for (i, list) in lists.iter().enumerate() {
            if list.iter().any(|j| *j as usize >= n) {
                return Err(AnalysisError::Mismatch(format!(
                    "neighbour list {i} names a position beyond {n}"
                )));
            }
            if !list.contains(&(i as u32)) {
                return Err(AnalysisError::Mismatch(format!(
                    "neighbour list {i} does not include its own cell"
                )));
            }
            let mut l = list.clone();
            l.sort_unstable();
            l.dedup();
            idx.extend(l);
            start.push(idx.len() as u32);
        }
        Ok(Self { k: 0, start, idx })
    }

    /// Rings used (0 for explicit lists).
    pub fn k(&self) -> u32 {
        self.k
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.start.len() - 1
    }

    /// True when there are no cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Neighbours of cell `i` (positions, ascending, including `i`).
    pub fn of(&self, i: usize) -> &[u32] {
        &self.idx[self.start[i] as usize..self.start[i + 1] as usize]
    }

    /// `W_i`: the number of neighbours of cell `i`, itself included.
    pub fn count(&self, i: usize) -> u32 {
        self.start[i + 1] - self.start[i]
    }
}

/// Global statistics of one Gi\* run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GlobalStats {
    /// Units in the global window (n).
    pub n: usize,
    /// Mean value X̄.
    pub mean: f64,
    /// Population standard deviation S (divided by n).
    pub sd: f64,
}

impl GlobalStats {
    /// Mean and population SD of `values`, in two passes.
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        if n == 0 {
            return Self {
                n,
                mean: f64::NAN,
                sd: f64::NAN,
            };
        }
        let nf = n as f64;
        let mean = values.iter().sum::<f64>() / nf;
        let var = values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / nf;
        let max_abs = values.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        let sd = var.sqrt();
        // Differences from a mean that is not exactly representable leave rounding noise.
        let sd = if sd <= 1e-12 * max_abs { 0.0 } else { sd };
        Self { n, mean, sd }
    }

    /// True when z can be defined at all (n ≥ 2 and S > 0, finite).
    pub fn usable(&self) -> bool {
        self.n >= 2 && self.sd > 0.0 && self.sd.is_finite() && self.mean.is_finite()
    }

    /// Gi\* z for a unit with neighbourhood sum `local_sum` over `w` neighbours (itself
    /// included), or `None` when undefined (`w` ≤ 1, `w` ≥ n, or unusable statistics).
    pub fn z(&self, local_sum: f64, w: u32) -> Option<f64> {
        if !self.usable() || w <= 1 || w as usize >= self.n {
            return None;
        }
        let (n, w) = (self.n as f64, f64::from(w));
        let denom = self.sd * ((n * w - w * w) / (n - 1.0)).sqrt();
        let z = (local_sum - self.mean * w) / denom;
        z.is_finite().then_some(z)
    }
}

/// z (and the `W_i` used) for every cell of `neighbours` with values `values` (parallel).
///
/// # Errors
///
/// [`AnalysisError::Mismatch`] when `values` and `neighbours` differ in length.
pub fn gistar_z(
    values: &[f64],
    neighbours: &Neighbours,
) -> AnalysisResult<(Vec<Option<f64>>, GlobalStats)> {
    if values.len() != neighbours.len() {
        return Err(AnalysisError::Mismatch(format!(
            "{} values for {} cells",
            values.len(),
            neighbours.len()
        )));
    }
    let stats = GlobalStats::of(values);
    let z = (0..values.len())
        .map(|i| {
            let local: f64 = neighbours.of(i).iter().map(|j| values[*j as usize]).sum();
            stats.z(local, neighbours.count(i))
        })
        .collect();
    Ok((z, stats))
}

/// Settings of a Gi\* run on H3 cells.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GiStarSettings {
    /// Rings of neighbours (k in `grid_disk(cell, k)`), default 1.
    pub k: u32,
    /// Apply the FDR correction to the bins (default true).
    pub fdr: bool,
}

impl Default for GiStarSettings {
    fn default() -> Self {
        Self { k: 1, fdr: true }
    }
}

/// Population per cell for rates (`analytics.md` §4.3), with the denominator named.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationRates {
    /// Population per cell; cells missing here have no known population.
    pub population: HashMap<CellIndex, f64>,
    /// Cells below this population are masked (removed from the universe).
    pub min_population: f64,
    /// Rate multiplier, e.g. 1000 for "per 1,000".
    pub per: f64,
    /// What the population is, e.g. "residents aged 10-24, Census 2021".
    pub denominator: String,
}

/// The echo of a rate setting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateEcho {
    /// The denominator's description.
    pub denominator: String,
    /// Rate multiplier.
    pub per: f64,
    /// Minimum population for a cell to be kept.
    pub min_population: f64,
}

/// Every setting of a hot spot run, echoed in its result (`analytics.md` §11).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HotspotEcho {
    /// Always `getis_ord_gi_star`.
    pub method: &'static str,
    /// Always `h3`.
    pub unit: &'static str,
    /// H3 resolution.
    pub res: u8,
    /// The study area.
    pub study_area: StudyArea,
    /// Weights description.
    pub weights: &'static str,
    /// Rings of neighbours.
    pub k: u32,
    /// Cells in the analysis (after masking).
    pub n: usize,
    /// `count` or `rate`.
    pub value: &'static str,
    /// The rate setting, when rates are used.
    pub rate: Option<RateEcho>,
    /// How p is computed.
    pub p_value: &'static str,
    /// `fdr_arcgis` or `none`.
    pub correction: &'static str,
    /// Confidence levels of bins 1, 2, 3.
    pub confidence_levels: [f64; 3],
    /// Software version.
    pub software_version: &'static str,
}

/// One cell's hot spot figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HotspotCell {
    /// The cell.
    #[serde(serialize_with = "serialize_cell")]
    pub h3: CellIndex,
    /// Events counted in the cell (weighted when weights were given).
    pub count: f64,
    /// The rate, when rates are used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Gi\* z-score; `None` when undefined.
    pub z: Option<f64>,
    /// Two-sided p, unadjusted; `None` when z is undefined.
    pub p: Option<f64>,
    /// −3..=3 (FDR applied when set).
    pub bin: i8,
    /// `W_i`: neighbours including the cell itself (`ArcGIS` `NNeighbors`).
    pub n_neighbours: u32,
}

/// Summary figures of a hot spot run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HotspotSummary {
    /// Cells analysed.
    pub n: usize,
    /// Mean value.
    pub mean: f64,
    /// Population SD of the values.
    pub sd: f64,
    /// Events counted in the analysed cells.
    pub counted: f64,
    /// Events in cells outside the study area (dropped).
    pub outside_area: f64,
    /// Cells masked for too small a population.
    pub masked_cells: usize,
    /// Events in masked cells.
    pub masked_count: f64,
    /// Cells with bin > 0.
    pub hot: usize,
    /// Cells with bin < 0.
    pub cold: usize,
    /// Cells with undefined z.
    pub undefined: usize,
    /// FDR cut-offs `t_α` for α = 0.10, 0.05, 0.01 (`None`: no unit passes; all `None` without
    /// FDR).
    pub fdr_cutoffs: [Option<f64>; 3],
}

/// The result of [`hotspots`]: settings, summary, warnings and one row per cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HotspotResult {
    /// Every setting used.
    pub settings: HotspotEcho,
    /// Totals.
    pub summary: HotspotSummary,
    /// Conditions the analyst should know about (few cells, undefined z, ...).
    pub warnings: Vec<String>,
    /// One row per cell of the universe, in cell order.
    pub cells: Vec<HotspotCell>,
}

/// Gi\* hot spots over a universe of H3 cells from counts per cell — the function behind
/// `/api/v1/hotspots` and `saferplaces analyse gistar`.
///
/// `counts` may omit empty cells and may repeat a cell (summed); counts in cells outside the
/// universe are reported in `summary.outside_area`. With `population`, values are rates and
/// low-population cells are masked. Weights are built here from `grid_disk(k)`.
///
/// # Units
///
/// Counts are events (or weighted events); rates are events per `per` population.
///
/// # Errors
///
/// [`AnalysisError::Mismatch`] for a count at another resolution;
/// [`AnalysisError::InvalidSetting`] for `k` > 50 or a non-finite or negative count or rate
/// setting.
#[expect(
    clippy::too_many_lines,
    reason = "the Gi* computation in its commented order (counts, masked rates, neighbours, statistics) over per-cell arrays every step shares"
)]
pub fn hotspots(
    universe: &CellUniverse,
    counts: &[(CellIndex, f64)],
    settings: &GiStarSettings,
    population: Option<&PopulationRates>,
) -> AnalysisResult<HotspotResult> {
    let res = universe.resolution();
    if let Some(p) = population
        && !(p.per.is_finite() && p.per > 0.0 && p.min_population.is_finite())
    {
        return Err(AnalysisError::invalid(
            "rate",
            "per must be positive and min_population finite",
        ));
    }
    let mut warnings = Vec::new();
    // Sum counts per universe position.
    let mut raw = vec![0.0_f64; universe.len()];
    let mut outside = 0.0;
    for (cell, c) in counts {
        if cell.resolution() != res {
            return Err(AnalysisError::Mismatch(format!(
                "count for {cell} is not at resolution {}",
                u8::from(res)
            )));
        }
        if !c.is_finite() || *c < 0.0 {
            return Err(AnalysisError::invalid(
                "count",
                format!("{c} for {cell} is not a finite non-negative count"),
            ));
        }
        match universe.position(*cell) {
            Some(i) => raw[i] += c,
            None => outside += c,
        }
    }
    if outside > 0.0 {
        warnings.push(format!(
            "{outside} events lie in cells outside the study area and were not analysed"
        ));
    }
    // Mask low-population cells when computing rates.
    let (kept, values, masked_cells, masked_count) = match population {
        None => (universe.clone(), raw.clone(), 0, 0.0),
        Some(pop) => {
            let mut keep = vec![false; universe.len()];
            let mut masked_count = 0.0;
            for (i, cell) in universe.cells().iter().enumerate() {
                let p = pop.population.get(cell).copied().unwrap_or(0.0);
                keep[i] = p.is_finite() && p > 0.0 && p >= pop.min_population;
                if !keep[i] {
                    masked_count += raw[i];
                }
            }
            let masked = keep.iter().filter(|k| !**k).count();
            if masked > 0 {
                warnings.push(format!(
                    "{masked} cells with a population below {} were masked ({masked_count} events)",
                    pop.min_population
                ));
            }
            let kept = universe.retain(|c| {
                pop.population
                    .get(&c)
                    .is_some_and(|p| p.is_finite() && *p > 0.0 && *p >= pop.min_population)
            });
            let values = kept
                .cells()
                .iter()
                .map(|c| {
                    let i = universe.position(*c).unwrap_or(0);
                    let p = pop.population.get(c).copied().unwrap_or(f64::NAN);
                    raw[i] / p * pop.per
                })
                .collect();
            (kept, values, masked, masked_count)
        }
    };
    let neighbours = Neighbours::grid_disk(&kept, settings.k)?;
    let (z, stats) = gistar_z(&values, &neighbours)?;
    let p: Vec<Option<f64>> = z.iter().map(|z| z.map(two_sided_p)).collect();
    let bins = fdr::bins(&z, &p, settings.fdr);
    let cutoffs = if settings.fdr {
        fdr::fdr_cutoffs(&p)
    } else {
        [None; 3]
    };
    add_warnings(&mut warnings, &stats, &z, &neighbours);
    let cells: Vec<HotspotCell> = kept
        .cells()
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            let count = if population.is_some() {
                raw[universe.position(*cell).unwrap_or(0)]
            } else {
                values[i]
            };
            HotspotCell {
                h3: *cell,
                count,
                rate: population.map(|_| values[i]),
                z: z[i],
                p: p[i],
                bin: bins[i],
                n_neighbours: neighbours.count(i),
            }
        })
        .collect();
    let summary = HotspotSummary {
        n: stats.n,
        mean: stats.mean,
        sd: stats.sd,
        counted: cells.iter().map(|c| c.count).sum(),
        outside_area: outside,
        masked_cells,
        masked_count,
        hot: bins.iter().filter(|b| **b > 0).count(),
        cold: bins.iter().filter(|b| **b < 0).count(),
        undefined: z.iter().filter(|z| z.is_none()).count(),
        fdr_cutoffs: cutoffs,
    };
    let settings = HotspotEcho {
        method: "getis_ord_gi_star",
        unit: "h3",
        res: u8::from(res),
        study_area: universe.area().clone(),
        weights: "binary; grid_disk(k) within the study area, the cell itself included",
        k: settings.k,
        n: stats.n,
        value: if population.is_some() {
            "rate"
        } else {
            "count"
        },
        rate: population.map(|p| RateEcho {
            denominator: p.denominator.clone(),
            per: p.per,
            min_population: p.min_population,
        }),
        p_value: "analytic; two-sided normal",
        correction: if settings.fdr { "fdr_arcgis" } else { "none" },
        confidence_levels: [0.90, 0.95, 0.99],
        software_version: SOFTWARE_VERSION,
    };
    Ok(HotspotResult {
        settings,
        summary,
        warnings,
        cells,
    })
}

/// Adds the standard Gi\* warnings (`analytics.md` §1.1, §11).
pub(crate) fn add_warnings(
    warnings: &mut Vec<String>,
    stats: &GlobalStats,
    z: &[Option<f64>],
    neighbours: &Neighbours,
) {
    if stats.n < MIN_RELIABLE_UNITS {
        warnings.push(format!(
            "only {} cells; Gi* is unreliable with fewer than {MIN_RELIABLE_UNITS}",
            stats.n
        ));
    }
    if stats.n >= 2 && stats.sd == 0.0 {
        warnings.push("every cell has the same value (S = 0): z is undefined".to_owned());
        return;
    }
    let islands = (0..neighbours.len())
        .filter(|i| neighbours.count(*i) <= 1)
        .count();
    if islands > 0 {
        warnings.push(format!(
            "{islands} cells have no neighbour in the study area besides themselves: z is undefined there"
        ));
    }
    let whole = (0..neighbours.len())
        .filter(|i| neighbours.count(*i) as usize >= stats.n && stats.n > 1)
        .count();
    if whole > 0 {
        warnings.push(format!(
            "{whole} cells have every cell as a neighbour (W = n): z is undefined there"
        ));
    }
    let undefined = z.iter().filter(|z| z.is_none()).count();
    if undefined > 0 && islands == 0 && whole == 0 && stats.n >= 2 {
        warnings.push(format!("{undefined} cells have an undefined z"));
    }
}

#[cfg(test)]
#[path = "gistar_tests.rs"]
mod tests;
