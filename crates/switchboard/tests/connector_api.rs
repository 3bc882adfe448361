//! The Connector API on a real server (port 0), called as an anonymous bot would: 200 with the
//! activity's id on success, and a Connector error body with a clear status for every refusal.

use std::sync::Arc;

use domain::conversation::Customer;
use domain::{ConversationId, Seq};
use engine::Hub;
use serde_json::{Value, json};

mod common;
use common::TestHub;

struct Server {
    base: String,
    hub: Arc<Hub>,
    test_hub: TestHub,
}

async fn start() -> Server {
    let test_hub = TestHub::sample("connector").await;
    let base = test_hub.base.clone();
    let hub = test_hub.hub.clone();
    Server { base, hub, test_hub }
}

impl Server {
    async fn conversation_with_bot(&self) -> ConversationId {
        self.hub
            .open_conversation("ChatWorkStream", Customer::default(), Default::default())
            .await
            .unwrap()
            .conversation
            .id
    }

    async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// What bots stored in the conversation (the hub's own log of the bot joining left out).
    async fn stored_by_bots(&self, id: ConversationId) -> Vec<domain::activity::StoredActivity> {
        let log = self.hub.store().activities_after(id, Seq::ZERO, 100).await.unwrap();
        log.into_iter()
            .filter(|a| a.activity.sender_role != domain::activity::SenderRole::System)
            .collect()
    }

    async fn stored(&self, id: ConversationId) -> usize {
        self.stored_by_bots(id).await.len()
    }

    async fn finish(self) {
        self.test_hub.finish().await;
    }
}

fn bot_message(text: &str) -> String {
    json!({
        "type": "message", "text": text, "channelId": "directline",
        "from": {"id": "DemoBot", "name": "Contoso Assistant"}, "recipient": {"id": "customer"},
        "conversation": {"id": "x"}, "replyToId": "a1", "inputHint": "acceptingInput"
    })
    .to_string()
}

#[tokio::test]
async fn a_bot_reply_is_accepted_with_the_id_the_hub_gives_it() {
    let s = start().await;
    let id = s.conversation_with_bot().await;
    let (status, body) = s
        .post(
            &format!("/v3/conversations/{id}/activities/a1"),
            bot_message("Echo: hi"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let given = body["id"].as_str().unwrap();
    let (status, _) = s
        .post(
            &format!("/v3/conversations/{id}/activities"),
            bot_message("Anything else?"),
        )
        .await;
    assert_eq!(status, 200);
    let log = s.stored_by_bots(id).await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].activity.id, given);
    s.finish().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_connector_error_and_nothing_is_stored() {
    let s = start().await;
    let id = s.conversation_with_bot().await;
    let path = format!("/v3/conversations/{id}/activities");
    let unknown = format!(
        "/v3/conversations/{}/activities",
        ConversationId(uuid::Uuid::from_u128(7))
    );
    let escalate_unknown_var = json!({
        "type": "message", "text": "summary", "from": {"id": "DemoBot"},
        "channelData": {"tags": "{\"type\":\"Escalate\",\"context\":{\"Topic\":\"CreditCard\"}}"}
    })
    .to_string();
    let auth_card = json!({
        "type": "message", "from": {"id": "DemoBot"},
        "attachments": [{"contentType": "application/vnd.microsoft.card.signin", "content": {"text": "Sign in", "buttons": []}}]
    })
    .to_string();
    let foreign_bot = bot_message("hi").replace("\"DemoBot\"", "\"alice\"");
    let cases: Vec<(&str, String, String, u16, &str)> = vec![
        ("malformed JSON", path.clone(), "{not json".into(), 400, "BadSyntax"),
        (
            "no type",
            path.clone(),
            json!({"text": "x"}).to_string(),
            400,
            "BadSyntax",
        ),
        (
            "unknown conversation",
            unknown,
            bot_message("x"),
            404,
            "ConversationNotFound",
        ),
        (
            "not a conversation id",
            "/v3/conversations/nope/activities".into(),
            bot_message("x"),
            404,
            "ConversationNotFound",
        ),
        ("a user that is not a bot", path.clone(), foreign_bot, 403, "Forbidden"),
        (
            "escalation with an unknown variable",
            path.clone(),
            escalate_unknown_var,
            400,
            "BadArgument",
        ),
        ("an authentication card", path.clone(), auth_card, 400, "BadArgument"),
        (
            "29 KB of text",
            path.clone(),
            bot_message(&"x".repeat(29 * 1024)),
            413,
            "MessageSizeTooBig",
        ),
    ];
    for (what, path, body, status, code) in cases {
        let (got, body) = s.post(&path, body).await;
        assert_eq!(got, status, "{what}: {body}");
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        assert!(
            !body["error"]["message"].as_str().unwrap_or_default().is_empty(),
            "{what}: {body}"
        );
    }
    assert_eq!(s.stored(id).await, 0);
    s.finish().await;
}

#[tokio::test]
async fn a_call_with_a_bearer_token_is_refused_until_signed_bots_are_supported() {
    let s = start().await;
    let id = s.conversation_with_bot().await;
    let r = reqwest::Client::new()
        .post(format!("{}/v3/conversations/{id}/activities", s.base))
        .header("authorization", "Bearer abc")
        .header("content-type", "application/json")
        .body(bot_message("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Unauthorized");
    assert_eq!(s.stored(id).await, 0);
    s.finish().await;
}
