//! The SQL implementation of [`Store`], for SQLite and PostgreSQL alike.
//!
//! One implementation over sqlx's `Any` driver serves both backends: the queries are written
//! once in the SQL both understand (`$N` placeholders, `RETURNING`, `ON CONFLICT`,
//! `UPDATE … FROM (VALUES …)`, joins with `VALUES` lists), and the few differences hang on
//! [`Backend`]: the migrations (two folders, because the DDL differs), SQLite's connection
//! pragmas, and how the writer opens a transaction. `Any` carries integers, floats, text and bytes
//! only, which shapes the schema: ids are hyphenated UUID text, instants BIGINT Unix
//! milliseconds, flags 0/1 integers (a SQLite `BOOLEAN` column does not even decode through
//! `Any`), structured values JSON text, and states text with a CHECK listing the domain enum's
//! spellings. `Any` did not get in the way of migrations or pragmas, so two concrete pools were
//! not needed. One trap: SQLite resolves each `$N` by a linear scan of the statement's
//! parameters, so the writer's multi-row statements use anonymous `?` on SQLite (see
//! `writer::values_list`); statements with a handful of parameters keep `$N`.
//!
//! # Schema
//!
//! - `conversations`: one row per conversation, every field of the domain type plus
//!   `last_seq`, the seq of its latest activity.
//! - `routing_records`: every routing decision (JSON) with its instant, queue and rule.
//! - `activities`: the log; primary key `(conversation_id, seq)`, unique
//!   `(conversation_id, activity_id)`.
//! - `attachments` (migration 0002): files bots upload, the original and thumbnail bytes as
//!   BLOB/BYTEA in the row (uploads are capped by the engine), keyed by their random id.
//! - `credentials` (migration 0003): one argon2 PHC string per user name, with when it was set.
//! - `sessions` (migration 0003): the SHA-256 (hex) of each session token, its user and its
//!   lifetime, indexed by user so that a new password can delete them all. Expired sessions are
//!   filtered out by the read, not deleted.
//!
//! # Connections
//!
//! Two pools: reads go through a pool of several connections; writes go through the
//! group-commit [`writer`](crate::writer) task, which owns a pool of exactly one connection. With
//! SQLite in WAL mode readers never block that writer nor each other. SQLite connections run with
//! `synchronous = FULL` (a commit is on disk, not just handed to the OS, before it is
//! acknowledged: durable across a power cut, not only a process crash), `foreign_keys = ON` and a
//! `busy_timeout` for the rare other process touching the file. PostgreSQL keeps its defaults
//! (`synchronous_commit = on`). An in-memory SQLite database (`sqlite::memory:`) is one
//! connection shared by reads and writes, since every new connection would open a new, empty
//! database.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::activity::{NewActivity, StoredActivity};
use domain::attachment::{Attachment, AttachmentId, AttachmentSummary, View, ViewContent};
use domain::conversation::Conversation;
use domain::{ConversationId, ConversationState, RoutingDecision, Seq, TenantName, Timestamp, UserName};
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnectionMetadata;
use sqlx::{AnyConnection, AnyPool, Executor};

use crate::cache::ConversationCache;
use crate::cluster::Cluster;
use crate::database_url::sqlite_target;
use crate::rows::{
    ACTIVITY_COLUMNS, ATTACHMENT_SUMMARY_COLUMNS, ActivityRow, AttachmentRow, AttachmentSummaryRow,
    CONVERSATION_COLUMNS, ConversationRow, RoutingRow, SESSION_COLUMNS, SessionRow, ViewRow, agents_column,
    check_activity, check_hash, decision_json, owner_columns, seq_param,
};
use crate::writer::{Op, Writer};
use crate::{
    Appended, Backend, ConversationFilter, RoutingRecord, Session, Store, StoreError, StoreOptions, StoreStats,
};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Set on every SQLite connection (per-connection settings; WAL is set once, it persists in the
/// file).
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 10000",
];

