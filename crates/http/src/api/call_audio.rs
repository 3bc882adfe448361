//! `GET /api/v1/conversations/{id}/audio`: an agent on a call. The agent who owns a
//! conversation that is a call in progress joins its audio over this WebSocket: the caller's
//! voice comes as binary frames, the agent's microphone goes back the same way and the hub
//! bridges it to the caller's RTP stream or browser (docs/voice.md, *Agents on calls*).

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::ConversationId;
use domain::conversation::Owner;
use domain::names::UserName;
use engine::LiveEvent;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use speech::Audio;
use tokio::sync::broadcast::error::RecvError;
use voice::calls::{AgentAudio, CallAudio};

use super::auth::Caller;
use super::openapi::ErrorBody;
use super::parse_id;
use crate::AppState;
use crate::error::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/conversations/{id}/audio", get(upgrade))
}

/// The largest message an agent's page may send: a second of audio is 16,000 bytes.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}/audio",
    tag = "conversations",
    summary = "Join a call's audio (WebSocket)",
    description = "For the agent who owns a conversation that is a call in progress (`call: true`): upgrades to a WebSocket carrying the call's audio as binary messages of 16-bit little-endian mono PCM at 8 kHz, 20 ms (320 bytes) each. The hub sends the caller's voice, live; what the agent sends is played to the caller (the agent's speech stops any prompt) and each utterance is recognised into the transcript as the agent's message (`channelData.voice.spoken`). Text frames from the hub: `{\"type\":\"connected\",\"conversationId\"}` first, `{\"type\":\"ended\",\"reason\"}` when the call ends, before the close.",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = uuid::Uuid, Path, description = "The conversation's id.")),
    responses(
        (status = 101, description = "Switching protocols: the call's audio."),
        (status = 400, description = "`id` is not a conversation id (`invalid_id`), or not a WebSocket handshake.", body = ErrorBody),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
        (status = 403, description = "The conversation is not the caller's (`forbidden`).", body = ErrorBody),
        (status = 404, description = "No such conversation, or it is not a call in progress on this hub (`not_found`).", body = ErrorBody),
    )
)]
async fn upgrade(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let agent = caller.person()?.clone();
    let conversation = state
        .hub
        .store()
        .get_conversation(id)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(|| ApiError::NotFound(format!("there is no conversation `{id}`")))?;
    if conversation.owner != Some(Owner::Agent(agent.clone())) {
        return Err(ApiError::Forbidden(format!(
            "conversation `{id}` is not yours: only the agent who has a call joins its audio"
        )));
    }
    let audio = state
        .voice
        .as_ref()
        .and_then(|v| v.live.get(id))
        .ok_or_else(|| ApiError::NotFound(format!("conversation `{id}` is not a call in progress on this hub")))?;
    Ok(ws
        .max_message_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve(socket, state, id, agent, audio))
        .into_response())
}

async fn serve(socket: WebSocket, state: AppState, id: ConversationId, agent: UserName, audio: CallAudio) {
    let (mut to_agent, mut from_agent) = socket.split();
    let mut caller = audio.caller.subscribe();
    tracing::info!(conversation.id = %id, agent = %agent, "agent joined the call's audio");
    let hello = json!({ "type": "connected", "conversationId": id.to_string() });
    if to_agent.send(Message::Text(hello.to_string().into())).await.is_err() {
        return;
    }
    // A transfer or a supervisor's reassignment takes the audio away from the agent: the
    // conversation's own change events say when.
    let mut changes = state.hub.live();
    loop {
        tokio::select! {
            change = changes.recv() => {
                let lost = match change.as_deref() {
                    Ok(LiveEvent::Conversation(c)) if c.id == id => c.owner != Some(Owner::Agent(agent.clone())),
                    Ok(_) => false,
                    // Missed events: the store says who has it now (out of reach: keep the call).
                    Err(RecvError::Lagged(_)) => matches!(
                        state.hub.store().get_conversation(id).await,
                        Ok(Some(c)) if c.owner != Some(Owner::Agent(agent.clone()))
                    ),
                    Err(RecvError::Closed) => true,
                };
                if lost {
                    let ended = json!({ "type": "ended", "reason": "the call is no longer yours" });
                    let _ = to_agent.send(Message::Text(ended.to_string().into())).await;
                    let _ = to_agent
                        .send(Message::Close(Some(CloseFrame { code: close_code::NORMAL, reason: "not yours".into() })))
                        .await;
                    break;
                }
            }
            _ = audio.ended.cancelled() => {
                let ended = json!({ "type": "ended", "reason": "the call ended" });
                let _ = to_agent.send(Message::Text(ended.to_string().into())).await;
                let _ = to_agent
                    .send(Message::Close(Some(CloseFrame { code: close_code::NORMAL, reason: "call ended".into() })))
                    .await;
                break;
            }
            frame = caller.recv() => match frame {
                Ok(samples) => {
                    if to_agent.send(Message::Binary(Audio::pcm_bytes(&samples).into())).await.is_err() {
                        break;
                    }
                }
                // A slow page loses some of the caller's audio rather than falling behind.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
            received = from_agent.next() => match received {
                Some(Ok(Message::Binary(bytes))) => {
                    let samples = Audio::pcm_samples(&bytes);
                    if !samples.is_empty() {
                        let _ = audio.agent.try_send(AgentAudio { agent: agent.clone(), samples });
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
        }
    }
    tracing::info!(conversation.id = %id, agent = %agent, "agent left the call's audio");
}
