//! The verifier against a real JWKS HTTP server on loopback, through the
//! production HTTPS source (plain http allowed because `JWKS_URI` says so):
//! rotation, the refresh rate limit, and a server that is down, slow, or
//! answers garbage.

// Test code: a panic is how a failure is reported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use authorizer::jwt::https::{FetchError, HttpJwksSource, JwksSource};
use authorizer::jwt::token::SigAlg;
use authorizer::testkit::{SigningKey, access_claims, jwks};
use authorizer::{Authorizer, AuthorizerBuilder, AuthorizerEvent, Config, Failure, Rejection};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

const POOL: &str = "us-east-1_JwksTest1";
const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_JwksTest1";
const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/items";

#[derive(Clone)]
enum Mode {
    Serve(String),
    Down,
    Slow(Duration, String),
    Garbage,
    Huge,
}

#[derive(Clone)]
struct Server {
    mode: Arc<Mutex<Mode>>,
    hits: Arc<AtomicUsize>,
}

async fn jwks_route(State(server): State<Server>) -> Response {
    server.hits.fetch_add(1, Ordering::SeqCst);
    let mode = server.mode.lock().unwrap().clone();
    match mode {
        Mode::Serve(body) => ([("content-type", "application/json")], body).into_response(),
        Mode::Down => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Mode::Slow(delay, body) => {
            tokio::time::sleep(delay).await;
            body.into_response()
        }
        Mode::Garbage => "<html>not json</html>".into_response(),
        Mode::Huge => {
            format!("{{\"keys\": [], \"pad\": \"{}\"}}", "x".repeat(200_000)).into_response()
        }
    }
}

