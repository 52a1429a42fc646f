#!/usr/bin/env bash
# scaling_mpi.sh [BUILD_DIR] — `cloakx train` in one process (1 thread, 2 threads) beside
# `--ranks 2` (1 thread each) on the same data and spec, at a few batch sizes, runs interleaved;
# the gradient all-reduce timed alone (bench_allreduce under mpirun -np 2, plain and sealed) and
# AES-256-GCM per core (openssl speed), all in the same run; then the scaling model of
# kernels/README.md for N = 2 from the 1-rank run's F and the measured all-reduce, beside the
# measured 2-rank figures. Environment: ROWS (60000), EPOCHS (4), BATCHES ("256 1024 4096"),
# REPS (5). Loopback only (no network probed). Prints the load average before and after.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
cx=$build/cli/cloakx
ar=$build/bench/bench_allreduce
[ -x "$cx" ] && [ -x "$ar" ] || { echo "scaling_mpi.sh: build cloakx and bench_allreduce first" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "scaling_mpi.sh: no mpirun" >&2; exit 1; }
rows=${ROWS:-60000} epochs=${EPOCHS:-4} batches=${BATCHES:-"256 1024 4096"} reps=${REPS:-5}
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_btl_vader_single_copy_mechanism=none
mpiargs=(--oversubscribe --bind-to none --mca mpi_yield_when_idle 1)
[ "$(id -u)" = 0 ] && mpiargs+=(--allow-run-as-root)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# the reference MLP's shape (64 -> 256 -> 256 -> 10): 64 features, 10 classes, seeded
awk -v n="$rows" 'BEGIN { srand(11); printf "f0"; for (j = 1; j < 64; j++) printf ",f%d", j;
  print ",y"; for (i = 0; i < n; i++) { c = int(rand() * 10); s = "";
    for (j = 0; j < 64; j++) s = s sprintf("%.3f,", rand() * 2 - 1 + (j % 10 == c ? 0.8 : 0));
    print s "c" c } }' >"$dir/data.csv"
spec() { # batch
    cat >"$dir/spec$1.json" <<J
{"task": "classification", "data": {"label": "y"},
 "model": {"type": "mlp", "hidden": [256, 256], "activation": "relu"},
 "optimizer": {"type": "adam", "lr": 0.001}, "batch_size": $1, "epochs": $epochs,
 "validation_split": 0.2, "seed": 1}
J
}
for b in $batches; do spec "$b"; done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$dir/runs.jsonl"
run() { # label batch args...
    local label=$1 b=$2
    shift 2
    local t0 t1 out
    t0=$(date +%s.%N)
    out=$("$cx" --json -q train --spec "$dir/spec$b.json" --data "$dir/data.csv" \
          --out "$dir/m.safetensors" "$@")
    t1=$(date +%s.%N)
    out=$(printf '%s' "$out" | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)))')
    printf '{"label": "%s", "batch": %s, "wall": %s, "load": %s, "run": %s}\n' "$label" "$b" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" \
        "$(cut -d' ' -f1 /proc/loadavg)" "$out" >>"$dir/runs.jsonl"
}
for ((r = 0; r < reps; r++)); do
    for b in $batches; do
        run "1 process, 1 thread" "$b" --threads 1
        run "1 process, 2 threads" "$b" --threads 2
        run "2 ranks, 1 thread each" "$b" --threads 1 --ranks 2
    done
done
# the reference MLP's parameters: 64*256+256 + 256*256+256 + 256*10+10
P=85002
mpirun "${mpiargs[@]}" -np 2 "$ar" --reps 41 --json "$P" >"$dir/allreduce.json"
gcm1=$(openssl speed -evp aes-256-gcm -seconds 2 -bytes 16384 2>/dev/null | awk '/^AES-256-GCM/ { print $2 }')
gcm2=$(openssl speed -multi 2 -evp aes-256-gcm -seconds 2 -bytes 16384 2>/dev/null | awk '/^evp|^AES-256-GCM/ { v = $NF } END { print v }')
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$dir/runs.jsonl" "$dir/allreduce.json" "$P" "$gcm1" "$gcm2" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
ar = json.load(open(sys.argv[2]))["results"][0]
P = int(sys.argv[3])
def kb(s):  # openssl's "1234.56k" (1000s of bytes per second)
    return float(s.rstrip("k")) * 1e3 if s else float("nan")
