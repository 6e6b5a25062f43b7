use std::sync::Arc;

use super::*;
use crate::service::hexagons::{ProtectedCache, month_bundle, release_areas};
use crate::service::test_support::{last_months, snapshot};

#[test]
fn the_slope_is_the_least_squares_line() {
    assert_eq!(slope_per_month(&[1, 2, 3, 4]), Some(1.0));
    assert_eq!(slope_per_month(&[5, 5, 5]), Some(0.0));
    assert_eq!(slope_per_month(&[4, 2]), Some(-2.0));
    assert_eq!(slope_per_month(&[4]), None);
}

fn two_wards(snap: &Snapshot) -> Vec<Boundary> {
    snap.boundaries.of_scheme("ward").take(2).cloned().collect()
}

#[test]
fn exact_figures_are_the_point_in_polygon_counts() {
    let snap = snapshot(1);
    let window = last_months(&snap, 6);
    let areas = two_wards(&snap);
    assert_eq!(areas.len(), 2);
    let c = compare(&snap, &areas, window, None, None).expect("computed");
    assert_eq!(c.months, months_of(window));
    let mut grand = 0;
    for (a, f) in areas.iter().zip(&c.areas) {
        let direct = count_in_area_checked(&snap.incidents, a, window, None).expect("counted");
        assert_eq!(f.total, Figure::Exact(direct.total));
        let monthly: Vec<Figure> = direct.monthly.iter().map(|&n| Figure::Exact(n)).collect();
        assert_eq!(f.monthly, monthly);
        assert_eq!(
            f.rate_per_1000_youth,
            rate_per_1000(direct.total, a.youth_population)
        );
        assert_eq!(f.trend_per_month, slope_per_month(&direct.monthly));
        grand += direct.total;
    }
    assert!(grand > 0);
    assert_eq!(c.total, Figure::Exact(grand));
}

#[test]
fn released_figures_come_from_the_monthly_releases() {
    let cache = Arc::new(ProtectedCache::default());
    let snap = snapshot(1);
    let window = last_months(&snap, 4);
    let policy = crate::safeguards::disclosure::DisclosurePolicy::default();
    let released = release_areas(&cache, &snap);
    let held = released_months(&snap, window)
        .into_iter()
        .map(|m| (m, month_bundle(&cache, &policy, &snap, m, None, &released)))
        .collect();
    let months = Months::new(
        Arc::clone(&cache),
        policy,
        Arc::clone(&snap),
        None,
        released,
        held,
    );
    let areas = two_wards(&snap);
    let c = compare(&snap, &areas, window, None, Some(&months)).expect("computed");
    for (a, f) in areas.iter().zip(&c.areas) {
        assert!(f.monthly.iter().all(|m| matches!(m, Figure::Published(_))));
        assert!(matches!(f.total, Figure::SumOfPublished(_)));
        let values: Option<Vec<u32>> = f.monthly.iter().map(|m| m.value()).collect();
        // A total is the sum of its published months; a trend needs every month.
        if let Some(v) = values {
            assert_eq!(f.total.value(), Some(v.iter().sum()));
            assert_eq!(f.trend_per_month, slope_per_month(&v));
        } else {
            assert_eq!(f.total.value(), None);
            assert_eq!(f.trend_per_month, None);
            assert_eq!(f.rate_per_1000_youth, None);
        }
        if let Some(n) = f.total.value() {
            assert_eq!(f.rate_per_1000_youth, rate_per_1000(n, a.youth_population));
        }
    }
    // An area outside the releases is refused, not counted exactly.
    let mut unknown = areas[0].clone();
    unknown.code = crate::domain::BoundaryCode::new("NOT-AN-AREA").expect("a code");
    assert!(matches!(
        compare(&snap, &[unknown], window, None, Some(&months)),
        Err(ServiceError::AreaNotReleased)
    ));
}
