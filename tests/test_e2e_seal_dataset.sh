#!/usr/bin/env bash
# test_e2e_seal_dataset.sh — issue 15: sellers seal with Seal (.cxb suite 2). Three local key
# servers (threshold 2) release a blob's data key only to an enclave the pool's operator added,
# asked as the enclave itself; one seller seals with Seal, the other to the enclave's key (HPKE);
# a worker without --keyservers fails the job unsigned (nobody rejected) and with them the job
# pays both sellers; `cloakx verify` recomputes the same commitment over both kinds of blob.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/e2e_common.sh"
if "$CLOAKX" keyserver --help 2>&1 | grep -q "no Seal"; then
    echo "SKIP: this build has no Seal"; exit 77
fi

keys operator buyer s1 s2 s3
"$CLOAKX" demo --write-data "$work/data" --sellers 3 --rows 200 >/dev/null
"$CLOAKX" balance --key "$work/keys/buyer" --faucet 100000 >/dev/null
pool=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "seal" --price 10 --k 2 \
       --max-rows 1000)
"$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/op" --allow-simulated \
    --pool "$pool" >/dev/null 2>&1

# three key servers on the ledger, on loopback
keyservers_start 3 2

"$CLOAKX" --json contribute --key "$work/keys/s1" --pool "$pool" \
    --keyservers "$work/keyservers.json" "$work/data/seller01.csv" >"$work/c1.json"
"$CLOAKX" contribute --key "$work/keys/s2" --pool "$pool" --allow-simulated \
    "$work/data/seller02.csv" >/dev/null 2>&1
blob1=$(jq -r '.blobs[0].blob_id' "$work/c1.json")
# a seller that seals under another Seal package: its blob must fail alone, never stall the job
jq '.package = "0x" + ("ab" * 32)' "$work/keyservers.json" >"$work/other-package.json"
"$CLOAKX" contribute --key "$work/keys/s3" --pool "$pool" \
    --keyservers "$work/other-package.json" "$work/data/seller03.csv" >/dev/null
# the stored blob is suite 2 and its header holds no recipient key
"$CLOAKX" blob get --store "$CLOAKX_STORE" "$blob1" "$work/b1.cxb" >/dev/null
[ "$(xxd -s 6 -l 2 -p "$work/b1.cxb")" = 0002 ] || fail "blob 1 is not sealed with Seal (suite 2)"

job=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/data/spec.json" \
      --pay 1000)
# no key servers: the job fails unsigned, nobody is rejected, nothing is refunded yet
set +e
"$CLOAKX" --json worker --key "$work/keys/operator" --state "$work/op" --once \
    >"$work/w0.json" 2>"$work/w0.err"
rc=$?
set -e
jq -se --arg j "$job" 'map(select(.job == $j and .status == "paid")) | length == 0' "$work/w0.json" \
    >/dev/null || fail "a worker without key servers ran the Seal-sealed job"
grep -q -- "--keyservers" "$work/w0.err" "$work/w0.json" || fail "no word of --keyservers: $(cat "$work/w0.err")"
"$CLOAKX" --json job status "$job" | jq -e '.state == "accepted"' >/dev/null \
    || fail "the job is not waiting for a retry: $("$CLOAKX" --json job status "$job")"

# with them: the enclave gets the data key from 2 of 3 servers, both sellers are paid, and the
# model is sealed with Seal as well
kill -9 "${bg_pids[2]}" && wait "${bg_pids[2]}" 2>/dev/null || true
"$CLOAKX" -v --json worker --key "$work/keys/operator" --state "$work/op" --once \
    --keyservers "$work/keyservers.json" >"$work/w.json" 2>"$work/w.err" \
    || fail "worker: $(cat "$work/w.err")"
jq -se --arg j "$job" 'map(select(.job == $j))[0] | .status == "paid"
    and .report.accepted.contributors == 2 and (.report.rejected | length) == 1
    and (.report.rejected[0].reason | test("Seal object: sealed under another Seal package"))' \
    "$work/w.json" >/dev/null || fail "job report: $(cat "$work/w.json" "$work/w.err")"
grep -q "data key(s) released by the Seal key servers" "$work/w.err" \
    || fail "the worker did not say the key servers released the key: $(cat "$work/w.err")"
# the model is sealed with Seal too: half of its key from the ledger's paying transaction, half
# from the key servers, to the buyer of the paid job
mid=$("$CLOAKX" --json job status "$job" | jq -r .result.model_blob_id)
"$CLOAKX" blob get --store "$CLOAKX_STORE" "$mid" "$work/m.cxb" >/dev/null
[ "$(xxd -s 6 -l 2 -p "$work/m.cxb")" = 0002 ] || fail "the model is not sealed with Seal"
expect_rc 2 "$CLOAKX" model fetch "$job" --key "$work/keys/buyer" --out "$work/m0.safetensors"
grep -q "half of its key comes from the key servers" "$work/err" \
    || fail "model fetch without key servers: $(cat "$work/err")"
[ ! -e "$work/m0.safetensors" ] || fail "a model was written without the key servers' half"
"$CLOAKX" model fetch "$job" --key "$work/keys/buyer" --out "$work/m.safetensors" \
    --keyservers "$work/keyservers.json" >/dev/null || fail "model fetch with the key servers"
head -c 8 "$work/m.safetensors" | od -An -tu8 | grep -q '[0-9]' || fail "no model written"
# anyone else (the operator here) gets neither half: the key release's is wrapped to the buyer,
# and the key servers release theirs to the job's buyer only (test_engine_seal_keyserver)
expect_rc 3 "$CLOAKX" model fetch "$job" --key "$work/keys/operator" --out "$work/m1.safetensors" \
    --keyservers "$work/keyservers.json"

# an auditor recomputes the dataset commitment over the Seal blob too
"$CLOAKX" --json job status "$job" --store "$CLOAKX_STORE" --bundle "$work/b.json" >/dev/null
"$CLOAKX" verify "$work/b.json" --ledger "$CLOAKX_LEDGER" --store "$CLOAKX_STORE" \
    --allow-simulated >"$work/v.out" 2>&1 || fail "verify: $(cat "$work/v.out")"
grep -q VERIFIED "$work/v.out" || fail "verify: $(cat "$work/v.out")"
echo "ok"
