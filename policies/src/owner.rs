//! The data namespace a principal owns, printed and parsed in one place.
//!
//! A JWT principal owns `user:<sub>`, a partner key `partner:<id>`. The two
//! prefixes make the namespaces disjoint by construction: whatever `sub` an
//! issuer mints (`partner:acme` included), it prints as `user:partner:acme`
//! and can never name a partner's data. The authorizer prints the owner into
//! `principalId` and the context; the api parses it back and keys its data
//! by it (`OWNER#user:<sub>`), so both sides share this one definition.
//!
//! ```
//! use policies::Owner;
//!
//! let user = Owner::user("partner:acme")?;
//! assert_eq!(user.to_string(), "user:partner:acme");
//! assert_eq!("user:partner:acme".parse::<Owner>()?, user);
//! assert_ne!(user, Owner::partner("acme")?);
//! # Ok::<(), policies::OwnerError>(())
//! ```

use std::fmt;
use std::str::FromStr;

/// The prefix of a JWT principal's namespace.
pub const USER_PREFIX: &str = "user:";
/// The prefix of a partner's namespace.
pub const PARTNER_PREFIX: &str = "partner:";
/// The longest `sub` accepted (a Cognito `sub` is a 36-character UUID).
pub const MAX_SUB_BYTES: usize = 255;
/// The longest partner id (the registry's rule).
pub const MAX_PARTNER_BYTES: usize = 64;

/// Whose data a request may touch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    /// The printed form, kept so that keys and log lines borrow it.
    text: String,
    kind: OwnerKind,
}

/// The two kinds of principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OwnerKind {
    /// A Cognito (JWT) principal, by `sub`.
    User,
    /// A partner, by partner id.
    Partner,
}

/// Why a string is not an owner, or a name cannot be one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnerError {
    /// Neither `user:` nor `partner:`.
    #[error("owner has neither the user: nor the partner: prefix")]
    UnknownPrefix,
    /// The `sub` is empty, longer than 255 bytes or holds a control character.
    #[error("sub must be 1-{MAX_SUB_BYTES} bytes without control characters")]
    BadSub,
    /// The partner id is not 1-64 of `[a-z0-9-]` starting with a letter or digit.
    #[error(
        "partner id must be 1-{MAX_PARTNER_BYTES} lowercase letters, digits and '-', starting with a letter or digit"
    )]
    BadPartner,
}

impl Owner {
    /// The namespace of the JWT principal `sub`.
    pub fn user(sub: &str) -> Result<Self, OwnerError> {
        if !is_valid_sub(sub) {
            return Err(OwnerError::BadSub);
        }
        Ok(Owner {
            text: format!("{USER_PREFIX}{sub}"),
            kind: OwnerKind::User,
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
        })
    }

    /// Which kind of principal owns it.
    pub fn kind(&self) -> OwnerKind {
        self.kind
    }

    /// The printed form, `user:<sub>` or `partner:<id>`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The `sub` of a user's namespace.
    pub fn sub(&self) -> Option<&str> {
        match self.kind {
            OwnerKind::User => self.text.strip_prefix(USER_PREFIX),
            OwnerKind::Partner => None,
        }
    }

    /// The partner id of a partner's namespace.
    pub fn partner_id(&self) -> Option<&str> {
        match self.kind {
            OwnerKind::Partner => self.text.strip_prefix(PARTNER_PREFIX),
            OwnerKind::User => None,
        }
    }
}

/// Whether `sub` can name a user: 1-255 bytes, no control characters (which
/// would forge log lines and keys).
pub fn is_valid_sub(sub: &str) -> bool {
    !sub.is_empty() && sub.len() <= MAX_SUB_BYTES && !sub.chars().any(char::is_control)
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
    fn owners_parse_back_to_what_printed_them() {
        for text in [
            "user:0b5e8a2c-1111-4e7a-9f00-2a6e1c1d9a10",
            "user:user:x",
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
            ("user:", OwnerError::BadSub),
            ("user:a\nb", OwnerError::BadSub),
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
    }
}
