//! Bot and agent analytics over conversations, as docs/analytics.md defines them.
//!
//! A [`Report`] is folded one conversation at a time ([`Report::add`]), so callers can stream a
//! date range page by page with bounded memory. Figures are kept as sums and counts and turned
//! into rates and averages only when read, so totals, groups and days all add up.
//!
//! The bot side counts *bot conversations*: those a bot engaged (owned at some point), credited
//! to the first bot that owned them. Each finished one has exactly one bot outcome:
//! - **escalated**: a bot escalated it (whatever happened afterwards);
//! - **resolved**: not escalated, and closed by a bot (`resolved_by_bot`);
//! - **abandoned**: not escalated, and closed any other way (the customer left or went silent,
//!   a supervisor closed it).
//!
//! One neither escalated nor closed is *in progress* and takes no part in the rates, so
//! resolved + escalated + abandoned = 100 % of the finished ones.
//!
//! The agent side counts conversations an agent engaged.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::conversation::{Conversation, Outcome};
use crate::names::{UserName, WorkstreamName};

/// Milliseconds in a day: days are UTC calendar days.
pub const DAY_MS: i64 = 86_400_000;

/// The UTC day (days since 1970-01-01) of an instant in milliseconds.
pub fn day_of(millis: i64) -> i64 {
    millis.div_euclid(DAY_MS)
}

/// A running mean: a sum and how many were added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Mean {
    pub sum: f64,
    pub count: u64,
}

impl Mean {
    pub fn add(&mut self, v: f64) {
        self.sum += v;
        self.count += 1;
    }

    /// The mean, or `None` of nothing.
    pub fn value(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    fn merge(&mut self, other: &Mean) {
        self.sum += other.sum;
        self.count += other.count;
    }
}

/// The bot outcome of a bot conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotOutcome {
    Resolved,
    Escalated,
    Abandoned,
    InProgress,
}

impl BotOutcome {
    /// The outcome of `c` as the bot side counts it (docs/analytics.md), or `None` if no bot
    /// engaged it.
    pub fn of(c: &Conversation) -> Option<BotOutcome> {
        let bot = c.milestones.bot.as_ref()?;
        // Only the survey bot, at the end: a bot session, but not a bot conversation.
        if c.survey
            .as_ref()
            .is_some_and(|s| &s.bot == bot && Some(s.started_at) == c.milestones.bot_at)
        {
            return None;
        }
        Some(if c.milestones.escalated_at.is_some() {
            BotOutcome::Escalated
        } else {
            match c.outcome {
                Some(Outcome::ResolvedByBot) => BotOutcome::Resolved,
                Some(_) => BotOutcome::Abandoned,
                None => BotOutcome::InProgress,
            }
        })
    }
}

/// Bot figures of a set of conversations.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BotFigures {
    /// Every bot conversation, finished or not.
    pub conversations: u64,
    pub resolved: u64,
    pub escalated: u64,
    pub abandoned: u64,
    pub in_progress: u64,
    /// Close − bot start, in seconds, over the resolved ones.
    pub resolution_time: Mean,
    /// Escalation − bot start, in seconds, over the escalated ones.
    pub escalation_time: Mean,
    /// The conversation's sentiment (compound, −1 … +1) over the finished ones.
    pub sentiment: Mean,
}

impl BotFigures {
    fn add(&mut self, c: &Conversation, outcome: BotOutcome) {
        self.conversations += 1;
        let m = &c.milestones;
        let seconds = |end: Option<crate::Timestamp>| match (m.bot_at, end) {
            (Some(start), Some(end)) => Some(end.since(start) as f64 / 1000.0),
            _ => None,
        };
        match outcome {
            BotOutcome::Resolved => {
                self.resolved += 1;
                if let Some(s) = seconds(m.closed_at) {
                    self.resolution_time.add(s);
                }
            }
            BotOutcome::Escalated => {
                self.escalated += 1;
                if let Some(s) = seconds(m.escalated_at) {
                    self.escalation_time.add(s);
                }
            }
            BotOutcome::Abandoned => self.abandoned += 1,
            BotOutcome::InProgress => {
                self.in_progress += 1;
                return;
            }
        }
        self.sentiment.add(c.sentiment.compound());
    }

    /// Resolved + escalated + abandoned: the conversations the rates are over.
    pub fn finished(&self) -> u64 {
        self.resolved + self.escalated + self.abandoned
    }

    fn rate(&self, n: u64) -> Option<f64> {
        let finished = self.finished();
        (finished > 0).then(|| n as f64 / finished as f64)
    }

    pub fn resolution_rate(&self) -> Option<f64> {
        self.rate(self.resolved)
    }

    pub fn escalation_rate(&self) -> Option<f64> {
        self.rate(self.escalated)
    }

