//! The bots that work beside the one routing chose: a workstream's post-conversation survey bot
//! and its smart-assist bots.
//!
//! **Survey.** When an agent ends a conversation of a workstream with a survey (or the customer
//! does, if the workstream says so), the customer's chat does not end: the hub tells the survey
//! bot — a `conversationUpdate`, then the `startConversation` event with the context and
//! `msdyn_survey: {"agent", "ended_by"}` — and from then on passes the customer's messages to it.
//! The agent's part goes on as before (wrap-up, then closed); the survey runs beside it and may
//! outlast it. The bot reports answers as an `event` named `surveyResponse` whose `value` is an
//! object of answers, or in `channelData.surveyResponse` of any activity; `csat` (1–5) is the
//! satisfaction score analytics average. Its `EndConversation` ends the survey and the customer's
//! chat. A survey also ends when the customer leaves, when the bot cannot be reached, and after
//! the workstream's survey timeout. The survey bot counts as a bot session (a bot invoked at the
//! end of the conversation).
//!
//! **Smart assist.** While an agent owns a conversation, each of the workstream's smart-assist
//! bots gets a copy of every customer message and every message the agent sends (not notes),
//! after a `conversationUpdate` that adds the agent with an `aadObjectId` (the signal
//! Omnichannel's smart-assist sample waits for). Copies carry `channelData.switchboard.copy =
//! "customer" | "agent"`. What the bots send back is stored for agents only and marked as a
//! suggestion (`channelData.switchboard.suggestion`); the customer never sees it, and smart-assist
//! bots never make a bot session.

use std::sync::Arc;
use std::time::Duration;

use botframework::{Activity, ActivityType, ChannelAccount, EndOfConversationCode, RoleType};
use domain::activity::{SenderRole, Visibility};
use domain::conversation::{Conversation, ConversationId, Owner, SurveyAnswer, SurveyEnd};
use domain::workstream::Workstream;
use domain::{ConversationState, Timestamp, UserName};
use serde_json::{Map, Value, json};

use crate::channel::{bot_account, customer_account};
use crate::dispatch::Delivery;
use crate::hub::{EngineError, Hub};

/// The event name a survey bot reports answers with.
pub const SURVEY_RESPONSE_EVENT: &str = "surveyResponse";
/// The `channelData` key a survey bot may report answers in instead.
pub const SURVEY_RESPONSE_KEY: &str = "surveyResponse";
/// The longest text answer kept, in characters.
const MAX_ANSWER_CHARS: usize = 4000;
/// At most this many answers in one report.
const MAX_ANSWERS: usize = 50;

/// Who ended the agent's part of a conversation that is surveyed next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndedBy {
    Agent,
    Customer,
}

impl EndedBy {
    fn as_str(self) -> &'static str {
        match self {
            EndedBy::Agent => "agent",
            EndedBy::Customer => "customer",
        }
    }
}

/// The answers a survey bot reports in `activity`, if it reports any: the `value` of a
/// `surveyResponse` event, or `channelData.surveyResponse`. Each answer must be a string or a
/// whole number; anything else is refused with the reason.
pub(crate) fn survey_answers(activity: &Activity) -> Result<Option<Vec<(String, SurveyAnswer)>>, EngineError> {
    let reported = if activity.kind == ActivityType::Event && activity.name.as_deref() == Some(SURVEY_RESPONSE_EVENT) {
        Some(activity.value.clone().unwrap_or(Value::Null))
    } else {
        activity.channel_data_field(SURVEY_RESPONSE_KEY).cloned()
    };
    let Some(reported) = reported else {
        return Ok(None);
    };
    let Value::Object(object) = reported else {
        return Err(EngineError::Invalid(
            "a survey response must be a JSON object of answers, e.g. {\"csat\": 4, \"comment\": \"…\"}".to_owned(),
        ));
    };
    if object.len() > MAX_ANSWERS {
        return Err(EngineError::Invalid(format!(
            "a survey response holds at most {MAX_ANSWERS} answers; this one has {}",
            object.len()
        )));
    }
    let mut answers = Vec::with_capacity(object.len());
    for (name, value) in object {
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(EngineError::Invalid(format!(
                "survey answer name {name:?} must be 1–100 characters without control characters"
            )));
        }
        let answer = match value {
            Value::String(text) => SurveyAnswer::Text(text.chars().take(MAX_ANSWER_CHARS).collect()),
            Value::Number(n) if n.as_i64().is_some() => SurveyAnswer::Number(n.as_i64().unwrap_or_default()),
            other => {
                return Err(EngineError::Invalid(format!(
                    "survey answer `{name}` is {}; answers are strings or whole numbers",
                    describe(&other)
                )));
            }
        };
        answers.push((name, answer));
    }
    Ok(Some(answers))
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a fractional number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Whether a stored activity body is a smart-assist suggestion.
pub fn is_suggestion(body: &Value) -> bool {
    body.pointer("/channelData/switchboard/suggestion")
        .and_then(Value::as_bool)
        == Some(true)
}

