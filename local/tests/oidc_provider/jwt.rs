//! Reads a compact JWS and checks its signature against a JWK Set, with
//! aws-lc-rs directly: the test's own verifier, independent of the
//! authorizer's.

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

pub struct Jws {
    pub header: Value,
    pub claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

fn b64(part: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(part).unwrap()
}

impl Jws {
    pub fn decode(token: &str) -> Self {
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "not a compact JWS: {token}");
        Self {
            header: serde_json::from_slice(&b64(parts[0])).unwrap(),
            claims: serde_json::from_slice(&b64(parts[1])).unwrap(),
            signing_input: format!("{}.{}", parts[0], parts[1]),
            signature: b64(parts[2]),
        }
    }

    /// Whether the key of the set named by the header's `kid` verifies the
    /// signature with the header's `alg` (RS256 or ES256).
    pub fn verifies_with(&self, jwks: &Value) -> bool {
        let kid = self.header["kid"].as_str().unwrap();
        let Some(key) = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
        else {
            return false;
        };
        let part = |name: &str| b64(key[name].as_str().unwrap());
        let message = self.signing_input.as_bytes();
        match (self.header["alg"].as_str().unwrap(), key["kty"].as_str()) {
            ("RS256", Some("RSA")) => RsaPublicKeyComponents {
                n: part("n"),
                e: part("e"),
            }
            .verify(&RSA_PKCS1_2048_8192_SHA256, message, &self.signature)
            .is_ok(),
            ("ES256", Some("EC")) => {
                let point = [vec![4], part("x"), part("y")].concat();
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, &self.signature)
                    .is_ok()
            }
            _ => false,
        }
    }
}
