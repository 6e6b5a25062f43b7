//! Reference test: tiles decoded by Python's mapbox-vector-tile 2.2.0 (`maps.md` §7), an
//! independent decoder, must give back exactly the features, properties, wire types, ids and
//! integer coordinates that were encoded, with MVT winding.
//!
//! The interpreter is `SAFERPLACES_PYTHON`, or `.venv/bin/python` under the crate root (which
//! `make test` creates from `tests/reference/requirements.txt`). Without it, or without the
//! module, the test says why on stderr and passes.

use std::path::{Path, PathBuf};
use std::process::Command;

use h3o::{CellIndex, LatLng, Resolution};
use serde_json::{Value, json};

use super::coord::{MercatorPoint, TileCoord, TilePoint, round_unit};
use super::geometry::{
    MercatorPolygon, TileGeometry, finish_ring, prepare_lines, prepare_points, prepare_polygons,
};
use super::hexagons::{CellBoundaries, CellShape, HexCell, HexCount, encode_hexagon_layer};
use super::mvt::{LayerEncoder, PropValue, Property};

/// One feature as encoded, for comparison.
struct Expected {
    geometry: TileGeometry,
    props: Vec<(String, Value, &'static str)>,
    id: Option<u64>,
}

struct ExpectedTile {
    file: &'static str,
    layer: &'static str,
    bytes: Vec<u8>,
    features: Vec<Expected>,
}

fn props_of(props: &[Property<'_>]) -> Vec<(String, Value, &'static str)> {
    props
        .iter()
        .map(|&(k, v)| {
            let (value, field) = match v {
                PropValue::Str(s) => (json!(s), "string_value"),
                PropValue::F64(x) => (json!(x), "double_value"),
                PropValue::I64(x) if x < 0 => (json!(x), "sint_value"),
                PropValue::I64(x) => (json!(x), "uint_value"),
                PropValue::U64(x) => (json!(x), "uint_value"),
                PropValue::Bool(b) => (json!(b), "bool_value"),
            };
            (k.to_owned(), value, field)
        })
        .collect()
}

fn xy(p: TilePoint) -> Value {
    json!([p.x, p.y])
}

fn closed(ring: &[TilePoint]) -> Value {
    let mut v: Vec<Value> = ring.iter().map(|&p| xy(p)).collect();
    v.push(xy(ring[0]));
    Value::Array(v)
}

/// The GeoJSON-like geometry mapbox-vector-tile returns, and the MVT type number.
fn geojson(g: &TileGeometry) -> (Value, u64) {
    match g {
        TileGeometry::Points(p) if p.len() == 1 => {
            (json!({"type": "Point", "coordinates": xy(p[0])}), 1)
        }
        TileGeometry::Points(p) => (
            json!({"type": "MultiPoint", "coordinates": p.iter().map(|&q| xy(q)).collect::<Vec<_>>()}),
            1,
        ),
        TileGeometry::Lines(l) => {
            let parts: Vec<Value> = l
                .iter()
                .map(|part| Value::Array(part.iter().map(|&q| xy(q)).collect()))
                .collect();
            if parts.len() == 1 {
                (json!({"type": "LineString", "coordinates": parts[0]}), 2)
            } else {
                (json!({"type": "MultiLineString", "coordinates": parts}), 2)
            }
        }
        TileGeometry::Polygons(polys) => {
            let polys: Vec<Value> = polys
                .iter()
                .map(|p| {
                    let mut rings = vec![closed(&p.exterior)];
                    rings.extend(p.holes.iter().map(|h| closed(h)));
                    Value::Array(rings)
                })
                .collect();
            if polys.len() == 1 {
                (json!({"type": "Polygon", "coordinates": polys[0]}), 3)
            } else {
                (json!({"type": "MultiPolygon", "coordinates": polys}), 3)
            }
        }
    }
}

fn bristol_tile(z: u32) -> TileCoord {
    let n = f64::from(1u32 << z);
    let (lon, lat) = (-2.5879_f64, 51.4545_f64);
    let r = lat.to_radians();
    let fx = (lon + 180.0) / 360.0 * n;
    let fy = (1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n;
    TileCoord::new(z, fx as u32, fy as u32).unwrap()
}

/// A lon/lat at fractional units `(x, y)` of tile `t`.
fn at(t: TileCoord, x: f64, y: f64) -> MercatorPoint {
    let b = t.bounds_m();
    let unit = b.width_m() / 4096.0;
    MercatorPoint {
        x_m: b.min.x_m + x * unit,
        y_m: b.max.y_m - y * unit,
    }
}

fn hexagon_tile() -> ExpectedTile {
    let t = bristol_tile(13);
    let centre = LatLng::new(51.4545, -2.5879)
        .unwrap()
        .to_cell(Resolution::Ten);
    let mut cells: Vec<CellIndex> = centre.grid_disk(20);
    cells.sort_unstable();
    let extra_a = [
        ("rate", PropValue::F64(0.0625)),
        ("bin", PropValue::I64(-2)),
        ("category", PropValue::Str("decreasing")),
    ];
    let extra_b = [("rate", PropValue::F64(1.5)), ("bin", PropValue::I64(3))];
    let input: Vec<HexCell<'_>> = cells
        .iter()
        .enumerate()
        .map(|(i, &cell)| HexCell {
            cell,
            count: if i % 5 == 0 {
                HexCount::Suppressed
            } else {
                HexCount::Value(5 * (i as u32 % 9))
            },
            extra: match i % 3 {
                0 => &extra_a[..],
                1 => &extra_b[..],
                _ => &[],
            },
        })
        .collect();
    let out = encode_hexagon_layer("hotspots", t, &input, &CellBoundaries::new()).unwrap();
    // What must have been encoded: each cell reaching the tile, rounded, clockwise.
    let tf = t.transform();
    let mut features = Vec::new();
    for c in &input {
        let shape = CellShape::of(c.cell);
        let mut ring: Vec<TilePoint> = Vec::new();
        let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
        for &p in shape.ring_m() {
            let [x, y] = tf.to_tile_f64(p);
            lo = [lo[0].min(x), lo[1].min(y)];
            hi = [hi[0].max(x), hi[1].max(y)];
            let q = TilePoint::new(round_unit(x), round_unit(y));
            if ring.last() != Some(&q) {
                ring.push(q);
            }
        }
        let misses = hi[0] < -64.0 || lo[0] > 4160.0 || hi[1] < -64.0 || lo[1] > 4160.0;
        if misses || !finish_ring(&mut ring, true) {
            continue;
        }
        let hex = c.cell.to_string();
        let mut props: Vec<Property<'_>> = vec![("h3", PropValue::Str(&hex))];
        match c.count {
            HexCount::Value(v) => {
                props.push(("count", PropValue::U64(u64::from(v))));
                props.push(("suppressed", PropValue::Bool(false)));
            }
            HexCount::Suppressed => props.push(("suppressed", PropValue::Bool(true))),
        }
        props.extend_from_slice(c.extra);
        features.push(Expected {
            geometry: TileGeometry::Polygons(vec![super::geometry::TilePolygon {
                exterior: ring,
                holes: vec![],
            }]),
            props: props_of(&props),
            id: None,
        });
    }
    assert!(features.len() > 100);
    ExpectedTile {
        file: "hotspots.mvt",
        layer: "hotspots",
        bytes: out.bytes,
        features,
    }
}

/// Encodes prepared features into one layer and records them.
fn layer_tile(
    file: &'static str,
    layer_name: &'static str,
    features: Vec<(TileGeometry, Vec<Property<'_>>, Option<u64>)>,
) -> ExpectedTile {
    let mut layer = LayerEncoder::new(layer_name).unwrap();
    let mut expected = Vec::new();
    for (g, props, id) in features {
        assert!(layer.add_feature(&g, &props, id).unwrap());
        expected.push(Expected {
            geometry: g,
            props: props_of(&props),
            id,
        });
    }
    ExpectedTile {
        file,
        layer: layer_name,
        bytes: layer.finish().bytes,
        features: expected,
    }
}

fn line_tile() -> ExpectedTile {
    let t = bristol_tile(14);
    let tf = t.transform();
    // Leaves the tile to the north and comes back: two parts.
    let route_a: Vec<MercatorPoint> = [
        (100.3, 900.0),
        (800.0, -400.0),
        (1600.0, -300.0),
        (2500.5, 700.2),
    ]
    .iter()
    .map(|&(x, y)| at(t, x, y))
    .collect();
    // Crosses the whole tile.
    let route_b: Vec<MercatorPoint> = [(-900.0, 3000.0), (2000.0, 2500.0), (5000.0, 3900.0)]
        .iter()
        .map(|&(x, y)| at(t, x, y))
        .collect();
    let a = prepare_lines(tf, [route_a.as_slice()]).unwrap();
    let b = prepare_lines(tf, [route_b.as_slice()]).unwrap();
    assert!(matches!(&a, TileGeometry::Lines(p) if p.len() == 2));
    layer_tile(
        "routes.mvt",
        "routes",
        vec![
            (
                a,
                vec![
                    ("route", PropValue::Str("X39")),
                    ("mode", PropValue::Str("bus")),
                ],
                Some(1),
            ),
            (
                b,
                vec![
                    ("route", PropValue::Str("Severn Beach")),
                    ("mode", PropValue::Str("rail")),
                ],
                Some(2),
            ),
        ],
    )
}

fn polygon_tile() -> ExpectedTile {
    let t = bristol_tile(14);
    let tf = t.transform();
    let ring = |v: &[(f64, f64)]| v.iter().map(|&(x, y)| at(t, x, y)).collect::<Vec<_>>();
    let with_holes = MercatorPolygon {
        // Counter-clockwise as drawn, as GeoJSON exteriors are after projection to y-down.
        exterior: ring(&[
            (500.0, 500.0),
            (500.0, 2500.0),
            (2500.0, 2500.0),
            (2500.0, 500.0),
        ]),
        holes: vec![
            ring(&[
                (800.0, 800.0),
                (1200.0, 800.0),
                (1200.0, 1200.0),
                (800.0, 1200.0),
            ]),
            ring(&[(1500.0, 1500.0), (2000.0, 1600.0), (1700.0, 2100.0)]),
        ],
    };
    let clipped = MercatorPolygon {
        exterior: ring(&[(3000.0, 3000.0), (6000.0, 3100.0), (3500.0, 7000.0)]),
        holes: vec![],
    };
    let small_a = MercatorPolygon {
        exterior: ring(&[
            (100.0, 3000.0),
            (300.0, 3000.0),
            (300.0, 3200.0),
            (100.0, 3200.0),
        ]),
        holes: vec![],
    };
    let small_b = MercatorPolygon {
        exterior: ring(&[(400.0, 3000.0), (600.0, 3000.0), (500.0, 3300.0)]),
        holes: vec![ring(&[(480.0, 3050.0), (520.0, 3050.0), (500.0, 3150.0)])],
    };
    let g1 = prepare_polygons(tf, [&with_holes]).unwrap();
    let g2 = prepare_polygons(tf, [&clipped]).unwrap();
    let g3 = prepare_polygons(tf, [&small_a, &small_b]).unwrap();
    layer_tile(
        "boundaries.mvt",
        "boundaries",
        vec![
            (
                g1,
                vec![
                    ("code", PropValue::Str("E01014485")),
                    ("holes", PropValue::U64(2)),
                ],
                Some(10),
            ),
            (g2, vec![("code", PropValue::Str("E01014486"))], Some(11)),
            (
                g3,
                vec![
                    ("code", PropValue::Str("E05010886")),
                    ("parts", PropValue::I64(2)),
                ],
                None,
            ),
        ],
    )
}

fn point_tile() -> ExpectedTile {
    let t = bristol_tile(15);
    let tf = t.transform();
    let one = prepare_points(tf, [at(t, 1024.4, 2047.6)]).unwrap();
    let many = prepare_points(
        tf,
        [
            at(t, 10.0, 10.0),
            at(t, 4100.0, 20.0),
            at(t, 2000.0, -50.0),
            at(t, 9000.0, 9000.0),
        ],
    )
    .unwrap();
    assert!(matches!(&many, TileGeometry::Points(p) if p.len() == 3));
    layer_tile(
        "places.mvt",
        "places",
        vec![
            (
                one,
                vec![
                    ("name", PropValue::Str("Castle Park \u{2014} caf\u{e9}")),
                    ("score_f", PropValue::F64(-12.375)),
                    ("delta", PropValue::I64(-40)),
                    ("visits", PropValue::I64(40)),
                    ("big", PropValue::U64(1 << 52)),
                    ("open", PropValue::Bool(false)),
                ],
                Some(42),
            ),
            (many, vec![("kind", PropValue::Str("stop"))], Some(7)),
        ],
    )
}

/// Twice the signed area of a closed JSON ring, y down.
fn json_area2(ring: &Value) -> i64 {
    let pts: Vec<(i64, i64)> = ring
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_i64().unwrap(), p[1].as_i64().unwrap()))
        .collect();
    pts.windows(2)
        .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
        .sum()
}

fn python() -> PathBuf {
    std::env::var_os("SAFERPLACES_PYTHON").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"),
        PathBuf::from,
    )
}

#[test]
fn mapbox_vector_tile_decodes_exactly_what_was_encoded() {
    let python = python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/decode_mvt.py");
    let tiles = [hexagon_tile(), line_tile(), polygon_tile(), point_tile()];
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![script.into_os_string()];
    for t in &tiles {
        let path = dir.path().join(t.file);
        std::fs::write(&path, &t.bytes).unwrap();
        args.push(path.into_os_string());
    }
    let output = match Command::new(&python).args(&args).output() {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "SKIPPED reference MVT test: cannot run {} ({e}); create it with `python3 -m venv \
                 .venv && .venv/bin/pip install -r tests/reference/requirements.txt` or set \
                 SAFERPLACES_PYTHON",
                python.display()
            );
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(2) {
        eprintln!(
            "SKIPPED reference MVT test: {} lacks the decoder: {stderr}",
            python.display()
        );
        return;
    }
    assert!(output.status.success(), "decoder failed: {stderr}");
    let decoded: Value = serde_json::from_slice(&output.stdout).unwrap();

    for t in &tiles {
        let key = dir.path().join(t.file);
        let tile = &decoded[key.to_str().unwrap()];
        let layers = tile["layers"].as_object().unwrap();
        assert_eq!(layers.len(), 1, "{}", t.file);
        let layer = &layers[t.layer];
        assert_eq!(layer["extent"], json!(4096));
        assert_eq!(layer["version"], json!(2));
        let features = layer["features"].as_array().unwrap();
        assert_eq!(
            features.len(),
            t.features.len(),
            "{}: feature count",
            t.file
        );
        for (i, (got, want)) in features.iter().zip(&t.features).enumerate() {
            let ctx = format!("{} feature {i}", t.file);
            let (geometry, kind) = geojson(&want.geometry);
            assert_eq!(got["type"], json!(kind), "{ctx}: type");
            assert_eq!(got["geometry"], geometry, "{ctx}: geometry");
            let props = got["properties"].as_object().unwrap();
            let fields = got["value_fields"].as_object().unwrap();
            assert_eq!(props.len(), want.props.len(), "{ctx}: {props:?}");
            for (k, v, field) in &want.props {
                assert_eq!(props.get(k), Some(v), "{ctx}: property {k}");
                assert_eq!(
                    fields.get(k),
                    Some(&json!(field)),
                    "{ctx}: wire type of {k}"
                );
            }
            assert_eq!(
                got["has_id"],
                json!(want.id.is_some()),
                "{ctx}: id presence"
            );
            if let Some(id) = want.id {
                assert_eq!(got["id"], json!(id), "{ctx}: id");
            }
            // Winding as the reference decoder sees it: exteriors positive, holes negative.
            let polys = match got["geometry"]["type"].as_str() {
                Some("Polygon") => vec![got["geometry"]["coordinates"].clone()],
                Some("MultiPolygon") => got["geometry"]["coordinates"].as_array().unwrap().clone(),
                _ => vec![],
            };
            for poly in polys {
                for (k, ring) in poly.as_array().unwrap().iter().enumerate() {
                    let a = json_area2(ring);
                    assert!(
                        if k == 0 { a > 0 } else { a < 0 },
                        "{ctx}: ring {k} area {a}"
                    );
                }
            }
        }
    }
}
