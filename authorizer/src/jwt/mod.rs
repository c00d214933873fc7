//! Cognito JWTs, verified as aws-jwt-verify does, one concern per module:
//! [`token`] parses the compact JWS, [`jwk`] checks keys, [`jwks`] caches the
//! key set, [`https`] fetches it, [`claims`] checks the claims, [`verifier`]
//! runs them in order, [`verified`] keeps tokens already verified, and
//! [`revocation`] asks Cognito whether a verified access token still stands.

pub mod claims;
pub mod ecdsa;
pub mod https;
pub mod jwk;
pub mod jwks;
pub mod revocation;
pub mod token;
pub mod verified;
pub mod verifier;
