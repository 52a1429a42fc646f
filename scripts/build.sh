#!/usr/bin/env bash
# build.sh DIR [cmake args...] — configure and build CloakX into DIR (Release, -Werror: the
# optimisation operators and gpu-check.sh build with, whose warnings -O2 does not all show).
set -euo pipefail
dir=$1; shift
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCLOAKX_WERROR=ON "$@" >"$dir.configure.log" 2>&1 \
    || { cat "$dir.configure.log" >&2; exit 1; }
# the progress lines are filtered out; the build's own status decides (with pipefail, a
# `|| true` after the pipeline would swallow a failed build)
set +e
cmake --build "$dir" -j"$jobs" 2>&1 | grep -vE '^\[ *[0-9]+%\]|^(Consolidate|Scanning|Linking)'
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || { echo "build.sh: the build in $dir failed (see above)" >&2; exit 1; }
