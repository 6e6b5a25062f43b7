//! The layer encoder, decoded with the independent test decoder.

use super::*;
use crate::tiles::decode_test_support::{DValue, decode};
use crate::tiles::geometry::{TilePolygon, signed_area2};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        rng_seed: RngSeed::Fixed(0x0E1C_0DE5),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn pts(v: &[(i32, i32)]) -> Vec<TilePoint> {
    v.iter().map(|&(x, y)| TilePoint::new(x, y)).collect()
}

fn square(x: i32, y: i32, side: i32) -> Vec<TilePoint> {
    pts(&[(x, y), (x + side, y), (x + side, y + side), (x, y + side)])
}

/// Every geometry type and property type in one layer.
fn sample_layer() -> EncodedLayer {
    let mut layer = LayerEncoder::new("places").unwrap();
    let point = TileGeometry::Points(pts(&[(25, 17)]));
    let multipoint = TileGeometry::Points(pts(&[(5, 5), (4000, 4000), (-10, 4100)]));
    let line = TileGeometry::Lines(vec![pts(&[(2, 2), (2, 10), (10, 10)])]);
    let multiline = TileGeometry::Lines(vec![
        pts(&[(0, 0), (100, 100)]),
        pts(&[(200, 200), (300, 100), (400, 400)]),
    ]);
    let mut hole = square(200, 200, 100);
    hole.reverse();
    let polygon = TileGeometry::Polygons(vec![TilePolygon {
        exterior: square(100, 100, 1000),
        holes: vec![hole],
    }]);
    let multipolygon = TileGeometry::Polygons(vec![
        TilePolygon {
            exterior: square(0, 0, 10),
            holes: vec![],
        },
        TilePolygon {
            exterior: square(20, 20, 10),
            holes: vec![],
        },
    ]);
    let props: [Property<'_>; 6] = [
        ("name", PropValue::Str("Temple Meads")),
        ("rate", PropValue::F64(0.125)),
        ("delta", PropValue::I64(-3)),
        ("n", PropValue::I64(3)),
        ("big", PropValue::U64(u64::MAX)),
        ("open", PropValue::Bool(true)),
    ];
    assert!(layer.add_feature(&point, &props, Some(7)).unwrap());
    assert!(layer.add_feature(&multipoint, &props[..1], None).unwrap());
    assert!(layer.add_feature(&line, &props[1..3], Some(1)).unwrap());
    assert!(layer.add_feature(&multiline, &[], None).unwrap());
    assert!(
        layer
            .add_feature(&polygon, &props[3..], Some(9_007_199_254_740_991))
            .unwrap()
    );
    assert!(layer.add_feature(&multipolygon, &props[..2], None).unwrap());
    layer.finish()
}

