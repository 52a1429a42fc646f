#!/usr/bin/env bash
# test_kernels_cli.sh — `cloakx train` / `cloakx predict` end to end on a generated CSV (numeric,
# categorical and string-label columns): metrics, model metadata, predictions, DP epsilon,
# regression, and the documented exit codes for bad specs and bad usage.
set -euo pipefail
cx=${CLOAKX:?}
fail() { echo "FAIL: $*" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"

# 600 rows: class from a noisy linear rule over x1, x2 and the colour
awk 'BEGIN { srand(7); print "x1,x2,colour,y,target";
  split("red green blue", c, " ");
  for (i = 0; i < 600; i++) {
    a = rand() * 4 - 2; b = rand() * 4 - 2; k = int(rand() * 3) + 1;
    s = a + 0.5 * b + (k == 1 ? 1 : (k == 2 ? -1 : 0)) + (rand() - 0.5) * 0.3;
    cls = s > 0.7 ? "high" : (s < -0.7 ? "low" : "mid");
    printf "%.4f,%.4f,%s,%s,%.4f\n", a, b, c[k], cls, 3 * a - 2 * b + 5 }
}' > data.csv
cat > spec.json <<'J'
{"task": "classification",
 "data": {"label": "y", "features": ["x1", "x2", "colour"], "categorical": {"colour": null}},
 "model": {"type": "mlp", "hidden": [16], "activation": "tanh"},
 "optimizer": {"type": "adam", "lr": 0.01}, "epochs": 40, "batch_size": 32, "seed": 5}
J
out=$("$cx" train --spec spec.json --data data.csv --out model.safetensors --json)
python3 - "$out" <<'PY' || fail "train --json"
import json, sys
o = json.loads(sys.argv[1])
assert o["train_rows"] == 480 and o["validation_rows"] == 120, o
assert o["metrics"]["accuracy"] > 0.85, o["metrics"]
assert o["features"] == 5
PY
python3 - <<'PY' || fail "model metadata"
import json, struct
b = open("model.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
m = json.loads(b[8:8 + n])["__metadata__"]
assert json.loads(m["classes"]) == ["high", "low", "mid"], m["classes"]
assert json.loads(m["features"]) == ["x1", "x2", "colour=blue", "colour=green", "colour=red"]
assert json.loads(m["spec"])["model"]["hidden"] == [16]
assert "epsilon" not in m
PY
# predict on rows without the label columns, in another column order
awk -F, 'BEGIN { OFS = "," } { print $3, $2, $1 }' data.csv > nolabel.csv
"$cx" predict --model model.safetensors --data nolabel.csv --out pred.csv >/dev/null ||
    fail "predict"
[ "$(head -1 pred.csv)" = "class,p_high,p_low,p_mid" ] || fail "prediction header"
[ "$(wc -l < pred.csv)" -eq 601 ] || fail "prediction rows"
python3 - <<'PY' || fail "prediction accuracy"
import csv
truth = [r["y"] for r in csv.DictReader(open("data.csv"))]
pred = [r["class"] for r in csv.DictReader(open("pred.csv"))]
acc = sum(t == p for t, p in zip(truth, pred)) / len(truth)
assert acc > 0.85, acc
PY

# DP-SGD: epsilon from the accountant in the output and the model
cat > dp.json <<'J'
{"task": "classification", "data": {"label": "y", "features": ["x1", "x2"]},
 "model": {"type": "softmax"}, "optimizer": {"type": "adam", "lr": 0.05},
 "epochs": 5, "batch_size": 48,
 "privacy": {"noise_multiplier": 1.2, "max_grad_norm": 1.0, "delta": 1e-5}}
J
out=$("$cx" train --spec dp.json --data data.csv --out dp.safetensors --json)
python3 - "$out" <<'PY' || fail "DP train"
import json, sys
p = json.loads(sys.argv[1])["privacy"]
assert p["sampling"] == "poisson" and p["steps"] == 50, p
assert abs(p["sample_rate"] - 0.1) < 1e-12, p
assert 0 < p["epsilon"] < 100, p
PY

# regression with a linear model
cat > reg.json <<'J'
{"task": "regression", "data": {"label": "target", "features": ["x1", "x2"]},
 "model": {"type": "linear"}, "optimizer": {"type": "adam", "lr": 0.05}, "epochs": 30}
J
out=$("$cx" train --spec reg.json --data data.csv --out reg.safetensors --json)
python3 - "$out" <<'PY' || fail "regression"
import json, sys
m = json.loads(sys.argv[1])["metrics"]
assert m["r2"] > 0.999 and m["rmse"] < 0.1, m
PY
"$cx" predict --model reg.safetensors --data data.csv --out reg.csv >/dev/null || fail "predict reg"
[ "$(head -1 reg.csv)" = "value" ] || fail "regression header"

# errors: a bad spec names the key (exit 1), missing options are usage errors (exit 2)
echo '{"task": "classification", "model": {"type": "softmax"}, "epochz": 3}' > bad.json
set +e
"$cx" train --spec bad.json --data data.csv --out x.safetensors 2>err.txt; rc=$?
set -e
[ "$rc" -eq 1 ] || fail "bad spec exit $rc"
grep -q '"epochz"' err.txt || fail "bad spec message: $(cat err.txt)"
set +e
"$cx" train --spec spec.json --out x.safetensors 2>/dev/null; rc=$?
set -e
[ "$rc" -eq 2 ] || fail "missing --data exit $rc"
"$cx" train --help | grep >/dev/null 'usage: cloakx train' || fail "train --help"
"$cx" predict --help | grep >/dev/null 'usage: cloakx predict' || fail "predict --help"
echo "ok"
