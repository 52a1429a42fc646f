#!/usr/bin/env bash
# test_cli_sigbus.sh — a memory-mapped input truncated by another process raises SIGBUS; cloakx
# reports it and exits with the failure status (1) instead of crashing, leaving no OUT file.
set -u
cx=${CLOAKX:?}
fail() { echo "FAIL: $*" >&2; exit 1; }
d=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; exec 3>&-; rm -rf "$d"' EXIT
"$cx" keygen --out "$d/k" >/dev/null || fail keygen

# The handler check below reads SigCgt, so nothing but cloakx may catch SIGBUS: AddressSanitizer
# installs its own handler at start-up (before cloakx's), which let the test signal too early and
# ASan report a crash. Without a re-exec (OMP_WAIT_POLICY already set) there is one image to wait for.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}handle_sigbus=0"
export OMP_WAIT_POLICY=passive

# a cloakx that is busy (waiting for its input, a FIFO this shell holds open) when the signal
# arrives
mkfifo "$d/in" || fail mkfifo
exec 3<>"$d/in"
"$cx" unseal --key "$d/k/x25519.key" - "$d/out" <"$d/in" 2>"$d/err" &
pid=$!
# wait until it has installed its handler (bit 7 - 1 of SigCgt)
for _ in $(seq 1 100); do
    cgt=$(awk '/^SigCgt:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$cgt" ] && [ $((0x$cgt & 0x40)) -ne 0 ] && break
    sleep 0.05
done
[ -n "${cgt:-}" ] && [ $((0x$cgt & 0x40)) -ne 0 ] || fail "cloakx never caught SIGBUS (SigCgt ${cgt:-?})"
kill -BUS "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 1 ] || fail "exit status $rc after SIGBUS, want 1: $(cat "$d/err")"
grep -q "truncated by another process while it was being read" "$d/err" ||
    fail "message: $(cat "$d/err")"
[ ! -e "$d/out" ] || fail "OUT left behind"
echo "ok: SIGBUS on a mapped input is a clear error (exit 1), not a crash"
