//! Who is calling, taken only from the authorizer's context.
//!
//! API Gateway puts the context the authorizer returned into the event:
//! for REST APIs (payload 1.0) as the flat map `requestContext.authorizer`,
//! for HTTP APIs (payload 2.0) under `requestContext.authorizer.lambda`. The
//! api trusts nothing else for identity: no header, no claim of its own.
//! Anything missing or malformed is refused (fail closed), never served with a
//! default.

use std::collections::HashMap;

use lambda_http::request::RequestContext;
use policies::{PermissionSet, UnknownPermission};
use serde_json::Value;

/// The longest owner accepted; a Cognito `sub` is 36, `partner:<id>` 20.
pub const OWNER_MAX: usize = 256;

/// The caller: the data namespace it owns and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `owner` from the context: the `sub`, or `partner:<id>`.
    pub owner: String,
    /// `permissions` from the context (space-separated names).
    pub permissions: PermissionSet,
}

/// Why no identity could be taken from a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The event has no authorizer context: the route is not behind the
    /// authorizer, a deployment error.
    #[error("the request carries no authorizer context")]
    NoAuthorizerContext,
    /// The context has no string `owner`.
    #[error("the authorizer context has no owner")]
    MissingOwner,
    /// The owner is empty, too long or holds control characters.
    #[error("the authorizer context's owner is malformed")]
    MalformedOwner,
    /// `permissions` is present but not a string.
    #[error("the authorizer context's permissions are not a string")]
    MalformedPermissions,
    /// `permissions` names a permission this api does not know.
    #[error("the authorizer context's permissions are not understood")]
    UnknownPermission(#[source] UnknownPermission),
}

impl Identity {
    /// The identity of the caller of `request`.
    pub fn from_request_context(ctx: Option<&RequestContext>) -> Result<Self, IdentityError> {
        let fields = match ctx {
            Some(RequestContext::ApiGatewayV1(c)) => Some(&c.authorizer.fields),
            Some(RequestContext::ApiGatewayV2(c)) => c.authorizer.as_ref().map(|a| &a.fields),
            _ => None,
        };
        match fields {
            Some(f) if !f.is_empty() => Self::from_fields(f),
            _ => Err(IdentityError::NoAuthorizerContext),
        }
    }

    /// The identity in an authorizer context map.
    pub fn from_fields(fields: &HashMap<String, Value>) -> Result<Self, IdentityError> {
        let owner = match fields.get("owner") {
            Some(Value::String(s)) => s,
            _ => return Err(IdentityError::MissingOwner),
        };
        if owner.is_empty() || owner.len() > OWNER_MAX || owner.chars().any(char::is_control) {
            return Err(IdentityError::MalformedOwner);
        }
        // Absent permissions mean none: every route then answers 403.
        let permissions = match fields.get("permissions") {
            None | Some(Value::Null) => PermissionSet::EMPTY,
            Some(Value::String(s)) => {
                PermissionSet::parse_list(s).map_err(IdentityError::UnknownPermission)?
            }
            Some(_) => return Err(IdentityError::MalformedPermissions),
        };
        Ok(Identity {
            owner: owner.clone(),
            permissions,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use policies::Permission;
    use serde_json::json;

    fn fields(v: Value) -> HashMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn owner_and_permissions_come_from_the_context() {
        let id = Identity::from_fields(&fields(json!({
            "owner": "partner:abc", "permissions": "items:read items:delete",
            "principalId": "partner:abc", "authType": "apiKey"
        })))
        .unwrap();
        assert_eq!(id.owner, "partner:abc");
        assert!(id.permissions.contains(Permission::ItemsRead));
        assert!(id.permissions.contains(Permission::ItemsDelete));
        assert!(!id.permissions.contains(Permission::ItemsWrite));
    }

    #[test]
    fn a_context_without_owner_is_refused() {
        assert_eq!(
            Identity::from_fields(&fields(
                json!({"principalId": "x", "permissions": "items:read"})
            )),
            Err(IdentityError::MissingOwner)
        );
        assert_eq!(
            Identity::from_fields(&fields(json!({"owner": 5}))),
            Err(IdentityError::MissingOwner)
        );
    }

    #[test]
    fn malformed_owners_are_refused() {
        for owner in [String::new(), "a\nb".into(), "x".repeat(OWNER_MAX + 1)] {
            assert_eq!(
                Identity::from_fields(&fields(json!({ "owner": owner }))),
                Err(IdentityError::MalformedOwner)
            );
        }
    }

    #[test]
    fn missing_permissions_mean_none() {
        let id = Identity::from_fields(&fields(json!({"owner": "o"}))).unwrap();
        assert!(id.permissions.is_empty());
    }

    #[test]
    fn unknown_or_mistyped_permissions_fail_closed() {
        assert!(matches!(
            Identity::from_fields(&fields(
                json!({"owner": "o", "permissions": "items:read items:admin"})
            )),
            Err(IdentityError::UnknownPermission(_))
        ));
        assert_eq!(
            Identity::from_fields(&fields(
                json!({"owner": "o", "permissions": ["items:read"]})
            )),
            Err(IdentityError::MalformedPermissions)
        );
    }

    #[test]
    fn no_context_at_all_is_refused() {
        assert_eq!(
            Identity::from_request_context(None),
            Err(IdentityError::NoAuthorizerContext)
        );
    }
}
