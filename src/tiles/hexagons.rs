//! H3 cells in vector tiles: zoom → resolution, cached Mercator boundaries, cell selection and
//! the hexagon layer encoder (`maps.md` §2).
//!
//! # Flow for one tile
//!
//! 1. [`res_for_zoom`] picks the resolution for the tile's zoom and the caller's role.
//! 2. The caller finds the candidate cells: [`HexCellIndex::cells_for_tile`] over the occupied
//!    cells of that resolution, or a centre-in-box query of its own with [`hex_search_bbox`]
//!    (for example `IncidentIndex::cell_counts`). Both return a superset of the cells that
//!    reach the tile plus buffer; the encoder makes the exact test.
//! 3. [`encode_hexagon_layer`] writes one polygon feature per cell that meets the tile plus
//!    buffer, in ascending cell order, with properties `h3`, `count` (unless suppressed),
//!    `suppressed`, then the cell's extra properties.
//!
//! # Design choices
//!
//! - **Boundaries are projected once.** [`CellBoundaries`] keeps each cell's ring in Web
//!   Mercator metres with its bounding box; per tile the encoder only scales, rounds and
//!   encodes. The caller owns the cache (build it with the index snapshot and share it behind
//!   an `Arc`); a cell missing from it is computed on the fly, not inserted, so encoding needs
//!   only `&` access and tiles can be encoded in parallel.
//! - **No feature id.** H3 indexes exceed 2^53, so MapLibre would corrupt them as MVT ids;
//!   the id is the `h3` string property, which the style promotes with `promoteId`.
//! - **Hexagons are not clipped** when they lie within one tile width of the tile: MVT allows
//!   coordinates outside the extent, MapLibre clips while drawing, and a cell on a tile edge
//!   is drawn whole in both tiles so that feature-state applies to both copies. Only very
//!   large cells (coarse cells at high zoom, or the lowest resolutions) are clipped to the
//!   tile plus buffer, which keeps every coordinate within ±3 extents, far inside the 16-bit
//!   range MapLibre loads geometry into.
//! - **Cells too small to see are dropped.** After rounding, a ring with fewer than three
//!   distinct vertices or zero area is degenerate (a fine resolution at a low zoom); it would
//!   not be drawn anyway.
//! - **Deterministic order.** Cells are sorted by index before encoding, whatever order the
//!   caller's aggregates came in (a `HashMap`, say), so tiles are byte-identical.
//! - **Antimeridian.** Ring longitudes are unwrapped to be continuous, so a cell crossing
//!   ±180° is drawn whole on the western side of the world and not split. Latitudes beyond
//!   Web Mercator's ±85.05° are clamped. Neither occurs in the study area.

use std::borrow::Cow;
use std::collections::HashMap;

use h3o::{CellIndex, Resolution};
use rstar::primitives::GeomWithData;
use rstar::{AABB, RTree};

use super::coord::{
    MercatorBox, MercatorPoint, TILE_EXTENT, TileCoord, TilePoint, lonlat_box,
    mercator_box_to_lonlat, round_unit,
};
use super::fast_hash::FastHash;
use super::geometry::{ClipScratch, Fxy, clip_box, clip_ring, finish_ring};
use super::mvt::{EncodedLayer, LayerEncoder, PropValue, Property, check_unique_keys};
use super::{TilesError, TilesResult};
use crate::domain::Bbox;
use crate::safeguards::disclosure::Published;

