#![expect(clippy::float_cmp, reason = "counts are whole numbers, exact in f64")]

use approx::assert_relative_eq;
use geo::{LineString, MultiPolygon, Polygon};

use super::*;

/// The esda documentation example (`analytics.md` §10.2): distance band 15, binary weights.
fn esda_example() -> (Vec<f64>, Neighbours) {
    let pts = [
        (10.0, 10.0),
        (20.0, 10.0),
        (40.0, 10.0),
        (15.0, 20.0),
        (30.0, 20.0),
        (30.0, 30.0),
    ];
    let lists: Vec<Vec<u32>> = pts
        .iter()
        .map(|a: &(f64, f64)| {
            pts.iter()
                .enumerate()
                .filter(|(_, b)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt() <= 15.0)
                .map(|(j, _)| j as u32)
                .collect()
        })
        .collect();
    (
        vec![2.0, 3.0, 3.2, 5.0, 8.0, 7.0],
        Neighbours::from_lists(&lists).unwrap(),
    )
}

#[test]
fn the_esda_example_gives_the_published_z_and_p() {
    let (values, w) = esda_example();
    let (z, stats) = gistar_z(&values, &w).unwrap();
    let want_z = [
        -1.397_276_26,
        -0.289_177_62,
        0.650_649_64,
        -0.289_177_62,
        1.234_520_88,
        2.024_243_31,
    ];
    let want_p = [
        0.162_331, 0.772_445, 0.515_273, 0.772_445, 0.217_009, 0.042_945,
    ];
    assert_eq!(stats.n, 6);
    for i in 0..6 {
        let zi = z[i].unwrap();
        assert_relative_eq!(zi, want_z[i], epsilon = 1e-8);
        assert_relative_eq!(two_sided_p(zi), want_p[i], max_relative = 2e-5);
    }
}

#[test]
fn two_sided_p_is_accurate_far_in_the_tail() {
    assert_relative_eq!(two_sided_p(0.0), 1.0);
    assert_relative_eq!(
        two_sided_p(1.959_963_984_540_054),
        0.05,
        max_relative = 1e-12
    );
    assert_relative_eq!(
        two_sided_p(-2.575_829_303_548_901),
        0.01,
        max_relative = 1e-12
    );
    // 2 * norm.sf(10) from scipy.
    assert_relative_eq!(
        two_sided_p(10.0),
        1.523_970_604_832_105e-23,
        max_relative = 1e-12
    );
}

#[test]
fn all_equal_values_give_undefined_z_and_a_warning() {
    let (_, w) = esda_example();
    let (z, stats) = gistar_z(&[4.0; 6], &w).unwrap();
    assert!(z.iter().all(Option::is_none));
    let mut warnings = Vec::new();
    add_warnings(&mut warnings, &stats, &z, &w);
    assert!(warnings.iter().any(|m| m.contains("S = 0")));
    // 0.1 is not exactly representable: the rounding noise must not count as variance.
    let (z, _) = gistar_z(&[0.1; 6], &w).unwrap();
    assert!(z.iter().all(Option::is_none));
}

#[test]
fn an_island_and_a_cell_neighbouring_everything_have_undefined_z() {
    // Cell 0 neighbours everyone (W = n); cell 3 is an island.
    let lists = vec![vec![0, 1, 2, 3], vec![0, 1, 2], vec![0, 1, 2], vec![0, 3]];
    let w = Neighbours::from_lists(&lists).unwrap();
    let (z, _) = gistar_z(&[1.0, 2.0, 5.0, 0.0], &w).unwrap();
    assert!(z[0].is_none());
    assert!(z[1].is_some() && z[2].is_some() && z[3].is_some());
    let lists = vec![vec![0], vec![1, 2], vec![1, 2]];
    let w = Neighbours::from_lists(&lists).unwrap();
    let (z, _) = gistar_z(&[1.0, 2.0, 5.0], &w).unwrap();
    assert!(z[0].is_none());
}

