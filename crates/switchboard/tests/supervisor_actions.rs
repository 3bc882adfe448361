//! The two supervisor actions through the API: assigning a waiting conversation to an agent of
//! its queue (as if they had accepted it, withdrawing a pending offer) and force-closing a
//! conversation whatever it is doing (the customer, the owning bot and the owning agent are
//! told); and every way either is refused, each with its status and code.

use std::time::Duration;

use domain::ConversationId;
use serde_json::{Value, json};
use switchboard::config;

mod common;
use common::people::Person;
use common::{ADMIN_TOKEN, RecordingBot, SAMPLE_BOT_ENDPOINT, TestHub};

use common::customers;

/// A customer on Direct Line starts a conversation (the sample's bot gets it) and says `text`.
async fn customer_starts(f: &TestHub, user: &str, text: &str) -> (ConversationId, String) {
    let (id, token) = customers::start(f, user).await;
    customers::say(f, id, &token, text).await;
    (id, token)
}

/// The sample's bot escalates with `topic`.
async fn bot_escalates(f: &TestHub, id: ConversationId, topic: &str) {
    customers::bot_escalates(f, id, topic, &format!("Customer needs help with {topic}")).await;
}

async fn details(f: &TestHub, id: ConversationId) -> Value {
    f.get_json(&format!("/api/v1/conversations/{id}")).await.1
}

/// A waiting conversation in CreditCardQueue, which nobody is offered (alice is away, carol
/// offline). Returns it with the customer's token.
async fn waiting_credit_card(f: &TestHub, user: &str) -> (ConversationId, String) {
    let (id, token) = customer_starts(f, user, "my credit card was declined, this is awful").await;
    bot_escalates(f, id, "CreditCard").await;
    let now = details(f, id).await;
    assert_eq!(
        (&now["state"], &now["queue"], &now["offer"]),
        (&json!("waiting"), &json!("CreditCardQueue"), &Value::Null),
        "{now}"
    );
    (id, token)
}

async fn used(person: &Person) -> u64 {
    person.get("/api/v1/me").await.1["used"].as_u64().unwrap()
}

