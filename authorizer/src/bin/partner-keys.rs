//! `partner-keys`: issue, list, disable, enable, rotate and revoke partner
//! API keys in the Secrets Manager registry the authorizer reads.
//!
//! Thin: argument parsing and printing; the operations are
//! `authorizer::apikey::admin`. AWS region, credentials and endpoint come
//! from the standard AWS environment.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use authorizer::apikey::admin::{Admin, AdminError, NewKey};
use authorizer::apikey::format::GeneratedKey;
use authorizer::apikey::registry::{KeyRecord, parse_time};
use authorizer::apikey::store::SecretsManagerStore;
use clap::{Parser, Subcommand};
use policies::{Permission, PermissionSet};
use time::OffsetDateTime;

/// Manage partner API keys in the Secrets Manager registry the authorizer reads.
///
/// Keys look like pk_<id>_<secret>. Only their SHA-256 is stored; the key
/// itself is printed once, on standard output, when it is created or rotated.
/// Every change is a read-modify-write that detects a concurrent change by
/// another operator and re-applies itself to the new registry, so no change
/// is lost. AWS region, credentials and endpoint come from the standard AWS
/// environment (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, ...).
#[derive(Debug, Parser)]
#[command(name = "partner-keys", version)]
struct Cli {
    /// Secrets Manager name or ARN of the registry (the authorizer's API_KEYS_SECRET_ID).
    #[arg(long, env = "API_KEYS_SECRET_ID", global = true, value_name = "ID")]
    secret_id: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the secret holding an empty registry (fails if it exists).
    Init,
    /// Issue a new key for a partner and print it once.
    Create {
        /// The partner: 1-64 of [a-z0-9-]. Its data lives under the owner partner:<NAME>.
        #[arg(long, value_name = "NAME")]
        partner: String,
        /// A permission the key grants; repeat for several: items:read, items:write, items:delete.
        #[arg(long = "permission", value_name = "P", required = true, value_parser = parse_permission)]
        permissions: Vec<Permission>,
        /// The value of the API Gateway API key in the partner's usage plan, so API Gateway
        /// meters and throttles this partner (20-128 characters).
        #[arg(long, value_name = "VALUE")]
        usage_key: Option<String>,
        /// When the key stops working, RFC 3339 (e.g. 2030-01-31T00:00:00Z); must be in the future.
        #[arg(long, value_name = "TIME")]
        expires: Option<String>,
    },
    /// List keys: id, partner, permissions, state, expiry. Never prints keys or hashes.
    List,
    /// Refuse a key until it is enabled again.
    Disable {
        /// The key id (the 12 characters after pk_).
        id: String,
    },
    /// Accept a disabled key again.
    Enable {
        /// The key id.
        id: String,
    },
    /// Delete a key's record for good.
    Revoke {
        /// The key id.
        id: String,
    },
    /// Issue a new key with the same partner, permissions and usage key; the old
    /// key expires after the overlap, giving the partner time to switch.
    Rotate {
        /// The key id to replace.
        id: String,
        /// How long the old key keeps working, e.g. 24h, 30m, 0s (default 24h).
        #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = humantime::parse_duration)]
        overlap: Duration,
    },
}

fn parse_permission(s: &str) -> Result<Permission, String> {
    s.parse::<Permission>().map_err(|e| e.to_string())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(secret_id) = cli.secret_id else {
        eprintln!("error: --secret-id (or API_KEYS_SECRET_ID) is required");
        return ExitCode::from(2);
    };
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store =
        SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(&sdk), secret_id.clone());
    let admin = Admin::new(Arc::new(store));
    let result = run(&admin, cli.command, &secret_id).await;
    // Whatever was asked, a record the authorizer refuses is reported.
    for unusable in admin.unusable_seen() {
        eprintln!("warning: {unusable}; kept in the registry as it is");
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(admin: &Admin, command: Command, secret_id: &str) -> Result<(), AdminError> {
    let now = OffsetDateTime::now_utc();
    match command {
        Command::Init => {
            admin.init().await?;
            eprintln!("created {secret_id} with an empty registry");
        }
        Command::Create {
            partner,
            permissions,
            usage_key,
            expires,
        } => {
            let new = NewKey {
                partner,
                permissions: permissions.into_iter().collect::<PermissionSet>(),
                usage_key,
                expires,
            };
            let (key, record) = admin.create(&new, now).await?;
            show_once(&key, &record);
        }
        Command::List => {
            let listing = admin.list().await?;
            println!(
                "{:<12}  {:<20}  {:<36}  {:<8}  {:<5}  EXPIRES",
                "ID", "PARTNER", "PERMISSIONS", "STATE", "USAGE"
            );
            for k in listing.usable {
                println!(
                    "{:<12}  {:<20}  {:<36}  {:<8}  {:<5}  {}",
                    k.id,
                    k.partner,
                    k.permissions.join(" "),
                    state(&k, now),
                    if k.usage_key.is_some() { "yes" } else { "no" },
                    k.expires.as_deref().unwrap_or("-")
                );
            }
            // Refused by the authorizer whatever their fields say: never shown
            // as active (the reason follows on standard error).
            for u in listing.unusable {
                println!(
                    "{:<12}  {:<20}  {:<36}  {:<8}  {:<5}  -",
                    u.id.as_deref().unwrap_or("?"),
                    u.partner.as_deref().unwrap_or("?"),
                    "?",
                    "unusable",
                    "?"
                );
            }
        }
        Command::Disable { id } => {
            admin.set_disabled(&id, true).await?;
            eprintln!("disabled {id}; the authorizer refuses it within its cache time");
        }
        Command::Enable { id } => {
            admin.set_disabled(&id, false).await?;
            eprintln!("enabled {id}");
        }
        Command::Revoke { id } => {
            admin.revoke(&id).await?;
            eprintln!("revoked {id}; the authorizer refuses it within its cache time");
        }
        Command::Rotate { id, overlap } => {
            let (key, record) = admin.rotate(&id, overlap, now).await?;
            eprintln!("{id} expires in {}", humantime::format_duration(overlap));
            show_once(&key, &record);
        }
    }
    Ok(())
}

/// The key on stdout (alone, so it can be piped), the rest on stderr.
fn show_once(key: &GeneratedKey, record: &KeyRecord) {
    eprintln!(
        "new key {} for partner {} ({}). It is shown once and cannot be recovered: store it now.",
        record.id,
        record.partner,
        record.permissions.join(" ")
    );
    println!("{}", key.expose());
}

fn state(k: &KeyRecord, now: OffsetDateTime) -> &'static str {
    if k.disabled {
        "disabled"
    } else if k
        .expires
        .as_deref()
        .and_then(parse_time)
        .is_some_and(|t| t <= now.unix_timestamp() as f64)
    {
        "expired"
    } else {
        "active"
    }
}
