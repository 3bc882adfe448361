//! Operations endpoints: liveness, readiness and Prometheus metrics.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up and serving HTTP.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The hub can do its work: the store answers.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let backend = state.hub.store().backend();
    match state.hub.ready().await {
        Ok(()) => Ok(Json(json!({ "status": "ready", "store": backend.as_str() }))),
        Err(engine::EngineError::Draining) => Err(ApiError::Unavailable(
            "this node is draining before it stops; other nodes take its requests".to_owned(),
        )),
        Err(e) => {
            tracing::warn!(store.backend = backend.as_str(), error = %e, "not ready");
            Err(ApiError::Unavailable(format!(
                "the {} store is not reachable",
                backend.as_str()
            )))
        }
    }
}

/// Prometheus text exposition.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.hub.publish_gauges();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
