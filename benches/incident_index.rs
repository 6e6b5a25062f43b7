//! Incident index benches (issue 2 targets): build rate on one core, bytes per incident, and
//! hexagon count queries — city-wide at res 8 and a neighbourhood at res 10, 90-day window —
//! on 1M and 10M seeded incidents.
//!
//! Run: `cargo bench --bench incident_index` (set `BENCH_SIZES=1000000` to skip 10M).
//! Bytes per incident are measured twice: the index's own accounting (`heap_bytes`) and the
//! global allocator's live-byte count before and after the build (the `cap` allocator).

#![expect(
    clippy::print_stderr,
    reason = "the bench reports memory figures on stderr"
)]

use std::alloc::System;
use std::hint::black_box;
use std::time::{Duration, Instant};

use cap::Cap;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use saferplaces::domain::{Bbox, CATEGORY_COUNT, Category, Day, IncidentId, LonLat, TimeWindow};
use saferplaces::index::{CountQuery, H3Res, IncidentIndex, IncidentInput};

#[global_allocator]
static ALLOC: Cap<System> = Cap::new(System, usize::MAX);

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

/// `n` incidents over three years: 70% in 120 Gaussian clusters (sd ~300 m) around Bristol
/// and its neighbours, 30% spread over the study area; skewed categories.
fn incidents(n: usize) -> Vec<IncidentInput> {
    let mut r = Mix(0x5AFE_BE7C);
    let centres: Vec<(f64, f64)> = (0..120)
        .map(|_| (-2.75 + r.normal() * 0.12, 51.46 + r.normal() * 0.06))
        .collect();
    let first_day = Day::from_ymd(2023, 11, 1)
        .expect("valid date")
        .days_since_epoch();
    (0..n)
        .map(|i| {
            let (lon, lat) = if r.next() % 10 < 7 {
                let (cx, cy) = centres[(r.next() % centres.len() as u64) as usize];
                (cx + r.normal() * 0.0043, cy + r.normal() * 0.0027)
            } else {
                (-3.12 + r.unit() * 0.87, 51.27 + r.unit() * 0.42)
            };
            let cat = ((r.unit() * r.unit()) * CATEGORY_COUNT as f64) as u8;
            IncidentInput {
                id: IncidentId::new(i as u64 + 1),
                location: LonLat::new(lon.clamp(-3.12, -2.25), lat.clamp(51.27, 51.69)).ok(),
                day: Day::from_days_since_epoch(first_day + (r.next() % 1096) as u16),
                category: Category::from_code(cat).unwrap_or(Category::OtherCrime),
                involves_child: r.next().is_multiple_of(8),
                day_known: true,
            }
        })
        .collect()
}

fn sizes() -> Vec<usize> {
    std::env::var("BENCH_SIZES").map_or_else(
        |_| vec![1_000_000, 10_000_000],
        |v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
    )
}

fn window_90_days() -> TimeWindow {
    let to = Day::from_ymd(2026, 10, 31).expect("valid date");
    TimeWindow::new(to.minus_days(89), to).expect("valid window")
}

fn bench(c: &mut Criterion) {
    for n in sizes() {
        let inputs = incidents(n);
        let before = ALLOC.allocated();
        let t = Instant::now();
        let index = IncidentIndex::build(&inputs);
        let build_s = t.elapsed().as_secs_f64();
        let retained = ALLOC.allocated().saturating_sub(before);
        eprintln!(
            "n={n}: first build {build_s:.3} s ({:.2} M incidents/s); heap_bytes {:.1} B/incident; allocator-measured {:.1} B/incident",
            n as f64 / build_s / 1e6,
            index.heap_bytes() as f64 / n as f64,
            retained as f64 / n as f64,
        );

        let mut g = c.benchmark_group(format!("incident_index/{n}"));
        g.sample_size(10)
            .measurement_time(Duration::from_secs(if n > 2_000_000 { 60 } else { 15 }));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("build", n), |b| {
            b.iter(|| black_box(IncidentIndex::build(&inputs)));
        });
        g.finish();

        let city = CountQuery {
            bbox: Bbox::from_coords(-2.73, 51.39, -2.45, 51.55).expect("valid bbox"),
            res: H3Res::new(8).expect("valid res"),
            window: window_90_days(),
            category: None,
        };
        let hood = CountQuery {
            bbox: Bbox::from_coords(-2.600, 51.445, -2.580, 51.455).expect("valid bbox"),
            res: H3Res::new(10).expect("valid res"),
            window: window_90_days(),
            category: None,
        };
        let city_cells = index.cell_counts(&city);
        let hood_cells = index.cell_counts(&hood);
        eprintln!(
            "n={n}: city-wide res 8 -> {} cells, {} incidents; neighbourhood res 10 -> {} cells, {} incidents",
            city_cells.len(),
            city_cells.iter().map(|c| u64::from(c.count)).sum::<u64>(),
            hood_cells.len(),
            hood_cells.iter().map(|c| u64::from(c.count)).sum::<u64>(),
        );
        let mut g = c.benchmark_group(format!("hexagon_counts/{n}"));
        g.sample_size(50);
        g.bench_function("city_res8_90d", |b| {
            b.iter(|| black_box(index.cell_counts(black_box(&city))));
        });
        g.bench_function("neighbourhood_res10_90d", |b| {
            b.iter(|| black_box(index.cell_counts(black_box(&hood))));
        });
        let one_cat = CountQuery {
            category: Some(Category::ViolentCrime),
            ..city
        };
        g.bench_function("city_res8_90d_one_category", |b| {
            b.iter(|| black_box(index.cell_counts(black_box(&one_cat))));
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
