//! Trusted OpenID issuers: the `TRUSTED_ISSUERS` configuration (operator's
//! text, but a JSON document with rules of its own) and the OIDC discovery
//! document (from the network).

use authorizer::config::trusted_issuers::{
    ClaimRequirement, DISCOVERY_PATH, TrustedIssuer, check_url, is_loopback, parse,
};
use authorizer::jwt::discovery::parse_discovery;
use authorizer::jwt::token::SigAlg;
use policies::{COGNITO_ISSUER, is_valid_alias};
use reqwest::Url;
use serde_json::{Value, json};

/// The entry `issuer` is printed as: every field, defaults written out.
fn print(issuer: &TrustedIssuer) -> Value {
    let mut entry = json!({
        "alias": issuer.alias,
        "issuer": issuer.issuer,
        "audiences": issuer.audiences,
        "clientIds": issuer.client_ids,
        "algorithms": issuer.algorithms.iter().map(|a| a.name()).collect::<Vec<_>>(),
        "requiredClaims": issuer.required_claims.iter().map(|(name, r)| {
            (name.clone(), match r {
                ClaimRequirement::Present => json!(true),
                ClaimRequirement::OneOf(values) => json!(values),
            })
        }).collect::<serde_json::Map<_, _>>(),
        "scopeMap": issuer.scope_map.iter().map(|(s, p)| (s.clone(), json!(p.as_str())))
            .collect::<serde_json::Map<_, _>>(),
    });
    if let Some(uri) = &issuer.jwks_uri {
        entry["jwksUri"] = json!(uri.as_str());
    }
    if let Some(typ) = &issuer.required_typ {
        entry["requiredTyp"] = json!(typ);
    }
    if let Some(claim) = &issuer.groups_claim {
        entry["groupsClaim"] = json!(claim);
        entry["readonlyGroups"] = json!(issuer.readonly_groups);
    }
    entry
}

/// Target `trusted_issuers`: `config::trusted_issuers::parse`.
///
/// - an accepted document is a JSON array; every issuer in it has a valid,
///   unique alias that is not `cognito`, a unique issuer under the URL rule
///   (https, or http on loopback), an audience or a client id, at least one
///   algorithm and never an HMAC one, a `requiredTyp` without `application/`,
///   `readonlyGroups` only with a `groupsClaim`, a discovery URL under its
///   issuer;
/// - printing the parsed issuers and parsing the print gives them back;
/// - a refusal's path is empty or starts at an index (`[n]`).
pub fn trusted_issuers(data: &[u8]) {
    let Some(text) = crate::text(data) else {
        return;
    };
    let issuers = match parse(text) {
        Ok(issuers) => issuers,
        Err(e) => {
            assert!(e.path.is_empty() || e.path.starts_with('['), "{e:?}");
            assert!(!e.problem.is_empty());
            return;
        }
    };
    let first = text.trim_start_matches([' ', '\t', '\n', '\r']);
    assert!(first.starts_with('['), "accepted from {text:?}");
    for (i, issuer) in issuers.iter().enumerate() {
        assert!(is_valid_alias(&issuer.alias) && issuer.alias != COGNITO_ISSUER);
        for other in &issuers[..i] {
            assert_ne!(other.alias, issuer.alias);
            assert_ne!(other.issuer, issuer.issuer);
        }
        let url = Url::parse(&issuer.issuer).unwrap();
        assert_eq!(check_url(&url), Ok(()));
        assert!(url.scheme() == "https" || is_loopback(&url));
        assert!(url.query().is_none());
        if let Some(uri) = &issuer.jwks_uri {
            assert_eq!(check_url(uri), Ok(()));
        }
        assert!(!issuer.audiences.is_empty() || !issuer.client_ids.is_empty());
        assert!(!issuer.algorithms.is_empty());
        assert!(issuer.algorithms.iter().all(|a| SigAlg::ALL.contains(a)));
        assert!(!issuer.algorithms.iter().any(|a| a.name().starts_with("HS")));
        if let Some(typ) = &issuer.required_typ {
            assert!(!typ.contains('/') && !typ.is_empty());
            assert_eq!(typ, &typ.to_ascii_lowercase());
        }
        assert!(issuer.readonly_groups.is_empty() || issuer.groups_claim.is_some());
        let discovery = issuer.discovery_url().unwrap();
        assert!(discovery.as_str().ends_with(DISCOVERY_PATH), "{discovery}");
    }
    let printed = Value::Array(issuers.iter().map(print).collect()).to_string();
    assert_eq!(parse(&printed).unwrap(), issuers, "{printed}");
}

/// The issuers the `discovery` target reads documents for: an https one
/// and a loopback development provider.
const ISSUERS: [&str; 2] = ["https://idp.example.com", "http://127.0.0.1:4000"];

/// Target `discovery`: `jwt::discovery::parse_discovery` for each of
/// [`ISSUERS`]. A `jwks_uri` it accepts comes from a JSON object whose
/// `issuer` is exactly the issuer's and whose `jwks_uri` is that URL, under
/// the URL rule; plain http only for the loopback issuer, and on loopback.
pub fn discovery(data: &[u8]) {
    for issuer in ISSUERS {
        let Ok(uri) = parse_discovery(data, issuer) else {
            continue;
        };
        assert_eq!(check_url(&uri), Ok(()));
        if uri.scheme() == "http" {
            assert!(issuer.starts_with("http://") && is_loopback(&uri), "{uri}");
        }
        // The members it read, skipping the others as the parser does (RFC
        // 8259 lets their strings hold a lone surrogate, which a `Value`
        // refuses).
        #[derive(serde::Deserialize)]
        struct Read {
            issuer: String,
            jwks_uri: String,
        }
        let first = data
            .iter()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        assert_eq!(first, Some(&b'{'), "accepted a document that is no object");
        let read: Read = serde_json::from_slice(data).unwrap();
        assert_eq!(read.issuer, issuer);
        assert_eq!(Url::parse(&read.jwks_uri).unwrap(), uri);
    }
}
