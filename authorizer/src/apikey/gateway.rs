//! API Gateway's side of a partner: the API key whose value is the record's
//! `usageKey`, and the usage plans (tiers) it belongs to. The real one is the
//! AWS SDK's API Gateway client; an in-memory one stands in for unit tests.
//!
//! Only what `partner-keys` needs: plans (read), API keys (create, list with
//! values, delete), plan membership (add, remove, which plans hold a key) and
//! `GetUsage`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use aws_sdk_apigateway::Client;
use aws_sdk_apigateway::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::BoxFuture;

/// The tag a usage plan carries to name its tier (set by template.yaml).
pub const TIER_TAG: &str = "partner-tier";
/// The tag that marks an API key as created by `partner-keys`, naming the partner.
pub const PARTNER_TAG: &str = "partner-keys:partner";
/// The tag naming the key id the API key was created with.
pub const KEY_ID_TAG: &str = "partner-keys:key-id";
/// The tag naming the registry (the `--secret-id` as given) whose record the
/// API key serves, so that `reconcile` on one registry never takes another
/// registry's API keys (two stacks in one account) for orphans.
pub const REGISTRY_TAG: &str = "partner-keys:registry";

/// An API key, value included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// API Gateway's id of the key (not secret).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its value, the record's `usageKey`.
    pub value: String,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// When it was created, Unix seconds, when API Gateway says.
    pub created: Option<i64>,
}

impl ApiKey {
    /// The partner it was created for, if `partner-keys` created it.
    pub fn partner(&self) -> Option<&str> {
        self.tags.get(PARTNER_TAG).map(String::as_str)
    }

    /// The registry it was created for, if `partner-keys` created it.
    pub fn registry(&self) -> Option<&str> {
        self.tags.get(REGISTRY_TAG).map(String::as_str)
    }
}

/// A usage plan's quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// Requests per period.
    pub limit: i64,
    /// `DAY`, `WEEK` or `MONTH`.
    pub period: String,
}

/// A usage plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its `partner-tier` tag.
    pub tier: Option<String>,
    /// Steady requests per second, and burst.
    pub throttle: Option<(f64, i64)>,
    /// Its quota.
    pub quota: Option<Quota>,
}

impl Plan {
    /// How the plan is shown: its tier, or its name when it has none.
    pub fn label(&self) -> &str {
        self.tier.as_deref().unwrap_or(&self.name)
    }
}

/// `GetUsage` for one key on one plan: per day, requests used and quota left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyUsage {
    /// First day, `YYYY-MM-DD`.
    pub start_date: String,
    /// Last day.
    pub end_date: String,
    /// One `(used, remaining)` pair per day, oldest first.
    pub days: Vec<(i64, i64)>,
}

/// Why an API Gateway call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// No usage plan has this id.
    #[error("usage plan {0:?} does not exist")]
    UnknownPlan(String),
    /// API Gateway refused to create the key (a key with this value exists,
    /// a value it does not accept, a limit reached).
    #[error("API Gateway refused the API key: {0}")]
    KeyRefused(String),
    /// Anything else: access denied, throttling, an operation the endpoint
    /// does not implement.
    #[error("API Gateway {operation} failed: {message}")]
    Service {
        /// The operation.
        operation: &'static str,
        /// What it answered.
        message: String,
    },
}

/// The API Gateway operations `partner-keys` uses.
pub trait UsageGateway: Send + Sync {
    /// The plan `id`.
    fn plan<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Plan, GatewayError>>;
    /// Every plan.
    fn plans(&self) -> BoxFuture<'_, Result<Vec<Plan>, GatewayError>>;
    /// The plans that hold the API key `key_id`.
    fn plans_of_key<'a>(
        &'a self,
        key_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Plan>, GatewayError>>;
    /// Creates an enabled API key.
    fn create_key<'a>(
        &'a self,
        name: &'a str,
        value: &'a str,
        tags: BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<ApiKey, GatewayError>>;
    /// Every API key, values included.
    fn keys(&self) -> BoxFuture<'_, Result<Vec<ApiKey>, GatewayError>>;
    /// Deletes the API key `key_id`.
    fn delete_key<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<(), GatewayError>>;
    /// Adds the key to the plan.
    fn add_to_plan<'a>(
        &'a self,
        plan_id: &'a str,
        key_id: &'a str,
    ) -> BoxFuture<'a, Result<(), GatewayError>>;
    /// Removes the key from the plan.
    fn remove_from_plan<'a>(
        &'a self,
        plan_id: &'a str,
        key_id: &'a str,
    ) -> BoxFuture<'a, Result<(), GatewayError>>;
    /// `GetUsage` of the key on the plan, days `start..=end` (`YYYY-MM-DD`).
    fn usage<'a>(
        &'a self,
        plan_id: &'a str,
        key_id: &'a str,
        start: &'a str,
        end: &'a str,
    ) -> BoxFuture<'a, Result<DailyUsage, GatewayError>>;
}

