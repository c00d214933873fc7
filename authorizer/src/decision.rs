//! From a verified principal to API Gateway's answer.
//!
//! API Gateway caches the answer by token for every route, so the policy is
//! built for all the routes the principal's permissions grant, under the
//! incoming ARN's own API and stage, never only for the route that asked.

use policies::{ApiPrefix, AuthContext, Principal, policy_for};

use crate::apikey::registry::ActiveRecord;
use crate::event::AuthorizerResponse;
use crate::jwt::claims::VerifiedToken;

/// The response for a verified token, of the pool or of a trusted issuer
/// (the owner says which; the permissions are its issuer's grant).
/// `usage_key` is the first-party usage plan key (from
/// `USER_USAGE_KEY_SECRET_ID`), shared by all JWT principals: every method
/// requires an API key, so without it they could call nothing.
pub fn for_token(
    token: &VerifiedToken,
    prefix: &ApiPrefix,
    usage_key: Option<&str>,
) -> AuthorizerResponse {
    respond(
        AuthContext {
            principal: Principal::User {
                owner: token.owner.clone(),
                username: token.username.clone(),
                client_id: token.client_id.clone(),
                scopes: token.scopes.clone(),
                groups: token.groups.clone(),
            },
            permissions: token.permissions,
            expires_at: Some(unix_seconds(token.expires_at)),
        },
        prefix,
        usage_key.map(str::to_owned),
    )
}

/// The response for a verified partner key: the partner's data namespace,
/// the record's permissions, and its usage plan key so API Gateway meters it.
pub fn for_partner(record: &ActiveRecord, prefix: &ApiPrefix) -> AuthorizerResponse {
    respond(
        AuthContext {
            principal: Principal::Partner {
                owner: record.owner.clone(),
                key_id: Some(record.id.clone()),
            },
            permissions: record.permissions,
            expires_at: record.expires_at.map(unix_seconds),
        },
        prefix,
        record.usage_key.clone(),
    )
}

/// `principalId` is the owner, always: one string names the principal in
/// API Gateway's logs and the data namespace in the api.
fn respond(
    context: AuthContext,
    prefix: &ApiPrefix,
    usage_key: Option<String>,
) -> AuthorizerResponse {
    AuthorizerResponse {
        principal_id: context.owner().to_string(),
        policy_document: policy_for(prefix, context.permissions),
        context,
        usage_identifier_key: usage_key,
    }
}

/// Whole Unix seconds, rounded down: a credential valid until 12:00:00.5 is
/// treated as ending at 12:00:00, never later than it does.
fn unix_seconds(at: f64) -> u64 {
    if at.is_finite() && at > 0.0 {
        // Saturating float-to-int conversion; `exp` values are far below 2^53.
        at.floor() as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policies::{Effect, INVOKE_ACTION, MethodArn, TokenUse, evaluate};

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/items/42";

    fn token(scopes: &[&str], groups: &[&str]) -> VerifiedToken {
        VerifiedToken {
            owner: policies::Owner::user("user-1").unwrap(),
            token_use: Some(TokenUse::Access),
            client_id: Some("client1".into()),
            username: Some("alice".into()),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            groups: groups.iter().map(|s| (*s).to_owned()).collect(),
            permissions: policies::permissions_for_token(
                TokenUse::Access,
                scopes.iter().copied(),
                groups.iter().copied(),
            ),
            expires_at: 1_800_000_000.0,
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
        assert_eq!(r.principal_id, "user:user-1");
        assert_eq!(
            r.context.permissions.to_string(),
            "items:read items:write items:delete"
        );
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
                "owner": "user:user-1", "authType": "jwt", "permissions": "items:read",
                "expiresAt": 1_800_000_000u64, "issuer": "cognito", "sub": "user-1", "username": "alice", "clientId": "client1",
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
            owner: policies::Owner::partner("acme").unwrap(),
            sha256: [0; 32],
            permissions: policies::PermissionSet::only(policies::Permission::ItemsRead),
            usage_key: Some("usage-key-0123456789".into()),
            expires_at: Some(1_900_000_000.7),
            disabled: false,
        };
        let json = serde_json::to_value(for_partner(&record, &prefix())).unwrap();
        assert_eq!(json["principalId"], "partner:acme");
        assert_eq!(json["usageIdentifierKey"], "usage-key-0123456789");
        assert_eq!(
            json["context"],
            serde_json::json!({"owner": "partner:acme", "authType": "apiKey", "permissions": "items:read",
                               "expiresAt": 1_900_000_000u64, "partner": "acme", "keyId": "k1"})
        );
    }

    #[test]
    fn a_trusted_issuers_principal_gets_its_namespace_issuer_and_the_usage_key() {
        let t = VerifiedToken {
            owner: policies::Owner::oidc("entra", "9f1c").unwrap(),
            token_use: None,
            client_id: Some("c1".into()),
            username: None,
            scopes: vec!["Items.Read".into()],
            groups: vec!["auditors".into()],
            permissions: policies::PermissionSet::only(policies::Permission::ItemsRead),
            expires_at: 1_800_000_000.0,
        };
        let json =
            serde_json::to_value(for_token(&t, &prefix(), Some("users-usage-key-0123456789")))
                .unwrap();
        assert_eq!(json["principalId"], "oidc:entra:9f1c");
        assert_eq!(json["usageIdentifierKey"], "users-usage-key-0123456789");
        assert_eq!(
            json["context"],
            serde_json::json!({
                "owner": "oidc:entra:9f1c", "authType": "jwt", "permissions": "items:read",
                "expiresAt": 1_800_000_000u64, "issuer": "entra", "sub": "9f1c", "clientId": "c1",
                "scopes": "Items.Read", "groups": "auditors"
            })
        );
    }

    #[test]
    fn a_principal_without_permissions_gets_one_deny_all() {
        let r = for_token(&token(&["openid"], &[]), &prefix(), None);
        assert!(r.context.permissions.is_empty());
        let statements = &r.policy_document.statement;
        assert_eq!(statements.len(), 1);
        assert_eq!(statements[0].effect, Effect::Deny);
        assert_eq!(
            statements[0].resource,
            ["arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*/*"]
        );
    }
}
