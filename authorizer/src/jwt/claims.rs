//! The claims set, read once, and the checks every issuer shares.
//!
//! [`Claims::parse`] reads the decoded payload into the members some rule
//! reads (the standard ones, Cognito's, and the claim names the trusted
//! issuers' configuration mentions), each as its JSON value; every other
//! member is skipped without being decoded, and a member named twice is
//! refused (two `iss` values would let a token pick its rules). It runs
//! before the signature is checked, because the unverified `iss` picks the
//! issuer (`crate::jwt::issuers`); nothing read here is trusted before the
//! signature verified. [`check_times`] is then the standard claims' check
//! (`exp`, `nbf`, `iat`, with the leeway), the same for every issuer; the
//! issuer's own claims follow (`crate::jwt::cognito`, `crate::jwt::oidc`).
//! Each check insists on the claim's JSON type: a number where a number
//! belongs, a string where a string belongs.

use std::fmt;

use policies::{FIRST_PARTY_SCOPE, Owner, OwnerKind, PermissionSet, TokenUse};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use crate::reject::Rejection;

/// What a verified token says about its bearer.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    /// `user:<sub>` (the pool) or `oidc:<alias>:<sub>` (a trusted issuer).
    pub owner: Owner,
    /// The pool's `token_use`; `None` for a trusted issuer's token.
    pub token_use: Option<TokenUse>,
    /// The client: the pool's `client_id` (access) or matching `aud` (id);
    /// a trusted issuer's `client_id`, or `azp` without one.
    pub client_id: Option<String>,
    /// `username` (access) or `cognito:username` (id): the pool's only.
    pub username: Option<String>,
    /// The scopes: `scope` split on spaces, or a trusted issuer's `scp`.
    pub scopes: Vec<String>,
    /// `cognito:groups`, or a trusted issuer's `groupsClaim`.
    pub groups: Vec<String>,
    /// What the principal may do, by its issuer's grant rules.
    pub permissions: PermissionSet,
    /// `exp`.
    pub expires_at: f64,
}

impl VerifiedToken {
    /// Whether Cognito can say that this token was revoked: a pool access
    /// token of a first-party sign-in. Cognito refuses `GetUser` for tokens
    /// without the admin scope (which would read as "revoked"), and a
    /// trusted issuer's token is never shown to Cognito at all.
    pub fn revocable(&self) -> bool {
        self.owner.kind() == OwnerKind::User
            && self.token_use == Some(TokenUse::Access)
            && self.scopes.iter().any(|s| s == FIRST_PARTY_SCOPE)
    }
}

/// The members read by name, whichever issuer: the standard claims, the
/// OAuth ones and Cognito's.
const KNOWN: [&str; 14] = [
    "exp",
    "nbf",
    "iat",
    "iss",
    "sub",
    "aud",
    "client_id",
    "azp",
    "scope",
    "scp",
    "token_use",
    "username",
    "cognito:username",
    "cognito:groups",
];

/// The claims of one token, as read before anything is trusted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims {
    known: [Option<Value>; KNOWN.len()],
    /// Members named by the trusted issuers' configuration (`groupsClaim`,
    /// `requiredClaims`) that are not among [`KNOWN`].
    extra: Vec<(Box<str>, Value)>,
}

impl Claims {
    /// Reads a decoded payload: a JSON object, no member twice. `extra`
    /// names further members to keep (the configured claim names).
    pub fn parse(payload: &[u8], extra: &[Box<str>]) -> Result<Self, Rejection> {
        if !crate::json::is_object_text(payload) {
            return Err(Rejection::MalformedClaims);
        }
        let mut deserializer = serde_json::Deserializer::from_slice(payload);
        let claims = ClaimsSeed { extra }
            .deserialize(&mut deserializer)
            .map_err(|_| Rejection::MalformedClaims)?;
        deserializer.end().map_err(|_| Rejection::MalformedClaims)?;
        Ok(claims)
    }

