//! One whole authorizer decision (event JSON in, response JSON out, warm
//! JWKS, the decision log line written to a sink) beside the bare RS256
//! signature check of the same token, in the same run.
//!
//! Targets (issue 2): whole decision ≤ 1.5 × bare signature; a bad signature
//! costs no more than a good token; a malformed token is refused in < 5 µs.
//! Targets (issue 3): a whole decision for a valid partner key with a warm
//! cache, and for a made-up key, under 10 µs each.
//! Targets (issue 11): the decision's metrics (its EMF line) add ≤ 2 µs
//! ("metrics on" against "metrics off", same token, full verification);
//! a repeated token, found in the cache of verified tokens, costs a
//! fraction of a full decision.
//!
//! Targets (issue 17): a decision for a trusted issuer's RS256 token within
//! 1.1 × a pool decision (same authorizer, both issuers configured); with 10
//! trusted issuers configured, within 1 µs of 1; ES256, PS256 and EdDSA
//! decisions of a trusted issuer reported.
//!
//! The "whole decision" figures verify the signature every time (the cache
//! of verified tokens is off), as they did before the cache existed.
//!
//! Run: `cargo bench -p e2e --bench authorizer_decision`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use authorizer::jwt::token::SigAlg;
use authorizer::jwt::verified::VerifiedTokens;
use authorizer::testkit::{SigningKey, StaticJwks, access_claims, jwks};
use authorizer::{Authorizer, AuthorizerBuilder, AuthorizerEvent, Config};
use criterion::{Criterion, criterion_group, criterion_main};

const POOL: &str = "us-east-1_BenchPool1";
const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_BenchPool1";
const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/items";

fn decide(rt: &tokio::runtime::Runtime, a: &Authorizer, event_json: &[u8]) -> Option<Vec<u8>> {
    let event: AuthorizerEvent = serde_json::from_slice(event_json).unwrap();
    let response = rt.block_on(a.handle(event)).ok()?;
    Some(serde_json::to_vec(&response).unwrap())
}

fn event(token: &str) -> Vec<u8> {
    event_with("Bearer", token)
}

fn bench(c: &mut Criterion) {
    // The decision log line is part of the cost: format it, then discard it.
    tracing_sink();

    let key = SigningKey::rsa("bench-key", SigAlg::RS256).unwrap();
    let vars = [
        ("COGNITO_USER_POOL_ID", POOL),
        ("COGNITO_CLIENT_IDS", "client1"),
    ];
    let config = Config::from_pairs(&vars).unwrap();
    let a = AuthorizerBuilder::new(&config)
        .jwks_source(Arc::new(StaticJwks::new(&jwks(&[&key]))))
        .verified_tokens(VerifiedTokens::with_bounds(0, 0))
        .build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(a.warm_up());

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // A Cognito-sized access token: first-party scope and two groups.
    let claims = access_claims(
        ISSUER,
        "client1",
        "4f1c2b7e-9a0d-4c1e-8b3a-2d5e6f7a8b9c",
        "aws.cognito.signin.user.admin",
        &["staff", "beta"],
        now,
    );
    let token = key.sign(&claims).unwrap();
    let good = event(&token);
    assert!(
        decide(&rt, &a, &good).is_some(),
        "the good token must be allowed"
    );

    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let mut bad_sig = signature.as_bytes().to_vec();
    bad_sig[10] = if bad_sig[10] == b'A' { b'B' } else { b'A' };
    let bad_token = format!("{signing_input}.{}", String::from_utf8(bad_sig).unwrap());
    let bad = event(&bad_token);
    assert!(
        decide(&rt, &a, &bad).is_none(),
        "the bad signature must be refused"
    );

    let malformed = event("eyJhbGciOiJSUzI1NiJ9.not-a-token");
    assert!(decide(&rt, &a, &malformed).is_none());

    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.jwk()).unwrap();
    let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();

    let mut group = c.benchmark_group("authorizer");
    group.bench_function("bare RS256 signature check", |b| {
        b.iter(|| {
            jsonwebtoken::crypto::verify(
                black_box(signature),
                black_box(signing_input.as_bytes()),
                &decoding,
                jsonwebtoken::Algorithm::RS256,
            )
            .unwrap()
        })
    });
    group.bench_function("whole decision, valid token", |b| {
        b.iter(|| decide(&rt, &a, black_box(&good)))
    });
    group.bench_function("whole decision, bad signature", |b| {
        b.iter(|| decide(&rt, &a, black_box(&bad)))
    });
    group.bench_function("whole decision, malformed token", |b| {
        b.iter(|| decide(&rt, &a, black_box(&malformed)))
    });
    group.finish();

    metrics_and_cache(c, &rt, &key, &good);
    partner_keys(c, &rt);
    trusted_issuers(c, &rt, &key, &good, now);
}

