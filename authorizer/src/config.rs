//! Configuration, read once from the environment at cold start.
//!
//! Every variable of the contract is parsed and checked here, and a bad value
//! fails the cold start with a message that names the variable: an authorizer
//! that starts with a half-understood configuration would fail open or closed
//! in ways nobody chose. Nothing else in the crate reads the environment.
//! `TRUSTED_ISSUERS`, a JSON document of its own, is read by
//! [`trusted_issuers`].

pub mod trusted_issuers;

use std::time::Duration;

use reqwest::Url;

pub use trusted_issuers::{ClaimRequirement, TrustedIssuer};

/// Which Cognito tokens are accepted (`TOKEN_USE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUseSetting {
    /// Access tokens only (the default): what APIs should accept.
    Access,
    /// ID tokens only.
    Id,
    /// Either.
    Any,
}

/// The Cognito user pool the JWT path trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoConfig {
    /// `COGNITO_USER_POOL_ID`, e.g. `us-east-1_AbC123`.
    pub user_pool_id: String,
    /// The region, taken from the pool id.
    pub region: String,
    /// `COGNITO_CLIENT_IDS`: the app clients whose tokens may call.
    pub client_ids: Vec<String>,
    /// `TOKEN_USE`; default [`TokenUseSetting::Access`].
    pub token_use: TokenUseSetting,
    /// `JWKS_URI`, or `<regional issuer>/.well-known/jwks.json`.
    pub jwks_uri: Url,
    /// Plain `http` is allowed only when `JWKS_URI` was set explicitly to it.
    pub allow_http_jwks: bool,
    /// The accepted `iss` values: the regional and the global issuer form.
    pub issuers: [String; 2],
}

/// The partner key registry (`API_KEYS_SECRET_ID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeysConfig {
    /// Secrets Manager id or ARN of the registry.
    pub secret_id: String,
    /// `API_KEYS_CACHE_SECONDS`; default 300 s.
    pub cache_ttl: Duration,
}

/// The whole authorizer configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `None` when `COGNITO_USER_POOL_ID` is unset: JWT authentication is off.
    pub cognito: Option<CognitoConfig>,
    /// `JWT_LEEWAY_SECONDS`, 0–300; default 0.
    pub leeway_seconds: u64,
    /// `JWKS_TIMEOUT_MS`, one fetch from connect to last byte; default 1500 ms.
    pub jwks_timeout: Duration,
    /// `TRUSTED_ISSUERS`: OpenID issuers trusted besides the pool; default
    /// none. With issuers and no pool, JWTs of these issuers only are taken.
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// `None` when `API_KEYS_SECRET_ID` is unset: API keys are off.
    pub api_keys: Option<ApiKeysConfig>,
    /// `CHECK_REVOCATION`; default false.
    pub check_revocation: bool,
    /// `USER_USAGE_KEY_SECRET_ID`: the Secrets Manager secret holding the
    /// API Gateway API key value returned as `usageIdentifierKey` for Cognito
    /// users and trusted issuers' principals, so that methods can require an
    /// API key (which usage plans need)
    /// without locking users out. Read once at cold start; the value is never
    /// in the environment. Unset: none.
    pub user_usage_key_secret_id: Option<String>,
    /// `POWERTOOLS_METRICS_NAMESPACE` (default `SecuredApi`),
    /// `POWERTOOLS_SERVICE_NAME` (default `authorizer`),
    /// `POWERTOOLS_METRICS_DISABLED` (default false).
    pub metrics: telemetry::MetricsConfig,
}

/// A configuration the authorizer refuses to start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}{path}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// Within a JSON variable, the path at fault (`[1].algorithms[0]`);
    /// empty otherwise.
    pub path: String,
    /// What is wrong with it, and what was expected.
    pub problem: String,
}

fn invalid(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        path: String::new(),
        problem: problem.into(),
    }
}

/// Every environment variable this crate reads (besides the AWS SDK's own and
/// `RUST_LOG`), so the SAM template can be checked against the code.
pub const VARIABLES: &[&str] = &[
    "COGNITO_USER_POOL_ID",
    "COGNITO_CLIENT_IDS",
    "TOKEN_USE",
    "JWKS_URI",
    "JWT_LEEWAY_SECONDS",
    "JWKS_TIMEOUT_MS",
    "API_KEYS_SECRET_ID",
    "API_KEYS_CACHE_SECONDS",
    "TRUSTED_ISSUERS",
    "CHECK_REVOCATION",
    "USER_USAGE_KEY_SECRET_ID",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_DISABLED",
];

