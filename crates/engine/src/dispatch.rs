//! Delivering activities to bots: the hub's side of the Bot Framework channel.
//!
//! Every activity for a bot is POSTed to the bot's messaging endpoint as JSON, addressed the way
//! the SDKs expect (`serviceUrl`, `channelId`, `conversation`, `from`, `recipient`, a stable `id`
//! and `timestamp`), with a channel JWT for bots that have an app id and no `Authorization`
//! header at all for anonymous bots (the Python SDK refuses any header when anonymous).
//!
//! Ordering: each conversation has a *lane*, a FIFO of deliveries worked by one task, so a bot
//! sees `conversationUpdate`, then the context event, then the customer's messages in the order
//! they were stored. The task exists only while the lane has work. Nothing holds the
//! conversation's lock while a POST is open, so the bot's callbacks to the Connector API (which
//! the SDKs make *inside* the turn, before answering the POST) are served meanwhile.
//!
//! Failures: connection errors and 5xx answers are retried with backoff (the activity id is the
//! same every time, so the retry is idempotent for the hub); a timeout is not retried, because
//! the bot may have acted on the activity. A bot that stays unreachable makes the hub escalate
//! the conversation on its behalf (see `Hub::bot_unavailable`); a 4xx is the bot refusing that
//! activity, reported to the caller and logged.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use botframework::Activity;
use botframework::auth::{AuthError, JwkSet, KeyRing, SigningKey};
use domain::user::{BotProfile, UserKind};
use domain::{ConversationId, UserName};
use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;

use crate::bot_auth::{BotTokenPolicy, KeyCache};
use crate::hub::Hub;

/// How the hub talks to bots.
#[derive(Debug, Clone)]
pub struct ChannelSettings {
    /// The hub's base URL exactly as bots must call it back: the `serviceUrl` of every activity
    /// and the `serviceurl` claim of every channel token.
    pub service_url: String,
    /// How long one POST to a bot may take.
    pub timeout: Duration,
    /// How many times a delivery is tried when the bot cannot be reached or answers 5xx.
    pub attempts: u32,
    /// The wait before the first retry; each later retry waits four times longer.
    pub backoff: Duration,
    /// Signs tokens for bots with an app id; `None` when every bot is anonymous.
    pub signer: Option<Arc<ChannelSigner>>,
    /// How the tokens of signed bots calling the Connector API are checked, by app id.
    pub bot_tokens: HashMap<String, BotTokenPolicy>,
    /// The `locale` of activities whose sender gave none (the hub's own, and customers' that
    /// came without one).
    pub default_locale: String,
    /// How often a waiting customer is told their place in the queue again.
    pub queue_position_every: Duration,
    /// The synthesis voice of calls, passed to bots in the voice context (`voices`).
    pub voice_name: String,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        Self {
            service_url: "http://127.0.0.1:8080".to_owned(),
            timeout: Duration::from_secs(15),
            attempts: 3,
            backoff: Duration::from_millis(250),
            signer: None,
            bot_tokens: HashMap::new(),
            default_locale: "en-US".to_owned(),
            queue_position_every: Duration::from_secs(30),
            voice_name: "en-us".to_owned(),
        }
    }
}

/// Why a bot did not take an activity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// No answer after every attempt (connection refused, 5xx, timeout): the hub treats the bot
    /// as down for this conversation.
    #[error("bot `{bot}` is unavailable: {reason}")]
    Unavailable { bot: UserName, reason: String },
    /// The bot answered with a 4xx status: it refused this activity.
    #[error("bot `{bot}` refused the activity with HTTP {status}")]
    Rejected { bot: UserName, status: u16 },
    /// The hub could not sign a token for the bot.
    #[error("cannot sign a channel token for bot `{bot}`: {reason}")]
    Signing { bot: UserName, reason: String },
    /// The hub stopped before the delivery was made.
    #[error("the hub is shutting down")]
    ShuttingDown,
}

/// Signs the channel tokens the hub sends to bots with an app id, and publishes their keys.
#[derive(Debug)]
pub struct ChannelSigner {
    issuer: String,
    lifetime: Duration,
    /// Read for every signed delivery and every JWKS request; written only when keys rotate,
    /// so a read-write lock (never held across an `.await`).
    keys: RwLock<KeyRing>,
    /// Signing is an RSA operation, so a token is reused for a bot until close to its expiry.
    /// Keyed by app id; each entry remembers the signing `kid`, so a rotation takes effect at
    /// once.
    tokens: Mutex<HashMap<String, CachedToken>>,
}

#[derive(Debug, Clone)]
struct CachedToken {
    kid: String,
    token: String,
    /// Unix seconds after which the cached token is not handed out again.
    renew_at: u64,
}

