#!/usr/bin/env bash
# test_e2e_pool_sealing.sh — issue 15: a pool states which sealings it accepts (RULES.md §2.3).
# The seller's client refuses another sealing before anything is stored; a blob sealed another
# way by a client that skips the check is rejected alone by the enclave (and by `cloakx verify`),
# while the pool's Seal-sealed data is paid, its data keys fetched in one request per key server.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/e2e_common.sh"
if "$CLOAKX" keyserver --help 2>&1 | grep -q "no Seal"; then
    echo "SKIP: this build has no Seal"; exit 77
fi

keys operator buyer s1 s2
"$CLOAKX" demo --write-data "$work/data" --sellers 3 --rows 200 >/dev/null
"$CLOAKX" balance --key "$work/keys/buyer" --faucet 100000 >/dev/null
expect_rc 2 "$CLOAKX" pool create --key "$work/keys/operator" --theme t --price 10 --k 1 \
    --max-rows 1000 --sealing rot13
grep -q "hpke, seal or any" "$work/err" || fail "bad --sealing: $(cat "$work/err")"
hpke=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "hpke only" --price 10 --k 1 \
       --max-rows 1000 --sealing hpke)
seal=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "seal only" --price 10 --k 1 \
       --max-rows 1000 --sealing seal)
any=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "either" --price 10 --k 1 \
      --max-rows 1000)
for p in "$hpke:hpke" "$seal:seal" "$any:hpke,seal"; do
    "$CLOAKX" --json pool show "${p%%:*}" | jq -e --arg s "${p#*:}" '.policy.sealing == $s' \
        >/dev/null || fail "pool ${p%%:*} does not state sealing ${p#*:}"
done
"$CLOAKX" pool show "$seal" | grep -q "sealing accepted: seal" || fail "pool show: no sealing line"
keyservers_start 1 1
"$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/op" --allow-simulated \
    --pool "$seal" >/dev/null 2>&1

# the client refuses a sealing the pool does not take, and stores nothing
n_before=$(find "$work/store" -type f | wc -l)
expect_rc 3 "$CLOAKX" contribute --key "$work/keys/s1" --pool "$hpke" \
    --keyservers "$work/keyservers.json" "$work/data/seller01.csv"
grep -q "accepts only hpke-sealed data, not seal" "$work/err" || fail "hpke pool: $(cat "$work/err")"
expect_rc 3 "$CLOAKX" contribute --key "$work/keys/s1" --pool "$seal" --allow-simulated \
    "$work/data/seller01.csv"
grep -q "accepts only seal-sealed data, not hpke (seal with Seal: --keyservers FILE)" "$work/err" \
    || fail "seal pool: $(cat "$work/err")"
[ "$(find "$work/store" -type f | wc -l)" -eq "$n_before" ] \
    || fail "the refused contributions stored something"

"$CLOAKX" contribute --key "$work/keys/s1" --pool "$seal" --keyservers "$work/keyservers.json" \
    "$work/data/seller01.csv" "$work/data/seller03.csv" >/dev/null
# s2 skips the client's check: HPKE to the enclave's key with the raw sealing tool
xpub=$("$CLOAKX" --json enclave show --state "$work/op" | jget .x25519)
printf 'cloakx-x25519-public-v1 %s\n' "$(printf '%s' "$xpub" | xxd -r -p | base64 -w0)" \
    >"$work/enclave.pub"
"$CLOAKX" seal --to "$work/enclave.pub" --pool "$seal" --contributor "$(addr s2)" --type csv \
    "$work/data/seller02.csv" "$work/h.cxb" >/dev/null
bh=$("$CLOAKX" blob put --store "$CLOAKX_STORE" "$work/h.cxb")
"$CLOAKX" contribute --key "$work/keys/s2" --pool "$seal" --blob "$bh" >/dev/null

job=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$seal" --spec "$work/data/spec.json" \
      --pay 1000)
worker_once --keyservers "$work/keyservers.json"
jq -se --arg j "$job" --arg b "$bh" 'map(select(.job == $j))[0] | .status == "paid"
    and .report.accepted.contributors == 1 and .report.accepted.blobs == 2
    and (.report.rejected | length) == 1
    and .report.rejected[0].blob_id == $b
    and (.report.rejected[0].reason | test("sealed with hpke, which the pool does not accept"))' \
    "$work/w.json" >/dev/null || fail "job report: $(cat "$work/w.json" "$work/w.err")"
# both of s1's data keys in one fetch_key request, from the enclave
grep "fetch_key:" "$work/ks1.err" >"$work/ks1.log" || true
[ "$(grep -c "fetch_key: 2 id(s) for .*: 200" "$work/ks1.log")" -eq 1 ] \
    || fail "the enclave did not ask for both keys in one request: $(cat "$work/ks1.err")"
[ "$(grep -c "fetch_key: 1 id(s)" "$work/ks1.log")" -eq 0 ] \
    || fail "the enclave asked key by key: $(cat "$work/ks1.err")"
"$CLOAKX" --json job status "$job" --store "$CLOAKX_STORE" --bundle "$work/b.json" >/dev/null
"$CLOAKX" verify "$work/b.json" --ledger "$CLOAKX_LEDGER" --store "$CLOAKX_STORE" \
    --allow-simulated >"$work/v.out" 2>&1 || fail "verify: $(cat "$work/v.out")"
grep -q VERIFIED "$work/v.out" || fail "verify: $(cat "$work/v.out")"
echo "ok"
