//! Conversations for people: listing those the caller may see, one conversation with its
//! routing trace and escalation summaries, its transcript, and what an agent does with it
//! (accept or decline an offer, pick, reply, note, transfer, end, close) and what a supervisor
//! does with it (assign, force-close).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::conversation::Conversation;
use domain::{ConversationId, ConversationState, QueueName, Seq};
use engine::ConversationDetails;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::openapi::{
    ConversationDetail, ConversationList, ConversationSummary, ErrorBody, OfferList, Transcript, Written,
};
use super::{engine_error, item_json, parse_id, parse_json, rfc3339, summary_json};
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/conversations", get(list))
        .route("/api/v1/conversations/{id}", get(get_conversation))
        .route("/api/v1/conversations/{id}/transcript", get(transcript))
        .route("/api/v1/conversations/{id}/accept", post(accept))
        .route("/api/v1/conversations/{id}/decline", post(decline))
        .route("/api/v1/conversations/{id}/pick", post(pick))
        .route("/api/v1/conversations/{id}/messages", post(message))
        .route("/api/v1/conversations/{id}/notes", post(note))
        .route("/api/v1/conversations/{id}/transfer", post(transfer))
        .route("/api/v1/conversations/{id}/end", post(end))
        .route("/api/v1/conversations/{id}/close", post(close))
        .route("/api/v1/conversations/{id}/assign", post(assign))
        .route("/api/v1/conversations/{id}/force-close", post(force_close))
        .route("/api/v1/offers", get(offers))
}

/// Loads a conversation the caller may read; 404 when it does not exist, 403 when it is not
/// theirs to see.
async fn readable(state: &AppState, caller: &Caller, id: ConversationId) -> Result<ConversationDetails, ApiError> {
    let details = state.hub.conversation_details(id).await.map_err(engine_error)?;
    if let Some(name) = &caller.name
        && !state
            .hub
            .may_read(name, caller.role, &details.conversation)
            .await
            .map_err(engine_error)?
    {
        return Err(ApiError::Forbidden(format!("you may not read conversation `{id}`")));
    }
    Ok(details)
}

