//! Whole requests: a REST API proxy event into the api's handler, and raw
//! bytes into the local stack's HTTP server.

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;

use api::App;
use api::cursor::CursorCodec;
use api::etag::etag;
use api::item::ItemInput;
use api::store::MemoryStore;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{StatusCode, header};
use lambda_http::{Body, Response};
use policies::Owner;
use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

/// The REST API event every `api_request` input is written into.
const EVENT: &str = include_str!("../../api/tests/fixtures/rest-get-items.json");

/// Headers API Gateway sets itself; an input cannot choose them.
const GATEWAY_HEADERS: &[&str] = &[
    "host",
    "x-forwarded-proto",
    "x-forwarded-for",
    "x-forwarded-port",
];

/// The pseudo-header that replaces `requestContext.authorizer` with its
/// (JSON object) value.
pub const AUTHORIZER_HEADER: &str = "x-fuzz-authorizer";

static CODEC: LazyLock<CursorCodec> =
    LazyLock::new(|| CursorCodec::new(crate::CURSOR_KEY).unwrap());

static CURRENT_THREAD: LazyLock<Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
});

/// A request written as text, HTTP-like, so that seeds are readable and
/// libFuzzer's mutations stay meaningful:
///
/// ```text
/// METHOD /path?query
/// Name: value
/// ...
///
/// body
/// ```
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TextRequest {
    /// The method token.
    pub method: String,
    /// The path (always starting with `/`, as API Gateway's).
    pub path: String,
    /// The raw query string (decoded as API Gateway does).
    pub query: String,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl TextRequest {
    /// Reads the text form; `None` when the head is not UTF-8.
    pub fn parse(data: &[u8]) -> Option<Self> {
        let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
            Some(i) => (&data[..i], &data[i + 2..]),
            None => (data, &b""[..]),
        };
        let head = std::str::from_utf8(head).ok()?;
        let mut lines = head.lines();
        let first = lines.next().unwrap_or_default();
        let (method, target) = first.split_once(' ').unwrap_or((first, "/items"));
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Some(TextRequest {
            method: method.to_owned(),
            path,
            query: query.to_owned(),
            headers,
            body: body.to_vec(),
        })
    }

    /// The REST API proxy event (payload 1.0) API Gateway would send for it.
    fn event(&self) -> Value {
        let mut event: Value = serde_json::from_str(EVENT).unwrap();
        let mut headers: Map<String, Value> = Map::new();
        let mut multi_headers: Map<String, Value> = Map::new();
        for (k, v) in event["headers"].as_object().unwrap() {
            if GATEWAY_HEADERS.contains(&k.to_ascii_lowercase().as_str()) {
                headers.insert(k.clone(), v.clone());
                multi_headers.insert(k.clone(), Value::from(vec![v.clone()]));
            }
        }
        for (k, v) in &self.headers {
            let lower = k.to_ascii_lowercase();
            if lower == AUTHORIZER_HEADER {
                if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(v) {
                    event["requestContext"]["authorizer"] = Value::Object(fields);
                }
                continue;
            }
            if GATEWAY_HEADERS.contains(&lower.as_str()) {
                continue;
            }
            headers.insert(k.clone(), Value::from(v.as_str()));
            match multi_headers.get_mut(k).and_then(Value::as_array_mut) {
                Some(values) => values.push(Value::from(v.as_str())),
                None => {
                    multi_headers.insert(k.clone(), Value::from(vec![v.as_str()]));
                }
            }
        }
        let mut query: Map<String, Value> = Map::new();
        let mut multi_query: Map<String, Value> = Map::new();
        for (k, v) in form_urlencoded::parse(self.query.as_bytes()) {
            query.insert(k.to_string(), Value::from(v.as_ref()));
            match multi_query
                .get_mut(k.as_ref())
                .and_then(Value::as_array_mut)
            {
                Some(values) => values.push(Value::from(v.as_ref())),
                None => {
                    multi_query.insert(k.to_string(), Value::from(vec![v.as_ref()]));
                }
            }
        }
        let (body, base64) = if self.body.is_empty() {
            (Value::Null, false)
        } else {
            match std::str::from_utf8(&self.body) {
                Ok(text) => (Value::from(text), false),
                Err(_) => (Value::from(STANDARD.encode(&self.body)), true),
            }
        };
        event["httpMethod"] = Value::from(self.method.as_str());
        event["requestContext"]["httpMethod"] = Value::from(self.method.as_str());
        event["path"] = Value::from(self.path.as_str());
        event["requestContext"]["path"] = Value::from(format!("/prod{}", self.path));
        event["headers"] = Value::Object(headers);
        event["multiValueHeaders"] = Value::Object(multi_headers);
        let (query, multi_query) = if query.is_empty() {
            (Value::Null, Value::Null)
        } else {
            (Value::Object(query), Value::Object(multi_query))
        };
        event["queryStringParameters"] = query;
        event["multiValueQueryStringParameters"] = multi_query;
        event["body"] = body;
        event["isBase64Encoded"] = Value::from(base64);
        event
    }
}

