//! Omnichannel's `channelData` conventions, checked against the wire shapes of
//! `omnichannel-behaviour.md` §1.3 (bot commands), §2.3 (context event) and §11 (inbound tags).

use serde_json::{Map, Value, json};
use switchboard_botframework::Activity;
use switchboard_botframework::activity::ActivityType;
use switchboard_botframework::omnichannel::{
    self, BotCommand, CommandError, TAG_CONTEXT_MESSAGE, TAG_HIDDEN, TAG_SMARTBOT, Tags,
};

fn activity(json: Value) -> Activity {
    serde_json::from_value(json).expect("test activity deserializes")
}

fn credit_card_context() -> Map<String, Value> {
    let Value::Object(context) = json!({"BotHandoffTopic": "CreditCard", "IDNumber": 101}) else {
        unreachable!()
    };
    context
}

fn spec_escalation() -> Value {
    json!({
        "type": "message",
        "text": "Optional escalation summary — shown only to the agent",
        "channelData": {
            "tags": "{\"type\":\"Escalate\",\"context\":{\"BotHandoffTopic\":\"CreditCard\",\"IDNumber\":101}}"
        }
    })
}

fn spec_end_conversation() -> Value {
    json!({
        "type": "message",
        "text": "…",
        "channelData": { "tags": "{\"type\":\"EndConversation\",\"context\":{}}" }
    })
}

#[test]
fn the_spec_escalation_parses_to_escalate_with_the_credit_card_context() {
    let command = omnichannel::command(&activity(spec_escalation())).unwrap();
    assert_eq!(
        command,
        Some(BotCommand::Escalate {
            context: credit_card_context()
        })
    );
}

#[test]
fn the_spec_end_conversation_parses_to_end_conversation() {
    let command = omnichannel::command(&activity(spec_end_conversation())).unwrap();
    assert_eq!(command, Some(BotCommand::EndConversation));
}

#[test]
fn a_command_given_as_a_nested_object_is_accepted_too() {
    let nested = activity(json!({
        "type": "message",
        "channelData": {"tags": {"type": "Escalate", "context": {"BotHandoffTopic": "CreditCard", "IDNumber": 101}}}
    }));
    assert_eq!(
        omnichannel::command(&nested).unwrap(),
        Some(BotCommand::Escalate {
            context: credit_card_context()
        })
    );
}

#[test]
fn command_types_match_without_regard_to_case_and_a_missing_context_is_empty() {
    let lower = activity(json!({"type": "message", "channelData": {"tags": "{\"type\":\"escalate\"}"}}));
    assert_eq!(
        omnichannel::command(&lower).unwrap(),
        Some(BotCommand::Escalate { context: Map::new() })
    );
}

#[test]
fn the_escalate_builder_produces_the_spec_wire_shape() {
    let built = omnichannel::escalate_activity(
        "Optional escalation summary — shown only to the agent",
        credit_card_context(),
    );
    assert_eq!(serde_json::to_value(&built).unwrap(), spec_escalation());
}

#[test]
fn the_end_conversation_builder_produces_the_spec_wire_shape() {
    let built = omnichannel::end_conversation_activity("…");
    assert_eq!(serde_json::to_value(&built).unwrap(), spec_end_conversation());
}

#[test]
fn a_bridged_reply_has_the_spec_shape_and_is_not_a_command() {
    let reply = omnichannel::bridged(Activity::message("Echo: hi"));
    assert_eq!(
        serde_json::to_value(&reply).unwrap(),
        json!({ "type": "message", "text": "Echo: hi", "channelData": { "deliveryMode": "bridged" } })
    );
    assert!(omnichannel::is_bridged(&reply));
    assert_eq!(omnichannel::command(&reply).unwrap(), None);
}

#[test]
fn escalation_and_end_messages_are_not_bridged() {
    assert!(!omnichannel::is_bridged(&activity(spec_escalation())));
    assert!(!omnichannel::is_bridged(&Activity::message("no channelData")));
}

#[test]
fn bridging_keeps_the_command_already_in_channel_data() {
    let both = omnichannel::bridged(omnichannel::end_conversation_activity("bye"));
    assert!(omnichannel::is_bridged(&both));
    assert_eq!(omnichannel::command(&both).unwrap(), Some(BotCommand::EndConversation));
}

