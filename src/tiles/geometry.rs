//! Geometry preparation: project, clip to the tile plus buffer, round, clean and rewind.
//!
//! Input is Web Mercator ([`MercatorPoint`]): callers project once (and cache, as the hexagon
//! layer does) and each tile only scales. Output is a [`TileGeometry`] in integer tile units,
//! ready for [`LayerEncoder::add_feature`](super::LayerEncoder::add_feature).
//!
//! # Steps (`maps.md` §2)
//!
//! 1. **Scale** each vertex to fractional tile units; non-finite vertices are skipped.
//! 2. **Clip** to the closed box `−TILE_BUFFER..=TILE_EXTENT + TILE_BUFFER` in fractional units,
//!    before rounding, so clipped vertices land exactly on the integer box edge:
//!    - points outside the box are dropped;
//!    - lines are clipped segment by segment (Liang–Barsky); a line that leaves the box and
//!      comes back becomes several parts;
//!    - polygon rings are clipped with Sutherland–Hodgman, one half-plane at a time. A concave
//!      ring that leaves and re-enters keeps a zero-width sliver along the box edge, which lies
//!      in the buffer, outside the drawn tile. Rings wholly inside skip the clipper.
//! 3. **Round** half up (see [`coord`](super::coord) on why that rounding).
//! 4. **Clean**: drop consecutive duplicate vertices (and a closing vertex equal to the first),
//!    then drop degenerate parts: lines with fewer than two distinct vertices, rings with fewer
//!    than three or with zero area. A polygon whose exterior goes loses its holes too.
//! 5. **Wind**: the exterior ring gets a positive area by the surveyor's formula in y-down tile
//!    units (clockwise as drawn), holes a negative one (MVT 2.1 §4.3.4.4). Projection from
//!    lon/lat flips orientation, so input winding is not trusted: every ring is measured.
//!
//! Rings are stored open: the first vertex is not repeated at the end (MVT closes them with
//! `ClosePath`).

use super::MercatorPoint;
use super::coord::{TILE_BUFFER, TILE_EXTENT, TilePoint, TileTransform, round_unit};

/// Largest absolute tile coordinate accepted by the encoder (2^20 units, 256 tiles). Keeps
/// every area sum far from `i64` overflow inside the MVT writer and well inside what MapLibre
/// can load; prepared geometry never comes near it.
pub const MAX_ABS_TILE_COORD: i32 = 1 << 20;

/// Most vertices in one line or ring (2^22). Bounds area sums and the MVT command count.
pub const MAX_PART_VERTICES: usize = 1 << 22;

/// A polygon in Web Mercator metres: an exterior ring and its holes, open or closed, any
/// winding.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MercatorPolygon {
    /// The outer ring.
    pub exterior: Vec<MercatorPoint>,
    /// Holes, each a ring inside the exterior.
    pub holes: Vec<Vec<MercatorPoint>>,
}

/// A polygon in integer tile units. Rings are open (the first vertex is not repeated).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TilePolygon {
    /// The outer ring; positive area (clockwise as drawn) once prepared.
    pub exterior: Vec<TilePoint>,
    /// Holes; negative area once prepared.
    pub holes: Vec<Vec<TilePoint>>,
}

/// Feature geometry in integer tile units: the three MVT geometry types, each holding one or
/// more parts (so `Points` with one point is an MVT Point, with more a `MultiPoint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TileGeometry {
    /// MVT `POINT`: one or more points.
    Points(Vec<TilePoint>),
    /// MVT `LINESTRING`: one or more lines.
    Lines(Vec<Vec<TilePoint>>),
    /// MVT `POLYGON`: one or more polygons.
    Polygons(Vec<TilePolygon>),
}

impl TileGeometry {
    /// True when there is nothing to draw.
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Points(p) => p.is_empty(),
            Self::Lines(l) => l.is_empty(),
            Self::Polygons(p) => p.is_empty(),
        }
    }
}

