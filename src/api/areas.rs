//! `GET /api/v1/areas/compare`: two areas of one scheme side by side (issue 5's area panel):
//! incidents, rate per 1,000 young people, and the monthly trend.
//!
//! Aggregate roles (public, planner) get whole months from the monthly releases
//! (`safeguards::releases::month_release`): an area is the union of the res-8 cells whose
//! centre lies in it (res-7 for categories about children, `releases::AreaCells`), each
//! area-month is protected with the map of that month as one release, the same in every
//! window, and totals are sums of the published months (suppressed when any month is), so
//! neither overlapping windows nor the map recover a suppressed month (issue 13). Rates and
//! trends are computed from the published figures only; a trend with any suppressed month is
//! not given. Roles that see exact counts get point-in-polygon counts.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use super::admission::Work;
use super::auth::Authorised;
use super::params::Params;
use super::{ApiError, ApiResult, AppState, hexagons};
use crate::analysis::areas::{count_in_area_checked, rate_per_1000};
use crate::domain::{Boundary, Category};
use crate::safeguards::disclosure::{Published, Sensitivity};
use crate::safeguards::policy::{DisclosureClass, disclosure_class};
use crate::safeguards::releases;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/areas/compare", get(get_compare))
}

/// Least-squares slope of `values` against their position (incidents per month, per month).
fn slope_per_month(values: &[u32]) -> Option<f64> {
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

/// Per area: monthly values and total as JSON and as numbers (`None` when suppressed), plus
/// the grand total.
type Figures = (
    Vec<Vec<Value>>,
    Vec<Vec<Option<u32>>>,
    Vec<Value>,
    Vec<Option<u32>>,
    Value,
);

fn published_json(p: Published) -> Value {
    json!({"count": p.count_json(), "suppressed": p.is_suppressed()})
}

/// A total summed from published months (suppressed when any month is).
fn derived_json(p: Published) -> Value {
    json!({"count": p.count_json(), "suppressed": p.is_suppressed(), "sum_of_published_months": true})
}

fn exact_json(n: u32) -> Value {
    json!({"count": n, "suppressed": false})
}

#[tracing::instrument(skip_all)]
async fn get_compare(
    State(state): State<AppState>,
    auth: Authorised,
    params: Params,
) -> ApiResult<Json<Value>> {
    params.only(&["scheme", "a", "b", "from", "to", "category"])?;
    let scheme = params
        .get("scheme")
        .ok_or_else(|| ApiError::invalid("scheme", "required"))?
        .to_owned();
    let codes = ["a", "b"].map(|k| params.get(k).map(str::to_owned));
    let snap = state.snapshot();
    if !snap.boundaries.has_scheme(&scheme) {
        let known: Vec<&str> = snap.boundaries.schemes().collect();
        return Err(ApiError::invalid(
            "scheme",
            format!("unknown scheme; known: {}", known.join(", ")),
        ));
    }
    let mut areas: Vec<Boundary> = Vec::with_capacity(2);
    for (field, code) in ["a", "b"].iter().zip(codes) {
        let code = code.ok_or_else(|| ApiError::invalid(*field, "required: an area code"))?;
        let area = snap
            .boundaries
            .of_scheme(&scheme)
            .find(|b| b.code.as_str() == code)
            .ok_or_else(|| {
                ApiError::invalid(*field, format!("no area {code:?} in scheme {scheme}"))
            })?;
        areas.push(area.clone());
    }
    let (requested, window) = super::query_window(&params, &snap, disclosure_class(auth.role))?;
    let category = params.category()?;
    let controlled = disclosure_class(auth.role) == DisclosureClass::Controlled;
    let policy = state.disclosure;
    let work = Work {
        key: format!(
            "areas|{}|{scheme}|{}|{}|{window:?}|{category:?}|{controlled}",
            snap.data_version, areas[0].code, areas[1].code
        ),
        class: disclosure_class(auth.role),
        // Exact roles: the incidents of both areas' boxes (a few words each); aggregate
        // roles: the areas' rows of the window's monthly releases, which are computed (and
        // admitted) before, each month on its own (api::hexagons::admit_months). Measured on
        // the demo data: 0.8 MB for 180 months.
        estimate_bytes: if controlled {
            let span = snap
                .incidents
                .day_range()
                .and_then(|(a, b)| crate::domain::TimeWindow::new(a, b).ok());
            let months = span.map_or(0, |s| {
                crate::safeguards::disclosure::months_of(window, s).len()
            });
            (months as u64).saturating_mul(16 << 10)
        } else {
            (snap.incidents.len() as u64).saturating_mul(32)
        },
    };
    // The monthly releases of the window, computed through the admission layer when cold.
    let releases = if controlled {
        Some(
            hexagons::admit_months(&state, &snap, window, category, DisclosureClass::Controlled)
                .await?,
        )
    } else {
        None
    };
    let body = state.admission.run(work, move || {
        let months = crate::analysis::areas::months_of(window);
        let sensitivity = Sensitivity::for_category(category);
        let (monthly, published_monthly, totals, published_totals, grand): Figures = if let Some(released_months) = &releases {
            // The monthly releases' area figures, protected together with the map
            // (safeguards::releases::month_release): an area is the sum of its cells.
            let released = released_months.areas();
            let indexes: Vec<usize> = areas
                .iter()
                .filter_map(|a| {
                    released.iter().position(|r| {
                        r.scheme == a.scheme.as_str() && r.code == a.code.as_str()
                    })
                })
                .collect();
            if indexes.len() != areas.len() {
                return Err(ApiError::internal(std::io::Error::other(
                    "an area of the request is missing from the monthly release",
                )));
            }
            let rows = hexagons::area_figures(released_months, window, &indexes);
            let table = releases::area_table(rows, category);
            (
                table.cells.iter().map(|r| r.iter().map(|p| published_json(*p)).collect()).collect(),
                table.cells.iter().map(|r| r.iter().map(|p| p.value()).collect()).collect(),
                table.row_totals.iter().map(|p| derived_json(*p)).collect(),
                table.row_totals.iter().map(|p| p.value()).collect(),
                derived_json(table.grand_total),
            )
        } else {
            // Checked: stops at its checkpoints when the request is gone or past its memory
            // budget (the admission layer then answers why).
            let counts = areas
                .iter()
                .map(|a| count_in_area_checked(&snap.incidents, a, window, category))
                .collect::<Result<Vec<_>, _>>()
                .map_err(ApiError::internal)?;
            (
                counts.iter().map(|c| c.monthly.iter().map(|&n| exact_json(n)).collect()).collect(),
                counts.iter().map(|c| c.monthly.iter().map(|&n| Some(n)).collect()).collect(),
                counts.iter().map(|c| exact_json(c.total)).collect(),
                counts.iter().map(|c| Some(c.total)).collect(),
                exact_json(counts.iter().map(|c| c.total).sum()),
            )
        };
        let out_areas: Vec<Value> = areas
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let series: Option<Vec<u32>> = published_monthly[i].iter().copied().collect();
                json!({
                    "scheme": a.scheme, "code": a.code, "name": a.name,
                    "youth_population": a.youth_population,
                    "incidents": totals[i],
                    "rate_per_1000_youth": published_totals[i].and_then(|n| rate_per_1000(n, a.youth_population)),
                    "monthly": monthly[i],
                    "trend_per_month": series.as_deref().and_then(slope_per_month),
                })
            })
            .collect();
        let disclosure = if controlled {
            json!({"controlled": true, "min_count": policy.threshold(sensitivity),
                   "rounding": policy.effective_rounding_base(), "time": "whole months",
                   "note": "each month is published on its own, the same in every window (small counts suppressed, others rounded); totals are sums of the published months, suppressed when any month is"})
        } else {
            json!({"controlled": false})
        };
        Ok(json!({
            "query": {"scheme": scheme, "from": window.from(), "to": window.to(),
                      "requested_from": requested.from(), "requested_to": requested.to(),
                      "category": category.map(Category::slug)},
            "months": months,
            "areas": out_areas,
            "total": grand,
            "disclosure": disclosure,
        }))
    })
    .await?;
    Ok(Json(body.as_ref().clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slope_is_the_least_squares_line() {
        assert_eq!(slope_per_month(&[1, 2, 3, 4]), Some(1.0));
        assert_eq!(slope_per_month(&[5, 5, 5]), Some(0.0));
        assert_eq!(slope_per_month(&[4, 2]), Some(-2.0));
        assert_eq!(slope_per_month(&[4]), None);
    }
}