print(f"AES-256-GCM (openssl speed, 16 KiB): 1 core {kb(sys.argv[4]) / 1e9:.2f} GB/s, "
      f"2 processes {kb(sys.argv[5]) / 1e9:.2f} GB/s")
print(f"all-reduce of P = {P} floats, 2 ranks, median of 41: plain {ar['plain_s'] * 1e6:.0f} us "
      f"({ar['plain_busbw'] / 1e9:.2f} GB/s bus), sealed {ar['sealed_s'] * 1e6:.0f} us "
      f"({ar['sealed_busbw'] / 1e9:.2f} GB/s bus)")
labels = ["1 process, 1 thread", "1 process, 2 threads", "2 ranks, 1 thread each"]
batches = sorted({r["batch"] for r in runs})
print(f"\n{'batch':>6} {'run':<24} {'samples/s (median, min-max)':>30} {'s/step':>9} "
      f"{'wall s':>7} {'accuracy':>8} {'load':>5}")
med = {}
for b in batches:
    for lab in labels:
        rs = [r for r in runs if r["batch"] == b and r["label"] == lab]
        sps = sorted(r["run"]["samples_per_s"] for r in rs)
        sec = statistics.median(r["run"]["seconds"] for r in rs)
        steps = rs[0]["run"]["steps"]
        med[(b, lab)] = (statistics.median(sps), sec, steps, rs[0]["run"])
        accs = sorted({round(r["run"]["metrics"]["accuracy"], 4) for r in rs})
        print(f"{b:>6} {lab:<24} {statistics.median(sps):>12,.0f} ({sps[0]:,.0f}-{sps[-1]:,.0f})"
              f" {sec / steps * 1e3:>7.2f}ms {statistics.median(r['wall'] for r in rs):>7.2f}"
              f" {'/'.join(map(str, accs)):>8} {max(r['load'] for r in rs):>5}")
# The model for N = 2 on this machine: T_2 = T_1 / 2 + steps * t_allreduce(sealed), with T_1 the
# 1-rank, 1-thread run (its F: the run's FLOP over its seconds) and t_allreduce measured above.
print(f"\nmodel, N = 2: T_2 = T_1/2 + steps * {ar['sealed_s'] * 1e6:.0f} us (sealed all-reduce); "
      "speed-up = T_1/T_2")
# measured: the medians' ratio, and the best runs' (the nearest to the model's dedicated cores
# on a shared machine); 2 threads: one process on both cores, the peer of 2 ranks
print(f"{'batch':>6} {'F (GFLOP/s)':>12} {'predicted':>10} {'median':>7} {'best':>6} "
      f"{'2 threads: median':>18} {'best':>6}")
for b in batches:
    _, t1, steps, r1 = med[(b, labels[0])]
    flop = (6 * r1["train_rows"] + 2 * r1["validation_rows"]) * P * r1["epochs_run"]
    t2 = t1 / 2 + steps * ar["sealed_s"]
    best = {lab: min(r["run"]["seconds"] for r in runs if r["batch"] == b and r["label"] == lab)
            for lab in labels}
    meas = t1 / med[(b, labels[2])][1]
    thr = t1 / med[(b, labels[1])][1]
    print(f"{b:>6} {flop / t1 / 1e9:>12.1f} {t1 / t2:>9.2f}x {meas:>6.2f}x "
          f"{best[labels[0]] / best[labels[2]]:>5.2f}x {thr:>17.2f}x "
          f"{best[labels[0]] / best[labels[1]]:>5.2f}x")
PY