/// Which listed conversations a supervisor may see, beyond what the store filter says.
type Scope = Box<dyn Fn(&Conversation) -> bool + Send>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    queue: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/v1/conversations?state=&queue=&limit=`: what the caller may see — an agent what
/// they own now, a supervisor their queues' conversations, an admin all — oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/conversations",
    tag = "conversations",
    summary = "List conversations",
    description = "The conversations the caller may see, oldest first: an agent those they own now (or, asking for `state=waiting`, the waiting conversations of their queues' pick workstreams), a supervisor their queues' conversations and their own, an admin all.",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("state" = Option<super::openapi::ConversationState>, Query, description = "Only conversations in this state."),
        ("queue" = Option<String>, Query, description = "Only conversations last routed to this queue."),
        ("limit" = Option<u32>, Query, description = "At most this many (default 500, at most 5000)."),
    ),
    responses(
        (status = 200, description = "The conversations.", body = ConversationList),
        (status = 400, description = "Not a state (`invalid_state`) or not a queue name (`invalid_queue`); a query string with other parameters or a malformed `limit` is refused with a plain-text 400.", content(
            (ErrorBody = "application/json"),
            (String = "text/plain"),
        )),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
        (status = 404, description = "There is no such queue.", body = ErrorBody),
    )
)]
async fn list(
    caller: Caller,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let mut filter = store::ConversationFilter::all().limit(query.limit.unwrap_or(500).min(5_000));
    if let Some(s) = &query.state {
        let parsed = s.parse::<ConversationState>().map_err(|e| ApiError::BadRequest {
            code: "invalid_state",
            message: e.to_string(),
        })?;
        filter = filter.state(parsed);
    }
    if let Some(q) = &query.queue {
        if state.hub.tenant().queue(q).is_none() {
            return Err(ApiError::NotFound(format!("there is no queue named `{q}`")));
        }
        filter = filter.queue(QueueName::new(q).map_err(|e| ApiError::BadRequest {
            code: "invalid_queue",
            message: e.to_string(),
        })?);
    }
    let scope: Option<Scope> = match (&caller.name, caller.role) {
        (None, _) | (_, domain::user::Role::Admin) => None,
        (Some(name), domain::user::Role::Supervisor) => {
            let queues = state.hub.overseen_queues(name, caller.role);
            let me = name.clone();
            Some(Box::new(move |c: &Conversation| {
                c.queue.as_ref().is_some_and(|q| queues.contains(q))
                    || c.owner.as_ref().is_some_and(|o| o.name() == &me)
            }))
        }
        // In pick workstreams agents choose from the waiting conversations of their queues.
        (Some(name), domain::user::Role::Agent) if filter.states == [ConversationState::Waiting] => {
            let queues = state.hub.queues_of(name);
            let hub = state.hub.clone();
            Some(Box::new(move |c: &Conversation| {
                c.queue.as_ref().is_some_and(|q| queues.contains(q)) && hub.is_pick(c)
            }))
        }
        (Some(name), domain::user::Role::Agent) => {
            filter = filter.owner(domain::Owner::Agent(name.clone()));
            None
        }
    };
    let conversations = state
        .hub
        .store()
        .list_conversations(&filter)
        .await
        .map_err(|e| engine_error(e.into()))?;
    let shown: Vec<Value> = conversations
        .iter()
        .filter(|c| scope.as_ref().is_none_or(|keep| keep(c)))
        .map(summary_json)
        .collect();
    Ok(Json(json!({ "conversations": shown })))
}

#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}",
    tag = "conversations",
    summary = "Get a conversation",
    description = "The conversation's summary with its tenant, escalations, the pending offer, and every routing decision with its rule trace.",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = uuid::Uuid, Path, description = "The conversation's id.")),
    responses(
        (status = 200, description = "The conversation.", body = ConversationDetail),
        (status = 400, description = "`id` is not a conversation id (`invalid_id`).", body = ErrorBody),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
        (status = 403, description = "The conversation is not the caller's to see.", body = ErrorBody),
        (status = 404, description = "There is no such conversation.", body = ErrorBody),
    )
)]
async fn get_conversation(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let details = readable(&state, &caller, id).await?;
    let offer = state
        .hub
        .offer(details.conversation.id)
        .await
        .map_err(super::engine_error)?;
    Ok(Json(conversation_json(&state, &details, offer)))
}

pub(super) fn conversation_json(
    state: &AppState,
    details: &ConversationDetails,
    offer: Option<engine::Offer>,
) -> Value {
    let c = &details.conversation;
    let mut body = summary_json(c);
    let extra = json!({
        "tenant": c.tenant,
        "escalated_by": c.escalated_by,
        "escalation_summaries": details.escalation_summaries,
        "bot_engaged": c.bot_engaged,
        "agent_engaged": c.agent_engaged,
        "call": state.voice.as_ref().is_some_and(|v| v.live.contains(c.id)),
        "offer": offer.map(|o| json!({"agent": o.agent, "queue": o.queue, "expires_at": rfc3339(o.expires_at)})),
        "routing": details.routing.iter().map(|r| json!({
            "at": rfc3339(r.at),
            "cause": r.decision.cause,
            "queue": r.decision.queue,
            "rule": r.decision.rule,
            "trace": r.decision.trace,
        })).collect::<Vec<_>>(),
    });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    body
}

/// `GET /api/v1/conversations/{id}/transcript`: everything said, bot part, notices and
/// internal notes included.
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}/transcript",
    tag = "conversations",
    summary = "Get a conversation's transcript",
    description = "Everything the customer, the bot and agents said, the hub's notices and internal notes, in order.",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = uuid::Uuid, Path, description = "The conversation's id.")),
    responses(
        (status = 200, description = "The transcript.", body = Transcript),
        (status = 400, description = "`id` is not a conversation id (`invalid_id`).", body = ErrorBody),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
        (status = 403, description = "The conversation is not the caller's to see.", body = ErrorBody),
        (status = 404, description = "There is no such conversation.", body = ErrorBody),
    )
)]
async fn transcript(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    readable(&state, &caller, id).await?;
    let mut items = Vec::new();
    let mut after = Seq::ZERO;
    loop {
        let page = state
            .hub
            .store()
            .activities_after(id, after, 500)
            .await
            .map_err(|e| engine_error(e.into()))?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        items.extend(page.iter().filter_map(item_json));
    }
    Ok(Json(json!({ "activities": items })))
}

#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/accept",
    tag = "conversations",
    summary = "Accept an offer",
    description = "Accepts the conversation offered to the caller; they own it now.",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = uuid::Uuid, Path, description = "The conversation's id.")),
    responses(
        (status = 200, description = "The conversation's summary, as it is now.", body = ConversationSummary),
        (status = 400, description = "`id` is not a conversation id (`invalid_id`).", body = ErrorBody),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
        (status = 403, description = "The conversation is not the caller's to act on, or the admin token (which acts for nobody in particular).", body = ErrorBody),
        (status = 404, description = "There is no such conversation.", body = ErrorBody),
        (status = 409, description = "Not allowed in the conversation's current state (`no_offer`, `no_capacity`, `illegal_transition`, `ended`)." , body = ErrorBody),
    )
)]
async fn accept(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let conv = state
        .hub
        .accept_offer(caller.person()?, parse_id(&id)?)
        .await
        .map_err(engine_error)?;
    Ok(Json(summary_json(&conv)))
}

#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/decline",
    tag = "conversations",
    summary = "Decline an offer",
    description = "Declines the conversation offered to the caller; it is offered to the next agent.",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = uuid::Uuid, Path, description = "The conversation's id.")),
    responses(
        (status = 200, description = "The conversation's summary, as it is now.", body = ConversationSummary),
        (status = 400, description = "`id` is not a conversation id (`invalid_id`).", body = ErrorBody),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
        (status = 403, description = "The conversation is not the caller's to act on, or the admin token (which acts for nobody in particular).", body = ErrorBody),
        (status = 404, description = "There is no such conversation.", body = ErrorBody),
        (status = 409, description = "Not allowed in the conversation's current state (`no_offer`)." , body = ErrorBody),
    )
)]
async fn decline(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    state
        .hub
        .decline_offer(caller.person()?, id)
        .await
        .map_err(engine_error)?;
    let conv = state
        .hub
        .conversation_details(id)
        .await
        .map_err(engine_error)?
        .conversation;
    Ok(Json(summary_json(&conv)))
}

#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/pick",
    tag = "conversations",
    summary = "Pick a waiting conversation",
    description = "Takes a waiting conversation of a pick workstream from one of the caller's queues.",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = uuid::Uuid, Path, description = "The conversation's id.")),
    responses(
        (status = 200, description = "The conversation's summary, as it is now.", body = ConversationSummary),
        (status = 400, description = "`id` is not a conversation id (`invalid_id`).", body = ErrorBody),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
        (status = 403, description = "The conversation is not the caller's to act on, or the admin token (which acts for nobody in particular).", body = ErrorBody),
        (status = 404, description = "There is no such conversation.", body = ErrorBody),
        (status = 409, description = "Not allowed in the conversation's current state (`push_workstream`, `not_waiting`, `no_capacity`, `illegal_transition`, `ended`)." , body = ErrorBody),
    )
)]
async fn pick(caller: Caller, State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let conv = state
        .hub
        .pick(caller.person()?, parse_id(&id)?)
        .await
        .map_err(engine_error)?;
    Ok(Json(summary_json(&conv)))
}

/// A reply or a note.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Text {
    text: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/messages",
    tag = "conversations",
    summary = "Reply to the customer",
    description = "Sends a message to the customer, who sees the agent's display name.",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = uuid::Uuid, Path, description = "The conversation's id.")),
    request_body = Text,
    responses(
        (status = 201, description = "Written.", body = Written),
        (status = 400, description = "`id` is not a conversation id (`invalid_id`), the body is not `{\"text\"}` (`invalid_body`), or the text is empty or too long (`invalid`).", body = ErrorBody),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
        (status = 403, description = "The conversation is not the caller's to act on, or the admin token (which acts for nobody in particular).", body = ErrorBody),
        (status = 404, description = "There is no such conversation.", body = ErrorBody),
        (status = 409, description = "Not allowed in the conversation's current state (`not_active`, `ended`)." , body = ErrorBody),
    )
)]
async fn message(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = parse_id(&id)?;
    let Text { text } = parse_json(&body)?;
    let (activity, seq) = state
        .hub
        .agent_message(caller.person()?, id, &text)
        .await
        .map_err(engine_error)?;
    Ok((StatusCode::CREATED, Json(json!({"id": activity, "seq": seq}))))
}

