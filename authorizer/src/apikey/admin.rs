//! The operations behind the `partner-keys` command.
//!
//! Every change is a read-modify-write of the whole registry document with a
//! compare-and-swap write: if another operator changed the registry since it
//! was read, the write fails, and the change is applied again to the new
//! document (up to [`MAX_ATTEMPTS`] times) so that neither change is lost.
//! Input is validated before anything is read, and a change that cannot apply
//! (an unknown id) writes nothing.
//!
//! A record the authorizer refuses (a mistyped field, an unknown permission,
//! an id used twice) is never dropped or rewritten by a change to another
//! record ([`crate::apikey::document`]); every read remembers such records
//! for the command to report ([`Admin::unusable_seen`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use policies::PermissionSet;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::apikey::document::{EditableDocument, Unusable};
use crate::apikey::format::GeneratedKey;
use crate::apikey::registry::{BadRecord, KeyRecord, RegistryDocument, hash_hex, parse_time};
use crate::apikey::store::{SecretStore, StoreError};

/// How often a change is retried after losing a race.
pub const MAX_ATTEMPTS: usize = 5;

/// Why an operation was refused; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A partner name that is not 1–64 of `[a-z0-9-]`, starting with a letter or digit.
    #[error(
        "partner {0:?} is not a valid name: use 1-64 lowercase letters, digits and '-', starting with a letter or digit"
    )]
    PartnerName(String),
    /// No permission given.
    #[error("at least one --permission is required (items:read, items:write, items:delete)")]
    NoPermission,
    /// An expiry that is not RFC 3339 or not in the future.
    #[error("--expires {0:?} must be an RFC 3339 time in the future, e.g. 2030-01-31T00:00:00Z")]
    Expiry(String),
    /// A usage key API Gateway would not accept.
    #[error(
        "--usage-key must be 20-128 printable characters without spaces (an API Gateway API key value)"
    )]
    UsageKey,
    /// No record has this id.
    #[error("no key with id {0:?} in the registry")]
    UnknownId(String),
    /// The record exists but the authorizer refuses it: changing it would
    /// mean guessing what it says.
    #[error(
        "record {id:?} is unusable ({reason}); fix it in the secret by hand, or revoke it, before changing it"
    )]
    UnusableRecord {
        /// The key id.
        id: String,
        /// Why it is refused.
        reason: BadRecord,
    },
    /// Rotation would turn a key that no longer works into one that does.
    #[error(
        "key {id:?} is {state}: rotating it would issue a working key; enable it (or create a new key) deliberately instead"
    )]
    NotRotatable {
        /// The key id.
        id: String,
        /// `disabled` or `expired`.
        state: &'static str,
    },
    /// The partner's usage key changed under this command (another
    /// operator onboarded or revoked the partner meanwhile).
    #[error(
        "partner {0:?}'s usage key was changed by another operator meanwhile (onboarded or revoked); nothing of this command is left: run it again"
    )]
    PartnerMetered(String),
    /// The stored document is not a registry.
    #[error("the stored registry is not valid: {0}")]
    Corrupt(String),
    /// Other operators kept changing the registry.
    #[error(
        "the registry kept changing under this command ({MAX_ATTEMPTS} attempts); nothing was written, try again"
    )]
    Contention,
    /// The key generator failed.
    #[error("the random number generator failed")]
    Random,
    /// Reading or writing the secret failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `create` needs.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The partner.
    pub partner: String,
    /// Its permissions.
    pub permissions: PermissionSet,
    /// The usage plan API key value, if metered.
    pub usage_key: Option<String>,
    /// RFC 3339 expiry.
    pub expires: Option<String>,
}

/// Registry operations over a store.
#[derive(Clone)]
pub struct Admin {
    store: Arc<dyn SecretStore>,
    unusable: Arc<Mutex<Vec<Unusable>>>,
}

/// What `revoke` removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The revoked record's usage key.
    pub usage_key: Option<String>,
    /// Whether another record still uses that usage key.
    pub still_used: bool,
}

