//! Hexagon layers: the zoom table, cell selection against brute force, properties, winding,
//! clipping of large cells and determinism.

use std::collections::BTreeSet;
use std::f64::consts::PI;

use super::*;
use crate::tiles::coord::TILE_BUFFER;
use crate::tiles::decode_test_support::{DValue, decode};
use crate::tiles::geometry::{TileGeometry, signed_area2};
use h3o::LatLng;

fn res(r: u8) -> Resolution {
    Resolution::try_from(r).unwrap()
}

/// Cells within `k` steps of Bristol city centre.
fn bristol_cells(r: u8, k: u32) -> Vec<CellIndex> {
    let centre = LatLng::new(51.4545, -2.5879).unwrap().to_cell(res(r));
    let mut cells: Vec<CellIndex> = centre.grid_disk(k);
    cells.sort_unstable();
    cells
}

/// Cells within `k` steps of the centre of tile `t`.
fn cells_at_centre(t: TileCoord, r: u8, k: u32) -> Vec<CellIndex> {
    let b = t.bounds_lonlat();
    let lat = f64::midpoint(b.min().lat(), b.max().lat());
    let lon = f64::midpoint(b.min().lon(), b.max().lon());
    let mut cells: Vec<CellIndex> = LatLng::new(lat, lon).unwrap().to_cell(res(r)).grid_disk(k);
    cells.sort_unstable();
    cells
}

fn tile(z: u32, lon: f64, lat: f64) -> TileCoord {
    let (fx, fy) = slippy(lon, lat, z);
    TileCoord::new(z, fx as u32, fy as u32).unwrap()
}

/// Fractional world tile column and row by the slippy-map formula, independent of the code
/// under test.
fn slippy(lon: f64, lat: f64, z: u32) -> (f64, f64) {
    let n = f64::from(1u32 << z);
    let r = lat.to_radians();
    (
        (lon + 180.0) / 360.0 * n,
        (1.0 - (r.tan() + 1.0 / r.cos()).ln() / PI) / 2.0 * n,
    )
}

/// A cell's boundary in fractional units of `t`, computed independently.
fn ring_units(cell: CellIndex, t: TileCoord) -> Vec<(f64, f64)> {
    cell.boundary()
        .iter()
        .map(|ll| {
            let (fx, fy) = slippy(ll.lng(), ll.lat(), u32::from(t.z()));
            (
                (fx - f64::from(t.x())) * 4096.0,
                (fy - f64::from(t.y())) * 4096.0,
            )
        })
        .collect()
}

/// True when the cell's bounding box, computed independently, meets `lo..=hi` on both axes.
fn bbox_meets(cell: CellIndex, t: TileCoord, lo: f64, hi: f64) -> bool {
    let ring = ring_units(cell, t);
    let (x0, x1) = ring
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = ring
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    x1 >= lo && x0 <= hi && y1 >= lo && y0 <= hi
}

fn counts(cells: &[CellIndex]) -> Vec<HexCell<'static>> {
    cells
        .iter()
        .enumerate()
        .map(|(i, &cell)| HexCell {
            cell,
            count: if i % 7 == 3 {
                HexCount::Suppressed
            } else {
                HexCount::Value(5 * (i as u32 % 11))
            },
            extra: &[],
        })
        .collect()
}

fn drawn(bytes: &[u8]) -> Vec<CellIndex> {
    let layers = decode(bytes);
    if layers.is_empty() {
        return Vec::new();
    }
    layers[0]
        .features
        .iter()
        .map(|f| match f.prop("h3") {
            Some(DValue::Str(s)) => s.parse().unwrap(),
            other => panic!("h3 is {other:?}"),
        })
        .collect()
}

