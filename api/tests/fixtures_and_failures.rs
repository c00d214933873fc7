//! The JSON event fixtures through the whole handler, and the mapping of
//! storage failures to responses, with a store that fails on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use api::App;
use api::item::{Item, ItemId};
use api::store::{IdempotencyRecord, ItemStore, MemoryStore, Page, StoreError};
use common::{HTTP_V2_GET_ITEM, REST_GET_ITEMS, REST_NO_AUTHORIZER, REST_POST_ITEM, codec, send};
use lambda_http::request::from_str;
use lambda_http::{RequestExt, request::RequestContext};
use serde_json::{Value, json};

#[test]
fn every_fixture_parses_as_its_api_gateway_event() {
    for (name, text, v2) in [
        ("rest-get-items", REST_GET_ITEMS, false),
        ("rest-post-item", REST_POST_ITEM, false),
        ("rest-no-authorizer", REST_NO_AUTHORIZER, false),
        ("http-v2-get-item", HTTP_V2_GET_ITEM, true),
    ] {
        let req = from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(_)) => assert!(!v2, "{name}"),
            Some(RequestContext::ApiGatewayV2(_)) => assert!(v2, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_rest_post_fixture_creates_an_item_for_the_partner() {
    let app = App::new(MemoryStore::default(), codec());
    let r = send(&app, from_str(REST_POST_ITEM).unwrap()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["name"], "Invoice 42");
    assert_eq!(r.body["tags"], json!(["billing", "2026"]));
    // Retrying the very same event (same Idempotency-Key) replays it.
    let again = send(&app, from_str(REST_POST_ITEM).unwrap()).await;
    assert_eq!(again.body, r.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let page = app
        .service()
        .list(&policies::Owner::partner("acme").unwrap(), 10, None)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
}

#[tokio::test]
async fn the_rest_get_fixture_lists_the_owners_items() {
    let app = App::new(MemoryStore::default(), codec());
    let owner = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f";
    for i in 0..12 {
        common::call("POST", "/items")
            .by(owner, common::ALL)
            .json(json!({ "name": format!("n{i}") }))
            .send(&app)
            .await;
    }
    let r = send(&app, from_str(REST_GET_ITEMS).unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["items"].as_array().unwrap().len(),
        10,
        "limit=10 from the query"
    );
    assert!(r.body["nextCursor"].is_string());
}

#[tokio::test]
async fn an_event_without_authorizer_context_is_refused_whatever_its_headers_say() {
    let app = App::new(MemoryStore::default(), codec());
    let r = send(&app, from_str(REST_NO_AUTHORIZER).unwrap()).await;
    r.problem(401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
}

#[tokio::test]
async fn an_http_api_v2_event_is_served_with_the_lambda_authorizer_context() {
    let app = App::new(MemoryStore::default(), codec());
    let owner = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f";
    let created = common::call("POST", "/items")
        .by(owner, common::ALL)
        .json(json!({"name": "v2"}))
        .send(&app)
        .await;
    let id = created.body["id"].as_str().unwrap();
    let event = HTTP_V2_GET_ITEM.replace("ITEM_ID", id);
    let r = send(&app, from_str(&event).unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "v2");
    assert_eq!(r.header("etag"), Some("\"1\""));

    // The v2 context grants only items:read.
    let mut put: Value = serde_json::from_str(&event).unwrap();
    put["requestContext"]["http"]["method"] = json!("DELETE");
    put["routeKey"] = json!("DELETE /items/{id}");
    let r = send(&app, from_str(&put.to_string()).unwrap()).await;
    r.problem(403);
}

/// A store whose every operation fails with the error `make` builds.
struct FailingStore(fn() -> StoreError);

impl ItemStore for FailingStore {
    async fn create(
        &self,
        _: &policies::Owner,
        _: &Item,
        _: Option<&IdempotencyRecord>,
        _: u64,
    ) -> Result<(), StoreError> {
        Err((self.0)())
    }
    async fn get(&self, _: &policies::Owner, _: &ItemId) -> Result<Option<Item>, StoreError> {
        Err((self.0)())
    }
    async fn list(
        &self,
        _: &policies::Owner,
        _: usize,
        _: Option<&ItemId>,
    ) -> Result<Page, StoreError> {
        Err((self.0)())
    }
    async fn replace(&self, _: &policies::Owner, _: &Item, _: u64) -> Result<(), StoreError> {
        Err((self.0)())
    }
    async fn delete(
        &self,
        _: &policies::Owner,
        _: &ItemId,
        _: Option<u64>,
    ) -> Result<(), StoreError> {
        Err((self.0)())
    }
}

fn every_route() -> Vec<common::Call> {
    let id = "/items/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    vec![
        common::call("GET", "/items"),
        common::call("POST", "/items").json(json!({"name": "n"})),
        common::call("GET", id),
        common::call("PUT", id).json(json!({"name": "n"})),
        common::call("PATCH", id).json(json!({"name": "n"})),
        common::call("DELETE", id),
        common::call("DELETE", id).header("If-Match", "\"1\""),
    ]
}

#[tokio::test]
async fn throttling_is_a_503_with_retry_after_on_every_route() {
    let app = App::new(
        FailingStore(|| {
            StoreError::Throttled("ProvisionedThroughputExceededException on table-x".into())
        }),
        codec(),
    );
    for c in every_route() {
        let r = c.by("o", common::ALL).send(&app).await;
        let body = r.problem(503);
        assert_eq!(r.header("retry-after"), Some("1"));
        assert!(!body.to_string().contains("table-x"), "{body}");
    }
}

#[tokio::test]
async fn an_unavailable_table_is_a_503() {
    let app = App::new(
        FailingStore(|| StoreError::Unavailable("connect timeout".into())),
        codec(),
    );
    let r = common::call("GET", "/items")
        .by("o", common::ALL)
        .send(&app)
        .await;
    r.problem(503);
    assert_eq!(r.header("retry-after"), Some("1"));
}

#[tokio::test]
async fn other_failures_are_a_500_without_internals_on_every_route() {
    for make in [
        (|| StoreError::Backend("ValidationException: arn:aws:dynamodb:x".into()))
            as fn() -> StoreError,
        || StoreError::Corrupt("attribute version is not a number".into()),
    ] {
        let app = App::new(FailingStore(make), codec());
        for c in every_route() {
            let r = c.by("o", common::ALL).send(&app).await;
            let body = r.problem(500);
            assert_eq!(body["detail"], "An internal error occurred.");
            assert!(r.header("retry-after").is_none());
            let text = body.to_string();
            assert!(
                !text.contains("arn:") && !text.contains("attribute"),
                "{text}"
            );
        }
    }
}

#[tokio::test]
async fn an_idempotency_key_in_flight_is_a_409_with_retry_after() {
    let app = App::new(FailingStore(|| StoreError::IdempotencyKeyInFlight), codec());
    let r = common::call("POST", "/items")
        .by("o", common::ALL)
        .header("Idempotency-Key", "k")
        .json(json!({"name": "n"}))
        .send(&app)
        .await;
    r.problem(409);
    assert_eq!(r.header("retry-after"), Some("1"));
}

#[tokio::test]
async fn with_an_allowed_origin_every_response_carries_cors_headers() {
    let cors = api::cors::Cors::new("https://app.example.com").unwrap();
    let app = App::new(MemoryStore::default(), codec()).with_cors(cors);
    let created = send(&app, from_str(REST_POST_ITEM).unwrap()).await;
    assert_eq!(created.status, 201);
    assert_eq!(
        created.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(
        created
            .header("access-control-expose-headers")
            .unwrap()
            .contains("ETag")
    );
    // Errors too: a browser must be able to read the problem+json.
    let refused = send(&app, from_str(REST_NO_AUTHORIZER).unwrap()).await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    // Without the setting, no CORS headers at all.
    let plain = App::new(MemoryStore::default(), codec());
    let r = send(&plain, from_str(REST_POST_ITEM).unwrap()).await;
    assert_eq!(r.header("access-control-allow-origin"), None);
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The context the authorizer writes for user `sub`, with `expires_at`.
fn user_context(sub: &str, expires_at: u64) -> Value {
    json!({
        "principalId": format!("user:{sub}"), "owner": format!("user:{sub}"), "authType": "jwt",
        "permissions": common::ALL, "sub": sub, "expiresAt": expires_at.to_string()
    })
}

#[tokio::test]
async fn a_cached_authorization_is_refused_once_its_credential_expired() {
    let app = App::new(MemoryStore::default(), codec());
    let expired = common::call("POST", "/items")
        .context(user_context("u1", unix_now() - 1))
        .json(json!({"name": "late"}))
        .send(&app)
        .await;
    expired.problem(401);
    assert_eq!(
        expired.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );
    // Nothing was written.
    let list = common::call("GET", "/items")
        .context(user_context("u1", unix_now() + 60))
        .send(&app)
        .await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["items"], json!([]));
    // A partner key without expiry never expires here.
    let r = send(&app, from_str(REST_POST_ITEM).unwrap()).await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn a_jwt_context_cannot_reach_a_partners_items() {
    let app = App::new(MemoryStore::default(), codec());
    let r = send(&app, from_str(REST_POST_ITEM).unwrap()).await;
    assert_eq!(r.status, 201);
    // A token whose sub is `partner:acme`, as an authorizer that printed bare
    // subs as owners would have passed it on.
    let forged = json!({
        "principalId": "partner:acme", "owner": "partner:acme", "authType": "jwt",
        "permissions": common::ALL, "sub": "partner:acme"
    });
    let list = common::call("GET", "/items")
        .context(forged)
        .send(&app)
        .await;
    list.problem(401);
    // What this authorizer writes for that sub is another namespace.
    let own = common::call("GET", "/items")
        .by("partner:acme", common::ALL)
        .send(&app)
        .await;
    assert_eq!(own.status, 200);
    assert_eq!(own.body["items"], json!([]));
}

#[tokio::test]
async fn a_trusted_issuers_user_and_a_pool_user_with_the_same_sub_never_share_items() {
    let app = App::new(MemoryStore::default(), codec());
    let staff = json!({
        "principalId": "oidc:entra:u1", "owner": "oidc:entra:u1", "authType": "jwt",
        "issuer": "entra", "permissions": common::ALL, "sub": "u1"
    });
    let created = common::call("POST", "/items")
        .context(staff.clone())
        .json(json!({"name": "staff only"}))
        .send(&app)
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    // The pool's user `u1` is another namespace: not found, not listed.
    let pool = common::call("GET", &format!("/items/{id}"))
        .by("u1", common::ALL)
        .send(&app)
        .await;
    pool.problem(404);
    let pool_list = common::call("GET", "/items")
        .by("u1", common::ALL)
        .send(&app)
        .await;
    assert_eq!(pool_list.body["items"], json!([]));
    // Nor is another issuer's `u1`.
    let other = common::call("GET", &format!("/items/{id}"))
        .context(json!({
            "principalId": "oidc:okta:u1", "owner": "oidc:okta:u1", "authType": "jwt",
            "issuer": "okta", "permissions": common::ALL, "sub": "u1"
        }))
        .send(&app)
        .await;
    other.problem(404);
    let own = common::call("GET", &format!("/items/{id}"))
        .context(staff)
        .send(&app)
        .await;
    assert_eq!(own.status, 200);
}

#[tokio::test]
async fn a_context_whose_issuer_disagrees_with_its_owner_is_refused() {
    let app = App::new(MemoryStore::default(), codec());
    for forged in [
        json!({"principalId": "oidc:entra:u1", "owner": "oidc:entra:u1", "authType": "jwt",
               "issuer": "okta", "permissions": common::ALL, "sub": "u1"}),
        json!({"principalId": "oidc:entra:u1", "owner": "oidc:entra:u1", "authType": "jwt",
               "issuer": "cognito", "permissions": common::ALL, "sub": "u1"}),
        json!({"principalId": "user:u1", "owner": "user:u1", "authType": "jwt",
               "issuer": "entra", "permissions": common::ALL, "sub": "u1"}),
        json!({"principalId": "oidc:entra:u1", "owner": "oidc:entra:u1", "authType": "jwt",
               "permissions": common::ALL, "sub": "u1"}),
    ] {
        let r = common::call("GET", "/items")
            .context(forged.clone())
            .send(&app)
            .await;
        assert_eq!(r.status, 401, "{forged}");
    }
}

fn metrics() -> telemetry::MetricsConfig {
    telemetry::MetricsConfig {
        namespace: "SecuredApi".into(),
        service: "api".into(),
        enabled: true,
    }
}

/// The lines `sink` holds, each checked against the EMF specification.
fn emf_lines(sink: &telemetry::Sink) -> Vec<Value> {
    sink.contents()
        .lines()
        .map(|l| telemetry::emf::validate(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test]
async fn every_request_writes_one_emf_line_with_bounded_dimensions_and_its_ids() {
    let sink = telemetry::Sink::memory();
    let app = App::new(MemoryStore::default(), codec()).with_metrics(metrics(), sink.clone());
    let created = telemetry::Invocation {
        request_id: "lambda-1".into(),
        api_request_id: Some("gw-1".into()),
        trace_id: Some("Root=1-abc-def;Parent=1;Sampled=1".into()),
    }
    .scope(
        common::call("POST", "/items")
            .by("u1", common::ALL)
            .header("Idempotency-Key", "k-1")
            .json(json!({"name": "n"}))
            .send(&app),
    )
    .await;
    assert_eq!(created.status, 201);
    let id = created.body["id"].as_str().unwrap().to_owned();
    // A replay, a 412, an unknown route, a 404.
    common::call("POST", "/items")
        .by("u1", common::ALL)
        .header("Idempotency-Key", "k-1")
        .json(json!({"name": "n"}))
        .send(&app)
        .await;
    let stale = common::call("PUT", &format!("/items/{id}"))
        .by("u1", common::ALL)
        .header("If-Match", "\"7\"")
        .json(json!({"name": "m"}))
        .send(&app)
        .await;
    assert_eq!(stale.status, 412);
    common::call("GET", "/nope")
        .by("u1", common::ALL)
        .send(&app)
        .await;
    common::call("GET", &format!("/items/{id}x"))
        .by("u1", common::ALL)
        .send(&app)
        .await;

    let lines = emf_lines(&sink);
    assert_eq!(lines.len(), 5);
    let first = &lines[0];
    assert_eq!(first["route"], "POST /items");
    assert_eq!(first["statusClass"], "2xx");
    assert_eq!(first["status"], 201);
    assert_eq!(first["ColdStart"], 1);
    assert_eq!(first["requestId"], "lambda-1");
    assert_eq!(first["apiRequestId"], "gw-1");
    assert_eq!(first["xrayTraceId"], "Root=1-abc-def;Parent=1;Sampled=1");
    assert_eq!(lines[1]["IdempotentReplays"], 1);
    assert_eq!(lines[1]["ColdStart"], 0);
    assert_eq!(lines[2]["route"], "PUT /items/{id}");
    assert_eq!(lines[2]["ConditionalWriteConflicts"], 1);
    assert_eq!(lines[3]["route"], "unmatched");
    assert_eq!(
        lines[4]["route"], "GET /items/{id}",
        "the id never becomes a dimension"
    );
    assert!(!sink.contents().contains(&id), "no item id in any line");
}

#[tokio::test]
async fn store_throttling_and_failures_are_counted() {
    let sink = telemetry::Sink::memory();
    let throttled = App::new(FailingStore(|| StoreError::Throttled("x".into())), codec())
        .with_metrics(metrics(), sink.clone());
    common::call("GET", "/items")
        .by("u", common::ALL)
        .send(&throttled)
        .await;
    let failing = App::new(FailingStore(|| StoreError::Backend("x".into())), codec())
        .with_metrics(metrics(), sink.clone());
    common::call("GET", "/items")
        .by("u", common::ALL)
        .send(&failing)
        .await;
    let lines = emf_lines(&sink);
    assert_eq!(lines[0]["StoreThrottles"], 1);
    assert_eq!(lines[0]["statusClass"], "5xx");
    assert_eq!(lines[1]["StoreFailures"], 1);
    // Every metric of the api's list was written with a count above zero by
    // this test or the one above.
    let mut seen: std::collections::BTreeSet<String> = lines
        .iter()
        .flat_map(|l| l.as_object().unwrap().clone())
        .filter(|(_, v)| v.as_u64().is_some_and(|n| n > 0))
        .map(|(k, _)| k)
        .collect();
    seen.extend(["ConditionalWriteConflicts", "IdempotentReplays"].map(String::from));
    for set in telemetry::emf::api::SETS {
        for (name, _) in set.metrics {
            assert!(seen.contains(*name), "{name}");
        }
    }
}
