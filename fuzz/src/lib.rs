//! The harnesses behind the fuzz targets: one function per target, each
//! feeding untrusted bytes to a parser on a trust boundary and asserting what
//! must hold for every input (not only "no panic"). `fuzz_targets/*.rs` are
//! one line each; `docs/FUZZING.md` lists targets and properties.
//!
//! - [`credentials`]: the `Authorization` header and the authorizer event.
//! - [`jwt`]: the compact JWS, its claims, JWKS documents.
//! - [`issuers`]: `TRUSTED_ISSUERS` and OIDC discovery documents.
//! - [`keys`]: the partner key format and the key registry.
//! - [`vocabulary`]: method ARNs, owners and the authorizer context.
//! - [`items`]: the api's body, merge patch, cursor and `If-Match` parsers.
//! - [`requests`]: whole requests, into the api and through the local stack.
//!
//! Harnesses panic (`assert!`) when a property fails: that is how libFuzzer
//! learns of a bug.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod credentials;
pub mod issuers;
pub mod items;
pub mod jwt;
pub mod keys;
pub mod requests;
pub mod vocabulary;

pub use credentials::{authorization_header, authorizer_event};
pub use issuers::{discovery, trusted_issuers};
pub use items::{cursor, if_match, item_input, merge_patch};
pub use jwt::{jwks, jwt_claims, jwt_token};
pub use keys::{partner_key, registry};
pub use requests::{api_request, local_http};
pub use vocabulary::{auth_context, method_arn, owner};

/// The fixed "now" (Unix seconds) of every time-dependent check, so a run is
/// reproducible; the seed tokens are issued just before it.
pub const NOW: u64 = 1_800_000_000;

/// The user pool and app client of the seed tokens.
pub const POOL_ID: &str = "us-east-1_Pool1";
/// The one allowed app client.
pub const CLIENT_ID: &str = "client1";

/// The cursor key of the harnesses (and of the seed cursors).
pub const CURSOR_KEY: &[u8] = b"fuzzing-cursor-key-at-least-32-bytes";

/// The owner the api harnesses act for; the seed cursors are issued to it.
pub const OWNER: &str = "user:6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f";

/// The length of the `keys` array of a document a parser accepted as a JWKS
/// or a registry, asserting the shape both have: a JSON object with a `keys`
/// array. Members the parsers do not read are skipped, and RFC 8259 (section
/// 8.2) lets their strings hold escapes that are no Unicode text (a lone
/// `\ud800`), which `serde_json::Value` refuses; this check reads past them
/// as the parsers do.
pub fn keys_array_len(json: &[u8]) -> usize {
    #[derive(serde::Deserialize)]
    struct KeySet {
        keys: Vec<serde::de::IgnoredAny>,
    }
    let first = json
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    assert_eq!(first, Some(&b'{'), "accepted a document that is no object");
    let document: KeySet = serde_json::from_slice(json).unwrap();
    document.keys.len()
}

/// The bytes as UTF-8 text, or `None` (most boundaries receive text).
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
