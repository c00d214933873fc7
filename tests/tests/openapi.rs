//! The published contract, `openapi.json`, held to what it describes: its
//! operations are `policies::ROUTES` with their permissions, its schemas carry
//! the api's own limits (read from the api's constants, never retyped), the
//! template serves the same routes and validates bodies with the same
//! schemas, and those schemas accept exactly the bodies the api accepts, so
//! API Gateway never refuses a request the api would serve.
//!
//! `scripts/api-contract.sh` checks the rest with tools nobody here wrote:
//! openapi-spec-validator on the document, schemathesis on the running stack.

// Test code: a panic is how a failure is reported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::LazyLock;

use api::item::{
    DESCRIPTION_MAX, ID_MAX, ItemInput, Lines, NAME_MAX, SERVER_FIELDS, TAG_MAX, TAGS_MAX,
    unsafe_text,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const DOCUMENT: &str = include_str!("../../openapi.json");
const TEMPLATE: &str = include_str!("../../template.yaml");
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "patch", "options", "head", "trace",
];

fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
}

/// The value a local `$ref` points to.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {r}")),
        None => v,
    }
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    local::contract::document_schema(doc, name).unwrap_or_else(|| panic!("schema {name}"))
}

/// `(METHOD, path with * for a parameter, operation)` of every operation.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let route = path
            .split('/')
            .map(|s| if s.starts_with('{') { "*" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for (method, op) in item.as_object().expect("path item") {
            if METHODS.contains(&method.as_str()) {
                out.push((method.to_uppercase(), route.clone(), op));
            }
        }
    }
    out
}

fn operation<'a>(doc: &'a Value, label: &str) -> &'a Value {
    let (method, path) = label.split_once(' ').expect("METHOD /path");
    &doc["paths"][path][method.to_lowercase()]
}

#[test]
fn the_operations_are_the_route_table_with_the_permission_each_needs() {
    let doc = document();
    let documented: BTreeSet<_> = operations(&doc)
        .into_iter()
        .map(|(method, path, op)| {
            let permission = op["x-permission"]
                .as_str()
                .expect("x-permission")
                .to_owned();
            // Either credential, each naming the same permission.
            let mut schemes = BTreeSet::new();
            for requirement in op["security"].as_array().expect("security") {
                let (scheme, roles) = requirement
                    .as_object()
                    .and_then(|o| o.iter().next())
                    .expect("one scheme per requirement");
                assert_eq!(roles, &json!([permission]), "{method} {path} {scheme}");
                schemes.insert(scheme.clone());
            }
            assert_eq!(
                schemes,
                BTreeSet::from(["bearerJwt".to_owned(), "partnerApiKey".to_owned()]),
                "{method} {path}"
            );
            (method, path, permission)
        })
        .collect();
    let table: BTreeSet<_> = policies::ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_owned(),
                r.path.to_owned(),
                r.permission.as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(documented, table);
}

#[test]
fn both_credential_schemes_carry_the_one_authorization_pattern() {
    let doc = document();
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes.len(), 2);
    for (name, scheme) in schemes {
        assert_eq!(
            scheme["x-authorization-pattern"],
            policies::AUTHORIZATION_PATTERN,
            "{name}"
        );
    }
    assert_eq!(schemes["bearerJwt"]["scheme"], "bearer");
    assert_eq!(schemes["partnerApiKey"]["in"], "header");
    assert_eq!(schemes["partnerApiKey"]["name"], "Authorization");
}

