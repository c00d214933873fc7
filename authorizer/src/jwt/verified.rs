//! Tokens already verified, kept in process so that the same token presented
//! again skips the signature and claim checks it has already passed.
//!
//! API Gateway asks again for one token on every cache miss: after its TTL,
//! on another instance's cache, for each spelling of the header. The RSA
//! verify is most of a decision's CPU; a hit replaces it with one hash-map
//! lookup. What makes a hit as safe as a fresh verification:
//! - **the whole token is the key**, byte for byte: a hit is the very
//!   signed bytes that verified, never a token that merely shares a hash,
//!   a prefix or a `jti`;
//! - **never past `exp`**: an entry is served only while `now < exp`
//!   (stricter than the verifier, whose leeway is left to a fresh check), and
//!   only successful verifications are stored, so `nbf`/`iat` held at the time;
//! - **bound to the key set**: each entry carries the [`JwksCache`] generation
//!   that verified it, and a new key set (rotation, a key retired) empties
//!   the cache, so a token signed by a withdrawn key stops at once;
//! - **bounded** in entries and in bytes (token plus claims), so made-up
//!   traffic of valid tokens cannot grow the process: when full, expired
//!   entries go first, and if that is not enough the cache starts over
//!   (one more verification per token, never a wrong answer);
//! - **verification only**: revocation is not a property of the token's bytes
//!   and is asked by the caller after a hit exactly as after a verification.
//!
//! An entry also keeps the token's log fingerprint once a decision line has
//! needed it ([`VerifiedTokens::fingerprint`]), so a token seen again is not
//! hashed again; a token that is not cached is hashed every time, and nothing
//! is hashed when no line is written.
//!
//! [`JwksCache`]: crate::jwt::jwks::JwksCache

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use rustc_hash::FxBuildHasher;

use crate::jwt::claims::VerifiedToken;

/// The most tokens kept.
pub const MAX_ENTRIES: usize = 4096;
/// The most bytes kept (tokens and their claims, estimated).
pub const MAX_BYTES: usize = 8 * 1024 * 1024;
/// What an entry costs beyond its strings: the map slot, the `Arc`, the
/// vectors' headers, the fingerprint. An estimate; it only has to keep the
/// bound honest.
const ENTRY_OVERHEAD: usize = 224;

/// The cache (see the module's documentation).
pub struct VerifiedTokens {
    inner: Mutex<Inner>,
    max_entries: usize,
    max_bytes: usize,
}

#[derive(Default)]
struct Inner {
    /// The key-set generation every entry was verified under.
    generation: u64,
    bytes: usize,
    /// FxHash, not SipHash: a key is hashed two or three times per decision
    /// and is over 1 KiB, where SipHash costs about 1 µs. Flooding needs
    /// colliding keys, and only tokens that verified are ever stored: their
    /// bytes are signed by Cognito (with a random `jti`), not chosen.
    entries: HashMap<Box<str>, Entry, FxBuildHasher>,
}

struct Entry {
    token: Arc<VerifiedToken>,
    bytes: usize,
    fingerprint: Option<String>,
}

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens")
            .field("len", &self.len())
            .field("max_entries", &self.max_entries)
            .field("max_bytes", &self.max_bytes)
            .finish()
    }
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self::with_bounds(MAX_ENTRIES, MAX_BYTES)
    }
}

impl VerifiedTokens {
    /// A cache holding at most `max_entries` tokens and `max_bytes` bytes.
    pub fn with_bounds(max_entries: usize, max_bytes: usize) -> Self {
        VerifiedTokens {
            inner: Mutex::new(Inner::default()),
            max_entries,
            max_bytes,
        }
    }

    /// The verified principal of `token`, if it verified under key-set
    /// `generation` and `now` is before its `exp`.
    pub fn get(&self, token: &str, generation: u64, now: f64) -> Option<Arc<VerifiedToken>> {
        let mut inner = self.lock();
        inner.adopt(generation);
        if inner.generation != generation {
            return None;
        }
        let entry = inner.entries.get(token)?;
        if now < entry.token.expires_at {
            return Some(Arc::clone(&entry.token));
        }
        // Expired: it can never be served again.
        inner.remove(token);
        None
    }

