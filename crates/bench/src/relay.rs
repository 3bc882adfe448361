//! The bare loopback relay: the physical-limit baseline for the hub. It makes the same hops —
//! customer → relay → bot → relay → customer, over the same protocols — and does nothing else:
//! no storage, no routing, no validation, no tokens worth the name.
//!
//! It serves just enough Direct Line for the load tool's customers: `tokens/generate` (any
//! secret), `conversations` (returns a `streamUrl`), posting activities, the WebSocket stream and
//! the polling `GET` with a watermark. Each conversation's activities are kept in memory, in
//! order, because the stream and the poll both read by watermark. A customer's message is
//! appended (the customer sees its own message back, as from the hub), then forwarded to the
//! bot with the relay as `serviceUrl`; the POST is answered once the bot has answered, as the
//! hub does. The bot's Connector reply is appended and pushed to the customer's stream.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use futures::{SinkExt, StreamExt};
use reqwest::Url;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long the bot may take to answer a forwarded activity.
const BOT_TIMEOUT: Duration = Duration::from_secs(15);
/// A token is this prefix and the conversation id: the relay checks nothing, it only needs to
/// find the conversation again.
const TOKEN_PREFIX: &str = "relay.";
/// The bot's account, as the relay addresses it.
const BOT_ID: &str = "bench-bot";

/// Serves the relay on `listener`, forwarding customers' messages to `bot` (its
/// `/api/messages` URL), until `shutdown` completes; then closes the open streams.
pub async fn serve(
    listener: TcpListener,
    bot: Url,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let public_url = format!("http://{}", listener.local_addr()?);
    let client = reqwest::Client::builder()
        .timeout(BOT_TIMEOUT)
        .tcp_nodelay(true)
        .build()
        .map_err(std::io::Error::other)?;
    let stop = CancellationToken::new();
    let streams = TaskTracker::new();
    let relay = Relay(Arc::new(Inner {
        public_url,
        bot,
        client,
        conversations: RwLock::default(),
        next: AtomicU64::new(1),
        stop: stop.clone(),
        streams: streams.clone(),
    }));
    let app = Router::new()
        .route("/v3/directline/tokens/generate", post(generate_token))
        .route("/v3/directline/conversations", post(start_conversation))
        .route(
            "/v3/directline/conversations/{id}/activities",
            post(from_customer).get(poll),
        )
        .route("/v3/directline/conversations/{id}/stream", get(stream))
        .route("/v3/conversations/{id}/activities", post(from_bot))
        .route("/v3/conversations/{id}/activities/{reply_to}", post(from_bot_reply))
        .with_state(relay.clone());
    tracing::info!(listen = %listener.local_addr()?, bot = %relay.0.bot, "relay is serving");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Upgraded sockets outlive their HTTP connection; tell them to close.
            stop.cancel();
        })
        .await;
    streams.close();
    streams.wait().await;
    served
}

#[derive(Debug, Clone)]
struct Relay(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// `http://` + the address listened on: the `serviceUrl` and the base of `streamUrl`.
    public_url: String,
    bot: Url,
    // Pools keep-alive connections to the bot.
    client: reqwest::Client,
    // A std lock: held only for a map lookup or insert, never across an `.await`; many
    // customers read it at once, only starting a conversation writes.
    conversations: RwLock<HashMap<String, Arc<Conversation>>>,
    /// Numbers conversations and activities.
    next: AtomicU64,
    /// Cancelled at shutdown, for the streams.
    stop: CancellationToken,
    /// The streams' tasks, so shutdown waits for them to close.
    streams: TaskTracker,
}

/// One conversation's activities, in order.
#[derive(Debug)]
struct Conversation {
    id: String,
    user: String,
    // A std mutex: held to push or to copy a range, never across an `.await`.
    log: Mutex<Vec<Arc<str>>>,
    // The log's length after each append: a stream waits on it for news. A `watch` never lags,
    // and several appends while a stream is busy sending are one wake-up.
    length: watch::Sender<usize>,
}

