//! The built-in demo bot that `switchboard serve` runs, end to end against a real hub: it greets,
//! answers, escalates credit-card and home-loan questions with the right topic, and ends the
//! conversation on "bye".

use domain::ConversationId;
use domain::conversation::Customer;
use serde_json::json;

mod common;
use common::TestHub;

async fn hub_with_demo_bot() -> TestHub {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/api/messages", listener.local_addr().unwrap());
    tokio::spawn(switchboard::demo_bot::serve(listener, std::future::pending()));
    TestHub::new(
        "demo-bot",
        &switchboard::config::SAMPLE.replace(common::SAMPLE_BOT_ENDPOINT, &endpoint),
    )
    .await
}

async fn open(f: &TestHub) -> ConversationId {
    let id = f
        .hub
        .open_conversation("ChatWorkStream", Customer::default(), Default::default())
        .await
        .unwrap()
        .conversation
        .id;
    f.wait_for_bot_text(id, |t| t == switchboard::demo_bot::GREETING).await;
    id
}

async fn say(f: &TestHub, id: ConversationId, text: &str) {
    let sent = f
        .hub
        .accept_from_customer(id, botframework::Activity::message(text))
        .await
        .unwrap();
    assert_eq!(sent.delivery, engine::CustomerDelivery::Bot);
}

#[tokio::test]
async fn the_demo_bot_greets_answers_and_escalates_credit_card_questions() {
    let f = hub_with_demo_bot().await;
    let id = open(&f).await;
    say(&f, id, "What are your opening hours?").await;
    f.wait_for_bot_text(id, |t| t.contains("Monday to Friday")).await;
    say(&f, id, "my credit card was declined").await;
    f.wait_for_bot_text(id, |t| t == "Let me connect you with a credit card specialist.")
        .await;
    let details = f
        .details_when(&id.to_string(), |b| b["queue"] == "CreditCardQueue")
        .await;
    assert_eq!(details["context"]["BotHandoffTopic"], "CreditCard");
    assert!(
        details["escalation_summaries"][0]
            .as_str()
            .unwrap()
            .contains("my credit card was declined"),
        "{details}"
    );
    f.finish().await;
}

#[tokio::test]
async fn the_demo_bot_sends_home_loan_questions_to_the_home_loan_queue_and_ends_on_bye() {
    let f = hub_with_demo_bot().await;
    let loan = open(&f).await;
    say(&f, loan, "I'd like a home loan").await;
    let details = f
        .details_when(&loan.to_string(), |b| b["queue"] == "HomeLoanQueue")
        .await;
    assert_eq!(details["context"]["BotHandoffTopic"], "HomeLoan");

    let done = open(&f).await;
    say(&f, done, "bye").await;
    let details = f.details_when(&done.to_string(), |b| b["state"] == "closed").await;
    assert_eq!(details["outcome"], json!("resolved_by_bot"));
    f.finish().await;
}
