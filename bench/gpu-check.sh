#!/usr/bin/env bash
# bench/gpu-check.sh — one command for a GPU machine: build with CUDA (or take a kit built
# elsewhere), run the gpu tests and the GPU benchmarks (cloakx vs cuBLAS vs PyTorch), print a
# short table last. Fails fast without a GPU.
#
# usage: bench/gpu-check.sh [--kit FILE.tar.xz|DIR] [--memcheck]
#   (env: CX_GPU_CHECK_BUILD=dir, CX_GPU_CHECK_JOBS=n, CX_GPU_CHECK_ROWS=n,
#    CX_GPU_CHECK_WIDE_ROWS=n, CX_GPU_CHECK_NCCL_ROWS=n)
#   --kit  use the binaries of bench/gpu-kit.sh instead of building: for a GPU machine that
#          lacks the build dependencies or the network to fetch them (it needs a driver, glibc
#          and cuBLAS, nothing else)
#   --memcheck  also run the parity test under compute-sanitizer's memcheck (out-of-bounds and
#          misaligned accesses in the kernels; several times slower)
# Exit: 0 everything ran and the tests passed; 1 otherwise, saying why on stderr — within
#       seconds and before building anything when there is no usable GPU or CUDA toolkit.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${CX_GPU_CHECK_BUILD:-$ROOT/build-gpu-check}
JOBS=${CX_GPU_CHECK_JOBS:-$(nproc 2>/dev/null || echo 2)}
ROWS=${CX_GPU_CHECK_ROWS:-200000}
WIDE_ROWS=${CX_GPU_CHECK_WIDE_ROWS:-65536}
NCCL_ROWS=${CX_GPU_CHECK_NCCL_ROWS:-100000}
LOGS=$BUILD/gpu-check
KIT=""
MEMCHECK=0

die() { printf 'gpu-check: FAILED: %s\n' "$*" >&2; exit 1; }
nogpu() { printf 'gpu-check: FAILED (nothing built or run): %s\n' "$*" >&2; exit 1; }
step() { printf '\n== gpu-check: %s\n' "$*" >&2; }

while [ $# -gt 0 ]; do
    case $1 in
    --kit)
        [ $# -ge 2 ] || die "--kit needs a kit (a .tar.xz or a directory from bench/gpu-kit.sh)"
        KIT=$2
        shift 2
        ;;
    --memcheck) MEMCHECK=1; shift ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
if [ -n "$KIT" ]; then
    [ -e "$KIT" ] || die "no kit at $KIT (make one with bench/gpu-kit.sh)"
    KIT=$(cd "$(dirname "$KIT")" && pwd)/$(basename "$KIT")
fi

# ---- 1. preflight (seconds): a driver that sees a GPU, and a CUDA toolkit -------------------
step "preflight"
command -v nvidia-smi >/dev/null 2>&1 ||
    nogpu "no GPU: nvidia-smi is not installed (no NVIDIA driver on this machine)"
if ! gpus=$(timeout 60 nvidia-smi --query-gpu=index,name,memory.total,driver_version,pci.bus_id \
        --format=csv,noheader 2>&1); then
    nogpu "no usable GPU: nvidia-smi failed: $(printf '%s' "$gpus" | sed -n 1,3p)"
fi
[ -n "$gpus" ] || nogpu "no usable GPU: nvidia-smi lists none"
NVCC=${CUDACXX:-$(command -v nvcc || true)}
[ -n "$NVCC" ] || NVCC=/usr/local/cuda/bin/nvcc
[ -n "$KIT" ] || [ -x "$NVCC" ] ||
    nogpu "no CUDA toolkit: nvcc not found (PATH, CUDACXX, /usr/local/cuda/bin)"
cc_mode=$(timeout 60 nvidia-smi conf-compute -f 2>/dev/null | tr -s ' \n' ' ' || true)
printf '%s\n' "$gpus" >&2
printf 'nvcc: %s\nconfidential computing (nvidia-smi conf-compute -f): %s\n' \
    "$([ -x "$NVCC" ] && "$NVCC" --version | tail -n 1 || echo "none (kit)")" \
    "${cc_mode:-not reported}" >&2

