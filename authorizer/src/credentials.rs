//! Which credential an event carries.
//!
//! Pure parsing, no lookups: the scheme decides the path (`Bearer` → JWT,
//! `ApiKey` → partner key), so a credential is never tried against both.

use crate::event::AuthorizerEvent;
use crate::reject::Rejection;

/// A credential as presented, borrowed from the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// A JWT (from `Bearer <jwt>` or a bare JWT).
    Jwt(&'a str),
    /// A partner API key (from `ApiKey <key>` or `X-Api-Key`).
    ApiKey(&'a str),
}

/// Extracts the credential of a TOKEN or REQUEST event.
///
/// REQUEST events may carry the key in `X-Api-Key`; a request with both that
/// and `Authorization` is refused rather than guessing which one speaks for it.
pub fn extract(event: &AuthorizerEvent) -> Result<Credential<'_>, Rejection> {
    if let Some(token) = event.authorization_token.as_deref() {
        return parse_authorization(token);
    }
    let authorization = event
        .header("authorization")
        .filter(|v| !v.trim().is_empty());
    let api_key = event.header("x-api-key").filter(|v| !v.trim().is_empty());
    match (authorization, api_key) {
        (Some(_), Some(_)) => Err(Rejection::AmbiguousCredentials),
        (Some(value), None) => parse_authorization(value),
        (None, Some(key)) => Ok(Credential::ApiKey(key.trim())),
        (None, None) => Err(Rejection::MissingCredential),
    }
}

/// Parses an `Authorization` value: `Bearer <jwt>`, `ApiKey <key>` (schemes
/// case-insensitive) or a bare JWT.
pub fn parse_authorization(value: &str) -> Result<Credential<'_>, Rejection> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Rejection::MissingCredential);
    }
    match value.split_once([' ', '\t']) {
        Some((scheme, rest)) => {
            let rest = rest.trim_start();
            if rest.is_empty() {
                Err(Rejection::UnsupportedScheme)
            } else if scheme.eq_ignore_ascii_case("bearer") {
                Ok(Credential::Jwt(rest))
            } else if scheme.eq_ignore_ascii_case("apikey") {
                Ok(Credential::ApiKey(rest))
            } else {
                Err(Rejection::UnsupportedScheme)
            }
        }
        // A bare value is taken as a JWT only if it has a JWT's shape, so that a
        // bare partner key or a stray word gets a clear reason, not a parse error.
        None if value.bytes().filter(|&b| b == b'.').count() == 2 => Ok(Credential::Jwt(value)),
        None => Err(Rejection::UnsupportedScheme),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn request(headers: &[(&str, &str)]) -> AuthorizerEvent {
        AuthorizerEvent {
            headers: Some(
                headers
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<HashMap<_, _>>(),
            ),
            ..AuthorizerEvent::default()
        }
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            assert_eq!(
                parse_authorization(&format!("{scheme} a.b.c")),
                Ok(Credential::Jwt("a.b.c"))
            );
        }
    }

    #[test]
    fn a_bare_jwt_is_accepted() {
        assert_eq!(parse_authorization("a.b.c"), Ok(Credential::Jwt("a.b.c")));
    }

    #[test]
    fn apikey_scheme_is_case_insensitive() {
        assert_eq!(
            parse_authorization("apikey pk_x"),
            Ok(Credential::ApiKey("pk_x"))
        );
        assert_eq!(
            parse_authorization("ApiKey  pk_x"),
            Ok(Credential::ApiKey("pk_x"))
        );
    }

    #[test]
    fn other_schemes_and_empty_values_are_refused() {
        assert_eq!(
            parse_authorization("Basic dXNlcjpwdw=="),
            Err(Rejection::UnsupportedScheme)
        );
        assert_eq!(
            parse_authorization("Bearer "),
            Err(Rejection::UnsupportedScheme)
        );
        assert_eq!(
            parse_authorization("Bearer"),
            Err(Rejection::UnsupportedScheme)
        );
        assert_eq!(
            parse_authorization("pk_abc_def"),
            Err(Rejection::UnsupportedScheme)
        );
        assert_eq!(
            parse_authorization("   "),
            Err(Rejection::MissingCredential)
        );
    }

    #[test]
    fn token_events_read_the_authorization_token() {
        let event = AuthorizerEvent::token("Bearer a.b.c", "arn");
        assert_eq!(extract(&event), Ok(Credential::Jwt("a.b.c")));
    }

    #[test]
    fn request_events_find_headers_whatever_their_case() {
        assert_eq!(
            extract(&request(&[("AUTHORIZATION", "Bearer a.b.c")])),
            Ok(Credential::Jwt("a.b.c"))
        );
        assert_eq!(
            extract(&request(&[("x-API-key", "pk_1")])),
            Ok(Credential::ApiKey("pk_1"))
        );
    }

    #[test]
    fn request_events_with_two_credentials_or_none_are_refused() {
        assert_eq!(
            extract(&request(&[
                ("Authorization", "Bearer a.b.c"),
                ("X-Api-Key", "pk_1")
            ])),
            Err(Rejection::AmbiguousCredentials)
        );
        assert_eq!(
            extract(&request(&[("Accept", "*/*")])),
            Err(Rejection::MissingCredential)
        );
        assert_eq!(
            extract(&AuthorizerEvent::default()),
            Err(Rejection::MissingCredential)
        );
    }
}
