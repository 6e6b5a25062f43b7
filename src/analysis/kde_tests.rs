use approx::assert_relative_eq;
use h3o::Resolution;

use super::*;
use crate::analysis::gistar::DEFAULT_MAX_CELLS;
use crate::domain::Bbox;

fn p(x: f64, y: f64) -> WeightedPoint {
    WeightedPoint {
        x_m: x,
        y_m: y,
        weight: 1.0,
    }
}

#[test]
fn one_point_gives_the_kernel_peak_and_zero_at_the_radius() {
    let pts = [p(0.0, 0.0)];
    let r = 100.0;
    let d = quartic_density(
        &pts,
        &[[0.0, 0.0], [50.0, 0.0], [100.0, 0.0], [0.0, 99.999]],
        r,
    )
    .unwrap();
    let peak = 3.0 / (std::f64::consts::PI * r * r);
    assert_relative_eq!(d[0].unwrap(), peak, max_relative = 1e-14);
    assert_relative_eq!(d[1].unwrap(), peak * 0.75 * 0.75, max_relative = 1e-14);
    assert_eq!(d[2], None, "d = r is outside (strict <) and NoData");
    assert!(d[3].unwrap() > 0.0);
}

#[test]
fn the_density_integrates_to_the_total_weight() {
    let pts = [
        p(0.0, 0.0),
        WeightedPoint {
            x_m: 30.0,
            y_m: -20.0,
            weight: 2.5,
        },
    ];
    let r = 50.0;
    let step = 1.0;
    let mut grid = Vec::new();
    let mut y = -80.0;
    while y <= 80.0 {
        let mut x = -80.0;
        while x <= 110.0 {
            grid.push([x, y]);
            x += step;
        }
        y += step;
    }
    let total: f64 = quartic_density(&pts, &grid, r)
        .unwrap()
        .into_iter()
        .flatten()
        .sum::<f64>()
        * step
        * step;
    assert_relative_eq!(total, 3.5, max_relative = 1e-3);
}

#[test]
fn the_bucketed_sum_equals_brute_force() {
    let mut pts = Vec::new();
    let mut s = 7u64;
    let mut next = || {
        s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    for _ in 0..500 {
        pts.push(WeightedPoint {
            x_m: next() * 5000.0,
            y_m: next() * 3000.0,
            weight: 0.5 + next(),
        });
    }
    let at: Vec<[f64; 2]> = (0..300)
        .map(|_| [next() * 6000.0 - 500.0, next() * 4000.0 - 500.0])
        .collect();
    let r = 400.0;
    let got = quartic_density(&pts, &at, r).unwrap();
    for (a, g) in at.iter().zip(got) {
        let mut sum = 0.0;
        let mut any = false;
        for q in &pts {
            let d2 = (q.x_m - a[0]).powi(2) + (q.y_m - a[1]).powi(2);
            if d2 < r * r {
                sum += q.weight * (1.0 - d2 / (r * r)).powi(2);
                any = true;
            }
        }
        let want = any.then(|| sum * 3.0 / (std::f64::consts::PI * r * r));
        match (g, want) {
            (Some(g), Some(w)) => assert_relative_eq!(g, w, max_relative = 1e-12),
            (g, w) => assert_eq!(g, w),
        }
    }
}

#[test]
fn the_default_radius_follows_the_arcgis_rule() {
    // Four points on a square of side 2 around the origin: every distance is sqrt(2).
    let pts = [p(1.0, 1.0), p(-1.0, 1.0), p(-1.0, -1.0), p(1.0, -1.0)];
    let d = default_radius_m(&pts).unwrap();
    let sd = 2.0_f64.sqrt();
    assert_relative_eq!(d.standard_distance_m, sd, max_relative = 1e-14);
    assert_relative_eq!(d.median_distance_m, sd, max_relative = 1e-14);
    let want = 0.9 * sd.min((1.0 / std::f64::consts::LN_2).sqrt() * sd) * 4.0_f64.powf(-0.2);
    assert_relative_eq!(d.radius_m, want, max_relative = 1e-14);
    // Even count: the median is the mean of the middle two.
    let pts = [p(0.0, 0.0), p(1.0, 0.0), p(3.0, 0.0), p(10.0, 0.0)];
    let d = default_radius_m(&pts).unwrap();
    // Mean centre x = 3.5: distances 3.5, 2.5, 0.5, 6.5 -> median (2.5 + 3.5) / 2 = 3.
    assert_relative_eq!(d.median_distance_m, 3.0, max_relative = 1e-14);
}

#[test]
fn degenerate_inputs_are_refused_with_a_reason() {
    assert!(matches!(
        default_radius_m(&[]),
        Err(AnalysisError::NoData(_))
    ));
    assert!(matches!(
        default_radius_m(&[p(5.0, 5.0), p(5.0, 5.0)]),
        Err(AnalysisError::Degenerate(_))
    ));
    assert!(quartic_density(&[p(0.0, 0.0)], &[[0.0, 0.0]], 0.0).is_err());
    assert!(quartic_density(&[p(f64::NAN, 0.0)], &[[0.0, 0.0]], 1.0).is_err());
    assert_eq!(
        quartic_density(&[], &[[0.0, 0.0]], 1.0).unwrap(),
        vec![None]
    );
}

#[test]
fn kde_on_cells_reports_density_per_km2_and_omits_nodata() {
    let u = CellUniverse::in_box(
        Bbox::from_coords(-2.62, 51.44, -2.57, 51.47).unwrap(),
        Resolution::Nine,
        DEFAULT_MAX_CELLS,
    )
    .unwrap();
    let pts: Vec<(LonLat, f64)> = (0..40)
        .map(|i| {
            (
                LonLat::new(
                    -2.60 + f64::from(i % 8) * 0.001,
                    51.45 + f64::from(i / 8) * 0.001,
                )
                .unwrap(),
                1.0,
            )
        })
        .collect();
    let r = kde_cells(&u, &pts, &KdeSettings::default()).unwrap();
    assert!(!r.cells.is_empty() && r.cells.len() < u.len());
    assert!(r.settings.radius_derivation.is_some());
    assert_eq!(r.settings.radius_source, "derived (ArcGIS default)");
    // Expected counts over all cells roughly recover the number of points.
    let total: f64 = r.cells.iter().map(|c| c.expected_count).sum();
    assert!((total - 40.0).abs() < 8.0, "{total}");
    let r = kde_cells(
        &u,
        &pts,
        &KdeSettings {
            radius_m: Some(50.0),
        },
    )
    .unwrap();
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("smaller than the cell size"))
    );
}
