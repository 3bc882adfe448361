//! A bot's activities through the real hub on SQLite, with the sample configuration: messages for
//! the customer, Omnichannel's Escalate and EndConversation commands, and every refusal.

use botframework::omnichannel::{self, end_conversation_activity, escalate_activity};
use botframework::{Activity, Attachment, ChannelAccount};
use domain::activity::Visibility;
use domain::context::ContextValue;
use domain::conversation::Customer;
use domain::{ConversationState, Outcome, Owner, Presence, Seq, UserName};
use engine::{BotCaller, BotEffect, EngineError};
use serde_json::json;
use switchboard::config;

mod common;
use common::TestHub;

struct Fixture(TestHub);

impl std::ops::Deref for Fixture {
    type Target = TestHub;
    fn deref(&self) -> &TestHub {
        &self.0
    }
}

impl Fixture {
    async fn new(config_text: &str) -> Self {
        Self(TestHub::new("bots", config_text).await)
    }

    async fn sample() -> Self {
        Self::new(config::SAMPLE).await
    }

    /// A conversation the demo bot owns.
    async fn with_bot(&self) -> domain::ConversationId {
        let opened = self
            .hub
            .open_conversation("ChatWorkStream", Customer::default(), Default::default())
            .await
            .unwrap();
        assert_eq!(opened.conversation.owner, Some(Owner::Bot(user("DemoBot"))));
        opened.conversation.id
    }

    /// What the bot stored in the conversation (leaving out what the hub itself logged, such as
    /// the bot's joining).
    async fn bot_log(&self, id: domain::ConversationId) -> Vec<domain::activity::StoredActivity> {
        let log = self.hub.store().activities_after(id, Seq::ZERO, 100).await.unwrap();
        log.into_iter()
            .filter(|a| a.activity.sender_role != domain::activity::SenderRole::System)
            .collect()
    }

    async fn finish(self) {
        self.0.finish().await;
    }
}

fn user(name: &str) -> UserName {
    UserName::new(name).unwrap()
}

fn from(mut activity: Activity, id: &str) -> Activity {
    activity.from = Some(serde_json::from_value::<ChannelAccount>(json!({ "id": id, "name": "Bot" })).unwrap());
    activity
}

fn context(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    value.as_object().unwrap().clone()
}

#[tokio::test]
async fn a_bot_message_is_stored_for_the_customer_with_the_next_sequence_number() {
    let f = Fixture::sample().await;
    let id = f.with_bot().await;
    // 1 and 2 are the conversationUpdate and startConversation the bot got when it joined.
    for expected in [3, 4] {
        let sent = f
            .hub
            .accept_from_bot(id, BotCaller::Anonymous, from(Activity::message("Hello!"), "DemoBot"))
            .await
            .unwrap();
        assert_eq!((sent.seq, sent.effect), (Seq(expected), BotEffect::Delivered));
    }
    let log = f.bot_log(id).await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].activity.visibility, Visibility::Everyone);
    let body: serde_json::Value = serde_json::from_str(&log[0].activity.body).unwrap();
    assert_eq!(body["text"], "Hello!");
    assert_eq!(
        body["id"],
        log[0].activity.id.as_str(),
        "the stored activity carries the id the hub gave it"
    );
    f.finish().await;
}

