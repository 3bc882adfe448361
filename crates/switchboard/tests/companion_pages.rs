//! The survey and smart-assist bots in the browser (`compat/browser/companions.js`, headless
//! Chromium): with the sample's demo, survey and knowledge bots running, a customer on `/chat`
//! asks about a card fee while alice has the conversation — the article appears in alice's
//! Suggestions panel and never on the customer's page, and Insert fills her composer — then alice
//! ends it, the customer answers the survey in the chat page, and sam's analytics page shows the
//! score. Afterwards the API shows the stored answers.

use std::time::Duration;

use serde_json::json;

mod common;
use common::TestHub;
use common::compat::run_browser_script;
use common::people::{PASSWORD, Person};

/// Runs a built-in bot on a free port; returns its messaging endpoint.
async fn builtin(serve: fn(tokio::net::TcpListener) -> tokio::task::JoinHandle<std::io::Result<()>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/api/messages", listener.local_addr().unwrap());
    serve(listener);
    endpoint
}

#[tokio::test]
async fn the_customer_never_sees_suggestions_and_answers_the_survey_in_the_chat_page() {
    let demo = builtin(|l| tokio::spawn(switchboard::demo_bot::serve(l, std::future::pending()))).await;
    let survey = builtin(|l| tokio::spawn(switchboard::survey_bot::serve(l, std::future::pending()))).await;
    let knowledge = builtin(|l| tokio::spawn(switchboard::knowledge_bot::serve(l, std::future::pending()))).await;
    let text = switchboard::config::SAMPLE
        .replace(common::SAMPLE_BOT_ENDPOINT, &demo)
        .replace("/bots/survey/api/messages", &survey)
        .replace("/bots/knowledge/api/messages", &knowledge);
    let f = TestHub::new("companion-pages", &text).await;
    let shot = std::env::var("SWITCHBOARD_SCREENSHOTS")
        .ok()
        .map(|d| format!("{d}/agent-suggestions.png"));
    let mut env = vec![("HUB_URL", f.base.as_str()), ("PASSWORD", PASSWORD)];
    if let Some(shot) = &shot {
        env.push(("SCREENSHOT", shot.as_str()));
    }
    let Some(run) = run_browser_script("browser/companions.js", &env, Duration::from_secs(150)).await else {
        f.finish().await;
        return;
    };
    assert!(
        run.success,
        "the survey and smart-assist flow did not complete:\n{}",
        run.report()
    );
    let id = run
        .lines
        .iter()
        .find_map(|l| l.strip_prefix("CONVERSATION "))
        .expect("the script names the conversation");
    let id = domain::ConversationId::parse(id).unwrap();

    let sam = Person::sign_in(&f, "sam").await;
    let (_, details) = sam.get(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(details["survey"]["end"], "completed", "{details}");
    assert_eq!(
        details["survey"]["answers"],
        json!({"csat": 5, "comment": "Alice was quick and kind"})
    );
    let items = sam.transcript(id).await;
    let suggestion = items
        .iter()
        .find(|i| i["suggestion"] == true)
        .expect("the suggestion is kept in the transcript for agents");
    assert_eq!(
        (&suggestion["sender"], &suggestion["agents_only"]),
        (&json!("KnowledgeBot"), &json!(true))
    );
    f.finish().await;
}
