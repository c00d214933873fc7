//! The registry cache: the document read from the store, trusted for
//! `API_KEYS_CACHE_SECONDS`.
//!
//! - Read at cold start, then again when the copy is older than the TTL.
//! - An unknown key id may trigger one early re-read (a key created after this
//!   instance started), at most once per 10 s, so made-up ids cannot flood
//!   Secrets Manager.
//! - One read in flight at a time.
//! - Fails closed: a copy past its TTL is never used, so a disabled or revoked
//!   key cannot outlive the TTL because the store is unreachable. After a
//!   failed read, requests are refused without I/O for a second, and the
//!   cause is logged once per failure streak, not once per request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tracing::{error, info};

use crate::apikey::registry::{ActiveRecord, Registry};
use crate::apikey::store::{SecretStore, StoreError};
use crate::metrics::Counters;

/// The minimum time between two early re-reads for unknown ids.
pub const EARLY_REREAD_INTERVAL: Duration = Duration::from_secs(10);
/// How long requests are refused without I/O after a failed read.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// The registry could not be read and no fresh copy is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the partner key registry is unavailable")]
pub struct Unavailable;

struct Loaded {
    registry: Arc<Registry>,
    at: Instant,
}

#[derive(Default)]
struct ReadState {
    last_failure: Option<Instant>,
    last_early: Option<Instant>,
    failing: bool,
}

/// The process-wide registry cache.
pub struct RegistryCache {
    store: Arc<dyn SecretStore>,
    ttl: Duration,
    early_interval: Duration,
    loaded: RwLock<Option<Loaded>>,
    reads: tokio::sync::Mutex<ReadState>,
    /// Whether the last read failed and no fresh copy is held (the streak).
    unreadable: AtomicBool,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for RegistryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl RegistryCache {
    /// A cache over `store`, trusting a read for `ttl`.
    pub fn new(store: Arc<dyn SecretStore>, ttl: Duration) -> Self {
        Self::with_early_interval(store, ttl, EARLY_REREAD_INTERVAL)
    }

    /// As [`Self::new`], with another early re-read interval (tests).
    pub fn with_early_interval(
        store: Arc<dyn SecretStore>,
        ttl: Duration,
        early_interval: Duration,
    ) -> Self {
        RegistryCache {
            store,
            ttl,
            early_interval,
            loaded: RwLock::new(None),
            reads: tokio::sync::Mutex::new(ReadState::default()),
            unreadable: AtomicBool::new(false),
            counters: Arc::default(),
        }
    }

    /// Counts reads and their failures into `counters`.
    pub fn counting(mut self, counters: Arc<Counters>) -> Self {
        self.counters = counters;
        self
    }

    /// Whether the registry is unreadable now: the last read failed, and
    /// every key is refused until one succeeds.
    pub fn is_unreadable(&self) -> bool {
        self.unreadable.load(Ordering::Relaxed)
    }

    /// Reads now (cold start). Errors are logged by the caller.
    pub async fn warm_up(&self) -> Result<usize, StoreError> {
        let mut state = self.reads.lock().await;
        self.read_into(&mut state).await
    }

    /// The record with `id`: `Ok(None)` if the registry has no such id.
    pub async fn lookup(&self, id: &str) -> Result<Option<Arc<ActiveRecord>>, Unavailable> {
        if let Some(registry) = self.fresh() {
            if let Some(record) = registry.get(id) {
                return Ok(Some(record));
            }
            return self.early_reread(id).await;
        }
        let mut state = self.reads.lock().await;
        // Someone else may have read while we waited for the lock.
        if let Some(registry) = self.fresh() {
            return Ok(registry.get(id));
        }
        if state
            .last_failure
            .is_some_and(|at| at.elapsed() < RETRY_AFTER_FAILURE)
        {
            return Err(Unavailable);
        }
        self.read_into(&mut state).await.map_err(|_| Unavailable)?;
        Ok(self.fresh().and_then(|r| r.get(id)))
    }

    async fn early_reread(&self, id: &str) -> Result<Option<Arc<ActiveRecord>>, Unavailable> {
        let mut state = self.reads.lock().await;
        if let Some(record) = self.fresh().and_then(|r| r.get(id)) {
            return Ok(Some(record));
        }
        if state
            .last_early
            .is_some_and(|at| at.elapsed() < self.early_interval)
        {
            return Ok(None);
        }
        state.last_early = Some(Instant::now());
        // A failed early re-read leaves the fresh copy in place: the id stays unknown.
        let _ = self.read_into(&mut state).await;
        Ok(self.fresh().and_then(|r| r.get(id)))
    }

    fn fresh(&self) -> Option<Arc<Registry>> {
        let loaded = self.loaded.read().unwrap_or_else(PoisonError::into_inner);
        loaded
            .as_ref()
            .filter(|l| l.at.elapsed() < self.ttl)
            .map(|l| l.registry.clone())
    }

    async fn read_into(&self, state: &mut ReadState) -> Result<usize, StoreError> {
        let started = Instant::now();
        Counters::count(&self.counters.registry_reads);
        let result = self.store.read().await.and_then(|stored| {
            Registry::parse(&stored.text).map_err(|e| StoreError::Service(e.to_string()))
        });
        match result {
            Ok(registry) => {
                let count = registry.len();
                *self.loaded.write().unwrap_or_else(PoisonError::into_inner) = Some(Loaded {
                    registry: Arc::new(registry),
                    at: started,
                });
                if state.failing {
                    info!(keys = count, "partner key registry readable again");
                }
                state.failing = false;
                state.last_failure = None;
                self.unreadable.store(false, Ordering::Relaxed);
                Ok(count)
            }
            Err(e) => {
                if !state.failing {
                    error!(error = %e, "partner key registry unreadable; API keys are refused until it is readable");
                }
                state.failing = true;
                state.last_failure = Some(Instant::now());
                Counters::count(&self.counters.registry_read_failures);
                // Unreadable only while no fresh copy is held: a failed
                // early re-read leaves the fresh copy in use.
                self.unreadable
                    .store(self.fresh().is_none(), Ordering::Relaxed);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BoxFuture;
    use crate::apikey::store::{MemorySecretStore, StoredVersion};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A store that fails while `down` is set.
    #[derive(Default)]
    struct Flaky {
        down: AtomicBool,
        inner: MemorySecretStore,
    }

    impl SecretStore for Flaky {
        fn read(&self) -> BoxFuture<'_, Result<StoredVersion, StoreError>> {
            if self.down.load(Ordering::SeqCst) {
                return Box::pin(async { Err(StoreError::Service("down".into())) });
            }
            self.inner.read()
        }
        fn write<'a>(
            &'a self,
            text: String,
            based_on: &'a str,
        ) -> BoxFuture<'a, Result<String, StoreError>> {
            self.inner.write(text, based_on)
        }
        fn create(&self, text: String) -> BoxFuture<'_, Result<(), StoreError>> {
            self.inner.create(text)
        }
    }

