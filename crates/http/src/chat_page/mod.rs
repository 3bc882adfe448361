//! The hub's own customer chat page, `/chat`: a small vanilla-JS Direct Line client (HTML, CSS
//! and JS compiled into the binary with `include_str!`, so serving it needs no Node and no files
//! on disk). It speaks the same Direct Line 3.0 as any other client, over the WebSocket stream.
//!
//! The page cannot hold a channel secret, so it gets its token from `POST /chat/token`, which
//! stands in for a site's backend: a token for a new conversation of the first configured
//! `[[directline]]` channel, without pre-chat context (an anonymous visitor must not choose
//! their own routing).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use botframework::directline::Conversation;

mod call;
pub use call::{CANNOT_CALL, MAX_BROWSER_CALLS};

use crate::AppState;
use crate::client::ClientAddr;
use crate::directline::DlError;
use crate::directline::tokens::{self, TokenClaims};

const HTML: &str = include_str!("chat.html");
const SCRIPT: &str = include_str!("chat.js");
const STYLE: &str = include_str!("chat.css");
const WORKLET: &str = include_str!("call-worklet.js");
const CALL_AUDIO: &str = include_str!("call-audio.js");

/// The page only talks to its own origin, plus the WebSocket of the hub's public URL; who may
/// frame it is added per configuration ([`frame_ancestors`]).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'";

/// `frame-ancestors`: the hub itself and the origins `[security] embed_origins` names (a site
/// that shows the chat in an iframe), nobody else — so another site cannot frame the chat and
/// trick a customer into typing into it.
fn frame_ancestors(embed_origins: &[String]) -> String {
    let mut directive = "frame-ancestors 'self'".to_owned();
    for origin in embed_origins {
        directive.push(' ');
        directive.push_str(origin);
    }
    directive
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/chat", get(page))
        .route("/chat/chat.js", get(script))
        .route("/chat/chat.css", get(style))
        .route("/chat/token", post(token))
        .route("/chat/call", get(call::upgrade))
        .route("/chat/call-worklet.js", get(worklet))
        .route("/chat/call-audio.js", get(call_audio))
}

/// A compiled-in page asset with its type, revalidated on every load (shared by the hub's pages).
pub(crate) fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Small and compiled in: revalidating on every load keeps an upgraded hub's page current.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

async fn page(State(state): State<AppState>) -> Response {
    let mut response = asset("text/html; charset=utf-8", HTML);
    let policy = format!("{CSP}; {}", frame_ancestors(&state.security.embed_origins));
    let headers = response.headers_mut();
    match HeaderValue::from_str(&policy) {
        Ok(value) => headers.insert(header::CONTENT_SECURITY_POLICY, value),
        // Origins are checked when the configuration loads; should one still not fit a
        // header, the page is not framed at all.
        Err(_) => headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ),
    };
    // For browsers without CSP 2, which cannot list origins: the hub's own pages only.
    if state.security.embed_origins.is_empty() {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    }
    response
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// The AudioWorklet module that turns the microphone into 20 ms frames for `/chat/call`.
async fn worklet() -> Response {
    asset("text/javascript; charset=utf-8", WORKLET)
}

/// The call audio (microphone, worklet, playback) that `/chat` and the agent workspace share.
async fn call_audio() -> Response {
    asset("text/javascript; charset=utf-8", CALL_AUDIO)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// `POST /chat/token`: what `tokens/generate` answers (a token for a new conversation, for a
/// fresh `dl_…` user), for the first Direct Line channel. Limited per client address
/// (`[limits] token_requests_per_minute`), as it needs no credential.
async fn token(State(state): State<AppState>, client: ClientAddr) -> Result<Response, DlError> {
    state.security.public_start(client)?;
    let channel = state.directline.channels.first().ok_or_else(|| {
        DlError::NotFound("no [[directline]] channel is configured, so /chat cannot start chats".into())
    })?;
    let now = tokens::unix_now();
    let mut claims = TokenClaims::for_new_conversation(channel, None, now);
    claims.page = true;
    let body: Conversation = tokens::generated(channel, &claims, now);
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
