#!/usr/bin/env bash
# test.sh — README command 2: install what is missing, then build and test twice:
# a normal build (gcc, CUDA backend compiled when nvcc is there) and an ASan+UBSan build
# (clang) that also runs the libFuzzer targets. Ends with CTest's summary line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc 2>/dev/null || echo 2)
bash scripts/deps.sh test
# each phase says how long it took: the whole run has to stay well under 15 minutes on 2 cores
phase() { echo "== $* (at ${SECONDS} s)"; }

phase "normal build"
bash scripts/build.sh build
phase "normal build: tests"
normal_rc=0
(cd build && ctest -j"$jobs" --output-on-failure -LE fuzz) > build/ctest.log 2>&1 || normal_rc=$?
grep -E 'Total Test time|tests passed|tests failed|\*\*\*|Failed|Skipped|Not Run' build/ctest.log | tail -n 30 || true
if [ "$normal_rc" -ne 0 ]; then
    cat build/ctest.log
    echo "normal build: tests failed"
fi

phase "sanitizer build (address,undefined) + fuzz targets"
CC=clang CXX=clang++ bash scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCLOAKX_SANITIZE=address,undefined \
    -DCLOAKX_FUZZ=ON -DCLOAKX_CUDA=OFF -DCLOAKX_BENCH=OFF
phase "sanitizer build: tests (including fuzz, ${CX_FUZZ_SECONDS:-10} s a target)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd build-asan
# the slow label holds multi-GiB streaming tests, run in the normal build only
asan_rc=0
ctest -j"$jobs" --output-on-failure -LE 'slow|gpu' || asan_rc=$?
echo "== done in ${SECONDS} s"
[ "$normal_rc" -eq 0 ] || { echo "FAILED: normal build tests (see above)"; exit 1; }
exit "$asan_rc"
