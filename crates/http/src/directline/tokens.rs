//! Direct Line tokens: what a site's backend gets for one customer with the channel's secret,
//! and what the customer's client then uses for everything else.
//!
//! A token is a JWT (HS256) signed with the secret of the chat channel that issued it, so it
//! survives a restart of the hub, and changing a channel's secret revokes every token it issued.
//! It is scoped to one conversation (`conv`) and one user (`user` — Web Chat reads this claim and
//! uses it as the user id), expires (`exp`), and may carry the pre-chat context the backend gave
//! (`ctx`, `name`, `email`), which is applied when the conversation starts.

use botframework::directline::Conversation;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `iss` of every Direct Line token.
const ISSUER: &str = "switchboard/directline";

/// One chat channel (a website's widget, an app): its secret and the workstream it feeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectLineChannel {
    /// The channel's name (`[[directline]] name`).
    pub name: String,
    /// The secret a site's backend presents to make tokens; never sent to browsers.
    pub secret: String,
    /// The workstream its conversations enter.
    pub workstream: String,
    /// How long a token is valid, in seconds.
    pub token_lifetime_secs: u64,
}

/// The claims of a Direct Line token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenClaims {
    pub iss: String,
    /// The issuing channel's name.
    pub ch: String,
    /// The conversation the token is for.
    pub conv: String,
    /// The customer's user id.
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Pre-chat context variables, checked when the token was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Map<String, Value>>,
    /// Made by `POST /chat/token` for an anonymous page, not by a site's backend: starting its
    /// conversation counts against the browsers' per-address limit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub page: bool,
    pub iat: u64,
    pub exp: u64,
}

/// Why a token was refused (every case is a 403 for Direct Line clients).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired; get a new one (or refresh it before it expires)")]
    Expired,
    #[error("the token is not valid: {0}")]
    Invalid(String),
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl TokenClaims {
    /// Claims for `user` in conversation `conv` of `channel`, valid from `now`.
    pub fn new(channel: &DirectLineChannel, conv: String, user: String, now: u64) -> Self {
        Self {
            iss: ISSUER.to_owned(),
            ch: channel.name.clone(),
            conv,
            user,
            name: None,
            email: None,
            ctx: None,
            page: false,
            iat: now,
            exp: now + channel.token_lifetime_secs,
        }
    }

    /// Claims for a new conversation of `channel` (a fresh id), for the user `user` — a fresh
    /// `dl_…` id when it is absent or empty (`dl_` ids are the ones that come from the token) —
    /// valid from `now`.
    pub fn for_new_conversation(channel: &DirectLineChannel, user: Option<String>, now: u64) -> Self {
        let user = user
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| format!("dl_{}", uuid::Uuid::new_v4().simple()));
        let conv = domain::ConversationId(uuid::Uuid::now_v7()).to_string();
        Self::new(channel, conv, user, now)
    }

    /// The same claims, valid for a full lifetime from `now`.
    pub fn renewed(&self, channel: &DirectLineChannel, now: u64) -> Self {
        Self {
            iat: now,
            exp: now + channel.token_lifetime_secs,
            ..self.clone()
        }
    }

    /// Seconds until expiry.
    pub fn expires_in(&self, now: u64) -> u32 {
        u32::try_from(self.exp.saturating_sub(now)).unwrap_or(u32::MAX)
    }

    /// The signed token.
    pub fn sign(&self, channel: &DirectLineChannel) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            self,
            &EncodingKey::from_secret(channel.secret.as_bytes()),
        )
        .expect("HS256 signing of serializable claims cannot fail")
    }
}

/// What `tokens/generate` (and `tokens/refresh`) answer for `claims`: the signed token, its
/// conversation and lifetime, and no `streamUrl` (the conversation may not have started). The
/// hub's own chat page gets its tokens here too.
pub(crate) fn generated(channel: &DirectLineChannel, claims: &TokenClaims, now: u64) -> Conversation {
    Conversation {
        conversation_id: claims.conv.clone(),
        token: Some(claims.sign(channel)),
        expires_in: Some(claims.expires_in(now)),
        stream_url: None,
        reference_grammar_id: None,
        e_tag: None,
    }
}

/// Checks `token` against the channels' secrets: which channel signed it, signature, issuer and
/// expiry (no leeway).
pub fn verify(token: &str, channels: &[DirectLineChannel], now: u64) -> Result<(TokenClaims, usize), TokenError> {
    let claimed =
        claimed_channel(token).ok_or_else(|| TokenError::Invalid("it is not a Direct Line token".to_owned()))?;
    let index = channels
        .iter()
        .position(|c| c.name == claimed)
        .ok_or_else(|| TokenError::Invalid(format!("no chat channel `{claimed}` is configured")))?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<TokenClaims>(
        token,
        &DecodingKey::from_secret(channels[index].secret.as_bytes()),
        &validation,
    )
    .map_err(|e| TokenError::Invalid(e.to_string()))?
    .claims;
    if now >= claims.exp {
        return Err(TokenError::Expired);
    }
    Ok((claims, index))
}

/// The `ch` claim, read without checking anything, to pick the key.
fn claimed_channel(token: &str) -> Option<String> {
    jsonwebtoken::dangerous::insecure_decode_claims::<Value>(token)
        .ok()?
        .get("ch")?
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(secret: &str) -> DirectLineChannel {
        DirectLineChannel {
            name: "web".into(),
            secret: secret.into(),
            workstream: "Chat".into(),
            token_lifetime_secs: 1800,
        }
    }

    #[test]
    fn a_token_verifies_until_it_expires_and_only_with_its_channels_secret() {
        let web = channel("s3cret-s3cret-s3cret");
        let claims = TokenClaims::new(&web, "c1".into(), "dl_u".into(), 1000);
        let token = claims.sign(&web);
        let (got, index) = verify(&token, std::slice::from_ref(&web), 1001).unwrap();
        assert_eq!((got.conv.as_str(), got.user.as_str(), index), ("c1", "dl_u", 0));
        assert_eq!(
            verify(&token, std::slice::from_ref(&web), 2800),
            Err(TokenError::Expired)
        );
        let rotated = channel("another-secret-entirely");
        assert!(matches!(verify(&token, &[rotated], 1001), Err(TokenError::Invalid(_))));
        assert!(matches!(
            verify("not a token", &[web], 1001),
            Err(TokenError::Invalid(_))
        ));
    }
}
