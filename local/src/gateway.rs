//! The emulation of API Gateway's REST API in front of the api, in the order
//! API Gateway works through a request:
//!
//! 0. the stage's web ACL, when its rate-based rules are on ([`crate::waf`])
//!    → 403 `WAF_FILTERED`, before anything of API Gateway;
//! 1. `OPTIONS` on a resource: the CORS preflight, no authorizer.
//! 2. the route, from `policies::ROUTES` (the table the authorizer and the
//!    api use): no resource or method → 403 `Missing Authentication Token`;
//! 3. the stage throttle (when configured) → 429;
//! 4. the identity source, the `Authorization` header: missing, empty or
//!    not matching the template's `ValidationExpression`
//!    ([`policies::AUTHORIZATION_PATTERN`]) → 401 without calling the
//!    authorizer;
//! 5. the authorizer result cache, keyed by that header's value; on a miss
//!    the authorizer is called in process with the TOKEN event API Gateway
//!    sends (method ARN `arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path>`).
//!    `Unauthorized` → 401, any other failure → 500; a policy (Allow or
//!    Deny) is cached for the TTL and answers later requests to any route;
//! 6. the policy evaluated for this request's method ARN with API Gateway's
//!    semantics → 403 unless allowed;
//! 7. every method requires an API key, as in the template: no
//!    `usageIdentifierKey` from the authorizer → 403; then the key's partner
//!    tier ([`crate::tiers`]): its daily quota → 429 `Limit Exceeded`, its
//!    throttle bucket → 429 `Too Many Requests` (the users' shared key is in
//!    a plan as wide as the stage throttle, so only step 3 bounds it);
//! 8. the request validator, for the methods with a model in the template:
//!    a body that is not JSON or breaks the model → 400 `BAD_REQUEST_BODY`,
//!    the api not invoked ([`crate::contract`]);
//! 9. the api, called with the REST proxy event (payload 1.0) converted by
//!    `lambda_http` exactly as in Lambda, the authorizer context in
//!    `requestContext.authorizer` (values flattened to strings as API
//!    Gateway does, plus `principalId` and `integrationLatency`).
//!
//! Nothing on this path panics: every failure is a gateway response.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use api::App;
use authorizer::BoxFuture;
use authorizer::{Authorizer, AuthorizerEvent, AuthorizerResponse, HandlerError};
use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue, Method, Request, Response, header};
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayProxyRequest, ApiGatewayProxyRequestContext,
};
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::request::LambdaRequest;
use policies::{
    Decision, INVOKE_ACTION, Route, RouteMatch, authorization_is_canonical, evaluate, match_route,
};
use serde_json::Value;
use telemetry::Invocation;
use tracing::warn;

use crate::backends::Store;
use crate::cache::AuthorizerCache;
use crate::config::{LOCAL_ACCOUNT_ID, LOCAL_REGION, StackConfig};
use crate::contract::{BodyCheck, check_body};
use crate::responses::{GatewayError, preflight};
use crate::stats::{Authorized, Stats};
use crate::tiers::{Refusal, Tiers, utc_day};
use crate::usage::StageThrottle;
use crate::waf::WebAcl;

/// API Gateway's payload limit.
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

/// The authorizer as the gateway calls it: the real one in the stack, a
/// wrapper in tests that need it to fail. The answer is the Lambda's: a
/// response, or the error API Gateway reads (`Unauthorized` → 401, anything
/// else → 500).
pub trait Authorize: Send + Sync {
    /// Decides on a TOKEN event.
    fn authorize(
        &self,
        event: AuthorizerEvent,
    ) -> BoxFuture<'_, Result<AuthorizerResponse, HandlerError>>;
}

/// The Lambda's own entry point: it reads the clock, writes the decision log
/// line and maps failures exactly as the deployed function does.
impl Authorize for Authorizer {
    fn authorize(
        &self,
        event: AuthorizerEvent,
    ) -> BoxFuture<'_, Result<AuthorizerResponse, HandlerError>> {
        Box::pin(self.handle(event))
    }
}

/// One authorizer result as cached: the response and the context map the
/// api receives, built once.
#[derive(Debug)]
pub struct Authorization {
    /// What the authorizer returned.
    pub response: AuthorizerResponse,
    /// `requestContext.authorizer` without `integrationLatency`.
    fields: HashMap<String, Value>,
}

