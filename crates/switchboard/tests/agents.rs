//! People at work, through the API a workspace uses: signing in, presence, offers by capacity
//! (accept, decline, the oldest waiting first), the transcript with the bot's part, replies the
//! customer sees with the agent's name, internal notes nobody else sees, transfers, end and
//! wrap-up, the live events socket, the timers, and who may read what.

use std::time::Duration;

use botframework::Activity;
use domain::ConversationId;
use futures::StreamExt;
use serde_json::{Value, json};
use switchboard::config;

mod common;
use common::customers;
use common::people::{PASSWORD, Person};
use common::{ADMIN_TOKEN, TestHub};

/// A customer on Direct Line: starts a conversation (which the sample's bot gets) and says
/// something. Returns the conversation id and the customer's token.
async fn customer_starts(f: &TestHub, user: &str) -> (ConversationId, String) {
    let (id, token) = customers::start(f, user).await;
    customers::say(f, id, &token, "I lost my credit card").await;
    (id, token)
}

/// What the customer's client gets (Direct Line polling).
async fn customer_sees(f: &TestHub, id: ConversationId, token: &str) -> Vec<Value> {
    customers::sees(f, id, token).await
}

/// The sample's bot escalates with `topic` and a summary for the agent.
async fn bot_escalates(f: &TestHub, id: ConversationId, topic: &str) {
    customers::bot_escalates(f, id, topic, &format!("Customer needs help with {topic}")).await;
}

async fn bot_says(f: &TestHub, id: ConversationId, text: &str) {
    customers::from_bot(f, id, Activity::message(text)).await;
}

async fn state_of(f: &TestHub, id: ConversationId) -> Value {
    f.get_json(&format!("/api/v1/conversations/{id}")).await.1
}

