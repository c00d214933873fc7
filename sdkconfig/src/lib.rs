//! The AWS SDK configuration both functions build at cold start, in one
//! place: what Lambda gives a function and nothing it does not.
//!
//! - **Credentials and region from the environment** (Lambda sets
//!   `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` and
//!   `AWS_REGION`). The SDK's default chains would also build the profile,
//!   SSO, web-identity (an STS client) and instance-metadata providers at
//!   every cold start, none of which a Lambda has; without them a missing
//!   variable fails the first call instead of walking to the metadata
//!   address.
//! - **Compiled-in roots** ([`roots`]): no read of the system's store, and
//!   in the commercial partition only the five roots AWS's endpoints chain
//!   to.
//! - **Bounded calls**: each function passes its own timeouts.
//!
//! Endpoints still come from the SDK's environment (`AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_<SERVICE>`), so tests point the real clients at moto.
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//! let timeouts = aws_config::timeout::TimeoutConfig::builder()
//!     .operation_timeout(Duration::from_secs(5))
//!     .build();
//! let sdk = sdkconfig::for_lambda(timeouts).await;
//! # let _ = sdk;
//! # }
//! ```

pub mod roots;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

pub use roots::SdkRoots;

/// The SDK configuration of a Lambda function: environment credentials and
/// region, `timeouts`, and an HTTPS client trusting
/// [`SdkRoots::from_env`]'s compiled-in roots.
pub async fn for_lambda(timeouts: TimeoutConfig) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
        .region(aws_config::environment::EnvironmentVariableRegionProvider::new())
        .timeout_config(timeouts)
        .http_client(roots::http_client(SdkRoots::from_env()))
        .load()
        .await
}
