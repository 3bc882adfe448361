//! The Connector API v3 operations a bot calls besides sending (which is `bots.rs`): updating and
//! deleting its activities, listing the conversation's members, and uploading attachments.
//!
//! Every operation on a conversation first proves, with [`Hub::acting_bot`], that the caller is
//! the bot that owns it — the same check [`Hub::accept_from_bot`] makes — and refuses before
//! storing anything.
//!
//! The log is append-only (Direct Line clients read it by watermark), so changing an activity
//! appends a new entry that points at the original; the original is never rewritten:
//!
//! - **update**: stored under the log id `<activityId>~<uuid>`, with a body whose `id` is still
//!   `activityId` and whose `timestamp` is the original's. Web Chat replaces the activity it shows
//!   with one that has the same id, and sorts by timestamp, so the message changes in place.
//! - **delete**: stored under the log id `<activityId>~deleted`, with the body
//!   `{"type":"messageDelete","id":"<activityId>","timestamp":…,"from":<the bot>,
//!   "conversation":{"id":…}}` — the shape of the `messageDelete` activities Teams sends, whose `id`
//!   names the deleted message. Web Chat replaces the message with it and renders nothing. The
//!   fixed log id makes a repeated delete store nothing (the store is idempotent on ids).
//!
//! `~` never occurs in an id the hub gives an activity (32 hex digits), so an id with one is never
//! an original. A deleted activity can no longer be updated.
//!
//! Attachments are stored whole in the store, capped at [`MAX_ATTACHMENT_BYTES`]. They are read by
//! id alone: the URL a bot puts in an activity (`…/v3/attachments/{id}/views/original`) is
//! fetched by the customer's browser, which has no credentials; the random id is the capability.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use botframework::connector::{AttachmentData, AttachmentInfo, AttachmentView, PagedMembersResult};
use botframework::omnichannel;
use botframework::{Activity, ActivityType, ChannelAccount, ConversationAccount, cards, validate};
use domain::activity::{SenderRole, StoredActivity, Visibility};
use domain::attachment::{Attachment, AttachmentId, ContentType, View, ViewContent, sniff_image_type};
use domain::conversation::{Conversation, ConversationId, Owner};
use domain::user::{BotProfile, User, UserKind};
use domain::{ConversationState, UserName};
use store::Appended;

use crate::bots::BotCaller;
use crate::channel::{bot_account, customer_account};
use crate::hub::{EngineError, Hub};

/// The most bytes an upload may hold, original and thumbnail together, once decoded.
pub const MAX_ATTACHMENT_BYTES: usize = 4 * 1024 * 1024;

/// The longest attachment file name accepted, in characters.
const MAX_NAME_CHARS: usize = 1024;

/// Members per page of `pagedmembers` when the bot does not say.
const DEFAULT_PAGE_SIZE: usize = 100;

/// What a bot's Connector call can be refused for beyond what every hub operation can.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorRefusal {
    /// No activity with this id in the conversation (or not one the bot can change).
    #[error("activity `{activity}` does not exist in conversation `{conversation}`")]
    ActivityNotFound {
        conversation: ConversationId,
        activity: String,
    },
    /// The activity was deleted; it cannot be updated any more.
    #[error("activity `{activity}` of conversation `{conversation}` was deleted")]
    ActivityDeleted {
        conversation: ConversationId,
        activity: String,
    },
    /// No member with this id in the conversation.
    #[error("`{member}` is not a member of conversation `{conversation}`")]
    MemberNotFound {
        conversation: ConversationId,
        member: String,
    },
    /// No attachment with this id.
    #[error("attachment `{0}` does not exist")]
    AttachmentNotFound(AttachmentId),
    /// The attachment exists but has no such view (no thumbnail was uploaded).
    #[error("attachment `{attachment}` has no {view} view")]
    ViewNotFound { attachment: AttachmentId, view: View },
    /// The upload is over [`MAX_ATTACHMENT_BYTES`].
    #[error("the attachment is {size} bytes (original and thumbnail, decoded); the limit is {max} bytes")]
    AttachmentTooLarge { size: usize, max: usize },
    /// A field or parameter is unusable.
    #[error("{0}")]
    BadArgument(String),
}

