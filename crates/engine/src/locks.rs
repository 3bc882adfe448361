//! One lock per conversation, so that changes to a conversation happen one at a time.
//!
//! The store's optimistic check compares the conversation's state, which does not tell two
//! changes apart when both keep it `active` (two escalations of one conversation at the same
//! moment would both pass). Holding this lock from reading a conversation to storing its new
//! state makes such changes sequential; different conversations never wait for each other.
//!
//! On PostgreSQL other nodes change conversations too: after the local lock, the holder also
//! takes the conversation's advisory lock in the database ([`store::Cluster`]), so the rule holds
//! across the cluster. The local lock first keeps a node to one database connection per
//! conversation being changed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use domain::ConversationId;
use tokio::sync::OwnedMutexGuard;

/// The locks of the conversations being changed right now.
#[derive(Debug, Default)]
pub(crate) struct ConversationLocks {
    /// The cluster's locks, on PostgreSQL.
    pub(crate) cluster: Option<Arc<store::Cluster>>,
    /// A plain mutex around the map: it is held only to find or drop an entry, never across an
    /// `.await`. Each entry is an async mutex, because a change holds it across store calls.
    /// Entries exist only while someone holds or waits for them, so the map stays small.
    locks: Mutex<HashMap<ConversationId, Arc<tokio::sync::Mutex<()>>>>,
}

/// Holds one conversation's lock until dropped.
#[derive(Debug)]
pub(crate) struct ConversationGuard<'a> {
    locks: &'a ConversationLocks,
    id: ConversationId,
    guard: Option<OwnedMutexGuard<()>>,
    /// Dropped before the local guard: another node may go on once this one's is released.
    in_cluster: Option<store::ClusterLock>,
}

impl ConversationLocks {
    pub(crate) fn new(cluster: Option<Arc<store::Cluster>>) -> Self {
        Self {
            cluster,
            locks: Mutex::default(),
        }
    }

    /// Waits until no one else is changing conversation `id`.
    pub(crate) async fn lock(&self, id: ConversationId) -> Result<ConversationGuard<'_>, store::StoreError> {
        let mutex = self.map().entry(id).or_default().clone();
        let guard = mutex.lock_owned().await;
        let mut held = ConversationGuard {
            locks: self,
            id,
            guard: Some(guard),
            in_cluster: None,
        };
        if let Some(cluster) = &self.cluster {
            held.in_cluster = Some(cluster.lock_conversation(id).await?);
        }
        Ok(held)
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<ConversationId, Arc<tokio::sync::Mutex<()>>>> {
        self.locks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map().len()
    }
}

impl Drop for ConversationGuard<'_> {
    fn drop(&mut self) {
        drop(self.in_cluster.take());
        drop(self.guard.take());
        let mut map = self.locks.map();
        // Only the map's own reference left: nobody holds or awaits it, so forget it. A waiter
        // clones the Arc under the same map lock, so it can never be removed under a waiter.
        if map.get(&self.id).is_some_and(|m| Arc::strong_count(m) == 1) {
            map.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn changes_to_one_conversation_run_one_at_a_time_and_leave_no_entry_behind() {
        let locks = Arc::new(ConversationLocks::default());
        let id = ConversationId(uuid::Uuid::from_u128(1));
        let inside = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (locks, inside) = (locks.clone(), inside.clone());
            tasks.push(tokio::spawn(async move {
                let _guard = locks.lock(id).await.unwrap();
                assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders at once");
                tokio::task::yield_now().await;
                inside.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(locks.len(), 0);
    }

    #[tokio::test]
    async fn different_conversations_do_not_wait_for_each_other() {
        let locks = ConversationLocks::default();
        let _a = locks.lock(ConversationId(uuid::Uuid::from_u128(1))).await.unwrap();
        let b = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            locks.lock(ConversationId(uuid::Uuid::from_u128(2))),
        )
        .await;
        assert!(b.is_ok());
    }
}
