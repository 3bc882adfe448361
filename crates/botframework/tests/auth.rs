//! Channel JWTs: the hub's signing keys, JWKS and OpenID metadata, channel tokens shaped for the
//! SDK's channel validation, and validation of bots' bearer tokens.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use switchboard_botframework::auth::{
    AuthError, JwkSet, KeyRing, SDK_CLOCK_TOLERANCE_SECS, SigningKey, openid_metadata, validate_bot_token,
};

const ISSUER: &str = "https://hub.example/botframework";
const APP_ID: &str = "5e1c2c3a-bot-app-id";
const SERVICE_URL: &str = "https://hub.example/bf/";
const NOW: u64 = 1_736_071_200;
const HOUR: u64 = 3600;

/// Two keys for the whole file: RSA generation takes seconds in debug builds.
fn keys() -> &'static (SigningKey, SigningKey) {
    static KEYS: OnceLock<(SigningKey, SigningKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        (
            SigningKey::generate("hub-2026-01").unwrap(),
            SigningKey::generate("hub-2026-02").unwrap(),
        )
    })
}

fn old_key() -> SigningKey {
    keys().0.clone()
}

fn new_key() -> SigningKey {
    keys().1.clone()
}

fn decode_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn validate(ring: &KeyRing, token: &str, now: u64) -> Result<(), AuthError> {
    ring.validate_channel_token(token, ISSUER, APP_ID, now, SDK_CLOCK_TOLERANCE_SECS)
        .map(drop)
}

#[test]
fn a_jwk_publishes_the_public_rsa_key_in_base64url_without_padding() {
    let jwk = serde_json::to_value(old_key().jwk(&[])).unwrap();
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["alg"], "RS256");
    assert_eq!(jwk["kid"], "hub-2026-01");
    assert_eq!(jwk["e"], "AQAB");
    let n = jwk["n"].as_str().unwrap();
    assert!(!n.contains('=') && !n.contains('+') && !n.contains('/'));
    assert_eq!(URL_SAFE_NO_PAD.decode(n).unwrap().len(), 256, "a 2048-bit modulus");
    assert!(
        jwk.get("endorsements").is_none(),
        "no endorsements means no check by the SDK"
    );
    assert!(jwk.get("d").is_none(), "nothing private is published");
}

#[test]
fn a_jwk_carries_the_endorsements_it_is_given() {
    let jwk = serde_json::to_value(old_key().jwk(&["directline".to_owned(), "webchat".to_owned()])).unwrap();
    assert_eq!(jwk["endorsements"], json!(["directline", "webchat"]));
}

#[test]
fn a_signing_key_survives_a_round_trip_through_pkcs8_pem() {
    let pem = old_key().to_pkcs8_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let loaded = SigningKey::from_pkcs8_pem("hub-2026-01", &pem).unwrap();
    assert_eq!(loaded.jwk(&[]), old_key().jwk(&[]));

    let token = KeyRing::new(loaded)
        .sign_channel_token(APP_ID, SERVICE_URL, ISSUER, NOW, HOUR)
        .unwrap();
    validate(&KeyRing::new(old_key()), &token, NOW).unwrap();
}

#[test]
fn a_signing_key_refuses_pem_that_is_not_a_private_key() {
    let err = SigningKey::from_pkcs8_pem("k", "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n");
    assert!(matches!(err, Err(AuthError::InvalidSigningKey(_))));
}

#[test]
fn a_signing_key_does_not_show_its_private_half_in_debug_output() {
    let debug = format!("{:?}", old_key());
    assert!(debug.contains("hub-2026-01"));
    assert!(!debug.contains("private"));
}

#[test]
fn the_jwks_lists_the_current_key_first_then_keys_still_published_after_rotation() {
    let mut ring = KeyRing::new(old_key()).with_endorsements(vec!["directline".to_owned()]);
    ring.rotate(new_key()).unwrap();
    let jwks = serde_json::to_value(ring.jwks()).unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, ["hub-2026-02", "hub-2026-01"]);
    assert_eq!(jwks["keys"][1]["endorsements"], json!(["directline"]));

    assert!(ring.retire("hub-2026-01"));
    assert_eq!(ring.published_kids(), ["hub-2026-02"]);
}

