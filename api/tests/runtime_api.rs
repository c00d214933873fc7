//! The built api binary as Lambda runs it: under the Runtime API emulator
//! (`e2e::runtime_api`), its cursor key and table on moto server, every line
//! it writes read as CloudWatch Logs keeps it.
//!
//! Run through `scripts/with-moto.sh`: without `AWS_ENDPOINT_URL` on
//! loopback these tests fail (they never skip).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use api::store::DynamoDbStore;
use common::{ALL, call};
use e2e::runtime_api::{Function, Launch, Outcome, by_invocation};
use serde_json::{Value, json};

fn moto_endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if url.starts_with("http://127.0.0.1:") || url.starts_with("http://localhost:") => {
            url
        }
        _ => {
            panic!("AWS_ENDPOINT_URL must be a local moto server: run through scripts/with-moto.sh")
        }
    }
}

/// A fresh table and cursor key on moto; their names.
fn moto_resources() -> (String, String) {
    let endpoint = moto_endpoint();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&endpoint)
            .load()
            .await;
        let suffix = uuid::Uuid::now_v7().simple().to_string();
        let table = format!("api-runtime-{suffix}");
        DynamoDbStore::create_table(&aws_sdk_dynamodb::Client::new(&sdk), &table)
            .await
            .unwrap();
        let secret = format!("api-runtime-cursor-{suffix}");
        aws_sdk_secretsmanager::Client::new(&sdk)
            .create_secret()
            .name(&secret)
            .secret_string("k".repeat(64))
            .send()
            .await
            .unwrap();
        (table, secret)
    })
}

/// The api, started against moto and past its cold start.
fn api() -> Function {
    let (table, secret) = moto_resources();
    let mut function = Launch::new(env!("CARGO_BIN_EXE_api"))
        .unwrap()
        .env("AWS_ENDPOINT_URL", moto_endpoint())
        .env("TABLE_NAME", table)
        .env("CURSOR_KEY_SECRET_ID", secret)
        .start()
        .unwrap();
    assert_eq!(function.wait_ready(), None, "{:?}", function.lines());
    function
}

fn status(outcome: &Outcome) -> u64 {
    match outcome {
        Outcome::Response(r) => r["statusCode"].as_u64().unwrap(),
        other => panic!("no response: {other:?}"),
    }
}

#[test]
fn every_line_is_json_with_the_invocations_ids_and_only_faults_are_errors() {
    let mut function = api();
    let forged = json!({
        "principalId": "user:alice", "owner": "user:mallory", "authType": "jwt",
        "permissions": ALL, "sub": "alice"
    });
    // (event, status, ERROR lines expected)
    let cases = [
        (
            call("POST", "/items")
                .by("alice", ALL)
                .json(json!({"name": "n"}))
                .event(),
            201,
            0,
        ),
        (call("GET", "/items").by("alice", ALL).event(), 200, 0),
        (
            call("GET", "/items").by("bob", "items:write").event(),
            403,
            0,
        ),
        (
            call("POST", "/items")
                .by("alice", ALL)
                .raw_body("{not json")
                .header("Content-Type", "application/json")
                .event(),
            400,
            0,
        ),
        (
            call("GET", "/items/not-an-id").by("alice", ALL).event(),
            404,
            0,
        ),
        (call("GET", "/nowhere").by("alice", ALL).event(), 404, 0),
        // No identity at all: a deployment problem, a WARN.
        (call("GET", "/items").event(), 401, 0),
        // A context the authorizer never writes: a fault.
        (call("GET", "/items").context(forged).event(), 401, 1),
    ];
    for (n, (event, expected, _)) in cases.iter().enumerate() {
        let outcome = function.invoke(event);
        assert_eq!(status(&outcome), *expected, "{n}: {outcome:?}");
    }
    // Not an event lambda_http reads: the runtime's own ERROR line.
    let not_an_event = function.invoke(&json!(["not", "an", "event"]));
    assert!(
        matches!(not_an_event, Outcome::Error(_)),
        "{not_an_event:?}"
    );

    let lines = function.finish();
    let split = by_invocation(&lines).unwrap_or_else(|e| panic!("{e}"));
    assert!(split.cold_start.is_empty(), "{:?}", split.cold_start);
    for (n, (_, _, errors)) in cases.iter().enumerate() {
        let id = format!("req-{}", n + 1);
        let of_it = split.of(&id);
        let requests = of_it.iter().filter(|v| v["target"] == "request").count();
        assert_eq!(requests, 1, "{id}: one request line: {of_it:?}");
        let error_lines: Vec<&Value> = of_it.iter().filter(|v| v["level"] == "ERROR").collect();
        assert_eq!(error_lines.len(), *errors, "{id}: {of_it:?}");
        for v in of_it {
            // API Gateway's id too, on every line of the request.
            assert_eq!(
                v["apiRequestId"], "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                "{v}"
            );
        }
    }
    let last = split.of(&format!("req-{}", cases.len() + 1));
    assert_eq!(last.len(), 1, "{last:?}");
    assert_eq!(last[0]["level"], "ERROR");
}

#[test]
fn no_line_exceeds_2_kib_whatever_the_event_holds() {
    let mut function = api();
    let long = "x\"\\é".repeat(1000);
    let huge_context = json!({
        "principalId": format!("user:{long}"), "owner": format!("user:{long}"),
        "authType": "jwt", "permissions": long, "sub": long, "keyId": long, "partner": long
    });
    let mut events = vec![
        call("GET", "/items").by("alice", ALL).event(),
        call("GET", "/items").context(huge_context).event(),
        call("POST", "/items")
            .by("alice", ALL)
            .header("Idempotency-Key", &long)
            .json(json!({"name": long}))
            .event(),
        call("GET", &format!("/items/{long}"))
            .by("alice", ALL)
            .event(),
        call("POST", "/items")
            .by("alice", ALL)
            .raw_body(&"{".repeat(70_000))
            .header("Content-Type", "application/json")
            .event(),
    ];
    // API Gateway's request id, as a forged event may set it.
    for event in &mut events {
        event["requestContext"]["requestId"] = json!(long);
    }
    for event in &events {
        assert!(matches!(function.invoke(event), Outcome::Response(_)));
    }
    let lines = function.finish();
    for l in &lines {
        assert!(
            l.text.len() < telemetry::emf::MAX_LINE,
            "a line of {} bytes",
            l.text.len()
        );
    }
    let split = by_invocation(&lines).unwrap_or_else(|e| panic!("{e}"));
    for n in 1..=events.len() {
        let of_it = split.of(&format!("req-{n}"));
        assert!(!of_it.is_empty(), "req-{n}");
        for v in of_it {
            let id = v["apiRequestId"].as_str().unwrap();
            assert!(id.ends_with("…(5000 bytes)"), "{id}");
        }
    }
}
