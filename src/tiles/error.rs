//! Errors of tile maths, geometry preparation and MVT encoding.
//!
//! Validation errors (a tile coordinate out of range, a bad resolution range, a repeated
//! property, an invalid `TileJSON` field) are the caller's to report as 400s when they come
//! from a request; the rest signal a bug or absurd input upstream and belong in a 500.

use h3o::CellIndex;

/// What went wrong while building a tile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TilesError {
    /// A tile coordinate is outside its range: `z` in `0..=22`, `x` and `y` below `2^z`.
    /// `field` is `"z"`, `"x"` or `"y"`, so the HTTP layer can name the parameter at fault.
    #[error("tile {field} = {value} is out of range 0..={max}")]
    TileOutOfRange {
        /// The coordinate at fault: `"z"`, `"x"` or `"y"`.
        field: &'static str,
        /// The value given.
        value: u32,
        /// The largest valid value.
        max: u32,
    },

    /// The finest allowed H3 resolution is coarser than the coarsest one.
    #[error("H3 resolution range {res_min}..={res_max} is empty")]
    ResolutionRange {
        /// The coarsest resolution asked for.
        res_min: u8,
        /// The finest resolution asked for.
        res_max: u8,
    },

    /// An MVT layer needs a non-empty name (the `source-layer` in MapLibre styles).
    #[error("an MVT layer needs a non-empty name")]
    EmptyLayerName,

    /// No layer of this name is served (`registry::REGISTRY`).
    #[error("no tile layer named {name:?}")]
    UnknownLayer {
        /// The name asked for.
        name: String,
    },

    /// A feature carries the same property key twice; MVT decoders would keep only one of
    /// them, so the encoder refuses rather than guess. Hexagon layers reserve `h3`, `count`
    /// and `suppressed`.
    #[error("property {key:?} is given twice for one feature")]
    DuplicateProperty {
        /// The repeated key.
        key: String,
    },

    /// The same H3 cell is given twice for one hexagon layer (two features with one `h3`
    /// would break `promoteId` in MapLibre).
    #[error("H3 cell {cell} is given twice for one hexagon layer")]
    DuplicateCell {
        /// The repeated cell.
        cell: CellIndex,
    },

    /// One line, ring or point set has more than
    /// [`MAX_PART_VERTICES`](super::MAX_PART_VERTICES) (2^22) vertices; split it first.
    #[error("a geometry part has {vertices} vertices, more than one MVT part may hold")]
    GeometryTooLarge {
        /// Vertices in the part.
        vertices: usize,
    },

    /// A tile coordinate given to the encoder is beyond ±2^20 units (256 tiles from the tile);
    /// prepared geometry never is, so this is a caller's bug.
    #[error("tile coordinate ({x}, {y}) is too far outside the tile")]
    CoordinateOutOfRange {
        /// Column in tile units.
        x: i32,
        /// Row in tile units.
        y: i32,
    },

    /// A `TileJSON` document failed validation; `field` names the member at fault.
    #[error("invalid TileJSON {field}: {reason}")]
    InvalidTileJson {
        /// The `TileJSON` member, e.g. `"minzoom"` or `"tiles"`.
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },

    /// A layer would need more than `u32::MAX` distinct keys or values, the most MVT tag
    /// indices can address.
    #[error("the MVT layer has too many distinct keys or values")]
    LayerTooLarge,
}

impl TilesError {
    /// The request field an error is about, for `{"field": ...}` in HTTP error bodies, when
    /// there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::TileOutOfRange { field, .. } | Self::InvalidTileJson { field, .. } => Some(field),
            Self::ResolutionRange { .. } => Some("res"),
            _ => None,
        }
    }
}

/// Result alias for the tiles module.
pub type TilesResult<T> = Result<T, TilesError>;
