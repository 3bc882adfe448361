//! What supervisors do to the conversations of the queues they oversee, the actions of
//! Omnichannel's real-time "Ongoing conversations" view: assign a waiting conversation to an
//! agent of its queue, and force-close a conversation whatever it is doing. Admins may do both
//! to any conversation.
//!
//! An assignment is forced: the agent gets the conversation as if they had accepted an offer
//! (the customer is told they joined, their workspace gets it live), it takes their capacity
//! even past what they have (Omnichannel allows a supervisor's assignment to overbook), and a
//! pending offer is taken back. Only an agent who is offline is refused: nobody would be there.
//!
//! A force close ends the conversation at once, outcome `abandoned` if no agent ever had it,
//! else `resolved_by_agent`. The customer is told (unless they already saw the end, in wrap-up),
//! a bot that owns it gets the `endOfConversation` too, and an agent who owns it gets their
//! capacity back and sees it close.

use std::sync::Arc;

use botframework::{Activity, ActivityType, EndOfConversationCode};
use domain::activity::{SenderRole, Visibility};
use domain::conversation::{Conversation, Owner, SurveyEnd};
use domain::user::Role;
use domain::workstream::CapacityRelease;
use domain::{ConversationId, ConversationState, Presence, UserName};
use serde_json::json;

use crate::channel::SYSTEM_ACCOUNT_ID;
use crate::dispatch::Delivery;
use crate::hub::{EngineError, Hub};
use crate::live::Withdrawn;
use crate::work::lock;

/// What the customer is told when a supervisor closes their conversation (followed by the
/// supervisor's reason, when they gave one).
pub const FORCE_CLOSE_NOTICE: &str = "A supervisor closed this conversation.";

/// The longest reason for a force close, in characters (the customer reads it).
pub const MAX_CLOSE_REASON: usize = 500;

/// Who acts, for logs and the transcript: the supervisor's name, or the operator's token.
fn acting(supervisor: Option<&UserName>) -> &str {
    supervisor.map_or("(admin token)", UserName::as_str)
}

impl Hub {
    /// Refuses anyone below a supervisor before anything is looked up.
    fn supervising(role: Role, what: &str) -> Result<(), EngineError> {
        if role < Role::Supervisor {
            return Err(EngineError::Forbidden(format!(
                "only supervisors and admins may {what} conversations"
            )));
        }
        Ok(())
    }

    /// Whether `supervisor` (with `role`) oversees `conversation`: an admin always, a supervisor
    /// when it is in one of their queues. `None` is the operator's admin token.
    fn check_oversees(
        &self,
        supervisor: Option<&UserName>,
        role: Role,
        conversation: &Conversation,
    ) -> Result<(), EngineError> {
        if role == Role::Admin {
            return Ok(());
        }
        let overseen = supervisor
            .map(|name| self.overseen_queues(name, role))
            .unwrap_or_default();
        match &conversation.queue {
            Some(queue) if overseen.contains(queue) => Ok(()),
            Some(queue) => Err(EngineError::Forbidden(format!(
                "conversation `{}` is in queue `{queue}`, which you do not oversee",
                conversation.id
            ))),
            None => Err(EngineError::Forbidden(format!(
                "conversation `{}` is not in a queue you oversee yet",
                conversation.id
            ))),
        }
    }

    /// A supervisor gives a `waiting` conversation to `agent`, a member of its queue, as if they
    /// had accepted it; an offer pending to anyone is taken back. `supervisor` is `None` for the
    /// operator's admin token.
    pub async fn supervisor_assign(
        self: &Arc<Self>,
        supervisor: Option<&UserName>,
        role: Role,
        id: ConversationId,
        agent: &UserName,
    ) -> Result<Conversation, EngineError> {
        Self::supervising(role, "assign")?;
        self.person(agent)?;
        let (conv, offered_to) = {
            let _changing = self.conversations.lock(id).await?;
            let mut conv = self.load(id).await?;
            self.check_oversees(supervisor, role, &conv)?;
            if conv.state != ConversationState::Waiting {
                return Err(EngineError::refused(
                    "not_waiting",
                    format!(
                        "conversation `{id}` is {}; only a waiting conversation can be assigned",
                        conv.state
                    ),
                ));
            }
            let queue = conv.queue.clone().expect("a waiting conversation has a queue");
            if !self.queue_named(&queue).members.contains(agent) {
                return Err(EngineError::refused(
                    "not_a_member",
                    format!("`{agent}` is not a member of queue `{queue}`"),
                ));
            }
            if self.member(agent).await?.presence == Presence::Offline {
                return Err(EngineError::refused(
                    "agent_offline",
                    format!("`{agent}` is offline; assign it to someone who is signed in"),
                ));
            }
            let ws = self.workstream_of(&conv).clone();
            let now = crate::now();
            conv.assign(queue.clone(), Owner::Agent(agent.clone()), now)?;
            self.store()
                .update_conversation(&conv, ConversationState::Waiting)
                .await?;
            let offered_to = self
                .take_back_offer(id, Withdrawn::Assigned, now)
                .await?
                .map(|offer| offer.agent)
                .filter(|other| other != agent);
            self.roster.reserve(agent, ws.capacity).await?;
            lock(&self.work.last_position).remove(&id);
            self.agent_joined(&conv, agent).await?;
            self.publish_conversation(&conv);
            tracing::info!(conversation.id = %id, supervisor = acting(supervisor), agent = %agent, queue.name = %queue, "assigned by a supervisor");
            metrics::counter!("switchboard_supervisor_actions_total", "action" => "assign").increment(1);
            (conv, offered_to)
        };
        // The agent who was offered it has that capacity back.
        if let Some(other) = offered_to {
            self.capacity_freed(self.queues_of(&other)).await;
        }
        Ok(conv)
    }

