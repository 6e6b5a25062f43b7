//! What each tile layer draws from a [`Snapshot`] (maps.md §1): the layer catalogue and one
//! render function per layer, pure and synchronous. The HTTP edge decides who may see which
//! layer, quantises the time window, and passes disclosure-controlled counts for aggregate
//! roles; nothing here knows about roles.
//!
//! Never drawn: people, links, and incidents involving a child as points (safeguards.md S21).
//! Properties are small and stable; popups ask the GeoJSON endpoints for more.

use std::collections::HashMap;

use geo::BoundingRect as _;
use h3o::{CellIndex, Resolution};
use serde::Serialize;

use super::TilesResult;
use super::coord::{MercatorPoint, TileCoord};
use super::geometry::{MercatorPolygon, prepare_lines, prepare_points, prepare_polygons};
use super::hexagons::{
    CellBoundaries, CellShape, HexCell, HexCellIndex, HexCount, encode_hexagon_layer,
    hex_search_bbox, res_for_zoom,
};
use super::mvt::{EncodedLayer, LayerEncoder, PropValue};
use crate::domain::{Bbox, Boundary, Category, TimeWindow};
use crate::index::{CountQuery, H3Res, Snapshot};
use crate::safeguards::disclosure::Published;

/// Disclosure-controlled values of cells at every resolution (aggregate roles).
pub type ProtectedCells = crate::safeguards::disclosure::WindowRelease;

/// Most cell shapes [`SharedShapes`] keeps (about 250 bytes each): every res-5..10 cell of the
/// study area fits several times over.
pub const MAX_SHARED_SHAPES: usize = 2_000_000;

/// Cell shapes shared by all requests: computed the first time a cell is drawn, then read
/// under a read lock. Shapes never change, so the cache outlives data versions.
#[derive(Debug, Default)]
pub struct SharedShapes(std::sync::RwLock<CellBoundaries>);

impl SharedShapes {
    /// Reads the cache, first adding the shapes of `cells` it lacks (computed outside the
    /// lock; skipped once the cache is full, when the encoder computes them per tile).
    fn with_cells<T>(&self, cells: &[HexCell<'_>], read: impl FnOnce(&CellBoundaries) -> T) -> T {
        let missing: Vec<CellIndex> = {
            let guard = self
                .0
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if guard.len() >= MAX_SHARED_SHAPES {
                return read(&guard);
            }
            cells
                .iter()
                .map(|c| c.cell)
                .filter(|c| guard.get(*c).is_none())
                .collect()
        };
        if !missing.is_empty() {
            let shapes: Vec<(CellIndex, CellShape)> =
                missing.into_iter().map(|c| (c, CellShape::of(c))).collect();
            let mut guard = self
                .0
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (cell, shape) in shapes {
                guard.insert_shape(cell, shape);
            }
        }
        let guard = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        read(&guard)
    }

    /// Shapes held.
    pub fn len(&self) -> usize {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// True when no shape is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Most incident points in one tile; beyond it the tile is cut and the cut logged (the
/// incidents layer starts at zoom 12, where the synthetic and real data stay far below it).
pub const MAX_INCIDENT_POINTS: usize = 20_000;

/// Cells within this distance of a shared authority border count as near it.
pub const NEAR_BORDER_M: f64 = 1_000.0;

/// Finest resolution the hexagon layers use (the incident index's finest).
pub const HEX_RES_MAX: Resolution = Resolution::Ten;
/// Coarsest resolution the hexagon layers use.
pub const HEX_RES_MIN: Resolution = Resolution::Five;

pub use super::registry::{
    KeyParts, LAYERS, LayerSpec, REGISTRY, TileAnalysis, TileQuery, TileSource, layer, source,
    tile_routes,
};

/// What a tile is drawn for.
#[derive(Debug, Clone, Copy)]
pub struct RenderQuery<'a> {
    /// Days counted (already quantised by the caller).
    pub window: TimeWindow,
    /// One category, or all.
    pub category: Option<Category>,
    /// Boundary scheme (boundaries layer).
    pub scheme: &'a str,
    /// Disclosure-controlled counts for aggregate roles; `None` gives exact counts.
    pub protected: Option<&'a ProtectedCells>,
    /// The disclosure policy, for figures the layer protects itself (the cross-border layer's
    /// per-authority parts); used only with `protected`.
    pub policy: crate::safeguards::disclosure::DisclosurePolicy,
    /// The Gi* result for the tile's resolution (hotspots layer).
    pub hotspots: Option<&'a HotspotLayer>,
    /// Emerging hot spot categories for the tile's resolution (emerging layer).
    pub emerging: Option<&'a EmergingLayer>,
    /// Risk windows to draw (risk layer).
    pub risk: Option<&'a RiskTileLayer>,
    /// The finest resolution cell layers may draw (aggregate roles, `safeguards::releases`);
    /// `None` for no cap.
    pub max_res: Option<Resolution>,
    /// When set, every cell centred in this area is drawn whether or not it holds an incident,
    /// and a protected zero is drawn as suppressed (child categories for aggregate roles).
    pub zero_hidden_in: Option<Bbox>,
}

impl RenderQuery<'_> {
    /// `res` lowered to [`RenderQuery::max_res`].
    pub fn capped(&self, res: Resolution) -> Resolution {
        self.max_res.map_or(res, |cap| res.min(cap))
    }
}

/// Cells of an analysis result at one resolution, ready to slice into tiles.
#[derive(Debug)]
pub struct CellLayer<V> {
    /// Resolution of the cells.
    pub res: Resolution,
    /// The value of each cell drawn.
    pub cells: HashMap<CellIndex, V>,
    index: HexCellIndex,
}

impl<V> CellLayer<V> {
    /// Indexes `cells` (all at `res`) for tile slicing.
    pub fn new(res: Resolution, cells: HashMap<CellIndex, V>) -> Self {
        let mut shapes = CellBoundaries::new();
        let index = HexCellIndex::build(cells.keys().copied(), &mut shapes);
        Self { res, cells, index }
    }

