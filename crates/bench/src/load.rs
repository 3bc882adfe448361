//! The load: C concurrent Direct Line customers, each sending M messages one after another and
//! timing each from its POST to the bot's reply.
//!
//! A run has three phases. **Setup**: every customer gets a token with the channel's secret,
//! starts its conversation and (WebSocket) opens its stream, then sends its warm-up messages;
//! the run waits until every customer is done with that (or has failed). **Measured**: all
//! customers start together and send their messages, each waiting for the reply before sending
//! the next. **Drain**: each customer keeps listening a little while after its last reply, so a
//! late duplicate is still seen. The whole run stops at `max_duration` whatever happens, and the
//! report says what completed.
//!
//! Replies are read by a receiver task per customer (the WebSocket reader or the poller), which
//! stamps each reply with the instant it arrived and hands it to the customer over a channel, so
//! a reply that arrives before the hub has answered the POST is timed correctly.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout_at};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::ledger::{Ledger, REPLY_PREFIX, Verdict};
use crate::report::{ErrorKind, Latency, Report, Step};

/// How customers receive the hub's activities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// The conversation's WebSocket (`streamUrl`).
    Ws,
    /// `GET .../activities?watermark=W` at a fixed interval.
    Polling,
}

impl Transport {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ws => "ws",
            Self::Polling => "polling",
        }
    }
}

/// What a run does.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The hub's base URL (Direct Line is under `/v3/directline`).
    pub hub: Url,
    /// The Direct Line base URL when it is not `{hub}/v3/directline`: offline-directline, for
    /// one, serves it under `/directline`.
    pub directline: Option<Url>,
    /// The `[[directline]]` channel's secret.
    pub secret: String,
    /// Start each conversation with the secret itself instead of a token from
    /// `tokens/generate`, for a Direct Line that has no token endpoint (offline-directline).
    pub skip_token: bool,
    pub customers: usize,
    /// Measured messages per customer.
    pub messages: usize,
    /// Warm-up messages per customer, sent during setup and not counted.
    pub warmup: usize,
    pub transport: Transport,
    /// How often a polling customer polls.
    pub poll_interval: Duration,
    /// The whole run stops after this, whatever happens.
    pub max_duration: Duration,
    /// How long a customer waits for one reply before counting it late and sending the next.
    pub reply_timeout: Duration,
    /// How long one HTTP request may take.
    pub request_timeout: Duration,
    /// How long a customer keeps listening after its last reply, for late duplicates.
    pub drain: Duration,
}

impl RunConfig {
    /// A run of `customers × messages` against `hub`, with the command line's defaults.
    pub fn new(hub: Url, secret: impl Into<String>, customers: usize, messages: usize, transport: Transport) -> Self {
        Self {
            hub,
            directline: None,
            secret: secret.into(),
            skip_token: false,
            customers,
            messages,
            warmup: 2,
            transport,
            poll_interval: Duration::from_millis(50),
            max_duration: Duration::from_secs(120),
            reply_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(15),
            drain: Duration::from_millis(300),
        }
    }
}

/// Why the HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientError(#[from] reqwest::Error);

/// Runs the load described by `config` and reports on it. Returns within about
/// `max_duration + drain` (plus one request timeout at worst, for requests in flight).
pub async fn run(config: RunConfig) -> Result<Report, ClientError> {
    // One client for every customer: it pools connections per host, as a site's many browsers
    // would each hold their own; the pool grows to one connection per concurrent request.
    let client = reqwest::Client::builder()
        .timeout(config.request_timeout)
        .tcp_nodelay(true)
        .build()?;
    let config = Arc::new(config);
    let start = Instant::now();
    let deadline = start + config.max_duration;
    let (ready_tx, mut ready_rx) = mpsc::channel::<()>(config.customers.max(1));
    // The instant the measured phase starts, sent once every customer is ready.
    let (go_tx, go_rx) = watch::channel(None::<Instant>);
    let mut customers = JoinSet::new();
    for n in 0..config.customers {
        let customer = Customer {
            n,
            user: format!("bench-{n}"),
            client: client.clone(),
            config: config.clone(),
            deadline,
        };
        customers.spawn(customer.run(ready_tx.clone(), go_rx.clone()));
    }
    drop(ready_tx);
    let mut ready = 0;
    while ready < config.customers {
        match timeout_at(deadline, ready_rx.recv()).await {
            Ok(Some(())) => ready += 1,
            Ok(None) | Err(_) => break,
        }
    }
    let measure_start = Instant::now();
    let _ = go_tx.send(Some(measure_start));

    let mut outcomes = Vec::with_capacity(config.customers);
    // Customers bound every wait by the deadline; this is a backstop for a request stuck past it.
    let give_up = deadline + config.drain + config.request_timeout + Duration::from_secs(1);
    loop {
        match timeout_at(give_up, customers.join_next()).await {
            Ok(Some(Ok(outcome))) => outcomes.push(outcome),
            Ok(Some(Err(e))) => tracing::error!(error = %e, "a customer task failed"),
            Ok(None) => break,
            Err(_) => {
                tracing::warn!(
                    left = customers.len(),
                    "customers still running past the deadline; stopping them"
                );
                customers.shutdown().await;
                break;
            }
        }
    }
    Ok(summarize(
        &config,
        &outcomes,
        measure_start - start,
        measure_start,
        deadline,
    ))
}

