//! What a bot sends the hub: a message for the customer, or one of Omnichannel's commands in
//! `channelData.tags` — `Escalate` (merge context, leave, route again) or `EndConversation`
//! (close, resolved by the bot). The HTTP layer's Connector API calls [`Hub::accept_from_bot`]
//! with the activity and who the caller proved to be.
//!
//! A command is for the hub, not the customer: an Escalate's text is the agents' summary, and
//! an EndConversation that carries nothing else (only its tags, see
//! [`omnichannel::has_message_for_customer`]) is kept in the transcript for agents only. An
//! EndConversation with text, attachments or suggested actions delivers them like any message
//! of the bot (bridged only, when the bot requires bridging), then the end.

use botframework::Activity;
use botframework::omnichannel::{self, BotCommand};
use domain::UserName;
use domain::activity::{SenderRole, Visibility};
use domain::assign::WaitReason;
use domain::context::{Context, RawValue};
use domain::conversation::{Conversation, ConversationId, SurveyEnd};
use domain::routing::RoutingCause;
use domain::routing::RoutingDecision;
use domain::user::BotProfile;
use domain::{ConversationState, Seq};
use serde_json::Value;
use std::sync::Arc;

use crate::companions::survey_answers;
use crate::connector_ops::{ActingBot, BotPart, check_content};
use crate::hub::{EngineError, Hub};

/// Who is calling, as far as authentication proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotCaller {
    /// No credentials: allowed only for bots configured without an app id.
    Anonymous,
    /// A token validated for this app id.
    App(String),
}

/// What accepting a bot's activity did.
#[derive(Debug, Clone, PartialEq)]
pub enum BotEffect {
    /// Stored for the customer to see.
    Delivered,
    /// Stored, but only agents see it (not bridged while the bot requires bridging).
    AgentsOnly,
    /// The bot escalated: the activity's text is the agents-only summary, and the conversation
    /// was routed again.
    Escalated {
        decision: RoutingDecision,
        waiting: Option<WaitReason>,
    },
    /// The bot ended the conversation: closed, resolved by the bot.
    Ended,
    /// A smart-assist bot's suggestion, stored for the owning agent only.
    Suggested,
    /// A survey bot's activity (answers, when it carried any, were recorded).
    Survey { answered: bool },
    /// The survey bot ended the survey, and with it the customer's chat.
    SurveyEnded,
}

/// The hub's answer to a bot's activity.
#[derive(Debug, Clone, PartialEq)]
pub struct BotSent {
    /// The id the hub gave the activity (the Connector API's `ResourceResponse.id`).
    pub id: String,
    pub seq: Seq,
    pub effect: BotEffect,
}

impl Hub {
    /// Accepts an activity a bot sends to `conversation`. Checks, in order: the conversation
    /// exists; the sender (`from.id`) is a configured bot whose credentials match `caller`; the
    /// bot owns the conversation; the activity is valid (size, required fields, no
    /// authentication cards); an escalation's context fits the workstream. Nothing is stored or
    /// changed unless every check passes.
    pub async fn accept_from_bot(
        self: &Arc<Self>,
        conversation: ConversationId,
        caller: BotCaller,
        mut activity: Activity,
    ) -> Result<BotSent, EngineError> {
        // Held until the new state is stored, so concurrent changes to this conversation apply in turn.
        let _changing = self.conversations.lock(conversation).await?;
        let from = activity.from.as_ref().map(|f| f.id.clone()).unwrap_or_default();
        let ActingBot {
            conversation: mut conv,
            bot,
            profile,
            part,
            ..
        } = self.acting_bot(conversation, &caller, Some(&from)).await?;
        check_content(&activity)?;
        let command = omnichannel::command(&activity).map_err(|e| EngineError::Unsupported(e.to_string()))?;
        match part {
            BotPart::Owner => {}
            BotPart::Survey if self.survey_overdue(&conv) => {
                // Its timeout passed while the hub was down.
                self.finish_survey(&mut conv, SurveyEnd::TimedOut).await?;
                return Err(EngineError::Forbidden(format!(
                    "the survey of conversation `{conversation}` timed out; bot `{bot}` is no longer in it"
                )));
            }
            BotPart::Survey => {
                return self
                    .accept_from_survey_bot(conv, &bot, profile, command, activity)
                    .await;
            }
            BotPart::SmartAssist { agent } => {
                if command.is_some() {
                    return Err(EngineError::Invalid(format!(
                        "bot `{bot}` assists agents in conversation `{conversation}`: it cannot escalate or end it"
                    )));
                }
                let seq = self.store_suggestion(conversation, &bot, &agent, &mut activity).await?;
                let id = activity.id.clone().unwrap_or_default();
                return Ok(BotSent {
                    id,
                    seq,
                    effect: BotEffect::Suggested,
                });
            }
        }
        let ws = self
            .tenant()
            .workstream(conv.workstream.as_str())
            .expect("a stored conversation names a configured workstream");

        // Everything below changes state; checks that can fail without side effects come first.
        let escalation_context = match &command {
            Some(BotCommand::Escalate { context }) => Some(self.check_context_json(conv.workstream.as_str(), context)?),
            _ => None,
        };
        let now = crate::now();
        let visibility = match &command {
            Some(BotCommand::Escalate { .. }) => Visibility::AgentsOnly,
            // Only tags: a command to the hub, which would reach the customer as an empty message.
            Some(BotCommand::EndConversation) if !omnichannel::has_message_for_customer(&activity) => {
                Visibility::AgentsOnly
            }
            _ if profile.require_bridged && !omnichannel::is_bridged(&activity) => Visibility::AgentsOnly,
            _ => Visibility::Everyone,
        };
        let seq = self
            .store_activity(conversation, &mut activity, SenderRole::Bot, bot.as_str(), visibility)
            .await?;
        let id = activity.id.clone().unwrap_or_default();

        let effect = match (command, escalation_context) {
            (Some(BotCommand::Escalate { .. }), Some(context)) => {
                conv.escalate(&bot, context, now)?;
                let (decision, waiting) = self
                    .route_and_place(
                        &mut conv,
                        ws,
                        ConversationState::Active,
                        RoutingCause::BotEscalated,
                        now,
                    )
                    .await?;
                tracing::info!(conversation.id = %conversation, bot = %bot, queue.name = %decision.queue, "bot escalated");
                metrics::counter!("switchboard_bot_escalations_total", "bot" => bot.to_string()).increment(1);
                BotEffect::Escalated { decision, waiting }
            }
            (Some(BotCommand::EndConversation), _) => {
                conv.end_by_bot(now)?;
                self.store()
                    .update_conversation(&conv, ConversationState::Active)
                    .await?;
                self.work.forget_everywhere(conversation).await;
                self.publish_conversation(&conv);
                let mut end = Activity::new(botframework::ActivityType::EndOfConversation);
                end.code = Some(botframework::EndOfConversationCode::CompletedSuccessfully);
                self.tell_customer(conversation, end).await?;
                tracing::info!(conversation.id = %conversation, bot = %bot, "bot ended the conversation");
                BotEffect::Ended
            }
            _ if visibility == Visibility::AgentsOnly => BotEffect::AgentsOnly,
            _ => BotEffect::Delivered,
        };
        Ok(BotSent { id, seq, effect })
    }

