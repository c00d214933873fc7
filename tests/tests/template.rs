//! The invariants of `template.yaml` that `sam validate`, cfn-lint and
//! checkov cannot know, because they need the code or a deployment's
//! history: every route of `policies::ROUTES` is served behind the
//! authorizer, each function's environment is exactly what its code reads,
//! no IAM statement grants a wildcard action or names one that does not
//! exist, retained resources do not outlive a failed first deploy, the
//! machine client gets exactly the scopes the grant table knows, every
//! binary the template builds exists in the workspace, every alarm watches
//! a metric that is really published for this stack and can notify someone
//! (its topic's key lets CloudWatch in), the 5xx-share alarms need volume,
//! each secret is readable by its function alone and keeps its policy as
//! long as itself, the operators are exact ARNs, the optional web ACL
//! guards the stage, and nothing resets the key source. What SAM generates
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

/// Wildcard actions the template may grant: each is the statement AWS
/// documents for the case, word for word. `kms:GenerateDataKey*` is SNS's
/// key policy statement for AWS services publishing to an encrypted topic
/// (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html),
/// here CloudWatch alarms.
const DOCUMENTED_WILDCARD_ACTIONS: &[&str] = &["kms:GenerateDataKey*"];

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

/// Every IAM policy statement anywhere in the template, with where it is:
/// the `Statement` of a policy document (which has a `Version`; a WAF
/// rule's `Statement` is something else).
fn statements(v: &Value, at: &str, out: &mut Vec<(String, Value)>) {
    match untag(v) {
        Value::Mapping(m) => {
            let policy_document = m.contains_key("Version");
            for (k, child) in m {
                let key = k.as_str().unwrap_or("?");
                let here = format!("{at}.{key}");
                if key == "Statement" && policy_document {
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
            assert!(
                !a.contains('*') || DOCUMENTED_WILDCARD_ACTIONS.contains(&a),
                "{at}: wildcard action {a}"
            );
        }
        let star_resource = strings(get(st, "Resource"))
            .iter()
            .any(|r| r.as_str().is_some_and(|r| r.contains('*')));
        // A Deny narrows what others grant (in a resource policy, `*` is the
        // resource the policy is attached to); only grants must be narrow.
        // A key policy's `*` is the key itself, the only resource it can name.
        let grants = get(st, "Effect").and_then(Value::as_str) != Some("Deny");
        let key_policy = at.contains(".KeyPolicy.");
        if star_resource && grants && !key_policy {
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
    let policy = resource_policy_of(&t, "PartnerKeysSecret");
    let props = get(policy, "Properties").unwrap();
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
                // Exact ARNs only: a pattern operator would let a wildcard
                // back in.
                text(
                    get(s, "Condition")
                        .and_then(|c| get(c, "ArnNotEquals"))
                        .unwrap_or_else(|| panic!("{action}: the exception is ArnNotEquals")),
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
        // Or anyone allowed these could remove the protection itself.
        "secretsmanager:PutResourcePolicy",
        "secretsmanager:DeleteResourcePolicy",
    ] {
        let writers = deny_except(change);
        assert!(writers.contains("PartnerKeyOperatorArns"), "{change}");
        assert!(
            !writers.contains("AuthorizerRole"),
            "{change}: the authorizer only reads"
        );
    }
}

/// The one resource policy attached to `secret`.
fn resource_policy_of<'a>(t: &'a Value, secret: &str) -> &'a Value {
    let found: Vec<_> = of_type(t, "AWS::SecretsManager::ResourcePolicy")
        .into_iter()
        .filter(|(_, p)| {
            get(p, "Properties")
                .and_then(|p| raw(p, "SecretId"))
                .and_then(ref_target)
                == Some(secret)
        })
        .collect();
    match found.as_slice() {
        [(_, one)] => one,
        other => panic!("{secret}: {} resource policies", other.len()),
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
        "PartnerUsagePlanStandard",
        "PartnerUsagePlanPremium",
    ] {
        assert!(outputs.contains_key(name), "output {name}");
    }
}

#[test]
fn each_partner_tier_has_a_tagged_usage_plan_with_its_own_parameters_and_an_output() {
    let t = template();
    let outputs = get(&t, "Outputs")
        .and_then(Value::as_mapping)
        .expect("Outputs");
    let params = get(&t, "Parameters").expect("Parameters");
    let mut tiers = BTreeSet::new();
    let mut params_used = BTreeSet::new();
    for (name, output) in outputs {
        // `partner-keys --tier NAME` reads the output PartnerUsagePlan<Name>.
        let Some(tier) = name
            .as_str()
            .and_then(|n| n.strip_prefix("PartnerUsagePlan"))
            .map(str::to_ascii_lowercase)
        else {
            continue;
        };
        let plan_id = raw(output, "Value").and_then(ref_target).expect("a Ref");
        let plan = resources(&t).get(plan_id).expect("the plan");
        assert_eq!(str_at(plan, &["Type"]), Some("AWS::ApiGateway::UsagePlan"));
        let props = get(plan, "Properties").expect("plan properties");
        let tags = get(props, "Tags")
            .and_then(Value::as_sequence)
            .expect("Tags");
        assert!(
            tags.iter()
                .any(|tag| str_at(tag, &["Key"]) == Some("partner-tier")
                    && str_at(tag, &["Value"]) == Some(tier.as_str())),
            "{plan_id} is not tagged partner-tier: {tier}"
        );
        for path in [
            ["Throttle", "RateLimit"],
            ["Throttle", "BurstLimit"],
            ["Quota", "Limit"],
            ["Quota", "Period"],
        ] {
            let value = get(props, path[0]).and_then(|v| raw(v, path[1]));
            let param = value
                .and_then(ref_target)
                .unwrap_or_else(|| panic!("{plan_id} {path:?} is not a parameter"));
            assert!(get(params, param).is_some(), "{param}");
            assert!(
                params_used.insert(param.to_owned()),
                "{param} shared by two tiers"
            );
        }
        let stage = get(props, "ApiStages")
            .and_then(Value::as_sequence)
            .and_then(|s| s.first())
            .expect("ApiStages");
        assert_eq!(raw(stage, "ApiId").and_then(ref_target), Some("Api"));
        tiers.insert(tier);
    }
    assert!(
        tiers.contains("standard") && tiers.contains("premium"),
        "{tiers:?}"
    );
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
        "kms",
        "\
         cancelkeydeletion connectcustomkeystore createalias createcustomkeystore creategrant \
         createkey decrypt deletealias deletecustomkeystore deleteimportedkeymaterial \
         derivesharedsecret describecustomkeystores describekey disablekey disablekeyrotation \
         disconnectcustomkeystore enablekey enablekeyrotation encrypt generatedatakey \
         generatedatakeypair generatedatakeypairwithoutplaintext generatedatakeywithoutplaintext \
         generatemac generaterandom getkeylastusage getkeypolicy getkeyrotationstatus \
         getparametersforimport getpublickey importkeymaterial listaliases listgrants \
         listkeypolicies listkeyrotations listkeys listresourcetags listretirablegrants \
         putkeypolicy reencryptfrom reencryptto replicatekey retiregrant revokegrant \
         rotatekeyondemand schedulekeydeletion sign synchronizemultiregionkey tagresource \
         untagresource updatealias updatecustomkeystore updatekeydescription updateprimaryregion \
         verify verifymac",
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
            // A documented wildcard must still name actions that exist.
            let a_lower = a.to_ascii_lowercase();
            let exists = match a_lower.strip_suffix('*') {
                Some(prefix) => known.iter().any(|k| k.starts_with(prefix)),
                None => known.contains(&a_lower),
            };
            assert!(exists, "{at}: {a} is not an IAM action of {service}");
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
    for (name, prices) in [
        (
            "ThreatProtection",
            "https://aws.amazon.com/cognito/pricing/",
        ),
        (
            "AuthDomainPrefix",
            "https://aws.amazon.com/cognito/pricing/",
        ),
        // The alarm topic's customer managed KMS key.
        ("AlarmEmail", "https://aws.amazon.com/kms/pricing/"),
        ("WafEnabled", "https://aws.amazon.com/waf/pricing/"),
    ] {
        let description = str_at(params, &[name, "Description"]).expect("a description");
        assert!(
            description.contains("COSTS MONEY") && description.contains(prices),
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

/// The metrics AWS publishes, by namespace, that alarms and the dashboard
/// may watch, with the dimension names each is published with
/// (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html,
/// https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html,
/// https://docs.aws.amazon.com/waf/latest/developerguide/waf-metrics.html).
const AWS_METRICS: &[(&str, &[&str], &[&str])] = &[
    (
        "AWS/Lambda",
        &["Errors", "Throttles", "Duration", "Invocations"],
        &["FunctionName"],
    ),
    (
        "AWS/ApiGateway",
        &[
            "Count",
            "4XXError",
            "5XXError",
            "Latency",
            "IntegrationLatency",
        ],
        &["ApiName", "Stage"],
    ),
    (
        "AWS/WAFV2",
        &[
            "AllowedRequests",
            "BlockedRequests",
            "CountedRequests",
            "PassedRequests",
        ],
        &["Region", "Rule", "WebACL"],
    ),
];

/// A template value as the text it stands for: `!Ref X` as `${X}`, a
/// `!Sub` string as written, a plain string as itself.
fn as_sub_text(v: &Value) -> Option<String> {
    if let Some(target) = ref_target(v) {
        return Some(format!("${{{target}}}"));
    }
    match v {
        Value::Tagged(t) if t.tag == "Sub" => t.value.as_str().map(str::to_owned),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// What the dimension values of AWS's metrics must be to name this stack's
/// resources: `(namespace, dimension) → the values that do`, in the
/// `${...}` form of [`as_sub_text`].
fn aws_dimension_values(t: &Value) -> Vec<(&'static str, &'static str, BTreeSet<String>)> {
    let functions = of_type(t, "AWS::Serverless::Function")
        .into_iter()
        .map(|(id, _)| format!("${{{id}}}"))
        .collect();
    let (_, api) = of_type(t, "AWS::Serverless::Api")[0];
    let api_props = get(api, "Properties").expect("Api properties");
    let one = |v: Option<&Value>| BTreeSet::from_iter(v.and_then(as_sub_text));
    let acls = of_type(t, "AWS::WAFv2::WebACL");
    let acl_names = acls
        .iter()
        .filter_map(|(_, a)| get(a, "Properties").and_then(|p| raw(p, "Name")))
        .filter_map(as_sub_text)
        .collect();
    // A rule's metric, or ALL (the whole web ACL).
    let mut rules: BTreeSet<String> = acls
        .iter()
        .filter_map(|(_, a)| get(a, "Properties").and_then(|p| get(p, "Rules")))
        .filter_map(Value::as_sequence)
        .flatten()
        .filter_map(|r| str_at(r, &["VisibilityConfig", "MetricName"]))
        .map(str::to_owned)
        .collect();
    rules.insert("ALL".to_owned());
    vec![
        ("AWS/Lambda", "FunctionName", functions),
        ("AWS/ApiGateway", "ApiName", one(raw(api_props, "Name"))),
        ("AWS/ApiGateway", "Stage", one(raw(api_props, "StageName"))),
        ("AWS/WAFV2", "WebACL", acl_names),
        ("AWS/WAFV2", "Rule", rules),
        (
            "AWS/WAFV2",
            "Region",
            BTreeSet::from(["${AWS::Region}".to_owned()]),
        ),
    ]
}

/// Checks one metric reference: ours must be a series the code writes, in
/// the namespace parameter; AWS's must be a metric AWS publishes in its
/// namespace, with exactly its dimensions, each naming this stack's
/// resource (an alarm on another API's name watches nothing, silently).
fn check_metric(
    at: &str,
    namespace: &str,
    name: &str,
    dims: &[(String, String)],
    t: &Value,
    ours: &BTreeSet<(String, Vec<String>)>,
) {
    let mut names: Vec<String> = dims.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    if namespace == "MetricsNamespace" {
        assert!(
            ours.contains(&(name.to_owned(), names.clone())),
            "{at}: {name} with dimensions {names:?} is not a series the code writes"
        );
        return;
    }
    let Some((_, metrics, dimensions)) = AWS_METRICS.iter().find(|(ns, ..)| *ns == namespace)
    else {
        panic!("{at}: namespace {namespace} is neither the metrics namespace nor one of AWS's");
    };
    assert!(metrics.contains(&name), "{at}: {namespace} {name}");
    assert_eq!(names, *dimensions, "{at}: {namespace} {name}");
    let values = aws_dimension_values(t);
    for (dim, value) in dims {
        let (.., allowed) = values
            .iter()
            .find(|(ns, d, _)| *ns == namespace && d == dim)
            .expect("a known dimension");
        assert!(
            allowed.contains(value),
            "{at}: {namespace} {name} {dim}={value} names none of this stack's {allowed:?}"
        );
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

/// `(name, value as text)` of a metric's dimensions.
fn dimensions_of(metric: &Value) -> Vec<(String, String)> {
    get(metric, "Dimensions")
        .and_then(Value::as_sequence)
        .map(|ds| {
            ds.iter()
                .map(|d| {
                    let name = str_at(d, &["Name"]).expect("dimension name").to_owned();
                    let value = raw(d, "Value")
                        .and_then(as_sub_text)
                        .unwrap_or_else(|| panic!("dimension {name}: a value"));
                    (name, value)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A metric an alarm watches.
struct Watched {
    namespace: String,
    name: String,
    /// `(name, value as text)`.
    dims: Vec<(String, String)>,
}

/// Every metric an alarm watches.
fn alarm_metrics(alarm: &Value) -> Vec<Watched> {
    let props = get(alarm, "Properties").expect("alarm properties");
    let mut out = Vec::new();
    if let Some(name) = str_at(props, &["MetricName"]) {
        let ns = namespace_of(raw(props, "Namespace").expect("Namespace"));
        out.push(Watched {
            namespace: ns,
            name: name.to_owned(),
            dims: dimensions_of(props),
        });
    }
    for m in get(props, "Metrics")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        if let Some(metric) = get(m, "MetricStat").and_then(|s| get(s, "Metric")) {
            let name = str_at(metric, &["MetricName"]).expect("MetricName");
            let ns = namespace_of(raw(metric, "Namespace").expect("Namespace"));
            out.push(Watched {
                namespace: ns,
                name: name.to_owned(),
                dims: dimensions_of(metric),
            });
        }
    }
    out
}

/// The dashboard's body with its `!Sub` variables filled in, once with every
/// condition true and once with every condition false (an `!If` variable
/// adds or leaves out what an optional part shows), `${Namespace}` becoming
/// `${MetricsNamespace}` as in the alarms.
fn dashboard_bodies(t: &Value) -> Vec<serde_json::Value> {
    let (_, dashboard) = of_type(t, "AWS::CloudWatch::Dashboard")[0];
    let sub = get(dashboard, "Properties")
        .and_then(|p| get(p, "DashboardBody"))
        .and_then(Value::as_sequence)
        .expect("DashboardBody: !Sub [body, vars]");
    let body = sub[0].as_str().expect("the body");
    let vars = sub
        .get(1)
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default();
    fn render(v: &Value, holds: bool) -> String {
        match v {
            Value::Tagged(t) if t.tag == "If" => {
                let args = t.value.as_sequence().expect("!If [c, a, b]");
                render(&args[if holds { 1 } else { 2 }], holds)
            }
            v => as_sub_text(v).unwrap_or_else(|| panic!("a dashboard variable: {v:?}")),
        }
    }
    [true, false]
        .into_iter()
        .map(|holds| {
            let mut text = body.to_owned();
            for (name, value) in &vars {
                let name = name.as_str().expect("variable name");
                text = text.replace(&format!("${{{name}}}"), &render(value, holds));
            }
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("the dashboard body (conditions {holds}) is JSON: {e}"))
        })
        .collect()
}

#[test]
fn every_alarm_and_dashboard_widget_watches_a_metric_the_code_writes() {
    let t = template();
    let ours = emitted_series();
    let alarms = of_type(&t, "AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 9, "{} alarms", alarms.len());
    let mut watched = BTreeSet::new();
    for (id, alarm) in &alarms {
        for w in alarm_metrics(alarm) {
            check_metric(id, &w.namespace, &w.name, &w.dims, &t, &ours);
            watched.insert((w.namespace, w.name));
        }
        // Every alarm notifies the optional topic.
        let props = get(alarm, "Properties").unwrap();
        assert!(
            raw(props, "AlarmActions").is_some(),
            "{id}: no AlarmActions"
        );
    }
    for (ns, required) in [
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "Duration"),
        ("AWS/ApiGateway", "5XXError"),
        ("MetricsNamespace", "JwksFetchFailures"),
        ("MetricsNamespace", "RegistryUnreadable"),
        ("MetricsNamespace", "Decisions"),
        ("MetricsNamespace", "Requests"),
        ("MetricsNamespace", "StoreThrottles"),
    ] {
        assert!(
            watched.contains(&(ns.to_owned(), required.to_owned())),
            "no alarm watches {ns} {required}"
        );
    }

    // The dashboard's body is JSON inside !Sub: every metric row names the
    // namespace placeholder (ours) or one of AWS's, with its dimensions.
    for doc in dashboard_bodies(&t) {
        let mut rows = 0;
        for w in doc["widgets"].as_array().unwrap() {
            for row in w["properties"]["metrics"].as_array().into_iter().flatten() {
                let row = row.as_array().unwrap();
                let strings: Vec<&str> = row.iter().filter_map(serde_json::Value::as_str).collect();
                let ns = match strings[0] {
                    "${MetricsNamespace}" => "MetricsNamespace",
                    other => other,
                };
                let dims: Vec<(String, String)> = strings[2..]
                    .chunks(2)
                    .map(|d| (d[0].to_owned(), d[1].to_owned()))
                    .collect();
                check_metric("dashboard", ns, strings[1], &dims, &t, &ours);
                rows += 1;
            }
        }
        assert!(rows >= 20, "{rows} metric rows");
    }
}

#[test]
fn the_dashboard_shows_every_alarm() {
    let t = template();
    let alarms = of_type(&t, "AWS::CloudWatch::Alarm");
    let conditional: BTreeSet<&str> = alarms
        .iter()
        .filter(|(_, a)| str_at(a, &["Condition"]).is_some())
        .map(|(id, _)| *id)
        .collect();
    for (holds, doc) in [true, false].into_iter().zip(dashboard_bodies(&t)) {
        let shown: BTreeSet<String> = doc["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["type"] == "alarm")
            .flat_map(|w| w["properties"]["alarms"].as_array().unwrap().iter())
            .map(|a| {
                let a = a.as_str().expect("an alarm ARN");
                a.strip_prefix("${")
                    .and_then(|a| a.strip_suffix(".Arn}"))
                    .unwrap_or_else(|| panic!("{a} is ${{Alarm.Arn}}"))
                    .to_owned()
            })
            .collect();
        let want: BTreeSet<String> = alarms
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| holds || !conditional.contains(id))
            .map(str::to_owned)
            .collect();
        assert_eq!(shown, want, "with the conditions {holds}");
    }
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

// ------------------------------------------------------ alarm notifications

/// The logical ids every `!Ref X` / `{Ref: X}` under `v` names, both
/// branches of any `!If` included.
fn refs_in(v: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    if let Some(target) = ref_target(v) {
        out.push(target);
        return out;
    }
    match untag(v) {
        Value::Mapping(m) => m.values().for_each(|c| out.extend(refs_in(c))),
        Value::Sequence(s) => s.iter().for_each(|c| out.extend(refs_in(c))),
        _ => {}
    }
    out
}

/// The topics (logical ids) that any alarm notifies, in any state.
fn notified_topics(t: &Value) -> BTreeSet<&str> {
    let mut topics = BTreeSet::new();
    for (_, alarm) in of_type(t, "AWS::CloudWatch::Alarm") {
        let props = get(alarm, "Properties").expect("alarm properties");
        for key in ["AlarmActions", "OKActions", "InsufficientDataActions"] {
            if let Some(actions) = raw(props, key) {
                topics.extend(refs_in(actions));
            }
        }
    }
    topics.retain(|id| *id != "AWS::NoValue");
    topics
}

/// The actions of the statements of `policy` that allow `principal_key`
/// (`Service`, `AWS`) principals whose text contains `principal`.
fn allowed_actions<'a>(policy: &'a Value, principal_key: &str, principal: &str) -> Vec<&'a str> {
    get(policy, "Statement")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter(|s| get(s, "Effect").and_then(Value::as_str) == Some("Allow"))
        .filter(|s| {
            get(s, "Principal")
                .and_then(|p| raw(p, principal_key))
                .is_some_and(|p| serde_yaml_ng::to_string(p).unwrap().contains(principal))
        })
        .flat_map(|s| strings(get(s, "Action")))
        .filter_map(Value::as_str)
        .collect()
}

#[test]
fn every_topic_an_alarm_notifies_is_encrypted_with_a_key_cloudwatch_may_use() {
    // CloudWatch publishes an alarm's notification as the service principal
    // cloudwatch.amazonaws.com. A topic encrypted with the AWS managed key
    // alias/aws/sns (whose policy nobody can change) silently drops every
    // notification: "CloudWatch Alarms does not have authorization to access
    // the SNS topic encryption key" (AWS Knowledge Center, "How do I
    // configure a CloudWatch alarm with an encrypted SNS topic?"). checkov
    // and moto see nothing wrong with it.
    let t = template();
    let topics = notified_topics(&t);
    assert!(!topics.is_empty(), "the alarms notify a topic");
    for topic in topics {
        let r = &resources(&t)[topic];
        assert_eq!(str_at(r, &["Type"]), Some("AWS::SNS::Topic"), "{topic}");
        let key = get(r, "Properties")
            .and_then(|p| raw(p, "KmsMasterKeyId"))
            .unwrap_or_else(|| panic!("{topic} is not encrypted"));
        let text = serde_yaml_ng::to_string(key).unwrap();
        assert!(
            !text.contains("alias/aws/"),
            "{topic} is encrypted with an AWS managed key ({text}), which CloudWatch alarms cannot use"
        );
        let key_id = ref_target(key)
            .or_else(|| getatt_arn_target(key))
            .unwrap_or_else(|| {
                panic!("{topic}: KmsMasterKeyId is a key of this stack, not {text}")
            });
        let k = &resources(&t)[key_id];
        assert_eq!(str_at(k, &["Type"]), Some("AWS::KMS::Key"), "{key_id}");
        let props = get(k, "Properties").expect("key properties");
        assert_eq!(
            get(props, "EnableKeyRotation").and_then(Value::as_bool),
            Some(true),
            "{key_id}: rotation on"
        );
        let policy = get(props, "KeyPolicy").expect("a key policy");
        let cloudwatch = allowed_actions(policy, "Service", "cloudwatch.amazonaws.com");
        for action in ["kms:Decrypt", "kms:GenerateDataKey*"] {
            assert!(
                cloudwatch.contains(&action),
                "{key_id}: cloudwatch.amazonaws.com may not {action} ({cloudwatch:?})"
            );
        }
        // The account keeps the key manageable (a key nobody may change the
        // policy of cannot be repaired), without using it itself.
        let root = allowed_actions(policy, "AWS", ":root");
        for action in [
            "kms:PutKeyPolicy",
            "kms:ScheduleKeyDeletion",
            "kms:DescribeKey",
        ] {
            assert!(
                root.contains(&action),
                "{key_id}: the account may not {action}"
            );
        }
        assert!(
            !root
                .iter()
                .any(|a| a.ends_with("Decrypt") || a.contains("GenerateDataKey")),
            "{key_id}: only CloudWatch encrypts and decrypts with it ({root:?})"
        );
    }
}

#[test]
fn account_global_names_carry_the_region() {
    // Dashboards are global to the account: the same stack name deployed in
    // a second region would take over (or fail on) the first one's.
    let t = template();
    let dashboards = of_type(&t, "AWS::CloudWatch::Dashboard");
    assert!(!dashboards.is_empty());
    for (id, d) in dashboards {
        let name = get(d, "Properties")
            .and_then(|p| raw(p, "DashboardName"))
            .unwrap_or_else(|| panic!("{id} has a name"));
        let text = serde_yaml_ng::to_string(name).unwrap();
        assert!(
            text.contains("${AWS::StackName}") && text.contains("${AWS::Region}"),
            "{id}: {text}"
        );
    }
}

#[test]
fn a_secrets_resource_policy_is_kept_as_long_as_the_secret() {
    // A secret kept by `sam delete` without its resource policy is a secret
    // anyone with identity permissions may read and change.
    let t = template();
    let policies = of_type(&t, "AWS::SecretsManager::ResourcePolicy");
    assert!(!policies.is_empty());
    for (id, policy) in policies {
        let secret = get(policy, "Properties")
            .and_then(|p| raw(p, "SecretId"))
            .and_then(ref_target)
            .unwrap_or_else(|| panic!("{id}: SecretId is a !Ref"));
        let s = &resources(&t)[secret];
        for attribute in ["DeletionPolicy", "UpdateReplacePolicy"] {
            assert_eq!(
                str_at(policy, &[attribute]),
                str_at(s, &[attribute]),
                "{id}: {attribute} as {secret}'s"
            );
        }
    }
}

// ----------------------------------------------------------- secret access

/// Whether a template parameter's `AllowedPattern` accepts `value` (read as
/// a JSON Schema pattern; the template's patterns use nothing whose meaning
/// differs from CloudFormation's Java regular expressions).
fn pattern_accepts(pattern: &str, value: &str) -> bool {
    jsonschema::draft4::new(&serde_json::json!({"type": "string", "pattern": pattern}))
        .expect("the pattern compiles")
        .is_valid(&serde_json::json!(value))
}

#[test]
fn the_operator_list_takes_exact_role_or_user_arns_only() {
    // The registry's policy excepts these principals from its Denies: one
    // pattern (role/Admin*) would hand the registry to every role anyone may
    // create under a matching name. CloudFormation applies a
    // CommaDelimitedList's AllowedPattern to each value.
    let t = template();
    let spec = get(&t, "Parameters")
        .and_then(|p| get(p, "PartnerKeyOperatorArns"))
        .expect("the parameter");
    assert_eq!(str_at(spec, &["Type"]), Some("CommaDelimitedList"));
    assert!(
        get(spec, "Default").is_none(),
        "no default: the deployer names them"
    );
    let pattern = str_at(spec, &["AllowedPattern"]).expect("an AllowedPattern");
    for exact in [
        "arn:aws:iam::123456789012:role/partner-keys-operator",
        "arn:aws:iam::123456789012:role/ops/partner-keys",
        "arn:aws:iam::123456789012:user/alice",
        "arn:aws-cn:iam::123456789012:role/Admin",
        "arn:aws-us-gov:iam::123456789012:role/Admin",
    ] {
        assert!(pattern_accepts(pattern, exact), "{exact} is refused");
    }
    for wide in [
        "*",
        "",
        "arn:aws:iam::123456789012:role/Admin*",
        "arn:aws:iam::123456789012:role/Admin?",
        "arn:aws:iam::123456789012:role/*",
        "arn:aws:iam::*:role/partner-keys-operator",
        "arn:aws:iam::123456789012:*",
        "arn:aws:iam::123456789012:root",
        "arn:aws:sts::123456789012:assumed-role/partner-keys-operator/session",
        "123456789012",
        "arn:aws:iam::123456789012:role/a,arn:aws:iam::123456789012:role/b*",
    ] {
        assert!(!pattern_accepts(pattern, wide), "{wide:?} is accepted");
    }
}

#[test]
fn each_secret_a_function_reads_is_readable_by_that_functions_role_alone() {
    // The identity policy says what a function may read; the secret's own
    // resource policy says that nobody else may, whatever identity policies
    // elsewhere in the account grant. A secret CloudFormation resolves into
    // another resource ({{resolve:...}}, with the deployer's credentials)
    // may also be read by the operators, who deploy.
    let t = template();
    let resolved = serde_yaml_ng::to_string(resources(&t)).unwrap();
    let mut checked = 0;
    for binary in ["authorizer", "api"] {
        let (_, f) = function_built_from(&t, binary);
        let role = get(f, "Properties")
            .and_then(|p| raw(p, "Role"))
            .and_then(getatt_arn_target)
            .expect("role");
        for secret in granted(&t, f, "secretsmanager:").into_iter().flatten() {
            let policy = resource_policy_of(&t, &secret);
            let props = get(policy, "Properties").unwrap();
            assert_eq!(
                get(props, "BlockPublicPolicy").and_then(Value::as_bool),
                Some(true),
                "{secret}"
            );
            let deny = get(props, "ResourcePolicy")
                .and_then(|d| get(d, "Statement"))
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .find(|s| {
                    get(s, "Effect").and_then(Value::as_str) == Some("Deny")
                        && strings(get(s, "Action"))
                            .iter()
                            .any(|a| a.as_str() == Some("secretsmanager:GetSecretValue"))
                })
                .unwrap_or_else(|| panic!("{secret}: no Deny of GetSecretValue"));
            assert_eq!(str_at(deny, &["Principal"]), Some("*"), "{secret}");
            let readers = get(deny, "Condition")
                .and_then(|c| get(c, "ArnNotEquals"))
                .and_then(|c| raw(c, "aws:PrincipalArn"))
                .unwrap_or_else(|| {
                    panic!("{secret}: the exception is ArnNotEquals aws:PrincipalArn")
                });
            let text = serde_yaml_ng::to_string(readers).unwrap();
            assert!(
                text.contains(&format!("{role}.Arn")),
                "{secret}: {role} may not read it"
            );
            let roles: Vec<&str> = of_type(&t, "AWS::IAM::Role")
                .into_iter()
                .map(|(id, _)| id)
                .filter(|id| *id != role && text.contains(&format!("{id}.Arn")))
                .collect();
            assert!(roles.is_empty(), "{secret}: {roles:?} may read it too");
            let by_cloudformation =
                resolved.contains(&format!("{{{{resolve:secretsmanager:${{{secret}}}"));
            assert_eq!(
                text.contains("PartnerKeyOperatorArns"),
                by_cloudformation || secret == "PartnerKeysSecret",
                "{secret}: the operators read it only if they must"
            );
            checked += 1;
        }
    }
    assert_eq!(
        checked, 3,
        "the registry, the users' usage key, the cursor key"
    );
}

// ------------------------------------------------- error alarms and volume

/// CloudWatch metric math, the part the alarms use: numbers, metric and
/// expression ids, `+ - * /`, comparisons, `FILL(x, n)` and
/// `IF(cond, a, b)`, evaluated for one period. `None` is a missing data
/// point; a division by zero gives none either.
mod metric_math {
    use std::collections::BTreeMap;

    pub struct Eval<'a> {
        /// The data points of the metrics, by id (`None`: no data).
        pub metrics: &'a BTreeMap<String, Option<f64>>,
        /// The other expressions of the alarm, by id.
        pub expressions: &'a BTreeMap<String, String>,
    }

    impl Eval<'_> {
        pub fn value(&self, expression: &str) -> Option<f64> {
            let tokens = tokenize(expression);
            let mut p = Parser {
                tokens: &tokens,
                at: 0,
                eval: self,
            };
            let v = p.comparison();
            assert_eq!(p.at, tokens.len(), "trailing input in {expression}");
            v
        }
    }

    fn tokenize(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut chars = s.chars().peekable();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
            } else if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                let mut word = String::new();
                while let Some(&c) = chars
                    .peek()
                    .filter(|c| c.is_ascii_alphanumeric() || **c == '_' || **c == '.')
                {
                    word.push(c);
                    chars.next();
                }
                out.push(word);
            } else if matches!(c, '>' | '<' | '=' | '!') {
                chars.next();
                let mut op = c.to_string();
                if chars.peek() == Some(&'=') {
                    op.push('=');
                    chars.next();
                }
                out.push(op);
            } else {
                out.push(c.to_string());
                chars.next();
            }
        }
        out
    }

    struct Parser<'a> {
        tokens: &'a [String],
        at: usize,
        eval: &'a Eval<'a>,
    }

    impl Parser<'_> {
        fn peek(&self) -> Option<&str> {
            self.tokens.get(self.at).map(String::as_str)
        }

        fn expect(&mut self, token: &str) {
            assert_eq!(self.peek(), Some(token), "metric math: expected {token}");
            self.at += 1;
        }

        fn comparison(&mut self) -> Option<f64> {
            let left = self.sum();
            let op = self
                .peek()
                .filter(|t| matches!(*t, ">" | ">=" | "<" | "<=" | "==" | "!="));
            let Some(op) = op.map(str::to_owned) else {
                return left;
            };
            self.at += 1;
            let right = self.sum();
            let (l, r) = (left?, right?);
            let holds = match op.as_str() {
                ">" => l > r,
                ">=" => l >= r,
                "<" => l < r,
                "<=" => l <= r,
                "==" => l == r,
                _ => l != r,
            };
            Some(f64::from(u8::from(holds)))
        }

        fn sum(&mut self) -> Option<f64> {
            let mut v = self.product();
            while let Some(op) = self
                .peek()
                .filter(|t| matches!(*t, "+" | "-"))
                .map(str::to_owned)
            {
                self.at += 1;
                let r = self.product();
                v = match (v, r) {
                    (Some(a), Some(b)) => Some(if op == "+" { a + b } else { a - b }),
                    _ => None,
                };
            }
            v
        }

        fn product(&mut self) -> Option<f64> {
            let mut v = self.atom();
            while let Some(op) = self
                .peek()
                .filter(|t| matches!(*t, "*" | "/"))
                .map(str::to_owned)
            {
                self.at += 1;
                let r = self.atom();
                v = match (v, r) {
                    (Some(a), Some(b)) if op == "*" => Some(a * b),
                    (Some(a), Some(b)) if b != 0.0 => Some(a / b),
                    _ => None,
                };
            }
            v
        }

        fn atom(&mut self) -> Option<f64> {
            let token = self.peek().expect("metric math: an operand").to_owned();
            self.at += 1;
            match token.as_str() {
                "(" => {
                    let v = self.comparison();
                    self.expect(")");
                    v
                }
                "FILL" => {
                    self.expect("(");
                    let v = self.comparison();
                    self.expect(",");
                    let fill = self.comparison();
                    self.expect(")");
                    v.or(fill)
                }
                "IF" => {
                    self.expect("(");
                    let cond = self.comparison();
                    self.expect(",");
                    let yes = self.comparison();
                    self.expect(",");
                    let no = self.comparison();
                    self.expect(")");
                    match cond {
                        Some(c) if c != 0.0 => yes,
                        Some(_) => no,
                        None => None,
                    }
                }
                t if t.parse::<f64>().is_ok() => t.parse().ok(),
                id => match (self.eval.metrics.get(id), self.eval.expressions.get(id)) {
                    (Some(v), _) => *v,
                    (None, Some(e)) => self.eval.value(e),
                    _ => panic!("metric math: unknown id {id}"),
                },
            }
        }
    }
}

/// A parameter's default as a number.
fn parameter_default(t: &Value, name: &str) -> f64 {
    let d = get(t, "Parameters")
        .and_then(|p| get(p, name))
        .and_then(|p| get(p, "Default"))
        .unwrap_or_else(|| panic!("{name} has a default"));
    d.as_f64()
        .or_else(|| d.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("{name}: a number"))
}

/// A `!Sub` expression with the parameters' defaults in place.
fn with_defaults(t: &Value, text: &str) -> String {
    let mut out = text.to_owned();
    for (name, _) in get(t, "Parameters").and_then(Value::as_mapping).unwrap() {
        let name = name.as_str().unwrap();
        let placeholder = format!("${{{name}}}");
        if out.contains(&placeholder) {
            out = out.replace(&placeholder, &parameter_default(t, name).to_string());
        }
    }
    assert!(!out.contains("${"), "unresolved in {out}");
    out
}

/// Whether `alarm` (a metric math alarm on responses) fires, with the
/// template's defaults, when `errors` of `total` responses in a period were
/// 5xx; `None` when it has no data point.
fn error_rate_alarm_fires(t: &Value, alarm: &Value, total: f64, errors: f64) -> Option<bool> {
    let props = get(alarm, "Properties").unwrap();
    let mut metrics = std::collections::BTreeMap::new();
    let mut expressions = std::collections::BTreeMap::new();
    let mut returned = None;
    for m in get(props, "Metrics").and_then(Value::as_sequence).unwrap() {
        let id = str_at(m, &["Id"]).unwrap().to_owned();
        if let Some(e) = raw(m, "Expression") {
            let e = with_defaults(t, &as_sub_text(e).expect("an expression"));
            if get(m, "ReturnData").and_then(Value::as_bool) != Some(false) {
                returned = Some(e.clone());
            }
            expressions.insert(id, e);
            continue;
        }
        let metric = get(m, "MetricStat").and_then(|s| get(s, "Metric")).unwrap();
        let name = str_at(metric, &["MetricName"]).unwrap();
        let dims = dimensions_of(metric);
        let class = dims
            .iter()
            .find(|(n, _)| n == "statusClass")
            .map(|(_, v)| v.as_str());
        let v = match (name, class) {
            ("5XXError", _) | ("Requests", Some("5xx")) => errors,
            ("Count", _) => total,
            ("Requests", Some("2xx")) => total - errors,
            ("Requests", Some(_)) => 0.0,
            other => panic!("{other:?} in an error-rate alarm"),
        };
        // A count that is zero is no data point at all in CloudWatch.
        metrics.insert(id, (v > 0.0).then_some(v));
    }
    let value = metric_math::Eval {
        metrics: &metrics,
        expressions: &expressions,
    }
    .value(&returned.expect("one expression returns data"))?;
    let threshold = parameter_default(t, ref_target(raw(props, "Threshold").unwrap()).unwrap());
    assert_eq!(
        str_at(props, &["ComparisonOperator"]),
        Some("GreaterThanThreshold")
    );
    Some(value > threshold)
}

#[test]
fn a_crash_of_the_api_and_a_5xx_at_the_gateway_each_fire_an_alarm() {
    // A panic, an out-of-memory kill or a failed cold start writes no
    // request line: only Lambda's Errors sees it. What API Gateway answers
    // itself (an integration failure, a timeout) only its 5XXError sees.
    let t = template();
    let alarms = of_type(&t, "AWS::CloudWatch::Alarm");
    let (api_fn, _) = function_built_from(&t, "api");
    let watches = |ns: &str, metric: &str, dim: (&str, String)| {
        alarms.iter().any(|(_, a)| {
            alarm_metrics(a).iter().any(|w| {
                w.namespace == ns
                    && w.name == metric
                    && w.dims.iter().any(|(d, v)| d == dim.0 && *v == dim.1)
            })
        })
    };
    assert!(
        watches(
            "AWS/Lambda",
            "Errors",
            ("FunctionName", format!("${{{api_fn}}}"))
        ),
        "no alarm on the api function's Errors"
    );
    let (_, api) = of_type(&t, "AWS::Serverless::Api")[0];
    let stage = as_sub_text(raw(get(api, "Properties").unwrap(), "StageName").unwrap()).unwrap();
    assert!(
        watches("AWS/ApiGateway", "5XXError", ("Stage", stage)),
        "no alarm on the stage's 5XXError"
    );
}

#[test]
fn an_error_rate_alarm_needs_volume_before_a_share_of_5xx_fires_it() {
    // The share of 5xx in a quiet period is one 5xx out of one request:
    // 100 %. Each rate alarm fires only once the period had
    // ErrorRateMinRequests responses, and then on the share.
    let t = template();
    let mut rate_alarms = 0;
    for (id, alarm) in of_type(&t, "AWS::CloudWatch::Alarm") {
        let props = get(alarm, "Properties").unwrap();
        let divides = get(props, "Metrics")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(|m| raw(m, "Expression").and_then(as_sub_text))
            .any(|e| e.contains('/'));
        let counts_responses = alarm_metrics(alarm)
            .iter()
            .any(|w| w.name == "5XXError" || w.name == "Requests");
        if !divides || !counts_responses {
            continue;
        }
        rate_alarms += 1;
        let min = parameter_default(&t, "ErrorRateMinRequests");
        for (total, errors, fires) in [
            (1.0, 1.0, false),
            (min - 1.0, min - 1.0, false),
            (min, min, true),
            (1000.0, 200.0, true),
            (1000.0, 10.0, false),
            (1000.0, 0.0, false),
        ] {
            assert_eq!(
                error_rate_alarm_fires(&t, alarm, total, errors).unwrap_or(false),
                fires,
                "{id}: {errors} 5xx of {total} responses"
            );
        }
        assert!(
            !error_rate_alarm_fires(&t, alarm, 0.0, 0.0).unwrap_or(false),
            "{id}: no traffic"
        );
    }
    assert_eq!(rate_alarms, 2, "the api's and the gateway's");
}

// ---------------------------------------------------------------- the edge

/// The rule of the web ACL named `name`.
fn waf_rule<'a>(acl: &'a Value, name: &str) -> &'a Value {
    get(acl, "Properties")
        .and_then(|p| get(p, "Rules"))
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .find(|r| str_at(r, &["Name"]) == Some(name))
        .unwrap_or_else(|| panic!("no rule {name}"))
}

/// The number parameter a rate rule's limit is, checked against WAF's range.
fn limit_parameter<'a>(t: &'a Value, rule: &'a Value) -> &'a str {
    let statement = get(rule, "Statement")
        .and_then(|s| get(s, "RateBasedStatement"))
        .expect("a rate-based rule");
    let param = raw(statement, "Limit")
        .and_then(ref_target)
        .expect("the limit is a parameter");
    let spec = get(t, "Parameters")
        .and_then(|p| get(p, param))
        .expect("the parameter");
    assert_eq!(str_at(spec, &["Type"]), Some("Number"), "{param}");
    // WAF's limits for a rate-based rule: 10 to 2 000 000 000.
    let min = get(spec, "MinValue")
        .and_then(Value::as_i64)
        .expect("MinValue");
    assert!(min >= 10, "{param}: MinValue {min}");
    param
}

#[test]
fn the_optional_web_acl_guards_the_stage_with_managed_rules_and_two_rate_limits() {
    let t = template();
    let acls = of_type(&t, "AWS::WAFv2::WebACL");
    let [(acl_id, acl)] = acls.as_slice() else {
        panic!("expected one web ACL, found {}", acls.len());
    };
    // Off by default: it costs money (parameters_that_cost_money_say_so).
    let condition = str_at(acl, &["Condition"]).expect("the web ACL is optional");
    let Some(Value::Tagged(eq)) = get(&t, "Conditions").and_then(|c| raw(c, condition)) else {
        panic!("{condition} is an !Equals")
    };
    assert_eq!(eq.tag, "Equals");
    let args = eq.value.as_sequence().unwrap();
    let switch = args.iter().find_map(ref_target).expect("!Ref PARAM");
    assert!(args.iter().any(|a| a.as_str() == Some("true")));
    assert_eq!(
        str_at(&t, &["Parameters", switch, "Default"]),
        Some("false"),
        "{switch} is off by default"
    );

    let props = get(acl, "Properties").unwrap();
    assert_eq!(str_at(props, &["Scope"]), Some("REGIONAL"));
    assert!(
        get(props, "DefaultAction")
            .and_then(|a| get(a, "Allow"))
            .is_some(),
        "what no rule blocks goes on to API Gateway"
    );
    // The WebACL dimension of its metrics is the metric name.
    assert_eq!(
        raw(props, "Name").and_then(as_sub_text),
        raw(get(props, "VisibilityConfig").unwrap(), "MetricName").and_then(as_sub_text),
    );

    // The AWS managed rule groups, blocking (not merely counting).
    for group in [
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
    ] {
        let rule = get(props, "Rules")
            .and_then(Value::as_sequence)
            .unwrap()
            .iter()
            .find(|r| str_at(r, &["Statement", "ManagedRuleGroupStatement", "Name"]) == Some(group))
            .unwrap_or_else(|| panic!("no rule uses {group}"));
        assert_eq!(
            str_at(
                rule,
                &["Statement", "ManagedRuleGroupStatement", "VendorName"]
            ),
            Some("AWS")
        );
        assert!(
            get(rule, "OverrideAction")
                .and_then(|o| get(o, "None"))
                .is_some(),
            "{group} blocks"
        );
    }
    // The Common set refuses bodies over 8 KB; the api takes up to 64 KiB
    // and answers 413 above, so that one rule only counts.
    let common = get(props, "Rules")
        .and_then(Value::as_sequence)
        .unwrap()
        .iter()
        .find(|r| {
            str_at(r, &["Statement", "ManagedRuleGroupStatement", "Name"])
                == Some("AWSManagedRulesCommonRuleSet")
        })
        .unwrap();
    let overrides = get(common, "Statement")
        .and_then(|s| get(s, "ManagedRuleGroupStatement"))
        .and_then(|m| get(m, "RuleActionOverrides"))
        .and_then(Value::as_sequence)
        .expect("RuleActionOverrides");
    assert!(overrides.iter().any(|o| {
        str_at(o, &["Name"]) == Some("SizeRestrictions_BODY")
            && get(o, "ActionToUse")
                .and_then(|a| get(a, "Count"))
                .is_some()
    }));
    const { assert!(api::problem::MAX_BODY_BYTES > 8 * 1024) };

    // One rate limit per client address, one per credential (the exact
    // Authorization value, as the authorizer's cache keys on it), each a
    // parameter.
    let per_ip = waf_rule(acl, "rate-per-ip");
    assert_eq!(
        str_at(
            per_ip,
            &["Statement", "RateBasedStatement", "AggregateKeyType"]
        ),
        Some("IP")
    );
    let per_credential = waf_rule(acl, "rate-per-credential");
    let statement = get(per_credential, "Statement")
        .and_then(|s| get(s, "RateBasedStatement"))
        .unwrap();
    assert_eq!(
        str_at(statement, &["AggregateKeyType"]),
        Some("CUSTOM_KEYS")
    );
    let keys = get(statement, "CustomKeys")
        .and_then(Value::as_sequence)
        .unwrap();
    let [key] = keys.as_slice() else {
        panic!("one custom key, the Authorization header")
    };
    assert!(
        str_at(key, &["Header", "Name"]).is_some_and(|h| h.eq_ignore_ascii_case("authorization"))
    );
    let transformations: Vec<_> = get(key, "Header")
        .and_then(|h| get(h, "TextTransformations"))
        .and_then(Value::as_sequence)
        .unwrap()
        .iter()
        .map(|x| str_at(x, &["Type"]))
        .collect();
    assert_eq!(transformations, [Some("NONE")], "the value as sent");
    assert_ne!(
        limit_parameter(&t, per_ip),
        limit_parameter(&t, per_credential)
    );

    // A rate rule answers 429 with a problem body and the CORS origin the
    // gateway's own answers carry.
    let bodies = get(props, "CustomResponseBodies").expect("CustomResponseBodies");
    for rule in [per_ip, per_credential] {
        let response = get(rule, "Action")
            .and_then(|a| get(a, "Block"))
            .and_then(|b| get(b, "CustomResponse"))
            .expect("a custom response");
        // The local stack's emulation answers the same (local/src/waf.rs).
        assert_eq!(
            get(response, "ResponseCode").and_then(Value::as_i64),
            Some(i64::from(local::waf::RATE_LIMITED_STATUS.as_u16()))
        );
        let key = str_at(response, &["CustomResponseBodyKey"]).unwrap();
        assert_eq!(
            str_at(bodies, &[key, "Content"]),
            Some(local::waf::RATE_LIMITED_BODY),
            "the local stack's rate rules answer what the web ACL does"
        );
        assert_eq!(
            str_at(bodies, &[key, "ContentType"]),
            Some("APPLICATION_JSON")
        );
        let body: serde_json::Value =
            serde_json::from_str(str_at(bodies, &[key, "Content"]).unwrap()).unwrap();
        assert_eq!(body["status"], 429);
        assert_eq!(body["title"], "Too Many Requests");
        let origin = get(response, "ResponseHeaders")
            .and_then(Value::as_sequence)
            .unwrap()
            .iter()
            .find(|h| str_at(h, &["Name"]) == Some("Access-Control-Allow-Origin"))
            .and_then(|h| raw(h, "Value"))
            .and_then(ref_target);
        assert_eq!(origin, Some("AllowedOrigin"));
    }

    // Every rule and the ACL publish metrics; priorities are distinct.
    let rules = get(props, "Rules").and_then(Value::as_sequence).unwrap();
    let priorities: BTreeSet<i64> = rules
        .iter()
        .map(|r| get(r, "Priority").and_then(Value::as_i64).unwrap())
        .collect();
    assert_eq!(priorities.len(), rules.len());
    for r in rules.iter().chain([props]) {
        assert_eq!(
            get(r, "VisibilityConfig")
                .and_then(|v| get(v, "CloudWatchMetricsEnabled"))
                .and_then(Value::as_bool),
            Some(true)
        );
    }

    // Associated with the stage, under the same condition.
    let associations = of_type(&t, "AWS::WAFv2::WebACLAssociation");
    let [(_, association)] = associations.as_slice() else {
        panic!("one association");
    };
    assert_eq!(str_at(association, &["Condition"]), Some(condition));
    let a = get(association, "Properties").unwrap();
    assert_eq!(
        raw(a, "WebACLArn").and_then(getatt_arn_target),
        Some(*acl_id)
    );
    let (api_id, _) = of_type(&t, "AWS::Serverless::Api")[0];
    assert_eq!(
        raw(a, "ResourceArn").and_then(as_sub_text).as_deref(),
        Some(
            format!(
                "arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}::/restapis/${{{api_id}}}/stages/${{{api_id}.Stage}}"
            )
            .as_str()
        )
    );

    // An alarm on what it blocks, and the blocked requests on the dashboard.
    let alarmed = of_type(&t, "AWS::CloudWatch::Alarm")
        .into_iter()
        .any(|(_, a)| {
            str_at(a, &["Condition"]) == Some(condition)
                && alarm_metrics(a).iter().any(|w| {
                    w.namespace == "AWS/WAFV2"
                        && w.name == "BlockedRequests"
                        && w.dims.iter().any(|(d, v)| d == "Rule" && v == "ALL")
                })
        });
    assert!(alarmed, "no alarm on BlockedRequests");
    let [with_waf, without] = dashboard_bodies(&t).try_into().unwrap();
    let shows_blocked = |doc: &serde_json::Value| {
        doc["widgets"].as_array().unwrap().iter().any(|w| {
            w["properties"]["metrics"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|row| row[0] == "AWS/WAFV2" && row[1] == "BlockedRequests")
        })
    };
    assert!(shows_blocked(&with_waf) && !shows_blocked(&without));
}

#[test]
fn the_api_key_comes_from_the_authorizer_and_no_update_mode_resets_that() {
    // A usage plan meters the key the authorizer returns only while the
    // REST API's key source is AUTHORIZER; with HEADER every request without
    // an x-api-key header is a 403 and a caller could pick a key. A
    // PutRestApi in overwrite mode resets the literal properties its body
    // does not carry, the key source among them; CloudFormation's default
    // mode (no Mode) keeps the top-level property.
    let t = template();
    let (api_id, api) = of_type(&t, "AWS::Serverless::Api")[0];
    let props = get(api, "Properties").unwrap();
    assert_eq!(str_at(props, &["ApiKeySourceType"]), Some("AUTHORIZER"));
    assert!(
        get(props, "Mode").is_none(),
        "{api_id}: Mode {:?} (overwrite resets the key source on the next body update)",
        get(props, "Mode")
    );
    assert!(
        get(props, "MergeDefinitions").is_none(),
        "{api_id}: SAM's MergeDefinitions drops the request validators"
    );
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
