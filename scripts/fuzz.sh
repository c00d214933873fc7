#!/usr/bin/env bash
# Usage: scripts/fuzz.sh [SECONDS]        (or FUZZ_SECONDS=SECONDS; default 10)
#   FUZZ_TARGETS="a b"  only these targets (default: every fuzz/fuzz_targets/*.rs)
#   FUZZ_RUNS=N         also stop a target after N executions (libFuzzer -runs)
#
# Builds the fuzz targets of fuzz/ (cargo-fuzz, installed if missing) and
# runs every target for SECONDS, one after the other, each from a scratch
# copy of its committed seeds (fuzz/corpus/<target> is never written to; the
# copies live in target/fuzz-corpus/). No sanitizer, so stable Rust does.
# Prints executions and exec/s per target; fails if any target crashes,
# hangs or breaks one of its assertions (the input is kept under
# fuzz/artifacts/<target>/, reproduce with
# `cargo fuzz run --sanitizer none --fuzz-dir fuzz <target> <file>`).
# docs/FUZZING.md says what each target asserts.
#
# Nothing here reaches the network: the local-stack target serves an
# in-memory connection, and the AWS variables below point nowhere.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
seconds=${1:-${FUZZ_SECONDS:-10}}

export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_ENDPOINT_URL=http://127.0.0.1:9
unset AWS_SESSION_TOKEN AWS_PROFILE
export CARGO_TERM_COLOR=never

if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
  echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

fuzz=(cargo fuzz)
opts=(--sanitizer none --fuzz-dir fuzz)

echo "== building the fuzz targets"
start=$SECONDS
"${fuzz[@]}" build "${opts[@]}"
echo "built in $((SECONDS - start)) s"

work=target/fuzz-corpus
logs=target/fuzz-logs
mkdir -p "$work" "$logs"

failed=()
summary=()
targets=${FUZZ_TARGETS:-$(basename -s .rs fuzz/fuzz_targets/*.rs)}
limits=(-max_total_time="$seconds")
if [[ -n ${FUZZ_RUNS:-} ]]; then
  limits+=(-runs="$FUZZ_RUNS")
fi

for target in $targets; do
  rm -rf "${work:?}/$target"
  mkdir -p "$work/$target"
  cp fuzz/corpus/"$target"/* "$work/$target/"
  echo "== $target: ${limits[*]}"
  log="$logs/$target.log"
  if "${fuzz[@]}" run "${opts[@]}" "$target" "$work/$target" -- \
      "${limits[@]}" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed+=("$target")
    grep -E -A4 "panicked at|ERROR: libFuzzer|Test unit written" "$log" | head -30 || true
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  summary+=("$(printf '%-22s %12s execs %6s s %9s exec/s  %s' "$target" "${runs:-?}" "${took:-?}" "${rate:-?}" "$status")")
done

echo "== fuzzing summary (${limits[*]} per target; logs in $logs)"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "fuzz targets failed: ${failed[*]}" >&2
  exit 1
fi
