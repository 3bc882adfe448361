//! Storage for Switchboard: one [`Store`] trait, two real backends (SQLite and PostgreSQL) chosen
//! by the database URL, each with its own migrations (`migrations/sqlite`, `migrations/postgres`),
//! and one conformance suite (`tests/conformance.rs`) run against both.
//!
//! The engine holds an `Arc<dyn Store>` from [`open`]. What it persists: conversations (with an
//! optimistic state check on update), the routing decisions taken for them, and each
//! conversation's activity log, whose per-conversation sequence numbers are the Direct Line
//! watermarks: they start at 1, have no gaps, and each activity id is stored once; the files
//! bots upload to a conversation (attachments, bytes and all); and people's sign-in credentials
//! (password hashes) and sessions (token hashes), never a password or a token itself.
//!
//! Every write is *group committed*: one writer task takes whatever requests are queued (up to
//! [`StoreOptions::max_batch`]), runs them in one transaction, commits, and only then answers
//! them, so appends from many conversations share one fsync and a call returns once its write is
//! durable. [`Store::stats`] shows the batching. Reads go through a pool of their own.
//!
//! Modules: `sql` (the one implementation, over sqlx's `Any` driver, with the schema and the
//! backend differences), `writer` (group commit), `rows` (domain ⇄ row conversion), and
//! `database_url`. Their documentation (`cargo doc --document-private-items`) gives the reasons
//! behind each choice.

#![forbid(unsafe_code)]

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use domain::activity::{NewActivity, StoredActivity};
use domain::attachment::{Attachment, AttachmentId, AttachmentSummary, View, ViewContent};
use domain::conversation::Conversation;
use domain::{
    ConversationId, ConversationState, Outcome, Owner, QueueName, RoutingDecision, Seq, TenantName, Timestamp,
    UserName, WorkstreamName,
};

mod cache;
mod cluster;
mod database_url;
mod error;
mod rows;
mod sql;
mod writer;

pub use cluster::{Cluster, ClusterLock, Member, Signal, StoredOffer};
pub use error::StoreError;

/// Which database a store writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// An embedded SQLite file (WAL journal), the default for a single hub.
    Sqlite,
    /// A PostgreSQL server, for production and for several hub nodes.
    Postgres,
}

impl Backend {
    /// The backend's name as shown in logs, metrics and `/readyz`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The backend a database URL names: `sqlite:` / `sqlite://` or `postgres://` /
    /// `postgresql://`. Anything else is [`StoreError::InvalidUrl`], naming the accepted schemes
    /// (and never echoing the URL, which may carry a password).
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        database_url::backend_of(url)
    }
}

/// The file a `sqlite:` database URL names; `None` for PostgreSQL, an in-memory database or a
/// URL that is not valid. The hub keeps its other data (a made-up admin token) beside it, and
/// `serve` locks it so that only one hub serves a SQLite database.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    match Backend::from_url(url).ok()? {
        Backend::Sqlite => database_url::sqlite_target(url).ok()?.file,
        Backend::Postgres => None,
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which conversations [`Store::list_conversations`] returns. Every field left empty matches
/// everything; the fields that are set must all hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationFilter {
    /// Only this tenant's conversations.
    pub tenant: Option<TenantName>,
    /// Only conversations in one of these states; empty means any state.
    pub states: Vec<ConversationState>,
    /// Only conversations of this workstream.
    pub workstream: Option<WorkstreamName>,
    /// Only conversations last routed to this queue.
    pub queue: Option<QueueName>,
    /// Only conversations owned by this bot or agent.
    pub owner: Option<Owner>,
    /// Only conversations created at or after this instant.
    pub created_from: Option<Timestamp>,
    /// Only conversations created before this instant.
    pub created_before: Option<Timestamp>,
    /// Only conversations after this one in the listing order (keyset paging): its creation
    /// time and id, as the last conversation of the previous page had them.
    pub after: Option<(Timestamp, ConversationId)>,
    /// Only conversations closed with this outcome.
    pub outcome: Option<Outcome>,
    /// Only conversations whose customer's id, name or email contains this text (ASCII letters
    /// compared without case).
    pub customer: Option<String>,
    /// Only conversations whose first bot was this one.
    pub bot: Option<UserName>,
    /// Only conversations this agent has owned at some point.
    pub agent: Option<UserName>,
    /// Only conversations with a message whose text contains this (ASCII letters compared
    /// without case).
    pub text: Option<String>,
    /// At most this many, the oldest first.
    pub limit: Option<u32>,
}

impl ConversationFilter {
    /// A filter that matches every conversation.
    pub fn all() -> Self {
        Self::default()
    }

    /// Restricts to `tenant`.
    pub fn tenant(mut self, tenant: TenantName) -> Self {
        self.tenant = Some(tenant);
        self
    }

    /// Adds `state` to the accepted states.
    pub fn state(mut self, state: ConversationState) -> Self {
        self.states.push(state);
        self
    }

