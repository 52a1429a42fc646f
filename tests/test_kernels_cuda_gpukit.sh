#!/usr/bin/env bash
# test_kernels_cuda_gpukit.sh — bench/gpu-kit.sh packs this CUDA build so that a GPU machine
# without the build dependencies can run gpu-check.sh: the kit must be self-contained (every
# library but glibc, libstdc++/libgcc_s, the driver and cuBLAS inside it), say what it is, and
# gpu-check.sh --kit must unpack it, run its tests and fail clearly when the GPU is unusable.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${CLOAKX:?CLOAKX (the cloakx binary of the build under test) is not set}"
BUILD=$(cd "$(dirname "$CLOAKX")/.." && pwd)
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }

# 1. a kit as a tarball (fast compression: the format is what is tested, not the ratio)
if ! CX_GPU_KIT_XZ_LEVEL=0 bash "$ROOT/bench/gpu-kit.sh" --from-build "$BUILD" \
        --out "$tmp/kit.tar.xz" >"$tmp/kit.out" 2>&1; then
    cat "$tmp/kit.out"
    echo "FAIL gpu-kit.sh could not package $BUILD"
    exit 1
fi
ok "kit written: $(tail -n 1 "$tmp/kit.out")"
mkdir "$tmp/x" && tar -C "$tmp/x" -xJf "$tmp/kit.tar.xz" || { echo "FAIL cannot unpack"; exit 1; }
kit=$tmp/x/cloakx-gpu-kit

# 2. what it holds, and that it says so
for f in MANIFEST tests.list bin/cloakx; do
    [ -e "$kit/$f" ] || fail "kit lacks $f"
done
grep -qx 'test_kernels_cuda_parity' "$kit/tests.list" || fail "tests.list lacks the parity test"
while read -r t; do
    [ -x "$kit/tests/$t" ] || fail "tests.list names $t, which the kit does not hold"
done <"$kit/tests.list"
for key in commit glibc needs 'cuda code' nvcc; do
    grep -q "^$key: ." "$kit/MANIFEST" || fail "MANIFEST lacks '$key'"
done
grep -q '^cuda code: .*sm_90' "$kit/MANIFEST" || fail "MANIFEST: the kit's CUDA code is not for sm_90"
(cd "$kit" && sed -n 's/^  //p' MANIFEST | sha256sum --quiet -c -) ||
    fail "MANIFEST checksums do not match the kit's files"
nfiles=$(cd "$kit" && find bin tests lib -type f | wc -l)
[ "$nfiles" -eq "$(grep -c '^  ' "$kit/MANIFEST")" ] || fail "MANIFEST does not list every file"
[ "$fails" -eq 0 ] && ok "MANIFEST, tests.list and checksums"