/// The bot a Connector call acts as: configured, with credentials matching the caller, and in
/// the conversation.
#[derive(Debug)]
pub(crate) struct ActingBot<'h> {
    /// The conversation as stored when the check was made.
    pub conversation: Conversation,
    pub bot: UserName,
    pub user: &'h User,
    pub profile: &'h BotProfile,
    /// What the bot is to the conversation.
    pub part: BotPart,
}

/// How a bot takes part in a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BotPart {
    /// It owns the conversation (routing gave it the bot).
    Owner,
    /// It runs the conversation's post-conversation survey.
    Survey,
    /// It is a smart-assist bot of the workstream, and this agent owns the conversation.
    SmartAssist { agent: UserName },
}

impl Hub {
    /// Proves that `caller` may act as a bot in `conversation`. Checks, in order: the
    /// conversation exists; the bot — `claimed` (an activity's `from.id`) when there is one,
    /// otherwise the conversation's owner — is a configured bot; the caller's credentials are
    /// that bot's (anonymous only for a bot without an app id, otherwise a token issued to its
    /// app id); and the bot owns the conversation, which is active. Hold the conversation's lock
    /// around the check and what it guards when the guarded step changes the conversation.
    pub(crate) async fn acting_bot(
        &self,
        conversation: ConversationId,
        caller: &BotCaller,
        claimed: Option<&str>,
    ) -> Result<ActingBot<'_>, EngineError> {
        let conv = self
            .store()
            .get_conversation(conversation)
            .await?
            .ok_or(EngineError::ConversationNotFound(conversation))?;
        let name = match (claimed, &conv.owner) {
            (Some(name), _) => name.to_owned(),
            (None, Some(Owner::Bot(bot))) if conv.state == ConversationState::Active => bot.to_string(),
            (None, _) if conv.surveying().is_some() => conv.surveying().map(ToString::to_string).unwrap_or_default(),
            (None, _) => {
                return Err(EngineError::Forbidden(format!(
                    "no bot is in conversation `{conversation}`"
                )));
            }
        };
        let bot_user = self.tenant().user(&name).and_then(|user| match &user.kind {
            UserKind::Bot(profile) => Some((user, profile)),
            UserKind::Human { .. } => None,
        });
        let Some((user, profile)) = bot_user else {
            return Err(EngineError::Forbidden(format!(
                "`{name}` (the activity's from.id) is not a bot of this hub"
            )));
        };
        let bot = user.name.clone();
        match caller {
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
        let part = match (&conv.state, &conv.owner) {
            (ConversationState::Active, Some(Owner::Bot(owner))) if *owner == bot => BotPart::Owner,
            _ if conv.surveying() == Some(&bot) => BotPart::Survey,
            (ConversationState::Active, Some(Owner::Agent(agent)))
                if self
                    .tenant()
                    .workstream(conv.workstream.as_str())
                    .is_some_and(|ws| ws.smart_assist.contains(&bot)) =>
            {
                BotPart::SmartAssist { agent: agent.clone() }
            }
            _ => {
                return Err(EngineError::Forbidden(format!(
                    "bot `{bot}` is not in conversation `{conversation}`"
                )));
            }
        };
        Ok(ActingBot {
            conversation: conv,
            bot,
            user,
            profile,
            part,
        })
    }

