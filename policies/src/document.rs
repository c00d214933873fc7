//! IAM policy documents in the exact JSON shape API Gateway reads from a
//! Lambda authorizer's `policyDocument`.
//!
//! Serialization is canonical (PascalCase keys, no `null`, `Action` a string
//! when there is one, `Resource` always an array) so that responses are
//! byte-for-byte predictable. Deserialization is as forgiving as IAM about
//! string-or-array fields, because policies may be written by others, but
//! refuses elements it does not understand (`Condition`, `NotAction`,
//! `NotResource`, `Principal`, …): silently ignoring them would make the
//! evaluator allow more than API Gateway would.

use serde::{Deserialize, Serialize};

/// The only policy language version API Gateway accepts.
pub const POLICY_VERSION: &str = "2012-10-17";

/// The action every statement of an authorizer policy is about.
pub const INVOKE_ACTION: &str = "execute-api:Invoke";

/// A policy document: `{"Version": "2012-10-17", "Statement": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PolicyDocument {
    /// Always [`POLICY_VERSION`] for documents built here.
    pub version: String,
    /// The statements, evaluated together (order does not matter to IAM).
    pub statement: Vec<Statement>,
}

impl PolicyDocument {
    /// A `2012-10-17` document holding `statement`.
    pub fn new(statement: Vec<Statement>) -> Self {
        PolicyDocument {
            version: POLICY_VERSION.to_owned(),
            statement,
        }
    }
}

/// Whether a statement allows or denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Effect {
    /// `"Allow"`
    Allow,
    /// `"Deny"`
    Deny,
}

/// One statement: an effect on some actions over some resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Statement {
    /// Optional statement id; carried through, never used for decisions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Action patterns, e.g. `execute-api:Invoke`.
    #[serde(with = "action_list")]
    pub action: Vec<String>,
    /// Allow or deny.
    pub effect: Effect,
    /// Resource patterns (ARNs with `*`/`?` globs).
    #[serde(with = "resource_list")]
    pub resource: Vec<String>,
}

impl Statement {
    /// `effect` on `execute-api:Invoke` over `resources`.
    pub fn invoke(effect: Effect, resources: Vec<String>) -> Self {
        Statement {
            sid: None,
            action: vec![INVOKE_ACTION.to_owned()],
            effect,
            resource: resources,
        }
    }
}

/// A string or an array of strings, as IAM accepts for `Action` and `Resource`.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl From<OneOrMany> for Vec<String> {
    fn from(v: OneOrMany) -> Self {
        match v {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// `Action`: written as a plain string when there is exactly one, the form
/// API Gateway's own examples use.
mod action_list {
    use super::OneOrMany;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
        match v {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        OneOrMany::deserialize(d).map(Vec::from)
    }
}

/// `Resource`: always written as an array, so the shape does not change with
/// the number of routes granted.
mod resource_list {
    use super::OneOrMany;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        OneOrMany::deserialize(d).map(Vec::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/items";

    #[test]
    fn a_document_serializes_exactly_as_api_gateway_expects() {
        let doc = PolicyDocument::new(vec![Statement::invoke(Effect::Allow, vec![ARN.to_owned()])]);
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            r#"{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":["arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/items"]}]}"#
        );
    }

    #[test]
    fn several_actions_serialize_as_an_array_and_a_sid_is_kept() {
        let st = Statement {
            sid: Some("s1".into()),
            action: vec![
                "execute-api:Invoke".into(),
                "execute-api:ManageConnections".into(),
            ],
            effect: Effect::Deny,
            resource: vec![],
        };
        assert_eq!(
            serde_json::to_string(&st).unwrap(),
            r#"{"Sid":"s1","Action":["execute-api:Invoke","execute-api:ManageConnections"],"Effect":"Deny","Resource":[]}"#
        );
    }

    #[test]
    fn action_and_resource_may_be_a_string_or_an_array() {
        let single: PolicyDocument = serde_json::from_str(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"{ARN}"}}]}}"#
        ))
        .unwrap();
        let arrays: PolicyDocument = serde_json::from_str(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["execute-api:Invoke"],"Resource":["{ARN}"]}}]}}"#
        ))
        .unwrap();
        assert_eq!(single, arrays);
        assert_eq!(
            single,
            PolicyDocument::new(vec![Statement::invoke(Effect::Allow, vec![ARN.into()])])
        );
    }

    #[test]
    fn a_document_round_trips_through_json() {
        let doc = PolicyDocument::new(vec![
            Statement::invoke(Effect::Allow, vec![ARN.into(), format!("{ARN}/*")]),
            Statement::invoke(Effect::Deny, vec!["arn:aws:execute-api:*".into()]),
        ]);
        let json = serde_json::to_string(&doc).unwrap();
        assert_eq!(serde_json::from_str::<PolicyDocument>(&json).unwrap(), doc);
    }

    #[test]
    fn elements_the_evaluator_does_not_understand_are_refused() {
        for extra in [
            r#""Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            r#""NotResource":["x"]"#,
            r#""Principal":"*""#,
        ] {
            let json = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*",{extra}}}]}}"#
            );
            let err = serde_json::from_str::<PolicyDocument>(&json).unwrap_err();
            assert!(err.to_string().contains("unknown field"), "{err}");
        }
    }

    #[test]
    fn an_unknown_effect_is_refused() {
        let json = r#"{"Version":"2012-10-17","Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}"#;
        assert!(serde_json::from_str::<PolicyDocument>(json).is_err());
    }
}
