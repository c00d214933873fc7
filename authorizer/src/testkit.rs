//! Development keys and token minting, for test suites, benchmarks and the
//! local stack's development identity provider (feature `testkit`).
//!
//! Tokens are signed here with aws-lc-rs directly rather than with
//! `jsonwebtoken`, so that the signer under test and the verifier under test
//! are not the same code.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_lc_rs::error::Unspecified;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::BoxFuture;
use crate::jwt::https::{FetchError, JwksSource};
use crate::jwt::token::SigAlg;

enum Inner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private key that signs JWTs, with its public JWK.
pub struct SigningKey {
    kid: String,
    alg: SigAlg,
    inner: Inner,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh RSA-2048 key for `alg` (RS256/384/512 or PS256/384/512).
    pub fn rsa(kid: &str, alg: SigAlg) -> Result<Self, Unspecified> {
        Ok(SigningKey {
            kid: kid.to_owned(),
            alg,
            inner: Inner::Rsa(RsaKeyPair::generate(KeySize::Rsa2048)?),
        })
    }

    /// A fresh EC key for `alg` (ES256 on P-256, ES384 on P-384).
    pub fn ec(kid: &str, alg: SigAlg) -> Result<Self, Unspecified> {
        let signing = match alg {
            SigAlg::ES384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            _ => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        };
        Ok(SigningKey {
            kid: kid.to_owned(),
            alg,
            inner: Inner::Ec(EcdsaKeyPair::generate(signing)?),
        })
    }

    /// A fresh Ed25519 key (EdDSA).
    pub fn ed25519(kid: &str) -> Result<Self, Unspecified> {
        Ok(SigningKey {
            kid: kid.to_owned(),
            alg: SigAlg::EdDSA,
            inner: Inner::Ed(Ed25519KeyPair::generate()?),
        })
    }