    /// The cells that may touch `tile`, with their values.
    fn in_tile(&self, tile: TileCoord) -> Vec<(CellIndex, &V)> {
        let mut near = Vec::new();
        self.index.cells_for_tile(tile, &mut near);
        near.into_iter()
            .filter_map(|c| self.cells.get(&c).map(|v| (c, v)))
            .collect()
    }
}

/// One cell of the emerging layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmergingValue {
    /// Category code, −8..=8 without 0 (`ArcGIS` cube codes).
    pub code: i8,
    /// Category label.
    pub label: &'static str,
    /// Count over the window as the caller may see it.
    pub count: HexCount,
}

/// The emerging layer at one resolution.
pub type EmergingLayer = CellLayer<EmergingValue>;

/// One cell of the risk layer: the window drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiskValue {
    /// First day of elevated risk.
    pub from: crate::domain::Day,
    /// Last day.
    pub to: crate::domain::Day,
    /// Largest Knox ratio behind it.
    pub knox_ratio: f64,
    /// Incidents behind it (exact roles), or withheld.
    pub count: HexCount,
}

/// The risk layer (one resolution: the analyst's or the aggregate one).
pub type RiskTileLayer = CellLayer<RiskValue>;

/// Coarsest and finest resolutions of the hotspots layer (Gi* over the whole study area per
/// request window: res 9 is about 26,000 cells; res 10 would be 180,000).
pub const HOTSPOT_RES_MIN: Resolution = Resolution::Six;
/// Finest resolution of the hotspots layer.
pub const HOTSPOT_RES_MAX: Resolution = Resolution::Nine;

/// Gi* over the study area at one resolution, ready to slice into tiles: the cells with a
/// non-zero bin and their `(bin, z, exact count)`.
pub type HotspotLayer = CellLayer<(i8, Option<f64>, u32)>;

