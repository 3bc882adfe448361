//! The Connector operations beyond sending: UpdateActivity, DeleteActivity, the member queries,
//! UploadAttachment and the attachment reads, and the operations this channel refuses.
//!
//! Each handler proves the caller first (the [`Bot`] extractor; [`Reader`] for the attachment
//! reads, which browsers make), parses the request into typed values, and calls the
//! engine (`connector_ops`), which makes every decision. Bodies are taken as
//! `Result<Bytes, BytesRejection>` and queries as `Result<Query, QueryRejection>` so that a body
//! over the limit or a bad query still gets a Connector error body rather than axum's plain text.

use std::convert::Infallible;
use std::str::FromStr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use botframework::ChannelAccount;
use botframework::connector::{AttachmentData, AttachmentInfo, PagedMembersResult, ResourceResponse};
use botframework::validate;
use domain::attachment::{AttachmentId, View};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Bot, ConnectorError, Failure, Reader, conversation_id};
use crate::AppState;

/// The largest UploadAttachment body read: the decoded limit in base64 (4 characters for every
/// 3 bytes), plus room for the JSON around it.
pub(super) const UPLOAD_BODY_LIMIT: usize = engine::MAX_ATTACHMENT_BYTES.div_ceil(3) * 4 + 64 * 1024;

/// `PUT /v3/conversations/{conversation}/activities/{activityId}` (UpdateActivity).
pub(super) async fn update_activity(
    State(state): State<AppState>,
    Path((conversation, activity)): Path<(String, String)>,
    Bot(caller): Bot,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ResourceResponse>, ConnectorError> {
    let id = conversation_id(&conversation)?;
    let update = validate::parse_activity(&body_of(body)?).map_err(|e| ConnectorError(Failure::Activity(e)))?;
    let updated = state.hub.update_activity(id, caller, &activity, update).await?;
    Ok(Json(ResourceResponse::new(updated)))
}

/// `DELETE /v3/conversations/{conversation}/activities/{activityId}` (DeleteActivity): 200 with
/// `{}`, since the JS client refuses a 204 here.
pub(super) async fn delete_activity(
    State(state): State<AppState>,
    Path((conversation, activity)): Path<(String, String)>,
    Bot(caller): Bot,
) -> Result<Json<Value>, ConnectorError> {
    let id = conversation_id(&conversation)?;
    state.hub.delete_activity(id, caller, &activity).await?;
    Ok(Json(json!({})))
}

/// `GET /v3/conversations/{conversation}/members` (GetConversationMembers).
pub(super) async fn members(
    State(state): State<AppState>,
    Path(conversation): Path<String>,
    Bot(caller): Bot,
) -> Result<Json<Vec<ChannelAccount>>, ConnectorError> {
    let id = conversation_id(&conversation)?;
    Ok(Json(state.hub.conversation_members(id, caller).await?))
}

/// `GET /v3/conversations/{conversation}/members/{memberId}` (GetConversationMember).
pub(super) async fn member(
    State(state): State<AppState>,
    Path((conversation, member)): Path<(String, String)>,
    Bot(caller): Bot,
) -> Result<Json<ChannelAccount>, ConnectorError> {
    let id = conversation_id(&conversation)?;
    Ok(Json(state.hub.conversation_member(id, caller, &member).await?))
}

/// The query of `pagedmembers`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PageQuery {
    page_size: Option<u32>,
    continuation_token: Option<String>,
}

