#!/usr/bin/env bash
# test_e2e_pool_policy.sh — issue 13 items 2 and 9: a pool's policy (DP required, an epsilon
# cap, forbidden columns, a compute budget per job) is on the ledger from its creation;
# `cloakx job create` refuses a spec that breaks it before anything is paid, and the enclave
# fails a job whose spec turns out over the cap on the real data with reason `spec`.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/e2e_common.sh"

keys operator buyer s1 s2
"$CLOAKX" demo --write-data "$work/data" --sellers 2 --rows 300 >/dev/null
"$CLOAKX" balance --key "$work/keys/buyer" --faucet 100000 >/dev/null
policy=(--require-dp --forbid-column BMI --forbid-column ssn --max-epochs 50 --max-params 100000)
pool=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "policy" --price 10 --k 1 \
       --max-rows 1000 --max-epsilon 5 "${policy[@]}")
"$CLOAKX" --json pool show "$pool" >"$work/pool.json"
jq -e '.policy.require_dp == true and .policy.max_epsilon == 5 and .policy.max_epochs == 50
       and .policy.max_params == 100000 and .policy.forbidden_columns == ["BMI", "ssn"]' \
    "$work/pool.json" >/dev/null || fail "pool policy not on the ledger: $(cat "$work/pool.json")"
"$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/op" --allow-simulated \
    --pool "$pool" >/dev/null
for i in 1 2; do
    "$CLOAKX" contribute --key "$work/keys/s$i" --pool "$pool" --allow-simulated \
        "$work/data/seller0$i.csv" >/dev/null
done
before=$(balance buyer)
refused() { # SPEC MESSAGE: job create refuses SPEC naming MESSAGE, and nothing is paid
    expect_rc 1 "$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$1" --pay 1000
    grep -qF "$2" "$work/err" || fail "$1: expected \"$2\", got: $(cat "$work/err")"
    [ "$(balance buyer)" = "$before" ] || fail "$1: the buyer paid for a refused spec"
}
# the demo's spec uses bmi as a feature
refused "$work/data/spec.json" "column 'bmi' may not be a feature (the pool forbids it)"
# features named without bmi (the blobs still have the column: it is declared, not used)
jq '.data.features = ["age","sex","resting_hr","hrv_ms","steps","sleep_h","active_min",
     "systolic_bp","spo2"]' "$work/data/spec.json" >"$work/ok.json"
jq 'del(.privacy)' "$work/ok.json" >"$work/nodp.json"
refused "$work/nodp.json" "the pool requires differential privacy"
jq '.epochs = 100000' "$work/ok.json" >"$work/epochs.json"
refused "$work/epochs.json" "compute budget: 100000 epochs asked, the budget allows 50"
jq '.model.hidden = [1024, 1024]' "$work/ok.json" >"$work/params.json"
refused "$work/params.json" "compute budget: the model has"
jq '.data.label = "ssn" | .data.columns += [{"name": "ssn", "type": "class", "values": ["0","1"]}]
    | .data.columns |= map(if .name == "risk" then {name, type: "numeric", mean: 0.5, std: 0.5}
                           else . end)' "$work/ok.json" >"$work/label.json"
refused "$work/label.json" "column 'ssn' may not be the label"

# within the policy as far as the spec alone tells: the enclave finds, on the real row count
# (600 rows, q = 1, 12 steps), that DP-SGD at noise 1 would spend epsilon 21 > 5, and fails the
# job as a spec the pool does not take (the buyer is refunded); at noise 20 it spends 0.68 and
# the job is paid
job_t=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/ok.json" \
        --pay 1000)
jq '.privacy.noise_multiplier = 20' "$work/ok.json" >"$work/noisy.json"
job_l=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/noisy.json" \
        --pay 1000)
set +e # a pass with a failed job exits non-zero
"$CLOAKX" --json worker --key "$work/keys/operator" --state "$work/op" --once >"$work/w.json" \
    2>"$work/w.err"
set -e
expect_one_paid
grep -q "over the pool's cap 5" "$work/w.err" || fail "no epsilon cap in the worker's log: $(cat "$work/w.err")"
"$CLOAKX" --json job status "$job_t" >"$work/st.json"
jq -e '.state == "refunded" and .failure == "spec"' "$work/st.json" >/dev/null \
    || fail "over-cap job: $(cat "$work/st.json")"
"$CLOAKX" --json job status "$job_l" >"$work/st.json"
jq -e '.state == "paid" and .result.epsilon <= 5' "$work/st.json" >/dev/null \
    || fail "job within the policy: $(cat "$work/st.json")"
[ "$(balance buyer)" = "$((before - 1000))" ] || fail "the buyer paid $((before - $(balance buyer)))"
echo "ok"
