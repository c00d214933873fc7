//! The built authorizer binary as Lambda runs it (under the Runtime API
//! emulator, `e2e::runtime_api`) trusting the user pool and two OpenID
//! issuers at once, every key set found the way production finds it: the
//! pool's at `JWKS_URI`, each issuer's by OIDC discovery, all served over
//! HTTP on the emulator's own address. Two more trusted issuers are down
//! from the start: one whose discovery is unreachable, one whose JWKS is.
//!
//! Each issuer's tokens are accepted in its own namespace; tokens that bend
//! each rule (issue 17's list) are refused with exactly `Unauthorized`, for
//! that rule's reason, while the others' tokens keep being accepted; and
//! every line the process writes is JSON, carries its invocation's request
//! id and holds no token.

// Test code: a panic is how a failure is reported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use authorizer::jwt::token::SigAlg;
use authorizer::testkit::{SigningKey, access_claims, high_s_twin, jwks, oidc_claims, sign_typed};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use e2e::runtime_api::{Event, Function, Launch, Line, LogLines, Outcome, by_invocation};
use serde_json::{Value, json};

const POOL: &str = "us-east-1_RuntimeApi2";
const POOL_ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_RuntimeApi2";
const POOL_CLIENT: &str = "client1";
/// The audience `alpha` requires.
const API: &str = "api://items";
/// The client `beta` requires.
const BETA_CLIENT: &str = "beta-app";
/// One `sub` at every issuer: three owners all the same.
const SUB: &str = "alice";
const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/items";
const ALL: &str = "items:read items:write items:delete";

/// The keys of every issuer, generated once per test binary.
struct Keys {
    pool_rs: SigningKey,
    pool_es: SigningKey,
    /// kid `shared`: beta publishes another key under the same kid.
    alpha_rs: SigningKey,
    alpha_ps: SigningKey,
    /// Published by alpha, whose `algorithms` do not allow EdDSA.
    alpha_ed: SigningKey,
    /// kid `shared`, as alpha's RSA key.
    beta_rs: SigningKey,
    beta_es: SigningKey,
    beta_ed: SigningKey,
    /// Signs the tokens of the issuers that are down.
    stray: SigningKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        pool_rs: SigningKey::rsa("pool-rs", SigAlg::RS256).unwrap(),
        pool_es: SigningKey::ec("pool-es", SigAlg::ES256).unwrap(),
        alpha_rs: SigningKey::rsa("shared", SigAlg::RS256).unwrap(),
        alpha_ps: SigningKey::rsa("alpha-ps", SigAlg::PS256).unwrap(),
        alpha_ed: SigningKey::ed25519("alpha-ed").unwrap(),
        beta_rs: SigningKey::rsa("shared", SigAlg::RS256).unwrap(),
        beta_es: SigningKey::ec("beta-es", SigAlg::ES256).unwrap(),
        beta_ed: SigningKey::ed25519("beta-ed").unwrap(),
        stray: SigningKey::rsa("stray", SigAlg::RS256).unwrap(),
    })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A loopback port nothing listens on (bound, then let go).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `claims` with a `jti` never used before: a token that has to be verified
/// in full, not found among the tokens verified already.
fn fresh(mut claims: Value) -> Value {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    claims["jti"] = json!(format!("jti-{}", NEXT.fetch_add(1, Ordering::Relaxed)));
    claims
}

/// `claims` with `name` set to `value`, or removed for `null`.
fn with(mut claims: Value, name: &str, value: Value) -> Value {
    if value.is_null() {
        claims.as_object_mut().unwrap().remove(name);
    } else {
        claims[name] = value;
    }
    claims
}

/// A first-party access token of the pool for [`SUB`], signed by `key`.
fn pool_token(key: &SigningKey) -> String {
    let claims = access_claims(
        POOL_ISSUER,
        POOL_CLIENT,
        SUB,
        "aws.cognito.signin.user.admin",
        &[],
        now(),
    );
    key.sign(&fresh(claims)).unwrap()
}