    /// Replaces what the customer sees of activity `activity_id`, which the calling bot sent,
    /// with `activity` (UpdateActivity). The update is appended to the log (see the module
    /// documentation) and the id is returned. Only messages can be updated, the update is
    /// checked like a new activity, and it may not carry an Omnichannel command. An activity
    /// only agents could see stays so.
    pub async fn update_activity(
        &self,
        conversation: ConversationId,
        caller: BotCaller,
        activity_id: &str,
        mut activity: Activity,
    ) -> Result<String, EngineError> {
        // Held until the update is stored, so it cannot cross an escalation or a delete.
        let _changing = self.conversations.lock(conversation).await?;
        let claimed = activity.from.as_ref().map(|f| f.id.clone());
        let acting = self.acting_bot(conversation, &caller, claimed.as_deref()).await?;
        let (original, deleted) = self.own_activity(&acting, activity_id).await?;
        if deleted {
            return Err(ConnectorRefusal::ActivityDeleted {
                conversation,
                activity: activity_id.to_owned(),
            }
            .into());
        }
        check_content(&activity)?;
        if omnichannel::command(&activity).ok().flatten().is_some() {
            return Err(bad_argument(
                "an update cannot carry a command (channelData.tags); send the command as a new activity",
            ));
        }
        if activity.kind != ActivityType::Message || original.activity.kind != ActivityType::Message.as_str() {
            return Err(bad_argument("only messages can be updated"));
        }
        let visibility = match original.activity.visibility {
            Visibility::AgentsOnly => Visibility::AgentsOnly,
            Visibility::Everyone if acting.profile.require_bridged && !omnichannel::is_bridged(&activity) => {
                Visibility::AgentsOnly
            }
            Visibility::Everyone => Visibility::Everyone,
        };
        let first: Option<Activity> = serde_json::from_str(&original.activity.body).ok();
        activity.id = Some(activity_id.to_owned());
        activity.timestamp = first
            .and_then(|a| a.timestamp)
            .or_else(|| Some(botframework::Timestamp::now_utc()));
        if let BotPart::SmartAssist { agent } = &acting.part {
            // An updated suggestion is still a suggestion.
            crate::companions::mark_suggestion(&mut activity, agent);
        }
        let log_id = format!("{activity_id}~{}", uuid::Uuid::now_v7().simple());
        self.append_and_publish(conversation, &acting, log_id, &activity, visibility)
            .await?;
        tracing::info!(conversation.id = %conversation, bot = %acting.bot, activity.id = activity_id, "bot updated an activity");
        Ok(activity_id.to_owned())
    }

    /// Deletes activity `activity_id`, which the calling bot sent (DeleteActivity), by appending
    /// a `messageDelete` activity that names it (see the module documentation). Deleting an
    /// activity already deleted succeeds and stores nothing more.
    pub async fn delete_activity(
        &self,
        conversation: ConversationId,
        caller: BotCaller,
        activity_id: &str,
    ) -> Result<(), EngineError> {
        let _changing = self.conversations.lock(conversation).await?;
        let acting = self.acting_bot(conversation, &caller, None).await?;
        let (original, deleted) = self.own_activity(&acting, activity_id).await?;
        if deleted {
            return Ok(());
        }
        let mut delete = Activity::new(ActivityType::MessageDelete);
        delete.id = Some(activity_id.to_owned());
        delete.timestamp = Some(botframework::Timestamp::now_utc());
        delete.from = Some(bot_account(acting.user));
        delete.conversation = Some(ConversationAccount::new(conversation.to_string()));
        self.append_and_publish(
            conversation,
            &acting,
            deleted_log_id(activity_id),
            &delete,
            original.activity.visibility,
        )
        .await?;
        tracing::info!(conversation.id = %conversation, bot = %acting.bot, activity.id = activity_id, "bot deleted an activity");
        Ok(())
    }

    /// The members of `conversation` as the hub addresses them to its bot: the bot, then the
    /// customer (GetConversationMembers). Conversations are one-to-one.
    pub async fn conversation_members(
        &self,
        conversation: ConversationId,
        caller: BotCaller,
    ) -> Result<Vec<ChannelAccount>, EngineError> {
        let acting = self.acting_bot(conversation, &caller, None).await?;
        Ok(members(&acting))
    }

