//! The incident index: H3-clustered columns and per-resolution cumulative day arrays.
//!
//! # Layout
//!
//! Located incidents are sorted once by `(res-10 cell, category, day)`. Because H3 indexes of
//! one resolution order by base cell and then digit by digit, the incidents of any coarser
//! ancestor cell form one contiguous run of that order. For each resolution `r` in 5..=10 a
//! [`Level`] keeps:
//!
//! - the occupied cells, sorted, with an rstar R-tree over their bounding rectangles;
//! - `point_start[c]..point_start[c + 1]`: the run of incidents in cell `c`;
//! - `days`: the same runs re-sorted by `(category, day)`, and `seg_start` marking where each
//!   `(cell, category)` segment begins.
//!
//! A count for one cell, category and window is then two binary searches over a sorted
//! segment of days: a cumulative count per day without storing one slot per day. At
//! resolution 10 the point columns are already in `(cell, category, day)` order, so the level's
//! `days` doubles as the incidents' day column.
//!
//! # Which cell a point belongs to
//!
//! At resolution 10 a point belongs to `latlng_to_cell(point, 10)`; at a coarser resolution
//! `r` it belongs to that cell's res-`r` ancestor. H3 children do not tile their parent
//! exactly, so for a few per cent of points near cell edges the ancestor differs from
//! `latlng_to_cell(point, r)`. We choose the hierarchy on purpose: every coarse count is then
//! exactly the sum of its children's counts, so maps agree across zoom levels and disclosure
//! control can reason about totals. Analyses that need direct indexing at one resolution (the
//! Gi* reference comparisons) compute their own cells.
//!
//! # Units
//!
//! Days are days since 1970-01-01 (`u16`). Coordinates are WGS84 degrees, stored as `f32`
//! (about 1 m at Bristol's latitude, finer than the police.uk snap points).

use h3o::{CellIndex, LatLng, Resolution};
use rstar::{AABB, RTree, primitives::GeomWithData, primitives::Rectangle};

use crate::domain::{
    Bbox, CATEGORY_COUNT, Category, Day, DomainError, DomainResult, IncidentId, LonLat, TimeWindow,
};

/// Coarsest indexed H3 resolution.
pub const MIN_RES: u8 = 5;
/// Finest indexed H3 resolution.
pub const MAX_RES: u8 = 10;
const LEVELS: usize = (MAX_RES - MIN_RES + 1) as usize;
const CHILD_FLAG: u8 = 0x80;

/// An H3 resolution the index holds (5..=10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct H3Res(u8);

impl H3Res {
    /// Validates `5..=10`.
    pub fn new(res: u8) -> DomainResult<Self> {
        if (MIN_RES..=MAX_RES).contains(&res) {
            Ok(Self(res))
        } else {
            Err(DomainError::invalid(
                "res",
                format!("{res} is not an indexed H3 resolution ({MIN_RES}..={MAX_RES})"),
            ))
        }
    }

    /// The resolution number.
    pub fn get(self) -> u8 {
        self.0
    }

    /// As an h3o resolution.
    pub fn to_h3(self) -> Resolution {
        // Valid by construction: 5..=10 are all H3 resolutions.
        Resolution::try_from(self.0).unwrap_or(Resolution::Ten)
    }

    fn level(self) -> usize {
        usize::from(self.0 - MIN_RES)
    }
}

/// One incident to index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IncidentInput {
    /// Store id.
    pub id: IncidentId,
    /// Position, `None` when unknown (counted, not indexed).
    pub location: Option<LonLat>,
    /// Day (the first of the month for month-precision records).
    pub day: Day,
    /// Category.
    pub category: Category,
    /// True when a child is involved.
    pub involves_child: bool,
}

/// A hexagon-count query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountQuery {
    /// Cells whose centre lies in this box are counted.
    pub bbox: Bbox,
    /// Resolution of the cells.
    pub res: H3Res,
    /// Days counted, inclusive.
    pub window: TimeWindow,
    /// One category, or all when `None`.
    pub category: Option<Category>,
}

/// The count of one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellCount {
    /// The cell.
    pub cell: CellIndex,
    /// Incidents in the cell matching the query.
    pub count: u32,
}

