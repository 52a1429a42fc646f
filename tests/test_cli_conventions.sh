#!/usr/bin/env bash
# test_cli_conventions.sh — the command line's conventions: help, version --json with
# truthful features, exit 2 for an unknown command or option, errors on stderr.
set -euo pipefail
cx=${CLOAKX:?}
fail() { echo "FAIL: $*" >&2; exit 1; }
# ctest runs tests in parallel in one directory: keep scratch files private.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$cx" help | grep >/dev/null 'usage: cloakx' || fail "help"
"$cx" version --help | grep >/dev/null 'usage: cloakx version' || fail "version --help"

out=$("$cx" version --json)
python3 - "$out" <<'PY' || fail "version --json"
import json, sys
v = json.loads(sys.argv[1])
flags = open('/proc/cpuinfo').read().split('\nflags')[1].split('\n')[0].split()
assert v['cpu']['aesni'] == ('aes' in flags), 'aesni'
assert v['cpu']['avx512f'] == ('avx512f' in flags), 'avx512f'
assert v['cpu']['vaes'] == ('vaes' in flags), 'vaes'
assert v['build']['openssl'].startswith('OpenSSL 3'), v['build']['openssl']
assert isinstance(v['build']['cuda'], bool)
PY

set +e
"$cx" nosuch >/dev/null 2>"$tmp/err.txt"; rc=$?
set -e
[ "$rc" -eq 2 ] || fail "unknown command exit $rc"
grep -q "'nosuch' is not a cloakx command" "$tmp/err.txt" || fail "unknown command message"
set +e
"$cx" version --bogus >/dev/null 2>&1; rc=$?
set -e
[ "$rc" -eq 2 ] || fail "unknown option exit $rc"
[ -z "$("$cx" version -q 2>&1 >/dev/null)" ] || fail "-q leaves stderr quiet"
echo "cli conventions: ok"