/// An RFC 9068 access token (`typ: at+jwt`, as alpha requires) of
/// `claims`, signed by `key`.
fn at_jwt(key: &SigningKey, claims: &Value) -> String {
    sign_typed(key, "at+jwt", claims).unwrap()
}

/// What an invocation must come to.
#[derive(Debug, Clone)]
enum Expect {
    /// A policy for `owner`, whose context names `issuer` and grants
    /// `permissions`.
    Allow {
        owner: String,
        issuer: &'static str,
        permissions: &'static str,
    },
    /// Exactly `Unauthorized`, with this reason on the decision line.
    Refuse(&'static str),
}

fn allow(owner: &str, issuer: &'static str, permissions: &'static str) -> Expect {
    Expect::Allow {
        owner: owner.to_owned(),
        issuer,
        permissions,
    }
}

/// The authorizer trusting the pool, `alpha`, `beta` and the two issuers
/// that are down, past its cold start, with the invocations made so far.
struct Run {
    function: Function,
    alpha: String,
    beta: String,
    /// Its discovery document is at a port nothing listens on.
    down: String,
    /// Its discovery names a `jwks_uri` at a port nothing listens on.
    keyless: String,
    /// Each invocation's request id and what it had to come to.
    expected: Vec<(String, Expect)>,
    /// Every token handed over.
    tokens: Vec<String>,
}

impl Run {
    fn start() -> Self {
        let k = keys();
        let launch = Launch::new(env!("CARGO_BIN_EXE_authorizer")).unwrap();
        let alpha = launch.url("/issuers/alpha");
        let beta = launch.url("/issuers/beta");
        let keyless = launch.url("/issuers/keyless");
        let nowhere = format!("http://127.0.0.1:{}", closed_port());
        let down = format!("{nowhere}/issuers/down");
        let discovery = |issuer: &str, jwks_uri: &str| {
            json!({
                "issuer": issuer, "jwks_uri": jwks_uri,
                "token_endpoint": format!("{issuer}/token"),
                "id_token_signing_alg_values_supported": ["RS256"],
            })
            .to_string()
            .into_bytes()
        };
        // beta serves its keys without `alg` or `use`, as Entra ID does.
        let bare =
            json!({"keys": [k.beta_rs.bare_jwk(), k.beta_es.bare_jwk(), k.beta_ed.bare_jwk()]});
        let trusted = json!([
            {"alias": "alpha", "issuer": alpha, "audiences": [API],
             "algorithms": ["RS256", "PS256"], "requiredTyp": "application/at+jwt",
             "requiredClaims": {"tenant": "acme"}},
            {"alias": "beta", "issuer": beta, "clientIds": [BETA_CLIENT],
             "algorithms": ["RS256", "ES256", "EdDSA"],
             "requiredClaims": {"amr": ["mfa", "hwk"]},
             "scopeMap": {"Items.Read": "items:read", "Items.Write": "items:write"}},
            {"alias": "down", "issuer": down, "audiences": [API]},
            {"alias": "keyless", "issuer": keyless, "audiences": [API]},
        ]);
        let pool_jwks = launch.url("/pool/jwks.json");
        let mut function = launch
            .document(
                "/pool/jwks.json",
                jwks(&[&k.pool_rs, &k.pool_es]).to_string().into_bytes(),
            )
            .document(
                "/issuers/alpha/.well-known/openid-configuration",
                discovery(&alpha, &format!("{alpha}/keys")),
            )
            .document(
                "/issuers/alpha/keys",
                jwks(&[&k.alpha_rs, &k.alpha_ps, &k.alpha_ed])
                    .to_string()
                    .into_bytes(),
            )
            .document(
                "/issuers/beta/.well-known/openid-configuration",
                discovery(&beta, &format!("{beta}/jwks")),
            )
            .document("/issuers/beta/jwks", bare.to_string().into_bytes())
            .document(
                "/issuers/keyless/.well-known/openid-configuration",
                discovery(&keyless, &format!("{nowhere}/jwks")),
            )
            .env("COGNITO_USER_POOL_ID", POOL)
            .env("COGNITO_CLIENT_IDS", POOL_CLIENT)
            .env("JWKS_URI", pool_jwks)
            .env("TRUSTED_ISSUERS", trusted.to_string())
            .start()
            .unwrap();
        assert_eq!(function.wait_ready(), None, "{:?}", function.lines());
        Run {
            function,
            alpha,
            beta,
            down,
            keyless,
            expected: Vec::new(),
            tokens: Vec::new(),
        }
    }