    /// Restricts to `workstream`.
    pub fn workstream(mut self, workstream: WorkstreamName) -> Self {
        self.workstream = Some(workstream);
        self
    }

    /// Restricts to conversations last routed to `queue`.
    pub fn queue(mut self, queue: QueueName) -> Self {
        self.queue = Some(queue);
        self
    }

    /// Restricts to conversations owned by `owner`.
    pub fn owner(mut self, owner: Owner) -> Self {
        self.owner = Some(owner);
        self
    }

    /// Restricts to conversations created in `from .. before`.
    pub fn created(mut self, from: Option<Timestamp>, before: Option<Timestamp>) -> Self {
        self.created_from = from;
        self.created_before = before;
        self
    }

    /// Continues after `last` (the last conversation of the previous page).
    pub fn after(mut self, last: &Conversation) -> Self {
        self.after = Some((last.created_at, last.id));
        self
    }

    /// Returns at most `limit` conversations.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// One routing decision as stored with its conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingRecord {
    /// When the decision was taken.
    pub at: Timestamp,
    /// The queue chosen, the rule that chose it and the trace of every rule evaluated.
    pub decision: RoutingDecision,
}

/// The result of appending an activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The activity's position in its conversation's log.
    pub seq: Seq,
    /// True when an activity with the same id was already stored: nothing new was written and
    /// `seq` is the stored activity's.
    pub duplicate: bool,
}

/// A signed-in person's session. Only the SHA-256 of the session token is stored (hex), so a copy
/// of the database does not let anyone sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The SHA-256 of the session token, in hex: the key the session is found by.
    pub token_hash: String,
    /// Who signed in.
    pub user: UserName,
    /// When the session was started.
    pub created_at: Timestamp,
    /// From this instant on the session is treated as absent.
    pub expires_at: Timestamp,
}

/// Counters that show group commit at work (for tests, `/metrics` and the benchmark).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Activities stored (idempotent repeats not counted).
    pub appends: u64,
    /// Appends answered with an already stored activity's seq.
    pub duplicates: u64,
    /// Write requests of any kind (appends, conversation writes, routing records) answered by a
    /// committed transaction.
    pub writes: u64,
    /// Write transactions committed; each one is a group commit of one or more write requests.
    pub transactions: u64,
    /// The most write requests committed by one transaction.
    pub largest_batch: u64,
}

impl StoreStats {
    /// Write requests per committed transaction on average (0 before the first commit).
    pub fn writes_per_transaction(&self) -> f64 {
        if self.transactions == 0 {
            0.0
        } else {
            self.writes as f64 / self.transactions as f64
        }
    }
}

/// Tuning knobs for [`open_with`]; [`open`] uses the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// The most write requests committed in one transaction.
    pub max_batch: usize,
    /// How many write requests may wait for the writer before senders are made to wait.
    pub queue_capacity: usize,
    /// Connections kept for reads (the writer has one more of its own).
    pub read_connections: u32,
    /// On PostgreSQL, the connections that may hold cluster locks at once (see
    /// [`Cluster`]).
    pub lock_connections: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_batch: 1_000,
            queue_capacity: 10_000,
            read_connections: 8,
            lock_connections: 16,
        }
    }
}

