#![expect(
    clippy::float_cmp,
    clippy::many_single_char_names,
    reason = "exact band edges are the point of these tests; names follow the formulas"
)]

use std::path::PathBuf;

use approx::assert_relative_eq;

use super::*;

fn pt(x: f64, y: f64, day: u16) -> SpaceTimePoint {
    SpaceTimePoint {
        x_m: x,
        y_m: y,
        day: Day::from_days_since_epoch(17_000 + day),
    }
}

/// Seeded synthetic events: clusters that repeat within days, plus background.
fn synthetic(n: usize, seed: u64) -> Vec<SpaceTimePoint> {
    let mut rng = Xoshiro256::seeded(seed);
    let mut unit = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let x = unit() * 5000.0;
        let y = unit() * 4000.0;
        let d = (unit() * 365.0) as u16;
        out.push(pt(x, y, d));
        if unit() < 0.3 && out.len() < n {
            out.push(pt(
                x + unit() * 150.0,
                y + unit() * 150.0,
                d + (unit() * 4.0) as u16,
            ));
        }
    }
    out
}

/// The observed table by brute force over every pair, straight from the band definitions.
fn brute(points: &[SpaceTimePoint], s: &KnoxSettings) -> Vec<Vec<u64>> {
    let (k, l) = (s.space_bands as usize, s.time_bands as usize);
    let b = s.space_band_m;
    let bt = f64::from(s.time_band_days);
    let mut t = vec![vec![0u64; l + 1]; k + 2];
    for i in 0..points.len() {
        for j in i + 1..points.len() {
            let (a, c) = (points[i], points[j]);
            let (ax, ay, cx, cy) = match s.mode {
                KnoxMode::Correct => (a.x_m, a.y_m, c.x_m, c.y_m),
                KnoxMode::NrcCompatible => (
                    f64::from(a.x_m as f32),
                    f64::from(a.y_m as f32),
                    f64::from(c.x_m as f32),
                    f64::from(c.y_m as f32),
                ),
            };
            let d = match s.metric {
                DistanceMetric::Euclidean => ((ax - cx).powi(2) + (ay - cy).powi(2)).sqrt(),
                DistanceMetric::Manhattan => (ax - cx).abs() + (ay - cy).abs(),
            };
            let g = f64::from(a.day.days_since_epoch().abs_diff(c.day.days_since_epoch()));
            let row = if d == 0.0 {
                0
            } else {
                (1..=k)
                    .find(|&r| match s.mode {
                        KnoxMode::Correct => d > (r - 1) as f64 * b && d <= r as f64 * b,
                        KnoxMode::NrcCompatible => d >= (r - 1) as f64 * b && d < r as f64 * b,
                    })
                    .unwrap_or(k + 1)
            };
            let col = (1..=l)
                .find(|&q| match s.mode {
                    KnoxMode::Correct if q == 1 => g <= bt,
                    KnoxMode::Correct => g > (q - 1) as f64 * bt && g <= q as f64 * bt,
                    KnoxMode::NrcCompatible => g >= (q - 1) as f64 * bt && g < q as f64 * bt,
                })
                .map_or(l, |q| q - 1);
            t[row][col] += 1;
        }
    }
    t
}

#[test]
fn the_observed_table_equals_brute_force_in_both_modes_and_metrics() {
    let pts = synthetic(700, 3);
    for mode in [KnoxMode::Correct, KnoxMode::NrcCompatible] {
        for metric in [DistanceMetric::Euclidean, DistanceMetric::Manhattan] {
            let s = KnoxSettings {
                space_band_m: 100.0,
                space_bands: 3,
                time_band_days: 2,
                time_bands: 3,
                metric,
                mode,
                permutations: 0,
                seed: 1,
            };
            let r = knox(&pts, &s).unwrap();
            assert_eq!(r.observed, brute(&pts, &s), "{mode:?} {metric:?}");
            let total: u64 = r.observed.iter().flatten().sum();
            assert_eq!(total, r.pairs);
        }
    }
}

