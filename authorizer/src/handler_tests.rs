//! The authorizer end to end in process: events in, responses or the exact
//! rejection out, with tokens signed by keys generated in the test.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use policies::{Effect, INVOKE_ACTION, evaluate};
use serde_json::{Value, json};

use crate::BoxFuture;
use crate::jwt::jwk::{JwkMismatch, KeyKind};
use crate::jwt::revocation::RevocationCheck;
use crate::jwt::token::SigAlg;
use crate::testkit::{LogSink, SigningKey, StaticJwks, access_claims, jwks};
use crate::{
    Authorizer, AuthorizerBuilder, AuthorizerEvent, Config, Failure, HandlerError, Rejection,
};

const POOL: &str = "us-east-1_TestPool1";
const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool1";
const CLIENT: &str = "client1";
const NOW: u64 = 1_800_000_000;
const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/items";
const BASE: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/";

fn rsa_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::rsa("rsa-1", SigAlg::RS256).unwrap())
}

fn other_rsa_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::rsa("rsa-1", SigAlg::RS256).unwrap())
}

fn ec_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::ec("ec-1", SigAlg::ES256).unwrap())
}

fn config(extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![
        ("COGNITO_USER_POOL_ID", POOL),
        ("COGNITO_CLIENT_IDS", CLIENT),
    ];
    vars.extend_from_slice(extra);
    Config::from_pairs(&vars).unwrap()
}

fn authorizer_with(config: &Config, source: StaticJwks) -> Authorizer {
    AuthorizerBuilder::new(config)
        .jwks_source(Arc::new(source))
        .build()
}

fn authorizer() -> Authorizer {
    authorizer_with(&config(&[]), StaticJwks::new(&jwks(&[rsa_key(), ec_key()])))
}

fn claims() -> Value {
    access_claims(
        ISSUER,
        CLIENT,
        "user-1",
        "aws.cognito.signin.user.admin",
        &[],
        NOW,
    )
}

fn token(claims: &Value) -> String {
    rsa_key().sign(claims).unwrap()
}

pub(crate) fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

pub(crate) fn decide(
    authorizer: &Authorizer,
    token: &str,
) -> Result<crate::AuthorizerResponse, Failure> {
    run(authorizer.authorize(
        &AuthorizerEvent::token(format!("Bearer {token}"), ARN),
        NOW as f64,
    ))
}

