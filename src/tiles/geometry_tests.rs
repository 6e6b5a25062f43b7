//! Clipping, rounding, cleaning and winding, checked on named cases and against brute force.

use super::*;
use crate::tiles::coord::{MercatorBox, TileCoord};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        rng_seed: RngSeed::Fixed(0xC11B_0C5E),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The Bristol tile at zoom 14 and a way to write points in its fractional units.
fn tile() -> TileCoord {
    TileCoord::new(14, 8074, 5452).unwrap()
}

/// The Mercator point at fractional tile units `(x, y)` of [`tile`].
fn at(x: f64, y: f64) -> MercatorPoint {
    let b: MercatorBox = tile().bounds_m();
    let unit = b.width_m() / 4096.0;
    MercatorPoint {
        x_m: b.min.x_m + x * unit,
        y_m: b.max.y_m - y * unit,
    }
}

fn pts(v: &[(i32, i32)]) -> Vec<TilePoint> {
    v.iter().map(|&(x, y)| TilePoint::new(x, y)).collect()
}

fn lines(input: &[&[(f64, f64)]]) -> Option<TileGeometry> {
    let owned: Vec<Vec<MercatorPoint>> = input
        .iter()
        .map(|l| l.iter().map(|&(x, y)| at(x, y)).collect())
        .collect();
    prepare_lines(tile().transform(), owned.iter().map(Vec::as_slice))
}

fn polygon(exterior: &[(f64, f64)], holes: &[&[(f64, f64)]]) -> MercatorPolygon {
    MercatorPolygon {
        exterior: exterior.iter().map(|&(x, y)| at(x, y)).collect(),
        holes: holes
            .iter()
            .map(|h| h.iter().map(|&(x, y)| at(x, y)).collect())
            .collect(),
    }
}

fn polygons(input: &[MercatorPolygon]) -> Option<TileGeometry> {
    prepare_polygons(tile().transform(), input)
}

#[test]
fn points_outside_the_buffer_and_non_finite_points_are_dropped() {
    let input = [
        at(10.2, 20.7),
        at(-63.9, 4159.9),
        at(-64.6, 100.0),
        MercatorPoint {
            x_m: f64::NAN,
            y_m: 0.0,
        },
        at(5000.0, 5.0),
        at(4095.6, 0.4),
    ];
    let g = prepare_points(tile().transform(), input).unwrap();
    assert_eq!(
        g,
        TileGeometry::Points(pts(&[(10, 21), (-64, 4160), (4096, 0)]))
    );
    assert_eq!(prepare_points(tile().transform(), [at(9000.0, 0.0)]), None);
    assert_eq!(prepare_points(tile().transform(), []), None);
}

#[test]
fn a_line_inside_the_tile_is_only_rounded() {
    let g = lines(&[&[(10.4, 10.6), (100.0, 200.0), (300.2, 50.0)]]).unwrap();
    assert_eq!(
        g,
        TileGeometry::Lines(vec![pts(&[(10, 11), (100, 200), (300, 50)])])
    );
}

#[test]
fn a_line_crossing_the_tile_is_cut_at_the_buffer_edges() {
    let g = lines(&[&[(-1000.0, 2048.0), (5000.0, 2048.0)]]).unwrap();
    assert_eq!(
        g,
        TileGeometry::Lines(vec![pts(&[(-64, 2048), (4160, 2048)])])
    );
    // Diagonal through a corner region: the cut points lie on the box edges.
    let g = lines(&[&[(-164.0, -64.0), (4196.0, 4296.0)]]).unwrap();
    assert_eq!(
        g,
        TileGeometry::Lines(vec![pts(&[(-64, 36), (4060, 4160)])])
    );
}

#[test]
fn a_line_that_leaves_and_comes_back_becomes_two_parts() {
    let g = lines(&[&[
        (100.0, 100.0),
        (100.0, -500.0),
        (300.0, -500.0),
        (300.0, 100.0),
    ]])
    .unwrap();
    assert_eq!(
        g,
        TileGeometry::Lines(vec![
            pts(&[(100, 100), (100, -64)]),
            pts(&[(300, -64), (300, 100)]),
        ])
    );
}

