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

async fn decide(a: &Authorizer, token: &str) -> Result<authorizer::AuthorizerResponse, Rejection> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
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
    let sub = response.context.sub.clone().unwrap();
    assert_eq!(response.principal_id, sub);
    assert_eq!(response.context.owner, sub);
    assert_eq!(
        response.context.client_id.as_deref(),
        Some(pool.client_id.as_str())
    );
    assert_eq!(response.context.username.as_deref(), Some("alice"));
    assert_eq!(
        response.context.permissions,
        "items:read items:write items:delete"
    );
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

    assert_eq!(
        decide(&a, &pool.access_token).await.unwrap_err(),
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