    /// Keeps `verified`, the principal of `token` verified under key-set
    /// `generation` at `now`. A token already expired, one too large for the
    /// byte bound, or one verified under an older key set is not kept.
    pub fn insert(&self, token: &str, verified: Arc<VerifiedToken>, generation: u64, now: f64) {
        let bytes = entry_bytes(token, &verified);
        if now >= verified.expires_at || bytes > self.max_bytes || self.max_entries == 0 {
            return;
        }
        let mut inner = self.lock();
        inner.adopt(generation);
        if inner.generation != generation {
            return;
        }
        // A token stored again (two requests verified it at once) counts as
        // a new one here, so the bounds hold either way; the insert below
        // replaces it and its bytes are taken back.
        if inner.entries.len() >= self.max_entries || inner.bytes + bytes > self.max_bytes {
            inner.entries.retain(|_, e| now < e.token.expires_at);
            inner.bytes = inner.entries.values().map(|e| e.bytes).sum();
            if inner.entries.len() >= self.max_entries || inner.bytes + bytes > self.max_bytes {
                inner.entries.clear();
                inner.bytes = 0;
            }
        }
        inner.bytes += bytes;
        let entry = Entry {
            token: verified,
            bytes,
            fingerprint: None,
        };
        if let Some(old) = inner.entries.insert(token.into(), entry) {
            inner.bytes -= old.bytes;
        }
    }

    /// The log fingerprint of `token`: kept with its entry when the token is
    /// cached (computed by `compute` the first time), else computed now.
    pub fn fingerprint(&self, token: &str, compute: impl FnOnce(&str) -> String) -> String {
        let mut inner = self.lock();
        match inner.entries.get_mut(token) {
            Some(entry) => entry
                .fingerprint
                .get_or_insert_with(|| compute(token))
                .clone(),
            None => {
                drop(inner);
                compute(token)
            }
        }
    }

    /// How many tokens are held.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes held, as the bound counts them.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update leaves the map and the byte count consistent before it
        // can panic (nothing in them panics), so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    /// A newer key set empties the cache: nothing verified under the old one
    /// is trusted any more.
    fn adopt(&mut self, generation: u64) {
        if generation > self.generation {
            self.entries.clear();
            self.bytes = 0;
            self.generation = generation;
        }
    }

    fn remove(&mut self, token: &str) {
        if let Some(old) = self.entries.remove(token) {
            self.bytes -= old.bytes;
        }
    }
}

