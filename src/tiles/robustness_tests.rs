//! No panics on any input: random tiles, non-finite and huge coordinates, cells anywhere on
//! the globe (poles, antimeridian, pentagons) at every resolution.

use h3o::{CellIndex, LatLng, Resolution};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

use super::coord::{MercatorPoint, TileCoord, TilePoint};
use super::decode_test_support::decode;
use super::geometry::{
    MercatorPolygon, TileGeometry, TilePolygon, prepare_lines, prepare_points, prepare_polygons,
};
use super::hexagons::{CellBoundaries, HexCell, HexCount, encode_hexagon_layer, hex_search_bbox};
use super::mvt::{LayerEncoder, PropValue};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        rng_seed: RngSeed::Fixed(0x0BAD_1A9E),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn any_tile() -> impl Strategy<Value = TileCoord> {
    (0u32..=22, any::<u32>(), any::<u32>()).prop_map(|(z, x, y)| {
        let n = 1u32 << z;
        TileCoord::new(z, x % n, y % n).unwrap()
    })
}

fn any_metres() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -2.1e7f64..2.1e7,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(f64::MAX),
        1 => Just(-f64::MAX),
        1 => Just(0.0),
    ]
}

fn any_point() -> impl Strategy<Value = MercatorPoint> {
    (any_metres(), any_metres()).prop_map(|(x_m, y_m)| MercatorPoint { x_m, y_m })
}

fn any_cell() -> impl Strategy<Value = CellIndex> {
    (-90.0f64..=90.0, -180.0f64..=180.0, 0u8..=15).prop_map(|(lat, lng, r)| {
        LatLng::new(lat, lng)
            .unwrap()
            .to_cell(Resolution::try_from(r).unwrap())
    })
}

fn any_tile_point() -> impl Strategy<Value = TilePoint> {
    prop_oneof![
        4 => (-5000i32..9000, -5000i32..9000).prop_map(|(x, y)| TilePoint::new(x, y)),
        1 => (any::<i32>(), any::<i32>()).prop_map(|(x, y)| TilePoint::new(x, y)),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn preparing_any_geometry_for_any_tile_never_panics(
        tile in any_tile(),
        points in proptest::collection::vec(any_point(), 0..12),
        holes in proptest::collection::vec(proptest::collection::vec(any_point(), 0..6), 0..3),
    ) {
        let tf = tile.transform();
        let _ = prepare_points(tf, points.iter().copied());
        if let Some(g) = prepare_lines(tf, [points.as_slice()]) {
            let mut layer = LayerEncoder::new("l").unwrap();
            prop_assert!(layer.add_feature(&g, &[], None).is_ok());
            decode(&layer.finish().bytes);
        }
        let poly = MercatorPolygon { exterior: points.clone(), holes };
        if let Some(g) = prepare_polygons(tf, [&poly]) {
            let mut layer = LayerEncoder::new("p").unwrap();
            prop_assert!(layer.add_feature(&g, &[("v", PropValue::F64(f64::NAN))], None).is_ok());
            for f in &decode(&layer.finish().bytes)[0].features {
                f.geometry();
            }
        }
    }

    #[test]
    fn encoding_any_integer_geometry_never_panics(
        parts in proptest::collection::vec(proptest::collection::vec(any_tile_point(), 0..8), 0..4),
        id in proptest::option::of(any::<u64>()),
    ) {
        let mut layer = LayerEncoder::new("x").unwrap();
        let polys = parts
            .iter()
            .map(|p| TilePolygon { exterior: p.clone(), holes: parts.clone() })
            .collect();
        for g in [
            TileGeometry::Points(parts.concat()),
            TileGeometry::Lines(parts.clone()),
            TileGeometry::Polygons(polys),
        ] {
            let _ = layer.add_feature(&g, &[("i", PropValue::I64(i64::MIN))], id);
        }
        decode(&layer.finish().bytes);
    }

    #[test]
    fn hexagons_anywhere_on_any_tile_never_panic(
        tile in any_tile(),
        cells in proptest::collection::vec(any_cell(), 0..20),
        r in 0u8..=15,
    ) {
        let mut cells = cells;
        cells.sort_unstable();
        cells.dedup();
        let input: Vec<HexCell<'_>> = cells
            .iter()
            .map(|&cell| HexCell { cell, count: HexCount::Value(u32::MAX), extra: &[] })
            .collect();
        let out = encode_hexagon_layer("h", tile, &input, &CellBoundaries::new()).unwrap();
        let layers = decode(&out.bytes);
        for f in &layers[0].features {
            for part in f.parts() {
                for p in part.points {
                    // Drawn whole within one tile of the tile, or clipped to the buffer.
                    prop_assert!((-4096..=8192).contains(&p.x) && (-4096..=8192).contains(&p.y));
                }
            }
        }
        let _ = hex_search_bbox(tile, Resolution::try_from(r).unwrap());
    }
}