    /// A supervisor closes a conversation that is not closed yet, telling the customer why (the
    /// notice, then `endOfConversation`, which an owning bot gets too). `supervisor` is `None`
    /// for the operator's admin token.
    pub async fn force_close(
        self: &Arc<Self>,
        supervisor: Option<&UserName>,
        role: Role,
        id: ConversationId,
        reason: Option<String>,
    ) -> Result<Conversation, EngineError> {
        Self::supervising(role, "force-close")?;
        let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
        if let Some(reason) = &reason
            && reason.chars().count() > MAX_CLOSE_REASON
        {
            return Err(EngineError::Invalid(format!(
                "`reason` is longer than {MAX_CLOSE_REASON} characters"
            )));
        }
        let (conv, freed) = {
            let _changing = self.conversations.lock(id).await?;
            let mut conv = self.load(id).await?;
            self.check_oversees(supervisor, role, &conv)?;
            let before = conv.state;
            if before == ConversationState::Closed {
                if conv.surveying().is_some() {
                    // Only its survey is still going: that ends.
                    self.finish_survey(&mut conv, SurveyEnd::ClosedBySupervisor).await?;
                    metrics::counter!("switchboard_supervisor_actions_total", "action" => "force_close").increment(1);
                    return Ok(conv);
                }
                return Err(EngineError::ConversationEnded(id));
            }
            let owner = conv.owner.clone();
            let ws = self.workstream_of(&conv).clone();
            let now = crate::now();
            conv.force_close(now)?;
            self.store().update_conversation(&conv, before).await?;
            let offered = self.take_back_offer(id, Withdrawn::Ended, now).await?.map(|o| o.agent);

            let text = match &reason {
                Some(reason) => format!("{FORCE_CLOSE_NOTICE} Reason: {reason}"),
                None => FORCE_CLOSE_NOTICE.to_owned(),
            };
            let mut notice = Activity::message(text.as_str());
            notice.channel_data = Some(json!({"switchboard": {"event": "force_closed", "by": supervisor}}));
            if conv.surveying().is_some() {
                // The customer is answering the survey: it ends with the conversation.
                self.finish_survey(&mut conv, SurveyEnd::ClosedBySupervisor).await?;
            }
            if before == ConversationState::WrapUp {
                // The customer saw the end when wrap-up began (or the survey's end just now);
                // the transcript still says who closed it.
                self.store_activity(
                    id,
                    &mut notice,
                    SenderRole::System,
                    SYSTEM_ACCOUNT_ID,
                    Visibility::AgentsOnly,
                )
                .await?;
            } else {
                self.tell_customer(id, notice).await?;
                let mut end = Activity::new(ActivityType::EndOfConversation);
                end.code = Some(EndOfConversationCode::Unknown);
                end.text = Some(text);
                self.tell_customer_in_place(id, &mut end).await?;
                if let Some(Owner::Bot(bot)) = &owner
                    && let Some((user, profile)) = self.bot_user(bot)
                {
                    self.address_to_bot(&mut end, id, user, profile);
                    self.deliver(
                        id,
                        Delivery {
                            bot: bot.clone(),
                            activity: end,
                            done: None,
                        },
                    );
                }
            }

            // An owning agent holds capacity while active, and in wrap-up unless it was given
            // back when wrap-up began.
            let freed = match (&owner, before) {
                (Some(Owner::Agent(agent)), ConversationState::Active) => Some(agent.clone()),
                (Some(Owner::Agent(agent)), ConversationState::WrapUp)
                    if ws.capacity_release == CapacityRelease::AtClose =>
                {
                    Some(agent.clone())
                }
                _ => None,
            };
            if let Some(agent) = &freed {
                self.roster.release(agent, ws.capacity, now).await?;
            }
            self.work.forget_everywhere(id).await;
            self.publish_conversation(&conv);
            tracing::info!(
                conversation.id = %id,
                supervisor = acting(supervisor),
                state = %before,
                outcome = conv.outcome.map_or("", |o| o.as_str()),
                reason = reason.as_deref().unwrap_or(""),
                "force-closed by a supervisor"
            );
            metrics::counter!("switchboard_supervisor_actions_total", "action" => "force_close").increment(1);
            (conv, [freed, offered])
        };
        for agent in freed.iter().flatten() {
            self.capacity_freed(self.queues_of(agent)).await;
        }
        Ok(conv)
    }
}
