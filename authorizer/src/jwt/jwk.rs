//! JSON Web Keys: which keys of a JWKS can verify tokens, and whether a key
//! agrees with a token's header.
//!
//! The JWK is parsed once, when the JWKS is fetched, into a [`VerifyingKey`]
//! holding aws-lc-rs public keys already parsed for each algorithm it may
//! verify; per request only the agreement checks and the signature run.
//! (`jsonwebtoken`'s `DecodingKey` keeps an RSA key as `n` and `e` and
//! rebuilds the key and its Montgomery context on every verify: about 2 µs
//! and 36 allocations per token.)

use aws_lc_rs::signature::{self as lc, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};

use crate::jwt::token::SigAlg;

/// The key type and, for EC keys, the curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `kty: RSA`.
    Rsa,
    /// `kty: EC`, `crv: P-256`.
    EcP256,
    /// `kty: EC`, `crv: P-384`.
    EcP384,
}

/// The largest signature accepted, in bytes: RSA-8192 (the largest modulus
/// aws-lc-rs verifies); ECDSA signatures are far shorter.
const MAX_SIGNATURE_BYTES: usize = 1024;

/// A public key from the JWKS, ready to verify.
#[derive(Clone)]
pub struct VerifyingKey {
    /// The `kid`.
    pub kid: String,
    /// The key type.
    pub kind: KeyKind,
    /// The JWK's `alg`, when it names one.
    pub alg: Option<SigAlg>,
    /// The key parsed for each algorithm it may verify: only the JWK's `alg`
    /// when it names one, else every one of its type (aws-lc-rs binds the
    /// digest to the parsed key).
    prepared: Vec<(SigAlg, ParsedPublicKey)>,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Why a JWK cannot be used at all (it is left out of the key set).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnusableJwk {
    /// Not a JWK object.
    #[error("not a JWK: {0}")]
    Malformed(String),
    /// No `kid`, so no token could select it.
    #[error("JWK has no kid")]
    MissingKid,
    /// `use` is not `sig`.
    #[error("JWK {0:?} is not for signatures")]
    NotForSignatures(String),
    /// A key type or curve this verifier does not accept (oct keys among them).
    #[error("JWK {0:?} has an unsupported key type or curve")]
    UnsupportedKey(String),
    /// An `alg` outside the allow-list, or one the key's type cannot do.
    #[error("JWK {0:?} names an unsupported alg")]
    UnsupportedAlg(String),
    /// Components that do not make a key.
    #[error("JWK {0:?} has invalid key material")]
    BadKeyMaterial(String),
}

/// How a key disagrees with a token's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwkMismatch {
    /// The JWK's `alg` differs from the header's.
    #[error("the key is for {key}, the token says {token}")]
    Algorithm {
        /// The JWK's `alg`.
        key: &'static str,
        /// The header's `alg`.
        token: &'static str,
    },
    /// The header's `alg` needs another key type or curve.
    #[error("{token} cannot be verified with a {kind:?} key")]
    KeyType {
        /// The key's type.
        kind: KeyKind,
        /// The header's `alg`.
        token: &'static str,
    },
}

