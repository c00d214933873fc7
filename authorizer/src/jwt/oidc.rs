//! A trusted issuer's claims (`TRUSTED_ISSUERS`), checked after the
//! signature and the standard claims, in a fixed order: `iss` (held to the
//! issuer that it picked) → `aud` among `audiences` → `client_id` (or `azp`)
//! among `clientIds` → `requiredClaims` → `sub` (the owner
//! `oidc:<alias>:<sub>`); then the scopes (`scope`, or `scp`) through
//! `scopeMap` and the groups (`groupsClaim`), which can only narrow
//! (`readonlyGroups`) what the scopes grant.
//!
//! **Decisions** (DESIGN.md is silent on them): `client_id` is checked when
//! the token has one and `azp` only when it has none (RFC 9068 access tokens
//! name their client in `client_id`, OIDC ID tokens in `azp`; a token whose
//! `client_id` is not allowed is not saved by its `azp`). Scopes come from
//! `scope` when the token has it, else from `scp`, never both. A groups
//! claim may be an array of strings or one string (one group).

use std::collections::HashMap;

use policies::{Owner, Permission, PermissionSet};
use serde_json::Value;

use crate::config::{ClaimRequirement, TrustedIssuer};
use crate::jwt::claims::{Claims, VerifiedToken, owner_of, string, strings};
use crate::reject::Rejection;

/// The claim rules of one trusted issuer: its configuration, with the
/// scope map indexed for the per-token lookups.
#[derive(Debug, Clone)]
pub struct TrustedRules {
    config: TrustedIssuer,
    scope_map: HashMap<String, Permission>,
}

impl TrustedRules {
    /// The rules of `issuer`'s configuration.
    pub fn new(issuer: &TrustedIssuer) -> Self {
        TrustedRules {
            config: issuer.clone(),
            scope_map: issuer.scope_map.iter().cloned().collect(),
        }
    }

    /// The exact `iss` of its tokens.
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The claim names these rules read beyond the standard ones.
    pub fn claim_names(&self) -> impl Iterator<Item = &str> {
        self.config
            .required_claims
            .iter()
            .map(|(name, _)| name.as_str())
            .chain(self.config.groups_claim.as_deref())
    }

    /// The issuer's claims of a token whose standard claims passed (`exp`).
    pub fn check_claims(&self, mut claims: Claims, exp: f64) -> Result<VerifiedToken, Rejection> {
        let iss = string(claims.take("iss"), "iss")?.ok_or(Rejection::MissingClaim("iss"))?;
        if iss != self.config.issuer {
            return Err(Rejection::WrongIssuer { iss });
        }
        if !self.config.audiences.is_empty() {
            self.check_audience(claims.get("aud"))?;
        }
        let client_id = string(claims.take("client_id"), "client_id")?;
        let azp = string(claims.take("azp"), "azp")?;
        let client = client_id.or(azp);
        if !self.config.client_ids.is_empty() {
            match &client {
                None => return Err(Rejection::MissingClaim("client_id")),
                Some(c) if !self.config.client_ids.contains(c) => {
                    return Err(Rejection::WrongClient { client: c.clone() });
                }
                Some(_) => {}
            }
        }
        for (name, requirement) in &self.config.required_claims {
            check_requirement(name, requirement, claims.get(name))?;
        }
        let groups = match &self.config.groups_claim {
            None => Vec::new(),
            Some(name) => groups(name, claims.get(name))?,
        };
        let owner = owner_of(claims.take("sub"), |sub| {
            Owner::oidc(&self.config.alias, sub)
        })?;
        let scopes = match claims.take("scope") {
            Some(scope) => words(string(Some(scope), "scope")?),
            None => match claims.take("scp") {
                None => Vec::new(),
                Some(Value::String(s)) => words(Some(s)),
                Some(v) => strings(v).ok_or(Rejection::ClaimType {
                    claim: "scp",
                    expected: "a string or an array of strings",
                })?,
            },
        };

        let mut permissions = PermissionSet::EMPTY;
        for scope in &scopes {
            if let Some(p) = self.scope_map.get(scope) {
                permissions.insert(*p);
            }
        }
        // Applied last, as a restriction, so no scope can lift it.
        if groups
            .iter()
            .any(|g| self.config.readonly_groups.contains(g))
        {
            permissions = permissions.intersection(PermissionSet::only(Permission::ItemsRead));
        }

        Ok(VerifiedToken {
            owner,
            token_use: None,
            client_id: client,
            username: None,
            scopes,
            groups,
            permissions,
            expires_at: exp,
        })
    }

