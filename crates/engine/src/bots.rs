//! What a bot sends the hub: a message for the customer, or one of Omnichannel's commands in
//! `channelData.tags` — `Escalate` (merge context, leave, route again) or `EndConversation`
//! (close, resolved by the bot). The HTTP layer's Connector API calls [`Hub::accept_from_bot`]
//! with the activity and who the caller proved to be.

use botframework::omnichannel::{self, BotCommand};
use botframework::{Activity, ActivityType, cards, validate};
use domain::activity::{NewActivity, SenderRole, Visibility};
use domain::assign::WaitReason;
use domain::context::{Context, RawValue};
use domain::conversation::{ConversationId, Owner};
use domain::routing::RoutingCause;
use domain::routing::RoutingDecision;
use domain::user::{BotProfile, UserKind};
use domain::{ConversationState, Seq, UserName};
use serde_json::Value;
use std::sync::Arc;

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
        let _changing = self.conversations.lock(conversation).await;
        let mut conv = self
            .store()
            .get_conversation(conversation)
            .await?
            .ok_or(EngineError::ConversationNotFound(conversation))?;
        let bot_name = activity.from.as_ref().map(|f| f.id.clone()).unwrap_or_default();
        let (bot, profile) = self.bot_profile(&bot_name)?;
        match &caller {
            BotCaller::Anonymous if !profile.is_anonymous() => {
                return Err(EngineError::Forbidden(format!(
                    "bot `{bot}` has an app id, so its calls must carry a bearer token"
                )));
            }
            BotCaller::App(app_id) if *app_id != profile.app_id => {
                return Err(EngineError::Forbidden(format!(
                    "the token was issued to app `{app_id}`, not to bot `{bot}`"
                )));
            }
            _ => {}
        }
        if conv.state != ConversationState::Active || conv.owner != Some(Owner::Bot(bot.clone())) {
            return Err(EngineError::Forbidden(format!(
                "bot `{bot}` is not in conversation `{conversation}`"
            )));
        }
        validate::validate_from_bot(&activity)?;
        if let Some(card) = activity
            .attachments
            .iter()
            .flatten()
            .find(|a| cards::is_authentication_card(&a.content_type))
        {
            return Err(EngineError::Unsupported(format!(
                "authentication cards ({}) are not supported on this channel; send a link or ask in text",
                card.content_type
            )));
        }
        let command = omnichannel::command(&activity).map_err(|e| EngineError::Unsupported(e.to_string()))?;
        let ws = self
            .tenant()
            .workstream(conv.workstream.as_str())
            .expect("a stored conversation names a configured workstream");

        // Everything below changes state; checks that can fail without side effects come first.
        let escalation_context = match &command {
            Some(BotCommand::Escalate { context }) => Some(self.escalation_context(conv.workstream.as_str(), context)?),
            _ => None,
        };
        let now = crate::now();
        let id = uuid::Uuid::now_v7().simple().to_string();
        activity.id = Some(id.clone());
        activity.timestamp = Some(botframework::Timestamp::now_utc());
        let visibility = match &command {
            Some(BotCommand::Escalate { .. }) => Visibility::AgentsOnly,
            _ if profile.require_bridged && !omnichannel::is_bridged(&activity) => Visibility::AgentsOnly,
            _ => Visibility::Everyone,
        };
        let body = serde_json::to_string(&activity).map_err(|e| EngineError::Unsupported(e.to_string()))?;
        let appended = self
            .store()
            .append_activity(
                conversation,
                NewActivity {
                    id: id.clone(),
                    kind: activity_kind(&activity.kind),
                    sender_role: SenderRole::Bot,
                    sender_id: bot.to_string(),
                    visibility,
                    timestamp: now,
                    body,
                },
            )
            .await?;

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
                tracing::info!(conversation.id = %conversation, bot = %bot, "bot ended the conversation");
                BotEffect::Ended
            }
            _ if visibility == Visibility::AgentsOnly => BotEffect::AgentsOnly,
            _ => BotEffect::Delivered,
        };
        Ok(BotSent {
            id,
            seq: appended.seq,
            effect,
        })
    }

    fn bot_profile(&self, name: &str) -> Result<(UserName, &BotProfile), EngineError> {
        match self.tenant().user(name).map(|u| (&u.name, &u.kind)) {
            Some((name, UserKind::Bot(profile))) => Ok((name.clone(), profile)),
            _ => Err(EngineError::Forbidden(format!(
                "`{name}` (the activity's from.id) is not a bot of this hub"
            ))),
        }
    }

    /// Checks an Escalate command's context against the workstream: strings and integers only,
    /// as Omnichannel documents; every name must be defined with a matching type.
    fn escalation_context(
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

fn activity_kind(kind: &ActivityType) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "message".to_owned())
}
