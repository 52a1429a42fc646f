#!/usr/bin/env bash
# test_e2e_seller_decides_schema.sh — issue 13.1: a seller whose blobs sort first in blob id
# order, one in another format and one with another column, decides nothing: the job's format
# and columns are its spec's, the honest sellers are accepted and paid, the attacker's blobs are
# rejected alone (the reason names the format or the column, never data), and the job does not
# fail. Before the fix the first blob's format and columns were the job's: every honest blob was
# rejected and the malformed first blob failed the whole job.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/e2e_common.sh"

keys operator buyer s1 s2 mallory
"$CLOAKX" demo --write-data "$work/data" --sellers 3 --rows 80 >/dev/null
"$CLOAKX" balance --key "$work/keys/buyer" --faucet 100000 >/dev/null
pool=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "schema" --price 10 --k 1 \
       --max-rows 1000)
"$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/op" --allow-simulated \
    --pool "$pool" >/dev/null
xpub=$("$CLOAKX" --json enclave show --state "$work/op" | jget .x25519)
printf 'cloakx-x25519-public-v1 %s\n' "$(printf '%s' "$xpub" | xxd -r -p | base64 -w0)" \
    >"$work/enclave.pub"
export LC_ALL=C
ids=()
# the honest ids sort in the upper half (sealed again until they do), so that mallory finds an id
# before both in a few tries, whatever the random keys (an id starting "-" or "0" would leave
# almost nothing before it)
for i in 1 2; do
    for try in $(seq 60); do
        "$CLOAKX" seal --to "$work/enclave.pub" --pool "$pool" --contributor "$(addr s$i)" \
            --type csv "$work/data/seller0$i.csv" "$work/c$i.cxb" >/dev/null
        id=$("$CLOAKX" blob put --store "$CLOAKX_STORE" "$work/c$i.cxb")
        [[ "$id" > "M" ]] && break
    done
    [[ "$id" > "M" ]] || fail "no honest id in the upper half"
    ids+=("$id")
done
# mallory's data: the same rows as CSV sealed as JSON lines, and with an extra column
awk -F, 'BEGIN{OFS=","} NR==1{print $0",ssn"; next} {print $0","NR}' "$work/data/seller03.csv" \
    >"$work/extra.csv"
first_blob() { # seal $2 as type $1 until its id sorts before every honest blob's
    local try id
    for try in $(seq 60); do
        "$CLOAKX" seal --to "$work/enclave.pub" --pool "$pool" --contributor "$(addr mallory)" \
            --type "$1" "$2" "$work/m.cxb" >/dev/null
        id=$("$CLOAKX" blob put --store "$CLOAKX_STORE" "$work/m.cxb")
        if [[ "$id" < "${ids[0]}" && "$id" < "${ids[1]}" ]]; then echo "$id"; return; fi
    done
    fail "no blob id sorting first"
}
mj=$(first_blob jsonl "$work/data/seller03.csv")
mx=$(first_blob csv "$work/extra.csv")
"$CLOAKX" contribute --key "$work/keys/mallory" --pool "$pool" --blob "$mj" >/dev/null
"$CLOAKX" contribute --key "$work/keys/mallory" --pool "$pool" --blob "$mx" >/dev/null
"$CLOAKX" contribute --key "$work/keys/s1" --pool "$pool" --blob "${ids[0]}" >/dev/null
"$CLOAKX" contribute --key "$work/keys/s2" --pool "$pool" --blob "${ids[1]}" >/dev/null

job=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/data/spec.json" \
      --pay 1000)
worker_once
expect_one_paid
jq -e '.report.accepted.contributors == 2 and .report.accepted.blobs == 2' "$work/w.json" \
    >/dev/null || fail "accepted: $(jq -c .report.accepted "$work/w.json")"
s1=$(addr s1); s2=$(addr s2); m=$(addr mallory)
jq -e --arg a "$s1" --arg b "$s2" '[.report.contributors[].address] | sort == ([$a, $b] | sort)' \
    "$work/w.json" >/dev/null || fail "contributors: $(jq -c .report.contributors "$work/w.json")"
reasons=$(jq -r --arg m "$m" '.report.rejected[] | select(.contributor == $m) | .reason' \
          "$work/w.json")
grep >/dev/null "content type jsonl is not the job's format csv" <<<"$reasons" \
    || fail "JSONL blob: $reasons"
grep >/dev/null "column 'ssn' is not in the job's schema" <<<"$reasons" \
    || fail "extra-column blob: $reasons"
# the reasons name formats and columns, not values of mallory's rows
if grep -E '[0-9]{3,}' <<<"$(sed "s/$mj//; s/$mx//" <<<"$reasons")" >/dev/null; then
    fail "a reason quotes data: $reasons"
fi
[ "$(balance mallory)" = 0 ] || fail "mallory was paid"
"$CLOAKX" job status "$job" --store "$CLOAKX_STORE" --bundle "$work/b.json" >/dev/null
"$CLOAKX" verify "$work/b.json" --ledger "$CLOAKX_LEDGER" --store "$CLOAKX_STORE" \
    --allow-simulated >"$work/v.txt" 2>"$work/v.err" \
    || fail "the result does not verify: $(cat "$work/v.txt" "$work/v.err")"
grep -q "dataset_commitment *ok *recomputed over 2 blob" "$work/v.txt" \
    || fail "commitment: $(cat "$work/v.txt")"

# a spec that leaves the data's shape to the blobs is refused before anybody pays
jq '.data = {"label": "risk"}' "$work/data/spec.json" >"$work/loose.json"
expect_rc 1 "$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/loose.json" \
    --pay 1000
grep -q 'data: "format" is required' "$work/err" || fail "loose spec: $(cat "$work/err")"
echo "ok"
