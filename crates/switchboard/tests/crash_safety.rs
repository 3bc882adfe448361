//! Crash safety (issue 6, item 4): Direct Line customers talk to the fast echo bot through the
//! real `switchboard` binary on SQLite; mid-run the hub is killed with SIGKILL, restarted on the
//! same port and database, and everything a client or the bot was told had succeeded is checked
//! against what the restarted hub serves:
//!
//! - every customer message whose POST got a 2xx is stored exactly once (by id), and nothing a
//!   customer did not send is — at most the one message whose answer the kill cut off;
//! - every activity a customer received before the kill is still there exactly once, in the
//!   order it was received, and every reply the bot's ReplyToActivity got a 2xx for is stored
//!   exactly once, answering the message it was sent for;
//! - the log's watermarks are 1..n with no gaps or repeats: read after each watermark `k` in
//!   0..=n, Direct Line gives exactly the activities after the one at `k` (and the operator
//!   transcript's sequence numbers agree);
//! - a customer reconnecting with its last watermark (polling and WebSocket) gets exactly what it
//!   had not seen, and its conversation resumes: a message posted after the restart is answered
//!   by the bot, under the next watermarks;
//! - the operator API still knows every conversation.
//!
//! The whole test is bounded (about 60 s at worst, usually a few seconds) and uses only
//! loopback.

#![cfg(unix)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use switchboard_bench::echo_bot::{self, Delivered};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep, timeout, timeout_at};
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");
/// The sample's Direct Line secret.
const SECRET: &str = "demo-directline-secret-change-me";
/// The sample's demo bot endpoint, pointed at the echo bot here.
const SAMPLE_BOT_ENDPOINT: &str = "/bots/demo/api/messages";
const ADMIN_TOKEN: &str = "crash-safety-admin-token";

const CUSTOMERS: usize = 10;
/// More messages per customer than fit before the kill, so that the kill is mid-run.
const MAX_MESSAGES: usize = 2_000;
/// How long the load runs before the hub is killed.
const KILL_AFTER: Duration = Duration::from_millis(1500);
const POLL_INTERVAL: Duration = Duration::from_millis(5);
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// The whole scenario, start to finish.
const TEST_TIMEOUT: Duration = Duration::from_secs(55);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_activities_survive_sigkill_and_conversations_resume() {
    let dir = TempDir::new();
    timeout(TEST_TIMEOUT, scenario(&dir.0))
        .await
        .unwrap_or_else(|_| panic!("the crash test took longer than {TEST_TIMEOUT:?}"));
}

