//! What hub nodes sharing one PostgreSQL database coordinate through, besides conversations and
//! their logs: nothing but the database itself (docs/architecture.md, "A cluster of nodes").
//!
//! - **Signals.** Every node `LISTEN`s on two channels. `sb_activity` carries `node conversation
//!   seq role` for every activity stored; the group-commit writer sends it in the same
//!   transaction as the rows, so a notification goes out exactly when the activity is committed.
//!   `sb_live` carries the hub-wide events for people (offers, presence, conversation changes) as
//!   JSON, sent in order by one task per node. A node skips its own notifications (it published
//!   them locally already). When the listening connection drops, the listener reconnects,
//!   listens again and only then sends [`Signal::Resync`], so whoever catches up from the store
//!   after it cannot miss what happened in between.
//! - **Locks.** A change to a conversation holds a transaction-scoped advisory lock keyed by the
//!   conversation (`pg_advisory_xact_lock`) on a connection of its own, as does one assignment
//!   cycle per queue. Transaction-scoped, so a node that dies releases them with its
//!   connections; the lock connections are a pool of their own, so a holder waiting for an
//!   ordinary connection cannot starve the holders.
//! - **Rows.** Queue members (presence, capacity in use, last assignment and release), pending
//!   offers and declines live in tables (migration 0006). A member's row is changed only under
//!   `SELECT … FOR UPDATE` taken in name order, so choosing an agent and reserving their
//!   capacity is one atomic step however many nodes place work at once.
//! - **Leadership.** The one-second sweep of timers runs on a single node: the one holding a
//!   session-level advisory lock on a detached connection. When that node dies its session ends,
//!   the lock is free, and the next node to try takes over within a sweep.

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use domain::user::Capacity;
use domain::{ConversationId, Presence, QueueName, Seq, Timestamp, UserName};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Row, Transaction};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use crate::StoreError;

/// The channel activities are announced on.
pub(crate) const ACTIVITY_CHANNEL: &str = "sb_activity";
/// The channel hub-wide live events travel on.
const LIVE_CHANNEL: &str = "sb_live";
/// Advisory-lock namespace of the sweep's leadership (a fixed key, far from conversation keys'
/// hashes only by chance; a collision would merely serialise a conversation with the sweep).
const LEADER_KEY: i64 = 0x5357_4254_4c45_4144; // "SWBTLEAD"

/// The `application_name` of a node's listening connection, followed by its id.
const APPLICATION_PREFIX: &str = "switchboard node ";

/// How many signals a slow consumer may fall behind before it is told it lagged.
const SIGNALS: usize = 16_384;

/// Something another node did.
#[derive(Debug, Clone)]
pub enum Signal {
    /// Another node stored activity `seq` of `conversation`; `customer` when the customer sent it.
    Activity {
        conversation: ConversationId,
        seq: Seq,
        customer: bool,
    },
    /// A hub-wide live event from another node, as the engine serialised it.
    Live(Arc<str>),
    /// Notifications may have been missed (the listening connection dropped and is back):
    /// whoever pushes live data should catch up from the store.
    Resync,
}

/// One queue member's live state, as the assignment policy reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub presence: Presence,
    pub used: Capacity,
    pub last_assigned_at: Option<Timestamp>,
    pub last_released_at: Option<Timestamp>,
}

impl Default for Member {
    fn default() -> Self {
        // People are offline until they sign in and say otherwise.
        Self {
            presence: Presence::Offline,
            used: Capacity(0),
            last_assigned_at: None,
            last_released_at: None,
        }
    }
}

/// A pending offer as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOffer {
    pub conversation: ConversationId,
    pub agent: UserName,
    pub queue: QueueName,
    pub expires_at: Timestamp,
    pub serial: u64,
    pub units: Capacity,
}

