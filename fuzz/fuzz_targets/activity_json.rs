//! Arbitrary bytes as a request body carrying a Bot Framework activity, through the same steps
//! the Connector API and Direct Line take: `validate::parse_activity`, then the client and bot
//! checks.
//!
//! What it holds the code to: nothing panics; a body over the size limit is refused as
//! `TooLarge` before it is parsed; an activity that parsed serializes, measures itself
//! (`wire_size`) as exactly its compact JSON, and reads back from that JSON as an equal
//! activity that writes the same bytes again — the crate promises a round trip through the hub
//! never changes what a client or bot sent, and the hub does exactly this (parse, store the
//! JSON, parse it again to deliver). The bot checks are the client checks plus commands, so
//! whatever a bot may send a client may too, and an accepted activity is within the limit.

#![no_main]

use botframework::validate::{self, ActivityError, MAX_ACTIVITY_BYTES};
use botframework::{Activity, ActivityType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let activity = match validate::parse_activity(body) {
        Ok(activity) => activity,
        Err(ActivityError::TooLarge { size, max }) => {
            assert_eq!((size, max), (body.len(), MAX_ACTIVITY_BYTES));
            assert!(body.len() > MAX_ACTIVITY_BYTES);
            return;
        }
        Err(error) => {
            assert!(body.len() <= MAX_ACTIVITY_BYTES);
            let _ = error.to_string();
            return;
        }
    };

    let written = serde_json::to_vec(&activity).expect("a parsed activity serializes");
    assert_eq!(
        activity.wire_size(),
        written.len(),
        "wire_size is the compact JSON length"
    );
    let again: Activity = serde_json::from_slice(&written).expect("what the hub writes, it reads back");
    assert_eq!(again, activity, "serialize → parse changed the activity");
    let rewritten = serde_json::to_vec(&again).expect("a parsed activity serializes");
    assert_eq!(rewritten, written, "the second serialization differs from the first");

    let from_client = validate::validate_from_client(&activity);
    let from_bot = validate::validate_from_bot(&activity);
    if from_bot.is_ok() {
        assert!(from_client.is_ok(), "a bot's activity passed checks a client's failed");
    }
    if from_client.is_ok() {
        assert!(activity.wire_size() <= MAX_ACTIVITY_BYTES);
        assert!(!activity.kind.as_str().is_empty());
        if matches!(activity.kind, ActivityType::Event | ActivityType::Invoke) {
            assert!(activity.name.as_deref().is_some_and(|name| !name.is_empty()));
        }
    }
    for error in [from_client.err(), from_bot.err()].into_iter().flatten() {
        let _ = error.to_string();
    }

    // What the hub does with an accepted activity: timestamps are read as instants, and replies
    // are addressed from it.
    for stamp in [&activity.timestamp, &activity.local_timestamp, &activity.expiration]
        .into_iter()
        .flatten()
    {
        let _ = stamp.to_datetime();
    }
    let _ = activity.client_activity_id();
    let reply = Activity::reply_to(&activity);
    let _ = reply.wire_size();
});