/// An incident found by a point query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IncidentHit {
    /// Store id.
    pub id: IncidentId,
    /// Position (from the index's `f32` columns).
    pub lon: f64,
    /// Position.
    pub lat: f64,
    /// Day.
    pub day: Day,
    /// Category.
    pub category: Category,
    /// True when a child is involved.
    pub involves_child: bool,
}

type CellRect = GeomWithData<Rectangle<[f64; 2]>, u32>;

#[derive(Debug)]
struct Level {
    cells: Vec<CellIndex>,
    centroids: Vec<[f64; 2]>,
    tree: RTree<CellRect>,
    point_start: Vec<u32>,
    seg_start: Vec<u32>,
    days: Vec<u16>,
}

impl Level {
    fn empty() -> Self {
        Self {
            cells: Vec::new(),
            centroids: Vec::new(),
            tree: RTree::new(),
            point_start: vec![0],
            seg_start: vec![0],
            days: Vec::new(),
        }
    }

    /// Incidents of cell slot `c` in `category` within `[lo, hi]` days.
    fn count_segment(&self, slot: usize, cat: usize, lo: u16, hi: u16) -> u32 {
        let start = self.seg_start[slot * CATEGORY_COUNT + cat] as usize;
        let end = self.seg_start[slot * CATEGORY_COUNT + cat + 1] as usize;
        let seg = &self.days[start..end];
        match (seg.first(), seg.last()) {
            (None, _) | (_, None) => 0,
            (Some(&first), Some(&last)) if first >= lo && last <= hi => seg.len() as u32,
            _ => {
                let below = seg.partition_point(|&d| d < lo);
                let upto = seg.partition_point(|&d| d <= hi);
                upto.saturating_sub(below) as u32
            }
        }
    }

    fn count_cell(&self, c: usize, cat: Option<Category>, lo: u16, hi: u16) -> u32 {
        match cat {
            Some(cat) => self.count_segment(c, usize::from(cat.code()), lo, hi),
            None => (0..CATEGORY_COUNT)
                .map(|k| self.count_segment(c, k, lo, hi))
                .sum(),
        }
    }

    fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.cells.capacity() * size_of::<CellIndex>()
            + self.centroids.capacity() * size_of::<[f64; 2]>()
            + self.point_start.capacity() * 4
            + self.seg_start.capacity() * 4
            + self.days.capacity() * 2
            + rtree_heap_bytes(&self.tree)
    }
}

/// Heap bytes of an R-tree: every node's child vector, counted by walking the tree.
fn rtree_heap_bytes<T: rstar::RTreeObject>(tree: &RTree<T>) -> usize {
    fn walk<T: rstar::RTreeObject>(node: &rstar::ParentNode<T>) -> usize {
        let mut n = size_of_val(node.children());
        for child in node.children() {
            if let rstar::RTreeNode::Parent(p) = child {
                n += walk(p);
            }
        }
        n
    }
    walk(tree.root())
}

/// Incidents indexed by H3 cell and day. Immutable once built.
#[derive(Debug)]
pub struct IncidentIndex {
    ids: Vec<IncidentId>,
    lon: Vec<f32>,
    lat: Vec<f32>,
    /// Category code in the low 7 bits, [`CHILD_FLAG`] when a child is involved.
    cat_flags: Vec<u8>,
    levels: Vec<Level>,
    unlocated: usize,
    day_range: Option<(Day, Day)>,
}