/// A node's handle on the cluster's shared state.
#[derive(Debug)]
pub struct Cluster {
    node: String,
    /// Connections that hold advisory locks while their holder works.
    locks: PgPool,
    /// Short transactions: members, offers, declines.
    rows: PgPool,
    signals: broadcast::Sender<Signal>,
    /// Live events to send, in order, by one task.
    outbox: mpsc::UnboundedSender<String>,
    /// Member rows known to exist (inserted once per process).
    ensured: Mutex<HashSet<UserName>>,
    /// The connection holding the sweep's leadership, while this node leads.
    /// The session the sweep's lead is asked for and held on, and whether it holds it.
    leader: tokio::sync::Mutex<Option<(PgConnection, bool)>>,
    /// Set when the node stops: it no longer asks for the lead.
    resigned: std::sync::atomic::AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The advisory-lock key of a conversation.
fn conversation_key(id: ConversationId) -> i64 {
    let v = id.0.as_u128();
    ((v >> 64) as u64 ^ v as u64) as i64
}

/// The advisory-lock key of a queue's assignment cycle (FNV-1a of its name).
fn queue_key(name: &QueueName) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"queue:".iter().chain(name.as_str().as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// Holds an advisory lock until dropped (its transaction is then rolled back, which releases
/// it).
#[derive(Debug)]
pub struct ClusterLock {
    tx: Option<Transaction<'static, Postgres>>,
}

impl Drop for ClusterLock {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = tx.rollback().await;
            });
        }
    }
}

fn corrupt(what: &'static str, id: &str, detail: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what,
        id: id.to_owned(),
        detail: detail.to_string(),
    }
}

impl Cluster {
    /// Connects node `node` to the cluster on database `url` and starts listening.
    pub(crate) async fn connect(url: &str, node: String, lock_connections: u32) -> Result<Arc<Self>, StoreError> {
        let locks = PgPoolOptions::new()
            .max_connections(lock_connections.max(2))
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await?;
        let rows = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        let (signals, _) = broadcast::channel(SIGNALS);
        let (outbox, outgoing) = mpsc::unbounded_channel();
        let cluster = Arc::new(Self {
            node,
            locks,
            rows: rows.clone(),
            signals: signals.clone(),
            outbox,
            ensured: Mutex::default(),
            leader: tokio::sync::Mutex::new(None),
            resigned: std::sync::atomic::AtomicBool::new(false),
            tasks: Mutex::default(),
        });
        // The listening connection names the node (`application_name`), so the others can tell
        // a live node from one that died (its session is gone from pg_stat_activity).
        let named = url
            .parse::<PgConnectOptions>()?
            .application_name(&format!("{APPLICATION_PREFIX}{}", cluster.node));
        let listening_pool = PgPoolOptions::new().max_connections(2).connect_with(named).await?;
        let mut listener = PgListener::connect_with(&listening_pool).await?;
        listener.listen_all([ACTIVITY_CHANNEL, LIVE_CHANNEL]).await?;
        let listening = tokio::spawn(listen(listening_pool, listener, cluster.node.clone(), signals));
        let sending = tokio::spawn(send_live(rows, cluster.node.clone(), outgoing));
        lock(&cluster.tasks).extend([listening, sending]);
        tracing::info!(node = %cluster.node, "joined the cluster");
        Ok(cluster)
    }

