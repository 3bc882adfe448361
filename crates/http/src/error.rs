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
    /// Too many attempts: the caller must wait `retry_after_secs` (`Retry-After`) before
    /// asking again; `code` says which limit.
    #[error("{message}")]
    TooManyRequests {
        code: &'static str,
        message: String,
        retry_after_secs: u64,
    },
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
            ApiError::TooManyRequests {
                code,
                message,
                retry_after_secs,
            } => {
                let body = Json(json!({ "error": { "code": code, "message": message } }));
                let retry_after = [(header::RETRY_AFTER, retry_after_secs.to_string())];
                return (StatusCode::TOO_MANY_REQUESTS, retry_after, body).into_response();
            }
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

/// The most of a plain-text error body that is carried into its JSON form.
const MAX_REJECTION_TEXT: usize = 1024;

/// Gives every error the hub answers the one JSON shape, also those axum makes itself before a
/// handler runs (a body over the size limit, a method the route lacks, an unreadable path or
/// query, a wrong content type): their plain text becomes the `message`, and the `code` is the
/// one the surface uses for that status (Direct Line's own codes under `/v3/directline`).
pub async fn json_errors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let directline = request.uri().path().starts_with("/v3/directline");
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MAX_REJECTION_TEXT * 4).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let mut message: String = text.chars().take(MAX_REJECTION_TEXT).collect();
    if message.is_empty() {
        message = status.canonical_reason().unwrap_or("error").to_owned();
    }
    let code = match (directline, status.as_u16()) {
        (true, 400 | 415 | 422) => "BadArgument",
        (true, 404) => "NotFound",
        (true, 405) => "MethodNotAllowed",
        (true, 413) => "MessageSizeTooBig",
        (true, 429) => "TooManyRequests",
        (false, 400 | 415 | 422) => "bad_request",
        (false, 404) => "not_found",
        (false, 405) => "method_not_allowed",
        (false, 413) => "too_large",
        (false, 429) => "too_many_requests",
        (true, _) => "ServiceError",
        (false, _) => "error",
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    let body = json!({ "error": { "code": code, "message": message } }).to_string();
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// The longest request target (path and query) the hub reads. Nothing it serves needs more;
/// longer ones get a JSON 414 here rather than reaching a handler. (Past 64 KiB the HTTP
/// parser itself refuses the request, before the hub sees it, with a bare 414.)
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Refuses a request whose target is longer than [`MAX_URI_BYTES`], in the JSON error shape.
pub async fn uri_limit(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let length = request.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if length <= MAX_URI_BYTES {
        return next.run(request).await;
    }
    let code = if request.uri().path().starts_with("/v3/directline") {
        "BadArgument"
    } else {
        "uri_too_long"
    };
    let message = format!("the request target is {length} bytes; the hub reads at most {MAX_URI_BYTES}");
    (
        StatusCode::URI_TOO_LONG,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

/// How the request trace logs a failed request: a 5xx is an ERROR, except 501 — an operation
/// the hub deliberately does not offer (the Connector's CreateConversation, say) is the
/// caller's mistake, not the hub's, and is logged at INFO.
pub fn log_failure(
    class: tower_http::classify::ServerErrorsFailureClass,
    latency: std::time::Duration,
    _span: &tracing::Span,
) {
    use tower_http::classify::ServerErrorsFailureClass;
    let latency_ms = latency.as_millis() as u64;
    match class {
        ServerErrorsFailureClass::StatusCode(StatusCode::NOT_IMPLEMENTED) => {
            tracing::info!(
                http.status = 501,
                latency_ms,
                "request asked for an operation the hub does not offer"
            );
        }
        ServerErrorsFailureClass::StatusCode(status) => {
            tracing::error!(http.status = status.as_u16(), latency_ms, "request failed");
        }
        ServerErrorsFailureClass::Error(error) => {
            tracing::error!(error = %error, latency_ms, "request failed");
        }
    }
}
