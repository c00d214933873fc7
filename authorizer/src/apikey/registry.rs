//! The partner key registry: the JSON document kept in Secrets Manager, and
//! the validated index the authorizer looks keys up in.
//!
//! `{"keys": [{"id", "partner", "sha256", "permissions": [..], "usageKey"?,
//! "expires"?, "disabled"?}]}`. Only the hash of a key is stored; the key is
//! shown once, at creation.

use std::collections::HashMap;
use std::sync::Arc;

use policies::{Owner, Permission, PermissionSet};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::warn;

/// The registry document, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryDocument {
    /// Every key record.
    pub keys: Vec<KeyRecord>,
}

/// One key's record, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRecord {
    /// The key id, the `<id>` of `pk_<id>_<secret>`.
    pub id: String,
    /// The partner the key speaks for; its data namespace is `partner:<partner>`.
    pub partner: String,
    /// Hex of the SHA-256 of the whole key.
    pub sha256: String,
    /// Permission names, e.g. `items:read`.
    pub permissions: Vec<String>,
    /// The API Gateway API key value that meters this partner's usage plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_key: Option<String>,
    /// RFC 3339; the key is refused from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// A disabled key is refused until enabled again.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
    /// RFC 3339, informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A record the authorizer can act on: hash decoded, permissions and expiry parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveRecord {
    /// The key id.
    pub id: String,
    /// The partner's namespace, `partner:<partner>` (a valid partner id).
    pub owner: Owner,
    /// SHA-256 of the whole key.
    pub sha256: [u8; 32],
    /// What the key may do.
    pub permissions: PermissionSet,
    /// The usage plan's API key value.
    pub usage_key: Option<String>,
    /// Unix seconds from which the key is refused.
    pub expires_at: Option<f64>,
    /// Refused while true.
    pub disabled: bool,
}

/// Why a record cannot be used (it is left out, so its key is refused).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadRecord {
    /// `sha256` is not 64 hex digits.
    #[error("sha256 is not 64 hex digits")]
    Hash,
    /// A permission name the contract does not know.
    #[error("unknown permission {0:?}")]
    Permission(String),
    /// `expires` is not RFC 3339.
    #[error("expires {0:?} is not an RFC 3339 time")]
    Expires(String),
    /// The same id appears twice.
    #[error("the id appears more than once")]
    DuplicateId,
    /// `partner` cannot name a data namespace.
    #[error("partner {0:?} is not a valid partner id")]
    Partner(String),
    /// The record is not an object of the expected fields and types.
    #[error("the record does not have the expected shape: {0}")]
    Shape(String),
}

/// The registry document is not an object with a `keys` array: nothing in it
/// can be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the registry is not a JSON object with a keys array: {0}")]
pub struct UnreadableRegistry(pub String);

/// The index of usable records by id.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    by_id: HashMap<String, Arc<ActiveRecord>>,
}

impl Registry {
    /// Parses and indexes the stored text. Only the outer shape is required
    /// (an object with a `keys` array); each record is read on its own, so a
    /// mistyped record is logged and left out like any other unusable one
    /// instead of making the whole registry unreadable.
    pub fn parse(text: &str) -> Result<Self, UnreadableRegistry> {
        #[derive(Deserialize)]
        struct Outer {
            keys: Vec<serde_json::Value>,
        }
        let outer: Outer = crate::json::from_object_slice(text.as_bytes())
            .map_err(|e| UnreadableRegistry(e.to_string()))?;
        let mut keys = Vec::with_capacity(outer.keys.len());
        for (index, value) in outer.keys.into_iter().enumerate() {
            let id = value
                .get("id")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned);
            // An array would be read by position: a record is an object.
            let record = if value.is_object() {
                serde_json::from_value::<KeyRecord>(value).map_err(|e| e.to_string())
            } else {
                Err("a record is a JSON object".to_owned())
            };
            match record {
                Ok(record) => keys.push(record),
                Err(e) => warn!(
                    index,
                    key_id = id.as_deref().unwrap_or(""),
                    reason = %BadRecord::Shape(e),
                    "partner key record skipped"
                ),
            }
        }
        Ok(Self::index(&RegistryDocument { keys }))
    }

    /// Indexes `document`. Unusable records are logged (by id) and left out:
    /// one bad record must not take every partner down, and its own key is
    /// refused, which fails closed.
    pub fn index(document: &RegistryDocument) -> Self {
        let mut by_id = HashMap::new();
        let mut duplicates = Vec::new();
        for record in &document.keys {
            match activate(record) {
                Ok(active) => {
                    if by_id.insert(record.id.clone(), Arc::new(active)).is_some() {
                        duplicates.push(record.id.clone());
                    }
                }
                Err(why) => warn!(key_id = %record.id, reason = %why, "partner key record skipped"),
            }
        }
        // An id that appears twice is ambiguous: refuse it rather than pick one.
        for id in duplicates {
            by_id.remove(&id);
            warn!(key_id = %id, reason = %BadRecord::DuplicateId, "partner key record skipped");
        }
        Registry { by_id }
    }

    /// The record with this id.
    pub fn get(&self, id: &str) -> Option<Arc<ActiveRecord>> {
        self.by_id.get(id).cloned()
    }

    /// How many usable records there are.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// Checks and converts one record.
