//! A partner across the registry and API Gateway: onboarding (record, API
//! key, plan membership) all or nothing, revocation that deletes the API key
//! with the partner's last record, moving between tiers, usage, and
//! reconciling what a killed command left behind.
//!
//! Order of the steps, so that a process killed between two of them leaves
//! at most an API key tagged `partner-keys:partner` (which `reconcile`
//! finds), never a record whose usage key meters nothing:
//! - onboarding: plan checked → API key created (tagged) → added to the plan
//!   → record written (compare-and-swap, refused if the partner got a usage
//!   key meanwhile); a failure after the API key exists undoes it;
//! - revocation: record deleted → then, if no record uses its usage key any
//!   more, the API key leaves its plans and is deleted.

use std::collections::BTreeMap;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::apikey::admin::{Admin, AdminError, NewKey};
use crate::apikey::document::EditableDocument;
use crate::apikey::format::{GeneratedKey, generate_usage_key};
use crate::apikey::gateway::{
    ApiKey, GatewayError, KEY_ID_TAG, PARTNER_TAG, Plan, REGISTRY_TAG, UsageGateway,
};
use crate::apikey::registry::KeyRecord;

/// Why a partner operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PartnerError {
    /// The registry refused or failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// API Gateway refused or failed.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// A step failed, and so did undoing the API key.
    #[error(
        "{cause}; undoing it failed too ({undo}): API key {key_id} (tagged {PARTNER_TAG}={partner}) is left behind, and `partner-keys reconcile --delete` removes it"
    )]
    UndoFailed {
        /// The step's failure.
        cause: Box<PartnerError>,
        /// The undo's failure.
        undo: GatewayError,
        /// The API key left behind.
        key_id: String,
        /// Its partner.
        partner: String,
    },
    /// The record is gone but its API key could not be deleted.
    #[error(
        "key {id} is revoked, but its API key {key_id} could not be deleted ({cause}); `partner-keys reconcile --delete` removes it"
    )]
    ApiKeyLeft {
        /// The revoked key id.
        id: String,
        /// The API key left behind.
        key_id: String,
        /// Why.
        cause: GatewayError,
    },
    /// A plan option for a partner whose API key is on another plan.
    #[error(
        "partner {partner:?} already has an API key, on {current}; a new key shares it and its plan: leave out the plan option, or use `partner-keys move`"
    )]
    OtherPlan {
        /// The partner.
        partner: String,
        /// The plans its API key is on.
        current: String,
    },
    /// `--usage-key` for a partner that has another one.
    #[error(
        "partner {0:?} already has a usage key; a new key shares it, so --usage-key cannot name another"
    )]
    OtherUsageKey(String),
    /// No record of the partner.
    #[error("partner {0:?} has no key in the registry")]
    UnknownPartner(String),
    /// The partner's records have no usage key.
    #[error(
        "partner {0:?} has no usage key: API Gateway does not meter it (create it with a plan option)"
    )]
    Unmetered(String),
    /// The partner's records name several usage keys.
    #[error("partner {0:?} has several usage keys in the registry; revoke all but one first")]
    SeveralUsageKeys(String),
    /// No API key has the partner's usage key.
    #[error(
        "no API Gateway API key has partner {0:?}'s usage key; `partner-keys reconcile` lists such records"
    )]
    MissingApiKey(String),
    /// The partner's API key is on no plan, or on several.
    #[error("partner {partner:?}'s API key is on {count} usage plans, not one")]
    PlanCount {
        /// The partner.
        partner: String,
        /// How many plans hold it.
        count: usize,
    },
    /// The random number generator failed.
    #[error("the random number generator failed")]
    Random,
}

/// What `create` did.
#[derive(Debug)]
pub struct Created {
    /// The key, to show once.
    pub key: GeneratedKey,
    /// Its record.
    pub record: KeyRecord,
    /// How it is metered.
    pub metering: Metering,
}

