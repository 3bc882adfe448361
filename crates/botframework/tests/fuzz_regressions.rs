//! Inputs the `activity_json` fuzz target (fuzz/, docs/fuzzing.md) found, kept as plain tests.

use switchboard_botframework::Activity;
use switchboard_botframework::validate::parse_activity;

/// Parses `body` as the hub does, writes it back as JSON, reads that again and asserts nothing
/// changed: what the hub stores and relays is what it was sent.
fn assert_survives_a_relay(body: &[u8]) {
    let first = parse_activity(body).expect("the body is an activity");
    let written = serde_json::to_vec(&first).unwrap();
    let again: Activity = serde_json::from_slice(&written).unwrap();
    assert_eq!(again, first, "{}", String::from_utf8_lossy(&written));
    assert_eq!(serde_json::to_vec(&again).unwrap(), written);
}

/// The minimised crash: a number serde_json's default float parser (fast, not correctly
/// rounded) read as one double, wrote with its shortest spelling, and read back as the
/// neighbouring double, so each pass through the hub changed it. Fixed by serde_json's
/// `float_roundtrip` feature.
#[test]
fn a_long_number_in_an_unknown_field_reads_back_as_the_same_double() {
    assert_survives_a_relay(br#"{"type":"","":{"":828888888888888888882888888888888881e3}}"#);
}

/// The same fault as first found, in the shape of a `startConversation` context event: the
/// `Amount` a bot or client sent changed from 8.888888888888891e62 to 8.88888888888889e62.
#[test]
fn a_context_number_in_an_event_value_reads_back_as_the_same_double() {
    assert_survives_a_relay(
        br#"{"type":"event","name":"startConversation","value":{"Amount":888888888888888888888888888828888888888888888888888888888881e3}}"#,
    );
}
