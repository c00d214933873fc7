//! JSON Web Keys: which keys of a JWKS can verify tokens, and whether a key
//! agrees with a token's header: RSA keys (RS256/384/512, PS256/384/512), EC
//! keys on P-256 and P-384 (ES256, ES384, low-S only: [`crate::jwt::ecdsa`])
//! and Ed25519 keys (EdDSA).
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
    /// `kty: OKP`, `crv: Ed25519`.
    Ed25519,
}

impl KeyKind {
    /// The key type an algorithm needs.
    pub fn for_alg(alg: SigAlg) -> Self {
        match alg {
            SigAlg::RS256
            | SigAlg::RS384
            | SigAlg::RS512
            | SigAlg::PS256
            | SigAlg::PS384
            | SigAlg::PS512 => KeyKind::Rsa,
            SigAlg::ES256 => KeyKind::EcP256,
            SigAlg::ES384 => KeyKind::EcP384,
            SigAlg::EdDSA => KeyKind::Ed25519,
        }
    }
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureFault {
    /// It does not verify with the key.
    #[error("signature does not verify")]
    Invalid,
    /// An ECDSA signature in high-S form (its low-S twin may verify).
    #[error("ECDSA signature is not in low-S form")]
    HighS,
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
    /// when it names one, else every one of its type that its issuer allows
    /// (aws-lc-rs binds the digest to the parsed key).
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
    /// Builds a key from one JWKS entry, for an issuer whose tokens may use
    /// `algorithms` (what a key without `alg` is prepared for).
    pub fn from_json(value: serde_json::Value, algorithms: &[SigAlg]) -> Result<Self, UnusableJwk> {
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
            AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
                KeyKind::Ed25519
            }
            _ => return Err(UnusableJwk::UnsupportedKey(kid)),
        };
        let alg = match jwk.common.key_algorithm {
            None => None,
            Some(KeyAlgorithm::RS256) => Some(SigAlg::RS256),
            Some(KeyAlgorithm::RS384) => Some(SigAlg::RS384),
            Some(KeyAlgorithm::RS512) => Some(SigAlg::RS512),
            Some(KeyAlgorithm::PS256) => Some(SigAlg::PS256),
            Some(KeyAlgorithm::PS384) => Some(SigAlg::PS384),
            Some(KeyAlgorithm::PS512) => Some(SigAlg::PS512),
            Some(KeyAlgorithm::ES256) => Some(SigAlg::ES256),
            Some(KeyAlgorithm::ES384) => Some(SigAlg::ES384),
            Some(KeyAlgorithm::EdDSA) => Some(SigAlg::EdDSA),
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
        let algs: Vec<SigAlg> = match key.alg {
            Some(alg) => vec![alg],
            None => algorithms
                .iter()
                .copied()
                .filter(|a| KeyKind::for_alg(*a) == kind)
                .collect(),
        };
        for alg in algs {
            let parsed = prepare(&jwk.algorithm, alg)
                .ok_or_else(|| UnusableJwk::BadKeyMaterial(key.kid.clone()))?;
            key.prepared.push((alg, parsed));
        }
        if key.prepared.is_empty() {
            // No `alg`, and none of its type is allowed: it verifies nothing.
            return Err(UnusableJwk::UnsupportedAlg(key.kid));
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
        if KeyKind::for_alg(alg) != self.kind {
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
        self.check_signature(alg, signing_input, signature).is_ok()
    }

    /// As [`Self::verify`], saying why a signature is refused: an ECDSA
    /// signature must also be in low-S form, so that no token has a second
    /// valid spelling.
    pub fn check_signature(
        &self,
        alg: SigAlg,
        signing_input: &str,
        signature: &str,
    ) -> Result<(), SignatureFault> {
        let Some((_, key)) = self.prepared.iter().find(|(a, _)| *a == alg) else {
            return Err(SignatureFault::Invalid);
        };
        // Decoded on the stack: a signature that is not base64url, or longer
        // than any key here can make, is simply a bad signature.
        let mut raw = [0u8; MAX_SIGNATURE_BYTES];
        let Ok(len) = URL_SAFE_NO_PAD.decode_slice(signature, &mut raw) else {
            return Err(SignatureFault::Invalid);
        };
        let sig = raw.get(..len).ok_or(SignatureFault::Invalid)?;
        if !crate::jwt::ecdsa::is_low_s(alg, sig) {
            return Err(SignatureFault::HighS);
        }
        key.verify_sig(signing_input.as_bytes(), sig)
            .map_err(|_| SignatureFault::Invalid)
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
                // The salt as long as the digest: RFC 7518 §3.5.
                SigAlg::PS256 => &lc::RSA_PSS_2048_8192_SHA256,
                SigAlg::PS384 => &lc::RSA_PSS_2048_8192_SHA384,
                SigAlg::PS512 => &lc::RSA_PSS_2048_8192_SHA512,
                SigAlg::ES256 | SigAlg::ES384 | SigAlg::EdDSA => return None,
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
        AlgorithmParameters::OctetKeyPair(okp) if alg == SigAlg::EdDSA => {
            // RFC 8037: `x` is the 32-byte public key itself.
            let x = decode(&okp.x)?;
            if x.len() != 32 {
                return None;
            }
            ParsedPublicKey::new(&lc::ED25519, x).ok()
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
        let key =
            VerifyingKey::from_json(rsa(json!({"alg": "RS256", "use": "sig"})), &SigAlg::POOL)
                .unwrap();
        assert_eq!(
            (key.kid.as_str(), key.kind, key.alg),
            ("k1", KeyKind::Rsa, Some(SigAlg::RS256))
        );
    }

    #[test]
    fn keys_that_cannot_verify_tokens_are_left_out() {
        assert_eq!(
            VerifyingKey::from_json(rsa(json!({"use": "enc"})), &SigAlg::POOL).unwrap_err(),
            UnusableJwk::NotForSignatures("k1".into())
        );
        assert_eq!(
            VerifyingKey::from_json(rsa(json!({"alg": "RSA-OAEP"})), &SigAlg::POOL).unwrap_err(),
            UnusableJwk::UnsupportedAlg("k1".into())
        );
        let mut no_kid = rsa(json!({}));
        no_kid.as_object_mut().unwrap().remove("kid");
        assert_eq!(
            VerifyingKey::from_json(no_kid, &SigAlg::POOL).unwrap_err(),
            UnusableJwk::MissingKid
        );
        assert_eq!(
            VerifyingKey::from_json(
                json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0"}),
                &SigAlg::POOL
            )
            .unwrap_err(),
            UnusableJwk::UnsupportedKey("h".into())
        );
        // jsonwebtoken reads an RSA key without n and e as an unknown key type.
        assert_eq!(
            VerifyingKey::from_json(json!({"kty": "RSA", "kid": "k"}), &SigAlg::POOL).unwrap_err(),
            UnusableJwk::UnsupportedKey("k".into())
        );
        assert!(matches!(
            VerifyingKey::from_json(json!("k"), &SigAlg::POOL),
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
            VerifyingKey::from_json(ec.clone(), &SigAlg::POOL).unwrap_err(),
            UnusableJwk::UnsupportedAlg("e".into())
        );
        let mut es256 = ec;
        es256["alg"] = json!("ES256");
        assert_eq!(
            VerifyingKey::from_json(es256, &SigAlg::POOL).unwrap().kind,
            KeyKind::EcP256
        );
        assert_eq!(
            VerifyingKey::from_json(rsa(json!({"alg": "ES384"})), &SigAlg::POOL).unwrap_err(),
            UnusableJwk::UnsupportedAlg("k1".into())
        );
    }

    #[test]
    fn the_header_alg_must_agree_with_the_key() {
        let key = VerifyingKey::from_json(rsa(json!({"alg": "RS256"})), &SigAlg::POOL).unwrap();
        assert_eq!(key.check_agreement(SigAlg::RS256), Ok(()));
        assert_eq!(
            key.check_agreement(SigAlg::RS512),
            Err(JwkMismatch::Algorithm {
                key: "RS256",
                token: "RS512"
            })
        );
        let any_rsa = VerifyingKey::from_json(rsa(json!({})), &SigAlg::POOL).unwrap();
        assert_eq!(any_rsa.check_agreement(SigAlg::RS384), Ok(()));
        assert_eq!(
            any_rsa.check_agreement(SigAlg::ES256),
            Err(JwkMismatch::KeyType {
                kind: KeyKind::Rsa,
                token: "ES256"
            })
        );
    }

    #[test]
    fn a_key_without_alg_is_prepared_for_its_issuers_algorithms_of_its_type() {
        use crate::testkit::SigningKey;
        let rsa = SigningKey::rsa("r", SigAlg::PS256).unwrap();
        let claims = json!({"sub": "x"});
        let token = rsa.sign(&claims).unwrap();
        let (input, sig) = token.rsplit_once('.').unwrap();
        // Entra ID publishes RSA keys without `alg`.
        let ps_only = VerifyingKey::from_json(rsa.bare_jwk(), &[SigAlg::PS256]).unwrap();
        assert_eq!(ps_only.check_signature(SigAlg::PS256, input, sig), Ok(()));
        assert_eq!(
            ps_only.check_signature(SigAlg::RS256, input, sig),
            Err(SignatureFault::Invalid),
            "not prepared for an algorithm the issuer does not allow"
        );
        // For the pool's algorithms an RSA key without alg is RS* only.
        let pool = VerifyingKey::from_json(rsa.bare_jwk(), &SigAlg::POOL).unwrap();
        assert_eq!(
            pool.check_signature(SigAlg::PS256, input, sig),
            Err(SignatureFault::Invalid)
        );
        // No algorithm of its type allowed: it verifies nothing, left out.
        assert_eq!(
            VerifyingKey::from_json(rsa.bare_jwk(), &[SigAlg::EdDSA]).unwrap_err(),
            UnusableJwk::UnsupportedAlg("r".into())
        );
    }

    #[test]
    fn ed25519_keys_verify_eddsa_and_nothing_else() {
        use crate::testkit::SigningKey;
        let ed = SigningKey::ed25519("ed").unwrap();
        let key = VerifyingKey::from_json(ed.jwk(), &SigAlg::ALL).unwrap();
        assert_eq!((key.kind, key.alg), (KeyKind::Ed25519, Some(SigAlg::EdDSA)));
        let token = ed.sign(&json!({"sub": "x"})).unwrap();
        let (input, sig) = token.rsplit_once('.').unwrap();
        assert_eq!(key.check_signature(SigAlg::EdDSA, input, sig), Ok(()));
        assert_eq!(
            key.check_signature(SigAlg::EdDSA, &format!("{input}x"), sig),
            Err(SignatureFault::Invalid)
        );
        let bare = VerifyingKey::from_json(ed.bare_jwk(), &SigAlg::ALL).unwrap();
        assert_eq!(
            bare.check_agreement(SigAlg::ES256),
            Err(JwkMismatch::KeyType {
                kind: KeyKind::Ed25519,
                token: "ES256"
            })
        );
        assert_eq!(bare.check_agreement(SigAlg::EdDSA), Ok(()));
        // Another curve of the OKP type (X25519 is for key agreement).
        let mut x25519 = ed.bare_jwk();
        x25519["crv"] = json!("X25519");
        assert!(VerifyingKey::from_json(x25519, &SigAlg::ALL).is_err());
        // An Ed25519 key of the wrong length.
        let mut short = ed.bare_jwk();
        short["x"] = json!("AAAA");
        assert_eq!(
            VerifyingKey::from_json(short, &SigAlg::ALL).unwrap_err(),
            UnusableJwk::BadKeyMaterial("ed".into())
        );
    }

    #[test]
    fn a_high_s_signature_is_refused_by_name_and_its_low_s_twin_verifies() {
        use crate::testkit::{SigningKey, high_s_twin};
        let ec = SigningKey::ec("e", SigAlg::ES256).unwrap();
        let key = VerifyingKey::from_json(ec.jwk(), &SigAlg::POOL).unwrap();
        let token = ec.sign(&json!({"sub": "x"})).unwrap();
        let twin = high_s_twin(&token).unwrap();
        let (input, low) = token.rsplit_once('.').unwrap();
        let (_, high) = twin.rsplit_once('.').unwrap();
        assert_eq!(key.check_signature(SigAlg::ES256, input, low), Ok(()));
        assert_eq!(
            key.check_signature(SigAlg::ES256, input, high),
            Err(SignatureFault::HighS)
        );
    }
}
