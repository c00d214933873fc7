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

/// `floor(n / 2)` of P-256, big-endian: an ES256 signature `r || s` is in
/// low-S form when `s` is at most this (written out here, not taken from the
/// authorizer, whose check this is compared with).
const P256_HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
];

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

    /// Whether an ES256 signature is in low-S form (`s <= n / 2`).
    pub fn is_low_s(&self) -> bool {
        assert_eq!(self.header["alg"], "ES256");
        assert_eq!(self.signature.len(), 64);
        // Big-endian byte strings of one length compare as the numbers do.
        self.signature[32..] <= P256_HALF_ORDER[..]
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