#[test]
fn band_edges_follow_each_modes_convention() {
    // Pairs at exactly 0, 200, 400 and 600 units apart and 0, 1, 2, 3 days.
    let pts = [
        pt(0.0, 0.0, 0),
        pt(0.0, 0.0, 1),
        pt(200.0, 0.0, 2),
        pt(600.0, 0.0, 3),
    ];
    let correct = KnoxSettings {
        space_band_m: 200.0,
        space_bands: 3,
        time_band_days: 1,
        time_bands: 3,
        metric: DistanceMetric::Manhattan,
        mode: KnoxMode::Correct,
        permutations: 0,
        seed: 1,
    };
    let nrc = KnoxSettings {
        mode: KnoxMode::NrcCompatible,
        ..correct
    };
    let c = knox(&pts, &correct).unwrap();
    let n = knox(&pts, &nrc).unwrap();
    assert_eq!(c.observed, brute(&pts, &correct));
    assert_eq!(n.observed, brute(&pts, &nrc));
    // Pairs (0, 2) and (1, 2): d = 200 with Δt = 2 and 1. Correct: band 1 (0, 200], columns
    // (1, 2] and [0, 1].
    assert_eq!(c.observed[1], vec![1, 1, 0, 0]);
    // NRC: d = 200 is in "201 to 400" = [200, 400); Δt = 2 is "3 to 3", Δt = 1 "2 to 2".
    // Pair (2, 3) at d = 400, Δt = 1 is in "401 to 600".
    assert_eq!(n.observed[2], vec![0, 1, 1, 0]);
    assert_eq!(n.observed[3], vec![0, 1, 0, 0]);
    // Same location pair, one day apart: correct column 0 ([0, 1]), NRC column 1 ("2 to 2").
    assert_eq!(c.observed[0], vec![1, 0, 0, 0]);
    assert_eq!(n.observed[0], vec![0, 1, 0, 0]);
    assert_eq!(n.rows[1].label, "1 to 200");
    assert_eq!(n.columns[0].label, "0 to 1");
    assert_eq!(n.columns[1].label, "2 to 2");
    assert_eq!(n.rows[4].label, "More than 600");
}

fn chicago() -> Option<Vec<SpaceTimePoint>> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/realdata/chicago_arson.csv");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skip: {} not found", path.display());
        return None;
    };
    Some(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                SpaceTimePoint {
                    x_m: f[0].parse().unwrap(),
                    y_m: f[1].parse().unwrap(),
                    day: f[2].trim().parse().unwrap(),
                }
            })
            .collect(),
    )
}

/// The Near Repeat Calculator 1.3 output for the Chicago arson example, as published with
/// `wsteenbeek/NearRepeat` (`inst/extdata/chicago_arson_NRverbose_2019-09-23_145637.csv`).
const NRC_OBSERVED: [[u64; 4]; 5] = [
    [0, 2, 0, 8],
    [9, 1, 1, 45],
    [4, 0, 0, 140],
    [6, 0, 0, 234],
    [393, 710, 770, 133_658],
];
const NRC_P: [[f64; 4]; 5] = [
    [1.0, 0.01, 1.0, 1.0],
    [0.01, 0.27, 0.23, 1.0],
    [0.01, 1.0, 1.0, 0.96],
    [0.01, 1.0, 1.0, 0.96],
    [1.0, 0.84, 0.3, 0.01],
];

fn chicago_settings(permutations: u32) -> KnoxSettings {
    KnoxSettings {
        space_band_m: 200.0,
        space_bands: 3,
        time_band_days: 1,
        time_bands: 3,
        metric: DistanceMetric::Manhattan,
        mode: KnoxMode::NrcCompatible,
        permutations,
        seed: 1,
    }
}

#[test]
fn the_chicago_arson_example_reproduces_the_nrc_observed_table() {
    let Some(pts) = chicago() else { return };
    assert_eq!(pts.len(), 522);
    let r = knox(&pts, &chicago_settings(99)).unwrap();
    let got: Vec<Vec<u64>> = r.observed.clone();
    let want: Vec<Vec<u64>> = NRC_OBSERVED.iter().map(|r| r.to_vec()).collect();
    assert_eq!(got, want);
}

