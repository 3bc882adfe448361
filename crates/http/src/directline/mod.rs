//! Direct Line 3.0 for customers' chat clients (Microsoft's `botframework-directlinejs` and Web
//! Chat, unchanged), under `/v3/directline`.
//!
//! Status discipline, because the clients act on statuses: 403 only for a bad, expired or
//! foreign token (directlinejs shows "expired token"), 404 only for an unknown or ended
//! conversation ("ended"), 502 when the bot refuses a posted activity (an unavailable
//! bot is not an error for the customer: people take over), 400 for a malformed request, and never a 5xx on the polling GET (a failed poll
//! stops directlinejs polling for good). Errors are `{"error":{"code","message"}}`, mapped in
//! [`DlError`]'s one `match`.
//!
//! Credentials, as on Azure: a chat channel's secret (`[[directline]]`) works on every call —
//! on a conversation only if it is one of that channel's, and the activity then says who the
//! user is — while a token works only for its own conversation and user (`tokens/generate`
//! takes the secret; `tokens/refresh` a token). Secrets are compared in constant time. What a
//! token carries was vouched for by the site's backend and wins over what a client sends: its
//! pre-chat context is the only one that routes, and its customer name labels the posted
//! activities.

mod limits;
mod stream;
pub mod tokens;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use botframework::directline::{
    ActivitySet, Conversation, SessionIdResponse, StartConversationRequest, TokenParameters,
};
use botframework::{ActivityError, ResourceResponse, validate};
use domain::conversation::Customer;
use domain::{ConversationId, Seq};
use engine::{CustomerDelivery, EngineError};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;
use tower_http::cors::{Any, CorsLayer};

pub use limits::CustomerRate;
pub use tokens::DirectLineChannel;
use tokens::{TokenClaims, TokenError, unix_now};

use crate::AppState;
use crate::client::ClientAddr;

/// The chat channels the hub serves Direct Line for.
#[derive(Debug, Clone, Default)]
pub struct DirectLine {
    pub channels: Arc<Vec<DirectLineChannel>>,
    /// How fast one conversation's customer may send; `None`: no limit.
    pub rate: Option<Arc<CustomerRate>>,
}

pub fn routes() -> Router<AppState> {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ORIGIN,
            header::HeaderName::from_static("x-ms-bot-agent"),
            header::HeaderName::from_static("x-requested-with"),
        ]);
    Router::new()
        .route("/v3/directline/tokens/generate", post(generate_token))
        .route("/v3/directline/tokens/refresh", post(refresh_token))
        .route("/v3/directline/conversations", post(start_conversation))
        .route("/v3/directline/conversations/{id}", get(reconnect))
        .route(
            "/v3/directline/conversations/{id}/activities",
            post(post_activity).get(get_activities),
        )
        .route("/v3/directline/conversations/{id}/stream", get(stream::connect))
        .route(
            "/v3/directline/conversations/{id}/upload",
            post(upload).layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)),
        )
        .route("/v3/directline/session/getsessionid", get(session_id))
        .layer(cors)
}

/// A Direct Line failure; its status and code are chosen in `into_response`, the only place.
#[derive(Debug)]
pub enum DlError {
    /// No usable credential, an expired token, or one for another conversation.
    Forbidden { code: &'static str, message: String },
    /// No such conversation, or it has ended.
    NotFound(String),
    /// A malformed request.
    BadRequest(String),
    /// The activity is over the size limit.
    TooLarge(String),
    /// The bot did not take the activity (it is stored all the same).
    BotFailed(String),
    /// The conversation's customer sends faster than the limit; the activity was not stored.
    TooManyRequests { message: String, retry_after_secs: u64 },
    /// Anything else; logged, never detailed to the client.
    Internal(String),
}

impl IntoResponse for DlError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            DlError::Forbidden { code, message } => (StatusCode::FORBIDDEN, code, message),
            DlError::NotFound(m) => (StatusCode::NOT_FOUND, "NotFound", m),
            DlError::BadRequest(m) => (StatusCode::BAD_REQUEST, "BadArgument", m),
            DlError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, "MessageSizeTooBig", m),
            DlError::BotFailed(m) => (StatusCode::BAD_GATEWAY, "BotError", m),
            DlError::TooManyRequests {
                message,
                retry_after_secs,
            } => {
                let body = Json(json!({ "error": { "code": "TooManyRequests", "message": message } }));
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, retry_after_secs.to_string())],
                    body,
                )
                    .into_response();
            }
            DlError::Internal(detail) => {
                tracing::error!(error.detail = %detail, "direct line request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "ServiceError",
                    "the hub failed to handle this request; see its log".to_owned(),
                )
            }
        };
        (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response()
    }
}

