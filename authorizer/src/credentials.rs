//! Which credential an event carries: the authorizer's first check, before
//! any work.
//!
//! Pure parsing, no lookups. Only the contract's spellings pass
//! ([`policies::credential`]: `Bearer <jwt>`, `<jwt>`, `ApiKey <key>`, and
//! a bare key in `X-Api-Key`), the same regular expression API Gateway
//! applies as the identity source's `ValidationExpression`. Anything else is
//! refused here, so no other spelling of a credential can cost a
//! verification, a registry read or a Cognito call. The scheme decides the
//! path, so a credential is never tried against both.

use policies::{api_key_is_canonical, presented_credential};

use crate::event::AuthorizerEvent;
use crate::reject::Rejection;

/// A credential as presented, borrowed from the event.
pub use policies::Presented as Credential;

/// Extracts the credential of a TOKEN or REQUEST event.
///
/// REQUEST events may carry the key in `X-Api-Key`; a request with both that
/// and `Authorization` is refused rather than guessing which one speaks for it.
pub fn extract(event: &AuthorizerEvent) -> Result<Credential<'_>, Rejection> {
    if let Some(token) = event.authorization_token.as_deref() {
        return parse_authorization(token);
    }
    let authorization = event.header("authorization").filter(|v| !v.is_empty());
    let api_key = event.header("x-api-key").filter(|v| !v.is_empty());
    match (authorization, api_key) {
        (Some(_), Some(_)) => Err(Rejection::AmbiguousCredentials),
        (Some(value), None) => parse_authorization(value),
        (None, Some(key)) if api_key_is_canonical(key) => Ok(Credential::ApiKey(key)),
        (None, Some(_)) => Err(Rejection::MalformedCredential),
        (None, None) => Err(Rejection::MissingCredential),
    }
}

/// Parses an `Authorization` value in one of its accepted spellings.
pub fn parse_authorization(value: &str) -> Result<Credential<'_>, Rejection> {
    if value.is_empty() {
        return Err(Rejection::MissingCredential);
    }
    presented_credential(value).ok_or(Rejection::MalformedCredential)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const JWT: &str = "aaa.bbb.ccc";
    const KEY: &str = "pk_abcdefgh1234_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn";

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
    fn the_contract_spellings_are_accepted() {
        assert_eq!(
            parse_authorization("Bearer aaa.bbb.ccc"),
            Ok(Credential::Jwt(JWT))
        );
        assert_eq!(parse_authorization(JWT), Ok(Credential::Jwt(JWT)));
        assert_eq!(
            parse_authorization(&format!("ApiKey {KEY}")),
            Ok(Credential::ApiKey(KEY))
        );
    }

    #[test]
    fn other_spellings_of_a_valid_credential_are_refused_before_any_work() {
        for value in [
            "bearer aaa.bbb.ccc".to_owned(),
            "BEARER aaa.bbb.ccc".to_owned(),
            "Bearer  aaa.bbb.ccc".to_owned(),
            "Bearer\taaa.bbb.ccc".to_owned(),
            " Bearer aaa.bbb.ccc".to_owned(),
            "Bearer aaa.bbb.ccc ".to_owned(),
            format!("apikey {KEY}"),
            format!("ApiKey  {KEY}"),
            format!("Bearer {KEY}"),
            KEY.to_owned(),
            "Basic dXNlcjpwdw==".to_owned(),
            "Bearer ".to_owned(),
            "   ".to_owned(),
        ] {
            assert_eq!(
                parse_authorization(&value),
                Err(Rejection::MalformedCredential),
                "{value:?}"
            );
        }
        assert_eq!(parse_authorization(""), Err(Rejection::MissingCredential));
    }

    #[test]
    fn token_events_read_the_authorization_token() {
        let event = AuthorizerEvent::token("Bearer aaa.bbb.ccc", "arn");
        assert_eq!(extract(&event), Ok(Credential::Jwt(JWT)));
        let event = AuthorizerEvent::token("bearer aaa.bbb.ccc", "arn");
        assert_eq!(extract(&event), Err(Rejection::MalformedCredential));
    }

    #[test]
    fn request_events_find_headers_whatever_the_name_case() {
        assert_eq!(
            extract(&request(&[("AUTHORIZATION", "Bearer aaa.bbb.ccc")])),
            Ok(Credential::Jwt(JWT))
        );
        assert_eq!(
            extract(&request(&[("x-API-key", KEY)])),
            Ok(Credential::ApiKey(KEY))
        );
    }

    #[test]
    fn an_x_api_key_must_be_exactly_a_key() {
        for value in [
            format!(" {KEY}"),
            format!("{KEY} "),
            format!("ApiKey {KEY}"),
        ] {
            assert_eq!(
                extract(&request(&[("X-Api-Key", &value)])),
                Err(Rejection::MalformedCredential),
                "{value:?}"
            );
        }
    }

    #[test]
    fn request_events_with_two_credentials_or_none_are_refused() {
        assert_eq!(
            extract(&request(&[
                ("Authorization", "Bearer aaa.bbb.ccc"),
                ("X-Api-Key", KEY)
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
