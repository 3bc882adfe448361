//! The fast echo bot: a Bot Framework bot that answers every `message` activity with
//! `Echo: <text>`, doing as little as a real bot can so that the hub, not the bot, is measured.
//!
//! It speaks the real Connector protocol in anonymous mode: the channel POSTs an activity to
//! `/api/messages`; the bot answers 200 at once and then, on its own task, sends the reply with
//! ReplyToActivity — `POST {serviceUrl}/v3/conversations/{conversation.id}/activities/{id}`,
//! `from` the incoming `recipient`, `recipient` the incoming `from`, `replyToId` the incoming
//! `id`, no `Authorization` header. Other activity types (`conversationUpdate`, events, typing)
//! are answered 200 and otherwise ignored.
//!
//! Replies to two messages of one conversation run concurrently, so they could overtake each
//! other if a client sent the second before the first was answered; the load tool's customers
//! never do.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::serve::ListenerExt;
use reqwest::Url;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

/// How long one Connector call may take before the reply is given up.
const CONNECTOR_TIMEOUT: Duration = Duration::from_secs(15);

/// Serves the echo bot's `POST /api/messages` on `listener` until `shutdown` completes, then
/// waits for the replies still being sent.
pub async fn serve(listener: TcpListener, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    serve_with(listener, shutdown, None).await
}

/// A reply the channel took: its ReplyToActivity call was answered 2xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The conversation it went to.
    pub conversation: String,
    /// The id of the activity it answers.
    pub reply_to: Option<String>,
    /// The id the channel gave the reply (its `ResourceResponse`), if it gave one.
    pub id: Option<String>,
    /// The reply's text (`Echo: …`).
    pub text: String,
}

/// [`serve`], and sends each reply the channel took on `delivered`, so that a test can check
/// that the channel kept every reply it acknowledged (a crash test, for one).
pub async fn serve_reporting(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    delivered: mpsc::UnboundedSender<Delivered>,
) -> std::io::Result<()> {
    serve_with(listener, shutdown, Some(delivered)).await
}

async fn serve_with(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    delivered: Option<mpsc::UnboundedSender<Delivered>>,
) -> std::io::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(CONNECTOR_TIMEOUT)
        .tcp_nodelay(true)
        .build()
        .map_err(std::io::Error::other)?;
    let tracker = TaskTracker::new();
    let bot = EchoBot {
        client,
        replies: tracker.clone(),
        failures: Arc::default(),
        delivered,
    };
    let app = Router::new().route("/api/messages", post(messages)).with_state(bot);
    tracing::info!(listen = %listener.local_addr()?, "echo bot is serving");
    let listener = listener.tap_io(|tcp| {
        // Small request/response pairs: Nagle's algorithm would only add delay.
        let _ = tcp.set_nodelay(true);
    });
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    tracker.close();
    tracker.wait().await;
    served
}

/// What every turn shares.
#[derive(Debug, Clone)]
struct EchoBot {
    // Built once and cloned into each reply: it pools keep-alive connections to the channel, so
    // a reply does not pay for a TCP handshake.
    client: reqwest::Client,
    // Replies are sent after the channel's POST is answered, on their own tasks; tracked so
    // shutdown waits for them.
    replies: TaskTracker,
    // Counted rather than each logged: under load a failing channel would flood the log.
    failures: Arc<AtomicU64>,
    // Told of each reply the channel took, when someone asked ([`serve_reporting`]).
    delivered: Option<mpsc::UnboundedSender<Delivered>>,
}

/// The parts of an incoming activity the bot needs; the accounts and the conversation are kept
/// as the channel sent them, so the reply addresses them exactly.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Incoming {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    text: Option<String>,
    service_url: Option<String>,
    channel_id: Option<Value>,
    conversation: Option<Value>,
    from: Option<Value>,
    recipient: Option<Value>,
}