/// What one customer did.
#[derive(Debug)]
struct Outcome {
    ledger: Ledger,
    /// Round-trip latencies in microseconds.
    latencies: Histogram<u64>,
    errors: BTreeMap<ErrorKind, u64>,
    ready: bool,
    sent: u64,
    accepted: u64,
    /// When the last measured round trip completed.
    finished: Option<Instant>,
    stopped_by_deadline: bool,
}

impl Outcome {
    fn new(config: &RunConfig, n: usize) -> Self {
        Self {
            ledger: Ledger::new(n, config.warmup, config.messages),
            // 1 µs to one hour at three significant digits: the bounds cannot fail.
            latencies: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds"),
            errors: BTreeMap::new(),
            ready: false,
            sent: 0,
            accepted: 0,
            finished: None,
            stopped_by_deadline: false,
        }
    }

    fn error(&mut self, kind: ErrorKind) {
        *self.errors.entry(kind).or_default() += 1;
    }
}

/// What a customer's receiver hands it.
#[derive(Debug)]
enum Event {
    /// A reply (its text starts with [`REPLY_PREFIX`]) and when it arrived.
    Reply { text: String, at: Instant },
    /// A failure the receiver recovers from (a failed poll).
    Failed(ErrorKind),
    /// The stream is gone; nothing more will arrive.
    Closed,
}

/// How waiting for one reply ended.
enum Wait {
    Arrived(Instant),
    TimedOut,
    Deadline,
    Closed,
}

/// The conversation a customer started.
#[derive(Debug)]
struct Session {
    conversation: String,
    token: String,
    stream_url: Option<String>,
}

/// A Direct Line client as a site's chat widget is one: a token from the backend, a
/// conversation, a stream or a poller, and messages.
#[derive(Debug)]
struct Customer {
    n: usize,
    user: String,
    client: reqwest::Client,
    config: Arc<RunConfig>,
    deadline: Instant,
}

impl Customer {
    async fn run(self, ready: mpsc::Sender<()>, mut go: watch::Receiver<Option<Instant>>) -> Outcome {
        let mut outcome = Outcome::new(&self.config, self.n);
        let stop = CancellationToken::new();
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let receiver = match timeout_at(self.deadline, self.set_up(&stop, events_tx)).await {
            Ok(Ok(receiver)) => Some(receiver),
            Ok(Err(kind)) => {
                outcome.error(kind);
                None
            }
            Err(_) => {
                outcome.stopped_by_deadline = true;
                None
            }
        };
        let mut usable = receiver.is_some();
        if let Some(session) = receiver.as_ref().map(|(session, _)| session) {
            usable = self.warm_up(session, &mut events, &mut outcome).await;
            outcome.ready = usable;
        }
        let _ = ready.send(()).await;
        if timeout_at(self.deadline, go.wait_for(Option::is_some)).await.is_err() {
            outcome.stopped_by_deadline = true;
            usable = false;
        }
        if let (true, Some((session, _))) = (usable, receiver.as_ref()) {
            self.measure(session, &mut events, &mut outcome).await;
            let drain_until = (Instant::now() + self.config.drain).min(self.deadline);
            self.drain(&mut events, &mut outcome, drain_until).await;
        }
        stop.cancel();
        if let Some((_, task)) = receiver {
            let _ = task.await;
        }
        outcome
    }

