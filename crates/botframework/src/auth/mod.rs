//! Channel JWTs in both directions: the tokens the hub signs for bots and the tokens bots present to
//! the hub, plus the OpenID metadata and JWKS a bot fetches to trust the hub.
//!
//! # Channel → bot (the hub signs)
//!
//! An unmodified Bot Framework SDK bot configured as in protocol spec §4.4
//! (`ToBotFromChannelTokenIssuer` = the hub's issuer, `ToBotFromChannelOpenIdMetadataUrl` = the hub's
//! [`OpenIdMetadata`] URL) runs the SDK's *channel* validation on the hub's token (§4.3). The token
//! [`KeyRing::sign_channel_token`] produces is therefore:
//!
//! * header `{"alg":"RS256","typ":"JWT","kid":<current key>}` — the SDK picks the key from the JWKS by
//!   `kid` and accepts RS256/384/512 only (§4.3 step 3–4);
//! * `iss` — the hub's issuer string, which the SDK compares for equality with
//!   `ToBotFromChannelTokenIssuer`, twice (§4.3 steps 2 and 6);
//! * `aud` — the bot's app id, which must equal the bot's `MicrosoftAppId` (§4.3 step 7);
//! * `serviceurl` — lower-case claim name, exactly equal to the activity's `serviceUrl`, trailing
//!   slash and case included (§4.3 step 8; the Python SDK rejects a token without it);
//! * `nbf` (one minute before signing, for bots whose clock lags), `iat` and `exp` — `exp` is
//!   enforced by the SDK with a 300 s clock tolerance, `nbf`/`iat` are checked when present (§4.3
//!   step 4).
//!
//! Nothing else. In particular there is no `ver`, `appid` or `azp`: the SDK classifies a token
//! carrying `ver` and an `appid`/`azp` different from `aud` as a *skill* token and never reaches
//! channel validation (§4.3, classification step 2). The issuer should not be one of the AAD issuers
//! either, or the token is taken for an emulator token (step 3); that is the hub operator's choice of
//! issuer string, which this module does not second-guess.
//!
//! The JWKS ([`KeyRing::jwks`]) lists the current key and every rotated-out key not yet retired, so
//! a bot that cached the JWKS keeps accepting tokens across a rotation (the SDK caches keys 24 h and
//! refreshes on an unknown `kid` at most hourly, §4.3 step 3). A JWK may carry `endorsements`; when
//! that list is non-empty the SDK requires it to contain the activity's `channelId` (§4.3 step 5), so
//! it is a parameter of the ring, empty unless the hub knows every channel id it will send.
//!
//! # Bot → hub (the hub validates)
//!
//! A bot calling the hub's Connector API presents a bearer token from its identity provider, e.g.
//! Microsoft Entra ID (§4.2). [`validate_bot_token`] checks it against the JWKS, issuers and
//! audience configured for that bot: RS256 only, key chosen by `kid`, `iss` in the allowed list,
//! `aud` equal to the hub's audience, `exp`/`nbf` with a leeway (the SDKs use 300 s). Which bot it
//! is (`appid`/`azp`) is left to the caller, who knows the registration.
//!
//! Everything here is a pure function of its inputs — the current time is a parameter — so the hub
//! owns fetching, caching and clocks.

mod error;
mod keys;
mod metadata;
mod token;

pub use error::AuthError;
pub use keys::{Jwk, JwkSet, KeyRing, RSA_BITS, SigningKey};
pub use metadata::{OpenIdMetadata, openid_metadata};
pub use token::{
    Audience, BotTokenClaims, ChannelTokenClaims, NOT_BEFORE_SKEW_SECS, SDK_CLOCK_TOLERANCE_SECS, claimed_app_id,
    token_kid, validate_bot_token,
};