pub(crate) fn rejection(authorizer: &Authorizer, token: &str) -> Rejection {
    match decide(authorizer, token) {
        Err(Failure::Unauthorized(why)) => why,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn fixture(text: &str, token: &str) -> AuthorizerEvent {
    serde_json::from_str(&text.replace("{{TOKEN}}", token)).unwrap()
}

#[test]
fn the_token_event_fixture_with_a_first_party_token_allows_every_route() {
    let event = fixture(
        include_str!("../fixtures/token-event.json"),
        &token(&claims()),
    );
    let response = run(authorizer().authorize(&event, NOW as f64)).unwrap();
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["principalId"], "user:user-1");
    assert_eq!(
        json["policyDocument"],
        json!({"Version": "2012-10-17", "Statement": [{
            "Action": "execute-api:Invoke", "Effect": "Allow",
            "Resource": [
                format!("{BASE}GET/items"), format!("{BASE}GET/items/*"), format!("{BASE}POST/items"),
                format!("{BASE}PUT/items/*"), format!("{BASE}PATCH/items/*"), format!("{BASE}DELETE/items/*"),
            ]
        }]})
    );
    assert_eq!(
        json["context"],
        json!({"owner": "user:user-1", "authType": "jwt", "permissions": "items:read items:write items:delete",
               "expiresAt": NOW + 3600, "issuer": "cognito", "sub": "user-1", "username": "user-1", "clientId": CLIENT,
               "scopes": "aws.cognito.signin.user.admin"})
    );
    assert!(!json.to_string().contains("null"));
}

#[test]
fn the_request_event_fixture_reads_the_lowercase_authorization_header() {
    let event = fixture(
        include_str!("../fixtures/request-event.json"),
        &token(&claims()),
    );
    let response = run(authorizer().authorize(&event, NOW as f64)).unwrap();
    let delete = format!("{BASE}DELETE/items/01JD4X0Z7Q8W3N6M5K2P1R9T0V");
    assert!(evaluate(&response.policy_document, INVOKE_ACTION, &delete).is_allowed());
    // The same token under another spelling of the scheme is another cache
    // key for API Gateway: refused before any work.
    let lowercase = include_str!("../fixtures/request-event.json")
        .replace("Bearer {{TOKEN}}", "bearer {{TOKEN}}");
    let event = fixture(&lowercase, &token(&claims()));
    assert!(matches!(
        run(authorizer().authorize(&event, NOW as f64)),
        Err(Failure::Unauthorized(Rejection::MalformedCredential))
    ));
}

#[test]
fn the_fixtures_are_events_aws_lambda_events_also_reads() {
    use aws_lambda_events::apigw::{
        ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerRequestTypeRequest,
    };
    let token: ApiGatewayCustomAuthorizerRequest =
        serde_json::from_str(include_str!("../fixtures/token-event.json")).unwrap();
    assert_eq!(token.method_arn.as_deref(), Some(ARN));
    let request: ApiGatewayCustomAuthorizerRequestTypeRequest =
        serde_json::from_str(include_str!("../fixtures/request-event.json")).unwrap();
    assert_eq!(request.http_method, Some(http::Method::DELETE));
}

#[test]
fn a_readonly_user_gets_a_policy_for_reads_only_whatever_the_route() {
    let claims = access_claims(
        ISSUER,
        CLIENT,
        "user-2",
        "aws.cognito.signin.user.admin",
        &["readonly"],
        NOW,
    );
    let response = decide(&authorizer(), &token(&claims)).unwrap();
    assert_eq!(response.context.permissions.to_string(), "items:read");
    let doc = &response.policy_document;
    assert!(evaluate(doc, INVOKE_ACTION, &format!("{BASE}GET/items/7")).is_allowed());
    assert!(!evaluate(doc, INVOKE_ACTION, &format!("{BASE}POST/items")).is_allowed());
    assert!(!evaluate(doc, INVOKE_ACTION, &format!("{BASE}DELETE/items/7")).is_allowed());
}

#[test]
fn a_token_without_any_permission_gets_a_deny_all_not_an_error() {
    let claims = access_claims(ISSUER, CLIENT, "user-3", "openid profile", &[], NOW);
    let response = decide(&authorizer(), &token(&claims)).unwrap();
    assert_eq!(response.policy_document.statement.len(), 1);
    assert_eq!(response.policy_document.statement[0].effect, Effect::Deny);
    assert_eq!(
        response.policy_document.statement[0].resource,
        [format!("{BASE}*/*")]
    );
}

#[test]
fn ec_and_other_rsa_algorithms_verify() {
    let es256 = ec_key().sign(&claims()).unwrap();
    assert!(decide(&authorizer(), &es256).is_ok());
    for alg in [SigAlg::RS384, SigAlg::RS512] {
        let key = SigningKey::rsa("rsa-x", alg).unwrap();
        let es384 = SigningKey::ec("ec-384", SigAlg::ES384).unwrap();
        let a = authorizer_with(&config(&[]), StaticJwks::new(&jwks(&[&key, &es384])));
        assert!(decide(&a, &key.sign(&claims()).unwrap()).is_ok(), "{alg:?}");
        assert!(decide(&a, &es384.sign(&claims()).unwrap()).is_ok());
    }
}

#[test]
fn the_high_s_twin_of_a_pool_es256_token_is_refused() {
    // (r, n - s) verifies under plain ECDSA as well as (r, s): another
    // string for the same token, so another gateway cache entry and another
    // authorizer run. Only the low-S form is accepted.
    for alg in [SigAlg::ES256, SigAlg::ES384] {
        let key = SigningKey::ec("ec-x", alg).unwrap();
        let a = authorizer_with(&config(&[]), StaticJwks::new(&jwks(&[&key])));
        let good = key.sign(&claims()).unwrap();
        assert!(decide(&a, &good).is_ok(), "{alg:?}");
        let twin = crate::testkit::high_s_twin(&good).unwrap();
        assert_ne!(twin, good);
        assert_eq!(rejection(&a, &twin), Rejection::HighSSignature, "{alg:?}");
    }
}

#[test]
fn algorithms_beyond_the_pools_are_refused_for_pool_tokens() {
    // PS256 and EdDSA are known (trusted issuers may use them) but Cognito
    // signs with RS256: the pool keeps the five algorithms it always took.
    for alg in [SigAlg::PS256, SigAlg::EdDSA] {
        let key = SigningKey::generate("x-1", alg).unwrap();
        let a = authorizer_with(&config(&[]), StaticJwks::new(&jwks(&[&key])));
        assert_eq!(
            rejection(&a, &key.sign(&claims()).unwrap()),
            Rejection::DisallowedAlgorithm {
                alg: alg.name(),
                issuer: "cognito".into()
            }
        );
    }
}

#[test]
fn an_unknown_kid_is_refused_after_one_refresh() {
    let source = StaticJwks::new(&jwks(&[rsa_key()]));
    let a = authorizer_with(&config(&[]), source.clone());
    let stranger = SigningKey::ec("stranger", SigAlg::ES256).unwrap();
    assert_eq!(
        rejection(&a, &stranger.sign(&claims()).unwrap()),
        Rejection::UnknownKid {
            kid: "stranger".into()
        }
    );
    assert_eq!(source.fetches(), 1);
}

#[test]
fn a_header_alg_that_disagrees_with_the_key_is_refused_before_the_signature() {
    // The RSA key is published as RS256; a token claiming RS512 with its kid
    // must not get to choose the hash.
    let header = json!({"alg": "RS512", "kid": "rsa-1"});
    let forged = rsa_key().sign_with_header(&header, &claims()).unwrap();
    assert_eq!(
        rejection(&authorizer(), &forged),
        Rejection::KeyMismatch {
            kid: "rsa-1".into(),
            mismatch: JwkMismatch::Algorithm {
                key: "RS256",
                token: "RS512"
            }
        }
    );
    // An ES256 token naming an RSA key.
    let header = json!({"alg": "ES256", "kid": "rsa-1"});
    let forged = ec_key().sign_with_header(&header, &claims()).unwrap();
    let source = StaticJwks::new(
        &json!({"keys": [{"kty": "RSA", "kid": "rsa-1", "use": "sig",
        "n": rsa_key().jwk()["n"], "e": rsa_key().jwk()["e"]}]}),
    );
    assert_eq!(
        rejection(&authorizer_with(&config(&[]), source), &forged),
        Rejection::KeyMismatch {
            kid: "rsa-1".into(),
            mismatch: JwkMismatch::KeyType {
                kind: KeyKind::Rsa,
                token: "ES256"
            }
        }
    );
}

#[test]
fn the_classic_alg_confusion_attacks_are_refused() {
    let body = claims();
    for alg in ["none", "HS256"] {
        let header = json!({"alg": alg, "kid": "rsa-1"});
        let forged = rsa_key().sign_with_header(&header, &body).unwrap();
        assert_eq!(
            rejection(&authorizer(), &forged),
            Rejection::UnsupportedAlgorithm { alg: alg.into() }
        );
    }
    // An empty signature is not a JWT's spelling: refused before any work.
    let unsigned = format!("{}.", token(&body).rsplit_once('.').unwrap().0);
    assert_eq!(
        rejection(&authorizer(), &unsigned),
        Rejection::MalformedCredential
    );
}

#[test]
fn a_bad_signature_is_refused() {
    // Same kid, another private key.
    assert_eq!(
        rejection(&authorizer(), &other_rsa_key().sign(&claims()).unwrap()),
        Rejection::InvalidSignature
    );
    // A payload swapped under a valid signature.
    let good = token(&claims());
    let evil = token(&access_claims(
        ISSUER,
        CLIENT,
        "admin",
        "aws.cognito.signin.user.admin",
        &[],
        NOW,
    ));
    let (head, rest) = good.split_once('.').unwrap();
    let sig = rest.split_once('.').unwrap().1;
    let evil_payload = evil.split('.').nth(1).unwrap();
    assert_eq!(
        rejection(&authorizer(), &format!("{head}.{evil_payload}.{sig}")),
        Rejection::InvalidSignature
    );
    // A signature that is not even base64url: not a JWT's spelling.
    assert_eq!(
        rejection(&authorizer(), &format!("{head}.{evil_payload}.!!!")),
        Rejection::MalformedCredential
    );
}

#[test]
fn each_claim_failure_is_reported_with_its_reason() {
    let a = authorizer();
    let with = |k: &str, v: Value| {
        let mut c = claims();
        c[k] = v;
        token(&c)
    };
    let now = NOW as f64;
    assert_eq!(
        rejection(&a, &with("exp", json!(NOW - 1))),
        Rejection::Expired {
            exp: now - 1.0,
            now
        }
    );
    assert_eq!(
        rejection(&a, &with("nbf", json!(NOW + 60))),
        Rejection::NotYetValid {
            nbf: now + 60.0,
            now
        }
    );
    assert_eq!(
        rejection(&a, &with("iat", json!(NOW + 60))),
        Rejection::IssuedInFuture {
            iat: now + 60.0,
            now
        }
    );
    assert_eq!(
        rejection(&a, &with("iss", json!("https://x"))),
        Rejection::WrongIssuer {
            iss: "https://x".into()
        }
    );
    assert_eq!(
        rejection(&a, &with("token_use", json!("id"))),
        Rejection::WrongTokenUse {
            got: "id".into(),
            expected: "access"
        }
    );
    assert_eq!(
        rejection(&a, &with("client_id", json!("c2"))),
        Rejection::WrongClient {
            client: "c2".into()
        }
    );
    assert_eq!(
        rejection(&a, &with("sub", json!(""))),
        Rejection::MissingClaim("sub")
    );
    assert_eq!(
        rejection(&a, &with("exp", json!("soon"))),
        Rejection::ClaimType {
            claim: "exp",
            expected: "a number"
        }
    );
}

#[test]
fn leeway_from_the_configuration_is_applied() {
    let a = authorizer_with(
        &config(&[("JWT_LEEWAY_SECONDS", "120")]),
        StaticJwks::new(&jwks(&[rsa_key()])),
    );
    let mut c = claims();
    c["exp"] = json!(NOW - 60);
    assert!(decide(&a, &token(&c)).is_ok());
}

#[test]
fn credentials_for_a_disabled_path_are_refused() {
    let keys_only = Config::from_pairs(&[("API_KEYS_SECRET_ID", "s")]).unwrap();
    let a = AuthorizerBuilder::new(&keys_only).build();
    assert_eq!(rejection(&a, &token(&claims())), Rejection::JwtDisabled);
    let key = crate::apikey::format::GeneratedKey::generate().unwrap();
    let event = AuthorizerEvent::token(format!("ApiKey {}", key.expose()), ARN);
    assert!(matches!(
        run(authorizer().authorize(&event, NOW as f64)),
        Err(Failure::Unauthorized(Rejection::ApiKeysDisabled))
    ));
}

#[test]
fn every_authentication_failure_leaves_the_function_with_exactly_unauthorized() {
    let a = authorizer();
    for value in [
        "",
        "Basic abc",
        "Bearer x.y.z",
        &format!("Bearer {}", token(&json!({"sub": "x"}))),
    ] {
        let err = run(a.handle(AuthorizerEvent::token(value, ARN))).unwrap_err();
        assert_eq!(err, HandlerError::Unauthorized);
        let diagnostic = lambda_runtime::Diagnostic::from(err);
        assert_eq!(diagnostic.error_message, "Unauthorized");
    }
}

#[test]
fn a_method_arn_api_gateway_would_never_send_is_an_internal_error() {
    let err = run(authorizer().handle(AuthorizerEvent::token(
        format!("Bearer {}", token(&claims())),
        "arn:aws:s3:::bucket",
    )))
    .unwrap_err();
    assert_eq!(err, HandlerError::Internal);
    assert_ne!(
        lambda_runtime::Diagnostic::from(err).error_message,
        "Unauthorized"
    );
}

#[test]
fn a_new_kid_is_picked_up_after_rotation() {
    let source = StaticJwks::new(&jwks(&[rsa_key()]));
    let a = AuthorizerBuilder::new(&config(&[]))
        .jwks_source(Arc::new(source.clone()))
        .jwks_cooldown(Duration::ZERO)
        .build();
    run(a.warm_up());
    assert!(decide(&a, &token(&claims())).is_ok());
    let rotated = SigningKey::rsa("rsa-2", SigAlg::RS256).unwrap();
    source.set(&jwks(&[&rotated]));
    assert!(decide(&a, &rotated.sign(&claims()).unwrap()).is_ok());
    // The retired key no longer verifies once the new set is installed.
    assert_eq!(
        rejection(&a, &token(&claims())),
        Rejection::UnknownKid {
            kid: "rsa-1".into()
        }
    );
    assert_eq!(source.fetches(), 3);
}

#[test]
fn fifty_random_kids_cause_one_fetch_within_the_cooldown() {
    let source = StaticJwks::new(&jwks(&[rsa_key()]));
    let a = authorizer_with(&config(&[]), source.clone());
    for i in 0..50 {
        let header = json!({"alg": "RS256", "kid": format!("random-{i}")});
        let forged = rsa_key().sign_with_header(&header, &claims()).unwrap();
        assert_eq!(
            rejection(&a, &forged),
            Rejection::UnknownKid {
                kid: format!("random-{i}")
            }
        );
    }
    assert_eq!(source.fetches(), 1);
    // Known keys keep working throughout.
    assert!(decide(&a, &token(&claims())).is_ok());
}

#[test]
fn a_jwks_failure_at_cold_start_does_not_lock_tokens_out_for_the_cooldown() {
    let source = StaticJwks::new(&json!({"keys": []}));
    let a = AuthorizerBuilder::new(&config(&[]))
        .jwks_source(Arc::new(source.clone()))
        .build();
    run(a.warm_up());
    assert_eq!(source.fetches(), 1);
    // The pool's JWKS is reachable again a moment later.
    source.set(&jwks(&[rsa_key()]));
    assert!(decide(&a, &token(&claims())).is_ok());
    assert_eq!(source.fetches(), 2);
    // A successful fetch does start the cool-down.
    let header = json!({"alg": "RS256", "kid": "unknown"});
    let forged = rsa_key().sign_with_header(&header, &claims()).unwrap();
    assert!(matches!(
        rejection(&a, &forged),
        Rejection::UnknownKid { .. }
    ));
    assert_eq!(source.fetches(), 2);
}

struct FakeRevocation {
    answer: Result<(), Rejection>,
    calls: AtomicUsize,
}

impl RevocationCheck for FakeRevocation {
    fn check<'a>(&'a self, _token: &'a str) -> BoxFuture<'a, Result<(), Rejection>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = self.answer.clone();
        Box::pin(async move { answer })
    }
}

