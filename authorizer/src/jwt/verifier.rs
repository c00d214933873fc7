//! The JWT verifier: one token in, a verified principal or the reason out.
//!
//! The order is aws-jwt-verify's and it matters: nothing from the token is
//! trusted before its signature verified, and the key is chosen by the JWKS,
//! never by the token (the header only names the `kid` and must agree with
//! what the key says about itself).

use std::sync::Arc;

use crate::config::CognitoConfig;
use crate::jwt::claims::{ClaimRules, VerifiedToken};
use crate::jwt::jwks::JwksCache;
use crate::jwt::token;
use crate::reject::Rejection;

/// Verifies Cognito tokens of one user pool.
#[derive(Debug)]
pub struct JwtVerifier {
    keys: Arc<JwksCache>,
    rules: ClaimRules,
}

impl JwtVerifier {
    /// A verifier for `cognito`'s tokens with keys from `keys`.
    pub fn new(cognito: &CognitoConfig, leeway_seconds: u64, keys: Arc<JwksCache>) -> Self {
        JwtVerifier {
            keys,
            rules: ClaimRules::new(cognito, leeway_seconds),
        }
    }

    /// The key cache (for the cold-start fetch).
    pub fn keys(&self) -> &Arc<JwksCache> {
        &self.keys
    }

    /// Verifies `token` at `now` (Unix seconds).
    pub async fn verify(&self, token: &str, now: f64) -> Result<VerifiedToken, Rejection> {
        // 1. parse: shape, header, alg allow-list.
        let jwt = token::parse(token)?;
        // 2. key by kid (may refresh the JWKS, rate-limited).
        let key = self
            .keys
            .get(&jwt.kid)
            .await
            .ok_or_else(|| Rejection::UnknownKid {
                kid: jwt.kid.clone(),
            })?;
        // 3. header/key agreement, before the key is used at all.
        key.check_agreement(jwt.alg)
            .map_err(|mismatch| Rejection::KeyMismatch {
                kid: jwt.kid.clone(),
                mismatch,
            })?;
        // 4. signature.
        if !key.verify(jwt.alg, jwt.signing_input, jwt.signature) {
            return Err(Rejection::InvalidSignature);
        }
        // 5. and 6. standard, then Cognito claims.
        let payload = token::decode_payload(jwt.payload)?;
        self.rules.check(&payload, now)
    }
}
