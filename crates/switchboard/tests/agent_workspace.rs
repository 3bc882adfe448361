//! The agent workspace page, `/agent`: its assets come from the binary with a strict CSP, and in
//! headless Chromium (`compat/browser/agent-workspace.js`) the whole sample flow runs through it
//! with a customer on `/chat` and the built-in demo bot: escalation to alice, the bot transcript
//! and context, markup shown as text, a reply the customer sees with alice's name, a transfer to
//! bob, the end and wrap-up. Afterwards the supervisor reads all of it through the API.

use std::time::Duration;

use serde_json::json;

mod common;
use common::TestHub;
use common::compat::run_browser_script;
use common::people::{PASSWORD, Person};

async fn hub_with_demo_bot(tag: &str) -> TestHub {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/api/messages", listener.local_addr().unwrap());
    tokio::spawn(switchboard::demo_bot::serve(listener, std::future::pending()));
    TestHub::new(
        tag,
        &switchboard::config::SAMPLE.replace(common::SAMPLE_BOT_ENDPOINT, &endpoint),
    )
    .await
}

#[tokio::test]
async fn the_workspace_and_its_assets_are_served_from_the_binary() {
    let f = TestHub::sample("agent-assets").await;
    for (path, content_type, needle) in [
        ("/agent", "text/html", "agent/agent.js"),
        ("/agent/agent.js", "text/javascript", "/api/v1/events"),
        ("/agent/agent.css", "text/css", ".transcript"),
        ("/assets/workspace.css", "text/css", ".signin__card"),
    ] {
        let response = reqwest::get(format!("{}{path}", f.base)).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert!(header("content-type").starts_with(content_type), "{path}");
        if path == "/agent" {
            let csp = header("content-security-policy");
            assert!(
                csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
                "{csp}"
            );
        }
        assert!(response.text().await.unwrap().contains(needle), "{path}");
    }
    f.finish().await;
}

#[tokio::test]
async fn alice_takes_the_escalation_in_the_workspace_transfers_it_and_bob_ends_it() {
    let f = hub_with_demo_bot("agent-workspace").await;
    let shots = std::env::var("SWITCHBOARD_SCREENSHOTS").ok();
    let workspace_shot = shots.as_ref().map(|d| format!("{d}/agent-workspace.png"));
    let offer_shot = shots.as_ref().map(|d| format!("{d}/agent-offer.png"));
    let mut env = vec![("HUB_URL", f.base.as_str()), ("PASSWORD", PASSWORD)];
    if let (Some(w), Some(o)) = (&workspace_shot, &offer_shot) {
        env.push(("SCREENSHOT", w.as_str()));
        env.push(("SCREENSHOT_OFFER", o.as_str()));
    }
    let Some(run) = run_browser_script("browser/agent-workspace.js", &env, Duration::from_secs(120)).await else {
        f.finish().await;
        return;
    };
    assert!(run.success, "the workspace flow did not complete:\n{}", run.report());
    let id = run
        .lines
        .iter()
        .find_map(|l| l.strip_prefix("CONVERSATION "))
        .expect("the script names the conversation")
        .to_owned();

    // The supervisor sees the whole of it through the API.
    let sam = Person::sign_in(&f, "sam").await;
    let id = domain::ConversationId::parse(&id).unwrap();
    let (_, details) = sam.get(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(
        (&details["state"], &details["outcome"]),
        (&json!("closed"), &json!("resolved_by_agent")),
        "{details}"
    );
    assert_eq!(details["context"]["BotHandoffTopic"], "CreditCard");
    let queues: Vec<&str> = details["routing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["queue"].as_str().unwrap())
        .collect();
    assert_eq!(queues, ["BotQueue", "CreditCardQueue", "HomeLoanQueue"]);
    let items = sam.transcript(id).await;
    let by = |role: &str, text: &str| {
        items
            .iter()
            .any(|i| i["role"] == role && i["text"].as_str().unwrap().contains(text))
    };
    assert!(by("customer", "My credit card was declined"));
    assert!(by("bot", "credit card specialist"));
    assert!(by("agent", "Hello, this is Alice"));
    assert!(by("system", "Bob Silva joined the conversation."));
    assert!(
        items
            .iter()
            .any(|i| i["note"] == true && i["text"] == "Customer verified by security questions")
    );
    f.finish().await;
}
