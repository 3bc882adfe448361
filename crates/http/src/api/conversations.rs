//! `GET /api/v1/conversations/{id}`: one conversation as an operator sees it — state, queue,
//! owner, context variables, outcome, the escalation summaries bots left for agents, and the
//! routing trace of every decision taken for it.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use domain::ConversationId;
use engine::{ConversationDetails, EngineError};
use serde_json::{Value, json};

use super::auth::Admin;
use super::rfc3339;
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/conversations/{id}", get(get_conversation))
}

async fn get_conversation(
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = ConversationId::parse(&id).map_err(|_| ApiError::BadRequest {
        code: "invalid_id",
        message: format!("`{id}` is not a conversation id (a UUID)"),
    })?;
    match state.hub.conversation_details(id).await {
        Ok(details) => Ok(Json(conversation_json(&details))),
        Err(EngineError::ConversationNotFound(id)) => {
            Err(ApiError::NotFound(format!("conversation `{id}` does not exist")))
        }
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}

fn conversation_json(details: &ConversationDetails) -> Value {
    let c = &details.conversation;
    json!({
        "id": c.id,
        "tenant": c.tenant,
        "workstream": c.workstream,
        "state": c.state,
        "queue": c.queue,
        "owner": c.owner,
        "outcome": c.outcome,
        "customer": c.customer,
        "context": c.context,
        "escalated_by": c.escalated_by,
        "escalation_summaries": details.escalation_summaries,
        "bot_engaged": c.bot_engaged,
        "agent_engaged": c.agent_engaged,
        "created_at": rfc3339(c.created_at),
        "updated_at": rfc3339(c.updated_at),
        "routing": details.routing.iter().map(|r| json!({
            "at": rfc3339(r.at),
            "cause": r.decision.cause,
            "queue": r.decision.queue,
            "rule": r.decision.rule,
            "trace": r.decision.trace,
        })).collect::<Vec<_>>(),
    })
}
