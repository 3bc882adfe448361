//! The built-in demo bot: the "Contoso assistant" that `switchboard serve` runs by default, so
//! the sample's main flow works without writing a bot first.
//!
//! It is an ordinary Bot Framework bot, kept apart from the hub: the hub POSTs activities to its
//! `POST /api/messages` and it answers through the Connector API under the incoming
//! `serviceUrl`, exactly as an SDK bot in anonymous mode does (no `Authorization` header, and
//! `serviceUrl` trusted as given). It greets the customer, answers two questions (opening hours,
//! changing an address), escalates with Omnichannel's `Escalate` command, topic `CreditCard` or
//! `HomeLoan` (or none, when the customer asks for a person), and ends the conversation with
//! `EndConversation` when the customer says goodbye.
//!
//! The decision is the pure [`respond`]; [`serve`] only parses, delivers the replies in order and
//! answers the hub's POST after the turn, as the SDK's `CloudAdapter` does.

use std::future::Future;

use botframework::omnichannel::{self, SET_CONTEXT_EVENT, START_CONVERSATION_EVENT};
use botframework::{Activity, ActivityType};
use serde_json::{Map, Value};
use tokio::net::TcpListener;

use crate::builtin_bot;

/// What the bot says to every customer who joins: it names everything the bot can do.
pub const GREETING: &str = "Hi, I'm the Contoso assistant. Ask me about opening hours or changing your address, \
     or say \"credit card\" or \"home loan\" to talk to a specialist (\"agent\" for anyone). Say \"bye\" to finish.";

pub const HELP: &str = "Sorry, I didn't get that. I can tell you our opening hours or how to change your address; \
     say \"credit card\" or \"home loan\" to talk to a specialist, \"agent\" to talk to a person, or \"bye\" to finish.";
pub const OPENING_HOURS: &str = "We're open Monday to Friday, 8:00–18:00, and Saturday, 9:00–13:00.";
pub const ADDRESS_CHANGE: &str = "To change your address, sign in to online banking and open Profile › Address, \
     or visit any branch with proof of your new address. The change takes effect within two working days.";
pub const BALANCE: &str = "For your security I can't read balances out on this line. You can see your balance any time in online banking \
     under Accounts, or say \"agent\" to talk to a person.";
/// The choices offered under the bot's answers, as suggested actions (`imBack`): buttons in a
/// chat, and on a call the phrases the hub listens for.
pub const CHOICES: [(&str, &str); 7] = [
    ("Check my balance", "check my balance"),
    ("Opening hours", "opening hours"),
    ("Change my address", "change my address"),
    ("Credit card", "credit card"),
    ("Home loan", "home loan"),
    ("Talk to an agent", "agent"),
    ("Bye", "bye"),
];
const GOODBYE: &str = "Thanks for chatting with Contoso. Goodbye!";
const ENDED: &str = "The Contoso assistant ended the conversation.";

/// The context variable Omnichannel's sample routes escalations on.
const HANDOFF_TOPIC: &str = "BotHandoffTopic";
/// How much of the customer's words an escalation summary quotes, so it stays far below the
/// 28 KB activity limit whatever the customer wrote.
const SUMMARY_QUOTE_CHARS: usize = 500;

/// The context variables the bot was given per conversation (by the `startConversation` event),
/// bounded so a hub that never ends its conversations cannot grow it without limit.
///
/// Entries go when the bot leaves the conversation (it escalates or ends it, is removed, or gets
/// `endOfConversation`); when full, the oldest entry makes room for the new one.
pub type Memory = builtin_bot::Memory<Map<String, Value>>;

impl Memory {
    /// The context remembered for `conversation`.
    pub fn context(&self, conversation: &str) -> Option<Map<String, Value>> {
        self.get(conversation)
    }
}

