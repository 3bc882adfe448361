//! A customer on Direct Line, the sample's bot acting through the hub, and the live events socket,
//! as the supervision tests drive them.

use std::time::Duration;

use botframework::omnichannel::escalate_activity;
use botframework::{Activity, ChannelAccount};
use domain::ConversationId;
use engine::BotCaller;
use futures::StreamExt;
use serde_json::{Value, json};

use super::TestHub;

/// The live events socket.
pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Starts a Direct Line conversation as `user` (the sample's bot gets it). Returns its id and the
/// customer's token.
pub async fn start(f: &TestHub, user: &str) -> (ConversationId, String) {
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

/// The customer says `text`.
pub async fn say(f: &TestHub, id: ConversationId, token: &str, text: &str) {
    let response = reqwest::Client::new()
        .post(format!("{}/v3/directline/conversations/{id}/activities", f.base))
        .bearer_auth(token)
        .json(&json!({"type": "message", "text": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{text}");
}

/// What the customer's client gets (Direct Line polling).
pub async fn sees(f: &TestHub, id: ConversationId, token: &str) -> Vec<Value> {
    let body: Value = reqwest::Client::new()
        .get(format!("{}/v3/directline/conversations/{id}/activities", f.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["activities"].as_array().unwrap().clone()
}

/// The sample's bot (`DemoBot`) sends `activity`.
pub async fn from_bot(f: &TestHub, id: ConversationId, mut activity: Activity) {
    activity.from = Some(serde_json::from_value::<ChannelAccount>(json!({"id": "DemoBot"})).unwrap());
    f.hub.accept_from_bot(id, BotCaller::Anonymous, activity).await.unwrap();
}

/// The sample's bot escalates with `BotHandoffTopic = topic` and `summary` for the agent.
pub async fn bot_escalates(f: &TestHub, id: ConversationId, topic: &str, summary: &str) {
    let activity = escalate_activity(
        summary.to_owned(),
        json!({"BotHandoffTopic": topic}).as_object().unwrap().clone(),
    );
    from_bot(f, id, activity).await;
}

/// The events socket of `token` (a session, or the admin token).
pub async fn events(f: &TestHub, token: &str) -> Socket {
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
        "{}/api/v1/events",
        f.base.replace("http://", "ws://")
    ))
    .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// The next frame on the socket for which `pred` holds (10 s at most).
pub async fn next_where(socket: &mut Socket, pred: impl Fn(&Value) -> bool) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("the expected event within 10 s")
            .unwrap()
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
            let event: Value = serde_json::from_str(&text).unwrap();
            if pred(&event) {
                return event;
            }
        }
    }
}
