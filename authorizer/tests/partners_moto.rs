//! Partners end to end against moto server's Secrets Manager, API Gateway
//! (API keys, usage plans, plan keys) and CloudFormation (a stack's
//! outputs), through the real SDK: the built `partner-keys` command
//! onboards, rotates, moves, revokes and reconciles, and the production
//! authorizer judges the keys.
//!
//! What moto cannot show: `GetUsage` (moto answers 404, checked below as the
//! command's error), and that API Gateway refuses one key on two plans of
//! the same stage (moto allows it; `move` leaves the old plan first anyway).
//!
//! Run through `scripts/with-moto.sh`. Every test uses its own registry,
//! partners and plans, since they share one moto server.

// Test code: a panic is how a failure is reported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::process::Output;

use aws_sdk_apigateway::Client as ApiGateway;
use common::*;

async fn sdk() -> aws_config::SdkConfig {
    require_moto();
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

async fn apigw() -> ApiGateway {
    ApiGateway::new(&sdk().await)
}

async fn plan(api: &ApiGateway, tier: &str) -> String {
    api.create_usage_plan()
        .name(unique(tier))
        .tags("partner-tier", tier)
        .throttle(
            aws_sdk_apigateway::types::ThrottleSettings::builder()
                .rate_limit(10.0)
                .burst_limit(20)
                .build(),
        )
        .quota(
            aws_sdk_apigateway::types::QuotaSettings::builder()
                .limit(1000)
                .period(aws_sdk_apigateway::types::QuotaPeriodType::Day)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .id()
        .unwrap()
        .to_owned()
}

/// Every API key tagged for `partner`: (id, value).
async fn keys_of(api: &ApiGateway, partner: &str) -> Vec<(String, String)> {
    api.get_api_keys()
        .include_values(true)
        .limit(500)
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .filter(|k| {
            k.tags()
                .and_then(|t| t.get("partner-keys:partner"))
                .is_some_and(|p| p == partner)
        })
        .map(|k| (k.id().unwrap().to_owned(), k.value().unwrap().to_owned()))
        .collect()
}

/// The API key ids on `plan`.
async fn members(api: &ApiGateway, plan: &str) -> Vec<String> {
    api.get_usage_plan_keys()
        .usage_plan_id(plan)
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .map(|k| k.id().unwrap().to_owned())
        .collect()
}

fn fails(out: Output, says: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "succeeded: {stderr}");
    assert!(out.stdout.is_empty(), "something on stdout");
    assert!(stderr.contains(says), "{stderr:?} does not say {says:?}");
}

fn registry() -> String {
    let secret = unique("registry");
    ok(cli(&secret, &["init"]));
    secret
}

/// A new registry with a new partner onboarded on `plan`: (registry, partner, key).
fn onboarded(plan: &str) -> (String, String, String) {
    let secret = registry();
    let partner = unique("acme");
    let key = create(
        &secret,
        &[
            "--partner",
            &partner,
            "--permission",
            "items:read",
            "--usage-plan-id",
            plan,
        ],
    );
    (secret, partner, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_creates_exactly_one_api_key_on_exactly_the_named_plan() {
    let api = apigw().await;
    let (standard, premium) = (plan(&api, "standard").await, plan(&api, "premium").await);
    let (secret, partner, key) = onboarded(&premium);
    let keys = keys_of(&api, &partner).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let (api_key_id, value) = &keys[0];
    assert_eq!(value.len(), 40);
    assert!(value.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(
        members(&api, &premium).await,
        std::slice::from_ref(api_key_id)
    );
    assert!(members(&api, &standard).await.is_empty());

    // The authorizer meters the partner by that API key's value.
    let a = authorizer(&secret, "300").await;
    let r = decide(&a, &key).await.unwrap();
    assert_eq!(r.usage_identifier_key.as_deref(), Some(value.as_str()));

    // `list` shows the tier.
    let list = ok(cli(&secret, &["list"]));
    let row = list.lines().find(|l| l.contains(&partner)).unwrap();
    assert!(row.contains("premium"), "{row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_at_each_step_leaves_nothing_behind() {
    let api = apigw().await;
    let standard = plan(&api, "standard").await;
    let partner = unique("acme");
    let args = |plan: &str| {
        vec![
            "create".to_owned(),
            "--partner".into(),
            partner.clone(),
            "--permission".into(),
            "items:read".into(),
            "--usage-plan-id".into(),
            plan.to_owned(),
        ]
    };
    let run = |secret: &str, args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(secret, &args)
    };

    // The registry is missing: API Gateway is not touched.
    fails(
        run(&unique("missing"), args(&standard)),
        "the secret does not exist",
    );
    assert!(keys_of(&api, &partner).await.is_empty());

    // The plan is unknown: neither the registry nor API Gateway changes.
    let secret = registry();
    let before = ok(cli(&secret, &["list"]));
    fails(run(&secret, args("nosuchplan")), "does not exist");
    assert!(keys_of(&api, &partner).await.is_empty());
    assert_eq!(ok(cli(&secret, &["list"])), before);

    // API Gateway refuses the API key (its value is taken).
    let taken = unique("taken-usage-key-value");
    let existing = api
        .create_api_key()
        .name("someone-else")
        .value(&taken)
        .enabled(true)
        .send()
        .await
        .unwrap();
    let mut with_value = args(&standard);
    with_value.extend(["--usage-key".to_owned(), taken.clone()]);
    fails(run(&secret, with_value), "refused the API key");
    assert!(keys_of(&api, &partner).await.is_empty());
    assert!(members(&api, &standard).await.is_empty());
    assert_eq!(ok(cli(&secret, &["list"])), before);
    let still = api
        .get_api_key()
        .api_key(existing.id().unwrap())
        .send()
        .await;
    assert!(still.is_ok(), "the other key is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_keeps_the_api_key_and_revoking_the_last_key_removes_it() {
    let api = apigw().await;
    let standard = plan(&api, "standard").await;
    let (secret, partner, old) = onboarded(&standard);
    let before = keys_of(&api, &partner).await;
    let new = ok(cli(&secret, &["rotate", &key_id(&old), "--overlap", "1h"]))
        .trim()
        .to_owned();
    assert_eq!(keys_of(&api, &partner).await, before, "same API key");
    let a = authorizer(&secret, "300").await;
    let (old_r, new_r) = (
        decide(&a, &old).await.unwrap(),
        decide(&a, &new).await.unwrap(),
    );
    assert_eq!(old_r.usage_identifier_key, new_r.usage_identifier_key);
    assert_eq!(
        new_r.usage_identifier_key.as_deref(),
        Some(before[0].1.as_str())
    );

    // Revoking one of the two keeps the API key; revoking the last removes
    // it and its plan membership.
    let out = cli(&secret, &["revoke", &key_id(&old)]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("stays"));
    ok(out);
    assert_eq!(keys_of(&api, &partner).await, before);
    ok(cli(&secret, &["revoke", &key_id(&new)]));
    assert!(keys_of(&api, &partner).await.is_empty());
    assert!(members(&api, &standard).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_concurrent_onboardings_of_different_partners_land_with_one_key_each() {
    let api = apigw().await;
    let standard = plan(&api, "standard").await;
    let secret = registry();
    let partners: Vec<String> = (0..4).map(|i| unique(&format!("p{i}"))).collect();
    let runs: Vec<Vec<String>> = partners
        .iter()
        .map(|partner| {
            ["create", "--partner", partner, "--permission", "items:read"]
                .into_iter()
                .chain(["--usage-plan-id", &standard])
                .map(str::to_owned)
                .collect()
        })
        .collect();
    let keys = concurrently(&secret, &runs);
    let a = authorizer(&secret, "300").await;
    let mut on_plan = members(&api, &standard).await;
    on_plan.sort();
    let mut expected = Vec::new();
    for (partner, key) in partners.iter().zip(&keys) {
        let theirs = keys_of(&api, partner).await;
        assert_eq!(theirs.len(), 1, "{partner}: {theirs:?}");
        let r = decide(&a, key).await.unwrap();
        assert_eq!(
            r.usage_identifier_key.as_deref(),
            Some(theirs[0].1.as_str())
        );
        expected.push(theirs[0].0.clone());
    }
    expected.sort();
    assert_eq!(on_plan, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_finds_and_removes_a_planted_orphan_and_reports_a_record_without_a_key() {
    let api = apigw().await;
    let standard = plan(&api, "standard").await;
    let (secret, partner, _) = onboarded(&standard);
    // What a create killed after its API key was made leaves behind.
    let orphan = api
        .create_api_key()
        .name("partner-keys/ghost")
        .value(unique("orphan-usage-key-value"))
        .enabled(true)
        .set_tags(Some(HashMap::from([
            ("partner-keys:partner".to_owned(), "ghost".to_owned()),
            ("partner-keys:registry".to_owned(), secret.clone()),
        ])))
        .send()
        .await
        .unwrap();
    let orphan_id = orphan.id().unwrap().to_owned();
    api.create_usage_plan_key()
        .usage_plan_id(&standard)
        .key_id(&orphan_id)
        .key_type("API_KEY")
        .send()
        .await
        .unwrap();
    // A record whose usage key no API key has (attached by hand, then lost).
    create(
        &secret,
        &[
            "--partner",
            "lost",
            "--permission",
            "items:read",
            "--usage-key",
            &unique("lost-usage-key-value"),
        ],
    );

    let report = ok(cli(&secret, &["reconcile"]));
    assert!(
        report.contains(&format!("orphan API key {orphan_id}")),
        "{report}"
    );
    assert!(report.contains("partner lost: no API key"), "{report}");
    assert!(!report.contains(&partner), "{report}");
    assert!(api.get_api_key().api_key(&orphan_id).send().await.is_ok());

    // Young orphans are left (an onboarding may be in progress) ...
    let report = ok(cli(&secret, &["reconcile", "--delete"]));
    assert!(report.contains("younger than --min-age"), "{report}");
    // ... older ones go, off their plan first.
    let report = ok(cli(&secret, &["reconcile", "--delete", "--min-age", "0s"]));
    assert!(report.contains("deleted"), "{report}");
    assert!(api.get_api_key().api_key(&orphan_id).send().await.is_err());
    assert_eq!(members(&api, &standard).await.len(), 1);
    assert_eq!(keys_of(&api, &partner).await.len(), 1);
}

/// A stack whose outputs name the tiers' plans, as template.yaml's do.
async fn stack_with_tiers(standard: &str, premium: &str) -> String {
    let name = unique("items-api");
    let template = serde_json::json!({
        "Parameters": {"Standard": {"Type": "String"}, "Premium": {"Type": "String"}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "PartnerUsagePlanStandard": {"Value": {"Ref": "Standard"}},
            "PartnerUsagePlanPremium": {"Value": {"Ref": "Premium"}},
            "PartnerKeysSecretArn": {"Value": "unrelated"}
        }
    });
    let param = |k: &str, v: &str| {
        aws_sdk_cloudformation::types::Parameter::builder()
            .parameter_key(k)
            .parameter_value(v)
            .build()
    };
    aws_sdk_cloudformation::Client::new(&sdk().await)
        .create_stack()
        .stack_name(&name)
        .template_body(template.to_string())
        .parameters(param("Standard", standard))
        .parameters(param("Premium", premium))
        .send()
        .await
        .unwrap();
    name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tier_is_found_in_the_stacks_outputs_and_move_changes_it() {
    let api = apigw().await;
    let (standard, premium) = (plan(&api, "standard").await, plan(&api, "premium").await);
    let stack = stack_with_tiers(&standard, &premium).await;
    let secret = registry();
    let partner = unique("acme");
    let tier = |name: &str| {
        vec![
            "--tier".to_owned(),
            name.to_owned(),
            "--stack".to_owned(),
            stack.clone(),
        ]
    };
    let mut args = vec![
        "create".to_owned(),
        "--partner".into(),
        partner.clone(),
        "--permission".into(),
        "items:read".into(),
    ];
    let with = |mut base: Vec<String>, more: Vec<String>| {
        base.extend(more);
        base
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&secret, &args)
    };

    // A tier the stack does not have, and a stack that does not exist.
    fails(run(with(args.clone(), tier("gold"))), "its tiers:");
    let mut nowhere = with(args.clone(), tier("standard"));
    nowhere[8] = "no-such-stack".into();
    fails(run(nowhere), "does not exist");
    assert!(keys_of(&api, &partner).await.is_empty());

    args.extend(tier("standard"));
    ok(run(args));
    let (key_id, _) = keys_of(&api, &partner).await.remove(0);
    assert_eq!(
        members(&api, &standard).await,
        std::slice::from_ref(&key_id)
    );

    let moved = run(with(vec!["move".into(), partner.clone()], tier("premium")));
    assert!(String::from_utf8_lossy(&moved.stderr).contains("moved"));
    ok(moved);
    assert!(members(&api, &standard).await.is_empty());
    assert_eq!(members(&api, &premium).await, [key_id]);
    let list = ok(cli(&secret, &["list"]));
    assert!(
        list.lines()
            .any(|l| l.contains(&partner) && l.contains("premium")),
        "{list}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_names_get_usage_when_the_endpoint_lacks_it_as_moto_does() {
    let api = apigw().await;
    let standard = plan(&api, "standard").await;
    let (secret, partner, _) = onboarded(&standard);
    // moto does not implement GetUsage (404): the command finds the plan and
    // the API key, then reports the failed call by name, non-zero, with
    // nothing on stdout. The arithmetic is tested on the in-memory gateway
    // (authorizer/src/apikey/partners_tests.rs).
    fails(
        cli(&secret, &["usage", &partner]),
        "API Gateway GetUsage failed",
    );
    fails(
        cli(&secret, &["usage", "nobody"]),
        "has no key in the registry",
    );
}
