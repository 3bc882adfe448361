//! Checks on inbound activities beyond what deserialization enforces, with errors naming the field.
//!
//! Deserialization already guarantees a `type`, well-formed timestamps and the shapes of known
//! fields. What remains is protocol rules that depend on the type (an `event` needs a `name`),
//! Omnichannel's 28 KB message limit, and — for bots — a well-formed command in
//! `channelData.tags`, so a bot that tried to escalate hears about its mistake.

use crate::activity::{Activity, ActivityType};
use crate::omnichannel::{self, CommandError};

/// Largest activity accepted, in bytes of compact JSON. Omnichannel caps messages at 28 KB in all
/// messaging channels, metadata included.
pub const MAX_ACTIVITY_BYTES: usize = 28 * 1024;

/// Why an inbound activity was refused.
#[derive(Debug, thiserror::Error)]
pub enum ActivityError {
    /// The body is not JSON or not an activity (e.g. ``missing field `type` ``).
    #[error("the body is not a valid activity: {0}")]
    Malformed(#[source] serde_json::Error),
    /// The activity is over [`MAX_ACTIVITY_BYTES`].
    #[error("the activity is {size} bytes; the limit is {max} bytes")]
    TooLarge {
        /// Its size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A field this type of activity requires is absent or empty.
    #[error("`{field}` is required on an activity of type `{activity_type}`")]
    MissingField {
        /// The wire name of the field.
        field: &'static str,
        /// The activity type.
        activity_type: ActivityType,
    },
    /// A field is present but unusable.
    #[error("`{field}` is invalid: {reason}")]
    InvalidField {
        /// The wire name of the field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `channelData.tags` tries to be a command and is not a valid one.
    #[error(transparent)]
    InvalidCommand(#[from] CommandError),
}

/// Parses a request body into an activity, refusing it first if it is over the size limit.
pub fn parse_activity(body: &[u8]) -> Result<Activity, ActivityError> {
    check_size(body.len())?;
    serde_json::from_slice(body).map_err(ActivityError::Malformed)
}

/// Checks an activity a bot sent to the Connector API.
pub fn validate_from_bot(activity: &Activity) -> Result<(), ActivityError> {
    validate_common(activity)?;
    omnichannel::command(activity)?;
    Ok(())
}

/// Checks an activity a Direct Line client posted. Commands in `channelData.tags` are not read
/// here: only bots may give commands, so the hub must ignore them from clients.
pub fn validate_from_client(activity: &Activity) -> Result<(), ActivityError> {
    validate_common(activity)
}

fn validate_common(activity: &Activity) -> Result<(), ActivityError> {
    if activity.kind.as_str().is_empty() {
        return Err(ActivityError::InvalidField {
            field: "type",
            reason: "must not be empty",
        });
    }
    if matches!(activity.kind, ActivityType::Event | ActivityType::Invoke)
        && activity.name.as_deref().is_none_or(str::is_empty)
    {
        return Err(ActivityError::MissingField {
            field: "name",
            activity_type: activity.kind.clone(),
        });
    }
    for (field, account) in [("from.id", &activity.from), ("recipient.id", &activity.recipient)] {
        if account.as_ref().is_some_and(|account| account.id.is_empty()) {
            return Err(ActivityError::InvalidField {
                field,
                reason: "must not be empty",
            });
        }
    }
    check_size(activity.wire_size())
}

fn check_size(size: usize) -> Result<(), ActivityError> {
    if size > MAX_ACTIVITY_BYTES {
        return Err(ActivityError::TooLarge {
            size,
            max: MAX_ACTIVITY_BYTES,
        });
    }
    Ok(())
}
