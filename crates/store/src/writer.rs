//! The group-commit writer: the one task that writes to the database.
//!
//! Every write request (append an activity, insert or update a conversation, record a routing
//! decision, store an uploaded attachment, set a password hash, store or delete a session) is sent
//! over a bounded channel to this task together with a oneshot for its answer.
//! The task waits for a first request, takes whatever else is already queued (up to
//! `max_batch`, without waiting for more), runs all of it in **one transaction**, commits, and only
//! then answers every request. One fsync thus covers many appends from many conversations, and
//! a caller is answered only once its write is durable. Under light load a batch is a single
//! request and nothing waits; under heavy load batches grow by themselves while the previous
//! commit is in flight.
//!
//! The appends of a batch cost a few statements however many there are (one per 500 for the
//! first two, one per 200 for the last): look up which activity ids are already stored
//! (idempotent retries), bump each conversation's `last_seq` by its number of new activities
//! (`UPDATE … FROM (VALUES …) RETURNING`, which also reveals unknown conversations), hand out the
//! seqs in arrival order, and insert the new rows with multi-row `INSERT`s. Seqs are therefore
//! gap-free and never reused: they are assigned inside the transaction that stores the rows, and
//! a rolled-back transaction rolls back `last_seq` too. On PostgreSQL the `UPDATE` locks each
//! conversation row until commit, so several hub nodes cannot hand out the same seq; a node
//! appending an id that another node is storing at the same instant gets a unique-violation
//! error rather than `duplicate: true` (its retry then finds the stored copy).
//!
//! Expected outcomes (duplicate id, stale state, unknown conversation) are answered without an
//! SQL error, so they never spoil a batch. If a batch fails anyway with an error from the
//! database (a constraint nobody expected, a trigger), each of its requests is retried in a
//! transaction of its own, so only the culprit fails (unless the retries keep failing, which
//! means the database is at fault, not a request). A connection lost before COMMIT was sent
//! (the server restarted) retries the whole batch on a fresh connection, a few times over about
//! 4 s: nothing of it was committed, so that is exact. A failure during COMMIT (outcome unknown)
//! or one that outlasts the retries fails the whole batch with [`StoreError::Database`]; the
//! writer logs it and keeps serving.
//!
//! Why all writes, not only appends, go through this task: with SQLite there is one writer at a
//! time, and a second writer waiting on `busy_timeout` could starve behind back-to-back group
//! commits; with one writing connection "database is locked" cannot happen within the process.
//! Conversation writes are rare, so queueing them costs nothing and they get group commit too.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use domain::activity::NewActivity;
use domain::{ConversationState, Seq};

use sqlx::{AnyConnection, AnyPool, Connection};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::rows::{AttachmentRow, ConversationRow, SessionRow};
use crate::{Appended, Backend, StoreError, StoreStats};

/// Rows per statement, so that a statement stays under both backends' parameter limits
/// (SQLite 32,766, PostgreSQL 65,535) and their planners see modest statements. Statements of
/// exactly a full chunk are kept prepared (they recur under load); the shorter ones, whose SQL
/// differs with every batch size, are prepared once and dropped so they do not crowd the
/// connection's statement cache.
const LOOKUP_CHUNK: usize = 500;
const BUMP_CHUNK: usize = 500;
const INSERT_CHUNK: usize = 200;

/// After this many requests of a failed batch in a row fail again on their own, the failure is
/// taken to be the database's, not theirs, and the rest of the batch is not retried.
const MAX_CONSECUTIVE_FAILURES: usize = 3;

/// A write the writer task performs.
#[derive(Debug)]
pub(crate) enum Op {
    /// Append an activity to a conversation's log.
    Append {
        conversation: String,
        activity: NewActivity,
    },
    /// Insert a new conversation (`Conflict` if its id exists).
    InsertConversation(Box<ConversationRow>),
    /// Replace a conversation if its stored state is `expected`.
    UpdateConversation {
        row: Box<ConversationRow>,
        expected: ConversationState,
    },
    /// Store an uploaded attachment with its conversation (`Conflict` if its id exists).
    InsertAttachment(Box<AttachmentRow>),
    /// Store a routing decision with its conversation.
    RecordRouting {
        conversation: String,
        at: i64,
        queue: String,
        rule: Option<String>,
        decision: String,
    },
    /// Set or replace a user's password hash and delete every session of that user.
    SetPasswordHash { user: String, hash: String, at: i64 },
    /// Store a new session (`Conflict` if its token hash exists).
    InsertSession(Box<SessionRow>),
    /// Delete a session, if stored.
    DeleteSession { token_hash: String },
}

/// What an [`Op`] came to, once its transaction committed.
#[derive(Debug)]
enum Outcome {
    Append(Result<Appended, StoreError>),
    Done(Result<(), StoreError>),
}