fn replace_all(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while let Some(i) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(to);
        rest = &rest[i + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// What every api answer must be: never a 5xx (the memory store does not
/// fail); a 4xx is an `application/problem+json` document with its status;
/// a success is JSON (an item with its `ETag`) or a bare 204.
pub fn check_api_response(response: &Response<Body>) {
    let status = response.status();
    let headers = response.headers();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let body: &[u8] = response.body().as_ref();
    assert!(
        !status.is_server_error(),
        "{status}: {}",
        String::from_utf8_lossy(body)
    );
    if status.is_client_error() {
        assert_eq!(content_type, Some("application/problem+json"));
        let problem: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(problem["status"], status.as_u16());
        assert!(problem["title"].is_string() && problem["detail"].is_string());
        if status == StatusCode::UNAUTHORIZED {
            assert!(headers.contains_key(header::WWW_AUTHENTICATE));
        }
        if status == StatusCode::METHOD_NOT_ALLOWED {
            assert!(headers.contains_key(header::ALLOW));
        }
        return;
    }
    assert!(status.is_success(), "{status}");
    if status == StatusCode::NO_CONTENT {
        assert!(body.is_empty());
        return;
    }
    assert_eq!(content_type, Some("application/json"));
    let document: Value = serde_json::from_slice(body).unwrap();
    if let Some(version) = document.get("version").and_then(Value::as_u64) {
        let tag = headers.get(header::ETAG).and_then(|v| v.to_str().ok());
        assert_eq!(tag, Some(etag(version).as_str()));
    }
    if status == StatusCode::CREATED {
        let id = document["id"].as_str().unwrap();
        let location = headers.get(header::LOCATION).and_then(|v| v.to_str().ok());
        assert_eq!(location, Some(format!("items/{id}").as_str()));
    }
}

/// Target `api_request`: a [`TextRequest`] written into the REST API event
/// of `api/tests/fixtures/rest-get-items.json` (identity: that event's
/// authorizer context unless an `x-fuzz-authorizer` line replaces it) and
/// served by `api::App::handle` over a fresh `MemoryStore` that holds two
/// items; `{id}` in the input stands for the first item's id, `{cursor}` for
/// a cursor after it. Every answer passes [`check_api_response`].
pub fn api_request(data: &[u8]) {
    CURRENT_THREAD.block_on(async {
        let app = App::new(MemoryStore::default(), CODEC.clone());
        let owner: Owner = crate::OWNER.parse().unwrap();
        let input = ItemInput {
            name: "milk".into(),
            description: Some("2 litres".into()),
            tags: vec!["shopping".into()],
        };
        let first = app
            .service()
            .create(&owner, input.clone(), None)
            .await
            .unwrap()
            .item;
        app.service().create(&owner, input, None).await.unwrap();
        let id = api::item::ItemId::parse(&first.id).unwrap();
        let data = replace_all(data, b"{id}", first.id.as_bytes());
        let data = replace_all(
            &data,
            b"{cursor}",
            CODEC.encode(owner.as_str(), &id).as_bytes(),
        );
        let Some(request) = TextRequest::parse(&data) else {
            return;
        };
        let event = request.event().to_string();
        // Methods and header names or values HTTP itself refuses never reach
        // a Lambda.
        let Ok(request) = lambda_http::request::from_str(&event) else {
            return;
        };
        let response = app.handle(request).await;
        check_api_response(&response);
    });
}

/// The local stack, started once per process.
struct LocalStack {
    runtime: Runtime,
    stack: local::server::Stack,
    alice: Vec<u8>,
    partner: Vec<u8>,
}

static LOCAL: LazyLock<LocalStack> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = local::config::StackConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        cursor_key: Some(String::from_utf8(crate::CURSOR_KEY.to_vec()).unwrap()),
        ..local::config::StackConfig::default()
    };
    let stack = runtime
        .block_on(local::server::Stack::start(config))
        .unwrap();
    let alice = format!(
        "Bearer {}",
        stack.mint("alice", &[], None).unwrap().unwrap()
    );
    let partner = format!("ApiKey {}", stack.partner_key().unwrap());
    LocalStack {
        runtime,
        stack,
        alice: alice.into_bytes(),
        partner: partner.into_bytes(),
    }
});

/// The peer every in-memory connection comes from.
const PEER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);

/// How long one connection may take before the harness calls it a hang.
const CONNECTION_LIMIT: Duration = Duration::from_secs(5);

/// Target `local_http`: raw bytes as one client connection to the local
/// stack's HTTP server (`local::listen::connection`, the stack's own
/// router, hyper's HTTP/1.1 parser, then the gateway emulation, the real
/// authorizer and the real api). `$ALICE` in the input stands for a valid
/// `Bearer` token of the stack's development identity provider, `$PARTNER`
/// for `ApiKey <the development partner key>`.
///
/// The server answers every connection within [`CONNECTION_LIMIT`]; what it
/// writes back is empty or starts with an HTTP/1.x status line, never a 5xx.
pub fn local_http(data: &[u8]) {
    let local = &*LOCAL;
    let data = replace_all(data, b"$ALICE", &local.alice);
    let data = replace_all(&data, b"$PARTNER", &local.partner);
    let router = local.stack.router();
    let answer = local.runtime.block_on(async move {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let http = local::listen::http1(local::listen::HEADER_READ_TIMEOUT);
        let connection = tokio::spawn(local::listen::connection(&http, server, PEER, router));
        let (mut reader, mut writer) = tokio::io::split(client);
        let write = async move {
            // The server may close first (a bad request): not an error here.
            let _ = writer.write_all(&data).await;
            let _ = writer.shutdown().await;
        };
        let read = async move {
            let mut answer = Vec::new();
            let _ = reader.read_to_end(&mut answer).await;
            answer
        };
        let both = async { tokio::join!(write, read).1 };
        let answer = tokio::time::timeout(CONNECTION_LIMIT, both)
            .await
            .expect("the server neither answered nor closed the connection");
        let _ = connection.await;
        answer
    });
    if answer.is_empty() {
        return;
    }
    let line_end = answer
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("an answer without a status line");
    let line = std::str::from_utf8(&answer[..line_end]).unwrap();
    // hyper answers an HTTP/1.0 request in HTTP/1.0.
    let status = line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| line.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("not a status line: {line:?}"));
    assert!(
        (100..500).contains(&status),
        "{line}\n{}",
        String::from_utf8_lossy(&answer)
    );
}