    /// This node's id (random per start).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// What other nodes do, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.signals.subscribe()
    }

    /// Sends a hub-wide live event (serialised by the engine) to the other nodes, after those
    /// sent before it.
    pub fn publish_live(&self, json: String) {
        let _ = self.outbox.send(json);
    }

    /// Waits until no other node (nor task of this one going through here) changes conversation
    /// `id`.
    pub async fn lock_conversation(&self, id: ConversationId) -> Result<ClusterLock, StoreError> {
        self.advisory(conversation_key(id)).await
    }

    /// Waits until no other node runs an assignment cycle of `queue`.
    pub async fn lock_queue(&self, queue: &QueueName) -> Result<ClusterLock, StoreError> {
        self.advisory(queue_key(queue)).await
    }

    async fn advisory(&self, key: i64) -> Result<ClusterLock, StoreError> {
        let tx = retrying("an advisory lock", || async {
            let mut tx = self.locks.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(key)
                .execute(&mut *tx)
                .await?;
            Ok(tx)
        })
        .await?;
        Ok(ClusterLock { tx: Some(tx) })
    }

    /// Whether this node leads the sweep now: keeps the lead while its connection lives, takes
    /// it when no other node holds it. A node that does not lead keeps its session open and
    /// asks again on it, so following costs one statement per sweep, not a connection.
    pub async fn leads(&self) -> bool {
        if self.resigned.load(std::sync::atomic::Ordering::SeqCst) {
            return false;
        }
        let mut session = self.leader.lock().await;
        if session.is_none() {
            let Ok(pooled) = self.locks.acquire().await else {
                return false;
            };
            // Detached: a session lock must never go back to the pool with the connection.
            let mut conn = pooled.detach();
            // A node that dies with its machine sends no FIN: the server finds the connection
            // dead by keepalive, within 4 + 2 × 3 = 10 s, and the lead is free again.
            for set in [
                "SET tcp_keepalives_idle = 4",
                "SET tcp_keepalives_interval = 2",
                "SET tcp_keepalives_count = 3",
            ] {
                if let Err(e) = sqlx::query(set).execute(&mut conn).await {
                    tracing::debug!(error = %e, "could not set keepalives on the sweep's connection");
                }
            }
            *session = Some((conn, false));
        }
        let Some((conn, leading)) = session.as_mut() else {
            return false;
        };
        let asked = if *leading {
            conn.ping().await.map(|()| true)
        } else {
            // Asking again while holding it would stack a second hold: only while not leading.
            sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
                .bind(LEADER_KEY)
                .fetch_one(&mut *conn)
                .await
        };
        match asked {
            Ok(true) if !*leading => {
                tracing::info!(node = %self.node, "leading the sweep of timers");
                *leading = true;
                true
            }
            Ok(now) => now,
            Err(e) => {
                if *leading {
                    tracing::warn!(node = %self.node, error = %e, "lost the sweep's leadership (its connection failed)");
                }
                if let Some((conn, _)) = session.take() {
                    let _ = conn.close().await;
                }
                false
            }
        }
    }

    /// Gives up the sweep's leadership, if held (at shutdown, so another node takes over at
    /// once), and stops asking for it.
    pub async fn resign(&self) {
        let mut session = self.leader.lock().await;
        *session = None;
        self.resigned.store(true, std::sync::atomic::Ordering::SeqCst);
        drop(session);
    }

    /// Makes sure `names` have member rows.
    async fn ensure(&self, names: &[&UserName]) -> Result<(), StoreError> {
        let missing: Vec<String> = {
            let ensured = lock(&self.ensured);
            names
                .iter()
                .filter(|n| !ensured.contains(**n))
                .map(|n| n.as_str().to_owned())
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let mut sorted = missing;
        sorted.sort();
        sqlx::query("INSERT INTO members (name) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING")
            .bind(&sorted)
            .execute(&self.rows)
            .await?;
        let mut ensured = lock(&self.ensured);
        for name in names {
            ensured.insert((*name).clone());
        }
        Ok(())
    }

    /// Reads and locks the rows of `names` (in name order, so two nodes never wait on each other
    /// in a cycle), lets `change` decide over them, writes back what it changed and commits.
    /// A transaction that lost its connection before its commit was sent is run again (`change`
    /// with it).
    pub async fn update_members<R>(
        &self,
        names: &[&UserName],
        change: impl Fn(&mut BTreeMap<UserName, Member>) -> R,
    ) -> Result<R, StoreError> {
        retrying("a change of queue members", || self.ensure(names)).await?;
        let mut pauses = PAUSES_MS.iter();
        loop {
            match self.members_once(names, &change).await {
                Err(Attempt::BeforeCommit(e)) if crate::writer::is_connection_loss(&e) => match pauses.next() {
                    Some(&pause_ms) => {
                        tracing::warn!(error = %e, pause_ms, "a change of queue members lost its connection; retrying");
                        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
                    }
                    None => return Err(e.into()),
                },
                Err(Attempt::BeforeCommit(e) | Attempt::AtCommit(e)) => return Err(e.into()),
                Err(Attempt::Refused(e)) => return Err(e),
                Ok(result) => return Ok(result),
            }
        }
    }

    async fn members_once<R>(
        &self,
        names: &[&UserName],
        change: &impl Fn(&mut BTreeMap<UserName, Member>) -> R,
    ) -> Result<R, Attempt> {
        let wanted: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
        let mut tx = self.rows.begin().await?;
        let rows = sqlx::query(
            "SELECT name, presence, used, last_assigned_at, last_released_at FROM members \
             WHERE name = ANY($1) ORDER BY name FOR UPDATE",
        )
        .bind(&wanted)
        .fetch_all(&mut *tx)
        .await?;
        let mut members = BTreeMap::new();
        for row in rows {
            let (name, member) = member_of(&row).map_err(Attempt::Refused)?;
            members.insert(name, member);
        }
        let before = members.clone();
        let result = change(&mut members);
        for (name, member) in &members {
            if before.get(name) == Some(member) {
                continue;
            }
            sqlx::query(
                "INSERT INTO members (name, presence, used, last_assigned_at, last_released_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET presence = $2, used = $3, \
                 last_assigned_at = $4, last_released_at = $5",
            )
            .bind(name.as_str())
            .bind(member.presence.as_str())
            .bind(i64::from(member.used.0))
            .bind(member.last_assigned_at.map(|t| t.0))
            .bind(member.last_released_at.map(|t| t.0))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await.map_err(Attempt::AtCommit)?;
        Ok(result)
    }

    /// The live state of `name` (the default when never seen).
    pub async fn member(&self, name: &UserName) -> Result<Member, StoreError> {
        let row =
            sqlx::query("SELECT name, presence, used, last_assigned_at, last_released_at FROM members WHERE name = $1")
                .bind(name.as_str())
                .fetch_optional(&self.rows)
                .await?;
        Ok(match row {
            Some(row) => member_of(&row)?.1,
            None => Member::default(),
        })
    }

    /// Stores a new offer; `false` if the conversation already has one.
    pub async fn insert_offer(&self, offer: &StoredOffer) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO offers (conversation_id, agent, queue, expires_at, serial, units) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(offer.conversation.to_string())
        .bind(offer.agent.as_str())
        .bind(offer.queue.as_str())
        .bind(offer.expires_at.0)
        .bind(offer.serial as i64)
        .bind(i64::from(offer.units.0))
        .execute(&self.rows)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The offer pending for `conversation`.
    pub async fn offer(&self, conversation: ConversationId) -> Result<Option<StoredOffer>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {OFFER_COLUMNS} FROM offers WHERE conversation_id = $1"
        ))
        .bind(conversation.to_string())
        .fetch_optional(&self.rows)
        .await?;
        row.as_ref().map(offer_of).transpose()
    }

    /// The offers pending for `agent`, soonest to expire first.
    pub async fn offers_for(&self, agent: &UserName) -> Result<Vec<StoredOffer>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {OFFER_COLUMNS} FROM offers WHERE agent = $1 ORDER BY expires_at"
        ))
        .bind(agent.as_str())
        .fetch_all(&self.rows)
        .await?;
        rows.iter().map(offer_of).collect()
    }

    /// Every pending offer.
    pub async fn all_offers(&self) -> Result<Vec<StoredOffer>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {OFFER_COLUMNS} FROM offers ORDER BY expires_at"))
            .fetch_all(&self.rows)
            .await?;
        rows.iter().map(offer_of).collect()
    }

    /// Removes and returns the offer of `conversation` if it is to `agent` (any agent when
    /// `None`) and numbered `serial` (any when `None`). Only one caller can get a given offer.
    pub async fn take_offer(
        &self,
        conversation: ConversationId,
        agent: Option<&UserName>,
        serial: Option<u64>,
    ) -> Result<Option<StoredOffer>, StoreError> {
        let row = sqlx::query(&format!(
            "DELETE FROM offers WHERE conversation_id = $1 AND ($2::text IS NULL OR agent = $2) \
             AND ($3::bigint IS NULL OR serial = $3) RETURNING {OFFER_COLUMNS}"
        ))
        .bind(conversation.to_string())
        .bind(agent.map(UserName::as_str))
        .bind(serial.map(|s| s as i64))
        .fetch_optional(&self.rows)
        .await?;
        row.as_ref().map(offer_of).transpose()
    }

    /// The offers whose time ran out by `now`.
    pub async fn expired_offers(&self, now: Timestamp) -> Result<Vec<StoredOffer>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {OFFER_COLUMNS} FROM offers WHERE expires_at <= $1 ORDER BY expires_at"
        ))
        .bind(now.0)
        .fetch_all(&self.rows)
        .await?;
        rows.iter().map(offer_of).collect()
    }

    /// How many times each agent declined `conversation`.
    pub async fn declines(&self, conversation: ConversationId) -> Result<Vec<(UserName, u32)>, StoreError> {
        let rows = sqlx::query("SELECT agent, count FROM declines WHERE conversation_id = $1 ORDER BY agent")
            .bind(conversation.to_string())
            .fetch_all(&self.rows)
            .await?;
        rows.iter()
            .map(|row| {
                let agent: String = row.try_get("agent")?;
                let count: i64 = row.try_get("count")?;
                let name = UserName::new(&agent).map_err(|e| corrupt("decline", &agent, e))?;
                Ok((name, u32::try_from(count).unwrap_or(u32::MAX)))
            })
            .collect()
    }

    /// Counts one more decline of `conversation` by `agent`.
    pub async fn count_decline(&self, conversation: ConversationId, agent: &UserName) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO declines (conversation_id, agent, count) VALUES ($1, $2, 1) \
             ON CONFLICT (conversation_id, agent) DO UPDATE SET count = declines.count + 1",
        )
        .bind(conversation.to_string())
        .bind(agent.as_str())
        .execute(&self.rows)
        .await?;
        Ok(())
    }

    /// Forgets the declines of a conversation that closed.
    pub async fn forget(&self, conversation: ConversationId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM declines WHERE conversation_id = $1")
            .bind(conversation.to_string())
            .execute(&self.rows)
            .await?;
        Ok(())
    }

    /// Counts a workspace socket of `agent` opened (`+1`) or closed (`-1`) on this node.
    pub async fn agent_socket(&self, agent: &UserName, change: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO agent_sockets (node, agent, open) VALUES ($1, $2, GREATEST($3, 0)) \
             ON CONFLICT (node, agent) DO UPDATE SET open = GREATEST(agent_sockets.open + $3, 0)",
        )
        .bind(&self.node)
        .bind(agent.as_str())
        .bind(change)
        .execute(&self.rows)
        .await?;
        Ok(())
    }

    /// How many workspace sockets of `agent` other nodes hold open (nodes alive: a node that
    /// died has no listening session left, and its counts are ignored).
    pub async fn agent_sockets_elsewhere(&self, agent: &UserName) -> Result<i64, StoreError> {
        retrying("counting a person's sockets", || async {
            Ok(sqlx::query_scalar::<_, Option<i64>>(
                "SELECT SUM(s.open)::bigint FROM agent_sockets s WHERE s.agent = $1 AND s.node <> $2 \
                 AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = $3 || s.node)",
            )
            .bind(agent.as_str())
            .bind(&self.node)
            .bind(APPLICATION_PREFIX)
            .fetch_one(&self.rows)
            .await?
            .unwrap_or(0))
        })
        .await
    }

    /// What built-in bot `bot` remembers of `conversation` (JSON).
    pub async fn bot_state(&self, bot: &str, conversation: &str) -> Result<Option<String>, StoreError> {
        retrying("a bot's memory", || async {
            Ok(
                sqlx::query_scalar("SELECT state FROM bot_state WHERE bot = $1 AND conversation_id = $2")
                    .bind(bot)
                    .bind(conversation)
                    .fetch_optional(&self.rows)
                    .await?,
            )
        })
        .await
    }

    /// Keeps (or, with `None`, forgets) what built-in bot `bot` remembers of `conversation`.
    pub async fn set_bot_state(&self, bot: &str, conversation: &str, state: Option<&str>) -> Result<(), StoreError> {
        retrying("a bot's memory", || async {
            match state {
                Some(state) => {
                    sqlx::query(
                        "INSERT INTO bot_state (bot, conversation_id, state) VALUES ($1, $2, $3) \
                     ON CONFLICT (bot, conversation_id) DO UPDATE SET state = $3",
                    )
                    .bind(bot)
                    .bind(conversation)
                    .bind(state)
                    .execute(&self.rows)
                    .await?
                }
                None => {
                    sqlx::query("DELETE FROM bot_state WHERE bot = $1 AND conversation_id = $2")
                        .bind(bot)
                        .bind(conversation)
                        .execute(&self.rows)
                        .await?
                }
            };
            Ok(())
        })
        .await
    }

    /// Stops listening and closes the connections.
    pub(crate) async fn close(&self) {
        self.resign().await;
        let tasks: Vec<_> = lock(&self.tasks).drain(..).collect();
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
        self.locks.close().await;
        self.rows.close().await;
    }
}

