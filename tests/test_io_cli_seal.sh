#!/usr/bin/env bash
# test_io_cli_seal.sh — keygen / seal / unseal on the command line: round trips through files
# and stdin/stdout, 0600 secrets, exit 3 with no OUT file on tampering, wrong key named.
set -euo pipefail
cx=${CLOAKX:?}
fail() { echo "FAIL: $*" >&2; exit 1; }
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT

"$cx" keygen --out "$d/k" --json > "$d/keygen.json"
for f in x25519.key x25519.pub ed25519.key ed25519.pub; do [ -f "$d/k/$f" ] || fail "keygen $f"; done
[ "$(stat -c %a "$d/k/x25519.key")" = 600 ] || fail "x25519.key mode"
[ "$(stat -c %a "$d/k/ed25519.key")" = 600 ] || fail "ed25519.key mode"
grep -q '^cloakx-x25519-public-v1 ' "$d/k/x25519.pub" || fail "pub format"
set +e; "$cx" keygen --out "$d/k" 2>/dev/null; rc=$?; set -e
[ "$rc" -ne 0 ] || fail "keygen overwrote keys"
"$cx" keygen --out "$d/other" >/dev/null

# a file of 3 chunks and a bit, sealed and unsealed
head -c 200000 /dev/urandom > "$d/plain.bin"
"$cx" seal --to "$d/k/x25519.pub" --pool pool-7 --contributor 0xabc --type csv --chunk-size 65536 \
    "$d/plain.bin" "$d/blob.cxb" --json > "$d/seal.json"
python3 - "$d/seal.json" <<'PY' || fail "seal --json"
import json, sys
j = json.load(open(sys.argv[1]))
assert j['pool_id'] == 'pool-7' and j['contributor'] == '0xabc' and j['content_type'] == 'csv', j
assert j['plaintext_bytes'] == 200000 and j['chunks'] == 4 and j['chunk_size'] == 65536, j
assert len(j['header_hash']) == 64 and len(j['chunk_tag_hash']) == 64, j
PY
"$cx" unseal --key "$d/k/x25519.key" "$d/blob.cxb" "$d/out.bin"
cmp "$d/plain.bin" "$d/out.bin" || fail "round trip"
[ "$(stat -c %a "$d/out.bin")" = 600 ] || fail "plaintext output mode"

# stdin and stdout
"$cx" seal --to "$d/k/x25519.pub" --pool p --contributor c - - < "$d/plain.bin" > "$d/pipe.cxb"
"$cx" unseal --key "$d/k/x25519.key" - - < "$d/pipe.cxb" > "$d/pipe.out"
cmp "$d/plain.bin" "$d/pipe.out" || fail "stdin/stdout round trip"
# real pipes (no size known up front)
cat "$d/plain.bin" | "$cx" seal --to "$d/k/x25519.pub" --pool p --contributor c - "$d/cat.cxb"
cat "$d/cat.cxb" | "$cx" unseal --key "$d/k/x25519.key" - "$d/cat.out"
cmp "$d/plain.bin" "$d/cat.out" || fail "pipe round trip"
# chunks larger than the default (seal accepts up to 64 MiB) unseal from a file and a pipe
head -c 3000000 /dev/urandom > "$d/big.bin"
"$cx" seal --to "$d/k/x25519.pub" --pool p --contributor c --chunk-size 2097152 \
    "$d/big.bin" "$d/big.cxb" > /dev/null
"$cx" unseal --key "$d/k/x25519.key" "$d/big.cxb" "$d/big.out" || fail "unseal 2 MiB chunks"
cmp "$d/big.bin" "$d/big.out" || fail "2 MiB chunks round trip"
cat "$d/big.cxb" | "$cx" unseal --key "$d/k/x25519.key" - - > "$d/big.pipe" ||
    fail "unseal 2 MiB chunks from a pipe"
