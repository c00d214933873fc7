//! The authorizer: an event in, API Gateway's answer out, one log line.
//!
//! [`Authorizer::authorize`] is the core (no clock, no logging), and
//! [`Authorizer::handle`] wraps it for the Lambda runtime: it reads the
//! clock, writes the decision log line and maps every authentication failure
//! to the one error API Gateway turns into a 401.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::Diagnostic;
use policies::{MethodArn, Principal};
use telemetry::Sink;
use telemetry::xray::XrayInterceptor;
use tracing::{error, info};

use crate::apikey::cache::RegistryCache;
use crate::apikey::store::{SecretStore, SecretsManagerStore};
use crate::apikey::verify::PartnerKeyVerifier;
use crate::config::Config;
use crate::credentials::{self, Credential};
use crate::decision;
use crate::event::{AuthorizerEvent, AuthorizerResponse};
use crate::fingerprint::fingerprint;
use crate::jwt::claims::VerifiedToken;
use crate::jwt::https::JwksSource;
use crate::jwt::issuers::{Issuer, Issuers};
use crate::jwt::jwks::{DEFAULT_COOLDOWN, JwksCache};
use crate::jwt::revocation::{CognitoRevocation, RevocationCache, RevocationCheck};
use crate::jwt::sources::NoKeys;
use crate::jwt::verified::VerifiedTokens;
use crate::jwt::verifier::JwtVerifier;
use crate::metrics::{Counters, Decision, DecisionLines};
use crate::reject::Rejection;

/// Why the authorizer could not answer with a policy.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The credential is not to be trusted: API Gateway answers 401.
    #[error("unauthorized: {0}")]
    Unauthorized(#[from] Rejection),
    /// The event itself is not what API Gateway sends: API Gateway answers 500.
    #[error("bad method ARN: {0}")]
    BadMethodArn(#[source] policies::ArnError),
}

/// The error the Lambda function fails with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// API Gateway reads exactly this message as "answer 401".
    #[error("Unauthorized")]
    Unauthorized,
    /// Anything else: API Gateway answers 500. The details are in the log.
    #[error("internal error")]
    Internal,
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = match e {
            HandlerError::Unauthorized => "Unauthorized",
            HandlerError::Internal => "InternalError",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// Start-up failures: configuration is checked before this.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The HTTP client for the JWKS and discovery could not be built.
    #[error("building the JWKS client: {0}")]
    JwksClient(#[source] reqwest::Error),
    /// The users' usage key could not be read from Secrets Manager.
    #[error("USER_USAGE_KEY_SECRET_ID: the secret could not be read: {0}")]
    UserUsageKey(#[source] crate::apikey::store::StoreError),
    /// The secret does not hold an API Gateway API key value.
    #[error(
        "USER_USAGE_KEY_SECRET_ID: the secret is not an API Gateway API key value; expected 20-128 printable characters without spaces"
    )]
    BadUserUsageKey,
}

/// Bounds on every AWS SDK call the authorizer makes (Secrets Manager,
/// Cognito): one attempt, then all retries, each well inside the function's
/// 5 s timeout, so a hung endpoint becomes a refusal (fail closed), not a
/// Lambda timeout.
pub fn sdk_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(500))
        .operation_attempt_timeout(Duration::from_millis(1000))
        .operation_timeout(Duration::from_millis(2500))
        .build()
}

/// A Secrets Manager client whose calls are X-Ray subsegments.
fn secrets_client(sdk: &aws_config::SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(sdk)
            .interceptor(XrayInterceptor)
            .build(),
    )
}

/// Whether `value` can be an API Gateway API key value.
pub fn is_usage_key(value: &str) -> bool {
    (20..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic())
}

/// The authorizer, built once per process.
pub struct Authorizer {
    jwt: Option<JwtVerifier>,
    user_usage_key: Option<String>,
    revocation: Option<RevocationCache>,
    api_keys: Option<PartnerKeyVerifier>,
    counters: Arc<Counters>,
    lines: DecisionLines,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("jwt", &self.jwt)
            .field("revocation", &self.revocation.is_some())
            .field("api_keys", &self.api_keys)
            .finish()
    }
}