#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/notes",
    tag = "conversations",
    summary = "Write an internal note",
    description = "Writes a note for agents and supervisors only; the customer and bots never see it.",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = uuid::Uuid, Path, description = "The conversation's id.")),
    request_body = Text,
    responses(
        (status = 201, description = "Written.", body = Written),
        (status = 400, description = "`id` is not a conversation id (`invalid_id`), the body is not `{\"text\"}` (`invalid_body`), or the text is empty or too long (`invalid`).", body = ErrorBody),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
        (status = 403, description = "The conversation is not the caller's to act on, or the admin token (which acts for nobody in particular).", body = ErrorBody),
        (status = 404, description = "There is no such conversation.", body = ErrorBody),
        (status = 409, description = "Not allowed in the conversation's current state (`not_active`, `ended`)." , body = ErrorBody),
    )
)]
async fn note(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = parse_id(&id)?;
    let Text { text } = parse_json(&body)?;
    let (activity, seq) = state
        .hub
        .agent_note(caller.person()?, id, &text)
        .await
        .map_err(engine_error)?;
    Ok((StatusCode::CREATED, Json(json!({"id": activity, "seq": seq}))))
}

/// Where to transfer: exactly one of `queue` and `agent`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Transfer {
    /// A queue, whose method picks the next agent.
    queue: Option<String>,
    /// An agent, who must be in an allowed presence with free capacity.
    agent: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/transfer",
    tag = "conversations",
    summary = "Transfer a conversation",
    description = "Transfers the caller's conversation to a queue or to an agent; the customer is told.",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = uuid::Uuid, Path, description = "The conversation's id.")),
    request_body = Transfer,
    responses(
        (status = 200, description = "The conversation's summary, as it is now.", body = ConversationSummary),
        (status = 400, description = "`id` is not a conversation id (`invalid_id`), the body does not give exactly one of `queue` and `agent` (`invalid_body`), or a transfer to oneself (`invalid`).", body = ErrorBody),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
        (status = 403, description = "The conversation is not the caller's to act on, or the admin token (which acts for nobody in particular).", body = ErrorBody),
        (status = 404, description = "There is no such conversation, queue or person.", body = ErrorBody),
        (status = 409, description = "Not allowed in the conversation's current state (`bot_already_had_it`, `agent_unavailable`, `not_active`, `illegal_transition`, `ended`)." , body = ErrorBody),
    )
)]
async fn transfer(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let me = caller.person()?;
    let conv = match parse_json::<Transfer>(&body)? {
        Transfer {
            queue: Some(queue),
            agent: None,
        } => state.hub.transfer_to_queue(me, id, &queue).await,
        Transfer {
            queue: None,
            agent: Some(agent),
        } => state.hub.transfer_to_agent(me, id, &agent).await,
        _ => {
            return Err(ApiError::BadRequest {
                code: "invalid_body",
                message: "give exactly one of `queue` and `agent`".to_owned(),
            });
        }
    }
    .map_err(engine_error)?;
    Ok(Json(summary_json(&conv)))
}

