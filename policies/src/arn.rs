//! API Gateway method ARNs: parsing, printing, and the `<api id>/<stage>/`
//! prefix every policy resource must stay under.
//!
//! The form is
//! `arn:<partition>:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<resource path>`.
//! Parsing is strict about the parts that scope a policy (partition, region,
//! account, api id, stage) because the authorizer copies them into every
//! resource it allows; it is lenient about the resource path, which is the
//! caller's request path and only has to survive a round trip.
//!
//! Printing a parsed ARN gives back the exact input string, and parsing a
//! printed ARN gives back the same value.

use std::fmt;
use std::str::FromStr;

/// The service segment of every API Gateway invoke ARN.
pub const EXECUTE_API_SERVICE: &str = "execute-api";

/// The HTTP methods API Gateway puts into method ARNs, plus `*` for any.
pub const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*",
];

/// A parsed API Gateway method ARN, as found in an authorizer event's `methodArn`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MethodArn {
    /// `aws`, `aws-cn`, `aws-us-gov`, …
    pub partition: String,
    /// e.g. `us-east-1`.
    pub region: String,
    /// The 12-digit AWS account id.
    pub account_id: String,
    /// The REST API id (alphanumeric).
    pub api_id: String,
    /// The stage name, e.g. `prod` or `$default`.
    pub stage: String,
    /// The HTTP method, upper case, or `*`.
    pub method: String,
    /// The resource path without its leading `/`; empty for the root resource.
    pub resource: String,
}

/// Why a string is not an API Gateway method ARN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    /// The string does not start with `arn:`.
    #[error("method ARN does not start with \"arn:\"")]
    NotAnArn,
    /// Fewer than the six `:`-separated fields of an ARN.
    #[error(
        "method ARN has {found} ':'-separated fields; expected 6 (arn:partition:service:region:account:resource)"
    )]
    MissingFields {
        /// How many fields were found.
        found: usize,
    },
    /// The partition is empty or not lower-case letters, digits and `-`.
    #[error("invalid partition {0:?}; expected e.g. aws, aws-cn, aws-us-gov")]
    InvalidPartition(String),
    /// The service is not `execute-api`.
    #[error("service is {0:?}; expected \"execute-api\"")]
    WrongService(String),
    /// The region is empty or not lower-case letters, digits and `-`.
    #[error("invalid region {0:?}; expected e.g. us-east-1")]
    InvalidRegion(String),
    /// The account id is not exactly 12 digits.
    #[error("invalid account id {0:?}; expected 12 digits")]
    InvalidAccountId(String),
    /// Nothing before the first `/` of the resource part.
    #[error("method ARN has an empty api id")]
    EmptyApiId,
    /// The api id holds a wildcard; a policy built from it would escape its API.
    #[error("api id {0:?} holds a wildcard; a method ARN names one concrete API")]
    WildcardInApiId(String),
    /// The api id is not alphanumeric.
    #[error("invalid api id {0:?}; expected letters and digits only")]
    InvalidApiId(String),
    /// No `/<stage>` after the api id, or an empty one.
    #[error("method ARN has no stage after the api id")]
    MissingStage,
    /// The stage holds a wildcard; a policy built from it would escape its stage.
    #[error("stage {0:?} holds a wildcard; a method ARN names one concrete stage")]
    WildcardInStage(String),
    /// The stage holds characters other than letters, digits, `$`, `-`, `_`.
    #[error("invalid stage {0:?}; expected letters, digits, '$', '-' or '_'")]
    InvalidStage(String),
    /// No `/<METHOD>` after the stage, or an empty one.
    #[error("method ARN has no HTTP method after the stage")]
    MissingMethod,
    /// The method is not an HTTP verb API Gateway knows, nor `*`.
    #[error(
        "invalid HTTP method {0:?}; expected one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or *"
    )]
    InvalidMethod(String),
    /// No `/` after the method (the root resource is written `<METHOD>/`).
    #[error("method ARN has no resource path after the method (the root is \"<METHOD>/\")")]
    MissingResource,
    /// The resource path holds a control character.
    #[error("resource path {0:?} holds a control character")]
    InvalidResource(String),
}

/// `arn:<partition>:execute-api:<region>:<account>:<api id>/<stage>/`: the part
/// of a method ARN that every resource of the policy for it must start with.
///
/// Only built from a valid [`MethodArn`], so it never holds a wildcard and
/// always ends with `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiPrefix(String);

