//! Trusted OpenID issuers beside the user pool, end to end in process: tokens
//! of several issuers at once, each held to its own rules and keys, and each
//! rule bent once (the issue's list), with tokens signed by keys generated
//! here and key sets served from memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use policies::{INVOKE_ACTION, evaluate};
use serde_json::{Value, json};

use crate::BoxFuture;
use crate::handler_tests::{decide, rejection, run};
use crate::jwt::revocation::RevocationCheck;
use crate::jwt::token::SigAlg;
use crate::testkit::{
    SigningKey, StaticJwks, access_claims, high_s_twin, jwks, oidc_claims, sign_typed,
};
use crate::{Authorizer, AuthorizerBuilder, AuthorizerEvent, Config, Rejection};

const POOL: &str = "us-east-1_TestPool1";
const POOL_ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool1";
const OKTA: &str = "https://example.okta.com/oauth2/default";
const ENTRA: &str = "https://login.example.com/tenant-1/v2.0";
/// As `handler_tests`' `decide` uses them.
const NOW: u64 = 1_800_000_000;
const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/items";
const BASE: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/";

/// Keys by name, generated once per test binary.
fn key(name: &str) -> &'static SigningKey {
    static KEYS: OnceLock<Vec<(&'static str, SigningKey)>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        vec![
            ("pool", SigningKey::rsa("pool-1", SigAlg::RS256).unwrap()),
            // Okta and Entra both publish a key named "k1": a kid collision.
            ("okta", SigningKey::rsa("k1", SigAlg::RS256).unwrap()),
            ("entra", SigningKey::rsa("k1", SigAlg::RS256).unwrap()),
            ("entra-ps", SigningKey::rsa("ps-1", SigAlg::PS256).unwrap()),
            ("entra-es", SigningKey::ec("es-1", SigAlg::ES256).unwrap()),
            ("entra-ed", SigningKey::ed25519("ed-1").unwrap()),
        ]
    });
    &keys.iter().find(|(n, _)| *n == name).unwrap().1
}

fn trusted() -> Value {
    json!([
        {"alias": "okta", "issuer": OKTA, "audiences": ["api://items"]},
        {"alias": "entra", "issuer": ENTRA, "clientIds": ["staff-app"],
         "algorithms": ["RS256", "PS256", "ES256", "EdDSA"], "requiredTyp": "at+jwt",
         "requiredClaims": {"tid": "tenant-1"},
         "scopeMap": {"Items.Read": "items:read", "Items.Write": "items:write"},
         "groupsClaim": "groups", "readonlyGroups": ["auditors"]},
    ])
}

fn config_with(issuers: &Value, pool: bool) -> Config {
    let text = issuers.to_string();
    let mut vars = vec![("TRUSTED_ISSUERS", text.as_str())];
    if pool {
        vars.push(("COGNITO_USER_POOL_ID", POOL));
        vars.push(("COGNITO_CLIENT_IDS", "client1"));
    }
    Config::from_pairs(&vars).unwrap()
}

/// The key sets of the pool, Okta and Entra.
struct Sources {
    pool: StaticJwks,
    okta: StaticJwks,
    entra: StaticJwks,
}

impl Sources {
    fn new() -> Self {
        Sources {
            pool: StaticJwks::new(&jwks(&[key("pool")])),
            okta: StaticJwks::new(&jwks(&[key("okta")])),
            entra: StaticJwks::new(&jwks(&[
                key("entra"),
                key("entra-ps"),
                key("entra-es"),
                key("entra-ed"),
            ])),
        }
    }

    fn builder<'c>(&self, config: &'c Config) -> AuthorizerBuilder<'c> {
        AuthorizerBuilder::new(config)
            .jwks_source(Arc::new(self.pool.clone()))
            .issuer_jwks_source("okta", Arc::new(self.okta.clone()))
            .issuer_jwks_source("entra", Arc::new(self.entra.clone()))
    }

    fn authorizer(&self) -> Authorizer {
        self.builder(&config_with(&trusted(), true)).build()
    }

    fn fetches(&self) -> [usize; 3] {
        [
            self.pool.fetches(),
            self.okta.fetches(),
            self.entra.fetches(),
        ]
    }
}

fn pool_token() -> String {
    key("pool")
        .sign(&access_claims(
            POOL_ISSUER,
            "client1",
            "u-pool",
            "aws.cognito.signin.user.admin",
            &[],
            NOW,
        ))
        .unwrap()
}

