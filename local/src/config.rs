//! The local stack's settings: command-line flags (with their defaults) and
//! the typed [`StackConfig`] they become. Nothing else reads flags or the
//! environment, except the AWS SDK for the real backends.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::usage::Rate;

/// The region in every method ARN and in the development pool id.
pub const LOCAL_REGION: &str = "us-east-1";
/// The account id in every method ARN (the documentation account).
pub const LOCAL_ACCOUNT_ID: &str = "123456789012";
/// The first-party usage key the authorizer returns for users
/// (`USER_USAGE_KEY`), as the SAM stack's generated one.
pub const LOCAL_USER_USAGE_KEY: &str = "local-usage-key-users-0001";
/// API Gateway caps the authorizer result TTL at one hour.
pub const MAX_CACHE_TTL_SECONDS: u64 = 3600;

/// `local`: the whole secured API on this machine. Development only.
#[derive(Debug, Parser)]
#[command(name = "local", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; serving the stack when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The stack's flags when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The subcommands.
// Parsed once per process: the size of the flags' variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the stack (the default).
    Serve(ServeArgs),
    /// Mint a development access token from a running stack's identity
    /// provider and print it (development only).
    Token(TokenArgs),
}

/// Flags of `local token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The user (`sub` and `username` of the token).
    #[arg(long, default_value = "alice", conflicts_with = "machine")]
    pub user: String,
    /// A Cognito group; repeat for several (`readonly` limits to reads).
    #[arg(long = "group", conflicts_with = "machine")]
    pub groups: Vec<String>,
    /// Space-separated OAuth scopes (default for a user: a first-party
    /// sign-in, full access; required with --machine).
    #[arg(long, required_if_eq("machine", "true"))]
    pub scope: Option<String>,
    /// A machine client's token (the client_credentials grant): exactly the
    /// --scope given, of items/read, items/write, items/delete.
    #[arg(long)]
    pub machine: bool,
    /// The running stack.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub url: String,
}

/// Flags of the stack.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Where to listen (loopback unless you mean it).
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// The stage name in method ARNs and `requestContext.stage`.
    #[arg(long, default_value = "local")]
    pub stage: String,
    /// The REST API id in method ARNs.
    #[arg(long, default_value = "localapi01")]
    pub api_id: String,
    /// Seconds an authorizer policy is cached per Authorization header
    /// (0 = no cache, at most 3600), as the authorizer's `ReauthorizeEvery`.
    #[arg(long, default_value_t = 300)]
    pub authorizer_cache_ttl: u64,
    /// The one browser origin (or `*`) allowed by CORS: preflights, gateway
    /// responses and the api's own answers, as `AllowedOrigin` deployed.
    #[arg(long, default_value = "*")]
    pub cors_origin: String,
    /// Usage plan: requests per second per usage identifier key (0 = off).
    #[arg(long, default_value_t = 10.0)]
    pub usage_rate: f64,
    /// Usage plan: burst per usage identifier key.
    #[arg(long, default_value_t = 20)]
    pub usage_burst: u32,
    /// Stage throttle: requests per second for all callers (unset = off).
    #[arg(long)]
    pub stage_rate: Option<f64>,
    /// Stage throttle: burst for all callers (with --stage-rate).
    #[arg(long, default_value_t = 200)]
    pub stage_burst: u32,
    /// Use this DynamoDB table (region, endpoint, credentials from the AWS
    /// SDK's environment, e.g. AWS_ENDPOINT_URL for moto) instead of memory.
    #[arg(long)]
    pub table: Option<String>,
    /// Key authenticating list cursors (at least 32 bytes); random per start
    /// when unset.
    #[arg(long, env = "CURSOR_KEY", hide_env_values = true)]
    pub cursor_key: Option<String>,
    /// Read partner keys from this Secrets Manager secret instead of the
    /// embedded development registry.
    #[arg(long)]
    pub api_keys_secret_id: Option<String>,
    /// Trust a real (or moto) Cognito user pool instead of the development
    /// identity provider; needs --client-ids and usually --jwks-uri.
    #[arg(long, requires = "client_ids")]
    pub user_pool_id: Option<String>,
    /// Comma-separated app client ids of --user-pool-id.
    #[arg(long, requires = "user_pool_id")]
    pub client_ids: Option<String>,
    /// Where the pool's JWKS is served (e.g. moto's
    /// http://127.0.0.1:PORT/<pool>/.well-known/jwks.json).
    #[arg(long, requires = "user_pool_id")]
    pub jwks_uri: Option<String>,
    /// Trust these OpenID issuers besides the development identity provider
    /// (or --user-pool-id): the authorizer's TRUSTED_ISSUERS, a JSON array,
    /// or @FILE to read it from a file.
    #[arg(long, value_name = "JSON|@FILE")]
    pub trusted_issuers: Option<String>,
    /// Keep the development identity provider on although --table or
    /// --api-keys-secret-id point at real data: anyone who reaches
    /// /_dev/token can then act as any user on that data. Off by default.
    #[arg(long, conflicts_with = "user_pool_id")]
    pub dev_idp_with_real_backends: bool,
    /// Print the functions' Embedded Metric Format lines (one per decision
    /// and per api request, as CloudWatch would receive them) on stderr.
    #[arg(long)]
    pub print_emf: bool,
}

