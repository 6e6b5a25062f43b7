//! Tile addresses and projections: lon/lat → Web Mercator metres → integer tile units.
//!
//! # Coordinate systems
//!
//! - [`LonLat`]: WGS84 degrees (EPSG:4326), the domain's coordinates.
//! - [`MercatorPoint`]: spherical Web Mercator metres (EPSG:3857), `x` east, `y` north, both in
//!   `−HALF_WORLD_M..=HALF_WORLD_M`. Latitudes are clamped to ±[`MAX_LAT_DEG`].
//! - [`TilePoint`]: integer tile units of one tile, `x` right and **`y` down**, `0..TILE_EXTENT`
//!   inside the tile and down to `−TILE_BUFFER` / up to `TILE_EXTENT + TILE_BUFFER` in the
//!   buffer.
//!
//! # Rounding
//!
//! A Mercator point is first scaled to *world* tile units at zoom `z` (`EXTENT · 2^z` across
//! the world, a multiplication by a power of two after one shift), then the tile's origin
//! (`x · EXTENT`, an integer) is subtracted, and the result is rounded half up
//! (`floor(v + 0.5)`). Rounding half up commutes with subtracting an integer, so a vertex shared
//! by two neighbouring tiles rounds to the same world position in both: edges of adjacent tiles
//! line up exactly. The arithmetic is plain IEEE-754 `f64` with no fused or reordered operations,
//! so the same input gives the same integers on every run and machine.

use std::f64::consts::PI;
use std::fmt;

use crate::domain::{Bbox, LonLat};

use super::{TilesError, TilesResult};

/// Tile units across one tile (the MVT `extent`).
pub const TILE_EXTENT: i32 = 4096;
/// Tile units of buffer kept around each tile edge, so that strokes and fills crossing a tile
/// edge join without seams. Geometry is clipped to `−TILE_BUFFER..=TILE_EXTENT + TILE_BUFFER`.
pub const TILE_BUFFER: i32 = 64;
/// The finest zoom level served.
pub const MAX_ZOOM: u8 = 22;
/// WGS84 semi-major axis, the radius of the Web Mercator sphere, in metres (EPSG:3857).
pub const EARTH_RADIUS_M: f64 = 6_378_137.0;
/// Half the width of the Web Mercator world, in metres (`π · EARTH_RADIUS_M`).
pub const HALF_WORLD_M: f64 = PI * EARTH_RADIUS_M;
/// The latitude where Web Mercator `y` reaches [`HALF_WORLD_M`]: `atan(sinh(π))` in degrees.
pub const MAX_LAT_DEG: f64 = 85.051_128_779_806_59;

/// A position in spherical Web Mercator (EPSG:3857), in metres.
///
/// Any `f64` may be stored; functions that consume points skip non-finite ones.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MercatorPoint {
    /// Easting in metres.
    pub x_m: f64,
    /// Northing in metres.
    pub y_m: f64,
}

impl MercatorPoint {
    /// Projects WGS84 degrees. Latitudes beyond ±[`MAX_LAT_DEG`] are clamped; longitudes are
    /// not wrapped (a longitude of 190° lands east of the antimeridian, which keeps rings that
    /// cross it continuous). Non-finite input gives non-finite output.
    ///
    /// # Units
    ///
    /// Degrees in, metres out.
    pub fn from_deg(lon_deg: f64, lat_deg: f64) -> Self {
        let lat = lat_deg.clamp(-MAX_LAT_DEG, MAX_LAT_DEG).to_radians();
        Self {
            x_m: EARTH_RADIUS_M * lon_deg.to_radians(),
            y_m: EARTH_RADIUS_M * (PI / 4.0 + lat / 2.0).tan().ln(),
        }
    }

    /// The inverse projection, in degrees `[lon, lat]` (longitude unwrapped).
    pub fn to_deg(self) -> [f64; 2] {
        let lon = (self.x_m / EARTH_RADIUS_M).to_degrees();
        let lat = (2.0 * (self.y_m / EARTH_RADIUS_M).exp().atan() - PI / 2.0).to_degrees();
        [lon, lat]
    }

    /// True when both coordinates are finite.
    pub fn is_finite(self) -> bool {
        self.x_m.is_finite() && self.y_m.is_finite()
    }
}

impl From<LonLat> for MercatorPoint {
    fn from(p: LonLat) -> Self {
        Self::from_deg(p.lon(), p.lat())
    }
}

/// An axis-aligned box in Web Mercator metres. `min` is the south-west corner.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MercatorBox {
    /// South-west corner.
    pub min: MercatorPoint,
    /// North-east corner.
    pub max: MercatorPoint,
}

