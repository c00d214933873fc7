//! The one spelling of each credential.
//!
//! API Gateway caches the authorizer's answer by the identity header's exact
//! value, so every extra spelling of one credential (`bearer`, two spaces, a
//! tab, padding) is another cache miss, another authorizer run and, with
//! revocation checks on, another Cognito call. The accepted forms are exactly
//! `Bearer <jwt>`, `<jwt>` and `ApiKey <key>`: one regular expression,
//! [`AUTHORIZATION_PATTERN`], which the template gives API Gateway as the
//! authorizer's `ValidationExpression` (API Gateway then answers 401 without
//! invoking the authorizer), the authorizer checks first, and the local stack
//! applies as API Gateway does.
//!
//! The pattern uses only what Java's and Rust's regular expressions read
//! alike (classes, `+`, `{n}`, `|`, a non-capturing group, anchors).
//!
//! ```
//! use policies::{authorization_is_canonical, presented_credential, Presented};
//!
//! assert!(authorization_is_canonical("Bearer aaa.bbb.ccc"));
//! assert!(!authorization_is_canonical("bearer aaa.bbb.ccc"));
//! assert!(!authorization_is_canonical("Bearer  aaa.bbb.ccc"));
//! assert_eq!(presented_credential("aaa.bbb.ccc"), Some(Presented::Jwt("aaa.bbb.ccc")));
//! ```

use std::sync::LazyLock;

use regex::Regex;

/// A JWT in compact serialization: three base64url segments.
macro_rules! jwt_pattern {
    () => {
        r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"
    };
}

/// A partner key: `pk_<id>_<secret>`, 12 id characters, 40 secret characters.
macro_rules! api_key_pattern {
    () => {
        "pk_[a-z0-9]{12}_[A-Za-z0-9]{40}"
    };
}

/// The whole `Authorization` value, anchored: `Bearer <jwt>`, `<jwt>` or
/// `ApiKey <key>`, scheme spelled exactly so, one space, no padding.
pub const AUTHORIZATION_PATTERN: &str = concat!(
    "^(?:Bearer ",
    jwt_pattern!(),
    "|",
    jwt_pattern!(),
    "|ApiKey ",
    api_key_pattern!(),
    ")$"
);

/// A partner key alone, anchored (the `X-Api-Key` header of REQUEST events).
pub const API_KEY_PATTERN: &str = concat!("^", api_key_pattern!(), "$");

/// The scheme of a JWT.
pub const BEARER_PREFIX: &str = "Bearer ";
/// The scheme of a partner key.
pub const API_KEY_PREFIX: &str = "ApiKey ";

// Compiled on first use. The patterns are constants (a test compiles them),
// so `None` never happens; if it did, nothing would match: fail closed.
static AUTHORIZATION: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(AUTHORIZATION_PATTERN).ok());
static API_KEY: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(API_KEY_PATTERN).ok());

/// Whether `value` is one of the accepted spellings of an `Authorization` value.
pub fn authorization_is_canonical(value: &str) -> bool {
    AUTHORIZATION.as_ref().is_some_and(|r| r.is_match(value))
}

/// Whether `value` is exactly a partner key (for `X-Api-Key`).
pub fn api_key_is_canonical(value: &str) -> bool {
    API_KEY.as_ref().is_some_and(|r| r.is_match(value))
}

/// A credential in one of its accepted spellings, borrowed from the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented<'a> {
    /// From `Bearer <jwt>` or a bare `<jwt>`.
    Jwt(&'a str),
    /// From `ApiKey <key>`.
    ApiKey(&'a str),
}

/// The credential in an `Authorization` value, or `None` when the value is
/// not one of the accepted spellings.
pub fn presented_credential(value: &str) -> Option<Presented<'_>> {
    if !authorization_is_canonical(value) {
        return None;
    }
    // The pattern fixed the shape: a prefix, if any, is exactly one of these.
    Some(if let Some(jwt) = value.strip_prefix(BEARER_PREFIX) {
        Presented::Jwt(jwt)
    } else if let Some(key) = value.strip_prefix(API_KEY_PREFIX) {
        Presented::ApiKey(key)
    } else {
        Presented::Jwt(value)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    const KEY: &str = "pk_abcdefgh1234_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn";

    #[test]
    fn the_patterns_compile() {
        assert!(Regex::new(AUTHORIZATION_PATTERN).is_ok());
        assert!(Regex::new(API_KEY_PATTERN).is_ok());
    }

    #[test]
    fn exactly_the_three_spellings_are_accepted() {
        assert_eq!(
            presented_credential(&format!("Bearer {JWT}")),
            Some(Presented::Jwt(JWT))
        );
        assert_eq!(presented_credential(JWT), Some(Presented::Jwt(JWT)));
        assert_eq!(
            presented_credential(&format!("ApiKey {KEY}")),
            Some(Presented::ApiKey(KEY))
        );
        assert!(api_key_is_canonical(KEY));
    }

    #[test]
    fn every_other_spelling_of_the_same_credential_is_refused() {
        for value in [
            format!("bearer {JWT}"),
            format!("BEARER {JWT}"),
            format!("Bearer  {JWT}"),
            format!("Bearer\t{JWT}"),
            format!(" Bearer {JWT}"),
            format!("Bearer {JWT} "),
            format!("{JWT}\n"),
            format!("apikey {KEY}"),
            format!("ApiKey  {KEY}"),
            format!("ApiKey {KEY}x"),
            format!("Bearer {KEY}"),
            KEY.to_owned(),
            format!("ApiKey {JWT}"),
            format!("Bearer {JWT}.x"),
            format!("Bearer {JWT}="),
            "Bearer ".to_owned(),
            "Bearer".to_owned(),
            "Basic dXNlcjpwdw==".to_owned(),
            String::new(),
        ] {
            assert_eq!(presented_credential(&value), None, "{value:?}");
        }
        assert!(!api_key_is_canonical(&format!(" {KEY}")));
        assert!(!api_key_is_canonical(&format!("ApiKey {KEY}")));
    }
}
