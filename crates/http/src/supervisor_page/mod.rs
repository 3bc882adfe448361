//! The supervisor view, `/supervisor`: a vanilla-JS page (HTML, CSS and JS compiled into the
//! binary with `include_str!`, like the agent workspace) that shows the ongoing conversations of
//! the queues a supervisor oversees, live, with their queue, owner, state, wait and handle times
//! and the customer's sentiment; the queues' load and the agents' presence; a conversation's
//! transcript and routing trace; the two supervisor actions, assign and force close; and a
//! banner once the month's bot sessions reach 80 % of the pool (`GET /api/v1/usage`,
//! docs/metering.md). It uses only the `/api/v1` endpoints and the events WebSocket any other
//! client uses (docs/agents.md).

use axum::Router;
use axum::response::Response;
use axum::routing::get;

use crate::AppState;
use crate::agent_page::workspace_page;
use crate::chat_page::asset;

const HTML: &str = include_str!("supervisor.html");
const SCRIPT: &str = include_str!("supervisor.js");
const STYLE: &str = include_str!("supervisor.css");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/supervisor", get(page))
        .route("/supervisor/supervisor.js", get(script))
        .route("/supervisor/supervisor.css", get(style))
}

async fn page() -> Response {
    workspace_page(HTML)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}