#[test]
fn lines_outside_degenerate_or_non_finite_are_dropped() {
    assert_eq!(lines(&[&[(-500.0, 0.0), (-100.0, 4000.0)]]), None);
    // Collapses to one unit after rounding.
    assert_eq!(lines(&[&[(10.1, 10.1), (10.3, 9.8), (9.9, 10.2)]]), None);
    assert_eq!(lines(&[&[(10.0, 10.0)]]), None);
    assert_eq!(lines(&[]), None);
    // A NaN vertex is skipped and its neighbours joined; duplicates after rounding go.
    let l = [
        at(0.0, 0.0),
        MercatorPoint {
            x_m: f64::NAN,
            y_m: 1.0,
        },
        at(0.2, 0.2),
        at(50.0, 0.0),
    ];
    let g = prepare_lines(tile().transform(), [l.as_slice()]).unwrap();
    assert_eq!(g, TileGeometry::Lines(vec![pts(&[(0, 0), (50, 0)])]));
    // A line running exactly along the buffer edge is kept (the box is closed).
    let mut parts = Vec::new();
    let edge = [Fxy { x: -64.0, y: 0.0 }, Fxy { x: -64.0, y: 100.0 }];
    clip_line(&edge, clip_box(), &mut parts);
    assert_eq!(parts, vec![pts(&[(-64, 0), (-64, 100)])]);
}

#[test]
fn an_exterior_ring_comes_out_clockwise_whatever_the_input_winding() {
    let square = [(10.0, 10.0), (110.0, 10.0), (110.0, 110.0), (10.0, 110.0)];
    let expected = TileGeometry::Polygons(vec![TilePolygon {
        exterior: pts(&[(10, 10), (110, 10), (110, 110), (10, 110)]),
        holes: vec![],
    }]);
    assert_eq!(polygons(&[polygon(&square, &[])]), Some(expected.clone()));
    let mut reversed = square;
    reversed.reverse();
    let TileGeometry::Polygons(p) = polygons(&[polygon(&reversed, &[])]).unwrap() else {
        panic!("not a polygon");
    };
    assert!(signed_area2(&p[0].exterior) > 0);
    assert_eq!(signed_area2(&p[0].exterior), 2 * 100 * 100);
}

#[test]
fn a_lon_lat_ring_in_geojson_winding_is_flipped_to_mvt_winding() {
    // RFC 7946: exterior rings counter-clockwise in lon/lat. Projection to y-down flips it.
    let bounds = tile().bounds_lonlat();
    let (west, south) = (bounds.min().lon(), bounds.min().lat());
    let (east, north) = (bounds.max().lon(), bounds.max().lat());
    let (dx, dy) = ((east - west) / 4.0, (north - south) / 4.0);
    let ring: Vec<MercatorPoint> = [
        (west + dx, south + dy),
        (east - dx, south + dy),
        (east - dx, north - dy),
        (west + dx, north - dy),
        (west + dx, south + dy),
    ]
    .iter()
    .map(|&(lon, lat)| MercatorPoint::from_deg(lon, lat))
    .collect();
    let poly = MercatorPolygon {
        exterior: ring,
        holes: vec![],
    };
    let TileGeometry::Polygons(out) = polygons(&[poly]).unwrap() else {
        panic!("not a polygon");
    };
    assert!(signed_area2(&out[0].exterior) > 0);
    assert_eq!(out[0].exterior.len(), 4, "the closing vertex is dropped");
}

#[test]
fn holes_wind_the_other_way_and_go_with_their_exterior() {
    let outer = [(0.0, 0.0), (1000.0, 0.0), (1000.0, 1000.0), (0.0, 1000.0)];
    let hole = [
        (100.0, 100.0),
        (200.0, 100.0),
        (200.0, 200.0),
        (100.0, 200.0),
    ];
    let far_hole = [(-900.0, -900.0), (-800.0, -900.0), (-800.0, -800.0)];
    let TileGeometry::Polygons(p) = polygons(&[polygon(&outer, &[&hole, &far_hole])]).unwrap()
    else {
        panic!("not a polygon");
    };
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].holes.len(), 1, "the hole outside the tile is dropped");
    assert!(signed_area2(&p[0].exterior) > 0);
    assert!(signed_area2(&p[0].holes[0]) < 0);
    // An exterior outside the tile takes its holes with it.
    let away = [(-900.0, -900.0), (-700.0, -900.0), (-700.0, -700.0)];
    assert_eq!(polygons(&[polygon(&away, &[&hole])]), None);
}

#[test]
fn a_polygon_larger_than_the_tile_becomes_the_buffered_square() {
    let big = [
        (-9000.0, -9000.0),
        (9000.0, -9000.0),
        (9000.0, 9000.0),
        (-9000.0, 9000.0),
    ];
    let TileGeometry::Polygons(p) = polygons(&[polygon(&big, &[])]).unwrap() else {
        panic!("not a polygon");
    };
    let mut ring = p[0].exterior.clone();
    ring.sort_unstable();
    assert_eq!(
        ring,
        pts(&[(-64, -64), (-64, 4160), (4160, -64), (4160, 4160)])
    );
}

