//! The built-in survey bot: asks the customer how satisfied they were after an agent ended the
//! conversation, reports the answers to the hub, and closes the conversation.
//!
//! The contract with the hub: when an agent ends a conversation, the hub hands it to this bot,
//! which receives a `conversationUpdate` (the bot and the customer join), then the
//! `startConversation` event (its `value` holds the context variables, `msdyn_liveworkitemid` and
//! `msdyn_survey: {"agent", "ended_by"}`, none of which this bot needs), then each customer
//! message. The bot reports answers as `event` activities named [`SURVEY_RESPONSE_EVENT`] whose
//! `value` is a JSON object of answers — [`CSAT_KEY`] an integer 1–5 (the score analytics
//! average), [`COMMENT_KEY`] free text — and finishes with Omnichannel's `EndConversation`
//! command.
//!
//! The conversation it runs, per conversation id:
//!
//! 1. on `startConversation`: the rating prompt, with `imBack` buttons "1" to "5";
//! 2. the customer's rating — the first number in the text ("4", "5 stars", "4/5") or a number
//!    word ("four"); anything else, or a number outside 1–5, repeats the question briefly. A
//!    valid rating is reported as `{"csat": n}`, followed by an invitation to comment (button
//!    "skip");
//! 3. the next message is reported as `{"comment": "…"}` (trimmed, at most 1,000 characters)
//!    unless it declines ("skip", "no", "nothing", …); then the goodbye, carrying the
//!    `EndConversation` command.
//!
//! A customer message in a conversation the bot knows nothing of (it was restarted, or the
//! conversation was evicted from its bounded memory) starts the survey at step 1, so the
//! customer is never left without an answer; messages after the goodbye get no reply, since the
//! hub is closing the conversation. The decision is the pure [`respond`]; [`serve`] runs it as a
//! Bot Framework bot (see [`builtin_bot`](crate::builtin_bot)).

use std::future::Future;

use botframework::omnichannel::{self, SET_CONTEXT_EVENT, START_CONVERSATION_EVENT};
use botframework::{Activity, ActivityType, CardAction, SuggestedActions};
use serde_json::{Map, Value};
use tokio::net::TcpListener;

use crate::builtin_bot::{self, Memory};

/// The name of the event the bot reports answers with: the hub's own constant.
pub use engine::SURVEY_RESPONSE_EVENT;
/// The answer holding the satisfaction score, an integer 1–5.
pub const CSAT_KEY: &str = "csat";
/// The answer holding the customer's free-text comment.
pub const COMMENT_KEY: &str = "comment";
/// The longest comment reported, in characters; the rest is cut off.
pub const MAX_COMMENT_CHARS: usize = 1_000;

/// The question that opens the survey.
pub const RATING_PROMPT: &str = "Thanks for contacting Contoso! How satisfied were you with the help you got today? \
     Please rate from 1 (very dissatisfied) to 5 (very satisfied).";
const RATING_AGAIN: &str = "Sorry, I didn't catch that. Please rate from 1 (very dissatisfied) to 5 (very satisfied).";
const COMMENT_PROMPT: &str = "Thank you! Anything you'd like to add? Type your comment, or 'skip'.";
const FAREWELL: &str = "Thank you for your feedback. Goodbye!";

const RATING_BUTTONS: [&str; 5] = ["1", "2", "3", "4", "5"];
const SKIP: &str = "skip";
/// Answers to the comment invitation that mean "no comment", compared without case and
/// trailing punctuation.
const DECLINES: [&str; 8] = [
    "skip",
    "no",
    "nothing",
    "none",
    "nope",
    "no thanks",
    "no thank you",
    "nothing else",
];

/// Where a conversation's survey stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Stage {
    /// The rating question was asked.
    AwaitingRating,
    /// The rating was reported; the comment invitation was sent.
    AwaitingComment,
    /// The goodbye and `EndConversation` were sent; nothing more is said.
    Finished,
}

/// The survey bot's state: each conversation's [`Stage`], forgotten when the bot is removed
/// from the conversation or gets `endOfConversation`.
pub type Surveys = Memory<Stage>;

/// A customer satisfaction score: 1 (very dissatisfied) to 5 (very satisfied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Csat(u8);

impl Csat {
    /// The score `value`, when it is 1 to 5.
    pub fn new(value: u8) -> Option<Self> {
        (1..=5).contains(&value).then_some(Self(value))
    }

