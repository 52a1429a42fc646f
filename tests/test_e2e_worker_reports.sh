#!/usr/bin/env bash
# test_e2e_worker_reports.sh — issue 18: `cloakx worker --reports DIR` writes each job's report
# with its curve (DIR/<job>/report.json, loss.svg, epsilon.svg under DP-SGD); the charts plot
# exactly the report's numbers (report_check.py job) and no seller's row reaches these files.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/e2e_common.sh"

keys operator buyer s1 s2
"$CLOAKX" demo --write-data "$work/data" --sellers 2 --rows 200 >/dev/null
"$CLOAKX" balance --key "$work/keys/buyer" --faucet 100000 >/dev/null
pool=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "reports" --price 10 --k 1 \
       --max-rows 1000)
"$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/op" --allow-simulated \
    --pool "$pool" >/dev/null 2>&1
for i in 1 2; do
    "$CLOAKX" contribute --key "$work/keys/s$i" --pool "$pool" --allow-simulated \
        "$work/data/seller0$i.csv" >/dev/null 2>&1
done
job=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/data/spec.json" \
      --pay 1000)
worker_once --reports "$work/reports"
expect_one_paid
d="$work/reports/$job"
for f in report.json loss.svg epsilon.svg; do
    [ -s "$d/$f" ] || fail "no $f in $d: $(ls -la "$d" 2>&1)"
done
jq -e --arg j "$job" '.job == $j and .status == "paid" and (.epochs | length) > 0
    and (.report.curve.train_loss | length) == (.epochs | length)' "$d/report.json" >/dev/null \
    || fail "report.json: $(head -c 600 "$d/report.json")"
python3 "$here/report_check.py" job "$d" || fail "the charts do not plot the report's numbers"
# aggregates only: no data value (each field of every row, as status_check.py's needles) and no
# key material in any file of the report directory
python3 "$here/status_check.py" scan "$d" "$work" "$work/data" || fail "data or keys in the reports"
# aggregates only: no seller's row in the report directory
for i in 1 2; do
    line=$(sed -n 7p "$work/data/seller0$i.csv")
    if grep -rqF -- "$line" "$work/reports"; then fail "a row of seller $i is in the reports"; fi
done
echo "ok"