/// Switchboard's persistent state, behind one interface whichever database holds it.
///
/// Every write (conversations, routing records, activities, attachments, credentials, sessions)
/// is durable when its call returns; reads see every write whose call has returned.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug + 'static {
    /// Which database this store writes to.
    fn backend(&self) -> Backend;

    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores a new conversation. An id that is already stored is [`StoreError::Conflict`].
    async fn insert_conversation(&self, conversation: &Conversation) -> Result<(), StoreError>;

    /// The conversation with this id, if stored.
    async fn get_conversation(&self, id: ConversationId) -> Result<Option<Conversation>, StoreError>;

    /// Replaces a stored conversation, but only while its stored state is still `expected`:
    /// otherwise [`StoreError::Conflict`] and nothing changes (another writer got there first).
    /// An unknown id is [`StoreError::NotFound`]. `created_at` is never changed.
    async fn update_conversation(
        &self,
        conversation: &Conversation,
        expected: ConversationState,
    ) -> Result<(), StoreError>;

    /// The conversations `filter` selects, ordered by `created_at`, then id.
    async fn list_conversations(&self, filter: &ConversationFilter) -> Result<Vec<Conversation>, StoreError>;

    /// How many conversations `filter` selects (its `after` and `limit` ignored).
    async fn count_conversations(&self, filter: &ConversationFilter) -> Result<u64, StoreError>;

    /// Bot sessions of `tenant` whose first bot was invoked in `from .. before`, by first bot:
    /// each conversation a bot engaged counts once, however many bots it had.
    async fn bot_sessions(
        &self,
        tenant: &TenantName,
        from: Timestamp,
        before: Timestamp,
    ) -> Result<Vec<(UserName, u64)>, StoreError>;

    /// Stores a routing decision with its conversation ([`StoreError::NotFound`] if unknown).
    async fn record_routing(
        &self,
        conversation: ConversationId,
        at: Timestamp,
        decision: &RoutingDecision,
    ) -> Result<(), StoreError>;

    /// Every routing decision stored for a conversation, in the order they were recorded (empty
    /// for an unknown conversation).
    async fn routing_history(&self, conversation: ConversationId) -> Result<Vec<RoutingRecord>, StoreError>;

    /// Appends an activity to a conversation's log and returns its seq once it is durable.
    ///
    /// Idempotent on the activity id within the conversation: appending an id that is already
    /// stored stores nothing and returns the stored seq with `duplicate: true`. Seqs start at 1
    /// and have no gaps. An unknown conversation is [`StoreError::NotFound`]; an activity with an
    /// empty id or a NUL character is [`StoreError::Invalid`]. Appends are group committed, and
    /// one failing append never fails the others committed with it.
    async fn append_activity(
        &self,
        conversation: ConversationId,
        activity: NewActivity,
    ) -> Result<Appended, StoreError>;

    /// Up to `limit` activities of a conversation with a seq greater than `after`, by seq
    /// (empty for an unknown conversation).
    async fn activities_after(
        &self,
        conversation: ConversationId,
        after: Seq,
        limit: u32,
    ) -> Result<Vec<StoredActivity>, StoreError>;

    /// The activity of a conversation stored with id `id` (its log-row id, as appended), if any.
    async fn activity(&self, conversation: ConversationId, id: &str) -> Result<Option<StoredActivity>, StoreError>;

    /// Stores an uploaded attachment with the conversation it was uploaded to, durably, through
    /// the same group-commit writer as every other write. An unknown conversation is
    /// [`StoreError::NotFound`]; an id that is already stored is [`StoreError::Conflict`] and
    /// keeps the first; a name with a NUL character is [`StoreError::Invalid`]. The store puts no
    /// limit on the size: the engine does. Taken by value, so the bytes are moved, not copied.
    async fn insert_attachment(&self, attachment: Attachment) -> Result<(), StoreError>;

    /// An attachment's name, type and the size of each view, without reading its bytes.
    async fn attachment_summary(&self, id: AttachmentId) -> Result<Option<AttachmentSummary>, StoreError>;

    /// The bytes of one view of an attachment, exactly as stored, with the attachment's type;
    /// `None` for an unknown attachment or a view it does not have (no thumbnail).
    async fn attachment_view(&self, id: AttachmentId, view: View) -> Result<Option<ViewContent>, StoreError>;

    /// A person's stored password hash (argon2 PHC string), set with
    /// [`set_password_hash`](Store::set_password_hash); `None` for a person without one.
    async fn password_hash(&self, user: &UserName) -> Result<Option<String>, StoreError>;

    /// Sets or replaces a person's password hash (durable through the writer like every write)
    /// and deletes every session of that user, in the same transaction (a new password signs
    /// everyone out). A hash that is empty or contains a NUL character is [`StoreError::Invalid`].
    async fn set_password_hash(&self, user: &UserName, hash: &str, at: Timestamp) -> Result<(), StoreError>;

    /// Stores a new session. A token hash already stored is [`StoreError::Conflict`] and keeps the
    /// first; a token hash that is empty or contains a NUL character is [`StoreError::Invalid`].
    async fn insert_session(&self, session: &Session) -> Result<(), StoreError>;

    /// The session with this token hash, if stored and not expired at `now` (expired ones, those
    /// with `expires_at <= now`, are treated as absent). A token hash that is empty or contains a
    /// NUL character is [`StoreError::Invalid`], as on every method taking one.
    async fn session(&self, token_hash: &str, now: Timestamp) -> Result<Option<Session>, StoreError>;

    /// Deletes one session (no error if absent), durably, through the writer.
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;

    /// Group-commit counters since the store was opened.
    fn stats(&self) -> StoreStats;

    /// The cluster this store's node belongs to: `Some` on PostgreSQL, where several hub nodes
    /// may share the database; `None` on SQLite, which serves one node.
    fn cluster(&self) -> Option<Arc<Cluster>> {
        None
    }

    /// Graceful shutdown: commits and answers every write already accepted, stops the writer
    /// task and closes the connections. Later calls fail with [`StoreError::Closed`]; closing
    /// again does nothing.
    async fn close(&self);
}

/// Opens the store a database URL names, with default [`StoreOptions`].
///
/// `sqlite:PATH` (or `sqlite://PATH`, `sqlite:///ABSOLUTE/PATH`) opens — creating it and its
/// directory if missing — one SQLite file in WAL mode; `sqlite::memory:` an in-memory database
/// (for tests; it vanishes on close). `postgres://…` / `postgresql://…` connects to PostgreSQL.
/// Either way the backend's migrations are run (running them again is harmless) and the
/// group-commit writer is started.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    open_with(url, StoreOptions::default()).await
}

/// [`open`] with explicit [`StoreOptions`].
pub async fn open_with(url: &str, options: StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(sql::SqlStore::open(url, options).await?))
}
