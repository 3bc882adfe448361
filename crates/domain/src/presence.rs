//! Agent presence, as in Omnichannel's base statuses.

use serde::{Deserialize, Serialize};

string_enum! {
    /// What an agent told the hub about their availability.
    Presence {
        Available => "available",
        Busy => "busy",
        BusyDnd => "busy_dnd",
        Away => "away",
        Offline => "offline",
    }
}

impl Presence {
    /// The presences in which a workstream offers work by default.
    pub const DEFAULT_ALLOWED: [Presence; 2] = [Presence::Available, Presence::Busy];
}