/// How a transaction of [`Cluster::update_members`] failed.
enum Attempt {
    /// Before its commit was sent: nothing of it was committed.
    BeforeCommit(sqlx::Error),
    /// While committing: the outcome is unknown.
    AtCommit(sqlx::Error),
    /// A stored value that does not parse.
    Refused(StoreError),
}

impl From<sqlx::Error> for Attempt {
    fn from(e: sqlx::Error) -> Self {
        Attempt::BeforeCommit(e)
    }
}

/// The pauses between tries of an operation whose connection was lost (the database
/// restarting): about 3.75 s in all.
const PAUSES_MS: [u64; 5] = [50, 200, 500, 1_000, 2_000];

/// Runs `run` again while it fails for a lost connection, a few times over about 3.75 s. Only for
/// operations that changed nothing when they failed that way, or are harmless to repeat.
async fn retrying<T, F, Fut>(what: &str, mut run: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut result = run().await;
    for pause_ms in PAUSES_MS {
        match &result {
            Err(StoreError::Database(e)) if crate::writer::is_connection_loss(e) => {
                tracing::warn!(error = %e, pause_ms, "{what} lost its database connection; retrying");
                tokio::time::sleep(Duration::from_millis(pause_ms)).await;
                result = run().await;
            }
            _ => break,
        }
    }
    result
}

