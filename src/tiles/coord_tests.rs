//! Tile addresses, bounds, covering ranges and the projection into tile units.

use super::*;
use approx::assert_relative_eq;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        rng_seed: RngSeed::Fixed(0x711E_5C00),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn study_area() -> Bbox {
    Bbox::from_coords(-3.12, 51.27, -2.25, 51.69).unwrap()
}

/// Fractional tile column and row of a lon/lat at zoom `z`, by the textbook slippy-map
/// formula (independent of the Mercator code under test).
fn slippy(lon: f64, lat: f64, z: u8) -> (f64, f64) {
    let n = f64::from(1u32 << z);
    let r = lat.to_radians();
    (
        (lon + 180.0) / 360.0 * n,
        (1.0 - (r.tan() + 1.0 / r.cos()).ln() / PI) / 2.0 * n,
    )
}

#[test]
fn a_tile_coordinate_out_of_range_names_its_field() {
    for (z, x, y, field) in [
        (23, 0, 0, "z"),
        (u32::MAX, 0, 0, "z"),
        (256, 0, 0, "z"),
        (0, 1, 0, "x"),
        (0, 0, 1, "y"),
        (14, 16_384, 0, "x"),
        (14, 0, 16_384, "y"),
        (22, u32::MAX, 0, "x"),
    ] {
        let err = TileCoord::new(z, x, y).unwrap_err();
        assert_eq!(err.field(), Some(field), "{z}/{x}/{y}: {err}");
        assert!(err.to_string().contains(field));
    }
    assert!(TileCoord::new(0, 0, 0).is_ok());
    assert!(TileCoord::new(22, (1 << 22) - 1, (1 << 22) - 1).is_ok());
    assert_eq!(
        TileCoord::new(14, 8074, 5452).unwrap().to_string(),
        "14/8074/5452"
    );
}

#[test]
fn zoom_zero_spans_the_web_mercator_world() {
    let t = TileCoord::new(0, 0, 0).unwrap();
    let b = t.bounds_m();
    assert_relative_eq!(b.min.x_m, -20_037_508.342_789_244);
    assert_relative_eq!(b.max.y_m, 20_037_508.342_789_244);
    let ll = t.bounds_lonlat();
    assert_relative_eq!(ll.min().lon(), -180.0);
    assert_relative_eq!(ll.max().lon(), 180.0);
    assert_relative_eq!(ll.max().lat(), MAX_LAT_DEG, epsilon = 1e-9);
    assert_relative_eq!(ll.min().lat(), -MAX_LAT_DEG, epsilon = 1e-9);
}

#[test]
fn the_bristol_tile_at_zoom_14_has_the_slippy_map_bounds() {
    let (fx, fy) = slippy(-2.59, 51.45, 14);
    let t = TileCoord::new(14, fx.floor() as u32, fy.floor() as u32).unwrap();
    assert_eq!((t.x(), t.y()), (8074, 5452));
    let ll = t.bounds_lonlat();
    let n = 16_384.0;
    assert_relative_eq!(ll.min().lon(), 8074.0 / n * 360.0 - 180.0, epsilon = 1e-9);
    let lat_of = |row: f64| (PI * (1.0 - 2.0 * row / n)).sinh().atan().to_degrees();
    assert_relative_eq!(ll.max().lat(), lat_of(5452.0), epsilon = 1e-9);
    assert_relative_eq!(ll.min().lat(), lat_of(5453.0), epsilon = 1e-9);
    assert!(ll.contains(LonLat::new(-2.59, 51.45).unwrap()));
}

#[test]
fn mercator_round_trips_and_clamps_the_poles() {
    for (lon, lat) in [(-2.59, 51.45), (0.0, 0.0), (179.9, -60.0), (-180.0, 85.0)] {
        let p = MercatorPoint::from_deg(lon, lat);
        let [lon2, lat2] = p.to_deg();
        assert_relative_eq!(lon, lon2, epsilon = 1e-9);
        assert_relative_eq!(lat, lat2, epsilon = 1e-9);
    }
    let north = MercatorPoint::from_deg(0.0, 90.0);
    assert_relative_eq!(north.y_m, HALF_WORLD_M, max_relative = 1e-9);
    assert!(MercatorPoint::from_deg(f64::NAN, 0.0).x_m.is_nan());
    assert!(!MercatorPoint::from_deg(f64::NAN, 0.0).is_finite());
}

