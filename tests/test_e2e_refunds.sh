#!/usr/bin/env bash
# test_e2e_refunds.sh — when the buyer gets the money back: k not reached (the ledger refunds on
# the result), a wrong enclave measurement (registration refused; a result from an enclave the
# pool does not accept is refused by the ledger) and a passed deadline; payouts add up exactly.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/e2e_common.sh"

keys operator buyer s1 s2 s3
"$CLOAKX" demo --write-data "$work/data" --sellers 4 --rows 80 >/dev/null
"$CLOAKX" balance --key "$work/keys/buyer" --faucet 3000000000 >/dev/null

# --- k not reached: k = 3, two sellers with data; a third whose blob is sealed to a stranger
pool=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "k test" --price 10 --k 3 \
       --max-rows 1000)
"$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/op" --allow-simulated \
    --pool "$pool" >/dev/null
for i in 1 2; do
    "$CLOAKX" contribute --key "$work/keys/s$i" --pool "$pool" --allow-simulated \
        "$work/data/seller0$i.csv" >/dev/null
done
"$CLOAKX" keygen --out "$work/keys/stranger" >/dev/null
"$CLOAKX" seal --to "$work/keys/stranger/x25519.pub" --pool "$pool" --contributor "$(addr s3)" \
    --type csv "$work/data/seller03.csv" "$work/s3.cxb" >/dev/null
b3=$("$CLOAKX" blob put --store "$CLOAKX_STORE" "$work/s3.cxb")
"$CLOAKX" contribute --key "$work/keys/s3" --pool "$pool" --blob "$b3" >/dev/null
before=$(balance buyer)
job=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/data/spec.json" \
      --pay 5000)
[ "$(balance buyer)" -eq $((before - 5000)) ] || fail "escrow"
worker_once
jq -se --arg j "$job" 'map(select(.job == $j and .status == "refunded")) | length == 1' \
    "$work/w.json" >/dev/null || fail "not refunded: $(cat "$work/w.json")"
jq -r '.report.rejected[].reason' "$work/w.json" | grep >/dev/null "another recipient" \
    || fail "blob sealed to a stranger not rejected"
"$CLOAKX" --json job status "$job" | jq -e '.state == "refunded" and .result.refunded == true' \
    >/dev/null || fail "job state"
[ "$(balance buyer)" -eq "$before" ] || fail "buyer not refunded in full"
[ "$(balance s1)" -eq 0 ] && [ "$(balance s2)" -eq 0 ] || fail "sellers paid below k"
expect_rc 1 "$CLOAKX" model fetch "$job" --key "$work/keys/buyer" --out "$work/m.safetensors"

# --- payouts add up exactly, for awkward payments and fees (k = 2 reached)
for spec in "7 0 0" "1000003 1 9998" "999999999 333 667"; do
    set -- $spec
    p=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "split $1" --price 1 --k 2 \
        --max-rows 50 --protocol-fee "$2" --operator-fee "$3")
    "$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/op$1" \
        --allow-simulated --pool "$p" >/dev/null
    for i in 1 2 3; do
        "$CLOAKX" contribute --key "$work/keys/s$i" --pool "$p" --allow-simulated \
            "$work/data/seller0$i.csv" >/dev/null
    done
    j=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$p" --spec "$work/data/spec.json" \
        --pay "$1")
    "$CLOAKX" worker --key "$work/keys/operator" --state "$work/op$1" --once >/dev/null 2>&1 \
        || fail "worker ($1)"
    "$CLOAKX" --json job status "$j" >"$work/st.json"
    jq -e '.state == "paid"' "$work/st.json" >/dev/null || fail "split $1 not paid"
    sum=$(jq '([.result.payouts[].amount] | add) + .result.protocol_fee + .result.operator_fee' "$work/st.json")
    [ "$sum" -eq "$1" ] || fail "payment $1: payouts add up to $sum"
    [ "$(jq '.result.protocol_fee' "$work/st.json")" -eq $(( $1 * $2 / 10000 )) ] || fail "fee $1"
done

# --- wrong measurement: a pool that accepts another code measurement
bad=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "strict" --price 10 --k 1 \
      --max-rows 100 --measurement "$(printf 'ab%.0s' $(seq 48))")
expect_rc 3 "$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/opbad" \
    --allow-simulated --pool "$bad"
grep -q "measurement refused" "$work/err" || fail "measurement: $(cat "$work/err")"
# registered anyway (without --pool): sellers cannot find it, and its result is refused
"$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/opbad" --allow-simulated \
    >/dev/null
expect_rc 1 "$CLOAKX" contribute --key "$work/keys/s1" --pool "$bad" --allow-simulated \
    "$work/data/seller01.csv"
grep -q "no registered enclave" "$work/err" || fail "contribute: $(cat "$work/err")"
# a seller who seals to that enclave directly: the job runs, but the ledger refuses its result
xpub=$("$CLOAKX" --json enclave show --state "$work/opbad" | jget .x25519)
printf 'cloakx-x25519-public-v1 %s\n' "$(printf '%s' "$xpub" | xxd -r -p | base64 -w0)" \
    >"$work/bad.pub"
"$CLOAKX" seal --to "$work/bad.pub" --pool "$bad" --contributor "$(addr s1)" --type csv \
    "$work/data/seller01.csv" "$work/bad.cxb" >/dev/null
bb=$("$CLOAKX" blob put --store "$CLOAKX_STORE" "$work/bad.cxb")
"$CLOAKX" contribute --key "$work/keys/s1" --pool "$bad" --blob "$bb" >/dev/null
before=$(balance buyer)
jb=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$bad" --spec "$work/data/spec.json" \
     --pay 300)
set +e
"$CLOAKX" --json worker --key "$work/keys/operator" --state "$work/opbad" --once >"$work/w.json" \
    2>"$work/w.err"
set -e
jq -se --arg j "$jb" 'map(select(.job == $j and .status == "failed")) | length == 1' \
    "$work/w.json" >/dev/null || fail "bad enclave's job: $(cat "$work/w.json")"
jq -rs --arg j "$jb" 'map(select(.job == $j))[0].error' "$work/w.json" \
    | grep >/dev/null "ledger refused.*measurement" || fail "not refused for its measurement"
"$CLOAKX" --json job status "$jb" | jq -e '.state == "open"' >/dev/null || fail "paid anyway"
[ "$(balance buyer)" -eq $((before - 300)) ] || fail "escrow"
# --- deadline: after it, the worker (or anyone) refunds the buyer
before=$(balance buyer)
jd=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$bad" --spec "$work/data/spec.json" \
     --pay 400 --deadline 3s)
[ "$(balance buyer)" -eq $((before - 400)) ] || fail "escrow"
expect_rc 1 "$CLOAKX" job refund "$jd" --key "$work/keys/s2"
grep -q "not passed" "$work/err" || fail "early refund: $(cat "$work/err")"
sleep 3.2
"$CLOAKX" worker --key "$work/keys/operator" --state "$work/opbad" --once >/dev/null 2>&1 || true
"$CLOAKX" --json job status "$jd" | jq -e '.state == "refunded"' >/dev/null || fail "deadline refund"
[ "$(balance buyer)" -eq "$before" ] || fail "deadline refund amount"
echo "ok"
