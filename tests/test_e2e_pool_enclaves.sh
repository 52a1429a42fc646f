#!/usr/bin/env bash
# test_e2e_pool_enclaves.sh — issue 13 item 6, "sellers seal to whichever enclave anyone
# registered last": somebody who is not the pool's operator registers an enclave (a measurement
# the pool accepts: the same binary) after the operator's. The ledger refuses to make it one of
# the pool's, `contribute` seals to the operator's enclave and says so, and the intruder's
# enclave can neither be picked by a seller nor take the pool's jobs (chain/RULES.md §2.1).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/e2e_common.sh"

keys operator intruder buyer s1 s2
"$CLOAKX" demo --write-data "$work/data" --sellers 2 --rows 100 >/dev/null
pool=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "pool enclaves" --price 10 \
       --k 1 --max-rows 1000)
"$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/op" --allow-simulated \
    --pool "$pool" >/dev/null
ours=$("$CLOAKX" --json enclave show --state "$work/op" | jget .enclave)

# the intruder cannot register an enclave for the pool ...
expect_rc 3 "$CLOAKX" enclave register --key "$work/keys/intruder" --state "$work/evil" \
    --allow-simulated --pool "$pool"
grep -q "only the pool's operator" "$work/err" || fail "intruder for the pool: $(cat "$work/err")"
# ... only an enclave of no pool, registered after the operator's
"$CLOAKX" enclave register --key "$work/keys/intruder" --state "$work/evil" --allow-simulated \
    >/dev/null
evil=$("$CLOAKX" --json enclave show --state "$work/evil" | jget .enclave)
[ "$evil" != "$ours" ] || fail "one enclave"
"$CLOAKX" --json pool show "$pool" >"$work/pool.json"
jq -e --arg o "$ours" '.enclaves | length == 1 and .[0].enclave == $o' "$work/pool.json" \
    >/dev/null || fail "pool enclaves: $(cat "$work/pool.json")"

# the seller seals to the operator's enclave, and says which
"$CLOAKX" contribute --key "$work/keys/s1" --pool "$pool" --allow-simulated \
    "$work/data/seller01.csv" >"$work/c1.txt"
grep -q "sealing to enclave $ours: added to the pool by its operator" "$work/c1.txt" \
    || fail "contribute does not name the operator's enclave: $(cat "$work/c1.txt")"
"$CLOAKX" --json contribute --key "$work/keys/s2" --pool "$pool" --allow-simulated \
    "$work/data/seller02.csv" >"$work/c2.json"
jq -e --arg o "$ours" '.enclave.id == $o and .blobs[0].enclave == $o' "$work/c2.json" \
    >/dev/null || fail "sealed to $(jq -r .enclave.id "$work/c2.json"), not $ours"
# naming the intruder's enclave does not make it a target
expect_rc 1 "$CLOAKX" contribute --key "$work/keys/s1" --pool "$pool" --allow-simulated \
    --enclave "$evil" "$work/data/seller01.csv"
grep -q "no registered enclave" "$work/err" || fail "--enclave intruder: $(cat "$work/err")"

# the intruder's worker cannot take the pool's jobs (it is no operator of the pool, and its
# enclave is not the pool's); the operator's can, and pays
"$CLOAKX" balance --key "$work/keys/buyer" --faucet 10000 >/dev/null
job=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/data/spec.json" \
      --pay 500)
worker_once
expect_one_paid
"$CLOAKX" --json job status "$job" | jq -e --arg o "$ours" '.state == "paid" and .enclave == $o' \
    >/dev/null || fail "job not paid by the operator's enclave"
echo "ok"
