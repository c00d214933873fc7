//! The TLS client configuration of the JWKS fetch and of the AWS SDK's
//! HTTPS client: Mozilla's root certificates compiled into the binary
//! (`webpki-roots`, `webpki-root-certs`), verified by rustls with aws-lc-rs.
//!
//! reqwest's default verifier loads the operating system's store at client
//! construction: on a Debian-like image that is `ca-certificates.crt` plus
//! every file under `/etc/ssl/certs` (~150 files, ~300 system calls), at
//! every cold start, even for a plain-http JWKS. The compiled-in roots are
//! already parsed trust anchors, so building this configuration reads no
//! file and parses no certificate; it is built once per process, when the
//! first HTTPS client needs it. The SDK's client (Secrets Manager, Cognito)
//! takes its roots as PEM certificates only: it gets the same list, and parses
//! it when it opens its first connection, still without reading a file. Cognito's JWKS endpoint chains to Amazon's
//! roots, which are in Mozilla's list. What this gives up: a root added to
//! the system store only (a TLS-inspecting proxy) is not trusted; the JWKS
//! is a public document of AWS, which has no reason to pass through one.

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

/// The AWS SDK's HTTPS client (for `aws_config`'s loader): the SDK's own
/// rustls client over aws-lc-rs, trusting the compiled-in roots instead of
/// the system's store.
pub fn sdk_http_client() -> aws_sdk_secretsmanager::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let mut store = TrustStore::empty();
    for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        store.add_pem_certificate(pem(der));
    }
    let builder = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
    // Building a context from a trust store cannot fail (the result type is
    // for other providers); the fallback is the SDK's default context.
    match TlsContext::builder().with_trust_store(store).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        Err(_) => builder.build_https(),
    }
}

/// One DER certificate as PEM text.
fn pem(der: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = Vec::with_capacity(body.len() + body.len() / 64 + 60);
    out.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(b"-----END CERTIFICATE-----\n");
    out
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

    #[test]
    fn each_root_certificate_reads_back_from_its_pem() {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            let back = CertificateDer::from_pem_slice(&pem(der)).unwrap();
            assert_eq!(back.as_ref(), der.as_ref());
        }
    }
}
