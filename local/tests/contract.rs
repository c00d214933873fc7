//! The local stack's side of the published contract, over real HTTP: it
//! serves the committed document to anyone, and its request validator
//! answers API Gateway's 400 for a body that breaks the method's model
//! before the api runs, and lets every other body through to the api.
// Test code: a failed unwrap is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use local::config::StackConfig;
use local::server::Stack;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

async fn start() -> (Stack, Client, String) {
    let config = StackConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..StackConfig::default()
    };
    let stack = Stack::start(config).await.unwrap();
    let token = format!(
        "Bearer {}",
        stack.mint("alice", &[], None).unwrap().unwrap()
    );
    (stack, Client::new(), token)
}

async fn send(
    client: &Client,
    stack: &Stack,
    method: Method,
    path: &str,
    auth: &str,
    content_type: &str,
    body: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = client
        .request(method, format!("{}{path}", stack.url()))
        .header("Authorization", auth)
        .header("Content-Type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

#[tokio::test]
async fn the_document_is_served_without_a_credential_exactly_as_committed() {
    let (stack, client, _) = start().await;
    let response = client
        .get(format!("{}/openapi.json", stack.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served = response.bytes().await.unwrap();
    assert_eq!(served, include_bytes!("../../openapi.json").as_slice());
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_body_breaking_the_model_is_the_gateways_400_and_never_reaches_the_api() {
    let (stack, client, alice) = start().await;
    let (status, headers, body) = send(
        &client,
        &stack,
        Method::POST,
        "/items",
        &alice,
        "application/json",
        r#"{"name":"milk","colour":"white"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(headers["content-type"], "application/problem+json");
    // Only API Gateway's own answers carry its error type.
    assert_eq!(headers["x-amzn-errortype"], "BadRequestException");
    assert_eq!(
        body,
        json!({"type": "about:blank", "title": "Bad Request", "status": 400, "detail": "Invalid request body"})
    );
    // Nothing was created.
    let list = client
        .get(format!("{}/items", stack.url()))
        .header("Authorization", &alice)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(list["items"], json!([]));
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_body_of_another_media_type_is_left_to_the_api() {
    let (stack, client, alice) = start().await;
    let (status, _, created) = send(
        &client,
        &stack,
        Method::POST,
        "/items",
        &alice,
        "application/json",
        r#"{"name":"milk"}"#,
    )
    .await;
    assert_eq!(status, 201);
    let path = format!("/items/{}", created["id"].as_str().unwrap());
    // No model for merge-patch+json: the api's own 400, with its field errors.
    let (status, headers, body) = send(
        &client,
        &stack,
        Method::PATCH,
        &path,
        &alice,
        "application/merge-patch+json",
        r#"{"colour":"white"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert!(headers.get("x-amzn-errortype").is_none());
    assert_eq!(body["errors"][0]["field"], "colour");
    // And text/plain is the api's 415.
    let (status, _, _) = send(
        &client,
        &stack,
        Method::POST,
        "/items",
        &alice,
        "text/plain",
        "{}",
    )
    .await;
    assert_eq!(status, 415);
    stack.shutdown().await.unwrap();
}
