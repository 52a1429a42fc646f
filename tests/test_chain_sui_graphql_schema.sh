#!/usr/bin/env bash
# test_chain_sui_graphql_schema.sh SRC BUILD TEST_BIN — every query text of chain/sui_graphql.c
# is valid against the Sui GraphQL schema that npm @mysten/sui 2.33.1 ships (and a misspelt
# query is not). Skipped (77) only when npm cannot reach its registry.
set -euo pipefail
src=${1:?source dir}
build=${2:?build dir}
bin=${3:?test binary}
modules=$("$src/tests/node/install.sh" "$build") || exit $?
deps=$(dirname "$modules")
cp "$src/tests/sui_diff/validate_graphql.mjs" "$deps/"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" "$work/queries.json"
node "$deps/validate_graphql.mjs" "$work/queries.json"
echo '["query { chainIdentifer }"]' >"$work/bad.json"
rc=0
node "$deps/validate_graphql.mjs" "$work/bad.json" >"$work/bad.out" 2>&1 || rc=$?
grep 'INVALID' "$work/bad.out" >/dev/null && [ "$rc" -eq 1 ] ||
    { cat "$work/bad.out"; echo "FAIL: a misspelt query was not refused"; exit 1; }
echo "PASS: the client's queries are valid against @mysten/sui 2.33.1's GraphQL schema"
