//! Slowing down password guessing: wrong passwords are counted per account (the name as
//! given, known or not) and per client address, and once either has used up its allowance
//! each further attempt waits (`domain::sign_in::wait_after`: 1 s, doubling, up to a ceiling).
//! While an attempt must wait it is refused without checking the password.
//!
//! A success clears the account's count (not the address's: one person signing in does not
//! excuse the other names guessed from there). A count is forgotten once its wait is over and
//! another ceiling's worth of time passed without a wrong password; the map is also capped, so
//! a flood of made-up names cannot grow it without bound. IPv6 clients are counted per /64,
//! the block one host usually has to itself.
//!
//! The clock is the caller's (`now` is passed in), so tests drive it without sleeping.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How much guessing is tolerated (`[limits]` sign_in_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInLimits {
    /// Wrong passwords one account may have before its attempts wait.
    pub account_failures: NonZeroU32,
    /// Wrong passwords one client address may have (over all names) before its attempts wait.
    pub address_failures: NonZeroU32,
    /// The longest wait.
    pub max_delay: Duration,
    /// Password checks running at once.
    pub checks_at_once: NonZeroU32,
}

impl Default for SignInLimits {
    fn default() -> Self {
        let n = |v: u32| NonZeroU32::new(v).expect("not zero");
        Self {
            account_failures: n(5),
            address_failures: n(20),
            max_delay: Duration::from_secs(15 * 60),
            checks_at_once: n(2),
        }
    }
}

/// The most counts kept; past it the stalest is dropped for a new one.
const MAX_RECORDS: usize = 65_536;
/// Every this many wrong passwords, forgotten counts are swept out.
const SWEEP_EVERY: u64 = 1024;
/// Names longer than this (no real one is) are counted by their first this many bytes.
const MAX_NAME_KEY: usize = 128;

/// What a count is kept for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(Box<str>),
    Address(IpAddr),
}

impl Key {
    fn account(name: &str) -> Self {
        let mut end = name.len().min(MAX_NAME_KEY);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        Key::Account(name[..end].into())
    }

    fn address(ip: IpAddr) -> Self {
        Key::Address(match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
            },
            v4 => v4,
        })
    }
}

/// Wrong passwords in a row, and when the last one was.
#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
}

/// The counts of wrong passwords (see the module doc).
#[derive(Debug)]
pub struct SignInThrottle {
    limits: SignInLimits,
    /// A std mutex: held only for a map lookup or update, never across an await.
    records: Mutex<Records>,
}

#[derive(Debug, Default)]
struct Records {
    map: HashMap<Key, Record>,
    failures_seen: u64,
}

impl Default for SignInThrottle {
    fn default() -> Self {
        Self::new(SignInLimits::default())
    }
}

impl SignInThrottle {
    pub fn new(limits: SignInLimits) -> Self {
        Self {
            limits,
            records: Mutex::new(Records::default()),
        }
    }

    fn allowance(&self, key: &Key) -> u32 {
        match key {
            Key::Account(_) => self.limits.account_failures.get(),
            Key::Address(_) => self.limits.address_failures.get(),
        }
    }

    /// When `record` (of `key`) lets the next attempt through.
    fn open_at(&self, key: &Key, record: Record) -> Instant {
        record.last + domain::sign_in::wait_after(record.failures, self.allowance(key), self.limits.max_delay)
    }

    /// Whether `record` can be forgotten: its wait is over and a ceiling's worth of quiet
    /// followed.
    fn forgotten(&self, key: &Key, record: Record, now: Instant) -> bool {
        now >= self.open_at(key, record) + self.limits.max_delay
    }

    /// `Ok` when `name` may be tried from `client` now; else how long to wait.
    pub fn admit(&self, name: &str, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let records = self.records.lock().expect("not poisoned");
        let wait = [Key::account(name), Key::address(client)]
            .into_iter()
            .filter_map(|key| {
                let record = *records.map.get(&key)?;
                let open_at = self.open_at(&key, record);
                (open_at > now).then(|| open_at - now)
            })
            .max();
        wait.map_or(Ok(()), Err)
    }

    /// Counts a wrong password for `name` from `client`.
    pub fn failed(&self, name: &str, client: IpAddr, now: Instant) {
        let mut records = self.records.lock().expect("not poisoned");
        records.failures_seen += 1;
        if records.failures_seen.is_multiple_of(SWEEP_EVERY) {
            records.map.retain(|key, record| !self.forgotten(key, *record, now));
        }
        for key in [Key::account(name), Key::address(client)] {
            let failures = match records.map.get(&key) {
                Some(record) if !self.forgotten(&key, *record, now) => record.failures.saturating_add(1),
                _ => 1,
            };
            if !records.map.contains_key(&key) && records.map.len() >= MAX_RECORDS {
                records.map.retain(|key, record| !self.forgotten(key, *record, now));
                if records.map.len() >= MAX_RECORDS
                    && let Some(stalest) = records.map.iter().min_by_key(|(_, r)| r.last).map(|(k, _)| k.clone())
                {
                    records.map.remove(&stalest);
                }
            }
            records.map.insert(key, Record { failures, last: now });
        }
    }

    /// A right password for `name`: its count starts again.
    pub fn succeeded(&self, name: &str) {
        self.records
            .lock()
            .expect("not poisoned")
            .map
            .remove(&Key::account(name));
    }

