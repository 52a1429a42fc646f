#!/usr/bin/env bash
# test_engine_predict_fill.sh — `cloakx predict` under the schema's "missing": "mean" fills gaps
# with the training data's column means (stored in the model), not the predicted file's own.
set -euo pipefail
cx=${CLOAKX:?}
fail() { echo "FAIL: $*" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"

# 800 rows, target = 3 x1 - 2 x2 + 5; every 10th x1 and every 13th x2 missing
python3 - <<'PY'
import random
r = random.Random(11)
with open("train.csv", "w") as f:
    f.write("x1,x2,target\n")
    for i in range(800):
        a, b = r.uniform(0, 10), r.uniform(-4, 4)
        t = 3 * a - 2 * b + 5
        f.write("%s,%s,%.6f\n" % ("" if i % 10 == 0 else "%.6f" % a,
                                  "" if i % 13 == 0 else "%.6f" % b, t))
PY
cat > spec.json <<'J'
{"task": "regression",
 "data": {"label": "target", "features": ["x1", "x2"], "missing": "mean"},
 "model": {"type": "linear"}, "optimizer": {"type": "adam", "lr": 0.05}, "epochs": 40, "seed": 3}
J
"$cx" train --spec spec.json --data train.csv --out model.safetensors >/dev/null ||
    fail "train"

# the model carries the training means as its fill values
python3 - <<'PY' || fail "fill_values metadata"
import csv, json, struct
b = open("model.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
m = json.loads(b[8:8 + n])["__metadata__"]
fv = json.loads(m["fill_values"])
rows = list(csv.DictReader(open("train.csv")))
for k, col in enumerate(["x1", "x2"]):
    vals = [float(r[col]) for r in rows if r[col] != ""]
    mean = sum(vals) / len(vals)
    assert abs(fv[k] - mean) < 1e-4 * max(1, abs(mean)), (col, fv[k], mean)
open("fill.txt", "w").write("%r\n" % fv[0])
PY

# rows to predict whose own x1 mean (100) is far from training's (about 5)
printf 'x1,x2\n,1\n100,1\n100,1\n100,1\n' > gaps.csv
"$cx" predict --model model.safetensors --data gaps.csv --out gaps_pred.csv >/dev/null ||
    fail "predict with gaps"
printf 'x1,x2\n%s,1\n' "$(cat fill.txt)" > filled.csv
"$cx" predict --model model.safetensors --data filled.csv --out filled_pred.csv >/dev/null ||
    fail "predict filled"
python3 - <<'PY' || fail "gap filled with the training mean"
import csv
fill = float(open("fill.txt").read())
gap = float(list(csv.DictReader(open("gaps_pred.csv")))[0]["value"])
same = float(list(csv.DictReader(open("filled_pred.csv")))[0]["value"])
assert abs(gap - same) < 1e-4 * max(1, abs(same)), (gap, same)
# and it is the model's answer at the training mean: 3 * mean - 2 + 5
assert abs(gap - (3 * fill + 3)) < 0.5, (gap, fill)
PY

echo "ok"
