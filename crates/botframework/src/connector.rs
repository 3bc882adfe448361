//! Connector API v3 bodies: what bots send to and receive from the hub's `serviceUrl`.
//!
//! The generated SDK clients accept only the success statuses of the swagger and deserialize
//! anything else as [`ErrorResponse`], so every error the hub returns on these routes (and on
//! Direct Line, which shares the shape) must be one of these. The codes are free strings on the
//! wire; [`ErrorCode`] names the ones we emit and keeps any other verbatim.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::account::ChannelAccount;
use crate::activity::Activity;

/// The id of a created or updated resource (activity, attachment); the body of every 2xx `POST`/`PUT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceResponse {
    /// The resource id.
    pub id: String,
}

impl ResourceResponse {
    /// A response naming `id`.
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into() }
    }
}

/// Body of `POST v3/conversations` (CreateConversation, used for proactive messages).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationParameters {
    /// Whether this is a group conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_group: Option<bool>,
    /// The bot creating the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<ChannelAccount>,
    /// The members to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<ChannelAccount>>,
    /// Topic of a group conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    /// Tenant to create the conversation in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// An optional first activity to send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<Box<Activity>>,
    /// Channel-specific payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_data: Option<Value>,
    /// Fields this crate does not model, preserved verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Response of CreateConversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationResourceResponse {
    /// The new conversation's id.
    pub id: String,
    /// The service URL to use for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_url: Option<String>,
    /// The id of the first activity, when one was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<String>,
}

/// A conversation and its members, an entry of [`ConversationsResult`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationMembers {
    /// Conversation id.
    pub id: String,
    /// Its members.
    #[serde(default)]
    pub members: Vec<ChannelAccount>,
}

/// Response of `GET v3/conversations`: one page of the bot's conversations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationsResult {
    /// Token for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
    /// The conversations on this page.
    #[serde(default)]
    pub conversations: Vec<ConversationMembers>,
}

/// Response of `GET v3/conversations/{id}/pagedmembers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PagedMembersResult {
    /// Token for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
    /// The members on this page.
    #[serde(default)]
    pub members: Vec<ChannelAccount>,
}

/// A list of activities: body of `POST v3/conversations/{id}/activities/history`, and the
/// `transcript` of a `handoff` activity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// The activities, oldest first.
    #[serde(default)]
    pub activities: Vec<Activity>,
}

/// Body of `POST v3/conversations/{id}/attachments` (UploadAttachment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentData {
    /// MIME type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The content, base64-encoded (kept encoded: the hub stores what it is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_base64: Option<String>,
    /// A thumbnail, base64-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_base64: Option<String>,
}

/// Response of `GET v3/attachments/{id}`: metadata and the available views.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentInfo {
    /// File name.
    pub name: String,
    /// MIME type.
    #[serde(rename = "type")]
    pub content_type: String,
    /// Views that can be fetched at `v3/attachments/{id}/views/{viewId}`.
    pub views: Vec<AttachmentView>,
}

/// One view of an attachment (`original`, `thumbnail`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentView {
    /// View id, used in the view URL.
    pub view_id: String,
    /// Size in bytes.
    pub size: u64,
}

string_enum! {
    /// `error.code` values the hub emits on the Connector and Direct Line APIs.
    pub enum ErrorCode {
        /// A request parameter or body field is invalid.
        BadArgument => "BadArgument",
        /// The body is not valid JSON or not the expected shape.
        BadSyntax => "BadSyntax",
        /// No such conversation (or it has ended).
        ConversationNotFound => "ConversationNotFound",
        /// No such activity in the conversation.
        ActivityNotFound => "ActivityNotFound",
        /// No such member in the conversation.
        MemberNotFound => "MemberNotFound",
        /// No such attachment.
        AttachmentNotFound => "AttachmentNotFound",
        /// Missing or invalid credentials.
        Unauthorized => "Unauthorized",
        /// Valid credentials that do not grant this operation.
        Forbidden => "Forbidden",
        /// The Direct Line token has expired (403).
        TokenExpired => "TokenExpired",
        /// The activity exceeds the size limit.
        MessageSizeTooBig => "MessageSizeTooBig",
        /// The bot failed or is unreachable (Direct Line 502).
        BotError => "BotError",
        /// The bot did not answer in time (Direct Line 502/504).
        BotTimeout => "BotTimeout",
        /// The operation exists in the protocol but the hub does not implement it.
        NotImplemented => "NotImplemented",
        /// Anything else that went wrong inside the hub; the message carries no internals.
        ServiceError => "ServiceError",
    }
}

/// The body of every non-2xx Connector or Direct Line response: `{"error": {code, message}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error.
    pub error: ErrorBody,
}

impl ErrorResponse {
    /// An error with a stable `code` and a human `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorBody {
                code,
                message: message.into(),
                inner_http_error: None,
            },
        }
    }

    /// Adds the status (and body) of a failed inner HTTP call, e.g. to the bot.
    pub fn with_inner_http_error(mut self, status_code: u16, body: Option<Value>) -> Self {
        self.error.inner_http_error = Some(InnerHttpError { status_code, body });
        self
    }
}

/// The `error` object of an [`ErrorResponse`] (swagger `Error`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// Human-readable message; may change between versions.
    pub message: String,
    /// The failed inner HTTP call, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inner_http_error: Option<InnerHttpError>,
}

/// Status and body of an inner HTTP call that failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InnerHttpError {
    /// HTTP status code.
    pub status_code: u16,
    /// Body, when there was one.
    pub body: Option<Value>,
}
