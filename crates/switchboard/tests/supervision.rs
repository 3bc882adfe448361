//! What supervisors see: the customer's sentiment as they write (scored in the hub, carried from
//! the bot's part into the agent's, kept across a restart, pushed live), and each
//! conversation's milestones (waits, transfers, handle time).

use std::time::Duration;

use botframework::{Activity, ChannelAccount};
use domain::ConversationId;
use engine::BotCaller;
use serde_json::{Value, json};
use switchboard::config;

mod common;
use common::customers;
use common::people::Person;
use common::{ADMIN_TOKEN, RecordingBot, SAMPLE_BOT_ENDPOINT, TestHub};

/// The mean of the scorer's own scores, rounded to four decimals as the hub stores them.
fn mean_score(texts: &[&str]) -> f64 {
    let sum: f64 = texts
        .iter()
        .map(|t| (sentiment::score(t) * 10_000.0).round() / 10_000.0)
        .sum();
    ((sum / texts.len() as f64) * 10_000.0).round() / 10_000.0
}

fn score_of(details: &Value) -> f64 {
    details["sentiment"]["score"].as_f64().unwrap()
}

#[tokio::test]
async fn the_customers_sentiment_is_scored_carried_to_the_agent_pushed_live_and_kept_across_a_restart() {
    let bot = RecordingBot::start().await;
    let text = config::SAMPLE.replace(SAMPLE_BOT_ENDPOINT, &bot.endpoint());
    let f = TestHub::new("supervision-sentiment", &text).await;
    let alice = Person::sign_in(&f, "alice").await;
    alice.presence("available").await;
    let mut events = customers::events(&f, ADMIN_TOKEN).await;

    let (id, token) = customers::start(&f, "casey").await;
    let (_, details) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(
        details["sentiment"],
        json!({"score": 0.0, "level": "neutral"}),
        "it starts neutral"
    );

    let angry = "this is terrible, I want a human";
    customers::say(&f, id, &token, angry).await;
    let live = customers::next_where(&mut events, |e| e["type"] == "sentiment").await;
    assert_eq!(live["conversation_id"], json!(id));
    assert_eq!(live["sentiment"]["level"], "negative", "{live}");
    let (_, details) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(details["sentiment"], live["sentiment"]);
    assert_eq!(score_of(&details), mean_score(&[angry]));
    // What the bot says is not the customer's sentiment.
    customers::from_bot(
        &f,
        id,
        Activity::message("I am sorry, that sounds awful. Let me find someone."),
    )
    .await;
    customers::bot_escalates(&f, id, "CreditCard", "Customer is upset about a card fee").await;
    alice.offered(id).await;
    let (status, accepted) = alice
        .post(&format!("/api/v1/conversations/{id}/accept"), json!({}))
        .await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(
        accepted["sentiment"], details["sentiment"],
        "the bot's part carries over"
    );

    let thanks = "thank you very much, that solved it";
    customers::say(&f, id, &token, thanks).await;
    let (_, details) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(score_of(&details), mean_score(&[angry, thanks]));
    assert!(sentiment::score(thanks) > 0.05, "thanks scores positive");

    // After a restart the window is rebuilt from the log: the next message counts with the two
    // before it.
    let dir = f.stop().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("sqlite://{}/hub.db", dir.display());
    let f = TestHub::on_database(listener, dir, &url, &text).await;
    let (_, details) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(
        score_of(&details),
        mean_score(&[angry, thanks]),
        "stored with the conversation"
    );
    let great = "great, really happy with the help";
    // The customer's token is still good on the restarted hub (same secret).
    customers::say(&f, id, &token, great).await;
    let (_, details) = f.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(score_of(&details), mean_score(&[angry, thanks, great]));
    f.finish().await;
}

/// `method path` with the admin token; the status and the body as text.
async fn admin_text(f: &TestHub, path: &str) -> (u16, String, String) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", f.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, response.text().await.unwrap())
}

