//! `Activity`, the one message shape of the Bot Framework, and the small enums it uses.
//!
//! Every field of the swagger `Activity` is modelled; all are optional except `type`. Absent fields
//! stay absent on output, and fields this crate does not know land in [`Activity::extra`] and are
//! written back unchanged, so an activity relayed by the hub (client → bot, bot → client) carries
//! everything its sender put in it. Addressing helpers mirror what the SDK does in
//! `TurnContext.getConversationReference` / `applyConversationReference`, because bots depend on
//! that exact behaviour (e.g. `replyToId` choosing ReplyToActivity over SendToConversation).

use std::io;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::account::{ChannelAccount, ConversationAccount, ConversationReference};
use crate::attachment::{Attachment, AttachmentLayout, Entity, SuggestedActions};
use crate::connector::Transcript;
use crate::timestamp::Timestamp;

string_enum! {
    /// The activity `type` (swagger `ActivityTypes`).
    pub enum ActivityType {
        /// A message with text, attachments or both.
        Message => "message",
        /// A user added or removed the bot from a contact list.
        ContactRelationUpdate => "contactRelationUpdate",
        /// Members joined or left; hub → bot when a conversation starts, never sent to Direct Line clients.
        ConversationUpdate => "conversationUpdate",
        /// The sender is typing; delivered to Direct Line clients over WebSocket only.
        Typing => "typing",
        /// The conversation ended.
        EndOfConversation => "endOfConversation",
        /// A named, one-way event with a `value`.
        Event => "event",
        /// A named request whose response comes back synchronously in the HTTP body.
        Invoke => "invoke",
        /// The bot's answer to an `invoke`, carried as an activity inside the turn.
        InvokeResponse => "invokeResponse",
        /// A request to delete the user's data.
        DeleteUserData => "deleteUserData",
        /// An earlier message was edited.
        MessageUpdate => "messageUpdate",
        /// An earlier message was deleted.
        MessageDelete => "messageDelete",
        /// The bot was installed or uninstalled.
        InstallationUpdate => "installationUpdate",
        /// Reactions were added to or removed from a message.
        MessageReaction => "messageReaction",
        /// A private suggestion to a single recipient.
        Suggestion => "suggestion",
        /// Debugging output; the JS SDK only sends it on the `emulator` channel.
        Trace => "trace",
        /// A hand-off request to another party.
        Handoff => "handoff",
        /// A command to the recipient.
        Command => "command",
        /// The result of a `command`.
        CommandResult => "commandResult",
    }
}

string_enum! {
    /// `textFormat`: how `text` is to be read.
    pub enum TextFormat {
        /// Plain text.
        Plain => "plain",
        /// Markdown (the default when absent).
        Markdown => "markdown",
        /// XML (SSML-like markup).
        Xml => "xml",
    }
}

string_enum! {
    /// `inputHint`: whether the bot wants input after this message.
    pub enum InputHint {
        /// The bot accepts input but does not wait for it.
        AcceptingInput => "acceptingInput",
        /// The bot is busy; input will be ignored.
        IgnoringInput => "ignoringInput",
        /// The bot is waiting for an answer.
        ExpectingInput => "expectingInput",
    }
}

string_enum! {
    /// `deliveryMode`: how the recipient should deliver the bot's replies.
    pub enum DeliveryMode {
        /// Replies are POSTed back to `serviceUrl` (the default).
        Normal => "normal",
        /// Deliver as a notification.
        Notification => "notification",
        /// Replies are buffered and returned in the HTTP response body as `{"activities":[…]}`.
        ExpectReplies => "expectReplies",
        /// Ephemeral delivery.
        Ephemeral => "ephemeral",
        /// Streaming (set by directlinejs when `streaming: true`).
        Stream => "stream",
    }
}

string_enum! {
    /// `importance` of an activity.
    pub enum ActivityImportance {
        /// Low.
        Low => "low",
        /// Normal.
        Normal => "normal",
        /// High.
        High => "high",
    }
}

string_enum! {
    /// `code` of an `endOfConversation` activity: why the conversation ended.
    pub enum EndOfConversationCode {
        /// Unknown reason.
        Unknown => "unknown",
        /// The conversation finished normally.
        CompletedSuccessfully => "completedSuccessfully",
        /// The user cancelled.
        UserCancelled => "userCancelled",
        /// The bot took too long.
        BotTimedOut => "botTimedOut",
        /// The bot sent something invalid.
        BotIssuedInvalidMessage => "botIssuedInvalidMessage",
        /// The channel failed.
        ChannelFailed => "channelFailed",
    }
}