async fn scenario(dir: &Path) {
    // 1. The echo bot in-process, the hub as a child process pointed at it.
    let bot_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bot_endpoint = format!("http://{}/api/messages", bot_listener.local_addr().unwrap());
    let (delivered_tx, mut delivered_rx) = mpsc::unbounded_channel();
    let (stop_bot, bot_stopped) = oneshot::channel::<()>();
    let bot = tokio::spawn(echo_bot::serve_reporting(
        bot_listener,
        async {
            let _ = bot_stopped.await;
        },
        delivered_tx,
    ));
    write_config(dir, &bot_endpoint);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut hub = HubProcess::start(dir, port, 1);
    let client = http_client();
    wait_ready(&mut hub, &client, &base).await;

    // 2. The customers start their conversations, then talk until the kill.
    let mut customers = Vec::new();
    for n in 0..CUSTOMERS {
        customers.push(Customer::start(&client, &base, n).await);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = customers
        .into_iter()
        .map(|c| tokio::spawn(c.run(client.clone(), base.clone(), stop.clone())))
        .collect();

    // 3. SIGKILL mid-run.
    sleep(KILL_AFTER).await;
    let killed_at = Instant::now();
    hub.kill();
    stop.store(true, Ordering::SeqCst);
    let mut customers = Vec::new();
    for task in load {
        let customer = timeout(REQUEST_TIMEOUT * 3, task)
            .await
            .expect("a customer did not stop after the kill")
            .expect("a customer task panicked");
        customers.push(customer);
    }
    drop(client);
    for c in &customers {
        assert!(
            c.stopped_at.is_some_and(|at| at >= killed_at),
            "customer {} stopped before the kill ({:?}): the hub failed under load",
            c.n,
            c.stopped_by
        );
        assert!(
            c.acked.len() < MAX_MESSAGES,
            "customer {} sent everything before the kill; raise MAX_MESSAGES",
            c.n
        );
    }
    // The hub is down: every reply the bot was told was taken, it was told before the kill.
    let mut delivered_before: Vec<Delivered> = Vec::new();
    while let Ok(d) = delivered_rx.try_recv() {
        delivered_before.push(d);
    }

    // 4. The same hub, port and database again.
    let mut hub = HubProcess::start(dir, port, 2);
    let client = http_client();
    wait_ready(&mut hub, &client, &base).await;

    // 5 and 6. Everything acknowledged is there exactly once; conversations resume.
    let started = Instant::now();
    let checks = customers.iter().map(|c| {
        let delivered: Vec<&Delivered> = delivered_before
            .iter()
            .filter(|d| d.conversation == c.conversation)
            .collect();
        verify(&client, &base, c, delivered)
    });
    let verified = futures::future::join_all(checks).await;
    let checked_in = started.elapsed();

    // The bot's replies after the restart were acknowledged too, and stored (checked above by
    // the customer); here: one per customer, for the message it posted after the restart.
    let mut delivered_after = Vec::new();
    while let Ok(d) = delivered_rx.try_recv() {
        delivered_after.push(d);
    }
    for (c, v) in customers.iter().zip(&verified) {
        let ours: Vec<_> = delivered_after
            .iter()
            .filter(|d| d.conversation == c.conversation)
            .collect();
        let resumed: Vec<_> = ours
            .iter()
            .filter(|d| d.reply_to.as_deref() == Some(v.resumed.as_str()))
            .collect();
        assert_eq!(
            resumed.len(),
            1,
            "customer {}: bot replies after the restart: {ours:?}",
            c.n
        );
        assert_eq!(
            resumed[0].id.as_deref(),
            Some(v.resume_reply.as_str()),
            "customer {}",
            c.n
        );
        // A reply acknowledged just before the kill but reported only now is stored all the same.
        for d in ours {
            assert!(
                d.id.as_ref().is_some_and(|id| v.stored.contains(id)),
                "customer {}: the bot's acknowledged reply {d:?} is lost",
                c.n
            );
        }
    }

    let acked: usize = customers.iter().map(|c| c.acked.len()).sum();
    let received: usize = customers.iter().map(|c| c.replies).sum();
    let cut_off = customers.iter().filter(|c| c.unanswered.is_some()).count();
    let stored_unacked: usize = verified.iter().map(|v| v.stored_unacknowledged).sum();
    let log: u64 = verified.iter().map(|v| v.watermark).sum();
    println!(
        "crash safety: {CUSTOMERS} customers; before the SIGKILL at {KILL_AFTER:?}: {acked} posts acknowledged, \
         {received} replies received, {} bot replies acknowledged; {cut_off} posts cut off by the kill, \
         {stored_unacked} of them stored; after the restart: {log} log entries checked watermark by watermark \
         in {checked_in:?}, {CUSTOMERS} conversations resumed",
        delivered_before.len()
    );

    drop(hub);
    let _ = stop_bot.send(());
    let _ = timeout(Duration::from_secs(5), bot).await;
}

/// What checking one conversation found.
#[derive(Debug)]
struct Verified {
    /// The log's last watermark before the customer resumed.
    watermark: u64,
    /// Customer messages stored whose POST got no 2xx (at most the one the kill cut off).
    stored_unacknowledged: usize,
    /// The id of the message posted after the restart, and of the bot's reply to it.
    resumed: String,
    resume_reply: String,
    /// The ids of every activity in the log at the end.
    stored: HashSet<String>,
}

/// Steps 5 and 6 for one customer.
async fn verify(client: &reqwest::Client, base: &str, c: &Customer, delivered: Vec<&Delivered>) -> Verified {
    let who = format!("customer {} ({})", c.n, c.conversation);
    let (log, n) = read_all(client, base, c, 0).await;
    let ids: Vec<&str> = log.iter().map(id).collect();

    // Each activity once.
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "{who}: an activity is stored twice: {ids:?}");
    assert!(ids.iter().all(|id| !id.is_empty()), "{who}: an activity without an id");
    let index: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();

    // Every acknowledged post is stored, as sent.
    for (posted, text) in &c.acked {
        let i = *index
            .get(posted.as_str())
            .unwrap_or_else(|| panic!("{who}: acknowledged message {posted} ({text}) is lost"));
        assert_eq!(log[i]["text"].as_str(), Some(text.as_str()), "{who}: {}", log[i]);
        assert_eq!(from(&log[i]), c.user, "{who}: {}", log[i]);
    }
    // Nothing the customer did not send, and nothing twice; at most the unanswered post besides.
    let acked_texts: HashSet<&str> = c.acked.iter().map(|(_, text)| text.as_str()).collect();
    let own: Vec<&Value> = log.iter().filter(|a| from(a) == c.user).collect();
    let mut texts = HashSet::new();
    let mut stored_unacknowledged = 0;
    for a in &own {
        let text = a["text"].as_str().unwrap_or_default();
        assert!(texts.insert(text), "{who}: message {text:?} stored twice");
        if !acked_texts.contains(text) {
            assert_eq!(Some(text), c.unanswered.as_deref(), "{who}: a message never sent: {a}");
            stored_unacknowledged += 1;
        }
    }
    // Every other activity is the bot's reply to one of them, at most one per message, after it.
    let mut answered = HashSet::new();
    for (i, a) in log.iter().enumerate().filter(|(_, a)| from(a) != c.user) {
        assert_eq!(a["type"], "message", "{who}: {a}");
        let to = a["replyToId"].as_str().unwrap_or_default();
        let asked = index
            .get(to)
            .filter(|j| from(&log[**j]) == c.user)
            .unwrap_or_else(|| panic!("{who}: an activity that answers none of the customer's: {a}"));
        assert!(*asked < i, "{who}: a reply stored before its message: {a}");
        let expected = format!("Echo: {}", log[*asked]["text"].as_str().unwrap_or_default());
        assert_eq!(a["text"].as_str(), Some(expected.as_str()), "{who}: {a}");
        assert!(answered.insert(to), "{who}: message {to} answered twice");
    }
    // Every reply the bot was told the hub took is stored, answering what it was sent for.
    for d in &delivered {
        let reply =
            d.id.as_deref()
                .unwrap_or_else(|| panic!("{who}: a reply taken without an id: {d:?}"));
        let i = *index
            .get(reply)
            .unwrap_or_else(|| panic!("{who}: the bot's acknowledged reply {reply} ({}) is lost", d.text));
        assert_eq!(log[i]["text"].as_str(), Some(d.text.as_str()), "{who}");
        assert_eq!(log[i]["replyToId"].as_str(), d.reply_to.as_deref(), "{who}");
    }
    // What the customer received before the kill is the start of the log, in order, once.
    let received: Vec<&str> = c.received.iter().map(|(a, _)| id(a)).collect();
    assert!(
        received.len() <= ids.len() && received == ids[..received.len()],
        "{who}: what the customer received before the kill is not the start of the stored log\n  received: {received:?}\n  stored: {ids:?}"
    );

    // Watermarks: reading after k gives exactly the activities after the one at k.
    let seqs = watermarks(client, base, c, &log, n, &who).await;
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "{who}: watermarks out of order: {seqs:?}"
    );
    let first_own = log.iter().position(|a| from(a) == c.user);
    if let Some(first) = first_own {
        // From the customer's first message on, every log entry is a message the customer sees:
        // its watermarks are consecutive and end at n.
        let tail = &seqs[first..];
        assert!(
            tail.windows(2).all(|w| w[1] == w[0] + 1) && tail.last() == Some(&n),
            "{who}: watermarks with gaps: {seqs:?} (last {n})"
        );
    }
    let transcript = read_transcript(client, base, &c.conversation).await;
    let by_id: HashMap<&str, u64> = transcript
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap_or_default(),
                t["seq"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(by_id.len(), transcript.len(), "{who}: the transcript repeats an id");
    for (a, seq) in log.iter().zip(&seqs) {
        assert_eq!(
            by_id.get(id(a)),
            Some(seq),
            "{who}: transcript and Direct Line disagree on {a}"
        );
    }
    // Each set the customer received held activities after the previous set's watermark, up to
    // its own (sets that brought something each moved the watermark on).
    let (mut previous, mut current) = (0, 0);
    for ((a, watermark), seq) in c.received.iter().zip(&seqs) {
        if *watermark != current {
            assert!(*watermark > current, "{who}: the watermark went back to {watermark}");
            (previous, current) = (current, *watermark);
        }
        assert!(
            previous < *seq && seq <= watermark,
            "{who}: {} (watermark {seq}) came in a set with watermark {watermark} after {previous}",
            id(a)
        );
    }

    // Reconnecting with the last watermark, polling: exactly what the customer had not seen.
    let (newer, same_n) = read_all(client, base, c, c.watermark).await;
    assert_eq!(same_n, n, "{who}");
    let unseen = &ids[received.len()..];
    assert_eq!(
        newer.iter().map(id).collect::<Vec<_>>(),
        unseen,
        "{who}: after watermark {}",
        c.watermark
    );

    // And over the WebSocket, which the conversation then resumes on.
    let stream_url = reconnect(client, base, c).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(stream_url.as_str()).await.unwrap();
    let mut streamed: Vec<Value> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while streamed.len() < unseen.len() {
        streamed.extend(next_frame(&mut socket, deadline, &who).await);
    }
    let text = format!("resume-{}", c.n);
    let resumed = post(client, base, c, &text)
        .await
        .unwrap_or_else(|e| panic!("{who}: posting after the restart: {e}"));
    let expected = format!("Echo: {text}");
    while !streamed.iter().any(|a| a["text"].as_str() == Some(expected.as_str())) {
        streamed.extend(next_frame(&mut socket, deadline, &who).await);
    }
    let _ = socket.close(None).await;
    let reply = streamed.last().unwrap();
    let mut want: Vec<&str> = unseen.to_vec();
    want.extend([resumed.as_str(), id(reply)]);
    assert_eq!(
        streamed.iter().map(id).collect::<Vec<_>>(),
        want,
        "{who}: the stream after watermark {}",
        c.watermark
    );
    assert_eq!(reply["replyToId"].as_str(), Some(resumed.as_str()), "{who}: {reply}");

    // The log goes on from n: the message and its reply, at n+1 and n+2.
    let (after, end) = read_all(client, base, c, n).await;
    assert_eq!(
        after.iter().map(id).collect::<Vec<_>>(),
        [resumed.as_str(), id(reply)],
        "{who}"
    );
    assert_eq!(end, n + 2, "{who}: the watermark after the restart");
    let transcript = read_transcript(client, base, &c.conversation).await;
    let resumed_seqs: Vec<u64> = transcript
        .iter()
        .filter(|t| [resumed.as_str(), id(reply)].contains(&t["id"].as_str().unwrap_or_default()))
        .map(|t| t["seq"].as_u64().unwrap_or_default())
        .collect();
    assert_eq!(resumed_seqs, [n + 1, n + 2], "{who}");

    // 6. The hub's own answer.
    let response = client
        .get(format!("{base}/api/v1/conversations/{}", c.conversation))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{who}");
    let conversation: Value = response.json().await.unwrap();
    assert_eq!(
        conversation["id"].as_str(),
        Some(c.conversation.as_str()),
        "{who}: {conversation}"
    );
    assert_eq!(conversation["state"], "active", "{who}: {conversation}");
    assert_eq!(
        conversation["owner"]["name"], "DemoBot",
        "{who}: the bot carries on: {conversation}"
    );

    let mut stored: HashSet<String> = ids.iter().map(|id| (*id).to_owned()).collect();
    stored.extend([resumed.clone(), id(reply).to_owned()]);
    Verified {
        watermark: n,
        stored_unacknowledged,
        resume_reply: id(reply).to_owned(),
        resumed,
        stored,
    }
}

