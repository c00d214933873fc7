//! The authorizer against moto server's Cognito, through the real AWS SDK:
//! a pool, an app client and a user are created, the user signs in with
//! `USER_PASSWORD_AUTH`, and the production authorizer (JWKS over HTTP from
//! moto, `GetUser` for revocation) judges the tokens.
//!
//! Run through `scripts/with-moto.sh`, which starts moto and points the SDK's
//! standard environment (`AWS_ENDPOINT_URL`, region, dummy credentials) at it.

// Test code: a panic is how a failure is reported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{SystemTime, UNIX_EPOCH};

use authorizer::testkit::sign_in_new_user;
use authorizer::{Authorizer, AuthorizerEvent, Config, Failure, Rejection};
use aws_sdk_cognitoidentityprovider::Client;

const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/items";

/// The stand-in's endpoint. Refuses to run without one: these tests must
/// never reach the real cloud.
fn moto_endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost") => {
            url
        }
        _ => panic!(
            "AWS_ENDPOINT_URL must point at a local moto server: run these tests through scripts/with-moto.sh"
        ),
    }
}

struct Pool {
    client: Client,
    pool_id: String,
    client_id: String,
    access_token: String,
    id_token: String,
}

async fn pool_with_signed_in_user(name: &str) -> Pool {
    moto_endpoint();
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = Client::new(&sdk);
    let s = sign_in_new_user(&client, name, "alice").await.unwrap();
    Pool {
        client,
        pool_id: s.pool_id,
        client_id: s.client_id,
        access_token: s.access_token,
        id_token: s.id_token,
    }
}