/// Where the answer to an [`Op`] goes.
#[derive(Debug)]
enum Reply {
    Append(oneshot::Sender<Result<Appended, StoreError>>),
    Done(oneshot::Sender<Result<(), StoreError>>),
}

impl Reply {
    fn send(self, outcome: Outcome) {
        // A send fails only when the caller stopped waiting; the write stands regardless, and a
        // retry with the same activity id finds it.
        match (self, outcome) {
            (Reply::Append(tx), Outcome::Append(r)) => drop(tx.send(r)),
            (Reply::Done(tx), Outcome::Done(r)) => drop(tx.send(r)),
            (reply, outcome) => {
                tracing::error!(?outcome, "store writer bug: an outcome does not match its request");
                reply.fail(StoreError::Closed);
            }
        }
    }

    fn fail(self, error: StoreError) {
        match self {
            Reply::Append(tx) => drop(tx.send(Err(error))),
            Reply::Done(tx) => drop(tx.send(Err(error))),
        }
    }
}

#[derive(Debug)]
struct Request {
    op: Op,
    reply: Reply,
}

#[derive(Debug)]
enum Message {
    Write(Request),
    /// Stop accepting requests, commit those already queued, then exit.
    Shutdown,
}

/// Group-commit counters, written by the writer task and read by anyone.
#[derive(Debug, Default)]
struct Counters {
    appends: AtomicU64,
    duplicates: AtomicU64,
    writes: AtomicU64,
    transactions: AtomicU64,
    largest_batch: AtomicU64,
}

/// The handle the store keeps on its writer task.
#[derive(Debug)]
pub(crate) struct Writer {
    /// Requests to the writer task. `mpsc` because every request handler sends and one task
    /// receives; bounded so that a burst beyond what the database absorbs makes senders wait
    /// instead of growing memory without limit.
    tx: mpsc::Sender<Message>,
    /// The writer task, taken and awaited by the first `shutdown`. A tokio `Mutex` because
    /// `shutdown` holds it across that await, so a concurrent second `shutdown` returns only
    /// once the writer has really stopped.
    task: Mutex<Option<JoinHandle<()>>>,
    /// Counters the writer task updates after each commit. Atomics (relaxed: each counter stands
    /// alone) so that reading them for `/metrics` never contends with the append path.
    counters: Arc<Counters>,
}

impl Writer {
    /// Starts the writer task on `pool`, which should be a pool of one connection that nothing
    /// else writes through.
    /// With `notify_as` (PostgreSQL), every committed append is announced to the cluster in its
    /// own transaction (see [`crate::cluster`]), tagged with that node id.
    pub(crate) fn spawn(
        pool: AnyPool,
        backend: Backend,
        max_batch: usize,
        queue_capacity: usize,
        notify_as: Option<String>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let task = WriterTask {
            pool,
            backend,
            max_batch: max_batch.max(1),
            counters: counters.clone(),
            notify_as,
        };
        let task = tokio::spawn(task.run(rx));
        Self {
            tx,
            task: Mutex::new(Some(task)),
            counters,
        }
    }

    /// Appends an activity; answers once the append is committed.
    pub(crate) async fn append(&self, conversation: String, activity: NewActivity) -> Result<Appended, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Op::Append { conversation, activity }, Reply::Append(tx))
            .await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Performs a conversation write; answers once it is committed.
    pub(crate) async fn write(&self, op: Op) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.submit(op, Reply::Done(tx)).await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn submit(&self, op: Op, reply: Reply) -> Result<(), StoreError> {
        self.tx
            .send(Message::Write(Request { op, reply }))
            .await
            .map_err(|_| StoreError::Closed)
    }

    /// The counters so far.
    pub(crate) fn stats(&self) -> StoreStats {
        let c = &self.counters;
        StoreStats {
            appends: c.appends.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            writes: c.writes.load(Ordering::Relaxed),
            transactions: c.transactions.load(Ordering::Relaxed),
            largest_batch: c.largest_batch.load(Ordering::Relaxed),
        }
    }

    /// Commits every request already accepted, then stops the writer task and closes its pool.
    pub(crate) async fn shutdown(&self) {
        let mut task = self.task.lock().await;
        let Some(handle) = task.take() else { return };
        // If the send fails the task has already stopped on its own; awaiting it is still right.
        let _ = self.tx.send(Message::Shutdown).await;
        if let Err(e) = handle.await {
            tracing::error!(error = %e, "the store writer task failed");
        }
    }
}

/// The state the writer task owns.
struct WriterTask {
    /// One connection, used only by this task.
    pool: AnyPool,
    backend: Backend,
    max_batch: usize,
    counters: Arc<Counters>,
    /// The node id appends are announced under (PostgreSQL only).
    notify_as: Option<String>,
}

