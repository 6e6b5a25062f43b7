//! Hot spot analytics benches (issue 6 targets), single-threaded, seeded inputs:
//!
//! - Gi\* on 50,311 H3 cells (a disk of 129 rings at res 10), k = 1, FDR on — whole call
//!   (neighbours, z, p, bins) and z alone on prepared neighbours;
//! - emerging hot spots over 36 monthly steps on the same 50,311 cells (1.81 M bins);
//! - Knox, 10,000 incidents, 3 × 200 m by 4 × 7 days, 999 permutations;
//! - quartic KDE of 10,000 points at the 50,311 cell centres, default radius.
//!
//! Run: `cargo bench --bench analytics`. With `ANALYTICS_BENCH_EXPORT=DIR` the inputs are
//! also written to `DIR/*.json` for `tests/reference/analytics/reference.py bench` to time the
//! Python reference packages on the same data (docs/BENCHMARKS.md).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use h3o::{CellIndex, LatLng, Resolution};
use saferplaces::analysis::ehsa::{
    CubeSettings, EhsaSettings, SpaceTimeCube, cube_steps, emerging_hotspots,
};
use saferplaces::analysis::gistar::{
    CellUniverse, GiStarSettings, Neighbours, cell_centre, gistar_z, hotspots,
};
use saferplaces::analysis::kde::{WeightedPoint, default_radius_m, quartic_density, to_bng};
use saferplaces::analysis::knox::{KnoxSettings, SpaceTimePoint, knox};
use saferplaces::domain::Day;

/// `SplitMix64`: deterministic inputs without an RNG crate (style rule 9).
struct Mix(u64);
impl Mix {
    fn next(&mut self) -> u64 {
        saferplaces::synthetic::rng::splitmix64(&mut self.0)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// 50,311 res-10 cells around central Bristol.
fn universe() -> CellUniverse {
    let centre = LatLng::new(51.455, -2.59)
        .expect("valid")
        .to_cell(Resolution::Ten);
    CellUniverse::from_cells(Resolution::Ten, centre.grid_disk::<Vec<CellIndex>>(129))
        .expect("one resolution")
}

/// Counts per cell: Poisson-ish background plus 40 clusters.
fn cell_counts(u: &CellUniverse, r: &mut Mix) -> Vec<(CellIndex, f64)> {
    let cells = u.cells();
    let hot: Vec<usize> = (0..40)
        .map(|_| (r.next() % cells.len() as u64) as usize)
        .collect();
    cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut v = (r.next() % 3) as f64;
            if hot.iter().any(|h| h.abs_diff(i) < 30) {
                v += 4.0 + (r.next() % 4) as f64;
            }
            (*c, v)
        })
        .collect()
}

fn export(name: &str, value: &serde_json::Value) {
    if let Some(dir) = std::env::var_os("ANALYTICS_BENCH_EXPORT") {
        let path = std::path::Path::new(&dir).join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec(value).expect("json")).expect("write export");
    }
}

#[expect(
    clippy::many_single_char_names,
    reason = "short names for bench inputs"
)]
fn bench_gistar(c: &mut Criterion) {
    let u = universe();
    let mut r = Mix(0x5AFE_0601);
    let counts = cell_counts(&u, &mut r);
    export(
        "gistar",
        &serde_json::json!({
            "what": "gistar",
            "cells": u.cells().iter().map(ToString::to_string).collect::<Vec<_>>(),
            "values": counts.iter().map(|c| c.1).collect::<Vec<_>>(),
        }),
    );
    let settings = GiStarSettings::default();
    let mut g = c.benchmark_group("gistar");
    g.sample_size(30);
    g.bench_function("hotspots_50311_cells_k1_fdr", |b| {
        b.iter(|| hotspots(black_box(&u), black_box(&counts), &settings, None).expect("runs"));
    });
    let w = Neighbours::grid_disk(&u, 1).expect("neighbours");
    let values: Vec<f64> = counts.iter().map(|c| c.1).collect();
    g.bench_function("neighbours_50311_cells_k1", |b| {
        b.iter(|| Neighbours::grid_disk(black_box(&u), 1).expect("neighbours"));
    });
    g.bench_function("z_only_50311_cells_prepared_neighbours", |b| {
        b.iter(|| gistar_z(black_box(&values), black_box(&w)).expect("runs"));
    });
    g.finish();
}

