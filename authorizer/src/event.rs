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

use policies::PolicyDocument;
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
}

impl AuthorizerEvent {
    /// A TOKEN event, as API Gateway sends it.
    pub fn token(authorization_token: impl Into<String>, method_arn: impl Into<String>) -> Self {
        AuthorizerEvent {
            authorization_token: Some(authorization_token.into()),
            method_arn: method_arn.into(),
            headers: None,
        }
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
    /// The Cognito `sub`, or `partner:<partner id>`.
    pub principal_id: String,
    /// Allow on every route the principal may call, or one Deny-all.
    pub policy_document: PolicyDocument,
    /// Flat string values only, as API Gateway requires.
    pub context: Context,
    /// The API Gateway API key value a partner's usage plan meters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_identifier_key: Option<String>,
}

/// The flat context passed to the backend as `requestContext.authorizer`.
/// Absent fields are left out, never `null`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    /// The data namespace: the `sub`, or `partner:<id>`.
    pub owner: String,
    /// `jwt` or `apiKey`.
    pub auth_type: &'static str,
    /// Space-separated permissions, canonical order.
    pub permissions: String,
    /// The Cognito `sub`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The Cognito user name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The app client the token was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Space-separated OAuth scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<String>,
    /// Space-separated Cognito groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<String>,
    /// The partner id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner: Option<String>,
    /// The partner key's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}
