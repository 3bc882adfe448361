//! Omnichannel conventions carried in `channelData`: bot commands, tags, bridging, the context event.
//!
//! Bots written for Dynamics 365 Omnichannel (with `OmnichannelBotClient` or by hand) drive
//! escalation through `channelData.tags` and mark customer-visible messages with
//! `channelData.deliveryMode = "bridged"`. `tags` comes in three shapes, all handled by [`Tags`]:
//!
//! * a JSON-encoded **string** holding a command, `{"type":"Escalate","context":{…}}` or
//!   `{"type":"EndConversation","context":{}}` — what the C# sample sends (a nested object is
//!   accepted too, for hand-written bots);
//! * a **comma-separated string** of tags, e.g. `ChannelId-lcw,OmnichannelContextMessage,Hidden`
//!   or `smartbot`;
//! * a JSON **array** of tag strings, as the live chat widget sends.
//!
//! A string that starts with `{` is taken as an attempt at a command, so malformed JSON or an
//! unknown command type there is an error rather than silently "no command": a bot that meant to
//! escalate must learn that it did not.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::activity::{Activity, ActivityType};

/// The `channelData` key holding tags or a command.
pub const TAGS_KEY: &str = "tags";
/// The `channelData` key holding the Omnichannel delivery mode.
pub const DELIVERY_MODE_KEY: &str = "deliveryMode";
/// `channelData.deliveryMode` value marking a bot message the customer should see.
pub const DELIVERY_MODE_BRIDGED: &str = "bridged";
/// Name of the event carrying context variables at conversation start (messaging channels).
pub const START_CONVERSATION_EVENT: &str = "startConversation";
/// Event name the C# handler sample checks for the same context (see omnichannel spec §2.3).
pub const SET_CONTEXT_EVENT: &str = "omnichannelSetContext";
/// Tag marking the context message sent to the bot at conversation start.
pub const TAG_CONTEXT_MESSAGE: &str = "OmnichannelContextMessage";
/// Tag marking a message that must not be shown to the customer.
pub const TAG_HIDDEN: &str = "Hidden";
/// Tag on smart-assist bot replies.
pub const TAG_SMARTBOT: &str = "smartbot";
/// Tag the live chat widget adds to every customer message.
pub const TAG_FROM_CUSTOMER: &str = "FromCustomer";
/// `channelData.sourceChannelId` Omnichannel puts on its context event.
pub const SOURCE_CHANNEL_ID: &str = "omnichannel";
/// The `channelData` key of a call's voice context on its `conversationUpdate`.
pub const VOICE_DATA_KEY: &str = "vnd.microsoft.msdyn.oc.data";
/// The voice-only context variable of the caller's number.
pub const CUSTOMER_PHONE_NUMBER: &str = "CustomerPhoneNumber";
/// The voice-only context variable of the number the caller dialled.
pub const ORGANIZATION_PHONE_NUMBER: &str = "OrganizationPhoneNumber";

/// The tag naming the originating channel, e.g. `ChannelId-lcw`.
pub fn channel_id_tag(channel: &str) -> String {
    format!("ChannelId-{channel}")
}

/// A command a bot gives the hub through `channelData.tags`.
#[derive(Debug, Clone, PartialEq)]
pub enum BotCommand {
    /// Hand the conversation to a human: update these context variables and route again.
    /// Omnichannel documents the values as strings or integers.
    Escalate {
        /// Context variables to set before routing, by name (case-sensitive).
        context: Map<String, Value>,
    },
    /// Close the conversation.
    EndConversation,
}

impl BotCommand {
    /// The command as the JSON string a bot puts in `channelData.tags`, key order as Json.NET
    /// writes it: `{"type":"Escalate","context":{…}}`.
    pub fn to_tags_string(&self) -> String {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            context: &'a Map<String, Value>,
        }
        let empty = Map::new();
        let wire = match self {
            Self::Escalate { context } => Wire {
                kind: "Escalate",
                context,
            },
            Self::EndConversation => Wire {
                kind: "EndConversation",
                context: &empty,
            },
        };
        // A struct of a string and a JSON map always serializes.
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// Reads a command object `{"type": …, "context": {…}}`. The type is matched without regard
    /// to case, as Json.NET's enum converter does; `EndConversation` ignores its context.
    pub fn from_json(value: &Value) -> Result<Self, CommandError> {
        let Some(object) = value.as_object() else {
            return Err(CommandError::NotAnObject {
                found: json_kind(value),
            });
        };
        let kind = object
            .get("type")
            .and_then(Value::as_str)
            .ok_or(CommandError::MissingType)?;
        if kind.eq_ignore_ascii_case("Escalate") {
            let context = match object.get("context") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(context)) => context.clone(),
                Some(other) => {
                    return Err(CommandError::InvalidContext {
                        found: json_kind(other),
                    });
                }
            };
            Ok(Self::Escalate { context })
        } else if kind.eq_ignore_ascii_case("EndConversation") {
            Ok(Self::EndConversation)
        } else {
            Err(CommandError::UnknownType { found: kind.to_owned() })
        }
    }
}