impl IncidentIndex {
    /// Builds the index. Incidents without a location are counted in [`Self::unlocated`] and
    /// left out of the spatial structures.
    ///
    /// # Complexity
    ///
    /// One H3 cell computation per incident, one sort of `n` keys, and per resolution one pass
    /// with a sort of each cell's run.
    pub fn build(inputs: &[IncidentInput]) -> Self {
        let mut unlocated = 0usize;
        let mut day_min = u16::MAX;
        let mut day_max = 0u16;
        // Sort key: cell (64 bits) | category (8) | day (16) | input position (32).
        let mut keys: Vec<u128> = Vec::with_capacity(inputs.len());
        for (i, inc) in inputs.iter().enumerate() {
            day_min = day_min.min(inc.day.days_since_epoch());
            day_max = day_max.max(inc.day.days_since_epoch());
            let Some(p) = inc.location else {
                unlocated += 1;
                continue;
            };
            let Ok(ll) = LatLng::new(p.lat(), p.lon()) else {
                unlocated += 1;
                continue;
            };
            let cell = u64::from(ll.to_cell(Resolution::Ten));
            let key = (u128::from(cell) << 64)
                | (u128::from(inc.category.code()) << 48)
                | (u128::from(inc.day.days_since_epoch()) << 32)
                | i as u128;
            keys.push(key);
        }
        keys.sort_unstable();

        let n = keys.len();
        let mut ids = Vec::with_capacity(n);
        let mut lon = Vec::with_capacity(n);
        let mut lat = Vec::with_capacity(n);
        let mut cat_flags = Vec::with_capacity(n);
        let mut cells10 = Vec::with_capacity(n);
        let mut catday = Vec::with_capacity(n);
        for &k in &keys {
            let inc = &inputs[(k & 0xFFFF_FFFF) as usize];
            let p = inc.location.map_or([0.0, 0.0], |p| [p.lon(), p.lat()]);
            ids.push(inc.id);
            lon.push(p[0] as f32);
            lat.push(p[1] as f32);
            cat_flags.push(inc.category.code() | if inc.involves_child { CHILD_FLAG } else { 0 });
            cells10.push((k >> 64) as u64);
            catday.push(((k >> 32) & 0xFF_FFFF) as u32);
        }
        drop(keys);

        let levels = (MIN_RES..=MAX_RES)
            .map(|r| {
                build_level(
                    &cells10,
                    &catday,
                    Resolution::try_from(r).unwrap_or(Resolution::Ten),
                )
            })
            .collect();

        let day_range = (day_min <= day_max).then(|| {
            (
                Day::from_days_since_epoch(day_min),
                Day::from_days_since_epoch(day_max),
            )
        });
        Self {
            ids,
            lon,
            lat,
            cat_flags,
            levels,
            unlocated,
            day_range,
        }
    }

    /// Number of located (indexed) incidents.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when no incident is indexed.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Incidents left out for want of a location.
    pub fn unlocated(&self) -> usize {
        self.unlocated
    }

    /// First and last day over all incidents, located or not.
    pub fn day_range(&self) -> Option<(Day, Day)> {
        self.day_range
    }

    /// Counts per cell at `q.res` for cells whose centre lies in `q.bbox`, counting incidents
    /// in `q.window` and `q.category`. Cells with a zero count are omitted. Sorted by cell.
    pub fn cell_counts(&self, q: &CountQuery) -> Vec<CellCount> {
        let level = &self.levels[q.res.level()];
        let (lo, hi) = (
            q.window.from().days_since_epoch(),
            q.window.to().days_since_epoch(),
        );
        let env = AABB::from_corners(
            [q.bbox.min().lon(), q.bbox.min().lat()],
            [q.bbox.max().lon(), q.bbox.max().lat()],
        );
        let mut out: Vec<CellCount> = level
            .tree
            .locate_in_envelope_intersecting(&env)
            .filter_map(|r| {
                let c = r.data as usize;
                let [x, y] = level.centroids[c];
                if !q.bbox.contains_raw(x, y) {
                    return None;
                }
                let count = level.count_cell(c, q.category, lo, hi);
                (count > 0).then_some(CellCount {
                    cell: level.cells[c],
                    count,
                })
            })
            .collect();
        out.sort_unstable_by_key(|c| c.cell);
        out
    }

