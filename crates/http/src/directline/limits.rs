//! How fast one conversation's customer may send: a token bucket per conversation (`governor`'s
//! GCRA), `burst` activities at once and `per_second` after that. Every activity a customer
//! posts counts — messages, typing, events, uploads. Over the limit, the answer is 429
//! `TooManyRequests` with `Retry-After`, and the activity is not stored.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use domain::ConversationId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::DlError;

/// After this many checks the buckets of conversations that are full again are dropped, which
/// keeps the map to the conversations that sent recently.
const SWEEP_EVERY: u64 = 10_000;

/// The per-conversation limit on what a customer sends.
#[derive(Debug)]
pub struct CustomerRate {
    limiter: DefaultKeyedRateLimiter<ConversationId>,
    per_second: NonZeroU32,
    burst: NonZeroU32,
    checks: AtomicU64,
}

impl CustomerRate {
    /// `burst` activities at once, then `per_second`.
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            per_second,
            burst,
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one activity from `conversation`'s bucket, or says when to try again.
    pub(super) fn check(&self, conversation: ConversationId) -> Result<(), DlError> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.check_key(&conversation).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            metrics::counter!("switchboard_directline_rate_limited_total").increment(1);
            DlError::TooManyRequests {
                message: format!(
                    "this conversation sent more than {} activities at once or {} per second; wait {} ms and send again",
                    self.burst,
                    self.per_second,
                    wait.as_millis().max(1)
                ),
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_next_waits_and_other_conversations_are_not_affected() {
        let rate = CustomerRate::new(NonZeroU32::new(1).unwrap(), NonZeroU32::new(3).unwrap());
        let (a, b) = (
            ConversationId(uuid::Uuid::from_u128(1)),
            ConversationId(uuid::Uuid::from_u128(2)),
        );
        for _ in 0..3 {
            rate.check(a).unwrap();
        }
        match rate.check(a) {
            Err(DlError::TooManyRequests {
                message,
                retry_after_secs,
            }) => {
                assert!(
                    message.contains("more than 3 activities at once or 1 per second"),
                    "{message}"
                );
                assert_eq!(retry_after_secs, 1);
            }
            other => panic!("{other:?}"),
        }
        rate.check(b).unwrap();
    }
}
