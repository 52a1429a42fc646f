#!/usr/bin/env bash
# test_e2e_walrus_store.sh — the marketplace over a store NOT content-addressed by SHA-256 (the
# Walrus fixture on loopback): enclave registration records the store's blob id of its attestation
# document, sellers check that document, a job runs and `cloakx verify` passes; a changed document
# is refused with its blob id named.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/e2e_common.sh"

python3 "$here/fixtures/walrus_fixture.py" --dir "$work/walrus" >"$work/port" &
bg_pids+=($!)
for _ in $(seq 100); do grep -q PORT "$work/port" 2>/dev/null && break; sleep 0.1; done
port=$(awk '/PORT/{print $2}' "$work/port")
[ -n "$port" ] || { echo "SKIP: the walrus fixture did not start"; exit 77; }
export CLOAKX_STORE="walrus:?publisher=http://127.0.0.1:$port&aggregator=http://127.0.0.1:$port"

keys operator buyer s1 s2 s3
"$CLOAKX" demo --write-data "$work/data" --sellers 3 --rows 80 >/dev/null
pool=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "walrus" --price 100 --k 2 \
       --max-rows 150 --operator-fee 700 --protocol-fee 300)

# registration stores the document in Walrus and records Walrus's id for it beside its hash
"$CLOAKX" --json enclave register --key "$work/keys/operator" --state "$work/op" \
    --allow-simulated --pool "$pool" >"$work/reg.json" 2>"$work/err" \
    || fail "enclave register over walrus: $(cat "$work/err")"
doc=$(jget .document_blob <"$work/reg.json")
sha=$(jget .document_sha256 <"$work/reg.json")
[ -f "$work/walrus/$doc" ] || fail "document blob $doc is not in the walrus store"
[ "$(sha256sum <"$work/walrus/$doc" | cut -c1-64)" = "$sha" ] || fail "document_sha256"
by_hash=$(printf '%s' "$sha" | xxd -r -p | base64 -w0 | tr '+/' '-_' | tr -d '=')
[ "$doc" != "$by_hash" ] || fail "the store is content-addressed by SHA-256: nothing tested"
"$CLOAKX" --json pool show "$pool" |
    jq -e --arg d "$doc" --arg h "$sha" '.enclaves | length == 1 and .[0].document_blob == $d
                                         and .[0].document_sha256 == $h' >/dev/null ||
    fail "pool show: $("$CLOAKX" --json pool show "$pool" | jq -c .enclaves)"

# sellers fetch and check the enclave's document from Walrus before sealing
for i in 1 2; do
    "$CLOAKX" contribute --key "$work/keys/s$i" --pool "$pool" --allow-simulated \
        "$work/data/seller0$i.csv" >/dev/null 2>"$work/err" || fail "contribute s$i: $(cat "$work/err")"
done

"$CLOAKX" balance --key "$work/keys/buyer" --faucet 10000 >/dev/null
job=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/data/spec.json" \
      --pay 1000)
worker_once
expect_one_paid

# the bundle's report is the document fetched from Walrus by the ledger's blob id; it verifies
"$CLOAKX" --json job status "$job" --bundle "$work/b.json" >"$work/st.json"
jq -e '.state == "paid"' "$work/st.json" >/dev/null || fail "state"
[ "$(jq -r .tee_report "$work/b.json" | base64 -d | sha256sum | cut -c1-64)" = "$sha" ] \
    || fail "the bundle's report is not the registered document"
"$CLOAKX" verify "$work/b.json" --ledger "$CLOAKX_LEDGER" --store "$CLOAKX_STORE" \
    --allow-simulated >"$work/v.txt" || fail "verify: $(cat "$work/v.txt")"
grep -q VERIFIED "$work/v.txt" || fail "verify output: $(cat "$work/v.txt")"
grep -q "dataset_commitment *ok" "$work/v.txt" || fail "commitment: $(cat "$work/v.txt")"

# a document changed in the store no longer hashes to the ledger's: refused, the blob named
printf 'tampered' >>"$work/walrus/$doc"
expect_rc 3 "$CLOAKX" contribute --key "$work/keys/s3" --pool "$pool" --allow-simulated \
    "$work/data/seller03.csv"
grep -q "blob $doc) does not hash" "$work/err" || fail "tampered document: $(cat "$work/err")"
expect_rc 3 "$CLOAKX" job status "$job" --bundle "$work/b2.json"
grep -q "blob $doc) does not hash" "$work/err" || fail "tampered document, bundle: $(cat "$work/err")"
[ ! -e "$work/b2.json" ] || fail "a bundle was written from a tampered document"
echo "ok"
