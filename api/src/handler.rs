//! The Lambda handler: decode the event, call the [`Service`], map the result.
//!
//! Order matters and is fixed: identity first (nothing is served without
//! one), then the route, then the route's permission (re-checked here even
//! though the authorizer's policy already allowed the call: defence in
//! depth), then path, query, headers and body, and only then the store.
//! Nothing is written unless every check passed.

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use policies::Owner;
use policies::{RouteMatch, match_route};
use serde::Serialize;
use serde_json::{Map, Value};
use std::time::Instant;
use telemetry::{MetricsConfig, Sink};

use crate::cors::Cors;
use crate::cursor::CursorCodec;
use crate::etag::{IfMatch, etag};
use crate::identity;
use crate::item::{Item, ItemId, ItemInput};
use crate::metrics::{RequestLines, Served, StoreOutcome};
use crate::problem::{ApiError, MAX_BODY_BYTES};
use crate::service::Service;
use crate::store::{ItemStore, StoreError};
use crate::timestamp::epoch_seconds;

/// `limit` when the query has none.
pub const DEFAULT_LIMIT: usize = 25;
/// The largest `limit`.
pub const MAX_LIMIT: usize = 100;
/// The longest `Idempotency-Key` accepted.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;

const JSON: &str = "application/json";
/// Set on a create answered from an earlier request's record.
const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
const MERGE_PATCH: &str = "application/merge-patch+json";

/// The handler's state, built once per cold start.
#[derive(Debug)]
pub struct App<S> {
    service: Service<S>,
    cursors: CursorCodec,
    cors: Option<Cors>,
    lines: RequestLines,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListBody<'a> {
    items: &'a [Item],
    next_cursor: Option<String>,
}

impl<S: ItemStore> App<S> {
    /// An app over `store`, authenticating cursors with `cursors`.
    pub fn new(store: S, cursors: CursorCodec) -> Self {
        Self::with_service(Service::new(store), cursors)
    }

    /// An app over a prepared service (tests use a fixed clock).
    pub fn with_service(service: Service<S>, cursors: CursorCodec) -> Self {
        App {
            service,
            cursors,
            cors: None,
            lines: RequestLines::off(),
        }
    }

    /// Writes a line per request (log and metrics) to `sink`.
    pub fn with_metrics(mut self, config: MetricsConfig, sink: Sink) -> Self {
        self.lines = RequestLines::new(config, sink);
        self
    }

    /// Adds CORS headers to every response (`ALLOWED_ORIGIN`).
    pub fn with_cors(mut self, cors: Cors) -> Self {
        self.cors = Some(cors);
        self
    }

    /// The service.
    pub fn service(&self) -> &Service<S> {
        &self.service
    }

