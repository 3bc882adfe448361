//! Rows as the database holds them, and their conversion to and from domain types.
//!
//! This is the storage boundary: going in, domain values become text, integers and JSON text
//! (the only types sqlx's Any driver carries); coming out, every column is parsed back through the
//! domain's own constructors (`FromStr` for states, `::new` for names, serde for JSON), so a value
//! that does not parse is reported as [`StoreError::Corrupt`] instead of reaching the engine.

use std::str::FromStr;

use domain::activity::{NewActivity, SenderRole, StoredActivity, Visibility};
use domain::attachment::{Attachment, AttachmentId, AttachmentSummary, ContentType, ViewContent};
use domain::conversation::{Conversation, Customer};
use domain::sentiment::MessageSentiment;
use domain::{
    Context, ConversationId, ConversationState, Outcome, Owner, QueueName, RoutingDecision, Sentiment, Seq, TenantName,
    Timestamp, UserName, WorkstreamName,
};

use crate::{RoutingRecord, Session, StoreError};

/// The columns of `conversations` that a conversation is read from, in [`ConversationRow`]'s order.
pub(crate) const CONVERSATION_COLUMNS: &str = "id, tenant, workstream, customer, context, state, queue, owner_kind, owner_name, outcome, \
     escalated_by, agent_engaged, bot_engaged, created_at, updated_at, sentiment, milestones, first_bot, bot_at, agents, survey, csat";

/// A `conversations` row (without `last_seq`, which only the writer touches).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct ConversationRow {
    pub id: String,
    pub tenant: String,
    pub workstream: String,
    /// JSON object.
    pub customer: String,
    /// JSON object: name → text or number.
    pub context: String,
    pub state: String,
    pub queue: Option<String>,
    pub owner_kind: Option<String>,
    pub owner_name: Option<String>,
    pub outcome: Option<String>,
    /// JSON array of user names.
    pub escalated_by: String,
    pub agent_engaged: i16,
    pub bot_engaged: i16,
    pub created_at: i64,
    pub updated_at: i64,
    /// Ten-thousandths of a compound score; written by appends, never by updates.
    pub sentiment: i64,
    /// JSON object (`domain::conversation::Milestones`).
    pub milestones: String,
    /// The first bot, copied out of `milestones` for search.
    pub first_bot: Option<String>,
    /// When the first bot was invoked (bot-session metering), copied out of `milestones`.
    pub bot_at: Option<i64>,
    /// Every agent, copied out of `milestones` for search: see [`agents_column`].
    pub agents: String,
    /// JSON object (`domain::conversation::Survey`), when the conversation had a survey.
    pub survey: Option<String>,
    /// The survey's satisfaction score, copied out of `survey`.
    pub csat: Option<i64>,
}

/// What separates the names in the `agents` column (names hold no control characters).
pub(crate) const AGENT_SEPARATOR: char = '\u{1f}';

/// The `agents` column for `agents`: each name with a separator before and after, so a search
/// for one name is `LIKE '%␟name␟%'`.
pub(crate) fn agents_column(agents: &[UserName]) -> String {
    if agents.is_empty() {
        return String::new();
    }
    let mut out = String::from(AGENT_SEPARATOR);
    for agent in agents {
        out.push_str(agent.as_str());
        out.push(AGENT_SEPARATOR);
    }
    out
}

impl ConversationRow {
    /// The row for `c`.
    pub fn from_domain(c: &Conversation) -> Result<Self, StoreError> {
        let (owner_kind, owner_name) = owner_columns(c.owner.as_ref());
        Ok(Self {
            id: c.id.to_string(),
            tenant: c.tenant.to_string(),
            workstream: c.workstream.to_string(),
            customer: to_json(&c.customer, "conversation", c.id)?,
            context: to_json(&c.context, "conversation", c.id)?,
            state: c.state.as_str().to_owned(),
            queue: c.queue.as_ref().map(ToString::to_string),
            owner_kind: owner_kind.map(str::to_owned),
            owner_name: owner_name.map(str::to_owned),
            outcome: c.outcome.map(|o| o.as_str().to_owned()),
            escalated_by: to_json(&c.escalated_by, "conversation", c.id)?,
            agent_engaged: i16::from(c.agent_engaged),
            bot_engaged: i16::from(c.bot_engaged),
            created_at: c.created_at.millis(),
            updated_at: c.updated_at.millis(),
            sentiment: i64::from(c.sentiment.0),
            milestones: to_json(&c.milestones, "conversation", c.id)?,
            first_bot: c.milestones.bot.as_ref().map(ToString::to_string),
            bot_at: c.milestones.bot_at.map(Timestamp::millis),
            agents: agents_column(&c.milestones.agents),
            survey: c
                .survey
                .as_ref()
                .map(|s| to_json(s, "conversation", c.id))
                .transpose()?,
            csat: c.survey.as_ref().and_then(|s| s.csat).map(i64::from),
        })
    }

