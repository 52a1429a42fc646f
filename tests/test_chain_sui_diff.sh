#!/usr/bin/env bash
# test_chain_sui_diff.sh SRC BUILD C_PROG — differential test of chain/sui_tx.c against
# @mysten/sui 2.33.1: gen.mjs builds and signs random transactions with the SDK, C_PROG rebuilds
# each in C and compares everything bit for bit, check.mjs has the SDK decode C's bytes, and
# market_calls.mjs builds every cloakx_market call that chain/sui_market.c builds.
# Deterministic: the seed is fixed (CX_SUI_DIFF_SEED overrides it) and printed; a failing case
# is printed whole. Skipped (77) only when npm cannot reach its registry.
set -euo pipefail
src=${1:?source dir}
build=${2:?build dir}
prog=${3:?C program}
seed=${CX_SUI_DIFF_SEED:-20261204}
count=${CX_SUI_DIFF_COUNT:-600}
modules=$("$src/tests/node/install.sh" "$build") || exit $?
deps=$(dirname "$modules")
# the scripts run from beside node_modules, where their imports resolve
cp "$src/tests/sui_diff/gen.mjs" "$src/tests/sui_diff/check.mjs" "$src/tests/sui_diff/market_calls.mjs" "$deps/"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "seed $seed, $count transactions (reproduce: CX_SUI_DIFF_SEED=$seed ctest -R test_chain_sui_diff_sdk)"
node "$deps/gen.mjs" "$seed" "$count" "$work/cases.json"
"$prog" "$work/cases.json" "$work/c_out.json"
node "$deps/check.mjs" "$work/cases.json" "$work/c_out.json"
# every call of the Move package (chain/sui_market.c) as the SDK builds it
node "$deps/market_calls.mjs" "$work/market.json"
"$prog" --market "$work/market.json"

# the comparison can fail: one byte of one SDK transaction changed must be reported
python3 - "$work/cases.json" "$work/bad.json" <<'PY'
import base64, json, sys
d = json.load(open(sys.argv[1]))
c = d['cases'][0]
b = bytearray(base64.b64decode(c['sdk']['tx_bytes']))
b[len(b) // 2] ^= 1
c['sdk']['tx_bytes'] = base64.b64encode(bytes(b)).decode()
d['cases'] = [c]
json.dump(d, open(sys.argv[2], 'w'))
PY
rc=0
"$prog" "$work/bad.json" "$work/bad_out.json" 2>"$work/bad.err" || rc=$?
grep 'FAIL case 0' "$work/bad.err" >/dev/null && grep '^reproducer: {' "$work/bad.err" >/dev/null &&
    [ "$rc" -eq 1 ] || { cat "$work/bad.err"; echo "FAIL: a changed transaction was not reported"; exit 1; }
echo "PASS: $count random transactions bit-identical with @mysten/sui 2.33.1 both ways (seed $seed)"
