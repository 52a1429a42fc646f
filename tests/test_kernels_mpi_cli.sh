#!/usr/bin/env bash
# test_kernels_mpi_cli.sh — `cloakx train --ranks 2` (re-run under mpirun) against one process:
# the same model within 1e-5 relative, the same metrics; and the fallback to one process, with
# its message, when mpirun is absent. Skipped (77) where this build or machine has no MPI.
set -euo pipefail
cx=${CLOAKX:?}
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "SKIP: no mpirun"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
# loopback only: no probing of other networks
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_btl_vader_single_copy_mechanism=none

awk 'BEGIN { srand(3); print "x1,x2,colour,y";
  split("red green blue", c, " ");
  for (i = 0; i < 701; i++) {
    a = rand() * 4 - 2; b = rand() * 4 - 2; k = int(rand() * 3) + 1;
    s = a + 0.5 * b + (k == 1 ? 1 : (k == 2 ? -1 : 0)) + (rand() - 0.5) * 0.3;
    cls = s > 0.7 ? "high" : (s < -0.7 ? "low" : "mid");
    printf "%.4f,%.4f,%s,%s\n", a, b, c[k], cls }
}' > data.csv
cat > spec.json <<'J'
{"task": "classification",
 "data": {"label": "y", "features": ["x1", "x2", "colour"], "categorical": {"colour": null}},
 "model": {"type": "mlp", "hidden": [16], "activation": "tanh"},
 "optimizer": {"type": "adam", "lr": 0.01}, "epochs": 8, "batch_size": 32, "seed": 5,
 "early_stopping": {"patience": 3}}
J
one=$("$cx" train --spec spec.json --data data.csv --out one.safetensors --threads 1 --json)
set +e
two=$(timeout 60 "$cx" train --spec spec.json --data data.csv --out two.safetensors --threads 1 \
      --ranks 2 --json 2>err.txt)
rc=$?
set -e
if grep -q "MPI is not available" err.txt; then # no MPI here: the fallback, then skip the rest
    [ "$rc" = 0 ] && grep -q "training in one process" err.txt && [ -s two.safetensors ] ||
        fail "fallback to one process without MPI"
    echo "SKIP: $(cat err.txt)"
    exit 77
fi
[ "$rc" = 0 ] || { cat err.txt >&2; fail "train --ranks 2 (exit $rc)"; }
python3 - "$one" "$two" <<'PY' || fail "2 ranks against one process"
import array, json, struct, sys
one, two = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert one.get("ranks") == 1 and two["ranks"] == 2, (one.get("ranks"), two["ranks"])
for k in ("train_rows", "validation_rows", "epochs_run", "best_epoch", "steps"):
    assert one[k] == two[k], (k, one[k], two[k])
for k in ("accuracy", "loss"):
    assert abs(one["metrics"][k] - two["metrics"][k]) <= 1e-5, (k, one["metrics"], two["metrics"])
def tensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    meta = h.pop("__metadata__")
    t = {k: array.array("f", b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
         for k, v in h.items()}
    return t, meta
a, ma = tensors("one.safetensors")
b, mb = tensors("two.safetensors")
assert a.keys() == b.keys()
worst = max(abs(x - y) / (1 + abs(x)) for k in a for x, y in zip(a[k], b[k]))
print(f"2 ranks vs 1 process: max relative difference {worst:.3g} over {len(a)} tensors")
assert worst <= 1e-5, worst
assert ma["features"] == mb["features"] and ma["classes"] == mb["classes"]
PY
# no mpirun on PATH: one process, saying why
PATH=/nonexistent:/usr/local/sbin/none "$cx" train --spec spec.json --data data.csv \
    --out fb.safetensors --threads 1 --ranks 2 2>err.txt >out.txt || fail "fallback run"
grep -q "training in one process" err.txt || { cat err.txt >&2; fail "fallback message"; }
grep -q "^ranks:" out.txt && fail "fallback printed ranks"
[ -s fb.safetensors ] || fail "fallback wrote no model"
echo ok