/// A reaction added to or removed from a message (swagger `MessageReaction`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageReaction {
    /// The reaction, e.g. `like` or `plusOne`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Fields this crate does not model, preserved verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A fragment of the replied-to message to highlight (swagger `TextHighlight`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextHighlight {
    /// The text to highlight.
    pub text: String,
    /// Which occurrence, when the text appears several times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrence: Option<i32>,
    /// Fields this crate does not model, preserved verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A programmatic action accompanying a request (swagger `SemanticAction`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SemanticAction {
    /// Action id.
    pub id: String,
    /// `start`, `continue` or `done`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Entities associated with the action, by name.
    #[serde(default)]
    pub entities: Map<String, Value>,
    /// Fields this crate does not model, preserved verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The basic unit of communication of the Bot Framework 3.0 protocol (swagger `Activity`).
///
/// Build one with [`Activity::new`], [`Activity::message`], [`Activity::event`] or
/// [`Activity::reply_to`], then set fields directly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    /// The activity type; the only required field (A2010).
    #[serde(rename = "type")]
    pub kind: ActivityType,
    /// Unique id on the channel; the hub sets it on everything it sends to a bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When the activity was sent, in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// The sender's local time, with its offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_timestamp: Option<Timestamp>,
    /// The sender's IANA time zone, e.g. `America/Los_Angeles`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_timezone: Option<String>,
    /// Set by the bot SDK from validated claims; not meant for the wire, so the hub should not send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<String>,
    /// Base URL of the channel's Connector API; the bot calls back here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_url: Option<String>,
    /// The channel id, compared ordinally (e.g. `directline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    /// The sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ChannelAccount>,
    /// The conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationAccount>,
    /// The recipient; on hub → bot traffic this is the bot's identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<ChannelAccount>,
    /// How `text` is formatted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_format: Option<TextFormat>,
    /// How several attachments are laid out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_layout: Option<AttachmentLayout>,
    /// Members who joined (`conversationUpdate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members_added: Option<Vec<ChannelAccount>>,
    /// Members who left (`conversationUpdate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members_removed: Option<Vec<ChannelAccount>>,
    /// Reactions added (`messageReaction`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reactions_added: Option<Vec<MessageReaction>>,
    /// Reactions removed (`messageReaction`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reactions_removed: Option<Vec<MessageReaction>>,
    /// New conversation topic (`conversationUpdate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    /// Whether earlier history is visible to new members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_disclosed: Option<bool>,
    /// Locale of `text`, a BCP-47 tag such as `en-US`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// The message text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Text to speak.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speak: Option<String>,
    /// Whether the bot expects input after this message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_hint: Option<InputHint>,
    /// Text for channels that cannot render the attachments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Buttons offered under the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_actions: Option<SuggestedActions>,
    /// Files and cards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<Attachment>>,
    /// Metadata entities (mentions, `ClientCapabilities`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<Vec<Entity>>,
    /// Opaque channel-specific data: Web Chat's `clientActivityID`, Omnichannel's `tags` and
    /// `deliveryMode`. Must be echoed back to Direct Line clients unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_data: Option<Value>,
    /// `add` or `remove` (`contactRelationUpdate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The id of the activity this one answers; makes the SDK call ReplyToActivity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to_id: Option<String>,
    /// A descriptive label (`trace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The type of `value` (`trace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_type: Option<String>,
    /// Payload of events, invokes and card submits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Name of the operation; required on `event` (A5001) and `invoke`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A related conversation or activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relates_to: Option<ConversationReference>,
    /// Why the conversation ended (`endOfConversation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<EndOfConversationCode>,
    /// After this instant the activity should not be shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Timestamp>,
    /// Importance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importance: Option<ActivityImportance>,
    /// How replies should be delivered; `expectReplies` changes the bot's HTTP response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_mode: Option<DeliveryMode>,
    /// Phrases speech recognisers should listen for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen_for: Option<Vec<String>>,
    /// Fragments of the replied-to message to highlight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_highlights: Option<Vec<TextHighlight>>,
    /// A programmatic action accompanying the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantic_action: Option<SemanticAction>,
    /// The conversation's transcript (`handoff`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<Transcript>,
    /// Fields this crate does not model, preserved verbatim. Never put a modelled field's name
    /// here: it would be written twice.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Activity {
    /// An activity of `kind` with every other field absent.
    pub fn new(kind: ActivityType) -> Self {
        Self {
            kind,
            id: None,
            timestamp: None,
            local_timestamp: None,
            local_timezone: None,
            caller_id: None,
            service_url: None,
            channel_id: None,
            from: None,
            conversation: None,
            recipient: None,
            text_format: None,
            attachment_layout: None,
            members_added: None,
            members_removed: None,
            reactions_added: None,
            reactions_removed: None,
            topic_name: None,
            history_disclosed: None,
            locale: None,
            text: None,
            speak: None,
            input_hint: None,
            summary: None,
            suggested_actions: None,
            attachments: None,
            entities: None,
            channel_data: None,
            action: None,
            reply_to_id: None,
            label: None,
            value_type: None,
            value: None,
            name: None,
            relates_to: None,
            code: None,
            expiration: None,
            importance: None,
            delivery_mode: None,
            listen_for: None,
            text_highlights: None,
            semantic_action: None,
            transcript: None,
            extra: Map::new(),
        }
    }

    /// A `message` carrying `text`.
    pub fn message(text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            ..Self::new(ActivityType::Message)
        }
    }

    /// An `event` named `name` carrying `value`.
    pub fn event(name: impl Into<String>, value: Value) -> Self {
        Self {
            name: Some(name.into()),
            value: Some(value),
            ..Self::new(ActivityType::Event)
        }
    }

    /// A `typing` indicator.
    pub fn typing() -> Self {
        Self::new(ActivityType::Typing)
    }

    /// An empty `message` addressed as a reply to `incoming` (see [`Activity::in_reply_to`]).
    pub fn reply_to(incoming: &Activity) -> Self {
        Self::new(ActivityType::Message).in_reply_to(incoming)
    }

    /// Addresses this activity as a reply to `incoming`, exactly as the SDK does when a bot
    /// answers a turn: `from`/`recipient` swapped, `conversation`, `channelId` and `serviceUrl`
    /// copied, `replyToId` = the incoming `id`, and `locale` copied unless this activity has one.
    pub fn in_reply_to(mut self, incoming: &Activity) -> Self {
        self.apply_conversation_reference(&incoming.conversation_reference());
        self
    }

    /// The reference to this activity's point in its conversation
    /// (`TurnContext.getConversationReference`): `user` is `from`, `bot` is `recipient`, and
    /// `activityId` is `id` except on `endOfConversation`.
    pub fn conversation_reference(&self) -> ConversationReference {
        ConversationReference {
            activity_id: match self.kind {
                ActivityType::EndOfConversation => None,
                _ => self.id.clone(),
            },
            user: self.from.clone(),
            bot: self.recipient.clone(),
            conversation: self.conversation.clone(),
            channel_id: self.channel_id.clone(),
            locale: self.locale.clone(),
            service_url: self.service_url.clone(),
            extra: Map::new(),
        }
    }

    /// Addresses an *outgoing* activity (bot side → user side) from `reference`, as
    /// `TurnContext.applyConversationReference(activity, reference)` does: `from` = bot,
    /// `recipient` = user, `replyToId` = `activityId` when present. Like the SDK, `channelId`,
    /// `serviceUrl` and `conversation` are overwritten even when the reference lacks them.
    pub fn apply_conversation_reference(&mut self, reference: &ConversationReference) {
        self.apply_common_reference(reference);
        self.from = reference.bot.clone();
        self.recipient = reference.user.clone();
        if let Some(activity_id) = &reference.activity_id {
            self.reply_to_id = Some(activity_id.clone());
        }
    }

    /// Addresses an *incoming* activity (user side → bot) from `reference`, as
    /// `applyConversationReference(activity, reference, true)` does: `from` = user,
    /// `recipient` = bot, `id` = `activityId` when present.
    pub fn apply_incoming_conversation_reference(&mut self, reference: &ConversationReference) {
        self.apply_common_reference(reference);
        self.from = reference.user.clone();
        self.recipient = reference.bot.clone();
        if let Some(activity_id) = &reference.activity_id {
            self.id = Some(activity_id.clone());
        }
    }

    fn apply_common_reference(&mut self, reference: &ConversationReference) {
        self.channel_id = reference.channel_id.clone();
        if self.locale.is_none() {
            self.locale = reference.locale.clone();
        }
        self.service_url = reference.service_url.clone();
        self.conversation = reference.conversation.clone();
    }

    /// `channelData[key]`, when `channelData` is an object holding `key`.
    pub fn channel_data_field(&self, key: &str) -> Option<&Value> {
        self.channel_data.as_ref()?.as_object()?.get(key)
    }

    /// Sets `channelData[key]`, creating `channelData` as an object when absent. A `channelData`
    /// that is not an object (no known sender does that) is replaced by one.
    pub fn set_channel_data_field(&mut self, key: impl Into<String>, value: Value) {
        let data = self.channel_data.get_or_insert_with(|| Value::Object(Map::new()));
        if !data.is_object() {
            *data = Value::Object(Map::new());
        }
        if let Value::Object(map) = data {
            map.insert(key.into(), value);
        }
    }

    /// Web Chat's `channelData.clientActivityID`: it waits for an activity echoing this id (and
    /// carrying a server `id`) before it marks a message as sent.
    pub fn client_activity_id(&self) -> Option<&str> {
        self.channel_data_field("clientActivityID")?.as_str()
    }

    /// The size in bytes of this activity as compact JSON, the measure of
    /// [`MAX_ACTIVITY_BYTES`](crate::validate::MAX_ACTIVITY_BYTES).
    pub fn wire_size(&self) -> usize {
        let mut counter = ByteCounter(0);
        // Writing to a counter cannot fail, and a tree of strings and JSON maps always serializes.
        let _ = serde_json::to_writer(&mut counter, self);
        counter.0
    }
}

