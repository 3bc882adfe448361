//! The load tool against its own two ends, all in this process on loopback ports chosen by the
//! OS: `run` drives customers through the relay to the echo bot, over both transports, and its
//! report must prove what happened. Bots that misbehave on purpose check that the verification
//! sees duplicates and lost replies, and that a run stops at its time limit.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use reqwest::Url;
use serde_json::{Value, json};
use switchboard_bench::{Report, RunConfig, Transport, echo_bot, relay, run};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// No test may take longer than this, whatever goes wrong.
const TEST_LIMIT: Duration = Duration::from_secs(60);

/// A server started on port 0, stopped (and awaited) on drop of `stop`.
struct Running {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start<F, Fut>(serve: F) -> Self
    where
        F: FnOnce(TcpListener, Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
        Fut: Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async {
            let _ = stopped.await;
        });
        let task = tokio::spawn(serve(listener, shutdown));
        Self {
            url,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server stops within 10 s")
            .unwrap()
            .unwrap();
    }
}

async fn start_echo_bot() -> Running {
    Running::start(echo_bot::serve).await
}

async fn start_relay(bot: &str) -> Running {
    let bot = Url::parse(&format!("{bot}/api/messages")).unwrap();
    Running::start(move |listener, shutdown| relay::serve(listener, bot, shutdown)).await
}

fn config(hub: &str, customers: usize, messages: usize, transport: Transport) -> RunConfig {
    let mut config = RunConfig::new(Url::parse(hub).unwrap(), "any-secret", customers, messages, transport);
    config.poll_interval = Duration::from_millis(10);
    config.max_duration = Duration::from_secs(30);
    config.reply_timeout = Duration::from_secs(5);
    config.drain = Duration::from_millis(200);
    config
}

async fn bounded_run(config: RunConfig) -> Report {
    tokio::time::timeout(TEST_LIMIT, run(config))
        .await
        .expect("the run ends within the test's limit")
        .unwrap()
}

