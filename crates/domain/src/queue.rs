//! Queues: ordered pools of members (agents and bots) with an assignment method.

use serde::{Deserialize, Serialize};

use crate::names::{QueueName, UserName};

string_enum! {
    /// How a queue picks a member for the next conversation.
    AssignmentMethod {
        /// The member with the most free capacity; ties go to the earliest last assignment.
        HighestCapacity => "highest_capacity",
        /// Members in turn: the earliest last assignment first; ties by order in the queue.
        RoundRobin => "round_robin",
        /// The member whose capacity was released longest ago (idle the longest).
        LeastActive => "least_active",
    }
}

// The enum is declared by `string_enum!`, which cannot mark a default variant.
#[allow(clippy::derivable_impls)]
impl Default for AssignmentMethod {
    fn default() -> Self {
        AssignmentMethod::HighestCapacity
    }
}

/// A queue as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    pub name: QueueName,
    /// Members in the order they were added; the order breaks round-robin ties.
    pub members: Vec<UserName>,
    pub method: AssignmentMethod,
}