impl Authorization {
    /// The cached form of `response`: its context flattened to strings, as
    /// API Gateway passes it, with the response's `principalId`.
    pub fn new(response: AuthorizerResponse) -> Self {
        let mut fields = response.context.to_gateway_fields();
        // API Gateway takes principalId from the response, not the context.
        fields.insert(
            policies::context::field::PRINCIPAL_ID.to_owned(),
            Value::String(response.principal_id.clone()),
        );
        Authorization { response, fields }
    }
}

/// The gateway: authorizer, cache, throttles and the api behind them.
pub struct Gateway {
    authorizer: Arc<dyn Authorize>,
    app: App<Store>,
    cache: AuthorizerCache<Authorization>,
    tiers: Tiers,
    user_usage_key: String,
    stage_throttle: Option<StageThrottle>,
    waf: WebAcl,
    cors_origin: HeaderValue,
    arn_prefix: String,
    api_id: String,
    stage: String,
    host: String,
    authorizer_calls: AtomicUsize,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("arn_prefix", &self.arn_prefix)
            .field("authorizer_calls", &self.authorizer_calls)
            .finish_non_exhaustive()
    }
}

/// A configuration the gateway cannot run with.
#[derive(Debug, thiserror::Error)]
#[error("--cors-origin is not a valid header value")]
pub struct BadCorsOrigin;

impl Gateway {
    /// A gateway for `config`, listening on `addr`, in front of `app`.
    pub fn new(
        config: &StackConfig,
        addr: SocketAddr,
        authorizer: Arc<dyn Authorize>,
        app: App<Store>,
    ) -> Result<Self, BadCorsOrigin> {
        let now = Instant::now();
        Ok(Gateway {
            authorizer,
            app,
            cache: AuthorizerCache::new(config.cache_ttl),
            tiers: Tiers::new(config.usage_plan, &config.tiers),
            user_usage_key: crate::config::LOCAL_USER_USAGE_KEY.to_owned(),
            stage_throttle: config.stage_throttle.map(|r| StageThrottle::new(r, now)),
            waf: WebAcl::new(&config.waf, now),
            cors_origin: HeaderValue::from_str(&config.cors_origin).map_err(|_| BadCorsOrigin)?,
            arn_prefix: format!(
                "arn:aws:execute-api:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:{}/{}/",
                config.api_id, config.stage
            ),
            api_id: config.api_id.clone(),
            stage: config.stage.clone(),
            host: addr.to_string(),
            authorizer_calls: AtomicUsize::new(0),
            stats: Arc::default(),
        })
    }

    /// What the gateway has served so far.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// How many times the authorizer was called (cache misses).
    pub fn authorizer_calls(&self) -> usize {
        self.authorizer_calls.load(Ordering::SeqCst)
    }

    /// The `arn:…:<api id>/<stage>/` prefix of every method ARN.
    pub fn arn_prefix(&self) -> &str {
        &self.arn_prefix
    }