    /// Reads a rating from what a customer typed: the first number in the text ("4", "5 stars",
    /// "4/5", "I'd say 3") or number word ("four"), which must be 1 to 5. "10/10" is no rating.
    pub fn from_text(text: &str) -> Option<Self> {
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
        {
            let digits = word.find(|c: char| !c.is_ascii_digit()).unwrap_or(word.len());
            if digits > 0 {
                return word[..digits].parse().ok().and_then(Self::new);
            }
            let value = match word.to_lowercase().as_str() {
                "one" => 1,
                "two" => 2,
                "three" => 3,
                "four" => 4,
                "five" => 5,
                _ => continue,
            };
            return Self::new(value);
        }
        None
    }

    /// The score as a number.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// The replies to `incoming`, in the order they must be sent, each addressed as a reply to it.
/// Updates `surveys` as a side effect; does no I/O.
///
/// Messages for the customer are marked `deliveryMode: bridged`; the `surveyResponse` events
/// are for the hub only.
pub fn respond(incoming: &Activity, surveys: &Surveys) -> Vec<Activity> {
    let Some(conversation) = incoming.conversation.as_ref().map(|c| c.id.as_str()) else {
        return Vec::new();
    };
    match &incoming.kind {
        ActivityType::ConversationUpdate => {
            if builtin_bot::removes_recipient(incoming) {
                surveys.forget(conversation);
            }
            Vec::new()
        }
        ActivityType::Event
            if matches!(
                incoming.name.as_deref(),
                Some(START_CONVERSATION_EVENT | SET_CONTEXT_EVENT)
            ) =>
        {
            surveys.remember(conversation, Stage::AwaitingRating);
            vec![ask_rating(RATING_PROMPT, incoming)]
        }
        ActivityType::EndOfConversation => {
            surveys.forget(conversation);
            Vec::new()
        }
        ActivityType::Message => {
            let text = incoming.text.as_deref().unwrap_or_default();
            answer(surveys.get(conversation), text, conversation, incoming, surveys)
        }
        _ => Vec::new(),
    }
}

fn answer(
    stage: Option<Stage>,
    text: &str,
    conversation: &str,
    incoming: &Activity,
    surveys: &Surveys,
) -> Vec<Activity> {
    match stage {
        None => {
            tracing::debug!(conversation.id = conversation, "a message before the survey started it");
            surveys.remember(conversation, Stage::AwaitingRating);
            vec![ask_rating(RATING_PROMPT, incoming)]
        }
        Some(Stage::AwaitingRating) => match Csat::from_text(text) {
            Some(csat) => {
                surveys.remember(conversation, Stage::AwaitingComment);
                vec![
                    survey_response(CSAT_KEY, Value::from(csat.get()), incoming),
                    with_buttons(to_customer(COMMENT_PROMPT, incoming), &[SKIP]),
                ]
            }
            None => vec![ask_rating(RATING_AGAIN, incoming)],
        },
        Some(Stage::AwaitingComment) => {
            surveys.remember(conversation, Stage::Finished);
            let mut replies = Vec::with_capacity(2);
            if let Some(comment) = comment(text) {
                replies.push(survey_response(COMMENT_KEY, Value::from(comment), incoming));
            }
            replies.push(omnichannel::bridged(
                omnichannel::end_conversation_activity(FAREWELL).in_reply_to(incoming),
            ));
            replies
        }
        Some(Stage::Finished) => Vec::new(),
    }
}

/// The comment in `text`: trimmed and cut to [`MAX_COMMENT_CHARS`], or `None` when the customer
/// declined to comment.
fn comment(text: &str) -> Option<String> {
    let trimmed = text.trim();
    let answer = trimmed.trim_end_matches(['.', '!']).trim_end().to_lowercase();
    if answer.is_empty() || DECLINES.contains(&answer.as_str()) {
        return None;
    }
    Some(match trimmed.char_indices().nth(MAX_COMMENT_CHARS) {
        Some((cut, _)) => trimmed[..cut].to_owned(),
        None => trimmed.to_owned(),
    })
}

fn ask_rating(text: &str, incoming: &Activity) -> Activity {
    with_buttons(to_customer(text, incoming), &RATING_BUTTONS)
}

fn survey_response(key: &str, answer: Value, incoming: &Activity) -> Activity {
    let mut answers = Map::new();
    answers.insert(key.to_owned(), answer);
    Activity::event(SURVEY_RESPONSE_EVENT, Value::Object(answers)).in_reply_to(incoming)
}

fn to_customer(text: &str, incoming: &Activity) -> Activity {
    omnichannel::bridged(Activity::message(text).in_reply_to(incoming))
}

fn with_buttons(mut activity: Activity, labels: &[&str]) -> Activity {
    activity.suggested_actions = Some(SuggestedActions {
        actions: labels.iter().map(|label| CardAction::im_back(*label, *label)).collect(),
        ..SuggestedActions::default()
    });
    activity
}

/// Serves the survey bot's `POST /api/messages` on `listener` until `shutdown` completes, as
/// [`demo_bot::serve`](crate::demo_bot::serve) does: replies go through the Connector API under
/// the incoming `serviceUrl` before the hub's POST is answered (200; 400 for a body that is not
/// an activity; 500 when a reply could not be delivered).
pub async fn serve(listener: TcpListener, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    builtin_bot::serve("survey bot", router("/api/messages", None)?, listener, shutdown).await
}

/// The survey bot as `POST path`, for the hub's own listener; with `cluster`, its memory is
/// kept in the cluster's database (see [`builtin_bot::router`]).
pub fn router(path: &str, cluster: Option<std::sync::Arc<store::Cluster>>) -> std::io::Result<axum::Router> {
    // Shared by all turns, which run concurrently; `Surveys` locks internally.
    let surveys = std::sync::Arc::new(Surveys::default());
    let shared = cluster.map(|cluster| builtin_bot::SharedMemory {
        memory: surveys.clone(),
        cluster,
    });
    builtin_bot::router(
        "survey bot",
        move |incoming: &Activity| respond(incoming, &surveys),
        path,
        shared,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use botframework::omnichannel::TAGS_KEY;
    use botframework::{CardActionType, validate};
    use serde_json::json;

    fn activity(value: Value) -> Activity {
        crate::builtin_bot::test_activity("SurveyBot", "Contoso Survey", value)
    }

    fn says(text: &str) -> Activity {
        activity(json!({"type": "message", "text": text}))
    }

    fn start_event() -> Activity {
        activity(json!({
            "type": "event", "name": "startConversation",
            "value": {
                "msdyn_liveworkitemid": "conv-1",
                "msdyn_survey": {"agent": "Alex Agent", "ended_by": "agent"}
            }
        }))
    }

    fn started() -> Surveys {
        let surveys = Surveys::default();
        respond(&start_event(), &surveys);
        surveys
    }

    fn buttons(reply: &Activity) -> Vec<&str> {
        let actions = &reply.suggested_actions.as_ref().expect("suggested actions").actions;
        assert!(actions.iter().all(|action| action.kind == CardActionType::ImBack));
        actions
            .iter()
            .map(|action| action.value.as_ref().and_then(Value::as_str).unwrap())
            .collect()
    }

    fn survey_answers(reply: &Activity) -> &Value {
        assert_eq!(reply.kind, ActivityType::Event);
        assert_eq!(reply.name.as_deref(), Some(SURVEY_RESPONSE_EVENT));
        reply.value.as_ref().unwrap()
    }

    fn tags(reply: &Activity) -> Option<&str> {
        reply.channel_data_field(TAGS_KEY).and_then(Value::as_str)
    }

    #[test]
    fn a_full_survey_reports_the_rating_and_the_comment_then_ends_the_conversation() {
        let surveys = Surveys::default();

        let prompt = respond(&start_event(), &surveys);
        assert_eq!(prompt.len(), 1);
        assert_eq!(prompt[0].text.as_deref(), Some(RATING_PROMPT));
        assert_eq!(buttons(&prompt[0]), ["1", "2", "3", "4", "5"]);
        assert!(omnichannel::is_bridged(&prompt[0]));

        let rated = respond(&says("4"), &surveys);
        assert_eq!(rated.len(), 2);
        assert_eq!(survey_answers(&rated[0]), &json!({"csat": 4}));
        assert!(!omnichannel::is_bridged(&rated[0]), "answers are for the hub only");
        assert_eq!(rated[1].text.as_deref(), Some(COMMENT_PROMPT));
        assert_eq!(buttons(&rated[1]), ["skip"]);

        let commented = respond(&says("  great service \n"), &surveys);
        assert_eq!(commented.len(), 2);
        assert_eq!(survey_answers(&commented[0]), &json!({"comment": "great service"}));
        assert_eq!(commented[1].text.as_deref(), Some(FAREWELL));
        assert_eq!(tags(&commented[1]), Some(r#"{"type":"EndConversation","context":{}}"#));
        assert!(omnichannel::is_bridged(&commented[1]), "the customer sees the goodbye");

        assert!(
            respond(&says("hello?"), &surveys).is_empty(),
            "nothing after the goodbye"
        );
    }

    #[test]
    fn an_invalid_rating_asks_again_with_the_buttons() {
        let surveys = started();
        for text in ["great", "10/10", "0", ""] {
            let replies = respond(&says(text), &surveys);
            assert_eq!(replies.len(), 1, "`{text}`");
            assert_eq!(replies[0].text.as_deref(), Some(RATING_AGAIN));
            assert_eq!(buttons(&replies[0]).len(), 5);
        }
        assert_eq!(surveys.get("conv-1"), Some(Stage::AwaitingRating));
    }

    #[test]
    fn skipping_the_comment_reports_none_and_says_goodbye() {
        for text in ["skip", "No.", "nothing", "SKIP!"] {
            let surveys = started();
            respond(&says("5"), &surveys);
            let replies = respond(&says(text), &surveys);
            assert_eq!(replies.len(), 1, "`{text}` was reported as a comment");
            assert_eq!(tags(&replies[0]), Some(r#"{"type":"EndConversation","context":{}}"#));
        }
    }

    #[test]
    fn ratings_are_read_from_numbers_and_number_words() {
        for (text, expected) in [
            ("5 stars", 5),
            ("4/5", 4),
            ("I'd say 3.", 3),
            ("Two", 2),
            ("one star", 1),
            ("4stars", 4),
        ] {
            assert_eq!(Csat::from_text(text).map(Csat::get), Some(expected), "`{text}`");
        }
        for text in ["6", "10 out of 10", "999999999999", "excellent", "0/5"] {
            assert_eq!(Csat::from_text(text), None, "`{text}`");
        }
    }

    #[test]
    fn a_long_comment_is_cut_to_the_limit() {
        let surveys = started();
        respond(&says("3"), &surveys);
        let replies = respond(&says(&"é".repeat(MAX_COMMENT_CHARS + 50)), &surveys);
        let comment = survey_answers(&replies[0])[COMMENT_KEY].as_str().unwrap();
        assert_eq!(comment.chars().count(), MAX_COMMENT_CHARS);
    }

    #[test]
    fn a_message_before_the_start_event_starts_the_survey() {
        let surveys = Surveys::default();
        let replies = respond(&says("hi"), &surveys);
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].text.as_deref(), Some(RATING_PROMPT));
        assert_eq!(surveys.get("conv-1"), Some(Stage::AwaitingRating));
    }

    #[test]
    fn joining_says_nothing_and_leaving_or_the_end_forgets_the_survey() {
        let join = activity(json!({
            "type": "conversationUpdate",
            "membersAdded": [{"id": "SurveyBot"}, {"id": "u-42"}]
        }));
        assert!(respond(&join, &Surveys::default()).is_empty());
        for ended in [
            activity(json!({"type": "endOfConversation"})),
            activity(json!({"type": "conversationUpdate", "membersRemoved": [{"id": "SurveyBot"}]})),
        ] {
            let surveys = started();
            assert!(respond(&ended, &surveys).is_empty());
            assert!(surveys.is_empty());
        }
    }

    #[test]
    fn typing_and_unknown_events_get_no_reply() {
        let surveys = Surveys::default();
        assert!(respond(&activity(json!({"type": "typing"})), &surveys).is_empty());
        assert!(respond(&activity(json!({"type": "event", "name": "webchat/join"})), &surveys).is_empty());
        assert!(surveys.is_empty());
    }

    #[test]
    fn every_reply_answers_the_incoming_activity_and_passes_the_hubs_checks() {
        let surveys = Surveys::default();
        let mut replies = respond(&start_event(), &surveys);
        for text in ["meh", "4", "friendly agent"] {
            replies.extend(respond(&says(text), &surveys));
        }
        assert_eq!(replies.len(), 6);
        for reply in replies {
            assert_eq!(reply.id, None);
            assert_eq!(reply.reply_to_id.as_deref(), Some("act-7"));
            assert_eq!(reply.from.as_ref().unwrap().id, "SurveyBot");
            assert_eq!(reply.recipient.as_ref().unwrap().id, "u-42");
            assert_eq!(reply.conversation.as_ref().unwrap().id, "conv-1");
            validate::validate_from_bot(&reply).unwrap();
        }
    }
}