    /// What the survey bot of `conv` sends (the conversation's lock is held): its messages reach
    /// the customer; its answers are recorded; its EndConversation ends the survey. It cannot
    /// escalate.
    async fn accept_from_survey_bot(
        self: &Arc<Self>,
        mut conv: Conversation,
        bot: &UserName,
        profile: &BotProfile,
        command: Option<BotCommand>,
        mut activity: Activity,
    ) -> Result<BotSent, EngineError> {
        if matches!(command, Some(BotCommand::Escalate { .. })) {
            return Err(EngineError::Invalid(format!(
                "bot `{bot}` runs the survey of conversation `{}`, which an agent already handled: a survey bot cannot escalate; end the survey with EndConversation",
                conv.id
            )));
        }
        let answers = survey_answers(&activity)?;
        let now = crate::now();
        let before = conv.state;
        let answered = answers.is_some();
        if let Some(answers) = answers {
            conv.answer_survey(answers, now)
                .map_err(|e| EngineError::Invalid(e.to_string()))?;
        }
        let is_event = activity.kind == botframework::ActivityType::Event;
        let command_only = command.is_some() && !omnichannel::has_message_for_customer(&activity);
        let visibility = if is_event || command_only || (profile.require_bridged && !omnichannel::is_bridged(&activity))
        {
            Visibility::AgentsOnly
        } else {
            Visibility::Everyone
        };
        let seq = self
            .store_activity(conv.id, &mut activity, SenderRole::Bot, bot.as_str(), visibility)
            .await?;
        let id = activity.id.clone().unwrap_or_default();
        if matches!(command, Some(BotCommand::EndConversation)) {
            self.finish_survey(&mut conv, SurveyEnd::Completed).await?;
            return Ok(BotSent {
                id,
                seq,
                effect: BotEffect::SurveyEnded,
            });
        }
        if answered {
            self.store().update_conversation(&conv, before).await?;
            self.publish_conversation(&conv);
        }
        Ok(BotSent {
            id,
            seq,
            effect: BotEffect::Survey { answered },
        })
    }

    /// Checks context variables given as JSON (an Escalate command's context, pre-chat data)
    /// against the workstream: strings and integers only, as Omnichannel documents; every name
    /// must be defined with a matching type.
    pub fn check_context_json(
        &self,
        workstream: &str,
        context: &serde_json::Map<String, Value>,
    ) -> Result<Context, EngineError> {
        let mut values = Vec::with_capacity(context.len());
        for (name, value) in context {
            let raw = match value {
                Value::String(s) => RawValue::Text(s),
                Value::Number(n) if n.is_i64() || n.is_u64() => RawValue::Number(n.as_f64().unwrap_or_default()),
                Value::Number(_) => RawValue::Other("a fractional number (send integers or strings)"),
                Value::Bool(_) => RawValue::Other("a boolean"),
                Value::Null => RawValue::Other("null"),
                Value::Array(_) => RawValue::Other("a list"),
                Value::Object(_) => RawValue::Other("an object"),
            };
            values.push((name.as_str(), raw));
        }
        self.check_context(workstream, values)
    }
}