impl Hub {
    /// Starts the workstream's survey for `conv`, whose agent part just ended (`conv` is
    /// changed; the caller stores it): true when there is a survey to run.
    /// No survey starts when the month's pool is spent and `when_spent = "route_to_people"`
    /// keeps bots out of conversations that have not had one (a survey would be a new session).
    pub(crate) async fn begin_survey(
        &self,
        conv: &mut Conversation,
        ws: &Workstream,
        ended_by: EndedBy,
        now: Timestamp,
    ) -> Result<bool, EngineError> {
        let Some(survey) = &ws.survey else {
            return Ok(false);
        };
        if ended_by == EndedBy::Customer && !survey.on_customer_end {
            return Ok(false);
        }
        if self.bots_refused(conv).await? {
            tracing::info!(conversation.id = %conv.id, "no survey: the bot-session pool is spent and new sessions go to people");
            return Ok(false);
        }
        conv.start_survey(survey.bot.clone(), now)?;
        Ok(true)
    }

    /// Tells the survey bot of `conv` (stored with its survey begun) that the conversation is
    /// its own now, and schedules the survey's timeout.
    pub(crate) async fn survey_joined(
        self: &Arc<Self>,
        conv: &Conversation,
        ws: &Workstream,
        agent: &UserName,
        ended_by: EndedBy,
    ) -> Result<(), EngineError> {
        let Some(survey) = &ws.survey else {
            return Ok(());
        };
        let about = json!({"agent": agent, "ended_by": ended_by.as_str()});
        if let Err(e) = self
            .bot_joined_with(conv, ws, &survey.bot, Some(("msdyn_survey", about)))
            .await
        {
            // The agent's part goes on regardless; the customer's chat ends as without a bot.
            tracing::error!(conversation.id = %conv.id, bot = %survey.bot, error = %e, "could not hand the conversation to its survey bot");
            let mut conv = conv.clone();
            return self.finish_survey(&mut conv, SurveyEnd::BotUnavailable).await;
        }
        self.schedule_survey_timeout(conv.id, survey.timeout);
        tracing::info!(conversation.id = %conv.id, bot = %survey.bot, ended_by = ended_by.as_str(), "survey started");
        Ok(())
    }

    fn schedule_survey_timeout(self: &Arc<Self>, id: ConversationId, after: Duration) {
        self.after(after, move |hub| async move {
            if let Err(e) = hub.end_survey(id, None, SurveyEnd::TimedOut).await {
                tracing::warn!(conversation.id = %id, error = %e, "ending a timed-out survey failed");
            }
        });
    }

    /// How long the running survey of `conv` still has before its workstream's timeout
    /// (zero once past it); `None` without a running survey.
    fn survey_time_left(&self, conv: &Conversation) -> Option<Duration> {
        let survey = conv.survey.as_ref().filter(|s| s.running())?;
        let timeout = self.workstream_of(conv).survey.as_ref()?.timeout;
        let elapsed = crate::now().millis().saturating_sub(survey.started_at.millis());
        Some(timeout.saturating_sub(Duration::from_millis(u64::try_from(elapsed).unwrap_or(0))))
    }

    /// Whether `conv` has a survey running past its workstream's timeout (whose timer a
    /// restart lost).
    pub(crate) fn survey_overdue(&self, conv: &Conversation) -> bool {
        self.survey_time_left(conv).is_some_and(|left| left.is_zero())
    }

