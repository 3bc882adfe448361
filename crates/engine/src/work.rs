//! Work for people: placing a conversation with a queue member (a bot at once, an agent by an
//! offer they accept or decline), the assignment cycle that offers waiting conversations the
//! moment capacity frees, and what an agent does with a conversation they hold (reply, note,
//! transfer, end, close).
//!
//! # Offers
//!
//! When the queue's method picks an agent, the conversation stays `waiting` and the agent is
//! offered it; their capacity is taken at once, so nobody is offered more than they can hold. The
//! offer lives in memory: accepting makes the conversation `active` with the agent as owner;
//! declining, or letting the workstream's `offer_timeout` pass, gives the capacity back, counts a
//! decline and offers it to the next agent (nobody more than [`domain::assign::DEFAULT_MAX_DECLINES`]
//! times). With `auto_accept` the conversation is assigned without an offer. A hub that restarts
//! forgets its offers: the conversations are still `waiting` in the store and are offered again
//! when agents come back.
//!
//! # The assignment cycle
//!
//! Runs when capacity may have freed (a presence change, an offer declined, a conversation
//! closed or transferred away, an agent reconnecting) over the waiting conversations of the
//! queues concerned, oldest first, skipping those already offered. One cycle runs at a time, so
//! two cycles never offer the same conversation twice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use botframework::{Activity, ActivityType, ChannelAccount, EndOfConversationCode, RoleType};
use domain::activity::{SenderRole, Visibility};
use domain::assign::{DEFAULT_MAX_DECLINES, Request, WaitReason};
use domain::conversation::{Conversation, Owner, SurveyEnd};
use domain::queue::Queue;
use domain::routing::{RoutingCause, RoutingDecision};
use domain::user::{Capacity, Role, User, UserKind};
use domain::workstream::{CapacityRelease, DistributionMode, Workstream};
use domain::{ConversationId, ConversationState, Presence, QueueName, Seq, Timestamp, UserName};
use serde_json::json;

use crate::companions::EndedBy;
use crate::hub::{EngineError, Hub};
use crate::live::{LiveEvent, Withdrawn};
use crate::roster::Placement;
use store::StoreError;

/// A conversation offered to an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub conversation: ConversationId,
    pub agent: UserName,
    pub queue: QueueName,
    pub expires_at: Timestamp,
    /// Tells this offer from a later one of the same conversation (for its timeout).
    serial: u64,
    pub(crate) units: Capacity,
}

/// The in-memory side of people's work. On PostgreSQL, offers and declines are kept in the
/// database instead (shared by the cluster's nodes; see `store::Cluster`).
#[derive(Debug, Default)]
pub(crate) struct Work {
    pub(crate) cluster: Option<Arc<store::Cluster>>,
    offers: Mutex<HashMap<ConversationId, Offer>>,
    declines: Mutex<HashMap<ConversationId, Vec<(UserName, u32)>>>,
    serial: AtomicU64,
    /// One assignment cycle at a time.
    cycle: tokio::sync::Mutex<()>,
    /// Open workspace connections per person, and a generation that a reconnect bumps so a
    /// grace period that started earlier knows it is stale.
    connections: Mutex<HashMap<UserName, (usize, u64)>>,
    /// The last socket count sent to the cluster; the next waits for it, so counts apply in
    /// order.
    sockets: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// When each conversation's customer last sent something (for the inactivity timer).
    pub(crate) last_customer: Mutex<HashMap<ConversationId, Timestamp>>,
    /// When each waiting customer was last told their position.
    pub(crate) last_position: Mutex<HashMap<ConversationId, Timestamp>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl From<store::StoredOffer> for Offer {
    fn from(o: store::StoredOffer) -> Self {
        Offer {
            conversation: o.conversation,
            agent: o.agent,
            queue: o.queue,
            expires_at: o.expires_at,
            serial: o.serial,
            units: o.units,
        }
    }
}

impl Work {
    pub(crate) fn new(cluster: Option<Arc<store::Cluster>>) -> Self {
        Self {
            cluster,
            ..Self::default()
        }
    }

    async fn offer_of(&self, conversation: ConversationId) -> Result<Option<Offer>, StoreError> {
        match &self.cluster {
            Some(cluster) => Ok(cluster.offer(conversation).await?.map(Offer::from)),
            None => Ok(lock(&self.offers).get(&conversation).cloned()),
        }
    }

    /// Every pending offer for `agent` (for every agent when `None`), soonest to expire first.
    async fn offers(&self, agent: Option<&UserName>) -> Result<Vec<Offer>, StoreError> {
        let mut offers: Vec<Offer> = match &self.cluster {
            Some(cluster) => match agent {
                Some(agent) => cluster.offers_for(agent).await?,
                None => cluster.all_offers().await?,
            }
            .into_iter()
            .map(Offer::from)
            .collect(),
            None => lock(&self.offers)
                .values()
                .filter(|o| agent.is_none_or(|a| &o.agent == a))
                .cloned()
                .collect(),
        };
        offers.sort_by_key(|o| o.expires_at);
        Ok(offers)
    }

    /// Keeps a new offer (the caller holds the conversation's lock and saw none pending).
    async fn put_offer(&self, offer: &Offer) -> Result<(), StoreError> {
        match &self.cluster {
            Some(cluster) => {
                let stored = store::StoredOffer {
                    conversation: offer.conversation,
                    agent: offer.agent.clone(),
                    queue: offer.queue.clone(),
                    expires_at: offer.expires_at,
                    serial: offer.serial,
                    units: offer.units,
                };
                if !cluster.insert_offer(&stored).await? {
                    tracing::warn!(conversation.id = %offer.conversation, "an offer was already pending; kept that one");
                }
            }
            None => {
                lock(&self.offers).insert(offer.conversation, offer.clone());
            }
        }
        Ok(())
    }

    /// Removes and returns the offer of `conversation`, if it is to `agent` and numbered
    /// `serial` (either unchecked when `None`). Only one caller gets a given offer.
    async fn take_offer(
        &self,
        conversation: ConversationId,
        agent: Option<&UserName>,
        serial: Option<u64>,
    ) -> Result<Option<Offer>, StoreError> {
        match &self.cluster {
            Some(cluster) => Ok(cluster.take_offer(conversation, agent, serial).await?.map(Offer::from)),
            None => {
                let mut offers = lock(&self.offers);
                match offers.get(&conversation) {
                    Some(o) if agent.is_none_or(|a| &o.agent == a) && serial.is_none_or(|s| s == o.serial) => {
                        Ok(offers.remove(&conversation))
                    }
                    _ => Ok(None),
                }
            }
        }
    }

