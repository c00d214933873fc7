//! The Lambda authorizer: JWTs of a Cognito user pool and of trusted OpenID
//! issuers (and, with the partner key registry, API keys) in, API Gateway
//! IAM policies out.
//!
//! Two credential kinds, two modules, one decision: [`jwt`] verifies the
//! pool's and the trusted issuers' tokens (split as aws-jwt-verify is:
//! parse, issuer, keys, key set, fetch, discovery, claims, order,
//! revocation) and [`apikey`] verifies partner keys against the
//! registry. [`credentials`] reads the event and picks the kind,
//! [`decision`] builds the answer, [`handler`] ties it together for Lambda.

pub mod apikey;
pub mod config;
pub mod credentials;
pub mod decision;
pub mod digest;
pub mod event;
pub mod fingerprint;
pub mod handler;
#[cfg(test)]
mod handler_tests;
mod json;
pub mod jwt;
pub mod metrics;
pub mod reject;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod tls;
#[cfg(test)]
mod trusted_issuers_tests;
#[cfg(test)]
mod verified_tokens_tests;

/// A boxed future, so key sources, secret stores and revocation checks can
/// sit behind `dyn`.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub use config::{Config, ConfigError};
pub use event::{AuthorizerEvent, AuthorizerResponse};
pub use handler::{Authorizer, AuthorizerBuilder, Failure, HandlerError, StartupError};
pub use reject::Rejection;