/// Three conversations, one of each bot outcome: resolved by the bot, escalated to alice (who
/// ends and closes it), abandoned by the customer. Returns their ids in that order.
async fn one_of_each_outcome(f: &TestHub, alice: &Person) -> (ConversationId, ConversationId, ConversationId) {
    // Resolved by the bot.
    let (resolved, token) = customers::start(f, "casey").await;
    customers::say(f, resolved, &token, "what are your opening hours").await;
    let mut end = botframework::omnichannel::end_conversation_activity("Goodbye!");
    end.from = Some(serde_json::from_value::<ChannelAccount>(json!({"id": "DemoBot"})).unwrap());
    f.hub
        .accept_from_bot(resolved, BotCaller::Anonymous, end)
        .await
        .unwrap();
    // Escalated to alice, who ends and closes it.
    let (escalated, token) = customers::start(f, "dana").await;
    customers::say(f, escalated, &token, "my card fee is wrong, this is terrible").await;
    customers::bot_escalates(f, escalated, "CreditCard", "Customer is upset about a card fee").await;
    alice.offered(escalated).await;
    assert_eq!(
        alice
            .post(&format!("/api/v1/conversations/{escalated}/accept"), json!({}))
            .await
            .0,
        200
    );
    assert_eq!(
        alice
            .post(&format!("/api/v1/conversations/{escalated}/end"), json!({}))
            .await
            .0,
        200
    );
    assert_eq!(
        alice
            .post(&format!("/api/v1/conversations/{escalated}/close"), json!({}))
            .await
            .0,
        200
    );
    // Abandoned: the customer leaves the bot.
    let (abandoned, token) = customers::start(f, "eve").await;
    let left = reqwest::Client::new()
        .post(format!("{}/v3/directline/conversations/{abandoned}/activities", f.base))
        .bearer_auth(&token)
        .json(&json!({"type": "endOfConversation", "from": {"id": "eve"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(left.status(), 200);
    for id in [resolved, escalated, abandoned] {
        f.details_when(&id.to_string(), |d| d["state"] == "closed").await;
    }
    (resolved, escalated, abandoned)
}

#[tokio::test]
async fn analytics_search_transcripts_and_exports_count_each_conversation_once() {
    let f = TestHub::sample("supervision-analytics").await;
    let alice = Person::sign_in(&f, "alice").await;
    alice.presence("available").await;
    let (resolved, escalated, abandoned) = one_of_each_outcome(&f, &alice).await;

    let (status, report) = f.get_json("/api/v1/analytics").await;
    assert_eq!(status, 200, "{report}");
    let bot = &report["total"]["bot"];
    assert_eq!(
        (
            &bot["resolved"],
            &bot["escalated"],
            &bot["abandoned"],
            &bot["in_progress"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(0)),
        "{report}"
    );
    let rates: f64 = ["resolution_rate", "escalation_rate", "abandon_rate"]
        .iter()
        .map(|k| bot[k].as_f64().unwrap())
        .sum();
    assert!((rates - 1.0).abs() < 1e-3, "the rates add up to 100 %: {bot}");
    assert_eq!(report["total"]["agent"]["conversations"], 1);
    assert_eq!(report["by_bot"][0]["bot"], "DemoBot");
    assert_eq!(
        report["by_day"].as_array().unwrap().len(),
        7,
        "the last seven days by default"
    );
    let (status, error) = f.get_json("/api/v1/analytics?from=2026-12-02&to=2026-12-01").await;
    assert_eq!((status, &error["error"]["code"]), (400, &json!("invalid_range")));
    assert_eq!(
        alice.get("/api/v1/analytics").await.0,
        403,
        "agents do not read analytics"
    );

    // The page renders its four charts.
    let (status, kind, page) = admin_text(&f, "/supervisor/analytics").await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/html"), "{kind}");
    for chart in ["outcomes", "rates", "sentiment", "agents"] {
        assert!(
            page.contains(&format!("data-testid=\"chart-{chart}\"")),
            "chart {chart}"
        );
    }
    assert!(page.contains("data-series=\"abandoned\""));

    // Search.
    let ids = |body: &Value| -> Vec<String> {
        body["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, found) = f.get_json("/api/v1/transcripts?agent=alice").await;
    assert_eq!(ids(&found), vec![escalated.to_string()]);
    let (_, found) = f.get_json("/api/v1/transcripts?outcome=abandoned").await;
    assert_eq!(ids(&found), vec![abandoned.to_string()]);
    let (_, found) = f.get_json("/api/v1/transcripts?text=CARD%20FEE").await;
    assert_eq!(ids(&found), vec![escalated.to_string()]);
    let (_, found) = f
        .get_json("/api/v1/transcripts?customer=dana&queue=CreditCardQueue")
        .await;
    assert_eq!(ids(&found), vec![escalated.to_string()]);
    let (_, page1) = f.get_json("/api/v1/transcripts?limit=2").await;
    assert_eq!((ids(&page1).len(), &page1["total"]), (2, &json!(3)));
    let next = page1["next"].as_str().unwrap();
    let (_, page2) = f.get_json(&format!("/api/v1/transcripts?limit=2&after={next}")).await;
    assert_eq!(
        (ids(&page2), &page2["next"]),
        (vec![abandoned.to_string()], &Value::Null)
    );
    let (status, error) = f.get_json("/api/v1/transcripts?outcome=happy").await;
    assert_eq!((status, &error["error"]["code"]), (400, &json!("invalid_search")));
    assert!(
        error["error"]["message"].as_str().unwrap().contains("outcome"),
        "{error}"
    );
    assert_eq!(alice.get("/api/v1/transcripts").await.0, 403);

    // One whole transcript: routing trace and sentiment timeline.
    let (status, full) = f.get_json(&format!("/api/v1/transcripts/{escalated}")).await;
    assert_eq!(status, 200, "{full}");
    assert!(!full["routing"].as_array().unwrap().is_empty());
    let timeline = full["sentiment_timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 1, "{timeline:?}");
    assert_eq!(timeline[0]["level"], full["sentiment"]["level"]);
    let said = full["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["role"] == "customer")
        .unwrap()
        .clone();
    assert!(said["sentiment"].as_f64().unwrap() < 0.0, "{said}");

    // Exports through the API.
    let (status, kind, json_export) = admin_text(&f, "/api/v1/transcripts/export").await;
    assert_eq!((status, kind.as_str()), (200, "application/json"));
    let exported: Value = serde_json::from_str(&json_export).unwrap();
    assert_eq!(exported["conversations"].as_array().unwrap().len(), 3);
    let (status, kind, csv) = admin_text(&f, "/api/v1/transcripts/export?format=csv&agent=alice").await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/csv"), "{kind}");
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("conversation_id,created_at,"));
    assert!(lines.clone().count() >= 3, "{csv}");
    assert!(lines.all(|l| l.starts_with(&escalated.to_string())), "{csv}");
    let (status, error) = f.get_json("/api/v1/transcripts/export?format=xml").await;
    assert_eq!((status, &error["error"]["code"]), (400, &json!("invalid_format")));

    // And through `switchboard export`, straight from the database.
    let out = f.dir.join("export.json");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["export", "--format", "json", "--outcome", "resolved_by_bot", "--output"])
        .arg(&out)
        .arg("--database-url")
        .arg(format!("sqlite://{}/hub.db", f.dir.display()))
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stderr).contains("exported 1 conversations"));
    let exported: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(exported["conversations"][0]["id"], json!(resolved));
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["export", "--from", "last week"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--from: `last week`"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    f.finish().await;
}

#[tokio::test]
async fn a_customer_message_that_is_a_spreadsheet_formula_exports_to_csv_as_text() {
    let f = TestHub::sample("supervision-csv-formula").await;
    let (id, token) = customers::start(&f, "mallory").await;
    let formula = "=HYPERLINK(\"http://evil.example\",\"click\")";
    customers::say(&f, id, &token, formula).await;
    customers::say(&f, id, &token, "@SUM(1+1)*cmd|' /C calc'!A0").await;
    let (status, _, csv) = admin_text(&f, "/api/v1/transcripts/export?format=csv").await;
    assert_eq!(status, 200, "{csv}");
    let cells: Vec<Vec<String>> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    let texts: Vec<&str> = cells.iter().map(|row| row[17].as_str()).collect();
    assert!(texts.contains(&format!("'{formula}").as_str()), "{texts:?}");
    assert!(texts.contains(&"'@SUM(1+1)*cmd|' /C calc'!A0"), "{texts:?}");
    assert!(
        texts.iter().all(|t| !t.starts_with('=') && !t.starts_with('@')),
        "{texts:?}"
    );
    f.finish().await;
}

#[tokio::test]
async fn the_analytics_page_draws_its_charts_in_chromium() {
    let f = TestHub::sample("supervision-analytics-page").await;
    let alice = Person::sign_in(&f, "alice").await;
    alice.presence("available").await;
    one_of_each_outcome(&f, &alice).await;
    let shot = std::env::var("SWITCHBOARD_SCREENSHOTS")
        .ok()
        .map(|d| format!("{d}/analytics.png"));
    let mut env = vec![("HUB_URL", f.base.as_str()), ("PASSWORD", common::people::PASSWORD)];
    if let Some(shot) = &shot {
        env.push(("SCREENSHOT", shot.as_str()));
    }
    let Some(run) = common::compat::run_browser_script("browser/analytics.js", &env, Duration::from_secs(60)).await
    else {
        f.finish().await;
        return;
    };
    assert!(run.success, "the analytics page did not render:\n{}", run.report());
    for chart in ["outcomes", "rates", "sentiment", "agents"] {
        assert!(
            run.lines.iter().any(|l| l.starts_with(&format!("SERIES {chart} "))),
            "{chart}: {}",
            run.report()
        );
    }
    f.finish().await;
}
