//! The cache of verified tokens seen from the authorizer: a hit is never
//! worth more than a fresh verification (revocation, key rotation, expiry).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::BoxFuture;
use crate::jwt::revocation::{RevocationCheck, STILL_VALID_TTL};
use crate::jwt::token::SigAlg;
use crate::testkit::{SigningKey, StaticJwks, access_claims, jwks};
use crate::{Authorizer, AuthorizerBuilder, AuthorizerEvent, Config, Failure, Rejection};

const POOL: &str = "us-east-1_TestPool1";
const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool1";
const NOW: u64 = 1_800_000_000;
const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/items";

/// Cognito's answer, changed by the test.
struct Switchable {
    answer: Mutex<Result<(), Rejection>>,
    calls: AtomicUsize,
}

impl RevocationCheck for Switchable {
    fn check<'a>(&'a self, _token: &'a str) -> BoxFuture<'a, Result<(), Rejection>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = self
            .answer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        Box::pin(async move { answer })
    }
}

fn config(extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![
        ("COGNITO_USER_POOL_ID", POOL),
        ("COGNITO_CLIENT_IDS", "client1"),
    ];
    vars.extend_from_slice(extra);
    Config::from_pairs(&vars).unwrap()
}

/// An authorizer whose pool serves `key` alone, asking `revocation` (if
/// any) about first-party tokens.
fn with_key(key: &SigningKey, revocation: Option<Arc<Switchable>>) -> Authorizer {
    let extra: &[(&str, &str)] = if revocation.is_some() {
        &[("CHECK_REVOCATION", "true")]
    } else {
        &[]
    };
    let config = config(extra);
    let builder =
        AuthorizerBuilder::new(&config).jwks_source(Arc::new(StaticJwks::new(&jwks(&[key]))));
    match revocation {
        Some(check) => builder.revocation(check).build(),
        None => builder.build(),
    }
}

fn first_party(key: &SigningKey) -> String {
    let claims = access_claims(
        ISSUER,
        "client1",
        "user-1",
        "aws.cognito.signin.user.admin",
        &[],
        NOW,
    );
    key.sign(&claims).unwrap()
}

fn decide(a: &Authorizer, token: &str, now: u64) -> Result<crate::AuthorizerResponse, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(a.authorize(
            &AuthorizerEvent::token(format!("Bearer {token}"), ARN),
            now as f64,
        ))
}

fn cached(a: &Authorizer) -> usize {
    a.jwt_verifier().map_or(0, |v| v.verified_tokens().len())
}

#[test]
fn a_cached_verified_token_whose_revocation_is_then_reported_is_refused() {
    let key = SigningKey::rsa("k1", SigAlg::RS256).unwrap();
    let cognito = Arc::new(Switchable {
        answer: Mutex::new(Ok(())),
        calls: AtomicUsize::new(0),
    });
    let a = with_key(&key, Some(cognito.clone()));
    let t = first_party(&key);
    assert!(decide(&a, &t, NOW).is_ok());
    assert_eq!(cached(&a), 1, "the token is now a cached verification");

    *cognito.answer.lock().unwrap() = Err(Rejection::Revoked);
    // Once Cognito's earlier "still valid" has run out, the cached
    // verification is asked about again, and refused.
    let later = NOW + STILL_VALID_TTL as u64;
    assert!(matches!(
        decide(&a, &t, later),
        Err(Failure::Unauthorized(Rejection::Revoked))
    ));
    assert_eq!(cognito.calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        cached(&a),
        1,
        "the refusal came with the verification cached"
    );
}

#[test]
fn a_cached_token_of_a_retired_key_is_refused_after_the_jwks_changes() {
    let old = SigningKey::rsa("old", SigAlg::RS256).unwrap();
    let new = SigningKey::rsa("new", SigAlg::RS256).unwrap();
    let source = StaticJwks::new(&jwks(&[&old]));
    let a = AuthorizerBuilder::new(&config(&[]))
        .jwks_source(Arc::new(source.clone()))
        .jwks_cooldown(Duration::ZERO)
        .build();
    let t = first_party(&old);
    assert!(decide(&a, &t, NOW).is_ok());
    assert_eq!(cached(&a), 1);

    // The pool rotates: a token of the new key makes the authorizer fetch.
    source.set(&jwks(&[&new]));
    assert!(decide(&a, &first_party(&new), NOW).is_ok());
    assert!(matches!(
        decide(&a, &t, NOW),
        Err(Failure::Unauthorized(Rejection::UnknownKid { .. }))
    ));
}

#[test]
fn a_cached_token_is_refused_once_it_expires() {
    let key = SigningKey::rsa("k1", SigAlg::RS256).unwrap();
    let a = with_key(&key, None);
    let mut claims = access_claims(ISSUER, "client1", "u", "items/read", &[], NOW);
    claims["exp"] = json!(NOW + 60);
    let t = key.sign(&claims).unwrap();
    assert!(decide(&a, &t, NOW).is_ok());
    assert!(decide(&a, &t, NOW + 59).is_ok());
    assert!(matches!(
        decide(&a, &t, NOW + 60),
        Err(Failure::Unauthorized(Rejection::Expired { .. }))
    ));
}

#[test]
fn only_verified_tokens_are_cached() {
    let key = SigningKey::rsa("k1", SigAlg::RS256).unwrap();
    let a = with_key(&key, None);
    let t = first_party(&key);
    let (signing_input, _) = t.rsplit_once('.').unwrap();
    let forged = format!("{signing_input}.AAAA");
    assert!(decide(&a, &forged, NOW).is_err());
    let wrong_client = key
        .sign(&access_claims(ISSUER, "other", "u", "items/read", &[], NOW))
        .unwrap();
    assert!(decide(&a, &wrong_client, NOW).is_err());
    assert_eq!(cached(&a), 0);
}
