#!/usr/bin/env bash
# test_e2e_worker_mlock.sh — issue 13 item 8: under a small lock limit (`ulimit -l 64` in a
# subshell, and without CAP_IPC_LOCK when run as root) the worker says loudly at the start that
# plaintext beyond the limit cannot be locked, runs the job and says how many bytes were not
# locked (log and job report); with --require-mlock it refuses to run the job (the enclave
# gives it up, the buyer is refunded) instead of holding plaintext in unlocked memory.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/e2e_common.sh"

# root is not held to RLIMIT_MEMLOCK while it has CAP_IPC_LOCK: drop it for the worker
nocap=()
if [ "$(id -u)" -eq 0 ]; then
    command -v setpriv >/dev/null || { echo "SKIP: root without setpriv cannot drop CAP_IPC_LOCK"; exit 77; }
    nocap=(setpriv --bounding-set -ipc_lock --inh-caps -ipc_lock)
fi
# the worker, one pass, under a 64 KiB lock limit; its exit code in $work/rc
worker_limited() {
    set +e
    (ulimit -l 64 && exec "${nocap[@]}" "$CLOAKX" --json worker --key "$work/keys/operator" \
        --state "$work/op" --once "$@") >"$work/w.json" 2>"$work/w.err"
    echo $? >"$work/rc"
    set -e
}

# The sanitizer runtimes (ASan, TSan, MSan) intercept mlock with a no-op that returns success,
# so in those builds every allocation looks locked and there is nothing to count or refuse.
if [ -n "${CX_SANITIZE:-}" ]; then
    echo "SKIP: built with -fsanitize=$CX_SANITIZE, whose runtime replaces mlock with a no-op;"
    echo "      the normal build runs this test"
    exit 77
fi
# Some sandboxes let a process lock beyond its limit (mlock is not accounted there): then no
# byte is ever unlocked and --require-mlock has nothing to refuse, so the test says so and skips.
limited_can_lock_1mib() {
    (ulimit -l 64 && exec "${nocap[@]}" python3 -c '
import ctypes, mmap, sys
libc = ctypes.CDLL(None, use_errno=True)
m = mmap.mmap(-1, 1 << 20)
a = ctypes.addressof(ctypes.c_char.from_buffer(m))
sys.exit(0 if libc.mlock(ctypes.c_void_p(a), ctypes.c_size_t(1 << 20)) == 0 else 1)')
}
if limited_can_lock_1mib; then
    echo "SKIP: this kernel let a process under 'ulimit -l 64' without CAP_IPC_LOCK mlock 1 MiB;"
    echo "      RLIMIT_MEMLOCK is not enforced here, so nothing can be left unlocked"
    exit 77
fi

keys operator buyer s1 s2
"$CLOAKX" demo --write-data "$work/data" --sellers 2 --rows 300 >/dev/null
"$CLOAKX" balance --key "$work/keys/buyer" --faucet 100000 >/dev/null
pool=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "mlock" --price 10 --k 1 \
       --max-rows 1000)
"$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/op" --allow-simulated \
    --pool "$pool" >/dev/null 2>&1
for i in 1 2; do
    "$CLOAKX" contribute --key "$work/keys/s$i" --pool "$pool" --allow-simulated \
        "$work/data/seller0$i.csv" >/dev/null 2>&1
done

# without --require-mlock: loud at the start and after the job, with the amount
j1=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/data/spec.json" \
     --pay 1000)
worker_limited
[ "$(cat "$work/rc")" -eq 0 ] || { cat "$work/w.err"; fail "worker exited $(cat "$work/rc")"; }
grep -q "warning: worker: RLIMIT_MEMLOCK is 64 KiB: plaintext beyond it cannot be locked" \
    "$work/w.err" || fail "no warning at the start: $(cat "$work/w.err")"
said=$(sed -n 's/.*job 0x[0-9a-f]*: \([0-9]*\) bytes of plaintext and keys could NOT be locked.*/\1/p' \
       "$work/w.err")
[ -n "$said" ] && [ "$said" -gt 0 ] ||
    fail "the worker did not say how much was not locked: $(cat "$work/w.err"; cat "$work/w.json")"
jq -se --arg j "$j1" --argjson n "$said" 'map(select(.job == $j))[0]
    | .status == "paid" and .report.secure_memory.unlocked_bytes == $n
      and .report.secure_memory.lock_required == false' "$work/w.json" >/dev/null \
    || fail "job report: $(cat "$work/w.json")"

# with --require-mlock: the job is not run on unlocked memory
before=$(balance buyer)
j2=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/data/spec.json" \
     --pay 1000)
worker_limited --require-mlock
[ "$(cat "$work/rc")" -ne 0 ] || fail "--require-mlock: the worker ran the job"
grep -q "such jobs fail" "$work/w.err" || fail "no --require-mlock warning at the start"
jq -se --arg j "$j2" 'map(select(.job == $j))[0] | .status == "failed"
    and (.error | test("--require-mlock: secure memory could not be locked"))' "$work/w.json" \
    >/dev/null || fail "--require-mlock job: $(cat "$work/w.json")"
"$CLOAKX" --json job status "$j2" | jq -e '.state == "refunded" and (.result == null)' >/dev/null \
    || fail "the refused job: $("$CLOAKX" --json job status "$j2")"
[ "$(balance buyer)" = "$before" ] || fail "the buyer was not refunded"
echo "ok"