impl CellLayer<(i8, Option<f64>, u32)> {
    /// Gi* (`k` rings, FDR bins) over every cell of `res` whose centre lies in `area`, from
    /// the snapshot's counts for `window` and `category`. With `published` (aggregate roles,
    /// issue 13 point 3) each cell's count is replaced by what `published` says is published
    /// for it (`None`: suppressed, taken as 0), so the bins are a function of the published
    /// counts and cannot reveal a suppressed cell; the third value of each cell is then that
    /// published count too.
    ///
    /// # Errors
    ///
    /// [`crate::analysis::AnalysisError`] from the study area or Gi*.
    pub fn compute(
        snap: &Snapshot,
        area: &geo::MultiPolygon<f64>,
        res: Resolution,
        window: TimeWindow,
        category: Option<Category>,
        k: u32,
        published: Option<&dyn Fn(CellIndex) -> Option<u32>>,
    ) -> crate::analysis::AnalysisResult<Self> {
        use crate::analysis::gistar::{CellUniverse, GiStarSettings, hotspots};
        let universe = CellUniverse::in_polygons(area, "four authorities", res, 400_000)?;
        let h3res = H3Res::new(u8::from(res))
            .map_err(|e| crate::analysis::AnalysisError::invalid("res", e.to_string()))?;
        // Counts of the cells whose centre is in the area's box; the universe keeps its own.
        let bbox = area
            .bounding_rect()
            .and_then(|r| Bbox::from_coords(r.min().x, r.min().y, r.max().x, r.max().y).ok())
            .ok_or_else(|| crate::analysis::AnalysisError::invalid("area", "empty study area"))?;
        let counts: Vec<(CellIndex, f64)> = snap
            .incidents
            .cell_counts(&CountQuery {
                bbox,
                res: h3res,
                window,
                category,
            })
            .iter()
            .map(|c| {
                let n = match published {
                    None => Some(c.count),
                    // Aggregate roles: the published count; a suppressed cell counts as 0.
                    Some(p) => p(c.cell),
                };
                (c.cell, f64::from(n.unwrap_or(0)))
            })
            .collect();
        let result = hotspots(&universe, &counts, &GiStarSettings { k, fdr: true }, None)?;
        let cells: HashMap<CellIndex, (i8, Option<f64>, u32)> = result
            .cells
            .iter()
            .filter(|c| c.bin != 0)
            .map(|c| (c.h3, (c.bin, c.z, c.count as u32)))
            .collect();
        Ok(Self::new(res, cells))
    }
}

/// The open places of concern in `tile`.
pub(super) fn render_places(
    name: &str,
    snap: &Snapshot,
    tile: TileCoord,
) -> TilesResult<EncodedLayer> {
    points(tile, name, snap.places.in_bbox(tile_bbox(tile)), |p| {
        (
            p.location,
            vec![
                ("kind", code_of(&p.kind)),
                ("name", p.name.clone()),
                ("review_due", p.review_due.to_string()),
            ],
            Some(u64::from(p.id.get())),
        )
    })
}

/// The open schools in `tile`.
pub(super) fn render_schools(
    name: &str,
    snap: &Snapshot,
    tile: TileCoord,
) -> TilesResult<EncodedLayer> {
    points(
        tile,
        name,
        snap.schools
            .in_bbox(tile_bbox(tile))
            .into_iter()
            .filter(|s| s.open)
            .collect(),
        |s| {
            (
                s.location,
                vec![
                    ("name", s.name.clone()),
                    ("phase", code_of(&s.phase)),
                    ("la_code", s.la_code.as_str().to_owned()),
                ],
                Some(u64::from(s.urn.get())),
            )
        },
    )
}

/// The active transport stops in `tile`.
pub(super) fn render_stops(
    name: &str,
    snap: &Snapshot,
    tile: TileCoord,
) -> TilesResult<EncodedLayer> {
    points(
        tile,
        name,
        snap.stops
            .in_bbox(tile_bbox(tile))
            .into_iter()
            .filter(|s| s.active)
            .collect(),
        |s| {
            (
                s.location,
                vec![("atco", s.id.as_str().to_owned()), ("name", s.name.clone())],
                None,
            )
        },
    )
}

/// The youth services in `tile`.
pub(super) fn render_services(
    name: &str,
    snap: &Snapshot,
    tile: TileCoord,
) -> TilesResult<EncodedLayer> {
    points(tile, name, snap.services.in_bbox(tile_bbox(tile)), |s| {
        (
            s.location,
            vec![
                ("name", s.name.clone()),
                ("tier", code_of(&s.tier)),
                ("kind", s.kind.clone()),
                ("provider", s.provider.clone()),
            ],
            Some(u64::from(s.id.get())),
        )
    })
}

