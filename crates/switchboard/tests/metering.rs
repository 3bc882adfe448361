//! Bot-session metering end to end: conversations the sample's bot answers are counted once
//! each against a tenant pool of 1 licence and 1 add-on (150 a month), through
//! `GET /api/v1/usage` and `switchboard usage`, with the 80 % warning at 120.

use serde_json::{Value, json};
use switchboard::config;

mod common;
use common::people::Person;
use common::{RecordingBot, SAMPLE_BOT_ENDPOINT, TestHub};

async fn start_conversation(f: &TestHub, user: &str) {
    common::customers::start(f, user).await;
}

fn usage_cli(f: &TestHub, config_file: &std::path::Path, month: Option<&str>) -> (bool, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .arg("usage")
        .arg("--config")
        .arg(config_file)
        .arg("--database-url")
        .arg(format!("sqlite://{}/hub.db", f.dir.display()));
    if let Some(month) = month {
        command.args(["--month", month]);
    }
    let out = command.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn one_licence_and_one_add_on_is_150_sessions_with_the_warning_at_120() {
    let bot = RecordingBot::start().await;
    let text = format!(
        "{}\n[metering]\nlicences = 1\nadd_ons = 1\n",
        config::SAMPLE.replace(SAMPLE_BOT_ENDPOINT, &bot.endpoint())
    );
    let f = TestHub::new("metering", &text).await;
    let config_file = f.dir.join("hub.toml");
    std::fs::write(&config_file, &text).unwrap();

    let (status, usage) = f.get_json("/api/v1/usage").await;
    assert_eq!(status, 200, "{usage}");
    assert_eq!(
        (
            &usage["used"],
            &usage["entitled"],
            &usage["level"],
            &usage["when_spent"]
        ),
        (&json!(0), &json!(150), &json!("ok"), &json!("serve"))
    );
    for n in 0..119 {
        start_conversation(&f, &format!("customer-{n}")).await;
    }
    let (_, usage) = f.get_json("/api/v1/usage").await;
    assert_eq!(
        (&usage["used"], &usage["level"]),
        (&json!(119), &json!("ok")),
        "{usage}"
    );
    start_conversation(&f, "customer-119").await;
    let (_, usage) = f.get_json("/api/v1/usage").await;
    assert_eq!(
        (&usage["used"], &usage["remaining"], &usage["percent"], &usage["level"]),
        (&json!(120), &json!(30), &json!(80.0), &json!("warning")),
        "{usage}"
    );
    assert_eq!(usage["by_bot"], json!([{"bot": "DemoBot", "sessions": 120}]));

    // Agents may not read it; a bad month is a clear error.
    let alice = Person::sign_in(&f, "alice").await;
    assert_eq!(alice.get("/api/v1/usage").await.0, 403);
    let (status, error) = f.get_json("/api/v1/usage?month=2026-13").await;
    assert_eq!((status, &error["error"]["code"]), (400, &json!("invalid_month")));
    // Last month had none: unused sessions do not carry over, each month starts from nothing.
    let this = usage["month"].as_str().unwrap().to_owned();
    let (y, m) = this.split_once('-').unwrap();
    let (y, m): (i32, u32) = (y.parse().unwrap(), m.parse().unwrap());
    let previous = if m == 1 {
        format!("{}-12", y - 1)
    } else {
        format!("{y}-{:02}", m - 1)
    };
    let (_, before) = f.get_json(&format!("/api/v1/usage?month={previous}")).await;
    assert_eq!((&before["used"], &before["remaining"]), (&json!(0), &json!(150)));

    // The command line reads the same from the database.
    let (ok, out, err) = usage_cli(&f, &config_file, None);
    assert!(ok, "{err}");
    assert!(
        out.contains("used 120 of 150 (80.0 %), 30 remaining — warning: 80 % of the pool is used"),
        "{out}"
    );
    assert!(out.contains("DemoBot: 120"), "{out}");
    let (ok, _, err) = usage_cli(&f, &config_file, Some("last month"));
    assert!(!ok);
    assert!(err.contains("--month: `last month` is not a month (YYYY-MM)"), "{err}");
    let (ok, out, _) = usage_cli(&f, &config_file, Some(&previous));
    assert!(ok && out.contains("used 0 of 150"), "{out}");
    let json_out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["usage", "--json", "--config"])
        .arg(&config_file)
        .arg("--database-url")
        .arg(format!("sqlite://{}/hub.db", f.dir.display()))
        .output()
        .unwrap();
    let cli: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    assert_eq!(cli, usage, "the command prints what the API answers");
    f.finish().await;
}

#[tokio::test]
async fn a_spent_pool_keeps_serving_by_default_and_routes_new_conversations_to_people_when_configured() {
    for (when_spent, bots_only, queue, owner_kind, used, level) in [
        ("serve", false, "BotQueue", Some("bot"), 1, "over"),
        // BotQueue has carol too: she, not the bot, is to take it (she is offline, so it waits).
        ("route_to_people", false, "BotQueue", None, 0, "exhausted"),
        // A queue of bots only: the workstream's fallback queue, of people.
        ("route_to_people", true, "DefaultQueue", None, 0, "exhausted"),
    ] {
        let bot = RecordingBot::start().await;
        let mut sample = config::SAMPLE.replace(SAMPLE_BOT_ENDPOINT, &bot.endpoint());
        if bots_only {
            sample = sample.replace(r#"members = ["DemoBot", "carol"]"#, r#"members = ["DemoBot"]"#);
        }
        // No licences: the pool is spent from the start.
        let text = format!("{sample}\n[metering]\nwhen_spent = \"{when_spent}\"\n");
        let f = TestHub::new("metering-spent", &text).await;
        start_conversation(&f, "casey").await;
        let (_, list) = f.get_json("/api/v1/conversations").await;
        let c = &list["conversations"][0];
        assert_eq!(c["queue"], queue, "{when_spent}: {c}");
        assert_eq!(c["owner"]["kind"].as_str(), owner_kind, "{when_spent}: {c}");
        if owner_kind.is_none() {
            assert_eq!(c["state"], "waiting", "{c}");
            assert_eq!(c["milestones"]["bot"], Value::Null, "no bot was invoked: {c}");
        }
        let (_, usage) = f.get_json("/api/v1/usage").await;
        assert_eq!(
            (&usage["used"], &usage["level"]),
            (&json!(used), &json!(level)),
            "{when_spent}: {usage}"
        );
        f.finish().await;
    }
}