/// The watermark of each activity of `log` (the whole customer-visible log, whose last
/// watermark is `n`), found by reading after every watermark 0..=n: after `k`, Direct Line must
/// give a suffix of `log`, one activity shorter than after `k - 1` exactly when the activity at
/// `k` is one the customer sees, and nothing after `n`.
async fn watermarks(client: &reqwest::Client, base: &str, c: &Customer, log: &[Value], n: u64, who: &str) -> Vec<u64> {
    let mut seqs = Vec::with_capacity(log.len());
    let mut left = log.len();
    for k in 1..=n {
        let (after, end) = read_until(client, base, c, k, Some(n)).await;
        assert_eq!(end, n, "{who}: the last watermark, read after {k}");
        let ids: Vec<&str> = after.iter().map(id).collect();
        let suffix: Vec<&str> = log[log.len().saturating_sub(ids.len())..].iter().map(id).collect();
        assert!(
            ids.len() <= left && ids == suffix,
            "{who}: after watermark {k}: {ids:?}, not the end of the log after {}",
            k - 1
        );
        match left - ids.len() {
            0 => {}
            1 => seqs.push(k),
            more => panic!("{who}: {more} activities at watermark {k}"),
        }
        left = ids.len();
    }
    assert_eq!(left, 0, "{who}: activities after the last watermark {n}");
    seqs
}

