//! The hub service: opening conversations (route, assign, persist) and the lifecycle of the
//! engine as a whole.

use std::sync::Arc;
use std::time::Duration;

use domain::assign::WaitReason;
use domain::context::{Context, ContextError, RawValue};
use domain::conversation::{Conversation, ConversationId, Customer, IllegalTransition};
use domain::routing::{RoutingCause, RoutingDecision};
use domain::tenant::Tenant;
use domain::workstream::Workstream;
use domain::{ConversationState, Presence, QueueName, Timestamp, UserName};
use store::{Store, StoreError};

use crate::dispatch::{ChannelSettings, Dispatcher};
use crate::events::Events;
use crate::live::{Live, LiveEvent};
use crate::locks::ConversationLocks;
use crate::roster::{MemberSnapshot, Roster};
use crate::work::Work;

/// What can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("there is no workstream named `{0}`")]
    UnknownWorkstream(String),
    #[error("there is no user named `{0}`")]
    UnknownUser(String),
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("conversation `{0}` does not exist")]
    ConversationNotFound(ConversationId),
    /// The caller may not act on this conversation (not its bot, or wrong credentials).
    #[error("{0}")]
    Forbidden(String),
    /// The activity itself is unacceptable (malformed, too large, an unsupported card).
    #[error(transparent)]
    Activity(#[from] botframework::ActivityError),
    #[error("{0}")]
    Unsupported(String),
    /// A conversation with this id was already opened.
    #[error("conversation `{0}` already exists")]
    ConversationExists(ConversationId),
    /// The conversation is closed: nothing more can be added to it.
    #[error("conversation `{0}` has ended")]
    ConversationEnded(ConversationId),
    /// A bot's Connector call names something that is not there or cannot be done with it.
    #[error(transparent)]
    Connector(#[from] crate::connector_ops::ConnectorRefusal),
    /// Credentials that do not sign anyone in.
    #[error("{0}")]
    Unauthorized(String),
    #[error("there is no queue named `{0}`")]
    UnknownQueue(String),
    /// A request that is malformed in itself (empty text, a transfer to oneself).
    #[error("{0}")]
    Invalid(String),
    /// A well-formed request the conversation's current state does not allow (no offer to
    /// accept, a transfer to a bot that already had it); `code` names which.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// The hub is stopping: it takes no new work from the balancer.
    #[error("this node is draining before it stops")]
    Draining,
}

impl EngineError {
    pub(crate) fn refused(code: &'static str, message: String) -> Self {
        EngineError::Refused { code, message }
    }
}

/// A conversation just opened: where routing sent it and who has it.
#[derive(Debug, Clone)]
pub struct Opened {
    pub conversation: Conversation,
    pub decision: RoutingDecision,
    /// Why it waits, when no member could take it.
    pub waiting: Option<WaitReason>,
}

/// The running hub.
#[derive(Debug)]
pub struct Hub {
    /// Read-only after start; shared with every request.
    tenant: Arc<Tenant>,
    store: Arc<dyn Store>,
    pub(crate) roster: Roster,
    /// Serialises changes to each conversation (see `locks`).
    pub(crate) conversations: ConversationLocks,
    /// Delivers activities to bots, in order per conversation (see `dispatch`).
    pub(crate) dispatcher: Dispatcher,
    /// Pushes stored activities to whoever watches their conversation (see `events`).
    pub(crate) events: Events,
    /// Hub-wide live events for people (see `live`).
    pub(crate) live: Live,
    /// Offers, declines, connections and timers of people's work (see `work`).
    pub(crate) work: Work,
    /// The people's settings from the configuration (see `people`).
    pub(crate) people: Arc<crate::people::People>,
    /// Wrong passwords per account and per address (see `throttle`).
    pub(crate) sign_in_throttle: crate::throttle::SignInThrottle,
    /// The few threads passwords are checked on (see `passwords`).
    pub(crate) password_checks: crate::passwords::PasswordChecks,
    /// The running sentiment of each ongoing conversation (see `sentiment`).
    pub(crate) pulses: crate::sentiment::Pulses,
    /// Bot-session metering (see `metering`); `None` when not configured.
    pub(crate) metering: Option<domain::metering::Policy>,
    pub(crate) metering_watch: crate::metering::Watch,
    /// Cancelled at shutdown: stops the clocks.
    pub(crate) stop: tokio_util::sync::CancellationToken,
    /// The hub's background tasks (clocks, the cluster's follower), waited for at shutdown.
    pub(crate) tasks: tokio_util::task::TaskTracker,
    /// Cancelled when the hub starts draining (see [`Hub::drain`]).
    draining: tokio_util::sync::CancellationToken,
    /// Cancelled when the hub's sockets should close (see [`Hub::close_sockets`]).
    closing: tokio_util::sync::CancellationToken,
}

impl Hub {
    /// A hub over `tenant`'s configuration and `store`, with the default channel settings
    /// (service URL `http://127.0.0.1:8080`, anonymous bots only).
    pub fn new(tenant: Tenant, store: Arc<dyn Store>) -> Self {
        Self::with_channel(tenant, store, ChannelSettings::default())
    }

    /// A hub that talks to bots as `channel` says.
    /// On PostgreSQL the hub is a node of a cluster (see `store::Cluster`): its locks, roster,
    /// offers and live events are shared with every other hub on the same database.
    pub fn with_channel(tenant: Tenant, store: Arc<dyn Store>, channel: ChannelSettings) -> Self {
        let cluster = store.cluster();
        Self {
            tenant: Arc::new(tenant),
            store,
            roster: Roster::new(cluster.clone()),
            conversations: ConversationLocks::new(cluster.clone()),
            dispatcher: Dispatcher::new(channel),
            events: Events::default(),
            live: Live::new(cluster.clone()),
            work: Work::new(cluster),
            people: Arc::default(),
            sign_in_throttle: Default::default(),
            password_checks: Default::default(),
            pulses: Default::default(),
            metering: None,
            metering_watch: Default::default(),
            stop: tokio_util::sync::CancellationToken::new(),
            tasks: tokio_util::task::TaskTracker::new(),
            draining: tokio_util::sync::CancellationToken::new(),
            closing: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// Runs `then` with the hub after `delay`, unless the hub stops first: a timer. Tracked
    /// with the hub's other tasks, so a stop waits for none of them to sleep out.
    pub(crate) fn after<F, Fut>(self: &Arc<Self>, delay: Duration, then: F)
    where
        F: FnOnce(Arc<Hub>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let weak = Arc::downgrade(self);
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
            if let Some(hub) = weak.upgrade() {
                then(hub).await;
            }
        });
    }

    /// Starts draining before a stop: `/readyz` answers 503 from now on, so a load balancer
    /// sends new requests to other nodes, while this one goes on serving what still comes; in a
    /// cluster, another node takes over the sweep of timers at once.
    pub async fn drain(&self) {
        self.draining.cancel();
        if let Some(cluster) = self.store.cluster() {
            cluster.resign().await;
        }
    }

    /// Tells every open socket (customers' streams, people's events) to close with a code
    /// clients reconnect on; they come back through the balancer to another node.
    pub fn close_sockets(&self) {
        self.closing.cancel();
    }

    /// Whether the hub is draining before a stop.
    pub fn is_draining(&self) -> bool {
        self.draining.is_cancelled()
    }

    /// Cancelled when the hub's sockets should close.
    pub fn closing(&self) -> tokio_util::sync::CancellationToken {
        self.closing.clone()
    }

    /// Watches `conversation`: every activity stored in it from now on arrives on the receiver
    /// (a receiver that lags is told so and should read the log with
    /// `Store::activities_after`).
    pub fn watch(
        &self,
        conversation: ConversationId,
    ) -> tokio::sync::broadcast::Receiver<Arc<domain::activity::StoredActivity>> {
        self.events.subscribe(conversation)
    }

    /// Watches the whole hub: offers, conversation changes, transcript items, presence. The
    /// caller filters what its user may see.
    pub fn live(&self) -> tokio::sync::broadcast::Receiver<Arc<LiveEvent>> {
        self.live.subscribe()
    }

    /// How the hub talks to bots.
    pub fn channel(&self) -> &ChannelSettings {
        &self.dispatcher.settings
    }

    /// The tenant's configuration.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Whether the hub can do its work: the store answers.
    pub async fn ready(&self) -> Result<(), EngineError> {
        if self.draining.is_cancelled() {
            return Err(EngineError::Draining);
        }
        Ok(self.store.ping().await?)
    }

    /// Checks raw context values against a workstream's definitions.
    pub fn check_context<'a>(
        &self,
        workstream: &str,
        values: impl IntoIterator<Item = (&'a str, RawValue<'a>)>,
    ) -> Result<Context, EngineError> {
        let ws = self
            .tenant
            .workstream(workstream)
            .ok_or_else(|| EngineError::UnknownWorkstream(workstream.to_owned()))?;
        let mut context = Context::new();
        for (name, value) in values {
            let (name, value) = ws.variables.check(name, value)?;
            context.set(name, value);
        }
        Ok(context)
    }

    /// Records `user`'s presence.
    pub async fn set_presence(&self, user: &str, presence: Presence) -> Result<(), EngineError> {
        let user = self
            .tenant
            .user(user)
            .ok_or_else(|| EngineError::UnknownUser(user.to_owned()))?;
        self.roster.set_presence(&user.name, presence).await?;
        Ok(())
    }

    /// The live state of `user` (presence, capacity in use, last assignment).
    pub async fn member(&self, user: &UserName) -> Result<MemberSnapshot, EngineError> {
        Ok(self.roster.snapshot(user).await?)
    }

    /// Opens a conversation in `workstream`: stores it, runs the routing rules (the decision and
    /// its trace are stored with it), and gives it to a member of the chosen queue or leaves it
    /// waiting there.
    pub async fn open_conversation(
        self: &Arc<Self>,
        workstream: &str,
        customer: Customer,
        context: Context,
    ) -> Result<Opened, EngineError> {
        self.open_conversation_as(ConversationId(uuid::Uuid::now_v7()), workstream, customer, context)
            .await
    }

    /// [`Hub::open_conversation`] with an id chosen beforehand (a channel that handed out the id
    /// before the conversation started, as Direct Line's token generation does). An id already
    /// stored is [`EngineError::ConversationExists`].
    pub async fn open_conversation_as(
        self: &Arc<Self>,
        id: ConversationId,
        workstream: &str,
        customer: Customer,
        context: Context,
    ) -> Result<Opened, EngineError> {
        let ws = self
            .tenant
            .workstream(workstream)
            .ok_or_else(|| EngineError::UnknownWorkstream(workstream.to_owned()))?;
        let now = crate::now();
        let mut conversation =
            Conversation::open(id, self.tenant.name().clone(), ws.name.clone(), customer, context, now);
        match self.store.insert_conversation(&conversation).await {
            Err(StoreError::Conflict { .. }) => return Err(EngineError::ConversationExists(id)),
            other => other?,
        }

        let (decision, waiting) = self
            .route_and_place(
                &mut conversation,
                ws,
                ConversationState::Open,
                RoutingCause::Opened,
                now,
            )
            .await?;
        metrics::counter!("switchboard_conversations_opened_total", "workstream" => ws.name.to_string(), "queue" => decision.queue.to_string()).increment(1);
        tracing::info!(
            conversation.id = %conversation.id,
            workstream.name = %ws.name,
            queue.name = %decision.queue,
            rule = decision.rule.as_ref().map_or("(fallback)", |r| r.as_str()),
            owner = conversation.owner.as_ref().map_or("(waiting)", |o| o.name().as_str()),
            "conversation opened"
        );
        Ok(Opened {
            conversation,
            decision,
            waiting,
        })
    }

    /// Runs the workstream's rules over the conversation's context, stores the decision, and
    /// gives the conversation to a member of the chosen queue or leaves it waiting there; then
    /// stores the conversation, provided its stored state is still `expected`. A queue whose
    /// only members are bots that already escalated this conversation would keep it waiting
    /// forever, so such a decision falls through to the fallback queue. A bot that gets the
    /// conversation is told so (`conversationUpdate`, then the context event).
    pub(crate) async fn route_and_place(
        self: &Arc<Self>,
        conversation: &mut Conversation,
        ws: &Workstream,
        expected: ConversationState,
        cause: RoutingCause,
        now: Timestamp,
    ) -> Result<(RoutingDecision, Option<WaitReason>), EngineError> {
        let mut decision = ws.route(&conversation.context);
        decision.cause = cause;
        // Whether the queue has members and all of them are such.
        let only = |queue: &QueueName, such: &dyn Fn(&UserName) -> bool| {
            let members = &self.queue_named(queue).members;
            !members.is_empty() && members.iter().all(such)
        };
        if only(&decision.queue, &|m| conversation.escalated_by.contains(m)) && decision.queue != ws.fallback_queue {
            tracing::info!(conversation.id = %conversation.id, queue.name = %decision.queue, "only the escalating bot is in the queue; using the fallback queue");
            decision.queue = ws.fallback_queue.clone();
        }
        if decision.queue != ws.fallback_queue
            && only(&decision.queue, &|m| self.bot_user(m).is_some())
            && self.bots_refused(conversation).await?
        {
            tracing::info!(conversation.id = %conversation.id, queue.name = %decision.queue, "the month's bot sessions are spent; routing to people (the fallback queue)");
            metrics::counter!("switchboard_bot_sessions_refused_total").increment(1);
            decision.queue = ws.fallback_queue.clone();
        }
        self.store.record_routing(conversation.id, now, &decision).await?;
        let queue = self
            .tenant
            .queue(decision.queue.as_str())
            .expect("the tenant checks that every rule names a defined queue");
        let waiting = self.place(conversation, ws, queue, expected, now).await?;
        Ok((decision, waiting))
    }

    /// Whether bots must not take `conversation`: under `when_spent = "route_to_people"`, once
    /// the month's pool is spent, a conversation that has not had a bot yet goes to people (a
    /// conversation that already had one costs no new session).
    pub(crate) async fn bots_refused(&self, conversation: &Conversation) -> Result<bool, EngineError> {
        let Some(policy) = self.metering else { return Ok(false) };
        if policy.when_spent != domain::metering::WhenSpent::RouteToPeople || conversation.milestones.bot.is_some() {
            return Ok(false);
        }
        self.pool_spent().await
    }

    /// Publishes gauges that are cheaper to read on demand than to keep updated.
    pub fn publish_gauges(&self) {
        let stats = self.store.stats();
        metrics::gauge!("switchboard_store_appends").set(stats.appends as f64);
        metrics::gauge!("switchboard_store_append_transactions").set(stats.transactions as f64);
    }

    /// Stops the engine: lets deliveries to bots in progress finish (for a few seconds at
    /// most), then flushes and closes the store.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        self.tasks.close();
        if tokio::time::timeout(Duration::from_secs(5), self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(left = self.tasks.len(), "some of the hub's tasks did not stop in 5 s");
        }
        if let Some(cluster) = self.store.cluster() {
            cluster.resign().await;
        }
        self.dispatcher.shutdown(Duration::from_secs(5)).await;
        self.password_checks.shutdown().await;
        self.store.close().await;
    }
}

