//! The user pool's claims, checked after the signature and the standard
//! claims, in a fixed order: `iss` (again: it picked the pool's rules
//! before the signature, and is held to them after) → `token_use` →
//! `client_id` (access) or `aud` (id) → `sub`; then what the context
//! carries (`username`, `scope`, `cognito:groups`) and the permissions of
//! the default grant table.

use policies::{Owner, TokenUse, permissions_for_token};
use serde_json::Value;

use crate::config::{CognitoConfig, TokenUseSetting};
use crate::jwt::claims::{Claims, VerifiedToken, check_times, owner_of, string, strings};
use crate::reject::Rejection;

/// The claim rules of one user pool.
#[derive(Debug, Clone)]
pub struct ClaimRules {
    issuers: [String; 2],
    client_ids: Vec<String>,
    token_use: TokenUseSetting,
    leeway: f64,
}

impl ClaimRules {
    /// The rules for `cognito`, with `leeway_seconds` of clock skew.
    pub fn new(cognito: &CognitoConfig, leeway_seconds: u64) -> Self {
        ClaimRules {
            issuers: cognito.issuers.clone(),
            client_ids: cognito.client_ids.clone(),
            token_use: cognito.token_use,
            // Config caps the leeway at 300, so the conversion is exact.
            leeway: leeway_seconds as f64,
        }
    }

    /// The pool's two `iss` forms (regional and global).
    pub fn issuers(&self) -> &[String; 2] {
        &self.issuers
    }

    /// Checks a decoded payload at time `now` (Unix seconds): the standard
    /// claims, then the pool's.
    pub fn check(&self, payload: &[u8], now: f64) -> Result<VerifiedToken, Rejection> {
        let claims = Claims::parse(payload, &[])?;
        let exp = check_times(&claims, self.leeway, now)?;
        self.check_claims(claims, exp)
    }

