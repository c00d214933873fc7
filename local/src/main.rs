//! `local`: the whole secured API on this machine (development only).
//! Reads the flags, starts the stack, prints the curl lines, runs until
//! Ctrl-C. `local token` mints a token from a running stack.

use std::process::ExitCode;

use clap::Parser;
use local::banner::{Credentials, banner};
use local::config::{Cli, Command, ServeArgs, TokenArgs};
use local::idp::{MintResponse, TOKEN_PATH};
use local::server::Stack;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Token(args)) => token(args).await,
        Some(Command::Serve(args)) => serve(*args).await,
        None => serve(cli.serve).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let config = args.into_config()?;
    let stage = config.stage.clone();
    let stack = Stack::start(config).await?;
    let credentials = Credentials {
        alice: stack.mint("alice", &[], None).transpose()?,
        bob: stack.mint("bob", &["readonly"], None).transpose()?,
        partner_key: stack.partner_key().map(str::to_owned),
        idp_off: stack.idp_off().map(ToString::to_string),
    };
    println!("{}", banner(&stack.url(), &stage, &credentials));
    tokio::signal::ctrl_c().await?;
    eprintln!("local: stopping");
    let stats = std::sync::Arc::clone(stack.gateway().stats());
    stack.shutdown().await?;
    eprint!("{}", stats.summary());
    Ok(())
}

async fn token(args: TokenArgs) -> Result<(), Box<dyn std::error::Error>> {
    let body = if args.machine {
        serde_json::json!({"grant_type": "client_credentials", "scope": args.scope})
    } else {
        serde_json::json!({"sub": args.user, "groups": args.groups, "scope": args.scope})
    };
    let response = reqwest::Client::new()
        .post(format!("{}{TOKEN_PATH}", args.url.trim_end_matches('/')))
        .json(&body)
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(format!(
            "the stack answered {}: {}",
            response.status(),
            response.text().await.unwrap_or_default()
        )
        .into());
    }
    let minted: MintResponse = response.json().await?;
    println!("{}", minted.access_token);
    Ok(())
}
