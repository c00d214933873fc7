//! The JWT verifier: one token in, a verified principal or the reason out.
//!
//! The order is aws-jwt-verify's and it matters: nothing from the token is
//! trusted before its signature verified, and the key is chosen by the JWKS,
//! never by the token (the header only names the `kid` and must agree with
//! what the key says about itself). A token that already verified under the
//! current key set and has not expired is taken from [`VerifiedTokens`]
//! instead of being verified again.

use std::sync::Arc;

use crate::config::CognitoConfig;
use crate::jwt::claims::{ClaimRules, VerifiedToken};
use crate::jwt::jwk::SignatureFault;
use crate::jwt::jwks::JwksCache;
use crate::jwt::token::{self, SigAlg};
use crate::jwt::verified::VerifiedTokens;
use crate::reject::Rejection;

/// Verifies Cognito tokens of one user pool.
#[derive(Debug)]
pub struct JwtVerifier {
    keys: Arc<JwksCache>,
    rules: ClaimRules,
    verified: VerifiedTokens,
}

impl JwtVerifier {
    /// A verifier for `cognito`'s tokens with keys from `keys`.
    pub fn new(cognito: &CognitoConfig, leeway_seconds: u64, keys: Arc<JwksCache>) -> Self {
        JwtVerifier {
            keys,
            rules: ClaimRules::new(cognito, leeway_seconds),
            verified: VerifiedTokens::default(),
        }
    }

    /// The same verifier with `verified` as its cache of verified tokens
    /// (tests: other bounds).
    pub fn with_verified_tokens(mut self, verified: VerifiedTokens) -> Self {
        self.verified = verified;
        self
    }

    /// The cache of verified tokens.
    pub fn verified_tokens(&self) -> &VerifiedTokens {
        &self.verified
    }

    /// The key cache (for the cold-start fetch).
    pub fn keys(&self) -> &Arc<JwksCache> {
        &self.keys
    }

    /// Verifies `token` at `now` (Unix seconds), or finds it verified already.
    pub async fn verify(&self, token: &str, now: f64) -> Result<Arc<VerifiedToken>, Rejection> {
        // Read before verifying: if the key set changes meanwhile, the entry
        // is stamped with the old generation and never served.
        let generation = self.keys.generation();
        if let Some(verified) = self.verified.get(token, generation, now) {
            return Ok(verified);
        }
        let verified = Arc::new(self.verify_fully(token, now).await?);
        self.verified
            .insert(token, Arc::clone(&verified), generation, now);
        Ok(verified)
    }

    /// Every step, whatever was verified before.
    async fn verify_fully(&self, token: &str, now: f64) -> Result<VerifiedToken, Rejection> {
        // 1. parse: shape, header, a known alg; then the pool's own list.
        let jwt = token::parse(token)?;
        if !SigAlg::POOL.contains(&jwt.alg) {
            return Err(Rejection::DisallowedAlgorithm {
                alg: jwt.alg.name(),
                issuer: policies::COGNITO_ISSUER.to_owned(),
            });
        }
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
        // 4. signature (ECDSA in low-S form only).
        key.check_signature(jwt.alg, jwt.signing_input, jwt.signature)
            .map_err(|fault| match fault {
                SignatureFault::Invalid => Rejection::InvalidSignature,
                SignatureFault::HighS => Rejection::HighSSignature,
            })?;
        // 5. and 6. standard, then Cognito claims.
        let payload = token::decode_payload(jwt.payload)?;
        self.rules.check(&payload, now)
    }
}