    /// A number telling this offer from any other of the same conversation.
    fn next_serial(&self) -> u64 {
        match &self.cluster {
            // Several nodes number offers: a random 63-bit number.
            Some(_) => uuid::Uuid::new_v4().as_u64_pair().0 >> 1,
            None => self.serial.fetch_add(1, Ordering::Relaxed),
        }
    }

    async fn declines_of(&self, conversation: ConversationId) -> Result<Vec<(UserName, u32)>, StoreError> {
        match &self.cluster {
            Some(cluster) => cluster.declines(conversation).await,
            None => Ok(lock(&self.declines).get(&conversation).cloned().unwrap_or_default()),
        }
    }

    async fn count_decline(&self, conversation: ConversationId, agent: &UserName) -> Result<(), StoreError> {
        if let Some(cluster) = &self.cluster {
            return cluster.count_decline(conversation, agent).await;
        }
        let mut declines = lock(&self.declines);
        let list = declines.entry(conversation).or_default();
        match list.iter_mut().find(|(name, _)| name == agent) {
            Some((_, n)) => *n += 1,
            None => list.push((agent.clone(), 1)),
        }
        Ok(())
    }

    /// Forgets what this node keeps about a conversation that closed.
    pub(crate) fn forget(&self, conversation: ConversationId) {
        lock(&self.declines).remove(&conversation);
        lock(&self.last_customer).remove(&conversation);
        lock(&self.last_position).remove(&conversation);
    }

    /// Forgets a conversation that closed, here and in the cluster's tables.
    pub(crate) async fn forget_everywhere(&self, conversation: ConversationId) {
        self.forget(conversation);
        if let Some(cluster) = &self.cluster
            && let Err(e) = cluster.forget(conversation).await
        {
            tracing::warn!(conversation.id = %conversation, error = %e, "could not forget a closed conversation's declines");
        }
    }
}

/// Holds one of a person's workspace connections open; dropping it closes it. When a person's
/// last connection closes, their conversations are kept for the workstream's
/// `agent_reconnect_grace`, then go back to their queues.
#[derive(Debug)]
pub struct AgentConnection {
    hub: std::sync::Weak<Hub>,
    user: UserName,
}

impl Drop for AgentConnection {
    fn drop(&mut self) {
        let Some(hub) = self.hub.upgrade() else { return };
        hub.count_socket(&self.user, -1);
        let generation = {
            let mut connections = lock(&hub.work.connections);
            let entry = connections.entry(self.user.clone()).or_default();
            entry.0 = entry.0.saturating_sub(1);
            if entry.0 > 0 {
                return;
            }
            entry.1
        };
        let grace = hub.reconnect_grace();
        let user = self.user.clone();
        if tokio::runtime::Handle::try_current().is_ok() {
            hub.after(grace, move |hub| async move {
                hub.connection_lost(&user, generation).await;
            });
        }
    }
}

/// What a notice about a person says to the customer.
fn joined_text(agent: &User) -> String {
    format!("{} joined the conversation.", agent.display_name)
}

fn left_text(agent: &User) -> String {
    format!("{} left the conversation.", agent.display_name)
}

impl Hub {
    /// The person named `name` (not a bot).
    pub(crate) fn person(&self, name: &UserName) -> Result<(&User, Role, Capacity), EngineError> {
        match self.tenant().user(name.as_str()) {
            Some(
                user @ User {
                    kind: UserKind::Human { role, capacity },
                    ..
                },
            ) => Ok((user, *role, *capacity)),
            _ => Err(EngineError::UnknownUser(name.to_string())),
        }
    }

    pub(crate) fn workstream_of(&self, conversation: &Conversation) -> &Workstream {
        self.tenant()
            .workstream(conversation.workstream.as_str())
            .expect("a stored conversation names a configured workstream")
    }

    pub(crate) fn queue_named(&self, name: &QueueName) -> &Queue {
        self.tenant()
            .queue(name.as_str())
            .expect("the tenant checks every queue reference")
    }

    /// The longest reconnect grace of any workstream (a person may work several).
    fn reconnect_grace(&self) -> Duration {
        self.tenant()
            .workstreams()
            .map(|ws| ws.timers.agent_reconnect_grace)
            .max()
            .unwrap_or(Duration::from_secs(90))
    }

    /// The queues `user` is a member of.
    pub fn queues_of(&self, user: &UserName) -> Vec<QueueName> {
        self.tenant()
            .queues()
            .filter(|q| q.members.contains(user))
            .map(|q| q.name.clone())
            .collect()
    }

    /// The offer pending for `conversation`, if any.
    pub async fn offer(&self, conversation: ConversationId) -> Result<Option<Offer>, EngineError> {
        Ok(self.work.offer_of(conversation).await?)
    }

    /// Every offer pending for `agent`, soonest to expire first.
    pub async fn offers_for(&self, agent: &UserName) -> Result<Vec<Offer>, EngineError> {
        Ok(self.work.offers(Some(agent)).await?)
    }

    pub(crate) fn publish_conversation(&self, conversation: &Conversation) {
        if conversation.state == ConversationState::Closed {
            self.forget_pulse(conversation.id);
        }
        self.live
            .publish(LiveEvent::Conversation(Arc::new(conversation.clone())));
    }