    /// alpha's claims for [`SUB`]: its audience and its required tenant.
    fn alpha_claims(&self) -> Value {
        let claims = oidc_claims(
            &self.alpha,
            API,
            "alpha-app",
            SUB,
            "items/read items/write",
            now(),
        );
        fresh(with(claims, "tenant", json!("acme")))
    }

    /// beta's claims for [`SUB`]: its client, its own scope names, `amr`.
    fn beta_claims(&self) -> Value {
        let claims = oidc_claims(
            &self.beta,
            "api://whatever-beta-says",
            BETA_CLIENT,
            SUB,
            "Items.Read",
            now(),
        );
        fresh(with(claims, "amr", json!(["pwd", "mfa"])))
    }

    /// Hands `token` over as a `TOKEN` event and checks the answer against
    /// `expect` (the decision line is checked by [`Self::finish`]); the
    /// answer, or `null` for a refusal.
    fn check(&mut self, label: &str, token: String, expect: Expect) -> Value {
        // The request id names the case, in the characters a URL path keeps.
        let slug: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let request_id = format!("{}-{slug}", self.expected.len() + 1);
        let event = json!({"type": "TOKEN", "authorizationToken": format!("Bearer {token}"), "methodArn": ARN});
        let outcome = self.function.invoke_event(Event {
            request_id: request_id.clone(),
            trace_id: None,
            body: event.to_string().into_bytes(),
        });
        match (&expect, &outcome) {
            (
                Expect::Allow {
                    owner,
                    issuer,
                    permissions,
                },
                Outcome::Response(answer),
            ) => {
                assert_eq!(answer["principalId"], **owner, "{label}: {answer}");
                assert_eq!(answer["context"]["owner"], **owner, "{label}: {answer}");
                assert_eq!(answer["context"]["issuer"], *issuer, "{label}: {answer}");
                assert_eq!(
                    answer["context"]["permissions"], *permissions,
                    "{label}: {answer}"
                );
                assert_eq!(
                    answer["policyDocument"]["Statement"][0]["Effect"], "Allow",
                    "{label}: {answer}"
                );
            }
            // API Gateway answers 401 for exactly this message, anything
            // else 500.
            (Expect::Refuse(_), Outcome::Error(e)) => {
                assert_eq!(e.error_message, "Unauthorized", "{label}: {e:?}");
            }
            _ => panic!(
                "{label}: {outcome:?}, expected {expect:?}; lines: {:#?}",
                self.function.lines()
            ),
        }
        self.expected.push((request_id, expect));
        self.tokens.push(token);
        match outcome {
            Outcome::Response(answer) => answer,
            _ => Value::Null,
        }
    }

    /// A fresh token of the pool, alpha and beta each, all accepted.
    fn others_still_work(&mut self, after: &str) {
        let k = keys();
        let pool = pool_token(&k.pool_rs);
        self.check(&format!("pool after {after}"), pool, pool_owner());
        let alpha = at_jwt(&k.alpha_rs, &self.alpha_claims());
        self.check(&format!("alpha after {after}"), alpha, alpha_owner());
        let beta = k.beta_es.sign(&self.beta_claims()).unwrap();
        self.check(&format!("beta after {after}"), beta, beta_owner());
    }