/// Everything Direct Line gives the customer after `watermark`, page by page, and the last
/// watermark.
async fn read_all(client: &reqwest::Client, base: &str, c: &Customer, watermark: u64) -> (Vec<Value>, u64) {
    read_until(client, base, c, watermark, None).await
}

/// [`read_all`], stopping at watermark `end` when it is known (one request fewer).
async fn read_until(
    client: &reqwest::Client,
    base: &str,
    c: &Customer,
    watermark: u64,
    end: Option<u64>,
) -> (Vec<Value>, u64) {
    let mut all = Vec::new();
    let mut at = watermark;
    loop {
        let (activities, next) = poll(client, base, c, Some(at))
            .await
            .unwrap_or_else(|e| panic!("customer {}: reading after watermark {at}: {e}", c.n));
        assert!(next >= at, "customer {}: watermark {next} after {at}", c.n);
        all.extend(activities);
        if next == at || Some(next) == end {
            return (all, next);
        }
        at = next;
    }
}

async fn read_transcript(client: &reqwest::Client, base: &str, conversation: &str) -> Vec<Value> {
    let response = client
        .get(format!("{base}/api/v1/conversations/{conversation}/transcript"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["activities"].as_array().cloned().unwrap_or_default()
}

/// `GET /v3/directline/conversations/{id}?watermark=W`: the stream URL to resume from `W`.
async fn reconnect(client: &reqwest::Client, base: &str, c: &Customer) -> String {
    let response = client
        .get(format!("{base}/v3/directline/conversations/{}", c.conversation))
        .query(&[("watermark", c.watermark.to_string())])
        .bearer_auth(&c.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "customer {}", c.n);
    let body: Value = response.json().await.unwrap();
    body["streamUrl"].as_str().unwrap().to_owned()
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next activity set on the stream (typing left out), before `deadline`.
async fn next_frame(socket: &mut Socket, deadline: Instant, who: &str) -> Vec<Value> {
    loop {
        let frame = timeout_at(deadline, socket.next())
            .await
            .unwrap_or_else(|_| panic!("{who}: the stream went quiet"));
        match frame {
            Some(Ok(Message::Text(text))) if !text.trim().is_empty() => {
                let set: Value = serde_json::from_str(text.as_str()).unwrap();
                return set["activities"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|a| a["type"] != "typing")
                    .cloned()
                    .collect();
            }
            Some(Ok(_)) => {}
            other => panic!("{who}: the stream closed: {other:?}"),
        }
    }
}

/// One Direct Line customer, and what it was told.
#[derive(Debug)]
struct Customer {
    n: usize,
    user: String,
    conversation: String,
    token: String,
    /// Posts answered 2xx: the id the hub gave and the text.
    acked: Vec<(String, String)>,
    /// The post that got no 2xx (the kill), if any: it may or may not be stored.
    unanswered: Option<String>,
    /// Every activity received, in order, with the watermark of the set it came in.
    received: Vec<(Value, u64)>,
    /// The last watermark received.
    watermark: u64,
    /// Bot replies received.
    replies: usize,
    stopped_at: Option<Instant>,
    stopped_by: Option<String>,
}

impl Customer {
    /// A token from the channel's secret, then the conversation.
    async fn start(client: &reqwest::Client, base: &str, n: usize) -> Self {
        let user = format!("dl_crash-{n}");
        let response = client
            .post(format!("{base}/v3/directline/tokens/generate"))
            .bearer_auth(SECRET)
            .json(&json!({ "user": { "id": user } }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let generated: Value = response.json().await.unwrap();
        let response = client
            .post(format!("{base}/v3/directline/conversations"))
            .bearer_auth(generated["token"].as_str().unwrap())
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let started: Value = response.json().await.unwrap();
        Self {
            n,
            user,
            conversation: started["conversationId"].as_str().unwrap().to_owned(),
            token: started["token"].as_str().unwrap().to_owned(),
            acked: Vec::new(),
            unanswered: None,
            received: Vec::new(),
            watermark: 0,
            replies: 0,
            stopped_at: None,
            stopped_by: None,
        }
    }

    /// Posts messages one after another, each once the previous one's reply arrived, until a
    /// request fails (the kill) or `stop`; bounded by [`MAX_MESSAGES`] and [`REPLY_TIMEOUT`].
    async fn run(mut self, client: reqwest::Client, base: String, stop: Arc<AtomicBool>) -> Self {
        let why = self.talk(&client, &base, &stop).await;
        self.stopped_at = Some(Instant::now());
        self.stopped_by = Some(why);
        self
    }

    async fn talk(&mut self, client: &reqwest::Client, base: &str, stop: &AtomicBool) -> String {
        for i in 0..MAX_MESSAGES {
            if stop.load(Ordering::SeqCst) {
                return "stopped".to_owned();
            }
            let text = format!("crash-{}-{i}", self.n);
            match post(client, base, self, &text).await {
                Ok(id) => self.acked.push((id, text.clone())),
                Err(e) => {
                    self.unanswered = Some(text);
                    return format!("post: {e}");
                }
            }
            let expected = format!("Echo: {text}");
            let until = Instant::now() + REPLY_TIMEOUT;
            loop {
                let (activities, watermark) = match poll(client, base, self, Some(self.watermark)).await {
                    Ok(set) => set,
                    Err(e) => return format!("poll: {e}"),
                };
                let mut answered = false;
                for a in activities {
                    if from(&a) != self.user {
                        self.replies += 1;
                        answered |= a["text"].as_str() == Some(expected.as_str());
                    }
                    self.received.push((a, watermark));
                }
                self.watermark = watermark;
                if answered {
                    break;
                }
                if stop.load(Ordering::SeqCst) {
                    return "stopped while waiting for a reply".to_owned();
                }
                if Instant::now() >= until {
                    return format!("no reply to {text} within {REPLY_TIMEOUT:?}");
                }
                sleep(POLL_INTERVAL).await;
            }
        }
        "sent everything".to_owned()
    }
}

/// Posts a message; the id the hub gave it, or why there was no 2xx.
async fn post(client: &reqwest::Client, base: &str, c: &Customer, text: &str) -> Result<String, String> {
    let response = client
        .post(format!(
            "{base}/v3/directline/conversations/{}/activities",
            c.conversation
        ))
        .bearer_auth(&c.token)
        .json(&json!({ "type": "message", "from": { "id": c.user }, "text": text }))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
    }
    let answer: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    answer["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no id in {answer}"))
}

/// `GET .../activities?watermark=W`: the activities and the watermark to go on from.
async fn poll(
    client: &reqwest::Client,
    base: &str,
    c: &Customer,
    watermark: Option<u64>,
) -> Result<(Vec<Value>, u64), String> {
    let mut request = client
        .get(format!(
            "{base}/v3/directline/conversations/{}/activities",
            c.conversation
        ))
        .bearer_auth(&c.token);
    if let Some(w) = watermark {
        request = request.query(&[("watermark", w.to_string())]);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
    }
    let mut set: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    let watermark = set["watermark"]
        .as_str()
        .and_then(|w| w.parse::<u64>().ok())
        .ok_or_else(|| format!("no watermark in {set}"))?;
    let activities = match set["activities"].take() {
        Value::Array(activities) => activities,
        other => return Err(format!("no activities: {other}")),
    };
    Ok((activities, watermark))
}

fn id(a: &Value) -> &str {
    a["id"].as_str().unwrap_or_default()
}

fn from(a: &Value) -> &str {
    a["from"]["id"].as_str().unwrap_or_default()
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build().unwrap()
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The sample configuration with its bot at `bot_endpoint`, the built-in bots off and no rate
/// limit on customers.
fn write_config(dir: &Path, bot_endpoint: &str) {
    let sample = std::fs::read_to_string(format!("{}/../../config/sample.toml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    assert!(sample.contains(SAMPLE_BOT_ENDPOINT), "the sample's bot endpoint moved");
    let text: String = sample
        .replace(SAMPLE_BOT_ENDPOINT, bot_endpoint)
        // Nothing listens on the discard port: the survey and knowledge bots stay out of it.
        .replace("\"/bots/survey/api/messages\"", "\"http://127.0.0.1:9/api/messages\"")
        .replace(
            "\"/bots/knowledge/api/messages\"",
            "\"http://127.0.0.1:9/api/messages\"",
        )
        .replace("sip = \"127.0.0.1:5060\"", "sip = \"127.0.0.1:0\"")
        .lines()
        .filter(|line| !line.trim_start().starts_with("builtin = "))
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(!text.contains("builtin"), "a built-in bot line is still there");
    // The load tool's customers send far faster than people; the limit is not what is tested.
    let text = format!(
        "{text}\n[limits]\ncustomer_activities_per_second = 0\ntoken_requests_per_minute = 0\nsecret_requests_per_minute = 0\n"
    );
    std::fs::write(dir.join("hub.toml"), text).unwrap();
}

/// Waits until the hub answers `/readyz` with 200.
async fn wait_ready(hub: &mut HubProcess, client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = hub.child.try_wait().unwrap() {
            panic!("the hub exited at start ({status}):\n{}", hub.log());
        }
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await
            && response.status() == 200
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the hub was not ready in time:\n{}",
            hub.log()
        );
        sleep(Duration::from_millis(25)).await;
    }
}

/// The hub as a child process, killed when dropped (whatever path the test takes).
#[derive(Debug)]
struct HubProcess {
    child: Child,
    log: PathBuf,
}

impl HubProcess {
    /// `switchboard serve` on `port`, over `dir`'s configuration and database; its log goes to
    /// `dir/hub-{run}.log`.
    fn start(dir: &Path, port: u16, run: u32) -> Self {
        let log = dir.join(format!("hub-{run}.log"));
        let child = Command::new(BIN)
            .args([
                "serve",
                "--config",
                dir.join("hub.toml").to_str().unwrap(),
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                &format!("sqlite://{}/hub.db", dir.display()),
            ])
            .current_dir(dir)
            .env("SWITCHBOARD_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Self { child, log }
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reaps the process.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The end of the hub's log.
    fn log(&self) -> String {
        tail(&self.log)
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A directory of the test's own, removed at the end; the hubs' logs are printed first when the
/// test failed.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("switchboard-crash-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for run in 1..=2 {
                let log = self.0.join(format!("hub-{run}.log"));
                if log.exists() {
                    eprintln!("--- hub run {run}, the end of its log ---\n{}", tail(&log));
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
