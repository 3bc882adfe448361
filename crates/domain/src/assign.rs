//! Assignment policy: which member of a queue gets the next conversation, or why it waits.
//!
//! [`assign`] is a pure function of the queue's [`AssignmentMethod`], a snapshot of its members as
//! [`Candidate`]s (presence, capacity in use, assignment history) and the conversation to place as
//! a [`Request`]. The engine keeps that state and builds the snapshot; nothing here reads a clock
//! or a store, so a decision can be replayed and `proptest` can check it on arbitrary queues.
//!
//! # Who can be chosen
//!
//! A **human** member (an agent) is eligible when all of these hold:
//!
//! - their presence is one of the request's allowed presences (the workstream setting; an empty
//!   list allows nobody);
//! - `used + units <= capacity`, where `units` is what this conversation takes: an assignment never
//!   takes an agent over capacity. An agent already over capacity (after a forced assignment) is
//!   not eligible, not even for a conversation that takes no units;
//! - they have declined this conversation fewer than `max_declines` times (Omnichannel allows 3 by
//!   default, [`DEFAULT_MAX_DECLINES`]; rejecting an offer or letting it time out both count).
//!
//! A **bot** member is eligible unless it already escalated this conversation: the same bot never
//! gets back a conversation it handed over. Presence, capacity and declines do not apply to bots. A
//! bot has no capacity to consume ([`MemberKind::Bot`] carries none), a bot hands a conversation
//! back by escalating rather than declining, and a bot that is down is the engine's concern.
//!
//! # Who is chosen
//!
//! 1. **Bots first.** Putting a bot in a queue makes it the first recipient. Omnichannel gets there
//!    indirectly, by asking administrators to give the bot the highest capacity in the queue and
//!    never consuming it; here the rule is explicit: an eligible bot is chosen before any agent,
//!    whatever the method. Among several eligible bots, the earliest last assignment wins.
//! 2. **Otherwise an agent, by the queue's method:**
//!    - `highest_capacity`: the most free capacity (`capacity - used`); ties go to the earliest
//!      last assignment (Omnichannel: "ties → round robin").
//!    - `round_robin`: the earliest last assignment, so members take turns.
//!    - `least_active`: the earliest last release of capacity, i.e. idle the longest; ties go to
//!      the earliest last assignment. This looks at when an agent last finished work, not at how
//!      much they hold now.
//! 3. **Remaining ties** go to the member added to the queue first (lowest `position`), then to the
//!    lowest name, so the choice never depends on the order of the members slice.
//!
//! "Earliest" counts *never* as earlier than any instant: a member never assigned anything goes
//! before everyone who has been, and one who never released capacity counts as idle the longest.
//!
//! # Why a conversation waits
//!
//! With no eligible member, [`assign`] returns [`Assignment::Wait`] with the [`WaitReason`] that
//! got furthest: each member is stopped at the first check it fails (for agents: presence, then
//! capacity, then declines), and the reason reported is the latest check any member reached. So
//! `no_free_capacity` means "someone was there, but full", and `all_declined` means "someone could
//! have taken it, but declined it too often". In order:
//!
//! - `no_members`: the queue is empty;
//! - `only_escalated_bots`: every member is a bot that already escalated this conversation;
//! - `none_available`: no agent is in an allowed presence;
//! - `no_free_capacity`: agents are present, but none has `units` free;
//! - `all_declined`: every agent present with free capacity declined it `max_declines` times.
//!
//! # Cost
//!
//! One pass over the members, with no sorting and no allocation. The escalation and decline lists
//! are searched linearly; both are short (the bots that had this conversation, the agents who
//! declined it), and declines are looked up only for an agent who would take the lead.
//!
//! # Not here
//!
//! Supervisors force-assigning a conversation (which may take an agent over capacity), skills,
//! and Omnichannel's rule that a conversation declined by 100 agents is left to manual assignment
//! belong to later issues.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::names::UserName;
use crate::presence::Presence;
use crate::queue::AssignmentMethod;
use crate::time::Timestamp;
use crate::user::Capacity;

