//! The data namespace a principal owns, printed and parsed in one place.
//!
//! A principal of the Cognito pool owns `user:<sub>`, a principal of a
//! trusted OpenID issuer `oidc:<alias>:<sub>`, a partner key `partner:<id>`.
//! The prefixes make the namespaces disjoint by construction: whatever `sub`
//! an issuer mints (`partner:acme` included), the pool's prints as
//! `user:partner:acme` and a trusted issuer's as `oidc:<alias>:partner:acme`,
//! and neither can name a partner's data. An alias holds no `:`, so the first
//! `:` after `oidc:` ends it: two issuers' owners never meet either. The
//! authorizer prints the owner into `principalId` and the context; the api
//! parses it back and keys its data by it (`OWNER#user:<sub>`), so both sides
//! share this one definition.
//!
//! ```
//! use policies::Owner;
//!
//! let user = Owner::user("partner:acme")?;
//! assert_eq!(user.to_string(), "user:partner:acme");
//! assert_eq!("user:partner:acme".parse::<Owner>()?, user);
//! assert_ne!(user, Owner::partner("acme")?);
//!
//! let staff = Owner::oidc("entra", "9f1c")?;
//! assert_eq!(staff.to_string(), "oidc:entra:9f1c");
//! assert_eq!(staff.issuer(), Some("entra"));
//! assert_eq!(staff.sub(), Some("9f1c"));
//! assert_eq!(user.issuer(), Some("cognito"));
//! # Ok::<(), policies::OwnerError>(())
//! ```

use std::fmt;
use std::str::FromStr;

/// The prefix of a Cognito pool principal's namespace.
pub const USER_PREFIX: &str = "user:";
/// The prefix of a trusted issuer's principal's namespace.
pub const OIDC_PREFIX: &str = "oidc:";
/// The prefix of a partner's namespace.
pub const PARTNER_PREFIX: &str = "partner:";
/// The issuer name of the Cognito pool, in the context, logs and metrics; no
/// trusted issuer may take it as its alias.
pub const COGNITO_ISSUER: &str = "cognito";
/// The longest `sub` accepted (a Cognito `sub` is a 36-character UUID).
pub const MAX_SUB_BYTES: usize = 255;
/// The longest partner id (the registry's rule).
pub const MAX_PARTNER_BYTES: usize = 64;
/// The longest trusted issuer alias.
pub const MAX_ALIAS_BYTES: usize = 32;

/// Whose data a request may touch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    /// The printed form, kept so that keys and log lines borrow it.
    text: String,
    kind: OwnerKind,
    /// Where the `sub` or the partner id starts in `text`; for a trusted
    /// issuer's principal the alias ends one byte before it.
    name_at: usize,
}

/// The three kinds of principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OwnerKind {
    /// A principal of the Cognito pool, by `sub`.
    User,
    /// A principal of a trusted OpenID issuer, by alias and `sub`.
    Oidc,
    /// A partner, by partner id.
    Partner,
}

impl OwnerKind {
    /// The credential that yields this kind: a JWT (pool or trusted issuer)
    /// or a partner API key.
    pub const fn auth_type(self) -> crate::context::AuthType {
        match self {
            OwnerKind::User | OwnerKind::Oidc => crate::context::AuthType::Jwt,
            OwnerKind::Partner => crate::context::AuthType::ApiKey,
        }
    }
}

/// Why a string is not an owner, or a name cannot be one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnerError {
    /// Neither `user:`, `oidc:` nor `partner:`.
    #[error("owner has none of the user:, oidc: and partner: prefixes")]
    UnknownPrefix,
    /// The `sub` is empty, longer than 255 bytes or holds a control character.
    #[error("sub must be 1-{MAX_SUB_BYTES} bytes without control characters")]
    BadSub,
    /// The alias is not 1-32 of `[a-z0-9-]`, or is `cognito`.
    #[error(
        "issuer alias must be 1-{MAX_ALIAS_BYTES} lowercase letters, digits and '-', and not {COGNITO_ISSUER:?}"
    )]
    BadAlias,
    /// The partner id is not 1-64 of `[a-z0-9-]` starting with a letter or digit.
    #[error(
        "partner id must be 1-{MAX_PARTNER_BYTES} lowercase letters, digits and '-', starting with a letter or digit"
    )]
    BadPartner,
}

