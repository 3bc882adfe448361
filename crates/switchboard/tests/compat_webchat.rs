//! Microsoft's real Web Chat (npm `botframework-webchat` 4.18, its own bundle, loaded by a test
//! page) in headless Chromium driven by Playwright (`compat/browser/webchat.js`), against a real
//! hub and a real `botbuilder` bot, with a token and with the channel's secret (as Microsoft's
//! quickstarts configure it), over the WebSocket stream and by polling: a message typed into Web
//! Chat's send box is sent, marked sent (Web Chat saw its echo), and the bot's reply is rendered.

use std::time::Duration;

mod common;
use common::TestHub;
use common::compat::{BotKind, run_browser_script, start_bot};

/// What Web Chat is given to reach the hub.
enum Credential {
    /// A token from `tokens/generate`, as a site's backend hands out.
    Token,
    /// The channel's secret itself, in the page.
    Secret,
}

async fn web_chat_sends_a_message_and_renders_the_bots_reply(credential: Credential, mode: &str) {
    let Some(bot) = start_bot(BotKind::Node, &[]).await else {
        return;
    };
    let f = TestHub::sample_with_bot("webchat", &bot.endpoint()).await;
    let auth = match credential {
        Credential::Token => ("DL_TOKEN", f.directline_token("dl_webchat_user").await),
        Credential::Secret => ("DL_SECRET", common::SAMPLE_DIRECTLINE_SECRET.to_owned()),
    };
    let screenshot = f.dir.join("webchat.png");
    let screenshot = screenshot.to_str().unwrap();

    let Some(run) = run_browser_script(
        "browser/webchat.js",
        &[
            ("HUB_URL", f.base.as_str()),
            (auth.0, auth.1.as_str()),
            ("DL_MODE", mode),
            ("WEBCHAT_SEND", "hi"),
            ("WEBCHAT_EXPECT", "Echo: hi"),
            ("SCREENSHOT", screenshot),
        ],
        Duration::from_secs(60),
    )
    .await
    else {
        f.finish().await;
        return;
    };
    assert!(run.success, "Web Chat did not complete the exchange:\n{}", run.report());

    let transcript = run.transcript();
    let greeting = transcript
        .iter()
        .find(|item| item["text"] == "Hello from the node bot")
        .unwrap_or_else(|| panic!("no greeting rendered: {transcript:?}"));
    assert_eq!(greeting["fromUser"], false);
    let mine = transcript
        .iter()
        .find(|item| item["fromUser"] == true && item["text"] == "hi")
        .unwrap_or_else(|| panic!("the message is not in the transcript: {transcript:?}"));
    assert_eq!(mine["pending"], false, "still sending or failed: {mine}");
    let stream = format!(
        "WEBSOCKET ws://{}/v3/directline/conversations/",
        &f.base["http://".len()..]
    );
    assert_eq!(
        run.lines.iter().any(|line| line.starts_with(&stream)),
        mode == "websocket",
        "Web Chat should open the streamUrl only over WebSocket ({mode}):\n{}",
        run.report()
    );
    assert!(
        std::path::Path::new(screenshot).is_file(),
        "no screenshot at {screenshot}"
    );
    f.finish().await;
}

#[tokio::test]
async fn web_chat_with_a_token_over_websocket_sends_a_message_and_renders_the_bots_reply() {
    web_chat_sends_a_message_and_renders_the_bots_reply(Credential::Token, "websocket").await;
}

#[tokio::test]
async fn web_chat_with_a_token_by_polling_sends_a_message_and_renders_the_bots_reply() {
    web_chat_sends_a_message_and_renders_the_bots_reply(Credential::Token, "polling").await;
}

#[tokio::test]
async fn web_chat_with_the_secret_over_websocket_sends_a_message_and_renders_the_bots_reply() {
    web_chat_sends_a_message_and_renders_the_bots_reply(Credential::Secret, "websocket").await;
}

#[tokio::test]
async fn web_chat_with_the_secret_by_polling_sends_a_message_and_renders_the_bots_reply() {
    web_chat_sends_a_message_and_renders_the_bots_reply(Credential::Secret, "polling").await;
}