/// The H3 resolution for zoom `z`: `clamp(⌊2z/3⌋ + 2, res_min, res_max)` (`maps.md` §2.1).
///
/// Each resolution is about √7 ≈ 2.65 times finer than the last, two-thirds of a zoom level,
/// so this keeps a hexagon edge near 12 px on 512-px tiles and roughly 300–1,500 cells per
/// tile. `res_max` is the finer of the data's native resolution and what the caller's role may
/// see; beyond it, tiles repeat the coarser cells.
///
/// # Errors
///
/// [`TilesError::ResolutionRange`] when `res_min` is finer than `res_max`.
pub fn res_for_zoom(z: u8, res_min: Resolution, res_max: Resolution) -> TilesResult<Resolution> {
    if res_min > res_max {
        return Err(TilesError::ResolutionRange {
            res_min: u8::from(res_min),
            res_max: u8::from(res_max),
        });
    }
    let rule = (u32::from(z) * 2 / 3 + 2).min(15) as u8;
    let res = rule.clamp(u8::from(res_min), u8::from(res_max));
    Ok(Resolution::try_from(res).unwrap_or(res_max))
}

/// One cell's boundary in Web Mercator metres, with its bounding box.
#[derive(Debug, Clone, PartialEq)]
pub struct CellShape {
    ring_m: Box<[MercatorPoint]>,
    bounds_m: MercatorBox,
}

impl CellShape {
    /// Projects `cell`'s boundary (6 vertices, up to 10 for pentagons and cells with
    /// distortion vertices), unwrapping longitudes across the antimeridian.
    pub fn of(cell: CellIndex) -> Self {
        let boundary = cell.boundary();
        let mut ring = Vec::with_capacity(boundary.len());
        let mut prev_lon: Option<f64> = None;
        for ll in boundary.iter() {
            let mut lon = ll.lng();
            if let Some(p) = prev_lon {
                if lon - p > 180.0 {
                    lon -= 360.0;
                } else if p - lon > 180.0 {
                    lon += 360.0;
                }
            }
            prev_lon = Some(lon);
            ring.push(MercatorPoint::from_deg(lon, ll.lat()));
        }
        let mut bounds_m = MercatorBox {
            min: ring.first().copied().unwrap_or_default(),
            max: ring.first().copied().unwrap_or_default(),
        };
        for p in &ring {
            bounds_m.min.x_m = bounds_m.min.x_m.min(p.x_m);
            bounds_m.min.y_m = bounds_m.min.y_m.min(p.y_m);
            bounds_m.max.x_m = bounds_m.max.x_m.max(p.x_m);
            bounds_m.max.y_m = bounds_m.max.y_m.max(p.y_m);
        }
        Self {
            ring_m: ring.into_boxed_slice(),
            bounds_m,
        }
    }

    /// The boundary ring, open, in H3's order (counter-clockwise on the map).
    pub fn ring_m(&self) -> &[MercatorPoint] {
        &self.ring_m
    }

    /// The ring's bounding box.
    pub fn bounds_m(&self) -> MercatorBox {
        self.bounds_m
    }
}

/// Cell boundaries projected to Web Mercator, computed once per cell and kept.
#[derive(Debug, Clone, Default)]
pub struct CellBoundaries {
    /// A fast integer hash: one lookup per cell per tile (see `fast_hash`).
    shapes: HashMap<CellIndex, CellShape, FastHash>,
}

impl CellBoundaries {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cache holding the given cells (of any resolutions).
    pub fn from_cells(cells: impl IntoIterator<Item = CellIndex>) -> Self {
        let mut out = Self::new();
        for cell in cells {
            out.insert(cell);
        }
        out
    }

    /// The cell's shape, projected now if it is not cached yet.
    pub fn insert(&mut self, cell: CellIndex) -> &CellShape {
        self.shapes
            .entry(cell)
            .or_insert_with(|| CellShape::of(cell))
    }

    /// Keeps a shape computed elsewhere (for example outside a lock).
    pub fn insert_shape(&mut self, cell: CellIndex, shape: CellShape) {
        self.shapes.entry(cell).or_insert(shape);
    }

    /// The cached shape, if any.
    pub fn get(&self, cell: CellIndex) -> Option<&CellShape> {
        self.shapes.get(&cell)
    }

