//! Login throttling: a sliding window of failed attempts per account and per client address.
//!
//! Sans-IO: every call takes the current time, so tests run on simulated time. The state is per
//! node; with several nodes an attacker gets at most the limit on each node.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

/// What a failed attempt counts against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    Account(String),
    Address(IpAddr),
}

#[derive(Clone, Copy, Debug)]
pub struct ThrottleLimits {
    pub per_account: u32,
    pub per_address: u32,
    pub window_ms: i64,
}

/// Bounds memory under a spray of distinct keys: beyond this many keys, expired ones are swept.
const SWEEP_ABOVE_KEYS: usize = 10_000;

#[derive(Debug)]
pub struct LoginThrottle {
    limits: ThrottleLimits,
    failures: Mutex<HashMap<ThrottleKey, VecDeque<i64>>>,
}

impl LoginThrottle {
    pub fn new(limits: ThrottleLimits) -> Self {
        Self { limits, failures: Mutex::new(HashMap::new()) }
    }

    fn limit(&self, key: &ThrottleKey) -> usize {
        match key {
            ThrottleKey::Account(_) => self.limits.per_account as usize,
            ThrottleKey::Address(_) => self.limits.per_address as usize,
        }
    }

    /// `Err(ms)` with how long to wait when any key is over its limit at `now`.
    pub fn check(&self, keys: &[ThrottleKey], now: i64) -> Result<(), i64> {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = 0;
        for key in keys {
            if let Some(times) = failures.get_mut(key) {
                prune(times, now - self.limits.window_ms);
                let limit = self.limit(key);
                if times.len() >= limit {
                    // Allowed again once the oldest failure that keeps us at the limit expires.
                    let oldest_blocking = times[times.len() - limit];
                    wait = wait.max(oldest_blocking + self.limits.window_ms - now);
                }
            }
        }
        if wait > 0 { Err(wait) } else { Ok(()) }
    }

    pub fn record_failure(&self, keys: &[ThrottleKey], now: i64) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() > SWEEP_ABOVE_KEYS {
            let cutoff = now - self.limits.window_ms;
            failures.retain(|_, times| {
                prune(times, cutoff);
                !times.is_empty()
            });
        }
        for key in keys {
            let times = failures.entry(key.clone()).or_default();
            times.push_back(now);
            // Only the newest `limit` failures matter for the decision.
            while times.len() > self.limit(key) {
                times.pop_front();
            }
        }
    }

    /// A successful login clears the account's failures (not the address's: one valid account
    /// must not reset an attacker's count against others).
    pub fn record_success(&self, account: &ThrottleKey) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(account);
    }
}

fn prune(times: &mut VecDeque<i64>, cutoff: i64) {
    while times.front().is_some_and(|&t| t <= cutoff) {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(ThrottleLimits { per_account: 3, per_address: 5, window_ms: 15 * MINUTE })
    }

    fn keys(user: &str, ip: [u8; 4]) -> [ThrottleKey; 2] {
        [ThrottleKey::Account(user.into()), ThrottleKey::Address(IpAddr::from(ip))]
    }

    #[test]
    fn an_account_is_throttled_after_its_limit_and_freed_by_time() {
        let t = throttle();
        let k = keys("ada", [10, 0, 0, 1]);
        for i in 0..3 {
            assert!(t.check(&k, i * MINUTE).is_ok());
            t.record_failure(&k, i * MINUTE);
        }
        // Third failure at minute 2; the first (minute 0) expires at minute 15.
        assert_eq!(t.check(&k, 3 * MINUTE), Err(12 * MINUTE));
        assert_eq!(t.check(&k, 15 * MINUTE - 1), Err(1));
        assert!(t.check(&k, 15 * MINUTE).is_ok());
    }

    #[test]
    fn the_address_limit_spans_accounts() {
        let t = throttle();
        for (i, user) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            let k = keys(user, [10, 0, 0, 2]);
            assert!(t.check(&k, i as i64).is_ok());
            t.record_failure(&k, i as i64);
        }
        // A sixth account from the same address is refused; from another address it is not.
        assert!(t.check(&keys("f", [10, 0, 0, 2]), 10).is_err());
        assert!(t.check(&keys("f", [10, 0, 0, 3]), 10).is_ok());
    }

    #[test]
    fn success_clears_the_account_but_not_the_address() {
        let t = throttle();
        let k = keys("ada", [10, 0, 0, 4]);
        for i in 0..3 {
            t.record_failure(&k, i);
        }
        assert!(t.check(&k, 5).is_err());
        t.record_success(&k[0]);
        assert!(t.check(&k[..1], 5).is_ok());
        t.record_failure(&keys("bob", [10, 0, 0, 4]), 6);
        t.record_failure(&keys("bob", [10, 0, 0, 4]), 7);
        assert!(t.check(&k[1..], 8).is_err(), "five failures from the address remain counted");
    }

    #[test]
    fn memory_stays_bounded_under_a_spray_of_usernames() {
        let t = throttle();
        for i in 0..(SWEEP_ABOVE_KEYS as i64 * 3) {
            t.record_failure(&[ThrottleKey::Account(format!("u{i}"))], i * 100);
        }
        assert!(t.failures.lock().unwrap().len() <= SWEEP_ABOVE_KEYS + 1 + (15 * MINUTE / 100) as usize);
    }
}
