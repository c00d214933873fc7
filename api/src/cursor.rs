//! The opaque `nextCursor` of `GET /items`.
//!
//! A cursor carries the id of the last item of a page, the position where the
//! next page starts. It must not be alterable and must not work for another
//! owner (both are a 400), so it is authenticated: an HMAC-SHA256 tag over the
//! owner and the id, keyed by `CURSOR_KEY` from the configuration.
//!
//! Why a keyed tag rather than only checking the owner and the shape on decode:
//! the owner could be checked only if it were written into the cursor, and
//! then anyone could write any owner and any position into one. The table's
//! key condition keeps a query inside the caller's partition, so a forged
//! cursor could not read another owner's items, but it would let a client
//! steer `ExclusiveStartKey` to positions the service never handed out, and
//! the contract says an altered cursor is refused. Only a key the client does
//! not hold makes "altered" detectable. The key comes from configuration (not
//! generated per process) so that a cursor made by one Lambda instance is
//! accepted by every other; rotating the key invalidates outstanding cursors
//! (clients get a 400 and start the listing again).
//!
//! Layout, base64url without padding: `0x01 | id bytes | first 16 bytes of
//! HMAC-SHA256(key, "items-cursor-v1" | len(owner) | owner | id)`. The owner
//! is bound by the tag but not written out, so a cursor does not reveal it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::item::ItemId;

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
const DOMAIN: &[u8] = b"items-cursor-v1";
/// The shortest key accepted: 256 bits.
pub const MIN_KEY_LEN: usize = 32;
/// Longer inputs are refused before decoding: no real cursor comes close.
const MAX_CURSOR_LEN: usize = 256;

/// Why a cursor was refused. Both are a 400 naming the `cursor` parameter;
/// the variants are kept apart for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// Not something this service could have produced (encoding, length,
    /// version, id shape).
    #[error("the cursor is malformed")]
    Malformed,
    /// Well-formed but the tag does not verify: altered, made with another
    /// key, or issued to another owner.
    #[error("the cursor was altered or was issued to another principal")]
    NotIssuedToCaller,
}

/// The key given was too short to authenticate cursors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the cursor key must be at least {MIN_KEY_LEN} bytes, got {0}")]
pub struct WeakCursorKey(pub usize);

/// Encodes and verifies cursors with one key.
#[derive(Clone)]
pub struct CursorCodec {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("CursorCodec").finish_non_exhaustive()
    }
}

impl CursorCodec {
    /// A codec keyed with `key` (at least [`MIN_KEY_LEN`] bytes).
    pub fn new(key: &[u8]) -> Result<Self, WeakCursorKey> {
        if key.len() < MIN_KEY_LEN {
            return Err(WeakCursorKey(key.len()));
        }
        let mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| WeakCursorKey(key.len()))?;
        Ok(CursorCodec { mac })
    }

    fn tag(&self, owner: &str, id: &str) -> Hmac<Sha256> {
        // The keyed state is computed once at construction; cloning it saves
        // the two key-pad compressions per cursor.
        let mut mac = self.mac.clone();
        mac.update(DOMAIN);
        mac.update(&(owner.len() as u64).to_be_bytes());
        mac.update(owner.as_bytes());
        mac.update(id.as_bytes());
        mac
    }

    /// The cursor that resumes `owner`'s listing after item `last`.
    pub fn encode(&self, owner: &str, last: &ItemId) -> String {
        let id = last.as_str();
        let tag = self.tag(owner, id).finalize().into_bytes();
        let mut raw = Vec::with_capacity(1 + id.len() + TAG_LEN);
        raw.push(VERSION);
        raw.extend_from_slice(id.as_bytes());
        raw.extend_from_slice(&tag[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The id a cursor resumes after, if `owner` was given this cursor.
    pub fn decode(&self, owner: &str, cursor: &str) -> Result<ItemId, CursorError> {
        if cursor.is_empty() || cursor.len() > MAX_CURSOR_LEN {
            return Err(CursorError::Malformed);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| CursorError::Malformed)?;
        let Some((&version, rest)) = raw.split_first() else {
            return Err(CursorError::Malformed);
        };
        if version != VERSION || rest.len() <= TAG_LEN {
            return Err(CursorError::Malformed);
        }
        let (id, tag) = rest.split_at(rest.len() - TAG_LEN);
        let id = std::str::from_utf8(id).map_err(|_| CursorError::Malformed)?;
        // Verify before trusting anything inside (constant-time compare).
        self.tag(owner, id)
            .verify_truncated_left(tag)
            .map_err(|_| CursorError::NotIssuedToCaller)?;
        ItemId::parse(id).map_err(|_| CursorError::Malformed)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn codec() -> CursorCodec {
        CursorCodec::new(KEY).unwrap()
    }

    fn id(s: &str) -> ItemId {
        ItemId::parse(s).unwrap()
    }

    #[test]
    fn a_cursor_decodes_for_its_owner_to_the_same_id() {
        let c = codec().encode("alice", &id("0193-abc"));
        assert_eq!(codec().decode("alice", &c), Ok(id("0193-abc")));
    }

    #[test]
    fn a_cursor_is_url_safe_and_does_not_reveal_the_owner() {
        let c = codec().encode("alice", &id("x"));
        assert!(
            c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let raw = URL_SAFE_NO_PAD.decode(&c).unwrap();
        assert!(!raw.windows(5).any(|w| w == b"alice"));
    }

    #[test]
    fn another_owner_cannot_replay_a_cursor() {
        let c = codec().encode("alice", &id("x"));
        assert_eq!(
            codec().decode("bob", &c),
            Err(CursorError::NotIssuedToCaller)
        );
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let c = codec().encode("alice", &id("0193abc"));
        let raw = URL_SAFE_NO_PAD.decode(&c).unwrap();
        for i in 0..raw.len() {
            for bit in 0..8 {
                let mut altered = raw.clone();
                altered[i] ^= 1 << bit;
                let altered = URL_SAFE_NO_PAD.encode(altered);
                assert!(
                    codec().decode("alice", &altered).is_err(),
                    "byte {i} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn a_cursor_pointing_elsewhere_without_the_key_is_refused() {
        // What an attacker can build: the same layout with an id of their choice.
        let c = codec().encode("alice", &id("aaaa"));
        let mut raw = URL_SAFE_NO_PAD.decode(&c).unwrap();
        raw[1..5].copy_from_slice(b"zzzz");
        let forged = URL_SAFE_NO_PAD.encode(raw);
        assert_eq!(
            codec().decode("alice", &forged),
            Err(CursorError::NotIssuedToCaller)
        );
    }

    #[test]
    fn another_key_does_not_verify() {
        let other = CursorCodec::new(b"another key, also 32 bytes long!").unwrap();
        let c = other.encode("alice", &id("x"));
        assert_eq!(
            codec().decode("alice", &c),
            Err(CursorError::NotIssuedToCaller)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        for bad in [
            "",
            "!!!",
            "AA",
            &"A".repeat(300),
            "AgAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(
                codec().decode("alice", bad),
                Err(CursorError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(CursorCodec::new(b"short").unwrap_err(), WeakCursorKey(5));
    }
}
