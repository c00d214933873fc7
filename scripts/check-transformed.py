#!/usr/bin/env python3
"""Checks what SAM turns template.yaml into, offline, with SAM's own translator.

tests/tests/template.rs checks the template as written; this checks the
CloudFormation that is actually deployed, where SAM's generated resources
live:
  - one stage only (SAM adds an unlogged, unthrottled "Stage" stage unless
    OpenApiVersion is set), with access logs, tracing and a throttle;
  - the stage is created after the region's API Gateway logging-role setting
    whenever the stack creates that setting (SetApiGatewayLogsRole=true), and
    the template is still valid when it does not;
  - every deploy creates a new API Gateway deployment (AlwaysDeploy), and
    everything a deployment snapshots is in the RestApi's body, which the
    deployment references, so it is taken after the body's update;
  - every method but OPTIONS carries the TOKEN authorizer and requires an API
    key (so usage plans apply); OPTIONS (the CORS preflight) carries neither
    and is a MOCK integration;
  - every Lambda permission lets only API Gateway invoke, and only from this
    template's API;
  - the REST API's key source is AUTHORIZER and it has no Mode, so no body
    update resets the key source (an overwriting import drops the literal
    properties the body does not carry).
Run with .venv-sam's python: scripts/check-template.sh does.
Usage: check-transformed.py TEMPLATE
"""
import sys
from unittest import mock

import cfn_model
from sam_translate import translate

# The parameters without a default, and the optional parts switched on.
PARAMS = {
    "AllowedOrigin": "https://app.example.com",
    "SetApiGatewayLogsRole": "true",
    "AuthDomainPrefix": "items-example",
    "PartnerKeyOperatorArns": "arn:aws:iam::123456789012:role/partner-keys-operator",
}

# API Gateway resources whose changes only reach callers through a new
# deployment (https://docs.aws.amazon.com/apigateway/latest/developerguide/updating-api.html).
# As separate resources they would be siblings of the deployment, updated in
# parallel with it; in the RestApi's body they come before it.
SNAPSHOTTED_TYPES = {
    "AWS::ApiGateway::Authorizer", "AWS::ApiGateway::DocumentationPart",
    "AWS::ApiGateway::DocumentationVersion", "AWS::ApiGateway::GatewayResponse",
    "AWS::ApiGateway::Method", "AWS::ApiGateway::Model",
    "AWS::ApiGateway::RequestValidator", "AWS::ApiGateway::Resource",
}


def fail(msg):
    sys.exit(f"check-transformed: {msg}")


def translate_at(path, params, now):
    """The translation as `sam deploy` would produce it at Unix time `now`
    (SAM's AlwaysDeploy names the deployment after the time)."""
    with mock.patch("time.time", return_value=float(now)):
        return translate(path, params)


def of_type(resources, kind):
    return {k: v for k, v in resources.items() if v["Type"] == kind}


template_path = sys.argv[1]
out = translate_at(template_path, PARAMS, 1_800_000_000)
resources = out["Resources"]

apis = of_type(resources, "AWS::ApiGateway::RestApi")
if len(apis) != 1:
    fail(f"expected one REST API, found {sorted(apis)}")
(api_id, api), = apis.items()

stages = of_type(resources, "AWS::ApiGateway::Stage")
deployments = of_type(resources, "AWS::ApiGateway::Deployment")
if len(stages) != 1 or any("StageName" in d["Properties"] for d in deployments.values()):
    fail(f"expected exactly one stage, found {sorted(stages)} and deployments naming a stage")
(stage_id, stage_res), = stages.items()
stage = stage_res["Properties"]
for key in ("AccessLogSetting", "TracingEnabled", "MethodSettings"):
    if not stage.get(key):
        fail(f"the stage has no {key}")

# --- The stage waits for the logging-role setting whenever it is created.
accounts = of_type(resources, "AWS::ApiGateway::Account")
if not accounts:
    fail("no AWS::ApiGateway::Account: a fresh region has no logging role for the stage")
