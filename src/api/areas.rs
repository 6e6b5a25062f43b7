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
//! not given. Roles that see exact counts get point-in-polygon counts. The figures are
//! computed in [`crate::service::areas`]; this handler parses, authorises, admits that
//! computation and encodes the comparison.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use super::admission::Work;
use super::auth::Authorised;
use super::params::Params;
use super::{ApiError, ApiResult, AppState, hexagons};
use crate::domain::{Boundary, Category};
use crate::safeguards::disclosure::Sensitivity;
use crate::safeguards::policy::{DisclosureClass, disclosure_class};
use crate::service::areas::{Comparison, Figure, compare, estimate_bytes};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/areas/compare", get(get_compare))
}

fn figure_json(f: Figure) -> Value {
    match f {
        Figure::Exact(n) => json!({"count": n, "suppressed": false}),
        Figure::Published(p) => json!({"count": p.count_json(), "suppressed": p.is_suppressed()}),
        Figure::SumOfPublished(p) => {
            json!({"count": p.count_json(), "suppressed": p.is_suppressed(), "sum_of_published_months": true})
        }
    }
}

/// The areas of the comparison as JSON, in their order.
fn areas_json(areas: &[Boundary], comparison: &Comparison) -> Vec<Value> {
    areas
        .iter()
        .zip(&comparison.areas)
        .map(|(a, f)| {
            json!({
                "scheme": a.scheme, "code": a.code, "name": a.name,
                "youth_population": a.youth_population,
                "incidents": figure_json(f.total),
                "rate_per_1000_youth": f.rate_per_1000_youth,
                "monthly": f.monthly.iter().map(|m| figure_json(*m)).collect::<Vec<_>>(),
                "trend_per_month": f.trend_per_month,
            })
        })
        .collect()
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
        // Exact roles: the incidents of both areas' boxes; aggregate roles: the areas' rows
        // of the window's monthly releases, which are computed (and admitted) before, each
        // month on its own (api::hexagons::admit_months).
        estimate_bytes: estimate_bytes(&snap, window, controlled),
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
    let body = state
        .admission
        .run(work, move || {
            let comparison = compare(&snap, &areas, window, category, releases.as_ref())?;
            let sensitivity = Sensitivity::for_category(category);
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
                "months": comparison.months,
                "areas": areas_json(&areas, &comparison),
                "total": figure_json(comparison.total),
                "disclosure": disclosure,
            }))
        })
        .await?;
    Ok(Json(body.as_ref().clone()))
}
