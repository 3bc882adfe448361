//! Channel tokens (hub → bot) and bot tokens (bot → hub): their claims, signing and validation.

use std::collections::HashSet;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{AuthError, JwkSet, KeyRing};

/// How far before signing a channel token's `nbf` is set, so a bot whose clock lags still accepts it.
pub const NOT_BEFORE_SKEW_SECS: u64 = 60;

/// The clock tolerance both SDKs apply to `exp`/`nbf` (protocol spec §4.3 step 4); a sensible
/// leeway for [`validate_bot_token`].
pub const SDK_CLOCK_TOLERANCE_SECS: u64 = 300;

/// The claims of a token the hub sends to a bot, exactly the set protocol spec §4.3 prescribes for
/// the SDK's channel validation (see the [module docs](crate::auth) for why each is there and why
/// `ver`, `appid` and `azp` are not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelTokenClaims {
    /// The hub's issuer, equal to the bot's `ToBotFromChannelTokenIssuer`.
    pub iss: String,
    /// The bot's app id (`MicrosoftAppId`).
    pub aud: String,
    /// The `serviceUrl` of the activity the token accompanies, byte for byte.
    pub serviceurl: String,
    /// Not before (Unix seconds): signing time minus [`NOT_BEFORE_SKEW_SECS`].
    pub nbf: u64,
    /// Expiry (Unix seconds).
    pub exp: u64,
    /// Issued at (Unix seconds).
    pub iat: u64,
}

impl ChannelTokenClaims {
    /// The claims for a token to the bot `app_id`, for activities carrying `service_url`, signed
    /// at `now_unix` and valid for `lifetime_secs`.
    pub fn new(issuer: &str, app_id: &str, service_url: &str, now_unix: u64, lifetime_secs: u64) -> Self {
        Self {
            iss: issuer.to_owned(),
            aud: app_id.to_owned(),
            serviceurl: service_url.to_owned(),
            nbf: now_unix.saturating_sub(NOT_BEFORE_SKEW_SECS),
            exp: now_unix.saturating_add(lifetime_secs),
            iat: now_unix,
        }
    }
}

/// A token's `aud`: RFC 7519 allows one string or an array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience, as Entra ID and the hub send.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `audience` is (one of) the token's audience(s).
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(one) => one == audience,
            Self::Many(many) => many.iter().any(|a| a == audience),
        }
    }

    fn display(&self) -> String {
        match self {
            Self::One(one) => one.clone(),
            Self::Many(many) => many.join(","),
        }
    }
}

/// The claims of a validated bot → hub token (e.g. an Entra ID access token). Claims not modelled
/// are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotTokenClaims {
    /// Issuer, one of the expected issuers.
    pub iss: String,
    /// Audience, containing the expected audience.
    pub aud: Audience,
    /// Expiry (Unix seconds); required.
    pub exp: u64,
    /// Not before (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Issued at (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// The calling app's id in v1 tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// The calling app's id in v2 tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Entra tenant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<String>,
    /// Token version (`1.0`, `2.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<String>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl BotTokenClaims {
    /// The calling bot's app id: `appid` (v1) or else `azp` (v2). The hub must compare it with the
    /// registered bot's app id (protocol spec §4.2); validation does not know the registration.
    pub fn app_id(&self) -> Option<&str> {
        self.appid.as_deref().or(self.azp.as_deref())
    }
}

/// What the shared checks need from a claims type.
trait RegisteredClaims: DeserializeOwned {
    fn iss(&self) -> &str;
    fn audience_contains(&self, audience: &str) -> bool;
    fn audience_display(&self) -> String;
    fn exp(&self) -> u64;
    fn nbf(&self) -> Option<u64>;
}

impl RegisteredClaims for ChannelTokenClaims {
    fn iss(&self) -> &str {
        &self.iss
    }
    fn audience_contains(&self, audience: &str) -> bool {
        self.aud == audience
    }
    fn audience_display(&self) -> String {
        self.aud.clone()
    }
    fn exp(&self) -> u64 {
        self.exp
    }
    fn nbf(&self) -> Option<u64> {
        Some(self.nbf)
    }
}

impl RegisteredClaims for BotTokenClaims {
    fn iss(&self) -> &str {
        &self.iss
    }
    fn audience_contains(&self, audience: &str) -> bool {
        self.aud.contains(audience)
    }
    fn audience_display(&self) -> String {
        self.aud.display()
    }
    fn exp(&self) -> u64 {
        self.exp
    }
    fn nbf(&self) -> Option<u64> {
        self.nbf
    }
}

