//! One GET and one POST through the whole handler: the API Gateway REST
//! event (JSON text) in, the `http::Response` out, with the in-memory store.
//! Target: under 20 µs each (issue 4). After criterion's own report this
//! prints the mean next to the target.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failed setup should stop the bench

use std::hint::black_box;
use std::time::{Duration, Instant};

use api::App;
use api::cursor::CursorCodec;
use api::item::{ItemId, ItemInput};
use api::store::MemoryStore;
use criterion::{Criterion, criterion_group};
use serde_json::{Value, json};

const TARGET: Duration = Duration::from_micros(20);
/// The fixture's caller.
const SUB: &str = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f";

fn event(method: &str, path: &str, body: Option<&str>) -> String {
    let mut e: Value =
        serde_json::from_str(include_str!("../tests/fixtures/rest-get-items.json")).unwrap();
    e["httpMethod"] = json!(method);
    e["path"] = json!(path);
    e["queryStringParameters"] = Value::Null;
    e["multiValueQueryStringParameters"] = Value::Null;
    if let Some(b) = body {
        e["body"] = json!(b);
        e["headers"]["Content-Type"] = json!("application/json");
        e["multiValueHeaders"]["Content-Type"] = json!(["application/json"]);
    }
    e.to_string()
}

struct Setup {
    rt: tokio::runtime::Runtime,
    app: App<MemoryStore>,
    get: String,
    post: String,
}

fn setup() -> Setup {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let codec = CursorCodec::new(b"benchmark-cursor-key-of-32-bytes!!").unwrap();
    let app = App::new(MemoryStore::default(), codec);
    let input = ItemInput::from_json(json!({
        "name": "Invoice 42", "description": "Q4 hardware", "tags": ["billing", "2026"]
    }))
    .unwrap();
    let owner = policies::Owner::user(SUB).unwrap();
    let created = rt
        .block_on(app.service().create(&owner, input, None))
        .unwrap();
    let id = ItemId::parse(&created.item.id).unwrap();
    let get = event("GET", &format!("/items/{id}"), None);
    let post = event(
        "POST",
        "/items",
        Some(r#"{"name":"Invoice 43","description":"Q1 software","tags":["billing","2027"]}"#),
    );
    Setup { rt, app, get, post }
}

fn once(s: &Setup, event: &str, want: u16) {
    let request = lambda_http::request::from_str(black_box(event)).unwrap();
    let response = s.rt.block_on(s.app.handle(request));
    assert_eq!(response.status().as_u16(), want);
    black_box(response);
}

fn bench(c: &mut Criterion) {
    let s = setup();
    c.bench_function("handler GET /items/{id}", |b| {
        b.iter(|| once(&s, &s.get, 200))
    });
    c.bench_function("handler POST /items", |b| b.iter(|| once(&s, &s.post, 201)));
}

/// The mean over a plain timed loop, printed against the target.
fn summary() {
    let s = setup();
    for (name, event, want) in [
        ("GET /items/{id}", &s.get, 200),
        ("POST /items", &s.post, 201),
    ] {
        for _ in 0..1_000 {
            once(&s, event, want);
        }
        let n = 20_000u32;
        let start = Instant::now();
        for _ in 0..n {
            once(&s, event, want);
        }
        let mean = start.elapsed() / n;
        let verdict = if mean < TARGET { "under" } else { "OVER" };
        println!("{name}: {mean:.2?} per request ({verdict} the {TARGET:?} target)");
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
    summary();
}
