//! The registry document as the operator command edits it: the records it
//! can read, to change, and the ones it cannot, kept as they are.
//!
//! A read-modify-write must never drop or quietly rewrite a record it does
//! not understand (a mistyped `"Disabled": true`, a field a newer version
//! added): such a record is written back exactly as it was read, every
//! command reports it, and a change aimed at it is refused with the reason.
//! Only `revoke` may remove it, since removing a record the authorizer
//! already refuses changes nothing for the partner.

use crate::apikey::registry::{
    BadRecord, KeyRecord, StoredDocument, StoredRecord, UnreadableRegistry, judge, read_records,
};

/// A record the authorizer refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    /// Its id, when it has a string one.
    pub id: Option<String>,
    /// Its partner, when it has a string one.
    pub partner: Option<String>,
    /// Why it is refused.
    pub reason: BadRecord,
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "record {} is unusable, its key is refused: {}",
            self.id.as_deref().unwrap_or("(no id)"),
            self.reason
        )
    }
}

/// The registry document being edited.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EditableDocument(StoredDocument);

impl EditableDocument {
    /// Reads the stored text.
    pub fn parse(text: &str) -> Result<Self, UnreadableRegistry> {
        read_records(text).map(EditableDocument)
    }

    /// The text to store: changed records as they are now, every other one
    /// (unreadable ones included) as it was read, other top-level fields kept.
    pub fn to_text(&self) -> String {
        let keys: Vec<serde_json::Value> = self
            .0
            .records
            .iter()
            .map(|stored| match &stored.parsed {
                // Untouched records go back as read.
                Ok(record)
                    if StoredRecord::from_value(stored.raw.clone()).parsed.as_ref()
                        == Ok(record) =>
                {
                    stored.raw.clone()
                }
                Ok(record) => serde_json::to_value(record).unwrap_or_else(|_| stored.raw.clone()),
                Err(_) => stored.raw.clone(),
            })
            .collect();
        let mut outer = self.0.other.clone();
        outer.insert("keys".to_owned(), serde_json::Value::Array(keys));
        serde_json::Value::Object(outer).to_string()
    }

    /// Every record that could be read, in order (usable or not).
    pub fn records(&self) -> impl Iterator<Item = &KeyRecord> {
        self.0.records.iter().filter_map(|s| s.parsed.as_ref().ok())
    }

    /// Every usage key a record names, unreadable records included (their
    /// API key must outlive them until they are fixed or revoked).
    pub fn usage_keys(&self) -> impl Iterator<Item = &str> {
        self.0.records.iter().filter_map(|s| match &s.parsed {
            Ok(record) => record.usage_key.as_deref(),
            Err(_) => s.raw.get("usageKey").and_then(serde_json::Value::as_str),
        })
    }