    /// The incidents inside `bbox`, in `window` and `category`, at most `limit` of them, in
    /// index order (by cell). Returns the hits and whether more matched than `limit`.
    pub fn incidents_in_bbox(
        &self,
        bbox: Bbox,
        window: TimeWindow,
        category: Option<Category>,
        limit: usize,
    ) -> (Vec<IncidentHit>, bool) {
        // Resolution 8 cells (~0.74 km²) bound the scan tightly without many tree nodes.
        let level = &self.levels[usize::from(8 - MIN_RES)];
        let days = &self.levels[LEVELS - 1].days;
        let env = AABB::from_corners(
            [bbox.min().lon(), bbox.min().lat()],
            [bbox.max().lon(), bbox.max().lat()],
        );
        let mut slots: Vec<usize> = level
            .tree
            .locate_in_envelope_intersecting(&env)
            .map(|r| r.data as usize)
            .collect();
        slots.sort_unstable();
        let mut hits = Vec::new();
        for c in slots {
            let run = level.point_start[c] as usize..level.point_start[c + 1] as usize;
            for (i, &raw_day) in run.clone().zip(&days[run]) {
                let (x, y) = (f64::from(self.lon[i]), f64::from(self.lat[i]));
                if !bbox.contains_raw(x, y) {
                    continue;
                }
                let day = Day::from_days_since_epoch(raw_day);
                let code = self.cat_flags[i] & !CHILD_FLAG;
                let Some(cat) = Category::from_code(code) else {
                    continue;
                };
                if !window.contains(day) || category.is_some_and(|want| want != cat) {
                    continue;
                }
                if hits.len() == limit {
                    return (hits, true);
                }
                hits.push(IncidentHit {
                    id: self.ids[i],
                    lon: x,
                    lat: y,
                    day,
                    category: cat,
                    involves_child: self.cat_flags[i] & CHILD_FLAG != 0,
                });
            }
        }
        (hits, false)
    }

    /// Bytes of heap memory held by the index (vector capacities and R-tree nodes).
    pub fn heap_bytes(&self) -> usize {
        self.ids.capacity() * size_of::<IncidentId>()
            + self.lon.capacity() * 4
            + self.lat.capacity() * 4
            + self.cat_flags.capacity()
            + self.levels.iter().map(Level::heap_bytes).sum::<usize>()
    }
}

/// Builds one resolution's level from the res-10 cells and `(category << 16 | day)` values of
/// the incidents in sorted order.
fn build_level(cells10: &[u64], catday: &[u32], res: Resolution) -> Level {
    let n = cells10.len();
    if n == 0 {
        return Level::empty();
    }
    let mut cells = Vec::new();
    let mut point_start = vec![0u32];
    let mut seg_start = Vec::with_capacity(n / 4);
    let mut days = Vec::with_capacity(n);
    let mut run: Vec<u32> = Vec::new();
    // Res-10 cells share their ancestor at `res` exactly when they agree on every bit from
    // the digit of resolution `res` upwards (base cell, digits 1..=res; mode and resolution
    // bits are equal for all res-10 cells). Digit `d` occupies bits `3·(15 − d)..3·(15 − d) + 3`.
    let keep_from_bit = 3 * (15 - u32::from(u8::from(res)));
    let group_mask = !((1u64 << keep_from_bit) - 1);

    let mut i = 0;
    while i < n {
        let Some(parent) = CellIndex::try_from(cells10[i])
            .ok()
            .and_then(|c| c.parent(res))
        else {
            i += 1;
            continue;
        };
        let prefix = cells10[i] & group_mask;
        let mut j = i + 1;
        while j < n && cells10[j] & group_mask == prefix {
            j += 1;
        }
        run.clear();
        run.extend_from_slice(&catday[i..j]);
        if res != Resolution::Ten {
            run.sort_unstable();
        }
        // Segment starts for each category in this cell.
        let base = days.len() as u32;
        let mut k = 0usize;
        for cat in 0..CATEGORY_COUNT as u32 {
            seg_start.push(base + k as u32);
            while k < run.len() && run[k] >> 16 == cat {
                k += 1;
            }
        }
        days.extend(run.iter().map(|&v| (v & 0xFFFF) as u16));
        cells.push(parent);
        point_start.push(j as u32);
        i = j;
    }
    seg_start.push(days.len() as u32);

    let mut centroids = Vec::with_capacity(cells.len());
    let mut rects = Vec::with_capacity(cells.len());
    for (slot, cell) in cells.iter().enumerate() {
        let c = LatLng::from(*cell);
        centroids.push([c.lng(), c.lat()]);
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for v in cell.boundary().iter() {
            x0 = x0.min(v.lng());
            y0 = y0.min(v.lat());
            x1 = x1.max(v.lng());
            y1 = y1.max(v.lat());
        }
        rects.push(GeomWithData::new(
            Rectangle::from_corners([x0, y0], [x1, y1]),
            slot as u32,
        ));
    }
    Level {
        cells,
        centroids,
        tree: RTree::bulk_load(rects),
        point_start,
        seg_start,
        days,
    }
}

#[cfg(test)]
#[path = "incidents_tests.rs"]
mod tests;
