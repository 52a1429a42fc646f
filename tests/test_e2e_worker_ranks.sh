#!/usr/bin/env bash
# test_e2e_worker_ranks.sh — the worker as 2 ranks (issue 17): the job split between them gives
# the one-process model (same metrics within 1e-5), is paid, and its bundle verifies with every
# rank's attestation; a rank running other code (another measurement) is refused and the job
# does not run on it; a rank killed mid-job ends the worker, and the restarted worker pays the
# job once; a rank waiting for the next job sleeps instead of spinning a core. 77 without MPI.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/e2e_common.sh"
command -v mpirun >/dev/null || { echo "SKIP: no mpirun (openmpi-bin)"; exit 77; }
# loopback only; LeakSanitizer off in the ranks (Open MPI's plugins leak at MPI_Finalize, see
# test_kernels_mpi_cli.sh)
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_btl_vader_single_copy_mechanism=none
if [ -n "${CX_SANITIZE:-}" ]; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
root=()
[ "$(id -u)" -eq 0 ] && root=(--allow-run-as-root)
mpi=(mpirun "${root[@]}" --oversubscribe --bind-to none --mca mpi_yield_when_idle 1)

keys operator buyer s1 s2 s3 s4
"$CLOAKX" demo --write-data "$work/data" --sellers 4 --rows 300 >/dev/null
# without DP-SGD (its noise is fresh randomness each run), so that two runs can be compared
jq 'del(.privacy)' "$work/data/spec.json" >"$work/spec.json"
"$CLOAKX" balance --key "$work/keys/buyer" --faucet 1000000 >/dev/null
pool=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "ranks" --price 10 --k 2 \
       --max-rows 100000)
"$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/op" --allow-simulated \
    --pool "$pool" >/dev/null
for i in 1 2 3 4; do
    "$CLOAKX" contribute --key "$work/keys/s$i" --pool "$pool" --allow-simulated \
        "$work/data/seller0$i.csv" >/dev/null
done
# s4 also registers a second blob, tampered with after sealing: s4 is left out entirely, by
# whichever rank decrypts it, on every rank
xpub=$("$CLOAKX" --json enclave show --state "$work/op" | jget .x25519)
printf 'cloakx-x25519-public-v1 %s\n' "$(printf '%s' "$xpub" | xxd -r -p | base64 -w0)" \
    >"$work/enclave.pub"
"$CLOAKX" seal --to "$work/enclave.pub" --pool "$pool" --contributor "$(addr s4)" --type csv \
    --chunk-size 1024 "$work/data/seller01.csv" "$work/s4b.cxb" >/dev/null
python3 - "$work/s4b.cxb" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[-3000] ^= 0x40
open(sys.argv[1], "wb").write(b)
PY
b4=$("$CLOAKX" blob put --store "$CLOAKX_STORE" "$work/s4b.cxb")
"$CLOAKX" contribute --key "$work/keys/s4" --pool "$pool" --blob "$b4" >/dev/null
new_job() {
    "$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/spec.json" \
        --pay "$1"
}
worker_args=(--key "$work/keys/operator" --state "$work/op" --once --threads 1)

# one process, then 2 ranks, on the same data and spec
one=$(new_job 1000)
worker_once --threads 1
expect_one_paid
jq -c --arg j "$one" 'select(.job == $j) | .report' "$work/w.json" >"$work/one.json"
two=$(new_job 1001)
timeout 120 "$CLOAKX" -v --json worker "${worker_args[@]}" --ranks 2 >"$work/w.json" \
    2>"$work/w.err" || { cat "$work/w.err"; fail "worker --ranks 2"; }
expect_one_paid
jq -c --arg j "$two" 'select(.job == $j) | .report' "$work/w.json" >"$work/two.json"
jq -e '.ranks == {size: 2, split: true}' "$work/two.json" >/dev/null \
    || fail "2 ranks: not split: $(jq -c .ranks "$work/two.json")"
jq -e '.ranks == {size: 1, split: false}' "$work/one.json" >/dev/null || fail "one process: ranks"
grep -q "every rank attested the same measurement" "$work/w.err" || fail "no attestation logged"
grep -q "across 2 ranks, balanced by size" "$work/w.err" || fail "blobs not split"
# the same table, split, permutation and batches: the one-process model up to the order of the
# sums (measured ~1e-7)
jq -n --slurpfile a "$work/one.json" --slurpfile b "$work/two.json" '
    [$a[0].metrics, $b[0].metrics] as [$x, $y]
    | ($x | keys) == ($y | keys) and
      all($x | keys[]; . as $k | (($x[$k] - $y[$k]) | fabs) <= 1e-5 * (1 + ($x[$k] | fabs)))
      and $a[0].accepted == $b[0].accepted and $a[0].dataset_commitment == $b[0].dataset_commitment
      and ($a[0].rejected | map([.blob_id, .class])) == ($b[0].rejected | map([.blob_id, .class]))
      and ($b[0].rejected | map(.class) | sort) == ["contributor", "decrypt"]' \
    | grep -qx true || fail "2 ranks differ from one process: $(jq -c .metrics "$work/one.json") vs $(jq -c .metrics "$work/two.json")"
