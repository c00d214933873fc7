//! The shared vocabulary of `policies` that crosses a boundary as text:
//! method ARNs (from the authorizer event), owners and the authorizer
//! context (from API Gateway to the api).

use std::collections::HashMap;
use std::sync::LazyLock;

use policies::{
    ApiPrefix, AuthContext, INVOKE_ACTION, MethodArn, Owner, OwnerKind, PermissionSet,
    PolicyDocument, evaluate, policy_for,
};
use serde_json::Value;

const PREFIX_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/items";

static PREFIX: LazyLock<ApiPrefix> =
    LazyLock::new(|| PREFIX_ARN.parse::<MethodArn>().unwrap().prefix());
/// The widest policy the authorizer can build, for one API and stage.
static WIDEST: LazyLock<PolicyDocument> = LazyLock::new(|| policy_for(&PREFIX, PermissionSet::ALL));

/// Target `method_arn`: `MethodArn` parse and print.
///
/// - print∘parse is the identity on every accepted string, and
///   parse∘print gives back the same value;
/// - the prefix the policy is built under is a prefix of the ARN;
/// - the widest policy for one API and stage never allows a resource
///   outside that API and stage, whatever the string (the evaluator's glob
///   matching against arbitrary resources).
pub fn method_arn(data: &[u8]) {
    let Some(s) = crate::text(data) else {
        return;
    };
    if evaluate(&WIDEST, INVOKE_ACTION, s).is_allowed() {
        assert!(s.starts_with(PREFIX.as_str()), "{s:?}");
    }
    let Ok(arn) = s.parse::<MethodArn>() else {
        return;
    };
    let printed = arn.to_string();
    assert_eq!(printed, s);
    assert_eq!(printed.parse::<MethodArn>(), Ok(arn.clone()));
    let prefix = arn.prefix();
    assert!(s.starts_with(prefix.as_str()));
    assert!(prefix.as_str().ends_with('/'));
    assert!(!prefix.as_str().contains(['*', '?']));
    assert_eq!(arn.path(), format!("/{}", arn.resource));
}

/// Target `owner`: `Owner` parse and print. Round trip both ways, the kind
/// follows the prefix, and each kind's name is valid for it.
pub fn owner(data: &[u8]) {
    let Some(s) = crate::text(data) else {
        return;
    };
    let Ok(owner) = s.parse::<Owner>() else {
        return;
    };
    assert_eq!(owner.to_string(), s);
    assert_eq!(owner.as_str().parse::<Owner>(), Ok(owner.clone()));
    match owner.kind() {
        OwnerKind::User => {
            let sub = owner.sub().unwrap();
            assert_eq!(Some(sub), s.strip_prefix("user:"));
            assert_eq!(Owner::user(sub), Ok(owner.clone()));
            assert!(owner.partner_id().is_none());
            assert_eq!(owner.issuer(), Some("cognito"));
        }
        OwnerKind::Oidc => {
            let sub = owner.sub().unwrap();
            let alias = owner.issuer().unwrap();
            assert_eq!(s.strip_prefix("oidc:"), Some(format!("{alias}:{sub}").as_str()));
            assert_eq!(Owner::oidc(alias, sub), Ok(owner.clone()));
            assert!(owner.partner_id().is_none());
        }
        OwnerKind::Partner => {
            let id = owner.partner_id().unwrap();
            assert_eq!(Some(id), s.strip_prefix("partner:"));
            assert_eq!(Owner::partner(id), Ok(owner.clone()));
            assert!(owner.sub().is_none());
            assert!(owner.issuer().is_none());
        }
    }
}

/// Target `auth_context`: `AuthContext::from_fields` on a JSON object, the
/// api's reading of `requestContext.authorizer`.
///
/// - an accepted context is consistent (owner kind = auth type);
/// - what the authorizer would print for it is a flat object (API Gateway
///   refuses nested values), and the api reads that back, flattened to
///   strings as a REST API passes it, as the same context.
pub fn auth_context(data: &[u8]) {
    let Ok(fields) = serde_json::from_slice::<HashMap<String, Value>>(data) else {
        return;
    };
    let Ok(context) = AuthContext::from_fields(&fields) else {
        return;
    };
    assert_eq!(context.owner().kind().auth_type(), context.auth_type());
    let printed = serde_json::to_value(&context).unwrap();
    let object = printed.as_object().unwrap();
    assert!(object.values().all(|v| v.is_string() || v.is_number()));
    assert_eq!(
        AuthContext::from_fields(&context.to_gateway_fields()),
        Ok(context.clone())
    );
    let as_printed: HashMap<String, Value> = object.clone().into_iter().collect();
    assert_eq!(AuthContext::from_fields(&as_printed), Ok(context));
}