    /// How many counts are kept (for tests and metrics).
    pub fn len(&self) -> usize {
        self.records.lock().expect("not poisoned").map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn throttle() -> SignInThrottle {
        SignInThrottle::new(SignInLimits::default())
    }

    #[test]
    fn five_wrong_passwords_make_the_account_wait_one_second_then_two() {
        let t = throttle();
        let start = Instant::now();
        for n in 0..5 {
            assert_eq!(t.admit("alice", ip("192.0.2.1"), start), Ok(()), "attempt {n}");
            t.failed("alice", ip("192.0.2.1"), start);
        }
        assert_eq!(t.admit("alice", ip("192.0.2.1"), start), Err(SECOND));
        assert_eq!(t.admit("alice", ip("192.0.2.9"), start), Err(SECOND), "from anywhere");
        assert_eq!(t.admit("bob", ip("192.0.2.9"), start), Ok(()), "others are unaffected");
        let later = start + SECOND;
        assert_eq!(t.admit("alice", ip("192.0.2.1"), later), Ok(()));
        t.failed("alice", ip("192.0.2.1"), later);
        assert_eq!(t.admit("alice", ip("192.0.2.1"), later), Err(2 * SECOND));
        assert_eq!(t.admit("alice", ip("192.0.2.1"), later + SECOND), Err(SECOND));
    }

    #[test]
    fn a_success_clears_the_account_but_not_the_address() {
        let limits = SignInLimits {
            address_failures: NonZeroU32::new(6).unwrap(),
            ..SignInLimits::default()
        };
        let t = SignInThrottle::new(limits);
        let now = Instant::now();
        for _ in 0..4 {
            t.failed("alice", ip("192.0.2.1"), now);
        }
        t.succeeded("alice");
        for _ in 0..2 {
            t.failed("alice", ip("192.0.2.1"), now);
        }
        assert_eq!(
            t.admit("alice", ip("192.0.2.2"), now),
            Ok(()),
            "alice's count started again"
        );
        assert_eq!(
            t.admit("bob", ip("192.0.2.1"), now),
            Err(SECOND),
            "the address used its six"
        );
    }

    #[test]
    fn twenty_names_guessed_from_one_address_make_that_address_wait() {
        let t = throttle();
        let now = Instant::now();
        for n in 0..20 {
            assert_eq!(t.admit(&format!("name-{n}"), ip("198.51.100.4"), now), Ok(()));
            t.failed(&format!("name-{n}"), ip("198.51.100.4"), now);
        }
        assert_eq!(t.admit("carol", ip("198.51.100.4"), now), Err(SECOND));
        assert_eq!(t.admit("carol", ip("198.51.100.5"), now), Ok(()));
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_slash_64() {
        let t = throttle();
        let now = Instant::now();
        for n in 0..20 {
            t.failed(&format!("name-{n}"), ip(&format!("2001:db8:1:2::{n:x}")), now);
        }
        assert_eq!(t.admit("x", ip("2001:db8:1:2:ffff::1"), now), Err(SECOND));
        assert_eq!(t.admit("x", ip("2001:db8:1:3::1"), now), Ok(()));
        assert_eq!(Key::address(ip("::ffff:192.0.2.1")), Key::address(ip("192.0.2.1")));
    }

    #[test]
    fn the_wait_stops_at_the_ceiling_and_a_quiet_ceiling_later_the_count_is_forgotten() {
        let limits = SignInLimits {
            max_delay: Duration::from_secs(60),
            ..SignInLimits::default()
        };
        let t = SignInThrottle::new(limits);
        let mut now = Instant::now();
        for _ in 0..20 {
            t.failed("alice", ip("192.0.2.1"), now);
            if let Err(wait) = t.admit("alice", ip("192.0.2.1"), now) {
                assert!(wait <= Duration::from_secs(60));
                now += wait;
            }
        }
        assert_eq!(t.admit("alice", ip("192.0.2.1"), now), Ok(()));
        t.failed("alice", ip("192.0.2.1"), now);
        assert_eq!(t.admit("alice", ip("192.0.2.1"), now), Err(Duration::from_secs(60)));
        // The wait, then a ceiling of quiet: the next wrong password counts as the first.
        let quiet = now + Duration::from_secs(120);
        t.failed("alice", ip("192.0.2.1"), quiet);
        assert_eq!(t.admit("alice", ip("192.0.2.1"), quiet), Ok(()));
    }

    #[test]
    fn the_map_never_holds_more_than_its_cap() {
        let t = throttle();
        let now = Instant::now();
        for n in 0..MAX_RECORDS + 10 {
            // One address per /64 would double the count; keep the address fixed.
            t.failed(
                &format!("made-up-{n}"),
                ip("192.0.2.1"),
                now + Duration::from_millis(n as u64),
            );
        }
        assert_eq!(t.len(), MAX_RECORDS);
        assert!(
            t.admit("x", ip("192.0.2.1"), now)
                .is_err_and(|wait| wait >= Duration::from_secs(15 * 60)),
            "the busy address is kept"
        );
    }

    #[test]
    fn long_names_are_counted_by_their_start() {
        let long = "é".repeat(200);
        let Key::Account(key) = Key::account(&long) else {
            unreachable!()
        };
        assert!(key.len() <= MAX_NAME_KEY && long.starts_with(&*key));
    }
}
