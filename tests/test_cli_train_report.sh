#!/usr/bin/env bash
# test_cli_train_report.sh — `cloakx train --report DIR`: train.json holds the loss of every epoch
# and, with DP-SGD, the epsilon spent by each epoch's end (rising, the last one the epsilon the
# model carries); loss.svg and epsilon.svg are well-formed and plot exactly those numbers
# (tests/report_check.py); without "privacy" there is no epsilon at all.
set -euo pipefail
CLOAKX=${CLOAKX:?path to cloakx}
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }
work=$PWD
rm -rf "$work/data" "$work/dp" "$work/plain"
"$CLOAKX" demo --write-data "$work/data" --sellers 2 --rows 300 >/dev/null

# --- DP-SGD (the demo's spec): loss and epsilon per epoch ---
"$CLOAKX" --json train --spec "$work/data/spec.json" --data "$work/data/seller01.csv" \
    "$work/data/seller02.csv" --out "$work/dp.safetensors" --report "$work/dp" >"$work/dp.out"
python3 "$here/report_check.py" train "$work/dp"
python3 - "$work/dp.out" "$work/dp/train.json" <<'PY' || fail "train.json vs the train output"
import json, sys
out, rep = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ep = rep["epochs"]
assert len(ep) == out["epochs_run"] > 1, (len(ep), out["epochs_run"])
assert [e["epoch"] for e in ep] == list(range(1, len(ep) + 1))
assert rep["steps"] == out["steps"] and rep["steps_per_epoch"] * len(ep) == out["steps"]
# the last epoch's epsilon is the one the model's metadata states
last, final = ep[-1]["epsilon"], out["privacy"]["epsilon"]
assert abs(last - final) <= 1e-9 * final, (last, final)
assert all(a["epsilon"] < b["epsilon"] for a, b in zip(ep, ep[1:]))
assert all(e["train_loss"] > 0 and e["validation_loss"] > 0 for e in ep)
PY

# --- no privacy: the loss only ---
python3 - "$work/data/spec.json" "$work/plain.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
del s["privacy"]
json.dump(s, open(sys.argv[2], "w"))
PY
"$CLOAKX" train --spec "$work/plain.json" --data "$work/data/seller01.csv" \
    --out "$work/plain.safetensors" --report "$work/plain" >/dev/null
python3 "$here/report_check.py" train "$work/plain"
[ ! -e "$work/plain/epsilon.svg" ] || fail "epsilon.svg without privacy"
grep -q epsilon "$work/plain/train.json" && fail "train.json speaks of epsilon without privacy"
echo "PASS: train --report"
