//! The Connector API operations beyond sending, on a real server (port 0), called as an
//! anonymous bot would: UpdateActivity, DeleteActivity, the member queries, UploadAttachment and
//! the attachment reads, and the operations the hub refuses — each with its success and its
//! refusals, every refusal a Connector error body.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use botframework::Activity;
use domain::activity::{SenderRole, StoredActivity, Visibility};
use domain::conversation::Customer;
use domain::{ConversationId, Seq};
use engine::{BotCaller, EngineError, Hub};
use reqwest::Method;
use serde_json::{Value, json};

mod common;
use common::{SAMPLE_BOT_ENDPOINT, TestHub};

/// A second anonymous bot, in no queue: it is configured, but never in the test conversations.
const OTHER_BOT: &str = r#"
[[bots]]
name = "OtherBot"
display_name = "Other Bot"
app_id = ""
endpoint = "http://127.0.0.1:9/api/messages"

# ---- people"#;

struct Server {
    test_hub: TestHub,
}

async fn start() -> Server {
    let bot = common::RecordingBot::start().await;
    let text = switchboard::config::SAMPLE
        .replace(SAMPLE_BOT_ENDPOINT, &bot.endpoint())
        .replacen("\n# ---- people", OTHER_BOT, 1);
    let mut test_hub = TestHub::new("connector-ops", &text).await;
    test_hub.bot = Some(bot);
    Server { test_hub }
}

/// A response: status, headers and body bytes.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    bytes: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }

    /// Asserts a Connector error with this status and code and a message, and returns the message.
    fn refused(&self, status: u16, code: &str, what: &str) -> String {
        let body = self.json();
        assert_eq!(self.status, status, "{what}: {body}");
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default().to_owned();
        assert!(!message.is_empty(), "{what}: {body}");
        message
    }
}

impl Server {
    fn hub(&self) -> &Arc<Hub> {
        &self.test_hub.hub
    }

    /// A new conversation, which the sample's rules give to DemoBot.
    async fn conversation_with_bot(&self) -> ConversationId {
        self.hub()
            .open_conversation("ChatWorkStream", Customer::default(), Default::default())
            .await
            .unwrap()
            .conversation
            .id
    }

    async fn call(&self, method: Method, path: &str, body: Option<String>) -> Answer {
        self.call_with(method, path, body, None).await
    }

    async fn call_with(&self, method: Method, path: &str, body: Option<String>, token: Option<&str>) -> Answer {
        let mut request = reqwest::Client::new().request(method, format!("{}{path}", self.test_hub.base));
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            bytes: response.bytes().await.unwrap().to_vec(),
        }
    }

    /// Sends `text` as DemoBot; returns the id the hub gave it.
    async fn bot_says(&self, id: ConversationId, text: &str) -> String {
        let answer = self
            .call(
                Method::POST,
                &format!("/v3/conversations/{id}/activities"),
                Some(bot_message(text)),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.json());
        answer.json()["id"].as_str().unwrap().to_owned()
    }

    /// DemoBot escalates to the credit-card agents, leaving the conversation.
    async fn bot_escalates(&self, id: ConversationId) {
        let escalate = json!({
            "type": "message", "text": "Customer asks about a card", "from": {"id": "DemoBot"},
            "channelData": {"tags": "{\"type\":\"Escalate\",\"context\":{\"BotHandoffTopic\":\"CreditCard\"}}"}
        });
        let answer = self
            .call(
                Method::POST,
                &format!("/v3/conversations/{id}/activities"),
                Some(escalate.to_string()),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.json());
    }

    async fn log(&self, id: ConversationId) -> Vec<StoredActivity> {
        self.hub().store().activities_after(id, Seq::ZERO, 100).await.unwrap()
    }

    async fn finish(self) {
        self.test_hub.finish().await;
    }
}

fn bot_message(text: &str) -> String {
    json!({
        "type": "message", "text": text, "channelId": "directline",
        "from": {"id": "DemoBot", "name": "Contoso Assistant"}, "recipient": {"id": "customer"},
        "conversation": {"id": "x"}, "inputHint": "acceptingInput"
    })
    .to_string()
}

fn body_of(stored: &StoredActivity) -> Value {
    serde_json::from_str(&stored.activity.body).unwrap()
}

