//! Writes the seed corpus (`fuzz/corpus/<target>/`) and the public keys the
//! JWT harness verifies with (`fuzz/fixtures/jwks.json`), from the project's
//! own fixtures and generators: keys and tokens from the authorizer's
//! testkit, a partner key from its generator, cursors from the api's codec.
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --features seeds --bin make-seeds
//! ```
//!
//! Run it from the repository root. Re-running it replaces every seed (the
//! keys are new each time), so commit the result as one change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use api::cursor::CursorCodec;
use api::item::ItemId;
use authorizer::apikey::format::GeneratedKey;
use authorizer::apikey::registry::hash_hex;
use authorizer::jwt::token::SigAlg;
use authorizer::testkit::{SigningKey, access_claims, jwks};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fuzz::{CLIENT_ID, CURSOR_KEY, NOW, OWNER, POOL_ID};
use serde_json::{Value, json};

const SUB: &str = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f";

/// Seeds of the trusted-issuer targets: fixed documents, no keys.
const ISSUER_SEEDS: &[(&str, &str, &str)] = &[
    ("trusted_issuers", "minimal.json", r###"[{"alias": "okta", "issuer": "https://example.okta.com/oauth2/default", "audiences": ["api://items"]}]"###),
    ("trusted_issuers", "every-field.json", r###"[
 {
  "alias": "entra-staff",
  "issuer": "https://login.microsoftonline.com/t1/v2.0/",
  "audiences": [
   "api://items"
  ],
  "clientIds": [
   "c1",
   "c2"
  ],
  "jwksUri": "https://login.microsoftonline.com/t1/discovery/v2.0/keys",
  "algorithms": [
   "RS256",
   "PS256",
   "ES256",
   "EdDSA"
  ],
  "requiredTyp": "application/at+jwt",
  "requiredClaims": {
   "tid": "t1",
   "ver": [
    "2.0",
    "1.0"
   ],
   "oid": true
  },
  "scopeMap": {
   "Items.Read": "items:read",
   "Items.Write": "items:write",
   "Items.Delete": "items:delete"
  },
  "groupsClaim": "groups",
  "readonlyGroups": [
   "auditors"
  ]
 }
]"###),
    ("trusted_issuers", "two-with-loopback.json", r###"[{"alias": "okta", "issuer": "https://example.okta.com", "audiences": ["x"]}, {"alias": "op", "issuer": "http://127.0.0.1:4000", "clientIds": ["app"], "jwksUri": "http://[::1]:4000/jwks"}]"###),
    ("trusted_issuers", "hmac-refused.json", r###"[{"alias": "a", "issuer": "https://a.example", "audiences": ["x"], "algorithms": ["RS256", "HS256"]}]"###),
    ("trusted_issuers", "duplicate-member.json", r###"[{"alias": "a", "alias": "b", "issuer": "https://a.example", "audiences": ["x"]}]"###),
    ("trusted_issuers", "empty.json", r###"[]"###),
    ("discovery", "okta.json", r###"{
 "issuer": "https://idp.example.com",
 "authorization_endpoint": "https://idp.example.com/v1/authorize",
 "token_endpoint": "https://idp.example.com/v1/token",
 "jwks_uri": "https://idp.example.com/v1/keys",
 "response_types_supported": [
  "code"
 ],
 "id_token_signing_alg_values_supported": [
  "RS256"
 ]
}"###),
    ("discovery", "loopback-provider.json", r###"{"issuer": "http://127.0.0.1:4000", "jwks_uri": "http://127.0.0.1:4000/jwks", "token_endpoint": "http://127.0.0.1:4000/token"}"###),
    ("discovery", "another-issuer.json", r###"{"issuer": "https://idp.example.com/", "jwks_uri": "https://idp.example.com/keys"}"###),
    ("discovery", "http-keys-for-https-issuer.json", r###"{"issuer": "https://idp.example.com", "jwks_uri": "http://127.0.0.1:9001/keys"}"###),
    ("discovery", "lone-surrogate-in-an-unread-member.json", r###"{"issuer": "https://idp.example.com", "x": "\ud800", "jwks_uri": "https://k.example.net/jwks"}"###),
];

fn write(root: &Path, target: &str, name: &str, bytes: impl AsRef<[u8]>) {
    let dir = root.join("corpus").join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), bytes).unwrap();
}

fn fixture(path: &str) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run from the repository root)"))
}

fn main() {
    let root = PathBuf::from("fuzz");
    assert!(
        root.join("Cargo.toml").exists(),
        "run from the repository root"
    );
    let _ = fs::remove_dir_all(root.join("corpus"));

    // Keys and tokens: the JWT harness verifies with exactly these keys.
    let rsa = SigningKey::rsa("seed-rsa", SigAlg::RS256).unwrap();
    let ec = SigningKey::ec("seed-ec", SigAlg::ES256).unwrap();
    let document = jwks(&[&rsa, &ec]);
    fs::create_dir_all(root.join("fixtures")).unwrap();
    fs::write(
        root.join("fixtures/jwks.json"),
        serde_json::to_string_pretty(&document).unwrap() + "\n",
    )
    .unwrap();
    let issuer = format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL_ID}");
    let issued = NOW - 60;
    let access = access_claims(
        &issuer,
        CLIENT_ID,
        SUB,
        "items/read items/write",
        &["readonly"],
        issued,
    );
    let id_claims = json!({
        "sub": SUB, "iss": issuer, "aud": CLIENT_ID, "token_use": "id",
        "cognito:username": "alice", "exp": issued + 3600, "iat": issued,
        "auth_time": issued, "email": "alice@example.com",
    });
    let rs_token = rsa.sign(&access).unwrap();
    let es_token = ec.sign(&access).unwrap();
    let id_token = rsa.sign(&id_claims).unwrap();
    let key = GeneratedKey::generate().unwrap();
    let key = key.expose();

    // authorization_header
    for (name, value) in [
        ("bearer-jwt", format!("Bearer {rs_token}")),
        ("bare-jwt", rs_token.clone()),
        ("api-key", format!("ApiKey {key}")),
        ("basic", "Basic dXNlcjpwdw==".to_owned()),
        ("lowercase-scheme", format!("bearer {rs_token}")),
        ("key-as-bearer", format!("Bearer {key}")),
    ] {
        write(&root, "authorization_header", name, value);
    }

    // authorizer_event: the fixtures, with real credentials in them.
    for (name, path) in [
        ("token-event.json", "authorizer/fixtures/token-event.json"),
        (
            "request-event.json",
            "authorizer/fixtures/request-event.json",
        ),
    ] {
        write(
            &root,
            "authorizer_event",
            name,
            fixture(path).replace("{{TOKEN}}", &rs_token),
        );
    }
    let request: Value =
        serde_json::from_str(&fixture("authorizer/fixtures/request-event.json")).unwrap();
    let mut with_key = request.clone();
    with_key["headers"] =
        json!({"X-Api-Key": key, "Host": "abcdef1234.execute-api.us-east-1.amazonaws.com"});
    write(
        &root,
        "authorizer_event",
        "request-x-api-key.json",
        with_key.to_string(),
    );
    let mut both = request;
    both["headers"] = json!({"Authorization": format!("ApiKey {key}"), "x-api-key": key});
    write(
        &root,
        "authorizer_event",
        "request-both.json",
        both.to_string(),
    );

    // jwt_token and jwt_claims
    for (name, token) in [
        ("rs256", &rs_token),
        ("es256", &es_token),
        ("id-token", &id_token),
    ] {
        write(&root, "jwt_token", name, token);
        let payload = token.split('.').nth(1).unwrap();
        write(
            &root,
            "jwt_claims",
            name,
            URL_SAFE_NO_PAD.decode(payload).unwrap(),
        );
    }
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    for (name, header) in [
        ("alg-none", json!({"alg": "none", "kid": "seed-rsa"})),
        (
            "crit",
            json!({"alg": "RS256", "kid": "seed-rsa", "crit": ["exp"]}),
        ),
        ("hs256", json!({"alg": "HS256", "kid": "seed-rsa"})),
    ] {
        write(
            &root,
            "jwt_token",
            name,
            format!("{}.{}.c2ln", b64(&header), b64(&access)),
        );
    }

    // jwks
    write(&root, "jwks", "seed-keys.json", document.to_string());
    write(
        &root,
        "jwks",
        "unusable-keys.json",
        json!({"keys": [
            {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "p521", "crv": "P-521", "x": "AQAB", "y": "AQAB"},
            rsa.jwk(),
        ]})
        .to_string(),
    );

    // partner_key
    write(&root, "partner_key", "generated", key);
    let mut mistyped = key.to_owned();
    mistyped.replace_range(20..21, if &key[20..21] == "A" { "B" } else { "A" });
    write(&root, "partner_key", "mistyped", mistyped);

    // registry
    let id = &key[3..15];
    write(
        &root,
        "registry",
        "one-key.json",
        json!({"keys": [{
            "id": id, "partner": "acme", "sha256": hash_hex(key),
            "permissions": ["items:read", "items:write"],
            "usageKey": "acme-usage-0123456789abcdef",
            "expires": "2027-12-31T00:00:00Z", "created": "2026-11-30T12:00:00Z",
        }]})
        .to_string(),
    );
    write(
        &root,
        "registry",
        "mixed.json",
        json!({"keys": [
            {"id": "aaaaaaaaaaaa", "partner": "acme", "sha256": "00".repeat(32), "permissions": ["items:delete"], "disabled": true},
            {"id": "bbbbbbbbbbbb", "partner": "Not Valid", "sha256": "zz", "permissions": ["items:fly"]},
            {"id": "aaaaaaaaaaaa", "partner": "beta", "sha256": "11".repeat(32), "permissions": []},
            {"id": 7},
        ]})
        .to_string(),
    );

    // method_arn
    for (name, arn) in [
        (
            "get-items",
            "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/items",
        ),
        (
            "delete-item",
            "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/DELETE/items/01JD4X0Z7Q8W3N6M5K2P1R9T0V",
        ),
        (
            "root",
            "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/",
        ),
        (
            "widest-prefix",
            "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/PATCH/items/x",
        ),
        (
            "wildcard-stage",
            "arn:aws:execute-api:us-east-1:123456789012:abc123/*/GET/items",
        ),
        (
            "colon-in-path",
            "arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/$default/*/a:b/c",
        ),
    ] {
        write(&root, "method_arn", name, arn);
    }

    // owner
    for (name, owner) in [
        ("user", OWNER),
        ("partner", "partner:acme"),
        ("user-named-like-partner", "user:partner:acme"),
        ("bad-partner", "partner:-x"),
    ] {
        write(&root, "owner", name, owner);
    }

    // auth_context: the api fixtures' contexts and the authorizer's print.
    for name in ["rest-get-items", "rest-post-item"] {
        let event: Value =
            serde_json::from_str(&fixture(&format!("api/tests/fixtures/{name}.json"))).unwrap();
        write(
            &root,
            "auth_context",
            name,
            event["requestContext"]["authorizer"].to_string(),
        );
    }
    let v2: Value =
        serde_json::from_str(&fixture("api/tests/fixtures/http-v2-get-item.json")).unwrap();
    write(
        &root,
        "auth_context",
        "http-v2",
        v2["requestContext"]["authorizer"]["lambda"].to_string(),
    );
    write(
        &root,
        "auth_context",
        "expiring",
        json!({"owner": "user:abc", "authType": "jwt", "sub": "abc", "permissions": "items:read",
               "expiresAt": "1800003600", "groups": "readonly staff", "scopes": "items/read"})
        .to_string(),
    );

    // item_input
    let post: Value =
        serde_json::from_str(&fixture("api/tests/fixtures/rest-post-item.json")).unwrap();
    let post_body = post["body"].as_str().unwrap().to_owned();
    write(&root, "item_input", "rest-post-item", &post_body);
    write(&root, "item_input", "minimal", r#"{"name":"n"}"#);
    write(
        &root,
        "item_input",
        "server-fields",
        r#"{"name":"n","id":"x","version":3,"tags":null,"description":null}"#,
    );
    write(
        &root,
        "item_input",
        "bad-fields",
        "{\"name\":\"\",\"tags\":[1,\"\"],\"colour\":\"red\",\"description\":\"a\\u202eb\"}",
    );

    // merge_patch: RFC 7396 appendix A, target \0 patch.
    for (i, (target, patch)) in [
        (r#"{"a":"b"}"#, r#"{"a":"c"}"#),
        (r#"{"a":"b"}"#, r#"{"a":null}"#),
        (r#"{"a":{"b":"c"}}"#, r#"{"a":{"b":"d","c":null}}"#),
        (r#"[1,2]"#, r#"{"a":"b","c":null}"#),
        (r#"{}"#, r#"{"a":{"bb":{"ccc":null}}}"#),
        (&post_body, r#"{"description":null,"tags":["x"]}"#),
    ]
    .into_iter()
    .enumerate()
    {
        write(
            &root,
            "merge_patch",
            &format!("rfc-{i}"),
            format!("{target}\0{patch}"),
        );
    }

    // cursor
    let codec = CursorCodec::new(CURSOR_KEY).unwrap();
    let item = ItemId::parse("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b").unwrap();
    write(&root, "cursor", "issued", codec.encode(OWNER, &item));
    write(
        &root,
        "cursor",
        "partner",
        format!("partner:acme\n{}", codec.encode("partner:acme", &item)),
    );
    write(
        &root,
        "cursor",
        "plain-id",
        "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    );

    // if_match
    for (name, value) in [
        ("any", "*"),
        ("one", "\"3\""),
        ("list", " \"1\" , \"2\",\"x\", W/\"5\", 6"),
        ("other-spellings", "\"+1\", \"01\", \"1 \""),
    ] {
        write(&root, "if_match", name, value);
    }

    // api_request: the fixtures' requests in the text form, and the rest of CRUD.
    for (name, text) in [
        ("rest-get-items", "GET /items?limit=10\nAccept: application/json\n\n".to_owned()),
        ("rest-post-item", format!("POST /items\nContent-Type: application/json\nIdempotency-Key: k1\n\n{post_body}")),
        ("get-item", "GET /items/{id}\n\n".to_owned()),
        ("list-cursor", "GET /items?limit=1&cursor={cursor}\n\n".to_owned()),
        ("put-if-match", "PUT /items/{id}\nContent-Type: application/json\nIf-Match: \"1\"\n\n{\"name\":\"n\",\"tags\":[\"a\"]}".to_owned()),
        ("patch", "PATCH /items/{id}\nContent-Type: application/merge-patch+json\n\n{\"description\":null,\"tags\":[\"b\"]}".to_owned()),
        ("delete", "DELETE /items/{id}\nIf-Match: \"1\", \"2\"\n\n".to_owned()),
        ("wrong-method", "PATCH /items\n\n".to_owned()),
        ("partner-context", format!("GET /items\n{}: {}\n\n", fuzz::requests::AUTHORIZER_HEADER, post["requestContext"]["authorizer"])),
        ("no-context", format!("GET /items/{{id}}\n{}: {{}}\n\n", fuzz::requests::AUTHORIZER_HEADER)),
    ] {
        write(&root, "api_request", name, text);
    }

    // local_http: raw HTTP/1.1 requests; $ALICE and $PARTNER are filled in.
    for (name, text) in [
        ("get-items", "GET /items?limit=2 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: $ALICE\r\n\r\n".to_owned()),
        ("post-item", format!("POST /items HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: $ALICE\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{post_body}", post_body.len())),
        ("partner-pipelined", "GET /items HTTP/1.1\r\nHost: localhost\r\nAuthorization: $PARTNER\r\n\r\nDELETE /items/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: $PARTNER\r\n\r\n".to_owned()),
        ("preflight", "OPTIONS /items/1 HTTP/1.1\r\nHost: localhost\r\nOrigin: http://localhost:5173\r\nAccess-Control-Request-Method: PUT\r\n\r\n".to_owned()),
        ("no-credential", "GET /items/abc HTTP/1.1\r\nHost: localhost\r\n\r\n".to_owned()),
        ("chunked-patch", "PATCH /items/abc HTTP/1.1\r\nHost: localhost\r\nAuthorization: $ALICE\r\nContent-Type: application/merge-patch+json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n".to_owned()),
        ("dev-token", "POST /_dev/token HTTP/1.1\r\nHost: 127.0.0.1:3000\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"sub\":\"bob\"}\r\n".to_owned()),
        ("dev-jwks", "GET /_dev/jwks.json HTTP/1.1\r\nHost: localhost\r\n\r\n".to_owned()),
        ("odd-target", "GET /items/a%22b%ZZ?limit=%FF&limit=2&cursor=a+b HTTP/1.1\r\nHost: bad host:99999\r\nAuthorization: $ALICE\r\n\r\n".to_owned()),
    ] {
        write(&root, "local_http", name, text);
    }
    for (target, name, text) in ISSUER_SEEDS {
        write(&root, target, name, text);
    }
    println!("seeds written under fuzz/corpus/, keys in fuzz/fixtures/jwks.json");
}
