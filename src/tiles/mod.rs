//! Vector tiles: tile maths, geometry preparation, MVT encoding, H3 hexagons in tiles and
//! TileJSON (`maps.md` §2–§5). Pure and synchronous; the HTTP layer calls it on the blocking
//! pool and owns caching, `ETag` headers and compression.
//!
//! # Map of the module
//!
//! - [`coord`]: [`TileCoord`] (validated `z/x/y`), bounds in Web Mercator and lon/lat,
//!   [`tiles_covering`], and the projection lon/lat → Mercator metres → tile units
//!   ([`TILE_EXTENT`] 4096, [`TILE_BUFFER`] 64).
//! - [`geometry`]: clip, round, clean and wind points, lines and polygons into a
//!   [`TileGeometry`].
//!
//! # Invariants
//!
//! - No panics on any input: tile coordinates are validated and non-finite coordinates are
//!   skipped.
//! - Same input, same integers: plain `f64` arithmetic with half-up rounding.
//! - Tiles never carry person-level data; aggregates arrive here already disclosure-controlled
//!   (`safeguards.md` S21).

pub mod coord;
mod error;
pub mod geometry;

pub use coord::{
    EARTH_RADIUS_M, HALF_WORLD_M, MAX_LAT_DEG, MAX_ZOOM, MercatorBox, MercatorPoint, TILE_BUFFER,
    TILE_EXTENT, TileCoord, TilePoint, TileRange, TileTransform, tiles_covering,
    tiles_covering_buffered,
};
pub use error::{TilesError, TilesResult};
pub use geometry::{
    MAX_ABS_TILE_COORD, MAX_PART_VERTICES, MercatorPolygon, TileGeometry, TilePolygon,
    prepare_lines, prepare_points, prepare_polygons, signed_area2,
};
