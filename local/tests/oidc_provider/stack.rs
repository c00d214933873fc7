//! The local stack trusting the provider through `--trusted-issuers`, its
//! JSON as `../shared/DESIGN.md` ("Trusted issuers") defines it, given on
//! the command line as a person would (parsed by the stack's own `Cli`):
//! the provider's real tokens pass or fail each of the issuer's rules, and
//! a trusted issuer's principals never meet the development IdP's users.

use clap::Parser;
use local::config::Cli;
use local::server::Stack;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use authorizer::testkit::high_s_twin;

use crate::harness::Provider;
use crate::jwt::Jws;

/// The alias the tests give the provider.
const ALIAS: &str = "test-op";

/// A stack (development IdP, in-memory backends) started with
/// `--trusted-issuers JSON`.
async fn stack_trusting(issuers: &Value) -> Stack {
    let json = issuers.to_string();
    let cli = Cli::try_parse_from(["local", "--addr", "127.0.0.1:0", "--trusted-issuers", &json])
        .unwrap_or_else(|e| panic!("the stack refused --trusted-issuers {json}: {e}"));
    Stack::start(cli.serve.into_config().unwrap())
        .await
        .unwrap()
}

/// The provider trusted by discovery alone: issuer and audience, no more.
fn by_discovery(provider: &Provider) -> Value {
    json!({"alias": ALIAS, "issuer": provider.ready.issuer, "audiences": [provider.ready.api]})
}

