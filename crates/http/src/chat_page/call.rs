//! `GET /chat/call`: a call from the browser, the `/chat` page's Call button. The page streams
//! its microphone over this WebSocket and plays what comes back; the hub treats it like a phone
//! call on `[voice] workstream` (docs/voice.md, *Calls from the browser*).
//!
//! Page → hub: binary messages of 16-bit little-endian mono PCM at 8 kHz (the page sends 20 ms,
//! 320 bytes, at a time); text `{"type":"dtmf","keys":"5"}` for keypad presses and
//! `{"type":"hangup"}`. Hub → page: text `{"type":"call","conversationId":…}` once the call is
//! connected, `{"type":"message","role","name","text"}` per transcript line, binary 20 ms frames
//! of the same PCM while the hub speaks (paced in real time), `{"type":"error","message"}` for a
//! bad message or a call that cannot start, and `{"type":"ended","reason"}` before the hub
//! closes the socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::{IntoResponse, Response};
use domain::conversation::Customer;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use speech::Audio;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use voice::calls::{FromCaller, PcmLine, Voice};

use crate::AppState;
use crate::error::ApiError;

/// Browser calls one hub takes at once: each runs speech recognition and synthesis.
pub const MAX_BROWSER_CALLS: usize = 16;

/// The largest message the page may send: a second of audio is 16,000 bytes.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Audio from the page waiting for the listener (20 ms messages: about 2.5 s).
const FROM_PAGE_BACKLOG: usize = 128;

/// What the page shows when a call cannot start (the reason is logged).
pub const CANNOT_CALL: &str = "calls can't be taken right now; please try again later, or chat with us";

static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Counts a browser call while it lasts.
struct Active;

impl Active {
    fn take() -> Option<Active> {
        ACTIVE
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < MAX_BROWSER_CALLS).then_some(n + 1)
            })
            .ok()
            .map(|_| Active)
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

pub(super) async fn upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    let Some(voice) = state.voice.clone() else {
        return ApiError::NotFound(
            "this hub takes no calls: its configuration has no [voice] section (docs/voice.md)".into(),
        )
        .into_response();
    };
    let Some(active) = Active::take() else {
        return ApiError::Unavailable(format!(
            "the hub is already taking {MAX_BROWSER_CALLS} calls from browsers; try again shortly"
        ))
        .into_response();
    };
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve(socket, voice, active))
}

async fn serve(socket: WebSocket, voice: Arc<Voice>, _active: Active) {
    let (mut to_page, mut from_page) = socket.split();
    let (audio_in, from_caller) = mpsc::channel(FROM_PAGE_BACKLOG);
    let (to_caller, mut audio_out) = mpsc::channel::<Vec<i16>>(4);
    let (transcript, mut lines) = mpsc::unbounded_channel::<Value>();
    let caller_left = CancellationToken::new();
    let customer = Customer {
        id: format!("web:{}", uuid::Uuid::new_v4().simple()),
        name: Some("Web caller".to_owned()),
        email: None,
    };
    let line = PcmLine {
        from_caller,
        to_caller,
        transcript,
        caller_left: caller_left.clone(),
    };
    let taken = match voice::calls::call_from_browser(&voice, customer, line).await {
        Ok(t) => t,
        Err(refused) => {
            // The reason is for the operator (it names programs and packages); the caller
            // gets a sentence for people.
            tracing::warn!(reason = %refused, "call from a browser refused");
            let _ = to_page
                .send(text(json!({ "type": "error", "message": CANNOT_CALL })))
                .await;
            let _ = to_page
                .send(Message::Close(Some(CloseFrame {
                    code: close_code::AGAIN,
                    reason: "the call cannot start".into(),
                })))
                .await;
            return;
        }
    };
    tracing::info!(conversation.id = %taken.conversation, "call from a browser answered");
    let _ = to_page
        .send(text(
            json!({ "type": "call", "conversationId": taken.conversation.to_string() }),
        ))
        .await;
    let mut task = taken.task;
    let mut page_gone = false;
    let mut dropped = 0u64;
    let reason = loop {
        tokio::select! {
            Some(frame) = audio_out.recv() => {
                if !page_gone {
                    let _ = to_page.send(Message::Binary(Audio::pcm_bytes(&frame).into())).await;
                }
            }
            Some(line) = lines.recv() => {
                if !page_gone {
                    let _ = to_page.send(text(line)).await;
                }
            }
            received = from_page.next(), if !page_gone => match received {
                Some(Ok(Message::Binary(bytes))) => {
                    let samples = Audio::pcm_samples(&bytes);
                    if !samples.is_empty() && audio_in.try_send(FromCaller::Audio(samples)).is_err() {
                        dropped += 1;
                        if dropped == 1 {
                            tracing::debug!(conversation.id = %taken.conversation, "the call's audio arrives faster than it is heard; dropping some");
                        }
                    }
                }
                Some(Ok(Message::Text(body))) => match command(&body) {
                    Ok(Command::Keys(keys)) => {
                        let _ = audio_in.try_send(FromCaller::Keys(keys));
                    }
                    Ok(Command::HangUp) => {
                        caller_left.cancel();
                        page_gone = true;
                    }
                    Err(message) => {
                        let _ = to_page.send(text(json!({ "type": "error", "message": message }))).await;
                    }
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    caller_left.cancel();
                    page_gone = true;
                }
            },
            ended = &mut task => break ended.ok().flatten(),
        }
    };
    // What the call said last still reaches the page, then why it ended.
    if !page_gone {
        while let Ok(frame) = audio_out.try_recv() {
            let _ = to_page.send(Message::Binary(Audio::pcm_bytes(&frame).into())).await;
        }
        while let Ok(line) = lines.try_recv() {
            let _ = to_page.send(text(line)).await;
        }
        let reason = reason.unwrap_or_else(|| "the caller hung up".to_owned());
        let _ = to_page.send(text(json!({ "type": "ended", "reason": reason }))).await;
        let _ = to_page
            .send(Message::Close(Some(CloseFrame {
                code: close_code::NORMAL,
                reason: "call ended".into(),
            })))
            .await;
    }
    tracing::info!(conversation.id = %taken.conversation, "call from a browser finished");
}

