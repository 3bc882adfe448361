//! The one error type of [`crate::auth`]: why a key could not be used or a token was refused.

/// Why a key could not be loaded, a token could not be signed, or a token was refused.
///
/// Every refusal of a token maps to HTTP 401 at the hub; the variants exist so the log says why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// The token is not a well-formed JWT, or a required claim is missing or has the wrong type.
    #[error("the token is malformed: {0}")]
    Malformed(String),
    /// No published key has the token's `kid` (it was never published or has been retired).
    #[error("no key with kid `{0}` is trusted")]
    UnknownKey(String),
    /// The signature does not match the token and the key named by its `kid`.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `exp`, plus the leeway, is in the past.
    #[error("the token expired at {exp}")]
    Expired {
        /// The token's `exp` (Unix seconds).
        exp: u64,
    },
    /// `nbf`, minus the leeway, is in the future.
    #[error("the token is not valid before {nbf}")]
    NotYetValid {
        /// The token's `nbf` (Unix seconds).
        nbf: u64,
    },
    /// `iss` is not one of the expected issuers.
    #[error("the token's issuer `{0}` is not trusted")]
    WrongIssuer(String),
    /// `aud` is not the expected audience.
    #[error("the token's audience `{0}` is not the expected one")]
    WrongAudience(String),
    /// The header's `alg` is a known JWS algorithm other than RS256 (an unknown one, such as
    /// `none`, makes the token [`AuthError::Malformed`]).
    #[error("the token's algorithm `{0}` is not supported; only RS256 is")]
    UnsupportedAlgorithm(String),
    /// A JWKS document or one of its RSA keys could not be parsed.
    #[error("the key set is invalid: {0}")]
    InvalidKeySet(String),
    /// A private key could not be generated, encoded or decoded.
    #[error("the signing key is invalid: {0}")]
    InvalidSigningKey(String),
    /// Signing failed (a broken key; not expected with keys made by [`crate::auth::SigningKey`]).
    #[error("signing failed: {0}")]
    Signing(String),
}