/// A trusted issuer's issuer URL, `i` of many.
fn idp(i: usize) -> String {
    format!("https://idp{i}.example.com/oauth2/default")
}

/// An authorizer trusting the pool (with `pool_key`) and `n` issuers, the
/// last of which signs with `keys` and allows their algorithms; the others
/// have keys of their own.
fn with_issuers(
    rt: &tokio::runtime::Runtime,
    pool_key: &SigningKey,
    n: usize,
    keys: &[&SigningKey],
) -> Authorizer {
    let algorithms: Vec<&str> = keys.iter().map(|k| k.alg().name()).collect();
    let entries: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({"alias": format!("idp-{i}"), "issuer": idp(i),
                "audiences": ["api://items"], "algorithms": algorithms, "requiredTyp": "at+jwt"})
        })
        .collect();
    let trusted = serde_json::Value::Array(entries).to_string();
    let vars = [
        ("COGNITO_USER_POOL_ID", POOL),
        ("COGNITO_CLIENT_IDS", "client1"),
        ("TRUSTED_ISSUERS", trusted.as_str()),
    ];
    let config = Config::from_pairs(&vars).unwrap();
    let mut builder = AuthorizerBuilder::new(&config)
        .jwks_source(Arc::new(StaticJwks::new(&jwks(&[pool_key]))))
        .verified_tokens(VerifiedTokens::with_bounds(0, 0));
    // The issuers before the last have keys of their own.
    for i in 0..n {
        let document = if i + 1 == n {
            jwks(keys)
        } else {
            jwks(&[&SigningKey::rsa(&format!("other-{i}"), SigAlg::RS256).unwrap()])
        };
        builder =
            builder.issuer_jwks_source(&format!("idp-{i}"), Arc::new(StaticJwks::new(&document)));
    }
    let a = builder.build();
    rt.block_on(a.warm_up());
    a
}

/// A trusted issuer's RFC 9068 access token, as sized as the pool's.
fn trusted_token(key: &SigningKey, issuer: &str, now: u64) -> Vec<u8> {
    let mut claims = authorizer::testkit::oidc_claims(
        issuer,
        "api://items",
        "0oa1b2c3d4e5f6g7h8i9",
        "4f1c2b7e-9a0d-4c1e-8b3a-2d5e6f7a8b9c",
        "openid items/read items/write items/delete",
        now,
    );
    claims["auth_time"] = serde_json::json!(now);
    let token = authorizer::testkit::sign_typed(key, "at+jwt", &claims).unwrap();
    event(&token)
}

fn trusted_issuers(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    pool_key: &SigningKey,
    pool_event: &[u8],
    now: u64,
) {
    let rs256 = SigningKey::rsa("idp-rs256", SigAlg::RS256).unwrap();
    let ps256 = SigningKey::rsa("idp-ps256", SigAlg::PS256).unwrap();
    let es256 = SigningKey::ec("idp-es256", SigAlg::ES256).unwrap();
    let ed = SigningKey::ed25519("idp-eddsa").unwrap();
    let all = [&rs256, &ps256, &es256, &ed];

    let one = with_issuers(rt, pool_key, 1, &[&rs256]);
    let ten = with_issuers(rt, pool_key, 10, &[&rs256]);
    let mixed = with_issuers(rt, pool_key, 1, &all);
    let first = trusted_token(&rs256, &idp(0), now);
    let tenth = trusted_token(&rs256, &idp(9), now);
    for (a, e) in [
        (&one, first.as_slice()),
        (&one, pool_event),
        (&ten, tenth.as_slice()),
        (&ten, pool_event),
    ] {
        assert!(decide(rt, a, e).is_some(), "must be allowed");
    }
    let by_alg: Vec<(&str, Vec<u8>)> = all
        .iter()
        .map(|k| (k.alg().name(), trusted_token(k, &idp(0), now)))
        .collect();
    for (alg, e) in &by_alg {
        assert!(decide(rt, &mixed, e).is_some(), "{alg} must be allowed");
    }

    let mut group = c.benchmark_group("trusted issuers");
    group.bench_function("pool RS256 decision, pool + 1 issuer configured", |b| {
        b.iter(|| decide(rt, &one, black_box(pool_event)))
    });
    group.bench_function("trusted RS256 decision, pool + 1 issuer configured", |b| {
        b.iter(|| decide(rt, &one, black_box(&first)))
    });
    group.bench_function(
        "trusted RS256 decision, pool + 10 issuers configured",
        |b| b.iter(|| decide(rt, &ten, black_box(&tenth))),
    );
    for (alg, e) in &by_alg {
        group.bench_function(format!("trusted {alg} decision"), |b| {
            b.iter(|| decide(rt, &mixed, black_box(e)))
        });
    }
    group.finish();
}