    /// The member of `conversation` whose account id is `member_id` (GetConversationMember).
    pub async fn conversation_member(
        &self,
        conversation: ConversationId,
        caller: BotCaller,
        member_id: &str,
    ) -> Result<ChannelAccount, EngineError> {
        let acting = self.acting_bot(conversation, &caller, None).await?;
        members(&acting).into_iter().find(|m| m.id == member_id).ok_or_else(|| {
            ConnectorRefusal::MemberNotFound {
                conversation,
                member: member_id.to_owned(),
            }
            .into()
        })
    }

    /// One page of the members (GetConversationPagedMembers): `page_size` of them (100 when not
    /// given) from where `continuation_token` — a token an earlier page returned — left off.
    pub async fn paged_members(
        &self,
        conversation: ConversationId,
        caller: BotCaller,
        page_size: Option<u32>,
        continuation_token: Option<&str>,
    ) -> Result<PagedMembersResult, EngineError> {
        let acting = self.acting_bot(conversation, &caller, None).await?;
        Ok(page(members(&acting), page_size, continuation_token)?)
    }

    /// The members an activity of `conversation` was addressed to (GetActivityMembers): in a
    /// one-to-one conversation, its members.
    pub async fn activity_members(
        &self,
        conversation: ConversationId,
        caller: BotCaller,
        activity_id: &str,
    ) -> Result<Vec<ChannelAccount>, EngineError> {
        let acting = self.acting_bot(conversation, &caller, None).await?;
        self.original_activity(conversation, activity_id).await?;
        Ok(members(&acting))
    }

    /// Stores a file the calling bot uploads to `conversation` (UploadAttachment) and returns
    /// its id. `originalBase64` is required; the type defaults to `application/octet-stream`;
    /// original and thumbnail together may hold [`MAX_ATTACHMENT_BYTES`] once decoded.
    pub async fn upload_attachment(
        &self,
        conversation: ConversationId,
        caller: BotCaller,
        data: AttachmentData,
    ) -> Result<AttachmentId, EngineError> {
        let acting = self.acting_bot(conversation, &caller, None).await?;
        let attachment = parse_upload(conversation, data, AttachmentId(uuid::Uuid::new_v4()), crate::now())?;
        let (id, bytes) = (attachment.id, attachment.original.len());
        self.store().insert_attachment(attachment).await?;
        tracing::info!(
            conversation.id = %conversation,
            bot = %acting.bot,
            attachment.id = %id,
            attachment.bytes = bytes,
            "bot uploaded an attachment"
        );
        Ok(id)
    }

    /// An attachment's name, type and views with their sizes (GetAttachmentInfo).
    pub async fn attachment_info(&self, id: AttachmentId) -> Result<AttachmentInfo, EngineError> {
        let summary = self
            .store()
            .attachment_summary(id)
            .await?
            .ok_or(ConnectorRefusal::AttachmentNotFound(id))?;
        Ok(AttachmentInfo {
            name: summary.name.clone().unwrap_or_default(),
            content_type: summary.content_type.to_string(),
            views: summary
                .views()
                .into_iter()
                .map(|(view, size)| AttachmentView {
                    view_id: view.as_str().to_owned(),
                    size,
                })
                .collect(),
        })
    }

    /// The bytes of one view of an attachment, with their type (GetAttachment): the declared
    /// type for the original; for a thumbnail, the image type its bytes announce, else
    /// `application/octet-stream`.
    pub async fn attachment_view(&self, id: AttachmentId, view: View) -> Result<ViewContent, EngineError> {
        let mut content = match self.store().attachment_view(id, view).await? {
            Some(content) => content,
            None if view == View::Thumbnail && self.store().attachment_summary(id).await?.is_some() => {
                return Err(ConnectorRefusal::ViewNotFound { attachment: id, view }.into());
            }
            None => return Err(ConnectorRefusal::AttachmentNotFound(id).into()),
        };
        if view == View::Thumbnail {
            content.content_type = sniff_image_type(&content.bytes).unwrap_or_else(ContentType::octet_stream);
        }
        Ok(content)
    }

