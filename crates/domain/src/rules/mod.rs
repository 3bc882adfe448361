//! Routing rules: a small condition language over context variables, parsed once into an AST,
//! and the routing decision (first matching rule wins, else the fallback queue) with a trace of
//! why each rule did or did not match.

use serde::{Deserialize, Serialize};

use crate::names::{QueueName, RuleName};

/// A routing rule: when `condition` holds, the conversation goes to `queue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub name: RuleName,
    pub condition: Condition,
    pub queue: QueueName,
}
