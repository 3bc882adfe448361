//! Every wire example of the protocol spec survives deserialize → serialize unchanged.
//!
//! Inputs are the JSON bodies of `botframework-protocol.md` (placeholders such as `…` replaced by
//! concrete values) and of what Web Chat and the SDKs are documented to send. Equality is on
//! `serde_json::Value`, so key order does not matter but every key and value does.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use switchboard_botframework::activity::{ActivityType, InputHint, TextFormat};
use switchboard_botframework::cards::{self, HeroCard, OAuthCard};
use switchboard_botframework::connector::{
    AttachmentData, AttachmentInfo, ConversationParameters, ConversationResourceResponse, ConversationsResult,
    ErrorCode, ErrorResponse, PagedMembersResult, ResourceResponse, Transcript,
};
use switchboard_botframework::directline::{ActivitySet, Conversation, StartConversationRequest, TokenParameters};
use switchboard_botframework::turn::{ExpectedReplies, InvokeResponse};
use switchboard_botframework::{Activity, CardActionType, RoleType};

/// Deserializes `input` as `T`, serializes it back, and asserts nothing changed.
fn assert_round_trip<T: DeserializeOwned + Serialize>(input: &str) -> T {
    let expected: Value = serde_json::from_str(input).expect("test input is JSON");
    let typed: T = serde_json::from_str(input).expect("input deserializes");
    let written = serde_json::to_value(&typed).expect("value serializes");
    assert_eq!(written, expected, "round trip changed the JSON");
    typed
}

#[test]
fn the_hub_to_bot_message_request_round_trips() {
    let activity: Activity = assert_round_trip(
        r#"{"type":"message","id":"act-000122","timestamp":"2026-01-05T10:00:00.000Z",
            "serviceUrl":"https://hub.example/bf/","channelId":"directline",
            "from":{"id":"u-42","name":"User","role":"user"},
            "conversation":{"id":"conv-abc"},
            "recipient":{"id":"bot-1","name":"EchoBot","role":"bot"},
            "text":"hi","textFormat":"plain","locale":"en-US",
            "channelData":{"clientActivityID":"1736071200000abc"}}"#,
    );
    assert_eq!(activity.kind, ActivityType::Message);
    assert_eq!(activity.text_format, Some(TextFormat::Plain));
    assert_eq!(activity.from.as_ref().unwrap().role, Some(RoleType::User));
    assert_eq!(activity.client_activity_id(), Some("1736071200000abc"));
}

#[test]
fn the_conversation_update_at_conversation_start_round_trips() {
    let activity: Activity = assert_round_trip(
        r#"{"type":"conversationUpdate","id":"act-000001","timestamp":"2026-01-05T09:59:59.500Z",
            "serviceUrl":"https://hub.example/bf/","channelId":"directline",
            "conversation":{"id":"conv-abc"},
            "from":{"id":"u-42"},"recipient":{"id":"bot-1","name":"EchoBot"},
            "membersAdded":[{"id":"bot-1","name":"EchoBot"},{"id":"u-42","name":"User"}]}"#,
    );
    assert_eq!(activity.kind, ActivityType::ConversationUpdate);
    assert_eq!(activity.members_added.unwrap().len(), 2);
}

#[test]
fn the_bot_sent_reply_round_trips() {
    let activity: Activity = assert_round_trip(
        r#"{"type":"message","text":"Echo: hi","inputHint":"acceptingInput",
            "channelId":"directline","serviceUrl":"https://hub.example/bf/",
            "conversation":{"id":"conv-abc"},"from":{"id":"bot-1","name":"EchoBot"},
            "recipient":{"id":"u-42","name":"User"},"replyToId":"act-000122","locale":"en-US"}"#,
    );
    assert_eq!(activity.input_hint, Some(InputHint::AcceptingInput));
    assert_eq!(activity.reply_to_id.as_deref(), Some("act-000122"));
}

