//! The OpenAPI 3.1 document of the people API, served at `GET /api/v1/openapi.json` and kept as
//! a snapshot in `docs/openapi.json`. It is generated from the handlers' `#[utoipa::path]`
//! annotations. The handlers build their answers with `json!`, so the shapes of those answers are
//! described here by documentation-only types whose fields are exactly the keys the handlers
//! write (`summary_json`, `item_json`, `person_json`, `offer_json`, `conversation_json`); the
//! tests check the ones that can be built without a running hub, the enums against the domain's,
//! and every `/api/v1` route against the document.
//!
//! `UPDATE_SNAPSHOTS=1 cargo test -p switchboard-http openapi` rewrites `docs/openapi.json`.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use uuid::Uuid;

use super::auth::SESSION_COOKIE;
use crate::AppState;

const DESCRIPTION: &str = "The JSON API agents, supervisors and admins use to work conversations \
(docs/agents.md describes it).

**Authentication.** Sign in with `POST /api/v1/sessions`; every other operation (but this \
document) needs the session, sent as `Authorization: Bearer <token>` (scheme `bearer`) or carried \
by the `switchboard_session` cookie the sign-in sets (scheme `cookie`). The operator's admin token \
is accepted as a bearer token wherever an admin is; it acts for nobody in particular, so \
operations only a person can do (presence, offers, replies…) answer 403 to it. A customer's \
Direct Line token is not accepted (401). With the cookie, a write (any method but GET and HEAD) or \
a WebSocket upgrade must carry the `Origin` of the hub's public URL, and a write's body must be \
JSON (`Content-Type: application/json`); otherwise it is refused with 403, as a request another \
site may have made the browser send. Bearer callers are not checked.

**Errors** are `{\"error\":{\"code\",\"message\"}}` (schema `ErrorBody`): the status says what \
kind (400 malformed, 401 not signed in, 403 not allowed, 404 unknown, 409 not allowed in the \
current state, 429 too many attempts: wait `Retry-After` seconds), `code` which rule, `message` \
explains it for people.

**Live events** come over the WebSocket at `GET /api/v1/events`, one JSON text frame per event \
(schema `LiveEvent`).";

/// The people API's OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Switchboard people API",
        version = env!("CARGO_PKG_VERSION"),
        description = DESCRIPTION,
    ),
    paths(
        super::auth::sign_in,
        super::auth::sign_out,
        super::people::me,
        super::people::set_presence,
        super::people::agents,
        super::people::queues,
        super::conversations::list,
        super::conversations::get_conversation,
        super::conversations::transcript,
        super::conversations::accept,
        super::conversations::decline,
        super::conversations::pick,
        super::conversations::message,
        super::conversations::note,
        super::conversations::transfer,
        super::conversations::end,
        super::conversations::close,
        super::conversations::assign,
        super::conversations::force_close,
        super::conversations::offers,
        super::live::upgrade,
        super::call_audio::upgrade,
        super::transcripts::search,
        super::transcripts::one,
        super::transcripts::export,
        super::analytics::report,
        super::usage::usage,
        openapi_json,
    ),
    components(schemas(LiveEvent)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "sessions", description = "Signing in and out."),
        (name = "people", description = "Who I am and my presence; the agents and the queues."),
        (name = "conversations", description = "Conversations the caller may see, and what an agent does with them."),
        (name = "supervision", description = "What supervisors do with the conversations of the queues they oversee."),
        (name = "live", description = "The WebSocket of live events."),
        (name = "transcripts", description = "Searching, reading and exporting stored conversations."),
        (name = "analytics", description = "Bot and agent figures over a date range."),
        (name = "documentation", description = "This document."),
    )
)]
pub struct ApiDoc;

/// The two ways a request carries a session: `bearer` and `cookie`.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A session token from `POST /api/v1/sessions`, or the operator's admin token \
                         (`server.admin_token`).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "The session cookie `POST /api/v1/sessions` sets (HttpOnly, SameSite=Strict), as the \
                 workspace pages send it. Writes and WebSocket upgrades with it need the hub's own \
                 `Origin`, and writes a JSON body.",
            ))),
        );
    }
}