impl From<TokenError> for DlError {
    fn from(e: TokenError) -> Self {
        let code = match e {
            TokenError::Expired => "TokenExpired",
            TokenError::Invalid(_) => "BadToken",
        };
        DlError::Forbidden {
            code,
            message: e.to_string(),
        }
    }
}

impl From<EngineError> for DlError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::ConversationNotFound(_) | EngineError::ConversationEnded(_) => {
                DlError::NotFound(e.to_string())
            }
            EngineError::Context(_) | EngineError::Activity(_) | EngineError::Unsupported(_) => {
                DlError::BadRequest(e.to_string())
            }
            EngineError::Connector(engine::ConnectorRefusal::AttachmentTooLarge { .. }) => {
                DlError::TooLarge(e.to_string())
            }
            EngineError::Connector(_) => DlError::BadRequest(e.to_string()),
            other => DlError::Internal(other.to_string()),
        }
    }
}

/// What the `Authorization` header proved.
enum Credential {
    /// A channel's secret (index into the channels).
    Secret(usize),
    /// A valid token.
    Token(TokenClaims, usize),
}

fn bearer(headers: &HeaderMap) -> Result<&str, DlError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| DlError::Forbidden {
            code: "MissingToken",
            message: "send `Authorization: Bearer <token>` (or the channel's secret)".to_owned(),
        })
}

impl DirectLine {
    /// Counts one activity the customer of `conversation` sends against the rate limit.
    fn take_one(&self, conversation: ConversationId) -> Result<(), DlError> {
        match &self.rate {
            Some(rate) => rate.check(conversation),
            None => Ok(()),
        }
    }

    fn credential(&self, headers: &HeaderMap) -> Result<Credential, DlError> {
        let presented = bearer(headers)?;
        // Every secret is compared, each in constant time, so timing tells neither how much of a
        // secret matched nor which channel's it was.
        let mut secret = None;
        for (i, channel) in self.channels.iter().enumerate() {
            if bool::from(channel.secret.as_bytes().ct_eq(presented.as_bytes())) {
                secret = Some(i);
            }
        }
        if let Some(i) = secret {
            return Ok(Credential::Secret(i));
        }
        let (claims, i) = tokens::verify(presented, &self.channels, unix_now())?;
        Ok(Credential::Token(claims, i))
    }

    fn secret(&self, headers: &HeaderMap) -> Result<usize, DlError> {
        match self.credential(headers)? {
            Credential::Secret(i) => Ok(i),
            Credential::Token(..) => Err(DlError::Forbidden {
                code: "SecretRequired",
                message: "tokens/generate takes the channel's secret (from the site's backend), not a token".to_owned(),
            }),
        }
    }

    /// Whether the secret of channel `index` reaches `conversation`: it must be a conversation of
    /// the channel's workstream, and no other channel may feed that workstream — the hub does not
    /// record which channel started a conversation, so with a shared workstream it cannot tell
    /// one channel's conversations from another's, and refuses both secrets (tokens still work).
    fn secret_reaches(&self, index: usize, conversation: &domain::conversation::Conversation) -> bool {
        let workstream = &self.channels[index].workstream;
        conversation.workstream.as_str() == workstream
            && self.channels.iter().filter(|c| &c.workstream == workstream).count() == 1
    }
}

/// Who may act on a conversation, and on whose word.
enum Caller {
    /// A token for this conversation: it says who the customer is.
    Token(TokenClaims),
    /// The secret of the conversation's channel: the caller speaks for the channel, and the
    /// activity says who the user is (as on Azure).
    Secret,
}

/// A call on one conversation, allowed: the conversation as stored, the channel, and the caller.
struct Access {
    conversation: domain::conversation::Conversation,
    channel: usize,
    caller: Caller,
}

impl Access {
    /// The conversation's id.
    fn id(&self) -> ConversationId {
        self.conversation.id
    }

