#!/usr/bin/env python3
"""Checks what SAM turns template.yaml into, offline, with SAM's own translator.

tests/tests/template.rs checks the template as written; this checks the
CloudFormation that is actually deployed, where SAM's generated resources
live:
  - one stage only (SAM adds an unlogged, unthrottled "Stage" stage unless
    OpenApiVersion is set), with access logs, tracing and a throttle;
  - every method but OPTIONS carries the TOKEN authorizer and requires an API
    key (so usage plans apply); OPTIONS (the CORS preflight) carries neither
    and is a MOCK integration;
  - every Lambda permission lets only API Gateway invoke, and only from this
    template's API.
Run with .venv-sam's python: scripts/check-template.sh does.
Usage: check-transformed.py TEMPLATE
"""
import logging
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template names no managed policy by name; looking one up would
    need IAM, so any attempt is a failure."""

    def load(self):
        sys.exit("check-transformed: SAM tried to look up managed policies (IAM call)")


# SAM logs feature-toggle notes that say nothing about this template.
logging.getLogger("samtranslator").setLevel(logging.ERROR)


def fail(msg):
    sys.exit(f"check-transformed: {msg}")


template = yaml_parse(open(sys.argv[1]).read())
for res in template["Resources"].values():
    # What `sam build`/`sam package` does: local code becomes an S3 location.
    if res["Type"] == "AWS::Serverless::Function":
        res["Properties"]["CodeUri"] = "s3://bucket/key"
out = transform(template, {}, NoManagedPolicies())
resources = out["Resources"]


def of_type(kind):
    return {k: v for k, v in resources.items() if v["Type"] == kind}


apis = of_type("AWS::ApiGateway::RestApi")
if len(apis) != 1:
    fail(f"expected one REST API, found {sorted(apis)}")
(api_id, api), = apis.items()

stages = of_type("AWS::ApiGateway::Stage")
deployments = of_type("AWS::ApiGateway::Deployment")
if len(stages) != 1 or any("StageName" in d["Properties"] for d in deployments.values()):
    fail(f"expected exactly one stage, found {sorted(stages)} and deployments naming a stage")
stage = next(iter(stages.values()))["Properties"]
for key in ("AccessLogSetting", "TracingEnabled", "MethodSettings"):
    if not stage.get(key):
        fail(f"the stage has no {key}")

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

for name, perm in of_type("AWS::Lambda::Permission").items():
    p = perm["Properties"]
    source = p.get("SourceArn", {})
    sub = source.get("Fn::Sub") if isinstance(source, dict) else None
    scoped = (isinstance(sub, list) and sub[1].get("__ApiId__") == {"Ref": api_id}
              and sub[0].startswith("arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${__ApiId__}/"))
    if p.get("Principal") != "apigateway.amazonaws.com" or not scoped:
        fail(f"{name} does not limit invocation to API Gateway on {api_id}: {p}")

print(f"check-transformed: one stage, {methods} methods behind the TOKEN authorizer requiring an API key, "
      f"{len(of_type('AWS::Lambda::Permission'))} permissions scoped to {api_id}")
