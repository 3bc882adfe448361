//! `GET /api/v1/analytics`: bot and agent figures over a range of UTC days, in all, per bot,
//! per workstream and per day, as docs/analytics.md defines them (`domain::analytics`). The
//! conversations counted are those created in the range; they are read a page at a time.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use domain::Timestamp;
use domain::analytics::{AgentFigures, BotFigures, DAY_MS, Figures, Mean, Report, SurveyFigures, day_of};
use domain::conversation::Conversation;
use serde::Deserialize;
use serde_json::{Value, json};
use store::{ConversationFilter, Store, StoreError};

use super::auth::Caller;
use super::engine_error;
use super::openapi::ErrorBody;
use super::transcripts::scope;
use crate::transcripts::parse_instant;
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/analytics", get(report))
}

/// The longest range one report covers, in days.
pub const MAX_DAYS: i64 = 366;

/// How many conversations one read takes.
const PAGE: u32 = 1_000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RangeQuery {
    /// The first day, `YYYY-MM-DD` (default: six days before `to`).
    pub from: Option<String>,
    /// The last day, included (default: today, UTC).
    pub to: Option<String>,
}

/// A range of whole UTC days, `first ..= last` (days since 1970-01-01).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Days {
    pub first: i64,
    pub last: i64,
}

impl RangeQuery {
    pub(crate) fn days(&self, now: Timestamp) -> Result<Days, ApiError> {
        let day = |field: &'static str, s: &str| -> Result<i64, ApiError> {
            if s.len() != 10 {
                return Err(ApiError::BadRequest {
                    code: "invalid_range",
                    message: format!("`{field}`: `{s}` is not a day (YYYY-MM-DD)"),
                });
            }
            parse_instant(field, s, false)
                .map(|t| day_of(t.millis()))
                .map_err(|e| ApiError::BadRequest {
                    code: "invalid_range",
                    message: e.to_string(),
                })
        };
        let last = match self.to.as_deref() {
            Some(s) => day("to", s)?,
            None => day_of(now.millis()),
        };
        let first = match self.from.as_deref() {
            Some(s) => day("from", s)?,
            None => last - 6,
        };
        if last < first {
            return Err(ApiError::BadRequest {
                code: "invalid_range",
                message: "`to` is before `from`".into(),
            });
        }
        if last - first + 1 > MAX_DAYS {
            return Err(ApiError::BadRequest {
                code: "invalid_range",
                message: format!(
                    "a report covers at most {MAX_DAYS} days; this range has {}",
                    last - first + 1
                ),
            });
        }
        Ok(Days { first, last })
    }
}

/// The figures of the conversations created in `days` that `keep` admits.
pub(crate) async fn compute(
    store: &Arc<dyn Store>,
    days: Days,
    keep: &(dyn Fn(&Conversation) -> bool + Send + Sync),
) -> Result<Report, StoreError> {
    let mut report = Report::default();
    let mut filter = ConversationFilter::all()
        .created(
            Some(Timestamp(days.first * DAY_MS)),
            Some(Timestamp((days.last + 1) * DAY_MS)),
        )
        .limit(PAGE);
    loop {
        let page = store.list_conversations(&filter).await?;
        let Some(last) = page.last() else { break };
        filter = filter.after(last);
        for c in page.iter().filter(|c| keep(c)) {
            report.add(c);
        }
        if page.len() < PAGE as usize {
            break;
        }
    }
    Ok(report)
}

/// A day number as `YYYY-MM-DD`.
pub(crate) fn day_text(day: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(day * 86_400).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.date().to_string()
}

fn mean(m: &Mean) -> Value {
    m.value().map_or(Value::Null, |v| json!((v * 1000.0).round() / 1000.0))
}

fn rate(r: Option<f64>) -> Value {
    r.map_or(Value::Null, |v| json!((v * 10_000.0).round() / 10_000.0))
}

pub(crate) fn bot_json(b: &BotFigures) -> Value {
    json!({
        "conversations": b.conversations,
        "finished": b.finished(),
        "resolved": b.resolved,
        "escalated": b.escalated,
        "abandoned": b.abandoned,
        "in_progress": b.in_progress,
        "resolution_rate": rate(b.resolution_rate()),
        "escalation_rate": rate(b.escalation_rate()),
        "abandon_rate": rate(b.abandon_rate()),
        "avg_resolution_time_s": mean(&b.resolution_time),
        "avg_escalation_time_s": mean(&b.escalation_time),
        "avg_sentiment": mean(&b.sentiment),
    })
}

