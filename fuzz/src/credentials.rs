//! The first check of the authorizer: which credential an `Authorization`
//! value (or a REQUEST event's headers) presents.
//!
//! The oracle is the contract's grammar written out by hand, without a
//! regular expression: `Bearer <jwt>`, `<jwt>` or `ApiKey <key>`, a JWT
//! being three non-empty base64url segments and a key
//! `pk_<12 x [a-z0-9]>_<40 x [A-Za-z0-9]>`. The code under test uses
//! [`policies::AUTHORIZATION_PATTERN`]; the two must agree on every input.

use std::sync::LazyLock;

use authorizer::credentials::{Credential, extract, parse_authorization};
use authorizer::{AuthorizerEvent, Rejection};
use policies::{
    API_KEY_PATTERN, AUTHORIZATION_PATTERN, Presented, api_key_is_canonical,
    authorization_is_canonical, presented_credential,
};
use regex::Regex;

static AUTHORIZATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(AUTHORIZATION_PATTERN).unwrap());
static API_KEY: LazyLock<Regex> = LazyLock::new(|| Regex::new(API_KEY_PATTERN).unwrap());

fn is_base64url_segment(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Three non-empty base64url segments.
pub fn spec_jwt(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| is_base64url_segment(p))
}

/// `pk_<12 x [a-z0-9]>_<40 x [A-Za-z0-9]>`.
pub fn spec_key(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 56
        && s.starts_with("pk_")
        && b[3..15]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && b[15] == b'_'
        && b[16..].iter().all(u8::is_ascii_alphanumeric)
}

/// What the contract says an `Authorization` value presents.
pub fn spec_presented(value: &str) -> Option<Presented<'_>> {
    if let Some(jwt) = value.strip_prefix("Bearer ")
        && spec_jwt(jwt)
    {
        return Some(Presented::Jwt(jwt));
    }
    if let Some(key) = value.strip_prefix("ApiKey ")
        && spec_key(key)
    {
        return Some(Presented::ApiKey(key));
    }
    spec_jwt(value).then_some(Presented::Jwt(value))
}

/// Target `authorization_header`: `parse_authorization`,
/// `presented_credential`, `authorization_is_canonical`,
/// `api_key_is_canonical` against the hand-written grammar.
pub fn authorization_header(data: &[u8]) {
    let Some(value) = crate::text(data) else {
        return;
    };
    let presented = presented_credential(value);
    assert_eq!(presented, spec_presented(value), "{value:?}");
    assert_eq!(authorization_is_canonical(value), presented.is_some());
    assert_eq!(AUTHORIZATION.is_match(value), presented.is_some());
    if let Some(credential) = presented {
        let inner = match credential {
            Presented::Jwt(s) | Presented::ApiKey(s) => s,
        };
        // Borrowed from the input, at its end: only a scheme is stripped.
        assert!(value.ends_with(inner));
        let scheme = &value[..value.len() - inner.len()];
        match credential {
            Presented::Jwt(_) => assert!(scheme.is_empty() || scheme == "Bearer "),
            Presented::ApiKey(_) => assert_eq!(scheme, "ApiKey "),
        }
    }
    assert_eq!(api_key_is_canonical(value), spec_key(value));
    assert_eq!(API_KEY.is_match(value), spec_key(value));

    match parse_authorization(value) {
        Ok(credential) => assert_eq!(Some(credential), presented),
        Err(Rejection::MissingCredential) => assert!(value.is_empty()),
        Err(Rejection::MalformedCredential) => {
            assert!(!value.is_empty() && presented.is_none());
        }
        Err(other) => panic!("unexpected rejection {other:?} for {value:?}"),
    }
}

/// Target `authorizer_event`: event JSON (TOKEN or REQUEST) as the Lambda
/// runtime hands it over, then `credentials::extract`.
pub fn authorizer_event(data: &[u8]) {
    let Ok(event) = serde_json::from_slice::<AuthorizerEvent>(data) else {
        return;
    };
    let got = extract(&event);
    if let Some(token) = event.authorization_token.as_deref() {
        assert_eq!(got, parse_authorization(token));
        return;
    }
    // A forged event may name one header in several cases; which one a
    // lookup finds then depends on the map's order, so only the unambiguous
    // events have one expected answer.
    let named = |name: &str| {
        event
            .headers
            .iter()
            .flatten()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .count()
    };
    if named("authorization") > 1 || named("x-api-key") > 1 {
        if let Ok(credential) = got {
            let inner = match credential {
                Credential::Jwt(s) | Credential::ApiKey(s) => s,
            };
            assert!(
                event
                    .headers
                    .iter()
                    .flatten()
                    .any(|(_, v)| v.ends_with(inner))
            );
        }
        return;
    }
    let authorization = event.header("authorization").filter(|v| !v.is_empty());
    let api_key = event.header("x-api-key").filter(|v| !v.is_empty());
    let expected = match (authorization, api_key) {
        (Some(_), Some(_)) => Err(Rejection::AmbiguousCredentials),
        (Some(value), None) => spec_presented(value).ok_or(Rejection::MalformedCredential),
        (None, Some(key)) if spec_key(key) => Ok(Credential::ApiKey(key)),
        (None, Some(_)) => Err(Rejection::MalformedCredential),
        (None, None) => Err(Rejection::MissingCredential),
    };
    assert_eq!(got, expected);
}
