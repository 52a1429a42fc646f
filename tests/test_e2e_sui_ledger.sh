#!/usr/bin/env bash
# test_e2e_sui_ledger.sh — the demo's story with the `sui:` ledger backend: pool, enclave
# registration (the Nitro document goes to the contract), sellers, buyer, the worker, payouts,
# model fetch and `cloakx verify --ledger sui:…`, against the GraphQL fixture holding the
# cloakx_market contract's state (tests/fixtures/sui_market_model.py, a Python model of the Move
# package: a FIXTURE, not Sui). The engine reaches the contract only through cx_ledger.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/e2e_common.sh"
python3 -c 'import cryptography' 2>/dev/null ||
    { echo "SKIP: python3-cryptography is not installed (scripts/deps.sh test)"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }

# the engine and the tool have no Sui code of their own: only chain/'s cx_ledger (and the one
# place that opens a ledger by its URL)
src=$(cd "$here/.." && pwd)
if grep -ln 'cx_sui_\|sui_market' "$src"/engine/*.c "$src"/cli/*.c | grep -v 'engine/handles.c$'; then
    fail "the files above reach Sui past cx_ledger"
fi

# the fixture: loopback, stateful, with the market model
python3 "$here/fixtures/sui_graphql_fixture.py" --market >"$work/fixture.out" 2>"$work/fixture.err" &
bg_pids+=("$!")
for _ in $(seq 100); do grep -q '^PORT ' "$work/fixture.out" 2>/dev/null && break; sleep 0.05; done
port=$(sed -n 's/^PORT //p' "$work/fixture.out")
[ -n "$port" ] || fail "fixture did not start: $(cat "$work/fixture.err")"
fx="http://127.0.0.1:$port"
post() { curl -sf -X POST -H 'Content-Type: application/json' -d "$2" "$fx$1"; }

keys operator buyer s1 s2 s3 treasury
treasury=$("$CLOAKX" --json balance --key "$work/keys/treasury" | jget .address)
pub=$(post /_fixture/publish "{\"protocol_addr\":\"$treasury\"}")
pkg=$(jq -r .package <<<"$pub")
market=$(jq -r .market <<<"$pub")
# gas costs nothing on the fixture; a small budget keeps the balances below readable
export CLOAKX_LEDGER="sui:$fx/graphql?package=$pkg&market=$market&gas_budget=1000"
for r in operator buyer s1 s2 s3; do
    post /_fixture/faucet "{\"address\":\"$(addr "$r")\",\"amount\":100000}" >/dev/null
done
rm -f "$work/ledger.db"

"$CLOAKX" demo --write-data "$work/data" --sellers 3 --rows 120 >/dev/null
pool=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "wearables on sui" --price 100 \
       --k 2 --max-rows 150 --operator-fee 700 --protocol-fee 300 --forbid-column ssn \
       --max-epochs 1000)
[ ${#pool} -eq 66 ] || fail "pool id '$pool'"
"$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/op" --allow-simulated \
    --pool "$pool" >/dev/null
"$CLOAKX" --json pool show "$pool" >"$work/pool.json"
jq -e '.enclaves | length == 1' "$work/pool.json" >/dev/null || fail "pool: $(cat "$work/pool.json")"
jq -e '.policy.forbidden_columns == ["ssn"] and .policy.max_epochs == 1000' "$work/pool.json" \
    >/dev/null || fail "pool policy on sui: $(cat "$work/pool.json")"
for i in 1 2 3; do
    "$CLOAKX" contribute --key "$work/keys/s$i" --pool "$pool" --allow-simulated \
        "$work/data/seller0$i.csv" >/dev/null
done
# a contributor registers a blob once (the contract's claim table)
b1=$("$CLOAKX" --json pool show "$pool" | jq -r --arg a "$(addr s1)" \
     '.contributions[] | select(.contributor == $a) | .blob_id' | head -1)
[ -n "$b1" ] && [ "$b1" != null ] || fail "no contribution of s1: $("$CLOAKX" --json pool show "$pool")"
expect_rc 1 "$CLOAKX" contribute --key "$work/keys/s1" --pool "$pool" --blob "$b1"
grep -q "already registered this blob" "$work/err" || fail "double claim: $(cat "$work/err")"

job=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/data/spec.json" \
      --pay 20011)
[ "$(balance buyer)" -eq 79989 ] || fail "payment not escrowed: $(balance buyer)"
"$CLOAKX" --json job status "$job" | jq -e '.state == "open"' >/dev/null || fail "job not open"

worker_once
expect_one_paid
"$CLOAKX" --json job status "$job" --store "$CLOAKX_STORE" --bundle "$work/b.json" >"$work/st.json"
jq -e '.state == "paid"' "$work/st.json" >/dev/null || fail "state: $(cat "$work/st.json")"
sum=$(jq '([.result.payouts[].amount] | add) + .result.protocol_fee + .result.operator_fee' "$work/st.json")
[ "$sum" -eq 20011 ] || fail "payouts add up to $sum, not 20011"
[ "$(jq '.result.protocol_fee' "$work/st.json")" -eq 600 ] || fail "protocol fee"
[ "$(jq '.result.operator_fee' "$work/st.json")" -eq 1400 ] || fail "operator fee"
# the coins the contract sent are the payouts the ledger reports (all started at 100000)
[ "$(balance treasury)" -eq 600 ] || fail "treasury holds $(balance treasury)"
[ "$(balance operator)" -eq 101400 ] || fail "operator holds $(balance operator)"
for i in 1 2 3; do
    want=$(jq -r --arg a "$(addr "s$i")" '.result.payouts[] | select(.address == $a) | .amount' \
           "$work/st.json")
    [ -n "$want" ] || fail "s$i not paid"
    [ "$(balance "s$i")" -eq $((100000 + want)) ] || fail "s$i holds $(balance "s$i")"
done

# the buyer's model: its key was revealed by the paying transaction
"$CLOAKX" model fetch "$job" --key "$work/keys/buyer" --out "$work/model.safetensors" >/dev/null
[ -s "$work/model.safetensors" ] || fail "no model"

# verify against the contract's record
"$CLOAKX" verify "$work/b.json" --ledger "$CLOAKX_LEDGER" --store "$CLOAKX_STORE" \
    --allow-simulated >"$work/v.txt" || fail "verify: $(cat "$work/v.txt")"
grep -q VERIFIED "$work/v.txt" || fail "verify output: $(cat "$work/v.txt")"

# the result cannot be paid twice: the contract refuses (code 24) with the local ledger's words
saved="$work/op/jobs/$job.json"
expect_rc 1 "$CLOAKX" job submit "$job" --from "$saved" --key "$work/keys/operator"
grep -q "not accepted" "$work/err" || fail "resubmission: $(cat "$work/err")"

# the contract saw every state change as its Move calls, and nothing else wrote a ledger
[ ! -e "$work/ledger.db" ] || fail "a local ledger was written"
curl -sf "$fx/_fixture/calls" >"$work/calls.json"
got=$(jq -r '.calls[] | (.functions | join("+")) + " " + .status + (if .abort then " " + (.abort|tostring) else "" end)' \
      "$work/calls.json")
want="market::create_pool SUCCESS
nitro_attestation::load_nitro_attestation+market::register_enclave SUCCESS
market::add_pool_enclave SUCCESS
market::register_contribution SUCCESS
market::register_contribution SUCCESS
market::register_contribution SUCCESS
market::register_contribution FAILURE 21
market::create_job SUCCESS
market::accept_job SUCCESS
market::submit_result SUCCESS
market::submit_result FAILURE 24"
[ "$got" = "$want" ] || fail "the contract's calls were:
$got"
echo "ok"
