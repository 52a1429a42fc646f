#!/usr/bin/env bash
# test_style_format.sh — the committed .clang-format is the house style, checked like curl checks
# its own: every C, C++ and CUDA file must be formatted, except those still listed in
# tests/format_pending.txt, a list that may only shrink (a listed file that is clean fails too).
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cf=$(command -v clang-format || command -v clang-format-14 || true)
[ -n "$cf" ] || { echo "SKIP: clang-format is not installed (scripts/deps.sh test installs it)"; exit 77; }
cd "$root" || exit 1
pending=tests/format_pending.txt
bad=0
while IFS= read -r f; do
    listed=0
    grep -qxF "$f" "$pending" && listed=1
    if "$cf" --dry-run --Werror "$f" >/dev/null 2>&1; then
        [ "$listed" -eq 0 ] || { echo "$f: formatted now, remove it from $pending"; bad=$((bad + 1)); }
    elif [ "$listed" -eq 0 ]; then
        echo "$f: not formatted (run: clang-format -i $f)"
        bad=$((bad + 1))
    fi
done < <(git ls-files '*.c' '*.h' '*.cc' '*.cu' 2>/dev/null || find . -name '*.[ch]' -o -name '*.cc' -o -name '*.cu')
while IFS= read -r f; do
    [ -z "$f" ] || [ -e "$f" ] || { echo "$pending names $f, which does not exist"; bad=$((bad + 1)); }
done <"$pending"
[ "$bad" -eq 0 ] || { echo "FAIL: $bad file(s) off the house style"; exit 1; }
echo "ok: every file outside $pending follows .clang-format ($(grep -c . "$pending") still pending)"
