//! Area figures for comparing two areas (issue 5's area panel; product M5): incidents in an
//! area for a window and category, per calendar month, with the area's youth population for
//! rates.
//!
//! An incident belongs to an area when its point lies inside the area's outline
//! (`geo::Contains`: a point exactly on the boundary belongs to neither side). Unlocated
//! incidents belong to no area. The months are the calendar months the window touches, in
//! order, each counted only over the days of the window.

use geo::{BoundingRect, Contains, Point};

use super::AnalysisResult;
use crate::domain::{Bbox, Boundary, Category, Day, TimeWindow};
use crate::index::IncidentLayer;

/// What was counted in one area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AreaCounts {
    /// Incidents in the area and window.
    pub total: u32,
    /// First day of each month the window touches, ascending.
    pub months: Vec<Day>,
    /// Incidents per month, parallel to `months`.
    pub monthly: Vec<u32>,
}

/// The first day of every month `window` touches, ascending.
pub fn months_of(window: TimeWindow) -> Vec<Day> {
    let mut out = Vec::new();
    let mut m = window.from().month_start();
    while m <= window.to() {
        out.push(m);
        // Day 32 of a month is always in the next month.
        let next = m.plus_days(32).month_start();
        if next <= m {
            break;
        }
        m = next;
    }
    out
}

/// Counts the incidents of `index` inside `area` in `window` and `category`, exactly (the
/// figures of roles that see exact counts; aggregate roles get the monthly release's area
/// figures, `safeguards::releases::area_table`).
pub fn count_in_area(
    index: &IncidentLayer,
    area: &Boundary,
    window: TimeWindow,
    category: Option<Category>,
) -> AreaCounts {
    count(index, area, window, category, false).unwrap_or_else(|_| unreachable_counts())
}

/// [`count_in_area`] for a computation run under the admission layer: it stops at a
/// checkpoint (`analysis::cancel`) once its request is gone or it is past its memory budget,
/// after the incidents of the area's box are gathered and every few thousand of them.
///
/// # Errors
///
/// [`AnalysisError::Cancelled`] at a checkpoint.
pub fn count_in_area_checked(
    index: &IncidentLayer,
    area: &Boundary,
    window: TimeWindow,
    category: Option<Category>,
) -> AnalysisResult<AreaCounts> {
    count(index, area, window, category, true)
}

/// Never built: [`count`] without checkpoints cannot fail.
fn unreachable_counts() -> AreaCounts {
    AreaCounts {
        total: 0,
        months: Vec::new(),
        monthly: Vec::new(),
    }
}

fn count(
    index: &IncidentLayer,
    area: &Boundary,
    window: TimeWindow,
    category: Option<Category>,
    checked: bool,
) -> AnalysisResult<AreaCounts> {
    let checkpoint = || {
        if checked {
            super::cancel::checkpoint()
        } else {
            Ok(())
        }
    };
    let months = months_of(window);
    let mut monthly = vec![0u32; months.len()];
    let mut total = 0u32;
    let bbox = area
        .geometry
        .bounding_rect()
        .and_then(|r| Bbox::from_coords(r.min().x, r.min().y, r.max().x, r.max().y).ok());
    if let Some(bbox) = bbox {
        let (hits, _) = index.incidents_in_bbox(bbox, window, category, usize::MAX);
        checkpoint()?;
        for (i, hit) in hits.iter().enumerate() {
            if i % 4096 == 4095 {
                checkpoint()?;
            }
            if !area.geometry.contains(&Point::new(hit.lon, hit.lat)) {
                continue;
            }
            total += 1;
            let month = hit.day.month_start();
            if let Ok(k) = months.binary_search(&month) {
                monthly[k] += 1;
            }
        }
    }
    Ok(AreaCounts {
        total,
        months,
        monthly,
    })
}

/// Incidents per 1,000 young people, when the population is known and positive.
pub fn rate_per_1000(count: u32, youth_population: Option<u32>) -> Option<f64> {
    youth_population
        .filter(|p| *p > 0)
        .map(|p| f64::from(count) * 1000.0 / f64::from(p))
}

#[cfg(test)]
mod tests {
    use geo::{MultiPolygon, polygon};

    use super::*;
    use crate::domain::{BoundaryCode, IncidentId, LonLat, SchemeName};
    use crate::index::IncidentInput;

    fn day(s: &str) -> Day {
        s.parse().unwrap()
    }

    fn square(x0: f64, y0: f64, size: f64) -> Boundary {
        Boundary {
            scheme: SchemeName::new("ward").unwrap(),
            code: BoundaryCode::new("W1").unwrap(),
            name: "Test ward".to_owned(),
            geometry: MultiPolygon(vec![polygon![
                (x: x0, y: y0), (x: x0 + size, y: y0), (x: x0 + size, y: y0 + size),
                (x: x0, y: y0 + size), (x: x0, y: y0)
            ]]),
            youth_population: Some(2_000),
        }
    }

    #[test]
    fn months_cover_every_month_the_window_touches() {
        let w = TimeWindow::new(day("2024-01-15"), day("2024-04-02")).unwrap();
        let m: Vec<String> = months_of(w).iter().map(ToString::to_string).collect();
        assert_eq!(m, ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]);
        let one = TimeWindow::new(day("2024-12-31"), day("2024-12-31")).unwrap();
        assert_eq!(months_of(one).len(), 1);
    }

    #[test]
    fn counts_match_a_brute_force_point_in_polygon_count() {
        // A 20 x 20 grid of incidents over three months; the area covers part of it.
        let mut inputs = Vec::new();
        let mut n = 0u64;
        for i in 0..20 {
            for j in 0..20 {
                n += 1;
                inputs.push(IncidentInput {
                    id: IncidentId::new(n),
                    location: Some(
                        LonLat::new(-2.6 + f64::from(i) * 0.001, 51.45 + f64::from(j) * 0.001)
                            .unwrap(),
                    ),
                    day: day("2024-01-01").plus_days((n % 90) as u16),
                    category: if n.is_multiple_of(3) {
                        Category::Drugs
                    } else {
                        Category::Robbery
                    },
                    involves_child: false,
                    day_known: true,
                });
            }
        }
        inputs.push(IncidentInput {
            id: IncidentId::new(9_999),
            location: None,
            day: day("2024-01-05"),
            category: Category::Drugs,
            involves_child: false,
            day_known: true,
        });
        let index = IncidentLayer::from(crate::index::IncidentIndex::build(&inputs));
        let area = square(-2.5955, 51.4525, 0.0071);
        let window = TimeWindow::new(day("2024-01-10"), day("2024-03-20")).unwrap();
        for category in [None, Some(Category::Drugs)] {
            let got = count_in_area(&index, &area, window, category);
            let months = months_of(window);
            let mut expected = vec![0u32; months.len()];
            for input in &inputs {
                let Some(p) = input.location else { continue };
                if !window.contains(input.day) || category.is_some_and(|c| c != input.category) {
                    continue;
                }
                if area.geometry.contains(&Point::new(p.lon(), p.lat())) {
                    let k = months
                        .iter()
                        .position(|m| *m == input.day.month_start())
                        .unwrap();
                    expected[k] += 1;
                }
            }
            assert_eq!(got.monthly, expected);
            assert_eq!(got.total, expected.iter().sum::<u32>());
            assert!(got.total > 0);
        }
    }

    #[test]
    fn rates_need_a_positive_population() {
        assert_eq!(rate_per_1000(30, Some(2_000)), Some(15.0));
        assert_eq!(rate_per_1000(30, Some(0)), None);
        assert_eq!(rate_per_1000(30, None), None);
    }
}