/// `GET /v3/conversations/{conversation}/pagedmembers?pageSize=&continuationToken=`
/// (GetConversationPagedMembers).
pub(super) async fn paged_members(
    State(state): State<AppState>,
    Path(conversation): Path<String>,
    Bot(caller): Bot,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<PagedMembersResult>, ConnectorError> {
    let id = conversation_id(&conversation)?;
    let Query(query) = query.map_err(|e| ConnectorError(Failure::BadArgument(e.body_text())))?;
    let page = state
        .hub
        .paged_members(id, caller, query.page_size, query.continuation_token.as_deref())
        .await?;
    Ok(Json(page))
}

/// `GET /v3/conversations/{conversation}/activities/{activityId}/members` (GetActivityMembers).
pub(super) async fn activity_members(
    State(state): State<AppState>,
    Path((conversation, activity)): Path<(String, String)>,
    Bot(caller): Bot,
) -> Result<Json<Vec<ChannelAccount>>, ConnectorError> {
    let id = conversation_id(&conversation)?;
    Ok(Json(state.hub.activity_members(id, caller, &activity).await?))
}

/// `POST /v3/conversations/{conversation}/attachments` (UploadAttachment).
pub(super) async fn upload_attachment(
    State(state): State<AppState>,
    Path(conversation): Path<String>,
    Bot(caller): Bot,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ResourceResponse>, ConnectorError> {
    let id = conversation_id(&conversation)?;
    let data: AttachmentData = serde_json::from_slice(&body_of(body)?)
        .map_err(|e| ConnectorError(Failure::BadSyntax(format!("the body is not AttachmentData: {e}"))))?;
    let attachment = state.hub.upload_attachment(id, caller, data).await?;
    Ok(Json(ResourceResponse::new(attachment.to_string())))
}

/// `GET /v3/attachments/{attachmentId}` (GetAttachmentInfo).
pub(super) async fn attachment_info(
    State(state): State<AppState>,
    Path(attachment): Path<String>,
    // A token that is presented must be valid; reading needs no identity beyond the id, which
    // is the capability (see `engine::connector_ops`), and comes from anywhere: browsers fetch
    // the contentUrl.
    _reader: Reader,
) -> Result<Json<AttachmentInfo>, ConnectorError> {
    let id = attachment_id(&attachment)?;
    Ok(Json(state.hub.attachment_info(id).await?))
}

/// `GET /v3/attachments/{attachmentId}/views/{viewId}` (GetAttachment): the bytes, with their
/// type. Uploaded bytes are served from the hub's own origin, so they are marked never to be
/// sniffed into another type and, when opened as a page, sandboxed without scripts.
pub(super) async fn attachment_view(
    State(state): State<AppState>,
    Path((attachment, view)): Path<(String, String)>,
    _reader: Reader,
) -> Result<Response, ConnectorError> {
    let id = attachment_id(&attachment)?;
    let view = View::from_str(&view).map_err(|e| {
        ConnectorError(Failure::AttachmentNotFound(format!(
            "attachment `{attachment}` has no such view: {e}"
        )))
    })?;
    let content = state.hub.attachment_view(id, view).await?;
    let content_type = HeaderValue::from_str(content.content_type.as_str())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static("sandbox; default-src 'none'"),
        ),
    ];
    Ok((headers, content.bytes).into_response())
}

/// What the hub says to a bot that calls CreateConversation.
const NO_CREATE: &str = "this hub does not let bots start conversations (CreateConversation): a conversation \
    starts when a customer opens a chat, and the hub gives it to a bot with a conversationUpdate. To write to a \
    customer, send to a conversation the bot is in (POST /v3/conversations/{id}/activities)";
/// … GetConversations.
const NO_LIST: &str = "this hub does not list a bot's conversations (GetConversations): a bot learns of each \
    conversation from the conversationUpdate the hub sends when it gives the bot one; keep the conversation \
    reference from that activity";
/// … SendConversationHistory.
const NO_HISTORY: &str = "this hub does not take transcripts from bots (SendConversationHistory): it keeps every \
    conversation's log itself, and agents see it when a conversation is escalated. Send new activities with \
    SendToConversation instead";
/// … DeleteConversationMember.
const NO_REMOVE: &str = "this hub does not remove members (DeleteConversationMember): a conversation is between the \
    customer and whoever owns it. To leave, escalate to an agent (an Escalate command in channelData.tags) or end \
    the conversation (EndConversation)";

/// `POST /v3/conversations` (CreateConversation): refused.
pub(super) async fn create_conversation(_caller: Bot) -> Result<Infallible, ConnectorError> {
    Err(not_offered(NO_CREATE))
}

/// `GET /v3/conversations` (GetConversations): refused.
pub(super) async fn list_conversations(_caller: Bot) -> Result<Infallible, ConnectorError> {
    Err(not_offered(NO_LIST))
}

/// `POST /v3/conversations/{conversation}/activities/history` (SendConversationHistory): refused.
pub(super) async fn send_history(_caller: Bot) -> Result<Infallible, ConnectorError> {
    Err(not_offered(NO_HISTORY))
}

/// `DELETE /v3/conversations/{conversation}/members/{memberId}` (DeleteConversationMember):
/// refused.
pub(super) async fn remove_member(_caller: Bot) -> Result<Infallible, ConnectorError> {
    Err(not_offered(NO_REMOVE))
}

/// The answer to an operation the hub does not offer, once the caller is authenticated (an
/// invalid token is still 401): 501 `NotImplemented`, saying why and what to do instead.
fn not_offered(why: &'static str) -> ConnectorError {
    ConnectorError(Failure::NotImplemented(why))
}

/// The body, or the Connector error for one that could not be read: 413 when it is over the
/// route's limit (axum's default of 2 MB, or [`UPLOAD_BODY_LIMIT`] for uploads).
fn body_of(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ConnectorError> {
    body.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
            ConnectorError(Failure::TooLarge(format!(
                "the request body is over this operation's size limit (an activity: {} bytes; an \
                 attachment: {} bytes once decoded)",
                botframework::MAX_ACTIVITY_BYTES,
                engine::MAX_ATTACHMENT_BYTES
            )))
        }
        other => ConnectorError(Failure::BadSyntax(other.body_text())),
    })
}

/// An attachment id from the path; one that cannot be an id names no attachment.
fn attachment_id(text: &str) -> Result<AttachmentId, ConnectorError> {
    AttachmentId::parse(text).map_err(|_| {
        ConnectorError(Failure::AttachmentNotFound(format!(
            "attachment `{text}` does not exist"
        )))
    })
}