#[test]
fn degenerate_polygons_are_dropped() {
    // Collinear.
    assert_eq!(
        polygons(&[polygon(&[(0.0, 0.0), (10.0, 10.0), (20.0, 20.0)], &[])]),
        None
    );
    // Smaller than a unit.
    assert_eq!(
        polygons(&[polygon(&[(5.1, 5.1), (5.3, 5.1), (5.3, 5.3)], &[])]),
        None
    );
    // Two vertices, and empty.
    assert_eq!(polygons(&[polygon(&[(0.0, 0.0), (10.0, 10.0)], &[])]), None);
    assert_eq!(polygons(&[]), None);
    // NaN vertices are skipped; what is left still makes a triangle.
    let mut p = polygon(&[(0.0, 0.0), (100.0, 0.0), (100.0, 100.0)], &[]);
    p.exterior.insert(
        1,
        MercatorPoint {
            x_m: f64::INFINITY,
            y_m: f64::NAN,
        },
    );
    let TileGeometry::Polygons(out) = polygons(&[p]).unwrap() else {
        panic!("not a polygon");
    };
    assert_eq!(out[0].exterior.len(), 3);
}

// ---------------------------------------------------------------------------------------------
// Brute force.

fn in_box(p: Fxy, lo: f64, hi: f64) -> bool {
    p.x >= lo && p.x <= hi && p.y >= lo && p.y <= hi
}

fn dist_to_segment(p: Fxy, a: Fxy, b: Fxy) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 {
        0.0
    } else {
        (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0)
    };
    let (qx, qy) = (a.x + t * dx, a.y + t * dy);
    ((p.x - qx).powi(2) + (p.y - qy).powi(2)).sqrt()
}

fn dist_to_polyline(p: Fxy, line: &[Fxy]) -> f64 {
    if line.len() == 1 {
        return dist_to_segment(p, line[0], line[0]);
    }
    line.windows(2)
        .map(|w| dist_to_segment(p, w[0], w[1]))
        .fold(f64::INFINITY, f64::min)
}

fn as_f(p: TilePoint) -> Fxy {
    Fxy {
        x: f64::from(p.x),
        y: f64::from(p.y),
    }
}

fn any_coord() -> impl Strategy<Value = f64> {
    // Around the tile, often outside it, sometimes exactly on the buffer edge.
    prop_oneof![
        8 => -2000.0f64..6000.0,
        1 => Just(-64.0),
        1 => Just(4160.0),
    ]
}

fn any_line() -> impl Strategy<Value = Vec<Fxy>> {
    proptest::collection::vec((any_coord(), any_coord()), 2..12)
        .prop_map(|v| v.into_iter().map(|(x, y)| Fxy { x, y }).collect())
}

/// A star-shaped (hence simple) polygon around a centre, with random radii.
fn any_star() -> impl Strategy<Value = Vec<Fxy>> {
    (
        -1000.0f64..5000.0,
        -1000.0f64..5000.0,
        proptest::collection::vec(50.0f64..3000.0, 3..16),
    )
        .prop_map(|(cx, cy, radii)| {
            let n = radii.len() as f64;
            radii
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let a = std::f64::consts::TAU * i as f64 / n;
                    Fxy {
                        x: cx + r * a.cos(),
                        y: cy + r * a.sin(),
                    }
                })
                .collect()
        })
}

/// Even-odd point in polygon over several rings.
fn inside_rings(p: Fxy, rings: &[Vec<Fxy>]) -> bool {
    let mut inside = false;
    for ring in rings {
        let n = ring.len();
        for i in 0..n {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
                inside = !inside;
            }
        }
    }
    inside
}

fn dist_to_ring(p: Fxy, ring: &[Fxy]) -> f64 {
    let n = ring.len();
    (0..n)
        .map(|i| dist_to_segment(p, ring[i], ring[(i + 1) % n]))
        .fold(f64::INFINITY, f64::min)
}