fn okta_claims() -> Value {
    oidc_claims(
        OKTA,
        "api://items",
        "okta-app",
        "00u1",
        "items/read items/delete",
        NOW,
    )
}

fn okta_token() -> String {
    key("okta").sign(&okta_claims()).unwrap()
}

fn entra_claims() -> Value {
    let mut c = oidc_claims(
        ENTRA,
        "api://items",
        "staff-app",
        "9f1c",
        "Items.Read Items.Write",
        NOW,
    );
    c["tid"] = json!("tenant-1");
    c["groups"] = json!(["staff"]);
    c
}

fn entra_token_with(key_name: &str, claims: &Value) -> String {
    sign_typed(key(key_name), "at+jwt", claims).unwrap()
}

fn entra_token() -> String {
    entra_token_with("entra", &entra_claims())
}

fn with(mut claims: Value, k: &str, v: Value) -> Value {
    if v.is_null() {
        claims.as_object_mut().unwrap().remove(k);
    } else {
        claims[k] = v;
    }
    claims
}

#[test]
fn tokens_of_the_pool_and_two_issuers_are_accepted_at_once_each_in_its_namespace() {
    let sources = Sources::new();
    let a = sources.authorizer();
    run(a.warm_up());
    assert_eq!(
        sources.fetches(),
        [1, 1, 1],
        "each key set fetched at cold start"
    );

    let pool = decide(&a, &pool_token()).unwrap();
    assert_eq!(pool.principal_id, "user:u-pool");
    assert_eq!(pool.context.issuer(), Some("cognito"));

    let okta = serde_json::to_value(decide(&a, &okta_token()).unwrap()).unwrap();
    assert_eq!(okta["principalId"], "oidc:okta:00u1");
    assert_eq!(
        okta["context"],
        json!({"owner": "oidc:okta:00u1", "authType": "jwt", "permissions": "items:read items:delete",
               "expiresAt": NOW + 3600, "issuer": "okta", "sub": "00u1", "clientId": "okta-app",
               "scopes": "items/read items/delete"})
    );

    let entra = decide(&a, &entra_token()).unwrap();
    assert_eq!(entra.principal_id, "oidc:entra:9f1c");
    assert_eq!(entra.context.issuer(), Some("entra"));
    assert_eq!(
        entra.context.permissions.to_string(),
        "items:read items:write"
    );
    let doc = &entra.policy_document;
    assert!(evaluate(doc, INVOKE_ACTION, &format!("{BASE}PUT/items/7")).is_allowed());
    assert!(!evaluate(doc, INVOKE_ACTION, &format!("{BASE}DELETE/items/7")).is_allowed());
    assert_eq!(sources.fetches(), [1, 1, 1], "no fetch for known keys");
}

#[test]
fn the_same_sub_at_two_issuers_and_the_pool_is_three_owners() {
    let sources = Sources::new();
    let a = sources.authorizer();
    let pool = access_claims(
        POOL_ISSUER,
        "client1",
        "same",
        "aws.cognito.signin.user.admin",
        &[],
        NOW,
    );
    let okta = with(okta_claims(), "sub", json!("same"));
    let entra = with(entra_claims(), "sub", json!("same"));
    let owners = [
        decide(&a, &key("pool").sign(&pool).unwrap())
            .unwrap()
            .principal_id,
        decide(&a, &key("okta").sign(&okta).unwrap())
            .unwrap()
            .principal_id,
        decide(&a, &entra_token_with("entra", &entra))
            .unwrap()
            .principal_id,
    ];
    assert_eq!(owners, ["user:same", "oidc:okta:same", "oidc:entra:same"]);
}

#[test]
fn a_token_for_another_audience_is_refused() {
    let a = Sources::new().authorizer();
    let t = key("okta")
        .sign(&with(okta_claims(), "aud", json!("api://billing")))
        .unwrap();
    assert_eq!(
        rejection(&a, &t),
        Rejection::WrongAudience {
            aud: "api://billing".into()
        }
    );
}

#[test]
fn a_token_of_another_client_is_refused() {
    let a = Sources::new().authorizer();
    let t = entra_token_with(
        "entra",
        &with(entra_claims(), "client_id", json!("other-app")),
    );
    assert_eq!(
        rejection(&a, &t),
        Rejection::WrongClient {
            client: "other-app".into()
        }
    );
}