/// A text message of the protocol.
fn text(value: Value) -> Message {
    Message::Text(value.to_string().into())
}

/// A text message from the page.
#[derive(Debug, PartialEq)]
enum Command {
    Keys(Vec<char>),
    HangUp,
}

/// The keys a phone's keypad has (RFC 4733 events 0–15).
const KEYS: &str = "0123456789*#ABCD";

fn command(body: &str) -> Result<Command, String> {
    let value: Value = serde_json::from_str(body).map_err(|e| format!("a text message must be JSON: {e}"))?;
    match value.get("type").and_then(Value::as_str) {
        Some("hangup") => Ok(Command::HangUp),
        Some("dtmf") => {
            let keys = value
                .get("keys")
                .and_then(Value::as_str)
                .ok_or("a dtmf message needs \"keys\", a string such as \"5\" or \"1234#\"")?;
            let count = keys.chars().count();
            if count == 0 || count > 32 {
                return Err("\"keys\" must hold 1 to 32 keys".into());
            }
            if let Some(bad) = keys.chars().find(|k| !KEYS.contains(k.to_ascii_uppercase())) {
                return Err(format!("{bad:?} is not a keypad key (0-9, *, #, A-D)"));
            }
            Ok(Command::Keys(keys.chars().map(|c| c.to_ascii_uppercase()).collect()))
        }
        Some(other) => Err(format!(
            "unknown message type {other:?}; the page sends \"dtmf\" or \"hangup\""
        )),
        None => Err("a text message needs a \"type\": \"dtmf\" or \"hangup\"".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keypad_and_hang_up_messages_are_read_and_mistakes_explained() {
        assert_eq!(
            command(r#"{"type":"dtmf","keys":"12#"}"#),
            Ok(Command::Keys(vec!['1', '2', '#']))
        );
        assert_eq!(command(r#"{"type":"dtmf","keys":"a"}"#), Ok(Command::Keys(vec!['A'])));
        assert_eq!(command(r#"{"type":"hangup"}"#), Ok(Command::HangUp));
        assert!(
            command(r#"{"type":"dtmf","keys":"x"}"#)
                .unwrap_err()
                .contains("'x' is not a keypad key")
        );
        assert!(command(r#"{"type":"dtmf"}"#).unwrap_err().contains("needs \"keys\""));
        assert!(command(r#"{"type":"dtmf","keys":""}"#).unwrap_err().contains("1 to 32"));
        assert!(
            command(r#"{"type":"mute"}"#)
                .unwrap_err()
                .contains("unknown message type \"mute\"")
        );
        assert!(command("hello").unwrap_err().contains("must be JSON"));
        assert!(command("{}").unwrap_err().contains("needs a \"type\""));
    }
}
