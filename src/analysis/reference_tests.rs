//! Reference tests: the analytics against the Python reference packages (`analytics.md` §10)
//! on seeded synthetic data.
//!
//! Each test writes its input to a temporary JSON file, runs
//! `tests/reference/analytics/reference.py <check> <file>` with the interpreter in
//! `$SAFERPLACES_PYTHON` (default `.venv/bin/python` under the package root, which `make test`
//! builds from `tests/reference/analytics/requirements.txt`), and compares:
//! z within 1e-9 relative, identical cells, counts and bins, Mann–Kendall statistics within
//! 1e-9, KDE values within 1e-9 relative, Knox counts exactly and permutation p-values within
//! their Monte Carlo error (`analytics.md` §10.6). Without the interpreter or its packages a
//! test prints why it is skipped and returns.

#![expect(
    clippy::float_cmp,
    clippy::many_single_char_names,
    reason = "counts are compared exactly; names follow the formulas"
)]

use std::path::PathBuf;
use std::process::Command;

use h3o::{CellIndex, Resolution};
use serde_json::{Value, json};

use super::ehsa::{CubeSettings, SpaceTimeCube, space_time_gistar};
use super::gistar::{
    CellUniverse, DEFAULT_MAX_CELLS, GiStarSettings, Neighbours, PopulationRates, StudyArea,
    cell_of, hotspots,
};
use super::kde::{WeightedPoint, default_radius_m, quartic_density};
use super::knox::{
    DistanceMetric, KnoxMode, KnoxSettings, SpaceTimePoint, Xoshiro256, knox, knox_global,
};
use super::mann_kendall::mann_kendall;
use crate::domain::{Day, LonLat};

const MODULES: &str = "import esda, libpysal, pointpats, pymannkendall, KDEpy, h3";

/// The reference interpreter, or `None` (with the reason on stderr) when it is not usable.
fn python() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let py = std::env::var_os("SAFERPLACES_PYTHON")
        .map_or_else(|| root.join(".venv/bin/python"), PathBuf::from);
    match Command::new(&py).args(["-c", MODULES]).output() {
        Ok(o) if o.status.success() => Some(py),
        Ok(o) => {
            eprintln!(
                "skip: {} lacks the reference packages ({}); run `make test` or pip install -r tests/reference/analytics/requirements.txt",
                py.display(),
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            None
        }
        Err(e) => {
            eprintln!(
                "skip: no reference Python at {} ({e}); set SAFERPLACES_PYTHON or run `make test`",
                py.display()
            );
            None
        }
    }
}

/// Runs one reference check on `input` and returns its JSON output.
fn reference(py: &PathBuf, check: &str, input: &Value) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{check}.json"));
    std::fs::write(&path, serde_json::to_vec(input).unwrap()).unwrap();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/analytics/reference.py");
    let out = Command::new(py)
        .arg(script)
        .arg(check)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reference.py {check} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(1e-300) || (a - b).abs() < 1e-13
}

/// Seeded points around central Bristol: clusters plus background.
fn bristol_points(n: usize, seed: u64) -> Vec<LonLat> {
    let mut rng = Xoshiro256::seeded(seed);
    let mut unit = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let centres = [(-2.595, 51.455), (-2.575, 51.462), (-2.610, 51.445)];
    (0..n)
        .map(|i| {
            let (lon, lat) = if i % 3 == 0 {
                (-2.63 + unit() * 0.08, 51.43 + unit() * 0.05)
            } else {
                let c = centres[i % centres.len()];
                let r = unit() * 0.006;
                let a = unit() * std::f64::consts::TAU;
                (c.0 + r * a.cos() * 1.6, c.1 + r * a.sin())
            };
            LonLat::new(lon, lat).unwrap()
        })
        .collect()
}

