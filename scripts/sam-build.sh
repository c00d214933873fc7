#!/usr/bin/env bash
# Builds both Lambda binaries for arm64 the way a user does before deploying:
# `sam build`, whose rust-cargolambda method runs `cargo lambda build
# --release --arm64 --bin NAME` (zig from PyPI as the cross-linker), then
# checks that each function's `bootstrap` exists and is an arm64 executable.
# Offline: no AWS call, no Docker. Needs the Rust target
# aarch64-unknown-linux-gnu (`rustup target add aarch64-unknown-linux-gnu`).
# CPU-heavy: two release builds with fat LTO, about ten minutes on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/tools.sh sam lambda

export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0
# cargo-lambda's venv first: its python runs `python -m ziglang`.
export PATH="$root/.venv-lambda/bin:$root/.venv-sam/bin:$PATH"

sam build --template-file template.yaml --build-dir .aws-sam/build

for fn in AuthorizerFunction ApiFunction; do
  bin=".aws-sam/build/$fn/bootstrap"
  [ -x "$bin" ] || { echo "sam-build.sh: $bin missing" >&2; exit 1; }
  # ELF header: class 64-bit (byte 4 = 2), machine EM_AARCH64 (bytes 18-19 = b7 00).
  machine=$(od -An -tx1 -j18 -N2 "$bin" | tr -d ' ')
  [ "$machine" = "b700" ] || { echo "sam-build.sh: $bin is not arm64 (e_machine $machine)" >&2; exit 1; }
  echo "$bin: arm64, $(stat -c %s "$bin") bytes"
done
