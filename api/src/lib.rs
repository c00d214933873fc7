//! The CRUD Lambda: each principal's items, stored in DynamoDB and reachable
//! only through the authorizer.
//!
//! A request goes through [`handler::App::handle`] in a fixed order:
//! identity from the authorizer context ([`identity`]), route and permission
//! re-check (the route table of [`policies`]), input decoding and validation
//! ([`item`], [`etag`], [`cursor`]), the core operation ([`service`]) against an
//! [`store::ItemStore`], and finally one mapping of every error to an
//! `application/problem+json` response ([`problem`]).
//!
//! Storage sits behind the [`store::ItemStore`] trait with two implementations
//! that keep the same semantics (conditions, pagination, idempotency):
//! [`store::DynamoDbStore`] for production and [`store::MemoryStore`] for tests
//! and local runs.
//!
//! ```
//! use api::{cursor::CursorCodec, handler::App, store::MemoryStore};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let codec = CursorCodec::new(b"an example key of at least 32 bytes!")?;
//! let app = App::new(MemoryStore::default(), codec);
//! let event = include_str!("../tests/fixtures/rest-post-item.json");
//! let response = app.handle(lambda_http::request::from_str(event)?).await;
//! assert_eq!(response.status(), 201);
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod cors;
pub mod cursor;
pub mod etag;
pub mod handler;
pub mod identity;
pub mod item;
pub mod metrics;
pub mod patch;
pub mod problem;
pub mod service;
pub mod store;
pub mod timestamp;

pub use handler::App;