fn assert_every_reply_arrived_once_in_order(report: &Report, customers: usize, messages: usize) {
    let planned = (customers * messages) as u64;
    assert!(report.ok, "{}", report.to_table());
    assert!(report.verified);
    assert_eq!(report.customers_ready, customers);
    assert_eq!(report.planned, planned);
    assert_eq!(report.sent, planned);
    assert_eq!(report.accepted, planned);
    assert_eq!(report.round_trips, planned);
    assert_eq!(report.replied, planned);
    assert_eq!(
        (
            report.duplicates,
            report.missing,
            report.out_of_order,
            report.unexpected,
            report.cut_off
        ),
        (0, 0, 0, 0, 0)
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(!report.stopped_by_deadline);
    let latency = report.latency_ms.expect("latencies were measured");
    assert!(
        0.0 < latency.p50 && latency.p50 <= latency.p90 && latency.p90 <= latency.p99 && latency.p99 <= latency.max
    );
    assert!(report.throughput_per_s > 0.0);
    assert!(report.duration_s > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_customers_over_websockets_get_every_reply_once_in_order_through_the_relay() {
    let bot = start_echo_bot().await;
    let hub = start_relay(&bot.url).await;
    let report = bounded_run(config(&hub.url, 5, 10, Transport::Ws)).await;
    assert_every_reply_arrived_once_in_order(&report, 5, 10);
    assert_eq!(report.transport, "ws");
    assert_eq!(report.poll_interval_ms, None);
    hub.stop().await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_polling_customers_get_every_reply_once_in_order_through_the_relay() {
    let bot = start_echo_bot().await;
    let hub = start_relay(&bot.url).await;
    let report = bounded_run(config(&hub.url, 5, 10, Transport::Polling)).await;
    assert_every_reply_arrived_once_in_order(&report, 5, 10);
    assert_eq!(report.transport, "polling");
    assert_eq!(report.poll_interval_ms, Some(10));
    hub.stop().await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_report_carries_the_same_counts_as_the_table() {
    let bot = start_echo_bot().await;
    let hub = start_relay(&bot.url).await;
    let report = bounded_run(config(&hub.url, 2, 3, Transport::Ws)).await;
    let json: Value = serde_json::from_str(&report.to_json()).unwrap();
    for (key, value) in [
        ("customers", 2),
        ("round_trips", 6),
        ("replied", 6),
        ("duplicates", 0),
        ("missing", 0),
    ] {
        assert_eq!(json[key], json!(value), "{key}");
    }
    assert_eq!(json["ok"], json!(true));
    assert_eq!(json["errors"], json!({}));
    for key in ["p50", "p90", "p99", "max"] {
        assert!(json["latency_ms"][key].as_f64().unwrap() > 0.0, "{key}");
    }
    let table = report.to_table();
    assert!(table.contains("round trips") && table.contains("6 of 6"), "{table}");
    assert!(
        table.contains("OK: every reply arrived exactly once and in order"),
        "{table}"
    );
    hub.stop().await;
    bot.stop().await;
}

/// A bot that answers every message `times` times (0: never), through the Connector API.
async fn start_repeating_bot(times: usize) -> Running {
    async fn messages(State(times): State<usize>, body: Bytes) -> StatusCode {
        let incoming: Value = serde_json::from_slice(&body).unwrap();
        if incoming["type"] == "message" {
            tokio::spawn(async move {
                let url = format!(
                    "{}/v3/conversations/{}/activities/{}",
                    incoming["serviceUrl"].as_str().unwrap().trim_end_matches('/'),
                    incoming["conversation"]["id"].as_str().unwrap(),
                    incoming["id"].as_str().unwrap(),
                );
                let reply = json!({
                    "type": "message",
                    "text": format!("Echo: {}", incoming["text"].as_str().unwrap()),
                    "from": incoming["recipient"], "recipient": incoming["from"],
                });
                let client = reqwest::Client::new();
                for _ in 0..times {
                    client.post(&url).json(&reply).send().await.unwrap();
                }
            });
        }
        StatusCode::OK
    }
    Running::start(move |listener, shutdown| async move {
        let app = Router::new().route("/api/messages", post(messages)).with_state(times);
        axum::serve(listener, app).with_graceful_shutdown(shutdown).await
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_that_answers_twice_is_caught_duplicating_every_reply() {
    let bot = start_repeating_bot(2).await;
    let hub = start_relay(&bot.url).await;
    let mut config = config(&hub.url, 3, 4, Transport::Ws);
    config.warmup = 0;
    let report = bounded_run(config).await;
    assert!(!report.verified && !report.ok, "{}", report.to_table());
    assert_eq!(report.round_trips, 12);
    assert_eq!(report.duplicates, 12);
    assert_eq!((report.missing, report.out_of_order), (0, 0));
    assert!(report.to_table().contains("FAILED"));
    hub.stop().await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_that_never_answers_leaves_replies_missing_and_the_run_stops_at_its_limit() {
    let bot = start_repeating_bot(0).await;
    let hub = start_relay(&bot.url).await;
    let mut config = config(&hub.url, 2, 100, Transport::Polling);
    config.warmup = 0;
    config.reply_timeout = Duration::from_millis(300);
    config.max_duration = Duration::from_secs(2);
    let started = std::time::Instant::now();
    let report = bounded_run(config).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "the run took {took:?}");
    assert!(report.stopped_by_deadline, "{}", report.to_table());
    assert!(!report.ok && !report.verified);
    assert_eq!(report.round_trips, 0);
    assert!(report.latency_ms.is_none());
    // Each customer gets through about 2 s / 300 ms messages, and the last is cut off.
    assert_eq!(report.cut_off, 2);
    assert!(report.missing >= 6, "{}", report.to_table());
    assert_eq!(report.errors.get("reply_timeout"), Some(&report.missing));
    assert!(report.sent < report.planned);
    hub.stop().await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_that_is_not_there_is_reported_as_transport_errors_not_a_hang() {
    // Bind and drop: nothing listens on this port.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let report = bounded_run(config(&format!("http://127.0.0.1:{port}"), 3, 5, Transport::Ws)).await;
    assert_eq!(report.customers_ready, 0);
    assert_eq!(report.errors.get("token_transport"), Some(&3));
    assert_eq!((report.sent, report.round_trips), (0, 0));
    assert!(!report.ok);
}