#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/end",
    tag = "conversations",
    summary = "End a conversation",
    description = "Ends the caller's conversation: it goes to wrap-up and the customer sees the end.",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = uuid::Uuid, Path, description = "The conversation's id.")),
    responses(
        (status = 200, description = "The conversation's summary, now in `wrap_up`.", body = ConversationSummary),
        (status = 400, description = "`id` is not a conversation id (`invalid_id`).", body = ErrorBody),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
        (status = 403, description = "The conversation is not the caller's to act on, or the admin token (which acts for nobody in particular).", body = ErrorBody),
        (status = 404, description = "There is no such conversation.", body = ErrorBody),
        (status = 409, description = "Not allowed in the conversation's current state (`illegal_transition`, `ended`)." , body = ErrorBody),
    )
)]
async fn end(caller: Caller, State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let conv = state
        .hub
        .end_by_agent(caller.person()?, parse_id(&id)?)
        .await
        .map_err(engine_error)?;
    Ok(Json(summary_json(&conv)))
}

#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/close",
    tag = "conversations",
    summary = "Close a conversation",
    description = "Finishes the wrap-up of the caller's conversation; the outcome is `resolved_by_agent`.",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = uuid::Uuid, Path, description = "The conversation's id.")),
    responses(
        (status = 200, description = "The conversation's summary, now `closed`.", body = ConversationSummary),
        (status = 400, description = "`id` is not a conversation id (`invalid_id`).", body = ErrorBody),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
        (status = 403, description = "The conversation is not the caller's to act on, or the admin token (which acts for nobody in particular).", body = ErrorBody),
        (status = 404, description = "There is no such conversation.", body = ErrorBody),
        (status = 409, description = "Not allowed in the conversation's current state (`not_wrap_up`, `illegal_transition`)." , body = ErrorBody),
    )
)]
async fn close(caller: Caller, State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let conv = state
        .hub
        .finish_wrap_up(Some(caller.person()?), parse_id(&id)?)
        .await
        .map_err(engine_error)?;
    Ok(Json(summary_json(&conv)))
}