/// The lon/lat box of the tile plus its buffer, clamped to the globe.
pub fn tile_bbox(tile: TileCoord) -> Bbox {
    let b = tile.buffered_bounds_m();
    let [x0, y0] = b.min.to_deg();
    let [x1, y1] = b.max.to_deg();
    let clamp = |v: f64, lim: f64| {
        if v.is_finite() {
            v.clamp(-lim, lim)
        } else {
            0.0
        }
    };
    let (x0, x1) = (clamp(x0, 180.0), clamp(x1, 180.0));
    let (y0, y1) = (clamp(y0, 90.0), clamp(y1, 90.0));
    Bbox::from_coords(x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1))
        .unwrap_or_else(|_| tile.bounds_lonlat())
}

/// The `snake_case` code of a serde enum (the API's words).
fn code_of<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|j| j.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A point, its text properties and its MVT id.
type PointFeature = (
    crate::domain::LonLat,
    Vec<(&'static str, String)>,
    Option<u64>,
);

fn points<T>(
    tile: TileCoord,
    name: &str,
    items: Vec<&T>,
    feature: impl Fn(&T) -> PointFeature,
) -> TilesResult<EncodedLayer> {
    let tf = tile.transform();
    let mut layer = LayerEncoder::new(name)?;
    for item in items {
        let (at, props, id) = feature(item);
        let Some(geom) = prepare_points(tf, [MercatorPoint::from(at)]) else {
            continue;
        };
        let props: Vec<(&str, PropValue<'_>)> =
            props.iter().map(|(k, v)| (*k, PropValue::Str(v))).collect();
        layer.add_feature(&geom, &props, id)?;
    }
    Ok(layer.finish())
}

pub(super) fn render_hexagons(
    name: &str,
    snap: &Snapshot,
    tile: TileCoord,
    q: &RenderQuery<'_>,
    shapes: &SharedShapes,
) -> TilesResult<EncodedLayer> {
    let res = q.capped(res_for_zoom(tile.z(), HEX_RES_MIN, HEX_RES_MAX)?);
    let cells = hex_cells(snap, tile, res, q, |_| true);
    shapes.with_cells(&cells, |b| encode_hexagon_layer(name, tile, &cells, b))
}

/// The cells of `res` near `tile` with their published counts, filtered by `keep`.
/// The extra property of a cell whose count is a lower bound (aggregate roles).
const PARTIAL: &[super::mvt::Property<'static>] = &[("partial", PropValue::Bool(true))];

fn hex_cells(
    snap: &Snapshot,
    tile: TileCoord,
    res: Resolution,
    q: &RenderQuery<'_>,
    keep: impl Fn(CellIndex) -> bool,
) -> Vec<HexCell<'static>> {
    let Ok(h3res) = H3Res::new(u8::from(res)) else {
        return Vec::new();
    };
    let search = hex_search_bbox(tile, res);
    let counts = snap.incidents.cell_counts(&CountQuery {
        bbox: search,
        res: h3res,
        window: q.window,
        category: q.category,
    });
    let mut listed: std::collections::BTreeMap<CellIndex, u32> =
        counts.iter().map(|c| (c.cell, c.count)).collect();
    // Aggregate roles and a general category: the release also holds the category's zeros
    // inside occupied cells, shown as suppressed (safeguards::releases::month_release), so the
    // occupied cells of the box are listed too (a cell absent from the release is dropped).
    if q.protected.is_some() && q.category.is_some_and(|c| !c.concerns_children()) {
        for c in snap.incidents.cell_counts(&CountQuery {
            bbox: search,
            res: h3res,
            window: q.window,
            category: None,
        }) {
            listed.entry(c.cell).or_insert(0);
        }
    }
    // The fixed geography of a child layer: cells are drawn whether or not they hold an
    // incident (safeguards::releases), so the cells drawn say nothing about where incidents are.
    if let (Some(area), Some(_)) = (q.zero_hidden_in, q.protected)
        && let Some(part) = crate::safeguards::releases::intersect(search, area)
    {
        for cell in crate::safeguards::releases::cells_with_centre_in(part, res) {
            listed.entry(cell).or_insert(0);
        }
    }
    listed
        .into_iter()
        .filter(|(cell, _)| keep(*cell))
        .filter_map(|(cell, exact)| {
            let count = match q.protected {
                None => HexCount::Value(exact),
                Some(p) => {
                    let protected = match (p.get(&cell), q.zero_hidden_in) {
                        (Some(v), _) => *v,
                        (None, Some(_)) => Published::Value(0),
                        (None, None) => return None,
                    };
                    let published = if q.zero_hidden_in.is_some() && protected.value() == Some(0) {
                        Published::Suppressed
                    } else {
                        protected
                    };
                    if published.value() == Some(0) {
                        return None;
                    }
                    HexCount::from(published)
                }
            };
            // A lower bound: the sum of the published months while another month of the
            // window is shown as suppressed (safeguards::disclosure::WindowRelease).
            let partial = q.protected.is_some_and(|p| p.is_partial(&cell));
            Some(HexCell {
                cell,
                count,
                extra: if partial { PARTIAL } else { &[] },
            })
        })
        .collect()
}

pub(super) fn render_hotspots(
    name: &str,
    tile: TileCoord,
    q: &RenderQuery<'_>,
    shapes: &SharedShapes,
) -> TilesResult<EncodedLayer> {
    let Some(layer) = q.hotspots else {
        return LayerEncoder::new(name).map(LayerEncoder::finish);
    };
    let near = layer.in_tile(tile);
    // Per cell: the bin (and z for exact roles) as extra properties, the count published as
    // the hexagon layer publishes it.
    let mut extras: Vec<[super::mvt::Property<'static>; 2]> = Vec::with_capacity(near.len());
    let mut counts = Vec::with_capacity(near.len());
    for &(cell, &(bin, z, count)) in &near {
        let published = match q.protected {
            None => HexCount::Value(count),
            Some(p) => p
                .get(&cell)
                .copied()
                // A cell with no incident is not in the protected network: its count is 0,
                // drawn as suppressed where zeros are hidden (child categories).
                .map_or(
                    if q.zero_hidden_in.is_some() {
                        HexCount::Suppressed
                    } else {
                        HexCount::Value(0)
                    },
                    |p| match p {
                        Published::Value(0) if q.zero_hidden_in.is_some() => HexCount::Suppressed,
                        p => HexCount::from(p),
                    },
                ),
        };
        let z = if q.protected.is_none() {
            z.unwrap_or(f64::NAN)
        } else {
            f64::NAN
        };
        extras.push([
            ("bin", PropValue::I64(i64::from(bin))),
            ("z", PropValue::F64(z)),
        ]);
        counts.push((cell, published));
    }
    encode_cells(name, tile, &counts, &extras, shapes)
}

pub(super) fn render_emerging(
    name: &str,
    tile: TileCoord,
    q: &RenderQuery<'_>,
    shapes: &SharedShapes,
) -> TilesResult<EncodedLayer> {
    let Some(layer) = q.emerging else {
        return LayerEncoder::new(name).map(LayerEncoder::finish);
    };
    let found = layer.in_tile(tile);
    let extras: Vec<[super::mvt::Property<'_>; 2]> = found
        .iter()
        .map(|(_, v)| {
            [
                ("code", PropValue::I64(i64::from(v.code))),
                ("label", PropValue::Str(v.label)),
            ]
        })
        .collect();
    let counts: Vec<(CellIndex, HexCount)> = found.iter().map(|(c, v)| (*c, v.count)).collect();
    encode_cells(name, tile, &counts, &extras, shapes)
}

pub(super) fn render_risk(
    name: &str,
    tile: TileCoord,
    q: &RenderQuery<'_>,
    shapes: &SharedShapes,
) -> TilesResult<EncodedLayer> {
    let Some(layer) = q.risk else {
        return LayerEncoder::new(name).map(LayerEncoder::finish);
    };
    let found = layer.in_tile(tile);
    let days: Vec<(String, String)> = found
        .iter()
        .map(|(_, v)| (v.from.to_string(), v.to.to_string()))
        .collect();
    let extras: Vec<[super::mvt::Property<'_>; 3]> = found
        .iter()
        .zip(&days)
        .map(|((_, v), (from, to))| {
            [
                ("from", PropValue::Str(from)),
                ("to", PropValue::Str(to)),
                ("knox_ratio", PropValue::F64(v.knox_ratio)),
            ]
        })
        .collect();
    let counts: Vec<(CellIndex, HexCount)> = found.iter().map(|(c, v)| (*c, v.count)).collect();
    encode_cells(name, tile, &counts, &extras, shapes)
}

/// Encodes cells with their published counts and per-cell extra properties (`extras[i]`
/// belongs to `counts[i]`), shapes from the shared cache.
fn encode_cells<const N: usize>(
    name: &str,
    tile: TileCoord,
    counts: &[(CellIndex, HexCount)],
    extras: &[[super::mvt::Property<'_>; N]],
    shapes: &SharedShapes,
) -> TilesResult<EncodedLayer> {
    let cells: Vec<HexCell<'_>> = counts
        .iter()
        .zip(extras)
        .map(|((cell, count), extra)| HexCell {
            cell: *cell,
            count: *count,
            extra: extra.as_slice(),
        })
        .collect();
    shapes.with_cells(&cells, |b| encode_hexagon_layer(name, tile, &cells, b))
}

pub(super) fn render_incidents(
    name: &str,
    snap: &Snapshot,
    tile: TileCoord,
    q: &RenderQuery<'_>,
) -> TilesResult<EncodedLayer> {
    let (hits, truncated) = snap.incidents.incidents_in_bbox(
        tile_bbox(tile),
        q.window,
        q.category,
        MAX_INCIDENT_POINTS,
    );
    if truncated {
        tracing::warn!(%tile, cap = MAX_INCIDENT_POINTS, "incident tile cut at its feature cap");
    }
    let tf = tile.transform();
    let mut layer = LayerEncoder::new(name)?;
    for h in hits.iter().filter(|h| !h.involves_child) {
        let Ok(at) = crate::domain::LonLat::new(h.lon, h.lat) else {
            continue;
        };
        let Some(geom) = prepare_points(tf, [MercatorPoint::from(at)]) else {
            continue;
        };
        let id = h.id.get().to_string();
        let date = h.day.to_string();
        let ts = i64::from(h.day.days_since_epoch()) * 86_400;
        layer.add_feature(
            &geom,
            &[
                ("id", PropValue::Str(&id)),
                ("category", PropValue::Str(h.category.slug())),
                ("date", PropValue::Str(&date)),
                ("ts", PropValue::I64(ts)),
            ],
            None,
        )?;
    }
    Ok(layer.finish())
}

pub(super) fn render_routes(
    name: &str,
    snap: &Snapshot,
    tile: TileCoord,
) -> TilesResult<EncodedLayer> {
    let tf = tile.transform();
    let mut layer = LayerEncoder::new(name)?;
    for r in snap.routes.in_bbox(tile_bbox(tile)) {
        let line: Vec<MercatorPoint> = r.line.iter().map(|p| MercatorPoint::from(*p)).collect();
        let Some(geom) = prepare_lines(tf, [line.as_slice()]) else {
            continue;
        };
        let mode = code_of(&r.mode);
        layer.add_feature(
            &geom,
            &[
                ("short_name", PropValue::Str(&r.short_name)),
                ("long_name", PropValue::Str(&r.long_name)),
                ("mode", PropValue::Str(&mode)),
            ],
            Some(u64::from(r.id.get())),
        )?;
    }
    Ok(layer.finish())
}

/// A boundary's polygons in Web Mercator.
fn mercator_polygons(b: &Boundary) -> Vec<MercatorPolygon> {
    b.geometry
        .0
        .iter()
        .map(|p| MercatorPolygon {
            exterior: p
                .exterior()
                .0
                .iter()
                .map(|c| MercatorPoint::from_deg(c.x, c.y))
                .collect(),
            holes: p
                .interiors()
                .iter()
                .map(|h| {
                    h.0.iter()
                        .map(|c| MercatorPoint::from_deg(c.x, c.y))
                        .collect()
                })
                .collect(),
        })
        .collect()
}

pub(super) fn render_boundaries(
    name: &str,
    snap: &Snapshot,
    tile: TileCoord,
    scheme: &str,
) -> TilesResult<EncodedLayer> {
    let tf = tile.transform();
    let mut layer = LayerEncoder::new(name)?;
    for b in snap.boundaries.in_bbox(scheme, tile_bbox(tile)) {
        let polys = mercator_polygons(b);
        let Some(geom) = prepare_polygons(tf, polys.iter()) else {
            continue;
        };
        let mut props = vec![
            ("scheme", PropValue::Str(b.scheme.as_str())),
            ("code", PropValue::Str(b.code.as_str())),
            ("name", PropValue::Str(&b.name)),
        ];
        if let Some(p) = b.youth_population {
            props.push(("youth_population", PropValue::U64(u64::from(p))));
        }
        layer.add_feature(&geom, &props, None)?;
    }
    Ok(layer.finish())
}

pub(super) fn render_crossborder(
    name: &str,
    snap: &Snapshot,
    tile: TileCoord,
    q: &RenderQuery<'_>,
    shapes: &SharedShapes,
) -> TilesResult<EncodedLayer> {
    let tf = tile.transform();
    let mut layer = LayerEncoder::new(name)?;
    // Incident cells whose centre lies within NEAR_BORDER_M of a shared border, no finer
    // than res 9, with the same published counts as the hexagon layer.
    let res = q.capped(res_for_zoom(tile.z(), HEX_RES_MIN, Resolution::Nine)?);
    let near = |cell: CellIndex| {
        let ll = h3o::LatLng::from(cell);
        crate::domain::LonLat::new(ll.lng(), ll.lat())
            .ok()
            .and_then(|p| snap.borders.distance_m(p))
            .is_some_and(|d| d <= NEAR_BORDER_M)
    };
    let cells = hex_cells(snap, tile, res, q, near);
    let polygons: Vec<MercatorPolygon> = shapes.with_cells(&cells, |b| {
        cells
            .iter()
            .map(|c| MercatorPolygon {
                exterior: b.shape(c.cell).ring_m().to_vec(),
                holes: Vec::new(),
            })
            .collect()
    });
    for (c, polygon) in cells.iter().zip(&polygons) {
        let Some(geom) = prepare_polygons(tf, [polygon]) else {
            continue;
        };
        let h3 = c.cell.to_string();
        let parts = authority_parts(snap, c.cell, q);
        let mut props = vec![
            ("kind", PropValue::Str("near_border")),
            ("h3", PropValue::Str(&h3)),
            ("parts", PropValue::Str(&parts)),
        ];
        if c.extra.iter().any(|(k, _)| *k == "partial") {
            props.push(("partial", PropValue::Bool(true)));
        }
        match c.count {
            HexCount::Value(n) => {
                props.push(("count", PropValue::U64(u64::from(n))));
                props.push(("suppressed", PropValue::Bool(false)));
            }
            HexCount::Suppressed => props.push(("suppressed", PropValue::Bool(true))),
        }
        layer.add_feature(&geom, &props, None)?;
    }
    for e in snap.borders.lines() {
        let line: Vec<MercatorPoint> = e.points.iter().map(|p| MercatorPoint::from(*p)).collect();
        let Some(geom) = prepare_lines(tf, [line.as_slice()]) else {
            continue;
        };
        layer.add_feature(
            &geom,
            &[
                ("kind", PropValue::Str("border")),
                ("code", PropValue::Str(&e.code)),
                ("other", PropValue::Str(&e.other)),
            ],
            None,
        )?;
    }
    for r in snap.routes.in_bbox(tile_bbox(tile)) {
        if !crosses_border(snap, r) {
            continue;
        }
        let line: Vec<MercatorPoint> = r.line.iter().map(|p| MercatorPoint::from(*p)).collect();
        let Some(geom) = prepare_lines(tf, [line.as_slice()]) else {
            continue;
        };
        layer.add_feature(
            &geom,
            &[
                ("kind", PropValue::Str("crossing_route")),
                ("name", PropValue::Str(&r.short_name)),
            ],
            None,
        )?;
    }
    Ok(layer.finish())
}

/// Most incidents read for one cell's authority parts: far more than a res-8 cell holds in the
/// data of a partnership; beyond it the parts are not given.
const MAX_PART_INCIDENTS: usize = 200_000;

/// The `parts` property of a near-border cell: each authority's count in the cell for the
/// window, as `CODE:COUNT` pairs joined by `;` (`CODE:suppressed`, `CODE:COUNT+` for a lower
/// bound). Exact for analysts; for aggregate roles a fixed release per month with the threshold
/// applied to each authority separately (`safeguards::releases::authority_parts`). An incident
/// outside every authority is under `outside`. Empty when the cell holds too many incidents to
/// read.
fn authority_parts(snap: &Snapshot, cell: CellIndex, q: &RenderQuery<'_>) -> String {
    use std::fmt::Write as _;
    let ring: Vec<h3o::LatLng> = cell.boundary().iter().copied().collect();
    let (lons, lats): (Vec<f64>, Vec<f64>) = ring.iter().map(|v| (v.lng(), v.lat())).unzip();
    let fold = |v: &[f64], f: fn(f64, f64) -> f64, init: f64| v.iter().copied().fold(init, f);
    let Ok(bbox) = Bbox::from_coords(
        fold(&lons, f64::min, f64::INFINITY),
        fold(&lats, f64::min, f64::INFINITY),
        fold(&lons, f64::max, f64::NEG_INFINITY),
        fold(&lats, f64::max, f64::NEG_INFINITY),
    ) else {
        return String::new();
    };
    let (hits, truncated) =
        snap.incidents
            .incidents_in_bbox(bbox, q.window, q.category, MAX_PART_INCIDENTS);
    if truncated {
        return String::new();
    }
    let controlled = q.protected.is_some();
    let months = snap
        .incidents
        .day_range()
        .and_then(|(a, b)| TimeWindow::new(a, b).ok())
        .map_or_else(Vec::new, |span| {
            crate::safeguards::disclosure::months_of(q.window, span)
        });
    let mut counts: Vec<std::collections::BTreeMap<String, u32>> =
        vec![std::collections::BTreeMap::default(); months.len().max(1)];
    for hit in hits {
        let Ok(ll) = h3o::LatLng::new(hit.lat, hit.lon) else {
            continue;
        };
        if ll.to_cell(cell.resolution()) != cell
            || (controlled
                && !crate::safeguards::releases::categories_in(q.category)
                    .any(|c| c == hit.category))
        {
            continue;
        }
        let code = crate::domain::LonLat::new(hit.lon, hit.lat)
            .ok()
            .and_then(|p| snap.boundaries.locate("lad", p))
            .map_or_else(|| "outside".to_owned(), |b| b.code.as_str().to_owned());
        let m = if controlled {
            months.iter().position(|w| w.contains(hit.day)).unwrap_or(0)
        } else {
            0
        };
        if let Some(month) = counts.get_mut(m) {
            *month.entry(code).or_default() += 1;
        }
    }
    let mut out = String::new();
    if controlled {
        let months: Vec<Vec<(String, u32)>> = counts
            .into_iter()
            .map(|m| m.into_iter().collect())
            .collect();
        let sensitivity = crate::safeguards::disclosure::Sensitivity::for_category(q.category);
        for p in crate::safeguards::releases::authority_parts(&months, sensitivity, &q.policy) {
            let _ = match p.published {
                Published::Value(v) => {
                    write!(out, "{}:{v}{};", p.code, if p.partial { "+" } else { "" })
                }
                Published::Suppressed => write!(out, "{}:suppressed;", p.code),
            };
        }
    } else {
        for (code, n) in counts.into_iter().flatten() {
            let _ = write!(out, "{code}:{n};");
        }
    }
    out.pop();
    out
}

/// True when a route's stops or vertices lie in two or more authorities.
fn crosses_border(snap: &Snapshot, r: &crate::domain::Route) -> bool {
    let mut first: Option<&str> = None;
    for p in &r.line {
        if let Some(b) = snap.boundaries.locate("lad", *p) {
            match first {
                None => first = Some(b.code.as_str()),
                Some(code) if code != b.code.as_str() => return true,
                Some(_) => {}
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_unique_names_and_sane_zooms() {
        for (i, l) in LAYERS.iter().enumerate() {
            assert!(l.minzoom <= l.maxzoom && l.maxzoom <= 14, "{}", l.name);
            assert!(!l.fields.is_empty(), "{}", l.name);
            assert!(LAYERS[i + 1..].iter().all(|m| m.name != l.name));
            assert_eq!(layer(l.name), Some(l));
        }
        assert_eq!(layer("people"), None, "no person layer exists");
    }

    #[test]
    fn shared_shapes_are_computed_once_and_equal_fresh_ones() {
        let shapes = SharedShapes::default();
        let cell = h3o::LatLng::new(51.45, -2.59)
            .unwrap()
            .to_cell(Resolution::Ten);
        let cells = [HexCell {
            cell,
            count: HexCount::Value(3),
            extra: &[],
        }];
        let first = shapes.with_cells(&cells, |b| b.get(cell).cloned());
        assert_eq!(shapes.len(), 1);
        assert_eq!(
            first.as_ref().map(CellShape::ring_m),
            Some(CellShape::of(cell).ring_m())
        );
        shapes.with_cells(&cells, |_| ());
        assert_eq!(shapes.len(), 1, "not computed twice");
    }
}
