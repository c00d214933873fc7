//! Fetching key material over HTTPS (a JWKS, an OIDC discovery document),
//! bounded in time and size, with no redirect followed.

use std::time::Duration;

use reqwest::{StatusCode, Url, header, redirect};

use telemetry::xray::{Call, Ended, traced};
use tracing::warn;

use crate::BoxFuture;

/// The largest JWKS accepted. Cognito's is about 1 KiB; a response far over
/// that is a fault or an attack and must not be buffered whole.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// The largest discovery document accepted (Entra ID's and Google's are
/// 2-3 KiB).
pub const MAX_DISCOVERY_BYTES: usize = 64 * 1024;

/// Why a GET of a document failed.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    /// Connecting, sending or receiving failed, or the time limit passed.
    #[error("request failed{}", if .0.is_timeout() { " (timed out)" } else { "" })]
    Transport(#[source] reqwest::Error),
    /// Not a 2xx answer.
    #[error("answered {0}")]
    Status(StatusCode),
    /// The body is larger than allowed.
    #[error("response exceeds {0} bytes")]
    TooLarge(usize),
}

/// Why a JWKS could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connecting, sending or receiving failed, or the time limit passed.
    #[error("JWKS request failed{}", if .0.is_timeout() { " (timed out)" } else { "" })]
    Transport(#[source] reqwest::Error),
    /// Not a 2xx answer.
    #[error("JWKS endpoint answered {0}")]
    Status(StatusCode),
    /// The body is larger than [`MAX_JWKS_BYTES`].
    #[error("JWKS response exceeds {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    /// The body is not a JWKS document.
    #[error("JWKS response is not a JWKS document: {0}")]
    Malformed(String),
    /// The document holds no key this verifier can use.
    #[error("JWKS holds no usable key")]
    NoUsableKey,
    /// The issuer's discovery document, which says where the JWKS is,
    /// could not be had or trusted.
    #[error("OIDC discovery: {0}")]
    Discovery(#[source] crate::jwt::discovery::DiscoveryError),
}

impl From<GetError> for FetchError {
    fn from(e: GetError) -> Self {
        match e {
            GetError::Transport(e) => FetchError::Transport(e),
            GetError::Status(s) => FetchError::Status(s),
            GetError::TooLarge(_) => FetchError::TooLarge,
        }
    }
}

/// Where the JWKS comes from: HTTPS in production, anything in tests.
pub trait JwksSource: Send + Sync {
    /// Fetches the raw JWKS document.
    fn fetch(&self) -> BoxFuture<'_, Result<Vec<u8>, FetchError>>;
}

/// The HTTP client for key material: each request bounded by `timeout`
/// from connect to last byte, redirects not followed (the keys must come
/// from the configured place), plain `http` refused unless `allow_http`.
pub fn client(timeout: Duration, allow_http: bool) -> Result<reqwest::Client, reqwest::Error> {
    let mut builder = reqwest::Client::builder();
    // The compiled-in roots (see `crate::tls`): no system store read.
    // Should that configuration ever fail to build, reqwest's own
    // verifier is the safe fallback (slower cold start, same trust).
    match crate::tls::client_config() {
        Ok(tls) => {
            builder = builder.tls_backend_preconfigured(rustls::ClientConfig::clone(&tls));
        }
        Err(e) => warn!(error = %e, "using the system's root certificates"),
    }
    builder
        .timeout(timeout)
        .connect_timeout(timeout)
        .https_only(!allow_http)
        .redirect(redirect::Policy::none())
        .build()
}

/// GETs `url` as JSON, at most `max` bytes of body, as an X-Ray subsegment.
pub async fn get_document(
    client: &reqwest::Client,
    url: &Url,
    max: usize,
) -> Result<Vec<u8>, GetError> {
    let call = Call::Remote {
        name: url.host_str().unwrap_or("keys"),
        url: url.as_str(),
    };
    let outcome = |r: &Result<Vec<u8>, GetError>| match r {
        Ok(_) => Ended::Ok,
        Err(GetError::Status(s)) if s.is_client_error() => Ended::Error,
        Err(_) => Ended::Fault,
    };
    traced(call, outcome, get_untraced(client, url, max)).await
}

async fn get_untraced(
    client: &reqwest::Client,
    url: &Url,
    max: usize,
) -> Result<Vec<u8>, GetError> {
    let mut response = client
        .get(url.clone())
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(GetError::Transport)?;
    if !response.status().is_success() {
        return Err(GetError::Status(response.status()));
    }
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(GetError::TooLarge(max));
    }
    // Read chunk by chunk so a body without (or lying about) its length
    // cannot grow past the cap.
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(GetError::Transport)? {
        if body.len() + chunk.len() > max {
            return Err(GetError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Fetches the JWKS from a URL with `reqwest`.
#[derive(Debug, Clone)]
pub struct HttpJwksSource {
    client: reqwest::Client,
    uri: Url,
}

impl HttpJwksSource {
    /// A source for `uri`; each fetch is bounded by `timeout` from connect to
    /// last byte. Plain `http` is refused unless `allow_http`. Redirects are
    /// not followed: the key set must come from the configured place.
    pub fn new(uri: Url, timeout: Duration, allow_http: bool) -> Result<Self, reqwest::Error> {
        Ok(Self::with_client(client(timeout, allow_http)?, uri))
    }

    /// A source for `uri` through `client` (one client serves every issuer
    /// of the same `http` rule).
    pub fn with_client(client: reqwest::Client, uri: Url) -> Self {
        HttpJwksSource { client, uri }
    }
}

impl JwksSource for HttpJwksSource {
    fn fetch(&self) -> BoxFuture<'_, Result<Vec<u8>, FetchError>> {
        Box::pin(async move {
            get_document(&self.client, &self.uri, MAX_JWKS_BYTES)
                .await
                .map_err(FetchError::from)
        })
    }
}
