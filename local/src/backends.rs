//! The backends behind the stack: the item store (memory or DynamoDB) and
//! the partner key registry (memory with a development key, or Secrets
//! Manager). Real backends go through the AWS SDK's standard environment
//! (`AWS_REGION`, `AWS_ENDPOINT_URL`, credentials), so moto or AWS itself
//! is chosen outside this code.

use std::sync::Arc;

use api::item::{Item, ItemId};
use api::store::{DynamoDbStore, IdempotencyRecord, ItemStore, MemoryStore, Page, StoreError};
use authorizer::apikey::admin::{Admin, AdminError, NewKey};
use authorizer::apikey::store::{MemorySecretStore, SecretStore, SecretsManagerStore};
use policies::PermissionSet;
use time::OffsetDateTime;

use crate::config::{RegistryChoice, StoreChoice};

/// The development partner.
pub const DEV_PARTNER: &str = "acme";
/// The development partner's usage plan key (an API Gateway API key value).
pub const DEV_USAGE_KEY: &str = "local-usage-key-acme-0001";

/// The item store chosen at start.
#[derive(Debug)]
pub enum Store {
    /// In memory.
    Memory(MemoryStore),
    /// A DynamoDB table.
    DynamoDb(DynamoDbStore),
}

impl Store {
    /// The store for `choice`; DynamoDB through the SDK's environment.
    pub async fn open(choice: &StoreChoice) -> Self {
        match choice {
            StoreChoice::Memory => Store::Memory(MemoryStore::default()),
            StoreChoice::DynamoDb { table } => {
                let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                Store::DynamoDb(DynamoDbStore::new(
                    aws_sdk_dynamodb::Client::new(&sdk),
                    table.clone(),
                ))
            }
        }
    }
}

impl ItemStore for Store {
    async fn create(
        &self,
        owner: &policies::Owner,
        item: &Item,
        idempotency: Option<&IdempotencyRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        match self {
            Store::Memory(s) => s.create(owner, item, idempotency, now).await,
            Store::DynamoDb(s) => s.create(owner, item, idempotency, now).await,
        }
    }

    async fn get(&self, owner: &policies::Owner, id: &ItemId) -> Result<Option<Item>, StoreError> {
        match self {
            Store::Memory(s) => s.get(owner, id).await,
            Store::DynamoDb(s) => s.get(owner, id).await,
        }
    }

    async fn list(
        &self,
        owner: &policies::Owner,
        limit: usize,
        after: Option<&ItemId>,
    ) -> Result<Page, StoreError> {
        match self {
            Store::Memory(s) => s.list(owner, limit, after).await,
            Store::DynamoDb(s) => s.list(owner, limit, after).await,
        }
    }

    async fn replace(
        &self,
        owner: &policies::Owner,
        item: &Item,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        match self {
            Store::Memory(s) => s.replace(owner, item, expected_version).await,
            Store::DynamoDb(s) => s.replace(owner, item, expected_version).await,
        }
    }

    async fn delete(
        &self,
        owner: &policies::Owner,
        id: &ItemId,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        match self {
            Store::Memory(s) => s.delete(owner, id, expected_version).await,
            Store::DynamoDb(s) => s.delete(owner, id, expected_version).await,
        }
    }
}

/// The partner key registry chosen at start.
pub struct Registry {
    /// Where the authorizer reads it.
    pub store: Arc<dyn SecretStore>,
    /// The development partner key, shown once at start (embedded registry only).
    pub dev_key: Option<String>,
    /// The secret id the authorizer is configured with.
    pub secret_id: String,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("secret_id", &self.secret_id)
            .field("dev_key", &self.dev_key.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// The registry for `choice`. The embedded one starts empty and gets one
    /// key for [`DEV_PARTNER`] with every permission and [`DEV_USAGE_KEY`],
    /// created through the same `Admin` operations the `partner-keys`
    /// command uses.
    pub async fn open(choice: &RegistryChoice) -> Result<Self, AdminError> {
        match choice {
            RegistryChoice::Development => {
                let store: Arc<dyn SecretStore> = Arc::new(MemorySecretStore::default());
                let admin = Admin::new(Arc::clone(&store));
                admin.init().await?;
                let (key, _record) = admin
                    .create(
                        &NewKey {
                            partner: DEV_PARTNER.into(),
                            permissions: PermissionSet::ALL,
                            usage_key: Some(DEV_USAGE_KEY.into()),
                            expires: None,
                        },
                        OffsetDateTime::now_utc(),
                    )
                    .await?;
                Ok(Registry {
                    store,
                    dev_key: Some(key.expose().to_owned()),
                    secret_id: "local-partner-keys".into(),
                })
            }
            RegistryChoice::SecretsManager { secret_id } => {
                let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                Ok(Registry {
                    store: Arc::new(SecretsManagerStore::new(
                        aws_sdk_secretsmanager::Client::new(&sdk),
                        secret_id.clone(),
                    )),
                    dev_key: None,
                    secret_id: secret_id.clone(),
                })
            }
        }
    }
}
