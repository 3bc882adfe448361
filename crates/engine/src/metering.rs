//! Bot-session metering in the running hub (docs/metering.md): the month's usage, read from the
//! store (each conversation a bot engaged is one session, in the month its first bot was
//! invoked, so counting is exact and survives restarts), and a watch that logs and exports the
//! pool's level as it crosses 80 % and 100 %.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::metering::{Level, Policy, Usage};
use domain::{Timestamp, UserName};

use crate::hub::{EngineError, Hub};
use crate::work::lock;

/// How often the watch reads the month's usage.
const WATCH_EVERY: Duration = Duration::from_secs(10);

/// A calendar month, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    pub month: time::Month,
}

impl Month {
    /// The month of `at`.
    pub fn of(at: Timestamp) -> Month {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.millis()) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        Month {
            year: t.year(),
            month: t.month(),
        }
    }

    /// `YYYY-MM`.
    pub fn parse(s: &str) -> Result<Month, String> {
        let bad = || format!("`{s}` is not a month (YYYY-MM)");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        let month = time::Month::try_from(month).map_err(|_| bad())?;
        Ok(Month { year, month })
    }

    /// The first instant of the month and of the next one.
    pub fn range(self) -> (Timestamp, Timestamp) {
        let start = |year: i32, month: time::Month| {
            time::Date::from_calendar_date(year, month, 1)
                .map(|d| Timestamp((d.midnight().assume_utc().unix_timestamp_nanos() / 1_000_000) as i64))
                .unwrap_or(Timestamp(0))
        };
        let next = match self.month {
            time::Month::December => start(self.year + 1, time::Month::January),
            m => start(self.year, m.next()),
        };
        (start(self.year, self.month), next)
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, u8::from(self.month))
    }
}

/// A month's bot sessions.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthUsage {
    pub month: Month,
    pub used: u64,
    /// Sessions by the first bot of each conversation.
    pub by_bot: Vec<(UserName, u64)>,
    /// Against the pool; `None` when the configuration has no `[metering]`.
    pub usage: Option<Usage>,
}

/// The level last seen per month by the watch.
#[derive(Debug, Default)]
pub(crate) struct Watch(Mutex<Option<(Month, Level)>>);

impl Hub {
    /// Gives the hub its metering policy (before it starts).
    pub fn with_metering(mut self, policy: Option<Policy>) -> Self {
        self.metering = policy;
        self
    }

    /// The metering policy, if the configuration has one.
    pub fn metering(&self) -> Option<Policy> {
        self.metering
    }

    /// The bot sessions of `month`.
    pub async fn usage(&self, month: Month) -> Result<MonthUsage, EngineError> {
        let (from, before) = month.range();
        let by_bot = self.store().bot_sessions(self.tenant().name(), from, before).await?;
        let used = by_bot.iter().map(|(_, n)| n).sum();
        Ok(MonthUsage {
            month,
            used,
            by_bot,
            usage: self.metering.map(|p| Usage {
                used,
                entitled: p.entitlement.sessions(),
            }),
        })
    }

    /// Whether the current month's pool is spent (for `when_spent = "route_to_people"`).
    pub async fn pool_spent(&self) -> Result<bool, EngineError> {
        let Some(_) = self.metering else { return Ok(false) };
        let month = self.usage(Month::of(crate::now())).await?;
        Ok(month.usage.is_some_and(Usage::spent))
    }

    /// Reads the month's usage every few seconds: exports it as metrics and logs a warning
    /// when the pool reaches 80 % and when it is spent (once per level and month).
    pub(crate) fn start_metering_watch(self: &Arc<Self>) {
        if self.metering.is_none() {
            return;
        }
        let weak = Arc::downgrade(self);
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            let mut tick = tokio::time::interval(WATCH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let Some(hub) = weak.upgrade() else { return };
                match hub.usage(Month::of(crate::now())).await {
                    Ok(month) => hub.note_usage(&month),
                    Err(e) => tracing::warn!(error = %e, "reading the bot-session usage failed"),
                }
            }
        });
    }

    /// Exports `month`'s usage and logs a level it newly reached.
    pub(crate) fn note_usage(&self, month: &MonthUsage) {
        let Some(usage) = month.usage else { return };
        metrics::gauge!("switchboard_bot_sessions_used").set(usage.used as f64);
        metrics::gauge!("switchboard_bot_sessions_entitled").set(usage.entitled as f64);
        let level = usage.level();
        let previous = lock(&self.metering_watch.0).replace((month.month, level));
        let newly = match previous {
            Some((m, before)) if m == month.month => level > before,
            _ => level != Level::Ok,
        };
        if newly {
            match level {
                Level::Ok => {}
                Level::Warning => tracing::warn!(
                    month = %month.month, used = usage.used, entitled = usage.entitled,
                    "bot sessions: 80 % of the month's pool is used"
                ),
                Level::Exhausted | Level::Over => tracing::warn!(
                    month = %month.month, used = usage.used, entitled = usage.entitled,
                    when_spent = self.metering.map_or("serve", |p| p.when_spent.as_str()),
                    "bot sessions: the month's pool is spent"
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_print_and_span_their_days_including_december() {
        let m = Month::parse("2026-12").unwrap();
        assert_eq!(m.to_string(), "2026-12");
        let (from, before) = m.range();
        assert_eq!(Month::of(from), m);
        assert_eq!(Month::of(Timestamp(before.millis() - 1)), m);
        assert_eq!(Month::of(before).to_string(), "2027-01");
        assert_eq!(before.millis() - from.millis(), 31 * 86_400_000);
        for bad in ["2026-13", "2026-1", "26-01", "2026/01", ""] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
    }
}