impl VerifyingKey {
    /// Builds a key from one JWKS entry.
    pub fn from_json(value: serde_json::Value) -> Result<Self, UnusableJwk> {
        let jwk: Jwk =
            serde_json::from_value(value).map_err(|e| UnusableJwk::Malformed(e.to_string()))?;
        let kid = jwk.common.key_id.clone().ok_or(UnusableJwk::MissingKid)?;
        match &jwk.common.public_key_use {
            None | Some(PublicKeyUse::Signature) => {}
            Some(_) => return Err(UnusableJwk::NotForSignatures(kid)),
        }
        let kind = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => KeyKind::Rsa,
            AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                EllipticCurve::P256 => KeyKind::EcP256,
                EllipticCurve::P384 => KeyKind::EcP384,
                _ => return Err(UnusableJwk::UnsupportedKey(kid)),
            },
            _ => return Err(UnusableJwk::UnsupportedKey(kid)),
        };
        let alg = match jwk.common.key_algorithm {
            None => None,
            Some(KeyAlgorithm::RS256) => Some(SigAlg::RS256),
            Some(KeyAlgorithm::RS384) => Some(SigAlg::RS384),
            Some(KeyAlgorithm::RS512) => Some(SigAlg::RS512),
            Some(KeyAlgorithm::ES256) => Some(SigAlg::ES256),
            Some(KeyAlgorithm::ES384) => Some(SigAlg::ES384),
            Some(_) => return Err(UnusableJwk::UnsupportedAlg(kid)),
        };
        let mut key = VerifyingKey {
            kid,
            kind,
            alg,
            prepared: Vec::new(),
        };
        // An `alg` this key type cannot do (RS256 on an EC key) would refuse
        // every token: such a key cannot be used at all, so it is left out
        // like any other (found by the `jwks` fuzz target).
        if let Some(alg) = key.alg
            && key.check_agreement(alg).is_err()
        {
            return Err(UnusableJwk::UnsupportedAlg(key.kid));
        }
        let algs: &[SigAlg] = match (key.alg, kind) {
            (Some(alg), _) => &[alg][..],
            (None, KeyKind::Rsa) => &[SigAlg::RS256, SigAlg::RS384, SigAlg::RS512],
            (None, KeyKind::EcP256) => &[SigAlg::ES256],
            (None, KeyKind::EcP384) => &[SigAlg::ES384],
        };
        for &alg in algs {
            let parsed = prepare(&jwk.algorithm, alg)
                .ok_or_else(|| UnusableJwk::BadKeyMaterial(key.kid.clone()))?;
            key.prepared.push((alg, parsed));
        }
        Ok(key)
    }

    /// Whether `other` is this very key: same `kid`, type, `alg` and public
    /// key. A JWKS fetch that brings only the same keys is no key change.
    pub fn same_key(&self, other: &VerifyingKey) -> bool {
        self.kid == other.kid
            && self.kind == other.kind
            && self.alg == other.alg
            && self.prepared.len() == other.prepared.len()
            && self
                .prepared
                .iter()
                .zip(&other.prepared)
                .all(|((a, x), (b, y))| a == b && x.as_ref() == y.as_ref())
    }

    /// Whether this key may verify a token whose header says `alg`: the JWK's
    /// own `alg` (when given) must be the same, and the key type and curve
    /// must be the ones `alg` needs. This stops a token from choosing how its
    /// signature is checked.
    pub fn check_agreement(&self, alg: SigAlg) -> Result<(), JwkMismatch> {
        if let Some(key_alg) = self.alg
            && key_alg != alg
        {
            return Err(JwkMismatch::Algorithm {
                key: key_alg.name(),
                token: alg.name(),
            });
        }
        let needed = match alg {
            SigAlg::RS256 | SigAlg::RS384 | SigAlg::RS512 => KeyKind::Rsa,
            SigAlg::ES256 => KeyKind::EcP256,
            SigAlg::ES384 => KeyKind::EcP384,
        };
        if needed != self.kind {
            return Err(JwkMismatch::KeyType {
                kind: self.kind,
                token: alg.name(),
            });
        }
        Ok(())
    }

    /// Verifies `signature` (base64url) over `signing_input` with `alg`.
    /// Call [`Self::check_agreement`] first.
    pub fn verify(&self, alg: SigAlg, signing_input: &str, signature: &str) -> bool {
        let Some((_, key)) = self.prepared.iter().find(|(a, _)| *a == alg) else {
            return false;
        };
        // Decoded on the stack: a signature that is not base64url, or longer
        // than any key here can make, is simply a bad signature.
        let mut raw = [0u8; MAX_SIGNATURE_BYTES];
        let Ok(len) = URL_SAFE_NO_PAD.decode_slice(signature, &mut raw) else {
            return false;
        };
        raw.get(..len)
            .is_some_and(|sig| key.verify_sig(signing_input.as_bytes(), sig).is_ok())
    }
}

