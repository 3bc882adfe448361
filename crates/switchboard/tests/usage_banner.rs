//! The supervisor view's bot-session banner (docs/metering.md), in headless Chromium
//! (`compat/browser/usage-banner.js`): no banner without `[metering]` nor under 80 % of the
//! pool; a polite warning (`role="status"`) from 80 %, refreshed every minute; an alert
//! (`role="alert"`) once the pool is spent, saying what `when_spent` does. The sessions are real
//! Direct Line conversations the sample's bot takes, as in `tests/metering.rs`.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard::config;

mod common;
use common::compat::run_browser_script;
use common::people::{PASSWORD, Person};
use common::{RecordingBot, SAMPLE_BOT_ENDPOINT, TestHub};

/// A hub with the sample configuration, a bot that takes every conversation, and `metering` as
/// its `[metering]` section (none when empty).
async fn hub_metering(tag: &str, metering: &str) -> (TestHub, RecordingBot) {
    let bot = RecordingBot::start().await;
    let mut text = config::SAMPLE.replace(SAMPLE_BOT_ENDPOINT, &bot.endpoint());
    if !metering.is_empty() {
        text = format!("{text}\n[metering]\n{metering}\n");
    }
    (TestHub::new(tag, &text).await, bot)
}

async fn start_conversation(f: &TestHub, user: &str) {
    common::customers::start(f, user).await;
}

/// `GET /api/v1/usage` as sam, the sample's supervisor: the page reads it with his session.
async fn usage_as_sam(f: &TestHub) -> Value {
    let (status, usage) = Person::sign_in(f, "sam").await.get("/api/v1/usage").await;
    assert_eq!(status, 200, "a supervisor may read the usage: {usage}");
    usage
}

#[tokio::test]
async fn sam_is_warned_at_80_percent_of_the_bot_sessions_and_alerted_once_they_are_spent() {
    let (plain, _plain_bot) = hub_metering("usage-banner-plain", "").await;
    let (f, _bot) = hub_metering("usage-banner", "licences = 1").await;
    let (routed, _routed_bot) = hub_metering("usage-banner-route", r#"when_spent = "route_to_people""#).await;

    // What the page is given: nothing to warn about without metering, 78 % of 50 on the main hub.
    let usage = usage_as_sam(&plain).await;
    assert_eq!(
        (&usage["metered"], &usage["entitled"], &usage["level"]),
        (&json!(false), &Value::Null, &Value::Null),
        "{usage}"
    );
    for n in 0..39 {
        start_conversation(&f, &format!("customer-{n}")).await;
    }
    let usage = usage_as_sam(&f).await;
    assert_eq!(
        (&usage["used"], &usage["entitled"], &usage["level"]),
        (&json!(39), &json!(50), &json!("ok")),
        "{usage}"
    );
    // The script starts the eleven more that take the pool to 80 % and then to all of it.
    let mut tokens = Vec::new();
    for n in 39..50 {
        tokens.push(f.directline_token(&format!("customer-{n}")).await);
    }
    let tokens = tokens.join(",");

    let shot = std::env::var("SWITCHBOARD_SCREENSHOTS")
        .ok()
        .map(|d| format!("{d}/usage-banner.png"));
    let mut env = vec![
        ("HUB_URL", f.base.as_str()),
        ("PLAIN_URL", plain.base.as_str()),
        ("ROUTE_URL", routed.base.as_str()),
        ("PASSWORD", PASSWORD),
        ("DL_TOKENS", tokens.as_str()),
    ];
    if let Some(shot) = &shot {
        env.push(("SCREENSHOT", shot.as_str()));
    }
    let run = run_browser_script("browser/usage-banner.js", &env, Duration::from_secs(120)).await;
    let Some(run) = run else {
        for hub in [plain, f, routed] {
            hub.finish().await;
        }
        return;
    };
    assert!(run.success, "the usage banner flow did not complete:\n{}", run.report());
    let said = |prefix: &str| {
        run.lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("the script prints `{prefix}<text>`"))
            .to_owned()
    };
    assert_eq!(
        said("WARNING "),
        "Bot sessions: 40 of 50 used this month (80 %). 10 left; then bots keep serving and the overage is reported."
    );
    assert_eq!(
        said("SPENT "),
        "Bot sessions: 50 of 50 used this month (100 %). The pool is spent: bots keep serving and the overage is reported."
    );
    assert_eq!(
        said("ROUTE "),
        "Bot sessions: 0 used this month, with no sessions in the pool (no licences or add-ons). \
         The pool is spent: new conversations go to people, not bots, until the month ends."
    );

    // The page showed what the API says.
    let usage = usage_as_sam(&f).await;
    assert_eq!(
        (&usage["used"], &usage["remaining"], &usage["level"]),
        (&json!(50), &json!(0), &json!("exhausted")),
        "{usage}"
    );
    for hub in [plain, f, routed] {
        hub.finish().await;
    }
}
