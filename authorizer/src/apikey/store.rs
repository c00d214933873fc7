//! Where the registry document lives: Secrets Manager in production, memory
//! in tests and the local stack.
//!
//! Writes are compare-and-swap. Secrets Manager has no conditional put, but
//! moving the `AWSCURRENT` label does: `UpdateSecretVersionStage` with
//! `RemoveFromVersionId` fails unless the label is still on that version. So
//! a write stores the new document as a version labelled `AWSPENDING`, then
//! moves `AWSCURRENT` to it from the version it was based on; if another
//! operator got there first, the move fails and nothing became current.

use std::sync::Mutex;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, SdkError};

use crate::BoxFuture;

/// One version of the registry document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    /// The document text.
    pub text: String,
    /// The version it was read from, for compare-and-swap.
    pub version_id: String,
}

/// Why the store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The secret does not exist.
    #[error("the secret does not exist")]
    NotFound,
    /// `init` on a secret that exists.
    #[error("the secret already exists")]
    AlreadyExists,
    /// The document changed since it was read; nothing was written.
    #[error("the registry was changed by someone else since it was read")]
    Conflict,
    /// The secret has no string value.
    #[error("the secret has no SecretString")]
    NoString,
    /// Anything else: access denied, throttling, the service unreachable.
    #[error("Secrets Manager call failed: {0}")]
    Service(String),
}

/// Read and compare-and-swap write of the registry document.
pub trait SecretStore: Send + Sync {
    /// The current document.
    fn read(&self) -> BoxFuture<'_, Result<StoredVersion, StoreError>>;
    /// Makes `text` current if the current version is still `based_on`.
    fn write<'a>(
        &'a self,
        text: String,
        based_on: &'a str,
    ) -> BoxFuture<'a, Result<String, StoreError>>;
    /// Creates the secret with `text`; fails if it exists.
    fn create(&self, text: String) -> BoxFuture<'_, Result<(), StoreError>>;
}

/// The registry in a Secrets Manager secret, through the AWS SDK.
#[derive(Debug, Clone)]
pub struct SecretsManagerStore {
    client: Client,
    secret_id: String,
}

impl SecretsManagerStore {
    /// The secret `secret_id` (name or ARN) through `client`.
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        SecretsManagerStore {
            client,
            secret_id: secret_id.into(),
        }
    }
}

fn service<E: std::error::Error + 'static, R: std::fmt::Debug>(e: SdkError<E, R>) -> StoreError {
    StoreError::Service(DisplayErrorContext(e).to_string())
}

impl SecretStore for SecretsManagerStore {
    fn read(&self) -> BoxFuture<'_, Result<StoredVersion, StoreError>> {
        Box::pin(async move {
            let out = self
                .client
                .get_secret_value()
                .secret_id(&self.secret_id)
                // Asked for explicitly: without it some implementations answer
                // with a stale version after AWSCURRENT moved.
                .version_stage("AWSCURRENT")
                .send()
                .await
                .map_err(|e| match e.as_service_error() {
                    Some(s) if s.is_resource_not_found_exception() => StoreError::NotFound,
                    _ => service(e),
                })?;
            Ok(StoredVersion {
                text: out.secret_string.ok_or(StoreError::NoString)?,
                version_id: out.version_id.unwrap_or_default(),
            })
        })
    }

    fn write<'a>(
        &'a self,
        text: String,
        based_on: &'a str,
    ) -> BoxFuture<'a, Result<String, StoreError>> {
        Box::pin(async move {
            let put = self
                .client
                .put_secret_value()
                .secret_id(&self.secret_id)
                .secret_string(text)
                .version_stages("AWSPENDING")
                .send()
                .await
                .map_err(service)?;
            let new_version = put
                .version_id
                .ok_or(StoreError::Service("no version id in the answer".into()))?;
            self.client
                .update_secret_version_stage()
                .secret_id(&self.secret_id)
                .version_stage("AWSCURRENT")
                .move_to_version_id(&new_version)
                .remove_from_version_id(based_on)
                .send()
                .await
                .map_err(|e| match e.as_service_error() {
                    // The label is no longer on `based_on`: someone else won.
                    Some(s) if s.is_invalid_parameter_exception() => StoreError::Conflict,
                    _ => service(e),
                })?;
            // Tidy up the pending label; harmless if it fails, the next write moves it.
            let _ = self
                .client
                .update_secret_version_stage()
                .secret_id(&self.secret_id)
                .version_stage("AWSPENDING")
                .remove_from_version_id(&new_version)
                .send()
                .await;
            Ok(new_version)
        })
    }

    fn create(&self, text: String) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            self.client
                .create_secret()
                .name(&self.secret_id)
                .description("Partner API key registry: key ids, SHA-256 hashes and permissions. No plain keys.")
                .secret_string(text)
                .send()
                .await
                .map_err(|e| match e.as_service_error() {
                    Some(s) if s.is_resource_exists_exception() => StoreError::AlreadyExists,
                    _ => service(e),
                })?;
            Ok(())
        })
    }
}

/// The registry in memory, with the same compare-and-swap rule.
#[derive(Debug, Default)]
pub struct MemorySecretStore {
    state: Mutex<Option<(String, u64)>>,
}

impl MemorySecretStore {
    /// A store holding `text` (version `1`).
    pub fn with(text: impl Into<String>) -> Self {
        MemorySecretStore {
            state: Mutex::new(Some((text.into(), 1))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(String, u64)>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SecretStore for MemorySecretStore {
    fn read(&self) -> BoxFuture<'_, Result<StoredVersion, StoreError>> {
        let result = match &*self.lock() {
            Some((text, v)) => Ok(StoredVersion {
                text: text.clone(),
                version_id: v.to_string(),
            }),
            None => Err(StoreError::NotFound),
        };
        Box::pin(async move { result })
    }

    fn write<'a>(
        &'a self,
        text: String,
        based_on: &'a str,
    ) -> BoxFuture<'a, Result<String, StoreError>> {
        let mut state = self.lock();
        let result = match &mut *state {
            Some((_, v)) if v.to_string() != based_on => Err(StoreError::Conflict),
            Some((current, v)) => {
                *current = text;
                *v += 1;
                Ok(v.to_string())
            }
            None => Err(StoreError::NotFound),
        };
        Box::pin(async move { result })
    }

    fn create(&self, text: String) -> BoxFuture<'_, Result<(), StoreError>> {
        let mut state = self.lock();
        let result = if state.is_some() {
            Err(StoreError::AlreadyExists)
        } else {
            *state = Some((text, 1));
            Ok(())
        };
        Box::pin(async move { result })
    }
}
