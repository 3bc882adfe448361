//! Idle conversations: how much memory a hub holds per open, silent Direct Line conversation.
//!
//! Starts `--conversations` conversations (token, start, the WebSocket at `streamUrl`),
//! `--concurrency` at a time, keeps every socket open and silent, answers pings, and reads the
//! hub's resident memory (`VmRSS` of `/proc/PID/status`, Linux) before the first and after the
//! last, after `--settle-seconds`. Reports bytes per conversation. Bounded by count and time.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use reqwest::Url;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What an idle run does.
#[derive(Debug, Clone)]
pub struct IdleConfig {
    pub hub: Url,
    pub secret: String,
    pub conversations: usize,
    pub concurrency: usize,
    /// The hub's process id, whose memory is read.
    pub hub_pid: u32,
    /// How long to wait, all sockets open, before reading the memory again.
    pub settle: Duration,
    pub max_duration: Duration,
}

/// What an idle run measured.
#[derive(Debug, Clone, Serialize)]
pub struct IdleReport {
    pub hub: String,
    pub conversations: usize,
    /// Conversations whose socket was open when the memory was read.
    pub open: usize,
    pub failed: usize,
    /// Seconds to open them all.
    pub setup_s: f64,
    pub rss_before_bytes: u64,
    pub rss_after_bytes: u64,
    /// `(after − before) / open`.
    pub bytes_per_conversation: f64,
    /// The same growth, scaled to 100,000 conversations, plus the memory before.
    pub projected_100k_bytes: f64,
}

impl IdleReport {
    pub fn to_table(&self) -> String {
        let mib = |b: f64| b / (1024.0 * 1024.0);
        let rows = [
            ("hub", self.hub.clone()),
            (
                "conversations",
                format!("{} open of {} ({} failed)", self.open, self.conversations, self.failed),
            ),
            ("setup", format!("{:.1} s", self.setup_s)),
            (
                "hub RSS before",
                format!("{:.1} MiB", mib(self.rss_before_bytes as f64)),
            ),
            ("hub RSS after", format!("{:.1} MiB", mib(self.rss_after_bytes as f64))),
            ("per conversation", format!("{:.0} bytes", self.bytes_per_conversation)),
            (
                "projected, 100,000",
                format!("{:.0} MiB", mib(self.projected_100k_bytes)),
            ),
        ];
        rows.iter().map(|(k, v)| format!("{k:<20} {v}\n")).collect()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// The resident memory of process `pid`, in bytes.
pub fn rss_bytes(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read /proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))
}

/// Opens the conversations, holds them, reads the memory, closes them.
pub async fn run(config: IdleConfig) -> Result<IdleReport, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(config.concurrency)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let before = rss_bytes(config.hub_pid)?;
    let deadline = Instant::now() + config.max_duration;
    let stop = CancellationToken::new();
    let gate = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let started = Instant::now();
    let mut opening = JoinSet::new();
    let mut held = JoinSet::new();
    let mut failed = 0;
    for n in 0..config.conversations {
        if Instant::now() >= deadline {
            break;
        }
        let permit = gate.clone().acquire_owned().await.expect("the gate is never closed");
        let (hub, http, secret) = (config.hub.clone(), http.clone(), config.secret.clone());
        opening.spawn(async move {
            let socket = open(&hub, &http, &secret, n).await;
            drop(permit);
            socket
        });
        while let Some(done) = opening.try_join_next() {
            match done {
                Ok(Ok(socket)) => {
                    held.spawn(hold(socket, stop.clone()));
                }
                _ => failed += 1,
            }
        }
    }
    while let Some(done) = opening.join_next().await {
        match done {
            Ok(Ok(socket)) => {
                held.spawn(hold(socket, stop.clone()));
            }
            _ => failed += 1,
        }
    }
    let setup_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(config.settle.min(deadline.saturating_duration_since(Instant::now()))).await;
    // A socket the hub closed ends its task; only the live ones count.
    while held.try_join_next().is_some() {
        failed += 1;
    }
    let open_now = held.len();
    let after = rss_bytes(config.hub_pid)?;
    stop.cancel();
    while held.join_next().await.is_some() {}
    let growth = after.saturating_sub(before) as f64;
    let per = if open_now > 0 { growth / open_now as f64 } else { 0.0 };
    Ok(IdleReport {
        hub: config.hub.to_string(),
        conversations: config.conversations,
        open: open_now,
        failed,
        setup_s,
        rss_before_bytes: before,
        rss_after_bytes: after,
        bytes_per_conversation: per,
        projected_100k_bytes: before as f64 + per * 100_000.0,
    })
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Token, conversation, WebSocket.
async fn open(hub: &Url, http: &reqwest::Client, secret: &str, n: usize) -> Result<Socket, String> {
    let token: Value = http
        .post(hub.join("v3/directline/tokens/generate").expect("a valid path"))
        .bearer_auth(secret)
        .json(&json!({"user": {"id": format!("dl_idle_{n}")}}))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let token = token["token"].as_str().ok_or("no token")?;
    let started: Value = http
        .post(hub.join("v3/directline/conversations").expect("a valid path"))
        .bearer_auth(token)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let stream_url = started["streamUrl"].as_str().ok_or("no streamUrl")?;
    let (socket, _) = tokio_tungstenite::connect_async(stream_url)
        .await
        .map_err(|e| e.to_string())?;
    Ok(socket)
}

/// Keeps a socket open (reading, which answers pings) until `stop`.
async fn hold(mut socket: Socket, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => {
                let _ = socket.close(None).await;
                return;
            }
            frame = socket.next() => match frame {
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
        }
    }
}
