//! The authorizer context: what the authorizer tells the api about a caller,
//! as one type that the authorizer serializes and the api parses.
//!
//! On the wire it is a flat JSON object (API Gateway refuses nested values)
//! and, by the time the api reads it, every value has been flattened to a
//! string by a REST API (payload 1.0), while an HTTP API (payload 2.0) keeps
//! numbers as numbers; [`flatten`] is that flattening, and
//! [`AuthContext::from_fields`] accepts both forms.
//!
//! | field | value |
//! |---|---|
//! | `owner` | [`Owner`]: `user:<sub>`, `oidc:<alias>:<sub>` or `partner:<id>` (also the `principalId`) |
//! | `authType` | `jwt` or `apiKey` |
//! | `issuer` | JWT principals: `cognito` (the pool) or the trusted issuer's alias |
//! | `permissions` | space-separated, canonical order |
//! | `expiresAt` | Unix seconds at which the credential stops being valid; absent for a key that never expires |
//! | `sub`, `username`, `clientId`, `scopes`, `groups` | JWT principals (`scopes`, `groups` space-separated) |
//! | `partner`, `keyId` | partner keys |
//!
//! The owner is derived from the principal on the way out, so the authorizer
//! cannot print a disagreeing context; on the way in, a context whose owner
//! disagrees with its `authType`, `issuer`, `sub`, `partner` or
//! `principalId` is refused ([`ContextError::OwnerMismatch`]): somebody other than this
//! authorizer wrote it, or a deployment wires the wrong authorizer.

use std::collections::HashMap;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::owner::{Owner, OwnerError, OwnerKind};
use crate::permission::{PermissionSet, UnknownPermission};

/// The context field names, the one list both sides use.
pub mod field {
    /// The data namespace.
    pub const OWNER: &str = "owner";
    /// `jwt` or `apiKey`.
    pub const AUTH_TYPE: &str = "authType";
    /// `cognito` or a trusted issuer's alias (JWT principals).
    pub const ISSUER: &str = "issuer";
    /// Space-separated permissions.
    pub const PERMISSIONS: &str = "permissions";
    /// Unix seconds.
    pub const EXPIRES_AT: &str = "expiresAt";
    /// The JWT `sub`.
    pub const SUB: &str = "sub";
    /// The Cognito user name.
    pub const USERNAME: &str = "username";
    /// The app client.
    pub const CLIENT_ID: &str = "clientId";
    /// Space-separated OAuth scopes.
    pub const SCOPES: &str = "scopes";
    /// Space-separated Cognito groups.
    pub const GROUPS: &str = "groups";
    /// The partner id.
    pub const PARTNER: &str = "partner";
    /// The partner key's id.
    pub const KEY_ID: &str = "keyId";
    /// Added by API Gateway: the authorizer's `principalId`.
    pub const PRINCIPAL_ID: &str = "principalId";
}

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthType {
    /// A JWT of the Cognito pool or of a trusted issuer.
    Jwt,
    /// A partner API key.
    ApiKey,
}

impl AuthType {
    /// The context's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthType::Jwt => "jwt",
            AuthType::ApiKey => "apiKey",
        }
    }
}

/// Who the caller is, in the terms of its credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A verified JWT, of the pool or of a trusted issuer.
    User {
        /// Its namespace, `user:<sub>` (the pool) or `oidc:<alias>:<sub>`;
        /// the issuer is read off it.
        owner: Owner,
        /// The user name (absent for machine clients).
        username: Option<String>,
        /// The client the token was issued to.
        client_id: Option<String>,
        /// OAuth scopes.
        scopes: Vec<String>,
        /// Groups (Cognito's, or the trusted issuer's groups claim).
        groups: Vec<String>,
    },
    /// A verified partner key.
    Partner {
        /// Its namespace, `partner:<id>`.
        owner: Owner,
        /// The key's id.
        key_id: Option<String>,
    },
}

/// The context of one authorized caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthContext {
    /// Who.
    pub principal: Principal,
    /// What it may do.
    pub permissions: PermissionSet,
    /// Unix seconds at which its credential stops being valid.
    pub expires_at: Option<u64>,
}

