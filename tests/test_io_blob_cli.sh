#!/usr/bin/env bash
# test_io_blob_cli.sh — `cloakx blob put|get|stat` end to end: local store and the Walrus
# fixture server (loopback), stdin/stdout, --json shapes, atomic OUT, exit codes.
set -euo pipefail
CLOAKX=${CLOAKX:?path to cloakx}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
fx_pid=
cleanup() {
    [ -n "$fx_pid" ] && kill "$fx_pid" 2>/dev/null && wait "$fx_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

head -c 3000000 /dev/urandom >"$work/in.bin"
printf 'abc' >"$work/abc.txt"

# --- local store
S="local:$work/store"
id=$("$CLOAKX" blob put --store "$S" "$work/abc.txt")
[ "$id" = "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0" ] || fail "local id $id"
json=$("$CLOAKX" --json blob put --store "$S" - <"$work/in.bin")
bid=$(printf '%s' "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["blob_id"])')
"$CLOAKX" blob get --store "$S" "$bid" "$work/out.bin"
cmp "$work/in.bin" "$work/out.bin" || fail "local round trip"
"$CLOAKX" blob get --store "$S" "$bid" - | cmp - "$work/in.bin" || fail "local get to stdout"
"$CLOAKX" --json blob stat --store "$S" "$bid" | python3 -c '
import json,sys; j=json.load(sys.stdin); assert j["size"]==3000000 and j["manifest"] is False, j'
set +e
"$CLOAKX" blob get --store "$S" "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU" "$work/missing" 2>"$work/err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "missing blob exit $rc"
grep -q "not found" "$work/err" || fail "missing blob message: $(cat "$work/err")"
[ ! -e "$work/missing" ] || fail "partial OUT left behind"
set +e
"$CLOAKX" blob get --store "$S" "$bid" 2>/dev/null; rc=$?
set -e
[ $rc -eq 2 ] || fail "usage error exit $rc"

# --- walrus fixture
python3 "$here/fixtures/walrus_fixture.py" >"$work/port" &
fx_pid=$!
for _ in $(seq 50); do grep -q PORT "$work/port" 2>/dev/null && break; sleep 0.1; done
port=$(awk '/PORT/{print $2}' "$work/port")
[ -n "$port" ] || { echo "fixture did not start: skip"; exit 77; }
W="walrus:?publisher=http://127.0.0.1:$port&aggregator=http://127.0.0.1:$port"
wid=$("$CLOAKX" blob put --store "$W" --part-size 1000000 "$work/in.bin")
"$CLOAKX" --json blob stat --store "$W" "$wid" | python3 -c '
import json,sys; j=json.load(sys.stdin); assert j["size"]==3000000 and j["manifest"] is True and j["parts"]==3, j'
python3 -c 'import sys, urllib.request as u; u.urlopen(sys.argv[1], data=sys.argv[2].encode())' \
    "http://127.0.0.1:$port/_fixture/rules" '[{"op":"get","mode":"drop","count":2,"drop_after":300000}]'
"$CLOAKX" --json blob get --store walrus: --publisher "http://127.0.0.1:$port" \
    --aggregator "http://127.0.0.1:$port" "$wid" "$work/wout.bin" >"$work/get.json"
cmp "$work/in.bin" "$work/wout.bin" || fail "walrus round trip"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["bytes"]==3000000, j' "$work/get.json"
python3 -c 'import sys, json, urllib.request as u
log = json.load(u.urlopen(sys.argv[1]))["requests"]
assert any(r["status"] == 206 and r["range"] for r in log), log' "http://127.0.0.1:$port/_fixture/log"
CLOAKX_WALRUS_TOKEN=t0k "$CLOAKX" blob put --store "$W" "$work/abc.txt" >/dev/null
set +e
"$CLOAKX" --json blob get --store "$W" "M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk" - \
    >"$work/err.json" 2>/dev/null; rc=$?
set -e
[ $rc -eq 1 ] || fail "walrus 404 exit $rc"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["error"]["kind"]=="not found", j' \
    "$work/err.json"
echo "blob CLI: ok"
