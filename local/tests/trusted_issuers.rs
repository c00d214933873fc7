//! `--trusted-issuers` in the local stack: an OpenID provider on loopback
//! (discovery and JWKS served by the test, tokens signed by a key it
//! generates) trusted beside the development identity provider. Its
//! principals create and read items in their own namespace, a token for
//! another audience gets the gateway's 401, and the development IdP's users
//! keep working without seeing their items.
// Test code: a failed unwrap is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use authorizer::jwt::token::SigAlg;
use authorizer::testkit::{SigningKey, jwks, oidc_claims, sign_typed};
use axum::Router;
use axum::routing::get;
use clap::Parser;
use local::config::{Cli, StackConfig};
use local::server::{Stack, unix_now};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// An OpenID provider on loopback: its issuer URL, and how often its
/// discovery document was read.
async fn provider(key: &SigningKey) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let discovery = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")}).to_string();
    let keys = jwks(&[key]).to_string();
    let counter = Arc::clone(&hits);
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = discovery.clone();
                async move { ([("content-type", "application/json")], body) }
            }),
        )
        .route(
            "/jwks",
            get(move || {
                let body = keys.clone();
                async move { ([("content-type", "application/json")], body) }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (issuer, hits)
}

async fn send(
    client: &Client,
    stack: &Stack,
    method: reqwest::Method,
    path: &str,
    auth: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client
        .request(method, format!("{}{path}", stack.url()))
        .header("Authorization", auth);
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_issuers_principal_works_beside_the_development_idp() {
    let key = SigningKey::rsa("op-1", SigAlg::RS256).unwrap();
    let (issuer, discovered) = provider(&key).await;
    let trusted = json!([{"alias": "op", "issuer": issuer, "audiences": ["api://items"],
                          "requiredTyp": "at+jwt"}])
    .to_string();
    // Through the flag, as a developer passes it.
    let cli = Cli::try_parse_from([
        "local",
        "--addr",
        "127.0.0.1:0",
        "--trusted-issuers",
        &trusted,
    ])
    .unwrap();
    let config: StackConfig = cli.serve.into_config().unwrap();
    let stack = Stack::start(config).await.unwrap();
    assert_eq!(discovered.load(Ordering::SeqCst), 1, "discovered at start");
    let client = Client::new();

    let token = |aud: &str| {
        let claims = oidc_claims(
            &issuer,
            aud,
            "op-app",
            "svc-7",
            "items/read items/write",
            unix_now(),
        );
        format!("Bearer {}", sign_typed(&key, "at+jwt", &claims).unwrap())
    };
    let op = token("api://items");
    let (status, created) = send(
        &client,
        &stack,
        reqwest::Method::POST,
        "/items",
        &op,
        Some(json!({"name": "from the provider"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, read) = send(
        &client,
        &stack,
        reqwest::Method::GET,
        &format!("/items/{id}"),
        &op,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["name"], "from the provider");
    // items/delete was not granted.
    let (status, _) = send(
        &client,
        &stack,
        reqwest::Method::DELETE,
        &format!("/items/{id}"),
        &op,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A token for another audience: the authorizer refuses, the gateway 401s.
    let (status, _) = send(
        &client,
        &stack,
        reqwest::Method::GET,
        "/items",
        &token("api://billing"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The development IdP's user works, in its own namespace.
    let alice = format!(
        "Bearer {}",
        stack.mint("svc-7", &[], None).unwrap().unwrap()
    );
    let (status, list) = send(
        &client,
        &stack,
        reqwest::Method::GET,
        "/items",
        &alice,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"], json!([]), "user:svc-7 is not oidc:op:svc-7");
    let (status, _) = send(
        &client,
        &stack,
        reqwest::Method::GET,
        &format!("/items/{id}"),
        &alice,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    stack.shutdown().await.unwrap();
}