/// The document as served and as committed in `docs/openapi.json`: pretty JSON, one final
/// newline.
pub fn document_json() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .expect("an OpenAPI document always serializes");
    text.push('\n');
    text
}

static DOCUMENT: LazyLock<String> = LazyLock::new(document_json);

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(openapi_json))
}

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "documentation",
    summary = "This OpenAPI document",
    description = "The OpenAPI 3.1 document of the people API. Public: it needs no credentials.",
    responses(
        (status = 200, description = "The document.", content_type = "application/json", body = Object),
    )
)]
async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT.as_str())
}

// ---- Enumerations, as the domain spells them on the wire ----

/// Where a conversation is in its life.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    Open,
    Active,
    Waiting,
    WrapUp,
    Closed,
}

/// How a closed conversation ended.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    ResolvedByBot,
    ResolvedByAgent,
    Abandoned,
}

/// What a person may do.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Supervisor,
    Admin,
}

/// What an agent told the hub about their availability.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Available,
    Busy,
    BusyDnd,
    Away,
    Offline,
}

/// Who sent a transcript item.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SenderRole {
    Customer,
    Bot,
    Agent,
    System,
}

/// How a queue picks a member for the next conversation.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentMethod {
    HighestCapacity,
    RoundRobin,
    LeastActive,
}

/// What made the hub route a conversation (again).
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoutingCause {
    Opened,
    BotEscalated,
    BotUnavailable,
    Transferred,
}

/// Whether a conversation's owner is a bot or an agent.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OwnerKind {
    Bot,
    Agent,
}

/// Why an offer was taken back.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawReason {
    Declined,
    TimedOut,
    Ended,
    Unavailable,
    Assigned,
}

/// The kind of a transcript item.
#[derive(Debug, ToSchema)]
pub enum ItemType {
    #[serde(rename = "message")]
    Message,
    #[serde(rename = "endOfConversation")]
    EndOfConversation,
}

// ---- Errors ----

/// An error answer; the status says what kind.
#[derive(Debug, ToSchema)]
#[schema(example = json!({"error": {"code": "not_found", "message": "conversation `0195f3c2-0000-7000-8000-000000000000` does not exist"}}))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code, e.g. `invalid_body`, `invalid_id`, `invalid_state`,
    /// `invalid_queue`, `invalid_presence`, `invalid` (400); `unauthorized` (401); `forbidden`
    /// (403); `not_found` (404); `no_offer`, `not_active`, `not_waiting`, `not_wrap_up`,
    /// `no_capacity`, `agent_unavailable`, `bot_already_had_it`, `push_workstream`,
    /// `illegal_transition`, `ended` (409).
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

// ---- Sessions ----

/// A new session.
#[derive(Debug, ToSchema)]
pub struct SignedIn {
    /// The session token: send it as `Authorization: Bearer <token>`. It is shown only here.
    pub token: String,
    /// When the session ends (12 hours after signing in).
    #[schema(format = DateTime)]
    pub expires_at: String,
    pub user: SignedInUser,
}

/// The person signed in.
#[derive(Debug, ToSchema)]
pub struct SignedInUser {
    pub name: String,
    pub display_name: String,
    pub role: Role,
}

// ---- People and queues ----

/// A person with their presence and load (`GET /api/v1/me`, `GET /api/v1/agents`).
#[derive(Debug, ToSchema)]
pub struct Person {
    pub name: String,
    pub display_name: String,
    pub role: Role,
    pub presence: Presence,
    /// Units of work the person can hold at once.
    pub capacity: u32,
    /// Units of work taken now (offers and conversations held).
    pub used: u32,
    /// The queues the person is a member of.
    pub queues: Vec<String>,
}