/// The points inside the tile plus buffer, rounded to tile units, in input order. Non-finite
/// points are skipped. `None` when no point remains.
pub fn prepare_points(
    tf: TileTransform,
    points: impl IntoIterator<Item = MercatorPoint>,
) -> Option<TileGeometry> {
    let out: Vec<TilePoint> = points
        .into_iter()
        .filter_map(|p| tf.to_tile(p, TILE_BUFFER))
        .collect();
    (!out.is_empty()).then_some(TileGeometry::Points(out))
}

/// Lines clipped to the tile plus buffer, rounded and cleaned; a line leaving and re-entering
/// the box gives one part per visit. Non-finite vertices are skipped (their neighbours are
/// joined). `None` when nothing remains.
pub fn prepare_lines<'a>(
    tf: TileTransform,
    lines: impl IntoIterator<Item = &'a [MercatorPoint]>,
) -> Option<TileGeometry> {
    let mut parts = Vec::new();
    let mut scaled = Vec::new();
    for line in lines {
        scale_finite(tf, line, &mut scaled);
        clip_line(&scaled, clip_box(), &mut parts);
    }
    (!parts.is_empty()).then_some(TileGeometry::Lines(parts))
}

/// Polygons clipped to the tile plus buffer, rounded, cleaned and rewound. Non-finite vertices
/// are skipped. `None` when nothing remains.
pub fn prepare_polygons<'a>(
    tf: TileTransform,
    polygons: impl IntoIterator<Item = &'a MercatorPolygon>,
) -> Option<TileGeometry> {
    let mut out = Vec::new();
    let mut scaled = Vec::new();
    let mut work = ClipScratch::default();
    for polygon in polygons {
        scale_finite(tf, &polygon.exterior, &mut scaled);
        let Some(exterior) = clip_ring(&scaled, clip_box(), true, &mut work) else {
            continue;
        };
        let mut holes = Vec::new();
        for hole in &polygon.holes {
            scale_finite(tf, hole, &mut scaled);
            if let Some(ring) = clip_ring(&scaled, clip_box(), false, &mut work) {
                holes.push(ring);
            }
        }
        out.push(TilePolygon { exterior, holes });
    }
    (!out.is_empty()).then_some(TileGeometry::Polygons(out))
}

/// A point in fractional tile units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Fxy {
    pub(crate) x: f64,
    pub(crate) y: f64,
}

/// A closed axis-aligned box in fractional tile units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ClipBox {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
}

impl ClipBox {
    fn contains(self, p: Fxy) -> bool {
        p.x >= self.lo && p.x <= self.hi && p.y >= self.lo && p.y <= self.hi
    }
}

/// The tile plus its buffer.
pub(crate) fn clip_box() -> ClipBox {
    ClipBox {
        lo: f64::from(-TILE_BUFFER),
        hi: f64::from(TILE_EXTENT + TILE_BUFFER),
    }
}

/// Scales `src` into `out` (cleared first), skipping points that are not finite before or
/// after scaling (huge finite metres can overflow to infinity).
fn scale_finite(tf: TileTransform, src: &[MercatorPoint], out: &mut Vec<Fxy>) {
    out.clear();
    out.extend(src.iter().filter_map(|&p| {
        let [x, y] = tf.to_tile_f64(p);
        (x.is_finite() && y.is_finite()).then_some(Fxy { x, y })
    }));
}

/// Cohen–Sutherland outcode: one bit per box edge the point lies beyond.
fn outcode(p: Fxy, bx: ClipBox) -> u8 {
    u8::from(p.x < bx.lo)
        | (u8::from(p.x > bx.hi) << 1)
        | (u8::from(p.y < bx.lo) << 2)
        | (u8::from(p.y > bx.hi) << 3)
}

