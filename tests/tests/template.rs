//! The invariants of `template.yaml` that `sam validate`, cfn-lint and
//! checkov cannot know, because they need the code or a deployment's
//! history: every route of `policies::ROUTES` is served behind the
//! authorizer, each function's environment is exactly what its code reads,
//! no IAM statement grants a wildcard action or names one that does not
//! exist, retained resources do not outlive a failed first deploy, the
//! machine client gets exactly the scopes the grant table knows, and every
//! binary the template builds exists in the workspace. What SAM generates
//! (the stage, its ordering, the deployment) is checked on the translation
//! by `scripts/check-transformed.py`.
//!
//! The template is read with `include_str!`, so editing it re-runs these
//! tests. CloudFormation's short-form tags (`!Ref`, `!GetAtt`, `!Sub`) parse
//! as tagged values; [`untag`] looks through them.

// Test code: a panic is how a failure is reported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use policies::PermissionSet;
use serde_yaml_ng::{Mapping, Value};

const TEMPLATE: &str = include_str!("../../template.yaml");

/// Every variable the api reads, from the api crate itself.
const API_VARIABLES: &[&str] = api::config::VARIABLES;

/// Actions that have no resource-level permissions, so `"*"` is the only
/// resource they can be granted on.
const RESOURCELESS_ACTIONS: &[&str] = &["xray:PutTraceSegments", "xray:PutTelemetryRecords"];

fn template() -> Value {
    serde_yaml_ng::from_str(TEMPLATE).expect("template.yaml is YAML")
}

/// The value under a short-form tag (`!Ref X` → `X`), or the value itself.
fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => &t.value,
        v => v,
    }
}

fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    untag(v).as_mapping().and_then(|m| m.get(key)).map(untag)
}

/// The value under `key`, tags kept.
fn raw<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    untag(v).as_mapping().and_then(|m| m.get(key))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = v;
    for key in path {
        v = get(v, key)?;
    }
    v.as_str()
}

fn resources(t: &Value) -> &Mapping {
    get(t, "Resources")
        .and_then(Value::as_mapping)
        .expect("Resources")
}

/// `(logical id, resource)` of every resource of `kind`.
fn of_type<'a>(t: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| str_at(r, &["Type"]) == Some(kind))
        .map(|(id, r)| (id.as_str().expect("logical id"), r))
        .collect()
}

/// The logical id a `!Ref X` / `{Ref: X}` names.
fn ref_target(v: &Value) -> Option<&str> {
    match v {
        Value::Tagged(t) if t.tag == "Ref" => t.value.as_str(),
        Value::Mapping(m) => m.get("Ref").and_then(Value::as_str),
        _ => None,
    }
}

/// The logical id a `!GetAtt X.Arn` / `{Fn::GetAtt: [X, Arn]}` names.
fn getatt_arn_target(v: &Value) -> Option<&str> {
    let target = match v {
        Value::Tagged(t) if t.tag == "GetAtt" => t.value.as_str()?.strip_suffix(".Arn")?,
        Value::Mapping(m) => match m.get("Fn::GetAtt")?.as_sequence()?.as_slice() {
            [id, attr] if attr.as_str() == Some("Arn") => id.as_str()?,
            _ => return None,
        },
        _ => return None,
    };
    Some(target)
}

/// The cargo-lambda binary a function is built from.
fn binary_of(function: &Value) -> Option<&str> {
    str_at(function, &["Metadata", "BuildProperties", "Binary"])
}

/// The function built from `binary`.
fn function_built_from<'a>(t: &'a Value, binary: &str) -> (&'a str, &'a Value) {
    let found: Vec<_> = of_type(t, "AWS::Serverless::Function")
        .into_iter()
        .filter(|(_, f)| binary_of(f) == Some(binary))
        .collect();
    match found.as_slice() {
        [one] => *one,
        other => panic!(
            "expected one function built from {binary}, found {}",
            other.len()
        ),
    }
}

fn env_names(function: &Value) -> BTreeSet<String> {
    let vars = get(function, "Properties")
        .and_then(|p| get(p, "Environment"))
        .and_then(|e| get(e, "Variables"))
        .and_then(Value::as_mapping)
        .expect("Environment.Variables");
    vars.iter()
        .map(|(k, v)| {
            let name = k.as_str().expect("variable name").to_owned();
            // The code counts an empty value as unset.
            assert_ne!(
                untag(v).as_str(),
                Some(""),
                "{name} is set to an empty value"
            );
            name
        })
        .collect()
}