    /// The cached shape, or one computed now (and not kept).
    pub fn shape(&self, cell: CellIndex) -> Cow<'_, CellShape> {
        self.get(cell)
            .map_or_else(|| Cow::Owned(CellShape::of(cell)), Cow::Borrowed)
    }

    /// Cells cached.
    pub fn len(&self) -> usize {
        self.shapes.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.shapes.is_empty()
    }

    /// Approximate heap bytes held (table slots and rings).
    pub fn heap_bytes(&self) -> usize {
        let slot = size_of::<(CellIndex, CellShape)>() + 1;
        let rings: usize = self
            .shapes
            .values()
            .map(|s| s.ring_m.len() * size_of::<MercatorPoint>())
            .sum();
        self.shapes.capacity() * slot + rings
    }
}

/// A cell's count as published: a value, or suppressed by disclosure control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HexCount {
    /// Published as `count`, with `suppressed: false`.
    Value(u32),
    /// `count` left out (MVT has no null; MapLibre reads a missing property as null) and
    /// `suppressed: true`.
    Suppressed,
}

impl From<Published> for HexCount {
    fn from(p: Published) -> Self {
        match p {
            Published::Value(v) => Self::Value(v),
            Published::Suppressed => Self::Suppressed,
        }
    }
}

/// One cell to draw: its index, count and extra properties (`rate`, `bin`, `category`...).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HexCell<'a> {
    /// The cell; all cells of one layer should share a resolution.
    pub cell: CellIndex,
    /// Its published count.
    pub count: HexCount,
    /// More properties, written after `h3`, `count` and `suppressed`, in this order. A value
    /// derived from a suppressed count must be suppressed with it (S21): leave it out here.
    pub extra: &'a [Property<'a>],
}

/// Keys the hexagon layer writes itself.
const RESERVED_KEYS: [Property<'static>; 3] = [
    ("h3", PropValue::Bool(false)),
    ("count", PropValue::Bool(false)),
    ("suppressed", PropValue::Bool(false)),
];

