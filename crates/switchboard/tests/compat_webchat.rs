//! Microsoft's real Web Chat (npm `botframework-webchat` 4.18, its own bundle, loaded by a test
//! page) in headless Chromium driven by Playwright (`compat/browser/webchat.js`), against a real
//! hub and a real `botbuilder` bot: over the WebSocket stream, a message typed into Web Chat's send
//! box is sent, marked sent (Web Chat saw its echo), and the bot's reply is rendered.

use std::time::Duration;

mod common;
use common::TestHub;
use common::compat::{BotKind, run_browser_script, start_bot};

#[tokio::test]
async fn web_chat_sends_a_message_and_renders_the_bots_reply() {
    let Some(bot) = start_bot(BotKind::Node, &[]).await else {
        return;
    };
    let f = TestHub::sample_with_bot("webchat", &bot.endpoint()).await;
    let token = f.directline_token("dl_webchat_user").await;
    let token = token.as_str();
    let screenshot = f.dir.join("webchat.png");
    let screenshot = screenshot.to_str().unwrap();

    let Some(run) = run_browser_script(
        "browser/webchat.js",
        &[
            ("HUB_URL", f.base.as_str()),
            ("DL_TOKEN", token),
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
    assert!(
        run.lines.iter().any(|line| line.starts_with(&stream)),
        "Web Chat did not open the streamUrl:\n{}",
        run.report()
    );
    assert!(
        std::path::Path::new(screenshot).is_file(),
        "no screenshot at {screenshot}"
    );
    f.finish().await;
}
