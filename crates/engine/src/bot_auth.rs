//! Bot → hub authentication: the bearer tokens signed bots present on the Connector API.
//!
//! A bot with an app id gets its tokens from its identity provider (Microsoft Entra ID in
//! production; protocol spec §4.2). Each such bot is registered with a [`BotTokenPolicy`]: the
//! issuers to accept, the audience the tokens are for (the hub's app id URI), and where the
//! provider publishes its signing keys. A token is checked against the policy of the app it
//! claims to come from, and that claim is then the caller's proven identity.
//!
//! Keys are fetched over HTTP and cached per URL for a day; a token signed with a key the cache
//! does not know makes the hub fetch again, at most once every five minutes per URL, so a
//! provider's key rotation is picked up without letting bad tokens drive traffic.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use botframework::auth::{self, AuthError, JwkSet};

use crate::dispatch::unix_now;
use crate::hub::Hub;

/// How long fetched keys are trusted before they are fetched again.
const KEYS_TTL: Duration = Duration::from_secs(24 * 3600);
/// The shortest wait between two fetches of one key set.
const REFETCH_MIN_INTERVAL: Duration = Duration::from_secs(300);

/// How the hub checks the tokens one signed bot presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotTokenPolicy {
    /// Accepted `iss` values, e.g. `https://login.microsoftonline.com/<tenant>/v2.0` and
    /// `https://sts.windows.net/<tenant>/`.
    pub issuers: Vec<String>,
    /// The `aud` the tokens must carry: what the bot sets as `ToChannelFromBotOAuthScope`.
    pub audience: String,
    /// Where the provider's JWKS is, e.g.
    /// `https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys`.
    pub jwks_url: String,
}

/// Why a bot's bearer token was refused. Every variant is a 401 at the Connector API.
#[derive(Debug, thiserror::Error)]
pub enum BotAuthError {
    #[error("the token names no app id (appid or azp)")]
    NoAppId,
    #[error("no bot with app id `{0}` is configured for signed calls")]
    UnknownApp(String),
    #[error("the signing keys at {url} could not be fetched: {reason}")]
    Keys { url: String, reason: String },
    #[error(transparent)]
    Token(#[from] AuthError),
    #[error("the token was issued to app `{got}`, not `{expected}`")]
    WrongApp { got: String, expected: String },
}

/// Key sets fetched from identity providers, by URL.
#[derive(Debug, Default)]
pub(crate) struct KeyCache {
    /// An async mutex: it is held across the fetch, so concurrent calls wait for one fetch
    /// instead of each fetching. Fetches are rare (daily, or on an unknown key).
    sets: tokio::sync::Mutex<HashMap<String, FetchedKeys>>,
}

#[derive(Debug)]
struct FetchedKeys {
    keys: JwkSet,
    fetched: Instant,
}

impl KeyCache {
    /// The key set at `url`, fetched if not cached, stale, or lacking `kid` (rate-limited).
    async fn keys(&self, client: &reqwest::Client, url: &str, kid: Option<&str>) -> Result<JwkSet, BotAuthError> {
        let mut sets = self.sets.lock().await;
        if let Some(cached) = sets.get(url) {
            let fresh = cached.fetched.elapsed() < KEYS_TTL;
            let has_kid = kid.is_none_or(|kid| cached.keys.find(kid).is_some());
            if fresh && (has_kid || cached.fetched.elapsed() < REFETCH_MIN_INTERVAL) {
                return Ok(cached.keys.clone());
            }
        }
        let failed = |reason: String| BotAuthError::Keys {
            url: url.to_owned(),
            reason,
        };
        let response = client
            .get(url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("HTTP {}", response.status().as_u16())));
        }
        let text = response.text().await.map_err(|e| failed(e.to_string()))?;
        let keys = JwkSet::from_json(&text).map_err(|e| failed(e.to_string()))?;
        tracing::info!(
            url,
            keys = keys.keys.len(),
            "fetched a bot identity provider's signing keys"
        );
        sets.insert(
            url.to_owned(),
            FetchedKeys {
                keys: keys.clone(),
                fetched: Instant::now(),
            },
        );
        Ok(keys)
    }
}

impl Hub {
    /// Validates a bearer token a bot presented and returns the app id it proves. The token is
    /// checked against the policy registered for the app id it claims: signature by a key the
    /// provider publishes (RS256, by `kid`), `exp`/`nbf` with the SDKs' five-minute tolerance,
    /// issuer, audience, and finally that it was issued to that very app.
    pub async fn authenticate_bot(&self, token: &str) -> Result<String, BotAuthError> {
        let app_id = auth::claimed_app_id(token).ok_or(BotAuthError::NoAppId)?;
        let policy = self
            .channel()
            .bot_tokens
            .get(&app_id)
            .ok_or_else(|| BotAuthError::UnknownApp(app_id.clone()))?;
        let kid = auth::token_kid(token);
        let keys = self
            .dispatcher
            .keys
            .keys(self.dispatcher.client(), &policy.jwks_url, kid.as_deref())
            .await?;
        let claims = auth::validate_bot_token(
            token,
            &keys,
            &policy.issuers,
            &policy.audience,
            unix_now(),
            auth::SDK_CLOCK_TOLERANCE_SECS,
        )?;
        match claims.app_id() {
            Some(got) if got == app_id => Ok(app_id),
            got => Err(BotAuthError::WrongApp {
                got: got.unwrap_or_default().to_owned(),
                expected: app_id,
            }),
        }
    }
}
