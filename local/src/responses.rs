//! API Gateway's own answers (gateway responses) and the CORS preflight, as
//! the SAM template configures them.
//!
//! The template's `GatewayResponses` turn each into `application/problem+json`
//! with `Access-Control-Allow-Origin`, putting API Gateway's message
//! (`$context.error.messageString`) into `detail`; types it does not list fall
//! back to its `DEFAULT_4XX`/`DEFAULT_5XX` bodies, which carry the response
//! type in `errorType`. The status codes and messages are API Gateway's
//! defaults, and `x-amzn-ErrorType` is the header API Gateway adds.
//!
//! The preflight is what SAM's `Cors` setting generates: a mock `OPTIONS`
//! method on each resource, answered without the authorizer.

use axum::body::Body;
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Value, json};

/// `Access-Control-Allow-Methods` of the preflight (the template's).
pub const ALLOW_METHODS: &str = "GET,POST,PUT,PATCH,DELETE,OPTIONS";
/// `Access-Control-Allow-Headers` of the preflight (the template's).
pub const ALLOW_HEADERS: &str = "Authorization,Content-Type,If-Match,Idempotency-Key";
/// `Access-Control-Max-Age` of the preflight (the template's).
pub const MAX_AGE: &str = "600";

const PROBLEM_JSON: &str = "application/problem+json";

/// A request API Gateway answers itself, without the api.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayError {
    /// No resource/method for the request: REST APIs answer 403
    /// `Missing Authentication Token` (`MISSING_AUTHENTICATION_TOKEN`).
    MissingAuthenticationToken,
    /// The identity source is missing or the authorizer said `Unauthorized`
    /// (`UNAUTHORIZED`).
    Unauthorized,
    /// The cached or returned policy does not allow the method ARN
    /// (`ACCESS_DENIED`); `explicit` when a `Deny` statement matched.
    AccessDenied {
        /// A `Deny` statement matched (rather than no `Allow`).
        explicit: bool,
    },
    /// Every method requires an API key (as in the template) and the
    /// authorizer returned no `usageIdentifierKey` (`INVALID_API_KEY`).
    InvalidApiKey,
    /// A throttle refused the request (`THROTTLED`).
    Throttled,
    /// The authorizer failed otherwise (`AUTHORIZER_CONFIGURATION_ERROR`).
    AuthorizerFailure,
    /// The body is over API Gateway's 10 MB payload limit (`REQUEST_TOO_LARGE`).
    RequestTooLarge,
    /// The request validator refused the body: not JSON, or not valid
    /// against the method's model (`BAD_REQUEST_BODY`).
    BadRequestBody,
    /// The stage's web ACL blocked the request (`WAF_FILTERED`): the
    /// template lists no such response, so its `DEFAULT_4XX` renders it.
    WafFiltered,
}

impl GatewayError {
    /// The HTTP status API Gateway answers with.
    pub fn status(self) -> StatusCode {
        match self {
            GatewayError::MissingAuthenticationToken
            | GatewayError::AccessDenied { .. }
            | GatewayError::InvalidApiKey
            | GatewayError::WafFiltered => StatusCode::FORBIDDEN,
            GatewayError::Unauthorized => StatusCode::UNAUTHORIZED,
            GatewayError::Throttled => StatusCode::TOO_MANY_REQUESTS,
            GatewayError::AuthorizerFailure => StatusCode::INTERNAL_SERVER_ERROR,
            GatewayError::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::BadRequestBody => StatusCode::BAD_REQUEST,
        }
    }

