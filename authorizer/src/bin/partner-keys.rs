//! `partner-keys`: bring partners on and off, one command per intent: the
//! registry record the authorizer reads, the partner's API Gateway API key
//! and its usage plan (tier), together; plus usage, reconciliation and a
//! scanner for leaked keys.
//!
//! Thin: argument parsing and printing; the operations are
//! `authorizer::apikey::{admin, partners, stack, scan}`. AWS region,
//! credentials and endpoint come from the standard AWS environment.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use authorizer::apikey::admin::{Admin, NewKey};
use authorizer::apikey::format::GeneratedKey;
use authorizer::apikey::gateway::ApiGatewayClient;
use authorizer::apikey::partners::{ApiKeyFate, Created, Metering, PartnerError, Partners};
use authorizer::apikey::registry::{KeyRecord, parse_time};
use authorizer::apikey::scan::Scanner;
use authorizer::apikey::stack::{StackError, plan_for_tier};
use authorizer::apikey::store::SecretsManagerStore;
use aws_config::SdkConfig;
use clap::{Args, Parser, Subcommand};
use policies::{Permission, PermissionSet};
use time::OffsetDateTime;

/// Manage partner API keys: the registry the authorizer reads, and each
/// partner's API Gateway API key and usage plan.
///
/// Keys look like pk_<id>_<secret>. Only their SHA-256 is stored; the key
/// itself is printed once, on standard output, when it is created or rotated.
/// Every registry change is a read-modify-write that detects a concurrent
/// change by another operator and re-applies itself, so no change is lost.
/// AWS region, credentials and endpoint come from the standard AWS
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