const OFFER_COLUMNS: &str = "conversation_id, agent, queue, expires_at, serial, units";

fn member_of(row: &sqlx::postgres::PgRow) -> Result<(UserName, Member), StoreError> {
    let name: String = row.try_get("name")?;
    let presence: String = row.try_get("presence")?;
    let used: i64 = row.try_get("used")?;
    let member = Member {
        presence: Presence::from_str(&presence).map_err(|e| corrupt("member", &name, e))?,
        used: Capacity(u32::try_from(used).unwrap_or(u32::MAX)),
        last_assigned_at: row.try_get::<Option<i64>, _>("last_assigned_at")?.map(Timestamp),
        last_released_at: row.try_get::<Option<i64>, _>("last_released_at")?.map(Timestamp),
    };
    let name = UserName::new(&name).map_err(|e| corrupt("member", &name, e))?;
    Ok((name, member))
}

fn offer_of(row: &sqlx::postgres::PgRow) -> Result<StoredOffer, StoreError> {
    let id: String = row.try_get("conversation_id")?;
    let agent: String = row.try_get("agent")?;
    let queue: String = row.try_get("queue")?;
    Ok(StoredOffer {
        conversation: ConversationId(uuid::Uuid::parse_str(&id).map_err(|e| corrupt("offer", &id, e))?),
        agent: UserName::new(agent).map_err(|e| corrupt("offer", &id, e))?,
        queue: QueueName::new(queue).map_err(|e| corrupt("offer", &id, e))?,
        expires_at: Timestamp(row.try_get("expires_at")?),
        serial: row.try_get::<i64, _>("serial")? as u64,
        units: Capacity(u32::try_from(row.try_get::<i64, _>("units")?).unwrap_or(u32::MAX)),
    })
}