#[test]
fn an_iss_with_a_trailing_slash_or_trusted_by_nothing_is_refused_without_any_fetch() {
    let sources = Sources::new();
    let a = sources.authorizer();
    for iss in [
        format!("{OKTA}/"),
        "https://example.okta.com/oauth2/DEFAULT".to_owned(),
        "https://evil.example".to_owned(),
        format!("{POOL_ISSUER}/"),
    ] {
        let t = key("okta")
            .sign(&with(okta_claims(), "iss", json!(iss)))
            .unwrap();
        assert_eq!(
            rejection(&a, &t),
            Rejection::WrongIssuer { iss: iss.clone() }
        );
    }
    // With an unknown kid too: the iss is refused before any key lookup.
    let stranger = SigningKey::rsa("made-up", SigAlg::RS256).unwrap();
    let t = stranger
        .sign(&with(okta_claims(), "iss", json!("https://evil.example")))
        .unwrap();
    assert!(matches!(rejection(&a, &t), Rejection::WrongIssuer { .. }));
    assert_eq!(sources.fetches(), [0, 0, 0], "no network call at all");
    // No iss at all.
    let t = key("okta")
        .sign(&with(okta_claims(), "iss", Value::Null))
        .unwrap();
    assert_eq!(rejection(&a, &t), Rejection::MissingClaim("iss"));
}

#[test]
fn another_issuers_key_with_a_colliding_kid_never_verifies_this_issuers_tokens() {
    let sources = Sources::new();
    let a = sources.authorizer();
    // Entra's key "k1" signs a token claiming Okta's iss: Okta's "k1" is
    // another key, so the signature fails.
    let forged = key("entra").sign(&okta_claims()).unwrap();
    assert_eq!(rejection(&a, &forged), Rejection::InvalidSignature);
    // And the other way round.
    let forged = entra_token_with("okta", &entra_claims());
    assert_eq!(rejection(&a, &forged), Rejection::InvalidSignature);
    // A kid that only Entra has is unknown to Okta: Okta's set is fetched
    // again (once, cool-down), Entra's is not consulted.
    let ps = key("entra-ps").sign(&okta_claims()).unwrap();
    let okta_only = AuthorizerBuilder::new(&config_with(&json!([{"alias": "okta", "issuer": OKTA, "audiences": ["api://items"], "algorithms": ["RS256", "PS256"]}, trusted()[1]]), true))
        .jwks_source(Arc::new(sources.pool.clone()))
        .issuer_jwks_source("okta", Arc::new(sources.okta.clone()))
        .issuer_jwks_source("entra", Arc::new(sources.entra.clone()))
        .build();
    let before = sources.fetches();
    assert_eq!(
        rejection(&okta_only, &ps),
        Rejection::UnknownKid { kid: "ps-1".into() }
    );
    let after = sources.fetches();
    assert_eq!(after[1], before[1] + 1);
    assert_eq!(
        after[2], before[2],
        "another issuer's key set is never asked"
    );
}

#[test]
fn an_algorithm_the_issuer_does_not_allow_is_refused_before_any_key_lookup() {
    let sources = Sources::new();
    let a = sources.authorizer();
    // Okta allows RS256 only (the default); Entra's PS256 key signs a token
    // naming Okta.
    let ps = key("entra-ps").sign(&okta_claims()).unwrap();
    assert_eq!(
        rejection(&a, &ps),
        Rejection::DisallowedAlgorithm {
            alg: "PS256",
            issuer: "okta".into()
        }
    );
    for alg in ["none", "HS256"] {
        let forged = key("okta")
            .sign_with_header(&json!({"alg": alg, "kid": "k1"}), &okta_claims())
            .unwrap();
        assert_eq!(
            rejection(&a, &forged),
            Rejection::UnsupportedAlgorithm { alg: alg.into() }
        );
    }
    assert_eq!(sources.fetches(), [0, 0, 0]);
}

#[test]
fn each_allowed_algorithm_of_an_issuer_verifies() {
    let a = Sources::new().authorizer();
    for name in ["entra", "entra-ps", "entra-es", "entra-ed"] {
        let t = entra_token_with(name, &entra_claims());
        assert_eq!(
            decide(&a, &t).unwrap().principal_id,
            "oidc:entra:9f1c",
            "{name}"
        );
    }
}

#[test]
fn the_high_s_twin_of_a_trusted_issuers_es256_token_is_refused() {
    let a = Sources::new().authorizer();
    let good = entra_token_with("entra-es", &entra_claims());
    assert!(decide(&a, &good).is_ok());
    assert_eq!(
        rejection(&a, &high_s_twin(&good).unwrap()),
        Rejection::HighSSignature
    );
}