impl Authorizer {
    /// Builds the production authorizer: every issuer's keys over HTTPS
    /// (the pool's JWKS, each trusted issuer's by discovery or its
    /// `jwksUri`; fetched now, a failure logged and retried on demand) and,
    /// if configured, Cognito for revocation checks, with the credentials
    /// and region Lambda puts in the environment.
    pub async fn from_config(config: &Config) -> Result<Self, StartupError> {
        let mut builder = AuthorizerBuilder::new(config)
            .sink(Sink::Stdout)
            .http_key_sources()
            .map_err(StartupError::JwksClient)?;
        if config.check_revocation
            || config.api_keys.is_some()
            || config.user_usage_key_secret_id.is_some()
        {
            // Credentials and region from Lambda's environment, compiled-in
            // roots: the set-up the api shares (sdkconfig).
            let sdk = sdkconfig::for_lambda(sdk_timeouts()).await;
            if let Some(id) = &config.user_usage_key_secret_id {
                let stored = SecretsManagerStore::new(secrets_client(&sdk), id.clone())
                    .read()
                    .await
                    .map_err(StartupError::UserUsageKey)?;
                if !is_usage_key(&stored.text) {
                    return Err(StartupError::BadUserUsageKey);
                }
                builder = builder.user_usage_key(stored.text);
            }
            if config.check_revocation {
                let client = aws_sdk_cognitoidentityprovider::Client::from_conf(
                    aws_sdk_cognitoidentityprovider::config::Builder::from(&sdk)
                        .interceptor(XrayInterceptor)
                        .build(),
                );
                builder = builder.revocation(Arc::new(CognitoRevocation::new(client)));
            }
            if let Some(keys) = &config.api_keys {
                builder = builder.secret_store(Arc::new(SecretsManagerStore::new(
                    secrets_client(&sdk),
                    keys.secret_id.clone(),
                )));
            }
        }
        let authorizer = builder.build();
        authorizer.warm_up().await;
        Ok(authorizer)
    }

    /// Fetches every issuer's keys (discovering them first where needed)
    /// and reads the key registry now, so the first request does not wait
    /// for them. Failures are logged (the registry cache logs its own) and
    /// retried on demand. All of them run concurrently: the cold start
    /// waits for the slowest one, not for their sum.
    pub async fn warm_up(&self) {
        let jwks = async {
            if let Some(jwt) = &self.jwt {
                join_all(jwt.issuers().iter().map(|issuer| async move {
                    match issuer.keys().refresh().await {
                        Ok(n) => info!(issuer = issuer.name(), keys = n, "JWKS fetched at start"),
                        Err(e) => error!(
                            issuer = issuer.name(),
                            error = %e,
                            "JWKS fetch at start failed; will retry when a token needs it"
                        ),
                    }
                }))
                .await;
            }
        };
        let registry = async {
            if let Some(keys) = &self.api_keys
                && let Ok(n) = keys.cache().warm_up().await
            {
                info!(keys = n, "partner key registry read at start");
            }
        };
        tokio::join!(jwks, registry);
    }

    /// The JWT verifier, when the pool's or a trusted issuer's tokens are
    /// accepted.
    pub fn jwt_verifier(&self) -> Option<&JwtVerifier> {
        self.jwt.as_ref()
    }

    /// Decides on `event` at `now` (Unix seconds).
    pub async fn authorize(
        &self,
        event: &AuthorizerEvent,
        now: f64,
    ) -> Result<AuthorizerResponse, Failure> {
        let arn: MethodArn = event.method_arn.parse().map_err(Failure::BadMethodArn)?;
        self.decide(&arn, credentials::extract(event), now).await
    }

    /// The decision for a credential already extracted from the event.
    async fn decide(
        &self,
        arn: &MethodArn,
        credential: Result<Credential<'_>, Rejection>,
        now: f64,
    ) -> Result<AuthorizerResponse, Failure> {
        match credential? {
            Credential::Jwt(token) => {
                let verified = self.verify_jwt(token, now).await?;
                Ok(decision::for_token(
                    &verified,
                    &arn.prefix(),
                    self.user_usage_key.as_deref(),
                ))
            }
            Credential::ApiKey(key) => {
                let verifier = self.api_keys.as_ref().ok_or(Rejection::ApiKeysDisabled)?;
                let record = verifier.verify(key, now).await?;
                Ok(decision::for_partner(&record, &arn.prefix()))
            }
        }
    }

    async fn verify_jwt(&self, token: &str, now: f64) -> Result<Arc<VerifiedToken>, Rejection> {
        let verifier = self.jwt.as_ref().ok_or(Rejection::JwtDisabled)?;
        // Possibly from the cache of verified tokens: revocation is asked
        // below all the same, as for a token verified just now.
        let verified = verifier.verify(token, now).await?;
        // Only the pool's tokens of a first-party sign-in can be asked
        // about: Cognito refuses GetUser for tokens without the admin scope
        // (which would otherwise read as "revoked"), and a trusted issuer's
        // token is never shown to Cognito.
        if let Some(revocation) = &self.revocation
            && verified.revocable()
        {
            revocation
                .check(token, verified.expires_at, now, &self.counters)
                .await?;
        }
        Ok(verified)
    }

