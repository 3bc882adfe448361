//! The customer's sentiment, kept as they write: every customer message with text is scored
//! (`switchboard-sentiment`, VADER, offline) under the conversation's lock, and the score goes
//! into the log with the message, together with the conversation's running value (the mean of
//! its latest [`sentiment::WINDOW`] customer messages). The store makes that value the
//! conversation's; supervisors get it as a live event.
//!
//! Each ongoing conversation's window is kept here in memory. After a restart (or for a
//! conversation this hub has not seen yet) it is rebuilt from the scores stored in the log, so
//! the value carries on where it was, from the bot's part into the agent's. It is dropped when
//! the conversation closes.

use std::collections::HashMap;
use std::sync::Mutex;

use botframework::{Activity, ActivityType};
use domain::activity::SenderRole;
use domain::sentiment::{MessageSentiment, Sentiment};
use domain::{ConversationId, Seq};
use sentiment::Pulse;

use crate::hub::{EngineError, Hub};
use crate::work::lock;

/// How many log entries one read takes while rebuilding a window.
const REBUILD_PAGE: u32 = 500;

/// The windows of the conversations the hub has scored messages of.
#[derive(Debug, Default)]
pub(crate) struct Pulses(Mutex<HashMap<ConversationId, Pulse>>);

impl Hub {
    /// Scores `activity` if it is a customer message with text: its own score and the
    /// conversation's after it. The window is updated only by [`Hub::keep_pulse`], once the
    /// message is stored. Call with the conversation's lock held.
    pub(crate) async fn score_customer_message(
        &self,
        conversation: ConversationId,
        activity: &Activity,
    ) -> Result<Option<(MessageSentiment, Pulse)>, EngineError> {
        let Some(text) = activity
            .text
            .as_deref()
            .filter(|t| activity.kind == ActivityType::Message && !t.trim().is_empty())
        else {
            return Ok(None);
        };
        let known = lock(&self.pulses.0).get(&conversation).cloned();
        let mut pulse = match known {
            Some(pulse) => pulse,
            None => self.rebuild_pulse(conversation).await?,
        };
        let message = Sentiment::from_compound(pulse.add(text));
        let scored = MessageSentiment {
            message,
            conversation: Sentiment::from_compound(pulse.compound()),
        };
        Ok(Some((scored, pulse)))
    }

    /// Keeps `pulse` as the conversation's window (its message is stored).
    pub(crate) fn keep_pulse(&self, conversation: ConversationId, pulse: Pulse) {
        lock(&self.pulses.0).insert(conversation, pulse);
    }

    /// Forgets a closed conversation's window.
    pub(crate) fn forget_pulse(&self, conversation: ConversationId) {
        lock(&self.pulses.0).remove(&conversation);
    }

    /// The window as the log has it: the scores of the customer messages stored so far.
    async fn rebuild_pulse(&self, conversation: ConversationId) -> Result<Pulse, EngineError> {
        let mut pulse = Pulse::default();
        let mut after = Seq::ZERO;
        loop {
            let page = self.store().activities_after(conversation, after, REBUILD_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for stored in &page {
                if stored.activity.sender_role == SenderRole::Customer
                    && let Some(scored) = stored.activity.sentiment
                {
                    pulse.add_score(scored.message.compound());
                }
            }
            if page.len() < REBUILD_PAGE as usize {
                break;
            }
        }
        Ok(pulse)
    }
}
