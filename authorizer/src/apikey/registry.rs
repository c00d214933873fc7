//! The partner key registry: the JSON document kept in Secrets Manager, and
//! the validated index the authorizer looks keys up in.
//!
//! `{"keys": [{"id", "partner", "sha256", "permissions": [..], "usageKey"?,
//! "expires"?, "disabled"?}]}`. Only the hash of a key is stored; the key is
//! shown once, at creation.
//!
//! Records refuse unknown fields: a mistyped `"Disabled": true` must make the
//! record unusable (its key refused, its id logged), never leave it silently
//! enabled. Each record is read on its own ([`read_records`]) and judged by
//! one rule ([`judge`]) that the authorizer's index and the operator
//! command's listing share, so the command never shows as active a record
//! the authorizer refuses.

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
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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

/// One record of the stored document, read on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// The record as stored. The operator command writes back what it could
    /// not read from this, unchanged.
    pub raw: serde_json::Value,
    /// The record, or why it does not have the expected shape.
    pub parsed: Result<KeyRecord, BadRecord>,
}

impl StoredRecord {
    /// Reads one element of the `keys` array.
    pub fn from_value(raw: serde_json::Value) -> Self {
        // An array would be read by position: a record is an object.
        let parsed = if raw.is_object() {
            serde_json::from_value::<KeyRecord>(raw.clone())
                .map_err(|e| BadRecord::Shape(e.to_string()))
        } else {
            Err(BadRecord::Shape("a record is a JSON object".to_owned()))
        };
        StoredRecord { raw, parsed }
    }

    /// A record that was read.
    pub fn from_record(record: KeyRecord) -> Self {
        StoredRecord {
            raw: serde_json::to_value(&record).unwrap_or_default(),
            parsed: Ok(record),
        }
    }

    /// The record's id, when it has a string one (also for an unreadable record).
    pub fn id(&self) -> Option<&str> {
        match &self.parsed {
            Ok(record) => Some(&record.id),
            Err(_) => self.raw.get("id").and_then(serde_json::Value::as_str),
        }
    }
}

/// The stored document split into its records, each read on its own, and
/// the document's other top-level fields (kept, never interpreted).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredDocument {
    /// The elements of `keys`, in order.
    pub records: Vec<StoredRecord>,
    /// Top-level fields besides `keys`.
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// Reads the stored text. Only the outer shape is required (an object with
/// a `keys` array); a record that cannot be read is kept with the reason,
/// so it is refused alone instead of making the whole registry unreadable.
pub fn read_records(text: &str) -> Result<StoredDocument, UnreadableRegistry> {
    #[derive(Deserialize)]
    struct Outer {
        keys: Vec<serde_json::Value>,
        #[serde(flatten)]
        other: serde_json::Map<String, serde_json::Value>,
    }
    let outer: Outer = crate::json::from_object_slice(text.as_bytes())
        .map_err(|e| UnreadableRegistry(e.to_string()))?;
    Ok(StoredDocument {
        records: outer
            .keys
            .into_iter()
            .map(StoredRecord::from_value)
            .collect(),
        other: outer.other,
    })
}

/// Whether each record can be used, in order: read, checked by [`activate`],
/// and refused if its id appears more than once in the document (an
/// ambiguous id is refused rather than one of its records picked).
pub fn judge(records: &[StoredRecord]) -> Vec<Result<ActiveRecord, BadRecord>> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for id in records.iter().filter_map(StoredRecord::id) {
        *seen.entry(id).or_default() += 1;
    }
    records
        .iter()
        .map(|stored| {
            let active = stored.parsed.clone().and_then(|r| activate(&r))?;
            if seen.get(active.id.as_str()).copied().unwrap_or(0) > 1 {
                return Err(BadRecord::DuplicateId);
            }
            Ok(active)
        })
        .collect()
}

/// The index of usable records by id.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    by_id: HashMap<String, Arc<ActiveRecord>>,
}

impl Registry {
    /// Parses and indexes the stored text (see [`read_records`]).
    pub fn parse(text: &str) -> Result<Self, UnreadableRegistry> {
        Ok(Self::from_records(&read_records(text)?.records))
    }

    /// Indexes `document`.
    pub fn index(document: &RegistryDocument) -> Self {
        let records: Vec<StoredRecord> = document
            .keys
            .iter()
            .cloned()
            .map(StoredRecord::from_record)
            .collect();
        Self::from_records(&records)
    }

    /// Indexes the usable records. Unusable ones are logged (by id) and left
    /// out: one bad record must not take every partner down, and its own key
    /// is refused, which fails closed.
    fn from_records(records: &[StoredRecord]) -> Self {
        let mut by_id = HashMap::new();
        for (index, (stored, judged)) in records.iter().zip(judge(records)).enumerate() {
            match judged {
                Ok(active) => {
                    by_id.insert(active.id.clone(), Arc::new(active));
                }
                Err(why) => warn!(
                    index,
                    key_id = stored.id().unwrap_or(""),
                    reason = %why,
                    "partner key record skipped"
                ),
            }
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
    fn a_record_with_a_mistyped_field_is_skipped_its_id_logged_and_its_key_refused() {
        let mut mistyped = serde_json::to_value(record("mistyped")).unwrap();
        mistyped["Disabled"] = serde_json::Value::Bool(true);
        let text = serde_json::json!({"keys": [mistyped, record("good")]}).to_string();
        let sink = crate::testkit::LogSink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .finish();
        let registry =
            tracing::subscriber::with_default(subscriber, || Registry::parse(&text).unwrap());
        assert!(registry.get("mistyped").is_none(), "never silently enabled");
        assert!(registry.get("good").is_some());
        let log = sink.contents();
        assert!(log.contains("key_id=\"mistyped\""), "{log}");
        assert!(log.contains("unknown field `Disabled`"), "{log}");
    }

    #[test]
    fn an_id_shared_with_an_unreadable_record_is_ambiguous_and_refused() {
        let mut twin = serde_json::to_value(record("twin")).unwrap();
        twin["Disabled"] = serde_json::Value::Bool(true);
        let text = serde_json::json!({"keys": [twin, record("twin")]}).to_string();
        let judged = judge(&read_records(&text).unwrap().records);
        assert!(matches!(judged[0], Err(BadRecord::Shape(_))));
        assert_eq!(judged[1], Err(BadRecord::DuplicateId));
    }

    #[test]
    fn a_document_without_a_keys_array_is_unreadable() {
        for text in ["", "[]", "{}", r#"{"keys": {}}"#, "not json"] {
            assert!(Registry::parse(text).is_err(), "{text:?}");
        }
    }
}