cmp "$d/big.bin" "$d/big.pipe" || fail "2 MiB chunks pipe round trip"
rm -f "$d/big.bin" "$d/big.cxb" "$d/big.out" "$d/big.pipe"
: > "$d/empty"
"$cx" seal --to "$d/k/x25519.pub" --pool p --contributor c "$d/empty" "$d/empty.cxb"
"$cx" unseal --key "$d/k/x25519.key" "$d/empty.cxb" "$d/empty.out"
[ -f "$d/empty.out" ] && [ ! -s "$d/empty.out" ] || fail "empty round trip"

# tampering: a byte of chunk 2 flipped -> exit 3, no OUT, message names blob and chunk
cp "$d/blob.cxb" "$d/bad.cxb"
hl=$(python3 -c "import sys; b=open(sys.argv[1],'rb').read(); print(24+b[22]+b[23]+112)" "$d/bad.cxb")
off=$((hl + 2 * (65536 + 16) + 100))
printf '\x5a' | dd of="$d/bad.cxb" bs=1 seek="$off" conv=notrunc status=none
set +e; "$cx" unseal --key "$d/k/x25519.key" "$d/bad.cxb" "$d/bad.out" 2>"$d/err"; rc=$?; set -e
[ "$rc" -eq 3 ] || fail "tampered chunk exit $rc"
[ ! -e "$d/bad.out" ] || fail "partial plaintext left under OUT"
ls "$d" | grep >/dev/null 'bad.out' && fail "temporary file left behind"
grep -q "blob $d/bad.cxb: chunk 2" "$d/err" || fail "message: $(cat "$d/err")"
# truncated
head -c -10 "$d/blob.cxb" > "$d/trunc.cxb"
set +e; "$cx" unseal --key "$d/k/x25519.key" "$d/trunc.cxb" "$d/trunc.out" 2>"$d/err"; rc=$?; set -e
[ "$rc" -eq 3 ] && [ ! -e "$d/trunc.out" ] || fail "truncated: exit $rc"
grep -q "chunk 3: truncated" "$d/err" || fail "truncated message: $(cat "$d/err")"
# wrong key
set +e; "$cx" unseal --key "$d/other/x25519.key" "$d/blob.cxb" "$d/w.out" 2>"$d/err"; rc=$?; set -e
[ "$rc" -eq 3 ] && [ ! -e "$d/w.out" ] || fail "wrong key: exit $rc"
grep -q "sealed to another recipient" "$d/err" || fail "wrong key message: $(cat "$d/err")"
# a secret readable by others is refused
chmod 644 "$d/other/x25519.key"
set +e; "$cx" unseal --key "$d/other/x25519.key" "$d/blob.cxb" "$d/w.out" 2>/dev/null; rc=$?; set -e
[ "$rc" -ne 0 ] || fail "world-readable secret accepted"
# usage errors
set +e; "$cx" seal --to "$d/k/x25519.pub" "$d/plain.bin" 2>/dev/null; rc=$?; set -e
[ "$rc" -eq 2 ] || fail "seal usage exit $rc"

# the benchmark runs and reports its peer
"$cx" bench decrypt --size 4M --threads 1 --json > "$d/bench.json"
python3 - "$d/bench.json" <<'PY' || fail "bench decrypt --json"
import json, sys
j = json.load(open(sys.argv[1]))
for k in ('threads', 'bytes', 'pipeline_gbps', 'openssl_gbps', 'ratio'):
    assert k in j, k
assert j['threads'] == 1 and j['bytes'] == 4 << 20, j
assert j['pipeline_gbps'] > 0 and j['openssl_gbps'] > 0, j
assert abs(j['ratio'] - j['pipeline_gbps'] / j['openssl_gbps']) < 1e-6, j
# the CPU it ran on, the peer's best configuration, and page faults per path, minor and major
# apart (the mapped/read paths' first-touch cost)
assert j['cpu'] and j['openssl_threads'] == 1, j
run = j['runs'][0]
assert run['openssl_file_gbps'] > 0, run
for path in ('pipeline', 'stream', 'openssl'):
    pf = run['page_faults'][path]
    assert set(pf) == {'minor', 'major'} and all(v >= 0 for v in pf.values()), pf
PY
echo "seal/unseal cli: ok"
