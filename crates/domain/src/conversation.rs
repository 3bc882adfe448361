//! Conversations and their state machine.
//!
//! ```text
//!            assign                 end_by_agent            finish_wrap_up
//!   open ──────────────▶ active ─────────────────▶ wrap_up ───────────────▶ closed
//!     │  enqueue          ▲  │ enqueue (escalate, transfer, release)          ▲
//!     └──────▶ waiting ───┘◀─┘                                                 │
//!                 │ assign                                                     │
//!   open / waiting / active(bot) ── customer_left ─ abandoned ─────────────────┤
//!   active(bot) ── end_by_bot ─ resolved_by_bot ───────────────────────────────┘
//!   any but closed ── force_close ─ abandoned / resolved_by_agent ──────────────┘
//! ```
//!
//! Every operation checks the current state and returns [`IllegalTransition`] rather than
//! silently doing something else; the engine persists only transitions that succeeded.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::names::{QueueName, TenantName, UserName, WorkstreamName};
use crate::sentiment::Sentiment;
use crate::time::Timestamp;

/// A conversation's id: a UUID (v7 when the hub makes it, so ids sort by creation time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConversationId(pub uuid::Uuid);

impl ConversationId {
    /// Parses the hyphenated form.
    pub fn parse(s: &str) -> Result<Self, uuid::Error> {
        uuid::Uuid::parse_str(s).map(Self)
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

string_enum! {
    /// Where a conversation is in its life.
    ConversationState {
        /// Created and being routed.
        Open => "open",
        /// Owned by a bot or an agent.
        Active => "active",
        /// In a queue with no owner.
        Waiting => "waiting",
        /// The agent ended it and is finishing notes.
        WrapUp => "wrap_up",
        /// Over; it never reopens.
        Closed => "closed",
    }
}

string_enum! {
    /// How a closed conversation ended.
    Outcome {
        ResolvedByBot => "resolved_by_bot",
        ResolvedByAgent => "resolved_by_agent",
        Abandoned => "abandoned",
    }
}

/// Who owns an active conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Owner {
    Bot(UserName),
    Agent(UserName),
}

impl Owner {
    /// The owner's user name.
    pub fn name(&self) -> &UserName {
        match self {
            Owner::Bot(n) | Owner::Agent(n) => n,
        }
    }
}

/// The customer on the other end.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Customer {
    /// The channel's id for the customer (e.g. the Direct Line user id).
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
}

/// An operation that is not allowed in the conversation's current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {operation} a conversation that is {state}{detail}")]
pub struct IllegalTransition {
    pub operation: &'static str,
    pub state: ConversationState,
    /// Extra context, starting with a separator, or empty.
    pub detail: String,
}

/// When a conversation reached each point of its life, kept by the state machine as it goes:
/// what the supervisor view's wait and handle times and the analytics (docs/analytics.md) are
/// computed from. Every field is set by the transition that reaches the point, from the `now`
/// it is given.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Milestones {
    /// The first bot that owned it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bot: Option<UserName>,
    /// When that bot was given it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bot_at: Option<Timestamp>,
    /// When a bot first escalated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalated_at: Option<Timestamp>,
    /// Every agent who has owned it, in the order they got it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<UserName>,
    /// When an agent first got it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_at: Option<Timestamp>,
    /// Since when it has been waiting for a person (escalated, queued or transferred and not
    /// yet taken); `None` while someone owns it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_since: Option<Timestamp>,
    /// Milliseconds it spent waiting for a person in all, up to the last time one took it (or it
    /// closed).
    pub wait_ms: u64,
    /// Transfers by agents, to a queue or to another agent.
    pub transfers: u32,
    /// When the owning agent ended it (wrap-up began).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// When it closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<Timestamp>,
}

impl Milestones {
    /// Ends a wait at `now`, adding it to the total.
    fn stop_waiting(&mut self, now: Timestamp) {
        if let Some(since) = self.waiting_since.take() {
            self.wait_ms += now.since(since);
        }
    }

    /// Starts a wait at `now`, unless one is already running.
    fn start_waiting(&mut self, now: Timestamp) {
        self.waiting_since.get_or_insert(now);
    }
}

