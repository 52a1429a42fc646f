#!/usr/bin/env bash
# test_e2e_worker_kill.sh — a worker killed with SIGKILL in the middle of a job (right after its
# enclave accepted it; after the blobs were decrypted; after the statement was signed and saved,
# before it was submitted; and after the submission) finishes the job after a restart with
# exactly one payment, nothing lost.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/e2e_common.sh"

keys operator buyer s1 s2 s3
"$CLOAKX" demo --write-data "$work/data" --sellers 3 --rows 100 >/dev/null
"$CLOAKX" balance --key "$work/keys/buyer" --faucet 1000000 >/dev/null
pool=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "kill test" --price 10 --k 2 \
       --max-rows 1000)
"$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/op" --allow-simulated \
    --pool "$pool" >/dev/null
for i in 1 2 3; do
    "$CLOAKX" contribute --key "$work/keys/s$i" --pool "$pool" --allow-simulated \
        "$work/data/seller0$i.csv" >/dev/null
done

total_balance() {
    local t=0
    for r in operator buyer s1 s2 s3; do t=$((t + $(balance "$r"))); done
    echo "$t"
}

run_kill() { # phase payment
    local phase=$1 pay=$2
    local job before_total
    job=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" \
          --spec "$work/data/spec.json" --pay "$pay")
    before_total=$(total_balance)
    rm -f "$work/op/paused-$phase"
    CLOAKX_WORKER_PAUSE_AT=$phase "$CLOAKX" worker --key "$work/keys/operator" \
        --state "$work/op" --poll-ms 100 >"$work/w1.out" 2>"$work/w1.err" &
    local pid=$!
    bg_pids+=("$pid")
    for _ in $(seq 600); do
        [ -e "$work/op/paused-$phase" ] && break
        kill -0 "$pid" 2>/dev/null || { cat "$work/w1.err"; fail "worker died before $phase"; }
        sleep 0.05
    done
    [ -e "$work/op/paused-$phase" ] || fail "worker never reached $phase"
    # a second worker on the same state would run the same job: refused
    expect_rc 1 "$CLOAKX" worker --key "$work/keys/operator" --state "$work/op" --once
    grep -q "another worker" "$work/err" || fail "second worker: $(cat "$work/err")"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    # killed mid-job: accepted by the enclave (escrow locked to it), nothing paid, nothing
    # half-visible on the ledger
    "$CLOAKX" --json job status "$job" | jq -e '.state == "accepted" and (.result == null)' \
        >/dev/null || fail "$phase: job settled by a killed worker"
    [ "$(total_balance)" -eq "$before_total" ] || fail "$phase: balances moved"
    # restart: the job finishes, paid once
    "$CLOAKX" --json worker --key "$work/keys/operator" --state "$work/op" --once \
        >"$work/w2.json" 2>"$work/w2.err" || { cat "$work/w2.err"; fail "$phase: restart"; }
    jq -se --arg j "$job" 'map(select(.job == $j and .status == "paid")) | length == 1' \
        "$work/w2.json" >/dev/null \
        || fail "$phase: not paid after restart: $(cat "$work/w2.json")"
    "$CLOAKX" --json job status "$job" >"$work/st.json"
    jq -e '.state == "paid"' "$work/st.json" >/dev/null || fail "$phase: state"
    local sum
    sum=$(jq '([.result.payouts[].amount] | add) + .result.protocol_fee + .result.operator_fee' \
          "$work/st.json")
    [ "$sum" -eq "$pay" ] || fail "$phase: paid $sum of $pay"
    # money is conserved: the escrow moved to the payees, nothing more (protocol fee: 0x0)
    local proto
    proto=$(jq '.result.protocol_fee' "$work/st.json")
    [ "$(total_balance)" -eq $((before_total + pay - proto)) ] || fail "$phase: paid twice?"
    # a third run changes nothing
    "$CLOAKX" worker --key "$work/keys/operator" --state "$work/op" --once >/dev/null 2>&1
    [ "$(total_balance)" -eq $((before_total + pay - proto)) ] || fail "$phase: paid again"
    echo "$phase: killed, restarted, paid once"
}
run_kill accepted 5003
run_kill decrypted 10007
run_kill trained 20011
run_kill signed 30011

# killed right after the ledger accepted the result, before the worker recorded it: the
# restart sees its own result on the ledger and settles without a second submission
job=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/data/spec.json" \
      --pay 999)
"$CLOAKX" worker --key "$work/keys/operator" --state "$work/op" --once >/dev/null 2>&1
"$CLOAKX" --json job status "$job" | jq -e '.state == "paid"' >/dev/null || fail "last job"
f="$work/op/jobs/$job.json"
jq '.phase = "signed"' "$f" >"$f.tmp" && mv "$f.tmp" "$f"
"$CLOAKX" --json worker --key "$work/keys/operator" --state "$work/op" --once >"$work/w3.json" \
    2>/dev/null || fail "resettle"
jq -se --arg j "$job" 'map(select(.job == $j and .status == "paid")) | length == 1' \
    "$work/w3.json" >/dev/null \
    || fail "not resettled: $(cat "$work/w3.json")"
echo "ok"