/// `POST path` with `body` sent as is (not necessarily JSON), as `token`.
async fn post_raw(f: &TestHub, token: &str, path: &str, body: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", f.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_supervisor_assigns_a_waiting_conversation_and_the_agent_gets_it_as_if_they_had_accepted() {
    let f = TestHub::sample("supervisor-assign").await;
    let alice = Person::sign_in(&f, "alice").await;
    alice.presence("away").await;
    let mut alice_events = customers::events(&f, &alice.token).await;
    let sam = Person::sign_in(&f, "sam").await;
    let (id, token) = waiting_credit_card(&f, "casey").await;

    let (status, assigned) = sam
        .post(&format!("/api/v1/conversations/{id}/assign"), json!({"agent": "alice"}))
        .await;
    assert_eq!(status, 200, "{assigned}");
    assert_eq!(
        (&assigned["state"], &assigned["owner"]),
        (&json!("active"), &json!({"kind": "agent", "name": "alice"}))
    );
    assert_eq!(assigned["milestones"]["agents"], json!(["alice"]));
    assert!(assigned["milestones"]["agent_at"].is_string(), "{assigned}");
    assert!(
        assigned["milestones"]["waiting_since"].is_null(),
        "the wait is over: {assigned}"
    );

    // Alice's workspace gets it live, her capacity is taken, and it is hers to work.
    let live = customers::next_where(&mut alice_events, |e| {
        e["type"] == "conversation" && e["conversation"]["owner"]["name"] == "alice"
    })
    .await;
    assert_eq!(live["conversation"]["id"], json!(id));
    assert_eq!(used(&alice).await, 1);
    let (status, body) = alice
        .post(
            &format!("/api/v1/conversations/{id}/messages"),
            json!({"text": "Hi, Alice here."}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // The customer is told, as after an accept.
    let seen = customers::sees(&f, id, &token).await;
    assert!(
        seen.iter().any(|a| a["text"] == "Alice Park joined the conversation."),
        "{seen:?}"
    );
    assert!(seen.iter().any(|a| a["text"] == "Hi, Alice here."));

    // Assigned once: it is not waiting any more.
    let (status, again) = sam
        .post(&format!("/api/v1/conversations/{id}/assign"), json!({"agent": "alice"}))
        .await;
    assert_eq!((status, code(&again)), (409, "not_waiting"), "{again}");
    f.finish().await;
}

#[tokio::test]
async fn assigning_a_conversation_that_is_offered_withdraws_the_offer_and_frees_that_agents_capacity() {
    let f = TestHub::sample("supervisor-assign-offered").await;
    let alice = Person::sign_in(&f, "alice").await;
    let carol = Person::sign_in(&f, "carol").await;
    carol.presence("away").await;
    let mut alice_events = customers::events(&f, &alice.token).await;
    alice.presence("available").await;
    let (id, _) = customer_starts(&f, "casey", "credit card please").await;
    bot_escalates(&f, id, "CreditCard").await;
    alice.offered(id).await;
    assert_eq!(used(&alice).await, 1, "an offer holds the capacity");

    // Through the operator's admin token, which may act everywhere.
    let (status, assigned) = post_raw(
        &f,
        ADMIN_TOKEN,
        &format!("/api/v1/conversations/{id}/assign"),
        r#"{"agent": "carol"}"#,
    )
    .await;
    assert_eq!(status, 200, "{assigned}");
    assert_eq!(assigned["owner"], json!({"kind": "agent", "name": "carol"}));

    let withdrawn = customers::next_where(&mut alice_events, |e| e["type"] == "offer_withdrawn").await;
    assert_eq!(
        (&withdrawn["conversation_id"], &withdrawn["reason"]),
        (&json!(id), &json!("assigned"))
    );
    let (_, offers) = alice.get("/api/v1/offers").await;
    assert_eq!(offers["offers"], json!([]));
    assert_eq!(used(&alice).await, 0, "the offer's capacity is given back");
    assert_eq!(used(&carol).await, 1, "even in presence away");
    let (status, body) = alice
        .post(&format!("/api/v1/conversations/{id}/accept"), json!({}))
        .await;
    assert_eq!((status, code(&body)), (409, "no_offer"), "{body}");
    f.finish().await;
}

#[tokio::test]
async fn an_assignment_the_hub_cannot_make_is_refused_with_a_status_and_a_code() {
    let bot = RecordingBot::start().await;
    // Sam oversees only HomeLoanQueue here (and DefaultQueue, where he is a member).
    let text = config::SAMPLE.replace(SAMPLE_BOT_ENDPOINT, &bot.endpoint()).replace(
        r#"supervises = ["BotQueue", "CreditCardQueue", "HomeLoanQueue", "DefaultQueue"]"#,
        r#"supervises = ["HomeLoanQueue"]"#,
    );
    let f = TestHub::new("supervisor-assign-refused", &text).await;
    let alice = Person::sign_in(&f, "alice").await;
    alice.presence("away").await;
    let sam = Person::sign_in(&f, "sam").await;
    let ada = Person::sign_in(&f, "ada").await;
    let (id, _) = waiting_credit_card(&f, "casey").await;
    let (with_bot, _) = customer_starts(&f, "dana", "hello").await;
    let assign = |id: ConversationId| format!("/api/v1/conversations/{id}/assign");

    let cases: Vec<(&Person, String, &str, u16, &str)> = vec![
        (&alice, assign(id), r#"{"agent": "alice"}"#, 403, "forbidden"),
        (&sam, assign(id), r#"{"agent": "alice"}"#, 403, "forbidden"),
        (
            &ada,
            "/api/v1/conversations/nope/assign".to_owned(),
            r#"{"agent": "alice"}"#,
            400,
            "invalid_id",
        ),
        (&ada, assign(id), r#"{"agent": 1}"#, 400, "invalid_body"),
        (&ada, assign(id), "{}", 400, "invalid_body"),
        (
            &ada,
            assign(id),
            r#"{"agent": "alice", "queue": "x"}"#,
            400,
            "invalid_body",
        ),
        (&ada, assign(id), "not json", 400, "invalid_body"),
        (&ada, assign(id), r#"{"agent": ""}"#, 400, "invalid_agent"),
        (
            &ada,
            assign(ConversationId(uuid::Uuid::nil())),
            r#"{"agent": "alice"}"#,
            404,
            "not_found",
        ),
        (&ada, assign(id), r#"{"agent": "nobody"}"#, 404, "not_found"),
        (&ada, assign(id), r#"{"agent": "DemoBot"}"#, 404, "not_found"),
        (&ada, assign(id), r#"{"agent": "bob"}"#, 409, "not_a_member"),
        (&ada, assign(id), r#"{"agent": "carol"}"#, 409, "agent_offline"),
        (&ada, assign(with_bot), r#"{"agent": "carol"}"#, 409, "not_waiting"),
    ];
    for (who, path, body, status, expected) in cases {
        let (got, answer) = post_raw(&f, &who.token, &path, body).await;
        assert_eq!((got, code(&answer)), (status, expected), "{path} {body}: {answer}");
        assert!(answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (_, forbidden) = post_raw(&f, &sam.token, &assign(id), r#"{"agent": "alice"}"#).await;
    assert!(
        forbidden["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CreditCardQueue"),
        "says which queue: {forbidden}"
    );
    // Nothing of that changed the conversation.
    let now = details(&f, id).await;
    assert_eq!((&now["state"], &now["owner"]), (&json!("waiting"), &Value::Null));
    assert_eq!(used(&alice).await, 0);

    // Ada, an admin, may.
    let (status, body) = post_raw(&f, &ada.token, &assign(id), r#"{"agent": "alice"}"#).await;
    assert_eq!(status, 200, "{body}");
    f.finish().await;
}

#[tokio::test]
async fn a_force_close_tells_the_customer_why_and_the_owning_bot_gets_the_end_of_the_conversation() {
    let f = TestHub::sample("supervisor-close-bot").await;
    let sam = Person::sign_in(&f, "sam").await;
    let (id, token) = customer_starts(&f, "casey", "you are useless").await;

    let (status, closed) = sam
        .post(
            &format!("/api/v1/conversations/{id}/force-close"),
            json!({"reason": "  Abusive language.  "}),
        )
        .await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(
        (&closed["state"], &closed["outcome"], &closed["owner"]),
        (&json!("closed"), &json!("abandoned"), &Value::Null)
    );

    let seen = customers::sees(&f, id, &token).await;
    let texts: Vec<&str> = seen.iter().filter_map(|a| a["text"].as_str()).collect();
    assert!(
        texts.contains(&"A supervisor closed this conversation. Reason: Abusive language."),
        "{texts:?}"
    );
    let end = seen.last().unwrap();
    assert_eq!(end["type"], "endOfConversation", "the end comes last: {seen:?}");

    let bot = f.bot.as_ref().unwrap();
    let told = {
        let mut found = None;
        for _ in 0..200 {
            found = bot
                .activities()
                .into_iter()
                .find(|a| a["type"] == "endOfConversation" && a["conversation"]["id"] == json!(id));
            if found.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        found.expect("the bot gets the end of the conversation")
    };
    assert_eq!(told["recipient"]["id"], "DemoBot");
    assert_eq!(told["id"], end["id"], "the one end the customer saw");

    // Closed is closed: the customer cannot write, and a second close is refused.
    let response = reqwest::Client::new()
        .post(format!("{}/v3/directline/conversations/{id}/activities", f.base))
        .bearer_auth(&token)
        .json(&json!({"type": "message", "from": {"id": "casey"}, "text": "hello?"}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
    let (status, again) = sam
        .post(&format!("/api/v1/conversations/{id}/force-close"), json!({}))
        .await;
    assert_eq!((status, code(&again)), (409, "ended"), "{again}");
    f.finish().await;
}

#[tokio::test]
async fn a_force_close_frees_the_owning_agents_capacity_and_withdraws_a_pending_offer() {
    let f = TestHub::sample("supervisor-close-agent").await;
    let alice = Person::sign_in(&f, "alice").await;
    let mut alice_events = customers::events(&f, &alice.token).await;
    alice.presence("available").await;
    let sam = Person::sign_in(&f, "sam").await;

    // Held by alice.
    let (held, token) = customer_starts(&f, "casey", "credit card").await;
    bot_escalates(&f, held, "CreditCard").await;
    alice.offered(held).await;
    let (status, _) = alice
        .post(&format!("/api/v1/conversations/{held}/accept"), json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(used(&alice).await, 1);
    // An empty body is a close without a reason.
    let (status, closed) = post_raw(&f, &sam.token, &format!("/api/v1/conversations/{held}/force-close"), "").await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["outcome"], "resolved_by_agent");
    assert_eq!(used(&alice).await, 0, "her capacity is back");
    let live = customers::next_where(&mut alice_events, |e| {
        e["type"] == "conversation" && e["conversation"]["id"] == json!(held) && e["conversation"]["state"] == "closed"
    })
    .await;
    assert_eq!(live["conversation"]["outcome"], "resolved_by_agent");
    let seen = customers::sees(&f, held, &token).await;
    assert!(
        seen.iter()
            .any(|a| a["text"] == "A supervisor closed this conversation.")
    );
    assert_eq!(seen.last().unwrap()["type"], "endOfConversation");

    // Offered to alice: the offer goes with it.
    let (offered, _) = customer_starts(&f, "dana", "credit card").await;
    bot_escalates(&f, offered, "CreditCard").await;
    alice.offered(offered).await;
    let (status, closed) = sam
        .post(
            &format!("/api/v1/conversations/{offered}/force-close"),
            json!({"reason": "Duplicate"}),
        )
        .await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["outcome"], "abandoned", "no agent ever had it");
    let withdrawn = customers::next_where(&mut alice_events, |e| {
        e["type"] == "offer_withdrawn" && e["conversation_id"] == json!(offered)
    })
    .await;
    assert_eq!(withdrawn["reason"], "ended");
    assert_eq!(used(&alice).await, 0);
    assert_eq!(alice.get("/api/v1/offers").await.1["offers"], json!([]));
    f.finish().await;
}

#[tokio::test]
async fn a_force_close_in_wrap_up_does_not_tell_the_customer_twice_but_the_transcript_says_who_closed_it() {
    let f = TestHub::sample("supervisor-close-wrap-up").await;
    let alice = Person::sign_in(&f, "alice").await;
    alice.presence("available").await;
    let sam = Person::sign_in(&f, "sam").await;
    let (id, token) = customer_starts(&f, "casey", "credit card").await;
    bot_escalates(&f, id, "CreditCard").await;
    alice.offered(id).await;
    alice
        .post(&format!("/api/v1/conversations/{id}/accept"), json!({}))
        .await;
    let (status, ended) = alice.post(&format!("/api/v1/conversations/{id}/end"), json!({})).await;
    assert_eq!((status, &ended["state"]), (200, &json!("wrap_up")));
    assert_eq!(used(&alice).await, 1, "the sample gives capacity back at close");
    // The sample surveys the customer next; no survey bot runs here, so their chat ends soon.
    let mut before = Vec::new();
    for _ in 0..200 {
        before = customers::sees(&f, id, &token).await;
        if before.iter().any(|a| a["type"] == "endOfConversation") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(before.iter().any(|a| a["type"] == "endOfConversation"), "{before:#?}");

    let (status, closed) = sam
        .post(
            &format!("/api/v1/conversations/{id}/force-close"),
            json!({"reason": "Wrap-up took too long"}),
        )
        .await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["outcome"], "resolved_by_agent");
    assert_eq!(used(&alice).await, 0);
    assert_eq!(
        customers::sees(&f, id, &token).await.len(),
        before.len(),
        "the customer already saw the end"
    );
    let items = sam.transcript(id).await;
    let notice = items
        .iter()
        .find(|i| {
            i["text"]
                .as_str()
                .unwrap()
                .starts_with("A supervisor closed this conversation.")
        })
        .expect("the transcript records the close");
    assert_eq!(
        (&notice["agents_only"], &notice["role"]),
        (&json!(true), &json!("system"))
    );
    f.finish().await;
}

#[tokio::test]
async fn a_force_close_the_hub_cannot_make_is_refused_with_a_status_and_a_code() {
    let bot = RecordingBot::start().await;
    let text = config::SAMPLE.replace(SAMPLE_BOT_ENDPOINT, &bot.endpoint()).replace(
        r#"supervises = ["BotQueue", "CreditCardQueue", "HomeLoanQueue", "DefaultQueue"]"#,
        r#"supervises = ["HomeLoanQueue"]"#,
    );
    let f = TestHub::new("supervisor-close-refused", &text).await;
    let alice = Person::sign_in(&f, "alice").await;
    let sam = Person::sign_in(&f, "sam").await;
    let ada = Person::sign_in(&f, "ada").await;
    let (id, _) = customer_starts(&f, "casey", "hello").await;
    let close = |id: ConversationId| format!("/api/v1/conversations/{id}/force-close");
    let long = json!({"reason": "x".repeat(engine::MAX_CLOSE_REASON + 1)}).to_string();

    let cases: Vec<(&Person, String, &str, u16, &str)> = vec![
        (&alice, close(id), "{}", 403, "forbidden"),
        (&sam, close(id), "{}", 403, "forbidden"),
        (
            &ada,
            "/api/v1/conversations/nope/force-close".to_owned(),
            "{}",
            400,
            "invalid_id",
        ),
        (&ada, close(id), r#"{"reason": 3}"#, 400, "invalid_body"),
        (&ada, close(id), r#"{"why": "x"}"#, 400, "invalid_body"),
        (&ada, close(id), "[", 400, "invalid_body"),
        (&ada, close(id), long.as_str(), 400, "invalid"),
        (&ada, close(ConversationId(uuid::Uuid::nil())), "{}", 404, "not_found"),
    ];
    for (who, path, body, status, expected) in cases {
        let (got, answer) = post_raw(&f, &who.token, &path, body).await;
        assert_eq!((got, code(&answer)), (status, expected), "{path} {body}: {answer}");
    }
    assert_eq!(details(&f, id).await["state"], "active", "still with the bot");

    let (status, body) = post_raw(&f, &ada.token, &close(id), r#"{"reason": null}"#).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post_raw(&f, &ada.token, &close(id), "{}").await;
    assert_eq!((status, code(&body)), (409, "ended"));
    f.finish().await;
}
