//! The hub's RSA signing keys, their public JWKs, and the ring that rotates them without downtime.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;
use rsa::{RsaPrivateKey, rand_core::OsRng};
use serde::{Deserialize, Serialize};

use super::AuthError;

/// Size of the keys [`SigningKey::generate`] makes, and the smallest [`SigningKey::from_pkcs8_pem`]
/// accepts.
pub const RSA_BITS: usize = 2048;

/// One RSA private key the hub signs channel tokens with, named by its `kid`.
///
/// `Debug` shows only the `kid`, so a key never ends up in a log.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    private: RsaPrivateKey,
    /// The same key in the form jsonwebtoken signs with, made once rather than per token.
    encoding: EncodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh 2048-bit RSA key from the operating system's random source. Slow in debug builds
    /// (seconds), so the hub makes one at rotation time, not per request.
    pub fn generate(kid: impl Into<String>) -> Result<Self, AuthError> {
        let private =
            RsaPrivateKey::new(&mut OsRng, RSA_BITS).map_err(|e| AuthError::InvalidSigningKey(e.to_string()))?;
        Self::from_private(kid.into(), private)
    }

    /// A key persisted with [`SigningKey::to_pkcs8_pem`] (`-----BEGIN PRIVATE KEY-----`), under
    /// `kid`. Keys shorter than 2048 bits are refused.
    pub fn from_pkcs8_pem(kid: impl Into<String>, pem: &str) -> Result<Self, AuthError> {
        let private = RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| AuthError::InvalidSigningKey(e.to_string()))?;
        if private.size() * 8 < RSA_BITS {
            return Err(AuthError::InvalidSigningKey(format!(
                "the key has {} bits; at least {RSA_BITS} are required",
                private.size() * 8
            )));
        }
        Self::from_private(kid.into(), private)
    }

    fn from_private(kid: String, private: RsaPrivateKey) -> Result<Self, AuthError> {
        if kid.is_empty() {
            return Err(AuthError::InvalidSigningKey("the kid is empty".to_owned()));
        }
        let der = private
            .to_pkcs1_der()
            .map_err(|e| AuthError::InvalidSigningKey(e.to_string()))?;
        let encoding = EncodingKey::from_rsa_der(der.as_bytes());
        Ok(Self { kid, private, encoding })
    }

    /// The private key as unencrypted PKCS#8 PEM, for the hub to persist (as a secret).
    pub fn to_pkcs8_pem(&self) -> Result<String, AuthError> {
        let pem = self
            .private
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| AuthError::InvalidSigningKey(e.to_string()))?;
        Ok(pem.as_str().to_owned())
    }

    /// The key's id, sent as the JWT header's `kid` and the JWK's `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half as a JWK. `endorsements` is published as is (omitted when empty); when
    /// non-empty the SDK requires it to contain the activity's `channelId` (protocol spec §4.3
    /// step 5).
    pub fn jwk(&self, endorsements: &[String]) -> Jwk {
        Jwk {
            kty: "RSA".to_owned(),
            use_: Some("sig".to_owned()),
            alg: Some("RS256".to_owned()),
            kid: self.kid.clone(),
            n: URL_SAFE_NO_PAD.encode(self.private.n().to_bytes_be()),
            e: URL_SAFE_NO_PAD.encode(self.private.e().to_bytes_be()),
            endorsements: endorsements.to_vec(),
        }
    }

    /// Signs `claims` as an RS256 JWT with header `{"typ":"JWT","alg":"RS256","kid":<kid>}`. The
    /// building block of [`KeyRing::sign_channel_token`]; prefer that for channel tokens.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, AuthError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| AuthError::Signing(e.to_string()))
    }
}

/// A public RSA key as published in (or read from) a JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type; only `RSA` keys are kept when parsing, as the SDK ignores the others.
    pub kty: String,
    /// Intended use, `sig`.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Algorithm, `RS256` for the hub's keys; informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Key id, matched against the JWT header's `kid`.
    pub kid: String,
    /// Modulus, big-endian, base64url without padding.
    pub n: String,
    /// Public exponent, big-endian, base64url without padding (`AQAB` for 65537).
    pub e: String,
    /// Channel ids this key may sign for; empty means unrestricted and is not serialized.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endorsements: Vec<String>,
}

/// A JWKS document, `{"keys":[…]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JwkSet {
    /// The keys, each chosen by its `kid`.
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// Parses a JWKS document such as Entra ID's `discovery/v2.0/keys`. Keys that are not RSA or lack
    /// `kid`, `n` or `e` are skipped, like the SDK does; a document without a `keys` array is an error.
    pub fn from_json(text: &str) -> Result<Self, AuthError> {
        #[derive(Deserialize)]
        struct Raw {
            keys: Vec<serde_json::Value>,
        }
        let raw: Raw = serde_json::from_str(text).map_err(|e| AuthError::InvalidKeySet(e.to_string()))?;
        let keys = raw
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
            .filter(|jwk| jwk.kty == "RSA")
            .collect();
        Ok(Self { keys })
    }

    /// The key named `kid`, if published.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|jwk| jwk.kid == kid)
    }
}

/// The hub's signing keys: one current key that signs, plus rotated-out keys still published so
/// tokens they signed (and bots' cached JWKS) stay valid until the operator retires them.
///
/// Rotation without downtime: publish-then-switch is not needed, because a bot that meets an
/// unknown `kid` refetches the JWKS (protocol spec §4.3 step 3). So: [`KeyRing::rotate`] to a new
/// key, wait at least the longest token lifetime, then [`KeyRing::retire`] the old one.
#[derive(Debug, Clone)]
pub struct KeyRing {
    current: SigningKey,
    /// Newest first; a `Vec` because there are rarely more than one or two.
    previous: Vec<SigningKey>,
    /// Published on every key; see [`SigningKey::jwk`].
    endorsements: Vec<String>,
}

impl KeyRing {
    /// A ring with `current` as its only key and no endorsements.
    pub fn new(current: SigningKey) -> Self {
        Self {
            current,
            previous: Vec::new(),
            endorsements: Vec::new(),
        }
    }

    /// Publishes `endorsements` (channel ids) on every key. Leave empty unless every activity the
    /// hub sends to a bot has one of these as its `channelId`, or the SDK refuses the token.
    pub fn with_endorsements(mut self, endorsements: Vec<String>) -> Self {
        self.endorsements = endorsements;
        self
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    /// The ids of all published keys, current first.
    pub fn published_kids(&self) -> Vec<&str> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(SigningKey::kid)
            .collect()
    }

    /// Makes `new_key` current; the old current key stays published until retired. Refuses a key
    /// whose `kid` is already published, since keys are told apart by `kid` alone.
    pub fn rotate(&mut self, new_key: SigningKey) -> Result<(), AuthError> {
        if self.published_kids().contains(&new_key.kid()) {
            return Err(AuthError::InvalidSigningKey(format!(
                "kid `{}` is already published",
                new_key.kid()
            )));
        }
        let old = std::mem::replace(&mut self.current, new_key);
        self.previous.insert(0, old);
        Ok(())
    }

    /// Stops publishing the previous key `kid`; tokens it signed are refused from then on. Returns
    /// whether such a key was published. The current key cannot be retired (rotate first).
    pub fn retire(&mut self, kid: &str) -> bool {
        let before = self.previous.len();
        self.previous.retain(|key| key.kid() != kid);
        self.previous.len() != before
    }

    /// The JWKS the hub serves at its `jwks_uri`: every published key, current first.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: std::iter::once(&self.current)
                .chain(&self.previous)
                .map(|key| key.jwk(&self.endorsements))
                .collect(),
        }
    }
}