/// How a new key is metered.
#[derive(Debug, Clone, PartialEq)]
pub enum Metering {
    /// A new API key on this plan.
    NewApiKey {
        /// The API key's id.
        key_id: String,
        /// The plan.
        plan: Plan,
    },
    /// The partner's existing usage key (and API key, and plan).
    Shared,
    /// Not by this command: no plan was named (the record's `usageKey`, if
    /// any, must be attached by hand).
    RegistryOnly,
}

/// What `revoke` did with API Gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKeyFate {
    /// The record had no usage key.
    None,
    /// Another record still uses the usage key: the API key stays.
    Kept,
    /// The API key was deleted.
    Deleted(String),
    /// No API key had the usage key.
    Missing,
    /// The API key was not created by `partner-keys`: left alone.
    NotOurs(String),
}

/// A partner's usage in the current quota period.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    /// The plan (tier).
    pub plan: Plan,
    /// The API key's id.
    pub key_id: String,
    /// First day counted, `YYYY-MM-DD`.
    pub start: String,
    /// Last day counted.
    pub end: String,
    /// Requests counted from `start` to `end`.
    pub used: i64,
    /// What is left of the quota, as API Gateway counts it (its last day).
    pub remaining: Option<i64>,
}

/// What `reconcile` found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reconciliation {
    /// API keys created by `partner-keys` whose value no record uses, and
    /// whether each was deleted.
    pub orphans: Vec<(ApiKey, bool)>,
    /// Records whose usage key no API key has: `(key id, partner)`.
    pub without_api_key: Vec<(String, String)>,
    /// API keys that a record uses but no plan holds: `(API key id, partner)`.
    pub on_no_plan: Vec<(String, String)>,
}

/// One row of `list`.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The record.
    pub record: KeyRecord,
    /// The tier (plan) its usage key is on: `-` when it has none, `none`
    /// when its API key is on no plan, `no-api-key` when no API key has it,
    /// `?` when API Gateway could not be asked.
    pub tier: String,
}

/// Partner operations over the registry and API Gateway.
#[derive(Clone)]
pub struct Partners {
    admin: Admin,
    gateway: Arc<dyn UsageGateway>,
    registry_id: String,
}

impl std::fmt::Debug for Partners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Partners").finish_non_exhaustive()
    }
}

impl Partners {
    /// Operations over `admin`'s registry, named `registry_id` in the API
    /// keys' tags, and `gateway`.
    pub fn new(
        admin: Admin,
        gateway: Arc<dyn UsageGateway>,
        registry_id: impl Into<String>,
    ) -> Self {
        Partners {
            admin,
            gateway,
            registry_id: registry_id.into(),
        }
    }

    /// The registry operations.
    pub fn admin(&self) -> &Admin {
        &self.admin
    }