#[test]
fn a_hero_card_attachment_round_trips_and_reads_as_a_hero_card() {
    let activity: Activity = assert_round_trip(
        r#"{"type":"message","attachmentLayout":"carousel","attachments":[
            {"contentType":"application/vnd.microsoft.card.hero",
             "content":{"title":"T","subtitle":"S","text":"x",
                        "images":[{"url":"https://img.example/a.png"}],
                        "buttons":[{"type":"imBack","title":"Yes","value":"yes"},
                                   {"type":"openUrl","title":"Docs","value":"https://docs.example/"}]}}]}"#,
    );
    let attachment = &activity.attachments.as_ref().unwrap()[0];
    assert_eq!(attachment.content_type, cards::HERO_CARD);
    let card: HeroCard = attachment.content_as().unwrap();
    let buttons = card.buttons.unwrap();
    assert_eq!(buttons[0].kind, CardActionType::ImBack);
    assert_eq!(buttons[1].kind, CardActionType::OpenUrl);
    assert_eq!(card.images.unwrap()[0].url, "https://img.example/a.png");
}

#[test]
fn a_hero_card_built_in_rust_serializes_to_the_spec_shape() {
    use switchboard_botframework::CardAction;
    use switchboard_botframework::cards::CardImage;
    let card = HeroCard {
        title: Some("T".into()),
        subtitle: Some("S".into()),
        text: Some("x".into()),
        images: Some(vec![CardImage {
            url: "https://img.example/a.png".into(),
            alt: None,
            tap: None,
            extra: Default::default(),
        }]),
        buttons: Some(vec![
            CardAction::im_back("Yes", "yes"),
            CardAction::open_url("Docs", "https://docs.example/"),
        ]),
        ..HeroCard::default()
    };
    assert_eq!(
        serde_json::to_value(card.into_attachment()).unwrap(),
        json!({"contentType":"application/vnd.microsoft.card.hero",
               "content":{"title":"T","subtitle":"S","text":"x",
                          "images":[{"url":"https://img.example/a.png"}],
                          "buttons":[{"type":"imBack","title":"Yes","value":"yes"},
                                     {"type":"openUrl","title":"Docs","value":"https://docs.example/"}]}})
    );
}

#[test]
fn an_oauth_card_round_trips_and_is_an_authentication_card() {
    let activity: Activity = assert_round_trip(
        r#"{"type":"message","attachments":[
            {"contentType":"application/vnd.microsoft.card.oauth",
             "content":{"connectionName":"MyConn","text":"Please sign in",
                        "buttons":[{"type":"signin","title":"Sign in","value":"https://token.example/signin-link"}],
                        "tokenExchangeResource":{"id":"ter-1","uri":"api://bot-app","providerId":"aad"}}}]}"#,
    );
    let attachment = &activity.attachments.as_ref().unwrap()[0];
    assert!(cards::is_authentication_card(&attachment.content_type));
    let card: OAuthCard = attachment.content_as().unwrap();
    assert_eq!(card.connection_name.as_deref(), Some("MyConn"));
    assert_eq!(card.buttons.unwrap()[0].kind, CardActionType::Signin);
    assert_eq!(
        card.token_exchange_resource.unwrap().provider_id.as_deref(),
        Some("aad")
    );
}

#[test]
fn web_chats_first_activity_round_trips_with_client_capabilities_and_client_activity_id() {
    let activity: Activity = assert_round_trip(
        r#"{"type":"message","text":"hello","textFormat":"plain","channelId":"webchat",
            "locale":"en-US","localTimestamp":"2026-01-05T11:00:00.000+01:00",
            "localTimezone":"Europe/Berlin",
            "from":{"id":"dl_u-42","name":"Ana","role":"user"},
            "entities":[{"type":"ClientCapabilities","requiresBotState":true,
                         "supportsListening":true,"supportsTts":true}],
            "channelData":{"clientActivityID":"1736071200000abc",
                           "clientTimestamp":"2026-01-05T10:00:00.000Z"}}"#,
    );
    let entity = &activity.entities.as_ref().unwrap()[0];
    assert_eq!(entity.kind, "ClientCapabilities");
    assert_eq!(entity.properties["supportsTts"], json!(true));
    assert_eq!(activity.client_activity_id(), Some("1736071200000abc"));
}

