//! Shared by the integration tests: a hub over a fresh SQLite store in a temporary directory of
//! its own, removed when the test finishes.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

pub mod cluster;
pub mod compat;
pub mod customers;
pub mod people;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use engine::Hub;
use switchboard::config;

/// A directory under the system's temporary directory that no other test uses.
pub fn unique_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!("switchboard-{tag}-{}-{nanos}", std::process::id()))
}

/// The sample configuration's demo bot endpoint, which tests point elsewhere.
pub const SAMPLE_BOT_ENDPOINT: &str = "/bots/demo/api/messages";

/// The secret of the sample's Direct Line channel.
pub const SAMPLE_DIRECTLINE_SECRET: &str = "demo-directline-secret-change-me";

/// The admin token every test server accepts.
pub const ADMIN_TOKEN: &str = "test-admin-token";

/// A real hub on its own SQLite file, serving HTTP on a free loopback port (its public URL),
/// so bots can call it back.
pub struct TestHub {
    pub hub: Arc<Hub>,
    pub dir: PathBuf,
    /// `http://127.0.0.1:PORT`, the hub's public URL.
    pub base: String,
    /// Stands in for the sample's demo bot, when the hub was made with [`TestHub::sample`].
    pub bot: Option<RecordingBot>,
    server: tokio::task::JoinHandle<()>,
}

impl TestHub {
    /// A hub with the configuration in `text`.
    pub async fn new(tag: &str, text: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::on(listener, tag, text).await
    }

    /// A hub serving on `listener` (bound beforehand when a bot must know the hub's URL before
    /// the hub's configuration can name the bot's endpoint).
    pub async fn on(listener: tokio::net::TcpListener, tag: &str, text: &str) -> Self {
        let dir = unique_dir(tag);
        let url = format!("sqlite://{}/hub.db", dir.display());
        Self::on_database(listener, dir, &url, text).await
    }

    /// A hub over the database at `database_url` (PostgreSQL, say), keeping its files in `dir`.
    pub async fn on_database(listener: tokio::net::TcpListener, dir: PathBuf, database_url: &str, text: &str) -> Self {
        let config = config::load("test.toml", text).unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(&dir).unwrap();
        let store = store::open(database_url).await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let built = switchboard::server::build(config, store, base.clone(), ADMIN_TOKEN.into())
            .unwrap_or_else(|e| panic!("{e}"));
        let (hub, app) = (built.hub, built.router);
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Self {
            hub,
            dir,
            base,
            bot: None,
            server,
        }
    }

    /// A hub with the built-in sample configuration, its demo bot replaced by a
    /// [`RecordingBot`] that takes every activity and says nothing.
    pub async fn sample(tag: &str) -> Self {
        let bot = RecordingBot::start().await;
        let text = config::SAMPLE.replace(SAMPLE_BOT_ENDPOINT, &bot.endpoint());
        let mut hub = Self::new(tag, &text).await;
        hub.bot = Some(bot);
        hub
    }

    /// `GET path` with the admin token; the status and the JSON body.
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Waits (20 s at most) for an activity sent by a bot whose text satisfies `pred`, and
    /// returns its body.
    pub async fn wait_for_bot_text(
        &self,
        id: domain::ConversationId,
        pred: impl Fn(&str) -> bool,
    ) -> serde_json::Value {
        for _ in 0..400 {
            let log = self
                .hub
                .store()
                .activities_after(id, domain::Seq::ZERO, 1000)
                .await
                .unwrap();
            for stored in log {
                if stored.activity.sender_role != domain::activity::SenderRole::Bot {
                    continue;
                }
                let body: serde_json::Value = serde_json::from_str(&stored.activity.body).unwrap();
                if body["text"].as_str().is_some_and(&pred) {
                    return body;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no bot message as expected in conversation {id}");
    }

    /// A hub with the sample configuration whose bot is the one at `endpoint` (a real SDK bot
    /// the test started).
    pub async fn sample_with_bot(tag: &str, endpoint: &str) -> Self {
        Self::new(tag, &config::SAMPLE.replace(SAMPLE_BOT_ENDPOINT, endpoint)).await
    }

    /// A Direct Line token for a new conversation of user `user_id`, from the sample's website
    /// channel (what a site's backend would get).
    pub async fn directline_token(&self, user_id: &str) -> String {
        self.directline_token_for(serde_json::json!({"user": {"id": user_id, "name": "Casey"}}))
            .await
    }

    /// A Direct Line token from the sample's website channel for a `tokens/generate` body of the
    /// test's choosing (pre-chat context, customer details).
    pub async fn directline_token_for(&self, body: serde_json::Value) -> String {
        self.directline_token_with(SAMPLE_DIRECTLINE_SECRET, body).await
    }

    /// A Direct Line token from the channel whose secret is `secret`, for a `tokens/generate`
    /// body of the test's choosing.
    pub async fn directline_token_with(&self, secret: &str, body: serde_json::Value) -> String {
        let body: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/v3/directline/tokens/generate", self.base))
            .bearer_auth(secret)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    /// `GET /api/v1/conversations/{id}` until `pred` holds for it (10 s at most).
    pub async fn details_when(&self, id: &str, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        for _ in 0..200 {
            let (_, body) = self.get_json(&format!("/api/v1/conversations/{id}")).await;
            if pred(&body) {
                return body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("conversation {id} never reached the expected state");
    }

    /// Stops serving and closes the store, keeping the directory (to start another hub on the
    /// same files, as after a restart). Returns the directory.
    pub async fn stop(self) -> PathBuf {
        self.server.abort();
        self.hub.shutdown().await;
        self.dir
    }

    /// Closes the store and removes the directory.
    pub async fn finish(self) {
        self.server.abort();
        self.hub.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One POST a [`RecordingBot`] got: its Authorization header and its body.
type Received = (Option<String>, serde_json::Value);

/// A bot endpoint that answers every POST with `status` (200 unless changed) and records the
/// activities and Authorization headers it received. It never calls the hub back; the compat
/// tests use real SDK bots for that.
#[derive(Clone)]
pub struct RecordingBot {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

impl RecordingBot {
    /// Starts on a free loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bot = Self {
            port: listener.local_addr().unwrap().port(),
            received: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
        };
        let state = bot.clone();
        let app = axum::Router::new().route(
            "/api/messages",
            axum::routing::post(
                |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<serde_json::Value>| async move {
                    let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_owned());
                    state.received.lock().unwrap().push((auth, body));
                    axum::http::StatusCode::from_u16(state.status.load(Ordering::SeqCst)).unwrap()
                },
            ),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        bot
    }

    /// `http://127.0.0.1:PORT/api/messages`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/api/messages", self.port)
    }

    /// Answers every later POST with `status`.
    pub fn answer_with(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// The activities received so far.
    pub fn activities(&self) -> Vec<serde_json::Value> {
        self.received.lock().unwrap().iter().map(|(_, a)| a.clone()).collect()
    }

    /// The Authorization headers received so far, one per POST.
    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.received.lock().unwrap().iter().map(|(h, _)| h.clone()).collect()
    }

    /// Waits until at least `n` activities arrived (10 s at most) and returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<serde_json::Value> {
        for _ in 0..200 {
            let got = self.activities();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("expected {n} activities, got {:?}", self.activities());
    }
}
