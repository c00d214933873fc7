//! Trusted issuers through the production wiring (`Authorizer::from_config`)
//! against real HTTP servers on loopback: OIDC discovery and each issuer's
//! JWKS, beside the pool's JWKS. Discovery is believed only for the issuer's
//! own document, its `jwks_uri` only under the URL rule; a discovery that
//! fails at cold start is retried when a token needs it, once per cool-down;
//! one issuer's outage (down, slow, garbage, oversized) never refuses
//! another's tokens; the cold start fetches everything concurrently.

// Test code: a panic is how a failure is reported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use authorizer::jwt::token::SigAlg;
use authorizer::testkit::{SigningKey, access_claims, jwks, oidc_claims, sign_typed};
use authorizer::{Authorizer, AuthorizerEvent, Config, Failure, Rejection};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

const POOL: &str = "us-east-1_Trusted1";
const POOL_ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Trusted1";
const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/items";

/// What a document route answers.
#[derive(Clone)]
enum Answer {
    /// This JSON.
    Json(Value),
    /// 503.
    Down,
    /// This JSON after a delay.
    Slow(Duration, Value),
    /// Not JSON.
    Garbage,
    /// 200 KiB.
    Huge,
}

impl Answer {
    async fn respond(self) -> Response {
        match self {
            Answer::Json(v) => {
                ([("content-type", "application/json")], v.to_string()).into_response()
            }
            Answer::Down => StatusCode::SERVICE_UNAVAILABLE.into_response(),
            Answer::Slow(delay, v) => {
                tokio::time::sleep(delay).await;
                ([("content-type", "application/json")], v.to_string()).into_response()
            }
            Answer::Garbage => "<html>not json</html>".into_response(),
            Answer::Huge => format!("{{\"pad\": \"{}\"}}", "x".repeat(200_000)).into_response(),
        }
    }
}

/// An OpenID provider on loopback: discovery at the well-known path, keys at
/// `/jwks`, each answer settable and each hit counted.
#[derive(Clone)]
struct Provider {
    issuer: String,
    discovery: Arc<Mutex<Answer>>,
    keys: Arc<Mutex<Answer>>,
    discovery_hits: Arc<AtomicUsize>,
    key_hits: Arc<AtomicUsize>,
}

async fn discovery_route(State(p): State<Provider>) -> Response {
    p.discovery_hits.fetch_add(1, Ordering::SeqCst);
    let answer = p.discovery.lock().unwrap().clone();
    answer.respond().await
}

async fn keys_route(State(p): State<Provider>) -> Response {
    p.key_hits.fetch_add(1, Ordering::SeqCst);
    let answer = p.keys.lock().unwrap().clone();
    answer.respond().await
}

impl Provider {
    /// A provider serving `keys`, its discovery document naming itself.
    async fn start(keys: &[&SigningKey]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let p = Provider {
            discovery: Arc::new(Mutex::new(Answer::Json(
                json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks"),
                       "token_endpoint": format!("{issuer}/token")}),
            ))),
            keys: Arc::new(Mutex::new(Answer::Json(jwks(keys)))),
            issuer,
            discovery_hits: Arc::new(AtomicUsize::new(0)),
            key_hits: Arc::new(AtomicUsize::new(0)),
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery_route))
            .route("/jwks", get(keys_route))
            .with_state(p.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        p
    }

    fn set_discovery(&self, a: Answer) {
        *self.discovery.lock().unwrap() = a;
    }

    fn set_keys(&self, a: Answer) {
        *self.keys.lock().unwrap() = a;
    }

    /// (discovery hits, JWKS hits).
    fn hits(&self) -> (usize, usize) {
        (
            self.discovery_hits.load(Ordering::SeqCst),
            self.key_hits.load(Ordering::SeqCst),
        )
    }

    fn entry(&self, alias: &str) -> Value {
        json!({"alias": alias, "issuer": self.issuer, "audiences": ["api://items"],
               "algorithms": ["RS256", "ES256", "EdDSA"], "requiredTyp": "at+jwt"})
    }

    fn token(&self, key: &SigningKey) -> String {
        let claims = oidc_claims(
            &self.issuer,
            "api://items",
            "app",
            "sub-1",
            "items/read",
            now(),
        );
        sign_typed(key, "at+jwt", &claims).unwrap()
    }
}

