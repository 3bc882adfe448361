//! The Direct Line HTTP surface, driven in-process: the router `switchboard serve` builds
//! (`switchboard::server::build`, every layer included) over an in-memory SQLite store, made
//! once per process, and one request per input, sent with `tower::ServiceExt::oneshot`.
//!
//! An input is a request written as text, so seeds and crashes read as what they are:
//!
//! ```text
//! POST conversations/{live0}/activities?watermark=2
//! authorization: Bearer {token0}
//! content-type: application/json
//!
//! {"type":"message","text":"hi"}
//! ```
//!
//! The first line is the method and the path after `/v3/directline/`; header lines follow up
//! to an empty line; the rest is the body. Placeholders anywhere stand for what the fixture
//! made at startup: `{live0}`…`{live2}` started conversations and `{token0}`…`{token2}` their
//! tokens, `{unstarted}` / `{unstarted-token}` a conversation with a valid token that was never
//! started, `{secret}` / `{app-secret}` the two channels' secrets, `{expired}` an expired token,
//! `{forged}` a token signed with a wrong secret. Characters a URI cannot hold are
//! percent-encoded; a header that is not valid is dropped.
//!
//! What it holds the hub to: no panic; never a 5xx (the configuration has no bot, so the 502 a
//! refusing bot earns cannot happen, and nothing else may fail with a 5xx); every 4xx (but to
//! `HEAD`, which has no body) answers with the one error shape, `{"error":{"code","message"}}`
//! as JSON, with a non-empty `code`.
//!
//! With `FUZZ_SHOW` set in the environment every answer is printed, to see what seeds reach.

#![no_main]

use std::sync::{Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use domain::{ConversationId, ConversationState};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use switchboard_http::directline::tokens::{DirectLineChannel, TokenClaims, unix_now};
use tower::ServiceExt;

/// Two chat channels, people only: a conversation waits in a queue, and what its customer
/// posts is stored for the agents.
const CONFIG: &str = r#"
[tenant]
name = "Fuzz"

[[directline]]
name = "website"
secret = "fuzz-website-secret-0123456789"
workstream = "Chat"

[[directline]]
name = "app"
secret = "fuzz-app-secret-0123456789"
workstream = "App"

[[agents]]
name = "alice"
display_name = "Alice"
capacity = 2

[[queues]]
name = "CardQueue"
members = ["alice"]

[[queues]]
name = "DefaultQueue"
members = ["alice"]

[[workstreams]]
name = "Chat"
channel = "chat"
mode = "push"
fallback_queue = "DefaultQueue"
capacity = 1

[workstreams.variables]
BotHandoffTopic = "text"
Amount = "number"

[[workstreams.rules]]
name = "CardRule"
condition = 'BotHandoffTopic equals "CreditCard" or Amount >= 1000'
queue = "CardQueue"

[[workstreams]]
name = "App"
channel = "chat"
mode = "push"
fallback_queue = "DefaultQueue"
capacity = 1
"#;

/// How many started conversations requests can name.
const LIVE: usize = 3;
/// The most of a response body read.
const MAX_BODY: usize = 1 << 20;

/// The hub, built once per process, and the credentials requests can present.
struct Fixture {
    /// Current-thread: the hub's tasks (the store's writer, timers) run only while a request is
    /// being answered, on the one core libFuzzer uses, which keeps runs repeatable.
    runtime: tokio::runtime::Runtime,
    router: Router,
    hub: std::sync::Arc<engine::Hub>,
    channels: Vec<DirectLineChannel>,
    /// Started conversations and their tokens; one the customer ended is replaced, so the
    /// fuzzer keeps reaching an open conversation. A `Mutex` only because the fixture is a
    /// `static`: libFuzzer runs inputs one at a time.
    live: Mutex<Vec<(String, String)>>,
    /// A valid token for a conversation that was never started.
    unstarted: (String, String),
    /// A token whose lifetime is over.
    expired: String,
    /// A token naming the website channel, signed with another secret.
    forged: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let config = switchboard::config::load("fuzz.toml", CONFIG).unwrap_or_else(|e| panic!("{e}"));
        let channels = config.directline.clone();
        let (hub, router) = runtime.block_on(async {
            let store = store::open("sqlite::memory:").await.expect("an in-memory store");
            // The public URL only shows up in `streamUrl`s; nothing connects to it.
            let built = switchboard::server::build(config, store, "http://127.0.0.1:9".to_owned(), "fuzz-admin".into())
                .expect("the hub builds");
            (built.hub, built.router)
        });
        let mut fixture = Fixture {
            runtime,
            router,
            hub,
            unstarted: (String::new(), String::new()),
            expired: String::new(),
            forged: String::new(),
            live: Mutex::new(Vec::new()),
            channels,
        };
        let live = (0..LIVE).map(|_| fixture.start_conversation()).collect();
        fixture.live = Mutex::new(live);
        fixture.unstarted = fixture.generate_token();
        let website = &fixture.channels[0];
        let now = unix_now();
        let mut old = TokenClaims::new(website, fixture.unstarted.0.clone(), "dl_old".into(), now - 7200);
        old.exp = now - 3600;
        fixture.expired = old.sign(website);
        let forged_channel = DirectLineChannel {
            secret: "not-the-website-secret".into(),
            ..website.clone()
        };
        fixture.forged =
            TokenClaims::new(&forged_channel, fixture.unstarted.0.clone(), "dl_x".into(), now).sign(&forged_channel);
        fixture
    })
}

impl Fixture {
    /// Sends `request` through the router; the status, content type and body.
    fn send(&self, request: Request<Body>) -> (StatusCode, Option<HeaderValue>, Vec<u8>) {
        self.runtime.block_on(async {
            let response = self
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("the router is infallible");
            let status = response.status();
            let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
            let body = axum::body::to_bytes(response.into_body(), MAX_BODY)
                .await
                .expect("a response body reads");
            (status, content_type, body.to_vec())
        })
    }