impl Server {
    async fn start(mode: Mode) -> (Self, String) {
        let server = Server {
            mode: Arc::new(Mutex::new(mode)),
            hits: Arc::new(AtomicUsize::new(0)),
        };
        let app = Router::new()
            .route("/jwks.json", get(jwks_route))
            .with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (server, url)
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn key(kid: &str) -> &'static SigningKey {
    static KEYS: OnceLock<(SigningKey, SigningKey)> = OnceLock::new();
    let (a, b) = KEYS.get_or_init(|| {
        (
            SigningKey::rsa("kid-a", SigAlg::RS256).unwrap(),
            SigningKey::rsa("kid-b", SigAlg::RS256).unwrap(),
        )
    });
    if kid == "kid-a" { a } else { b }
}

fn config(jwks_uri: &str, timeout_ms: &str) -> Config {
    let vars = [
        ("COGNITO_USER_POOL_ID", POOL),
        ("COGNITO_CLIENT_IDS", "client1"),
        ("JWKS_URI", jwks_uri),
        ("JWKS_TIMEOUT_MS", timeout_ms),
    ];
    Config::from_pairs(&vars).unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(kid: &str) -> String {
    key(kid)
        .sign(&access_claims(
            ISSUER,
            "client1",
            "user-1",
            "aws.cognito.signin.user.admin",
            &[],
            now(),
        ))
        .unwrap()
}

async fn decide(a: &Authorizer, token: &str) -> Result<(), Rejection> {
    match a
        .authorize(
            &AuthorizerEvent::token(format!("Bearer {token}"), ARN),
            now() as f64,
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(Failure::Unauthorized(why)) => Err(why),
        Err(other) => panic!("unexpected failure {other:?}"),
    }
}

/// 50 tokens with made-up `kid`s (signed by a real key), decided all at once.
async fn fifty_made_up_kids(a: &Arc<Authorizer>) -> Vec<Result<(), Rejection>> {
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let a = a.clone();
            tokio::spawn(async move {
                let header = json!({"alg": "RS256", "kid": format!("made-up-{i}")});
                let claims = access_claims(
                    ISSUER,
                    "client1",
                    "u",
                    "aws.cognito.signin.user.admin",
                    &[],
                    now(),
                );
                decide(
                    &a,
                    &key("kid-a").sign_with_header(&header, &claims).unwrap(),
                )
                .await
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    results
}

fn serve(keys: &[&SigningKey]) -> Mode {
    Mode::Serve(jwks(keys).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_production_wiring_fetches_at_start_and_verifies() {
    let (server, url) = Server::start(serve(&[key("kid-a")])).await;
    let a = Authorizer::from_config(&config(&url, "1500"))
        .await
        .unwrap();
    assert_eq!(server.hits(), 1, "fetched once at cold start");
    assert_eq!(decide(&a, &token("kid-a")).await, Ok(()));
    assert_eq!(server.hits(), 1, "known keys need no fetch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_picked_up_and_the_retired_one_dropped() {
    let (server, url) = Server::start(serve(&[key("kid-a")])).await;
    let cfg = config(&url, "1500");
    let source =
        HttpJwksSource::new(url.parse().unwrap(), Duration::from_millis(1500), true).unwrap();
    let a = AuthorizerBuilder::new(&cfg)
        .jwks_source(Arc::new(source))
        .jwks_cooldown(Duration::from_millis(200))
        .build();
    a.warm_up().await;
    assert_eq!(decide(&a, &token("kid-a")).await, Ok(()));

    server.set(serve(&[key("kid-b")]));
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(decide(&a, &token("kid-b")).await, Ok(()));
    assert_eq!(server.hits(), 2);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        decide(&a, &token("kid-a")).await,
        Err(Rejection::UnknownKid {
            kid: "kid-a".into()
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_random_kids_cause_at_most_one_fetch_per_cooldown() {
    let (server, url) = Server::start(serve(&[key("kid-a")])).await;
    let a = Arc::new(
        Authorizer::from_config(&config(&url, "1500"))
            .await
            .unwrap(),
    );
    // Let the cold-start fetch's cool-down pass would take 10 s; instead show
    // that within it, 50 made-up kids, all at once, fetch nothing more.
    for (i, result) in fifty_made_up_kids(&a).await.into_iter().enumerate() {
        assert_eq!(
            result,
            Err(Rejection::UnknownKid {
                kid: format!("made-up-{i}")
            })
        );
    }
    assert_eq!(server.hits(), 1);
    assert_eq!(decide(&a, &token("kid-a")).await, Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_random_kids_on_a_cold_cache_cause_exactly_one_fetch() {
    let (server, url) = Server::start(serve(&[key("kid-a")])).await;
    let cfg = config(&url, "1500");
    let source =
        HttpJwksSource::new(url.parse().unwrap(), Duration::from_millis(1500), true).unwrap();
    // No warm-up: every request arrives at an empty cache at once.
    let a = Arc::new(
        AuthorizerBuilder::new(&cfg)
            .jwks_source(Arc::new(source))
            .build(),
    );
    for result in fifty_made_up_kids(&a).await {
        assert!(matches!(result, Err(Rejection::UnknownKid { .. })));
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_server_that_is_down_keeps_the_known_keys() {
    let (server, url) = Server::start(serve(&[key("kid-a")])).await;
    let cfg = config(&url, "1500");
    let source =
        HttpJwksSource::new(url.parse().unwrap(), Duration::from_millis(1500), true).unwrap();
    let a = AuthorizerBuilder::new(&cfg)
        .jwks_source(Arc::new(source))
        .jwks_cooldown(Duration::ZERO)
        .build();
    a.warm_up().await;
    server.set(Mode::Down);
    assert_eq!(
        decide(&a, &token("kid-b")).await,
        Err(Rejection::UnknownKid {
            kid: "kid-b".into()
        })
    );
    assert_eq!(server.hits(), 2, "the refresh was tried");
    assert_eq!(decide(&a, &token("kid-a")).await, Ok(()), "old keys kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_start_with_the_jwks_unreachable_is_not_fatal() {
    // Nothing listens on this port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    drop(listener);
    let a = Authorizer::from_config(&config(&url, "500")).await.unwrap();
    assert_eq!(
        decide(&a, &token("kid-a")).await,
        Err(Rejection::UnknownKid {
            kid: "kid-a".into()
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_jwks_server_is_cut_off_at_the_timeout() {
    let (_server, url) = Server::start(Mode::Slow(
        Duration::from_secs(5),
        jwks(&[key("kid-a")]).to_string(),
    ))
    .await;
    let source =
        HttpJwksSource::new(url.parse().unwrap(), Duration::from_millis(300), true).unwrap();
    let started = Instant::now();
    let result = source.fetch().await;
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(FetchError::Transport(ref e)) if e.is_timeout()),
        "{result:?}"
    );
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");

    // And through the authorizer: the request is refused in bounded time.
    let started = Instant::now();
    let a = Authorizer::from_config(&config(&url, "300")).await.unwrap();
    assert_eq!(
        decide(&a, &token("kid-a")).await,
        Err(Rejection::UnknownKid {
            kid: "kid-a".into()
        })
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_oversized_answers_are_refused_and_change_nothing() {
    let (server, url) = Server::start(serve(&[key("kid-a")])).await;
    let source =
        HttpJwksSource::new(url.parse().unwrap(), Duration::from_millis(1500), true).unwrap();
    let cfg = config(&url, "1500");
    let a = AuthorizerBuilder::new(&cfg)
        .jwks_source(Arc::new(source.clone()))
        .jwks_cooldown(Duration::ZERO)
        .build();
    a.warm_up().await;

    server.set(Mode::Garbage);
    let body = source.fetch().await.unwrap();
    assert!(serde_json::from_slice::<Value>(&body).is_err());
    assert_eq!(
        decide(&a, &token("kid-b")).await,
        Err(Rejection::UnknownKid {
            kid: "kid-b".into()
        })
    );

    server.set(Mode::Huge);
    assert!(matches!(source.fetch().await, Err(FetchError::TooLarge)));

    server.set(Mode::Serve(
        json!({"keys": [{"kty": "oct", "kid": "kid-b", "k": "c2VjcmV0"}]}).to_string(),
    ));
    assert_eq!(
        decide(&a, &token("kid-b")).await,
        Err(Rejection::UnknownKid {
            kid: "kid-b".into()
        })
    );

    assert_eq!(
        decide(&a, &token("kid-a")).await,
        Ok(()),
        "old keys kept throughout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_is_refused_unless_configured() {
    let (server, url) = Server::start(serve(&[key("kid-a")])).await;
    let source =
        HttpJwksSource::new(url.parse().unwrap(), Duration::from_millis(1500), false).unwrap();
    assert!(matches!(
        source.fetch().await,
        Err(FetchError::Transport(_))
    ));
    assert_eq!(server.hits(), 0);
}
