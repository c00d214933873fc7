//! The core operations on one owner's items, independent of HTTP: what each
//! route does once its input is decoded and validated.

use policies::Owner;
use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::etag::IfMatch;
use crate::item::{Item, ItemId, ItemInput};
use crate::patch::merge_object;
use crate::problem::ApiError;
use crate::store::{IDEMPOTENCY_TTL_SECONDS, IdempotencyRecord, ItemStore, Page, StoreError};
use crate::timestamp::{epoch_seconds, format_rfc3339_millis};

/// How many times a write without `If-Match` re-reads and retries after
/// losing a race, before giving up with [`ApiError::EditConflict`].
const UPDATE_ATTEMPTS: usize = 3;

/// The result of a create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The item (for a replay: as it was first created).
    pub item: Item,
    /// Whether this is the stored first outcome of an earlier request with the
    /// same `Idempotency-Key`.
    pub replayed: bool,
}

/// The operations, over a store and a clock.
#[derive(Debug)]
pub struct Service<S> {
    store: S,
    clock: fn() -> SystemTime,
}

impl<S: ItemStore> Service<S> {
    /// A service over `store`, reading the system clock.
    pub fn new(store: S) -> Self {
        Self::with_clock(store, SystemTime::now)
    }

    /// A service over `store` with another clock (tests).
    pub fn with_clock(store: S, clock: fn() -> SystemTime) -> Self {
        Service { store, clock }
    }

    /// The time now, by this service's clock.
    pub fn now(&self) -> SystemTime {
        (self.clock)()
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// `POST /items`.
    pub async fn create(
        &self,
        owner: &Owner,
        input: ItemInput,
        idempotency_key: Option<&str>,
    ) -> Result<Created, ApiError> {
        let now = (self.clock)();
        let now_epoch = epoch_seconds(now);
        let fingerprint = idempotency_key.map(|_| input.fingerprint());
        let item = Item::create(ItemId::generate(), input, format_rfc3339_millis(now));
        let record = match (idempotency_key, fingerprint.as_ref()) {
            (Some(key), Some(fp)) => Some(IdempotencyRecord {
                key: key.to_owned(),
                fingerprint: fp.clone(),
                item: item.clone(),
                expires_at: now_epoch + IDEMPOTENCY_TTL_SECONDS,
            }),
            _ => None,
        };
        match self
            .store
            .create(owner, &item, record.as_ref(), now_epoch)
            .await
        {
            Ok(()) => Ok(Created {
                item,
                replayed: false,
            }),
            // The key was used before: same input is a retry and gets the first
            // outcome; another input is a client error, and nothing is written.
            Err(StoreError::IdempotencyKeyUsed(live)) => {
                if Some(&live.fingerprint) == fingerprint.as_ref() {
                    Ok(Created {
                        item: live.item,
                        replayed: true,
                    })
                } else {
                    Err(ApiError::IdempotencyKeyReused)
                }
            }
            Err(e) => Err(ApiError::Store(e)),
        }
    }

    /// `GET /items/{id}`.
    pub async fn get(&self, owner: &Owner, id: &ItemId) -> Result<Item, ApiError> {
        self.store
            .get(owner, id)
            .await
            .map_err(ApiError::Store)?
            .ok_or(ApiError::NotFound)
    }

    /// `GET /items`.
    pub async fn list(
        &self,
        owner: &Owner,
        limit: usize,
        after: Option<&ItemId>,
    ) -> Result<Page, ApiError> {
        self.store
            .list(owner, limit, after)
            .await
            .map_err(ApiError::Store)
    }

    /// `PUT /items/{id}`: replaces the client-writable fields.
    pub async fn replace(
        &self,
        owner: &Owner,
        id: &ItemId,
        input: ItemInput,
        if_match: Option<&IfMatch>,
    ) -> Result<Item, ApiError> {
        self.update(owner, id, if_match, |_| Ok(input.clone()))
            .await
    }

    /// `PATCH /items/{id}`: applies a JSON merge patch to the client-writable
    /// fields and validates the result as a whole.
    pub async fn patch(
        &self,
        owner: &Owner,
        id: &ItemId,
        patch: Map<String, Value>,
        if_match: Option<&IfMatch>,
    ) -> Result<Item, ApiError> {
        self.update(owner, id, if_match, |current| {
            let mut doc = current.input().to_object();
            merge_object(&mut doc, patch.clone());
            ItemInput::from_object(doc).map_err(ApiError::Validation)
        })
        .await
    }

    /// Read, check the precondition, compute, write conditional on the version
    /// read. The condition makes racing writers safe: of two writers that read
    /// the same version, exactly one write succeeds. The loser gets a 412 if it
    /// asked for a version, else it re-reads and tries again.
    async fn update(
        &self,
        owner: &Owner,
        id: &ItemId,
        if_match: Option<&IfMatch>,
        next_input: impl Fn(&Item) -> Result<ItemInput, ApiError>,
    ) -> Result<Item, ApiError> {
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.get(owner, id).await?;
            if let Some(m) = if_match
                && !m.matches(current.version)
            {
                return Err(ApiError::PreconditionFailed);
            }
            let input = next_input(&current)?;
            let next = current.replaced_with(input, format_rfc3339_millis((self.clock)()));
            match self.store.replace(owner, &next, current.version).await {
                Ok(()) => return Ok(next),
                Err(StoreError::VersionMismatch { .. }) if if_match.is_none() => continue,
                Err(StoreError::VersionMismatch { .. }) => {
                    return Err(ApiError::PreconditionFailed);
                }
                Err(StoreError::NotFound) => return Err(ApiError::NotFound),
                Err(e) => return Err(ApiError::Store(e)),
            }
        }
        Err(ApiError::EditConflict)
    }

    /// `DELETE /items/{id}`.
    pub async fn delete(
        &self,
        owner: &Owner,
        id: &ItemId,
        if_match: Option<&IfMatch>,
    ) -> Result<(), ApiError> {
        let expected = match if_match {
            None | Some(IfMatch::Any) => None,
            // One version: the delete itself carries the condition, no read.
            Some(m) if m.single().is_some() => m.single(),
            // Several (or none usable): find the current version first.
            Some(m) => {
                let current = self.get(owner, id).await?;
                if !m.matches(current.version) {
                    return Err(ApiError::PreconditionFailed);
                }
                Some(current.version)
            }
        };
        match self.store.delete(owner, id, expected).await {
            Ok(()) => Ok(()),
            Err(StoreError::NotFound) => Err(ApiError::NotFound),
            Err(StoreError::VersionMismatch { .. }) => Err(ApiError::PreconditionFailed),
            Err(e) => Err(ApiError::Store(e)),
        }
    }
}
