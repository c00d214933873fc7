//! The built authorizer binary as Lambda runs it: under the Runtime API
//! emulator (`e2e::runtime_api`), its JWKS served on the emulator's own
//! address, its answers read as API Gateway reads them and every line it
//! writes read as CloudWatch Logs keeps it.

// Test code: a panic is how a failure is reported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{SystemTime, UNIX_EPOCH};

use authorizer::jwt::token::SigAlg;
use authorizer::testkit::{SigningKey, access_claims, jwks};
use e2e::runtime_api::{Function, Launch, Outcome, by_invocation};
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

/// A first-party access token's claims for alice, valid from now.
fn alice_claims() -> Value {
    access_claims(
        ISSUER,
        CLIENT,
        "alice",
        "aws.cognito.signin.user.admin",
        &[],
        now(),
    )
}

fn token_event(credential: &str) -> Value {
    json!({"type": "TOKEN", "authorizationToken": credential, "methodArn": ARN})
}

#[test]
fn the_binary_answers_a_valid_token_with_a_policy_and_a_refusal_with_unauthorized() {
    let key = SigningKey::rsa("k1", SigAlg::RS256).unwrap();
    let mut function = authorizer(&key, &[]);
    let claims = alice_claims();
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
    // One JSON line at ERROR that names the variable.
    let [line] = &lines[..] else {
        panic!("{lines:?}");
    };
    let line = line.json().unwrap();
    assert_eq!(line["level"], "ERROR", "{line}");
    assert!(
        line["error"]
            .as_str()
            .unwrap()
            .contains("COGNITO_CLIENT_IDS"),
        "{line}"
    );
}

/// What an invocation is expected to log.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// A decision line (allow or refusal) and no ERROR line.
    Decision,
    /// A fault: its decision line, at ERROR, and nothing else at ERROR.
    Fault,
    /// Not an event the function reads: one ERROR line, no decision.
    NotAnEvent,
}

/// Checks every line the process wrote (`by_invocation`: JSON, the
/// invocation's id on each after the cold start), no ERROR at cold start,
/// and each invocation's lines as `expected` says.
fn check_lines(lines: &[e2e::runtime_api::Line], expected: &[(String, Expect)]) {
    let split = by_invocation(lines).unwrap_or_else(|e| panic!("{e}"));
    for v in &split.cold_start {
        assert_ne!(v["level"], "ERROR", "the cold start logged an error: {v}");
    }
    for id in split.invocations.keys() {
        assert!(
            expected.iter().any(|(e, _)| e == id),
            "an id never handed over: {id}"
        );
    }
    for (id, expect) in expected {
        let of_it = split.of(id);
        let decisions: Vec<&Value> = of_it.iter().filter(|v| v["target"] == "decision").collect();
        let errors: Vec<&Value> = of_it.iter().filter(|v| v["level"] == "ERROR").collect();
        match expect {
            Expect::Decision => {
                assert_eq!(decisions.len(), 1, "{id}: {of_it:?}");
                assert!(errors.is_empty(), "{id}: a refusal is no fault: {errors:?}");
            }
            Expect::Fault => {
                assert_eq!(decisions.len(), 1, "{id}: {of_it:?}");
                assert_eq!(errors.len(), 1, "{id}: {of_it:?}");
                assert_eq!(errors[0]["target"], "decision", "{id}: {of_it:?}");
            }
            Expect::NotAnEvent => {
                assert!(decisions.is_empty(), "{id}: {of_it:?}");
                assert_eq!(errors.len(), 1, "{id}: {of_it:?}");
            }
        }
    }
}