impl WriterTask {
    async fn run(self, mut rx: mpsc::Receiver<Message>) {
        let mut messages = Vec::with_capacity(self.max_batch);
        // `recv_many` waits for the first message, then takes what is queued without waiting:
        // exactly the batching rule. It returns 0 once the channel is closed and drained.
        while rx.recv_many(&mut messages, self.max_batch).await > 0 {
            let mut batch = Vec::with_capacity(messages.len());
            for message in messages.drain(..) {
                match message {
                    Message::Write(request) => batch.push(request),
                    // Closing the receiver refuses new requests; those already queued are still
                    // received, and committed, before `recv_many` reports the end.
                    Message::Shutdown => rx.close(),
                }
            }
            if !batch.is_empty() {
                self.commit_batch(batch).await;
            }
        }
        self.pool.close().await;
    }

    async fn commit_batch(&self, batch: Vec<Request>) {
        let ops: Vec<&Op> = batch.iter().map(|r| &r.op).collect();
        let mut result = self.transact(&ops).await;
        // The connection was lost before COMMIT was sent (the server restarted, the network
        // blipped): nothing of the batch was committed, so running it again on a fresh
        // connection is exact, not a guess. A few tries, about 4 s in all, then it fails.
        for pause_ms in RECONNECT_PAUSES_MS {
            match &result {
                Err(Failed::BeforeCommit(e)) if is_connection_loss(e) => {
                    tracing::warn!(error = %e, batch.size = batch.len(), pause_ms, "the database connection was lost before commit; retrying the batch");
                    tokio::time::sleep(std::time::Duration::from_millis(pause_ms)).await;
                    result = self.transact(&ops).await;
                }
                _ => break,
            }
        }
        match result.map_err(Failed::into_inner) {
            Ok(outcomes) => {
                self.count(&outcomes);
                for (request, outcome) in batch.into_iter().zip(outcomes) {
                    request.reply.send(outcome);
                }
            }
            Err(e) if batch.len() > 1 && matches!(e, sqlx::Error::Database(_)) => {
                tracing::warn!(error = %e, batch.size = batch.len(), "a write batch failed; retrying its requests one by one");
                self.commit_one_by_one(batch).await;
            }
            Err(e) => {
                tracing::error!(error = %e, batch.size = batch.len(), "a write batch failed");
                let error = StoreError::from(e);
                for request in batch {
                    request.reply.fail(error.clone());
                }
            }
        }
    }

    /// Commits each request in a transaction of its own, so that one bad request fails alone.
    ///
    /// A failure that is not about one request (the connection dropped, the disk is full, another
    /// process holds the SQLite lock) would fail every retry, each after its own timeout; so once
    /// a failure is clearly not a refusal of one request — not a database error, or
    /// [`MAX_CONSECUTIVE_FAILURES`] in a row — the rest of the batch fails with it unretried.
    async fn commit_one_by_one(&self, batch: Vec<Request>) {
        let mut broken: Option<StoreError> = None;
        let mut consecutive_failures = 0;
        for request in batch {
            if let Some(error) = &broken {
                request.reply.fail(error.clone());
                continue;
            }
            match self.transact(&[&request.op]).await.map_err(Failed::into_inner) {
                Ok(mut outcomes) => {
                    consecutive_failures = 0;
                    self.count(&outcomes);
                    if let Some(outcome) = outcomes.pop() {
                        request.reply.send(outcome);
                    }
                }
                Err(e) => {
                    consecutive_failures += 1;
                    let systemic =
                        !matches!(e, sqlx::Error::Database(_)) || consecutive_failures >= MAX_CONSECUTIVE_FAILURES;
                    tracing::error!(error = %e, "a write request failed");
                    let error = StoreError::from(e);
                    if systemic {
                        broken = Some(error.clone());
                    }
                    request.reply.fail(error);
                }
            }
        }
    }

    fn count(&self, outcomes: &[Outcome]) {
        let c = &self.counters;
        let (mut appends, mut duplicates) = (0, 0);
        for outcome in outcomes {
            match outcome {
                Outcome::Append(Ok(Appended { duplicate: false, .. })) => appends += 1,
                Outcome::Append(Ok(Appended { duplicate: true, .. })) => duplicates += 1,
                _ => {}
            }
        }
        c.appends.fetch_add(appends, Ordering::Relaxed);
        c.duplicates.fetch_add(duplicates, Ordering::Relaxed);
        c.writes.fetch_add(outcomes.len() as u64, Ordering::Relaxed);
        c.transactions.fetch_add(1, Ordering::Relaxed);
        c.largest_batch.fetch_max(outcomes.len() as u64, Ordering::Relaxed);
    }

