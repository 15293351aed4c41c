//! Login throttling, kept in memory: a restart forgives, which is fine for a
//! throttle (the audit log keeps every failed attempt).
//!
//! Three budgets, checked cheapest first and only while the earlier ones
//! allow, so a refused request costs nothing in the later tables:
//! - per client address (an IPv6 client is its /64: one host gets a whole
//!   /64 and could otherwise rotate through it), against spraying many
//!   accounts from one place;
//! - per (account, address), against guessing one account's password from
//!   one place. It is not per account alone: then anyone anywhere could
//!   spend an admin's budget and keep them out with one request every 20 s;
//! - per account across all addresses, a ceiling far above what one
//!   address may spend, so that only a distributed guesser meets it and the
//!   right password from a fresh address still works against one attacker.
//!
//! Only a valid email address is an account key, and it is kept as a
//! digest: typed text of any length never becomes a key.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

use crate::domain::account::normalize_email;

/// Attempts per address: a burst of 20 (an office behind one NAT), then one
/// every 3 seconds.
const ADDRESS_BURST: u32 = 20;
const ADDRESS_PERIOD: Duration = Duration::from_secs(3);
/// Attempts per account from one address: a burst of 5, then one every 20 s.
const PAIR_BURST: u32 = 5;
const PAIR_PERIOD: Duration = Duration::from_secs(20);
/// Attempts per account from everywhere: ten addresses at their full pair
/// rate are needed to reach it.
const ACCOUNT_BURST: u32 = 50;
const ACCOUNT_PERIOD: Duration = Duration::from_secs(2);
/// Keys per table. About 100 bytes each, so a few MB at most; a table that
/// is full of keys still counting down refuses until it empties.
const MAX_KEYS: usize = 50_000;
/// A full table is pruned at most this often (pruning walks every key).
const PRUNE_EVERY: Duration = Duration::from_secs(1);

type AccountKey = [u8; 32];

pub struct LoginLimiter {
    by_address: Bounded<IpAddr>,
    by_pair: Bounded<(AccountKey, IpAddr)>,
    by_account: Bounded<AccountKey>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::with_capacity(MAX_KEYS)
    }
}

impl LoginLimiter {
    fn with_capacity(max_keys: usize) -> Self {
        Self {
            by_address: Bounded::new(ADDRESS_PERIOD, ADDRESS_BURST, max_keys),
            by_pair: Bounded::new(PAIR_PERIOD, PAIR_BURST, max_keys),
            by_account: Bounded::new(ACCOUNT_PERIOD, ACCOUNT_BURST, max_keys),
        }
    }

    /// Takes one attempt for `email` (as typed) from `address`; `Err` says
    /// how long to wait.
    pub fn check(&self, email: &str, address: IpAddr) -> Result<(), Duration> {
        let address = address_group(address);
        self.by_address.check(address)?;
        // Not an email address: no account can match, the address budget is
        // the only one that applies.
        let Some(account) = account_key(email) else {
            return Ok(());
        };
        self.by_pair.check((account, address))?;
        self.by_account.check(account)
    }

    /// Forgets keys whose budgets are full again, bounding memory.
    pub fn forget_idle(&self) {
        self.by_address.prune();
        self.by_pair.prune();
        self.by_account.prune();
    }
}

fn account_key(email: &str) -> Option<AccountKey> {
    let email = normalize_email(email).ok()?;
    Some(Sha256::digest(email.as_bytes()).into())
}

