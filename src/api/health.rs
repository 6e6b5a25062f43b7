//! `GET /health`.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(get_health))
}

async fn get_health(State(state): State<AppState>) -> impl IntoResponse {
    let snap = state.snapshot();
    (
        [(header::CACHE_CONTROL, "no-cache")],
        Json(json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "data_version": snap.data_version,
            "computations_running": state.admission.running(),
            // Runs of imported incidents served beside the base index (issue 15): 0 after a
            // merge; an import into a running server adds one.
            "incident_runs": snap.incidents.runs(),
            // Measured: what the running computations hold now (analysis::budget).
            "computations_bytes": super::admission::measured_in_use(),
        })),
    )
}
