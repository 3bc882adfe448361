//! `GET /api/v1/usage`: the month's bot sessions against the tenant's pool (docs/metering.md).

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use domain::user::Role;
use engine::{Month, MonthUsage};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::engine_error;
use super::openapi::ErrorBody;
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/usage", get(usage))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageQuery {
    month: Option<String>,
}

/// A month's usage as the API and `switchboard usage --json` show it.
pub fn usage_json(month: &MonthUsage, policy: Option<domain::metering::Policy>) -> Value {
    let pool = month.usage;
    json!({
        "month": month.month.to_string(),
        "metered": policy.is_some(),
        "used": month.used,
        "entitled": pool.map(|u| u.entitled),
        "remaining": pool.map(|u| u.remaining()),
        "overage": pool.map(|u| u.overage()),
        "percent": pool.and_then(|u| u.fraction()).map(|f| (f * 1000.0).round() / 10.0),
        "level": pool.map(|u| u.level().as_str()),
        "licences": policy.map(|p| p.entitlement.licences),
        "add_ons": policy.map(|p| p.entitlement.add_ons),
        "when_spent": policy.map(|p| p.when_spent.as_str()),
        "by_bot": month.by_bot.iter().map(|(bot, n)| json!({"bot": bot, "sessions": n})).collect::<Vec<_>>(),
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/usage",
    tag = "analytics",
    summary = "Bot-session usage",
    description = "The bot sessions of a calendar month (UTC; default: this month) against the tenant's pool: a bot session is a conversation in which any bot was invoked, counted once in the month its first bot was; the pool is licences × 50 + add-ons × 100 (`[metering]`), pooled across workstreams, not carried over. `level` is `ok`, `warning` (80 % or more), `exhausted` (all used) or `over` (past the pool). Without `[metering]` the pool fields are `null`. Supervisors and admins.",
    security(("bearer" = []), ("cookie" = [])),
    params(("month" = Option<String>, Query, description = "`YYYY-MM` (default: this month, UTC).")),
    responses(
        (status = 200, description = "The month's usage: `used`, `entitled`, `remaining`, `overage`, `percent`, `level`, `by_bot`.", body = Value),
        (status = 400, description = "Not a month (`invalid_month`).", body = ErrorBody),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 403, description = "Agents may not read usage.", body = ErrorBody),
    )
)]
async fn usage(
    caller: Caller,
    State(state): State<AppState>,
    Query(query): Query<UsageQuery>,
) -> Result<Json<Value>, ApiError> {
    if caller.name.is_some() && caller.role < Role::Supervisor {
        return Err(ApiError::Forbidden("usage is for supervisors and admins".into()));
    }
    let month = match query.month.as_deref() {
        Some(s) => Month::parse(s).map_err(|message| ApiError::BadRequest {
            code: "invalid_month",
            message,
        })?,
        None => Month::of(engine::now()),
    };
    let used = state.hub.usage(month).await.map_err(engine_error)?;
    Ok(Json(usage_json(&used, state.hub.metering())))
}
