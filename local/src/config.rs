//! The local stack's settings: command-line flags (with their defaults) and
//! the typed [`StackConfig`] they become. Nothing else reads flags or the
//! environment, except the AWS SDK for the real backends.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::tiers::TierSettings;
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
// Parsed once at start: the size of the flags' variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the stack (the default).
    // Boxed: the flags outweigh `token`'s many times over.
    Serve(Box<ServeArgs>),
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
    /// Standard partner tier: requests per usage key per UTC day (0 = no quota).
    #[arg(long, default_value_t = 100_000)]
    pub usage_quota: u64,
    /// Premium partner tier: requests per second per usage key (0 = off).
    #[arg(long, default_value_t = 50.0)]
    pub premium_rate: f64,
    /// Premium partner tier: burst per usage key.
    #[arg(long, default_value_t = 100)]
    pub premium_burst: u32,
    /// Premium partner tier: requests per usage key per UTC day (0 = no quota).
    #[arg(long, default_value_t = 1_000_000)]
    pub premium_quota: u64,
    /// A usage identifier key on the premium tier (every other partner key
    /// is on standard); repeat for several.
    #[arg(long = "premium-usage-key", value_name = "VALUE")]
    pub premium_usage_keys: Vec<String>,
    /// The development partner's tier: standard or premium.
    #[arg(long, default_value = "standard", value_parser = ["standard", "premium"])]
    pub dev_partner_tier: String,
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
    /// Keep the development identity provider on although --addr is not a
    /// loopback address: anyone who can reach the port can then mint a
    /// token for any user (its Host check stops web pages, not a client
    /// that sets Host). Off by default.
    #[arg(long, conflicts_with = "user_pool_id")]
    pub dev_idp_on_network: bool,
    /// Web ACL rate-based rule per client IP: requests per evaluation
    /// window from one peer address (at least 10); off when unset.
    #[arg(long)]
    pub waf_ip_rate_limit: Option<u64>,
    /// Web ACL rate-based rule per credential (the Authorization header):
    /// requests per evaluation window with one value (at least 10); off when
    /// unset.
    #[arg(long)]
    pub waf_credential_rate_limit: Option<u64>,
    /// The rate-based rules' evaluation window, seconds: 60, 120, 300 or 600.
    #[arg(long, default_value_t = crate::waf::DEFAULT_WINDOW_SECONDS)]
    pub waf_window: u64,
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
    /// None: JWT authentication is off; partner keys still work.
    Off(IdpOff),
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

/// Why the development identity provider is off: the banner says it, and
/// its endpoints answer it with a 404.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdpOff {
    /// `--table` or `--api-keys-secret-id` point at real data.
    RealData,
    /// The stack listens on this address, which is not a loopback one.
    NetworkAddress(SocketAddr),
}

impl std::fmt::Display for IdpOff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdpOff::RealData => f.write_str(
                "the development identity provider is off: --table or --api-keys-secret-id \
                 point at real data, on which it would let anyone act as any user \
                 (--dev-idp-with-real-backends turns it on)",
            ),
            IdpOff::NetworkAddress(addr) => write!(
                f,
                "the development identity provider is off: the stack listens on {addr}, not a \
                 loopback address, and it would mint any user's token for anyone who reaches \
                 the port (--dev-idp-on-network turns it on)"
            ),
        }
    }
}

