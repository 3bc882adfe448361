//! The conversations this process reads most, kept in memory: every customer message, bot reply
//! and agent action reads its conversation, and on SQLite each read is a hop to a connection
//! thread and back — most of the hub's time under load (docs/benchmarks.md, the profile).
//!
//! Write-through and exact, because this process is the database's only writer (one hub per
//! database): an entry is put only after its write was committed, with the value written, and
//! dropped when a write's outcome is unknown (an error). Each conversation's writes and cache
//! fills take the same stripe lock, so a fill that read the database before a concurrent update
//! cannot put the older value back after it. Closed conversations are not kept (they are
//! rarely read again), and the map is bounded: past [`MAX_ENTRIES`] half of it is dropped, which
//! only costs later reads a trip to the database.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};

use domain::conversation::{Conversation, ConversationState};
use domain::{ConversationId, Sentiment};

/// The most conversations kept.
pub(crate) const MAX_ENTRIES: usize = 50_000;
/// Stripe locks for writes and fills, by conversation id.
const STRIPES: usize = 64;

#[derive(Debug)]
pub(crate) struct ConversationCache {
    /// `false` when other processes write the database too (several hub nodes): then nothing
    /// is kept and every read goes to the database.
    enabled: bool,
    entries: Mutex<HashMap<ConversationId, Conversation>>,
    stripes: Vec<tokio::sync::Mutex<()>>,
    hasher: RandomState,
}

impl Default for ConversationCache {
    fn default() -> Self {
        Self {
            enabled: true,
            entries: Mutex::default(),
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl ConversationCache {
    /// A cache that keeps nothing.
    pub(crate) fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<ConversationId, Conversation>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn get(&self, id: ConversationId) -> Option<Conversation> {
        self.entries().get(&id).cloned()
    }

    /// Holds `id`'s stripe: taken around every write of the conversation and every fill.
    pub(crate) async fn stripe(&self, id: ConversationId) -> tokio::sync::MutexGuard<'_, ()> {
        let i = (self.hasher.hash_one(id) as usize) % STRIPES;
        self.stripes[i].lock().await
    }

    /// Keeps `conversation` as committed (call with its stripe held).
    pub(crate) fn put(&self, conversation: &Conversation) {
        if !self.enabled {
            return;
        }
        let mut entries = self.entries();
        if conversation.state == ConversationState::Closed {
            entries.remove(&conversation.id);
            return;
        }
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&conversation.id) {
            let mut keep = false;
            entries.retain(|_, _| {
                keep = !keep;
                keep
            });
        }
        entries.insert(conversation.id, conversation.clone());
    }

    /// Sets a kept conversation's sentiment, as an append just committed it (call with its
    /// stripe held).
    pub(crate) fn set_sentiment(&self, id: ConversationId, sentiment: Sentiment) {
        if let Some(kept) = self.entries().get_mut(&id) {
            kept.sentiment = sentiment;
        }
    }

    /// Drops `id` (its stored value is not known for sure).
    pub(crate) fn forget(&self, id: ConversationId) {
        self.entries().remove(&id);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries().len()
    }
}

#[cfg(test)]
mod tests {
    use domain::conversation::Customer;
    use domain::{Context, TenantName, Timestamp, WorkstreamName};

    use super::*;

    fn conversation(n: u128) -> Conversation {
        Conversation::open(
            ConversationId(uuid::Uuid::from_u128(n)),
            TenantName::new("t").unwrap(),
            WorkstreamName::new("w").unwrap(),
            Customer {
                id: format!("c{n}"),
                name: None,
                email: None,
            },
            Context::new(),
            Timestamp(1),
        )
    }

    #[test]
    fn kept_until_closed_or_forgotten_and_bounded() {
        let cache = ConversationCache::default();
        let mut c = conversation(1);
        cache.put(&c);
        assert_eq!(cache.get(c.id), Some(c.clone()));
        c.state = ConversationState::Closed;
        cache.put(&c);
        assert_eq!(cache.get(c.id), None, "closed conversations are not kept");
        let d = conversation(2);
        cache.put(&d);
        cache.forget(d.id);
        assert_eq!(cache.get(d.id), None);
        for n in 0..(MAX_ENTRIES as u128 + 10) {
            cache.put(&conversation(100 + n));
        }
        assert!(cache.len() <= MAX_ENTRIES, "{}", cache.len());
        assert!(
            cache.get(conversation(100 + MAX_ENTRIES as u128 + 9).id).is_some(),
            "the newest is kept"
        );
    }
}
