#!/usr/bin/env bash
# The field's own checkers on template.yaml and on SAM's translation of it
# (the CloudFormation that is really deployed), offline; each must be clean:
#   sam validate --lint   SAM's transform and its cfn-lint pass
#   cfn-lint              CloudFormation's linter, on the source and on the
#                         translation (e.g. an IAM action that does not exist
#                         in a generated policy)
#   checkov               security policies, on the source and on the
#                         translation; a finding that does not apply is
#                         skipped in the resource's Metadata with a reason
#   check-transformed.py  what SAM generates: one stage, ordered after the
#                         region's logging-role setting when the stack creates
#                         it; a new deployment on every update; the key source
#                         AUTHORIZER with no update Mode; every method but the
#                         OPTIONS preflight behind the TOKEN authorizer;
#                         Lambda permissions scoped to this API
# Usage: scripts/check-template.sh [--build]   (--build also runs scripts/sam-build.sh)
# The template's own invariants are tested in tests/tests/template.rs; the
# translation is created as a stack on moto server by scripts/emulated-deploy.py.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/tools.sh sam checkov

# Never the real cloud: a region, dummy credentials, no instance metadata.
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
unset AWS_SESSION_TOKEN AWS_PROFILE
export AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0
# checkov: no download of Prisma Cloud's guideline mappings, no version check.
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false

step() { local t=$SECONDS; echo "== $1"; shift; "$@"; echo "   ($((SECONDS - t)) s)"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
translated="$tmp/translated.json"

step "sam validate --lint" .venv-sam/bin/sam validate --lint --template-file template.yaml
step "cfn-lint" .venv-sam/bin/cfn-lint template.yaml
step "checkov" .venv-checkov/bin/checkov -f template.yaml --framework cloudformation \
  --skip-download --quiet --compact
# SAM does not evaluate conditions, so every optional resource is in the
# translation whatever the values; they only feed what SAM resolves itself.
step "SAM translation" .venv-sam/bin/python scripts/sam_translate.py template.yaml "$translated" \
  AllowedOrigin=https://app.example.com SetApiGatewayLogsRole=true AuthDomainPrefix=items-example \
  PartnerKeyOperatorArns=arn:aws:iam::123456789012:role/partner-keys-operator
# W2001 (parameter not used): SAM writes AuthorizerCacheTtl's value into the
# OpenAPI body at translation time, so the translation no longer refers to
# it; the source template, linted above, does, and keeps the rule.
step "cfn-lint (translated)" .venv-sam/bin/cfn-lint --ignore-checks W2001 -- "$translated"
# CKV_AWS_120 (stage caching): the stage is generated from the Api, which
# carries the skip and its reason in its Metadata; SAM copies Metadata to the
# RestApi only, not to the stage.
step "checkov (translated)" .venv-checkov/bin/checkov -f "$translated" --framework cloudformation \
  --skip-download --quiet --compact --skip-check CKV_AWS_120
step "SAM's output" .venv-sam/bin/python scripts/check-transformed.py template.yaml
if [ "${1:-}" = "--build" ]; then
  step "sam build" scripts/sam-build.sh
fi
