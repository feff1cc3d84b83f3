//! A token bucket per connection: `rate` messages per second on average, `burst` at once.
//! Sans-IO: the caller passes the time, so tests run on simulated time.

use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    pub fn new(rate: u32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self { rate: f64::from(rate.max(1)), burst, tokens: burst, updated: now }
    }

    /// Take one token if there is one.
    pub fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated);
        self.updated = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until the next token, for the error message.
    pub fn wait(&self) -> Duration {
        Duration::from_secs_f64(((1.0 - self.tokens) / self.rate).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_steady_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, 20, start);
        let allowed = (0..100).filter(|_| bucket.allow(start)).count();
        assert_eq!(allowed, 20, "the burst, all at once");
        assert!(!bucket.allow(start));
        assert!(bucket.wait() > Duration::ZERO);
        // One simulated minute at 50 attempts per second: 10 per second get through.
        let mut passed = 0;
        for step in 1..=3000u64 {
            if bucket.allow(start + Duration::from_millis(step * 20)) {
                passed += 1;
            }
        }
        assert!((595..=605).contains(&passed), "{passed} in 60 s");
    }

    #[test]
    fn an_idle_client_earns_back_only_the_burst() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(5, 8, start);
        while bucket.allow(start) {}
        let later = start + Duration::from_secs(3600);
        assert_eq!((0..100).filter(|_| bucket.allow(later)).count(), 8);
    }
}