    /// Runs `ops` in one transaction and commits it.
    async fn transact(&self, ops: &[&Op]) -> Result<Vec<Outcome>, Failed> {
        let mut conn = self.pool.acquire().await.map_err(Failed::BeforeCommit)?;
        let conn: &mut AnyConnection = &mut conn;
        let begun = match self.backend {
            // Take the write lock up front rather than on the first write, so that the
            // transaction can never be refused half-way because another process wrote meanwhile.
            Backend::Sqlite => Connection::begin_with(conn, "BEGIN IMMEDIATE").await,
            Backend::Postgres => Connection::begin(conn).await,
        };
        let mut tx = begun.map_err(Failed::BeforeCommit)?;
        match apply(&mut tx, self.backend, self.notify_as.as_deref(), ops).await {
            Ok(outcomes) => {
                tx.commit().await.map_err(Failed::InCommit)?;
                Ok(outcomes)
            }
            Err(e) => {
                if let Err(rollback) = tx.rollback().await {
                    tracing::warn!(error = %rollback, "rolling back a failed write batch failed");
                }
                Err(Failed::BeforeCommit(e))
            }
        }
    }
}

/// How long the writer waits before each new try of a batch whose connection was lost.
const RECONNECT_PAUSES_MS: [u64; 5] = [100, 250, 500, 1_000, 2_000];

/// Where a transaction failed: before COMMIT was sent (nothing was committed) or during it (the
/// outcome is unknown, so it is never retried blindly).
#[derive(Debug)]
enum Failed {
    BeforeCommit(sqlx::Error),
    InCommit(sqlx::Error),
}

impl Failed {
    fn into_inner(self) -> sqlx::Error {
        match self {
            Failed::BeforeCommit(e) | Failed::InCommit(e) => e,
        }
    }
}

/// Whether `e` says the connection to the database is gone rather than that a statement was
/// refused: an I/O error, a pool that could not hand out a connection, or PostgreSQL's
/// "terminating connection" and connection-exception codes (classes 57P and 08).
pub(crate) fn is_connection_loss(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("57P") || code.starts_with("08")),
        _ => false,
    }
}

/// Performs `ops` on a connection inside a transaction, returning one outcome per op in order.
async fn apply(
    conn: &mut AnyConnection,
    backend: Backend,
    notify_as: Option<&str>,
    ops: &[&Op],
) -> Result<Vec<Outcome>, sqlx::Error> {
    let mut outcomes: Vec<Option<Outcome>> = (0..ops.len()).map(|_| None).collect();
    let mut appends: Vec<(usize, &str, &NewActivity)> = Vec::new();
    // Conversation writes first, in arrival order: a conversation inserted by a request of this
    // batch then already exists for the appends of the same batch.
    for (i, op) in ops.iter().enumerate() {
        let outcome = match op {
            Op::Append { conversation, activity } => {
                appends.push((i, conversation, activity));
                continue;
            }
            Op::InsertConversation(row) => insert_conversation(conn, row).await?,
            Op::UpdateConversation { row, expected } => update_conversation(conn, row, *expected).await?,
            Op::RecordRouting {
                conversation,
                at,
                queue,
                rule,
                decision,
            } => record_routing(conn, conversation, *at, queue, rule.as_deref(), decision).await?,
            Op::InsertAttachment(row) => insert_attachment(conn, row).await?,
            Op::SetPasswordHash { user, hash, at } => set_password_hash(conn, user, hash, *at).await?,
            Op::InsertSession(row) => insert_session(conn, row).await?,
            Op::DeleteSession { token_hash } => delete_session(conn, token_hash).await?,
        };
        outcomes[i] = Some(Outcome::Done(outcome));
    }
    if !appends.is_empty() {
        let keys: Vec<(&str, &str)> = appends.iter().map(|(_, c, a)| (*c, a.id.as_str())).collect();
        let activities: Vec<&NewActivity> = appends.iter().map(|(_, _, a)| *a).collect();
        let results = append_all(conn, backend, notify_as, &keys, &activities).await?;
        for ((i, conversation, _), result) in appends.iter().zip(results) {
            let result = result.ok_or_else(|| StoreError::NotFound {
                what: "conversation",
                id: (*conversation).to_owned(),
            });
            outcomes[*i] = Some(Outcome::Append(result));
        }
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or(Outcome::Done(Err(StoreError::Closed))))
        .collect())
}

