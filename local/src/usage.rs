//! Throttling as API Gateway does it: token buckets (a steady rate and a
//! burst), one per usage identifier key for the usage plan, and one for the
//! whole stage.
//!
//! The clock is passed in, so the buckets are tested without sleeping.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// A throttle: `per_second` tokens added each second, at most `burst` held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Steady-state requests per second.
    pub per_second: f64,
    /// The most requests admitted at once after a quiet period.
    pub burst: u32,
}

/// One token bucket, full when created.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: Rate,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket for `rate` at `now`.
    pub fn new(rate: Rate, now: Instant) -> Self {
        TokenBucket {
            rate,
            tokens: f64::from(rate.burst),
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens =
            (self.tokens + elapsed * self.rate.per_second).min(f64::from(self.rate.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The usage plan's throttle: a bucket per usage identifier key.
#[derive(Debug)]
pub struct UsagePlan {
    rate: Rate,
    buckets: Mutex<HashMap<String, TokenBucket>>,
}

impl UsagePlan {
    /// A plan metering every key at `rate`.
    pub fn new(rate: Rate) -> Self {
        UsagePlan {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a request metered by `key` may pass at `now`.
    pub fn admit(&self, key: &str, now: Instant) -> bool {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(bucket) = buckets.get_mut(key) {
            return bucket.try_take(now);
        }
        let mut bucket = TokenBucket::new(self.rate, now);
        let admitted = bucket.try_take(now);
        buckets.insert(key.to_owned(), bucket);
        admitted
    }
}

/// The stage throttle: one bucket for all callers.
#[derive(Debug)]
pub struct StageThrottle(Mutex<TokenBucket>);

impl StageThrottle {
    /// A stage throttle at `rate`, full at `now`.
    pub fn new(rate: Rate, now: Instant) -> Self {
        StageThrottle(Mutex::new(TokenBucket::new(rate, now)))
    }

    /// Whether a request may pass at `now`.
    pub fn admit(&self, now: Instant) -> bool {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .try_take(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const RATE: Rate = Rate {
        per_second: 10.0,
        burst: 3,
    };

    #[test]
    fn a_full_bucket_admits_the_burst_then_refuses() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(RATE, t0);
        assert!((0..3).all(|_| b.try_take(t0)));
        assert!(!b.try_take(t0));
    }

    #[test]
    fn tokens_come_back_at_the_rate_and_never_beyond_the_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(RATE, t0);
        (0..3).for_each(|_| {
            b.try_take(t0);
        });
        assert!(!b.try_take(t0 + Duration::from_millis(50)));
        assert!(b.try_take(t0 + Duration::from_millis(100)));
        let later = t0 + Duration::from_secs(60);
        assert!((0..3).all(|_| b.try_take(later)));
        assert!(!b.try_take(later));
    }

    #[test]
    fn each_usage_key_has_its_own_bucket() {
        let t0 = Instant::now();
        let plan = UsagePlan::new(RATE);
        assert!((0..3).all(|_| plan.admit("a", t0)));
        assert!(!plan.admit("a", t0));
        assert!(plan.admit("b", t0));
    }
}