#[test]
fn the_study_area_at_zoom_8_is_four_tiles() {
    let r = tiles_covering(study_area(), 8).unwrap();
    assert_eq!(r.x_range(), 125..=126);
    assert_eq!(r.y_range(), 84..=85);
    assert_eq!(r.len(), 4);
    let tiles: Vec<String> = r.iter().map(|t| t.to_string()).collect();
    assert_eq!(tiles, ["8/125/84", "8/126/84", "8/125/85", "8/126/85"]);
    assert!(r.contains(TileCoord::new(8, 126, 85).unwrap()));
    assert!(!r.contains(TileCoord::new(9, 126, 85).unwrap()));
}

#[test]
fn the_whole_world_is_every_tile_and_a_zoom_above_22_is_refused() {
    let world = Bbox::from_coords(-180.0, -90.0, 180.0, 90.0).unwrap();
    assert_eq!(tiles_covering(world, 0).unwrap().len(), 1);
    assert_eq!(tiles_covering(world, 3).unwrap().len(), 64);
    assert_eq!(tiles_covering(world, 22).unwrap().len(), 1 << 44);
    assert_eq!(tiles_covering(world, 23).unwrap_err().field(), Some("z"));
}

#[test]
fn a_box_edge_on_a_tile_edge_takes_the_tiles_on_both_sides() {
    // Longitude 0 is the edge between columns 1 and 2 at zoom 2.
    let b = Bbox::from_coords(0.0, 10.0, 0.0, 10.0).unwrap();
    let r = tiles_covering(b, 2).unwrap();
    assert_eq!(r.x_range(), 1..=2);
}

#[test]
fn the_buffered_cover_adds_the_neighbours_whose_buffer_reaches_in() {
    let t = TileCoord::new(12, 2018, 1363).unwrap();
    // A point just inside the west edge of the tile: the western neighbour's buffer holds it.
    let b = t.bounds_lonlat();
    let lon = b.min().lon() + (b.max().lon() - b.min().lon()) * 10.0 / 4096.0;
    let lat = f64::midpoint(b.min().lat(), b.max().lat());
    let p = Bbox::from_coords(lon, lat, lon, lat).unwrap();
    assert_eq!(tiles_covering(p, 12).unwrap().len(), 1);
    let r = tiles_covering_buffered(p, 12).unwrap();
    assert_eq!(r.x_range(), 2017..=2018);
    assert_eq!(r.y_range(), 1363..=1363);
}

#[test]
fn parents_and_children_agree() {
    let t = TileCoord::new(14, 8074, 5452).unwrap();
    let kids = t.children().unwrap();
    for k in kids {
        assert_eq!(k.parent(), Some(t));
        let (p, c) = (t.bounds_m(), k.bounds_m());
        assert!(c.min.x_m >= p.min.x_m - 1e-6 && c.max.x_m <= p.max.x_m + 1e-6);
        assert!(c.min.y_m >= p.min.y_m - 1e-6 && c.max.y_m <= p.max.y_m + 1e-6);
    }
    assert_eq!(kids[3].to_string(), "15/16149/10905");
    assert_eq!(TileCoord::new(0, 0, 0).unwrap().parent(), None);
    assert_eq!(TileCoord::new(22, 0, 0).unwrap().children(), None);
}

#[test]
fn tile_corners_map_to_zero_and_the_extent() {
    let t = TileCoord::new(14, 8074, 5452).unwrap();
    let tf = t.transform();
    let b = t.bounds_m();
    let nw = MercatorPoint {
        x_m: b.min.x_m,
        y_m: b.max.y_m,
    };
    let se = MercatorPoint {
        x_m: b.max.x_m,
        y_m: b.min.y_m,
    };
    assert_eq!(tf.to_tile(nw, 0), Some(TilePoint::new(0, 0)));
    assert_eq!(tf.to_tile(se, 0), Some(TilePoint::new(4096, 4096)));
    assert_eq!(
        tf.to_tile(
            MercatorPoint {
                x_m: f64::NAN,
                y_m: 0.0
            },
            64
        ),
        None
    );
    let far = MercatorPoint {
        x_m: b.max.x_m + b.width_m(),
        y_m: b.min.y_m,
    };
    assert_eq!(tf.to_tile(far, 64), None);
    // Extreme limits neither overflow nor panic.
    assert_eq!(tf.to_tile(nw, i32::MIN), None);
    assert_eq!(tf.to_tile(far, i32::MAX), Some(TilePoint::new(8192, 4096)));
}

