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
//! - [`mvt`]: [`LayerEncoder`], one MVT layer with properties and optional feature ids.
//! - [`hexagons`]: [`res_for_zoom`], [`CellBoundaries`] (projected once), [`HexCellIndex`]
//!   (cells near a tile) and [`encode_hexagon_layer`].
//! - [`tilejson`]: [`TileJson`] 3.0.0.
//! - [`registry`]: every tile layer as one typed [`registry::TileSource`], registered once in
//!   [`registry::REGISTRY`]; routes, access rows, TileJSON and OpenAPI paths come from it.
//! - [`sources`]: what each layer draws from a snapshot (the render functions).
//!
//! # Encoder: hand-written, checked against two independent decoders
//!
//! The protobuf bytes come from a small writer in [`mvt`] (with wire primitives in `pbf`), not
//! from fast-mvt 0.7.1 as `maps.md` §3 suggests. The first version wrapped fast-mvt; profiling
//! the Bristol city tile showed over half the time in the wrapper and fast-mvt: its consuming
//! builder moves the layer builder in and out of every feature, every tag hashes its key and
//! value, and every new string value is allocated and hashed twice. Our layers have a handful
//! of keys and the `h3` values are unique by construction, so the hexagon path resolves keys
//! once and appends `h3` values without a lookup. Together with a faster hash for the
//! boundary cache, the city tile became about three times faster. On generic features the
//! writer is a little faster than fast-mvt, and the two produce byte-identical tiles
//! (`docs/BENCHMARKS.md`, issue 5, keeps the figures and an encode-only comparison). Other reasons: determinism is ours to guarantee rather than a
//! property of a dependency's internals, no young crate to pin, and no `unsafe` anywhere.
//!
//! Correctness is checked by an independent test-only decoder written from the MVT 2.1
//! specification (including the specification's own command examples), by property tests, and
//! by Python's mapbox-vector-tile 2.2.0 (`tests/reference/`), which must decode exactly the
//! features, properties, wire types, ids and coordinates that were encoded.
//!
//! # Invariants
//!
//! - No panics on any input: tile coordinates are validated, non-finite coordinates are
//!   skipped, empty input gives an empty layer, and every coordinate handed to the writer is
//!   bounded ([`MAX_ABS_TILE_COORD`]).
//! - Same input, same bytes: stable feature order (call order, or ascending cell for
//!   hexagons), stable property order, and plain `f64` arithmetic with half-up rounding.
//! - Tiles never carry person-level data; aggregates arrive here already disclosure-controlled
//!   (`safeguards.md` S21).

pub mod coord;
mod error;
mod fast_hash;
pub mod geometry;
pub mod hexagons;
pub mod mvt;
mod pbf;
pub mod registry;
pub mod sources;
pub mod tilejson;

#[cfg(test)]
mod decode_test_support;
#[cfg(test)]
mod reference_tests;
#[cfg(test)]
mod robustness_tests;

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
pub use hexagons::{
    CellBoundaries, CellShape, HexCell, HexCellIndex, HexCount, encode_hexagon_layer,
    hex_search_bbox, res_for_zoom,
};
pub use mvt::{EncodedLayer, LayerEncoder, PropValue, Property};
pub use tilejson::{FieldType, TILEJSON_VERSION, TileJson, VectorLayer};
