//! The TLS client configuration of the JWKS fetch: root certificates
//! compiled into the binary (`webpki-roots`), verified by rustls with
//! aws-lc-rs.
//!
//! reqwest's default verifier loads the operating system's store at client
//! construction: on a Debian-like image that is `ca-certificates.crt` plus
//! every file under `/etc/ssl/certs` (~150 files, ~300 system calls), at
//! every cold start, even for a plain-http JWKS. The compiled-in roots are
//! already parsed trust anchors, so building this configuration reads no
//! file and parses no certificate; it is built once per process, when the
//! first HTTPS client needs it. Cognito's JWKS endpoint chains to Amazon's
//! roots, which are in Mozilla's list. What this gives up: a root added to
//! the system store only (a TLS-inspecting proxy) is not trusted; the JWKS
//! is a public document of AWS, which has no reason to pass through one.
//!
//! The SDK's client (Secrets Manager, Cognito) is configured by the
//! `sdkconfig` crate, which the api shares.

use std::sync::{Arc, LazyLock};

/// Why the TLS configuration could not be built (the crypto provider
/// offers no protocol version rustls accepts: a build defect, not an input).
#[derive(Debug, Clone, thiserror::Error)]
#[error("building the TLS client configuration: {0}")]
pub struct TlsConfigError(#[source] rustls::Error);

static CONFIG: LazyLock<Result<Arc<rustls::ClientConfig>, TlsConfigError>> =
    LazyLock::new(|| build().map(Arc::new));

/// The process's TLS client configuration, built on first use.
pub fn client_config() -> Result<Arc<rustls::ClientConfig>, TlsConfigError> {
    CONFIG.clone()
}

fn build() -> Result<rustls::ClientConfig, TlsConfigError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsConfigError)?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_trusts_the_compiled_in_roots_only() {
        let config = client_config().unwrap();
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
        // One configuration per process: the second call builds nothing.
        assert!(Arc::ptr_eq(&config, &client_config().unwrap()));
    }
}
