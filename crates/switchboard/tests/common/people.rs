//! People signed in through the API, as the workspace would: sign-in, calls with their session,
//! presence, waiting for an offer, reading a transcript.

use std::time::Duration;

use domain::ConversationId;
use serde_json::{Value, json};

use super::TestHub;

/// The demo people's password in the sample configuration.
pub const PASSWORD: &str = "switchboard-demo";

/// A signed-in person.
pub struct Person {
    base: String,
    pub token: String,
    http: reqwest::Client,
}

impl Person {
    pub async fn sign_in(f: &TestHub, name: &str) -> Person {
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/sessions", f.base))
            .json(&json!({"name": name, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{name} signs in");
        let body: Value = response.json().await.unwrap();
        Person {
            base: f.base.clone(),
            token: body["token"].as_str().unwrap().to_owned(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn presence(&self, presence: &str) {
        let (status, body) = self
            .call(
                reqwest::Method::PUT,
                "/api/v1/me/presence",
                Some(json!({"presence": presence})),
            )
            .await;
        assert_eq!((status, body["presence"].as_str()), (200, Some(presence)), "{body}");
    }

    /// Waits (10 s at most) until the caller is offered `id`.
    pub async fn offered(&self, id: ConversationId) {
        for _ in 0..200 {
            let (_, body) = self.get("/api/v1/offers").await;
            if body["offers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["conversation"]["id"] == json!(id))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{id} was never offered");
    }

    pub async fn transcript(&self, id: ConversationId) -> Vec<Value> {
        let (status, body) = self.get(&format!("/api/v1/conversations/{id}/transcript")).await;
        assert_eq!(status, 200, "{body}");
        body["activities"].as_array().unwrap().clone()
    }
}