async fn insert_conversation(
    conn: &mut AnyConnection,
    row: &ConversationRow,
) -> Result<Result<(), StoreError>, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO conversations (id, tenant, workstream, customer, context, state, queue, owner_kind, owner_name, outcome, \
         escalated_by, agent_engaged, bot_engaged, created_at, updated_at, sentiment, milestones, first_bot, agents, \
         bot_at, survey, csat) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
         $21, $22) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&row.id)
    .bind(&row.tenant)
    .bind(&row.workstream)
    .bind(&row.customer)
    .bind(&row.context)
    .bind(&row.state)
    .bind(&row.queue)
    .bind(&row.owner_kind)
    .bind(&row.owner_name)
    .bind(&row.outcome)
    .bind(&row.escalated_by)
    .bind(row.agent_engaged)
    .bind(row.bot_engaged)
    .bind(row.created_at)
    .bind(row.updated_at)
    .bind(row.sentiment)
    .bind(&row.milestones)
    .bind(&row.first_bot)
    .bind(&row.agents)
    .bind(row.bot_at)
    .bind(&row.survey)
    .bind(row.csat)
    .execute(&mut *conn)
    .await?;
    Ok(if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            what: "conversation",
            detail: format!("conversation `{}` already exists", row.id),
        })
    })
}

async fn update_conversation(
    conn: &mut AnyConnection,
    row: &ConversationRow,
    expected: ConversationState,
) -> Result<Result<(), StoreError>, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE conversations SET tenant = $2, workstream = $3, customer = $4, context = $5, state = $6, queue = $7, \
         owner_kind = $8, owner_name = $9, outcome = $10, escalated_by = $11, agent_engaged = $12, bot_engaged = $13, \
         updated_at = $14, milestones = $16, first_bot = $17, agents = $18, bot_at = $19, \
         survey = $20, csat = $21 WHERE id = $1 AND state = $15",
    )
    .bind(&row.id)
    .bind(&row.tenant)
    .bind(&row.workstream)
    .bind(&row.customer)
    .bind(&row.context)
    .bind(&row.state)
    .bind(&row.queue)
    .bind(&row.owner_kind)
    .bind(&row.owner_name)
    .bind(&row.outcome)
    .bind(&row.escalated_by)
    .bind(row.agent_engaged)
    .bind(row.bot_engaged)
    .bind(row.updated_at)
    .bind(expected.as_str())
    .bind(&row.milestones)
    .bind(&row.first_bot)
    .bind(&row.agents)
    .bind(row.bot_at)
    .bind(&row.survey)
    .bind(row.csat)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 1 {
        return Ok(Ok(()));
    }
    let stored: Option<String> = sqlx::query_scalar("SELECT state FROM conversations WHERE id = $1")
        .bind(&row.id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(Err(match stored {
        None => StoreError::NotFound {
            what: "conversation",
            id: row.id.clone(),
        },
        Some(state) => StoreError::Conflict {
            what: "conversation",
            detail: format!("conversation `{}` is {state}, not {expected}", row.id),
        },
    }))
}

async fn record_routing(
    conn: &mut AnyConnection,
    conversation: &str,
    at: i64,
    queue: &str,
    rule: Option<&str>,
    decision: &str,
) -> Result<Result<(), StoreError>, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO routing_records (conversation_id, at, queue, rule, decision) \
         SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM conversations WHERE id = $1)",
    )
    .bind(conversation)
    .bind(at)
    .bind(queue)
    .bind(rule)
    .bind(decision)
    .execute(&mut *conn)
    .await?;
    Ok(if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound {
            what: "conversation",
            id: conversation.to_owned(),
        })
    })
}

async fn insert_attachment(
    conn: &mut AnyConnection,
    row: &AttachmentRow,
) -> Result<Result<(), StoreError>, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO attachments (id, conversation_id, name, content_type, original, thumbnail, created_at) \
         SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM conversations WHERE id = $2) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&row.id)
    .bind(&row.conversation_id)
    .bind(&row.name)
    .bind(&row.content_type)
    .bind(&row.original)
    .bind(&row.thumbnail)
    .bind(row.created_at)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 1 {
        return Ok(Ok(()));
    }
    let conversation_exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM conversations WHERE id = $1")
        .bind(&row.conversation_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(Err(match conversation_exists {
        None => StoreError::NotFound {
            what: "conversation",
            id: row.conversation_id.clone(),
        },
        Some(_) => StoreError::Conflict {
            what: "attachment",
            detail: format!("attachment `{}` already exists", row.id),
        },
    }))
}

/// Upserts the user's credentials and deletes their sessions, in the batch's transaction, so
/// that no reader ever sees the new password alongside a session started under the old one.
async fn set_password_hash(
    conn: &mut AnyConnection,
    user: &str,
    hash: &str,
    at: i64,
) -> Result<Result<(), StoreError>, sqlx::Error> {
    sqlx::query(
        "INSERT INTO credentials (user_name, password_hash, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_name) DO UPDATE SET password_hash = excluded.password_hash, updated_at = excluded.updated_at",
    )
    .bind(user)
    .bind(hash)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM sessions WHERE user_name = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?;
    Ok(Ok(()))
}