for logs_role in ("true", "false"):
    params = cfn_model.parameter_values(out, {**PARAMS, "SetApiGatewayLogsRole": logs_role})
    conditions = cfn_model.evaluate_conditions(out, params)
    try:
        graph = cfn_model.dependency_graph(out, conditions)
        cfn_model.creation_order(graph)
    except cfn_model.TemplateError as e:
        fail(f"with SetApiGatewayLogsRole={logs_role}, CloudFormation would reject the template: {e}")
    created = [a for a in accounts if a in graph]
    if logs_role == "true" and not created:
        fail("SetApiGatewayLogsRole=true creates no account setting")
    waits_for = cfn_model.closure(graph, stage_id)
    for account in created:
        if account not in waits_for:
            fail(f"{stage_id} (access logs) is not ordered after {account}: in a region without a "
                 "logging role it fails with 'CloudWatch Logs role ARN must be set in account settings'")

# --- A new deployment on every deploy, taken after the body it snapshots.
for kind in sorted(SNAPSHOTTED_TYPES):
    if of_type(resources, kind):
        fail(f"{sorted(of_type(resources, kind))} ({kind}) is outside the RestApi body: "
             "the deployment is not ordered after it")
(deployment_id, deployment), = deployments.items()
if deployment["Properties"].get("RestApiId") != {"Ref": api_id}:
    fail(f"{deployment_id} does not reference {api_id}, so it may be taken before the body's update")
later = translate_at(template_path, {**PARAMS, "AllowedOrigin": "https://other.example.com"},
                     1_800_000_060)
(later_deployment, _), = of_type(later["Resources"], "AWS::ApiGateway::Deployment").items()
(_, later_stage), = of_type(later["Resources"], "AWS::ApiGateway::Stage").items()
if later_deployment == deployment_id:
    fail(f"a later deploy (here: AllowedOrigin changed) keeps deployment {deployment_id}: "
         "callers would keep the old CORS origin and gateway responses")
if later_stage["Properties"].get("DeploymentId") != {"Ref": later_deployment}:
    fail("the stage does not move to the new deployment")

# --- The key source survives body updates.
api_props = api["Properties"]
if api_props.get("ApiKeySourceType") != "AUTHORIZER":
    fail(f"{api_id}: ApiKeySourceType is {api_props.get('ApiKeySourceType')!r}, not AUTHORIZER: "
         "usage plans would meter a client-chosen x-api-key")
if "Mode" in api_props:
    fail(f"{api_id}: Mode {api_props['Mode']!r}: an overwriting body update resets the key source "
         "to HEADER; CloudFormation's default mode keeps the top-level property")

# --- Every method behind the authorizer.
body = api["Properties"]["Body"]
schemes = body.get("components", {}).get("securitySchemes") or body.get("securityDefinitions", {})
token = [n for n, s in schemes.items()
         if s.get("x-amazon-apigateway-authorizer", {}).get("type") == "token"]
if len(token) != 1:
    fail(f"expected one TOKEN authorizer, found {token}")
methods = 0
for path, ops in body["paths"].items():
    for method, op in ops.items():
        names = [n for req in op.get("security", []) for n in req]
        if method == "options":
            if names or op["x-amazon-apigateway-integration"]["type"] != "mock":
                fail(f"OPTIONS {path} must be an unauthenticated MOCK preflight")
        elif sorted(names) != sorted(token + ["api_key"]):
            fail(f"{method.upper()} {path} is not behind the TOKEN authorizer with an API key required ({names})")
        else:
            methods += 1
if methods == 0:
    fail("no methods found")

for name, perm in of_type(resources, "AWS::Lambda::Permission").items():
    p = perm["Properties"]
    source = p.get("SourceArn", {})
    sub = source.get("Fn::Sub") if isinstance(source, dict) else None
    scoped = (isinstance(sub, list) and sub[1].get("__ApiId__") == {"Ref": api_id}
              and sub[0].startswith("arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${__ApiId__}/"))
    if p.get("Principal") != "apigateway.amazonaws.com" or not scoped:
        fail(f"{name} does not limit invocation to API Gateway on {api_id}: {p}")

print(f"check-transformed: one stage, after the logging-role setting when created; a new deployment "
      f"per deploy; the key source AUTHORIZER with no update mode; "
      f"{methods} methods behind the TOKEN authorizer requiring an API key; "
      f"{len(of_type(resources, 'AWS::Lambda::Permission'))} permissions scoped to {api_id}")
