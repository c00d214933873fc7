#!/usr/bin/env bash
# The partner key rule, checked with the real scanner and with the command:
#   detect-secrets (PyPI, pinned in scripts/requirements-secrets.txt, in
#   .venv-secrets) with only the plugin scripts/secret-scan/partner_key.py,
#   and `partner-keys scan`, on
#   1. the repository's tracked files: no finding (every fixture key is marked
#      `pragma: allowlist secret` on its line). The fuzz seeds (fuzz/corpus/)
#      are left out by path: they are raw inputs, where a marker would change
#      the input they stand for;
#   2. keys from the real generator (authorizer/examples/scanner_corpus.rs) in
#      the places keys leak to: every one found, by both, by line;
#   3. near misses (a typo, a wrong checksum digit, a made-up checksum, a key
#      inside a longer word, a capital in the id): none found, by either.
# Offline; nothing here reaches the network.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/tools.sh secrets
# Absolute: detect-secrets scans only paths under its working directory.
ds=$root/.venv-secrets/bin/detect-secrets
plugin=$root/scripts/secret-scan/partner_key.py
disable=()
for p in $("$ds" scan --list-all-plugins); do
  [ "$p" = PartnerKeyDetector ] || disable+=(--disable-plugin "$p")
done
# Findings as "file:line" lines, sorted.
detect() {
  "$ds" scan --plugin "$plugin" "${disable[@]}" "$@" | python3 -c '
import json, sys
for name, found in json.load(sys.stdin)["results"].items():
    for f in found:
        print(name + ":" + str(f["line_number"]))' | sort
}

cargo build -q --workspace --bins --examples
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
pk="$target/debug/partner-keys"
scan() { # partner-keys scan, "file:line" lines, sorted; exit 1 means findings
  local out rc=0
  out=$("$pk" scan "$@" 2>/dev/null) || rc=$?
  [ "$rc" -le 1 ] || { echo "partner-keys scan failed ($rc)" >&2; exit 1; }
  printf '%s\n' "$out" | sed -n 's/^\(.*:[0-9]*\): partner key .*/\1/p' | sort
}
fail() { echo "secret-scan: FAILED: $*" >&2; exit 1; }

echo "== the repository (tracked files but the fuzz seeds): no unmarked partner key"
found=$(detect --exclude-files '^fuzz/corpus/')
[ -z "$found" ] || fail "detect-secrets found partner keys in the repository:
$found"
tracked() { git ls-files -z | grep -zv '^fuzz/corpus/'; }
found=$(tracked | xargs -0 "$pk" scan 2>&1 >/dev/null | tail -1) \
  || fail "partner-keys scan found partner keys in the repository: $(tracked | xargs -0 "$pk" scan 2>/dev/null)"
echo "   detect-secrets: 0 findings; partner-keys scan: $found"

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
count=${SECRET_SCAN_KEYS:-300}
"$target/debug/examples/scanner_corpus" "$work" "$count"
echo "== $count generated keys: every one found, by line"
expected=$(seq 1 "$count" | sed "s|^|keys.txt:|" | sort)
[ "$(cd "$work" && detect keys.txt)" = "$expected" ] || fail "detect-secrets missed generated keys"
[ "$(cd "$work" && scan keys.txt)" = "$expected" ] || fail "partner-keys scan missed generated keys"
"$pk" scan "$work/keys.txt" 2>/dev/null | grep -q 'pk_[a-z0-9]\{12\}_' && fail "partner-keys scan printed a key"
echo "   detect-secrets: $count of $count; partner-keys scan: $count of $count (key ids only)"
echo "== $((count * 6)) near misses: none found"
[ -z "$(cd "$work" && detect near.txt)" ] || fail "detect-secrets reported a near miss"
[ -z "$(cd "$work" && scan near.txt)" ] || fail "partner-keys scan reported a near miss"
echo "   detect-secrets: 0; partner-keys scan: 0"
echo "secret-scan: ok"