async fn messages(State(bot): State<EchoBot>, body: Bytes) -> StatusCode {
    let incoming: Incoming = match serde_json::from_slice(&body) {
        Ok(incoming) => incoming,
        Err(_) => return StatusCode::BAD_REQUEST,
    };
    if incoming.kind == "message" {
        let reply_bot = bot.clone();
        bot.replies.spawn(async move { reply_bot.reply(incoming).await });
    }
    StatusCode::OK
}

impl EchoBot {
    async fn reply(&self, incoming: Incoming) {
        let Some(url) = connector_url(&incoming) else {
            self.failed("the activity has no usable serviceUrl or conversation.id");
            return;
        };
        let text = format!("Echo: {}", incoming.text.as_deref().unwrap_or_default());
        let reply = json!({
            "type": "message",
            "text": text,
            "from": incoming.recipient,
            "recipient": incoming.from,
            "conversation": incoming.conversation,
            "replyToId": incoming.id,
            "channelId": incoming.channel_id,
            "serviceUrl": incoming.service_url,
        });
        match self.client.post(url).json(&reply).send().await {
            Ok(response) if response.status().is_success() => {
                // Read the body so the connection goes back to the pool.
                let body = response.bytes().await;
                if let Some(delivered) = &self.delivered {
                    let id = body
                        .ok()
                        .and_then(|body| serde_json::from_slice::<Value>(&body).ok())
                        .and_then(|answer| answer.get("id")?.as_str().map(str::to_owned));
                    let conversation = incoming
                        .conversation
                        .as_ref()
                        .and_then(|c| c.get("id")?.as_str())
                        .unwrap_or_default()
                        .to_owned();
                    let _ = delivered.send(Delivered {
                        conversation,
                        reply_to: incoming.id,
                        id,
                        text,
                    });
                }
            }
            Ok(response) => self.failed(&format!("the channel refused the reply with {}", response.status())),
            Err(e) => self.failed(&format!("the Connector call failed: {e}")),
        }
    }

    fn failed(&self, why: &str) {
        let n = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        // The first failure, then every thousandth: enough to see that and how often it fails.
        if n == 1 || n.is_multiple_of(1000) {
            tracing::warn!(failures = n, reason = why, "echo bot could not deliver a reply");
        }
    }
}

/// `{serviceUrl}/v3/conversations/{conversation.id}/activities[/{id}]`, ids encoded as path
/// segments, whether or not `serviceUrl` ends with a slash.
fn connector_url(incoming: &Incoming) -> Option<Url> {
    let mut url = Url::parse(incoming.service_url.as_deref()?).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let conversation = incoming
        .conversation
        .as_ref()?
        .get("id")?
        .as_str()
        .filter(|id| !id.is_empty())?;
    {
        let mut segments = url.path_segments_mut().ok()?;
        segments
            .pop_if_empty()
            .extend(["v3", "conversations", conversation, "activities"]);
        if let Some(id) = &incoming.id {
            segments.push(id);
        }
    }
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming(value: Value) -> Incoming {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_reply_goes_to_reply_to_activity_under_the_service_url() {
        for service_url in ["http://hub.example/bf", "http://hub.example/bf/"] {
            let activity = incoming(json!({
                "type": "message", "id": "a/1", "serviceUrl": service_url,
                "conversation": {"id": "conv 1"}
            }));
            assert_eq!(
                connector_url(&activity).unwrap().as_str(),
                "http://hub.example/bf/v3/conversations/conv%201/activities/a%2F1"
            );
        }
    }

    #[test]
    fn an_activity_without_service_url_or_conversation_cannot_be_answered() {
        assert!(connector_url(&incoming(json!({"type": "message", "conversation": {"id": "c"}}))).is_none());
        assert!(connector_url(&incoming(json!({"type": "message", "serviceUrl": "http://h/"}))).is_none());
        assert!(
            connector_url(&incoming(
                json!({"type": "message", "serviceUrl": "file:///x", "conversation": {"id": "c"}})
            ))
            .is_none()
        );
    }
}