impl Conversation {
    /// Appends `activity` with a fresh id; returns the id.
    fn append(&self, mut activity: Map<String, Value>, id: String) -> String {
        activity.insert("id".to_owned(), Value::from(id.clone()));
        let serialized: Arc<str> = Value::Object(activity).to_string().into();
        let length = {
            let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
            log.push(serialized);
            log.len()
        };
        self.length.send_replace(length);
        id
    }

    /// `{"activities": [everything after watermark `after`], "watermark": "N"}`, and `N`.
    fn activity_set(&self, after: usize) -> (String, usize) {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let after = after.min(log.len());
        let mut set = String::from("{\"activities\":[");
        for (i, activity) in log[after..].iter().enumerate() {
            if i > 0 {
                set.push(',');
            }
            set.push_str(activity);
        }
        set.push_str(&format!("],\"watermark\":\"{}\"}}", log.len()));
        (set, log.len())
    }
}

impl Relay {
    fn next(&self) -> u64 {
        self.0.next.fetch_add(1, Ordering::Relaxed)
    }

    fn open(&self, user: Option<String>) -> Arc<Conversation> {
        let n = self.next();
        let conversation = Arc::new(Conversation {
            id: format!("relay-{n}"),
            user: user
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| format!("relay-user-{n}")),
            log: Mutex::default(),
            length: watch::Sender::new(0),
        });
        self.0
            .conversations
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(conversation.id.clone(), conversation.clone());
        conversation
    }

    fn find(&self, id: &str) -> Option<Arc<Conversation>> {
        self.0
            .conversations
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    fn started(&self, conversation: &Conversation) -> Value {
        let token = format!("{TOKEN_PREFIX}{}", conversation.id);
        let ws_base = self.0.public_url.replacen("http://", "ws://", 1);
        json!({
            "conversationId": conversation.id,
            "token": token,
            "expires_in": 1800,
            "streamUrl": format!("{ws_base}/v3/directline/conversations/{}/stream?t={token}", conversation.id),
        })
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "NotFound", "no such conversation")
}

/// The `user.id` of a token or start body, if any.
fn user_of(body: &Bytes) -> Option<String> {
    let body: Value = serde_json::from_slice(body).ok()?;
    body.get("user")?.get("id")?.as_str().map(str::to_owned)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// `POST /v3/directline/tokens/generate`: any secret; a conversation for the body's user.
async fn generate_token(State(relay): State<Relay>, body: Bytes) -> Response {
    let conversation = relay.open(user_of(&body));
    let mut answer = relay.started(&conversation);
    if let Some(answer) = answer.as_object_mut() {
        answer.remove("streamUrl");
    }
    Json(answer).into_response()
}

/// `POST /v3/directline/conversations`: the token's conversation, or a new one for a secret.
async fn start_conversation(State(relay): State<Relay>, headers: HeaderMap, body: Bytes) -> Response {
    let existing = bearer(&headers)
        .and_then(|token| token.strip_prefix(TOKEN_PREFIX))
        .and_then(|id| relay.find(id));
    let conversation = existing.unwrap_or_else(|| relay.open(user_of(&body)));
    (StatusCode::CREATED, Json(relay.started(&conversation))).into_response()
}

/// `POST /v3/directline/conversations/{id}/activities`: append, forward to the bot, answer once
/// the bot has.
async fn from_customer(State(relay): State<Relay>, Path(id): Path<String>, body: Bytes) -> Response {
    let Some(conversation) = relay.find(&id) else {
        return not_found();
    };
    let Ok(Value::Object(mut activity)) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "BadArgument", "the body is not an activity");
    };
    activity.insert("from".to_owned(), json!({ "id": conversation.user, "role": "user" }));
    let id = conversation.append(activity.clone(), format!("{}-{}", conversation.id, relay.next()));
    activity.insert("id".to_owned(), Value::from(id.clone()));
    activity.insert("serviceUrl".to_owned(), Value::from(relay.0.public_url.clone()));
    activity.insert("channelId".to_owned(), Value::from("directline"));
    activity.insert("conversation".to_owned(), json!({ "id": conversation.id }));
    activity.insert("recipient".to_owned(), json!({ "id": BOT_ID, "role": "bot" }));
    match relay.0.client.post(relay.0.bot.clone()).json(&activity).send().await {
        Ok(response) if response.status().is_success() => {
            let _ = response.bytes().await;
            Json(json!({ "id": id })).into_response()
        }
        Ok(_) | Err(_) => error(StatusCode::BAD_GATEWAY, "BotError", "the bot did not take the activity"),
    }
}

