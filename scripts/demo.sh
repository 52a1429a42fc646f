#!/usr/bin/env bash
# demo.sh — README command 1: install what is missing, build, run `cloakx demo`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/deps.sh build
echo "== building into build/ (a few minutes the first time)"
bash scripts/build.sh build
exec ./build/cli/cloakx demo "$@"
