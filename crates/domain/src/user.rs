//! Users: people (agents, supervisors, admins) and bot users.
//!
//! A bot is a user like an agent so that it can be a queue member and be "assigned" a
//! conversation, but it carries the Bot Framework identity the hub needs to call it (app id,
//! messaging endpoint) and its capacity is never consumed.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::names::{NameError, UserName, validate_name};

string_enum! {
    /// What a person may do. Roles are ordered: a supervisor can do what an agent can, an admin
    /// what a supervisor can.
    Role {
        Agent => "agent",
        Supervisor => "supervisor",
        Admin => "admin",
    }
}

/// Units of work an agent can hold at once; a conversation takes the units its workstream sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Capacity(pub u32);

impl Capacity {
    /// `self - used`, or zero when `used` exceeds it (possible after a forced assignment).
    pub fn free_after(self, used: Capacity) -> Capacity {
        Capacity(self.0.saturating_sub(used.0))
    }
}

impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} units", self.0)
    }
}

/// The name shown to customers and colleagues: 1–256 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    /// Validates a display name.
    pub fn new(s: impl Into<String>) -> Result<Self, NameError> {
        let s = s.into();
        validate_name(&s, 256)?;
        Ok(Self(s))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DisplayName {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        Self::new(s)
    }
}

impl From<DisplayName> for String {
    fn from(n: DisplayName) -> String {
        n.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a bot's messaging endpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("`{0}` is not an absolute URL: {1}")]
    Invalid(String, String),
    #[error("`{0}` must use http or https")]
    Scheme(String),
}

/// A bot's messaging endpoint: an absolute `http`/`https` URL the hub POSTs activities to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Endpoint(url::Url);

impl Endpoint {
    /// Parses and checks an endpoint URL.
    pub fn parse(s: &str) -> Result<Self, EndpointError> {
        let url = url::Url::parse(s).map_err(|e| EndpointError::Invalid(s.to_owned(), e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(EndpointError::Scheme(s.to_owned()));
        }
        Ok(Self(url))
    }

    /// The URL.
    pub fn url(&self) -> &url::Url {
        &self.0
    }
}

impl TryFrom<String> for Endpoint {
    type Error = EndpointError;
    fn try_from(s: String) -> Result<Self, EndpointError> {
        Self::parse(&s)
    }
}

impl From<Endpoint> for String {
    fn from(e: Endpoint) -> String {
        e.0.into()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// The Bot Framework identity of a bot user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotProfile {
    /// The bot's Microsoft App ID (empty for a bot in anonymous development mode).
    pub app_id: String,
    /// Where the hub POSTs activities (`…/api/messages`).
    pub endpoint: Endpoint,
    /// The `channelId` the bot sees on every activity. `directline` by default, because the Bot
    /// Framework SDKs enable cards and suggested actions for it.
    pub channel_id: String,
    /// When true, only activities the bot marks `channelData.deliveryMode = "bridged"` reach the
    /// customer, as in Omnichannel; when false (the default) every message does.
    pub require_bridged: bool,
}

impl BotProfile {
    /// The channel id bots see unless configured otherwise.
    pub const DEFAULT_CHANNEL_ID: &'static str = "directline";

    /// Whether the bot runs in anonymous (development) mode: no app id, so the hub signs nothing
    /// and expects no token from it.
    pub fn is_anonymous(&self) -> bool {
        self.app_id.is_empty()
    }
}

/// Whether a user is a person or a bot, with what only that kind has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UserKind {
    /// A person, with a role and the capacity they can hold.
    Human { role: Role, capacity: Capacity },
    /// A bot user; its capacity is never consumed.
    Bot(BotProfile),
}

/// A user of the hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The handle (login name, or bot handle), unique within the tenant.
    pub name: UserName,
    /// Shown to customers in the chat.
    pub display_name: DisplayName,
    #[serde(flatten)]
    pub kind: UserKind,
}

impl User {
    /// Whether this is a bot user.
    pub fn is_bot(&self) -> bool {
        matches!(self.kind, UserKind::Bot(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_absolute_http_urls() {
        assert!(Endpoint::parse("http://127.0.0.1:3978/api/messages").is_ok());
        assert!(matches!(
            Endpoint::parse("/api/messages"),
            Err(EndpointError::Invalid(..))
        ));
        assert!(matches!(
            Endpoint::parse("ftp://bot/api"),
            Err(EndpointError::Scheme(_))
        ));
    }

    #[test]
    fn roles_parse_from_their_spelling() {
        assert_eq!("supervisor".parse::<Role>().unwrap(), Role::Supervisor);
        let err = "boss".parse::<Role>().unwrap_err();
        assert!(err.to_string().contains("agent, supervisor, admin"), "{err}");
        assert!(Role::Admin > Role::Agent);
    }
}