    pub fn abandon_rate(&self) -> Option<f64> {
        self.rate(self.abandoned)
    }

    fn merge(&mut self, o: &BotFigures) {
        self.conversations += o.conversations;
        self.resolved += o.resolved;
        self.escalated += o.escalated;
        self.abandoned += o.abandoned;
        self.in_progress += o.in_progress;
        self.resolution_time.merge(&o.resolution_time);
        self.escalation_time.merge(&o.escalation_time);
        self.sentiment.merge(&o.sentiment);
    }
}

/// Agent figures of a set of conversations.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AgentFigures {
    /// Conversations an agent engaged.
    pub conversations: u64,
    /// Seconds waited for a person, over the engaged ones.
    pub wait: Mean,
    /// First agent → close, in seconds, over the engaged ones that closed.
    pub handle_time: Mean,
    /// Engaged conversations an agent transferred at least once.
    pub transferred: u64,
    /// Conversations that waited for a person and closed before one took them.
    pub unanswered: u64,
}

impl AgentFigures {
    fn add(&mut self, c: &Conversation) {
        let m = &c.milestones;
        let Some(agent_at) = m.agent_at else {
            if m.closed_at.is_some() && m.wait_ms > 0 {
                self.unanswered += 1;
            }
            return;
        };
        self.conversations += 1;
        self.wait.add(m.wait_ms as f64 / 1000.0);
        if let Some(closed) = m.closed_at {
            self.handle_time.add(closed.since(agent_at) as f64 / 1000.0);
        }
        if m.transfers > 0 {
            self.transferred += 1;
        }
    }

    /// Transferred / engaged.
    pub fn transfer_rate(&self) -> Option<f64> {
        (self.conversations > 0).then(|| self.transferred as f64 / self.conversations as f64)
    }

    fn merge(&mut self, o: &AgentFigures) {
        self.conversations += o.conversations;
        self.wait.merge(&o.wait);
        self.handle_time.merge(&o.handle_time);
        self.transferred += o.transferred;
        self.unanswered += o.unanswered;
    }
}

/// Post-conversation survey figures: customer satisfaction (CSAT).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SurveyFigures {
    /// Conversations a survey was started for.
    pub surveyed: u64,
    /// Of those, the ones whose customer gave a satisfaction score.
    pub responses: u64,
    /// The satisfaction scores, 1 … 5.
    pub csat: Mean,
    /// How many gave each score: `scores[0]` the 1s … `scores[4]` the 5s.
    pub scores: [u64; 5],
}

impl SurveyFigures {
    fn add(&mut self, c: &Conversation) {
        let Some(survey) = &c.survey else { return };
        self.surveyed += 1;
        if let Some(score) = survey.csat.filter(|s| (1..=5).contains(s)) {
            self.responses += 1;
            self.csat.add(f64::from(score));
            self.scores[usize::from(score - 1)] += 1;
        }
    }

    /// Responses over surveys.
    pub fn response_rate(&self) -> Option<f64> {
        (self.surveyed > 0).then(|| self.responses as f64 / self.surveyed as f64)
    }

    /// The share of responses that were satisfied (4 or 5): the usual CSAT percentage.
    pub fn satisfied_rate(&self) -> Option<f64> {
        (self.responses > 0).then(|| (self.scores[3] + self.scores[4]) as f64 / self.responses as f64)
    }

    fn merge(&mut self, o: &SurveyFigures) {
        self.surveyed += o.surveyed;
        self.responses += o.responses;
        self.csat.merge(&o.csat);
        for (mine, theirs) in self.scores.iter_mut().zip(o.scores) {
            *mine += theirs;
        }
    }
}

/// Bot, agent and survey figures together.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Figures {
    /// Every conversation counted, bot or not.
    pub conversations: u64,
    pub bot: BotFigures,
    pub agent: AgentFigures,
    pub survey: SurveyFigures,
}

impl Figures {
    fn add(&mut self, c: &Conversation) {
        self.conversations += 1;
        if let Some(outcome) = BotOutcome::of(c) {
            self.bot.add(c, outcome);
        }
        self.agent.add(c);
        self.survey.add(c);
    }

    /// Adds another set's figures to these.
    pub fn merge(&mut self, o: &Figures) {
        self.conversations += o.conversations;
        self.bot.merge(&o.bot);
        self.agent.merge(&o.agent);
        self.survey.merge(&o.survey);
    }
}

/// The figures of a date range: in all, per first bot, per workstream and per UTC day of
/// creation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub total: Figures,
    /// Bot figures of each first bot.
    pub by_bot: BTreeMap<UserName, BotFigures>,
    pub by_workstream: BTreeMap<WorkstreamName, Figures>,
    /// By day (days since 1970-01-01, UTC) of creation.
    pub by_day: BTreeMap<i64, Figures>,
}

