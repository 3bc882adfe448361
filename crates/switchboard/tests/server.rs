//! The real server on a port-0 listener: operational endpoints, JSON errors, graceful shutdown.

use std::time::Duration;

use switchboard::{config, server};
use tokio::sync::oneshot;

struct Running {
    base: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), server::ServerError>>,
    dir: std::path::PathBuf,
}

async fn start() -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let dir = std::env::temp_dir().join(format!(
        "switchboard-server-{}-{}",
        std::process::id(),
        base.rsplit(':').next().unwrap()
    ));
    let url = format!("sqlite://{}/hub.db", dir.display());
    // SIP on any free UDP port (tests run in parallel); the built-in bots are served on the
    // hub's own listener.
    let text = config::SAMPLE.replace("sip = \"127.0.0.1:5060\"", "sip = \"127.0.0.1:0\"");
    let config = config::load(config::SAMPLE_NAME, &text).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server::run(listener, config, &url, async {
            let _ = stopped.await;
        })
        .await
    });
    Running {
        base,
        stop: Some(stop),
        task,
        dir,
    }
}

impl Running {
    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("graceful shutdown")
            .unwrap()
            .unwrap();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn get(url: &str) -> reqwest::Response {
    // The server starts asynchronously; retry a connection refusal briefly.
    for _ in 0..100 {
        match reqwest::get(url).await {
            Ok(r) => return r,
            Err(e) if e.is_connect() => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("server did not start")
}

#[tokio::test]
async fn healthz_readyz_and_metrics_answer() {
    let server = start().await;
    let health = get(&format!("{}/healthz", server.base)).await;
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"status": "ok"})
    );

    let ready = get(&format!("{}/readyz", server.base)).await;
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"status": "ready", "store": "sqlite"})
    );

    let metrics = get(&format!("{}/metrics", server.base)).await;
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = metrics.text().await.unwrap();
    assert!(text.contains("switchboard_http_requests_total"), "{text}");
    assert!(text.contains("switchboard_store_appends"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn unknown_paths_get_a_json_404() {
    let server = start().await;
    let r = get(&format!("{}/no/such/thing", server.base)).await;
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["error"]["message"].as_str().unwrap().contains("/no/such/thing"));
    server.stop().await;
}

#[tokio::test]
async fn a_second_hub_on_the_same_sqlite_database_is_refused_at_start() {
    let server = start().await;
    get(&format!("{}/readyz", server.base)).await;
    let url = format!("sqlite://{}/hub.db", server.dir.display());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = config::load(config::SAMPLE_NAME, config::SAMPLE).unwrap();
    let second = tokio::time::timeout(
        Duration::from_secs(10),
        server::run(listener, config, &url, std::future::pending()),
    )
    .await
    .expect("refused at once, not served");
    let message = second.unwrap_err().to_string();
    assert!(
        message.contains("another hub") && message.contains(&format!("process {}", std::process::id())),
        "{message}"
    );
    assert!(message.contains("docs/reliability.md"), "{message}");
    let dir = server.dir.clone();
    server.stop().await;

    // Once the first has stopped, the database is free again.
    let _ = std::fs::create_dir_all(&dir);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let text = config::SAMPLE.replace("sip = \"127.0.0.1:5060\"", "sip = \"127.0.0.1:0\"");
    let config = config::load(config::SAMPLE_NAME, &text).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server::run(listener, config, &url, async {
            let _ = stopped.await;
        })
        .await
    });
    assert_eq!(get(&format!("{base}/readyz")).await.status(), 200);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