    /// `aud`, a string or an array of strings, must name one of `audiences`.
    fn check_audience(&self, aud: Option<&Value>) -> Result<(), Rejection> {
        let wrong_type = || Rejection::ClaimType {
            claim: "aud",
            expected: "a string or an array of strings",
        };
        let found = match aud {
            None => return Err(Rejection::MissingClaim("aud")),
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().ok_or_else(wrong_type))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(wrong_type()),
        };
        if found
            .iter()
            .any(|a| self.config.audiences.iter().any(|x| x == a))
        {
            Ok(())
        } else {
            Err(Rejection::WrongAudience {
                aud: found.join(" "),
            })
        }
    }
}

fn words(s: Option<String>) -> Vec<String> {
    s.map(|s| s.split_ascii_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// One `requiredClaims` entry against the token's claim.
fn check_requirement(
    name: &str,
    requirement: &ClaimRequirement,
    value: Option<&Value>,
) -> Result<(), Rejection> {
    let missing = || Rejection::MissingRequiredClaim {
        claim: name.to_owned(),
    };
    let value = value.filter(|v| !v.is_null()).ok_or_else(missing)?;
    let ClaimRequirement::OneOf(wanted) = requirement else {
        return Ok(());
    };
    let holds = |s: &str| wanted.iter().any(|w| w == s);
    let ok = match value {
        Value::String(s) => holds(s),
        Value::Array(items) => items.iter().filter_map(Value::as_str).any(holds),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Rejection::WrongClaimValue {
            claim: name.to_owned(),
        })
    }
}

/// The groups claim: an array of strings, or one string.
fn groups(name: &str, value: Option<&Value>) -> Result<Vec<String>, Rejection> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(v) => strings(v.clone()).ok_or_else(|| Rejection::ConfiguredClaimType {
            claim: name.to_owned(),
            expected: "an array of strings or a string",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISS: &str = "https://idp.example.com";
    const EXP: f64 = 1_800_003_600.0;

    fn issuer(extra: Value) -> TrustedIssuer {
        let mut entry = json!({"alias": "okta", "issuer": ISS, "audiences": ["api://items"]});
        for (k, v) in extra.as_object().unwrap() {
            entry[k] = v.clone();
        }
        crate::config::trusted_issuers::parse(&json!([entry]).to_string())
            .unwrap()
            .remove(0)
    }

    fn claims() -> Value {
        json!({"iss": ISS, "sub": "u-1", "aud": "api://items", "client_id": "c1",
               "scope": "openid items/read items/write", "exp": EXP})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut c = claims();
        c[key] = value;
        c
    }

    fn without(key: &str) -> Value {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(key);
        c
    }

    fn check(rules: &TrustedRules, c: &Value) -> Result<VerifiedToken, Rejection> {
        let names: Vec<Box<str>> = rules.claim_names().map(Into::into).collect();
        let parsed = Claims::parse(c.to_string().as_bytes(), &names)?;
        rules.check_claims(parsed, EXP)
    }

    fn rules(extra: Value) -> TrustedRules {
        TrustedRules::new(&issuer(extra))
    }

    #[test]
    fn a_valid_token_yields_its_issuers_principal() {
        let t = check(&rules(json!({})), &claims()).unwrap();
        assert_eq!(t.owner.as_str(), "oidc:okta:u-1");
        assert_eq!(t.owner.issuer(), Some("okta"));
        assert_eq!(t.token_use, None);
        assert_eq!(t.client_id.as_deref(), Some("c1"));
        assert_eq!(t.username, None);
        assert_eq!(t.scopes, ["openid", "items/read", "items/write"]);
        assert_eq!(t.permissions.to_string(), "items:read items:write");
        assert!(!t.revocable());
        assert_eq!(t.expires_at, EXP);
    }

    #[test]
    fn the_audience_must_contain_a_configured_one() {
        let r = rules(json!({}));
        assert!(check(&r, &with("aud", json!(["x", "api://items"]))).is_ok());
        assert_eq!(
            check(&r, &with("aud", json!("api://other"))),
            Err(Rejection::WrongAudience {
                aud: "api://other".into()
            })
        );
        assert_eq!(
            check(&r, &with("aud", json!(["a", "b"]))),
            Err(Rejection::WrongAudience { aud: "a b".into() })
        );
        assert_eq!(
            check(&r, &without("aud")),
            Err(Rejection::MissingClaim("aud"))
        );
        assert_eq!(
            check(&r, &with("aud", json!(["api://items", 5]))),
            Err(Rejection::ClaimType {
                claim: "aud",
                expected: "a string or an array of strings"
            })
        );
        // Without configured audiences, aud is not looked at.
        let clients = rules(json!({"audiences": [], "clientIds": ["c1"]}));
        assert!(check(&clients, &with("aud", json!("anything"))).is_ok());
    }

    #[test]
    fn the_client_is_client_id_or_without_one_azp() {
        let r = rules(json!({"audiences": [], "clientIds": ["c1", "c2"]}));
        assert_eq!(
            check(&r, &claims()).unwrap().client_id.as_deref(),
            Some("c1")
        );
        assert_eq!(
            check(&r, &with("client_id", json!("c9"))),
            Err(Rejection::WrongClient {
                client: "c9".into()
            })
        );
        let mut id_token = without("client_id");
        id_token["azp"] = json!("c2");
        assert_eq!(
            check(&r, &id_token).unwrap().client_id.as_deref(),
            Some("c2")
        );
        // A client_id that is not allowed is not saved by an allowed azp.
        let mut both = with("client_id", json!("c9"));
        both["azp"] = json!("c1");
        assert_eq!(
            check(&r, &both),
            Err(Rejection::WrongClient {
                client: "c9".into()
            })
        );
        assert_eq!(
            check(&r, &without("client_id")),
            Err(Rejection::MissingClaim("client_id"))
        );
        assert_eq!(
            check(&r, &with("client_id", json!(["c1"]))),
            Err(Rejection::ClaimType {
                claim: "client_id",
                expected: "a string"
            })
        );
    }

    #[test]
    fn required_claims_hold_as_configured() {
        let r = rules(
            json!({"requiredClaims": {"tid": "t1", "ver": ["1.0", "2.0"], "oid": true, "roles": "reader"}}),
        );
        let good = {
            let mut c = claims();
            c["tid"] = json!("t1");
            c["ver"] = json!("2.0");
            c["oid"] = json!(42);
            c["roles"] = json!(["writer", "reader"]);
            c
        };
        assert!(check(&r, &good).is_ok());
        let bent = |k: &str, v: Value| {
            let mut c = good.clone();
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v;
            }
            check(&r, &c)
        };
        let missing = |claim: &str| {
            Err(Rejection::MissingRequiredClaim {
                claim: claim.into(),
            })
        };
        let wrong = |claim: &str| {
            Err(Rejection::WrongClaimValue {
                claim: claim.into(),
            })
        };
        assert_eq!(bent("tid", Value::Null), missing("tid"));
        assert_eq!(bent("tid", json!("t2")), wrong("tid"));
        assert_eq!(bent("tid", json!(["t2", "t3"])), wrong("tid"));
        assert_eq!(bent("tid", json!(1)), wrong("tid"));
        assert!(
            bent("tid", json!(["t0", "t1"])).is_ok(),
            "an array containing it"
        );
        assert_eq!(bent("ver", json!("3.0")), wrong("ver"));
        assert!(bent("ver", json!("1.0")).is_ok());
        assert_eq!(bent("oid", Value::Null), missing("oid"));
        assert_eq!(bent("roles", json!(["writer"])), wrong("roles"));
        // A member that is null is not present.
        let mut null_oid = good.clone();
        null_oid["oid"] = Value::Null;
        assert_eq!(check(&r, &null_oid), missing("oid"));
    }

    #[test]
    fn scopes_come_from_scope_or_else_scp_through_the_scope_map() {
        let r = rules(
            json!({"scopeMap": {"Items.Read": "items:read", "Items.Delete": "items:delete"}}),
        );
        let scp_array = with("scp", json!(["Items.Read", "Items.Delete", "x"]));
        let mut c = scp_array.clone();
        c.as_object_mut().unwrap().remove("scope");
        let t = check(&r, &c).unwrap();
        assert_eq!(t.scopes, ["Items.Read", "Items.Delete", "x"]);
        assert_eq!(t.permissions.to_string(), "items:read items:delete");
        c["scp"] = json!("Items.Read");
        assert_eq!(check(&r, &c).unwrap().permissions.to_string(), "items:read");
        // scope wins when both are there; items/read is not in this map.
        let t = check(&r, &scp_array).unwrap();
        assert_eq!(t.scopes, ["openid", "items/read", "items/write"]);
        assert!(t.permissions.is_empty());
        c["scp"] = json!({"a": 1});
        assert_eq!(
            check(&r, &c),
            Err(Rejection::ClaimType {
                claim: "scp",
                expected: "a string or an array of strings"
            })
        );
        // No scope at all: no permission (a Deny-all, not a refusal).
        let t = check(&rules(json!({})), &without("scope")).unwrap();
        assert!(t.permissions.is_empty());
    }

    #[test]
    fn a_readonly_group_narrows_and_never_grants() {
        let r = rules(json!({"groupsClaim": "groups", "readonlyGroups": ["auditors"]}));
        let t = check(&r, &with("groups", json!(["staff", "auditors"]))).unwrap();
        assert_eq!(t.groups, ["staff", "auditors"]);
        assert_eq!(t.permissions.to_string(), "items:read");
        let mut write_only = with("groups", json!("auditors"));
        write_only["scope"] = json!("items/write");
        assert!(check(&r, &write_only).unwrap().permissions.is_empty());
        let t = check(&r, &with("groups", json!(["staff"]))).unwrap();
        assert_eq!(t.permissions.to_string(), "items:read items:write");
        assert!(check(&r, &claims()).unwrap().groups.is_empty());
        assert_eq!(
            check(&r, &with("groups", json!([1]))),
            Err(Rejection::ConfiguredClaimType {
                claim: "groups".into(),
                expected: "an array of strings or a string"
            })
        );
        // The pool's group name means nothing here unless configured.
        let t = check(
            &rules(json!({})),
            &with("cognito:groups", json!(["readonly"])),
        )
        .unwrap();
        assert_eq!(t.permissions.to_string(), "items:read items:write");
    }

    #[test]
    fn sub_becomes_an_owner_of_this_issuer_only() {
        let r = rules(json!({}));
        for (sub, owner) in [
            ("partner:acme", "oidc:okta:partner:acme"),
            ("user:x", "oidc:okta:user:x"),
        ] {
            assert_eq!(
                check(&r, &with("sub", json!(sub))).unwrap().owner.as_str(),
                owner
            );
        }
        assert_eq!(
            check(&r, &without("sub")),
            Err(Rejection::MissingClaim("sub"))
        );
        assert_eq!(
            check(&r, &with("sub", json!(""))),
            Err(Rejection::MissingClaim("sub"))
        );
        assert_eq!(
            check(&r, &with("sub", json!("a\u{7}b"))),
            Err(Rejection::ClaimType {
                claim: "sub",
                expected: "1-255 bytes without control characters"
            })
        );
    }

    #[test]
    fn the_issuer_is_held_to_the_one_that_picked_the_rules() {
        let r = rules(json!({}));
        assert_eq!(
            check(&r, &with("iss", json!("https://idp.example.com/"))),
            Err(Rejection::WrongIssuer {
                iss: "https://idp.example.com/".into()
            })
        );
    }
}