proptest! {
    #![proptest_config(config())]

    /// Clipped lines stay in the box, follow the input within rounding, and cover every part
    /// of the input that lies in the box.
    #[test]
    fn line_clipping_matches_brute_force_sampling(line in any_line()) {
        let bx = clip_box();
        let mut parts = Vec::new();
        clip_line(&line, bx, &mut parts);
        let out: Vec<Vec<Fxy>> = parts
            .iter()
            .map(|p| p.iter().map(|&q| as_f(q)).collect())
            .collect();
        for part in &parts {
            prop_assert!(part.len() >= 2);
            for w in part.windows(2) {
                prop_assert_ne!(w[0], w[1], "consecutive duplicates");
            }
            for &q in part {
                prop_assert!(in_box(as_f(q), bx.lo, bx.hi), "{q:?} outside the box");
            }
        }
        // Every output vertex lies on the input within rounding (half a unit on each axis).
        for part in &out {
            for &q in part {
                prop_assert!(dist_to_polyline(q, &line) <= 0.75, "{q:?} is off the input");
            }
        }
        // Every sample of the input inside the box is near the output, except on pieces
        // shorter than two units, which rounding may collapse to a point and drop.
        for w in line.windows(2) {
            let piece = clip_segment(w[0], w[1], bx).map_or(0.0, |(t0, t1)| {
                (t1 - t0) * ((w[1].x - w[0].x).powi(2) + (w[1].y - w[0].y).powi(2)).sqrt()
            });
            if piece < 2.0 {
                continue;
            }
            for k in 0..=200 {
                let t = f64::from(k) / 200.0;
                let s = Fxy { x: w[0].x + (w[1].x - w[0].x) * t, y: w[0].y + (w[1].y - w[0].y) * t };
                if in_box(s, bx.lo, bx.hi) {
                    let d = out
                        .iter()
                        .map(|p| dist_to_polyline(s, p))
                        .fold(f64::INFINITY, f64::min);
                    // Rounding moves vertices by up to 0.71; a part shorter than one unit may
                    // vanish, leaving samples within about 1.5 units of what remains.
                    prop_assert!(d <= 1.5, "sample {s:?} is {d} from the output");
                }
            }
        }
    }

    /// A clipped polygon holds exactly the grid points that are in both the input and the
    /// box, away from the edges where rounding may move the boundary; its exterior is
    /// clockwise as drawn.
    #[test]
    fn polygon_clipping_matches_brute_force_point_in_polygon(star in any_star()) {
        let bx = clip_box();
        let mut work = ClipScratch::default();
        let Some(ring) = clip_ring(&star, bx, true, &mut work) else {
            // Nothing left: no grid point well inside both may exist.
            for gx in (-64..=4160).step_by(97) {
                for gy in (-64..=4160).step_by(97) {
                    let p = Fxy { x: f64::from(gx), y: f64::from(gy) };
                    let clear = dist_to_ring(p, &star) > 2.0;
                    prop_assert!(!(clear && inside_rings(p, std::slice::from_ref(&star))));
                }
            }
            return Ok(());
        };
        prop_assert!(signed_area2(&ring) > 0);
        for &q in &ring {
            prop_assert!(in_box(as_f(q), bx.lo, bx.hi));
        }
        let out: Vec<Fxy> = ring.iter().map(|&q| as_f(q)).collect();
        for gx in (-80..=4180).step_by(37) {
            for gy in (-80..=4180).step_by(41) {
                let p = Fxy { x: f64::from(gx) + 0.25, y: f64::from(gy) + 0.25 };
                let near_edge = dist_to_ring(p, &star) <= 2.0
                    || (p.x - bx.lo).abs() <= 2.0
                    || (p.x - bx.hi).abs() <= 2.0
                    || (p.y - bx.lo).abs() <= 2.0
                    || (p.y - bx.hi).abs() <= 2.0;
                if near_edge {
                    continue;
                }
                let expected =
                    inside_rings(p, std::slice::from_ref(&star)) && in_box(p, bx.lo, bx.hi);
                prop_assert_eq!(inside_rings(p, std::slice::from_ref(&out)), expected, "at {:?}", p);
            }
        }
    }

    /// Holes always come out with the opposite winding to their exterior.
    #[test]
    fn prepared_rings_have_mvt_winding(star in any_star(), flip in any::<bool>()) {
        let mut ring = star;
        if flip {
            ring.reverse();
        }
        let mut work = ClipScratch::default();
        if let Some(ext) = clip_ring(&ring, clip_box(), true, &mut work) {
            prop_assert!(signed_area2(&ext) > 0);
        }
        if let Some(hole) = clip_ring(&ring, clip_box(), false, &mut work) {
            prop_assert!(signed_area2(&hole) < 0);
        }
    }
}
