//! The bots beside the routed one, end to end over HTTP with the built-in bots of the sample
//! configuration: the post-conversation survey bot (agent ends → the customer is surveyed, the
//! answers are stored, CSAT shows in analytics, the session is metered once) and the
//! smart-assist knowledge bot (copies of the messages, suggestions for the agent only, never
//! metered).

use std::time::Duration;

use domain::ConversationId;
use serde_json::{Value, json};
use switchboard::config;

mod common;
use common::people::Person;
use common::{RecordingBot, SAMPLE_BOT_ENDPOINT, TestHub, customers};

const SURVEY_ENDPOINT: &str = "/bots/survey/api/messages";
const KNOWLEDGE_ENDPOINT: &str = "/bots/knowledge/api/messages";

/// Runs a built-in bot on a free loopback port; returns its messaging endpoint.
async fn start_builtin(kind: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/api/messages", listener.local_addr().unwrap());
    let never = std::future::pending::<()>();
    match kind {
        "survey" => tokio::spawn(switchboard::survey_bot::serve(listener, never)),
        _ => tokio::spawn(switchboard::knowledge_bot::serve(listener, never)),
    };
    endpoint
}

/// The sample with its demo bot replaced by `bot` and its survey and knowledge bots running.
async fn sample(bot: &RecordingBot, edit: impl Fn(String) -> String) -> String {
    let survey = start_builtin("survey").await;
    let knowledge = start_builtin("knowledge").await;
    let text = config::SAMPLE
        .replace(SAMPLE_BOT_ENDPOINT, &bot.endpoint())
        .replace(SURVEY_ENDPOINT, &survey)
        .replace(KNOWLEDGE_ENDPOINT, &knowledge);
    let text = edit(text);
    format!("{text}\n[metering]\nlicences = 1\n")
}

/// Texts of the customer's messages from others than the customer, as Direct Line gives them.
async fn customer_reads(f: &TestHub, id: ConversationId, token: &str) -> Vec<Value> {
    customers::sees(f, id, token)
        .await
        .into_iter()
        .filter(|a| a["from"]["role"] != "user")
        .collect()
}

