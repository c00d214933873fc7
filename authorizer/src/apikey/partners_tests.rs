//! `Partners` over the in-memory registry and API Gateway: the failures moto
//! cannot be made to produce at will (a refusal after the API key exists, an
//! undo that fails, a move that fails halfway), and the usage arithmetic.

use super::*;
use crate::BoxFuture;
use crate::apikey::gateway::{MemoryGateway, Quota};
use crate::apikey::store::{MemorySecretStore, SecretStore, StoreError, StoredVersion};
use policies::{Permission, PermissionSet};

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn plan(id: &str, tier: &str) -> Plan {
    Plan {
        id: id.into(),
        name: format!("stack-{tier}"),
        tier: Some(tier.into()),
        throttle: Some((10.0, 20)),
        quota: Some(Quota {
            limit: 1000,
            period: "DAY".into(),
        }),
    }
}

fn new_key(partner: &str) -> NewKey {
    NewKey {
        partner: partner.into(),
        permissions: PermissionSet::only(Permission::ItemsRead),
        usage_key: None,
        expires: None,
    }
}

fn setup_with(store: Arc<dyn SecretStore>) -> (Partners, Arc<MemoryGateway>) {
    let gateway = Arc::new(MemoryGateway::default());
    gateway.add_plan(plan("std", "standard"));
    gateway.add_plan(plan("pre", "premium"));
    let admin = Admin::new(store);
    run(admin.init()).unwrap();
    (Partners::new(admin, gateway.clone(), "registry"), gateway)
}

fn setup() -> (Partners, Arc<MemoryGateway>, Arc<MemorySecretStore>) {
    let store = Arc::new(MemorySecretStore::default());
    let (p, g) = setup_with(store.clone());
    (p, g, store)
}

fn stored(store: &MemorySecretStore) -> String {
    run(store.read()).unwrap().text
}

#[test]
fn onboarding_creates_one_tagged_api_key_with_the_records_usage_key_on_the_named_plan() {
    let (p, g, _) = setup();
    let created = run(p.create(&new_key("acme"), Some("pre"), now())).unwrap();
    let keys = g.all_keys();
    assert_eq!(keys.len(), 1);
    let value = created.record.usage_key.clone().unwrap();
    assert_eq!(keys[0].value, value);
    assert_eq!(value.len(), 40);
    assert_eq!(keys[0].partner(), Some("acme"));
    assert_eq!(keys[0].tags[KEY_ID_TAG], created.record.id);
    assert_eq!(keys[0].registry(), Some("registry"));
    assert_eq!(g.memberships(), [("pre".to_owned(), keys[0].id.clone())]);
}

#[test]
fn a_refusal_after_the_api_key_exists_undoes_it_and_its_membership() {
    // The plan accepts the key, then the registry refuses the record.
    struct Refusing(MemorySecretStore);
    impl SecretStore for Refusing {
        fn read(&self) -> BoxFuture<'_, Result<StoredVersion, StoreError>> {
            self.0.read()
        }
        fn write<'a>(&'a self, _: String, _: &'a str) -> BoxFuture<'a, Result<String, StoreError>> {
            Box::pin(async { Err(StoreError::Service("access denied".into())) })
        }
        fn create(&self, text: String) -> BoxFuture<'_, Result<(), StoreError>> {
            self.0.create(text)
        }
    }
    let (p, g) = setup_with(Arc::new(Refusing(MemorySecretStore::default())));
    let err = run(p.create(&new_key("acme"), Some("std"), now())).unwrap_err();
    assert!(err.to_string().contains("access denied"), "{err}");
    assert!(g.all_keys().is_empty());
    assert!(g.memberships().is_empty());
}

#[test]
fn a_plan_that_refuses_the_key_leaves_nothing_behind() {
    let (p, g, store) = setup();
    let before = stored(&store);
    g.fail("CreateUsagePlanKey");
    assert!(run(p.create(&new_key("acme"), Some("std"), now())).is_err());
    assert!(g.all_keys().is_empty());
    assert_eq!(stored(&store), before);
}

