//! Transcripts for supervisors and admins: search (`GET /api/v1/transcripts`), one whole
//! conversation with its routing trace and sentiment timeline (`GET /api/v1/transcripts/{id}`)
//! and streamed exports as JSON or CSV (`GET /api/v1/transcripts/export`). docs/transcripts.md
//! has the fields and examples. A supervisor sees the conversations of the queues they oversee
//! and their own; an admin all.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::conversation::Conversation;
use domain::user::Role;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::openapi::ErrorBody;
use super::{engine_error, parse_id, summary_json};
use crate::transcripts::{self, Format, Search, SearchError};
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/transcripts", get(search))
        .route("/api/v1/transcripts/export", get(export))
        .route("/api/v1/transcripts/{id}", get(one))
}

/// Most conversations one search page returns.
const MAX_PAGE: u32 = 1_000;

/// A search's answer for a field that does not parse.
pub(crate) fn search_error(e: SearchError) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_search",
        message: e.to_string(),
    }
}

/// Whether a conversation is the caller's to read.
pub(crate) type Readable = Arc<dyn Fn(&Conversation) -> bool + Send + Sync>;

/// Which conversations the caller may read through these endpoints; refuses agents.
pub(crate) fn scope(state: &AppState, caller: &Caller) -> Result<Readable, ApiError> {
    match (&caller.name, caller.role) {
        (None, _) | (_, Role::Admin) => Ok(Arc::new(|_: &Conversation| true)),
        (Some(name), Role::Supervisor) => {
            let queues = state.hub.overseen_queues(name, caller.role);
            let me = name.clone();
            Ok(Arc::new(move |c: &Conversation| {
                c.queue.as_ref().is_some_and(|q| queues.contains(q))
                    || c.owner.as_ref().is_some_and(|o| o.name() == &me)
                    || c.milestones.agents.contains(&me)
            }))
        }
        (Some(_), Role::Agent) => Err(ApiError::Forbidden(
            "transcript search and export are for supervisors and admins".into(),
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    #[serde(flatten)]
    search: Search,
    limit: Option<u32>,
    /// The `next` of the previous page.
    after: Option<String>,
}

/// The opaque cursor of a page's last conversation: `created-millis.id`.
fn cursor(c: &Conversation) -> String {
    format!("{}.{}", c.created_at.millis(), c.id)
}

fn parse_cursor(s: &str) -> Result<(domain::Timestamp, domain::ConversationId), ApiError> {
    let bad = || ApiError::BadRequest {
        code: "invalid_cursor",
        message: format!("`{s}` is not a `next` value this endpoint returned"),
    };
    let (t, id) = s.split_once('.').ok_or_else(bad)?;
    let t: i64 = t.parse().map_err(|_| bad())?;
    let id = domain::ConversationId::parse(id).map_err(|_| bad())?;
    Ok((domain::Timestamp(t), id))
}

#[utoipa::path(
    get,
    path = "/api/v1/transcripts",
    tag = "transcripts",
    summary = "Search conversations",
    description = "Conversations matching every filter given, oldest first, a page at a time (supervisors: their queues' conversations; admins: all). `from`/`to` take a day (`YYYY-MM-DD`, UTC, `to` inclusive) or an RFC 3339 instant; `customer` and `text` match part of the customer's id, name or email and of any message's text (ASCII letters without case); `agent` is anyone who owned it, `bot` the first bot. Pass `next` back as `after` for the following page; `total` counts every match.",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("from" = Option<String>, Query, description = "Created on or after this day or instant."),
        ("to" = Option<String>, Query, description = "Created on or before this day (or before this instant)."),
        ("customer" = Option<String>, Query, description = "The customer's id, name or email contains this."),
        ("queue" = Option<String>, Query, description = "Last routed to this queue."),
        ("agent" = Option<String>, Query, description = "Owned by this agent at some point."),
        ("bot" = Option<String>, Query, description = "First owned by this bot."),
        ("outcome" = Option<String>, Query, description = "`resolved_by_bot`, `resolved_by_agent` or `abandoned`."),
        ("state" = Option<String>, Query, description = "In this state."),
        ("workstream" = Option<String>, Query, description = "Of this workstream."),
        ("text" = Option<String>, Query, description = "A message's text contains this."),
        ("limit" = Option<u32>, Query, description = "At most this many (default 100, at most 1000)."),
        ("after" = Option<String>, Query, description = "The previous page's `next`."),
    ),
    responses(
        (status = 200, description = "A page of matches: `conversations` (summaries), `total`, `next` (`null` on the last page).", body = Value),
        (status = 400, description = "A filter that does not parse (`invalid_search`, naming the field) or a bad `after` (`invalid_cursor`).", body = ErrorBody),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 403, description = "Agents may not search transcripts.", body = ErrorBody),
    )
)]
async fn search(
    caller: Caller,
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Value>, ApiError> {
    let keep = scope(&state, &caller)?;
    let mut filter = query.search.filter().map_err(search_error)?;
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    if let Some(after) = &query.after {
        filter.after = Some(parse_cursor(after)?);
    }
    let store = state.hub.store();
    // A supervisor's scope is applied here, so read on until the page is full.
    let mut found: Vec<Conversation> = Vec::new();
    let mut total_seen = 0u64;
    let mut page = filter.clone().limit(limit);
    let more = loop {
        let got = store
            .list_conversations(&page)
            .await
            .map_err(|e| engine_error(e.into()))?;
        let Some(last) = got.last() else { break false };
        page = page.after(last);
        let full = got.len() == limit as usize;
        for c in got {
            if keep(&c) {
                found.push(c);
                if found.len() == limit as usize {
                    break;
                }
            }
        }
        total_seen += 1;
        if found.len() == limit as usize || !full || total_seen > 50 {
            break found.len() == limit as usize || full;
        }
    };
    let total = if caller.role == Role::Admin || caller.name.is_none() {
        store
            .count_conversations(&filter)
            .await
            .map_err(|e| engine_error(e.into()))?
    } else {
        // Counting a supervisor's scope would read everything; the page says whether more follow.
        found.len() as u64
    };
    Ok(Json(json!({
        "conversations": found.iter().map(summary_json).collect::<Vec<_>>(),
        "total": total,
        "next": if more { found.last().map(cursor) } else { None },
    })))
}

#[utoipa::path(
    get,
    path = "/api/v1/transcripts/{id}",
    tag = "transcripts",
    summary = "A whole transcript",
    description = "One conversation: its summary, its routing trace (`routing`: every decision with the rules evaluated), its whole transcript (`transcript`, bot part, notices and notes included; customer messages carry their `sentiment` score) and its sentiment timeline (`sentiment_timeline`: after each scored customer message, the message's score and the conversation's).",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "The conversation id.")),
    responses(
        (status = 200, description = "The conversation.", body = Value),
        (status = 400, description = "Not a conversation id.", body = ErrorBody),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 403, description = "An agent, or a supervisor whose queues it is not in.", body = ErrorBody),
        (status = 404, description = "There is no such conversation.", body = ErrorBody),
    )
)]
async fn one(caller: Caller, State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let keep = scope(&state, &caller)?;
    let id = parse_id(&id)?;
    let store = state.hub.store();
    let c = store
        .get_conversation(id)
        .await
        .map_err(|e| engine_error(e.into()))?
        .ok_or_else(|| ApiError::NotFound(format!("conversation `{id}` does not exist")))?;
    if !keep(&c) {
        return Err(ApiError::Forbidden(format!("you may not read conversation `{id}`")));
    }
    let full = transcripts::load(store, c).await.map_err(|e| engine_error(e.into()))?;
    Ok(Json(transcripts::full_json(&full)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    #[serde(flatten)]
    search: Search,
    format: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/transcripts/export",
    tag = "transcripts",
    summary = "Export transcripts",
    description = "Every conversation the search selects (the filters of `GET /api/v1/transcripts`), streamed as it is read: `format=json` (default) is `{\"conversations\": [...]}`, each as `GET /api/v1/transcripts/{id}` shows it; `format=csv` is one row per transcript item with the conversation's columns repeated (docs/transcripts.md lists them). Memory stays bounded whatever the range.",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("format" = Option<String>, Query, description = "`json` (default) or `csv`."),
        ("from" = Option<String>, Query, description = "As in the search."),
        ("to" = Option<String>, Query, description = "As in the search."),
        ("customer" = Option<String>, Query, description = "As in the search."),
        ("queue" = Option<String>, Query, description = "As in the search."),
        ("agent" = Option<String>, Query, description = "As in the search."),
        ("bot" = Option<String>, Query, description = "As in the search."),
        ("outcome" = Option<String>, Query, description = "As in the search."),
        ("state" = Option<String>, Query, description = "As in the search."),
        ("workstream" = Option<String>, Query, description = "As in the search."),
        ("text" = Option<String>, Query, description = "As in the search."),
    ),
    responses(
        (status = 200, description = "The export, streamed (`application/json` or `text/csv`).", body = String),
        (status = 400, description = "A filter that does not parse (`invalid_search`) or an unknown format (`invalid_format`).", body = ErrorBody),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 403, description = "Agents may not export transcripts.", body = ErrorBody),
    )
)]
async fn export(
    caller: Caller,
    State(state): State<AppState>,
    Query(query): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let keep = scope(&state, &caller)?;
    let filter = query.search.filter().map_err(search_error)?;
    let format: Format = query
        .format
        .as_deref()
        .unwrap_or("json")
        .parse()
        .map_err(|message| ApiError::BadRequest {
            code: "invalid_format",
            message,
        })?;
    // A few pages in flight at most: the reader's pace sets the export's.
    let (send, receive) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(8);
    let store = state.hub.store().clone();
    tokio::spawn(async move {
        let sink = |bytes: Vec<u8>, _done: u64| {
            let send = send.clone();
            async move { bytes.is_empty() || send.send(Ok(bytes)).await.is_ok() }
        };
        let result = transcripts::export(&store, filter, format, |c| keep(c), sink).await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "transcript export failed part way");
            let _ = send.send(Err(std::io::Error::other(e.to_string()))).await;
        }
    });
    let body = futures::stream::unfold(receive, |mut r| async move { r.recv().await.map(|item| (item, r)) });
    let name = match format {
        Format::Json => "transcripts.json",
        Format::Csv => "transcripts.csv",
    };
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        Body::from_stream(body),
    )
        .into_response())
}