#[test]
fn the_zoom_to_resolution_table_of_maps_md_holds() {
    let table = [
        (6, 6),
        (7, 6),
        (8, 7),
        (9, 8),
        (10, 8),
        (11, 9),
        (12, 10),
        (13, 10),
        (14, 11),
    ];
    for (z, r) in table {
        assert_eq!(res_for_zoom(z, res(0), res(15)).unwrap(), res(r), "z {z}");
    }
    // Clamped by the role's finest resolution and the data's coarsest.
    assert_eq!(res_for_zoom(14, res(5), res(8)).unwrap(), res(8));
    assert_eq!(res_for_zoom(0, res(5), res(10)).unwrap(), res(5));
    assert_eq!(res_for_zoom(22, res(0), res(15)).unwrap(), res(15));
    assert_eq!(res_for_zoom(u8::MAX, res(0), res(15)).unwrap(), res(15));
    let err = res_for_zoom(10, res(9), res(8)).unwrap_err();
    assert!(matches!(
        err,
        TilesError::ResolutionRange {
            res_min: 9,
            res_max: 8
        }
    ));
    assert_eq!(err.field(), Some("res"));
}

#[test]
fn the_h3_property_is_the_15_character_lower_case_form() {
    let mut buf = [0u8; 16];
    for r in [0, 5, 9, 10, 15] {
        for cell in bristol_cells(r, 1) {
            let s = h3_hex(cell, &mut buf);
            assert_eq!(s, cell.to_string());
            assert_eq!(s.len(), 15);
            assert!(s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
        }
    }
    let cell: CellIndex = "8819583923fffff".parse().unwrap();
    assert_eq!(h3_hex(cell, &mut buf), "8819583923fffff");
}

#[test]
fn a_city_tile_draws_every_cell_that_reaches_it_and_no_other() {
    let cells = bristol_cells(9, 22);
    let t = tile(12, -2.59, 51.45);
    let boundaries = CellBoundaries::from_cells(cells.iter().copied());
    let out = encode_hexagon_layer("hotspots", t, &counts(&cells), &boundaries).unwrap();
    let got: BTreeSet<CellIndex> = drawn(&out.bytes).into_iter().collect();
    assert_eq!(got.len(), out.feature_count);
    assert!(out.feature_count > 300, "{} cells", out.feature_count);
    let b = f64::from(TILE_BUFFER);
    for &cell in &cells {
        if bbox_meets(cell, t, -b + 0.5, 4096.0 + b - 0.5) {
            assert!(
                got.contains(&cell),
                "{cell} reaches the tile but is missing"
            );
        }
        if !bbox_meets(cell, t, -b - 0.5, 4096.0 + b + 0.5) {
            assert!(!got.contains(&cell), "{cell} is drawn but misses the tile");
        }
    }
}

#[test]
fn hexagon_features_carry_h3_count_and_suppressed_and_no_id() {
    let t = tile(14, -2.5879, 51.4545);
    let cells = cells_at_centre(t, 10, 5);
    let extra = [("rate", PropValue::F64(0.5)), ("bin", PropValue::I64(-2))];
    let mut input = counts(&cells);
    input[0].extra = &extra;
    let out = encode_hexagon_layer("hotspots", t, &input, &CellBoundaries::new()).unwrap();
    let layer = &decode(&out.bytes)[0];
    assert_eq!(layer.name, "hotspots");
    assert_eq!(
        layer.features.len(),
        cells.len(),
        "all cells lie inside the tile"
    );
    for (f, c) in layer.features.iter().zip(&input) {
        assert_eq!(f.id, None);
        assert_eq!(f.prop("h3"), Some(&DValue::Str(c.cell.to_string())));
        match c.count {
            HexCount::Value(v) => {
                assert_eq!(f.props[1], ("count".to_owned(), DValue::U64(u64::from(v))));
                assert_eq!(f.props[2], ("suppressed".to_owned(), DValue::Bool(false)));
            }
            HexCount::Suppressed => {
                assert_eq!(f.prop("count"), None);
                assert_eq!(f.props[1], ("suppressed".to_owned(), DValue::Bool(true)));
            }
        }
    }
    let first = &layer.features[0];
    assert_eq!(first.props[3], ("rate".to_owned(), DValue::F64(0.5)));
    assert_eq!(first.props[4], ("bin".to_owned(), DValue::S64(-2)));
}

#[test]
fn hexagons_are_single_clockwise_rings_at_the_projected_vertices() {
    let t = tile(14, -2.5879, 51.4545);
    let cells = cells_at_centre(t, 10, 5);
    let out = encode_hexagon_layer("h", t, &counts(&cells), &CellBoundaries::new()).unwrap();
    let layer = &decode(&out.bytes)[0];
    assert_eq!(layer.features.len(), cells.len());
    for (f, &cell) in layer.features.iter().zip(&cells) {
        assert_eq!(f.geom_type, 3);
        let parts = f.parts();
        assert_eq!(parts.len(), 1, "one ring per cell");
        let ring = &parts[0].points;
        assert!(
            signed_area2(ring) > 0,
            "{cell}: exterior must be clockwise as drawn"
        );
        let expected = ring_units(cell, t);
        assert_eq!(ring.len(), expected.len());
        for p in ring {
            let near = expected.iter().any(|&(x, y)| {
                (f64::from(p.x) - x).abs() <= 0.5 + 1e-6 && (f64::from(p.y) - y).abs() <= 0.5 + 1e-6
            });
            assert!(
                near,
                "{cell}: vertex {p:?} is not a rounded boundary vertex"
            );
        }
    }
}

#[test]
fn input_order_and_cache_state_do_not_change_the_bytes() {
    let cells = bristol_cells(9, 10);
    let t = tile(13, -2.59, 51.45);
    let input = counts(&cells);
    let cached = CellBoundaries::from_cells(cells.iter().copied());
    let a = encode_hexagon_layer("h", t, &input, &cached).unwrap();
    let mut shuffled = input.clone();
    shuffled.reverse();
    shuffled.rotate_left(17);
    let b = encode_hexagon_layer("h", t, &shuffled, &CellBoundaries::new()).unwrap();
    assert_eq!(a, b);
    let sorted: Vec<CellIndex> = drawn(&a.bytes);
    assert!(
        sorted.windows(2).all(|w| w[0] < w[1]),
        "features in cell order"
    );
}

#[test]
fn bad_hexagon_input_is_refused() {
    let cells = bristol_cells(9, 1);
    let t = tile(13, -2.59, 51.45);
    let b = CellBoundaries::new();
    let mut input = counts(&cells);
    input.push(input[2]);
    assert!(matches!(
        encode_hexagon_layer("h", t, &input, &b),
        Err(TilesError::DuplicateCell { cell }) if cell == cells[2]
    ));
    let extra = [("count", PropValue::I64(1))];
    let mut input = counts(&cells);
    input[1].extra = &extra;
    assert!(matches!(
        encode_hexagon_layer("h", t, &input, &b),
        Err(TilesError::DuplicateProperty { ref key }) if key == "count"
    ));
    assert!(matches!(
        encode_hexagon_layer("", t, &[], &b),
        Err(TilesError::EmptyLayerName)
    ));
}

#[test]
fn no_cells_or_cells_elsewhere_give_an_empty_layer() {
    let t = tile(13, -2.59, 51.45);
    let b = CellBoundaries::new();
    assert!(encode_hexagon_layer("h", t, &[], &b).unwrap().is_empty());
    let london = LatLng::new(51.5, -0.12).unwrap().to_cell(res(9));
    let input = counts(&[london]);
    let out = encode_hexagon_layer("h", t, &input, &b).unwrap();
    assert!(out.is_empty());
    assert_eq!(decode(&out.bytes)[0].features.len(), 0);
}

#[test]
fn a_coarse_cell_at_high_zoom_is_clipped_to_the_buffered_tile() {
    let cell = LatLng::new(51.4545, -2.5879).unwrap().to_cell(res(5));
    let t = tile(17, -2.5879, 51.4545);
    let out = encode_hexagon_layer("h", t, &counts(&[cell]), &CellBoundaries::new()).unwrap();
    let f = &decode(&out.bytes)[0].features[0];
    let TileGeometry::Polygons(p) = f.geometry() else {
        panic!("not a polygon");
    };
    let mut ring = p[0].exterior.clone();
    ring.sort_unstable();
    let corners = [(-64, -64), (-64, 4160), (4160, -64), (4160, 4160)];
    let expected: Vec<TilePoint> = corners.iter().map(|&(x, y)| TilePoint::new(x, y)).collect();
    assert_eq!(ring, expected, "the tile lies inside the cell");
}

#[test]
fn a_cell_near_a_tile_edge_is_clipped_only_when_it_reaches_far_beyond() {
    // Res-8 cells at zoom 14 span about half a tile: never clipped, even on an edge.
    let t = tile(14, -2.5879, 51.4545);
    let cells = bristol_cells(8, 6);
    let out = encode_hexagon_layer("h", t, &counts(&cells), &CellBoundaries::new()).unwrap();
    let layer = &decode(&out.bytes)[0];
    let mut outside = 0;
    for f in &layer.features {
        let ring = &f.parts()[0].points;
        assert_eq!(ring.len(), 6, "whole hexagons");
        outside += usize::from(
            ring.iter()
                .any(|p| p.x < -64 || p.x > 4160 || p.y < -64 || p.y > 4160),
        );
    }
    assert!(
        outside > 0,
        "some hexagons reach beyond the buffer, unclipped"
    );
}

#[test]
fn fine_cells_at_low_zoom_collapse_and_are_dropped() {
    let cells = bristol_cells(10, 3);
    let t = tile(2, -2.59, 51.45);
    let out = encode_hexagon_layer("h", t, &counts(&cells), &CellBoundaries::new()).unwrap();
    assert!(out.is_empty());
}

#[test]
fn a_cell_on_a_tile_edge_is_drawn_whole_in_both_tiles_at_matching_positions() {
    let left = tile(14, -2.5879, 51.4545);
    let right = TileCoord::new(14, left.x() + 1, left.y()).unwrap();
    let cells = bristol_cells(10, 30);
    let b = CellBoundaries::from_cells(cells.iter().copied());
    let input = counts(&cells);
    let la = &decode(&encode_hexagon_layer("h", left, &input, &b).unwrap().bytes)[0];
    let ra = &decode(&encode_hexagon_layer("h", right, &input, &b).unwrap().bytes)[0];
    let mut shared = 0;
    for f in &la.features {
        let Some(g) = ra.features.iter().find(|g| g.prop("h3") == f.prop("h3")) else {
            continue;
        };
        shared += 1;
        let (p, q) = (&f.parts()[0].points, &g.parts()[0].points);
        assert_eq!(p.len(), q.len());
        for (a, b) in p.iter().zip(q) {
            assert_eq!((a.x - 4096, a.y), (b.x, b.y));
        }
    }
    assert!(shared > 5, "{shared} cells straddle the edge");
}

#[test]
fn the_centroid_index_finds_a_superset_of_the_drawn_cells() {
    let cells = bristol_cells(10, 40);
    let mut boundaries = CellBoundaries::new();
    let index = HexCellIndex::build(cells.iter().copied(), &mut boundaries);
    assert_eq!(index.len(), cells.len());
    assert_eq!(boundaries.len(), cells.len());
    let all = counts(&cells);
    let centre = tile(14, -2.5879, 51.4545);
    let mut candidates = Vec::new();
    for dx in 0..3 {
        for dy in 0..3 {
            let t = TileCoord::new(14, centre.x() + dx - 1, centre.y() + dy - 1).unwrap();
            index.cells_for_tile(t, &mut candidates);
            assert!(candidates.windows(2).all(|w| w[0] < w[1]));
            let subset: Vec<HexCell<'_>> = all
                .iter()
                .filter(|c| candidates.binary_search(&c.cell).is_ok())
                .copied()
                .collect();
            let from_all = encode_hexagon_layer("h", t, &all, &boundaries).unwrap();
            let from_index = encode_hexagon_layer("h", t, &subset, &boundaries).unwrap();
            assert_eq!(from_all, from_index, "tile {t}");
            assert!(candidates.len() < cells.len() / 2);
        }
    }
}

#[test]
fn the_search_box_holds_the_centre_of_every_drawn_cell() {
    for (z, r, k) in [(11u32, 9u8, 40u32), (13, 10, 40), (14, 8, 12), (9, 7, 8)] {
        let t = tile(z, -2.60, 51.46);
        let cells = bristol_cells(r, k);
        let out = encode_hexagon_layer("h", t, &counts(&cells), &CellBoundaries::new()).unwrap();
        let bbox = hex_search_bbox(t, res(r));
        for cell in drawn(&out.bytes) {
            let c = LatLng::from(cell);
            assert!(bbox.contains_raw(c.lng(), c.lat()), "{cell} at z{z} r{r}");
        }
    }
}

/// Great-circle distance in metres on H3's sphere.
fn haversine_m(a: LatLng, b: LatLng) -> f64 {
    let (p1, p2) = (a.lat_radians(), b.lat_radians());
    let dlat = p2 - p1;
    let dlon = (b.lng() - a.lng()).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6_371_007.180_918_475 * h.sqrt().asin()
}

#[test]
fn twice_the_average_edge_bounds_every_cells_radius_around_the_globe() {
    for r in 0..=10u8 {
        let bound = 2.0 * res(r).edge_length_m();
        let mut worst = 0.0_f64;
        for i in 0..36 {
            for j in 0..17 {
                let ll =
                    LatLng::new(-80.0 + 10.0 * f64::from(j), -175.0 + 10.0 * f64::from(i)).unwrap();
                let cell = ll.to_cell(res(r));
                let c = LatLng::from(cell);
                for v in cell.boundary().iter() {
                    worst = worst.max(haversine_m(c, *v) / bound);
                }
            }
        }
        // Pentagons and their neighbours too.
        for p in CellIndex::base_cells().filter(|c| c.is_pentagon()) {
            let cell = p.center_child(res(r)).unwrap();
            let c = LatLng::from(cell);
            for v in cell.boundary().iter() {
                worst = worst.max(haversine_m(c, *v) / bound);
            }
        }
        assert!(worst < 1.0, "res {r}: a cell reaches {worst} of the bound");
    }
}

#[test]
fn a_tiles_children_draw_no_cell_the_tile_does_not() {
    let cells = bristol_cells(9, 25);
    let b = CellBoundaries::from_cells(cells.iter().copied());
    let input = counts(&cells);
    let parent = tile(12, -2.59, 51.45);
    let in_parent: BTreeSet<CellIndex> =
        drawn(&encode_hexagon_layer("h", parent, &input, &b).unwrap().bytes)
            .into_iter()
            .collect();
    let mut in_children = BTreeSet::new();
    for child in parent.children().unwrap() {
        let got = drawn(&encode_hexagon_layer("h", child, &input, &b).unwrap().bytes);
        in_children.extend(got);
    }
    assert!(in_children.is_subset(&in_parent));
    // Every cell meeting the parent proper (not just its buffer) is in some child.
    for &cell in &in_parent {
        if bbox_meets(cell, parent, 0.5, 4095.5) {
            assert!(in_children.contains(&cell), "{cell}");
        }
    }
}

#[test]
fn the_boundary_cache_computes_once_and_falls_back() {
    let cells = bristol_cells(9, 2);
    let mut b = CellBoundaries::from_cells(cells.iter().copied());
    assert_eq!(b.len(), cells.len());
    assert!(!b.is_empty());
    assert!(b.heap_bytes() > cells.len() * 6 * 16);
    let first = b.get(cells[0]).unwrap().clone();
    assert_eq!(b.insert(cells[0]), &first);
    assert_eq!(b.len(), cells.len());
    let other = LatLng::new(51.5, -0.12).unwrap().to_cell(res(9));
    assert!(b.get(other).is_none());
    assert!(matches!(b.shape(other), Cow::Owned(_)));
    assert!(matches!(b.shape(cells[0]), Cow::Borrowed(_)));
    let shape = b.shape(cells[0]);
    assert_eq!(shape.ring_m().len(), 6);
    let bb = shape.bounds_m();
    assert!(shape.ring_m().iter().all(|p| {
        p.x_m >= bb.min.x_m && p.x_m <= bb.max.x_m && p.y_m >= bb.min.y_m && p.y_m <= bb.max.y_m
    }));
}

#[test]
fn a_published_count_converts_to_a_hex_count() {
    assert_eq!(HexCount::from(Published::Value(10)), HexCount::Value(10));
    assert_eq!(HexCount::from(Published::Suppressed), HexCount::Suppressed);
}
