#!/usr/bin/env bash
# Creates (or reuses) the virtualenvs of the template's tools:
#   .venv-sam      aws-sam-cli (with cfn-lint)     scripts/requirements-sam.txt
#   .venv-checkov  checkov                         scripts/requirements-checkov.txt
#   .venv-lambda   cargo-lambda and ziglang        scripts/requirements-lambda.txt
#   .venv-contract openapi-spec-validator, schemathesis  scripts/requirements-contract.txt
#   .venv-secrets  detect-secrets                  scripts/requirements-secrets.txt
# Usage: scripts/tools.sh [sam|checkov|lambda|contract|secrets ...]   (default: the first three)
# Idempotent: a venv is rebuilt only when its pinned requirements change.
# Separate venvs because checkov pins a boto3 that aws-sam-cli does not accept.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

install() { # name, a binary the venv must have
  local venv="$root/.venv-$1" req="$root/scripts/requirements-$1.txt"
  local stamp="$venv/.requirements.sha256" want
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ ! -x "$venv/bin/$2" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "tools.sh: installing $req into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    echo "$want" > "$stamp"
  fi
}

[ $# -gt 0 ] || set -- sam checkov lambda
for tool in "$@"; do
  case $tool in
    sam) install sam sam ;;
    checkov) install checkov checkov ;;
    lambda) install lambda cargo-lambda ;;
    contract) install contract st ;;
    secrets) install secrets detect-secrets ;;
    *) echo "tools.sh: unknown tool $tool (sam, checkov, lambda, contract or secrets)" >&2; exit 2 ;;
  esac
done
