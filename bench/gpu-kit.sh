#!/usr/bin/env bash
# bench/gpu-kit.sh — package a CUDA build of CloakX for a GPU machine that cannot build it (no
# compiler dependencies, no network): binaries, the gpu tests and their shared libraries.
#
# usage: bench/gpu-kit.sh [--from-build DIR] [--out FILE.tar.xz | --dir DIR]
#   --from-build DIR  package that CUDA build as it is (default: configure and build
#                     build-gpu-kit, Release, CLOAKX_CUDA=ON, -Werror)
#   --out FILE        write the kit as a tarball (default .gpu-kit/cloakx-gpu-kit.tar.xz)
#   --dir DIR         write the kit as a directory instead (DIR must not exist)
#   (env: CX_GPU_KIT_XZ_LEVEL=0..9, default 6)
# Then, on the GPU machine: bench/gpu-check.sh --kit FILE|DIR (device tool: carry .gpu-kit).
#
# The kit holds every shared library the binaries need except those the GPU machine must
# supply itself: glibc (the kit records the newest symbol version it needs), libstdc++ and
# libgcc_s (the machine's cuBLAS needs its own, newer ones), the driver (libcuda, NVML) and
# cuBLAS (hundreds of MiB; gpu-check.sh finds the machine's copy of the recorded soname), and
# libnccl for the NCCL module (optional: without it the ranks sum through host memory).
# Exit 0 with the kit written; 1 with nothing written, saying why.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FROM=""
OUT=$ROOT/.gpu-kit/cloakx-gpu-kit.tar.xz
DIR=""
die() { printf 'gpu-kit: FAILED: %s\n' "$*" >&2; exit 1; }
trap 'die "line $LINENO: \"$BASH_COMMAND\" failed"' ERR
while [ $# -gt 0 ]; do
    case $1 in
    --from-build) FROM=${2:?--from-build needs a directory}; shift 2 ;;
    --out) OUT=${2:?--out needs a file}; shift 2 ;;
    --dir) DIR=${2:?--dir needs a directory}; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
for tool in ldd objdump readelf strip python3 sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is needed to make a kit"
done

# ---- the build ------------------------------------------------------------------------------
if [ -z "$FROM" ]; then
    FROM=$ROOT/build-gpu-kit
    echo "gpu-kit: building $FROM (Release, CLOAKX_CUDA=ON)" >&2
    mkdir -p "$FROM" || die "cannot create $FROM"
    cmake -S "$ROOT" -B "$FROM" -DCMAKE_BUILD_TYPE=Release -DCLOAKX_CUDA=ON -DCLOAKX_WERROR=ON \
        >"$FROM/gpu-kit.configure.log" 2>&1 ||
        die "configure failed (log: $FROM/gpu-kit.configure.log)"
    cmake --build "$FROM" -j "$(nproc 2>/dev/null || echo 2)" >"$FROM/gpu-kit.build.log" 2>&1 ||
        die "build failed: $(grep -m 3 error "$FROM/gpu-kit.build.log" || true) (log: $FROM/gpu-kit.build.log)"
fi
FROM=$(cd "$FROM" && pwd) || die "no build directory $FROM"
MODULE=$FROM/kernels/libcloakx_cuda.so
[ -f "$MODULE" ] ||
    die "$FROM is not a CUDA build (no cuda backend module kernels/libcloakx_cuda.so)"

# The tests that take the GPU path when a GPU is there: label gpu (parity) or cuda (device
# selection and pinned pipeline buffers), with their working directories' names.
tests=$(cd "$FROM" && ctest --show-only=json-v1 2>/dev/null | python3 -c '
import json, sys
for t in json.load(sys.stdin).get("tests", []):
    labels = next((p["value"] for p in t.get("properties", []) if p["name"] == "LABELS"), [])
    if {"gpu", "cuda"} & set(labels) and t.get("command"):
        print(t["name"], t["command"][0])
') || die "cannot list the build's tests (ctest --show-only=json-v1)"
[ -n "$tests" ] || die "the build has no test labelled gpu or cuda"

# ---- assemble -------------------------------------------------------------------------------
tmp=$(mktemp -d) || die "mktemp"
trap 'rm -rf "$tmp"' EXIT
kit=$tmp/cloakx-gpu-kit
mkdir -p "$kit/bin" "$kit/tests" "$kit/lib"
bins=("$FROM/cli/cloakx" "$MODULE")
cp "$FROM/cli/cloakx" "$kit/bin/"
# the cuda backend module, loaded on first need (gpu-check.sh points CLOAKX_CUDA_MODULE at it)
cp "$MODULE" "$kit/lib/"
# the NCCL module where the build has one (gpu-check.sh points CLOAKX_NCCL_MODULE at it); its
# libnccl (200 MB) comes from the GPU machine, and where that has none NCCL is not used
if [ -f "$FROM/kernels/libcloakx_nccl.so" ]; then
    cp "$FROM/kernels/libcloakx_nccl.so" "$kit/lib/"
    bins+=("$FROM/kernels/libcloakx_nccl.so")
fi
while read -r name path; do
    case $path in
    *.sh) die "test $name is a script ($path): kits carry compiled tests only" ;;
    esac
    [ -x "$path" ] || die "test $name: no executable at $path"
    cp "$path" "$kit/tests/$name"
    bins+=("$path")
    printf '%s\n' "$name" >>"$kit/tests.list"
