//! The authorizer result cache, as API Gateway keeps it for a TOKEN
//! authorizer: keyed by the identity source's value (the whole
//! `Authorization` header), holding the policy and context the authorizer
//! returned, for the configured TTL.
//!
//! Only policies are cached, Allow or Deny alike; an `Unauthorized` answer
//! or an authorizer error is not, so the next request with the same header
//! calls the authorizer again (API Gateway: "for a valid policy, API Gateway
//! caches the returned policy").
//!
//! The clock is passed in, so expiry is tested without sleeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Entries kept at most; when full, expired entries are dropped first, and
/// if none is expired the cache starts over (a local stack never gets there
/// in practice, but a load test with unique tokens must not grow it forever).
pub const MAX_ENTRIES: usize = 100_000;

/// A TTL cache of `T` by identity source value.
#[derive(Debug)]
pub struct AuthorizerCache<T> {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Arc<T>, Instant)>>,
}

impl<T> AuthorizerCache<T> {
    /// A cache keeping entries for `ttl`; zero caches nothing.
    pub fn new(ttl: Duration) -> Self {
        AuthorizerCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Arc<T>, Instant)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached value for `key`, unless it expired by `now`.
    pub fn get(&self, key: &str, now: Instant) -> Option<Arc<T>> {
        let entries = self.lock();
        match entries.get(key) {
            Some((value, expires)) if now < *expires => Some(Arc::clone(value)),
            _ => None,
        }
    }

    /// Caches `value` for `key` from `now` for the TTL.
    pub fn insert(&self, key: &str, value: Arc<T>, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(key) {
            entries.retain(|_, (_, expires)| now < *expires);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key.to_owned(), (value, now + self.ttl));
    }

    /// How many entries are held (expired ones included until replaced).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_answers_until_its_ttl_runs_out() {
        let t0 = Instant::now();
        let cache = AuthorizerCache::new(Duration::from_secs(300));
        cache.insert("Bearer a", Arc::new(1), t0);
        assert_eq!(
            cache
                .get("Bearer a", t0 + Duration::from_secs(299))
                .as_deref(),
            Some(&1)
        );
        assert_eq!(cache.get("Bearer a", t0 + Duration::from_secs(300)), None);
    }

    #[test]
    fn the_key_is_the_whole_header_value() {
        let t0 = Instant::now();
        let cache = AuthorizerCache::new(Duration::from_secs(300));
        cache.insert("Bearer a", Arc::new(1), t0);
        assert_eq!(cache.get("bearer a", t0), None);
        assert_eq!(cache.get("a", t0), None);
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let t0 = Instant::now();
        let cache = AuthorizerCache::new(Duration::ZERO);
        cache.insert("k", Arc::new(1), t0);
        assert!(cache.is_empty());
        assert_eq!(cache.get("k", t0), None);
    }
}
