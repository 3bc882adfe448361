//! The JSON API for people and operators, under `/api/v1` (docs/agents.md lists it). Every call
//! is authenticated ([`auth`]) and every conversation it touches is checked against the caller's
//! role (`Hub::may_read`, and ownership for actions, which the engine checks).

pub(crate) mod analytics;
pub mod auth;
mod call_audio;
mod conversations;
mod live;
pub mod openapi;
mod people;
pub(crate) mod transcripts;
pub mod usage;

use axum::Router;
use axum::body::Bytes;
use domain::ConversationId;
use domain::activity::{SenderRole, StoredActivity, Visibility};
use domain::conversation::Conversation;
use engine::EngineError;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(auth::routes())
        .merge(conversations::routes())
        .merge(call_audio::routes())
        .merge(people::routes())
        .merge(live::routes())
        .merge(transcripts::routes())
        .merge(analytics::routes())
        .merge(usage::routes())
        .merge(openapi::routes())
}

/// An instant as RFC 3339 text (UTC, milliseconds), the way every API timestamp is written.
pub(crate) fn rfc3339(at: domain::Timestamp) -> String {
    let nanos = i128::from(at.millis()) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// A JSON body, with the parser's own words (line, column, field) when it is not acceptable.
pub(crate) fn parse_json<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest {
        code: "invalid_body",
        message: format!("the body is not the JSON this endpoint takes: {e}"),
    })
}

/// A conversation id from the path.
pub(crate) fn parse_id(id: &str) -> Result<ConversationId, ApiError> {
    ConversationId::parse(id).map_err(|_| ApiError::BadRequest {
        code: "invalid_id",
        message: format!("`{id}` is not a conversation id (a UUID)"),
    })
}

/// The API's answer for an engine error.
pub(crate) fn engine_error(e: EngineError) -> ApiError {
    match e {
        EngineError::ConversationNotFound(id) => ApiError::NotFound(format!("conversation `{id}` does not exist")),
        EngineError::UnknownUser(name) => ApiError::NotFound(format!("there is no person named `{name}`")),
        EngineError::UnknownQueue(name) => ApiError::NotFound(format!("there is no queue named `{name}`")),
        EngineError::Unauthorized(m) => ApiError::Unauthorized(m),
        EngineError::Forbidden(m) => ApiError::Forbidden(m),
        EngineError::Invalid(message) => ApiError::BadRequest {
            code: "invalid",
            message,
        },
        EngineError::Refused { code, message } => ApiError::Conflict { code, message },
        EngineError::Illegal(e) => ApiError::Conflict {
            code: "illegal_transition",
            message: e.to_string(),
        },
        EngineError::ConversationEnded(id) => ApiError::Conflict {
            code: "ended",
            message: format!("conversation `{id}` has ended"),
        },
        other => ApiError::Internal(other.to_string()),
    }
}

/// A conversation as lists and events show it.
pub(crate) fn summary_json(c: &Conversation) -> Value {
    json!({
        "id": c.id,
        "workstream": c.workstream,
        "state": c.state,
        "queue": c.queue,
        "owner": c.owner,
        "customer": c.customer,
        "context": c.context,
        "outcome": c.outcome,
        "created_at": rfc3339(c.created_at),
        "updated_at": rfc3339(c.updated_at),
        "sentiment": sentiment_json(c.sentiment),
        "milestones": milestones_json(&c.milestones),
        "survey": c.survey.as_ref().map(survey_json),
    })
}

/// A post-conversation survey: its bot, when it ran, how it ended, the satisfaction score and
/// every answer.
pub(crate) fn survey_json(s: &domain::conversation::Survey) -> Value {
    json!({
        "bot": s.bot,
        "started_at": rfc3339(s.started_at),
        "ended_at": s.ended_at.map(rfc3339),
        "end": s.end,
        "csat": s.csat,
        "answers": s.answers,
    })
}

/// A sentiment score with its level.
pub(crate) fn sentiment_json(s: domain::Sentiment) -> Value {
    json!({"score": s.compound(), "level": sentiment::Level::of(s.compound()).as_str()})
}

/// A conversation's milestones, times in RFC 3339.
pub(crate) fn milestones_json(m: &domain::conversation::Milestones) -> Value {
    let at = |t: Option<domain::Timestamp>| t.map(rfc3339);
    json!({
        "bot": m.bot,
        "bot_at": at(m.bot_at),
        "escalated_at": at(m.escalated_at),
        "agents": m.agents,
        "agent_at": at(m.agent_at),
        "waiting_since": at(m.waiting_since),
        "wait_ms": m.wait_ms,
        "transfers": m.transfers,
        "ended_at": at(m.ended_at),
        "closed_at": at(m.closed_at),
    })
}

/// One transcript item for people, or `None` for what people are not shown (typing, the
/// hub's messages to bots).
pub(crate) fn item_json(stored: &StoredActivity) -> Option<Value> {
    let a = &stored.activity;
    if !matches!(a.kind.as_str(), "message" | "endOfConversation") {
        return None;
    }
    let body: Value = serde_json::from_str(&a.body).unwrap_or(Value::Null);
    let text = match a.kind.as_str() {
        "endOfConversation" => "The conversation ended.".to_owned(),
        _ => body["text"].as_str().unwrap_or_default().to_owned(),
    };
    let name = match (body["from"]["name"].as_str(), a.sender_role) {
        (Some(name), _) => name.to_owned(),
        // A customer who gave no name is shown as such, not by their channel id.
        (None, SenderRole::Customer) => "Customer".to_owned(),
        (None, _) => a.sender_id.clone(),
    };
    // The hub's own marks count only on what the hub itself marked: an agent's note, a
    // smart-assist bot's suggestion (stored for agents only).
    let note = a.sender_role == SenderRole::Agent
        && body.pointer("/channelData/switchboard/note").and_then(Value::as_bool) == Some(true);
    let suggestion =
        a.sender_role == SenderRole::Bot && a.visibility == Visibility::AgentsOnly && engine::is_suggestion(&body);
    let attachments: Vec<Value> = body["attachments"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|att| {
                    let mut item = json!({"name": att["name"], "contentType": att["contentType"], "contentUrl": att["contentUrl"]});
                    // A suggestion's card is drawn in the agent's suggestions panel.
                    if suggestion && !att["content"].is_null() {
                        item["content"] = att["content"].clone();
                    }
                    item
                })
                .collect()
        })
        .unwrap_or_default();
    Some(json!({
        "seq": stored.seq,
        "id": a.id,
        "type": a.kind,
        "role": a.sender_role,
        "sender": a.sender_id,
        "name": name,
        "text": text,
        "note": note,
        "suggestion": suggestion,
        "agents_only": a.visibility == Visibility::AgentsOnly,
        "bot": a.sender_role == SenderRole::Bot,
        "attachments": attachments,
        "timestamp": rfc3339(a.timestamp),
        "sentiment": a.sentiment.map(|s| s.message.compound()),
    }))
}