const MAX_LEEWAY_SECONDS: u64 = 300;
const MAX_JWKS_TIMEOUT_MS: u64 = 10_000;

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration from name/value pairs (tests, examples, the
    /// local stack), with the same rules as the environment.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| {
            pairs
                .iter()
                .find(|(k, _)| k.as_ref() == name)
                .map(|(_, v)| v.as_ref().to_owned())
        })
    }

    /// Reads the configuration through `lookup` (the environment in
    /// production, a map in tests). Empty values count as unset, because
    /// CloudFormation cannot leave a variable out conditionally.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let leeway_seconds = match get("JWT_LEEWAY_SECONDS") {
            None => 0,
            Some(v) => parse_in_range("JWT_LEEWAY_SECONDS", &v, 0, MAX_LEEWAY_SECONDS)?,
        };
        let jwks_timeout = Duration::from_millis(match get("JWKS_TIMEOUT_MS") {
            None => 1500,
            Some(v) => parse_in_range("JWKS_TIMEOUT_MS", &v, 1, MAX_JWKS_TIMEOUT_MS)?,
        });
        let check_revocation = match get("CHECK_REVOCATION").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(invalid(
                    "CHECK_REVOCATION",
                    format!("{other:?} is not a boolean; expected true or false"),
                ));
            }
        };

        let cognito = match get("COGNITO_USER_POOL_ID") {
            Some(pool) => Some(cognito_config(&pool, &get)?),
            None => {
                for orphan in ["COGNITO_CLIENT_IDS", "JWKS_URI"] {
                    if get(orphan).is_some() {
                        return Err(invalid(
                            orphan,
                            "is set but COGNITO_USER_POOL_ID is not; set the pool or remove it",
                        ));
                    }
                }
                None
            }
        };
        if check_revocation && cognito.is_none() {
            return Err(invalid(
                "CHECK_REVOCATION",
                "is true but COGNITO_USER_POOL_ID is not set",
            ));
        }

        let trusted_issuers = match get("TRUSTED_ISSUERS") {
            None => Vec::new(),
            Some(text) => trusted_issuers::parse(&text).map_err(|e| ConfigError {
                variable: "TRUSTED_ISSUERS",
                path: e.path,
                problem: e.problem,
            })?,
        };
        if let Some(pool) = &cognito
            && let Some((i, _)) = trusted_issuers
                .iter()
                .enumerate()
                .find(|(_, t)| pool.issuers.contains(&t.issuer))
        {
            return Err(ConfigError {
                variable: "TRUSTED_ISSUERS",
                path: format!("[{i}].issuer"),
                problem: "is the user pool's issuer, which COGNITO_USER_POOL_ID configures".into(),
            });
        }
        let jwt = cognito.is_some() || !trusted_issuers.is_empty();

        let api_keys = match get("API_KEYS_SECRET_ID") {
            Some(secret_id) => Some(ApiKeysConfig {
                secret_id,
                cache_ttl: Duration::from_secs(match get("API_KEYS_CACHE_SECONDS") {
                    None => 300,
                    Some(v) => parse_in_range("API_KEYS_CACHE_SECONDS", &v, 1, 3600)?,
                }),
            }),
            None => None,
        };

        let user_usage_key_secret_id = get("USER_USAGE_KEY_SECRET_ID");
        if user_usage_key_secret_id.is_some() && !jwt {
            return Err(invalid(
                "USER_USAGE_KEY_SECRET_ID",
                "is set but neither COGNITO_USER_POOL_ID nor TRUSTED_ISSUERS is",
            ));
        }

        let metrics = telemetry::MetricsConfig::from_lookup(&lookup, "authorizer")
            .map_err(|e| invalid(e.variable, e.problem))?;

        if !jwt && api_keys.is_none() {
            return Err(invalid(
                "COGNITO_USER_POOL_ID",
                "neither it, TRUSTED_ISSUERS nor API_KEYS_SECRET_ID is set, so no request could ever be authorized",
            ));
        }

        Ok(Config {
            cognito,
            leeway_seconds,
            jwks_timeout,
            trusted_issuers,
            api_keys,
            check_revocation,
            user_usage_key_secret_id,
            metrics,
        })
    }
}

