//! Signed mode, both directions.
//!
//! Hub → bot: a real `botbuilder` (Node, `CloudAdapter`) bot configured to trust the hub's OpenID
//! metadata (protocol spec §4.4) accepts the hub's signed requests and refuses a tampered or an
//! expired token. The bot is silent: replying would need a token from Microsoft Entra ID, which
//! this machine cannot reach.
//!
//! Bot → hub: the Connector API checks a signed bot's bearer token against the issuers,
//! audience and JWKS configured for it. Entra ID is stood in for by a key ring whose JWKS a
//! loopback server publishes; the hub fetches it like any identity provider's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::response::IntoResponse as _;
use botframework::auth::{KeyRing, SigningKey};
use domain::conversation::Customer;
use serde_json::json;

mod common;
use common::TestHub;
use common::compat::{BotKind, start_bot};

const APP_ID: &str = "7f3c1a52-compat-signed-bot";
const HUB_AUDIENCE: &str = "api://switchboard-test";
const IDP_ISSUER: &str = "https://login.microsoftonline.com/test-tenant/v2.0";

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A stand-in identity provider: a key ring and a loopback URL serving its JWKS.
async fn identity_provider() -> (KeyRing, String) {
    let ring = KeyRing::new(SigningKey::generate("idp-key-1").unwrap());
    let jwks = serde_json::to_value(ring.jwks()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/discovery/v2.0/keys", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/discovery/v2.0/keys",
        axum::routing::get(move || async move { axum::Json(jwks) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (ring, url)
}

fn signed_config(bot_endpoint: &str, jwks_url: &str, keys_dir: &std::path::Path) -> String {
    let sample = switchboard::config::SAMPLE.replace(common::SAMPLE_BOT_ENDPOINT, bot_endpoint);
    let sample = sample.replace(
        "app_id = \"\"                           # empty: anonymous mode (development)",
        &format!(
            "app_id = \"{APP_ID}\"\ntoken_issuers = [\"{IDP_ISSUER}\"]\ntoken_audience = \"{HUB_AUDIENCE}\"\ntoken_jwks_url = \"{jwks_url}\""
        ),
    );
    assert!(sample.contains(APP_ID), "the sample's app_id line changed");
    sample.replacen(
        "[[bots]]",
        &format!("[channel]\nsigning_keys = \"{}\"\n\n[[bots]]", keys_dir.display()),
        1,
    )
}

struct Signed {
    hub: TestHub,
    idp: KeyRing,
    bot: Option<common::compat::BotProcess>,
    keys_dir: std::path::PathBuf,
}

impl Signed {
    async fn finish(self) {
        self.hub.finish().await;
        let _ = std::fs::remove_dir_all(&self.keys_dir);
    }
}

/// A hub whose `DemoBot` checks its tokens against the key set at `jwks_url`, with `extra`
/// appended to its configuration, and the identity provider `idp` that signs its tokens.
async fn start_with_keys(idp: KeyRing, jwks_url: &str, extra: &str) -> Signed {
    let endpoint = common::RecordingBot::start().await.endpoint();
    let keys_dir = common::unique_dir("signed-keys");
    let text = format!("{}\n{extra}\n", signed_config(&endpoint, jwks_url, &keys_dir));
    let hub = TestHub::new("signed", &text).await;
    Signed {
        hub,
        idp,
        bot: None,
        keys_dir,
    }
}

async fn start(with_bot: bool) -> Option<Signed> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let metadata = format!("{base}/.well-known/openidconfiguration");
    let issuer = format!("{base}/botframework");
    let bot = if with_bot {
        let env = [
            ("MicrosoftAppType", "MultiTenant"),
            ("MicrosoftAppId", APP_ID),
            ("MicrosoftAppPassword", "not-used-offline"),
            ("ToBotFromChannelTokenIssuer", issuer.as_str()),
            ("ToBotFromChannelOpenIdMetadataUrl", metadata.as_str()),
            ("ToBotFromEmulatorOpenIdMetadataUrl", metadata.as_str()),
            (
                "ToChannelFromBotLoginUrl",
                "https://login.microsoftonline.com/test-tenant",
            ),
            ("ToChannelFromBotOAuthScope", HUB_AUDIENCE),
            ("OAuthUrl", base.as_str()),
            ("CallerId", "urn:botframework:switchboard"),
            ("ValidateAuthority", "true"),
            ("COMPAT_SILENT", "1"),
        ];
        Some(start_bot(BotKind::Node, &env).await?)
    } else {
        None
    };
    let (idp, jwks_url) = identity_provider().await;
    let endpoint = match &bot {
        Some(bot) => bot.endpoint(),
        None => common::RecordingBot::start().await.endpoint(),
    };
    let keys_dir = common::unique_dir("signed-keys");
    let hub = TestHub::on(listener, "signed", &signed_config(&endpoint, &jwks_url, &keys_dir)).await;
    Some(Signed {
        hub,
        idp,
        bot,
        keys_dir,
    })
}

#[tokio::test]
async fn the_hub_publishes_openid_metadata_and_keys_that_verify_its_tokens() {
    let s = start(false).await.unwrap();
    let (status, metadata) = s.hub.get_json("/.well-known/openidconfiguration").await;
    assert_eq!(status, 200);
    assert_eq!(metadata["issuer"], format!("{}/botframework", s.hub.base));
    assert_eq!(metadata["jwks_uri"], format!("{}/.well-known/keys", s.hub.base));
    let (status, keys) = s.hub.get_json("/.well-known/keys").await;
    assert_eq!(status, 200);
    let set = botframework::auth::JwkSet::from_json(&keys.to_string()).unwrap();
    let signer = s.hub.hub.channel().signer.clone().unwrap();
    let token = signer.token(APP_ID, &s.hub.base, unix_now()).unwrap();
    let header = botframework::auth::token_kid(&token).unwrap();
    assert!(set.find(&header).is_some(), "the signing key is published");
    let claims = signer
        .key_ring()
        .validate_channel_token(&token, signer.issuer(), APP_ID, unix_now(), 0)
        .unwrap();
    assert_eq!(claims.serviceurl, s.hub.base);
    s.finish().await;
}

#[tokio::test]
async fn a_signed_botbuilder_bot_accepts_the_hubs_requests_and_refuses_bad_tokens() {
    let Some(s) = start(true).await else { return };
    let bot = s.bot.as_ref().unwrap();

    // The hub's own delivery: conversationUpdate and the context event, signed.
    let opened = s
        .hub
        .hub
        .open_conversation("ChatWorkStream", Customer::default(), Default::default())
        .await
        .unwrap();
    let line = bot
        .wait_for_line(|l| l.contains("\"type\":\"event\""), Duration::from_secs(20))
        .await;
    assert!(
        line.is_some(),
        "the bot did not accept the hub's signed requests; stderr: {:?}",
        bot.stderr_lines()
    );
    assert!(bot.lines().iter().any(|l| l.contains("conversationUpdate")));
    let conv = s
        .hub
        .hub
        .store()
        .get_conversation(opened.conversation.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        conv.owner,
        Some(domain::Owner::Bot(domain::UserName::new("DemoBot").unwrap()))
    );

    // Requests with bad tokens, straight to the bot.
    let signer = s.hub.hub.channel().signer.clone().unwrap();
    let good = signer.token(APP_ID, &s.hub.base, unix_now()).unwrap();
    let expired = signer
        .key_ring()
        .sign_channel_token(APP_ID, &s.hub.base, signer.issuer(), unix_now() - 7200, 3600)
        .unwrap();
    let wrong_service_url = signer
        .key_ring()
        .sign_channel_token(APP_ID, "http://elsewhere.example", signer.issuer(), unix_now(), 3600)
        .unwrap();
    // The claims of one token under the signature of another.
    let parts = |t: &str| t.split('.').map(str::to_owned).collect::<Vec<_>>();
    let (g, w) = (parts(&good), parts(&wrong_service_url));
    let tampered = format!("{}.{}.{}", g[0], w[1], g[2]);
    let activity = |id: &str| {
        json!({
            "type": "message", "id": id, "text": "direct", "channelId": "directline",
            "serviceUrl": s.hub.base, "conversation": {"id": opened.conversation.id.to_string()},
            "from": {"id": "customer"}, "recipient": {"id": "DemoBot"}
        })
    };
    let client = reqwest::Client::new();
    // The SDK answers a refused token with 401, or with 500 when the signature check itself
    // throws (botbuilder 4.23's JwtTokenExtractor); either way the turn never runs.
    for (what, token, accepted) in [
        ("a valid token", good.as_str(), true),
        ("a tampered token", tampered.as_str(), false),
        ("an expired token", expired.as_str(), false),
        ("a token for another serviceUrl", wrong_service_url.as_str(), false),
    ] {
        let activity_id = format!("direct-{}", what.replace(' ', "-"));
        let status = client
            .post(bot.endpoint())
            .bearer_auth(token)
            .json(&activity(&activity_id))
            .send()
            .await
            .unwrap()
            .status();
        let ran = bot.lines().iter().any(|l| l.contains(&activity_id));
        if accepted {
            assert!(
                status.is_success() && ran,
                "{what}: {status}; bot stderr: {:?}",
                bot.stderr_lines()
            );
        } else {
            assert!(matches!(status.as_u16(), 401 | 500), "{what}: {status}");
            assert!(!ran, "{what}: the bot ran a turn for it");
        }
    }
    let status = client
        .post(bot.endpoint())
        .json(&activity("direct-no-token"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 401, "no token at all");
    s.finish().await;
}

fn idp_token(idp: &KeyRing, app_id: &str, audience: &str, exp: u64) -> String {
    idp.current()
        .sign(&json!({
            "iss": IDP_ISSUER, "aud": audience, "exp": exp, "nbf": unix_now() - 10,
            "azp": app_id, "ver": "2.0", "tid": "test-tenant"
        }))
        .unwrap()
}

#[tokio::test]
async fn the_connector_api_checks_a_signed_bots_bearer_token() {
    let s = start(false).await.unwrap();
    let id = s
        .hub
        .hub
        .open_conversation("ChatWorkStream", Customer::default(), Default::default())
        .await
        .unwrap()
        .conversation
        .id;
    let body = json!({"type": "message", "text": "Hello from a signed bot", "from": {"id": "DemoBot"}});
    let post = |token: Option<String>| {
        let request = reqwest::Client::new()
            .post(format!("{}/v3/conversations/{id}/activities", s.hub.base))
            .json(&body);
        async move {
            let request = match token {
                Some(t) => request.bearer_auth(t),
                None => request,
            };
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    let valid = idp_token(&s.idp, APP_ID, HUB_AUDIENCE, unix_now() + 600);
    let cases = [
        ("garbage", Some("not-a-jwt".to_owned()), 401),
        ("no token, though the bot has an app id", None, 403),
        (
            "another app's token",
            Some(idp_token(&s.idp, "someone-else", HUB_AUDIENCE, unix_now() + 600)),
            401,
        ),
        (
            "the wrong audience",
            Some(idp_token(&s.idp, APP_ID, "api://other", unix_now() + 600)),
            401,
        ),
        (
            "an expired token",
            Some(idp_token(&s.idp, APP_ID, HUB_AUDIENCE, unix_now() - 3600)),
            401,
        ),
        ("a tampered token", Some(format!("{}x", &valid[..valid.len() - 1])), 401),
    ];
    for (what, token, expected) in cases {
        let (status, body) = post(token).await;
        assert_eq!(status, expected, "{what}: {body}");
        assert!(body["error"]["code"].is_string(), "{what}: {body}");
    }
    let (status, body) = post(Some(valid)).await;
    assert_eq!(status, 200, "{body}");
    s.hub.wait_for_bot_text(id, |t| t == "Hello from a signed bot").await;
    s.finish().await;
}

/// An identity provider's key server the test controls: it counts the requests it gets and the
/// answers it gives, and answers each (the JWKS, or 503 without one) only once `release` lets it.
struct KeyServer {
    url: String,
    asked: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
    release: Arc<tokio::sync::Semaphore>,
}

impl KeyServer {
    /// Answers at once with `jwks`, or with 503 when there is none (a provider that is down).
    async fn start(jwks: Option<serde_json::Value>) -> Self {
        let server = Self::holding(jwks).await;
        server.release.add_permits(tokio::sync::Semaphore::MAX_PERMITS >> 1);
        server
    }

    /// Holds every answer until [`KeyServer::release`] (30 s at most).
    async fn holding(jwks: Option<serde_json::Value>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Self {
            url: format!("http://{}/keys", listener.local_addr().unwrap()),
            asked: Arc::default(),
            answered: Arc::default(),
            release: Arc::new(tokio::sync::Semaphore::new(0)),
        };
        let (asked, answered, release) = (server.asked.clone(), server.answered.clone(), server.release.clone());
        let app = axum::Router::new().route(
            "/keys",
            axum::routing::get(move || {
                let (asked, answered, release, jwks) = (asked.clone(), answered.clone(), release.clone(), jwks.clone());
                async move {
                    asked.fetch_add(1, Ordering::SeqCst);
                    let _ = tokio::time::timeout(Duration::from_secs(30), release.acquire()).await;
                    answered.fetch_add(1, Ordering::SeqCst);
                    match jwks {
                        Some(jwks) => axum::Json(jwks).into_response(),
                        None => axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response(),
                    }
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        server
    }

    fn release(&self) {
        self.release.add_permits(1);
    }

    fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }

    fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }

    /// Waits (10 s at most) until a request has arrived.
    async fn wait_until_asked(&self) {
        for _ in 0..200 {
            if self.asked() > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the hub never asked {} for keys", self.url);
    }
}

/// POSTs a message from `bot` to conversation `id` with `token`; the status and the body.
async fn post_as(hub: &TestHub, id: domain::ConversationId, bot: &str, token: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v3/conversations/{id}/activities", hub.base))
        .bearer_auth(token)
        .json(&json!({"type": "message", "text": "Hello", "from": {"id": bot}}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

async fn conversation_with_demo_bot(s: &Signed) -> domain::ConversationId {
    s.hub
        .hub
        .open_conversation("ChatWorkStream", Customer::default(), Default::default())
        .await
        .unwrap()
        .conversation
        .id
}

#[tokio::test]
async fn a_refused_token_is_told_only_that_it_was_refused() {
    let s = start(false).await.unwrap();
    let id = conversation_with_demo_bot(&s).await;
    let jwks_url = s.hub.hub.channel().bot_tokens[APP_ID].jwks_url.clone();
    for (what, token) in [
        (
            "a token for an app the hub does not know",
            idp_token(&s.idp, "unknown-app-4711", HUB_AUDIENCE, unix_now() + 600),
        ),
        (
            "a token for another audience",
            idp_token(&s.idp, APP_ID, "api://other-audience", unix_now() + 600),
        ),
    ] {
        let (status, body) = post_as(&s.hub, id, "DemoBot", &token).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["error"]["code"], "Unauthorized", "{what}: {body}");
        let text = body.to_string();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("the bearer token was refused"),
            "{what}: {text}"
        );
        for secret in ["unknown-app-4711", APP_ID, jwks_url.as_str(), "api://", IDP_ISSUER] {
            assert!(!text.contains(secret), "{what}: the body names `{secret}`: {text}");
        }
    }
    s.finish().await;
}

#[tokio::test]
async fn a_key_server_that_is_down_is_asked_once_while_its_failure_is_remembered() {
    let down = KeyServer::start(None).await;
    let idp = KeyRing::new(SigningKey::generate("idp-key-1").unwrap());
    let s = start_with_keys(idp, &down.url, "").await;
    let id = conversation_with_demo_bot(&s).await;
    let token = idp_token(&s.idp, APP_ID, HUB_AUDIENCE, unix_now() + 600);
    for attempt in ["first", "second"] {
        let (status, body) = post_as(&s.hub, id, "DemoBot", &token).await;
        assert_eq!(status, 401, "{attempt} call: {body}");
        assert!(!body.to_string().contains(&down.url), "{attempt} call: {body}");
    }
    assert_eq!(down.asked(), 1, "the second call is answered from memory");
    s.finish().await;
}

#[tokio::test]
async fn a_slow_key_server_does_not_hold_up_bots_whose_keys_are_cached() {
    let slow_idp = KeyRing::new(SigningKey::generate("slow-key-1").unwrap());
    let slow = KeyServer::holding(Some(serde_json::to_value(slow_idp.jwks()).unwrap())).await;
    let fast_idp = KeyRing::new(SigningKey::generate("idp-key-1").unwrap());
    let fast = KeyServer::start(Some(serde_json::to_value(fast_idp.jwks()).unwrap())).await;
    let slow_bot = format!(
        "[[bots]]\nname = \"SlowBot\"\napp_id = \"slow-app\"\nendpoint = \"{}\"\n\
         token_issuers = [\"{IDP_ISSUER}\"]\ntoken_audience = \"{HUB_AUDIENCE}\"\ntoken_jwks_url = \"{}\"\n",
        common::RecordingBot::start().await.endpoint(),
        slow.url
    );
    let s = start_with_keys(fast_idp, &fast.url, &slow_bot).await;
    let id = conversation_with_demo_bot(&s).await;
    let fast_token = || idp_token(&s.idp, APP_ID, HUB_AUDIENCE, unix_now() + 600);
    let (status, body) = post_as(&s.hub, id, "DemoBot", &fast_token()).await;
    assert_eq!(status, 200, "the fast provider's keys are now cached: {body}");

    // SlowBot's call waits for its provider, which holds its answer.
    let slow_token = idp_token(&slow_idp, "slow-app", HUB_AUDIENCE, unix_now() + 600);
    let slow_call = {
        let base = s.hub.base.clone();
        tokio::spawn(async move {
            let response = reqwest::Client::new()
                .post(format!("{base}/v3/conversations/{id}/activities"))
                .bearer_auth(slow_token)
                .json(&json!({"type": "message", "text": "Hello", "from": {"id": "SlowBot"}}))
                .send()
                .await
                .unwrap();
            response.status().as_u16()
        })
    };
    slow.wait_until_asked().await;

    // Meanwhile DemoBot's call is answered, its keys cached.
    let token = fast_token();
    let (status, body) = tokio::time::timeout(Duration::from_secs(60), post_as(&s.hub, id, "DemoBot", &token))
        .await
        .expect("the fast call is answered");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (slow.answered(), slow_call.is_finished()),
        (0, false),
        "the fast call was answered while the slow provider still held its answer"
    );

    slow.release();
    let slow_status = tokio::time::timeout(Duration::from_secs(30), slow_call)
        .await
        .expect("the slow call ends once its provider answers")
        .unwrap();
    assert_eq!(
        slow_status, 403,
        "SlowBot's token is valid (its keys arrived), but SlowBot is not in the conversation"
    );
    assert_eq!((fast.asked(), slow.asked()), (1, 1), "one fetch each");
    s.finish().await;
}
