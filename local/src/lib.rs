//! The local stack: the whole secured API on one machine, with no AWS
//! account and no Docker. DEVELOPMENT ONLY.
//!
//! The real authorizer and the real api run in process behind an emulation
//! of the optional web ACL's rate-based rules ([`waf`], off by default) and
//! of API Gateway's REST API ([`gateway`]): the same route table, the TOKEN
//! event, the authorizer result cache ([`cache`]), policy evaluation, usage
//! plan and stage throttles ([`usage`]), gateway responses and the CORS
//! preflight ([`responses`]), the template's request validator and the
//! published OpenAPI document ([`contract`]). A development identity
//! provider ([`idp`]) signs tokens, and [`dev_endpoints`] serves them and its JWKS to local
//! tools only; [`backends`] chooses memory or real AWS (or moto) stores;
//! [`listen`] serves HTTP with a header-read timeout; [`server`] starts it
//! all; [`config`] holds the flags.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = local::config::StackConfig::default();
//! config.addr = "127.0.0.1:0".parse()?;
//! let stack = local::server::Stack::start(config).await?;
//! println!("{}", stack.url());
//! stack.shutdown().await?;
//! # Ok(())
//! # }
//! ```

pub mod backends;
pub mod banner;
pub mod cache;
pub mod config;
pub mod contract;
pub mod dev_endpoints;
pub mod gateway;
pub mod idp;
pub mod listen;
pub mod responses;
pub mod server;
pub mod stats;
pub mod tiers;
pub mod usage;
pub mod waf;