    /// The conversation this row holds.
    pub fn into_domain(self) -> Result<Conversation, StoreError> {
        let id = self.id.clone();
        let corrupt = |field: &str, e: &dyn std::fmt::Display| StoreError::Corrupt {
            what: "conversation",
            id: id.clone(),
            detail: format!("{field}: {e}"),
        };
        Ok(Conversation {
            id: ConversationId::parse(&self.id).map_err(|e| corrupt("id", &e))?,
            tenant: TenantName::new(self.tenant).map_err(|e| corrupt("tenant", &e))?,
            workstream: WorkstreamName::new(self.workstream).map_err(|e| corrupt("workstream", &e))?,
            customer: serde_json::from_str::<Customer>(&self.customer).map_err(|e| corrupt("customer", &e))?,
            context: serde_json::from_str::<Context>(&self.context).map_err(|e| corrupt("context", &e))?,
            state: ConversationState::from_str(&self.state).map_err(|e| corrupt("state", &e))?,
            queue: self
                .queue
                .map(QueueName::new)
                .transpose()
                .map_err(|e| corrupt("queue", &e))?,
            owner: owner_from_columns(self.owner_kind.as_deref(), self.owner_name.as_deref())
                .map_err(|e| corrupt("owner", &e))?,
            outcome: self
                .outcome
                .as_deref()
                .map(Outcome::from_str)
                .transpose()
                .map_err(|e| corrupt("outcome", &e))?,
            escalated_by: serde_json::from_str::<Vec<UserName>>(&self.escalated_by)
                .map_err(|e| corrupt("escalated_by", &e))?,
            agent_engaged: flag(self.agent_engaged).map_err(|e| corrupt("agent_engaged", &e))?,
            bot_engaged: flag(self.bot_engaged).map_err(|e| corrupt("bot_engaged", &e))?,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
            sentiment: sentiment(self.sentiment).map_err(|e| corrupt("sentiment", &e))?,
            milestones: serde_json::from_str(&self.milestones).map_err(|e| corrupt("milestones", &e))?,
            survey: self
                .survey
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| corrupt("survey", &e))?,
        })
    }
}

/// The `owner_kind` and `owner_name` columns for an owner.
pub(crate) fn owner_columns(owner: Option<&Owner>) -> (Option<&'static str>, Option<&str>) {
    match owner {
        None => (None, None),
        Some(Owner::Bot(name)) => (Some("bot"), Some(name.as_str())),
        Some(Owner::Agent(name)) => (Some("agent"), Some(name.as_str())),
    }
}

/// The owner the `owner_kind` and `owner_name` columns hold.
pub(crate) fn owner_from_columns(kind: Option<&str>, name: Option<&str>) -> Result<Option<Owner>, String> {
    match (kind, name) {
        (None, None) => Ok(None),
        (Some(kind), Some(name)) => {
            let name = UserName::new(name).map_err(|e| e.to_string())?;
            match kind {
                "bot" => Ok(Some(Owner::Bot(name))),
                "agent" => Ok(Some(Owner::Agent(name))),
                other => Err(format!("`{other}` is not an owner kind; expected bot or agent")),
            }
        }
        _ => Err("owner kind and owner name must both be set or both be empty".into()),
    }
}