/// The replies to `incoming`, in the order they must be sent, each addressed as a reply to it
/// (no `id`; the hub assigns one). Updates `memory` as a side effect; does no I/O.
///
/// Customer-facing messages are marked `deliveryMode: bridged`, so they reach the customer even
/// when the bot is configured with `require_bridged`; escalation summaries are for agents only.
pub fn respond(incoming: &Activity, memory: &Memory) -> Vec<Activity> {
    let conversation = incoming.conversation.as_ref().map(|c| c.id.as_str());
    let bot = incoming.recipient.as_ref().map(|r| r.id.as_str());
    match &incoming.kind {
        ActivityType::ConversationUpdate => {
            let bot_removed = incoming
                .members_removed
                .iter()
                .flatten()
                .any(|member| Some(member.id.as_str()) == bot);
            if let Some(conversation) = conversation
                && bot_removed
            {
                memory.forget(conversation);
            }
            incoming
                .members_added
                .iter()
                .flatten()
                .filter(|member| Some(member.id.as_str()) != bot)
                .map(|_| with_choices(to_customer(GREETING, incoming)))
                .collect()
        }
        ActivityType::Event
            if matches!(
                incoming.name.as_deref(),
                Some(START_CONVERSATION_EVENT | SET_CONTEXT_EVENT)
            ) =>
        {
            if let Some(conversation) = conversation {
                let context = match &incoming.value {
                    Some(Value::Object(context)) => context.clone(),
                    _ => Map::new(),
                };
                memory.remember(conversation, context);
            }
            Vec::new()
        }
        ActivityType::EndOfConversation => {
            if let Some(conversation) = conversation {
                memory.forget(conversation);
            }
            Vec::new()
        }
        ActivityType::Message => {
            let text = incoming.text.as_deref().unwrap_or_default();
            let replies = answer(Intent::of(text), text, incoming);
            if let Some(conversation) = conversation
                && replies
                    .iter()
                    .any(|reply| omnichannel::command(reply).ok().flatten().is_some())
            {
                memory.forget(conversation);
            }
            replies
        }
        _ => Vec::new(),
    }
}

/// What a customer's message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    Specialist(Topic),
    Person,
    Hours,
    Address,
    Balance,
    Goodbye,
    Help,
}

/// The escalation topics the sample's routing rules know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Topic {
    CreditCard,
    HomeLoan,
}

impl Topic {
    /// The value of `BotHandoffTopic`, as the sample's rules compare it.
    fn as_str(self) -> &'static str {
        match self {
            Self::CreditCard => "CreditCard",
            Self::HomeLoan => "HomeLoan",
        }
    }
}

impl Intent {
    /// Reads `text` by whole words, ignoring case. Escalations come first, so "I want to talk to
    /// someone about my card" reaches a credit card specialist; questions come before goodbye.
    fn of(text: &str) -> Self {
        let lowered = text.to_lowercase();
        let words: Vec<&str> = lowered
            .split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .collect();
        let mentions = |keywords: &[&str]| words.iter().any(|word| keywords.contains(word));
        if mentions(&["card", "cards", "creditcard"]) {
            Self::Specialist(Topic::CreditCard)
        } else if mentions(&["loan", "loans", "homeloan", "mortgage", "mortgages"]) {
            Self::Specialist(Topic::HomeLoan)
        } else if mentions(&["agent", "agents", "human", "person", "representative"]) {
            Self::Person
        } else if mentions(&["hours", "hour", "opening"]) {
            Self::Hours
        } else if mentions(&["address"]) {
            Self::Address
        } else if mentions(&["balance", "balances"]) {
            Self::Balance
        } else if mentions(&["bye", "goodbye"]) {
            Self::Goodbye
        } else {
            Self::Help
        }
    }
}