/// Liang–Barsky: the part of segment `a → b` inside `bx`, as parameters `t0 <= t1` in `[0, 1]`,
/// or `None` when the segment misses the box.
fn clip_segment(a: Fxy, b: Fxy, bx: ClipBox) -> Option<(f64, f64)> {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let mut t0 = 0.0_f64;
    let mut t1 = 1.0_f64;
    // Each edge as p·t <= q.
    for (p, q) in [
        (-dx, a.x - bx.lo),
        (dx, bx.hi - a.x),
        (-dy, a.y - bx.lo),
        (dy, bx.hi - a.y),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    (t0 <= t1).then_some((t0, t1))
}

/// The point at `t` along `a → b`, snapped onto the box edge it was clipped at (so rounding
/// cannot push it outside).
fn lerp_clamped(a: Fxy, b: Fxy, t: f64, bx: ClipBox) -> Fxy {
    if t <= 0.0 {
        return a;
    }
    if t >= 1.0 {
        return b;
    }
    Fxy {
        x: (a.x + (b.x - a.x) * t).clamp(bx.lo, bx.hi),
        y: (a.y + (b.y - a.y) * t).clamp(bx.lo, bx.hi),
    }
}

/// Clips one polyline (fractional units) to `bx`, rounds, cleans, and appends each surviving
/// part to `parts`.
pub(crate) fn clip_line(line: &[Fxy], bx: ClipBox, parts: &mut Vec<Vec<TilePoint>>) {
    let mut current: Vec<TilePoint> = Vec::new();
    let flush = |current: &mut Vec<TilePoint>, parts: &mut Vec<Vec<TilePoint>>| {
        if current.len() >= 2 {
            parts.push(std::mem::take(current));
        } else {
            current.clear();
        }
    };
    let push = |current: &mut Vec<TilePoint>, p: Fxy| {
        let q = TilePoint::new(round_unit(p.x), round_unit(p.y));
        if current.last() != Some(&q) {
            current.push(q);
        }
    };
    if line.len() == 1 {
        // A single vertex is no line.
        return;
    }
    for w in line.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (ca, cb) = (outcode(a, bx), outcode(b, bx));
        if ca & cb != 0 {
            // Both ends beyond the same edge: the segment misses the box.
            flush(&mut current, parts);
            continue;
        }
        if ca | cb == 0 && !current.is_empty() {
            // Both ends inside, continuing the current part.
            push(&mut current, b);
            continue;
        }
        match clip_segment(a, b, bx) {
            None => flush(&mut current, parts),
            Some((t0, t1)) => {
                if current.is_empty() || t0 > 0.0 {
                    // Entering from outside: a new part starts here.
                    flush(&mut current, parts);
                    push(&mut current, lerp_clamped(a, b, t0, bx));
                }
                push(&mut current, lerp_clamped(a, b, t1, bx));
                if t1 < 1.0 {
                    // Leaving the box.
                    flush(&mut current, parts);
                }
            }
        }
    }
    flush(&mut current, parts);
}

/// Buffers reused between rings.
#[derive(Debug, Default)]
pub(crate) struct ClipScratch {
    a: Vec<Fxy>,
    b: Vec<Fxy>,
}

/// Sutherland–Hodgman against one half-plane: keeps points where `inside` holds, adding the
/// crossing points, which `cross` computes from the two ends.
fn clip_half_plane(
    input: &[Fxy],
    out: &mut Vec<Fxy>,
    inside: impl Fn(Fxy) -> bool,
    cross: impl Fn(Fxy, Fxy) -> Fxy,
) {
    out.clear();
    let Some(&last) = input.last() else {
        return;
    };
    let mut prev = last;
    let mut prev_in = inside(prev);
    for &cur in input {
        let cur_in = inside(cur);
        if cur_in {
            if !prev_in {
                out.push(cross(prev, cur));
            }
            out.push(cur);
        } else if prev_in {
            out.push(cross(prev, cur));
        }
        prev = cur;
        prev_in = cur_in;
    }
}