#[test]
fn a_comma_list_of_tags_is_not_a_command_but_has_tag_finds_each_tag() {
    let context = activity(json!({
        "type": "event", "name": "startConversation",
        "channelData": {"tags": "ChannelId-lcw,OmnichannelContextMessage,Hidden"}
    }));
    assert_eq!(omnichannel::command(&context).unwrap(), None);
    for tag in ["ChannelId-lcw", TAG_CONTEXT_MESSAGE, TAG_HIDDEN] {
        assert!(omnichannel::has_tag(&context, tag), "{tag}");
    }
    assert!(!omnichannel::has_tag(&context, "hidden"), "tags are case-sensitive");
    assert!(!omnichannel::has_tag(&context, TAG_SMARTBOT));
}

#[test]
fn a_single_smartbot_tag_is_found() {
    let reply = activity(json!({"type": "message", "channelData": {"tags": "smartbot"}}));
    assert!(omnichannel::has_tag(&reply, TAG_SMARTBOT));
    assert_eq!(omnichannel::command(&reply).unwrap(), None);
}

#[test]
fn an_array_of_tags_is_not_a_command_but_has_tag_finds_each_tag() {
    let customer = activity(json!({
        "type": "message", "text": "hi",
        "channelData": {"tags": ["ChannelId-lcw", "FromCustomer"]}
    }));
    assert_eq!(omnichannel::command(&customer).unwrap(), None);
    assert!(omnichannel::has_tag(&customer, "FromCustomer"));
    assert!(omnichannel::has_tag(&customer, "ChannelId-lcw"));
}

#[test]
fn tags_lists_are_trimmed_and_drop_empty_entries() {
    assert_eq!(
        Tags::parse(&json!(" a , b,,c ")).unwrap(),
        Tags::List(vec!["a".into(), "b".into(), "c".into()])
    );
    assert_eq!(
        Tags::parse(&json!("[\"x\",\" y \"]")).unwrap(),
        Tags::List(vec!["x".into(), "y".into()])
    );
}

#[test]
fn a_command_holds_no_tags() {
    assert!(!omnichannel::has_tag(&activity(spec_escalation()), "Escalate"));
}

