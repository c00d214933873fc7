//! The JWT side of the authorizer: the compact JWS parser, the claim checks,
//! and JWKS documents.

use std::sync::LazyLock;

use authorizer::jwt::cognito::ClaimRules;
use authorizer::jwt::jwks::{KeyMap, parse_jwks};
use authorizer::jwt::token::{self, MAX_TOKEN_BYTES, SigAlg};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use policies::{Owner, TokenUse};
use serde_json::Value;

/// The public keys the seed tokens are signed with (`fuzz/fixtures/`,
/// written by `make-seeds`).
static KEYS: LazyLock<KeyMap> =
    LazyLock::new(|| parse_jwks(include_bytes!("../fixtures/jwks.json")).unwrap());

static CONFIG: LazyLock<authorizer::Config> = LazyLock::new(|| {
    authorizer::Config::from_pairs(&[
        ("COGNITO_USER_POOL_ID", crate::POOL_ID),
        ("COGNITO_CLIENT_IDS", crate::CLIENT_ID),
    ])
    .unwrap()
});

static RULES: LazyLock<ClaimRules> =
    LazyLock::new(|| ClaimRules::new(CONFIG.cognito.as_ref().unwrap(), CONFIG.leeway_seconds));

/// Whether JSON text that parsed is an object: its first non-blank byte.
fn starts_as_object(json: &[u8]) -> bool {
    json.iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        == Some(&b'{')
}

fn assert_canonical(segment: &str) {
    let bytes = URL_SAFE_NO_PAD.decode(segment).unwrap();
    assert_eq!(
        URL_SAFE_NO_PAD.encode(bytes),
        segment,
        "non-canonical base64url"
    );
}

/// Target `jwt_token`: `token::parse`, then, as the verifier does, key by
/// `kid` and signature (with the seed keys), then `decode_payload` and the
/// claim checks.
///
/// - the parts reassemble into the token; the header is canonical base64url;
/// - `alg` is from the allow-list and `kid` is not empty;
/// - a token whose signature verifies has exactly one spelling: all three
///   segments are the canonical base64url of their bytes (otherwise one
///   token could be re-spelt into many authorizer cache keys).
pub fn jwt_token(data: &[u8]) {
    let Some(token) = crate::text(data) else {
        return;
    };
    let Ok(parsed) = token::parse(token) else {
        return;
    };
    assert!(token.len() <= MAX_TOKEN_BYTES);
    assert_eq!(
        format!("{}.{}", parsed.signing_input, parsed.signature),
        token
    );
    let (header, payload) = parsed.signing_input.split_once('.').unwrap();
    assert_eq!(payload, parsed.payload);
    assert!(!payload.is_empty() && !parsed.signature.is_empty());
    assert!(!payload.contains('.') && !parsed.signature.contains('.'));
    assert_canonical(header);
    // RFC 7515: the JOSE header is a JSON object (it parsed, so an object
    // is exactly what starts with `{`).
    let header_json = URL_SAFE_NO_PAD.decode(header).unwrap();
    assert!(
        starts_as_object(&header_json),
        "header accepted from {header_json:?}"
    );
    assert!(!parsed.kid.is_empty());
    assert_eq!(SigAlg::parse(parsed.alg.name()), Some(parsed.alg));

    if let Some(key) = KEYS.get(&parsed.kid)
        && key.check_agreement(parsed.alg).is_ok()
        && key.verify(parsed.alg, parsed.signing_input, parsed.signature)
    {
        assert_canonical(payload);
        assert_canonical(parsed.signature);
    }
    if let Ok(bytes) = token::decode_payload(parsed.payload) {
        assert_eq!(URL_SAFE_NO_PAD.encode(&bytes), parsed.payload);
        claims(&bytes);
    }
}

/// Target `jwt_claims`: a decoded payload into `ClaimRules::check` at
/// [`crate::NOW`]. Whatever it accepts must say what the payload says: a
/// live `exp`, an issuer of the pool, the allowed client, `user:<sub>`.
pub fn jwt_claims(data: &[u8]) {
    claims(data);
}

fn claims(payload: &[u8]) {
    let now = crate::NOW as f64;
    let Ok(verified) = RULES.check(payload, now) else {
        return;
    };
    // RFC 7519: the claims set is a JSON object.
    assert!(
        starts_as_object(payload),
        "claims accepted from {payload:?}"
    );
    // serde skips the members it does not read without decoding their
    // escapes, so a payload whose unknown claim holds a lone surrogate
    // (`"\ud800"`) passes the checks but is no `Value`: nothing to compare.
    let Ok(claims) = serde_json::from_slice::<Value>(payload) else {
        return;
    };
    let leeway = CONFIG.leeway_seconds as f64;
    let cognito = CONFIG.cognito.as_ref().unwrap();

    let exp = claims["exp"].as_f64().unwrap();
    assert_eq!(verified.expires_at, exp);
    assert!(now < exp + leeway);
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_f64) {
        assert!(nbf <= now + leeway);
    }
    if let Some(iat) = claims.get("iat").and_then(Value::as_f64) {
        assert!(iat <= now + leeway);
    }
    assert!(
        cognito
            .issuers
            .iter()
            .any(|i| claims["iss"].as_str() == Some(i))
    );
    assert_eq!(verified.client_id.as_deref(), Some(crate::CLIENT_ID));
    match verified.token_use.unwrap() {
        TokenUse::Access => {
            assert_eq!(claims["token_use"], "access");
            assert_eq!(claims["client_id"], crate::CLIENT_ID);
        }
        TokenUse::Id => {
            assert_eq!(claims["token_use"], "id");
            let aud = &claims["aud"];
            assert!(
                aud == crate::CLIENT_ID
                    || aud
                        .as_array()
                        .is_some_and(|a| a.iter().any(|v| v == crate::CLIENT_ID))
            );
        }
    }
    let sub = claims["sub"].as_str().unwrap();
    assert_eq!(verified.owner, Owner::user(sub).unwrap());
    assert_eq!(verified.owner.sub(), Some(sub));
    let groups: Vec<String> = match claims.get("cognito:groups") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone()).unwrap(),
    };
    assert_eq!(verified.groups, groups);
}

/// Target `jwks`: `parse_jwks`, the JWKS cache's reading of a fetched
/// document. What it keeps is keyed by its own `kid`, is no more than the
/// document's members, and agrees with its own `alg`.
pub fn jwks(data: &[u8]) {
    let Ok(keys) = parse_jwks(data) else {
        return;
    };
    assert!(!keys.is_empty());
    // RFC 7517: a JWK Set is a JSON object with a `keys` array.
    assert!(keys.len() <= crate::keys_array_len(data));
    for (kid, key) in keys.iter() {
        assert_eq!(kid, &key.kid);
        if let Some(alg) = key.alg {
            assert_eq!(key.check_agreement(alg), Ok(()));
        }
    }
}