    /// Serves one request from `peer`.
    pub async fn handle(&self, request: Request<Body>, peer: Option<SocketAddr>) -> Response<Body> {
        let started = Instant::now();
        let request_id = uuid::Uuid::now_v7().to_string();
        // WAF sees the request first; its client IP is the peer's address.
        let blocked = self
            .waf
            .inspect(peer.map(|p| p.ip()), request.headers(), Instant::now());
        let mut response = match blocked {
            Some(_) => crate::waf::blocked_response(&self.cors_origin),
            None => match self.serve(request, peer, &request_id).await {
                Ok(response) => response,
                Err(e) => e.to_response(&self.cors_origin),
            },
        };
        // API Gateway names every answer, its own and the integration's.
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-amzn-requestid", v);
        }
        self.stats
            .request(response.status().as_u16(), started.elapsed());
        response
    }

    async fn serve(
        &self,
        request: Request<Body>,
        peer: Option<SocketAddr>,
        request_id: &str,
    ) -> Result<Response<Body>, GatewayError> {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path();

        if parts.method == Method::OPTIONS {
            // SAM's Cors adds a mock OPTIONS method to every resource.
            return match match_route(Method::OPTIONS.as_str(), path) {
                RouteMatch::NotFound => Err(GatewayError::MissingAuthenticationToken),
                _ => Ok(preflight(&self.cors_origin)),
            };
        }
        let route = match match_route(parts.method.as_str(), path) {
            RouteMatch::Found(route) => route,
            _ => return Err(GatewayError::MissingAuthenticationToken),
        };
        if let Some(throttle) = &self.stage_throttle
            && !throttle.admit(Instant::now())
        {
            return Err(GatewayError::Throttled);
        }

        // The identity source: without it, or when it fails the template's
        // ValidationExpression, API Gateway never calls the authorizer.
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .filter(|v| authorization_is_canonical(v))
            .ok_or_else(|| {
                self.stats.authorized(Authorized::RefusedAtTheGate);
                GatewayError::Unauthorized
            })?;
        let method_arn = format!(
            "{}{}/{}",
            self.arn_prefix,
            parts.method.as_str(),
            path.strip_prefix('/').unwrap_or(path)
        );

        let (authorization, latency_ms) =
            self.authorization(token, &method_arn, request_id).await?;
        match evaluate(
            &authorization.response.policy_document,
            INVOKE_ACTION,
            &method_arn,
        ) {
            Decision::Allow => {}
            Decision::ExplicitDeny => return Err(GatewayError::AccessDenied { explicit: true }),
            Decision::ImplicitDeny => return Err(GatewayError::AccessDenied { explicit: false }),
        }
        let key = authorization
            .response
            .usage_identifier_key
            .as_deref()
            .ok_or(GatewayError::InvalidApiKey)?;
        if key != self.user_usage_key {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            self.tiers
                .admit(key, Instant::now(), utc_day(now))
                .map_err(|refusal| match refusal {
                    Refusal::Throttled => GatewayError::Throttled,
                    Refusal::QuotaExceeded => GatewayError::QuotaExceeded,
                })?;
        }

        let body = axum::body::to_bytes(body, MAX_PAYLOAD_BYTES)
            .await
            .map_err(|_| GatewayError::RequestTooLarge)?;
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or_default());
        if check_body(route.label, content_type, &body) == BodyCheck::Invalid {
            return Err(GatewayError::BadRequestBody);
        }
        let event = self.proxy_event(
            &parts.method,
            path,
            parts.uri.query(),
            &parts.headers,
            &body,
            route,
            &authorization,
            latency_ms,
            peer,
            request_id,
        );
        let lambda_request: lambda_http::Request = LambdaRequest::ApiGatewayV1(event).into();
        let response = invocation(request_id)
            .scope(self.app.handle(lambda_request))
            .await;
        Ok(into_http(response))
    }

    /// The cached authorization for `token`, or the authorizer's answer
    /// (cached when it is a policy), with the authorizer's latency in ms.
    async fn authorization(
        &self,
        token: &str,
        method_arn: &str,
        request_id: &str,
    ) -> Result<(Arc<Authorization>, u64), GatewayError> {
        if let Some(hit) = self.cache.get(token, Instant::now()) {
            self.stats.authorized(Authorized::CacheHit);
            return Ok((hit, 0));
        }
        self.authorizer_calls.fetch_add(1, Ordering::SeqCst);
        let started = Instant::now();
        let event = AuthorizerEvent::token(token, method_arn);
        let answer = invocation(request_id)
            .scope(self.authorizer.authorize(event))
            .await;
        self.stats.authorized(match &answer {
            Ok(r) if r.context.permissions.is_empty() => Authorized::Deny,
            Ok(_) => Authorized::Allow,
            Err(HandlerError::Unauthorized) => Authorized::Unauthorized,
            Err(HandlerError::Internal) => Authorized::Error,
        });
        match answer {
            Ok(response) => {
                let authorization = Arc::new(Authorization::new(response));
                self.cache
                    .insert(token, Arc::clone(&authorization), Instant::now());
                let latency = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                Ok((authorization, latency))
            }
            // Not cached: API Gateway caches policies only.
            Err(HandlerError::Unauthorized) => Err(GatewayError::Unauthorized),
            Err(HandlerError::Internal) => {
                warn!("authorizer failed; answering 500 as API Gateway does");
                Err(GatewayError::AuthorizerFailure)
            }
        }
    }

    /// The REST API proxy event (payload 1.0) API Gateway would send.
    #[allow(clippy::too_many_arguments)]
    fn proxy_event(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
        route: &Route,
        authorization: &Authorization,
        latency_ms: u64,
        peer: Option<SocketAddr>,
        request_id: &str,
    ) -> ApiGatewayProxyRequest {
        let resource = route.path.replace('*', "{id}");
        let mut headers = headers.clone();
        // lambda_http builds a URL from the Host header and would panic on a
        // malformed one; API Gateway's Host is always its own domain anyway.
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| is_plain_host(h))
            .unwrap_or(&self.host)
            .to_owned();
        if let Ok(v) = HeaderValue::from_str(&host) {
            headers.insert(header::HOST, v);
        }
        let source_ip = peer.map_or_else(|| "127.0.0.1".to_owned(), |p| p.ip().to_string());
        if let Ok(v) = HeaderValue::from_str(&source_ip) {
            headers.insert("x-forwarded-for", v);
        }
        headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));

        let mut ctx = ApiGatewayProxyRequestContext::default();
        ctx.account_id = Some(LOCAL_ACCOUNT_ID.to_owned());
        ctx.resource_id = Some("local".to_owned());
        ctx.stage = Some(self.stage.clone());
        ctx.domain_name = Some(host);
        ctx.domain_prefix = Some(self.api_id.clone());
        ctx.request_id = Some(request_id.to_owned());
        ctx.protocol = Some("HTTP/1.1".to_owned());
        ctx.identity.source_ip = Some(source_ip);
        ctx.identity.user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        ctx.resource_path = Some(resource.clone());
        ctx.path = Some(format!("/{}{}", self.stage, path));
        ctx.http_method = method.clone();
        ctx.request_time_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or_default();
        ctx.apiid = Some(self.api_id.clone());
        let mut fields = authorization.fields.clone();
        fields.insert("integrationLatency".to_owned(), Value::from(latency_ms));
        ctx.authorizer.fields = fields;

        let mut multi: HashMap<String, Vec<String>> = HashMap::new();
        let mut single: HashMap<String, String> = HashMap::new();
        for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            multi
                .entry(k.clone().into_owned())
                .or_default()
                .push(v.clone().into_owned());
            // API Gateway's single-value map keeps the last value.
            single.insert(k.into_owned(), v.into_owned());
        }

        let mut event = ApiGatewayProxyRequest::default();
        event.resource = Some(resource);
        event.path = Some(path.to_owned());
        event.http_method = method.clone();
        event.headers = headers;
        event.query_string_parameters = QueryMap::from(single);
        event.multi_value_query_string_parameters = QueryMap::from(multi);
        if route.path.contains('*') {
            let id = path.rsplit('/').next().unwrap_or_default().to_owned();
            event.path_parameters = HashMap::from([("id".to_owned(), id)]);
        }
        event.request_context = ctx;
        if !body.is_empty() {
            match std::str::from_utf8(body) {
                Ok(text) => event.body = Some(text.to_owned()),
                Err(_) => {
                    event.body = Some(STANDARD.encode(body));
                    event.is_base64_encoded = true;
                }
            }
        }
        event
    }
}

