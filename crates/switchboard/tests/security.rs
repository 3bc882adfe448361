//! The public surfaces under abuse (docs/security.md): flooding token requests and conversation
//! starts is limited per client address, `X-Forwarded-For` counts only from trusted proxies,
//! and every answer carries the headers that keep browsers from misreading or framing it.

use serde_json::{Value, json};

mod common;
use common::{SAMPLE_DIRECTLINE_SECRET, TestHub};

/// The sample with `extra` appended (new sections only: the sample has no [limits] or [security]).
fn sample_with(extra: &str) -> String {
    format!("{}\n{extra}\n", switchboard::config::SAMPLE)
}

async fn post(url: &str, headers: &[(&str, &str)], body: Option<Value>) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// Sends `tries` POSTs to `url` with `headers`, one after another; the statuses in order.
async fn statuses(tries: usize, url: &str, headers: &[(&str, &str)]) -> Vec<u16> {
    let mut out = Vec::with_capacity(tries);
    for _ in 0..tries {
        out.push(post(url, headers, None).await.status().as_u16());
    }
    out
}

#[tokio::test]
async fn a_flood_of_chat_tokens_from_one_address_is_refused_with_retry_after() {
    let f = TestHub::new(
        "security-chat-token",
        &sample_with("[limits]\ntoken_requests_per_minute = 6\ntoken_request_burst = 3\n"),
    )
    .await;
    let url = format!("{}/chat/token", f.base);
    let got = statuses(5, &url, &[]).await;
    assert_eq!(got, vec![200, 200, 200, 429, 429]);
    let refused = post(&url, &[], None).await;
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "TooManyRequests", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("too many"),
        "{body}"
    );
    f.finish().await;
}

#[tokio::test]
async fn forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    // Loopback is the trusted proxy here: each forwarded address has its own bucket.
    let trusted = TestHub::new(
        "security-xff-trusted",
        &sample_with(
            "[limits]\ntoken_requests_per_minute = 2\ntoken_request_burst = 2\n\
             [security]\ntrusted_proxies = [\"127.0.0.1\"]\n",
        ),
    )
    .await;
    let url = format!("{}/chat/token", trusted.base);
    assert_eq!(
        statuses(3, &url, &[("x-forwarded-for", "198.51.100.1")]).await,
        vec![200, 200, 429]
    );
    assert_eq!(
        statuses(2, &url, &[("x-forwarded-for", "198.51.100.2")]).await,
        vec![200, 200]
    );
    trusted.finish().await;

    // Without trusted proxies the header is the client's own claim, and ignored: changing it
    // does not buy a fresh bucket.
    let untrusted = TestHub::new(
        "security-xff-untrusted",
        &sample_with("[limits]\ntoken_requests_per_minute = 2\ntoken_request_burst = 2\n"),
    )
    .await;
    let url = format!("{}/chat/token", untrusted.base);
    let mut got = Vec::new();
    for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        got.push(post(&url, &[("x-forwarded-for", ip)], None).await.status().as_u16());
    }
    assert_eq!(got, vec![200, 200, 429]);
    untrusted.finish().await;
}

#[tokio::test]
async fn token_generation_and_conversation_starts_with_the_secret_have_their_own_limit() {
    let f = TestHub::new(
        "security-secret-limit",
        &sample_with(
            "[limits]\ntoken_requests_per_minute = 60\ntoken_request_burst = 60\n\
             secret_requests_per_minute = 4\nsecret_request_burst = 4\n",
        ),
    )
    .await;
    let bearer = format!("Bearer {SAMPLE_DIRECTLINE_SECRET}");
    let generate = format!("{}/v3/directline/tokens/generate", f.base);
    let start = format!("{}/v3/directline/conversations", f.base);
    let mut got = statuses(2, &generate, &[("authorization", &bearer)]).await;
    got.extend(statuses(3, &start, &[("authorization", &bearer)]).await);
    assert_eq!(got, vec![200, 200, 201, 201, 429]);
    // The browsers' bucket is separate: a page still gets its token.
    assert_eq!(post(&format!("{}/chat/token", f.base), &[], None).await.status(), 200);
    f.finish().await;
}

#[tokio::test]
async fn conversation_starts_with_a_token_count_against_the_browsers_limit() {
    let f = TestHub::new(
        "security-token-start-limit",
        &sample_with("[limits]\ntoken_requests_per_minute = 3\ntoken_request_burst = 3\n"),
    )
    .await;
    let token: Value = post(&format!("{}/chat/token", f.base), &[], None)
        .await
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    let start = format!("{}/v3/directline/conversations", f.base);
    // One token request, then starts (the first creates, the next answer for it) until the
    // address's three are spent.
    let got = statuses(3, &start, &[("authorization", &bearer)]).await;
    assert_eq!(got, vec![201, 200, 429]);
    // A site's backend vouched for its tokens (and was counted when it asked for them): the
    // starts of its customers do not spend the browsers' allowance.
    for n in 0..5 {
        let token = f.directline_token(&format!("backend-customer-{n}")).await;
        let bearer = format!("Bearer {token}");
        assert_eq!(statuses(1, &start, &[("authorization", &bearer)]).await, vec![201]);
    }
    f.finish().await;
}

#[tokio::test]
async fn json_answers_are_not_sniffed_and_the_chat_page_is_framed_only_by_configured_origins() {
    let f = TestHub::new(
        "security-headers",
        &sample_with("[security]\nembed_origins = [\"https://www.contoso.com\"]\n"),
    )
    .await;
    let client = reqwest::Client::new();
    for path in [
        "/healthz",
        "/api/v1/queues",
        "/no/such/path",
        "/v3/directline/conversations/x/activities",
    ] {
        let response = client.get(format!("{}{path}", f.base)).send().await.unwrap();
        assert_eq!(
            response
                .headers()
                .get("x-content-type-options")
                .map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{path}"
        );
    }
    let page = client.get(format!("{}/chat", f.base)).send().await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("frame-ancestors 'self' https://www.contoso.com"), "{csp}");
    assert!(page.headers().get("x-frame-options").is_none());
    f.finish().await;

    let plain = TestHub::new("security-headers-default", switchboard::config::SAMPLE).await;
    let page = client.get(format!("{}/chat", plain.base)).send().await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.ends_with("frame-ancestors 'self'"), "{csp}");
    assert_eq!(page.headers()["x-frame-options"], "SAMEORIGIN");
    plain.finish().await;
}

#[tokio::test]
async fn an_overlong_request_target_gets_a_json_414() {
    let f = TestHub::sample("security-414").await;
    let client = reqwest::Client::new();
    let long = "a".repeat(20_000);
    for (path, code) in [
        (format!("/api/v1/conversations/{long}"), "uri_too_long"),
        (
            format!("/v3/directline/conversations/x/activities?watermark={long}"),
            "BadArgument",
        ),
    ] {
        let response = client.get(format!("{}{path}", f.base)).send().await.unwrap();
        assert_eq!(response.status(), 414);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], json!(code), "{body}");
    }
    f.finish().await;
}