/// API Gateway's spelling of a template path: `{id}` → `*`, as in ROUTES.
fn route_path(template_path: &str) -> String {
    template_path
        .split('/')
        .map(|seg| {
            if seg.starts_with('{') && seg.ends_with('}') {
                "*"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn every_route_of_the_table_is_served_behind_the_token_authorizer() {
    let t = template();
    let apis = of_type(&t, "AWS::Serverless::Api");
    let [(api_id, api)] = apis.as_slice() else {
        panic!("expected one AWS::Serverless::Api, found {}", apis.len());
    };
    let props = get(api, "Properties").expect("Api properties");
    // An OpenAPI body would bypass the events checked below.
    assert!(get(props, "DefinitionBody").is_none() && get(props, "DefinitionUri").is_none());

    // Without it SAM deploys a second, unlogged and unthrottled stage "Stage".
    assert!(
        str_at(props, &["OpenApiVersion"]).is_some(),
        "OpenApiVersion is set"
    );

    let auth = get(props, "Auth").expect("Api Auth");
    let default = str_at(auth, &["DefaultAuthorizer"]).expect("a DefaultAuthorizer");
    let authorizer = get(auth, "Authorizers")
        .and_then(|a| get(a, default))
        .expect("the default authorizer is defined");
    assert_eq!(str_at(authorizer, &["FunctionPayloadType"]), Some("TOKEN"));
    assert_eq!(
        str_at(authorizer, &["Identity", "Header"]),
        Some("Authorization")
    );
    let (authorizer_fn, _) = function_built_from(&t, "authorizer");
    assert_eq!(
        raw(authorizer, "FunctionArn").and_then(getatt_arn_target),
        Some(authorizer_fn),
        "the default authorizer runs the authorizer binary"
    );

    let (api_fn, _) = function_built_from(&t, "api");
    let mut served = BTreeSet::new();
    for (fn_id, function) in of_type(&t, "AWS::Serverless::Function") {
        let Some(events) = get(function, "Properties")
            .and_then(|p| get(p, "Events"))
            .and_then(Value::as_mapping)
        else {
            continue;
        };
        for (name, event) in events {
            let name = name.as_str().unwrap_or("?");
            if str_at(event, &["Type"]) != Some("Api") {
                continue;
            }
            let ep = get(event, "Properties").expect("event properties");
            // Without RestApiId SAM creates an implicit API with no authorizer.
            assert_eq!(
                raw(ep, "RestApiId").and_then(ref_target),
                Some(*api_id),
                "{fn_id}.{name} is on the secured API"
            );
            if let Some(a) = str_at(ep, &["Auth", "Authorizer"]) {
                assert_eq!(a, default, "{fn_id}.{name} overrides the authorizer");
            }
            let method = str_at(ep, &["Method"]).expect("Method").to_uppercase();
            let path = route_path(str_at(ep, &["Path"]).expect("Path"));
            assert_eq!(fn_id, api_fn, "{method} {path} is served by the api");
            assert!(
                served.insert((method, path)),
                "{fn_id}.{name} is a duplicate"
            );
        }
    }

    let routes: BTreeSet<_> = policies::ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    // Both ways: no route of the table is missing, and nothing outside the
    // table (which the authorizer's policies would never allow) is exposed.
    assert_eq!(served, routes);
}

#[test]
fn the_authorizer_is_given_exactly_the_variables_it_reads() {
    let t = template();
    assert!(
        get(&t, "Globals")
            .and_then(|g| get(g, "Function"))
            .and_then(|f| get(f, "Environment"))
            .is_none(),
        "no global environment: each function gets only its own variables"
    );
    let (_, f) = function_built_from(&t, "authorizer");
    let want: BTreeSet<String> = authorizer::config::VARIABLES
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(env_names(f), want);
}

#[test]
fn the_api_is_given_exactly_the_variables_it_reads() {
    let t = template();
    let (_, f) = function_built_from(&t, "api");
    let want: BTreeSet<String> = API_VARIABLES.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(env_names(f), want);
}

/// Every IAM policy statement anywhere in the template, with where it is.
fn statements(v: &Value, at: &str, out: &mut Vec<(String, Value)>) {
    match untag(v) {
        Value::Mapping(m) => {
            for (k, child) in m {
                let key = k.as_str().unwrap_or("?");
                let here = format!("{at}.{key}");
                if key == "Statement" {
                    match untag(child) {
                        Value::Sequence(s) => {
                            out.extend(s.iter().map(|st| (here.clone(), untag(st).clone())))
                        }
                        st => out.push((here, st.clone())),
                    }
                } else {
                    statements(child, &here, out);
                }
            }
        }
        Value::Sequence(s) => {
            for (i, child) in s.iter().enumerate() {
                statements(child, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn strings(v: Option<&Value>) -> Vec<&Value> {
    match v.map(untag) {
        None => vec![],
        Some(Value::Sequence(s)) => s.iter().map(untag).collect(),
        Some(one) => vec![one],
    }
}

#[test]
fn no_iam_statement_grants_a_wildcard_action_or_resource_it_need_not() {
    let t = template();
    let mut all = Vec::new();
    statements(&t, "", &mut all);
    assert!(all.len() >= 6, "found the statements ({})", all.len());
    for (at, st) in &all {
        assert!(
            get(st, "NotAction").is_none(),
            "{at}: NotAction grants by exclusion"
        );
        assert!(
            get(st, "NotResource").is_none(),
            "{at}: NotResource grants by exclusion"
        );
        let actions = strings(get(st, "Action"));
        assert!(!actions.is_empty(), "{at}: a statement without Action");
        for a in &actions {
            let a = a
                .as_str()
                .unwrap_or_else(|| panic!("{at}: Action {a:?} is not a string"));
            assert!(!a.contains('*'), "{at}: wildcard action {a}");
        }
        let star_resource = strings(get(st, "Resource"))
            .iter()
            .any(|r| r.as_str().is_some_and(|r| r.contains('*')));
        // A Deny narrows what others grant (in a resource policy, `*` is the
        // resource the policy is attached to); only grants must be narrow.
        let grants = get(st, "Effect").and_then(Value::as_str) != Some("Deny");
        if star_resource && grants {
            for a in &actions {
                let a = a.as_str().unwrap_or_default();
                assert!(
                    RESOURCELESS_ACTIONS.contains(&a),
                    "{at}: {a} on a wildcard resource, though it supports resource-level permissions"
                );
            }
        }
    }
}

#[test]
fn every_function_role_is_written_out_in_the_template() {
    // SAM's `Policies` and managed policies would grant statements this test
    // file never sees; every function's role is a resource here instead.
    let t = template();
    for (id, f) in of_type(&t, "AWS::Serverless::Function") {
        let props = get(f, "Properties").expect("properties");
        assert!(get(props, "Policies").is_none(), "{id} uses SAM Policies");
        let role = raw(props, "Role")
            .and_then(getatt_arn_target)
            .unwrap_or_else(|| panic!("{id}: Role is !GetAtt <role>.Arn"));
        let role = resources(&t)
            .get(role)
            .unwrap_or_else(|| panic!("{id}: role {role} is in the template"));
        assert_eq!(str_at(role, &["Type"]), Some("AWS::IAM::Role"));
        let managed = get(role, "Properties").and_then(|p| get(p, "ManagedPolicyArns"));
        assert!(managed.is_none(), "{id}: its role has managed policies");
    }
}

/// The logical ids that `function`'s role grants actions of `service` on
/// (`service:` prefix), one set per statement.
fn granted(t: &Value, function: &Value, service: &str) -> Vec<BTreeSet<String>> {
    let role = get(function, "Properties")
        .and_then(|p| raw(p, "Role"))
        .and_then(getatt_arn_target)
        .expect("role");
    let mut st = Vec::new();
    statements(&resources(t)[role], role, &mut st);
    st.iter()
        .filter(|(_, s)| {
            strings(get(s, "Action"))
                .iter()
                .any(|a| a.as_str().is_some_and(|a| a.starts_with(service)))
        })
        .map(|(_, s)| {
            // Raw, not untagged: the tag says whether it is a Ref or a GetAtt.
            let res: Vec<&Value> = match raw(s, "Resource") {
                Some(Value::Sequence(seq)) => seq.iter().collect(),
                Some(one) => vec![one],
                None => vec![],
            };
            res.into_iter()
                .map(|r| {
                    ref_target(r)
                        .or_else(|| getatt_arn_target(r))
                        .unwrap_or_else(|| panic!("{service} on something not in the stack: {r:?}"))
                        .to_owned()
                })
                .collect()
        })
        .collect()
}

#[test]
fn each_function_reads_only_its_own_secrets_and_the_api_only_its_table() {
    let t = template();
    let set = |ids: &[&str]| ids.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
    for (binary, service, want) in [
        (
            "authorizer",
            "secretsmanager:",
            set(&["PartnerKeysSecret", "UserUsageKeySecret"]),
        ),
        ("authorizer", "dynamodb:", set(&[])),
        ("api", "dynamodb:", set(&["ItemsTable"])),
        ("api", "secretsmanager:", set(&["CursorKeySecret"])),
    ] {
        let (_, f) = function_built_from(&t, binary);
        let grants = granted(&t, f, service);
        assert!(
            grants.len() <= 1,
            "{binary}: at most one {service} statement"
        );
        assert_eq!(
            grants.into_iter().next().unwrap_or_default(),
            want,
            "{binary}: {service}"
        );
    }
}

#[test]
fn no_function_environment_holds_a_secret_value_only_secret_ids_it_may_read() {
    let t = template();
    for binary in ["authorizer", "api"] {
        let (_, f) = function_built_from(&t, binary);
        let vars = get(f, "Properties")
            .and_then(|p| get(p, "Environment"))
            .and_then(|e| get(e, "Variables"))
            .and_then(Value::as_mapping)
            .expect("Environment.Variables");
        let readable = granted(&t, f, "secretsmanager:")
            .into_iter()
            .next()
            .unwrap_or_default();
        for (name, value) in vars {
            let name = name.as_str().unwrap();
            let text = serde_yaml_ng::to_string(value).unwrap();
            // A dynamic reference is resolved into the configuration, where
            // GetFunctionConfiguration hands it to anyone who may read it.
            assert!(
                !text.contains("{{resolve:"),
                "{binary}: {name} resolves a secret into the environment"
            );
            assert!(
                !name.ends_with("_KEY"),
                "{binary}: {name} names a key value"
            );
            if name.ends_with("_SECRET_ID") {
                let secret = ref_target(value).unwrap_or_else(|| panic!("{name}: !Ref a secret"));
                assert_eq!(
                    str_at(&resources(&t)[secret], &["Type"]),
                    Some("AWS::SecretsManager::Secret"),
                    "{name}"
                );
                assert!(readable.contains(secret), "{binary} may not read {secret}");
            }
        }
    }
    // Nor an output, nor a parameter's default.
    let outputs = serde_yaml_ng::to_string(get(&t, "Outputs").unwrap()).unwrap();
    assert!(!outputs.contains("{{resolve:"));
    for (name, p) in get(&t, "Parameters").and_then(Value::as_mapping).unwrap() {
        let default = get(p, "Default").map(|d| serde_yaml_ng::to_string(d).unwrap());
        assert!(
            !default.is_some_and(|d| d.contains("{{resolve:") || d.len() > 64),
            "{name:?} has a default that could be a secret"
        );
    }
}

#[test]
fn the_identity_source_is_validated_with_the_one_credential_pattern() {
    let t = template();
    let (_, api) = of_type(&t, "AWS::Serverless::Api")[0];
    let identity = str_at(
        api,
        &[
            "Properties",
            "Auth",
            "Authorizers",
            "TokenAuthorizer",
            "Identity",
            "ValidationExpression",
        ],
    );
    assert_eq!(identity, Some(policies::AUTHORIZATION_PATTERN));
}

#[test]
fn only_the_authorizer_and_the_operators_may_read_the_registry_and_only_operators_change_it() {
    let t = template();
    let policies = of_type(&t, "AWS::SecretsManager::ResourcePolicy");
    let [(_, policy)] = policies.as_slice() else {
        panic!("one resource policy");
    };
    let props = get(policy, "Properties").unwrap();
    assert_eq!(
        raw(props, "SecretId").and_then(ref_target),
        Some("PartnerKeysSecret")
    );
    assert_eq!(
        get(props, "BlockPublicPolicy").and_then(Value::as_bool),
        Some(true)
    );
    let statements = get(props, "ResourcePolicy")
        .and_then(|d| get(d, "Statement"))
        .and_then(Value::as_sequence)
        .unwrap();
    let text = |v: &Value| serde_yaml_ng::to_string(v).unwrap();
    let deny_except = |action: &str| {
        statements
            .iter()
            .find(|s| {
                get(s, "Effect").and_then(Value::as_str) == Some("Deny")
                    && strings(get(s, "Action"))
                        .iter()
                        .any(|a| a.as_str() == Some(action))
            })
            .map(|s| {
                text(
                    get(s, "Condition")
                        .and_then(|c| get(c, "ArnNotLike"))
                        .unwrap(),
                )
            })
            .unwrap_or_else(|| panic!("no Deny of {action}"))
    };
    let readers = deny_except("secretsmanager:GetSecretValue");
    assert!(readers.contains("AuthorizerRole") && readers.contains("PartnerKeyOperatorArns"));
    for change in [
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
        "secretsmanager:UpdateSecret",
        "secretsmanager:DeleteSecret",
    ] {
        let writers = deny_except(change);
        assert!(writers.contains("PartnerKeyOperatorArns"), "{change}");
        assert!(
            !writers.contains("AuthorizerRole"),
            "{change}: the authorizer only reads"
        );
    }
}

/// `(package directory, binary names)` of every workspace member, from cargo.
fn workspace_binaries(root: &Path) -> Vec<(PathBuf, BTreeSet<String>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let dir = Path::new(p["manifest_path"].as_str().expect("manifest_path"))
                .parent()
                .expect("package directory")
                .to_path_buf();
            let bins = p["targets"]
                .as_array()
                .expect("targets")
                .iter()
                .filter(|t| {
                    t["kind"]
                        .as_array()
                        .is_some_and(|k| k.iter().any(|k| k == "bin"))
                })
                .map(|t| t["name"].as_str().expect("target name").to_owned())
                .collect();
            (dir, bins)
        })
        .collect()
}

#[test]
fn every_function_is_built_from_a_binary_of_the_workspace_for_arm64() {
    let t = template();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .canonicalize()
        .expect("workspace root exists");
    let members = workspace_binaries(&root);
    let functions = of_type(&t, "AWS::Serverless::Function");
    assert_eq!(functions.len(), 2, "the authorizer and the api");
    let globals = get(&t, "Globals").and_then(|g| get(g, "Function"));
    let setting = |f: &Value, key: &str| {
        get(f, "Properties")
            .and_then(|p| get(p, key))
            .or_else(|| globals.and_then(|g| get(g, key)))
            .cloned()
    };
    for (id, f) in functions {
        assert_eq!(
            str_at(f, &["Metadata", "BuildMethod"]),
            Some("rust-cargolambda"),
            "{id}"
        );
        let binary = binary_of(f).unwrap_or_else(|| panic!("{id}: BuildProperties.Binary"));
        let code_uri = str_at(f, &["Properties", "CodeUri"]).expect("CodeUri");
        let dir = root.join(code_uri).canonicalize().expect("CodeUri exists");
        let (_, bins) = members
            .iter()
            .find(|(d, _)| *d == dir)
            .unwrap_or_else(|| panic!("{id}: CodeUri {code_uri} is a workspace member"));
        assert!(
            bins.contains(binary),
            "{id}: {code_uri} has no binary {binary} ({bins:?})"
        );

        assert_eq!(
            setting(f, "Runtime"),
            Some(Value::from("provided.al2023")),
            "{id}"
        );
        assert_eq!(
            setting(f, "Handler"),
            Some(Value::from("bootstrap")),
            "{id}"
        );
        assert_eq!(
            setting(f, "Architectures"),
            Some(Value::Sequence(vec![Value::from("arm64")])),
            "{id}"
        );
    }
}

#[test]
fn the_outputs_a_deployment_needs_are_there() {
    let t = template();
    let outputs = get(&t, "Outputs")
        .and_then(Value::as_mapping)
        .expect("Outputs");
    for name in [
        "ApiUrl",
        "UserPoolId",
        "UserPoolClientId",
        "PartnerKeysSecretArn",
        "TableName",
        "PartnerUsagePlanId",
    ] {
        assert!(outputs.contains_key(name), "output {name}");
    }
}

#[test]
fn api_gateway_answers_its_own_errors_as_json_with_the_cors_header() {
    let t = template();
    let (_, api) = of_type(&t, "AWS::Serverless::Api")[0];
    let props = get(api, "Properties").expect("Api properties");
    // The preflight must stay reachable without credentials.
    assert!(get(props, "Cors").is_some(), "CORS is configured");
    assert_eq!(
        get(props, "Auth")
            .and_then(|a| get(a, "AddDefaultAuthorizerToCorsPreflight"))
            .and_then(Value::as_bool),
        Some(false)
    );
    let responses = get(props, "GatewayResponses").expect("GatewayResponses");
    // 401 (authorizer Unauthorized), 403 (Deny policy), 429 (throttle, quota), 5xx.
    for (kind, status) in [
        ("UNAUTHORIZED", Some("401")),
        ("ACCESS_DENIED", Some("403")),
        ("THROTTLED", Some("429")),
        ("QUOTA_EXCEEDED", Some("429")),
        ("DEFAULT_5XX", None),
    ] {
        let r = get(responses, kind).unwrap_or_else(|| panic!("gateway response {kind}"));
        assert_eq!(str_at(r, &["StatusCode"]), status, "{kind}");
        assert!(
            get(r, "ResponseParameters")
                .and_then(|p| get(p, "Headers"))
                .and_then(|h| get(h, "Access-Control-Allow-Origin"))
                .is_some(),
            "{kind} carries the CORS header"
        );
        let body = str_at(r, &["ResponseTemplates", "application/json"])
            .unwrap_or_else(|| panic!("{kind} has a JSON body"));
        assert!(
            body.starts_with('{') && body.ends_with('}'),
            "{kind}: {body}"
        );
    }
}

#[test]
fn the_table_has_the_keys_and_ttl_the_api_uses_and_outlives_the_stack() {
    let t = template();
    let tables = of_type(&t, "AWS::DynamoDB::Table");
    let [(_, table)] = tables.as_slice() else {
        panic!("expected one table, found {}", tables.len());
    };
    assert_eq!(
        str_at(table, &["DeletionPolicy"]),
        Some("RetainExceptOnCreate")
    );
    assert_eq!(str_at(table, &["UpdateReplacePolicy"]), Some("Retain"));
    let props = get(table, "Properties").expect("table properties");
    let keys: Vec<_> = get(props, "KeySchema")
        .and_then(Value::as_sequence)
        .expect("KeySchema")
        .iter()
        .map(|k| (str_at(k, &["AttributeName"]), str_at(k, &["KeyType"])))
        .collect();
    assert_eq!(
        keys,
        [(Some("pk"), Some("HASH")), (Some("sk"), Some("RANGE"))]
    );
    // The attribute the api's idempotency records carry their expiry in.
    assert_eq!(
        str_at(props, &["TimeToLiveSpecification", "AttributeName"]),
        Some("expiresAt")
    );
    assert_eq!(
        get(props, "PointInTimeRecoverySpecification")
            .and_then(|p| get(p, "PointInTimeRecoveryEnabled"))
            .and_then(Value::as_bool),
        Some(true)
    );
    assert_eq!(str_at(props, &["BillingMode"]), Some("PAY_PER_REQUEST"));
}
/// Every IAM action of the services whose actions the template grants, lower
/// case, from cfn-lint 1.58.0's `cfnlint/data/AdditionalSpecs/Policies.json`
/// (itself generated from AWS's policy generator data; the Service
/// Authorization Reference, https://docs.aws.amazon.com/service-authorization/latest/reference/,
/// lists the same). A new service's list comes from the same file.
const KNOWN_ACTIONS: &[(&str, &str)] = &[
    (
        "dynamodb",
        "\
         associatetablereplica batchgetitem batchwriteitem conditioncheckitem createbackup \
         createglobaltable createglobaltablewitness createtable createtablereplica \
         deletebackup deleteglobaltablewitness deleteitem deleteresourcepolicy deletetable \
         deletetablereplica describebackup describecontinuousbackups \
         describecontributorinsights describeendpoints describeexport describeglobaltable \
         describeglobaltablesettings describeimport describekinesisstreamingdestination \
         describelimits describereservedcapacity describereservedcapacityofferings \
         describestream describetable describetablereplicaautoscaling describetimetolive \
         disablekinesisstreamingdestination enablekinesisstreamingdestination \
         exporttabletopointintime getabacstatus getitem getrecords getresourcepolicy \
         getsharditerator importtable injecterror listbackups listcontributorinsights \
         listexports listglobaltables listimports liststreams listtables listtagsofresource \
         partiqldelete partiqlinsert partiqlselect partiqlupdate \
         purchasereservedcapacityofferings putitem putresourcepolicy query \
         readdataforreplication replicatesettings restoretablefromawsbackup \
         restoretablefrombackup restoretabletopointintime scan searchvectors \
         startawsbackupjob tagresource untagresource updateabacstatus updatecontinuousbackups \
         updatecontributorinsights updateglobaltable updateglobaltablesettings \
         updateglobaltableversion updateitem updatekinesisstreamingdestination updatetable \
         updatetablereplicaautoscaling updatetimetolive writedataforreplication",
    ),
    (
        "logs",
        "\
         associatekmskey associatesourcetos3tableintegration callwithbearertoken \
         cancelexporttask cancelimporttask createdelivery createexporttask createimporttask \
         createloganomalydetector createlogdelivery createloggroup createlogstream \
         createlookuptable createscheduledquery deleteaccountpolicy \
         deletedataprotectionpolicy deletedelivery deletedeliverydestination \
         deletedeliverydestinationpolicy deletedeliverysource deletedestination \
         deleteindexpolicy deleteintegration deleteloganomalydetector deletelogdelivery \
         deleteloggroup deletelogstream deletelookuptable deletemetricfilter \
         deletepipelinerule deletequerydefinition deleteresourcepolicy deleteretentionpolicy \
         deletescheduledquery deletesubscriptionfilter deletesyslogconfiguration \
         deletetransformer describeaccountpolicies describeconfigurationtemplates \
         describedeliveries describedeliverydestinations describedeliverysources \
         describedestinations describeexporttasks describefieldindexes \
         describeimporttaskbatches describeimporttasks describeindexpolicies \
         describeloggroups describelogstreams describelookuptables describemetricfilters \
         describequeries describequerydefinitions describeresourcepolicies \
         describesubscriptionfilters disassociatekmskey \
         disassociatesourcefroms3tableintegration filterlogevents getdataprotectionpolicy \
         getdelivery getdeliverydestination getdeliverydestinationpolicy getdeliverysource \
         getintegration getloganomalydetector getlogdelivery getlogevents getlogfields \
         getloggroupfields getlogrecord getlookuptable getqueryresults getscheduledquery \
         getscheduledqueryhistory getstoragetierpolicy gettransformer integratewithdataset \
         integratewiths3table link listaggregateloggroupsummaries listanomalies \
         listentitiesforloggroup listintegrations listloganomalydetectors listlogdeliveries \
         listloggroups listloggroupsforentity listloggroupsforquery listscheduledqueries \
         listsourcesfors3tableintegration listsyslogconfigurations listtagsforresource \
         listtagsloggroup processwithpipeline putaccountpolicy putbearertokenauthentication \
         putdataprotectionpolicy putdeliverydestination putdeliverydestinationpolicy \
         putdeliverysource putdestination putdestinationpolicy putindexpolicy putintegration \
         putlogevents putloggroupdeletionprotection putmetricfilter putpipelinerule \
         putquerydefinition putresourcepolicy putretentionpolicy putstoragetierpolicy \
         putsubscriptionfilter putsyslogconfiguration puttransformer startlivetail startquery \
         stoplivetail stopquery tagloggroup tagresource testmetricfilter testtransformer \
         unmask untagloggroup untagresource updateanomaly updatedeliveryconfiguration \
         updateloganomalydetector updatelogdelivery updatelookuptable updatescheduledquery",
    ),
    (
        "secretsmanager",
        "\
         batchgetsecretvalue cancelrotatesecret createsecret deleteresourcepolicy \
         deletesecret describesecret getrandompassword getresourcepolicy getsecretvalue \
         listsecrets listsecretversionids putresourcepolicy putsecretvalue \
         removeregionsfromreplication replicatesecrettoregions restoresecret rotatesecret \
         stopreplicationtoreplica tagresource untagresource updatesecret \
         updatesecretversionstage validateresourcepolicy",
    ),
    (
        "sts",
        "\
         assumerole assumerolewithsaml assumerolewithwebidentity assumeroot \
         decodeauthorizationmessage getaccesskeyinfo getcalleridentity \
         getdelegatedaccesstoken getfederationtoken getservicebearertoken getsessiontoken \
         getwebidentitytoken setcontext setsourceidentity taggetwebidentitytoken tagsession",
    ),
    (
        "xray",
        "\
         batchgettraces batchgettracesummarybyid canceltraceretrieval creategroup \
         createsamplingrule deletegroup deleteresourcepolicy deletesamplingrule \
         getdistincttracegraphs getencryptionconfig getgroup getgroups getindexingrules \
         getinsight getinsightevents getinsightimpactgraph getinsightsummaries \
         getretrievedtracesgraph getsamplingrules getsamplingstatisticsummaries \
         getsamplingtargets getservicegraph gettimeseriesservicestatistics gettracegraph \
         gettracesegmentdestination gettracesummaries link listresourcepolicies \
         listretrievedtraces listtagsforresource putencryptionconfig putresourcepolicy \
         putspans putspansforindexing puttelemetryrecords puttracesegments \
         starttraceretrieval tagresource untagresource updategroup updateindexingrule \
         updatesamplingrule updatetracesegmentdestination",
    ),
];

/// `service:action` for every IAM action of `service` in [`KNOWN_ACTIONS`],
/// lower case (IAM compares action names case-insensitively); `None` for a
/// service the list does not cover.
fn known_actions(service: &str) -> Option<BTreeSet<String>> {
    KNOWN_ACTIONS
        .iter()
        .find(|(s, _)| *s == service)
        .map(|(_, actions)| {
            actions
                .split_ascii_whitespace()
                .map(|a| format!("{service}:{a}"))
                .collect()
        })
}

#[test]
fn no_iam_statement_names_an_action_that_does_not_exist() {
    // An action IAM does not know grants nothing, silently: the permission
    // the code needs is then missing at run time (dynamodb:TransactWriteItems
    // was one; transactions are authorized by their items' own actions).
    let t = template();
    let mut all = Vec::new();
    statements(&t, "", &mut all);
    let mut checked = 0;
    for (at, st) in &all {
        for a in strings(get(st, "Action")) {
            let a = a.as_str().expect("Action is a string");
            let (service, _) = a
                .split_once(':')
                .unwrap_or_else(|| panic!("{at}: {a} is not service:action"));
            let known = known_actions(service).unwrap_or_else(|| {
                panic!("{at}: {a}: add {service}'s actions to KNOWN_ACTIONS (see its source)")
            });
            assert!(
                known.contains(&a.to_ascii_lowercase()),
                "{at}: {a} is not an IAM action of {service}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "checked the actions ({checked})");
}

/// `(logical id, resource)` of every resource with a `DeletionPolicy` that
/// keeps it.
fn retained(t: &Value) -> Vec<(&str, &Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| {
            matches!(
                str_at(r, &["DeletionPolicy"]),
                Some("Retain" | "RetainExceptOnCreate" | "Snapshot")
            )
        })
        .map(|(id, r)| (id.as_str().expect("logical id"), r))
        .collect()
}

#[test]
fn retained_resources_are_kept_except_when_their_first_deploy_rolls_back() {
    // Retain also keeps what a failed *first* deploy created: a user pool, a
    // table and secrets nobody uses, and a stack in ROLLBACK_COMPLETE that
    // `sam deploy` cannot update. RetainExceptOnCreate deletes them in that
    // one case and keeps them in every other.
    let t = template();
    // The one exception: a role that the region's API Gateway logging
    // setting names. Deleting the Account resource leaves the setting in
    // place, so after any failure past it the setting may name the role.
    let logging_roles: BTreeSet<&str> = of_type(&t, "AWS::ApiGateway::Account")
        .iter()
        .filter_map(|(_, a)| {
            get(a, "Properties")
                .and_then(|p| raw(p, "CloudWatchRoleArn"))
                .and_then(getatt_arn_target)
        })
        .collect();
    let kept = retained(&t);
    assert!(kept.len() >= 4, "found the retained resources ({kept:?})");
    for (id, r) in kept {
        let policy = str_at(r, &["DeletionPolicy"]);
        if logging_roles.contains(id) {
            assert_eq!(
                policy,
                Some("Retain"),
                "{id}: the logging setting may name it"
            );
        } else {
            assert_eq!(policy, Some("RetainExceptOnCreate"), "{id}");
        }
        assert_eq!(
            str_at(r, &["UpdateReplacePolicy"]),
            Some("Retain"),
            "{id}: a replacement must keep the old one too"
        );
        // CloudFormation cannot delete a resource whose own deletion
        // protection is on: the rollback of a failed first deploy would stop
        // in ROLLBACK_FAILED instead of deleting it.
        let props = get(r, "Properties");
        assert_ne!(
            props.and_then(|p| str_at(p, &["DeletionProtection"])),
            Some("ACTIVE"),
            "{id}: deletion protection would block the rollback"
        );
        assert_ne!(
            props
                .and_then(|p| get(p, "DeletionProtectionEnabled"))
                .and_then(Value::as_bool),
            Some(true),
            "{id}: deletion protection would block the rollback"
        );
    }
    // What holds data is among them: users, items, partner keys.
    let (registry, _) = function_built_from(&t, "authorizer");
    let registry_secret = get(&resources(&t)[registry], "Properties")
        .and_then(|p| get(p, "Environment"))
        .and_then(|e| get(e, "Variables"))
        .and_then(|v| raw(v, "API_KEYS_SECRET_ID"))
        .and_then(ref_target)
        .expect("API_KEYS_SECRET_ID is a !Ref");
    let kept: BTreeSet<&str> = retained(&t).into_iter().map(|(id, _)| id).collect();
    for (id, _) in of_type(&t, "AWS::Cognito::UserPool")
        .into_iter()
        .chain(of_type(&t, "AWS::DynamoDB::Table"))
    {
        assert!(kept.contains(id), "{id} holds data and is not retained");
    }
    assert!(kept.contains(registry_secret), "{registry_secret}");
}

#[test]
fn the_region_logging_role_setting_is_only_changed_when_the_deployer_says_so() {
    // One AWS::ApiGateway::Account per region and account: another stack may
    // own it. No default, so the guided deploy asks and a bare `sam deploy`
    // refuses, and the question says how to tell.
    let t = template();
    let accounts = of_type(&t, "AWS::ApiGateway::Account");
    let [(id, account)] = accounts.as_slice() else {
        panic!(
            "expected one AWS::ApiGateway::Account, found {}",
            accounts.len()
        );
    };
    let condition =
        str_at(account, &["Condition"]).unwrap_or_else(|| panic!("{id} is conditional"));
    let cond = get(&t, "Conditions")
        .and_then(|c| raw(c, condition))
        .expect("the condition is defined");
    let Value::Tagged(eq) = cond else {
        panic!("{condition} is an !Equals")
    };
    assert_eq!(eq.tag, "Equals");
    let args = eq.value.as_sequence().expect("!Equals [a, b]");
    let param = args.iter().find_map(ref_target).expect("!Ref PARAM");
    assert!(
        args.iter().any(|a| a.as_str() == Some("true")),
        "{condition} holds for \"true\""
    );
    let spec = get(&t, "Parameters")
        .and_then(|p| get(p, param))
        .expect("the parameter");
    assert!(get(spec, "Default").is_none(), "{param} has no default");
    let description = str_at(spec, &["Description"]).expect("a description");
    assert!(
        description.contains("aws apigateway get-account"),
        "{description}"
    );
}

#[test]
fn parameters_that_cost_money_say_so() {
    // The guided deploy shows names and defaults only; the description is
    // what the console, `aws cloudformation get-template-summary` and
    // docs/DEPLOY.md show, and it must name the cost.
    let t = template();
    let params = get(&t, "Parameters").expect("Parameters");
    for name in ["ThreatProtection", "AuthDomainPrefix"] {
        let description = str_at(params, &[name, "Description"]).expect("a description");
        assert!(
            description.contains("COSTS MONEY")
                && description.contains("https://aws.amazon.com/cognito/pricing/"),
            "{name}: {description}"
        );
    }
}

/// The logical ids of the app clients that `COGNITO_CLIENT_IDS` names when
/// `condition` is `holds`: `!Ref C`, `!Join [",", [...]]` and `!If`.
fn client_ids_named(v: &Value, condition: &str, holds: bool) -> Vec<String> {
    match v {
        Value::Tagged(t) if t.tag == "Ref" => vec![t.value.as_str().expect("!Ref X").to_owned()],
        Value::Tagged(t) if t.tag == "If" => {
            let args = t.value.as_sequence().expect("!If [c, a, b]");
            assert_eq!(
                args[0].as_str(),
                Some(condition),
                "the machine client's condition"
            );
            client_ids_named(&args[if holds { 1 } else { 2 }], condition, holds)
        }
        Value::Tagged(t) if t.tag == "Join" => {
            let args = t.value.as_sequence().expect("!Join [sep, [...]]");
            assert_eq!(args[0].as_str(), Some(","), "comma-separated");
            args[1]
                .as_sequence()
                .expect("a list")
                .iter()
                .flat_map(|x| client_ids_named(x, condition, holds))
                .collect()
        }
        other => panic!("COGNITO_CLIENT_IDS: unexpected {other:?}"),
    }
}

#[test]
fn the_machine_client_gets_exactly_the_items_scopes_and_the_authorizer_accepts_it() {
    let t = template();
    let servers = of_type(&t, "AWS::Cognito::UserPoolResourceServer");
    let [(server_id, server)] = servers.as_slice() else {
        panic!("expected one resource server, found {}", servers.len());
    };
    let identifier = str_at(server, &["Properties", "Identifier"]).expect("Identifier");
    let scopes: BTreeSet<String> = get(server, "Properties")
        .and_then(|p| get(p, "Scopes"))
        .and_then(Value::as_sequence)
        .expect("Scopes")
        .iter()
        .map(|s| {
            format!(
                "{identifier}/{}",
                str_at(s, &["ScopeName"]).expect("ScopeName")
            )
        })
        .collect();
    // The resource server's scopes are the grant table's, all of it.
    let granted: PermissionSet = scopes
        .iter()
        .map(|s| policies::scope_permission(s).unwrap_or_else(|| panic!("{s} grants nothing")))
        .collect();
    assert_eq!(granted, PermissionSet::ALL);

    let machines: Vec<_> = of_type(&t, "AWS::Cognito::UserPoolClient")
        .into_iter()
        .filter(|(_, c)| {
            strings(get(c, "Properties").and_then(|p| get(p, "AllowedOAuthFlows")))
                .iter()
                .any(|f| f.as_str() == Some("client_credentials"))
        })
        .collect();
    let [(machine_id, machine)] = machines.as_slice() else {
        panic!(
            "expected one client_credentials client, found {}",
            machines.len()
        );
    };
    let props = get(machine, "Properties").expect("properties");
    let allowed: BTreeSet<String> = strings(get(props, "AllowedOAuthScopes"))
        .iter()
        .map(|s| s.as_str().expect("a scope").to_owned())
        .collect();
    assert_eq!(allowed, scopes, "{machine_id}: exactly the items scopes");
    assert_eq!(
        get(props, "GenerateSecret").and_then(Value::as_bool),
        Some(true)
    );
    assert_eq!(
        get(props, "AllowedOAuthFlowsUserPoolClient").and_then(Value::as_bool),
        Some(true)
    );
    // A user signing in through it would get aws.cognito.signin.user.admin.
    let flows: Vec<_> = strings(get(props, "ExplicitAuthFlows"))
        .iter()
        .map(|f| f.as_str().expect("a flow"))
        .collect();
    assert_eq!(
        flows,
        ["ALLOW_REFRESH_TOKEN_AUTH"],
        "{machine_id}: no user sign-in"
    );
    // Scope strings are not references: only DependsOn orders it after them.
    let depends: Vec<_> = strings(raw(machine, "DependsOn"))
        .iter()
        .filter_map(|d| d.as_str())
        .collect();
    assert!(
        depends.contains(server_id),
        "{machine_id} DependsOn {server_id}"
    );

    // Optional, with its token endpoint, and then accepted by the authorizer.
    let condition = str_at(machine, &["Condition"]).expect("the machine client is optional");
    let domains = of_type(&t, "AWS::Cognito::UserPoolDomain");
    assert!(
        domains
            .iter()
            .any(|(_, d)| str_at(d, &["Condition"]) == Some(condition)),
        "a user pool domain (the /oauth2/token endpoint) exists with {machine_id}"
    );
    let (authorizer, _) = function_built_from(&t, "authorizer");
    let ids = get(&resources(&t)[authorizer], "Properties")
        .and_then(|p| get(p, "Environment"))
        .and_then(|e| get(e, "Variables"))
        .and_then(|v| raw(v, "COGNITO_CLIENT_IDS"))
        .expect("COGNITO_CLIENT_IDS");
    let on = client_ids_named(ids, condition, true);
    let off = client_ids_named(ids, condition, false);
    assert!(on.iter().any(|c| c == machine_id), "{on:?}");
    assert!(
        !off.iter().any(|c| c == machine_id),
        "{off:?} names a client that does not exist"
    );
    for client in of_type(&t, "AWS::Cognito::UserPoolClient") {
        if client.0 != *machine_id {
            assert!(on.iter().any(|c| c == client.0) && off.iter().any(|c| c == client.0));
        }
    }
}

/// `(metric name, sorted dimension names)` of every series the functions
/// write, from `telemetry::emf`'s lists (each function's tests show every
/// name of its list in a line it really wrote).
fn emitted_series() -> BTreeSet<(String, Vec<String>)> {
    let mut out = BTreeSet::new();
    for set in telemetry::emf::authorizer::SETS
        .iter()
        .chain(telemetry::emf::api::SETS.iter())
    {
        for dims in set.dimensions {
            let mut dims: Vec<String> = dims.iter().map(|d| (*d).to_owned()).collect();
            dims.sort();
            for (name, _) in set.metrics {
                out.insert(((*name).to_owned(), dims.clone()));
            }
        }
    }
    out
}

/// The metrics AWS publishes for the functions that alarms may watch.
const AWS_LAMBDA_METRICS: &[&str] = &["Errors", "Throttles", "Duration", "Invocations"];

/// Checks one metric reference: ours must be a series the code writes, in
/// the namespace parameter; AWS's must be a Lambda metric of a function.
fn check_metric(
    at: &str,
    namespace: &str,
    name: &str,
    dims: &[String],
    ours: &BTreeSet<(String, Vec<String>)>,
) {
    match namespace {
        "MetricsNamespace" => {
            let mut dims = dims.to_vec();
            dims.sort();
            assert!(
                ours.contains(&(name.to_owned(), dims.clone())),
                "{at}: {name} with dimensions {dims:?} is not a series the code writes"
            );
        }
        "AWS/Lambda" => {
            assert!(
                AWS_LAMBDA_METRICS.contains(&name),
                "{at}: AWS/Lambda {name}"
            );
            assert_eq!(dims, ["FunctionName"], "{at}");
        }
        other => panic!("{at}: namespace {other} is neither the metrics namespace nor AWS/Lambda"),
    }
}

/// The namespace of an alarm's metric: the parameter's name for `!Ref
/// MetricsNamespace`, or the literal.
fn namespace_of(v: &Value) -> String {
    ref_target(v)
        .map(str::to_owned)
        .or_else(|| untag(v).as_str().map(str::to_owned))
        .expect("a namespace")
}

fn dimension_names(metric: &Value) -> Vec<String> {
    get(metric, "Dimensions")
        .and_then(Value::as_sequence)
        .map(|ds| {
            ds.iter()
                .map(|d| str_at(d, &["Name"]).expect("dimension name").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_alarm_and_dashboard_widget_watches_a_metric_the_code_writes() {
    let t = template();
    let ours = emitted_series();
    let alarms = of_type(&t, "AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 9, "{} alarms", alarms.len());
    let mut watched = BTreeSet::new();
    for (id, alarm) in &alarms {
        let props = get(alarm, "Properties").unwrap();
        if let Some(name) = str_at(props, &["MetricName"]) {
            let ns = namespace_of(raw(props, "Namespace").unwrap());
            check_metric(id, &ns, name, &dimension_names(props), &ours);
            watched.insert(name.to_owned());
        }
        for m in get(props, "Metrics")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            if let Some(metric) = get(m, "MetricStat").and_then(|s| get(s, "Metric")) {
                let name = str_at(metric, &["MetricName"]).unwrap();
                let ns = namespace_of(raw(metric, "Namespace").unwrap());
                check_metric(id, &ns, name, &dimension_names(metric), &ours);
                watched.insert(name.to_owned());
            }
        }
        // Every alarm notifies the optional topic.
        assert!(
            raw(props, "AlarmActions").is_some(),
            "{id}: no AlarmActions"
        );
    }
    for required in [
        "Errors",
        "JwksFetchFailures",
        "RegistryUnreadable",
        "Decisions",
        "Requests",
        "StoreThrottles",
        "Throttles",
        "Duration",
    ] {
        assert!(watched.contains(required), "no alarm watches {required}");
    }

    // The dashboard's body is JSON inside !Sub: every metric row names the
    // namespace placeholder (ours) or AWS/Lambda.
    let (_, dashboard) = of_type(&t, "AWS::CloudWatch::Dashboard")[0];
    let body = get(dashboard, "Properties")
        .and_then(|p| get(p, "DashboardBody"))
        .and_then(Value::as_sequence)
        .and_then(|s| s[0].as_str())
        .expect("DashboardBody: !Sub [body, vars]");
    let doc: serde_json::Value = serde_json::from_str(body).expect("the dashboard body is JSON");
    let mut rows = 0;
    for w in doc["widgets"].as_array().unwrap() {
        for row in w["properties"]["metrics"].as_array().into_iter().flatten() {
            let row = row.as_array().unwrap();
            let strings: Vec<&str> = row.iter().filter_map(serde_json::Value::as_str).collect();
            let ns = match strings[0] {
                "${Namespace}" => "MetricsNamespace",
                other => other,
            };
            let dims: Vec<String> = strings[2..]
                .iter()
                .step_by(2)
                .map(|s| (*s).to_owned())
                .collect();
            check_metric("dashboard", ns, strings[1], &dims, &ours);
            rows += 1;
        }
        if w["type"] == "alarm" {
            assert_eq!(
                w["properties"]["alarms"].as_array().unwrap().len(),
                alarms.len(),
                "the dashboard shows every alarm"
            );
        }
    }
    assert!(rows >= 20, "{rows} metric rows");
}

#[test]
fn a_saved_query_follows_one_request_through_the_three_log_groups() {
    let t = template();
    let queries = of_type(&t, "AWS::Logs::QueryDefinition");
    let [(_, q)] = queries.as_slice() else {
        panic!("one saved query");
    };
    let groups: BTreeSet<&str> = get(q, "Properties")
        .and_then(|p| get(p, "LogGroupNames"))
        .and_then(Value::as_sequence)
        .unwrap()
        .iter()
        .filter_map(ref_target)
        .collect();
    assert_eq!(
        groups,
        BTreeSet::from(["ApiAccessLogGroup", "AuthorizerLogGroup", "ApiLogGroup"])
    );
    let query = str_at(q, &["Properties", "QueryString"]).unwrap();
    for field in ["requestId", "apiRequestId", "xrayTraceId"] {
        assert!(query.contains(field), "{field}");
    }
    // The access log carries the ids the query joins on.
    let (_, api) = of_type(&t, "AWS::Serverless::Api")[0];
    let format = str_at(api, &["Properties", "AccessLogSetting", "Format"]).unwrap();
    for var in [
        "$context.requestId",
        "$context.xrayTraceId",
        "$context.awsEndpointRequestId",
    ] {
        assert!(format.contains(var), "{var}");
    }
}

#[test]
fn trusted_issuers_are_a_json_parameter_passed_to_the_authorizer_none_by_default() {
    let t = template();
    let spec = get(&t, "Parameters")
        .and_then(|p| get(p, "TrustedIssuers"))
        .expect("a TrustedIssuers parameter");
    assert_eq!(str_at(spec, &["Type"]), Some("String"));
    let default = str_at(spec, &["Default"]).expect("a default");
    assert_eq!(default, "[]");
    let description = str_at(spec, &["Description"]).expect("a description");
    for field in authorizer::config::trusted_issuers::FIELDS {
        assert!(description.contains(field), "the description names {field}");
    }
    let (_, f) = function_built_from(&t, "authorizer");
    let value = get(f, "Properties")
        .and_then(|p| get(p, "Environment"))
        .and_then(|e| get(e, "Variables"))
        .and_then(|v| raw(v, "TRUSTED_ISSUERS"))
        .expect("TRUSTED_ISSUERS");
    assert_eq!(ref_target(value), Some("TrustedIssuers"));
    // The default is what the authorizer reads as "the pool alone".
    let config = authorizer::Config::from_pairs(&[
        ("COGNITO_USER_POOL_ID", "us-east-1_Template1"),
        ("COGNITO_CLIENT_IDS", "client1"),
        ("TRUSTED_ISSUERS", default),
    ])
    .expect("the default parses");
    assert!(config.trusted_issuers.is_empty());
}