#[test]
fn empty_and_single_inputs_do_not_panic() {
    let w = Neighbours::from_lists(&[]).unwrap();
    let (z, stats) = gistar_z(&[], &w).unwrap();
    assert!(z.is_empty());
    assert_eq!(stats.n, 0);
    let w = Neighbours::from_lists(&[vec![0]]).unwrap();
    let (z, _) = gistar_z(&[3.0], &w).unwrap();
    assert_eq!(z, vec![None]);
    assert!(gistar_z(&[1.0, 2.0], &w).is_err());
}

fn res9() -> Resolution {
    Resolution::Nine
}

fn bristol_box() -> Bbox {
    Bbox::from_coords(-2.62, 51.44, -2.57, 51.47).unwrap()
}

#[test]
fn a_box_universe_holds_exactly_the_cells_whose_centre_is_inside() {
    let bbox = bristol_box();
    let u = CellUniverse::in_box(bbox, res9(), DEFAULT_MAX_CELLS).unwrap();
    assert!(u.len() > 100);
    for c in u.cells() {
        let p = cell_centre(*c);
        assert!(bbox.contains(p));
    }
    // Every neighbour of a kept cell that is not kept has its centre outside.
    for c in u.cells() {
        for d in c.grid_disk::<Vec<CellIndex>>(1) {
            if u.position(d).is_none() {
                assert!(!bbox.contains(cell_centre(d)));
            }
        }
    }
}

#[test]
fn a_polygon_universe_respects_holes() {
    let outer = LineString::from(vec![
        (-2.62, 51.44),
        (-2.57, 51.44),
        (-2.57, 51.47),
        (-2.62, 51.47),
        (-2.62, 51.44),
    ]);
    let hole = LineString::from(vec![
        (-2.60, 51.45),
        (-2.59, 51.45),
        (-2.59, 51.46),
        (-2.60, 51.46),
        (-2.60, 51.45),
    ]);
    let area = MultiPolygon(vec![Polygon::new(outer, vec![hole])]);
    let u = CellUniverse::in_polygons(&area, "test", res9(), DEFAULT_MAX_CELLS).unwrap();
    let full = CellUniverse::in_box(bristol_box(), res9(), DEFAULT_MAX_CELLS).unwrap();
    assert!(u.len() < full.len());
    for c in u.cells() {
        let p = cell_centre(*c);
        let in_hole = (-2.60..=-2.59).contains(&p.lon()) && (51.45..=51.46).contains(&p.lat());
        assert!(!in_hole);
    }
    assert_eq!(
        full.len() - u.len(),
        full.cells()
            .iter()
            .filter(|c| {
                let p = cell_centre(**c);
                (-2.60..-2.59).contains(&p.lon()) && (51.45..51.46).contains(&p.lat())
            })
            .count()
    );
}

#[test]
fn the_data_extent_includes_every_points_cell() {
    let pts: Vec<LonLat> = (0..50)
        .map(|i| {
            LonLat::new(
                -2.6 + f64::from(i % 7) * 0.003,
                51.45 + f64::from(i % 5) * 0.002,
            )
            .unwrap()
        })
        .collect();
    let u = CellUniverse::data_extent(pts.iter().copied(), res9(), DEFAULT_MAX_CELLS).unwrap();
    for p in &pts {
        assert!(u.position(cell_of(*p, res9())).is_some());
    }
    assert!(CellUniverse::data_extent([], res9(), DEFAULT_MAX_CELLS).is_err());
}

#[test]
fn one_stray_point_is_refused_rather_than_building_millions_of_cells() {
    let pts = [
        LonLat::new(-2.6, 51.45).unwrap(),
        LonLat::new(10.0, 45.0).unwrap(),
    ];
    let err = CellUniverse::data_extent(pts, Resolution::Ten, 100_000).unwrap_err();
    assert!(matches!(err, AnalysisError::TooManyCells { .. }));
}

#[test]
fn neighbours_are_the_disk_within_the_universe_including_self() {
    let u = CellUniverse::in_box(bristol_box(), res9(), DEFAULT_MAX_CELLS).unwrap();
    let w = Neighbours::grid_disk(&u, 1).unwrap();
    let mut interior = 0;
    for (i, c) in u.cells().iter().enumerate() {
        let of = w.of(i);
        assert!(of.contains(&(i as u32)));
        let expect = c
            .grid_disk::<Vec<CellIndex>>(1)
            .into_iter()
            .filter(|d| u.position(*d).is_some())
            .count();
        assert_eq!(of.len(), expect);
        if of.len() == 7 {
            interior += 1;
        }
    }
    assert!(interior > u.len() / 2);
    assert!(Neighbours::grid_disk(&u, 51).is_err());
}