/// Why a context map cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// The map is empty: no authorizer ran.
    #[error("the request carries no authorizer context")]
    Absent,
    /// A required field is missing.
    #[error("the authorizer context has no {0}")]
    Missing(&'static str),
    /// A field is not a string (or, for `expiresAt`, a number).
    #[error("the authorizer context's {0} has the wrong type")]
    WrongType(&'static str),
    /// `owner` is not an owner.
    #[error("the authorizer context's owner is malformed")]
    MalformedOwner(#[source] OwnerError),
    /// `authType` is neither `jwt` nor `apiKey`.
    #[error("the authorizer context's authType is unknown")]
    UnknownAuthType,
    /// `permissions` names a permission this side does not know.
    #[error("the authorizer context's permissions are not understood")]
    UnknownPermission(#[source] UnknownPermission),
    /// `expiresAt` is not a whole number of seconds.
    #[error("the authorizer context's expiresAt is not Unix seconds")]
    MalformedExpiry,
    /// `owner` disagrees with `authType`, `issuer`, `sub`, `partner` or
    /// `principalId`.
    #[error("the authorizer context's owner disagrees with its {0}")]
    OwnerMismatch(&'static str),
}

impl AuthContext {
    /// The caller's namespace.
    pub fn owner(&self) -> &Owner {
        match &self.principal {
            Principal::User { owner, .. } | Principal::Partner { owner, .. } => owner,
        }
    }

    /// Who issued a JWT principal's token: `cognito` or the trusted
    /// issuer's alias; `None` for a partner.
    pub fn issuer(&self) -> Option<&str> {
        self.owner().issuer()
    }

    /// How the caller authenticated.
    pub fn auth_type(&self) -> AuthType {
        match self.principal {
            Principal::User { .. } => AuthType::Jwt,
            Principal::Partner { .. } => AuthType::ApiKey,
        }
    }

    /// Whether the credential had stopped being valid at `now` (Unix seconds).
    pub fn is_expired_at(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// Parses the context map the api receives (`requestContext.authorizer`,
    /// or its `lambda` member for HTTP APIs). Fails closed: anything missing,
    /// mistyped or inconsistent is an error, never a default.
    pub fn from_fields(fields: &HashMap<String, Value>) -> Result<Self, ContextError> {
        if fields.is_empty() {
            return Err(ContextError::Absent);
        }
        let text = |name: &'static str| -> Result<Option<&str>, ContextError> {
            match fields.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(ContextError::WrongType(name)),
            }
        };
        let owner: Owner = text(field::OWNER)?
            .ok_or(ContextError::Missing(field::OWNER))?
            .parse()
            .map_err(ContextError::MalformedOwner)?;
        let auth_type =
            match text(field::AUTH_TYPE)?.ok_or(ContextError::Missing(field::AUTH_TYPE))? {
                "jwt" => AuthType::Jwt,
                "apiKey" => AuthType::ApiKey,
                _ => return Err(ContextError::UnknownAuthType),
            };
        // Absent permissions mean none: every route then answers 403.
        let permissions = match text(field::PERMISSIONS)? {
            None => PermissionSet::EMPTY,
            Some(s) => PermissionSet::parse_list(s).map_err(ContextError::UnknownPermission)?,
        };
        let expires_at = match fields.get(field::EXPIRES_AT) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(parse_seconds(s)?),
            Some(Value::Number(n)) => Some(n.as_u64().ok_or(ContextError::MalformedExpiry)?),
            Some(_) => return Err(ContextError::WrongType(field::EXPIRES_AT)),
        };

        if owner.kind().auth_type() != auth_type {
            return Err(ContextError::OwnerMismatch(field::AUTH_TYPE));
        }
        if let Some(principal_id) = text(field::PRINCIPAL_ID)?
            && principal_id != owner.as_str()
        {
            return Err(ContextError::OwnerMismatch(field::PRINCIPAL_ID));
        }
        let words = |name| -> Result<Vec<String>, ContextError> {
            Ok(text(name)?
                .map(|s| {
                    s.split(' ')
                        .filter(|w| !w.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default())
        };
        let principal = match auth_type {
            AuthType::Jwt => {
                // A context cached by an authorizer older than trusted
                // issuers has no `issuer`; only the pool's `user:` owners
                // existed then, so absence can only mean `cognito`.
                match text(field::ISSUER)? {
                    Some(issuer) if Some(issuer) == owner.issuer() => {}
                    None if owner.kind() == OwnerKind::User => {}
                    _ => return Err(ContextError::OwnerMismatch(field::ISSUER)),
                }
                if text(field::SUB)? != owner.sub() {
                    return Err(ContextError::OwnerMismatch(field::SUB));
                }
                if text(field::PARTNER)?.is_some() || text(field::KEY_ID)?.is_some() {
                    return Err(ContextError::OwnerMismatch(field::PARTNER));
                }
                Principal::User {
                    username: text(field::USERNAME)?.map(str::to_owned),
                    client_id: text(field::CLIENT_ID)?.map(str::to_owned),
                    scopes: words(field::SCOPES)?,
                    groups: words(field::GROUPS)?,
                    owner,
                }
            }
            AuthType::ApiKey => {
                if text(field::PARTNER)? != owner.partner_id() {
                    return Err(ContextError::OwnerMismatch(field::PARTNER));
                }
                if text(field::SUB)?.is_some() {
                    return Err(ContextError::OwnerMismatch(field::SUB));
                }
                if text(field::ISSUER)?.is_some() {
                    return Err(ContextError::OwnerMismatch(field::ISSUER));
                }
                Principal::Partner {
                    key_id: text(field::KEY_ID)?.map(str::to_owned),
                    owner,
                }
            }
        };
        Ok(AuthContext {
            principal,
            permissions,
            expires_at,
        })
    }

    /// The map API Gateway hands a REST API backend: every value flattened
    /// to a string, plus `principalId` (= the owner). The local stack builds
    /// its proxy events with it.
    pub fn to_gateway_fields(&self) -> HashMap<String, Value> {
        let mut out = HashMap::new();
        if let Ok(Value::Object(map)) = serde_json::to_value(self) {
            for (k, v) in map {
                if let Some(s) = flatten(&v) {
                    out.insert(k, Value::String(s));
                }
            }
        }
        out.insert(
            field::PRINCIPAL_ID.to_owned(),
            Value::String(self.owner().to_string()),
        );
        out
    }
}

/// A context value as a REST API passes it to its backend: strings as they
/// are, numbers and booleans printed; `None` for what API Gateway does not
/// accept in a context (null, arrays, objects).
pub fn flatten(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

fn parse_seconds(s: &str) -> Result<u64, ContextError> {
    // Digits only: `+5`, ` 5` or `5.0` are not what the authorizer prints.
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ContextError::MalformedExpiry);
    }
    s.parse().map_err(|_| ContextError::MalformedExpiry)
}

/// The authorizer's side: a flat object, absent fields left out (never
/// `null`), `expiresAt` as a number.
impl Serialize for AuthContext {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(field::OWNER, self.owner().as_str())?;
        map.serialize_entry(field::AUTH_TYPE, self.auth_type().as_str())?;
        map.serialize_entry(field::PERMISSIONS, &self.permissions.to_string())?;
        if let Some(at) = self.expires_at {
            map.serialize_entry(field::EXPIRES_AT, &at)?;
        }
        match &self.principal {
            Principal::User {
                owner,
                username,
                client_id,
                scopes,
                groups,
            } => {
                if let Some(issuer) = owner.issuer() {
                    map.serialize_entry(field::ISSUER, issuer)?;
                }
                if let Some(sub) = owner.sub() {
                    map.serialize_entry(field::SUB, sub)?;
                }
                if let Some(u) = username {
                    map.serialize_entry(field::USERNAME, u)?;
                }
                if let Some(c) = client_id {
                    map.serialize_entry(field::CLIENT_ID, c)?;
                }
                if !scopes.is_empty() {
                    map.serialize_entry(field::SCOPES, &scopes.join(" "))?;
                }
                if !groups.is_empty() {
                    map.serialize_entry(field::GROUPS, &groups.join(" "))?;
                }
            }
            Principal::Partner { owner, key_id } => {
                if let Some(p) = owner.partner_id() {
                    map.serialize_entry(field::PARTNER, p)?;
                }
                if let Some(k) = key_id {
                    map.serialize_entry(field::KEY_ID, k)?;
                }
            }
        }
        map.end()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::permission::Permission;
    use serde_json::json;

    fn fields(v: Value) -> HashMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    fn user() -> AuthContext {
        AuthContext {
            principal: Principal::User {
                owner: Owner::user("0b5e8a2c").unwrap(),
                username: Some("alice".into()),
                client_id: Some("client1".into()),
                scopes: vec!["items/read".into()],
                groups: vec!["readonly".into(), "staff".into()],
            },
            permissions: PermissionSet::only(Permission::ItemsRead),
            expires_at: Some(1_800_000_000),
        }
    }

    fn staff() -> AuthContext {
        AuthContext {
            principal: Principal::User {
                owner: Owner::oidc("entra", "9f1c").unwrap(),
                username: None,
                client_id: Some("api://items".into()),
                scopes: vec!["Items.Read".into()],
                groups: vec![],
            },
            permissions: PermissionSet::only(Permission::ItemsRead),
            expires_at: Some(1_800_000_000),
        }
    }

    fn partner() -> AuthContext {
        AuthContext {
            principal: Principal::Partner {
                owner: Owner::partner("acme").unwrap(),
                key_id: Some("k1".into()),
            },
            permissions: PermissionSet::ALL,
            expires_at: None,
        }
    }

    #[test]
    fn the_authorizer_side_is_flat_has_no_nulls_and_derives_the_owner() {
        assert_eq!(
            serde_json::to_value(user()).unwrap(),
            json!({
                "owner": "user:0b5e8a2c", "authType": "jwt", "permissions": "items:read",
                "expiresAt": 1_800_000_000u64, "issuer": "cognito", "sub": "0b5e8a2c", "username": "alice",
                "clientId": "client1", "scopes": "items/read", "groups": "readonly staff"
            })
        );
        assert_eq!(
            serde_json::to_value(staff()).unwrap(),
            json!({
                "owner": "oidc:entra:9f1c", "authType": "jwt", "permissions": "items:read",
                "expiresAt": 1_800_000_000u64, "issuer": "entra", "sub": "9f1c",
                "clientId": "api://items", "scopes": "Items.Read"
            })
        );
        assert_eq!(
            serde_json::to_value(partner()).unwrap(),
            json!({
                "owner": "partner:acme", "authType": "apiKey",
                "permissions": "items:read items:write items:delete",
                "partner": "acme", "keyId": "k1"
            })
        );
    }

    #[test]
    fn what_the_gateway_passes_on_parses_back_to_the_same_context() {
        for ctx in [user(), staff(), partner()] {
            let passed = ctx.to_gateway_fields();
            assert!(passed.values().all(Value::is_string));
            assert_eq!(passed["principalId"], ctx.owner().as_str());
            assert_eq!(AuthContext::from_fields(&passed).unwrap(), ctx);
        }
        // An HTTP API keeps the number.
        let unflattened = fields(serde_json::to_value(user()).unwrap());
        assert_eq!(AuthContext::from_fields(&unflattened).unwrap(), user());
    }

    #[test]
    fn an_owner_that_disagrees_with_the_rest_of_the_context_is_refused() {
        let cases = [
            (
                json!({"owner": "partner:acme", "authType": "jwt", "sub": "x"}),
                "authType",
            ),
            (
                json!({"owner": "user:x", "authType": "apiKey", "partner": "x"}),
                "authType",
            ),
            (
                json!({"owner": "user:x", "authType": "jwt", "sub": "y"}),
                "sub",
            ),
            (json!({"owner": "user:x", "authType": "jwt"}), "sub"),
            (
                json!({"owner": "user:x", "authType": "jwt", "sub": "x", "partner": "acme"}),
                "partner",
            ),
            (
                json!({"owner": "partner:acme", "authType": "apiKey", "partner": "evil"}),
                "partner",
            ),
            (
                json!({"owner": "partner:acme", "authType": "apiKey"}),
                "partner",
            ),
            (
                json!({"owner": "partner:acme", "authType": "apiKey", "partner": "acme", "sub": "s"}),
                "sub",
            ),
            (
                json!({"owner": "user:x", "authType": "jwt", "sub": "x", "principalId": "partner:acme"}),
                "principalId",
            ),
            (
                json!({"owner": "user:x", "authType": "jwt", "issuer": "okta", "sub": "x"}),
                "issuer",
            ),
            (
                json!({"owner": "oidc:okta:x", "authType": "jwt", "issuer": "cognito", "sub": "x"}),
                "issuer",
            ),
            (
                json!({"owner": "oidc:okta:x", "authType": "jwt", "issuer": "entra", "sub": "x"}),
                "issuer",
            ),
            (
                json!({"owner": "oidc:okta:x", "authType": "jwt", "sub": "x"}),
                "issuer",
            ),
            (
                json!({"owner": "oidc:okta:x", "authType": "jwt", "issuer": "okta", "sub": "y"}),
                "sub",
            ),
            (
                json!({"owner": "oidc:okta:x", "authType": "apiKey", "partner": "x"}),
                "authType",
            ),
            (
                json!({"owner": "partner:acme", "authType": "apiKey", "partner": "acme", "issuer": "cognito"}),
                "issuer",
            ),
        ];
        for (ctx, culprit) in cases {
            assert_eq!(
                AuthContext::from_fields(&fields(ctx.clone())),
                Err(ContextError::OwnerMismatch(culprit)),
                "{ctx}"
            );
        }
    }

    #[test]
    fn a_pool_context_cached_before_trusted_issuers_still_reads_as_cognito() {
        let ctx = AuthContext::from_fields(&fields(
            json!({"owner": "user:x", "authType": "jwt", "sub": "x", "permissions": "items:read"}),
        ))
        .unwrap();
        assert_eq!(ctx.issuer(), Some("cognito"));
    }

    #[test]
    fn a_bare_sub_as_owner_is_refused_so_old_contexts_cannot_name_partner_data() {
        assert!(matches!(
            AuthContext::from_fields(&fields(
                json!({"owner": "partner:acme", "authType": "jwt", "sub": "partner:acme"})
            )),
            Err(ContextError::OwnerMismatch("authType"))
        ));
        assert!(matches!(
            AuthContext::from_fields(&fields(json!({"owner": "0b5e8a2c", "authType": "jwt"}))),
            Err(ContextError::MalformedOwner(OwnerError::UnknownPrefix))
        ));
    }

    #[test]
    fn missing_mistyped_or_unknown_fields_fail_closed() {
        let cases = [
            (json!({}), ContextError::Absent),
            (json!({"principalId": "x"}), ContextError::Missing("owner")),
            (json!({"owner": 5}), ContextError::WrongType("owner")),
            (
                json!({"owner": "user:x"}),
                ContextError::Missing("authType"),
            ),
            (
                json!({"owner": "user:x", "authType": "basic"}),
                ContextError::UnknownAuthType,
            ),
            (
                json!({"owner": "user:x", "authType": "jwt", "sub": "x", "permissions": ["items:read"]}),
                ContextError::WrongType("permissions"),
            ),
            (
                json!({"owner": "user:x", "authType": "jwt", "sub": "x", "expiresAt": "+5"}),
                ContextError::MalformedExpiry,
            ),
            (
                json!({"owner": "user:x", "authType": "jwt", "sub": "x", "expiresAt": -5}),
                ContextError::MalformedExpiry,
            ),
            (
                json!({"owner": "user:x", "authType": "jwt", "sub": "x", "expiresAt": true}),
                ContextError::WrongType("expiresAt"),
            ),
        ];
        for (ctx, err) in cases {
            assert_eq!(
                AuthContext::from_fields(&fields(ctx.clone())),
                Err(err),
                "{ctx}"
            );
        }
        assert!(matches!(
            AuthContext::from_fields(&fields(
                json!({"owner": "user:x", "authType": "jwt", "sub": "x", "permissions": "items:admin"})
            )),
            Err(ContextError::UnknownPermission(_))
        ));
    }

    #[test]
    fn absent_permissions_mean_none_and_absent_expiry_never_expires() {
        let ctx = AuthContext::from_fields(&fields(
            json!({"owner": "partner:acme", "authType": "apiKey", "partner": "acme"}),
        ))
        .unwrap();
        assert!(ctx.permissions.is_empty());
        assert!(!ctx.is_expired_at(u64::MAX));
    }

    #[test]
    fn a_credential_is_expired_from_its_expiry_on() {
        let ctx = user();
        assert!(!ctx.is_expired_at(1_799_999_999));
        assert!(ctx.is_expired_at(1_800_000_000));
    }

    #[test]
    fn flattening_prints_scalars_and_drops_what_the_gateway_refuses() {
        assert_eq!(flatten(&json!("a")), Some("a".into()));
        assert_eq!(flatten(&json!(17)), Some("17".into()));
        assert_eq!(flatten(&json!(true)), Some("true".into()));
        assert_eq!(flatten(&json!(null)), None);
        assert_eq!(flatten(&json!([1])), None);
        assert_eq!(flatten(&json!({"a": 1})), None);
    }
}