    /// Claims for a token of this conversation (the `streamUrl`'s): the caller's own token, or,
    /// for the secret, a fresh one for the conversation's customer.
    fn claims(&self, channel: &DirectLineChannel) -> TokenClaims {
        match &self.caller {
            Caller::Token(claims) => claims.clone(),
            Caller::Secret => {
                let customer = &self.conversation.customer;
                let mut claims = TokenClaims::new(channel, self.id().to_string(), customer.id.clone(), unix_now());
                claims.name = customer.name.clone();
                claims.email = customer.email.clone();
                claims
            }
        }
    }

    /// Says who sent `activity`: the token's user, or with the secret the activity's own
    /// `from` (the conversation's customer when it names no one).
    fn sender(&self, activity: &mut botframework::Activity) {
        match &self.caller {
            Caller::Token(claims) => from_token_user(activity, claims),
            Caller::Secret => from_secret_caller(activity, &self.conversation.customer),
        }
    }
}

/// Checks `credential` for a call on conversation `id` (which must exist): a token must be for
/// `id`; a secret must be that of the conversation's channel.
async fn access(state: &AppState, credential: Credential, id: &str) -> Result<Access, DlError> {
    if let Credential::Token(claims, _) = &credential
        && claims.conv != id
    {
        return Err(DlError::Forbidden {
            code: "WrongConversation",
            message: format!("the token is for another conversation, not `{id}`"),
        });
    }
    let not_found = || DlError::NotFound(format!("conversation `{id}` does not exist"));
    let parsed = ConversationId::parse(id).map_err(|_| not_found())?;
    let conversation = state
        .hub
        .store()
        .get_conversation(parsed)
        .await
        .map_err(|e| DlError::Internal(e.to_string()))?
        .ok_or_else(not_found)?;
    match credential {
        Credential::Token(claims, channel) => Ok(Access {
            conversation,
            channel,
            caller: Caller::Token(claims),
        }),
        Credential::Secret(channel) if state.directline.secret_reaches(channel, &conversation) => Ok(Access {
            conversation,
            channel,
            caller: Caller::Secret,
        }),
        Credential::Secret(_) => Err(DlError::Forbidden {
            code: "WrongConversation",
            message: format!("conversation `{id}` is not one of this chat channel's"),
        }),
    }
}

/// The pre-chat extension of token and start bodies (Switchboard's, beside the standard fields).
#[derive(Debug, Default)]
struct Prechat {
    /// `context`: context variables by name.
    context: Option<Map<String, Value>>,
    /// `customer.name`.
    name: Option<String>,
    /// `customer.email`.
    email: Option<String>,
}

fn prechat(extra: &Map<String, Value>) -> Result<Prechat, DlError> {
    let context = match extra.get("context") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => {
            return Err(DlError::BadRequest(
                "`context` must be an object of variable names to values".to_owned(),
            ));
        }
    };
    let (name, email) = customer_fields(extra);
    Ok(Prechat { context, name, email })
}

/// `customer.name` and `customer.email`, when they are strings.
fn customer_fields(extra: &Map<String, Value>) -> (Option<String>, Option<String>) {
    let customer = extra.get("customer");
    let field = |k: &str| {
        customer
            .and_then(|c| c.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    (field("name"), field("email"))
}

fn parse_body<T: for<'de> Deserialize<'de> + Default>(body: &Bytes) -> Result<T, DlError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| DlError::BadRequest(format!("the body is not valid JSON for this call: {e}")))
}

/// Checks pre-chat context against the channel's workstream (a wrong name or type is 400).
fn check_context(state: &AppState, workstream: &str, context: &Map<String, Value>) -> Result<domain::Context, DlError> {
    state
        .hub
        .check_context_json(workstream, context)
        .map_err(|e| DlError::BadRequest(format!("pre-chat context: {e}")))
}

fn conversation_response(
    state: &AppState,
    claims: &TokenClaims,
    channel: &DirectLineChannel,
    watermark: Option<&str>,
) -> Conversation {
    let now = unix_now();
    let token = claims.sign(channel);
    Conversation {
        conversation_id: claims.conv.clone(),
        stream_url: Some(stream::url(
            &state.hub.channel().service_url,
            &claims.conv,
            &token,
            watermark,
        )),
        token: Some(token),
        expires_in: Some(claims.expires_in(now)),
        reference_grammar_id: None,
        e_tag: None,
    }
}

