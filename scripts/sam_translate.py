#!/usr/bin/env python3
"""SAM's own translator, offline: template.yaml in, the CloudFormation JSON
that `sam deploy` really creates out (what CloudFormation's hosted
AWS::Serverless-2016-10-31 transform does with the same parameter values).

Used by scripts/check-template.sh (cfn-lint and checkov on the translation),
scripts/check-transformed.py and scripts/emulated-deploy.py. Needs
aws-sam-translator: run with .venv-sam's python.

Usage: sam_translate.py TEMPLATE OUT.json [Name=Value ...]
"""
import json
import logging
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

# What `sam build` + `sam package` turn each function's local CodeUri into.
CODE_URI = "s3://artifacts-bucket/code.zip"


class NoManagedPolicies:
    """The template names no managed policy by name; looking one up would
    need IAM, so any attempt is a failure."""

    def load(self):
        sys.exit("sam_translate: SAM tried to look up managed policies (IAM call)")


def translate(path, parameters=None, code_uri=CODE_URI):
    """The translated template, as a dict. `parameters` are the values the
    stack is deployed with: SAM resolves some parameter references (e.g. the
    authorizer's cache TTL) into the OpenAPI body at translation time."""
    # SAM logs feature-toggle notes that say nothing about this template.
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    with open(path) as f:
        template = yaml_parse(f.read())
    for res in template["Resources"].values():
        if res["Type"] == "AWS::Serverless::Function":
            res["Properties"]["CodeUri"] = code_uri
    return transform(template, dict(parameters or {}), NoManagedPolicies())


def parse_parameters(args):
    params = {}
    for arg in args:
        name, sep, value = arg.partition("=")
        if not sep:
            sys.exit(f"sam_translate: {arg!r} is not Name=Value")
        params[name] = value
    return params


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out = translate(sys.argv[1], parse_parameters(sys.argv[3:]))
    with open(sys.argv[2], "w") as f:
        json.dump(out, f, indent=1)