fn cognito_config(
    pool: &str,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<CognitoConfig, ConfigError> {
    let region = pool_region(pool).ok_or_else(|| {
        invalid(
            "COGNITO_USER_POOL_ID",
            format!(
                "{pool:?} is not a user pool id; expected <region>_<id>, e.g. us-east-1_AbC123"
            ),
        )
    })?;

    let client_ids: Vec<String> = get("COGNITO_CLIENT_IDS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if client_ids.is_empty() {
        return Err(invalid(
            "COGNITO_CLIENT_IDS",
            "is required when COGNITO_USER_POOL_ID is set: a comma-separated list of app client ids",
        ));
    }
    if let Some(bad) = client_ids
        .iter()
        .find(|id| !id.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return Err(invalid(
            "COGNITO_CLIENT_IDS",
            format!("{bad:?} is not an app client id; expected letters and digits"),
        ));
    }

    let token_use = match get("TOKEN_USE").as_deref() {
        None | Some("access") => TokenUseSetting::Access,
        Some("id") => TokenUseSetting::Id,
        Some("any") => TokenUseSetting::Any,
        Some(other) => {
            return Err(invalid(
                "TOKEN_USE",
                format!("{other:?} is not a token use; expected access, id or any"),
            ));
        }
    };

    let regional = format!("https://cognito-idp.{region}.amazonaws.com/{pool}");
    let global = format!("https://issuer-cognito-idp.{region}.amazonaws.com/{pool}");

    let (jwks_uri, allow_http_jwks) = match get("JWKS_URI") {
        Some(raw) => {
            let url = Url::parse(&raw)
                .map_err(|e| invalid("JWKS_URI", format!("{raw:?} is not a URL: {e}")))?;
            match url.scheme() {
                "https" => (url, false),
                "http" => (url, true),
                other => {
                    return Err(invalid(
                        "JWKS_URI",
                        format!("scheme {other:?} is not supported; expected https (or http)"),
                    ));
                }
            }
        }
        None => {
            let raw = format!("{regional}/.well-known/jwks.json");
            let url = Url::parse(&raw).map_err(|e| {
                invalid("COGNITO_USER_POOL_ID", format!("gives a bad JWKS URL: {e}"))
            })?;
            (url, false)
        }
    };

    Ok(CognitoConfig {
        user_pool_id: pool.to_owned(),
        region: region.to_owned(),
        client_ids,
        token_use,
        jwks_uri,
        allow_http_jwks,
        issuers: [regional, global],
    })
}

/// The region of a pool id `<region>_<id>`, if the id has that shape.
fn pool_region(pool: &str) -> Option<&str> {
    let (region, id) = pool.split_once('_')?;
    let region_ok = !region.is_empty()
        && region.split('-').count() >= 3
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let id_ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric());
    (region_ok && id_ok && pool.len() <= 55).then_some(region)
}