    /// Stops the process and checks every line it wrote: JSON with the
    /// invocation's request id (`by_invocation`), one decision line per
    /// invocation with its outcome and reason, no token anywhere, and at
    /// cold start an ERROR for each issuer that is down and for nothing
    /// else. The lines, by invocation.
    fn finish(self) -> LogLines {
        let lines = self.function.finish();
        let split = by_invocation(&lines).unwrap_or_else(|e| panic!("{e}"));
        let mut cold_errors: Vec<&str> = split
            .cold_start
            .iter()
            .filter(|v| v["level"] == "ERROR")
            .map(|v| v["issuer"].as_str().unwrap_or_else(|| panic!("{v}")))
            .collect();
        cold_errors.sort_unstable();
        assert_eq!(cold_errors, ["down", "keyless"], "{:#?}", split.cold_start);
        for id in split.invocations.keys() {
            assert!(
                self.expected.iter().any(|(e, _)| e == id),
                "a request id never handed over: {id}"
            );
        }
        for (id, expect) in &self.expected {
            let of_it = split.of(id);
            let decisions: Vec<&Value> =
                of_it.iter().filter(|v| v["target"] == "decision").collect();
            let [decision] = decisions[..] else {
                panic!("{id}: not one decision line: {of_it:#?}");
            };
            match expect {
                Expect::Allow { owner, .. } => {
                    assert_eq!(decision["outcome"], "allow", "{id}: {decision}");
                    assert_eq!(decision["principal"], **owner, "{id}: {decision}");
                }
                Expect::Refuse(reason) => {
                    assert_eq!(decision["outcome"], "unauthorized", "{id}: {decision}");
                    assert_eq!(decision["reason"], *reason, "{id}: {decision}");
                }
            }
            assert!(
                of_it.iter().all(|v| v["level"] != "ERROR"),
                "{id}: a refusal is no fault: {of_it:#?}"
            );
        }
        assert_no_token(&lines, &self.tokens);
        split
    }
}

/// How much of a token's part is enough to recognise it in a line: a
/// line's values are cut to a bound, so a leak may hold only the start of
/// one.
const RECOGNISABLE: usize = 24;

/// No line holds a token, its payload or its signature, whole or cut: none
/// holds the first [`RECOGNISABLE`] characters of any of them, nor the last
/// of the signature.
fn assert_no_token(lines: &[Line], tokens: &[String]) {
    for token in tokens {
        let parts: Vec<&str> = token.split('.').collect();
        let [_, payload, signature] = parts[..] else {
            panic!("not a compact JWS: {token}");
        };
        let needles = [
            &token[..RECOGNISABLE],
            &payload[..RECOGNISABLE],
            &signature[..RECOGNISABLE],
            &signature[signature.len() - RECOGNISABLE..],
        ];
        for line in lines {
            for needle in needles {
                assert!(
                    !line.text.contains(needle),
                    "a token's part ({needle}) in a log line: {}",
                    line.text
                );
            }
        }
    }
}

fn pool_owner() -> Expect {
    allow(&format!("user:{SUB}"), "cognito", ALL)
}

fn alpha_owner() -> Expect {
    allow(
        &format!("oidc:alpha:{SUB}"),
        "alpha",
        "items:read items:write",
    )
}

fn beta_owner() -> Expect {
    // Only through beta's scopeMap: Items.Read → items:read.
    allow(&format!("oidc:beta:{SUB}"), "beta", "items:read")
}

/// `claims` signed HS256 with `secret`: the algorithm-confusion forgery
/// (an issuer's public key used as an HMAC key).
fn hs256(kid: &str, claims: &Value, secret: &[u8]) -> String {
    let header = json!({"alg": "HS256", "kid": kid, "typ": "at+jwt"});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

#[test]
fn the_pool_s_and_two_discovered_issuers_tokens_are_accepted_each_as_its_own_owner() {
    let k = keys();
    let mut run = Run::start();
    run.check("pool RS256", pool_token(&k.pool_rs), pool_owner());
    run.check("pool ES256", pool_token(&k.pool_es), pool_owner());
    // alpha's RSA key and beta's share the kid "shared": each verifies its
    // own issuer's tokens.
    let alpha = at_jwt(&k.alpha_rs, &run.alpha_claims());
    run.check("alpha RS256", alpha, alpha_owner());
    let alpha = at_jwt(&k.alpha_ps, &run.alpha_claims());
    run.check("alpha PS256", alpha, alpha_owner());
    let beta = k.beta_rs.sign(&run.beta_claims()).unwrap();
    run.check("beta RS256", beta, beta_owner());
    let beta = k.beta_es.sign(&run.beta_claims()).unwrap();
    run.check("beta ES256", beta, beta_owner());
    let beta = k.beta_ed.sign(&run.beta_claims()).unwrap();
    run.check("beta EdDSA", beta, beta_owner());

    // The whole context of a trusted issuer's principal.
    let claims = run.alpha_claims();
    let token = at_jwt(&k.alpha_rs, &claims);
    let answer = run.check("alpha context", token, alpha_owner());
    assert_eq!(
        answer["context"],
        json!({"owner": "oidc:alpha:alice", "authType": "jwt", "permissions": "items:read items:write",
               "expiresAt": claims["exp"], "issuer": "alpha", "sub": "alice", "clientId": "alpha-app",
               "scopes": "items/read items/write"})
    );

    // alpha's typ rule compares media types (RFC 7515 §4.1.9, RFC 8725
    // §3.11): at+jwt, AT+JWT and application/at+jwt are one type.
    for typ in ["AT+JWT", "application/at+jwt"] {
        let token = sign_typed(&k.alpha_rs, typ, &run.alpha_claims()).unwrap();
        run.check(&format!("alpha typ {typ}"), token, alpha_owner());
    }
    // A required claim that holds an array matches when it contains the value.
    let claims = with(run.alpha_claims(), "tenant", json!(["other", "acme"]));
    let token = at_jwt(&k.alpha_rs, &claims);
    run.check("alpha tenant in an array", token, alpha_owner());
    run.finish();
}

#[test]
fn tokens_that_bend_each_rule_are_refused_with_unauthorized_while_the_others_keep_working() {
    let k = keys();
    let mut run = Run::start();
    let alpha_with = |run: &Run, name: &str, value: Value| {
        let claims = with(run.alpha_claims(), name, value);
        at_jwt(&k.alpha_rs, &claims)
    };
    let beta_with = |run: &Run, name: &str, value: Value| {
        k.beta_rs
            .sign(&with(run.beta_claims(), name, value))
            .unwrap()
    };
    let slash = format!("{}/", run.alpha);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "alpha another audience",
            alpha_with(&run, "aud", json!("api://billing")),
            "wrong_audience",
        ),
        (
            "beta another client",
            beta_with(&run, "client_id", json!("someone-else")),
            "wrong_client",
        ),
        (
            "alpha iss with a trailing slash",
            alpha_with(&run, "iss", json!(slash)),
            "wrong_issuer",
        ),
        (
            "alpha claims signed by beta's key of the same kid",
            at_jwt(&k.beta_rs, &run.alpha_claims()),
            "invalid_signature",
        ),
        (
            "beta claims signed by alpha's key of the same kid",
            k.alpha_rs.sign(&run.beta_claims()).unwrap(),
            "invalid_signature",
        ),
        (
            "alpha EdDSA with a key alpha publishes but may not use",
            at_jwt(&k.alpha_ed, &run.alpha_claims()),
            "disallowed_algorithm",
        ),
        (
            "alpha ES256 with beta's key",
            at_jwt(&k.beta_es, &run.alpha_claims()),
            "disallowed_algorithm",
        ),
        ("pool EdDSA", pool_token(&k.beta_ed), "disallowed_algorithm"),
        (
            "alpha HS256 keyed with alpha's public key",
            hs256(
                "shared",
                &run.alpha_claims(),
                k.alpha_rs.jwk().to_string().as_bytes(),
            ),
            "unsupported_algorithm",
        ),
        (
            "alpha required claim missing",
            alpha_with(&run, "tenant", Value::Null),
            "missing_claim",
        ),
        (
            "alpha required claim wrong",
            alpha_with(&run, "tenant", json!("globex")),
            "wrong_claim_value",
        ),
        (
            "beta required claim none of the list",
            beta_with(&run, "amr", json!(["pwd"])),
            "wrong_claim_value",
        ),
        (
            "alpha typ JWT",
            k.alpha_rs.sign(&run.alpha_claims()).unwrap(),
            "wrong_typ",
        ),
        (
            "alpha no typ",
            k.alpha_rs
                .sign_with_header(
                    &json!({"alg": "RS256", "kid": "shared"}),
                    &run.alpha_claims(),
                )
                .unwrap(),
            "wrong_typ",
        ),
        (
            "alpha typ dpop+jwt",
            sign_typed(&k.alpha_rs, "dpop+jwt", &run.alpha_claims()).unwrap(),
            "wrong_typ",
        ),
    ];
    for (label, token, reason) in cases {
        run.check(label, token, Expect::Refuse(reason));
        run.others_still_work(label);
    }