/// A stored score, checked to be in range (the schema's CHECK says so too).
pub(crate) fn sentiment(v: i64) -> Result<Sentiment, String> {
    match i16::try_from(v) {
        Ok(n) if (-10_000..=10_000).contains(&n) => Ok(Sentiment(n)),
        _ => Err(format!("{v} is not a score in ten-thousandths (-10000 to 10000)")),
    }
}

fn flag(v: i16) -> Result<bool, String> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(format!("{other} is not a flag (0 or 1)")),
    }
}

fn to_json(value: &impl serde::Serialize, what: &'static str, id: ConversationId) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Invalid {
        what,
        detail: format!("{id} does not serialize: {e}"),
    })
}

/// The JSON text stored for a routing decision.
pub(crate) fn decision_json(decision: &RoutingDecision, conversation: ConversationId) -> Result<String, StoreError> {
    to_json(decision, "routing decision", conversation)
}

/// A `routing_records` row as read back.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct RoutingRow {
    pub at: i64,
    pub decision: String,
}

impl RoutingRow {
    /// The record this row holds.
    pub fn into_domain(self, conversation: ConversationId) -> Result<RoutingRecord, StoreError> {
        let decision = serde_json::from_str(&self.decision).map_err(|e| StoreError::Corrupt {
            what: "routing record",
            id: conversation.to_string(),
            detail: format!("decision: {e}"),
        })?;
        Ok(RoutingRecord {
            at: Timestamp(self.at),
            decision,
        })
    }
}

/// The columns of `activities` that an activity is read from, in [`ActivityRow`]'s order.
pub(crate) const ACTIVITY_COLUMNS: &str =
    "seq, activity_id, kind, sender_role, sender_id, visibility, ts, body, sentiment, sentiment_pulse";

/// An `activities` row as read back.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ActivityRow {
    pub seq: i64,
    pub activity_id: String,
    pub kind: String,
    pub sender_role: String,
    pub sender_id: String,
    pub visibility: String,
    pub ts: i64,
    pub body: String,
    pub sentiment: Option<i64>,
    pub sentiment_pulse: Option<i64>,
}

impl ActivityRow {
    /// The activity this row holds.
    pub fn into_domain(self, conversation: ConversationId) -> Result<StoredActivity, StoreError> {
        let corrupt = |field: &str, e: &dyn std::fmt::Display| StoreError::Corrupt {
            what: "activity",
            id: format!("{conversation}/{}", self.seq),
            detail: format!("{field}: {e}"),
        };
        let seq = u64::try_from(self.seq).map_err(|e| corrupt("seq", &e))?;
        let sender_role = SenderRole::from_str(&self.sender_role).map_err(|e| corrupt("sender_role", &e))?;
        let visibility = Visibility::from_str(&self.visibility).map_err(|e| corrupt("visibility", &e))?;
        let sentiment = match (self.sentiment, self.sentiment_pulse) {
            (None, None) => None,
            (Some(message), Some(conversation)) => Some(MessageSentiment {
                message: sentiment(message).map_err(|e| corrupt("sentiment", &e))?,
                conversation: sentiment(conversation).map_err(|e| corrupt("sentiment_pulse", &e))?,
            }),
            _ => {
                return Err(corrupt(
                    "sentiment",
                    &"a message score without the conversation's, or the reverse",
                ));
            }
        };
        Ok(StoredActivity {
            seq: Seq(seq),
            activity: NewActivity {
                id: self.activity_id,
                kind: self.kind,
                sender_role,
                sender_id: self.sender_id,
                visibility,
                timestamp: Timestamp(self.ts),
                body: self.body,
                sentiment,
            },
        })
    }
}

/// Refuses activities no backend can store the same way: an empty id (idempotency needs one),
/// or a NUL character in a text column (PostgreSQL's text type cannot hold one; SQLite can, so
/// refusing it everywhere keeps the backends alike).
pub(crate) fn check_activity(a: &NewActivity) -> Result<(), StoreError> {
    let invalid = |detail: String| {
        Err(StoreError::Invalid {
            what: "activity",
            detail,
        })
    };
    if a.id.is_empty() {
        return invalid("the activity id is empty".into());
    }
    for (field, value) in [
        ("id", &a.id),
        ("type", &a.kind),
        ("sender id", &a.sender_id),
        ("body", &a.body),
    ] {
        if value.contains('\0') {
            return invalid(format!("the activity {field} contains a NUL character"));
        }
    }
    Ok(())
}

