//! The JWKS cache: one issuer's keys (the user pool's, or a trusted
//! issuer's), kept for the life of the process. Each issuer has its own, so
//! a `kid` of one issuer never verifies another's tokens, and one issuer's
//! outage leaves the others' keys alone.
//!
//! - Fetched at cold start; a failure there is logged, not fatal.
//! - Refreshed when a token names an unknown `kid` (key rotation), with one
//!   fetch in flight at a time and at most one fetch per cool-down (10 s by
//!   default), so tokens with made-up `kid`s cannot turn into a flood of
//!   requests to the JWKS endpoint.
//! - A failed or useless fetch keeps the keys already known.
//! - Each new key set (a key added, changed or retired) gets a new
//!   [`JwksCache::generation`], which ends every verification made under the
//!   old one that is kept elsewhere (`crate::jwt::verified`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tracing::{info, warn};

use crate::jwt::https::{FetchError, JwksSource};
use crate::jwt::jwk::VerifyingKey;
use crate::jwt::token::SigAlg;
use crate::metrics::Counters;

/// The default minimum time between two fetches.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(10);

/// The usable keys of a JWKS document, by `kid`.
pub type KeyMap = HashMap<String, Arc<VerifyingKey>>;

/// The process-wide key set of one issuer.
pub struct JwksCache {
    /// Whose keys: `cognito` or the trusted issuer's alias, in its log
    /// lines, so an operator sees which issuer is down.
    name: String,
    source: Arc<dyn JwksSource>,
    keys: RwLock<Arc<KeyMap>>,
    /// Bumped each time the installed key set changes.
    generation: AtomicU64,
    /// Held for the whole of a fetch: one fetch in flight at a time. Holds
    /// when the last fetch started, for the cool-down.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    cooldown: Duration,
    /// What the issuer's tokens may use: a key without `alg` is prepared
    /// for those of its type.
    algorithms: Vec<SigAlg>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("name", &self.name)
            .field("kids", &self.kids())
            .field("cooldown", &self.cooldown)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

/// Reads a fetched JWKS document (untrusted bytes) for the user pool: its
/// usable keys by `kid`, each unusable one logged and left out. Fails when
/// the body is not a JWKS document or holds no usable key. Pure, so it can
/// be fuzzed on its own.
pub fn parse_jwks(body: &[u8]) -> Result<KeyMap, FetchError> {
    parse_jwks_for(body, &SigAlg::POOL)
}

/// As [`parse_jwks`], for an issuer whose tokens may use `algorithms`.
pub fn parse_jwks_for(body: &[u8], algorithms: &[SigAlg]) -> Result<KeyMap, FetchError> {
    let document: JwksDocument =
        crate::json::from_object_slice(body).map_err(|e| FetchError::Malformed(e.to_string()))?;
    let mut keys = KeyMap::new();
    for value in document.keys {
        match VerifyingKey::from_json(value, algorithms) {
            Ok(key) => {
                keys.insert(key.kid.clone(), Arc::new(key));
            }
            Err(why) => info!(reason = %why, "JWK skipped"),
        }
    }
    if keys.is_empty() {
        return Err(FetchError::NoUsableKey);
    }
    Ok(keys)
}

impl JwksCache {
    /// An empty cache over `source`, fetching at most once per `cooldown`.
    pub fn new(source: Arc<dyn JwksSource>, cooldown: Duration) -> Self {
        JwksCache {
            name: policies::COGNITO_ISSUER.to_owned(),
            source,
            keys: RwLock::new(Arc::new(KeyMap::new())),
            generation: AtomicU64::new(0),
            last_fetch: tokio::sync::Mutex::new(None),
            cooldown,
            algorithms: SigAlg::POOL.to_vec(),
            counters: Arc::default(),
        }
    }