#[test]
fn an_undo_that_fails_says_which_api_key_is_left_and_how_to_remove_it() {
    let (p, g, _) = setup();
    g.fail("CreateUsagePlanKey");
    g.fail("DeleteApiKey");
    let err = run(p.create(&new_key("acme"), Some("std"), now())).unwrap_err();
    let PartnerError::UndoFailed { key_id, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(g.all_keys()[0].id, *key_id);
    assert!(err.to_string().contains("reconcile --delete"));
}

/// A registry where another operator onboards `acme` just before this
/// command's first write.
struct Interloper {
    inner: MemorySecretStore,
    done: std::sync::atomic::AtomicBool,
}

impl SecretStore for Interloper {
    fn read(&self) -> BoxFuture<'_, Result<StoredVersion, StoreError>> {
        self.inner.read()
    }
    fn write<'a>(
        &'a self,
        text: String,
        based_on: &'a str,
    ) -> BoxFuture<'a, Result<String, StoreError>> {
        Box::pin(async move {
            if !self.done.swap(true, std::sync::atomic::Ordering::SeqCst) {
                let current = self.inner.read().await?;
                let mut doc = EditableDocument::parse(&current.text).unwrap();
                let admin = Admin::new(Arc::new(MemorySecretStore::default()));
                let (_, mut other) = admin.prepare(&new_key("acme"), now()).unwrap();
                other.usage_key = Some("u".repeat(40));
                doc.push(other);
                self.inner.write(doc.to_text(), &current.version_id).await?;
            }
            self.inner.write(text, based_on).await
        })
    }
    fn create(&self, text: String) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.create(text)
    }
}