/// Set in addition on the writer's connection. A larger page cache keeps the index pages that
/// appends touch in memory instead of re-reading them for each batch; checkpointing the WAL
/// every 10,000 pages (~40 MB) instead of every 1,000 copies a page that many batches touch back
/// to the database file once instead of many times.
const SQLITE_WRITER_PRAGMAS: &[&str] = &["PRAGMA cache_size = -65536", "PRAGMA wal_autocheckpoint = 10000"];

/// A [`Store`] in a SQL database.
#[derive(Debug)]
pub struct SqlStore {
    backend: Backend,
    /// Reads. A pool, so that reads run concurrently with each other and with the writer.
    reads: AnyPool,
    /// Every write goes through this task; see [`crate::writer`].
    writer: Writer,
    /// Conversations as last committed by this process (see [`crate::cache`]); kept only on
    /// SQLite, whose one hub is the only writer. On PostgreSQL other nodes write too, and every
    /// read goes to the database.
    cache: ConversationCache,
    /// The nodes sharing a PostgreSQL database (see [`crate::cluster`]).
    cluster: Option<Arc<Cluster>>,
}

impl SqlStore {
    /// Opens the database `url` names, runs its migrations and starts the writer.
    pub async fn open(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let (writes, reads) = match backend {
            Backend::Sqlite => open_sqlite(url, &options).await?,
            Backend::Postgres => open_postgres(url, &options).await?,
        };
        let embedded = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        // A database that a newer release already migrated (a rolling upgrade: new nodes
        // started, an old one restarts) still opens: migrations only add, and an older binary
        // ignores what it does not know. (sqlx exposes this switch only on a mutable migrator.)
        let migrator = Migrator {
            migrations: embedded.migrations.clone(),
            ignore_missing: true,
            locking: embedded.locking,
            no_tx: embedded.no_tx,
        };
        if let Err(e) = migrator.run(&writes).await {
            writes.close().await;
            reads.close().await;
            return Err(e.into());
        }
        let cluster = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let node = uuid::Uuid::now_v7().simple().to_string();
                match Cluster::connect(url, node, options.lock_connections).await {
                    Ok(cluster) => Some(cluster),
                    Err(e) => {
                        writes.close().await;
                        reads.close().await;
                        return Err(e);
                    }
                }
            }
        };
        tracing::info!(store.backend = backend.as_str(), "store opened");
        let notify_as = cluster.as_ref().map(|c| c.node().to_owned());
        let writer = Writer::spawn(writes, backend, options.max_batch, options.queue_capacity, notify_as);
        let cache = match backend {
            Backend::Sqlite => ConversationCache::default(),
            Backend::Postgres => ConversationCache::disabled(),
        };
        Ok(Self {
            backend,
            reads,
            writer,
            cache,
            cluster,
        })
    }
}

/// The (writes, reads) pools of a SQLite database, its file and directory created if missing.
async fn open_sqlite(url: &str, options: &StoreOptions) -> Result<(AnyPool, AnyPool), StoreError> {
    let target = sqlite_target(url)?;
    let Some(file) = &target.file else {
        // In memory: one connection that must live as long as the store.
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .after_connect(sqlite_pragmas)
            .connect(&target.url)
            .await?;
        return Ok((pool.clone(), pool));
    };
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| StoreError::DataDirectory {
                path: dir.to_owned(),
                source: e.into(),
            })?;
    }
    create_private(file).map_err(|e| StoreError::DataDirectory {
        path: file.clone(),
        source: e.into(),
    })?;
    let writes = AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(sqlite_writer_pragmas)
        .connect(&target.url)
        .await?;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode = WAL")
        .fetch_one(&writes)
        .await?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(journal_mode = %mode, "SQLite did not switch to WAL; reads will wait for writes");
    }
    let reads = AnyPoolOptions::new()
        .max_connections(options.read_connections.max(1))
        .after_connect(sqlite_pragmas)
        .connect(&target.url)
        .await?;
    Ok((writes, reads))
}

