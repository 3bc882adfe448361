//! The running hub. It owns the tenant's configuration, the store and the live state of queue
//! members, and performs the main flow's decisions by calling the pure policies of `domain`
//! (routing, assignment, state transitions) and persisting their results. It knows nothing of
//! HTTP; the `http` crate calls it.

mod bot_auth;
mod bots;
mod channel;
mod cluster;
mod companions;
mod connector_ops;
mod customers;
mod dispatch;
mod events;
mod hub;
mod live;
mod locks;
mod metering;
mod passwords;
mod people;
mod roster;
mod sentiment;
mod supervise;
mod throttle;
mod timers;
mod work;

pub use bot_auth::{BotAuthError, BotTokenPolicy};
pub use bots::{BotCaller, BotEffect, BotSent};
pub use channel::{BOT_UNAVAILABLE_NOTICE, SYSTEM_ACCOUNT_ID, queue_position_text};
pub use companions::{SURVEY_RESPONSE_EVENT, SURVEY_RESPONSE_KEY, SURVEY_UNAVAILABLE_NOTICE, is_suggestion};
pub use connector_ops::{ConnectorRefusal, MAX_ATTACHMENT_BYTES};
pub use customers::{CustomerDelivery, CustomerFile, CustomerSent, CustomerView, customer_sees};
pub use dispatch::{ChannelSettings, ChannelSigner, DeliveryError};
pub use hub::{ConversationDetails, EngineError, Hub, Opened};
pub use live::{LiveEvent, Withdrawn};
pub use metering::{Month, MonthUsage};
pub use passwords::{PasswordChecks, check_password_hash, hash_password};
pub use people::{People, PersonSettings, SESSION_LIFETIME, SignInError, SignedIn};
pub use roster::MemberSnapshot;
pub use supervise::{FORCE_CLOSE_NOTICE, MAX_CLOSE_REASON};
pub use throttle::{SignInLimits, SignInThrottle};
pub use work::{AgentConnection, MAX_AGENT_TEXT, Offer};

/// The current time as a domain timestamp.
pub fn now() -> domain::Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    domain::Timestamp(i64::try_from(ms).unwrap_or(i64::MAX))
}
