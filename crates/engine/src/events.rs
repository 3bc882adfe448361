//! Live activity streams, one per conversation being watched: every activity the hub stores is
//! published to the conversation's watchers (a customer's Direct Line WebSocket; later agents'
//! workspaces). A watcher that falls behind by more than the channel's capacity is told it
//! lagged and reads the log instead, so nothing is lost — the store is the source of truth and
//! this is only the push.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use domain::activity::StoredActivity;
use domain::{ConversationId, Seq};
use tokio::sync::broadcast;

/// How many activities a watcher may fall behind before it must catch up from the store. Small,
/// because every watched conversation allocates its ring up front (an idle conversation's cost
/// is mostly buffers like this one), and a lag loses nothing: the watcher reads the log.
const CAPACITY: usize = 32;

/// One watched conversation: its watchers, and the latest seq published to them.
#[derive(Debug)]
struct Watched {
    sender: broadcast::Sender<Arc<StoredActivity>>,
    last: Seq,
}

/// The watched conversations.
///
/// Activities arrive from this node's own appends and, in a cluster, from other nodes'
/// notifications, so a watcher may see a later seq before an earlier one: a watcher that sees
/// a gap (a seq past the one after its last) reads the log up to it instead.
#[derive(Debug, Default)]
pub(crate) struct Events {
    /// A plain mutex, held only to find, add or drop a channel, never across an `.await`. A
    /// `broadcast` per conversation so each activity is cloned once per watcher of *that*
    /// conversation, not offered to every socket of the hub.
    channels: Mutex<HashMap<ConversationId, Watched>>,
}

impl Events {
    fn channels(&self) -> std::sync::MutexGuard<'_, HashMap<ConversationId, Watched>> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts watching `conversation`: activities stored from now on arrive on the receiver.
    pub(crate) fn subscribe(&self, conversation: ConversationId) -> broadcast::Receiver<Arc<StoredActivity>> {
        self.channels()
            .entry(conversation)
            .or_insert_with(|| Watched {
                sender: broadcast::channel(CAPACITY).0,
                last: Seq::ZERO,
            })
            .sender
            .subscribe()
    }

    /// Whether anyone on this node watches `conversation`.
    pub(crate) fn watched(&self, conversation: ConversationId) -> bool {
        self.channels().contains_key(&conversation)
    }

    /// The watched conversations, each with the latest seq published to its watchers.
    pub(crate) fn all_watched(&self) -> Vec<(ConversationId, Seq)> {
        self.channels().iter().map(|(id, w)| (*id, w.last)).collect()
    }

    /// Publishes a stored activity to `conversation`'s watchers; forgets the channel once nobody
    /// watches any more.
    pub(crate) fn publish(&self, conversation: ConversationId, activity: Arc<StoredActivity>) {
        let mut channels = self.channels();
        if let Some(watched) = channels.get_mut(&conversation) {
            watched.last = watched.last.max(activity.seq);
            if watched.sender.send(activity).is_err() {
                channels.remove(&conversation);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::Timestamp;
    use domain::activity::{NewActivity, SenderRole, Visibility};

    fn activity(seq: u64) -> StoredActivity {
        StoredActivity {
            seq: Seq(seq),
            activity: NewActivity {
                id: format!("a{seq}"),
                kind: "message".into(),
                sender_role: SenderRole::Bot,
                sender_id: "bot".into(),
                visibility: Visibility::Everyone,
                timestamp: Timestamp(0),
                body: "{}".into(),
                sentiment: None,
            },
        }
    }

    #[test]
    fn watchers_get_what_is_published_after_they_subscribe_and_unwatched_channels_are_dropped() {
        let events = Events::default();
        let id = ConversationId(uuid::Uuid::from_u128(1));
        events.publish(id, Arc::new(activity(1)));
        let mut rx = events.subscribe(id);
        events.publish(id, Arc::new(activity(2)));
        assert_eq!(rx.try_recv().unwrap().seq, Seq(2));
        drop(rx);
        events.publish(id, Arc::new(activity(3)));
        assert!(events.channels().is_empty());
    }
}