#[test]
fn hotspots_find_a_planted_cluster_and_echo_their_settings() {
    let u = CellUniverse::in_box(bristol_box(), res9(), DEFAULT_MAX_CELLS).unwrap();
    let centre = cell_of(LonLat::new(-2.595, 51.455).unwrap(), res9());
    let mut counts: Vec<(CellIndex, f64)> = u
        .cells()
        .iter()
        .enumerate()
        .map(|(i, c)| (*c, (i % 3) as f64))
        .collect();
    for c in centre.grid_disk::<Vec<CellIndex>>(1) {
        counts.push((c, 30.0));
    }
    // One count outside the universe.
    counts.push((cell_of(LonLat::new(-2.0, 51.0).unwrap(), res9()), 2.0));
    let r = hotspots(&u, &counts, &GiStarSettings::default(), None).unwrap();
    let row = r.cells.iter().find(|c| c.h3 == centre).unwrap();
    assert_eq!(row.bin, 3);
    assert_eq!(row.n_neighbours, 7);
    assert_eq!(r.summary.outside_area, 2.0);
    assert_eq!(r.settings.k, 1);
    assert_eq!(r.settings.correction, "fdr_arcgis");
    assert_eq!(r.cells.len(), u.len());
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["cells"][0]["h3"].as_str().unwrap().len(), 15);
    assert!(json["settings"]["software_version"].is_string());
}

#[test]
fn hotspots_on_an_empty_universe_or_no_counts_are_defined() {
    let u = CellUniverse::from_cells(res9(), []).unwrap();
    let r = hotspots(&u, &[], &GiStarSettings::default(), None).unwrap();
    assert!(r.cells.is_empty());
    let u = CellUniverse::in_box(bristol_box(), res9(), DEFAULT_MAX_CELLS).unwrap();
    let r = hotspots(&u, &[], &GiStarSettings::default(), None).unwrap();
    assert!(r.cells.iter().all(|c| c.z.is_none() && c.bin == 0));
    assert!(r.warnings.iter().any(|w| w.contains("S = 0")));
    // JSON carries null for undefined z.
    let json = serde_json::to_value(&r).unwrap();
    assert!(json["cells"][0]["z"].is_null());
}

#[test]
fn rates_mask_low_population_cells() {
    let u = CellUniverse::in_box(bristol_box(), res9(), DEFAULT_MAX_CELLS).unwrap();
    let mut population = HashMap::new();
    for (i, c) in u.cells().iter().enumerate() {
        population.insert(*c, if i % 10 == 0 { 5.0 } else { 200.0 });
    }
    let rates = PopulationRates {
        population,
        min_population: 50.0,
        per: 1000.0,
        denominator: "residents aged 10-24".to_owned(),
    };
    let counts: Vec<(CellIndex, f64)> = u
        .cells()
        .iter()
        .enumerate()
        .map(|(i, c)| (*c, (i % 4) as f64))
        .collect();
    let r = hotspots(&u, &counts, &GiStarSettings::default(), Some(&rates)).unwrap();
    assert_eq!(r.summary.masked_cells, u.len().div_ceil(10));
    assert_eq!(r.cells.len(), u.len() - r.summary.masked_cells);
    let row = &r.cells[1];
    assert_relative_eq!(row.rate.unwrap(), row.count / 200.0 * 1000.0);
    assert_eq!(r.settings.value, "rate");
}

#[test]
fn a_count_at_another_resolution_is_refused() {
    let u = CellUniverse::in_box(bristol_box(), res9(), DEFAULT_MAX_CELLS).unwrap();
    let c = cell_of(LonLat::new(-2.6, 51.45).unwrap(), Resolution::Eight);
    assert!(hotspots(&u, &[(c, 1.0)], &GiStarSettings::default(), None).is_err());
    let c9 = cell_of(LonLat::new(-2.6, 51.45).unwrap(), res9());
    assert!(hotspots(&u, &[(c9, f64::NAN)], &GiStarSettings::default(), None).is_err());
}