    /// Issues a key. A partner that already has a usage key gets a record
    /// that shares it (its API key and plan stay); a new partner with
    /// `plan_id` is onboarded (API key created with a generated value, or
    /// `new.usage_key`, and put on the plan), all or nothing; without a plan
    /// only the record is written.
    pub async fn create(
        &self,
        new: &NewKey,
        plan_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Created, PartnerError> {
        let (key, mut record) = self.admin.prepare(new, now)?;
        // Read first: a missing registry fails before API Gateway is touched.
        let doc = self.admin.document().await?;
        if let Some(shared) = single_usage_key(&doc, &new.partner)? {
            if new.usage_key.as_deref().is_some_and(|v| v != shared) {
                return Err(PartnerError::OtherUsageKey(new.partner.clone()));
            }
            if let Some(plan_id) = plan_id {
                let api_key = self.key_with_value(&new.partner, &shared).await?;
                let plans = self.gateway.plans_of_key(&api_key.id).await?;
                if !plans.iter().any(|p| p.id == plan_id) {
                    return Err(PartnerError::OtherPlan {
                        partner: new.partner.clone(),
                        current: describe(&plans),
                    });
                }
            }
            record.usage_key = Some(shared.clone());
            let partner = new.partner.clone();
            self.admin
                .insert(&record, |doc| match single_usage_key(doc, &partner) {
                    Ok(Some(now_shared)) if now_shared == shared => Ok(()),
                    _ => Err(AdminError::PartnerMetered(partner.clone())),
                })
                .await?;
            return Ok(Created {
                key,
                record,
                metering: Metering::Shared,
            });
        }
        let Some(plan_id) = plan_id else {
            self.admin.insert(&record, |_| Ok(())).await?;
            return Ok(Created {
                key,
                record,
                metering: Metering::RegistryOnly,
            });
        };
        let plan = self.gateway.plan(plan_id).await?;
        let value = match &new.usage_key {
            Some(v) => v.clone(),
            None => generate_usage_key().map_err(|_| PartnerError::Random)?,
        };
        record.usage_key = Some(value.clone());
        let tags = BTreeMap::from([
            (PARTNER_TAG.to_owned(), new.partner.clone()),
            (KEY_ID_TAG.to_owned(), record.id.clone()),
            (REGISTRY_TAG.to_owned(), self.registry_id.clone()),
        ]);
        let api_key = self
            .gateway
            .create_key(&format!("partner-keys/{}", new.partner), &value, tags)
            .await?;
        // From here on a failure undoes the API key (and its membership).
        let mut on_plan = false;
        let steps = async {
            self.gateway.add_to_plan(&plan.id, &api_key.id).await?;
            on_plan = true;
            let partner = new.partner.clone();
            self.admin
                .insert(&record, |doc| {
                    // Two operators onboarding one partner at once: the
                    // first write wins, the second undoes its API key.
                    if doc.usage_keys_of(&partner).is_empty() {
                        Ok(())
                    } else {
                        Err(AdminError::PartnerMetered(partner.clone()))
                    }
                })
                .await?;
            Ok::<(), PartnerError>(())
        }
        .await;
        if let Err(cause) = steps {
            let plans: &[&str] = if on_plan { &[&plan.id] } else { &[] };
            return Err(match self.delete_api_key(&api_key.id, plans).await {
                Ok(()) => cause,
                Err(undo) => PartnerError::UndoFailed {
                    cause: Box::new(cause),
                    undo,
                    key_id: api_key.id,
                    partner: new.partner.clone(),
                },
            });
        }
        Ok(Created {
            key,
            record,
            metering: Metering::NewApiKey {
                key_id: api_key.id,
                plan,
            },
        })
    }

    /// Deletes the record, then, if no record uses its usage key any more,
    /// the API key (after taking it off its plans).
    pub async fn revoke(&self, id: &str) -> Result<ApiKeyFate, PartnerError> {
        let revoked = self.admin.revoke(id).await?;
        let Some(value) = revoked.usage_key else {
            return Ok(ApiKeyFate::None);
        };
        if revoked.still_used {
            return Ok(ApiKeyFate::Kept);
        }
        let left = |cause: GatewayError, key_id: &str| PartnerError::ApiKeyLeft {
            id: id.to_owned(),
            key_id: key_id.to_owned(),
            cause,
        };
        let keys = self.gateway.keys().await.map_err(|e| left(e, "?"))?;
        let Some(api_key) = keys.into_iter().find(|k| k.value == value) else {
            return Ok(ApiKeyFate::Missing);
        };
        if api_key.partner().is_none() {
            return Ok(ApiKeyFate::NotOurs(api_key.id));
        }
        let plans = self
            .gateway
            .plans_of_key(&api_key.id)
            .await
            .map_err(|e| left(e, &api_key.id))?;
        let plan_ids: Vec<&str> = plans.iter().map(|p| p.id.as_str()).collect();
        self.delete_api_key(&api_key.id, &plan_ids)
            .await
            .map_err(|e| left(e, &api_key.id))?;
        Ok(ApiKeyFate::Deleted(api_key.id))
    }

    /// Puts the partner's API key on `plan_id` instead of its current plan.
    /// Returns the plans it left (empty if it was already there).
    pub async fn move_to(&self, partner: &str, plan_id: &str) -> Result<Vec<Plan>, PartnerError> {
        let target = self.gateway.plan(plan_id).await?;
        let api_key = self.partner_api_key(partner).await?;
        let current = self.gateway.plans_of_key(&api_key.id).await?;
        if current.len() == 1 && current[0].id == target.id {
            return Ok(Vec::new());
        }
        // Off the old plans first: API Gateway refuses a key on two plans
        // of the same stage. The partner is unmetered (403) for the moment
        // between the two calls.
        let mut removed = Vec::new();
        let mut result = Ok(());
        for plan in current.iter().filter(|p| p.id != target.id) {
            match self.gateway.remove_from_plan(&plan.id, &api_key.id).await {
                Ok(()) => removed.push(plan.clone()),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if result.is_ok() && !current.iter().any(|p| p.id == target.id) {
            result = self.gateway.add_to_plan(&target.id, &api_key.id).await;
        }
        if let Err(cause) = result {
            // Put it back where it was.
            for plan in &removed {
                if let Err(undo) = self.gateway.add_to_plan(&plan.id, &api_key.id).await {
                    return Err(PartnerError::UndoFailed {
                        cause: Box::new(cause.into()),
                        undo,
                        key_id: api_key.id,
                        partner: partner.to_owned(),
                    });
                }
            }
            return Err(cause.into());
        }
        Ok(removed)
    }

    /// The partner's usage in the current quota period (`GetUsage`).
    pub async fn usage(&self, partner: &str, today: time::Date) -> Result<Usage, PartnerError> {
        let api_key = self.partner_api_key(partner).await?;
        let plans = self.gateway.plans_of_key(&api_key.id).await?;
        let [plan] = plans.as_slice() else {
            return Err(PartnerError::PlanCount {
                partner: partner.to_owned(),
                count: plans.len(),
            });
        };
        let start = period_start(plan.quota.as_ref().map(|q| q.period.as_str()), today);
        let (start, end) = (format_date(start), format_date(today));
        let daily = self
            .gateway
            .usage(&plan.id, &api_key.id, &start, &end)
            .await?;
        Ok(Usage {
            plan: plan.clone(),
            key_id: api_key.id,
            start: daily.start_date,
            end: daily.end_date,
            used: daily.days.iter().map(|d| d.0).sum(),
            // No day counted yet: the whole quota is left.
            remaining: plan
                .quota
                .as_ref()
                .map(|q| daily.days.last().map_or(q.limit, |d| d.1)),
        })
    }

    /// The usable records with their tier; API Gateway's failure leaves `?`
    /// in the tier column and is returned beside the rows.
    pub async fn list(&self) -> Result<(Vec<Row>, Option<GatewayError>), PartnerError> {
        let listing = self.admin.list().await?;
        let tiers = self.tiers().await;
        let rows = listing
            .usable
            .into_iter()
            .map(|record| {
                let tier = match (&record.usage_key, &tiers) {
                    (None, _) => "-".to_owned(),
                    (Some(_), Err(_)) => "?".to_owned(),
                    (Some(value), Ok(tiers)) => tiers
                        .get(value)
                        .cloned()
                        .unwrap_or_else(|| "no-api-key".to_owned()),
                };
                Row { record, tier }
            })
            .collect();
        Ok((rows, tiers.err()))
    }

    /// Usage key value → the labels of the plans its API key is on.
    async fn tiers(&self) -> Result<BTreeMap<String, String>, GatewayError> {
        let mut tiers = BTreeMap::new();
        for key in self.gateway.keys().await? {
            let plans = self.gateway.plans_of_key(&key.id).await?;
            let label = if plans.is_empty() {
                "none".to_owned()
            } else {
                plans.iter().map(Plan::label).collect::<Vec<_>>().join(",")
            };
            tiers.insert(key.value, label);
        }
        Ok(tiers)
    }

    /// Lists (and with `delete`, removes) API keys created by this command
    /// for this registry that no record uses, when older than `min_age_seconds` (a younger one
    /// may be an onboarding in progress); reports records without an API
    /// key and used API keys on no plan.
    pub async fn reconcile(
        &self,
        delete: bool,
        min_age_seconds: i64,
        now: OffsetDateTime,
    ) -> Result<Reconciliation, PartnerError> {
        let doc = self.admin.document().await?;
        let keys = self.gateway.keys().await?;
        let used: Vec<&str> = doc.usage_keys().collect();
        let mut report = Reconciliation::default();
        for record in doc.records() {
            if let Some(value) = &record.usage_key
                && !keys.iter().any(|k| &k.value == value)
            {
                report
                    .without_api_key
                    .push((record.id.clone(), record.partner.clone()));
            }
        }
        for key in keys {
            // Only this registry's: another stack's partners are not orphans.
            if key.registry() != Some(self.registry_id.as_str()) {
                continue;
            }
            let Some(partner) = key.partner().map(str::to_owned) else {
                continue;
            };
            let plans = self.gateway.plans_of_key(&key.id).await?;
            if used.contains(&key.value.as_str()) {
                if plans.is_empty() {
                    report.on_no_plan.push((key.id.clone(), partner));
                }
                continue;
            }
            let old_enough = key
                .created
                .is_none_or(|at| now.unix_timestamp() - at >= min_age_seconds);
            let deleted = if delete && old_enough {
                let plan_ids: Vec<&str> = plans.iter().map(|p| p.id.as_str()).collect();
                self.delete_api_key(&key.id, &plan_ids).await?;
                true
            } else {
                false
            };
            report.orphans.push((key, deleted));
        }
        Ok(report)
    }

    /// Takes the key off `plan_ids`, then deletes it (API Gateway leaves a
    /// deleted key's plan membership behind on some implementations).
    async fn delete_api_key(&self, key_id: &str, plan_ids: &[&str]) -> Result<(), GatewayError> {
        for plan_id in plan_ids {
            self.gateway.remove_from_plan(plan_id, key_id).await?;
        }
        self.gateway.delete_key(key_id).await
    }

    /// The API key of the partner's one usage key.
    async fn partner_api_key(&self, partner: &str) -> Result<ApiKey, PartnerError> {
        let doc = self.admin.document().await?;
        if !doc.records().any(|r| r.partner == partner) {
            return Err(PartnerError::UnknownPartner(partner.to_owned()));
        }
        let value = single_usage_key(&doc, partner)?
            .ok_or_else(|| PartnerError::Unmetered(partner.to_owned()))?;
        self.key_with_value(partner, &value).await
    }

    async fn key_with_value(&self, partner: &str, value: &str) -> Result<ApiKey, PartnerError> {
        self.gateway
            .keys()
            .await?
            .into_iter()
            .find(|k| k.value == value)
            .ok_or_else(|| PartnerError::MissingApiKey(partner.to_owned()))
    }
}

/// The partner's usage key, if its records have one.
fn single_usage_key(doc: &EditableDocument, partner: &str) -> Result<Option<String>, PartnerError> {
    match doc.usage_keys_of(partner).as_slice() {
        [] => Ok(None),
        [one] => Ok(Some((*one).to_owned())),
        _ => Err(PartnerError::SeveralUsageKeys(partner.to_owned())),
    }
}

fn describe(plans: &[Plan]) -> String {
    if plans.is_empty() {
        return "no usage plan".to_owned();
    }
    plans
        .iter()
        .map(|p| format!("plan {} ({})", p.id, p.label()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first day of the quota period that holds `today`, as this command
/// counts it: today for `DAY`, the last seven days for `WEEK`, the first of
/// the month for `MONTH` (and today without a quota). API Gateway's own
/// remaining count does not depend on it.
pub fn period_start(period: Option<&str>, today: time::Date) -> time::Date {
    match period {
        Some("WEEK") => today - time::Duration::days(6),
        Some("MONTH") => today.replace_day(1).unwrap_or(today),
        _ => today,
    }
}

fn format_date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[cfg(test)]
#[path = "partners_tests.rs"]
mod tests;
