//! What the built-in bots share: the bounded per-conversation [`Memory`], and the server half of
//! a Bot Framework bot — `POST /api/messages`, replies delivered through the Connector API under
//! the incoming `serviceUrl`, the hub's POST answered after the turn.
//!
//! Each built-in bot (the demo assistant, the survey bot, the knowledge bot) is a pure function
//! from an incoming activity to its replies; [`serve`] turns such a function into a bot the hub
//! reaches like any other. The bots run anonymously, as an SDK bot without an app id does: no
//! `Authorization` header on Connector calls, and `serviceUrl` trusted as given.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use botframework::connector::{ErrorCode, ErrorResponse, ResourceResponse};
use botframework::{Activity, ActivityError, validate};
use tokio::net::TcpListener;

/// How long one Connector call may take before the turn is given up.
const CONNECTOR_TIMEOUT: Duration = Duration::from_secs(10);

/// What a bot remembers per conversation, bounded so a hub that never ends its conversations
/// cannot grow it without limit.
///
/// Each bot forgets a conversation when it leaves it; when the memory is full, the entry
/// remembered longest ago makes room for the new one.
#[derive(Debug)]
pub struct Memory<T> {
    // A std mutex rather than tokio's: it is held only for a map operation, never across an
    // `.await`, and turns of different conversations run concurrently on the runtime's threads.
    entries: Mutex<Entries<T>>,
    capacity: usize,
}

#[derive(Debug)]
struct Entries<T> {
    /// Insertion counter, so the oldest entry can be found when the memory is full.
    next: u64,
    by_conversation: HashMap<String, (u64, T)>,
}

/// A bot's memory as the hub shares it between the nodes of a cluster: each conversation's
/// entry as JSON, loaded before a turn and stored after it.
pub(crate) trait Remembers: Send + Sync {
    /// What is remembered of `conversation`, as JSON.
    fn export(&self, conversation: &str) -> Option<String>;
    /// Replaces what is remembered of `conversation` (forgets it with `None`).
    fn import(&self, conversation: &str, json: Option<&str>);
}

impl<T> Remembers for Memory<T>
where
    T: Clone + Send + serde::Serialize + serde::de::DeserializeOwned,
{
    fn export(&self, conversation: &str) -> Option<String> {
        self.get(conversation).and_then(|v| serde_json::to_string(&v).ok())
    }

    fn import(&self, conversation: &str, json: Option<&str>) {
        match json.and_then(|j| serde_json::from_str::<T>(j).ok()) {
            Some(value) => self.remember(conversation, value),
            None => self.forget(conversation),
        }
    }
}

/// Where a served bot keeps its memory when several nodes serve it.
#[derive(Clone)]
pub(crate) struct SharedMemory {
    pub(crate) memory: Arc<dyn Remembers>,
    pub(crate) cluster: Arc<store::Cluster>,
}

impl<T> Memory<T> {
    /// The capacity the served bots use: far more conversations than one built-in bot holds at
    /// once.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// An empty memory holding at most `capacity` conversations (0 remembers nothing).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(Entries {
                next: 0,
                by_conversation: HashMap::new(),
            }),
            capacity,
        }
    }

    /// Remembers `value` for `conversation`, replacing what was there.
    pub fn remember(&self, conversation: &str, value: T) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        if !entries.by_conversation.contains_key(conversation) && entries.by_conversation.len() >= self.capacity {
            let oldest = entries
                .by_conversation
                .iter()
                .min_by_key(|(_, (since, _))| *since)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                entries.by_conversation.remove(&oldest);
            }
        }
        let since = entries.next;
        entries.next += 1;
        entries.by_conversation.insert(conversation.to_owned(), (since, value));
    }

    /// A copy of what is remembered for `conversation`.
    pub fn get(&self, conversation: &str) -> Option<T>
    where
        T: Clone,
    {
        self.lock()
            .by_conversation
            .get(conversation)
            .map(|(_, value)| value.clone())
    }

    /// Forgets `conversation`.
    pub fn forget(&self, conversation: &str) {
        self.lock().by_conversation.remove(conversation);
    }

    /// How many conversations are remembered.
    pub fn len(&self) -> usize {
        self.lock().by_conversation.len()
    }

    /// Whether no conversation is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<T>> {
        // Every critical section is a single map operation, so a panic elsewhere cannot leave
        // the map half-updated; keep serving rather than poisoning the bot for good.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> Default for Memory<T> {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