#[test]
fn rounding_is_half_up_and_commutes_with_integer_shifts() {
    assert_eq!(round_unit(0.5), 1);
    assert_eq!(round_unit(-0.5), 0);
    assert_eq!(round_unit(-1.5), -1);
    assert_eq!(round_unit(2.499_999), 2);
    assert_eq!(round_unit(f64::NAN), 0);
    assert_eq!(round_unit(1e300), i32::MAX);
    assert_eq!(round_unit(-1e300), i32::MIN);
    for v in [-4096.5, -0.5, 0.5, 4095.5] {
        assert_eq!(round_unit(v - 4096.0), round_unit(v) - 4096);
    }
}

proptest! {
    #![proptest_config(config())]

    /// The hand-written floor agrees with `f64::floor` wherever the result fits `i32`.
    #[test]
    fn round_unit_is_floor_of_v_plus_a_half(v in -3.0e9f64..3.0e9, frac in prop_oneof![Just(0.0), Just(0.5), Just(-0.5), -1.0f64..1.0]) {
        let v = v.trunc() + frac;
        let expected = (v + 0.5).floor().clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32;
        prop_assert_eq!(round_unit(v), expected);
    }
}

proptest! {
    #![proptest_config(config())]

    /// The tile found for a point holds it, by bounds and by the slippy-map formula.
    #[test]
    fn the_covering_tile_of_a_point_contains_it(
        lon in -180.0f64..180.0,
        lat in -85.0f64..85.0,
        z in 0u8..=22,
    ) {
        let p = Bbox::from_coords(lon, lat, lon, lat).unwrap();
        let r = tiles_covering(p, z).unwrap();
        prop_assert!(r.len() <= 4);
        let (fx, fy) = slippy(lon, lat, z);
        let t = TileCoord::new(u32::from(z), fx.floor() as u32, fy.floor() as u32).unwrap();
        prop_assert!(r.contains(t), "{t} not in {r:?}");
        for t in r.iter() {
            let b = t.bounds_lonlat().expanded_deg(1e-9);
            prop_assert!(b.contains_raw(lon, lat));
        }
    }

    /// A vertex seen from two horizontally or vertically adjacent tiles rounds to the same
    /// world position, so shared edges line up exactly.
    #[test]
    fn adjacent_tiles_round_a_shared_vertex_to_the_same_place(
        z in 1u8..=22,
        fx in 0.0f64..1.0,
        fy in 0.0f64..1.0,
        ox in -64.0f64..64.0,
        oy in -64.0f64..64.0,
    ) {
        let n = 1u32 << z;
        let x = ((fx * f64::from(n)) as u32).min(n - 2);
        let y = ((fy * f64::from(n)) as u32).min(n - 2);
        let a = TileCoord::new(u32::from(z), x, y).unwrap();
        let right = TileCoord::new(u32::from(z), x + 1, y).unwrap();
        let below = TileCoord::new(u32::from(z), x, y + 1).unwrap();
        // A point near the south-east corner of `a`.
        let b = a.bounds_m();
        let unit = b.width_m() / 4096.0;
        let p = MercatorPoint {
            x_m: b.max.x_m + ox * unit,
            y_m: b.min.y_m + oy * unit,
        };
        let pa = a.transform().to_tile(p, 128).unwrap();
        let pr = right.transform().to_tile(p, 128).unwrap();
        let pb = below.transform().to_tile(p, 128).unwrap();
        prop_assert_eq!(pa.x - 4096, pr.x);
        prop_assert_eq!(pa.y, pr.y);
        prop_assert_eq!(pa.y - 4096, pb.y);
        prop_assert_eq!(pa.x, pb.x);
    }

    /// Projection into tile units agrees with the slippy-map formula within rounding.
    #[test]
    fn tile_units_agree_with_the_slippy_formula(
        lon in -3.2f64..-2.2,
        lat in 51.2f64..51.7,
        z in 6u8..=18,
    ) {
        let (fx, fy) = slippy(lon, lat, z);
        let t = TileCoord::new(u32::from(z), fx.floor() as u32, fy.floor() as u32).unwrap();
        let p = t.transform().to_tile(MercatorPoint::from_deg(lon, lat), 0).unwrap();
        let ex = (fx - fx.floor()) * 4096.0;
        let ey = (fy - fy.floor()) * 4096.0;
        prop_assert!((f64::from(p.x) - ex).abs() <= 0.5 + 1e-6, "{} vs {ex}", p.x);
        prop_assert!((f64::from(p.y) - ey).abs() <= 0.5 + 1e-6, "{} vs {ey}", p.y);
    }
}
