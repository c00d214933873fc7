//! The TLS client configuration of the JWKS fetch and of the AWS SDK's
//! HTTPS client: root certificates compiled into the binary
//! (`webpki-roots`, `webpki-root-certs`), verified by rustls with aws-lc-rs.
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
//! The SDK's client (Secrets Manager, Cognito) takes its roots as PEM
//! certificates only and parses every one of them when it opens its first
//! connection: for Mozilla's whole list that was over half of the cold
//! start's instructions with a key registry. It talks to AWS's own endpoints
//! only, which in the commercial partition all chain to Amazon Trust
//! Services' roots (Amazon Root CA 1-4, and Starfield Services Root G2,
//! which cross-signs them), so there it trusts those five: fewer to parse,
//! and none that AWS's endpoints do not need ([`SdkRoots`]). In another
//! partition, or with an HTTPS endpoint set by `AWS_ENDPOINT_URL*`, it
//! trusts Mozilla's whole list, as the JWKS client does.

use std::ffi::OsString;
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

/// Which compiled-in roots the SDK's client trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdkRoots {
    /// Amazon Trust Services' roots and Starfield's cross-sign
    /// ([`AMAZON_ROOTS`]): AWS's endpoints in the commercial partition.
    Amazon,
    /// Mozilla's whole list.
    Mozilla,
}

/// The names in the subjects of the roots AWS's commercial endpoints chain to.
pub const AMAZON_ROOTS: [&str; 5] = [
    "Amazon Root CA 1",
    "Amazon Root CA 2",
    "Amazon Root CA 3",
    "Amazon Root CA 4",
    "Starfield Services Root Certificate Authority - G2",
];

/// The first segment of the commercial partition's region names
/// (`us-east-1`, `eu-central-2`, `il-central-1` …), as in the SDK's
/// partition table.
const COMMERCIAL_PREFIXES: [&str; 9] = ["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"];

impl SdkRoots {
    /// For this process: `AWS_REGION` (Lambda sets it) and whether any
    /// `AWS_ENDPOINT_URL*` variable points the SDK at another HTTPS server
    /// (a plain-http endpoint, as on loopback in tests, uses no roots).
    pub fn from_env() -> Self {
        Self::from_vars(std::env::vars_os())
    }

    /// As [`Self::from_env`], from these variables.
    pub fn from_vars(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Self {
        let mut region = None;
        let mut overridden = false;
        for (name, value) in vars {
            match name.to_str() {
                Some("AWS_REGION") => region = value.into_string().ok(),
                Some(n) if n.starts_with("AWS_ENDPOINT_URL") => {
                    overridden |= !value.to_str().is_some_and(|v| {
                        v.trim_start().to_ascii_lowercase().starts_with("http://")
                    });
                }
                _ => {}
            }
        }
        Self::choose(region.as_deref(), overridden)
    }

    /// Amazon's roots for a region of the commercial partition
    /// (`<prefix>-<word>-<number>`: `us-gov-west-1`, `us-iso-east-1`,
    /// `cn-north-1` and `eusc-de-east-1` are other partitions) with AWS's
    /// own endpoints; Mozilla's list otherwise.
    pub fn choose(region: Option<&str>, endpoint_overridden: bool) -> Self {
        let commercial = region.is_some_and(|r| {
            let mut parts = r.split('-');
            matches!(
                (parts.next(), parts.next(), parts.next(), parts.next()),
                (Some(prefix), Some(word), Some(number), None)
                    if COMMERCIAL_PREFIXES.contains(&prefix)
                        && !word.is_empty()
                        && word.bytes().all(|b| b.is_ascii_lowercase())
                        && !number.is_empty()
                        && number.bytes().all(|b| b.is_ascii_digit())
            )
        });
        if commercial && !endpoint_overridden {
            SdkRoots::Amazon
        } else {
            SdkRoots::Mozilla
        }
    }

    /// The DER certificates of this choice.
    pub fn certificates(self) -> impl Iterator<Item = &'static [u8]> {
        webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|der| der.as_ref())
            .filter(move |der| match self {
                SdkRoots::Mozilla => true,
                // A root's own name is in its subject (and its issuer): no
                // other root of the list mentions these names.
                SdkRoots::Amazon => AMAZON_ROOTS
                    .iter()
                    .any(|name| memchr::memmem::find(der, name.as_bytes()).is_some()),
            })
    }
}

