//! When too many failed logins make the next attempt wait.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::session::{earlier, later};

/// `max_failures` failures within `window` refuse further attempts until
/// enough of them have left the window.
#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    pub max_failures: u32,
    pub window: Duration,
}

impl ThrottlePolicy {
    /// Where counting starts: failures before this no longer count.
    pub fn since(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        earlier(now, self.window)
    }

    /// How long to wait, given the failures within the window (oldest
    /// first), or `None` when an attempt may go ahead. The wait lasts until
    /// the failures in the window drop below the limit.
    pub fn retry_after(&self, failures: &[DateTime<Utc>], now: DateTime<Utc>) -> Option<Duration> {
        let max = self.max_failures as usize;
        if failures.len() < max {
            return None;
        }
        // Once this one leaves the window, max - 1 remain.
        let freeing = failures[failures.len() - max];
        let free_at = later(freeing, self.window);
        let wait = free_at
            .signed_duration_since(now)
            .to_std()
            .unwrap_or(Duration::ZERO);
        // Whole seconds for Retry-After, and never "0" while refusing.
        Some(
            Duration::from_secs(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
                .max(Duration::from_secs(1)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn policy() -> ThrottlePolicy {
        ThrottlePolicy {
            max_failures: 5,
            window: Duration::from_secs(900),
        }
    }

    #[test]
    fn fewer_failures_than_the_limit_do_not_throttle() {
        let failures: Vec<_> = (0..4).map(t).collect();
        assert_eq!(policy().retry_after(&failures, t(10)), None);
    }

    #[test]
    fn the_limit_throttles_until_the_oldest_counted_failure_leaves_the_window() {
        let failures: Vec<_> = (0..5).map(|i| t(i * 10)).collect();
        assert_eq!(
            policy().retry_after(&failures, t(100)),
            Some(Duration::from_secs(800))
        );
        assert_eq!(
            policy().retry_after(&failures, t(899)),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn with_more_failures_than_the_limit_the_wait_is_for_enough_of_them() {
        // Seven failures: two must leave before only four remain.
        let failures: Vec<_> = (0..7).map(|i| t(i * 10)).collect();
        assert_eq!(
            policy().retry_after(&failures, t(100)),
            Some(Duration::from_secs(820))
        );
    }

    #[test]
    fn a_window_longer_than_chrono_holds_overflows_nothing() {
        let forever = ThrottlePolicy {
            max_failures: 1,
            window: Duration::MAX,
        };
        assert_eq!(forever.since(t(0)), DateTime::<Utc>::MIN_UTC);
        assert!(forever.retry_after(&[t(0)], t(1)).is_some());
    }

    #[test]
    fn counting_starts_one_window_ago() {
        assert_eq!(policy().since(t(1000)), t(100));
    }
}
