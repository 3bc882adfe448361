//! The one error type of the HTTP layer and its mapping to statuses.
//!
//! Every error body has the same shape, `{"error":{"code":"…","message":"…"}}`, with a stable
//! machine-readable `code` and a sentence for people. 5xx bodies never carry internals: the
//! detail is logged once, here, and the client gets a generic message.

use axum::Json;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or names something invalid.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// The request carries no valid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// The credentials are valid but do not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// A well-formed request the current state does not allow; `code` says which rule.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The hub cannot serve requests right now (e.g. the database is unreachable).
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; the detail is logged, not returned.
    #[error("internal error")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            ApiError::BadRequest { code, message } => (StatusCode::BAD_REQUEST, code, message),
            ApiError::Unauthorized(message) => {
                let body = Json(json!({ "error": { "code": "unauthorized", "message": message } }));
                return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], body).into_response();
            }
            ApiError::Forbidden(message) => (StatusCode::FORBIDDEN, "forbidden", message),
            ApiError::Conflict { code, message } => (StatusCode::CONFLICT, code, message),
            ApiError::NotFound(message) => (StatusCode::NOT_FOUND, "not_found", message),
            ApiError::Unavailable(message) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", message),
            ApiError::Internal(detail) => {
                tracing::error!(error.detail = %detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the hub failed to handle this request; see its log".to_owned(),
                )
            }
        };
        (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response()
    }
}

/// The answer for any path no route matches.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no such endpoint: {}", uri.path()))
}
