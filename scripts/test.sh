#!/usr/bin/env bash
# Every check and every test, from a fresh clone: formatting, clippy, then the
# whole workspace's tests with moto server standing in for AWS (installed into
# .venv by scripts/venv.sh, started and stopped by scripts/with-moto.sh) and
# a real OpenID Provider (oidc-provider from npm, installed into tests/oidc
# by scripts/oidc-provider.sh, started by the tests themselves).
# Nothing here reaches the real cloud.
set -euo pipefail
cd "$(dirname "$0")/.."

export AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export CARGO_TERM_COLOR=never

echo "== rustfmt"
cargo fmt --all -- --check
echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== template.yaml: sam validate --lint, cfn-lint, checkov, on the source and SAM's translation (tools in .venv-sam, .venv-checkov)"
scripts/check-template.sh
echo "== emulated deploy: SAM's translation created as a stack on moto server, the rest replayed through the service APIs"
scripts/with-moto.sh .venv/bin/python scripts/emulated-deploy.py
echo "== the OpenID Provider of the trusted-issuer tests (local/tests/oidc_provider/): oidc-provider's pinned packages, npm ci in tests/oidc"
scripts/oidc-provider.sh
echo "== tests (against moto server; tests/tests/template.rs checks the template's invariants)"
scripts/with-moto.sh cargo test --workspace --locked --no-fail-fast
echo "== every shell block of docs/PARTNER-KEYS.md (against moto) and docs/PARTNERS.md (against the local stack), as written (scripts/doc-blocks.py)"
scripts/with-moto.sh .venv/bin/python scripts/doc-blocks.py
echo "== the partner key rule of the secret scanner: detect-secrets (.venv-secrets) and partner-keys scan on the repository, on generated keys and on near misses (scripts/secret-scan.sh)"
scripts/secret-scan.sh
echo "== the README's first command as written: every curl line of its banner answers as stated (scripts/readme_check.py, tested by scripts/test_readme_check.py)"
python3 scripts/test_readme_check.py
python3 scripts/readme_check.py
echo "== a real browser: headless Chromium on a page of another origin against the local stack, signed in by the development IdP and by code + PKCE at the OpenID Provider (scripts/browser-test.sh)"
scripts/browser-test.sh
echo "== the published contract: openapi-spec-validator, then schemathesis against the local stack (tools in .venv-contract)"
scripts/api-contract.sh
echo "== fuzzing: every fuzz target for a short fixed time (docs/FUZZING.md)"
scripts/fuzz.sh
echo "== sam build: both functions' arm64 bootstrap binaries (cargo-lambda and zig in .venv-lambda)"
scripts/sam-build.sh