/// A bot's decision for one turn: the replies to an incoming activity, in the order they must
/// be sent.
type Respond = dyn Fn(&Activity) -> Vec<Activity> + Send + Sync;

/// Serves `respond` as `POST /api/messages` on `listener` until `shutdown` completes; `name`
/// ("demo bot", "survey bot", …) only labels the logs.
///
/// Each turn's replies are sent in order through the Connector API under the incoming
/// `serviceUrl` (each call times out after 10 s), and only then is the hub's POST answered:
/// 200 with an empty body; 400 `{"error":{code,message}}` for a body that is not an activity;
/// 500 when a reply could not be delivered (the remaining replies are not sent). The hub must
/// therefore serve Connector calls while its POST is outstanding.
pub(crate) async fn serve(
    name: &'static str,
    app: Router,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(bot = name, listen = %listener.local_addr()?, "built-in bot is serving");
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// `respond` as `POST path`, to serve on a listener of its own or to merge into the hub's
/// router; otherwise as [`serve`].
///
/// With `shared`, each turn first loads the conversation's entry of the bot's memory from the
/// cluster's database and stores it back after: the next turn may reach another node's copy of
/// the bot.
pub(crate) fn router(
    name: &'static str,
    respond: impl Fn(&Activity) -> Vec<Activity> + Send + Sync + 'static,
    path: &str,
    shared: Option<SharedMemory>,
) -> std::io::Result<Router> {
    let client = reqwest::Client::builder()
        .timeout(CONNECTOR_TIMEOUT)
        .build()
        .map_err(std::io::Error::other)?;
    let state = Served {
        name,
        client,
        respond: Arc::new(respond),
        shared,
    };
    Ok(Router::new().route(path, post(messages)).with_state(state))
}

/// What every turn of one served bot shares.
#[derive(Clone)]
struct Served {
    name: &'static str,
    // Built once: the client pools connections to the hub (keep-alive, TLS sessions) and is an
    // `Arc` inside, so cloning it into each request is cheap.
    client: reqwest::Client,
    // Shared by all turns, which run concurrently; the bot's own state locks internally.
    respond: Arc<Respond>,
    shared: Option<SharedMemory>,
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

async fn messages(State(bot): State<Served>, body: Bytes) -> Response {
    let incoming = match validate::parse_activity(&body) {
        Ok(incoming) => incoming,
        Err(error) => {
            tracing::warn!(bot = bot.name, error = %error, "refused a request that is not an activity");
            let code = match error {
                ActivityError::Malformed(_) => ErrorCode::BadSyntax,
                _ => ErrorCode::BadArgument,
            };
            return error_response(StatusCode::BAD_REQUEST, code, error.to_string());
        }
    };
    let conversation = incoming.conversation.as_ref().map(|c| c.id.clone());
    if let (Some(shared), Some(conversation)) = (&bot.shared, &conversation) {
        match shared.cluster.bot_state(bot.name, conversation).await {
            Ok(state) => shared.memory.import(conversation, state.as_deref()),
            Err(e) => {
                tracing::error!(bot = bot.name, error = %e, "built-in bot could not read its memory");
                return error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::ServiceError,
                    "the bot could not read its memory".to_owned(),
                );
            }
        }
    }
    let replies = (bot.respond)(&incoming);
    if let (Some(shared), Some(conversation)) = (&bot.shared, &conversation) {
        let state = shared.memory.export(conversation);
        if let Err(e) = shared
            .cluster
            .set_bot_state(bot.name, conversation, state.as_deref())
            .await
        {
            tracing::error!(bot = bot.name, error = %e, "built-in bot could not keep its memory");
        }
    }
    for reply in replies {
        if let Err(error) = deliver(&bot.client, &reply).await {
            tracing::error!(
                bot = bot.name,
                conversation.id = incoming.conversation.as_ref().map(|c| c.id.as_str()),
                activity.id = incoming.id.as_deref(),
                error = %error,
                "built-in bot could not deliver a reply; the rest of the turn is dropped"
            );
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::ServiceError,
                "the bot could not deliver its reply to the channel".to_owned(),
            );
        }
    }
    StatusCode::OK.into_response()
}