string_enum! {
    /// How a post-conversation survey ended.
    SurveyEnd {
        /// The survey bot ended it (EndConversation).
        Completed => "completed",
        /// The customer closed the chat.
        CustomerLeft => "customer_left",
        /// It ran past the workstream's survey timeout.
        TimedOut => "timed_out",
        /// The survey bot could not be reached.
        BotUnavailable => "bot_unavailable",
        /// A supervisor force-closed the conversation.
        ClosedBySupervisor => "closed_by_supervisor",
    }
}

/// One answer of a survey: a number or a text, as the survey bot sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SurveyAnswer {
    Number(i64),
    Text(String),
}

/// A post-conversation survey: which bot ran it, when, and what the customer answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Survey {
    pub bot: UserName,
    pub started_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<SurveyEnd>,
    /// The customer's satisfaction, 1 (very dissatisfied) to 5 (very satisfied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csat: Option<u8>,
    /// Every answer by name (`csat` among them, when given), the latest of each.
    #[serde(default)]
    pub answers: std::collections::BTreeMap<String, SurveyAnswer>,
}

impl Survey {
    /// The lowest and highest satisfaction score.
    pub const CSAT_RANGE: std::ops::RangeInclusive<i64> = 1..=5;

    /// Whether the survey is still going.
    pub fn running(&self) -> bool {
        self.ended_at.is_none()
    }
}

/// A conversation: the unit of work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    /// The tenant the conversation belongs to.
    pub tenant: TenantName,
    pub workstream: WorkstreamName,
    pub customer: Customer,
    pub context: Context,
    pub state: ConversationState,
    /// The queue it was last routed to, if any.
    pub queue: Option<QueueName>,
    pub owner: Option<Owner>,
    pub outcome: Option<Outcome>,
    /// Bots that escalated this conversation; none of them is offered it again.
    pub escalated_by: Vec<UserName>,
    /// Whether any agent has owned it (decides the outcome when it ends).
    pub agent_engaged: bool,
    /// Whether any bot has owned it (a bot session, for metering).
    pub bot_engaged: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The customer's sentiment: the mean score of their latest customer messages (neutral
    /// before the first). Set by the store as scored messages are appended, carried from the
    /// bot's part into the agent's; the engine never writes it with a conversation update.
    #[serde(default)]
    pub sentiment: Sentiment,
    /// When it reached each point of its life.
    #[serde(default)]
    pub milestones: Milestones,
    /// The post-conversation survey, once one began.
    #[serde(default)]
    pub survey: Option<Survey>,
}