fn compare_gistar(rust: &super::gistar::HotspotResult, py: &Value) {
    let cells: Vec<String> = rust.cells.iter().map(|c| c.h3.to_string()).collect();
    let py_cells: Vec<String> = py["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(cells, py_cells, "cell universes differ");
    let mut checked = 0;
    for (i, c) in rust.cells.iter().enumerate() {
        assert_eq!(
            c.count,
            py["counts"][i].as_f64().unwrap(),
            "count of {}",
            c.h3
        );
        assert_eq!(
            u64::from(c.n_neighbours),
            py["n_neighbours"][i].as_u64().unwrap()
        );
        match (c.z, py["z"][i].as_f64()) {
            (Some(a), Some(b)) => {
                assert!(rel_close(a, b, 1e-9), "z of {}: {a} vs esda {b}", c.h3);
                let (pa, pb) = (c.p.unwrap(), py["p"][i].as_f64().unwrap());
                assert!(rel_close(pa, pb, 1e-9), "p of {}: {pa} vs {pb}", c.h3);
                checked += 1;
            }
            (None, None) => {}
            (a, b) => panic!("z of {}: {a:?} vs esda {b:?}", c.h3),
        }
        assert_eq!(
            i64::from(c.bin),
            py["bins"][i].as_i64().unwrap(),
            "bin of {}",
            c.h3
        );
    }
    assert!(checked > 100, "only {checked} z compared");
}

#[test]
fn gistar_on_the_data_extent_matches_esda_to_1e9_with_identical_counts_and_bins() {
    let Some(py) = python() else { return };
    let pts = bristol_points(3000, 11);
    for (res, k, fdr) in [(9u8, 1u32, true), (9, 2, true), (10, 1, false)] {
        let r = Resolution::try_from(res).unwrap();
        let u = CellUniverse::data_extent(pts.iter().copied(), r, DEFAULT_MAX_CELLS).unwrap();
        let counts: Vec<(CellIndex, f64)> = pts.iter().map(|p| (cell_of(*p, r), 1.0)).collect();
        let rust = hotspots(&u, &counts, &GiStarSettings { k, fdr }, None).unwrap();
        assert!(matches!(
            rust.settings.study_area,
            StudyArea::DataExtent { .. }
        ));
        let input = json!({
            "res": res, "k": k, "fdr": fdr,
            "points": pts.iter().map(|p| [p.lon(), p.lat()]).collect::<Vec<_>>(),
            "area": {"kind": "data_extent"},
        });
        compare_gistar(&rust, &reference(&py, "gistar", &input));
        assert!(rust.summary.hot > 0, "res {res} k {k}");
    }
}

#[test]
fn gistar_in_a_polygon_with_a_hole_matches_h3_polyfill_and_esda() {
    let Some(py) = python() else { return };
    let pts = bristol_points(2500, 12);
    let outer = vec![
        (-2.63, 51.43),
        (-2.55, 51.435),
        (-2.56, 51.475),
        (-2.62, 51.47),
        (-2.63, 51.43),
    ];
    let hole = vec![
        (-2.60, 51.45),
        (-2.59, 51.45),
        (-2.59, 51.458),
        (-2.60, 51.458),
        (-2.60, 51.45),
    ];
    let area = geo::MultiPolygon(vec![geo::Polygon::new(
        geo::LineString::from(outer.clone()),
        vec![geo::LineString::from(hole.clone())],
    )]);
    let res = Resolution::Nine;
    let u = CellUniverse::in_polygons(&area, "test", res, DEFAULT_MAX_CELLS).unwrap();
    let counts: Vec<(CellIndex, f64)> = pts.iter().map(|p| (cell_of(*p, res), 1.0)).collect();
    let rust = hotspots(&u, &counts, &GiStarSettings::default(), None).unwrap();
    let input = json!({
        "res": 9, "k": 1, "fdr": true,
        "points": pts.iter().map(|p| [p.lon(), p.lat()]).collect::<Vec<_>>(),
        "area": {"kind": "polygon", "outer": outer, "holes": [hole]},
    });
    let py_out = reference(&py, "gistar", &input);
    compare_gistar(&rust, &py_out);
    assert_eq!(
        rust.summary.outside_area,
        py_out["outside"].as_f64().unwrap()
    );
}

#[test]
fn gistar_on_rates_with_masked_cells_matches_esda() {
    let Some(py) = python() else { return };
    let pts = bristol_points(2000, 13);
    let res = Resolution::Nine;
    let u = CellUniverse::data_extent(pts.iter().copied(), res, DEFAULT_MAX_CELLS).unwrap();
    let mut rng = Xoshiro256::seeded(99);
    let mut population = foldhash::HashMap::default();
    for c in u.cells() {
        population.insert(*c, (rng.below(400) + 1) as f64);
    }
    let rates = PopulationRates {
        population: population.clone(),
        min_population: 40.0,
        per: 1000.0,
        denominator: "synthetic".to_owned(),
    };
    let counts: Vec<(CellIndex, f64)> = pts.iter().map(|p| (cell_of(*p, res), 1.0)).collect();
    let rust = hotspots(&u, &counts, &GiStarSettings::default(), Some(&rates)).unwrap();
    assert!(rust.summary.masked_cells > 0);
    let pop: serde_json::Map<String, Value> = population
        .iter()
        .map(|(c, p)| (c.to_string(), json!(p)))
        .collect();
    let input = json!({
        "res": 9, "k": 1, "fdr": true,
        "points": pts.iter().map(|p| [p.lon(), p.lat()]).collect::<Vec<_>>(),
        "area": {"kind": "data_extent"},
        "population": pop, "min_population": 40.0, "per": 1000.0,
    });
    compare_gistar(&rust, &reference(&py, "gistar", &input));
}

#[test]
fn space_time_gistar_mann_kendall_and_categories_match_esda_and_pymannkendall() {
    let Some(py) = python() else { return };
    let res = Resolution::Nine;
    let mut rng = Xoshiro256::seeded(21);
    let mut unit = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let first: Day = "2023-01-01".parse().unwrap();
    let t_len = 14usize;
    // Background everywhere; one area warming up, one cooling down.
    let mut events = Vec::new();
    for m in 0..t_len {
        let day = first.plus_days((m * 31) as u16).month_start().plus_days(9);
        for _ in 0..260 {
            let (mut lon, mut lat) = (-2.63 + unit() * 0.07, 51.43 + unit() * 0.045);
            let u = unit();
            if u < 0.02 * m as f64 {
                (lon, lat) = (-2.60 + unit() * 0.008, 51.45 + unit() * 0.005);
            } else if u > 1.0 - 0.02 * (t_len - m) as f64 {
                (lon, lat) = (-2.575 + unit() * 0.008, 51.463 + unit() * 0.005);
            }
            events.push((LonLat::new(lon, lat).unwrap(), day, m));
        }
    }
    let u = CellUniverse::data_extent(events.iter().map(|e| e.0), res, DEFAULT_MAX_CELLS).unwrap();
    let binned: Vec<(CellIndex, Day, f64)> = events
        .iter()
        .map(|e| (cell_of(e.0, res), e.1, 1.0))
        .collect();
    let cube = SpaceTimeCube::from_events(&u, &binned, &CubeSettings::default()).unwrap();
    assert_eq!(cube.steps().len(), t_len);
    let w = Neighbours::grid_disk(&u, 1).unwrap();
    let st = space_time_gistar(&cube, &w, 1, true).unwrap();
    let settings = super::ehsa::EhsaSettings::default();
    let ehsa = super::ehsa::emerging_hotspots(&cube, &settings).unwrap();
    let input = json!({
        "res": 9, "k": 1, "time_k": 1, "steps": t_len, "alpha_trend": 0.05, "hot_level": 2,
        "cells": u.cells().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "events": events.iter().map(|e| json!([e.0.lon(), e.0.lat(), e.2])).collect::<Vec<_>>(),
    });
    let py_out = reference(&py, "stgistar", &input);
    let py_counts = py_out["counts"].as_array().unwrap();
    for (a, b) in cube.counts().iter().zip(py_counts) {
        assert_eq!(*a, b.as_f64().unwrap());
    }
    let mut compared = 0;
    for (i, z) in st.z.iter().enumerate() {
        match (z, py_out["z"][i].as_f64()) {
            (Some(a), Some(b)) => {
                assert!(rel_close(*a, b, 1e-9), "bin {i}: {a} vs esda {b}");
                compared += 1;
            }
            (None, None) => {}
            (a, b) => panic!("bin {i}: {a:?} vs esda {b:?}"),
        }
        assert_eq!(
            i64::from(st.bin[i]),
            py_out["bins"][i].as_i64().unwrap(),
            "bin {i}"
        );
    }
    assert!(compared > 1000);
    for (i, cell) in ehsa.cells.iter().enumerate() {
        let m = &py_out["mk"][i];
        assert_eq!(cell.trend.s as f64, m["s"].as_f64().unwrap());
        assert!(rel_close(
            cell.trend.var_s,
            m["var_s"].as_f64().unwrap(),
            1e-12
        ));
        assert!(
            rel_close(cell.trend.z, m["z"].as_f64().unwrap(), 1e-9),
            "{i}"
        );
        assert!(rel_close(cell.trend.tau, m["tau"].as_f64().unwrap(), 1e-12));
        // pymannkendall computes 1 − Φ, which loses digits for small p.
        assert!(
            (cell.trend.p - m["p"].as_f64().unwrap()).abs() < 1e-12,
            "{i}"
        );
        assert_eq!(
            i64::from(cell.category),
            py_out["categories"][i].as_i64().unwrap(),
            "cell {i}"
        );
    }
    let summary: Vec<usize> = ehsa.summary.categories.iter().map(|c| c.2).collect();
    assert!(
        summary.iter().filter(|n| **n > 0).count() >= 3,
        "{:?}",
        ehsa.summary.categories
    );
}

#[test]
fn mann_kendall_matches_pymannkendall_with_and_without_ties() {
    let Some(py) = python() else { return };
    let mut rng = Xoshiro256::seeded(5);
    let mut series: Vec<Vec<f64>> = vec![vec![0.5, 1.2, 1.1, 2.0, 2.4, 2.2, 3.1, 3.0, 3.3, 3.9]];
    for len in [3usize, 10, 36, 60] {
        for ties in [false, true] {
            series.push(
                (0..len)
                    .map(|i| {
                        let v = (rng.below(1000) as f64) / 100.0 + i as f64 * 0.05;
                        if ties { (v / 2.0).round() } else { v }
                    })
                    .collect(),
            );
        }
    }
    let py_out = reference(&py, "mk", &json!({ "series": series }));
    for (s, want) in series.iter().zip(py_out["results"].as_array().unwrap()) {
        let r = mann_kendall(s);
        assert_eq!(r.s as f64, want["s"].as_f64().unwrap());
        assert!(rel_close(r.var_s, want["var_s"].as_f64().unwrap(), 1e-12));
        assert!(rel_close(r.z, want["z"].as_f64().unwrap(), 1e-9));
        assert!((r.p - want["p"].as_f64().unwrap()).abs() < 1e-12);
        assert!(rel_close(r.tau, want["tau"].as_f64().unwrap(), 1e-12));
    }
}

#[test]
fn quartic_kde_and_default_radius_match_kdepy_to_1e9() {
    let Some(py) = python() else { return };
    let mut rng = Xoshiro256::seeded(8);
    let mut unit = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    // British National Grid metres around Bristol.
    let pts: Vec<WeightedPoint> = (0..800)
        .map(|i| WeightedPoint {
            x_m: 358_000.0 + unit() * 6000.0 + if i % 2 == 0 { 0.0 } else { unit() * 300.0 },
            y_m: 172_000.0 + unit() * 5000.0,
            weight: if i % 4 == 0 { 2.0 } else { 1.0 },
        })
        .collect();
    let grid: Vec<[f64; 2]> = (0..60)
        .flat_map(|i| {
            (0..50).map(move |j| {
                [
                    357_500.0 + f64::from(i) * 120.0,
                    171_500.0 + f64::from(j) * 120.0,
                ]
            })
        })
        .collect();
    let radius = default_radius_m(&pts).unwrap();
    let ours = quartic_density(&pts, &grid, radius.radius_m).unwrap();
    let input = json!({
        "points": pts.iter().map(|p| [p.x_m, p.y_m]).collect::<Vec<_>>(),
        "weights": pts.iter().map(|p| p.weight).collect::<Vec<_>>(),
        "grid": grid,
        "radius_m": radius.radius_m,
    });
    let py_out = reference(&py, "kde", &input);
    assert!(rel_close(
        radius.radius_m,
        py_out["default_radius_m"].as_f64().unwrap(),
        1e-12
    ));
    let peak = ours.iter().flatten().fold(0.0_f64, |m, v| m.max(*v));
    let mut compared = 0;
    for (i, d) in ours.iter().enumerate() {
        let want = py_out["density"][i].as_f64().unwrap();
        match d {
            Some(v) => {
                // Relative 1e-9 of the value, or of the peak where the kernel tail is tiny
                // and subtractive rounding dominates both implementations.
                assert!(
                    (v - want).abs() <= 1e-9 * v.abs().max(peak * 1e-3),
                    "grid {i}: {v} vs KDEpy {want}"
                );
                if *v > peak * 1e-3 {
                    assert!(rel_close(*v, want, 1e-9), "grid {i}: {v} vs KDEpy {want}");
                    compared += 1;
                }
            }
            None => assert!(
                want.abs() <= peak * 1e-12,
                "grid {i}: NoData vs KDEpy {want}"
            ),
        }
    }
    assert!(compared > 1000, "{compared}");
}

fn knox_points(n: usize, seed: u64) -> Vec<SpaceTimePoint> {
    let mut rng = Xoshiro256::seeded(seed);
    let mut unit = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let mut out = Vec::with_capacity(n);
    let first: Day = "2024-01-01".parse().unwrap();
    while out.len() < n {
        let (x, y) = ((unit() * 4000.0).round(), (unit() * 3000.0).round());
        let d = (unit() * 200.0) as u16;
        out.push(SpaceTimePoint {
            x_m: x,
            y_m: y,
            day: first.plus_days(d),
        });
        if unit() < 0.35 && out.len() < n {
            out.push(SpaceTimePoint {
                x_m: x + (unit() * 120.0).round(),
                y_m: y + (unit() * 120.0).round(),
                day: first.plus_days(d + (unit() * 3.0) as u16),
            });
        }
    }
    out
}

#[test]
fn knox_tables_match_pointpats_counts_exactly_and_p_within_monte_carlo_error() {
    let Some(py) = python() else { return };
    let pts = knox_points(500, 31);
    let settings = KnoxSettings {
        space_band_m: 100.0,
        space_bands: 3,
        time_band_days: 2,
        time_bands: 3,
        metric: DistanceMetric::Euclidean,
        mode: KnoxMode::Correct,
        permutations: 0,
        seed: 1,
    };
    let table = knox(&pts, &settings).unwrap();
    // pointpats' global test at δ = j·b, τ = q·B counts the first j + 1 rows (same location
    // included) and the first q columns of our table (both inclusive).
    let mut cases = Vec::new();
    for j in 1..=3u32 {
        for q in 1..=3u32 {
            let perms = if j == 1 && q == 1 { 999 } else { 0 };
            cases.push(json!([f64::from(j) * 100.0, f64::from(q) * 2.0, perms]));
        }
    }
    let input = json!({
        "xy": pts.iter().map(|p| [p.x_m, p.y_m]).collect::<Vec<_>>(),
        "days": pts.iter().map(|p| p.day.days_since_epoch()).collect::<Vec<_>>(),
        "seed": 7,
        "cases": cases,
    });
    let py_out = reference(&py, "knox", &input);
    for case in py_out["cases"].as_array().unwrap() {
        let delta = case["delta"].as_f64().unwrap();
        let tau = case["tau"].as_f64().unwrap();
        let (j, q) = ((delta / 100.0) as usize, (tau / 2.0) as usize);
        let ours: u64 = (0..=j)
            .map(|r| (0..q).map(|c| table.observed[r][c]).sum::<u64>())
            .sum();
        assert_eq!(
            ours as f64,
            case["nst"].as_f64().unwrap(),
            "delta {delta} tau {tau}"
        );
        let g = knox_global(&pts, delta, tau as u32, DistanceMetric::Euclidean, 0, 1).unwrap();
        assert_eq!(g.nst, ours);
        for a in 0..2 {
            for b in 0..2 {
                assert_eq!(
                    g.observed[a][b] as f64,
                    case["observed"][a][b].as_f64().unwrap()
                );
                assert!(rel_close(
                    g.expected[a][b],
                    case["expected"][a][b].as_f64().unwrap(),
                    1e-12
                ));
            }
        }
        let pp = case["p_poisson"].as_f64().unwrap();
        assert!(
            (g.p_poisson - pp).abs() < 1e-9,
            "p_poisson {} vs {pp}",
            g.p_poisson
        );
        if let Some(p_ref) = case["p_sim"].as_f64() {
            let r = 999u32;
            let ours =
                knox_global(&pts, delta, tau as u32, DistanceMetric::Euclidean, r, 3).unwrap();
            let p = ours.p_sim.unwrap();
            // Two independent Monte Carlo estimates: 3 SD of their difference.
            let sd = (p_ref * (1.0 - p_ref) / f64::from(r)).sqrt() * 2.0_f64.sqrt();
            assert!(
                (p - p_ref).abs() <= 3.0 * sd + 1.0 / f64::from(r + 1),
                "p_sim {p} vs {p_ref}"
            );
        }
    }
}
