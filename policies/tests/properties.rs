//! Properties of method ARNs and of the policies built from the route table,
//! checked with the evaluator over generated ARNs and every permission set.

use policies::{
    ApiPrefix, Decision, INVOKE_ACTION, MethodArn, Owner, OwnerKind, PermissionSet, ROUTES, Route,
    deny_all_resource, evaluate, policy_for,
};
use proptest::prelude::*;

fn partition() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["aws", "aws-cn", "aws-us-gov"]).prop_map(str::to_owned)
}

fn region() -> impl Strategy<Value = String> {
    "[a-z]{2}(-gov)?-[a-z]{4,9}-[1-9]"
}

fn account_id() -> impl Strategy<Value = String> {
    "[0-9]{12}"
}

fn api_id() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9]{1,12}"
}

fn stage() -> impl Strategy<Value = String> {
    prop_oneof![Just("$default".to_owned()), "[A-Za-z0-9_$-]{1,16}",]
}

fn method() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*",
    ])
    .prop_map(str::to_owned)
}

fn resource() -> impl Strategy<Value = String> {
    prop::collection::vec("[A-Za-z0-9_.-]{0,10}", 0..4).prop_map(|segs| segs.join("/"))
}

fn path_id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.-]{1,26}"
}

prop_compose! {
    fn method_arn()(
        partition in partition(),
        region in region(),
        account_id in account_id(),
        api_id in api_id(),
        stage in stage(),
        method in method(),
        resource in resource(),
    ) -> MethodArn {
        MethodArn { partition, region, account_id, api_id, stage, method, resource }
    }
}

/// `route` as the concrete method ARN a request to it would carry under `base`'s
/// API and stage, its `*` segments replaced by `id`.
fn concrete(base: &MethodArn, route: &Route, id: &str) -> String {
    let path = route
        .path
        .trim_start_matches('/')
        .split('/')
        .map(|seg| if seg == "*" { id } else { seg })
        .collect::<Vec<_>>()
        .join("/");
    MethodArn {
        method: route.method.to_owned(),
        resource: path,
        ..base.clone()
    }
    .to_string()
}

fn with_path(base: &MethodArn, method: &str, resource: &str) -> String {
    MethodArn {
        method: method.to_owned(),
        resource: resource.to_owned(),
        ..base.clone()
    }
    .to_string()
}

fn allowed(prefix: &ApiPrefix, perms: PermissionSet, arn: &str) -> bool {
    evaluate(&policy_for(prefix, perms), INVOKE_ACTION, arn).is_allowed()
}

proptest! {
    #[test]
    fn printing_then_parsing_gives_back_the_same_arn(arn in method_arn()) {
        let printed = arn.to_string();
        let parsed: MethodArn = printed.parse().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(&parsed, &arn);
        prop_assert_eq!(parsed.to_string(), printed);
    }

    #[test]
    fn each_policy_allows_a_route_exactly_when_it_holds_its_permission(
        base in method_arn(),
        id in path_id(),
    ) {
        let prefix = base.prefix();
        for perms in PermissionSet::every() {
            for route in ROUTES {
                let arn = concrete(&base, route, &id);
                prop_assert_eq!(
                    allowed(&prefix, perms, &arn),
                    perms.contains(route.permission),
                    "perms {} route {} {} arn {}", perms, route.method, route.path, arn
                );
            }
        }
    }

    #[test]
    fn no_policy_reaches_another_api_or_stage(
        base in method_arn(),
        other_api in api_id(),
        other_stage in stage(),
        id in path_id(),
    ) {
        prop_assume!(other_api != base.api_id);
        prop_assume!(other_stage != base.stage);
        let prefix = base.prefix();
        let elsewhere = [
            MethodArn { api_id: other_api.clone(), ..base.clone() },
            MethodArn { stage: other_stage.clone(), ..base.clone() },
        ];
        for perms in PermissionSet::every() {
            for target in &elsewhere {
                for route in ROUTES {
                    let arn = concrete(target, route, &id);
                    prop_assert!(!allowed(&prefix, perms, &arn), "perms {} arn {}", perms, arn);
                }
            }
        }
    }

    #[test]
    fn no_policy_allows_a_method_or_path_outside_the_route_table(
        base in method_arn(),
        id in path_id(),
    ) {
        let prefix = base.prefix();
        let item = format!("items/{id}");
        let outside = [
            ("DELETE", "items"),
            ("PUT", "items"),
            ("PATCH", "items"),
            ("HEAD", "items"),
            ("OPTIONS", "items"),
            ("POST", item.as_str()),
            ("HEAD", item.as_str()),
            ("OPTIONS", item.as_str()),
            ("GET", "admin"),
            ("GET", ""),
            ("GET", "items2"),
            ("GET", "itemsx/1"),
            ("POST", "admin/items"),
        ];
        for perms in PermissionSet::every() {
            for (method, path) in outside {
                let arn = with_path(&base, method, path);
                prop_assert!(!allowed(&prefix, perms, &arn), "perms {} arn {}", perms, arn);
            }
        }
    }

    #[test]
    fn the_deny_all_policy_explicitly_denies_every_route(
        base in method_arn(),
        id in path_id(),
    ) {
        let prefix = base.prefix();
        let doc = policy_for(&prefix, PermissionSet::EMPTY);
        prop_assert_eq!(&doc.statement[0].resource, &vec![deny_all_resource(&prefix)]);
        for route in ROUTES {
            let arn = concrete(&base, route, &id);
            prop_assert_eq!(evaluate(&doc, INVOKE_ACTION, &arn), Decision::ExplicitDeny);
        }
    }
}

