//! The Bot Framework Connector API v3 that bots call back on (`serviceUrl`): sending to a
//! conversation and replying to an activity here; updating and deleting activities, the member
//! queries, attachments and the operations the hub refuses in `ops`.
//!
//! This is a protocol surface with its own error vocabulary: the SDKs' generated clients accept
//! only 2xx with a `ResourceResponse`, and read failures as `{"error":{"code","message"}}` with the
//! Connector's PascalCase codes (`BadArgument`, `ConversationNotFound`, …). So errors here are
//! [`ConnectorError`], mapped to status and code in its one `match`, rather than [`crate::ApiError`].
//!
//! Authentication ([`caller`], through the [`Bot`] extractor every bot operation takes): a
//! `Bearer` token is checked against the configuration of the signed bot it claims to come from
//! (`Hub::authenticate_bot`), and a token that does not validate is 401 with a generic message:
//! why goes to the log only, since it may name the identity provider's URL or the app ids the
//! hub knows. A call without an `Authorization` header is an anonymous bot's (accepted only for
//! bots configured without an app id): anyone who knows a conversation id could make one, so it
//! is taken only from the networks in `[security] anonymous_bot_networks` (default loopback),
//! the client's address resolved behind the trusted proxies ([`ClientAddr`]); from anywhere else
//! it is 401, saying to configure an app id or add the network.
//!
//! The attachment reads are the exception ([`Reader`]): the `contentUrl` a bot or the hub puts
//! in a message is fetched by the customer's and the agents' browsers, from anywhere and without
//! credentials, so they need only the attachment's random id; a token that is presented must
//! still be valid.

use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use botframework::connector::{ErrorCode, ErrorResponse, ResourceResponse};
use botframework::{ActivityError, validate};
use domain::ConversationId;
use engine::{BotCaller, ConnectorRefusal, EngineError};

use crate::AppState;
use crate::client::ClientAddr;

mod ops;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v3/conversations",
            post(ops::create_conversation).get(ops::list_conversations),
        )
        .route(
            "/v3/conversations/{conversation}/activities",
            post(send_to_conversation),
        )
        .route(
            "/v3/conversations/{conversation}/activities/history",
            post(ops::send_history),
        )
        .route(
            "/v3/conversations/{conversation}/activities/{reply_to}",
            post(reply_to_activity)
                .put(ops::update_activity)
                .delete(ops::delete_activity),
        )
        .route(
            "/v3/conversations/{conversation}/activities/{activity}/members",
            get(ops::activity_members),
        )
        .route("/v3/conversations/{conversation}/members", get(ops::members))
        .route(
            "/v3/conversations/{conversation}/members/{member}",
            get(ops::member).delete(ops::remove_member),
        )
        .route("/v3/conversations/{conversation}/pagedmembers", get(ops::paged_members))
        .route(
            "/v3/conversations/{conversation}/attachments",
            post(ops::upload_attachment).layer(DefaultBodyLimit::max(ops::UPLOAD_BODY_LIMIT)),
        )
        .route("/v3/attachments/{attachment}", get(ops::attachment_info))
        .route("/v3/attachments/{attachment}/views/{view}", get(ops::attachment_view))
}

/// A Connector API failure: its HTTP status and Connector error code are chosen in
/// `into_response`, the only place that does so.
#[derive(Debug)]
pub struct ConnectorError(Failure);

