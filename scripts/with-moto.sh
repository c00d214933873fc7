#!/usr/bin/env bash
# Usage: scripts/with-moto.sh COMMAND [ARGS...]
#
# Starts moto server on a free loopback port, runs COMMAND with the AWS SDK's
# standard environment pointing at it (and nowhere else), then stops moto.
# Nothing here can reach the real cloud: region, dummy credentials, loopback
# endpoint and a disabled instance-metadata probe are all set.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/venv.sh"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
log="${TMPDIR:-/tmp}/moto-$port.log"
"$root/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true; wait $moto_pid 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    echo "moto server failed to start; its log:" >&2; cat "$log" >&2; exit 1
  fi
  sleep 0.1
done

export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
unset AWS_SESSION_TOKEN AWS_PROFILE
export AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export MOTO_ENDPOINT="http://127.0.0.1:$port"

"$@"
