//! Partner keys end to end against moto server's Secrets Manager, through
//! the real SDK: the `partner-keys` command (the built binary) issues and
//! manages keys, and the production authorizer judges them.
//!
//! Run through `scripts/with-moto.sh`, which starts moto and points the SDK's
//! standard environment at it.

// Test code: a panic is how a failure is reported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authorizer::apikey::store::{SecretStore, SecretsManagerStore};
use authorizer::{AuthorizerEvent, Rejection};

mod common;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_created_by_the_command_is_accepted_with_its_permissions_and_usage_key() {
    let secret = unique("registry");
    ok(cli(&secret, &["init"]));
    let key = create(
        &secret,
        &[
            "--partner",
            "acme",
            "--permission",
            "items:read",
            "--permission",
            "items:write",
            "--usage-key",
            "acme-usage-key-0123456789",
        ],
    );
    let a = authorizer(&secret, "300").await;
    let r = decide(&a, &key).await.unwrap();
    assert_eq!(r.principal_id, "partner:acme");
    assert_eq!(
        serde_json::to_value(&r.context).unwrap(),
        serde_json::json!({"owner": "partner:acme", "authType": "apiKey",
                           "permissions": "items:read items:write",
                           "partner": "acme", "keyId": key_id(&key)})
    );
    assert_eq!(
        r.usage_identifier_key.as_deref(),
        Some("acme-usage-key-0123456789")
    );

    // X-Api-Key in a REQUEST event works the same.
    let mut event = AuthorizerEvent {
        method_arn: ARN.into(),
        ..AuthorizerEvent::default()
    };
    event.headers = Some([("X-Api-Key".to_owned(), key.clone())].into());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(a.authorize(&event, now).await.is_ok());