# 3. self-contained: every library a kit binary loads comes from the kit, except those the
#    GPU machine must supply
cublas=$(ldd "$kit/lib/libcloakx_cuda.so" | awk '$1 ~ /^libcublas\.so/ {print $3; exit}')
[ -n "$cublas" ] || fail "the kit's cuda backend module does not load cuBLAS here"
# cuBLAS only through the module: linked into the binaries it costs each process a second
if ldd "$kit/bin/cloakx" | grep -q libcublas; then fail "the kit's cloakx links cuBLAS"; fi
export LD_LIBRARY_PATH=$kit/lib:$(dirname "${cublas:-/}")
before=$fails
for b in "$kit"/bin/* "$kit"/tests/* "$kit/lib/libcloakx_cuda.so"; do
    while read -r so path; do
        case $path in
        "$kit"/lib/*) continue ;;
        esac
        case $so in
        ld-linux* | libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | \
            libresolv.so.* | libutil.so.* | libmvec.so.* | libstdc++.so.* | libgcc_s.so.* | \
            libcuda.so.* | libnvidia-ml.so.* | libcublas.so.* | libcublasLt.so.*)
            continue ;;
        esac
        fail "$(basename "$b") loads $so from $path, outside the kit"
    done < <(ldd "$b" | awk '$2 == "=>" {print $1, $3}')
done
[ "$fails" -eq "$before" ] && ok "every library resolves inside the kit or to the allowed system set"
"$kit/bin/cloakx" version >"$tmp/version.out" 2>&1 || fail "the kit's cloakx does not run"
grep -q 'CUDA backend yes' "$tmp/version.out" || fail "the kit's cloakx has no CUDA backend"
unset LD_LIBRARY_PATH

# 4. gpu-check.sh --kit where nvidia-smi lists a GPU that the CUDA runtime cannot use (this
#    machine): it unpacks the kit, runs its tests, and fails saying the GPU tests were skipped
if nvidia-smi -L >/dev/null 2>&1; then
    echo "skip part 4: this machine has a real GPU (run bench/gpu-check.sh --kit there)"
else
    mkdir -p "$tmp/fake"
    cat >"$tmp/fake/nvidia-smi" <<'EOF'
#!/bin/sh
[ "$1" = conf-compute ] && { echo "CC status: OFF"; exit 0; }
echo "0, NVIDIA H100 80GB HBM3, 81559 MiB, 580.159.04, 00000000:1B:00.0"
EOF
    # and a compute-sanitizer that runs the test it is given and reports no error
    cat >"$tmp/fake/compute-sanitizer" <<'EOF'
#!/bin/sh
for a; do last=$a; done
"$last" >/dev/null 2>&1
echo "========= ERROR SUMMARY: 0 errors"
EOF
    chmod +x "$tmp/fake/nvidia-smi" "$tmp/fake/compute-sanitizer"
    PATH="$tmp/fake:$PATH" CX_GPU_CHECK_BUILD="$tmp/gc" CX_GPU_CHECK_ROWS=5000 \
        CX_GPU_CHECK_WIDE_ROWS=9000 bash "$ROOT/bench/gpu-check.sh" --kit "$tmp/kit.tar.xz" \
        --memcheck >"$tmp/gc.out" 2>"$tmp/gc.err"
    rc=$?
    if [ "$rc" -ne 1 ]; then
        fail "gpu-check --kit: exit $rc, want 1"
    elif ! grep -q 'gpu tests were skipped on a GPU machine' "$tmp/gc.err"; then
        fail "gpu-check --kit: no 'skipped' verdict:"; tail -n 20 "$tmp/gc.err"
    elif ! grep -q '^cuBLAS: ' "$tmp/gc.err"; then
        fail "gpu-check --kit did not say which cuBLAS it took"
    elif ! grep -qE 'test_kernels_device_select +Passed' "$tmp/gc/gpu-check/gpu-tests.log"; then
        fail "gpu-check --kit did not run the kit's tests:"; cat "$tmp/gc/gpu-check/gpu-tests.log"
    elif ! grep -q 'tests failed out of 4' "$tmp/gc/gpu-check/gpu-tests.log"; then
        fail "gpu-check --kit: no CTest-style summary line"
    elif ! grep -q '^memcheck (parity test): ========= ERROR SUMMARY: 0 errors' "$tmp/gc.out"; then
        fail "gpu-check --kit --memcheck: no memcheck line:"; cat "$tmp/gc.out"
    elif ! grep -q 'no CUDA device' "$tmp/gc.err"; then
        fail "gpu-check --kit: the benchmarks' failure does not name the cause"
    else
        ok "gpu-check --kit: $(tail -n 1 "$tmp/gc.err")"
    fi
    # a directory that is not a kit
    PATH="$tmp/fake:$PATH" CX_GPU_CHECK_BUILD="$tmp/gc2" bash "$ROOT/bench/gpu-check.sh" \
        --kit "$tmp" >/dev/null 2>"$tmp/gc2.err"
    if [ $? -eq 1 ] && grep -q 'is not a kit' "$tmp/gc2.err"; then
        ok "gpu-check --kit refuses a directory that is not a kit"
    else
        fail "gpu-check --kit on a non-kit:"; cat "$tmp/gc2.err"
    fi
fi

[ "$fails" -eq 0 ] || exit 1
echo "gpu kit: self-contained, described, and usable by gpu-check.sh --kit"