async fn insert_session(conn: &mut AnyConnection, row: &SessionRow) -> Result<Result<(), StoreError>, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO sessions (token_hash, user_name, created_at, expires_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (token_hash) DO NOTHING",
    )
    .bind(&row.token_hash)
    .bind(&row.user_name)
    .bind(row.created_at)
    .bind(row.expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(if done.rows_affected() == 1 {
        Ok(())
    } else {
        // The token hash is not repeated: errors get logged, and the hash is what finds a session.
        Err(StoreError::Conflict {
            what: "session",
            detail: "a session with this token hash already exists".into(),
        })
    })
}

async fn delete_session(conn: &mut AnyConnection, token_hash: &str) -> Result<Result<(), StoreError>, sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(&mut *conn)
        .await?;
    Ok(Ok(()))
}

/// Appends `activities[i]` to conversation `keys[i].0` (whose activity id is `keys[i].1`), all in
/// the current transaction. `None` for an append to an unknown conversation.
async fn append_all(
    conn: &mut AnyConnection,
    backend: Backend,
    notify_as: Option<&str>,
    keys: &[(&str, &str)],
    activities: &[&NewActivity],
) -> Result<Vec<Option<Appended>>, sqlx::Error> {
    let stored = stored_seqs(conn, backend, keys).await?;
    let stored: HashMap<(&str, &str), i64> = stored.iter().map(|(c, a, s)| ((c.as_str(), a.as_str()), *s)).collect();
    let plan = plan_appends(keys, &stored);
    // The conversation's score after the batch: that of its last new scored activity.
    let mut pulses: HashMap<&str, i64> = HashMap::new();
    for ((slot, (conversation, _)), activity) in plan.slots.iter().zip(keys).zip(activities) {
        if let (Slot::New, Some(sentiment)) = (slot, activity.sentiment) {
            pulses.insert(*conversation, i64::from(sentiment.conversation.0));
        }
    }
    let bumps: Vec<(&str, i64, i64)> = plan
        .new_per_conversation
        .iter()
        .map(|&(conversation, count)| {
            let pulse = pulses.get(conversation).copied().unwrap_or(NO_PULSE);
            (conversation, count, pulse)
        })
        .collect();
    let last_seqs = bump_last_seqs(conn, backend, &bumps).await?;
    let last_seqs: HashMap<&str, i64> = last_seqs.iter().map(|(c, s)| (c.as_str(), *s)).collect();
    let results = assign_seqs(keys, &plan, &last_seqs);

    let new_rows: Vec<(&str, i64, &NewActivity)> = plan
        .slots
        .iter()
        .zip(&results)
        .zip(keys.iter().zip(activities))
        .filter_map(|((slot, result), ((conversation, _), activity))| match (slot, result) {
            (Slot::New, Some(appended)) => Some((*conversation, appended.seq.0 as i64, *activity)),
            _ => None,
        })
        .collect();
    insert_activities(conn, backend, &new_rows).await?;
    if let Some(node) = notify_as {
        announce(conn, backend, node, &new_rows).await?;
    }
    Ok(results)
}

