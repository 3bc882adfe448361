//! Who and where: `ChannelAccount`, `ConversationAccount` and `ConversationReference`.
//!
//! These are the addressing parts of an activity. The bot SDKs swap `from` and `recipient` to reply
//! and rebuild callback URLs from `conversation.id` and `serviceUrl`, so the ids here are the ones
//! the hub must keep stable for a conversation's whole life. Unknown fields (Teams' `userRole`,
//! newer swagger `properties`, …) are kept in `extra` so nothing a sender wrote is lost.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

string_enum! {
    /// `role` of a [`ChannelAccount`] (swagger `RoleTypes`).
    pub enum RoleType {
        /// A person.
        User => "user",
        /// A bot.
        Bot => "bot",
        /// A bot acting as a skill of another bot.
        Skill => "skill",
    }
}

/// A participant on the channel: the user, the bot, or an agent (swagger `ChannelAccount`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelAccount {
    /// The participant's id on this channel; `recipient.id` is the bot's identity in the conversation.
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What kind of participant this is; Web Chat infers it when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<RoleType>,
    /// The account's Entra (AAD) object id, when the channel knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_object_id: Option<String>,
    /// Fields this crate does not model, preserved verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChannelAccount {
    /// An account with just an id.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: None,
            role: None,
            aad_object_id: None,
            extra: Map::new(),
        }
    }

    /// Sets the display name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the role.
    pub fn with_role(mut self, role: RoleType) -> Self {
        self.role = Some(role);
        self
    }
}

/// The conversation an activity belongs to (swagger `ConversationAccount`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationAccount {
    /// The conversation id; the SDK puts it in every Connector callback path, so keep it URL-safe.
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether more than two participants were present when the activity was generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_group: Option<bool>,
    /// Channel-specific conversation kind (e.g. Teams' `personal`/`channel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_type: Option<String>,
    /// The tenant the conversation lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Role of the entity behind the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<RoleType>,
    /// Entra (AAD) object id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_object_id: Option<String>,
    /// Fields this crate does not model, preserved verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ConversationAccount {
    /// A conversation with just an id.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: None,
            is_group: None,
            conversation_type: None,
            tenant_id: None,
            role: None,
            aad_object_id: None,
            extra: Map::new(),
        }
    }
}

/// A point in a conversation, enough to address a reply or a proactive message
/// (swagger `ConversationReference`; what `TurnContext.getConversationReference` returns).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationReference {
    /// The activity referred to; becomes `replyToId` on a reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<String>,
    /// The user side of the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<ChannelAccount>,
    /// The bot side of the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<ChannelAccount>,
    /// The conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationAccount>,
    /// The channel id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    /// The locale of the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Where Connector calls for this conversation go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_url: Option<String>,
    /// Fields this crate does not model, preserved verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
