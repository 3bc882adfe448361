//! What a customer sends: stored in the conversation's log (durable before anything else
//! happens), then passed to whoever owns the conversation. Channels (Direct Line, later voice)
//! call [`Hub::accept_from_customer`] with an activity they have parsed.

use std::sync::Arc;

use botframework::{Activity, ConversationAccount, validate};
use domain::activity::{SenderRole, Visibility};
use domain::attachment::{Attachment, AttachmentId, ContentType};
use domain::conversation::{ConversationId, Owner};
use domain::{ConversationState, Seq};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::channel::customer_account;
use crate::dispatch::{Delivery, DeliveryError};
use crate::hub::{EngineError, Hub};

/// Where a customer's activity went after it was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerDelivery {
    /// The owning bot took it (answered 2xx).
    Bot,
    /// The owning bot did not take it; the activity is stored all the same.
    BotFailed(DeliveryError),
    /// No bot owns the conversation (it waits in a queue, or a person has it): stored for the
    /// agents.
    Stored,
}

/// The hub's answer to a customer's activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerSent {
    /// The id the hub gave the activity.
    pub id: String,
    pub seq: Seq,
    pub delivery: CustomerDelivery,
}

impl Hub {
    /// Accepts an activity the customer of `conversation` sends. It is validated, given an id
    /// and a timestamp, addressed from the customer (when the channel did not say who sent it)
    /// and appended to the log; then, if a bot owns the conversation, delivered to it. Returns
    /// once the bot answered (or failed to), so a channel can report a bot failure to the
    /// customer's client.
    pub async fn accept_from_customer(
        self: &Arc<Self>,
        conversation: ConversationId,
        mut activity: Activity,
    ) -> Result<CustomerSent, EngineError> {
        validate::validate_from_client(&activity)?;
        let mut customer_ended = false;
        let (id, seq, waiting) = {
            // Held while storing and queueing, so the bot gets messages in the order stored.
            let _changing = self.conversations.lock(conversation).await?;
            let conv = self
                .store()
                .get_conversation(conversation)
                .await?
                .ok_or(EngineError::ConversationNotFound(conversation))?;
            let mut conv = conv;
            if self.survey_overdue(&conv) {
                // Its timeout passed while the hub was down: end it now.
                self.finish_survey(&mut conv, domain::conversation::SurveyEnd::TimedOut)
                    .await?;
            }
            if conv.state == ConversationState::Closed && conv.surveying().is_none() {
                return Err(EngineError::ConversationEnded(conversation));
            }
            let customer = customer_account(&conv);
            // `channelData.switchboard` is the hub's own namespace (notes, suggestions, notices):
            // a customer cannot write in it.
            if let Some(Value::Object(data)) = activity.channel_data.as_mut() {
                data.remove("switchboard");
            }
            if activity.from.as_ref().is_none_or(|from| from.id.is_empty()) {
                activity.from = Some(customer.clone());
            }
            activity.conversation = Some(ConversationAccount::new(conversation.to_string()));
            let sender = activity
                .from
                .as_ref()
                .map_or(customer.id.clone(), |from| from.id.clone());
            let scored = self.score_customer_message(conversation, &activity).await?;
            let seq = self
                .store_scored_activity(
                    conversation,
                    &mut activity,
                    SenderRole::Customer,
                    &sender,
                    Visibility::Everyone,
                    scored.as_ref().map(|(s, _)| *s),
                )
                .await?;
            if let Some((_, pulse)) = scored {
                self.keep_pulse(conversation, pulse);
            }
            let id = activity.id.clone().unwrap_or_default();
            self.customer_active(conversation, crate::now());
            if activity.kind == botframework::ActivityType::EndOfConversation {
                customer_ended = true;
            }
            let bot = match (&conv.state, &conv.owner, conv.surveying()) {
                (_, _, Some(survey_bot)) => Some(survey_bot),
                (ConversationState::Active, Some(Owner::Bot(bot)), _) => Some(bot),
                _ => None,
            };
            if bot.is_none() {
                self.copy_to_smart_assist(&conv, &activity, SenderRole::Customer);
            }
            let waiting = match bot {
                Some(bot) => match self.bot_user(bot) {
                    Some((user, profile)) => {
                        self.address_to_bot(&mut activity, conversation, user, profile);
                        let (done, result) = oneshot::channel();
                        self.deliver(
                            conversation,
                            Delivery {
                                bot: bot.clone(),
                                activity,
                                done: Some(done),
                            },
                        );
                        Some(result)
                    }
                    None => None,
                },
                None => None,
            };
            (id, seq, waiting)
        };
        if customer_ended {
            self.customer_left(conversation, "The customer ended the conversation.", true)
                .await?;
        }
        let delivery = match waiting {
            None => CustomerDelivery::Stored,
            Some(result) => match result.await {
                Ok(Ok(())) => CustomerDelivery::Bot,
                Ok(Err(e)) => CustomerDelivery::BotFailed(e),
                Err(_) => CustomerDelivery::BotFailed(DeliveryError::ShuttingDown),
            },
        };
        Ok(CustomerSent { id, seq, delivery })
    }
}

