# e2e_common.sh — sourced by the marketplace end-to-end tests: a fresh work dir with a local
# ledger, a local store, a development CA, key dirs per role and helpers to read JSON output.
set -euo pipefail
CLOAKX=${CLOAKX:?path to cloakx}
for tool in jq xxd python3; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/deps.sh test)"; exit 77; }
done
work=$(mktemp -d)
bg_pids=()
cleanup() {
    for p in "${bg_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export CLOAKX_LEDGER="$work/ledger.db" CLOAKX_STORE="local:$work/store" CLOAKX_DEVCA="$work/devca"
# jq reads the JSON the commands print (field paths as in `jq -r`)
jget() { jq -r "$1"; }
# run a command expecting exit code $1; its stderr is kept in $work/err
expect_rc() {
    local want=$1; shift
    set +e
    "$@" >"$work/out" 2>"$work/err"
    local rc=$?
    set -e
    [ "$rc" -eq "$want" ] || { cat "$work/err" >&2; fail "'$*' exited $rc, expected $want"; }
}
keys() { for r in "$@"; do "$CLOAKX" keygen --out "$work/keys/$r" >/dev/null; done; }
# The operator's worker, one pass: its JSON lines in $work/w.json, its log in $work/w.err.
worker_once() {
    "$CLOAKX" --json worker --key "$work/keys/operator" --state "$work/op" --once "$@" >"$work/w.json" \
        2>"$work/w.err" || { cat "$work/w.err"; fail "worker"; }
}
# That pass paid exactly one job.
expect_one_paid() {
    jq -se 'map(select(.status == "paid")) | length == 1' "$work/w.json" >/dev/null \
        || fail "job not paid: $(cat "$work/w.json")"
}
addr() { "$CLOAKX" --json balance --key "$work/keys/$1" | jget .address; }
balance() { "$CLOAKX" --json balance --key "$work/keys/$1" | jget .balance; }
