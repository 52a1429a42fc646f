#!/usr/bin/env bash
# test_e2e_dp_model_meta.sh — issue 13.2: the model of a DP job carries nothing data-derived
# outside the accounted mechanism. Its metadata and tensors are scanned for the sellers' data:
# the classes and the standardisation are the spec's (before the fix: every distinct label
# value, and the exact, un-noised means of the rows in standardizer.mean). With
# "privacy.standardize": "dp" the standardisation is computed on the declared ranges by the
# Laplace mechanism, and its epsilon is accounted in the model, the report and the statement.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/e2e_common.sh"

keys operator buyer s1 s2
"$CLOAKX" demo --write-data "$work/data" --sellers 2 --rows 300 >/dev/null
"$CLOAKX" balance --key "$work/keys/buyer" --faucet 100000 >/dev/null
pool=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "dp" --price 10 --k 1 \
       --max-rows 1000)
"$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/op" --allow-simulated \
    --pool "$pool" >/dev/null
for i in 1 2; do
    "$CLOAKX" contribute --key "$work/keys/s$i" --pool "$pool" --allow-simulated \
        "$work/data/seller0$i.csv" >/dev/null
done
jq -e '.privacy.noise_multiplier > 0' "$work/data/spec.json" >/dev/null || fail "spec is not DP"
job=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/data/spec.json" \
      --pay 1000)
worker_once
expect_one_paid
"$CLOAKX" model fetch "$job" --key "$work/keys/buyer" --out "$work/model.safetensors" >/dev/null
python3 - "$work/model.safetensors" "$work/data/spec.json" "$work/data"/seller0*.csv <<'PY' \
    || fail "the model carries data"