/// One request to the stack with a bearer token: the status and the JSON body.
async fn call(
    stack: &Stack,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let request = reqwest::Client::new()
        .request(method, format!("{}{path}", stack.url()))
        .bearer_auth(token);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Creates an item named `name`: the status and, on a 201, its path.
async fn create(stack: &Stack, token: &str, name: &str) -> (StatusCode, Option<String>) {
    let (status, body) = call(
        stack,
        Method::POST,
        "/items",
        token,
        Some(json!({"name": name})),
    )
    .await;
    let path = body["id"].as_str().map(|id| format!("/items/{id}"));
    (status, path)
}

#[tokio::test]
async fn a_client_credentials_token_of_a_provider_trusted_by_discovery_alone_creates_and_reads_an_item()
 {
    let provider = Provider::start();
    let stack = stack_trusting(&json!([by_discovery(&provider)])).await;
    let token = provider
        .access_token(&provider.ready.api, "items/read items/write")
        .await;

    let (status, path) = create(&stack, &token, "from the provider").await;
    assert_eq!(status, 201, "{}", provider.stderr());
    let path = path.unwrap();
    let (status, item) = call(&stack, Method::GET, &path, &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(item["name"], "from the provider");

    // The development IdP works beside it, and its users never see the
    // provider's principals' items (oidc:test-op:machine is not user:alice).
    let alice = stack.mint("alice", &[], None).unwrap().unwrap();
    let (status, _) = call(&stack, Method::GET, &path, &alice, None).await;
    assert_eq!(status, 404);
    assert_eq!(create(&stack, &alice, "alice's").await.0, 201);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_token_of_the_trusted_provider_for_another_audience_gets_401() {
    let provider = Provider::start();
    let stack = stack_trusting(&json!([by_discovery(&provider)])).await;
    let ready = &provider.ready;
    let other = provider
        .access_token(&ready.other_audience, "items/read items/write")
        .await;
    assert_eq!(create(&stack, &other, "elsewhere").await.0, 401);
    let (status, _) = call(&stack, Method::GET, "/items", &other, None).await;
    assert_eq!(status, 401);
    // The same client's token for the API, from the same keys, passes.
    let api = provider.access_token(&ready.api, "items/read").await;
    let (status, _) = call(&stack, Method::GET, "/items", &api, None).await;
    assert_eq!(status, 200);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_token_with_only_items_read_lists_but_cannot_create() {
    let provider = Provider::start();
    let stack = stack_trusting(&json!([by_discovery(&provider)])).await;
    let reader = provider
        .access_token(&provider.ready.api, "items/read")
        .await;
    let (status, _) = call(&stack, Method::GET, "/items", &reader, None).await;
    assert_eq!(status, 200);
    assert_eq!(create(&stack, &reader, "not allowed").await.0, 403);
    stack.shutdown().await.unwrap();
}

/// The status of creating an item with `token` on a fresh stack that trusts
/// the provider by discovery, with `rules` (fields of its entry) added.
async fn create_status_with(provider: &Provider, rules: &Value, token: &str) -> StatusCode {
    let mut issuer = by_discovery(provider);
    for (field, value) in rules.as_object().unwrap() {
        issuer[field] = value.clone();
    }
    let stack = stack_trusting(&json!([issuer])).await;
    let status = create(&stack, token, "rules").await.0;
    stack.shutdown().await.unwrap();
    status
}

/// An ES256 token of the provider in low-S form and one in high-S form, as
/// it signed them. Its signer (Node's crypto, OpenSSL's ECDSA) does not
/// normalise `s`: about half of its ES256 tokens are high-S (17 of 40 in a
/// run here), so each token is a fair coin.
async fn es256_low_and_high_s(provider: &Provider) -> (String, String) {
    let (mut low, mut high) = (None, None);
    // 64 coins miss one of the two faces with odds of 2^-63.
    for _ in 0..64 {
        let token = provider
            .access_token(&provider.ready.api_es256, "items/read items/write")
            .await;
        let form = if Jws::decode(&token).is_low_s() {
            &mut low
        } else {
            &mut high
        };
        form.get_or_insert(token);
        if let (Some(low), Some(high)) = (&low, &high) {
            return (low.clone(), high.clone());
        }
    }
    panic!("64 ES256 tokens of the provider, all of one S form");
}

#[tokio::test]
async fn an_es256_token_passes_only_where_the_issuer_allows_es256_and_only_in_low_s_form() {
    let provider = Provider::start();
    let (low, high) = es256_low_and_high_s(&provider).await;
    // Default algorithms: RS256 only.
    assert_eq!(create_status_with(&provider, &json!({}), &low).await, 401);

    let mut issuer = by_discovery(&provider);
    issuer["algorithms"] = json!(["RS256", "ES256"]);
    let stack = stack_trusting(&json!([issuer])).await;
    assert_eq!(create(&stack, &low, "low-S").await.0, 201);
    // ECDSA is accepted in low-S form only (docs/AUTHORIZER.md, "How a JWT
    // is verified"), so the provider's own high-S tokens are refused; the
    // same signature normalised to (r, n - s), which needs no key, passes.
    assert_eq!(create(&stack, &high, "high-S").await.0, 401);
    let normalised = high_s_twin(&high).unwrap();
    assert!(Jws::decode(&normalised).is_low_s());
    assert_eq!(create(&stack, &normalised, "normalised").await.0, 201);
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_issuer_s_required_typ_client_ids_and_claims_are_checked_against_real_tokens() {
    let provider = Provider::start();
    let ready = &provider.ready;
    let token = provider
        .access_token(&ready.api, "items/read items/write")
        .await;
    let cases = [
        // RFC 9068 tokens carry typ at+jwt; RFC 8725 §3.11 lets the
        // application/ prefix be left out or written.
        (json!({"requiredTyp": "at+jwt"}), 201),
        (json!({"requiredTyp": "application/at+jwt"}), 201),
        (json!({"requiredTyp": "dpop+jwt"}), 401),
        (
            json!({"clientIds": [ready.machine.client_id], "audiences": []}),
            201,
        ),
        (json!({"clientIds": ["someone-else"], "audiences": []}), 401),
        (
            json!({"requiredClaims": {"sub": ready.machine.client_id}}),
            201,
        ),
        (json!({"requiredClaims": {"tenant": true}}), 401),
    ];
    for (rules, expected) in cases {
        let status = create_status_with(&provider, &rules, &token).await;
        assert_eq!(status, expected, "with {rules}");
    }
}

#[tokio::test]
async fn the_provider_s_own_scope_names_grant_permissions_only_through_the_issuer_s_scope_map() {
    let provider = Provider::start();
    let token = provider
        .access_token(&provider.ready.api_own_scopes, "Items.Read Items.Write")
        .await;
    // Without a scopeMap only items/read, items/write, items/delete count:
    // a valid token with none of them is the explicit deny.
    assert_eq!(create_status_with(&provider, &json!({}), &token).await, 403);
    let mapped = json!({"scopeMap": {
        "Items.Read": "items:read",
        "Items.Write": "items:write",
        "Items.Delete": "items:delete",
    }});
    assert_eq!(create_status_with(&provider, &mapped, &token).await, 201);
    // Mapped to reads only, the same token cannot create.
    let read_only = json!({"scopeMap": {"Items.Read": "items:read", "Items.Write": "items:read"}});
    assert_eq!(create_status_with(&provider, &read_only, &token).await, 403);
}

#[tokio::test]
async fn two_providers_publishing_one_kid_and_an_issuer_that_is_down_leave_each_one_s_tokens_working()
 {
    // Two unrelated issuers whose RSA keys share a kid: each token verifies
    // with its own issuer's key set, never the other's. A third trusted
    // issuer is down from the start (nothing listens on its port): the
    // others' tokens still pass.
    let first = Provider::start_with(&["--rsa-kid", "shared"]);
    let second = Provider::start_with(&["--rsa-kid", "shared"]);
    let down = "http://127.0.0.1:9";
    let stack = stack_trusting(&json!([
        {"alias": "first", "issuer": first.ready.issuer, "audiences": [first.ready.api]},
        {"alias": "second", "issuer": second.ready.issuer, "audiences": [second.ready.api]},
        {"alias": "down", "issuer": down, "audiences": ["urn:secured-api:items"]},
    ]))
    .await;
    for provider in [&first, &second] {
        let token = provider
            .access_token(&provider.ready.api, "items/read items/write")
            .await;
        let (status, path) = create(&stack, &token, "shared kid").await;
        assert_eq!(status, 201, "{}", provider.ready.issuer);
        let (status, _) = call(&stack, Method::GET, &path.unwrap(), &token, None).await;
        assert_eq!(status, 200);
    }
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_issuer_that_differs_by_a_trailing_slash_is_another_issuer() {
    // The provider's tokens say `iss` exactly as its discovery document
    // does. Configured with one more `/`, the issuer is another string:
    // found by discovery, the document's `issuer` does not match it (OIDC
    // Discovery §4.3) and no key is trusted; with its JWK Set named
    // directly, the keys load but no token's `iss` picks the issuer. Both
    // refuse the provider's real token, and the development IdP's users
    // keep working beside them.
    let provider = Provider::start();
    let token = provider
        .access_token(&provider.ready.api, "items/read items/write")
        .await;
    let jwks_uri = provider.discovery().await["jwks_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let exact = provider.ready.issuer.trim_end_matches('/').to_owned();
    assert_eq!(
        exact, provider.ready.issuer,
        "the provider's issuer has no trailing slash"
    );
    let slashed = format!("{exact}/");

    let by_jwks_uri = |issuer: &str| {
        let mut entry = by_discovery(&provider);
        entry["issuer"] = json!(issuer);
        entry["jwksUri"] = json!(jwks_uri);
        entry
    };
    let mut slashed_by_discovery = by_discovery(&provider);
    slashed_by_discovery["issuer"] = json!(slashed);
    for (entry, expected) in [
        (by_jwks_uri(&exact), 201),
        (by_jwks_uri(&slashed), 401),
        (slashed_by_discovery, 401),
    ] {
        let stack = stack_trusting(&json!([entry])).await;
        assert_eq!(
            create(&stack, &token, "slash").await.0,
            expected,
            "with {entry}"
        );
        let alice = stack.mint("alice", &[], None).unwrap().unwrap();
        assert_eq!(
            create(&stack, &alice, "alice's").await.0,
            201,
            "with {entry}"
        );
        stack.shutdown().await.unwrap();
    }
}
