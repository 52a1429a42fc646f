#!/usr/bin/env bash
# test_e2e_verify_content_types.sh — `cloakx verify` recomputes the dataset commitment over the
# same blobs the job accepted, also when listed contributors have blobs of a non-training type
# or of a format other than the one the job's spec declares.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/e2e_common.sh"

keys operator buyer s1 s2
"$CLOAKX" demo --write-data "$work/data" --sellers 3 --rows 60 >/dev/null
"$CLOAKX" balance --key "$work/keys/buyer" --faucet 100000 >/dev/null
pool=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "types" --price 10 --k 1 \
       --max-rows 1000)
"$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/op" --allow-simulated \
    --pool "$pool" >/dev/null
# s1 also registers a well-formed blob of type raw: the job leaves that blob out (not training
# data) but keeps s1's CSV blob, so s1 stays listed in the statement
xpub=$("$CLOAKX" --json enclave show --state "$work/op" | jget .x25519)
printf 'cloakx-x25519-public-v1 %s\n' "$(printf '%s' "$xpub" | xxd -r -p | base64 -w0)" \
    >"$work/enclave.pub"
"$CLOAKX" seal --to "$work/enclave.pub" --pool "$pool" --contributor "$(addr s1)" --type raw \
    "$work/data/seller03.csv" "$work/raw.cxb" >/dev/null
braw=$("$CLOAKX" blob put --store "$CLOAKX_STORE" "$work/raw.cxb")
"$CLOAKX" contribute --key "$work/keys/s1" --pool "$pool" --blob "$braw" >/dev/null
# s1 and s2 register a CSV blob each, and s2 a JSONL blob too: the job's spec declares CSV,
# so the job leaves the JSONL blob out wherever its id sorts, and s2 stays listed
for i in 1 2; do
    "$CLOAKX" seal --to "$work/enclave.pub" --pool "$pool" --contributor "$(addr s$i)" \
        --type csv "$work/data/seller0$i.csv" "$work/c$i.cxb" >/dev/null
done
"$CLOAKX" seal --to "$work/enclave.pub" --pool "$pool" --contributor "$(addr s2)" \
    --type jsonl "$work/data/seller03.csv" "$work/js.cxb" >/dev/null
c1=$("$CLOAKX" blob put --store "$CLOAKX_STORE" "$work/c1.cxb")
c2=$("$CLOAKX" blob put --store "$CLOAKX_STORE" "$work/c2.cxb")
bjs=$("$CLOAKX" blob put --store "$CLOAKX_STORE" "$work/js.cxb")
"$CLOAKX" contribute --key "$work/keys/s1" --pool "$pool" --blob "$c1" >/dev/null
"$CLOAKX" contribute --key "$work/keys/s2" --pool "$pool" --blob "$c2" >/dev/null
"$CLOAKX" contribute --key "$work/keys/s2" --pool "$pool" --blob "$bjs" >/dev/null

job=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/data/spec.json" \
      --pay 1000)
worker_once
expect_one_paid
jq -e '.report.accepted.contributors == 2 and .report.accepted.blobs == 2' "$work/w.json" \
    >/dev/null || fail "accepted: $(jq -c .report.accepted "$work/w.json")"
jq -r '.report.rejected[].reason' "$work/w.json" | grep >/dev/null "not training data" \
    || fail "raw blob not rejected: $(jq -c .report.rejected "$work/w.json")"
jq -r '.report.rejected[].reason' "$work/w.json" | grep >/dev/null "is not the job's format" \
    || fail "JSONL blob not rejected: $(jq -c .report.rejected "$work/w.json")"

"$CLOAKX" job status "$job" --store "$CLOAKX_STORE" --bundle "$work/b.json" >/dev/null
"$CLOAKX" verify "$work/b.json" --ledger "$CLOAKX_LEDGER" --store "$CLOAKX_STORE" \
    --allow-simulated >"$work/v.txt" 2>"$work/v.err" \
    || fail "an honest result does not verify: $(cat "$work/v.txt" "$work/v.err")"
grep -q "dataset_commitment *ok *recomputed over 2 blob" "$work/v.txt" \
    || fail "commitment: $(cat "$work/v.txt")"
echo "ok"