/// An `io::Write` that only counts, so measuring an activity does not allocate a copy of it.
struct ByteCounter(usize);

impl io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn incoming() -> Activity {
        serde_json::from_value(json!({
            "type": "message", "id": "act-000122", "timestamp": "2026-01-05T10:00:00.000Z",
            "serviceUrl": "https://hub.example/bf/", "channelId": "directline",
            "from": {"id": "u-42", "name": "User", "role": "user"},
            "conversation": {"id": "conv-abc"},
            "recipient": {"id": "bot-1", "name": "EchoBot", "role": "bot"},
            "text": "hi", "locale": "en-US"
        }))
        .unwrap()
    }

    #[test]
    fn unknown_activity_types_are_kept_verbatim() {
        let activity: Activity = serde_json::from_value(json!({"type": "webchat/join"})).unwrap();
        assert_eq!(activity.kind, ActivityType::Other("webchat/join".into()));
        assert_eq!(
            serde_json::to_value(&activity).unwrap(),
            json!({"type": "webchat/join"})
        );
    }

    #[test]
    fn an_activity_without_type_does_not_deserialize() {
        let error = serde_json::from_value::<Activity>(json!({"text": "hi"})).unwrap_err();
        assert!(error.to_string().contains("missing field `type`"), "{error}");
    }

    #[test]
    fn a_reply_swaps_from_and_recipient_and_points_at_the_incoming_id() {
        let mut reply = Activity::message("Echo: hi").in_reply_to(&incoming());
        reply.input_hint = Some(InputHint::AcceptingInput);
        assert_eq!(
            serde_json::to_value(&reply).unwrap(),
            json!({
                "type": "message", "text": "Echo: hi", "inputHint": "acceptingInput",
                "channelId": "directline", "serviceUrl": "https://hub.example/bf/",
                "conversation": {"id": "conv-abc"},
                "from": {"id": "bot-1", "name": "EchoBot", "role": "bot"},
                "recipient": {"id": "u-42", "name": "User", "role": "user"},
                "replyToId": "act-000122", "locale": "en-US"
            })
        );
    }

    #[test]
    fn a_reply_keeps_its_own_locale() {
        let mut reply = Activity::message("Hola");
        reply.locale = Some("es-ES".into());
        let reply = reply.in_reply_to(&incoming());
        assert_eq!(reply.locale.as_deref(), Some("es-ES"));
    }

    #[test]
    fn end_of_conversation_references_carry_no_activity_id() {
        let mut ended = incoming();
        ended.kind = ActivityType::EndOfConversation;
        assert_eq!(ended.conversation_reference().activity_id, None);
        assert_eq!(
            incoming().conversation_reference().activity_id.as_deref(),
            Some("act-000122")
        );
    }

    #[test]
    fn applying_an_incoming_reference_sets_user_as_sender_and_the_id() {
        let reference = incoming().conversation_reference();
        let mut activity = Activity::new(ActivityType::Event);
        activity.apply_incoming_conversation_reference(&reference);
        assert_eq!(activity.from.unwrap().id, "u-42");
        assert_eq!(activity.recipient.unwrap().id, "bot-1");
        assert_eq!(activity.id.as_deref(), Some("act-000122"));
        assert_eq!(activity.reply_to_id, None);
    }

    #[test]
    fn set_channel_data_field_creates_the_object_and_keeps_other_keys() {
        let mut activity = Activity::message("x");
        activity.set_channel_data_field("deliveryMode", json!("bridged"));
        activity.set_channel_data_field("clientActivityID", json!("c-1"));
        assert_eq!(
            activity.channel_data,
            Some(json!({"deliveryMode": "bridged", "clientActivityID": "c-1"}))
        );
        assert_eq!(activity.client_activity_id(), Some("c-1"));
    }

    #[test]
    fn wire_size_is_the_compact_json_length() {
        let activity = incoming();
        assert_eq!(activity.wire_size(), serde_json::to_vec(&activity).unwrap().len());
    }
}