fn with_revocation(answer: Result<(), Rejection>) -> (Authorizer, Arc<FakeRevocation>) {
    let check = Arc::new(FakeRevocation {
        answer,
        calls: AtomicUsize::new(0),
    });
    let a = AuthorizerBuilder::new(&config(&[("CHECK_REVOCATION", "true")]))
        .jwks_source(Arc::new(StaticJwks::new(&jwks(&[rsa_key()]))))
        .revocation(check.clone())
        .build();
    (a, check)
}

#[test]
fn a_revoked_token_is_refused_and_an_unreachable_cognito_fails_closed() {
    let (a, _) = with_revocation(Err(Rejection::Revoked));
    assert_eq!(rejection(&a, &token(&claims())), Rejection::Revoked);
    let (a, _) = with_revocation(Err(Rejection::RevocationUnavailable));
    assert_eq!(
        rejection(&a, &token(&claims())),
        Rejection::RevocationUnavailable
    );
    let (a, calls) = with_revocation(Ok(()));
    assert!(decide(&a, &token(&claims())).is_ok());
    assert_eq!(calls.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn a_hundred_spellings_of_one_token_cost_one_cognito_call() {
    let (a, calls) = with_revocation(Ok(()));
    let t = token(&claims());
    let mut spellings = vec![format!("Bearer {t}"), t.clone()];
    for i in 0..98 {
        let pad = " ".repeat(1 + i % 7);
        spellings.push(match i % 4 {
            0 => format!("bearer{pad}{t}"),
            1 => format!("Bearer{pad} {t}"),
            2 => format!("{pad}Bearer {t}"),
            _ => format!("Bearer\t{t}{pad}"),
        });
    }
    let mut allowed = 0;
    for value in &spellings {
        let event = AuthorizerEvent::token(value.clone(), ARN);
        match run(a.authorize(&event, NOW as f64)) {
            Ok(_) => allowed += 1,
            Err(Failure::Unauthorized(Rejection::MalformedCredential)) => {}
            other => panic!("{value:?}: {other:?}"),
        }
    }
    assert_eq!(allowed, 2, "only Bearer <jwt> and <jwt>");
    assert_eq!(calls.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn a_revoked_answer_is_remembered_for_the_token() {
    let (a, calls) = with_revocation(Err(Rejection::Revoked));
    let t = token(&claims());
    for _ in 0..5 {
        assert_eq!(rejection(&a, &t), Rejection::Revoked);
    }
    assert_eq!(calls.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn a_sub_that_names_a_partner_gets_a_user_namespace() {
    let c = access_claims(
        ISSUER,
        CLIENT,
        "partner:acme",
        "aws.cognito.signin.user.admin",
        &[],
        NOW,
    );
    let r = decide(&authorizer(), &token(&c)).unwrap();
    assert_eq!(r.principal_id, "user:partner:acme");
    assert_eq!(r.context.owner().as_str(), "user:partner:acme");
    assert_eq!(r.context.owner().partner_id(), None);
}

#[test]
fn revocation_is_only_asked_for_first_party_access_tokens() {
    let (a, calls) = with_revocation(Err(Rejection::Revoked));
    let m2m = access_claims(ISSUER, CLIENT, "svc", "items/read", &[], NOW);
    assert!(decide(&a, &token(&m2m)).is_ok());
    assert_eq!(calls.calls.load(Ordering::SeqCst), 0);
}

#[test]
fn revocation_is_not_asked_when_the_signature_already_failed() {
    let (a, calls) = with_revocation(Ok(()));
    assert_eq!(
        rejection(&a, &other_rsa_key().sign(&claims()).unwrap()),
        Rejection::InvalidSignature
    );
    assert_eq!(calls.calls.load(Ordering::SeqCst), 0);
}

/// The decision lines of `run` (an in-memory sink), and what else it logged.
fn lines_of(
    build: impl FnOnce(AuthorizerBuilder<'_>) -> AuthorizerBuilder<'_>,
    config: &Config,
    run_it: impl FnOnce(&Authorizer),
) -> (Vec<Value>, String) {
    let logs = LogSink::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::INFO)
        .finish();
    let sink = telemetry::Sink::memory();
    tracing::subscriber::with_default(subscriber, || {
        let a = build(AuthorizerBuilder::new(config).sink(sink.clone())).build();
        run_it(&a);
    });
    let text = sink.contents();
    // Every line is JSON; a line with metrics is valid EMF.
    let lines = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            if v.get("_aws").is_some() {
                telemetry::emf::validate(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            }
            v
        })
        .collect();
    (lines, text + &logs.contents())
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn each_decision_writes_one_emf_line_without_the_token() {
    // handle() reads the real clock.
    let current = access_claims(
        ISSUER,
        CLIENT,
        "user-1",
        "aws.cognito.signin.user.admin",
        &[],
        unix_now(),
    );
    let good = token(&current);
    let bad = other_rsa_key().sign(&current).unwrap();
    let (decisions, text) = lines_of(
        |b| b.jwks_source(Arc::new(StaticJwks::new(&jwks(&[rsa_key()])))),
        &config(&[]),
        |a| {
            run(a.warm_up());
            let _ = run(a.handle(AuthorizerEvent::token(format!("Bearer {good}"), ARN)));
            let _ = run(a.handle(AuthorizerEvent::token(format!("Bearer {bad}"), ARN)));
        },
    );
    assert_eq!(decisions.len(), 2, "{text}");
    let d = &decisions[0];
    assert_eq!(d["outcome"], "allow");
    assert_eq!(d["reason"], "ok");
    assert_eq!(d["service"], "authorizer");
    assert_eq!(d["route"], "GET /items");
    assert_eq!(d["principal"], "user:user-1");
    assert_eq!(d["Decisions"], 1);
    assert_eq!(d["ColdStart"], 1);
    assert_eq!(
        d["JwksFetches"], 1,
        "the cold-start fetch is counted on the first line"
    );
    assert_eq!(decisions[1]["outcome"], "unauthorized");
    assert_eq!(decisions[1]["reason"], "invalid_signature");
    assert_eq!(decisions[1]["ColdStart"], 0);
    assert_eq!(decisions[1]["JwksFetches"], 0);
    for d in &decisions {
        assert_eq!(d["fp"].as_str().unwrap().len(), 12);
        assert!(d["DecisionLatency"].is_u64());
        assert_eq!(d["_aws"]["CloudWatchMetrics"][0]["Namespace"], "SecuredApi");
    }
    for secret in [&good, &bad] {
        for part in secret.split('.') {
            assert!(!text.contains(part), "a token part reached the log");
        }
    }
}

#[test]
fn every_authorizer_metric_is_written_with_its_dimensions() {
    // A JWKS that fails first, an unreadable registry, Cognito unreachable.
    let source = StaticJwks::new(&json!({"keys": []}));
    let cfg = config(&[
        ("API_KEYS_SECRET_ID", "missing"),
        ("CHECK_REVOCATION", "true"),
    ]);
    let key = crate::apikey::format::GeneratedKey::generate().unwrap();
    let current = access_claims(
        ISSUER,
        CLIENT,
        "u",
        "aws.cognito.signin.user.admin",
        &[],
        unix_now(),
    );
    let (lines, _) = lines_of(
        |b| {
            b.jwks_source(Arc::new(source.clone()))
                .secret_store(Arc::new(crate::apikey::store::MemorySecretStore::default()))
                .revocation(Arc::new(FakeRevocation {
                    answer: Err(Rejection::RevocationUnavailable),
                    calls: AtomicUsize::new(0),
                }))
        },
        &cfg,
        |a| {
            run(a.warm_up());
            source.set(&jwks(&[rsa_key()]));
            let _ = run(a.handle(AuthorizerEvent::token(
                format!("Bearer {}", token(&current)),
                ARN,
            )));
            let _ = run(a.handle(AuthorizerEvent::token(
                format!("ApiKey {}", key.expose()),
                ARN,
            )));
            let _ = run(a.handle(AuthorizerEvent::token(
                format!("Bearer {}", token(&current)),
                "not-an-arn",
            )));
        },
    );
    let mut seen = std::collections::BTreeSet::new();
    for l in &lines {
        for (name, value) in l.as_object().unwrap() {
            if value.as_u64().is_some_and(|v| v > 0) {
                seen.insert(name.clone());
            }
        }
    }
    for set in telemetry::emf::authorizer::SETS {
        for (name, _) in set.metrics {
            if *name != telemetry::emf::authorizer::DECISION_LATENCY {
                assert!(seen.contains(*name), "{name} was never counted: {lines:?}");
            }
        }
    }
    assert_eq!(lines[0]["reason"], "revocation_unavailable");
    assert_eq!(lines[1]["reason"], "registry_unavailable");
    assert_eq!(lines[1]["RegistryUnreadable"], 1);
    assert_eq!(lines[2]["outcome"], "error");
    assert_eq!(lines[2]["route"], "unmatched");
}

#[test]
fn a_request_events_lines_carry_the_invocations_ids() {
    let mut event = fixture(
        include_str!("../fixtures/request-event.json"),
        &token(&access_claims(
            ISSUER,
            CLIENT,
            "u",
            "aws.cognito.signin.user.admin",
            &[],
            unix_now(),
        )),
    );
    event.method_arn = ARN.into();
    let gateway_id = event.api_request_id().unwrap().to_owned();
    let (lines, _) = lines_of(
        |b| b.jwks_source(Arc::new(StaticJwks::new(&jwks(&[rsa_key()])))),
        &config(&[]),
        |a| {
            let invocation = telemetry::Invocation {
                request_id: "lambda-req-1".into(),
                api_request_id: event.api_request_id().map(str::to_owned),
                trace_id: Some("Root=1-5759e988-bd862e3fe1be46a994272793".into()),
            };
            let _ = run(invocation.scope(a.handle(event.clone())));
        },
    );
    assert_eq!(lines[0]["outcome"], "allow");
    assert_eq!(lines[0]["requestId"], "lambda-req-1");
    assert_eq!(lines[0]["apiRequestId"], gateway_id);
    assert_eq!(
        lines[0]["xrayTraceId"],
        "Root=1-5759e988-bd862e3fe1be46a994272793"
    );
}

#[test]
fn with_metrics_and_decision_logs_off_nothing_is_written() {
    let cfg = config(&[("POWERTOOLS_METRICS_DISABLED", "true")]);
    let sink = telemetry::Sink::memory();
    let a = AuthorizerBuilder::new(&cfg)
        .jwks_source(Arc::new(StaticJwks::new(&jwks(&[rsa_key()]))))
        .sink(sink.clone())
        .build();
    // No subscriber: `decision` logs are off.
    let _ = run(a.handle(AuthorizerEvent::token("Bearer a.b.c", ARN)));
    assert_eq!(sink.contents(), "");
    // With the decision log on, the line is written without metrics.
    let (lines, _) = lines_of(
        |b| b.jwks_source(Arc::new(StaticJwks::new(&jwks(&[rsa_key()])))),
        &cfg,
        |a| {
            let _ = run(a.handle(AuthorizerEvent::token("Bearer a.b.c", ARN)));
        },
    );
    assert_eq!(lines.len(), 1);
    assert!(lines[0].get("_aws").is_none());
    assert_eq!(lines[0]["reason"], "malformed_token");
}

#[test]
fn an_unreadable_key_registry_refuses_keys_while_jwts_keep_working() {
    let cfg = config(&[("API_KEYS_SECRET_ID", "missing")]);
    let a = AuthorizerBuilder::new(&cfg)
        .jwks_source(Arc::new(StaticJwks::new(&jwks(&[rsa_key()]))))
        .secret_store(Arc::new(crate::apikey::store::MemorySecretStore::default()))
        .build();
    let key = crate::apikey::format::GeneratedKey::generate().unwrap();
    let event = AuthorizerEvent::token(format!("ApiKey {}", key.expose()), ARN);
    for _ in 0..3 {
        assert!(matches!(
            run(a.authorize(&event, NOW as f64)),
            Err(Failure::Unauthorized(Rejection::RegistryUnavailable))
        ));
        assert!(decide(&a, &token(&claims())).is_ok());
    }
}

#[test]
fn api_key_decisions_log_the_key_id_never_the_key_or_its_hash() {
    let key = crate::apikey::format::GeneratedKey::generate().unwrap();
    let doc = crate::apikey::registry::RegistryDocument {
        keys: vec![crate::apikey::registry::KeyRecord {
            id: key.id().into(),
            partner: "acme".into(),
            sha256: crate::apikey::registry::hash_hex(key.expose()),
            permissions: vec!["items:read".into()],
            usage_key: None,
            expires: None,
            disabled: false,
            created: None,
        }],
    };
    let store = crate::apikey::store::MemorySecretStore::with(serde_json::to_string(&doc).unwrap());
    let (lines, text) = lines_of(
        |b| b.secret_store(Arc::new(store)),
        &config(&[("API_KEYS_SECRET_ID", "s")]),
        |a| {
            run(a.warm_up());
            let r = run(a.handle(AuthorizerEvent::token(
                format!("ApiKey {}", key.expose()),
                ARN,
            )));
            assert!(r.is_ok());
        },
    );
    assert_eq!(lines[0]["fp"], format!("key:{}", key.id()));
    assert_eq!(lines[0]["RegistryReads"], 1);
    assert!(!text.contains(&key.expose()[16..]));
    let hash = crate::apikey::registry::hash_hex(key.expose());
    assert!(!text.contains(&hash[..8]), "a hash prefix reached the log");
}

#[test]
fn users_get_the_shared_usage_key_when_one_is_configured() {
    let a = AuthorizerBuilder::new(&config(&[]))
        .jwks_source(Arc::new(StaticJwks::new(&jwks(&[rsa_key()]))))
        .user_usage_key("users-usage-key-0123456789".into())
        .build();
    let r = decide(&a, &token(&claims())).unwrap();
    assert_eq!(
        r.usage_identifier_key.as_deref(),
        Some("users-usage-key-0123456789")
    );
    assert!(
        decide(&authorizer(), &token(&claims()))
            .unwrap()
            .usage_identifier_key
            .is_none()
    );
}

/// The claims of a Cognito access token from the client_credentials grant
/// (the template's machine client): `sub` is the client id, no `username`,
/// no groups, only the requested resource-server scopes.
fn machine_claims(client_id: &str, scope: &str) -> Value {
    json!({
        "sub": client_id, "token_use": "access", "scope": scope, "auth_time": NOW,
        "iss": ISSUER, "exp": NOW + 3600, "iat": NOW, "version": 2,
        "jti": "11111111-2222-3333-4444-555555555555", "client_id": client_id,
    })
}

#[test]
fn a_client_credentials_token_gets_exactly_its_scopes_permissions() {
    const MACHINE: &str = "7machineclient0000000000ab";
    // As the template sets it when the machine client exists.
    let cfg = Config::from_pairs(&[
        ("COGNITO_USER_POOL_ID", POOL),
        ("COGNITO_CLIENT_IDS", &format!("{CLIENT},{MACHINE}")),
    ])
    .unwrap();
    let a = authorizer_with(&cfg, StaticJwks::new(&jwks(&[rsa_key()])));
    let response = decide(
        &a,
        &token(&machine_claims(MACHINE, "items/read items/write")),
    )
    .unwrap();
    let json = serde_json::to_value(&response).unwrap();
    let context = &json["context"];
    assert_eq!(context["permissions"], "items:read items:write");
    assert_eq!(context["scopes"], "items/read items/write");
    assert_eq!(context["sub"], MACHINE);
    assert_eq!(context["clientId"], MACHINE);
    assert_eq!(context["authType"], "jwt");
    assert!(context.get("username").is_none(), "{context}");
    assert!(context.get("groups").is_none(), "{context}");
    assert_eq!(json["principalId"], context["owner"]);
    assert_eq!(context["owner"], format!("user:{MACHINE}"));
    let doc = &response.policy_document;
    for allowed in [
        "GET/items",
        "GET/items/7",
        "POST/items",
        "PUT/items/7",
        "PATCH/items/7",
    ] {
        assert!(
            evaluate(doc, INVOKE_ACTION, &format!("{BASE}{allowed}")).is_allowed(),
            "{allowed}"
        );
    }
    assert!(!evaluate(doc, INVOKE_ACTION, &format!("{BASE}DELETE/items/7")).is_allowed());
    assert!(!json.to_string().contains("null"));

    // Only items/delete: only DELETE.
    let response = decide(&a, &token(&machine_claims(MACHINE, "items/delete"))).unwrap();
    assert_eq!(response.context.permissions.to_string(), "items:delete");
    // A machine client the authorizer was not told about is refused.
    assert_eq!(
        rejection(
            &authorizer(),
            &token(&machine_claims(MACHINE, "items/read"))
        ),
        Rejection::WrongClient {
            client: MACHINE.to_owned()
        }
    );
}