/// Encodes the hexagon layer `name` for `tile`: one polygon feature per cell whose boundary
/// reaches the tile plus buffer, in ascending cell order, without MVT feature ids. Cells that
/// miss the tile are skipped, so the caller may pass a superset (see [`HexCellIndex`]).
/// Shapes come from `boundaries`, or are computed for cells it lacks.
///
/// # Performance
///
/// A sortedness check (a sort only when the input is out of order), then per cell a hash
/// lookup, a scaled and rounded ring, and one feature write with the `h3` value appended
/// without a lookup (cells are unique). Extra properties are validated once per distinct
/// slice. See `docs/BENCHMARKS.md` (issue 5) for figures.
///
/// # Errors
///
/// [`TilesError::EmptyLayerName`]; [`TilesError::DuplicateCell`] when a cell is given twice;
/// [`TilesError::DuplicateProperty`] when an extra property repeats a key or uses `h3`,
/// `count` or `suppressed`; [`TilesError::LayerTooLarge`] past `u32::MAX` values.
pub fn encode_hexagon_layer(
    name: &str,
    tile: TileCoord,
    cells: &[HexCell<'_>],
    boundaries: &CellBoundaries,
) -> TilesResult<EncodedLayer> {
    let mut order: Vec<&HexCell<'_>> = cells.iter().collect();
    if !order.is_sorted_by_key(|c| c.cell) {
        order.sort_by_key(|c| c.cell);
    }
    for pair in order.windows(2) {
        if pair[0].cell == pair[1].cell {
            return Err(TilesError::DuplicateCell { cell: pair[0].cell });
        }
    }
    // Callers usually share one extra slice (or none) across cells: check each slice once.
    let mut checked: Option<&[Property<'_>]> = None;
    for c in &order {
        if !c.extra.is_empty() && !checked.is_some_and(|e| std::ptr::eq(e, c.extra)) {
            check_unique_keys(&RESERVED_KEYS, c.extra)?;
            checked = Some(c.extra);
        }
    }

    let mut layer = LayerEncoder::new(name)?;
    let tf = tile.transform();
    let bx = clip_box();
    // Cells reaching further than this from the tile are clipped (see the module notes).
    let (lo, hi) = (f64::from(-TILE_EXTENT), f64::from(2 * TILE_EXTENT));
    let mut ring: Vec<TilePoint> = Vec::with_capacity(12);
    let mut scaled: Vec<Fxy> = Vec::with_capacity(12);
    let mut work = ClipScratch::default();
    let mut hex = [0u8; 16];
    // Key indices, resolved on first use so that unused keys stay out of the table; and the
    // key indices of the last extra slice seen.
    let mut keys: [Option<u32>; 3] = [None; 3];
    let mut extra_keys: (Option<&[Property<'_>]>, Vec<u32>) = (None, Vec::new());

    for c in order {
        let shape = boundaries.shape(c.cell);
        let [x0, y1] = tf.to_tile_f64(shape.bounds_m.min);
        let [x1, y0] = tf.to_tile_f64(shape.bounds_m.max);
        if x1 < bx.lo || x0 > bx.hi || y1 < bx.lo || y0 > bx.hi {
            continue;
        }
        ring.clear();
        if x0 >= lo && x1 <= hi && y0 >= lo && y1 <= hi {
            for &p in shape.ring_m() {
                let [x, y] = tf.to_tile_f64(p);
                let q = TilePoint::new(round_unit(x), round_unit(y));
                if ring.last() != Some(&q) {
                    ring.push(q);
                }
            }
            if !finish_ring(&mut ring, true) {
                continue;
            }
        } else {
            scaled.clear();
            scaled.extend(shape.ring_m().iter().map(|&p| {
                let [x, y] = tf.to_tile_f64(p);
                Fxy { x, y }
            }));
            match clip_ring(&scaled, bx, true, &mut work) {
                Some(clipped) => ring = clipped,
                None => continue,
            }
        }

        layer.begin_tags();
        let h3_key = key(&mut layer, &mut keys[0], "h3")?;
        let h3_value = layer.push_string_value(h3_hex(c.cell, &mut hex))?;
        layer.push_tag(h3_key, h3_value);
        if let HexCount::Value(v) = c.count {
            let k = key(&mut layer, &mut keys[1], "count")?;
            let v = value(&mut layer, PropValue::U64(u64::from(v)))?;
            layer.push_tag(k, v);
        }
        let k = key(&mut layer, &mut keys[2], "suppressed")?;
        let suppressed = matches!(c.count, HexCount::Suppressed);
        let v = value(&mut layer, PropValue::Bool(suppressed))?;
        layer.push_tag(k, v);
        if !c.extra.is_empty() {
            if !extra_keys.0.is_some_and(|e| std::ptr::eq(e, c.extra)) {
                extra_keys.1.clear();
                for &(k, _) in c.extra {
                    extra_keys.1.push(layer.key_index(k)?);
                }
                extra_keys.0 = Some(c.extra);
            }
            for (&(_, v), &k) in c.extra.iter().zip(&extra_keys.1) {
                if let Some(v) = layer.value_index(v)? {
                    layer.push_tag(k, v);
                }
            }
        }
        layer.write_ring_feature(&ring);
    }
    Ok(layer.finish())
}

/// The index of a fixed key, resolved once.
fn key(layer: &mut LayerEncoder, slot: &mut Option<u32>, name: &str) -> TilesResult<u32> {
    if let Some(k) = *slot {
        return Ok(k);
    }
    let k = layer.key_index(name)?;
    *slot = Some(k);
    Ok(k)
}

/// The index of a value that is never left out (not a non-finite double).
fn value(layer: &mut LayerEncoder, v: PropValue<'_>) -> TilesResult<u32> {
    layer.value_index(v)?.ok_or(TilesError::LayerTooLarge)
}

/// The 15-character lower-case hex form of `cell`, written into `buf` (as `Display` gives it,
/// without allocating).
fn h3_hex(cell: CellIndex, buf: &mut [u8; 16]) -> &str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let v = u64::from(cell);
    for (i, slot) in buf.iter_mut().enumerate() {
        *slot = DIGITS[((v >> (60 - 4 * i)) & 0xF) as usize];
    }
    // Valid cells have their top nibble zero and the next one non-zero (mode bits).
    let start = buf.iter().position(|&b| b != b'0').unwrap_or(15);
    std::str::from_utf8(&buf[start..]).unwrap_or_default()
}

/// An R-tree of cell centres in Web Mercator for finding the cells near a tile. Build one per
/// resolution over the occupied cells (the search margin is the largest cell's half-size).
#[derive(Debug)]
pub struct HexCellIndex {
    tree: RTree<GeomWithData<[f64; 2], CellIndex>>,
    /// Largest half-width and half-height of any cell's bounding box, metres.
    margin_m: [f64; 2],
}

impl HexCellIndex {
    /// Indexes `cells` by the centre of their Mercator bounding box, caching their shapes in
    /// `boundaries` on the way (the encoder needs them next).
    pub fn build(
        cells: impl IntoIterator<Item = CellIndex>,
        boundaries: &mut CellBoundaries,
    ) -> Self {
        let mut margin_m = [0.0_f64, 0.0_f64];
        let mut points = Vec::new();
        for cell in cells {
            let b = boundaries.insert(cell).bounds_m;
            let half = [(b.max.x_m - b.min.x_m) / 2.0, (b.max.y_m - b.min.y_m) / 2.0];
            margin_m[0] = margin_m[0].max(half[0]);
            margin_m[1] = margin_m[1].max(half[1]);
            points.push(GeomWithData::new(
                [b.min.x_m + half[0], b.min.y_m + half[1]],
                cell,
            ));
        }
        Self {
            tree: RTree::bulk_load(points),
            margin_m,
        }
    }

    /// Cells indexed.
    pub fn len(&self) -> usize {
        self.tree.size()
    }

    /// True when no cell is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replaces `out` with the cells whose bounding box may reach the tile plus buffer, sorted
    /// by index: every cell [`encode_hexagon_layer`] would draw, and a few near misses.
    pub fn cells_for_tile(&self, tile: TileCoord, out: &mut Vec<CellIndex>) {
        out.clear();
        let b = tile.buffered_bounds_m();
        let envelope = AABB::from_corners(
            [b.min.x_m - self.margin_m[0], b.min.y_m - self.margin_m[1]],
            [b.max.x_m + self.margin_m[0], b.max.y_m + self.margin_m[1]],
        );
        out.extend(self.tree.locate_in_envelope(&envelope).map(|g| g.data));
        out.sort_unstable();
    }
}

/// A lon/lat box holding the centre of every cell of resolution `res` that can reach `tile`
/// plus buffer: the buffered tile grown by twice the average hexagon edge length (a bound on
/// any H3 cell's centre-to-vertex distance at that resolution), for centre-in-box queries such
/// as `IncidentIndex::cell_counts`.
pub fn hex_search_bbox(tile: TileCoord, res: Resolution) -> Bbox {
    let inner = mercator_box_to_lonlat(tile.buffered_bounds_m());
    let radius_m = 2.0 * res.edge_length_m();
    // Metres per degree: at least 110,574 along a meridian, and 111,320·cos(φ) along a parallel.
    let dlat = radius_m / 110_574.0;
    let (min, max) = (inner.min(), inner.max());
    let pole_lat = (min.lat() - dlat).abs().max((max.lat() + dlat).abs());
    let cos = pole_lat.min(90.0).to_radians().cos();
    let dlon = if cos > 1e-6 {
        radius_m / (111_320.0 * cos)
    } else {
        360.0
    };
    lonlat_box(
        min.lon() - dlon,
        min.lat() - dlat,
        max.lon() + dlon,
        max.lat() + dlat,
    )
}

#[cfg(test)]
#[path = "hexagons_tests.rs"]
mod tests;