#[test]
fn the_schemas_carry_the_apis_own_limits() {
    let doc = document();
    for name in ["ItemInput", "ItemPatch"] {
        let p = &schema(&doc, name)["properties"];
        assert_eq!(p["name"]["minLength"], 1, "{name}");
        assert_eq!(p["name"]["maxLength"], NAME_MAX, "{name}");
        // Nullable members: the typed branch of their anyOf.
        let description = &p["description"]["anyOf"][0];
        assert_eq!(description["maxLength"], DESCRIPTION_MAX, "{name}");
        let tags = &p["tags"]["anyOf"][0];
        assert_eq!(tags["maxItems"], TAGS_MAX, "{name}");
        assert_eq!(tags["items"]["minLength"], 1, "{name}");
        assert_eq!(tags["items"]["maxLength"], TAG_MAX, "{name}");
        // Server-owned fields are accepted with any value and ignored.
        for field in SERVER_FIELDS {
            assert_eq!(p[field], json!({}), "{name}.{field}");
        }
        let fields: BTreeSet<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected: BTreeSet<&str> = SERVER_FIELDS.iter().copied().collect();
        expected.extend(["name", "description", "tags"]);
        assert_eq!(fields, expected, "{name}");
    }
    let item = &schema(&doc, "Item")["properties"];
    assert_eq!(item["name"]["maxLength"], NAME_MAX);
    assert_eq!(item["description"]["maxLength"], DESCRIPTION_MAX);
    assert_eq!(item["tags"]["maxItems"], TAGS_MAX);
    assert_eq!(item["tags"]["items"]["maxLength"], TAG_MAX);
    assert_eq!(item["id"]["maxLength"], ID_MAX);

    let params = &doc["components"]["parameters"];
    assert_eq!(params["ItemId"]["schema"]["maxLength"], ID_MAX);
    assert_eq!(
        params["Limit"]["schema"]["maximum"],
        api::handler::MAX_LIMIT
    );
    assert_eq!(
        params["Limit"]["schema"]["default"],
        api::handler::DEFAULT_LIMIT
    );
    assert_eq!(
        params["IdempotencyKey"]["schema"]["maxLength"],
        api::handler::IDEMPOTENCY_KEY_MAX
    );
    assert_eq!(
        schema(&doc, "ItemList")["properties"]["items"]["maxItems"],
        api::handler::MAX_LIMIT
    );
    let too_large = doc["components"]["responses"]["PayloadTooLarge"]["description"]
        .as_str()
        .unwrap();
    assert!(too_large.contains(&api::problem::MAX_BODY_BYTES.to_string()));
}

/// A validator of strings for `pattern` (a document pattern, read as a
/// validator reads it).
fn pattern_validator(pattern: &Value) -> jsonschema::Validator {
    jsonschema::draft4::new(&json!({"type": "string", "pattern": pattern})).unwrap()
}

#[test]
fn the_text_patterns_refuse_exactly_the_characters_the_api_refuses() {
    let doc = document();
    let p = &schema(&doc, "ItemInput")["properties"];
    let cases = [
        (pattern_validator(&p["name"]["pattern"]), Lines::Single),
        (
            pattern_validator(&p["tags"]["anyOf"][0]["items"]["pattern"]),
            Lines::Single,
        ),
        (
            pattern_validator(&p["description"]["anyOf"][0]["pattern"]),
            Lines::Multi,
        ),
    ];
    // The BMP below the surrogates covers every character the api treats
    // specially (controls, bidi overrides and isolates) and their neighbours.
    let chars = (0u32..0xD800).chain([0xFEFF, 0xFFFD, 0x1F389, 0x10FFFF]);
    for c in chars.filter_map(char::from_u32) {
        let s = format!("a{c}b");
        for (validator, lines) in &cases {
            assert_eq!(
                validator.is_valid(&json!(s)),
                unsafe_text(&s, *lines).is_none(),
                "U+{:04X} with {lines:?}",
                c as u32
            );
        }
    }
}

#[test]
fn every_response_body_is_described_with_its_media_type() {
    let doc = document();
    for (method, path, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().unwrap() {
            let response = resolve(&doc, response);
            let content = response.get("content").and_then(Value::as_object);
            let expected: &[&str] = match status.as_str() {
                "204" => &[],
                s if s.starts_with('2') => &["application/json"],
                _ => &["application/problem+json"],
            };
            let media: Vec<&str> = content
                .map(|c| c.keys().map(String::as_str).collect())
                .unwrap_or_default();
            assert_eq!(media, expected, "{method} {path} {status}");
        }
        // What the gateway itself answers on every operation.
        for status in ["401", "403", "429", "500"] {
            assert!(
                op["responses"].get(status).is_some(),
                "{method} {path} documents the gateway's {status}"
            );
        }
    }
}

// ------------------------------------------------------------ the template

fn template() -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(TEMPLATE).expect("template.yaml is YAML")
}

/// A template value as JSON (models hold no CloudFormation tags).
fn to_json(v: &serde_yaml_ng::Value) -> Value {
    serde_json::to_value(v).expect("a plain YAML value")
}

fn yaml_get<'a>(v: &'a serde_yaml_ng::Value, path: &[&str]) -> Option<&'a serde_yaml_ng::Value> {
    let mut v = v;
    for key in path {
        v = match v {
            serde_yaml_ng::Value::Tagged(t) => &t.value,
            v => v,
        }
        .get(*key)?;
    }
    Some(v)
}