    /// Token, conversation, receiver.
    async fn set_up(
        &self,
        stop: &CancellationToken,
        events: mpsc::UnboundedSender<Event>,
    ) -> Result<(Session, tokio::task::JoinHandle<()>), ErrorKind> {
        let session = self.start_conversation().await?;
        let task = match self.config.transport {
            Transport::Ws => {
                let url = session.stream_url.clone().ok_or(ErrorKind::Malformed {
                    step: Step::Conversation,
                })?;
                let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
                    .await
                    .map_err(|e| stream_error(&e))?;
                tokio::spawn(read_stream(socket, self.user.clone(), events, stop.clone()))
            }
            Transport::Polling => {
                let poller = Poller {
                    client: self.client.clone(),
                    url: self.activities_url(&session.conversation),
                    token: session.token.clone(),
                    user: self.user.clone(),
                    interval: self.config.poll_interval,
                };
                tokio::spawn(poller.run(events, stop.clone()))
            }
        };
        Ok((session, task))
    }

    async fn start_conversation(&self) -> Result<Session, ErrorKind> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Started {
            conversation_id: String,
            token: Option<String>,
            stream_url: Option<String>,
        }
        let token = if self.config.skip_token {
            // Direct Line takes the secret wherever it takes a token.
            self.config.secret.clone()
        } else {
            let generated: Started = self
                .call(
                    Step::Token,
                    self.client
                        .post(self.url(&["tokens", "generate"]))
                        .bearer_auth(&self.config.secret)
                        .json(&json!({ "user": { "id": self.user } })),
                )
                .await?;
            generated.token.ok_or(ErrorKind::Malformed { step: Step::Token })?
        };
        let started: Started = self
            .call(
                Step::Conversation,
                self.client
                    .post(self.url(&["conversations"]))
                    .bearer_auth(&token)
                    .json(&json!({})),
            )
            .await?;
        Ok(Session {
            conversation: started.conversation_id,
            token: started.token.unwrap_or(token),
            stream_url: started.stream_url,
        })
    }

    /// Sends `request` and parses a 2xx answer's JSON body.
    async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        step: Step,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ErrorKind> {
        let response = request.send().await.map_err(|_| ErrorKind::Transport { step })?;
        let status = response.status();
        if !status.is_success() {
            return Err(ErrorKind::Status {
                step,
                status: status.as_u16(),
            });
        }
        let body = response.bytes().await.map_err(|_| ErrorKind::Transport { step })?;
        serde_json::from_slice(&body).map_err(|_| ErrorKind::Malformed { step })
    }

    /// Sends the warm-up messages; false when the customer cannot go on (its stream closed).
    async fn warm_up(
        &self,
        session: &Session,
        events: &mut mpsc::UnboundedReceiver<Event>,
        outcome: &mut Outcome,
    ) -> bool {
        for i in 0..self.config.warmup {
            let text = outcome.ledger.warmup_text(i);
            if let Err(kind) = self.post(session, &text).await {
                outcome.error(kind);
                continue;
            }
            match self.await_reply(events, outcome, Verdict::Warmup(i)).await {
                Wait::Arrived(_) => {}
                Wait::TimedOut => outcome.error(ErrorKind::ReplyTimeout),
                Wait::Deadline => {
                    outcome.stopped_by_deadline = true;
                    return false;
                }
                Wait::Closed => return false,
            }
        }
        true
    }

    async fn measure(&self, session: &Session, events: &mut mpsc::UnboundedReceiver<Event>, outcome: &mut Outcome) {
        for i in 0..self.config.messages {
            if Instant::now() >= self.deadline {
                outcome.stopped_by_deadline = true;
                return;
            }
            let text = outcome.ledger.message_text(i);
            let posted_at = Instant::now();
            outcome.sent += 1;
            match self.post(session, &text).await {
                Ok(()) => {
                    outcome.accepted += 1;
                    outcome.ledger.mark_posted(i);
                }
                Err(kind) => {
                    // A 502 means the bot did not take it: no reply will come.
                    outcome.error(kind);
                    continue;
                }
            }
            match self.await_reply(events, outcome, Verdict::Message(i)).await {
                Wait::Arrived(at) => {
                    let micros = at.saturating_duration_since(posted_at).as_micros();
                    outcome
                        .latencies
                        .saturating_record(u64::try_from(micros).unwrap_or(u64::MAX).max(1));
                    outcome.finished = Some(at);
                }
                Wait::TimedOut => outcome.error(ErrorKind::ReplyTimeout),
                Wait::Deadline => {
                    outcome.ledger.mark_cut_off(i);
                    outcome.stopped_by_deadline = true;
                    return;
                }
                Wait::Closed => return,
            }
        }
    }

    /// Waits for the first reply to `expected`, counting every other reply on the way.
    async fn await_reply(
        &self,
        events: &mut mpsc::UnboundedReceiver<Event>,
        outcome: &mut Outcome,
        expected: Verdict,
    ) -> Wait {
        let until = (Instant::now() + self.config.reply_timeout).min(self.deadline);
        loop {
            match timeout_at(until, events.recv()).await {
                Err(_) if until >= self.deadline => return Wait::Deadline,
                Err(_) => return Wait::TimedOut,
                Ok(None | Some(Event::Closed)) => {
                    outcome.error(ErrorKind::StreamClosed);
                    return Wait::Closed;
                }
                Ok(Some(Event::Failed(kind))) => outcome.error(kind),
                Ok(Some(Event::Reply { text, at })) => {
                    if outcome.ledger.record(&text) == expected {
                        return Wait::Arrived(at);
                    }
                }
            }
        }
    }

    /// Counts whatever else arrives until `until`: a late reply is a duplicate or an answer to
    /// a message that timed out.
    async fn drain(&self, events: &mut mpsc::UnboundedReceiver<Event>, outcome: &mut Outcome, until: Instant) {
        while let Ok(Some(event)) = timeout_at(until, events.recv()).await {
            match event {
                Event::Reply { text, .. } => {
                    outcome.ledger.record(&text);
                }
                Event::Failed(kind) => outcome.error(kind),
                Event::Closed => return,
            }
        }
    }

    async fn post(&self, session: &Session, text: &str) -> Result<(), ErrorKind> {
        let step = Step::Post;
        let response = self
            .client
            .post(self.activities_url(&session.conversation))
            .bearer_auth(&session.token)
            .json(&json!({ "type": "message", "from": { "id": self.user }, "text": text }))
            .send()
            .await
            .map_err(|_| ErrorKind::Transport { step })?;
        let status = response.status();
        // Read the body so the connection goes back to the pool.
        let _ = response.bytes().await;
        if status.is_success() {
            Ok(())
        } else {
            Err(ErrorKind::Status {
                step,
                status: status.as_u16(),
            })
        }
    }

    fn activities_url(&self, conversation: &str) -> Url {
        self.url(&["conversations", conversation, "activities"])
    }

    /// `{hub}/v3/directline/{segments…}` (or `{directline}/{segments…}`), each segment encoded.
    fn url(&self, segments: &[&str]) -> Url {
        directline_url(&self.config.hub, self.config.directline.as_ref(), segments)
    }
}

