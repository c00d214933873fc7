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
//! - **bound to its issuer's key set**: each entry carries its issuer and
//!   the generation of that issuer's [`JwksCache`] that verified it, and is
//!   served only while that generation is current: a new key set of the
//!   issuer (rotation, a key retired) ends its entries at once, so a token
//!   signed by a withdrawn key stops, while other issuers' entries stay;
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

/// Which issuer verified an entry, and under which generation of its key set.
pub type Stamp = (crate::jwt::issuers::IssuerId, u64);

/// The cache (see the module's documentation).
pub struct VerifiedTokens {
    inner: Mutex<Inner>,
    max_entries: usize,
    max_bytes: usize,
}

#[derive(Default)]
struct Inner {
    bytes: usize,
    /// FxHash, not SipHash: a key is hashed two or three times per decision
    /// and is over 1 KiB, where SipHash costs about 1 µs. Flooding needs
    /// colliding keys, and only tokens that verified are ever stored: their
    /// bytes are signed by Cognito (with a random `jti`), not chosen.
    entries: HashMap<Box<str>, Entry, FxBuildHasher>,
}

struct Entry {
    token: Arc<VerifiedToken>,
    stamp: Stamp,
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

    /// The verified principal of `token`, if it verified under its issuer's
    /// key-set generation `current(issuer)` and `now` is before its `exp`.
    pub fn get(
        &self,
        token: &str,
        now: f64,
        current: impl Fn(crate::jwt::issuers::IssuerId) -> u64,
    ) -> Option<Arc<VerifiedToken>> {
        let mut inner = self.lock();
        let entry = inner.entries.get(token)?;
        let (issuer, generation) = entry.stamp;
        if now < entry.token.expires_at && generation == current(issuer) {
            return Some(Arc::clone(&entry.token));
        }
        // Expired, or verified under a key set since replaced: it can never
        // be served again.
        inner.remove(token);
        None
    }