/// Which identity provider the authorizer trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdpChoice {
    /// A signing key generated at start, its JWKS and `/_dev/token` served
    /// by the stack itself.
    Development,
    /// None: JWT authentication is off (real backends without
    /// `--user-pool-id`); partner keys still work.
    Off,
    /// A Cognito user pool (moto's or AWS's).
    Cognito {
        /// `COGNITO_USER_POOL_ID`.
        user_pool_id: String,
        /// `COGNITO_CLIENT_IDS`.
        client_ids: String,
        /// `JWKS_URI`, when not the pool's public one.
        jwks_uri: Option<String>,
    },
}

/// Where items live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// `api::store::MemoryStore`.
    Memory,
    /// A DynamoDB table through the AWS SDK's environment.
    DynamoDb {
        /// The table name.
        table: String,
    },
}

/// Where the partner key registry lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryChoice {
    /// In memory, with one development partner key created at start.
    Development,
    /// A Secrets Manager secret through the AWS SDK's environment.
    SecretsManager {
        /// Its id or ARN.
        secret_id: String,
    },
}

/// Everything the stack needs to start.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Where to listen; port 0 picks a free one.
    pub addr: SocketAddr,
    /// REST API id of the method ARNs.
    pub api_id: String,
    /// Stage of the method ARNs.
    pub stage: String,
    /// Authorizer result TTL; zero disables the cache.
    pub cache_ttl: Duration,
    /// `Access-Control-Allow-Origin`.
    pub cors_origin: String,
    /// The usage plan's throttle per usage identifier key; `None` = off.
    pub usage_plan: Option<Rate>,
    /// The stage throttle; `None` = off.
    pub stage_throttle: Option<Rate>,
    /// The item store.
    pub store: StoreChoice,
    /// The list cursor key; random when `None`.
    pub cursor_key: Option<String>,
    /// The partner key registry.
    pub registry: RegistryChoice,
    /// The identity provider.
    pub idp: IdpChoice,
    /// `TRUSTED_ISSUERS` (checked JSON text): OpenID issuers trusted besides
    /// the identity provider.
    pub trusted_issuers: Option<String>,
    /// How long a client may take to send a request's head.
    pub header_read_timeout: Duration,
    /// Print the functions' EMF lines on stderr.
    pub print_emf: bool,
}

impl Default for StackConfig {
    /// The embedded defaults on `127.0.0.1:3000`.
    fn default() -> Self {
        StackConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            api_id: "localapi01".into(),
            stage: "local".into(),
            cache_ttl: Duration::from_secs(300),
            cors_origin: "*".into(),
            usage_plan: Some(Rate {
                per_second: 10.0,
                burst: 20,
            }),
            stage_throttle: None,
            store: StoreChoice::Memory,
            cursor_key: None,
            registry: RegistryChoice::Development,
            idp: IdpChoice::Development,
            trusted_issuers: None,
            header_read_timeout: crate::listen::HEADER_READ_TIMEOUT,
            print_emf: false,
        }
    }
}

/// A flag value the stack refuses to start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--{flag}: {problem}")]
pub struct ConfigError {
    /// The flag at fault.
    pub flag: &'static str,
    /// What is wrong, and what was expected.
    pub problem: String,
}

fn invalid(flag: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        flag,
        problem: problem.into(),
    }
}