impl MercatorBox {
    /// The box grown by `margin_m` metres on every side.
    #[must_use]
    pub fn expanded_m(self, margin_m: f64) -> Self {
        Self {
            min: MercatorPoint {
                x_m: self.min.x_m - margin_m,
                y_m: self.min.y_m - margin_m,
            },
            max: MercatorPoint {
                x_m: self.max.x_m + margin_m,
                y_m: self.max.y_m + margin_m,
            },
        }
    }

    /// Width in metres.
    pub fn width_m(self) -> f64 {
        self.max.x_m - self.min.x_m
    }

    /// True when the two closed boxes share at least one point.
    pub fn intersects(self, other: Self) -> bool {
        self.min.x_m <= other.max.x_m
            && other.min.x_m <= self.max.x_m
            && self.min.y_m <= other.max.y_m
            && other.min.y_m <= self.max.y_m
    }
}

/// A position in integer tile units of one tile: `x` right, `y` down, `0..TILE_EXTENT` inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TilePoint {
    /// Tile units from the left edge.
    pub x: i32,
    /// Tile units from the top edge (down is positive).
    pub y: i32,
}

impl TilePoint {
    /// A point from its two coordinates.
    pub const fn new(x: i32, y: i32) -> Self {
        Self { x, y }
    }
}

/// A validated tile address in the XYZ scheme (`y = 0` at the north edge, as MapLibre asks for
/// `{z}/{x}/{y}`): `z` in `0..=22`, `x` and `y` in `0..2^z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TileCoord {
    z: u8,
    x: u32,
    y: u32,
}

impl TileCoord {
    /// Validates a tile address. Takes `u32` for all three so that an HTTP layer can pass what
    /// it parsed and still get an error naming the coordinate at fault.
    ///
    /// # Errors
    ///
    /// [`TilesError::TileOutOfRange`] with `field` `"z"` for `z > 22`, else `"x"` or `"y"` for a
    /// value of `2^z` or more.
    pub fn new(z: u32, x: u32, y: u32) -> TilesResult<Self> {
        let z8 = u8::try_from(z).ok().filter(|&z8| z8 <= MAX_ZOOM).ok_or(
            TilesError::TileOutOfRange {
                field: "z",
                value: z,
                max: u32::from(MAX_ZOOM),
            },
        )?;
        let max = (1u32 << z8) - 1;
        if x > max {
            return Err(TilesError::TileOutOfRange {
                field: "x",
                value: x,
                max,
            });
        }
        if y > max {
            return Err(TilesError::TileOutOfRange {
                field: "y",
                value: y,
                max,
            });
        }
        Ok(Self { z: z8, x, y })
    }

    /// Zoom level.
    pub fn z(self) -> u8 {
        self.z
    }

    /// Column, from the antimeridian eastwards.
    pub fn x(self) -> u32 {
        self.x
    }

    /// Row, from the north edge southwards.
    pub fn y(self) -> u32 {
        self.y
    }

    /// Tiles across the world at this zoom (`2^z`).
    pub fn tiles_across(self) -> u32 {
        1u32 << self.z
    }

    /// Width (and height) of this tile in Web Mercator metres.
    pub fn size_m(self) -> f64 {
        2.0 * HALF_WORLD_M / f64::from(self.tiles_across())
    }

    /// The tile's bounds in Web Mercator metres (without buffer).
    pub fn bounds_m(self) -> MercatorBox {
        let size = self.size_m();
        let min_x = -HALF_WORLD_M + f64::from(self.x) * size;
        let max_y = HALF_WORLD_M - f64::from(self.y) * size;
        MercatorBox {
            min: MercatorPoint {
                x_m: min_x,
                y_m: max_y - size,
            },
            max: MercatorPoint {
                x_m: min_x + size,
                y_m: max_y,
            },
        }
    }

    /// The tile's bounds plus the [`TILE_BUFFER`] on every side, in Web Mercator metres.
    pub fn buffered_bounds_m(self) -> MercatorBox {
        self.bounds_m()
            .expanded_m(self.size_m() * f64::from(TILE_BUFFER) / f64::from(TILE_EXTENT))
    }

    /// The tile's bounds in WGS84 degrees (without buffer). Tiles of row 0 and the last row
    /// reach ±[`MAX_LAT_DEG`].
    pub fn bounds_lonlat(self) -> Bbox {
        mercator_box_to_lonlat(self.bounds_m())
    }

