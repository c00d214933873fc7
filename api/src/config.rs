//! Configuration, read once from the environment at cold start.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `TABLE_NAME` | the DynamoDB table | required |
//! | `CURSOR_KEY` | key authenticating list cursors, at least 32 bytes; the same for every instance | required |
//! | `ALLOWED_ORIGIN` | the browser origin (or `*`) whose pages may read responses (CORS) | unset: no CORS headers |
//!
//! AWS region, endpoint and credentials come from the SDK's own environment.

use crate::cors::{BadOrigin, Cors};
use crate::cursor::{CursorCodec, MIN_KEY_LEN, WeakCursorKey};

/// Every environment variable this crate reads (besides the AWS SDK's own and
/// `RUST_LOG`), so the SAM template can be checked against the code.
pub const VARIABLES: &[&str] = &["TABLE_NAME", "CURSOR_KEY", "ALLOWED_ORIGIN"];

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
    /// `CURSOR_KEY` is too short.
    #[error("CURSOR_KEY must be at least {MIN_KEY_LEN} bytes")]
    WeakCursorKey(#[source] WeakCursorKey),
    /// `ALLOWED_ORIGIN` is not an origin.
    #[error("ALLOWED_ORIGIN: {0}")]
    BadOrigin(#[source] BadOrigin),
}

/// The api's configuration.
#[derive(Clone)]
pub struct Config {
    /// `TABLE_NAME`.
    pub table_name: String,
    /// Built from `CURSOR_KEY`.
    pub cursors: CursorCodec,
    /// Built from `ALLOWED_ORIGIN`.
    pub cors: Option<Cors>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("cursors", &self.cursors)
            .field("cors", &self.cors)
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
        let key = required("CURSOR_KEY")?;
        let cursors = CursorCodec::new(key.as_bytes()).map_err(ConfigError::WeakCursorKey)?;
        let cors = match var("ALLOWED_ORIGIN") {
            Ok(v) if !v.is_empty() => Some(Cors::new(&v).map_err(ConfigError::BadOrigin)?),
            Ok(_) | Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(ConfigError::NotUnicode("ALLOWED_ORIGIN"));
            }
        };
        Ok(Config {
            table_name,
            cursors,
            cors,
        })
    }
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
        let key = "k".repeat(32);
        let c = Config::from_lookup(lookup(&[("TABLE_NAME", "items"), ("CURSOR_KEY", &key)]));
        assert!(matches!(c, Ok(c) if c.table_name == "items"));
    }

    #[test]
    fn each_missing_variable_is_named() {
        let err = Config::from_lookup(lookup(&[("CURSOR_KEY", &"k".repeat(32))])).unwrap_err();
        assert_eq!(err.to_string(), "TABLE_NAME must be set");
        let err = Config::from_lookup(lookup(&[("TABLE_NAME", "t")])).unwrap_err();
        assert_eq!(err.to_string(), "CURSOR_KEY must be set");
        let err =
            Config::from_lookup(lookup(&[("TABLE_NAME", ""), ("CURSOR_KEY", "x")])).unwrap_err();
        assert_eq!(err.to_string(), "TABLE_NAME must be set");
    }

    #[test]
    fn a_short_cursor_key_is_refused_at_start() {
        let err = Config::from_lookup(lookup(&[("TABLE_NAME", "t"), ("CURSOR_KEY", "short")]))
            .unwrap_err();
        assert!(matches!(err, ConfigError::WeakCursorKey(WeakCursorKey(5))));
        assert_eq!(err.to_string(), "CURSOR_KEY must be at least 32 bytes");
    }
}