impl ServeArgs {
    /// The typed configuration, checked.
    pub fn into_config(self) -> Result<StackConfig, ConfigError> {
        if self.api_id.is_empty() || !self.api_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid("api-id", "must be letters and digits"));
        }
        if self.stage.is_empty()
            || !self
                .stage
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(invalid("stage", "must be letters, digits, '_' or '-'"));
        }
        if self.authorizer_cache_ttl > MAX_CACHE_TTL_SECONDS {
            return Err(invalid(
                "authorizer-cache-ttl",
                format!("must be 0 to {MAX_CACHE_TTL_SECONDS} seconds"),
            ));
        }
        // The api's own check of ALLOWED_ORIGIN, which equals the template's
        // AllowedPattern: what the deployed stack refuses, this one refuses.
        if api::cors::Cors::new(&self.cors_origin).is_err() {
            return Err(invalid(
                "cors-origin",
                "must be * or an origin such as http://localhost:5173",
            ));
        }
        let usage_plan = rate("usage-rate", self.usage_rate, self.usage_burst)?;
        let stage_throttle = match self.stage_rate {
            None => None,
            Some(r) => rate("stage-rate", r, self.stage_burst)?,
        };
        // The development identity provider mints any user's token for
        // whoever asks: never in front of real data unless asked for by name.
        let real_data = self.table.is_some() || self.api_keys_secret_id.is_some();
        let idp = match (self.user_pool_id, self.client_ids) {
            (Some(user_pool_id), Some(client_ids)) => IdpChoice::Cognito {
                user_pool_id,
                client_ids,
                jwks_uri: self.jwks_uri,
            },
            _ if real_data && !self.dev_idp_with_real_backends => IdpChoice::Off,
            _ => IdpChoice::Development,
        };
        let trusted_issuers = self.trusted_issuers.map(trusted_issuers).transpose()?;
        Ok(StackConfig {
            addr: self.addr,
            api_id: self.api_id,
            stage: self.stage,
            cache_ttl: Duration::from_secs(self.authorizer_cache_ttl),
            cors_origin: self.cors_origin,
            usage_plan,
            stage_throttle,
            store: match self.table {
                Some(table) => StoreChoice::DynamoDb { table },
                None => StoreChoice::Memory,
            },
            cursor_key: self.cursor_key,
            registry: match self.api_keys_secret_id {
                Some(secret_id) => RegistryChoice::SecretsManager { secret_id },
                None => RegistryChoice::Development,
            },
            idp,
            trusted_issuers,
            header_read_timeout: crate::listen::HEADER_READ_TIMEOUT,
            print_emf: self.print_emf,
        })
    }
}

/// `--trusted-issuers`: the JSON itself or `@FILE`, checked by the
/// authorizer's own parser so that a fault names its JSON path here.
fn trusted_issuers(arg: String) -> Result<String, ConfigError> {
    let text = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| invalid("trusted-issuers", format!("cannot read {path}: {e}")))?,
        None => arg,
    };
    authorizer::config::trusted_issuers::parse(&text)
        .map_err(|e| invalid("trusted-issuers", e.to_string()))?;
    Ok(text)
}

