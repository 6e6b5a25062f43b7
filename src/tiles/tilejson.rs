//! TileJSON 3.0.0 documents for vector layers (`maps.md` §4).
//!
//! A plain serde struct rather than the `tilejson` crate: saferplaces needs only the members
//! below, wants a validation step with errors that name the member, and keeps `fields` in a
//! `BTreeMap` so that the JSON (and any `ETag` over it) is the same on every run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::coord::{MAX_LAT_DEG, MAX_ZOOM};
use super::{TilesError, TilesResult};
use crate::domain::Bbox;

/// The TileJSON version written.
pub const TILEJSON_VERSION: &str = "3.0.0";

/// The type names saferplaces writes as `vector_layers[].fields` values (as Martin and
/// tippecanoe do; TileJSON itself only asks for a description string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// `"String"`.
    String,
    /// `"Number"`.
    Number,
    /// `"Boolean"`.
    Boolean,
}

impl FieldType {
    /// The name written into `fields`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "String",
            Self::Number => "Number",
            Self::Boolean => "Boolean",
        }
    }
}

/// One entry of `vector_layers`: an MVT layer served by the tiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorLayer {
    /// The MVT layer name (the style's `source-layer`).
    pub id: String,
    /// Property name → description (here: its type name, see [`FieldType`]).
    pub fields: BTreeMap<String, String>,
    /// Lowest zoom with this layer, when different from the document's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minzoom: Option<u8>,
    /// Highest zoom with this layer, when different from the document's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxzoom: Option<u8>,
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl VectorLayer {
    /// A layer with no fields, zooms or description yet.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            fields: BTreeMap::new(),
            minzoom: None,
            maxzoom: None,
            description: None,
        }
    }

    /// Adds a field with its type name.
    #[must_use]
    pub fn field(mut self, name: impl Into<String>, kind: FieldType) -> Self {
        self.fields.insert(name.into(), kind.as_str().to_owned());
        self
    }
}

/// A TileJSON 3.0.0 document for vector tiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TileJson {
    /// Always [`TILEJSON_VERSION`].
    pub tilejson: String,
    /// Name of the tileset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tile URL templates with `{z}`, `{x}` and `{y}`.
    pub tiles: Vec<String>,
    /// Lowest zoom served.
    #[serde(default)]
    pub minzoom: u8,
    /// Highest zoom with distinct content; MapLibre overzooms beyond it.
    #[serde(default = "default_maxzoom")]
    pub maxzoom: u8,
    /// `[west, south, east, north]` in degrees.
    #[serde(default = "default_bounds")]
    pub bounds: [f64; 4],
    /// `[lon, lat, zoom]` of the default view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub center: Option<(f64, f64, u8)>,
    /// Attribution shown by the map (HTML allowed by the spec; keep it plain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<String>,
    /// The layers in the tiles.
    pub vector_layers: Vec<VectorLayer>,
}

fn default_maxzoom() -> u8 {
    30
}

fn default_bounds() -> [f64; 4] {
    [-180.0, -MAX_LAT_DEG, 180.0, MAX_LAT_DEG]
}

impl TileJson {
    /// A document for one tile URL template, zoom range and bounds, with no layers yet.
    pub fn new(
        name: impl Into<String>,
        tile_url: impl Into<String>,
        minzoom: u8,
        maxzoom: u8,
        bounds: Bbox,
    ) -> Self {
        Self {
            tilejson: TILEJSON_VERSION.to_owned(),
            name: Some(name.into()),
            tiles: vec![tile_url.into()],
            minzoom,
            maxzoom,
            bounds: [
                bounds.min().lon(),
                bounds.min().lat(),
                bounds.max().lon(),
                bounds.max().lat(),
            ],
            center: None,
            attribution: None,
            vector_layers: Vec::new(),
        }
    }

