//! The published contract in the local stack.
//!
//! `GET /openapi.json` serves the committed document, compiled in so that what
//! the stack serves is byte for byte the file the tests hold against the
//! route table, the api's limits and the template. No credential is needed:
//! the document is public, as it would be in a developer portal.
//!
//! [`check_body`] emulates the template's request validator: the methods
//! with a `RequestModel` have their body validated, before the api is
//! invoked, against the model of the same name, which is the document's
//! schema (JSON Schema draft 4, as API Gateway speaks it). As in API Gateway,
//! a model applies only to its media type: a body sent as another type is not
//! validated here (the api answers 415), and a request without
//! `Content-Type` counts as `application/json`, the type API Gateway assumes.

use std::sync::LazyLock;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{HeaderValue, Response, header};
use serde_json::Value;

/// The OpenAPI document, as committed at the repository's root.
pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

/// Where the stack serves it.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// The media type every model is registered under (SAM's `RequestModel`).
pub const MODEL_MEDIA_TYPE: &str = "application/json";

/// The model validating each route's body, by route label: the template's
/// `RequestModel` of each event (tests/tests/openapi.rs holds the two equal,
/// and each model equal to the document's schema of that name).
pub const REQUEST_MODELS: &[(&str, &str)] = &[
    ("POST /items", "ItemInput"),
    ("PUT /items/{id}", "ItemInput"),
    ("PATCH /items/{id}", "ItemPatch"),
];

/// `GET /openapi.json`: the document, to anyone (it holds no secret). The
/// deployed API does not serve it: it is published with the repository.
pub fn openapi_route() -> Router {
    Router::new().route(
        OPENAPI_PATH,
        get(|| async {
            let mut response = Response::new(Body::from(OPENAPI_JSON));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }),
    )
}

/// What the gateway's request validator made of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyCheck {
    /// The route has no model, or the body is of another media type.
    NotValidated,
    /// The body is JSON and valid against the route's model.
    Valid,
    /// The body is not JSON or breaks the model: API Gateway's
    /// `BAD_REQUEST_BODY` (400), the api is not invoked.
    Invalid,
}

/// A model as the validator holds it.
struct Model {
    route: &'static str,
    validator: jsonschema::Validator,
}

/// The compiled models. The document is a constant and a test compiles
/// every model, so the error never happens; if it did, every body of a
/// validated route would be refused: fail closed.
static MODELS: LazyLock<Result<Vec<Model>, String>> = LazyLock::new(compile_models);

fn compile_models() -> Result<Vec<Model>, String> {
    let document: Value = serde_json::from_str(OPENAPI_JSON).map_err(|e| e.to_string())?;
    REQUEST_MODELS
        .iter()
        .map(|(route, name)| {
            let schema = document_schema(&document, name)
                .ok_or_else(|| format!("the document has no schema {name}"))?;
            let validator = jsonschema::draft4::new(schema).map_err(|e| e.to_string())?;
            Ok(Model { route, validator })
        })
        .collect()
}

/// The schema `name` of the document's `components/schemas`.
pub fn document_schema<'a>(document: &'a Value, name: &str) -> Option<&'a Value> {
    document.get("components")?.get("schemas")?.get(name)
}

/// Whether every model compiles (for start-up checks and tests).
pub fn models_compile() -> Result<(), String> {
    MODELS.as_ref().map(|_| ()).map_err(Clone::clone)
}

/// Whether a request's `Content-Type` selects the models' media type:
/// compared on the essence (parameters such as `charset` do not count, nor
/// does case), and absent means `application/json`.
fn selects_model(content_type: Option<&str>) -> bool {
    match content_type {
        None => true,
        Some(value) => value
            .split(';')
            .next()
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(MODEL_MEDIA_TYPE)),
    }
}

/// Validates the body of a request to `route` (a route label) as the
/// template's request validator does.
pub fn check_body(route: &str, content_type: Option<&str>, body: &[u8]) -> BodyCheck {
    if !REQUEST_MODELS.iter().any(|(r, _)| *r == route) || !selects_model(content_type) {
        return BodyCheck::NotValidated;
    }
    let Ok(models) = MODELS.as_ref() else {
        return BodyCheck::Invalid;
    };
    let Some(model) = models.iter().find(|m| m.route == route) else {
        return BodyCheck::Invalid;
    };
    match serde_json::from_slice::<Value>(body) {
        Ok(instance) if model.validator.is_valid(&instance) => BodyCheck::Valid,
        _ => BodyCheck::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_compiles_from_the_served_document() {
        assert_eq!(models_compile(), Ok(()));
    }

    #[test]
    fn the_served_document_is_an_openapi_document_of_this_api() {
        let doc: Value = serde_json::from_str(OPENAPI_JSON).unwrap_or_default();
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
        assert!(doc["paths"]["/items/{id}"].is_object());
    }

    #[test]
    fn a_body_breaking_its_model_is_invalid_and_a_valid_one_passes() {
        let json = Some("application/json");
        assert_eq!(
            check_body("POST /items", json, br#"{"name":"milk","tags":["a"]}"#),
            BodyCheck::Valid
        );
        for bad in [
            &br#"{"tags":["a"]}"#[..],
            br#"{"name":""}"#,
            br#"{"name":"a","colour":"red"}"#,
            br#"["name"]"#,
            b"{not json",
            b"",
        ] {
            assert_eq!(
                check_body("POST /items", json, bad),
                BodyCheck::Invalid,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn a_patch_may_omit_the_name_and_remove_unknown_members() {
        let json = Some("application/json");
        let route = "PATCH /items/{id}";
        assert_eq!(check_body(route, json, br#"{}"#), BodyCheck::Valid);
        assert_eq!(
            check_body(route, json, br#"{"colour":null}"#),
            BodyCheck::Valid
        );
        assert_eq!(
            check_body(route, json, br#"{"colour":"red"}"#),
            BodyCheck::Invalid
        );
        assert_eq!(
            check_body(route, json, br#"{"name":null}"#),
            BodyCheck::Invalid
        );
    }

    #[test]
    fn only_the_models_media_type_and_no_type_at_all_are_validated() {
        let bad = br#"{"name":""}"#;
        assert_eq!(check_body("POST /items", None, bad), BodyCheck::Invalid);
        assert_eq!(
            check_body("POST /items", Some("Application/JSON; charset=utf-8"), bad),
            BodyCheck::Invalid
        );
        assert_eq!(
            check_body("POST /items", Some("text/plain"), bad),
            BodyCheck::NotValidated
        );
        assert_eq!(
            check_body(
                "PATCH /items/{id}",
                Some("application/merge-patch+json"),
                bad
            ),
            BodyCheck::NotValidated
        );
    }

    #[test]
    fn routes_without_a_model_are_not_validated() {
        for route in ["GET /items", "GET /items/{id}", "DELETE /items/{id}"] {
            assert_eq!(
                check_body(route, Some("application/json"), b"{oops"),
                BodyCheck::NotValidated,
                "{route}"
            );
        }
    }
}
