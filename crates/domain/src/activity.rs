//! Activities: the events of a conversation, each with a per-conversation sequence number.
//!
//! The sequence number orders a conversation's log and is what Direct Line clients see as the
//! watermark, so it starts at 1, increases by exactly one per stored activity and never repeats.
//! The activity body itself is the Bot Framework shape, typed in the `botframework` crate; here
//! it is carried as the JSON text that is stored.

use serde::{Deserialize, Serialize};

use crate::sentiment::MessageSentiment;
use crate::time::Timestamp;

/// A position in a conversation's log: 1 for the first activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Seq(pub u64);

impl Seq {
    /// Before the first activity: "give me everything".
    pub const ZERO: Seq = Seq(0);

    /// The next position.
    pub fn next(self) -> Seq {
        Seq(self.0 + 1)
    }
}

string_enum! {
    /// Who sent an activity.
    SenderRole {
        Customer => "customer",
        Bot => "bot",
        Agent => "agent",
        /// The hub itself (queue position, agent joined, …).
        System => "system",
    }
}

string_enum! {
    /// Who may see an activity.
    Visibility {
        /// The customer and everyone working the conversation.
        Everyone => "everyone",
        /// Agents and supervisors only: internal notes, a bot's escalation summary.
        AgentsOnly => "agents_only",
    }
}

/// An activity to be appended to a conversation's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewActivity {
    /// The activity id, unique within the conversation; appending an id that is already stored
    /// returns the stored activity instead of a second copy (idempotent retries).
    pub id: String,
    /// The Bot Framework activity type (`message`, `typing`, `event`, …).
    pub kind: String,
    pub sender_role: SenderRole,
    /// The sender's id on the channel (customer id, bot handle, agent name).
    pub sender_id: String,
    pub visibility: Visibility,
    pub timestamp: Timestamp,
    /// The Bot Framework activity as JSON text.
    pub body: String,
    /// A customer message's sentiment (the hub scores every customer message with text); `None`
    /// for everything else. Appending one also sets its conversation's
    /// [`sentiment`](crate::conversation::Conversation::sentiment), in the same transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<MessageSentiment>,
}

/// A stored activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredActivity {
    pub seq: Seq,
    #[serde(flatten)]
    pub activity: NewActivity,
}
