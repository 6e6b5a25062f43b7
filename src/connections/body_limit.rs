//! Request bodies beyond the configured limit: `413` before any handler runs.
//!
//! The API reads no request bodies today, but a client may still declare and send one; a
//! declared `Content-Length` beyond the limit is refused at once, without reading the body.
//! A body sent without a length (chunked) is never read by a handler that does not want it,
//! and an extractor that does read one stops at the same limit ([`DefaultBodyLimit`]).

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The largest request body accepted, bytes.
#[derive(Debug, Clone, Copy)]
struct BodyLimit(u64);

/// `router` with request bodies limited to `limit_bytes`.
pub fn limit_bodies(router: Router, limit_bytes: u64) -> Router {
    router
        .layer(axum::middleware::from_fn_with_state(
            BodyLimit(limit_bytes),
            refuse_large_bodies,
        ))
        .layer(DefaultBodyLimit::max(
            usize::try_from(limit_bytes).unwrap_or(usize::MAX),
        ))
}

async fn refuse_large_bodies(
    State(BodyLimit(limit)): State<BodyLimit>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > limit => {
            let mut response = (
                StatusCode::PAYLOAD_TOO_LARGE,
                axum::Json(json!({
                    "error": "BODY_TOO_LARGE",
                    "field": "Content-Length",
                    "message": format!(
                        "a request body of {length} bytes is over the limit of {limit} bytes"
                    ),
                })),
            )
                .into_response();
            // The body is not read: the connection cannot carry another request.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
        _ => next.run(request).await,
    }
}