/// `(METHOD /path label, event properties)` of every Api event.
fn template_events(t: &serde_yaml_ng::Value) -> Vec<(String, &serde_yaml_ng::Value)> {
    let mut out = Vec::new();
    for (_, resource) in yaml_get(t, &["Resources"]).unwrap().as_mapping().unwrap() {
        let Some(events) = yaml_get(resource, &["Properties", "Events"]) else {
            continue;
        };
        for (_, event) in events.as_mapping().unwrap() {
            if yaml_get(event, &["Type"]).and_then(|v| v.as_str()) != Some("Api") {
                continue;
            }
            let p = yaml_get(event, &["Properties"]).unwrap();
            let method = yaml_get(p, &["Method"]).and_then(|v| v.as_str()).unwrap();
            let path = yaml_get(p, &["Path"]).and_then(|v| v.as_str()).unwrap();
            out.push((format!("{} {path}", method.to_uppercase()), p));
        }
    }
    out
}

#[test]
fn the_template_serves_the_documents_operations() {
    let doc = document();
    let t = template();
    let served: BTreeSet<String> = template_events(&t).into_iter().map(|(l, _)| l).collect();
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|m| METHODS.contains(&m.as_str()))
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    assert_eq!(served, documented);
}

#[test]
fn the_gateway_validates_each_body_with_the_documents_schema() {
    let doc = document();
    let t = template();
    let models = yaml_get(&t, &["Resources", "Api", "Properties", "Models"]).expect("Api Models");
    let mut validated = BTreeSet::new();
    for (label, event) in template_events(&t) {
        let documented = operation(&doc, &label)["requestBody"]["content"]
            [local::contract::MODEL_MEDIA_TYPE]["schema"]["$ref"]
            .as_str()
            .map(|r| r.rsplit('/').next().unwrap().to_owned());
        let Some(model) = yaml_get(event, &["RequestModel"]) else {
            assert_eq!(documented, None, "{label} has a body but no model");
            continue;
        };
        let name = yaml_get(model, &["Model"])
            .and_then(|v| v.as_str())
            .unwrap();
        assert_eq!(documented.as_deref(), Some(name), "{label}");
        for (flag, want) in [("ValidateBody", true), ("Required", true)] {
            assert_eq!(
                yaml_get(model, &[flag]).and_then(serde_yaml_ng::Value::as_bool),
                Some(want),
                "{label} {flag}"
            );
        }
        let template_model = to_json(yaml_get(models, &[name]).expect("the model is defined"));
        assert_eq!(&template_model, schema(&doc, name), "model {name}");
        validated.insert((label, name.to_owned()));
    }
    // The local stack validates the same routes with the same models.
    let local: BTreeSet<_> = local::contract::REQUEST_MODELS
        .iter()
        .map(|(l, m)| ((*l).to_owned(), (*m).to_owned()))
        .collect();
    assert_eq!(validated, local);
}

/// The keywords a gateway model may use: JSON Schema draft 4 keywords that
/// an OpenAPI 3.0 Schema Object also has, with the same meaning there, and
/// that API Gateway's "important notes for REST APIs" do not except
/// (`discriminator`, `example`, `exclusiveMinimum`, `readOnly` are excepted;
/// `nullable` is OpenAPI's alone, which a draft 4 validator ignores). SAM
/// puts the models into the OpenAPI 3.0 body API Gateway imports, and an
/// importer that reads them as OpenAPI 3.0 drops what OpenAPI 3.0 cannot
/// hold: a `type` list (aws/serverless-application-model#2374).
const GATEWAY_MODEL_KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "enum",
    "anyOf",
    "allOf",
    "not",
    "title",
    "description",
];

/// The types OpenAPI 3.0 has (no `null`: it is `nullable`, which draft 4
/// does not know).
const OPENAPI_30_TYPES: &[&str] = &["string", "number", "integer", "boolean", "array", "object"];