/// Every person.
#[derive(Debug, ToSchema)]
pub struct AgentList {
    pub agents: Vec<Person>,
}

/// A queue with its members and how many conversations wait in it.
#[derive(Debug, ToSchema)]
pub struct QueueInfo {
    pub name: String,
    pub method: AssignmentMethod,
    /// Members in the order they were added.
    pub members: Vec<QueueMember>,
    /// How many conversations wait in the queue.
    pub waiting: u64,
}

/// A member of a queue: a person or a bot.
#[derive(Debug, ToSchema)]
pub struct QueueMember {
    pub name: String,
    /// `null` for a member the configuration does not know.
    #[schema(required = true)]
    pub display_name: Option<String>,
    pub bot: bool,
}

/// Every queue.
#[derive(Debug, ToSchema)]
pub struct QueueList {
    pub queues: Vec<QueueInfo>,
}

// ---- Conversations ----

/// Who owns an active conversation.
#[derive(Debug, ToSchema)]
pub struct Owner {
    pub kind: OwnerKind,
    pub name: String,
}

/// The customer on the other end.
#[derive(Debug, ToSchema)]
pub struct Customer {
    /// The channel's id for the customer (e.g. the Direct Line user id).
    pub id: String,
    #[schema(required = true)]
    pub name: Option<String>,
    #[schema(required = true)]
    pub email: Option<String>,
}

/// A context variable's value: a number or a text.
#[derive(Debug, ToSchema)]
#[serde(untagged)]
pub enum ContextValue {
    Number(f64),
    Text(String),
}

/// A conversation as lists and events show it.
#[derive(Debug, ToSchema)]
pub struct ConversationSummary {
    pub id: Uuid,
    pub workstream: String,
    pub state: ConversationState,
    /// The queue it was last routed to.
    #[schema(required = true)]
    pub queue: Option<String>,
    #[schema(required = true)]
    pub owner: Option<Owner>,
    pub customer: Customer,
    /// The context variables, by name.
    pub context: BTreeMap<String, ContextValue>,
    /// How it ended; `null` until it is closed.
    #[schema(required = true)]
    pub outcome: Option<Outcome>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// The customer's sentiment now.
    pub sentiment: SentimentValue,
    /// When it reached each point of its life (docs/analytics.md).
    pub milestones: MilestonesView,
    /// Its post-conversation survey; `null` when it had none (docs/bots.md).
    #[schema(required = true)]
    pub survey: Option<SurveyView>,
}

/// A post-conversation survey: its bot, when it ran, how it ended, and the answers.
#[derive(Debug, ToSchema)]
pub struct SurveyView {
    /// The survey bot.
    pub bot: String,
    #[schema(format = DateTime)]
    pub started_at: String,
    /// `null` while it runs.
    #[schema(required = true, format = DateTime)]
    pub ended_at: Option<String>,
    /// `completed` (the bot ended it), `customer_left`, `timed_out` or `bot_unavailable`;
    /// `null` while it runs.
    #[schema(required = true)]
    pub end: Option<String>,
    /// The customer's satisfaction, 1 … 5; `null` until given.
    #[schema(required = true)]
    pub csat: Option<u8>,
    /// Every answer by name: strings or whole numbers.
    pub answers: BTreeMap<String, serde_json::Value>,
}

/// A customer sentiment: the score and its level (docs/sentiment.md).
#[derive(Debug, ToSchema)]
pub struct SentimentValue {
    /// VADER's compound score: the mean of the latest six customer messages, −1 … +1; 0 before
    /// the first.
    pub score: f64,
    pub level: SentimentLevel,
}

/// The seven sentiment levels.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SentimentLevel {
    VeryNegative,
    Negative,
    SlightlyNegative,
    Neutral,
    SlightlyPositive,
    Positive,
    VeryPositive,
}

