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
# N local Seal key servers on loopback (their pids appended to bg_pids, in order), and
# $work/keyservers.json naming them with threshold T, as sellers, workers and buyers read it.
keyservers_start() {
    local n=$1 t=$2 i
    for i in $(seq "$n"); do
        "$CLOAKX" keyserver init --keys "$work/ks$i.json" >/dev/null
        "$CLOAKX" -v --json keyserver run --keys "$work/ks$i.json" --listen 127.0.0.1:0 \
            >"$work/ks$i.out" 2>"$work/ks$i.err" &
        bg_pids+=($!)
    done
    for i in $(seq "$n"); do
        for _ in $(seq 100); do [ -s "$work/ks$i.out" ] && break; sleep 0.1; done
        jq -e .url "$work/ks$i.out" >/dev/null || fail "key server $i: $(cat "$work/ks$i.err")"
    done
    jq -s --argjson t "$t" '{package: .[0].package, threshold: $t,
        servers: map({url, object_id, public_key})}' "$work"/ks?.out >"$work/keyservers.json"
}
balance() { "$CLOAKX" --json balance --key "$work/keys/$1" | jget .balance; }