/// The payload of an `sb_activity` notification.
pub(crate) fn activity_payload(node: &str, conversation: &str, seq: i64, customer: bool) -> String {
    format!("{node} {conversation} {seq} {}", if customer { 'c' } else { '-' })
}

fn parse_activity(payload: &str) -> Option<(&str, Signal)> {
    let mut parts = payload.split(' ');
    let node = parts.next()?;
    let conversation = ConversationId(uuid::Uuid::parse_str(parts.next()?).ok()?);
    let seq = Seq(parts.next()?.parse().ok()?);
    let customer = parts.next()? == "c";
    Some((
        node,
        Signal::Activity {
            conversation,
            seq,
            customer,
        },
    ))
}

/// Receives the other nodes' notifications until aborted, reconnecting when the connection
/// drops.
async fn listen(pool: PgPool, mut listener: PgListener, node: String, signals: broadcast::Sender<Signal>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(n)) => {
                let payload = n.payload();
                let signal = match n.channel() {
                    ACTIVITY_CHANNEL => match parse_activity(payload) {
                        Some((from, signal)) if from != node => Some(signal),
                        Some(_) => None,
                        None => {
                            tracing::warn!(payload, "an activity notification that does not parse");
                            None
                        }
                    },
                    _ => match payload.split_once(' ') {
                        Some((from, json)) if from != node => Some(Signal::Live(json.into())),
                        _ => None,
                    },
                };
                if let Some(signal) = signal {
                    let _ = signals.send(signal);
                }
            }
            Ok(None) | Err(_) => {
                tracing::warn!(node = %node, "the cluster's notification connection dropped; reconnecting");
                listener = loop {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    let Ok(mut fresh) = PgListener::connect_with(&pool).await else {
                        continue;
                    };
                    if fresh.listen_all([ACTIVITY_CHANNEL, LIVE_CHANNEL]).await.is_ok() {
                        break fresh;
                    }
                };
                tracing::info!(node = %node, "listening to the cluster again; catching up from the store");
                let _ = signals.send(Signal::Resync);
            }
        }
    }
}

