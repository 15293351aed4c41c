//! Login throttling, per account and per client address, so that neither
//! guessing one account's password nor spraying many accounts from one
//! address goes fast. Kept in memory: a restart forgives, which is fine for
//! a throttle (the audit log keeps every failed attempt).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Attempts per account: a burst of 5, then one every 20 seconds.
const ACCOUNT_BURST: u32 = 5;
const ACCOUNT_PERIOD: Duration = Duration::from_secs(20);
/// Attempts per address: a burst of 20 (an office behind one NAT), then one
/// every 3 seconds.
const ADDRESS_BURST: u32 = 20;
const ADDRESS_PERIOD: Duration = Duration::from_secs(3);

pub struct LoginLimiter {
    by_account: DefaultKeyedRateLimiter<String>,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self {
            by_account: RateLimiter::keyed(quota(ACCOUNT_PERIOD, ACCOUNT_BURST)),
            by_address: RateLimiter::keyed(quota(ADDRESS_PERIOD, ADDRESS_BURST)),
            clock: DefaultClock::default(),
        }
    }
}

fn quota(period: Duration, burst: u32) -> Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

impl LoginLimiter {
    /// Takes one attempt from both budgets; `Err` says how long to wait.
    pub fn check(&self, email: &str, address: IpAddr) -> Result<(), Duration> {
        let now = self.clock.now();
        let by_address = self.by_address.check_key(&address);
        let by_account = self.by_account.check_key(&email.to_owned());
        match (by_address, by_account) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(a), Err(b)) => Err(a.wait_time_from(now).max(b.wait_time_from(now))),
            (Err(wait), _) | (_, Err(wait)) => Err(wait.wait_time_from(now)),
        }
    }

    /// Forgets keys whose budgets are full again, bounding memory.
    pub fn forget_idle(&self) {
        self.by_account.retain_recent();
        self.by_address.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn one_account_gets_a_burst_then_waits() {
        let limiter = LoginLimiter::default();
        for attempt in 0..ACCOUNT_BURST {
            assert!(limiter.check("a@example.com", HOME).is_ok(), "{attempt}");
        }
        let wait = limiter.check("a@example.com", HOME).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= ACCOUNT_PERIOD);
        // Another account from the same address is not held back by it.
        assert!(limiter.check("b@example.com", HOME).is_ok());
    }

    #[test]
    fn one_address_spraying_accounts_is_held_back() {
        let limiter = LoginLimiter::default();
        for n in 0..ADDRESS_BURST {
            assert!(limiter.check(&format!("u{n}@example.com"), HOME).is_ok());
        }
        assert!(limiter.check("fresh@example.com", HOME).is_err());
        let elsewhere = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
        assert!(limiter.check("other@example.com", elsewhere).is_ok());
    }
}
