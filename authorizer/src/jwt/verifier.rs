//! The JWT verifier: one token in, a verified principal or the reason out.
//!
//! The order is aws-jwt-verify's and it matters: parse → issuer by `iss`
//! (and its header rules) → key by `kid` → header/key agreement → signature
//! → standard claims → the issuer's claims. Nothing from the token is trusted
//! before its signature verified: the unverified `iss` only picks whose
//! rules run, the key is chosen by that issuer's JWKS, never by the token
//! (the header only names the `kid` and must agree with what the key says
//! about itself). A token that already verified under its issuer's current
//! key set and has not expired is taken from [`VerifiedTokens`] instead of
//! being verified again.

use std::sync::Arc;

use crate::jwt::claims::{Claims, VerifiedToken, check_times};
use crate::jwt::issuers::{IssuerId, Issuers};
use crate::jwt::jwk::SignatureFault;
use crate::jwt::token;
use crate::jwt::verified::VerifiedTokens;
use crate::reject::Rejection;

/// Verifies the tokens of the user pool and of the trusted issuers.
#[derive(Debug)]
pub struct JwtVerifier {
    issuers: Issuers,
    leeway: f64,
    verified: VerifiedTokens,
}

impl JwtVerifier {
    /// A verifier for `issuers`, with `leeway_seconds` of clock skew on
    /// `exp`, `nbf` and `iat`.
    pub fn new(issuers: Issuers, leeway_seconds: u64) -> Self {
        JwtVerifier {
            issuers,
            // Config caps the leeway at 300, so the conversion is exact.
            leeway: leeway_seconds as f64,
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

    /// The issuers (for the cold-start fetches).
    pub fn issuers(&self) -> &Issuers {
        &self.issuers
    }

    /// Verifies `token` at `now` (Unix seconds), or finds it verified already.
    pub async fn verify(&self, token: &str, now: f64) -> Result<Arc<VerifiedToken>, Rejection> {
        let current = |id| self.issuers.generation(id);
        if let Some(verified) = self.verified.get(token, now, current) {
            return Ok(verified);
        }
        let (verified, issuer, generation) = self.verify_fully(token, now).await?;
        let verified = Arc::new(verified);
        self.verified.insert(
            token,
            Arc::clone(&verified),
            (issuer, generation),
            now,
            current,
        );
        Ok(verified)
    }

    /// Every step, whatever was verified before. Also returns the issuer and
    /// the generation of its key set that held the key: once that set is
    /// replaced, the cache never serves this verification again.
    async fn verify_fully(
        &self,
        token: &str,
        now: f64,
    ) -> Result<(VerifiedToken, IssuerId, u64), Rejection> {
        // 1. parse: shape, header, a known alg, the payload's members.
        let jwt = token::parse(token)?;
        let payload = token::decode_payload(jwt.payload)?;
        let claims = Claims::parse(&payload, self.issuers.extra_claims())?;
        // 2. issuer by the unverified iss, exactly; none, no network. Then
        //    its header rules, before any key is looked up.
        let (id, issuer) = self.issuers.select(&claims)?;
        issuer.check_header(&jwt)?;
        // 3. key by kid, from this issuer's key set only (may refresh it,
        //    rate-limited).
        let (key, generation) =
            issuer
                .keys()
                .get_stamped(&jwt.kid)
                .await
                .ok_or_else(|| Rejection::UnknownKid {
                    kid: jwt.kid.clone(),
                })?;
        // 4. header/key agreement, before the key is used at all.
        key.check_agreement(jwt.alg)
            .map_err(|mismatch| Rejection::KeyMismatch {
                kid: jwt.kid.clone(),
                mismatch,
            })?;
        // 5. signature (ECDSA in low-S form only).
        key.check_signature(jwt.alg, jwt.signing_input, jwt.signature)
            .map_err(|fault| match fault {
                SignatureFault::Invalid => Rejection::InvalidSignature,
                SignatureFault::HighS => Rejection::HighSSignature,
            })?;
        // 6. standard claims, then 7. the issuer's.
        let exp = check_times(&claims, self.leeway, now)?;
        let verified = issuer.check_claims(claims, exp)?;
        Ok((verified, id, generation))
    }
}
