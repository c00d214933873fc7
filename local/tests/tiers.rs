//! The partner tiers through the local stack over real HTTP: the
//! development partner's key metered by its tier's throttle and daily quota,
//! answered 429 as API Gateway answers (`Too Many Requests` from a throttle,
//! `Limit Exceeded` from a quota, no `Retry-After`), users untouched.
// Test code: a failed unwrap is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use local::backends::DEV_USAGE_KEY;
use local::config::StackConfig;
use local::server::Stack;
use local::tiers::TierSettings;
use local::usage::Rate;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const WIDE: Rate = Rate {
    per_second: 1000.0,
    burst: 1000,
};

async fn start(config: StackConfig) -> (Stack, Client) {
    let config = StackConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..config
    };
    (Stack::start(config).await.unwrap(), Client::new())
}

async fn get(client: &Client, stack: &Stack, auth: &str) -> (StatusCode, bool, Value) {
    let r = client
        .get(format!("{}/items", stack.url()))
        .header("Authorization", auth)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let retry_after = r.headers().contains_key("retry-after");
    (status, retry_after, r.json().await.unwrap_or(Value::Null))
}

fn partner(stack: &Stack) -> String {
    format!("ApiKey {}", stack.partner_key().unwrap())
}

#[tokio::test]
async fn a_used_up_daily_quota_answers_429_limit_exceeded_and_leaves_users_alone() {
    let (stack, client) = start(StackConfig {
        usage_plan: Some(WIDE),
        tiers: TierSettings {
            standard_quota: Some(3),
            ..TierSettings::default()
        },
        ..StackConfig::default()
    })
    .await;
    let key = partner(&stack);
    for _ in 0..3 {
        assert_eq!(get(&client, &stack, &key).await.0, 200);
    }
    let (status, retry_after, body) = get(&client, &stack, &key).await;
    assert_eq!(status, 429);
    assert!(
        !retry_after,
        "API Gateway's QUOTA_EXCEEDED has no Retry-After"
    );
    assert_eq!(
        body,
        json!({"type": "about:blank", "title": "Too Many Requests", "status": 429, "detail": "Limit Exceeded"})
    );
    let alice = format!(
        "Bearer {}",
        stack.mint("alice", &[], None).unwrap().unwrap()
    );
    for _ in 0..5 {
        assert_eq!(get(&client, &stack, &alice).await.0, 200);
    }
    stack.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_development_partner_on_premium_gets_premiums_throttle_and_quota() {
    let tight = Rate {
        per_second: 0.001,
        burst: 2,
    };
    let tiers = |premium_keys: Vec<String>| TierSettings {
        standard_quota: None,
        premium_rate: Some(WIDE),
        premium_quota: Some(6),
        premium_keys,
    };
    // On standard (the default): standard's tight throttle.
    let (stack, client) = start(StackConfig {
        usage_plan: Some(tight),
        tiers: tiers(Vec::new()),
        ..StackConfig::default()
    })
    .await;
    let key = partner(&stack);
    let statuses: Vec<u16> = {
        let mut s = Vec::new();
        for _ in 0..3 {
            s.push(get(&client, &stack, &key).await.0.as_u16());
        }
        s
    };
    assert_eq!(statuses, [200, 200, 429]);
    assert_eq!(
        get(&client, &stack, &key).await.2["detail"],
        "Too Many Requests"
    );
    stack.shutdown().await.unwrap();

    // On premium (`--dev-partner-tier premium`): premium's wide throttle,
    // then premium's quota.
    let (stack, client) = start(StackConfig {
        usage_plan: Some(tight),
        tiers: tiers(vec![DEV_USAGE_KEY.to_owned()]),
        ..StackConfig::default()
    })
    .await;
    let key = partner(&stack);
    for _ in 0..6 {
        assert_eq!(get(&client, &stack, &key).await.0, 200);
    }
    let (status, _, body) = get(&client, &stack, &key).await;
    assert_eq!(
        (status.as_u16(), body["detail"].as_str()),
        (429, Some("Limit Exceeded"))
    );
    stack.shutdown().await.unwrap();
}