#[tokio::test]
async fn escalating_with_credit_card_lands_in_the_credit_card_queue_with_the_summary_for_agents_only() {
    let f = Fixture::sample().await;
    f.hub.set_presence("alice", Presence::Available).await.unwrap();
    let id = f.with_bot().await;
    let escalate = escalate_activity(
        "Customer asks about a credit card limit",
        context(json!({"BotHandoffTopic": "CreditCard"})),
    );
    let sent = f
        .hub
        .accept_from_bot(id, BotCaller::Anonymous, from(escalate, "DemoBot"))
        .await
        .unwrap();
    let BotEffect::Escalated { decision, waiting } = sent.effect else {
        panic!("{:?}", sent.effect)
    };
    assert_eq!((decision.queue.as_str(), waiting), ("CreditCardQueue", None));

    assert_eq!(
        f.hub.offer(id).await.unwrap().unwrap().agent,
        user("alice"),
        "alice is offered it"
    );
    f.hub.accept_offer(&user("alice"), id).await.unwrap();
    let conv = f.hub.store().get_conversation(id).await.unwrap().unwrap();
    assert_eq!(conv.owner, Some(Owner::Agent(user("alice"))));
    assert_eq!(
        conv.context.get("BotHandoffTopic"),
        Some(&ContextValue::Text("CreditCard".into()))
    );
    assert_eq!(conv.escalated_by, vec![user("DemoBot")]);
    assert_eq!(
        f.hub.store().routing_history(id).await.unwrap().len(),
        2,
        "both decisions are kept"
    );
    let log = f.hub.store().activities_after(id, Seq::ZERO, 10).await.unwrap();
    assert_eq!(
        log[0].activity.visibility,
        Visibility::AgentsOnly,
        "the escalation summary is for agents only"
    );

    let after = f
        .hub
        .accept_from_bot(
            id,
            BotCaller::Anonymous,
            from(Activity::message("still here?"), "DemoBot"),
        )
        .await;
    assert!(
        matches!(after, Err(EngineError::Forbidden(_))),
        "the bot has left: {after:?}"
    );
    f.finish().await;
}

#[tokio::test]
async fn an_escalation_back_to_a_queue_holding_only_that_bot_goes_to_the_fallback_queue() {
    let text = config::SAMPLE.replace("members = [\"DemoBot\", \"carol\"]", "members = [\"DemoBot\"]");
    let f = Fixture::new(&text).await;
    let id = f.with_bot().await;
    let escalate = escalate_activity("", serde_json::Map::new());
    let sent = f
        .hub
        .accept_from_bot(id, BotCaller::Anonymous, from(escalate, "DemoBot"))
        .await
        .unwrap();
    let BotEffect::Escalated { decision, waiting } = sent.effect else {
        panic!("{:?}", sent.effect)
    };
    assert_eq!(decision.queue.as_str(), "DefaultQueue");
    assert_eq!(waiting, Some(domain::assign::WaitReason::NoneAvailable));
    assert_eq!(
        decision.rule.as_ref().map(|r| r.as_str()),
        Some("BotRule"),
        "the trace still shows which rule matched"
    );
    f.finish().await;
}

#[tokio::test]
async fn an_escalation_with_an_unknown_variable_or_a_wrong_type_changes_nothing() {
    let f = Fixture::sample().await;
    let id = f.with_bot().await;
    for (ctx, expected) in [
        (json!({"Topic": "CreditCard"}), "`Topic` is not a context variable"),
        (json!({"BotHandoffTopic": true}), "a boolean"),
        (json!({"BotHandoffTopic": 1.5}), "fractional"),
    ] {
        let escalate = escalate_activity("summary", context(ctx));
        let err = f
            .hub
            .accept_from_bot(id, BotCaller::Anonymous, from(escalate, "DemoBot"))
            .await
            .unwrap_err();
        assert!(matches!(err, EngineError::Context(_)), "{err:?}");
        assert!(err.to_string().contains(expected), "{err}");
    }
    let conv = f.hub.store().get_conversation(id).await.unwrap().unwrap();
    assert_eq!(
        (conv.state, conv.owner),
        (ConversationState::Active, Some(Owner::Bot(user("DemoBot"))))
    );
    assert!(f.bot_log(id).await.is_empty(), "nothing was stored");
    f.finish().await;
}

#[tokio::test]
async fn end_conversation_closes_it_resolved_by_the_bot() {
    let f = Fixture::sample().await;
    let id = f.with_bot().await;
    let sent = f
        .hub
        .accept_from_bot(
            id,
            BotCaller::Anonymous,
            from(end_conversation_activity("Goodbye!"), "DemoBot"),
        )
        .await
        .unwrap();
    assert_eq!(sent.effect, BotEffect::Ended);
    let conv = f.hub.store().get_conversation(id).await.unwrap().unwrap();
    assert_eq!(
        (conv.state, conv.outcome),
        (ConversationState::Closed, Some(Outcome::ResolvedByBot))
    );
    f.finish().await;
}

