//! API Gateway authorization vocabulary, shared by the authorizer, the api and
//! the local stack: the permissions, the route table, the grant rules, method
//! ARNs, IAM policy documents and an evaluator with API Gateway's semantics.
//!
//! Pure by design: no I/O, no clock, no environment. Everything here is a
//! function of its arguments, so it can be tested exhaustively.

pub mod permission;
pub mod routes;

pub use permission::{Permission, PermissionSet, UnknownPermission};
pub use routes::{ROUTES, Route, RouteMatch, match_route};