/// The unit an address is throttled as: IPv4 as is, IPv6 by its /64 (with
/// IPv4-mapped addresses read as the IPv4 they are).
pub fn address_group(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

/// A keyed limiter that never holds more than `max_keys` keys.
struct Bounded<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    max_keys: usize,
    period: Duration,
    last_prune: Mutex<Option<Instant>>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> Bounded<K> {
    fn new(period: Duration, burst: u32, max_keys: usize) -> Self {
        Self {
            limiter: RateLimiter::keyed(quota(period, burst)),
            max_keys,
            period,
            last_prune: Mutex::new(None),
            clock: DefaultClock::default(),
        }
    }

    fn check(&self, key: K) -> Result<(), Duration> {
        if self.limiter.len() >= self.max_keys {
            self.prune_at_most_every(PRUNE_EVERY);
            if self.limiter.len() >= self.max_keys {
                // Refusing, not forgetting: clearing a full table would
                // hand a flood of fresh keys a reset of every throttle.
                tracing::warn!(keys = self.max_keys, "login throttle table full");
                return Err(self.period);
            }
        }
        let now = self.clock.now();
        self.limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(now))
    }

    fn prune_at_most_every(&self, every: Duration) {
        let Ok(mut last) = self.last_prune.lock() else {
            return;
        };
        if last.is_some_and(|at| at.elapsed() < every) {
            return;
        }
        *last = Some(Instant::now());
        drop(last);
        self.prune();
    }

    fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// A burst of `burst`, then one every `period`.
pub(crate) fn quota(period: Duration, burst: u32) -> Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    const HOME: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

    fn v4(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
    }

    #[test]
    fn one_account_from_one_address_gets_a_burst_then_waits() {
        let limiter = LoginLimiter::default();
        for attempt in 0..PAIR_BURST {
            assert!(limiter.check("a@example.com", HOME).is_ok(), "{attempt}");
        }
        let wait = limiter.check(" A@Example.com", HOME).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= PAIR_PERIOD);
        // Another account from the same address is not held back by it.
        assert!(limiter.check("b@example.com", HOME).is_ok());
    }

    #[test]
    fn an_attacker_cannot_lock_the_owner_out_from_elsewhere() {
        let limiter = LoginLimiter::default();
        // The attack: the attacker spends everything their address may.
        for _ in 0..PAIR_BURST {
            assert!(limiter.check("admin@example.com", ATTACKER).is_ok());
        }
        assert!(limiter.check("admin@example.com", ATTACKER).is_err());
        // The defence: the owner, from their own address, is not affected.
        assert!(limiter.check("admin@example.com", HOME).is_ok());
    }

    #[test]
    fn a_distributed_guesser_meets_the_account_ceiling() {
        let limiter = LoginLimiter::default();
        let mut allowed = 0;
        for n in 0..(ACCOUNT_BURST / PAIR_BURST + 2) {
            for _ in 0..PAIR_BURST {
                allowed += u32::from(limiter.check("admin@example.com", v4(n)).is_ok());
            }
        }
        assert_eq!(allowed, ACCOUNT_BURST);
        assert!(limiter.check("admin@example.com", HOME).is_err());
        assert!(limiter.check("other@example.com", HOME).is_ok());
    }

    #[test]
    fn one_address_spraying_accounts_is_held_back() {
        let limiter = LoginLimiter::default();
        for n in 0..ADDRESS_BURST {
            assert!(limiter.check(&format!("u{n}@example.com"), HOME).is_ok());
        }
        assert!(limiter.check("fresh@example.com", HOME).is_err());
        assert!(limiter.check("other@example.com", v4(1)).is_ok());
    }

    #[test]
    fn refused_requests_and_invalid_emails_add_no_account_keys() {
        let limiter = LoginLimiter::default();
        let long = "x".repeat(64 * 1024);
        for _ in 0..ADDRESS_BURST {
            assert!(limiter.check(&long, HOME).is_ok());
        }
        for n in 0..100 {
            let refused = limiter.check(&format!("u{n}@example.com"), HOME);
            assert!(refused.is_err());
        }
        assert_eq!(limiter.by_address.limiter.len(), 1);
        assert_eq!(limiter.by_pair.limiter.len(), 0);
        assert_eq!(limiter.by_account.limiter.len(), 0);
    }

    #[test]
    fn the_tables_are_bounded() {
        let limiter = LoginLimiter::with_capacity(10);
        for n in 0..10 {
            assert!(limiter.check(&format!("u{n}@example.com"), v4(n)).is_ok());
        }
        // Every key is still counting down: the full table refuses.
        assert!(limiter.check("new@example.com", v4(99)).is_err());
        assert!(limiter.by_address.limiter.len() <= 10);
        assert!(limiter.by_pair.limiter.len() <= 10);
        assert!(limiter.by_account.limiter.len() <= 10);
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let host = |tail: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, tail));
        assert_eq!(address_group(host(1)), address_group(host(0xffff)));
        let next_net = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
        assert_ne!(address_group(host(1)), address_group(next_net));
        let mapped = IpAddr::V6(Ipv4Addr::new(203, 0, 113, 9).to_ipv6_mapped());
        assert_eq!(
            address_group(mapped),
            IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9))
        );

        let limiter = LoginLimiter::default();
        for n in 0..ADDRESS_BURST {
            let sprayed = limiter.check(&format!("u{n}@example.com"), host(n as u16));
            assert!(sprayed.is_ok());
        }
        assert!(limiter.check("fresh@example.com", host(999)).is_err());
        assert!(limiter.check("fresh@example.com", next_net).is_ok());
    }
}
