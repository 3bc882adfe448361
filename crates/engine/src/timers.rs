//! The clocks that move conversations on when nobody acts: waiting customers are told their
//! place in the queue again every `queue_position_every` (30 s by default, as Omnichannel does),
//! and a customer silent for the workstream's `customer_inactivity` while waiting or talking to a
//! bot abandons the conversation. (Offer timeouts and wrap-up are timed per conversation, in
//! `work`.) One task sweeps the open conversations once a second.
//!
//! In a cluster (PostgreSQL) one node sweeps: the one that holds the sweep's lead
//! (`store::Cluster::leads`); when it dies another takes over within a second or two. That
//! node also closes wrap-ups and withdraws offers whose time is up — the node that started
//! their timer may be gone — and runs every queue's assignment cycle every few seconds, so
//! work a dead node left half-placed is offered again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use botframework::Activity;
use domain::conversation::Owner;
use domain::{ConversationState, QueueName, Timestamp};

use crate::channel::queue_position_text;
use crate::hub::{EngineError, Hub};

/// How often the sweep runs.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// In a cluster, every how many sweeps every queue's assignment cycle runs.
const CYCLE_EVERY: u64 = 5;

/// What a customer who went silent is told.
pub(crate) const INACTIVITY_NOTICE: &str = "This conversation was closed because it was inactive.";

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Hub {
    /// Starts the hub's clocks: first restores what agents held before a restart (`recover`),
    /// then sweeps once a second until the hub shuts down or is dropped.
    pub fn start_timers(self: &Arc<Self>) {
        self.start_metering_watch();
        self.follow_cluster();
        let weak = Arc::downgrade(self);
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            if let Some(hub) = weak.upgrade()
                && let Err(e) = hub.recover().await
            {
                tracing::warn!(error = %e, "restoring agents' work after a restart failed");
            }
            let mut tick = tokio::time::interval(SWEEP_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut sweeps: u64 = 0;
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let Some(hub) = weak.upgrade() else { return };
                let cluster = hub.store().cluster();
                if let Some(cluster) = &cluster
                    && !cluster.leads().await
                {
                    continue;
                }
                sweeps += 1;
                if let Err(e) = hub.sweep(crate::now()).await {
                    tracing::warn!(error = %e, "timer sweep failed");
                }
                if cluster.is_some() {
                    if let Err(e) = hub.sweep_shared(crate::now()).await {
                        tracing::warn!(error = %e, "timer sweep of offers and wrap-ups failed");
                    }
                    if sweeps.is_multiple_of(CYCLE_EVERY) {
                        hub.assignment_cycle(None).await;
                    }
                }
            }
        });
    }

    /// Notes that the customer of `conversation` just sent something.
    pub(crate) fn customer_active(&self, conversation: domain::ConversationId, now: Timestamp) {
        self.work
            .last_customer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(conversation, now);
    }

    /// The timers a node of a cluster may have started and died with: offers past their expiry
    /// are withdrawn, surveys past their timeout ended, wrap-ups past the workstream's `wrap_up`
    /// closed.
    async fn sweep_shared(self: &Arc<Self>, now: Timestamp) -> Result<(), EngineError> {
        if let Some(cluster) = self.store().cluster() {
            for offer in cluster.expired_offers(now).await? {
                self.offer_timed_out(offer.conversation, &offer.agent, offer.serial)
                    .await;
            }
        }
        let wrapping = self
            .store()
            .list_conversations(&store::ConversationFilter::all().state(ConversationState::WrapUp))
            .await?;
        for conv in wrapping {
            if conv.surveying().is_some() {
                // Its survey's timer, too, may have died with another node.
                if self.survey_overdue(&conv)
                    && let Err(e) = self
                        .end_survey(conv.id, None, domain::conversation::SurveyEnd::TimedOut)
                        .await
                {
                    tracing::warn!(conversation.id = %conv.id, error = %e, "ending a timed-out survey failed");
                }
                continue;
            }
            let ws = self.workstream_of(&conv);
            if now.millis() - conv.updated_at.millis() >= millis(ws.timers.wrap_up) {
                match self.finish_wrap_up(None, conv.id).await {
                    Ok(_) | Err(EngineError::Refused { .. }) => {}
                    Err(e) => tracing::warn!(conversation.id = %conv.id, error = %e, "closing after wrap-up failed"),
                }
            }
        }
        Ok(())
    }

    async fn sweep(self: &Arc<Self>, now: Timestamp) -> Result<(), EngineError> {
        let open = self
            .store()
            .list_conversations(
                &store::ConversationFilter::all()
                    .state(ConversationState::Open)
                    .state(ConversationState::Waiting)
                    .state(ConversationState::Active),
            )
            .await?;
        let every = millis(self.channel().queue_position_every);
        // Waiting conversations by queue, oldest first (the store's order), for positions.
        let mut ahead: HashMap<QueueName, usize> = HashMap::new();
        let mut silent = Vec::new();
        for conv in &open {
            let ws = self
                .tenant()
                .workstream(conv.workstream.as_str())
                .expect("a stored conversation names a configured workstream");
            // Not seen since this hub started (a restart): silence counts from now, so a
            // conversation that was busy before the restart is not abandoned at once.
            let last_customer = *self
                .work
                .last_customer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(conv.id)
                .or_insert(now);
            let with_agent = matches!(conv.owner, Some(Owner::Agent(_)));
            if !with_agent && now.millis() - last_customer.millis() >= millis(ws.timers.customer_inactivity) {
                silent.push(conv.id);
                continue;
            }
            if conv.state != ConversationState::Waiting {
                continue;
            }
            let Some(queue) = &conv.queue else { continue };
            let position = ahead.entry(queue.clone()).or_default();
            let people_ahead = *position;
            *position += 1;
            let due = {
                let mut told = self
                    .work
                    .last_position
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let last = told.entry(conv.id).or_insert(now);
                if now.millis() - last.millis() >= every {
                    *last = now;
                    true
                } else {
                    false
                }
            };
            if due {
                self.tell_customer(conv.id, Activity::message(queue_position_text(people_ahead)))
                    .await?;
            }
        }
        for id in silent {
            self.customer_left(id, INACTIVITY_NOTICE, false).await?;
        }
        Ok(())
    }
}
