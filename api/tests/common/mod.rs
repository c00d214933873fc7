//! Helpers shared by the integration tests: API Gateway events built from
//! the JSON fixtures, responses decoded for assertions, and the behaviour
//! suite every store must pass.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod suite;

use api::App;
use api::cursor::CursorCodec;
use api::store::ItemStore;
use http::HeaderMap;
use lambda_http::Request;
use serde_json::{Value, json};

pub const REST_GET_ITEMS: &str = include_str!("../fixtures/rest-get-items.json");
pub const REST_POST_ITEM: &str = include_str!("../fixtures/rest-post-item.json");
pub const REST_NO_AUTHORIZER: &str = include_str!("../fixtures/rest-no-authorizer.json");
pub const HTTP_V2_GET_ITEM: &str = include_str!("../fixtures/http-v2-get-item.json");

pub const CURSOR_KEY: &[u8] = b"integration-test-cursor-key-32-bytes!!";
pub const ALL: &str = "items:read items:write items:delete";

pub fn codec() -> CursorCodec {
    CursorCodec::new(CURSOR_KEY).unwrap()
}

/// An owner name no other test uses, so tests can share one table.
pub fn unique_owner(label: &str) -> String {
    format!("{label}-{}", uuid::Uuid::now_v7().simple())
}

/// A REST API (payload 1.0) proxy request, built from the GET fixture.
#[derive(Debug, Clone)]
pub struct Call {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<String>,
    context: Option<Value>,
}

pub fn call(method: &str, path: &str) -> Call {
    Call {
        method: method.into(),
        path: path.into(),
        query: Vec::new(),
        headers: Vec::new(),
        body: None,
        context: None,
    }
}

impl Call {
    /// The authorizer context of the user `sub` with `permissions`, as the
    /// authorizer writes it (owner `user:<sub>`).
    pub fn by(mut self, sub: &str, permissions: &str) -> Self {
        let owner = format!("user:{sub}");
        self.context = Some(json!({
            "principalId": owner, "owner": owner, "authType": "jwt",
            "permissions": permissions, "sub": sub
        }));
        self
    }

    /// A raw authorizer context.
    pub fn context(mut self, ctx: Value) -> Self {
        self.context = Some(ctx);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json(self, body: Value) -> Self {
        self.header("Content-Type", "application/json")
            .raw_body(&body.to_string())
    }

    pub fn raw_body(mut self, body: &str) -> Self {
        self.body = Some(body.into());
        self
    }

    /// The event as API Gateway would send it.
    pub fn event(&self) -> Value {
        let mut e: Value = serde_json::from_str(REST_GET_ITEMS).unwrap();
        e["httpMethod"] = json!(self.method);
        e["path"] = json!(self.path);
        let resource = if self.path.matches('/').count() > 1 {
            "/items/{id}"
        } else {
            "/items"
        };
        e["resource"] = json!(resource);
        e["requestContext"]["resourcePath"] = json!(resource);
        e["requestContext"]["httpMethod"] = json!(self.method);
        e["requestContext"]["path"] = json!(format!("/prod{}", self.path));
        let mut headers = serde_json::Map::new();
        let mut multi = serde_json::Map::new();
        headers.insert(
            "Host".into(),
            json!("abc123def4.execute-api.us-east-1.amazonaws.com"),
        );
        multi.insert(
            "Host".into(),
            json!(["abc123def4.execute-api.us-east-1.amazonaws.com"]),
        );
        for (k, v) in &self.headers {
            headers.insert(k.clone(), json!(v));
            multi.insert(k.clone(), json!([v]));
        }
        e["headers"] = Value::Object(headers);
        e["multiValueHeaders"] = Value::Object(multi);
        if self.query.is_empty() {
            e["queryStringParameters"] = Value::Null;
            e["multiValueQueryStringParameters"] = Value::Null;
        } else {
            let single: serde_json::Map<_, _> = self
                .query
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            let multi: serde_json::Map<_, _> = self
                .query
                .iter()
                .map(|(k, v)| (k.clone(), json!([v])))
                .collect();
            e["queryStringParameters"] = Value::Object(single);
            e["multiValueQueryStringParameters"] = Value::Object(multi);
        }
        e["body"] = self.body.as_ref().map_or(Value::Null, |b| json!(b));
        match &self.context {
            Some(ctx) => e["requestContext"]["authorizer"] = ctx.clone(),
            None => {
                e["requestContext"]
                    .as_object_mut()
                    .unwrap()
                    .remove("authorizer");
            }
        }
        e
    }

    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.event().to_string()).unwrap()
    }

    pub async fn send<S: ItemStore>(&self, app: &App<S>) -> Resp {
        send(app, self.request()).await
    }
}

/// A response, decoded.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts a problem+json body with this status and returns it.
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(self.body["status"], status);
        &self.body
    }

    /// The `field` of each per-field error.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["field"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub async fn send<S: ItemStore>(app: &App<S>, request: Request) -> Resp {
    let response = app.handle(request).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes: &[u8] = response.body().as_ref();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(bytes).unwrap()
    };
    Resp {
        status,
        headers,
        body,
    }
}
