//! JWTs of the user pool and of the trusted OpenID issuers, verified as
//! aws-jwt-verify does, one concern per module: [`token`] parses the compact
//! JWS, [`claims`] reads the claims set and checks the standard claims,
//! [`issuers`] picks the issuer by `iss` and holds its rules, [`jwk`] checks
//! keys (and [`ecdsa`] the form of ECDSA signatures), [`jwks`] caches each
//! issuer's key set, [`https`] fetches it, [`discovery`] finds it and
//! [`sources`] says where from in production,
//! [`cognito`] and [`oidc`] check the pool's and a trusted issuer's claims,
//! [`verifier`] runs them in order, [`verified`] keeps tokens already
//! verified, and [`revocation`] asks Cognito whether a verified pool access
//! token still stands.

pub mod claims;
pub mod cognito;
pub mod discovery;
pub mod ecdsa;
pub mod https;
pub mod issuers;
pub mod jwk;
pub mod jwks;
pub mod oidc;
pub mod revocation;
pub mod sources;
pub mod token;
pub mod verified;
pub mod verifier;