#[test]
fn malformed_command_json_is_a_clear_error() {
    let broken = activity(json!({
        "type": "message",
        "channelData": {"tags": "{\"type\":\"Escalate\",\"context\":{\"BotHandoffTopic\":"}
    }));
    let error = omnichannel::command(&broken).unwrap_err();
    assert!(matches!(error, CommandError::MalformedJson { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with("channelData.tags looks like a JSON command but is not valid JSON"),
        "{error}"
    );
    assert!(!omnichannel::has_tag(&broken, "Escalate"));
}

#[test]
fn an_unknown_command_type_is_a_clear_error_naming_it() {
    let transfer =
        activity(json!({"type": "message", "channelData": {"tags": "{\"type\":\"Transfer\",\"context\":{}}"}}));
    let error = omnichannel::command(&transfer).unwrap_err();
    assert!(matches!(&error, CommandError::UnknownType { found } if found == "Transfer"));
    assert!(error.to_string().contains("`Transfer`"), "{error}");
    assert!(
        error.to_string().contains("\"Escalate\" or \"EndConversation\""),
        "{error}"
    );
}

#[test]
fn a_command_without_type_or_with_a_non_object_context_is_a_clear_error() {
    let untyped = activity(json!({"type": "message", "channelData": {"tags": "{\"context\":{}}"}}));
    assert!(matches!(
        omnichannel::command(&untyped).unwrap_err(),
        CommandError::MissingType
    ));
    let bad_context =
        activity(json!({"type": "message", "channelData": {"tags": "{\"type\":\"Escalate\",\"context\":[1]}"}}));
    let error = omnichannel::command(&bad_context).unwrap_err();
    assert!(
        matches!(error, CommandError::InvalidContext { found: "an array" }),
        "{error:?}"
    );
}

#[test]
fn tags_of_an_impossible_kind_are_an_error() {
    let numeric = activity(json!({"type": "message", "channelData": {"tags": 7}}));
    let error = omnichannel::command(&numeric).unwrap_err();
    assert!(error.to_string().contains("found a number"), "{error}");
}

#[test]
fn activities_without_tags_have_no_command() {
    assert_eq!(omnichannel::command(&Activity::message("hi")).unwrap(), None);
    let other_data = activity(json!({"type": "message", "channelData": "not an object"}));
    assert_eq!(omnichannel::command(&other_data).unwrap(), None);
}

#[test]
fn the_start_conversation_builder_produces_the_omnichannel_context_event() {
    let Value::Object(context) = json!({
        "msdyn_liveworkitemid": "5ba69c2c-0000-0000-0000-000000000000",
        "msdyn_msdyn_ocliveworkitem_msdyn_livechatengagementctx_liveworkitemid": [
            {"RecordId": "5d6dfef2-0000-0000-0000-000000000000", "PrimaryDisplayValue": ""}
        ],
        "BotHandoffTopic": "CreditCard"
    }) else {
        unreachable!()
    };
    let event = omnichannel::start_conversation_event("lcw", context.clone());

    let wire = serde_json::to_value(&event).unwrap();
    let text = wire["text"].as_str().unwrap().to_owned();
    assert_eq!(
        wire,
        json!({
            "type": "event",
            "name": "startConversation",
            "text": text,
            "value": Value::Object(context.clone()),
            "channelData": {
                "tags": "ChannelId-lcw,OmnichannelContextMessage,Hidden",
                "sourceChannelId": "omnichannel"
            }
        })
    );
    let mut text_payload = context;
    text_payload.insert("EventName".into(), json!("startConversation"));
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        Value::Object(text_payload)
    );

    assert_eq!(event.kind, ActivityType::Event);
    assert!(omnichannel::has_tag(&event, TAG_HIDDEN));
    assert!(omnichannel::has_tag(&event, TAG_CONTEXT_MESSAGE));
    assert!(omnichannel::has_tag(&event, "ChannelId-lcw"));
    assert_eq!(omnichannel::command(&event).unwrap(), None);
}

#[test]
fn a_command_serializes_type_before_context_as_json_net_does() {
    assert_eq!(
        BotCommand::EndConversation.to_tags_string(),
        r#"{"type":"EndConversation","context":{}}"#
    );
    let escalate = BotCommand::Escalate {
        context: credit_card_context(),
    };
    assert_eq!(
        Tags::parse_str(&escalate.to_tags_string()).unwrap(),
        Tags::Command(escalate)
    );
}

#[test]
fn only_text_speech_attachments_or_suggested_actions_are_a_message_for_the_customer() {
    let tags = json!({"tags": "{\"type\":\"EndConversation\",\"context\":{}}"});
    let with = |fields: Value| {
        let mut body = json!({"type": "message", "channelData": tags});
        body.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        activity(body)
    };
    for (what, fields) in [
        ("text", json!({"text": "Goodbye"})),
        ("speech", json!({"speak": "Goodbye"})),
        (
            "an attachment",
            json!({"attachments": [{"contentType": "image/png", "contentUrl": "https://example.com/a.png"}]}),
        ),
        (
            "a suggested action",
            json!({"suggestedActions": {"actions": [{"type": "imBack", "title": "Yes", "value": "yes"}]}}),
        ),
    ] {
        assert!(omnichannel::has_message_for_customer(&with(fields)), "{what}");
    }
    for (what, fields) in [
        ("only tags", json!({})),
        ("blank text", json!({"text": "  \n", "speak": ""})),
        (
            "empty lists",
            json!({"attachments": [], "suggestedActions": {"actions": []}}),
        ),
        ("a value and a summary", json!({"value": {"a": 1}, "summary": "bye"})),
    ] {
        assert!(!omnichannel::has_message_for_customer(&with(fields)), "{what}");
    }
    let event = activity(json!({"type": "event", "name": "x", "text": "Goodbye", "channelData": tags}));
    assert!(
        !omnichannel::has_message_for_customer(&event),
        "only messages are shown"
    );
}