/// The JWK's public key parsed for `alg` (the caller checked that the key's
/// type fits `alg`). `None`: the components do not make a key aws-lc-rs
/// accepts for it (bad encoding, an RSA modulus under 2048 bits, a point off
/// the curve).
fn prepare(params: &AlgorithmParameters, alg: SigAlg) -> Option<ParsedPublicKey> {
    let decode = |b64: &str| URL_SAFE_NO_PAD.decode(b64).ok();
    match params {
        AlgorithmParameters::RSA(rsa) => {
            let (n, e) = (decode(&rsa.n)?, decode(&rsa.e)?);
            let algorithm = match alg {
                SigAlg::RS256 => &lc::RSA_PKCS1_2048_8192_SHA256,
                SigAlg::RS384 => &lc::RSA_PKCS1_2048_8192_SHA384,
                SigAlg::RS512 => &lc::RSA_PKCS1_2048_8192_SHA512,
                SigAlg::ES256 | SigAlg::ES384 => return None,
            };
            RsaPublicKeyComponents { n: &n, e: &e }
                .to_parsed_public_key(algorithm)
                .ok()
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            let algorithm = match alg {
                SigAlg::ES256 => &lc::ECDSA_P256_SHA256_FIXED,
                SigAlg::ES384 => &lc::ECDSA_P384_SHA384_FIXED,
                _ => return None,
            };
            // The uncompressed point, as SEC 1 writes it: 0x04 || x || y.
            let mut point = vec![0x04];
            point.extend(decode(&ec.x)?);
            point.extend(decode(&ec.y)?);
            ParsedPublicKey::new(algorithm, point).ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // A real 2048-bit modulus is not needed to test the checks that come
    // before key material; these components are well-formed base64url.
    fn rsa(extra: serde_json::Value) -> serde_json::Value {
        let mut v = json!({"kty": "RSA", "kid": "k1", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"});
        if let (Some(obj), Some(more)) = (v.as_object_mut(), extra.as_object()) {
            for (k, val) in more {
                obj.insert(k.clone(), val.clone());
            }
        }
        v
    }

    #[test]
    fn an_rsa_signing_key_is_usable() {
        let key = VerifyingKey::from_json(rsa(json!({"alg": "RS256", "use": "sig"}))).unwrap();
        assert_eq!(
            (key.kid.as_str(), key.kind, key.alg),
            ("k1", KeyKind::Rsa, Some(SigAlg::RS256))
        );
    }

    #[test]
    fn keys_that_cannot_verify_tokens_are_left_out() {
        assert_eq!(
            VerifyingKey::from_json(rsa(json!({"use": "enc"}))).unwrap_err(),
            UnusableJwk::NotForSignatures("k1".into())
        );
        assert_eq!(
            VerifyingKey::from_json(rsa(json!({"alg": "RSA-OAEP"}))).unwrap_err(),
            UnusableJwk::UnsupportedAlg("k1".into())
        );
        let mut no_kid = rsa(json!({}));
        no_kid.as_object_mut().unwrap().remove("kid");
        assert_eq!(
            VerifyingKey::from_json(no_kid).unwrap_err(),
            UnusableJwk::MissingKid
        );
        assert_eq!(
            VerifyingKey::from_json(json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0"}))
                .unwrap_err(),
            UnusableJwk::UnsupportedKey("h".into())
        );
        // jsonwebtoken reads an RSA key without n and e as an unknown key type.
        assert_eq!(
            VerifyingKey::from_json(json!({"kty": "RSA", "kid": "k"})).unwrap_err(),
            UnusableJwk::UnsupportedKey("k".into())
        );
        assert!(matches!(
            VerifyingKey::from_json(json!("k")),
            Err(UnusableJwk::Malformed(_))
        ));
    }

    #[test]
    fn a_key_whose_alg_needs_another_key_type_is_left_out() {
        // The fuzz target's find: an EC key labelled RS256 (here reached
        // through duplicate members, of which the last one counts).
        let ec = json!({"kty": "EC", "kid": "e", "crv": "P-256", "alg": "RS256", "use": "sig",
            "x": "wUbMvxMoNeBbttIezt2FkdQgCfPpkiZEEV-JDAf_SyI",
            "y": "wRKUpDlo5c4e4f-XzOux-qRbptg7O07Pr9ItUcRIPdk"});
        assert_eq!(
            VerifyingKey::from_json(ec.clone()).unwrap_err(),
            UnusableJwk::UnsupportedAlg("e".into())
        );
        let mut es256 = ec;
        es256["alg"] = json!("ES256");
        assert_eq!(
            VerifyingKey::from_json(es256).unwrap().kind,
            KeyKind::EcP256
        );
        assert_eq!(
            VerifyingKey::from_json(rsa(json!({"alg": "ES384"}))).unwrap_err(),
            UnusableJwk::UnsupportedAlg("k1".into())
        );
    }

    #[test]
    fn the_header_alg_must_agree_with_the_key() {
        let key = VerifyingKey::from_json(rsa(json!({"alg": "RS256"}))).unwrap();
        assert_eq!(key.check_agreement(SigAlg::RS256), Ok(()));
        assert_eq!(
            key.check_agreement(SigAlg::RS512),
            Err(JwkMismatch::Algorithm {
                key: "RS256",
                token: "RS512"
            })
        );
        let any_rsa = VerifyingKey::from_json(rsa(json!({}))).unwrap();
        assert_eq!(any_rsa.check_agreement(SigAlg::RS384), Ok(()));
        assert_eq!(
            any_rsa.check_agreement(SigAlg::ES256),
            Err(JwkMismatch::KeyType {
                kind: KeyKind::Rsa,
                token: "ES256"
            })
        );
    }
}
