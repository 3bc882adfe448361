//! The JSON API for people and operators, under `/api/v1`. Every call is authenticated; see
//! [`auth`] for who may call what.

pub mod auth;
mod conversations;

use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().merge(conversations::routes())
}

/// An instant as RFC 3339 text (UTC, milliseconds), the way every API timestamp is written.
pub(crate) fn rfc3339(at: domain::Timestamp) -> String {
    let nanos = i128::from(at.millis()) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}
