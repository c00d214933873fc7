//! The built authorizer binary as Lambda runs it: under the Runtime API
//! emulator (`e2e::runtime_api`), its JWKS served on the emulator's own
//! address, its answers read as API Gateway reads them and every line it
//! writes read as CloudWatch Logs keeps it.

// Test code: a panic is how a failure is reported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{SystemTime, UNIX_EPOCH};

use authorizer::jwt::token::SigAlg;
use authorizer::testkit::{SigningKey, access_claims, jwks};
use e2e::runtime_api::{Function, Launch, Outcome};
use serde_json::{Value, json};

const POOL: &str = "us-east-1_RuntimeApi1";
const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_RuntimeApi1";
const CLIENT: &str = "client1";
const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/items";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The authorizer with a user pool whose JWKS holds `key`, started and
/// past its cold start.
fn authorizer(key: &SigningKey, extra: &[(&str, &str)]) -> Function {
    let launch = Launch::new(env!("CARGO_BIN_EXE_authorizer")).unwrap();
    let jwks_uri = launch.url("/jwks.json");
    let mut launch = launch
        .document("/jwks.json", jwks(&[key]).to_string().into_bytes())
        .env("COGNITO_USER_POOL_ID", POOL)
        .env("COGNITO_CLIENT_IDS", CLIENT)
        .env("JWKS_URI", jwks_uri);
    for (name, value) in extra {
        launch = launch.env(*name, *value);
    }
    let mut function = launch.start().unwrap();
    assert_eq!(function.wait_ready(), None, "{:?}", function.lines());
    function
}

fn token_event(credential: &str) -> Value {
    json!({"type": "TOKEN", "authorizationToken": credential, "methodArn": ARN})
}

#[test]
fn the_binary_answers_a_valid_token_with_a_policy_and_a_refusal_with_unauthorized() {
    let key = SigningKey::rsa("k1", SigAlg::RS256).unwrap();
    let mut function = authorizer(&key, &[]);
    let claims = access_claims(
        ISSUER,
        CLIENT,
        "alice",
        "aws.cognito.signin.user.admin",
        &[],
        now(),
    );
    let token = key.sign(&claims).unwrap();

    let Outcome::Response(answer) = function.invoke(&token_event(&format!("Bearer {token}")))
    else {
        panic!("no policy: {:?}", function.lines());
    };
    assert_eq!(answer["principalId"], "user:alice");
    assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Allow");

    let Outcome::Error(refusal) = function.invoke(&token_event("Bearer a.b.c")) else {
        panic!("not refused");
    };
    // API Gateway answers 401 for exactly this message, anything else 500.
    assert_eq!(refusal.error_message, "Unauthorized");

    let lines = function.finish();
    let decisions = lines
        .iter()
        .filter_map(|l| l.json())
        .filter(|l| l["target"] == "decision")
        .count();
    assert_eq!(decisions, 2, "{lines:?}");
}

#[test]
fn a_bad_configuration_ends_the_cold_start_before_the_first_event() {
    let mut function = Launch::new(env!("CARGO_BIN_EXE_authorizer"))
        .unwrap()
        .env("COGNITO_USER_POOL_ID", POOL)
        .start()
        .unwrap();
    assert!(matches!(function.wait_ready(), Some(Outcome::Exited(s)) if !s.success()));
    let lines = function.finish();
    assert!(
        lines.iter().any(|l| l.text.contains("COGNITO_CLIENT_IDS")),
        "the variable is named: {lines:?}"
    );
}
