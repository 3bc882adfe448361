//! Switchboard's HTTP surface. Handlers parse requests into domain types, call the engine and
//! turn its answers into JSON; they make no routing or assignment decisions themselves. Every
//! error leaves through [`ApiError`], which picks the status in one place.

mod agent_page;
mod analytics_page;
pub mod api;
mod chat_page;
pub mod client;
mod connector;
pub mod directline;
mod error;
mod metrics_layer;
mod ops;
mod supervisor_page;
pub mod transcripts;
pub mod well_known;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use engine::Hub;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use chat_page::{CANNOT_CALL, MAX_BROWSER_CALLS};
pub use error::ApiError;
pub use metrics_layer::prometheus_handle;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The running hub; shared by all requests, internally synchronised.
    pub hub: Arc<Hub>,
    /// Renders the process's metrics for `/metrics`.
    pub metrics: PrometheusHandle,
    /// The operator's bearer token for `/api/v1` (see [`api::auth`]).
    pub admin_token: Arc<str>,
    /// The chat channels Direct Line serves, with their secrets.
    pub directline: directline::DirectLine,
    /// The voice channel, for calls from the browser (`/chat/call`); `None` without `[voice]`.
    pub voice: Option<Arc<voice::calls::Voice>>,
    /// Trusted proxies, network rules and per-address limits of the public surfaces.
    pub security: Arc<client::Security>,
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(ops::routes())
        .merge(connector::routes())
        .merge(api::routes())
        .merge(well_known::routes())
        .merge(directline::routes())
        .merge(chat_page::routes())
        .merge(agent_page::routes())
        .merge(analytics_page::routes())
        .merge(supervisor_page::routes())
        // A route layer sees the matched route template, which keeps metric labels bounded.
        .route_layer(axum::middleware::from_fn(metrics_layer::record))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(error::json_errors))
        .layer(axum::middleware::from_fn(error::uri_limit))
        // No answer is to be read as anything but its declared type (a JSON error as HTML, say).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(TraceLayer::new_for_http().on_failure(error::log_failure))
        .layer(axum::middleware::from_fn_with_state(state.clone(), close_when_draining))
        .with_state(state)
}

/// While the node drains before a stop, every answer says `Connection: close`: the balancer
/// and clients open their next connection elsewhere instead of reusing one this node is about
/// to close (a request sent on it at that moment would be lost in transit).
async fn close_when_draining(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    if state.hub.is_draining() && response.status() != axum::http::StatusCode::SWITCHING_PROTOCOLS {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The close frame a socket gets when its node stops (1012, "service restart"): clients
/// reconnect, through the balancer, to another node.
pub(crate) fn restarting_frame() -> axum::extract::ws::Message {
    axum::extract::ws::Message::Close(Some(axum::extract::ws::CloseFrame {
        code: 1012,
        reason: "this node is stopping; reconnect".into(),
    }))
}
