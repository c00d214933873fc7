#!/usr/bin/env bash
# The published contract checked by tools nobody here wrote:
#   1. openapi-spec-validator on openapi.json (the committed document);
#   2. the local stack started on a free loopback port (in-memory store,
#      development identity provider and partner key; nothing leaves the
#      machine), its served /openapi.json compared with the committed file;
#   3. schemathesis (schemathesis.toml) against the stack, from the document
#      it serves: every operation, positive and negative data, then the
#      stateful phase following the document's links (create → read →
#      replace/patch with If-Match → delete). Run once with a development
#      user token and once with the development partner key. Any server
#      error or any response the document does not describe (status, media
#      type, schema, headers) fails the run.
# Tools: .venv-contract (scripts/requirements-contract.txt, via tools.sh).
# Usage: scripts/api-contract.sh   (ST_MAX_EXAMPLES bounds each operation's
# generated cases; the default keeps the run to a few minutes on 2 cores)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/tools.sh contract

# Never the real cloud: the stack's defaults call no AWS service, and if
# anything tried, it would find a region, dummy credentials, no instance
# metadata and a closed loopback endpoint.
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
unset AWS_SESSION_TOKEN AWS_PROFILE
export AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL=http://127.0.0.1:9
export SCHEMATHESIS_TELEMETRY=false
max_examples=${ST_MAX_EXAMPLES:-25}

step() { local t=$SECONDS; echo "== $1"; shift; "$@"; echo "   ($((SECONDS - t)) s)"; }

step "openapi-spec-validator openapi.json" .venv-contract/bin/openapi-spec-validator openapi.json
step "build the local stack" cargo build --workspace --locked --bin local

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
url="http://127.0.0.1:$port"
tmp=$(mktemp -d)
# The usage plan's throttle off: schemathesis would otherwise spend the
# partner's run on 429s.
target_dir=${CARGO_TARGET_DIR:-target}
"$target_dir/debug/local" --addr "127.0.0.1:$port" --usage-rate 0 >"$tmp/stack.out" 2>"$tmp/stack.err" &
stack_pid=$!
trap 'kill $stack_pid 2>/dev/null || true; wait $stack_pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do
  grep -q '^export PARTNER=' "$tmp/stack.out" 2>/dev/null && break
  if ! kill -0 "$stack_pid" 2>/dev/null; then
    echo "the local stack failed to start:" >&2; cat "$tmp/stack.err" >&2; exit 1
  fi
  sleep 0.2
done
# The banner's own lines: `export ALICE='Bearer …'`, `export PARTNER='ApiKey …'`.
alice=$(sed -n "s/^export ALICE='\(.*\)'$/\1/p" "$tmp/stack.out")
partner=$(sed -n "s/^export PARTNER='\(.*\)'$/\1/p" "$tmp/stack.out")
[ -n "$alice" ] && [ -n "$partner" ] || { echo "no credentials in the banner" >&2; exit 1; }

served="$tmp/served.json"
fetch() { python3 -c 'import sys,urllib.request; open(sys.argv[2],"wb").write(urllib.request.urlopen(sys.argv[1]).read())' "$@"; }
step "GET /openapi.json without a credential is the committed document" fetch "$url/openapi.json" "$served"
cmp "$served" openapi.json

st() {
  .venv-contract/bin/st --no-color run "$url/openapi.json" --url "$url" \
    --max-examples "$max_examples" --seed 42 "$@"
}
step "schemathesis, development user (all permissions)" st -H "Authorization: $alice"
step "schemathesis, development partner key" st -H "Authorization: $partner"
