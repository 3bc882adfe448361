//! The sample configuration's rules, run through the real hub on a real SQLite store: where each
//! conversation goes, who gets it, and that the routing trace is stored with it.

use domain::assign::WaitReason;
use domain::context::RawValue;
use domain::conversation::Customer;
use domain::{ConversationState, Owner, Presence, UserName};
use engine::Hub;

mod common;
use common::TestHub;

fn customer() -> Customer {
    Customer {
        id: "customer-1".into(),
        name: Some("Pat".into()),
        email: None,
    }
}

async fn open_with_topic(hub: &std::sync::Arc<Hub>, topic: Option<&str>) -> engine::Opened {
    let values: Vec<(&str, RawValue<'_>)> = topic
        .map(|t| ("BotHandoffTopic", RawValue::Text(t)))
        .into_iter()
        .collect();
    let context = hub.check_context("ChatWorkStream", values).unwrap();
    hub.open_conversation("ChatWorkStream", customer(), context)
        .await
        .unwrap()
}

fn user(name: &str) -> UserName {
    UserName::new(name).unwrap()
}

#[tokio::test]
async fn a_conversation_without_a_topic_goes_to_the_bot_queue_and_the_demo_bot_answers_first() {
    let t = TestHub::sample("sample").await;
    let hub = &t.hub;
    hub.set_presence("carol", Presence::Available).await.unwrap();
    let opened = open_with_topic(hub, None).await;
    assert_eq!(opened.decision.queue.as_str(), "BotQueue");
    assert_eq!(opened.decision.rule.as_ref().unwrap().as_str(), "BotRule");
    assert_eq!(opened.conversation.state, ConversationState::Active);
    assert_eq!(
        opened.conversation.owner,
        Some(Owner::Bot(user("DemoBot"))),
        "the bot is offered it before carol"
    );
    assert_eq!(hub.member(&user("carol")).await.unwrap().used.0, 0);

    let stored = hub
        .store()
        .get_conversation(opened.conversation.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, ConversationState::Active);
    assert!(stored.bot_engaged);
    let history = hub.store().routing_history(opened.conversation.id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].decision, opened.decision);
    assert!(history[0].decision.trace[0].matched);
    t.finish().await;
}

#[tokio::test]
async fn credit_card_goes_to_the_credit_card_queue_and_the_agent_with_most_free_capacity() {
    let t = TestHub::sample("sample").await;
    let hub = &t.hub;
    for agent in ["alice", "carol"] {
        hub.set_presence(agent, Presence::Available).await.unwrap();
    }
    let opened = open_with_topic(hub, Some("CreditCard")).await;
    assert_eq!(opened.decision.queue.as_str(), "CreditCardQueue");
    assert_eq!(opened.decision.rule.as_ref().unwrap().as_str(), "CreditCardRule");
    let trace: Vec<_> = opened
        .decision
        .trace
        .iter()
        .map(|t| (t.rule.as_str(), t.matched))
        .collect();
    assert_eq!(trace, [("BotRule", false), ("CreditCardRule", true)]);
    // alice has 3 free units, carol 2: alice is offered it and one of her units is taken at once,
    // so it cannot be offered twice; it waits for her answer.
    let id = opened.conversation.id;
    assert_eq!(opened.conversation.state, ConversationState::Waiting);
    assert_eq!(hub.offer(id).await.unwrap().unwrap().agent, user("alice"));
    assert_eq!(hub.member(&user("alice")).await.unwrap().used.0, 1);
    let accepted = hub.accept_offer(&user("alice"), id).await.unwrap();
    assert_eq!(accepted.owner, Some(Owner::Agent(user("alice"))));
    assert_eq!(accepted.state, ConversationState::Active);
    assert_eq!(hub.member(&user("alice")).await.unwrap().used.0, 1);
    t.finish().await;
}

#[tokio::test]
async fn home_loan_goes_to_the_home_loan_queue_and_waits_when_nobody_is_available() {
    let t = TestHub::sample("sample").await;
    let hub = &t.hub;
    let opened = open_with_topic(hub, Some("HomeLoan")).await;
    assert_eq!(opened.decision.queue.as_str(), "HomeLoanQueue");
    assert_eq!(opened.conversation.state, ConversationState::Waiting);
    assert_eq!(
        opened.waiting,
        Some(WaitReason::NoneAvailable),
        "every demo agent starts offline"
    );
    let stored = hub
        .store()
        .get_conversation(opened.conversation.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.state, stored.queue.unwrap().as_str().to_owned()),
        (ConversationState::Waiting, "HomeLoanQueue".to_owned())
    );
    t.finish().await;
}

#[tokio::test]
async fn any_other_topic_goes_to_the_fallback_queue_with_every_rule_traced() {
    let t = TestHub::sample("sample").await;
    let hub = &t.hub;
    for topic in ["Mortgage", "creditcard"] {
        let opened = open_with_topic(hub, Some(topic)).await;
        assert_eq!(opened.decision.queue.as_str(), "DefaultQueue", "{topic}");
        assert_eq!(opened.decision.rule, None);
        assert_eq!(opened.decision.trace.len(), 3);
        assert!(opened.decision.trace.iter().all(|t| !t.matched && !t.reason.is_empty()));
    }
    t.finish().await;
}

#[tokio::test]
async fn context_values_are_checked_against_the_workstream() {
    let t = TestHub::sample("sample").await;
    let hub = &t.hub;
    let err = hub
        .check_context("ChatWorkStream", [("Topic", RawValue::Text("x"))])
        .unwrap_err();
    assert!(err.to_string().contains("`Topic` is not a context variable"), "{err}");
    let err = hub.check_context("NoSuchWorkstream", []).unwrap_err();
    assert!(err.to_string().contains("NoSuchWorkstream"), "{err}");
    t.finish().await;
}
