//! A tenant's configured world: its users, queues and workstreams, checked as a whole.
//!
//! [`Tenant::new`] is the only way to build one, and it refuses a set of parts that refer to
//! things that do not exist, repeat a name, or break a product rule (a bot in a pick workstream,
//! a voice workstream that is not push). Everything past it can look names up without
//! re-checking. Each error names the offending item so the configuration loader can point at
//! the exact place in the file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::names::{QueueName, RuleName, TenantName, UserName, WorkstreamName};
use crate::queue::Queue;
use crate::rules::{CheckError, check};
use crate::user::{User, UserKind};
use crate::workstream::{Channel, DistributionMode, Workstream};

/// Where in a workstream a queue is referred to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueRef {
    /// The workstream's fallback queue.
    Fallback,
    /// A routing rule's destination.
    Rule(RuleName),
}

impl fmt::Display for QueueRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueRef::Fallback => f.write_str("fallback queue"),
            QueueRef::Rule(r) => write!(f, "rule `{r}`"),
        }
    }
}

/// Why a set of users, queues and workstreams does not make a valid tenant.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TenantError {
    #[error("user `{0}` is defined more than once (bots and people share one set of names)")]
    DuplicateUser(UserName),
    #[error("bots `{bot}` and `{other}` have the same app id `{app_id}`")]
    DuplicateAppId {
        bot: UserName,
        other: UserName,
        app_id: String,
    },
    #[error("queue `{0}` is defined more than once")]
    DuplicateQueue(QueueName),
    #[error("queue `{queue}` lists member `{member}` more than once")]
    DuplicateMember { queue: QueueName, member: UserName },
    #[error("workstream `{0}` is defined more than once")]
    DuplicateWorkstream(WorkstreamName),
    #[error("workstream `{workstream}` has more than one rule named `{rule}`")]
    DuplicateRule { workstream: WorkstreamName, rule: RuleName },
    #[error("queue `{queue}` has member `{member}`, which is not a defined bot or agent")]
    UnknownMember { queue: QueueName, member: UserName },
    #[error("the {place} of workstream `{workstream}` names queue `{queue}`, which is not defined")]
    UnknownQueue {
        workstream: WorkstreamName,
        place: QueueRef,
        queue: QueueName,
    },
    #[error("rule `{rule}` of workstream `{workstream}`: {error}")]
    Condition {
        workstream: WorkstreamName,
        rule: RuleName,
        error: CheckError,
    },
    #[error(
        "workstream `{workstream}` is a pick workstream, but its {place} sends work to queue `{queue}`, which has bot `{bot}`"
    )]
    BotInPickWorkstream {
        workstream: WorkstreamName,
        place: QueueRef,
        queue: QueueName,
        bot: UserName,
    },
    #[error("workstream `{0}` is a voice workstream, and voice workstreams must be push")]
    VoiceMustBePush(WorkstreamName),
    #[error("workstream `{0}` gives a conversation 0 capacity units; it must take at least 1")]
    ZeroCapacity(WorkstreamName),
    #[error("workstream `{0}` allows no presence, so no agent could ever be offered its work")]
    NoAllowedPresence(WorkstreamName),
    #[error("workstream `{workstream}` names `{name}` as its {role}, but that is not a defined bot")]
    NotABot {
        workstream: WorkstreamName,
        /// `survey bot` or `smart-assist bot`.
        role: &'static str,
        name: UserName,
    },
}

impl TenantError {
    /// How to fix it, in a sentence.
    pub fn help(&self) -> String {
        match self {
            TenantError::DuplicateUser(_) => "give each bot and agent its own name".into(),
            TenantError::DuplicateAppId { .. } => "each bot needs its own Microsoft App ID".into(),
            TenantError::DuplicateQueue(_) => "rename or remove one of the queues".into(),
            TenantError::DuplicateMember { .. } => "list each member once".into(),
            TenantError::DuplicateWorkstream(_) => "rename or remove one of the workstreams".into(),
            TenantError::DuplicateRule { .. } => "give each rule of a workstream its own name".into(),
            TenantError::UnknownMember { .. } => "add the user under [[bots]] or [[agents]], or fix the spelling (names are case-sensitive)".into(),
            TenantError::UnknownQueue { .. } => "define the queue under [[queues]], or fix the spelling (names are case-sensitive)".into(),
            TenantError::Condition { error, .. } => error.help.clone().unwrap_or_else(|| "fix the condition".into()),
            TenantError::BotInPickWorkstream { .. } => {
                "bots take conversations only in push workstreams: make the workstream push, or remove the bot from the queue".into()
            }
            TenantError::VoiceMustBePush(_) => "set mode = \"push\"".into(),
            TenantError::ZeroCapacity(_) => "set capacity to 1 or more".into(),
            TenantError::NoAllowedPresence(_) => "list at least one presence, e.g. allowed_presences = [\"available\", \"busy\"]".into(),
            TenantError::NotABot { .. } => "define the bot under [[bots]], or fix the spelling (names are case-sensitive)".into(),
        }
    }
}

/// A tenant's users, queues and workstreams, known to refer to each other consistently.
#[derive(Debug, Clone)]
pub struct Tenant {
    name: TenantName,
    users: BTreeMap<UserName, User>,
    queues: BTreeMap<QueueName, Queue>,
    workstreams: BTreeMap<WorkstreamName, Workstream>,
}