#[derive(Debug)]
enum Failure {
    Engine(EngineError),
    Activity(ActivityError),
    NotFound(String),
    Unauthorized(String),
    /// A body that is not JSON of the expected shape.
    BadSyntax(String),
    /// A query parameter that does not parse.
    BadArgument(String),
    /// A path that names no attachment (not an id, or no such view).
    AttachmentNotFound(String),
    /// A body over the route's size limit.
    TooLarge(String),
    /// An operation of the protocol this channel does not offer: why, and what to do instead.
    NotImplemented(&'static str),
    /// The hub cannot serve the call (logged where it is answered; the body says no more).
    Internal(String),
}

impl IntoResponse for ConnectorError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self.0 {
            Failure::NotFound(m) => (StatusCode::NOT_FOUND, ErrorCode::ConversationNotFound, m),
            Failure::Unauthorized(m) => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, m),
            Failure::BadSyntax(m) => (StatusCode::BAD_REQUEST, ErrorCode::BadSyntax, m),
            Failure::BadArgument(m) => (StatusCode::BAD_REQUEST, ErrorCode::BadArgument, m),
            Failure::AttachmentNotFound(m) => (StatusCode::NOT_FOUND, ErrorCode::AttachmentNotFound, m),
            Failure::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::MessageSizeTooBig, m),
            Failure::NotImplemented(m) => (StatusCode::NOT_IMPLEMENTED, ErrorCode::NotImplemented, m.to_owned()),
            Failure::Internal(m) => {
                tracing::error!(error = %m, "connector call failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::ServiceError,
                    "the hub failed to handle this call; see its log".to_owned(),
                )
            }
            Failure::Activity(e @ ActivityError::TooLarge { .. }) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::MessageSizeTooBig,
                e.to_string(),
            ),
            Failure::Activity(e @ ActivityError::Malformed(_)) => {
                (StatusCode::BAD_REQUEST, ErrorCode::BadSyntax, e.to_string())
            }
            Failure::Activity(e) => (StatusCode::BAD_REQUEST, ErrorCode::BadArgument, e.to_string()),
            Failure::Engine(e) => match e {
                EngineError::ConversationNotFound(_) | EngineError::ConversationEnded(_) => {
                    (StatusCode::NOT_FOUND, ErrorCode::ConversationNotFound, e.to_string())
                }
                EngineError::Forbidden(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden, e.to_string()),
                EngineError::Activity(ActivityError::TooLarge { .. }) => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::MessageSizeTooBig,
                    e.to_string(),
                ),
                EngineError::Activity(_) | EngineError::Context(_) | EngineError::Unsupported(_) => {
                    (StatusCode::BAD_REQUEST, ErrorCode::BadArgument, e.to_string())
                }
                EngineError::Illegal(_) => (StatusCode::CONFLICT, ErrorCode::BadArgument, e.to_string()),
                EngineError::Refused { .. } => (StatusCode::CONFLICT, ErrorCode::BadArgument, e.to_string()),
                EngineError::Invalid(_) | EngineError::UnknownQueue(_) => {
                    (StatusCode::BAD_REQUEST, ErrorCode::BadArgument, e.to_string())
                }
                EngineError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, e.to_string()),
                EngineError::Draining => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::ServiceError, e.to_string()),
                EngineError::Connector(ref refusal) => {
                    let (status, code) = match refusal {
                        ConnectorRefusal::ActivityNotFound { .. } | ConnectorRefusal::ActivityDeleted { .. } => {
                            (StatusCode::NOT_FOUND, ErrorCode::ActivityNotFound)
                        }
                        ConnectorRefusal::MemberNotFound { .. } => (StatusCode::NOT_FOUND, ErrorCode::MemberNotFound),
                        ConnectorRefusal::AttachmentNotFound(_) | ConnectorRefusal::ViewNotFound { .. } => {
                            (StatusCode::NOT_FOUND, ErrorCode::AttachmentNotFound)
                        }
                        ConnectorRefusal::AttachmentTooLarge { .. } => {
                            (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::MessageSizeTooBig)
                        }
                        ConnectorRefusal::BadArgument(_) => (StatusCode::BAD_REQUEST, ErrorCode::BadArgument),
                    };
                    (status, code, e.to_string())
                }
                EngineError::UnknownWorkstream(_)
                | EngineError::UnknownUser(_)
                | EngineError::Store(_)
                | EngineError::ConversationExists(_) => {
                    tracing::error!(error = %e, "connector call failed");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        ErrorCode::ServiceError,
                        "the hub failed to handle this activity; see its log".to_owned(),
                    )
                }
            },
        };
        (status, Json(ErrorResponse::new(code, message))).into_response()
    }
}

impl From<EngineError> for ConnectorError {
    fn from(e: EngineError) -> Self {
        ConnectorError(Failure::Engine(e))
    }
}

/// `POST /v3/conversations/{conversation}/activities` (SendToConversation).
async fn send_to_conversation(
    State(state): State<AppState>,
    Path(conversation): Path<String>,
    Bot(caller): Bot,
    body: Bytes,
) -> Result<Json<ResourceResponse>, ConnectorError> {
    accept(state, &conversation, caller, &body).await
}

/// `POST /v3/conversations/{conversation}/activities/{replyTo}` (ReplyToActivity). The reply
/// is threaded by its `replyToId`; where it goes is decided exactly as for SendToConversation.
async fn reply_to_activity(
    State(state): State<AppState>,
    Path((conversation, _reply_to)): Path<(String, String)>,
    Bot(caller): Bot,
    body: Bytes,
) -> Result<Json<ResourceResponse>, ConnectorError> {
    accept(state, &conversation, caller, &body).await
}

