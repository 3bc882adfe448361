//! What this node does with what the other nodes of a cluster did (PostgreSQL only; see
//! `store::Cluster`): an activity another node stored is read from the log and pushed to this
//! node's watchers (a customer's stream, agents' and supervisors' sockets) as if stored here;
//! the hub-wide events of people travel as they are; a customer's message anywhere counts as
//! their activity for the inactivity timer here. After the notification connection was lost,
//! every watched conversation is caught up from the log by sequence number.

use std::sync::Arc;

use domain::activity::StoredActivity;
use domain::{ConversationId, Seq};
use store::Signal;
use tokio::sync::broadcast::error::RecvError;

use crate::hub::Hub;
use crate::live::{LiveEvent, Wire};

/// Activities read per page while catching up.
const PAGE: u32 = 500;

impl Hub {
    /// Follows the other nodes until the hub stops (nothing to do off a cluster).
    pub(crate) fn follow_cluster(self: &Arc<Self>) {
        let Some(cluster) = self.store().cluster() else { return };
        let mut signals = cluster.subscribe();
        let weak = Arc::downgrade(self);
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            loop {
                let signal = tokio::select! {
                    () = stop.cancelled() => return,
                    signal = signals.recv() => signal,
                };
                let Some(hub) = weak.upgrade() else { return };
                match signal {
                    Ok(signal) => hub.follow(signal).await,
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(
                            missed = n,
                            "fell behind the cluster's signals; catching up from the store"
                        );
                        hub.follow(Signal::Resync).await;
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
    }

    async fn follow(self: &Arc<Self>, signal: Signal) {
        match signal {
            Signal::Activity {
                conversation,
                seq,
                customer,
            } => {
                if customer {
                    self.customer_active(conversation, crate::now());
                }
                if self.events.watched(conversation) || self.live.listened() {
                    let after = Seq(seq.0.saturating_sub(1));
                    self.republish(conversation, after, Some(seq)).await;
                }
            }
            Signal::Live(json) => {
                let wire: Wire = match serde_json::from_str(&json) {
                    Ok(wire) => wire,
                    Err(e) => {
                        tracing::warn!(error = %e, "a live event from another node that does not parse");
                        return;
                    }
                };
                let store = self.store().clone();
                let event = wire
                    .into_event(|id| async move { store.get_conversation(id).await.ok().flatten() })
                    .await;
                if let Some(event) = event {
                    if let LiveEvent::Conversation(c) = &event
                        && c.state == domain::ConversationState::Closed
                    {
                        self.forget_pulse(c.id);
                        self.work.forget(c.id);
                    }
                    self.live.publish_here(event);
                }
            }
            Signal::Resync => {
                for (conversation, last) in self.events.all_watched() {
                    self.republish(conversation, last, None).await;
                }
            }
        }
    }

    /// Reads `conversation`'s log after `after` (up to `upto`, or to its end) and publishes each
    /// activity here.
    async fn republish(&self, conversation: ConversationId, mut after: Seq, upto: Option<Seq>) {
        loop {
            let page = match self.store().activities_after(conversation, after, PAGE).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(conversation.id = %conversation, error = %e, "cannot read an activity another node stored");
                    return;
                }
            };
            let Some(last) = page.last().map(|a| a.seq) else { return };
            for stored in page {
                if upto.is_some_and(|u| stored.seq > u) {
                    return;
                }
                self.publish_stored(conversation, Arc::new(stored));
            }
            if upto.is_some_and(|u| last >= u) {
                return;
            }
            after = last;
        }
    }

    /// Pushes a stored activity to this node's watchers and live connections.
    pub(crate) fn publish_stored(&self, conversation: ConversationId, stored: Arc<StoredActivity>) {
        self.live.publish_here(LiveEvent::Activity {
            conversation,
            activity: stored.clone(),
        });
        let sentiment = stored.activity.sentiment;
        self.events.publish(conversation, stored);
        if let Some(scored) = sentiment {
            self.live.publish_here(LiveEvent::Sentiment {
                conversation,
                sentiment: scored.conversation,
            });
        }
    }
}
