//! Where each issuer's keys come from in production: the pool's JWKS at
//! `JWKS_URI`, a trusted issuer's at its `jwksUri` or, without one, by OIDC
//! discovery ([`crate::jwt::discovery`]). Every fetch is bounded by
//! `JWKS_TIMEOUT_MS`; plain http only where the configuration allows it.
//! One HTTP client serves every issuer of the same http rule, so a cold
//! start with several issuers builds at most two.

use std::sync::Arc;

use tracing::error;

use crate::config::Config;
use crate::jwt::discovery::DiscoveredJwks;
use crate::jwt::https::{HttpJwksSource, JwksSource, client};

/// The key sources of a configuration's issuers.
pub struct HttpSources {
    /// The pool's, when there is a pool.
    pub pool: Option<Arc<dyn JwksSource>>,
    /// Each trusted issuer's, by alias, in configuration order.
    pub issuers: Vec<(String, Arc<dyn JwksSource>)>,
}

impl std::fmt::Debug for HttpSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSources")
            .field("pool", &self.pool.is_some())
            .field(
                "issuers",
                &self.issuers.iter().map(|(a, _)| a).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The production key sources of `config`'s issuers.
pub fn http_sources(config: &Config) -> Result<HttpSources, reqwest::Error> {
    let mut clients: [Option<reqwest::Client>; 2] = [None, None];
    let mut client_for = |allow_http: bool| -> Result<reqwest::Client, reqwest::Error> {
        let slot = &mut clients[usize::from(allow_http)];
        if let Some(c) = slot {
            return Ok(c.clone());
        }
        let c = client(config.jwks_timeout, allow_http)?;
        *slot = Some(c.clone());
        Ok(c)
    };
    let pool = match &config.cognito {
        Some(cognito) => Some(Arc::new(HttpJwksSource::with_client(
            client_for(cognito.allow_http_jwks)?,
            cognito.jwks_uri.clone(),
        )) as Arc<dyn JwksSource>),
        None => None,
    };
    let mut issuers = Vec::with_capacity(config.trusted_issuers.len());
    for issuer in &config.trusted_issuers {
        let http = client_for(issuer.allows_loopback_http())?;
        let source: Arc<dyn JwksSource> = match (&issuer.jwks_uri, issuer.discovery_url()) {
            (Some(uri), _) => Arc::new(HttpJwksSource::with_client(http, uri.clone())),
            (None, Some(discovery)) => {
                Arc::new(DiscoveredJwks::new(http, issuer.issuer.clone(), discovery))
            }
            // Cannot happen for an issuer the configuration accepted; no
            // keys then, so its tokens are refused (fail closed).
            (None, None) => {
                error!(issuer = %issuer.alias, "no discovery URL; its tokens are refused");
                Arc::new(NoKeys)
            }
        };
        issuers.push((issuer.alias.clone(), source));
    }
    Ok(HttpSources { pool, issuers })
}

/// A source with no keys at all: its issuer's tokens are refused.
#[derive(Debug)]
pub struct NoKeys;

impl JwksSource for NoKeys {
    fn fetch(&self) -> crate::BoxFuture<'_, Result<Vec<u8>, crate::jwt::https::FetchError>> {
        Box::pin(async { Err(crate::jwt::https::FetchError::NoUsableKey) })
    }
}
