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
//! provider's key rotation is picked up without letting bad tokens drive traffic. A fetch that
//! fails is remembered for 30 seconds: tokens checked meanwhile are refused with the same
//! reason, without asking the provider again.
//!
//! No lock is held while fetching that other URLs' callers need: the map of key sets is behind a
//! plain mutex taken only to read or record an entry, so a slow provider delays only the bots
//! that use it. Callers that need the same URL fetched at once wait for one fetch (a per-URL
//! guard) and then read what it recorded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use botframework::auth::{self, AuthError, JwkSet};

use crate::dispatch::unix_now;
use crate::hub::Hub;

/// How long fetched keys are trusted before they are fetched again.
const KEYS_TTL: Duration = Duration::from_secs(24 * 3600);
/// The shortest wait between two fetches of one key set.
const REFETCH_MIN_INTERVAL: Duration = Duration::from_secs(300);
/// How long a failed fetch is answered from memory before the URL is tried again.
const FAILURE_TTL: Duration = Duration::from_secs(30);
/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

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

/// Why a bot's bearer token was refused. Every variant is a 401 at the Connector API, whose
/// answer does not repeat this: it is for the hub's log (it names URLs and app ids).
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
    /// A std mutex, never held across an await: taken only to read or record an entry, so
    /// callers whose keys are cached never wait for another URL's fetch. The URLs are the
    /// configured bots' `token_jwks_url`s, so the map stays that small.
    sets: Mutex<HashMap<String, Entry>>,
}

/// What is known of one URL's keys.
#[derive(Debug, Default)]
struct Entry {
    /// The last key set fetched.
    keys: Option<FetchedKeys>,
    /// Why the last fetch failed, and when; cleared by a fetch that succeeds.
    failed: Option<(Instant, String)>,
    /// Held across this URL's fetch (an async mutex, as it is held across the request), so
    /// concurrent callers needing it wait for one fetch instead of each fetching; only callers
    /// of this URL ever wait on it.
    fetching: Arc<tokio::sync::Mutex<()>>,
}

/// What [`KeyCache::lookup`] found.
enum Lookup {
    /// The answer, from memory: the keys, or the reason the last fetch failed.
    Known(Result<JwkSet, BotAuthError>),
    /// The keys must be fetched; this URL's guard, to hold while fetching.
    Fetch(Arc<tokio::sync::Mutex<()>>),
}

#[derive(Debug)]
struct FetchedKeys {
    keys: JwkSet,
    fetched: Instant,
}

impl KeyCache {
    /// The key set at `url`, fetched if not cached, stale, or lacking `kid` (rate-limited); a
    /// fetch that failed less than [`FAILURE_TTL`] ago is answered with its reason.
    async fn keys(&self, client: &reqwest::Client, url: &str, kid: Option<&str>) -> Result<JwkSet, BotAuthError> {
        let guard = match self.lookup(url, kid) {
            Lookup::Known(answer) => return answer,
            Lookup::Fetch(guard) => guard,
        };
        let _fetching = guard.lock().await;
        // Another caller may have fetched (or failed to) while this one waited.
        if let Lookup::Known(answer) = self.lookup(url, kid) {
            return answer;
        }
        let fetched = fetch(client, url).await;
        let mut sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = sets.entry(url.to_owned()).or_default();
        match fetched {
            Ok(keys) => {
                tracing::info!(
                    url,
                    keys = keys.keys.len(),
                    "fetched a bot identity provider's signing keys"
                );
                entry.keys = Some(FetchedKeys {
                    keys: keys.clone(),
                    fetched: Instant::now(),
                });
                entry.failed = None;
                Ok(keys)
            }
            Err(reason) => {
                // Logged with each token refused for it, where the refusal is answered.
                entry.failed = Some((Instant::now(), reason.clone()));
                Err(BotAuthError::Keys {
                    url: url.to_owned(),
                    reason,
                })
            }
        }
    }

    /// What memory says of `url`'s keys.
    fn lookup(&self, url: &str, kid: Option<&str>) -> Lookup {
        let mut sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = sets.entry(url.to_owned()).or_default();
        if let Some(cached) = &entry.keys {
            let age = cached.fetched.elapsed();
            let has_kid = kid.is_none_or(|kid| cached.keys.find(kid).is_some());
            if age < KEYS_TTL && (has_kid || age < REFETCH_MIN_INTERVAL) {
                return Lookup::Known(Ok(cached.keys.clone()));
            }
        }
        if let Some((at, reason)) = &entry.failed
            && at.elapsed() < FAILURE_TTL
        {
            return Lookup::Known(Err(BotAuthError::Keys {
                url: url.to_owned(),
                reason: reason.clone(),
            }));
        }
        Lookup::Fetch(entry.fetching.clone())
    }
}

/// Fetches and parses the key set at `url`; the reason when that fails.
async fn fetch(client: &reqwest::Client, url: &str) -> Result<JwkSet, String> {
    let response = client
        .get(url)
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status().as_u16()));
    }
    let text = response.text().await.map_err(|e| e.to_string())?;
    JwkSet::from_json(&text).map_err(|e| e.to_string())
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