#[test]
fn the_chicago_p_values_agree_with_the_nrc_within_monte_carlo_error() {
    let Some(pts) = chicago() else { return };
    let r_count = 999u32;
    let r = knox(&pts, &chicago_settings(r_count)).unwrap();
    for (row, want_row) in NRC_P.iter().enumerate() {
        for (col, want) in want_row.iter().enumerate() {
            let got = r.p[row][col].unwrap();
            // NRC used 99 runs; allow 3 SD of its Monte Carlo error plus one step of its grid.
            let tol = 3.0 * (want * (1.0 - want) / 99.0).sqrt() + 0.011;
            assert!(
                (got - want).abs() <= tol,
                "cell {row},{col}: {got} vs NRC {want}"
            );
        }
    }
    // The NRC's headline: 1 to 200 metres, 0 to 1 days, about 7,325 % above chance.
    let ratio = r.ratio[1][0].unwrap();
    assert!((40.0..120.0).contains(&ratio), "{ratio}");
}

#[test]
fn the_same_seed_gives_the_same_result_and_another_seed_may_not() {
    let pts = synthetic(400, 9);
    let s = KnoxSettings {
        permutations: 49,
        ..KnoxSettings::default()
    };
    let a = knox(&pts, &s).unwrap();
    let b = knox(&pts, &s).unwrap();
    assert_eq!(a, b);
    let c = knox(&pts, &KnoxSettings { seed: 2, ..s }).unwrap();
    assert_eq!(a.observed, c.observed);
    assert_ne!(a.expected, c.expected);
}

#[test]
fn the_mean_of_permuted_tables_approaches_the_analytic_expectation() {
    let pts = synthetic(300, 5);
    let s = KnoxSettings {
        permutations: 2000,
        ..KnoxSettings::default()
    };
    let r = knox(&pts, &s).unwrap();
    for (row, arow) in r.expected.iter().zip(&r.expected_analytic) {
        for (e, a) in row.iter().zip(arow) {
            assert!(
                (e - a).abs() <= 4.0 * a.sqrt().max(0.1) / (2000.0_f64).sqrt() + 0.05,
                "{e} vs {a}"
            );
        }
    }
    // Column totals are invariant under permutation.
    for c in 0..r.columns.len() {
        let obs: u64 = r.observed.iter().map(|row| row[c]).sum();
        let exp: f64 = r.expected.iter().map(|row| row[c]).sum();
        assert_relative_eq!(obs as f64, exp, max_relative = 1e-12);
    }
}

#[test]
fn tiny_and_degenerate_inputs_are_defined() {
    let s = KnoxSettings {
        permutations: 9,
        ..KnoxSettings::default()
    };
    let r = knox(&[], &s).unwrap();
    assert_eq!(r.pairs, 0);
    assert!(r.observed.iter().flatten().all(|v| *v == 0));
    let r = knox(&[pt(1.0, 1.0, 0)], &s).unwrap();
    assert_eq!(r.pairs, 0);
    assert!(!r.warnings.is_empty());
    // All events at one place and day.
    let same = vec![pt(5.0, 5.0, 3); 20];
    let r = knox(&same, &s).unwrap();
    assert_eq!(r.observed[0][0], 190);
    assert_eq!(r.p[0][0], Some(1.0));
    assert!(
        knox(
            &same,
            &KnoxSettings {
                space_band_m: 0.0,
                ..s
            }
        )
        .is_err()
    );
    assert!(knox(&same, &KnoxSettings { time_bands: 0, ..s }).is_err());
    assert!(knox(&[pt(f64::NAN, 0.0, 0)], &s).is_err());
}

#[test]
fn the_generator_is_unbiased_enough_and_fixed_by_its_seed() {
    let mut a = Xoshiro256::seeded(42);
    let mut b = Xoshiro256::seeded(42);
    let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
    let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
    assert_eq!(xs, ys);
    let mut counts = [0u32; 6];
    for _ in 0..60_000 {
        counts[a.below(6) as usize] += 1;
    }
    for c in counts {
        assert!((9_500..10_500).contains(&c), "{counts:?}");
    }
}

