#!/usr/bin/env bash
# build.sh DIR [cmake args...] — configure and build CloakX into DIR (Release, -Werror: the
# optimisation operators and gpu-check.sh build with, whose warnings -O2 does not all show).
set -euo pipefail
dir=$1; shift
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCLOAKX_WERROR=ON "$@" >"$dir.configure.log" 2>&1 \
    || { cat "$dir.configure.log" >&2; exit 1; }
cmake --build "$dir" -j"$jobs" 2>&1 | grep -vE '^\[ *[0-9]+%\]|^(Consolidate|Scanning|Linking)' || true
test "${PIPESTATUS[0]}" -eq 0