#[test]
fn unknown_fields_survive_at_every_level() {
    let activity: Activity = assert_round_trip(
        r#"{"type":"message","text":"hi","futureField":{"a":[1,2]},"textFormat":"Text",
            "from":{"id":"u-1","properties":{"x":1},"userRole":"user"},
            "conversation":{"id":"c-1","tenantId":"t","custom":"y"},
            "recipient":{"id":"b-1","role":"agent"},
            "attachments":[{"contentType":"image/png","contentUrl":"https://x.example/a.png","layoutHint":"wide"}],
            "suggestedActions":{"to":["u-1"],"actions":[{"type":"someNewAction","title":"A","value":{"k":"v"},"extraProp":true}],"flag":1},
            "entities":[{"type":"mention","mentioned":{"id":"b-1"},"text":"@bot"}],
            "relatesTo":{"activityId":"a-0","conversation":{"id":"c-0"},"somethingElse":null},
            "value":{"nested":{"deep":[null,true]}},"code":"someNewCode","deliveryMode":"stream",
            "importance":"high","expiration":"2026-01-06T00:00:00Z","listenFor":["yes"],
            "textHighlights":[{"text":"hi","occurrence":1}],
            "semanticAction":{"id":"s-1","state":"start","entities":{"e":{"type":"x"}}},
            "reactionsAdded":[{"type":"like"}],"historyDisclosed":false,"topicName":"t",
            "label":"l","valueType":"v","action":"add","summary":"s","speak":"hi",
            "callerId":"urn:botframework:azure","attachmentLayout":"grid",
            "transcript":{"activities":[{"type":"message","text":"old","tag":"x"}]}}"#,
    );
    assert_eq!(activity.extra["futureField"], json!({"a": [1, 2]}));
    assert_eq!(activity.text_format, Some(TextFormat::Other("Text".into())));
}

#[test]
fn a_role_that_is_not_a_string_is_rejected_clearly() {
    let error = serde_json::from_str::<Activity>(r#"{"type":"message","from":{"id":"u","role":1}}"#).unwrap_err();
    assert!(error.to_string().contains("invalid type"), "{error}");
}

#[test]
fn a_malformed_timestamp_is_rejected_naming_the_value() {
    let error = serde_json::from_str::<Activity>(r#"{"type":"message","timestamp":"yesterday"}"#).unwrap_err();
    assert!(error.to_string().contains("`yesterday`"), "{error}");
    assert!(error.to_string().contains("RFC 3339"), "{error}");
}

#[test]
fn direct_line_token_and_conversation_responses_round_trip() {
    let token: Conversation =
        assert_round_trip(r#"{"conversationId":"conv-abc","token":"eyJhbGciOi.x.y","expires_in":1800}"#);
    assert_eq!(token.expires_in, Some(1800));
    let started: Conversation = assert_round_trip(
        r#"{"conversationId":"conv-abc","token":"eyJhbGciOi.x.y","expires_in":1800,
            "streamUrl":"wss://hub.example/v3/directline/conversations/conv-abc/stream?t=eyJ",
            "referenceGrammarId":"g-1","eTag":"*"}"#,
    );
    assert_eq!(started.e_tag.as_deref(), Some("*"));
}

#[test]
fn a_direct_line_activity_set_round_trips() {
    let set: ActivitySet = assert_round_trip(
        r#"{"activities":[{"type":"message","id":"conv-abc|0000004","timestamp":"2026-01-05T10:00:01.2Z",
               "channelId":"directline","conversation":{"id":"conv-abc"},
               "from":{"id":"bot-1","name":"EchoBot","role":"bot"},"text":"Echo: hi",
               "replyToId":"conv-abc|0000003"}],
            "watermark":"4"}"#,
    );
    assert_eq!(set.watermark.as_deref(), Some("4"));
    assert_eq!(set.activities[0].text.as_deref(), Some("Echo: hi"));
}