    /// Places a conversation that is `open` or `waiting` in `queue`, and stores the result if
    /// anything changed (`expected` is its stored state). A bot gets it at once (and is told);
    /// an agent is offered it, or assigned it at once with `auto_accept`; with nobody free it
    /// waits and a customer who just started waiting is told their place. In a `pick`
    /// workstream only bots are chosen. The caller holds the conversation's lock.
    pub(crate) async fn place(
        self: &Arc<Self>,
        conversation: &mut Conversation,
        ws: &Workstream,
        queue: &Queue,
        expected: ConversationState,
        now: Timestamp,
    ) -> Result<Option<WaitReason>, EngineError> {
        let declines = self.work.declines_of(conversation.id).await?;
        let allowed: &[Presence] = match ws.mode {
            DistributionMode::Push => &ws.allowed_presences,
            DistributionMode::Pick => &[],
        };
        // Declining lowers an agent's priority for this conversation: those who declined it
        // fewer times are tried first, and nobody more than DEFAULT_MAX_DECLINES times.
        // Bots that may not take it: those that escalated it, and every bot of the queue once the
        // month's bot sessions are spent under `when_spent = "route_to_people"` (see `metering`).
        let mut excluded = conversation.escalated_by.clone();
        let queue_bots: Vec<UserName> = queue
            .members
            .iter()
            .filter(|m| self.bot_user(m).is_some())
            .cloned()
            .collect();
        if !queue_bots.is_empty() && self.bots_refused(conversation).await? {
            tracing::info!(conversation.id = %conversation.id, queue.name = %queue.name, "the month's bot sessions are spent; only people of the queue may take it");
            excluded.extend(queue_bots);
        }
        // In a cluster a newcomer never takes an agent ahead of those already waiting, who may
        // be in another node's cycle right now: it joins the line and the queue's cycle, one
        // at a time across the nodes, offers in order. (Bots take work at once, as ever.)
        let in_line = self.store().cluster().is_some()
            && expected != ConversationState::Waiting
            && ws.mode == DistributionMode::Push
            && queue.members.iter().all(|m| self.bot_user(m).is_none());
        let mut placement = Placement::Wait(WaitReason::NoMembers);
        if in_line {
            placement = Placement::Wait(WaitReason::InLine);
            let hub = Arc::clone(self);
            let name = queue.name.clone();
            self.tasks.spawn(hub.cycle_later(vec![name]));
        }
        for max_declines in (1..=DEFAULT_MAX_DECLINES).filter(|_| !in_line) {
            let request = Request {
                escalated_by: &excluded,
                declines: &declines,
                max_declines: if declines.is_empty() {
                    DEFAULT_MAX_DECLINES
                } else {
                    max_declines
                },
                ..Request::new(ws.capacity, allowed)
            };
            placement = self.roster.place(self.tenant(), queue, &request, now).await?;
            if !matches!(placement, Placement::Wait(_)) || declines.is_empty() {
                break;
            }
        }
        let was_waiting = expected == ConversationState::Waiting;
        let (offer_to, waiting) = match &placement {
            Placement::Bot(bot) => {
                conversation.assign(queue.name.clone(), Owner::Bot(bot.clone()), now)?;
                (None, None)
            }
            Placement::Agent(agent) if ws.auto_accept => {
                conversation.assign(queue.name.clone(), Owner::Agent(agent.clone()), now)?;
                (None, None)
            }
            Placement::Agent(agent) => {
                if conversation.state != ConversationState::Waiting {
                    conversation.enqueue(queue.name.clone(), now)?;
                }
                (Some(agent.clone()), None)
            }
            Placement::Wait(reason) => {
                if conversation.state != ConversationState::Waiting {
                    conversation.enqueue(queue.name.clone(), now)?;
                }
                (None, Some(*reason))
            }
        };
        let changed = !was_waiting || conversation.state != ConversationState::Waiting;
        if changed && let Err(e) = self.store().update_conversation(conversation, expected).await {
            if let Placement::Agent(agent) = &placement {
                self.roster.release(agent, ws.capacity, now).await?;
            }
            return Err(e.into());
        }
        if changed {
            self.publish_conversation(conversation);
        }
        match &placement {
            Placement::Bot(bot) => self.bot_joined(conversation, ws, bot).await?,
            Placement::Agent(agent) if ws.auto_accept => self.agent_joined(conversation, agent).await?,
            _ if !was_waiting => {
                self.tell_queue_position(conversation, &queue.name).await?;
                lock(&self.work.last_position).insert(conversation.id, now);
            }
            _ => {}
        }
        if let Some(agent) = offer_to {
            self.make_offer(conversation.id, agent, queue.name.clone(), ws, now)
                .await?;
        }
        Ok(waiting)
    }

    async fn make_offer(
        self: &Arc<Self>,
        conversation: ConversationId,
        agent: UserName,
        queue: QueueName,
        ws: &Workstream,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let timeout = ws.timers.offer_timeout;
        // Timed from now, after the capacity was reserved (the placement's `now` may be earlier
        // by the wait for the agent's row), so the offer is never dated before the release of
        // the capacity it takes.
        let offered_at = crate::now().max(now);
        let expires_at = Timestamp(offered_at.millis() + i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX / 2));
        let serial = self.work.next_serial();
        let offer = Offer {
            conversation,
            agent: agent.clone(),
            queue: queue.clone(),
            expires_at,
            serial,
            units: ws.capacity,
        };
        if let Err(e) = self.work.put_offer(&offer).await {
            self.roster.release(&agent, ws.capacity, now).await?;
            return Err(e.into());
        }
        tracing::info!(conversation.id = %conversation, agent = %agent, queue.name = %queue, "offered");
        metrics::counter!("switchboard_offers_total", "queue" => queue.to_string()).increment(1);
        self.live.publish(LiveEvent::Offer {
            conversation,
            agent: agent.clone(),
            queue,
            expires_at,
        });
        self.after(timeout, move |hub| async move {
            hub.offer_timed_out(conversation, &agent, serial).await;
        });
        Ok(())
    }

