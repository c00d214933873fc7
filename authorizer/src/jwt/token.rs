//! Parsing a compact JWS into its parts, before anything is trusted.
//!
//! Only the header is decoded here. The payload is decoded and read for its
//! `iss` (which only picks the issuer whose rules then run) before the
//! signature is checked, as aws-jwt-verify does; nothing in it is trusted
//! before the signature verified.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::reject::Rejection;

/// Cognito tokens are a few KiB; API Gateway caps a header at 10 KiB. Anything
/// longer is refused before it is decoded.
pub const MAX_TOKEN_BYTES: usize = 10 * 1024;

/// The signature algorithms this verifier knows: asymmetric only. `none`
/// and the HMAC family are not among them because a public JWK must never
/// be usable as a shared secret. Which of them an issuer's tokens may use is
/// the issuer's own list (`crate::jwt::issuers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256 (salt as long as the hash, RFC 7518 §3.5).
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// EdDSA on Ed25519 (RFC 8037).
    EdDSA,
}

impl SigAlg {
    /// Every algorithm this verifier knows.
    pub const ALL: [SigAlg; 9] = [
        SigAlg::RS256,
        SigAlg::RS384,
        SigAlg::RS512,
        SigAlg::PS256,
        SigAlg::PS384,
        SigAlg::PS512,
        SigAlg::ES256,
        SigAlg::ES384,
        SigAlg::EdDSA,
    ];

    /// What the user pool's tokens may use: the algorithms accepted before
    /// trusted issuers existed (Cognito signs with RS256).
    pub const POOL: [SigAlg; 5] = [
        SigAlg::RS256,
        SigAlg::RS384,
        SigAlg::RS512,
        SigAlg::ES256,
        SigAlg::ES384,
    ];

    /// Parses a JOSE `alg` name this verifier knows (case-sensitive, as
    /// JOSE names are).
    pub fn parse(name: &str) -> Option<Self> {
        SigAlg::ALL.into_iter().find(|alg| alg.name() == name)
    }

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            SigAlg::RS256 => "RS256",
            SigAlg::RS384 => "RS384",
            SigAlg::RS512 => "RS512",
            SigAlg::PS256 => "PS256",
            SigAlg::PS384 => "PS384",
            SigAlg::PS512 => "PS512",
            SigAlg::ES256 => "ES256",
            SigAlg::ES384 => "ES384",
            SigAlg::EdDSA => "EdDSA",
        }
    }
}

/// A token split into its parts, header decoded and checked for shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedJwt<'a> {
    /// The header's `alg`, from the allow-list.
    pub alg: SigAlg,
    /// The header's `kid`.
    pub kid: String,
    /// The header's `typ`, when it has one.
    pub typ: Option<String>,
    /// `base64url(header) . base64url(payload)`: what the signature covers.
    pub signing_input: &'a str,
    /// The encoded payload, decoded only after the signature verified.
    pub payload: &'a str,
    /// The encoded signature.
    pub signature: &'a str,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<serde_json::Value>,
    kid: Option<serde_json::Value>,
    typ: Option<serde_json::Value>,
    crit: Option<serde::de::IgnoredAny>,
}

/// Splits and checks a compact JWS; decodes only its header.
pub fn parse(token: &str) -> Result<ParsedJwt<'_>, Rejection> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Rejection::TokenTooLarge {
            len: token.len(),
            max: MAX_TOKEN_BYTES,
        });
    }
    let mut parts = token.splitn(4, '.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejection::MalformedToken(
            "expected three dot-separated parts",
        ));
    };
    if header.is_empty() || payload.is_empty() || signature.is_empty() {
        return Err(Rejection::MalformedToken("a part is empty"));
    }
    let signing_input = &token[..header.len() + 1 + payload.len()];

    let header_json = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| Rejection::MalformedToken("header is not base64url"))?;
    // Duplicate members are refused by serde for known fields, which closes
    // the "two alg values" ambiguity.
    let raw: RawHeader = crate::json::from_object_slice(&header_json)
        .map_err(|_| Rejection::MalformedToken("header is not a JSON object"))?;

    if raw.crit.is_some() {
        return Err(Rejection::CriticalHeader);
    }
    let alg = match raw.alg {
        Some(serde_json::Value::String(name)) => {
            SigAlg::parse(&name).ok_or(Rejection::UnsupportedAlgorithm { alg: name })?
        }
        Some(_) => return Err(Rejection::MalformedToken("header alg is not a string")),
        None => return Err(Rejection::MalformedToken("header has no alg")),
    };
    let kid = match raw.kid {
        Some(serde_json::Value::String(kid)) if !kid.is_empty() => kid,
        Some(serde_json::Value::String(_)) | None => return Err(Rejection::MissingKid),
        Some(_) => return Err(Rejection::MalformedToken("header kid is not a string")),
    };

    let typ = match raw.typ {
        None => None,
        Some(serde_json::Value::String(typ)) => Some(typ),
        Some(_) => return Err(Rejection::MalformedToken("header typ is not a string")),
    };

    Ok(ParsedJwt {
        alg,
        kid,
        typ,
        signing_input,
        payload,
        signature,
    })
}

/// Whether the header's `typ` names the media type `required`, as RFC 8725
/// §3.11 and RFC 7515 §4.1.9 compare them: case-insensitively, and a value
/// without a `/` stands for `application/<value>` (so `at+jwt`, `AT+JWT`
/// and `application/at+jwt` are one type, RFC 9068 §4). `required` is the
/// configured type, already without `application/` ([`media_subtype`]).
pub fn typ_matches(typ: &str, required: &str) -> bool {
    media_subtype(typ).is_some_and(|t| t.eq_ignore_ascii_case(required))
}