    /// Keeps `verified`, the principal of `token` verified at `now` under
    /// `stamp` (its issuer and that issuer's key-set generation). A token
    /// already expired, one too large for the byte bound, or one verified
    /// under a key set already replaced (`current`) is not kept.
    pub fn insert(
        &self,
        token: &str,
        verified: Arc<VerifiedToken>,
        stamp: Stamp,
        now: f64,
        current: impl Fn(crate::jwt::issuers::IssuerId) -> u64,
    ) {
        let bytes = entry_bytes(token, &verified);
        if now >= verified.expires_at
            || bytes > self.max_bytes
            || self.max_entries == 0
            || stamp.1 != current(stamp.0)
        {
            return;
        }
        let mut inner = self.lock();
        // A token stored again (two requests verified it at once) counts as
        // a new one here, so the bounds hold either way; the insert below
        // replaces it and its bytes are taken back.
        if inner.entries.len() >= self.max_entries || inner.bytes + bytes > self.max_bytes {
            inner
                .entries
                .retain(|_, e| now < e.token.expires_at && e.stamp.1 == current(e.stamp.0));
            inner.bytes = inner.entries.values().map(|e| e.bytes).sum();
            if inner.entries.len() >= self.max_entries || inner.bytes + bytes > self.max_bytes {
                inner.entries.clear();
                inner.bytes = 0;
            }
        }
        inner.bytes += bytes;
        let entry = Entry {
            token: verified,
            stamp,
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
        + verified.client_id.as_ref().map_or(0, String::len)
        + verified.username.as_ref().map_or(0, String::len)
        + strings(&verified.scopes)
        + strings(&verified.groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use policies::{Owner, PermissionSet, TokenUse};

    const NOW: f64 = 1_800_000_000.0;

    /// Every issuer's key set at generation `g`.
    fn at(g: u64) -> impl Fn(usize) -> u64 {
        move |_| g
    }

    fn verified(sub: &str, exp: f64) -> Arc<VerifiedToken> {
        Arc::new(VerifiedToken {
            owner: Owner::user(sub).unwrap(),
            token_use: Some(TokenUse::Access),
            client_id: Some("client1".into()),
            username: Some("alice".into()),
            scopes: vec!["aws.cognito.signin.user.admin".into()],
            groups: vec![],
            permissions: PermissionSet::ALL,
            expires_at: exp,
        })
    }

    #[test]
    fn a_token_verified_once_is_found_again_by_its_exact_bytes() {
        let cache = VerifiedTokens::default();
        cache.insert("a.b.c", verified("u1", NOW + 60.0), (0, 1), NOW, at(1));
        assert_eq!(
            cache.get("a.b.c", NOW + 1.0, at(1)).unwrap().owner.as_str(),
            "user:u1"
        );
        // Another spelling of "the same" token is another key.
        for other in ["a.b.C", "a.b.c ", "a.b", "a.b.cd", ""] {
            assert!(cache.get(other, NOW, at(1)).is_none(), "{other:?}");
        }
    }

    #[test]
    fn an_entry_is_never_served_at_or_after_exp() {
        let cache = VerifiedTokens::default();
        let exp = NOW + 60.0;
        cache.insert("t", verified("u1", exp), (0, 1), NOW, at(1));
        assert!(cache.get("t", exp - 0.001, at(1)).is_some());
        assert!(cache.get("t", exp, at(1)).is_none());
        assert!(cache.is_empty(), "an expired entry is dropped when seen");
        // Nor is a token already expired when verified (leeway) kept.
        cache.insert("late", verified("u2", NOW - 1.0), (0, 1), NOW, at(1));
        assert!(cache.is_empty());
    }

    #[test]
    fn a_new_key_set_ends_the_entries_of_its_issuer_only() {
        let cache = VerifiedTokens::default();
        // Issuer 0 (the pool) and issuer 1 (a trusted issuer), both at
        // generation 1.
        let generations = std::cell::Cell::new([1u64, 1u64]);
        let current = |id: usize| generations.get()[id];
        cache.insert("t1", verified("u1", NOW + 60.0), (0, 1), NOW, current);
        cache.insert("t2", verified("u2", NOW + 60.0), (0, 1), NOW, current);
        cache.insert("o1", verified("u3", NOW + 60.0), (1, 1), NOW, current);
        assert_eq!(cache.len(), 3);
        // Issuer 0 rotates its keys.
        generations.set([2, 1]);
        assert!(cache.get("t1", NOW, current).is_none());
        assert!(cache.get("t2", NOW, current).is_none());
        assert!(
            cache.get("o1", NOW, current).is_some(),
            "another issuer's entry stays"
        );
        assert_eq!(cache.len(), 1);
        // A verification that started under the old key set is not kept.
        cache.insert("t1", verified("u1", NOW + 60.0), (0, 1), NOW, current);
        assert!(cache.get("t1", NOW, current).is_none());
        cache.insert("t1", verified("u1", NOW + 60.0), (0, 2), NOW, current);
        assert!(cache.get("t1", NOW, current).is_some());
        // The same generation number of another issuer is not this one's.
        generations.set([2, 3]);
        assert!(cache.get("o1", NOW, current).is_none());
        assert!(cache.get("t1", NOW, current).is_some());
    }

    #[test]
    fn the_number_of_entries_is_bounded() {
        let cache = VerifiedTokens::with_bounds(3, MAX_BYTES);
        for i in 0..10 {
            cache.insert(
                &format!("t{i}"),
                verified("u", NOW + 60.0),
                (0, 1),
                NOW,
                at(1),
            );
            assert!(cache.len() <= 3);
        }
        assert!(cache.get("t9", NOW, at(1)).is_some(), "the newest is kept");
    }

    #[test]
    fn expired_entries_make_room_before_live_ones_are_dropped() {
        let cache = VerifiedTokens::with_bounds(2, MAX_BYTES);
        cache.insert("old", verified("u1", NOW + 1.0), (0, 1), NOW, at(1));
        cache.insert("live", verified("u2", NOW + 60.0), (0, 1), NOW, at(1));
        cache.insert("new", verified("u3", NOW + 60.0), (0, 1), NOW + 2.0, at(1));
        assert!(cache.get("live", NOW + 2.0, at(1)).is_some());
        assert!(cache.get("new", NOW + 2.0, at(1)).is_some());
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn the_bytes_held_are_bounded() {
        let token = "x".repeat(1000);
        let one = entry_bytes(&token, &verified("u", NOW + 60.0));
        let cache = VerifiedTokens::with_bounds(MAX_ENTRIES, 3 * one);
        for i in 0..10 {
            let t = format!("{token}{i}");
            cache.insert(&t, verified("u", NOW + 60.0), (0, 1), NOW, at(1));
            assert!(cache.bytes() <= 3 * one + 10, "{}", cache.bytes());
        }
        assert!(cache.len() <= 3);
        // A token larger than the whole bound is never kept.
        let tiny = VerifiedTokens::with_bounds(MAX_ENTRIES, 100);
        tiny.insert(&token, verified("u", NOW + 60.0), (0, 1), NOW, at(1));
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
        cache.insert("t", verified("u", NOW + 60.0), (0, 1), NOW, at(1));
        for _ in 0..3 {
            assert_eq!(cache.fingerprint("t", compute), "fp-t");
        }
        assert_eq!(computed.get(), 3, "a cached token is hashed once");
    }

    #[test]
    fn storing_a_token_again_does_not_count_it_twice() {
        let cache = VerifiedTokens::default();
        cache.insert("t", verified("u", NOW + 60.0), (0, 1), NOW, at(1));
        let once = cache.bytes();
        cache.insert("t", verified("u", NOW + 60.0), (0, 1), NOW, at(1));
        assert_eq!((cache.len(), cache.bytes()), (1, once));
    }
}
