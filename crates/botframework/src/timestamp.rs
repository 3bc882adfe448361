//! `Timestamp`: an RFC 3339 date-time that keeps the sender's exact spelling.
//!
//! Activity timestamps are `date-time` strings in the swagger. Senders differ in precision and
//! offset style (JS `toISOString()` gives milliseconds and `Z`, .NET gives seven fractional digits
//! and `+00:00`), and Web Chat sorts by them, so the hub must neither reject a valid variant nor
//! rewrite it. We validate once at the boundary and store the original text.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// An RFC 3339 date-time, validated on construction, serialized exactly as it was received.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp(String);

/// A string that is not an RFC 3339 date-time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not an RFC 3339 date-time (expected e.g. 2026-01-05T10:00:00.000Z): {reason}")]
pub struct TimestampError {
    /// The rejected text.
    pub value: String,
    /// What the parser objected to.
    pub reason: String,
}

impl Timestamp {
    /// Validates `value` as RFC 3339 and keeps it verbatim.
    pub fn parse(value: impl Into<String>) -> Result<Self, TimestampError> {
        let value = value.into();
        match OffsetDateTime::parse(&value, &Rfc3339) {
            Ok(_) => Ok(Self(value)),
            Err(error) => Err(TimestampError {
                value,
                reason: error.to_string(),
            }),
        }
    }

    /// Formats an instant the way the JS SDK and Web Chat do: UTC, milliseconds, `Z` suffix.
    pub fn from_datetime(instant: OffsetDateTime) -> Self {
        let utc = instant.to_offset(UtcOffset::UTC);
        let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
        // The description only has numeric components within range for any `OffsetDateTime`
        // with a four-digit year; years beyond that fall back to the generic RFC 3339 writer.
        let text = utc.format(format).or_else(|_| utc.format(&Rfc3339)).unwrap_or_default();
        Self(text)
    }

    /// The current instant, formatted as [`Timestamp::from_datetime`] does.
    pub fn now_utc() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    /// The text as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The instant this timestamp denotes, with its original offset.
    pub fn to_datetime(&self) -> OffsetDateTime {
        // Validated at construction; the fallback is unreachable but keeps this infallible.
        OffsetDateTime::parse(&self.0, &Rfc3339).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

impl AsRef<str> for Timestamp {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(instant: OffsetDateTime) -> Self {
        Self::from_datetime(instant)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn javascript_and_dotnet_spellings_are_both_accepted_and_kept_verbatim() {
        for text in [
            "2026-01-05T10:00:00.000Z",
            "2026-01-05T10:00:01.2Z",
            "2016-09-23T13:07:49.4714686-07:00",
            "2026-01-05T10:00:00+00:00",
        ] {
            let parsed = Timestamp::parse(text).unwrap();
            assert_eq!(parsed.as_str(), text);
            assert_eq!(serde_json::to_value(&parsed).unwrap(), text);
        }
    }

    #[test]
    fn a_date_without_time_is_rejected_with_the_offending_text() {
        let error = Timestamp::parse("2026-01-05").unwrap_err();
        assert!(error.to_string().contains("`2026-01-05`"), "{error}");
    }

    #[test]
    fn from_datetime_writes_utc_milliseconds_with_z() {
        let instant = time::macros::datetime!(2026-01-05 11:00:00.123456 +01:00);
        assert_eq!(Timestamp::from_datetime(instant).as_str(), "2026-01-05T10:00:00.123Z");
    }

    #[test]
    fn to_datetime_reads_back_the_instant() {
        let stamp = Timestamp::parse("2016-09-23T13:07:49.4714686-07:00").unwrap();
        assert_eq!(
            stamp.to_datetime(),
            time::macros::datetime!(2016-09-23 20:07:49.4714686 UTC)
        );
    }
}
