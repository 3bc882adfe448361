//! The hub's own customer chat page, `/chat`: its assets come from the binary, `/chat/token`
//! issues Direct Line tokens for the first chat channel (with which a browser cannot choose its
//! own routing), and in headless Chromium on a phone-sized screen (`compat/browser/chat-page.js`)
//! it shows a real `botbuilder` bot's greeting, sends a message, marks it sent and shows the
//! reply with the bot's display name.

use std::time::Duration;

use serde_json::Value;

mod common;
use common::TestHub;
use common::compat::{BotKind, run_browser_script, start_bot};

async fn get(f: &TestHub, path: &str) -> reqwest::Response {
    reqwest::get(format!("{}{path}", f.base)).await.unwrap()
}

#[tokio::test]
async fn the_chat_page_and_its_assets_are_served_from_the_binary() {
    let f = TestHub::sample("chat-assets").await;
    for (path, content_type, needle) in [
        ("/chat", "text/html", r#"<script src="chat/chat.js">"#),
        ("/chat/chat.js", "text/javascript", "clientActivityID"),
        ("/chat/chat.css", "text/css", ".chat__composer"),
        (
            "/chat/call-worklet.js",
            "text/javascript",
            "registerProcessor('switchboard-capture'",
        ),
    ] {
        let response = get(&f, path).await;
        assert_eq!(response.status(), 200, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert!(header("content-type").starts_with(content_type), "{path}");
        if path == "/chat" {
            assert!(header("content-security-policy").contains("script-src 'self'"));
        }
        assert!(response.text().await.unwrap().contains(needle), "{path}");
    }
    f.finish().await;
}

#[tokio::test]
async fn a_chat_page_token_starts_a_conversation_on_the_first_direct_line_channel() {
    let f = TestHub::sample("chat-token").await;
    let client = reqwest::Client::new();
    let response = client.post(format!("{}/chat/token", f.base)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let issued: Value = response.json().await.unwrap();
    assert!(issued["expires_in"].as_u64().unwrap() > 0);
    assert!(issued.get("streamUrl").is_none());

    let started = client
        .post(format!("{}/v3/directline/conversations", f.base))
        .bearer_auth(issued["token"].as_str().unwrap())
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 201);
    let started: Value = started.json().await.unwrap();
    assert_eq!(started["conversationId"], issued["conversationId"]);
    let (_, details) = f
        .get_json(&format!(
            "/api/v1/conversations/{}",
            issued["conversationId"].as_str().unwrap()
        ))
        .await;
    assert_eq!(details["workstream"], "ChatWorkStream", "{details}");
    f.finish().await;
}

#[tokio::test]
async fn a_browser_with_a_chat_page_token_cannot_route_itself_past_the_bot() {
    let f = TestHub::sample("chat-token-context").await;
    let client = reqwest::Client::new();
    let issued: Value = client
        .post(format!("{}/chat/token", f.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let started = client
        .post(format!("{}/v3/directline/conversations", f.base))
        .bearer_auth(issued["token"].as_str().unwrap())
        .json(&serde_json::json!({"context": {"BotHandoffTopic": "CreditCard"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 201, "a context in the body does not fail the start");
    let id = issued["conversationId"].as_str().unwrap();
    let (_, details) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(details["queue"], "BotQueue", "{details}");
    assert_eq!(details["context"], serde_json::json!({}), "{details}");
    f.finish().await;
}

#[tokio::test]
async fn without_a_direct_line_channel_the_chat_page_gets_no_token() {
    let mut config = switchboard::config::SAMPLE.to_owned();
    let start = config.find("[[directline]]").unwrap();
    let end = start + config[start..].find("\n\n").unwrap();
    config.replace_range(start..end, "");
    let f = TestHub::new("chat-no-channel", &config).await;
    let response = reqwest::Client::new()
        .post(format!("{}/chat/token", f.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "NotFound");
    f.finish().await;
}

#[tokio::test]
async fn in_chromium_the_chat_page_greets_sends_and_shows_the_bots_reply() {
    let Some(bot) = start_bot(BotKind::Node, &[]).await else {
        return;
    };
    let f = TestHub::sample_with_bot("chat-page", &bot.endpoint()).await;
    let screenshot = f.dir.join("chat-page.png");
    let screenshot = screenshot.to_str().unwrap();
    let Some(run) = run_browser_script(
        "browser/chat-page.js",
        &[
            ("HUB_URL", f.base.as_str()),
            ("CHAT_GREETING", "Hello from the node bot"),
            ("CHAT_SEND", "hi"),
            ("CHAT_EXPECT", "Echo: hi"),
            ("SCREENSHOT", screenshot),
        ],
        Duration::from_secs(60),
    )
    .await
    else {
        f.finish().await;
        return;
    };
    assert!(
        run.success,
        "the chat page did not complete the exchange:\n{}",
        run.report()
    );

    let transcript = run.transcript();
    let texts: Vec<&str> = transcript.iter().filter_map(|i| i["text"].as_str()).collect();
    assert_eq!(texts, ["Hello from the node bot", "hi", "Echo: hi"], "{transcript:?}");
    assert_eq!(
        transcript[0]["name"], "Contoso Assistant",
        "the bot's display name labels its messages"
    );
    assert_eq!(transcript[1]["state"], "sent");
    assert!(
        std::path::Path::new(screenshot).is_file(),
        "no screenshot at {screenshot}"
    );
    f.finish().await;
}

#[tokio::test]
async fn a_call_from_the_page_to_a_hub_without_a_voice_channel_is_refused_with_a_reason() {
    let without_voice = switchboard::config::SAMPLE
        .split("\n[voice]\n")
        .next()
        .unwrap()
        .to_owned();
    assert!(!without_voice.contains("[voice.numbers]"));
    let f = TestHub::new("chat-call-no-voice", &without_voice).await;
    let url = format!("{}/chat/call", f.base.replace("http://", "ws://"));
    let error = tokio_tungstenite::connect_async(url.as_str()).await.unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = error else {
        panic!("{error}")
    };
    assert_eq!(response.status(), 404);
    let body: Value = serde_json::from_slice(response.body().as_deref().unwrap_or_default()).unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["error"]["message"].as_str().unwrap().contains("[voice]"), "{body}");
    f.finish().await;
}