/// A conversation with what an operator needs to see why it is where it is.
#[derive(Debug, Clone)]
pub struct ConversationDetails {
    pub conversation: Conversation,
    /// Every routing decision, oldest first.
    pub routing: Vec<store::RoutingRecord>,
    /// The escalation summaries bots left for agents (the text of each `Escalate` activity), in
    /// order.
    pub escalation_summaries: Vec<String>,
}

impl Hub {
    /// The conversation `id` with its routing history and escalation summaries.
    pub async fn conversation_details(&self, id: ConversationId) -> Result<ConversationDetails, EngineError> {
        let conversation = self
            .store
            .get_conversation(id)
            .await?
            .ok_or(EngineError::ConversationNotFound(id))?;
        let routing = self.store.routing_history(id).await?;
        let mut escalation_summaries = Vec::new();
        let mut after = domain::Seq::ZERO;
        loop {
            let page = self.store.activities_after(id, after, 500).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for stored in &page {
                let activity = &stored.activity;
                if activity.sender_role != domain::activity::SenderRole::Bot
                    || activity.visibility != domain::activity::Visibility::AgentsOnly
                {
                    continue;
                }
                let Ok(parsed) = serde_json::from_str::<botframework::Activity>(&activity.body) else {
                    continue;
                };
                if let Ok(Some(botframework::omnichannel::BotCommand::Escalate { .. })) =
                    botframework::omnichannel::command(&parsed)
                {
                    escalation_summaries.push(parsed.text.unwrap_or_default());
                }
            }
        }
        Ok(ConversationDetails {
            conversation,
            routing,
            escalation_summaries,
        })
    }
}
