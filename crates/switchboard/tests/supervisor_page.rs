//! The supervisor view, `/supervisor`: its assets come from the binary with a strict CSP, and in
//! headless Chromium (`compat/browser/supervisor.js`) sam watches the sample flow live — a
//! customer on `/chat` with the demo bot, the escalation waiting in CreditCardQueue with a
//! negative sentiment, the transcript and routing trace — assigns it to alice, and force-closes
//! a second conversation whose customer sees the notice. Afterwards the API agrees with what
//! the page showed.

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
async fn the_supervisor_view_and_its_assets_are_served_from_the_binary() {
    let f = TestHub::sample("supervisor-assets").await;
    for (path, content_type, needle) in [
        ("/supervisor", "text/html", "supervisor/supervisor.js"),
        ("/supervisor/supervisor.js", "text/javascript", "'force-close'"),
        ("/supervisor/supervisor.css", "text/css", ".sentiment"),
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
        if path == "/supervisor" {
            let csp = header("content-security-policy");
            assert!(
                csp.contains("script-src 'self'")
                    && !csp.contains("unsafe-inline")
                    && csp.contains("frame-ancestors 'none'"),
                "{csp}"
            );
            assert_eq!(header("x-frame-options"), "DENY");
        }
        let body = response.text().await.unwrap();
        assert!(body.contains(needle), "{path}");
        if !path.ends_with(".js") {
            assert!(!body.contains("://"), "{path} loads nothing from elsewhere");
        }
    }
    f.finish().await;
}

#[tokio::test]
async fn sam_watches_the_escalation_live_assigns_it_to_alice_and_force_closes_another() {
    let f = hub_with_demo_bot("supervisor-page").await;
    let shot = std::env::var("SWITCHBOARD_SCREENSHOTS")
        .ok()
        .map(|d| format!("{d}/supervisor.png"));
    let mut env = vec![("HUB_URL", f.base.as_str()), ("PASSWORD", PASSWORD)];
    if let Some(shot) = &shot {
        env.push(("SCREENSHOT", shot.as_str()));
    }
    let Some(run) = run_browser_script("browser/supervisor.js", &env, Duration::from_secs(150)).await else {
        f.finish().await;
        return;
    };
    assert!(run.success, "the supervisor flow did not complete:\n{}", run.report());
    let named = |prefix: &str| {
        let id = run
            .lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("the script prints `{prefix}<id>`"));
        domain::ConversationId::parse(id).unwrap()
    };
    let (assigned, closed) = (named("ASSIGNED "), named("CLOSED "));

    let sam = Person::sign_in(&f, "sam").await;
    let (_, details) = sam.get(&format!("/api/v1/conversations/{assigned}")).await;
    assert_eq!(
        (&details["state"], &details["owner"]),
        (&json!("active"), &json!({"kind": "agent", "name": "alice"})),
        "{details}"
    );
    assert_eq!(details["context"]["BotHandoffTopic"], "CreditCard");
    assert!(
        details["sentiment"]["level"].as_str().unwrap().contains("negative"),
        "{details}"
    );
    let (_, details) = sam.get(&format!("/api/v1/conversations/{closed}")).await;
    assert_eq!(
        (&details["state"], &details["outcome"]),
        (&json!("closed"), &json!("abandoned")),
        "{details}"
    );
    let items = sam.transcript(closed).await;
    assert!(
        items
            .iter()
            .any(|i| i["role"] == "system" && i["text"].as_str().unwrap().starts_with(engine::FORCE_CLOSE_NOTICE)),
        "{items:?}"
    );
    f.finish().await;
}
