//! The OpenID metadata document the hub serves so a bot can find its JWKS.

use serde::{Deserialize, Serialize};

/// An OpenID Connect discovery document, as a bot's `ToBotFromChannelOpenIdMetadataUrl` returns it.
///
/// The JS SDK reads only `jwks_uri` (protocol spec §4.3); the other fields make the document a
/// well-formed discovery document for other consumers and tell them which algorithm to expect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenIdMetadata {
    /// The issuer the hub puts in `iss`; bots configure the same string as
    /// `ToBotFromChannelTokenIssuer`.
    pub issuer: String,
    /// Where the JWKS ([`crate::auth::KeyRing::jwks`]) is served.
    pub jwks_uri: String,
    /// Algorithms of the tokens the hub signs: `["RS256"]`.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// How clients authenticate at a token endpoint: `["private_key_jwt"]`, as Bot Framework's own
    /// metadata says.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Algorithms accepted for that authentication: `["RS256"]`.
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
}

/// The hub's metadata document for `issuer`, pointing at the JWKS served at `jwks_uri`.
pub fn openid_metadata(issuer: impl Into<String>, jwks_uri: impl Into<String>) -> OpenIdMetadata {
    OpenIdMetadata {
        issuer: issuer.into(),
        jwks_uri: jwks_uri.into(),
        id_token_signing_alg_values_supported: vec!["RS256".to_owned()],
        token_endpoint_auth_methods_supported: vec!["private_key_jwt".to_owned()],
        token_endpoint_auth_signing_alg_values_supported: vec!["RS256".to_owned()],
    }
}
