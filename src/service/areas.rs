//! Two (or more) areas of one scheme side by side (issue 5's area panel): incidents, rate per
//! 1,000 young people and the monthly trend.
//!
//! With the monthly releases (aggregate roles) an area's month is its published figure,
//! protected with the map of that month as one release, and totals are sums of the published
//! months (suppressed when any month is); rates and trends come from published figures only,
//! and a trend with any suppressed month is not given. Without them (exact roles) the counts
//! are point-in-polygon counts.

use super::hexagons::{Months, area_figures, released_months};
use super::{ServiceError, ServiceResult};
use crate::analysis::areas::{count_in_area_checked, months_of, rate_per_1000};
use crate::domain::{Boundary, Category, Day, TimeWindow};
use crate::index::Snapshot;
use crate::safeguards::disclosure::Published;
use crate::safeguards::releases;

/// Memory per released month of the areas' rows (measured on the demo data: 0.8 MB for 180
/// months).
const BYTES_PER_RELEASED_MONTH: u64 = 16 << 10;

/// Memory per incident of the exact counts (the incidents of both areas' boxes, a few words
/// each).
const BYTES_PER_INCIDENT: u64 = 32;

/// One figure of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// An exact count.
    Exact(u32),
    /// A published figure of a monthly release.
    Published(Published),
    /// A total summed from published months (suppressed when any month is).
    SumOfPublished(Published),
}

impl Figure {
    /// The number, unless suppressed.
    pub fn value(self) -> Option<u32> {
        match self {
            Figure::Exact(n) => Some(n),
            Figure::Published(p) | Figure::SumOfPublished(p) => p.value(),
        }
    }
}

/// One area's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaFigures {
    /// One figure per month the window touches.
    pub monthly: Vec<Figure>,
    /// The area's total over the window.
    pub total: Figure,
    /// Incidents per 1,000 young people, from the total, when both are known.
    pub rate_per_1000_youth: Option<f64>,
    /// Least-squares slope of the monthly figures, when none is suppressed.
    pub trend_per_month: Option<f64>,
}

/// The comparison of the areas asked for, in their order.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The first day of every month the window touches.
    pub months: Vec<Day>,
    /// The areas' figures.
    pub areas: Vec<AreaFigures>,
    /// All areas together.
    pub total: Figure,
}

/// Upper estimate of [`compare`]'s memory: with the monthly releases (admitted before, each
/// month on its own) the areas' rows of each released month, else the incidents.
pub fn estimate_bytes(snap: &Snapshot, window: TimeWindow, released: bool) -> u64 {
    if released {
        (released_months(snap, window).len() as u64).saturating_mul(BYTES_PER_RELEASED_MONTH)
    } else {
        (snap.incidents.len() as u64).saturating_mul(BYTES_PER_INCIDENT)
    }
}

/// Least-squares slope of `values` against their position (incidents per month, per month).
pub fn slope_per_month(values: &[u32]) -> Option<f64> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mean_x = (nf - 1.0) / 2.0;
    let mean_y = values.iter().map(|&v| f64::from(v)).sum::<f64>() / nf;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, &v) in values.iter().enumerate() {
        let dx = i as f64 - mean_x;
        sxy += dx * (f64::from(v) - mean_y);
        sxx += dx * dx;
    }
    Some(sxy / sxx)
}

/// The areas `areas` over `window` for `category`: from the monthly releases `released`
/// (aggregate roles) or counted exactly (checked: stops at its checkpoints when the request is
/// gone or past its memory budget).
///
/// # Errors
///
/// [`ServiceError::AreaNotReleased`] when an area is missing from the releases,
/// [`ServiceError::Analysis`] from the counts.
pub fn compare(
    snap: &Snapshot,
    areas: &[Boundary],
    window: TimeWindow,
    category: Option<Category>,
    released: Option<&Months>,
) -> ServiceResult<Comparison> {
    let (monthly, totals, total): (Vec<Vec<Figure>>, Vec<Figure>, Figure) =
        if let Some(months) = released {
            // The monthly releases' area figures, protected together with the map
            // (safeguards::releases::month_release): an area is the sum of its cells.
            let indexes: Vec<usize> = areas
                .iter()
                .filter_map(|a| {
                    months
                        .areas()
                        .iter()
                        .position(|r| r.scheme == a.scheme.as_str() && r.code == a.code.as_str())
                })
                .collect();
            if indexes.len() != areas.len() {
                return Err(ServiceError::AreaNotReleased);
            }
            let table = releases::area_table(area_figures(months, window, &indexes), category);
            (
                table
                    .cells
                    .iter()
                    .map(|r| r.iter().map(|p| Figure::Published(*p)).collect())
                    .collect(),
                table
                    .row_totals
                    .iter()
                    .map(|p| Figure::SumOfPublished(*p))
                    .collect(),
                Figure::SumOfPublished(table.grand_total),
            )
        } else {
            let counts = areas
                .iter()
                .map(|a| count_in_area_checked(&snap.incidents, a, window, category))
                .collect::<Result<Vec<_>, _>>()?;
            (
                counts
                    .iter()
                    .map(|c| c.monthly.iter().map(|&n| Figure::Exact(n)).collect())
                    .collect(),
                counts.iter().map(|c| Figure::Exact(c.total)).collect(),
                Figure::Exact(counts.iter().map(|c| c.total).sum()),
            )
        };
    let figures = areas
        .iter()
        .zip(monthly)
        .zip(totals)
        .map(|((a, monthly), total)| {
            let series: Option<Vec<u32>> = monthly.iter().map(|f| f.value()).collect();
            AreaFigures {
                rate_per_1000_youth: total
                    .value()
                    .and_then(|n| rate_per_1000(n, a.youth_population)),
                trend_per_month: series.as_deref().and_then(slope_per_month),
                monthly,
                total,
            }
        })
        .collect();
    Ok(Comparison {
        months: months_of(window),
        areas: figures,
        total,
    })
}

#[cfg(test)]
#[path = "areas_tests.rs"]
mod tests;
