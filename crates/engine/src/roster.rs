//! Live state of every person and bot who can take work: presence, capacity in use, and when
//! they were last assigned work or last gave capacity back — the inputs of the assignment policy.

use std::collections::HashMap;
use std::sync::Mutex;

use domain::assign::{Assignment, Candidate, MemberKind, Request, WaitReason, assign};
use domain::queue::Queue;
use domain::tenant::Tenant;
use domain::user::{Capacity, UserKind};
use domain::{Presence, Timestamp, UserName};

/// One member's live state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberSnapshot {
    pub presence: Presence,
    pub used: Capacity,
    pub last_assigned_at: Option<Timestamp>,
    pub last_released_at: Option<Timestamp>,
}

impl Default for MemberSnapshot {
    fn default() -> Self {
        // People are offline until they sign in and say otherwise.
        Self {
            presence: Presence::Offline,
            used: Capacity(0),
            last_assigned_at: None,
            last_released_at: None,
        }
    }
}

/// Who got a conversation, or why nobody did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    Bot(UserName),
    Agent(UserName),
    Wait(WaitReason),
}

/// The live state of all members.
#[derive(Debug, Default)]
pub struct Roster {
    /// A plain mutex: every critical section is a short, synchronous read-decide-write over a
    /// map (no `.await` inside), and choosing a member and reserving their capacity must happen
    /// under one lock so two conversations can never both take an agent's last unit.
    members: Mutex<HashMap<UserName, MemberSnapshot>>,
}

impl Roster {
    /// The live state of `user`.
    pub fn snapshot(&self, user: &UserName) -> MemberSnapshot {
        self.lock().get(user).copied().unwrap_or_default()
    }

    /// Records a presence change.
    pub fn set_presence(&self, user: &UserName, presence: Presence) {
        self.lock().entry(user.clone()).or_default().presence = presence;
    }

    /// Chooses a member of `queue` for a conversation and, for an agent, reserves its capacity.
    pub fn place(&self, tenant: &Tenant, queue: &Queue, request: &Request<'_>, now: Timestamp) -> Placement {
        let mut members = self.lock();
        let candidates: Vec<Candidate<'_>> = queue
            .members
            .iter()
            .enumerate()
            .filter_map(|(position, name)| {
                let user = tenant.user(name.as_str())?;
                let state = members.get(name).copied().unwrap_or_default();
                let kind = match user.kind {
                    UserKind::Bot(_) => MemberKind::Bot,
                    UserKind::Human { capacity, .. } => MemberKind::Human {
                        capacity,
                        used: state.used,
                    },
                };
                Some(Candidate {
                    name,
                    kind,
                    presence: state.presence,
                    last_assigned_at: state.last_assigned_at,
                    last_released_at: state.last_released_at,
                    position,
                })
            })
            .collect();
        let chosen = match assign(queue.method, &candidates, request) {
            Assignment::Wait(reason) => return Placement::Wait(reason),
            Assignment::Member(c) => (c.name.clone(), c.is_bot()),
        };
        let state = members.entry(chosen.0.clone()).or_default();
        state.last_assigned_at = Some(now);
        if chosen.1 {
            Placement::Bot(chosen.0)
        } else {
            state.used = Capacity(state.used.0.saturating_add(request.units.0));
            Placement::Agent(chosen.0)
        }
    }

    /// Takes `units` of `user`'s capacity if they are in one of `allowed` presences and have
    /// that much free (a direct transfer or a pick, where no queue method chooses). Returns
    /// whether it did.
    pub fn try_reserve(
        &self,
        user: &UserName,
        capacity: Capacity,
        units: Capacity,
        allowed: &[Presence],
        now: Timestamp,
    ) -> bool {
        let mut members = self.lock();
        let state = members.entry(user.clone()).or_default();
        if !allowed.contains(&state.presence) || u64::from(state.used.0) + u64::from(units.0) > u64::from(capacity.0) {
            return false;
        }
        state.used = Capacity(state.used.0 + units.0);
        state.last_assigned_at = Some(now);
        true
    }

    /// Takes `units` of `user`'s capacity whatever their presence (restoring the capacity of
    /// conversations that were active when the hub stopped).
    pub fn reserve(&self, user: &UserName, units: Capacity) {
        let mut members = self.lock();
        let state = members.entry(user.clone()).or_default();
        state.used = Capacity(state.used.0.saturating_add(units.0));
    }

    /// Gives `units` of `user`'s capacity back.
    pub fn release(&self, user: &UserName, units: Capacity, now: Timestamp) {
        let mut members = self.lock();
        let state = members.entry(user.clone()).or_default();
        state.used = Capacity(state.used.0.saturating_sub(units.0));
        state.last_released_at = Some(now);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserName, MemberSnapshot>> {
        // A panic while holding the lock leaves plain data behind, still consistent enough to
        // keep serving; recover it rather than poisoning every later request.
        self.members.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
