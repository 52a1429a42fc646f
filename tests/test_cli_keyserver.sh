#!/usr/bin/env bash
# test_cli_keyserver.sh — `cloakx keyserver init|show|run`: a key file is made once (0600, never
# overwritten), show prints the same identity, and run serves Seal's key-server API on loopback,
# refusing requests by Seal's error kinds (the policies themselves: test_engine_seal_keyserver).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/e2e_common.sh"
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
if "$CLOAKX" keyserver --help 2>&1 | grep -q "no Seal"; then
    echo "SKIP: this build has no Seal"; exit 77
fi

"$CLOAKX" --json keyserver init --keys "$work/ks.json" >"$work/init.json"
[ "$(stat -c %a "$work/ks.json")" = 600 ] || fail "the key file is not 0600"
jq -e '(.object_id | test("^0x[0-9a-f]{64}$")) and (.public_key | test("^[0-9a-f]{192}$"))' \
    "$work/init.json" >/dev/null || fail "init: $(cat "$work/init.json")"
"$CLOAKX" --json keyserver show --keys "$work/ks.json" >"$work/show.json"
cmp <(jq -S . "$work/init.json") <(jq -S . "$work/show.json") >/dev/null \
    || fail "show differs from init: $(cat "$work/show.json")"
expect_rc 2 "$CLOAKX" keyserver init --keys "$work/ks.json"
grep -q "never overwritten" "$work/err" || fail "init over an existing file: $(cat "$work/err")"
# the master key never reaches the output
msk=$(jq -r .msk "$work/ks.json")
! grep -q "$msk" "$work/init.json" "$work/show.json" || fail "the master key was printed"

"$CLOAKX" --json keyserver run --keys "$work/ks.json" --ledger "$CLOAKX_LEDGER" \
    --listen 127.0.0.1:0 >"$work/run.json" 2>"$work/run.err" &
bg_pids+=($!)
for _ in $(seq 100); do [ -s "$work/run.json" ] && break; sleep 0.1; done
url=$(jq -r .url "$work/run.json")
[ -n "$url" ] && [ "$url" != null ] || fail "run printed no URL: $(cat "$work/run.json" "$work/run.err")"
code=$(curl -s -o "$work/r1" -w '%{http_code}' -X POST -d '{}' "$url/v1/fetch_key")
[ "$code" = 400 ] && jq -e '.error == "MissingRequiredHeader"' "$work/r1" >/dev/null \
    || fail "no Client-Sdk-Version: $code $(cat "$work/r1")"
code=$(curl -s -o "$work/r2" -w '%{http_code}' -X POST -H 'Client-Sdk-Version: 1.0.0' \
       -d 'not json' "$url/v1/fetch_key")
[ "$code" = 400 ] && jq -e '.error == "InvalidParameter"' "$work/r2" >/dev/null \
    || fail "not JSON: $code $(cat "$work/r2")"
code=$(curl -s -o "$work/r3" -w '%{http_code}' "$url/v1/nothing")
[ "$code" = 404 ] || fail "unknown route: $code"
echo "ok"
