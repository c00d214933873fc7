//! The local stack driven over real HTTP with reqwest: each test starts its
//! own stack in process on a free loopback port and counts authorizer calls
//! through the gateway.
// Test code: a failed unwrap is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use authorizer::BoxFuture;
use authorizer::{AuthorizerEvent, AuthorizerResponse, HandlerError};
use local::config::StackConfig;
use local::gateway::Authorize;
use local::server::Stack;
use local::usage::Rate;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

fn config() -> StackConfig {
    StackConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..StackConfig::default()
    }
}

async fn start(config: StackConfig) -> (Stack, Client) {
    (Stack::start(config).await.unwrap(), Client::new())
}

fn bearer(stack: &Stack, sub: &str, groups: &[&str], scope: Option<&str>) -> String {
    format!(
        "Bearer {}",
        stack.mint(sub, groups, scope).unwrap().unwrap()
    )
}

fn partner(stack: &Stack) -> String {
    format!("ApiKey {}", stack.partner_key().unwrap())
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn call(
    client: &Client,
    stack: &Stack,
    method: Method,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut request = client.request(method, format!("{}{path}", stack.url()));
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// Create, read, list, replace, patch and delete, and return the number of
/// requests made.
async fn crud_flow(client: &Client, stack: &Stack, auth: &str) -> usize {
    let created = call(
        client,
        stack,
        Method::POST,
        "/items",
        Some(auth),
        Some(json!({"name": "milk", "tags": ["shopping"]})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.headers["location"], format!("items/{id}"));
    assert_eq!(created.headers["etag"], "\"1\"");

    let got = call(
        client,
        stack,
        Method::GET,
        &format!("/items/{id}"),
        Some(auth),
        None,
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["name"], "milk");

    let listed = call(
        client,
        stack,
        Method::GET,
        "/items?limit=10",
        Some(auth),
        None,
    )
    .await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["nextCursor"], Value::Null);

    let put = client
        .put(format!("{}/items/{id}", stack.url()))
        .header("Authorization", auth)
        .header("Content-Type", "application/json")
        .header("If-Match", "\"1\"")
        .body(json!({"name": "oat milk"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);

    let patched = client
        .patch(format!("{}/items/{id}", stack.url()))
        .header("Authorization", auth)
        .header("Content-Type", "application/merge-patch+json")
        .body(json!({"description": "2 litres"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["name"], "oat milk");
    assert_eq!(patched["version"], 3);

    let stale = client
        .delete(format!("{}/items/{id}", stack.url()))
        .header("Authorization", auth)
        .header("If-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);
    let deleted = call(
        client,
        stack,
        Method::DELETE,
        &format!("/items/{id}"),
        Some(auth),
        None,
    )
    .await;
    assert_eq!(deleted.status, 204);
    let gone = call(
        client,
        stack,
        Method::GET,
        &format!("/items/{id}"),
        Some(auth),
        None,
    )
    .await;
    assert_eq!(gone.status, 404);
    9
}

#[tokio::test]
async fn a_user_token_goes_through_the_whole_crud_flow_with_one_authorizer_call() {
    let (stack, client) = start(config()).await;
    let alice = bearer(&stack, "alice", &[], None);
    crud_flow(&client, &stack, &alice).await;
    // Nine requests on five different method ARNs: one cached policy answered them all.
    assert_eq!(stack.authorizer_calls(), 1);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_partner_key_goes_through_the_whole_crud_flow() {
    let (stack, client) = start(config()).await;
    let key = partner(&stack);
    crud_flow(&client, &stack, &key).await;
    assert_eq!(stack.authorizer_calls(), 1);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_missing_empty_or_non_canonical_identity_source_is_401_without_calling_the_authorizer() {
    let (stack, client) = start(config()).await;
    let alice = bearer(&stack, "alice", &[], None);
    let token = alice.strip_prefix("Bearer ").unwrap();
    let key = stack.partner_key().unwrap();
    let spellings = [
        format!("bearer {token}"),
        format!("BEARER {token}"),
        format!("Bearer  {token}"),
        format!("Bearer\t{token}"),
        format!("apikey {key}"),
        format!("ApiKey  {key}"),
        format!("Bearer {key}"),
        key.to_owned(),
        "Basic dXNlcjpwYXNz".to_owned(),
    ];
    let mut values: Vec<Option<&str>> = vec![None, Some(""), Some("   ")];
    values.extend(spellings.iter().map(|s| Some(s.as_str())));
    for auth in values {
        let r = call(&client, &stack, Method::GET, "/items", auth, None).await;
        assert_eq!(r.status, 401);
        assert_eq!(
            r.body,
            json!({"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "Unauthorized"})
        );
        assert_eq!(r.headers["www-authenticate"], "Bearer");
        assert!(r.headers.contains_key("x-amzn-requestid"));
        assert_eq!(r.headers["access-control-allow-origin"], "*");
    }
    assert_eq!(stack.authorizer_calls(), 0);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_unauthorized_answer_is_401_and_is_not_cached() {
    let (stack, client) = start(config()).await;
    let made_up = format!("ApiKey pk_abcdefghijkl_{}", "A".repeat(40));
    for auth in ["Bearer not.a.jwt", "Bearer not.a.jwt", made_up.as_str()] {
        let r = call(&client, &stack, Method::GET, "/items", Some(auth), None).await;
        assert_eq!(r.status, 401, "{auth}");
    }
    // API Gateway caches policies only: every refused credential is asked again.
    assert_eq!(stack.authorizer_calls(), 3);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_token_for_another_client_or_a_made_up_key_is_401() {
    let (stack, client) = start(config()).await;
    let made_up = format!("ApiKey pk_abcdefghijkl_{}", "A".repeat(40));
    let r = call(&client, &stack, Method::GET, "/items", Some(&made_up), None).await;
    assert_eq!(r.status, 401);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_readonly_user_reads_but_is_denied_writes_by_the_cached_policy() {
    let (stack, client) = start(config()).await;
    let bob = bearer(&stack, "bob", &["readonly"], None);
    let r = call(&client, &stack, Method::GET, "/items", Some(&bob), None).await;
    assert_eq!(r.status, 200);
    for (method, path) in [
        (Method::POST, "/items"),
        (Method::PUT, "/items/x"),
        (Method::PATCH, "/items/x"),
        (Method::DELETE, "/items/x"),
    ] {
        let r = call(
            &client,
            &stack,
            method,
            path,
            Some(&bob),
            Some(json!({"name": "n"})),
        )
        .await;
        assert_eq!(r.status, 403);
        assert_eq!(
            r.body["detail"],
            "User is not authorized to access this resource"
        );
        assert_eq!(r.headers["x-amzn-errortype"], "AccessDeniedException");
    }
    assert_eq!(stack.authorizer_calls(), 1);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_principal_with_no_permission_gets_the_explicit_deny() {
    let (stack, client) = start(config()).await;
    let nobody = bearer(&stack, "nobody", &[], Some("openid"));
    for _ in 0..2 {
        let r = call(&client, &stack, Method::GET, "/items", Some(&nobody), None).await;
        assert_eq!(r.status, 403);
        assert_eq!(
            r.body["detail"],
            "User is not authorized to access this resource with an explicit deny"
        );
    }
    // The Deny policy is a policy: cached like an Allow.
    assert_eq!(stack.authorizer_calls(), 1);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn scopes_grant_exactly_their_permission() {
    let (stack, client) = start(config()).await;
    let reader = bearer(&stack, "svc", &[], Some("items/read"));
    let r = call(&client, &stack, Method::GET, "/items", Some(&reader), None).await;
    assert_eq!(r.status, 200);
    let r = call(
        &client,
        &stack,
        Method::POST,
        "/items",
        Some(&reader),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(r.status, 403);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_cached_policy_answers_other_routes_and_each_token_has_its_own_entry() {
    let (stack, client) = start(config()).await;
    let alice = bearer(&stack, "alice", &[], None);
    let carol = bearer(&stack, "carol", &[], None);
    for path in ["/items", "/items/a", "/items/b", "/items?limit=5"] {
        call(&client, &stack, Method::GET, path, Some(&alice), None).await;
    }
    assert_eq!(stack.authorizer_calls(), 1);
    call(
        &client,
        &stack,
        Method::DELETE,
        "/items/a",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(stack.authorizer_calls(), 1);
    call(&client, &stack, Method::GET, "/items", Some(&carol), None).await;
    assert_eq!(stack.authorizer_calls(), 2);
    // The key is the header's whole value: the bare token, the one other
    // accepted spelling, is another entry; any other spelling never gets
    // to the authorizer at all.
    let bare = alice.strip_prefix("Bearer ").unwrap();
    let r = call(&client, &stack, Method::GET, "/items", Some(bare), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(stack.authorizer_calls(), 3);
    let alice_lower = alice.replacen("Bearer", "bearer", 1);
    let r = call(
        &client,
        &stack,
        Method::GET,
        "/items",
        Some(&alice_lower),
        None,
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(stack.authorizer_calls(), 3);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_zero_ttl_calls_the_authorizer_for_every_request() {
    let (stack, client) = start(StackConfig {
        cache_ttl: Duration::ZERO,
        ..config()
    })
    .await;
    let alice = bearer(&stack, "alice", &[], None);
    for _ in 0..3 {
        let r = call(&client, &stack, Method::GET, "/items", Some(&alice), None).await;
        assert_eq!(r.status, 200);
    }
    assert_eq!(stack.authorizer_calls(), 3);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_users_are_isolated_from_each_other() {
    let (stack, client) = start(config()).await;
    let alice = bearer(&stack, "alice", &[], None);
    let carol = bearer(&stack, "carol", &[], None);
    let created = call(
        &client,
        &stack,
        Method::POST,
        "/items",
        Some(&alice),
        Some(json!({"name": "secret"})),
    )
    .await;
    assert_eq!(created.status, 201);
    let id = created.body["id"].as_str().unwrap();
    let path = format!("/items/{id}");
    assert_eq!(
        call(&client, &stack, Method::GET, &path, Some(&carol), None)
            .await
            .status,
        404
    );
    assert_eq!(
        call(&client, &stack, Method::DELETE, &path, Some(&carol), None)
            .await
            .status,
        404
    );
    let listed = call(&client, &stack, Method::GET, "/items", Some(&carol), None).await;
    assert_eq!(listed.body["items"], json!([]));
    // The partner is a third namespace.
    let listed = call(
        &client,
        &stack,
        Method::GET,
        "/items",
        Some(&partner(&stack)),
        None,
    )
    .await;
    assert_eq!(listed.body["items"], json!([]));
    assert_eq!(
        call(&client, &stack, Method::GET, &path, Some(&alice), None)
            .await
            .status,
        200
    );
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_usage_plan_throttles_each_usage_key_with_429_and_leaves_users_alone() {
    let (stack, client) = start(StackConfig {
        usage_plan: Some(Rate {
            per_second: 0.001,
            burst: 3,
        }),
        ..config()
    })
    .await;
    let key = partner(&stack);
    for _ in 0..3 {
        let r = call(&client, &stack, Method::GET, "/items", Some(&key), None).await;
        assert_eq!(r.status, 200);
    }
    let r = call(&client, &stack, Method::GET, "/items", Some(&key), None).await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.body,
        json!({"type": "about:blank", "title": "Too Many Requests", "status": 429, "detail": "Too Many Requests"})
    );
    // Users share the first-party key, whose plan is the stage throttle:
    // the partner plan does not meter them.
    let alice = bearer(&stack, "alice", &[], None);
    for _ in 0..5 {
        let r = call(&client, &stack, Method::GET, "/items", Some(&alice), None).await;
        assert_eq!(r.status, 200);
    }
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_stage_throttle_applies_to_every_caller() {
    let (stack, client) = start(StackConfig {
        stage_throttle: Some(Rate {
            per_second: 0.001,
            burst: 2,
        }),
        ..config()
    })
    .await;
    let alice = bearer(&stack, "alice", &[], None);
    let statuses: Vec<u16> = {
        let mut s = Vec::new();
        for _ in 0..3 {
            s.push(
                call(&client, &stack, Method::GET, "/items", Some(&alice), None)
                    .await
                    .status
                    .as_u16(),
            );
        }
        s
    };
    assert_eq!(statuses, [200, 200, 429]);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_routes_and_methods_are_403_missing_authentication_token() {
    let (stack, client) = start(config()).await;
    let alice = bearer(&stack, "alice", &[], None);
    for (method, path) in [
        (Method::GET, "/"),
        (Method::GET, "/nothing"),
        (Method::GET, "/items/a/b"),
        (Method::DELETE, "/items"),
        (Method::POST, "/items/x"),
    ] {
        let r = call(&client, &stack, method.clone(), path, Some(&alice), None).await;
        assert_eq!(r.status, 403, "{method} {path}");
        assert_eq!(r.body["detail"], "Missing Authentication Token");
        assert_eq!(r.body["errorType"], "MISSING_AUTHENTICATION_TOKEN");
    }
    assert_eq!(stack.authorizer_calls(), 0);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_preflight_is_answered_without_credentials_per_the_template() {
    let (stack, client) = start(StackConfig {
        cors_origin: "http://localhost:5173".into(),
        ..config()
    })
    .await;
    for path in ["/items", "/items/x"] {
        let r = client
            .request(Method::OPTIONS, format!("{}{path}", stack.url()))
            .header("Origin", "http://localhost:5173")
            .header("Access-Control-Request-Method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], "http://localhost:5173");
        assert_eq!(
            h["access-control-allow-methods"],
            "GET,POST,PUT,PATCH,DELETE,OPTIONS"
        );
        assert_eq!(
            h["access-control-allow-headers"],
            "Authorization,Content-Type,If-Match,Idempotency-Key"
        );
        assert_eq!(h["access-control-max-age"], "600");
    }
    let r = call(&client, &stack, Method::OPTIONS, "/nothing", None, None).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "http://localhost:5173"
    );
    assert_eq!(stack.authorizer_calls(), 0);
    stack.shutdown().await.unwrap();
}

/// An authorizer that fails the way a crashed or misconfigured Lambda does.
struct Broken;

impl Authorize for Broken {
    fn authorize(
        &self,
        _event: AuthorizerEvent,
    ) -> BoxFuture<'_, Result<AuthorizerResponse, HandlerError>> {
        Box::pin(async { Err(HandlerError::Internal) })
    }
}

#[tokio::test]
async fn any_other_authorizer_failure_is_a_500_and_is_not_cached() {
    let stack = Stack::start_with(config(), |_real| Arc::new(Broken))
        .await
        .unwrap();
    let client = Client::new();
    for _ in 0..2 {
        let r = call(
            &client,
            &stack,
            Method::GET,
            "/items",
            Some("Bearer x.y.z"),
            None,
        )
        .await;
        assert_eq!(r.status, 500);
        assert_eq!(r.body["detail"], Value::Null);
        assert_eq!(r.body["errorType"], "AUTHORIZER_CONFIGURATION_ERROR");
        assert_eq!(
            r.headers["x-amzn-errortype"],
            "AuthorizerConfigurationException"
        );
    }
    assert_eq!(stack.authorizer_calls(), 2);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_development_idp_mints_tokens_over_http_and_serves_its_jwks() {
    let (stack, client) = start(config()).await;
    let jwks: Value = client
        .get(format!("{}/_dev/jwks.json", stack.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    assert_eq!(jwks["keys"][0]["use"], "sig");

    let minted: Value = client
        .post(format!("{}/_dev/token", stack.url()))
        .json(&json!({"sub": "dave", "groups": ["readonly"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(minted["token_type"], "Bearer");
    let dave = format!("Bearer {}", minted["access_token"].as_str().unwrap());
    let r = call(&client, &stack, Method::GET, "/items", Some(&dave), None).await;
    assert_eq!(r.status, 200);
    let r = call(
        &client,
        &stack,
        Method::POST,
        "/items",
        Some(&dave),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(r.status, 403);

    let bad = client
        .post(format!("{}/_dev/token", stack.url()))
        .json(&json!({"user": "dave"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_token_signed_by_another_key_is_401() {
    let (stack, client) = start(config()).await;
    let (other, _) = start(config()).await;
    let foreign = bearer(&other, "alice", &[], None);
    let r = call(&client, &stack, Method::GET, "/items", Some(&foreign), None).await;
    assert_eq!(r.status, 401);
    other.shutdown().await.unwrap();
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn api_errors_pass_through_as_problem_json() {
    let (stack, client) = start(config()).await;
    let alice = bearer(&stack, "alice", &[], None);
    let r = call(
        &client,
        &stack,
        Method::POST,
        "/items",
        Some(&alice),
        Some(json!({"name": ""})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    let r = client
        .post(format!("{}/items", stack.url()))
        .header("Authorization", &alice)
        .header("Content-Type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    stack.shutdown().await.unwrap();
}

/// Sends raw bytes (what reqwest would normalise away) and returns the status line.
async fn raw(stack: &Stack, request: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(stack.addr()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn odd_paths_hosts_and_queries_get_answers_not_crashes() {
    let (stack, _client) = start(config()).await;
    let alice = bearer(&stack, "alice", &[], None);
    for (target, host) in [
        ("/items/a%22b%ZZ", "127.0.0.1"),
        ("/items/x?limit=%FF&limit=2&cursor=a+b", "127.0.0.1"),
        ("/items?limit=%FF", "bad host:99999"),
        ("/items/%2e%2e", "[::1"),
        ("/items/\u{e9}t\u{e9}", "x:1"),
        // Read as an invalid IPv4 address by the URL parser of lambda_http,
        // which panicked (found by the local_http fuzz target).
        ("/items", "127.d0.0.1"),
        ("/items", "4294967296"),
    ] {
        let line = raw(
            &stack,
            format!(
                "GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {alice}\r\nConnection: close\r\n\r\n"
            ),
        )
        .await;
        assert!(line.starts_with("HTTP/1.1 "), "{target} {host}: {line:?}");
        assert!(!line.starts_with("HTTP/1.1 5"), "{target} {host}: {line:?}");
    }
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_load_generator_runs_a_small_load_without_errors() {
    let (stack, _client) = start(StackConfig {
        // The load generator's own user is not metered; keep the plan out of it anyway.
        usage_plan: None,
        ..config()
    })
    .await;
    let addr = stack.addr().to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .args(["--addr", &addr, "--requests", "2000", "--connections", "4"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("2000 requests over 4 connections"),
        "{stdout}"
    );
    assert!(stdout.contains("errors 0"), "{stdout}");
    // One authorizer call for the item's creation and all 2000 GETs: one token.
    assert_eq!(stack.authorizer_calls(), 1);
    stack.shutdown().await.unwrap();
}

/// An authorizer that allows everything but returns no usage key, as for a
/// partner key issued without `--usage-key`.
struct AllowWithoutUsageKey(Arc<dyn Authorize>);

impl Authorize for AllowWithoutUsageKey {
    fn authorize(
        &self,
        event: AuthorizerEvent,
    ) -> BoxFuture<'_, Result<AuthorizerResponse, HandlerError>> {
        Box::pin(async move {
            let mut response = self.0.authorize(event).await?;
            response.usage_identifier_key = None;
            Ok(response)
        })
    }
}

#[tokio::test]
async fn every_method_requires_an_api_key_so_an_allowed_caller_without_one_gets_403() {
    let stack = Stack::start_with(config(), |real| Arc::new(AllowWithoutUsageKey(real)))
        .await
        .unwrap();
    let client = Client::new();
    let alice = bearer(&stack, "alice", &[], None);
    let r = call(&client, &stack, Method::GET, "/items", Some(&alice), None).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.headers["x-amzn-errortype"], "ForbiddenException");
    assert_eq!(
        r.body,
        json!({"type": "about:blank", "title": "Forbidden", "status": 403, "detail": "Forbidden"})
    );
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_cached_policy_does_not_outlive_its_token() {
    let (stack, client) = start(config()).await;
    // A token that expires two seconds from now, as a client near the end of
    // its token's life sends it.
    let now = local::server::unix_now();
    let token = stack
        .mint_at(
            "late",
            &[],
            None,
            now + 2 - local::idp::TOKEN_LIFETIME_SECONDS,
        )
        .unwrap()
        .unwrap();
    let auth = format!("Bearer {token}");
    let r = call(&client, &stack, Method::GET, "/items", Some(&auth), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    // The gateway still holds the policy (TTL 300 s) and does not ask the
    // authorizer again; the api refuses the expired credential.
    let r = call(
        &client,
        &stack,
        Method::POST,
        "/items",
        Some(&auth),
        Some(json!({"name": "too late"})),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(
        r.headers["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    assert_eq!(r.headers["content-type"], "application/problem+json");
    assert_eq!(stack.authorizer_calls(), 1);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_token_whose_sub_names_the_partner_cannot_touch_the_partners_items() {
    let (stack, client) = start(config()).await;
    let acme = partner(&stack);
    let r = call(
        &client,
        &stack,
        Method::POST,
        "/items",
        Some(&acme),
        Some(json!({"name": "acme's order"})),
    )
    .await;
    assert_eq!(r.status, 201);
    let order = r.body["id"].as_str().unwrap().to_owned();
    let impostor = bearer(&stack, "partner:acme", &[], None);
    let listed = call(
        &client,
        &stack,
        Method::GET,
        "/items",
        Some(&impostor),
        None,
    )
    .await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["items"], json!([]));
    for method in [Method::GET, Method::DELETE] {
        let r = call(
            &client,
            &stack,
            method.clone(),
            &format!("/items/{order}"),
            Some(&impostor),
            None,
        )
        .await;
        assert_eq!(r.status, 404, "{method}");
    }
    let listed = call(&client, &stack, Method::GET, "/items", Some(&acme), None).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_development_idp_refuses_what_a_web_page_can_send() {
    let (stack, client) = start(config()).await;
    let token_url = format!("{}/_dev/token", stack.url());
    let body = json!({"sub": "mallory"}).to_string();
    // DNS rebinding: the page's own name, resolved to 127.0.0.1.
    let r = client
        .post(&token_url)
        .header("Host", "attacker.example:3000")
        .header("Content-Type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A "simple" cross-origin request needs no preflight: refused by type.
    let r = client
        .post(&token_url)
        .header("Content-Type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // The preflight a JSON request needs is refused, without CORS headers.
    let r = client
        .request(Method::OPTIONS, &token_url)
        .header("Origin", "http://127.0.0.1:5173")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(!r.headers().contains_key("access-control-allow-origin"));
    // And a request a browser made anyway carries an Origin.
    let r = client
        .post(&token_url)
        .header("Origin", "http://127.0.0.1:5173")
        .header("Content-Type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = client
        .get(format!("{}/_dev/jwks.json", stack.url()))
        .header("Host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // What local tools send still works.
    let r = client
        .post(&token_url)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    stack.shutdown().await.unwrap();
}

/// `POST /_dev/token` and `GET /_dev/jwks.json` as local tools send them
/// (a loopback `Host`, JSON, no `Origin`): their statuses and bodies.
async fn dev_endpoints(client: &Client, stack: &Stack) -> [(StatusCode, Value); 2] {
    let host = format!("127.0.0.1:{}", stack.addr().port());
    let token = client
        .post(format!("{}/_dev/token", stack.url()))
        .header("Host", &host)
        .header("Content-Type", "application/json")
        .body(json!({"sub": "mallory"}).to_string())
        .send()
        .await
        .unwrap();
    let jwks = client
        .get(format!("{}/_dev/jwks.json", stack.url()))
        .header("Host", &host)
        .send()
        .await
        .unwrap();
    let mut out = Vec::new();
    for r in [token, jwks] {
        out.push((r.status(), r.json::<Value>().await.unwrap()));
    }
    [out[0].clone(), out[1].clone()]
}

/// The development identity provider is off: both its endpoints answer
/// 404 naming `flag`, and partner keys still work.
async fn assert_idp_off(client: &Client, stack: &Stack, flag: &str) {
    assert!(!stack.has_dev_idp());
    assert!(stack.mint("alice", &[], None).is_none());
    for (status, body) in dev_endpoints(client, stack).await {
        assert_eq!(status, 404, "{body}");
        assert!(body["message"].as_str().unwrap().contains(flag), "{body}");
    }
    let r = call(
        client,
        stack,
        Method::GET,
        "/items",
        Some(&partner(stack)),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn with_real_backends_the_development_idp_is_off_unless_asked_for() {
    use clap::Parser;
    use local::config::{Cli, IdpChoice, IdpOff};
    let cli = Cli::try_parse_from(["local", "--table", "items"]).unwrap();
    let off = IdpChoice::Off(IdpOff::RealData);
    assert_eq!(cli.serve.into_config().unwrap().idp, off);
    // Off means off: the /_dev endpoints answer 404 and say why (the memory
    // store stands in for the table here; the choice is what matters).
    let (stack, client) = start(StackConfig {
        idp: off,
        ..config()
    })
    .await;
    assert_idp_off(&client, &stack, "--dev-idp-with-real-backends").await;
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn off_a_loopback_address_the_development_idp_is_off_unless_asked_for_by_name() {
    use local::config::IdpOff;
    // Every interface: what a peer on the network reaches, Host and all.
    let on_network = StackConfig {
        addr: "0.0.0.0:0".parse().unwrap(),
        ..StackConfig::default()
    };
    let (stack, client) = start(on_network.clone()).await;
    assert!(matches!(
        stack.idp_off(),
        Some(IdpOff::NetworkAddress(a)) if a.ip().is_unspecified()
    ));
    assert_idp_off(&client, &stack, "--dev-idp-on-network").await;
    stack.shutdown().await.unwrap();

    // Asked for by name, it mints as on loopback.
    let (stack, client) = start(StackConfig {
        dev_idp_on_network: true,
        ..on_network
    })
    .await;
    assert!(stack.has_dev_idp());
    let [(status, body), (jwks_status, _)] = dev_endpoints(&client, &stack).await;
    assert_eq!(
        (status, jwks_status),
        (StatusCode::OK, StatusCode::OK),
        "{body}"
    );
    let token = body["access_token"].as_str().unwrap();
    let r = call(
        &client,
        &stack,
        Method::GET,
        "/items",
        Some(&format!("Bearer {token}")),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (stack, _) = start(StackConfig {
        header_read_timeout: Duration::from_millis(300),
        ..config()
    })
    .await;
    let mut tcp = tokio::net::TcpStream::connect(stack.addr()).await.unwrap();
    tcp.write_all(b"GET /items HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();
    let mut buf = Vec::new();
    // The server closes (or answers 408) instead of waiting forever.
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection was held open");
    stack.shutdown().await.unwrap();
}

/// Sends `head` and then `pieces` of the body, `gap` apart, and reads the
/// answer until the server closes (at most 5 s): the answer's text.
async fn trickle(stack: &Stack, head: &str, pieces: &[&str], gap: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(stack.addr()).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    for piece in pieces {
        tokio::time::sleep(gap).await;
        tcp.write_all(piece.as_bytes()).await.unwrap();
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the connection was held open: {answer:?}");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_answered_408_and_the_connection_closed() {
    let (stack, _) = start(StackConfig {
        body_idle_timeout: Duration::from_millis(300),
        ..config()
    })
    .await;
    let alice = bearer(&stack, "alice", &[], None);
    let body = json!({"name": "trickled"}).to_string();
    let head = |path: &str, auth: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
    };
    // Half a body, then nothing: 408, and the server closes.
    let stalled = trickle(
        &stack,
        &head("/items", &alice),
        &[&body[..5]],
        Duration::ZERO,
    )
    .await;
    assert!(stalled.starts_with("HTTP/1.1 408"), "{stalled}");
    assert!(
        stalled.to_ascii_lowercase().contains("connection: close"),
        "{stalled}"
    );
    // The development identity provider's endpoint reads bodies too.
    let head_dev = "POST /_dev/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n";
    let stalled = trickle(&stack, head_dev, &["{\"sub\""], Duration::ZERO).await;
    assert!(stalled.starts_with("HTTP/1.1 408"), "{stalled}");
    // A slow body whose bytes keep coming is served: the limit is on the
    // silence, not on the whole upload.
    let mut keep_alive_off = head("/items", &alice);
    keep_alive_off.insert_str(keep_alive_off.len() - 2, "Connection: close\r\n");
    let pieces = [&body[..4], &body[4..8], &body[8..12], &body[12..]];
    let served = trickle(&stack, &keep_alive_off, &pieces, Duration::from_millis(150)).await;
    assert!(served.starts_with("HTTP/1.1 201"), "{served}");
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_machine_token_gets_exactly_its_scopes_in_its_own_namespace() {
    let (stack, client) = start(config()).await;
    let reader = format!(
        "Bearer {}",
        stack.mint_machine("items/read").unwrap().unwrap()
    );
    let r = call(&client, &stack, Method::GET, "/items", Some(&reader), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        &client,
        &stack,
        Method::POST,
        "/items",
        Some(&reader),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(r.status, 403);
    let writer = format!(
        "Bearer {}",
        stack
            .mint_machine("items/read items/write")
            .unwrap()
            .unwrap()
    );
    let r = call(
        &client,
        &stack,
        Method::POST,
        "/items",
        Some(&writer),
        Some(json!({"name": "machine-made"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Over HTTP, as `local token --machine` asks for it.
    let minted: Value = client
        .post(format!("{}/_dev/token", stack.url()))
        .json(&json!({"grant_type": "client_credentials", "scope": "items/read"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reader = format!("Bearer {}", minted["access_token"].as_str().unwrap());
    let r = call(&client, &stack, Method::GET, "/items", Some(&reader), None).await;
    assert_eq!(r.body["items"][0]["name"], "machine-made");
    let r = client
        .post(format!("{}/_dev/token", stack.url()))
        .json(
            &json!({"grant_type": "client_credentials", "scope": "aws.cognito.signin.user.admin"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_metrics_page_sums_up_what_the_stack_served() {
    let (stack, client) = start(config()).await;
    let alice = bearer(&stack, "alice", &[], None);
    for _ in 0..3 {
        call(&client, &stack, Method::GET, "/items", Some(&alice), None).await;
    }
    call(
        &client,
        &stack,
        Method::GET,
        "/items",
        Some("Bearer not.a.jwt"),
        None,
    )
    .await;
    call(&client, &stack, Method::GET, "/items", None, None).await;
    let page = client
        .get(format!("{}/_dev/metrics", stack.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = page.text().await.unwrap();
    assert!(
        text.contains("requests: 5 (1xx 0, 2xx 3, 3xx 0, 4xx 2, 5xx 0)"),
        "{text}"
    );
    assert!(
        text.contains("authorizer decisions: 2 (allow 1, deny 0, unauthorized 1, error 0)"),
        "{text}"
    );
    assert!(
        text.contains("authorizer cache: 2 hits of 4 lookups (50.0 %)"),
        "{text}"
    );
    assert!(text.contains("no authorizer call): 1"), "{text}");
    assert!(text.contains("latency: p50 "), "{text}");
    // Like every /_dev page, for local tools only.
    let r = client
        .get(format!("{}/_dev/metrics", stack.url()))
        .header("Host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_waf_rules_stop_a_flood_without_credential_and_one_from_a_single_token_while_others_are_served()
 {
    use local::waf::WafConfig;
    use std::net::IpAddr;
    let (stack, _) = start(StackConfig {
        waf: WafConfig {
            ip_limit: Some(20),
            credential_limit: Some(30),
            window_seconds: 60,
        },
        ..config()
    })
    .await;
    // A client whose connections come from 127.0.0.<last>: the stack takes
    // the peer address as the client IP.
    let from = |last: u8| {
        Client::builder()
            .local_address(IpAddr::from([127, 0, 0, last]))
            .build()
            .unwrap()
    };
    let alice = bearer(&stack, "alice", &[], None);
    let mallory = bearer(&stack, "mallory", &[], None);
    let alice_client = from(3);
    let mut alice_calls = 0;
    let mut alice_is_served = async || {
        alice_calls += 1;
        let r = call(
            &alice_client,
            &stack,
            Method::GET,
            "/items",
            Some(&alice),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "alice, call {alice_calls}: {}", r.body);
    };

    // A flood with no credential from one address: the gate's 401 up to
    // the IP rule's limit, then the rule's 429 (the template's custom
    // response: JSON, the CORS origin, no Retry-After).
    let flooder = from(2);
    let mut statuses = Vec::new();
    for n in 0..40 {
        let r = call(&flooder, &stack, Method::GET, "/items", None, None).await;
        statuses.push(r.status.as_u16());
        if n >= 20 {
            assert_eq!(r.body["title"], "Too Many Requests", "{}", r.body);
            assert_eq!(r.headers["content-type"], "application/json");
            assert!(r.headers.get("access-control-allow-origin").is_some());
            assert!(r.headers.get("retry-after").is_none());
        }
        if n % 8 == 0 {
            alice_is_served().await;
        }
    }
    assert_eq!(statuses[..20], [401; 20]);
    assert_eq!(statuses[20..], [429; 20]);
    // Blocked by address, whatever credential it brings now.
    let r = call(&flooder, &stack, Method::GET, "/items", Some(&alice), None).await;
    assert_eq!(r.status, 429);

    // A flood with one token from ten addresses, each under the IP limit:
    // the credential rule stops it after its limit.
    let spread: Vec<Client> = (10..20).map(from).collect();
    let mut statuses = Vec::new();
    for n in 0..40 {
        let r = call(
            &spread[n % 10],
            &stack,
            Method::GET,
            "/items",
            Some(&mallory),
            None,
        )
        .await;
        statuses.push(r.status.as_u16());
        if n % 8 == 0 {
            alice_is_served().await;
        }
    }
    assert_eq!(statuses[..30], [200; 30]);
    assert_eq!(statuses[30..], [429; 10]);
    // Alice's own credential and address are hers alone.
    alice_is_served().await;
    stack.shutdown().await.unwrap();
}