fn parse_in_range(
    variable: &'static str,
    raw: &str,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    match raw.parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(invalid(
            variable,
            format!("{raw:?} is not a whole number from {min} to {max}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    const POOL: (&str, &str) = ("COGNITO_USER_POOL_ID", "eu-west-1_AbC123");
    const CLIENTS: (&str, &str) = ("COGNITO_CLIENT_IDS", "client1, client2");

    fn variable_of(vars: &[(&str, &str)]) -> &'static str {
        match config(vars) {
            Err(e) => e.variable,
            Ok(c) => panic!("accepted {c:?}"),
        }
    }

    #[test]
    fn a_pool_and_clients_give_secure_defaults() {
        let c = config(&[POOL, CLIENTS]).unwrap();
        let cognito = c.cognito.unwrap();
        assert_eq!(cognito.region, "eu-west-1");
        assert_eq!(cognito.client_ids, ["client1", "client2"]);
        assert_eq!(cognito.token_use, TokenUseSetting::Access);
        assert_eq!(
            cognito.jwks_uri.as_str(),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123/.well-known/jwks.json"
        );
        assert!(!cognito.allow_http_jwks);
        assert_eq!(
            cognito.issuers,
            [
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
                "https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
            ]
        );
        assert_eq!(c.leeway_seconds, 0);
        assert_eq!(c.jwks_timeout, Duration::from_millis(1500));
        assert!(!c.check_revocation);
        assert_eq!(c.api_keys, None);
    }

    #[test]
    fn moto_style_pool_ids_are_accepted() {
        let pool = (
            "COGNITO_USER_POOL_ID",
            "us-east-1_3722aa74749b49968deab1e543604c6a",
        );
        assert!(config(&[pool, CLIENTS]).is_ok());
    }

    #[test]
    fn an_explicit_http_jwks_uri_is_allowed_and_remembered() {
        let c = config(&[
            POOL,
            CLIENTS,
            ("JWKS_URI", "http://127.0.0.1:5000/p/.well-known/jwks.json"),
        ])
        .unwrap();
        assert!(c.cognito.unwrap().allow_http_jwks);
    }

    #[test]
    fn each_bad_variable_is_named() {
        assert_eq!(variable_of(&[]), "COGNITO_USER_POOL_ID");
        assert_eq!(
            variable_of(&[("COGNITO_USER_POOL_ID", "nope"), CLIENTS]),
            "COGNITO_USER_POOL_ID"
        );
        assert_eq!(
            variable_of(&[("COGNITO_USER_POOL_ID", "us-east-1_a/b"), CLIENTS]),
            "COGNITO_USER_POOL_ID"
        );
        assert_eq!(variable_of(&[POOL]), "COGNITO_CLIENT_IDS");
        assert_eq!(
            variable_of(&[POOL, ("COGNITO_CLIENT_IDS", " , ")]),
            "COGNITO_CLIENT_IDS"
        );
        assert_eq!(
            variable_of(&[POOL, ("COGNITO_CLIENT_IDS", "a b")]),
            "COGNITO_CLIENT_IDS"
        );
        assert_eq!(
            variable_of(&[POOL, CLIENTS, ("TOKEN_USE", "refresh")]),
            "TOKEN_USE"
        );
        assert_eq!(
            variable_of(&[POOL, CLIENTS, ("JWKS_URI", "ftp://x/jwks")]),
            "JWKS_URI"
        );
        assert_eq!(
            variable_of(&[POOL, CLIENTS, ("JWKS_URI", "not a url")]),
            "JWKS_URI"
        );
        assert_eq!(
            variable_of(&[POOL, CLIENTS, ("JWT_LEEWAY_SECONDS", "301")]),
            "JWT_LEEWAY_SECONDS"
        );
        assert_eq!(
            variable_of(&[POOL, CLIENTS, ("JWT_LEEWAY_SECONDS", "-1")]),
            "JWT_LEEWAY_SECONDS"
        );
        assert_eq!(
            variable_of(&[POOL, CLIENTS, ("JWKS_TIMEOUT_MS", "0")]),
            "JWKS_TIMEOUT_MS"
        );
        assert_eq!(
            variable_of(&[POOL, CLIENTS, ("CHECK_REVOCATION", "yes")]),
            "CHECK_REVOCATION"
        );
        assert_eq!(
            variable_of(&[("CHECK_REVOCATION", "true"), ("API_KEYS_SECRET_ID", "s")]),
            "CHECK_REVOCATION"
        );
        assert_eq!(
            variable_of(&[CLIENTS, ("API_KEYS_SECRET_ID", "s")]),
            "COGNITO_CLIENT_IDS"
        );
        assert_eq!(
            variable_of(&[("API_KEYS_SECRET_ID", "s"), ("API_KEYS_CACHE_SECONDS", "0")]),
            "API_KEYS_CACHE_SECONDS"
        );
        assert_eq!(
            variable_of(&[
                ("API_KEYS_SECRET_ID", "s"),
                ("USER_USAGE_KEY_SECRET_ID", "u")
            ]),
            "USER_USAGE_KEY_SECRET_ID"
        );
    }

    #[test]
    fn no_variable_holds_a_secret_value() {
        // Secret values (the users' usage key, the registry) are read from
        // Secrets Manager by id; a variable named for a value would put it
        // where GetFunctionConfiguration hands it to anyone.
        for name in VARIABLES {
            assert!(!name.ends_with("_KEY"), "{name} looks like it holds a key");
        }
        assert!(VARIABLES.contains(&"USER_USAGE_KEY_SECRET_ID"));
    }

    #[test]
    fn the_message_names_the_variable_and_the_expectation() {
        let e = config(&[POOL, CLIENTS, ("TOKEN_USE", "refresh")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "TOKEN_USE: \"refresh\" is not a token use; expected access, id or any"
        );
    }

    #[test]
    fn variables_lists_exactly_the_names_this_module_reads() {
        let read = std::cell::RefCell::new(Vec::new());
        let _ = Config::from_lookup(|k| {
            read.borrow_mut().push(k.to_owned());
            match k {
                "COGNITO_USER_POOL_ID" => Some("us-east-1_A1".into()),
                "COGNITO_CLIENT_IDS" | "API_KEYS_SECRET_ID" => Some("x".into()),
                _ => None,
            }
        });
        let mut read = read.into_inner();
        read.sort();
        read.dedup();
        let mut listed: Vec<String> = VARIABLES.iter().map(|s| (*s).to_owned()).collect();
        listed.sort();
        assert_eq!(read, listed);
    }

    #[test]
    fn api_keys_alone_are_a_valid_configuration() {
        let c = config(&[(
            "API_KEYS_SECRET_ID",
            "arn:aws:secretsmanager:us-east-1:1:secret:k",
        )])
        .unwrap();
        assert_eq!(c.cognito, None);
        assert_eq!(c.api_keys.unwrap().cache_ttl, Duration::from_secs(300));
    }

    const OKTA: &str = r#"[{"alias": "okta", "issuer": "https://example.okta.com", "audiences": ["api://items"]}]"#;

    #[test]
    fn trusted_issuers_are_read_and_may_stand_without_a_pool() {
        let c = config(&[("TRUSTED_ISSUERS", OKTA)]).unwrap();
        assert_eq!(c.cognito, None);
        assert_eq!(c.trusted_issuers.len(), 1);
        assert_eq!(c.trusted_issuers[0].alias, "okta");
        let both = config(&[POOL, CLIENTS, ("TRUSTED_ISSUERS", OKTA)]).unwrap();
        assert!(both.cognito.is_some());
        assert_eq!(both.trusted_issuers.len(), 1);
        // The template's default: none.
        assert!(
            config(&[POOL, CLIENTS, ("TRUSTED_ISSUERS", "[]")])
                .unwrap()
                .trusted_issuers
                .is_empty()
        );
        // A usage key for users needs users: the pool's or an issuer's.
        assert!(config(&[("TRUSTED_ISSUERS", OKTA), ("USER_USAGE_KEY_SECRET_ID", "u")]).is_ok());
    }

    #[test]
    fn a_trusted_issuer_fault_names_the_variable_and_the_json_path() {
        let two = r#"[{"alias": "okta", "issuer": "https://example.okta.com", "audiences": ["x"]},
                      {"alias": "entra", "issuer": "https://login.example.com", "audiences": ["x"], "algorithms": ["HS256"]}]"#;
        let e = config(&[POOL, CLIENTS, ("TRUSTED_ISSUERS", two)]).unwrap_err();
        assert_eq!(
            (e.variable, e.path.as_str()),
            ("TRUSTED_ISSUERS", "[1].algorithms[0]")
        );
        assert!(
            e.to_string()
                .starts_with("TRUSTED_ISSUERS[1].algorithms[0]: HS256 is not allowed"),
            "{e}"
        );
        let e = config(&[POOL, CLIENTS, ("TRUSTED_ISSUERS", "nope")]).unwrap_err();
        assert!(
            e.to_string().starts_with("TRUSTED_ISSUERS: is not JSON"),
            "{e}"
        );
    }

    #[test]
    fn no_trusted_issuer_may_claim_the_pools_issuer() {
        let pool = r#"[{"alias": "p", "issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123", "audiences": ["x"]}]"#;
        let e = config(&[POOL, CLIENTS, ("TRUSTED_ISSUERS", pool)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "TRUSTED_ISSUERS[0].issuer: is the user pool's issuer, which COGNITO_USER_POOL_ID configures"
        );
    }

    #[test]
    fn an_empty_trusted_issuers_list_is_no_credential_kind() {
        assert_eq!(
            variable_of(&[("TRUSTED_ISSUERS", "[]")]),
            "COGNITO_USER_POOL_ID"
        );
        assert_eq!(
            variable_of(&[
                ("TRUSTED_ISSUERS", "[]"),
                ("USER_USAGE_KEY_SECRET_ID", "u"),
                ("API_KEYS_SECRET_ID", "s")
            ]),
            "USER_USAGE_KEY_SECRET_ID"
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let c = config(&[POOL, CLIENTS, ("TOKEN_USE", ""), ("API_KEYS_SECRET_ID", "")]).unwrap();
        assert_eq!(c.cognito.unwrap().token_use, TokenUseSetting::Access);
        assert_eq!(c.api_keys, None);
    }
}