    /// The stored original of `activity_id` (not an update or delete entry), if the bot in
    /// `acting` sent it, and whether it has been deleted.
    async fn own_activity(
        &self,
        acting: &ActingBot<'_>,
        activity_id: &str,
    ) -> Result<(StoredActivity, bool), EngineError> {
        let conversation = acting.conversation.id;
        let original = self.original_activity(conversation, activity_id).await?;
        if original.activity.sender_role != SenderRole::Bot || original.activity.sender_id != acting.bot.as_str() {
            return Err(EngineError::Forbidden(format!(
                "activity `{activity_id}` was not sent by bot `{}`; a bot may only change its own activities",
                acting.bot
            )));
        }
        let deleted = self
            .store()
            .activity(conversation, &deleted_log_id(activity_id))
            .await?
            .is_some();
        Ok((original, deleted))
    }

    /// The stored original of `activity_id` in `conversation`.
    async fn original_activity(
        &self,
        conversation: ConversationId,
        activity_id: &str,
    ) -> Result<StoredActivity, EngineError> {
        let not_found = || ConnectorRefusal::ActivityNotFound {
            conversation,
            activity: activity_id.to_owned(),
        };
        if activity_id.contains('~') {
            return Err(not_found().into());
        }
        Ok(self
            .store()
            .activity(conversation, activity_id)
            .await?
            .ok_or_else(not_found)?)
    }

    /// Appends `activity` from the acting bot to the log under `log_id` — an id of its own, not
    /// the body's.
    async fn append_and_publish(
        &self,
        conversation: ConversationId,
        acting: &ActingBot<'_>,
        log_id: String,
        activity: &Activity,
        visibility: Visibility,
    ) -> Result<Appended, EngineError> {
        self.append_logged(
            conversation,
            log_id,
            activity,
            crate::channel::Logged {
                sender_role: SenderRole::Bot,
                sender_id: acting.bot.as_str(),
                visibility,
                sentiment: None,
            },
        )
        .await
    }
}

/// What an activity from a bot must be, whether new or an update: valid (size, required
/// fields, a well-formed command), and without an authentication card, which this channel
/// cannot complete.
pub(crate) fn check_content(activity: &Activity) -> Result<(), EngineError> {
    validate::validate_from_bot(activity)?;
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
    Ok(())
}

/// The log id of the `messageDelete` entry for `activity_id`.
fn deleted_log_id(activity_id: &str) -> String {
    format!("{activity_id}~deleted")
}

fn bad_argument(message: impl Into<String>) -> EngineError {
    ConnectorRefusal::BadArgument(message.into()).into()
}

/// The acting bot and the customer, as the hub addresses them in activities.
fn members(acting: &ActingBot<'_>) -> Vec<ChannelAccount> {
    vec![bot_account(acting.user), customer_account(&acting.conversation)]
}

/// One page of `members`. The continuation token is the position of the page's first member,
/// in decimal; it is absent on the last page.
fn page(
    members: Vec<ChannelAccount>,
    page_size: Option<u32>,
    continuation_token: Option<&str>,
) -> Result<PagedMembersResult, ConnectorRefusal> {
    let start = match continuation_token.filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => token
            .parse::<usize>()
            .ok()
            .filter(|start| *start <= members.len())
            .ok_or_else(|| {
                ConnectorRefusal::BadArgument(format!(
                    "`{token}` is not a continuation token of this conversation's members; pass the one the previous page returned"
                ))
            })?,
    };
    let size = match page_size {
        None | Some(0) => DEFAULT_PAGE_SIZE,
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    let end = start.saturating_add(size).min(members.len());
    Ok(PagedMembersResult {
        continuation_token: (end < members.len()).then(|| end.to_string()),
        members: members.into_iter().skip(start).take(end - start).collect(),
    })
}

