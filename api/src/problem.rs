//! Every error a request can end in, and the one place that turns it into an
//! `application/problem+json` response (RFC 9457).
//!
//! Bodies say what the client can act on; causes (SDK errors, stored-data
//! problems) go to the log, never into a response.

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use policies::Permission;
use serde::Serialize;

use crate::cursor::CursorError;
use crate::item::{FieldError, ValidationErrors};
use crate::store::StoreError;
use policies::ContextError;

/// The largest body accepted: 64 KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Seconds a client should wait after a 503 (or an in-flight idempotent
/// request) before retrying.
pub const RETRY_AFTER_SECONDS: &str = "1";

/// Why a request was not served.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No usable identity in the authorizer context: 401 without a usable
    /// owner, 403 when the permissions cannot be read (fail closed).
    #[error("no identity")]
    Unauthenticated(#[source] ContextError),
    /// The credential behind a (cached) authorization has expired (401).
    #[error("the credential has expired")]
    CredentialExpired,
    /// The caller lacks the route's permission (403).
    #[error("missing permission {0}")]
    Forbidden(Permission),
    /// No route has this path (404).
    #[error("no such route")]
    RouteNotFound,
    /// The path exists with other methods (405).
    #[error("method not allowed")]
    MethodNotAllowed(&'static [&'static str]),
    /// The body is not JSON (400).
    #[error("the body is not valid JSON")]
    InvalidJson(#[source] serde_json::Error),
    /// The body is JSON but not an object (400).
    #[error("the body is not a JSON object")]
    NotAnObject,
    /// Fields, path or query values are invalid (400).
    #[error("invalid input")]
    Validation(#[source] ValidationErrors),
    /// The `cursor` query parameter was refused (400).
    #[error("invalid cursor")]
    InvalidCursor(#[source] CursorError),
    /// The body exceeds [`MAX_BODY_BYTES`] (413).
    #[error("body too large")]
    PayloadTooLarge,
    /// The body is not declared as JSON (415); the media types accepted.
    #[error("unsupported media type")]
    UnsupportedMediaType(&'static str),
    /// No such item for this owner (404).
    #[error("no such item")]
    NotFound,
    /// `If-Match` does not match the current version (412).
    #[error("precondition failed")]
    PreconditionFailed,
    /// The `Idempotency-Key` was first used with another body (409).
    #[error("idempotency key reused with another body")]
    IdempotencyKeyReused,
    /// An update without `If-Match` lost every race it ran (409).
    #[error("the item kept changing during the update")]
    EditConflict,
    /// Storage failed (503 when retrying helps, else 500).
    #[error("storage failed")]
    Store(#[source] StoreError),
    /// A response could not be serialized (500).
    #[error("response serialization failed")]
    Serialize(#[source] serde_json::Error),
}

/// The problem document.
#[derive(Debug, Serialize)]
struct Problem<'a> {
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
}

impl ApiError {
    /// The error as a single-field validation error.
    pub fn field(field: &str, detail: impl Into<String>) -> Self {
        ApiError::Validation(ValidationErrors::one(field, detail))
    }

    /// The response status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated(
                ContextError::UnknownPermission(_) | ContextError::WrongType("permissions"),
            ) => StatusCode::FORBIDDEN,
            ApiError::Unauthenticated(_) | ApiError::CredentialExpired => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::RouteNotFound | ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::InvalidJson(_)
            | ApiError::NotAnObject
            | ApiError::Validation(_)
            | ApiError::InvalidCursor(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::IdempotencyKeyReused | ApiError::EditConflict => StatusCode::CONFLICT,
            ApiError::Store(e) => match e {
                StoreError::NotFound => StatusCode::NOT_FOUND,
                StoreError::VersionMismatch { .. } => StatusCode::PRECONDITION_FAILED,
                StoreError::IdempotencyKeyUsed(_) | StoreError::IdempotencyKeyInFlight => {
                    StatusCode::CONFLICT
                }
                StoreError::Throttled(_) | StoreError::Unavailable(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                StoreError::AlreadyExists | StoreError::Corrupt(_) | StoreError::Backend(_) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            },
            ApiError::Serialize(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::Unauthenticated(
                ContextError::UnknownPermission(_) | ContextError::WrongType("permissions"),
            ) => "The authorizer's permissions for this request are not understood.".into(),
            ApiError::Unauthenticated(_) => {
                "The request carries no usable identity from the authorizer.".into()
            }
            ApiError::CredentialExpired => {
                "The credential this request was authorized with has expired; sign in again or use a valid key.".into()
            }
            ApiError::Forbidden(p) => format!("This route needs the permission {p}."),
            ApiError::RouteNotFound => "No route matches this path.".into(),
            ApiError::MethodNotAllowed(allow) => {
                format!("This path allows {}.", allow.join(", "))
            }
            // serde_json's message names the position, nothing internal.
            ApiError::InvalidJson(e) => format!("The body is not valid JSON: {e}."),
            ApiError::NotAnObject => "The body must be a JSON object.".into(),
            ApiError::Validation(_) | ApiError::InvalidCursor(_) => {
                "The request has invalid values; see errors.".into()
            }
            ApiError::PayloadTooLarge => {
                format!("The body is larger than {MAX_BODY_BYTES} bytes.")
            }
            ApiError::UnsupportedMediaType(accepted) => {
                format!("The body must be sent as {accepted}.")
            }
            ApiError::NotFound => "No item has this id.".into(),
            ApiError::PreconditionFailed => {
                "The item's current version does not match If-Match.".into()
            }
            ApiError::IdempotencyKeyReused => {
                "This Idempotency-Key was already used with a different request body.".into()
            }
            ApiError::EditConflict => {
                "The item kept changing while it was being updated; retry.".into()
            }
            ApiError::Store(StoreError::IdempotencyKeyInFlight) => {
                "A request with this Idempotency-Key is still in progress; retry later.".into()
            }
            ApiError::Store(StoreError::IdempotencyKeyUsed(_)) => {
                "This Idempotency-Key was already used.".into()
            }
            ApiError::Store(StoreError::NotFound) => "No item has this id.".into(),
            ApiError::Store(StoreError::VersionMismatch { .. }) => {
                "The item's current version does not match If-Match.".into()
            }
            ApiError::Store(StoreError::Throttled(_) | StoreError::Unavailable(_)) => {
                "The service is busy; retry later.".into()
            }
            ApiError::Store(_) | ApiError::Serialize(_) => "An internal error occurred.".into(),
        }
    }

    /// The per-field errors of a 400.
    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            ApiError::Validation(v) => v.0.clone(),
            ApiError::InvalidCursor(e) => vec![FieldError::new("cursor", e.to_string())],
            _ => Vec::new(),
        }
    }

    /// The problem+json response for this error. The one place errors become
    /// responses; it also logs what the response leaves out.
    pub fn to_response(&self) -> Response<Body> {
        let status = self.status();
        self.log(status);
        let errors = self.field_errors();
        let problem = Problem {
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.detail(),
            errors: &errors,
        };
        // Serializing a struct of strings cannot fail; the fallback keeps the
        // status if it ever did.
        let body = serde_json::to_string(&problem).unwrap_or_else(|_| String::from("{}"));
        let mut response = Response::new(Body::Text(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match self {
            ApiError::Unauthenticated(_) if status == StatusCode::UNAUTHORIZED => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            // RFC 6750: the token is expired, so the client knows to get a new one.
            ApiError::CredentialExpired => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer error="invalid_token""#),
                );
            }
            ApiError::MethodNotAllowed(allow) => {
                if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
                    headers.insert(header::ALLOW, v);
                }
            }
            _ => {}
        }
        if status == StatusCode::SERVICE_UNAVAILABLE
            || matches!(self, ApiError::Store(StoreError::IdempotencyKeyInFlight))
        {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        response
    }

    fn log(&self, status: StatusCode) {
        let chain = ErrorChain(self);
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), error = %chain, "request failed");
        } else if let ApiError::Unauthenticated(ContextError::OwnerMismatch(field)) = self {
            // Only a context this authorizer did not write can disagree with
            // itself: another authorizer wired in, or a forged event.
            tracing::error!(
                status = status.as_u16(),
                mismatch = "authorizer/api",
                field,
                error = %chain,
                "authorizer/api mismatch: the context's owner disagrees with it"
            );
        } else if matches!(self, ApiError::Unauthenticated(_)) {
            // Behind the authorizer this cannot happen: a deployment problem.
            tracing::warn!(status = status.as_u16(), error = %chain, "request without identity");
        } else {
            tracing::debug!(status = status.as_u16(), error = %chain, "request refused");
        }
    }
}

