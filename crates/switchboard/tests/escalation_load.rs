//! The load tool's escalation mode against a real hub: every customer asks for a person, the
//! tool's bot escalates each conversation, and its simulated agents (the sample's alice, bob and
//! carol, signed in with their password and holding the events socket) are offered each one
//! exactly once, accept it, end it and close it.

use std::time::Duration;

use switchboard_bench::escalation::{EscalationConfig, run};

mod common;
use common::TestHub;
use common::people::PASSWORD;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_escalation_is_offered_once_and_handled_by_the_simulated_agents() {
    let bot_listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = switchboard::config::SAMPLE.replace(
        common::SAMPLE_BOT_ENDPOINT,
        &format!("http://{bot_listen}/api/messages"),
    );
    let f = TestHub::new("escalation-load", &config).await;
    let report = run(EscalationConfig {
        hub: reqwest::Url::parse(&f.base).unwrap(),
        secret: common::SAMPLE_DIRECTLINE_SECRET.to_owned(),
        bot_listen,
        agents: ["alice", "bob", "carol"].map(String::from).to_vec(),
        password: PASSWORD.to_owned(),
        conversations: 60,
        concurrency: 10,
        topics: ["CreditCard", "HomeLoan"].map(String::from).to_vec(),
        max_duration: Duration::from_secs(60),
        hold: Duration::ZERO,
    })
    .await
    .unwrap();
    eprintln!("{}", report.to_table());
    assert!(report.ok, "{}", report.to_table());
    assert_eq!((report.escalated, report.offered, report.handled), (60, 60, 60));
    assert!(report.notify_ms.is_some());

    // Every conversation went to a person and was closed by them.
    let (_, list) = f.get_json("/api/v1/conversations?state=closed").await;
    let closed = list["conversations"].as_array().unwrap();
    assert_eq!(closed.len(), 60, "{list}");
    assert!(closed.iter().all(|c| c["outcome"] == "resolved_by_agent"), "{list}");
    f.finish().await;
}
