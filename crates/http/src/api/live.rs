//! `GET /api/v1/events`: the one WebSocket of live events for agents and supervisors. Each
//! connection sees what its caller may see: an agent their offers and the conversations they
//! hold (and those they just handed on, once); a supervisor also every conversation of the
//! queues they oversee; an admin everything. Frames are JSON text (docs/agents.md lists them).
//! A connection that falls behind gets `{"type":"lagged"}` and should reload through the API.
//!
//! A person's open connection is what keeps their conversations theirs: when their last one
//! closes, the hub waits the reconnect grace, then gives their conversations back to the queue.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use domain::conversation::Conversation;
use domain::user::Role;
use domain::{ConversationId, QueueName, Timestamp};
use engine::{ConversationDetails, LiveEvent};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::auth::Caller;
use super::openapi::ErrorBody;
use super::{item_json, rfc3339, sentiment_json, summary_json};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/events", get(upgrade))
}

/// An offer as events and `GET /api/v1/offers` show it.
pub(crate) fn offer_json(queue: &QueueName, expires_at: Timestamp, details: &ConversationDetails) -> Value {
    json!({
        "conversation": summary_json(&details.conversation),
        "queue": queue,
        "expires_at": rfc3339(expires_at),
        "summaries": details.escalation_summaries,
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "live",
    summary = "Live events (WebSocket)",
    description = "Upgrades to a WebSocket of live events for the caller (authenticated by the bearer header or the session cookie). The server sends one JSON text frame per event (schema `LiveEvent`, told apart by `type`) and a ping every 25 seconds; what the client sends is ignored, but a close.

- `{\"type\":\"offer\",\"offer\":offer}`: the caller is offered a conversation.
- `{\"type\":\"offer_withdrawn\",\"conversation_id\",\"reason\"}`: an offer to the caller was taken back (`declined`, `timed_out`, `ended`, `unavailable`, `assigned` by a supervisor).
- `{\"type\":\"conversation\",\"conversation\":summary}`: a conversation the caller may see changed.
- `{\"type\":\"activity\",\"conversation_id\",\"activity\":item}`: a new transcript item of a conversation the caller may see.
- `{\"type\":\"sentiment\",\"conversation_id\",\"sentiment\"}`: the customer's sentiment in a conversation the caller may see changed (`score`, `level`).
- `{\"type\":\"presence\",\"user\",\"presence\"}`: someone's presence changed.
- `{\"type\":\"lagged\"}`: the connection fell behind and missed events; reload through the API.

An agent sees their offers and the conversations they hold; a supervisor also every conversation of the queues they oversee; an admin everything. A person's open connection is what keeps their conversations theirs: when their last one closes, the hub waits the reconnect grace, then gives their conversations back to their queues.",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 101, description = "Switching protocols: the WebSocket of live events (`LiveEvent` JSON text frames)."),
        (status = 400, description = "Not a WebSocket handshake (a plain-text answer from the upgrade).", body = String, content_type = "text/plain"),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
    )
)]
async fn upgrade(caller: Caller, State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| serve(socket, state, caller))
}

/// What one connection may see, kept up to date from the events themselves.
struct Scope {
    caller: Caller,
    queues: Vec<QueueName>,
    visible: HashSet<ConversationId>,
}

impl Scope {
    fn sees_all(&self) -> bool {
        self.caller.role == Role::Admin
    }

    /// Whether a conversation as it is now is the caller's to see; remembers it if so.
    fn admit(&mut self, c: &Conversation) -> bool {
        let mine = self
            .caller
            .name
            .as_ref()
            .is_some_and(|me| c.owner.as_ref().is_some_and(|o| o.name() == me));
        let overseen =
            self.caller.role >= Role::Supervisor && c.queue.as_ref().is_some_and(|q| self.queues.contains(q));
        if self.sees_all() || mine || overseen {
            self.visible.insert(c.id);
            true
        } else {
            // Seen before (handed on, or an offer taken by someone else): this last change is
            // still theirs to know about, the next ones are not.
            self.visible.remove(&c.id)
        }
    }
}