    /// The tile containing this one at zoom `z − 1`, or `None` at zoom 0.
    pub fn parent(self) -> Option<Self> {
        (self.z > 0).then(|| Self {
            z: self.z - 1,
            x: self.x / 2,
            y: self.y / 2,
        })
    }

    /// The four tiles at zoom `z + 1` covering this one (north-west, north-east, south-west,
    /// south-east), or `None` at [`MAX_ZOOM`].
    pub fn children(self) -> Option<[Self; 4]> {
        (self.z < MAX_ZOOM).then(|| {
            let (z, x, y) = (self.z + 1, self.x * 2, self.y * 2);
            [
                Self { z, x, y },
                Self { z, x: x + 1, y },
                Self { z, x, y: y + 1 },
                Self {
                    z,
                    x: x + 1,
                    y: y + 1,
                },
            ]
        })
    }

    /// The transform from Web Mercator metres to this tile's units.
    pub fn transform(self) -> TileTransform {
        let world_units = f64::from(TILE_EXTENT) * f64::from(self.tiles_across());
        TileTransform {
            units_per_m: world_units / (2.0 * HALF_WORLD_M),
            origin_x: f64::from(self.x) * f64::from(TILE_EXTENT),
            origin_y: f64::from(self.y) * f64::from(TILE_EXTENT),
        }
    }
}

impl fmt::Display for TileCoord {
    /// `z/x/y`, as in tile URLs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

/// Scales Web Mercator metres into one tile's units (see the module notes on rounding).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TileTransform {
    units_per_m: f64,
    /// `x · EXTENT`: the tile's left edge in world tile units.
    origin_x: f64,
    /// `y · EXTENT`: the tile's top edge in world tile units.
    origin_y: f64,
}

impl TileTransform {
    /// Tile units per Web Mercator metre at this zoom.
    pub fn units_per_m(self) -> f64 {
        self.units_per_m
    }

    /// The point in fractional tile units (`x` right, `y` down), before rounding.
    pub(crate) fn to_tile_f64(self, p: MercatorPoint) -> [f64; 2] {
        [
            (p.x_m + HALF_WORLD_M) * self.units_per_m - self.origin_x,
            (HALF_WORLD_M - p.y_m) * self.units_per_m - self.origin_y,
        ]
    }

    /// The point in integer tile units, or `None` when it is not finite or lies outside
    /// `−limit..=EXTENT + limit` on either axis. `limit` is in tile units (use
    /// [`TILE_BUFFER`] for the buffer); a negative one shrinks the box.
    pub fn to_tile(self, p: MercatorPoint, limit: i32) -> Option<TilePoint> {
        let [x, y] = self.to_tile_f64(p);
        let (lo, hi) = (-f64::from(limit), f64::from(TILE_EXTENT) + f64::from(limit));
        let inside = |v: f64| v >= lo && v <= hi;
        (inside(x) && inside(y)).then(|| TilePoint::new(round_unit(x), round_unit(y)))
    }
}

/// Rounds half up (`floor(v + 0.5)`), which commutes with subtracting an integer, unlike
/// `f64::round`. Callers keep `v` within `i32`; out-of-range values saturate and NaN gives 0.
///
/// `floor` is written out (truncate, then step down for negative fractions) because on the
/// baseline x86-64 target `f64::floor` is a libm call, and this runs for every vertex.
pub(crate) fn round_unit(v: f64) -> i32 {
    let t = v + 0.5;
    let i = t as i64; // truncates toward zero; saturates; NaN gives 0
    let floor = if (i as f64) > t {
        i.saturating_sub(1)
    } else {
        i
    };
    floor.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// A rectangle of tiles at one zoom, inclusive on both ends. Iterates row by row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileRange {
    z: u8,
    x_min: u32,
    x_max: u32,
    y_min: u32,
    y_max: u32,
}

impl TileRange {
    /// Zoom level of every tile in the range.
    pub fn z(self) -> u8 {
        self.z
    }

    /// Columns `x_min..=x_max`.
    pub fn x_range(self) -> std::ops::RangeInclusive<u32> {
        self.x_min..=self.x_max
    }

    /// Rows `y_min..=y_max`.
    pub fn y_range(self) -> std::ops::RangeInclusive<u32> {
        self.y_min..=self.y_max
    }

    /// Number of tiles (up to `4^22`, hence `u64`).
    pub fn len(self) -> u64 {
        u64::from(self.x_max - self.x_min + 1) * u64::from(self.y_max - self.y_min + 1)
    }

    /// Always false: a range holds at least one tile.
    pub fn is_empty(self) -> bool {
        false
    }