/// Whom a supervisor assigns a conversation to.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Assign {
    /// The agent's user name; a member of the conversation's queue, not offline.
    agent: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/assign",
    tag = "supervision",
    summary = "Assign a waiting conversation (supervisor)",
    description = "A supervisor of the conversation's queue (or an admin) gives a waiting conversation to an agent of that queue, as if the agent had accepted it: the customer is told the agent joined, and the agent's capacity is taken even past what they have. An offer pending for it is withdrawn (`offer_withdrawn`, reason `assigned`).",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = uuid::Uuid, Path, description = "The conversation's id.")),
    request_body = Assign,
    responses(
        (status = 200, description = "The conversation's summary, now `active` with the agent as owner.", body = ConversationSummary),
        (status = 400, description = "`id` is not a conversation id (`invalid_id`), the body is not `{\"agent\"}` (`invalid_body`), or `agent` is not a user name (`invalid_agent`).", body = ErrorBody),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
        (status = 403, description = "The caller is an agent, or a supervisor who does not oversee the conversation's queue.", body = ErrorBody),
        (status = 404, description = "There is no such conversation or person.", body = ErrorBody),
        (status = 409, description = "Not allowed in the conversation's current state (`not_waiting`), or not to this agent (`not_a_member` of the queue, `agent_offline`)." , body = ErrorBody),
    )
)]
async fn assign(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let Assign { agent } = parse_json(&body)?;
    let agent = domain::UserName::new(&agent).map_err(|e| ApiError::BadRequest {
        code: "invalid_agent",
        message: format!("`agent` is not a user name: {e}"),
    })?;
    let conv = state
        .hub
        .supervisor_assign(caller.name.as_ref(), caller.role, id, &agent)
        .await
        .map_err(engine_error)?;
    Ok(Json(summary_json(&conv)))
}

/// Why a supervisor closes a conversation.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ForceClose {
    /// Shown to the customer after "A supervisor closed this conversation." (at most 500
    /// characters).
    reason: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/force-close",
    tag = "supervision",
    summary = "Force-close a conversation (supervisor)",
    description = "A supervisor of the conversation's queue (or an admin) closes a conversation that is not closed, whatever it is doing. The customer is told \"A supervisor closed this conversation.\" with the reason, then the conversation ends for them (`endOfConversation`, which an owning bot also receives); in wrap-up the customer has already seen the end and is not told again. An owning agent's capacity is given back. The outcome is `abandoned` if no agent ever had the conversation, else `resolved_by_agent`. The body may be empty.",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = uuid::Uuid, Path, description = "The conversation's id.")),
    request_body(content = ForceClose, description = "Optional; an empty body closes without a reason."),
    responses(
        (status = 200, description = "The conversation's summary, now `closed`.", body = ConversationSummary),
        (status = 400, description = "`id` is not a conversation id (`invalid_id`), the body is not `{\"reason\"}` (`invalid_body`), or the reason is too long (`invalid`).", body = ErrorBody),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
        (status = 403, description = "The caller is an agent, or a supervisor who does not oversee the conversation's queue.", body = ErrorBody),
        (status = 404, description = "There is no such conversation.", body = ErrorBody),
        (status = 409, description = "The conversation is already closed (`ended`)." , body = ErrorBody),
    )
)]
async fn force_close(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let ForceClose { reason } = if body.iter().all(u8::is_ascii_whitespace) {
        ForceClose::default()
    } else {
        parse_json(&body)?
    };
    let conv = state
        .hub
        .force_close(caller.name.as_ref(), caller.role, id, reason)
        .await
        .map_err(engine_error)?;
    Ok(Json(summary_json(&conv)))
}

/// `GET /api/v1/offers`: the offers waiting for the caller's answer, soonest to expire first.
#[utoipa::path(
    get,
    path = "/api/v1/offers",
    tag = "conversations",
    summary = "List my offers",
    description = "The offers waiting for the caller's answer, soonest to expire first.",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The offers.", body = OfferList),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
        (status = 403, description = "The admin token acts for nobody in particular; sign in as a person for this.", body = ErrorBody),
    )
)]
async fn offers(caller: Caller, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let me = caller.person()?;
    let mut shown = Vec::new();
    for offer in state.hub.offers_for(me).await.map_err(super::engine_error)? {
        if let Ok(details) = state.hub.conversation_details(offer.conversation).await {
            shown.push(super::live::offer_json(&offer.queue, offer.expires_at, &details));
        }
    }
    Ok(Json(json!({ "offers": shown })))
}
