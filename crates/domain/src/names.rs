//! Names of configured things (tenants, queues, workstreams, rules, users).
//!
//! Names are how operators refer to things in the configuration file and in the API, so they are
//! validated once, here: non-empty, at most [`MAX_NAME_LEN`] characters, no leading or trailing
//! whitespace and no control characters. Comparison is case-sensitive, as in Omnichannel.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Longest accepted name, in characters.
pub const MAX_NAME_LEN: usize = 100;

/// Why a string was refused as a name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a name must not be empty")]
    Empty,
    #[error("a name is at most {max} characters long; this one has {len}")]
    TooLong { len: usize, max: usize },
    #[error("a name must not start or end with whitespace")]
    SurroundingWhitespace,
    #[error("a name must not contain control characters")]
    ControlCharacter,
}

/// Checks the rules shared by every kind of name.
pub fn validate_name(s: &str, max: usize) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::Empty);
    }
    let len = s.chars().count();
    if len > max {
        return Err(NameError::TooLong { len, max });
    }
    if s.trim() != s {
        return Err(NameError::SurroundingWhitespace);
    }
    if s.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Cloning is cheap (a reference count, no copy): names are cloned into every routing
        /// trace, event and assignment, far more often than they are created.
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
        #[serde(try_from = "String")]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates `s` as a name.
            pub fn new(s: impl Into<String>) -> Result<Self, NameError> {
                let s = s.into();
                validate_name(&s, MAX_NAME_LEN)?;
                Ok(Self(s.into()))
            }

            /// The name as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, NameError> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0.as_ref().to_owned()
            }
        }

        /// A plain string, written without copying the name first.
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

name_type!(
    /// The name of a tenant (an organisation).
    TenantName
);
name_type!(
    /// The name of a queue, unique within a tenant.
    QueueName
);
name_type!(
    /// The name of a workstream, unique within a tenant.
    WorkstreamName
);
name_type!(
    /// The name of a routing rule, unique within its workstream.
    RuleName
);
name_type!(
    /// The handle of a user (agent, supervisor, admin or bot), unique within a tenant.
    UserName
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_sensitive_and_trimmed_names_are_refused() {
        assert_ne!(QueueName::new("BotQueue").unwrap(), QueueName::new("botqueue").unwrap());
        assert_eq!(QueueName::new(" BotQueue"), Err(NameError::SurroundingWhitespace));
        assert_eq!(QueueName::new(""), Err(NameError::Empty));
        assert!(matches!(
            QueueName::new("x".repeat(101)),
            Err(NameError::TooLong { len: 101, max: 100 })
        ));
        assert!(QueueName::new("x".repeat(100)).is_ok());
        assert_eq!(QueueName::new("a\nb"), Err(NameError::ControlCharacter));
    }

    #[test]
    fn names_deserialize_through_validation() {
        let q: QueueName = serde_json::from_str("\"CreditCardQueue\"").unwrap();
        assert_eq!(q.as_str(), "CreditCardQueue");
        assert!(serde_json::from_str::<QueueName>("\"\"").is_err());
    }
}
