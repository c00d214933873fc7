//! The Lambda authorizer: Cognito JWTs (and, with the partner key registry,
//! API keys) in, API Gateway IAM policies out.
//!
//! Modules follow aws-jwt-verify's split: [`jwt`] parses, [`jwk`] checks keys,
//! [`jwks`] caches the key set, [`https`] fetches it, [`claims`] checks the
//! claims, [`verifier`] runs them in order. [`credentials`] reads the event,
//! [`decision`] builds the answer, [`handler`] ties it together for Lambda.

pub mod apikey;
pub mod claims;
pub mod config;
pub mod credentials;
pub mod decision;
pub mod event;
pub mod fingerprint;
pub mod handler;
#[cfg(test)]
mod handler_tests;
pub mod https;
pub mod jwk;
pub mod jwks;
pub mod jwt;
pub mod reject;
pub mod revocation;
pub mod telemetry;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod verifier;

pub use config::{Config, ConfigError};
pub use event::{AuthorizerEvent, AuthorizerResponse, Context};
pub use handler::{Authorizer, AuthorizerBuilder, Failure, HandlerError, StartupError};
pub use reject::Rejection;