#[test]
fn a_missing_or_wrong_required_claim_is_refused() {
    let a = Sources::new().authorizer();
    let missing = entra_token_with("entra", &with(entra_claims(), "tid", Value::Null));
    assert_eq!(
        rejection(&a, &missing),
        Rejection::MissingRequiredClaim {
            claim: "tid".into()
        }
    );
    let wrong = entra_token_with("entra", &with(entra_claims(), "tid", json!("tenant-2")));
    assert_eq!(
        rejection(&a, &wrong),
        Rejection::WrongClaimValue {
            claim: "tid".into()
        }
    );
}

#[test]
fn a_wrong_or_missing_typ_is_refused_and_its_spellings_are_one_type() {
    let a = Sources::new().authorizer();
    for typ in ["JWT", "jwt", "application/jwt", "at+jwt+x", "text/at+jwt"] {
        let t = sign_typed(key("entra"), typ, &entra_claims()).unwrap();
        assert_eq!(
            rejection(&a, &t),
            Rejection::WrongTyp {
                typ: Some(typ.into()),
                expected: "at+jwt".into()
            },
            "{typ}"
        );
    }
    let untyped = key("entra")
        .sign_with_header(&json!({"alg": "RS256", "kid": "k1"}), &entra_claims())
        .unwrap();
    assert_eq!(
        rejection(&a, &untyped),
        Rejection::WrongTyp {
            typ: None,
            expected: "at+jwt".into()
        }
    );
    for typ in ["AT+JWT", "application/at+jwt", "Application/At+JWT"] {
        let t = sign_typed(key("entra"), typ, &entra_claims()).unwrap();
        assert!(decide(&a, &t).is_ok(), "{typ}");
    }
    // Okta requires no typ: JWT is fine.
    assert!(decide(&a, &okta_token()).is_ok());
}

#[test]
fn one_issuer_down_never_refuses_another_issuers_tokens() {
    let sources = Sources::new();
    sources.okta.set_down(true);
    let a = sources
        .builder(&config_with(&trusted(), true))
        .jwks_cooldown(Duration::ZERO)
        .build();
    run(a.warm_up());
    for _ in 0..3 {
        assert_eq!(
            rejection(&a, &okta_token()),
            Rejection::UnknownKid { kid: "k1".into() }
        );
        assert!(decide(&a, &pool_token()).is_ok());
        assert!(decide(&a, &entra_token()).is_ok());
    }
    // Okta comes back: its next token fetches and verifies.
    sources.okta.set_down(false);
    assert!(decide(&a, &okta_token()).is_ok());
}

#[test]
fn a_trusted_issuers_withdrawn_key_ends_its_cached_tokens_and_no_other_issuers() {
    let sources = Sources::new();
    let a = sources
        .builder(&config_with(&trusted(), true))
        .jwks_cooldown(Duration::ZERO)
        .build();
    run(a.warm_up());
    let (okta, entra, pool) = (okta_token(), entra_token(), pool_token());
    for t in [&okta, &entra, &pool] {
        assert!(decide(&a, t).is_ok());
    }
    let cached = |a: &Authorizer| a.jwt_verifier().map_or(0, |v| v.verified_tokens().len());
    assert_eq!(cached(&a), 3);
    // Okta rotates to a new key; a token of it makes the authorizer fetch.
    let rotated = SigningKey::rsa("k2", SigAlg::RS256).unwrap();
    sources.okta.set(&jwks(&[&rotated]));
    assert!(decide(&a, &rotated.sign(&okta_claims()).unwrap()).is_ok());
    assert_eq!(
        rejection(&a, &okta),
        Rejection::UnknownKid { kid: "k1".into() }
    );
    // The pool's and Entra's cached verifications are still served: no
    // fetch of theirs, and still cached.
    let before = sources.fetches();
    assert!(decide(&a, &entra).is_ok());
    assert!(decide(&a, &pool).is_ok());
    assert_eq!(sources.fetches(), before);
    assert_eq!(cached(&a), 3, "entra, pool and the rotated okta token");
}

struct CountingRevocation(AtomicUsize);

impl RevocationCheck for CountingRevocation {
    fn check<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), Rejection>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err(Rejection::Revoked) })
    }
}

