#!/usr/bin/env bash
# test_scripts_pipefail.sh — shell scripts under `set -o pipefail` must not end a pipeline with a
# reader that stops early (grep -q, head): the writer then dies of SIGPIPE and the pipeline fails
# now and then (seen: gpu-kit.sh said "not a CUDA build" on a CUDA build, one CI run in several).
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bad=0
while IFS= read -r f; do
    grep -q 'pipefail' "$f" || continue
    # grep -q, or head, on the right of a pipe; `head -c 1` of a short status line is no exception
    if hits=$(grep -nE '\|[[:space:]]*(grep[[:space:]]+(-[a-zA-Z]*q|--quiet)|head([[:space:]]|$))' "$f"); then
        printf '%s:\n%s\n' "${f#"$root"/}" "$hits"
        bad=$((bad + 1))
    fi
done < <(find "$root" -name '*.sh' -not -path '*/build*' -not -path '*/.git/*' -not -path '*/node_modules/*')
[ "$bad" -eq 0 ] || { echo "FAIL: $bad script(s) can die of SIGPIPE under pipefail (use 'grep PATTERN >/dev/null' or a here-string)"; exit 1; }
echo "ok: no early-exit reader on the right of a pipe under pipefail"