    // A high-S twin is another string for the same signature: accepting it
    // would be a second gateway cache entry and authorizer run per token.
    // The good token is accepted before and after its twin is refused, for
    // a trusted issuer's EC key and for the pool's.
    let beta = k.beta_es.sign(&run.beta_claims()).unwrap();
    let pool = pool_token(&k.pool_es);
    for (label, good, owner) in [("beta", beta, beta_owner()), ("pool", pool, pool_owner())] {
        let twin = high_s_twin(&good).unwrap();
        assert_ne!(twin, good);
        run.check(&format!("{label} ES256"), good.clone(), owner.clone());
        run.check(
            &format!("{label} high-S twin"),
            twin,
            Expect::Refuse("high_s_signature"),
        );
        run.check(&format!("{label} ES256 again"), good, owner);
        run.others_still_work(&format!("{label} high-S twin"));
    }
    run.finish();
}

#[test]
fn an_issuer_whose_discovery_or_jwks_is_unreachable_refuses_only_its_own_tokens() {
    let k = keys();
    let mut run = Run::start();
    let down = [("down", run.down.clone()), ("keyless", run.keyless.clone())];
    let mut refused = Vec::new();
    for round in 0..2 {
        for (alias, issuer) in &down {
            let claims = oidc_claims(issuer, API, "app", SUB, "items/read", now());
            let token = k.stray.sign(&fresh(claims)).unwrap();
            // Its key set never arrived: no key has the token's kid.
            run.check(
                &format!("{alias} round {round}"),
                token,
                Expect::Refuse("unknown_kid"),
            );
            refused.push((round, run.expected.last().unwrap().0.clone()));
            run.others_still_work(&format!("{alias} round {round}"));
        }
    }
    let lines = run.finish();
    // The first token of each tried its issuer again at once (a fetch that
    // failed at cold start starts no cool-down) and logged the failure; the
    // second, within the 10 s cool-down, asked nothing.
    for (round, id) in refused {
        let warnings: Vec<_> = lines
            .of(&id)
            .iter()
            .filter(|v| v["level"] == "WARN")
            .collect();
        assert_eq!(warnings.len(), 1 - round, "{id}: {:#?}", lines.of(&id));
        // The line says which issuer is down.
        for w in &warnings {
            let named = ["down", "keyless"]
                .iter()
                .any(|alias| w.to_string().contains(&format!("\"issuer\":\"{alias}\"")));
            assert!(named, "{id}: the warning names its issuer: {w}");
        }
    }
}