/// Why `channelData.tags` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The string starts with `{` but is not valid JSON.
    #[error("channelData.tags looks like a JSON command but is not valid JSON: {source}")]
    MalformedJson {
        /// The JSON parser's complaint, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The command is JSON but not an object.
    #[error("channelData.tags command must be a JSON object, found {found}")]
    NotAnObject {
        /// The JSON kind found.
        found: &'static str,
    },
    /// The command object has no string `type`.
    #[error("channelData.tags command has no string `type`; expected \"Escalate\" or \"EndConversation\"")]
    MissingType,
    /// The command `type` is not one we know.
    #[error("channelData.tags command type `{found}` is unknown; expected \"Escalate\" or \"EndConversation\"")]
    UnknownType {
        /// The type given.
        found: String,
    },
    /// `context` is present but not an object.
    #[error("channelData.tags command `context` must be a JSON object of variables, found {found}")]
    InvalidContext {
        /// The JSON kind found.
        found: &'static str,
    },
    /// `tags` is neither a string, an array of strings nor a command object.
    #[error("channelData.tags must be a string, an array of strings or a command object, found {found}")]
    InvalidTags {
        /// What was found.
        found: &'static str,
    },
}

/// The meaning of a `channelData.tags` value.
#[derive(Debug, Clone, PartialEq)]
pub enum Tags {
    /// A bot command.
    Command(BotCommand),
    /// Plain tags, in order, trimmed, empty entries dropped.
    List(Vec<String>),
}

impl Tags {
    /// Reads a `tags` value in any of the three shapes described in the module docs.
    /// `null` reads as no tags.
    pub fn parse(value: &Value) -> Result<Self, CommandError> {
        match value {
            Value::Null => Ok(Self::List(Vec::new())),
            Value::String(text) => Self::parse_str(text),
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(tag) => Ok(tag.trim().to_owned()),
                    _ => Err(CommandError::InvalidTags {
                        found: "an array holding a non-string",
                    }),
                })
                .filter(|tag| !matches!(tag, Ok(tag) if tag.is_empty()))
                .collect::<Result<_, _>>()
                .map(Self::List),
            Value::Object(_) => BotCommand::from_json(value).map(Self::Command),
            Value::Bool(_) => Err(CommandError::InvalidTags { found: "a boolean" }),
            Value::Number(_) => Err(CommandError::InvalidTags { found: "a number" }),
        }
    }

    /// Reads a `tags` string: a JSON command, a JSON array of tags, or a comma-separated list.
    pub fn parse_str(text: &str) -> Result<Self, CommandError> {
        let trimmed = text.trim();
        if trimmed.starts_with('{') {
            let value: Value =
                serde_json::from_str(trimmed).map_err(|source| CommandError::MalformedJson { source })?;
            return BotCommand::from_json(&value).map(Self::Command);
        }
        if trimmed.starts_with('[')
            && let Ok(tags) = serde_json::from_str::<Vec<String>>(trimmed)
        {
            return Ok(Self::List(non_empty_trimmed(tags.iter().map(String::as_str))));
        }
        Ok(Self::List(non_empty_trimmed(trimmed.split(','))))
    }

    /// The tags of `activity`, or `None` when it has no `channelData.tags`.
    pub fn of(activity: &Activity) -> Result<Option<Self>, CommandError> {
        activity.channel_data_field(TAGS_KEY).map(Self::parse).transpose()
    }

    /// The command, when these tags are one.
    pub fn command(&self) -> Option<&BotCommand> {
        match self {
            Self::Command(command) => Some(command),
            Self::List(_) => None,
        }
    }

    /// Whether the list holds `tag` exactly (case-sensitive, like Omnichannel's tag constants).
    /// A command holds no tags.
    pub fn contains(&self, tag: &str) -> bool {
        match self {
            Self::Command(_) => false,
            Self::List(tags) => tags.iter().any(|candidate| candidate == tag),
        }
    }
}