/// The AWS SDK's HTTPS client (for `aws_config`'s loader): the SDK's own
/// rustls client over aws-lc-rs, trusting `roots` instead of the system's
/// store.
pub fn sdk_http_client(roots: SdkRoots) -> aws_sdk_secretsmanager::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let mut store = TrustStore::empty();
    for der in roots.certificates() {
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
    fn the_sdk_trusts_amazons_five_roots_in_the_commercial_partition_only() {
        for region in [
            "us-east-1",
            "eu-central-2",
            "ap-southeast-4",
            "il-central-1",
            "mx-central-1",
        ] {
            assert_eq!(
                SdkRoots::choose(Some(region), false),
                SdkRoots::Amazon,
                "{region}"
            );
            // An endpoint override may be anything: the whole list.
            assert_eq!(
                SdkRoots::choose(Some(region), true),
                SdkRoots::Mozilla,
                "{region}"
            );
        }
        for region in [
            "us-gov-west-1",
            "us-iso-east-1",
            "us-isob-east-1",
            "cn-north-1",
            "cn-northwest-1",
            "eusc-de-east-1",
            "us-east",
            "us-east-1-x",
            "US-EAST-1",
            "",
        ] {
            assert_eq!(
                SdkRoots::choose(Some(region), false),
                SdkRoots::Mozilla,
                "{region:?}"
            );
        }
        assert_eq!(SdkRoots::choose(None, false), SdkRoots::Mozilla);
    }

    #[test]
    fn only_an_https_endpoint_override_asks_for_the_whole_list() {
        let vars = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(n, v)| (OsString::from(n), OsString::from(v)))
                .collect::<Vec<_>>()
        };
        let region = ("AWS_REGION", "eu-west-1");
        assert_eq!(SdkRoots::from_vars(vars(&[region])), SdkRoots::Amazon);
        for (name, value, roots) in [
            (
                "AWS_ENDPOINT_URL",
                "http://127.0.0.1:5000",
                SdkRoots::Amazon,
            ),
            (
                "AWS_ENDPOINT_URL_SECRETS_MANAGER",
                " HTTP://localhost",
                SdkRoots::Amazon,
            ),
            (
                "AWS_ENDPOINT_URL",
                "https://proxy.example",
                SdkRoots::Mozilla,
            ),
            (
                "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
                "HTTPS://x",
                SdkRoots::Mozilla,
            ),
            ("AWS_ENDPOINT_URL", "", SdkRoots::Mozilla),
            ("AWS_ENDPOINT_URL_STS", "localhost:4566", SdkRoots::Mozilla),
        ] {
            assert_eq!(
                SdkRoots::from_vars(vars(&[region, (name, value)])),
                roots,
                "{name}={value}"
            );
        }
        assert_eq!(
            SdkRoots::from_vars(vars(&[("AWS_REGION", "cn-north-1")])),
            SdkRoots::Mozilla
        );
        assert_eq!(SdkRoots::from_vars(vars(&[])), SdkRoots::Mozilla);
    }

    #[test]
    fn amazons_roots_are_the_five_named_each_once() {
        use rustls::pki_types::CertificateDer;
        let amazon: Vec<&[u8]> = SdkRoots::Amazon.certificates().collect();
        assert_eq!(amazon.len(), AMAZON_ROOTS.len());
        for name in AMAZON_ROOTS {
            let with_name: Vec<_> = amazon
                .iter()
                .filter(|der| memchr::memmem::find(der, name.as_bytes()).is_some())
                .collect();
            assert_eq!(with_name.len(), 1, "{name}");
            // Its subject names it: a root, not a certificate that mentions it.
            let der = CertificateDer::from(*with_name[0]);
            let anchor = webpki::anchor_from_trusted_cert(&der).unwrap();
            assert!(
                memchr::memmem::find(anchor.subject.as_ref(), name.as_bytes()).is_some(),
                "{name}"
            );
        }
        assert_eq!(
            SdkRoots::Mozilla.certificates().count(),
            webpki_root_certs::TLS_SERVER_ROOT_CERTS.len()
        );
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