    /// The Lambda entry point: [`Self::authorize`] with the clock, the
    /// decision line (log and metrics), and failures mapped to API
    /// Gateway's contract. The invocation's ids come from the caller's
    /// [`telemetry::Invocation`] scope.
    pub async fn handle(&self, event: AuthorizerEvent) -> Result<AuthorizerResponse, HandlerError> {
        let started = Instant::now();
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let now = since_epoch.as_secs_f64();
        // Extracted once: the decision and the line both use it.
        let credential = credentials::extract(&event);
        let arn = event.method_arn.parse::<MethodArn>();
        let result = match &arn {
            Ok(arn) => self.decide(arn, credential.clone(), now).await,
            Err(e) => Err(Failure::BadMethodArn(e.clone())),
        };
        let route = arn
            .ok()
            .and_then(|a| a.route())
            .map_or("unmatched", |r| r.label);
        self.report(
            credential.ok(),
            &result,
            route,
            started.elapsed(),
            u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX),
        );
        result.map_err(|failure| match failure {
            Failure::Unauthorized(_) => HandlerError::Unauthorized,
            Failure::BadMethodArn(_) => HandlerError::Internal,
        })
    }

    /// The decision line. The credential itself never appears: for a JWT, a
    /// short fingerprint that lets an operator correlate lines; for an API
    /// key, its id (a fingerprint of a key would relate to its stored hash).
    /// Nothing is built when no line is wanted.
    fn report(
        &self,
        credential: Option<Credential<'_>>,
        result: &Result<AuthorizerResponse, Failure>,
        route: &'static str,
        latency: Duration,
        now_ms: u64,
    ) {
        if !self.lines.wanted() {
            return;
        }
        let fingerprint = || match (credential, result) {
            // A token seen again keeps its fingerprint with its cached
            // verification: one lookup instead of a SHA-256 of the token.
            (Some(Credential::Jwt(t)), _) => match &self.jwt {
                Some(jwt) => jwt.verified_tokens().fingerprint(t, fingerprint),
                None => fingerprint(t),
            },
            (Some(Credential::ApiKey(_)), Ok(r)) => match &r.context.principal {
                Principal::Partner {
                    key_id: Some(id), ..
                } => format!("key:{id}"),
                _ => String::new(),
            },
            _ => String::new(),
        };
        let permissions;
        let detail;
        let line = match result {
            Ok(r) => {
                permissions = r.context.permissions.to_string();
                let denied = r.context.permissions.is_empty();
                Decision {
                    outcome: if denied { "deny" } else { "allow" },
                    reason: if denied { "no_permission" } else { "ok" },
                    route,
                    principal: Some(&r.principal_id),
                    auth_type: Some(r.context.auth_type().as_str()),
                    permissions: Some(&permissions),
                    detail: None,
                    latency,
                }
            }
            Err(Failure::Unauthorized(why)) => {
                detail = why.to_string();
                Decision::refused("unauthorized", why.code(), route, &detail, latency)
            }
            Err(e @ Failure::BadMethodArn(_)) => {
                detail = e.to_string();
                Decision::refused("error", "bad_method_arn", route, &detail, latency)
            }
        };
        let unreadable = self.api_keys.as_ref().map(|k| k.cache().is_unreadable());
        self.lines
            .write(&line, fingerprint, &self.counters, unreadable, now_ms);
    }
}

/// Assembles an [`Authorizer`] from parts: the production wiring uses it, and
/// tests and the local stack put in-memory or local parts in its place.
pub struct AuthorizerBuilder<'c> {
    config: &'c Config,
    jwks_source: Option<Arc<dyn JwksSource>>,
    issuer_sources: std::collections::HashMap<String, Arc<dyn JwksSource>>,
    jwks_cooldown: std::time::Duration,
    revocation: Option<Arc<dyn RevocationCheck>>,
    secret_store: Option<Arc<dyn SecretStore>>,
    early_reread: std::time::Duration,
    user_usage_key: Option<String>,
    sink: Sink,
    verified_tokens: Option<VerifiedTokens>,
}

impl<'c> AuthorizerBuilder<'c> {
    /// A builder for `config`, with no parts yet.
    pub fn new(config: &'c Config) -> Self {
        AuthorizerBuilder {
            config,
            jwks_source: None,
            issuer_sources: std::collections::HashMap::new(),
            jwks_cooldown: DEFAULT_COOLDOWN,
            revocation: None,
            secret_store: None,
            early_reread: crate::apikey::cache::EARLY_REREAD_INTERVAL,
            user_usage_key: None,
            sink: Sink::Null,
            verified_tokens: None,
        }
    }

    /// The cache of verified tokens (default: [`VerifiedTokens::default`];
    /// bounds of 0 turn it off, as benchmarks of the full verification do).
    pub fn verified_tokens(mut self, cache: VerifiedTokens) -> Self {
        self.verified_tokens = Some(cache);
        self
    }

    /// Where decision lines go (nowhere by default; the Lambda and the local
    /// stack give stdout).
    pub fn sink(mut self, sink: Sink) -> Self {
        self.sink = sink;
        self
    }

