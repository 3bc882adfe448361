//! Inbound activity checks: each refusal names the field and what is wrong with it.

use serde_json::json;
use switchboard_botframework::activity::ActivityType;
use switchboard_botframework::validate::{parse_activity, validate_from_bot, validate_from_client};
use switchboard_botframework::{Activity, ActivityError, ChannelAccount, MAX_ACTIVITY_BYTES, omnichannel};

fn activity(json: serde_json::Value) -> Activity {
    serde_json::from_value(json).expect("test activity deserializes")
}

#[test]
fn an_ordinary_bot_reply_is_valid() {
    let reply = activity(json!({
        "type": "message", "text": "Echo: hi", "inputHint": "acceptingInput",
        "channelId": "directline", "serviceUrl": "https://hub.example/bf/",
        "conversation": {"id": "conv-abc"}, "from": {"id": "bot-1", "name": "EchoBot"},
        "recipient": {"id": "u-42", "name": "User"}, "replyToId": "act-000122", "locale": "en-US"
    }));
    validate_from_bot(&reply).unwrap();
}

#[test]
fn the_omnichannel_builders_produce_valid_bot_activities() {
    let mut context = serde_json::Map::new();
    context.insert("BotHandoffTopic".into(), json!("CreditCard"));
    validate_from_bot(&omnichannel::escalate_activity("summary", context)).unwrap();
    validate_from_bot(&omnichannel::end_conversation_activity("bye")).unwrap();
    validate_from_bot(&omnichannel::bridged(Activity::message("hi"))).unwrap();
}

#[test]
fn an_event_without_a_name_is_refused_naming_the_field() {
    let error = validate_from_client(&Activity::new(ActivityType::Event)).unwrap_err();
    assert!(matches!(error, ActivityError::MissingField { field: "name", .. }));
    assert_eq!(error.to_string(), "`name` is required on an activity of type `event`");
}

#[test]
fn an_invoke_with_an_empty_name_is_refused() {
    let mut invoke = Activity::new(ActivityType::Invoke);
    invoke.name = Some(String::new());
    assert!(validate_from_bot(&invoke).is_err());
}

#[test]
fn an_empty_type_is_refused() {
    let error = validate_from_bot(&activity(json!({"type": ""}))).unwrap_err();
    assert_eq!(error.to_string(), "`type` is invalid: must not be empty");
}

#[test]
fn an_empty_sender_id_is_refused() {
    let mut message = Activity::message("hi");
    message.from = Some(ChannelAccount::new(""));
    let error = validate_from_client(&message).unwrap_err();
    assert_eq!(error.to_string(), "`from.id` is invalid: must not be empty");
}

#[test]
fn an_activity_over_28_kb_is_refused_with_its_size() {
    let huge = Activity::message("x".repeat(MAX_ACTIVITY_BYTES));
    let error = validate_from_bot(&huge).unwrap_err();
    let size = huge.wire_size();
    assert!(matches!(error, ActivityError::TooLarge { size: s, max: MAX_ACTIVITY_BYTES } if s == size));
    assert_eq!(
        error.to_string(),
        format!("the activity is {size} bytes; the limit is 28672 bytes")
    );
}

#[test]
fn an_activity_just_under_the_limit_is_accepted() {
    let overhead = Activity::message("").wire_size();
    let fits = Activity::message("x".repeat(MAX_ACTIVITY_BYTES - overhead));
    assert_eq!(fits.wire_size(), MAX_ACTIVITY_BYTES);
    validate_from_bot(&fits).unwrap();
}

#[test]
fn a_bot_with_a_malformed_command_is_told_what_is_wrong() {
    let broken = activity(json!({"type": "message", "channelData": {"tags": "{\"type\":\"Escalte\"}"}}));
    let error = validate_from_bot(&broken).unwrap_err();
    assert!(matches!(error, ActivityError::InvalidCommand(_)));
    assert!(error.to_string().contains("`Escalte` is unknown"), "{error}");
}

#[test]
fn client_tags_are_not_read_as_commands() {
    let spoof = activity(json!({"type": "message", "channelData": {"tags": "{broken"}}));
    validate_from_client(&spoof).unwrap();
}

#[test]
fn parse_activity_reports_a_missing_type() {
    let error = parse_activity(br#"{"text":"hi"}"#).unwrap_err();
    assert!(matches!(error, ActivityError::Malformed(_)));
    assert!(error.to_string().contains("missing field `type`"), "{error}");
}

#[test]
fn parse_activity_refuses_an_oversized_body_before_parsing_it() {
    let body = format!(r#"{{"type":"message","text":"{}"}}"#, "x".repeat(MAX_ACTIVITY_BYTES));
    assert!(matches!(
        parse_activity(body.as_bytes()).unwrap_err(),
        ActivityError::TooLarge { .. }
    ));
}
