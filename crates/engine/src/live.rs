//! The hub's live events for people: offers, conversations changing hands or state, new
//! transcript items, presence. One broadcast for the whole hub; each agent's or supervisor's
//! connection filters what it may see (the `http` crate does, with the caller's role). Like the
//! per-conversation streams of `events`, this is only the push: a connection that lags is told
//! so and reloads from the API, where the store is the source of truth.

use std::sync::Arc;

use domain::activity::StoredActivity;
use domain::conversation::Conversation;
use domain::{ConversationId, Presence, QueueName, Timestamp, UserName};
use tokio::sync::broadcast;

/// How many events a slow connection may fall behind before it is told it lagged.
const CAPACITY: usize = 4096;

/// Why an offer was taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawn {
    /// The agent declined it.
    Declined,
    /// Nobody answered within the workstream's offer timeout.
    TimedOut,
    /// The conversation ended (the customer left) before anyone accepted.
    Ended,
    /// The agent went into a presence the workstream does not offer work in (not a decline).
    Unavailable,
    /// A supervisor assigned the conversation (to this agent or to another).
    Assigned,
}

impl Withdrawn {
    /// The spelling used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Withdrawn::Declined => "declined",
            Withdrawn::TimedOut => "timed_out",
            Withdrawn::Ended => "ended",
            Withdrawn::Unavailable => "unavailable",
            Withdrawn::Assigned => "assigned",
        }
    }
}

/// Something people watching the hub may need to know at once.
#[derive(Debug, Clone)]
pub enum LiveEvent {
    /// `agent` is offered `conversation` from `queue` until `expires_at`.
    Offer {
        conversation: ConversationId,
        agent: UserName,
        queue: QueueName,
        expires_at: Timestamp,
    },
    /// The offer of `conversation` to `agent` no longer stands.
    OfferWithdrawn {
        conversation: ConversationId,
        agent: UserName,
        reason: Withdrawn,
    },
    /// A conversation changed (state, queue or owner), as stored now.
    Conversation(Arc<Conversation>),
    /// A new item of a conversation's transcript.
    Activity {
        conversation: ConversationId,
        activity: Arc<StoredActivity>,
    },
    /// The customer's sentiment in `conversation` changed with a new message.
    Sentiment {
        conversation: ConversationId,
        sentiment: domain::Sentiment,
    },
    /// A person's presence changed.
    Presence { user: UserName, presence: Presence },
}

/// The hub-wide broadcast.
#[derive(Debug)]
pub(crate) struct Live {
    sender: broadcast::Sender<Arc<LiveEvent>>,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Live {
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.sender.subscribe()
    }

    /// Sends `event` to every connection; nobody listening is fine.
    pub(crate) fn publish(&self, event: LiveEvent) {
        if self.sender.receiver_count() > 0 {
            let _ = self.sender.send(Arc::new(event));
        }
    }
}