/// API Gateway through the AWS SDK.
#[derive(Debug, Clone)]
pub struct ApiGatewayClient {
    client: Client,
}

impl ApiGatewayClient {
    /// Calls through `client`.
    pub fn new(client: Client) -> Self {
        ApiGatewayClient { client }
    }
}

fn service<E, R>(operation: &'static str) -> impl FnOnce(SdkError<E, R>) -> GatewayError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    move |e| GatewayError::Service {
        operation,
        message: DisplayErrorContext(e).to_string(),
    }
}

/// Page size of the listing calls (API Gateway's maximum).
const PAGE: i32 = 500;

fn to_plan(
    id: Option<&str>,
    name: Option<&str>,
    tags: Option<&std::collections::HashMap<String, String>>,
    throttle: Option<&aws_sdk_apigateway::types::ThrottleSettings>,
    quota: Option<&aws_sdk_apigateway::types::QuotaSettings>,
) -> Plan {
    Plan {
        id: id.unwrap_or_default().to_owned(),
        name: name.unwrap_or_default().to_owned(),
        tier: tags.and_then(|t| t.get(TIER_TAG)).cloned(),
        throttle: throttle.map(|t| (t.rate_limit(), i64::from(t.burst_limit()))),
        quota: quota.map(|q| Quota {
            limit: i64::from(q.limit()),
            period: q
                .period()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
        }),
    }
}

impl ApiGatewayClient {
    async fn list_plans(&self, key_id: Option<&str>) -> Result<Vec<Plan>, GatewayError> {
        let mut plans = Vec::new();
        let mut position = None;
        loop {
            let out = self
                .client
                .get_usage_plans()
                .set_key_id(key_id.map(str::to_owned))
                .limit(PAGE)
                .set_position(position)
                .send()
                .await
                .map_err(service("GetUsagePlans"))?;
            plans.extend(
                out.items()
                    .iter()
                    .map(|p| to_plan(p.id(), p.name(), p.tags(), p.throttle(), p.quota())),
            );
            position = out.position().map(str::to_owned);
            if position.is_none() || out.items().is_empty() {
                return Ok(plans);
            }
        }
    }
}

impl UsageGateway for ApiGatewayClient {
    fn plan<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Plan, GatewayError>> {
        Box::pin(async move {
            let out = self
                .client
                .get_usage_plan()
                .usage_plan_id(id)
                .send()
                .await
                .map_err(|e| match e.as_service_error() {
                    Some(s) if s.is_not_found_exception() => GatewayError::UnknownPlan(id.into()),
                    _ => service("GetUsagePlan")(e),
                })?;
            Ok(to_plan(
                out.id(),
                out.name(),
                out.tags(),
                out.throttle(),
                out.quota(),
            ))
        })
    }