import csv, json, struct, sys
model, spec_path, csvs = sys.argv[1], sys.argv[2], sys.argv[3:]
raw = open(model, "rb").read()
hl = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + hl])
meta = head.pop("__metadata__")
def tensor(name):
    t = head[name]
    a, b = t["data_offsets"]
    return list(struct.unpack("<%df" % ((b - a) // 4), raw[8 + hl + a:8 + hl + b]))
spec = json.load(open(spec_path))
cols = [c for c in spec["data"]["columns"] if c["name"] != spec["data"]["label"]]
rows = [r for p in csvs for r in csv.DictReader(open(p))]
f32 = lambda v: struct.unpack("<f", struct.pack("<f", v))[0]
mean, inv = tensor("standardizer.mean"), tensor("standardizer.inv_std")
bad = []
for j, c in enumerate(cols):
    vals = [float(r[c["name"]]) for r in rows]
    data_mean = sum(vals) / len(vals)
    if mean[j] != f32(c["mean"]) or abs(inv[j] - 1 / c["std"]) > 1e-6 * abs(inv[j]):
        bad.append("%s: standardiser %r/%r is not the spec's" % (c["name"], mean[j], inv[j]))
    if abs(mean[j] - data_mean) < 1e-6 * max(1.0, abs(data_mean)):
        bad.append("%s: the data's mean %r is in the model" % (c["name"], data_mean))
    # no metadata text holds the data's mean (in the usual printings)
    for txt in ("%.6g" % data_mean, "%.9g" % f32(data_mean), repr(data_mean)):
        if any(txt in v for v in meta.values()):
            bad.append("%s: metadata quotes the data's mean %s" % (c["name"], txt))
classes = json.loads(meta["classes"])
label = [c for c in spec["data"]["columns"] if c["name"] == spec["data"]["label"]][0]
if classes != label["values"]:
    bad.append("classes %r are not the spec's %r" % (classes, label["values"]))
if "fill_values" in meta and meta["fill_values"] not in ("null", ""):
    bad.append("fill values from the data: %s" % meta["fill_values"])
if float(meta.get("epsilon", "nan")) != float(meta.get("epsilon", "nan")):
    bad.append("no epsilon in the metadata")
print("\n".join(bad), file=sys.stderr)
sys.exit(1 if bad else 0)
PY

# a DP spec without the declared standardisation is refused before anybody pays
jq 'del(.data.columns[0].mean, .data.columns[0].std)' "$work/data/spec.json" >"$work/nostats.json"
expect_rc 1 "$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" \
    --spec "$work/nostats.json" --pay 1000
grep -q "column 'age' needs \"mean\" and \"std\" under DP" "$work/err" \
    || fail "DP spec without stats: $(cat "$work/err")"

# the DP standardisation: ranges instead of statistics (what a buyer knows without the data)
jq '.data.columns |= map(if .mean then {name, type, min: (.mean - 4 * .std),
                                          max: (.mean + 4 * .std)} else . end)
    | .privacy += {standardize: "dp", standardize_epsilon: 2}' "$work/data/spec.json" \
    >"$work/dpstd.json"
job=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" --spec "$work/dpstd.json" \
      --pay 1000)
worker_once
expect_one_paid
jq -se --arg j "$job" 'map(select(.job == $j))[0].report.privacy
    | .standardize == "dp" and .standardize_epsilon == 2
      and ((.epsilon_total - .epsilon - 2) | fabs) < 1e-9' "$work/w.json" >/dev/null \
    || fail "the job report does not account the DP standardisation: $(cat "$work/w.json")"
total=$(jq -se --arg j "$job" 'map(select(.job == $j))[0].report.privacy.epsilon_total' \
        "$work/w.json")
# the report's curve counts it too: by the last epoch, the job's total
jq -se --arg j "$job" 'map(select(.job == $j))[0].report
    | ((.curve.epsilon[-1] - .privacy.epsilon_total) | fabs) < 1e-6 * .privacy.epsilon_total
      and .curve.epsilon[0] > 2' "$work/w.json" >/dev/null \
    || fail "the curve's epsilon leaves out the DP standardisation: $(cat "$work/w.json")"
"$CLOAKX" --json job status "$job" >"$work/status.json"
jq -e --argjson t "$total" '(.result.epsilon - $t | fabs) < 1e-6' "$work/status.json" \
    >/dev/null || fail "the statement's epsilon is not the total $total: $(cat "$work/status.json")"
"$CLOAKX" model fetch "$job" --key "$work/keys/buyer" --out "$work/dp.safetensors" >/dev/null
python3 - "$work/dp.safetensors" "$work/dpstd.json" "$work/data"/seller0*.csv <<'PY' \
    || fail "the DP standardisation"
import csv, json, struct, sys
model, spec_path, csvs = sys.argv[1], sys.argv[2], sys.argv[3:]
raw = open(model, "rb").read()
hl = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + hl])
meta = head.pop("__metadata__")
t = head["standardizer.mean"]
a, b = t["data_offsets"]
mean = struct.unpack("<%df" % ((b - a) // 4), raw[8 + hl + a:8 + hl + b])
spec = json.load(open(spec_path))
cols = [c for c in spec["data"]["columns"] if c["name"] != spec["data"]["label"]]
rows = [r for p in csvs for r in csv.DictReader(open(p))]
priv = json.loads(meta["privacy"])
bad = []
if abs(float(meta["epsilon"]) - priv["epsilon_total"]) > 1e-5 * priv["epsilon_total"]:
    bad.append("metadata epsilon %s is not the total %r" % (meta["epsilon"], priv["epsilon_total"]))
for j, c in enumerate(cols):
    data_mean = sum(float(r[c["name"]]) for r in rows) / len(rows)
    if not c["min"] <= mean[j] <= c["max"]:
        bad.append("%s: mean %r outside the declared range" % (c["name"], mean[j]))
    if mean[j] == struct.unpack("<f", struct.pack("<f", data_mean))[0]:
        bad.append("%s: the data's exact mean is in the model" % c["name"])
print("\n".join(bad), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
echo "ok"