#[tokio::test]
async fn unbridged_messages_stay_with_agents_when_the_bot_requires_bridging() {
    let text = config::SAMPLE.replace("require_bridged = false", "require_bridged = true");
    let f = Fixture::new(&text).await;
    let id = f.with_bot().await;
    let plain = f
        .hub
        .accept_from_bot(id, BotCaller::Anonymous, from(Activity::message("internal"), "DemoBot"))
        .await
        .unwrap();
    assert_eq!(plain.effect, BotEffect::AgentsOnly);
    let bridged = omnichannel::bridged(from(Activity::message("Hi!"), "DemoBot"));
    let sent = f.hub.accept_from_bot(id, BotCaller::Anonymous, bridged).await.unwrap();
    assert_eq!(sent.effect, BotEffect::Delivered);
    f.finish().await;
}

#[tokio::test]
async fn refusals_are_clear_and_store_nothing() {
    let f = Fixture::sample().await;
    let id = f.with_bot().await;
    let hub = &f.hub;

    let unknown = domain::ConversationId(uuid_v4_like());
    let err = hub
        .accept_from_bot(unknown, BotCaller::Anonymous, from(Activity::message("x"), "DemoBot"))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::ConversationNotFound(_)), "{err:?}");

    let err = hub
        .accept_from_bot(id, BotCaller::Anonymous, from(Activity::message("x"), "alice"))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("`alice` (the activity's from.id) is not a bot"),
        "{err}"
    );

    let err = hub
        .accept_from_bot(
            id,
            BotCaller::App("some-app".to_owned()),
            from(Activity::message("x"), "DemoBot"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Forbidden(_)), "{err:?}");

    let mut card = from(Activity::message("Please sign in"), "DemoBot");
    card.attachments = Some(vec![
        serde_json::from_value::<Attachment>(json!({
            "contentType": "application/vnd.microsoft.card.oauth",
            "content": {"connectionName": "c", "buttons": []}
        }))
        .unwrap(),
    ]);
    let err = hub.accept_from_bot(id, BotCaller::Anonymous, card).await.unwrap_err();
    assert!(
        matches!(err, EngineError::Unsupported(_)) && err.to_string().contains("authentication cards"),
        "{err}"
    );

    let big = from(Activity::message("x".repeat(29 * 1024)), "DemoBot");
    let err = hub.accept_from_bot(id, BotCaller::Anonymous, big).await.unwrap_err();
    assert!(
        matches!(err, EngineError::Activity(botframework::ActivityError::TooLarge { .. })),
        "{err:?}"
    );

    assert!(f.bot_log(id).await.is_empty());
    f.finish().await;
}

fn uuid_v4_like() -> uuid::Uuid {
    uuid::Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0)
}

#[tokio::test]
async fn two_escalations_of_one_conversation_at_once_are_applied_one_at_a_time() {
    let f = Fixture::sample().await;
    for agent in ["alice", "carol"] {
        f.hub.set_presence(agent, Presence::Available).await.unwrap();
    }
    let id = f.with_bot().await;
    let escalate = || {
        from(
            escalate_activity("", context(json!({"BotHandoffTopic": "CreditCard"}))),
            "DemoBot",
        )
    };
    let (a, b) = tokio::join!(
        f.hub.accept_from_bot(id, BotCaller::Anonymous, escalate()),
        f.hub.accept_from_bot(id, BotCaller::Anonymous, escalate())
    );
    let results = [a, b];
    let escalated = results
        .iter()
        .filter(|r| matches!(r, Ok(sent) if matches!(sent.effect, BotEffect::Escalated { .. })))
        .count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(EngineError::Forbidden(_))))
        .count();
    assert_eq!((escalated, refused), (1, 1), "{results:?}");
    let mut used = 0;
    for agent in ["alice", "carol"] {
        used += f.hub.member(&user(agent)).await.unwrap().used.0;
    }
    assert_eq!(used, 1, "exactly one agent's capacity is taken");
    assert_eq!(f.hub.store().routing_history(id).await.unwrap().len(), 2);
    f.finish().await;
}