    /// The distinct usage keys of the partner's readable records.
    pub fn usage_keys_of(&self, partner: &str) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .records()
            .filter(|r| r.partner == partner)
            .filter_map(|r| r.usage_key.as_deref())
            .collect();
        keys.dedup();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// Every record the authorizer refuses, with the reason, in order.
    pub fn unusable(&self) -> Vec<Unusable> {
        self.0
            .records
            .iter()
            .zip(judge(&self.0.records))
            .filter_map(|(stored, judged)| {
                let reason = judged.err()?;
                let text = |field: &str| {
                    stored
                        .raw
                        .get(field)
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned)
                };
                Some(Unusable {
                    id: stored.id().map(str::to_owned),
                    partner: text("partner"),
                    reason,
                })
            })
            .collect()
    }

    /// Why the record `id` is refused by the authorizer, if it is.
    pub fn unusable_reason(&self, id: &str) -> Option<BadRecord> {
        self.unusable()
            .into_iter()
            .find(|u| u.id.as_deref() == Some(id))
            .map(|u| u.reason)
    }

    /// Whether any record, readable or not, has this id.
    pub fn has_id(&self, id: &str) -> bool {
        self.0.records.iter().any(|s| s.id() == Some(id))
    }

    /// The one readable record `id`, to change. `Err(Some(reason))` when a
    /// record has that id but cannot be read or is ambiguous (changing it
    /// would mean guessing), `Err(None)` when no record has it.
    pub fn find_mut(&mut self, id: &str) -> Result<&mut KeyRecord, Option<BadRecord>> {
        let matching = self.0.records.iter().filter(|s| s.id() == Some(id)).count();
        if matching > 1 {
            return Err(Some(BadRecord::DuplicateId));
        }
        let stored = self
            .0
            .records
            .iter_mut()
            .find(|s| s.id() == Some(id))
            .ok_or(None)?;
        stored.parsed.as_mut().map_err(|e| Some(e.clone()))
    }

    /// Adds a record at the end.
    pub fn push(&mut self, record: KeyRecord) {
        self.0.records.push(StoredRecord {
            raw: serde_json::Value::Null,
            parsed: Ok(record),
        });
    }

    /// Removes every record with this id (readable or not); returns the
    /// removed ones' raw values.
    pub fn remove(&mut self, id: &str) -> Vec<serde_json::Value> {
        let (gone, kept) = std::mem::take(&mut self.0.records)
            .into_iter()
            .partition(|s| s.id() == Some(id));
        self.0.records = kept;
        gone.into_iter().map(|s: StoredRecord| s.raw).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apikey::registry::hash_hex;

    fn record(id: &str) -> serde_json::Value {
        serde_json::json!({"id": id, "partner": "acme", "sha256": hash_hex("k"),
                           "permissions": ["items:read"]})
    }

    fn mistyped(id: &str) -> serde_json::Value {
        let mut r = record(id);
        r["Disabled"] = serde_json::Value::Bool(true);
        r
    }

    #[test]
    fn an_unreadable_record_and_unknown_top_level_fields_are_written_back_as_read() {
        let text = serde_json::json!({"keys": [mistyped("bad"), record("good")], "note": "kept"})
            .to_string();
        let mut doc = EditableDocument::parse(&text).unwrap();
        doc.find_mut("good").unwrap().disabled = true;
        let written: serde_json::Value = serde_json::from_str(&doc.to_text()).unwrap();
        assert_eq!(written["keys"][0], mistyped("bad"));
        assert_eq!(written["keys"][1]["disabled"], true);
        assert_eq!(written["note"], "kept");
    }

    #[test]
    fn a_change_to_an_unreadable_or_ambiguous_record_is_refused_with_the_reason() {
        let text = serde_json::json!({"keys": [mistyped("bad"), record("twin"), record("twin")]})
            .to_string();
        let mut doc = EditableDocument::parse(&text).unwrap();
        assert!(
            matches!(doc.find_mut("bad"), Err(Some(BadRecord::Shape(r))) if r.contains("Disabled"))
        );
        assert_eq!(doc.find_mut("twin"), Err(Some(BadRecord::DuplicateId)));
        assert_eq!(doc.find_mut("none"), Err(None));
    }

    #[test]
    fn unusable_lists_every_record_the_authorizer_refuses() {
        let mut bad_permission = record("perm");
        bad_permission["permissions"] = serde_json::json!(["items:admin"]);
        let text = serde_json::json!({"keys": [mistyped("bad"), bad_permission, record("good")]})
            .to_string();
        let doc = EditableDocument::parse(&text).unwrap();
        let ids: Vec<_> = doc.unusable().into_iter().map(|u| u.id).collect();
        assert_eq!(ids, [Some("bad".to_owned()), Some("perm".to_owned())]);
        assert_eq!(doc.records().count(), 2, "the mistyped one is not readable");
    }

    #[test]
    fn revoking_removes_an_unreadable_record_too() {
        let text = serde_json::json!({"keys": [mistyped("bad"), record("good")]}).to_string();
        let mut doc = EditableDocument::parse(&text).unwrap();
        assert_eq!(doc.remove("bad"), vec![mistyped("bad")]);
        assert!(!doc.has_id("bad"));
        assert!(doc.has_id("good"));
    }
}
