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

impl Withdrawn {
    fn parse(s: &str) -> Option<Self> {
        [
            Withdrawn::Declined,
            Withdrawn::TimedOut,
            Withdrawn::Ended,
            Withdrawn::Unavailable,
            Withdrawn::Assigned,
        ]
        .into_iter()
        .find(|w| w.as_str() == s)
    }
}

/// A [`LiveEvent`] as it travels to the other nodes of a cluster. Transcript items and sentiment
/// do not travel this way: each node learns of stored activities from the activity channel
/// and reads them (see `cluster`). A conversation travels as its id, read again on arrival.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum Wire {
    Offer {
        conversation: ConversationId,
        agent: UserName,
        queue: QueueName,
        expires_at: Timestamp,
    },
    OfferWithdrawn {
        conversation: ConversationId,
        agent: UserName,
        reason: String,
    },
    Conversation {
        id: ConversationId,
    },
    Presence {
        user: UserName,
        presence: Presence,
    },
}

impl Wire {
    fn of(event: &LiveEvent) -> Option<Wire> {
        Some(match event {
            LiveEvent::Offer {
                conversation,
                agent,
                queue,
                expires_at,
            } => Wire::Offer {
                conversation: *conversation,
                agent: agent.clone(),
                queue: queue.clone(),
                expires_at: *expires_at,
            },
            LiveEvent::OfferWithdrawn {
                conversation,
                agent,
                reason,
            } => Wire::OfferWithdrawn {
                conversation: *conversation,
                agent: agent.clone(),
                reason: reason.as_str().to_owned(),
            },
            LiveEvent::Conversation(c) => Wire::Conversation { id: c.id },
            LiveEvent::Presence { user, presence } => Wire::Presence {
                user: user.clone(),
                presence: *presence,
            },
            LiveEvent::Activity { .. } | LiveEvent::Sentiment { .. } => return None,
        })
    }

    /// The event this stands for; a conversation is read with `load`.
    pub(crate) async fn into_event<F, Fut>(self, load: F) -> Option<LiveEvent>
    where
        F: FnOnce(ConversationId) -> Fut,
        Fut: std::future::Future<Output = Option<Conversation>>,
    {
        Some(match self {
            Wire::Offer {
                conversation,
                agent,
                queue,
                expires_at,
            } => LiveEvent::Offer {
                conversation,
                agent,
                queue,
                expires_at,
            },
            Wire::OfferWithdrawn {
                conversation,
                agent,
                reason,
            } => LiveEvent::OfferWithdrawn {
                conversation,
                agent,
                reason: Withdrawn::parse(&reason)?,
            },
            Wire::Conversation { id } => LiveEvent::Conversation(Arc::new(load(id).await?)),
            Wire::Presence { user, presence } => LiveEvent::Presence { user, presence },
        })
    }
}

/// The hub-wide broadcast.
#[derive(Debug)]
pub(crate) struct Live {
    sender: broadcast::Sender<Arc<LiveEvent>>,
    /// The other nodes, on PostgreSQL: what this node publishes goes to them too.
    pub(crate) cluster: Option<Arc<store::Cluster>>,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            cluster: None,
        }
    }
}

impl Live {
    pub(crate) fn new(cluster: Option<Arc<store::Cluster>>) -> Self {
        Self {
            cluster,
            ..Self::default()
        }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.sender.subscribe()
    }

    /// Whether anyone on this node listens.
    pub(crate) fn listened(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    /// Sends `event` to every connection, on this node and the others; nobody listening is fine.
    pub(crate) fn publish(&self, event: LiveEvent) {
        if let Some(cluster) = &self.cluster
            && let Some(wire) = Wire::of(&event)
            && let Ok(json) = serde_json::to_string(&wire)
        {
            cluster.publish_live(json);
        }
        self.publish_here(event);
    }

    /// Sends `event` to this node's connections only (it came from another node).
    pub(crate) fn publish_here(&self, event: LiveEvent) {
        if self.sender.receiver_count() > 0 {
            let _ = self.sender.send(Arc::new(event));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through_the_wire(event: &LiveEvent) -> Option<LiveEvent> {
        let json = serde_json::to_string(&Wire::of(event)?).unwrap();
        let wire: Wire = serde_json::from_str(&json).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(wire.into_event(|_| async { None }))
    }

    #[test]
    fn offers_withdrawals_and_presence_cross_nodes_unchanged_and_transcript_items_do_not_travel() {
        let conversation = ConversationId(uuid::Uuid::now_v7());
        let agent = UserName::new("alice").unwrap();
        let offer = LiveEvent::Offer {
            conversation,
            agent: agent.clone(),
            queue: QueueName::new("CreditCardQueue").unwrap(),
            expires_at: Timestamp(1_796_000_000_000),
        };
        let Some(LiveEvent::Offer { expires_at, queue, .. }) = through_the_wire(&offer) else {
            panic!("an offer travels")
        };
        assert_eq!(
            (expires_at, queue.as_str()),
            (Timestamp(1_796_000_000_000), "CreditCardQueue")
        );
        for reason in [
            Withdrawn::Declined,
            Withdrawn::TimedOut,
            Withdrawn::Ended,
            Withdrawn::Unavailable,
            Withdrawn::Assigned,
        ] {
            let withdrawn = LiveEvent::OfferWithdrawn {
                conversation,
                agent: agent.clone(),
                reason,
            };
            let Some(LiveEvent::OfferWithdrawn { reason: back, .. }) = through_the_wire(&withdrawn) else {
                panic!("a withdrawal travels")
            };
            assert_eq!(back, reason);
        }
        let presence = LiveEvent::Presence {
            user: agent,
            presence: Presence::Busy,
        };
        assert!(matches!(
            through_the_wire(&presence),
            Some(LiveEvent::Presence {
                presence: Presence::Busy,
                ..
            })
        ));
        let sentiment = LiveEvent::Sentiment {
            conversation,
            sentiment: domain::Sentiment::default(),
        };
        assert!(Wire::of(&sentiment).is_none(), "sentiment follows the activity channel");
    }
}
