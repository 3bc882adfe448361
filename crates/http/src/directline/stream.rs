//! The Direct Line WebSocket (`streamUrl`): on connect, everything the customer may see after
//! the watermark; then each new activity as an `ActivitySet` carrying its watermark; an empty
//! text frame every 20 s as keep-alive (directlinejs ignores empty frames, and a non-empty one
//! without `activities` would make it throw). Frames from the client are ignored.
//!
//! The socket subscribes to the conversation's live activities *before* reading the log, and
//! sends only activities past the last seq it sent, so an activity stored while it replays is
//! sent once. A socket that falls behind the live channel reads the log again.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use botframework::directline::{ActivitySet, KEEPALIVE_FRAME};
use domain::{ConversationId, Seq};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::{Credential, DlError, access, parse_watermark, tokens};
use crate::AppState;

/// How often an idle socket gets a keep-alive frame.
const KEEPALIVE: Duration = Duration::from_secs(20);

/// The `streamUrl` for a conversation: the hub's public URL with a WebSocket scheme, carrying the
/// token (browsers cannot set headers on a WebSocket) and, on reconnect, the watermark.
pub(super) fn url(service_url: &str, conversation: &str, token: &str, watermark: Option<&str>) -> String {
    let base = service_url.trim_end_matches('/');
    let base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_owned()
    };
    let mut url = format!("{base}/v3/directline/conversations/{conversation}/stream?t={token}");
    if let Some(w) = watermark.filter(|w| !w.is_empty()) {
        url.push_str("&watermark=");
        url.push_str(w);
    }
    url
}

#[derive(Debug, Deserialize)]
pub(super) struct StreamQuery {
    t: Option<String>,
    watermark: Option<String>,
}

/// `GET /v3/directline/conversations/{id}/stream?t=TOKEN&watermark=W`: the upgrade, after the
/// credential and the conversation are checked (a refused socket gets the same 403/404 as HTTP).
/// The credential is the token in the URL (what the hub's `streamUrl` carries), or, from a client
/// that can set headers, `Authorization: Bearer` with a token or the channel's secret, as on Azure.
pub(super) async fn connect(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, DlError> {
    let credential = match query.t {
        Some(token) => {
            let (claims, channel) = tokens::verify(&token, &state.directline.channels, tokens::unix_now())?;
            Credential::Token(claims, channel)
        }
        None if headers.contains_key(header::AUTHORIZATION) => state.directline.credential(&headers)?,
        None => {
            return Err(DlError::Forbidden {
                code: "MissingToken",
                message: "the stream URL carries its token as `t`; use the streamUrl the hub gave".to_owned(),
            });
        }
    };
    let conversation = access(&state, credential, &id).await?.id();
    let after = parse_watermark(query.watermark.as_deref())?;
    Ok(upgrade
        // Customers send nothing but pings on this socket, and what it carries is small and
        // flushed frame by frame: small buffers keep an idle conversation cheap (tungstenite's
        // 128 KiB defaults made one cost ~155 KB of the hub's memory).
        .read_buffer_size(STREAM_BUFFER)
        .write_buffer_size(STREAM_BUFFER)
        .on_upgrade(move |socket| serve(state, conversation, after, socket)))
}

/// The read and write buffer of one customer's socket; a larger frame still goes through.
const STREAM_BUFFER: usize = 4 * 1024;

/// What went wrong on an open socket: the client left, the hub could not read the log, or
/// the hub is stopping.
enum Closed {
    Client,
    Store(String),
    Restarting,
}

async fn serve(state: AppState, conversation: ConversationId, after: Seq, socket: WebSocket) {
    let (mut tx, mut rx) = socket.split();
    let mut live = state.hub.watch(conversation);
    let closing = state.hub.closing();
    let mut sent = after;
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    keepalive.tick().await;
    let result: Result<(), Closed> = async {
        catch_up(&state, conversation, &mut sent, &mut tx).await?;
        loop {
            tokio::select! {
                event = live.recv() => match event {
                    // A gap: an earlier activity was stored by another node and is not here
                        // yet (see engine `events`); the log has it.
                    Ok(stored) if stored.seq.0 > sent.0 + 1 => catch_up(&state, conversation, &mut sent, &mut tx).await?,
                    Ok(stored) if stored.seq > sent => {
                        sent = stored.seq;
                        if let Some(activity) = engine::customer_sees(&stored, true) {
                            send(&mut tx, vec![activity], sent).await?;
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => catch_up(&state, conversation, &mut sent, &mut tx).await?,
                    Err(RecvError::Closed) => return Ok(()),
                },
                _ = keepalive.tick() => {
                    tx.send(Message::Text(KEEPALIVE_FRAME.into())).await.map_err(|_| Closed::Client)?;
                }
                () = closing.cancelled() => return Err(Closed::Restarting),
                incoming = rx.next() => match incoming {
                    // directlinejs pings with empty frames; nothing a client sends is acted on.
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Err(Closed::Client),
                    Some(Ok(_)) => {}
                },
            }
        }
    }
    .await;
    match result {
        Err(Closed::Store(e)) => {
            tracing::warn!(conversation.id = %conversation, error = %e, "closing a direct line stream: the log could not be read");
            let _ = tx.send(Message::Close(None)).await;
        }
        // Direct Line clients reconnect (GET the conversation with their watermark) on a close.
        Err(Closed::Restarting) => {
            let _ = tx.send(super::super::restarting_frame()).await;
        }
        _ => {}
    }
}

/// Sends everything in the log after `sent` that the customer may see, page by page.
async fn catch_up(
    state: &AppState,
    conversation: ConversationId,
    sent: &mut Seq,
    tx: &mut futures::stream::SplitSink<WebSocket, Message>,
) -> Result<(), Closed> {
    loop {
        let view = state
            .hub
            .customer_view(conversation, *sent, super::PAGE, true)
            .await
            .map_err(|e| Closed::Store(e.to_string()))?;
        if view.last == *sent {
            return Ok(());
        }
        *sent = view.last;
        if !view.activities.is_empty() {
            send(tx, view.activities, view.last).await?;
        }
    }
}

async fn send(
    tx: &mut futures::stream::SplitSink<WebSocket, Message>,
    activities: Vec<botframework::Activity>,
    watermark: Seq,
) -> Result<(), Closed> {
    let set = ActivitySet {
        activities,
        watermark: Some(watermark.0.to_string()),
    };
    let text = serde_json::to_string(&set).map_err(|e| Closed::Store(e.to_string()))?;
    tx.send(Message::Text(text.into())).await.map_err(|_| Closed::Client)
}