#[test]
fn direct_line_request_bodies_round_trip_including_directlinejs_empty_user() {
    let generate: TokenParameters =
        assert_round_trip(r#"{"user":{"id":"dl_u-42","name":"Ana"},"trustedOrigins":["https://site.example"]}"#);
    assert_eq!(generate.user.unwrap().id.as_deref(), Some("dl_u-42"));
    let start: StartConversationRequest = assert_round_trip(r#"{"user":{},"locale":"en-US"}"#);
    assert_eq!(start.user.unwrap().id, None);
}

#[test]
fn connector_bodies_round_trip() {
    assert_round_trip::<ResourceResponse>(r#"{"id":"act-000123"}"#);
    let parameters: ConversationParameters = assert_round_trip(
        r#"{"isGroup":false,"bot":{"id":"bot-1","name":"EchoBot"},"members":[{"id":"u-42"}],
            "topicName":"Billing","tenantId":"t-1","activity":{"type":"message","text":"Hello"},
            "channelData":{}}"#,
    );
    assert_eq!(parameters.activity.unwrap().text.as_deref(), Some("Hello"));
    assert_round_trip::<ConversationResourceResponse>(
        r#"{"id":"conv-abc","serviceUrl":"https://hub.example/bf/","activityId":"act-1"}"#,
    );
    assert_round_trip::<ConversationsResult>(
        r#"{"continuationToken":"p2","conversations":[{"id":"conv-abc","members":[{"id":"u-42"}]}]}"#,
    );
    assert_round_trip::<PagedMembersResult>(r#"{"members":[{"id":"u-42"},{"id":"bot-1"}]}"#);
    assert_round_trip::<Transcript>(r#"{"activities":[{"type":"message","text":"a"}]}"#);
    let upload: AttachmentData = assert_round_trip(
        r#"{"type":"image/png","name":"a.png","originalBase64":"iVBORw0KGgo=","thumbnailBase64":"iVBO"}"#,
    );
    assert_eq!(upload.content_type.as_deref(), Some("image/png"));
    assert_round_trip::<AttachmentInfo>(
        r#"{"name":"a.png","type":"image/png","views":[{"viewId":"original","size":1024}]}"#,
    );
}

#[test]
fn the_spec_error_response_round_trips_and_the_constructor_writes_the_same_shape() {
    let parsed: ErrorResponse = assert_round_trip(
        r#"{"error":{"code":"BadArgument","message":"conversation not found",
            "innerHttpError":{"statusCode":404,"body":null}}}"#,
    );
    let built = ErrorResponse::new(ErrorCode::BadArgument, "conversation not found").with_inner_http_error(404, None);
    assert_eq!(built, parsed);
    assert_eq!(
        serde_json::to_value(ErrorResponse::new(ErrorCode::TokenExpired, "Token expired")).unwrap(),
        json!({"error":{"code":"TokenExpired","message":"Token expired"}})
    );
    let unknown: ErrorResponse = assert_round_trip(r#"{"error":{"code":"SomethingNew","message":"m"}}"#);
    assert_eq!(unknown.error.code, ErrorCode::Other("SomethingNew".into()));
}

#[test]
fn bot_turn_responses_round_trip() {
    let invoke: InvokeResponse = assert_round_trip(
        r#"{"status":200,"body":{"statusCode":200,"type":"application/vnd.microsoft.activity.message","value":"done"}}"#,
    );
    assert_eq!(invoke.status, 200);
    assert_round_trip::<ExpectedReplies>(
        r#"{"activities":[{"type":"message","text":"one"},{"type":"message","text":"two"}]}"#,
    );
}
