//! Permissions: the unit the authorizer grants and the api re-checks.
//!
//! A [`PermissionSet`] is a small bit set so that it is `Copy`, compares in one
//! instruction and iterates in a fixed order (the order of [`Permission::ALL`]),
//! which keeps policies and context strings deterministic.

use std::fmt;
use std::str::FromStr;

/// One permission of the contract's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// `items:read`
    ItemsRead,
    /// `items:write`
    ItemsWrite,
    /// `items:delete`
    ItemsDelete,
}

impl Permission {
    /// Every permission, in the canonical order.
    pub const ALL: [Permission; 3] = [
        Permission::ItemsRead,
        Permission::ItemsWrite,
        Permission::ItemsDelete,
    ];

    /// The permission's name as it appears in contexts and the key registry.
    pub const fn as_str(self) -> &'static str {
        match self {
            Permission::ItemsRead => "items:read",
            Permission::ItemsWrite => "items:write",
            Permission::ItemsDelete => "items:delete",
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Permission::ItemsRead => 1,
            Permission::ItemsWrite => 2,
            Permission::ItemsDelete => 4,
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the contract's permissions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown permission {0:?}; expected one of items:read, items:write, items:delete")]
pub struct UnknownPermission(pub String);

impl FromStr for Permission {
    type Err = UnknownPermission;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPermission(s.to_owned()))
    }
}

/// A set of permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PermissionSet(u8);

impl PermissionSet {
    /// No permission at all.
    pub const EMPTY: PermissionSet = PermissionSet(0);
    /// Every permission.
    pub const ALL: PermissionSet = PermissionSet(7);

    /// The set holding exactly `p`.
    pub const fn only(p: Permission) -> Self {
        PermissionSet(p.bit())
    }

    /// This set with `p` added.
    #[must_use]
    pub const fn with(self, p: Permission) -> Self {
        PermissionSet(self.0 | p.bit())
    }

    /// Adds `p`.
    pub fn insert(&mut self, p: Permission) {
        self.0 |= p.bit();
    }

    /// The permissions in both sets.
    #[must_use]
    pub const fn intersection(self, other: PermissionSet) -> Self {
        PermissionSet(self.0 & other.0)
    }

    /// The permissions in either set.
    #[must_use]
    pub const fn union(self, other: PermissionSet) -> Self {
        PermissionSet(self.0 | other.0)
    }

    /// Whether `p` is in the set.
    pub const fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The permissions in canonical order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }

    /// Every one of the 8 possible sets (for exhaustive tests).
    pub fn every() -> impl Iterator<Item = PermissionSet> {
        (0..=7u8).map(PermissionSet)
    }

    /// Parses a space-separated list, as written in the authorizer context.
    pub fn parse_list(s: &str) -> Result<Self, UnknownPermission> {
        s.split_ascii_whitespace()
            .map(Permission::from_str)
            .collect()
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        let mut set = PermissionSet::EMPTY;
        for p in iter {
            set.insert(p);
        }
        set
    }
}

/// Space-separated, canonical order: the form of the context's `permissions`.
impl fmt::Display for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(p.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_to_the_same_permission() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(p));
        }
    }

    #[test]
    fn unknown_names_are_refused_with_the_name() {
        assert_eq!(
            "items:admin".parse::<Permission>(),
            Err(UnknownPermission("items:admin".into()))
        );
        assert!("ITEMS:READ".parse::<Permission>().is_err());
    }

    #[test]
    fn sets_print_in_canonical_order_and_parse_back() {
        let set = PermissionSet::only(Permission::ItemsDelete).with(Permission::ItemsRead);
        assert_eq!(set.to_string(), "items:read items:delete");
        for s in PermissionSet::every() {
            assert_eq!(PermissionSet::parse_list(&s.to_string()), Ok(s));
        }
        assert_eq!(PermissionSet::EMPTY.to_string(), "");
    }

    #[test]
    fn intersection_and_union_work_bit_by_bit() {
        let rw = PermissionSet::only(Permission::ItemsRead).with(Permission::ItemsWrite);
        let wd = PermissionSet::only(Permission::ItemsWrite).with(Permission::ItemsDelete);
        assert_eq!(
            rw.intersection(wd),
            PermissionSet::only(Permission::ItemsWrite)
        );
        assert_eq!(rw.union(wd), PermissionSet::ALL);
        assert_eq!(rw.intersection(PermissionSet::EMPTY), PermissionSet::EMPTY);
    }
}