    // The listing shows the key without its secret or hash.
    let list = ok(cli(&secret, &["list"]));
    assert!(list.contains(&key_id(&key)) && list.contains("acme") && list.contains("active"));
    assert!(!list.contains(&key[16..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_enable_revoke_and_expiry_take_effect_within_the_cache_time() {
    let secret = unique("registry");
    ok(cli(&secret, &["init"]));
    let key = create(
        &secret,
        &["--partner", "acme", "--permission", "items:read"],
    );
    let id = key_id(&key);
    let a = authorizer(&secret, "1").await;
    assert!(decide(&a, &key).await.is_ok());

    ok(cli(&secret, &["disable", &id]));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        decide(&a, &key).await.unwrap_err(),
        Rejection::DisabledApiKey { key_id: id.clone() }
    );

    ok(cli(&secret, &["enable", &id]));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(decide(&a, &key).await.is_ok());

    ok(cli(&secret, &["revoke", &id]));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        decide(&a, &key).await.unwrap_err(),
        Rejection::UnknownApiKey { key_id: id }
    );

    let expiring = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let expires = expiring
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let short = create(
        &secret,
        &[
            "--partner",
            "acme",
            "--permission",
            "items:read",
            "--expires",
            &expires,
        ],
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(decide(&a, &short).await.is_ok());
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(
        decide(&a, &short).await.unwrap_err(),
        Rejection::ExpiredApiKey {
            key_id: key_id(&short)
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_created_after_the_authorizer_started_is_accepted_without_waiting_for_the_ttl() {
    let secret = unique("registry");
    ok(cli(&secret, &["init"]));
    let a = authorizer(&secret, "300").await;
    let key = create(
        &secret,
        &["--partner", "late", "--permission", "items:read"],
    );
    assert!(decide(&a, &key).await.is_ok());
    // A second new key within 10 s gets no second early re-read.
    let another = create(
        &secret,
        &["--partner", "later", "--permission", "items:read"],
    );
    assert_eq!(
        decide(&a, &another).await.unwrap_err(),
        Rejection::UnknownApiKey {
            key_id: key_id(&another)
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_issues_a_working_key_and_ends_the_old_one_after_the_overlap() {
    let secret = unique("registry");
    ok(cli(&secret, &["init"]));
    let old = create(
        &secret,
        &["--partner", "acme", "--permission", "items:delete"],
    );
    let new = ok(cli(&secret, &["rotate", &key_id(&old), "--overlap", "0s"]))
        .trim()
        .to_owned();
    let a = authorizer(&secret, "300").await;
    let r = decide(&a, &new).await.unwrap();
    assert_eq!(
        (
            r.principal_id.as_str(),
            r.context.permissions.to_string().as_str()
        ),
        ("partner:acme", "items:delete")
    );
    assert_eq!(
        decide(&a, &old).await.unwrap_err(),
        Rejection::ExpiredApiKey {
            key_id: key_id(&old)
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_by_two_operators_all_survive() {
    let secret = unique("registry");
    ok(cli(&secret, &["init"]));
    let runs: Vec<Vec<String>> = (0..4)
        .map(|i| {
            [
                "create",
                "--partner",
                &format!("p{i}"),
                "--permission",
                "items:read",
            ]
            .map(str::to_owned)
            .to_vec()
        })
        .collect();
    let keys = concurrently(&secret, &runs);
    let a = authorizer(&secret, "300").await;
    for key in &keys {
        assert!(
            decide(&a, key).await.is_ok(),
            "a concurrent create was lost"
        );
    }
    let list = ok(cli(&secret, &["list"]));
    assert_eq!(list.lines().count(), 1 + keys.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_non_zero_and_leaves_the_registry_untouched() {
    let secret = unique("registry");
    ok(cli(&secret, &["init"]));
    create(
        &secret,
        &["--partner", "acme", "--permission", "items:read"],
    );
    let before = ok(cli(&secret, &["list"]));
    let cases: &[&[&str]] = &[
        &["create", "--partner", "acme", "--permission", "items:admin"],
        &[
            "create",
            "--partner",
            "Not Valid",
            "--permission",
            "items:read",
        ],
        &["create", "--partner", "acme"],
        &[
            "create",
            "--partner",
            "acme",
            "--permission",
            "items:read",
            "--expires",
            "2001-01-01T00:00:00Z",
        ],
        &[
            "create",
            "--partner",
            "acme",
            "--permission",
            "items:read",
            "--usage-key",
            "short",
        ],
        &["disable", "doesnotexist"],
        &["enable", "doesnotexist"],
        &["revoke", "doesnotexist"],
        &["rotate", "doesnotexist"],
        &["init"],
    ];
    for args in cases {
        let out = cli(&secret, args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            !String::from_utf8_lossy(&out.stderr).trim().is_empty(),
            "{args:?} said nothing"
        );
    }
    assert_eq!(ok(cli(&secret, &["list"])), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_registry_fails_closed() {
    require_moto();
    // A registry that does not exist, and one that is not JSON.
    let missing = unique("missing");
    let a = authorizer(&missing, "300").await;
    let key = "pk_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA000000";
    let body = &key[..50];
    let real = format!("{body}{}", authorizer::apikey::format::checksum(body));
    assert_eq!(
        decide(&a, &real).await.unwrap_err(),
        Rejection::RegistryUnavailable
    );
    assert_eq!(
        decide(&a, &real).await.unwrap_err(),
        Rejection::RegistryUnavailable
    );

    let garbage = unique("garbage");
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(&garbage)
        .secret_string("{not json")
        .send()
        .await
        .unwrap();
    let a = authorizer(&garbage, "300").await;
    assert_eq!(
        decide(&a, &real).await.unwrap_err(),
        Rejection::RegistryUnavailable
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_with_a_mistyped_field_is_refused_reported_and_kept_by_every_command() {
    let secret = unique("registry");
    ok(cli(&secret, &["init"]));
    let key = create(
        &secret,
        &["--partner", "acme", "--permission", "items:read"],
    );
    let id = key_id(&key);
    // The operator meant to disable the key and typed "Disabled" (written
    // with the registry's own compare-and-swap: moto keeps a stale
    // AWSCURRENT after a plain PutSecretValue that follows a label move).
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(&sdk), &secret);
    let current = store.read().await.unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&current.text).unwrap();
    doc["keys"][0]["Disabled"] = true.into();
    let mistyped = doc["keys"][0].clone();
    store
        .write(doc.to_string(), &current.version_id)
        .await
        .unwrap();

    // The authorizer refuses the key (the record is skipped).
    let a = authorizer(&secret, "300").await;
    assert_eq!(
        decide(&a, &key).await.unwrap_err(),
        Rejection::UnknownApiKey { key_id: id.clone() }
    );

    // `list` shows it unusable, never active, and says why.
    let out = cli(&secret, &["list"]);
    let listed = ok(out.clone());
    let row = listed.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(row.contains("unusable") && !row.contains("active"), "{row}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&id) && said.contains("unknown field `Disabled`"),
        "{said}"
    );

    // Another change keeps the record as it was and reports it; a change to
    // it is refused with the reason.
    let out = cli(
        &secret,
        &["create", "--partner", "beta", "--permission", "items:read"],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field `Disabled`"));
    ok(out);
    let out = cli(&secret, &["enable", &id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unusable"));
    let stored = store.read().await.unwrap();
    let doc: serde_json::Value = serde_json::from_str(&stored.text).unwrap();
    assert_eq!(doc["keys"][0], mistyped, "neither dropped nor rewritten");
    assert_eq!(doc["keys"].as_array().unwrap().len(), 2);
}
