//! Who is calling, taken only from the authorizer's context.
//!
//! API Gateway puts the context the authorizer returned into the event:
//! for REST APIs (payload 1.0) as the flat map `requestContext.authorizer`,
//! for HTTP APIs (payload 2.0) under `requestContext.authorizer.lambda`. The
//! api trusts nothing else for identity: no header, no claim of its own. The
//! map is read with [`policies::AuthContext::from_fields`], the same type the
//! authorizer wrote it with, so the two sides cannot drift apart; anything
//! missing, malformed or inconsistent is refused (fail closed).

use lambda_http::request::RequestContext;
use policies::{AuthContext, ContextError};

/// The caller of a request with this request context.
pub fn caller(ctx: Option<&RequestContext>) -> Result<AuthContext, ContextError> {
    let fields = match ctx {
        Some(RequestContext::ApiGatewayV1(c)) => Some(&c.authorizer.fields),
        Some(RequestContext::ApiGatewayV2(c)) => c.authorizer.as_ref().map(|a| &a.fields),
        _ => None,
    };
    match fields {
        Some(f) => AuthContext::from_fields(f),
        None => Err(ContextError::Absent),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn no_context_at_all_is_refused() {
        assert_eq!(caller(None), Err(ContextError::Absent));
    }
}
