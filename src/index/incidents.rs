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

use std::ops::Range;

use h3o::{CellIndex, LatLng, Resolution};
use rstar::{AABB, RTree, primitives::GeomWithData};

use crate::domain::{
    Bbox, Category, Day, DayEvent, DomainError, DomainResult, IncidentId, LonLat, TimeWindow,
};

/// Coarsest indexed H3 resolution.
pub const MIN_RES: u8 = 5;
/// Finest indexed H3 resolution.
pub const MAX_RES: u8 = 10;
const LEVELS: usize = (MAX_RES - MIN_RES + 1) as usize;
const CHILD_FLAG: u8 = 0x80;
/// Set on incidents known only to the month (their day is the 1st): counted in every layer,
/// never a near-repeat event.
const MONTH_FLAG: u8 = 0x40;
/// The category code's bits of `cat_flags` (codes are below 64).
const CODE_MASK: u8 = 0x3F;

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

    /// The finest indexed resolution.
    pub fn finest() -> Self {
        Self(MAX_RES)
    }

    /// The coarsest indexed resolution.
    pub fn coarsest() -> Self {
        Self(MIN_RES)
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
    /// False when only the month is known (`day` is its first): such incidents are counted
    /// but are never near-repeat events ([`IncidentIndex::day_events`]).
    pub day_known: bool,
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

type CentroidEntry = GeomWithData<[f64; 2], u32>;

/// Finest resolution with its own R-tree; finer levels are reached through the runs of their
/// res-8 ancestors (a res-8 cell's descendants are contiguous in every finer level).
const TREE_MAX_RES: u8 = 8;

/// Store ids, narrow when every id fits 32 bits (the common case) to save 4 bytes each.
#[derive(Debug)]
pub(super) enum IdColumn {
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

impl IdColumn {
    fn get(&self, i: usize) -> IncidentId {
        match self {
            Self::Narrow(v) => IncidentId::new(u64::from(v[i])),
            Self::Wide(v) => IncidentId::new(v[i]),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Narrow(v) => v.len(),
            Self::Wide(v) => v.len(),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Self::Narrow(v) => v.capacity() * 4,
            Self::Wide(v) => v.capacity() * 8,
        }
    }
}

/// One resolution. Cell `c` holds incidents `point_start[c]..point_start[c + 1]` (positions
/// in the index's sorted order), re-sorted in `days` by `(category, day)`. Its category
/// segments are `cell_seg[c]..cell_seg[c + 1]`: segment `k` has category `seg_cat[k]` and
/// ends at `seg_end[k]`; it starts where the previous segment ended (or at the cell's start).
#[derive(Debug)]
struct Level {
    cells: Vec<CellIndex>,
    centroids: Vec<[f64; 2]>,
    /// R-tree of cell centres, for resolutions up to [`TREE_MAX_RES`].
    tree: Option<RTree<CentroidEntry>>,
    point_start: Vec<u32>,
    cell_seg: Vec<u32>,
    seg_cat: Vec<u8>,
    seg_end: Vec<u32>,
    days: Vec<u16>,
    /// Largest offset, per axis in degrees, from a res-8 ancestor's centre to this level's
    /// cell centres (0 for levels at or above res 8). Bounds the res-8 search for finer levels.
    centre_margin_deg: [f64; 2],
}

impl Level {
    fn empty() -> Self {
        Self {
            cells: Vec::new(),
            centroids: Vec::new(),
            tree: None,
            point_start: vec![0],
            cell_seg: vec![0],
            seg_cat: Vec::new(),
            seg_end: Vec::new(),
            days: Vec::new(),
            centre_margin_deg: [0.0, 0.0],
        }
    }

    /// Incidents of cell slot `slot` in `category` (all when `None`) within `[lo, hi]` days.
    fn count_cell(&self, slot: usize, category: Option<Category>, lo: u16, hi: u16) -> u32 {
        let want = category.map(Category::code);
        let segs = self.cell_seg[slot] as usize..self.cell_seg[slot + 1] as usize;
        let mut start = self.point_start[slot] as usize;
        let mut total = 0u32;
        for k in segs {
            let end = self.seg_end[k] as usize;
            if want.is_none_or(|w| w == self.seg_cat[k]) {
                total += count_days(&self.days[start..end], lo, hi);
            }
            start = end;
        }
        total
    }

    /// Cell slots whose centre lies in `bbox`, unsorted. `coarse` is the res-8 level, used for
    /// finer resolutions.
    fn slots_in(&self, bbox: Bbox, coarse: &Level, out: &mut Vec<usize>) {
        let env = |b: Bbox| {
            AABB::from_corners(
                [b.min().lon(), b.min().lat()],
                [b.max().lon(), b.max().lat()],
            )
        };
        if let Some(tree) = &self.tree {
            out.extend(tree.locate_in_envelope(&env(bbox)).map(|e| e.data as usize));
            return;
        }
        let Some(coarse_tree) = &coarse.tree else {
            return;
        };
        let [mx, my] = self.centre_margin_deg;
        let search = Bbox::from_coords(
            (bbox.min().lon() - mx).max(-180.0),
            (bbox.min().lat() - my).max(-90.0),
            (bbox.max().lon() + mx).min(180.0),
            (bbox.max().lat() + my).min(90.0),
        );
        let Ok(search) = search else { return };
        for e in coarse_tree.locate_in_envelope(&env(search)) {
            let c8 = e.data as usize;
            let (p0, p1) = (coarse.point_start[c8], coarse.point_start[c8 + 1]);
            let s0 = self.point_start.partition_point(|&p| p < p0);
            let s1 = self.point_start.partition_point(|&p| p < p1);
            out.extend((s0..s1).filter(|&s| {
                let [x, y] = self.centroids[s];
                bbox.contains_raw(x, y)
            }));
        }
    }

    fn heap_bytes(&self) -> usize {
        self.cells.capacity() * size_of::<CellIndex>()
            + self.centroids.capacity() * size_of::<[f64; 2]>()
            + self.point_start.capacity() * 4
            + self.cell_seg.capacity() * 4
            + self.seg_cat.capacity()
            + self.seg_end.capacity() * 4
            + self.days.capacity() * 2
            + self.tree.as_ref().map_or(0, rtree_heap_bytes)
    }
}

/// Days in a sorted segment within `[lo, hi]`: two binary searches, or none when the whole
/// segment is inside the window.
fn count_days(seg: &[u16], lo: u16, hi: u16) -> u32 {
    match (seg.first(), seg.last()) {
        (Some(&first), Some(&last)) if first >= lo && last <= hi => seg.len() as u32,
        (Some(_), Some(_)) => {
            let below = seg.partition_point(|&d| d < lo);
            let upto = seg.partition_point(|&d| d <= hi);
            upto.saturating_sub(below) as u32
        }
        _ => 0,
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
    ids: IdColumn,
    lon: Vec<f32>,
    lat: Vec<f32>,
    /// Category code in the low 6 bits ([`CODE_MASK`]), [`MONTH_FLAG`] when only the month
    /// is known, [`CHILD_FLAG`] when a child is involved.
    cat_flags: Vec<u8>,
    levels: Vec<Level>,
    /// Largest offset, per axis in degrees, of an incident from its res-8 cell's centre.
    point_margin_deg: [f64; 2],
    unlocated: usize,
    day_range: Option<(Day, Day)>,
    /// The last day of a located incident known to the day.
    last_known_day: Option<Day>,
}

/// The columns of an index in sorted order, before its levels are built.
pub(super) struct Columns {
    pub(super) ids: IdColumn,
    pub(super) lon: Vec<f32>,
    pub(super) lat: Vec<f32>,
    pub(super) cat_flags: Vec<u8>,
    pub(super) cells10: Vec<u64>,
    pub(super) catday: Vec<u32>,
}

impl Columns {
    fn with_capacity(n: usize, narrow_ids: bool) -> Self {
        Self {
            ids: if narrow_ids {
                IdColumn::Narrow(Vec::with_capacity(n))
            } else {
                IdColumn::Wide(Vec::with_capacity(n))
            },
            lon: Vec::with_capacity(n),
            lat: Vec::with_capacity(n),
            cat_flags: Vec::with_capacity(n),
            cells10: Vec::with_capacity(n),
            catday: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, id: u64, [lon, lat]: [f32; 2], flags: u8, cell10: u64, catday: u32) {
        match &mut self.ids {
            // Narrow only when every id fits (checked by the caller).
            IdColumn::Narrow(v) => v.push(u32::try_from(id).unwrap_or(u32::MAX)),
            IdColumn::Wide(v) => v.push(id),
        }
        self.lon.push(lon);
        self.lat.push(lat);
        self.cat_flags.push(flags);
        self.cells10.push(cell10);
        self.catday.push(catday);
    }
}

/// One indexed incident during a merge (and when saved, `persist`).
pub(super) struct Position {
    at: usize,
    pub(super) id: u64,
    pub(super) cell10: u64,
    pub(super) catday: u32,
}

impl Position {
    /// The sort order of the index: cell, category, day, then id.
    fn key(&self) -> (u64, u32, u64) {
        (self.cell10, self.catday, self.id)
    }
}

/// Inputs above which [`IncidentIndex::build`] locates cells on several threads.
const PARALLEL_KEYS_MIN: usize = 100_000;

/// The key slot of an unlocated input (no H3 cell index has its top bit set, so no located
/// key equals it).
const UNLOCATED: u128 = u128::MAX;

/// What one thread of [`IncidentIndex::build`] found besides the keys.
#[derive(Debug)]
struct KeyPart {
    unlocated: usize,
    day_min: u16,
    day_max: u16,
}

/// Writes the sort keys of `inputs` (starting at input `offset`) into `out`: cell (64 bits) |
/// category (8) | day (16) | input position (32), or [`UNLOCATED`].
fn key_part(inputs: &[IncidentInput], offset: usize, out: &mut [u128]) -> KeyPart {
    let mut part = KeyPart {
        unlocated: 0,
        day_min: u16::MAX,
        day_max: 0,
    };
    for (i, (inc, slot)) in inputs.iter().zip(out.iter_mut()).enumerate() {
        part.day_min = part.day_min.min(inc.day.days_since_epoch());
        part.day_max = part.day_max.max(inc.day.days_since_epoch());
        let Some(ll) = inc
            .location
            .and_then(|p| LatLng::new(p.lat(), p.lon()).ok())
        else {
            part.unlocated += 1;
            continue;
        };
        let cell = u64::from(ll.to_cell(Resolution::Ten));
        *slot = (u128::from(cell) << 64)
            | (u128::from(inc.category.code()) << 48)
            | (u128::from(inc.day.days_since_epoch()) << 32)
            | (offset + i) as u128;
    }
    part
}

/// What [`IncidentIndex::sorted_keys`] gives.
struct SortedKeys {
    keys: Vec<u128>,
    unlocated: usize,
    day_range: Option<(u16, u16)>,
}

/// The resolution at whose cell boundaries the index may be cut into chunks
/// ([`IncidentIndex::build_chunks`]) or filtered ([`IncidentIndex::cell_counts_from`]).
pub const CUT_RES: u8 = 7;

/// Bits of a res-10 cell index kept by its ancestor at `res`: the mode, resolution and base
/// cell bits and the digits `1..=res` (digit `d` occupies bits `3·(15 − d)..3·(15 − d) + 3`).
fn group_mask(res: u8) -> u64 {
    !((1u64 << (3 * (15 - u32::from(res)))) - 1)
}

/// The smallest res-10 key of the res-7 cell holding res-10 cell `cell10`: the key at which
/// that res-7 cell's incidents begin in index order. Keys of res-10 cells compare as the
/// index orders them (ancestor first), so `cell10 >= res7_key(k)` holds exactly for the
/// cells at or after res-7 cell of `k`.
pub fn res7_key(cell10: u64) -> u64 {
    cell10 & group_mask(CUT_RES)
}

/// The columns of the inputs whose sorted keys are `keys` (a range of
/// [`IncidentIndex::sorted_keys`]), in that order.
fn columns_of(inputs: &[IncidentInput], keys: &[u128]) -> Columns {
    let narrow = inputs.iter().all(|i| u32::try_from(i.id.get()).is_ok());
    let mut cols = Columns::with_capacity(keys.len(), narrow);
    for &k in keys {
        let inc = &inputs[(k & 0xFFFF_FFFF) as usize];
        let p = inc.location.map_or([0.0, 0.0], |p| [p.lon(), p.lat()]);
        cols.push(
            inc.id.get(),
            [p[0] as f32, p[1] as f32],
            flags_of(inc.category, inc.involves_child, inc.day_known),
            (k >> 64) as u64,
            ((k >> 32) & 0xFF_FFFF) as u32,
        );
    }
    cols
}

/// The `cat_flags` byte of an incident.
fn flags_of(category: Category, involves_child: bool, day_known: bool) -> u8 {
    (category.code() & CODE_MASK)
        | if involves_child { CHILD_FLAG } else { 0 }
        | if day_known { 0 } else { MONTH_FLAG }
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
        let SortedKeys {
            keys,
            unlocated,
            day_range,
        } = Self::sorted_keys(inputs);
        let cols = columns_of(inputs, &keys);
        drop(keys);
        Self::from_columns(cols, unlocated, day_range)
    }

    /// The sort keys of the located inputs in index order, with the unlocated count and the
    /// day range of all inputs.
    fn sorted_keys(inputs: &[IncidentInput]) -> SortedKeys {
        // Locating each incident's res-10 cell is most of the build (h3o's projection: about
        // half of a 10M-incident start-up), so large inputs are split over the machine's
        // cores. The keys are sorted afterwards, so the split changes nothing in the result.
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let chunk = if inputs.len() >= PARALLEL_KEYS_MIN {
            inputs.len().div_ceil(threads.max(1))
        } else {
            inputs.len().max(1)
        };
        // One slot per input, filled in place by each thread (no second copy of the keys);
        // an unlocated input's slot is `UNLOCATED`, which sorts last and is cut off.
        let mut keys: Vec<u128> = vec![UNLOCATED; inputs.len()];
        let parts: Vec<KeyPart> = std::thread::scope(|scope| {
            let handles: Vec<_> = inputs
                .chunks(chunk)
                .zip(keys.chunks_mut(chunk))
                .enumerate()
                .map(|(k, (part, out))| scope.spawn(move || key_part(part, k * chunk, out)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        let mut unlocated = 0usize;
        let mut day_min = u16::MAX;
        let mut day_max = 0u16;
        for part in parts {
            unlocated += part.unlocated;
            day_min = day_min.min(part.day_min);
            day_max = day_max.max(part.day_max);
        }
        keys.sort_unstable();
        keys.truncate(keys.partition_point(|&k| k != UNLOCATED));
        // Equal cell, category and day: by id, as a merge orders them (inputs usually come
        // in id order already, and these runs are short).
        for run in keys.chunk_by_mut(|a, b| a >> 32 == b >> 32) {
            if run.len() > 1 {
                run.sort_unstable_by_key(|k| inputs[(k & 0xFFFF_FFFF) as usize].id.get());
            }
        }
        SortedKeys {
            keys,
            unlocated,
            day_range: (day_min <= day_max).then_some((day_min, day_max)),
        }
    }

    /// The index of `inputs` as chunks over consecutive ranges of the index order, each of
    /// about `target` located incidents and cut only where a res-7 cell ends
    /// ([`res7_key`]), so no res-7 (or finer) cell spans two chunks. One chunk when there are
    /// fewer than twice `target`. Each chunk carries the day range of its own incidents; the
    /// last one also carries the unlocated incidents and the day range of all inputs, so the
    /// chunks together answer what [`Self::build`] does (counts add up, day ranges unite).
    /// Cells are located once, as in [`Self::build`]; only the columns are cut.
    pub fn build_chunks(inputs: &[IncidentInput], target: usize) -> Vec<Self> {
        let SortedKeys {
            keys,
            unlocated,
            day_range,
        } = Self::sorted_keys(inputs);
        let target = target.max(1);
        let group = |k: u128| res7_key((k >> 64) as u64);
        let mut chunks = Vec::new();
        let mut start = 0usize;
        while keys.len() - start >= 2 * target {
            let mut cut = start + target;
            while cut < keys.len() && group(keys[cut]) == group(keys[cut - 1]) {
                cut += 1;
            }
            if cut == keys.len() {
                break;
            }
            let own = &keys[start..cut];
            let days = own.iter().map(|k| ((k >> 32) & 0xFFFF) as u16);
            let range = days.clone().min().zip(days.max());
            chunks.push(Self::from_columns(columns_of(inputs, own), 0, range));
            start = cut;
        }
        chunks.push(Self::from_columns(
            columns_of(inputs, &keys[start..]),
            unlocated,
            day_range,
        ));
        chunks
    }

    /// The index of the incidents of `self` and `other` together: the same index
    /// [`Self::build`] makes from both inputs (ordered by id, as the store loads them), built
    /// by one merge pass over the two sorted columns, without recomputing a cell. Ids must not
    /// repeat across the two (the store keeps each id once).
    #[must_use]
    pub fn merge(&self, other: &Self) -> Self {
        let day_range = match (self.day_range, other.day_range) {
            (Some((a0, a1)), Some((b0, b1))) => Some((a0.min(b0), a1.max(b1))),
            (one, None) | (None, one) => one,
        };
        Self::merge_ranges(
            &[(self, 0..self.len()), (other, 0..other.len())],
            self.unlocated + other.unlocated,
            day_range,
        )
    }

    /// The indexed incidents in sorted order with their res-10 cell and `(category, day)`.
    pub(super) fn positions(&self) -> impl Iterator<Item = Position> + '_ {
        self.positions_in(0..self.len())
    }

    /// As [`Self::positions`], for the positions in `range` only.
    fn positions_in(&self, range: Range<usize>) -> impl Iterator<Item = Position> + '_ {
        let level = &self.levels[LEVELS - 1];
        // The cell holding `range.start`: the last whose run starts at or before it.
        let mut slot = level
            .point_start
            .partition_point(|&p| p as usize <= range.start)
            .saturating_sub(1);
        range.map(move |at| {
            while level.point_start[slot + 1] as usize <= at {
                slot += 1;
            }
            Position {
                at,
                id: self.ids.get(at).get(),
                cell10: u64::from(level.cells[slot]),
                catday: (u32::from(self.cat_flags[at] & CODE_MASK) << 16)
                    | u32::from(level.days[at]),
            }
        })
    }

    /// The point columns in sorted order and whether ids are narrow, for saving (`persist`).
    pub(super) fn point_columns(&self) -> (&[f32], &[f32], &[u8], bool) {
        (
            &self.lon,
            &self.lat,
            &self.cat_flags,
            matches!(self.ids, IdColumn::Narrow(_)),
        )
    }

    /// The index of saved columns (`persist`), checked first so that no query on it can go
    /// out of bounds: equal lengths, valid res-10 cells, strictly increasing `(cell, category,
    /// day, id)` keys, categories that agree with the flags, finite positions.
    pub(super) fn from_saved(
        cols: Columns,
        unlocated: usize,
        day_range: Option<(u16, u16)>,
    ) -> Result<Self, String> {
        let n = cols.ids.len();
        if [cols.lon.len(), cols.lat.len(), cols.cat_flags.len()]
            .iter()
            .chain([cols.cells10.len(), cols.catday.len()].iter())
            .any(|&len| len != n)
        {
            return Err("columns of different lengths".to_owned());
        }
        if u32::try_from(n).is_err() {
            return Err(format!("{n} incidents in one index"));
        }
        let mut last: Option<(u64, u32, u64)> = None;
        for i in 0..n {
            let cell = cols.cells10[i];
            if CellIndex::try_from(cell).map(CellIndex::resolution) != Ok(Resolution::Ten) {
                return Err(format!("incident {i}: {cell:#x} is not a res-10 cell"));
            }
            let key = (cell, cols.catday[i], cols.ids.get(i).get());
            if last.is_some_and(|l| l >= key) {
                return Err(format!("incident {i} is out of order"));
            }
            last = Some(key);
            if u32::from(cols.cat_flags[i] & CODE_MASK) != cols.catday[i] >> 16 {
                return Err(format!("incident {i}: category disagrees with its flags"));
            }
            if Category::from_code(cols.cat_flags[i] & CODE_MASK).is_none()
                || !cols.lon[i].is_finite()
                || !cols.lat[i].is_finite()
            {
                return Err(format!("incident {i}: invalid category or position"));
            }
        }
        if day_range.is_some_and(|(lo, hi)| lo > hi) || (n > 0 && day_range.is_none()) {
            return Err("invalid day range".to_owned());
        }
        Ok(Self::from_columns(cols, unlocated, day_range))
    }

    /// The position (in index order) of the first incident whose res-10 cell index is at or
    /// after `key`; [`Self::len`] when there is none. With `key` from [`res7_key`] this is
    /// where a res-7 cell's incidents begin. One binary search.
    pub fn position_of(&self, key: u64) -> usize {
        let level = &self.levels[LEVELS - 1];
        let slot = level.cells.partition_point(|&c| u64::from(c) < key);
        level.point_start[slot] as usize
    }

    /// The ids of the incidents at the positions in `range` (in index order, not id order).
    pub(super) fn ids_in(&self, range: Range<usize>) -> impl Iterator<Item = u64> + '_ {
        range
            .filter(|&i| i < self.ids.len())
            .map(|i| self.ids.get(i).get())
    }

    /// True when this index holds, at a position `from` or after, the incident at position
    /// `at` of `other`: the same id in the same res-10 cell with the same category, day,
    /// flags and (`f32`) position. One binary search and a scan of one res-10 cell.
    pub(super) fn holds_incident_of(&self, from: usize, other: &Self, at: usize) -> bool {
        let Some(cell) = other.cell10_at(at) else {
            return false;
        };
        let (level, theirs) = (&self.levels[LEVELS - 1], &other.levels[LEVELS - 1]);
        let Ok(slot) = level.cells.binary_search_by_key(&cell, |&c| u64::from(c)) else {
            return false;
        };
        let run =
            (level.point_start[slot] as usize).max(from)..level.point_start[slot + 1] as usize;
        let id = other.ids.get(at);
        run.into_iter().any(|i| {
            self.ids.get(i) == id
                && self.cat_flags[i] == other.cat_flags[at]
                && level.days[i] == theirs.days[at]
                && self.lon[i].to_bits() == other.lon[at].to_bits()
                && self.lat[i].to_bits() == other.lat[at].to_bits()
        })
    }

    /// The res-10 cell index of the incident at `position`, `None` past the end.
    pub fn cell10_at(&self, position: usize) -> Option<u64> {
        let level = &self.levels[LEVELS - 1];
        let slot = level
            .point_start
            .partition_point(|&p| p as usize <= position)
            .checked_sub(1)?;
        level.cells.get(slot).map(|&c| u64::from(c))
    }

    /// The index of the incidents at the given position ranges of the given indexes together,
    /// in index order: one pass over the sorted columns (no cell located again), as
    /// [`Self::merge`] does for two whole indexes. `unlocated` and `day_range` are carried
    /// into the result (the located incidents' days widen the range). Ids must not repeat
    /// across the parts. Extra memory: the result and its build's temporary columns.
    pub fn merge_ranges(
        parts: &[(&Self, Range<usize>)],
        unlocated: usize,
        day_range: Option<(Day, Day)>,
    ) -> Self {
        Self::merge_ranges_without(parts, &[], unlocated, day_range)
    }

    /// As [`Self::merge_ranges`], leaving out the incidents whose id is in `without` (sorted):
    /// how a merge drops tombstoned incidents. An empty `without` costs one length check per
    /// incident.
    pub(super) fn merge_ranges_without(
        parts: &[(&Self, Range<usize>)],
        without: &[u64],
        unlocated: usize,
        day_range: Option<(Day, Day)>,
    ) -> Self {
        let narrow = parts
            .iter()
            .all(|(p, _)| matches!(p.ids, IdColumn::Narrow(_)));
        let n = parts.iter().map(|(_, r)| r.len()).sum();
        let mut cols = Columns::with_capacity(n, narrow);
        let mut iters: Vec<_> = parts
            .iter()
            .map(|(p, r)| p.positions_in(r.start.min(p.len())..r.end.min(p.len())))
            .collect();
        let mut heads: Vec<Option<Position>> = iters.iter_mut().map(Iterator::next).collect();
        let (mut lo, mut hi) = day_range.map_or((u16::MAX, 0), |(a, b)| {
            (a.days_since_epoch(), b.days_since_epoch())
        });
        loop {
            // Parts are few (a chunk and the runs), so the smallest head is found by a scan.
            let mut best: Option<(usize, (u64, u32, u64))> = None;
            for (k, head) in heads.iter().enumerate() {
                if let Some(p) = head
                    && best.is_none_or(|(_, key)| p.key() < key)
                {
                    best = Some((k, p.key()));
                }
            }
            let Some((k, _)) = best else { break };
            if let Some(p) = heads[k].take()
                && (without.is_empty() || without.binary_search(&p.id).is_err())
            {
                let from = parts[k].0;
                let day = (p.catday & 0xFFFF) as u16;
                lo = lo.min(day);
                hi = hi.max(day);
                cols.push(
                    p.id,
                    [from.lon[p.at], from.lat[p.at]],
                    from.cat_flags[p.at],
                    p.cell10,
                    p.catday,
                );
            }
            heads[k] = iters[k].next();
        }
        Self::from_columns(cols, unlocated, (lo <= hi).then_some((lo, hi)))
    }

    /// The rest of [`Self::build`] once the columns are in `(cell, category, day, id)` order.
    fn from_columns(cols: Columns, unlocated: usize, day_range: Option<(u16, u16)>) -> Self {
        let Columns {
            ids,
            lon,
            lat,
            cat_flags,
            cells10,
            catday,
        } = cols;
        let mut levels: Vec<Level> = (MIN_RES..=MAX_RES)
            .map(|r| {
                build_level(
                    &cells10,
                    &catday,
                    Resolution::try_from(r).unwrap_or(Resolution::Ten),
                )
            })
            .collect();
        drop(cells10);
        drop(catday);

        // Margins from res-8 centres, measured on the data so the finer-level search is exact.
        let coarse_idx = usize::from(TREE_MAX_RES - MIN_RES);
        let mut point_margin_deg = [0.0f64, 0.0f64];
        {
            let coarse = &levels[coarse_idx];
            for c in 0..coarse.cells.len() {
                let [cx, cy] = coarse.centroids[c];
                for i in coarse.point_start[c] as usize..coarse.point_start[c + 1] as usize {
                    point_margin_deg[0] = point_margin_deg[0].max((f64::from(lon[i]) - cx).abs());
                    point_margin_deg[1] = point_margin_deg[1].max((f64::from(lat[i]) - cy).abs());
                }
            }
        }
        let (coarse_levels, fine_levels) = levels.split_at_mut(coarse_idx + 1);
        let coarse = &coarse_levels[coarse_idx];
        for fine in fine_levels {
            let mut margin = [0.0f64, 0.0f64];
            let mut c8 = 0usize;
            for s in 0..fine.cells.len() {
                let start = fine.point_start[s];
                while coarse.point_start[c8 + 1] <= start {
                    c8 += 1;
                }
                let ([x, y], [cx, cy]) = (fine.centroids[s], coarse.centroids[c8]);
                margin[0] = margin[0].max((x - cx).abs());
                margin[1] = margin[1].max((y - cy).abs());
            }
            fine.centre_margin_deg = margin;
        }

        let day_range = day_range.map(|(lo, hi)| {
            (
                Day::from_days_since_epoch(lo),
                Day::from_days_since_epoch(hi),
            )
        });
        let last_known_day = (0..lon.len())
            .filter(|&i| cat_flags[i] & MONTH_FLAG == 0)
            .map(|i| levels[LEVELS - 1].days[i])
            .max()
            .map(Day::from_days_since_epoch);
        Self {
            ids,
            lon,
            lat,
            cat_flags,
            levels,
            point_margin_deg,
            unlocated,
            day_range,
            last_known_day,
        }
    }

    /// Number of located (indexed) incidents.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Ids of the located incidents, in index order.
    pub fn ids(&self) -> impl Iterator<Item = IncidentId> + '_ {
        (0..self.ids.len()).map(|i| self.ids.get(i))
    }

    /// True when no incident is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Incidents left out for want of a location.
    pub fn unlocated(&self) -> usize {
        self.unlocated
    }

    /// First and last day over all incidents, located or not.
    pub fn day_range(&self) -> Option<(Day, Day)> {
        self.day_range
    }

    /// The last day of a located incident known to the day (the data's "today" for
    /// near-repeat risk).
    pub fn last_known_day(&self) -> Option<Day> {
        self.last_known_day
    }

    /// Appends to `out` the located incidents known to the day with a day in `[from, to]`,
    /// in index order, as near-repeat analysis reads them (positions from the index's `f32`
    /// columns). One pass over the day column.
    pub fn day_events(&self, from: Day, to: Day, out: &mut Vec<DayEvent>) {
        self.day_events_after(0, from, to, out);
    }

    /// How many events [`Self::day_events_after`] hands over at most (incidents known to the
    /// day in the window), so a caller can size its buffer once.
    pub fn day_events_after_count(&self, skip: usize, from: Day, to: Day) -> usize {
        let (lo, hi) = (from.days_since_epoch(), to.days_since_epoch());
        let days = &self.levels[LEVELS - 1].days;
        days.iter()
            .zip(&self.cat_flags)
            .skip(skip)
            .filter(|&(&d, &flags)| d >= lo && d <= hi && flags & MONTH_FLAG == 0)
            .count()
    }

    /// As [`Self::day_events`], for the incidents at positions `skip..` only (see
    /// [`Self::position_of`]).
    pub fn day_events_after(&self, skip: usize, from: Day, to: Day, out: &mut Vec<DayEvent>) {
        self.for_each_day_event_after(skip, from, to, &mut |e| out.push(*e));
    }

    /// Hands each event [`Self::day_events_after`] would append to `f`, in the same order,
    /// without collecting them: a reader that keeps few of them (the near-repeat calibration's
    /// sample) holds none of the rest.
    pub fn for_each_day_event_after(
        &self,
        skip: usize,
        from: Day,
        to: Day,
        f: &mut impl FnMut(&DayEvent),
    ) {
        let (lo, hi) = (from.days_since_epoch(), to.days_since_epoch());
        let days = &self.levels[LEVELS - 1].days;
        for (i, &d) in days.iter().enumerate().skip(skip) {
            let flags = self.cat_flags[i];
            if d < lo || d > hi || flags & MONTH_FLAG != 0 {
                continue;
            }
            let (Ok(at), Some(category)) = (
                LonLat::new(f64::from(self.lon[i]), f64::from(self.lat[i])),
                Category::from_code(flags & CODE_MASK),
            ) else {
                continue;
            };
            f(&DayEvent {
                at,
                day: Day::from_days_since_epoch(d),
                category,
                involves_child: flags & CHILD_FLAG != 0,
            });
        }
    }

    /// The located incidents with a day in `[from, to]`, known to the day or only to the
    /// month: an upper bound on what [`Self::day_events`] hands over, read from the coarsest
    /// level's per-cell sorted days (two binary searches per cell and category: microseconds,
    /// where [`Self::day_events_after_count`] reads every incident).
    pub fn day_events_at_most(&self, from: Day, to: Day) -> usize {
        let (lo, hi) = (from.days_since_epoch(), to.days_since_epoch());
        let level = &self.levels[0];
        (0..level.cells.len())
            .map(|slot| level.count_cell(slot, None, lo, hi) as usize)
            .sum()
    }

    fn coarse(&self) -> &Level {
        &self.levels[usize::from(TREE_MAX_RES - MIN_RES)]
    }

    /// Counts per cell at `q.res` for cells whose centre lies in `q.bbox`, counting incidents
    /// in `q.window` and `q.category`. Cells with a zero count are omitted. Sorted by cell.
    pub fn cell_counts(&self, q: &CountQuery) -> Vec<CellCount> {
        self.cell_counts_after(0, q)
    }

    /// As [`Self::cell_counts`], counting only the incidents at positions `skip..`, where
    /// `skip` is where a res-7 cell begins ([`Self::position_of`] of a [`res7_key`]): cells
    /// at res 7 and finer lie wholly on one side; a coarser cell across it is counted from
    /// its res-7 children after it.
    pub fn cell_counts_after(&self, skip: usize, q: &CountQuery) -> Vec<CellCount> {
        let level = &self.levels[q.res.level()];
        let (lo, hi) = (
            q.window.from().days_since_epoch(),
            q.window.to().days_since_epoch(),
        );
        let mut slots = Vec::new();
        level.slots_in(q.bbox, self.coarse(), &mut slots);
        slots.sort_unstable();
        slots
            .into_iter()
            .filter_map(|c| {
                let count = if level.point_start[c] as usize >= skip {
                    level.count_cell(c, q.category, lo, hi)
                } else if level.point_start[c + 1] as usize <= skip {
                    0
                } else {
                    self.count_cell_after(skip, q.res, c, q.category, (lo, hi))
                };
                (count > 0).then_some(CellCount {
                    cell: level.cells[c],
                    count,
                })
            })
            .collect()
    }

    /// The incidents of cell slot `slot` at `res` from position `skip` on (the cell spans
    /// `skip`): the sum of its children after `skip` at [`CUT_RES`], or at res 10 for cells
    /// at [`CUT_RES`] and finer (whose children are never cut).
    fn count_cell_after(
        &self,
        skip: usize,
        res: H3Res,
        slot: usize,
        category: Option<Category>,
        (lo, hi): (u16, u16),
    ) -> u32 {
        let end = self.levels[res.level()].point_start[slot + 1];
        let fine = if res.get() < CUT_RES {
            &self.levels[usize::from(CUT_RES - MIN_RES)]
        } else {
            &self.levels[LEVELS - 1]
        };
        let first = fine.point_start.partition_point(|&p| (p as usize) < skip);
        let last = fine.point_start.partition_point(|&p| p < end);
        (first..last)
            .map(|s| fine.count_cell(s, category, lo, hi))
            .sum()
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
        self.incidents_in_bbox_after(0, bbox, window, category, limit)
    }

    /// As [`Self::incidents_in_bbox`], for the incidents at positions `skip..` only.
    pub fn incidents_in_bbox_after(
        &self,
        skip: usize,
        bbox: Bbox,
        window: TimeWindow,
        category: Option<Category>,
        limit: usize,
    ) -> (Vec<IncidentHit>, bool) {
        let level = self.coarse();
        let Some(tree) = &level.tree else {
            return (Vec::new(), false);
        };
        let days = &self.levels[LEVELS - 1].days;
        let [mx, my] = self.point_margin_deg;
        let env = AABB::from_corners(
            [bbox.min().lon() - mx, bbox.min().lat() - my],
            [bbox.max().lon() + mx, bbox.max().lat() + my],
        );
        let mut slots: Vec<usize> = tree
            .locate_in_envelope(&env)
            .map(|r| r.data as usize)
            .collect();
        slots.sort_unstable();
        let mut hits = Vec::new();
        for c in slots {
            let run = (level.point_start[c] as usize).max(skip)..level.point_start[c + 1] as usize;
            if run.is_empty() {
                continue;
            }
            for (i, &raw_day) in run.clone().zip(&days[run]) {
                let (x, y) = (f64::from(self.lon[i]), f64::from(self.lat[i]));
                if !bbox.contains_raw(x, y) {
                    continue;
                }
                let day = Day::from_days_since_epoch(raw_day);
                let code = self.cat_flags[i] & CODE_MASK;
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
                    id: self.ids.get(i),
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
        self.ids.heap_bytes()
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
    let mut cell_seg = vec![0u32];
    let mut seg_cat = Vec::new();
    let mut seg_end = Vec::new();
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
        // One segment per category present, in category order.
        let base = days.len() as u32;
        for (k, w) in run.iter().enumerate() {
            let is_last_of_cat = run.get(k + 1).is_none_or(|next| next >> 16 != w >> 16);
            if is_last_of_cat {
                seg_cat.push((w >> 16) as u8);
                seg_end.push(base + k as u32 + 1);
            }
        }
        days.extend(run.iter().map(|&v| (v & 0xFFFF) as u16));
        cells.push(parent);
        point_start.push(j as u32);
        cell_seg.push(seg_cat.len() as u32);
        i = j;
    }
    // Grown by doubling, so up to half of each would be slack for as long as the index is
    // served (jemalloc shrinks a large allocation in place).
    for v in [&mut point_start, &mut cell_seg, &mut seg_end] {
        v.shrink_to_fit();
    }
    cells.shrink_to_fit();
    seg_cat.shrink_to_fit();

    let centroids: Vec<[f64; 2]> = cells
        .iter()
        .map(|cell| {
            let c = LatLng::from(*cell);
            [c.lng(), c.lat()]
        })
        .collect();
    let tree = (u8::from(res) <= TREE_MAX_RES).then(|| {
        RTree::bulk_load(
            centroids
                .iter()
                .enumerate()
                .map(|(slot, c)| GeomWithData::new(*c, slot as u32))
                .collect(),
        )
    });
    Level {
        cells,
        centroids,
        tree,
        point_start,
        cell_seg,
        seg_cat,
        seg_end,
        days,
        centre_margin_deg: [0.0, 0.0],
    }
}

#[cfg(test)]
#[path = "incidents_tests.rs"]
mod tests;