/// Base64 as the SDKs send it (standard alphabet; padding optional, as some encoders omit it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// The URL-safe alphabet, which some encoders use for "base64" byte fields.
const BASE64_URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn decode_base64(field: &str, text: &str) -> Result<Vec<u8>, ConnectorRefusal> {
    BASE64
        .decode(text)
        .or_else(|_| BASE64_URL.decode(text))
        .map_err(|e| ConnectorRefusal::BadArgument(format!("`{field}` is not base64: {e}")))
}

/// The attachment an UploadAttachment body describes, checked: the content decodes, fits the
/// limit, and the type and name can be stored and served back.
fn parse_upload(
    conversation: ConversationId,
    data: AttachmentData,
    id: AttachmentId,
    now: domain::Timestamp,
) -> Result<Attachment, ConnectorRefusal> {
    let too_large = |size| ConnectorRefusal::AttachmentTooLarge {
        size,
        max: MAX_ATTACHMENT_BYTES,
    };
    let encoded =
        data.original_base64.as_deref().map_or(0, str::len) + data.thumbnail_base64.as_deref().map_or(0, str::len);
    // Refuse what cannot fit before decoding it: base64 takes 4 characters for every 3 bytes.
    if encoded / 4 * 3 > MAX_ATTACHMENT_BYTES + 6 {
        return Err(too_large(encoded / 4 * 3));
    }
    let original = match data.original_base64.as_deref() {
        Some(text) => decode_base64("originalBase64", text)?,
        None => {
            return Err(ConnectorRefusal::BadArgument(
                "`originalBase64` is required: the file's bytes, base64-encoded".into(),
            ));
        }
    };
    let thumbnail = data
        .thumbnail_base64
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(|t| decode_base64("thumbnailBase64", t))
        .transpose()?;
    let size = original.len() + thumbnail.as_ref().map_or(0, Vec::len);
    if size > MAX_ATTACHMENT_BYTES {
        return Err(too_large(size));
    }
    let content_type = match data.content_type.filter(|t| !t.trim().is_empty()) {
        Some(text) => ContentType::parse(text).map_err(|e| ConnectorRefusal::BadArgument(format!("`type`: {e}")))?,
        None => ContentType::octet_stream(),
    };
    let name = data.name.filter(|n| !n.is_empty());
    if let Some(name) = &name
        && (name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control))
    {
        return Err(ConnectorRefusal::BadArgument(format!(
            "`name` must be at most {MAX_NAME_CHARS} characters without control characters"
        )));
    }
    Ok(Attachment {
        id,
        conversation,
        name,
        content_type,
        original,
        thumbnail,
        created_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts(n: usize) -> Vec<ChannelAccount> {
        (0..n).map(|i| ChannelAccount::new(format!("m{i}"))).collect()
    }

    fn ids(page: &PagedMembersResult) -> Vec<&str> {
        page.members.iter().map(|m| m.id.as_str()).collect()
    }

    #[test]
    fn members_come_in_pages_whose_token_leads_to_the_next_until_the_last() {
        let first = page(accounts(5), Some(2), None).unwrap();
        assert_eq!(ids(&first), ["m0", "m1"]);
        let second = page(accounts(5), Some(2), first.continuation_token.as_deref()).unwrap();
        assert_eq!(ids(&second), ["m2", "m3"]);
        let last = page(accounts(5), Some(2), second.continuation_token.as_deref()).unwrap();
        assert_eq!(ids(&last), ["m4"]);
        assert_eq!(last.continuation_token, None);
    }

    #[test]
    fn without_a_page_size_every_member_fits_one_page() {
        for size in [None, Some(0), Some(u32::MAX)] {
            let all = page(accounts(2), size, None).unwrap();
            assert_eq!(ids(&all), ["m0", "m1"]);
            assert_eq!(all.continuation_token, None);
        }
        assert_eq!(
            page(accounts(2), None, Some("")).unwrap().members.len(),
            2,
            "an empty token is no token"
        );
    }

    #[test]
    fn a_token_that_no_page_returned_is_a_bad_argument() {
        for token in ["x", "-1", "3", "99999999999999999999999"] {
            assert!(
                matches!(
                    page(accounts(2), None, Some(token)),
                    Err(ConnectorRefusal::BadArgument(_))
                ),
                "{token}"
            );
        }
    }

    fn upload(original: Option<&str>, thumbnail: Option<&str>) -> AttachmentData {
        AttachmentData {
            content_type: Some("image/png".into()),
            name: Some("cat.png".into()),
            original_base64: original.map(str::to_owned),
            thumbnail_base64: thumbnail.map(str::to_owned),
        }
    }

    fn parse(data: AttachmentData) -> Result<Attachment, ConnectorRefusal> {
        parse_upload(
            ConversationId(uuid::Uuid::from_u128(1)),
            data,
            AttachmentId(uuid::Uuid::from_u128(2)),
            domain::Timestamp(0),
        )
    }

    #[test]
    fn an_upload_decodes_standard_or_url_safe_base64_with_or_without_padding() {
        let bytes: Vec<u8> = vec![0xfb, 0xff, 0x00, 0x10];
        for text in ["+/8AEA==", "+/8AEA", "-_8AEA=="] {
            assert_eq!(parse(upload(Some(text), None)).unwrap().original, bytes, "{text}");
        }
        let a = parse(upload(Some("aGk="), Some("AAE="))).unwrap();
        assert_eq!((a.original, a.thumbnail), (b"hi".to_vec(), Some(vec![0, 1])));
        assert_eq!(a.content_type.as_str(), "image/png");
    }

    #[test]
    fn an_upload_without_content_or_with_bad_fields_is_a_bad_argument() {
        let cases = [
            upload(None, None),
            upload(Some("not base64!"), None),
            upload(Some("aGk="), Some("%%%")),
            AttachmentData {
                content_type: Some("text/html\r\nSet-Cookie: x".into()),
                ..upload(Some("aGk="), None)
            },
            AttachmentData {
                name: Some("a\nb".into()),
                ..upload(Some("aGk="), None)
            },
        ];
        for data in cases {
            assert!(
                matches!(parse(data.clone()), Err(ConnectorRefusal::BadArgument(_))),
                "{data:?}"
            );
        }
        let untyped = parse(AttachmentData {
            content_type: None,
            name: None,
            ..upload(Some("aGk="), None)
        })
        .unwrap();
        assert_eq!(untyped.content_type, ContentType::octet_stream());
    }

    #[test]
    fn an_upload_over_the_limit_is_refused_with_its_size() {
        let just_over = BASE64.encode(vec![7u8; MAX_ATTACHMENT_BYTES + 1]);
        match parse(upload(Some(&just_over), None)) {
            Err(ConnectorRefusal::AttachmentTooLarge { size, max }) => {
                assert_eq!((size, max), (MAX_ATTACHMENT_BYTES + 1, MAX_ATTACHMENT_BYTES));
            }
            other => panic!("{other:?}"),
        }
        let half = BASE64.encode(vec![7u8; MAX_ATTACHMENT_BYTES / 2 + 1]);
        assert!(
            matches!(
                parse(upload(Some(&half), Some(&half))),
                Err(ConnectorRefusal::AttachmentTooLarge { .. })
            ),
            "the limit counts the thumbnail too"
        );
        let at_limit = BASE64.encode(vec![7u8; MAX_ATTACHMENT_BYTES]);
        assert_eq!(
            parse(upload(Some(&at_limit), None)).unwrap().original.len(),
            MAX_ATTACHMENT_BYTES
        );
    }
}