fn entry_bytes(token: &str, verified: &VerifiedToken) -> usize {
    let strings = |v: &[String]| v.iter().map(|s| s.len() + 24).sum::<usize>();
    ENTRY_OVERHEAD
        + token.len()
        + verified.owner.as_str().len()
        + verified.client_id.len()
        + verified.username.as_ref().map_or(0, String::len)
        + strings(&verified.scopes)
        + strings(&verified.groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use policies::{Owner, TokenUse};

    const NOW: f64 = 1_800_000_000.0;

    fn verified(sub: &str, exp: f64) -> Arc<VerifiedToken> {
        Arc::new(VerifiedToken {
            owner: Owner::user(sub).unwrap(),
            token_use: TokenUse::Access,
            client_id: "client1".into(),
            username: Some("alice".into()),
            scopes: vec!["aws.cognito.signin.user.admin".into()],
            groups: vec![],
            expires_at: exp,
        })
    }

    #[test]
    fn a_token_verified_once_is_found_again_by_its_exact_bytes() {
        let cache = VerifiedTokens::default();
        cache.insert("a.b.c", verified("u1", NOW + 60.0), 1, NOW);
        assert_eq!(
            cache.get("a.b.c", 1, NOW + 1.0).unwrap().owner.as_str(),
            "user:u1"
        );
        // Another spelling of "the same" token is another key.
        for other in ["a.b.C", "a.b.c ", "a.b", "a.b.cd", ""] {
            assert!(cache.get(other, 1, NOW).is_none(), "{other:?}");
        }
    }

    #[test]
    fn an_entry_is_never_served_at_or_after_exp() {
        let cache = VerifiedTokens::default();
        let exp = NOW + 60.0;
        cache.insert("t", verified("u1", exp), 1, NOW);
        assert!(cache.get("t", 1, exp - 0.001).is_some());
        assert!(cache.get("t", 1, exp).is_none());
        assert!(cache.is_empty(), "an expired entry is dropped when seen");
        // Nor is a token already expired when verified (leeway) kept.
        cache.insert("late", verified("u2", NOW - 1.0), 1, NOW);
        assert!(cache.is_empty());
    }

    #[test]
    fn a_new_key_set_empties_the_cache() {
        let cache = VerifiedTokens::default();
        cache.insert("t1", verified("u1", NOW + 60.0), 1, NOW);
        cache.insert("t2", verified("u2", NOW + 60.0), 1, NOW);
        assert_eq!(cache.len(), 2);
        assert!(cache.get("t1", 2, NOW).is_none());
        assert!(cache.is_empty());
        assert_eq!(cache.bytes(), 0);
        // A verification that started under the old key set is not kept.
        cache.insert("t1", verified("u1", NOW + 60.0), 1, NOW);
        assert!(cache.is_empty());
        cache.insert("t1", verified("u1", NOW + 60.0), 2, NOW);
        assert!(cache.get("t1", 2, NOW).is_some());
    }

    #[test]
    fn the_number_of_entries_is_bounded() {
        let cache = VerifiedTokens::with_bounds(3, MAX_BYTES);
        for i in 0..10 {
            cache.insert(&format!("t{i}"), verified("u", NOW + 60.0), 1, NOW);
            assert!(cache.len() <= 3);
        }
        assert!(cache.get("t9", 1, NOW).is_some(), "the newest is kept");
    }

    #[test]
    fn expired_entries_make_room_before_live_ones_are_dropped() {
        let cache = VerifiedTokens::with_bounds(2, MAX_BYTES);
        cache.insert("old", verified("u1", NOW + 1.0), 1, NOW);
        cache.insert("live", verified("u2", NOW + 60.0), 1, NOW);
        cache.insert("new", verified("u3", NOW + 60.0), 1, NOW + 2.0);
        assert!(cache.get("live", 1, NOW + 2.0).is_some());
        assert!(cache.get("new", 1, NOW + 2.0).is_some());
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn the_bytes_held_are_bounded() {
        let token = "x".repeat(1000);
        let one = entry_bytes(&token, &verified("u", NOW + 60.0));
        let cache = VerifiedTokens::with_bounds(MAX_ENTRIES, 3 * one);
        for i in 0..10 {
            let t = format!("{token}{i}");
            cache.insert(&t, verified("u", NOW + 60.0), 1, NOW);
            assert!(cache.bytes() <= 3 * one + 10, "{}", cache.bytes());
        }
        assert!(cache.len() <= 3);
        // A token larger than the whole bound is never kept.
        let tiny = VerifiedTokens::with_bounds(MAX_ENTRIES, 100);
        tiny.insert(&token, verified("u", NOW + 60.0), 1, NOW);
        assert!(tiny.is_empty());
    }

    #[test]
    fn a_cached_tokens_fingerprint_is_computed_once() {
        let cache = VerifiedTokens::default();
        let computed = std::cell::Cell::new(0);
        let compute = |t: &str| {
            computed.set(computed.get() + 1);
            format!("fp-{t}")
        };
        assert_eq!(cache.fingerprint("t", compute), "fp-t");
        assert_eq!(cache.fingerprint("t", compute), "fp-t");
        assert_eq!(computed.get(), 2, "a token not cached is hashed each time");
        cache.insert("t", verified("u", NOW + 60.0), 1, NOW);
        for _ in 0..3 {
            assert_eq!(cache.fingerprint("t", compute), "fp-t");
        }
        assert_eq!(computed.get(), 3, "a cached token is hashed once");
    }

    #[test]
    fn storing_a_token_again_does_not_count_it_twice() {
        let cache = VerifiedTokens::default();
        cache.insert("t", verified("u", NOW + 60.0), 1, NOW);
        let once = cache.bytes();
        cache.insert("t", verified("u", NOW + 60.0), 1, NOW);
        assert_eq!((cache.len(), cache.bytes()), (1, once));
    }
}