impl Tenant {
    /// Checks the parts against each other; returns every problem found, not just the first.
    pub fn new(
        name: TenantName,
        users: Vec<User>,
        queues: Vec<Queue>,
        workstreams: Vec<Workstream>,
    ) -> Result<Self, Vec<TenantError>> {
        let mut errors = Vec::new();

        let mut user_map = BTreeMap::new();
        let mut app_ids: BTreeMap<String, UserName> = BTreeMap::new();
        for user in users {
            if let UserKind::Bot(bot) = &user.kind
                && !bot.app_id.is_empty()
            {
                if let Some(other) = app_ids.get(&bot.app_id) {
                    errors.push(TenantError::DuplicateAppId {
                        bot: user.name.clone(),
                        other: other.clone(),
                        app_id: bot.app_id.clone(),
                    });
                } else {
                    app_ids.insert(bot.app_id.clone(), user.name.clone());
                }
            }
            if user_map.contains_key(&user.name) {
                errors.push(TenantError::DuplicateUser(user.name.clone()));
            } else {
                user_map.insert(user.name.clone(), user);
            }
        }

        let mut queue_map = BTreeMap::new();
        for queue in queues {
            let mut seen = BTreeSet::new();
            for member in &queue.members {
                if !seen.insert(member) {
                    errors.push(TenantError::DuplicateMember {
                        queue: queue.name.clone(),
                        member: member.clone(),
                    });
                }
                if !user_map.contains_key(member) {
                    errors.push(TenantError::UnknownMember {
                        queue: queue.name.clone(),
                        member: member.clone(),
                    });
                }
            }
            if queue_map.contains_key(&queue.name) {
                errors.push(TenantError::DuplicateQueue(queue.name.clone()));
            } else {
                queue_map.insert(queue.name.clone(), queue);
            }
        }

        let mut ws_map = BTreeMap::new();
        for ws in workstreams {
            check_workstream(&ws, &user_map, &queue_map, &mut errors);
            if ws_map.contains_key(&ws.name) {
                errors.push(TenantError::DuplicateWorkstream(ws.name.clone()));
            } else {
                ws_map.insert(ws.name.clone(), ws);
            }
        }

        if errors.is_empty() {
            Ok(Self {
                name,
                users: user_map,
                queues: queue_map,
                workstreams: ws_map,
            })
        } else {
            Err(errors)
        }
    }

    /// The tenant's name.
    pub fn name(&self) -> &TenantName {
        &self.name
    }

    /// A user by name.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }

    /// Moves bot `name`'s messaging endpoint (a built-in bot served where the hub listens, known
    /// only once it listens). Returns whether `name` is a bot.
    pub fn set_bot_endpoint(&mut self, name: &UserName, endpoint: crate::user::Endpoint) -> bool {
        match self.users.get_mut(name).map(|u| &mut u.kind) {
            Some(crate::user::UserKind::Bot(profile)) => {
                profile.endpoint = endpoint;
                true
            }
            _ => false,
        }
    }

    /// A queue by name.
    pub fn queue(&self, name: &str) -> Option<&Queue> {
        self.queues.get(name)
    }

    /// A workstream by name.
    pub fn workstream(&self, name: &str) -> Option<&Workstream> {
        self.workstreams.get(name)
    }

    /// Every user, by name.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// Every queue, by name.
    pub fn queues(&self) -> impl Iterator<Item = &Queue> {
        self.queues.values()
    }

    /// Every workstream, by name.
    pub fn workstreams(&self) -> impl Iterator<Item = &Workstream> {
        self.workstreams.values()
    }
}

fn check_workstream(
    ws: &Workstream,
    users: &BTreeMap<UserName, User>,
    queues: &BTreeMap<QueueName, Queue>,
    errors: &mut Vec<TenantError>,
) {
    if ws.channel == Channel::Voice && ws.mode != DistributionMode::Push {
        errors.push(TenantError::VoiceMustBePush(ws.name.clone()));
    }
    if ws.capacity.0 == 0 {
        errors.push(TenantError::ZeroCapacity(ws.name.clone()));
    }
    if ws.allowed_presences.is_empty() {
        errors.push(TenantError::NoAllowedPresence(ws.name.clone()));
    }
    let mut rule_names = BTreeSet::new();
    for rule in &ws.rules {
        if !rule_names.insert(&rule.name) {
            errors.push(TenantError::DuplicateRule {
                workstream: ws.name.clone(),
                rule: rule.name.clone(),
            });
        }
        for error in check(&rule.condition, &ws.variables) {
            errors.push(TenantError::Condition {
                workstream: ws.name.clone(),
                rule: rule.name.clone(),
                error,
            });
        }
    }
    let companions = ws
        .survey
        .iter()
        .map(|s| ("survey bot", &s.bot))
        .chain(ws.smart_assist.iter().map(|b| ("smart-assist bot", b)));
    for (role, name) in companions {
        if !users.get(name).is_some_and(User::is_bot) {
            errors.push(TenantError::NotABot {
                workstream: ws.name.clone(),
                role,
                name: name.clone(),
            });
        }
    }
    let destinations = ws
        .rules
        .iter()
        .map(|r| (QueueRef::Rule(r.name.clone()), &r.queue))
        .chain(std::iter::once((QueueRef::Fallback, &ws.fallback_queue)));
    for (place, queue_name) in destinations {
        let Some(queue) = queues.get(queue_name) else {
            errors.push(TenantError::UnknownQueue {
                workstream: ws.name.clone(),
                place,
                queue: queue_name.clone(),
            });
            continue;
        };
        if ws.mode == DistributionMode::Pick
            && let Some(bot) = queue.members.iter().find(|m| users.get(*m).is_some_and(User::is_bot))
        {
            errors.push(TenantError::BotInPickWorkstream {
                workstream: ws.name.clone(),
                place,
                queue: queue_name.clone(),
                bot: bot.clone(),
            });
        }
    }
}