#[tokio::test]
async fn people_sign_in_with_their_password_and_sessions_end_when_they_sign_out() {
    let f = TestHub::sample("agents-sign-in").await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/sessions", f.base);

    for body in [
        json!({"name": "alice", "password": "wrong"}),
        json!({"name": "nobody", "password": PASSWORD}),
        json!({"name": "DemoBot", "password": PASSWORD}),
    ] {
        let response = client.post(&url).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 401, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["message"], "wrong name or password");
    }
    let response = client.post(&url).body("{\"name\": 1}").send().await.unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_body");

    let response = client
        .post(&url)
        .json(&json!({"name": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("switchboard_session=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let signed: Value = response.json().await.unwrap();
    assert_eq!(signed["user"]["display_name"], "Alice Park");
    let token = signed["token"].as_str().unwrap().to_owned();

    // The cookie works as well as the bearer header.
    let session_cookie = cookie.split(';').next().unwrap().to_owned();
    let me: Value = client
        .get(format!("{}/api/v1/me", f.base))
        .header("cookie", &session_cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&me["name"], &me["role"], &me["presence"], &me["capacity"]),
        (&json!("alice"), &json!("agent"), &json!("offline"), &json!(3))
    );

    // A password set in the database wins over the file's and ends existing sessions.
    f.hub.set_password("alice", "a-new-password").await.unwrap();
    let status = client
        .get(format!("{}/api/v1/me", f.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401, "a new password signs everyone out");
    let old = client
        .post(&url)
        .json(&json!({"name": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 401);

    let bob = Person::sign_in(&f, "bob").await;
    let (status, _) = bob
        .call(reqwest::Method::DELETE, "/api/v1/sessions/current", None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(bob.get("/api/v1/me").await.0, 401, "signed out");
    f.finish().await;
}

/// A WebSocket handshake to `path` with `headers`: the status the hub answered it with (101
/// when it upgraded).
async fn websocket_status(f: &TestHub, path: &str, headers: &[(&'static str, String)]) -> u16 {
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
        "{}{path}",
        f.base.replace("http://", "ws://")
    ))
    .unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("{path}: {e}"),
    }
}

#[tokio::test]
async fn cookie_writes_need_the_hubs_origin_and_json_while_bearer_callers_need_neither() {
    let f = TestHub::sample("agents-origin").await;
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/api/v1/sessions", f.base))
        .json(&json!({"name": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let token = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let presence = format!("{}/api/v1/me/presence", f.base);
    let body = json!({"presence": "available"}).to_string();
    let with_cookie = |origin: Option<&str>, content_type: Option<&str>| {
        let mut request = client.put(&presence).header("cookie", &cookie).body(body.clone());
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send()
    };

    for (origin, content_type, why) in [
        (Some("https://evil.example"), Some("application/json"), "another site"),
        (None, Some("application/json"), "no Origin"),
        (
            Some(f.base.as_str()),
            Some("text/plain"),
            "not JSON (what a form can send)",
        ),
        (Some(f.base.as_str()), None, "a body without a content type"),
    ] {
        let response = with_cookie(origin, content_type).await.unwrap();
        assert_eq!(response.status(), 403, "{why}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "forbidden", "{why}: {error}");
        assert!(
            error["error"]["message"].as_str().unwrap().contains("session cookie"),
            "{why}: {error}"
        );
    }
    let me: Value = client
        .get(format!("{}/api/v1/me", f.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["presence"], "offline", "nothing refused was done");

    let response = with_cookie(Some(&f.base), Some("application/json")).await.unwrap();
    assert_eq!(response.status(), 200, "the hub's own page, as the workspace sends it");
    // Reads with the cookie are not checked (a page's links and images are reads).
    let response = client
        .get(format!("{}/api/v1/me", f.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // An API client with the bearer header sends no Origin and needs none.
    let response = client
        .put(&presence)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(json!({"presence": "busy"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // The events socket and a call's audio socket, opened with the cookie from another site, are
    // refused; from the hub's own page the events socket opens.
    let id = "0190f0a0-0000-7000-8000-000000000001";
    for path in ["/api/v1/events".to_owned(), format!("/api/v1/conversations/{id}/audio")] {
        let foreign = [
            ("cookie", cookie.clone()),
            ("origin", "https://evil.example".to_owned()),
        ];
        assert_eq!(websocket_status(&f, &path, &foreign).await, 403, "{path}");
        assert_eq!(
            websocket_status(&f, &path, &[("cookie", cookie.clone())]).await,
            403,
            "{path} without Origin"
        );
    }
    let own = [("cookie", cookie.clone()), ("origin", f.base.clone())];
    assert_eq!(websocket_status(&f, "/api/v1/events", &own).await, 101);
    let bearer = [("authorization", format!("Bearer {token}"))];
    assert_eq!(websocket_status(&f, "/api/v1/events", &bearer).await, 101);

    // A write without a body (signing out) needs the Origin only.
    let sign_out = format!("{}/api/v1/sessions/current", f.base);
    let response = client.delete(&sign_out).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(response.status(), 403);
    let response = client
        .delete(&sign_out)
        .header("cookie", &cookie)
        .header("origin", &f.base)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    f.finish().await;
}

#[tokio::test]
async fn a_customer_token_or_a_bot_gets_nothing_from_the_people_api() {
    let f = TestHub::sample("agents-strangers").await;
    let (id, customer_token) = customer_starts(&f, "casey").await;
    let client = reqwest::Client::new();
    for path in [
        "/api/v1/me".to_owned(),
        "/api/v1/conversations".to_owned(),
        format!("/api/v1/conversations/{id}/transcript"),
    ] {
        for auth in [Some(customer_token.as_str()), Some("not-a-token"), None] {
            let mut request = client.get(format!("{}{path}", f.base));
            if let Some(auth) = auth {
                request = request.bearer_auth(auth);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{path} with {auth:?}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "unauthorized");
        }
    }
    f.finish().await;
}

#[tokio::test]
async fn escalation_to_alice_then_a_transfer_to_bob_who_ends_it_resolved_by_agent() {
    let f = TestHub::sample("agents-main-flow").await;
    let alice = Person::sign_in(&f, "alice").await;
    let bob = Person::sign_in(&f, "bob").await;
    let sam = Person::sign_in(&f, "sam").await;
    alice.presence("available").await;
    bob.presence("available").await;

    let (id, customer) = customer_starts(&f, "casey").await;
    bot_says(&f, id, "I can help with that. One moment.").await;
    bot_escalates(&f, id, "CreditCard").await;

    // Alice (CreditCardQueue, the most free capacity) is offered it with the summary and context.
    alice.offered(id).await;
    let (_, offers) = alice.get("/api/v1/offers").await;
    let offer = &offers["offers"][0];
    assert_eq!(offer["queue"], "CreditCardQueue");
    assert_eq!(offer["summaries"], json!(["Customer needs help with CreditCard"]));
    assert_eq!(offer["conversation"]["context"]["BotHandoffTopic"], "CreditCard");
    assert_eq!(bob.get("/api/v1/offers").await.1["offers"], json!([]));
    // Bob may not read it, nor take it.
    assert_eq!(bob.get(&format!("/api/v1/conversations/{id}")).await.0, 403);
    assert_eq!(
        bob.post(&format!("/api/v1/conversations/{id}/accept"), json!({}))
            .await
            .0,
        409
    );

    let (status, accepted) = alice
        .post(&format!("/api/v1/conversations/{id}/accept"), json!({}))
        .await;
    assert_eq!((status, &accepted["state"]), (200, &json!("active")), "{accepted}");
    assert_eq!(accepted["owner"], json!({"kind": "agent", "name": "alice"}));
    let (_, me) = alice.get("/api/v1/me").await;
    assert_eq!(me["used"], 1);

    // The whole transcript, the bot's part marked as the bot's.
    let transcript = alice.transcript(id).await;
    let roles: Vec<(&str, &str)> = transcript
        .iter()
        .map(|i| (i["role"].as_str().unwrap(), i["text"].as_str().unwrap()))
        .collect();
    assert!(roles.contains(&("customer", "I lost my credit card")), "{roles:?}");
    assert!(
        roles.contains(&("bot", "I can help with that. One moment.")),
        "{roles:?}"
    );
    assert!(
        roles.contains(&("bot", "Customer needs help with CreditCard")),
        "{roles:?}"
    );
    assert!(
        roles.contains(&("system", "Alice Park joined the conversation.")),
        "{roles:?}"
    );
    let (_, details) = alice.get(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(
        details["escalation_summaries"],
        json!(["Customer needs help with CreditCard"])
    );
    assert_eq!(details["context"]["BotHandoffTopic"], "CreditCard");

    // A reply the customer sees with Alice's name; a note nobody but agents sees.
    let (status, _) = alice
        .post(
            &format!("/api/v1/conversations/{id}/messages"),
            json!({"text": "Hi, I'm Alice. Let me block it."}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = alice
        .post(
            &format!("/api/v1/conversations/{id}/notes"),
            json!({"text": "Verified identity by phone"}),
        )
        .await;
    assert_eq!(status, 201);
    let seen = customer_sees(&f, id, &customer).await;
    let reply = seen
        .iter()
        .find(|a| a["text"] == "Hi, I'm Alice. Let me block it.")
        .expect("the customer sees Alice's reply");
    assert_eq!(reply["from"]["name"], "Alice Park");
    assert!(seen.iter().any(|a| a["text"] == "Alice Park joined the conversation."));
    assert!(
        !seen.iter().any(|a| a["text"] == "Verified identity by phone"),
        "notes never reach the customer"
    );
    let note = alice
        .transcript(id)
        .await
        .into_iter()
        .find(|i| i["text"] == "Verified identity by phone")
        .unwrap();
    assert_eq!((&note["note"], &note["role"]), (&json!(true), &json!("agent")));
    // Nor can the bot fetch it through the Connector API: it no longer has the conversation.
    let response = reqwest::Client::new()
        .get(format!(
            "{}/v3/conversations/{id}/activities/{}/members",
            f.base,
            note["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_client_error(),
        "a bot reading the note's members: {}",
        response.status()
    );
    assert!(!response.text().await.unwrap().contains("Verified identity"));
    let bot_got = f.bot.as_ref().unwrap().activities();
    assert!(
        !bot_got
            .iter()
            .any(|a| a["text"] == "Verified identity by phone" || a["text"] == "Hi, I'm Alice. Let me block it."),
        "the bot, which escalated, gets nothing of the agent's part"
    );

    // A transfer back to the bot's queue is refused: the bot already had it.
    let (status, refused) = alice
        .post(
            &format!("/api/v1/conversations/{id}/transfer"),
            json!({"queue": "BotQueue"}),
        )
        .await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (409, &json!("bot_already_had_it")),
        "{refused}"
    );
    let (status, _) = alice
        .post(
            &format!("/api/v1/conversations/{id}/transfer"),
            json!({"queue": "NoSuchQueue"}),
        )
        .await;
    assert_eq!(status, 404);

    // Alice transfers to HomeLoanQueue: Bob is offered it and accepts.
    let (status, moved) = alice
        .post(
            &format!("/api/v1/conversations/{id}/transfer"),
            json!({"queue": "HomeLoanQueue"}),
        )
        .await;
    assert_eq!((status, &moved["state"]), (200, &json!("waiting")), "{moved}");
    assert_eq!(
        alice.get("/api/v1/me").await.1["used"],
        0,
        "Alice's capacity is given back"
    );
    assert_eq!(
        alice
            .post(
                &format!("/api/v1/conversations/{id}/messages"),
                json!({"text": "still here?"})
            )
            .await
            .0,
        403,
        "after a transfer Alice can no longer write"
    );
    assert_eq!(
        alice.get(&format!("/api/v1/conversations/{id}")).await.0,
        200,
        "but she may still read what she owned"
    );
    bob.offered(id).await;
    assert_eq!(
        bob.post(&format!("/api/v1/conversations/{id}/accept"), json!({}))
            .await
            .0,
        200
    );
    assert_eq!(
        bob.post(
            &format!("/api/v1/conversations/{id}/messages"),
            json!({"text": "Bob here, about your loan."})
        )
        .await
        .0,
        201
    );

    // Bob ends it: wrap-up, then closed, resolved by an agent.
    let (status, ended) = bob.post(&format!("/api/v1/conversations/{id}/end"), json!({})).await;
    assert_eq!((status, &ended["state"]), (200, &json!("wrap_up")));
    // The sample surveys the customer next; no survey bot runs here, so the hub tells the
    // customer the survey is unavailable and ends the chat (companion_bots.rs runs one).
    let mut seen = Vec::new();
    for _ in 0..200 {
        seen = customer_sees(&f, id, &customer).await;
        if seen.iter().any(|a| a["type"] == "endOfConversation") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        seen.iter().any(|a| a["type"] == "endOfConversation"),
        "the customer sees the end: {seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|a| a["text"] == "Bob here, about your loan." && a["from"]["name"] == "Bob Silva")
    );
    assert!(seen.iter().any(|a| a["text"] == engine::SURVEY_UNAVAILABLE_NOTICE));
    let (status, closed) = bob.post(&format!("/api/v1/conversations/{id}/close"), json!({})).await;
    assert_eq!(
        (status, &closed["state"], &closed["outcome"]),
        (200, &json!("closed"), &json!("resolved_by_agent"))
    );
    assert_eq!(bob.get("/api/v1/me").await.1["used"], 0);

    // The supervisor sees all of it.
    let (status, seen_by_sam) = sam.get(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(status, 200);
    let causes: Vec<&str> = seen_by_sam["routing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cause"].as_str().unwrap())
        .collect();
    assert_eq!(causes, ["opened", "bot_escalated", "transferred"]);
    let texts: Vec<String> = sam
        .transcript(id)
        .await
        .iter()
        .map(|i| i["text"].as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "I lost my credit card",
        "Hi, I'm Alice. Let me block it.",
        "Verified identity by phone",
        "Alice Park left the conversation.",
        "Bob Silva joined the conversation.",
        "Bob Silva ended the conversation.",
    ] {
        assert!(texts.iter().any(|t| t == expected), "{expected} in {texts:?}");
    }
    let (_, listed) = sam.get("/api/v1/conversations?state=closed").await;
    assert!(
        listed["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == json!(id))
    );
    f.finish().await;
}

/// The sample with alice alone in CreditCardQueue, with capacity 1.
fn one_seat_config() -> String {
    config::SAMPLE
        .replace(
            "name = \"alice\"\ndisplay_name = \"Alice Park\"\ncapacity = 3",
            "name = \"alice\"\ndisplay_name = \"Alice Park\"\ncapacity = 1",
        )
        .replace(
            "name = \"CreditCardQueue\"\nmembers = [\"alice\", \"carol\"]",
            "name = \"CreditCardQueue\"\nmembers = [\"alice\"]",
        )
}

/// Opens a conversation that routing sends straight to CreditCardQueue (pre-chat context).
async fn credit_card_conversation(f: &TestHub, customer: &str) -> ConversationId {
    let token = f
        .directline_token_for(json!({"user": {"id": customer}, "context": {"BotHandoffTopic": "CreditCard"}}))
        .await;
    let started: Value = reqwest::Client::new()
        .post(format!("{}/v3/directline/conversations", f.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    ConversationId::parse(started["conversationId"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn with_capacity_one_an_agent_holds_one_conversation_and_the_oldest_waiting_goes_next() {
    let f = TestHub::new("agents-capacity", &one_seat_config()).await;
    let alice = Person::sign_in(&f, "alice").await;
    alice.presence("available").await;

    let first = credit_card_conversation(&f, "c1").await;
    alice.offered(first).await;
    let older = credit_card_conversation(&f, "c2").await;
    let newer = credit_card_conversation(&f, "c3").await;
    // An offer holds her one unit: nothing else is offered meanwhile.
    let (_, offers) = alice.get("/api/v1/offers").await;
    assert_eq!(offers["offers"].as_array().unwrap().len(), 1);
    assert_eq!(
        alice
            .post(&format!("/api/v1/conversations/{first}/accept"), json!({}))
            .await
            .0,
        200
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, offers) = alice.get("/api/v1/offers").await;
    assert_eq!(offers["offers"], json!([]), "never a second conversation at capacity 1");
    for id in [older, newer] {
        assert_eq!(state_of(&f, id).await["state"], "waiting");
    }
    // Both waiting customers were told their place (the one being offered counts as ahead).
    let told: Vec<String> = f
        .hub
        .store()
        .activities_after(newer, domain::Seq::ZERO, 100)
        .await
        .unwrap()
        .iter()
        .filter_map(|s| {
            serde_json::from_str::<Value>(&s.activity.body).ok()?["text"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(
        told.iter().any(|t| t.starts_with("People ahead of you: 2.")),
        "{told:?}"
    );

    // Her conversation closes: the older of the two waiting is offered, not the newer.
    alice
        .post(&format!("/api/v1/conversations/{first}/end"), json!({}))
        .await;
    assert_eq!(
        alice
            .post(&format!("/api/v1/conversations/{first}/close"), json!({}))
            .await
            .0,
        200
    );
    alice.offered(older).await;
    let (_, offers) = alice.get("/api/v1/offers").await;
    assert_eq!(offers["offers"].as_array().unwrap().len(), 1);
    assert_eq!(state_of(&f, newer).await["offer"], Value::Null);
    f.finish().await;
}

#[tokio::test]
async fn a_declined_conversation_is_offered_to_the_next_agent() {
    let f = TestHub::sample("agents-decline").await;
    let alice = Person::sign_in(&f, "alice").await;
    let carol = Person::sign_in(&f, "carol").await;
    alice.presence("available").await;
    carol.presence("available").await;
    let id = credit_card_conversation(&f, "c1").await;
    alice.offered(id).await;
    let (status, _) = alice
        .post(&format!("/api/v1/conversations/{id}/decline"), json!({}))
        .await;
    assert_eq!(status, 200);
    carol.offered(id).await;
    assert_eq!(
        alice.get("/api/v1/me").await.1["used"],
        0,
        "the decliner's capacity is given back"
    );
    assert_eq!(
        alice
            .post(&format!("/api/v1/conversations/{id}/decline"), json!({}))
            .await
            .0,
        409,
        "no offer any more"
    );
    assert_eq!(
        carol
            .post(&format!("/api/v1/conversations/{id}/accept"), json!({}))
            .await
            .0,
        200
    );
    assert_eq!(state_of(&f, id).await["owner"]["name"], "carol");
    f.finish().await;
}

#[tokio::test]
async fn an_agent_cannot_read_or_act_on_another_agents_conversation() {
    let f = TestHub::sample("agents-authz").await;
    let alice = Person::sign_in(&f, "alice").await;
    let bob = Person::sign_in(&f, "bob").await;
    alice.presence("available").await;
    let id = credit_card_conversation(&f, "c1").await;
    alice.offered(id).await;
    alice
        .post(&format!("/api/v1/conversations/{id}/accept"), json!({}))
        .await;
    alice
        .post(&format!("/api/v1/conversations/{id}/notes"), json!({"text": "private"}))
        .await;

    for path in ["", "/transcript"] {
        let (status, body) = bob.get(&format!("/api/v1/conversations/{id}{path}")).await;
        assert_eq!((status, &body["error"]["code"]), (403, &json!("forbidden")), "{path}");
    }
    for (path, body) in [
        ("messages", json!({"text": "hello"})),
        ("notes", json!({"text": "hello"})),
        ("transfer", json!({"queue": "HomeLoanQueue"})),
        ("end", json!({})),
    ] {
        let (status, _) = bob.post(&format!("/api/v1/conversations/{id}/{path}"), body).await;
        assert_eq!(status, 403, "{path}");
    }
    assert_eq!(
        bob.post(&format!("/api/v1/conversations/{id}/close"), json!({}))
            .await
            .0,
        403
    );
    let (_, listed) = bob.get("/api/v1/conversations").await;
    assert_eq!(listed["conversations"], json!([]), "an agent lists only their own");
    let (_, listed) = alice.get("/api/v1/conversations?state=active").await;
    assert_eq!(listed["conversations"].as_array().unwrap().len(), 1);
    // The operator's admin token reads everything.
    assert_eq!(
        f.get_json(&format!("/api/v1/conversations/{id}/transcript")).await.0,
        200
    );
    // Bad input is a clear 400.
    let (status, body) = alice
        .post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": "  "}))
        .await;
    assert_eq!((status, &body["error"]["code"]), (400, &json!("invalid")));
    let (status, _) = alice
        .post(&format!("/api/v1/conversations/{id}/messages"), json!({"txt": "x"}))
        .await;
    assert_eq!(status, 400);
    let (status, _) = alice.get("/api/v1/conversations/not-a-uuid").await;
    assert_eq!(status, 400);
    let (status, _) = alice
        .call(
            reqwest::Method::PUT,
            "/api/v1/me/presence",
            Some(json!({"presence": "sleeping"})),
        )
        .await;
    assert_eq!(status, 400);
    let client = reqwest::Client::new();
    let status = client
        .put(format!("{}/api/v1/me/presence", f.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"presence": "available"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 403, "the admin token is nobody in particular");
    f.finish().await;
}

#[tokio::test]
async fn the_events_socket_pushes_offers_and_transcript_items_and_its_loss_returns_the_work_after_the_grace() {
    let text = one_seat_config().replace("agent_reconnect_grace = \"90s\"", "agent_reconnect_grace = \"1s\"");
    let f = TestHub::new("agents-events", &text).await;
    let alice = Person::sign_in(&f, "alice").await;
    alice.presence("available").await;

    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
        "{}/api/v1/events",
        f.base.replace("http://", "ws://")
    ))
    .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {}", alice.token).parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let id = credit_card_conversation(&f, "c1").await;

    let mut next = async || -> Value {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
                .await
                .expect("an event within 10 s")
                .unwrap()
                .unwrap();
            if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
                return serde_json::from_str(&text).unwrap();
            }
        }
    };
    let offer = loop {
        let event = next().await;
        if event["type"] == "offer" {
            break event;
        }
    };
    assert_eq!(offer["offer"]["conversation"]["id"], json!(id));
    assert_eq!(offer["offer"]["queue"], "CreditCardQueue");
    alice
        .post(&format!("/api/v1/conversations/{id}/accept"), json!({}))
        .await;
    alice
        .post(
            &format!("/api/v1/conversations/{id}/messages"),
            json!({"text": "live hello"}),
        )
        .await;
    let item = loop {
        let event = next().await;
        if event["type"] == "activity" && event["activity"]["text"] == "live hello" {
            break event;
        }
    };
    assert_eq!(item["activity"]["role"], "agent");
    assert_eq!(item["activity"]["name"], "Alice Park");

    // Her only workspace connection drops: after the 1 s grace she is offline and the
    // conversation waits in its queue again.
    drop(socket);
    let mut back = Value::Null;
    for _ in 0..100 {
        back = state_of(&f, id).await;
        if back["state"] == "waiting" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        (&back["state"], &back["owner"]),
        (&json!("waiting"), &Value::Null),
        "{back}"
    );
    let (_, me) = alice.get("/api/v1/me").await;
    assert_eq!((&me["presence"], &me["used"]), (&json!("offline"), &json!(0)));
    f.finish().await;
}

#[tokio::test]
async fn a_silent_waiting_customer_hears_their_place_again_then_abandons() {
    let text = config::SAMPLE
        .replace("customer_inactivity = \"10m\"", "customer_inactivity = \"4s\"")
        .replace("[tenant]", "[channel]\nqueue_position_every = \"1s\"\n\n[tenant]");
    let f = TestHub::new("agents-timers", &text).await;
    let id = credit_card_conversation(&f, "c1").await;
    let mut closed = Value::Null;
    for _ in 0..100 {
        closed = state_of(&f, id).await;
        if closed["state"] == "closed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        (&closed["state"], &closed["outcome"]),
        (&json!("closed"), &json!("abandoned")),
        "{closed}"
    );
    let texts: Vec<String> = f
        .hub
        .store()
        .activities_after(id, domain::Seq::ZERO, 100)
        .await
        .unwrap()
        .iter()
        .filter_map(|s| {
            serde_json::from_str::<Value>(&s.activity.body).ok()?["text"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    let told = texts.iter().filter(|t| t.starts_with("You're next in line")).count();
    assert!(told >= 2, "the position is repeated while waiting: {texts:?}");
    assert!(
        texts.iter().any(|t| t.contains("closed because it was inactive")),
        "{texts:?}"
    );
    f.finish().await;
}

#[tokio::test]
async fn a_customer_who_ends_the_chat_before_anyone_answered_abandons_it() {
    let f = TestHub::sample("agents-customer-ends").await;
    let (id, token) = customer_starts(&f, "casey").await;
    bot_escalates(&f, id, "HomeLoan").await;
    assert_eq!(state_of(&f, id).await["state"], "waiting");
    let status = reqwest::Client::new()
        .post(format!("{}/v3/directline/conversations/{id}/activities", f.base))
        .bearer_auth(&token)
        .json(&json!({"type": "endOfConversation", "from": {"id": "casey"}}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let closed = state_of(&f, id).await;
    assert_eq!(
        (&closed["state"], &closed["outcome"]),
        (&json!("closed"), &json!("abandoned"))
    );
    f.finish().await;
}

#[tokio::test]
async fn with_auto_accept_the_agent_gets_the_conversation_without_an_offer() {
    let f = TestHub::new(
        "agents-auto-accept",
        &config::SAMPLE.replace("auto_accept = false", "auto_accept = true"),
    )
    .await;
    let alice = Person::sign_in(&f, "alice").await;
    alice.presence("available").await;
    let id = credit_card_conversation(&f, "c1").await;
    let conv = state_of(&f, id).await;
    assert_eq!(
        (&conv["state"], &conv["owner"]["name"]),
        (&json!("active"), &json!("alice")),
        "{conv}"
    );
    assert_eq!(alice.get("/api/v1/offers").await.1["offers"], json!([]));
    assert!(
        alice
            .transcript(id)
            .await
            .iter()
            .any(|i| i["text"] == "Alice Park joined the conversation.")
    );
    f.finish().await;
}

#[tokio::test]
async fn in_a_pick_workstream_agents_choose_from_the_waiting_list() {
    let f = TestHub::new(
        "agents-pick",
        &config::SAMPLE
            .replacen("mode = \"push\"", "mode = \"pick\"", 1)
            .replace("members = [\"DemoBot\", \"carol\"]", "members = [\"carol\"]"),
    )
    .await;
    let alice = Person::sign_in(&f, "alice").await;
    let bob = Person::sign_in(&f, "bob").await;
    alice.presence("available").await;
    let id = credit_card_conversation(&f, "c1").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        alice.get("/api/v1/offers").await.1["offers"],
        json!([]),
        "nothing is pushed"
    );
    let (_, open) = alice.get("/api/v1/conversations?state=waiting").await;
    assert_eq!(open["conversations"][0]["id"], json!(id));
    assert_eq!(
        alice.get(&format!("/api/v1/conversations/{id}/transcript")).await.0,
        200
    );
    let (_, not_bobs) = bob.get("/api/v1/conversations?state=waiting").await;
    assert_eq!(not_bobs["conversations"], json!([]), "bob is not in CreditCardQueue");
    assert_eq!(
        bob.post(&format!("/api/v1/conversations/{id}/pick"), json!({})).await.0,
        403
    );
    let (status, picked) = alice.post(&format!("/api/v1/conversations/{id}/pick"), json!({})).await;
    assert_eq!((status, &picked["owner"]["name"]), (200, &json!("alice")), "{picked}");
    assert_eq!(alice.get("/api/v1/me").await.1["used"], 1);
    f.finish().await;
}

#[tokio::test]
async fn an_agent_who_steps_away_from_an_offer_passes_it_on_without_a_decline() {
    let f = TestHub::sample("agents-away").await;
    let alice = Person::sign_in(&f, "alice").await;
    let carol = Person::sign_in(&f, "carol").await;
    alice.presence("available").await;
    carol.presence("available").await;
    let id = credit_card_conversation(&f, "c1").await;
    alice.offered(id).await;
    alice.presence("away").await;
    carol.offered(id).await;
    assert_eq!(alice.get("/api/v1/me").await.1["used"], 0);
    assert_eq!(alice.get("/api/v1/offers").await.1["offers"], json!([]));
    f.finish().await;
}
