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
/// Bytes of keys (header values) kept at most, whatever their number: a
/// client sending huge headers must not grow the cache by their size. Full
/// is handled as for [`MAX_ENTRIES`].
pub const MAX_KEY_BYTES: usize = 32 * 1024 * 1024;

/// A TTL cache of `T` by identity source value.
#[derive(Debug)]
pub struct AuthorizerCache<T> {
    ttl: Duration,
    max_entries: usize,
    max_key_bytes: usize,
    state: Mutex<State<T>>,
}

#[derive(Debug)]
struct State<T> {
    entries: HashMap<String, (Arc<T>, Instant)>,
    key_bytes: usize,
}

impl<T> AuthorizerCache<T> {
    /// A cache keeping entries for `ttl`; zero caches nothing.
    pub fn new(ttl: Duration) -> Self {
        Self::bounded(ttl, MAX_ENTRIES, MAX_KEY_BYTES)
    }

    /// As [`Self::new`] with other bounds (tests).
    pub fn bounded(ttl: Duration, max_entries: usize, max_key_bytes: usize) -> Self {
        AuthorizerCache {
            ttl,
            max_entries,
            max_key_bytes,
            state: Mutex::new(State {
                entries: HashMap::new(),
                key_bytes: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached value for `key`, unless it expired by `now`.
    pub fn get(&self, key: &str, now: Instant) -> Option<Arc<T>> {
        let state = self.lock();
        match state.entries.get(key) {
            Some((value, expires)) if now < *expires => Some(Arc::clone(value)),
            _ => None,
        }
    }

    /// Caches `value` for `key` from `now` for the TTL.
    pub fn insert(&self, key: &str, value: Arc<T>, now: Instant) {
        if self.ttl.is_zero() || key.len() > self.max_key_bytes {
            return;
        }
        let mut state = self.lock();
        let full = |s: &State<T>| {
            s.entries.len() >= self.max_entries || s.key_bytes + key.len() > self.max_key_bytes
        };
        if !state.entries.contains_key(key) && full(&state) {
            state.entries.retain(|_, (_, expires)| now < *expires);
            state.key_bytes = state.entries.keys().map(String::len).sum();
            if full(&state) {
                state.entries.clear();
                state.key_bytes = 0;
            }
        }
        if state
            .entries
            .insert(key.to_owned(), (value, now + self.ttl))
            .is_none()
        {
            state.key_bytes += key.len();
        }
    }

    /// How many entries are held (expired ones included until replaced).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// How many bytes of keys are held.
    pub fn key_bytes(&self) -> usize {
        self.lock().key_bytes
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
    fn the_cache_is_bounded_in_bytes_and_entries_whatever_the_header_sizes() {
        let t0 = Instant::now();
        let cache = AuthorizerCache::bounded(Duration::from_secs(300), 1000, 64 * 1024);
        for i in 0..200 {
            let padded = format!("Bearer {i}.{}", "x".repeat(8 * 1024));
            cache.insert(&padded, Arc::new(i), t0);
            assert!(cache.key_bytes() <= 64 * 1024, "{}", cache.key_bytes());
        }
        for i in 0..5000 {
            cache.insert(&format!("k{i}"), Arc::new(i), t0);
            assert!(cache.len() <= 1000);
        }
        // One key larger than the whole budget is simply not cached.
        cache.insert(&"y".repeat(65 * 1024), Arc::new(0), t0);
        assert!(cache.key_bytes() <= 64 * 1024);
    }

    #[test]
    fn the_default_bounds_hold_the_byte_budget() {
        let cache: AuthorizerCache<u8> = AuthorizerCache::new(Duration::from_secs(1));
        assert_eq!(cache.max_key_bytes, MAX_KEY_BYTES);
        assert_eq!(cache.max_entries, MAX_ENTRIES);
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
