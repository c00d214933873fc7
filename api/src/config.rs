//! Configuration, read once from the environment at cold start.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `TABLE_NAME` | the DynamoDB table | required |
//! | `CURSOR_KEY_SECRET_ID` | Secrets Manager id or ARN of the key authenticating list cursors (at least 32 bytes, the same for every instance), read once at cold start | required |
//! | `ALLOWED_ORIGIN` | the browser origin (or `*`) whose pages may read responses (CORS) | unset: no CORS headers |
//!
//! AWS region, endpoint and credentials come from the SDK's own environment.
//!
//! No secret value sits in a variable: `GetFunctionConfiguration` hands the
//! environment to anyone allowed to read the function, so the cursor key is
//! named by its secret's id and read with [`read_cursor_key`].

use aws_sdk_secretsmanager::error::DisplayErrorContext;

use crate::cors::{BadOrigin, Cors};
use crate::cursor::{CursorCodec, MIN_KEY_LEN, WeakCursorKey};

/// Every environment variable this crate reads (besides the AWS SDK's own and
/// `RUST_LOG`), so the SAM template can be checked against the code.
pub const VARIABLES: &[&str] = &[
    "TABLE_NAME",
    "CURSOR_KEY_SECRET_ID",
    "ALLOWED_ORIGIN",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_DISABLED",
];

/// A configuration the function cannot start with; the message names the
/// variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("{0} must be set")]
    Missing(&'static str),
    /// A variable is not valid Unicode.
    #[error("{0} is not valid Unicode")]
    NotUnicode(&'static str),
    /// The cursor key's secret is too short.
    #[error("CURSOR_KEY_SECRET_ID: the key must be at least {MIN_KEY_LEN} bytes")]
    WeakCursorKey(#[source] WeakCursorKey),
    /// The cursor key's secret could not be read.
    #[error("CURSOR_KEY_SECRET_ID: the secret could not be read: {0}")]
    CursorKeyUnreadable(String),
    /// `ALLOWED_ORIGIN` is not an origin.
    #[error("ALLOWED_ORIGIN: {0}")]
    BadOrigin(#[source] BadOrigin),
    /// A metrics setting is wrong.
    #[error(transparent)]
    Metrics(#[from] telemetry::MetricsConfigError),
}

/// The api's configuration.
#[derive(Clone)]
pub struct Config {
    /// `TABLE_NAME`.
    pub table_name: String,
    /// `CURSOR_KEY_SECRET_ID`.
    pub cursor_key_secret_id: String,
    /// Built from `ALLOWED_ORIGIN`.
    pub cors: Option<Cors>,
    /// `POWERTOOLS_METRICS_NAMESPACE` (default `SecuredApi`),
    /// `POWERTOOLS_SERVICE_NAME` (default `api`),
    /// `POWERTOOLS_METRICS_DISABLED` (default false).
    pub metrics: telemetry::MetricsConfig,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("cursor_key_secret_id", &self.cursor_key_secret_id)
            .field("cors", &self.cors)
            .field("metrics", &self.metrics)
            .finish()
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name))
    }

    /// Reads configuration through `var` (the environment, or a map in tests).
    pub fn from_lookup(
        var: impl Fn(&str) -> Result<String, std::env::VarError>,
    ) -> Result<Self, ConfigError> {
        let required = |name: &'static str| match var(name) {
            Ok(v) if !v.is_empty() => Ok(v),
            Ok(_) | Err(std::env::VarError::NotPresent) => Err(ConfigError::Missing(name)),
            Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::NotUnicode(name)),
        };
        let table_name = required("TABLE_NAME")?;
        let cursor_key_secret_id = required("CURSOR_KEY_SECRET_ID")?;
        let cors = match var("ALLOWED_ORIGIN") {
            Ok(v) if !v.is_empty() => Some(Cors::new(&v).map_err(ConfigError::BadOrigin)?),
            Ok(_) | Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(ConfigError::NotUnicode("ALLOWED_ORIGIN"));
            }
        };
        let metrics = telemetry::MetricsConfig::from_lookup(|name| var(name).ok(), "api")?;
        Ok(Config {
            table_name,
            cursor_key_secret_id,
            cors,
            metrics,
        })
    }
}

/// Reads the cursor key from Secrets Manager (cold start) and builds the
/// codec; the key never leaves this function but inside the codec.
pub async fn read_cursor_key(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<CursorCodec, ConfigError> {
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        // The SDK's error names the operation and the service's error code;
        // it never carries the secret's value.
        .map_err(|e| ConfigError::CursorKeyUnreadable(DisplayErrorContext(e).to_string()))?;
    let key = out
        .secret_string()
        .ok_or_else(|| ConfigError::CursorKeyUnreadable("the secret has no SecretString".into()))?;
    CursorCodec::new(key.as_bytes()).map_err(ConfigError::WeakCursorKey)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::env::VarError;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Result<String, VarError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned().ok_or(VarError::NotPresent)
    }

    #[test]
    fn a_complete_environment_gives_a_config() {
        let c = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "items"),
            ("CURSOR_KEY_SECRET_ID", "cursor-key"),
        ]));
        assert!(
            matches!(c, Ok(c) if c.table_name == "items" && c.cursor_key_secret_id == "cursor-key")
        );
    }

    #[test]
    fn each_missing_variable_is_named() {
        let err = Config::from_lookup(lookup(&[("CURSOR_KEY_SECRET_ID", "s")])).unwrap_err();
        assert_eq!(err.to_string(), "TABLE_NAME must be set");
        let err = Config::from_lookup(lookup(&[("TABLE_NAME", "t")])).unwrap_err();
        assert_eq!(err.to_string(), "CURSOR_KEY_SECRET_ID must be set");
        let err = Config::from_lookup(lookup(&[("TABLE_NAME", ""), ("CURSOR_KEY_SECRET_ID", "x")]))
            .unwrap_err();
        assert_eq!(err.to_string(), "TABLE_NAME must be set");
    }

    #[test]
    fn no_variable_holds_a_secret_value() {
        assert!(!VARIABLES.contains(&"CURSOR_KEY"));
        for name in VARIABLES {
            assert!(
                !name.contains("KEY") || name.ends_with("_SECRET_ID"),
                "{name}"
            );
        }
    }
}