fn bench_ehsa(c: &mut Criterion) {
    let u = universe();
    let mut r = Mix(0x5AFE_0602);
    let first: Day = "2023-11-01".parse().expect("date");
    let last: Day = "2026-10-31".parse().expect("date");
    let settings = CubeSettings::default();
    let steps = cube_steps(settings.step, settings.alignment, first, last).expect("steps");
    assert_eq!(steps.len(), 36);
    let per_step: Vec<Vec<(CellIndex, f64)>> = (0..steps.len())
        .map(|t| {
            let mut counts = cell_counts(&u, &mut r);
            // An area that warms up over time.
            for (i, c) in counts.iter_mut().enumerate().take(2000) {
                if (i + t) % 3 == 0 {
                    c.1 += t as f64 / 6.0;
                }
            }
            counts
        })
        .collect();
    let cube = SpaceTimeCube::from_step_counts(&u, steps, &per_step, &settings).expect("cube");
    // The Python reference is timed on the first 5,000 cells (its weights do not fit a
    // reasonable time for 1.8 M bins); see docs/BENCHMARKS.md.
    let t_len = cube.steps().len();
    export(
        "ehsa",
        &serde_json::json!({
            "what": "ehsa",
            "steps": t_len,
            "cells": u.cells()[..5000].iter().map(ToString::to_string).collect::<Vec<_>>(),
            "values": cube.counts()[..5000 * t_len].to_vec(),
        }),
    );
    let mut g = c.benchmark_group("ehsa");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("emerging_hotspots_50311_cells_36_months", |b| {
        b.iter(|| emerging_hotspots(black_box(&cube), &EhsaSettings::default()).expect("runs"));
    });
    g.finish();
}

fn bench_knox(c: &mut Criterion) {
    let mut r = Mix(0x5AFE_0603);
    // 10,000 incidents over about 10 km × 9 km of BNG metres, three years; 60 % in 150
    // clusters (sd 250 m) with near repeats a few days apart.
    let centres: Vec<(f64, f64)> = (0..150)
        .map(|_| {
            (
                354_000.0 + r.unit() * 10_000.0,
                168_000.0 + r.unit() * 9_000.0,
            )
        })
        .collect();
    let first = Day::from_ymd(2023, 11, 1).expect("date");
    let points: Vec<SpaceTimePoint> = (0..10_000)
        .map(|_| {
            let (x, y) = if r.unit() < 0.6 {
                let (cx, cy) = centres[(r.next() % 150) as usize];
                (cx + r.normal() * 250.0, cy + r.normal() * 250.0)
            } else {
                (
                    354_000.0 + r.unit() * 10_000.0,
                    168_000.0 + r.unit() * 9_000.0,
                )
            };
            SpaceTimePoint {
                x_m: x.round(),
                y_m: y.round(),
                day: first.plus_days((r.next() % 1096) as u16),
            }
        })
        .collect();
    let settings = KnoxSettings::default();
    export(
        "knox",
        &serde_json::json!({
            "what": "knox",
            "xy": points.iter().map(|p| [p.x_m, p.y_m]).collect::<Vec<_>>(),
            "days": points.iter().map(|p| p.day.days_since_epoch()).collect::<Vec<_>>(),
            "delta": 600.0, "tau": 28.0, "permutations": 9,
        }),
    );
    let mut g = c.benchmark_group("knox");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("knox_10000_incidents_999_permutations", |b| {
        b.iter(|| knox(black_box(&points), &settings).expect("runs"));
    });
    g.finish();
}

fn bench_kde(c: &mut Criterion) {
    let u = universe();
    let mut r = Mix(0x5AFE_0604);
    let centres = to_bng(u.cells().iter().map(|c| cell_centre(*c))).expect("on the grid");
    let (x0, y0) = (centres[0][0], centres[0][1]);
    let points: Vec<WeightedPoint> = (0..10_000)
        .map(|_| WeightedPoint {
            x_m: x0 + r.normal() * 2500.0,
            y_m: y0 + r.normal() * 2000.0,
            weight: 1.0,
        })
        .collect();
    let radius = default_radius_m(&points).expect("radius").radius_m;
    export(
        "kde",
        &serde_json::json!({
            "what": "kde",
            "points": points.iter().map(|p| [p.x_m, p.y_m]).collect::<Vec<_>>(),
            "grid": centres,
            "radius_m": radius,
        }),
    );
    let mut g = c.benchmark_group("kde");
    g.sample_size(20);
    g.bench_function("quartic_10000_points_50311_cells_default_radius", |b| {
        b.iter(|| quartic_density(black_box(&points), black_box(&centres), radius).expect("runs"));
    });
    g.finish();
}

criterion_group!(benches, bench_gistar, bench_ehsa, bench_knox, bench_kde);
criterion_main!(benches);