#[test]
fn the_current_key_cannot_be_retired_and_a_published_kid_cannot_be_reused() {
    let mut ring = KeyRing::new(old_key());
    assert!(!ring.retire("hub-2026-01"));
    assert_eq!(ring.published_kids(), ["hub-2026-01"]);
    assert!(matches!(ring.rotate(old_key()), Err(AuthError::InvalidSigningKey(_))));
}

#[test]
fn the_openid_metadata_points_at_the_jwks_and_names_rs256() {
    let metadata = serde_json::to_value(openid_metadata(ISSUER, "https://hub.example/.well-known/keys")).unwrap();
    assert_eq!(
        metadata,
        json!({
            "issuer": ISSUER,
            "jwks_uri": "https://hub.example/.well-known/keys",
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        })
    );
}

#[test]
fn a_channel_token_has_exactly_the_claims_channel_validation_needs_and_is_not_skill_shaped() {
    let token = KeyRing::new(old_key())
        .sign_channel_token(APP_ID, SERVICE_URL, ISSUER, NOW, HOUR)
        .unwrap();
    assert_eq!(
        decode_part(&token, 0),
        json!({"typ": "JWT", "alg": "RS256", "kid": "hub-2026-01"})
    );
    assert_eq!(
        decode_part(&token, 1),
        json!({
            "iss": ISSUER,
            "aud": APP_ID,
            "serviceurl": SERVICE_URL,
            "nbf": NOW - 60,
            "exp": NOW + HOUR,
            "iat": NOW,
        })
    );
}

#[test]
fn a_signed_channel_token_validates_and_returns_its_claims() {
    let ring = KeyRing::new(old_key());
    let token = ring.sign_channel_token(APP_ID, SERVICE_URL, ISSUER, NOW, HOUR).unwrap();
    let claims = ring
        .validate_channel_token(&token, ISSUER, APP_ID, NOW + 10, 0)
        .unwrap();
    assert_eq!(claims.serviceurl, SERVICE_URL);
    assert_eq!(claims.aud, APP_ID);
}

#[test]
fn a_tampered_channel_token_has_a_bad_signature() {
    let ring = KeyRing::new(old_key());
    let token = ring.sign_channel_token(APP_ID, SERVICE_URL, ISSUER, NOW, HOUR).unwrap();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims = decode_part(&token, 1);
    claims["aud"] = json!("another-bot");
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    assert_eq!(validate(&ring, &parts.join("."), NOW), Err(AuthError::BadSignature));
}

#[test]
fn a_channel_token_expires_after_its_lifetime_plus_the_leeway() {
    let ring = KeyRing::new(old_key());
    let token = ring.sign_channel_token(APP_ID, SERVICE_URL, ISSUER, NOW, HOUR).unwrap();
    validate(&ring, &token, NOW + HOUR + SDK_CLOCK_TOLERANCE_SECS - 1).unwrap();
    assert_eq!(
        validate(&ring, &token, NOW + HOUR + SDK_CLOCK_TOLERANCE_SECS),
        Err(AuthError::Expired { exp: NOW + HOUR })
    );
}

#[test]
fn a_channel_token_from_the_future_is_not_yet_valid() {
    let ring = KeyRing::new(old_key());
    let token = ring.sign_channel_token(APP_ID, SERVICE_URL, ISSUER, NOW, HOUR).unwrap();
    assert_eq!(
        ring.validate_channel_token(&token, ISSUER, APP_ID, NOW - 61, 0),
        Err(AuthError::NotYetValid { nbf: NOW - 60 })
    );
}