fn unknown_conversation() -> ConversationId {
    ConversationId(uuid::Uuid::from_u128(7))
}

// ---------------------------------------------------------------------------------------------
// UpdateActivity

#[tokio::test]
async fn an_update_is_appended_under_the_original_activity_id_and_keeps_its_place() {
    let s = start().await;
    let id = s.conversation_with_bot().await;
    let original = s.bot_says(id, "Your balance is $10").await;
    let mut watcher = s.hub().watch(id);

    let answer = s
        .call(
            Method::PUT,
            &format!("/v3/conversations/{id}/activities/{original}"),
            Some(bot_message("Your balance is $12")),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.json());
    assert_eq!(answer.json(), json!({ "id": original }));

    let log = s.log(id).await;
    let first = log.iter().find(|a| a.activity.id == original).unwrap();
    let update = log.last().unwrap();
    assert!(update.seq > first.seq, "the log is only appended to");
    assert!(
        update.activity.id.starts_with(&format!("{original}~")),
        "a log id of its own: {}",
        update.activity.id
    );
    assert_eq!(
        (update.activity.sender_role, update.activity.sender_id.as_str()),
        (SenderRole::Bot, "DemoBot")
    );
    assert_eq!(update.activity.visibility, Visibility::Everyone);
    let (before, after) = (body_of(first), body_of(update));
    assert_eq!(after["id"], original, "clients replace the activity with this id");
    assert_eq!(after["text"], "Your balance is $12");
    assert_eq!(after["timestamp"], before["timestamp"], "it keeps the original's place");
    assert_eq!(
        body_of(first)["text"],
        "Your balance is $10",
        "the original is untouched"
    );

    let pushed = watcher.try_recv().expect("the update is pushed to watchers");
    assert_eq!(pushed.activity.id, update.activity.id);

    let again = s
        .call(
            Method::PUT,
            &format!("/v3/conversations/{id}/activities/{original}"),
            Some(bot_message("Your balance is $13")),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(
        s.log(id).await.len(),
        log.len() + 1,
        "each update is an entry of its own"
    );
    s.finish().await;
}

#[tokio::test]
async fn an_update_is_refused_unless_it_is_the_bots_own_message_in_its_conversation() {
    let s = start().await;
    let id = s.conversation_with_bot().await;
    let original = s.bot_says(id, "hello").await;
    let from_customer = s
        .hub()
        .accept_from_customer(id, Activity::message("hi"))
        .await
        .unwrap()
        .id;
    let path = |activity: &str| format!("/v3/conversations/{id}/activities/{activity}");
    let command = json!({
        "type": "message", "text": "x", "from": {"id": "DemoBot"},
        "channelData": {"tags": "{\"type\":\"EndConversation\",\"context\":{}}"}
    })
    .to_string();
    let typing = json!({"type": "typing", "from": {"id": "DemoBot"}}).to_string();
    let cases: Vec<(&str, String, String, u16, &str)> = vec![
        ("malformed JSON", path(&original), "{not json".into(), 400, "BadSyntax"),
        (
            "an unknown activity",
            path("0123456789abcdef0123456789abcdef"),
            bot_message("x"),
            404,
            "ActivityNotFound",
        ),
        (
            "a log id that is not an original",
            path(&format!("{original}~deleted")),
            bot_message("x"),
            404,
            "ActivityNotFound",
        ),
        (
            "the customer's message",
            path(&from_customer),
            bot_message("x"),
            403,
            "Forbidden",
        ),
        (
            "a bot that is not in the conversation",
            path(&original),
            bot_message("x").replace("\"DemoBot\"", "\"OtherBot\""),
            403,
            "Forbidden",
        ),
        (
            "an unknown conversation",
            format!("/v3/conversations/{}/activities/{original}", unknown_conversation()),
            bot_message("x"),
            404,
            "ConversationNotFound",
        ),
        ("a command", path(&original), command, 400, "BadArgument"),
        ("not a message", path(&original), typing, 400, "BadArgument"),
        (
            "29 KB of text",
            path(&original),
            bot_message(&"x".repeat(29 * 1024)),
            413,
            "MessageSizeTooBig",
        ),
    ];
    let before = s.log(id).await.len();
    for (what, path, body, status, code) in cases {
        s.call(Method::PUT, &path, Some(body)).await.refused(status, code, what);
    }
    assert_eq!(s.log(id).await.len(), before, "nothing was stored");

    s.bot_escalates(id).await;
    let message = s
        .call(Method::PUT, &path(&original), Some(bot_message("late")))
        .await
        .refused(403, "Forbidden", "after the bot left");
    assert!(message.contains("not in conversation"), "{message}");
    s.finish().await;
}

// ---------------------------------------------------------------------------------------------
// DeleteActivity

#[tokio::test]
async fn a_delete_is_200_and_appends_one_message_delete_naming_the_activity() {
    let s = start().await;
    let id = s.conversation_with_bot().await;
    let original = s.bot_says(id, "oops").await;
    let path = format!("/v3/conversations/{id}/activities/{original}");

    let answer = s.call(Method::DELETE, &path, None).await;
    assert_eq!(answer.status, 200, "the JS client refuses 204");
    assert_eq!(answer.json(), json!({}));
    let log = s.log(id).await;
    let delete = log.last().unwrap();
    assert_eq!(delete.activity.id, format!("{original}~deleted"));
    assert_eq!(delete.activity.kind, "messageDelete");
    assert_eq!(delete.activity.sender_id, "DemoBot");
    let body = body_of(delete);
    assert_eq!(body["type"], "messageDelete");
    assert_eq!(body["id"], original);
    assert_eq!(body["from"]["id"], "DemoBot");
    assert_eq!(body["conversation"]["id"], id.to_string());

    let again = s.call(Method::DELETE, &path, None).await;
    assert_eq!(again.status, 200, "deleting again succeeds");
    assert_eq!(s.log(id).await.len(), log.len(), "and stores nothing more");

    s.call(Method::PUT, &path, Some(bot_message("back"))).await.refused(
        404,
        "ActivityNotFound",
        "an update of a deleted activity",
    );
    s.finish().await;
}

#[tokio::test]
async fn a_delete_is_refused_for_an_unknown_activity_someone_elses_or_once_the_bot_left() {
    let s = start().await;
    let id = s.conversation_with_bot().await;
    let original = s.bot_says(id, "hello").await;
    let from_customer = s
        .hub()
        .accept_from_customer(id, Activity::message("hi"))
        .await
        .unwrap()
        .id;
    let path = |activity: &str| format!("/v3/conversations/{id}/activities/{activity}");
    let before = s.log(id).await.len();
    s.call(Method::DELETE, &path("nope"), None)
        .await
        .refused(404, "ActivityNotFound", "an unknown activity");
    s.call(Method::DELETE, &path(&from_customer), None)
        .await
        .refused(403, "Forbidden", "the customer's message");
    s.call(
        Method::DELETE,
        &format!("/v3/conversations/{}/activities/{original}", unknown_conversation()),
        None,
    )
    .await
    .refused(404, "ConversationNotFound", "an unknown conversation");
    assert_eq!(s.log(id).await.len(), before);

    s.bot_escalates(id).await;
    s.call(Method::DELETE, &path(&original), None)
        .await
        .refused(403, "Forbidden", "after the bot left");
    s.finish().await;
}

// ---------------------------------------------------------------------------------------------
// Members

#[tokio::test]
async fn the_members_are_the_bot_and_the_customer_as_the_conversation_update_named_them() {
    let s = start().await;
    let id = s.conversation_with_bot().await;
    let joined = s.test_hub.bot.as_ref().unwrap().wait_for(1).await;
    let added = joined[0]["membersAdded"].clone();

    let answer = s
        .call(Method::GET, &format!("/v3/conversations/{id}/members"), None)
        .await;
    assert_eq!(answer.status, 200);
    let members = answer.json();
    assert_eq!(members, added, "the accounts of the conversationUpdate, bot first");
    assert_eq!(members[0]["id"], "DemoBot");
    assert_eq!(members[0]["name"], "Contoso Assistant");
    assert_eq!(members[1]["role"], "user");

    for member in members.as_array().unwrap() {
        let member_id = member["id"].as_str().unwrap();
        let one = s
            .call(
                Method::GET,
                &format!("/v3/conversations/{id}/members/{member_id}"),
                None,
            )
            .await;
        assert_eq!((one.status, one.json()), (200, member.clone()));
    }
    s.call(Method::GET, &format!("/v3/conversations/{id}/members/alice"), None)
        .await
        .refused(404, "MemberNotFound", "someone not in the conversation");

    let original = s.bot_says(id, "hello").await;
    let of_activity = s
        .call(
            Method::GET,
            &format!("/v3/conversations/{id}/activities/{original}/members"),
            None,
        )
        .await;
    assert_eq!((of_activity.status, of_activity.json()), (200, members.clone()));
    s.call(
        Method::GET,
        &format!("/v3/conversations/{id}/activities/nope/members"),
        None,
    )
    .await
    .refused(404, "ActivityNotFound", "the members of an unknown activity");
    s.finish().await;
}

#[tokio::test]
async fn paged_members_come_a_page_at_a_time_with_a_token_for_the_next() {
    let s = start().await;
    let id = s.conversation_with_bot().await;
    let all = s
        .call(Method::GET, &format!("/v3/conversations/{id}/members"), None)
        .await
        .json();

    let whole = s
        .call(Method::GET, &format!("/v3/conversations/{id}/pagedmembers"), None)
        .await;
    assert_eq!((whole.status, whole.json()), (200, json!({ "members": all })));

    let first = s
        .call(
            Method::GET,
            &format!("/v3/conversations/{id}/pagedmembers?pageSize=1"),
            None,
        )
        .await
        .json();
    assert_eq!(first["members"], json!([all[0]]));
    let token = first["continuationToken"].as_str().expect("a token for the rest");
    let second = s
        .call(
            Method::GET,
            &format!("/v3/conversations/{id}/pagedmembers?pageSize=1&continuationToken={token}"),
            None,
        )
        .await
        .json();
    assert_eq!(second, json!({ "members": [all[1]] }), "the last page has no token");

    for query in ["pageSize=many", "continuationToken=bogus"] {
        s.call(
            Method::GET,
            &format!("/v3/conversations/{id}/pagedmembers?{query}"),
            None,
        )
        .await
        .refused(400, "BadArgument", query);
    }
    s.finish().await;
}

#[tokio::test]
async fn member_queries_are_refused_for_an_unknown_conversation_or_once_the_bot_left() {
    let s = start().await;
    let id = s.conversation_with_bot().await;
    let original = s.bot_says(id, "hello").await;
    s.call(
        Method::GET,
        &format!("/v3/conversations/{}/members", unknown_conversation()),
        None,
    )
    .await
    .refused(404, "ConversationNotFound", "an unknown conversation");
    s.call(Method::GET, "/v3/conversations/not-an-id/pagedmembers", None)
        .await
        .refused(404, "ConversationNotFound", "not a conversation id");

    s.bot_escalates(id).await;
    for path in [
        format!("/v3/conversations/{id}/members"),
        format!("/v3/conversations/{id}/members/DemoBot"),
        format!("/v3/conversations/{id}/pagedmembers"),
        format!("/v3/conversations/{id}/activities/{original}/members"),
    ] {
        s.call(Method::GET, &path, None).await.refused(403, "Forbidden", &path);
    }
    s.finish().await;
}

// ---------------------------------------------------------------------------------------------
// Attachments

fn upload(original: &[u8], thumbnail: Option<&[u8]>) -> String {
    json!({
        "type": "application/pdf",
        "name": "statement.pdf",
        "originalBase64": BASE64.encode(original),
        "thumbnailBase64": thumbnail.map(|t| BASE64.encode(t)),
    })
    .to_string()
}

#[tokio::test]
async fn an_upload_reads_back_byte_for_byte_with_its_info_and_types() {
    let s = start().await;
    let id = s.conversation_with_bot().await;
    let original: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let thumbnail = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let answer = s
        .call(
            Method::POST,
            &format!("/v3/conversations/{id}/attachments"),
            Some(upload(&original, Some(&thumbnail))),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.json());
    let attachment = answer.json()["id"].as_str().unwrap().to_owned();

    // No credentials: a customer's browser fetches these URLs.
    let info = s
        .call(Method::GET, &format!("/v3/attachments/{attachment}"), None)
        .await;
    assert_eq!(info.status, 200);
    assert_eq!(
        info.json(),
        json!({
            "name": "statement.pdf", "type": "application/pdf",
            "views": [{"viewId": "original", "size": 100_000}, {"viewId": "thumbnail", "size": thumbnail.len()}]
        })
    );

    let view = s
        .call(
            Method::GET,
            &format!("/v3/attachments/{attachment}/views/original"),
            None,
        )
        .await;
    assert_eq!(view.status, 200);
    assert_eq!(view.bytes, original, "byte for byte");
    assert_eq!(view.headers["content-type"], "application/pdf");
    assert_eq!(view.headers["x-content-type-options"], "nosniff");
    assert!(
        view.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox"),
        "uploaded bytes never run as a page of the hub"
    );

    let thumb = s
        .call(
            Method::GET,
            &format!("/v3/attachments/{attachment}/views/thumbnail"),
            None,
        )
        .await;
    assert_eq!((thumb.status, thumb.bytes.clone()), (200, thumbnail));
    assert_eq!(
        thumb.headers["content-type"], "image/png",
        "a thumbnail's type is read from it"
    );
    s.finish().await;
}

#[tokio::test]
async fn uploads_are_refused_when_oversize_malformed_or_not_the_bots() {
    let s = start().await;
    let id = s.conversation_with_bot().await;
    let path = format!("/v3/conversations/{id}/attachments");
    let max = engine::MAX_ATTACHMENT_BYTES;

    let message = s
        .call(Method::POST, &path, Some(upload(&vec![1u8; max + 1], None)))
        .await
        .refused(413, "MessageSizeTooBig", "one byte over the limit");
    assert!(message.contains(&max.to_string()), "names the limit: {message}");
    s.call(
        Method::POST,
        &path,
        Some(upload(&vec![1u8; max / 2 + 1], Some(&vec![2u8; max / 2]))),
    )
    .await
    .refused(
        413,
        "MessageSizeTooBig",
        "original and thumbnail together over the limit",
    );
    let huge = format!(r#"{{"originalBase64":"{}"}}"#, "A".repeat(8 * 1024 * 1024));
    s.call(Method::POST, &path, Some(huge))
        .await
        .refused(413, "MessageSizeTooBig", "a body far over the limit");

    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("malformed JSON", "{not json".into(), 400, "BadSyntax"),
        ("not an object", "[1, 2]".into(), 400, "BadSyntax"),
        (
            "no content",
            json!({"type": "image/png"}).to_string(),
            400,
            "BadArgument",
        ),
        (
            "content that is not base64",
            json!({"originalBase64": "%%%"}).to_string(),
            400,
            "BadArgument",
        ),
        (
            "a type that is not a content type",
            json!({"type": "pdf", "originalBase64": "aGk="}).to_string(),
            400,
            "BadArgument",
        ),
    ];
    for (what, body, status, code) in cases {
        s.call(Method::POST, &path, Some(body))
            .await
            .refused(status, code, what);
    }
    s.call(
        Method::POST,
        &format!("/v3/conversations/{}/attachments", unknown_conversation()),
        Some(upload(b"hi", None)),
    )
    .await
    .refused(404, "ConversationNotFound", "an unknown conversation");

    s.bot_escalates(id).await;
    s.call(Method::POST, &path, Some(upload(b"hi", None)))
        .await
        .refused(403, "Forbidden", "after the bot left");
    s.finish().await;
}

#[tokio::test]
async fn reading_an_attachment_that_is_not_there_is_404_attachment_not_found() {
    let s = start().await;
    let id = s.conversation_with_bot().await;
    let answer = s
        .call(
            Method::POST,
            &format!("/v3/conversations/{id}/attachments"),
            Some(upload(b"no thumbnail", None)),
        )
        .await;
    let attachment = answer.json()["id"].as_str().unwrap().to_owned();
    let unknown = uuid::Uuid::new_v4().simple().to_string();
    for (what, path) in [
        ("an unknown attachment", format!("/v3/attachments/{unknown}")),
        ("its view", format!("/v3/attachments/{unknown}/views/original")),
        ("not an id", "/v3/attachments/nope".to_owned()),
        ("an unknown view", format!("/v3/attachments/{attachment}/views/poster")),
        (
            "a missing thumbnail",
            format!("/v3/attachments/{attachment}/views/thumbnail"),
        ),
    ] {
        s.call(Method::GET, &path, None)
            .await
            .refused(404, "AttachmentNotFound", what);
    }
    let info = s
        .call(Method::GET, &format!("/v3/attachments/{attachment}"), None)
        .await
        .json();
    assert_eq!(info["views"], json!([{"viewId": "original", "size": 12}]));
    s.finish().await;
}

// ---------------------------------------------------------------------------------------------
// Refusals that apply to every operation

#[tokio::test]
async fn operations_the_hub_does_not_offer_are_501_saying_what_to_do_instead() {
    let s = start().await;
    let id = s.conversation_with_bot().await;
    let cases = [
        (Method::POST, "/v3/conversations".to_owned(), "conversationUpdate"),
        (Method::GET, "/v3/conversations".to_owned(), "conversationUpdate"),
        (
            Method::POST,
            format!("/v3/conversations/{id}/activities/history"),
            "SendToConversation",
        ),
        (
            Method::DELETE,
            format!("/v3/conversations/{id}/members/DemoBot"),
            "Escalate",
        ),
    ];
    for (method, path, advice) in cases {
        let what = format!("{method} {path}");
        let body = (method == Method::POST).then(|| json!({"activities": []}).to_string());
        let message = s.call(method, &path, body).await.refused(501, "NotImplemented", &what);
        assert!(message.contains(advice), "{what} says what to do instead: {message}");
    }
    s.finish().await;
}

#[tokio::test]
async fn every_operation_refuses_a_bearer_token_that_does_not_validate() {
    let s = start().await;
    let id = s.conversation_with_bot().await;
    let original = s.bot_says(id, "hello").await;
    let attachment = uuid::Uuid::new_v4().simple().to_string();
    let conv = format!("/v3/conversations/{id}");
    let cases = [
        (
            Method::PUT,
            format!("{conv}/activities/{original}"),
            Some(bot_message("x")),
        ),
        (Method::DELETE, format!("{conv}/activities/{original}"), None),
        (Method::GET, format!("{conv}/members"), None),
        (Method::GET, format!("{conv}/members/DemoBot"), None),
        (Method::GET, format!("{conv}/pagedmembers"), None),
        (Method::GET, format!("{conv}/activities/{original}/members"), None),
        (Method::POST, format!("{conv}/attachments"), Some(upload(b"x", None))),
        (Method::GET, format!("/v3/attachments/{attachment}"), None),
        (
            Method::GET,
            format!("/v3/attachments/{attachment}/views/original"),
            None,
        ),
        (Method::POST, "/v3/conversations".to_owned(), Some("{}".to_owned())),
        (Method::GET, "/v3/conversations".to_owned(), None),
        (
            Method::POST,
            format!("{conv}/activities/history"),
            Some("{}".to_owned()),
        ),
        (Method::DELETE, format!("{conv}/members/DemoBot"), None),
    ];
    let before = s.log(id).await.len();
    for (method, path, body) in cases {
        let what = format!("{method} {path}");
        s.call_with(method, &path, body, Some("not-a-jwt"))
            .await
            .refused(401, "Unauthorized", &what);
    }
    assert_eq!(s.log(id).await.len(), before, "nothing was stored");
    s.finish().await;
}

#[tokio::test]
async fn credentials_for_another_app_are_refused_by_every_conversation_operation() {
    // A token validated for some other app: the HTTP layer would turn it into this caller.
    let s = start().await;
    let id = s.conversation_with_bot().await;
    let original = s.bot_says(id, "hello").await;
    let hub = s.hub();
    let other = || BotCaller::App("some-other-app".to_owned());
    let upload = botframework::connector::AttachmentData {
        original_base64: Some("aGk=".into()),
        ..Default::default()
    };
    let refusals: Vec<(&str, Result<(), EngineError>)> = vec![
        (
            "update",
            hub.update_activity(id, other(), &original, Activity::message("x"))
                .await
                .map(drop),
        ),
        ("delete", hub.delete_activity(id, other(), &original).await),
        ("members", hub.conversation_members(id, other()).await.map(drop)),
        (
            "member",
            hub.conversation_member(id, other(), "DemoBot").await.map(drop),
        ),
        (
            "paged members",
            hub.paged_members(id, other(), None, None).await.map(drop),
        ),
        (
            "activity members",
            hub.activity_members(id, other(), &original).await.map(drop),
        ),
        ("upload", hub.upload_attachment(id, other(), upload).await.map(drop)),
    ];
    for (what, result) in refusals {
        let err = result.expect_err(what);
        assert!(matches!(err, EngineError::Forbidden(_)), "{what}: {err:?}");
        assert!(err.to_string().contains("some-other-app"), "{what}: {err}");
    }
    s.finish().await;
}

// ---------------------------------------------------------------------------------------------
// The SDK's own client

/// Runs `compat/node/connector-client.js` against the hub for `conversation`; its `RESULT`
/// lines by name. `None` (skipped) when the compat packages are not installed, except under
/// `CI=true`.
async fn run_sdk_client(base: &str, conversation: ConversationId) -> Option<std::collections::HashMap<String, Value>> {
    let compat = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../compat");
    if !compat
        .join("node_modules/botframework-connector/package.json")
        .is_file()
    {
        let why = "compat/node_modules is not installed (run `npm ci` in compat/)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
        eprintln!("skipped: {why}");
        return None;
    }
    let run = tokio::process::Command::new("node")
        .arg("node/connector-client.js")
        .current_dir(&compat)
        .env("SERVICE_URL", base)
        .env("CONVERSATION_ID", conversation.to_string())
        .env("BOT_ID", "DemoBot")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("the client finishes within a minute")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.lines().last() == Some("DONE"),
        "the SDK client failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    Some(
        stdout
            .lines()
            .filter_map(|line| line.strip_prefix("RESULT "))
            .map(|rest| {
                // Names are one or two words; the JSON starts at the first `{`, `[` or `"`.
                let at = rest.find(['{', '[', '"']).unwrap();
                (rest[..at].trim().to_owned(), serde_json::from_str(&rest[at..]).unwrap())
            })
            .collect(),
    )
}

