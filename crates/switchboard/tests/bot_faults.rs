//! Bots that fail, all at once in one hub: one that is down, one that answers after 20 s, one
//! that answers 500 to everything and one that answers bytes that are not HTTP. Each customer of
//! a failing bot is told and reaches a person; no conversation stays with a failed bot; and the
//! customers of a healthy bot in the same hub go on being answered, exactly once and in order,
//! the whole time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use domain::ConversationId;
use serde_json::{Value, json};
use switchboard_bench::{RunConfig, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

mod common;
use common::TestHub;
use common::people::Person;

/// What the hub tells a customer whose bot failed.
const NOTICE: &str = engine::BOT_UNAVAILABLE_NOTICE;

/// The faults, by bot handle.
const FAULTY: [&str; 4] = ["DownBot", "SlowBot", "FailingBot", "GarbageBot"];

fn secret(bot: &str) -> String {
    format!("{}-directline-secret", bot.to_lowercase())
}

/// One Direct Line channel, workstream and bot-only queue per bot, all falling back to
/// `PeopleQueue`, where alice works.
fn config(endpoints: &[(&str, String)]) -> String {
    let mut text = String::from(
        r#"
[tenant]
name = "Faults"

[[agents]]
name = "alice"
display_name = "Alice Park"
capacity = 10
# The sample's demo password, "switchboard-demo".
password_hash = "$argon2id$v=19$m=19456,t=2,p=1$BGkAcpUWxwmo7+D02k/ppQ$hTq6OA/krMu3pzPsqEz7gloe7sMO/jnyPOLDvFxdkk4"

[[queues]]
name = "PeopleQueue"
members = ["alice"]
"#,
    );
    for (bot, endpoint) in endpoints {
        text.push_str(&format!(
            r#"
[[directline]]
name = "{bot}-site"
secret = "{secret}"
workstream = "{bot}Stream"

[[bots]]
name = "{bot}"
display_name = "{bot}"
app_id = ""
endpoint = "{endpoint}"

[[queues]]
name = "{bot}Queue"
members = ["{bot}"]

[[workstreams]]
name = "{bot}Stream"
channel = "chat"
mode = "push"
fallback_queue = "PeopleQueue"
capacity = 1

[workstreams.variables]
BotHandoffTopic = "text"

[[workstreams.rules]]
name = "ToTheBot"
condition = 'BotHandoffTopic does not contain data'
queue = "{bot}Queue"
"#,
            secret = secret(bot),
        ));
    }
    text
}

/// A free loopback port nobody listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A bot that takes every POST and answers 200 after `delay`, counting the POSTs.
async fn slow_bot(delay: Duration) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let posts = Arc::new(AtomicUsize::new(0));
    let counted = posts.clone();
    let app = axum::Router::new().route(
        "/api/messages",
        axum::routing::post(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                axum::http::StatusCode::OK
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://127.0.0.1:{port}/api/messages"), posts)
}

/// A "bot" that reads each request and answers with bytes that are not HTTP, then hangs up.
async fn garbage_bot() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(b"\x00\x17{not http at all}\xff\xfe\r\n\r\n").await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (format!("http://127.0.0.1:{port}/api/messages"), connections)
}

/// A customer of `bot`'s channel: gets a token, starts a conversation, says something, and
/// polls (30 s at most) until the hub's notice arrives. Returns the conversation, what the
/// message's POST was answered, and how long the notice took from the start.
async fn customer_of(f: &TestHub, bot: &str) -> (ConversationId, (u16, Value), Duration) {
    let started_at = Instant::now();
    let http = reqwest::Client::new();
    let token = f
        .directline_token_with(
            &secret(bot),
            json!({"user": {"id": format!("dl_{bot}_customer"), "name": "Casey"}}),
        )
        .await;
    let started: Value = http
        .post(format!("{}/v3/directline/conversations", f.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = started["conversationId"].as_str().unwrap().to_owned();
    let response = http
        .post(format!("{}/v3/directline/conversations/{id}/activities", f.base))
        .bearer_auth(&token)
        .json(&json!({"type": "message", "from": {"id": format!("dl_{bot}_customer")}, "text": "is anyone there?"}))
        .send()
        .await
        .unwrap();
    let posted = (response.status().as_u16(), response.json().await.unwrap_or(Value::Null));
    for _ in 0..300 {
        let body: Value = http
            .get(format!("{}/v3/directline/conversations/{id}/activities", f.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let told = body["activities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["text"] == NOTICE);
        if told {
            return (ConversationId::parse(&id).unwrap(), posted, started_at.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the customer of {bot} was never told anything");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_of_failing_bots_reach_a_person_while_a_healthy_bots_customers_are_answered() {
    let healthy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let healthy_endpoint = format!("http://{}/api/messages", healthy.local_addr().unwrap());
    let (stop_healthy, healthy_stopped) = tokio::sync::oneshot::channel::<()>();
    let healthy_bot = tokio::spawn(switchboard_bench::echo_bot::serve(healthy, async {
        let _ = healthy_stopped.await;
    }));
    let (slow_endpoint, slow_posts) = slow_bot(Duration::from_secs(20)).await;
    let failing = common::RecordingBot::start().await;
    failing.answer_with(500);
    let (garbage_endpoint, garbage_connections) = garbage_bot().await;
    let endpoints = [
        ("EchoBot", healthy_endpoint),
        ("DownBot", format!("http://127.0.0.1:{}/api/messages", closed_port())),
        ("SlowBot", slow_endpoint),
        ("FailingBot", failing.endpoint()),
        ("GarbageBot", garbage_endpoint),
    ];
    let f = Arc::new(TestHub::new("bot-faults", &config(&endpoints)).await);
    let alice = Person::sign_in(&f, "alice").await;
    alice.presence("available").await;

    let customers: Vec<_> = FAULTY
        .iter()
        .map(|bot| {
            let f = f.clone();
            tokio::spawn(async move { customer_of(&f, bot).await })
        })
        .collect();

    // The healthy bot's customers, in rounds for as long as the failing bots' customers wait.
    let hub_url = reqwest::Url::parse(&f.base).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut rounds = Vec::new();
    while rounds.is_empty() || (customers.iter().any(|c| !c.is_finished()) && Instant::now() < deadline) {
        let mut run = RunConfig::new(hub_url.clone(), secret("EchoBot"), 5, 20, Transport::Ws);
        run.max_duration = Duration::from_secs(30);
        run.reply_timeout = Duration::from_secs(5);
        let report = switchboard_bench::run(run).await.unwrap();
        assert!(report.ok, "a healthy bot's customers are served: {}", report.to_table());
        rounds.push(report);
        assert!(rounds.len() <= 200, "bounded");
    }
    let slowest = rounds
        .iter()
        .filter_map(|r| r.latency_ms.as_ref().map(|l| l.max))
        .fold(0.0, f64::max);
    let answered: u64 = rounds.iter().map(|r| r.round_trips).sum();
    eprintln!(
        "healthy bot meanwhile: {} rounds, {answered} round trips, slowest {slowest:.1} ms",
        rounds.len()
    );

    let mut outcomes = Vec::new();
    for (bot, customer) in FAULTY.iter().zip(customers) {
        let (id, posted, told_after) = customer.await.unwrap();
        eprintln!("{bot}: message answered {posted:?}; told after {told_after:?}");
        // The message was taken: people have it now, so the client has nothing to send again.
        assert_eq!(posted.0, 200, "{bot}: {posted:?}");
        assert!(posted.1["id"].is_string(), "{bot}: {posted:?}");
        alice.offered(id).await;
        let details = f.details_when(&id.to_string(), |d| d["state"] == "waiting").await;
        assert_eq!(details["queue"], "PeopleQueue", "{bot}");
        assert_eq!(details["routing"][1]["cause"], "bot_unavailable", "{bot}");
        assert_eq!(details["escalated_by"], json!([bot]), "{bot}");
        outcomes.push((bot, id, told_after));
    }
    // The slow bot was given its 15 s (the default `bot_timeout`) and no more.
    let (_, _, slow_told) = outcomes.iter().find(|(b, ..)| **b == "SlowBot").unwrap();
    assert!(
        *slow_told >= Duration::from_secs(14),
        "the slow bot was given its time: {slow_told:?}"
    );
    assert_eq!(slow_posts.load(Ordering::SeqCst), 1, "a timeout is not retried");
    assert_eq!(failing.activities().len(), 3, "a 500 is tried three times");
    assert_eq!(
        garbage_connections.load(Ordering::SeqCst),
        3,
        "garbage is tried three times"
    );

    // Alice takes them all and tells each customer something, which reaches them.
    for (bot, id, _) in &outcomes {
        let (status, body) = alice
            .post(&format!("/api/v1/conversations/{id}/accept"), json!({}))
            .await;
        assert_eq!(status, 200, "{bot}: {body}");
        let (status, body) = alice
            .post(
                &format!("/api/v1/conversations/{id}/messages"),
                json!({"text": format!("Hello, I'm taking over from {bot}.")}),
            )
            .await;
        assert!(status == 200 || status == 201, "{bot}: {status} {body}");
    }

    // No conversation is left with a failed bot.
    let (status, list) = f.get_json("/api/v1/conversations").await;
    assert_eq!(status, 200);
    for c in list["conversations"].as_array().unwrap() {
        let owner = c["owner"].to_string();
        assert!(
            !FAULTY.iter().any(|b| owner.contains(b)),
            "a conversation stayed with a failed bot: {c}"
        );
    }

    let _ = stop_healthy.send(());
    healthy_bot.await.unwrap().unwrap();
    Arc::into_inner(f).expect("no task holds the hub").finish().await;
}