/// What the customer sees of a conversation's log after a point: the activities, and the
/// position to continue from (the Direct Line watermark).
#[derive(Debug, Clone, Default)]
pub struct CustomerView {
    pub activities: Vec<Activity>,
    /// The seq of the last activity read (shown or not); the same as asked when nothing new.
    pub last: Seq,
}

impl Hub {
    /// The activities of `conversation` after `after` that its customer may see: everything for
    /// everyone except `conversationUpdate` (never sent to Direct Line clients) and, unless
    /// `with_typing`, `typing` (WebSocket only). Reads at most `limit` log entries.
    pub async fn customer_view(
        &self,
        conversation: ConversationId,
        after: Seq,
        limit: u32,
        with_typing: bool,
    ) -> Result<CustomerView, EngineError> {
        let log = self.store().activities_after(conversation, after, limit).await?;
        let last = log.last().map_or(after, |a| a.seq);
        let activities = log
            .iter()
            .filter_map(|stored| customer_sees(stored, with_typing))
            .collect();
        Ok(CustomerView { activities, last })
    }
}

/// The activity as the customer's client gets it, if the customer may see it.
pub fn customer_sees(stored: &domain::activity::StoredActivity, with_typing: bool) -> Option<Activity> {
    let a = &stored.activity;
    if a.visibility != Visibility::Everyone || a.kind == "conversationUpdate" || (a.kind == "typing" && !with_typing) {
        return None;
    }
    let mut activity: Activity = serde_json::from_str(&a.body).ok()?;
    activity.channel_id = Some("directline".to_owned());
    activity.service_url = None;
    activity.recipient = None;
    if let Some(from) = activity.from.as_mut()
        && from.role.is_none()
    {
        from.role = Some(match a.sender_role {
            SenderRole::Customer => botframework::RoleType::User,
            _ => botframework::RoleType::Bot,
        });
    }
    Some(activity)
}

/// A file a customer uploads with a message (Direct Line `upload`).
#[derive(Debug, Clone)]
pub struct CustomerFile {
    pub name: Option<String>,
    /// The declared content type; unusable ones are stored as `application/octet-stream`.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Hub {
    /// Stores the customer's files as attachments of `conversation`, then accepts `activity`
    /// with them attached (each a `contentUrl` under the hub's public URL, which the bot and
    /// the customer's client can fetch), as [`Hub::accept_from_customer`] does.
    pub async fn accept_upload_from_customer(
        self: &Arc<Self>,
        conversation: ConversationId,
        mut activity: Activity,
        files: Vec<CustomerFile>,
    ) -> Result<CustomerSent, EngineError> {
        match self.store().get_conversation(conversation).await? {
            None => return Err(EngineError::ConversationNotFound(conversation)),
            Some(c) if c.state == ConversationState::Closed && c.surveying().is_none() => {
                return Err(EngineError::ConversationEnded(conversation));
            }
            Some(_) => {}
        }
        let base = self.channel().service_url.trim_end_matches('/').to_owned();
        let mut attached = Vec::with_capacity(files.len());
        for file in files {
            if file.bytes.len() > crate::connector_ops::MAX_ATTACHMENT_BYTES {
                return Err(crate::connector_ops::ConnectorRefusal::AttachmentTooLarge {
                    size: file.bytes.len(),
                    max: crate::connector_ops::MAX_ATTACHMENT_BYTES,
                }
                .into());
            }
            let content_type =
                ContentType::parse(file.content_type.clone()).unwrap_or_else(|_| ContentType::octet_stream());
            let id = AttachmentId(uuid::Uuid::new_v4());
            attached.push(botframework::Attachment::from_url(
                content_type.as_str(),
                format!("{base}/v3/attachments/{id}/views/original"),
                file.name.clone(),
            ));
            self.store()
                .insert_attachment(Attachment {
                    id,
                    conversation,
                    name: file.name,
                    content_type,
                    original: file.bytes,
                    thumbnail: None,
                    created_at: crate::now(),
                })
                .await?;
        }
        activity.attachments = Some(attached);
        self.accept_from_customer(conversation, activity).await
    }
}