fn answer(intent: Intent, text: &str, incoming: &Activity) -> Vec<Activity> {
    let reply = |activity: Activity| activity.in_reply_to(incoming);
    match intent {
        Intent::Hours => vec![with_choices(to_customer(OPENING_HOURS, incoming))],
        Intent::Address => vec![with_choices(to_customer(ADDRESS_CHANGE, incoming))],
        Intent::Balance => vec![with_choices(to_customer(BALANCE, incoming))],
        Intent::Help => vec![with_choices(to_customer(HELP, incoming))],
        Intent::Specialist(topic) => {
            let (announcement, subject) = match topic {
                Topic::CreditCard => ("Let me connect you with a credit card specialist.", "their credit card"),
                Topic::HomeLoan => ("Let me connect you with a home loan specialist.", "a home loan"),
            };
            let mut context = Map::new();
            context.insert(HANDOFF_TOPIC.to_owned(), Value::from(topic.as_str()));
            vec![
                to_customer(announcement, incoming),
                reply(omnichannel::escalate_activity(
                    format!("Customer asked about {subject}: \"{}\"", quote(text)),
                    context,
                )),
            ]
        }
        Intent::Person => vec![
            to_customer("Let me connect you with one of our agents.", incoming),
            reply(omnichannel::escalate_activity(
                format!("Customer asked to talk to a person: \"{}\"", quote(text)),
                Map::new(),
            )),
        ],
        Intent::Goodbye => vec![
            to_customer(GOODBYE, incoming),
            reply(omnichannel::end_conversation_activity(ENDED)),
        ],
    }
}

fn to_customer(text: &str, incoming: &Activity) -> Activity {
    omnichannel::bridged(Activity::message(text).in_reply_to(incoming))
}

/// `activity` with the bot's [`CHOICES`] as suggested actions.
fn with_choices(mut activity: Activity) -> Activity {
    activity.suggested_actions = Some(botframework::SuggestedActions {
        to: None,
        actions: CHOICES
            .iter()
            .map(|(title, value)| botframework::CardAction::im_back(*title, *value))
            .collect(),
        extra: Map::new(),
    });
    activity
}

fn quote(text: &str) -> String {
    let trimmed = text.trim();
    match trimmed.char_indices().nth(SUMMARY_QUOTE_CHARS) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}

/// Serves the demo bot's `POST /api/messages` on `listener` until `shutdown` completes.
///
/// Each turn's replies are sent in order through the Connector API under the incoming
/// `serviceUrl` (each call times out after 10 s), and only then is the hub's POST answered:
/// 200 with an empty body; 400 `{"error":{code,message}}` for a body that is not an activity;
/// 500 when a reply could not be delivered (the remaining replies are not sent). The hub must
/// therefore serve Connector calls while its POST is outstanding.
pub async fn serve(listener: TcpListener, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    builtin_bot::serve("demo bot", router("/api/messages", None)?, listener, shutdown).await
}