/// Which usage plan: by id, or by tier in the stack's outputs.
#[derive(Debug, Args)]
struct PlanArgs {
    /// The usage plan's id.
    #[arg(long, value_name = "ID", conflicts_with = "tier")]
    usage_plan_id: Option<String>,
    /// The tier (e.g. standard, premium): the plan is the stack's output
    /// PartnerUsagePlan<Tier>. Needs --stack (or STACK_NAME).
    #[arg(long, value_name = "NAME", requires = "stack")]
    tier: Option<String>,
    /// The CloudFormation stack whose outputs name the tiers' plans; used
    /// with --tier only.
    #[arg(long, value_name = "STACK", env = "STACK_NAME")]
    stack: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the secret holding an empty registry (fails if it exists).
    Init,
    /// Issue a new key for a partner and print it once. With a plan (--usage-plan-id, or
    /// --tier and --stack), a new partner is onboarded: an API Gateway API key is created
    /// with its usage key and put on the plan, all or nothing. A partner that already has
    /// a usage key gets a key that shares it (same API key, plan and quota).
    Create {
        /// The partner: 1-64 of [a-z0-9-]. Its data lives under the owner partner:<NAME>.
        #[arg(long, value_name = "NAME")]
        partner: String,
        /// A permission the key grants; repeat for several: items:read, items:write, items:delete.
        #[arg(long = "permission", value_name = "P", required = true, value_parser = parse_permission)]
        permissions: Vec<Permission>,
        /// The API Gateway API key value (20-128 characters) instead of a generated one. Without
        /// a plan, only recorded: you attach it to a usage plan yourself.
        #[arg(long, value_name = "VALUE")]
        usage_key: Option<String>,
        /// When the key stops working, RFC 3339 (e.g. 2030-01-31T00:00:00Z); must be in the future.
        #[arg(long, value_name = "TIME")]
        expires: Option<String>,
        #[command(flatten)]
        plan: PlanArgs,
    },
    /// List keys: id, partner, permissions, state, tier, expiry. Never prints keys or hashes.
    List,
    /// Refuse a key until it is enabled again (its API key stays).
    Disable {
        /// The key id (the 12 characters after pk_).
        id: String,
    },
    /// Accept a disabled key again.
    Enable {
        /// The key id.
        id: String,
    },
    /// Delete a key's record for good, and the partner's API Gateway API key when no other
    /// key of the registry uses it.
    Revoke {
        /// The key id.
        id: String,
    },
    /// Issue a new key with the same partner, permissions and usage key (so the same API key,
    /// plan and quota); the old key expires after the overlap, giving the partner time to switch.
    Rotate {
        /// The key id to replace.
        id: String,
        /// How long the old key keeps working, e.g. 24h, 30m, 0s (default 24h).
        #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = humantime::parse_duration)]
        overlap: Duration,
    },
    /// Put a partner's API key on another usage plan (tier).
    Move {
        /// The partner.
        partner: String,
        #[command(flatten)]
        plan: PlanArgs,
    },
    /// Requests used and quota left in the current period (API Gateway GetUsage).
    Usage {
        /// The partner.
        partner: String,
    },
    /// List API keys created by this command that no record uses (left by a command killed
    /// midway), records whose usage key no API key has, and API keys on no plan.
    Reconcile {
        /// Delete the API keys no record uses.
        #[arg(long)]
        delete: bool,
        /// Leave alone API keys younger than this: they may belong to an onboarding in
        /// progress (e.g. 10m, 0s).
        #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
        min_age: Duration,
    },
    /// Look for leaked partner keys (right shape and checksum) in files and directories,
    /// offline. Prints file:line and the key id, never the key; exits 1 if any is found.
    /// A line carrying "pragma: allowlist secret" is a deliberate fixture and is skipped.
    Scan {
        /// Files or directories (searched recursively, .git left out).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

fn parse_permission(s: &str) -> Result<Permission, String> {
    s.parse::<Permission>().map_err(|e| e.to_string())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Scan { paths } = &cli.command {
        return scan(paths);
    }
    let Some(secret_id) = cli.secret_id else {
        eprintln!("error: --secret-id (or API_KEYS_SECRET_ID) is required");
        return ExitCode::from(2);
    };
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store =
        SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(&sdk), secret_id.clone());
    let admin = Admin::new(Arc::new(store));
    let gateway = ApiGatewayClient::new(aws_sdk_apigateway::Client::new(&sdk));
    let partners = Partners::new(admin.clone(), Arc::new(gateway), secret_id.clone());
    let result = run(&partners, &sdk, cli.command, &secret_id).await;
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

/// Every failure the command reports.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Partner(#[from] PartnerError),
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error("{0}")]
    Usage(&'static str),
}

impl From<authorizer::apikey::admin::AdminError> for CliError {
    fn from(e: authorizer::apikey::admin::AdminError) -> Self {
        CliError::Partner(e.into())
    }
}

async fn plan_id(sdk: &SdkConfig, plan: PlanArgs) -> Result<Option<String>, CliError> {
    match (plan.usage_plan_id, plan.tier, plan.stack) {
        (Some(id), _, _) => Ok(Some(id)),
        (None, Some(tier), Some(stack)) => {
            let client = aws_sdk_cloudformation::Client::new(sdk);
            Ok(Some(plan_for_tier(&client, &stack, &tier).await?))
        }
        _ => Ok(None),
    }
}

async fn run(
    partners: &Partners,
    sdk: &SdkConfig,
    command: Command,
    secret_id: &str,
) -> Result<(), CliError> {
    let now = OffsetDateTime::now_utc();
    let admin = partners.admin();
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
            plan,
        } => {
            let new = NewKey {
                partner,
                permissions: permissions.into_iter().collect::<PermissionSet>(),
                usage_key,
                expires,
            };
            let plan_id = plan_id(sdk, plan).await?;
            let created = partners.create(&new, plan_id.as_deref(), now).await?;
            say_metering(&created);
            show_once(&created.key, &created.record);
        }
        Command::List => {
            let (rows, gateway_failure) = partners.list().await?;
            if let Some(e) = gateway_failure {
                eprintln!("warning: tiers unknown ({e})");
            }
            println!(
                "{:<12}  {:<20}  {:<36}  {:<8}  {:<10}  EXPIRES",
                "ID", "PARTNER", "PERMISSIONS", "STATE", "TIER"
            );
            for row in rows {
                let k = &row.record;
                println!(
                    "{:<12}  {:<20}  {:<36}  {:<8}  {:<10}  {}",
                    k.id,
                    k.partner,
                    k.permissions.join(" "),
                    state(k, now),
                    row.tier,
                    k.expires.as_deref().unwrap_or("-")
                );
            }
            // Refused by the authorizer whatever their fields say: never shown
            // as active (the reason follows on standard error).
            for u in admin.unusable_seen() {
                println!(
                    "{:<12}  {:<20}  {:<36}  {:<8}  {:<10}  -",
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
            eprintln!(
                "disabled {id} (its API key stays); the authorizer refuses it within its cache time"
            );
        }
        Command::Enable { id } => {
            admin.set_disabled(&id, false).await?;
            eprintln!("enabled {id}");
        }
        Command::Revoke { id } => {
            let fate = partners.revoke(&id).await?;
            eprintln!("revoked {id}; the authorizer refuses it within its cache time");
            match fate {
                ApiKeyFate::None => {}
                ApiKeyFate::Kept => {
                    eprintln!("its usage key is still used by another key: the API key stays")
                }
                ApiKeyFate::Deleted(key_id) => {
                    eprintln!("deleted API key {key_id} (no key uses its usage key any more)")
                }
                ApiKeyFate::Missing => eprintln!("no API key had its usage key"),
                ApiKeyFate::NotOurs(key_id) => eprintln!(
                    "API key {key_id} has its usage key but was not created by partner-keys: left in place"
                ),
            }
        }
        Command::Rotate { id, overlap } => {
            let (key, record) = admin.rotate(&id, overlap, now).await?;
            eprintln!(
                "{id} expires in {}; the new key shares its usage key (same API key, plan and quota)",
                humantime::format_duration(overlap)
            );
            show_once(&key, &record);
        }
        Command::Move { partner, plan } => {
            let Some(plan_id) = plan_id(sdk, plan).await? else {
                return Err(CliError::Usage(
                    "--usage-plan-id, or --tier with --stack, is required",
                ));
            };
            let left = partners.move_to(&partner, &plan_id).await?;
            if left.is_empty() {
                eprintln!("partner {partner} is already on plan {plan_id}");
            } else {
                let from: Vec<&str> = left.iter().map(|p| p.label()).collect();
                eprintln!(
                    "moved partner {partner} from {} to plan {plan_id}; quota counts start again on the new plan",
                    from.join(",")
                );
            }
        }
        Command::Usage { partner } => {
            let usage = partners.usage(&partner, now.date()).await?;
            println!(
                "partner {partner}: plan {} ({}), API key {}",
                usage.plan.id,
                usage.plan.label(),
                usage.key_id
            );
            println!("requests {} to {}: {}", usage.start, usage.end, usage.used);
            match (&usage.plan.quota, usage.remaining) {
                (Some(q), Some(left)) => {
                    println!("quota {} per {}: {left} left", q.limit, q.period)
                }
                _ => println!("quota: none"),
            }
        }
        Command::Reconcile { delete, min_age } => {
            let min_age = i64::try_from(min_age.as_secs()).unwrap_or(i64::MAX);
            let report = partners.reconcile(delete, min_age, now).await?;
            for (key, deleted) in &report.orphans {
                println!(
                    "orphan API key {} ({}) of partner {}: no record uses it{}",
                    key.id,
                    key.name,
                    key.partner().unwrap_or("?"),
                    match (deleted, delete) {
                        (true, _) => "; deleted",
                        (false, true) => "; younger than --min-age, left",
                        (false, false) => "",
                    }
                );
            }
            for (id, partner) in &report.without_api_key {
                println!("record {id} of partner {partner}: no API key has its usage key");
            }
            for (key_id, partner) in &report.on_no_plan {
                println!("API key {key_id} of partner {partner}: on no usage plan");
            }
            if report == Default::default() {
                eprintln!("registry and API Gateway agree");
            }
        }
        Command::Scan { .. } => {}
    }
    Ok(())
}

fn scan(paths: &[PathBuf]) -> ExitCode {
    match Scanner::new().scan_paths(paths) {
        Ok(findings) if findings.is_empty() => {
            eprintln!("no partner key found");
            ExitCode::SUCCESS
        }
        Ok(findings) => {
            for f in &findings {
                println!("{}:{}: partner key {}", f.path.display(), f.line, f.key_id);
            }
            eprintln!(
                "{} partner key(s) found: revoke or rotate each (partner-keys rotate ID --overlap 0s)",
                findings.len()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn say_metering(created: &Created) {
    match &created.metering {
        Metering::NewApiKey { key_id, plan } => eprintln!(
            "created API key {key_id} with the partner's usage key on plan {} ({})",
            plan.id,
            plan.label()
        ),
        Metering::Shared => {
            eprintln!("the key shares the partner's usage key (same API key, plan and quota)")
        }
        Metering::RegistryOnly => {}
    }
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