/// An `attachments` row, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttachmentRow {
    pub id: String,
    pub conversation_id: String,
    pub name: Option<String>,
    pub content_type: String,
    pub original: Vec<u8>,
    pub thumbnail: Option<Vec<u8>>,
    pub created_at: i64,
}

impl AttachmentRow {
    /// The row for `a`, refused like an activity if a text column holds a NUL character.
    pub fn from_domain(a: Attachment) -> Result<Self, StoreError> {
        if a.name.as_deref().is_some_and(|n| n.contains('\0')) {
            return Err(StoreError::Invalid {
                what: "attachment",
                detail: "the attachment name contains a NUL character".into(),
            });
        }
        Ok(Self {
            id: a.id.to_string(),
            conversation_id: a.conversation.to_string(),
            name: a.name,
            content_type: a.content_type.into(),
            original: a.original,
            thumbnail: a.thumbnail,
            created_at: a.created_at.millis(),
        })
    }
}

/// The columns of `attachments` that a summary is read from, in [`AttachmentSummaryRow`]'s order.
/// The sizes are computed by the database so that the bytes are not read.
pub(crate) const ATTACHMENT_SUMMARY_COLUMNS: &str = "id, conversation_id, name, content_type, \
     CAST(length(original) AS BIGINT) AS original_size, CAST(length(thumbnail) AS BIGINT) AS thumbnail_size, created_at";

/// An attachment's summary as read back.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct AttachmentSummaryRow {
    pub id: String,
    pub conversation_id: String,
    pub name: Option<String>,
    pub content_type: String,
    pub original_size: i64,
    pub thumbnail_size: Option<i64>,
    pub created_at: i64,
}

impl AttachmentSummaryRow {
    /// The summary this row holds.
    pub fn into_domain(self) -> Result<AttachmentSummary, StoreError> {
        let corrupt = corrupt_attachment(&self.id);
        let size = |n: i64, field: &str| u64::try_from(n).map_err(|e| corrupt(field, &e));
        Ok(AttachmentSummary {
            id: AttachmentId::parse(&self.id).map_err(|e| corrupt("id", &e))?,
            conversation: ConversationId::parse(&self.conversation_id).map_err(|e| corrupt("conversation_id", &e))?,
            name: self.name,
            content_type: ContentType::parse(self.content_type).map_err(|e| corrupt("content_type", &e))?,
            original_size: size(self.original_size, "original")?,
            thumbnail_size: self.thumbnail_size.map(|n| size(n, "thumbnail")).transpose()?,
            created_at: Timestamp(self.created_at),
        })
    }
}

/// One view of an attachment as read back: its type and, if the view exists, its bytes.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ViewRow {
    pub content_type: String,
    pub bytes: Option<Vec<u8>>,
}

impl ViewRow {
    /// The content of attachment `id`'s view, `None` when the view is absent (no thumbnail).
    pub fn into_domain(self, id: AttachmentId) -> Result<Option<ViewContent>, StoreError> {
        let id = id.to_string();
        let content_type =
            ContentType::parse(self.content_type).map_err(|e| corrupt_attachment(&id)("content_type", &e))?;
        Ok(self.bytes.map(|bytes| ViewContent { content_type, bytes }))
    }
}

fn corrupt_attachment(id: &str) -> impl Fn(&str, &dyn std::fmt::Display) -> StoreError + '_ {
    move |field, e| StoreError::Corrupt {
        what: "attachment",
        id: id.to_owned(),
        detail: format!("{field}: {e}"),
    }
}

/// Refuses a password hash or session token hash no backend can hold the same way: empty (it
/// would match nothing a real hash function produces, so it can only be a caller's bug) or with a
/// NUL character (PostgreSQL's text type cannot hold one). `what` names the thing for the error.
pub(crate) fn check_hash(what: &'static str, hash: &str) -> Result<(), StoreError> {
    let detail = if hash.is_empty() {
        "the hash is empty"
    } else if hash.contains('\0') {
        "the hash contains a NUL character"
    } else {
        return Ok(());
    };
    Err(StoreError::Invalid {
        what,
        detail: detail.into(),
    })
}

