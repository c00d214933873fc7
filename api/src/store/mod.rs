//! Item storage behind one narrow trait, with a DynamoDB implementation and
//! an in-memory one that keeps the same semantics: conditional writes,
//! pagination order and idempotency records.
//!
//! Layout (the contract's): items at `pk = OWNER#<owner>`, `sk = ITEM#<id>`;
//! idempotency records in the same partition at `sk = IDEM#<key>`, so one
//! owner can never see or collide with another's keys.

mod dynamodb;
mod memory;

use policies::Owner;
use std::future::Future;
use std::sync::Arc;

pub use dynamodb::DynamoDbStore;
pub use memory::MemoryStore;

use crate::item::{Item, ItemId};

/// A boxed error from a storage backend, kept as the source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How long an idempotency record is honoured: 24 hours.
pub const IDEMPOTENCY_TTL_SECONDS: u64 = 24 * 60 * 60;

/// The first outcome of a `POST /items` made with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// The client's key.
    pub key: String,
    /// [`crate::item::ItemInput::fingerprint`] of the request that created it.
    pub fingerprint: String,
    /// The item as it was created: a retry gets exactly the first response.
    pub item: Item,
    /// Epoch seconds after which the record no longer counts (and DynamoDB's
    /// TTL may delete it).
    pub expires_at: u64,
}

/// One page of an owner's items, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// At most the requested number of items.
    pub items: Vec<Item>,
    /// Whether items follow the last one of this page.
    pub more: bool,
}

/// What can go wrong in storage; the conditional outcomes are variants so the
/// service can turn them into 404, 412 or 409.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The item does not exist (in this owner's partition).
    #[error("no such item")]
    NotFound,
    /// The item exists at another version than the write expected.
    #[error("the item is at version {actual}, the write expected {expected}")]
    VersionMismatch {
        /// The version the write was conditional on.
        expected: u64,
        /// The version found.
        actual: u64,
    },
    /// A create found an item with its id already there.
    #[error("an item with this id already exists")]
    AlreadyExists,
    /// A live idempotency record already holds this key; here it is.
    #[error("the idempotency key is already used")]
    IdempotencyKeyUsed(Box<IdempotencyRecord>),
    /// Another request with the same idempotency key is being written now.
    #[error("another request with this idempotency key is in progress")]
    IdempotencyKeyInFlight,
    /// The backend throttled the request; retrying later helps.
    #[error("the table throttled the request")]
    Throttled(#[source] BoxError),
    /// The backend is unavailable or did not answer in time.
    #[error("the table is unavailable")]
    Unavailable(#[source] BoxError),
    /// A stored record does not have the shape this service writes.
    #[error("a stored record is malformed: {0}")]
    Corrupt(String),
    /// Any other backend failure.
    #[error("the table request failed")]
    Backend(#[source] BoxError),
}

/// An owner's items. Every method is scoped to one owner's partition.
///
/// Futures are `Send` so a store can sit behind `lambda_http::run`.
pub trait ItemStore: Send + Sync {
    /// Stores a new item, only if its id is free. With `idempotency`, also
    /// stores the record, atomically with the item and only if no live record
    /// (`expires_at > now`) holds the key; otherwise fails with
    /// [`StoreError::IdempotencyKeyUsed`] carrying the live record, and writes
    /// nothing.
    fn create(
        &self,
        owner: &Owner,
        item: &Item,
        idempotency: Option<&IdempotencyRecord>,
        now: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The item with `id`, read strongly consistently.
    fn get(
        &self,
        owner: &Owner,
        id: &ItemId,
    ) -> impl Future<Output = Result<Option<Item>, StoreError>> + Send;

    /// Up to `limit` items in id order (creation order), starting after
    /// `after`.
    fn list(
        &self,
        owner: &Owner,
        limit: usize,
        after: Option<&ItemId>,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;

    /// Replaces the item with `item` (whose version is the next one) only if
    /// the stored one is at `expected_version`.
    fn replace(
        &self,
        owner: &Owner,
        item: &Item,
        expected_version: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the item, only if it exists and, with `expected_version`, is at
    /// that version.
    fn delete(
        &self,
        owner: &Owner,
        id: &ItemId,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A shared store is a store: several handler instances over the same data
/// (tests of racing writers, a local server with many connections).
impl<T: ItemStore> ItemStore for Arc<T> {
    fn create(
        &self,
        owner: &Owner,
        item: &Item,
        idempotency: Option<&IdempotencyRecord>,
        now: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).create(owner, item, idempotency, now)
    }

    fn get(
        &self,
        owner: &Owner,
        id: &ItemId,
    ) -> impl Future<Output = Result<Option<Item>, StoreError>> + Send {
        (**self).get(owner, id)
    }

    fn list(
        &self,
        owner: &Owner,
        limit: usize,
        after: Option<&ItemId>,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send {
        (**self).list(owner, limit, after)
    }

    fn replace(
        &self,
        owner: &Owner,
        item: &Item,
        expected_version: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).replace(owner, item, expected_version)
    }

    fn delete(
        &self,
        owner: &Owner,
        id: &ItemId,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).delete(owner, id, expected_version)
    }
}