fn error_response(status: StatusCode, code: ErrorCode, message: String) -> Response {
    (status, Json(ErrorResponse::new(code, message))).into_response()
}

/// Why a reply did not reach the channel.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeliveryError {
    #[error("the incoming activity has no `{0}` to reply to")]
    Unaddressed(&'static str),
    #[error("serviceUrl `{url}` is unusable: {reason}")]
    BadServiceUrl { url: String, reason: String },
    #[error("the Connector call failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error("the Connector refused the reply with {status}: {code} {message}")]
    Refused {
        status: StatusCode,
        code: String,
        message: String,
    },
}

/// Sends `reply` as the SDK does: ReplyToActivity when it has a `replyToId`, else
/// SendToConversation, with the JS SDK's `x-ms-conversation-id` header and no credentials.
async fn deliver(client: &reqwest::Client, reply: &Activity) -> Result<(), DeliveryError> {
    let url = connector_url(reply)?;
    let conversation = reply.conversation.as_ref().map(|c| c.id.as_str()).unwrap_or_default();
    let response = client
        .post(url)
        .header("x-ms-conversation-id", conversation)
        .json(reply)
        .send()
        .await?;
    let status = response.status();
    if status.is_success() {
        let id = response.json::<ResourceResponse>().await.ok().map(|r| r.id);
        tracing::debug!(
            conversation.id = conversation,
            activity.id = id.as_deref(),
            "built-in bot replied"
        );
        return Ok(());
    }
    let body = response.bytes().await.unwrap_or_default();
    let (code, message) = match serde_json::from_slice::<ErrorResponse>(&body) {
        Ok(refusal) => (refusal.error.code.to_string(), refusal.error.message),
        Err(_) => ("(no error body)".to_owned(), String::new()),
    };
    Err(DeliveryError::Refused { status, code, message })
}

/// `{serviceUrl}/v3/conversations/{conversation.id}/activities[/{replyToId}]`, ids encoded as
/// path segments, whether or not `serviceUrl` ends with a slash.
pub(crate) fn connector_url(reply: &Activity) -> Result<reqwest::Url, DeliveryError> {
    let service_url = reply
        .service_url
        .as_deref()
        .ok_or(DeliveryError::Unaddressed("serviceUrl"))?;
    let conversation = reply
        .conversation
        .as_ref()
        .map(|c| c.id.as_str())
        .filter(|id| !id.is_empty())
        .ok_or(DeliveryError::Unaddressed("conversation.id"))?;
    let unusable = |reason: String| DeliveryError::BadServiceUrl {
        url: service_url.to_owned(),
        reason,
    };
    let mut url = reqwest::Url::parse(service_url).map_err(|e| unusable(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(unusable("it is not an http(s) URL".to_owned()));
    }
    {
        let mut segments = url
            .path_segments_mut()
            .map_err(|()| unusable("it cannot be a base URL".to_owned()))?;
        segments
            .pop_if_empty()
            .extend(["v3", "conversations", conversation, "activities"]);
        if let Some(reply_to) = &reply.reply_to_id {
            segments.push(reply_to);
        }
    }
    Ok(url)
}

/// An activity from customer `u-42` in conversation `conv-1` to the bot `recipient`, with the
/// fields of `value` (an object) over those: what the built-in bots' unit tests feed them.
#[cfg(test)]
pub(crate) fn test_activity(recipient: &str, name: &str, value: serde_json::Value) -> Activity {
    let mut base = serde_json::json!({
        "id": "act-7", "serviceUrl": "http://hub.example/", "channelId": "directline",
        "from": {"id": "u-42", "name": "Customer"},
        "recipient": {"id": recipient, "name": name},
        "conversation": {"id": "conv-1"}
    });
    for (key, value) in value.as_object().expect("an object of fields") {
        base[key] = value.clone();
    }
    serde_json::from_value(base).expect("an activity")
}

/// Whether `incoming` (a `conversationUpdate`) removes the bot it is addressed to: the bot may
/// forget the conversation.
pub(crate) fn removes_recipient(incoming: &Activity) -> bool {
    let bot = incoming.recipient.as_ref().map(|r| r.id.as_str());
    incoming
        .members_removed
        .iter()
        .flatten()
        .any(|member| Some(member.id.as_str()) == bot)
}