    /// After a restart: schedules again the timeout of the surveys running beside a wrap-up.
    /// (A survey of a closed conversation that outlived its timeout is ended when its customer
    /// or its bot next writes.)
    pub(crate) fn recover_survey(self: &Arc<Self>, conv: &Conversation) {
        if let Some(left) = self.survey_time_left(conv) {
            self.schedule_survey_timeout(conv.id, left);
        }
    }

    /// Ends the running survey of `id` (of `bot`, when given) for `why`, and the customer's
    /// chat with it. Nothing happens when no such survey is running.
    pub(crate) async fn end_survey(
        self: &Arc<Self>,
        id: ConversationId,
        bot: Option<&UserName>,
        why: SurveyEnd,
    ) -> Result<(), EngineError> {
        let _changing = self.conversations.lock(id).await?;
        let mut conv = self.load(id).await?;
        if conv.surveying().is_none() || bot.is_some_and(|b| conv.surveying() != Some(b)) {
            return Ok(());
        }
        self.finish_survey(&mut conv, why).await
    }

    /// Ends the survey of `conv` (loaded under its lock), stores it, and ends the customer's
    /// chat.
    pub(crate) async fn finish_survey(&self, conv: &mut Conversation, why: SurveyEnd) -> Result<(), EngineError> {
        let before = conv.state;
        conv.end_survey(why, crate::now())?;
        self.store().update_conversation(conv, before).await?;
        let mut end = Activity::new(ActivityType::EndOfConversation);
        end.code = Some(match why {
            SurveyEnd::Completed => EndOfConversationCode::CompletedSuccessfully,
            SurveyEnd::CustomerLeft => EndOfConversationCode::UserCancelled,
            SurveyEnd::TimedOut => EndOfConversationCode::BotTimedOut,
            SurveyEnd::BotUnavailable => EndOfConversationCode::BotIssuedInvalidMessage,
            SurveyEnd::ClosedBySupervisor => EndOfConversationCode::Unknown,
        });
        if why == SurveyEnd::BotUnavailable {
            self.tell_customer(conv.id, Activity::message(SURVEY_UNAVAILABLE_NOTICE))
                .await?;
        }
        self.tell_customer(conv.id, end).await?;
        if conv.state == ConversationState::Closed {
            self.work.forget_everywhere(conv.id).await;
        }
        self.publish_conversation(conv);
        tracing::info!(conversation.id = %conv.id, why = why.as_str(), csat = conv.survey.as_ref().and_then(|s| s.csat), "survey ended");
        Ok(())
    }

    /// Tells the workstream's smart-assist bots that `agent` took the conversation: a
    /// `conversationUpdate` adding the agent (with an `aadObjectId`), not kept in the transcript.
    pub(crate) fn smart_assist_agent_joined(self: &Arc<Self>, conv: &Conversation, agent: &UserName) {
        let ws = self.workstream_of(conv);
        if ws.smart_assist.is_empty() {
            return;
        }
        let Ok((person, ..)) = self.person(agent) else {
            return;
        };
        let agent_account = agent_account(agent, person.display_name.as_str());
        for bot in &ws.smart_assist {
            let Some((user, profile)) = self.bot_user(bot) else {
                continue;
            };
            let mut update = Activity::new(ActivityType::ConversationUpdate);
            update.id = Some(uuid::Uuid::new_v4().simple().to_string());
            update.timestamp = Some(botframework::Timestamp::now_utc());
            update.from = Some(customer_account(conv));
            update.members_added = Some(vec![bot_account(user), customer_account(conv), agent_account.clone()]);
            self.address_to_bot(&mut update, conv.id, user, profile);
            self.deliver(
                conv.id,
                Delivery {
                    bot: bot.clone(),
                    activity: update,
                    done: None,
                },
            );
        }
    }