#[test]
fn a_partner_onboarded_meanwhile_makes_the_second_onboarding_undo_its_key() {
    let g = Arc::new(MemoryGateway::default());
    g.add_plan(plan("std", "standard"));
    let store = Arc::new(Interloper {
        inner: MemorySecretStore::with(r#"{"keys":[]}"#),
        done: std::sync::atomic::AtomicBool::new(false),
    });
    let p = Partners::new(Admin::new(store.clone()), g.clone(), "registry");
    let err = run(p.create(&new_key("acme"), Some("std"), now())).unwrap_err();
    assert!(
        matches!(err, PartnerError::Admin(AdminError::PartnerMetered(_))),
        "{err:?}"
    );
    assert!(g.all_keys().is_empty(), "the loser's API key is gone");
    assert!(g.memberships().is_empty());
    let doc = EditableDocument::parse(&run(store.read()).unwrap().text).unwrap();
    assert_eq!(doc.records().count(), 1, "only the winner's record");
}

#[test]
fn a_second_key_for_a_partner_shares_its_usage_key_and_a_plan_option_must_agree() {
    let (p, g, _) = setup();
    let first = run(p.create(&new_key("acme"), Some("std"), now())).unwrap();
    let second = run(p.create(&new_key("acme"), None, now())).unwrap();
    assert_eq!(second.metering, Metering::Shared);
    assert_eq!(second.record.usage_key, first.record.usage_key);
    let third = run(p.create(&new_key("acme"), Some("std"), now())).unwrap();
    assert_eq!(third.metering, Metering::Shared);
    let err = run(p.create(&new_key("acme"), Some("pre"), now())).unwrap_err();
    assert!(matches!(err, PartnerError::OtherPlan { .. }), "{err:?}");
    assert_eq!(g.all_keys().len(), 1);
}

#[test]
fn revoking_deletes_the_api_key_with_the_partners_last_record_only() {
    let (p, g, _) = setup();
    let first = run(p.create(&new_key("acme"), Some("std"), now())).unwrap();
    let second = run(p.create(&new_key("acme"), None, now())).unwrap();
    assert_eq!(run(p.revoke(&first.record.id)).unwrap(), ApiKeyFate::Kept);
    assert_eq!(g.all_keys().len(), 1);
    let key_id = g.all_keys()[0].id.clone();
    assert_eq!(
        run(p.revoke(&second.record.id)).unwrap(),
        ApiKeyFate::Deleted(key_id)
    );
    assert!(g.all_keys().is_empty());
    assert!(g.memberships().is_empty(), "off the plan first");
}

#[test]
fn an_api_key_not_created_by_the_command_is_left_alone_by_revoke() {
    let (p, g, _) = setup();
    let value = "hand-made-usage-key-0123456789";
    run(g.create_key("by-hand", value, BTreeMap::new())).unwrap();
    let created = run(p.create(
        &NewKey {
            usage_key: Some(value.into()),
            ..new_key("acme")
        },
        None,
        now(),
    ))
    .unwrap();
    assert!(matches!(
        run(p.revoke(&created.record.id)).unwrap(),
        ApiKeyFate::NotOurs(_)
    ));
    assert_eq!(g.all_keys().len(), 1);
}

#[test]
fn move_changes_the_plan_and_a_failed_move_puts_the_key_back() {
    let (p, g, _) = setup();
    run(p.create(&new_key("acme"), Some("std"), now())).unwrap();
    let key_id = g.all_keys()[0].id.clone();
    let left = run(p.move_to("acme", "pre")).unwrap();
    assert_eq!(left[0].id, "std");
    assert_eq!(g.memberships(), [("pre".to_owned(), key_id.clone())]);
    assert!(run(p.move_to("acme", "pre")).unwrap().is_empty());
    assert!(matches!(
        run(p.move_to("acme", "nope")),
        Err(PartnerError::Gateway(GatewayError::UnknownPlan(_)))
    ));
    // Fails after leaving the old plan: it is put back.
    g.add_plan(plan("gold", "gold"));
    g.fail_once("CreateUsagePlanKey");
    assert!(run(p.move_to("acme", "gold")).is_err());
    assert_eq!(g.memberships(), [("pre".to_owned(), key_id.clone())]);
    // When putting it back fails too, it says so.
    g.fail("CreateUsagePlanKey");
    let err = run(p.move_to("acme", "gold")).unwrap_err();
    assert!(matches!(err, PartnerError::UndoFailed { .. }), "{err:?}");
}

#[test]
fn usage_sums_the_period_and_takes_what_is_left_from_api_gateway() {
    let (p, g, _) = setup();
    run(p.create(&new_key("acme"), Some("std"), now())).unwrap();
    let key_id = g.all_keys()[0].id.clone();
    let today = now().date();
    let u = run(p.usage("acme", today)).unwrap();
    assert_eq!(
        (u.used, u.remaining),
        (0, Some(1000)),
        "nothing counted yet"
    );
    g.set_usage("std", &key_id, vec![(120, 880)]);
    let u = run(p.usage("acme", today)).unwrap();
    assert_eq!((u.used, u.remaining), (120, Some(880)));
    assert_eq!(u.start, "2027-01-15");
    assert!(matches!(
        run(p.usage("nobody", today)),
        Err(PartnerError::UnknownPartner(_))
    ));
    g.fail("GetUsage");
    assert!(
        run(p.usage("acme", today))
            .unwrap_err()
            .to_string()
            .contains("GetUsage")
    );
}

#[test]
fn the_period_starts_today_seven_days_back_or_on_the_first() {
    let d = time::Date::from_calendar_date(2027, time::Month::January, 15).unwrap();
    assert_eq!(period_start(Some("DAY"), d).day(), 15);
    assert_eq!(period_start(Some("WEEK"), d).day(), 9);
    assert_eq!(period_start(Some("MONTH"), d).day(), 1);
}

#[test]
fn reconcile_removes_old_orphans_only_and_reports_records_without_a_key() {
    let (p, g, _) = setup();
    let kept = run(p.create(&new_key("acme"), Some("std"), now())).unwrap();
    let tags = |registry: &str| {
        BTreeMap::from([
            (PARTNER_TAG.to_owned(), "ghost".to_owned()),
            (REGISTRY_TAG.to_owned(), registry.to_owned()),
        ])
    };
    let orphan =
        run(g.create_key("partner-keys/ghost", &"o".repeat(40), tags("registry"))).unwrap();
    // Another registry's partner (a second stack in the account) is not an orphan here.
    run(g.create_key(
        "partner-keys/other",
        &"x".repeat(40),
        tags("other-registry"),
    ))
    .unwrap();
    run(g.add_to_plan("std", &orphan.id)).unwrap();
    run(g.create_key("someone-elses", &"s".repeat(40), BTreeMap::new())).unwrap();
    run(p.create(
        &NewKey {
            usage_key: Some("m".repeat(40)),
            ..new_key("lost")
        },
        None,
        now(),
    ))
    .unwrap();
    // The memory gateway dates every key at 0: old enough.
    let report = run(p.reconcile(false, 600, now())).unwrap();
    assert_eq!(report.orphans.len(), 1);
    assert_eq!(
        (report.orphans[0].0.id.as_str(), report.orphans[0].1),
        (orphan.id.as_str(), false)
    );
    assert_eq!(report.without_api_key.len(), 1);
    assert_eq!(report.without_api_key[0].1, "lost");
    let young = run(p.reconcile(true, i64::MAX, now())).unwrap();
    assert!(!young.orphans[0].1, "too young to delete");
    let report = run(p.reconcile(true, 600, now())).unwrap();
    assert!(report.orphans[0].1);
    let left: Vec<String> = g.all_keys().into_iter().map(|k| k.name).collect();
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(!left.contains(&"partner-keys/ghost".to_owned()));
    assert_eq!(g.memberships().len(), 1);
    assert_eq!(kept.record.partner, "acme");
}

#[test]
fn list_shows_each_records_tier() {
    let (p, g, _) = setup();
    run(p.create(&new_key("acme"), Some("pre"), now())).unwrap();
    run(p.create(&new_key("plain"), None, now())).unwrap();
    let (rows, failure) = run(p.list()).unwrap();
    assert!(failure.is_none());
    let tiers: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.record.partner.as_str(), r.tier.as_str()))
        .collect();
    assert_eq!(tiers, [("acme", "premium"), ("plain", "-")]);
    g.fail("GetApiKeys");
    let (rows, failure) = run(p.list()).unwrap();
    assert!(failure.is_some());
    assert_eq!(rows[0].tier, "?");
}