    /// The member `name`, if the token has it and it was read.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match KNOWN.iter().position(|k| *k == name) {
            Some(i) => self.known[i].as_ref(),
            None => self
                .extra
                .iter()
                .find(|(n, _)| &**n == name)
                .map(|(_, v)| v),
        }
    }

    /// Moves the member `name` out (for a claim read once, into a value).
    pub fn take(&mut self, name: &str) -> Option<Value> {
        match KNOWN.iter().position(|k| *k == name) {
            Some(i) => self.known[i].take(),
            None => {
                let i = self.extra.iter().position(|(n, _)| &**n == name)?;
                Some(self.extra.swap_remove(i).1)
            }
        }
    }

    /// The `iss` claim, which picks the issuer.
    pub fn issuer(&self) -> Result<&str, Rejection> {
        match self.get("iss") {
            None => Err(Rejection::MissingClaim("iss")),
            Some(Value::String(iss)) => Ok(iss),
            Some(_) => Err(Rejection::ClaimType {
                claim: "iss",
                expected: "a string",
            }),
        }
    }
}

/// Checks `exp` (required), `nbf` and `iat` (when present) at `now` with
/// `leeway` seconds of clock skew; returns `exp`.
pub fn check_times(claims: &Claims, leeway: f64, now: f64) -> Result<f64, Rejection> {
    let exp = number(claims.get("exp"), "exp")?.ok_or(Rejection::MissingClaim("exp"))?;
    if now >= exp + leeway {
        return Err(Rejection::Expired { exp, now });
    }
    if let Some(nbf) = number(claims.get("nbf"), "nbf")?
        && now + leeway < nbf
    {
        return Err(Rejection::NotYetValid { nbf, now });
    }
    if let Some(iat) = number(claims.get("iat"), "iat")?
        && iat > now + leeway
    {
        return Err(Rejection::IssuedInFuture { iat, now });
    }
    Ok(exp)
}

/// The owner of `sub` in the namespace `owner` makes of it, with the
/// refusal a missing, empty or unusable `sub` gets.
pub fn owner_of(
    sub: Option<Value>,
    owner: impl FnOnce(&str) -> Result<Owner, policies::OwnerError>,
) -> Result<Owner, Rejection> {
    match string(sub, "sub")? {
        Some(sub) if !sub.is_empty() => owner(&sub).map_err(|_| Rejection::ClaimType {
            claim: "sub",
            expected: "1-255 bytes without control characters",
        }),
        _ => Err(Rejection::MissingClaim("sub")),
    }
}

/// A number claim, or the refusal of another type.
pub fn number(v: Option<&Value>, claim: &'static str) -> Result<Option<f64>, Rejection> {
    let wrong = Rejection::ClaimType {
        claim,
        expected: "a number",
    };
    match v {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_f64().filter(|f| f.is_finite()).map(Some).ok_or(wrong),
        Some(_) => Err(wrong),
    }
}

/// A string claim, or the refusal of another type.
pub fn string(v: Option<Value>, claim: &'static str) -> Result<Option<String>, Rejection> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Rejection::ClaimType {
            claim,
            expected: "a string",
        }),
    }
}

/// An array of strings, or `None` for anything else.
pub fn strings(v: Value) -> Option<Vec<String>> {
    match v {
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// Reads the claims object, keeping only the members [`KNOWN`] and `extra`
/// name.
struct ClaimsSeed<'a> {
    extra: &'a [Box<str>],
}

/// Where one member goes.
enum Slot {
    Known(usize),
    Extra(usize),
    Skip,
}

struct SlotSeed<'a> {
    extra: &'a [Box<str>],
}

impl<'de> DeserializeSeed<'de> for SlotSeed<'_> {
    type Value = Slot;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Slot, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for SlotSeed<'_> {
    type Value = Slot;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a claim name")
    }

    // The name is compared where it lies: no copy of any member's name.
    fn visit_str<E: de::Error>(self, name: &str) -> Result<Slot, E> {
        if let Some(i) = KNOWN.iter().position(|k| *k == name) {
            return Ok(Slot::Known(i));
        }
        Ok(match self.extra.iter().position(|n| &**n == name) {
            Some(i) => Slot::Extra(i),
            None => Slot::Skip,
        })
    }
}

