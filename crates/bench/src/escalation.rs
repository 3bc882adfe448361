//! Escalation load: customers who ask for a person, a bot that escalates each of them, and
//! simulated agents who take the work.
//!
//! All three run in this process, so one clock times them:
//!
//! - **The escalating bot** serves `POST /api/messages` on `--bot-listen` (the hub's
//!   configuration must name it as the bot's endpoint). It answers every activity 200 at once;
//!   for a `message` it then sends the Omnichannel escalation — a message whose
//!   `channelData.tags` is `{"type":"Escalate","context":{"BotHandoffTopic":…}}` — with
//!   ReplyToActivity. The moment the hub answers that call 2xx is *escalation accepted*.
//! - **Agents** sign in (`POST /api/v1/sessions`), go available and hold the events WebSocket
//!   (`GET /api/v1/events`). The moment an `offer` frame for a conversation arrives is *agent
//!   notified*. Each offer is accepted, ended and closed at once, so capacity comes back and
//!   the next conversation can be offered.
//! - **Customers** (`--concurrency` at a time, `--conversations` in all) get a token, start a
//!   conversation and say they want a person; the topics alternate between `--topics`.
//!
//! The report: escalation accepted → agent notified (p50/p90/p99/max), offers per second, and
//! every conversation that was escalated but never offered, or offered twice. Bounded by count
//! and by `--max-seconds`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use reqwest::Url;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_util::sync::CancellationToken;

use crate::report::Latency;

/// What an escalation run does.
#[derive(Debug, Clone)]
pub struct EscalationConfig {
    /// The hub's base URL.
    pub hub: Url,
    /// The `[[directline]]` channel's secret.
    pub secret: String,
    /// The escalating bot's listener; the hub's configuration names it as the bot's endpoint.
    pub bot_listen: std::net::SocketAddr,
    /// The agents' sign-in names, and their one password.
    pub agents: Vec<String>,
    pub password: String,
    /// Conversations in all, and how many customers start theirs at the same time.
    pub conversations: usize,
    pub concurrency: usize,
    /// The `BotHandoffTopic` values the bot escalates with, in turn.
    pub topics: Vec<String>,
    /// The whole run stops after this.
    pub max_duration: Duration,
    /// How long an agent keeps a conversation between accepting and ending it (zero: ends at
    /// once), so that agents' capacity fills up and conversations wait.
    pub hold: Duration,
}

/// What an escalation run measured.
#[derive(Debug, Clone, Serialize)]
pub struct EscalationReport {
    pub hub: String,
    pub conversations: usize,
    pub concurrency: usize,
    pub agents: usize,
    /// Conversations whose escalation the hub acknowledged to the bot.
    pub escalated: u64,
    /// Conversations offered to an agent (the first time).
    pub offered: u64,
    /// Offers accepted, ended and closed by the agents.
    pub handled: u64,
    /// Escalated but never offered before the run ended.
    pub never_offered: u64,
    /// Offers of a conversation that had already been offered.
    pub offered_again: u64,
    /// Seconds from the first customer's start to the last offer.
    pub duration_s: f64,
    /// Offers per second over `duration_s`.
    pub offers_per_s: f64,
    /// Escalation accepted → agent notified.
    pub notify_ms: Option<Latency>,
    /// Failures by kind.
    pub errors: BTreeMap<String, u64>,
    pub stopped_by_deadline: bool,
    /// Every conversation escalated, offered exactly once and handled, with no error.
    pub ok: bool,
    /// The most conversations each agent was offered and had not yet closed, at any moment
    /// (offered work holds capacity).
    pub peak_held: BTreeMap<String, u32>,
    /// Every first offer as its frame said it: conversation, agent, queue, `expires_at`.
    #[serde(skip)]
    pub offers: Vec<OfferSeen>,
}

/// An offer frame an agent received.
#[derive(Debug, Clone)]
pub struct OfferSeen {
    pub conversation: String,
    pub agent: String,
    pub queue: String,
    pub expires_at: String,
}