/// The `(conversation_id, activity_id, seq)` of those `keys` already stored.
async fn stored_seqs(
    conn: &mut AnyConnection,
    backend: Backend,
    keys: &[(&str, &str)],
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    let mut found = Vec::new();
    for chunk in keys.chunks(LOOKUP_CHUNK) {
        // A join with a VALUES list, not `(a, b) IN (VALUES …)`: SQLite answers the latter with a
        // full table scan, the join with one index probe per key (PostgreSQL does well with both).
        let sql = format!(
            "SELECT a.conversation_id, a.activity_id, a.seq FROM (VALUES {}) AS v \
             JOIN activities AS a ON a.conversation_id = v.column1 AND a.activity_id = v.column2",
            values_list(backend, chunk.len(), 2)
        );
        let mut query = sqlx::query_as::<_, (String, String, i64)>(&sql).persistent(chunk.len() == LOOKUP_CHUNK);
        for (conversation, activity) in chunk {
            query = query.bind(*conversation).bind(*activity);
        }
        found.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(found)
}

/// Stands for "no scored activity in this batch" in [`bump_last_seqs`]'s `VALUES` (a score is
/// within ±10000; a bound NULL would leave PostgreSQL to guess the column's type).
const NO_PULSE: i64 = 99_999;

/// Adds each conversation's count of new activities to its `last_seq`, and sets its `sentiment`
/// to the score given unless that is [`NO_PULSE`]; returns the new `last_seq` of every
/// conversation that exists.
async fn bump_last_seqs(
    conn: &mut AnyConnection,
    backend: Backend,
    bumps: &[(&str, i64, i64)],
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let mut bumped = Vec::with_capacity(bumps.len());
    for chunk in bumps.chunks(BUMP_CHUNK) {
        let sql = format!(
            "UPDATE conversations SET last_seq = conversations.last_seq + v.column2, \
             sentiment = CASE WHEN v.column3 = {NO_PULSE} THEN conversations.sentiment ELSE v.column3 END \
             FROM (VALUES {}) AS v WHERE conversations.id = v.column1 RETURNING conversations.id, conversations.last_seq",
            values_list(backend, chunk.len(), 3)
        );
        let mut query = sqlx::query_as::<_, (String, i64)>(&sql).persistent(chunk.len() == BUMP_CHUNK);
        for (conversation, count, pulse) in chunk {
            query = query.bind(*conversation).bind(*count).bind(*pulse);
        }
        bumped.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(bumped)
}

async fn insert_activities(
    conn: &mut AnyConnection,
    backend: Backend,
    rows: &[(&str, i64, &NewActivity)],
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(INSERT_CHUNK) {
        let sql = format!(
            "INSERT INTO activities (conversation_id, seq, activity_id, kind, sender_role, sender_id, visibility, ts, body, \
             sentiment, sentiment_pulse, text) VALUES {}",
            values_list(backend, chunk.len(), 12)
        );
        let mut query = sqlx::query(&sql).persistent(chunk.len() == INSERT_CHUNK);
        for (conversation, seq, a) in chunk {
            query = query
                .bind(*conversation)
                .bind(*seq)
                .bind(a.id.as_str())
                .bind(a.kind.as_str())
                .bind(a.sender_role.as_str())
                .bind(a.sender_id.as_str())
                .bind(a.visibility.as_str())
                .bind(a.timestamp.millis())
                .bind(a.body.as_str())
                .bind(a.sentiment.map(|s| i64::from(s.message.0)))
                .bind(a.sentiment.map(|s| i64::from(s.conversation.0)))
                .bind(message_text(a));
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Announces the new rows on the cluster's activity channel, delivered when (and only if) the
/// transaction commits.
async fn announce(
    conn: &mut AnyConnection,
    backend: Backend,
    node: &str,
    rows: &[(&str, i64, &NewActivity)],
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(INSERT_CHUNK) {
        let sql = format!(
            "SELECT pg_notify('{}', v.column1) FROM (VALUES {}) AS v(column1)",
            crate::cluster::ACTIVITY_CHANNEL,
            values_list(backend, chunk.len(), 1)
        );
        let mut query = sqlx::query(&sql).persistent(chunk.len() == INSERT_CHUNK);
        for (conversation, seq, a) in chunk {
            let customer = a.sender_role == domain::activity::SenderRole::Customer;
            query = query.bind(crate::cluster::activity_payload(node, conversation, *seq, customer));
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A message's text, kept beside its body for transcript search; `None` for other activities.
fn message_text(a: &NewActivity) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Text {
        text: Option<String>,
    }
    if a.kind != "message" {
        return None;
    }
    serde_json::from_str::<Text>(&a.body)
        .ok()?
        .text
        .filter(|t| !t.is_empty() && !t.contains('\0'))
}

/// `rows` tuples of `columns` placeholders: `($1, $2), ($3, $4), …` for PostgreSQL, `(?, ?),
/// (?, ?), …` for SQLite.
///
/// SQLite looks up each named parameter (`$N`, and `?N` on binding through sqlx) by a linear
/// scan of the statement's parameter list, which makes a statement with a thousand `$N`
/// parameters cost a million string comparisons; anonymous `?` parameters skip the list. That
/// scan took over half the writer's time before this distinction.
fn values_list(backend: Backend, rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 6);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&(r * columns + c + 1).to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

/// What one append of a batch turns out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// The activity id was already stored with this seq.
    Stored(i64),
    /// A new activity, to be numbered.
    New,
    /// The same activity id as the earlier append at this index of the batch.
    Repeat(usize),
}

/// How a batch's appends will be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AppendPlan<'a> {
    /// One slot per append, in order.
    slots: Vec<Slot>,
    /// Each conversation with new activities, and how many, in order of first appearance.
    new_per_conversation: Vec<(&'a str, i64)>,
}

/// Sorts a batch's appends into already stored, new, and repeats within the batch.
fn plan_appends<'a>(keys: &[(&'a str, &'a str)], stored: &HashMap<(&str, &str), i64>) -> AppendPlan<'a> {
    let mut slots = Vec::with_capacity(keys.len());
    let mut first_in_batch: HashMap<(&str, &str), usize> = HashMap::new();
    let mut new_per_conversation: Vec<(&'a str, i64)> = Vec::new();
    let mut conversation_index: HashMap<&str, usize> = HashMap::new();
    for (i, &(conversation, activity)) in keys.iter().enumerate() {
        if let Some(&seq) = stored.get(&(conversation, activity)) {
            slots.push(Slot::Stored(seq));
        } else if let Some(&earlier) = first_in_batch.get(&(conversation, activity)) {
            slots.push(Slot::Repeat(earlier));
        } else {
            first_in_batch.insert((conversation, activity), i);
            let at = *conversation_index.entry(conversation).or_insert_with(|| {
                new_per_conversation.push((conversation, 0));
                new_per_conversation.len() - 1
            });
            new_per_conversation[at].1 += 1;
            slots.push(Slot::New);
        }
    }
    AppendPlan {
        slots,
        new_per_conversation,
    }
}

/// Numbers the new appends of a batch: a conversation whose `last_seq` went up by `n` to `last`
/// gives `last - n + 1 ..= last` to its new activities in arrival order. `None` for appends to
/// conversations that do not exist (absent from `last_seqs`).
fn assign_seqs(keys: &[(&str, &str)], plan: &AppendPlan<'_>, last_seqs: &HashMap<&str, i64>) -> Vec<Option<Appended>> {
    let mut next: HashMap<&str, i64> = plan
        .new_per_conversation
        .iter()
        .filter_map(|(conversation, count)| {
            last_seqs
                .get(conversation)
                .map(|last| (*conversation, last - count + 1))
        })
        .collect();
    let mut results: Vec<Option<Appended>> = Vec::with_capacity(keys.len());
    for (&(conversation, _), slot) in keys.iter().zip(&plan.slots) {
        let result = match *slot {
            Slot::Stored(seq) => Some(Appended {
                seq: Seq(seq.max(0) as u64),
                duplicate: true,
            }),
            Slot::Repeat(earlier) => results[earlier].map(|a| Appended {
                seq: a.seq,
                duplicate: true,
            }),
            Slot::New => next.get_mut(conversation).map(|seq| {
                let appended = Appended {
                    seq: Seq(*seq as u64),
                    duplicate: false,
                };
                *seq += 1;
                appended
            }),
        };
        results.push(result);
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_lists_number_their_placeholders_row_by_row_or_leave_them_anonymous_for_sqlite() {
        assert_eq!(values_list(Backend::Postgres, 1, 1), "($1)");
        assert_eq!(values_list(Backend::Postgres, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values_list(Backend::Sqlite, 2, 2), "(?, ?), (?, ?)");
    }

    #[test]
    fn a_batch_is_numbered_per_conversation_in_arrival_order() {
        let keys = [("c1", "a"), ("c2", "x"), ("c1", "b"), ("c1", "c")];
        let plan = plan_appends(&keys, &HashMap::new());
        assert_eq!(plan.new_per_conversation, vec![("c1", 3), ("c2", 1)]);
        // c1 had 4 activities before, so it is now at 7; c2 had none.
        let last = HashMap::from([("c1", 7), ("c2", 1)]);
        let seqs: Vec<u64> = assign_seqs(&keys, &plan, &last)
            .into_iter()
            .map(|a| a.unwrap().seq.0)
            .collect();
        assert_eq!(seqs, vec![5, 1, 6, 7]);
    }

    #[test]
    fn stored_ids_and_repeats_within_the_batch_are_duplicates_with_the_original_seq() {
        let keys = [("c1", "old"), ("c1", "new"), ("c1", "new"), ("c2", "new")];
        let stored = HashMap::from([(("c1", "old"), 3)]);
        let plan = plan_appends(&keys, &stored);
        assert_eq!(plan.slots, vec![Slot::Stored(3), Slot::New, Slot::Repeat(1), Slot::New]);
        assert_eq!(
            plan.new_per_conversation,
            vec![("c1", 1), ("c2", 1)],
            "an id is the same activity only within one conversation"
        );
        let results = assign_seqs(&keys, &plan, &HashMap::from([("c1", 4), ("c2", 1)]));
        assert_eq!(
            results,
            vec![
                Some(Appended {
                    seq: Seq(3),
                    duplicate: true
                }),
                Some(Appended {
                    seq: Seq(4),
                    duplicate: false
                }),
                Some(Appended {
                    seq: Seq(4),
                    duplicate: true
                }),
                Some(Appended {
                    seq: Seq(1),
                    duplicate: false
                }),
            ]
        );
    }

    #[test]
    fn appends_to_an_unknown_conversation_get_nothing_and_take_no_seq_from_others() {
        let keys = [("ghost", "a"), ("c1", "b"), ("ghost", "a")];
        let plan = plan_appends(&keys, &HashMap::new());
        let results = assign_seqs(&keys, &plan, &HashMap::from([("c1", 1)]));
        assert_eq!(
            results,
            vec![
                None,
                Some(Appended {
                    seq: Seq(1),
                    duplicate: false
                }),
                None
            ]
        );
    }
}
