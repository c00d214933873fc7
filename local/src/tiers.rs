//! The partner tiers of template.yaml, as the stack meters them: a usage
//! plan per tier (`standard`, `premium`), each with a throttle (a token
//! bucket per usage identifier key, [`crate::usage`]) and a daily quota per
//! key, counted per UTC day as API Gateway's `DAY` period is.
//!
//! Which tier a key is on is the API key's plan membership in AWS; here
//! every partner usage key is on `standard` unless named on `premium`
//! (`--premium-usage-key`, and `--dev-partner-tier` for the development
//! partner). A refusal is API Gateway's: 429 `Too Many Requests`
//! (`THROTTLED`) from the throttle, 429 `Limit Exceeded` (`QUOTA_EXCEEDED`)
//! once the day's quota is used; neither carries `Retry-After`, as the
//! deployed stage's gateway responses do not. A request the throttle refuses
//! is not counted against the quota.
//!
//! Clocks are passed in, so tests need no sleeping and no midnight.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crate::usage::{Rate, UsagePlan};

/// The tiers' settings beyond the standard throttle (`--usage-rate`).
#[derive(Debug, Clone, PartialEq)]
pub struct TierSettings {
    /// Requests per key per UTC day on `standard`; `None` = no quota.
    pub standard_quota: Option<u64>,
    /// The `premium` throttle; `None` = off.
    pub premium_rate: Option<Rate>,
    /// Requests per key per UTC day on `premium`; `None` = no quota.
    pub premium_quota: Option<u64>,
    /// Usage identifier keys on `premium`.
    pub premium_keys: Vec<String>,
}

impl Default for TierSettings {
    /// The template's defaults, with the quotas per day.
    fn default() -> Self {
        TierSettings {
            standard_quota: Some(100_000),
            premium_rate: Some(Rate {
                per_second: 50.0,
                burst: 100,
            }),
            premium_quota: Some(1_000_000),
            premium_keys: Vec::new(),
        }
    }
}

/// Why a metered request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The tier's throttle (429 `Too Many Requests`).
    Throttled,
    /// The tier's daily quota is used (429 `Limit Exceeded`).
    QuotaExceeded,
}

/// A quota per key per day.
#[derive(Debug)]
struct DailyQuota {
    limit: u64,
    used: Mutex<HashMap<String, (u64, u64)>>,
}

impl DailyQuota {
    fn left(&self, key: &str, day: u64) -> u64 {
        let used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        match used.get(key) {
            Some(&(d, n)) if d == day => self.limit.saturating_sub(n),
            _ => self.limit,
        }
    }

    fn count(&self, key: &str, day: u64) {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = used.entry(key.to_owned()).or_insert((day, 0));
        if entry.0 != day {
            *entry = (day, 0);
        }
        entry.1 += 1;
    }
}

/// One tier: its name, throttle and quota.
#[derive(Debug)]
pub struct Tier {
    /// `standard` or `premium`.
    pub name: &'static str,
    throttle: Option<UsagePlan>,
    quota: Option<DailyQuota>,
}

impl Tier {
    fn new(name: &'static str, rate: Option<Rate>, quota: Option<u64>) -> Self {
        Tier {
            name,
            throttle: rate.map(UsagePlan::new),
            quota: quota.map(|limit| DailyQuota {
                limit,
                used: Mutex::default(),
            }),
        }
    }

    /// Meters one request of `key` at `now` on UTC day `day`.
    pub fn admit(&self, key: &str, now: Instant, day: u64) -> Result<(), Refusal> {
        if let Some(quota) = &self.quota
            && quota.left(key, day) == 0
        {
            return Err(Refusal::QuotaExceeded);
        }
        if let Some(throttle) = &self.throttle
            && !throttle.admit(key, now)
        {
            return Err(Refusal::Throttled);
        }
        if let Some(quota) = &self.quota {
            quota.count(key, day);
        }
        Ok(())
    }

    /// What is left of `key`'s quota on `day` (`None`: no quota).
    pub fn quota_left(&self, key: &str, day: u64) -> Option<u64> {
        self.quota.as_ref().map(|q| q.left(key, day))
    }
}

/// The partner tiers.
#[derive(Debug)]
pub struct Tiers {
    standard: Tier,
    premium: Tier,
    premium_keys: HashSet<String>,
}

impl Tiers {
    /// The tiers, `standard` throttled at `standard_rate` (`--usage-rate`).
    pub fn new(standard_rate: Option<Rate>, settings: &TierSettings) -> Self {
        Tiers {
            standard: Tier::new("standard", standard_rate, settings.standard_quota),
            premium: Tier::new("premium", settings.premium_rate, settings.premium_quota),
            premium_keys: settings.premium_keys.iter().cloned().collect(),
        }
    }

    /// The tier `key` is on.
    pub fn tier_of(&self, key: &str) -> &Tier {
        if self.premium_keys.contains(key) {
            &self.premium
        } else {
            &self.standard
        }
    }

    /// Meters one request of `key`.
    pub fn admit(&self, key: &str, now: Instant, day: u64) -> Result<(), Refusal> {
        self.tier_of(key).admit(key, now, day)
    }
}

/// The UTC day number of Unix time `seconds`.
pub fn utc_day(seconds: u64) -> u64 {
    seconds / 86_400
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn tiers() -> Tiers {
        Tiers::new(
            Some(Rate {
                per_second: 1.0,
                burst: 2,
            }),
            &TierSettings {
                standard_quota: Some(3),
                premium_rate: Some(Rate {
                    per_second: 100.0,
                    burst: 100,
                }),
                premium_quota: Some(50),
                premium_keys: vec!["gold-key".into()],
            },
        )
    }

    #[test]
    fn a_key_is_on_premium_only_when_named() {
        let t = tiers();
        assert_eq!(t.tier_of("gold-key").name, "premium");
        assert_eq!(t.tier_of("any-other").name, "standard");
    }

    #[test]
    fn each_tier_throttles_at_its_own_rate() {
        let t = tiers();
        let t0 = Instant::now();
        assert_eq!(t.admit("a", t0, 0), Ok(()));
        assert_eq!(t.admit("a", t0, 0), Ok(()));
        assert_eq!(t.admit("a", t0, 0), Err(Refusal::Throttled));
        assert!((0..40).all(|_| t.admit("gold-key", t0, 0).is_ok()));
    }

    #[test]
    fn the_daily_quota_refuses_once_used_and_comes_back_the_next_utc_day() {
        let t = tiers();
        let mut at = Instant::now();
        for _ in 0..3 {
            at += Duration::from_secs(2);
            assert_eq!(t.admit("a", at, 7), Ok(()));
        }
        at += Duration::from_secs(2);
        assert_eq!(t.admit("a", at, 7), Err(Refusal::QuotaExceeded));
        assert_eq!(t.tier_of("a").quota_left("a", 7), Some(0));
        assert_eq!(t.admit("b", at, 7), Ok(()), "each key has its own quota");
        assert_eq!(t.admit("a", at, 8), Ok(()), "a new day");
    }

    #[test]
    fn a_throttled_request_is_not_counted_against_the_quota() {
        let t = tiers();
        let t0 = Instant::now();
        t.admit("a", t0, 0).unwrap();
        t.admit("a", t0, 0).unwrap();
        assert_eq!(t.admit("a", t0, 0), Err(Refusal::Throttled));
        assert_eq!(t.tier_of("a").quota_left("a", 0), Some(1));
    }

    #[test]
    fn utc_days_turn_at_midnight() {
        assert_eq!(utc_day(86_399), 0);
        assert_eq!(utc_day(86_400), 1);
    }
}
