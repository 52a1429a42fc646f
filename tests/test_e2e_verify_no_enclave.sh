#!/usr/bin/env bash
# test_e2e_verify_no_enclave.sh — with --ledger, `cloakx verify` takes the enclave from the ledger's
# accepted result: a bundle without its (optional) enclave_id is verified in full, the enclave's
# keys and the dataset commitment included, and a bundle naming another enclave is refused (exit 3).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/e2e_common.sh"

"$CLOAKX" --json demo --dir "$work/demo" --sellers 3 --rows 60 >"$work/r.json" 2>"$work/steps" \
    || { cat "$work/steps"; fail "demo failed"; }
d="$work/demo"
vargs=(--ledger "$d/ledger.db" --store "local:$d/store" --allow-simulated --devca "$d/devca")
jq -e 'has("enclave_id")' "$d/result.bundle.json" >/dev/null || fail "demo bundle has no enclave_id"
# the untouched bundle verifies, commitment included
"$CLOAKX" verify "$d/result.bundle.json" "${vargs[@]}" >"$work/v.txt" \
    || fail "the demo's bundle does not verify: $(cat "$work/v.txt")"
grep -q "dataset_commitment *ok" "$work/v.txt" || fail "commitment: $(cat "$work/v.txt")"

# without enclave_id: the same checks, with the ledger's enclave
jq 'del(.enclave_id)' "$d/result.bundle.json" >"$work/noenc.json"
expect_rc 0 "$CLOAKX" --json verify "$work/noenc.json" "${vargs[@]}"
jq -e '.verified == true' "$work/out" >/dev/null || fail "json verdict: $(cat "$work/out")"
for c in ledger dataset_commitment; do
    jq -e --arg c "$c" '[.checks[] | select(.check == $c and .status == "ok")] | length == 1' \
        "$work/out" >/dev/null || fail "$c: $(jq -c .checks "$work/out")"
done

# naming another enclave than the ledger's: refused, whatever else is right
other=0x$(printf '%064d' 7)
jq --arg o "$other" '.enclave_id = $o' "$d/result.bundle.json" >"$work/other.json"
expect_rc 3 "$CLOAKX" verify "$work/other.json" "${vargs[@]}"
grep -q "FAILED: ledger: the bundle names another enclave than the one the ledger accepted" \
    "$work/out" || fail "text verdict: $(cat "$work/out")"
grep -q "VERIFIED" "$work/out" && fail "verdict says VERIFIED: $(cat "$work/out")"

# without --ledger/--store nothing failed, but the checks that need them did not run:
# INCOMPLETE (exit 4), never VERIFIED
expect_rc 4 "$CLOAKX" verify "$work/noenc.json" --allow-simulated --devca "$d/devca"
grep -q "^INCOMPLETE" "$work/out" || fail "offline verify: $(cat "$work/out")"
echo "ok"
