#!/usr/bin/env bash
# The field's own checkers on template.yaml, offline, each must be clean:
#   sam validate --lint   SAM's transform and its cfn-lint pass
#   cfn-lint              CloudFormation's linter, on the transformed template
#   checkov               security policies; a finding that does not apply is
#                         skipped in the resource's Metadata with a reason
#   check-transformed.py  what SAM generates: one stage, every method but the
#                         OPTIONS preflight behind the TOKEN authorizer, Lambda
#                         permissions scoped to this API
# Usage: scripts/check-template.sh [--build]   (--build also runs scripts/sam-build.sh)
# The template's own invariants are tested in tests/tests/template.rs.
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

step "sam validate --lint" .venv-sam/bin/sam validate --lint --template-file template.yaml
step "cfn-lint" .venv-sam/bin/cfn-lint template.yaml
step "checkov" .venv-checkov/bin/checkov -f template.yaml --framework cloudformation \
  --skip-download --quiet --compact
step "SAM's output" .venv-sam/bin/python scripts/check-transformed.py template.yaml
if [ "${1:-}" = "--build" ]; then
  step "sam build" scripts/sam-build.sh
fi
