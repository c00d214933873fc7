//! CORS on the local stack as on the deployed one: with a Lambda proxy
//! integration API Gateway adds CORS headers only to the preflight and to
//! its own gateway responses (the template's `GatewayResponses`); the api
//! adds them to its own responses from `ALLOWED_ORIGIN`, which the template
//! sets to the same `AllowedOrigin` as the rest. `--cors-origin` stands for
//! that one parameter, so a page on that origin can read every answer.
// Test code: a failed unwrap is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use local::config::StackConfig;
use local::server::Stack;
use local::usage::Rate;
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const APP_ORIGIN: &str = "http://127.0.0.1:5173";

async fn start(cors_origin: &str) -> (Stack, Client) {
    let config = StackConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        cors_origin: cors_origin.into(),
        // One request per second per partner key, so the test can see a 429.
        usage_plan: Some(Rate {
            per_second: 1.0,
            burst: 1,
        }),
        ..StackConfig::default()
    };
    (Stack::start(config).await.unwrap(), Client::new())
}

fn bearer(stack: &Stack, sub: &str, groups: &[&str]) -> String {
    format!("Bearer {}", stack.mint(sub, groups, None).unwrap().unwrap())
}

/// A request as a page on `APP_ORIGIN` makes it: the browser adds `Origin`.
async fn from_page(
    client: &Client,
    stack: &Stack,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = client
        .request(method, format!("{}{path}", stack.url()))
        .header("Origin", APP_ORIGIN);
    for (name, value) in headers {
        request = request.header(*name, *value);
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
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}

/// What the api adds to each of its responses (api::cors), as deployed.
fn assert_api_cors(headers: &HeaderMap, origin: &str, what: &str) {
    assert_eq!(
        headers
            .get("access-control-allow-origin")
            .unwrap_or_else(|| panic!("{what}: no Access-Control-Allow-Origin in {headers:?}")),
        origin,
        "{what}"
    );
    let exposed = headers
        .get("access-control-expose-headers")
        .unwrap_or_else(|| panic!("{what}: no Access-Control-Expose-Headers in {headers:?}"))
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for name in ["etag", "location", "retry-after"] {
        assert!(
            exposed.split(',').any(|e| e.trim() == name),
            "{what}: {name} not exposed: {exposed}"
        );
    }
}

#[tokio::test]
async fn the_apis_own_answers_carry_the_cors_origin_and_expose_etag_and_location() {
    let (stack, client) = start(APP_ORIGIN).await;
    let alice = bearer(&stack, "alice", &[]);
    let auth = [("Authorization", alice.as_str())];

    let (status, headers, body) = from_page(
        &client,
        &stack,
        Method::POST,
        "/items",
        &auth,
        Some(json!({"name": "milk"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_api_cors(&headers, APP_ORIGIN, "POST 201");
    // A named origin: shared caches must keep answers to other origins apart.
    assert_eq!(headers["vary"], "Origin");
    assert_eq!(headers["etag"], "\"1\"");
    let id = body["id"].as_str().unwrap().to_owned();
    let item = format!("/items/{id}");

    let (status, headers, _) = from_page(&client, &stack, Method::GET, &item, &auth, None).await;
    assert_eq!(status, 200);
    assert_api_cors(&headers, APP_ORIGIN, "GET 200");

    let (status, headers, _) = from_page(&client, &stack, Method::GET, "/items", &auth, None).await;
    assert_eq!(status, 200);
    assert_api_cors(&headers, APP_ORIGIN, "list 200");

    let if_match = [("Authorization", alice.as_str()), ("If-Match", "\"1\"")];
    let (status, headers, _) = from_page(
        &client,
        &stack,
        Method::PUT,
        &item,
        &if_match,
        Some(json!({"name": "oat milk"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_api_cors(&headers, APP_ORIGIN, "PUT 200");

    // The api's errors too: a page reads the problem+json of a stale If-Match.
    let (status, headers, body) = from_page(
        &client,
        &stack,
        Method::PUT,
        &item,
        &if_match,
        Some(json!({"name": "stale"})),
    )
    .await;
    assert_eq!(status, 412, "{body}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_api_cors(&headers, APP_ORIGIN, "PUT 412");

    // The api's own 400 (a cursor it never issued: the gateway validates no
    // query string, so this one reaches the api).
    let (status, headers, body) = from_page(
        &client,
        &stack,
        Method::GET,
        "/items?cursor=not-a-cursor",
        &auth,
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_api_cors(&headers, APP_ORIGIN, "GET 400");

    // A body that breaks the model is the gateway's BAD_REQUEST_BODY, before
    // the api: the origin as the template's gateway responses give it, and no
    // other CORS header.
    let (status, headers, body) = from_page(
        &client,
        &stack,
        Method::POST,
        "/items",
        &auth,
        Some(json!({"name": ""})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(headers["access-control-allow-origin"], APP_ORIGIN);
    assert!(headers.get("access-control-expose-headers").is_none());

    let (status, headers, _) = from_page(&client, &stack, Method::DELETE, &item, &auth, None).await;
    assert_eq!(status, 204);
    assert_api_cors(&headers, APP_ORIGIN, "DELETE 204");

    let (status, headers, _) = from_page(&client, &stack, Method::GET, &item, &auth, None).await;
    assert_eq!(status, 404);
    assert_api_cors(&headers, APP_ORIGIN, "GET 404");
    stack.shutdown().await.unwrap();
}

/// What the gateway answers, the request, and the status expected.
type Case<'a> = (
    &'a str,
    Method,
    &'a str,
    Vec<(&'a str, &'a str)>,
    StatusCode,
);

#[tokio::test]
async fn the_gateways_own_answers_carry_the_origin_as_the_templates_gateway_responses() {
    let (stack, client) = start(APP_ORIGIN).await;
    let bob = bearer(&stack, "bob", &["readonly"]);
    let partner = format!("ApiKey {}", stack.partner_key().unwrap());
    let cases: Vec<Case> = vec![
        (
            "UNAUTHORIZED",
            Method::GET,
            "/items",
            vec![],
            StatusCode::UNAUTHORIZED,
        ),
        (
            "ACCESS_DENIED",
            Method::DELETE,
            "/items/x",
            vec![("Authorization", bob.as_str())],
            StatusCode::FORBIDDEN,
        ),
        (
            "MISSING_AUTHENTICATION_TOKEN",
            Method::GET,
            "/nothing",
            vec![],
            StatusCode::FORBIDDEN,
        ),
        (
            "(partner, within the plan)",
            Method::GET,
            "/items",
            vec![("Authorization", partner.as_str())],
            StatusCode::OK,
        ),
        (
            "THROTTLED",
            Method::GET,
            "/items",
            vec![("Authorization", partner.as_str())],
            StatusCode::TOO_MANY_REQUESTS,
        ),
    ];
    for (what, method, path, headers, expected) in cases {
        let (status, h, body) = from_page(&client, &stack, method, path, &headers, None).await;
        assert_eq!(status, expected, "{what}: {body}");
        assert_eq!(h["access-control-allow-origin"], APP_ORIGIN, "{what}");
        if status.is_client_error() {
            assert_eq!(h["content-type"], "application/problem+json", "{what}");
            // The template's gateway responses set no other CORS header.
            assert!(
                h.get("access-control-expose-headers").is_none(),
                "{what}: {h:?}"
            );
        }
    }
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_default_origin_is_any_without_vary() {
    let (stack, client) = start("*").await;
    let alice = bearer(&stack, "alice", &[]);
    let (status, headers, _) = from_page(
        &client,
        &stack,
        Method::POST,
        "/items",
        &[("Authorization", alice.as_str())],
        Some(json!({"name": "milk"})),
    )
    .await;
    assert_eq!(status, 201);
    assert_api_cors(&headers, "*", "POST 201 with *");
    assert!(headers.get("vary").is_none(), "{headers:?}");
    stack.shutdown().await.unwrap();
}