impl ApiPrefix {
    /// The prefix as a string, ending with `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApiPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ApiPrefix {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl MethodArn {
    /// The `arn:…:<api id>/<stage>/` prefix of this ARN.
    pub fn prefix(&self) -> ApiPrefix {
        ApiPrefix(format!(
            "arn:{}:{EXECUTE_API_SERVICE}:{}:{}:{}/{}/",
            self.partition, self.region, self.account_id, self.api_id, self.stage
        ))
    }

    /// The route of the table this ARN's method and resource name, if any
    /// (no allocation: logs and metrics name it per decision).
    pub fn route(&self) -> Option<&'static crate::Route> {
        crate::ROUTES.iter().find(|r| {
            r.method == self.method
                && r.path
                    .strip_prefix('/')
                    .is_some_and(|p| crate::routes::segments_match(p, &self.resource))
        })
    }

    /// The request path with its leading `/` (`/` for the root resource), as
    /// [`crate::match_route`] expects it.
    pub fn path(&self) -> String {
        format!("/{}", self.resource)
    }
}

impl fmt::Display for MethodArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}/{}", self.prefix(), self.method, self.resource)
    }
}

impl FromStr for MethodArn {
    type Err = ArnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s.strip_prefix("arn:").ok_or(ArnError::NotAnArn)?;
        // At most 5 more fields: the last one (api id and path) may itself
        // hold `:` in the request path, which must survive untouched.
        let fields: Vec<&str> = rest.splitn(5, ':').collect();
        let [partition, service, region, account_id, resource_part] = fields[..] else {
            return Err(ArnError::MissingFields {
                found: fields.len() + 1,
            });
        };

        if !is_lower_dashed(partition) {
            return Err(ArnError::InvalidPartition(partition.to_owned()));
        }
        if service != EXECUTE_API_SERVICE {
            return Err(ArnError::WrongService(service.to_owned()));
        }
        if !is_lower_dashed(region) {
            return Err(ArnError::InvalidRegion(region.to_owned()));
        }
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ArnError::InvalidAccountId(account_id.to_owned()));
        }

        // The resource path keeps any further `/`, so split at most 4 ways.
        let mut parts = resource_part.splitn(4, '/');
        let api_id = parts.next().unwrap_or_default();
        let stage = parts.next().ok_or(ArnError::MissingStage)?;
        let method = parts.next().ok_or(ArnError::MissingMethod)?;
        let resource = parts.next().ok_or(ArnError::MissingResource)?;

        check_api_id(api_id)?;
        check_stage(stage)?;
        if method.is_empty() {
            return Err(ArnError::MissingMethod);
        }
        if !METHODS.contains(&method) {
            return Err(ArnError::InvalidMethod(method.to_owned()));
        }
        if resource.chars().any(char::is_control) {
            return Err(ArnError::InvalidResource(resource.to_owned()));
        }

        Ok(MethodArn {
            partition: partition.to_owned(),
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            api_id: api_id.to_owned(),
            stage: stage.to_owned(),
            method: method.to_owned(),
            resource: resource.to_owned(),
        })
    }
}

fn is_lower_dashed(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

fn check_api_id(api_id: &str) -> Result<(), ArnError> {
    if api_id.is_empty() {
        Err(ArnError::EmptyApiId)
    } else if has_wildcard(api_id) {
        Err(ArnError::WildcardInApiId(api_id.to_owned()))
    } else if !api_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Err(ArnError::InvalidApiId(api_id.to_owned()))
    } else {
        Ok(())
    }
}

