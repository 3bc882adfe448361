//! Direct Line 3.0 bodies: what chat clients (directlinejs, Web Chat) send to and get from the hub.
//!
//! Shapes follow `directline-3.0.json`; the request bodies are the ones directlinejs actually sends.
//! Note `expires_in` is snake_case on the wire while every other field is camelCase. Errors use the
//! Connector [`ErrorResponse`], re-exported here.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::activity::Activity;

pub use crate::connector::{ErrorBody, ErrorCode, ErrorResponse, ResourceResponse};

/// Token lifetime the hub should issue; directlinejs refreshes at half of it (every 15 minutes).
pub const DEFAULT_TOKEN_LIFETIME_SECS: u32 = 1800;

/// Content type of the `activity` part of a multipart upload.
pub const ACTIVITY_CONTENT_TYPE: &str = "application/vnd.microsoft.activity";

/// The WebSocket keep-alive frame: an empty text message. directlinejs ignores falsy frames, but a
/// non-empty frame without `activities` makes it throw, so never send `{}` as a keep-alive.
pub const KEEPALIVE_FRAME: &str = "";

/// A conversation, or a token for one: the response of token generate/refresh, start and reconnect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    /// The conversation id.
    pub conversation_id: String,
    /// A token scoped to this conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Seconds until `token` expires.
    #[serde(rename = "expires_in", default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u32>,
    /// Pre-authorized WebSocket URL; fresh on every start and reconnect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_url: Option<String>,
    /// Id of the bot's reference grammar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_grammar_id: Option<String>,
    /// Entity tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
}

/// Activities after a watermark: the body of `GET …/activities` and each WebSocket frame.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivitySet {
    /// The activities, in conversation order.
    pub activities: Vec<Activity>,
    /// The highest watermark in this set; clients send it back verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<String>,
}

/// The user a Direct Line request names. Unlike [`ChannelAccount`](crate::ChannelAccount) the id
/// is optional: directlinejs sends `{"user":{}}` when the page set no user id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DirectLineUser {
    /// User id; ids starting with `dl_` must come from the token, never from the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Fields this crate does not model, preserved verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of `POST /v3/directline/tokens/generate` (swagger `TokenParameters`); optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenParameters {
    /// The user to bind into the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<DirectLineUser>,
    /// Origins allowed to use the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_origins: Option<Vec<String>>,
    /// Entity tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
    /// Fields this crate does not model, preserved verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of `POST /v3/directline/conversations` as directlinejs sends it; optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StartConversationRequest {
    /// The user starting the conversation (`userIdOnStartConversation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<DirectLineUser>,
    /// The client's locale (`localeOnStartConversation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Fields this crate does not model, preserved verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Response of `GET /v3/directline/session/getsessionid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIdResponse {
    /// The session id.
    pub session_id: String,
}
