//! What the hub tells bots about their conversations: addressing every activity the way the
//! Bot Framework SDKs expect, the two activities a bot gets when a conversation is given to it
//! (`conversationUpdate` with the customer in `membersAdded`, then Omnichannel's
//! `startConversation` event carrying the context variables), and what happens when a bot
//! cannot be reached (the hub escalates on its behalf, reason `bot_unavailable`).

use std::sync::Arc;

use botframework::omnichannel;
use botframework::{Activity, ActivityType, ChannelAccount, ConversationAccount, RoleType};
use domain::activity::{NewActivity, SenderRole, StoredActivity, Visibility};
use domain::context::{Context, ContextValue};
use domain::conversation::{Conversation, Owner, SurveyEnd};
use domain::routing::RoutingCause;
use domain::sentiment::MessageSentiment;
use domain::user::{BotProfile, User, UserKind};
use domain::workstream::{Channel, Workstream};
use domain::{ConversationId, ConversationState, UserName};
use serde_json::{Map, Value};

use crate::dispatch::Delivery;
use crate::hub::{EngineError, Hub};

/// The account the hub itself speaks as (queue messages, transfer notices).
pub const SYSTEM_ACCOUNT_ID: &str = "switchboard";

/// What the customer is told when their bot cannot be reached.
pub const BOT_UNAVAILABLE_NOTICE: &str =
    "Sorry, our virtual assistant is not responding right now. I'm transferring you to a person — please stay with us.";

/// The customer's account on the channel.
pub(crate) fn customer_account(conversation: &Conversation) -> ChannelAccount {
    let id = if conversation.customer.id.is_empty() {
        format!("customer-{}", conversation.id)
    } else {
        conversation.customer.id.clone()
    };
    let account = ChannelAccount::new(id).with_role(RoleType::User);
    match &conversation.customer.name {
        Some(name) => account.with_name(name),
        None => account,
    }
}

/// A bot's account on the channel: its handle as the id (the Connector API knows it by that),
/// its display name as the name.
pub(crate) fn bot_account(bot: &User) -> ChannelAccount {
    ChannelAccount::new(bot.name.as_str())
        .with_name(bot.display_name.as_str())
        .with_role(RoleType::Bot)
}

/// The context variables as JSON, numbers that are whole written as integers (Omnichannel
/// documents context values as strings or integers).
pub(crate) fn context_json(context: &Context) -> Map<String, Value> {
    context
        .iter()
        .map(|(name, value)| {
            let json = match value {
                ContextValue::Text(text) => Value::from(text.as_str()),
                ContextValue::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Value::from(*n as i64),
                ContextValue::Number(n) => Value::from(*n),
            };
            (name.as_str().to_owned(), json)
        })
        .collect()
}

/// How an activity goes into the log: who sent it, who may see it, and its sentiment score
/// (customer messages).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Logged<'a> {
    pub sender_role: SenderRole,
    pub sender_id: &'a str,
    pub visibility: Visibility,
    pub sentiment: Option<MessageSentiment>,
}

impl Hub {
    /// Fills in what a bot needs on every activity it receives: `serviceUrl`, its `channelId`,
    /// the conversation, itself as the recipient, and a `locale` when the sender gave none.
    pub(crate) fn address_to_bot(
        &self,
        activity: &mut Activity,
        conversation: ConversationId,
        bot: &User,
        profile: &BotProfile,
    ) {
        if activity.locale.is_none() {
            activity.locale = Some(self.channel().default_locale.clone());
        }
        activity.service_url = Some(self.channel().service_url.clone());
        activity.channel_id = Some(profile.channel_id.clone());
        activity.conversation = Some(ConversationAccount::new(conversation.to_string()));
        activity.recipient = Some(bot_account(bot));
    }

    /// The bot user named `bot`, with its profile.
    pub(crate) fn bot_user(&self, bot: &UserName) -> Option<(&User, &BotProfile)> {
        let user = self.tenant().user(bot.as_str())?;
        match &user.kind {
            UserKind::Bot(profile) => Some((user, profile)),
            UserKind::Human { .. } => None,
        }
    }

    /// Stores and delivers, in this order, the `conversationUpdate` that adds the customer and
    /// the `startConversation` event with the context, for a bot that was just given
    /// `conversation`. Both are kept in the transcript for agents only.
    pub(crate) async fn bot_joined(
        self: &Arc<Self>,
        conversation: &Conversation,
        ws: &Workstream,
        bot: &UserName,
    ) -> Result<(), EngineError> {
        self.bot_joined_with(conversation, ws, bot, None).await
    }