fn key(name: &str) -> &'static SigningKey {
    static KEYS: OnceLock<Vec<SigningKey>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        vec![
            SigningKey::rsa("pool-k", SigAlg::RS256).unwrap(),
            SigningKey::rsa("a-k", SigAlg::RS256).unwrap(),
            SigningKey::ec("b-k", SigAlg::ES256).unwrap(),
            SigningKey::ed25519("c-k").unwrap(),
        ]
    });
    keys.iter().find(|k| k.kid() == name).unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The pool's JWKS on a server of its own (a provider's `/jwks`).
async fn pool_jwks() -> Provider {
    Provider::start(&[key("pool-k")]).await
}

fn config(pool: &Provider, entries: &[Value], timeout_ms: &str) -> Config {
    let trusted = Value::Array(entries.to_vec()).to_string();
    let jwks_uri = format!("{}/jwks", pool.issuer);
    Config::from_pairs(&[
        ("COGNITO_USER_POOL_ID", POOL),
        ("COGNITO_CLIENT_IDS", "client1"),
        ("JWKS_URI", jwks_uri.as_str()),
        ("JWKS_TIMEOUT_MS", timeout_ms),
        ("TRUSTED_ISSUERS", trusted.as_str()),
    ])
    .unwrap()
}

fn pool_token() -> String {
    key("pool-k")
        .sign(&access_claims(
            POOL_ISSUER,
            "client1",
            "u",
            "aws.cognito.signin.user.admin",
            &[],
            now(),
        ))
        .unwrap()
}