    /// Sends a copy of `activity` (a stored message of the customer or of the owning agent) to
    /// the smart-assist bots of `conv`, while an agent owns it.
    pub(crate) fn copy_to_smart_assist(self: &Arc<Self>, conv: &Conversation, activity: &Activity, sender: SenderRole) {
        if conv.state != ConversationState::Active || !matches!(conv.owner, Some(Owner::Agent(_))) {
            return;
        }
        let ws = self.workstream_of(conv);
        if ws.smart_assist.is_empty() || activity.kind != ActivityType::Message {
            return;
        }
        let copy_of = match sender {
            SenderRole::Customer => "customer",
            SenderRole::Agent => "agent",
            _ => return,
        };
        for bot in &ws.smart_assist {
            let Some((user, profile)) = self.bot_user(bot) else {
                continue;
            };
            let mut copy = activity.clone();
            copy.set_channel_data_field("switchboard", json!({"copy": copy_of}));
            if sender == SenderRole::Agent
                && let Some(from) = copy.from.as_mut()
            {
                from.role = Some(RoleType::User);
                from.aad_object_id = Some(from.id.clone());
            }
            self.address_to_bot(&mut copy, conv.id, user, profile);
            self.deliver(
                conv.id,
                Delivery {
                    bot: bot.clone(),
                    activity: copy,
                    done: None,
                },
            );
        }
    }

    /// Stores what a smart-assist bot sent as a suggestion for the agent.
    pub(crate) async fn store_suggestion(
        &self,
        conversation: ConversationId,
        bot: &UserName,
        agent: &UserName,
        activity: &mut Activity,
    ) -> Result<domain::Seq, EngineError> {
        mark_suggestion(activity, agent);
        self.store_activity(
            conversation,
            activity,
            SenderRole::Bot,
            bot.as_str(),
            Visibility::AgentsOnly,
        )
        .await
    }
}

/// Marks what a smart-assist bot sent as a suggestion for `agent`.
pub(crate) fn mark_suggestion(activity: &mut Activity, agent: &UserName) {
    let mut marker = Map::new();
    marker.insert("suggestion".to_owned(), Value::Bool(true));
    marker.insert("for".to_owned(), Value::from(agent.as_str()));
    activity.set_channel_data_field("switchboard", Value::Object(marker));
}

/// What the customer is told when the survey bot cannot be reached.
pub const SURVEY_UNAVAILABLE_NOTICE: &str =
    "Thank you for contacting us. Our feedback survey is not available right now.";

/// The agent as smart-assist bots see them: a person with an `aadObjectId`.
fn agent_account(agent: &UserName, display_name: &str) -> ChannelAccount {
    let mut account = ChannelAccount::new(agent.as_str()).with_name(display_name);
    account.role = Some(RoleType::User);
    account.aad_object_id = Some(agent.to_string());
    account
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(value: Value) -> Activity {
        Activity::event(SURVEY_RESPONSE_EVENT, value)
    }

    #[test]
    fn answers_come_from_the_survey_response_event_or_channel_data() {
        let answers = survey_answers(&event(json!({"csat": 4, "comment": "quick"})))
            .unwrap()
            .unwrap();
        assert_eq!(
            answers,
            vec![
                ("comment".to_owned(), SurveyAnswer::Text("quick".into())),
                ("csat".to_owned(), SurveyAnswer::Number(4)),
            ]
        );
        let mut message = Activity::message("Thanks!");
        message.set_channel_data_field(SURVEY_RESPONSE_KEY, json!({"csat": 5}));
        assert_eq!(
            survey_answers(&message).unwrap().unwrap(),
            vec![("csat".to_owned(), SurveyAnswer::Number(5))]
        );
        assert_eq!(survey_answers(&Activity::message("hello")).unwrap(), None);
        assert_eq!(
            survey_answers(&Activity::event("other", json!({"csat": 1}))).unwrap(),
            None
        );
    }

    #[test]
    fn answers_that_are_not_strings_or_whole_numbers_are_refused_with_the_reason() {
        for (value, expected) in [
            (json!([1]), "must be a JSON object"),
            (json!({"csat": 4.5}), "`csat` is a fractional number"),
            (json!({"ok": true}), "`ok` is a boolean"),
            (json!({"": 1}), "1–100 characters"),
        ] {
            let Err(EngineError::Invalid(message)) = survey_answers(&event(value.clone())) else {
                panic!("{value} was accepted");
            };
            assert!(message.contains(expected), "{value}: {message}");
        }
    }

    #[test]
    fn a_long_text_answer_is_cut() {
        let long = "x".repeat(MAX_ANSWER_CHARS + 10);
        let answers = survey_answers(&event(json!({ "comment": long }))).unwrap().unwrap();
        assert_eq!(answers[0].1, SurveyAnswer::Text("x".repeat(MAX_ANSWER_CHARS)));
    }
}
