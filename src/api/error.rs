//! The one error type at the HTTP edge. Client errors carry a stable code and the parameter at
//! fault; anything unexpected becomes a generic 500 whose cause is logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::DomainError;
use crate::safeguards::policy::DenyReason;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// A query parameter is missing, unknown or invalid (400).
    #[error("invalid parameter {field}: {message}")]
    InvalidParameter {
        /// The parameter.
        field: String,
        /// What is wrong, for the caller.
        message: String,
    },
    /// The policy refused the request (401, 403 or 428); already audited.
    #[error("denied: {}", reason.code())]
    Denied {
        /// Why.
        reason: DenyReason,
        /// Detail for the caller.
        message: String,
    },
    /// The resource does not exist (404).
    #[error("not found: {0}")]
    NotFound(String),
    /// The audit log cannot be appended (a read-only data directory, issue 14 point 5), so an
    /// audited request is refused (503, `AUDIT_LOG_READ_ONLY`): fail closed.
    #[error("the audit log cannot be appended")]
    AuditUnavailable,
    /// The computation asked for would exceed its memory budget (422, `TOO_EXPENSIVE`); the
    /// message says what to ask for instead (issue 14, point 1).
    #[error("too expensive: {0}")]
    TooExpensive(String),
    /// Every worker of the caller's class is busy and its queue is full (503, `BUSY`, with
    /// `Retry-After`).
    #[error("busy")]
    Busy {
        /// Seconds to wait before retrying.
        retry_after_secs: u32,
    },
    /// Something failed inside the server (500). The cause is logged, not returned.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A 400 for `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidParameter {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A 500 wrapping `err`.
    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(err))
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let field = e.field().to_owned();
        let message = match &e {
            DomainError::Invalid { reason, .. } => reason.clone(),
        };
        Self::InvalidParameter { field, message }
    }
}

impl From<crate::service::ServiceError> for ApiError {
    /// A hexagon query over the cell limit is the caller's (400 on `res`); anything else
    /// failed inside the server.
    fn from(e: crate::service::ServiceError) -> Self {
        match e {
            crate::service::ServiceError::TooManyCells { .. } => {
                Self::invalid("res", e.to_string())
            }
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::InvalidParameter { field, message } => (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "INVALID_PARAMETER", "field": field, "message": message})),
            )
                .into_response(),
            Self::Denied { reason, message } => {
                let status = StatusCode::from_u16(reason.status()).unwrap_or(StatusCode::FORBIDDEN);
                let message = if message.is_empty() {
                    reason.code().to_ascii_lowercase().replace('_', " ")
                } else {
                    message
                };
                (
                    status,
                    Json(json!({"error": reason.code(), "message": message})),
                )
                    .into_response()
            }
            Self::NotFound(what) => (
                StatusCode::NOT_FOUND,
                Json(json!({"error": "NOT_FOUND", "message": what})),
            )
                .into_response(),
            Self::AuditUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error": "AUDIT_LOG_READ_ONLY", "message":
                    "this server runs on a read-only data directory and cannot write the audit \
                     log, so person-level and other audited data are not served; aggregate \
                     layers are"})),
            )
                .into_response(),
            Self::TooExpensive(message) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"error": "TOO_EXPENSIVE", "message": message})),
            )
                .into_response(),
            Self::Busy { retry_after_secs } => (
                StatusCode::SERVICE_UNAVAILABLE,
                [(
                    axum::http::header::RETRY_AFTER,
                    retry_after_secs.to_string(),
                )],
                Json(json!({"error": "BUSY", "message":
                    "the server is busy with other computations of this kind; retry after the \
                     time in Retry-After"})),
            )
                .into_response(),
            Self::Internal(source) => {
                // Log the whole cause chain here; the client sees a generic message.
                let mut chain = source.to_string();
                let mut cur = source.source();
                while let Some(s) = cur {
                    chain.push_str(": ");
                    chain.push_str(&s.to_string());
                    cur = s.source();
                }
                tracing::error!(error = %chain, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({"error": "INTERNAL", "message": "internal error; it has been logged"})),
                )
                    .into_response()
            }
        }
    }
}
