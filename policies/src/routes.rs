//! The route table: which permission each route of the API needs.
//!
//! This is the single place that ties routes to permissions. The authorizer
//! builds its policies from it, the api re-checks requests against it, and the
//! local stack routes with it, so the three cannot drift apart.

use crate::permission::Permission;

/// One route of the API, as API Gateway names it in a method ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The resource path with a leading `/`; a `*` segment stands for one path
    /// parameter (`{id}` in the template).
    pub path: &'static str,
    /// The permission the route needs.
    pub permission: Permission,
    /// `METHOD /path` with `{id}` for the parameter, as the template and the
    /// OpenAPI document spell it; the `route` of logs and metrics.
    pub label: &'static str,
}

/// Every route of the API.
pub const ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/items",
        permission: Permission::ItemsRead,
        label: "GET /items",
    },
    Route {
        method: "GET",
        path: "/items/*",
        permission: Permission::ItemsRead,
        label: "GET /items/{id}",
    },
    Route {
        method: "POST",
        path: "/items",
        permission: Permission::ItemsWrite,
        label: "POST /items",
    },
    Route {
        method: "PUT",
        path: "/items/*",
        permission: Permission::ItemsWrite,
        label: "PUT /items/{id}",
    },
    Route {
        method: "PATCH",
        path: "/items/*",
        permission: Permission::ItemsWrite,
        label: "PATCH /items/{id}",
    },
    Route {
        method: "DELETE",
        path: "/items/*",
        permission: Permission::ItemsDelete,
        label: "DELETE /items/{id}",
    },
];

/// How a concrete request matches the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteMatch {
    /// The method and path name a route.
    Found(&'static Route),
    /// The path exists but not with this method; the methods it allows, for `Allow`.
    MethodNotAllowed(&'static [&'static str]),
    /// No route has this path.
    NotFound,
}

const ITEMS_METHODS: &[&str] = &["GET", "POST"];
const ITEM_METHODS: &[&str] = &["GET", "PUT", "PATCH", "DELETE"];

impl Route {
    /// Whether `path` (a concrete request path with a leading `/`) matches this
    /// route's pattern. A `*` segment matches exactly one non-empty segment, as
    /// a `{param}` resource does in API Gateway.
    pub fn matches_path(&self, path: &str) -> bool {
        segments_match(self.path, path)
    }
}

/// Whether `path` matches `pattern` segment by segment (`*`: one non-empty
/// segment).
pub(crate) fn segments_match(pattern: &str, path: &str) -> bool {
    let mut pat = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (pat.next(), got.next()) {
            (None, None) => return true,
            (Some("*"), Some(seg)) if !seg.is_empty() => {}
            (Some(p), Some(seg)) if p == seg => {}
            _ => return false,
        }
    }
}

/// Finds the route for a concrete request.
pub fn match_route(method: &str, path: &str) -> RouteMatch {
    let mut allowed: Option<&'static [&'static str]> = None;
    for route in ROUTES {
        if route.matches_path(path) {
            if route.method == method {
                return RouteMatch::Found(route);
            }
            allowed = Some(if route.path == "/items" {
                ITEMS_METHODS
            } else {
                ITEM_METHODS
            });
        }
    }
    match allowed {
        Some(methods) => RouteMatch::MethodNotAllowed(methods),
        None => RouteMatch::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_arn_names_its_route_without_the_leading_slash() {
        let arn = |m: &str, r: &str| -> crate::MethodArn {
            format!("arn:aws:execute-api:us-east-1:123456789012:a/s/{m}/{r}")
                .parse()
                .unwrap()
        };
        assert_eq!(
            arn("GET", "items/42").route().map(|r| r.label),
            Some("GET /items/{id}")
        );
        assert_eq!(
            arn("POST", "items").route().map(|r| r.label),
            Some("POST /items")
        );
        assert_eq!(arn("POST", "items/42").route(), None);
        assert_eq!(arn("GET", "items/42/x").route(), None);
        assert_eq!(arn("GET", "").route(), None);
    }

    #[test]
    fn each_label_is_the_method_and_the_templates_path() {
        for r in ROUTES {
            assert_eq!(
                r.label,
                format!("{} {}", r.method, r.path.replace('*', "{id}"))
            );
        }
    }

    #[test]
    fn every_route_of_the_contract_needs_its_permission() {
        let need = |m, p| match match_route(m, p) {
            RouteMatch::Found(r) => Some(r.permission),
            _ => None,
        };
        assert_eq!(need("GET", "/items"), Some(Permission::ItemsRead));
        assert_eq!(need("GET", "/items/01J"), Some(Permission::ItemsRead));
        assert_eq!(need("POST", "/items"), Some(Permission::ItemsWrite));
        assert_eq!(need("PUT", "/items/x"), Some(Permission::ItemsWrite));
        assert_eq!(need("PATCH", "/items/x"), Some(Permission::ItemsWrite));
        assert_eq!(need("DELETE", "/items/x"), Some(Permission::ItemsDelete));
    }

    #[test]
    fn a_param_segment_matches_exactly_one_non_empty_segment() {
        assert_eq!(match_route("GET", "/items/"), RouteMatch::NotFound);
        assert_eq!(match_route("GET", "/items/a/b"), RouteMatch::NotFound);
        assert_eq!(match_route("GET", "/other"), RouteMatch::NotFound);
    }

    #[test]
    fn a_known_path_with_another_method_lists_the_allowed_methods() {
        assert_eq!(
            match_route("DELETE", "/items"),
            RouteMatch::MethodNotAllowed(ITEMS_METHODS)
        );
        assert_eq!(
            match_route("POST", "/items/x"),
            RouteMatch::MethodNotAllowed(ITEM_METHODS)
        );
    }

    #[test]
    fn the_allow_lists_agree_with_the_table() {
        for (path, list) in [("/items", ITEMS_METHODS), ("/items/x", ITEM_METHODS)] {
            let mut from_table: Vec<_> = ROUTES
                .iter()
                .filter(|r| r.matches_path(path))
                .map(|r| r.method)
                .collect();
            let mut listed = list.to_vec();
            from_table.sort_unstable();
            listed.sort_unstable();
            assert_eq!(from_table, listed);
        }
    }
}