#[test]
fn a_trusted_issuers_token_is_never_shown_to_cognito() {
    let sources = Sources::new();
    let text = trusted().to_string();
    let config = Config::from_pairs(&[
        ("COGNITO_USER_POOL_ID", POOL),
        ("COGNITO_CLIENT_IDS", "client1"),
        ("CHECK_REVOCATION", "true"),
        ("TRUSTED_ISSUERS", text.as_str()),
    ])
    .unwrap();
    let cognito = Arc::new(CountingRevocation(AtomicUsize::new(0)));
    let a = sources.builder(&config).revocation(cognito.clone()).build();
    // Even with the scope Cognito gives first-party sign-ins.
    let t = key("okta")
        .sign(&with(
            okta_claims(),
            "scope",
            json!("aws.cognito.signin.user.admin items/read"),
        ))
        .unwrap();
    let r = decide(&a, &t).unwrap();
    assert_eq!(
        r.context.permissions.to_string(),
        "items:read",
        "the scope grants nothing here"
    );
    assert_eq!(cognito.0.load(Ordering::SeqCst), 0);
    assert_eq!(rejection(&a, &pool_token()), Rejection::Revoked);
    assert_eq!(cognito.0.load(Ordering::SeqCst), 1);
}

#[test]
fn trusted_issuers_alone_take_their_tokens_and_refuse_pool_tokens() {
    let sources = Sources::new();
    let config = config_with(&trusted(), false);
    let a = sources.builder(&config).build();
    assert!(decide(&a, &okta_token()).is_ok());
    assert_eq!(
        rejection(&a, &pool_token()),
        Rejection::WrongIssuer {
            iss: POOL_ISSUER.into()
        }
    );
    assert_eq!(sources.pool.fetches(), 0);
}

#[test]
fn a_readonly_group_limits_a_trusted_principal_to_reads() {
    let a = Sources::new().authorizer();
    let t = entra_token_with(
        "entra",
        &with(entra_claims(), "groups", json!(["staff", "auditors"])),
    );
    let r = decide(&a, &t).unwrap();
    assert_eq!(r.context.permissions.to_string(), "items:read");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["context"]["groups"], "staff auditors");
}

#[test]
fn ten_issuers_each_verify_their_own_tokens() {
    let keys: Vec<SigningKey> = (0..10)
        .map(|i| SigningKey::rsa(&format!("k{i}"), SigAlg::RS256).unwrap())
        .collect();
    let entries: Vec<Value> = (0..10)
        .map(|i| json!({"alias": format!("idp-{i}"), "issuer": format!("https://idp{i}.example.com"), "audiences": ["api://items"]}))
        .collect();
    let config = config_with(&json!(entries), false);
    let mut builder = AuthorizerBuilder::new(&config);
    for (i, k) in keys.iter().enumerate() {
        builder =
            builder.issuer_jwks_source(&format!("idp-{i}"), Arc::new(StaticJwks::new(&jwks(&[k]))));
    }
    let a = builder.build();
    for (i, k) in keys.iter().enumerate() {
        let claims = oidc_claims(
            &format!("https://idp{i}.example.com"),
            "api://items",
            "c",
            "s",
            "items/read",
            NOW,
        );
        assert_eq!(
            decide(&a, &k.sign(&claims).unwrap()).unwrap().principal_id,
            format!("oidc:idp-{i}:s")
        );
        // Signed by the next issuer's key (kid k{i+1}): unknown here.
        let other = &keys[(i + 1) % 10];
        assert!(matches!(
            rejection(&a, &other.sign(&claims).unwrap()),
            Rejection::UnknownKid { .. }
        ));
    }
}

#[test]
fn refusals_of_trusted_issuers_reach_the_decision_line_with_their_reason() {
    let sources = Sources::new();
    let config = config_with(&trusted(), true);
    let sink = telemetry::Sink::memory();
    let a = sources.builder(&config).sink(sink.clone()).build();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let live = oidc_claims(OKTA, "api://items", "okta-app", "00u1", "items/read", now);
    for claims in [live.clone(), with(live, "aud", json!("api://billing"))] {
        let t = key("okta").sign(&claims).unwrap();
        let _ = run(a.handle(AuthorizerEvent::token(format!("Bearer {t}"), ARN)));
    }
    let lines: Vec<Value> = sink
        .contents()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["principal"], "oidc:okta:00u1");
    assert_eq!(lines[0]["reason"], "ok");
    assert_eq!(lines[1]["reason"], "wrong_audience");
}