    /// The gateway response type.
    pub fn response_type(self) -> &'static str {
        match self {
            GatewayError::MissingAuthenticationToken => "MISSING_AUTHENTICATION_TOKEN",
            GatewayError::Unauthorized => "UNAUTHORIZED",
            GatewayError::AccessDenied { .. } => "ACCESS_DENIED",
            GatewayError::InvalidApiKey => "INVALID_API_KEY",
            GatewayError::Throttled => "THROTTLED",
            GatewayError::AuthorizerFailure => "AUTHORIZER_CONFIGURATION_ERROR",
            GatewayError::RequestTooLarge => "REQUEST_TOO_LARGE",
            GatewayError::BadRequestBody => "BAD_REQUEST_BODY",
            GatewayError::WafFiltered => "WAF_FILTERED",
        }
    }

    /// `$context.error.message`; `None` renders as JSON `null`, as API
    /// Gateway's message for an authorizer error does.
    pub fn message(self) -> Option<&'static str> {
        match self {
            GatewayError::MissingAuthenticationToken => Some("Missing Authentication Token"),
            GatewayError::Unauthorized => Some("Unauthorized"),
            GatewayError::AccessDenied { explicit: false } => {
                Some("User is not authorized to access this resource")
            }
            GatewayError::AccessDenied { explicit: true } => {
                Some("User is not authorized to access this resource with an explicit deny")
            }
            GatewayError::InvalidApiKey => Some("Forbidden"),
            GatewayError::Throttled => Some("Too Many Requests"),
            GatewayError::AuthorizerFailure => None,
            GatewayError::RequestTooLarge => Some("Request Too Long"),
            GatewayError::BadRequestBody => Some("Invalid request body"),
            GatewayError::WafFiltered => Some("Forbidden"),
        }
    }

    /// `x-amzn-ErrorType`.
    fn error_type_header(self) -> &'static str {
        match self {
            GatewayError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            GatewayError::Unauthorized => "UnauthorizedException",
            GatewayError::AccessDenied { .. } => "AccessDeniedException",
            GatewayError::InvalidApiKey => "ForbiddenException",
            GatewayError::Throttled => "TooManyRequestsException",
            GatewayError::AuthorizerFailure => "AuthorizerConfigurationException",
            GatewayError::RequestTooLarge => "RequestTooLargeException",
            GatewayError::BadRequestBody => "BadRequestException",
            GatewayError::WafFiltered => "ForbiddenException",
        }
    }

    /// The body the template's gateway response renders.
    pub fn body(self) -> Value {
        let detail = self.message().map_or(Value::Null, |m| json!(m));
        let status = self.status().as_u16();
        match self {
            GatewayError::Unauthorized => {
                json!({"type": "about:blank", "title": "Unauthorized", "status": status, "detail": detail})
            }
            GatewayError::AccessDenied { .. } | GatewayError::InvalidApiKey => {
                json!({"type": "about:blank", "title": "Forbidden", "status": status, "detail": detail})
            }
            GatewayError::Throttled => {
                json!({"type": "about:blank", "title": "Too Many Requests", "status": status, "detail": detail})
            }
            GatewayError::BadRequestBody => {
                json!({"type": "about:blank", "title": "Bad Request", "status": status, "detail": detail})
            }
            GatewayError::AuthorizerFailure => {
                json!({"type": "about:blank", "title": "Server error", "detail": detail, "errorType": self.response_type()})
            }
            GatewayError::MissingAuthenticationToken
            | GatewayError::RequestTooLarge
            | GatewayError::WafFiltered => {
                json!({"type": "about:blank", "title": "Request refused", "detail": detail, "errorType": self.response_type()})
            }
        }
    }

    /// The whole response, with the template's headers.
    pub fn to_response(self, cors_origin: &HeaderValue) -> Response<Body> {
        let mut response = Response::new(Body::from(self.body().to_string()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, cors_origin.clone());
        headers.insert(
            "x-amzn-errortype",
            HeaderValue::from_static(self.error_type_header()),
        );
        if self == GatewayError::Unauthorized {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The answer to a CORS preflight on a resource of the API.
pub fn preflight(cors_origin: &HeaderValue) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, cors_origin.clone());
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW_METHODS),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthorized_renders_the_templates_problem_json() {
        let r = GatewayError::Unauthorized.to_response(&HeaderValue::from_static("*"));
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(
            GatewayError::Unauthorized.body(),
            json!({"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "Unauthorized"})
        );
    }

    #[test]
    fn an_unknown_route_is_a_403_missing_authentication_token() {
        let e = GatewayError::MissingAuthenticationToken;
        assert_eq!(e.status(), 403);
        assert_eq!(e.body()["detail"], "Missing Authentication Token");
        assert_eq!(e.body()["errorType"], "MISSING_AUTHENTICATION_TOKEN");
    }

    #[test]
    fn a_refused_body_renders_the_templates_problem_json() {
        let r = GatewayError::BadRequestBody.to_response(&HeaderValue::from_static("*"));
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(r.headers()["x-amzn-errortype"], "BadRequestException");
        assert_eq!(
            GatewayError::BadRequestBody.body(),
            json!({"type": "about:blank", "title": "Bad Request", "status": 400, "detail": "Invalid request body"})
        );
    }

    #[test]
    fn a_waf_block_is_the_default_4xx_problem_json() {
        let e = GatewayError::WafFiltered;
        assert_eq!(e.status(), 403);
        assert_eq!(
            e.body(),
            json!({"type": "about:blank", "title": "Request refused", "detail": "Forbidden", "errorType": "WAF_FILTERED"})
        );
    }

    #[test]
    fn an_authorizer_error_is_a_500_with_a_null_message() {
        let e = GatewayError::AuthorizerFailure;
        assert_eq!(e.status(), 500);
        assert_eq!(e.body()["detail"], Value::Null);
    }
}