impl EscalationReport {
    pub fn to_table(&self) -> String {
        let latency = |l: &Option<Latency>| match l {
            Some(l) => format!(
                "p50 {:.2} / p90 {:.2} / p99 {:.2} / max {:.2} ms",
                l.p50, l.p90, l.p99, l.max
            ),
            None => "none".to_owned(),
        };
        let errors = if self.errors.is_empty() {
            "none".to_owned()
        } else {
            self.errors
                .iter()
                .map(|(k, n)| format!("{k} × {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let rows = [
            ("hub", self.hub.clone()),
            (
                "conversations",
                format!("{} ({} at a time)", self.conversations, self.concurrency),
            ),
            ("agents", self.agents.to_string()),
            ("escalated", self.escalated.to_string()),
            ("offered", format!("{} ({:.1}/s)", self.offered, self.offers_per_s)),
            ("handled", self.handled.to_string()),
            ("escalated → notified", latency(&self.notify_ms)),
            ("never offered", self.never_offered.to_string()),
            ("offered again", self.offered_again.to_string()),
            ("errors", errors),
            ("duration", format!("{:.3} s", self.duration_s)),
            (
                "verdict",
                if self.ok {
                    "OK: every escalation was offered exactly once and handled".to_owned()
                } else {
                    "FAILED".to_owned()
                },
            ),
        ];
        rows.iter().map(|(k, v)| format!("{k:<22} {v}\n")).collect()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// When each conversation was escalated and offered, and what failed.
#[derive(Default)]
struct Ledger {
    escalated: HashMap<String, Instant>,
    offered: HashMap<String, Instant>,
    offered_again: u64,
    handled: u64,
    errors: BTreeMap<String, u64>,
    /// Per agent: the conversations offered and not known closed yet, and the most there ever
    /// were at once.
    held: BTreeMap<String, (std::collections::HashSet<String>, u32)>,
    offers: Vec<OfferSeen>,
}

type Shared = Arc<Mutex<Ledger>>;

fn with<T>(ledger: &Shared, f: impl FnOnce(&mut Ledger) -> T) -> T {
    f(&mut ledger.lock().unwrap_or_else(PoisonError::into_inner))
}

fn error(ledger: &Shared, kind: impl Into<String>) {
    with(ledger, |l| *l.errors.entry(kind.into()).or_default() += 1);
}

/// Runs the escalation load and reports.
pub async fn run(config: EscalationConfig) -> Result<EscalationReport, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .tcp_nodelay(true)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let ledger: Shared = Arc::default();
    let stop = CancellationToken::new();
    let deadline = Instant::now() + config.max_duration;
    let mut tasks = JoinSet::new();

    let listener = TcpListener::bind(config.bot_listen)
        .await
        .map_err(|e| format!("the bot cannot listen on {}: {e}", config.bot_listen))?;
    let bot = EscalatingBot {
        http: http.clone(),
        ledger: ledger.clone(),
        topics: Arc::new(config.topics.clone()),
        turn: Arc::default(),
    };
    let app = Router::new().route("/api/messages", post(bot_turn)).with_state(bot);
    let bot_stop = stop.clone();
    tasks.spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { bot_stop.cancelled().await })
            .await;
    });