    /// Names the issuer in its log lines (default: `cognito`).
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    /// Prepares keys without `alg` for `algorithms` (default: the pool's).
    pub fn for_algorithms(mut self, algorithms: &[SigAlg]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// Counts fetches and their failures into `counters`.
    pub fn counting(mut self, counters: Arc<Counters>) -> Self {
        self.counters = counters;
        self
    }

    /// The key with this `kid`, fetching the JWKS again if it is unknown and
    /// the cool-down allows. `None`: no such key.
    pub async fn get(&self, kid: &str) -> Option<Arc<VerifyingKey>> {
        self.get_stamped(kid).await.map(|(key, _)| key)
    }

    /// As [`Self::get`], with the generation of the key set the key was
    /// found in (read together with it, so a key set installed meanwhile
    /// cannot lend its newer generation to a key it retired).
    pub async fn get_stamped(&self, kid: &str) -> Option<(Arc<VerifyingKey>, u64)> {
        if let Some(found) = self.cached(kid) {
            return Some(found);
        }
        let mut last_fetch = self.last_fetch.lock().await;
        // Whoever held the lock before may have fetched the key already.
        if let Some(found) = self.cached(kid) {
            return Some(found);
        }
        if last_fetch.is_some_and(|at| at.elapsed() < self.cooldown) {
            return None;
        }
        *last_fetch = Some(Instant::now());
        if let Err(e) = self.fetch_and_install().await {
            warn!(issuer = %self.name, error = %e, "JWKS refresh failed; keeping the keys already known");
        }
        drop(last_fetch);
        self.cached(kid)
    }

    /// Fetches now, whatever the cool-down (cold start). Returns the number
    /// of usable keys installed. Only a successful fetch starts the
    /// cool-down: after a failed one the first token fetches again at once,
    /// instead of this instance refusing every token for the cool-down.
    pub async fn refresh(&self) -> Result<usize, FetchError> {
        let mut last_fetch = self.last_fetch.lock().await;
        let result = self.fetch_and_install().await;
        if result.is_ok() {
            *last_fetch = Some(Instant::now());
        }
        result
    }

    /// The generation of the installed key set: 0 before the first, one
    /// more for each fetch that changed the keys.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The `kid`s currently known, sorted.
    pub fn kids(&self) -> Vec<String> {
        let mut kids: Vec<String> = self.snapshot().keys().cloned().collect();
        kids.sort_unstable();
        kids
    }

    fn cached(&self, kid: &str) -> Option<(Arc<VerifyingKey>, u64)> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        // Under the read lock: the generation is bumped under the write lock
        // that installs a new set, so this one is the set's own.
        let generation = self.generation.load(Ordering::Acquire);
        keys.get(kid).map(|key| (Arc::clone(key), generation))
    }

    fn snapshot(&self) -> Arc<KeyMap> {
        // The lock only guards an Arc swap; a panic elsewhere cannot leave the
        // map half-written, so a poisoned lock is still safe to read.
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn fetch_and_install(&self) -> Result<usize, FetchError> {
        Counters::count(&self.counters.jwks_fetches);
        let result = self.fetch_and_install_uncounted().await;
        if result.is_err() {
            Counters::count(&self.counters.jwks_fetch_failures);
        }
        result
    }

    async fn fetch_and_install_uncounted(&self) -> Result<usize, FetchError> {
        let body = self.source.fetch().await?;
        let keys = parse_jwks_for(&body, &self.algorithms)?;
        let count = keys.len();
        // Replace, not merge: a key the pool has retired must stop verifying.
        let mut installed = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        let changed = installed.len() != keys.len()
            || keys
                .iter()
                .any(|(kid, key)| installed.get(kid).is_none_or(|old| !old.same_key(key)));
        *installed = Arc::new(keys);
        if changed {
            // Bumped while the write lock is held, so no reader sees the new
            // keys with the old generation.
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        drop(installed);
        info!(issuer = %self.name, keys = count, "JWKS installed");
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{SigningKey, jwks};

    #[tokio::test]
    async fn the_generation_moves_only_when_the_key_set_changes() {
        let k1 = SigningKey::rsa("k1", SigAlg::RS256).unwrap();
        let k2 = SigningKey::rsa("k2", SigAlg::RS256).unwrap();
        let source = Arc::new(crate::testkit::StaticJwks::new(&jwks(&[&k1])));
        let cache = JwksCache::new(source.clone(), Duration::ZERO);
        assert_eq!(cache.generation(), 0);
        cache.refresh().await.unwrap();
        assert_eq!(cache.generation(), 1);
        cache.refresh().await.unwrap();
        assert_eq!(cache.generation(), 1, "the same keys again are no change");
        source.set(&jwks(&[&k1, &k2]));
        cache.refresh().await.unwrap();
        assert_eq!(cache.generation(), 2, "a key added");
        source.set(&jwks(&[&k2]));
        cache.refresh().await.unwrap();
        assert_eq!(cache.generation(), 3, "a key retired");
        // The same kid with other key material is another key.
        let k2_rotated = SigningKey::rsa("k2", SigAlg::RS256).unwrap();
        source.set(&jwks(&[&k2_rotated]));
        cache.refresh().await.unwrap();
        assert_eq!(cache.generation(), 4);
    }

    #[test]
    fn a_jwks_is_an_object_with_a_keys_array() {
        let key = SigningKey::rsa("k1", SigAlg::RS256).unwrap();
        let document = jwks(&[&key]);
        let keys = parse_jwks(document.to_string().as_bytes()).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["k1"]);
        // serde's derive would read `[[keys]]` by position (found by the
        // jwks fuzz target).
        let positional = serde_json::json!([document["keys"]]).to_string();
        assert!(matches!(
            parse_jwks(positional.as_bytes()),
            Err(FetchError::Malformed(_))
        ));
    }
}