done <<<"$tests"
strip --strip-unneeded "$kit"/bin/* "$kit"/tests/* "$kit"/lib/libcloakx_*.so ||
    die "strip failed"

# sonames the GPU machine supplies (see the header)
system_lib() {
    case $1 in
    ld-linux*.so* | libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | \
        libresolv.so.* | libutil.so.* | libmvec.so.* | libstdc++.so.* | libgcc_s.so.* | \
        libcuda.so.* | libnvidia-ml.so.* | libcublas.so.* | libcublasLt.so.* | libnccl.so.*)
        return 0 ;;
    esac
    return 1
}
declare -A seen=()
for b in "${bins[@]}"; do
    out=$(ldd "$b") || die "ldd $b failed"
    if grep -q 'not found' <<<"$out"; then
        die "$b: libraries not found here: $(grep 'not found' <<<"$out" | tr -s ' \t\n' ' ')"
    fi
    while read -r so path; do
        [ -n "$so" ] && [ -z "${seen[$so]:-}" ] || continue
        seen[$so]=1
        system_lib "$so" && continue
        cp -L "$path" "$kit/lib/$so" || die "copying $path"
    done < <(awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' <<<"$out")
done
needs=$(for b in "${bins[@]}"; do ldd "$b"; done | awk '{print $1}' |
    grep -E '^lib(cublas|cublasLt)\.so' | sort -u | tr '\n' ' ')
glibc=$(for f in "$kit"/bin/* "$kit"/tests/* "$kit"/lib/*; do objdump -T "$f" 2>/dev/null; done |
    grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)

commit=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | sed -n 1p)
nvcc=$(grep -h -m 1 'CMAKE_CUDA_COMPILER_VERSION' "$FROM"/CMakeFiles/*/CMakeCUDACompiler.cmake |
    grep -o '"[^"]*"' | tr -d '"' || true)
code=$(grep -h -o 'arch=compute_[0-9a-z]*,code=\[[a-z_0-9]*\]' \
    "$FROM/kernels/CMakeFiles/cloakx_cuda.dir/flags.make" | tr '\n' ' ' || true)
{
    echo "cloakx GPU kit"
    echo "commit: $commit${dirty:+ (with uncommitted changes)}"
    echo "made: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "build: $FROM ($(grep -m 1 '^CMAKE_BUILD_TYPE:' "$FROM/CMakeCache.txt" | cut -d= -f2 || true))"
    echo "nvcc: ${nvcc:-?}"
    echo "cuda code: ${code:-?}"
    echo "glibc: $glibc"
    echo "needs: $needs"
    echo "files:"
    (cd "$kit" && find bin tests lib -type f | sort | xargs sha256sum | sed 's/^/  /')
} >"$kit/MANIFEST"

if [ -n "$DIR" ]; then
    [ -e "$DIR" ] && die "$DIR exists"
    mkdir -p "$(dirname "$DIR")" && mv "$kit" "$DIR" || die "moving the kit to $DIR"
    where=$DIR
else
    mkdir -p "$(dirname "$OUT")" || die "cannot create $(dirname "$OUT")"
    tar -C "$tmp" -cf - cloakx-gpu-kit | xz -T0 "-${CX_GPU_KIT_XZ_LEVEL:-6}" >"$OUT.part" ||
        die "writing $OUT"
    mv "$OUT.part" "$OUT" || die "renaming $OUT.part"
    where=$OUT
fi
printf 'gpu-kit: %s (%s; %d libraries; needs glibc >= %s and %sfrom the GPU machine)\n' \
    "$where" "$(du -sh "$where" | cut -f1)" "$(ls "${DIR:-$kit}/lib" 2>/dev/null | wc -l)" \
    "$glibc" "$needs" >&2
