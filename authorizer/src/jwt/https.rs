//! Fetching a JWKS document over HTTPS, bounded in time and size.

use std::time::Duration;

use reqwest::{StatusCode, Url, header, redirect};

use telemetry::xray::{Call, Ended, traced};
use tracing::warn;

use crate::BoxFuture;

/// The largest JWKS accepted. Cognito's is about 1 KiB; a response far over
/// that is a fault or an attack and must not be buffered whole.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

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
}

/// Where the JWKS comes from: HTTPS in production, anything in tests.
pub trait JwksSource: Send + Sync {
    /// Fetches the raw JWKS document.
    fn fetch(&self) -> BoxFuture<'_, Result<Vec<u8>, FetchError>>;
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
        let client = builder
            .timeout(timeout)
            .connect_timeout(timeout)
            .https_only(!allow_http)
            .redirect(redirect::Policy::none())
            .build()?;
        Ok(HttpJwksSource { client, uri })
    }
}

impl JwksSource for HttpJwksSource {
    fn fetch(&self) -> BoxFuture<'_, Result<Vec<u8>, FetchError>> {
        let call = Call::Remote {
            name: self.uri.host_str().unwrap_or("jwks"),
            url: self.uri.as_str(),
        };
        let outcome = |r: &Result<Vec<u8>, FetchError>| match r {
            Ok(_) => Ended::Ok,
            Err(FetchError::Status(s)) if s.is_client_error() => Ended::Error,
            Err(_) => Ended::Fault,
        };
        Box::pin(traced(call, outcome, self.fetch_untraced()))
    }
}

impl HttpJwksSource {
    async fn fetch_untraced(&self) -> Result<Vec<u8>, FetchError> {
        let mut response = self
            .client
            .get(self.uri.clone())
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(FetchError::Transport)?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err(FetchError::TooLarge);
        }
        // Read chunk by chunk so a body without (or lying about) its
        // length cannot grow past the cap.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(FetchError::Transport)? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
