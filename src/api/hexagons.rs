//! `GET /api/v1/hexagons`: incident counts per H3 cell as GeoJSON polygons.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use h3o::LatLng;

use super::geojson_out::{FeatureWriter, push_ring_polygon};
use super::params::Params;
use super::{ApiError, ApiResult, AppState, blocking, study_area};
use crate::domain::{Category, TimeWindow};
use crate::index::{CountQuery, H3Res};

/// Most cells one response may hold; beyond it the caller must zoom in or coarsen `res`.
pub const MAX_CELLS: usize = 60_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/hexagons", get(get_hexagons))
}

#[tracing::instrument(skip_all, fields(res, cells))]
async fn get_hexagons(
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<impl IntoResponse> {
    params.only(&["res", "bbox", "from", "to", "category"])?;
    let res = H3Res::new(params.int_in("res", 0..=15, 8)? as u8)?;
    let bbox = params.bbox()?.unwrap_or_else(study_area);
    let snap = state.snapshot();
    let default_window = snap
        .incidents
        .day_range()
        .and_then(|(a, b)| TimeWindow::new(a, b).ok())
        .unwrap_or_else(TimeWindow::all);
    let window = params.window(default_window)?;
    let category = params.category()?;
    tracing::Span::current().record("res", res.get());

    let body = blocking(move || {
        let q = CountQuery { bbox, res, window, category };
        let counts = snap.incidents.cell_counts(&q);
        if counts.len() > MAX_CELLS {
            return Err(ApiError::invalid(
                "res",
                format!("{} cells exceed the limit of {MAX_CELLS}; use a smaller bbox or a coarser res", counts.len()),
            ));
        }
        tracing::Span::current().record("cells", counts.len());
        let mut w = FeatureWriter::new(counts.len() * 330 + 256);
        let mut ring = Vec::with_capacity(6);
        for c in &counts {
            ring.clear();
            ring.extend(c.cell.boundary().iter().map(|v: &LatLng| (v.lng(), v.lat())));
            let props = format!(r#"{{"h3":"{}","count":{}}}"#, c.cell, c.count);
            w.feature_raw(|o| push_ring_polygon(o, &ring), &props);
        }
        let mut extra = serde_json::Map::new();
        extra.insert(
            "query".to_owned(),
            serde_json::json!({
                "res": res.get(), "bbox": bbox.to_string(), "from": window.from(), "to": window.to(),
                "category": category.map(Category::slug),
            }),
        );
        Ok(w.finish(&extra))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], body))
}
