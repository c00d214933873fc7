//! The provider on its own: discovery, the JWK Set, and RFC 9068 access
//! tokens from the client_credentials grant with resource indicators.

use serde_json::Value;

use crate::harness::Provider;
use crate::jwt::Jws;

/// A client_credentials access token for `resource` and `scope`, decoded.
async fn issued(provider: &Provider, resource: &str, scope: &str) -> Jws {
    Jws::decode(&provider.access_token(resource, scope).await)
}

/// The JWK Set that discovery points at.
async fn jwks(provider: &Provider) -> Value {
    let discovery = provider.discovery().await;
    provider
        .get_json(discovery["jwks_uri"].as_str().unwrap())
        .await
}

#[tokio::test]
async fn discovery_names_the_issuer_exactly_and_its_endpoints_under_it() {
    let provider = Provider::start();
    let issuer = &provider.ready.issuer;
    assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");
    let discovery = provider.discovery().await;
    // OIDC Discovery §4.3: the document's issuer is the configured one,
    // byte for byte (no trailing slash).
    assert_eq!(discovery["issuer"], issuer.as_str());
    for endpoint in ["jwks_uri", "token_endpoint", "authorization_endpoint"] {
        let url = discovery[endpoint].as_str().unwrap();
        assert!(url.starts_with(&format!("{issuer}/")), "{endpoint}: {url}");
    }
    let supported = |field: &str, value: &str| {
        discovery[field]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == value)
    };
    assert!(supported("grant_types_supported", "client_credentials"));
    assert!(supported("grant_types_supported", "authorization_code"));
    assert!(supported("code_challenge_methods_supported", "S256"));
}

#[tokio::test]
async fn the_jwks_holds_one_public_rsa_key_and_one_public_p256_key_with_kids() {
    let provider = Provider::start();
    let jwks = jwks(&provider).await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{jwks}");
    let private_members = ["d", "p", "q", "dp", "dq", "qi"];
    for key in keys {
        assert!(
            private_members.iter().all(|m| key.get(m).is_none()),
            "a private member in the published key {key}"
        );
        assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
        assert_eq!(key["use"], "sig");
    }
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[1]["kty"], "EC");
    assert_eq!(keys[1]["crv"], "P-256");
    assert_eq!(keys[1]["alg"], "ES256");
}

#[tokio::test]
async fn a_client_credentials_token_for_the_api_is_an_rfc_9068_jwt_with_its_audience_scope_and_client()
 {
    let provider = Provider::start();
    let ready = &provider.ready;
    let (status, body) = provider
        .client_credentials(&ready.api, "items/read items/write")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "items/read items/write");
    let token = Jws::decode(body["access_token"].as_str().unwrap());
    // RFC 9068 §2.1: typ "at+jwt"; §2.2: iss, exp, aud, sub, client_id,
    // iat, jti, and scope when one was asked.
    assert_eq!(token.header["typ"], "at+jwt");
    assert_eq!(token.header["alg"], "RS256");
    let claims = &token.claims;
    assert_eq!(claims["iss"], ready.issuer.as_str());
    assert_eq!(claims["aud"], ready.api.as_str());
    assert_eq!(claims["scope"], "items/read items/write");
    assert_eq!(claims["client_id"], ready.machine.client_id.as_str());
    assert_eq!(claims["sub"], ready.machine.client_id.as_str());
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 600, "the API's tokens live ten minutes");
    assert!(token.verifies_with(&jwks(&provider).await));
}

#[tokio::test]
async fn the_es256_resource_gives_es256_tokens_for_the_same_audience() {
    let provider = Provider::start();
    let ready = &provider.ready;
    let token = issued(&provider, &ready.api_es256, "items/read").await;
    assert_eq!(token.header["typ"], "at+jwt");
    assert_eq!(token.header["alg"], "ES256");
    assert_eq!(token.claims["aud"], ready.api.as_str());
    assert!(token.verifies_with(&jwks(&provider).await));
}

#[tokio::test]
async fn the_own_scopes_resource_gives_the_api_s_audience_with_the_provider_s_scope_names() {
    let provider = Provider::start();
    let ready = &provider.ready;
    let token = issued(&provider, &ready.api_own_scopes, "Items.Read").await;
    assert_eq!(token.claims["aud"], ready.api.as_str());
    assert_eq!(token.claims["scope"], "Items.Read");
    // Scopes of another resource server are not granted for this one.
    let (status, body) = provider
        .client_credentials(&ready.api_own_scopes, "items/read")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        Jws::decode(body["access_token"].as_str().unwrap())
            .claims
            .get("scope"),
        None
    );
}

#[tokio::test]
async fn a_token_for_another_resource_has_that_audience_and_an_unknown_resource_is_refused() {
    let provider = Provider::start();
    let ready = &provider.ready;
    let other = issued(&provider, &ready.other_audience, "items/read").await;
    assert_eq!(other.claims["aud"], ready.other_audience.as_str());
    assert!(other.verifies_with(&jwks(&provider).await));

    let (status, body) = provider
        .client_credentials("urn:secured-api:unknown", "items/read")
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_target");
}

#[tokio::test]
async fn a_token_does_not_verify_with_another_start_s_keys() {
    // The keys are made at every start: a token of one provider verifies
    // only with its own JWK Set (and the check above is not vacuous).
    let first = Provider::start();
    let second = Provider::start();
    let token = issued(&first, &first.ready.api, "items/read").await;
    let mut foreign = jwks(&second).await;
    // Same kid, other key: what a kid collision between issuers looks like.
    foreign["keys"][0]["kid"] = token.header["kid"].clone();
    assert!(!token.verifies_with(&foreign));
    assert!(token.verifies_with(&jwks(&first).await));
}