#[test]
fn the_poisson_tail_matches_known_values() {
    // P(X > 0) for λ = 1 is 1 − e^−1; P(X > 10) for λ = 2 is scipy poisson.sf(10, 2).
    assert_relative_eq!(
        poisson_upper_tail(0, 1.0),
        1.0 - (-1.0_f64).exp(),
        max_relative = 1e-12
    );
    assert_relative_eq!(
        poisson_upper_tail(10, 2.0),
        8.308_224_368_484_216e-6,
        max_relative = 1e-9
    );
    assert_eq!(poisson_upper_tail(3, 0.0), 0.0);
}

#[test]
fn global_knox_counts_inclusive_bounds() {
    let pts = [
        pt(0.0, 0.0, 0),
        pt(3.0, 4.0, 2),
        pt(100.0, 0.0, 2),
        pt(0.0, 6.0, 9),
    ];
    let g = knox_global(&pts, 5.0, 2, DistanceMetric::Euclidean, 0, 1).unwrap();
    // d(0,1) = 5 <= 5 and Δt = 2 <= 2: counted.
    assert_eq!(g.pairs, 6);
    assert_eq!(g.nst, 1);
    assert_eq!(g.ns, 2);
    // Time pairs: (0, 1) and (0, 2) two days apart, (1, 2) the same day.
    assert_eq!(g.nt, 3);
    assert_eq!(g.p_sim, None);
    assert_relative_eq!(g.expected[0][0], 2.0 * 3.0 / 6.0);
}

#[test]
fn risk_windows_follow_the_significant_bands() {
    let bands = [
        RiskBand {
            min_distance_m: 0.0,
            max_distance_m: 200.0,
            from_days: 0,
            to_days: 7,
            knox_ratio: 3.0,
            p: 0.01,
        },
        RiskBand {
            min_distance_m: 200.0,
            max_distance_m: 400.0,
            from_days: 0,
            to_days: 3,
            knox_ratio: 1.5,
            p: 0.02,
        },
    ];
    let a = LonLat::new(-2.59, 51.455).unwrap();
    let day: Day = "2024-05-01".parse().unwrap();
    let w = risk_windows(
        &[(a, day)],
        &bands,
        Resolution::Ten,
        DistanceMetric::Euclidean,
        None,
    )
    .unwrap();
    let own = cell_of(a, Resolution::Ten);
    let own_w = w.iter().find(|x| x.h3 == own).unwrap();
    assert_eq!(own_w.from, day);
    assert_eq!(own_w.to.to_string(), "2024-05-08");
    assert_relative_eq!(own_w.knox_ratio, 3.0);
    let p = to_bng([a]).unwrap()[0];
    for x in &w {
        let c = to_bng([cell_centre(x.h3)]).unwrap()[0];
        let d = distance(DistanceMetric::Euclidean, p, c);
        assert!(d <= 400.0 || x.h3 == own);
        let expect_to = if d <= 200.0 || x.h3 == own {
            "2024-05-08"
        } else {
            "2024-05-04"
        };
        assert_eq!(x.to.to_string(), expect_to, "{d}");
    }
    // Every res-10 cell whose centre is within 400 m is there.
    let within = own
        .grid_disk::<Vec<CellIndex>>(12)
        .into_iter()
        .filter(|c| {
            distance(
                DistanceMetric::Euclidean,
                p,
                to_bng([cell_centre(*c)]).unwrap()[0],
            ) <= 400.0
        })
        .count();
    assert_eq!(w.len(), within);
    // Two incidents a day apart merge into one window per cell; as_of drops ended windows.
    let w2 = risk_windows(
        &[(a, day), (a, day.plus_days(1))],
        &bands[..1],
        Resolution::Ten,
        DistanceMetric::Euclidean,
        Some(day.plus_days(8)),
    )
    .unwrap();
    let own_w = w2.iter().find(|x| x.h3 == own).unwrap();
    assert_eq!(own_w.incidents, 2);
    assert_eq!(own_w.to.to_string(), "2024-05-09");
    assert!(
        risk_windows(
            &[(a, day)],
            &[],
            Resolution::Ten,
            DistanceMetric::Euclidean,
            None
        )
        .unwrap()
        .is_empty()
    );
}

