#!/usr/bin/env bash
# test_e2e_model_key.sh — issue 13 item 3, "the buyer gets the model and a full refund": the
# model is stored before the result is submitted, and the deadline passes before the ledger
# takes it. The stored model must not open with the buyer's key, the buyer cannot pull the
# escrow while the enclave that accepted the job may still deliver, and the model's key comes
# only from the transaction that pays the contributors (chain/RULES.md §2, §2.2). A job the enclave
# accepted and cannot run is refunded at once by its signed failure.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/e2e_common.sh"

keys operator buyer s1 s2 s3
"$CLOAKX" demo --write-data "$work/data" --sellers 3 --rows 100 >/dev/null
"$CLOAKX" balance --key "$work/keys/buyer" --faucet 100000 >/dev/null
pool=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "key release" --price 10 --k 2 \
       --max-rows 1000)
"$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/op" --allow-simulated \
    --pool "$pool" >/dev/null
for i in 1 2 3; do
    "$CLOAKX" contribute --key "$work/keys/s$i" --pool "$pool" --allow-simulated \
        "$work/data/seller0$i.csv" >/dev/null
done
before=$(balance buyer)
job=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/data/spec.json" \
      --pay 4000 --deadline 20s)

# the worker runs the job up to the signed result (model sealed and stored) and dies there
rm -f "$work/op/paused-signed"
CLOAKX_WORKER_PAUSE_AT=signed "$CLOAKX" worker --key "$work/keys/operator" --state "$work/op" \
    --poll-ms 100 >/dev/null 2>"$work/w1.err" &
pid=$!
bg_pids+=("$pid")
for _ in $(seq 600); do
    [ -e "$work/op/paused-signed" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/w1.err"; fail "worker died before signing"; }
    sleep 0.05
done
[ -e "$work/op/paused-signed" ] || fail "the worker never signed"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true

# the sealed model is in the store (its id is no secret: stores are public); the buyer's own key
# does not open it, and the ledger releases no key for an unpaid job
mid=$(jq -r .model_blob_id "$work/op/jobs/$job.json")
"$CLOAKX" blob get --store "$CLOAKX_STORE" "$mid" "$work/model.cxb" >/dev/null
expect_rc 3 "$CLOAKX" unseal --key "$work/keys/buyer/x25519.key" "$work/model.cxb" "$work/stolen"
[ ! -s "$work/stolen" ] || fail "the buyer unsealed the stored model without paying"
expect_rc 1 "$CLOAKX" model fetch "$job" --key "$work/keys/buyer" --out "$work/m0.safetensors"
grep -q "released only with payment" "$work/err" || fail "fetch unpaid: $(cat "$work/err")"
"$CLOAKX" --json job status "$job" >"$work/st.json"
jq -e '.state == "accepted" and .result == null and (.enclave | length) == 66' "$work/st.json" \
    >/dev/null || fail "not accepted: $(cat "$work/st.json")"

# the deadline passes: the escrow stays locked to the enclave that accepted the job
deadline=$(jq .deadline_ms "$work/st.json")
now=$(($(date +%s%3N)))
[ "$now" -le "$deadline" ] || fail "the job ran past its deadline before the test could check"
sleep "$(python3 -c "print(max(0, ($deadline - $now) / 1000 + 0.3))")"
expect_rc 1 "$CLOAKX" job refund "$job" --key "$work/keys/buyer"
grep -q "locked" "$work/err" || fail "refund of an accepted job: $(cat "$work/err")"
[ "$(balance buyer)" -eq $((before - 4000)) ] || fail "escrow moved"

# the worker comes back within the grace period: one transaction pays and reveals the key
"$CLOAKX" --json worker --key "$work/keys/operator" --state "$work/op" --once >"$work/w.json" \
    2>"$work/w.err" || { cat "$work/w.err"; fail "worker restart"; }
expect_one_paid
"$CLOAKX" --json job status "$job" >"$work/st.json"
jq -e '.state == "paid" and .result.model_key_released == true' "$work/st.json" >/dev/null \
    || fail "paid: $(cat "$work/st.json")"
"$CLOAKX" model fetch "$job" --key "$work/keys/buyer" --out "$work/m.safetensors" >/dev/null
[ -s "$work/m.safetensors" ] || fail "no model after payment"
# still: the blob alone does not open with the buyer's key, the released key is the buyer's only
expect_rc 3 "$CLOAKX" unseal --key "$work/keys/buyer/x25519.key" "$work/model.cxb" "$work/stolen"
expect_rc 3 "$CLOAKX" model fetch "$job" --key "$work/keys/s1" --out "$work/m1.safetensors"
[ ! -e "$work/m1.safetensors" ] || fail "a seller opened the buyer's model"
# and the buyer cannot also have the money back
expect_rc 1 "$CLOAKX" job refund "$job" --key "$work/keys/buyer"
[ "$(balance buyer)" -eq $((before - 4000)) ] || fail "paid and refunded"

# a job the enclave accepts and cannot run (a pool without data): its signed failure refunds
# the buyer at once, naming a class, and reveals nothing
empty=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "no data yet" --price 10 --k 1 \
        --max-rows 10)
"$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/op2" --allow-simulated \
    --pool "$empty" >/dev/null
before=$(balance buyer)
je=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$empty" --spec "$work/data/spec.json" \
     --pay 300)
set +e # a worker pass with a failed job exits 1
"$CLOAKX" --json worker --key "$work/keys/operator" --state "$work/op2" --once >"$work/w2.json" \
    2>"$work/w2.err"
set -e
jq -se --arg j "$je" 'map(select(.job == $j and .status == "failed")) | length == 1' \
    "$work/w2.json" >/dev/null || fail "empty pool's job: $(cat "$work/w2.json")"
"$CLOAKX" --json job status "$je" | jq -e '.state == "refunded" and .failure == "data" and
    .result == null' >/dev/null || fail "not refunded by the enclave's failure"
[ "$(balance buyer)" -eq "$before" ] || fail "failure refund amount"
echo "ok"
