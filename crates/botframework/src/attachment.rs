//! What an activity carries besides text: attachments, suggested actions, card actions, entities.
//!
//! Card contents stay as JSON (`Attachment::content`): the hub relays cards, it does not render
//! them, and a typed view is available through [`Attachment::content_as`] and the
//! [`cards`](crate::cards) module when a caller does need one.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

string_enum! {
    /// How a client should lay out several attachments (`attachmentLayout`).
    pub enum AttachmentLayout {
        /// One under another (the default).
        List => "list",
        /// Side by side, scrollable.
        Carousel => "carousel",
    }
}

string_enum! {
    /// What a [`CardAction`] does when clicked (sdk `botframework-cards.md`).
    pub enum CardActionType {
        /// Opens `value` as a URL.
        OpenUrl => "openUrl",
        /// Sends `value` as a visible message from the user.
        ImBack => "imBack",
        /// Sends `value` to the bot without showing it.
        PostBack => "postBack",
        /// Plays audio at `value`.
        PlayAudio => "playAudio",
        /// Plays video at `value`.
        PlayVideo => "playVideo",
        /// Shows the image at `value`.
        ShowImage => "showImage",
        /// Downloads the file at `value`.
        DownloadFile => "downloadFile",
        /// Starts an OAuth sign-in at `value`.
        Signin => "signin",
        /// Places a call to `value`.
        Call => "call",
        /// Sends a message with separate `text`, `displayText` and `value`.
        MessageBack => "messageBack",
    }
}

/// A file or card attached to an activity (swagger `Attachment`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// MIME type of the file, or a card content type such as
    /// [`cards::HERO_CARD`](crate::cards::HERO_CARD).
    pub content_type: String,
    /// Where the content can be fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_url: Option<String>,
    /// Inline content (a card's JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A thumbnail URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    /// Fields this crate does not model, preserved verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Attachment {
    /// An attachment pointing at a URL, as the hub builds for Direct Line uploads.
    pub fn from_url(content_type: impl Into<String>, content_url: impl Into<String>, name: Option<String>) -> Self {
        Self {
            content_type: content_type.into(),
            content_url: Some(content_url.into()),
            content: None,
            name,
            thumbnail_url: None,
            extra: Map::new(),
        }
    }

    /// An inline card: `content` is the card serialized as JSON.
    pub fn card<T: Serialize>(content_type: impl Into<String>, card: &T) -> Result<Self, serde_json::Error> {
        Ok(Self {
            content_type: content_type.into(),
            content_url: None,
            content: Some(serde_json::to_value(card)?),
            name: None,
            thumbnail_url: None,
            extra: Map::new(),
        })
    }

    /// Reads `content` as a typed card (missing content reads as JSON `null`).
    pub fn content_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        match &self.content {
            Some(content) => T::deserialize(content),
            None => T::deserialize(&Value::Null),
        }
    }
}

/// Actions offered as buttons under a message; they vanish once one is used (swagger `SuggestedActions`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuggestedActions {
    /// Ids of the recipients who should see the actions; everyone when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Vec<String>>,
    /// The actions.
    #[serde(default)]
    pub actions: Vec<CardAction>,
    /// Fields this crate does not model, preserved verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A clickable action on a card or in suggested actions (swagger `CardAction`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardAction {
    /// What clicking does.
    #[serde(rename = "type")]
    pub kind: CardActionType,
    /// Button label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Icon URL shown next to the label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Alternate text for `image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_alt_text: Option<String>,
    /// Text sent to the bot (`messageBack`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Text shown in the transcript when clicked (`messageBack`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_text: Option<String>,
    /// The action's parameter: a URL, a string, or an object for `postBack`/`messageBack`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Channel-specific data for this action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_data: Option<Value>,
    /// Fields this crate does not model, preserved verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CardAction {
    /// An `imBack` button: clicking sends `value` as the user's message.
    pub fn im_back(title: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(CardActionType::ImBack, title, Value::String(value.into()))
    }

    /// An `openUrl` button.
    pub fn open_url(title: impl Into<String>, url: impl Into<String>) -> Self {
        Self::new(CardActionType::OpenUrl, title, Value::String(url.into()))
    }

    /// An action of any kind with a title and value.
    pub fn new(kind: CardActionType, title: impl Into<String>, value: Value) -> Self {
        Self {
            kind,
            title: Some(title.into()),
            image: None,
            image_alt_text: None,
            text: None,
            display_text: None,
            value: Some(value),
            channel_data: None,
            extra: Map::new(),
        }
    }
}

/// Metadata about an activity, such as a mention or Web Chat's `ClientCapabilities` (swagger `Entity`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// The entity type (an IRI or a short name such as `mention`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Every other property of the entity, verbatim.
    #[serde(flatten)]
    pub properties: Map<String, Value>,
}

impl Entity {
    /// An entity of `kind` with no properties yet.
    pub fn new(kind: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            properties: Map::new(),
        }
    }
}