    /// [`bot_joined`](Self::bot_joined), with one more entry in the context event's value (a
    /// survey bot learns it is surveying that way).
    pub(crate) async fn bot_joined_with(
        self: &Arc<Self>,
        conversation: &Conversation,
        ws: &Workstream,
        bot: &UserName,
        extra: Option<(&str, Value)>,
    ) -> Result<(), EngineError> {
        let Some((user, profile)) = self.bot_user(bot) else {
            return Err(EngineError::UnknownUser(bot.to_string()));
        };
        let customer = customer_account(conversation);
        let mut update = Activity::new(ActivityType::ConversationUpdate);
        update.members_added = Some(vec![bot_account(user), customer.clone()]);
        if ws.channel == Channel::Voice {
            update.channel_data = Some(self.voice_context(conversation));
        }
        let mut context = context_json(&conversation.context);
        context.insert(
            "msdyn_liveworkitemid".to_owned(),
            Value::from(conversation.id.to_string()),
        );
        if let Some((key, value)) = extra {
            context.insert(key.to_owned(), value);
        }
        let event = omnichannel::start_conversation_event(ws.channel.as_str(), context);
        for mut activity in [update, event] {
            activity.from = Some(customer.clone());
            self.address_to_bot(&mut activity, conversation.id, user, profile);
            self.store_activity(
                conversation.id,
                &mut activity,
                SenderRole::System,
                SYSTEM_ACCOUNT_ID,
                Visibility::AgentsOnly,
            )
            .await?;
            self.deliver(
                conversation.id,
                Delivery {
                    bot: bot.clone(),
                    activity,
                    done: None,
                },
            );
        }
        Ok(())
    }

    /// Omnichannel's voice context, as a call's `conversationUpdate` carries it in
    /// `channelData`: the synthesis voice per locale, the caller's and the dialled number, and
    /// the work item (the conversation id).
    fn voice_context(&self, conversation: &Conversation) -> Value {
        let number = |name: &str| {
            conversation
                .context
                .iter()
                .find(|(n, _)| n.as_str() == name)
                .map(|(_, v)| match v {
                    ContextValue::Text(t) => Value::from(t.as_str()),
                    ContextValue::Number(n) => Value::from(n.to_string()),
                })
                .unwrap_or(Value::Null)
        };
        let mut voices = Map::new();
        voices.insert(
            self.channel().default_locale.clone(),
            serde_json::json!({
                "voiceName": self.channel().voice_name,
                "voiceStyle": "",
                "pitch": 0,
                "speakingSpeed": 0,
            }),
        );
        serde_json::json!({
            omnichannel::VOICE_DATA_KEY: {
                "voices": voices,
                "customerPhoneNumber": number(omnichannel::CUSTOMER_PHONE_NUMBER),
                "organizationPhoneNumber": number(omnichannel::ORGANIZATION_PHONE_NUMBER),
                "msdyn_ocliveworkitemid": conversation.id.to_string(),
            }
        })
    }

    /// Gives `activity` a fresh id and the current time, appends it to the conversation's log
    /// and publishes it to the conversation's watchers. Returns its seq.
    pub(crate) async fn store_activity(
        &self,
        conversation: ConversationId,
        activity: &mut Activity,
        sender_role: SenderRole,
        sender_id: &str,
        visibility: Visibility,
    ) -> Result<domain::Seq, EngineError> {
        self.store_scored_activity(conversation, activity, sender_role, sender_id, visibility, None)
            .await
    }

    /// [`store_activity`](Self::store_activity) for a customer message that was scored.
    pub(crate) async fn store_scored_activity(
        &self,
        conversation: ConversationId,
        activity: &mut Activity,
        sender_role: SenderRole,
        sender_id: &str,
        visibility: Visibility,
        sentiment: Option<MessageSentiment>,
    ) -> Result<domain::Seq, EngineError> {
        let id = uuid::Uuid::now_v7().simple().to_string();
        activity.id = Some(id.clone());
        activity.timestamp = Some(botframework::Timestamp::now_utc());
        let appended = self
            .append_logged(
                conversation,
                id,
                activity,
                Logged {
                    sender_role,
                    sender_id,
                    visibility,
                    sentiment,
                },
            )
            .await?;
        Ok(appended.seq)
    }