fn directline_url(hub: &Url, directline: Option<&Url>, segments: &[&str]) -> Url {
    let mut url = directline.unwrap_or(hub).clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        if directline.is_none() {
            path.extend(["v3", "directline"]);
        }
        path.extend(segments);
    }
    url
}

fn stream_error(error: &tokio_tungstenite::tungstenite::Error) -> ErrorKind {
    use tokio_tungstenite::tungstenite::Error;
    match error {
        Error::Http(response) => ErrorKind::Status {
            step: Step::Stream,
            status: response.status().as_u16(),
        },
        Error::Url(_) => ErrorKind::Malformed { step: Step::Stream },
        _ => ErrorKind::Transport { step: Step::Stream },
    }
}

/// What the hub sends: `{activities, watermark}` on the stream and from a poll.
#[derive(Debug, Deserialize)]
struct ActivitySet {
    #[serde(default)]
    activities: Vec<Seen>,
    watermark: Option<Watermark>,
}

/// Direct Line's watermark is a string; offline-directline sends a JSON number. Either is sent
/// back as it came, in the next poll's query.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Watermark {
    Text(String),
    Number(u64),
}

impl Watermark {
    fn into_query(self) -> String {
        match self {
            Self::Text(text) => text,
            Self::Number(n) => n.to_string(),
        }
    }
}

/// The parts of an activity the customer reads.
#[derive(Debug, Deserialize)]
struct Seen {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
    from: Option<Account>,
}

#[derive(Debug, Deserialize)]
struct Account {
    id: String,
}

