#!/usr/bin/env bash
# install.sh BUILD_DIR — installs tests/node's locked npm packages into BUILD_DIR/node-deps
# (once per lock file; concurrent tests wait on a lock). Prints the node_modules path.
# Exit 77 (the tests' "skipped") only when npm is missing or the registry cannot be reached.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: install.sh BUILD_DIR}
dest=$build/node-deps
mkdir -p "$dest"
exec 9>"$dest/.lock"
flock 9
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    echo "SKIPPED: node/npm not installed (scripts/deps.sh test installs nodejs and npm)" >&2
    exit 77
fi
stamp=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
if [ -f "$dest/.stamp" ] && [ "$(cat "$dest/.stamp")" = "$stamp" ] && [ -d "$dest/node_modules" ]; then
    echo "$dest/node_modules"
    exit 0
fi
cp "$here/package.json" "$here/package-lock.json" "$dest/"
rm -f "$dest/.stamp"
log=$dest/npm-ci.log
if ! (cd "$dest" && npm ci --no-audit --no-fund --loglevel=error >"$log" 2>&1); then
    # tell "no network" (skip) from a real failure (fail)
    if grep -E 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET|ENETUNREACH|network' "$log" >/dev/null; then
        echo "SKIPPED: the npm registry is unreachable (npm ci: $(grep -m1 -E 'code E|network' "$log"))" >&2
        exit 77
    fi
    cat "$log" >&2
    echo "install.sh: npm ci failed (log $log)" >&2
    exit 1
fi
echo "$stamp" >"$dest/.stamp"
echo "$dest/node_modules"