impl IdpChoice {
    /// The choice for a stack bound to `addr`: the development identity
    /// provider mints any user's token for whoever asks, so it stays on a
    /// loopback address unless `on_network` (`--dev-idp-on-network`).
    pub fn listening_on(self, addr: SocketAddr, on_network: bool) -> Self {
        match self {
            IdpChoice::Development if !addr.ip().is_loopback() && !on_network => {
                IdpChoice::Off(IdpOff::NetworkAddress(addr))
            }
            other => other,
        }
    }
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
    /// The usage plan's throttle per usage identifier key (the standard
    /// partner tier's); `None` = off.
    pub usage_plan: Option<Rate>,
    /// The partner tiers' quotas and the premium tier.
    pub tiers: TierSettings,
    /// The stage throttle; `None` = off.
    pub stage_throttle: Option<Rate>,
    /// The web ACL's rate-based rules (off by default).
    pub waf: crate::waf::WafConfig,
    /// The item store.
    pub store: StoreChoice,
    /// The list cursor key; random when `None`.
    pub cursor_key: Option<String>,
    /// The partner key registry.
    pub registry: RegistryChoice,
    /// The identity provider.
    pub idp: IdpChoice,
    /// Keep the development identity provider on off a loopback address
    /// (see [`IdpChoice::listening_on`]).
    pub dev_idp_on_network: bool,
    /// `TRUSTED_ISSUERS` (checked JSON text): OpenID issuers trusted besides
    /// the identity provider.
    pub trusted_issuers: Option<String>,
    /// How long a client may take to send a request's head.
    pub header_read_timeout: Duration,
    /// How long a request's body may go without a byte arriving (408).
    pub body_idle_timeout: Duration,
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
            tiers: TierSettings::default(),
            stage_throttle: None,
            waf: crate::waf::WafConfig::default(),
            store: StoreChoice::Memory,
            cursor_key: None,
            registry: RegistryChoice::Development,
            idp: IdpChoice::Development,
            dev_idp_on_network: false,
            trusted_issuers: None,
            header_read_timeout: crate::listen::HEADER_READ_TIMEOUT,
            body_idle_timeout: crate::listen::BODY_IDLE_TIMEOUT,
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
        let mut premium_keys = self.premium_usage_keys;
        if self.dev_partner_tier == "premium" {
            premium_keys.push(crate::backends::DEV_USAGE_KEY.to_owned());
        }
        let tiers = TierSettings {
            standard_quota: (self.usage_quota > 0).then_some(self.usage_quota),
            premium_rate: rate("premium-rate", self.premium_rate, self.premium_burst)?,
            premium_quota: (self.premium_quota > 0).then_some(self.premium_quota),
            premium_keys,
        };
        let stage_throttle = match self.stage_rate {
            None => None,
            Some(r) => rate("stage-rate", r, self.stage_burst)?,
        };
        let waf = waf_config(
            self.waf_ip_rate_limit,
            self.waf_credential_rate_limit,
            self.waf_window,
        )?;
        // The development identity provider mints any user's token for
        // whoever asks: never in front of real data unless asked for by name.
        let real_data = self.table.is_some() || self.api_keys_secret_id.is_some();
        let idp = match (self.user_pool_id, self.client_ids) {
            (Some(user_pool_id), Some(client_ids)) => IdpChoice::Cognito {
                user_pool_id,
                client_ids,
                jwks_uri: self.jwks_uri,
            },
            _ if real_data && !self.dev_idp_with_real_backends => IdpChoice::Off(IdpOff::RealData),
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
            tiers,
            stage_throttle,
            waf,
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
            dev_idp_on_network: self.dev_idp_on_network,
            trusted_issuers,
            header_read_timeout: crate::listen::HEADER_READ_TIMEOUT,
            body_idle_timeout: crate::listen::BODY_IDLE_TIMEOUT,
            print_emf: self.print_emf,
        })
    }
}