/// The same valid token through authorizers that differ in one thing each.
fn metrics_and_cache(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    key: &SigningKey,
    good: &[u8],
) {
    let build = |extra: &[(&str, &str)], verified: VerifiedTokens| {
        let mut vars = vec![
            ("COGNITO_USER_POOL_ID", POOL),
            ("COGNITO_CLIENT_IDS", "client1"),
        ];
        vars.extend_from_slice(extra);
        let config = Config::from_pairs(&vars).unwrap();
        let a = AuthorizerBuilder::new(&config)
            .jwks_source(Arc::new(StaticJwks::new(&jwks(&[key]))))
            .verified_tokens(verified)
            .build();
        rt.block_on(a.warm_up());
        assert!(decide(rt, &a, good).is_some());
        a
    };
    let off = || VerifiedTokens::with_bounds(0, 0);
    let metrics_on = build(&[], off());
    let metrics_off = build(&[("POWERTOOLS_METRICS_DISABLED", "true")], off());
    let cached = build(&[], VerifiedTokens::default());

    let mut group = c.benchmark_group("issue 11");
    group.bench_function("whole decision, metrics on (EMF line built)", |b| {
        b.iter(|| decide(rt, &metrics_on, black_box(good)))
    });
    group.bench_function("whole decision, metrics off (no line)", |b| {
        b.iter(|| decide(rt, &metrics_off, black_box(good)))
    });
    group.bench_function(
        "whole decision, repeated token (cached verification)",
        |b| b.iter(|| decide(rt, &cached, black_box(good))),
    );
    group.finish();
}

fn partner_keys(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    use authorizer::apikey::format::GeneratedKey;
    use authorizer::apikey::registry::{KeyRecord, RegistryDocument, hash_hex};
    use authorizer::apikey::store::MemorySecretStore;

    let key = GeneratedKey::generate().unwrap();
    // A registry of 200 partners, the one under test among them.
    let mut keys: Vec<KeyRecord> = (0..199)
        .map(|i| {
            let k = GeneratedKey::generate().unwrap();
            KeyRecord {
                id: k.id().into(),
                partner: format!("partner-{i}"),
                sha256: hash_hex(k.expose()),
                permissions: vec!["items:read".into()],
                usage_key: None,
                expires: None,
                disabled: false,
                created: None,
            }
        })
        .collect();
    keys.push(KeyRecord {
        id: key.id().into(),
        partner: "acme".into(),
        sha256: hash_hex(key.expose()),
        permissions: vec!["items:read".into(), "items:write".into()],
        usage_key: Some("acme-usage-key-0123456789".into()),
        expires: Some("2099-01-01T00:00:00Z".into()),
        disabled: false,
        created: None,
    });
    let store = MemorySecretStore::with(serde_json::to_string(&RegistryDocument { keys }).unwrap());
    let vars = [("API_KEYS_SECRET_ID", "registry")];
    let config = Config::from_pairs(&vars).unwrap();
    let a = AuthorizerBuilder::new(&config)
        .secret_store(Arc::new(store))
        .build();
    rt.block_on(a.warm_up());

    let good = event_with("ApiKey", key.expose());
    assert!(
        decide(rt, &a, &good).is_some(),
        "the partner key must be allowed"
    );
    let made_up = event_with(
        "ApiKey",
        "pk_abcdefghijkl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    );
    assert!(decide(rt, &a, &made_up).is_none());

    let mut group = c.benchmark_group("partner key");
    group.bench_function("whole decision, valid key, warm cache", |b| {
        b.iter(|| decide(rt, &a, black_box(&good)))
    });
    group.bench_function("whole decision, made-up key", |b| {
        b.iter(|| decide(rt, &a, black_box(&made_up)))
    });
    group.finish();
}

fn event_with(scheme: &str, credential: &str) -> Vec<u8> {
    serde_json::json!({"type": "TOKEN", "authorizationToken": format!("{scheme} {credential}"), "methodArn": ARN})
        .to_string()
        .into_bytes()
}

/// The production formatter and filter, writing nowhere, with the
/// `decision` log off: whether a decision line is built then depends on the
/// metrics alone, which is what "metrics on/off" compares.
fn tracing_sink() {
    let filter = format!("{},decision=off", telemetry::log::DEFAULT_FILTER);
    let subscriber = tracing_subscriber::fmt()
        .event_format(telemetry::log::JsonLines)
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
}

criterion_group!(benches, bench);
criterion_main!(benches);