impl KeyRing {
    /// Signs a channel token for the bot `app_id` with the current key (see [`ChannelTokenClaims`]
    /// and the [module docs](crate::auth) for the exact header and claims). `service_url` must be
    /// byte-identical to the `serviceUrl` of the activities it accompanies.
    pub fn sign_channel_token(
        &self,
        app_id: &str,
        service_url: &str,
        issuer: &str,
        now_unix: u64,
        lifetime_secs: u64,
    ) -> Result<String, AuthError> {
        let claims = ChannelTokenClaims::new(issuer, app_id, service_url, now_unix, lifetime_secs);
        self.current().sign(&claims)
    }

    /// Validates a channel token as a bot would, against this ring's published keys: RS256, known
    /// `kid`, signature, `exp`/`nbf` with `leeway_secs`, `iss == issuer`, `aud == app_id`. The hub
    /// uses it to check its own tokens (tests, diagnostics).
    pub fn validate_channel_token(
        &self,
        token: &str,
        issuer: &str,
        app_id: &str,
        now_unix: u64,
        leeway_secs: u64,
    ) -> Result<ChannelTokenClaims, AuthError> {
        verify(token, &self.jwks(), &[issuer.to_owned()], app_id, now_unix, leeway_secs)
    }
}

/// Validates a bearer token a bot presented to the hub's Connector API, against the JWKS, issuers
/// and audience configured for that bot (for Entra ID: its tenant's keys, issuers
/// `https://login.microsoftonline.com/<tid>/v2.0` and `https://sts.windows.net/<tid>/`, and the
/// hub's app id URI or client id).
///
/// Checks, in order: the header's `alg` is RS256; its `kid` names a key in `keys`; the signature;
/// `exp` (required) and `nbf` (if present) against `now_unix` with `leeway_secs`
/// ([`SDK_CLOCK_TOLERANCE_SECS`] is the SDKs' choice); `iss` is one of `expected_issuers`; `aud` is
/// (or contains) `expected_audience`.
pub fn validate_bot_token(
    token: &str,
    keys: &JwkSet,
    expected_issuers: &[String],
    expected_audience: &str,
    now_unix: u64,
    leeway_secs: u64,
) -> Result<BotTokenClaims, AuthError> {
    verify(token, keys, expected_issuers, expected_audience, now_unix, leeway_secs)
}

fn verify<C: RegisteredClaims>(
    token: &str,
    keys: &JwkSet,
    issuers: &[String],
    audience: &str,
    now_unix: u64,
    leeway_secs: u64,
) -> Result<C, AuthError> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(AuthError::UnsupportedAlgorithm(format!("{:?}", header.alg)));
    }
    let kid = header
        .kid
        .ok_or_else(|| AuthError::Malformed("the header has no `kid`".to_owned()))?;
    let jwk = keys.find(&kid).ok_or_else(|| AuthError::UnknownKey(kid.clone()))?;
    let key = DecodingKey::from_rsa_components(&jwk.n, &jwk.e).map_err(|e| AuthError::InvalidKeySet(e.to_string()))?;

    // jsonwebtoken checks the signature only; time is a parameter here, and the claim checks below
    // give errors that say which claim failed.
    let mut validation = Validation::new(Algorithm::RS256);
    validation.required_spec_claims = HashSet::new();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims: C = jsonwebtoken::decode(token, &key, &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat => AuthError::InvalidKeySet(e.to_string()),
            _ => AuthError::Malformed(e.to_string()),
        })?
        .claims;

    if now_unix >= claims.exp().saturating_add(leeway_secs) {
        return Err(AuthError::Expired { exp: claims.exp() });
    }
    if let Some(nbf) = claims.nbf()
        && nbf > now_unix.saturating_add(leeway_secs)
    {
        return Err(AuthError::NotYetValid { nbf });
    }
    if !issuers.iter().any(|issuer| issuer == claims.iss()) {
        return Err(AuthError::WrongIssuer(claims.iss().to_owned()));
    }
    if !claims.audience_contains(audience) {
        return Err(AuthError::WrongAudience(claims.audience_display()));
    }
    Ok(claims)
}

/// The app id (`appid`, else `azp`) a bot token *claims*, read without checking anything, so the
/// hub can pick the registration to validate it against. Never trust it before
/// [`validate_bot_token`] succeeded.
pub fn claimed_app_id(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    ["appid", "azp"]
        .iter()
        .find_map(|k| claims.get(*k).and_then(|v| v.as_str()).map(str::to_owned))
}

/// The `kid` in a token's header, read without checking anything (to know whether the keys at
/// hand can be the right ones).
pub fn token_kid(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).ok()?.kid
}