/// When a conversation reached each point of its life; `null` for the points it has not.
#[derive(Debug, ToSchema)]
pub struct MilestonesView {
    /// The first bot that owned it.
    #[schema(required = true)]
    pub bot: Option<String>,
    #[schema(required = true, format = DateTime)]
    pub bot_at: Option<String>,
    /// When a bot first escalated it.
    #[schema(required = true, format = DateTime)]
    pub escalated_at: Option<String>,
    /// Every agent who has owned it, in order.
    pub agents: Vec<String>,
    /// When an agent first got it.
    #[schema(required = true, format = DateTime)]
    pub agent_at: Option<String>,
    /// Since when it has been waiting for a person; `null` while someone has it.
    #[schema(required = true, format = DateTime)]
    pub waiting_since: Option<String>,
    /// Milliseconds it waited for a person in all, up to the last time one took it.
    pub wait_ms: u64,
    /// Transfers by agents, to a queue or to another agent.
    pub transfers: u32,
    /// When the owning agent ended it.
    #[schema(required = true, format = DateTime)]
    pub ended_at: Option<String>,
    #[schema(required = true, format = DateTime)]
    pub closed_at: Option<String>,
}

/// The conversations the caller may see.
#[derive(Debug, ToSchema)]
pub struct ConversationList {
    pub conversations: Vec<ConversationSummary>,
}

/// One conversation: its summary, with its routing trace and escalation summaries.
#[derive(Debug, ToSchema)]
pub struct ConversationDetail {
    #[serde(flatten)]
    pub summary: ConversationSummary,
    pub tenant: String,
    /// Bots that escalated it; none of them is offered it again.
    pub escalated_by: Vec<String>,
    /// The summaries bots left for agents when they escalated, in order.
    pub escalation_summaries: Vec<String>,
    pub bot_engaged: bool,
    pub agent_engaged: bool,
    /// Whether it is a call in progress on this hub (voice channel): its owner can join the
    /// audio at `/api/v1/conversations/{id}/audio`.
    pub call: bool,
    /// The offer waiting for an agent's answer, if any.
    #[schema(required = true)]
    pub offer: Option<PendingOffer>,
    /// Every routing decision, oldest first.
    pub routing: Vec<RoutingEntry>,
}

/// An offer waiting for an agent's answer, as a conversation shows it.
#[derive(Debug, ToSchema)]
pub struct PendingOffer {
    pub agent: String,
    pub queue: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
}

/// One routing decision.
#[derive(Debug, ToSchema)]
pub struct RoutingEntry {
    #[schema(format = DateTime)]
    pub at: String,
    pub cause: RoutingCause,
    pub queue: String,
    /// The rule that matched; `null` when none did and the fallback queue was used.
    #[schema(required = true)]
    pub rule: Option<String>,
    /// Every rule evaluated, in order, up to and including the first that matched.
    pub trace: Vec<RuleTrace>,
}

/// One rule's part in a routing decision.
#[derive(Debug, ToSchema)]
pub struct RuleTrace {
    pub rule: String,
    pub matched: bool,
    /// Why it matched or not, in words an operator reads.
    pub reason: String,
}

/// One transcript item.
#[derive(Debug, ToSchema)]
pub struct TranscriptItem {
    /// The item's position in the conversation's log.
    pub seq: u64,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ItemType,
    pub role: SenderRole,
    /// The sender's id on the channel (customer id, bot handle, agent name).
    pub sender: String,
    /// The display name shown.
    pub name: String,
    pub text: String,
    /// Whether it is an internal note.
    pub note: bool,
    /// Whether it is a smart-assist bot's suggestion for the owning agent (shown in the
    /// suggestions panel, never to the customer; its cards' `content` is included).
    pub suggestion: bool,
    /// Whether only agents and supervisors see it (notes, a bot's escalation summary).
    pub agents_only: bool,
    /// Whether a bot said it.
    pub bot: bool,
    pub attachments: Vec<AttachmentInfo>,
    #[schema(format = DateTime)]
    pub timestamp: String,
    /// A customer message's sentiment score (−1 … +1); `null` for everything else.
    #[schema(required = true)]
    pub sentiment: Option<f64>,
}

