//! From a verified principal to API Gateway's answer.
//!
//! API Gateway caches the answer by token for every route, so the policy is
//! built for all the routes the principal's permissions grant, under the
//! incoming ARN's own API and stage, never only for the route that asked.

use policies::{ApiPrefix, permissions_for_token, policy_for};

use crate::apikey::registry::ActiveRecord;
use crate::event::{AuthorizerResponse, Context};
use crate::jwt::claims::VerifiedToken;

/// The response for a verified Cognito token. `usage_key` is the first-party
/// usage plan key (`USER_USAGE_KEY`), shared by all users.
pub fn for_token(
    token: &VerifiedToken,
    prefix: &ApiPrefix,
    usage_key: Option<&str>,
) -> AuthorizerResponse {
    let permissions = permissions_for_token(
        token.token_use,
        token.scopes.iter().map(String::as_str),
        token.groups.iter().map(String::as_str),
    );
    let joined = |v: &[String]| (!v.is_empty()).then(|| v.join(" "));
    AuthorizerResponse {
        principal_id: token.sub.clone(),
        policy_document: policy_for(prefix, permissions),
        context: Context {
            owner: token.sub.clone(),
            auth_type: "jwt",
            permissions: permissions.to_string(),
            sub: Some(token.sub.clone()),
            username: token.username.clone(),
            client_id: Some(token.client_id.clone()),
            scopes: joined(&token.scopes),
            groups: joined(&token.groups),
            partner: None,
            key_id: None,
        },
        usage_identifier_key: usage_key.map(str::to_owned),
    }
}

/// The response for a verified partner key: the partner's data namespace,
/// the record's permissions, and its usage plan key so API Gateway meters it.
pub fn for_partner(record: &ActiveRecord, prefix: &ApiPrefix) -> AuthorizerResponse {
    let principal = format!("partner:{}", record.partner);
    AuthorizerResponse {
        principal_id: principal.clone(),
        policy_document: policy_for(prefix, record.permissions),
        context: Context {
            owner: principal,
            auth_type: "apiKey",
            permissions: record.permissions.to_string(),
            partner: Some(record.partner.clone()),
            key_id: Some(record.id.clone()),
            ..Context::default()
        },
        usage_identifier_key: record.usage_key.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policies::{Effect, INVOKE_ACTION, MethodArn, TokenUse, evaluate};

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/items/42";

    fn token(scopes: &[&str], groups: &[&str]) -> VerifiedToken {
        VerifiedToken {
            sub: "user-1".into(),
            token_use: TokenUse::Access,
            client_id: "client1".into(),
            username: Some("alice".into()),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            groups: groups.iter().map(|s| (*s).to_owned()).collect(),
            expires_at: 0.0,
        }
    }

    fn prefix() -> ApiPrefix {
        ARN.parse::<MethodArn>().unwrap().prefix()
    }

    #[test]
    fn a_first_party_user_may_call_every_route_of_this_api_and_stage_only() {
        let r = for_token(
            &token(&["aws.cognito.signin.user.admin"], &[]),
            &prefix(),
            None,
        );
        assert_eq!(r.principal_id, "user-1");
        assert_eq!(r.context.permissions, "items:read items:write items:delete");
        let base = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/";
        for route in [
            "GET/items",
            "POST/items",
            "GET/items/1",
            "PUT/items/1",
            "PATCH/items/1",
            "DELETE/items/1",
        ] {
            assert!(
                evaluate(&r.policy_document, INVOKE_ACTION, &format!("{base}{route}")).is_allowed(),
                "{route}"
            );
        }
        let other_stage = "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/GET/items";
        assert!(!evaluate(&r.policy_document, INVOKE_ACTION, other_stage).is_allowed());
    }

    #[test]
    fn the_context_is_flat_and_has_no_nulls() {
        let r = for_token(
            &token(&["items/read"], &["readonly", "staff"]),
            &prefix(),
            None,
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json["context"],
            serde_json::json!({
                "owner": "user-1", "authType": "jwt", "permissions": "items:read",
                "sub": "user-1", "username": "alice", "clientId": "client1",
                "scopes": "items/read", "groups": "readonly staff"
            })
        );
        assert!(json.get("usageIdentifierKey").is_none());
        assert!(!json.to_string().contains("null"));
    }

    #[test]
    fn a_partner_gets_its_namespace_permissions_and_usage_key() {
        let record = ActiveRecord {
            id: "k1".into(),
            partner: "acme".into(),
            sha256: [0; 32],
            permissions: policies::PermissionSet::only(policies::Permission::ItemsRead),
            usage_key: Some("usage-key-0123456789".into()),
            expires_at: None,
            disabled: false,
        };
        let json = serde_json::to_value(for_partner(&record, &prefix())).unwrap();
        assert_eq!(json["principalId"], "partner:acme");
        assert_eq!(json["usageIdentifierKey"], "usage-key-0123456789");
        assert_eq!(
            json["context"],
            serde_json::json!({"owner": "partner:acme", "authType": "apiKey", "permissions": "items:read",
                               "partner": "acme", "keyId": "k1"})
        );
    }

    #[test]
    fn a_principal_without_permissions_gets_one_deny_all() {
        let r = for_token(&token(&["openid"], &[]), &prefix(), None);
        assert_eq!(r.context.permissions, "");
        let statements = &r.policy_document.statement;
        assert_eq!(statements.len(), 1);
        assert_eq!(statements[0].effect, Effect::Deny);
        assert_eq!(
            statements[0].resource,
            ["arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*/*"]
        );
    }
}
