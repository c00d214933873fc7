//! The item: what a client may write ([`ItemInput`], validated field by field),
//! what the service stores and returns ([`Item`]), and item ids ([`ItemId`]).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// `name`: 1 to this many characters.
pub const NAME_MAX: usize = 200;
/// `description`: at most this many characters.
pub const DESCRIPTION_MAX: usize = 2000;
/// `tags`: at most this many.
pub const TAGS_MAX: usize = 20;
/// Each tag: 1 to this many characters.
pub const TAG_MAX: usize = 50;
/// An id in a path: at most this many characters. Server ids are 36.
pub const ID_MAX: usize = 64;

/// Fields the server owns. A client may send them (a GET body can be PUT back
/// as is) but they are ignored: the stored values always come from the server.
pub const SERVER_FIELDS: &[&str] = &["id", "owner", "version", "createdAt", "updatedAt"];

/// One problem with one field of the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field, as the client wrote it (`tags[3]` for an element).
    pub field: String,
    /// What is wrong, for a human.
    pub detail: String,
}

impl FieldError {
    /// An error on `field`.
    pub fn new(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            detail: detail.into(),
        }
    }
}

/// Every problem found in one input; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} invalid field(s), first: {}: {}", .0.len(), .0[0].field, .0[0].detail)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// A single error on `field`.
    pub fn one(field: impl Into<String>, detail: impl Into<String>) -> Self {
        ValidationErrors(vec![FieldError::new(field, detail)])
    }
}

/// An item id taken from a path: 1 to [`ID_MAX`] characters of
/// `[A-Za-z0-9_-]`. Anything else cannot be an id this service made, and is
/// refused before it reaches the table (DynamoDB keys have their own limits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemId(String);

impl ItemId {
    /// A new server-chosen id: a UUIDv7, so ids (and the table's sort keys)
    /// sort by creation time, which is the order of `GET /items`.
    pub fn generate() -> Self {
        ItemId(uuid::Uuid::now_v7().hyphenated().to_string())
    }