    /// The first-party usage plan key returned for Cognito users (read from
    /// `USER_USAGE_KEY_SECRET_ID` in production).
    pub fn user_usage_key(mut self, key: String) -> Self {
        self.user_usage_key = Some(key);
        self
    }

    /// Where the partner key registry is read from (used when the config has
    /// `API_KEYS_SECRET_ID`).
    pub fn secret_store(mut self, store: Arc<dyn SecretStore>) -> Self {
        self.secret_store = Some(store);
        self
    }

    /// The minimum time between two early registry re-reads (default 10 s).
    pub fn early_reread_interval(mut self, interval: std::time::Duration) -> Self {
        self.early_reread = interval;
        self
    }

    /// Where the JWKS comes from (used when the config has a user pool).
    pub fn jwks_source(mut self, source: Arc<dyn JwksSource>) -> Self {
        self.jwks_source = Some(source);
        self
    }

    /// Where the keys of the trusted issuer `alias` come from.
    pub fn issuer_jwks_source(mut self, alias: &str, source: Arc<dyn JwksSource>) -> Self {
        self.issuer_sources.insert(alias.to_owned(), source);
        self
    }

    /// The production key sources ([`crate::jwt::sources`]) for every
    /// issuer not given one yet: the pool's JWKS over HTTPS (`JWKS_URI`),
    /// and each trusted issuer's `jwksUri` or, without one, its OIDC
    /// discovery.
    pub fn http_key_sources(mut self) -> Result<Self, reqwest::Error> {
        let sources = crate::jwt::sources::http_sources(self.config)?;
        if self.jwks_source.is_none() {
            self.jwks_source = sources.pool;
        }
        for (alias, source) in sources.issuers {
            self.issuer_sources.entry(alias).or_insert(source);
        }
        Ok(self)
    }

    /// The minimum time between two JWKS fetches (default 10 s).
    pub fn jwks_cooldown(mut self, cooldown: std::time::Duration) -> Self {
        self.jwks_cooldown = cooldown;
        self
    }

    /// The revocation check for access tokens.
    pub fn revocation(mut self, check: Arc<dyn RevocationCheck>) -> Self {
        self.revocation = Some(check);
        self
    }

    /// The authorizer. An issuer without a key source has no keys, and a
    /// registry without a store is unreadable, so misassembly fails closed.
    pub fn build(mut self) -> Authorizer {
        let counters = Arc::new(Counters::default());
        let keys = |name: &str,
                    source: Option<Arc<dyn JwksSource>>,
                    algorithms: &[crate::jwt::token::SigAlg]| {
            Arc::new(
                JwksCache::new(
                    source.unwrap_or_else(|| Arc::new(NoKeys)),
                    self.jwks_cooldown,
                )
                .named(name)
                .for_algorithms(algorithms)
                .counting(Arc::clone(&counters)),
            )
        };
        let mut issuers = Vec::new();
        if let Some(cognito) = &self.config.cognito {
            let keys = keys(
                policies::COGNITO_ISSUER,
                self.jwks_source.take(),
                &crate::jwt::token::SigAlg::POOL,
            );
            issuers.push(Issuer::pool(cognito, self.config.leeway_seconds, keys));
        }
        for trusted in &self.config.trusted_issuers {
            let keys = keys(
                &trusted.alias,
                self.issuer_sources.remove(&trusted.alias),
                &trusted.algorithms,
            );
            issuers.push(Issuer::trusted(trusted, keys));
        }
        let jwt = (!issuers.is_empty()).then(|| {
            let verifier = JwtVerifier::new(Issuers::new(issuers), self.config.leeway_seconds);
            match self.verified_tokens.take() {
                Some(verified) => verifier.with_verified_tokens(verified),
                None => verifier,
            }
        });
        let api_keys = self.config.api_keys.as_ref().map(|keys| {
            let store = self
                .secret_store
                .unwrap_or_else(|| Arc::new(crate::apikey::store::MemorySecretStore::default()));
            let cache =
                RegistryCache::with_early_interval(store, keys.cache_ttl, self.early_reread)
                    .counting(Arc::clone(&counters));
            PartnerKeyVerifier::new(Arc::new(cache))
        });
        Authorizer {
            jwt,
            user_usage_key: self.user_usage_key,
            revocation: self
                .revocation
                .filter(|_| self.config.check_revocation)
                .map(RevocationCache::new),
            api_keys,
            lines: DecisionLines::new(self.config.metrics.clone(), self.sink),
            counters,
        }
    }
}

impl std::fmt::Debug for AuthorizerBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizerBuilder").finish_non_exhaustive()
    }
}

/// Runs every future of `futures` to completion, concurrently, on this task.
async fn join_all<F: std::future::Future<Output = ()>>(futures: impl IntoIterator<Item = F>) {
    let mut pending: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        pending.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}
