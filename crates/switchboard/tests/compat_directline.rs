//! Microsoft's real `botframework-directlinejs` 0.15 client (under Node, in `compat/`), in
//! WebSocket and in polling mode, against a real hub and a real `botbuilder` bot: the sample
//! flow (greeting, echo, escalation to CreditCardQueue, end), and sending, receiving and resuming
//! with a watermark, both with a token and with the channel's secret (which directlinejs then
//! sends on every call, as it does to Azure).

use std::time::Duration;

use serde_json::{Value, json};

mod common;
use common::TestHub;
use common::compat::{BotKind, BotProcess, ClientRun, run_directline_client, start_bot};

async fn hub_with_node_bot(tag: &str) -> Option<(TestHub, BotProcess)> {
    let bot = start_bot(BotKind::Node, &[]).await?;
    let f = TestHub::new(
        tag,
        &switchboard::config::SAMPLE.replace(common::SAMPLE_BOT_ENDPOINT, &bot.endpoint()),
    )
    .await;
    Some((f, bot))
}

/// What the client is given to reach the hub.
#[derive(Clone, Copy)]
enum Credential<'a> {
    /// A token from `tokens/generate`.
    Token(&'a str),
    /// The sample channel's secret.
    Secret,
}

async fn run(
    f: &TestHub,
    mode: &str,
    credential: Credential<'_>,
    script: Value,
    resume: Option<(&str, &str)>,
) -> ClientRun {
    let domain = format!("{}/v3/directline", f.base);
    let script = script.to_string();
    let auth = match credential {
        Credential::Token(token) => ("DL_TOKEN", token),
        Credential::Secret => ("DL_SECRET", common::SAMPLE_DIRECTLINE_SECRET),
    };
    let mut env = vec![
        ("DL_DOMAIN", domain.as_str()),
        auth,
        ("DL_MODE", mode),
        ("DL_SCRIPT", script.as_str()),
    ];
    if let Some((conversation, watermark)) = resume {
        env.push(("DL_CONVERSATION_ID", conversation));
        env.push(("DL_WATERMARK", watermark));
    }
    let run = run_directline_client(&env, Duration::from_secs(60))
        .await
        .expect("the client's dependencies are installed with the bot's");
    assert!(
        run.success,
        "directlinejs ({mode}) failed:\n{}\n{}",
        run.lines.join("\n"),
        run.stderr.join("\n")
    );
    run
}

async fn the_sample_flow_completes(mode: &str) {
    let Some((f, _bot)) = hub_with_node_bot("dl-compat").await else {
        return;
    };

    let escalating = run(
        &f,
        mode,
        Credential::Token(&f.directline_token("dl_compat_user").await),
        json!([
            {"expect": "Hello from the node bot"},
            {"send": "hi"},
            {"expect": "Echo: hi"},
            {"send": "I have a question about my credit card"},
            {"sleep": 300},
        ]),
        None,
    )
    .await;
    let id = escalating.conversation_id().unwrap();
    let details = f.details_when(&id, |b| b["queue"] == "CreditCardQueue").await;
    assert_eq!(
        details["escalation_summaries"],
        json!(["Customer asks about a credit card limit"])
    );
    assert!(
        !escalating
            .received_texts()
            .iter()
            .any(|t| t.contains("credit card limit")),
        "the escalation summary is for agents only: {:?}",
        escalating.received_texts()
    );

    let ending = run(
        &f,
        mode,
        Credential::Token(&f.directline_token("dl_compat_user").await),
        json!([
            {"expect": "Hello from the node bot"},
            {"send": "bye"},
            {"expect": "Goodbye!"},
            {"end": true},
        ]),
        None,
    )
    .await;
    let details = f
        .details_when(&ending.conversation_id().unwrap(), |b| b["state"] == "closed")
        .await;
    assert_eq!(details["outcome"], "resolved_by_bot");
    f.finish().await;
}

#[tokio::test]
async fn directlinejs_over_websocket_completes_the_sample_flow() {
    the_sample_flow_completes("websocket").await;
}

#[tokio::test]
async fn directlinejs_polling_completes_the_sample_flow() {
    the_sample_flow_completes("polling").await;
}

async fn resuming_with_a_watermark_gets_only_newer_activities(mode: &str, secret: bool) {
    let Some((f, _bot)) = hub_with_node_bot("dl-resume").await else {
        return;
    };
    let token = f.directline_token("dl_compat_user").await;
    let credential = if secret {
        Credential::Secret
    } else {
        Credential::Token(&token)
    };
    let first = run(
        &f,
        mode,
        credential,
        json!([
            {"expect": "Hello from the node bot"},
            {"send": "one"},
            {"expect": "Echo: one"},
            {"end": true},
        ]),
        None,
    )
    .await;
    let id = first.conversation_id().unwrap();
    let watermark = first.watermark().expect("the client reports its watermark");

    // While the client is away: the customer (another tab) says more, the bot answers.
    let conversation = domain::ConversationId::parse(&id).unwrap();
    for text in ["two", "three"] {
        f.hub
            .accept_from_customer(conversation, botframework::Activity::message(text))
            .await
            .unwrap();
        f.wait_for_bot_text(conversation, |t| t == format!("Echo: {text}"))
            .await;
    }

    let resumed = run(
        &f,
        mode,
        credential,
        json!([{"expect": "Echo: three"}, {"sleep": 500}, {"end": true}]),
        Some((&id, &watermark)),
    )
    .await;
    assert_eq!(
        resumed.received_texts(),
        ["two", "Echo: two", "three", "Echo: three"],
        "only what came after the watermark, in order, once each"
    );
    f.finish().await;
}

#[tokio::test]
async fn directlinejs_resuming_over_websocket_gets_only_newer_activities() {
    resuming_with_a_watermark_gets_only_newer_activities("websocket", false).await;
}

#[tokio::test]
async fn directlinejs_resuming_by_polling_gets_only_newer_activities() {
    resuming_with_a_watermark_gets_only_newer_activities("polling", false).await;
}

#[tokio::test]
async fn directlinejs_with_the_secret_over_websocket_sends_receives_and_resumes_with_a_watermark() {
    resuming_with_a_watermark_gets_only_newer_activities("websocket", true).await;
}

#[tokio::test]
async fn directlinejs_with_the_secret_by_polling_sends_receives_and_resumes_with_a_watermark() {
    resuming_with_a_watermark_gets_only_newer_activities("polling", true).await;
}