async fn authorizer_for(pool: &Pool, check_revocation: bool) -> Authorizer {
    let jwks_uri = format!("{}/{}/.well-known/jwks.json", moto_endpoint(), pool.pool_id);
    let vars = [
        ("COGNITO_USER_POOL_ID", pool.pool_id.clone()),
        ("COGNITO_CLIENT_IDS", pool.client_id.clone()),
        ("JWKS_URI", jwks_uri),
        ("CHECK_REVOCATION", check_revocation.to_string()),
    ];
    let config = Config::from_pairs(&vars).unwrap();
    Authorizer::from_config(&config).await.unwrap()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

async fn decide(a: &Authorizer, token: &str) -> Result<authorizer::AuthorizerResponse, Rejection> {
    decide_at(a, token, unix_now()).await
}

async fn decide_at(
    a: &Authorizer,
    token: &str,
    now: f64,
) -> Result<authorizer::AuthorizerResponse, Rejection> {
    match a
        .authorize(&AuthorizerEvent::token(format!("Bearer {token}"), ARN), now)
        .await
    {
        Ok(r) => Ok(r),
        Err(Failure::Unauthorized(why)) => Err(why),
        Err(other) => panic!("unexpected failure {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_users_access_token_is_allowed_and_the_id_token_refused() {
    let pool = pool_with_signed_in_user("e2e-allow").await;
    let a = authorizer_for(&pool, false).await;

    let response = decide(&a, &pool.access_token).await.unwrap();
    let context = serde_json::to_value(&response.context).unwrap();
    let sub = context["sub"].as_str().unwrap();
    assert_eq!(response.principal_id, format!("user:{sub}"));
    assert_eq!(context["owner"], response.principal_id);
    assert_eq!(context["clientId"], pool.client_id);
    assert_eq!(context["username"], "alice");
    assert_eq!(
        context["permissions"],
        "items:read items:write items:delete"
    );
    assert!(context["expiresAt"].as_u64().unwrap() > 1_700_000_000);
    assert!(
        policies::evaluate(
            &response.policy_document,
            policies::INVOKE_ACTION,
            "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/DELETE/items/x"
        )
        .is_allowed()
    );

    assert_eq!(
        decide(&a, &pool.id_token).await.unwrap_err(),
        Rejection::WrongTokenUse {
            got: "id".into(),
            expected: "access"
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_another_pool_or_client_are_refused() {
    let ours = pool_with_signed_in_user("e2e-ours").await;
    let theirs = pool_with_signed_in_user("e2e-theirs").await;
    let a = authorizer_for(&ours, false).await;
    // moto signs every pool with the same key, so only the claim checks stand
    // between another pool's token and this API: exactly what they are for.
    let why = decide(&a, &theirs.access_token).await.unwrap_err();
    assert!(
        matches!(why, Rejection::WrongIssuer { ref iss } if iss.ends_with(&theirs.pool_id)),
        "{why:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_revocation_checks_a_token_is_refused_after_global_sign_out() {
    let pool = pool_with_signed_in_user("e2e-revoke").await;
    let a = authorizer_for(&pool, true).await;
    assert!(decide(&a, &pool.access_token).await.is_ok());

    pool.client
        .global_sign_out()
        .access_token(&pool.access_token)
        .send()
        .await
        .unwrap();

    // This instance asked Cognito a moment ago: its answer stands for at most
    // STILL_VALID_TTL (the documented bound on how long a sign-out takes).
    let now = unix_now();
    assert!(decide_at(&a, &pool.access_token, now).await.is_ok());
    let later = now + authorizer::jwt::revocation::STILL_VALID_TTL;
    assert_eq!(
        decide_at(&a, &pool.access_token, later).await.unwrap_err(),
        Rejection::Revoked
    );
    // An instance that never asked refuses at once.
    let fresh = authorizer_for(&pool, true).await;
    assert_eq!(
        decide(&fresh, &pool.access_token).await.unwrap_err(),
        Rejection::Revoked
    );
    // Without the check the signature alone would still pass: the check is
    // what makes the difference.
    let unchecked = authorizer_for(&pool, false).await;
    assert!(decide(&unchecked, &pool.access_token).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_revocation_checks_an_unreachable_cognito_fails_closed() {
    let pool = pool_with_signed_in_user("e2e-unreachable").await;
    let jwks_uri = format!("{}/{}/.well-known/jwks.json", moto_endpoint(), pool.pool_id);
    let vars = [
        ("COGNITO_USER_POOL_ID", pool.pool_id.clone()),
        ("COGNITO_CLIENT_IDS", pool.client_id.clone()),
        ("JWKS_URI", jwks_uri),
        ("CHECK_REVOCATION", "true".to_owned()),
    ];
    let config = Config::from_pairs(&vars).unwrap();
    // The JWKS still comes from moto; Cognito's API is pointed at a closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(dead)
        .load()
        .await;
    let a = authorizer::AuthorizerBuilder::new(&config)
        .jwks_source(std::sync::Arc::new(
            authorizer::jwt::https::HttpJwksSource::new(
                config.cognito.as_ref().unwrap().jwks_uri.clone(),
                config.jwks_timeout,
                true,
            )
            .unwrap(),
        ))
        .revocation(std::sync::Arc::new(
            authorizer::jwt::revocation::CognitoRevocation::new(Client::new(&sdk)),
        ))
        .build();
    assert_eq!(
        decide(&a, &pool.access_token).await.unwrap_err(),
        Rejection::RevocationUnavailable
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_usage_key_is_read_from_its_secret_at_cold_start() {
    let pool = pool_with_signed_in_user("e2e-usage-key").await;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = format!("users-usage-key-{}", pool.pool_id);
    secrets
        .create_secret()
        .name(&name)
        .secret_string("users-usage-key-0123456789")
        .send()
        .await
        .unwrap();
    let jwks_uri = format!("{}/{}/.well-known/jwks.json", moto_endpoint(), pool.pool_id);
    let mut vars = vec![
        ("COGNITO_USER_POOL_ID", pool.pool_id.clone()),
        ("COGNITO_CLIENT_IDS", pool.client_id.clone()),
        ("JWKS_URI", jwks_uri),
        ("USER_USAGE_KEY_SECRET_ID", name.clone()),
    ];
    let a = Authorizer::from_config(&Config::from_pairs(&vars).unwrap())
        .await
        .unwrap();
    let r = decide(&a, &pool.access_token).await.unwrap();
    assert_eq!(
        r.usage_identifier_key.as_deref(),
        Some("users-usage-key-0123456789")
    );

    // A secret that is missing, or holds no usage key, fails the cold start
    // with the variable's name.
    vars[3].1 = format!("{name}-missing");
    let err = Authorizer::from_config(&Config::from_pairs(&vars).unwrap())
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("USER_USAGE_KEY_SECRET_ID: "),
        "{err}"
    );
    secrets
        .create_secret()
        .name(format!("{name}-bad"))
        .secret_string("has spaces and is short")
        .send()
        .await
        .unwrap();
    vars[3].1 = format!("{name}-bad");
    let err = Authorizer::from_config(&Config::from_pairs(&vars).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, authorizer::StartupError::BadUserUsageKey),
        "{err}"
    );
    assert!(!err.to_string().contains("has spaces"));
}

/// A loopback endpoint that accepts connections and never answers.
fn black_hole() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_aws_endpoint_is_a_bounded_refusal_not_a_lambda_timeout() {
    let (_listener, url) = black_hole();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .timeout_config(authorizer::handler::sdk_timeouts())
        .load()
        .await;
    let started = std::time::Instant::now();
    let revocation = authorizer::jwt::revocation::CognitoRevocation::new(Client::new(&sdk));
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        authorizer::jwt::revocation::RevocationCheck::check(&revocation, "a.b.c"),
    )
    .await
    .expect("the Cognito call was not bounded");
    assert_eq!(answer, Err(Rejection::RevocationUnavailable));
    // Well within the function's 5 s timeout.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let started = std::time::Instant::now();
    let store = authorizer::apikey::store::SecretsManagerStore::new(
        aws_sdk_secretsmanager::Client::new(&sdk),
        "registry",
    );
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        authorizer::apikey::store::SecretStore::read(&store),
    )
    .await
    .expect("the Secrets Manager call was not bounded");
    assert!(read.is_err());
    // Both within the function's 5 s timeout, together.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
