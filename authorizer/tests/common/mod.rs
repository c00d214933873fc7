//! What the moto tests of `partner-keys` share: running the built command,
//! reading its output, and the production authorizer judging its keys.

// Test code: a panic is how a failure is reported; each test file uses a part.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use authorizer::{Authorizer, AuthorizerEvent, Config, Failure, Rejection};

pub const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/items";

pub fn require_moto() {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost") => {}
        _ => panic!(
            "AWS_ENDPOINT_URL must point at a local moto server: run these tests through scripts/with-moto.sh"
        ),
    }
}

pub fn cli(secret: &str, args: &[&str]) -> Output {
    require_moto();
    Command::new(env!("CARGO_BIN_EXE_partner-keys"))
        .arg("--secret-id")
        .arg(secret)
        .args(args)
        .output()
        .unwrap()
}

pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn create(secret: &str, args: &[&str]) -> String {
    let mut all = vec!["create"];
    all.extend_from_slice(args);
    ok(cli(secret, &all)).trim().to_owned()
}

pub fn unique(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{nanos}")
}

pub async fn authorizer(secret: &str, cache_seconds: &str) -> Authorizer {
    let vars = [
        ("API_KEYS_SECRET_ID", secret),
        ("API_KEYS_CACHE_SECONDS", cache_seconds),
    ];
    let config = Config::from_pairs(&vars).unwrap();
    Authorizer::from_config(&config).await.unwrap()
}

pub async fn decide(
    a: &Authorizer,
    key: &str,
) -> Result<authorizer::AuthorizerResponse, Rejection> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    match a
        .authorize(&AuthorizerEvent::token(format!("ApiKey {key}"), ARN), now)
        .await
    {
        Ok(r) => Ok(r),
        Err(Failure::Unauthorized(why)) => Err(why),
        Err(other) => panic!("unexpected failure {other:?}"),
    }
}

pub fn key_id(key: &str) -> String {
    key[3..15].to_owned()
}

/// Runs `partner-keys --secret-id SECRET <args>` once per argument list, all
/// at once, and returns each one's key (standard output), in order.
pub fn concurrently(secret: &str, runs: &[Vec<String>]) -> Vec<String> {
    require_moto();
    let children: Vec<_> = runs
        .iter()
        .map(|args| {
            Command::new(env!("CARGO_BIN_EXE_partner-keys"))
                .args(["--secret-id", secret])
                .args(args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| ok(c.wait_with_output().unwrap()).trim().to_owned())
        .collect()
}