/// Every place in `schema` (a model) where it leaves the subset, with a
/// JSON pointer to it.
fn outside_the_gateway_subset(schema: &Value, at: &str, out: &mut Vec<String>) {
    let Some(object) = schema.as_object() else {
        out.push(format!("{at}: a schema that is not an object ({schema})"));
        return;
    };
    for (keyword, value) in object {
        let here = format!("{at}/{keyword}");
        if !GATEWAY_MODEL_KEYWORDS.contains(&keyword.as_str()) {
            out.push(format!("{here}: keyword {keyword}"));
            continue;
        }
        match keyword.as_str() {
            "type"
                if !value
                    .as_str()
                    .is_some_and(|t| OPENAPI_30_TYPES.contains(&t)) =>
            {
                out.push(format!("{here}: {value} is not one OpenAPI 3.0 type"));
            }
            // A null inside a value may be read as the string "null".
            "enum"
                if value
                    .as_array()
                    .is_some_and(|v| v.iter().any(Value::is_null)) =>
            {
                out.push(format!("{here}: a null value"));
            }
            "properties" => {
                for (name, sub) in value.as_object().expect("properties") {
                    outside_the_gateway_subset(sub, &format!("{here}/{name}"), out);
                }
            }
            "items" | "not" => outside_the_gateway_subset(value, &here, out),
            "additionalProperties" if !value.is_boolean() => {
                outside_the_gateway_subset(value, &here, out);
            }
            "anyOf" | "allOf" => {
                for (i, sub) in value.as_array().expect("a list").iter().enumerate() {
                    outside_the_gateway_subset(sub, &format!("{here}/{i}"), out);
                }
            }
            _ => {}
        }
    }
}

#[test]
fn the_gateway_models_stay_within_what_api_gateway_imports() {
    let t = template();
    let models = yaml_get(&t, &["Resources", "Api", "Properties", "Models"])
        .and_then(serde_yaml_ng::Value::as_mapping)
        .expect("Api Models");
    assert!(!models.is_empty());
    let mut found = Vec::new();
    for (name, model) in models {
        let name = name.as_str().unwrap();
        outside_the_gateway_subset(&to_json(model), name, &mut found);
    }
    assert!(found.is_empty(), "{found:#?}");
}

/// A value of no JSON type but null, in the subset: neither string, nor
/// number (integers included), nor boolean, object or array.
fn null_only() -> Value {
    json!({"not": {"anyOf": [
        {"type": "string"}, {"type": "number"}, {"type": "boolean"},
        {"type": "object"}, {"type": "array"}
    ]}})
}

#[test]
fn null_is_expressed_as_no_other_type() {
    // The models' nullable members and ItemPatch's removals hold this very
    // schema; it accepts null and nothing else.
    let validator = jsonschema::draft4::new(&null_only()).unwrap();
    assert!(validator.is_valid(&json!(null)));
    for other in [
        json!(""),
        json!(0),
        json!(1.5),
        json!(false),
        json!({}),
        json!([]),
    ] {
        assert!(!validator.is_valid(&other), "{other}");
    }
    let doc = document();
    for name in ["ItemInput", "ItemPatch"] {
        let p = &schema(&doc, name)["properties"];
        for field in ["description", "tags"] {
            let branches = p[field]["anyOf"].as_array().expect("anyOf");
            assert!(branches.contains(&null_only()), "{name}.{field}");
        }
    }
    assert_eq!(
        schema(&doc, "ItemPatch")["additionalProperties"],
        null_only(),
        "a patch may only remove unknown members"
    );
}

#[test]
fn the_gateways_400s_are_problem_json() {
    let t = template();
    let responses = yaml_get(&t, &["Resources", "Api", "Properties", "GatewayResponses"]).unwrap();
    for kind in ["BAD_REQUEST_BODY", "BAD_REQUEST_PARAMETERS"] {
        let r = yaml_get(responses, &[kind]).unwrap_or_else(|| panic!("{kind}"));
        assert_eq!(
            yaml_get(r, &["StatusCode"]).and_then(|v| v.as_str()),
            Some("400")
        );
        let headers = yaml_get(r, &["ResponseParameters", "Headers"]).unwrap();
        assert_eq!(
            yaml_get(headers, &["Content-Type"]).and_then(|v| v.as_str()),
            Some("'application/problem+json'")
        );
        let body = yaml_get(r, &["ResponseTemplates", "application/json"])
            .and_then(|v| v.as_str())
            .unwrap();
        // What API Gateway renders, with its message in place.
        let rendered: Value = serde_json::from_str(
            &body.replace("$context.error.messageString", "\"Invalid request body\""),
        )
        .unwrap_or_else(|e| panic!("{kind}: {e}: {body}"));
        assert_eq!(rendered["status"], 400, "{kind}");
        assert_eq!(rendered["title"], "Bad Request", "{kind}");
    }
}

// ----------------------------------- the gateway's schemas and the api agree

/// Whether the api accepts `body` for the operation whose model is `model`.
fn api_accepts(model: &str, body: &Value) -> bool {
    match model {
        "ItemInput" => ItemInput::from_json(body.clone()).is_ok(),
        // A merge patch onto a stored item, validated as a whole, as
        // `Service::patch` does.
        "ItemPatch" => {
            let Value::Object(patch) = body else {
                return false;
            };
            let current =
                ItemInput::from_json(json!({"name": "n", "description": "d", "tags": ["t"]}))
                    .unwrap();
            let mut doc = current.to_object();
            api::patch::merge_object(&mut doc, patch.clone());
            ItemInput::from_object(doc).is_ok()
        }
        other => panic!("no model {other}"),
    }
}