pub fn activate(record: &KeyRecord) -> Result<ActiveRecord, BadRecord> {
    let owner =
        Owner::partner(&record.partner).map_err(|_| BadRecord::Partner(record.partner.clone()))?;
    let sha256 = decode_hash(&record.sha256).ok_or(BadRecord::Hash)?;
    let permissions = record
        .permissions
        .iter()
        .map(|p| {
            p.parse::<Permission>()
                .map_err(|_| BadRecord::Permission(p.clone()))
        })
        .collect::<Result<PermissionSet, _>>()?;
    let expires_at = match &record.expires {
        None => None,
        Some(text) => Some(parse_time(text).ok_or_else(|| BadRecord::Expires(text.clone()))?),
    };
    Ok(ActiveRecord {
        id: record.id.clone(),
        owner,
        sha256,
        permissions,
        usage_key: record.usage_key.clone(),
        expires_at,
        disabled: record.disabled,
    })
}

/// Unix seconds of an RFC 3339 time.
pub fn parse_time(text: &str) -> Option<f64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some(t.unix_timestamp() as f64 + f64::from(t.nanosecond()) / 1e9)
}

fn decode_hash(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// Hex of the SHA-256 of `key`, as stored in records.
pub fn hash_hex(key: &str) -> String {
    crate::digest::hex(&crate::digest::sha256(&[key.as_bytes()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> KeyRecord {
        KeyRecord {
            id: id.into(),
            partner: "acme".into(),
            sha256: hash_hex("k"),
            permissions: vec!["items:read".into()],
            usage_key: None,
            expires: None,
            disabled: false,
            created: None,
        }
    }

    #[test]
    fn a_record_serializes_without_empty_optional_fields() {
        let json = serde_json::to_value(RegistryDocument {
            keys: vec![record("a")],
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"keys": [{"id": "a", "partner": "acme", "sha256": hash_hex("k"),
                                          "permissions": ["items:read"]}]})
        );
    }

    #[test]
    fn a_contract_document_parses_and_indexes() {
        let doc: RegistryDocument = serde_json::from_str(&format!(
            r#"{{"keys": [{{"id": "abc", "partner": "acme", "sha256": "{}", "permissions": ["items:read", "items:write"],
                "usageKey": "uk-0123456789abcdefghij", "expires": "2030-01-01T00:00:00+02:00", "disabled": true}}]}}"#,
            hash_hex("k")
        ))
        .unwrap();
        let r = Registry::index(&doc).get("abc").unwrap();
        assert_eq!(r.permissions.to_string(), "items:read items:write");
        assert_eq!(r.expires_at, Some(1_893_448_800.0));
        assert!(r.disabled);
        assert_eq!(r.usage_key.as_deref(), Some("uk-0123456789abcdefghij"));
    }

    #[test]
    fn unusable_records_are_left_out_alone() {
        let mut bad_hash = record("h");
        bad_hash.sha256 = "zz".into();
        let mut bad_perm = record("p");
        bad_perm.permissions = vec!["items:admin".into()];
        let mut bad_time = record("t");
        bad_time.expires = Some("tomorrow".into());
        assert_eq!(activate(&bad_hash), Err(BadRecord::Hash));
        assert_eq!(
            activate(&bad_perm),
            Err(BadRecord::Permission("items:admin".into()))
        );
        assert_eq!(
            activate(&bad_time),
            Err(BadRecord::Expires("tomorrow".into()))
        );
        let doc = RegistryDocument {
            keys: vec![
                bad_hash,
                bad_perm,
                bad_time,
                record("ok"),
                record("dup"),
                record("dup"),
            ],
        };
        let registry = Registry::index(&doc);
        assert_eq!(registry.len(), 1);
        assert!(registry.get("ok").is_some());
        assert!(registry.get("dup").is_none(), "an ambiguous id is refused");
    }

    #[test]
    fn a_partner_that_cannot_name_a_namespace_is_left_out() {
        let mut bad = record("b");
        bad.partner = "Acme Corp".into();
        assert_eq!(activate(&bad), Err(BadRecord::Partner("Acme Corp".into())));
        assert_eq!(
            activate(&record("ok")).unwrap().owner.as_str(),
            "partner:acme"
        );
    }

    #[test]
    fn a_mistyped_record_is_left_out_and_the_others_still_work() {
        let good = serde_json::to_value(record("good")).unwrap();
        let text = serde_json::json!({"keys": [
            {"id": "p", "partner": "acme", "sha256": hash_hex("k"), "permissions": "items:read"},
            {"id": "q", "sha256": hash_hex("k"), "permissions": []},
            {"id": "r", "partner": "acme", "sha256": hash_hex("k"), "permissions": [], "disabled": "no"},
            42,
            good,
        ]})
        .to_string();
        let registry = Registry::parse(&text).unwrap();
        assert_eq!(registry.len(), 1);
        assert!(registry.get("good").is_some());
    }

    #[test]
    fn the_array_forms_of_the_document_and_of_a_record_are_refused() {
        // serde's derive would read both by position (found by the registry
        // fuzz target).
        let good = serde_json::to_value(record("good")).unwrap();
        let document = serde_json::json!([[good.clone()]]).to_string();
        assert!(Registry::parse(&document).is_err());
        let positional = serde_json::json!(["p", "acme", hash_hex("k"), ["items:read"]]);
        let text = serde_json::json!({"keys": [positional, good]}).to_string();
        let registry = Registry::parse(&text).unwrap();
        assert_eq!(registry.len(), 1);
        assert!(registry.get("p").is_none());
    }

    #[test]
    fn a_document_without_a_keys_array_is_unreadable() {
        for text in ["", "[]", "{}", r#"{"keys": {}}"#, "not json"] {
            assert!(Registry::parse(text).is_err(), "{text:?}");
        }
    }
}
