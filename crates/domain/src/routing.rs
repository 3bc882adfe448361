//! The result of routing a conversation: the queue chosen, the rule that chose it, and a trace
//! of every rule evaluated (matched or not, and why). The trace is stored with the conversation
//! so an operator can see afterwards why it went where it went.

use serde::{Deserialize, Serialize};

use crate::names::{QueueName, RuleName};

/// One rule's part in a routing decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleTrace {
    pub rule: RuleName,
    pub matched: bool,
    /// Why it matched or not, in words an operator reads (e.g.
    /// `BotHandoffTopic is "CreditCard", which equals "CreditCard"`).
    pub reason: String,
}

/// Where routing sent a conversation, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingDecision {
    pub queue: QueueName,
    /// The rule that matched; `None` when no rule did and the fallback queue was used.
    pub rule: Option<RuleName>,
    /// Every rule evaluated, in order, up to and including the first that matched.
    pub trace: Vec<RuleTrace>,
}