async fn accept(
    state: AppState,
    conversation: &str,
    caller: BotCaller,
    body: &[u8],
) -> Result<Json<ResourceResponse>, ConnectorError> {
    let id = conversation_id(conversation)?;
    let activity = validate::parse_activity(body).map_err(|e| ConnectorError(Failure::Activity(e)))?;
    let sent = state.hub.accept_from_bot(id, caller, activity).await?;
    Ok(Json(ResourceResponse::new(sent.id)))
}

/// The bot making a Connector call, as [`caller`] proved it. Every operation a bot makes on a
/// conversation (and the refused ones) takes this extractor, so none runs for a caller that
/// failed.
pub(crate) struct Bot(pub BotCaller);

impl FromRequestParts<AppState> for Bot {
    type Rejection = ConnectorError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ConnectorError> {
        let client = client_addr(parts, state)?;
        caller(state, &parts.headers, client).await.map(Bot)
    }
}

/// A reader of attachments (GetAttachmentInfo, GetAttachment): anyone, since the id is the
/// capability (see the module doc), but a bearer token that is presented must be valid.
pub(crate) struct Reader;

impl FromRequestParts<AppState> for Reader {
    type Rejection = ConnectorError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ConnectorError> {
        bearer(state, &parts.headers).await.map(|_| Reader)
    }
}

/// Who is calling: the app a valid `Bearer` token was issued to; with no `Authorization` header,
/// an anonymous bot — if `client` is in `[security] anonymous_bot_networks`. Any other header,
/// a token that does not validate, or an anonymous call from elsewhere is 401. Every Connector
/// operation but the attachment reads starts here.
pub(crate) async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    client: ClientAddr,
) -> Result<BotCaller, ConnectorError> {
    if let Some(app_id) = bearer(state, headers).await? {
        return Ok(BotCaller::App(app_id));
    }
    let networks = &state.security.anonymous_bot_networks;
    if networks.contains(client.0) {
        return Ok(BotCaller::Anonymous);
    }
    tracing::warn!(
        client.addr = %client.0,
        "refused a Connector call without credentials from outside [security] anonymous_bot_networks"
    );
    Err(ConnectorError(Failure::Unauthorized(format!(
        "calls without an Authorization header (from bots configured without an app id) are accepted only \
         from the hub's anonymous_bot_networks, and this one came from {}: configure the bot with an app id \
         and send its bearer token (docs/bots.md, \"Signed bots\"), or add the bot's network to \
         [security] anonymous_bot_networks in the hub's configuration",
        client.0
    ))))
}

/// The app id a valid `Bearer` token proves, or `None` when there is no `Authorization` header.
/// Why a token was refused is logged, not told: the reason may name the identity provider's URL
/// or which app ids the hub knows.
async fn bearer(state: &AppState, headers: &HeaderMap) -> Result<Option<String>, ConnectorError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ConnectorError(Failure::Unauthorized(
                "the Authorization header must be `Bearer <token>`".to_owned(),
            ))
        })?;
    match state.hub.authenticate_bot(token).await {
        Ok(app_id) => Ok(Some(app_id)),
        Err(e) => {
            let claimed = botframework::auth::claimed_app_id(token);
            tracing::warn!(
                bot.app_id = claimed.as_deref().unwrap_or("(none)"),
                error = %e,
                "refused a bot's bearer token"
            );
            Err(ConnectorError(Failure::Unauthorized(
                "the bearer token was refused (the hub's log says why)".to_owned(),
            )))
        }
    }
}

/// The client behind the request (see [`ClientAddr`]). The hub is served with connection info;
/// a router served without it cannot tell where a call comes from, so it refuses.
fn client_addr(parts: &Parts, state: &AppState) -> Result<ClientAddr, ConnectorError> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .ok_or_else(|| {
            ConnectorError(Failure::Internal(
                "the HTTP server was started without connection info (serve with into_make_service_with_connect_info)"
                    .to_owned(),
            ))
        })?;
    Ok(ClientAddr::resolve(
        peer,
        &parts.headers,
        &state.security.trusted_proxies,
    ))
}

/// A conversation id from the path; one that cannot be an id names no conversation.
pub(crate) fn conversation_id(text: &str) -> Result<ConversationId, ConnectorError> {
    ConversationId::parse(text)
        .map_err(|_| ConnectorError(Failure::NotFound(format!("conversation `{text}` does not exist"))))
}
