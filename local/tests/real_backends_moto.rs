//! The local stack on real backends: items in a DynamoDB table and partner
//! keys in a Secrets Manager registry, both on moto server through the real
//! AWS SDK. Run through `scripts/with-moto.sh cargo test --workspace`;
//! without a loopback `AWS_ENDPOINT_URL` these tests fail (never skip, never
//! reach a real account).
// Test code: a failed unwrap is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use authorizer::apikey::admin::{Admin, NewKey};
use authorizer::apikey::store::SecretsManagerStore;
use local::config::{IdpChoice, RegistryChoice, StackConfig, StoreChoice};
use local::server::Stack;
use policies::PermissionSet;
use serde_json::{Value, json};
use time::OffsetDateTime;

async fn moto_sdk() -> aws_config::SdkConfig {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL is not set: run through scripts/with-moto.sh")
    });
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "AWS_ENDPOINT_URL={endpoint} is not a loopback address; refusing to run against it"
    );
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

async fn table(sdk: &aws_config::SdkConfig) -> String {
    let name = format!("local-test-{}", uuid::Uuid::now_v7().simple());
    api::store::DynamoDbStore::create_table(&aws_sdk_dynamodb::Client::new(sdk), &name)
        .await
        .unwrap();
    name
}

#[tokio::test]
async fn items_go_to_dynamodb_and_partner_keys_come_from_secrets_manager() {
    let sdk = moto_sdk().await;
    let table = table(&sdk).await;
    let secret = format!("local-test-keys-{}", uuid::Uuid::now_v7().simple());
    let admin = Admin::new(Arc::new(SecretsManagerStore::new(
        aws_sdk_secretsmanager::Client::new(&sdk),
        secret.clone(),
    )));
    admin.init().await.unwrap();
    let (key, _) = admin
        .create(
            &NewKey {
                partner: "globex".into(),
                permissions: PermissionSet::ALL,
                usage_key: Some("moto-partner-usage-key-01".into()),
                expires: None,
            },
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();

    let stack = Stack::start(StackConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        store: StoreChoice::DynamoDb {
            table: table.clone(),
        },
        registry: RegistryChoice::SecretsManager {
            secret_id: secret.clone(),
        },
        ..StackConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(
        stack.partner_key(),
        None,
        "no development key with a real registry"
    );
    let client = reqwest::Client::new();
    let auth = format!("ApiKey {}", key.expose());

    let created = client
        .post(format!("{}/items", stack.url()))
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .body(json!({"name": "from the local stack"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap();

    let got = client
        .get(format!("{}/items/{id}", stack.url()))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);

    // The item is in the table, in the partner's partition.
    let stored = aws_sdk_dynamodb::Client::new(&sdk)
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let pks: Vec<String> = stored
        .items()
        .iter()
        .filter_map(|i| i.get("pk")?.as_s().ok().cloned())
        .collect();
    assert!(pks.contains(&"OWNER#partner:globex".to_owned()), "{pks:?}");

    // Users of the development identity provider still work alongside.
    let alice = format!(
        "Bearer {}",
        stack.mint("alice", &[], None).unwrap().unwrap()
    );
    let listed = client
        .get(format!("{}/items", stack.url()))
        .header("Authorization", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let listed: Value = listed.json().await.unwrap();
    assert_eq!(listed["items"], json!([]));
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_moto_cognito_pool_replaces_the_development_identity_provider() {
    let sdk = moto_sdk().await;
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&sdk);
    let signed_in = authorizer::testkit::sign_in_new_user(&cognito, "local-stack", "erin")
        .await
        .unwrap();
    let (pool_id, client_id, access_token) = (
        signed_in.pool_id,
        signed_in.client_id,
        signed_in.access_token,
    );

    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let stack = Stack::start(StackConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        idp: IdpChoice::Cognito {
            user_pool_id: pool_id.clone(),
            client_ids: client_id,
            jwks_uri: Some(format!("{endpoint}/{pool_id}/.well-known/jwks.json")),
        },
        ..StackConfig::default()
    })
    .await
    .unwrap();
    assert!(!stack.has_dev_idp());
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/items", stack.url()))
        .header("Authorization", format!("Bearer {access_token}"))
        .header("Content-Type", "application/json")
        .body(json!({"name": "signed in for real"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // No development token endpoint without the development identity provider.
    let r = client
        .post(format!("{}/_dev/token", stack.url()))
        .body(json!({"sub": "mallory"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    stack.shutdown().await.unwrap();
}
