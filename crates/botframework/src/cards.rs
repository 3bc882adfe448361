//! Card content types and typed views of the cards the hub has reason to look into.
//!
//! The content-type strings are those of `CardFactory.contentTypes` (botbuilder-js). Only the hero,
//! sign-in and OAuth cards are typed: the hub needs to build a hero card for the demo bot and to
//! recognise authentication cards (Omnichannel does not support them); everything else is relayed
//! as opaque JSON in [`Attachment::content`](crate::Attachment::content).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::attachment::{Attachment, CardAction};

/// `application/vnd.microsoft.card.adaptive`
pub const ADAPTIVE_CARD: &str = "application/vnd.microsoft.card.adaptive";
/// `application/vnd.microsoft.card.hero`
pub const HERO_CARD: &str = "application/vnd.microsoft.card.hero";
/// `application/vnd.microsoft.card.thumbnail`
pub const THUMBNAIL_CARD: &str = "application/vnd.microsoft.card.thumbnail";
/// `application/vnd.microsoft.card.signin`
pub const SIGNIN_CARD: &str = "application/vnd.microsoft.card.signin";
/// `application/vnd.microsoft.card.oauth`
pub const OAUTH_CARD: &str = "application/vnd.microsoft.card.oauth";
/// `application/vnd.microsoft.card.receipt`
pub const RECEIPT_CARD: &str = "application/vnd.microsoft.card.receipt";
/// `application/vnd.microsoft.card.animation`
pub const ANIMATION_CARD: &str = "application/vnd.microsoft.card.animation";
/// `application/vnd.microsoft.card.audio`
pub const AUDIO_CARD: &str = "application/vnd.microsoft.card.audio";
/// `application/vnd.microsoft.card.video`
pub const VIDEO_CARD: &str = "application/vnd.microsoft.card.video";
/// `application/vnd.microsoft.teams.card.o365connector`
pub const O365_CONNECTOR_CARD: &str = "application/vnd.microsoft.teams.card.o365connector";

/// Whether `content_type` is a card that asks the user to authenticate (sign-in or OAuth).
pub fn is_authentication_card(content_type: &str) -> bool {
    content_type == SIGNIN_CARD || content_type == OAUTH_CARD
}

/// A card with one large image, text and buttons (swagger `HeroCard`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeroCard {
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Subtitle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    /// Body text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Images; clients show the first one large.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<CardImage>>,
    /// Buttons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Vec<CardAction>>,
    /// Action when the card itself is tapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tap: Option<CardAction>,
    /// Fields this crate does not model, preserved verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl HeroCard {
    /// Wraps the card in an attachment with the hero content type.
    pub fn into_attachment(self) -> Attachment {
        Attachment {
            content_type: HERO_CARD.to_owned(),
            content_url: None,
            // Strings, card actions and JSON maps always serialize; `ok()` never drops anything.
            content: serde_json::to_value(&self).ok(),
            name: None,
            thumbnail_url: None,
            extra: Map::new(),
        }
    }
}

/// An image on a card (swagger `CardImage`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardImage {
    /// Image URL.
    pub url: String,
    /// Text for screen readers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
    /// Action when the image is tapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tap: Option<CardAction>,
    /// Fields this crate does not model, preserved verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A card asking the user to sign in through a `signin` button (swagger `SigninCard`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigninCard {
    /// Prompt text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The sign-in buttons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Vec<CardAction>>,
    /// Fields this crate does not model, preserved verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A sign-in card bound to an OAuth connection of the bot (`CardFactory.oauthCard`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthCard {
    /// The bot's OAuth connection name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_name: Option<String>,
    /// Prompt text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The sign-in buttons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Vec<CardAction>>,
    /// What a client needs for single sign-on token exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_exchange_resource: Option<TokenExchangeResource>,
    /// Fields this crate does not model, preserved verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The SSO resource of an [`OAuthCard`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenExchangeResource {
    /// Resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Application id URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Identity provider id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// Fields this crate does not model, preserved verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