#[test]
fn every_geometry_and_property_type_round_trips() {
    let tile = sample_layer();
    assert_eq!(tile.feature_count, 6);
    let layers = decode(&tile.bytes);
    assert_eq!(layers.len(), 1);
    let l = &layers[0];
    assert_eq!((l.name.as_str(), l.extent, l.version), ("places", 4096, 2));
    assert_eq!(l.features.len(), 6);

    let f = &l.features[0];
    assert_eq!(f.id, Some(7));
    assert_eq!(f.geom_type, 1);
    // MVT 2.1 §4.3.5.1: a point at (25, 17) is [9, 50, 34].
    assert_eq!(f.commands, vec![9, 50, 34]);
    assert_eq!(
        f.props,
        vec![
            ("name".to_owned(), DValue::Str("Temple Meads".to_owned())),
            ("rate".to_owned(), DValue::F64(0.125)),
            ("delta".to_owned(), DValue::S64(-3)),
            ("n".to_owned(), DValue::U64(3)),
            ("big".to_owned(), DValue::U64(u64::MAX)),
            ("open".to_owned(), DValue::Bool(true)),
        ]
    );

    let f = &l.features[1];
    assert_eq!(f.id, None);
    assert_eq!(
        f.geometry(),
        TileGeometry::Points(pts(&[(5, 5), (4000, 4000), (-10, 4100)]))
    );

    // MVT 2.1 §4.3.5.2: the line (2,2) (2,10) (10,10) is [9, 4, 4, 18, 0, 16, 16, 0].
    let f = &l.features[2];
    assert_eq!((f.geom_type, f.id), (2, Some(1)));
    assert_eq!(f.commands, vec![9, 4, 4, 18, 0, 16, 16, 0]);

    let f = &l.features[3];
    assert_eq!(
        f.geometry(),
        TileGeometry::Lines(vec![
            pts(&[(0, 0), (100, 100)]),
            pts(&[(200, 200), (300, 100), (400, 400)]),
        ])
    );
    assert!(f.props.is_empty());

    let f = &l.features[4];
    assert_eq!((f.geom_type, f.id), (3, Some(9_007_199_254_740_991)));
    let mut hole = square(200, 200, 100);
    hole.reverse();
    assert_eq!(
        f.geometry(),
        TileGeometry::Polygons(vec![TilePolygon {
            exterior: square(100, 100, 1000),
            holes: vec![hole],
        }])
    );

    let f = &l.features[5];
    let TileGeometry::Polygons(p) = f.geometry() else {
        panic!("not a polygon");
    };
    assert_eq!(p.len(), 2);
}

#[test]
fn keys_and_values_are_shared_across_features() {
    let l = &decode(&sample_layer().bytes)[0];
    assert_eq!(l.keys, ["name", "rate", "delta", "n", "big", "open"]);
    // "Temple Meads" and 0.125 appear in three features but once in the table.
    assert_eq!(
        l.values,
        vec![
            DValue::Str("Temple Meads".to_owned()),
            DValue::F64(0.125),
            DValue::S64(-3),
            DValue::U64(3),
            DValue::U64(u64::MAX),
            DValue::Bool(true),
        ]
    );
}

#[test]
fn keys_in_a_different_order_from_the_previous_feature_are_still_right() {
    let g = TileGeometry::Points(pts(&[(1, 1)]));
    let mut layer = LayerEncoder::new("x").unwrap();
    let sequences: [&[&str]; 5] = [&["a", "b"], &["b", "a"], &["c"], &["a", "c", "b"], &["b"]];
    for keys in sequences {
        let props: Vec<Property<'_>> = keys.iter().map(|&k| (k, PropValue::Str(k))).collect();
        layer.add_feature(&g, &props, None).unwrap();
    }
    let l = &decode(&layer.finish().bytes)[0];
    assert_eq!(l.keys, ["a", "b", "c"]);
    for (f, keys) in l.features.iter().zip(sequences) {
        let got: Vec<(&str, &DValue)> = f.props.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let want: Vec<(&str, DValue)> = keys
            .iter()
            .map(|&k| (k, DValue::Str(k.to_owned())))
            .collect();
        assert_eq!(got.len(), want.len());
        for ((gk, gv), (wk, wv)) in got.iter().zip(&want) {
            assert_eq!((gk, *gv), (wk, wv));
        }
    }
}

#[test]
fn the_same_calls_give_the_same_bytes() {
    let a = sample_layer();
    for _ in 0..20 {
        assert_eq!(sample_layer().bytes, a.bytes);
    }
}