impl ChannelSigner {
    /// A signer issuing tokens as `issuer` (what bots set as `ToBotFromChannelTokenIssuer`),
    /// valid for `lifetime`, signed with `keys`' current key.
    pub fn new(issuer: impl Into<String>, keys: KeyRing, lifetime: Duration) -> Self {
        Self {
            issuer: issuer.into(),
            lifetime,
            keys: RwLock::new(keys),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// The `iss` of every token.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The published keys (current first), as served at the hub's `jwks_uri`.
    pub fn jwks(&self) -> JwkSet {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).jwks()
    }

    /// A copy of the key ring (for tests and diagnostics).
    pub fn key_ring(&self) -> KeyRing {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Signs with `new_key` from now on; the old key stays published until retired.
    pub fn rotate(&self, new_key: SigningKey) -> Result<(), AuthError> {
        self.keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .rotate(new_key)
    }

    /// Replaces the whole ring (after the operator changed the key directory).
    pub fn replace(&self, keys: KeyRing) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = keys;
    }

    /// Stops publishing the previous key `kid`. Returns whether it was published.
    pub fn retire(&self, kid: &str) -> bool {
        self.keys.write().unwrap_or_else(PoisonError::into_inner).retire(kid)
    }

    /// A token for bot `app_id`, reused while it has more than a fifth of its life left.
    pub fn token(&self, app_id: &str, service_url: &str, now_unix: u64) -> Result<String, AuthError> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        let kid = keys.current().kid();
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cached) = tokens.get(app_id)
            && cached.kid == kid
            && now_unix < cached.renew_at
        {
            return Ok(cached.token.clone());
        }
        let lifetime = self.lifetime.as_secs();
        let token = keys.sign_channel_token(app_id, service_url, &self.issuer, now_unix, lifetime)?;
        tokens.insert(
            app_id.to_owned(),
            CachedToken {
                kid: kid.to_owned(),
                token: token.clone(),
                renew_at: now_unix + lifetime * 4 / 5,
            },
        );
        Ok(token)
    }
}

/// One activity on its way to a bot.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub bot: UserName,
    /// Fully addressed, with its stored id.
    pub activity: Activity,
    /// Told the result, when someone waits for it (a customer's message does).
    pub done: Option<oneshot::Sender<Result<(), DeliveryError>>>,
}

/// The deliveries in flight, one lane per conversation.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    /// One client for every bot: it pools connections per host.
    client: reqwest::Client,
    pub(crate) settings: ChannelSettings,
    /// The open lanes. A plain mutex, held only to find, add or drop a lane, never across an
    /// `.await`; a lane's task drops its entry under this lock once its queue is empty, so a
    /// delivery is never left in a lane nobody works.
    lanes: Mutex<HashMap<ConversationId, mpsc::UnboundedSender<Delivery>>>,
    /// Every lane task, so shutdown can wait for deliveries in progress.
    tasks: TaskTracker,
    /// Identity providers' keys, for checking signed bots' tokens.
    pub(crate) keys: KeyCache,
}

impl Dispatcher {
    pub(crate) fn new(settings: ChannelSettings) -> Self {
        let client = reqwest::Client::builder()
            .user_agent(concat!(
                "Switchboard/",
                env!("CARGO_PKG_VERSION"),
                " (Bot Framework channel)"
            ))
            .connect_timeout(settings.timeout)
            .build()
            .expect("a TLS backend is compiled in");
        Self {
            client,
            settings,
            lanes: Mutex::new(HashMap::new()),
            tasks: TaskTracker::new(),
            keys: KeyCache::default(),
        }
    }

    /// The HTTP client every call to bots and identity providers shares.
    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn lanes(&self) -> std::sync::MutexGuard<'_, HashMap<ConversationId, mpsc::UnboundedSender<Delivery>>> {
        self.lanes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next delivery of `conversation`'s lane, or `None` after removing the empty lane.
    fn next(&self, conversation: ConversationId, rx: &mut mpsc::UnboundedReceiver<Delivery>) -> Option<Delivery> {
        if let Ok(delivery) = rx.try_recv() {
            return Some(delivery);
        }
        let mut lanes = self.lanes();
        match rx.try_recv() {
            Ok(delivery) => Some(delivery),
            Err(_) => {
                lanes.remove(&conversation);
                None
            }
        }
    }

    /// Stops taking deliveries and waits up to `grace` for those in progress.
    pub(crate) async fn shutdown(&self, grace: Duration) {
        self.tasks.close();
        if tokio::time::timeout(grace, self.tasks.wait()).await.is_err() {
            tracing::warn!(lanes = self.tasks.len(), "bot deliveries still running at shutdown");
        }
    }

