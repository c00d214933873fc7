#!/usr/bin/env bash
# A real browser against the local stack from another origin
# (tests/browser/browser.test.mjs says what it covers), signing in with the
# development IdP and at a real OpenID Provider (authorization code + PKCE).
# Installs what it needs: Debian's chromium (apt-get, when /usr/bin/chromium
# is missing), playwright-core from npm at the version pinned in
# tests/browser/ (npm ci; playwright-core downloads no browser) and the
# provider's packages pinned in tests/oidc/ (scripts/oidc-provider.sh).
# The stack is the debug `local` binary of the workspace build (`cargo build
# --bin local` resolves features as `cargo test --workspace` does, so after
# the tests it builds nothing). On a failure: screenshots, the page's
# console and the stack's and the provider's stderr in
# target/browser-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

export AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "browser-test: /usr/bin/chromium is missing; install Debian's chromium (apt-get install chromium) as root" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version 2>/dev/null

(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
scripts/oidc-provider.sh

cargo build --bin local --locked
target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

rm -rf target/browser-artifacts
LOCAL_BIN="$target_dir/debug/local" ARTIFACTS="$PWD/target/browser-artifacts" \
  node --test --test-reporter=spec tests/browser/browser.test.mjs