/// Waits (10 s at most) until the customer has seen an activity for which `pred` holds.
async fn customer_waits_for(f: &TestHub, id: ConversationId, token: &str, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        if let Some(found) = customer_reads(f, id, token).await.into_iter().find(&pred) {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the customer never saw it; they saw {:#?}",
        customer_reads(f, id, token).await
    );
}

/// How many messages the survey bot has sent in `id`.
async fn bot_posts(f: &TestHub, id: ConversationId) -> usize {
    f.hub
        .store()
        .activities_after(id, domain::Seq::ZERO, 1000)
        .await
        .unwrap()
        .iter()
        .filter(|a| a.activity.sender_id == "SurveyBot")
        .count()
}

/// alice takes `id`, offered to her.
async fn alice_takes(f: &TestHub, id: ConversationId) -> Person {
    let alice = Person::sign_in(f, "alice").await;
    alice.presence("available").await;
    alice.offered(id).await;
    let (status, body) = alice
        .post(&format!("/api/v1/conversations/{id}/accept"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    alice
}

#[tokio::test]
async fn after_the_agent_ends_the_survey_bot_asks_stores_the_rating_and_closes_the_chat() {
    let bot = RecordingBot::start().await;
    let text = sample(&bot, |t| t).await;
    let f = TestHub::new("survey", &text).await;
    let (id, token) = customers::start(&f, "casey").await;
    customers::say(&f, id, &token, "My card was charged twice").await;
    customers::bot_escalates(&f, id, "CreditCard", "Double charge on card").await;
    let alice = alice_takes(&f, id).await;
    let (status, _) = alice
        .post(
            &format!("/api/v1/conversations/{id}/messages"),
            json!({"text": "Refunded, sorry!"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, ended) = alice.post(&format!("/api/v1/conversations/{id}/end"), json!({})).await;
    assert_eq!((status, &ended["state"]), (200, &json!("wrap_up")), "{ended}");

    // The customer's chat goes on with the survey bot: the rating question with its buttons.
    let prompt = customer_waits_for(&f, id, &token, |a| {
        a["text"].as_str().is_some_and(|t| t.contains("How satisfied were you"))
    })
    .await;
    assert_eq!(prompt["from"]["id"], "SurveyBot", "{prompt}");
    let buttons: Vec<&str> = prompt["suggestedActions"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["value"].as_str().unwrap())
        .collect();
    assert_eq!(buttons, ["1", "2", "3", "4", "5"]);
    let seen = customer_reads(&f, id, &token).await;
    assert!(
        seen.iter().all(|a| a["type"] != "endOfConversation"),
        "the chat has not ended: {seen:#?}"
    );

    customers::say(&f, id, &token, "4").await;
    customer_waits_for(&f, id, &token, |a| {
        a["text"]
            .as_str()
            .is_some_and(|t| t.contains("Anything you'd like to add"))
    })
    .await;
    customers::say(&f, id, &token, "Quick and friendly").await;
    customer_waits_for(&f, id, &token, |a| a["type"] == "endOfConversation").await;

    let details = f
        .details_when(&id.to_string(), |d| d["survey"]["end"] == "completed")
        .await;
    let survey = &details["survey"];
    assert_eq!(survey["bot"], "SurveyBot");
    assert_eq!(survey["csat"], 4);
    assert_eq!(survey["answers"], json!({"csat": 4, "comment": "Quick and friendly"}));
    // The survey is over: what the customer writes now no longer reaches the survey bot.
    let before = bot_posts(&f, id).await;
    customers::say(&f, id, &token, "hello?").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(bot_posts(&f, id).await, before);

    // Analytics: one response, CSAT 4. Metering: DemoBot and SurveyBot in one conversation are
    // one bot session, credited to the first bot.
    let (_, report) = f.get_json("/api/v1/analytics").await;
    assert_eq!(
        report["total"]["survey"],
        json!({"surveyed": 1, "responses": 1, "response_rate": 1.0, "avg_csat": 4.0,
               "satisfied_rate": 1.0, "scores": [0, 0, 0, 1, 0]}),
        "{report}"
    );
    assert_eq!(
        report["total"]["bot"]["conversations"], 1,
        "only DemoBot's part is a bot conversation"
    );
    let (_, usage) = f.get_json("/api/v1/usage").await;
    assert_eq!(
        (&usage["used"], &usage["by_bot"]),
        (&json!(1), &json!([{"bot": "DemoBot", "sessions": 1}])),
        "{usage}"
    );
    f.finish().await;
}

#[tokio::test]
async fn a_survey_bot_answer_out_of_range_is_refused_and_a_survey_bot_that_is_down_ends_the_chat() {
    let bot = RecordingBot::start().await;
    // The survey bot's endpoint has nobody listening.
    let text = sample(&bot, |t| t).await;
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_endpoint = format!("http://{}/api/messages", dead.local_addr().unwrap());
    drop(dead);
    let survey_line = text
        .lines()
        .skip_while(|l| !l.contains("name = \"SurveyBot\""))
        .find(|l| l.starts_with("endpoint"))
        .unwrap()
        .to_owned();
    let text = text.replacen(&survey_line, &format!("endpoint = \"{dead_endpoint}\""), 1);
    let f = TestHub::new("survey-down", &text).await;
    let (id, token) = customers::start(&f, "dana").await;
    customers::bot_escalates(&f, id, "CreditCard", "Card question").await;
    let alice = alice_takes(&f, id).await;
    alice.post(&format!("/api/v1/conversations/{id}/end"), json!({})).await;
    let notice = customer_waits_for(&f, id, &token, |a| {
        a["text"] == engine::SURVEY_UNAVAILABLE_NOTICE || a["type"] == "endOfConversation"
    })
    .await;
    assert_eq!(notice["text"], engine::SURVEY_UNAVAILABLE_NOTICE);
    customer_waits_for(&f, id, &token, |a| a["type"] == "endOfConversation").await;
    let details = f.details_when(&id.to_string(), |d| !d["survey"]["end"].is_null()).await;
    assert_eq!(details["survey"]["end"], "bot_unavailable");
    f.finish().await;
}

#[tokio::test]
async fn survey_answers_are_checked_and_only_the_survey_bot_may_send_them() {
    use botframework::{Activity, ChannelAccount};
    use engine::BotCaller;

    let bot = RecordingBot::start().await;
    let text = sample(&bot, |t| t).await;
    let f = TestHub::new("survey-answers", &text).await;
    let (id, _token) = customers::start(&f, "erin").await;
    customers::bot_escalates(&f, id, "CreditCard", "Card question").await;
    let alice = alice_takes(&f, id).await;
    alice.post(&format!("/api/v1/conversations/{id}/end"), json!({})).await;
    f.details_when(&id.to_string(), |d| d["survey"]["bot"] == "SurveyBot")
        .await;

    let as_survey = |value: Value| {
        let mut a = Activity::event(engine::SURVEY_RESPONSE_EVENT, value);
        a.from = Some(ChannelAccount::new("SurveyBot"));
        a
    };
    for (value, expected) in [
        (json!({"csat": 6}), "csat 6: it must be a whole number from 1 to 5"),
        (json!({"csat": "great"}), "it must be a whole number from 1 to 5"),
        (json!({"csat": 4.5}), "is a fractional number"),
        (json!("five"), "must be a JSON object"),
    ] {
        let refused = f
            .hub
            .accept_from_bot(id, BotCaller::Anonymous, as_survey(value.clone()))
            .await
            .unwrap_err();
        assert!(refused.to_string().contains(expected), "{value}: {refused}");
    }
    // An escalation from the survey bot is refused; so is an answer from the demo bot, which
    // left the conversation when it escalated.
    let mut escalate = botframework::omnichannel::escalate_activity(
        "again".to_owned(),
        json!({"BotHandoffTopic": "CreditCard"}).as_object().unwrap().clone(),
    );
    escalate.from = Some(ChannelAccount::new("SurveyBot"));
    let refused = f
        .hub
        .accept_from_bot(id, BotCaller::Anonymous, escalate)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("cannot escalate"), "{refused}");
    let mut from_demo = as_survey(json!({"csat": 1}));
    from_demo.from = Some(ChannelAccount::new("DemoBot"));
    let refused = f
        .hub
        .accept_from_bot(id, BotCaller::Anonymous, from_demo)
        .await
        .unwrap_err();
    assert!(matches!(refused, engine::EngineError::Forbidden(_)), "{refused}");
    // Answers in channelData of a message count too.
    let mut message = Activity::message("Thanks!");
    message.from = Some(ChannelAccount::new("SurveyBot"));
    message.set_channel_data_field(engine::SURVEY_RESPONSE_KEY, json!({"csat": 2, "reason": "slow"}));
    f.hub.accept_from_bot(id, BotCaller::Anonymous, message).await.unwrap();
    let (_, details) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(details["survey"]["csat"], 2, "{details}");
    assert_eq!(details["survey"]["answers"]["reason"], "slow");

    // alice closes her wrap-up; the survey goes on until sam force-closes it.
    let (status, closed) = alice
        .post(&format!("/api/v1/conversations/{id}/close"), json!({}))
        .await;
    assert_eq!((status, &closed["state"]), (200, &json!("closed")), "{closed}");
    assert_eq!(closed["survey"]["end"], Value::Null, "{closed}");
    let sam = Person::sign_in(&f, "sam").await;
    let (status, forced) = sam
        .post(&format!("/api/v1/conversations/{id}/force-close"), json!({}))
        .await;
    assert_eq!(status, 200, "{forced}");
    let (_, details) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(details["survey"]["end"], "closed_by_supervisor", "{details}");
    let (status, _) = sam
        .post(&format!("/api/v1/conversations/{id}/force-close"), json!({}))
        .await;
    assert_eq!(status, 409, "nothing is left to close");
    f.finish().await;
}

#[tokio::test]
async fn a_survey_bots_tags_only_end_conversation_ends_the_survey_without_an_empty_message() {
    use botframework::{Activity, ChannelAccount};

    let bot = RecordingBot::start().await;
    let text = sample(&bot, |t| t).await;
    let f = TestHub::new("survey-end-tags-only", &text).await;
    let (id, token) = customers::start(&f, "hana").await;
    customers::bot_escalates(&f, id, "CreditCard", "Card question").await;
    let alice = alice_takes(&f, id).await;
    alice.post(&format!("/api/v1/conversations/{id}/end"), json!({})).await;
    f.details_when(&id.to_string(), |d| d["survey"]["bot"] == "SurveyBot")
        .await;

    let mut end: Activity = serde_json::from_value(json!({
        "type": "message",
        "channelData": {"tags": "{\"type\":\"EndConversation\",\"context\":{}}"}
    }))
    .unwrap();
    end.from = Some(ChannelAccount::new("SurveyBot"));
    f.hub
        .accept_from_bot(id, engine::BotCaller::Anonymous, end)
        .await
        .unwrap();
    customer_waits_for(&f, id, &token, |a| a["type"] == "endOfConversation").await;
    let empty: Vec<Value> = customer_reads(&f, id, &token)
        .await
        .into_iter()
        .filter(|a| {
            a["type"] == "message"
                && a["text"].as_str().unwrap_or_default().is_empty()
                && a["attachments"].is_null()
                && a["suggestedActions"].is_null()
        })
        .collect();
    assert!(empty.is_empty(), "the customer got an empty message: {empty:#?}");
    let (_, details) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(details["survey"]["end"], "completed", "{details}");
    f.finish().await;
}

#[tokio::test]
async fn no_survey_starts_when_the_spent_pool_keeps_bots_out() {
    let bot = RecordingBot::start().await;
    // No bot first (BotQueue holds alice only), no licences, and bots kept out once spent.
    let text = sample(&bot, |t| {
        t.replace(r#"members = ["DemoBot", "carol"]"#, r#"members = ["alice"]"#)
    })
    .await
    .replace(
        "[metering]\nlicences = 1\n",
        "[metering]\nwhen_spent = \"route_to_people\"\n",
    );
    let f = TestHub::new("survey-spent", &text).await;
    let (id, token) = customers::start(&f, "gina").await;
    let alice = alice_takes(&f, id).await;
    alice.post(&format!("/api/v1/conversations/{id}/end"), json!({})).await;
    customer_waits_for(&f, id, &token, |a| a["type"] == "endOfConversation").await;
    let (_, details) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(details["survey"], Value::Null, "{details}");
    let (_, usage) = f.get_json("/api/v1/usage").await;
    assert_eq!(usage["used"], 0, "{usage}");
    f.finish().await;
}

#[tokio::test]
async fn the_knowledge_bot_suggests_an_article_to_the_agent_only_and_is_never_metered() {
    let bot = RecordingBot::start().await;
    // No bot first: BotQueue holds alice only, so the conversation goes straight to a person.
    let text = sample(&bot, |t| {
        t.replace(r#"members = ["DemoBot", "carol"]"#, r#"members = ["alice"]"#)
    })
    .await;
    let f = TestHub::new("smart-assist", &text).await;
    let (id, token) = customers::start(&f, "frank").await;
    let alice = alice_takes(&f, id).await;
    // A customer cannot pass a message off as a suggestion or a note.
    let forged = reqwest::Client::new()
        .post(format!("{}/v3/directline/conversations/{id}/activities", f.base))
        .bearer_auth(&token)
        .json(&json!({"type": "message", "text": "Click https://evil.example",
                      "channelData": {"switchboard": {"suggestion": true, "note": true}, "mine": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 200);
    let item = alice
        .transcript(id)
        .await
        .into_iter()
        .find(|i| i["text"] == "Click https://evil.example")
        .unwrap();
    assert_eq!(
        (&item["suggestion"], &item["note"]),
        (&json!(false), &json!(false)),
        "{item}"
    );
    customers::say(&f, id, &token, "How much is the annual fee on my credit card?").await;

    // The suggestion reaches alice's transcript, marked as one, with its card.
    let mut suggestion = None;
    for _ in 0..200 {
        suggestion = alice
            .transcript(id)
            .await
            .into_iter()
            .find(|item| item["suggestion"] == true);
        if suggestion.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let suggestion = suggestion.expect("a suggestion within 10 s");
    assert_eq!(suggestion["sender"], "KnowledgeBot");
    assert_eq!(suggestion["agents_only"], true);
    let text = suggestion["text"].as_str().unwrap();
    assert!(text.starts_with("This article should help: "), "{text}");
    assert!(text.to_lowercase().contains("fee"), "{text}");
    let card = &suggestion["attachments"][0];
    assert_eq!(card["contentType"], "application/vnd.microsoft.card.adaptive");
    assert!(card["content"]["body"].is_array(), "{card}");

    // The knowledge bot got the customer's message as a copy, after learning alice joined.
    // The customer never sees a suggestion.
    let seen = customers::sees(&f, id, &token).await;
    assert!(
        seen.iter().all(|a| a["from"]["id"] != "KnowledgeBot"),
        "the customer saw a suggestion: {seen:#?}"
    );
    // alice's own messages are copied too; the bot only answers the customer's.
    alice
        .post(
            &format!("/api/v1/conversations/{id}/messages"),
            json!({"text": "Let me check the card fee for you."}),
        )
        .await;
    // The knowledge bot may not escalate or end the conversation.
    let mut end = botframework::omnichannel::end_conversation_activity("bye".to_owned());
    end.from = Some(botframework::ChannelAccount::new("KnowledgeBot"));
    let refused = f
        .hub
        .accept_from_bot(id, engine::BotCaller::Anonymous, end)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("cannot escalate or end"), "{refused}");

    let (_, usage) = f.get_json("/api/v1/usage").await;
    assert_eq!(usage["used"], 0, "smart assist only: no bot session: {usage}");
    let (_, details) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(details["milestones"]["bot"], Value::Null, "{details}");
    f.finish().await;
}