fn rate(flag: &'static str, per_second: f64, burst: u32) -> Result<Option<Rate>, ConfigError> {
    if !per_second.is_finite() || per_second < 0.0 {
        return Err(invalid(
            flag,
            "must be a number of requests per second, 0 or more",
        ));
    }
    if per_second == 0.0 {
        return Ok(None);
    }
    if burst == 0 {
        return Err(invalid(flag, "needs a burst of at least 1"));
    }
    Ok(Some(Rate { per_second, burst }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<StackConfig, ConfigError> {
        let cli =
            Cli::try_parse_from(std::iter::once("local").chain(args.iter().copied())).unwrap();
        cli.serve.into_config()
    }

    #[test]
    fn no_flags_give_the_embedded_defaults() {
        let c = parse(&[]).unwrap();
        let d = StackConfig::default();
        assert_eq!(c.addr, d.addr);
        assert_eq!(c.cache_ttl, Duration::from_secs(300));
        assert_eq!(c.store, StoreChoice::Memory);
        assert_eq!(c.registry, RegistryChoice::Development);
        assert_eq!(c.idp, IdpChoice::Development);
        assert_eq!(c.usage_plan, d.usage_plan);
        assert_eq!(c.stage_throttle, None);
    }

    #[test]
    fn real_backends_are_chosen_by_flags() {
        let c = parse(&["--table", "items", "--api-keys-secret-id", "keys"]).unwrap();
        assert_eq!(
            c.store,
            StoreChoice::DynamoDb {
                table: "items".into()
            }
        );
        assert_eq!(
            c.registry,
            RegistryChoice::SecretsManager {
                secret_id: "keys".into()
            }
        );
    }

    #[test]
    fn the_development_idp_is_off_in_front_of_real_data_unless_asked_for_by_name() {
        assert_eq!(parse(&["--table", "items"]).unwrap().idp, IdpChoice::Off);
        assert_eq!(
            parse(&["--api-keys-secret-id", "keys"]).unwrap().idp,
            IdpChoice::Off
        );
        assert_eq!(
            parse(&["--table", "items", "--dev-idp-with-real-backends"])
                .unwrap()
                .idp,
            IdpChoice::Development
        );
        assert!(matches!(
            parse(&[
                "--table",
                "t",
                "--user-pool-id",
                "us-east-1_P",
                "--client-ids",
                "c"
            ])
            .unwrap()
            .idp,
            IdpChoice::Cognito { .. }
        ));
    }

    #[test]
    fn the_cors_origin_is_what_the_templates_allowed_origin_accepts() {
        for ok in ["*", "http://127.0.0.1:5173", "https://app.example.com"] {
            assert_eq!(parse(&["--cors-origin", ok]).unwrap().cors_origin, ok);
        }
        for bad in [
            "",
            "null",
            "localhost:5173",
            "http://a.com/",
            "https://a.com/x",
        ] {
            assert_eq!(
                parse(&["--cors-origin", bad]).unwrap_err().flag,
                "cors-origin",
                "{bad}"
            );
        }
    }

    #[test]
    fn a_ttl_over_an_hour_is_refused_naming_the_flag() {
        let e = parse(&["--authorizer-cache-ttl", "3601"]).unwrap_err();
        assert_eq!(e.flag, "authorizer-cache-ttl");
    }

    #[test]
    fn a_zero_usage_rate_turns_the_plan_off() {
        assert_eq!(parse(&["--usage-rate", "0"]).unwrap().usage_plan, None);
    }

    #[test]
    fn trusted_issuers_are_taken_as_json_or_from_a_file_and_checked() {
        const OKTA: &str = r#"[{"alias": "okta", "issuer": "http://127.0.0.1:4000", "audiences": ["api://items"]}]"#;
        assert_eq!(parse(&[]).unwrap().trusted_issuers, None);
        let c = parse(&["--trusted-issuers", OKTA]).unwrap();
        assert_eq!(c.trusted_issuers.as_deref(), Some(OKTA));
        assert_eq!(c.idp, IdpChoice::Development, "beside the development IdP");
        let file =
            std::env::temp_dir().join(format!("trusted-issuers-{}.json", std::process::id()));
        std::fs::write(&file, OKTA).unwrap();
        let at = format!("@{}", file.display());
        assert_eq!(
            parse(&["--trusted-issuers", &at])
                .unwrap()
                .trusted_issuers
                .as_deref(),
            Some(OKTA)
        );
        std::fs::remove_file(&file).unwrap();
        let e = parse(&["--trusted-issuers", &at]).unwrap_err();
        assert_eq!(e.flag, "trusted-issuers");
        assert!(e.problem.starts_with("cannot read"), "{e}");
        let bad = r#"[{"alias": "okta", "issuer": "http://idp.example.com", "audiences": ["x"]}]"#;
        let e = parse(&["--trusted-issuers", bad]).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "--trusted-issuers: [0].issuer: \"http://idp.example.com\" is http off loopback"
            ),
            "{e}"
        );
        assert!(
            parse(&["--trusted-issuers", "nope"])
                .unwrap_err()
                .to_string()
                .starts_with("--trusted-issuers: is not JSON")
        );
    }

    #[test]
    fn the_token_subcommand_mints_machine_tokens_with_a_scope() {
        let cli =
            Cli::try_parse_from(["local", "token", "--machine", "--scope", "items/read"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Token(t)) if t.machine));
        assert!(Cli::try_parse_from(["local", "token", "--machine"]).is_err());
        assert!(
            Cli::try_parse_from(["local", "token", "--machine", "--scope", "x", "--user", "a"])
                .is_err()
        );
    }

    #[test]
    fn the_token_subcommand_takes_groups() {
        let cli = Cli::try_parse_from(["local", "token", "--user", "bob", "--group", "readonly"])
            .unwrap();
        match cli.command {
            Some(Command::Token(t)) => {
                assert_eq!(t.user, "bob");
                assert_eq!(t.groups, ["readonly"]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