fn sub() -> impl Strategy<Value = String> {
    // Any non-control characters, `:` and prefixes of the other namespace included.
    prop_oneof![
        "[^\\p{Cc}]{1,60}",
        "(partner:|user:|oidc:)[a-z0-9:-]{0,20}",
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    ]
}

fn partner_id() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9-]{0,63}"
}

fn alias() -> impl Strategy<Value = String> {
    // Aliases that are prefixes of one another, or hold `-`, the likeliest to
    // meet if the printed form were ambiguous.
    prop_oneof!["[a-z0-9-]{1,32}", "(a|a-|a-b|ab)"]
        .prop_filter("cognito names the pool", |a| a != "cognito")
}

/// Every owner the three kinds can print, built from its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Parts {
    User(String),
    Oidc(String, String),
    Partner(String),
}

impl Parts {
    #[allow(clippy::unwrap_used)] // generated parts are valid by construction
    fn owner(&self) -> Owner {
        match self {
            Parts::User(sub) => Owner::user(sub).unwrap(),
            Parts::Oidc(alias, sub) => Owner::oidc(alias, sub).unwrap(),
            Parts::Partner(id) => Owner::partner(id).unwrap(),
        }
    }
}

fn parts() -> impl Strategy<Value = Parts> {
    prop_oneof![
        sub().prop_map(Parts::User),
        (alias(), sub()).prop_map(|(a, s)| Parts::Oidc(a, s)),
        partner_id().prop_map(Parts::Partner),
    ]
}

proptest! {
    #[test]
    fn two_principals_own_the_same_namespace_only_if_they_are_the_same_principal(
        a in parts(),
        b in parts(),
    ) {
        // No sub of any issuer, nor a partner id, can print as another
        // issuer's (or a partner's) owner.
        prop_assert_eq!(a.owner() == b.owner(), a == b);
        prop_assert_eq!(a.owner().to_string() == b.owner().to_string(), a == b);
    }

    #[test]
    fn a_trusted_issuers_owner_names_its_issuer_and_sub(alias in alias(), sub in sub()) {
        let owner = Owner::oidc(&alias, &sub).unwrap();
        prop_assert_eq!(owner.kind(), OwnerKind::Oidc);
        prop_assert_eq!(owner.issuer(), Some(alias.as_str()));
        prop_assert_eq!(owner.sub(), Some(sub.as_str()));
        prop_assert_eq!(owner.partner_id(), None);
        prop_assert_eq!(owner.to_string().parse::<Owner>(), Ok(owner.clone()));
    }

    #[test]
    fn an_owner_parses_back_from_its_printed_form(sub in sub(), partner in partner_id()) {
        for owner in [Owner::user(&sub).unwrap(), Owner::partner(&partner).unwrap()] {
            prop_assert_eq!(owner.to_string().parse::<Owner>(), Ok(owner.clone()));
        }
    }

    #[test]
    fn a_user_namespace_never_names_a_partner_one(sub in sub(), partner in partner_id()) {
        let user = Owner::user(&sub).unwrap();
        prop_assert_eq!(user.kind(), OwnerKind::User);
        prop_assert_eq!(user.sub(), Some(sub.as_str()));
        prop_assert_ne!(user, Owner::partner(&partner).unwrap());
    }

    #[test]
    fn any_string_that_parses_as_an_owner_prints_as_itself(text in "(user:|oidc:|partner:|)[^\\p{Cc}]{0,40}") {
        if let Ok(owner) = text.parse::<Owner>() {
            prop_assert_eq!(owner.to_string(), text);
        }
    }
}