impl Report {
    /// Counts `c` in.
    pub fn add(&mut self, c: &Conversation) {
        self.total.add(c);
        if let (Some(bot), Some(outcome)) = (&c.milestones.bot, BotOutcome::of(c)) {
            self.by_bot.entry(bot.clone()).or_default().add(c, outcome);
        }
        self.by_workstream.entry(c.workstream.clone()).or_default().add(c);
        self.by_day.entry(day_of(c.created_at.millis())).or_default().add(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Context;
    use crate::conversation::{ConversationId, Customer, Owner};
    use crate::names::{QueueName, TenantName};
    use crate::sentiment::Sentiment;
    use crate::time::Timestamp;

    fn u(s: &str) -> UserName {
        UserName::new(s).unwrap()
    }
    fn q(s: &str) -> QueueName {
        QueueName::new(s).unwrap()
    }

    /// A conversation created at `t` seconds that `bot` takes at once.
    fn with_bot(t: i64, bot: &str, workstream: &str) -> Conversation {
        let at = Timestamp(t * 1000);
        let mut c = Conversation::open(
            ConversationId(uuid::Uuid::now_v7()),
            TenantName::new("Contoso").unwrap(),
            WorkstreamName::new(workstream).unwrap(),
            Customer::default(),
            Context::new(),
            at,
        );
        c.assign(q("BotQueue"), Owner::Bot(u(bot)), at).unwrap();
        c
    }

    fn secs(t: i64) -> Timestamp {
        Timestamp(t * 1000)
    }

    /// Ten conversations: six the bot resolves (after 60 … 160 s, mean 110 s), three it
    /// escalates (after 30, 60 and 90 s, mean 60 s) that agents take after waiting 10, 20 and
    /// 30 s and handle for 100, 200 and 300 s (one transferred), and one the customer abandons.
    fn crafted() -> Vec<Conversation> {
        let mut all = Vec::new();
        for i in 0..6 {
            let start = i * 1_000;
            let mut c = with_bot(start, "faq-bot", "ChatWorkStream");
            c.sentiment = Sentiment(5000);
            c.end_by_bot(secs(start + 60 + i * 20)).unwrap();
            all.push(c);
        }
        for i in 0..3 {
            let start = 10_000 + i * 1_000;
            let mut c = with_bot(start, if i == 0 { "faq-bot" } else { "billing-bot" }, "ChatWorkStream");
            c.sentiment = Sentiment(-5000);
            let escalated = start + 30 * (i + 1);
            c.escalate(
                &u(if i == 0 { "faq-bot" } else { "billing-bot" }),
                Context::new(),
                secs(escalated),
            )
            .unwrap();
            c.enqueue(q("CreditCardQueue"), secs(escalated)).unwrap();
            let taken = escalated + 10 * (i + 1);
            c.assign(q("CreditCardQueue"), Owner::Agent(u("alice")), secs(taken))
                .unwrap();
            if i == 2 {
                c.transfer_to_agent(u("bob"), secs(taken + 50)).unwrap();
            }
            c.end_by_agent(secs(taken + 100 * (i + 1) - 5)).unwrap();
            c.finish_wrap_up(secs(taken + 100 * (i + 1))).unwrap();
            all.push(c);
        }
        let mut c = with_bot(20_000, "faq-bot", "VoiceWorkStream");
        c.customer_left(secs(20_045)).unwrap();
        all.push(c);
        all
    }

    fn close_to(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn six_resolved_three_escalated_one_abandoned_are_60_30_10_percent_with_their_times() {
        let mut report = Report::default();
        for c in crafted() {
            report.add(&c);
        }
        let bot = report.total.bot;
        assert_eq!(
            (bot.conversations, bot.resolved, bot.escalated, bot.abandoned),
            (10, 6, 3, 1)
        );
        assert!(close_to(bot.resolution_rate(), 0.6));
        assert!(close_to(bot.escalation_rate(), 0.3));
        assert!(close_to(bot.abandon_rate(), 0.1));
        assert!(
            close_to(bot.resolution_time.value(), 110.0),
            "{:?}",
            bot.resolution_time
        );
        assert!(close_to(bot.escalation_time.value(), 60.0), "{:?}", bot.escalation_time);
        // Six at +0.5, three at −0.5, one neutral: 1.5 / 10.
        assert!(close_to(bot.sentiment.value(), 0.15), "{:?}", bot.sentiment);

        let agent = report.total.agent;
        assert_eq!(agent.conversations, 3);
        assert!(close_to(agent.wait.value(), 20.0), "{:?}", agent.wait);
        assert!(close_to(agent.handle_time.value(), 200.0), "{:?}", agent.handle_time);
        assert!(close_to(agent.transfer_rate(), 1.0 / 3.0));
        assert_eq!(agent.unanswered, 0, "the abandoned one never waited for a person");
    }

    #[test]
    fn groups_by_first_bot_workstream_and_day_add_up_to_the_total() {
        let mut report = Report::default();
        for c in crafted() {
            report.add(&c);
        }
        let faq = report.by_bot[&u("faq-bot")];
        let billing = report.by_bot[&u("billing-bot")];
        assert_eq!((faq.resolved, faq.escalated, faq.abandoned), (6, 1, 1));
        assert_eq!((billing.resolved, billing.escalated, billing.abandoned), (0, 2, 0));
        assert!(close_to(billing.escalation_rate(), 1.0));
        let voice = report.by_workstream[&WorkstreamName::new("VoiceWorkStream").unwrap()];
        assert_eq!((voice.conversations, voice.bot.abandoned), (1, 1));
        let mut sum = Figures::default();
        for f in report.by_day.values() {
            sum.merge(f);
        }
        assert_eq!(sum, report.total, "the days add up to the range");
        assert_eq!(
            report.by_day.keys().copied().collect::<Vec<_>>(),
            vec![0],
            "all on 1970-01-01"
        );
    }

    #[test]
    fn an_ongoing_bot_conversation_is_in_progress_and_outside_the_rates() {
        let mut report = Report::default();
        let mut resolved = with_bot(0, "faq-bot", "ChatWorkStream");
        resolved.end_by_bot(secs(10)).unwrap();
        report.add(&resolved);
        report.add(&with_bot(5, "faq-bot", "ChatWorkStream"));
        let bot = report.total.bot;
        assert_eq!((bot.conversations, bot.in_progress, bot.finished()), (2, 1, 1));
        assert!(close_to(bot.resolution_rate(), 1.0));
        // Escalated but still with an agent: the bot's part is finished.
        let mut escalated = with_bot(0, "faq-bot", "ChatWorkStream");
        escalated.escalate(&u("faq-bot"), Context::new(), secs(3)).unwrap();
        assert_eq!(BotOutcome::of(&escalated), Some(BotOutcome::Escalated));
        // No bot: no bot outcome, but counted in the agent figures once an agent has it.
        let mut direct = Conversation::open(
            ConversationId(uuid::Uuid::now_v7()),
            TenantName::new("Contoso").unwrap(),
            WorkstreamName::new("ChatWorkStream").unwrap(),
            Customer::default(),
            Context::new(),
            secs(0),
        );
        direct.enqueue(q("CreditCardQueue"), secs(0)).unwrap();
        direct.customer_left(secs(40)).unwrap();
        assert_eq!(BotOutcome::of(&direct), None);
        let mut r = Report::default();
        r.add(&direct);
        assert_eq!((r.total.bot.conversations, r.total.agent.unanswered), (0, 1));
    }

    #[test]
    fn surveys_give_csat_and_a_survey_only_bot_is_no_bot_conversation() {
        let mut report = Report::default();
        for (i, score) in [Some(5), Some(4), Some(2), None].into_iter().enumerate() {
            let start = i as i64 * 100;
            let mut c = Conversation::open(
                ConversationId(uuid::Uuid::now_v7()),
                TenantName::new("Contoso").unwrap(),
                WorkstreamName::new("ChatWorkStream").unwrap(),
                Customer::default(),
                Context::new(),
                secs(start),
            );
            c.enqueue(q("CreditCardQueue"), secs(start)).unwrap();
            c.assign(q("CreditCardQueue"), Owner::Agent(u("alice")), secs(start + 5))
                .unwrap();
            c.end_by_agent(secs(start + 50)).unwrap();
            c.start_survey(u("survey-bot"), secs(start + 50)).unwrap();
            if let Some(score) = score {
                c.answer_survey(
                    [("csat".to_owned(), crate::conversation::SurveyAnswer::Number(score))],
                    secs(start + 60),
                )
                .unwrap();
            }
            assert!(c.bot_engaged, "the survey bot makes a bot session");
            assert_eq!(BotOutcome::of(&c), None);
            report.add(&c);
        }
        let survey = report.total.survey;
        assert_eq!((survey.surveyed, survey.responses), (4, 3));
        assert_eq!(survey.scores, [0, 1, 0, 1, 1]);
        assert!(close_to(survey.csat.value(), 11.0 / 3.0));
        assert!(close_to(survey.satisfied_rate(), 2.0 / 3.0));
        assert!(close_to(survey.response_rate(), 0.75));
        assert_eq!(report.total.bot.conversations, 0);
        assert!(report.by_bot.is_empty());
    }

    #[test]
    fn days_are_utc_calendar_days_also_before_1970() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(DAY_MS - 1), 0);
        assert_eq!(day_of(DAY_MS), 1);
        assert_eq!(day_of(-1), -1);
    }
}
