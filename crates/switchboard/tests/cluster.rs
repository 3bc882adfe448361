//! Three nodes of the real binary on one PostgreSQL database behind HAProxy (round robin, no
//! stickiness), with the real botbuilder bot of `compat/` and real `botframework-directlinejs`
//! customers: every request of a customer, a bot or an agent may land on any node.
//!
//! Needs `SWITCHBOARD_TEST_POSTGRES_URL`, `haproxy`, `psql` and node (all in CI); otherwise the
//! tests say why they were skipped.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::cluster::{Balancer, FreshDatabase, Node, free_port, fresh_database, prerequisites};
use common::compat::{BotKind, BotProcess, run_directline_client, start_bot};
use serde_json::{Value, json};

/// A running cluster. Dropped in field order: the balancer, the nodes, then the database.
struct Cluster {
    balancer: Balancer,
    nodes: Vec<Node>,
    _bot: BotProcess,
    _db: FreshDatabase,
    dir: PathBuf,
}

impl Cluster {
    /// Three nodes of the sample configuration with its demo bot replaced by the botbuilder
    /// bot, or `None` (and why, printed) when this machine cannot run one.
    async fn start(tag: &str) -> Option<Cluster> {
        let base = match prerequisites() {
            Ok(url) => url,
            Err(why) => {
                println!("skipped: {why}");
                return None;
            }
        };
        let bot = start_bot(BotKind::Node, &[]).await?;
        let db = fresh_database(&base, tag).unwrap_or_else(|e| panic!("{e}"));
        let dir = common::unique_dir(tag);
        std::fs::create_dir_all(&dir).unwrap();
        let balancer_port = free_port();
        // The demo bot is the botbuilder bot, not the built-in one.
        let text: String = switchboard::config::SAMPLE
            .lines()
            .filter(|line| !line.starts_with("builtin = \"demo\""))
            .map(|line| format!("{line}\n"))
            .collect();
        let text = text.replace(common::SAMPLE_BOT_ENDPOINT, &bot.endpoint()).replace(
            "# public_url = \"https://hub.example.com\"",
            &format!("public_url = \"http://127.0.0.1:{balancer_port}\""),
        );
        assert!(
            text.contains(&format!("127.0.0.1:{balancer_port}")),
            "the sample's public_url line moved"
        );
        // Every customer comes from the balancer's address: no per-address limit applies here.
        let text = format!(
            "{text}\n[limits]\ntoken_requests_per_minute = 0\nsecret_requests_per_minute = 0\ncustomer_activities_per_second = 0\n"
        );
        let config = dir.join("hub.toml");
        std::fs::write(&config, text).unwrap();
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let node = Node::start(&config, &db.url, free_port(), &["--sip", "127.0.0.1:0"]).unwrap();
            // One at a time: the first runs the migrations.
            node.wait_ready(Duration::from_secs(30)).await;
            nodes.push(node);
        }
        let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
        let balancer = Balancer::start_on(balancer_port, &ports).unwrap();
        balancer.wait_ready(Duration::from_secs(10)).await;
        Some(Cluster {
            balancer,
            nodes,
            _bot: bot,
            _db: db,
            dir,
        })
    }

    fn node(&self, i: usize) -> String {
        self.nodes[i].url()
    }

    /// A Direct Line token for a new customer, from the channel's secret (through the balancer).
    async fn token(&self, user: &str) -> String {
        let response = reqwest::Client::new()
            .post(format!("{}/v3/directline/tokens/generate", self.balancer.url()))
            .bearer_auth(common::SAMPLE_DIRECTLINE_SECRET)
            .json(&json!({"user": {"id": user}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// How many requests each node served, from HAProxy's log.
    fn spread(&self) -> Vec<usize> {
        let log = self.balancer.log();
        (1..=self.nodes.len())
            .map(|i| log.matches(&format!("hubs/node{i} ")).count())
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A signed-in person, calling whichever node each call names.
struct Person {
    token: String,
    http: reqwest::Client,
}

impl Person {
    async fn sign_in(base: &str, name: &str) -> Person {
        let http = reqwest::Client::new();
        let response = http
            .post(format!("{base}/api/v1/sessions"))
            .json(&json!({"name": name, "password": common::people::PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{name} signs in");
        let body: Value = response.json().await.unwrap();
        Person {
            token: body["token"].as_str().unwrap().to_owned(),
            http,
        }
    }

    async fn call(&self, method: reqwest::Method, url: String, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, base: &str, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, format!("{base}{path}"), None).await
    }

    async fn post(&self, base: &str, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, format!("{base}{path}"), Some(body))
            .await
    }

    /// The texts of a conversation's transcript as `base` serves it, in order.
    async fn transcript_texts(&self, base: &str, id: &str) -> Vec<String> {
        let (status, body) = self.get(base, &format!("/api/v1/conversations/{id}/transcript")).await;
        assert_eq!(status, 200, "{body}");
        body["activities"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["text"].as_str().map(str::to_owned))
            .collect()
    }
}

/// Waits (30 s at most) until `found` returns something.
async fn eventually<T, F, Fut>(what: &str, mut found: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..300 {
        if let Some(t) = found().await {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within 30 s");
}

/// The sample's whole flow with every hop on a different node: a directlinejs customer over
/// the balancer (WebSocket), the botbuilder bot calling back through the balancer, alice's
/// presence, offer, acceptance, reply and end each on a node of their own, her events socket
/// on yet another, and the survey bot served by whichever node delivers to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_flow_crosses_three_nodes_behind_a_balancer() {
    let Some(cluster) = Cluster::start("cluster-flow").await else {
        return;
    };
    let alice = Person::sign_in(&cluster.node(0), "alice").await;
    let (status, _) = alice
        .call(
            reqwest::Method::PUT,
            format!("{}/api/v1/me/presence", cluster.node(1)),
            Some(json!({"presence": "available"})),
        )
        .await;
    assert_eq!(status, 200);
    let mut events = {
        let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "{}/api/v1/events",
            cluster.node(2).replace("http://", "ws://")
        ))
        .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {}", alice.token).parse().unwrap());
        tokio_tungstenite::connect_async(request).await.unwrap().0
    };

    let token = cluster.token("cluster_customer").await;
    let domain = format!("{}/v3/directline", cluster.balancer.url());
    let script = json!([
        {"expect": "Hello from the node bot"},
        {"send": "hi"},
        {"expect": "Echo: hi"},
        {"send": "I have a question about my credit card"},
        {"expect": "Alice Park joined the conversation.", "timeout_ms": 40000},
        {"expect": "Hello from Alice, on another node", "timeout_ms": 40000},
        {"send": "thanks alice"},
        {"expect": "Alice Park ended the conversation.", "timeout_ms": 40000},
        {"expectPrefix": "Thanks for contacting Contoso!", "timeout_ms": 40000},
        {"send": "5"},
        {"expectPrefix": "Thank you!"},
    ])
    .to_string();
    let customer = tokio::spawn(async move {
        run_directline_client(
            &[
                ("DL_DOMAIN", domain.as_str()),
                ("DL_TOKEN", token.as_str()),
                ("DL_MODE", "websocket"),
                ("DL_SCRIPT", script.as_str()),
                ("DL_USER_ID", "cluster_customer"),
            ],
            Duration::from_secs(120),
        )
        .await
    });

    // The offer reaches alice's socket on node 3, wherever the escalation was handled.
    let offer = tokio::time::timeout(Duration::from_secs(40), async {
        use futures::StreamExt;
        loop {
            let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) = events.next().await else {
                panic!("alice's events socket closed");
            };
            let event: Value = serde_json::from_str(&text).unwrap();
            if event["type"] == "offer" {
                return event;
            }
        }
    })
    .await
    .expect("alice is offered the escalated conversation on her socket");
    let id = offer["offer"]["conversation"]["id"].as_str().unwrap().to_owned();
    // Listed by another node too: the offer is shared.
    let (_, offers) = alice.get(&cluster.node(0), "/api/v1/offers").await;
    assert_eq!(offers["offers"][0]["conversation"]["id"], json!(id), "{offers}");

    let (status, body) = alice
        .post(
            &cluster.node(1),
            &format!("/api/v1/conversations/{id}/accept"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = alice
        .post(
            &cluster.node(2),
            &format!("/api/v1/conversations/{id}/messages"),
            json!({"text": "Hello from Alice, on another node"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    eventually("the customer's thanks reaching the transcript", || async {
        alice
            .transcript_texts(&cluster.node(0), &id)
            .await
            .contains(&"thanks alice".to_owned())
            .then_some(())
    })
    .await;
    let (status, body) = alice
        .post(&cluster.node(0), &format!("/api/v1/conversations/{id}/end"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");

    let run = customer
        .await
        .unwrap()
        .expect("the Direct Line client's packages are installed");
    assert!(run.success, "directlinejs failed:\n{}", run.report());
    assert_eq!(run.conversation_id().as_deref(), Some(id.as_str()));

    // The transcript, read from each node: the same, complete, in order, nothing twice.
    let expected = [
        "Hello from the node bot",
        "hi",
        "Echo: hi",
        "I have a question about my credit card",
        "Customer asks about a credit card limit",
        "Alice Park joined the conversation.",
        "Hello from Alice, on another node",
        "thanks alice",
        "Alice Park ended the conversation.",
        "5",
    ];
    let mut transcripts = Vec::new();
    for i in 0..3 {
        let texts = alice.transcript_texts(&cluster.node(i), &id).await;
        let mut at = 0;
        for want in expected {
            let found = texts[at..]
                .iter()
                .position(|t| t == want)
                .unwrap_or_else(|| panic!("`{want}` missing or out of order in {texts:?}"));
            at += found + 1;
        }
        for want in expected {
            assert_eq!(
                texts.iter().filter(|t| *t == want).count(),
                1,
                "`{want}` stored once: {texts:?}"
            );
        }
        transcripts.push(texts);
    }
    assert!(
        transcripts.windows(2).all(|w| w[0] == w[1]),
        "every node serves the same transcript"
    );
    let spread = cluster.spread();
    assert!(
        spread.iter().all(|&n| n > 0),
        "the balancer sent requests to every node: {spread:?}"
    );
}

/// A polling directlinejs customer through the balancer: each poll and post may hit another
/// node, and the bot's replies, stored wherever its calls land, all arrive once and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_customer_is_served_by_any_node() {
    let Some(cluster) = Cluster::start("cluster-poll").await else {
        return;
    };
    let token = cluster.token("polling_customer").await;
    let domain = format!("{}/v3/directline", cluster.balancer.url());
    let mut steps = vec![json!({"expect": "Hello from the node bot"})];
    for n in 0..10 {
        steps.push(json!({"send": format!("message {n}")}));
        steps.push(json!({"expect": format!("Echo: message {n}")}));
    }
    steps.push(json!({"send": "bye"}));
    steps.push(json!({"expect": "Goodbye!"}));
    let script = Value::Array(steps).to_string();
    let run = run_directline_client(
        &[
            ("DL_DOMAIN", domain.as_str()),
            ("DL_TOKEN", token.as_str()),
            ("DL_MODE", "polling"),
            ("DL_SCRIPT", script.as_str()),
        ],
        Duration::from_secs(90),
    )
    .await
    .expect("the Direct Line client's packages are installed");
    assert!(run.success, "directlinejs (polling) failed:\n{}", run.report());
    let echoes: Vec<String> = run
        .received_texts()
        .into_iter()
        .filter(|t| t.starts_with("Echo: "))
        .collect();
    let wanted: Vec<String> = (0..10).map(|n| format!("Echo: message {n}")).collect();
    assert_eq!(echoes, wanted, "each reply once, in order");
    let spread = cluster.spread();
    assert!(spread.iter().all(|&n| n > 0), "every node served: {spread:?}");
}
