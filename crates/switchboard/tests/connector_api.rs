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
    serve(TestHub::sample("connector").await)
}

/// The sample with `security` as its `[security]` section, its demo bot a silent recording bot.
async fn start_with_security(security: &str) -> Server {
    let bot = common::RecordingBot::start().await;
    let text = switchboard::config::SAMPLE.replace(common::SAMPLE_BOT_ENDPOINT, &bot.endpoint());
    serve(TestHub::new("connector-networks", &format!("{text}\n[security]\n{security}\n")).await)
}

fn serve(test_hub: TestHub) -> Server {
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
        self.post_forwarded_for(path, body, None).await
    }

    /// POST `body` with `X-Forwarded-For: forwarded_for` when given, as a proxy would.
    async fn post_forwarded_for(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
        forwarded_for: Option<&str>,
    ) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(client) = forwarded_for {
            request = request.header("x-forwarded-for", client);
        }
        let r = request.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// `method path` without credentials; the status and the body as JSON (or null).
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = reqwest::Client::new().request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await.unwrap();
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

/// The anonymous-caller refusal: 401 with the Connector error shape, saying what to do.
fn assert_refused_as_anonymous(what: &str, status: u16, body: &Value) {
    assert_eq!(status, 401, "{what}: {body}");
    assert_eq!(body["error"]["code"], "Unauthorized", "{what}: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("app id") && message.contains("anonymous_bot_networks"),
        "{what}: the message says to configure an app id or add the network: {message}"
    );
}

#[tokio::test]
async fn an_anonymous_call_from_outside_the_anonymous_bot_networks_is_refused_on_every_bot_route() {
    let s = start_with_security(r#"anonymous_bot_networks = ["10.9.9.0/24"]"#).await;
    let id = s.conversation_with_bot().await;
    let (status, body) = s
        .post(&format!("/v3/conversations/{id}/activities"), bot_message("hi"))
        .await;
    assert_refused_as_anonymous("SendToConversation from loopback", status, &body);

    use reqwest::Method;
    let activity = json!({"type": "message", "text": "x", "from": {"id": "DemoBot"}});
    let upload = json!({"type": "text/plain", "originalBase64": "aGk="});
    let routes = [
        (
            Method::POST,
            format!("/v3/conversations/{id}/activities/a1"),
            Some(activity.clone()),
        ),
        (
            Method::PUT,
            format!("/v3/conversations/{id}/activities/a1"),
            Some(activity),
        ),
        (Method::DELETE, format!("/v3/conversations/{id}/activities/a1"), None),
        (Method::GET, format!("/v3/conversations/{id}/members"), None),
        (Method::GET, format!("/v3/conversations/{id}/members/DemoBot"), None),
        (Method::GET, format!("/v3/conversations/{id}/pagedmembers"), None),
        (
            Method::GET,
            format!("/v3/conversations/{id}/activities/a1/members"),
            None,
        ),
        (
            Method::POST,
            format!("/v3/conversations/{id}/attachments"),
            Some(upload),
        ),
        (Method::POST, "/v3/conversations".to_owned(), Some(json!({}))),
        (Method::GET, "/v3/conversations".to_owned(), None),
        (
            Method::POST,
            format!("/v3/conversations/{id}/activities/history"),
            Some(json!({})),
        ),
        (Method::DELETE, format!("/v3/conversations/{id}/members/DemoBot"), None),
    ];
    for (method, path, body) in routes {
        let what = format!("{method} {path}");
        let (status, body) = s.call(method, &path, body).await;
        assert_refused_as_anonymous(&what, status, &body);
    }
    assert_eq!(s.stored(id).await, 0, "nothing was stored");
    s.finish().await;
}

#[tokio::test]
async fn attachments_are_still_read_from_anywhere_by_id_alone() {
    let s = start_with_security(r#"anonymous_bot_networks = ["10.9.9.0/24"]"#).await;
    let id = s.conversation_with_bot().await;
    let data: botframework::connector::AttachmentData =
        serde_json::from_value(json!({"type": "text/plain", "name": "note.txt", "originalBase64": "aGk="})).unwrap();
    let attachment = s
        .hub
        .upload_attachment(id, engine::BotCaller::Anonymous, data)
        .await
        .unwrap();
    let (status, info) = s
        .call(reqwest::Method::GET, &format!("/v3/attachments/{attachment}"), None)
        .await;
    assert_eq!((status, &info["name"]), (200, &json!("note.txt")), "{info}");
    let view = reqwest::get(format!("{}/v3/attachments/{attachment}/views/original", s.base))
        .await
        .unwrap();
    assert_eq!(view.status(), 200, "a browser fetching the contentUrl gets the bytes");
    assert_eq!(view.text().await.unwrap(), "hi");
    s.finish().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_must_be_in_the_anonymous_bot_networks() {
    let s = start_with_security(
        r#"trusted_proxies = ["127.0.0.1"]
anonymous_bot_networks = ["10.9.9.0/24"]"#,
    )
    .await;
    let id = s.conversation_with_bot().await;
    let path = format!("/v3/conversations/{id}/activities");
    let (status, body) = s
        .post_forwarded_for(&path, bot_message("from outside"), Some("203.0.113.5"))
        .await;
    assert_refused_as_anonymous("forwarded for 203.0.113.5", status, &body);
    let (status, body) = s
        .post_forwarded_for(&path, bot_message("from the bots' network"), Some("10.9.9.7"))
        .await;
    assert_eq!(status, 200, "forwarded for 10.9.9.7: {body}");
    assert_eq!(s.stored(id).await, 1);
    s.finish().await;
}

#[tokio::test]
async fn forwarded_for_from_a_peer_that_is_not_a_trusted_proxy_is_ignored() {
    // Loopback may call anonymously (the default); a forged header does not change who it is.
    let s = start().await;
    let id = s.conversation_with_bot().await;
    let path = format!("/v3/conversations/{id}/activities");
    let (status, body) = s
        .post_forwarded_for(&path, bot_message("hi"), Some("203.0.113.5"))
        .await;
    assert_eq!(status, 200, "{body}");
    s.finish().await;

    // Nor can a caller outside the networks claim to be inside them.
    let s = start_with_security(r#"anonymous_bot_networks = ["10.9.9.0/24"]"#).await;
    let id = s.conversation_with_bot().await;
    let (status, body) = s
        .post_forwarded_for(
            &format!("/v3/conversations/{id}/activities"),
            bot_message("hi"),
            Some("10.9.9.7"),
        )
        .await;
    assert_refused_as_anonymous("a forged X-Forwarded-For", status, &body);
    s.finish().await;
}
