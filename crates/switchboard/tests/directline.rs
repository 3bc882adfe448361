//! Direct Line 3.0 over HTTP on a real hub with the sample configuration (its website channel)
//! and a recording bot: tokens, starting and resuming, posting with echo, polling with
//! watermarks, pre-chat context, the channel's secret on every call of its own conversations
//! (and on no other channel's), what a token decides that a client cannot, and the status
//! discipline real clients depend on.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

mod common;
use common::TestHub;

const SECRET: &str = "demo-directline-secret-change-me";

struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    fn new(f: &TestHub) -> Self {
        Self {
            base: format!("{}/v3/directline", f.base),
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, auth: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(auth);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, auth: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, auth, Some(body)).await
    }

    async fn get(&self, path: &str, auth: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, auth, None).await
    }

    /// A token for a new conversation, and the conversation started with it.
    async fn start(&self, generate: Value) -> (String, String) {
        let (status, body) = self.post("/tokens/generate", SECRET, generate).await;
        assert_eq!(status, 200, "{body}");
        let token = body["token"].as_str().unwrap().to_owned();
        let (status, started) = self.post("/conversations", &token, json!({})).await;
        assert_eq!(status, 201, "{started}");
        assert!(started["streamUrl"].as_str().unwrap().starts_with("ws://"));
        (body["conversationId"].as_str().unwrap().to_owned(), token)
    }

    /// A conversation started with a channel's `secret`: its id and the start's answer.
    async fn start_with_secret(&self, secret: &str, body: Value) -> (String, Value) {
        let (status, started) = self.post("/conversations", secret, body).await;
        assert_eq!(status, 201, "{started}");
        (started["conversationId"].as_str().unwrap().to_owned(), started)
    }

    /// `POST /conversations/{id}/upload` as directlinejs sends it: the `activity` part, and a
    /// small text file unless `with_file` is false.
    async fn upload(&self, id: &str, auth: &str, activity: Value, with_file: bool) -> (u16, Value) {
        let mut form = reqwest::multipart::Form::new().part(
            "activity",
            reqwest::multipart::Part::text(activity.to_string())
                .mime_str("application/vnd.microsoft.activity")
                .unwrap(),
        );
        if with_file {
            form = form.part(
                "file",
                reqwest::multipart::Part::bytes(RECEIPT.to_vec())
                    .file_name("receipt.txt")
                    .mime_str("text/plain")
                    .unwrap(),
            );
        }
        let response = self
            .http
            .post(format!("{}/conversations/{id}/upload?userId=dl_up", self.base))
            .bearer_auth(auth)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `ws://…/conversations/{id}/stream`, with the query `query` (`?t=…&watermark=…`).
    fn stream_url(&self, id: &str, query: &str) -> String {
        format!(
            "{}/conversations/{id}/stream{query}",
            self.base.replace("http://", "ws://")
        )
    }
}

/// The file [`Client::upload`] sends.
const RECEIPT: &[u8] = b"order 4711 receipt";

/// Opens the Direct Line WebSocket at `url` (sending `Authorization: Bearer <auth>` when given):
/// the texts of the first set of activities it carries, or the status it was refused with.
async fn stream(url: &str, auth: Option<&str>) -> Result<Vec<String>, u16> {
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    if let Some(auth) = auth {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {auth}").parse().unwrap());
    }
    let mut socket = match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => socket,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => return Err(response.status().as_u16()),
        Err(e) => panic!("{e}"),
    };
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame within 10 s")
            .unwrap()
            .unwrap();
        let tokio_tungstenite::tungstenite::Message::Text(text) = frame else {
            continue;
        };
        if text.is_empty() {
            continue;
        }
        let set: Value = serde_json::from_str(&text).unwrap();
        return Ok(set["activities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["text"].as_str().unwrap_or_default().to_owned())
            .collect());
    }
}

fn message(text: &str, client_id: &str) -> Value {
    json!({"type": "message", "text": text, "from": {"id": "someone-else"}, "channelData": {"clientActivityID": client_id}})
}

