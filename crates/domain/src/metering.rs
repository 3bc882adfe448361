//! Bot-session metering (docs/metering.md). A *bot session* is a conversation in which any bot
//! was invoked — at its start, in its middle or at its end. Several bots in one conversation are
//! one session; a conversation escalated to a person still counts. It is counted once, in the
//! calendar month (UTC) its first bot was invoked, from what is stored with the conversation,
//! so restarts cannot count it twice.
//!
//! A tenant's monthly entitlement is pooled across its workstreams and does not carry over:
//! licences × [`SESSIONS_PER_LICENCE`] + add-ons × [`SESSIONS_PER_ADD_ON`].

use serde::{Deserialize, Serialize};

/// Sessions each licence brings per month.
pub const SESSIONS_PER_LICENCE: u64 = 50;
/// Sessions each bot-session add-on brings per month.
pub const SESSIONS_PER_ADD_ON: u64 = 100;
/// The share of the pool used at which a warning is raised.
pub const WARNING_AT: f64 = 0.8;

/// What the tenant bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Entitlement {
    pub licences: u64,
    pub add_ons: u64,
}

impl Entitlement {
    /// The month's pool.
    pub fn sessions(self) -> u64 {
        self.licences * SESSIONS_PER_LICENCE + self.add_ons * SESSIONS_PER_ADD_ON
    }
}

string_enum! {
    /// What happens to new conversations once the month's pool is spent.
    WhenSpent {
        /// Keep serving with bots and count the overage (the default).
        Serve => "serve",
        /// Route new conversations straight to people.
        RouteToPeople => "route_to_people",
    }
}

/// The tenant's metering: its pool and what happens when it is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub entitlement: Entitlement,
    pub when_spent: WhenSpent,
}

string_enum! {
    /// How far into the month's pool the tenant is.
    Level {
        /// Under 80 %.
        Ok => "ok",
        /// 80 % or more, under 100 %.
        Warning => "warning",
        /// Exactly all of it.
        Exhausted => "exhausted",
        /// More than the pool: the overage.
        Over => "over",
    }
}

/// A month's use of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub used: u64,
    pub entitled: u64,
}

impl Usage {
    pub fn remaining(self) -> u64 {
        self.entitled.saturating_sub(self.used)
    }

    /// Sessions past the pool.
    pub fn overage(self) -> u64 {
        self.used.saturating_sub(self.entitled)
    }

    /// Used / entitled (`None` with an empty pool).
    pub fn fraction(self) -> Option<f64> {
        (self.entitled > 0).then(|| self.used as f64 / self.entitled as f64)
    }

    pub fn level(self) -> Level {
        if self.used > self.entitled {
            Level::Over
        } else if self.used == self.entitled {
            Level::Exhausted
        } else if self.used as f64 >= WARNING_AT * self.entitled as f64 {
            Level::Warning
        } else {
            Level::Ok
        }
    }

    /// Whether the pool is spent: a new session would be past it.
    pub fn spent(self) -> bool {
        self.used >= self.entitled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_licence_and_one_add_on_is_150_with_the_warning_at_120() {
        let pool = Entitlement {
            licences: 1,
            add_ons: 1,
        }
        .sessions();
        assert_eq!(pool, 150);
        let at = |used| Usage { used, entitled: pool };
        assert_eq!(at(119).level(), Level::Ok);
        assert_eq!(at(120).level(), Level::Warning);
        assert_eq!(at(149).level(), Level::Warning);
        assert_eq!(
            (at(150).level(), at(150).remaining(), at(150).spent()),
            (Level::Exhausted, 0, true)
        );
        assert_eq!((at(151).level(), at(151).overage()), (Level::Over, 1));
        assert_eq!(at(30).fraction(), Some(0.2));
    }

    #[test]
    fn an_empty_pool_is_spent_from_the_start() {
        let u = Usage { used: 0, entitled: 0 };
        assert_eq!((u.level(), u.fraction(), u.spent()), (Level::Exhausted, None, true));
    }
}