impl Conversation {
    /// A new conversation, `open`, not yet routed.
    pub fn open(
        id: ConversationId,
        tenant: TenantName,
        workstream: WorkstreamName,
        customer: Customer,
        context: Context,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            tenant,
            workstream,
            customer,
            context,
            state: ConversationState::Open,
            queue: None,
            owner: None,
            outcome: None,
            escalated_by: Vec::new(),
            agent_engaged: false,
            bot_engaged: false,
            created_at: now,
            updated_at: now,
            sentiment: Sentiment::NEUTRAL,
            milestones: Milestones::default(),
            survey: None,
        }
    }

    /// The survey bot, while a survey is running.
    pub fn surveying(&self) -> Option<&UserName> {
        self.survey.as_ref().filter(|s| s.running()).map(|s| &s.bot)
    }

    /// Hands a conversation the agent part of which has ended (wrap-up, or closed) to `bot`
    /// for a post-conversation survey. The survey bot is a bot invoked at the end: it makes the
    /// conversation a bot session if no bot had it before.
    pub fn start_survey(&mut self, bot: UserName, now: Timestamp) -> Result<(), IllegalTransition> {
        if !matches!(self.state, ConversationState::WrapUp | ConversationState::Closed) || !self.agent_engaged {
            return Err(self.illegal("survey", " (only a conversation an agent ended is surveyed)"));
        }
        if self.survey.is_some() {
            return Err(self.illegal("survey", " again"));
        }
        self.bot_engaged = true;
        let m = &mut self.milestones;
        if m.bot.is_none() {
            m.bot = Some(bot.clone());
            m.bot_at = Some(now);
        }
        self.survey = Some(Survey {
            bot,
            started_at: now,
            ended_at: None,
            end: None,
            csat: None,
            answers: Default::default(),
        });
        self.updated_at = now;
        Ok(())
    }

    /// Records answers of the running survey; a `csat` answer must be a whole number 1–5.
    /// Returns the answer that is not acceptable, if any (then nothing is recorded).
    pub fn answer_survey(
        &mut self,
        answers: impl IntoIterator<Item = (String, SurveyAnswer)>,
        now: Timestamp,
    ) -> Result<(), IllegalTransition> {
        let state = self.state;
        let Some(survey) = self.survey.as_mut().filter(|s| s.running()) else {
            return Err(IllegalTransition {
                operation: "answer the survey of",
                state,
                detail: " (no survey is running)".into(),
            });
        };
        let answers: Vec<_> = answers.into_iter().collect();
        let mut csat = survey.csat;
        for (name, value) in &answers {
            if name == "csat" {
                match value {
                    SurveyAnswer::Number(n) if Survey::CSAT_RANGE.contains(n) => csat = Some(*n as u8),
                    other => {
                        return Err(IllegalTransition {
                            operation: "answer the survey of",
                            state,
                            detail: format!(
                                " with csat {}: it must be a whole number from 1 to 5",
                                match other {
                                    SurveyAnswer::Number(n) => n.to_string(),
                                    SurveyAnswer::Text(t) => format!("{t:?}"),
                                }
                            ),
                        });
                    }
                }
            }
        }
        survey.csat = csat;
        survey.answers.extend(answers);
        self.updated_at = now;
        Ok(())
    }

    /// Ends the running survey.
    pub fn end_survey(&mut self, end: SurveyEnd, now: Timestamp) -> Result<(), IllegalTransition> {
        let state = self.state;
        let Some(survey) = self.survey.as_mut().filter(|s| s.running()) else {
            return Err(IllegalTransition {
                operation: "end the survey of",
                state,
                detail: " (no survey is running)".into(),
            });
        };
        survey.ended_at = Some(now);
        survey.end = Some(end);
        self.updated_at = now;
        Ok(())
    }

    fn illegal(&self, operation: &'static str, detail: impl Into<String>) -> IllegalTransition {
        IllegalTransition {
            operation,
            state: self.state,
            detail: detail.into(),
        }
    }

    /// Gives an `open` or `waiting` conversation to `owner`, taken from `queue`.
    pub fn assign(&mut self, queue: QueueName, owner: Owner, now: Timestamp) -> Result<(), IllegalTransition> {
        if !matches!(self.state, ConversationState::Open | ConversationState::Waiting) {
            return Err(self.illegal("assign", ""));
        }
        if let Owner::Bot(bot) = &owner
            && self.escalated_by.contains(bot)
        {
            return Err(self.illegal("assign", format!(" to bot `{bot}`, which already escalated it")));
        }
        let m = &mut self.milestones;
        match &owner {
            Owner::Bot(bot) => {
                self.bot_engaged = true;
                if m.bot.is_none() {
                    m.bot = Some(bot.clone());
                    m.bot_at = Some(now);
                }
            }
            Owner::Agent(agent) => {
                self.agent_engaged = true;
                m.stop_waiting(now);
                m.agent_at.get_or_insert(now);
                if !m.agents.contains(agent) {
                    m.agents.push(agent.clone());
                }
            }
        }
        self.state = ConversationState::Active;
        self.queue = Some(queue);
        self.owner = Some(owner);
        self.updated_at = now;
        Ok(())
    }

    /// Puts an `open` or `active` conversation in `queue` to wait for a member; the owner (if
    /// any) lets go of it. Used when no member is free, and by transfers to a queue.
    pub fn enqueue(&mut self, queue: QueueName, now: Timestamp) -> Result<(), IllegalTransition> {
        if !matches!(self.state, ConversationState::Open | ConversationState::Active) {
            return Err(self.illegal("enqueue", ""));
        }
        self.state = ConversationState::Waiting;
        self.queue = Some(queue);
        self.owner = None;
        self.milestones.start_waiting(now);
        self.updated_at = now;
        Ok(())
    }

    /// The owning agent transfers an `active` conversation to `queue`, where it waits for a
    /// member: [`enqueue`](Self::enqueue), counted as a transfer.
    pub fn transfer_to_queue(&mut self, queue: QueueName, now: Timestamp) -> Result<(), IllegalTransition> {
        if self.state != ConversationState::Active {
            return Err(self.illegal("transfer", ""));
        }
        self.enqueue(queue, now)?;
        self.milestones.transfers += 1;
        Ok(())
    }

    /// The owning bot hands the conversation back for routing with `context` merged in. The
    /// conversation is `open` again until the engine assigns or enqueues it.
    pub fn escalate(&mut self, bot: &UserName, context: Context, now: Timestamp) -> Result<(), IllegalTransition> {
        match (&self.state, &self.owner) {
            (ConversationState::Active, Some(Owner::Bot(b))) if b == bot => {}
            (ConversationState::Active, _) => {
                return Err(self.illegal("escalate", format!(" because bot `{bot}` does not own it")));
            }
            _ => return Err(self.illegal("escalate", "")),
        }
        if !self.escalated_by.contains(bot) {
            self.escalated_by.push(bot.clone());
        }
        self.context.merge(context);
        self.state = ConversationState::Open;
        self.owner = None;
        self.milestones.escalated_at.get_or_insert(now);
        self.milestones.start_waiting(now);
        self.updated_at = now;
        Ok(())
    }

    /// The owning agent hands it over directly to another agent.
    pub fn transfer_to_agent(&mut self, agent: UserName, now: Timestamp) -> Result<(), IllegalTransition> {
        if self.state != ConversationState::Active {
            return Err(self.illegal("transfer", ""));
        }
        let m = &mut self.milestones;
        m.transfers += 1;
        m.agent_at.get_or_insert(now);
        if !m.agents.contains(&agent) {
            m.agents.push(agent.clone());
        }
        self.owner = Some(Owner::Agent(agent));
        self.agent_engaged = true;
        self.updated_at = now;
        Ok(())
    }

    /// The owning agent ends the conversation; it goes to wrap-up.
    pub fn end_by_agent(&mut self, now: Timestamp) -> Result<(), IllegalTransition> {
        if !matches!(
            (&self.state, &self.owner),
            (ConversationState::Active, Some(Owner::Agent(_)))
        ) {
            return Err(self.illegal("end (as an agent)", ""));
        }
        self.state = ConversationState::WrapUp;
        self.milestones.ended_at = Some(now);
        self.updated_at = now;
        Ok(())
    }

    /// Wrap-up is over: the conversation closes, resolved by the agent.
    pub fn finish_wrap_up(&mut self, now: Timestamp) -> Result<(), IllegalTransition> {
        if self.state != ConversationState::WrapUp {
            return Err(self.illegal("finish wrap-up of", ""));
        }
        self.close(Outcome::ResolvedByAgent, now);
        Ok(())
    }

    /// The owning bot ends the conversation (Omnichannel `EndConversation`): resolved by the bot.
    pub fn end_by_bot(&mut self, now: Timestamp) -> Result<(), IllegalTransition> {
        if !matches!(
            (&self.state, &self.owner),
            (ConversationState::Active, Some(Owner::Bot(_)))
        ) {
            return Err(self.illegal("end (as a bot)", ""));
        }
        self.close(Outcome::ResolvedByBot, now);
        Ok(())
    }

    /// The customer left (closed the page, went silent past the inactivity timer). Before any
    /// agent answered it is abandoned; with an agent it goes to wrap-up like an agent's end.
    pub fn customer_left(&mut self, now: Timestamp) -> Result<(), IllegalTransition> {
        match (&self.state, &self.owner) {
            (ConversationState::Active, Some(Owner::Agent(_))) => {
                self.state = ConversationState::WrapUp;
                self.milestones.ended_at = Some(now);
                self.updated_at = now;
            }
            (ConversationState::Open | ConversationState::Waiting | ConversationState::Active, _) => {
                self.close(Outcome::Abandoned, now);
            }
            _ => return Err(self.illegal("abandon", "")),
        }
        Ok(())
    }

    /// A supervisor closes the conversation, whatever it is doing (force close): abandoned when
    /// no agent ever had it, else resolved by the agent. A pending wait ends here.
    pub fn force_close(&mut self, now: Timestamp) -> Result<(), IllegalTransition> {
        if self.state == ConversationState::Closed {
            return Err(self.illegal("force close", ""));
        }
        let outcome = if self.agent_engaged {
            Outcome::ResolvedByAgent
        } else {
            Outcome::Abandoned
        };
        self.close(outcome, now);
        Ok(())
    }

    fn close(&mut self, outcome: Outcome, now: Timestamp) {
        self.state = ConversationState::Closed;
        self.outcome = Some(outcome);
        self.owner = None;
        self.milestones.stop_waiting(now);
        self.milestones.closed_at = Some(now);
        self.updated_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv() -> Conversation {
        Conversation::open(
            ConversationId(uuid::Uuid::nil()),
            TenantName::new("Contoso").unwrap(),
            WorkstreamName::new("ChatWorkStream").unwrap(),
            Customer::default(),
            Context::new(),
            Timestamp(0),
        )
    }
    fn q(s: &str) -> QueueName {
        QueueName::new(s).unwrap()
    }
    fn u(s: &str) -> UserName {
        UserName::new(s).unwrap()
    }

    #[test]
    fn a_bot_resolved_conversation_goes_open_active_closed() {
        let mut c = conv();
        c.assign(q("BotQueue"), Owner::Bot(u("bot")), Timestamp(1)).unwrap();
        assert_eq!(c.state, ConversationState::Active);
        c.end_by_bot(Timestamp(2)).unwrap();
        assert_eq!(
            (c.state, c.outcome),
            (ConversationState::Closed, Some(Outcome::ResolvedByBot))
        );
        assert!(c.bot_engaged && !c.agent_engaged);
    }

    #[test]
    fn an_escalated_conversation_waits_then_an_agent_resolves_it_after_wrap_up() {
        let mut c = conv();
        c.assign(q("BotQueue"), Owner::Bot(u("bot")), Timestamp(1)).unwrap();
        c.escalate(&u("bot"), Context::new(), Timestamp(2)).unwrap();
        assert_eq!(c.state, ConversationState::Open);
        c.enqueue(q("CreditCardQueue"), Timestamp(3)).unwrap();
        assert_eq!(c.state, ConversationState::Waiting);
        c.assign(q("CreditCardQueue"), Owner::Agent(u("alice")), Timestamp(4))
            .unwrap();
        c.end_by_agent(Timestamp(5)).unwrap();
        assert_eq!(c.state, ConversationState::WrapUp);
        c.finish_wrap_up(Timestamp(6)).unwrap();
        assert_eq!(
            (c.state, c.outcome),
            (ConversationState::Closed, Some(Outcome::ResolvedByAgent))
        );
        assert_eq!(c.escalated_by, vec![u("bot")]);
    }

    #[test]
    fn milestones_record_when_each_point_was_reached_and_how_long_it_waited() {
        let mut c = conv();
        c.assign(q("BotQueue"), Owner::Bot(u("bot")), Timestamp(1_000)).unwrap();
        c.escalate(&u("bot"), Context::new(), Timestamp(61_000)).unwrap();
        c.enqueue(q("CreditCardQueue"), Timestamp(61_005)).unwrap();
        assert_eq!(
            c.milestones.waiting_since,
            Some(Timestamp(61_000)),
            "the wait starts at the escalation"
        );
        c.assign(q("CreditCardQueue"), Owner::Agent(u("alice")), Timestamp(91_000))
            .unwrap();
        c.transfer_to_queue(q("HomeLoanQueue"), Timestamp(100_000)).unwrap();
        c.assign(q("HomeLoanQueue"), Owner::Agent(u("bob")), Timestamp(110_000))
            .unwrap();
        c.transfer_to_agent(u("carol"), Timestamp(120_000)).unwrap();
        c.end_by_agent(Timestamp(130_000)).unwrap();
        c.finish_wrap_up(Timestamp(140_000)).unwrap();
        let m = &c.milestones;
        assert_eq!(m.bot, Some(u("bot")));
        assert_eq!(m.bot_at, Some(Timestamp(1_000)));
        assert_eq!(m.escalated_at, Some(Timestamp(61_000)));
        assert_eq!(m.agent_at, Some(Timestamp(91_000)));
        assert_eq!(m.agents, vec![u("alice"), u("bob"), u("carol")]);
        assert_eq!(m.wait_ms, 30_000 + 10_000, "both waits, not the time with agents");
        assert_eq!(m.waiting_since, None);
        assert_eq!(m.transfers, 2);
        assert_eq!(m.ended_at, Some(Timestamp(130_000)));
        assert_eq!(m.closed_at, Some(Timestamp(140_000)));

        let mut gone = conv();
        gone.enqueue(q("CreditCardQueue"), Timestamp(5)).unwrap();
        gone.customer_left(Timestamp(25)).unwrap();
        assert_eq!(gone.milestones.wait_ms, 20, "an abandoned wait counts up to the close");
        assert_eq!(gone.milestones.closed_at, Some(Timestamp(25)));
    }

    #[test]
    fn the_bot_that_escalated_cannot_be_assigned_the_conversation_again() {
        let mut c = conv();
        c.assign(q("BotQueue"), Owner::Bot(u("bot")), Timestamp(1)).unwrap();
        c.escalate(&u("bot"), Context::new(), Timestamp(2)).unwrap();
        let err = c.assign(q("BotQueue"), Owner::Bot(u("bot")), Timestamp(3)).unwrap_err();
        assert!(err.to_string().contains("already escalated"), "{err}");
        c.assign(q("BotQueue"), Owner::Bot(u("other-bot")), Timestamp(3))
            .unwrap();
    }

    #[test]
    fn a_survey_follows_an_agent_records_csat_1_to_5_and_ends_once() {
        let mut c = conv();
        assert!(
            c.start_survey(u("survey"), Timestamp(1)).is_err(),
            "not before an agent ended it"
        );
        c.enqueue(q("CreditCardQueue"), Timestamp(1)).unwrap();
        c.assign(q("CreditCardQueue"), Owner::Agent(u("alice")), Timestamp(2))
            .unwrap();
        c.end_by_agent(Timestamp(3)).unwrap();
        c.start_survey(u("survey"), Timestamp(3)).unwrap();
        assert_eq!(c.surveying(), Some(&u("survey")));
        assert!(c.bot_engaged, "a bot invoked at the end is a bot session");
        assert_eq!(
            (c.milestones.bot.clone(), c.milestones.bot_at),
            (Some(u("survey")), Some(Timestamp(3)))
        );
        for bad in [0, 6] {
            let err = c
                .answer_survey([("csat".to_owned(), SurveyAnswer::Number(bad))], Timestamp(4))
                .unwrap_err();
            assert!(err.to_string().contains("from 1 to 5"), "{err}");
        }
        c.answer_survey(
            [
                ("csat".to_owned(), SurveyAnswer::Number(5)),
                ("comment".to_owned(), SurveyAnswer::Text("great".into())),
            ],
            Timestamp(5),
        )
        .unwrap();
        // The agent's part may close before the survey ends.
        c.finish_wrap_up(Timestamp(6)).unwrap();
        assert_eq!(c.surveying(), Some(&u("survey")));
        c.end_survey(SurveyEnd::Completed, Timestamp(7)).unwrap();
        let survey = c.survey.clone().unwrap();
        assert_eq!(
            (survey.csat, survey.end, survey.ended_at),
            (Some(5), Some(SurveyEnd::Completed), Some(Timestamp(7)))
        );
        assert_eq!(c.surveying(), None);
        assert!(c.end_survey(SurveyEnd::TimedOut, Timestamp(8)).is_err());
        assert!(
            c.answer_survey([("csat".to_owned(), SurveyAnswer::Number(1))], Timestamp(8))
                .is_err()
        );
        assert!(
            c.start_survey(u("survey"), Timestamp(9)).is_err(),
            "one survey per conversation"
        );
    }

    #[test]
    fn illegal_transitions_are_errors_and_change_nothing() {
        let mut c = conv();
        let before = c.clone();
        assert!(c.end_by_agent(Timestamp(1)).is_err());
        assert!(c.end_by_bot(Timestamp(1)).is_err());
        assert!(c.finish_wrap_up(Timestamp(1)).is_err());
        assert!(c.escalate(&u("bot"), Context::new(), Timestamp(1)).is_err());
        assert!(c.transfer_to_agent(u("bob"), Timestamp(1)).is_err());
        assert_eq!(c, before);

        c.assign(q("CreditCardQueue"), Owner::Agent(u("alice")), Timestamp(1))
            .unwrap();
        assert!(
            c.escalate(&u("bot"), Context::new(), Timestamp(2)).is_err(),
            "an agent-owned conversation is not escalated by a bot"
        );
        assert!(c.end_by_bot(Timestamp(2)).is_err());
        c.end_by_agent(Timestamp(2)).unwrap();
        c.finish_wrap_up(Timestamp(3)).unwrap();
        let closed = c.clone();
        for result in [
            c.assign(q("x"), Owner::Agent(u("bob")), Timestamp(4)),
            c.enqueue(q("x"), Timestamp(4)),
            c.customer_left(Timestamp(4)),
            c.finish_wrap_up(Timestamp(4)),
        ] {
            let err = result.unwrap_err();
            assert_eq!(err.state, ConversationState::Closed);
        }
        assert_eq!(c, closed, "a closed conversation never reopens");
    }

    #[test]
    fn a_customer_who_leaves_before_an_agent_answers_abandons() {
        for setup in [0, 1, 2] {
            let mut c = conv();
            match setup {
                1 => c.enqueue(q("CreditCardQueue"), Timestamp(1)).unwrap(),
                2 => c.assign(q("BotQueue"), Owner::Bot(u("bot")), Timestamp(1)).unwrap(),
                _ => {}
            }
            c.customer_left(Timestamp(2)).unwrap();
            assert_eq!(c.outcome, Some(Outcome::Abandoned));
        }
        let mut c = conv();
        c.assign(q("CreditCardQueue"), Owner::Agent(u("alice")), Timestamp(1))
            .unwrap();
        c.customer_left(Timestamp(2)).unwrap();
        assert_eq!(
            c.state,
            ConversationState::WrapUp,
            "with an agent, the agent still wraps up"
        );
    }

    #[test]
    fn a_supervisor_force_closes_from_any_state_but_closed_and_the_outcome_says_whether_an_agent_had_it() {
        let mut open = conv();
        open.force_close(Timestamp(5)).unwrap();
        assert_eq!(
            (open.state, open.outcome, open.milestones.closed_at),
            (ConversationState::Closed, Some(Outcome::Abandoned), Some(Timestamp(5)))
        );

        let mut with_bot = conv();
        with_bot
            .assign(q("BotQueue"), Owner::Bot(u("bot")), Timestamp(1))
            .unwrap();
        with_bot.force_close(Timestamp(2)).unwrap();
        assert_eq!(with_bot.outcome, Some(Outcome::Abandoned), "a bot is not an agent");
        assert_eq!(with_bot.owner, None);

        let mut waiting = conv();
        waiting.enqueue(q("CreditCardQueue"), Timestamp(10)).unwrap();
        waiting.force_close(Timestamp(40)).unwrap();
        assert_eq!(waiting.outcome, Some(Outcome::Abandoned));
        assert_eq!(
            (waiting.milestones.waiting_since, waiting.milestones.wait_ms),
            (None, 30),
            "the wait ends at the close"
        );

        let mut with_agent = conv();
        with_agent
            .assign(q("CreditCardQueue"), Owner::Agent(u("alice")), Timestamp(1))
            .unwrap();
        with_agent.force_close(Timestamp(2)).unwrap();
        assert_eq!(with_agent.outcome, Some(Outcome::ResolvedByAgent));

        // Handed back to a queue after an agent had it: still the agent's work.
        let mut requeued = conv();
        requeued
            .assign(q("CreditCardQueue"), Owner::Agent(u("alice")), Timestamp(1))
            .unwrap();
        requeued.transfer_to_queue(q("HomeLoanQueue"), Timestamp(2)).unwrap();
        requeued.force_close(Timestamp(3)).unwrap();
        assert_eq!(requeued.outcome, Some(Outcome::ResolvedByAgent));

        let mut wrap_up = conv();
        wrap_up
            .assign(q("CreditCardQueue"), Owner::Agent(u("alice")), Timestamp(1))
            .unwrap();
        wrap_up.end_by_agent(Timestamp(2)).unwrap();
        wrap_up.force_close(Timestamp(3)).unwrap();
        assert_eq!(
            (wrap_up.state, wrap_up.outcome),
            (ConversationState::Closed, Some(Outcome::ResolvedByAgent))
        );

        let closed = wrap_up.clone();
        let err = wrap_up.force_close(Timestamp(4)).unwrap_err();
        assert_eq!(err.state, ConversationState::Closed);
        assert_eq!(wrap_up, closed, "a closed conversation never reopens");
    }

    #[test]
    fn states_round_trip_through_their_spelling() {
        for s in ConversationState::ALL {
            assert_eq!(s.as_str().parse::<ConversationState>().unwrap(), *s);
        }
        assert_eq!(
            serde_json::to_string(&ConversationState::WrapUp).unwrap(),
            "\"wrap_up\""
        );
    }
}