    /// POSTs `activity` to `bot`, retrying connection errors and 5xx answers.
    async fn post(&self, bot: &UserName, profile: &BotProfile, activity: &Activity) -> Result<(), DeliveryError> {
        let settings = &self.settings;
        let authorization = match (&settings.signer, profile.is_anonymous()) {
            (_, true) => None,
            (Some(signer), false) => Some(
                signer
                    .token(&profile.app_id, &settings.service_url, unix_now())
                    .map_err(|e| DeliveryError::Signing {
                        bot: bot.clone(),
                        reason: e.to_string(),
                    })?,
            ),
            (None, false) => {
                return Err(DeliveryError::Signing {
                    bot: bot.clone(),
                    reason: "the hub has no signing keys configured".to_owned(),
                });
            }
        };
        let mut wait = settings.backoff;
        let mut last_failure = String::new();
        for attempt in 1..=settings.attempts.max(1) {
            let mut request = self
                .client
                .post(profile.endpoint.url().clone())
                .timeout(settings.timeout)
                .json(activity);
            if let Some(token) = &authorization {
                request = request.bearer_auth(token);
            }
            match request.send().await {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) if response.status().is_server_error() => {
                    last_failure = format!("it answered HTTP {}", response.status().as_u16());
                }
                Ok(response) => {
                    return Err(DeliveryError::Rejected {
                        bot: bot.clone(),
                        status: response.status().as_u16(),
                    });
                }
                Err(e) if e.is_timeout() => {
                    return Err(DeliveryError::Unavailable {
                        bot: bot.clone(),
                        reason: format!("no answer within {} s", settings.timeout.as_secs_f32()),
                    });
                }
                Err(e) => last_failure = describe(&e),
            }
            tracing::debug!(bot = %bot, attempt, failure = %last_failure, "bot delivery failed; retrying");
            if attempt < settings.attempts {
                tokio::time::sleep(wait).await;
                wait *= 4;
            }
        }
        Err(DeliveryError::Unavailable {
            bot: bot.clone(),
            reason: format!("{last_failure} (after {} attempts)", settings.attempts.max(1)),
        })
    }
}

/// A reqwest error in words, with its cause (reqwest's own text omits it).
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        e.to_string()
    };
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Hub {
    /// Queues `delivery` on `conversation`'s lane, starting the lane's task if it has none.
    /// Callers hold the conversation's lock, so deliveries queue in the order they were stored.
    pub(crate) fn deliver(self: &Arc<Self>, conversation: ConversationId, delivery: Delivery) {
        let dispatcher = &self.dispatcher;
        let mut lanes = dispatcher.lanes();
        let delivery = match lanes.get(&conversation) {
            Some(lane) => match lane.send(delivery) {
                Ok(()) => return,
                Err(mpsc::error::SendError(delivery)) => delivery,
            },
            None => delivery,
        };
        if dispatcher.tasks.is_closed() {
            if let Some(done) = delivery.done {
                let _ = done.send(Err(DeliveryError::ShuttingDown));
            }
            return;
        }
        let (lane, rx) = mpsc::unbounded_channel();
        lane.send(delivery).expect("the receiver is alive");
        lanes.insert(conversation, lane);
        dispatcher.tasks.spawn(Arc::clone(self).work_lane(conversation, rx));
    }

    /// Works one conversation's lane until it is empty.
    async fn work_lane(self: Arc<Self>, conversation: ConversationId, mut rx: mpsc::UnboundedReceiver<Delivery>) {
        // Bots found down in this lane: what is queued behind for them is not tried again.
        let mut down: HashSet<UserName> = HashSet::new();
        while let Some(delivery) = self.dispatcher.next(conversation, &mut rx) {
            let result = if down.contains(&delivery.bot) {
                Err(DeliveryError::Unavailable {
                    bot: delivery.bot.clone(),
                    reason: "it was found unavailable earlier in this conversation".to_owned(),
                })
            } else {
                match self.tenant().user(delivery.bot.as_str()).map(|u| &u.kind) {
                    Some(UserKind::Bot(profile)) => {
                        self.dispatcher.post(&delivery.bot, profile, &delivery.activity).await
                    }
                    _ => Err(DeliveryError::Rejected {
                        bot: delivery.bot.clone(),
                        status: 404,
                    }),
                }
            };
            match &result {
                Ok(()) => {
                    metrics::counter!("switchboard_bot_deliveries_total", "bot" => delivery.bot.to_string(), "result" => "ok")
                        .increment(1);
                }
                Err(e @ DeliveryError::Unavailable { .. }) => {
                    metrics::counter!("switchboard_bot_deliveries_total", "bot" => delivery.bot.to_string(), "result" => "unavailable")
                        .increment(1);
                    if down.insert(delivery.bot.clone()) {
                        tracing::warn!(conversation.id = %conversation, bot = %delivery.bot, error = %e, "bot unavailable; escalating without it");
                        if let Err(failure) = self.bot_unavailable(conversation, &delivery.bot).await {
                            tracing::error!(conversation.id = %conversation, bot = %delivery.bot, error = %failure, "could not escalate away from an unavailable bot");
                        }
                    }
                }
                Err(e) => {
                    metrics::counter!("switchboard_bot_deliveries_total", "bot" => delivery.bot.to_string(), "result" => "rejected")
                        .increment(1);
                    tracing::warn!(conversation.id = %conversation, bot = %delivery.bot, activity.id = delivery.activity.id.as_deref().unwrap_or(""), error = %e, "bot did not take an activity");
                }
            }
            if let Some(done) = delivery.done {
                let _ = done.send(result);
            }
        }
    }
}