mkdir -p "$LOGS" || die "cannot create $LOGS"

if [ -z "$KIT" ]; then
    # ---- 2. build -----------------------------------------------------------------------------
    step "build ($BUILD, CLOAKX_CUDA=ON, $JOBS jobs)"
    cmake -S "$ROOT" -B "$BUILD" -DCLOAKX_CUDA=ON -DCLOAKX_WERROR=ON -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_CUDA_COMPILER="$NVCC" >"$LOGS/configure.log" 2>&1 ||
        die "configure failed: $(tail -n 5 "$LOGS/configure.log") (log: $LOGS/configure.log)"
    cmake --build "$BUILD" -j "$JOBS" >"$LOGS/build.log" 2>&1 ||
        die "build failed: $(grep -m 5 -E 'error' "$LOGS/build.log") (log: $LOGS/build.log)"
    CLOAKX=$BUILD/cli/cloakx
else
    # ---- 2. the kit: unpack, find the machine's cuBLAS, check every library resolves ---------
    step "kit $KIT"
    if [ -d "$KIT" ]; then
        KITDIR=$KIT
    else
        rm -rf "$BUILD/kit" && mkdir -p "$BUILD/kit" || die "cannot create $BUILD/kit"
        # tar's xz filter, or Python's when the xz program is missing
        tar -C "$BUILD/kit" -xJf "$KIT" 2>"$LOGS/kit-unpack.log" ||
            python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
                "$KIT" "$BUILD/kit" 2>>"$LOGS/kit-unpack.log" ||
            die "cannot unpack $KIT: $(tail -n 2 "$LOGS/kit-unpack.log")"
        KITDIR=$BUILD/kit/cloakx-gpu-kit
    fi
    [ -f "$KITDIR/MANIFEST" ] && [ -f "$KITDIR/tests.list" ] && [ -x "$KITDIR/bin/cloakx" ] ||
        die "$KIT is not a kit from bench/gpu-kit.sh (no MANIFEST, tests.list or bin/cloakx)"
    sed -n '1,8p' "$KITDIR/MANIFEST" >&2
    want_glibc=$(sed -n 's/^glibc: //p' "$KITDIR/MANIFEST")
    have_glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
    if [ -n "$want_glibc" ] && [ -n "$have_glibc" ] &&
        [ "$(printf '%s\n%s\n' "$want_glibc" "$have_glibc" | sort -V | sed -n 1p)" != "$want_glibc" ]; then
        die "the kit needs glibc >= $want_glibc; this machine has $have_glibc"
    fi
    libpath=$KITDIR/lib
    for so in $(sed -n 's/^needs: //p' "$KITDIR/MANIFEST"); do
        found=$(ldconfig -p 2>/dev/null | awk -v so="$so" '$1 == so {print $NF; exit}')
        [ -n "$found" ] || found=$(find "${CUDA_HOME:-/usr/local/cuda}/" /usr/local /usr/lib /opt \
            -name "$so" \( -type f -o -type l \) 2>/dev/null | sed -n 1p)
        [ -n "$found" ] || die "this machine has no $so (the kit takes cuBLAS from the machine)"
        printf 'cuBLAS: %s\n' "$found" >&2
        libpath=$libpath:$(dirname "$found")
    done
    export LD_LIBRARY_PATH=$libpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    # the cuda backend is a module that the binaries load on first need
    export CLOAKX_CUDA_MODULE=$KITDIR/lib/libcloakx_cuda.so
    [ -f "$CLOAKX_CUDA_MODULE" ] || die "the kit has no cuda backend module (lib/libcloakx_cuda.so)"
    for b in "$KITDIR"/bin/* "$KITDIR"/tests/* "$CLOAKX_CUDA_MODULE"; do
        missing=$(ldd "$b" 2>&1 | grep 'not found' | awk '{print $1}' | tr '\n' ' ')
        [ -z "$missing" ] || die "$(basename "$b"): libraries not found: $missing"
    done
    # the NCCL module, where the kit has it and this machine has libnccl (else the NCCL run
    # below shows the host path, saying why)
    kit_nccl=0
    if [ -f "$KITDIR/lib/libcloakx_nccl.so" ]; then
        export CLOAKX_NCCL_MODULE=$KITDIR/lib/libcloakx_nccl.so
        missing=$(ldd "$CLOAKX_NCCL_MODULE" 2>&1 | grep 'not found' | awk '{print $1}' | tr '\n' ' ')
        if [ -z "$missing" ]; then
            kit_nccl=1
        else
            printf 'gpu-check: the NCCL module lacks %s here: NCCL will not be used\n' \
                "$missing" >&2
        fi
    fi
    CLOAKX=$KITDIR/bin/cloakx
    "$CLOAKX" version >&2 || die "the kit's cloakx does not run here"
fi
[ -x "$CLOAKX" ] || die "no cloakx binary at $CLOAKX"

# ---- 3. the gpu tests: label gpu (parity), and label cuda (unit tests with a GPU branch) -----
if [ -z "$KIT" ]; then
    step "ctest -L 'gpu|cuda'"
    ctest --test-dir "$BUILD" -L 'gpu|cuda' --output-on-failure --timeout 900 \
        >"$LOGS/gpu-tests.log" 2>&1
    tests_rc=$?
else
    # the kit has no CTest files: run each test in a directory of its own, as CTest would,
    # and end with CTest's summary line
    step "the kit's tests ($(tr '\n' ' ' <"$KITDIR/tests.list"))"
    tests_rc=0
    n=0
    nfail=0
    total=$(grep -c . "$KITDIR/tests.list")
    : >"$LOGS/gpu-tests.log"
    while read -r t; do
        [ -n "$t" ] || continue
        n=$((n + 1))
        mkdir -p "$LOGS/work/$t"
        t0=$(date +%s)
        (cd "$LOGS/work/$t" && timeout 900 "$KITDIR/tests/$t") >"$LOGS/$t.log" 2>&1
        rc=$?
        case $rc in
        0) verdict="Passed" ;;
        77) verdict="***Skipped" ;;
        *) verdict="***Failed (exit $rc)"; nfail=$((nfail + 1)); tests_rc=1 ;;
        esac
        {
            printf '%d/%d Test: %-32s %s  %d sec\n' "$n" "$total" "$t" "$verdict" $(($(date +%s) - t0))
            [ "$rc" -eq 0 ] || tail -n 40 "$LOGS/$t.log"
        } >>"$LOGS/gpu-tests.log"
    done <"$KITDIR/tests.list"
    printf '\n%d%% tests passed, %d tests failed out of %d\n' \
        $(((n - nfail) * 100 / (n > 0 ? n : 1))) "$nfail" "$n" >>"$LOGS/gpu-tests.log"
fi
tail -n 25 "$LOGS/gpu-tests.log" >&2
tests_summary=$(grep -E 'tests passed' "$LOGS/gpu-tests.log" | tail -n 1)
# on a GPU machine a skipped parity test means the CUDA runtime did not see the GPU: a failure
skipped=$(grep -cE 'test_kernels_cuda_parity .*(\*\*\*Skipped|Not Run)' "$LOGS/gpu-tests.log" || true)
# the NCCL test (one rank: NCCL vs the host path) is skipped only where NCCL is absent: a
# failure when this build made the NCCL module
nccl_line=$(grep -E 'test_kernels_nccl_gpu ' "$LOGS/gpu-tests.log" | tail -n 1 || true)
nccl_test=$(grep -oE -m1 'Passed|\*\*\*Skipped|Not Run|\*\*\*Failed' <<<"$nccl_line" || true)
nccl_built=0
if [ -z "$KIT" ]; then
    [ -f "$BUILD/kernels/libcloakx_nccl.so" ] && nccl_built=1
else
    nccl_built=$kit_nccl
fi

memcheck_note=""
memcheck_rc=0
if [ "$MEMCHECK" = 1 ]; then
    step "compute-sanitizer --tool memcheck: the parity test"
    CS=$(command -v compute-sanitizer || true)
    [ -n "$CS" ] || CS=${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer
    if [ -z "$KIT" ]; then
        parity=$BUILD/tests/test_kernels_cuda_parity
    else
        parity=$KITDIR/tests/test_kernels_cuda_parity
    fi
    if [ ! -x "$CS" ]; then
        memcheck_note="not run: no compute-sanitizer (PATH, CUDA_HOME/bin)"
        memcheck_rc=1
    else
        mkdir -p "$LOGS/work/memcheck"
        # The parity test provokes CUDA API errors on purpose (an impossible allocation, a
        # capture voided by a host sync) and checks that they are reported: only memory errors
        # count here, or every run would fail on the test's own expected errors.
        (cd "$LOGS/work/memcheck" && timeout 900 "$CS" --tool memcheck --report-api-errors no \
            --error-exitcode 9 "$parity") >"$LOGS/memcheck.log" 2>&1
        mrc=$?
        memcheck_note="$(grep -m 1 -E 'ERROR SUMMARY' "$LOGS/memcheck.log" || echo "exit $mrc")"
        [ "$mrc" -eq 0 ] || memcheck_rc=1
        tail -n 5 "$LOGS/memcheck.log" >&2
    fi
fi

# ---- 4. benchmarks ----------------------------------------------------------------------------
bench() { # name, then cloakx arguments; JSON to $LOGS/name.json
    local name=$1
    shift
    step "cloakx bench train $*"
    if "$CLOAKX" bench train "$@" --json >"$LOGS/$name.json" 2>"$LOGS/$name.log"; then
        return 0
    fi
    printf 'gpu-check: %s failed: %s\n' "$name" "$(tail -n 3 "$LOGS/$name.log")" >&2
    rm -f "$LOGS/$name.json"
    return 1
}
bench_rc=0
bench ref --device cuda --rows "$ROWS" --epochs 4 --save-data "$LOGS/ref" || bench_rc=1
bench ref_tf32 --device cuda --precision tf32 --rows "$ROWS" --epochs 4 || bench_rc=1
bench wide_tf32 --device cuda --precision tf32 --inputs 1024 --width 4096 --layers 2 \
    --rows "$WIDE_ROWS" --epochs 3 --batch 4096 || bench_rc=1
bench wide_fp32 --device cuda --inputs 1024 --width 4096 --layers 2 \
    --rows "$WIDE_ROWS" --epochs 3 --batch 4096 || bench_rc=1

step "PyTorch peer (bench/torch_mlp.py --device cuda)"
torch_note=""
# the first python3 with a CUDA build of PyTorch (on PATH first: a GPU image's own)
PY=""
torch_cuda=0
for p in "$(command -v python3 || true)" /usr/bin/python3; do
    [ -n "$p" ] && [ -x "$p" ] || continue
    [ -n "$PY" ] || PY=$p
    if "$p" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' \
            >/dev/null 2>&1; then
        PY=$p
        torch_cuda=1
        break
    fi
done
[ -n "$PY" ] || die "no python3 on this machine (the summary table needs it)"
if [ "$torch_cuda" = 0 ]; then
    torch_note="no CUDA build of PyTorch on this machine ($("$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -n 1))"
    rm -f "$LOGS/torch.json"
elif [ ! -f "$LOGS/ref.x.f32" ]; then
    torch_note="skipped: the reference run did not write its data"
    rm -f "$LOGS/torch.json"
elif ! "$PY" "$ROOT/bench/torch_mlp.py" --device cuda --data "$LOGS/ref" --epochs 4 --json \
        >"$LOGS/torch.json" 2>"$LOGS/torch.log"; then
    torch_note="torch_mlp.py failed: $(tail -n 2 "$LOGS/torch.log")"
    rm -f "$LOGS/torch.json"
fi
rm -f "$LOGS/ref.x.f32" "$LOGS/ref.y.f32"

# ---- 4b. NCCL at one rank: the across-ranks step path (CLOAKX_TRAIN_DIST=1) with the gradients
# summed by NCCL on the GPU against the same path through host memory (CLOAKX_NCCL=0), one rank
# under mpirun (a real MPI communicator: NCCL's id goes over it) where Open MPI and the build's
# MPI module are there, else directly (a one-process communicator)
step "NCCL at one rank: cloakx train, NCCL vs the host path"
nccl_rc=0
: >"$LOGS/nccl-summary.txt"
launch=(env)
how="directly"
if [ -z "$KIT" ] && [ -f "$BUILD/kernels/libcloakx_mpi.so" ] && command -v mpirun >/dev/null &&
    grep "Open MPI" >/dev/null <<<"$(mpirun --version 2>&1)"; then
    launch=(mpirun -np 1 --bind-to none)
    [ "$(id -u)" = 0 ] && launch+=(--allow-run-as-root)
    launch+=(env)
    how="under mpirun -np 1"
fi
"$PY" - "$LOGS/nccl.csv" "$NCCL_ROWS" <<'EOF' || die "cannot write the NCCL run's data"
import random, sys
path, n = sys.argv[1], int(sys.argv[2])
r = random.Random(7)
with open(path, "w") as f:
    f.write(",".join("x%d" % j for j in range(32)) + ",y\n")
    for _ in range(n):
        c = r.randrange(10)
        f.write(",".join("%.4f" % (r.uniform(-1, 1) + (1.0 if j % 10 == c else 0.0))
                         for j in range(32)) + ",%d\n" % c)
EOF
cat >"$LOGS/nccl-spec.json" <<'EOF'
{"task": "classification", "data": {"label": "y"},
 "model": {"type": "mlp", "hidden": [1024, 1024]}, "batch_size": 1024, "epochs": 3,
 "validation_split": 0.1, "seed": 1}
EOF
for path in nccl host; do
    extra=()
    [ "$path" = host ] && extra=(CLOAKX_NCCL=0)
    if ! timeout 600 "${launch[@]}" CLOAKX_TRAIN_DIST=1 "${extra[@]}" "$CLOAKX" train \
            --spec "$LOGS/nccl-spec.json" --data "$LOGS/nccl.csv" --device cuda --json \
            --out "$LOGS/nccl-$path.safetensors" >"$LOGS/nccl-$path.json" 2>"$LOGS/nccl-$path.log"; then
        printf 'gpu-check: the NCCL run (%s path) failed: %s\n' "$path" \
            "$(tail -n 3 "$LOGS/nccl-$path.log")" >&2
        rm -f "$LOGS/nccl-$path.json"
        nccl_rc=1
    fi
done
rm -f "$LOGS/nccl.csv"
"$PY" - "$LOGS" "$how" "$NCCL_ROWS" <<'EOF' >"$LOGS/nccl-summary.txt"
import json, os, sys
logs, how, rows = sys.argv[1], sys.argv[2], sys.argv[3]
def load(name):
    try:
        with open(os.path.join(logs, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
n, h = load("nccl-nccl"), load("nccl-host")
print("NCCL, 1 rank %s (MLP 32 -> 1024 -> 1024 -> 10, %s rows, batch 1024, 3 epochs):" % (how, rows))
for name, r in (("NCCL on the GPU", n), ("host path", h)):
    if not r:
        print("  %-16s failed" % name)
        continue
    print("  %-16s %8.3f ms/step %12.0f samples/s  accuracy %.4f  (allreduce: %s)" % (
        name, 1e3 * r["seconds"] / max(r["steps"], 1), r["samples_per_s"],
        r["metrics"].get("accuracy", float("nan")), r["allreduce"]))
if n and n["allreduce"] != "nccl":
    with open(os.path.join(logs, "nccl-nccl.log")) as f:
        why = [l.strip() for l in f if "gradients summed through host memory" in l]
    print("  NCCL was not used: %s" % (why[0] if why else "no reason logged"))
    sys.exit(2)
EOF
nccl_used=$?
[ "$nccl_used" = 0 ] || [ "$nccl_built" = 0 ] || nccl_rc=1
if [ -f "$LOGS/nccl-nccl.safetensors" ] && [ -f "$LOGS/nccl-host.safetensors" ]; then
    if cmp -s "$LOGS/nccl-nccl.safetensors" "$LOGS/nccl-host.safetensors"; then
        echo "  the two models: the same bytes" >>"$LOGS/nccl-summary.txt"
    else
        echo "  the two models differ (test_kernels_nccl_gpu bounds the difference)" \
            >>"$LOGS/nccl-summary.txt"
    fi
fi
cat "$LOGS/nccl-summary.txt" >&2

# ---- 5. the table (last) ----------------------------------------------------------------------
step "summary"
"$PY" - "$LOGS" "$torch_note" <<'EOF'
import json, os, sys
logs, torch_note = sys.argv[1], sys.argv[2]
def load(name):
    try:
        with open(os.path.join(logs, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
ref, t = load("ref"), load("torch")
rows = [("reference MLP fp32", ref), ("reference MLP tf32", load("ref_tf32")),
        ("4096-wide MLP tf32", load("wide_tf32")), ("4096-wide MLP fp32", load("wide_fp32"))]
first = next((r for _, r in rows if r), None)
print("device: %s" % (first["device"] if first else "?"))
print("GPU confidential computing: %s" % (first["gpu_cc_state"] if first else "?"))
print("%-22s %14s %10s %16s %9s" % ("run", "samples/s", "GFLOP/s", "cuBLAS GFLOP/s", "of GEMM"))
for name, r in rows:
    if not r:
        print("%-22s %14s" % (name, "failed"))
        continue
    print("%-22s %14.0f %10.1f %16.1f %8.0f%%" % (name, r["samples_per_s"], r["gflops"],
          r["gemm_gflops_step_mix"], 100.0 * r["fraction_of_gemm_rate"]))
if t and ref:
    print("%-22s %14.0f  (%s on %s; cloakx fp32 = %.2fx PyTorch, target >= 1.5x)" % (
        "PyTorch reference fp32", t["samples_per_s"], "torch " + t["torch"], t["device"],
        ref["samples_per_s"] / t["samples_per_s"]))
else:
    print("%-22s %14s  (%s)" % ("PyTorch reference", "-", torch_note or "no result"))
w = load("wide_tf32")
if w:
    print("4096-wide tf32 end to end: %.0f%% of cuBLAS TF32 at its shapes (target >= 70%%)"
          % (100.0 * w["fraction_of_gemm_rate"]))
EOF
[ -z "$memcheck_note" ] || printf 'memcheck (parity test): %s (log: %s)\n' "$memcheck_note" \
    "$LOGS/memcheck.log"
printf 'gpu tests: %s%s (log: %s)\n' "${tests_summary:-no summary}" \
    "$([ "${skipped:-0}" != 0 ] && echo ", $skipped skipped")" "$LOGS/gpu-tests.log"
cat "$LOGS/nccl-summary.txt"
printf 'NCCL gpu test (test_kernels_nccl_gpu): %s%s\n' "${nccl_test:-not found}" \
    "$([ "$nccl_built" = 1 ] || echo " (no NCCL module here)")"

[ "$tests_rc" -eq 0 ] || die "gpu tests failed (see $LOGS/gpu-tests.log)"
[ "${skipped:-0}" = 0 ] || die "gpu tests were skipped on a GPU machine (the CUDA runtime sees no GPU)"
[ "$bench_rc" -eq 0 ] || die "a benchmark failed (logs in $LOGS)"
case $nccl_test in
*Skipped* | "Not Run") [ "$nccl_built" = 0 ] || die "the NCCL gpu test was skipped though NCCL is built" ;;
esac
[ "$nccl_rc" -eq 0 ] || die "the NCCL run failed or did not use NCCL (logs: $LOGS/nccl-*.log)"
[ "$memcheck_rc" -eq 0 ] || die "memcheck of the parity test: $memcheck_note"
exit 0
