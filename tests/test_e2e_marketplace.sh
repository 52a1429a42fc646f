#!/usr/bin/env bash
# test_e2e_marketplace.sh — the marketplace through the command line, one process per role:
# pool, enclave registration (simulated refused without --allow-simulated), sellers, buyer,
# worker, payouts that add up exactly, model fetch, verify; forged and replayed results refused
# (a result only for a job its enclave accepted).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/e2e_common.sh"

keys operator buyer s1 s2 s3 s4 thief
"$CLOAKX" demo --write-data "$work/data" --sellers 4 --rows 120 >/dev/null
pool=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "wearables" --price 100 --k 2 \
       --max-rows 150 --operator-fee 700 --protocol-fee 300)
[ ${#pool} -eq 66 ] || fail "pool id '$pool'"

# the simulated TEE is refused unless told, and then registered
expect_rc 3 "$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/op"
grep -q "simulated" "$work/err" || fail "refusal does not say simulated: $(cat "$work/err")"
"$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/op" --allow-simulated \
    --pool "$pool" >/dev/null
"$CLOAKX" --json pool show "$pool" | jq -e '.enclaves | length == 1' >/dev/null || fail "no enclave"

# sellers: a seller refuses to seal to a simulated enclave unless told
expect_rc 3 "$CLOAKX" contribute --key "$work/keys/s1" --pool "$pool" "$work/data/seller01.csv"
for i in 1 3; do
    "$CLOAKX" contribute --key "$work/keys/s$i" --pool "$pool" --allow-simulated \
        "$work/data/seller0$i.csv" >/dev/null
done
xpub=$("$CLOAKX" --json enclave show --state "$work/op" | jget .x25519)
printf 'cloakx-x25519-public-v1 %s\n' "$(printf '%s' "$xpub" | xxd -r -p | base64 -w0)" \
    >"$work/enclave.pub"
# s2 seals with chunks larger than the pipeline's default buffers (2 MiB), and is accepted
"$CLOAKX" seal --to "$work/enclave.pub" --pool "$pool" --contributor "$(addr s2)" --type csv \
    --chunk-size 2097152 "$work/data/seller02.csv" "$work/s2.cxb" >/dev/null
b2=$("$CLOAKX" blob put --store "$CLOAKX_STORE" "$work/s2.cxb")
"$CLOAKX" contribute --key "$work/keys/s2" --pool "$pool" --blob "$b2" >/dev/null
# s3 also registers a second blob, tampered with after sealing: s3 is then left out entirely
"$CLOAKX" seal --to "$work/enclave.pub" --pool "$pool" --contributor "$(addr s3)" --type csv \
    --chunk-size 1024 "$work/data/seller04.csv" "$work/s3b.cxb" >/dev/null
python3 - "$work/s3b.cxb" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[-3000] ^= 0x40
open(sys.argv[1], "wb").write(b)
PY
b3=$("$CLOAKX" blob put --store "$CLOAKX_STORE" "$work/s3b.cxb")
"$CLOAKX" contribute --key "$work/keys/s3" --pool "$pool" --blob "$b3" >/dev/null
# s4 stores without registering; the thief registers s4's blob as his own
b4=$("$CLOAKX" --json contribute --key "$work/keys/s4" --pool "$pool" --allow-simulated \
     --no-register "$work/data/seller04.csv" | jget '.blobs[0].blob_id')
"$CLOAKX" contribute --key "$work/keys/thief" --pool "$pool" --blob "$b4" >/dev/null

# buyer: no money, no job; then a job
expect_rc 1 "$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" \
    --spec "$work/data/spec.json" --pay 20011
"$CLOAKX" balance --key "$work/keys/buyer" --faucet 100000 >/dev/null
job=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/data/spec.json" \
      --pay 20011)
[ "$(balance buyer)" -eq 79989 ] || fail "payment not escrowed"
"$CLOAKX" --json job status "$job" | jq -e '.state == "open"' >/dev/null || fail "job not open"

# the worker runs it
worker_once
expect_one_paid
jq -e '.report.accepted.contributors == 2' "$work/w.json" >/dev/null || fail "accepted count"
# no --device: auto; the report names the backend that ran and why it was chosen
jq -e '.report.backend as $b | ($b == "cpu" or $b == "cuda") and
       (.report.device | startswith($b)) and
       ($b == "cuda" or (.report.device | test("auto: ")))' "$work/w.json" >/dev/null ||
    fail "device report: $(jq -c '.report | {backend, device}' "$work/w.json")"
jq -r '.report.rejected[].reason' "$work/w.json" | grep >/dev/null "tampered" || fail "tampered blob"
[ "$(jq -r '.report.rejected[].reason' "$work/w.json" | grep -c "left out: blob")" -eq 1 ] \
    || fail "s3's good blob not left out: $(jq -c .report.rejected "$work/w.json")"
jq -r '.report.rejected[].reason' "$work/w.json" | grep >/dev/null "somebody else's blob" \
    || fail "thief not rejected"

# payouts add up to the payment exactly, and balances match
"$CLOAKX" --json job status "$job" --store "$CLOAKX_STORE" --bundle "$work/b.json" >"$work/st.json"
jq -e '.state == "paid"' "$work/st.json" >/dev/null || fail "state"
sum=$(jq '([.result.payouts[].amount] | add) + .result.protocol_fee + .result.operator_fee' "$work/st.json")
[ "$sum" -eq 20011 ] || fail "payouts add up to $sum, not 20011"
[ "$(jq '.result.protocol_fee' "$work/st.json")" -eq 600 ] || fail "protocol fee"
[ "$(jq '.result.operator_fee' "$work/st.json")" -eq 1400 ] || fail "operator fee"
[ "$(balance s3)" -eq 0 ] || fail "s3 paid despite its tampered blob"
for i in 1 2; do
    a=$(addr "s$i")
    want=$(jq -r --arg a "$a" '.result.payouts[] | select(.address == $a) | .amount' "$work/st.json")
    [ "$(balance "s$i")" -eq "$want" ] || fail "s$i balance"
done
[ "$(balance thief)" -eq 0 ] || fail "the thief was paid"
[ "$(balance s4)" -eq 0 ] || fail "s4 was paid for a blob it never registered"

# the buyer's model, and a prediction with it
"$CLOAKX" model fetch "$job" --key "$work/keys/buyer" --out "$work/model.safetensors" >/dev/null
expect_rc 3 "$CLOAKX" model fetch "$job" --key "$work/keys/s1" --out "$work/nope.safetensors"
[ ! -e "$work/nope.safetensors" ] || fail "model written with the wrong key"
"$CLOAKX" predict --model "$work/model.safetensors" --data "$work/data/seller04.csv" \
    --out "$work/pred.csv" >/dev/null
[ "$(wc -l <"$work/pred.csv")" -gt 100 ] || fail "predictions"

# verify: offline, with ledger and store; and the simulated report is refused unless told
"$CLOAKX" verify "$work/b.json" --ledger "$CLOAKX_LEDGER" --store "$CLOAKX_STORE" \
    --allow-simulated >"$work/v.txt" || fail "verify: $(cat "$work/v.txt")"
grep -q VERIFIED "$work/v.txt" || fail "verify output"
expect_rc 3 "$CLOAKX" verify "$work/b.json"
grep -q "report: simulated" "$work/err" || fail "simulated not refused: $(cat "$work/err")"

# forged: one byte of the statement changed (a row count), signature kept
python3 - "$work/b.json" "$work/forged.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
s = bytearray.fromhex(b["statement"])
s[-40] ^= 1
b["statement"] = s.hex()
json.dump(b, open(sys.argv[2], "w"))
PY
expect_rc 3 "$CLOAKX" verify "$work/forged.json" --allow-simulated
grep -Eq "signature|statement" "$work/err" || fail "forged bundle: $(cat "$work/err")"

# replayed: job 1's signed result, as the worker saved it (statement and key release),
# submitted again for job 1 (paid) and for a new job 2
job2=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/data/spec.json" \
       --pay 500)
saved="$work/op/jobs/$job.json"
expect_rc 1 "$CLOAKX" job submit "$job" --from "$saved" --key "$work/keys/operator"
grep -q "not accepted" "$work/err" || fail "resubmission: $(cat "$work/err")"
# no enclave has taken job 2: no result at all
expect_rc 1 "$CLOAKX" job submit "$job2" --from "$saved" --key "$work/keys/operator"
grep -q "no enclave has accepted" "$work/err" || fail "unaccepted job: $(cat "$work/err")"
# the enclave accepts job 2 (the worker is stopped right after), then job 1's result is replayed
rm -f "$work/op/paused-accepted"
CLOAKX_WORKER_PAUSE_AT=accepted "$CLOAKX" worker --key "$work/keys/operator" --state "$work/op" \
    --poll-ms 100 >/dev/null 2>"$work/wp.err" &
wp=$!
bg_pids+=("$wp")
for _ in $(seq 600); do
    [ -e "$work/op/paused-accepted" ] && break
    kill -0 "$wp" 2>/dev/null || { cat "$work/wp.err"; fail "worker died before accepting"; }
    sleep 0.05
done
[ -e "$work/op/paused-accepted" ] || fail "the worker never accepted job 2"
kill -9 "$wp"
wait "$wp" 2>/dev/null || true
"$CLOAKX" --json job status "$job2" | jq -e '.state == "accepted"' >/dev/null || fail "job2 state"
expect_rc 3 "$CLOAKX" job submit "$job2" --from "$saved" --key "$work/keys/operator"
grep -q "another job" "$work/err" || fail "replay: $(cat "$work/err")"
# forged: one byte of the saved statement changed, signature kept
jq --arg s "$(python3 -c 'import json,sys; s=bytearray.fromhex(json.load(open(sys.argv[1]))["statement"]); s[-40]^=1; print(s.hex())' "$saved")" \
    '.statement = $s' "$saved" >"$work/forged-state.json"
expect_rc 3 "$CLOAKX" job submit "$job2" --from "$work/forged-state.json" --key "$work/keys/operator"
"$CLOAKX" --json job status "$job2" | jq -e '.state == "accepted" and .result == null' \
    >/dev/null || fail "job2 touched"
# a replayed bundle: job 1's valid result presented as job 2's
expect_rc 3 "$CLOAKX" verify "$work/b.json" --job "$job2" --allow-simulated
grep -q "replayed" "$work/err" || fail "replay not named: $(cat "$work/err")"
echo "ok"