impl Owner {
    /// The namespace of the Cognito pool's principal `sub`.
    pub fn user(sub: &str) -> Result<Self, OwnerError> {
        if !is_valid_sub(sub) {
            return Err(OwnerError::BadSub);
        }
        Ok(Owner {
            text: format!("{USER_PREFIX}{sub}"),
            kind: OwnerKind::User,
            name_at: USER_PREFIX.len(),
        })
    }

    /// The namespace of the principal `sub` of the trusted issuer `alias`.
    pub fn oidc(alias: &str, sub: &str) -> Result<Self, OwnerError> {
        if !is_valid_alias(alias) {
            return Err(OwnerError::BadAlias);
        }
        if !is_valid_sub(sub) {
            return Err(OwnerError::BadSub);
        }
        Ok(Owner {
            text: format!("{OIDC_PREFIX}{alias}:{sub}"),
            kind: OwnerKind::Oidc,
            name_at: OIDC_PREFIX.len() + alias.len() + 1,
        })
    }

    /// The namespace of the partner `id`.
    pub fn partner(id: &str) -> Result<Self, OwnerError> {
        if !is_valid_partner_id(id) {
            return Err(OwnerError::BadPartner);
        }
        Ok(Owner {
            text: format!("{PARTNER_PREFIX}{id}"),
            kind: OwnerKind::Partner,
            name_at: PARTNER_PREFIX.len(),
        })
    }

    /// Which kind of principal owns it.
    pub fn kind(&self) -> OwnerKind {
        self.kind
    }

    /// The printed form, `user:<sub>`, `oidc:<alias>:<sub>` or `partner:<id>`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The `sub` of a JWT principal's namespace (pool or trusted issuer).
    pub fn sub(&self) -> Option<&str> {
        match self.kind {
            OwnerKind::User | OwnerKind::Oidc => self.text.get(self.name_at..),
            OwnerKind::Partner => None,
        }
    }

    /// Who issued a JWT principal's token: [`COGNITO_ISSUER`] for the pool,
    /// the alias for a trusted issuer; `None` for a partner.
    pub fn issuer(&self) -> Option<&str> {
        match self.kind {
            OwnerKind::User => Some(COGNITO_ISSUER),
            OwnerKind::Oidc => self.text.get(OIDC_PREFIX.len()..self.name_at - 1),
            OwnerKind::Partner => None,
        }
    }

    /// The partner id of a partner's namespace.
    pub fn partner_id(&self) -> Option<&str> {
        match self.kind {
            OwnerKind::Partner => self.text.get(self.name_at..),
            OwnerKind::User | OwnerKind::Oidc => None,
        }
    }
}

/// Whether `sub` can name a user: 1-255 bytes, no control characters (which
/// would forge log lines and keys).
pub fn is_valid_sub(sub: &str) -> bool {
    !sub.is_empty() && sub.len() <= MAX_SUB_BYTES && !sub.chars().any(char::is_control)
}

/// Whether `alias` can name a trusted issuer: 1-32 of `[a-z0-9-]`, and not
/// [`COGNITO_ISSUER`], which names the pool.
pub fn is_valid_alias(alias: &str) -> bool {
    (1..=MAX_ALIAS_BYTES).contains(&alias.len())
        && alias
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && alias != COGNITO_ISSUER
}

