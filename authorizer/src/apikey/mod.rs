//! Partner API keys: the key format, the registry kept in Secrets Manager,
//! its cache, verification, and the operations behind the `partner-keys`
//! operator command.

pub mod admin;
pub mod cache;
pub mod document;
pub mod format;
pub mod registry;
pub mod store;
pub mod verify;