/// Hands `set`'s replies to the customer: messages starting with [`REPLY_PREFIX`] that the
/// customer did not send itself (the hub echoes the customer's own messages back). Returns
/// false when the customer has gone.
fn forward_replies(set: ActivitySet, user: &str, at: Instant, events: &mpsc::UnboundedSender<Event>) -> bool {
    for seen in set.activities {
        let own = seen.from.as_ref().is_some_and(|from| from.id == user);
        if seen.kind != "message" || own {
            continue;
        }
        if let Some(text) = seen.text.filter(|text| text.starts_with(REPLY_PREFIX))
            && events.send(Event::Reply { text, at }).is_err()
        {
            return false;
        }
    }
    true
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Reads the conversation's stream until `stop` (then closes it properly) or until it closes.
async fn read_stream(mut socket: Socket, user: String, events: mpsc::UnboundedSender<Event>, stop: CancellationToken) {
    loop {
        let frame = tokio::select! {
            () = stop.cancelled() => {
                let _ = socket.close(None).await;
                return;
            }
            frame = socket.next() => frame,
        };
        let at = Instant::now();
        match frame {
            Some(Ok(Message::Text(text))) => {
                // The hub's keep-alive is an empty frame.
                if text.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<ActivitySet>(text.as_str()) {
                    Ok(set) => {
                        if !forward_replies(set, &user, at, &events) {
                            return;
                        }
                    }
                    Err(_) => {
                        let _ = events.send(Event::Failed(ErrorKind::Malformed { step: Step::Stream }));
                    }
                }
            }
            Some(Ok(Message::Ping(payload))) => {
                let _ = socket.send(Message::Pong(payload)).await;
            }
            Some(Ok(Message::Close(_)) | Err(_)) | None => {
                let _ = events.send(Event::Closed);
                return;
            }
            Some(Ok(_)) => {}
        }
    }
}

/// Polls the conversation's activities, keeping the watermark, until `stop`.
#[derive(Debug)]
struct Poller {
    client: reqwest::Client,
    url: Url,
    token: String,
    user: String,
    interval: Duration,
}

impl Poller {
    async fn run(self, events: mpsc::UnboundedSender<Event>, stop: CancellationToken) {
        let step = Step::Poll;
        let mut watermark: Option<String> = None;
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let mut request = self.client.get(self.url.clone()).bearer_auth(&self.token);
            if let Some(w) = &watermark {
                request = request.query(&[("watermark", w)]);
            }
            let polled = tokio::select! {
                () = stop.cancelled() => return,
                polled = request.send() => polled,
            };
            let failure = match polled {
                Err(_) => Some(ErrorKind::Transport { step }),
                Ok(response) if response.status() != StatusCode::OK => Some(ErrorKind::Status {
                    step,
                    status: response.status().as_u16(),
                }),
                Ok(response) => match response.bytes().await {
                    Err(_) => Some(ErrorKind::Transport { step }),
                    Ok(body) => {
                        let at = Instant::now();
                        match serde_json::from_slice::<ActivitySet>(&body) {
                            Err(_) => Some(ErrorKind::Malformed { step }),
                            Ok(mut set) => {
                                if let Some(w) = set.watermark.take() {
                                    watermark = Some(w.into_query());
                                }
                                if !forward_replies(set, &self.user, at, &events) {
                                    return;
                                }
                                None
                            }
                        }
                    }
                },
            };
            if let Some(kind) = failure
                && events.send(Event::Failed(kind)).is_err()
            {
                return;
            }
        }
    }
}