async fn decide(a: &Authorizer, token: &str) -> Result<String, Rejection> {
    match a
        .authorize(
            &AuthorizerEvent::token(format!("Bearer {token}"), ARN),
            now() as f64,
        )
        .await
    {
        Ok(r) => Ok(r.principal_id),
        Err(Failure::Unauthorized(why)) => Err(why),
        Err(other) => panic!("unexpected failure {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_discovered_issuers_and_the_pool_are_fetched_at_cold_start_and_verify() {
    let pool = pool_jwks().await;
    let a_idp = Provider::start(&[key("a-k")]).await;
    let b_idp = Provider::start(&[key("b-k"), key("c-k")]).await;
    let cfg = config(&pool, &[a_idp.entry("idp-a"), b_idp.entry("idp-b")], "1500");
    let a = Authorizer::from_config(&cfg).await.unwrap();
    assert_eq!(a_idp.hits(), (1, 1), "discovery, then its JWKS");
    assert_eq!(b_idp.hits(), (1, 1));
    assert_eq!(pool.hits(), (0, 1), "the pool's JWKS, no discovery");

    assert_eq!(decide(&a, &pool_token()).await.unwrap(), "user:u");
    assert_eq!(
        decide(&a, &a_idp.token(key("a-k"))).await.unwrap(),
        "oidc:idp-a:sub-1"
    );
    assert_eq!(
        decide(&a, &b_idp.token(key("b-k"))).await.unwrap(),
        "oidc:idp-b:sub-1"
    );
    assert_eq!(
        decide(&a, &b_idp.token(key("c-k"))).await.unwrap(),
        "oidc:idp-b:sub-1"
    );
    assert_eq!(
        (a_idp.hits(), b_idp.hits(), pool.hits()),
        ((1, 1), (1, 1), (0, 1))
    );
    // idp-a's token signed by idp-b's key: idp-a's set has no such kid.
    let forged = sign_typed(
        key("b-k"),
        "at+jwt",
        &oidc_claims(
            &a_idp.issuer,
            "api://items",
            "app",
            "sub-1",
            "items/read",
            now(),
        ),
    )
    .unwrap();
    assert_eq!(
        decide(&a, &forged).await,
        Err(Rejection::UnknownKid { kid: "b-k".into() })
    );
    assert_eq!(
        b_idp.hits(),
        (1, 1),
        "another issuer's keys are never asked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discovery_document_naming_another_issuer_is_not_believed() {
    let pool = pool_jwks().await;
    let idp = Provider::start(&[key("a-k")]).await;
    let good = Provider::start(&[key("b-k")]).await;
    for other in [format!("{}/", idp.issuer), good.issuer.clone()] {
        idp.set_discovery(Answer::Json(
            json!({"issuer": other, "jwks_uri": format!("{}/jwks", idp.issuer)}),
        ));
        let cfg = config(&pool, &[idp.entry("idp-a"), good.entry("idp-b")], "1500");
        let a = Authorizer::from_config(&cfg).await.unwrap();
        assert_eq!(
            decide(&a, &idp.token(key("a-k"))).await,
            Err(Rejection::UnknownKid { kid: "a-k".into() })
        );
        assert_eq!(idp.hits().1, 0, "its jwks_uri was never fetched");
        assert!(decide(&a, &good.token(key("b-k"))).await.is_ok());
        assert!(decide(&a, &pool_token()).await.is_ok());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_uri_over_http_off_loopback_is_never_fetched() {
    let pool = pool_jwks().await;
    let idp = Provider::start(&[key("a-k")]).await;
    // 192.0.2.1 (TEST-NET-1) would hang, not refuse: nothing may try it.
    idp.set_discovery(Answer::Json(
        json!({"issuer": idp.issuer, "jwks_uri": "http://192.0.2.1/jwks"}),
    ));
    let started = Instant::now();
    let a = Authorizer::from_config(&config(&pool, &[idp.entry("idp-a")], "1500"))
        .await
        .unwrap();
    assert_eq!(
        decide(&a, &idp.token(key("a-k"))).await,
        Err(Rejection::UnknownKid { kid: "a-k".into() })
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(decide(&a, &pool_token()).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discovery_that_fails_at_cold_start_is_retried_when_a_token_needs_it_once_per_cooldown() {
    let pool = pool_jwks().await;
    let idp = Provider::start(&[key("a-k")]).await;
    idp.set_discovery(Answer::Down);
    let a = Arc::new(
        Authorizer::from_config(&config(&pool, &[idp.entry("idp-a")], "1500"))
            .await
            .unwrap(),
    );
    assert_eq!(idp.hits(), (1, 0), "tried at cold start, no crash");
    // Still down: the first token tries again at once (a failed cold start
    // starts no cool-down), then 20 more within the cool-down try nothing.
    for _ in 0..21 {
        assert_eq!(
            decide(&a, &idp.token(key("a-k"))).await,
            Err(Rejection::UnknownKid { kid: "a-k".into() })
        );
    }
    assert_eq!(idp.hits(), (2, 0));
    assert!(
        decide(&a, &pool_token()).await.is_ok(),
        "the pool is not held up"
    );

    // Back up: with a fresh authorizer (no cool-down to wait out), the first
    // token discovers and verifies.
    let b = Authorizer::from_config(&config(&pool, &[idp.entry("idp-a")], "1500"))
        .await
        .unwrap();
    idp.set_discovery(Answer::Json(
        json!({"issuer": idp.issuer, "jwks_uri": format!("{}/jwks", idp.issuer)}),
    ));
    assert_eq!(
        decide(&b, &idp.token(key("a-k"))).await.unwrap(),
        "oidc:idp-a:sub-1"
    );
    assert_eq!(idp.hits(), (4, 1));
}

/// What goes wrong with a provider.
type Spoil = Box<dyn Fn(&Provider)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_oversized_and_slow_documents_refuse_only_their_issuers_tokens() {
    let pool = pool_jwks().await;
    let good = Provider::start(&[key("b-k")]).await;
    let cases: Vec<(&str, Spoil)> = vec![
        (
            "garbage discovery",
            Box::new(|p| p.set_discovery(Answer::Garbage)),
        ),
        (
            "oversized discovery",
            Box::new(|p| p.set_discovery(Answer::Huge)),
        ),
        (
            "discovery without jwks_uri",
            Box::new(|p| p.set_discovery(Answer::Json(json!({"issuer": p.issuer})))),
        ),
        (
            "slow discovery",
            Box::new(|p| p.set_discovery(Answer::Slow(Duration::from_secs(5), json!({})))),
        ),
        ("garbage JWKS", Box::new(|p| p.set_keys(Answer::Garbage))),
        ("oversized JWKS", Box::new(|p| p.set_keys(Answer::Huge))),
        ("JWKS down", Box::new(|p| p.set_keys(Answer::Down))),
        (
            "slow JWKS",
            Box::new(|p| p.set_keys(Answer::Slow(Duration::from_secs(5), jwks(&[key("a-k")])))),
        ),
    ];
    for (case, spoil) in cases {
        let idp = Provider::start(&[key("a-k")]).await;
        spoil(&idp);
        let started = Instant::now();
        let a = Authorizer::from_config(&config(
            &pool,
            &[idp.entry("idp-a"), good.entry("idp-b")],
            "300",
        ))
        .await
        .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{case}: cold start took {:?}",
            started.elapsed()
        );
        assert_eq!(
            decide(&a, &idp.token(key("a-k"))).await,
            Err(Rejection::UnknownKid { kid: "a-k".into() }),
            "{case}"
        );
        assert!(decide(&a, &good.token(key("b-k"))).await.is_ok(), "{case}");
        assert!(decide(&a, &pool_token()).await.is_ok(), "{case}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_jwks_uri_skips_discovery() {
    let pool = pool_jwks().await;
    let idp = Provider::start(&[key("a-k")]).await;
    let mut entry = idp.entry("idp-a");
    entry["jwksUri"] = json!(format!("{}/jwks", idp.issuer));
    let a = Authorizer::from_config(&config(&pool, &[entry], "1500"))
        .await
        .unwrap();
    assert!(decide(&a, &idp.token(key("a-k"))).await.is_ok());
    assert_eq!(idp.hits(), (0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cold_start_fetches_every_issuers_keys_concurrently() {
    // Each answer takes 250 ms. One after the other: the pool's JWKS, then
    // two discoveries each followed by its JWKS, 1250 ms. Concurrently: the
    // longest chain, one discovery and one JWKS, 500 ms.
    let delay = Duration::from_millis(250);
    let pool = pool_jwks().await;
    pool.set_keys(Answer::Slow(delay, jwks(&[key("pool-k")])));
    let mut idps = Vec::new();
    for k in ["a-k", "b-k"] {
        let idp = Provider::start(&[key(k)]).await;
        idp.set_discovery(Answer::Slow(
            delay,
            json!({"issuer": idp.issuer, "jwks_uri": format!("{}/jwks", idp.issuer)}),
        ));
        idp.set_keys(Answer::Slow(delay, jwks(&[key(k)])));
        idps.push(idp);
    }
    let cfg = config(
        &pool,
        &[idps[0].entry("idp-a"), idps[1].entry("idp-b")],
        "2000",
    );
    let started = Instant::now();
    let a = Authorizer::from_config(&cfg).await.unwrap();
    let took = started.elapsed();
    assert!(took >= 2 * delay, "{took:?}");
    assert!(took < Duration::from_millis(1000), "sequential? {took:?}");
    assert!(decide(&a, &idps[1].token(key("b-k"))).await.is_ok());
}