#[tokio::test]
async fn a_customer_starts_posts_sees_the_echo_and_polls_with_watermarks() {
    let f = TestHub::sample("dl-flow").await;
    let bot = f.bot.clone().unwrap();
    let dl = Client::new(&f);
    let (id, token) = dl.start(json!({"user": {"id": "dl_ana", "name": "Ana"}})).await;
    let (status, again) = dl.post("/conversations", &token, json!({})).await;
    assert_eq!(
        (status, again["conversationId"].as_str()),
        (200, Some(id.as_str())),
        "the same conversation again"
    );

    let (status, posted) = dl
        .post(&format!("/conversations/{id}/activities"), &token, message("hi", "c-1"))
        .await;
    assert_eq!(status, 200, "{posted}");
    let got = bot.wait_for(3).await;
    assert_eq!(got[2]["text"], "hi");
    assert_eq!(
        got[2]["from"]["id"], "dl_ana",
        "the token, not the page, says who the customer is"
    );

    let (status, set) = dl.get(&format!("/conversations/{id}/activities"), &token).await;
    assert_eq!(status, 200);
    let activities = set["activities"].as_array().unwrap();
    assert_eq!(activities.len(), 1, "no conversationUpdate, no context event: {set}");
    let echo = &activities[0];
    assert_eq!(echo["id"], posted["id"]);
    assert_eq!(echo["channelData"]["clientActivityID"], "c-1");
    assert_eq!(echo["from"]["role"], "user");
    let watermark = set["watermark"].as_str().unwrap().to_owned();

    f.hub
        .accept_from_bot(
            domain::ConversationId::parse(&id).unwrap(),
            engine::BotCaller::Anonymous,
            serde_json::from_value(
                json!({"type": "message", "text": "Echo: hi", "from": {"id": "DemoBot", "name": "Contoso Assistant"}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let (_, newer) = dl
        .get(&format!("/conversations/{id}/activities?watermark={watermark}"), &token)
        .await;
    let texts: Vec<&str> = newer["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["Echo: hi"], "only what came after the watermark");
    assert_eq!(newer["activities"][0]["from"]["role"], "bot");
    let (_, none) = dl
        .get(
            &format!(
                "/conversations/{id}/activities?watermark={}",
                newer["watermark"].as_str().unwrap()
            ),
            &token,
        )
        .await;
    assert_eq!(none["activities"], json!([]));

    let (status, reconnected) = dl
        .get(&format!("/conversations/{id}?watermark={watermark}"), &token)
        .await;
    assert_eq!(status, 200);
    assert!(
        reconnected["streamUrl"]
            .as_str()
            .unwrap()
            .contains(&format!("watermark={watermark}"))
    );
    let (status, refreshed) = dl.post("/tokens/refresh", &token, json!({})).await;
    assert_eq!((status, refreshed["conversationId"].as_str()), (200, Some(id.as_str())));
    f.finish().await;
}

#[tokio::test]
async fn pre_chat_context_is_checked_and_routes_from_the_first_decision() {
    let f = TestHub::sample("dl-prechat").await;
    let dl = Client::new(&f);
    let (id, _) = dl
        .start(json!({"user": {"id": "dl_bo"}, "context": {"BotHandoffTopic": "CreditCard"}, "customer": {"name": "Bo", "email": "bo@example.com"}}))
        .await;
    let (_, details) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(details["queue"], "CreditCardQueue", "{details}");
    assert_eq!(details["routing"][0]["rule"], "CreditCardRule");
    assert_eq!(
        details["customer"],
        json!({"id": "dl_bo", "name": "Bo", "email": "bo@example.com"})
    );

    for (context, expected) in [
        (json!({"Topic": "x"}), "Topic"),
        (json!({"BotHandoffTopic": true}), "BotHandoffTopic"),
        (json!("CreditCard"), "must be an object"),
    ] {
        let (status, body) = dl.post("/tokens/generate", SECRET, json!({"context": context})).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(expected), "{body}");
    }
    // The same checks when the secret's holder passes the context as it starts the conversation.
    let (status, body) = dl
        .post("/conversations", SECRET, json!({"context": {"Nope": "x"}}))
        .await;
    assert_eq!(status, 400, "{body}");
    f.finish().await;
}

#[tokio::test]
async fn bad_credentials_unknown_conversations_and_bad_activities_are_refused_and_store_nothing() {
    let f = TestHub::sample("dl-refusals").await;
    let dl = Client::new(&f);
    let (a, token_a) = dl.start(json!({})).await;
    let (b, _token_b) = dl.start(json!({})).await;
    let channel = http::directline::DirectLineChannel {
        name: "website".into(),
        secret: SECRET.into(),
        workstream: "ChatWorkStream".into(),
        token_lifetime_secs: 1800,
    };
    let mut expired = http::directline::tokens::TokenClaims::new(&channel, a.clone(), "dl_x".into(), 1_000);
    expired.exp = 2_000;
    let expired = expired.sign(&channel);
    let (_, never_started) = dl.post("/tokens/generate", SECRET, json!({})).await;
    let never_started_id = never_started["conversationId"].as_str().unwrap();
    let never_started_token = never_started["token"].as_str().unwrap();

    let post_a = format!("/conversations/{a}/activities");
    let cases: Vec<(&str, String, String, Value, u16, &str)> = vec![
        (
            "an expired token",
            post_a.clone(),
            expired.clone(),
            message("x", "1"),
            403,
            "TokenExpired",
        ),
        (
            "conversation A's token on B",
            format!("/conversations/{b}/activities"),
            token_a.clone(),
            message("x", "2"),
            403,
            "WrongConversation",
        ),
        (
            "the secret where a token is required",
            "/tokens/refresh".to_owned(),
            SECRET.to_owned(),
            json!({}),
            403,
            "TokenRequired",
        ),
        (
            "a made-up token",
            post_a.clone(),
            "abc.def.ghi".to_owned(),
            message("x", "4"),
            403,
            "BadToken",
        ),
        (
            "an unknown conversation",
            format!("/conversations/{never_started_id}/activities"),
            never_started_token.to_owned(),
            message("x", "5"),
            404,
            "NotFound",
        ),
        (
            "a malformed activity",
            post_a.clone(),
            token_a.clone(),
            json!({"text": "no type"}),
            400,
            "BadArgument",
        ),
        (
            "29 KB of text",
            post_a.clone(),
            token_a.clone(),
            message(&"x".repeat(29 * 1024), "6"),
            413,
            "MessageSizeTooBig",
        ),
    ];
    for (what, path, auth, body, status, code) in cases {
        let (got, body) = dl.post(&path, &auth, body).await;
        assert_eq!(got, status, "{what}: {body}");
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
    }
    let (status, _) = dl.get(&format!("/conversations/{a}/activities"), &expired).await;
    assert_eq!(status, 403);
    let (status, _) = dl.post("/tokens/generate", &token_a, json!({})).await;
    assert_eq!(status, 403, "tokens are made with the secret only");
    let (status, body) = dl.get(&format!("/conversations/{a}/activities"), &token_a).await;
    assert_eq!(
        (status, body["activities"].clone()),
        (200, json!([])),
        "nothing was stored"
    );
    f.finish().await;
}

#[tokio::test]
async fn a_bot_that_fails_a_post_is_a_502_and_the_message_is_kept() {
    let f = TestHub::sample("dl-502").await;
    let bot = f.bot.clone().unwrap();
    let dl = Client::new(&f);
    let (id, token) = dl.start(json!({})).await;
    bot.wait_for(2).await;
    bot.answer_with(400);
    let (status, body) = dl
        .post(
            &format!("/conversations/{id}/activities"),
            &token,
            message("hello?", "c"),
        )
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "BotError");
    let (_, set) = dl.get(&format!("/conversations/{id}/activities"), &token).await;
    assert_eq!(set["activities"][0]["text"], "hello?");
    f.finish().await;
}

#[tokio::test]
async fn an_upload_stores_the_files_attaches_them_and_serves_them_back() {
    let f = TestHub::sample("dl-upload").await;
    let bot = f.bot.clone().unwrap();
    let dl = Client::new(&f);
    let (id, token) = dl.start(json!({"user": {"id": "dl_up"}})).await;
    let activity = json!({"type": "message", "text": "my receipt", "from": {"id": "dl_up"}, "channelData": {"clientActivityID": "u-1"}});
    let (status, body) = dl.upload(&id, &token, activity.clone(), false).await;
    assert_eq!((status, &body["error"]["code"]), (400, &json!("BadArgument")), "{body}");
    let (status, body) = dl.upload(&id, &token, activity, true).await;
    assert_eq!(status, 200, "{body}");

    let got = bot.wait_for(3).await;
    let attachment = &got[2]["attachments"][0];
    assert_eq!(
        (&attachment["name"], &attachment["contentType"]),
        (&json!("receipt.txt"), &json!("text/plain"))
    );
    let url = attachment["contentUrl"].as_str().unwrap();
    assert!(url.starts_with(&f.base), "{url}");
    let served = reqwest::get(url).await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap().to_vec(), RECEIPT);

    let (_, set) = dl.get(&format!("/conversations/{id}/activities"), &token).await;
    assert_eq!(set["activities"][0]["text"], "my receipt");
    assert_eq!(set["activities"][0]["channelData"]["clientActivityID"], "u-1");
    assert_eq!(set["activities"][0]["attachments"][0]["contentUrl"], url);
    f.finish().await;
}

async fn customer_texts(dl: &Client, id: &str, token: &str) -> Vec<Value> {
    let (_, set) = dl.get(&format!("/conversations/{id}/activities"), token).await;
    set["activities"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_waiting_customer_is_told_their_place_and_an_ended_conversation_says_so() {
    let f = TestHub::sample("dl-waiting").await;
    let dl = Client::new(&f);
    // Pre-chat context sends both straight to CreditCardQueue, where no agent is available.
    let (first, first_token) = dl.start(json!({"context": {"BotHandoffTopic": "CreditCard"}})).await;
    let (second, second_token) = dl.start(json!({"context": {"BotHandoffTopic": "CreditCard"}})).await;
    let texts = |activities: Vec<Value>| {
        activities
            .iter()
            .map(|a| a["text"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        texts(customer_texts(&dl, &first, &first_token).await),
        [engine::queue_position_text(0)]
    );
    let second_sees = customer_texts(&dl, &second, &second_token).await;
    assert_eq!(
        texts(second_sees.clone()),
        ["People ahead of you: 1. An agent will be with you as soon as possible."]
    );
    assert_eq!(second_sees[0]["from"]["id"], "switchboard");

    // A conversation its bot ends: the customer gets the bot's goodbye, then endOfConversation.
    let (id, token) = dl.start(json!({})).await;
    f.hub
        .accept_from_bot(
            domain::ConversationId::parse(&id).unwrap(),
            engine::BotCaller::Anonymous,
            from_demo_bot(botframework::omnichannel::end_conversation_activity("Goodbye!")),
        )
        .await
        .unwrap();
    let seen = customer_texts(&dl, &id, &token).await;
    let kinds: Vec<&str> = seen.iter().map(|a| a["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["message", "endOfConversation"], "{seen:?}");
    assert_eq!(seen[1]["code"], "completedSuccessfully");
    let (status, _) = dl
        .post(
            &format!("/conversations/{id}/activities"),
            &token,
            message("still there?", "z"),
        )
        .await;
    assert_eq!(status, 404, "an ended conversation takes nothing more");
    f.finish().await;
}

fn from_demo_bot(mut activity: botframework::Activity) -> botframework::Activity {
    activity.from = Some(botframework::ChannelAccount::new("DemoBot"));
    activity
}

#[tokio::test]
async fn a_customer_sending_too_fast_is_told_to_wait_and_what_was_refused_is_not_stored() {
    let bot = common::RecordingBot::start().await;
    let config = format!(
        "{}\n[limits]\ncustomer_activities_per_second = 1\ncustomer_activity_burst = 3\n",
        switchboard::config::SAMPLE.replace(common::SAMPLE_BOT_ENDPOINT, &bot.endpoint())
    );
    let f = TestHub::new("dl-rate", &config).await;
    let dl = Client::new(&f);
    let (id, token) = dl.start(json!({"user": {"id": "dl_fast"}})).await;
    let (other, other_token) = dl.start(json!({"user": {"id": "dl_calm"}})).await;
    let path = format!("/conversations/{id}/activities");
    for n in 0..3 {
        let (status, body) = dl.post(&path, &token, message(&format!("m{n}"), "c")).await;
        assert_eq!(status, 200, "{body}");
    }
    let response = dl
        .http
        .post(format!("{}{path}", dl.base))
        .bearer_auth(&token)
        .json(&message("one too many", "c"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "TooManyRequests");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("more than 3 activities at once or 1 per second"),
        "{body}"
    );
    // Another conversation has its own allowance.
    let (status, body) = dl
        .post(
            &format!("/conversations/{other}/activities"),
            &other_token,
            message("hello", "c"),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (_, set) = dl.get(&path, &token).await;
    let texts: Vec<&str> = set["activities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["text"].as_str())
        .collect();
    assert_eq!(texts, ["m0", "m1", "m2"], "the refused message was not stored");
    // After the wait, the customer may send again.
    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    let (status, body) = dl.post(&path, &token, message("and now", "c")).await;
    assert_eq!(status, 200, "{body}");
    f.finish().await;
}

#[tokio::test]
async fn requests_refused_before_any_handler_still_get_a_json_error() {
    let f = TestHub::sample("dl-rejections").await;
    let dl = Client::new(&f);
    let (id, token) = dl.start(json!({})).await;
    let http = reqwest::Client::new();

    // A body over the 2 MiB request limit.
    let huge = format!("{{\"user\":{{\"id\":\"{}\"}}}}", "x".repeat(3 * 1024 * 1024));
    let response = http
        .post(format!("{}/tokens/generate", dl.base))
        .bearer_auth(SECRET)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "MessageSizeTooBig", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("length limit"),
        "{body}"
    );

    // A method the route does not have.
    let response = http
        .delete(format!("{}/conversations/{id}/activities", dl.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "MethodNotAllowed", "{body}");

    // An unreadable query string, outside Direct Line too.
    let response = http
        .get(format!("{}/api/v1/conversations?limit=lots", f.base))
        .bearer_auth(common::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "bad_request", "{body}");
    f.finish().await;
}

/// A message activity from `from` (no `from` at all when it is `Value::Null`).
fn message_from(text: &str, from: Value) -> Value {
    let mut activity = json!({"type": "message", "text": text});
    if !from.is_null() {
        activity["from"] = from;
    }
    activity
}

#[tokio::test]
async fn the_channels_secret_works_on_every_call_of_its_own_conversations() {
    let f = TestHub::sample("dl-secret").await;
    let bot = f.bot.clone().unwrap();
    let dl = Client::new(&f);
    let (id, started) = dl
        .start_with_secret(SECRET, json!({"user": {"id": "customer-4711", "name": "Ana"}}))
        .await;
    let activities = format!("/conversations/{id}/activities");

    // As on Azure, with the secret the activity says who the user is…
    let (status, body) = dl
        .post(
            &activities,
            SECRET,
            message_from("hi", json!({"id": "web-visitor-9", "name": "Vi"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // …and an activity that names no one is the conversation's customer's.
    let (status, body) = dl
        .post(&activities, SECRET, message_from("me again", Value::Null))
        .await;
    assert_eq!(status, 200, "{body}");
    let got = bot.wait_for(4).await;
    assert_eq!(
        (&got[2]["from"]["id"], &got[2]["from"]["name"], &got[2]["from"]["role"]),
        (&json!("web-visitor-9"), &json!("Vi"), &json!("user"))
    );
    assert_eq!(
        (&got[3]["from"]["id"], &got[3]["from"]["name"]),
        (&json!("customer-4711"), &json!("Ana"))
    );

    let (status, set) = dl.get(&activities, SECRET).await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["activities"].as_array().unwrap().len(), 2, "{set}");
    let watermark = set["watermark"].as_str().unwrap().to_owned();

    let upload = json!({"type": "message", "text": "my receipt", "from": {"id": "web-visitor-9"}});
    let (status, body) = dl.upload(&id, SECRET, upload, true).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(bot.wait_for(5).await[4]["attachments"][0]["name"], "receipt.txt");

    let (status, reconnected) = dl
        .get(&format!("/conversations/{id}?watermark={watermark}"), SECRET)
        .await;
    assert_eq!(status, 200, "{reconnected}");
    assert_eq!(reconnected["conversationId"], json!(id));

    // The streamUrls the secret's caller got carry a token for the conversation, and work; so
    // does the secret itself in the socket's Authorization header.
    let everything = ["hi", "me again", "my receipt"];
    assert_eq!(
        stream(started["streamUrl"].as_str().unwrap(), None).await,
        Ok(everything.map(String::from).to_vec())
    );
    let newer = Ok(vec!["my receipt".to_owned()]);
    assert_eq!(stream(reconnected["streamUrl"].as_str().unwrap(), None).await, newer);
    let by_header = dl.stream_url(&id, &format!("?watermark={watermark}"));
    assert_eq!(stream(&by_header, Some(SECRET)).await, newer);
    f.finish().await;
}

/// The sample, its bot at `bot`, plus `extra` TOML appended.
fn sample_with(bot: &common::RecordingBot, extra: &str) -> String {
    format!(
        "{}\n{extra}",
        switchboard::config::SAMPLE.replace(common::SAMPLE_BOT_ENDPOINT, &bot.endpoint())
    )
}

/// Every call on conversation `id` with `auth`, each expected to be refused with 403 `code`.
async fn refused_on_every_call(dl: &Client, id: &str, auth: &str, code: &str) {
    let activities = format!("/conversations/{id}/activities");
    let calls = [
        ("post", dl.post(&activities, auth, message("x", "r")).await),
        ("get", dl.get(&activities, auth).await),
        (
            "reconnect",
            dl.get(&format!("/conversations/{id}?watermark=0"), auth).await,
        ),
        (
            "upload",
            dl.upload(id, auth, message_from("x", json!({"id": "x"})), true).await,
        ),
    ];
    for (call, (status, body)) in calls {
        assert_eq!((status, &body["error"]["code"]), (403, &json!(code)), "{call}: {body}");
    }
    assert_eq!(stream(&dl.stream_url(id, ""), Some(auth)).await, Err(403), "stream");
}

const PARTNER_SECRET: &str = "partner-directline-secret-0001";

#[tokio::test]
async fn another_channels_secret_is_refused_on_every_call_of_a_conversation() {
    let bot = common::RecordingBot::start().await;
    let partner = format!(
        "[[workstreams]]\nname = \"PartnerChat\"\nchannel = \"chat\"\nfallback_queue = \"DefaultQueue\"\n\n\
         [[directline]]\nname = \"partner\"\nsecret = \"{PARTNER_SECRET}\"\nworkstream = \"PartnerChat\"\n"
    );
    let f = TestHub::new("dl-two-channels", &sample_with(&bot, &partner)).await;
    let dl = Client::new(&f);
    let (website, token) = dl.start(json!({"user": {"id": "dl_web"}})).await;
    let (partners, _) = dl.start_with_secret(PARTNER_SECRET, json!({})).await;

    refused_on_every_call(&dl, &website, PARTNER_SECRET, "WrongConversation").await;
    refused_on_every_call(&dl, &partners, SECRET, "WrongConversation").await;
    // Each secret still works on its own channel's conversations.
    for (id, secret) in [(&website, SECRET), (&partners, PARTNER_SECRET)] {
        let (status, body) = dl
            .post(&format!("/conversations/{id}/activities"), secret, message("mine", "m"))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, set) = dl.get(&format!("/conversations/{website}/activities"), &token).await;
    let texts: Vec<&str> = set["activities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["text"].as_str())
        .collect();
    assert_eq!(texts, ["mine"], "nothing the partner's secret sent was stored: {set}");
    f.finish().await;
}

#[tokio::test]
async fn when_two_channels_share_a_workstream_only_tokens_work_on_its_conversations() {
    let bot = common::RecordingBot::start().await;
    let app =
        format!("[[directline]]\nname = \"app\"\nsecret = \"{PARTNER_SECRET}\"\nworkstream = \"ChatWorkStream\"\n");
    let f = TestHub::new("dl-shared-workstream", &sample_with(&bot, &app)).await;
    let dl = Client::new(&f);
    let (id, token) = dl.start(json!({})).await;
    // The hub cannot tell which of the two channels started it, so neither secret reaches it.
    refused_on_every_call(&dl, &id, SECRET, "WrongConversation").await;
    refused_on_every_call(&dl, &id, PARTNER_SECRET, "WrongConversation").await;
    let (status, body) = dl
        .post(&format!("/conversations/{id}/activities"), &token, message("hi", "t"))
        .await;
    assert_eq!(status, 200, "{body}");
    f.finish().await;
}

#[tokio::test]
async fn a_token_for_one_conversation_is_refused_on_every_call_of_another() {
    let f = TestHub::sample("dl-token-scope").await;
    let dl = Client::new(&f);
    let (_, token_a) = dl.start(json!({})).await;
    let (b, _) = dl.start(json!({})).await;
    refused_on_every_call(&dl, &b, &token_a, "WrongConversation").await;
    let in_the_url = dl.stream_url(&b, &format!("?t={token_a}"));
    assert_eq!(stream(&in_the_url, None).await, Err(403), "the stream with t=");
    f.finish().await;
}

#[tokio::test]
async fn with_a_token_only_the_context_the_backend_signed_routes_the_conversation() {
    let f = TestHub::sample("dl-context-rules").await;
    let dl = Client::new(&f);
    let credit_card = json!({"context": {"BotHandoffTopic": "CreditCard"}});
    let details_of = async |id: &str| f.get_json(&format!("/api/v1/conversations/{id}")).await.1;

    // The backend signed HomeLoan; the browser asks for CreditCard in the start's body.
    let (_, issued) = dl
        .post(
            "/tokens/generate",
            SECRET,
            json!({"user": {"id": "dl_hl", "name": "Ana"}, "context": {"BotHandoffTopic": "HomeLoan"}}),
        )
        .await;
    let token = issued["token"].as_str().unwrap();
    let mut body = credit_card.clone();
    body["customer"] = json!({"name": "Mallory", "email": "ana@example.com"});
    let (status, started) = dl.post("/conversations", token, body).await;
    assert_eq!(status, 201, "{started}");
    let details = details_of(issued["conversationId"].as_str().unwrap()).await;
    assert_eq!(details["queue"], "HomeLoanQueue", "{details}");
    assert_eq!(details["context"]["BotHandoffTopic"], "HomeLoan");
    assert_eq!(
        details["customer"],
        json!({"id": "dl_hl", "name": "Ana", "email": "ana@example.com"}),
        "the token's name wins; the body only fills in what the token lacks"
    );

    // A token with no context: the body's, even a malformed one, is ignored, not refused.
    for body in [credit_card.clone(), json!({"context": "CreditCard"})] {
        let (_, issued) = dl.post("/tokens/generate", SECRET, json!({})).await;
        let (status, started) = dl.post("/conversations", issued["token"].as_str().unwrap(), body).await;
        assert_eq!(status, 201, "{started}");
        let details = details_of(started["conversationId"].as_str().unwrap()).await;
        assert_eq!(details["queue"], "BotQueue", "{details}");
    }

    // The secret's holder is the backend: its body context routes.
    let (id, _) = dl.start_with_secret(SECRET, credit_card).await;
    assert_eq!(details_of(&id).await["queue"], "CreditCardQueue");
    f.finish().await;
}

#[tokio::test]
async fn the_name_in_the_token_wins_over_the_from_name_a_page_posts() {
    let f = TestHub::sample("dl-token-name").await;
    let bot = f.bot.clone().unwrap();
    let dl = Client::new(&f);
    let (id, token) = dl.start(json!({"user": {"id": "dl_alice", "name": "Alice"}})).await;
    let mallory = json!({"id": "dl_alice", "name": "Mallory"});
    let (status, body) = dl
        .post(
            &format!("/conversations/{id}/activities"),
            &token,
            message_from("hi", mallory.clone()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(bot.wait_for(3).await[2]["from"]["name"], "Alice", "what the bot sees");
    let (_, set) = dl.get(&format!("/conversations/{id}/activities"), &token).await;
    assert_eq!(set["activities"][0]["from"]["name"], "Alice", "what is stored: {set}");

    // A token without a name leaves the page's.
    let (other, nameless) = dl.start(json!({"user": {"id": "dl_anon"}})).await;
    dl.post(
        &format!("/conversations/{other}/activities"),
        &nameless,
        message_from("hello", mallory),
    )
    .await;
    let (_, set) = dl.get(&format!("/conversations/{other}/activities"), &nameless).await;
    assert_eq!(set["activities"][0]["from"]["name"], "Mallory", "{set}");
    f.finish().await;
}