    /// The offer numbered `serial` of `conversation` to `agent` ran out of time (if it still
    /// stands): withdrawn, counted as a decline, offered to the next agent.
    /// (Boxed: withdrawing offers the conversation again, which may start another such timer.)
    pub(crate) fn offer_timed_out<'a>(
        self: &'a Arc<Self>,
        conversation: ConversationId,
        agent: &'a UserName,
        serial: u64,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            if let Err(e) = self
                .withdraw_offer(conversation, agent, Some(serial), Withdrawn::TimedOut)
                .await
            {
                tracing::warn!(conversation.id = %conversation, agent = %agent, error = %e, "withdrawing an offer that timed out failed");
            }
        })
    }

    /// Tells everyone `agent` now has the conversation: a notice the customer sees, carrying
    /// who joined in `channelData` (which is also how the transcript remembers who owned it).
    /// The workstream's smart-assist bots learn the agent joined.
    pub(crate) async fn agent_joined(
        self: &Arc<Self>,
        conversation: &Conversation,
        agent: &UserName,
    ) -> Result<(), EngineError> {
        let (user, ..) = self.person(agent)?;
        let mut notice = Activity::message(joined_text(user));
        notice.channel_data = Some(json!({"switchboard": {"event": "agent_joined", "agent": agent}}));
        self.tell_customer(conversation.id, notice).await?;
        self.smart_assist_agent_joined(conversation, agent);
        Ok(())
    }

    async fn agent_left(&self, conversation: ConversationId, agent: &UserName) -> Result<(), EngineError> {
        let (user, ..) = self.person(agent)?;
        let mut notice = Activity::message(left_text(user));
        notice.channel_data = Some(json!({"switchboard": {"event": "agent_left", "agent": agent}}));
        self.tell_customer(conversation, notice).await?;
        Ok(())
    }

    /// `agent` accepts the conversation they are offered: it becomes theirs.
    pub async fn accept_offer(
        self: &Arc<Self>,
        agent: &UserName,
        id: ConversationId,
    ) -> Result<Conversation, EngineError> {
        let _changing = self.conversations.lock(id).await?;
        let offer = match self.work.offer_of(id).await? {
            Some(offer) if &offer.agent == agent => offer,
            _ => {
                return Err(EngineError::refused(
                    "no_offer",
                    format!("conversation `{id}` is not offered to you (the offer may have expired)"),
                ));
            }
        };
        let mut conv = self.load(id).await?;
        let now = crate::now();
        if conv.state != ConversationState::Waiting {
            if self
                .work
                .take_offer(id, Some(agent), Some(offer.serial))
                .await?
                .is_some()
            {
                self.roster.release(agent, offer.units, now).await?;
            }
            return Err(EngineError::refused(
                "no_offer",
                format!("conversation `{id}` is {} now", conv.state),
            ));
        }
        // Settled here and nowhere else: the offer's timeout may be firing on another node.
        if self
            .work
            .take_offer(id, Some(agent), Some(offer.serial))
            .await?
            .is_none()
        {
            return Err(EngineError::refused(
                "no_offer",
                format!("conversation `{id}` is not offered to you (the offer may have expired)"),
            ));
        }
        conv.assign(offer.queue.clone(), Owner::Agent(agent.clone()), now)?;
        if let Err(e) = self
            .store()
            .update_conversation(&conv, ConversationState::Waiting)
            .await
        {
            self.roster.release(agent, offer.units, now).await?;
            return Err(e.into());
        }
        lock(&self.work.last_position).remove(&id);
        self.agent_joined(&conv, agent).await?;
        self.publish_conversation(&conv);
        tracing::info!(conversation.id = %id, agent = %agent, "offer accepted");
        Ok(conv)
    }

    /// `agent` declines the conversation they are offered; it is offered to the next agent.
    pub async fn decline_offer(self: &Arc<Self>, agent: &UserName, id: ConversationId) -> Result<(), EngineError> {
        if self.withdraw_offer(id, agent, None, Withdrawn::Declined).await? {
            Ok(())
        } else {
            Err(EngineError::refused(
                "no_offer",
                format!("conversation `{id}` is not offered to you"),
            ))
        }
    }

    /// Takes back the offer of `id` to `agent` (only the offer numbered `serial`, when given):
    /// the capacity is given back, a decline counted (unless the conversation ended), and the
    /// conversation offered again. Returns whether there was such an offer.
    async fn withdraw_offer(
        self: &Arc<Self>,
        id: ConversationId,
        agent: &UserName,
        serial: Option<u64>,
        reason: Withdrawn,
    ) -> Result<bool, EngineError> {
        {
            let _changing = self.conversations.lock(id).await?;
            let Some(offer) = self.work.take_offer(id, Some(agent), serial).await? else {
                return Ok(false);
            };
            let now = crate::now();
            self.roster.release(agent, offer.units, now).await?;
            if matches!(reason, Withdrawn::Declined | Withdrawn::TimedOut) {
                self.work.count_decline(id, agent).await?;
            }
            self.live.publish(LiveEvent::OfferWithdrawn {
                conversation: id,
                agent: agent.clone(),
                reason,
            });
            tracing::info!(conversation.id = %id, agent = %agent, reason = reason.as_str(), "offer withdrawn");
            if reason != Withdrawn::Ended
                && let Some(mut conv) = self.store().get_conversation(id).await?
                && conv.state == ConversationState::Waiting
            {
                let ws = self.workstream_of(&conv).clone();
                let queue = self.queue_named(&offer.queue).clone();
                self.place(&mut conv, &ws, &queue, ConversationState::Waiting, now)
                    .await?;
            }
        }
        self.capacity_freed(self.queues_of(agent)).await;
        Ok(true)
    }

    /// Takes back the offer pending for `id`, if any, without offering the conversation again:
    /// the agent's capacity is given back and they are told why (no decline is counted). The
    /// caller holds the conversation's lock.
    pub(crate) async fn take_back_offer(
        &self,
        id: ConversationId,
        reason: Withdrawn,
        now: Timestamp,
    ) -> Result<Option<Offer>, EngineError> {
        let Some(offer) = self.work.take_offer(id, None, None).await? else {
            return Ok(None);
        };
        self.roster.release(&offer.agent, offer.units, now).await?;
        self.live.publish(LiveEvent::OfferWithdrawn {
            conversation: id,
            agent: offer.agent.clone(),
            reason,
        });
        tracing::info!(conversation.id = %id, agent = %offer.agent, reason = reason.as_str(), "offer withdrawn");
        Ok(Some(offer))
    }

    /// Offers waiting conversations to whoever can take them, oldest first, in `queues` (all
    /// queues when `None`). Errors are logged, not returned: a cycle is a best effort that the
    /// next trigger repeats.
    pub async fn assignment_cycle(self: &Arc<Self>, queues: Option<&[QueueName]>) {
        let _one = self.work.cycle.lock().await;
        let names: Vec<QueueName> = match queues {
            Some(q) => q.to_vec(),
            None => self.tenant().queues().map(|q| q.name.clone()).collect(),
        };
        for name in names {
            if let Err(e) = self.cycle_queue(&name).await {
                tracing::warn!(queue.name = %name, error = %e, "assignment cycle failed");
            }
        }
    }

    /// Runs `queue`'s assignment cycle (boxed: placing work may start one, and a cycle places
    /// work).
    fn cycle_later(
        self: Arc<Self>,
        queues: Vec<QueueName>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(async move { self.assignment_cycle(Some(&queues)).await })
    }

    /// Capacity may have come back in `queues`: runs their assignment cycle. In a cluster the
    /// cycle waits for the other nodes' cycles of the same queues, so it runs on its own and the
    /// request that freed the capacity is answered at once.
    pub(crate) async fn capacity_freed(self: &Arc<Self>, queues: Vec<QueueName>) {
        if self.store().cluster().is_some() {
            self.tasks.spawn(Arc::clone(self).cycle_later(queues));
        } else {
            self.assignment_cycle(Some(&queues)).await;
        }
    }

    async fn cycle_queue(self: &Arc<Self>, name: &QueueName) -> Result<(), EngineError> {
        // One cycle of a queue at a time across the cluster, so the oldest is offered first.
        let _one = match self.store().cluster() {
            Some(cluster) => Some(cluster.lock_queue(name).await?),
            None => None,
        };
        let queue = self.queue_named(name).clone();
        let waiting = self
            .store()
            .list_conversations(
                &store::ConversationFilter::all()
                    .queue(name.clone())
                    .state(ConversationState::Waiting),
            )
            .await?;
        let offered: std::collections::HashSet<ConversationId> = self
            .work
            .offers(None)
            .await?
            .into_iter()
            .map(|o| o.conversation)
            .collect();
        for candidate in waiting {
            if offered.contains(&candidate.id) {
                continue;
            }
            let _changing = self.conversations.lock(candidate.id).await?;
            let Some(mut conv) = self.store().get_conversation(candidate.id).await? else {
                continue;
            };
            if conv.state != ConversationState::Waiting || self.work.offer_of(conv.id).await?.is_some() {
                continue;
            }
            let ws = self.workstream_of(&conv).clone();
            if ws.mode == DistributionMode::Pick {
                continue;
            }
            match self
                .place(&mut conv, &ws, &queue, ConversationState::Waiting, crate::now())
                .await?
            {
                // Declines are per conversation, so a newer one may still find someone.
                Some(WaitReason::AllDeclined) | None => {}
                // Nobody can take the oldest: nobody can take a newer one either.
                Some(_) => break,
            }
        }
        Ok(())
    }

    /// Records `user`'s presence, tells everyone watching, and offers waiting work if they can
    /// now take some.
    pub async fn change_presence(self: &Arc<Self>, user: &str, presence: Presence) -> Result<(), EngineError> {
        let name = self
            .tenant()
            .user(user)
            .ok_or_else(|| EngineError::UnknownUser(user.to_owned()))?
            .name
            .clone();
        self.set_presence(user, presence).await?;
        self.live.publish(LiveEvent::Presence {
            user: name.clone(),
            presence,
        });
        // Offers made to them in a presence they have left go to someone else at once.
        for offer in self.offers_for(&name).await? {
            let allowed = self
                .store()
                .get_conversation(offer.conversation)
                .await?
                .is_some_and(|c| self.workstream_of(&c).allowed_presences.contains(&presence));
            if !allowed {
                self.withdraw_offer(offer.conversation, &name, Some(offer.serial), Withdrawn::Unavailable)
                    .await?;
            }
        }
        self.capacity_freed(self.queues_of(&name)).await;
        Ok(())
    }

    pub(crate) async fn load(&self, id: ConversationId) -> Result<Conversation, EngineError> {
        self.store()
            .get_conversation(id)
            .await?
            .ok_or(EngineError::ConversationNotFound(id))
    }

    /// Loads `id` and checks that `agent` owns it and it is `active`.
    async fn owned_active(&self, agent: &UserName, id: ConversationId) -> Result<Conversation, EngineError> {
        let conv = self.load(id).await?;
        if conv.owner != Some(Owner::Agent(agent.clone())) {
            return Err(EngineError::Forbidden(format!("you do not own conversation `{id}`")));
        }
        if conv.state != ConversationState::Active {
            return Err(EngineError::refused(
                "not_active",
                format!("conversation `{id}` is {}, not active", conv.state),
            ));
        }
        Ok(conv)
    }

    /// `agent` writes to the customer of a conversation they own. The customer sees the agent's
    /// display name. Returns the activity's id and seq.
    pub async fn agent_message(
        self: &Arc<Self>,
        agent: &UserName,
        id: ConversationId,
        text: &str,
    ) -> Result<(String, Seq), EngineError> {
        self.agent_writes(agent, id, text, false, None).await
    }

    /// What `agent` said on a call they own, as recognised: stored and shown like a message,
    /// marked `channelData.voice.spoken` so the call does not speak it to the caller again.
    pub async fn agent_spoke(
        self: &Arc<Self>,
        agent: &UserName,
        id: ConversationId,
        text: &str,
    ) -> Result<(String, Seq), EngineError> {
        self.agent_writes(agent, id, text, false, Some(json!({"voice": {"spoken": true}})))
            .await
    }

    /// `agent` writes an internal note on a conversation they own: stored for agents and
    /// supervisors only, never shown to the customer nor sent to a bot.
    pub async fn agent_note(
        self: &Arc<Self>,
        agent: &UserName,
        id: ConversationId,
        text: &str,
    ) -> Result<(String, Seq), EngineError> {
        self.agent_writes(agent, id, text, true, None).await
    }

    async fn agent_writes(
        self: &Arc<Self>,
        agent: &UserName,
        id: ConversationId,
        text: &str,
        note: bool,
        channel_data: Option<serde_json::Value>,
    ) -> Result<(String, Seq), EngineError> {
        if text.trim().is_empty() {
            return Err(EngineError::Invalid("`text` must not be empty".to_owned()));
        }
        if text.len() > MAX_AGENT_TEXT {
            return Err(EngineError::Invalid(format!(
                "`text` is longer than {MAX_AGENT_TEXT} bytes"
            )));
        }
        let _changing = self.conversations.lock(id).await?;
        let conv = self.load(id).await?;
        let (user, ..) = self.person(agent)?;
        let may = conv.owner == Some(Owner::Agent(agent.clone()))
            && (conv.state == ConversationState::Active || (note && conv.state == ConversationState::WrapUp));
        if !may {
            return Err(EngineError::Forbidden(format!(
                "you can write to conversation `{id}` only while you own it and it is active"
            )));
        }
        let mut activity = Activity::message(text);
        activity.from = Some(
            ChannelAccount::new(agent.as_str())
                .with_name(user.display_name.as_str())
                .with_role(RoleType::Bot),
        );
        activity.conversation = Some(botframework::ConversationAccount::new(id.to_string()));
        let visibility = if note {
            activity.channel_data = Some(json!({"switchboard": {"note": true}}));
            Visibility::AgentsOnly
        } else {
            activity.channel_data = channel_data;
            Visibility::Everyone
        };
        let seq = self
            .store_activity(id, &mut activity, SenderRole::Agent, agent.as_str(), visibility)
            .await?;
        if !note {
            self.copy_to_smart_assist(&conv, &activity, SenderRole::Agent);
        }
        Ok((activity.id.unwrap_or_default(), seq))
    }

    /// `agent` hands a conversation they own to `target` queue, whose method chooses who gets it
    /// next. Refused when a bot of that queue already had the conversation.
    pub async fn transfer_to_queue(
        self: &Arc<Self>,
        agent: &UserName,
        id: ConversationId,
        target: &str,
    ) -> Result<Conversation, EngineError> {
        let queue = self
            .tenant()
            .queue(target)
            .ok_or_else(|| EngineError::UnknownQueue(target.to_owned()))?
            .clone();
        let conv = {
            let _changing = self.conversations.lock(id).await?;
            let mut conv = self.owned_active(agent, id).await?;
            if let Some(bot) = queue.members.iter().find(|m| conv.escalated_by.contains(m)) {
                return Err(EngineError::refused(
                    "bot_already_had_it",
                    format!(
                        "queue `{}` has bot `{bot}`, which already had this conversation and escalated it",
                        queue.name
                    ),
                ));
            }
            let ws = self.workstream_of(&conv).clone();
            let now = crate::now();
            conv.transfer_to_queue(queue.name.clone(), now)?;
            self.store()
                .record_routing(
                    id,
                    now,
                    &RoutingDecision {
                        cause: RoutingCause::Transferred,
                        queue: queue.name.clone(),
                        rule: None,
                        trace: Vec::new(),
                    },
                )
                .await?;
            self.roster.release(agent, ws.capacity, now).await?;
            self.agent_left(id, agent).await?;
            self.place(&mut conv, &ws, &queue, ConversationState::Active, now)
                .await?;
            tracing::info!(conversation.id = %id, agent = %agent, queue.name = %queue.name, "transferred to a queue");
            metrics::counter!("switchboard_transfers_total", "to" => "queue").increment(1);
            conv
        };
        self.capacity_freed(self.queues_of(agent)).await;
        Ok(conv)
    }

    /// `agent` hands a conversation they own straight to another agent, who must be in one of
    /// the workstream's allowed presences with free capacity.
    pub async fn transfer_to_agent(
        self: &Arc<Self>,
        agent: &UserName,
        id: ConversationId,
        target: &str,
    ) -> Result<Conversation, EngineError> {
        let target_name = UserName::new(target).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let (_, _, target_capacity) = self.person(&target_name)?;
        if &target_name == agent {
            return Err(EngineError::Invalid(
                "you cannot transfer a conversation to yourself".to_owned(),
            ));
        }
        let conv = {
            let _changing = self.conversations.lock(id).await?;
            let mut conv = self.owned_active(agent, id).await?;
            let ws = self.workstream_of(&conv).clone();
            let now = crate::now();
            if !self
                .roster
                .try_reserve(&target_name, target_capacity, ws.capacity, &ws.allowed_presences, now)
                .await?
            {
                return Err(EngineError::refused(
                    "agent_unavailable",
                    format!("`{target_name}` is not available or has no free capacity"),
                ));
            }
            conv.transfer_to_agent(target_name.clone(), now)?;
            if let Err(e) = self.store().update_conversation(&conv, ConversationState::Active).await {
                self.roster.release(&target_name, ws.capacity, now).await?;
                return Err(e.into());
            }
            self.roster.release(agent, ws.capacity, now).await?;
            self.agent_left(id, agent).await?;
            self.agent_joined(&conv, &target_name).await?;
            self.publish_conversation(&conv);
            tracing::info!(conversation.id = %id, agent = %agent, to = %target_name, "transferred to an agent");
            metrics::counter!("switchboard_transfers_total", "to" => "agent").increment(1);
            conv
        };
        self.capacity_freed(self.queues_of(agent)).await;
        Ok(conv)
    }

    /// `agent` ends a conversation they own: the customer is told, and it goes to wrap-up,
    /// which closes by itself after the workstream's `wrap_up` timer.
    pub async fn end_by_agent(
        self: &Arc<Self>,
        agent: &UserName,
        id: ConversationId,
    ) -> Result<Conversation, EngineError> {
        let conv = {
            let _changing = self.conversations.lock(id).await?;
            let mut conv = self.owned_active(agent, id).await?;
            let ws = self.workstream_of(&conv).clone();
            let now = crate::now();
            conv.end_by_agent(now)?;
            let surveyed = self.begin_survey(&mut conv, &ws, EndedBy::Agent, now).await?;
            self.store()
                .update_conversation(&conv, ConversationState::Active)
                .await?;
            let (user, ..) = self.person(agent)?;
            self.tell_customer(
                id,
                Activity::message(format!("{} ended the conversation.", user.display_name)),
            )
            .await?;
            if surveyed {
                self.survey_joined(&conv, &ws, agent, EndedBy::Agent).await?;
            } else {
                let mut end = Activity::new(ActivityType::EndOfConversation);
                end.code = Some(EndOfConversationCode::CompletedSuccessfully);
                self.tell_customer(id, end).await?;
            }
            if ws.capacity_release == CapacityRelease::AtWrapUp {
                self.roster.release(agent, ws.capacity, now).await?;
            }
            self.publish_conversation(&conv);
            self.schedule_wrap_up(id, ws.timers.wrap_up);
            tracing::info!(conversation.id = %id, agent = %agent, "agent ended the conversation");
            conv
        };
        if self.workstream_of(&conv).capacity_release == CapacityRelease::AtWrapUp {
            self.capacity_freed(self.queues_of(agent)).await;
        }
        Ok(conv)
    }

    fn schedule_wrap_up(self: &Arc<Self>, id: ConversationId, after: Duration) {
        self.after(after, move |hub| async move {
            match hub.finish_wrap_up(None, id).await {
                Ok(_) | Err(EngineError::Refused { .. }) => {}
                Err(e) => tracing::warn!(conversation.id = %id, error = %e, "closing after wrap-up failed"),
            }
        });
    }

    /// Wrap-up is over: the conversation closes, resolved by the agent. `agent` must be the one
    /// wrapping up (`None`: the wrap-up timer).
    pub async fn finish_wrap_up(
        self: &Arc<Self>,
        agent: Option<&UserName>,
        id: ConversationId,
    ) -> Result<Conversation, EngineError> {
        let (conv, owner) = {
            let _changing = self.conversations.lock(id).await?;
            let mut conv = self.load(id).await?;
            let Some(Owner::Agent(owner)) = conv.owner.clone() else {
                return Err(EngineError::refused(
                    "not_wrap_up",
                    format!("conversation `{id}` is {}, not in wrap-up", conv.state),
                ));
            };
            if let Some(agent) = agent
                && agent != &owner
            {
                return Err(EngineError::Forbidden(format!("you do not own conversation `{id}`")));
            }
            if conv.state != ConversationState::WrapUp {
                return Err(EngineError::refused(
                    "not_wrap_up",
                    format!("conversation `{id}` is {}, not in wrap-up", conv.state),
                ));
            }
            let ws = self.workstream_of(&conv).clone();
            let now = crate::now();
            conv.finish_wrap_up(now)?;
            self.store()
                .update_conversation(&conv, ConversationState::WrapUp)
                .await?;
            if ws.capacity_release == CapacityRelease::AtClose {
                self.roster.release(&owner, ws.capacity, now).await?;
            }
            self.work.forget_everywhere(id).await;
            self.publish_conversation(&conv);
            tracing::info!(conversation.id = %id, agent = %owner, "conversation closed after wrap-up");
            (conv, owner)
        };
        self.capacity_freed(self.queues_of(&owner)).await;
        Ok(conv)
    }

    /// `agent` picks a waiting conversation of a `pick` workstream from one of their queues.
    pub async fn pick(self: &Arc<Self>, agent: &UserName, id: ConversationId) -> Result<Conversation, EngineError> {
        let (_, _, capacity) = self.person(agent)?;
        let _changing = self.conversations.lock(id).await?;
        let mut conv = self.load(id).await?;
        let ws = self.workstream_of(&conv).clone();
        if ws.mode != DistributionMode::Pick {
            return Err(EngineError::refused(
                "push_workstream",
                format!("workstream `{}` pushes its work; it cannot be picked", ws.name),
            ));
        }
        if conv.state != ConversationState::Waiting {
            return Err(EngineError::refused(
                "not_waiting",
                format!("conversation `{id}` is {}, not waiting", conv.state),
            ));
        }
        let queue = conv.queue.clone().expect("a waiting conversation has a queue");
        if !self.queue_named(&queue).members.contains(agent) {
            return Err(EngineError::Forbidden(format!(
                "you are not a member of queue `{queue}`"
            )));
        }
        let now = crate::now();
        if !self
            .roster
            .try_reserve(agent, capacity, ws.capacity, &ws.allowed_presences, now)
            .await?
        {
            return Err(EngineError::refused(
                "no_capacity",
                "you are not in an allowed presence or have no free capacity".to_owned(),
            ));
        }
        conv.assign(queue, Owner::Agent(agent.clone()), now)?;
        if let Err(e) = self
            .store()
            .update_conversation(&conv, ConversationState::Waiting)
            .await
        {
            self.roster.release(agent, ws.capacity, now).await?;
            return Err(e.into());
        }
        lock(&self.work.last_position).remove(&id);
        self.agent_joined(&conv, agent).await?;
        self.publish_conversation(&conv);
        Ok(conv)
    }

    /// The customer of `id` left (ended the chat, or went silent past the inactivity timer).
    /// Before an agent answered the conversation is abandoned; with an agent it goes to
    /// wrap-up. A pending offer is withdrawn.
    pub(crate) async fn customer_left(
        self: &Arc<Self>,
        id: ConversationId,
        why: &str,
        ended: bool,
    ) -> Result<(), EngineError> {
        let owner = {
            let _changing = self.conversations.lock(id).await?;
            let mut conv = self.load(id).await?;
            let before = conv.state;
            if conv.surveying().is_some() {
                // The customer left the survey: it ends, and the agent's part goes on.
                return self.finish_survey(&mut conv, SurveyEnd::CustomerLeft).await;
            }
            if matches!(before, ConversationState::Closed | ConversationState::WrapUp) {
                return Ok(());
            }
            let ws = self.workstream_of(&conv).clone();
            let now = crate::now();
            let owner = conv.owner.clone();
            conv.customer_left(now)?;
            // Only a customer who ended the chat themselves can still answer a survey.
            let surveyed = ended
                && conv.state == ConversationState::WrapUp
                && self.begin_survey(&mut conv, &ws, EndedBy::Customer, now).await?;
            self.store().update_conversation(&conv, before).await?;
            self.take_back_offer(id, Withdrawn::Ended, now).await?;
            if conv.state == ConversationState::Closed {
                let mut end = Activity::new(ActivityType::EndOfConversation);
                end.code = Some(EndOfConversationCode::UserCancelled);
                end.text = Some(why.to_owned());
                self.tell_customer(id, end).await?;
                self.work.forget_everywhere(id).await;
            } else {
                // An agent had it: they wrap up, and the wrap-up timer closes it.
                self.tell_customer(id, Activity::message("The customer left the conversation."))
                    .await?;
                if surveyed && let Some(Owner::Agent(agent)) = &owner {
                    self.survey_joined(&conv, &ws, agent, EndedBy::Customer).await?;
                }
                if let Some(Owner::Agent(agent)) = &owner
                    && ws.capacity_release == CapacityRelease::AtWrapUp
                {
                    self.roster.release(agent, ws.capacity, now).await?;
                }
                self.schedule_wrap_up(id, ws.timers.wrap_up);
            }
            self.publish_conversation(&conv);
            tracing::info!(conversation.id = %id, reason = why, state = %conv.state, "customer left");
            owner
        };
        if let Some(Owner::Agent(agent)) = owner {
            self.capacity_freed(self.queues_of(&agent)).await;
        }
        Ok(())
    }

    /// Opens one of `user`'s workspace connections.
    pub fn agent_connected(self: &Arc<Self>, user: &UserName) -> AgentConnection {
        let mut connections = lock(&self.work.connections);
        let entry = connections.entry(user.clone()).or_default();
        entry.0 += 1;
        entry.1 += 1;
        drop(connections);
        self.count_socket(user, 1);
        AgentConnection {
            hub: Arc::downgrade(self),
            user: user.clone(),
        }
    }

    /// In a cluster, counts one of `user`'s sockets opened or closed on this node, for the other
    /// nodes' reconnect grace (in order: one task per node applies them).
    fn count_socket(&self, user: &UserName, change: i64) {
        if let Some(cluster) = &self.work.cluster {
            let (cluster, user) = (cluster.clone(), user.clone());
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let _ = self.work.sockets.lock().map(|mut last| {
                    let previous = last.take();
                    *last = Some(runtime.spawn(async move {
                        if let Some(previous) = previous {
                            let _ = previous.await;
                        }
                        if let Err(e) = cluster.agent_socket(&user, change).await {
                            tracing::warn!(agent = %user, error = %e, "could not count a person's socket");
                        }
                    }));
                });
            }
        }
    }

    /// `user`'s last connection closed `grace` ago: if they did not come back, they go offline
    /// and their active conversations go back to their queues.
    async fn connection_lost(self: &Arc<Self>, user: &UserName, generation: u64) {
        let gone = lock(&self.work.connections)
            .get(user)
            .is_some_and(|&(open, gen_now)| open == 0 && gen_now == generation);
        if !gone {
            return;
        }
        // In a cluster they may have come back through another node.
        if let Some(cluster) = &self.work.cluster {
            match cluster.agent_sockets_elsewhere(user).await {
                Ok(0) => {}
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(agent = %user, error = %e, "cannot tell whether a person reconnected to another node; keeping their work");
                    return;
                }
            }
        }
        tracing::info!(agent = %user, "workspace disconnected past the grace period; releasing their conversations");
        if let Err(e) = self.set_presence(user.as_str(), Presence::Offline).await {
            tracing::warn!(agent = %user, error = %e, "could not set a disconnected person offline");
        }
        self.live.publish(LiveEvent::Presence {
            user: user.clone(),
            presence: Presence::Offline,
        });
        let owned = self
            .store()
            .list_conversations(
                &store::ConversationFilter::all()
                    .owner(Owner::Agent(user.clone()))
                    .state(ConversationState::Active),
            )
            .await;
        for conv in owned.unwrap_or_default() {
            if let Err(e) = self.release_to_queue(user, conv.id).await {
                tracing::warn!(conversation.id = %conv.id, error = %e, "could not put a conversation back in its queue");
            }
        }
        self.assignment_cycle(None).await;
    }

    /// Puts a conversation `agent` owns back in its queue for someone else.
    async fn release_to_queue(self: &Arc<Self>, agent: &UserName, id: ConversationId) -> Result<(), EngineError> {
        let _changing = self.conversations.lock(id).await?;
        let mut conv = self.owned_active(agent, id).await?;
        let ws = self.workstream_of(&conv).clone();
        let queue = self
            .queue_named(conv.queue.as_ref().expect("an active conversation has a queue"))
            .clone();
        let now = crate::now();
        conv.enqueue(queue.name.clone(), now)?;
        self.roster.release(agent, ws.capacity, now).await?;
        self.agent_left(id, agent).await?;
        self.place(&mut conv, &ws, &queue, ConversationState::Active, now)
            .await?;
        Ok(())
    }

    /// After a restart: takes again the capacity of the conversations agents hold, and
    /// schedules the close of those in wrap-up.
    pub async fn recover(self: &Arc<Self>) -> Result<(), EngineError> {
        let held = self
            .store()
            .list_conversations(
                &store::ConversationFilter::all()
                    .state(ConversationState::Active)
                    .state(ConversationState::WrapUp),
            )
            .await?;
        for conv in held {
            let Some(Owner::Agent(agent)) = &conv.owner else {
                continue;
            };
            let ws = self.workstream_of(&conv);
            let holds = conv.state == ConversationState::Active || ws.capacity_release == CapacityRelease::AtClose;
            // A shared roster kept what was held through the restart.
            if holds && !self.roster.shared() {
                self.roster.reserve(agent, ws.capacity).await?;
            }
            if conv.state == ConversationState::WrapUp {
                let elapsed = crate::now().millis().saturating_sub(conv.updated_at.millis());
                let left = ws
                    .timers
                    .wrap_up
                    .saturating_sub(Duration::from_millis(u64::try_from(elapsed).unwrap_or(0)));
                self.schedule_wrap_up(conv.id, left);
                self.recover_survey(&conv);
            }
        }
        Ok(())
    }

    /// The people who have owned `id`, in the order they joined (from the transcript's
    /// "joined" notices).
    pub async fn agents_of(&self, id: ConversationId) -> Result<Vec<UserName>, EngineError> {
        let mut agents: Vec<UserName> = Vec::new();
        let mut after = Seq::ZERO;
        loop {
            let page = self.store().activities_after(id, after, 500).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for stored in &page {
                let a = &stored.activity;
                let named = match a.sender_role {
                    SenderRole::Agent => UserName::new(&a.sender_id).ok(),
                    SenderRole::System if a.body.contains("agent_joined") => {
                        serde_json::from_str::<serde_json::Value>(&a.body)
                            .ok()
                            .and_then(|v| v.pointer("/channelData/switchboard/agent")?.as_str().map(str::to_owned))
                            .and_then(|n| UserName::new(n).ok())
                    }
                    _ => None,
                };
                if let Some(name) = named
                    && !agents.contains(&name)
                {
                    agents.push(name);
                }
            }
        }
        Ok(agents)
    }
}

/// The longest text an agent may send in one message or note.
pub const MAX_AGENT_TEXT: usize = 28_000;
