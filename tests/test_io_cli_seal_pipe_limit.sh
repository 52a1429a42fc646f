#!/usr/bin/env bash
# test_io_cli_seal_pipe_limit.sh — `seal -` holds a pipe in locked memory up to 1 GiB: exactly
# 1 GiB is sealed (and unseals to the same bytes), 1 GiB + 1 byte is refused with no OUT file.
set -euo pipefail
cx=${CLOAKX:?}
fail() { echo "FAIL: $*" >&2; exit 1; }
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
gib=$((1 << 30))
"$cx" keygen --out "$d/k" >/dev/null
seal() { "$cx" seal --to "$d/k/x25519.pub" --pool p --contributor 0xabc --type f32 - "$1"; }

head -c "$gib" /dev/zero | seal "$d/exact.cxb" || fail "exactly 1 GiB from a pipe was refused"
"$cx" unseal --key "$d/k/x25519.key" "$d/exact.cxb" - | cmp -n "$gib" - /dev/zero ||
    fail "the 1 GiB blob does not unseal to its bytes"
[ "$("$cx" unseal --key "$d/k/x25519.key" "$d/exact.cxb" - | wc -c)" -eq "$gib" ] ||
    fail "the 1 GiB blob unseals to another length"
rm -f "$d/exact.cxb"

set +e
head -c $((gib + 1)) /dev/zero | seal "$d/over.cxb" 2>"$d/err"
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "1 GiB + 1 byte from a pipe was sealed"
grep -q "standard input is over 1024 MiB" "$d/err" || fail "message: $(cat "$d/err")"
[ ! -e "$d/over.cxb" ] || fail "a refused seal left OUT behind"
echo "ok: exactly 1 GiB sealed from a pipe, one byte more refused"
