//! Phone-number searches per agent. A masked number (`+1 •••• ••0100`)
//! leaves about 10⁶ candidates, and each search by number answers "is it
//! this one?": a burst for real work, then a rate at which enumerating takes
//! months. Keyed by user id, so the table is as large as the user list.

use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, RateLimiter};

use super::rate_limit::quota;

/// A burst of 20 searches, then one every 6 seconds.
const BURST: u32 = 20;
const PERIOD: Duration = Duration::from_secs(6);

pub struct SearchLimiter {
    by_user: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl Default for SearchLimiter {
    fn default() -> Self {
        Self {
            by_user: RateLimiter::keyed(quota(PERIOD, BURST)),
            clock: DefaultClock::default(),
        }
    }
}

impl SearchLimiter {
    /// Takes one phone search from `user_id`'s budget; `Err` says how long
    /// to wait.
    pub fn check(&self, user_id: &str) -> Result<(), Duration> {
        let now = self.clock.now();
        self.by_user
            .check_key(&user_id.to_owned())
            .map_err(|not_until| not_until.wait_time_from(now))
    }

    /// Forgets agents whose budget is full again.
    pub fn forget_idle(&self) {
        self.by_user.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_a_wait_per_agent() {
        let limiter = SearchLimiter::default();
        for n in 0..BURST {
            assert!(limiter.check("agent").is_ok(), "{n}");
        }
        let wait = limiter.check("agent").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= PERIOD);
        assert!(limiter.check("someone else").is_ok());
    }
}
