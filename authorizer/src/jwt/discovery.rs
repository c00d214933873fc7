//! OpenID Connect discovery: where a trusted issuer's keys are, when its
//! configuration gives no `jwksUri`.
//!
//! The document at `<issuer>/.well-known/openid-configuration` is fetched
//! over HTTPS (bounded like a JWKS) and believed only when its `issuer` is
//! exactly the configured one (OIDC Discovery 1.0 §4.3: otherwise another
//! issuer's document, or an attacker's, would choose the keys) and its
//! `jwks_uri` follows the issuers' URL rule: https, or http on a loopback
//! host when the issuer itself is a loopback development provider (an https
//! issuer never sends the authorizer to a plain-http address, the Lambda
//! Runtime API's among them).
//!
//! [`DiscoveredJwks`] is the issuer's JWKS source: its first fetch
//! discovers the `jwks_uri` and keeps it for the life of the process, then
//! fetches the keys. It runs under the issuer's JWKS cache, so a discovery
//! that fails (at cold start or later) is retried on demand with the cache's
//! rules: one fetch in flight, at most one per cool-down, never a crash.

use std::sync::{Mutex, PoisonError};

use reqwest::Url;
use serde::Deserialize;
use tracing::info;

use crate::BoxFuture;
use crate::config::trusted_issuers::check_url;
use crate::jwt::https::{
    FetchError, GetError, JwksSource, MAX_DISCOVERY_BYTES, MAX_JWKS_BYTES, get_document,
};