    /// Validates an id from a request or a stored key.
    pub fn parse(s: &str) -> Result<Self, ValidationErrors> {
        if s.is_empty() || s.len() > ID_MAX {
            return Err(ValidationErrors::one(
                "id",
                format!("must be 1-{ID_MAX} characters"),
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ValidationErrors::one(
                "id",
                "may contain only letters, digits, '-' and '_'",
            ));
        }
        Ok(ItemId(s.to_owned()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The fields a client writes, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemInput {
    /// 1–200 characters.
    pub name: String,
    /// At most 2000 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// At most 20 tags of 1–50 characters, in the client's order.
    pub tags: Vec<String>,
}

impl ItemInput {
    /// Parses a request body (already known to be JSON) into an input.
    pub fn from_json(value: Value) -> Result<Self, ValidationErrors> {
        match value {
            Value::Object(map) => Self::from_object(map),
            _ => Err(ValidationErrors::one("", "the body must be a JSON object")),
        }
    }

    /// Validates every field of `map` and reports all problems at once.
    /// Server-owned fields are ignored; any other unknown field is refused so a
    /// misspelt field is not silently dropped.
    pub fn from_object(mut map: Map<String, Value>) -> Result<Self, ValidationErrors> {
        let mut errors = Vec::new();

        let name = match map.remove("name") {
            None | Some(Value::Null) => {
                errors.push(FieldError::new("name", "is required"));
                None
            }
            Some(Value::String(s)) => {
                let n = s.chars().count();
                if n == 0 || n > NAME_MAX {
                    errors.push(FieldError::new(
                        "name",
                        format!("must be 1-{NAME_MAX} characters"),
                    ));
                } else if let Some(why) = unsafe_text(&s, Lines::Single) {
                    errors.push(FieldError::new("name", why));
                }
                Some(s)
            }
            Some(_) => {
                errors.push(FieldError::new("name", "must be a string"));
                None
            }
        };

        let description = match map.remove("description") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                if s.chars().count() > DESCRIPTION_MAX {
                    errors.push(FieldError::new(
                        "description",
                        format!("must be at most {DESCRIPTION_MAX} characters"),
                    ));
                } else if let Some(why) = unsafe_text(&s, Lines::Multi) {
                    errors.push(FieldError::new("description", why));
                }
                Some(s)
            }
            Some(_) => {
                errors.push(FieldError::new("description", "must be a string"));
                None
            }
        };

        let tags = match map.remove("tags") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(values)) => {
                if values.len() > TAGS_MAX {
                    errors.push(FieldError::new(
                        "tags",
                        format!("must have at most {TAGS_MAX} tags"),
                    ));
                }
                let mut tags = Vec::with_capacity(values.len());
                for (i, v) in values.into_iter().enumerate() {
                    match v {
                        Value::String(s) => {
                            let n = s.chars().count();
                            if n == 0 || n > TAG_MAX {
                                errors.push(FieldError::new(
                                    format!("tags[{i}]"),
                                    format!("must be 1-{TAG_MAX} characters"),
                                ));
                            } else if let Some(why) = unsafe_text(&s, Lines::Single) {
                                errors.push(FieldError::new(format!("tags[{i}]"), why));
                            }
                            tags.push(s);
                        }
                        _ => errors.push(FieldError::new(format!("tags[{i}]"), "must be a string")),
                    }
                }
                tags
            }
            Some(_) => {
                errors.push(FieldError::new("tags", "must be an array of strings"));
                Vec::new()
            }
        };

        let mut unknown: Vec<&String> = map
            .keys()
            .filter(|k| !SERVER_FIELDS.contains(&k.as_str()))
            .collect();
        unknown.sort_unstable();
        for k in unknown {
            errors.push(FieldError::new(k.clone(), "is not a field of an item"));
        }

        match name {
            Some(name) if errors.is_empty() => Ok(ItemInput {
                name,
                description,
                tags,
            }),
            _ => Err(ValidationErrors(errors)),
        }
    }

    /// The client-writable fields as a JSON object: the document a merge
    /// patch applies to.
    pub fn to_object(&self) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("name".into(), Value::String(self.name.clone()));
        if let Some(d) = &self.description {
            map.insert("description".into(), Value::String(d.clone()));
        }
        map.insert(
            "tags".into(),
            Value::Array(self.tags.iter().cloned().map(Value::String).collect()),
        );
        map
    }

    /// A digest of the validated input, used to tell an idempotent retry (same
    /// input) from a reused `Idempotency-Key` (other input). Taken after
    /// validation so key order and whitespace in the body do not matter.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        // Length-prefixed fields: no two inputs share an encoding.
        let mut put = |s: &str| {
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        };
        put(&self.name);
        match &self.description {
            Some(d) => {
                put("1");
                put(d);
            }
            None => put("0"),
        }
        for t in &self.tags {
            put(t);
        }
        let digest = h.finalize();
        let mut hex = String::with_capacity(64);
        for b in digest {
            hex.push(char::from(HEX[usize::from(b >> 4)]));
            hex.push(char::from(HEX[usize::from(b & 15)]));
        }
        hex
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A stored item, as the API returns it. The owner is not part of it: it is
/// the partition the item lives in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    /// Server-chosen, sorts by creation time.
    pub id: String,
    /// 1–200 characters.
    pub name: String,
    /// Optional, at most 2000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// At most 20 tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// RFC 3339, set at creation.
    pub created_at: String,
    /// RFC 3339, set at every write.
    pub updated_at: String,
    /// Starts at 1, +1 at every write; the `ETag`.
    pub version: u64,
}

impl Item {
    /// A new item at version 1.
    pub fn create(id: ItemId, input: ItemInput, now: String) -> Self {
        Item {
            id: id.0,
            name: input.name,
            description: input.description,
            tags: input.tags,
            created_at: now.clone(),
            updated_at: now,
            version: 1,
        }
    }

    /// The next version of this item with `input` as its content.
    #[must_use]
    pub fn replaced_with(&self, input: ItemInput, now: String) -> Self {
        Item {
            id: self.id.clone(),
            name: input.name,
            description: input.description,
            tags: input.tags,
            created_at: self.created_at.clone(),
            updated_at: now,
            version: self.version + 1,
        }
    }