/// The models, compiled once for every case.
static VALIDATORS: LazyLock<Vec<(&'static str, jsonschema::Validator)>> = LazyLock::new(|| {
    let doc = document();
    ["ItemInput", "ItemPatch"]
        .into_iter()
        .map(|name| (name, jsonschema::draft4::new(schema(&doc, name)).unwrap()))
        .collect()
});

/// The gateway refusing what the api takes would lock clients out of a
/// valid request (the bug); the gateway taking what the api refuses would be
/// harmless but would make the document lie. Both are checked: they agree.
fn assert_agree(validators: &[(&str, jsonschema::Validator)], body: &Value) {
    for (model, validator) in validators {
        let gateway = validator.is_valid(body);
        let api = api_accepts(model, body);
        assert!(
            !api || gateway,
            "the gateway's {model} refuses a body the api accepts: {body}"
        );
        assert_eq!(gateway, api, "{model} and the api disagree on {body}");
    }
}

#[test]
fn the_gateway_and_the_api_agree_on_the_edge_cases() {
    let v = &VALIDATORS;
    let at = |n: usize| "é".repeat(n);
    let tags = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>();
    for body in [
        json!({"name": "n"}),
        json!({}),
        json!([]),
        json!("name"),
        json!(null),
        json!({"name": null}),
        json!({"name": ""}),
        json!({"name": at(NAME_MAX)}),
        json!({"name": at(NAME_MAX + 1)}),
        json!({"name": "a\nb"}),
        json!({"name": "a\u{202E}b"}),
        json!({"name": "🎉".repeat(NAME_MAX)}),
        json!({"name": "n", "description": null}),
        json!({"name": "n", "description": "a\r\n\tb"}),
        json!({"name": "n", "description": "a\u{7}b"}),
        json!({"name": "n", "description": at(DESCRIPTION_MAX)}),
        json!({"name": "n", "description": at(DESCRIPTION_MAX + 1)}),
        json!({"name": "n", "description": 5}),
        json!({"name": "n", "description": {"a": null}}),
        json!({"name": "n", "tags": null}),
        json!({"name": "n", "tags": tags(TAGS_MAX)}),
        json!({"name": "n", "tags": tags(TAGS_MAX + 1)}),
        json!({"name": "n", "tags": [""]}),
        json!({"name": "n", "tags": [at(TAG_MAX)]}),
        json!({"name": "n", "tags": [at(TAG_MAX + 1)]}),
        json!({"name": "n", "tags": [1]}),
        json!({"name": "n", "tags": "t"}),
        json!({"name": "n", "tags": {"a": null}}),
        json!({"name": "n", "id": 5, "owner": [], "version": "x", "createdAt": null, "updatedAt": {}}),
        json!({"name": "n", "colour": "red"}),
        json!({"name": "n", "colour": null}),
        json!({"colour": null}),
        json!({"Name": "n"}),
    ] {
        assert_agree(v, &body);
    }
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-zé🎉]{1,4}",
        "[a-z\\x00-\\x1f\\x7f-\\x9f\u{202a}-\u{202e}\u{2066}-\u{2069}\t\n\r ]{0,6}",
        (0usize..=3).prop_map(|d| "x".repeat(NAME_MAX - 1 + d)),
        (0usize..=3).prop_map(|d| "x".repeat(TAG_MAX - 1 + d)),
        (0usize..=3).prop_map(|d| "x".repeat(DESCRIPTION_MAX - 1 + d)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 32, 24, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..=(TAGS_MAX + 2)).prop_map(Value::from),
            prop::collection::vec(text().prop_map(Value::from), 0..=(TAGS_MAX + 2))
                .prop_map(Value::from),
            prop::collection::btree_map(key(), inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("name".to_owned()),
        Just("description".to_owned()),
        Just("tags".to_owned()),
        Just("id".to_owned()),
        Just("version".to_owned()),
        Just("colour".to_owned()),
        Just("a".to_owned()),
    ]
}

fn body() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::collection::btree_map(key(), value(), 0..5)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        1 => value(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_gateway_and_the_api_agree_on_any_body(body in body()) {
        assert_agree(&VALIDATORS, &body);
    }
}