/// Creates the database file readable and writable by the hub's user only (0600), unless it
/// exists: it holds every transcript. SQLite gives its `-wal` and `-shm` files the database
/// file's permissions, so they follow.
fn create_private(file: &std::path::Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The (writes, reads) pools of a PostgreSQL database.
async fn open_postgres(url: &str, options: &StoreOptions) -> Result<(AnyPool, AnyPool), StoreError> {
    let writes = AnyPoolOptions::new().max_connections(1).connect(url).await?;
    let reads = AnyPoolOptions::new()
        .max_connections(options.read_connections.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await?;
    Ok((writes, reads))
}

/// Applies [`SQLITE_PRAGMAS`] to a new connection (an `after_connect` hook).
fn sqlite_pragmas(conn: &mut AnyConnection, _: PoolConnectionMetadata) -> BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(run_pragmas(conn, false))
}

/// Applies [`SQLITE_PRAGMAS`] and [`SQLITE_WRITER_PRAGMAS`] to the writer's new connection.
fn sqlite_writer_pragmas(
    conn: &mut AnyConnection,
    _: PoolConnectionMetadata,
) -> BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(run_pragmas(conn, true))
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

async fn run_pragmas(conn: &mut AnyConnection, writer: bool) -> Result<(), sqlx::Error> {
    let writer_pragmas = if writer { SQLITE_WRITER_PRAGMAS } else { &[] };
    for pragma in SQLITE_PRAGMAS.iter().chain(writer_pragmas) {
        sqlx::query(pragma).execute(&mut *conn).await?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.reads.execute("SELECT 1").await?;
        Ok(())
    }

    async fn insert_conversation(&self, conversation: &Conversation) -> Result<(), StoreError> {
        let row = ConversationRow::from_domain(conversation)?;
        let _stripe = self.cache.stripe(conversation.id).await;
        let result = self.writer.write(Op::InsertConversation(Box::new(row))).await;
        match &result {
            Ok(()) => self.cache.put(conversation),
            // A conflict leaves the stored one, which this process may not hold yet.
            Err(_) => self.cache.forget(conversation.id),
        }
        result
    }

    async fn get_conversation(&self, id: ConversationId) -> Result<Option<Conversation>, StoreError> {
        if self.reads.is_closed() {
            return Err(StoreError::Closed);
        }
        if let Some(hit) = self.cache.get(id) {
            return Ok(Some(hit));
        }
        let _stripe = self.cache.stripe(id).await;
        if let Some(hit) = self.cache.get(id) {
            return Ok(Some(hit));
        }
        let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1");
        let row: Option<ConversationRow> =
            read_retrying(|| sqlx::query_as(&sql).bind(id.to_string()).fetch_optional(&self.reads)).await?;
        let conversation = row.map(ConversationRow::into_domain).transpose()?;
        if let Some(c) = &conversation {
            self.cache.put(c);
        }
        Ok(conversation)
    }

    async fn update_conversation(
        &self,
        conversation: &Conversation,
        expected: ConversationState,
    ) -> Result<(), StoreError> {
        let row = ConversationRow::from_domain(conversation)?;
        let _stripe = self.cache.stripe(conversation.id).await;
        let result = self
            .writer
            .write(Op::UpdateConversation {
                row: Box::new(row),
                expected,
            })
            .await;
        match (&result, self.cache.get(conversation.id)) {
            // The update never changes `created_at`, so the kept one stays.
            // Nor `sentiment`, which only appends write.
            (Ok(()), Some(kept)) => self.cache.put(&Conversation {
                created_at: kept.created_at,
                sentiment: kept.sentiment,
                ..conversation.clone()
            }),
            // Not kept: the next read fills it from the database.
            (Ok(()), None) => {}
            (Err(_), _) => self.cache.forget(conversation.id),
        }
        result
    }

    async fn list_conversations(&self, filter: &ConversationFilter) -> Result<Vec<Conversation>, StoreError> {
        let (sql, params) = list_query(filter);
        let rows = read_retrying(|| {
            let mut query = sqlx::query_as::<_, ConversationRow>(&sql);
            for param in params.clone() {
                query = match param {
                    Param::Text(s) => query.bind(s),
                    Param::Int(n) => query.bind(n),
                };
            }
            query.fetch_all(&self.reads)
        })
        .await?;
        rows.into_iter().map(ConversationRow::into_domain).collect()
    }

    async fn count_conversations(&self, filter: &ConversationFilter) -> Result<u64, StoreError> {
        let (sql, params) = filter_query(filter, true);
        let n: i64 = read_retrying(|| {
            let mut query = sqlx::query_scalar::<_, i64>(&sql);
            for param in params.clone() {
                query = match param {
                    Param::Text(s) => query.bind(s),
                    Param::Int(n) => query.bind(n),
                };
            }
            query.fetch_one(&self.reads)
        })
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn bot_sessions(
        &self,
        tenant: &TenantName,
        from: Timestamp,
        before: Timestamp,
    ) -> Result<Vec<(UserName, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = read_retrying(|| {
            sqlx::query_as(
                "SELECT first_bot, COUNT(*) FROM conversations WHERE tenant = $1 AND bot_at >= $2 AND bot_at < $3 \
                 AND first_bot IS NOT NULL GROUP BY first_bot ORDER BY first_bot",
            )
            .bind(tenant.to_string())
            .bind(from.millis())
            .bind(before.millis())
            .fetch_all(&self.reads)
        })
        .await?;
        rows.into_iter()
            .map(|(bot, n)| {
                let name = UserName::new(bot.clone()).map_err(|e| StoreError::Corrupt {
                    what: "conversation",
                    id: bot,
                    detail: format!("first_bot: {e}"),
                })?;
                Ok((name, u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    }

    async fn record_routing(
        &self,
        conversation: ConversationId,
        at: Timestamp,
        decision: &RoutingDecision,
    ) -> Result<(), StoreError> {
        let op = Op::RecordRouting {
            conversation: conversation.to_string(),
            at: at.millis(),
            queue: decision.queue.to_string(),
            rule: decision.rule.as_ref().map(ToString::to_string),
            decision: decision_json(decision, conversation)?,
        };
        self.writer.write(op).await
    }

    async fn routing_history(&self, conversation: ConversationId) -> Result<Vec<RoutingRecord>, StoreError> {
        let rows: Vec<RoutingRow> =
            sqlx::query_as("SELECT at, decision FROM routing_records WHERE conversation_id = $1 ORDER BY id")
                .bind(conversation.to_string())
                .fetch_all(&self.reads)
                .await?;
        rows.into_iter().map(|r| r.into_domain(conversation)).collect()
    }

    async fn append_activity(
        &self,
        conversation: ConversationId,
        activity: NewActivity,
    ) -> Result<Appended, StoreError> {
        check_activity(&activity)?;
        let Some(sentiment) = activity.sentiment else {
            return self.writer.append(conversation.to_string(), activity).await;
        };
        // A scored message also sets its conversation's sentiment, which the cache must follow.
        let _stripe = self.cache.stripe(conversation).await;
        let result = self.writer.append(conversation.to_string(), activity).await;
        match &result {
            Ok(appended) if !appended.duplicate => self.cache.set_sentiment(conversation, sentiment.conversation),
            Ok(_) => {}
            Err(_) => self.cache.forget(conversation),
        }
        result
    }

    async fn activities_after(
        &self,
        conversation: ConversationId,
        after: Seq,
        limit: u32,
    ) -> Result<Vec<StoredActivity>, StoreError> {
        let sql = format!(
            "SELECT {ACTIVITY_COLUMNS} FROM activities WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        );
        let rows: Vec<ActivityRow> = read_retrying(|| {
            sqlx::query_as(&sql)
                .bind(conversation.to_string())
                .bind(seq_param(after))
                .bind(i64::from(limit))
                .fetch_all(&self.reads)
        })
        .await?;
        rows.into_iter().map(|r| r.into_domain(conversation)).collect()
    }

    async fn activity(&self, conversation: ConversationId, id: &str) -> Result<Option<StoredActivity>, StoreError> {
        let sql = format!("SELECT {ACTIVITY_COLUMNS} FROM activities WHERE conversation_id = $1 AND activity_id = $2");
        let row: Option<ActivityRow> = sqlx::query_as(&sql)
            .bind(conversation.to_string())
            .bind(id)
            .fetch_optional(&self.reads)
            .await?;
        row.map(|r| r.into_domain(conversation)).transpose()
    }

    async fn insert_attachment(&self, attachment: Attachment) -> Result<(), StoreError> {
        let row = AttachmentRow::from_domain(attachment)?;
        self.writer.write(Op::InsertAttachment(Box::new(row))).await
    }

    async fn attachment_summary(&self, id: AttachmentId) -> Result<Option<AttachmentSummary>, StoreError> {
        let sql = format!("SELECT {ATTACHMENT_SUMMARY_COLUMNS} FROM attachments WHERE id = $1");
        let row: Option<AttachmentSummaryRow> = sqlx::query_as(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.reads)
            .await?;
        row.map(AttachmentSummaryRow::into_domain).transpose()
    }

    async fn attachment_view(&self, id: AttachmentId, view: View) -> Result<Option<ViewContent>, StoreError> {
        let column = match view {
            View::Original => "original",
            View::Thumbnail => "thumbnail",
        };
        let sql = format!("SELECT content_type, {column} AS bytes FROM attachments WHERE id = $1");
        let row: Option<ViewRow> = sqlx::query_as(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.reads)
            .await?;
        Ok(row.map(|r| r.into_domain(id)).transpose()?.flatten())
    }

    async fn password_hash(&self, user: &UserName) -> Result<Option<String>, StoreError> {
        let hash: Option<String> = sqlx::query_scalar("SELECT password_hash FROM credentials WHERE user_name = $1")
            .bind(user.as_str())
            .fetch_optional(&self.reads)
            .await?;
        Ok(hash)
    }

    async fn set_password_hash(&self, user: &UserName, hash: &str, at: Timestamp) -> Result<(), StoreError> {
        check_hash("password hash", hash)?;
        let op = Op::SetPasswordHash {
            user: user.to_string(),
            hash: hash.to_owned(),
            at: at.millis(),
        };
        self.writer.write(op).await
    }

    async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        let row = SessionRow::from_domain(session)?;
        self.writer.write(Op::InsertSession(Box::new(row))).await
    }

    async fn session(&self, token_hash: &str, now: Timestamp) -> Result<Option<Session>, StoreError> {
        check_hash("session", token_hash)?;
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1 AND expires_at > $2");
        let row: Option<SessionRow> = sqlx::query_as(&sql)
            .bind(token_hash)
            .bind(now.millis())
            .fetch_optional(&self.reads)
            .await?;
        row.map(SessionRow::into_domain).transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        check_hash("session", token_hash)?;
        let op = Op::DeleteSession {
            token_hash: token_hash.to_owned(),
        };
        self.writer.write(op).await
    }

    fn stats(&self) -> StoreStats {
        self.writer.stats()
    }

    fn cluster(&self) -> Option<Arc<Cluster>> {
        self.cluster.clone()
    }

    async fn close(&self) {
        self.writer.shutdown().await;
        if let Some(cluster) = &self.cluster {
            cluster.close().await;
        }
        self.reads.close().await;
    }
}

/// Runs a read, and again on a fresh connection when the one it got turned out to be dead (the
/// database server restarted): a read changes nothing, so another try is always exact. A few
/// tries over about 1.75 s, then the error stands.
async fn read_retrying<T, F, Fut>(mut run: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let mut result = run().await;
    for pause_ms in [50, 200, 500, 1_000] {
        match &result {
            Err(e) if crate::writer::is_connection_loss(e) => {
                tracing::warn!(error = %e, pause_ms, "a read lost its database connection; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(pause_ms)).await;
                result = run().await;
            }
            _ => break,
        }
    }
    result
}

/// A bound value of a dynamically built query.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Param {
    Text(String),
    Int(i64),
}

/// The SQL and parameters that list the conversations `filter` selects.
fn list_query(filter: &ConversationFilter) -> (String, Vec<Param>) {
    filter_query(filter, false)
}

/// The listing (or, with `count`, the counting) query for `filter`, and its parameters.
fn filter_query(filter: &ConversationFilter, count: bool) -> (String, Vec<Param>) {
    let mut conditions: Vec<String> = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    let bind = |params: &mut Vec<Param>, p: Param| {
        params.push(p);
        format!("${}", params.len())
    };
    if let Some(tenant) = &filter.tenant {
        let p = bind(&mut params, Param::Text(tenant.to_string()));
        conditions.push(format!("tenant = {p}"));
    }
    if !filter.states.is_empty() {
        let ps: Vec<String> = filter
            .states
            .iter()
            .map(|s| bind(&mut params, Param::Text(s.as_str().to_owned())))
            .collect();
        conditions.push(format!("state IN ({})", ps.join(", ")));
    }
    if let Some(workstream) = &filter.workstream {
        let p = bind(&mut params, Param::Text(workstream.to_string()));
        conditions.push(format!("workstream = {p}"));
    }
    if let Some(queue) = &filter.queue {
        let p = bind(&mut params, Param::Text(queue.to_string()));
        conditions.push(format!("queue = {p}"));
    }
    if let (Some(kind), Some(name)) = owner_columns(filter.owner.as_ref()) {
        let k = bind(&mut params, Param::Text(kind.to_owned()));
        let n = bind(&mut params, Param::Text(name.to_owned()));
        conditions.push(format!("owner_kind = {k} AND owner_name = {n}"));
    }
    if let Some(from) = filter.created_from {
        let p = bind(&mut params, Param::Int(from.millis()));
        conditions.push(format!("created_at >= {p}"));
    }
    if let Some(before) = filter.created_before {
        let p = bind(&mut params, Param::Int(before.millis()));
        conditions.push(format!("created_at < {p}"));
    }
    if let Some(outcome) = filter.outcome {
        let p = bind(&mut params, Param::Text(outcome.as_str().to_owned()));
        conditions.push(format!("outcome = {p}"));
    }
    if let Some(customer) = &filter.customer {
        let p = bind(&mut params, Param::Text(contains_pattern(customer)));
        conditions.push(format!("lower(customer) LIKE lower({p}) ESCAPE '\\'"));
    }
    if let Some(bot) = &filter.bot {
        let p = bind(&mut params, Param::Text(bot.to_string()));
        conditions.push(format!("first_bot = {p}"));
    }
    if let Some(agent) = &filter.agent {
        let p = bind(
            &mut params,
            Param::Text(contains_pattern(&agents_column(std::slice::from_ref(agent)))),
        );
        conditions.push(format!("agents LIKE {p} ESCAPE '\\'"));
    }
    if let Some(text) = &filter.text {
        let p = bind(&mut params, Param::Text(contains_pattern(text)));
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM activities a WHERE a.conversation_id = conversations.id \
             AND lower(a.text) LIKE lower({p}) ESCAPE '\\')"
        ));
    }
    if count {
        let mut sql = "SELECT COUNT(*) FROM conversations".to_owned();
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        return (sql, params);
    }
    if let Some((created, id)) = filter.after {
        let t = bind(&mut params, Param::Int(created.millis()));
        let i = bind(&mut params, Param::Text(id.to_string()));
        conditions.push(format!("(created_at > {t} OR (created_at = {t} AND id > {i}))"));
    }
    let mut sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations");
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(" ORDER BY created_at, id");
    if let Some(limit) = filter.limit {
        let p = bind(&mut params, Param::Int(i64::from(limit)));
        sql.push_str(&format!(" LIMIT {p}"));
    }
    (sql, params)
}

/// A `LIKE` pattern (with `ESCAPE '\'`) for text containing `s` literally.
fn contains_pattern(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use domain::activity::{SenderRole, Visibility};
    use domain::{Outcome, Owner, QueueName, TenantName, UserName};

    use super::*;

    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_sqlite_database_and_its_wal_are_readable_by_the_hubs_user_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("switchboard-store-mode-{}", std::process::id()));
        let file = dir.join("hub.db");
        let store = crate::open(&format!("sqlite://{}", file.display())).await.unwrap();
        for path in [file.clone(), dir.join("hub.db-wal")] {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}: {mode:o}", path.display());
        }
        store.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_empty_filter_lists_everything_in_creation_order() {
        let (sql, params) = list_query(&ConversationFilter::all());
        assert!(sql.ends_with("FROM conversations ORDER BY created_at, id"), "{sql}");
        assert!(params.is_empty());
    }

    #[test]
    fn every_filter_field_becomes_a_numbered_condition() {
        let filter = ConversationFilter::all()
            .tenant(TenantName::new("Contoso").unwrap())
            .state(ConversationState::Waiting)
            .state(ConversationState::Active)
            .queue(QueueName::new("CreditCardQueue").unwrap())
            .owner(Owner::Agent(UserName::new("alice").unwrap()))
            .limit(10);
        let (sql, params) = list_query(&filter);
        assert!(
            sql.ends_with(
                "WHERE tenant = $1 AND state IN ($2, $3) AND queue = $4 AND owner_kind = $5 AND owner_name = $6 \
                 ORDER BY created_at, id LIMIT $7"
            ),
            "{sql}"
        );
        assert_eq!(params.len(), 7);
        assert_eq!(params[6], Param::Int(10));
    }

    /// The spellings a migration's `CHECK (column IN (…))` allows.
    fn check_list(migration: &str, column: &str) -> Vec<String> {
        let start = migration
            .find(&format!("CHECK ({column} IN ("))
            .unwrap_or_else(|| panic!("no CHECK on {column}"));
        let list = &migration[start..];
        let list = &list[list.find("IN (").unwrap() + 4..list.find("))").unwrap()];
        list.split(',')
            .map(|s| s.trim().trim_matches('\'').to_owned())
            .collect()
    }

    fn spellings<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> Vec<String> {
        all.iter().map(|v| as_str(*v).to_owned()).collect()
    }

    #[test]
    fn the_check_constraints_of_both_migrations_allow_exactly_the_domain_spellings() {
        for migration in [
            include_str!("../migrations/sqlite/0001_conversations_and_activities.sql"),
            include_str!("../migrations/postgres/0001_conversations_and_activities.sql"),
        ] {
            assert_eq!(
                check_list(migration, "state"),
                spellings(ConversationState::ALL, ConversationState::as_str)
            );
            assert_eq!(
                check_list(migration, "outcome"),
                spellings(Outcome::ALL, Outcome::as_str)
            );
            assert_eq!(
                check_list(migration, "sender_role"),
                spellings(SenderRole::ALL, SenderRole::as_str)
            );
            assert_eq!(
                check_list(migration, "visibility"),
                spellings(Visibility::ALL, Visibility::as_str)
            );
            assert_eq!(check_list(migration, "owner_kind"), vec!["bot", "agent"]);
        }
    }
}