    /// The client-writable part of the item.
    pub fn input(&self) -> ItemInput {
        ItemInput {
            name: self.name.clone(),
            description: self.description.clone(),
            tags: self.tags.clone(),
        }
    }
}

/// Whether a text field may hold line breaks and tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// `name`, `tags`: one line, no control character at all.
    Single,
    /// `description`: tab, line feed and carriage return allowed.
    Multi,
}

/// Why `s` cannot be stored as text others will display, if it cannot:
/// control characters (NUL among them) break logs, terminals and clients
/// that treat strings as C strings, and bidirectional overrides and
/// isolates (U+202A-U+202E, U+2066-U+2069) make text display as something
/// other than what it is ("Trojan Source").
pub fn unsafe_text(s: &str, lines: Lines) -> Option<&'static str> {
    for c in s.chars() {
        if matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') {
            return Some("must not contain bidirectional override or isolate characters");
        }
        let allowed_break = lines == Lines::Multi && matches!(c, '\t' | '\n' | '\r');
        if c.is_control() && !allowed_break {
            return Some(match lines {
                Lines::Single => "must not contain control characters",
                Lines::Multi => {
                    "must not contain control characters other than tab and line breaks"
                }
            });
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(err: ValidationErrors) -> Vec<String> {
        err.0.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_minimal_item_needs_only_a_name() {
        let input = ItemInput::from_json(json!({"name": "n"})).unwrap();
        assert_eq!(
            input,
            ItemInput {
                name: "n".into(),
                description: None,
                tags: vec![]
            }
        );
    }

    #[test]
    fn a_missing_or_null_name_is_required() {
        assert_eq!(
            fields(ItemInput::from_json(json!({})).unwrap_err()),
            ["name"]
        );
        let err = ItemInput::from_json(json!({"name": null})).unwrap_err();
        assert_eq!(err.0[0].detail, "is required");
    }

    #[test]
    fn name_length_is_counted_in_characters() {
        let ok = "é".repeat(NAME_MAX);
        assert!(ItemInput::from_json(json!({ "name": ok })).is_ok());
        let long = "é".repeat(NAME_MAX + 1);
        assert_eq!(
            fields(ItemInput::from_json(json!({ "name": long })).unwrap_err()),
            ["name"]
        );
        assert_eq!(
            fields(ItemInput::from_json(json!({ "name": "" })).unwrap_err()),
            ["name"]
        );
    }

    #[test]
    fn wrong_types_are_named_per_field() {
        let err =
            ItemInput::from_json(json!({"name": 1, "description": [], "tags": "x"})).unwrap_err();
        assert_eq!(fields(err.clone()), ["name", "description", "tags"]);
        assert_eq!(err.0[0].detail, "must be a string");
        assert_eq!(err.0[2].detail, "must be an array of strings");
    }

    #[test]
    fn an_over_long_description_is_refused() {
        let d = "x".repeat(DESCRIPTION_MAX + 1);
        assert_eq!(
            fields(ItemInput::from_json(json!({"name": "n", "description": d})).unwrap_err()),
            ["description"]
        );
        let d = "x".repeat(DESCRIPTION_MAX);
        assert!(ItemInput::from_json(json!({"name": "n", "description": d})).is_ok());
    }

    #[test]
    fn too_many_tags_and_bad_tags_are_reported_with_their_index() {
        let tags: Vec<String> = (0..=TAGS_MAX).map(|i| i.to_string()).collect();
        assert_eq!(
            fields(ItemInput::from_json(json!({"name": "n", "tags": tags})).unwrap_err()),
            ["tags"]
        );
        let err = ItemInput::from_json(
            json!({"name": "n", "tags": ["ok", "", 3, "y".repeat(TAG_MAX + 1)]}),
        )
        .unwrap_err();
        assert_eq!(fields(err), ["tags[1]", "tags[2]", "tags[3]"]);
    }

    #[test]
    fn server_fields_are_ignored_and_unknown_fields_refused() {
        let input = ItemInput::from_json(json!({
            "name": "n", "id": "mine", "owner": "someone-else", "version": 99,
            "createdAt": "x", "updatedAt": "y"
        }))
        .unwrap();
        assert_eq!(input.name, "n");
        let err = ItemInput::from_json(json!({"name": "n", "tag": ["a"]})).unwrap_err();
        assert_eq!(err.0, [FieldError::new("tag", "is not a field of an item")]);
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused() {
        let err = ItemInput::from_json(json!(["name"])).unwrap_err();
        assert_eq!(err.0[0].detail, "the body must be a JSON object");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = ItemInput::from_json(json!({"tags": [1], "x": 1})).unwrap_err();
        assert_eq!(fields(err), ["name", "tags[0]", "x"]);
    }

    #[test]
    fn ids_are_checked_for_length_and_characters() {
        assert!(ItemId::parse("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b").is_ok());
        assert_eq!(
            fields(ItemId::parse(&"a".repeat(ID_MAX + 1)).unwrap_err()),
            ["id"]
        );
        assert!(ItemId::parse(&"a".repeat(ID_MAX)).is_ok());
        assert!(ItemId::parse("a#b").is_err());
        assert!(ItemId::parse("").is_err());
    }

    #[test]
    fn generated_ids_are_valid_and_sort_by_creation() {
        let a = ItemId::generate();
        let b = ItemId::generate();
        assert!(ItemId::parse(a.as_str()).is_ok());
        assert!(a < b, "{a} then {b}");
    }

    #[test]
    fn fingerprints_ignore_formatting_but_not_content() {
        let a = ItemInput::from_json(json!({"name": "n", "tags": ["a", "b"]})).unwrap();
        let b: Value = serde_json::from_str(r#"{ "tags":["a","b"],   "name":"n" }"#).unwrap();
        let b = ItemInput::from_json(b).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        let c = ItemInput::from_json(json!({"name": "n", "tags": ["ab"]})).unwrap();
        assert_ne!(a.fingerprint(), c.fingerprint());
        let d = ItemInput::from_json(json!({"name": "n", "description": "", "tags": ["a", "b"]}))
            .unwrap();
        assert_ne!(a.fingerprint(), d.fingerprint());
    }

    #[test]
    fn an_item_serializes_with_the_contract_field_names() {
        let item = Item::create(
            ItemId::parse("x").unwrap(),
            ItemInput::from_json(json!({"name": "n"})).unwrap(),
            "t".into(),
        );
        assert_eq!(
            serde_json::to_value(&item).unwrap(),
            json!({"id": "x", "name": "n", "tags": [], "createdAt": "t", "updatedAt": "t", "version": 1})
        );
        let next = item.replaced_with(item.input(), "u".into());
        assert_eq!(
            (
                next.version,
                next.created_at.as_str(),
                next.updated_at.as_str()
            ),
            (2, "t", "u")
        );
    }

    #[test]
    fn control_and_bidi_override_characters_are_refused_by_field() {
        let cases = [
            (json!({"name": "a\u{0}b"}), "name"),
            (json!({"name": "line\nbreak"}), "name"),
            (json!({"name": "evil\u{202E}gpj.exe"}), "name"),
            (
                json!({"name": "n", "description": "x\u{7}y"}),
                "description",
            ),
            (
                json!({"name": "n", "description": "x\u{2066}y"}),
                "description",
            ),
            (
                json!({"name": "n", "tags": ["ok", "t\u{1b}[31m"]}),
                "tags[1]",
            ),
            (json!({"name": "n", "tags": ["\u{9f}"]}), "tags[0]"),
        ];
        for (body, field) in cases {
            let err = ItemInput::from_json(body.clone()).unwrap_err();
            assert_eq!(err.0.len(), 1, "{body}");
            assert_eq!(err.0[0].field, field, "{body}");
        }
    }

    #[test]
    fn a_description_keeps_its_lines_and_any_script() {
        let input = ItemInput::from_json(json!({
            "name": "שלום – ¡hola! 你好 🎉",
            "description": "first line\r\nsecond\tline\n",
            "tags": ["café", "ü"]
        }));
        assert!(input.is_ok(), "{input:?}");
    }
}