pub(crate) fn agent_json(a: &AgentFigures) -> Value {
    json!({
        "conversations": a.conversations,
        "avg_wait_s": mean(&a.wait),
        "avg_handle_time_s": mean(&a.handle_time),
        "transferred": a.transferred,
        "transfer_rate": rate(a.transfer_rate()),
        "unanswered": a.unanswered,
    })
}

pub(crate) fn survey_json(s: &SurveyFigures) -> Value {
    json!({
        "surveyed": s.surveyed,
        "responses": s.responses,
        "response_rate": rate(s.response_rate()),
        "avg_csat": mean(&s.csat),
        "satisfied_rate": rate(s.satisfied_rate()),
        "scores": s.scores,
    })
}

pub(crate) fn figures_json(f: &Figures) -> Value {
    json!({
        "conversations": f.conversations,
        "bot": bot_json(&f.bot),
        "agent": agent_json(&f.agent),
        "survey": survey_json(&f.survey),
    })
}

/// The report as JSON: every day of the range is listed, empty ones with zeros.
pub(crate) fn report_json(days: Days, report: &Report) -> Value {
    let empty = Figures::default();
    json!({
        "from": day_text(days.first),
        "to": day_text(days.last),
        "total": figures_json(&report.total),
        "by_bot": report.by_bot.iter().map(|(bot, f)| {
            let mut v = bot_json(f);
            v["bot"] = json!(bot);
            v
        }).collect::<Vec<_>>(),
        "by_workstream": report.by_workstream.iter().map(|(ws, f)| {
            let mut v = figures_json(f);
            v["workstream"] = json!(ws);
            v
        }).collect::<Vec<_>>(),
        "by_day": (days.first..=days.last).map(|d| {
            let mut v = figures_json(report.by_day.get(&d).unwrap_or(&empty));
            v["day"] = json!(day_text(d));
            v
        }).collect::<Vec<_>>(),
    })
}

/// The current time.
pub(crate) fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    Timestamp(ms)
}

#[utoipa::path(
    get,
    path = "/api/v1/analytics",
    tag = "analytics",
    summary = "Bot and agent analytics",
    description = "Figures for the conversations created in a range of UTC days (default: the last seven), in all (`total`), per first bot (`by_bot`), per workstream and per day (every day listed). Bot side: `conversations` (engaged by a bot), `resolved`/`escalated`/`abandoned` (each finished one in exactly one; `in_progress` ones are outside the rates, so the three rates add up to 1), average resolution and escalation time in seconds, average sentiment (−1 … +1). Agent side: conversations an agent engaged, average wait and handle time in seconds, transfer rate, and `unanswered` (waited for a person and closed before one took it). Survey side (`survey`): conversations surveyed, responses with a satisfaction score, response rate, average CSAT (1 … 5), `satisfied_rate` (share of 4s and 5s) and `scores` (how many 1s … 5s). docs/analytics.md has the definitions. Supervisors get the conversations of their queues; admins all.",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("from" = Option<String>, Query, description = "The first day, `YYYY-MM-DD` (default: six days before `to`)."),
        ("to" = Option<String>, Query, description = "The last day, included (default: today, UTC)."),
    ),
    responses(
        (status = 200, description = "The report.", body = Value),
        (status = 400, description = "Not a day, `to` before `from`, or over 366 days (`invalid_range`).", body = ErrorBody),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 403, description = "Agents may not read analytics.", body = ErrorBody),
    )
)]
pub(crate) async fn report(
    caller: Caller,
    State(state): State<AppState>,
    Query(query): Query<RangeQuery>,
) -> Result<Json<Value>, ApiError> {
    let keep = scope(&state, &caller)?;
    let days = query.days(now())?;
    let report = compute(state.hub.store(), days, keep.as_ref())
        .await
        .map_err(|e| engine_error(e.into()))?;
    Ok(Json(report_json(days, &report)))
}
