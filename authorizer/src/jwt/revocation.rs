//! Revocation: asking Cognito whether an access token still stands.
//!
//! A signature and an `exp` cannot show that a user signed out everywhere or
//! that a refresh token (and the access tokens minted from it) was revoked;
//! only Cognito knows. `GetUser` with the access token answers exactly that:
//! it fails with `NotAuthorizedException` for a revoked token.

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};
use tracing::warn;

use crate::BoxFuture;
use crate::reject::Rejection;

/// Whether an access token was revoked.
pub trait RevocationCheck: Send + Sync {
    /// `Ok(())` if Cognito still honours `access_token`; otherwise
    /// [`Rejection::Revoked`], or [`Rejection::RevocationUnavailable`] when it
    /// could not be asked (fail closed).
    fn check<'a>(&'a self, access_token: &'a str) -> BoxFuture<'a, Result<(), Rejection>>;
}

/// Asks Cognito with `GetUser` through the AWS SDK.
#[derive(Debug, Clone)]
pub struct CognitoRevocation {
    client: Client,
}

impl CognitoRevocation {
    /// A checker using `client`.
    pub fn new(client: Client) -> Self {
        CognitoRevocation { client }
    }
}

impl RevocationCheck for CognitoRevocation {
    fn check<'a>(&'a self, access_token: &'a str) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(async move {
            match self
                .client
                .get_user()
                .access_token(access_token)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(SdkError::ServiceError(e))
                    if e.err().is_not_authorized_exception()
                        || e.err().is_user_not_found_exception() =>
                {
                    Err(Rejection::Revoked)
                }
                Err(e) => {
                    // Only the error code and kind: the SDK's message could in
                    // principle echo request data, and the token must not leak.
                    warn!(
                        code = e.code().unwrap_or("none"),
                        kind = sdk_error_kind(&e),
                        "revocation check failed; refusing the token"
                    );
                    Err(Rejection::RevocationUnavailable)
                }
            }
        })
    }
}

fn sdk_error_kind<E, R>(e: &SdkError<E, R>) -> &'static str {
    match e {
        SdkError::ConstructionFailure(_) => "construction",
        SdkError::TimeoutError(_) => "timeout",
        SdkError::DispatchFailure(_) => "dispatch",
        SdkError::ResponseError(_) => "response",
        SdkError::ServiceError(_) => "service",
        _ => "other",
    }
}
