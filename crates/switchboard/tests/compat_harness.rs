//! The compatibility harness on its own, without a hub: each real SDK bot starts, accepts an
//! unauthenticated activity POSTed straight to its endpoint and reports what its turn logic saw.

use std::time::Duration;

use serde_json::{Value, json};

mod common;
use common::compat::{BotKind, start_bot};

async fn bot_accepts_an_anonymous_message_and_reports_it(kind: BotKind) {
    let Some(bot) = start_bot(kind, &[("COMPAT_SILENT", "1")]).await else {
        return;
    };
    let activity = json!({
        "type": "message", "id": "a1", "text": "hi", "channelId": "directline",
        "serviceUrl": "http://127.0.0.1:9/", "conversation": {"id": "c1"},
        "from": {"id": "u1"}, "recipient": {"id": "bot"}
    });

    let response = reqwest::Client::new()
        .post(bot.endpoint())
        .json(&activity)
        .send()
        .await
        .unwrap();

    let status = response.status();
    assert!(
        status.is_success(),
        "{kind:?} bot answered {status}; stderr: {:?}",
        bot.stderr_lines()
    );
    let line = bot
        .wait_for_line(|l| l.starts_with("ACTIVITY "), Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("{kind:?} bot printed no ACTIVITY line; stdout: {:?}", bot.lines()));
    let seen: Value = serde_json::from_str(&line["ACTIVITY ".len()..]).unwrap();
    assert_eq!(seen["type"], "message");
    assert_eq!(seen["id"], "a1");
    assert_eq!(seen["text"], "hi");
    assert_eq!(seen["channelId"], "directline");
    assert_eq!(seen["serviceUrl"], "http://127.0.0.1:9/");
}

#[tokio::test]
async fn node_sdk_bot_accepts_an_anonymous_message_and_reports_it() {
    bot_accepts_an_anonymous_message_and_reports_it(BotKind::Node).await;
}

#[tokio::test]
async fn python_sdk_bot_accepts_an_anonymous_message_and_reports_it() {
    bot_accepts_an_anonymous_message_and_reports_it(BotKind::Python).await;
}