/// `POST /v3/conversations/{id}/activities` (SendToConversation).
async fn from_bot(State(relay): State<Relay>, Path(id): Path<String>, body: Bytes) -> Response {
    deliver(&relay, &id, &body)
}

/// `POST /v3/conversations/{id}/activities/{replyTo}` (ReplyToActivity).
async fn from_bot_reply(
    State(relay): State<Relay>,
    Path((id, _reply_to)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    deliver(&relay, &id, &body)
}

/// Appends the bot's activity: the conversation's stream and pollers see it.
fn deliver(relay: &Relay, id: &str, body: &Bytes) -> Response {
    let Some(conversation) = relay.find(id) else {
        return not_found();
    };
    let Ok(Value::Object(activity)) = serde_json::from_slice::<Value>(body) else {
        return error(StatusCode::BAD_REQUEST, "BadSyntax", "the body is not an activity");
    };
    let id = conversation.append(activity, format!("{}-{}", conversation.id, relay.next()));
    Json(json!({ "id": id })).into_response()
}

#[derive(Debug, Deserialize)]
struct WatermarkQuery {
    watermark: Option<String>,
}

fn watermark(query: &WatermarkQuery) -> usize {
    query
        .watermark
        .as_deref()
        .and_then(|w| w.trim().parse().ok())
        .unwrap_or(0)
}

/// `GET /v3/directline/conversations/{id}/activities?watermark=W`.
async fn poll(State(relay): State<Relay>, Path(id): Path<String>, Query(query): Query<WatermarkQuery>) -> Response {
    let Some(conversation) = relay.find(&id) else {
        return not_found();
    };
    let (set, _) = conversation.activity_set(watermark(&query));
    ([(header::CONTENT_TYPE, "application/json")], set).into_response()
}

/// `GET /v3/directline/conversations/{id}/stream?t=&watermark=`: the WebSocket.
async fn stream(
    State(relay): State<Relay>,
    Path(id): Path<String>,
    Query(query): Query<WatermarkQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(conversation) = relay.find(&id) else {
        return not_found();
    };
    let after = watermark(&query);
    let stop = relay.0.stop.clone();
    let streams = relay.0.streams.clone();
    upgrade.on_upgrade(move |socket| streams.track_future(push(socket, conversation, after, stop)))
}

/// Sends everything after `sent`, then each new batch, until the client leaves or `stop`.
async fn push(socket: WebSocket, conversation: Arc<Conversation>, mut sent: usize, stop: CancellationToken) {
    let (mut tx, mut rx) = socket.split();
    // Subscribed before the first read of the log, so an append in between still wakes us.
    let mut length = conversation.length.subscribe();
    loop {
        let (set, now) = conversation.activity_set(sent);
        if now > sent {
            sent = now;
            if tx.send(Message::Text(set.into())).await.is_err() {
                return;
            }
        }
        tokio::select! {
            changed = length.changed() => if changed.is_err() { return },
            incoming = rx.next() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            () = stop.cancelled() => {
                let _ = tx.send(Message::Close(None)).await;
                return;
            }
        }
    }
}
