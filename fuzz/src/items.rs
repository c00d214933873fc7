//! The api's input parsers: an item body, a JSON merge patch, a list
//! cursor, `If-Match`.

use std::sync::LazyLock;

use api::cursor::{CursorCodec, CursorError};
use api::etag::{IfMatch, etag};
use api::item::{
    DESCRIPTION_MAX, ItemId, ItemInput, Lines, NAME_MAX, TAG_MAX, TAGS_MAX, unsafe_text,
};
use api::patch::{merge_object, merge_patch as apply};
use serde_json::{Map, Value};

static CODEC: LazyLock<CursorCodec> =
    LazyLock::new(|| CursorCodec::new(crate::CURSOR_KEY).unwrap());

fn assert_valid(input: &ItemInput) {
    let n = input.name.chars().count();
    assert!((1..=NAME_MAX).contains(&n));
    assert_eq!(unsafe_text(&input.name, Lines::Single), None);
    if let Some(d) = &input.description {
        assert!(d.chars().count() <= DESCRIPTION_MAX);
        assert_eq!(unsafe_text(d, Lines::Multi), None);
    }
    assert!(input.tags.len() <= TAGS_MAX);
    for t in &input.tags {
        assert!((1..=TAG_MAX).contains(&t.chars().count()));
        assert_eq!(unsafe_text(t, Lines::Single), None);
    }
    // What is stored and patched later reads back as the same input.
    assert_eq!(ItemInput::from_object(input.to_object()), Ok(input.clone()));
    let fingerprint = input.fingerprint();
    assert_eq!(fingerprint.len(), 64);
    assert!(fingerprint.bytes().all(|b| b.is_ascii_hexdigit()));
}

/// Target `item_input`: a request body (JSON) into `ItemInput::from_json`.
/// Whatever it accepts is within every limit and free of control and
/// bidi characters, and reads back from its stored form as itself.
pub fn item_input(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    match ItemInput::from_json(value) {
        Ok(input) => assert_valid(&input),
        Err(errors) => assert!(!errors.0.is_empty()),
    }
}

/// `value` with every `null` member of every object removed (arrays kept
/// as they are): what a merge patch leaves when applied to nothing.
fn without_null_members(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_null_members(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Target `merge_patch`: `target \0 patch`, both JSON, into RFC 7396
/// `merge_patch`, then the PATCH route's own use of it (the patch merged
/// into a stored item's fields and validated as a whole).
///
/// - applying a patch twice is applying it once;
/// - each member of an object patch decides its member of the result
///   (null removes it, an object merges, anything else replaces), and
///   members the patch does not name are kept;
/// - a patch applied to a non-object is the patch without its null members.
pub fn merge_patch(data: &[u8]) {
    let (target, patch) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"{\"name\":\"n\"}"[..], data),
    };
    let (Ok(target), Ok(patch)) = (
        serde_json::from_slice::<Value>(target),
        serde_json::from_slice::<Value>(patch),
    ) else {
        return;
    };

    let mut once = target.clone();
    apply(&mut once, patch.clone());
    let mut twice = once.clone();
    apply(&mut twice, patch.clone());
    assert_eq!(once, twice, "not idempotent");

    match (&target, &patch) {
        (Value::Object(t), Value::Object(p)) => {
            let result = once.as_object().unwrap();
            for (k, v) in p {
                match v {
                    Value::Null => assert!(!result.contains_key(k)),
                    Value::Object(_) => {
                        let mut member = t.get(k).cloned().unwrap_or(Value::Null);
                        apply(&mut member, v.clone());
                        assert_eq!(result.get(k), Some(&member));
                    }
                    _ => assert_eq!(result.get(k), Some(v)),
                }
            }
            for (k, v) in t {
                if !p.contains_key(k) {
                    assert_eq!(result.get(k), Some(v));
                }
            }
            assert!(
                result
                    .keys()
                    .all(|k| t.contains_key(k) || p.contains_key(k))
            );
        }
        (_, Value::Object(_)) => assert_eq!(once, without_null_members(&patch)),
        _ => assert_eq!(once, patch),
    }

    // The PATCH route: the stored item's fields, merged, validated whole.
    let Value::Object(patch) = patch else {
        return;
    };
    let stored = match ItemInput::from_json(target) {
        Ok(input) => input,
        Err(_) => ItemInput {
            name: "n".into(),
            description: None,
            tags: Vec::new(),
        },
    };
    let mut doc: Map<String, Value> = stored.to_object();
    merge_object(&mut doc, patch);
    if let Ok(input) = ItemInput::from_object(doc) {
        assert_valid(&input);
    }
}

/// Target `cursor`: `owner \n cursor` into `CursorCodec::decode` (the owner
/// defaults to [`crate::OWNER`] when the first line is not one).
///
/// - a cursor accepted for an owner is the one the codec prints for that
///   owner and position (one spelling), and is refused for another owner;
/// - any valid id makes a cursor that decodes back to it, for that owner only.
pub fn cursor(data: &[u8]) {
    let Some(text) = crate::text(data) else {
        return;
    };
    let (owner, cursor) = match text.split_once('\n') {
        Some((o, c)) if o.parse::<policies::Owner>().is_ok() => (o, c),
        _ => (crate::OWNER, text),
    };
    let other = if owner == crate::OWNER {
        "partner:acme"
    } else {
        crate::OWNER
    };
    if let Ok(id) = CODEC.decode(owner, cursor) {
        assert_eq!(CODEC.encode(owner, &id), cursor);
        assert_eq!(
            CODEC.decode(other, cursor),
            Err(CursorError::NotIssuedToCaller)
        );
    }
    if let Ok(id) = ItemId::parse(cursor) {
        let minted = CODEC.encode(owner, &id);
        assert_eq!(CODEC.decode(owner, &minted), Ok(id));
        assert_eq!(
            CODEC.decode(other, &minted),
            Err(CursorError::NotIssuedToCaller)
        );
    }
}

/// Target `if_match`: `IfMatch::parse`. `*` alone is "any"; otherwise every
/// version it yields was written in the header exactly as this api writes
/// an `ETag` (strong comparison), and the versions print back to a header
/// that parses to the same precondition.
pub fn if_match(data: &[u8]) {
    let Some(value) = crate::text(data) else {
        return;
    };
    match IfMatch::parse(value) {
        IfMatch::Any => assert_eq!(value.trim(), "*"),
        IfMatch::Versions(versions) => {
            assert_ne!(value.trim(), "*");
            let tags: Vec<&str> = value.split(',').map(str::trim).collect();
            for v in &versions {
                assert!(tags.contains(&etag(*v).as_str()), "{v} from {value:?}");
            }
            let printed: Vec<String> = versions.iter().map(|v| etag(*v)).collect();
            assert_eq!(
                IfMatch::parse(&printed.join(", ")),
                IfMatch::Versions(versions.clone())
            );
            let m = IfMatch::Versions(versions.clone());
            assert_eq!(m.single(), (versions.len() == 1).then(|| versions[0]));
        }
    }
}
