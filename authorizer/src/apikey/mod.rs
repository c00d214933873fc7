//! Partner API keys: the key format, the registry kept in Secrets Manager,
//! its cache, verification, and the operations behind the `partner-keys`
//! operator command (the registry, the partner's API Gateway key and usage
//! plan, the stack's tiers, and a scanner for leaked keys).

pub mod admin;
pub mod cache;
pub mod document;
pub mod format;
pub mod gateway;
pub mod partners;
pub mod registry;
pub mod scan;
pub mod stack;
pub mod store;
pub mod verify;