#[test]
fn rings_are_rewound_and_cleaned_before_writing() {
    let mut layer = LayerEncoder::new("x").unwrap();
    let mut ext = square(0, 0, 100);
    ext.reverse();
    ext.insert(1, ext[0]); // a consecutive duplicate
    ext.push(ext[0]); // a closing vertex
    let hole = square(10, 10, 10); // clockwise: wrong for a hole
    let g = TileGeometry::Polygons(vec![TilePolygon {
        exterior: ext,
        holes: vec![hole, pts(&[(1, 1), (2, 2), (3, 3)])],
    }]);
    assert!(layer.add_feature(&g, &[], None).unwrap());
    let f = &decode(&layer.finish().bytes)[0].features[0];
    let TileGeometry::Polygons(p) = f.geometry() else {
        panic!("not a polygon");
    };
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].exterior.len(), 4);
    assert!(signed_area2(&p[0].exterior) > 0);
    assert_eq!(p[0].holes.len(), 1, "the collinear hole is dropped");
    assert!(signed_area2(&p[0].holes[0]) < 0);
}

#[test]
fn a_feature_with_nothing_to_draw_is_skipped() {
    let mut layer = LayerEncoder::new("x").unwrap();
    for g in [
        TileGeometry::Points(vec![]),
        TileGeometry::Lines(vec![]),
        TileGeometry::Lines(vec![pts(&[(1, 1), (1, 1)])]),
        TileGeometry::Polygons(vec![]),
        TileGeometry::Polygons(vec![TilePolygon {
            exterior: pts(&[(0, 0), (5, 5), (10, 10)]),
            holes: vec![square(1, 1, 1)],
        }]),
    ] {
        assert!(
            !layer
                .add_feature(&g, &[("a", PropValue::I64(1))], None)
                .unwrap()
        );
    }
    let out = layer.finish();
    assert!(out.is_empty());
    let l = &decode(&out.bytes)[0];
    assert!(l.features.is_empty() && l.keys.is_empty() && l.values.is_empty());
}

#[test]
fn bad_input_is_refused_without_writing_anything() {
    assert!(matches!(
        LayerEncoder::new(""),
        Err(TilesError::EmptyLayerName)
    ));
    let g = TileGeometry::Points(pts(&[(1, 1)]));
    let mut layer = LayerEncoder::new("x").unwrap();
    let err = layer
        .add_feature(
            &g,
            &[("a", PropValue::I64(1)), ("a", PropValue::I64(2))],
            None,
        )
        .unwrap_err();
    assert!(matches!(err, TilesError::DuplicateProperty { ref key } if key == "a"));
    let far = TileGeometry::Lines(vec![pts(&[(0, 0), (i32::MAX, 0)])]);
    assert!(matches!(
        layer.add_feature(&far, &[], None),
        Err(TilesError::CoordinateOutOfRange { .. })
    ));
    assert_eq!(layer.feature_count(), 0);
    // The layer is still usable and holds only what came after.
    layer.add_feature(&g, &[], None).unwrap();
    let mut clean = LayerEncoder::new("x").unwrap();
    clean.add_feature(&g, &[], None).unwrap();
    assert_eq!(layer.finish(), clean.finish());
}

#[test]
fn a_non_finite_number_is_left_out_as_mvt_has_no_null() {
    let mut layer = LayerEncoder::new("x").unwrap();
    let g = TileGeometry::Points(pts(&[(1, 1)]));
    let props = [
        ("rate", PropValue::F64(f64::NAN)),
        ("inf", PropValue::F64(f64::INFINITY)),
        ("ok", PropValue::F64(-0.5)),
    ];
    layer.add_feature(&g, &props, None).unwrap();
    let f = &decode(&layer.finish().bytes)[0].features[0];
    assert_eq!(f.props, vec![("ok".to_owned(), DValue::F64(-0.5))]);
}

#[test]
fn layers_concatenate_into_one_tile() {
    let g = TileGeometry::Points(pts(&[(1, 1)]));
    let mut a = LayerEncoder::new("a").unwrap();
    a.add_feature(&g, &[], None).unwrap();
    let mut b = LayerEncoder::new("b").unwrap();
    b.add_feature(&g, &[], None).unwrap();
    let mut bytes = a.finish().bytes;
    bytes.extend(b.finish().bytes);
    let names: Vec<String> = decode(&bytes).into_iter().map(|l| l.name).collect();
    assert_eq!(names, ["a", "b"]);
}