# the statement commits to both ranks' documents; the bundle carries them and verifies
jq -e '.ranks | length == 2' "$work/op/results/$two.bundle.json" >/dev/null \
    || fail "the bundle does not list the 2 ranks"
"$CLOAKX" --json verify "$work/op/results/$two.bundle.json" --ledger "$CLOAKX_LEDGER" \
    --store "$CLOAKX_STORE" --allow-simulated >"$work/v.json" \
    2>"$work/v.err" || true
jq -e '.checks[] | select(.check == "ranks") | .status == "ok"' "$work/v.json" >/dev/null \
    || fail "ranks not verified: $(cat "$work/v.json" "$work/v.err")"
# a rank's document swapped for rank 0's: refused
jq '.ranks[1].document = .ranks[0].document' "$work/op/results/$two.bundle.json" >"$work/bad.json"
expect_rc 3 "$CLOAKX" --json verify "$work/bad.json" --allow-simulated
grep -q "ranks" "$work/out" || fail "a swapped rank document passed: $(cat "$work/out")"
echo "2 ranks: paid, the one-process metrics (largest difference $(jq -n --slurpfile a \
    "$work/one.json" --slurpfile b "$work/two.json" '[$a[0].metrics | keys[] as $k |
    (($a[0].metrics[$k] - $b[0].metrics[$k]) | fabs)] | max'))"

# a rank running other code: another measurement, refused by rank 0 (and refusing it)
cp "$CLOAKX" "$work/cloakx-other"
printf 'other' >>"$work/cloakx-other"
three=$(new_job 1002)
set +e
timeout 120 "${mpi[@]}" -np 1 "$CLOAKX" --json worker "${worker_args[@]}" \
    : -np 1 "$work/cloakx-other" --json worker "${worker_args[@]}" >"$work/w.json" 2>"$work/w.err"
set -e
grep -q "rank 1: another measurement" "$work/w.err" \
    || { cat "$work/w.err"; fail "the other measurement was not refused"; }
grep -m1 "another measurement" "$work/w.err"
"$CLOAKX" --json job status "$three" | jq -e '.state != "paid"' >/dev/null \
    || fail "a job ran with a rank of another measurement"
echo "other measurement: refused, the job not paid"

# rank 1 killed mid-job (after decrypting its share): the worker ends; restarted, it pays once
four=$(new_job 1003)
rm -f "$work/op/paused-decrypted"
CLOAKX_WORKER_PAUSE_AT=decrypted CLOAKX_WORKER_PAUSE_RANK=1 timeout 120 "$CLOAKX" worker \
    --key "$work/keys/operator" --state "$work/op" --threads 1 --poll-ms 100 --ranks 2 \
    >"$work/k.out" 2>"$work/k.err" &
pid=$!
bg_pids+=("$pid")
for _ in $(seq 600); do
    [ -s "$work/op/paused-decrypted" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/k.err"; fail "worker died before rank 1 paused"; }
    sleep 0.05
done
rank1=$(awk '{print $2}' "$work/op/paused-decrypted")
[ -n "$rank1" ] || fail "rank 1 did not pause"
kill -9 "$rank1"
set +e
wait "$pid"
krc=$?
set -e
[ "$krc" -ne 0 ] || fail "the worker exited 0 with a rank killed"
"$CLOAKX" --json job status "$four" | jq -e '.state == "accepted" and .result == null' \
    >/dev/null || fail "killed: the job settled"
timeout 120 "$CLOAKX" -v --json worker "${worker_args[@]}" --ranks 2 >"$work/w.json" \
    2>"$work/w.err" || { cat "$work/w.err"; fail "restart"; }
jq -se --arg j "$four" 'map(select(.job == $j and .status == "paid")) | length == 1' \
    "$work/w.json" >/dev/null || fail "killed rank: not paid after restart: $(cat "$work/w.json")"
echo "rank 1 killed mid-job: the worker ended, restarted and paid once"

# between jobs, rank 1 waits asleep: under a blocking MPI broadcast it spun a core all the while
timeout 120 "$CLOAKX" -v worker --key "$work/keys/operator" --state "$work/op" --threads 1 \
    --poll-ms 100 --ranks 2 >"$work/i.out" 2>"$work/i.err" &
pid=$!
bg_pids+=("$pid")
rank1=
for _ in $(seq 600); do
    if grep -q "rank 1 of 2 waiting" "$work/i.err"; then
        for p in $(pgrep -f "cloakx.* worker .*--state $work/op"); do
            tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 \
                && rank1=$p
        done
        [ -n "$rank1" ] && break
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$work/i.err"; fail "idle worker died"; }
    sleep 0.05
done
[ -n "$rank1" ] || fail "no waiting rank 1"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
t0=$(ticks "$rank1")
sleep 2
t1=$(ticks "$rank1")
kill "$pid"
wait "$pid" 2>/dev/null || true
hz=$(getconf CLK_TCK)
# a spinning rank takes what a core gives it (all of it on an idle one); asleep, next to nothing
[ $((t1 - t0)) -lt $((hz / 2)) ] \
    || fail "rank 1 used $((t1 - t0)) of $((2 * hz)) clock ticks waiting for a job"
echo "idle rank 1: $((t1 - t0)) clock ticks of CPU in 2 s"
