//! The Bot Framework protocol as types, knowing nothing of the hub.
//!
//! Switchboard is a Bot Framework *channel* for bots and a Direct Line 3.0 *service* for chat
//! clients; this crate is the wire both sides speak, in the way Ruma is Matrix's for Conduit:
//!
//! * [`activity`] — [`Activity`] and its enums, plus the SDK's reply-addressing rules;
//! * [`account`], [`attachment`], [`cards`] — the parts an activity is made of;
//! * [`connector`] — Connector API v3 bodies (bot → hub) and the shared [`ErrorResponse`];
//! * [`directline`] — Direct Line 3.0 bodies (client → hub);
//! * [`turn`] — what a bot answers to the hub's `POST /api/messages`;
//! * [`omnichannel`] — Omnichannel's `channelData` conventions: escalation and end commands,
//!   tags, bridging, the `startConversation` context event;
//! * [`validate`] — checks on inbound activities, with errors naming the field;
//! * [`auth`] — channel JWTs both ways: signing keys and their rotation, the JWKS and OpenID
//!   metadata the hub publishes, and validation of bots' bearer tokens.
//!
//! Every type keeps fields it does not model (`extra`), so a round trip through the hub never
//! drops what a client or bot sent. There is no I/O here: no HTTP, no async, no hub types.

#![forbid(unsafe_code)]

#[macro_use]
mod macros;

pub mod account;
pub mod activity;
pub mod attachment;
pub mod auth;
pub mod cards;
pub mod connector;
pub mod directline;
pub mod omnichannel;
pub mod timestamp;
pub mod turn;
pub mod validate;

pub use account::{ChannelAccount, ConversationAccount, ConversationReference, RoleType};
pub use activity::{
    Activity, ActivityImportance, ActivityType, DeliveryMode, EndOfConversationCode, InputHint, TextFormat,
};
pub use attachment::{Attachment, AttachmentLayout, CardAction, CardActionType, Entity, SuggestedActions};
pub use connector::{ErrorCode, ErrorResponse, ResourceResponse};
pub use timestamp::{Timestamp, TimestampError};
pub use validate::{ActivityError, MAX_ACTIVITY_BYTES};