#[test]
fn a_channel_token_for_another_bot_or_issuer_is_refused() {
    let ring = KeyRing::new(old_key());
    let token = ring.sign_channel_token(APP_ID, SERVICE_URL, ISSUER, NOW, HOUR).unwrap();
    assert_eq!(
        ring.validate_channel_token(&token, ISSUER, "other-bot", NOW, 0),
        Err(AuthError::WrongAudience(APP_ID.to_owned()))
    );
    assert_eq!(
        ring.validate_channel_token(&token, "https://api.botframework.com", APP_ID, NOW, 0),
        Err(AuthError::WrongIssuer(ISSUER.to_owned()))
    );
}

#[test]
fn during_rotation_a_token_signed_by_the_previous_key_still_validates() {
    let mut ring = KeyRing::new(old_key());
    let before = ring.sign_channel_token(APP_ID, SERVICE_URL, ISSUER, NOW, HOUR).unwrap();
    ring.rotate(new_key()).unwrap();
    let after = ring.sign_channel_token(APP_ID, SERVICE_URL, ISSUER, NOW, HOUR).unwrap();
    assert_eq!(decode_part(&after, 0)["kid"], "hub-2026-02");
    validate(&ring, &before, NOW).unwrap();
    validate(&ring, &after, NOW).unwrap();
}

#[test]
fn a_token_signed_by_a_retired_key_names_an_unknown_key() {
    let mut ring = KeyRing::new(old_key());
    let before = ring.sign_channel_token(APP_ID, SERVICE_URL, ISSUER, NOW, HOUR).unwrap();
    ring.rotate(new_key()).unwrap();
    assert!(ring.retire("hub-2026-01"));
    assert_eq!(
        validate(&ring, &before, NOW),
        Err(AuthError::UnknownKey("hub-2026-01".to_owned()))
    );
}

#[test]
fn a_token_signed_by_another_key_under_a_published_kid_has_a_bad_signature() {
    let impostor = SigningKey::from_pkcs8_pem("hub-2026-01", &new_key().to_pkcs8_pem().unwrap()).unwrap();
    let token = KeyRing::new(impostor)
        .sign_channel_token(APP_ID, SERVICE_URL, ISSUER, NOW, HOUR)
        .unwrap();
    assert_eq!(
        validate(&KeyRing::new(old_key()), &token, NOW),
        Err(AuthError::BadSignature)
    );
}

// ---- bot → hub ----

const ENTRA_ISSUER: &str = "https://login.microsoftonline.com/tenant-1/v2.0";
const HUB_AUDIENCE: &str = "api://hub-prod";

/// An Entra-like JWKS: an EC key the SDK would ignore, then the bot's IdP key (played by `old_key`).
fn entra_jwks() -> JwkSet {
    let mut rsa = serde_json::to_value(old_key().jwk(&[])).unwrap();
    rsa["x5t"] = json!("thumbprint");
    rsa["issuer"] = json!(ENTRA_ISSUER);
    let text = json!({"keys": [{"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": "a", "y": "b"}, rsa]});
    JwkSet::from_json(&text.to_string()).unwrap()
}

fn entra_token(claims: Value) -> String {
    old_key().sign(&claims).unwrap()
}

fn entra_claims() -> Value {
    json!({
        "iss": ENTRA_ISSUER, "aud": HUB_AUDIENCE, "azp": "bot-app-id", "tid": "tenant-1", "ver": "2.0",
        "iat": NOW, "nbf": NOW, "exp": NOW + HOUR, "roles": ["Connector.Send"],
    })
}

fn validate_entra(token: &str, now: u64) -> Result<switchboard_botframework::auth::BotTokenClaims, AuthError> {
    let issuers = [ENTRA_ISSUER.to_owned(), "https://sts.windows.net/tenant-1/".to_owned()];
    validate_bot_token(
        token,
        &entra_jwks(),
        &issuers,
        HUB_AUDIENCE,
        now,
        SDK_CLOCK_TOLERANCE_SECS,
    )
}

#[test]
fn a_jwks_keeps_only_rsa_keys() {
    let jwks = entra_jwks();
    assert_eq!(jwks.keys.len(), 1);
    assert!(jwks.find("hub-2026-01").is_some());
    assert!(jwks.find("ec-1").is_none());
}