    fn post_json(&self, path: &str, auth: &str, body: Value) -> Value {
        let request = Request::post(path)
            .header(header::AUTHORIZATION, format!("Bearer {auth}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("a valid request");
        let (status, _, body) = self.send(request);
        assert!(
            status.is_success(),
            "{path}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).expect("a JSON answer")
    }

    /// A token from the website channel for a new conversation: (conversation id, token).
    fn generate_token(&self) -> (String, String) {
        let secret = &self.channels[0].secret;
        let body = json!({"user": {"id": "dl_fuzz", "name": "Fuzz"}, "context": {"BotHandoffTopic": "CreditCard"}});
        let answer = self.post_json("/v3/directline/tokens/generate", secret, body);
        let id = answer["conversationId"].as_str().expect("a conversation id").to_owned();
        let token = answer["token"].as_str().expect("a token").to_owned();
        (id, token)
    }

    /// A conversation started as a client does: a token, then `POST /conversations` with it.
    fn start_conversation(&self) -> (String, String) {
        let (id, token) = self.generate_token();
        self.post_json("/v3/directline/conversations", &token, json!({}));
        (id, token)
    }

    /// Replaces live conversation `index` if its customer ended it.
    fn keep_open(&self, index: usize) {
        let id = self.live.lock().unwrap()[index].0.clone();
        let parsed = ConversationId::parse(&id).expect("the hub's own id");
        let stored = self
            .runtime
            .block_on(self.hub.store().get_conversation(parsed))
            .expect("the in-memory store answers");
        if stored.is_none_or(|c| c.state == ConversationState::Closed) {
            let fresh = self.start_conversation();
            self.live.lock().unwrap()[index] = fresh;
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let fixture = fixture();
    let Some((request, live)) = parse_request(fixture, input) else {
        return;
    };
    let is_head = request.method() == Method::HEAD;
    let (status, content_type, body) = fixture.send(request);
    let text = String::from_utf8_lossy(&body);
    let shown = String::from_utf8_lossy(input);
    if show() {
        eprintln!("{status} {content_type:?} {text}");
    }
    assert!(!status.is_server_error(), "{status} for {shown:?}: {text}");
    if status.is_client_error() && !is_head {
        let is_json = content_type
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        assert!(
            is_json,
            "{status} without a JSON content type ({content_type:?}) for {shown:?}: {text}"
        );
        let parsed: Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{status} body is not JSON ({e}) for {shown:?}: {text}"));
        let code = parsed["error"]["code"].as_str();
        assert!(
            code.is_some_and(|c| !c.is_empty()),
            "{status} without an error code for {shown:?}: {text}"
        );
        assert!(
            parsed["error"]["message"].is_string(),
            "{status} without a message for {shown:?}: {text}"
        );
    }
    for index in live {
        fixture.keep_open(index);
    }
});

/// Whether `FUZZ_SHOW` is set: then every answer is printed, to see what seeds reach.
fn show() -> bool {
    static SHOW: OnceLock<bool> = OnceLock::new();
    *SHOW.get_or_init(|| std::env::var_os("FUZZ_SHOW").is_some())
}

/// The request `input` writes, and which live conversations it names (to replace them if it
/// ended one).
fn parse_request(fixture: &Fixture, input: &[u8]) -> Option<(Request<Body>, Vec<usize>)> {
    let live = (0..LIVE)
        .filter(|i| {
            contains(input, format!("{{live{i}}}").as_bytes()) || contains(input, format!("{{token{i}}}").as_bytes())
        })
        .collect();
    let input = fixture.substitute(input);
    let (head, body) = match find(&input, b"\n\n") {
        Some(at) => (&input[..at], &input[at + 2..]),
        None => (&input[..], &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines();
    let (method, target) = lines.next()?.split_once(' ')?;
    let method = Method::from_bytes(method.as_bytes()).ok()?;
    let uri = format!("/v3/directline/{}", encode_uri(target.trim_start_matches('/')));
    let mut request = Request::builder().method(method).uri(uri);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) {
            request = request.header(name, value);
        }
    }
    let request = request.body(Body::from(body.to_vec())).ok()?;
    Some((request, live))
}

impl Fixture {
    /// `input` with every placeholder replaced by what it stands for.
    fn substitute(&self, input: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        if !contains(&out, b"{") {
            return out;
        }
        let live = self.live.lock().unwrap().clone();
        let mut pairs = vec![
            ("{unstarted-token}".to_owned(), self.unstarted.1.clone()),
            ("{unstarted}".to_owned(), self.unstarted.0.clone()),
            ("{app-secret}".to_owned(), self.channels[1].secret.clone()),
            ("{secret}".to_owned(), self.channels[0].secret.clone()),
            ("{expired}".to_owned(), self.expired.clone()),
            ("{forged}".to_owned(), self.forged.clone()),
        ];
        for (i, (id, token)) in live.into_iter().enumerate() {
            pairs.push((format!("{{live{i}}}"), id));
            pairs.push((format!("{{token{i}}}"), token));
        }
        for (from, to) in pairs {
            out = replace(&out, from.as_bytes(), to.as_bytes());
        }
        out
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = find(rest, from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// Percent-encodes what a URI cannot hold (spaces, controls, non-ASCII, `"<>\^`{|}`), and
/// leaves the rest — `%`, `/`, `?`, `&`, `=` included — for the router to read.
fn encode_uri(target: &str) -> String {
    let mut out = String::with_capacity(target.len());
    for byte in target.bytes() {
        if byte.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