#[test]
fn elevated_bands_come_from_significant_cells_above_chance() {
    let Some(pts) = chicago() else { return };
    let r = knox(&pts, &chicago_settings(99)).unwrap();
    let bands = r.elevated_bands(0.05);
    // NRC: 1-200, 201-400, 401-600 m at 0-1 days, and same location at 2 to 2 days.
    assert!(
        bands
            .iter()
            .any(|b| b.max_distance_m == 200.0 && b.from_days == 0 && b.to_days == 0)
    );
    assert!(bands.iter().all(|b| b.knox_ratio > 1.0 && b.p <= 0.05));
}

/// Many events in a small area: every pair is close, most in the first bands.
fn crowded(n: usize, seed: u64) -> Vec<SpaceTimePoint> {
    let mut rng = Xoshiro256::seeded(seed);
    let mut unit = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (0..n)
        .map(|i| {
            // A few exact repeats of a location feed the same-location row.
            let (x, y) = if i % 10 == 0 {
                (250.0, 250.0)
            } else {
                (unit() * 500.0, unit() * 500.0)
            };
            pt(x, y, (unit() * 60.0) as u16)
        })
        .collect()
}

#[test]
fn knox_streamed_in_chunks_gives_the_in_memory_result_exactly() {
    let pts = crowded(700, 4);
    for (metric, mode) in [
        (DistanceMetric::Euclidean, KnoxMode::Correct),
        (DistanceMetric::Manhattan, KnoxMode::NrcCompatible),
    ] {
        let s = KnoxSettings {
            metric,
            mode,
            permutations: 39,
            seed: 11,
            ..KnoxSettings::default()
        };
        let whole = knox(&pts, &s).unwrap();
        assert_eq!(whole.pair_passes, 1);
        assert!(whole.close_pairs > 200_000, "{}", whole.close_pairs);
        // 2,000 pairs per chunk: over a hundred passes.
        let streamed = knox_with_pair_budget(&pts, &s, 2_000 * PAIR_BYTES).unwrap();
        assert!(
            u64::from(streamed.pair_passes) >= whole.close_pairs / 2_000,
            "{}",
            streamed.pair_passes
        );
        assert!(
            streamed.warnings.iter().any(|w| w.contains("passes")),
            "{:?}",
            streamed.warnings
        );
        assert_eq!(streamed.observed, whole.observed);
        assert_eq!(streamed.observed, brute(&pts, &s));
        assert_eq!(streamed.p, whole.p);
        assert_eq!(streamed.expected, whole.expected);
        assert_eq!(streamed.expected_median, whole.expected_median);
        assert_eq!(streamed.ratio, whole.ratio);
        assert_eq!(streamed.close_pairs, whole.close_pairs);
        // Everything but the pass count and its warning.
        let same = KnoxResult {
            pair_passes: whole.pair_passes,
            warnings: whole.warnings.clone(),
            ..streamed
        };
        assert_eq!(same, whole);
        // A budget below one pair still makes progress, one pair at a time.
        let tiny = knox_with_pair_budget(&pts[..40], &s, 0).unwrap();
        assert_eq!(tiny.observed, knox(&pts[..40], &s).unwrap().observed);
        assert_eq!(u64::from(tiny.pair_passes), tiny.close_pairs.max(1));
    }
}

#[test]
fn global_knox_streamed_in_chunks_gives_the_in_memory_result_exactly() {
    let pts = crowded(500, 8);
    let whole = knox_global(&pts, 150.0, 3, DistanceMetric::Euclidean, 49, 5).unwrap();
    let streamed = knox_global_budgeted(
        &pts,
        150.0,
        3,
        DistanceMetric::Euclidean,
        (49, 5),
        1_000 * PAIR_BYTES,
    )
    .unwrap();
    assert!(whole.ns > 20_000, "{}", whole.ns);
    assert_eq!(streamed, whole);
}