/// The columns of `sessions` that a session is read from, in [`SessionRow`]'s order.
pub(crate) const SESSION_COLUMNS: &str = "token_hash, user_name, created_at, expires_at";

/// A `sessions` row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct SessionRow {
    pub token_hash: String,
    pub user_name: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl SessionRow {
    /// The row for `s`, refused if its token hash is empty or holds a NUL character.
    pub fn from_domain(s: &Session) -> Result<Self, StoreError> {
        check_hash("session", &s.token_hash)?;
        Ok(Self {
            token_hash: s.token_hash.clone(),
            user_name: s.user.to_string(),
            created_at: s.created_at.millis(),
            expires_at: s.expires_at.millis(),
        })
    }

    /// The session this row holds. A corrupt row is named by its user, not by its token hash,
    /// which is what finds the session.
    pub fn into_domain(self) -> Result<Session, StoreError> {
        let user = UserName::new(self.user_name.clone()).map_err(|e| StoreError::Corrupt {
            what: "session",
            id: self.user_name.clone(),
            detail: format!("user_name: {e}"),
        })?;
        Ok(Session {
            token_hash: self.token_hash,
            user,
            created_at: Timestamp(self.created_at),
            expires_at: Timestamp(self.expires_at),
        })
    }
}

/// Converts a seq for binding; seqs beyond `i64::MAX` cannot be stored, so they clamp.
pub(crate) fn seq_param(seq: Seq) -> i64 {
    i64::try_from(seq.0).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use domain::{ContextValue, ContextVarName, RuleName, RuleTrace};

    use super::*;

    fn sample() -> Conversation {
        let mut context = Context::new();
        context.set(
            ContextVarName::new("BotHandoffTopic").unwrap(),
            ContextValue::Text("CreditCard".into()),
        );
        context.set(ContextVarName::new("IDNumber").unwrap(), ContextValue::Number(101.5));
        Conversation {
            id: ConversationId(uuid::Uuid::now_v7()),
            tenant: TenantName::new("Contoso").unwrap(),
            workstream: WorkstreamName::new("ChatWorkStream").unwrap(),
            customer: Customer {
                id: "dl_123".into(),
                name: Some("Ada".into()),
                email: None,
            },
            context,
            state: ConversationState::Active,
            queue: Some(QueueName::new("CreditCardQueue").unwrap()),
            owner: Some(Owner::Agent(UserName::new("alice").unwrap())),
            outcome: None,
            escalated_by: vec![UserName::new("bot").unwrap()],
            agent_engaged: true,
            bot_engaged: true,
            created_at: Timestamp(1_700_000_000_000),
            updated_at: Timestamp(1_700_000_000_500),
            sentiment: Sentiment(-4215),
            milestones: domain::conversation::Milestones {
                bot: Some(UserName::new("bot").unwrap()),
                bot_at: Some(Timestamp(1_700_000_000_000)),
                escalated_at: Some(Timestamp(1_700_000_000_100)),
                agents: vec![UserName::new("alice").unwrap()],
                agent_at: Some(Timestamp(1_700_000_000_400)),
                wait_ms: 300,
                ..Default::default()
            },
            survey: Some(domain::conversation::Survey {
                bot: UserName::new("survey").unwrap(),
                started_at: Timestamp(1_700_000_000_600),
                ended_at: None,
                end: None,
                csat: Some(4),
                answers: [
                    ("csat".to_owned(), domain::conversation::SurveyAnswer::Number(4)),
                    (
                        "comment".to_owned(),
                        domain::conversation::SurveyAnswer::Text("quick".into()),
                    ),
                ]
                .into(),
            }),
        }
    }

    #[test]
    fn a_conversation_survives_the_trip_through_its_row() {
        let c = sample();
        let row = ConversationRow::from_domain(&c).unwrap();
        assert_eq!(
            (row.owner_kind.as_deref(), row.owner_name.as_deref()),
            (Some("agent"), Some("alice"))
        );
        assert_eq!(row.state, "active");
        assert_eq!(row.csat, Some(4));
        assert_eq!(row.into_domain().unwrap(), c);
    }

    #[test]
    fn a_row_that_does_not_parse_is_corrupt_and_names_the_field() {
        let mut row = ConversationRow::from_domain(&sample()).unwrap();
        row.state = "paused".into();
        let err = row.into_domain().unwrap_err().to_string();
        assert!(
            err.contains("corrupt") && err.contains("state") && err.contains("paused"),
            "{err}"
        );

        let mut row = ConversationRow::from_domain(&sample()).unwrap();
        row.bot_engaged = 2;
        assert!(matches!(row.into_domain(), Err(StoreError::Corrupt { .. })));
    }

    #[test]
    fn owners_map_to_a_kind_and_a_name_column() {
        let bot = Owner::Bot(UserName::new("faq-bot").unwrap());
        let (kind, name) = owner_columns(Some(&bot));
        assert_eq!(owner_from_columns(kind, name).unwrap(), Some(bot));
        assert_eq!(owner_columns(None), (None, None));
        assert_eq!(owner_from_columns(None, None).unwrap(), None);
        assert!(owner_from_columns(Some("bot"), None).is_err());
        assert!(owner_from_columns(Some("robot"), Some("x")).is_err());
    }

    #[test]
    fn a_routing_decision_is_stored_as_json_and_read_back() {
        let c = sample();
        let decision = RoutingDecision {
            cause: Default::default(),
            queue: QueueName::new("CreditCardQueue").unwrap(),
            rule: Some(RuleName::new("CreditCardRule").unwrap()),
            trace: vec![RuleTrace {
                rule: RuleName::new("CreditCardRule").unwrap(),
                matched: true,
                reason: "equals".into(),
            }],
        };
        let row = RoutingRow {
            at: 5,
            decision: decision_json(&decision, c.id).unwrap(),
        };
        assert_eq!(
            row.into_domain(c.id).unwrap(),
            RoutingRecord {
                at: Timestamp(5),
                decision
            }
        );
    }

    #[test]
    fn activities_without_an_id_or_with_a_nul_character_are_refused() {
        let ok = NewActivity {
            id: "a1".into(),
            kind: "message".into(),
            sender_role: SenderRole::Customer,
            sender_id: "dl_123".into(),
            visibility: Visibility::Everyone,
            timestamp: Timestamp(1),
            body: r#"{"text":"hi \u0000"}"#.into(),
            sentiment: None,
        };
        assert!(check_activity(&ok).is_ok(), "an escaped NUL inside JSON text is fine");
        let empty_id = NewActivity {
            id: String::new(),
            ..ok.clone()
        };
        assert!(matches!(check_activity(&empty_id), Err(StoreError::Invalid { .. })));
        let nul = NewActivity {
            sender_id: "a\0b".into(),
            ..ok
        };
        let err = check_activity(&nul).unwrap_err().to_string();
        assert!(err.contains("sender id") && err.contains("NUL"), "{err}");
    }

    #[test]
    fn hashes_that_are_empty_or_hold_a_nul_character_are_refused() {
        assert!(check_hash("session", "9f86d081884c7d65").is_ok());
        for bad in ["", "9f86\0d08"] {
            assert!(matches!(
                check_hash("session", bad),
                Err(StoreError::Invalid { what: "session", .. })
            ));
        }
    }

    #[test]
    fn a_session_survives_the_trip_through_its_row_and_a_bad_user_name_is_corrupt() {
        let session = Session {
            token_hash: "9f86d081884c7d65".into(),
            user: UserName::new("alice").unwrap(),
            created_at: Timestamp(1),
            expires_at: Timestamp(2),
        };
        let row = SessionRow::from_domain(&session).unwrap();
        assert_eq!(row.clone().into_domain().unwrap(), session);
        let bad = SessionRow {
            user_name: String::new(),
            ..row
        };
        let err = bad.into_domain().unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { what: "session", .. }), "{err:?}");
        assert!(
            !err.to_string().contains("9f86"),
            "the token hash is not repeated: {err}"
        );
    }

    #[test]
    fn seqs_beyond_i64_clamp_when_bound() {
        assert_eq!(seq_param(Seq(7)), 7);
        assert_eq!(seq_param(Seq(u64::MAX)), i64::MAX);
    }
}