fn summarize(
    config: &RunConfig,
    outcomes: &[Outcome],
    setup: Duration,
    measure_start: Instant,
    deadline: Instant,
) -> Report {
    let mut latencies = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds");
    let mut errors = BTreeMap::<String, u64>::new();
    let sum = |f: &dyn Fn(&Outcome) -> u64| outcomes.iter().map(f).sum::<u64>();
    for outcome in outcomes {
        // Same bounds on both sides, so adding cannot fail.
        let _ = latencies.add(&outcome.latencies);
        for (kind, n) in &outcome.errors {
            *errors.entry(kind.to_string()).or_default() += n;
        }
    }
    let stopped_by_deadline = outcomes.iter().any(|o| o.stopped_by_deadline) || outcomes.len() < config.customers;
    let end = if stopped_by_deadline {
        deadline
    } else {
        outcomes
            .iter()
            .filter_map(|o| o.finished)
            .max()
            .unwrap_or_else(Instant::now)
    };
    let duration = end.saturating_duration_since(measure_start).as_secs_f64();
    let round_trips = latencies.len();
    let ms = |micros: u64| micros as f64 / 1000.0;
    let latency_ms = (round_trips > 0).then(|| Latency {
        p50: ms(latencies.value_at_quantile(0.50)),
        p90: ms(latencies.value_at_quantile(0.90)),
        p99: ms(latencies.value_at_quantile(0.99)),
        max: ms(latencies.max()),
        mean: latencies.mean() / 1000.0,
    });
    let planned = (config.customers * config.messages) as u64;
    let duplicates = sum(&|o| o.ledger.duplicates());
    let missing = sum(&|o| o.ledger.missing());
    let out_of_order = sum(&|o| o.ledger.out_of_order());
    let unexpected = sum(&|o| o.ledger.unexpected());
    let verified = duplicates == 0 && missing == 0 && out_of_order == 0 && unexpected == 0;
    Report {
        hub: config.hub.to_string(),
        transport: config.transport.as_str(),
        poll_interval_ms: (config.transport == Transport::Polling)
            .then(|| u64::try_from(config.poll_interval.as_millis()).unwrap_or(u64::MAX)),
        customers: config.customers,
        customers_ready: outcomes.iter().filter(|o| o.ready).count(),
        messages_per_customer: config.messages,
        warmup_per_customer: config.warmup,
        setup_s: setup.as_secs_f64(),
        duration_s: duration,
        planned,
        sent: sum(&|o| o.sent),
        accepted: sum(&|o| o.accepted),
        round_trips,
        throughput_per_s: if duration > 0.0 {
            round_trips as f64 / duration
        } else {
            0.0
        },
        latency_ms,
        replied: sum(&|o| o.ledger.replied()),
        duplicates,
        missing,
        out_of_order,
        unexpected,
        cut_off: outcomes.iter().filter(|o| o.ledger.was_cut_off()).count() as u64,
        max_seconds: config.max_duration.as_secs_f64(),
        stopped_by_deadline,
        ok: verified && errors.is_empty() && round_trips == planned && !stopped_by_deadline,
        errors,
        verified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_line_urls_are_under_the_hub_with_or_without_a_trailing_slash() {
        for hub in ["http://hub.example", "http://hub.example/", "http://hub.example/base/"] {
            let hub = Url::parse(hub).unwrap();
            let url = directline_url(&hub, None, &["conversations", "a b/c", "activities"]);
            assert!(
                url.as_str()
                    .ends_with("/v3/directline/conversations/a%20b%2Fc/activities"),
                "{url}"
            );
            assert!(!url.as_str().contains("//v3"), "{url}");
        }
    }

    #[test]
    fn a_direct_line_url_given_replaces_the_hubs_v3_directline() {
        let hub = Url::parse("http://127.0.0.1:3000").unwrap();
        for directline in ["http://127.0.0.1:3000/directline", "http://127.0.0.1:3000/directline/"] {
            let directline = Url::parse(directline).unwrap();
            let url = directline_url(&hub, Some(&directline), &["conversations", "c1", "activities"]);
            assert_eq!(
                url.as_str(),
                "http://127.0.0.1:3000/directline/conversations/c1/activities"
            );
        }
    }

    #[test]
    fn a_watermark_is_read_as_a_string_or_as_a_number() {
        for (body, expected) in [
            (json!({"activities": [], "watermark": "12"}), Some("12")),
            (json!({"activities": [], "watermark": 12}), Some("12")),
            (json!({"activities": []}), None),
        ] {
            let set: ActivitySet = serde_json::from_value(body).unwrap();
            assert_eq!(set.watermark.map(Watermark::into_query).as_deref(), expected);
        }
    }

    #[test]
    fn only_messages_from_others_that_start_with_the_echo_prefix_are_replies() {
        let set: ActivitySet = serde_json::from_value(json!({
            "activities": [
                {"type": "message", "from": {"id": "bench-0"}, "text": "Echo: msg-0-0"},
                {"type": "message", "from": {"id": "DemoBot"}, "text": "Hi, I'm the assistant"},
                {"type": "typing", "from": {"id": "DemoBot"}},
                {"type": "message", "from": {"id": "DemoBot"}, "text": "Echo: msg-0-0"},
                {"type": "event", "name": "x", "from": {"id": "DemoBot"}, "text": "Echo: msg-0-1"}
            ],
            "watermark": "7"
        }))
        .unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        assert!(forward_replies(set, "bench-0", Instant::now(), &tx));
        drop(tx);
        let mut texts = Vec::new();
        while let Ok(Event::Reply { text, .. }) = rx.try_recv() {
            texts.push(text);
        }
        assert_eq!(texts, ["Echo: msg-0-0"]);
    }
}