/// The `application/` subtype a `typ` value names: the value itself when it
/// has no `/`, the part after `application/` (any case) when it has one;
/// `None` for another top-level type.
pub fn media_subtype(typ: &str) -> Option<&str> {
    const APPLICATION: &str = "application/";
    if !typ.contains('/') {
        return Some(typ);
    }
    let (head, rest) = typ.split_at_checked(APPLICATION.len())?;
    head.eq_ignore_ascii_case(APPLICATION).then_some(rest)
}

/// Decodes the payload's base64url (read for its `iss` before the signature
/// verified, trusted only after).
pub fn decode_payload(payload: &str) -> Result<Vec<u8>, Rejection> {
    URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| Rejection::MalformedToken("payload is not base64url"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64(r#"{"sub":"x"}"#))
    }

    #[test]
    fn a_well_formed_token_splits_into_its_parts() {
        let t = token(r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#);
        let parsed = parse(&t).unwrap();
        assert_eq!(parsed.alg, SigAlg::RS256);
        assert_eq!(parsed.kid, "k1");
        assert_eq!(parsed.signature, "c2ln");
        assert_eq!(parsed.typ.as_deref(), Some("JWT"));
        assert_eq!(format!("{}.{}", parsed.signing_input, parsed.signature), t);
    }

    #[test]
    fn none_and_hmac_algorithms_are_refused() {
        for alg in [
            "none", "HS256", "HS384", "HS512", "ES512", "rs256", "Ed25519", "",
        ] {
            let t = token(&format!(r#"{{"alg":"{alg}","kid":"k1"}}"#));
            assert_eq!(
                parse(&t),
                Err(Rejection::UnsupportedAlgorithm { alg: alg.into() })
            );
        }
    }

    #[test]
    fn each_shape_defect_has_its_reason() {
        assert_eq!(
            parse("a.b"),
            Err(Rejection::MalformedToken(
                "expected three dot-separated parts"
            ))
        );
        assert_eq!(
            parse("a.b.c.d"),
            Err(Rejection::MalformedToken(
                "expected three dot-separated parts"
            ))
        );
        assert_eq!(
            parse("a..c"),
            Err(Rejection::MalformedToken("a part is empty"))
        );
        assert_eq!(
            parse("a.b."),
            Err(Rejection::MalformedToken("a part is empty"))
        );
        assert_eq!(
            parse("@@@.b.c"),
            Err(Rejection::MalformedToken("header is not base64url"))
        );
        assert_eq!(
            parse(&format!("{}.b.c", b64("[1]"))),
            Err(Rejection::MalformedToken("header is not a JSON object"))
        );
        assert_eq!(
            parse(&token(r#"{"kid":"k"}"#)),
            Err(Rejection::MalformedToken("header has no alg"))
        );
        assert_eq!(
            parse(&token(r#"{"alg":256,"kid":"k"}"#)),
            Err(Rejection::MalformedToken("header alg is not a string"))
        );
        assert_eq!(
            parse(&token(r#"{"alg":"RS256"}"#)),
            Err(Rejection::MissingKid)
        );
        assert_eq!(
            parse(&token(r#"{"alg":"RS256","kid":""}"#)),
            Err(Rejection::MissingKid)
        );
        assert_eq!(
            parse(&token(r#"{"alg":"RS256","kid":7}"#)),
            Err(Rejection::MalformedToken("header kid is not a string"))
        );
        assert_eq!(
            parse(&token(r#"{"alg":"RS256","kid":"k","crit":["exp"]}"#)),
            Err(Rejection::CriticalHeader)
        );
    }

    #[test]
    fn every_known_algorithm_is_parsed_by_its_jose_name() {
        for alg in SigAlg::ALL {
            let t = token(&format!(r#"{{"alg":"{}","kid":"k1"}}"#, alg.name()));
            assert_eq!(parse(&t).unwrap().alg, alg);
        }
        assert!(SigAlg::POOL.iter().all(|a| SigAlg::ALL.contains(a)));
    }

    #[test]
    fn typ_is_compared_as_a_media_type() {
        for typ in [
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/At+Jwt",
        ] {
            assert!(typ_matches(typ, "at+jwt"), "{typ}");
        }
        for typ in [
            "jwt",
            "JWT",
            "at+jwt ",
            "text/at+jwt",
            "application/jwt",
            "application/",
            "",
            "at",
        ] {
            assert!(!typ_matches(typ, "at+jwt"), "{typ}");
        }
        assert_eq!(media_subtype("application/at+jwt"), Some("at+jwt"));
        assert_eq!(media_subtype("image/png"), None);
        assert_eq!(
            parse(&token(r#"{"alg":"RS256","kid":"k","typ":1}"#)),
            Err(Rejection::MalformedToken("header typ is not a string"))
        );
    }

    #[test]
    fn a_header_with_a_duplicate_alg_is_refused() {
        let t = token(r#"{"alg":"RS256","alg":"none","kid":"k"}"#);
        assert_eq!(
            parse(&t),
            Err(Rejection::MalformedToken("header is not a JSON object"))
        );
    }

    #[test]
    fn a_header_that_is_a_json_array_is_refused() {
        // serde's derive reads `[alg, kid, crit]` by position (found by the
        // jwt_token fuzz target).
        assert_eq!(
            parse(&token(r#"["RS256","k",null]"#)),
            Err(Rejection::MalformedToken("header is not a JSON object"))
        );
    }

    #[test]
    fn oversized_tokens_are_refused_before_decoding() {
        let t = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(
            parse(&t),
            Err(Rejection::TokenTooLarge {
                len: MAX_TOKEN_BYTES + 1,
                max: MAX_TOKEN_BYTES
            })
        );
    }
}