#[test]
fn every_line_is_json_with_the_invocations_ids_and_only_faults_are_errors() {
    let key = SigningKey::rsa("k1", SigAlg::RS256).unwrap();
    let other = SigningKey::rsa("k1", SigAlg::RS256).unwrap();
    let unknown = SigningKey::rsa("k-unknown", SigAlg::RS256).unwrap();
    let mut function = authorizer(&key, &[]);
    let t = now();
    let claims = alice_claims();
    let mut expired = claims.clone();
    expired["exp"] = json!(t - 60);
    let mut wrong_client = claims.clone();
    wrong_client["client_id"] = json!("someone-else");
    let bearer = |token: String| format!("Bearer {token}");
    let mut request =
        serde_json::from_str::<Value>(include_str!("../fixtures/request-event.json")).unwrap();
    request["headers"]["authorization"] = json!(bearer(key.sign(&claims).unwrap()));
    request["multiValueHeaders"] = json!({});

    let events = [
        (
            token_event(&bearer(key.sign(&claims).unwrap())),
            Expect::Decision,
        ),
        (request, Expect::Decision),
        (token_event(""), Expect::Decision),
        (token_event("Basic dXNlcjpwYXNz"), Expect::Decision),
        (token_event("Bearer a.b.c"), Expect::Decision),
        (
            token_event(&bearer(unknown.sign(&claims).unwrap())),
            Expect::Decision,
        ),
        (
            token_event(&bearer(other.sign(&claims).unwrap())),
            Expect::Decision,
        ),
        (
            token_event(&bearer(
                key.sign_with_header(&json!({"alg": "ES256", "kid": "k1"}), &claims)
                    .unwrap(),
            )),
            Expect::Decision,
        ),
        (
            token_event(&bearer(key.sign(&expired).unwrap())),
            Expect::Decision,
        ),
        (
            token_event(&bearer(key.sign(&wrong_client).unwrap())),
            Expect::Decision,
        ),
        (
            token_event("ApiKey pk_abcdefghijkl_0123456789012345678901234567890123456789"),
            Expect::Decision,
        ),
        (
            json!({"type": "TOKEN", "authorizationToken": "Bearer a.b.c", "methodArn": "not-an-arn"}),
            Expect::Fault,
        ),
        (json!(["not", "an", "event"]), Expect::NotAnEvent),
    ];
    let mut expected = Vec::new();
    for (n, (event, expect)) in events.iter().enumerate() {
        let outcome = function.invoke(event);
        match (n, expect) {
            (0 | 1, _) => assert!(matches!(outcome, Outcome::Response(_)), "{n}: {outcome:?}"),
            (_, Expect::Decision) => assert!(
                matches!(&outcome, Outcome::Error(e) if e.error_message == "Unauthorized"),
                "{n}: {outcome:?}"
            ),
            _ => assert!(
                matches!(&outcome, Outcome::Error(e) if e.error_message != "Unauthorized"),
                "{n}: {outcome:?}"
            ),
        }
        expected.push((format!("req-{}", n + 1), *expect));
    }
    let lines = function.finish();
    check_lines(&lines, &expected);
    // The REQUEST event's lines also carry API Gateway's request id.
    let split = by_invocation(&lines).unwrap();
    assert!(!split.of("req-2").is_empty());
    for v in split.of("req-2") {
        assert_eq!(
            v["apiRequestId"], "5f0c9b1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b",
            "{v}"
        );
    }
}

/// The longest line either function may write, its newline included.
const MAX_LINE: usize = telemetry::emf::MAX_LINE;

/// Every line within [`MAX_LINE`] and JSON; the lines, parsed.
fn bounded_lines(lines: &[e2e::runtime_api::Line]) -> Vec<Value> {
    for l in lines {
        assert!(
            l.text.len() < MAX_LINE,
            "a line of {} bytes: {}…",
            l.text.len(),
            &l.text[..200]
        );
    }
    let split = by_invocation(lines).unwrap_or_else(|e| panic!("{e}"));
    split.invocations.into_values().flatten().collect()
}

