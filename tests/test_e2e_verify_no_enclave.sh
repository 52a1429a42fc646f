#!/usr/bin/env bash
# test_e2e_verify_no_enclave.sh — a bundle without enclave_id cannot have its dataset commitment
# recomputed: `cloakx verify` must say "not checked" and fail (exit 3), never pass silently.
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

jq 'del(.enclave_id)' "$d/result.bundle.json" >"$work/noenc.json"
expect_rc 3 "$CLOAKX" verify "$work/noenc.json" "${vargs[@]}"
grep -q "FAILED: dataset_commitment: not checked: the bundle names no enclave" "$work/out" \
    || fail "text verdict: $(cat "$work/out")"
grep -q "VERIFIED" "$work/out" && fail "verdict says VERIFIED: $(cat "$work/out")"
expect_rc 3 "$CLOAKX" --json verify "$work/noenc.json" "${vargs[@]}"
jq -e '.verified == false and (.failed | test("^dataset_commitment: not checked"))' "$work/out" \
    >/dev/null || fail "json verdict: $(cat "$work/out")"
jq -e '[.checks[] | select(.check == "dataset_commitment" and .status == "not checked")]
       | length == 1' "$work/out" >/dev/null || fail "checks: $(jq -c .checks "$work/out")"
# without --ledger/--store the commitment was not asked for: still a plain skip, verified
"$CLOAKX" verify "$work/noenc.json" --allow-simulated --devca "$d/devca" >"$work/v2.txt" \
    || fail "offline verify: $(cat "$work/v2.txt")"
echo "ok"
