//! People and queues: who I am and my presence, the agents (for transfers and supervisors) and
//! the queues with what waits in them.

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use domain::user::{User, UserKind};
use domain::{ConversationState, Presence};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::openapi::{AgentList, ErrorBody, Person, QueueList};
use super::{engine_error, parse_json};
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me", get(me))
        .route("/api/v1/me/presence", axum::routing::put(set_presence))
        .route("/api/v1/agents", get(agents))
        .route("/api/v1/queues", get(queues))
}

pub(super) fn person_json(state: &AppState, user: &User, live: engine::MemberSnapshot) -> Option<Value> {
    let UserKind::Human { role, capacity } = user.kind else {
        return None;
    };
    Some(json!({
        "name": user.name,
        "display_name": user.display_name,
        "role": role,
        "presence": live.presence,
        "capacity": capacity.0,
        "used": live.used.0,
        "queues": state.hub.queues_of(&user.name),
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "people",
    summary = "Who I am",
    description = "The caller with their presence, capacity, load and queues.",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The caller.", body = Person),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
        (status = 403, description = "The admin token acts for nobody in particular; sign in as a person for this.", body = ErrorBody),
        (status = 404, description = "The caller is not (or no longer) a person of the configuration.", body = ErrorBody),
    )
)]
async fn me(caller: Caller, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let name = caller.person()?;
    let user = state
        .hub
        .tenant()
        .user(name.as_str())
        .ok_or_else(|| ApiError::NotFound(format!("there is no person named `{name}`")))?;
    let live = state.hub.member(&user.name).await.map_err(super::engine_error)?;
    person_json(&state, user, live)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("`{name}` is not a person")))
}

/// A new presence.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PresenceBody {
    #[schema(value_type = super::openapi::Presence)]
    presence: String,
}

/// `PUT /api/v1/me/presence`: `{"presence":"available"}`; waiting work is offered at once if the
/// new presence allows it.
#[utoipa::path(
    put,
    path = "/api/v1/me/presence",
    tag = "people",
    summary = "Set my presence",
    description = "Sets the caller's presence; waiting work is offered at once if the new presence allows it.",
    security(("bearer" = []), ("cookie" = [])),
    request_body = PresenceBody,
    responses(
        (status = 200, description = "The caller, as `GET /api/v1/me` shows them.", body = Person),
        (status = 400, description = "Not `{\"presence\"}` (`invalid_body`) or not a presence (`invalid_presence`).", body = ErrorBody),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
        (status = 403, description = "The admin token acts for nobody in particular; sign in as a person for this.", body = ErrorBody),
        (status = 404, description = "The caller is not (or no longer) a person of the configuration.", body = ErrorBody),
    )
)]
async fn set_presence(caller: Caller, State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let name = caller.person()?.clone();
    let PresenceBody { presence } = parse_json(&body)?;
    let presence = presence.parse::<Presence>().map_err(|e| ApiError::BadRequest {
        code: "invalid_presence",
        message: e.to_string(),
    })?;
    state
        .hub
        .change_presence(name.as_str(), presence)
        .await
        .map_err(engine_error)?;
    me(caller, State(state)).await
}

/// `GET /api/v1/agents`: every person with presence and load.
#[utoipa::path(
    get,
    path = "/api/v1/agents",
    tag = "people",
    summary = "List the people",
    description = "Every person with presence and load (for transfers and supervisors).",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Every person.", body = AgentList),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
    )
)]
async fn agents(_caller: Caller, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let mut people: Vec<Value> = Vec::new();
    for user in state.hub.tenant().users() {
        if matches!(user.kind, UserKind::Human { .. }) {
            let live = state.hub.member(&user.name).await.map_err(super::engine_error)?;
            people.extend(person_json(&state, user, live));
        }
    }
    Ok(Json(json!({ "agents": people })))
}

/// `GET /api/v1/queues`: every queue with its members and how many conversations wait in it.
#[utoipa::path(
    get,
    path = "/api/v1/queues",
    tag = "people",
    summary = "List the queues",
    description = "Every queue with its members and how many conversations wait in it.",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Every queue.", body = QueueList),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
    )
)]
async fn queues(_caller: Caller, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let waiting = state
        .hub
        .store()
        .list_conversations(&store::ConversationFilter::all().state(ConversationState::Waiting))
        .await
        .map_err(|e| engine_error(e.into()))?;
    let shown: Vec<Value> = state
        .hub
        .tenant()
        .queues()
        .map(|q| {
            let members: Vec<Value> = q
                .members
                .iter()
                .map(|m| {
                    let user = state.hub.tenant().user(m.as_str());
                    json!({
                        "name": m,
                        "display_name": user.map(|u| u.display_name.as_str()),
                        "bot": user.is_some_and(User::is_bot),
                    })
                })
                .collect();
            json!({
                "name": q.name,
                "method": q.method,
                "members": members,
                "waiting": waiting.iter().filter(|c| c.queue.as_ref() == Some(&q.name)).count(),
            })
        })
        .collect();
    Ok(Json(json!({ "queues": shown })))
}
