//! Live state of every person and bot who can take work: presence, capacity in use, and when
//! they were last assigned work or last gave capacity back — the inputs of the assignment policy.
//!
//! On SQLite this is a map in memory. On PostgreSQL it is the `members` table shared by every
//! node: each change locks the rows it reads (`store::Cluster::update_members`), so choosing a
//! member and reserving their capacity stays one atomic step across the cluster, and the state
//! outlives restarts.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use domain::assign::{Assignment, Candidate, MemberKind, Request, WaitReason, assign};
use domain::queue::Queue;
use domain::tenant::Tenant;
use domain::user::{Capacity, UserKind};
use domain::{Presence, Timestamp, UserName};
use store::StoreError;

/// One member's live state (see `store::Member`).
pub type MemberSnapshot = store::Member;

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
    /// The shared roster, on PostgreSQL; then `members` is unused.
    cluster: Option<Arc<store::Cluster>>,
}

impl Roster {
    pub(crate) fn new(cluster: Option<Arc<store::Cluster>>) -> Self {
        Self {
            members: Mutex::default(),
            cluster,
        }
    }

    /// Runs `change` over the states of `names` (absent ones start as the default) and keeps
    /// what it leaves, atomically.
    async fn change<R>(&self, names: &[&UserName], change: impl Fn(&mut dyn Members) -> R) -> Result<R, StoreError> {
        match &self.cluster {
            Some(cluster) => {
                cluster
                    .update_members(names, |rows| {
                        let mut view = Shared(rows);
                        change(&mut view)
                    })
                    .await
            }
            None => {
                let mut members = self.lock();
                let mut view = Local(&mut members);
                Ok(change(&mut view))
            }
        }
    }

    /// The live state of `user`.
    pub async fn snapshot(&self, user: &UserName) -> Result<MemberSnapshot, StoreError> {
        match &self.cluster {
            Some(cluster) => cluster.member(user).await,
            None => Ok(self.lock().get(user).copied().unwrap_or_default()),
        }
    }

    /// Records a presence change.
    pub async fn set_presence(&self, user: &UserName, presence: Presence) -> Result<(), StoreError> {
        self.change(&[user], |m| m.state(user).presence = presence).await
    }

    /// Chooses a member of `queue` for a conversation and, for an agent, reserves its capacity.
    pub async fn place(
        &self,
        tenant: &Tenant,
        queue: &Queue,
        request: &Request<'_>,
        now: Timestamp,
    ) -> Result<Placement, StoreError> {
        let names: Vec<&UserName> = queue.members.iter().collect();
        self.change(&names, |members| {
            let states: Vec<MemberSnapshot> = queue.members.iter().map(|n| *members.state(n)).collect();
            let candidates: Vec<Candidate<'_>> = queue
                .members
                .iter()
                .zip(&states)
                .enumerate()
                .filter_map(|(position, (name, state))| {
                    let user = tenant.user(name.as_str())?;
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
            let state = members.state(&chosen.0);
            state.last_assigned_at = Some(now);
            if chosen.1 {
                Placement::Bot(chosen.0)
            } else {
                state.used = Capacity(state.used.0.saturating_add(request.units.0));
                Placement::Agent(chosen.0)
            }
        })
        .await
    }

    /// Takes `units` of `user`'s capacity if they are in one of `allowed` presences and have
    /// that much free (a direct transfer or a pick, where no queue method chooses). Returns
    /// whether it did.
    pub async fn try_reserve(
        &self,
        user: &UserName,
        capacity: Capacity,
        units: Capacity,
        allowed: &[Presence],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.change(&[user], |members| {
            let state = members.state(user);
            if !allowed.contains(&state.presence)
                || u64::from(state.used.0) + u64::from(units.0) > u64::from(capacity.0)
            {
                return false;
            }
            state.used = Capacity(state.used.0 + units.0);
            state.last_assigned_at = Some(now);
            true
        })
        .await
    }

    /// Takes `units` of `user`'s capacity whatever their presence (restoring the capacity of
    /// conversations that were active when the hub stopped).
    pub async fn reserve(&self, user: &UserName, units: Capacity) -> Result<(), StoreError> {
        self.change(&[user], |members| {
            let state = members.state(user);
            state.used = Capacity(state.used.0.saturating_add(units.0));
        })
        .await
    }

    /// Gives `units` of `user`'s capacity back.
    pub async fn release(&self, user: &UserName, units: Capacity, now: Timestamp) -> Result<(), StoreError> {
        self.change(&[user], |members| {
            let state = members.state(user);
            state.used = Capacity(state.used.0.saturating_sub(units.0));
            state.last_released_at = Some(now);
        })
        .await
    }

    /// Whether the roster is shared with other nodes (and kept in the database).
    pub(crate) fn shared(&self) -> bool {
        self.cluster.is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserName, MemberSnapshot>> {
        // A panic while holding the lock leaves plain data behind, still consistent enough to
        // keep serving; recover it rather than poisoning every later request.
        self.members.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The member states a change works on, wherever they are kept.
trait Members {
    /// `name`'s state, the default if it had none.
    fn state(&mut self, name: &UserName) -> &mut MemberSnapshot;
}

struct Local<'a>(&'a mut HashMap<UserName, MemberSnapshot>);

impl Members for Local<'_> {
    fn state(&mut self, name: &UserName) -> &mut MemberSnapshot {
        self.0.entry(name.clone()).or_default()
    }
}

struct Shared<'a>(&'a mut BTreeMap<UserName, MemberSnapshot>);

impl Members for Shared<'_> {
    fn state(&mut self, name: &UserName) -> &mut MemberSnapshot {
        self.0.entry(name.clone()).or_default()
    }
}