    let mut ready = Vec::new();
    for name in &config.agents {
        let (tx, rx) = tokio::sync::oneshot::channel();
        tasks.spawn(agent(
            config.hub.clone(),
            http.clone(),
            AgentPart {
                name: name.clone(),
                password: config.password.clone(),
                hold: config.hold,
            },
            ledger.clone(),
            stop.clone(),
            tx,
        ));
        ready.push((name.clone(), rx));
    }
    for (name, rx) in ready {
        match rx.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                stop.cancel();
                return Err(format!("agent {name}: {e}"));
            }
            Err(_) => {
                stop.cancel();
                return Err(format!("agent {name} stopped before it was ready"));
            }
        }
    }

    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut customers = JoinSet::new();
    for n in 0..config.conversations {
        let permit = gate.clone().acquire_owned().await.expect("the gate is never closed");
        let (hub, http, secret, ledger) = (config.hub.clone(), http.clone(), config.secret.clone(), ledger.clone());
        customers.spawn(async move {
            customer(&hub, &http, &secret, n, &ledger).await;
            drop(permit);
        });
        if Instant::now() >= deadline {
            break;
        }
    }
    while customers.join_next().await.is_some() {}

    // Wait until every escalated conversation was offered, or the time is up.
    let mut stopped_by_deadline = false;
    loop {
        let (escalated, offered) = with(&ledger, |l| (l.escalated.len(), l.offered.len()));
        let done = with(&ledger, |l| l.handled as usize);
        if escalated >= config.conversations && offered >= escalated && done >= offered {
            break;
        }
        if Instant::now() >= deadline {
            stopped_by_deadline = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    while tasks.join_next().await.is_some() {}

    let l = ledger.lock().unwrap_or_else(PoisonError::into_inner);
    let mut latencies = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds");
    for (conversation, escalated_at) in &l.escalated {
        if let Some(offered_at) = l.offered.get(conversation) {
            // An offer can arrive before the bot hears its call was accepted; that is no wait.
            let micros = offered_at.saturating_duration_since(*escalated_at).as_micros();
            let _ = latencies.record(u64::try_from(micros).unwrap_or(u64::MAX).max(1));
        }
    }
    let last_offer = l.offered.values().max().copied().unwrap_or(started);
    let duration_s = last_offer.saturating_duration_since(started).as_secs_f64();
    let ms = |micros: u64| micros as f64 / 1000.0;
    let never_offered = l.escalated.keys().filter(|c| !l.offered.contains_key(*c)).count() as u64;
    let report = EscalationReport {
        hub: config.hub.to_string(),
        conversations: config.conversations,
        concurrency: config.concurrency,
        agents: config.agents.len(),
        escalated: l.escalated.len() as u64,
        offered: l.offered.len() as u64,
        handled: l.handled,
        never_offered,
        offered_again: l.offered_again,
        duration_s,
        offers_per_s: if duration_s > 0.0 {
            l.offered.len() as f64 / duration_s
        } else {
            0.0
        },
        notify_ms: (!latencies.is_empty()).then(|| Latency {
            p50: ms(latencies.value_at_quantile(0.50)),
            p90: ms(latencies.value_at_quantile(0.90)),
            p99: ms(latencies.value_at_quantile(0.99)),
            max: ms(latencies.max()),
            mean: latencies.mean() / 1000.0,
        }),
        errors: l.errors.clone(),
        stopped_by_deadline,
        ok: l.escalated.len() == config.conversations
            && never_offered == 0
            && l.offered_again == 0
            && l.handled == l.offered.len() as u64
            && l.errors.is_empty(),
        peak_held: l.held.iter().map(|(agent, (_, peak))| (agent.clone(), *peak)).collect(),
        offers: l.offers.clone(),
    };
    Ok(report)
}

#[derive(Clone)]
struct EscalatingBot {
    http: reqwest::Client,
    ledger: Shared,
    topics: Arc<Vec<String>>,
    turn: Arc<std::sync::atomic::AtomicUsize>,
}

/// One activity from the hub: answered 200 at once; a message is escalated on its own task.
async fn bot_turn(State(bot): State<EscalatingBot>, body: Bytes) -> StatusCode {
    let Ok(activity) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    if activity["type"] != "message" {
        return StatusCode::OK;
    }
    tokio::spawn(async move {
        let (Some(service_url), Some(conversation), Some(id)) = (
            activity["serviceUrl"].as_str(),
            activity["conversation"]["id"].as_str(),
            activity["id"].as_str(),
        ) else {
            error(&bot.ledger, "bot_malformed_activity");
            return;
        };
        let n = bot.turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let topic = bot.topics.get(n % bot.topics.len().max(1)).cloned().unwrap_or_default();
        let tags = json!({"type": "Escalate", "context": {"BotHandoffTopic": topic}}).to_string();
        let reply = json!({
            "type": "message",
            "text": "The customer asked for a person.",
            "from": activity["recipient"],
            "recipient": activity["from"],
            "conversation": {"id": conversation},
            "replyToId": id,
            "channelData": {"tags": tags},
        });
        let url = format!(
            "{}/v3/conversations/{conversation}/activities/{id}",
            service_url.trim_end_matches('/')
        );
        match bot.http.post(url).json(&reply).send().await {
            Ok(response) if response.status().is_success() => {
                let at = Instant::now();
                with(&bot.ledger, |l| l.escalated.insert(conversation.to_owned(), at));
            }
            Ok(response) => error(&bot.ledger, format!("escalate_http_{}", response.status().as_u16())),
            Err(_) => error(&bot.ledger, "escalate_transport"),
        }
    });
    StatusCode::OK
}

/// A customer who asks for a person.
async fn customer(hub: &Url, http: &reqwest::Client, secret: &str, n: usize, ledger: &Shared) {
    let user = format!("dl_escalation_{n}");
    let step = async {
        let token: Value = http
            .post(hub.join("v3/directline/tokens/generate").expect("a valid path"))
            .bearer_auth(secret)
            .json(&json!({"user": {"id": user}}))
            .send()
            .await
            .map_err(|_| "token_transport".to_owned())?
            .error_for_status()
            .map_err(|e| format!("token_http_{}", e.status().map_or(0, |s| s.as_u16())))?
            .json()
            .await
            .map_err(|_| "token_malformed".to_owned())?;
        let token = token["token"].as_str().ok_or("token_malformed")?.to_owned();
        let started: Value = http
            .post(hub.join("v3/directline/conversations").expect("a valid path"))
            .bearer_auth(&token)
            .send()
            .await
            .map_err(|_| "conversation_transport".to_owned())?
            .json()
            .await
            .map_err(|_| "conversation_malformed".to_owned())?;
        let id = started["conversationId"]
            .as_str()
            .ok_or("conversation_malformed")?
            .to_owned();
        let response = http
            .post(
                hub.join(&format!("v3/directline/conversations/{id}/activities"))
                    .expect("a valid path"),
            )
            .bearer_auth(&token)
            .json(&json!({"type": "message", "from": {"id": user}, "text": "I want to talk to a person"}))
            .send()
            .await
            .map_err(|_| "post_transport".to_owned())?;
        if !response.status().is_success() {
            return Err(format!("post_http_{}", response.status().as_u16()));
        }
        Ok::<(), String>(())
    };
    if let Err(kind) = step.await {
        error(ledger, kind);
    }
}

/// An agent: signs in, goes available, takes every offer on the events socket and finishes it.
/// Who a simulated agent is and how it works.
struct AgentPart {
    name: String,
    password: String,
    /// Between accepting and ending each conversation.
    hold: Duration,
}

async fn agent(
    hub: Url,
    http: reqwest::Client,
    part: AgentPart,
    ledger: Shared,
    stop: CancellationToken,
    ready: tokio::sync::oneshot::Sender<Result<(), String>>,
) {
    let AgentPart { name, password, hold } = part;
    let setup = async {
        let session: Value = http
            .post(hub.join("api/v1/sessions").expect("a valid path"))
            .json(&json!({"name": name, "password": password}))
            .send()
            .await
            .map_err(|e| format!("cannot sign in: {e}"))?
            .error_for_status()
            .map_err(|e| format!("cannot sign in: {e}"))?
            .json()
            .await
            .map_err(|e| format!("cannot sign in: {e}"))?;
        let token = session["token"].as_str().ok_or("no session token")?.to_owned();
        let mut ws_url = hub.join("api/v1/events").expect("a valid path");
        ws_url
            .set_scheme(if hub.scheme() == "https" { "wss" } else { "ws" })
            .map_err(|()| "cannot make the events URL")?;
        let mut request = ws_url
            .as_str()
            .into_client_request()
            .map_err(|e| format!("events URL: {e}"))?;
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {token}")
                .parse()
                .map_err(|_| "the session token is not a header value")?,
        );
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| format!("cannot open the events socket: {e}"))?;
        http.put(hub.join("api/v1/me/presence").expect("a valid path"))
            .bearer_auth(&token)
            .json(&json!({"presence": "available"}))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("cannot go available: {e}"))?;
        Ok::<_, String>((token, socket))
    };
    let (token, socket) = match setup.await {
        Ok(ok) => {
            let _ = ready.send(Ok(()));
            ok
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let (mut sink, mut frames) = socket.split();
    let mut work = JoinSet::new();
    loop {
        let frame = tokio::select! {
            () = stop.cancelled() => break,
            frame = frames.next() => frame,
        };
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Ping(payload))) => {
                let _ = sink.send(Message::Pong(payload)).await;
                continue;
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => {
                error(&ledger, "events_closed");
                break;
            }
        };
        let at = Instant::now();
        let Ok(event) = serde_json::from_str::<Value>(&text) else {
            error(&ledger, "events_malformed");
            continue;
        };
        if event["type"] == "conversation" && event["conversation"]["state"] == "closed" {
            // Its capacity is back (the close's answer may come later than this frame).
            if let Some(id) = event["conversation"]["id"].as_str() {
                release(&ledger, &name, id);
            }
            continue;
        }
        if event["type"] != "offer" {
            continue;
        }
        let Some(conversation) = event["offer"]["conversation"]["id"].as_str().map(str::to_owned) else {
            error(&ledger, "offer_malformed");
            continue;
        };
        let first = with(&ledger, |l| {
            if l.offered.contains_key(&conversation) {
                l.offered_again += 1;
                false
            } else {
                l.offered.insert(conversation.clone(), at);
                l.offers.push(OfferSeen {
                    conversation: conversation.clone(),
                    agent: name.clone(),
                    queue: event["offer"]["queue"].as_str().unwrap_or_default().to_owned(),
                    expires_at: event["offer"]["expires_at"].as_str().unwrap_or_default().to_owned(),
                });
                let (held, peak) = l.held.entry(name.clone()).or_default();
                held.insert(conversation.clone());
                *peak = (*peak).max(u32::try_from(held.len()).unwrap_or(u32::MAX));
                true
            }
        });
        if first {
            let (hub, http, token, ledger, name) =
                (hub.clone(), http.clone(), token.clone(), ledger.clone(), name.clone());
            work.spawn(async move {
                finish(&hub, &http, &token, &conversation, &ledger, hold).await;
                release(&ledger, &name, &conversation);
            });
        }
    }
    while work.join_next().await.is_some() {}
    let _ = sink.close().await;
}

/// `agent` no longer holds `conversation`.
fn release(ledger: &Shared, agent: &str, conversation: &str) {
    with(ledger, |l| {
        if let Some((held, _)) = l.held.get_mut(agent) {
            held.remove(conversation);
        }
    });
}

/// Accepts, ends and closes an offered conversation, which gives the capacity back.
async fn finish(hub: &Url, http: &reqwest::Client, token: &str, conversation: &str, ledger: &Shared, hold: Duration) {
    for step in ["accept", "end", "close"] {
        if step == "end" && !hold.is_zero() {
            tokio::time::sleep(hold).await;
        }
        let url = hub
            .join(&format!("api/v1/conversations/{conversation}/{step}"))
            .expect("a valid path");
        match http.post(url).bearer_auth(token).json(&json!({})).send().await {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => {
                error(ledger, format!("{step}_http_{}", response.status().as_u16()));
                return;
            }
            Err(_) => {
                error(ledger, format!("{step}_transport"));
                return;
            }
        }
    }
    with(ledger, |l| l.handled += 1);
}