/// The demo bot as `POST path`, for the hub's own listener; with `cluster`, its memory is kept
/// in the cluster's database (see [`builtin_bot::router`]).
pub fn router(path: &str, cluster: Option<std::sync::Arc<store::Cluster>>) -> std::io::Result<axum::Router> {
    // Shared by all turns, which run concurrently; `Memory` locks internally.
    let memory = std::sync::Arc::new(Memory::default());
    let shared = cluster.map(|cluster| builtin_bot::SharedMemory {
        memory: memory.clone(),
        cluster,
    });
    builtin_bot::router(
        "demo bot",
        move |incoming: &Activity| respond(incoming, &memory),
        path,
        shared,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin_bot::{DeliveryError, connector_url};
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use axum::{Json, Router};
    use botframework::connector::{ErrorCode, ErrorResponse, ResourceResponse};
    use botframework::omnichannel::{DELIVERY_MODE_KEY, TAGS_KEY};
    use botframework::validate;
    use serde_json::json;
    use std::sync::{Arc, Mutex};

    fn activity(value: Value) -> Activity {
        crate::builtin_bot::test_activity("DemoBot", "Contoso Assistant", value)
    }

    fn says(text: &str) -> Activity {
        activity(json!({"type": "message", "text": text}))
    }

    fn tags(reply: &Activity) -> Option<&str> {
        reply.channel_data_field(TAGS_KEY).and_then(Value::as_str)
    }

    fn is_bridged(reply: &Activity) -> bool {
        reply.channel_data_field(DELIVERY_MODE_KEY) == Some(&json!("bridged"))
    }

    fn started(memory: &Memory) {
        let event = activity(json!({"type": "event", "name": "startConversation", "value": {"Region": "West"}}));
        assert!(respond(&event, memory).is_empty());
    }

    #[test]
    fn a_joining_customer_is_greeted_and_the_bot_itself_is_not() {
        let update = activity(json!({
            "type": "conversationUpdate",
            "membersAdded": [{"id": "DemoBot"}, {"id": "u-42", "name": "Customer"}]
        }));
        let replies = respond(&update, &Memory::default());
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].text.as_deref(), Some(GREETING));
        assert_eq!(replies[0].recipient.as_ref().unwrap().id, "u-42");
        assert!(is_bridged(&replies[0]));
    }

    #[test]
    fn the_greeting_names_everything_the_bot_can_do() {
        for skill in ["opening hours", "address", "credit card", "home loan", "bye"] {
            assert!(GREETING.contains(skill), "the greeting does not mention {skill}");
        }
    }

    #[test]
    fn the_start_conversation_event_is_remembered_without_a_reply() {
        let memory = Memory::default();
        started(&memory);
        assert_eq!(
            memory.context("conv-1"),
            Some(json!({"Region": "West"}).as_object().unwrap().clone())
        );
    }

    #[test]
    fn a_full_memory_forgets_its_oldest_conversation() {
        let memory = Memory::new(2);
        for conversation in ["a", "b", "c"] {
            memory.remember(conversation, Map::new());
        }
        assert_eq!(memory.len(), 2);
        assert!(memory.context("a").is_none());
        assert!(memory.context("b").is_some() && memory.context("c").is_some());
    }

    #[test]
    fn asking_about_opening_hours_gets_the_opening_hours() {
        let replies = respond(&says("What are your opening hours?"), &Memory::default());
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].text.as_deref(), Some(OPENING_HOURS));
    }

    #[test]
    fn asking_to_change_an_address_explains_how() {
        let replies = respond(&says("I moved, how do I update my address?"), &Memory::default());
        assert_eq!(replies[0].text.as_deref(), Some(ADDRESS_CHANGE));
    }

    #[test]
    fn asking_about_a_credit_card_escalates_with_topic_credit_card() {
        let replies = respond(&says("My credit card was declined"), &Memory::default());
        assert_eq!(replies.len(), 2);
        assert_eq!(
            replies[0].text.as_deref(),
            Some("Let me connect you with a credit card specialist.")
        );
        assert_eq!(tags(&replies[0]), None);
        assert_eq!(
            tags(&replies[1]),
            Some(r#"{"type":"Escalate","context":{"BotHandoffTopic":"CreditCard"}}"#)
        );
        assert_eq!(
            replies[1].text.as_deref(),
            Some("Customer asked about their credit card: \"My credit card was declined\"")
        );
        assert!(!is_bridged(&replies[1]), "the summary is for agents only");
    }

    #[test]
    fn asking_about_a_mortgage_escalates_with_topic_home_loan() {
        let replies = respond(&says("Can I get a MORTGAGE?"), &Memory::default());
        assert_eq!(
            tags(&replies[1]),
            Some(r#"{"type":"Escalate","context":{"BotHandoffTopic":"HomeLoan"}}"#)
        );
    }

    #[test]
    fn asking_for_a_person_escalates_without_a_topic() {
        let replies = respond(&says("Let me talk to a human"), &Memory::default());
        assert_eq!(
            replies[0].text.as_deref(),
            Some("Let me connect you with one of our agents.")
        );
        assert_eq!(tags(&replies[1]), Some(r#"{"type":"Escalate","context":{}}"#));
    }

    #[test]
    fn keywords_are_read_regardless_of_case() {
        let replies = respond(&says("CREDIT CARD"), &Memory::default());
        assert!(tags(&replies[1]).unwrap().contains("CreditCard"));
        assert_eq!(
            respond(&says("HOURS"), &Memory::default())[0].text.as_deref(),
            Some(OPENING_HOURS)
        );
    }

    #[test]
    fn keywords_inside_other_words_do_not_count() {
        let replies = respond(&says("Please discard my old statements"), &Memory::default());
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].text.as_deref(), Some(HELP));
    }

    #[test]
    fn saying_bye_says_goodbye_then_ends_the_conversation() {
        let replies = respond(&says("ok, bye!"), &Memory::default());
        assert_eq!(replies.len(), 2);
        assert_eq!(replies[0].text.as_deref(), Some(GOODBYE));
        assert!(is_bridged(&replies[0]));
        assert_eq!(tags(&replies[1]), Some(r#"{"type":"EndConversation","context":{}}"#));
    }

    #[test]
    fn escalating_or_ending_forgets_the_conversation() {
        for text in ["card please", "goodbye"] {
            let memory = Memory::default();
            started(&memory);
            respond(&says(text), &memory);
            assert!(memory.is_empty(), "`{text}` left the context behind");
        }
    }

    #[test]
    fn an_ordinary_answer_keeps_the_conversation_remembered() {
        let memory = Memory::default();
        started(&memory);
        respond(&says("hours?"), &memory);
        assert_eq!(memory.len(), 1);
    }

    #[test]
    fn the_end_of_the_conversation_or_removing_the_bot_forgets_it() {
        for ended in [
            activity(json!({"type": "endOfConversation"})),
            activity(json!({"type": "conversationUpdate", "membersRemoved": [{"id": "DemoBot"}]})),
        ] {
            let memory = Memory::default();
            started(&memory);
            assert!(respond(&ended, &memory).is_empty());
            assert!(memory.is_empty());
        }
    }

    #[test]
    fn anything_else_gets_the_help_text() {
        for text in ["what's the weather like?", ""] {
            let replies = respond(&says(text), &Memory::default());
            assert_eq!(replies[0].text.as_deref(), Some(HELP));
        }
    }

    #[test]
    fn typing_and_unknown_events_get_no_reply() {
        let memory = Memory::default();
        assert!(respond(&activity(json!({"type": "typing"})), &memory).is_empty());
        assert!(respond(&activity(json!({"type": "event", "name": "webchat/join"})), &memory).is_empty());
        assert!(memory.is_empty());
    }

    #[test]
    fn every_reply_answers_the_incoming_activity_and_passes_the_hubs_checks() {
        for text in ["hours", "address", "card", "loan", "agent", "bye", "hello"] {
            for reply in respond(&says(text), &Memory::default()) {
                assert_eq!(reply.id, None);
                assert_eq!(reply.reply_to_id.as_deref(), Some("act-7"));
                assert_eq!(reply.from.as_ref().unwrap().id, "DemoBot");
                assert_eq!(reply.recipient.as_ref().unwrap().id, "u-42");
                assert_eq!(reply.conversation.as_ref().unwrap().id, "conv-1");
                validate::validate_from_bot(&reply).unwrap();
            }
        }
    }

    #[test]
    fn a_long_message_is_quoted_shortened_in_the_summary() {
        let long = "card ".repeat(2_000);
        let replies = respond(&says(&long), &Memory::default());
        assert!(replies[1].text.as_ref().unwrap().chars().count() < SUMMARY_QUOTE_CHARS + 100);
    }

    #[test]
    fn replies_go_under_the_service_url_with_or_without_a_trailing_slash() {
        for service_url in ["http://hub.example/bf", "http://hub.example/bf/"] {
            let mut incoming = says("hi");
            incoming.service_url = Some(service_url.to_owned());
            incoming.conversation.as_mut().unwrap().id = "conv 1/x".to_owned();
            let reply = Activity::message("x").in_reply_to(&incoming);
            assert_eq!(
                connector_url(&reply).unwrap().as_str(),
                "http://hub.example/bf/v3/conversations/conv%201%2Fx/activities/act-7"
            );
        }
    }

    #[test]
    fn a_reply_to_an_activity_without_id_is_sent_to_the_conversation() {
        let mut incoming = says("hi");
        incoming.id = None;
        let reply = Activity::message("x").in_reply_to(&incoming);
        assert_eq!(
            connector_url(&reply).unwrap().as_str(),
            "http://hub.example/v3/conversations/conv-1/activities"
        );
    }

    #[test]
    fn a_reply_without_a_usable_service_url_is_not_sent() {
        let mut incoming = says("hi");
        incoming.service_url = None;
        assert!(matches!(
            connector_url(&Activity::reply_to(&incoming)),
            Err(DeliveryError::Unaddressed("serviceUrl"))
        ));
        incoming.service_url = Some("file:///etc".to_owned());
        assert!(matches!(
            connector_url(&Activity::reply_to(&incoming)),
            Err(DeliveryError::BadServiceUrl { .. })
        ));
    }

    /// What the stand-in channel received: path, the two headers that matter, and the activity.
    #[derive(Debug)]
    struct Received {
        path: String,
        conversation_header: Option<String>,
        authorization: Option<String>,
        activity: Activity,
    }

    type Log = Arc<Mutex<Vec<Received>>>;

    /// A stand-in for the hub's Connector API: records every POST and answers with an id, or
    /// refuses replies in conversation `gone`.
    async fn start_channel() -> (String, Log) {
        async fn record(
            State(log): State<Log>,
            uri: axum::http::Uri,
            headers: axum::http::HeaderMap,
            body: Bytes,
        ) -> Response {
            let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
            let received = Received {
                path: uri.path().to_owned(),
                conversation_header: header("x-ms-conversation-id"),
                authorization: header("authorization"),
                activity: serde_json::from_slice(&body).unwrap(),
            };
            let gone = received.path.contains("/gone/");
            log.lock().unwrap().push(received);
            if gone {
                let refusal = ErrorResponse::new(ErrorCode::ConversationNotFound, "no such conversation");
                return (StatusCode::NOT_FOUND, Json(refusal)).into_response();
            }
            Json(ResourceResponse::new("hub-act-1")).into_response()
        }
        let log = Log::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/bf/", listener.local_addr().unwrap());
        let app = Router::new().fallback(post(record)).with_state(log.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, log)
    }

    #[tokio::test]
    async fn the_served_bot_refuses_bad_json_and_greets_through_the_connector_before_answering() {
        let (service_url, log) = start_channel().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/api/messages", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let bot = tokio::spawn(serve(listener, async {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::new();

        let refused = client
            .post(&endpoint)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        let refusal: ErrorResponse = refused.json().await.unwrap();
        assert_eq!(refusal.error.code, ErrorCode::BadSyntax);

        let update = |conversation: &str| {
            json!({
                "type": "conversationUpdate", "id": "act-1", "serviceUrl": service_url,
                "channelId": "directline", "conversation": {"id": conversation},
                "from": {"id": "u-42"}, "recipient": {"id": "DemoBot"},
                "membersAdded": [{"id": "DemoBot"}, {"id": "u-42"}]
            })
        };
        let answered = client.post(&endpoint).json(&update("conv-1")).send().await.unwrap();
        assert_eq!(answered.status(), StatusCode::OK);
        {
            // The bot answers only after its turn, so the greeting must already be here.
            let log = log.lock().unwrap();
            assert_eq!(log.len(), 1);
            let greeting = &log[0];
            assert_eq!(greeting.path, "/bf/v3/conversations/conv-1/activities/act-1");
            assert_eq!(greeting.conversation_header.as_deref(), Some("conv-1"));
            assert_eq!(greeting.authorization, None);
            assert_eq!(greeting.activity.text.as_deref(), Some(GREETING));
            assert_eq!(greeting.activity.reply_to_id.as_deref(), Some("act-1"));
            assert_eq!(greeting.activity.from.as_ref().unwrap().id, "DemoBot");
            assert_eq!(greeting.activity.recipient.as_ref().unwrap().id, "u-42");
            assert_eq!(greeting.activity.id, None);
        }

        let failed = client.post(&endpoint).json(&update("gone")).send().await.unwrap();
        assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let failure: ErrorResponse = failed.json().await.unwrap();
        assert_eq!(failure.error.code, ErrorCode::ServiceError);

        stop.send(()).unwrap();
        bot.await.unwrap().unwrap();
    }
}
