//! The default grant table: which permissions a verified Cognito token earns.
//!
//! Kept in this one place so that the authorizer, the README and the tests
//! cannot disagree. Partner keys do not go through here: their permissions are
//! listed in their registry record.

use std::fmt;
use std::str::FromStr;

use crate::permission::{Permission, PermissionSet};

/// The scope Cognito puts on access tokens from its own sign-in flows
/// (a first-party client), which earns every permission.
pub const FIRST_PARTY_SCOPE: &str = "aws.cognito.signin.user.admin";

/// Members of this Cognito group may only read, whatever else they carry.
pub const READONLY_GROUP: &str = "readonly";

/// OAuth scope granting `items:read`.
pub const SCOPE_ITEMS_READ: &str = "items/read";
/// OAuth scope granting `items:write`.
pub const SCOPE_ITEMS_WRITE: &str = "items/write";
/// OAuth scope granting `items:delete`.
pub const SCOPE_ITEMS_DELETE: &str = "items/delete";

/// Which kind of Cognito token was verified (its `token_use` claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenUse {
    /// `access`
    Access,
    /// `id`
    Id,
}

impl TokenUse {
    /// The value of the `token_use` claim.
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenUse::Access => "access",
            TokenUse::Id => "id",
        }
    }
}

impl fmt::Display for TokenUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `token_use` claim that is neither `access` nor `id`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown token_use {0:?}; expected \"access\" or \"id\"")]
pub struct UnknownTokenUse(pub String);

impl FromStr for TokenUse {
    type Err = UnknownTokenUse;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "access" => Ok(TokenUse::Access),
            "id" => Ok(TokenUse::Id),
            other => Err(UnknownTokenUse(other.to_owned())),
        }
    }
}

/// The permission an OAuth scope grants, if any.
pub fn scope_permission(scope: &str) -> Option<Permission> {
    match scope {
        SCOPE_ITEMS_READ => Some(Permission::ItemsRead),
        SCOPE_ITEMS_WRITE => Some(Permission::ItemsWrite),
        SCOPE_ITEMS_DELETE => Some(Permission::ItemsDelete),
        _ => None,
    }
}

/// The permissions a verified Cognito token earns under the default table.
///
/// - an ID token, or an access token carrying [`FIRST_PARTY_SCOPE`]: all;
/// - each `items/*` scope: its permission; unknown scopes: nothing;
/// - membership of [`READONLY_GROUP`]: at most `items:read`.
pub fn permissions_for_token<'a>(
    token_use: TokenUse,
    scopes: impl IntoIterator<Item = &'a str>,
    groups: impl IntoIterator<Item = &'a str>,
) -> PermissionSet {
    let mut granted = match token_use {
        // An ID token proves a first-party sign-in; it carries no scopes.
        TokenUse::Id => PermissionSet::ALL,
        TokenUse::Access => PermissionSet::EMPTY,
    };
    for scope in scopes {
        if scope == FIRST_PARTY_SCOPE && token_use == TokenUse::Access {
            granted = PermissionSet::ALL;
        } else if let Some(p) = scope_permission(scope) {
            granted.insert(p);
        }
    }
    // Applied last, as a restriction, so no scope or token kind can lift it.
    if groups.into_iter().any(|g| g == READONLY_GROUP) {
        granted = granted.intersection(PermissionSet::only(Permission::ItemsRead));
    }
    granted
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: [&str; 0] = [];

    fn set(ps: &[Permission]) -> PermissionSet {
        ps.iter().copied().collect()
    }

    #[test]
    fn a_first_party_access_token_gets_every_permission() {
        assert_eq!(
            permissions_for_token(TokenUse::Access, [FIRST_PARTY_SCOPE], NONE),
            PermissionSet::ALL
        );
        assert_eq!(
            permissions_for_token(TokenUse::Access, ["openid", FIRST_PARTY_SCOPE], ["admins"]),
            PermissionSet::ALL
        );
    }

    #[test]
    fn an_id_token_gets_every_permission() {
        assert_eq!(
            permissions_for_token(TokenUse::Id, NONE, NONE),
            PermissionSet::ALL
        );
    }

    #[test]
    fn each_items_scope_grants_its_permission() {
        use Permission::*;
        let access = |scopes: &[&'static str]| {
            permissions_for_token(TokenUse::Access, scopes.iter().copied(), NONE)
        };
        assert_eq!(access(&["items/read"]), set(&[ItemsRead]));
        assert_eq!(access(&["items/write"]), set(&[ItemsWrite]));
        assert_eq!(access(&["items/delete"]), set(&[ItemsDelete]));
        assert_eq!(
            access(&["items/delete", "items/read"]),
            set(&[ItemsRead, ItemsDelete])
        );
        assert_eq!(
            access(&["items/read", "items/write", "items/delete"]),
            PermissionSet::ALL
        );
    }

    #[test]
    fn unknown_scopes_and_an_access_token_without_scopes_grant_nothing() {
        let access = |scopes: &[&'static str]| {
            permissions_for_token(TokenUse::Access, scopes.iter().copied(), NONE)
        };
        assert_eq!(access(&[]), PermissionSet::EMPTY);
        assert_eq!(
            access(&["openid", "email", "items/admin", "ITEMS/READ", "items:read"]),
            PermissionSet::EMPTY
        );
        assert_eq!(access(&["aws.cognito.signin.user"]), PermissionSet::EMPTY);
    }

    #[test]
    fn the_readonly_group_leaves_only_read_whatever_the_token_carries() {
        let read = PermissionSet::only(Permission::ItemsRead);
        assert_eq!(
            permissions_for_token(TokenUse::Id, NONE, [READONLY_GROUP]),
            read
        );
        assert_eq!(
            permissions_for_token(TokenUse::Access, [FIRST_PARTY_SCOPE], ["x", READONLY_GROUP]),
            read
        );
        assert_eq!(
            permissions_for_token(
                TokenUse::Access,
                ["items/read", "items/write", "items/delete"],
                [READONLY_GROUP]
            ),
            read
        );
    }

    #[test]
    fn the_readonly_group_restricts_and_never_grants() {
        assert_eq!(
            permissions_for_token(TokenUse::Access, ["items/write"], [READONLY_GROUP]),
            PermissionSet::EMPTY
        );
        assert_eq!(
            permissions_for_token(TokenUse::Access, NONE, [READONLY_GROUP]),
            PermissionSet::EMPTY
        );
    }

    #[test]
    fn group_names_match_exactly() {
        assert_eq!(
            permissions_for_token(TokenUse::Id, NONE, ["ReadOnly", "readonly-x"]),
            PermissionSet::ALL
        );
    }

    #[test]
    fn token_use_parses_from_its_claim_value() {
        assert_eq!("access".parse::<TokenUse>(), Ok(TokenUse::Access));
        assert_eq!("id".parse::<TokenUse>(), Ok(TokenUse::Id));
        assert_eq!(
            "refresh".parse::<TokenUse>(),
            Err(UnknownTokenUse("refresh".into()))
        );
        assert_eq!(TokenUse::Access.to_string(), "access");
    }
}