    /// Appends `activity` to the log under `log_id` and publishes it to the conversation's
    /// watchers (unless it was already stored). Every activity the hub stores goes through here.
    pub(crate) async fn append_logged(
        &self,
        conversation: ConversationId,
        log_id: String,
        activity: &Activity,
        logged: Logged<'_>,
    ) -> Result<store::Appended, EngineError> {
        let Logged {
            sender_role,
            sender_id,
            visibility,
            sentiment,
        } = logged;
        let body = serde_json::to_string(activity).map_err(|e| EngineError::Unsupported(e.to_string()))?;
        let new = NewActivity {
            id: log_id,
            kind: activity.kind.as_str().to_owned(),
            sender_role,
            sender_id: sender_id.to_owned(),
            visibility,
            timestamp: crate::now(),
            body,
            sentiment,
        };
        let appended = self.store().append_activity(conversation, new.clone()).await?;
        if !appended.duplicate {
            let stored = std::sync::Arc::new(StoredActivity {
                seq: appended.seq,
                activity: new,
            });
            self.publish_stored(conversation, stored);
        }
        Ok(appended)
    }

    /// Stores `activity` as the hub's own, for the customer (and everyone) to see: a notice, the
    /// queue position, the end of the conversation.
    pub(crate) async fn tell_customer(
        &self,
        conversation: ConversationId,
        mut activity: Activity,
    ) -> Result<domain::Seq, EngineError> {
        self.tell_customer_in_place(conversation, &mut activity).await
    }

    /// [`tell_customer`](Self::tell_customer), leaving the activity as stored (with its id) in
    /// `activity`, for a copy to go to a bot too.
    pub(crate) async fn tell_customer_in_place(
        &self,
        conversation: ConversationId,
        activity: &mut Activity,
    ) -> Result<domain::Seq, EngineError> {
        activity.from = Some(
            ChannelAccount::new(SYSTEM_ACCOUNT_ID)
                .with_name("Switchboard")
                .with_role(RoleType::Bot),
        );
        activity.conversation = Some(ConversationAccount::new(conversation.to_string()));
        self.store_activity(
            conversation,
            activity,
            SenderRole::System,
            SYSTEM_ACCOUNT_ID,
            Visibility::Everyone,
        )
        .await
    }

    /// Tells the customer of a conversation that just started waiting in `queue` how many
    /// conversations wait there before theirs (oldest first).
    pub(crate) async fn tell_queue_position(
        &self,
        conversation: &Conversation,
        queue: &domain::QueueName,
    ) -> Result<(), EngineError> {
        let waiting = self
            .store()
            .list_conversations(
                &store::ConversationFilter::all()
                    .queue(queue.clone())
                    .state(ConversationState::Waiting),
            )
            .await?;
        let ahead = waiting
            .iter()
            .filter(|c| (c.created_at, c.id) < (conversation.created_at, conversation.id))
            .count();
        self.tell_customer(conversation.id, Activity::message(queue_position_text(ahead)))
            .await?;
        Ok(())
    }

    /// `bot` could not be reached for `conversation`: if it still owns it, the customer is told
    /// they are being transferred and the conversation is escalated without the bot — the
    /// workstream's rules run again with the bot excluded, and the routing record says
    /// `bot_unavailable`.
    pub(crate) async fn bot_unavailable(
        self: &Arc<Self>,
        conversation: ConversationId,
        bot: &UserName,
    ) -> Result<(), EngineError> {
        let _changing = self.conversations.lock(conversation).await?;
        let Some(mut conv) = self.store().get_conversation(conversation).await? else {
            return Err(EngineError::ConversationNotFound(conversation));
        };
        if conv.surveying() == Some(bot) {
            return self.finish_survey(&mut conv, SurveyEnd::BotUnavailable).await;
        }
        if conv.state != ConversationState::Active || conv.owner != Some(Owner::Bot(bot.clone())) {
            return Ok(());
        }
        self.tell_customer(conversation, Activity::message(BOT_UNAVAILABLE_NOTICE))
            .await?;
        let ws = self
            .tenant()
            .workstream(conv.workstream.as_str())
            .expect("a stored conversation names a configured workstream");
        let now = crate::now();
        conv.escalate(bot, Context::new(), now)?;
        let (decision, _) = self
            .route_and_place(
                &mut conv,
                ws,
                ConversationState::Active,
                RoutingCause::BotUnavailable,
                now,
            )
            .await?;
        metrics::counter!("switchboard_bot_outage_escalations_total", "bot" => bot.to_string()).increment(1);
        tracing::info!(conversation.id = %conversation, bot = %bot, queue.name = %decision.queue, "escalated away from an unavailable bot");
        Ok(())
    }
}

/// What a waiting customer is told about their place in the queue.
pub fn queue_position_text(ahead: usize) -> String {
    match ahead {
        0 => "You're next in line. An agent will be with you shortly.".to_owned(),
        n => format!("People ahead of you: {n}. An agent will be with you as soon as possible."),
    }
}
