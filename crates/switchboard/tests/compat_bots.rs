//! Real Bot Framework SDK bots, unchanged apart from configuration, against a real hub: npm
//! `botbuilder` 4.23 (`CloudAdapter`, anonymous) and PyPI `botbuilder-core` 4.17 with
//! `botbuilder-integration-aiohttp` (anonymous). Each greets on join, echoes, reads the context
//! event, is refused a bad escalation, escalates to CreditCardQueue with a summary, and ends a
//! conversation resolved by the bot — observed through `GET /api/v1/conversations/{id}`.
//!
//! The bots live in `compat/` (see its README); the harness installs their dependencies from the
//! lockfiles on first use, and the tests say they were skipped when Node or Python is missing
//! (outside CI; under `CI=true` that is a failure).

use domain::ConversationId;
use domain::conversation::Customer;
use serde_json::json;

mod common;
use common::TestHub;
use common::compat::{BotKind, start_bot};

fn config_for(endpoint: &str) -> String {
    switchboard::config::SAMPLE.replace(common::SAMPLE_BOT_ENDPOINT, endpoint)
}

async fn say(f: &TestHub, id: ConversationId, text: &str) {
    let sent = f
        .hub
        .accept_from_customer(id, botframework::Activity::message(text))
        .await
        .unwrap();
    assert_eq!(sent.delivery, engine::CustomerDelivery::Bot, "the bot took `{text}`");
}

async fn open(f: &TestHub) -> ConversationId {
    let customer = Customer {
        id: "dl_compat_customer".to_owned(),
        name: Some("Casey".to_owned()),
        email: None,
    };
    f.hub
        .open_conversation("ChatWorkStream", customer, Default::default())
        .await
        .unwrap()
        .conversation
        .id
}

async fn a_real_sdk_bot_answers_first_escalates_with_context_and_ends(kind: BotKind, who: &str) {
    let Some(bot) = start_bot(kind, &[]).await else { return };
    let f = TestHub::new("compat", &config_for(&bot.endpoint())).await;

    // Greeting on join, then echo.
    let id = open(&f).await;
    f.wait_for_bot_text(id, |t| t == format!("Hello from the {who} bot"))
        .await;
    say(&f, id, "hi").await;
    f.wait_for_bot_text(id, |t| t == "Echo: hi").await;

    // The context event reached the bot.
    say(&f, id, "context?").await;
    let reply = f.wait_for_bot_text(id, |t| t.starts_with("Context: ")).await;
    let context: serde_json::Value =
        serde_json::from_str(reply["text"].as_str().unwrap().trim_start_matches("Context: ")).unwrap();
    assert_eq!(context["msdyn_liveworkitemid"], id.to_string());

    // An escalation naming an undefined variable is refused with 400; nothing changes.
    say(&f, id, "bad topic").await;
    f.wait_for_bot_text(id, |t| t == "escalation refused: 400").await;
    let (_, before) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(before["owner"], json!({"kind": "bot", "name": "DemoBot"}));

    // Escalation with BotHandoffTopic=CreditCard lands in CreditCardQueue with the summary.
    say(&f, id, "I have a question about my credit card").await;
    let mut details = json!(null);
    for _ in 0..200 {
        let (status, body) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
        assert_eq!(status, 200, "{body}");
        if body["queue"] == "CreditCardQueue" {
            details = body;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(details["queue"], "CreditCardQueue", "{details}");
    assert_eq!(details["context"]["BotHandoffTopic"], "CreditCard");
    assert_eq!(
        details["escalation_summaries"],
        json!(["Customer asks about a credit card limit"])
    );
    assert_eq!(details["escalated_by"], json!(["DemoBot"]));
    assert_eq!(details["state"], "waiting", "no agent is available yet");
    let routing = details["routing"].as_array().unwrap();
    let last = routing.last().unwrap();
    assert_eq!(
        (&last["cause"], &last["rule"]),
        (&json!("bot_escalated"), &json!("CreditCardRule"))
    );
    assert!(
        last["trace"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["rule"] == "CreditCardRule" && t["matched"] == true)
    );

    // A second conversation ends with EndConversation: closed, resolved by the bot.
    let other = open(&f).await;
    f.wait_for_bot_text(other, |t| t == format!("Hello from the {who} bot"))
        .await;
    say(&f, other, "bye").await;
    let mut ended = json!(null);
    for _ in 0..200 {
        let (_, body) = f.get_json(&format!("/api/v1/conversations/{other}")).await;
        if body["state"] == "closed" {
            ended = body;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        (&ended["state"], &ended["outcome"]),
        (&json!("closed"), &json!("resolved_by_bot")),
        "{ended}"
    );
    f.finish().await;
}

#[tokio::test]
async fn a_botbuilder_js_bot_answers_first_escalates_with_context_and_ends() {
    a_real_sdk_bot_answers_first_escalates_with_context_and_ends(BotKind::Node, "node").await;
}

#[tokio::test]
async fn a_botbuilder_python_bot_answers_first_escalates_with_context_and_ends() {
    a_real_sdk_bot_answers_first_escalates_with_context_and_ends(BotKind::Python, "python").await;
}