#[tokio::test]
async fn the_sdks_own_connector_client_accepts_every_answer_of_the_hub() {
    let s = start().await;
    let id = s.conversation_with_bot().await;
    let Some(results) = run_sdk_client(&s.test_hub.base, id).await else {
        return s.finish().await;
    };
    let sent = results["send"]["id"].as_str().unwrap().to_owned();
    assert_eq!(results["update"], json!({ "id": sent }));
    assert_eq!(
        results["members"][0],
        json!({"id": "DemoBot", "name": "Contoso Assistant", "role": "bot"})
    );
    assert_eq!(results["members"][1]["role"], "user");
    assert_eq!(results["member"]["id"], "DemoBot");
    assert_eq!(results["paged"][0]["ids"], json!(["DemoBot"]));
    assert_eq!(results["paged"][1]["token"], Value::Null, "the second page is the last");
    assert_eq!(results["activity members"].as_array().unwrap().len(), 2);
    assert_eq!(
        results["attachment"],
        json!({
            "info": {"name": "data.bin", "type": "application/octet-stream",
                     "views": [{"viewId": "original", "size": 1000}, {"viewId": "thumbnail", "size": 10}]},
            "sameBytes": true
        }),
        "the client's Uint8Array travelled as base64 and came back byte for byte"
    );
    assert_eq!(results["delete"], json!({ "ok": true }), "the client took the 200");
    assert_eq!(results["create"]["statusCode"], 501, "{}", results["create"]);
    assert_eq!(results["create"]["code"], "NotImplemented", "{}", results["create"]);
    assert!(
        results["create"]["message"]
            .as_str()
            .unwrap()
            .contains("conversationUpdate"),
        "the bot's developer reads why in the SDK's error: {}",
        results["create"]
    );

    let log = s.log(id).await;
    let kinds: Vec<(&str, &str)> = log
        .iter()
        .filter(|a| a.activity.id.starts_with(&sent))
        .map(|a| {
            (
                a.activity.kind.as_str(),
                a.activity.id.get(sent.len()..).unwrap_or_default(),
            )
        })
        .map(|(kind, suffix)| {
            (
                kind,
                if suffix.starts_with('~') && suffix != "~deleted" {
                    "~update"
                } else {
                    suffix
                },
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [("message", ""), ("message", "~update"), ("messageDelete", "~deleted")]
    );
    s.finish().await;
}