impl<'de> DeserializeSeed<'de> for ClaimsSeed<'_> {
    type Value = Claims;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Claims, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ClaimsSeed<'_> {
    type Value = Claims;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Claims, A::Error> {
        let mut claims = Claims::default();
        let duplicate = || de::Error::custom("a claim is named twice");
        while let Some(slot) = map.next_key_seed(SlotSeed { extra: self.extra })? {
            match slot {
                Slot::Known(i) => {
                    if claims.known[i].is_some() {
                        return Err(duplicate());
                    }
                    claims.known[i] = Some(map.next_value()?);
                }
                Slot::Extra(i) => {
                    let name = &self.extra[i];
                    if claims.extra.iter().any(|(n, _)| n == name) {
                        return Err(duplicate());
                    }
                    claims.extra.push((name.clone(), map.next_value()?));
                }
                Slot::Skip => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: f64 = 1_800_000_000.0;

    fn parse(v: &Value, extra: &[&str]) -> Result<Claims, Rejection> {
        let extra: Vec<Box<str>> = extra.iter().map(|s| (*s).into()).collect();
        Claims::parse(v.to_string().as_bytes(), &extra)
    }

    #[test]
    fn only_the_members_some_rule_reads_are_kept() {
        let c = parse(
            &json!({"iss": "https://a", "tid": "t1", "other": {"deep": [1, 2]}, "groups": ["g"]}),
            &["tid", "groups"],
        )
        .unwrap();
        assert_eq!(c.issuer(), Ok("https://a"));
        assert_eq!(c.get("tid"), Some(&json!("t1")));
        assert_eq!(c.get("groups"), Some(&json!(["g"])));
        assert_eq!(c.get("other"), None, "not named, not kept");
        let mut c = c;
        assert_eq!(c.take("tid"), Some(json!("t1")));
        assert_eq!(c.get("tid"), None);
    }

    #[test]
    fn a_member_named_twice_is_refused_known_or_configured() {
        for payload in [
            r#"{"iss":"a","iss":"b"}"#,
            r#"{"tid":"a","tid":"b"}"#,
            r#"{"exp":1,"sub":"x","exp":2}"#,
        ] {
            let extra: Vec<Box<str>> = vec!["tid".into()];
            assert_eq!(
                Claims::parse(payload.as_bytes(), &extra),
                Err(Rejection::MalformedClaims),
                "{payload}"
            );
        }
        // Members nobody reads are skipped, twice or not.
        assert!(Claims::parse(br#"{"x":1,"x":2}"#, &[]).is_ok());
    }

    #[test]
    fn payloads_that_are_not_claim_objects_are_refused() {
        for payload in [&b"[]"[..], b"{\"sub\":", b"null", b"", b"{} {}", b"\"iss\""] {
            assert_eq!(
                Claims::parse(payload, &[]),
                Err(Rejection::MalformedClaims),
                "{payload:?}"
            );
        }
        // serde's derive would read a claims set by position (found by the
        // jwt_claims fuzz target); this reader takes objects only.
        assert_eq!(
            parse(&json!([NOW + 60.0, null, null, "https://a"]), &[]),
            Err(Rejection::MalformedClaims)
        );
    }

    #[test]
    fn iss_must_be_a_string() {
        assert_eq!(
            parse(&json!({"sub": "x"}), &[]).unwrap().issuer(),
            Err(Rejection::MissingClaim("iss"))
        );
        assert_eq!(
            parse(&json!({"iss": ["https://a"]}), &[]).unwrap().issuer(),
            Err(Rejection::ClaimType {
                claim: "iss",
                expected: "a string"
            })
        );
    }

    #[test]
    fn times_are_checked_with_the_leeway() {
        let times = |c: Value, leeway: f64| check_times(&parse(&c, &[]).unwrap(), leeway, NOW);
        assert_eq!(times(json!({"exp": NOW + 1.0}), 0.0), Ok(NOW + 1.0));
        assert_eq!(times(json!({}), 0.0), Err(Rejection::MissingClaim("exp")));
        assert_eq!(
            times(json!({"exp": NOW}), 0.0),
            Err(Rejection::Expired { exp: NOW, now: NOW })
        );
        assert!(times(json!({"exp": NOW - 29.0}), 30.0).is_ok());
        assert_eq!(
            times(json!({"exp": NOW + 60.0, "nbf": NOW + 31.0}), 30.0),
            Err(Rejection::NotYetValid {
                nbf: NOW + 31.0,
                now: NOW
            })
        );
        assert!(times(json!({"exp": NOW + 60.0, "nbf": NOW + 30.0}), 30.0).is_ok());
        assert_eq!(
            times(json!({"exp": NOW + 60.0, "iat": NOW + 1.0}), 0.0),
            Err(Rejection::IssuedInFuture {
                iat: NOW + 1.0,
                now: NOW
            })
        );
        assert_eq!(
            times(json!({"exp": "soon"}), 0.0),
            Err(Rejection::ClaimType {
                claim: "exp",
                expected: "a number"
            })
        );
    }
}
