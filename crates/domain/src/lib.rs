//! The pure core of Switchboard: the concepts of DESIGN.md §1 as types that cannot hold invalid
//! values, and the decisions made over them (routing, assignment, state transitions).
//!
//! Nothing here performs I/O or reads a clock: callers pass timestamps in. That keeps every
//! decision a plain function that unit tests and `proptest` can drive exhaustively.

/// Declares a closed set of states with one stable lowercase spelling, shared by Rust, the wire
/// (serde) and the database (`as_str` / `FromStr`), so a state is never a free string.
macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable spelling used on the wire and in storage.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::UnknownVariant {
                        kind: stringify!($name),
                        got: s.to_owned(),
                        expected: &[$($text),+],
                    }),
                }
            }
        }
    };
}

/// A string that names none of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{got}` is not a valid {kind}; expected one of: {}", expected.join(", "))]
pub struct UnknownVariant {
    /// Which enum was being parsed.
    pub kind: &'static str,
    /// The text that did not match.
    pub got: String,
    /// Every accepted spelling.
    pub expected: &'static [&'static str],
}

pub mod activity;
pub mod analytics;
pub mod assign;
pub mod attachment;
pub mod context;
pub mod conversation;
pub mod metering;
pub mod names;
pub mod presence;
pub mod queue;
pub mod routing;
pub mod rules;
pub mod sentiment;
pub mod sign_in;
pub mod tenant;
pub mod time;
pub mod user;
pub mod workstream;

pub use activity::Seq;
pub use context::{Context, ContextValue, ContextVarDef, ContextVarName, VarType};
pub use conversation::{ConversationId, ConversationState, Outcome, Owner};
pub use names::{QueueName, RuleName, TenantName, UserName, WorkstreamName};
pub use presence::Presence;
pub use routing::{RoutingCause, RoutingDecision, RuleTrace};
pub use sentiment::Sentiment;
pub use time::Timestamp;
