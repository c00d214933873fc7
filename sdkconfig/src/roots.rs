//! Which root certificates the SDK's HTTPS client trusts, compiled in.
//!
//! The SDK's client (Secrets Manager, Cognito, DynamoDB) takes its roots
//! as PEM certificates only and parses every one of them when it opens its
//! first connection: for Mozilla's whole list that was over half of the
//! authorizer's cold-start instructions with a key registry, and the
//! system's store (what the SDK reads by default) is ~150 files more. The
//! functions talk to AWS's own endpoints only, which in the commercial
//! partition all chain to Amazon Trust Services' roots (Amazon Root CA 1-4,
//! and Starfield Services Root G2, which cross-signs them), so there the
//! client trusts those five: fewer to parse, and none that AWS's endpoints
//! do not need ([`SdkRoots`]). In another partition, or with an HTTPS
//! endpoint set by `AWS_ENDPOINT_URL*`, it trusts Mozilla's whole list
//! (`webpki-root-certs`). What this gives up: a root added to the system
//! store only (a TLS-inspecting proxy) is not trusted.

use std::ffi::OsString;

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

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

    /// Adds this choice's certificates to `store`.
    fn add_to(self, store: &mut TrustStore) {
        match self {
            // One PEM text holding all five: the SDK reads every certificate
            // of it.
            SdkRoots::Amazon => {
                store.add_pem_certificate(AMAZON_ROOTS_PEM.as_bytes());
            }
            SdkRoots::Mozilla => {
                for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
                    store.add_pem_certificate(pem(der));
                }
            }
        }
    }
}

/// Amazon's five roots ([`AMAZON_ROOTS`]) as PEM, compiled in as text: the
/// commercial partition's trust store costs a cold start neither a search
/// of Mozilla's list nor an encoding (over a third of the api's cold-start
/// instructions beyond the runtime's own, measured with callgrind). Each is
/// one of `webpki-root-certs`' own certificates, byte for byte
/// (`the_amazon_roots_are_the_five_named_each_once_and_in_mozillas_list`);
/// they expire in 2037-2040.
pub const AMAZON_ROOTS_PEM: &str = include_str!("amazon-roots.pem");

/// The AWS SDK's HTTPS client (for `aws_config`'s loader): the SDK's own
/// rustls client over aws-lc-rs, trusting `roots` instead of the system's
/// store.
pub fn http_client(roots: SdkRoots) -> SharedHttpClient {
    let mut store = TrustStore::empty();
    roots.add_to(&mut store);
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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

    fn contains(haystack: &[u8], needle: &str) -> bool {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    }

    #[test]
    fn the_amazon_roots_are_the_five_named_each_once_and_in_mozillas_list() {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let amazon: Vec<CertificateDer<'_>> =
            CertificateDer::pem_slice_iter(AMAZON_ROOTS_PEM.as_bytes())
                .collect::<Result<_, _>>()
                .unwrap();
        assert_eq!(amazon.len(), AMAZON_ROOTS.len());
        for der in &amazon {
            // Byte for byte one of Mozilla's roots as webpki-root-certs has
            // them: not a copy that could drift from the list.
            assert!(
                webpki_root_certs::TLS_SERVER_ROOT_CERTS
                    .iter()
                    .any(|m| m.as_ref() == der.as_ref()),
                "a root Mozilla's list does not hold"
            );
        }
        for name in AMAZON_ROOTS {
            // Its subject names it: a root, not a certificate that mentions it.
            let with_name: Vec<_> = amazon
                .iter()
                .filter(|der| {
                    let anchor = webpki::anchor_from_trusted_cert(der).unwrap();
                    contains(anchor.subject.as_ref(), name)
                })
                .collect();
            assert_eq!(with_name.len(), 1, "{name}");
        }
        // And no other root of the list carries one of these names.
        let named = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .filter(|der| AMAZON_ROOTS.iter().any(|name| contains(der, name)))
            .count();
        assert_eq!(named, AMAZON_ROOTS.len());
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
