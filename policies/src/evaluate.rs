//! A policy evaluator with API Gateway's semantics for authorizer policies.
//!
//! It lets tests (and the local stack) check what API Gateway would do with a
//! policy the authorizer returned: a statement applies when one of its actions
//! and one of its resources match; an applying `Deny` wins over any `Allow`;
//! no applying statement is an implicit deny.
//!
//! Matching is IAM's glob: `*` is any sequence (including `/` and nothing),
//! `?` exactly one character, everything else literal. Resources compare
//! case-sensitively, actions case-insensitively, as IAM does.

use crate::document::{Effect, PolicyDocument};

/// The outcome of evaluating a policy for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// An `Allow` statement applies and no `Deny` does.
    Allow,
    /// A `Deny` statement applies (it wins over any `Allow`).
    ExplicitDeny,
    /// No statement applies.
    ImplicitDeny,
}

impl Decision {
    /// Whether the request may proceed.
    pub const fn is_allowed(self) -> bool {
        matches!(self, Decision::Allow)
    }
}

/// What `doc` decides for `action` (e.g. `execute-api:Invoke`) on
/// `resource_arn` (a concrete method ARN).
pub fn evaluate(doc: &PolicyDocument, action: &str, resource_arn: &str) -> Decision {
    let mut allowed = false;
    for statement in &doc.statement {
        let applies = statement.action.iter().any(|a| action_matches(a, action))
            && statement
                .resource
                .iter()
                .any(|r| glob_match(r, resource_arn));
        if !applies {
            continue;
        }
        match statement.effect {
            // No need to look further: nothing can override an explicit deny.
            Effect::Deny => return Decision::ExplicitDeny,
            Effect::Allow => allowed = true,
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// Whether `pattern` (with `*` and `?` globs) matches the whole of `text`,
/// case-sensitively.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    glob_match_by(pattern, text, |p, t| p == t)
}

/// Whether an action pattern matches an action, ignoring ASCII case as IAM
/// does for action names (`execute-api:invoke`, `execute-api:*`, `*`).
pub fn action_matches(pattern: &str, action: &str) -> bool {
    glob_match_by(pattern, action, |p, t| p.eq_ignore_ascii_case(&t))
}

/// The classic two-pointer glob match with star backtracking.
///
/// Only the most recent `*` is ever revisited: a later `*` can absorb
/// anything an earlier one could, so retrying earlier stars is never needed.
/// That bounds the work by `pattern.len() * text.len()` steps, where naive
/// recursion is exponential on patterns like `*a*a*a*b`.
fn glob_match_by(pattern: &str, text: &str, eq: impl Fn(char, char) -> bool) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0usize, 0usize);
    // (pattern index just after the last `*`, text index that `*` resumes at)
    let mut backtrack: Option<(usize, usize)> = None;

    while let Some(&tc) = text.get(t) {
        match pattern.get(p) {
            Some('*') => {
                // Let the star match nothing first; widen it on mismatch.
                backtrack = Some((p + 1, t));
                p += 1;
            }
            Some(&pc) if pc == '?' || eq(pc, tc) => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((after_star, resume)) => {
                    // The star swallows one more character and we retry.
                    p = after_star;
                    t = resume + 1;
                    backtrack = Some((after_star, t));
                }
                None => return false,
            },
        }
    }
    // Text exhausted: whatever is left of the pattern must be able to match nothing.
    pattern.iter().skip(p).all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Statement;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/items/42";
    const INVOKE: &str = "execute-api:Invoke";

    #[test]
    fn a_star_matches_any_sequence_including_slashes_and_nothing() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "anything/at/all"));
        assert!(glob_match("a*", "a"));
        assert!(glob_match("a*", "a/b/c"));
        assert!(glob_match("*c", "abc"));
        assert!(glob_match("a**b", "ab"));
        assert!(!glob_match("a*", "ba"));
    }

    #[test]
    fn several_stars_match_in_order() {
        assert!(glob_match("a*b*c", "abc"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(glob_match("a*b*c", "abbbcbc"));
        assert!(!glob_match("a*b*c", "acb"));
        assert!(!glob_match("a*b*c", "abcx"));
        assert!(glob_match("*a*a*b", "aaaaab"));
        assert!(!glob_match("*a*a*b", "aaaaaa"));
    }

    #[test]
    fn a_question_mark_matches_exactly_one_character() {
        assert!(glob_match("?", "x"));
        assert!(glob_match("?", "é"));
        assert!(!glob_match("?", ""));
        assert!(!glob_match("?", "xy"));
        assert!(glob_match("a?c", "a/c"));
        assert!(glob_match("*?", "x"));
        assert!(!glob_match("*?", ""));
    }

    #[test]
    fn empty_patterns_match_only_empty_text() {
        assert!(glob_match("", ""));
        assert!(!glob_match("", "a"));
        assert!(!glob_match("a", ""));
    }

    #[test]
    fn everything_else_is_literal_and_case_sensitive() {
        assert!(glob_match("GET/items", "GET/items"));
        assert!(!glob_match("GET/items", "get/items"));
        assert!(!glob_match("GET/items", "GET/items/"));
        assert!(!glob_match("a.c", "abc"));
        assert!(glob_match("$default", "$default"));
    }

    #[test]
    fn pathological_patterns_finish_quickly() {
        let text = "a".repeat(5_000);
        let pattern = format!("{}b", "*a".repeat(50));
        assert!(!glob_match(&pattern, &text));
    }

    #[test]
    fn actions_match_ignoring_case_and_by_glob() {
        assert!(action_matches("execute-api:Invoke", INVOKE));
        assert!(action_matches("EXECUTE-API:invoke", INVOKE));
        assert!(action_matches("execute-api:*", INVOKE));
        assert!(action_matches("*", INVOKE));
        assert!(!action_matches("execute-api:ManageConnections", INVOKE));
        assert!(!action_matches("s3:*", INVOKE));
    }

    /// Obviously-correct (and exponential) reference for the iterative matcher.
    fn reference(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| reference(rest, &t[i..])),
            Some((&c, rest)) => match t.split_first() {
                Some((&tc, trest)) => (c == '?' || c == tc) && reference(rest, trest),
                None => false,
            },
        }
    }

    proptest::proptest! {
        #[test]
        fn the_iterative_matcher_agrees_with_the_reference(
            pattern in "[ab/*?]{0,8}",
            text in "[ab/]{0,10}",
        ) {
            let p: Vec<char> = pattern.chars().collect();
            let t: Vec<char> = text.chars().collect();
            proptest::prop_assert_eq!(glob_match(&pattern, &text), reference(&p, &t));
        }
    }

    fn doc(statements: Vec<Statement>) -> PolicyDocument {
        PolicyDocument::new(statements)
    }

    #[test]
    fn a_matching_allow_allows() {
        let d = doc(vec![Statement::invoke(
            Effect::Allow,
            vec!["arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/items/*".into()],
        )]);
        assert_eq!(evaluate(&d, INVOKE, ARN), Decision::Allow);
        assert!(evaluate(&d, INVOKE, ARN).is_allowed());
    }

    #[test]
    fn an_explicit_deny_wins_over_an_allow_in_any_order() {
        let allow = Statement::invoke(Effect::Allow, vec!["*".into()]);
        let deny = Statement::invoke(Effect::Deny, vec!["*/GET/items/*".into()]);
        for statements in [
            vec![allow.clone(), deny.clone()],
            vec![deny.clone(), allow.clone()],
        ] {
            assert_eq!(
                evaluate(&doc(statements), INVOKE, ARN),
                Decision::ExplicitDeny
            );
        }
    }

    #[test]
    fn no_applying_statement_is_an_implicit_deny() {
        assert_eq!(evaluate(&doc(vec![]), INVOKE, ARN), Decision::ImplicitDeny);
        let other_route = doc(vec![Statement::invoke(
            Effect::Allow,
            vec!["arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/items".into()],
        )]);
        assert_eq!(evaluate(&other_route, INVOKE, ARN), Decision::ImplicitDeny);
        assert!(!Decision::ImplicitDeny.is_allowed());
        assert!(!Decision::ExplicitDeny.is_allowed());
    }

    #[test]
    fn a_statement_applies_only_when_its_action_matches_too() {
        let mut st = Statement::invoke(Effect::Deny, vec!["*".into()]);
        st.action = vec!["execute-api:ManageConnections".into()];
        let d = doc(vec![st, Statement::invoke(Effect::Allow, vec![ARN.into()])]);
        assert_eq!(evaluate(&d, INVOKE, ARN), Decision::Allow);
    }
}
