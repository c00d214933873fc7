#!/usr/bin/env bash
# Usage: scripts/oidc-provider.sh [PROVIDER FLAGS...]
#
# Installs the OpenID Provider stand-in's pinned packages (panva's
# oidc-provider, tests/oidc/package-lock.json) with `npm ci` from the npm
# registry; with flags, then runs the provider in the foreground with them
# (tests/oidc/provider.mjs says which: --port, --spa-redirect-uri,
# --exit-with-stdin). The tests start their own providers
# (local/tests/oidc_provider/harness.rs, tests/browser/oidc.mjs) and only
# need the install: scripts/test.sh runs this first.
set -euo pipefail
cd "$(dirname "$0")/.."

(cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error)
if [ "$#" -gt 0 ]; then
  exec node tests/oidc/provider.mjs "$@"
fi