/// Why the discovery document gave no usable `jwks_uri`.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The document could not be fetched.
    #[error("the discovery document {0}")]
    Fetch(#[source] GetError),
    /// Not a JSON object with string `issuer` and `jwks_uri` members.
    #[error("the discovery document is malformed: {0}")]
    Malformed(String),
    /// Its `issuer` is not exactly the configured one.
    #[error("the discovery document names issuer {found:?}, not {expected:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// What the document says.
        found: String,
    },
    /// Its `jwks_uri` breaks the URL rule.
    #[error("the discovery document's jwks_uri {uri:?} {problem}")]
    BadJwksUri {
        /// The `jwks_uri`.
        uri: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

#[derive(Deserialize)]
struct Document {
    issuer: Option<serde_json::Value>,
    jwks_uri: Option<serde_json::Value>,
}

/// Reads a discovery document (untrusted bytes) for `issuer`: its
/// `jwks_uri`, once the document is shown to be `issuer`'s own. Pure, so it
/// can be fuzzed on its own.
pub fn parse_discovery(body: &[u8], issuer: &str) -> Result<Url, DiscoveryError> {
    let document: Document = crate::json::from_object_slice(body)
        .map_err(|e| DiscoveryError::Malformed(e.to_string()))?;
    let found = match document.issuer {
        Some(serde_json::Value::String(found)) => found,
        Some(_) => return Err(DiscoveryError::Malformed("issuer is not a string".into())),
        None => return Err(DiscoveryError::Malformed("no issuer".into())),
    };
    // Exact, byte for byte: a trailing slash or another case is another
    // issuer (OIDC Discovery §4.3).
    if found != issuer {
        return Err(DiscoveryError::IssuerMismatch {
            expected: issuer.to_owned(),
            found,
        });
    }
    let raw = match document.jwks_uri {
        Some(serde_json::Value::String(raw)) => raw,
        Some(_) => return Err(DiscoveryError::Malformed("jwks_uri is not a string".into())),
        None => return Err(DiscoveryError::Malformed("no jwks_uri".into())),
    };
    let bad = |problem| DiscoveryError::BadJwksUri {
        uri: raw.clone(),
        problem,
    };
    let uri = Url::parse(&raw).map_err(|_| bad("is not a URL"))?;
    check_url(&uri).map_err(bad)?;
    let issuer_is_http = Url::parse(issuer).is_ok_and(|i| i.scheme() == "http");
    if uri.scheme() == "http" && !issuer_is_http {
        return Err(bad("is plain http, and the issuer is not"));
    }
    Ok(uri)
}

/// A trusted issuer's keys found by discovery (see the module's docs).
#[derive(Debug)]
pub struct DiscoveredJwks {
    client: reqwest::Client,
    issuer: String,
    discovery: Url,
    jwks_uri: Mutex<Option<Url>>,
}

impl DiscoveredJwks {
    /// The source of `issuer`'s keys, discovered at `discovery`, through
    /// `client`.
    pub fn new(client: reqwest::Client, issuer: String, discovery: Url) -> Self {
        DiscoveredJwks {
            client,
            issuer,
            discovery,
            jwks_uri: Mutex::new(None),
        }
    }

    /// The `jwks_uri` found, once found.
    pub fn jwks_uri(&self) -> Option<Url> {
        self.jwks_uri
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn discover(&self) -> Result<Url, FetchError> {
        if let Some(uri) = self.jwks_uri() {
            return Ok(uri);
        }
        let body = get_document(&self.client, &self.discovery, MAX_DISCOVERY_BYTES)
            .await
            .map_err(|e| FetchError::Discovery(DiscoveryError::Fetch(e)))?;
        let uri = parse_discovery(&body, &self.issuer).map_err(FetchError::Discovery)?;
        info!(issuer_url = %self.issuer, jwks_uri = %uri, "OIDC discovery done");
        *self.jwks_uri.lock().unwrap_or_else(PoisonError::into_inner) = Some(uri.clone());
        Ok(uri)
    }
}

impl JwksSource for DiscoveredJwks {
    fn fetch(&self) -> BoxFuture<'_, Result<Vec<u8>, FetchError>> {
        Box::pin(async move {
            let uri = self.discover().await?;
            get_document(&self.client, &uri, MAX_JWKS_BYTES)
                .await
                .map_err(FetchError::from)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISS: &str = "https://idp.example.com";

    fn parse(doc: serde_json::Value, issuer: &str) -> Result<Url, DiscoveryError> {
        parse_discovery(doc.to_string().as_bytes(), issuer)
    }

    #[test]
    fn the_jwks_uri_of_the_issuers_own_document_is_taken() {
        let uri = parse(
            json!({"issuer": ISS, "jwks_uri": "https://keys.example.net/jwks", "token_endpoint": "x"}),
            ISS,
        )
        .unwrap();
        assert_eq!(uri.as_str(), "https://keys.example.net/jwks");
        let local = "http://127.0.0.1:4000";
        assert!(
            parse(
                json!({"issuer": local, "jwks_uri": "http://127.0.0.1:4000/jwks"}),
                local
            )
            .is_ok()
        );
    }

    #[test]
    fn a_document_of_another_issuer_is_refused() {
        for other in [
            "https://idp.example.com/",
            "https://IDP.example.com",
            "https://idp.example.com.evil.example",
            "http://idp.example.com",
        ] {
            assert!(
                matches!(
                    parse(json!({"issuer": other, "jwks_uri": "https://k/jwks"}), ISS),
                    Err(DiscoveryError::IssuerMismatch { ref found, .. }) if found == other
                ),
                "{other}"
            );
        }
    }

    #[test]
    fn a_jwks_uri_off_the_url_rule_is_refused() {
        for (uri, problem) in [
            ("http://keys.example.net/jwks", "is http off loopback"),
            (
                "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
                "is plain http, and the issuer is not",
            ),
            ("file:///etc/passwd", "is not an https URL"),
            ("keys", "is not a URL"),
            ("https://u:p@keys.example.net", "must not hold credentials"),
        ] {
            match parse(json!({"issuer": ISS, "jwks_uri": uri}), ISS) {
                Err(DiscoveryError::BadJwksUri { problem: p, .. }) => {
                    assert!(p.starts_with(problem), "{uri}: {p}")
                }
                other => panic!("{uri}: {other:?}"),
            }
        }
    }

    #[test]
    fn garbage_documents_are_malformed() {
        for body in [
            &b"<html>"[..],
            b"[]",
            b"{}",
            br#"{"issuer": 1, "jwks_uri": "https://k"}"#,
            br#"{"issuer": "https://idp.example.com"}"#,
            br#"{"issuer": "https://idp.example.com", "jwks_uri": ["https://k"]}"#,
            br#"{"issuer": "https://idp.example.com", "issuer": "https://idp.example.com", "jwks_uri": "https://k"}"#,
            br#"["https://idp.example.com", "https://k"]"#,
        ] {
            assert!(
                matches!(parse_discovery(body, ISS), Err(DiscoveryError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
