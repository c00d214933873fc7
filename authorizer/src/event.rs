//! The authorizer's input and output as API Gateway exchanges them.
//!
//! Input: one struct reads both REST API `TOKEN` events (`authorizationToken`)
//! and `REQUEST` events (`headers`): the function serves whichever the API is
//! configured with, and the fields it does not use (`type` among them: the
//! fields present say which kind of event it is) are skipped unparsed.
//!
//! Output: written here rather than with `aws_lambda_events`' response type,
//! because that type serializes absent options (e.g. `usageIdentifierKey`) as
//! `null`, and API Gateway's contract wants absent fields omitted.

use std::collections::HashMap;

use policies::{AuthContext, PolicyDocument};
use serde::{Deserialize, Serialize};

/// A REST API Lambda authorizer event, `TOKEN` or `REQUEST`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerEvent {
    /// TOKEN events: the identity source's value (the `Authorization` header).
    #[serde(default)]
    pub authorization_token: Option<String>,
    /// The method ARN of the request that triggered this call.
    #[serde(default)]
    pub method_arn: String,
    /// REQUEST events: the request headers (names in the client's case).
    #[serde(default)]
    pub headers: Option<HashMap<String, String>>,
    /// REQUEST events: API Gateway's request context (its request id).
    #[serde(default)]
    pub request_context: Option<RequestIds>,
}

/// The part of a REQUEST event's `requestContext` the logs use.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestIds {
    /// API Gateway's id of the request being authorized.
    #[serde(default)]
    pub request_id: Option<String>,
}

impl AuthorizerEvent {
    /// A TOKEN event, as API Gateway sends it.
    pub fn token(authorization_token: impl Into<String>, method_arn: impl Into<String>) -> Self {
        AuthorizerEvent {
            authorization_token: Some(authorization_token.into()),
            method_arn: method_arn.into(),
            headers: None,
            request_context: None,
        }
    }

    /// API Gateway's request id (REQUEST events only: TOKEN events carry none).
    pub fn api_request_id(&self) -> Option<&str> {
        self.request_context.as_ref()?.request_id.as_deref()
    }

    /// The value of header `name` (ASCII case-insensitive), for REQUEST events.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .as_ref()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a verified principal gets: the policy API Gateway caches for the
/// token, and the context it hands to the backend.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerResponse {
    /// The owner: `user:<sub>` or `partner:<partner id>`, the same string
    /// as the context's `owner`.
    pub principal_id: String,
    /// Allow on every route the principal may call, or one Deny-all.
    pub policy_document: PolicyDocument,
    /// Flat scalar values only, as API Gateway requires; the one type the
    /// api parses back.
    pub context: AuthContext,
    /// The API Gateway API key value a partner's usage plan meters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_identifier_key: Option<String>,
}