/// What `list` shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    /// The records the authorizer accepts (keys may still be disabled or expired).
    pub usable: Vec<KeyRecord>,
    /// The records it refuses, with the reason.
    pub unusable: Vec<Unusable>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin").finish_non_exhaustive()
    }
}

impl Admin {
    /// Operations on `store`.
    pub fn new(store: Arc<dyn SecretStore>) -> Self {
        Admin {
            store,
            unusable: Arc::default(),
        }
    }

    /// The records the authorizer refuses, as of this handle's last read
    /// (for the command to report whatever it was asked to do).
    pub fn unusable_seen(&self) -> Vec<Unusable> {
        self.unusable
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reads the document and remembers its unusable records.
    async fn read(&self) -> Result<(EditableDocument, String), AdminError> {
        let stored = self.store.read().await?;
        let doc = EditableDocument::parse(&stored.text)
            .map_err(|e| AdminError::Corrupt(e.to_string()))?;
        *self.unusable.lock().unwrap_or_else(PoisonError::into_inner) = doc.unusable();
        Ok((doc, stored.version_id))
    }

    /// Creates the secret holding an empty registry.
    pub async fn init(&self) -> Result<(), AdminError> {
        let empty = serde_json::to_string(&RegistryDocument::default())
            .map_err(|e| AdminError::Corrupt(e.to_string()))?;
        Ok(self.store.create(empty).await?)
    }

    /// Every record, the unusable ones apart (hashes included; the command
    /// prints no hash).
    pub async fn list(&self) -> Result<Listing, AdminError> {
        let (doc, _) = self.read().await?;
        let unusable = doc.unusable();
        let usable = doc
            .records()
            .filter(|r| !unusable.iter().any(|u| u.id.as_deref() == Some(&r.id)))
            .cloned()
            .collect();
        Ok(Listing { usable, unusable })
    }

    /// The current document, read only.
    pub async fn document(&self) -> Result<EditableDocument, AdminError> {
        Ok(self.read().await?.0)
    }

    /// Creates a key; returns it (to show once) and its record.
    pub async fn create(
        &self,
        new: &NewKey,
        now: OffsetDateTime,
    ) -> Result<(GeneratedKey, KeyRecord), AdminError> {
        let (key, record) = self.prepare(new, now)?;
        self.insert(&record, |_| Ok(())).await?;
        Ok((key, record))
    }

    /// Checks `new` and builds its record around a fresh key; writes nothing.
    pub fn prepare(
        &self,
        new: &NewKey,
        now: OffsetDateTime,
    ) -> Result<(GeneratedKey, KeyRecord), AdminError> {
        validate_partner(&new.partner)?;
        if new.permissions.is_empty() {
            return Err(AdminError::NoPermission);
        }
        if let Some(usage) = &new.usage_key {
            validate_usage_key(usage)?;
        }
        if let Some(expires) = &new.expires {
            validate_expiry(expires, now)?;
        }
        let key = GeneratedKey::generate().map_err(|_| AdminError::Random)?;
        let record = KeyRecord {
            id: key.id().to_owned(),
            partner: new.partner.clone(),
            sha256: hash_hex(key.expose()),
            permissions: new
                .permissions
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            usage_key: new.usage_key.clone(),
            expires: new.expires.clone(),
            disabled: false,
            created: Some(format_time(now)),
        };
        Ok((key, record))
    }

    /// Adds `record` if `check` accepts the document it would be added to
    /// (checked again on every retry, so a concurrent change is seen).
    pub async fn insert(
        &self,
        record: &KeyRecord,
        check: impl Fn(&EditableDocument) -> Result<(), AdminError>,
    ) -> Result<(), AdminError> {
        self.modify(|doc| {
            // 36^12 ids make a clash all but impossible; refuse one anyway.
            if doc.has_id(&record.id) {
                return Err(AdminError::Random);
            }
            check(doc)?;
            doc.push(record.clone());
            Ok(())
        })
        .await
    }

    /// Disables (`true`) or enables (`false`) a key.
    pub async fn set_disabled(&self, id: &str, disabled: bool) -> Result<(), AdminError> {
        self.modify(|doc| {
            find(doc, id)?.disabled = disabled;
            Ok(())
        })
        .await
    }

    /// Removes a key for good (also a record the authorizer refuses: that
    /// changes nothing for the partner). Says which usage key it had and
    /// whether another record still uses it.
    pub async fn revoke(&self, id: &str) -> Result<Revoked, AdminError> {
        self.modify(|doc| {
            let removed = doc.remove(id);
            if removed.is_empty() {
                return Err(AdminError::UnknownId(id.to_owned()));
            }
            let usage_key = removed
                .iter()
                .find_map(|raw| raw.get("usageKey").and_then(serde_json::Value::as_str))
                .map(str::to_owned);
            let still_used = usage_key
                .as_deref()
                .is_some_and(|value| doc.usage_keys().any(|used| used == value));
            Ok(Revoked {
                usage_key,
                still_used,
            })
        })
        .await
    }

    /// A new key for the same partner, permissions and usage key; the old key
    /// expires after `overlap` (at once if zero), or sooner if it already would.
    pub async fn rotate(
        &self,
        id: &str,
        overlap: Duration,
        now: OffsetDateTime,
    ) -> Result<(GeneratedKey, KeyRecord), AdminError> {
        let key = GeneratedKey::generate().map_err(|_| AdminError::Random)?;
        let old_expiry = now + overlap;
        let new_record = self
            .modify(|doc| {
                let old = find(doc, id)?;
                // A rotation hands the old key's powers to a new key; a key
                // that has none left (disabled, expired) must not get them back
                // through a side door.
                let expired = old
                    .expires
                    .as_deref()
                    .and_then(parse_time)
                    .is_some_and(|t| t <= now.unix_timestamp() as f64);
                if old.disabled || expired {
                    return Err(AdminError::NotRotatable {
                        id: id.to_owned(),
                        state: if old.disabled { "disabled" } else { "expired" },
                    });
                }
                let keep_sooner = old
                    .expires
                    .as_deref()
                    .and_then(parse_time)
                    .is_some_and(|t| t <= old_expiry.unix_timestamp() as f64);
                if !keep_sooner {
                    old.expires = Some(format_time(old_expiry));
                }
                let record = KeyRecord {
                    id: key.id().to_owned(),
                    partner: old.partner.clone(),
                    sha256: hash_hex(key.expose()),
                    permissions: old.permissions.clone(),
                    usage_key: old.usage_key.clone(),
                    expires: None,
                    disabled: false,
                    created: Some(format_time(now)),
                };
                doc.push(record.clone());
                Ok(record)
            })
            .await?;
        Ok((key, new_record))
    }

    /// Applies `change` to the current document and writes it with
    /// compare-and-swap, re-applying it to a fresh read if someone else wrote
    /// in between.
    async fn modify<T>(
        &self,
        mut change: impl FnMut(&mut EditableDocument) -> Result<T, AdminError>,
    ) -> Result<T, AdminError> {
        for _ in 0..MAX_ATTEMPTS {
            let (mut doc, version_id) = self.read().await?;
            let out = change(&mut doc)?;
            match self.store.write(doc.to_text(), &version_id).await {
                Ok(_) => return Ok(out),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AdminError::Contention)
    }
}

/// The record `id`, to change. A record the authorizer refuses is not
/// changed: enabling or rotating it would build on a guess.
fn find<'a>(doc: &'a mut EditableDocument, id: &str) -> Result<&'a mut KeyRecord, AdminError> {
    if let Some(reason) = doc.unusable_reason(id) {
        return Err(AdminError::UnusableRecord {
            id: id.to_owned(),
            reason,
        });
    }
    doc.find_mut(id).map_err(|why| match why {
        Some(reason) => AdminError::UnusableRecord {
            id: id.to_owned(),
            reason,
        },
        None => AdminError::UnknownId(id.to_owned()),
    })
}