/// How many times an agent may decline a conversation before it is no longer offered to them
/// (Omnichannel's default; configurable there from 1 to 5).
pub const DEFAULT_MAX_DECLINES: u32 = 3;

/// Whether a queue member is a person or a bot, with what only that kind has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    /// An agent, with the units they can hold and the units their current work takes.
    Human {
        /// The agent's capacity.
        capacity: Capacity,
        /// Units taken by conversations the agent holds now; may exceed `capacity` after a
        /// forced assignment.
        used: Capacity,
    },
    /// A bot user: it has no capacity, so nothing is ever consumed.
    Bot,
}

/// One queue member as the assignment policy sees it at the moment of the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// The member's user name.
    pub name: &'a UserName,
    /// Agent (with capacity) or bot.
    pub kind: MemberKind,
    /// The agent's presence. Ignored for bots: a bot is always reachable as far as assignment is
    /// concerned, and the engine deals with bot outages.
    pub presence: Presence,
    /// When the member was last assigned a conversation; `None` if never, which counts as the
    /// earliest of all.
    pub last_assigned_at: Option<Timestamp>,
    /// When the member last gave capacity back (for `least_active`); `None` if never, which
    /// counts as idle the longest.
    pub last_released_at: Option<Timestamp>,
    /// The member's place in the queue, in the order members were added; the last tie-breaker
    /// before the name.
    pub position: usize,
}

impl Candidate<'_> {
    /// Whether this member is a bot.
    pub fn is_bot(&self) -> bool {
        matches!(self.kind, MemberKind::Bot)
    }

    /// Capacity an agent has left, saturating at zero; `None` for a bot, which has no capacity.
    pub fn free_capacity(&self) -> Option<Capacity> {
        match self.kind {
            MemberKind::Human { capacity, used } => Some(capacity.free_after(used)),
            MemberKind::Bot => None,
        }
    }
}

/// The conversation to place, as far as assignment cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// Capacity this conversation takes from an agent (the workstream's setting).
    pub units: Capacity,
    /// Presences in which an agent may be offered it (the workstream's setting).
    pub allowed_presences: &'a [Presence],
    /// Bots that already escalated this conversation; none of them is offered it again. Names of
    /// agents here are ignored.
    pub escalated_by: &'a [UserName],
    /// How many times each agent declined this conversation; an agent not listed has not
    /// declined it. If an agent is listed twice, the higher count applies.
    pub declines: &'a [(UserName, u32)],
    /// An agent who declined this conversation this many times is not offered it again
    /// ([`DEFAULT_MAX_DECLINES`] unless configured; zero means no agent is offered it).
    pub max_declines: u32,
}

impl<'a> Request<'a> {
    /// A conversation nobody has escalated or declined yet, with the default decline limit.
    pub fn new(units: Capacity, allowed_presences: &'a [Presence]) -> Self {
        Self {
            units,
            allowed_presences,
            escalated_by: &[],
            declines: &[],
            max_declines: DEFAULT_MAX_DECLINES,
        }
    }

    /// How many times `agent` declined this conversation.
    pub fn declines_of(&self, agent: &UserName) -> u32 {
        self.declines
            .iter()
            .filter(|(name, _)| name == agent)
            .map(|&(_, count)| count)
            .max()
            .unwrap_or(0)
    }

    /// Whether `candidate` could hold this conversation, leaving declines aside; if not, the
    /// check it failed, named by the wait reason it leads to.
    fn can_hold(&self, candidate: &Candidate<'_>) -> Result<(), WaitReason> {
        match candidate.kind {
            MemberKind::Bot if self.escalated_by.contains(candidate.name) => Err(WaitReason::OnlyEscalatedBots),
            MemberKind::Bot => Ok(()),
            MemberKind::Human { capacity, used } => {
                if !self.allowed_presences.contains(&candidate.presence) {
                    return Err(WaitReason::NoneAvailable);
                }
                // Widened so that `used + units` cannot overflow and wrap into "fits".
                if u64::from(used.0) + u64::from(self.units.0) > u64::from(capacity.0) {
                    return Err(WaitReason::NoFreeCapacity);
                }
                Ok(())
            }
        }
    }

