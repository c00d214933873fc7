//! `ETag` and `If-Match`: the item's version as a strong entity tag.

/// The `ETag` of an item at `version`: `"<version>"`.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// A parsed `If-Match` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current version.
    Any,
    /// A list of entity tags; only strong tags of the form `"<n>"` can ever
    /// match (RFC 9110 uses the strong comparison for `If-Match`). Tags that
    /// are weak or not ours are dropped: they match nothing, so an empty list
    /// fails for every item.
    Versions(Vec<u64>),
}

impl IfMatch {
    /// Parses the header value (`None` when the header is absent).
    pub fn parse(value: &str) -> Self {
        if value.trim() == "*" {
            return IfMatch::Any;
        }
        IfMatch::Versions(
            value
                .split(',')
                .filter_map(|tag| {
                    let opaque = tag.trim().strip_prefix('"')?.strip_suffix('"')?;
                    // Strong comparison is character by character: only the
                    // exact tag this api issued (`"<version>"`, decimal, no
                    // sign or leading zero) names a version; `"+1"` or `"01"`
                    // are other tags and match nothing.
                    let version = opaque.parse::<u64>().ok()?;
                    (etag(version) == format!("\"{opaque}\"")).then_some(version)
                })
                .collect(),
        )
    }

    /// Whether an item at `version` satisfies the precondition.
    pub fn matches(&self, version: u64) -> bool {
        match self {
            IfMatch::Any => true,
            IfMatch::Versions(vs) => vs.contains(&version),
        }
    }

    /// The one version the write must find, when the precondition names exactly
    /// one: then the write can be conditional on it without reading first.
    pub fn single(&self) -> Option<u64> {
        match self {
            IfMatch::Versions(vs) if vs.len() == 1 => Some(vs[0]),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_etag_is_the_quoted_version() {
        assert_eq!(etag(7), "\"7\"");
    }

    #[test]
    fn if_match_takes_a_star_or_a_list_of_strong_tags() {
        assert_eq!(IfMatch::parse("*"), IfMatch::Any);
        assert_eq!(IfMatch::parse("\"3\""), IfMatch::Versions(vec![3]));
        assert_eq!(
            IfMatch::parse(" \"1\" , \"2\",\"x\", W/\"5\", 6"),
            IfMatch::Versions(vec![1, 2])
        );
    }

    #[test]
    fn weak_or_foreign_tags_never_match() {
        let m = IfMatch::parse("W/\"1\"");
        assert!(!m.matches(1));
        assert_eq!(m.single(), None);
        assert!(!IfMatch::parse("1").matches(1));
    }

    #[test]
    fn only_the_exact_tag_matches_not_another_spelling_of_the_number() {
        for other in ["\"+1\"", "\"01\"", "\"1 \"", "\" 1\"", "\"1.0\"", "\"0x1\""] {
            let m = IfMatch::parse(other);
            assert!(!m.matches(1), "{other}");
            assert_eq!(m.single(), None, "{other}");
        }
        assert!(IfMatch::parse("\"0\"").matches(0));
        assert!(IfMatch::parse("\"10\"").matches(10));
    }

    #[test]
    fn a_single_tag_can_drive_a_conditional_write() {
        assert_eq!(IfMatch::parse("\"4\"").single(), Some(4));
        assert_eq!(IfMatch::parse("\"4\", \"5\"").single(), None);
        assert_eq!(IfMatch::Any.single(), None);
        assert!(IfMatch::Any.matches(12));
    }
}
