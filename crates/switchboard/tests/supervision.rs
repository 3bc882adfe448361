//! What supervisors see: the customer's sentiment as they write (scored in the hub, carried from
//! the bot's part into the agent's, kept across a restart, pushed live), and each
//! conversation's milestones (waits, transfers, handle time).

use std::time::Duration;

use botframework::omnichannel::escalate_activity;
use botframework::{Activity, ChannelAccount};
use domain::ConversationId;
use engine::BotCaller;
use futures::StreamExt;
use serde_json::{Value, json};
use switchboard::config;

mod common;
use common::people::Person;
use common::{ADMIN_TOKEN, RecordingBot, SAMPLE_BOT_ENDPOINT, TestHub};

/// A customer on Direct Line: starts a conversation. Returns its id and the customer's token.
async fn customer_starts(f: &TestHub, user: &str) -> (ConversationId, String) {
    let token = f.directline_token(user).await;
    let started: Value = reqwest::Client::new()
        .post(format!("{}/v3/directline/conversations", f.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = started["conversationId"].as_str().unwrap().to_owned();
    (ConversationId::parse(&id).unwrap(), token)
}

async fn customer_says(f: &TestHub, id: ConversationId, token: &str, text: &str) {
    let response = reqwest::Client::new()
        .post(format!("{}/v3/directline/conversations/{id}/activities", f.base))
        .bearer_auth(token)
        .json(&json!({"type": "message", "from": {"id": "casey"}, "text": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{text}");
}

async fn bot_escalates(f: &TestHub, id: ConversationId) {
    let mut activity = escalate_activity(
        "Customer is upset about a card fee".to_owned(),
        json!({"BotHandoffTopic": "CreditCard"}).as_object().unwrap().clone(),
    );
    activity.from = Some(serde_json::from_value::<ChannelAccount>(json!({"id": "DemoBot"})).unwrap());
    f.hub.accept_from_bot(id, BotCaller::Anonymous, activity).await.unwrap();
}

async fn bot_says(f: &TestHub, id: ConversationId, text: &str) {
    let mut activity = Activity::message(text);
    activity.from = Some(serde_json::from_value::<ChannelAccount>(json!({"id": "DemoBot"})).unwrap());
    f.hub.accept_from_bot(id, BotCaller::Anonymous, activity).await.unwrap();
}

/// The events socket of the admin token (sees everything).
async fn admin_events(
    f: &TestHub,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
        "{}/api/v1/events",
        f.base.replace("http://", "ws://")
    ))
    .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {ADMIN_TOKEN}").parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// The next frame of `type` on the socket (10 s at most).
async fn next_of(
    socket: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    kind: &str,
) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .unwrap_or_else(|_| panic!("a `{kind}` event within 10 s"))
            .unwrap()
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
            let event: Value = serde_json::from_str(&text).unwrap();
            if event["type"] == kind {
                return event;
            }
        }
    }
}

/// The mean of the scorer's own scores, rounded to four decimals as the hub stores them.
fn mean_score(texts: &[&str]) -> f64 {
    let sum: f64 = texts
        .iter()
        .map(|t| (sentiment::score(t) * 10_000.0).round() / 10_000.0)
        .sum();
    ((sum / texts.len() as f64) * 10_000.0).round() / 10_000.0
}

fn score_of(details: &Value) -> f64 {
    details["sentiment"]["score"].as_f64().unwrap()
}

#[tokio::test]
async fn the_customers_sentiment_is_scored_carried_to_the_agent_pushed_live_and_kept_across_a_restart() {
    let bot = RecordingBot::start().await;
    let text = config::SAMPLE.replace(SAMPLE_BOT_ENDPOINT, &bot.endpoint());
    let f = TestHub::new("supervision-sentiment", &text).await;
    let alice = Person::sign_in(&f, "alice").await;
    alice.presence("available").await;
    let mut events = admin_events(&f).await;

    let (id, token) = customer_starts(&f, "casey").await;
    let (_, details) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(
        details["sentiment"],
        json!({"score": 0.0, "level": "neutral"}),
        "it starts neutral"
    );

    let angry = "this is terrible, I want a human";
    customer_says(&f, id, &token, angry).await;
    let live = next_of(&mut events, "sentiment").await;
    assert_eq!(live["conversation_id"], json!(id));
    assert_eq!(live["sentiment"]["level"], "negative", "{live}");
    let (_, details) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(details["sentiment"], live["sentiment"]);
    assert_eq!(score_of(&details), mean_score(&[angry]));
    // What the bot says is not the customer's sentiment.
    bot_says(&f, id, "I am sorry, that sounds awful. Let me find someone.").await;
    bot_escalates(&f, id).await;
    alice.offered(id).await;
    let (status, accepted) = alice
        .post(&format!("/api/v1/conversations/{id}/accept"), json!({}))
        .await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(
        accepted["sentiment"], details["sentiment"],
        "the bot's part carries over"
    );

    let thanks = "thank you very much, that solved it";
    customer_says(&f, id, &token, thanks).await;
    let (_, details) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(score_of(&details), mean_score(&[angry, thanks]));
    assert!(sentiment::score(thanks) > 0.05, "thanks scores positive");

    // After a restart the window is rebuilt from the log: the next message counts with the two
    // before it.
    let dir = f.stop().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("sqlite://{}/hub.db", dir.display());
    let f = TestHub::on_database(listener, dir, &url, &text).await;
    let (_, details) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(
        score_of(&details),
        mean_score(&[angry, thanks]),
        "stored with the conversation"
    );
    let great = "great, really happy with the help";
    // The customer's token is still good on the restarted hub (same secret).
    customer_says(&f, id, &token, great).await;
    let (_, details) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(score_of(&details), mean_score(&[angry, thanks, great]));
    f.finish().await;
}