    /// The pool's claims of a token whose standard claims passed (`exp`).
    pub fn check_claims(&self, mut claims: Claims, exp: f64) -> Result<VerifiedToken, Rejection> {
        let iss = string(claims.take("iss"), "iss")?.ok_or(Rejection::MissingClaim("iss"))?;
        if !self.issuers.contains(&iss) {
            return Err(Rejection::WrongIssuer { iss });
        }

        let token_use = match string(claims.take("token_use"), "token_use")?.as_deref() {
            None => return Err(Rejection::MissingClaim("token_use")),
            Some("access") if self.token_use != TokenUseSetting::Id => TokenUse::Access,
            Some("id") if self.token_use != TokenUseSetting::Access => TokenUse::Id,
            Some(other) => {
                return Err(Rejection::WrongTokenUse {
                    got: other.to_owned(),
                    expected: match self.token_use {
                        TokenUseSetting::Access => "access",
                        TokenUseSetting::Id => "id",
                        TokenUseSetting::Any => "access or id",
                    },
                });
            }
        };

        let client_id = match token_use {
            TokenUse::Access => {
                let client = string(claims.take("client_id"), "client_id")?
                    .ok_or(Rejection::MissingClaim("client_id"))?;
                if !self.client_ids.contains(&client) {
                    return Err(Rejection::WrongClient { client });
                }
                client
            }
            TokenUse::Id => self.audience(claims.take("aud"))?,
        };

        let owner = owner_of(claims.take("sub"), Owner::user)?;

        let username = match token_use {
            TokenUse::Access => string(claims.take("username"), "username")?,
            TokenUse::Id => string(claims.take("cognito:username"), "cognito:username")?,
        };
        let scopes: Vec<String> = string(claims.take("scope"), "scope")?
            .map(|s| s.split_ascii_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let groups = match claims.take("cognito:groups") {
            None => Vec::new(),
            Some(v) => strings(v).ok_or(Rejection::ClaimType {
                claim: "cognito:groups",
                expected: "an array of strings",
            })?,
        };
        let permissions = permissions_for_token(
            token_use,
            scopes.iter().map(String::as_str),
            groups.iter().map(String::as_str),
        );

        Ok(VerifiedToken {
            owner,
            token_use: Some(token_use),
            client_id: Some(client_id),
            username,
            scopes,
            groups,
            permissions,
            expires_at: exp,
        })
    }

    /// `aud` of an ID token: a string, or an array of strings, naming an
    /// allowed app client.
    fn audience(&self, aud: Option<Value>) -> Result<String, Rejection> {
        let wrong_type = Rejection::ClaimType {
            claim: "aud",
            expected: "a string or an array of strings",
        };
        let audiences = match aud {
            None => return Err(Rejection::MissingClaim("aud")),
            Some(Value::String(s)) => vec![s],
            Some(v) => strings(v).ok_or(wrong_type)?,
        };
        match audiences.iter().find(|a| self.client_ids.contains(a)) {
            Some(client) => Ok(client.clone()),
            None => Err(Rejection::WrongClient {
                client: audiences.join(" "),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const POOL: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1";
    const NOW: f64 = 1_800_000_000.0;

    fn rules(token_use: TokenUseSetting, leeway: f64) -> ClaimRules {
        ClaimRules {
            issuers: [
                POOL.to_owned(),
                "https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1".to_owned(),
            ],
            client_ids: vec!["client1".to_owned()],
            token_use,
            leeway,
        }
    }

    fn access() -> Value {
        json!({
            "sub": "user-1", "iss": POOL, "client_id": "client1", "token_use": "access",
            "scope": "aws.cognito.signin.user.admin items/read", "username": "alice",
            "cognito:groups": ["readonly"], "exp": NOW + 60.0, "iat": NOW - 10.0,
        })
    }

    fn id() -> Value {
        json!({"sub": "user-1", "iss": POOL, "aud": "client1", "token_use": "id",
               "cognito:username": "alice", "exp": NOW + 60.0, "iat": NOW})
    }

    fn with(mut claims: Value, key: &str, value: Value) -> Value {
        claims[key] = value;
        claims
    }

    fn without(mut claims: Value, key: &str) -> Value {
        if let Some(o) = claims.as_object_mut() {
            o.remove(key);
        }
        claims
    }

    fn check(claims: Value) -> Result<VerifiedToken, Rejection> {
        rules(TokenUseSetting::Access, 0.0).check(claims.to_string().as_bytes(), NOW)
    }

    #[test]
    fn a_valid_access_token_yields_its_principal() {
        let t = check(access()).unwrap();
        assert_eq!(t.owner.as_str(), "user:user-1");
        assert_eq!(t.token_use, Some(TokenUse::Access));
        assert_eq!(
            t.permissions,
            policies::PermissionSet::only(policies::Permission::ItemsRead),
            "items/read, capped by readonly"
        );
        assert_eq!(t.client_id.as_deref(), Some("client1"));
        assert_eq!(t.username.as_deref(), Some("alice"));
        assert_eq!(t.scopes, ["aws.cognito.signin.user.admin", "items/read"]);
        assert_eq!(t.groups, ["readonly"]);
    }

    #[test]
    fn the_global_issuer_form_is_accepted() {
        let claims = with(
            access(),
            "iss",
            json!("https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1"),
        );
        assert!(check(claims).is_ok());
    }

    #[test]
    fn expiry_is_required_and_enforced_at_the_second() {
        assert_eq!(
            check(without(access(), "exp")),
            Err(Rejection::MissingClaim("exp"))
        );
        assert_eq!(
            check(with(access(), "exp", json!(NOW))),
            Err(Rejection::Expired { exp: NOW, now: NOW })
        );
        assert!(check(with(access(), "exp", json!(NOW + 1.0))).is_ok());
    }

    #[test]
    fn leeway_applies_to_exp_nbf_and_iat() {
        let lenient = rules(TokenUseSetting::Access, 30.0);
        let ok = |c: Value| lenient.check(c.to_string().as_bytes(), NOW);
        assert!(ok(with(access(), "exp", json!(NOW - 29.0))).is_ok());
        assert_eq!(
            ok(with(access(), "exp", json!(NOW - 30.0))),
            Err(Rejection::Expired {
                exp: NOW - 30.0,
                now: NOW
            })
        );
        assert!(ok(with(access(), "nbf", json!(NOW + 30.0))).is_ok());
        assert_eq!(
            ok(with(access(), "nbf", json!(NOW + 31.0))),
            Err(Rejection::NotYetValid {
                nbf: NOW + 31.0,
                now: NOW
            })
        );
        assert!(ok(with(access(), "iat", json!(NOW + 30.0))).is_ok());
        assert_eq!(
            ok(with(access(), "iat", json!(NOW + 31.0))),
            Err(Rejection::IssuedInFuture {
                iat: NOW + 31.0,
                now: NOW
            })
        );
    }

    #[test]
    fn not_before_and_issued_at_in_the_future_are_refused() {
        assert_eq!(
            check(with(access(), "nbf", json!(NOW + 1.0))),
            Err(Rejection::NotYetValid {
                nbf: NOW + 1.0,
                now: NOW
            })
        );
        assert_eq!(
            check(with(access(), "iat", json!(NOW + 1.0))),
            Err(Rejection::IssuedInFuture {
                iat: NOW + 1.0,
                now: NOW
            })
        );
    }

    #[test]
    fn the_issuer_must_be_exactly_the_pool() {
        for iss in [
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool2",
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1/",
            "http://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1",
            "https://evil.example/us-east-1_Pool1",
        ] {
            assert_eq!(
                check(with(access(), "iss", json!(iss))),
                Err(Rejection::WrongIssuer { iss: iss.into() })
            );
        }
        assert_eq!(
            check(without(access(), "iss")),
            Err(Rejection::MissingClaim("iss"))
        );
    }

    #[test]
    fn token_use_must_be_the_configured_one() {
        assert_eq!(
            check(id()),
            Err(Rejection::WrongTokenUse {
                got: "id".into(),
                expected: "access"
            })
        );
        let id_only = rules(TokenUseSetting::Id, 0.0);
        assert_eq!(
            id_only.check(access().to_string().as_bytes(), NOW),
            Err(Rejection::WrongTokenUse {
                got: "access".into(),
                expected: "id"
            })
        );
        let any = rules(TokenUseSetting::Any, 0.0);
        assert_eq!(
            any.check(id().to_string().as_bytes(), NOW)
                .unwrap()
                .token_use,
            Some(TokenUse::Id)
        );
        assert_eq!(
            any.check(
                with(access(), "token_use", json!("refresh"))
                    .to_string()
                    .as_bytes(),
                NOW
            ),
            Err(Rejection::WrongTokenUse {
                got: "refresh".into(),
                expected: "access or id"
            })
        );
        assert_eq!(
            check(without(access(), "token_use")),
            Err(Rejection::MissingClaim("token_use"))
        );
    }

    #[test]
    fn the_client_must_be_allowed() {
        assert_eq!(
            check(with(access(), "client_id", json!("other"))),
            Err(Rejection::WrongClient {
                client: "other".into()
            })
        );
        assert_eq!(
            check(without(access(), "client_id")),
            Err(Rejection::MissingClaim("client_id"))
        );
        let id_rules = rules(TokenUseSetting::Id, 0.0);
        let run = |c: Value| id_rules.check(c.to_string().as_bytes(), NOW);
        assert_eq!(run(id()).unwrap().client_id.as_deref(), Some("client1"));
        assert_eq!(
            run(with(id(), "aud", json!(["x", "client1"])))
                .unwrap()
                .client_id
                .as_deref(),
            Some("client1")
        );
        assert_eq!(
            run(with(id(), "aud", json!("x"))),
            Err(Rejection::WrongClient { client: "x".into() })
        );
        assert_eq!(
            run(without(id(), "aud")),
            Err(Rejection::MissingClaim("aud"))
        );
        assert_eq!(
            run(with(id(), "aud", json!(["client1", 5]))),
            Err(Rejection::ClaimType {
                claim: "aud",
                expected: "a string or an array of strings"
            })
        );
    }

    #[test]
    fn sub_must_be_present_and_non_empty() {
        assert_eq!(
            check(without(access(), "sub")),
            Err(Rejection::MissingClaim("sub"))
        );
        assert_eq!(
            check(with(access(), "sub", json!(""))),
            Err(Rejection::MissingClaim("sub"))
        );
    }

    #[test]
    fn a_sub_that_names_a_partner_namespace_stays_a_user() {
        let t = check(with(access(), "sub", json!("partner:acme"))).unwrap();
        assert_eq!(t.owner.as_str(), "user:partner:acme");
        assert_eq!(t.owner.partner_id(), None);
    }

    #[test]
    fn a_sub_that_cannot_name_an_owner_is_refused() {
        for sub in [json!("a\u{0}b"), json!("x".repeat(256))] {
            assert_eq!(
                check(with(access(), "sub", sub)),
                Err(Rejection::ClaimType {
                    claim: "sub",
                    expected: "1-255 bytes without control characters",
                })
            );
        }
    }

    #[test]
    fn claims_of_the_wrong_type_are_refused_by_name() {
        let cases = [
            ("exp", json!("1800000060"), "a number"),
            ("nbf", json!(true), "a number"),
            ("iat", json!([1]), "a number"),
            ("iss", json!(1), "a string"),
            ("token_use", json!(["access"]), "a string"),
            ("client_id", json!({"id": "client1"}), "a string"),
            ("sub", json!(42), "a string"),
            ("scope", json!(["items/read"]), "a string"),
            ("username", json!(7), "a string"),
            ("cognito:groups", json!("readonly"), "an array of strings"),
        ];
        for (claim, value, expected) in cases {
            assert_eq!(
                check(with(access(), claim, value)),
                Err(Rejection::ClaimType { claim, expected }),
                "{claim}"
            );
        }
    }

    #[test]
    fn payloads_that_are_not_claim_objects_are_refused() {
        let r = rules(TokenUseSetting::Access, 0.0);
        assert_eq!(r.check(b"[]", NOW), Err(Rejection::MalformedClaims));
        assert_eq!(r.check(b"{\"sub\":", NOW), Err(Rejection::MalformedClaims));
        assert_eq!(
            r.check(br#"{"sub":"a","sub":"b"}"#, NOW),
            Err(Rejection::MalformedClaims)
        );
        // serde's derive would read the claims by position (found by the
        // jwt_claims fuzz target).
        let positional = json!([
            NOW + 60.0,
            null,
            null,
            POOL,
            "access",
            "client1",
            null,
            "user-1",
            null,
            null,
            null,
            null
        ]);
        assert_eq!(
            r.check(positional.to_string().as_bytes(), NOW),
            Err(Rejection::MalformedClaims)
        );
    }
}
