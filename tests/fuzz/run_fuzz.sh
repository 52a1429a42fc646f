#!/usr/bin/env bash
# run_fuzz.sh TARGET SEED_DIR — run one libFuzzer target for a bounded time on a scratch
# copy of its seed corpus (the committed corpus is never modified); non-zero on any finding.
set -euo pipefail
target=$1 seeds=$2
secs=${CX_FUZZ_SECONDS:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds" 2>"$work/log" || {
    status=$?
    tail -n 60 "$work/log" >&2
    echo "fuzz: $(basename "$target") found a failure (exit $status)" >&2
    exit 1
}
grep -E '^(stat::number_of_executed_units|Done)' "$work/log" | tail -n 2 || true
