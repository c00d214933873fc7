//! The behaviour suite against [`DynamoDbStore`] through the real AWS SDK,
//! against moto server. Run through `scripts/with-moto.sh cargo test
//! --workspace`: without `AWS_ENDPOINT_URL` these tests fail (they never
//! skip, and never fall back to a real account).
//!
//! Each test creates its own table, so tests and test binaries can run in
//! parallel against one moto server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;

use api::store::{DynamoDbStore, ItemStore, StoreError};
use aws_sdk_dynamodb::Client;
use common::suite::Backend;

struct Dynamo {
    sdk: aws_config::SdkConfig,
    table: String,
}

impl Backend for Dynamo {
    type Store = DynamoDbStore;
    /// A new client per handler instance, as separate Lambda instances have.
    fn store(&self) -> DynamoDbStore {
        DynamoDbStore::new(Client::new(&self.sdk), &self.table)
    }
}

/// The SDK configuration for moto; refuses anything but a loopback endpoint.
async fn moto_sdk() -> aws_config::SdkConfig {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!(
            "AWS_ENDPOINT_URL is not set. The DynamoDB tests run against moto server: \
             run them through scripts/with-moto.sh, e.g. `scripts/with-moto.sh cargo test --workspace`."
        )
    });
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "AWS_ENDPOINT_URL={endpoint} is not a loopback address; refusing to run against it"
    );
    for var in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        assert!(
            std::env::var(var).is_ok(),
            "{var} is not set: run through scripts/with-moto.sh"
        );
    }
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

/// A fresh table with the template's key schema and TTL attribute.
async fn dynamo() -> Dynamo {
    let sdk = moto_sdk().await;
    let client = Client::new(&sdk);
    let table = format!("api-test-{}", uuid::Uuid::now_v7().simple());
    DynamoDbStore::create_table(&client, &table).await.unwrap();
    Dynamo { sdk, table }
}

behaviour_suite!(dynamo().await);

#[tokio::test]
async fn a_missing_table_is_a_500_not_a_404() {
    let d = dynamo().await;
    let store = DynamoDbStore::new(Client::new(&d.sdk), "no-such-table");
    let err = store
        .get(
            &policies::Owner::user("o").unwrap(),
            &api::item::ItemId::generate(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
}

#[tokio::test]
async fn pages_of_large_items_follow_each_other_without_gaps() {
    // Items near the size limit, so a page of 100 comes close to the 1 MB
    // query limit: the cursor logic must not lose or repeat items.
    let d = dynamo().await;
    let app = d.app();
    let owner = common::unique_owner("large");
    let description = "d".repeat(2000);
    let tags: Vec<String> = (0..20).map(|i| format!("{i:0>50}")).collect();
    let mut ids = Vec::new();
    for i in 0..30 {
        let r = common::call("POST", "/items")
            .by(&owner, common::ALL)
            .json(serde_json::json!({"name": format!("{i}"), "description": description, "tags": tags}))
            .send(&app)
            .await;
        assert_eq!(r.status, 201);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut c = common::call("GET", "/items")
            .by(&owner, common::ALL)
            .query("limit", "8");
        if let Some(cur) = &cursor {
            c = c.query("cursor", cur);
        }
        let r = c.send(&app).await;
        assert_eq!(r.status, 200);
        seen.extend(
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned()),
        );
        match r.body["nextCursor"].as_str() {
            Some(n) => cursor = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ids);
}

/// The cold-start read of the cursor key (`CURSOR_KEY_SECRET_ID`), against
/// moto's Secrets Manager through the real SDK.
#[tokio::test]
async fn the_cursor_key_is_read_from_its_secret_at_cold_start() {
    use api::config::{ConfigError, read_cursor_key};
    let sdk = moto_sdk().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = format!("cursor-key-{}", uuid::Uuid::now_v7().simple());
    secrets
        .create_secret()
        .name(&name)
        .secret_string("k".repeat(64))
        .send()
        .await
        .unwrap();
    let codec = read_cursor_key(&secrets, &name).await.unwrap();
    let id = api::item::ItemId::generate();
    let cursor = codec.encode("user:u", &id);
    assert_eq!(codec.decode("user:u", &cursor).unwrap(), id);

    let short = format!("{name}-short");
    secrets
        .create_secret()
        .name(&short)
        .secret_string("too short")
        .send()
        .await
        .unwrap();
    let err = read_cursor_key(&secrets, &short).await.unwrap_err();
    assert!(matches!(err, ConfigError::WeakCursorKey(_)), "{err}");

    let err = read_cursor_key(&secrets, &format!("{name}-missing"))
        .await
        .unwrap_err();
    assert!(matches!(err, ConfigError::CursorKeyUnreadable(_)), "{err}");
    assert!(
        err.to_string().starts_with("CURSOR_KEY_SECRET_ID: "),
        "{err}"
    );
    assert!(!err.to_string().contains(&"k".repeat(64)));
}

/// With active tracing, every DynamoDB call of a client configured with
/// `XrayInterceptor` reaches the X-Ray daemon as a subsegment of the
/// invocation: here a UDP socket stands in for the daemon.
#[tokio::test]
async fn dynamodb_calls_become_x_ray_subsegments_of_a_sampled_invocation() {
    use telemetry::xray::{XrayInterceptor, init};
    let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    daemon
        .set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();
    assert!(init(daemon.local_addr().unwrap()));
    let sdk = moto_sdk().await;
    let client = Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(XrayInterceptor)
            .build(),
    );
    let table = format!("xray-{}", uuid::Uuid::now_v7().simple());
    DynamoDbStore::create_table(&Client::new(&sdk), &table)
        .await
        .unwrap();
    let store = DynamoDbStore::new(client, &table);
    let owner = policies::Owner::user("traced").unwrap();
    telemetry::Invocation {
        request_id: "lambda-1".into(),
        api_request_id: None,
        trace_id: Some(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into(),
        ),
    }
    .scope(store.get(&owner, &api::item::ItemId::generate()))
    .await
    .unwrap();
    let mut buf = [0u8; 4096];
    let n = daemon.recv(&mut buf).unwrap();
    let text = std::str::from_utf8(&buf[..n]).unwrap();
    let doc: serde_json::Value = serde_json::from_str(text.split_once('\n').unwrap().1).unwrap();
    assert_eq!(doc["name"], "DynamoDB");
    assert_eq!(doc["aws"]["operation"], "GetItem");
    assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
    assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
    assert!(doc.get("fault").is_none(), "{doc}");
}