    /// Whether `candidate` is an agent who declined this conversation too often to be offered it.
    fn declined_out(&self, candidate: &Candidate<'_>) -> bool {
        !candidate.is_bot() && self.declines_of(candidate.name) >= self.max_declines
    }
}

string_enum! {
    /// Why no member could take a conversation, so the engine can log it and tell the customer.
    ///
    /// Declared from the least to the most progress a member made towards being eligible; the
    /// derived order is what [`assign`] uses to report the reason that got furthest.
    WaitReason {
        /// The queue has no members.
        NoMembers => "no_members",
        /// Every member is a bot that already escalated this conversation.
        OnlyEscalatedBots => "only_escalated_bots",
        /// No agent is in a presence the workstream allows.
        NoneAvailable => "none_available",
        /// Agents are in an allowed presence, but none has enough free capacity.
        NoFreeCapacity => "no_free_capacity",
        /// Every agent who is present and has free capacity declined this conversation the
        /// maximum number of times.
        AllDeclined => "all_declined",
        /// The conversation joined the end of the queue's line, and the queue's assignment
        /// cycle offers it in its turn (several hub nodes place work, so only the cycle, one at
        /// a time across them, keeps the queue first in, first out).
        InLine => "in_line",
    }
}

/// The outcome of [`assign`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignment<'a> {
    /// Offer the conversation to this member.
    Member(&'a Candidate<'a>),
    /// Keep the conversation waiting in the queue, for this reason.
    Wait(WaitReason),
}

impl<'a> Assignment<'a> {
    /// The chosen member, if any.
    pub fn member(self) -> Option<&'a Candidate<'a>> {
        match self {
            Assignment::Member(candidate) => Some(candidate),
            Assignment::Wait(_) => None,
        }
    }
}

/// Chooses the member of a queue to offer `request` to, or says why it must wait; the rules are
/// in the [module documentation](self).
///
/// One pass over `members`, without allocating; the result does not depend on their order.
pub fn assign<'a>(method: AssignmentMethod, members: &'a [Candidate<'a>], request: &Request<'_>) -> Assignment<'a> {
    let mut best: Option<&'a Candidate<'a>> = None;
    let mut furthest = WaitReason::NoMembers;
    for candidate in members {
        if let Err(reason) = request.can_hold(candidate) {
            furthest = furthest.max(reason);
            continue;
        }
        // Declines are looked up by name, so only for a member who would take the lead. Skipping
        // the lookup for the others is safe: there is already an eligible leader, so the result
        // is a member and the wait reason it would have fed is never read.
        if best.is_some_and(|best| precedence(method, candidate, best) != Ordering::Less) {
            continue;
        }
        if request.declined_out(candidate) {
            furthest = furthest.max(WaitReason::AllDeclined);
            continue;
        }
        best = Some(candidate);
    }
    best.map_or(Assignment::Wait(furthest), Assignment::Member)
}

/// The order in which eligible members are preferred: `Less` means `a` goes before `b`.
///
/// A total order (the name settles what nothing else does), which is what makes the single pass
/// in [`assign`] independent of the order of the members.
fn precedence(method: AssignmentMethod, a: &Candidate<'_>, b: &Candidate<'_>) -> Ordering {
    let by_kind_and_method = match (a.kind, b.kind) {
        (MemberKind::Bot, MemberKind::Human { .. }) => Ordering::Less,
        (MemberKind::Human { .. }, MemberKind::Bot) => Ordering::Greater,
        (MemberKind::Bot, MemberKind::Bot) => Ordering::Equal,
        (MemberKind::Human { .. }, MemberKind::Human { .. }) => match method {
            AssignmentMethod::HighestCapacity => b.free_capacity().cmp(&a.free_capacity()),
            AssignmentMethod::RoundRobin => Ordering::Equal,
            AssignmentMethod::LeastActive => a.last_released_at.cmp(&b.last_released_at),
        },
    };
    // `Option`'s order puts `None` (never) before every instant, as the rules want.
    by_kind_and_method
        .then(a.last_assigned_at.cmp(&b.last_assigned_at))
        .then(a.position.cmp(&b.position))
        .then_with(|| a.name.cmp(b.name))
}

#[cfg(test)]
mod tests;