    #[test]
    fn the_cause_is_logged_once_per_failure_streak() {
        let store = Arc::new(Flaky {
            down: AtomicBool::new(true),
            inner: MemorySecretStore::with(r#"{"keys":[]}"#),
        });
        let cache = RegistryCache::new(store.clone(), Duration::from_secs(300));
        let sink = crate::testkit::LogSink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .finish();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..5 {
                assert!(rt.block_on(cache.warm_up()).is_err());
            }
            store.down.store(false, Ordering::SeqCst);
            assert!(rt.block_on(cache.warm_up()).is_ok());
            store.down.store(true, Ordering::SeqCst);
            for _ in 0..5 {
                assert!(rt.block_on(cache.warm_up()).is_err());
            }
        });
        let text = sink.contents();
        assert_eq!(text.matches("registry unreadable").count(), 2, "{text}");
        assert_eq!(text.matches("readable again").count(), 1, "{text}");
    }

    #[test]
    fn after_a_failure_requests_are_refused_without_io_for_a_moment() {
        let store = Arc::new(Flaky {
            down: AtomicBool::new(true),
            inner: MemorySecretStore::with(r#"{"keys":[]}"#),
        });
        let cache = RegistryCache::new(store.clone(), Duration::from_secs(300));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(cache.lookup("abc")), Err(Unavailable));
        // The store is back, but within RETRY_AFTER_FAILURE nothing is read.
        store.down.store(false, Ordering::SeqCst);
        assert_eq!(rt.block_on(cache.lookup("abc")), Err(Unavailable));
    }

    #[test]
    fn a_copy_past_its_ttl_is_not_used_when_the_store_fails() {
        let store = Arc::new(Flaky {
            down: AtomicBool::new(false),
            inner: MemorySecretStore::with(r#"{"keys":[]}"#),
        });
        let cache = RegistryCache::new(store.clone(), Duration::from_millis(20));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(cache.lookup("abc")), Ok(None));
        store.down.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(rt.block_on(cache.lookup("abc")), Err(Unavailable));
    }
}
