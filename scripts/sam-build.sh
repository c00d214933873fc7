#!/usr/bin/env bash
# Builds both Lambda binaries for arm64 the way a user does before deploying:
# `sam build`, whose rust-cargolambda method runs `cargo lambda build
# --release --arm64 --bin NAME` (zig from PyPI as the cross-linker), then
# checks that each function's `bootstrap` exists and is an arm64 executable.
# No AWS call, no Docker; installs the Rust target aarch64-unknown-linux-gnu
# with rustup if it is missing. CPU-heavy: two release builds with fat LTO
# (11 minutes on 2 busy cores with the full api; an unchanged tree
# rebuilds in seconds).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/tools.sh sam lambda
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu
fi

export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0
# cargo-lambda's venv first: its python runs `python -m ziglang`.
export PATH="$root/.venv-lambda/bin:$root/.venv-sam/bin:$PATH"

sam build --template-file template.yaml --build-dir .aws-sam/build

for fn in AuthorizerFunction ApiFunction; do
  bin=".aws-sam/build/$fn/bootstrap"
  [ -x "$bin" ] || { echo "sam-build.sh: $bin missing" >&2; exit 1; }
  # ELF header: e_machine (bytes 18-19, little-endian) is EM_AARCH64, 0xb7.
  machine=$(od -An -tx1 -j18 -N2 "$bin" | tr -d ' ')
  [ "$machine" = "b700" ] || { echo "sam-build.sh: $bin is not arm64 (e_machine $machine)" >&2; exit 1; }
  # provided.al2023 has glibc 2.34: a binary needing a newer one would not start.
  if command -v readelf >/dev/null; then
    glibc=$(readelf -V "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
    [ "$(printf '%s\nGLIBC_2.34\n' "$glibc" | sort -V | tail -1)" = GLIBC_2.34 ] ||
      { echo "sam-build.sh: $bin needs $glibc, newer than provided.al2023's 2.34" >&2; exit 1; }
  fi
  echo "$bin: arm64, $(stat -c %s "$bin") bytes, needs ${glibc:-glibc (not checked)}"
done
