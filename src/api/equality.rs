//! `GET /api/v1/equality/latest`: the latest month of the S22 monitor, for the
//! `equality_monitor` role only (data class `equality`, purpose `equality_monitoring`), with
//! every count passed through the disclosure control (`safeguards::equality::api`). The read
//! is audited.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::auth::Authorised;
use super::params::Params;
use super::{ApiError, ApiResult, AppState};
use crate::safeguards::audit::{AuditEventType, Decision};
use crate::safeguards::equality::api::{publish, publish_alert};
use crate::safeguards::equality::{AlertStatus, Month};
use crate::store::SqliteStore;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/equality/latest", get(get_latest))
}

async fn get_latest(
    State(state): State<AppState>,
    auth: Authorised,
    params: Params,
) -> ApiResult<Response> {
    params.only(&[])?;
    // A server on PostgreSQL has no equality results: the monitor's tables are the embedded
    // store's only in this release.
    let Some(dir) = state.equality_dir.clone() else {
        return Err(ApiError::NotFound(
            "the equality monitor's results are kept by the embedded SQLite store only in this \
             release; this server runs on PostgreSQL"
                .to_owned(),
        ));
    };
    let policy = state.disclosure;
    let (month, results, alerts) = super::blocking(move || {
        let store = SqliteStore::open(&dir).map_err(ApiError::internal)?;
        let month = store.latest_equality_month().map_err(ApiError::internal)?;
        let results = match month.as_deref().map(str::parse::<Month>) {
            Some(Ok(m)) => store
                .equality_results(m)
                .map_err(ApiError::internal)?
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let alerts = store.equality_alerts().map_err(ApiError::internal)?;
        Ok((month, results, alerts))
    })
    .await?;
    let published: Vec<_> = results.iter().map(|c| publish(c, &policy)).collect();
    let open: Vec<_> = alerts
        .iter()
        .filter(|a| a.status == AlertStatus::Open)
        .map(publish_alert)
        .collect();
    let mut event = auth.audit_event(AuditEventType::Consultation, Decision::Allow);
    event.query = json!({"route": auth.route, "month": month});
    event.record_count = published.len() as u64;
    state.audit_append(event).await?;
    Ok(Json(json!({
        "month": month,
        "results": published,
        "open_alerts": open,
        "disclosure": "counts of 1 to 9 suppressed, others rounded (S21); RRI and interval suppressed with their counts, to two decimals",
    }))
    .into_response())
}