/// Whether `id` can name a partner: 1-64 of `[a-z0-9-]`, not starting with `-`.
pub fn is_valid_partner_id(id: &str) -> bool {
    (1..=MAX_PARTNER_BYTES).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Owner {
    type Err = OwnerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(sub) = s.strip_prefix(USER_PREFIX) {
            Owner::user(sub)
        } else if let Some(rest) = s.strip_prefix(OIDC_PREFIX) {
            // The alias holds no `:`, so the first one ends it.
            let (alias, sub) = rest.split_once(':').ok_or(OwnerError::BadAlias)?;
            Owner::oidc(alias, sub)
        } else if let Some(id) = s.strip_prefix(PARTNER_PREFIX) {
            Owner::partner(id)
        } else {
            Err(OwnerError::UnknownPrefix)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_sub_that_looks_like_a_partner_stays_in_the_user_namespace() {
        let owner = Owner::user("partner:acme").unwrap();
        assert_eq!(owner.as_str(), "user:partner:acme");
        assert_eq!(owner.kind(), OwnerKind::User);
        assert_eq!(owner.sub(), Some("partner:acme"));
        assert_eq!(owner.partner_id(), None);
        assert_ne!(owner, Owner::partner("acme").unwrap());
    }

    #[test]
    fn a_trusted_issuers_sub_stays_in_its_issuers_namespace() {
        let owner = Owner::oidc("okta", "partner:acme").unwrap();
        assert_eq!(owner.as_str(), "oidc:okta:partner:acme");
        assert_eq!(owner.kind(), OwnerKind::Oidc);
        assert_eq!(owner.issuer(), Some("okta"));
        assert_eq!(owner.sub(), Some("partner:acme"));
        assert_eq!(owner.partner_id(), None);
        assert_ne!(owner, Owner::partner("acme").unwrap());
        assert_ne!(owner, Owner::user("partner:acme").unwrap());
        // An alias cannot smuggle a `:` to make two issuers' owners meet.
        assert_eq!(Owner::oidc("a:b", "c"), Err(OwnerError::BadAlias));
        assert_ne!(
            Owner::oidc("a", "b:c").unwrap(),
            Owner::oidc("a-b", "c").unwrap()
        );
    }

    #[test]
    fn cognito_is_the_pools_name_and_no_trusted_issuers_alias() {
        assert_eq!(Owner::user("x").unwrap().issuer(), Some(COGNITO_ISSUER));
        assert_eq!(Owner::partner("acme").unwrap().issuer(), None);
        assert_eq!(Owner::oidc("cognito", "x"), Err(OwnerError::BadAlias));
        assert_eq!("oidc:cognito:x".parse::<Owner>(), Err(OwnerError::BadAlias));
        assert!(Owner::oidc("cognito-staff", "x").is_ok());
    }

    #[test]
    fn owners_parse_back_to_what_printed_them() {
        for text in [
            "user:0b5e8a2c-1111-4e7a-9f00-2a6e1c1d9a10",
            "user:user:x",
            "oidc:entra:00000000-0000-0000-0000-000000000000",
            "oidc:a:user:x",
            "oidc:okta-1:oidc:b:c",
            "partner:acme",
            "partner:a-1",
        ] {
            assert_eq!(text.parse::<Owner>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn strings_without_a_known_prefix_or_with_bad_names_are_refused() {
        for (text, err) in [
            ("acme", OwnerError::UnknownPrefix),
            ("0b5e8a2c-1111", OwnerError::UnknownPrefix),
            ("User:x", OwnerError::UnknownPrefix),
            ("Oidc:a:x", OwnerError::UnknownPrefix),
            ("user:", OwnerError::BadSub),
            ("user:a\nb", OwnerError::BadSub),
            ("oidc:", OwnerError::BadAlias),
            ("oidc:okta", OwnerError::BadAlias),
            ("oidc::x", OwnerError::BadAlias),
            ("oidc:Okta:x", OwnerError::BadAlias),
            ("oidc:okta:", OwnerError::BadSub),
            ("oidc:okta:a\tb", OwnerError::BadSub),
            ("partner:", OwnerError::BadPartner),
            ("partner:Acme", OwnerError::BadPartner),
            ("partner:-x", OwnerError::BadPartner),
            ("partner:acme:x", OwnerError::BadPartner),
        ] {
            assert_eq!(text.parse::<Owner>(), Err(err), "{text:?}");
        }
        assert_eq!(
            Owner::user(&"s".repeat(MAX_SUB_BYTES + 1)),
            Err(OwnerError::BadSub)
        );
        assert!(Owner::user(&"s".repeat(MAX_SUB_BYTES)).is_ok());
        assert!(Owner::oidc(&"a".repeat(MAX_ALIAS_BYTES), "s").is_ok());
        assert_eq!(
            Owner::oidc(&"a".repeat(MAX_ALIAS_BYTES + 1), "s"),
            Err(OwnerError::BadAlias)
        );
    }
}
