//! See the authorizer decide, with no AWS account: a signing key is generated,
//! its JWKS served in process, tokens minted for three users, and the
//! authorizer's real answers printed as API Gateway would receive them.
//!
//! `cargo run -p authorizer --features testkit --example decide`

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use authorizer::jwt::token::SigAlg;
use authorizer::testkit::{SigningKey, StaticJwks, access_claims, jwks};
use authorizer::{AuthorizerBuilder, AuthorizerEvent, Config, Failure};

const POOL: &str = "us-east-1_DemoPool1";
const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_DemoPool1";
const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:demoapi123/prod/GET/items";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let vars = [
        ("COGNITO_USER_POOL_ID", POOL),
        ("COGNITO_CLIENT_IDS", "democlient"),
    ];
    let config = Config::from_pairs(&vars)?;
    let key = SigningKey::rsa("demo-key", SigAlg::RS256)?;
    let authorizer = AuthorizerBuilder::new(&config)
        .jwks_source(Arc::new(StaticJwks::new(&jwks(&[&key]))))
        .build();
    authorizer.warm_up().await;

    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let users = [
        (
            "a first-party user",
            access_claims(
                ISSUER,
                "democlient",
                "alice",
                "aws.cognito.signin.user.admin",
                &[],
                now,
            ),
        ),
        (
            "a user in the readonly group",
            access_claims(
                ISSUER,
                "democlient",
                "bob",
                "aws.cognito.signin.user.admin",
                &["readonly"],
                now,
            ),
        ),
        (
            "a token for another app client",
            access_claims(ISSUER, "otherclient", "eve", "items/read", &[], now),
        ),
    ];
    for (who, claims) in users {
        let event = AuthorizerEvent::token(format!("Bearer {}", key.sign(&claims)?), ARN);
        println!("── {who}");
        match authorizer.authorize(&event, now as f64).await {
            Ok(response) => println!("{}\n", serde_json::to_string_pretty(&response)?),
            Err(Failure::Unauthorized(why)) => {
                println!("error \"Unauthorized\" (API Gateway answers 401); reason: {why}\n")
            }
            Err(other) => println!("internal error (API Gateway answers 500): {other}\n"),
        }
    }
    Ok(())
}