    fn plans(&self) -> BoxFuture<'_, Result<Vec<Plan>, GatewayError>> {
        Box::pin(self.list_plans(None))
    }

    fn plans_of_key<'a>(
        &'a self,
        key_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Plan>, GatewayError>> {
        Box::pin(self.list_plans(Some(key_id)))
    }

    fn create_key<'a>(
        &'a self,
        name: &'a str,
        value: &'a str,
        tags: BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<ApiKey, GatewayError>> {
        Box::pin(async move {
            let out = self
                .client
                .create_api_key()
                .name(name)
                .description("Meters a partner's usage plan; created and deleted by partner-keys.")
                .value(value)
                .enabled(true)
                .set_tags(Some(tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(|e| match e.as_service_error() {
                    Some(s) if s.is_conflict_exception() || s.is_bad_request_exception() => {
                        GatewayError::KeyRefused(s.message().unwrap_or("refused").to_owned())
                    }
                    _ => service("CreateApiKey")(e),
                })?;
            Ok(ApiKey {
                id: out.id().unwrap_or_default().to_owned(),
                name: name.to_owned(),
                value: value.to_owned(),
                tags,
                created: out.created_date().map(|d| d.secs()),
            })
        })
    }

    fn keys(&self) -> BoxFuture<'_, Result<Vec<ApiKey>, GatewayError>> {
        Box::pin(async move {
            let mut keys = Vec::new();
            let mut position = None;
            loop {
                let out = self
                    .client
                    .get_api_keys()
                    .include_values(true)
                    .limit(PAGE)
                    .set_position(position)
                    .send()
                    .await
                    .map_err(service("GetApiKeys"))?;
                keys.extend(out.items().iter().map(|k| {
                    ApiKey {
                        id: k.id().unwrap_or_default().to_owned(),
                        name: k.name().unwrap_or_default().to_owned(),
                        value: k.value().unwrap_or_default().to_owned(),
                        tags: k
                            .tags()
                            .map(|t| t.clone().into_iter().collect())
                            .unwrap_or_default(),
                        created: k.created_date().map(|d| d.secs()),
                    }
                }));
                position = out.position().map(str::to_owned);
                if position.is_none() || out.items().is_empty() {
                    return Ok(keys);
                }
            }
        })
    }

    fn delete_key<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<(), GatewayError>> {
        Box::pin(async move {
            self.client
                .delete_api_key()
                .api_key(key_id)
                .send()
                .await
                .map_err(service("DeleteApiKey"))?;
            Ok(())
        })
    }

    fn add_to_plan<'a>(
        &'a self,
        plan_id: &'a str,
        key_id: &'a str,
    ) -> BoxFuture<'a, Result<(), GatewayError>> {
        Box::pin(async move {
            self.client
                .create_usage_plan_key()
                .usage_plan_id(plan_id)
                .key_id(key_id)
                .key_type("API_KEY")
                .send()
                .await
                .map_err(|e| match e.as_service_error() {
                    Some(s) if s.is_not_found_exception() => {
                        GatewayError::UnknownPlan(plan_id.into())
                    }
                    _ => service("CreateUsagePlanKey")(e),
                })?;
            Ok(())
        })
    }

    fn remove_from_plan<'a>(
        &'a self,
        plan_id: &'a str,
        key_id: &'a str,
    ) -> BoxFuture<'a, Result<(), GatewayError>> {
        Box::pin(async move {
            self.client
                .delete_usage_plan_key()
                .usage_plan_id(plan_id)
                .key_id(key_id)
                .send()
                .await
                .map_err(service("DeleteUsagePlanKey"))?;
            Ok(())
        })
    }

    fn usage<'a>(
        &'a self,
        plan_id: &'a str,
        key_id: &'a str,
        start: &'a str,
        end: &'a str,
    ) -> BoxFuture<'a, Result<DailyUsage, GatewayError>> {
        Box::pin(async move {
            let out = self
                .client
                .get_usage()
                .usage_plan_id(plan_id)
                .key_id(key_id)
                .start_date(start)
                .end_date(end)
                .send()
                .await
                .map_err(service("GetUsage"))?;
            let days = out
                .items()
                .and_then(|items| items.get(key_id))
                .map(|days| {
                    days.iter()
                        .map(|d| {
                            (
                                d.first().copied().unwrap_or(0),
                                d.get(1).copied().unwrap_or(0),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            Ok(DailyUsage {
                start_date: out.start_date().unwrap_or(start).to_owned(),
                end_date: out.end_date().unwrap_or(end).to_owned(),
                days,
            })
        })
    }
}

/// API Gateway in memory, for unit tests: plans are added by the test, and
/// any operation can be made to fail.
#[derive(Debug, Default)]
pub struct MemoryGateway {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    plans: Vec<Plan>,
    keys: Vec<ApiKey>,
    members: Vec<(String, String)>,
    usage: BTreeMap<(String, String), Vec<(i64, i64)>>,
    failing: Vec<&'static str>,
    failing_once: Vec<&'static str>,
    next: u64,
}

impl MemoryGateway {
    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a plan.
    pub fn add_plan(&self, plan: Plan) {
        self.lock().plans.push(plan);
    }

    /// Makes `operation` (e.g. `"CreateApiKey"`) fail from now on.
    pub fn fail(&self, operation: &'static str) {
        self.lock().failing.push(operation);
    }

    /// Makes the next call of `operation` fail.
    pub fn fail_once(&self, operation: &'static str) {
        self.lock().failing_once.push(operation);
    }

    /// Records `GetUsage`'s answer for the key on the plan.
    pub fn set_usage(&self, plan_id: &str, key_id: &str, days: Vec<(i64, i64)>) {
        self.lock()
            .usage
            .insert((plan_id.to_owned(), key_id.to_owned()), days);
    }

    /// Every API key.
    pub fn all_keys(&self) -> Vec<ApiKey> {
        self.lock().keys.clone()
    }

    /// Every (plan id, key id) membership.
    pub fn memberships(&self) -> Vec<(String, String)> {
        self.lock().members.clone()
    }

    fn check(&self, operation: &'static str) -> Result<(), GatewayError> {
        let mut state = self.lock();
        let once = state.failing_once.iter().position(|o| *o == operation);
        if let Some(at) = once {
            state.failing_once.remove(at);
        }
        if once.is_some() || state.failing.contains(&operation) {
            return Err(GatewayError::Service {
                operation,
                message: "injected failure".into(),
            });
        }
        Ok(())
    }

    fn now<T: Send + 'static>(
        result: Result<T, GatewayError>,
    ) -> BoxFuture<'static, Result<T, GatewayError>> {
        Box::pin(async move { result })
    }
}

impl UsageGateway for MemoryGateway {
    fn plan<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Plan, GatewayError>> {
        let result = self.check("GetUsagePlan").and_then(|()| {
            self.lock()
                .plans
                .iter()
                .find(|p| p.id == id)
                .cloned()
                .ok_or_else(|| GatewayError::UnknownPlan(id.to_owned()))
        });
        Self::now(result)
    }

    fn plans(&self) -> BoxFuture<'_, Result<Vec<Plan>, GatewayError>> {
        let result = self
            .check("GetUsagePlans")
            .map(|()| self.lock().plans.clone());
        Self::now(result)
    }

    fn plans_of_key<'a>(
        &'a self,
        key_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Plan>, GatewayError>> {
        let result = self.check("GetUsagePlans").map(|()| {
            let state = self.lock();
            state
                .plans
                .iter()
                .filter(|p| {
                    state
                        .members
                        .iter()
                        .any(|(pl, k)| *pl == p.id && k == key_id)
                })
                .cloned()
                .collect()
        });
        Self::now(result)
    }

    fn create_key<'a>(
        &'a self,
        name: &'a str,
        value: &'a str,
        tags: BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<ApiKey, GatewayError>> {
        let result = self.check("CreateApiKey").and_then(|()| {
            let mut state = self.lock();
            if state.keys.iter().any(|k| k.value == value) {
                return Err(GatewayError::KeyRefused("API Key already exists".into()));
            }
            state.next += 1;
            let key = ApiKey {
                id: format!("key{}", state.next),
                name: name.to_owned(),
                value: value.to_owned(),
                tags,
                created: Some(0),
            };
            state.keys.push(key.clone());
            Ok(key)
        });
        Self::now(result)
    }

    fn keys(&self) -> BoxFuture<'_, Result<Vec<ApiKey>, GatewayError>> {
        let result = self.check("GetApiKeys").map(|()| self.lock().keys.clone());
        Self::now(result)
    }

    fn delete_key<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<(), GatewayError>> {
        let result = self.check("DeleteApiKey").map(|()| {
            let mut state = self.lock();
            state.keys.retain(|k| k.id != key_id);
            // As moto does: the plan membership is left behind.
        });
        Self::now(result)
    }

    fn add_to_plan<'a>(
        &'a self,
        plan_id: &'a str,
        key_id: &'a str,
    ) -> BoxFuture<'a, Result<(), GatewayError>> {
        let result = self.check("CreateUsagePlanKey").and_then(|()| {
            let mut state = self.lock();
            if !state.plans.iter().any(|p| p.id == plan_id) {
                return Err(GatewayError::UnknownPlan(plan_id.to_owned()));
            }
            state.members.push((plan_id.to_owned(), key_id.to_owned()));
            Ok(())
        });
        Self::now(result)
    }

    fn remove_from_plan<'a>(
        &'a self,
        plan_id: &'a str,
        key_id: &'a str,
    ) -> BoxFuture<'a, Result<(), GatewayError>> {
        let result = self.check("DeleteUsagePlanKey").map(|()| {
            self.lock()
                .members
                .retain(|(p, k)| !(p == plan_id && k == key_id));
        });
        Self::now(result)
    }

    fn usage<'a>(
        &'a self,
        plan_id: &'a str,
        key_id: &'a str,
        start: &'a str,
        end: &'a str,
    ) -> BoxFuture<'a, Result<DailyUsage, GatewayError>> {
        let result = self.check("GetUsage").map(|()| DailyUsage {
            start_date: start.to_owned(),
            end_date: end.to_owned(),
            days: self
                .lock()
                .usage
                .get(&(plan_id.to_owned(), key_id.to_owned()))
                .cloned()
                .unwrap_or_default(),
        });
        Self::now(result)
    }
}