#[test]
fn a_jwks_without_a_keys_array_is_invalid() {
    assert!(matches!(
        JwkSet::from_json(r#"{"jwks_uri":"x"}"#),
        Err(AuthError::InvalidKeySet(_))
    ));
}

#[test]
fn an_entra_token_for_the_hub_validates_and_names_the_calling_bot() {
    let claims = validate_entra(&entra_token(entra_claims()), NOW + 60).unwrap();
    assert_eq!(claims.app_id(), Some("bot-app-id"));
    assert_eq!(claims.tid.as_deref(), Some("tenant-1"));
    assert_eq!(claims.extra["roles"], json!(["Connector.Send"]));
}

#[test]
fn a_v1_token_names_the_bot_in_appid_and_may_carry_an_audience_array() {
    let mut claims = entra_claims();
    claims["iss"] = json!("https://sts.windows.net/tenant-1/");
    claims["aud"] = json!(["https://other", HUB_AUDIENCE]);
    claims["appid"] = json!("bot-v1");
    let claims = validate_entra(&entra_token(claims), NOW).unwrap();
    assert_eq!(claims.app_id(), Some("bot-v1"));
}

#[test]
fn a_bot_token_from_an_untrusted_issuer_is_refused() {
    let mut claims = entra_claims();
    claims["iss"] = json!("https://login.microsoftonline.com/evil/v2.0");
    assert_eq!(
        validate_entra(&entra_token(claims), NOW),
        Err(AuthError::WrongIssuer(
            "https://login.microsoftonline.com/evil/v2.0".to_owned()
        ))
    );
}

#[test]
fn a_bot_token_for_another_audience_is_refused() {
    let mut claims = entra_claims();
    claims["aud"] = json!("https://api.botframework.com");
    assert_eq!(
        validate_entra(&entra_token(claims), NOW),
        Err(AuthError::WrongAudience("https://api.botframework.com".to_owned()))
    );
}

#[test]
fn a_bot_token_is_checked_against_exp_and_nbf_with_the_leeway() {
    let token = entra_token(entra_claims());
    validate_entra(&token, NOW - SDK_CLOCK_TOLERANCE_SECS).unwrap();
    assert_eq!(
        validate_entra(&token, NOW - SDK_CLOCK_TOLERANCE_SECS - 1),
        Err(AuthError::NotYetValid { nbf: NOW })
    );
    assert_eq!(
        validate_entra(&token, NOW + HOUR + SDK_CLOCK_TOLERANCE_SECS),
        Err(AuthError::Expired { exp: NOW + HOUR })
    );
}

#[test]
fn a_bot_token_without_exp_is_malformed() {
    let mut claims = entra_claims();
    claims.as_object_mut().unwrap().remove("exp");
    assert!(matches!(
        validate_entra(&entra_token(claims), NOW),
        Err(AuthError::Malformed(_))
    ));
}

#[test]
fn a_bot_token_signed_with_a_key_not_in_the_jwks_names_an_unknown_key() {
    let token = new_key().sign(&entra_claims()).unwrap();
    assert_eq!(
        validate_entra(&token, NOW),
        Err(AuthError::UnknownKey("hub-2026-02".to_owned()))
    );
}

#[test]
fn a_bot_token_with_another_algorithm_is_refused() {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT","kid":"hub-2026-01"}"#);
    let payload = URL_SAFE_NO_PAD.encode(entra_claims().to_string());
    let token = format!("{header}.{payload}.c2lnbmF0dXJl");
    assert_eq!(
        validate_entra(&token, NOW),
        Err(AuthError::UnsupportedAlgorithm("HS256".to_owned()))
    );
}

#[test]
fn a_bot_token_that_is_not_a_jwt_is_malformed() {
    assert!(matches!(validate_entra("not-a-jwt", NOW), Err(AuthError::Malformed(_))));
    assert!(matches!(validate_entra("", NOW), Err(AuthError::Malformed(_))));
}