fn check_stage(stage: &str) -> Result<(), ArnError> {
    if stage.is_empty() {
        Err(ArnError::MissingStage)
    } else if has_wildcard(stage) {
        Err(ArnError::WildcardInStage(stage.to_owned()))
    } else if !stage
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'$' | b'-' | b'_'))
    {
        Err(ArnError::InvalidStage(stage.to_owned()))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/items/01J";

    fn parse(s: &str) -> Result<MethodArn, ArnError> {
        s.parse()
    }

    #[test]
    fn a_method_arn_parses_into_its_parts() {
        assert_eq!(
            parse(SAMPLE),
            Ok(MethodArn {
                partition: "aws".into(),
                region: "us-east-1".into(),
                account_id: "123456789012".into(),
                api_id: "abc123".into(),
                stage: "prod".into(),
                method: "GET".into(),
                resource: "items/01J".into(),
            })
        );
    }

    #[test]
    fn printing_a_parsed_arn_gives_back_the_input() {
        for s in [
            SAMPLE,
            "arn:aws-cn:execute-api:cn-north-1:123456789012:a1/$default/POST/items",
            "arn:aws-us-gov:execute-api:us-gov-west-1:123456789012:a1/v_1-x/*/",
            "arn:aws:execute-api:eu-west-1:123456789012:a1/prod/GET/",
            "arn:aws:execute-api:eu-west-1:123456789012:a1/prod/DELETE/a/b/c",
            "arn:aws:execute-api:eu-west-1:123456789012:a1/prod/GET/a:b/c%20d",
        ] {
            let arn = parse(s).unwrap();
            assert_eq!(arn.to_string(), s);
            assert_eq!(parse(&arn.to_string()), Ok(arn));
        }
    }

    #[test]
    fn the_root_resource_is_an_empty_path() {
        let arn = parse("arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/").unwrap();
        assert_eq!(arn.resource, "");
        assert_eq!(arn.path(), "/");
    }

    #[test]
    fn the_prefix_ends_after_the_stage() {
        let arn = parse(SAMPLE).unwrap();
        assert_eq!(
            arn.prefix().as_str(),
            "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/"
        );
        assert_eq!(arn.prefix().to_string(), arn.prefix().as_str());
        assert_eq!(arn.path(), "/items/01J");
    }

    #[test]
    fn each_malformed_part_is_named_in_the_error() {
        use ArnError::*;
        let acct = "123456789012";
        let cases: Vec<(String, ArnError)> = vec![
            ("aws:execute-api:x".into(), NotAnArn),
            ("ARN:aws:execute-api:us-east-1:1:a/b/GET/".into(), NotAnArn),
            (
                "arn:aws:execute-api:us-east-1".into(),
                MissingFields { found: 4 },
            ),
            (
                format!("arn:AWS:execute-api:us-east-1:{acct}:a/p/GET/"),
                InvalidPartition("AWS".into()),
            ),
            (
                format!("arn::execute-api:us-east-1:{acct}:a/p/GET/"),
                InvalidPartition(String::new()),
            ),
            (
                format!("arn:aws:lambda:us-east-1:{acct}:a/p/GET/"),
                WrongService("lambda".into()),
            ),
            (
                format!("arn:aws:execute-api:*:{acct}:a/p/GET/"),
                InvalidRegion("*".into()),
            ),
            (
                "arn:aws:execute-api:us-east-1:12345:a/p/GET/".into(),
                InvalidAccountId("12345".into()),
            ),
            (
                "arn:aws:execute-api:us-east-1:12345678901x:a/p/GET/".into(),
                InvalidAccountId("12345678901x".into()),
            ),
            (
                format!("arn:aws:execute-api:us-east-1:{acct}:/p/GET/"),
                EmptyApiId,
            ),
            (
                format!("arn:aws:execute-api:us-east-1:{acct}:*/p/GET/"),
                WildcardInApiId("*".into()),
            ),
            (
                format!("arn:aws:execute-api:us-east-1:{acct}:ab?/p/GET/"),
                WildcardInApiId("ab?".into()),
            ),
            (
                format!("arn:aws:execute-api:us-east-1:{acct}:a-b/p/GET/"),
                InvalidApiId("a-b".into()),
            ),
            (
                format!("arn:aws:execute-api:us-east-1:{acct}:abc"),
                MissingStage,
            ),
            (
                format!("arn:aws:execute-api:us-east-1:{acct}:abc//GET/"),
                MissingStage,
            ),
            (
                format!("arn:aws:execute-api:us-east-1:{acct}:abc/*/GET/"),
                WildcardInStage("*".into()),
            ),
            (
                format!("arn:aws:execute-api:us-east-1:{acct}:abc/pr.d/GET/"),
                InvalidStage("pr.d".into()),
            ),
            (
                format!("arn:aws:execute-api:us-east-1:{acct}:abc/prod"),
                MissingMethod,
            ),
            (
                format!("arn:aws:execute-api:us-east-1:{acct}:abc/prod//items"),
                MissingMethod,
            ),
            (
                format!("arn:aws:execute-api:us-east-1:{acct}:abc/prod/get/items"),
                InvalidMethod("get".into()),
            ),
            (
                format!("arn:aws:execute-api:us-east-1:{acct}:abc/prod/GET"),
                MissingResource,
            ),
            (
                format!("arn:aws:execute-api:us-east-1:{acct}:abc/prod/GET/a\nb"),
                InvalidResource("a\nb".into()),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(&input), Err(expected), "input {input:?}");
        }
    }

    #[test]
    fn errors_say_what_was_expected() {
        let err = parse("arn:aws:s3:::bucket").unwrap_err();
        assert_eq!(
            err.to_string(),
            "service is \"s3\"; expected \"execute-api\""
        );
    }
}