/// A Lambda invocation's ids: a fresh Lambda request id, and the gateway's
/// own request id as API Gateway passes it on.
fn invocation(api_request_id: &str) -> Invocation {
    Invocation {
        request_id: uuid::Uuid::now_v7().to_string(),
        api_request_id: Some(api_request_id.to_owned()),
        trace_id: None,
    }
}

/// `host` or `host:port` with a plain DNS name or IPv4 address, which the
/// URL parser lambda_http uses reads too: it takes a name whose last label
/// is numeric for an IPv4 address, so `127.d0.0.1` or `4294967296` would
/// make it panic (found by the local_http fuzz target).
fn is_plain_host(h: &str) -> bool {
    let (name, port) = match h.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (h, None),
    };
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && port.is_none_or(|p| p.parse::<u16>().is_ok())
        && reqwest::Url::parse(&format!("http://{h}/")).is_ok()
}

/// The api's response as an HTTP response (API Gateway passes a proxy
/// integration's status, headers and body through).
fn into_http(response: Response<lambda_http::Body>) -> Response<Body> {
    let (parts, body) = response.into_parts();
    let body = match body {
        lambda_http::Body::Empty => Body::empty(),
        lambda_http::Body::Text(t) => Body::from(t),
        lambda_http::Body::Binary(b) => Body::from(b),
        _ => Body::empty(),
    };
    Response::from_parts(parts, body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use policies::{
        AuthContext, Effect, Owner, PermissionSet, PolicyDocument, Principal, Statement,
    };

    #[test]
    fn the_context_reaches_the_api_as_strings_with_the_principal() {
        let response = AuthorizerResponse {
            principal_id: "partner:acme".into(),
            policy_document: PolicyDocument {
                version: policies::POLICY_VERSION.into(),
                statement: vec![Statement {
                    sid: None,
                    action: vec![INVOKE_ACTION.into()],
                    effect: Effect::Allow,
                    resource: vec![
                        "arn:aws:execute-api:us-east-1:123456789012:a/s/GET/items".into(),
                    ],
                }],
            },
            context: AuthContext {
                principal: Principal::Partner {
                    owner: Owner::partner("acme").unwrap(),
                    key_id: None,
                },
                permissions: "items:read"
                    .parse::<policies::Permission>()
                    .map(PermissionSet::only)
                    .unwrap(),
                expires_at: Some(1_800_000_000),
            },
            usage_identifier_key: Some("k".repeat(20)),
        };
        let a = Authorization::new(response);
        assert_eq!(a.fields["principalId"], "partner:acme");
        assert_eq!(a.fields["owner"], "partner:acme");
        assert_eq!(a.fields["authType"], "apiKey");
        assert_eq!(a.fields["partner"], "acme");
        assert_eq!(a.fields["expiresAt"], "1800000000");
        assert!(!a.fields.contains_key("sub"));
        assert!(a.fields.values().all(Value::is_string));
    }

    struct NeverCalled;

    impl Authorize for NeverCalled {
        fn authorize(
            &self,
            _event: AuthorizerEvent,
        ) -> BoxFuture<'_, Result<AuthorizerResponse, HandlerError>> {
            Box::pin(async { Err(HandlerError::Internal) })
        }
    }

    #[test]
    fn the_api_gets_the_rest_proxy_event_api_gateway_would_send() {
        use lambda_http::RequestExt;
        use lambda_http::request::RequestContext;

        let config = StackConfig::default();
        let codec = api::cursor::CursorCodec::new(&[7u8; 32]).unwrap();
        let app = App::new(Store::Memory(api::store::MemoryStore::default()), codec);
        let gateway = Gateway::new(
            &config,
            "127.0.0.1:3000".parse().unwrap(),
            Arc::new(NeverCalled),
            app,
        )
        .unwrap();
        let authorization = Authorization::new(AuthorizerResponse {
            principal_id: "user:alice".into(),
            policy_document: PolicyDocument {
                version: policies::POLICY_VERSION.into(),
                statement: vec![],
            },
            context: AuthContext {
                principal: Principal::User {
                    owner: Owner::user("alice").unwrap(),
                    username: None,
                    client_id: None,
                    scopes: vec![],
                    groups: vec![],
                },
                permissions: PermissionSet::only(policies::Permission::ItemsRead),
                expires_at: None,
            },
            usage_identifier_key: None,
        });
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("localhost:3000"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        let route = policies::ROUTES
            .iter()
            .find(|r| r.method == "GET" && r.path == "/items/*")
            .unwrap();
        let event = gateway.proxy_event(
            &Method::GET,
            "/items/abc",
            Some("a=1&a=2&b=x%20y"),
            &headers,
            b"",
            route,
            &authorization,
            7,
            None,
            "req-1",
        );
        assert_eq!(event.resource.as_deref(), Some("/items/{id}"));
        assert_eq!(event.path_parameters["id"], "abc");
        assert_eq!(
            event.request_context.path.as_deref(),
            Some("/local/items/abc")
        );
        assert_eq!(event.request_context.apiid.as_deref(), Some("localapi01"));

        let request: lambda_http::Request = LambdaRequest::ApiGatewayV1(event).into();
        assert_eq!(request.raw_http_path(), "/items/abc");
        // API Gateway's REST URI puts the stage before the path.
        let uri = request.uri().to_string();
        assert!(
            uri.starts_with("http://localhost:3000/local/items/abc?"),
            "{uri}"
        );
        let query = request.query_string_parameters();
        assert_eq!(query.all("a"), Some(vec!["1", "2"]));
        assert_eq!(query.first("b"), Some("x y"));
        let Some(RequestContext::ApiGatewayV1(ctx)) = request.request_context_ref() else {
            panic!("not a REST API request");
        };
        let fields = &ctx.authorizer.fields;
        assert_eq!(fields["principalId"], "user:alice");
        assert_eq!(fields["owner"], "user:alice");
        assert_eq!(fields["permissions"], "items:read");
        assert_eq!(fields["integrationLatency"], 7);
        assert_eq!(ctx.request_id.as_deref(), Some("req-1"));
    }

    #[test]
    fn only_plain_hosts_are_passed_on() {
        assert!(is_plain_host("127.0.0.1:3000"));
        assert!(is_plain_host("localhost"));
        assert!(!is_plain_host("a b"));
        assert!(!is_plain_host("x:99999"));
        assert!(!is_plain_host("[::1]:3000"));
        assert!(!is_plain_host(""));
        for numeric_last_label in ["127.d0.0.1", "4294967296", "1.2.3.256"] {
            assert!(!is_plain_host(numeric_last_label), "{numeric_last_label}");
        }
        assert!(is_plain_host("12"));
    }
}