fn non_empty_trimmed<'a>(tags: impl Iterator<Item = &'a str>) -> Vec<String> {
    tags.map(str::trim)
        .filter(|tag| !tag.is_empty())
        .map(str::to_owned)
        .collect()
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The command a bot gave in `activity`, if any. Plain tag lists are not commands; a string that
/// tries to be a command and fails is an error.
pub fn command(activity: &Activity) -> Result<Option<BotCommand>, CommandError> {
    Ok(match Tags::of(activity)? {
        Some(Tags::Command(command)) => Some(command),
        Some(Tags::List(_)) | None => None,
    })
}

/// Whether a bot's `activity` carries a message for the customer besides its `channelData`:
/// a `message` with `text` or `speak` that is not blank, at least one attachment, or at least one
/// suggested action — what a client shows or says. A command with none of these (only
/// `channelData.tags`) is addressed to the channel alone; shown, it would be an empty message.
/// Nothing else counts: `value`, `summary`, `entities` and `channelData` are not displayed, and a
/// command on an activity that is not a message (an `event`, `typing`) is the channel's alone.
pub fn has_message_for_customer(activity: &Activity) -> bool {
    let not_blank = |text: &Option<String>| text.as_deref().is_some_and(|t| !t.trim().is_empty());
    activity.kind == ActivityType::Message
        && (not_blank(&activity.text)
            || not_blank(&activity.speak)
            || activity.attachments.as_ref().is_some_and(|a| !a.is_empty())
            || activity
                .suggested_actions
                .as_ref()
                .is_some_and(|s| !s.actions.is_empty()))
}

/// Whether the bot marked `activity` for the customer (`channelData.deliveryMode == "bridged"`).
pub fn is_bridged(activity: &Activity) -> bool {
    activity.channel_data_field(DELIVERY_MODE_KEY).and_then(Value::as_str) == Some(DELIVERY_MODE_BRIDGED)
}

/// Whether `activity`'s tags hold `tag`. Unreadable tags hold nothing.
pub fn has_tag(activity: &Activity, tag: &str) -> bool {
    matches!(Tags::of(activity), Ok(Some(tags)) if tags.contains(tag))
}

/// Marks `activity` as visible to the customer, as `OmnichannelBotClient.BridgeBotMessage` does.
pub fn bridged(mut activity: Activity) -> Activity {
    activity.set_channel_data_field(DELIVERY_MODE_KEY, Value::from(DELIVERY_MODE_BRIDGED));
    activity
}

/// Puts `command` into `activity`'s `channelData.tags` as a JSON string, as
/// `AddEscalationContext`/`AddEndConversationContext` do (overwriting any tags).
pub fn with_command(mut activity: Activity, command: &BotCommand) -> Activity {
    activity.set_channel_data_field(TAGS_KEY, Value::String(command.to_tags_string()));
    activity
}

/// The message a bot sends to escalate: `text` is the summary shown only to the agent, `context`
/// the variables routing runs on (e.g. `{"BotHandoffTopic":"CreditCard"}`).
pub fn escalate_activity(text: impl Into<String>, context: Map<String, Value>) -> Activity {
    with_command(Activity::message(text), &BotCommand::Escalate { context })
}

/// The message a bot sends to end the conversation.
pub fn end_conversation_activity(text: impl Into<String>) -> Activity {
    with_command(Activity::message(text), &BotCommand::EndConversation)
}

/// The context event the hub sends a bot when a conversation starts, in Omnichannel's shape:
/// an `event` named `startConversation` whose `value` holds the context variables and whose
/// `text` holds the same variables JSON-encoded plus `"EventName":"startConversation"`, tagged
/// `ChannelId-<channel>,OmnichannelContextMessage,Hidden`.
///
/// Two deliberate differences from Omnichannel's sample: `channelData` is spelled in camelCase
/// (the JS and Python SDKs do not read Omnichannel's lowercase `channeldata`), and addressing,
/// `id` and an RFC 3339 `timestamp` are left for the hub to stamp like any other activity.
pub fn start_conversation_event(channel: &str, context: Map<String, Value>) -> Activity {
    let mut text_payload = context.clone();
    text_payload.insert("EventName".to_owned(), Value::from(START_CONVERSATION_EVENT));
    let mut activity = Activity::event(START_CONVERSATION_EVENT, Value::Object(context));
    activity.text = Some(Value::Object(text_payload).to_string());
    activity.set_channel_data_field(
        TAGS_KEY,
        Value::String(format!(
            "{},{TAG_CONTEXT_MESSAGE},{TAG_HIDDEN}",
            channel_id_tag(channel)
        )),
    );
    activity.set_channel_data_field("sourceChannelId", Value::from(SOURCE_CHANNEL_ID));
    activity
}