/// Partner names become part of a data namespace (`partner:<name>`): keep them
/// plain.
pub fn validate_partner(name: &str) -> Result<(), AdminError> {
    if policies::owner::is_valid_partner_id(name) {
        Ok(())
    } else {
        Err(AdminError::PartnerName(name.to_owned()))
    }
}

fn validate_usage_key(value: &str) -> Result<(), AdminError> {
    let ok = (20..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(AdminError::UsageKey)
    }
}

fn validate_expiry(text: &str, now: OffsetDateTime) -> Result<(), AdminError> {
    match parse_time(text) {
        Some(t) if t > now.unix_timestamp() as f64 => Ok(()),
        _ => Err(AdminError::Expiry(text.to_owned())),
    }
}

fn format_time(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apikey::store::MemorySecretStore;
    use policies::Permission;

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn admin() -> (Admin, Arc<MemorySecretStore>) {
        let store = Arc::new(MemorySecretStore::default());
        let admin = Admin::new(store.clone());
        run(admin.init()).unwrap();
        (admin, store)
    }

    fn new_key(partner: &str) -> NewKey {
        NewKey {
            partner: partner.into(),
            permissions: PermissionSet::only(Permission::ItemsRead),
            usage_key: None,
            expires: None,
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn stored(store: &MemorySecretStore) -> String {
        run(store.read()).unwrap().text
    }

    #[test]
    fn create_stores_only_the_hash() {
        let (admin, store) = admin();
        let (key, record) = run(admin.create(&new_key("acme"), now())).unwrap();
        let text = stored(&store);
        assert!(!text.contains(key.expose()));
        assert!(text.contains(&hash_hex(key.expose())));
        assert_eq!(record.created.as_deref(), Some("2027-01-15T08:00:00Z"));
        assert_eq!(run(admin.list()).unwrap().usable, vec![record]);
    }

    #[test]
    fn bad_input_is_refused_and_writes_nothing() {
        let (admin, store) = admin();
        let before = stored(&store);
        let cases = [
            NewKey {
                partner: "Acme".into(),
                ..new_key("x")
            },
            NewKey {
                partner: "".into(),
                ..new_key("x")
            },
            NewKey {
                partner: "-x".into(),
                ..new_key("x")
            },
            NewKey {
                permissions: PermissionSet::EMPTY,
                ..new_key("acme")
            },
            NewKey {
                usage_key: Some("short".into()),
                ..new_key("acme")
            },
            NewKey {
                expires: Some("2020-01-01T00:00:00Z".into()),
                ..new_key("acme")
            },
            NewKey {
                expires: Some("next week".into()),
                ..new_key("acme")
            },
        ];
        for case in cases {
            assert!(run(admin.create(&case, now())).is_err(), "{case:?}");
        }
        assert!(matches!(
            run(admin.set_disabled("nope", true)),
            Err(AdminError::UnknownId(_))
        ));
        assert!(matches!(
            run(admin.revoke("nope")),
            Err(AdminError::UnknownId(_))
        ));
        assert!(matches!(
            run(admin.rotate("nope", Duration::ZERO, now())),
            Err(AdminError::UnknownId(_))
        ));
        assert_eq!(stored(&store), before);
    }

    #[test]
    fn disable_enable_and_revoke_change_the_record() {
        let (admin, _) = admin();
        let (key, _) = run(admin.create(&new_key("acme"), now())).unwrap();
        run(admin.set_disabled(key.id(), true)).unwrap();
        assert!(run(admin.list()).unwrap().usable[0].disabled);
        run(admin.set_disabled(key.id(), false)).unwrap();
        assert!(!run(admin.list()).unwrap().usable[0].disabled);
        run(admin.revoke(key.id())).unwrap();
        assert!(run(admin.list()).unwrap().usable.is_empty());
    }

    #[test]
    fn rotate_keeps_partner_and_permissions_and_expires_the_old_key_after_the_overlap() {
        let (admin, _) = admin();
        let new = NewKey {
            usage_key: Some("usage-key-0123456789".into()),
            ..new_key("acme")
        };
        let (old, _) = run(admin.create(&new, now())).unwrap();
        let (fresh, record) =
            run(admin.rotate(old.id(), Duration::from_secs(3600), now())).unwrap();
        assert_ne!(fresh.id(), old.id());
        assert_eq!(record.partner, "acme");
        assert_eq!(record.usage_key.as_deref(), Some("usage-key-0123456789"));
        let list = run(admin.list()).unwrap().usable;
        let old_record = list.iter().find(|k| k.id == old.id()).unwrap();
        assert_eq!(old_record.expires.as_deref(), Some("2027-01-15T09:00:00Z"));
    }

    #[test]
    fn a_disabled_or_expired_key_cannot_be_rotated_into_a_working_one() {
        let (admin, _) = admin();
        let (disabled, _) = run(admin.create(&new_key("acme"), now())).unwrap();
        run(admin.set_disabled(disabled.id(), true)).unwrap();
        let new = NewKey {
            expires: Some("2027-01-15T10:00:00Z".into()),
            ..new_key("acme")
        };
        let (expiring, _) = run(admin.create(&new, now())).unwrap();
        let before = run(admin.list()).unwrap();
        assert!(matches!(
            run(admin.rotate(disabled.id(), Duration::ZERO, now())),
            Err(AdminError::NotRotatable {
                state: "disabled",
                ..
            })
        ));
        let later = now() + Duration::from_secs(86_400 * 365);
        assert!(matches!(
            run(admin.rotate(expiring.id(), Duration::ZERO, later)),
            Err(AdminError::NotRotatable {
                state: "expired",
                ..
            })
        ));
        assert_eq!(run(admin.list()).unwrap(), before, "nothing was written");
    }

    fn with_mistyped_record(admin: &Admin, store: &MemorySecretStore) -> serde_json::Value {
        let (good, _) = run(admin.create(&new_key("acme"), now())).unwrap();
        let current = run(store.read()).unwrap();
        let mut doc: serde_json::Value = serde_json::from_str(&current.text).unwrap();
        let mut mistyped = doc["keys"][0].clone();
        mistyped["id"] = "mistyped0001".into();
        mistyped["Disabled"] = true.into();
        doc["keys"].as_array_mut().unwrap().push(mistyped.clone());
        run(store.write(doc.to_string(), &current.version_id)).unwrap();
        assert_ne!(good.id(), "mistyped0001");
        mistyped
    }

    #[test]
    fn list_reports_a_mistyped_record_as_unusable_instead_of_active() {
        let (admin, store) = admin();
        with_mistyped_record(&admin, &store);
        let listing = run(admin.list()).unwrap();
        assert_eq!(listing.usable.len(), 1);
        assert!(listing.usable.iter().all(|r| r.id != "mistyped0001"));
        assert_eq!(listing.unusable.len(), 1);
        assert_eq!(listing.unusable[0].id.as_deref(), Some("mistyped0001"));
        assert!(
            matches!(&listing.unusable[0].reason, BadRecord::Shape(r) if r.contains("unknown field `Disabled`"))
        );
    }

    #[test]
    fn every_change_keeps_a_mistyped_record_as_it_was_and_reports_it() {
        let (admin, store) = admin();
        let mistyped = with_mistyped_record(&admin, &store);
        let (other, _) = run(admin.create(&new_key("beta"), now())).unwrap();
        run(admin.set_disabled(other.id(), true)).unwrap();
        run(admin.rotate(
            &run(admin.list()).unwrap().usable[0].id.clone(),
            Duration::ZERO,
            now(),
        ))
        .unwrap();
        let doc: serde_json::Value = serde_json::from_str(&stored(&store)).unwrap();
        let kept: Vec<_> = doc["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["id"] == "mistyped0001")
            .collect();
        assert_eq!(kept, [&mistyped], "neither dropped nor rewritten");
        assert_eq!(admin.unusable_seen().len(), 1, "the command reports it");
    }

    #[test]
    fn a_mistyped_record_is_not_changed_but_can_be_revoked() {
        let (admin, store) = admin();
        with_mistyped_record(&admin, &store);
        let before = stored(&store);
        for result in [
            run(admin.set_disabled("mistyped0001", false)),
            run(admin.set_disabled("mistyped0001", true)),
            run(admin.rotate("mistyped0001", Duration::ZERO, now())).map(|_| ()),
        ] {
            assert!(
                matches!(&result, Err(AdminError::UnusableRecord { id, .. }) if id == "mistyped0001"),
                "{result:?}"
            );
        }
        assert_eq!(stored(&store), before);
        run(admin.revoke("mistyped0001")).unwrap();
        assert!(!stored(&store).contains("mistyped0001"));
        assert!(run(admin.list()).unwrap().unusable.is_empty());
    }

    /// A store that lets another writer in before each of the first N writes.
    struct Racing {
        inner: MemorySecretStore,
        interference: std::sync::Mutex<usize>,
    }

    impl SecretStore for Racing {
        fn read(
            &self,
        ) -> crate::BoxFuture<'_, Result<crate::apikey::store::StoredVersion, StoreError>> {
            self.inner.read()
        }
        fn write<'a>(
            &'a self,
            text: String,
            based_on: &'a str,
        ) -> crate::BoxFuture<'a, Result<String, StoreError>> {
            Box::pin(async move {
                let pending = {
                    let mut n = self.interference.lock().unwrap();
                    let p = *n > 0;
                    *n = n.saturating_sub(1);
                    p
                };
                if pending {
                    // Another operator adds a record first.
                    let current = self.inner.read().await?;
                    let mut doc: RegistryDocument = serde_json::from_str(&current.text).unwrap();
                    let mut other = doc.keys.first().cloned().unwrap_or_else(|| KeyRecord {
                        id: String::new(),
                        partner: "other".into(),
                        sha256: hash_hex("x"),
                        permissions: vec![],
                        usage_key: None,
                        expires: None,
                        disabled: false,
                        created: None,
                    });
                    other.id = format!("other{}", doc.keys.len());
                    doc.keys.push(other);
                    self.inner
                        .write(serde_json::to_string(&doc).unwrap(), &current.version_id)
                        .await?;
                }
                self.inner.write(text, based_on).await
            })
        }
        fn create(&self, text: String) -> crate::BoxFuture<'_, Result<(), StoreError>> {
            self.inner.create(text)
        }
    }

    #[test]
    fn a_change_that_loses_a_race_is_reapplied_and_neither_is_lost() {
        let store = Arc::new(Racing {
            inner: MemorySecretStore::default(),
            interference: std::sync::Mutex::new(2),
        });
        let admin = Admin::new(store.clone());
        run(admin.init()).unwrap();
        let (key, _) = run(admin.create(&new_key("acme"), now())).unwrap();
        let ids: Vec<String> = run(admin.list())
            .unwrap()
            .usable
            .into_iter()
            .map(|k| k.id)
            .collect();
        assert_eq!(ids, ["other0", "other1", key.id()]);
    }

    #[test]
    fn endless_contention_gives_up_without_writing() {
        let store = Arc::new(Racing {
            inner: MemorySecretStore::default(),
            interference: std::sync::Mutex::new(100),
        });
        let admin = Admin::new(store.clone());
        run(admin.init()).unwrap();
        assert!(matches!(
            run(admin.create(&new_key("acme"), now())),
            Err(AdminError::Contention)
        ));
        let list = run(admin.list()).unwrap().usable;
        assert!(list.iter().all(|k| k.partner != "acme"));
    }
}