#[test]
fn no_line_exceeds_2_kib_whatever_the_token_or_event_holds() {
    let key = SigningKey::rsa("k1", SigAlg::RS256).unwrap();
    let mut function = authorizer(&key, &[]);
    let long = "x\"\\é".repeat(1000);
    let claims = alice_claims();
    let with = |name: &str| {
        let mut c = claims.clone();
        c[name] = json!(long);
        key.sign(&c).unwrap()
    };
    let header = |name: &str| {
        let mut h = json!({"alg": "RS256", "kid": "k1", "typ": "JWT"});
        h[name] = json!(long);
        key.sign_with_header(&h, &claims).unwrap()
    };
    let huge_header = key
        .sign_with_header(
            &json!({"alg": "RS256", "kid": "k1", "pad": "p".repeat(60_000)}),
            &claims,
        )
        .unwrap();
    let mut request =
        serde_json::from_str::<Value>(include_str!("../fixtures/request-event.json")).unwrap();
    request["headers"] = json!({"X-Api-Key": format!("pk_{long}")});
    request["multiValueHeaders"] = json!({});
    request["requestContext"]["requestId"] = json!(long);

    let credentials = [
        header("kid"),
        header("alg"),
        header("typ"),
        header("crit"),
        with("iss"),
        with("client_id"),
        with("sub"),
        with("token_use"),
        with("username"),
        with("scope"),
        huge_header,
        format!("pk_{long}"),
    ];
    for credential in &credentials {
        let scheme = if credential.starts_with("pk_") {
            "ApiKey"
        } else {
            "Bearer"
        };
        function.invoke(&token_event(&format!("{scheme} {credential}")));
    }
    function.invoke(&request);
    let lines = function.finish();
    let parsed = bounded_lines(&lines);
    let decisions: Vec<&Value> = parsed
        .iter()
        .filter(|v| v["target"] == "decision")
        .collect();
    assert_eq!(decisions.len(), credentials.len() + 1);
    // What was cut says so, with the whole length.
    let kid_line = decisions[0];
    assert_eq!(kid_line["reason"], "unknown_kid", "{kid_line}");
    let detail = kid_line["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("no key with kid \"x\\\"\\\\é"),
        "{detail}"
    );
    assert!(detail.ends_with(" bytes)"), "{detail}");
}

/// A string an attacker might put in a token: any length up to 3000
/// characters of anything, quotes, backslashes and controls included.
fn hostile_text() -> impl proptest::strategy::Strategy<Value = String> {
    proptest::string::string_regex("(\\PC|[\"\\\\\n\u{1}\u{7f}\u{85}]){0,3000}").unwrap()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    #[test]
    fn no_line_exceeds_2_kib_for_any_header_or_claim(
        header_field in proptest::sample::select(vec!["kid", "alg", "typ", "crit", "jku", "x5u"]),
        claim_field in proptest::sample::select(vec!["iss", "client_id", "sub", "token_use", "username", "scope", "cognito:groups"]),
        header_value in hostile_text(),
        claim_value in hostile_text(),
    ) {
        use std::sync::{Mutex, OnceLock};
        static FUNCTION: OnceLock<(Mutex<Function>, SigningKey)> = OnceLock::new();
        let (function, key) = FUNCTION.get_or_init(|| {
            let key = SigningKey::rsa("k1", SigAlg::RS256).unwrap();
            (Mutex::new(authorizer(&key, &[])), key)
        });
        let mut function = function.lock().unwrap();
        let mut header = json!({"alg": "RS256", "kid": "k1", "typ": "JWT"});
        header[header_field] = json!(header_value);
        let mut claims = alice_claims();
        claims[claim_field] = json!(claim_value);
        let token = key.sign_with_header(&header, &claims).unwrap();
        let before = function.lines().len();
        function.invoke(&token_event(&format!("Bearer {token}")));
        // This invocation's decision line, and all before it.
        let lines = function.wait_for_lines(|l| {
            l[before..].iter().any(|l| l.text.contains(r#""target":"decision""#))
        });
        for l in &lines[before..] {
            proptest::prop_assert!(l.text.len() < MAX_LINE, "{} bytes", l.text.len());
            proptest::prop_assert!(l.json().is_some(), "{}", l.text);
        }
    }
}