    /// A fresh key of `alg`'s type, for `alg`.
    pub fn generate(kid: &str, alg: SigAlg) -> Result<Self, Unspecified> {
        match alg {
            SigAlg::ES256 | SigAlg::ES384 => Self::ec(kid, alg),
            SigAlg::EdDSA => Self::ed25519(kid),
            _ => Self::rsa(kid, alg),
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm it signs with.
    pub fn alg(&self) -> SigAlg {
        self.alg
    }

    /// The public JWK, with `kid`, `alg` and `use: sig`, as Cognito serves it.
    pub fn jwk(&self) -> Value {
        let mut jwk = self.bare_jwk();
        jwk["alg"] = json!(self.alg.name());
        jwk["use"] = json!("sig");
        jwk
    }

    /// The public JWK with `kid` but without `alg` and `use`, as some
    /// providers (Entra ID) serve theirs.
    pub fn bare_jwk(&self) -> Value {
        match &self.inner {
            Inner::Rsa(pair) => {
                let public = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                json!({
                    "kty": "RSA", "kid": self.kid,
                    "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e),
                })
            }
            Inner::Ec(pair) => {
                // Uncompressed point: 0x04 || x || y.
                let point = pair.public_key().as_ref();
                let half = (point.len() - 1) / 2;
                json!({
                    "kty": "EC", "kid": self.kid,
                    "crv": if self.alg == SigAlg::ES384 { "P-384" } else { "P-256" },
                    "x": URL_SAFE_NO_PAD.encode(&point[1..1 + half]),
                    "y": URL_SAFE_NO_PAD.encode(&point[1 + half..]),
                })
            }
            Inner::Ed(pair) => json!({
                "kty": "OKP", "kid": self.kid, "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
            }),
        }
    }

    /// A token with the usual header (`alg`, `kid`, `typ`) and `claims`.
    pub fn sign(&self, claims: &Value) -> Result<String, Unspecified> {
        let header = json!({"alg": self.alg.name(), "kid": self.kid, "typ": "JWT"});
        self.sign_with_header(&header, claims)
    }

    /// A token with any header at all, for hostile-token tests. The signature
    /// is made with this key's own algorithm whatever the header says; an
    /// ECDSA signature is given in low-S form (`s <= n/2`), as the verifier
    /// wants it ([`high_s_twin`] makes the other form).
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> Result<String, Unspecified> {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match &self.inner {
            Inner::Rsa(pair) => {
                let padding: &'static dyn signature::RsaEncoding = match self.alg {
                    SigAlg::RS384 => &signature::RSA_PKCS1_SHA384,
                    SigAlg::RS512 => &signature::RSA_PKCS1_SHA512,
                    SigAlg::PS256 => &signature::RSA_PSS_SHA256,
                    SigAlg::PS384 => &signature::RSA_PSS_SHA384,
                    SigAlg::PS512 => &signature::RSA_PSS_SHA512,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(
                    padding,
                    &SystemRandom::new(),
                    signing_input.as_bytes(),
                    &mut sig,
                )?;
                sig
            }
            Inner::Ec(pair) => {
                let sig = pair
                    .sign(&SystemRandom::new(), signing_input.as_bytes())?
                    .as_ref()
                    .to_vec();
                if crate::jwt::ecdsa::is_low_s(self.alg, &sig) {
                    sig
                } else {
                    other_s(self.alg, &sig)
                }
            }
            Inner::Ed(pair) => pair.sign(signing_input.as_bytes()).as_ref().to_vec(),
        };
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

/// The ECDSA signature `(r, n - s)` for `(r, s)`: as valid as the original
/// to a plain ECDSA verify, and another string.
fn other_s(alg: SigAlg, sig: &[u8]) -> Vec<u8> {
    let order: &[u8] = match alg {
        SigAlg::ES384 => &crate::jwt::ecdsa::P384_ORDER,
        _ => &crate::jwt::ecdsa::P256_ORDER,
    };
    let (r, s) = sig.split_at(sig.len() / 2);
    [r, &crate::jwt::ecdsa::negate(s, order)].concat()
}

/// The high-S twin of an ES256/ES384 token signed by [`SigningKey`]: the
/// same header and payload, its signature `(r, s)` rewritten as
/// `(r, n - s)`. Anyone holding a token can do this without the key.
pub fn high_s_twin(token: &str) -> Option<String> {
    let (signing_input, signature) = token.rsplit_once('.')?;
    let header = URL_SAFE_NO_PAD
        .decode(signing_input.split('.').next()?)
        .ok()?;
    let header: Value = serde_json::from_slice(&header).ok()?;
    let alg = SigAlg::parse(header["alg"].as_str()?)?;
    let sig = URL_SAFE_NO_PAD.decode(signature).ok()?;
    Some(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(other_s(alg, &sig))
    ))
}

/// A JWKS document holding the public keys of `keys`.
pub fn jwks(keys: &[&SigningKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
}

/// The claims of a Cognito access token for `sub`, valid from `now` for an hour.
pub fn access_claims(
    issuer: &str,
    client_id: &str,
    sub: &str,
    scope: &str,
    groups: &[&str],
    now: u64,
) -> Value {
    let mut claims = json!({
        "sub": sub, "iss": issuer, "client_id": client_id, "token_use": "access",
        "scope": scope, "auth_time": now, "exp": now + 3600, "iat": now,
        "jti": format!("jti-{sub}-{now}"), "username": sub, "version": 2,
        "origin_jti": format!("origin-{sub}"), "event_id": "00000000-0000-0000-0000-000000000000",
    });
    if !groups.is_empty() {
        claims["cognito:groups"] = json!(groups);
    }
    claims
}

/// The claims of an RFC 9068 access token of a trusted issuer for `sub`,
/// valid from `now` for an hour: `iss`, `aud`, `client_id`, `scope`.
pub fn oidc_claims(
    issuer: &str,
    audience: &str,
    client_id: &str,
    sub: &str,
    scope: &str,
    now: u64,
) -> Value {
    json!({
        "iss": issuer, "sub": sub, "aud": audience, "client_id": client_id, "scope": scope,
        "iat": now, "exp": now + 3600, "jti": format!("jti-{sub}-{now}"),
    })
}

/// A token of `key` with header `typ` `typ` (RFC 9068 access tokens say
/// `at+jwt`).
pub fn sign_typed(key: &SigningKey, typ: &str, claims: &Value) -> Result<String, Unspecified> {
    key.sign_with_header(
        &json!({"alg": key.alg().name(), "kid": key.kid(), "typ": typ}),
        claims,
    )
}

/// A JWKS source serving a fixed document and counting fetches; it can be
/// taken down (every fetch then fails as a 503 would).
#[derive(Debug, Clone, Default)]
pub struct StaticJwks {
    body: Arc<std::sync::Mutex<Vec<u8>>>,
    fetches: Arc<AtomicUsize>,
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl StaticJwks {
    /// A source serving `document`.
    pub fn new(document: &Value) -> Self {
        let source = StaticJwks::default();
        source.set(document);
        source
    }

    /// Serves `document` from now on (key rotation).
    pub fn set(&self, document: &Value) {
        let mut body = self
            .body
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *body = document.to_string().into_bytes();
    }

    /// How many times the JWKS was fetched.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Takes the source down (`true`) or brings it back.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

impl JwksSource for StaticJwks {
    fn fetch(&self) -> BoxFuture<'_, Result<Vec<u8>, FetchError>> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Box::pin(async {
                Err(FetchError::Status(reqwest::StatusCode::SERVICE_UNAVAILABLE))
            });
        }
        let body = self
            .body
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        Box::pin(async move { Ok(body) })
    }
}

/// Captures log output, for tests that check what reaches the log: install a
/// subscriber with `.with_writer(move || sink.clone())`.
#[derive(Debug, Clone, Default)]
pub struct LogSink(Arc<std::sync::Mutex<Vec<u8>>>);

impl LogSink {
    /// Everything written so far.
    pub fn contents(&self) -> String {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A user signed in to a freshly created Cognito user pool.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The pool created.
    pub pool_id: String,
    /// Its first-party app client (no secret, `USER_PASSWORD_AUTH`).
    pub client_id: String,
    /// The user's access token.
    pub access_token: String,
    /// The user's ID token.
    pub id_token: String,
}

/// The password `sign_in_new_user` sets (it satisfies Cognito's default policy).
pub const TEST_PASSWORD: &str = "Correct-Horse-9-battery";

/// Creates a user pool named `pool_name`, an app client and a user
/// `username`, sets the user's password and signs in with
/// `USER_PASSWORD_AUTH`, through the real SDK: point `client` at a local
/// stand-in such as moto server, never at a real account.
pub async fn sign_in_new_user(
    client: &aws_sdk_cognitoidentityprovider::Client,
    pool_name: &str,
    username: &str,
) -> Result<SignedIn, Box<dyn std::error::Error + Send + Sync>> {
    use aws_sdk_cognitoidentityprovider::types::{
        AuthFlowType, ExplicitAuthFlowsType, MessageActionType,
    };

    let pool_id = client
        .create_user_pool()
        .pool_name(pool_name)
        .send()
        .await?
        .user_pool
        .and_then(|p| p.id)
        .ok_or("no pool id")?;
    let client_id = client
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("web")
        .generate_secret(false)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await?
        .user_pool_client
        .and_then(|c| c.client_id)
        .ok_or("no client id")?;
    client
        .admin_create_user()
        .user_pool_id(&pool_id)
        .username(username)
        .message_action(MessageActionType::Suppress)
        .send()
        .await?;
    client
        .admin_set_user_password()
        .user_pool_id(&pool_id)
        .username(username)
        .password(TEST_PASSWORD)
        .permanent(true)
        .send()
        .await?;
    let auth = client
        .initiate_auth()
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .client_id(&client_id)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", TEST_PASSWORD)
        .send()
        .await?
        .authentication_result
        .ok_or("no authentication result")?;
    Ok(SignedIn {
        pool_id,
        client_id,
        access_token: auth.access_token.ok_or("no access token")?,
        id_token: auth.id_token.ok_or("no id token")?,
    })
}