/// The crossing of segment `a → b` with the vertical line `x = at`.
fn cross_x(a: Fxy, b: Fxy, at: f64) -> Fxy {
    let t = (at - a.x) / (b.x - a.x);
    Fxy {
        x: at,
        y: a.y + (b.y - a.y) * t,
    }
}

/// The crossing of segment `a → b` with the horizontal line `y = at`.
fn cross_y(a: Fxy, b: Fxy, at: f64) -> Fxy {
    let t = (at - a.y) / (b.y - a.y);
    Fxy {
        x: a.x + (b.x - a.x) * t,
        y: at,
    }
}

/// Clips one ring (fractional units, open or closed) to `bx`, then rounds, cleans and winds it
/// as an exterior (`exterior`) or a hole. `None` when it is degenerate or outside.
pub(crate) fn clip_ring(
    ring: &[Fxy],
    bx: ClipBox,
    exterior: bool,
    work: &mut ClipScratch,
) -> Option<Vec<TilePoint>> {
    if ring.len() < 3 {
        return None;
    }
    let (mut min, mut max) = (ring[0], ring[0]);
    for p in ring {
        min.x = min.x.min(p.x);
        min.y = min.y.min(p.y);
        max.x = max.x.max(p.x);
        max.y = max.y.max(p.y);
    }
    if max.x < bx.lo || min.x > bx.hi || max.y < bx.lo || min.y > bx.hi {
        return None;
    }
    let clipped: &[Fxy] = if bx.contains(min) && bx.contains(max) {
        ring
    } else {
        let ClipScratch { a, b } = work;
        clip_half_plane(ring, a, |p| p.x >= bx.lo, |p, q| cross_x(p, q, bx.lo));
        clip_half_plane(a, b, |p| p.x <= bx.hi, |p, q| cross_x(p, q, bx.hi));
        clip_half_plane(b, a, |p| p.y >= bx.lo, |p, q| cross_y(p, q, bx.lo));
        clip_half_plane(a, b, |p| p.y <= bx.hi, |p, q| cross_y(p, q, bx.hi));
        for p in b.iter_mut() {
            // Crossing points are computed; keep rounding from leaving the box.
            p.x = p.x.clamp(bx.lo, bx.hi);
            p.y = p.y.clamp(bx.lo, bx.hi);
        }
        b
    };
    let mut out: Vec<TilePoint> = Vec::with_capacity(clipped.len());
    for p in clipped {
        let q = TilePoint::new(round_unit(p.x), round_unit(p.y));
        if out.last() != Some(&q) {
            out.push(q);
        }
    }
    finish_ring(&mut out, exterior).then_some(out)
}

/// Removes a closing vertex equal to the first, then checks the ring has three vertices and
/// non-zero area, and reverses it if its winding does not match its role. Expects consecutive
/// duplicates already removed. Returns false for a degenerate ring.
pub(crate) fn finish_ring(ring: &mut Vec<TilePoint>, exterior: bool) -> bool {
    while ring.len() > 1 && ring.first() == ring.last() {
        ring.pop();
    }
    if ring.len() < 3 {
        return false;
    }
    let area = signed_area2(ring);
    if area == 0 {
        return false;
    }
    if (area > 0) != exterior {
        ring.reverse();
    }
    true
}

/// Twice the signed area of an open ring by the surveyor's formula in y-down tile units:
/// positive when the ring runs clockwise as drawn (an MVT exterior). `i128` so that no
/// coordinates can overflow it.
pub fn signed_area2(ring: &[TilePoint]) -> i128 {
    let Some(&last) = ring.last() else {
        return 0;
    };
    let mut prev = last;
    let mut sum = 0_i128;
    for &p in ring {
        sum += i128::from(prev.x) * i128::from(p.y) - i128::from(p.x) * i128::from(prev.y);
        prev = p;
    }
    sum
}

#[cfg(test)]
#[path = "geometry_tests.rs"]
mod tests;
