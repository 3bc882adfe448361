//! What a bot answers in the HTTP response to the hub's `POST /api/messages`.
//!
//! Usually nothing (any 2xx, empty body). Two cases carry a body: an `invoke` turn returns the
//! [`InvokeResponse`] the bot produced, mapped to HTTP status + JSON body, and a turn with
//! `deliveryMode: expectReplies` returns every reply at once as [`ExpectedReplies`] instead of
//! calling the Connector API.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::activity::Activity;

/// The result of an `invoke`: also the `value` of the bot's `invokeResponse` activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvokeResponse {
    /// HTTP status the bot chose; the SDK answers 501 when the bot produced none.
    pub status: u16,
    /// The response body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// The replies of an `expectReplies` turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExpectedReplies {
    /// The replies, in the order the bot sent them.
    #[serde(default)]
    pub activities: Vec<Activity>,
}