/// An attachment of a transcript item.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentInfo {
    #[schema(required = true)]
    pub name: Option<String>,
    #[schema(required = true)]
    pub content_type: Option<String>,
    #[schema(required = true)]
    pub content_url: Option<String>,
    /// A suggestion's inline card (an Adaptive Card, say); absent on other items.
    pub content: Option<serde_json::Value>,
}

/// A conversation's transcript.
#[derive(Debug, ToSchema)]
pub struct Transcript {
    pub activities: Vec<TranscriptItem>,
}

/// A message or note just written.
#[derive(Debug, ToSchema)]
pub struct Written {
    /// The activity id.
    pub id: String,
    /// Its position in the conversation's log.
    pub seq: u64,
}

/// A conversation offered to the caller.
#[derive(Debug, ToSchema)]
pub struct Offer {
    pub conversation: ConversationSummary,
    pub queue: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// The escalation summaries bots left, in order.
    pub summaries: Vec<String>,
}

/// The offers waiting for the caller's answer, soonest to expire first.
#[derive(Debug, ToSchema)]
pub struct OfferList {
    pub offers: Vec<Offer>,
}

// ---- Live events ----

/// One frame of `GET /api/v1/events` (a JSON text frame), told apart by `type`.
#[derive(Debug, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// The caller is offered a conversation.
    Offer { offer: Offer },
    /// An offer to the caller was taken back.
    OfferWithdrawn {
        conversation_id: Uuid,
        reason: WithdrawReason,
    },
    /// A conversation the caller may see changed.
    Conversation { conversation: ConversationSummary },
    /// A new transcript item of a conversation the caller may see.
    Activity {
        conversation_id: Uuid,
        activity: TranscriptItem,
    },
    /// The customer's sentiment in a conversation the caller may see changed.
    Sentiment {
        conversation_id: Uuid,
        sentiment: SentimentValue,
    },
    /// Someone's presence changed.
    Presence { user: String, presence: Presence },
    /// The connection fell behind and missed events: reload through the API.
    Lagged,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use super::*;

    const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

    /// Every operation under `/api/v1`, and whether it needs a session.
    const EXPECTED: &[(&str, &str, bool)] = &[
        ("post", "/api/v1/sessions", false),
        ("delete", "/api/v1/sessions/current", true),
        ("get", "/api/v1/me", true),
        ("put", "/api/v1/me/presence", true),
        ("get", "/api/v1/agents", true),
        ("get", "/api/v1/queues", true),
        ("get", "/api/v1/conversations", true),
        ("get", "/api/v1/conversations/{id}", true),
        ("get", "/api/v1/conversations/{id}/transcript", true),
        ("get", "/api/v1/conversations/{id}/audio", true),
        ("post", "/api/v1/conversations/{id}/accept", true),
        ("post", "/api/v1/conversations/{id}/decline", true),
        ("post", "/api/v1/conversations/{id}/pick", true),
        ("post", "/api/v1/conversations/{id}/messages", true),
        ("post", "/api/v1/conversations/{id}/notes", true),
        ("post", "/api/v1/conversations/{id}/transfer", true),
        ("post", "/api/v1/conversations/{id}/end", true),
        ("post", "/api/v1/conversations/{id}/close", true),
        ("post", "/api/v1/conversations/{id}/assign", true),
        ("post", "/api/v1/conversations/{id}/force-close", true),
        ("get", "/api/v1/offers", true),
        ("get", "/api/v1/events", true),
        ("get", "/api/v1/transcripts", true),
        ("get", "/api/v1/transcripts/export", true),
        ("get", "/api/v1/transcripts/{id}", true),
        ("get", "/api/v1/analytics", true),
        ("get", "/api/v1/usage", true),
        ("get", "/api/v1/openapi.json", false),
    ];

    fn document() -> Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap()
    }

    fn operations(doc: &Value) -> BTreeSet<(String, String)> {
        let mut ops = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                ops.insert((method.clone(), path.clone()));
            }
        }
        ops
    }

    fn expected() -> BTreeSet<(String, String)> {
        EXPECTED
            .iter()
            .map(|(method, path, _)| ((*method).to_owned(), (*path).to_owned()))
            .collect()
    }

    /// The method and path of every `/api/v1` route the crate's sources register with
    /// `Router::route`.
    fn registered_routes() -> BTreeSet<(String, String)> {
        fn visit(dir: &std::path::Path, found: &mut BTreeSet<(String, String)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    visit(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (_, rest) in text
                        .match_indices(".route(\"/api/v1")
                        .map(|(i, _)| text.split_at(i + 8))
                    {
                        let (route, rest) = rest.split_once('"').unwrap();
                        // The method router: `get(a)`, `axum::routing::put(b)`, `get(a).post(b)`.
                        let call = &rest[..rest.find("))").map_or(rest.len(), |i| i + 1)];
                        for method in ["get", "post", "put", "delete", "patch"] {
                            let called = call.match_indices(&format!("{method}(")).any(|(i, _)| {
                                i == 0
                                    || !call.as_bytes()[i - 1].is_ascii_alphanumeric() && call.as_bytes()[i - 1] != b'_'
                            });
                            if called {
                                found.insert((method.to_owned(), route.to_owned()));
                            }
                        }
                    }
                }
            }
        }
        let mut found = BTreeSet::new();
        visit(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        found
    }

    #[test]
    fn the_committed_document_is_up_to_date() {
        let rendered = document_json();
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
            std::fs::write(SNAPSHOT, &rendered).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
        assert!(
            committed == rendered,
            "docs/openapi.json is not the document the code generates; run \
             `UPDATE_SNAPSHOTS=1 cargo test -p switchboard-http openapi` and review the diff"
        );
    }

    #[test]
    fn every_registered_api_route_is_documented_with_its_method() {
        let registered = registered_routes();
        assert_eq!(registered, expected(), "the routers' /api/v1 routes");
        assert_eq!(operations(&document()), expected(), "the document's operations");
    }

    #[test]
    fn the_document_is_openapi_3_1_with_both_security_schemes() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["title"], "Switchboard people API");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["type"], "http");
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        assert_eq!(doc["components"]["securitySchemes"]["cookie"]["type"], "apiKey");
        assert_eq!(doc["components"]["securitySchemes"]["cookie"]["in"], "cookie");
        assert_eq!(doc["components"]["securitySchemes"]["cookie"]["name"], SESSION_COOKIE);
        for (method, path, authenticated) in EXPECTED {
            let op = &doc["paths"][path][method];
            let security = if *authenticated {
                json!([{"bearer": []}, {"cookie": []}])
            } else {
                Value::Null
            };
            assert_eq!(op["security"], security, "{method} {path}");
            if *authenticated {
                assert!(op["responses"]["401"].is_object(), "{method} {path} documents 401");
            }
            for (status, response) in op["responses"].as_object().unwrap() {
                if status.starts_with('4') && *path != "/api/v1/events" {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
        }
        assert!(doc["paths"]["/api/v1/events"]["get"]["responses"]["101"].is_object());
    }

    /// The keys of a schema's properties, following `allOf`, and whether all are required.
    fn properties(doc: &Value, name: &str) -> (BTreeSet<String>, BTreeSet<String>) {
        let schema = &doc["components"]["schemas"][name];
        let mut keys = BTreeSet::new();
        let mut required = BTreeSet::new();
        let parts = schema["allOf"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![schema.clone()]);
        for part in parts {
            let part = match part["$ref"].as_str() {
                Some(r) => doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")].clone(),
                None => part,
            };
            keys.extend(part["properties"].as_object().unwrap().keys().cloned());
            required.extend(
                part["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|v| v.as_str().unwrap().to_owned()),
            );
        }
        (keys, required)
    }

    fn keys(value: &Value) -> BTreeSet<String> {
        value.as_object().unwrap().keys().cloned().collect()
    }

    fn sample_conversation() -> domain::conversation::Conversation {
        domain::conversation::Conversation::open(
            domain::ConversationId(Uuid::nil()),
            domain::TenantName::new("T").unwrap(),
            domain::WorkstreamName::new("W").unwrap(),
            domain::conversation::Customer::default(),
            domain::context::Context::default(),
            domain::Timestamp(0),
        )
    }

    #[test]
    fn a_summary_and_a_transcript_item_have_exactly_the_documented_fields() {
        let doc = document();
        let summary = super::super::summary_json(&sample_conversation());
        let (documented, required) = properties(&doc, "ConversationSummary");
        assert_eq!(keys(&summary), documented);
        assert_eq!(required, documented, "every summary field is always written");
        let (customer, customer_required) = properties(&doc, "Customer");
        assert_eq!(keys(&summary["customer"]), customer);
        assert_eq!(customer_required, customer);

        let stored = domain::activity::StoredActivity {
            seq: domain::Seq(1),
            activity: domain::activity::NewActivity {
                id: "a1".to_owned(),
                kind: "message".to_owned(),
                sender_role: domain::activity::SenderRole::Agent,
                sender_id: "alice".to_owned(),
                visibility: domain::activity::Visibility::Everyone,
                timestamp: domain::Timestamp(0),
                body: json!({"text": "hi", "from": {"name": "Alice"}, "attachments": [{"name": "a.png"}]}).to_string(),
                sentiment: None,
            },
        };
        let item = super::super::item_json(&stored).unwrap();
        let (documented, required) = properties(&doc, "TranscriptItem");
        assert_eq!(keys(&item), documented);
        assert_eq!(required, documented, "every item field is always written");
        let (mut attachment, attachment_required) = properties(&doc, "AttachmentInfo");
        assert!(
            attachment.remove("content"),
            "a suggestion's card content is documented"
        );
        assert_eq!(keys(&item["attachments"][0]), attachment, "content only on suggestions");
        assert_eq!(attachment_required, attachment);
    }

    fn enum_values(doc: &Value, name: &str) -> Vec<String> {
        doc["components"]["schemas"][name]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} is an enum"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn the_documented_enumerations_are_the_domains() {
        fn spelled<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> Vec<String> {
            all.iter().map(|v| as_str(*v).to_owned()).collect()
        }
        let doc = document();
        use domain::activity::SenderRole as S;
        use domain::conversation::{ConversationState as C, Outcome as O};
        use domain::queue::AssignmentMethod as A;
        use domain::routing::RoutingCause as R;
        use domain::user::Role as U;
        assert_eq!(enum_values(&doc, "ConversationState"), spelled(C::ALL, C::as_str));
        assert_eq!(enum_values(&doc, "Outcome"), spelled(O::ALL, O::as_str));
        assert_eq!(enum_values(&doc, "Role"), spelled(U::ALL, U::as_str));
        assert_eq!(
            enum_values(&doc, "Presence"),
            spelled(domain::Presence::ALL, domain::Presence::as_str)
        );
        assert_eq!(enum_values(&doc, "SenderRole"), spelled(S::ALL, S::as_str));
        assert_eq!(enum_values(&doc, "AssignmentMethod"), spelled(A::ALL, A::as_str));
        assert_eq!(enum_values(&doc, "RoutingCause"), spelled(R::ALL, R::as_str));
        use engine::Withdrawn as W;
        assert_eq!(
            enum_values(&doc, "WithdrawReason"),
            spelled(
                &[W::Declined, W::TimedOut, W::Ended, W::Unavailable, W::Assigned],
                W::as_str
            )
        );
    }

    /// A hub with nobody in it, over a fresh SQLite store in `dir`.
    async fn empty_hub(test: &str) -> (AppState, std::sync::Arc<dyn store::Store>, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("switchboard-openapi-{test}-{}", std::process::id()));
        let store = store::open(&format!("sqlite://{}/hub.db", dir.display()))
            .await
            .unwrap();
        let tenant =
            domain::tenant::Tenant::new(domain::TenantName::new("T").unwrap(), vec![], vec![], vec![]).unwrap();
        let state = AppState {
            hub: std::sync::Arc::new(engine::Hub::new(tenant, store.clone())),
            metrics: crate::prometheus_handle(),
            admin_token: "test-admin-token".into(),
            directline: Default::default(),
            voice: None,
            security: Default::default(),
        };
        (state, store, dir)
    }

    #[tokio::test]
    async fn a_person_a_conversation_and_an_offer_have_exactly_the_documented_fields() {
        let (state, store, dir) = empty_hub("fields").await;
        let doc = document();

        let user = domain::user::User {
            name: domain::UserName::new("alice").unwrap(),
            display_name: domain::user::DisplayName::new("Alice Park").unwrap(),
            kind: domain::user::UserKind::Human {
                role: domain::user::Role::Agent,
                capacity: domain::user::Capacity(2),
            },
        };
        let person = super::super::people::person_json(&state, &user, engine::MemberSnapshot::default()).unwrap();
        let (documented, required) = properties(&doc, "Person");
        assert_eq!(keys(&person), documented);
        assert_eq!(required, documented);

        let trace: domain::RuleTrace =
            serde_json::from_value(json!({"rule": "R", "matched": true, "reason": "it matched"})).unwrap();
        let details = engine::ConversationDetails {
            conversation: sample_conversation(),
            routing: vec![store::RoutingRecord {
                at: domain::Timestamp(0),
                decision: domain::RoutingDecision {
                    cause: domain::RoutingCause::Opened,
                    queue: domain::QueueName::new("Q").unwrap(),
                    rule: None,
                    trace: vec![trace],
                },
            }],
            escalation_summaries: vec!["wants a human".to_owned()],
        };
        let conversation = super::super::conversations::conversation_json(&state, &details, None);
        let (documented, required) = properties(&doc, "ConversationDetail");
        assert_eq!(keys(&conversation), documented);
        assert_eq!(required, documented, "every conversation field is always written");
        let (routing, routing_required) = properties(&doc, "RoutingEntry");
        assert_eq!(keys(&conversation["routing"][0]), routing);
        assert_eq!(routing_required, routing);
        let (rule, _) = properties(&doc, "RuleTrace");
        assert_eq!(keys(&conversation["routing"][0]["trace"][0]), rule);
        let (pending, _) = properties(&doc, "PendingOffer");
        assert_eq!(
            pending,
            BTreeSet::from(["agent", "queue", "expires_at"].map(str::to_owned))
        );

        let offer =
            super::super::live::offer_json(&domain::QueueName::new("Q").unwrap(), domain::Timestamp(0), &details);
        let (documented, required) = properties(&doc, "Offer");
        assert_eq!(keys(&offer), documented);
        assert_eq!(required, documented);

        store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn every_documented_operation_is_routed_and_asks_for_the_credentials_it_documents() {
        let (state, store, dir) = empty_hub("routes").await;
        let app = crate::router(state);
        for (method, path, authenticated) in EXPECTED {
            let uri = path.replace("{id}", &Uuid::nil().to_string());
            let request = Request::builder()
                .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
                .uri(&uri)
                .body(Body::empty())
                .unwrap();
            let status = app.clone().oneshot(request).await.unwrap().status();
            assert!(
                status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is not routed ({status})"
            );
            assert_eq!(
                status == StatusCode::UNAUTHORIZED,
                *authenticated,
                "{method} {path} without credentials answered {status}"
            );
        }
        let response = app
            .oneshot(Request::get("/api/v1/openapi.json").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(response.into_body(), 1 << 22).await.unwrap();
        assert_eq!(std::str::from_utf8(&body).unwrap(), document_json());
        store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
