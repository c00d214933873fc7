//! The behaviour suite against [`MemoryStore`], plus the event fixtures and
//! failure mappings that need no table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;

use std::sync::Arc;

use api::store::MemoryStore;
use common::suite::Backend;

struct Memory(Arc<MemoryStore>);

impl Backend for Memory {
    type Store = Arc<MemoryStore>;
    fn store(&self) -> Arc<MemoryStore> {
        Arc::clone(&self.0)
    }
}

behaviour_suite!(Memory(Arc::default()));
