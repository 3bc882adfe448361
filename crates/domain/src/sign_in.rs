//! How long a run of wrong passwords makes the next sign-in attempt wait.
//!
//! Each account and each client address has its own count of wrong passwords in a row. Up to
//! an allowance nothing waits (people mistype); from there each further attempt waits one
//! second, doubling with every further wrong password, up to a ceiling. The engine keeps the
//! counts and the clock; this is only the arithmetic, so it can be tested without either.

use std::time::Duration;

/// The first wait, once the allowance is used up.
pub const FIRST_WAIT: Duration = Duration::from_secs(1);

/// The wait after `failures` wrong passwords in a row, when `allowed` of them cost nothing:
/// zero below the allowance, then 1 s, 2 s, 4 s … for each failure from the `allowed`-th on,
/// never more than `max`.
pub fn wait_after(failures: u32, allowed: u32, max: Duration) -> Duration {
    if failures < allowed {
        return Duration::ZERO;
    }
    // From 2^63 seconds on, every ceiling is passed; the shift itself must not overflow.
    let doublings = failures - allowed;
    let factor = if doublings < 63 { 1u64 << doublings } else { u64::MAX };
    Duration::from_secs(FIRST_WAIT.as_secs().saturating_mul(factor)).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FIFTEEN_MINUTES: Duration = Duration::from_secs(15 * 60);

    #[test]
    fn the_allowance_costs_nothing_then_the_wait_doubles_from_one_second_to_the_ceiling() {
        let waits: Vec<u64> = (0..16).map(|n| wait_after(n, 5, FIFTEEN_MINUTES).as_secs()).collect();
        assert_eq!(waits, [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900]);
        assert_eq!(wait_after(u32::MAX, 5, FIFTEEN_MINUTES), FIFTEEN_MINUTES);
    }

    #[test]
    fn a_ceiling_below_a_second_caps_even_the_first_wait() {
        let ceiling = Duration::from_millis(300);
        assert_eq!(wait_after(1, 1, ceiling), ceiling);
        assert_eq!(wait_after(0, 1, ceiling), Duration::ZERO);
    }

    proptest! {
        #[test]
        fn the_wait_never_shrinks_with_more_failures_and_never_passes_the_ceiling(
            failures in 0u32..200,
            allowed in 1u32..50,
            max_secs in 1u64..100_000,
        ) {
            let max = Duration::from_secs(max_secs);
            let wait = wait_after(failures, allowed, max);
            prop_assert!(wait <= max);
            prop_assert!(wait_after(failures + 1, allowed, max) >= wait);
            prop_assert_eq!(wait.is_zero(), failures < allowed);
        }
    }
}