    /// Serves one request. Never fails: every error becomes a problem+json
    /// response. Writes the request's line (log and metrics).
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let result = self.serve(&request).await;
        let store = match &result {
            Err(ApiError::Store(StoreError::Throttled(_))) => StoreOutcome::Throttled,
            Err(ApiError::Store(
                StoreError::Unavailable(_)
                | StoreError::Backend(_)
                | StoreError::Corrupt(_)
                | StoreError::AlreadyExists,
            )) => StoreOutcome::Failed,
            _ => StoreOutcome::Fine,
        };
        let mut response = match result {
            Ok(response) => response,
            Err(e) => e.to_response(),
        };
        if let Some(cors) = &self.cors {
            cors.apply(&mut response);
        }
        let route = match match_route(
            request.method().as_str(),
            routing_path(&request, request.request_context_ref()),
        ) {
            RouteMatch::Found(route) => route.label,
            _ => "unmatched",
        };
        let served = Served {
            route,
            status: response.status().as_u16(),
            replayed: response.headers().contains_key(IDEMPOTENT_REPLAYED),
            store,
            latency: started.elapsed(),
        };
        let now_ms = self
            .service
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.lines.write(&served, now_ms);
        response
    }

    async fn serve(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let ctx = req.request_context_ref();
        let identity = identity::caller(ctx).map_err(ApiError::Unauthenticated)?;
        // API Gateway replays a cached authorization for its whole TTL,
        // whatever the credential's own lifetime: the answer must not outlive
        // the credential it was given for.
        let now = epoch_seconds(self.service.now());
        if identity.is_expired_at(now) {
            return Err(ApiError::CredentialExpired);
        }
        let owner = identity.owner();

        let path = routing_path(req, ctx);
        let route = match match_route(req.method().as_str(), path) {
            RouteMatch::Found(route) => route,
            RouteMatch::MethodNotAllowed(allow) => return Err(ApiError::MethodNotAllowed(allow)),
            RouteMatch::NotFound => return Err(ApiError::RouteNotFound),
        };
        if !identity.permissions.contains(route.permission) {
            return Err(ApiError::Forbidden(route.permission));
        }

        if route.path == "/items" {
            return match *req.method() {
                Method::GET => self.list(req, owner).await,
                Method::POST => self.create(req, owner).await,
                _ => Err(ApiError::RouteNotFound),
            };
        }

        // Every other route is `/items/*`: the id is the last segment.
        let raw_id = path.rsplit('/').next().unwrap_or_default();
        let id = ItemId::parse(raw_id).map_err(ApiError::Validation)?;
        let if_match = header_str(req.headers(), &header::IF_MATCH)?.map(IfMatch::parse);
        let service = &self.service;
        match *req.method() {
            Method::GET => {
                let item = service.get(owner, &id).await?;
                item_response(StatusCode::OK, &item)
            }
            Method::PUT => {
                let input = ItemInput::from_object(json_object(req, BodyKind::Json)?)
                    .map_err(ApiError::Validation)?;
                let item = service
                    .replace(owner, &id, input, if_match.as_ref())
                    .await?;
                item_response(StatusCode::OK, &item)
            }
            Method::PATCH => {
                let patch = json_object(req, BodyKind::MergePatch)?;
                let item = service.patch(owner, &id, patch, if_match.as_ref()).await?;
                item_response(StatusCode::OK, &item)
            }
            Method::DELETE => {
                service.delete(owner, &id, if_match.as_ref()).await?;
                let mut r = Response::new(Body::Empty);
                *r.status_mut() = StatusCode::NO_CONTENT;
                Ok(r)
            }
            // The route table has no other method for `/items/*`.
            _ => Err(ApiError::RouteNotFound),
        }
    }

    async fn list(&self, req: &Request, owner: &Owner) -> Result<Response<Body>, ApiError> {
        let query = req.query_string_parameters_ref();
        let param = |name| query.and_then(|q| q.first(name));
        let limit = match param("limit") {
            None => DEFAULT_LIMIT,
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::field("limit", format!("must be an integer from 1 to {MAX_LIMIT}"))
                })?,
        };
        let after = param("cursor")
            .map(|c| self.cursors.decode(owner.as_str(), c))
            .transpose()
            .map_err(ApiError::InvalidCursor)?;
        let page = self.service.list(owner, limit, after.as_ref()).await?;
        let next_cursor = match page.items.last() {
            Some(last) if page.more => {
                let last = ItemId::parse(&last.id).map_err(|_| {
                    ApiError::Store(crate::store::StoreError::Corrupt(
                        "a stored item id is malformed".into(),
                    ))
                })?;
                Some(self.cursors.encode(owner.as_str(), &last))
            }
            _ => None,
        };
        let body = ListBody {
            items: &page.items,
            next_cursor,
        };
        json_response(StatusCode::OK, &body)
    }

    async fn create(&self, req: &Request, owner: &Owner) -> Result<Response<Body>, ApiError> {
        let key = header_str(req.headers(), "idempotency-key")?;
        if let Some(k) = key
            && (k.is_empty()
                || k.len() > IDEMPOTENCY_KEY_MAX
                || !k.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ApiError::field(
                "Idempotency-Key",
                format!("must be 1-{IDEMPOTENCY_KEY_MAX} visible ASCII characters"),
            ));
        }
        let input = ItemInput::from_object(json_object(req, BodyKind::Json)?)
            .map_err(ApiError::Validation)?;
        let created = self.service.create(owner, input, key).await?;
        let mut response = item_response(StatusCode::CREATED, &created.item)?;
        let headers = response.headers_mut();
        // Relative to the request URI `…/items`, this resolves to the item's
        // URL whatever stage or custom domain path the client used.
        if let Ok(v) = HeaderValue::from_str(&format!("items/{}", created.item.id)) {
            headers.insert(header::LOCATION, v);
        }
        if created.replayed {
            headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
        }
        Ok(response)
    }
}

/// The path to route on. REST API events carry the resource path without the
/// stage; HTTP API events carry the raw path, which starts with the stage
/// unless it is `$default`.
fn routing_path<'a>(req: &'a Request, ctx: Option<&RequestContext>) -> &'a str {
    let path = req.raw_http_path();
    if let Some(RequestContext::ApiGatewayV2(c)) = ctx
        && let Some(stage) = c.stage.as_deref()
        && stage != "$default"
        && let Some(rest) = path.strip_prefix('/').and_then(|p| p.strip_prefix(stage))
        && rest.starts_with('/')
    {
        return rest;
    }
    path
}

/// A header as a string; a value that is not visible ASCII is a 400.
fn header_str(
    headers: &HeaderMap,
    name: impl http::header::AsHeaderName + Copy + std::fmt::Display,
) -> Result<Option<&str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| ApiError::field(&name.to_string(), "must be visible ASCII")),
    }
}

/// What a route accepts as its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    /// `application/json` only.
    Json,
    /// `application/merge-patch+json` or `application/json`.
    MergePatch,
}

/// The body as a JSON object, after the size and media type checks
/// (parameters such as `charset` and the case of the type do not matter).
fn json_object(req: &Request, kind: BodyKind) -> Result<Map<String, Value>, ApiError> {
    let body: &[u8] = req.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let essence = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim());
    let accepted = match essence {
        Some(t) if t.eq_ignore_ascii_case(JSON) => true,
        Some(t) if t.eq_ignore_ascii_case(MERGE_PATCH) => kind == BodyKind::MergePatch,
        _ => false,
    };
    if !accepted {
        return Err(ApiError::UnsupportedMediaType(match kind {
            BodyKind::Json => JSON,
            BodyKind::MergePatch => "application/merge-patch+json or application/json",
        }));
    }
    match serde_json::from_slice(body).map_err(ApiError::InvalidJson)? {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::NotAnObject),
    }
}

fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Result<Response<Body>, ApiError> {
    let text = serde_json::to_string(body).map_err(ApiError::Serialize)?;
    let mut r = Response::new(Body::Text(text));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    Ok(r)
}

fn item_response(status: StatusCode, item: &Item) -> Result<Response<Body>, ApiError> {
    let mut r = json_response(status, item)?;
    if let Ok(v) = HeaderValue::from_str(&etag(item.version)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    Ok(r)
}
