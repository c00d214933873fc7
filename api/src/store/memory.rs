//! [`MemoryStore`]: the [`ItemStore`] for unit tests and local runs.
//!
//! One mutex over all partitions. Each operation takes the lock once and does
//! its checks and its write under it, which is exactly the atomicity a
//! DynamoDB conditional write (or transaction) gives.

use policies::Owner;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

use super::{IdempotencyRecord, ItemStore, Page, StoreError};
use crate::item::{Item, ItemId};

#[derive(Debug, Default)]
struct Partition {
    /// By id: ids sort by creation time, as the table's sort key does.
    items: BTreeMap<String, Item>,
    idempotency: HashMap<String, IdempotencyRecord>,
}

/// Items in memory, with the semantics of [`super::DynamoDbStore`].
#[derive(Debug, Default)]
pub struct MemoryStore {
    partitions: Mutex<HashMap<String, Partition>>,
}

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Partition>> {
        // A poisoned lock only means another thread panicked mid-test; every
        // write below is a single insert or remove, so the data is whole.
        self.partitions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ItemStore for MemoryStore {
    async fn create(
        &self,
        owner: &Owner,
        item: &Item,
        idempotency: Option<&IdempotencyRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut all = self.lock();
        let part = all.entry(owner.to_string()).or_default();
        if let Some(record) = idempotency
            && let Some(live) = part.idempotency.get(&record.key)
            && live.expires_at > now
        {
            return Err(StoreError::IdempotencyKeyUsed(Box::new(live.clone())));
        }
        if part.items.contains_key(&item.id) {
            return Err(StoreError::AlreadyExists);
        }
        part.items.insert(item.id.clone(), item.clone());
        if let Some(record) = idempotency {
            part.idempotency.insert(record.key.clone(), record.clone());
        }
        Ok(())
    }

    async fn get(&self, owner: &Owner, id: &ItemId) -> Result<Option<Item>, StoreError> {
        Ok(self
            .lock()
            .get(owner.as_str())
            .and_then(|p| p.items.get(id.as_str()))
            .cloned())
    }

    async fn list(
        &self,
        owner: &Owner,
        limit: usize,
        after: Option<&ItemId>,
    ) -> Result<Page, StoreError> {
        let all = self.lock();
        let Some(part) = all.get(owner.as_str()) else {
            return Ok(Page {
                items: Vec::new(),
                more: false,
            });
        };
        let start = match after {
            Some(id) => Bound::Excluded(id.as_str()),
            None => Bound::Unbounded,
        };
        let mut iter = part
            .items
            .range::<str, _>((start, Bound::Unbounded))
            .map(|(_, item)| item);
        let items: Vec<Item> = iter.by_ref().take(limit).cloned().collect();
        let more = iter.next().is_some();
        Ok(Page { items, more })
    }

    async fn replace(
        &self,
        owner: &Owner,
        item: &Item,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let mut all = self.lock();
        let current = all
            .get_mut(owner.as_str())
            .and_then(|p| p.items.get_mut(&item.id))
            .ok_or(StoreError::NotFound)?;
        if current.version != expected_version {
            return Err(StoreError::VersionMismatch {
                expected: expected_version,
                actual: current.version,
            });
        }
        *current = item.clone();
        Ok(())
    }

    async fn delete(
        &self,
        owner: &Owner,
        id: &ItemId,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut all = self.lock();
        let part = all.get_mut(owner.as_str()).ok_or(StoreError::NotFound)?;
        let current = part.items.get(id.as_str()).ok_or(StoreError::NotFound)?;
        if let Some(expected) = expected_version
            && current.version != expected
        {
            return Err(StoreError::VersionMismatch {
                expected,
                actual: current.version,
            });
        }
        part.items.remove(id.as_str());
        Ok(())
    }
}