    /// True when `tile` is in the range.
    pub fn contains(self, tile: TileCoord) -> bool {
        tile.z == self.z
            && (self.x_min..=self.x_max).contains(&tile.x)
            && (self.y_min..=self.y_max).contains(&tile.y)
    }

    /// The tiles, row by row from the north-west corner.
    pub fn iter(self) -> impl Iterator<Item = TileCoord> {
        let z = self.z;
        (self.y_min..=self.y_max)
            .flat_map(move |y| (self.x_min..=self.x_max).map(move |x| TileCoord { z, x, y }))
    }
}

/// The tiles at zoom `z` whose closed bounds meet the closed box `bbox` (so a box edge lying
/// exactly on a tile edge includes the tiles on both sides). Latitudes beyond
/// ±[`MAX_LAT_DEG`] fall in the first or last row.
///
/// # Errors
///
/// [`TilesError::TileOutOfRange`] (`field` `"z"`) for `z > 22`.
pub fn tiles_covering(bbox: Bbox, z: u8) -> TilesResult<TileRange> {
    tile_range(bbox, z, 0.0)
}

/// Like [`tiles_covering`], but also the tiles whose [`TILE_BUFFER`] reaches into `bbox`:
/// every tile whose encoded content can change when something inside `bbox` changes (used to
/// invalidate cached tiles, `maps.md` §5.3).
///
/// # Errors
///
/// [`TilesError::TileOutOfRange`] (`field` `"z"`) for `z > 22`.
pub fn tiles_covering_buffered(bbox: Bbox, z: u8) -> TilesResult<TileRange> {
    tile_range(bbox, z, f64::from(TILE_BUFFER) / f64::from(TILE_EXTENT))
}

fn tile_range(bbox: Bbox, z: u8, margin_tiles: f64) -> TilesResult<TileRange> {
    if z > MAX_ZOOM {
        return Err(TilesError::TileOutOfRange {
            field: "z",
            value: u32::from(z),
            max: u32::from(MAX_ZOOM),
        });
    }
    let n = f64::from(1u32 << z);
    let last = (1u32 << z) - 1;
    // Fractional tile columns and rows; rows grow southwards.
    let to_tiles = |p: MercatorPoint| {
        [
            (p.x_m + HALF_WORLD_M) / (2.0 * HALF_WORLD_M) * n,
            (HALF_WORLD_M - p.y_m) / (2.0 * HALF_WORLD_M) * n,
        ]
    };
    let [x0, y1] = to_tiles(MercatorPoint::from(bbox.min()));
    let [x1, y0] = to_tiles(MercatorPoint::from(bbox.max()));
    // Closed bounds: a low edge exactly on a tile edge also takes the tile before it
    // (`ceil − 1`), a high edge the tile after it (`floor`). Finite by construction (a Bbox
    // holds valid degrees); the clamp keeps the casts in range.
    let low = |v: f64| (v.ceil() - 1.0).clamp(0.0, f64::from(last)) as u32;
    let high = |v: f64| v.floor().clamp(0.0, f64::from(last)) as u32;
    Ok(TileRange {
        z,
        x_min: low(x0 - margin_tiles),
        x_max: high(x1 + margin_tiles),
        y_min: low(y0 - margin_tiles),
        y_max: high(y1 + margin_tiles),
    })
}

/// Converts a Mercator box to degrees, clamped to the globe.
pub(crate) fn mercator_box_to_lonlat(b: MercatorBox) -> Bbox {
    let [min_lon, min_lat] = b.min.to_deg();
    let [max_lon, max_lat] = b.max.to_deg();
    lonlat_box(min_lon, min_lat, max_lon, max_lat)
}

/// A box from degrees, clamped to the globe and made non-inverted. Falls back to the whole
/// globe only for non-finite input, which tile maths never produces.
pub(crate) fn lonlat_box(min_lon: f64, min_lat: f64, max_lon: f64, max_lat: f64) -> Bbox {
    let lon = |v: f64| v.clamp(-180.0, 180.0);
    let lat = |v: f64| v.clamp(-90.0, 90.0);
    let (a, b) = (lon(min_lon), lon(max_lon));
    let (c, d) = (lat(min_lat), lat(max_lat));
    Bbox::from_coords(a.min(b), c.min(d), a.max(b), c.max(d))
        .or_else(|_| Bbox::from_coords(-180.0, -90.0, 180.0, 90.0))
        .expect("the whole globe is a valid box")
}

#[cfg(test)]
#[path = "coord_tests.rs"]
mod tests;