/// Sends this node's live events, one after the other so they arrive in order.
async fn send_live(pool: PgPool, node: String, mut outgoing: mpsc::UnboundedReceiver<String>) {
    while let Some(json) = outgoing.recv().await {
        let payload = format!("{node} {json}");
        for attempt in 0..3 {
            match sqlx::query("SELECT pg_notify($1, $2)")
                .bind(LIVE_CHANNEL)
                .bind(&payload)
                .execute(&pool)
                .await
            {
                Ok(_) => break,
                Err(e) if attempt == 2 => {
                    tracing::warn!(error = %e, "a live event could not be sent to the other nodes");
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_payloads_parse_back() {
        let id = ConversationId(uuid::Uuid::now_v7());
        let payload = activity_payload("n1", &id.to_string(), 42, true);
        let (
            node,
            Signal::Activity {
                conversation,
                seq,
                customer,
            },
        ) = parse_activity(&payload).unwrap()
        else {
            panic!("not an activity")
        };
        assert_eq!((node, conversation, seq, customer), ("n1", id, Seq(42), true));
        assert!(parse_activity("n1 not-a-uuid 1 c").is_none());
    }

    #[test]
    fn lock_keys_differ_between_conversations_and_queues() {
        let a = ConversationId(uuid::Uuid::from_u128(1));
        let b = ConversationId(uuid::Uuid::from_u128(2));
        assert_ne!(conversation_key(a), conversation_key(b));
        let q = QueueName::new("CreditCardQueue").unwrap();
        assert_ne!(queue_key(&q), queue_key(&QueueName::new("HomeLoanQueue").unwrap()));
    }
}
