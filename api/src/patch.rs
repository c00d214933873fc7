//! JSON merge patch (RFC 7396), the body of `PATCH /items/{id}`.

use serde_json::{Map, Value};

/// Applies `patch` to `target` as RFC 7396 section 2 describes: an object
/// patch merges member by member (`null` removes a member), anything else
/// replaces the target whole.
pub fn merge_patch(target: &mut Value, patch: Value) {
    match patch {
        Value::Object(members) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(map) = target {
                merge_object(map, members);
            }
        }
        other => *target = other,
    }
}

/// The object case of [`merge_patch`], for a target known to be an object.
pub fn merge_object(target: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (key, value) in patch {
        if value.is_null() {
            target.remove(&key);
        } else {
            merge_patch(target.entry(key).or_insert(Value::Null), value);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(target: Value, patch: Value) -> Value {
        let mut t = target;
        merge_patch(&mut t, patch);
        t
    }

    /// Every example of RFC 7396 appendix A.
    #[test]
    fn the_rfc_examples_give_the_rfc_results() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (target, patch, want) in cases {
            let got = apply(target.clone(), patch.clone());
            assert_eq!(got, want, "{target} + {patch}");
        }
    }

    #[test]
    fn arrays_are_replaced_never_merged() {
        assert_eq!(
            apply(json!({"tags":["a","b"]}), json!({"tags":["c"]})),
            json!({"tags":["c"]})
        );
    }
}