    /// Checks the members saferplaces relies on: the version, at least one URL holding `{z}`,
    /// `{x}` and `{y}`, `minzoom <= maxzoom <= 22`, finite bounds on the globe and not
    /// inverted, a centre inside the bounds and zoom range, and at least one vector layer with
    /// a unique, non-empty id and a zoom range inside the document's.
    ///
    /// # Errors
    ///
    /// [`TilesError::InvalidTileJson`] naming the first member at fault.
    pub fn validate(&self) -> TilesResult<()> {
        let bad = |field: &'static str, reason: String| {
            Err(TilesError::InvalidTileJson { field, reason })
        };
        if self.tilejson != TILEJSON_VERSION {
            return bad(
                "tilejson",
                format!("{:?} is not {TILEJSON_VERSION}", self.tilejson),
            );
        }
        if self.tiles.is_empty() {
            return bad("tiles", "no tile URL".to_owned());
        }
        if let Some(url) = self
            .tiles
            .iter()
            .find(|u| !(u.contains("{z}") && u.contains("{x}") && u.contains("{y}")))
        {
            return bad("tiles", format!("{url:?} lacks {{z}}, {{x}} or {{y}}"));
        }
        if self.maxzoom > MAX_ZOOM {
            return bad("maxzoom", format!("{} is above {MAX_ZOOM}", self.maxzoom));
        }
        if self.minzoom > self.maxzoom {
            return bad(
                "minzoom",
                format!("{} is above maxzoom {}", self.minzoom, self.maxzoom),
            );
        }
        let [w, s, e, n] = self.bounds;
        let on_globe = [w, s, e, n].iter().all(|v| v.is_finite())
            && (-180.0..=180.0).contains(&w)
            && (-180.0..=180.0).contains(&e)
            && (-90.0..=90.0).contains(&s)
            && (-90.0..=90.0).contains(&n);
        if !on_globe || w > e || s > n {
            return bad(
                "bounds",
                format!("{:?} is not a box on the globe", self.bounds),
            );
        }
        if let Some((lon, lat, zoom)) = self.center {
            let inside = lon.is_finite()
                && lat.is_finite()
                && (w..=e).contains(&lon)
                && (s..=n).contains(&lat)
                && (self.minzoom..=self.maxzoom).contains(&zoom);
            if !inside {
                return bad(
                    "center",
                    format!("[{lon}, {lat}, {zoom}] is outside bounds or zooms"),
                );
            }
        }
        if self.vector_layers.is_empty() {
            return bad("vector_layers", "no layer".to_owned());
        }
        for (i, layer) in self.vector_layers.iter().enumerate() {
            if layer.id.is_empty() {
                return bad("vector_layers", "a layer id is empty".to_owned());
            }
            if self.vector_layers[..i].iter().any(|l| l.id == layer.id) {
                return bad("vector_layers", format!("layer id {:?} repeats", layer.id));
            }
            let lo = layer.minzoom.unwrap_or(self.minzoom);
            let hi = layer.maxzoom.unwrap_or(self.maxzoom);
            if lo > hi || lo < self.minzoom || hi > self.maxzoom {
                return bad(
                    "vector_layers",
                    format!(
                        "layer {:?} zooms {lo}..={hi} are outside the document's",
                        layer.id
                    ),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hotspots() -> TileJson {
        let bounds = Bbox::from_coords(-3.12, 51.27, -2.25, 51.69).unwrap();
        let mut tj = TileJson::new(
            "hotspots",
            "https://example.org/tiles/hotspots/{z}/{x}/{y}?v=42",
            6,
            14,
            bounds,
        );
        tj.center = Some((-2.59, 51.45, 11));
        tj.attribution = Some(
            "Contains public sector information licensed under the Open Government Licence v3.0"
                .to_owned(),
        );
        let mut layer = VectorLayer::new("hotspots")
            .field("h3", FieldType::String)
            .field("count", FieldType::Number)
            .field("bin", FieldType::Number)
            .field("suppressed", FieldType::Boolean);
        layer.minzoom = Some(6);
        layer.maxzoom = Some(14);
        tj.vector_layers.push(layer);
        tj
    }

    #[test]
    fn the_maps_md_example_serialises_to_the_documented_json() {
        let tj = hotspots();
        tj.validate().unwrap();
        let json = serde_json::to_value(&tj).unwrap();
        let expected = serde_json::json!({
          "tilejson": "3.0.0",
          "name": "hotspots",
          "tiles": ["https://example.org/tiles/hotspots/{z}/{x}/{y}?v=42"],
          "minzoom": 6,
          "maxzoom": 14,
          "bounds": [-3.12, 51.27, -2.25, 51.69],
          "center": [-2.59, 51.45, 11],
          "attribution": "Contains public sector information licensed under the Open Government Licence v3.0",
          "vector_layers": [
            {
              "id": "hotspots",
              "fields": { "h3": "String", "count": "Number", "bin": "Number", "suppressed": "Boolean" },
              "minzoom": 6,
              "maxzoom": 14
            }
          ]
        });
        assert_eq!(json, expected);
        let back: TileJson = serde_json::from_value(json).unwrap();
        assert_eq!(back, tj);
    }

    #[test]
    fn serialisation_is_byte_identical_across_runs_and_skips_absent_members() {
        let a = serde_json::to_string(&hotspots()).unwrap();
        let b = serde_json::to_string(&hotspots()).unwrap();
        assert_eq!(a, b);
        let bare = TileJson::new(
            "x",
            "/t/{z}/{x}/{y}",
            0,
            1,
            Bbox::from_coords(0.0, 0.0, 1.0, 1.0).unwrap(),
        );
        let json = serde_json::to_value(&bare).unwrap();
        assert!(json.get("center").is_none());
        assert!(json.get("attribution").is_none());
    }

    #[test]
    fn each_invalid_member_is_named() {
        type Spoil = Box<dyn Fn(&mut TileJson)>;
        let cases: Vec<(&str, Spoil)> = vec![
            ("tilejson", Box::new(|t| t.tilejson = "2.2.0".to_owned())),
            ("tiles", Box::new(|t| t.tiles.clear())),
            (
                "tiles",
                Box::new(|t| t.tiles = vec!["/tiles/{z}/{x}".to_owned()]),
            ),
            ("maxzoom", Box::new(|t| t.maxzoom = 23)),
            ("minzoom", Box::new(|t| t.minzoom = 15)),
            ("bounds", Box::new(|t| t.bounds = [0.0, 0.0, f64::NAN, 1.0])),
            ("bounds", Box::new(|t| t.bounds = [1.0, 0.0, 0.0, 1.0])),
            ("center", Box::new(|t| t.center = Some((0.0, 0.0, 11)))),
            ("center", Box::new(|t| t.center = Some((-2.59, 51.45, 3)))),
            ("vector_layers", Box::new(|t| t.vector_layers.clear())),
            ("vector_layers", Box::new(|t| t.vector_layers[0].id.clear())),
            (
                "vector_layers",
                Box::new(|t| {
                    let l = t.vector_layers[0].clone();
                    t.vector_layers.push(l);
                }),
            ),
            (
                "vector_layers",
                Box::new(|t| t.vector_layers[0].maxzoom = Some(20)),
            ),
        ];
        for (field, spoil) in cases {
            let mut tj = hotspots();
            spoil(&mut tj);
            let err = tj.validate().unwrap_err();
            assert_eq!(err.field(), Some(field), "{err}");
        }
    }
}
