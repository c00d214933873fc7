//! API Gateway authorization vocabulary, shared by the authorizer, the api and
//! the local stack: the permissions, the route table, the grant rules, method
//! ARNs, IAM policy documents and an evaluator with API Gateway's semantics;
//! the owner namespaces, the authorizer context and the accepted spellings of
//! a credential, each one type that every side uses.
//!
//! Pure by design: no I/O, no clock, no environment. Everything here is a
//! function of its arguments, so it can be tested exhaustively.
//!
//! ```
//! use policies::{
//!     INVOKE_ACTION, MethodArn, TokenUse, evaluate, permissions_for_token, policy_for,
//! };
//!
//! let arn: MethodArn = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/items/42"
//!     .parse()?;
//! let perms = permissions_for_token(TokenUse::Access, ["items/read"], []);
//! let policy = policy_for(&arn.prefix(), perms);
//!
//! // The policy covers every route the permissions grant, not only this one.
//! let post = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST/items";
//! assert!(evaluate(&policy, INVOKE_ACTION, &arn.to_string()).is_allowed());
//! assert!(!evaluate(&policy, INVOKE_ACTION, post).is_allowed());
//! # Ok::<(), policies::ArnError>(())
//! ```

pub mod arn;
pub mod builder;
pub mod context;
pub mod credential;
pub mod document;
pub mod evaluate;
pub mod grants;
pub mod owner;
pub mod permission;
pub mod routes;

pub use arn::{ApiPrefix, ArnError, MethodArn};
pub use builder::{deny_all_resource, policy_for, route_resource};
pub use context::{AuthContext, AuthType, ContextError, Principal, flatten};
pub use credential::{
    API_KEY_PATTERN, AUTHORIZATION_PATTERN, Presented, api_key_is_canonical,
    authorization_is_canonical, presented_credential,
};
pub use document::{Effect, INVOKE_ACTION, POLICY_VERSION, PolicyDocument, Statement};
pub use evaluate::{Decision, action_matches, evaluate, glob_match};
pub use grants::{
    FIRST_PARTY_SCOPE, READONLY_GROUP, SCOPE_ITEMS_DELETE, SCOPE_ITEMS_READ, SCOPE_ITEMS_WRITE,
    TokenUse, UnknownTokenUse, permissions_for_token, scope_permission,
};
pub use owner::{COGNITO_ISSUER, Owner, OwnerError, OwnerKind, is_valid_alias};
pub use permission::{Permission, PermissionSet, UnknownPermission};
pub use routes::{ROUTES, Route, RouteMatch, match_route};