async fn serve(mut socket: WebSocket, state: AppState, caller: Caller) {
    let _connection = caller.name.as_ref().map(|name| state.hub.agent_connected(name));
    let mut events = state.hub.live();
    let queues = caller
        .name
        .as_ref()
        .map(|n| state.hub.overseen_queues(n, caller.role))
        .unwrap_or_default();
    let mut scope = Scope {
        caller,
        queues,
        visible: HashSet::new(),
    };
    // What the caller may see already: conversations they hold, and offers made to them.
    if let Some(me) = scope.caller.name.clone() {
        let held = state
            .hub
            .store()
            .list_conversations(&store::ConversationFilter::all().owner(domain::Owner::Agent(me.clone())))
            .await
            .unwrap_or_default();
        scope.visible.extend(held.iter().map(|c| c.id));
        scope.visible.extend(
            state
                .hub
                .offers_for(&me)
                .await
                .unwrap_or_default()
                .iter()
                .map(|o| o.conversation),
        );
    }
    if scope.caller.role == Role::Supervisor {
        let ongoing = state
            .hub
            .store()
            .list_conversations(
                &store::ConversationFilter::all()
                    .state(domain::ConversationState::Waiting)
                    .state(domain::ConversationState::Active)
                    .state(domain::ConversationState::WrapUp),
            )
            .await
            .unwrap_or_default();
        for c in &ongoing {
            scope.admit(c);
        }
    }
    let mut keepalive = tokio::time::interval(Duration::from_secs(25));
    keepalive.tick().await;
    let closing = state.hub.closing();
    loop {
        let frame = tokio::select! {
            () = closing.cancelled() => {
                // The workspace and the dashboard reconnect on a close, through the balancer.
                let _ = socket.send(crate::restarting_frame()).await;
                return;
            }
            event = events.recv() => match event {
                Ok(event) => match frame_for(&state, &mut scope, &event).await {
                    Some(frame) => frame,
                    None => continue,
                },
                Err(RecvError::Lagged(_)) => json!({"type": "lagged"}),
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                // Clients have nothing to say on this socket; anything but a close is ignored.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
            _ = keepalive.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
                continue;
            }
        };
        if socket.send(Message::Text(frame.to_string().into())).await.is_err() {
            return;
        }
    }
}

async fn frame_for(state: &AppState, scope: &mut Scope, event: &Arc<LiveEvent>) -> Option<Value> {
    match event.as_ref() {
        LiveEvent::Offer {
            conversation,
            agent,
            queue,
            expires_at,
        } => {
            if scope.caller.name.as_ref() != Some(agent) {
                return None;
            }
            let details = state.hub.conversation_details(*conversation).await.ok()?;
            scope.visible.insert(*conversation);
            Some(json!({"type": "offer", "offer": offer_json(queue, *expires_at, &details)}))
        }
        LiveEvent::OfferWithdrawn {
            conversation,
            agent,
            reason,
        } => {
            if scope.caller.name.as_ref() != Some(agent) {
                return None;
            }
            Some(json!({"type": "offer_withdrawn", "conversation_id": conversation, "reason": reason.as_str()}))
        }
        LiveEvent::Conversation(c) => scope
            .admit(c)
            .then(|| json!({"type": "conversation", "conversation": summary_json(c)})),
        LiveEvent::Activity { conversation, activity } => {
            if !scope.sees_all() && !scope.visible.contains(conversation) {
                return None;
            }
            let item = item_json(activity)?;
            Some(json!({"type": "activity", "conversation_id": conversation, "activity": item}))
        }
        LiveEvent::Sentiment {
            conversation,
            sentiment,
        } => (scope.sees_all() || scope.visible.contains(conversation)).then(
            || json!({"type": "sentiment", "conversation_id": conversation, "sentiment": sentiment_json(*sentiment)}),
        ),
        LiveEvent::Presence { user, presence } => Some(json!({"type": "presence", "user": user, "presence": presence})),
    }
}
