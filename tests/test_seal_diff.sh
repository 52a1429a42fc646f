#!/usr/bin/env bash
# test_seal_diff.sh SRC BUILD C_PROG — differential test of seal/ against @mysten/seal 1.4.12:
# sdk.mjs encrypts random objects with the SDK (5 test key servers, 1-of-1 … 3-of-5 and more,
# both DEMs, random ids, sizes and aad), C_PROG re-encodes each bit for bit, checks the SDK's
# user secret and public keys and decrypts with t servers' keys; C_PROG then encrypts as many
# objects, which sdk.mjs parses, re-encodes and decrypts with its full consistency check.
# Deterministic parameters: the seed is fixed (CX_SEAL_DIFF_SEED overrides it) and printed; a
# failing case is printed whole. Skipped (77) only when npm cannot reach its registry.
set -euo pipefail
src=${1:?source dir}
build=${2:?build dir}
prog=${3:?C program}
seed=${CX_SEAL_DIFF_SEED:-20261204}
count=${CX_SEAL_DIFF_COUNT:-200}
modules=$("$src/tests/node/install.sh" "$build") || exit $?
deps=$(dirname "$modules")
# the script runs from beside node_modules, where its imports resolve
cp "$src/tests/seal_diff/sdk.mjs" "$deps/seal_sdk.mjs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "seed $seed, $count objects each way (reproduce: CX_SEAL_DIFF_SEED=$seed ctest -R test_seal_diff_sdk)"
(cd "$deps" && node seal_sdk.mjs encrypt "$seed" "$count" "$work/sdk.json")
"$prog" "$work/sdk.json" "$work/c.json" "$count" "$seed"
(cd "$deps" && node seal_sdk.mjs decrypt "$work/c.json")

# the comparison can fail: one flipped byte in one SDK object must be reported
python3 - "$work/sdk.json" "$work/bad.json" <<'PY'
import base64, json, sys
d = json.load(open(sys.argv[1]))
c = d['cases'][0]
b = bytearray(base64.b64decode(c['object']))
b[-1] ^= 1
c['object'] = base64.b64encode(bytes(b)).decode()
d['cases'] = [c]
json.dump(d, open(sys.argv[2], 'w'))
PY
rc=0
"$prog" "$work/bad.json" "$work/bad_out.json" 0 "$seed" >/dev/null 2>"$work/bad.err" || rc=$?
grep 'FAIL case 0' "$work/bad.err" >/dev/null && grep '^reproducer: {' "$work/bad.err" >/dev/null &&
    [ "$rc" -eq 1 ] || { cat "$work/bad.err"; echo "FAIL: a changed object was not reported"; exit 1; }
echo "PASS: $count objects from @mysten/seal 1.4.12 decrypted in C and $count from C in the SDK (seed $seed)"