/// The web ACL's settings, with WAF's own bounds: limits from 10 to
/// 2,000,000,000, a window of 60, 120, 300 or 600 s.
fn waf_config(
    ip_limit: Option<u64>,
    credential_limit: Option<u64>,
    window_seconds: u64,
) -> Result<crate::waf::WafConfig, ConfigError> {
    use crate::waf::{MIN_LIMIT, WINDOWS};
    const MAX_LIMIT: u64 = 2_000_000_000;
    for (flag, limit) in [
        ("waf-ip-rate-limit", ip_limit),
        ("waf-credential-rate-limit", credential_limit),
    ] {
        if limit.is_some_and(|l| !(MIN_LIMIT..=MAX_LIMIT).contains(&l)) {
            return Err(invalid(
                flag,
                format!("must be {MIN_LIMIT} to {MAX_LIMIT} requests per window, as WAF accepts"),
            ));
        }
    }
    if !WINDOWS.contains(&window_seconds) {
        return Err(invalid("waf-window", "must be 60, 120, 300 or 600 seconds"));
    }
    Ok(crate::waf::WafConfig {
        ip_limit,
        credential_limit,
        window_seconds,
    })
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
        let off = IdpChoice::Off(IdpOff::RealData);
        assert_eq!(parse(&["--table", "items"]).unwrap().idp, off);
        assert_eq!(parse(&["--api-keys-secret-id", "keys"]).unwrap().idp, off);
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
    fn the_development_idp_stays_on_loopback_addresses_unless_asked_for_by_name() {
        let at = |addr: &str, on_network| {
            IdpChoice::Development.listening_on(addr.parse().unwrap(), on_network)
        };
        for loopback in ["127.0.0.1:3000", "127.0.0.2:3000", "[::1]:3000"] {
            assert_eq!(at(loopback, false), IdpChoice::Development, "{loopback}");
        }
        for network in [
            "0.0.0.0:3000",
            "192.168.1.20:3000",
            "[::]:3000",
            "[fe80::1]:3000",
        ] {
            assert_eq!(
                at(network, false),
                IdpChoice::Off(IdpOff::NetworkAddress(network.parse().unwrap())),
                "{network}"
            );
            assert_eq!(at(network, true), IdpChoice::Development, "{network}");
        }
        // Nothing else is turned on by the flag.
        let off = IdpChoice::Off(IdpOff::RealData);
        assert_eq!(
            off.clone()
                .listening_on("127.0.0.1:1".parse().unwrap(), true),
            off
        );
        let c = parse(&["--addr", "0.0.0.0:3000", "--dev-idp-on-network"]).unwrap();
        assert!(c.dev_idp_on_network);
        assert!(!parse(&[]).unwrap().dev_idp_on_network);
    }

    #[test]
    fn the_waf_rules_are_off_unless_a_limit_is_given_within_wafs_bounds() {
        assert_eq!(parse(&[]).unwrap().waf, crate::waf::WafConfig::default());
        let c = parse(&[
            "--waf-ip-rate-limit",
            "100",
            "--waf-credential-rate-limit",
            "50",
            "--waf-window",
            "60",
        ])
        .unwrap();
        assert_eq!(
            c.waf,
            crate::waf::WafConfig {
                ip_limit: Some(100),
                credential_limit: Some(50),
                window_seconds: 60
            }
        );
        for (args, flag) in [
            (vec!["--waf-ip-rate-limit", "9"], "waf-ip-rate-limit"),
            (
                vec!["--waf-credential-rate-limit", "2000000001"],
                "waf-credential-rate-limit",
            ),
            (vec!["--waf-window", "30"], "waf-window"),
        ] {
            assert_eq!(parse(&args).unwrap_err().flag, flag, "{args:?}");
        }
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
    fn the_tier_flags_set_quotas_the_premium_tier_and_the_dev_partners_tier() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.tiers, TierSettings::default());
        let c = parse(&[
            "--usage-quota",
            "5",
            "--premium-quota",
            "0",
            "--premium-rate",
            "7",
            "--premium-burst",
            "3",
            "--premium-usage-key",
            "gold-usage-key-0000000001",
            "--dev-partner-tier",
            "premium",
        ])
        .unwrap();
        assert_eq!(c.tiers.standard_quota, Some(5));
        assert_eq!(c.tiers.premium_quota, None);
        assert_eq!(
            c.tiers.premium_rate,
            Some(Rate {
                per_second: 7.0,
                burst: 3
            })
        );
        assert_eq!(
            c.tiers.premium_keys,
            ["gold-usage-key-0000000001", crate::backends::DEV_USAGE_KEY]
        );
        assert!(Cli::try_parse_from(["local", "--dev-partner-tier", "gold"]).is_err());
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
