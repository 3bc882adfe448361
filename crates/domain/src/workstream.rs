//! Workstreams: a channel, a distribution mode, context-variable definitions, ordered routing
//! rules with a fallback queue, and the timers and capacity settings of the work they carry.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::context::{Context, ContextDefs};
use crate::names::{QueueName, UserName, WorkstreamName};
use crate::presence::Presence;
use crate::rules::{RoutingDecision, Rule, route};
use crate::user::Capacity;

string_enum! {
    /// How customers arrive.
    Channel {
        Chat => "chat",
        Voice => "voice",
    }
}

string_enum! {
    /// Whether the hub pushes work to agents or agents pick it.
    DistributionMode {
        Push => "push",
        Pick => "pick",
    }
}

string_enum! {
    /// When an agent's capacity for a conversation is given back.
    CapacityRelease {
        /// When the conversation closes, after wrap-up (Omnichannel's "always block").
        AtClose => "at_close",
        /// As soon as the agent ends it and wrap-up starts.
        AtWrapUp => "at_wrap_up",
    }
}

/// The clocks that move a conversation on when nobody acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timers {
    /// A customer silent this long while waiting or with a bot abandons the conversation.
    pub customer_inactivity: Duration,
    /// Wrap-up closes by itself after this long.
    pub wrap_up: Duration,
    /// An offer not accepted within this long counts as declined.
    pub offer_timeout: Duration,
    /// An agent whose connection dropped keeps their conversations this long.
    pub agent_reconnect_grace: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Self {
            customer_inactivity: Duration::from_secs(10 * 60),
            wrap_up: Duration::from_secs(2 * 60),
            offer_timeout: Duration::from_secs(60),
            agent_reconnect_grace: Duration::from_secs(90),
        }
    }
}

/// A post-conversation survey: the bot the conversation passes to when it ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveySettings {
    /// The survey bot.
    pub bot: UserName,
    /// Whether the survey also follows a customer ending the chat (it always follows an agent
    /// ending it; never a customer who went silent).
    pub on_customer_end: bool,
    /// A survey still running this long after it began is ended by the hub.
    pub timeout: Duration,
}

impl SurveySettings {
    /// The default time a survey may take.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10 * 60);
}

/// A workstream as configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workstream {
    pub name: WorkstreamName,
    pub channel: Channel,
    pub mode: DistributionMode,
    pub variables: ContextDefs,
    /// Evaluated in this order; the first whose condition holds wins.
    pub rules: Vec<Rule>,
    /// Where a conversation goes when no rule matches.
    pub fallback_queue: QueueName,
    /// Units of agent capacity one conversation of this workstream takes.
    pub capacity: Capacity,
    pub capacity_release: CapacityRelease,
    /// Presences in which an agent is offered work.
    pub allowed_presences: Vec<Presence>,
    /// Push only: whether an offer is accepted on the agent's behalf.
    pub auto_accept: bool,
    pub timers: Timers,
    /// The post-conversation survey, if the workstream has one.
    pub survey: Option<SurveySettings>,
    /// Bots that receive copies of the messages while an agent owns a conversation and
    /// suggest replies to that agent only (never metered, never seen by the customer).
    pub smart_assist: Vec<UserName>,
}

impl Workstream {
    /// Runs the routing rules over `context`.
    pub fn route(&self, context: &Context) -> RoutingDecision {
        route(&self.rules, &self.fallback_queue, context)
    }
}