/// A hub over the sample whose demo bot is a silent [`common::RecordingBot`], with `edit` applied
/// to the configuration, so customers can start chats over Direct Line.
async fn hub_for_customers(tag: &str, edit: impl Fn(String) -> String) -> TestHub {
    let bot = common::RecordingBot::start().await;
    let text = config::SAMPLE.replace(common::SAMPLE_BOT_ENDPOINT, &bot.endpoint());
    TestHub::new(tag, &edit(text)).await
}

/// An EndConversation command with nothing else: no text, no attachments, only
/// `channelData.tags`, as a bot written for Omnichannel may send it.
fn tags_only_end_conversation() -> Activity {
    serde_json::from_value(json!({
        "type": "message",
        "channelData": {"tags": "{\"type\":\"EndConversation\",\"context\":{}}"}
    }))
    .unwrap()
}

/// The types and texts of what the customer's Direct Line client gets, in order.
async fn customer_view(f: &TestHub, id: domain::ConversationId, token: &str) -> Vec<(String, Option<String>)> {
    common::customers::sees(f, id, token)
        .await
        .iter()
        .map(|a| {
            (
                a["type"].as_str().unwrap_or_default().to_owned(),
                a["text"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_tags_only_end_conversation_ends_the_chat_without_showing_the_customer_an_empty_message() {
    let f = hub_for_customers("bots-end-tags-only", |t| t).await;
    let (id, token) = common::customers::start(&f, "dl_tess").await;
    let sent = f
        .hub
        .accept_from_bot(id, BotCaller::Anonymous, from(tags_only_end_conversation(), "DemoBot"))
        .await
        .unwrap();
    assert_eq!(sent.effect, BotEffect::Ended);
    assert_eq!(
        customer_view(&f, id, &token).await,
        [("endOfConversation".to_owned(), None)],
        "the customer gets the end and no empty message"
    );
    let command = f
        .hub
        .store()
        .activities_after(id, Seq::ZERO, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.activity.id == sent.id)
        .expect("the transcript keeps the command");
    assert_eq!(command.activity.visibility, Visibility::AgentsOnly);
    f.finish().await;
}

#[tokio::test]
async fn an_end_conversation_with_text_shows_the_customer_the_text_then_the_end() {
    let f = hub_for_customers("bots-end-goodbye", |t| t).await;
    let (id, token) = common::customers::start(&f, "dl_uma").await;
    f.hub
        .accept_from_bot(
            id,
            BotCaller::Anonymous,
            from(end_conversation_activity("Goodbye"), "DemoBot"),
        )
        .await
        .unwrap();
    assert_eq!(
        customer_view(&f, id, &token).await,
        [
            ("message".to_owned(), Some("Goodbye".to_owned())),
            ("endOfConversation".to_owned(), None)
        ]
    );
    f.finish().await;
}

#[tokio::test]
async fn an_unbridged_end_conversation_text_stays_with_agents_when_the_bot_requires_bridging() {
    let f = hub_for_customers("bots-end-unbridged", |t| {
        t.replace("require_bridged = false", "require_bridged = true")
    })
    .await;
    let (id, token) = common::customers::start(&f, "dl_vic").await;
    f.hub
        .accept_from_bot(
            id,
            BotCaller::Anonymous,
            from(end_conversation_activity("Goodbye"), "DemoBot"),
        )
        .await
        .unwrap();
    assert_eq!(
        customer_view(&f, id, &token).await,
        [("endOfConversation".to_owned(), None)],
        "not bridged, so only the end reaches the customer"
    );

    let (bridged_id, bridged_token) = common::customers::start(&f, "dl_wes").await;
    let bridged = omnichannel::bridged(from(end_conversation_activity("Goodbye"), "DemoBot"));
    f.hub
        .accept_from_bot(bridged_id, BotCaller::Anonymous, bridged)
        .await
        .unwrap();
    assert_eq!(
        customer_view(&f, bridged_id, &bridged_token).await,
        [
            ("message".to_owned(), Some("Goodbye".to_owned())),
            ("endOfConversation".to_owned(), None)
        ],
        "a bridged goodbye reaches the customer"
    );
    f.finish().await;
}
