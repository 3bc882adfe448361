//! What a signed bot fetches to trust the hub's channel tokens: the OpenID metadata document (its
//! `ToBotFromChannelOpenIdMetadataUrl`) and the key set it points to. Both spellings of the
//! metadata path are served: Bot Framework's `/.well-known/openidconfiguration` and the OpenID
//! Connect standard `/.well-known/openid-configuration`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use botframework::auth::{JwkSet, OpenIdMetadata, openid_metadata};

use crate::{ApiError, AppState};

/// Where the key set is served, relative to the hub's public URL.
pub const JWKS_PATH: &str = "/.well-known/keys";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openidconfiguration", get(metadata))
        .route("/.well-known/openid-configuration", get(metadata))
        .route(JWKS_PATH, get(keys))
}

fn no_signer() -> ApiError {
    ApiError::NotFound("this hub signs no channel tokens: no bot has an app id".to_owned())
}

async fn metadata(State(state): State<AppState>) -> Result<Json<OpenIdMetadata>, ApiError> {
    let channel = state.hub.channel();
    let signer = channel.signer.as_ref().ok_or_else(no_signer)?;
    let base = channel.service_url.trim_end_matches('/');
    Ok(Json(openid_metadata(signer.issuer(), format!("{base}{JWKS_PATH}"))))
}

async fn keys(State(state): State<AppState>) -> Result<Json<JwkSet>, ApiError> {
    let signer = state.hub.channel().signer.as_ref().ok_or_else(no_signer)?;
    Ok(Json(signer.jwks()))
}