fn any_point() -> impl Strategy<Value = TilePoint> {
    (-200i32..4300, -200i32..4300).prop_map(|(x, y)| TilePoint::new(x, y))
}

fn any_value() -> impl Strategy<Value = (u8, i64, f64, bool)> {
    (0u8..5, any::<i64>(), -1e9f64..1e9, any::<bool>())
}

proptest! {
    #![proptest_config(config())]

    /// Lines and points of random integers decode to the cleaned input, with their
    /// properties, in order, on the wire types the module documents.
    #[test]
    fn random_features_round_trip(
        features in proptest::collection::vec(
            (
                proptest::collection::vec(proptest::collection::vec(any_point(), 1..8), 1..4),
                any::<bool>(),
                proptest::collection::vec(any_value(), 0..5),
                proptest::option::of(any::<u64>()),
            ),
            0..20,
        )
    ) {
        let names = ["k0", "k1", "k2", "k3", "k4"];
        let strings: Vec<String> = (0..5).map(|i| format!("s{i}")).collect();
        let mut layer = LayerEncoder::new("t").unwrap();
        let mut expected = Vec::new();
        for (parts, as_points, values, id) in &features {
            let props: Vec<Property<'_>> = values
                .iter()
                .enumerate()
                .map(|(i, &(kind, int, float, flag))| {
                    let v = match kind {
                        0 => PropValue::Str(&strings[(int.unsigned_abs() % 5) as usize]),
                        1 => PropValue::F64(float),
                        2 => PropValue::I64(int),
                        3 => PropValue::U64(int.unsigned_abs()),
                        _ => PropValue::Bool(flag),
                    };
                    (names[i], v)
                })
                .collect();
            let g = if *as_points {
                TileGeometry::Points(parts.concat())
            } else {
                TileGeometry::Lines(parts.clone())
            };
            // The cleaned geometry the decoder must give back.
            let cleaned = match &g {
                TileGeometry::Points(p) => TileGeometry::Points(p.clone()),
                TileGeometry::Lines(lines) => TileGeometry::Lines(
                    lines
                        .iter()
                        .map(|l| {
                            let mut d = l.clone();
                            d.dedup();
                            d
                        })
                        .filter(|l| l.len() >= 2)
                        .collect(),
                ),
                TileGeometry::Polygons(_) => unreachable!(),
            };
            let written = layer.add_feature(&g, &props, *id).unwrap();
            prop_assert_eq!(written, !cleaned.is_empty());
            if written {
                expected.push((cleaned, props, *id));
            }
        }
        let out = layer.finish();
        prop_assert_eq!(out.feature_count, expected.len());
        let l = &decode(&out.bytes)[0];
        prop_assert_eq!(l.features.len(), expected.len());
        for (f, (g, props, id)) in l.features.iter().zip(&expected) {
            prop_assert_eq!(&f.geometry(), g);
            prop_assert_eq!(f.id, *id);
            prop_assert_eq!(f.props.len(), props.len());
            for ((k, v), (ek, ev)) in f.props.iter().zip(props) {
                prop_assert_eq!(k.as_str(), *ek);
                let ok = match (*ev, v) {
                    (PropValue::Str(s), DValue::Str(d)) => s == d,
                    (PropValue::F64(x), DValue::F64(d)) => x.to_bits() == d.to_bits(),
                    (PropValue::I64(x), DValue::U64(d)) => x >= 0 && x.unsigned_abs() == *d,
                    (PropValue::I64(x), DValue::S64(d)) => x < 0 && x == *d,
                    (PropValue::U64(x), DValue::U64(d)) => x == *d,
                    (PropValue::Bool(x), DValue::Bool(d)) => x == *d,
                    _ => false,
                };
                prop_assert!(ok, "{k}: {ev:?} came back as {v:?}");
            }
        }
    }
}
