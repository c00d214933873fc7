#!/usr/bin/env bash
# Usage: scripts/node-peer-bench.sh [N]
#
# The Node.js peer of the authorizer's decision benchmark: aws-jwt-verify
# (pinned in scripts/node-peer/package-lock.json, installed here with npm ci)
# deciding the same kind of Cognito-sized RS256 token as
# `cargo bench -p e2e --bench authorizer_decision`. Run the two one after the
# other on a quiet machine; docs/PERFORMANCE.md has the figures.
set -euo pipefail
cd "$(dirname "$0")/node-peer"
[ -d node_modules/aws-jwt-verify ] || npm ci --no-audit --no-fund >/dev/null
exec node bench.mjs "$@"
