//! The agent workspace, `/agent`: a vanilla-JS page (HTML, CSS and JS compiled into the binary
//! with `include_str!`, so serving it needs no Node and no files on disk) over the agent API of
//! `docs/agents.md`. It signs in with `POST /api/v1/sessions` (the session then rides in the
//! `HttpOnly` cookie), follows `GET /api/v1/events` over a WebSocket, and works conversations
//! through the same `/api/v1` endpoints any other client uses.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;

use crate::AppState;
use crate::chat_page::asset;

const HTML: &str = include_str!("agent.html");
const SCRIPT: &str = include_str!("agent.js");
const STYLE: &str = include_str!("agent.css");
/// The styles the workspace shares with the supervisor view, served for both.
const SHARED_STYLE: &str = include_str!("../workspace.css");

/// The page only talks to its own origin (the API and its event WebSocket).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent", get(page))
        .route("/agent/agent.js", get(script))
        .route("/agent/agent.css", get(style))
        .route("/assets/workspace.css", get(shared_style))
}

async fn page() -> Response {
    workspace_page(HTML)
}

/// A people's page (the workspace, the supervisor view) with the headers they share: the CSP
/// above, no framing, no referrer.
pub(crate) fn workspace_page(html: &'static str) -> Response {
    let mut response = asset("text/html; charset=utf-8", html);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    // A page showing customers' data is not to be framed by another site.
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

async fn shared_style() -> Response {
    asset("text/css; charset=utf-8", SHARED_STYLE)
}
