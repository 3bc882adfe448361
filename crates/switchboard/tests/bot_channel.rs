//! The hub → bot half of the Bot Framework channel, on a real hub (SQLite, HTTP on port 0) with
//! the sample configuration and a bot endpoint that records what it gets: what a bot receives
//! when it is given a conversation, customer messages in order, retries, refusals, and the
//! fallback when the bot cannot be reached.

use domain::activity::{SenderRole, Visibility};
use domain::conversation::Customer;
use domain::{ConversationState, Seq};
use engine::{CustomerDelivery, DeliveryError};
use serde_json::{Value, json};

mod common;
use common::{RecordingBot, TestHub};

fn customer() -> Customer {
    Customer {
        id: "dl_ana".to_owned(),
        name: Some("Ana".to_owned()),
        email: None,
    }
}

fn message(text: &str) -> botframework::Activity {
    botframework::Activity::message(text)
}

#[tokio::test]
async fn a_bot_given_a_conversation_gets_conversation_update_then_the_context_event() {
    let f = TestHub::sample("bf-join").await;
    let bot = f.bot.clone().unwrap();
    let opened = f
        .hub
        .open_conversation("ChatWorkStream", customer(), Default::default())
        .await
        .unwrap();
    let id = opened.conversation.id.to_string();
    let got = bot.wait_for(2).await;

    let update = &got[0];
    assert_eq!(update["type"], "conversationUpdate");
    assert_eq!(update["serviceUrl"], f.base.as_str(), "exactly the hub's public URL");
    assert_eq!(update["channelId"], "directline");
    assert_eq!(update["locale"], "en-US", "the tenant's default locale");
    assert_eq!(update["conversation"]["id"], id.as_str());
    assert_eq!(
        update["recipient"],
        json!({"id": "DemoBot", "name": "Contoso Assistant", "role": "bot"})
    );
    assert_eq!(update["from"], json!({"id": "dl_ana", "name": "Ana", "role": "user"}));
    let added: Vec<&str> = update["membersAdded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(added, ["DemoBot", "dl_ana"]);
    assert!(update["id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(update["timestamp"].as_str().is_some_and(|s| s.ends_with('Z')));

    let event = &got[1];
    assert_eq!(
        (&event["type"], &event["name"]),
        (&json!("event"), &json!("startConversation"))
    );
    assert_eq!(event["value"]["msdyn_liveworkitemid"], id.as_str());
    assert_eq!(event["serviceUrl"], f.base.as_str());
    assert_ne!(event["id"], update["id"]);
    assert_eq!(
        bot.authorizations(),
        [None, None],
        "anonymous bots get no Authorization header"
    );

    let log = f
        .hub
        .store()
        .activities_after(opened.conversation.id, Seq::ZERO, 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 2, "both are kept in the transcript");
    assert!(
        log.iter()
            .all(|a| a.activity.visibility == Visibility::AgentsOnly && a.activity.sender_role == SenderRole::System)
    );
    f.finish().await;
}

#[tokio::test]
async fn the_context_event_carries_the_conversation_context_variables() {
    let config = switchboard::config::SAMPLE.replace(
        "[workstreams.variables]\nBotHandoffTopic = \"text\"",
        "[workstreams.variables]\nBotHandoffTopic = \"text\"\nCustomerTier = \"number\"\nCustomerName = \"text\"",
    );
    let bot = RecordingBot::start().await;
    let f = TestHub::new(
        "bf-context",
        &config.replace(common::SAMPLE_BOT_ENDPOINT, &bot.endpoint()),
    )
    .await;
    let context = f
        .hub
        .check_context(
            "ChatWorkStream",
            [
                ("CustomerTier", domain::context::RawValue::Number(2.0)),
                ("CustomerName", domain::context::RawValue::Text("Ana")),
            ],
        )
        .unwrap();
    f.hub
        .open_conversation("ChatWorkStream", customer(), context)
        .await
        .unwrap();
    let got = bot.wait_for(2).await;
    let value = &got[1]["value"];
    assert_eq!(value["CustomerTier"], json!(2), "whole numbers go as integers");
    assert_eq!(value["CustomerName"], "Ana");
    let text: Value = serde_json::from_str(got[1]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text["EventName"], "startConversation");
    f.finish().await;
}

#[tokio::test]
async fn customer_messages_reach_the_bot_in_the_order_stored_with_their_stored_ids() {
    let f = TestHub::sample("bf-order").await;
    let bot = f.bot.clone().unwrap();
    let id = f
        .hub
        .open_conversation("ChatWorkStream", customer(), Default::default())
        .await
        .unwrap()
        .conversation
        .id;
    let mut sent = Vec::new();
    for n in 0..5 {
        let s = f
            .hub
            .accept_from_customer(id, message(&format!("message {n}")))
            .await
            .unwrap();
        assert_eq!(s.delivery, CustomerDelivery::Bot);
        sent.push(s);
    }
    let got = bot.wait_for(7).await;
    for (n, (activity, s)) in got[2..].iter().zip(&sent).enumerate() {
        assert_eq!(activity["text"], format!("message {n}"));
        assert_eq!(activity["id"], s.id.as_str());
        assert_eq!(activity["from"]["id"], "dl_ana");
        assert_eq!(activity["recipient"]["id"], "DemoBot");
        assert_eq!(activity["serviceUrl"], f.base.as_str());
    }
    let seqs: Vec<u64> = sent.iter().map(|s| s.seq.0).collect();
    assert_eq!(seqs, [3, 4, 5, 6, 7]);
    f.finish().await;
}

#[tokio::test]
async fn a_bot_that_refuses_an_activity_is_reported_and_keeps_the_conversation() {
    let f = TestHub::sample("bf-refuse").await;
    let bot = f.bot.clone().unwrap();
    let id = f
        .hub
        .open_conversation("ChatWorkStream", customer(), Default::default())
        .await
        .unwrap()
        .conversation
        .id;
    bot.wait_for(2).await;
    bot.answer_with(400);
    let sent = f.hub.accept_from_customer(id, message("hello")).await.unwrap();
    assert!(
        matches!(
            &sent.delivery,
            CustomerDelivery::BotFailed(DeliveryError::Rejected { status: 400, .. })
        ),
        "{:?}",
        sent.delivery
    );
    assert_eq!(bot.activities().len(), 3, "a 4xx is not retried");
    let conv = f.hub.store().get_conversation(id).await.unwrap().unwrap();
    assert_eq!(conv.state, ConversationState::Active);
    f.finish().await;
}

/// Waits (10 s at most) until the conversation is no longer owned by its bot.
async fn wait_until_bot_left(f: &TestHub, id: domain::ConversationId) -> domain::conversation::Conversation {
    for _ in 0..200 {
        let conv = f.hub.store().get_conversation(id).await.unwrap().unwrap();
        if conv.owner.is_none() || conv.state != ConversationState::Active {
            return conv;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the conversation stayed with its bot");
}

#[tokio::test]
async fn a_bot_answering_5xx_is_retried_then_the_conversation_is_escalated_without_it() {
    let f = TestHub::sample("bf-5xx").await;
    let bot = f.bot.clone().unwrap();
    bot.answer_with(503);
    let id = f
        .hub
        .open_conversation("ChatWorkStream", customer(), Default::default())
        .await
        .unwrap()
        .conversation
        .id;
    let conv = wait_until_bot_left(&f, id).await;
    let attempts = bot.activities();
    assert_eq!(attempts.len(), 3, "three attempts of the conversationUpdate");
    assert!(
        attempts.windows(2).all(|w| w[0]["id"] == w[1]["id"]),
        "a retry carries the same activity id"
    );
    assert_eq!(conv.escalated_by, [domain::UserName::new("DemoBot").unwrap()]);
    // BotRule sends it back to BotQueue, where only carol (offline) is left besides the bot.
    assert_eq!(
        (conv.state, conv.queue.as_ref().map(|q| q.as_str())),
        (ConversationState::Waiting, Some("BotQueue"))
    );

    let (status, body) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(status, 200);
    let routing = body["routing"].as_array().unwrap();
    assert_eq!(routing.len(), 2);
    assert_eq!(
        (&routing[0]["cause"], &routing[1]["cause"]),
        (&json!("opened"), &json!("bot_unavailable"))
    );

    let log = f.hub.store().activities_after(id, Seq::ZERO, 10).await.unwrap();
    let notice = log
        .iter()
        .find(|a| a.activity.visibility == Visibility::Everyone)
        .expect("the customer is told");
    assert!(
        notice.activity.body.contains("transferring you to a person"),
        "{}",
        notice.activity.body
    );
    f.finish().await;
}

#[tokio::test]
async fn a_bot_that_is_down_makes_its_conversation_reach_the_fallback_path() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = switchboard::config::SAMPLE
        .replace(
            common::SAMPLE_BOT_ENDPOINT,
            &format!("http://127.0.0.1:{port}/api/messages"),
        )
        // A bot-only first queue, so the escalation must leave it for the fallback queue.
        .replace(r#"members = ["DemoBot", "carol"]"#, r#"members = ["DemoBot"]"#);
    let f = TestHub::new("bf-down", &config).await;
    let opened = f
        .hub
        .open_conversation("ChatWorkStream", customer(), Default::default())
        .await
        .unwrap();
    let id = opened.conversation.id;
    let sent = f
        .hub
        .accept_from_customer(id, message("is anyone there?"))
        .await
        .unwrap();
    assert!(
        matches!(
            &sent.delivery,
            CustomerDelivery::BotFailed(DeliveryError::Unavailable { .. })
        ),
        "{:?}",
        sent.delivery
    );
    let conv = wait_until_bot_left(&f, id).await;
    assert_eq!(conv.queue.as_ref().map(|q| q.as_str()), Some("DefaultQueue"));
    let (_, body) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(body["routing"][1]["cause"], "bot_unavailable");
    assert_eq!(body["routing"][1]["queue"], "DefaultQueue");
    assert_eq!(body["state"], "waiting");
    f.finish().await;
}
