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
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::https::{BoxFuture, FetchError, JwksSource};
use crate::jwt::SigAlg;

enum Inner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
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
    /// A fresh RSA-2048 key for `alg` (RS256, RS384 or RS512).
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

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK, with `kid`, `alg` and `use: sig`, as Cognito serves it.
    pub fn jwk(&self) -> Value {
        match &self.inner {
            Inner::Rsa(pair) => {
                let public = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                json!({
                    "kty": "RSA", "kid": self.kid, "alg": self.alg.name(), "use": "sig",
                    "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e),
                })
            }
            Inner::Ec(pair) => {
                // Uncompressed point: 0x04 || x || y.
                let point = pair.public_key().as_ref();
                let half = (point.len() - 1) / 2;
                json!({
                    "kty": "EC", "kid": self.kid, "alg": self.alg.name(), "use": "sig",
                    "crv": if self.alg == SigAlg::ES384 { "P-384" } else { "P-256" },
                    "x": URL_SAFE_NO_PAD.encode(&point[1..1 + half]),
                    "y": URL_SAFE_NO_PAD.encode(&point[1 + half..]),
                })
            }
        }
    }

    /// A token with the usual header (`alg`, `kid`, `typ`) and `claims`.
    pub fn sign(&self, claims: &Value) -> Result<String, Unspecified> {
        let header = json!({"alg": self.alg.name(), "kid": self.kid, "typ": "JWT"});
        self.sign_with_header(&header, claims)
    }

    /// A token with any header at all, for hostile-token tests. The signature
    /// is made with this key's own algorithm whatever the header says.
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
            Inner::Ec(pair) => pair
                .sign(&SystemRandom::new(), signing_input.as_bytes())?
                .as_ref()
                .to_vec(),
        };
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
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

/// A JWKS source serving a fixed document and counting fetches.
#[derive(Debug, Clone, Default)]
pub struct StaticJwks {
    body: Arc<std::sync::Mutex<Vec<u8>>>,
    fetches: Arc<AtomicUsize>,
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
}

impl JwksSource for StaticJwks {
    fn fetch(&self) -> BoxFuture<'_, Result<Vec<u8>, FetchError>> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
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
