//! Builds the authorizer's policy for a set of permissions.
//!
//! API Gateway caches the policy by token and reuses it for every route, so
//! the policy lists every route the permissions grant, not only the one that
//! triggered the authorizer. Every resource is the incoming ARN's own
//! `<api id>/<stage>/` prefix followed by a route from [`ROUTES`]: never a bare
//! `*`, never another API or stage.

use crate::arn::ApiPrefix;
use crate::document::{Effect, PolicyDocument, Statement};
use crate::permission::PermissionSet;
use crate::routes::{ROUTES, Route};

/// The resource naming `route` under `prefix`: `<prefix><METHOD><path>`, e.g.
/// `arn:…:abc/prod/GET/items/*`. The route table's `*` segment (one path
/// parameter) is kept as the policy glob `*`.
pub fn route_resource(prefix: &ApiPrefix, route: &Route) -> String {
    // The prefix ends with `/` and the path starts with `/`, so the method
    // sits between them: `…/prod/` + `GET` + `/items`.
    let prefix = prefix.as_str();
    let mut arn = String::with_capacity(prefix.len() + route.method.len() + route.path.len());
    arn.push_str(prefix);
    arn.push_str(route.method);
    arn.push_str(route.path);
    arn
}

/// The resource a deny-all statement covers: every method and path under `prefix`.
pub fn deny_all_resource(prefix: &ApiPrefix) -> String {
    format!("{prefix}*/*")
}

/// The smallest policy allowing exactly the routes of [`ROUTES`] whose
/// permission is in `permissions`: one `Allow` statement on
/// `execute-api:Invoke`, one resource per route, in route-table order.
///
/// An empty set gives one `Deny` on `<prefix>*/*`, so API Gateway answers
/// 403 instead of treating an empty `Allow` as malformed.
pub fn policy_for(prefix: &ApiPrefix, permissions: PermissionSet) -> PolicyDocument {
    let resources: Vec<String> = ROUTES
        .iter()
        .filter(|route| permissions.contains(route.permission))
        .map(|route| route_resource(prefix, route))
        .collect();
    let statement = if resources.is_empty() {
        Statement::invoke(Effect::Deny, vec![deny_all_resource(prefix)])
    } else {
        Statement::invoke(Effect::Allow, resources)
    };
    PolicyDocument::new(vec![statement])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arn::MethodArn;
    use crate::permission::Permission;

    const P: &str = "arn:aws:execute-api:us-east-1:123456789012:abc/prod/";

    fn prefix() -> ApiPrefix {
        format!("{P}GET/items")
            .parse::<MethodArn>()
            .unwrap()
            .prefix()
    }

    fn resources(perms: PermissionSet) -> (Effect, Vec<String>) {
        let doc = policy_for(&prefix(), perms);
        assert_eq!(doc.statement.len(), 1);
        let st = &doc.statement[0];
        assert_eq!(st.action, vec!["execute-api:Invoke".to_owned()]);
        (st.effect, st.resource.clone())
    }

    #[test]
    fn every_permission_allows_every_route_in_table_order() {
        assert_eq!(
            resources(PermissionSet::ALL),
            (
                Effect::Allow,
                vec![
                    format!("{P}GET/items"),
                    format!("{P}GET/items/*"),
                    format!("{P}POST/items"),
                    format!("{P}PUT/items/*"),
                    format!("{P}PATCH/items/*"),
                    format!("{P}DELETE/items/*"),
                ]
            )
        );
    }

    #[test]
    fn read_only_allows_the_two_get_routes() {
        assert_eq!(
            resources(PermissionSet::only(Permission::ItemsRead)),
            (
                Effect::Allow,
                vec![format!("{P}GET/items"), format!("{P}GET/items/*")]
            )
        );
    }

    #[test]
    fn write_and_delete_allow_their_routes_only() {
        assert_eq!(
            resources(PermissionSet::only(Permission::ItemsWrite).with(Permission::ItemsDelete)),
            (
                Effect::Allow,
                vec![
                    format!("{P}POST/items"),
                    format!("{P}PUT/items/*"),
                    format!("{P}PATCH/items/*"),
                    format!("{P}DELETE/items/*"),
                ]
            )
        );
    }

    #[test]
    fn no_permission_gives_one_deny_on_the_whole_stage() {
        assert_eq!(
            resources(PermissionSet::EMPTY),
            (Effect::Deny, vec![format!("{P}*/*")])
        );
    }

    #[test]
    fn every_resource_stays_under_the_prefix_and_is_never_a_bare_star() {
        for perms in PermissionSet::every() {
            let (_, res) = resources(perms);
            assert!(!res.is_empty());
            for r in res {
                assert!(r.starts_with(P), "{r}");
                assert_ne!(r, "*");
            }
        }
    }

    #[test]
    fn the_policy_serializes_as_api_gateway_expects() {
        let doc = policy_for(&prefix(), PermissionSet::only(Permission::ItemsDelete));
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Action":"execute-api:Invoke","Effect":"Allow","Resource":["{P}DELETE/items/*"]}}]}}"#
            )
        );
    }
}
