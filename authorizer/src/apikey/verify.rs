//! Verifying a presented partner key, in an order that leaks nothing:
//! shape and checksum (no I/O) → record by id → hash, compared in constant
//! time → disabled → expired. The record's state is only consulted once the
//! caller has shown the whole key.

use std::sync::Arc;

use subtle::ConstantTimeEq;

use crate::apikey::cache::RegistryCache;
use crate::apikey::format::PartnerKey;
use crate::apikey::registry::ActiveRecord;
use crate::reject::Rejection;

/// Verifies partner keys against the registry.
#[derive(Debug)]
pub struct PartnerKeyVerifier {
    cache: Arc<RegistryCache>,
}

impl PartnerKeyVerifier {
    /// A verifier over `cache`.
    pub fn new(cache: Arc<RegistryCache>) -> Self {
        PartnerKeyVerifier { cache }
    }

    /// The registry cache (for the cold-start read).
    pub fn cache(&self) -> &Arc<RegistryCache> {
        &self.cache
    }

    /// Verifies `presented` at `now` (Unix seconds).
    pub async fn verify(&self, presented: &str, now: f64) -> Result<Arc<ActiveRecord>, Rejection> {
        let key = PartnerKey::parse(presented).map_err(Rejection::MalformedApiKey)?;
        let record = self
            .cache
            .lookup(key.id())
            .await
            .map_err(|_| Rejection::RegistryUnavailable)?
            .ok_or_else(|| Rejection::UnknownApiKey {
                key_id: key.id().to_owned(),
            })?;
        check(&record, presented, now)?;
        Ok(record)
    }
}

/// The checks after the lookup: hash, then state.
pub fn check(record: &ActiveRecord, presented: &str, now: f64) -> Result<(), Rejection> {
    let hash = crate::digest::sha256(&[presented.as_bytes()]);
    // Constant time, so response timing says nothing about how much of the
    // hash matched.
    if !bool::from(hash.as_slice().ct_eq(&record.sha256)) {
        return Err(Rejection::ApiKeyMismatch {
            key_id: record.id.clone(),
        });
    }
    if record.disabled {
        return Err(Rejection::DisabledApiKey {
            key_id: record.id.clone(),
        });
    }
    if record.expires_at.is_some_and(|at| now >= at) {
        return Err(Rejection::ExpiredApiKey {
            key_id: record.id.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apikey::format::{GeneratedKey, KeyFormatError};
    use crate::apikey::registry::{KeyRecord, RegistryDocument, hash_hex};
    use crate::apikey::store::{MemorySecretStore, SecretStore};
    use std::time::Duration;

    const NOW: f64 = 1_800_000_000.0;

    fn record(key: &GeneratedKey) -> KeyRecord {
        KeyRecord {
            id: key.id().into(),
            partner: "acme".into(),
            sha256: hash_hex(key.expose()),
            permissions: vec!["items:read".into()],
            usage_key: None,
            expires: None,
            disabled: false,
            created: None,
        }
    }

    fn verifier(records: Vec<KeyRecord>) -> (PartnerKeyVerifier, Arc<MemorySecretStore>) {
        let text = serde_json::to_string(&RegistryDocument { keys: records }).unwrap();
        let store = Arc::new(MemorySecretStore::with(text));
        let cache = RegistryCache::with_early_interval(
            store.clone(),
            Duration::from_secs(300),
            Duration::ZERO,
        );
        (PartnerKeyVerifier::new(Arc::new(cache)), store)
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_registered_key_is_accepted() {
        let key = GeneratedKey::generate().unwrap();
        let (v, _) = verifier(vec![record(&key)]);
        let r = run(v.verify(key.expose(), NOW)).unwrap();
        assert_eq!(
            (r.owner.as_str(), r.permissions.to_string()),
            ("partner:acme", "items:read".into())
        );
    }

    #[test]
    fn every_refusal_has_its_reason() {
        let key = GeneratedKey::generate().unwrap();
        let other = GeneratedKey::generate().unwrap();
        let mut disabled = record(&key);
        disabled.disabled = true;
        let mut expired = record(&key);
        expired.expires = Some("2020-01-01T00:00:00Z".into());
        let mut wrong_hash = record(&key);
        wrong_hash.sha256 = hash_hex(other.expose());

        let id = key.id().to_owned();
        let (v, _) = verifier(vec![disabled]);
        assert_eq!(
            run(v.verify(key.expose(), NOW)),
            Err(Rejection::DisabledApiKey { key_id: id.clone() })
        );
        let (v, _) = verifier(vec![expired]);
        assert_eq!(
            run(v.verify(key.expose(), NOW)),
            Err(Rejection::ExpiredApiKey { key_id: id.clone() })
        );
        let (v, _) = verifier(vec![wrong_hash]);
        assert_eq!(
            run(v.verify(key.expose(), NOW)),
            Err(Rejection::ApiKeyMismatch { key_id: id.clone() })
        );
        let (v, _) = verifier(vec![]);
        assert_eq!(
            run(v.verify(key.expose(), NOW)),
            Err(Rejection::UnknownApiKey { key_id: id })
        );
        assert_eq!(
            run(v.verify("pk_nope", NOW)),
            Err(Rejection::MalformedApiKey(KeyFormatError::Length))
        );
    }

    #[test]
    fn a_disabled_key_with_the_wrong_secret_reports_the_mismatch_not_the_state() {
        let key = GeneratedKey::generate().unwrap();
        let mut rec = record(&key);
        rec.disabled = true;
        rec.sha256 = hash_hex("something else");
        let (v, _) = verifier(vec![rec]);
        assert!(matches!(
            run(v.verify(key.expose(), NOW)),
            Err(Rejection::ApiKeyMismatch { .. })
        ));
    }

    #[test]
    fn a_made_up_key_is_refused_without_reading_the_store() {
        // The store is empty and would fail: a checksum error must come first.
        let cache = RegistryCache::new(
            Arc::new(MemorySecretStore::default()),
            Duration::from_secs(300),
        );
        let v = PartnerKeyVerifier::new(Arc::new(cache));
        let made_up = "pk_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert_eq!(
            run(v.verify(made_up, NOW)),
            Err(Rejection::MalformedApiKey(KeyFormatError::Checksum))
        );
    }

    #[test]
    fn an_unreadable_registry_fails_closed() {
        let key = GeneratedKey::generate().unwrap();
        let cache = RegistryCache::new(
            Arc::new(MemorySecretStore::default()),
            Duration::from_secs(300),
        );
        let v = PartnerKeyVerifier::new(Arc::new(cache));
        assert_eq!(
            run(v.verify(key.expose(), NOW)),
            Err(Rejection::RegistryUnavailable)
        );
        let garbage = RegistryCache::new(
            Arc::new(MemorySecretStore::with("not json")),
            Duration::from_secs(300),
        );
        let v = PartnerKeyVerifier::new(Arc::new(garbage));
        assert_eq!(
            run(v.verify(key.expose(), NOW)),
            Err(Rejection::RegistryUnavailable)
        );
    }

    #[test]
    fn a_key_added_later_is_found_by_an_early_reread() {
        let first = GeneratedKey::generate().unwrap();
        let later = GeneratedKey::generate().unwrap();
        let (v, store) = verifier(vec![record(&first)]);
        run(v.cache().warm_up()).unwrap();
        let current = run(store.read()).unwrap();
        let doc = RegistryDocument {
            keys: vec![record(&first), record(&later)],
        };
        run(store.write(serde_json::to_string(&doc).unwrap(), &current.version_id)).unwrap();
        assert!(run(v.verify(later.expose(), NOW)).is_ok());
    }
}