/// Displays an error with all its sources, for logs.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn render(err: ApiError) -> (u16, Value, http::HeaderMap) {
        let r = err.to_response();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body: Value = serde_json::from_slice(r.body().as_ref()).unwrap();
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(body["status"], status);
        assert!(body["title"].is_string() && body["detail"].is_string());
        (status, body, headers)
    }

    fn boxed(msg: &str) -> crate::store::BoxError {
        msg.to_owned().into()
    }

    #[test]
    fn every_error_maps_to_its_status() {
        let cases: Vec<(ApiError, u16)> = vec![
            (
                ApiError::Unauthenticated(ContextError::Missing("owner")),
                401,
            ),
            (
                ApiError::Unauthenticated(ContextError::OwnerMismatch("sub")),
                401,
            ),
            (ApiError::CredentialExpired, 401),
            (
                ApiError::Unauthenticated(ContextError::WrongType("permissions")),
                403,
            ),
            (
                ApiError::Unauthenticated(ContextError::UnknownPermission(
                    policies::UnknownPermission("items:admin".into()),
                )),
                403,
            ),
            (ApiError::Forbidden(Permission::ItemsWrite), 403),
            (ApiError::RouteNotFound, 404),
            (ApiError::MethodNotAllowed(&["GET", "POST"]), 405),
            (
                ApiError::InvalidJson(serde_json::from_str::<Value>("{").unwrap_err()),
                400,
            ),
            (ApiError::NotAnObject, 400),
            (ApiError::field("name", "is required"), 400),
            (ApiError::InvalidCursor(CursorError::Malformed), 400),
            (ApiError::PayloadTooLarge, 413),
            (ApiError::UnsupportedMediaType("application/json"), 415),
            (ApiError::NotFound, 404),
            (ApiError::PreconditionFailed, 412),
            (ApiError::IdempotencyKeyReused, 409),
            (ApiError::EditConflict, 409),
            (ApiError::Store(StoreError::NotFound), 404),
            (
                ApiError::Store(StoreError::VersionMismatch {
                    expected: 1,
                    actual: 2,
                }),
                412,
            ),
            (ApiError::Store(StoreError::IdempotencyKeyInFlight), 409),
            (ApiError::Store(StoreError::Throttled(boxed("t"))), 503),
            (ApiError::Store(StoreError::Unavailable(boxed("u"))), 503),
            (ApiError::Store(StoreError::AlreadyExists), 500),
            (ApiError::Store(StoreError::Corrupt("c".into())), 500),
            (ApiError::Store(StoreError::Backend(boxed("b"))), 500),
        ];
        for (err, want) in cases {
            let label = format!("{err:?}");
            let (status, _, _) = render(err);
            assert_eq!(status, want, "{label}");
        }
    }

    #[test]
    fn throttling_is_a_503_with_retry_after_and_no_internals() {
        let (_, body, headers) = render(ApiError::Store(StoreError::Throttled(boxed(
            "ProvisionedThroughputExceededException: table items-prod",
        ))));
        assert_eq!(headers[header::RETRY_AFTER], "1");
        let text = body.to_string();
        assert!(
            !text.contains("items-prod") && !text.contains("Provisioned"),
            "{text}"
        );
        assert_eq!(body["title"], "Service Unavailable");
    }

    #[test]
    fn other_store_failures_are_a_500_without_internals_or_retry_after() {
        let (status, body, headers) = render(ApiError::Store(StoreError::Backend(boxed(
            "ValidationException: arn:aws:dynamodb:secret",
        ))));
        assert_eq!(status, 500);
        assert!(headers.get(header::RETRY_AFTER).is_none());
        assert_eq!(body["detail"], "An internal error occurred.");
        assert!(!body.to_string().contains("arn:"));
    }

    #[test]
    fn validation_errors_name_each_field() {
        let err = ApiError::Validation(ValidationErrors(vec![
            FieldError::new("name", "is required"),
            FieldError::new("tags[2]", "must be a string"),
        ]));
        let (_, body, _) = render(err);
        assert_eq!(
            body["errors"],
            json!([{"field": "name", "detail": "is required"},
                   {"field": "tags[2]", "detail": "must be a string"}])
        );
    }

    #[test]
    fn a_bad_cursor_names_the_cursor_parameter() {
        let (_, body, _) = render(ApiError::InvalidCursor(CursorError::NotIssuedToCaller));
        assert_eq!(body["errors"][0]["field"], "cursor");
    }

    #[test]
    fn a_405_lists_the_allowed_methods() {
        let (_, _, headers) = render(ApiError::MethodNotAllowed(&["GET", "PUT"]));
        assert_eq!(headers[header::ALLOW], "GET, PUT");
    }

    #[test]
    fn a_401_asks_for_a_bearer_token_and_errors_without_fields_omit_errors() {
        let (_, body, headers) = render(ApiError::Unauthenticated(ContextError::Absent));
        assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
        assert!(body.get("errors").is_none());
    }

    #[test]
    fn an_expired_credential_says_invalid_token() {
        let (status, body, headers) = render(ApiError::CredentialExpired);
        assert_eq!(status, 401);
        assert_eq!(
            headers[header::WWW_AUTHENTICATE],
            r#"Bearer error="invalid_token""#
        );
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(body["status"], 401);
    }

    #[test]
    fn a_403_names_the_missing_permission() {
        let (_, body, _) = render(ApiError::Forbidden(Permission::ItemsDelete));
        assert_eq!(
            body["detail"],
            "This route needs the permission items:delete."
        );
    }

    #[test]
    fn an_in_flight_idempotent_request_says_when_to_retry() {
        let (_, _, headers) = render(ApiError::Store(StoreError::IdempotencyKeyInFlight));
        assert_eq!(headers[header::RETRY_AFTER], "1");
    }
}