/// `POST /v3/directline/tokens/generate` (secret): a token for a new conversation, with the
/// user and pre-chat context the backend gives.
async fn generate_token(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Conversation>, DlError> {
    let index = state.directline.secret(&headers)?;
    state.security.secret_start(client)?;
    let channel = &state.directline.channels[index];
    let params: TokenParameters = parse_body(&body)?;
    let Prechat { context, name, email } = prechat(&params.extra)?;
    if let Some(context) = &context {
        check_context(&state, &channel.workstream, context)?;
    }
    let user = params.user.unwrap_or_default();
    let now = unix_now();
    let mut claims = TokenClaims::for_new_conversation(channel, user.id, now);
    claims.name = name.or(user.name);
    claims.email = email;
    claims.ctx = context;
    Ok(Json(tokens::generated(channel, &claims, now)))
}

/// `POST /v3/directline/tokens/refresh` (token): the same token with a new expiry.
async fn refresh_token(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Conversation>, DlError> {
    let (claims, index) = match state.directline.credential(&headers)? {
        Credential::Token(claims, index) => (claims, index),
        Credential::Secret(_) => {
            return Err(DlError::Forbidden {
                code: "TokenRequired",
                message: "tokens/refresh takes the token to refresh".to_owned(),
            });
        }
    };
    let channel = &state.directline.channels[index];
    let now = unix_now();
    Ok(Json(tokens::generated(channel, &claims.renewed(channel, now), now)))
}

/// `POST /v3/directline/conversations` (secret or token): starts the conversation (201), or
/// answers for the token's existing one (200). Routing runs here, over the pre-chat context.
async fn start_conversation(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, DlError> {
    let request: StartConversationRequest = parse_body(&body)?;
    let credential = state.directline.credential(&headers)?;
    match &credential {
        // A backend's token was counted when the backend asked for it; a page's token is
        // anyone's, so its start counts too.
        Credential::Token(claims, _) if claims.page => state.security.public_start(client)?,
        Credential::Token(..) => {}
        Credential::Secret(_) => state.security.secret_start(client)?,
    }
    let Opening {
        claims,
        channel: index,
        customer,
        context,
    } = opening(&state.directline.channels, credential, request)?;
    let channel = &state.directline.channels[index];
    let answer = |status| (status, Json(conversation_response(&state, &claims, channel, None))).into_response();
    let id = ConversationId::parse(&claims.conv).map_err(|_| DlError::Forbidden {
        code: "BadToken",
        message: "the token names no valid conversation".to_owned(),
    })?;
    let store = state.hub.store();
    if store
        .get_conversation(id)
        .await
        .map_err(|e| DlError::Internal(e.to_string()))?
        .is_some()
    {
        return Ok(answer(StatusCode::OK));
    }
    let context = check_context(&state, &channel.workstream, &context)?;
    match state
        .hub
        .open_conversation_as(id, &channel.workstream, customer, context)
        .await
    {
        Ok(_) => Ok(answer(StatusCode::CREATED)),
        // Started by a concurrent request with the same token.
        Err(EngineError::ConversationExists(_)) => Ok(answer(StatusCode::OK)),
        Err(e) => Err(e.into()),
    }
}

/// What a start opens: the conversation's token claims, its channel, its customer and the
/// pre-chat context that routes it.
struct Opening {
    claims: TokenClaims,
    channel: usize,
    customer: Customer,
    context: Map<String, Value>,
}

/// Decides a start from whose credential it comes. A token's signed values were vouched for by
/// the site's backend: its context is the only one that routes (a body context is ignored, so a
/// browser cannot choose its queue), and its name and e-mail win, the body only filling what the
/// token lacks. The secret's holder is the backend itself: the body's user, customer and context
/// count.
fn opening(
    channels: &[DirectLineChannel],
    credential: Credential,
    request: StartConversationRequest,
) -> Result<Opening, DlError> {
    let body_user_name = request.user.as_ref().and_then(|u| u.name.clone());
    match credential {
        Credential::Token(claims, channel) => {
            if request.extra.get("context").is_some_and(|c| !c.is_null()) {
                tracing::debug!(
                    conversation.id = %claims.conv,
                    "ignored the context in the body of a start with a token: only the token's context routes"
                );
            }
            let (name, email) = customer_fields(&request.extra);
            let customer = Customer {
                id: claims.user.clone(),
                name: claims.name.clone().or(name).or(body_user_name),
                email: claims.email.clone().or(email),
            };
            let context = claims.ctx.clone().unwrap_or_default();
            Ok(Opening {
                claims,
                channel,
                customer,
                context,
            })
        }
        Credential::Secret(channel) => {
            let Prechat { context, name, email } = prechat(&request.extra)?;
            let user = request.user.and_then(|u| u.id);
            let mut claims = TokenClaims::for_new_conversation(&channels[channel], user, unix_now());
            claims.name = name.or(body_user_name);
            claims.email = email;
            let customer = Customer {
                id: claims.user.clone(),
                name: claims.name.clone(),
                email: claims.email.clone(),
            };
            Ok(Opening {
                context: context.unwrap_or_default(),
                claims,
                channel,
                customer,
            })
        }
    }
}

#[derive(Debug, Deserialize)]
struct WatermarkQuery {
    watermark: Option<String>,
}

/// A watermark as the client sent it back: empty or absent is the start.
fn parse_watermark(w: Option<&str>) -> Result<Seq, DlError> {
    match w.map(str::trim) {
        None | Some("") => Ok(Seq::ZERO),
        Some(w) => w
            .parse::<u64>()
            .map(Seq)
            .map_err(|_| DlError::BadRequest(format!("`{w}` is not a watermark this hub gave out"))),
    }
}

/// `GET /v3/directline/conversations/{id}?watermark=` (secret or token): reconnect — a fresh
/// `streamUrl`, carrying a token for the conversation (the secret's caller gets one for the
/// conversation's customer).
async fn reconnect(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<WatermarkQuery>,
    headers: HeaderMap,
) -> Result<Json<Conversation>, DlError> {
    let access = access(&state, state.directline.credential(&headers)?, &id).await?;
    parse_watermark(query.watermark.as_deref())?;
    let channel = &state.directline.channels[access.channel];
    Ok(Json(conversation_response(
        &state,
        &access.claims(channel),
        channel,
        query.watermark.as_deref(),
    )))
}

/// `POST /v3/directline/conversations/{id}/activities` (secret or token): the customer sends an
/// activity.
async fn post_activity(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ResourceResponse>, DlError> {
    let access = access(&state, state.directline.credential(&headers)?, &id).await?;
    state.directline.take_one(access.id())?;
    let mut activity = validate::parse_activity(&body).map_err(|e| match e {
        ActivityError::TooLarge { .. } => DlError::TooLarge(e.to_string()),
        e => DlError::BadRequest(e.to_string()),
    })?;
    access.sender(&mut activity);
    let sent = state.hub.accept_from_customer(access.id(), activity).await?;
    posted(sent)
}

/// Makes the token's user the sender: the token says who the customer is, and a page cannot
/// speak for someone else. The token's name, vouched for by the site's backend, wins over the
/// page's `from.name`; a token without one leaves the page's.
fn from_token_user(activity: &mut botframework::Activity, claims: &TokenClaims) {
    let mut from = activity
        .from
        .take()
        .unwrap_or_else(|| botframework::ChannelAccount::new(""));
    from.id = claims.user.clone();
    if let Some(name) = &claims.name {
        from.name = Some(name.clone());
    }
    from.role = Some(botframework::RoleType::User);
    activity.from = Some(from);
}

/// With the channel's secret, the activity's `from.id` is the user, as on Azure; an activity
/// that names no one is the conversation's customer's.
fn from_secret_caller(activity: &mut botframework::Activity, customer: &Customer) {
    let mut from = activity
        .from
        .take()
        .unwrap_or_else(|| botframework::ChannelAccount::new(""));
    if from.id.is_empty() {
        from.id = customer.id.clone();
        if from.name.is_none() {
            from.name = customer.name.clone();
        }
    }
    from.role = Some(botframework::RoleType::User);
    activity.from = Some(from);
}

/// The answer to a posted activity: its id, or 502 when the bot refused it (it is stored all the
/// same). A bot found unavailable is not the customer's problem: by the time the delivery
/// fails the hub has escalated the conversation to people, who get the activity, and the
/// customer has been told — so it is a success, and the client does not send it again.
fn posted(sent: engine::CustomerSent) -> Result<Json<ResourceResponse>, DlError> {
    match sent.delivery {
        CustomerDelivery::BotFailed(engine::DeliveryError::Unavailable { bot, reason }) => {
            tracing::debug!(activity.id = %sent.id, bot = %bot, reason = %reason, "posted while the bot was unavailable; kept for people");
            Ok(Json(ResourceResponse::new(sent.id)))
        }
        CustomerDelivery::BotFailed(e) => Err(DlError::BotFailed(format!(
            "the activity was stored (id {}), but {e}",
            sent.id
        ))),
        CustomerDelivery::Bot | CustomerDelivery::Stored => Ok(Json(ResourceResponse::new(sent.id))),
    }
}

/// How many log entries one poll reads at most.
const PAGE: u32 = 500;

/// `GET /v3/directline/conversations/{id}/activities?watermark=` (secret or token): everything the
/// customer may see after the watermark. Never a 5xx: a store failure answers an empty set with
/// the same watermark, and the client polls again.
async fn get_activities(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<WatermarkQuery>,
    headers: HeaderMap,
) -> Result<Json<ActivitySet>, DlError> {
    let credential = state.directline.credential(&headers)?;
    let conversation = match access(&state, credential, &id).await {
        Ok(access) => access.id(),
        Err(DlError::Internal(detail)) => {
            tracing::warn!(conversation.id = %id, error = %detail, "poll failed; answering an empty set");
            return Ok(Json(ActivitySet {
                activities: Vec::new(),
                watermark: query.watermark,
            }));
        }
        Err(e) => return Err(e),
    };
    let after = parse_watermark(query.watermark.as_deref())?;
    match state.hub.customer_view(conversation, after, PAGE, false).await {
        Ok(view) => Ok(Json(ActivitySet {
            activities: view.activities,
            watermark: Some(view.last.0.to_string()),
        })),
        Err(e) => {
            tracing::warn!(conversation.id = %id, error = %e, "poll failed; answering an empty set");
            Ok(Json(ActivitySet {
                activities: Vec::new(),
                watermark: Some(after.0.to_string()),
            }))
        }
    }
}

/// `GET /v3/directline/session/getsessionid` (token): a session id (directlinejs asks, and
/// tolerates failure).
async fn session_id(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, DlError> {
    let claims = match state.directline.credential(&headers)? {
        Credential::Token(claims, _) => claims,
        Credential::Secret(_) => {
            return Err(DlError::Forbidden {
                code: "TokenRequired",
                message: "this call takes a token".to_owned(),
            });
        }
    };
    let mut response = Json(SessionIdResponse {
        session_id: format!("{}:{}", claims.conv, claims.user),
    })
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The largest upload body: a few files up to the attachment limit, plus multipart framing.
const UPLOAD_BODY_LIMIT: usize = engine::MAX_ATTACHMENT_BYTES * 3 + 64 * 1024;

/// `POST /v3/directline/conversations/{id}/upload?userId=` (secret or token): a message with files, as
/// directlinejs sends one — a multipart body with an `activity` part (the activity JSON) and one
/// `file` part per attachment. The files are stored and the activity is posted with them
/// attached, each served back at its `contentUrl`.
async fn upload(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<ResourceResponse>, DlError> {
    let access = access(&state, state.directline.credential(&headers)?, &id).await?;
    state.directline.take_one(access.id())?;
    let mut multipart =
        multipart.map_err(|e| DlError::BadRequest(format!("an upload is a multipart/form-data body: {e}")))?;
    let mut activity = None;
    let mut files = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| DlError::BadRequest(format!("the multipart body is malformed: {e}")))?
    {
        let part = field.name().unwrap_or_default().to_owned();
        let name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| DlError::BadRequest(format!("part `{part}` could not be read: {e}")))?;
        match part.as_str() {
            "activity" => {
                activity = Some(
                    validate::parse_activity(&bytes)
                        .map_err(|e| DlError::BadRequest(format!("the `activity` part: {e}")))?,
                );
            }
            _ => files.push(engine::CustomerFile {
                name,
                content_type,
                bytes: bytes.to_vec(),
            }),
        }
    }
    if files.is_empty() {
        return Err(DlError::BadRequest(
            "an upload needs at least one `file` part".to_owned(),
        ));
    }
    let mut activity = activity.unwrap_or_else(|| botframework::Activity::message(""));
    if activity.text.as_deref() == Some("") {
        activity.text = None;
    }
    access.sender(&mut activity);
    let sent = state
        .hub
        .accept_upload_from_customer(access.id(), activity, files)
        .await?;
    posted(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message from "someone" who calls themselves Mallory.
    fn mallory() -> botframework::Activity {
        let mut activity = botframework::Activity::message("hi");
        activity.from = Some(botframework::ChannelAccount::new("someone").with_name("Mallory"));
        activity
    }

    /// The sender's id and name.
    fn sender(activity: botframework::Activity) -> (String, Option<String>) {
        let from = activity.from.unwrap();
        (from.id, from.name)
    }

    #[test]
    fn with_the_secret_the_activity_says_who_sent_it_or_else_the_customer_did() {
        let customer = Customer {
            id: "customer-1".into(),
            name: Some("Cy".into()),
            email: None,
        };
        let mut activity = mallory();
        from_secret_caller(&mut activity, &customer);
        assert_eq!(sender(activity), ("someone".into(), Some("Mallory".into())));
        let mut activity = botframework::Activity::message("hi");
        from_secret_caller(&mut activity, &customer);
        assert_eq!(sender(activity), ("customer-1".into(), Some("Cy".into())));
    }

    fn web() -> DirectLineChannel {
        DirectLineChannel {
            name: "web".into(),
            secret: "s3cret-s3cret-s3cret".into(),
            workstream: "Chat".into(),
            token_lifetime_secs: 1800,
        }
    }

    /// A start body asking for CreditCard routing, as a customer named Mallory.
    fn greedy_start() -> StartConversationRequest {
        serde_json::from_value(json!({
            "user": {"id": "mallory"},
            "context": {"BotHandoffTopic": "CreditCard"},
            "customer": {"name": "Mallory", "email": "m@example.com"}
        }))
        .unwrap()
    }

    #[test]
    fn a_start_with_a_token_routes_by_the_tokens_context_and_the_body_only_fills_gaps() {
        let web = web();
        let mut claims = TokenClaims::new(&web, "c1".into(), "dl_ana".into(), 0);
        claims.name = Some("Ana".into());
        claims.ctx = json!({"BotHandoffTopic": "HomeLoan"}).as_object().cloned();
        let opened = opening(std::slice::from_ref(&web), Credential::Token(claims, 0), greedy_start()).unwrap();
        assert_eq!(
            opened.context,
            *json!({"BotHandoffTopic": "HomeLoan"}).as_object().unwrap()
        );
        assert_eq!(
            opened.customer,
            Customer {
                id: "dl_ana".into(),
                name: Some("Ana".into()),
                email: Some("m@example.com".into())
            }
        );
        assert_eq!(opened.claims.conv, "c1");

        let bare = TokenClaims::new(&web, "c2".into(), "dl_x".into(), 0);
        let opened = opening(std::slice::from_ref(&web), Credential::Token(bare, 0), greedy_start()).unwrap();
        assert!(opened.context.is_empty(), "a body context never routes a token's start");
    }

    #[test]
    fn a_start_with_the_secret_takes_the_bodys_user_customer_and_context() {
        let web = web();
        let opened = opening(std::slice::from_ref(&web), Credential::Secret(0), greedy_start()).unwrap();
        assert_eq!(
            opened.context,
            *json!({"BotHandoffTopic": "CreditCard"}).as_object().unwrap()
        );
        assert_eq!(
            (opened.customer.id.as_str(), opened.customer.name.as_deref()),
            ("mallory", Some("Mallory"))
        );
    }

    #[test]
    fn the_tokens_name_wins_over_the_from_name_a_page_sends() {
        let web = web();
        let mut claims = TokenClaims::new(&web, "c1".into(), "dl_alice".into(), 0);
        let mut activity = mallory();
        from_token_user(&mut activity, &claims);
        assert_eq!(
            sender(activity),
            ("dl_alice".into(), Some("Mallory".into())),
            "a token without a name leaves the page's"
        );
        claims.name = Some("Alice".into());
        let mut activity = mallory();
        from_token_user(&mut activity, &claims);
        assert_eq!(sender(activity), ("dl_alice".into(), Some("Alice".into())));
    }
}
